/*
 * src/daemon/server.c -- the listening sockets and the single-threaded
 * poll() loop: one VMM connection at a time (a second one gets an ERROR
 * BUSY frame and is closed, docs/protocol.md "Connections"), any number of
 * management connections up to MAX_MGMT, SIGTERM/SIGINT through a
 * signalfd.  Knows no protocol: it moves bytes between sockets and the
 * conn buffers and calls vmm_conn_process() / mgmt_conn_process().
 *
 * One loop turn: poll; signals; then every open connection (writes,
 * reads, the protocols' work); only then the listening sockets, so that a
 * VMM that closes and reconnects at once finds its old connection gone
 * rather than "busy" (issue #12); then the deadlines, and a poll() timeout
 * that ends at the earliest of them, to the millisecond.
 *
 * Backpressure: a VMM connection with unsent output is not read from, so
 * a VMM that does not read its replies cannot make the daemon buffer more
 * than the replies to one read.  A management connection is bounded per
 * turn and in its output (daemon.h MGMT_LINES_PER_TURN, MGMT_OUT_MAX), and
 * one whose replies are not taken for the frame timeout is closed.
 *
 * Latency: after answering the VMM the loop busy-polls its connection for
 * a bounded window before sleeping again (vmm_busy_poll below).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <vmvars/vmm_protocol.h>

#include "core/spin_gate.h"
#include "core/spin_window.h"
#include "daemon.h"

#define MAX_MGMT        16
#define MGMT_LINE_MAX   (1u << 20)      /* docs/management.md "Framing" */

static int vmm_listen_fd = -1, mgmt_listen_fd = -1, signal_listen_fd = -1;

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A listening UNIX stream socket at path with mode (stale socket file
 * replaced).  -1 on failure, logged. */
