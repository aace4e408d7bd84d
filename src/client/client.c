/*
 * src/client/client.c -- the VMM's end of the vmvarsd socket
 * (docs/protocol.md, vmvars/client.h).  Every frame from the daemon is
 * validated like the daemon validates ours: type expected for the request
 * in flight, exact lengths, status-consistent reply size.  A violation or
 * an I/O error drops the connection; the next request reconnects.
 *
 * States: CONNECTED (fd >= 0, handshake done) <-> DISCONNECTED (fd -1).
 *
 * Latency: a request is built in place in c->frame and sent with one
 * send(); the reply is awaited by spinning on non-blocking receives for up
 * to poll_us before a blocking one (vv_client_set_poll_us), and received
 * with one recv() when it is all there.
 *
 * Shared memory (docs/protocol.md "Shared-memory transport"): when the
 * daemon grants VV_VMM_FEATURE_SHM, each connection gets a new sealed
 * memfd area and two eventfds (SHM_SETUP); MM requests then go through
 * the area, and the socket carries everything else and tells the client
 * when the daemon refused or went away.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <vmvars/client.h>

#include "core/spin_gate.h"
#include "core/spin_window.h"

struct vv_client {
	char *path;
	int fd;                         /* -1 while disconnected */
	int timeout_ms;
	struct vv_spin_window spin;     /* the wait for a reply; max 0 = block */
	unsigned shm_spin_us;           /* ... on shared memory: fixed (shm_wait) */
	struct vv_spin_gate gate;       /* both: shut while this thread is preempted */
	long cpus;                      /* usable CPUs, at connect */
	int loadavg_fd;                 /* /proc/loadavg for the gate, or -1 */
	int psi_fd;                     /* /proc/pressure/cpu for it, or -1 */
	uint64_t features;              /* granted by the daemon */
	uint32_t state_max;             /* max_state_payload (MIGRATION), else 0 */
	enum vv_xenvar_dialect extvar_dialect; /* vv_client_extvar_handler's */
	unsigned reconnects;
	bool ever_connected;
	uint8_t *frame;                 /* header + VV_VMM_MAX_PAYLOAD */
	/* the shared area of this connection (SHM granted), else NULL */
	uint8_t *area;
	int req_fd, rep_fd;             /* doorbells: to the daemon, from it */
	uint32_t seq;                   /* the last request number published */
	char error[256];
};

