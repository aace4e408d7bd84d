/*
 * src/daemon/vmm_shm.c -- the daemon's end of the shared-memory transport
 * (docs/protocol.md "Shared-memory transport"; layout in
 * vmm_protocol.h): taking the area and the doorbells an SHM_SETUP frame
 * brought, the control words, and the doorbells.  vmm_conn.c decides what
 * a request means; nothing here parses one.
 *
 * The area is the VMM's memory, and through it the guest's bytes: the VMM
 * may change any of it at any time.  So every control word is read once
 * into a local (vmm_shm_take), the request is copied out of the area once
 * before anything looks at it (vmm_conn.c, vm_mm_copy_in), and what the
 * daemon writes into the area comes from its private buffer.  A file that
 * could shrink under the mapping would turn a VMM's ftruncate into SIGBUS
 * here, so only a memfd sealed against shrinking (F_SEAL_SHRINK) at least
 * the area's size is mapped.
 *
 * System calls: fstat, fcntl (F_GET_SEALS, F_SETFL), mmap, munmap, read
 * and write of the eventfds -- all already in sandbox.c's allowlist, so
 * the transport adds none (the descriptors arrive through recvmsg, also
 * there).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vmvars/vmm_protocol.h>

#include "daemon.h"

static uint32_t *
word(const struct vmm_shm *s, unsigned off)
{
	return (uint32_t *)(void *)(s->area + off);
}

static void
close_fds(struct conn *c)
{
	for (unsigned i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	c->nfds = 0;
	c->fds_lost = false;
}

/* An anonymous-inode descriptor (eventfd, timerfd ...; no file type in
 * st_mode), which nothing but its owner's writes make readable: a plain
 * file, a pipe at EOF or a socket could be readable forever and keep the
 * loop from ever sleeping. */
static bool
anon_inode(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == 0;
}

static int
set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 ? -1 : 0;
}

int
vmm_shm_setup(struct conn *c, uint32_t area_size, uint32_t flags, const char **why)
{
	struct vmm_shm *s;
	struct stat st;
	void *p;
	int seals;

	if (c->shm != NULL) {
		*why = "SHM_SETUP sent twice";
		goto fail;
	}
	if (c->fds_lost || c->nfds != VV_VMM_SHM_FDS) {
		*why = "SHM_SETUP did not come with exactly three descriptors";
		goto fail;
	}
	if (area_size != VV_VMM_SHM_AREA_SIZE || flags != 0) {
		*why = "SHM_SETUP area_size or flags not the protocol's";
		goto fail;
	}
	if (fstat(c->fds[0], &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)area_size) {
		*why = "SHM_SETUP area is not a file of at least area_size bytes";
		goto fail;
	}
	/* F_GET_SEALS fails (EINVAL) on anything but a memfd/shmem file. */
	seals = fcntl(c->fds[0], F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
		*why = "SHM_SETUP area is not a memfd sealed against shrinking";
		goto fail;
	}
	if (!anon_inode(c->fds[1]) || !anon_inode(c->fds[2])) {
		*why = "SHM_SETUP doorbells are not eventfds";
		goto fail;
	}
	/* The daemon never blocks on a doorbell, whatever the VMM passed. */
	if (set_nonblocking(c->fds[1]) != 0 || set_nonblocking(c->fds[2]) != 0) {
		*why = "SHM_SETUP doorbells cannot be made non-blocking";
		goto fail;
	}
	p = mmap(NULL, area_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fds[0], 0);
	if (p == MAP_FAILED) {
		*why = "SHM_SETUP area cannot be mapped shared and writable";
		goto fail;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		munmap(p, area_size);
		*why = "SHM_SETUP: out of memory";
		goto fail;
	}
	close(c->fds[0]);
	s->area = p;
	s->req_fd = c->fds[1];
	s->rep_fd = c->fds[2];
	s->served = __atomic_load_n(word(s, VV_VMM_SHM_REQ_SEQ), __ATOMIC_ACQUIRE);
	c->nfds = 0;
	c->shm = s;
	return 0;
fail:
	close_fds(c);
	return -1;
}