static int
listen_unix(const char *path, mode_t mode)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old_umask;
	int fd, rc;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_error("%s: socket path too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_error("socket: %s", strerror(errno));
		return -1;
	}
	/*
	 * The socket file must have `mode` from the moment it exists: a
	 * chmod() after bind() leaves a window in which anyone the umask lets
	 * through (everyone, with umask 0) can connect -- and keep the
	 * connection.  bind() creates the file with 0777 minus the umask; that
	 * is the documented rule (POSIX, unix(7)), so the umask is set to
	 * exactly the bits `mode` lacks around the bind().  (Linux happens to
	 * take the mode from an fchmod() of the socket before bind(), but
	 * documents no such thing; binding in a private directory and renaming
	 * needs a scratch directory on the same file system.)  umask is
	 * process-wide: here the daemon is one thread in setup, so nothing
	 * else creates a file meanwhile.
	 */
	old_umask = umask(0777 & ~mode);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_umask);
	if (rc != 0 || listen(fd, 8) != 0) {
		log_error("%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int signal_fd(void);

int
server_listen(struct server_config *cfg)
{
	/* Before the sandbox: signalfd4 and rt_sigaction are not allowed. */
	signal_listen_fd = signal_fd();
	if (signal_listen_fd < 0) {
		log_error("signalfd: %s", strerror(errno));
		return -1;
	}
	/* The VMM socket is for the VMM's group; management is owner-only
	 * (issue #4: separate permissions). */
	vmm_listen_fd = cfg->vmm_fd >= 0 ? cfg->vmm_fd : listen_unix(cfg->vmm_socket, 0660);
	if (vmm_listen_fd < 0)
		return -1;
	if (cfg->mgmt_fd >= 0)
		mgmt_listen_fd = cfg->mgmt_fd;
	else if (cfg->mgmt_socket != NULL && (mgmt_listen_fd = listen_unix(cfg->mgmt_socket, 0600)) < 0)
		return -1;
	return 0;
}

/* ---- the loop ---- */

struct loop {
	struct vm *vm;
	uid_t uid;                      /* ours: may use the management socket */
	const struct server_config *cfg;
	struct conn *conns;             /* VMM and management, one list */
	struct conn *vmm;               /* the active VMM connection or NULL */
	unsigned next_id;
	unsigned nmgmt;
	bool quit;
	bool vmm_answered;              /* a VMM reply was sent out whole */
	uint64_t nv_seen;               /* vv_store_nv_commits when last looked at */
	uint64_t nv_compacted;          /* ... when vars.json last took them in */
	int64_t nv_changed_ms;          /* when nv_seen last moved */
	struct vv_spin_window spin;     /* vmm_busy_poll's window, socket frames */
	unsigned shm_spin_us;           /* ... and on shared memory: fixed */
	struct vv_spin_gate gate;       /* both windows: shut while contended */
	int64_t asleep_since_us;        /* window 0: when the loop last slept */
	/* accept() failed for want of descriptors or memory: the listening
	 * sockets stay readable, so they are left out of poll() until then
	 * rather than spinning on them. */
	int64_t accept_paused_until_ms;
};

#define ACCEPT_PAUSE_MS 100

static void
drop(struct loop *l, struct conn *c)
{
	struct conn **pp;

	for (pp = &l->conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (l->vmm == c) {
		l->vmm = NULL;
		log_info("vmm connection %u closed", c->id);
	} else if (c->kind == CONN_VMM) {
		log_debug("vmm connection %u (not the active one) closed", c->id);
	}
	if (c->kind == CONN_MGMT)
		l->nmgmt--;
	conn_free(c);
}

/*
 * The management socket's file mode (0600) is the first gate, but a
 * socket passed by systemd or re-moded by an operator may be wider, and
 * the API edits the store as the host owner: the peer's credentials, as
 * the kernel recorded them at connect(), must be root or the daemon's own
 * uid (docs/management.md "Access").  The VMM socket has no such check:
 * its users are the VMM's group, by the file mode (protocol.md).
 * true if the peer may stay; a refused one has been told why and closed.
 */
static bool
mgmt_peer_allowed(struct loop *l, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char msg[160];
	int n;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred)) {
		log_warn("management connection refused: no peer credentials: %s",
			 strerror(errno));
		close(fd);
		return false;
	}
	if (cred.uid == 0 || cred.uid == l->uid)
		return true;
	log_warn("management connection refused: peer uid %u (pid %d) is neither root nor "
		 "vmvarsd's uid %u", (unsigned)cred.uid, (int)cred.pid, (unsigned)l->uid);
	n = snprintf(msg, sizeof(msg), "{\"ok\":false,\"error\":\"permission denied: uid %u "
		     "may not use the management socket\"}\n", (unsigned)cred.uid);
	/* A new socket's buffer takes this whole; if not, the peer learns
	 * from the close alone. */
	(void)send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
	return false;
}

static void
accept_one(struct loop *l, int lfd, enum conn_kind kind)
{
	struct conn *c;
	size_t cap;
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			if (l->accept_paused_until_ms == 0)
				log_warn("accept: %s; not accepting for %d ms", strerror(errno),
					 ACCEPT_PAUSE_MS);
			l->accept_paused_until_ms = now_ms() + ACCEPT_PAUSE_MS;
		}
		return;
	}
	l->accept_paused_until_ms = 0;
	cap = kind == CONN_VMM ? VV_VMM_FRAME_HEADER_SIZE + VV_VMM_MAX_PAYLOAD : MGMT_LINE_MAX;
	if (kind == CONN_MGMT && !mgmt_peer_allowed(l, fd))
		return;
	if (kind == CONN_VMM && l->vmm != NULL && l->vmm->close_after_flush) {
		/* The active VMM has said its last word (an ERROR is going
		 * out): it is no longer active, it only finishes sending.  A
		 * VMM reconnecting after it must not be refused as busy. */
		log_info("vmm connection %u: closing; a new connection takes over", l->vmm->id);
		l->vmm = NULL;
	}
	if (kind == CONN_MGMT && l->nmgmt >= MAX_MGMT) {
		log_warn("management connection refused: %u already open", l->nmgmt);
		close(fd);
		return;
	}
	c = conn_new(fd, kind, kind == CONN_VMM && l->vmm != NULL ? 64 : cap, ++l->next_id);
	if (c == NULL) {
		close(fd);
		return;
	}
	c->next = l->conns;
	l->conns = c;
	if (kind == CONN_MGMT) {
		l->nmgmt++;
		log_debug("management connection %u opened", c->id);
		return;
	}
	if (l->vmm != NULL) {
		/* protocol.md "Connections": one VMM per VM. */
		l->vm->vmm_refused++;
		log_warn("vmm connection %u refused: connection %u is active", c->id, l->vmm->id);
		vmm_conn_error(c, VV_VMM_ERR_BUSY, "another VMM is connected to this VM");
		return;
	}
	l->vmm = c;
	l->vm->vmm_connections++;
	log_info("vmm connection %u opened", c->id);
}