static void
set_error(struct vv_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
set_error(struct vv_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
}

static void
shm_release(struct vv_client *c)
{
	if (c->area != NULL)
		munmap(c->area, VV_VMM_SHM_AREA_SIZE);
	if (c->req_fd >= 0)
		close(c->req_fd);
	if (c->rep_fd >= 0)
		close(c->rep_fd);
	c->area = NULL;
	c->req_fd = c->rep_fd = -1;
}

static void
disconnect(struct vv_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	shm_release(c);
}

/* ---- bytes ---- */

static int
write_all(struct vv_client *c, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			set_error(c, "send to %s: %s", c->path, n < 0 ? strerror(errno) : "closed");
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * One receive of at most len bytes (> 0) into p: > 0 bytes, or -1 with
 * c->error set (the connection closed, an error, or SO_RCVTIMEO).  Until
 * *spin_until (a CLOCK_MONOTONIC time in us; 0 = not spinning) it spins on
 * non-blocking receives, then it blocks (and sets *spin_until to 0); see
 * vv_client_set_poll_us().
 */
static ssize_t
recv_some(struct vv_client *c, uint8_t *p, size_t len, int64_t *spin_until)
{
	for (;;) {
		bool spinning = *spin_until != 0;
		ssize_t n = recv(c->fd, p, len, spinning ? MSG_DONTWAIT : 0);

		if (n > 0)
			return n;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && spinning && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (now_us() >= *spin_until)
				*spin_until = 0;
			continue;
		}
		set_error(c, "receive from %s: %s", c->path,
			  n < 0 ? strerror(errno) : "connection closed by vmvarsd");
		return -1;
	}
}

/* ---- frames ---- */

/* The payload of the frame in c->frame: requests are built there. */
static uint8_t *
payload_of(struct vv_client *c)
{
	return c->frame + VV_VMM_FRAME_HEADER_SIZE;
}

/* Sends the frame whose len payload bytes are already at payload_of(c),
 * header and payload in one send: the daemon then wakes once per request,
 * not twice. */
static int
send_frame(struct vv_client *c, uint32_t type, size_t len)
{
	if (len > VV_VMM_MAX_PAYLOAD)
		return -1;
	vv_put_le32(c->frame, type);
	vv_put_le32(c->frame + 4, (uint32_t)len);
	return write_all(c, c->frame, VV_VMM_FRAME_HEADER_SIZE + len);
}

/*
 * Receives one frame into c->frame, payload at payload_of(c).  The
 * protocol is strictly request/reply, one request in flight, so the reply
 * is all the socket holds: the first receive asks for a whole buffer's
 * worth (one syscall when the reply is there), later ones exactly what the
 * frame still lacks.  Bytes beyond the frame are never read as another
 * reply; the only thing a daemon may send after a reply is its ERROR
 * before it closes (SIGTERM), so the reply is kept and the connection is
 * dropped (the next request reconnects).  An ERROR frame is turned into
 * c->error and -1; so is a frame longer than we ever accept.
 */
/* The spin window adapts as vmvarsd's does (core/spin_window.h): a
 * client whose daemon shares its CPU soon stops spinning instead of paying
 * a window per request. */
static void
adapt_window(struct vv_spin_window *w, bool spun, bool caught, int64_t waited_us)
{
	if (spun && caught)
		vv_spin_window_caught(w);
	else if (spun)
		vv_spin_window_missed(w);
	else
		vv_spin_window_waited(w, waited_us);
}

/*
 * And both windows close while the calling thread is being preempted
 * (core/spin_gate.h): its involuntary context switches, read every 64
 * waits.  They are the calling thread's: a VMM that calls from several
 * threads may see the gate shut for a while after a switch of threads,
 * never spin more.
 */
static void
gate_count(struct vv_client *c, enum vv_spin_outcome how)
{
	struct rusage ru;

	if (vv_spin_gate_next(&c->gate, how))
		vv_spin_gate_sample(&c->gate, getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nivcsw : -1,
				    vv_spin_gate_crowded(&c->gate, c->loadavg_fd, c->psi_fd, c->cpus,
							 now_us()));
}

static int
recv_frame(struct vv_client *c, uint32_t *type, uint32_t *len)
{
	const size_t cap = VV_VMM_FRAME_HEADER_SIZE + VV_VMM_MAX_PAYLOAD;
	/* the spin counts against the timeout too: never longer than it */
	int64_t spin_us = !vv_spin_gate_open(&c->gate) ? 0
			  : c->spin.cur < (int64_t)c->timeout_ms * 1000 ? c->spin.cur
			  : (int64_t)c->timeout_ms * 1000;
	int64_t start = now_us(), spin_until = spin_us > 0 ? start + spin_us : 0;
	uint8_t *p = payload_of(c);
	size_t got = 0, need = cap;
	bool have_header = false;

	while (got < need) {
		ssize_t n = recv_some(c, c->frame + got, need - got, &spin_until);

		if (n < 0)
			return -1;
		if (got == 0 && c->spin.max > 0) {
			if (vv_spin_gate_open(&c->gate))
				adapt_window(&c->spin, spin_us > 0, spin_until != 0,
					     spin_us > 0 ? 0 : now_us() - start);
			gate_count(c, spin_us == 0 ? VV_SPIN_NONE :
				   spin_until != 0 ? VV_SPIN_CAUGHT : VV_SPIN_MISSED);
		}
		got += (size_t)n;
		if (!have_header && got >= VV_VMM_FRAME_HEADER_SIZE) {
			have_header = true;
			*type = vv_le32(c->frame);
			*len = vv_le32(c->frame + 4);
			if (*len > VV_VMM_MAX_PAYLOAD) {
				set_error(c, "vmvarsd sent a %u-byte frame (protocol error)", *len);
				return -1;
			}
			need = VV_VMM_FRAME_HEADER_SIZE + *len;
		}
	}
	if (got > need) {
		/* Not an error of this reply: see above.  Dropping the
		 * connection discards the extra bytes unread. */
		disconnect(c);
	}
	if (*type == VV_VMM_MSG_ERROR) {
		uint32_t code = *len >= 4 ? vv_le32(p) : 0;
		int textlen = *len > 4 ? (int)(*len - 4 > VV_VMM_ERROR_TEXT_MAX ?
					  VV_VMM_ERROR_TEXT_MAX : *len - 4) : 0;

		set_error(c, "vmvarsd refused (error %u): %.*s", code, textlen, (const char *)p + 4);
		return -1;
	}
	return 0;
}

/* ---- connection ---- */

static void
apply_timeout(struct vv_client *c)
{
	struct timeval tv = { c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000 };

	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static uint32_t *
area_word(const struct vv_client *c, unsigned off)
{
	return (uint32_t *)(void *)(c->area + off);
}

/*
 * SHM_SETUP (protocol.md "Shared-memory transport"): a new area per
 * connection -- a memfd sealed against shrinking and growing (the daemon
 * maps only a sealed one) -- and two eventfds, passed with the frame in
 * one sendmsg; the daemon answers ACK.  0; 1 when this process could not
 * make the area or doorbells (nothing was sent: the connection stays on
 * MM_REQUEST frames); -1 with c->error when the exchange failed.
 */
static int
shm_setup(struct vv_client *c)
{
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(int) * VV_VMM_SHM_FDS)];
	} ctl;
	uint8_t *p = payload_of(c);
	struct iovec iov = { c->frame, VV_VMM_FRAME_HEADER_SIZE + VV_VMM_SHM_SETUP_SIZE };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *cm;
	int area_fd = memfd_create("vmvars-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING), fds[3];
	uint32_t type, len;
	ssize_t n;

	shm_release(c);
	c->req_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->rep_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (area_fd < 0 || c->req_fd < 0 || c->rep_fd < 0 ||
	    ftruncate(area_fd, VV_VMM_SHM_AREA_SIZE) != 0 ||
	    fcntl(area_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0 ||
	    (c->area = mmap(NULL, VV_VMM_SHM_AREA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			    area_fd, 0)) == MAP_FAILED) {
		c->area = NULL;
		if (area_fd >= 0)
			close(area_fd);
		shm_release(c);
		return 1;
	}
	c->seq = 0;
	/* CMSG_SPACE pads 12 bytes of descriptors to 16: no stack byte goes
	 * to the kernel unset (valgrind flagged the padding). */
	memset(&ctl, 0, sizeof(ctl));
	fds[0] = area_fd;
	fds[1] = c->req_fd;
	fds[2] = c->rep_fd;
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	vv_put_le32(c->frame, VV_VMM_MSG_SHM_SETUP);
	vv_put_le32(c->frame + 4, VV_VMM_SHM_SETUP_SIZE);
	vv_put_le32(p, VV_VMM_SHM_AREA_SIZE);
	vv_put_le32(p + 4, 0);
	do
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)iov.iov_len) {
		set_error(c, "send to %s: %s", c->path, n < 0 ? strerror(errno) : "short send");
		goto fail;
	}
	close(area_fd);
	area_fd = -1;
	if (recv_frame(c, &type, &len) != 0)
		goto fail;
	if (type != VV_VMM_MSG_ACK || len != 4 || vv_le32(p) != VV_VMM_MSG_SHM_SETUP) {
		set_error(c, "vmvarsd sent a malformed reply to SHM_SETUP (type %u)", type);
		goto fail;
	}
	return 0;
