/*
 * tests/test_shm.c -- vmvarsd's shared-memory transport (issue #20 step 3,
 * docs/protocol.md "Shared-memory transport") with real daemons: the C
 * client negotiates it and falls back to the socket when it is not
 * offered; SHM_SETUP refuses what it must (no descriptors, an unsealed or
 * short memfd, a plain file, a pipe as a doorbell, descriptors on another
 * frame, SHM not granted) and a doorbell that stays readable is refused; a hostile VMM's area (lengths past the buffer or the area,
 * MessageLength disagreeing, the buffer changed during requests) gets an
 * ERROR or a consistent result and changes nothing it should not; a reply
 * carries no byte of an earlier request and nothing is written past it;
 * daemon restarts (SIGKILL,
 * SIGTERM), a new client, VM_RESET and a migration work over it.  The
 * words both ends wait on are the VMM's to scribble on too: the daemon's
 * spin for the next request still ends (it sleeps) and it keeps serving;
 * a VMM flooding it with requests leaves management and SIGTERM served;
 * a daemon with one usable CPU never spins; the spin gate's rules
 * (core/spin_gate.h) on their own.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include <vmvars/client.h>
#include <vmvars/snapshot.h>
#include <vmvars/vmvars.h>

#include "core/spin_gate.h"
#include "daemon_util.h"
#include "harness.h"

#define ATTR_BS_RT (VV_ATTR_BS | VV_ATTR_RT)
#define TEST_GUID "12345678-1234-1234-1234-123456789abc"

/* ---- MM buffers (SMM_VARIABLE_COMMUNICATE_ACCESS_VARIABLE) ---- */

/* A GetVariable (data_size room) or SetVariable (data) of an ASCII name;
 * returns 24 + MessageLength. */
static size_t
mm_var(uint8_t *buf, uint64_t fn, const char *name, uint32_t attr, const void *data,
       uint64_t data_size)
{
	size_t ns = 2 * (strlen(name) + 1), len = 24 + 16 + 36 + ns + data_size;

	memset(buf, 0, len);
	memcpy(buf, VV_GUID_SMM_VARIABLE.b, 16);
	vv_put_le64(buf + 16, len - 24);
	vv_put_le64(buf + 24, fn);
	vv_guid_parse(TEST_GUID, (vv_guid *)(buf + 40));
	vv_put_le64(buf + 56, data_size);
	vv_put_le64(buf + 64, ns);
	vv_put_le32(buf + 72, attr);
	for (size_t i = 0; name[i] != '\0'; i++)
		vv_put_le16(buf + 76 + 2 * i, (uint8_t)name[i]);
	if (data != NULL)
		memcpy(buf + 76 + ns, data, data_size);
	return len;
}

/* Through a client: SetVariable's / GetVariable's EFI status. */
static vv_status
client_set(struct vv_client *c, const char *name, const void *data, size_t n)
{
	static uint8_t buf[VV_MM_MAX_BUFFER];

	mm_var(buf, VV_MM_SET_VARIABLE, name, ATTR_BS_RT, data, n);
	if (vv_client_mm(c, buf, sizeof(buf)) != VV_STS_SUCCESS)
		return VV_EFI_DEVICE_ERROR;
	return vv_le64(buf + 32);
}

static vv_status
client_get(struct vv_client *c, const char *name, uint8_t *out, uint64_t *size)
{
	static uint8_t buf[VV_MM_MAX_BUFFER];
	size_t ns = 2 * (strlen(name) + 1);

	mm_var(buf, VV_MM_GET_VARIABLE, name, 0, NULL, 256);
	if (vv_client_mm(c, buf, sizeof(buf)) != VV_STS_SUCCESS)
		return VV_EFI_DEVICE_ERROR;
	*size = vv_le64(buf + 56);
	if (vv_le64(buf + 32) == VV_EFI_SUCCESS && *size <= 256)
		memcpy(out, buf + 76 + ns, (size_t)*size);
	return vv_le64(buf + 32);
}

/* A daemon (extra arguments) and a client that has reset the VM. */
static struct vv_client *
vm_up(struct daemon *d, const char *const *extra)
{
	struct vv_error err;
	struct vv_client *c;

	if (!daemon_setup(d, "vv-shm", extra))
		return NULL;
	c = vv_client_connect(d->vmm, &err);
	if (c == NULL) {
		printf("# connect: %s\n", err.msg);
		return NULL;
	}
	if (vv_client_vm_reset(c) != 0) {
		vv_client_free(c);
		return NULL;
	}
	return c;
}

/* ---- a raw VMM: frames by hand, its own area ---- */

struct raw {
	int fd;
	uint8_t *area;
	int area_fd, req, rep;
};

static bool
read_exact(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);

		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

/* One frame; payload (at most cap bytes kept).  false on EOF/timeout. */
static bool
read_frame(int fd, uint32_t *type, uint8_t *payload, size_t cap, uint32_t *len)
{
	uint8_t hdr[8], junk[256];

	if (!read_exact(fd, hdr, 8))
		return false;
	*type = vv_le32(hdr);
	*len = vv_le32(hdr + 4);
	for (uint32_t got = 0; got < *len;) {
		size_t k = *len - got;
		uint8_t *dst = got < cap ? payload + got : junk;

		if (got < cap && k > cap - got)
			k = cap - got;
		if (got >= cap && k > sizeof(junk))
			k = sizeof(junk);
		if (!read_exact(fd, dst, k))
			return false;
		got += (uint32_t)k;
	}
	return true;
}

static bool
send_frame_fds(int fd, uint32_t type, const uint8_t *payload, uint32_t len, const int *fds,
	       unsigned nfds)
{
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(int) * 4)];
	} ctl;
	uint8_t frame[64];
	struct iovec iov = { frame, 8 + len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	vv_put_le32(frame, type);
	vv_put_le32(frame + 4, len);
	if (len > 0)
		memcpy(frame + 8, payload, len);
	if (nfds > 0) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	return sendmsg(fd, &msg, MSG_NOSIGNAL) == (ssize_t)(8 + len);
}