/*
 * A VMM connection is read with recvmsg: an SHM_SETUP frame brings
 * descriptors (SCM_RIGHTS), which arrive with its first bytes.  They are
 * kept on the connection for vmm_conn.c, which lets only an SHM_SETUP take
 * them; more than the protocol ever sends, or a truncated set, are closed
 * at once and remembered as lost (that frame is then refused).  A read()
 * would have discarded them silently.
 */
static ssize_t
recv_vmm(struct conn *c, uint8_t *p, size_t len)
{
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(int) * (VMM_MAX_FDS + 1))];
	} ctl;
	struct iovec iov = { p, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	ssize_t n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);

	if (n < 0)
		return n;
	if (msg.msg_flags & MSG_CTRUNC)
		c->fds_lost = true;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		size_t k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (c->nfds < VMM_MAX_FDS) {
				c->fds[c->nfds++] = fd;
			} else {
				close(fd);
				c->fds_lost = true;
			}
		}
	}
	return n;
}

/* Reads what is there and lets the protocol consume it.  1: bytes were
 * read, 0: none were there, -1: drop now. */
static int
read_conn(struct loop *l, struct conn *c)
{
	ssize_t n;

	conn_in_compact(c);
	if (c->in_len == c->in_cap) {
		/* Only a management line can fill its buffer without being a
		 * complete message; mgmt_conn_process has refused it. */
		return -1;
	}
	if (c->kind == CONN_VMM)
		n = recv_vmm(c, c->in + c->in_len, c->in_cap - c->in_len);
	else
		n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	if (n == 0) {
		if (c->in_len > 0 && c->kind == CONN_VMM)
			log_warn("vmm connection %u: peer closed in the middle of a frame "
				 "(%zu bytes unprocessed)", c->id, c->in_len);
		if (c->kind == CONN_VMM)
			return -1;
		/* A management client may half-close after its last line
		 * and wait for the replies: those lines are still handled,
		 * the turn budget allowing, then the connection is closed. */
		c->eof = true;
		(void)mgmt_conn_process(l->vm, c, &l->quit);
		return 1;
	}
	/* The first byte of a message: the frame timer starts. */
	if (c->in_len == 0)
		c->partial_since_ms = now_ms();
	c->in_len += (size_t)n;
	if (c->kind == CONN_VMM) {
		l->vm->vmm_bytes_in += (uint64_t)n;
		if (l->vmm != c) {
			/* A refused VMM: its bytes are not looked at. */
			c->in_len = 0;
			c->partial_since_ms = -1;
			return 1;
		}
		(void)vmm_conn_process(l->vm, c);
	} else {
		(void)mgmt_conn_process(l->vm, c, &l->quit);
	}
	return 1;
}

/* A management connection may be read from: it is open for input, no
 * whole line waits in its buffer, and its replies are not piling up. */
static bool
mgmt_may_read(const struct conn *c)
{
	return !c->close_after_flush && !c->eof && !c->backlog &&
	       conn_out_queued(c) <= MGMT_OUT_MAX;
}

/* A management connection has lines waiting that this turn may handle. */
static bool
mgmt_has_work(const struct conn *c)
{
	return c->kind == CONN_MGMT && c->backlog && !c->close_after_flush &&
	       conn_out_queued(c) <= MGMT_OUT_MAX;
}