fail:
	if (area_fd >= 0)
		close(area_fd);
	shm_release(c);
	return -1;
}

/* Connects and does the handshake (protocol.md "Handshake"). */
static int
establish(struct vv_client *c)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	uint8_t *hello = payload_of(c);
	const uint8_t *p = payload_of(c);
	uint32_t type, len;
	int sent;

	disconnect(c);
	if (strlen(c->path) >= sizeof(sun.sun_path)) {
		set_error(c, "%s: socket path too long", c->path);
		return -1;
	}
	strcpy(sun.sun_path, c->path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		set_error(c, "connect %s: %s", c->path, strerror(errno));
		disconnect(c);
		return -1;
	}
	apply_timeout(c);
	vv_put_le32(hello, VV_VMM_MAGIC);
	vv_put_le32(hello + 4, VV_VMM_VERSION);
	vv_put_le64(hello + 8, VV_VMM_FEATURES_KNOWN);
	vv_put_le32(hello + 16, VV_VMM_MAX_PAYLOAD);
	vv_put_le32(hello + 20, 0);
	/* A daemon that refuses us (BUSY) may close before our HELLO is
	 * sent: its ERROR frame is still there to read, so read even when
	 * the send failed. */
	sent = send_frame(c, VV_VMM_MSG_HELLO, VV_VMM_HELLO_SIZE);
	if (recv_frame(c, &type, &len) != 0 || sent != 0)
		goto fail;
	if (type != VV_VMM_MSG_HELLO_REPLY || len != VV_VMM_HELLO_SIZE ||
	    vv_le32(p) != VV_VMM_MAGIC || vv_le32(p + 4) != VV_VMM_VERSION ||
	    vv_le32(p + 16) < VV_VMM_MAX_PAYLOAD) {
		set_error(c, "%s: not a vmvarsd protocol 1 HELLO_REPLY", c->path);
		goto fail;
	}
	c->features = vv_le64(p + 8);
	c->state_max = (c->features & VV_VMM_FEATURE_MIGRATION) ? vv_le32(p + 20) : 0;
	if ((c->features & VV_VMM_FEATURE_SHM) && shm_setup(c) < 0)
		goto fail;
	/* The daemon's bound is at most 4 + 256 MiB (protocol.md "Sizes"): a
	 * larger one is not believed, so a STATE can never make the client
	 * allocate gigabytes on the daemon's word. */
	if (c->state_max > 4u + (256u << 20))
		c->state_max = 4u + (256u << 20);
	if (c->ever_connected)
		c->reconnects++;
	c->ever_connected = true;
	return 0;