void
vmm_shm_free(struct vmm_shm *s)
{
	if (s == NULL)
		return;
	if (s->area != NULL)
		munmap(s->area, VV_VMM_SHM_AREA_SIZE);
	if (s->req_fd >= 0)
		close(s->req_fd);
	if (s->rep_fd >= 0)
		close(s->rep_fd);
	free(s);
}

bool
vmm_shm_pending(const struct vmm_shm *s)
{
	return __atomic_load_n(word(s, VV_VMM_SHM_REQ_SEQ), __ATOMIC_ACQUIRE) != s->served;
}

/*
 * The two ends avoid lost wake-ups as Dekker's algorithm does: the VMM
 * stores req_seq, then loads daemon_sleep (rings if 1); the daemon stores
 * daemon_sleep = 1, then loads req_seq (does not block if it moved).  With
 * sequentially consistent accesses on both sides at least one of them
 * sees the other's store.  The reply direction is the same with rep_seq
 * and vmm_sleep.  A VMM that breaks the rule only delays its own replies.
 */
bool
vmm_shm_may_sleep(struct vmm_shm *s)
{
	__atomic_store_n(word(s, VV_VMM_SHM_DAEMON_SLEEP), 1, __ATOMIC_SEQ_CST);
	return __atomic_load_n(word(s, VV_VMM_SHM_REQ_SEQ), __ATOMIC_SEQ_CST) == s->served;
}

void
vmm_shm_awake(struct vmm_shm *s)
{
	__atomic_store_n(word(s, VV_VMM_SHM_DAEMON_SLEEP), 0, __ATOMIC_SEQ_CST);
}

int
vmm_shm_drain(struct vmm_shm *s)
{
	uint64_t v;
	ssize_t n = read(s->req_fd, &v, sizeof(v));

	/* An eventfd holds a count: one 8-byte read empties it.  A
	 * descriptor poll() called readable that cannot be read so (an
	 * epoll, pidfd or inotify descriptor passed as a doorbell) would
	 * stay readable: refused. */
	if (n == (ssize_t)sizeof(v) || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		return 0;
	return -1;
}

bool
vmm_shm_take(struct vmm_shm *s, uint32_t *seq, uint32_t *buffer_size, uint32_t *len)
{
	*seq = __atomic_load_n(word(s, VV_VMM_SHM_REQ_SEQ), __ATOMIC_ACQUIRE);
	if (*seq == s->served)
		return false;
	/* From here the VMM must not send this request again elsewhere.  The
	 * fence orders this store before every later one -- the journal's,
	 * the reply's -- so nothing the request does can be seen without it;
	 * unlike a sequentially consistent store it does not wait here for
	 * the VMM's cache to give up the line (x86: no instruction at all). */
	__atomic_store_n(word(s, VV_VMM_SHM_TAKEN_SEQ), *seq, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	/* Each word once: the VMM may change them right after. */
	*buffer_size = __atomic_load_n(word(s, VV_VMM_SHM_BUFFER_SIZE), __ATOMIC_RELAXED);
	*len = __atomic_load_n(word(s, VV_VMM_SHM_REQ_LEN), __ATOMIC_RELAXED);
	return true;
}

const uint8_t *
vmm_shm_buf(const struct vmm_shm *s)
{
	return s->area + VV_VMM_SHM_BUF;
}

void
vmm_shm_reply(struct vmm_shm *s, uint32_t seq, uint16_t sts, const uint8_t *reply, size_t len)
{
	uint64_t one = 1;

	/* len <= VV_MM_MAX_BUFFER: the reply of a request that fitted. */
	memcpy(s->area + VV_VMM_SHM_BUF, reply, len);
	__atomic_store_n(word(s, VV_VMM_SHM_STATUS), (uint32_t)sts, __ATOMIC_RELAXED);
	__atomic_store_n(word(s, VV_VMM_SHM_REP_LEN), (uint32_t)len, __ATOMIC_RELAXED);
	s->served = seq;
	__atomic_store_n(word(s, VV_VMM_SHM_REP_SEQ), seq, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(word(s, VV_VMM_SHM_VMM_SLEEP), __ATOMIC_SEQ_CST) != 0)
		(void)write(s->rep_fd, &one, sizeof(one));
}