/* A VMM's frames wait behind a STATE reply that is now out
 * (vmm_conn_process): handled this turn, without waiting for new bytes. */
static bool
vmm_has_work(const struct conn *c)
{
	return c->kind == CONN_VMM && c->backlog && !c->close_after_flush &&
	       !conn_out_pending(c);
}

/* Sends what is queued.  -1: drop now.  Notes in l->vmm_answered when the
 * active VMM's output has gone out whole (a reply, not an ERROR before a
 * close): the moment vmm_busy_poll starts from. */
static int
write_conn(struct loop *l, struct conn *c)
{
	ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	c->out_off += (size_t)n;
	/* The peer took bytes: the stall clock (check_deadlines) restarts. */
	c->out_stalled_since_ms = conn_out_pending(c) && n > 0 ? now_ms() : -1;
	if (c->kind == CONN_VMM) {
		l->vm->vmm_bytes_out += (uint64_t)n;
		if (c == l->vmm && !conn_out_pending(c) && !c->close_after_flush)
			l->vmm_answered = true;
	}
	return 0;
}

/* Closes c when it failed (bad) or has said its last word.  true if it
 * was dropped. */
static bool
settle(struct loop *l, struct conn *c, int bad)
{
	bool said_all = c->close_after_flush || (c->eof && !c->backlog);

	if (conn_out_pending(c) && c->out_stalled_since_ms < 0)
		c->out_stalled_since_ms = now_ms();
	if (bad < 0 || (said_all && !conn_out_pending(c))) {
		drop(l, c);
		return true;
	}
	return false;
}

/* c is readable: read, let the protocol answer, and send the answer at
 * once rather than after another poll round (the socket is non-blocking,
 * so a peer that does not read only leaves the rest queued).  Returns
 * read_conn's 1 or 0, or -1 when c has been dropped. */
static int
serve_readable(struct loop *l, struct conn *c)
{
	int rc = read_conn(l, c);

	if (rc >= 0 && conn_out_pending(c) && write_conn(l, c) != 0)
		rc = -1;
	return settle(l, c, rc) ? -1 : rc;
}

/* The active VMM's shared area: serves the request waiting there, if
 * its socket side allows (no reply or ERROR still going out).  1 served,
 * 0 nothing, -1 the connection was dropped. */
static int
serve_shm(struct loop *l)
{
	struct conn *c = l->vmm;
	int rc;

	if (c == NULL || c->shm == NULL || c->close_after_flush || conn_out_pending(c))
		return 0;
	rc = vmm_conn_serve_shm(l->vm, c);
	if (rc > 0) {
		l->vmm_answered = true;
		return 1;
	}
	if (rc < 0 && conn_out_pending(c))
		(void)write_conn(l, c);
	return settle(l, c, 0) ? -1 : 0;
}

/* What poll() is asked to watch on c. */
static short
conn_events(const struct conn *c)
{
	short ev = conn_out_pending(c) ? POLLOUT : 0;

	if (c->kind == CONN_VMM)
		return ev ? ev : (c->close_after_flush ? 0 : POLLIN);
	return ev | (mgmt_may_read(c) ? POLLIN : 0);
}

/* c's input may be read: a VMM's only once its replies are out
 * (protocol.md "Connections"), a management one within its bounds. */
static bool
may_read(const struct conn *c)
{
	if (c->kind == CONN_VMM)
		return !c->close_after_flush && !conn_out_pending(c);
	return mgmt_may_read(c);
}

/* One connection's share of a loop turn, by what poll() reported:
 * send, then read (and let the protocol answer), or else handle the
 * management lines already buffered; then close it if it is done. */