fail:
	disconnect(c);
	return -1;
}

struct vv_client *
vv_client_connect(const char *path, struct vv_error *err)
{
	struct vv_client *c = calloc(1, sizeof(*c));
	long cpus;

	if (c == NULL || (c->path = strdup(path)) == NULL ||
	    (c->frame = malloc(VV_VMM_FRAME_HEADER_SIZE + VV_VMM_MAX_PAYLOAD)) == NULL) {
		vv_client_free(c);
		vv_error_set(err, "out of memory");
		return NULL;
	}
	c->fd = -1;
	c->req_fd = c->rep_fd = -1;
	c->loadavg_fd = c->psi_fd = -1;
	c->timeout_ms = 30000;
	/* One CPU: a spin could only hold the CPU the daemon needs. */
	cpus = c->cpus = vv_usable_cpus();
	c->loadavg_fd = cpus < 2 ? -1 : open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
	c->psi_fd = cpus < 2 ? -1 : open("/proc/pressure/cpu", O_RDONLY | O_CLOEXEC);
	vv_spin_window_init(&c->spin, cpus < 2 ? 0 : VV_CLIENT_POLL_US_DEFAULT);
	c->shm_spin_us = cpus < 2 ? 0 : VV_CLIENT_SHM_SPIN_US_DEFAULT;
	vv_spin_gate_init(&c->gate, cpus);
	if (establish(c) != 0) {
		vv_error_set(err, "%s", c->error);
		vv_client_free(c);
		return NULL;
	}
	return c;
}

void
vv_client_free(struct vv_client *c)
{
	if (c == NULL)
		return;
	disconnect(c);
	/* cpus is set with the two: 0 means they were never opened */
	if (c->cpus != 0 && c->loadavg_fd >= 0)
		close(c->loadavg_fd);
	if (c->cpus != 0 && c->psi_fd >= 0)
		close(c->psi_fd);
	free(c->path);
	free(c->frame);
	free(c);
}

/*
 * Sends one request frame and receives its reply, reconnecting once if
 * the connection is broken before the frame is out (never after: see
 * below).  0 with the reply in c->frame, or -1.
 *
 * The payload is hdr then body (the caller's buffers, never c->frame):
 * they are copied to payload_of(c) before each attempt, because a
 * handshake overwrites c->frame.
 */
static int
exchange(struct vv_client *c, uint32_t type, const uint8_t *hdr, size_t hdr_len,
	 const uint8_t *body, size_t body_len, uint32_t *rtype, uint32_t *rlen)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		if (c->fd < 0 && establish(c) != 0)
			continue;
		if (hdr_len > 0)
			memcpy(payload_of(c), hdr, hdr_len);
		if (body_len > 0)
			memcpy(payload_of(c) + hdr_len, body, body_len);
		if (send_frame(c, type, hdr_len + body_len) != 0) {
			/* Not sent whole: the daemon acts on whole frames only,
			 * so it never ran; a new connection may carry it. */
			disconnect(c);
			continue;
		}
		if (recv_frame(c, rtype, rlen) == 0)
			return 0;
		/*
		 * Sent but not answered: the daemon may have applied it
		 * before it died or stalled.  Sending it again is not safe --
		 * a keyed MORLock applied twice is a lock and then an unlock,
		 * an APPEND_WRITE is appended twice -- so the caller gets the
		 * failure (the guest a device error) and the next request
		 * reconnects.
		 */
		disconnect(c);
		return -1;
	}
	return -1;
}

/* A daemon that is awake and on a CPU takes a request (taken_seq) within
 * a microsecond when it spins on req_seq, and within a few when the
 * request comes while it looks at its spin gate (getrusage and two preads
 * after a reply, every 32 requests) or polls its other descriptors: one
 * that has not after this long is runnable but waiting for a CPU -- often
 * the one this spin holds.  4 us was tried: on a quiet host those looks
 * then cost a wake-up each, and the boot took 1.07 ms (median of 10)
 * against 0.81 ms (docs/performance.md "Where the round trip went"). */
#define SHM_TAKE_US 10