/* Connects and says HELLO with features; the HELLO_REPLY's features. */
static bool
raw_hello(struct raw *r, const struct daemon *d, uint64_t features, uint64_t *granted)
{
	struct timeval tv = { 10, 0 };
	uint8_t hello[24] = { 0 }, p[64];
	uint32_t type, len;

	memset(r, 0, sizeof(*r));
	r->area_fd = r->req = r->rep = -1;
	r->fd = connect_unix(d->vmm);
	if (r->fd < 0)
		return false;
	setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	vv_put_le32(hello, VV_VMM_MAGIC);
	vv_put_le32(hello + 4, VV_VMM_VERSION);
	vv_put_le64(hello + 8, features);
	vv_put_le32(hello + 16, VV_VMM_MAX_PAYLOAD);
	if (!send_frame_fds(r->fd, VV_VMM_MSG_HELLO, hello, 24, NULL, 0) ||
	    !read_frame(r->fd, &type, p, sizeof(p), &len) || type != VV_VMM_MSG_HELLO_REPLY ||
	    len != 24)
		return false;
	*granted = vv_le64(p + 8);
	return true;
}

/* A memfd of size bytes with seals (0: none; -1 no sealing allowed). */
static int
make_area(size_t size, int seals)
{
	int fd = memfd_create("test-shm", MFD_CLOEXEC | (seals >= 0 ? MFD_ALLOW_SEALING : 0));

	if (fd < 0 || ftruncate(fd, (off_t)size) != 0 ||
	    (seals > 0 && fcntl(fd, F_ADD_SEALS, seals) != 0))
		return -1;
	return fd;
}

/* SHM_SETUP with the given descriptors; the reply frame's type and first
 * payload word (the ACK's type or the ERROR's code); false on EOF. */
static bool
raw_setup(struct raw *r, const int *fds, unsigned nfds, uint32_t *type, uint32_t *word)
{
	uint8_t p[8], reply[256];
	uint32_t len;

	vv_put_le32(p, VV_VMM_SHM_AREA_SIZE);
	vv_put_le32(p + 4, 0);
	if (!send_frame_fds(r->fd, VV_VMM_MSG_SHM_SETUP, p, 8, fds, nfds) ||
	    !read_frame(r->fd, type, reply, sizeof(reply), &len) || len < 4)
		return false;
	*word = vv_le32(reply);
	return true;
}

/* A raw VMM with a working area. */
static bool
raw_up(struct raw *r, const struct daemon *d)
{
	uint64_t granted;
	uint32_t type, word;
	int fds[3];

	if (!raw_hello(r, d, VV_VMM_FEATURE_SHM, &granted) || !(granted & VV_VMM_FEATURE_SHM))
		return false;
	r->area_fd = make_area(VV_VMM_SHM_AREA_SIZE, F_SEAL_SHRINK | F_SEAL_GROW);
	r->req = eventfd(0, EFD_CLOEXEC);
	r->rep = eventfd(0, EFD_CLOEXEC);
	fds[0] = r->area_fd;
	fds[1] = r->req;
	fds[2] = r->rep;
	r->area = mmap(NULL, VV_VMM_SHM_AREA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		       r->area_fd, 0);
	return r->area != MAP_FAILED && raw_setup(r, fds, 3, &type, &word) &&
	       type == VV_VMM_MSG_ACK && word == VV_VMM_MSG_SHM_SETUP;
}

static void
raw_down(struct raw *r)
{
	if (r->area != NULL && r->area != MAP_FAILED)
		munmap(r->area, VV_VMM_SHM_AREA_SIZE);
	if (r->fd >= 0)
		close(r->fd);
	if (r->area_fd >= 0)
		close(r->area_fd);
	if (r->req >= 0)
		close(r->req);
	if (r->rep >= 0)
		close(r->rep);
	memset(r, 0, sizeof(*r));
}

static uint32_t *
w(const struct raw *r, unsigned off)
{
	return (uint32_t *)(void *)(r->area + off);
}

/* Publishes request seq with the two words (the request bytes are in the
 * area already) and rings. */
static void
raw_publish(struct raw *r, uint32_t seq, uint32_t buffer_size, uint32_t len)
{
	uint64_t one = 1;

	__atomic_store_n(w(r, VV_VMM_SHM_BUFFER_SIZE), buffer_size, __ATOMIC_RELAXED);
	__atomic_store_n(w(r, VV_VMM_SHM_REQ_LEN), len, __ATOMIC_RELAXED);
	__atomic_store_n(w(r, VV_VMM_SHM_REQ_SEQ), seq, __ATOMIC_SEQ_CST);
	if (write(r->req, &one, sizeof(one)) != sizeof(one))
		printf("# doorbell write failed\n");
}

/* Waits (5 s at most) for the reply to seq; false if none came. */
static bool
raw_wait(struct raw *r, uint32_t seq)
{
	for (int i = 0; i < 50000; i++) {
		if (__atomic_load_n(w(r, VV_VMM_SHM_REP_SEQ), __ATOMIC_ACQUIRE) == seq)
			return true;
		usleep(100);
	}
	return false;
}

/* After a hostile request: an ERROR frame with code, then EOF. */
static void
check_error_then_eof(struct raw *r, uint32_t code)
{
	uint8_t p[256];
	uint32_t type = 0, len = 0;

	CHECK(read_frame(r->fd, &type, p, sizeof(p), &len));
	CHECK_EQ(type, VV_VMM_MSG_ERROR);
	CHECK(len >= 4 && vv_le32(p) == code);
	CHECK(!read_frame(r->fd, &type, p, sizeof(p), &len));
}

/* ---- the tests ---- */

/* The client asks for SHM, the daemon grants it, requests go through the
 * area (the daemon says so) with the same results. */