static void
serve_conn(struct loop *l, struct conn *c, short revents)
{
	int rc = 0;

	/* A hang-up with output pending: the send fails and drops it. */
	if ((revents & POLLOUT) || ((revents & (POLLHUP | POLLERR)) && conn_out_pending(c))) {
		rc = write_conn(l, c);
		if (rc != 0) {
			(void)settle(l, c, rc);
			return;
		}
	}
	if ((revents & (POLLIN | POLLHUP | POLLERR)) && may_read(c)) {
		(void)serve_readable(l, c);
		return;
	}
	if (mgmt_has_work(c)) {
		(void)mgmt_conn_process(l->vm, c, &l->quit);
		if (conn_out_pending(c))
			rc = write_conn(l, c);
	} else if (vmm_has_work(c) && l->vmm == c) {
		(void)vmm_conn_process(l->vm, c);
		if (conn_out_pending(c))
			rc = write_conn(l, c);
	}
	(void)settle(l, c, rc);
}

/*
 * Adaptive busy polling of the VMM connection, the idea of Linux's
 * SO_BUSY_POLL (net.core.busy_poll): right after a reply has gone out,
 * look for the VMM's next request without blocking, again and again, for
 * a bounded window (CLOCK_MONOTONIC) before going back to sleep in poll().
 *
 * Why: guest firmware sends its variable calls in bursts (hundreds back to
 * back during boot), and almost all of a request's round trip is the
 * scheduler waking a blocked process, not the work (docs/performance.md,
 * "The socket round trip" and "The real boot through vmvarsd").  A
 * request that arrives inside the window is served without a wake-up.
 *
 * On shared memory (shm_spin) the spin is a load of req_seq with the
 * CPU's pause hint, no system call, and while it runs daemon_sleep stays
 * 0: the VMM rings no doorbell, and vv_client spins for its reply only
 * while it sees the daemon awake.  On socket frames it is a non-blocking
 * read() per turn (--poll-us, off by default: it lost on the boot).
 *
 * CPU bound: at most the window of CPU per answered request, and none
 * while the VMM is idle -- the window opens only when a reply has just
 * been sent, and an expired window ends in the blocking poll().  Two
 * rules shrink it:
 *   - on socket frames the window adapts as KVM's halt polling does
 *     (core/spin_window.h, the same rule as vv_client's): isolated
 *     requests soon cost no spinning;
 *   - the gate (core/spin_gate.h) shuts both windows while the loop
 *     thread is being preempted (its involuntary context switches, read
 *     with getrusage every 32 requests): there a spin holds a CPU that
 *     another runnable thread -- the VMM's, in a boot storm -- needs --
 *     and while spins go unanswered (isolated requests).
 * Management connections and signals wait at most SHM_TURN_US: a burst
 * served here returns to the loop for a non-blocking poll of every
 * descriptor that often.  System calls: read() (socket frames),
 * clock_gettime() and getrusage(RUSAGE_THREAD), all in sandbox.c's
 * allowlist.
 *
 * Returns true when it answered another request (spin again after the
 * non-blocking poll), false when the window expired or anything else
 * happened (the blocking poll() takes over).
 */
#define SHM_TURN_US 1000

static long
thread_nivcsw(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nivcsw : -1;
}

/* One wait for a request ended. */
static void
gate_count(struct loop *l, enum vv_spin_outcome how)
{
	if (vv_spin_gate_next(&l->gate, how))
		vv_spin_gate_sample(&l->gate, thread_nivcsw(),
				    vv_spin_gate_crowded(&l->gate, l->cfg->loadavg_fd, l->cfg->psi_fd,
							 l->cfg->usable_cpus, now_us()));
}

/* The window ran out: the blocking poll() next. */
static bool
window_missed(struct loop *l, struct vv_spin_window *w)
{
	vv_spin_window_missed(w);
	l->asleep_since_us = now_us();
	return false;
}

/* Shared memory: spins on req_seq for the fixed window, and serves what
 * it catches without going round the loop until SHM_TURN_US have passed.
 * The window does not shrink here: on this transport a wait that the
 * window misses is a sleep and a wake-up, longer than any window, so a
 * shrunk window could never learn to reopen (core/spin_window.h's rule);
 * spins that do not pay shut the gate instead, which tries again later. */