/*
 * Waits for the reply to request seq in the area.  While the daemon is
 * awake (daemon_sleep 0: it is serving, or spinning for requests itself)
 * and running (it takes the request within SHM_TAKE_US), and the gate is
 * open, it spins on rep_seq with the CPU's pause hint for up to the
 * window (loads, no system call); then -- or at once when the daemon
 * sleeps, which a reply would need a wake-up for anyway -- it sleeps in
 * poll() on the reply doorbell and the socket after telling the daemon to
 * ring (vmm_sleep; the Dekker rule of src/daemon/vmm_shm.c).
 * 0 answered; -2 the socket says the daemon refused or went away
 * (c->error set); -1 no reply in time or a protocol error.
 */
static int
shm_wait(struct vv_client *c, uint32_t seq)
{
	int64_t start = now_us(), deadline = start + (int64_t)c->timeout_ms * 1000;
	int64_t spin_us = c->shm_spin_us < (int64_t)c->timeout_ms * 1000 ? c->shm_spin_us : 0;
	uint32_t *rep = area_word(c, VV_VMM_SHM_REP_SEQ), *sleep = area_word(c, VV_VMM_SHM_VMM_SLEEP);
	const uint32_t *dsleep = area_word(c, VV_VMM_SHM_DAEMON_SLEEP);
	const uint32_t *tseq = area_word(c, VV_VMM_SHM_TAKEN_SEQ);
	bool open = vv_spin_gate_open(&c->gate), spun = false, taken = false;
	int64_t now;

	if (open && spin_us > 0) {
		for (unsigned i = 1;; i++) {
			if (__atomic_load_n(rep, __ATOMIC_ACQUIRE) == seq) {
				gate_count(c, spun ? VV_SPIN_CAUGHT : VV_SPIN_NONE);
				return 0;
			}
			if (__atomic_load_n(dsleep, __ATOMIC_RELAXED) != 0)
				break;  /* not the window's miss: the daemon sleeps */
			spun = true;
			vv_cpu_relax();
			/* the clock every 16 loads: a few hundred ns late at most */
			if (i % 16 != 0)
				continue;
			now = now_us();
			if (!taken && __atomic_load_n(tseq, __ATOMIC_RELAXED) == seq)
				taken = true;
			if (!taken && now >= start + SHM_TAKE_US)
				break;  /* awake but not on a CPU: let it have ours */
			if (now >= start + spin_us)
				break;
		}
	}
	for (;;) {
		struct pollfd pf[2] = { { c->rep_fd, POLLIN, 0 }, { c->fd, POLLIN, 0 } };
		int64_t left = deadline - now_us();
		uint64_t v;
		int rc;

		__atomic_store_n(sleep, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(rep, __ATOMIC_SEQ_CST) == seq)
			break;
		if (left <= 0) {
			__atomic_store_n(sleep, 0, __ATOMIC_SEQ_CST);
			set_error(c, "no reply from %s within %d ms", c->path, c->timeout_ms);
			return -1;
		}
		rc = poll(pf, 2, (int)((left + 999) / 1000));
		__atomic_store_n(sleep, 0, __ATOMIC_SEQ_CST);
		if (rc < 0 && errno != EINTR) {
			set_error(c, "poll %s: %s", c->path, strerror(errno));
			return -1;
		}
		if (rc > 0 && (pf[0].revents & POLLIN))
			(void)read(c->rep_fd, &v, sizeof(v));
		if (__atomic_load_n(rep, __ATOMIC_ACQUIRE) == seq)
			break;
		if (rc > 0 && pf[1].revents != 0) {
			uint32_t type, len;

			/* Only an ERROR (then a close) may come on the socket
			 * while a request is in the area. */
			if (recv_frame(c, &type, &len) == 0)
				set_error(c, "vmvarsd sent frame type %u during a shared request", type);
			return -2;
		}
	}
	__atomic_store_n(sleep, 0, __ATOMIC_SEQ_CST);
	gate_count(c, spun ? VV_SPIN_MISSED : VV_SPIN_NONE);
	return 0;
}

/*
 * One MM request through the area: the request is copied in, its two
 * words set, then req_seq published (release) and the daemon rung if it
 * sleeps.  The reply is checked as an MM_REPLY is.  0 with *sts; -2 when
 * the connection ended before the daemon took the request (taken_seq):
 * it never acted on it, so it may go out on a new connection; -1
 * otherwise.  The connection is dropped on any failure.
 */