static void
test_negotiated(void)
{
	struct daemon d;
	struct vv_client *c = vm_up(&d, NULL);
	uint8_t out[256];
	uint64_t size = 0;

	REQUIRE(c != NULL);
	CHECK(vv_client_features(c) & VV_VMM_FEATURE_SHM);
	CHECK_STATUS(client_set(c, "Shm", "abcd", 4), VV_EFI_SUCCESS);
	CHECK_STATUS(client_get(c, "Shm", out, &size), VV_EFI_SUCCESS);
	CHECK_EQ(size, 4);
	CHECK_MEM(out, "abcd", 4);
	CHECK_STATUS(client_get(c, "Absent", out, &size), VV_EFI_NOT_FOUND);
	CHECK(log_has(&d, "MM requests through shared memory", false));
	vv_client_free(c);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* --no-shm: not offered; the client stays on the socket. */
static void
test_fallback_not_offered(void)
{
	static const char *const extra[] = { "--no-shm", NULL };
	struct daemon d;
	struct vv_client *c = vm_up(&d, extra);
	uint8_t out[256];
	uint64_t size = 0;
	struct raw r;
	uint64_t granted = ~0ull;
	uint32_t type = 0, word = 0;

	REQUIRE(c != NULL);
	CHECK(!(vv_client_features(c) & VV_VMM_FEATURE_SHM));
	CHECK_STATUS(client_set(c, "Sock", "wxyz", 4), VV_EFI_SUCCESS);
	CHECK_STATUS(client_get(c, "Sock", out, &size), VV_EFI_SUCCESS);
	CHECK_MEM(out, "wxyz", 4);
	vv_client_free(c);
	/* a VMM that sends SHM_SETUP anyway: unknown type for it */
	REQUIRE(raw_hello(&r, &d, VV_VMM_FEATURE_SHM, &granted));
	CHECK(!(granted & VV_VMM_FEATURE_SHM));
	CHECK(raw_setup(&r, NULL, 0, &type, &word));
	CHECK_EQ(type, VV_VMM_MSG_ERROR);
	CHECK_EQ(word, VV_VMM_ERR_UNKNOWN_TYPE);
	raw_down(&r);
	CHECK(alive(&d));
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* SHM_SETUP refused: each ends the connection with ERROR MALFORMED, and
 * the daemon serves the next VMM. */
static void
test_setup_refused(void)
{
	struct daemon d;
	struct vv_client *c = vm_up(&d, NULL);
	char path[128];
	int file;

	REQUIRE(c != NULL);
	vv_client_free(c);
	snprintf(path, sizeof(path), "%s.file", d.dir);
	file = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	REQUIRE(file >= 0 && ftruncate(file, VV_VMM_SHM_AREA_SIZE) == 0);
	for (int k = 0; k < 7; k++) {
		struct raw r;
		uint64_t granted;
		uint32_t type = 0, word = 0;
		int ev = eventfd(0, EFD_CLOEXEC), area = -1, fds[3];
		unsigned n = 3;

		REQUIRE(raw_hello(&r, &d, VV_VMM_FEATURE_SHM, &granted));
		switch (k) {
		case 0: n = 0; break;                                       /* no fds */
		case 1: area = make_area(VV_VMM_SHM_AREA_SIZE, 0); break;   /* unsealed */
		case 2: area = make_area(4096, F_SEAL_SHRINK); break;       /* short */
		case 3: area = dup(file); break;                            /* a plain file */
		case 4: area = make_area(VV_VMM_SHM_AREA_SIZE, F_SEAL_SHRINK); n = 2; break;
		case 5: area = make_area(VV_VMM_SHM_AREA_SIZE, F_SEAL_SHRINK); break;
		case 6: area = make_area(VV_VMM_SHM_AREA_SIZE, F_SEAL_SHRINK); break;
		}
		fds[0] = area;
		fds[1] = ev;
		fds[2] = ev;
		if (k == 6) {
			/* a pipe as the request doorbell */
			int pp[2];

			REQUIRE(pipe(pp) == 0);
			fds[1] = pp[0];
			CHECK(raw_setup(&r, fds, 3, &type, &word));
			CHECK_EQ(type, VV_VMM_MSG_ERROR);
			CHECK_EQ(word, VV_VMM_ERR_MALFORMED);
			close(pp[0]);
			close(pp[1]);
		} else if (k == 5) {
			/* the descriptors come with a VM_RESET instead */
			CHECK(send_frame_fds(r.fd, VV_VMM_MSG_VM_RESET, NULL, 0, fds, 3));
			check_error_then_eof(&r, VV_VMM_ERR_MALFORMED);
		} else {
			CHECK(raw_setup(&r, fds, n, &type, &word));
			CHECK_EQ(type, VV_VMM_MSG_ERROR);
			CHECK_EQ(word, VV_VMM_ERR_MALFORMED);
		}
		if (area >= 0)
			close(area);
		close(ev);
		raw_down(&r);
	}
	close(file);
	unlink(path);
	/* twice on one connection */
	{
		struct raw r;
		uint32_t type = 0, word = 0;
		int fds[3];

		REQUIRE(raw_up(&r, &d));
		fds[0] = r.area_fd;
		fds[1] = r.req;
		fds[2] = r.rep;
		CHECK(raw_setup(&r, fds, 3, &type, &word));
		CHECK_EQ(type, VV_VMM_MSG_ERROR);
		CHECK_EQ(word, VV_VMM_ERR_MALFORMED);
		raw_down(&r);
	}
	CHECK(log_has(&d, "SHM_SETUP did not come with exactly three descriptors", false));
	CHECK(log_has(&d, "SHM_SETUP area is not a memfd sealed against shrinking", false));
	CHECK(log_has(&d, "SHM_SETUP area is not a file of at least area_size bytes", false));
	CHECK(log_has(&d, "descriptors sent with a frame other than SHM_SETUP", false));
	CHECK(log_has(&d, "SHM_SETUP sent twice", false));
	CHECK(log_has(&d, "SHM_SETUP doorbells are not eventfds", false));
	/* an anonymous-inode doorbell that stays readable and cannot be
	 * read as an eventfd (an epoll descriptor watching a rung eventfd):
	 * accepted at setup, refused as soon as it wakes the daemon */
	{
		struct raw r;
		uint64_t granted, one = 1;
		uint32_t type = 0, word = 0;
		int ep = epoll_create1(EPOLL_CLOEXEC), ev = eventfd(0, EFD_CLOEXEC), fds[3];
		struct epoll_event e = { .events = EPOLLIN };

		REQUIRE(ep >= 0 && ev >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e) == 0);
		REQUIRE(write(ev, &one, sizeof(one)) == sizeof(one));
		REQUIRE(raw_hello(&r, &d, VV_VMM_FEATURE_SHM, &granted));
		fds[0] = make_area(VV_VMM_SHM_AREA_SIZE, F_SEAL_SHRINK);
		fds[1] = ep;
		fds[2] = ev;
		CHECK(raw_setup(&r, fds, 3, &type, &word));
		CHECK_EQ(type, VV_VMM_MSG_ACK);
		check_error_then_eof(&r, VV_VMM_ERR_MALFORMED);
		CHECK(log_has(&d, "the request doorbell is not an eventfd", false));
		close(fds[0]);
		close(ep);
		close(ev);
		raw_down(&r);
	}
	c = vv_client_connect(d.vmm, &(struct vv_error){ { 0 } });
	CHECK(c != NULL);
	if (c != NULL) {
		uint8_t out[8];
		uint64_t size;

		CHECK_STATUS(client_get(c, "Absent", out, &size), VV_EFI_NOT_FOUND);
		vv_client_free(c);
	}
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* Lengths a hostile VMM puts in the area: each an ERROR MALFORMED, the
 * store unchanged (the request was a SetVariable). */
static void
test_hostile_lengths(void)
{
	static const uint32_t bad[][2] = {
		{ VV_MM_MAX_BUFFER + 1, 100 },           /* buffer_size past 64 KiB */
		{ 23, 23 },                              /* below the header */
		{ 4096, 4097 },                          /* request longer than its buffer */
		{ VV_MM_MAX_BUFFER, 0xffffffffu },       /* past the area */
		{ VV_MM_MAX_BUFFER, 0 },                 /* MessageLength disagrees (below) */
	};
	struct daemon d;
	struct vv_client *c = vm_up(&d, NULL);

	REQUIRE(c != NULL);
	vv_client_free(c);
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		struct raw r;
		size_t len;

		REQUIRE(raw_up(&r, &d));
		len = mm_var(r.area + VV_VMM_SHM_BUF, VV_MM_SET_VARIABLE, "Hostile", ATTR_BS_RT,
			     "evil", 4);
		/* the last case: a consistent frame but MessageLength one more */
		if (bad[k][1] == 0)
			vv_put_le64(r.area + VV_VMM_SHM_BUF + 16, len - 24 + 1);
		raw_publish(&r, 1, bad[k][0], bad[k][1] ? bad[k][1] : (uint32_t)len);
		check_error_then_eof(&r, VV_VMM_ERR_MALFORMED);
		CHECK(__atomic_load_n(w(&r, VV_VMM_SHM_REP_SEQ), __ATOMIC_ACQUIRE) == 0);
		raw_down(&r);
	}
	CHECK(alive(&d));
	c = vv_client_connect(d.vmm, &(struct vv_error){ { 0 } });
	REQUIRE(c != NULL);
	{
		uint8_t out[8];
		uint64_t size;

		CHECK_STATUS(client_get(c, "Hostile", out, &size), VV_EFI_NOT_FOUND);
	}
	vv_client_free(c);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* A reply carries this request's bytes only: after a SetVariable of 200
 * bytes of 0x5a (now in the daemon's private buffer), a GetVariable of a
 * 4-byte variable with a zeroed 256-byte data region comes back with
 * zeros past the value, not the earlier request's bytes; and the daemon
 * writes nothing in the area past the reply (0xaa stays). */
static void
test_reply_has_no_stale_bytes(void)
{
	struct daemon d;
	struct vv_client *c = vm_up(&d, NULL);
	struct raw r;
	uint8_t *b, big[200];
	size_t len, ns = 2 * (strlen("Zero") + 1);
	bool clean = true, untouched = true;

	REQUIRE(c != NULL);
	REQUIRE(client_set(c, "Zero", "1234", 4) == VV_EFI_SUCCESS);
	vv_client_free(c);
	REQUIRE(raw_up(&r, &d));
	b = r.area + VV_VMM_SHM_BUF;
	memset(big, 0x5a, sizeof(big));
	len = mm_var(b, VV_MM_SET_VARIABLE, "Big", ATTR_BS_RT, big, sizeof(big));
	raw_publish(&r, 6, VV_MM_MAX_BUFFER, (uint32_t)len);
	REQUIRE(raw_wait(&r, 6));
	CHECK_EQ(vv_le64(b + 32), VV_EFI_SUCCESS);
	memset(b, 0xaa, VV_MM_MAX_BUFFER);
	len = mm_var(b, VV_MM_GET_VARIABLE, "Zero", 0, NULL, 256);
	raw_publish(&r, 7, VV_MM_MAX_BUFFER, (uint32_t)len);
	REQUIRE(raw_wait(&r, 7));
	CHECK_EQ(__atomic_load_n(w(&r, VV_VMM_SHM_STATUS), __ATOMIC_ACQUIRE), VV_STS_SUCCESS);
	CHECK_EQ(__atomic_load_n(w(&r, VV_VMM_SHM_REP_LEN), __ATOMIC_ACQUIRE), len);
	CHECK_EQ(__atomic_load_n(w(&r, VV_VMM_SHM_TAKEN_SEQ), __ATOMIC_ACQUIRE), 7);
	CHECK_EQ(vv_le64(b + 32), VV_EFI_SUCCESS);
	CHECK_EQ(vv_le64(b + 56), 4);
	CHECK_MEM(b + 76 + ns, "1234", 4);
	for (size_t i = 76 + ns + 4; i < len; i++)
		clean = clean && b[i] == 0;
	CHECK(clean);
	for (size_t i = len; i < VV_MM_MAX_BUFFER; i++)
		untouched = untouched && b[i] == 0xaa;
	CHECK(untouched);
	raw_down(&r);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* The VMM changes the request while the daemon works on it: the value
 * and DataSize flip under every request.  The daemon copies once, so
 * every request is one version or the other: no crash, every reply a
 * transport success, and the variable ends as exactly one of the two
 * values. */
struct flipper {
	struct raw *r;
	size_t data_off, size_off;
	volatile bool stop;
};

static void *
flip_main(void *arg)
{
	struct flipper *f = arg;
	uint32_t *data = (uint32_t *)(void *)(f->r->area + VV_VMM_SHM_BUF + f->data_off);
	uint64_t *size = (uint64_t *)(void *)(f->r->area + VV_VMM_SHM_BUF + f->size_off);

	for (unsigned i = 0; !f->stop; i++) {
		__atomic_store_n(data, i & 1 ? 0x41414141u : 0x42424242u, __ATOMIC_RELAXED);
		__atomic_store_n(size, i & 2 ? 4 : 0x7fffffffffff0000ull, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void
test_buffer_changes_during_request(void)
{
	struct daemon d;
	struct vv_client *c = vm_up(&d, NULL);
	struct flipper f = { 0 };
	struct raw r;
	pthread_t th;
	size_t len, ns = 2 * (strlen("Flip") + 1);
	unsigned ok = 0, bad_transport = 0;
	uint8_t out[256];
	uint64_t size = 0;

	REQUIRE(c != NULL);
	vv_client_free(c);
	REQUIRE(raw_up(&r, &d));
	len = mm_var(r.area + VV_VMM_SHM_BUF, VV_MM_SET_VARIABLE, "Flip", ATTR_BS_RT, "AAAA", 4);
	f.r = &r;
	f.data_off = 76 + ns;
	f.size_off = 56;
	REQUIRE(pthread_create(&th, NULL, flip_main, &f) == 0);
	for (uint32_t seq = 1; seq <= 2000; seq++) {
		/* the header and name again: the reply overwrote them */
		uint8_t hdr[76 + 10];

		mm_var(hdr, VV_MM_SET_VARIABLE, "Flip", ATTR_BS_RT, NULL, 0);
		vv_put_le64(hdr + 16, len - 24);
		memcpy(r.area + VV_VMM_SHM_BUF, hdr, 56);
		memcpy(r.area + VV_VMM_SHM_BUF + 64, hdr + 64, 76 + ns - 64);
		raw_publish(&r, seq, VV_MM_MAX_BUFFER, (uint32_t)len);
		if (!raw_wait(&r, seq))
			break;
		if (__atomic_load_n(w(&r, VV_VMM_SHM_STATUS), __ATOMIC_ACQUIRE) == VV_STS_SUCCESS)
			ok++;
		else
			bad_transport++;
	}
	f.stop = true;
	pthread_join(th, NULL);
	CHECK_EQ(ok, 2000);
	CHECK_EQ(bad_transport, 0);
	raw_down(&r);
	CHECK(alive(&d));
	c = vv_client_connect(d.vmm, &(struct vv_error){ { 0 } });
	REQUIRE(c != NULL);
	CHECK_STATUS(client_get(c, "Flip", out, &size), VV_EFI_SUCCESS);
	CHECK_EQ(size, 4);
	CHECK(memcmp(out, "AAAA", 4) == 0 || memcmp(out, "BBBB", 4) == 0);
	vv_client_free(c);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* ---- the waiting words are the VMM's to scribble on too ---- */

/* The daemon's state letter in /proc/PID/stat ('S' sleeping, 'R'
 * running), '?' if unreadable. */
static char
proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' ? p[2] : '?';
}

/* Whether the daemon is seen asleep within 10 s (sampled every ms).  A
 * daemon spinning without end is never in state S. */
static bool
sleeps_within_10s(pid_t pid)
{
	for (int i = 0; i < 10000; i++) {
		if (proc_state(pid) == 'S')
			return true;
		msleep(1);
	}
	return false;
}

/* A thread that writes the words the ends wait on (daemon_sleep,
 * vmm_sleep, taken_seq) as fast as it can, with values that change all
 * the time. */
struct scribbler {
	struct raw *r;
	volatile bool stop;
	unsigned long rounds;
};

static void *
scribble_main(void *arg)
{
	struct scribbler *s = arg;

	for (uint32_t i = 0; !s->stop; i++) {
		__atomic_store_n(w(s->r, VV_VMM_SHM_DAEMON_SLEEP), i & 1, __ATOMIC_SEQ_CST);
		__atomic_store_n(w(s->r, VV_VMM_SHM_VMM_SLEEP), i & 2 ? 0xffffffffu : 0,
				 __ATOMIC_SEQ_CST);
		__atomic_store_n(w(s->r, VV_VMM_SHM_TAKEN_SEQ), i * 2654435761u, __ATOMIC_RELAXED);
		s->rounds++;
	}
	return NULL;
}

/* A GetVariable of a variable that does not exist, published as seq:
 * true when answered with transport success and EFI_NOT_FOUND. */
static bool
raw_get_missing(struct raw *r, uint32_t seq)
{
	size_t len = mm_var(r->area + VV_VMM_SHM_BUF, VV_MM_GET_VARIABLE, "Missing", ATTR_BS_RT,
			    NULL, 8);

	raw_publish(r, seq, VV_MM_MAX_BUFFER, (uint32_t)len);
	return raw_wait(r, seq) &&
	       __atomic_load_n(w(r, VV_VMM_SHM_STATUS), __ATOMIC_ACQUIRE) == VV_STS_SUCCESS &&
	       vv_le64(r->area + VV_VMM_SHM_BUF + 32) == VV_EFI_NOT_FOUND;
}

/*
 * The daemon spins for the next request after a reply (docs/protocol.md
 * "Waiting"), and the VMM may write any word at any time.  With a thread
 * scribbling on daemon_sleep, vmm_sleep and taken_seq all along, with the
 * longest window --poll-us allows: every request is answered right, and
 * once requests stop the daemon goes to sleep (a spin that the words
 * could keep going would never show state S), then serves again.
 */
static void
test_scribbled_wait_words(void)
{
	static const char *const longest[] = { "--poll-us", "10000", NULL };
	struct daemon d;
	struct vv_client *c = vm_up(&d, longest);
	struct scribbler sc = { 0 };
	struct raw r;
	pthread_t th;
	unsigned ok = 0;
	uint32_t seq = 1;

	REQUIRE(c != NULL);
	vv_client_free(c);
	REQUIRE(raw_up(&r, &d));
	sc.r = &r;
	REQUIRE(pthread_create(&th, NULL, scribble_main, &sc) == 0);
	for (; seq <= 500; seq++)
		ok += raw_get_missing(&r, seq);
	CHECK_EQ(ok, 500);
	CHECK(sleeps_within_10s(d.pid));
	CHECK(raw_get_missing(&r, seq));
	CHECK(sleeps_within_10s(d.pid));
	sc.stop = true;
	pthread_join(th, NULL);
	CHECK(sc.rounds > 0);
	raw_down(&r);
	CHECK(alive(&d));
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* A VMM publishing requests back to back as fast as the daemon answers
 * keeps it busy, never deaf: while it does, a management connection is
 * answered (with a spin window, the daemon serves a burst from its spin
 * for at most a millisecond before its loop looks at every descriptor)
 * and SIGTERM ends it. */
struct flooder {
	struct raw *r;
	volatile bool stop;
	unsigned long answered;
};

static void *
flood_main(void *arg)
{
	struct flooder *f = arg;
	size_t len = mm_var(f->r->area + VV_VMM_SHM_BUF, VV_MM_GET_VARIABLE, "Missing", ATTR_BS_RT,
			    NULL, 8);

	for (uint32_t seq = 1; !f->stop; seq++) {
		/* the request again: the reply overwrote it */
		mm_var(f->r->area + VV_VMM_SHM_BUF, VV_MM_GET_VARIABLE, "Missing", ATTR_BS_RT,
		       NULL, 8);
		__atomic_store_n(w(f->r, VV_VMM_SHM_BUFFER_SIZE), VV_MM_MAX_BUFFER,
				 __ATOMIC_RELAXED);
		__atomic_store_n(w(f->r, VV_VMM_SHM_REQ_LEN), (uint32_t)len, __ATOMIC_RELAXED);
		__atomic_store_n(w(f->r, VV_VMM_SHM_REQ_SEQ), seq, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(w(f->r, VV_VMM_SHM_DAEMON_SLEEP), __ATOMIC_SEQ_CST) != 0) {
			uint64_t one = 1;

			(void)!write(f->r->req, &one, sizeof(one));
		}
		while (!f->stop && __atomic_load_n(w(f->r, VV_VMM_SHM_REP_SEQ),
						   __ATOMIC_ACQUIRE) != seq)
			;
		if (!f->stop)
			f->answered++;
	}
	return NULL;
}

static void
test_flood_leaves_management_served(void)
{
	static const char *const spin[] = { "--poll-us", "20", NULL };
	struct daemon d;
	struct vv_client *c = vm_up(&d, spin);
	struct flooder f = { 0 };
	struct raw r;
	pthread_t th;
	unsigned long before;
	unsigned ok = 0;

	REQUIRE(c != NULL);
	vv_client_free(c);
	REQUIRE(raw_up(&r, &d));
	f.r = &r;
	REQUIRE(pthread_create(&th, NULL, flood_main, &f) == 0);
	for (int i = 0; i < 100 && f.answered < 1000; i++)
		msleep(10);
	before = f.answered;
	CHECK(before > 0);
	for (int i = 0; i < 20; i++)
		ok += strstr(mgmt(&d, "{\"cmd\":\"version\"}"), "\"ok\":true") != NULL;
	CHECK_EQ(ok, 20);
	/* still answering the VMM after the management calls */
	for (int i = 0; i < 100 && f.answered == before; i++)
		msleep(10);
	CHECK(f.answered > before);
	CHECK_EQ(stop(&d), 0);
	f.stop = true;
	pthread_join(th, NULL);
	raw_down(&r);
	cleanup(&d);
}

/* A daemon that may run on one CPU only (its affinity mask, inherited
 * from the test here) never spins, whatever --poll-us says: it says so,
 * serves, and sleeps between requests. */
static void
test_one_cpu_never_spins(void)
{
	static const char *const longest[] = { "--poll-us", "10000", NULL };
	cpu_set_t old, one;
	struct daemon d;
	struct vv_client *c;
	struct raw r;

	REQUIRE(sched_getaffinity(0, sizeof(old), &old) == 0);
	CPU_ZERO(&one);
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &old)) {
			CPU_SET(i, &one);
			break;
		}
	REQUIRE(sched_setaffinity(0, sizeof(one), &one) == 0);
	c = vm_up(&d, longest);
	REQUIRE(sched_setaffinity(0, sizeof(old), &old) == 0);
	REQUIRE(c != NULL);
	vv_client_free(c);
	CHECK(log_has(&d, "one usable CPU: no busy polling", false));
	REQUIRE(raw_up(&r, &d));
	CHECK(raw_get_missing(&r, 1));
	CHECK(sleeps_within_10s(d.pid));
	CHECK(raw_get_missing(&r, 2));
	raw_down(&r);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* ---- the spin gate both ends use (core/spin_gate.h) ---- */

/* A memfd holding text, read as /proc/loadavg would be. */
static int
text_fd(const char *text)
{
	int fd = memfd_create("loadavg", MFD_CLOEXEC);

	if (fd >= 0 && write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool
crowded_text(const char *text, long cpus)
{
	int fd = text_fd(text);
	bool crowded = vv_spin_gate_runqueue_crowded(fd, cpus);

	if (fd >= 0)
		close(fd);
	return crowded;
}

static int64_t
psi_text(const char *text)
{
	int fd = text_fd(text);
	int64_t total = vv_spin_gate_psi_total(fd);

	if (fd >= 0)
		close(fd);
	return total;
}

/* One look at the CPUs: the pressure's total and the run queue as texts. */
static bool
look_at(struct vv_spin_gate *g, int64_t psi_total, int runnable, int64_t now)
{
	char psi[128], load[64];
	int pfd, lfd;
	bool crowded;

	snprintf(psi, sizeof(psi), "some avg10=0.00 avg60=0.00 avg300=0.00 total=%lld\n"
		 "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", (long long)psi_total);
	snprintf(load, sizeof(load), "0.50 0.50 0.50 %d/150 1234\n", runnable);
	pfd = psi_total >= 0 ? text_fd(psi) : -1;
	lfd = text_fd(load);
	crowded = vv_spin_gate_crowded(g, lfd, pfd, 2, now);
	if (pfd >= 0)
		close(pfd);
	if (lfd >= 0)
		close(lfd);
	return crowded;
}

/* How crowded the CPUs are: CPU pressure (PSI) between two looks, the run
 * queue at the first look or without PSI. */
static void
test_spin_gate_pressure(void)
{
	struct vv_spin_gate g;

	CHECK_EQ(psi_text("some avg10=0.85 avg60=6.00 avg300=4.43 total=4897912970\n"
			  "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"), 4897912970);
	CHECK_EQ(psi_text("some avg10=0.85 avg60=6.00 avg300=4.43 total=0\n"), 0);
	CHECK_EQ(psi_text("full avg10=0.00 avg60=0.00 avg300=0.00 total=7\n"), -1);
	CHECK_EQ(psi_text("some avg10=0.85 avg60=6.00 avg300=4.43\nfull total=7\n"), -1);
	CHECK_EQ(psi_text("some total=x\n"), -1);
	CHECK_EQ(psi_text("some total=99999999999999999999\n"), -1);
	CHECK_EQ(psi_text(""), -1);
	CHECK_EQ(vv_spin_gate_psi_total(-1), -1);

	vv_spin_gate_init(&g, 2);
	/* the first look has no earlier pressure: the run queue says */
	CHECK(look_at(&g, 1000, 3, 1000));
	vv_spin_gate_init(&g, 2);
	CHECK(!look_at(&g, 1000, 2, 1000));
	/* then the pressure over the time between looks decides, whatever
	 * the run queue holds at that instant: 10 us of waiting in 100 is
	 * not crowded, 30 us is (VV_SPIN_GATE_PRESSURE_PCT 20) */
	CHECK(!look_at(&g, 1010, 9, 1100));
	CHECK(look_at(&g, 1040, 2, 1200));
	CHECK(!look_at(&g, 1040, 9, 1300));
	/* a pressure that cannot be read, or goes backwards: the run queue */
	CHECK(look_at(&g, -1, 3, 1400));
	CHECK(!look_at(&g, 5000, 2, 1500));
	CHECK(look_at(&g, 4000, 3, 1600));
}

/* Runs one period of waits, each with outcome how. */
static void
gate_period(struct vv_spin_gate *g, enum vv_spin_outcome how, long nivcsw, bool crowded)
{
	for (unsigned i = 0; i < 10000; i++) {
		if (vv_spin_gate_next(g, how)) {
			vv_spin_gate_sample(g, nivcsw, crowded);
			return;
		}
	}
}

/* Waits (each ending as how) until the gate wants a look, then the look. */
static void
gate_look(struct vv_spin_gate *g, enum vv_spin_outcome how, bool crowded)
{
	while (!vv_spin_gate_next(g, how))
		;
	vv_spin_gate_sample(g, 200, crowded);
}

static void
test_spin_gate_rules(void)
{
	struct vv_spin_gate g;
	unsigned shut = 0;

	/* the run queue: 3 runnable on 2 CPUs is crowded, 2 is not; what
	 * is not the expected text counts as not crowded */
	CHECK(crowded_text("1.19 1.86 2.37 3/150 1234\n", 2));
	CHECK(!crowded_text("1.19 1.86 2.37 2/150 1234\n", 2));
	CHECK(!crowded_text("0.00 0.00 0.00 17/150 1234\n", 32));
	CHECK(!crowded_text("1.19 1.86 2.37 x/150 1234\n", 2));
	CHECK(!crowded_text("1.19 1.86 2.37 99999999999999999999/1 1\n", 2));
	CHECK(!crowded_text("garbage", 2));
	CHECK(!crowded_text("", 2));
	CHECK(!vv_spin_gate_runqueue_crowded(-1, 2));

	/* one CPU: never */
	vv_spin_gate_init(&g, 1);
	CHECK(!vv_spin_gate_open(&g));
	CHECK(!vv_spin_gate_next(&g, VV_SPIN_NONE));

	/* two: open after the first count, for as long as spins pay */
	vv_spin_gate_init(&g, 2);
	CHECK(!vv_spin_gate_open(&g));
	CHECK(vv_spin_gate_next(&g, VV_SPIN_NONE));
	vv_spin_gate_sample(&g, 100, false);
	CHECK(vv_spin_gate_open(&g));
	CHECK_EQ(g.period, VV_SPIN_GATE_PERIOD);        /* not a probe: no pause yet */
	{
		struct vv_spin_gate first;

		/* ... unless the first look found the CPUs crowded */
		vv_spin_gate_init(&first, 2);
		CHECK(vv_spin_gate_next(&first, VV_SPIN_NONE));
		vv_spin_gate_sample(&first, 100, true);
		CHECK(vv_spin_gate_open(&first));
		CHECK_EQ(first.period, VV_SPIN_GATE_PROBE);
	}
	for (int p = 0; p < 10; p++)
		gate_period(&g, VV_SPIN_CAUGHT, 100, false);
	CHECK(vv_spin_gate_open(&g));
	CHECK_EQ(g.contended, 0);

	/* preempted while spinning: shut for a period, then a probe */
	gate_period(&g, VV_SPIN_CAUGHT, 200, false);
	CHECK(!vv_spin_gate_open(&g));
	CHECK_EQ(g.contended, 1);
	for (unsigned i = 0; i < VV_SPIN_GATE_PERIOD * 2 && !vv_spin_gate_next(&g, VV_SPIN_NONE); i++)
		shut++;
	CHECK_EQ(shut, VV_SPIN_GATE_PERIOD - 1);
	vv_spin_gate_sample(&g, 200, false);
	CHECK(vv_spin_gate_open(&g));
	CHECK_EQ(g.period, VV_SPIN_GATE_PROBE);

	/* one involuntary switch in the probe's 8 spins is not contention (a
	 * kernel worker took the CPU once): VV_SPIN_GATE_EVIDENCE; nor is one
	 * spin unanswered among waits that did not spin */
	gate_period(&g, VV_SPIN_CAUGHT, 201, false);
	CHECK(vv_spin_gate_open(&g));
	CHECK_EQ(g.contended, 1);
	for (unsigned i = 0; i < VV_SPIN_GATE_PERIOD; i++)
		REQUIRE(!vv_spin_gate_next(&g, i == 0 ? VV_SPIN_MISSED : VV_SPIN_NONE) ||
			i == VV_SPIN_GATE_PERIOD - 1);
	vv_spin_gate_sample(&g, 201, false);
	CHECK(vv_spin_gate_open(&g));
	CHECK_EQ(g.contended, 1);

	/* preempted again: one period off (the good looks ended the strikes);
	 * then unanswered spins in the probe: a second strike in a row, two
	 * periods off */
	gate_period(&g, VV_SPIN_CAUGHT, 300, false);
	CHECK(!vv_spin_gate_open(&g));
	CHECK_EQ(g.contended, 2);
	CHECK_EQ(g.off, VV_SPIN_GATE_PERIOD);
	gate_look(&g, VV_SPIN_NONE, false);
	CHECK(vv_spin_gate_open(&g));
	gate_period(&g, VV_SPIN_MISSED, 300, false);
	CHECK(!vv_spin_gate_open(&g));
	CHECK_EQ(g.contended, 3);
	CHECK_EQ(g.off, VV_SPIN_GATE_PERIOD << 1);

	/* a crowded run queue at two looks in a row shuts it, and the
	 * pause doubles up to its bound; the first of them only brings the
	 * next look closer (a kernel thread runnable for a moment) */
	gate_look(&g, VV_SPIN_NONE, false);
	CHECK(vv_spin_gate_open(&g));
	gate_look(&g, VV_SPIN_CAUGHT, true);
	CHECK(vv_spin_gate_open(&g));
	CHECK_EQ(g.contended, 3);
	for (int k = 0; k < 20; k++) {
		gate_look(&g, VV_SPIN_NONE, true);
		CHECK(!vv_spin_gate_open(&g));
	}
	CHECK_EQ(g.contended, 23);
	CHECK_EQ(g.off, VV_SPIN_GATE_PERIOD << (VV_SPIN_GATE_MAX_STRIKES - 1));
	/* a pause's own look does not clear it (waiting in turn, the two
	 * ends leave the CPUs to the others): the probe after it, crowded,
	 * shuts the gate at once ... */
	gate_look(&g, VV_SPIN_NONE, false);
	CHECK(vv_spin_gate_open(&g));
	gate_look(&g, VV_SPIN_CAUGHT, true);
	CHECK(!vv_spin_gate_open(&g));
	CHECK_EQ(g.contended, 24);
	/* ... and a look after spins that is not crowded ends the run */
	gate_look(&g, VV_SPIN_NONE, false);
	CHECK(vv_spin_gate_open(&g));
	gate_look(&g, VV_SPIN_CAUGHT, false);
	CHECK(vv_spin_gate_open(&g));
	gate_look(&g, VV_SPIN_CAUGHT, true);
	CHECK(vv_spin_gate_open(&g));
	CHECK_EQ(g.contended, 24);

	/* a switch counter that cannot be read: never again */
	vv_spin_gate_init(&g, 4);
	CHECK(vv_spin_gate_next(&g, VV_SPIN_NONE));
	vv_spin_gate_sample(&g, -1, false);
	CHECK(!vv_spin_gate_open(&g));
	CHECK(!vv_spin_gate_next(&g, VV_SPIN_NONE));
}

/* The daemon restarts between requests (SIGKILL, then SIGTERM): the
 * next request, never taken by the old daemon, goes out on a new
 * connection (with a new area) and is answered from the recorded state. */
static void
test_daemon_restart(void)
{
	struct daemon d;
	struct vv_client *c = vm_up(&d, NULL);
	uint8_t out[256];
	uint64_t size = 0;

	REQUIRE(c != NULL);
	CHECK_STATUS(client_set(c, "Kept", "keep", 4), VV_EFI_SUCCESS);
	crash(&d);
	REQUIRE(start(&d, NULL));
	CHECK_STATUS(client_get(c, "Kept", out, &size), VV_EFI_SUCCESS);
	CHECK_MEM(out, "keep", 4);
	CHECK_EQ(vv_client_reconnects(c), 1);
	CHECK(vv_client_features(c) & VV_VMM_FEATURE_SHM);
	CHECK_EQ(stop(&d), 0);
	REQUIRE(start(&d, NULL));
	CHECK_STATUS(client_get(c, "Kept", out, &size), VV_EFI_SUCCESS);
	CHECK_MEM(out, "keep", 4);
	CHECK_EQ(vv_client_reconnects(c), 2);
	vv_client_free(c);
	/* the client restarts: a new client, a new area, the same VM */
	c = vv_client_connect(d.vmm, &(struct vv_error){ { 0 } });
	REQUIRE(c != NULL);
	CHECK_STATUS(client_get(c, "Kept", out, &size), VV_EFI_SUCCESS);
	CHECK_MEM(out, "keep", 4);
	vv_client_free(c);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* VM_RESET on the socket between shared requests: volatile state gone. */
static void
test_vm_reset(void)
{
	struct daemon d;
	struct vv_client *c = vm_up(&d, NULL);
	uint8_t out[256];
	uint64_t size = 0;

	REQUIRE(c != NULL);
	CHECK_STATUS(client_set(c, "Volatile", "vvvv", 4), VV_EFI_SUCCESS);
	CHECK_STATUS(client_get(c, "Volatile", out, &size), VV_EFI_SUCCESS);
	CHECK_EQ(vv_client_vm_reset(c), 0);
	CHECK_STATUS(client_get(c, "Volatile", out, &size), VV_EFI_NOT_FOUND);
	CHECK_EQ(vv_client_reconnects(c), 0);
	vv_client_free(c);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* A migration with both VMMs on shared memory: the volatile variable
 * set through the source's area is read through the destination's. */
static void
test_migration(void)
{
	static const char *const src_args[] = { "--migration", NULL };
	static const char *const dst_args[] = { "--incoming", NULL };
	struct daemon a, b;
	struct vv_client *ca = vm_up(&a, src_args), *cb = NULL;
	uint8_t *snap = NULL, out[256];
	uint64_t size = 0;
	size_t n = 0;
	struct vv_error err;

	REQUIRE(ca != NULL);
	CHECK(vv_client_features(ca) & VV_VMM_FEATURE_SHM);
	CHECK_STATUS(client_set(ca, "Moved", "move", 4), VV_EFI_SUCCESS);
	CHECK_EQ(vv_client_save_state(ca, 0, &snap, &n), 0);
	REQUIRE(daemon_setup(&b, "vv-shm", dst_args));
	cb = vv_client_connect(b.vmm, &err);
	REQUIRE(cb != NULL && snap != NULL);
	CHECK(vv_client_features(cb) & VV_VMM_FEATURE_SHM);
	CHECK_EQ(vv_client_load_state(cb, 0, snap, n), 0);
	CHECK_STATUS(client_get(cb, "Moved", out, &size), VV_EFI_SUCCESS);
	CHECK_MEM(out, "move", 4);
	free(snap);
	vv_client_free(ca);
	vv_client_free(cb);
	CHECK_EQ(stop(&a), 0);
	CHECK_EQ(stop(&b), 0);
	cleanup(&a);
	cleanup(&b);
}

static const struct vv_test tests[] = {
	TEST(test_negotiated),
	TEST(test_fallback_not_offered),
	TEST(test_setup_refused),
	TEST(test_hostile_lengths),
	TEST(test_reply_has_no_stale_bytes),
	TEST(test_buffer_changes_during_request),
	TEST(test_scribbled_wait_words),
	TEST(test_spin_gate_rules),
	TEST(test_spin_gate_pressure),
	TEST(test_one_cpu_never_spins),
	TEST(test_flood_leaves_management_served),
	TEST(test_daemon_restart),
	TEST(test_vm_reset),
	TEST(test_migration),
};

VV_TEST_MAIN(tests)