static bool
shm_spin(struct loop *l, struct conn *c)
{
	int64_t turn_end = now_us() + SHM_TURN_US;
	int rc;

	for (;;) {
		int64_t deadline = now_us() + (int64_t)l->shm_spin_us;
		bool caught = false;

		for (unsigned i = 1;; i++) {
			if (vmm_shm_pending(c->shm)) {
				caught = true;
				break;
			}
			vv_cpu_relax();
			/* the clock every 16 loads: a few hundred ns late at most */
			if (i % 16 == 0 && now_us() >= deadline)
				break;
		}
		if (!caught) {
			gate_count(l, VV_SPIN_MISSED);
			return false;
		}
		/* The reply first: the gate's look (two system calls every
		 * VV_SPIN_GATE_PERIOD requests) is then off the VMM's path. */
		rc = serve_shm(l);
		gate_count(l, VV_SPIN_CAUGHT);
		if (rc <= 0 || !l->vmm_answered)
			return false;
		l->vmm_answered = false;
		if (now_us() >= turn_end || !vv_spin_gate_open(&l->gate))
			return true;
	}
}

static bool
vmm_busy_poll(struct loop *l)
{
	struct conn *c = l->vmm;
	struct vv_spin_window *w;
	int64_t deadline;
	int rc;

	if (c == NULL || c->close_after_flush || conn_out_pending(c))
		return false;
	w = &l->spin;
	if (c->shm != NULL ? l->shm_spin_us == 0 : w->max == 0)
		return false;
	if (!vv_spin_gate_open(&l->gate)) {
		gate_count(l, VV_SPIN_NONE);
		l->asleep_since_us = -1;
		return false;
	}
	if (c->shm != NULL)
		return shm_spin(l, c);
	if (l->asleep_since_us >= 0)
		vv_spin_window_waited(w, now_us() - l->asleep_since_us);
	if (w->cur == 0) {
		gate_count(l, VV_SPIN_NONE);
		l->asleep_since_us = now_us();
		return false;
	}
	l->asleep_since_us = -1;
	l->vmm_answered = false;
	deadline = now_us() + (int64_t)w->cur;
	do {
		rc = serve_readable(l, c);
		if (rc != 0) {
			gate_count(l, rc > 0 ? VV_SPIN_CAUGHT : VV_SPIN_NONE);
			if (rc > 0)
				vv_spin_window_caught(w);
			return rc > 0 && l->vmm_answered;
		}
	} while (now_us() < deadline);
	gate_count(l, VV_SPIN_MISSED);
	return window_missed(l, w);
}

/*
 * The journaled backend acknowledges a write with one append to
 * vars.json.journal; vars.json itself is rewritten only when the journal
 * outgrows its bound and at exit.  Tools that read a running VM's
 * vars.json (QEMU's format, virt-fw-vars) would see an old state for as
 * long as the VM runs.  So once no NV change has come for
 * compact_idle_ms, the journal is folded in: guest writes come in bursts
 * (a boot, an OS update of db), and one rewrite after each burst keeps the
 * file current at no cost inside the burst.  Returns the poll() timeout
 * that wakes the loop in time for the next fold (at most 1000 ms).
 */
static int
compact_when_idle(struct loop *l, int64_t now)
{
	uint64_t commits = vv_store_nv_commits(l->vm->store);
	int64_t due;
	struct vv_error err;

	if (commits != l->nv_seen) {
		l->nv_seen = commits;
		l->nv_changed_ms = now;
	}
	if (l->cfg->compact_idle_ms <= 0 || commits == l->nv_compacted)
		return 1000;
	due = l->nv_changed_ms + l->cfg->compact_idle_ms;
	if (now < due)
		return due - now < 1000 ? (int)(due - now) : 1000;
	if (vv_store_flush(l->vm->store, &err) == 0) {
		l->nv_compacted = commits;
		log_debug("journal folded into vars.json after %d ms without a change",
			  l->cfg->compact_idle_ms);
	} else {
		/* The journal still holds every acknowledged write; try again
		 * after another quiet period. */
		log_warn("folding the journal into vars.json failed: %s", err.msg);
		l->nv_changed_ms = now;
		return l->cfg->compact_idle_ms < 1000 ? l->cfg->compact_idle_ms : 1000;
	}
	return 1000;
}