static int
shm_mm(struct vv_client *c, uint8_t *buf, size_t buf_size, size_t total, uint16_t *sts)
{
	uint32_t seq = c->seq + 1, rlen;
	uint64_t one = 1;
	int rc;

	memcpy(c->area + VV_VMM_SHM_BUF, buf, total);
	__atomic_store_n(area_word(c, VV_VMM_SHM_BUFFER_SIZE), (uint32_t)buf_size, __ATOMIC_RELAXED);
	__atomic_store_n(area_word(c, VV_VMM_SHM_REQ_LEN), (uint32_t)total, __ATOMIC_RELAXED);
	c->seq = seq;
	__atomic_store_n(area_word(c, VV_VMM_SHM_REQ_SEQ), seq, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(area_word(c, VV_VMM_SHM_DAEMON_SLEEP), __ATOMIC_SEQ_CST) != 0 &&
	    write(c->req_fd, &one, sizeof(one)) != sizeof(one) && errno != EAGAIN) {
		set_error(c, "doorbell of %s: %s", c->path, strerror(errno));
		disconnect(c);
		return -1;
	}
	rc = shm_wait(c, seq);
	if (rc != 0) {
		bool taken = __atomic_load_n(area_word(c, VV_VMM_SHM_TAKEN_SEQ), __ATOMIC_SEQ_CST) ==
			     seq;

		disconnect(c);
		return rc == -2 && !taken ? -2 : -1;
	}
	*sts = (uint16_t)__atomic_load_n(area_word(c, VV_VMM_SHM_STATUS), __ATOMIC_RELAXED);
	rlen = __atomic_load_n(area_word(c, VV_VMM_SHM_REP_LEN), __ATOMIC_RELAXED);
	if (*sts == VV_STS_SUCCESS || *sts == VV_STS_ERR_NOT_SUPPORTED) {
		if (rlen != total)
			goto protocol_error;
		memcpy(buf, c->area + VV_VMM_SHM_BUF, total);
	} else if (rlen != 0) {
		goto protocol_error;
	}
	return 0;
protocol_error:
	set_error(c, "vmvarsd sent a malformed shared reply (status 0x%x, %u bytes)", *sts, rlen);
	disconnect(c);
	return -1;
}

uint16_t
vv_client_mm(struct vv_client *c, uint8_t *buf, size_t buf_size)
{
	const uint8_t *p = payload_of(c);
	uint8_t size_le[4];
	uint64_t total;
	uint32_t rtype, rlen;
	uint16_t sts;

	/* The checks of vv_mm_handle(), before anything is sent. */
	if (buf_size > VV_MM_MAX_BUFFER)
		buf_size = VV_MM_MAX_BUFFER;
	if (buf_size < VV_MM_HEADER_SIZE ||
	    vv_add_overflow(VV_MM_HEADER_SIZE, vv_le64(buf + 16), &total) || total > buf_size)
		return VV_STS_ERR_BAD_BUFFER_SIZE;
	/* Shared memory when this connection has it; as with the socket, a
	 * request the daemon never took goes out once more on a new
	 * connection (vmvars/client.h "Reconnection"). */
	for (int attempt = 0; attempt < 2; attempt++) {
		int rc;

		if (c->fd < 0 && establish(c) != 0)
			continue;
		if (c->area == NULL)
			break;
		rc = shm_mm(c, buf, buf_size, (size_t)total, &sts);
		if (rc == 0)
			return sts;
		if (rc == -1)
			return VV_STS_ERR_UNKNOWN;
	}
	if (c->fd < 0 || c->area != NULL)
		return VV_STS_ERR_UNKNOWN;
	/* MM_REQUEST payload: buffer_size, then the communicate buffer;
	 * 4 + total <= VV_VMM_MAX_PAYLOAD since total <= 64 KiB. */
	vv_put_le32(size_le, (uint32_t)buf_size);
	if (exchange(c, VV_VMM_MSG_MM_REQUEST, size_le, sizeof(size_le), buf, (size_t)total,
		     &rtype, &rlen) != 0)
		return VV_STS_ERR_UNKNOWN;
	if (rtype != VV_VMM_MSG_MM_REPLY || rlen < 2)
		goto protocol_error;
	sts = vv_le16(p);
	if (sts == VV_STS_SUCCESS || sts == VV_STS_ERR_NOT_SUPPORTED) {
		if (rlen != 2 + total)
			goto protocol_error;
		memcpy(buf, p + 2, (size_t)total);
	} else if (rlen != 2) {
		goto protocol_error;
	}
	return sts;
protocol_error:
	set_error(c, "vmvarsd sent a malformed MM_REPLY (type %u, %u bytes)", rtype, rlen);
	disconnect(c);
	return VV_STS_ERR_UNKNOWN;
}

/*
 * VARSTORE_REQUEST (docs/protocol.md "XenVariable and ExtVarStore
 * buffers"): the buffer without its trailing zeros (the daemon pads it
 * back to 64 KiB with zeros, so nothing is lost), at least the 8 bytes of
 * version and command.
 */
int
vv_client_varstore(struct vv_client *c, enum vv_xenvar_dialect d, uint8_t *buf, size_t buf_size,
		   size_t *resp_len)
{
	const uint8_t *p = payload_of(c);
	uint8_t dialect_le[4];
	uint32_t rtype, rlen;
	size_t n;

	*resp_len = 0;
	if (!(c->features & VV_VMM_FEATURE_VARSTORE)) {
		set_error(c, "%s: vmvarsd did not grant VARSTORE (is it running with "
			  "--protocol xen or aws?)", c->path);
		return -1;
	}
	if (buf_size < 8) {
		set_error(c, "varstore buffer shorter than 8 bytes");
		return -1;
	}
	n = buf_size < VV_XENVAR_BUFFER_SIZE ? buf_size : VV_XENVAR_BUFFER_SIZE;
	while (n > 8 && buf[n - 1] == 0)
		n--;
	vv_put_le32(dialect_le, d == VV_XENVAR_XEN ? VV_VMM_VARSTORE_XEN : VV_VMM_VARSTORE_AWS);
	if (exchange(c, VV_VMM_MSG_VARSTORE_REQUEST, dialect_le, sizeof(dialect_le), buf, n,
		     &rtype, &rlen) != 0)
		return -1;
	if (rtype != VV_VMM_MSG_VARSTORE_REPLY || rlen > VV_XENVAR_BUFFER_SIZE ||
	    (rlen > 0 && rlen < 8) || rlen > buf_size) {
		set_error(c, "vmvarsd sent a malformed VARSTORE_REPLY (type %u, %u bytes)", rtype,
			  rlen);
		disconnect(c);
		return -1;
	}
	if (rlen > 0) {
		memset(buf, 0, buf_size);
		memcpy(buf, p, rlen);
	}
	*resp_len = rlen;
	return 0;
}

int
vv_client_vm_reset(struct vv_client *c)
{
	uint32_t rtype, rlen;

	if (exchange(c, VV_VMM_MSG_VM_RESET, NULL, 0, NULL, 0, &rtype, &rlen) != 0)
		return -1;
	if (rtype != VV_VMM_MSG_ACK || rlen != 4 || vv_le32(payload_of(c)) != VV_VMM_MSG_VM_RESET) {
		set_error(c, "vmvarsd sent a malformed ACK");
		disconnect(c);
		return -1;
	}
	return 0;
}

/* ---- migration (docs/migration.md) ---- */