/*
 * The deadlines (protocol.md "ERROR", management.md "Framing"):
 *   - the frame timer: a message (VMM frame, management line) must be
 *     complete within the frame timeout of its first byte; it restarts
 *     whenever a message completes (conn_consume), so a VMM that pipelines
 *     has always some frame in flight and is never timed out for it.  On a
 *     management connection it runs only while the daemon reads from it
 *     (not while its own lines wait, its replies pile up, or after EOF);
 *   - a peer that takes no byte of its pending output for the frame
 *     timeout is dropped: a management client that does not read its
 *     replies (it holds MGMT_OUT_MAX bytes and one of MAX_MGMT slots), or
 *     any connection the daemon is closing (an ERROR not read, or a VMM
 *     connection retired by a new one), so none of them lingers.  The
 *     active VMM is not: its unread reply stops the daemon reading it,
 *     which is all the backpressure it needs.
 * Returns the milliseconds until the earliest remaining deadline (at most
 * `cap`), the timeout of the next poll().
 */
static int
check_deadlines(struct loop *l, int64_t now, int cap)
{
	const int64_t timeout = l->cfg->frame_timeout_ms;
	int64_t next = now + cap;
	struct conn *c, *following;

	for (c = l->conns; c != NULL; c = following) {
		bool watch_output = c->kind == CONN_MGMT || c->close_after_flush || c != l->vmm;

		following = c->next;
		if (watch_output && conn_out_pending(c) && c->out_stalled_since_ms >= 0) {
			if (now - c->out_stalled_since_ms >= timeout) {
				log_warn("%s connection %u: %zu bytes of replies not taken for %lld ms; "
					 "closing it", c->kind == CONN_VMM ? "vmm" : "management",
					 c->id, conn_out_queued(c), (long long)timeout);
				drop(l, c);
				continue;
			}
			if (c->out_stalled_since_ms + timeout < next)
				next = c->out_stalled_since_ms + timeout;
		}
		if (c->partial_since_ms < 0 || c->close_after_flush ||
		    (c->kind == CONN_MGMT && !mgmt_may_read(c)))
			continue;
		if (now - c->partial_since_ms < timeout) {
			if (c->partial_since_ms + timeout < next)
				next = c->partial_since_ms + timeout;
			continue;
		}
		log_warn("%s connection %u: message incomplete after %lld ms; closing it",
			 c->kind == CONN_VMM ? "vmm" : "management", c->id, (long long)timeout);
		if (c->kind == CONN_VMM) {
			vmm_conn_error(c, VV_VMM_ERR_TIMEOUT, "frame not completed in time");
		} else {
			const char *msg = "{\"ok\":false,\"error\":\"request line not completed "
					  "in time\"}\n";

			(void)conn_queue(c, msg, strlen(msg));
		}
		c->close_after_flush = true;
		c->partial_since_ms = -1;
		(void)settle(l, c, conn_out_pending(c) ? write_conn(l, c) : 0);
	}
	return next - now > 0 ? (int)(next - now) : 0;
}

static int
signal_fd(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

void
server_run(struct vm *vm, const struct server_config *cfg)
{
	/* nv_compacted 0: what vm_open itself committed (Secure Boot's
	 * initial state on a new store) is folded in too.  geteuid: after
	 * the sandbox's user switch, the uid this process serves as. */
	struct loop l = { .vm = vm, .cfg = cfg, .uid = geteuid(), .asleep_since_us = -1,
			  .nv_seen = 0, .nv_compacted = 0 };
	struct pollfd pfd[3 + MAX_MGMT + 8 + 1];
	struct conn *who[3 + MAX_MGMT + 8 + 1];
	int sfd = signal_listen_fd;
	bool spin = false;              /* vmm_busy_poll answered: do not block */
	int timeout_ms = 1000;

	vv_spin_window_init(&l.spin, cfg->poll_us);
	l.shm_spin_us = cfg->shm_spin_us;
	vv_spin_gate_init(&l.gate, cfg->usable_cpus);

	while (!l.quit) {
		nfds_t n = 0, nconn;
		int rc;
		struct vmm_shm *shm = NULL;
		bool work = false;      /* management lines wait: do not block */

		int64_t now = now_ms();
		short listen_ev = now >= l.accept_paused_until_ms ? POLLIN : 0;

		pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = vmm_listen_fd, .events = listen_ev };
		pfd[n++] = (struct pollfd){ .fd = mgmt_listen_fd, .events = listen_ev };
		if (!listen_ev && l.accept_paused_until_ms - now < timeout_ms)
			timeout_ms = (int)(l.accept_paused_until_ms - now);
		/* the last slot is the shared-memory doorbell's */
		for (struct conn *c = l.conns; c != NULL && n < sizeof(pfd) / sizeof(pfd[0]) - 1;
		     c = c->next) {
			who[n] = c;
			pfd[n++] = (struct pollfd){ .fd = c->fd, .events = conn_events(c) };
			work = work || mgmt_has_work(c) || vmm_has_work(c);
		}
		nconn = n;
		/* The active VMM's request doorbell; before a blocking poll the
		 * VMM is told to ring it (vmm_shm_may_sleep), and a request
		 * that came meanwhile keeps the poll from blocking. */
		if (l.vmm != NULL && l.vmm->shm != NULL && !l.vmm->close_after_flush) {
			shm = l.vmm->shm;
			pfd[n++] = (struct pollfd){ .fd = shm->req_fd, .events = POLLIN };
			if (!vmm_shm_may_sleep(shm))
				work = true;
		}
		rc = poll(pfd, n, spin || work ? 0 : timeout_ms);
		if (shm != NULL) {
			vmm_shm_awake(shm);
			if (rc > 0 && pfd[nconn].revents != 0 &&
			    (pfd[nconn].revents != POLLIN || vmm_shm_drain(shm) != 0)) {
				log_warn("vmm connection %u: the request doorbell is not an eventfd; "
					 "closing it", l.vmm->id);
				l.vm->vmm_protocol_errors++;
				vmm_conn_error(l.vmm, VV_VMM_ERR_MALFORMED,
					       "the request doorbell is not an eventfd");
				shm = NULL;
			}
		}
		if (rc < 0 && errno != EINTR)
			fatal("poll: %s", strerror(errno));
		l.vmm_answered = false;
		if (rc > 0 && (pfd[0].revents & POLLIN)) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				log_info("signal %u: shutting down", si.ssi_signo);
				break;
			}
		}
		/* Existing connections first (a hang-up frees the VMM slot),
		 * then new ones.  serve_conn drops only the connection it
		 * serves, so who[] holds no freed one when it is reached. */
		for (nfds_t i = 3; i < nconn && !l.quit; i++)
			serve_conn(&l, who[i], rc > 0 ? pfd[i].revents : 0);
		/* after the socket side: a VM_RESET sent before the request
		 * now in the area is handled first */
		if (shm != NULL && !l.quit)
			(void)serve_shm(&l);
		if (rc > 0 && (pfd[1].revents & POLLIN))
			accept_one(&l, vmm_listen_fd, CONN_VMM);
		if (rc > 0 && mgmt_listen_fd >= 0 && (pfd[2].revents & POLLIN))
			accept_one(&l, mgmt_listen_fd, CONN_MGMT);
		timeout_ms = compact_when_idle(&l, now_ms());
		timeout_ms = check_deadlines(&l, now_ms(), timeout_ms);
		/* Keep spinning after the non-blocking turn that follows a
		 * request caught by the spin: that turn usually finds nothing
		 * (the VMM's next request is still coming), and dropping to
		 * the blocking poll() there would make every second request
		 * pay the wake-up. */
		spin = (l.vmm_answered || spin) && !l.quit && vmm_busy_poll(&l);
	}
	while (l.conns != NULL) {
		if (l.conns == l.vmm)
			vmm_conn_error(l.conns, VV_VMM_ERR_SHUTDOWN, "vmvarsd is exiting");
		if (conn_out_pending(l.conns))
			(void)write_conn(&l, l.conns);
		drop(&l, l.conns);
	}
	close(sfd);
}