/* Exactly len bytes (blocking, within the socket timeouts). */
static int
recv_exact(struct vv_client *c, uint8_t *p, size_t len)
{
	int64_t no_spin = 0;

	while (len > 0) {
		ssize_t n = recv_some(c, p, len, &no_spin);

		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Connected, and the daemon granted MIGRATION. */
static int
migration_ready(struct vv_client *c)
{
	if (c->fd < 0 && establish(c) != 0)
		return -1;
	if (!(c->features & VV_VMM_FEATURE_MIGRATION) || c->state_max < 4) {
		set_error(c, "vmvarsd did not grant the MIGRATION feature");
		return -1;
	}
	return 0;
}

/* After a migration request: the reply's header; an ERROR frame becomes
 * c->error (and -1), as in recv_frame. */
static int
recv_state_header(struct vv_client *c, uint32_t *type, uint32_t *len)
{
	uint8_t hdr[VV_VMM_FRAME_HEADER_SIZE];

	if (recv_exact(c, hdr, sizeof(hdr)) != 0)
		return -1;
	*type = vv_le32(hdr);
	*len = vv_le32(hdr + 4);
	if (*type == VV_VMM_MSG_ERROR && *len >= 4 && *len <= 4 + VV_VMM_ERROR_TEXT_MAX) {
		uint8_t *p = payload_of(c);

		if (recv_exact(c, p, *len) == 0)
			set_error(c, "vmvarsd refused (error %u): %.*s", vv_le32(p),
				  (int)(*len - 4), (const char *)p + 4);
		disconnect(c);
		return -1;
	}
	return 0;
}

/* One SAVE_STATE exchange; -1 with *refused when the daemon answered
 * ERROR (then a retry would get the same). */
static int
save_once(struct vv_client *c, uint32_t flags, uint8_t **out, size_t *size, bool *refused)
{
	uint32_t type, len;
	uint8_t *buf;

	*refused = false;
	if (migration_ready(c) != 0) {
		*refused = c->fd >= 0;          /* connected, but no MIGRATION */
		return -1;
	}
	vv_put_le32(payload_of(c), flags);
	if (send_frame(c, VV_VMM_MSG_SAVE_STATE, 4) != 0 || recv_state_header(c, &type, &len) != 0) {
		*refused = strncmp(c->error, "vmvarsd refused", 15) == 0;
		goto fail;
	}
	/* The snapshot is the daemon's, bounded by what it advertised. */
	if (type != VV_VMM_MSG_STATE || len > c->state_max - 4) {
		set_error(c, "vmvarsd sent a malformed STATE (type %u, %u bytes)", type, len);
		*refused = true;
		goto fail;
	}
	buf = malloc(len ? len : 1);
	if (buf == NULL) {
		set_error(c, "out of memory for a %u-byte state", len);
		*refused = true;
		goto fail;
	}
	if (recv_exact(c, buf, len) != 0) {
		free(buf);
		goto fail;
	}
	*out = buf;
	*size = len;
	return 0;
fail:
	disconnect(c);
	return -1;
}

/* A save changes nothing on the daemon, so a broken connection (a daemon
 * restarted while the VM was paused) is retried once on a new one; a
 * refusal is not. */
int
vv_client_save_state(struct vv_client *c, uint32_t flags, uint8_t **out, size_t *size)
{
	bool refused = false;

	*out = NULL;
	*size = 0;
	for (int attempt = 0; attempt < 2 && !refused; attempt++)
		if (save_once(c, flags, out, size, &refused) == 0)
			return 0;
	return -1;
}

int
vv_client_load_state(struct vv_client *c, uint32_t flags, const uint8_t *buf, size_t size)
{
	uint8_t hdr[VV_VMM_FRAME_HEADER_SIZE + 4];
	uint32_t type, len;
	uint8_t ack[4];

	if (migration_ready(c) != 0)
		return -1;
	if (size > c->state_max - 4) {
		set_error(c, "a %zu-byte state exceeds vmvarsd's max_state_payload %u", size,
			  c->state_max);
		return -1;
	}
	vv_put_le32(hdr, VV_VMM_MSG_LOAD_STATE);
	vv_put_le32(hdr + 4, (uint32_t)(4 + size));
	vv_put_le32(hdr + 8, flags);
	/* A daemon that refuses early (TOO_LARGE) closes while we send: its
	 * ERROR is still there to read, so read whatever the send did. */
	(void)(write_all(c, hdr, sizeof(hdr)) == 0 && write_all(c, buf, size) == 0);
	if (recv_state_header(c, &type, &len) != 0)
		goto fail;
	if (type != VV_VMM_MSG_ACK || len != 4 || recv_exact(c, ack, 4) != 0 ||
	    vv_le32(ack) != VV_VMM_MSG_LOAD_STATE) {
		set_error(c, "vmvarsd sent a malformed reply to LOAD_STATE (type %u)", type);
		goto fail;
	}
	return 0;
fail:
	disconnect(c);
	return -1;
}

uint64_t
vv_client_features(const struct vv_client *c)
{
	return c->features;
}

unsigned
vv_client_reconnects(const struct vv_client *c)
{
	return c->reconnects;
}

const char *
vv_client_last_error(const struct vv_client *c)
{
	return c->error;
}

void
vv_client_set_timeout(struct vv_client *c, int ms)
{
	c->timeout_ms = ms > 0 ? ms : 30000;
	if (c->fd >= 0)
		apply_timeout(c);
}

void
vv_client_set_poll_us(struct vv_client *c, unsigned us)
{
	vv_spin_window_init(&c->spin, us);
	c->shm_spin_us = us;
}

static uint16_t
handler_mm(void *opaque, uint8_t *buf, size_t buf_size)
{
	return vv_client_mm(opaque, buf, buf_size);
}

/* The device has no way to report a failed reset.  A daemon that did not
 * take it keeps refusing MM requests with NEEDS_RESET if it lost the VM's
 * state, so the failure shows at the next request, never as a silently
 * weakened service (docs/protocol.md "Daemon restart"). */
static void
handler_reset(void *opaque)
{
	(void)vv_client_vm_reset(opaque);
}

void
vv_client_mm_handler(struct vv_client *c, struct vv_mm_handler *h)
{
	h->handle = handler_mm;
	h->reset = handler_reset;
	h->opaque = c;
}

/* A request the daemon could not answer is EFI_DEVICE_ERROR to the guest,
 * as VV_STS_ERR_UNKNOWN is for the MM device. */
static size_t
handler_extvar(void *opaque, uint8_t *buf, size_t size)
{
	struct vv_client *c = opaque;
	size_t n;

	if (vv_client_varstore(c, c->extvar_dialect, buf, size, &n) == 0)
		return n;
	memset(buf, 0, size);
	vv_put_le64(buf, VV_EFI_DEVICE_ERROR);
	return 8;
}

void
vv_client_extvar_handler(struct vv_client *c, enum vv_xenvar_dialect d,
			 struct vv_extvar_handler *h)
{
	c->extvar_dialect = d;
	h->handle = handler_extvar;
	h->reset = handler_reset;
	h->opaque = c;
}
