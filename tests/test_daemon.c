/*
 * tests/test_daemon.c -- vmvarsd as a real process over real sockets
 * (issue #4 "Tests that must exist"): the scripted firmware boot through
 * the VMM socket, the management API, concurrent management and guest
 * traffic, malformed frames, a second VMM, reconnection after a restart,
 * kill -9 durability, SIGTERM, and the sandbox killing a forbidden syscall;
 * and adaptive busy polling (--poll-us, vv_client_set_poll_us): the same
 * traffic with polling off and with long windows, requests arriving inside
 * the daemon's window, management and signals served while the VMM side
 * is busy.  And the loop's bounds and gates of issue #12: a pipelining VMM
 * never timed out, the frame timeout to the millisecond, reconnection
 * right after a close, a management flood that waits behind the guest and
 * stays small, unread replies, socket modes from creation, the management
 * socket's peer credentials.  Functional: where time matters it is a
 * loose bound (or a count), never a performance figure.
 *
 * The daemon is $VMVARS_BUILD_ROOT/src/daemon/vmvarsd; each case starts
 * its own in a private temporary directory, its log in DIR/log.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vmvars/vmvars.h>

#include "daemon_util.h"
#include "guest_firmware.h"
#include "harness.h"
#include "proto/mm_pcap.h"

#define U(s) ((const uint16_t *)u"" s), (sizeof(u"" s) / 2 - 1)
#define NV_BS_RT (VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT)
#define BS_RT (VV_ATTR_BS | VV_ATTR_RT)
#define TEST_GUID_TEXT "3d6b1f0e-4c2a-4b8e-9f10-112233445566"

static const vv_guid test_guid = { { 0x0e, 0x1f, 0x6b, 0x3d, 0x2a, 0x4c, 0x8e, 0x4b,
				     0x9f, 0x10, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66 } };

/* ---- the daemon (tests/daemon_util.h) ---- */

/* A daemon on a new directory, /tmp/vmvarsd-test-XXXXXX, and the VM on. */
static void
setup(struct daemon *d, const char *const *extra)
{
	REQUIRE(daemon_setup(d, "vmvarsd-test", extra));
	/* The VM powers on: a new daemon serves nothing before (protocol.md
	 * "Daemon restart"); tests that speak raw frames need not send it. */
	REQUIRE(strstr(mgmt(d, "{\"cmd\":\"reset\"}"), "\"ok\":true") != NULL);
}

#define CHECK_HAS(text, needle) do { \
	const char *t_ = (text); \
	if (strstr(t_, (needle)) == NULL) { \
		printf("# %s:%d: \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, t_, (needle)); \
		vv_test_failures++; \
	} } while (0)

/* ---- a guest behind the client ---- */

struct guest {
	struct vv_client *client;
	struct vv_uefi_vars_device *dev;
	struct fw_guest g;
};

/* The client's poll window for the next guests; -1 keeps its default. */
static long client_poll_us = -1;

static bool
guest_start(struct guest *gs, const char *vmm, bool pio)
{
	struct vv_error err;
	struct vv_mm_handler h;
	char why[128];

	memset(gs, 0, sizeof(*gs));
	gs->client = vv_client_connect(vmm, &err);
	if (gs->client == NULL) {
		printf("# connect: %s\n", err.msg);
		return false;
	}
	if (client_poll_us >= 0)
		vv_client_set_poll_us(gs->client, (unsigned)client_poll_us);
	vv_client_mm_handler(gs->client, &h);
	if (fw_guest_alloc(&gs->g, pio) != 0)
		return false;
	gs->dev = vv_uefi_vars_device_new_handler(&h, fw_guest_memory(&gs->g), pio);
	if (gs->dev == NULL)
		return false;
	/* A VM's start is a reset: the daemon serves a VM only after its
	 * power-on or a restored record (protocol.md "Daemon restart"). */
	vv_uefi_vars_device_reset(gs->dev);
	return fw_guest_init(&gs->g, gs->dev, why, sizeof(why)) == 0;
}

static void
guest_stop(struct guest *gs)
{
	vv_uefi_vars_device_free(gs->dev);
	vv_client_free(gs->client);
	fw_guest_release(&gs->g);
}

static const uint8_t load_option[] = {
	0x01, 0, 0, 0, 0x04, 0, 'S', 0, 'h', 0, 0, 0, 0x7f, 0xff, 0x04, 0x00,
};

/* The statuses of tests/test_firmware_boot.c, through the socket; the
 * daemon gets extra options (NULL: none). */
static void
scripted_boot(bool pio, const char *const *extra)
{
	struct daemon d;
	struct guest gs;
	struct fw_guest *g;
	const vv_guid *gv = &VV_GUID_GLOBAL_VARIABLE;
	uint8_t entry[128], buf[64];
	uint64_t size, max, rem, maxvar;
	uint32_t attr;
	size_t n;

	setup(&d, extra);
	REQUIRE(guest_start(&gs, d.vmm, pio));
	g = &gs.g;
	CHECK_EQ(g->payload_size, 65536 - 40);
	size = sizeof(buf);
	CHECK_STATUS(fw_get_variable(g, U("BootOrder"), gv, &attr, buf, &size), VV_EFI_NOT_FOUND);
	n = fw_policy_entry(entry, gv, U("PlatformLangCodes"), 0, VV_POLICY_NO_MAX_SIZE, 0, 0,
			    VV_POLICY_LOCK_ON_CREATE);
	CHECK_STATUS(fw_policy_register(g, entry, n), VV_EFI_SUCCESS);
	CHECK_STATUS(fw_policy_register(g, entry, n), VV_EFI_ALREADY_STARTED);
	n = fw_policy_entry(entry, &test_guid, U("Small"), 0, 2, 0, 0, VV_POLICY_NO_LOCK);
	CHECK_STATUS(fw_policy_register(g, entry, n), VV_EFI_SUCCESS);
	CHECK_STATUS(fw_set_variable(g, U("PlatformLangCodes"), gv, BS_RT, "en", 2), VV_EFI_SUCCESS);
	CHECK_STATUS(fw_set_variable(g, U("Boot0000"), gv, NV_BS_RT, load_option,
				     sizeof(load_option)), VV_EFI_SUCCESS);
	CHECK_STATUS(fw_set_variable(g, U("BootOrder"), gv, NV_BS_RT, "\0\0", 2), VV_EFI_SUCCESS);
	CHECK_STATUS(fw_set_variable(g, U("RTC"), &test_guid, 0, NULL, 0), VV_EFI_NOT_FOUND);
	CHECK_STATUS(fw_set_variable(g, U("Small"), &test_guid, BS_RT, "abc", 3), VV_EFI_SUCCESS);
	CHECK_EQ(fw_event(g, &VV_GUID_END_OF_DXE), VV_STS_SUCCESS);
	CHECK_STATUS(fw_policy_register(g, entry, n), VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(fw_set_variable(g, U("PlatformLangCodes"), gv, BS_RT, "fr", 2),
		     VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(fw_set_variable(g, U("Small"), &test_guid, BS_RT, "abc", 3),
		     VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(fw_set_variable(g, U("Bogus"), gv, NV_BS_RT, "x", 1), VV_EFI_INVALID_PARAMETER);
	size = 4;
	CHECK_STATUS(fw_get_variable(g, U("Boot0000"), gv, &attr, buf, &size),
		     VV_EFI_BUFFER_TOO_SMALL);
	CHECK_EQ(size, sizeof(load_option));
	CHECK_EQ(attr, NV_BS_RT);
	size = sizeof(buf);
	CHECK_STATUS(fw_get_variable(g, U("Boot0000"), gv, &attr, buf, &size), VV_EFI_SUCCESS);
	CHECK_MEM(buf, load_option, sizeof(load_option));
	CHECK_STATUS(fw_query_variable_info(g, NV_BS_RT, &max, &rem, &maxvar), VV_EFI_SUCCESS);
	CHECK_EQ(max, 262144 - 4096);
	CHECK_STATUS(fw_smm_function(g, VV_MM_READY_TO_BOOT), VV_EFI_SUCCESS);
	CHECK_EQ(fw_event(g, &VV_GUID_EXIT_BOOT_SERVICES), VV_STS_SUCCESS);
	CHECK_STATUS(fw_smm_function(g, VV_MM_READY_TO_BOOT), VV_EFI_UNSUPPORTED);
	CHECK_STATUS(fw_set_variable(g, U("BootOrder"), gv, NV_BS_RT, "\0\0\1\0", 4),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(fw_set_variable(g, U("NewVol"), &test_guid, BS_RT, "x", 1),
		     VV_EFI_INVALID_PARAMETER);
	/* VM reset through the socket: volatile state gone, policies too */
	vv_uefi_vars_device_reset(gs.dev);
	{
		char why[128];

		REQUIRE(fw_guest_init(g, gs.dev, why, sizeof(why)) == 0);
	}
	size = sizeof(buf);
	CHECK_STATUS(fw_get_variable(g, U("Small"), &test_guid, &attr, buf, &size), VV_EFI_NOT_FOUND);
	CHECK_STATUS(fw_set_variable(g, U("PlatformLangCodes"), gv, BS_RT, "de", 2), VV_EFI_SUCCESS);
	guest_stop(&gs);
	CHECK_EQ(stop(&d), 0);
	/* a new daemon process and a new VM start (guest_start resets): NV
	 * variables are there, volatile ones are not */
	REQUIRE(start(&d, extra));
	REQUIRE(guest_start(&gs, d.vmm, pio));
	size = sizeof(buf);
	CHECK_STATUS(fw_get_variable(&gs.g, U("BootOrder"), gv, &attr, buf, &size), VV_EFI_SUCCESS);
	CHECK_EQ(size, 4);
	CHECK_MEM(buf, "\0\0\1\0", 4);
	size = sizeof(buf);
	CHECK_STATUS(fw_get_variable(&gs.g, U("PlatformLangCodes"), gv, &attr, buf, &size),
		     VV_EFI_NOT_FOUND);
	guest_stop(&gs);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

static void
test_boot_dma(void)
{
	scripted_boot(false, NULL);
}

static void
test_boot_pio(void)
{
	scripted_boot(true, NULL);
}

/* Polling off on both sides, said explicitly (it is also the default
 * since issue #20): every reply is a blocking receive. */
static void
test_boot_no_polling(void)
{
	static const char *const extra[] = { "--poll-us", "0", NULL };

	client_poll_us = 0;
	scripted_boot(false, extra);
	client_poll_us = -1;
}

/* The adaptive windows an operator turns on for dedicated CPUs (the
 * defaults before issue #20): the same replies. */
static void
test_boot_short_polling(void)
{
	static const char *const extra[] = { "--poll-us", "50", NULL };

	client_poll_us = 100;
	scripted_boot(false, extra);
	client_poll_us = -1;
}

/* The longest daemon window and a client that spins for a whole second:
 * nearly every request arrives, and every reply is caught, while the
 * other side spins. */
static void
test_boot_long_polling(void)
{
	static const char *const extra[] = { "--poll-us", "10000", NULL };

	client_poll_us = 1000000;
	scripted_boot(true, extra);
	client_poll_us = -1;
}

static void
test_management(void)
{
	struct daemon d;
	int fd;
	const char *r;

	setup(&d, NULL);
	fd = connect_unix(d.mgmt);
	REQUIRE(fd >= 0);
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"version\",\"id\":7}"), "\"id\":7");
	CHECK_HAS(mgmt_call(fd, "not json"), "\"ok\":false");
	CHECK_HAS(mgmt_call(fd, "[1,2]"), "not a JSON object");
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"frobnicate\"}"), "unknown command");
	CHECK_HAS(mgmt_call(fd, "{\"nocmd\":1}"), "is required");
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"set\",\"name\":\"Foo\",\"guid\":\"" TEST_GUID_TEXT
			    "\",\"attributes\":\"NV|BS|RT\",\"data\":\"0102zz\"}"), "must decode");
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"set\",\"name\":\"Foo\",\"guid\":\"" TEST_GUID_TEXT
			    "\",\"attributes\":\"NV|BS|RT\",\"data\":\"010203\"}"),
		  "{\"ok\":true,\"status\":\"EFI_SUCCESS\"}");
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"set\",\"name\":\"Bar\",\"guid\":\"" TEST_GUID_TEXT
			    "\",\"attributes\":3,\"data_base64\":\"AAEC\"}"), "EFI_SUCCESS");
	r = mgmt_call(fd, "{\"cmd\":\"get\",\"name\":\"Foo\",\"guid\":\"" TEST_GUID_TEXT "\"}");
	CHECK_HAS(r, "\"data\":\"010203\"");
	CHECK_HAS(r, "\"attributes\":\"NV|BS|RT\"");
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"get\",\"name\":\"Bar\",\"guid\":\"" TEST_GUID_TEXT "\"}"),
		  "\"data\":\"000102\"");
	r = mgmt_call(fd, "{\"cmd\":\"list\"}");
	CHECK_HAS(r, "\"name\":\"Foo\"");
	CHECK_HAS(r, "\"name\":\"SetupMode\"");
	/* Every refusal says why, in "error" after the status and alone in
	 * "reason" (issue #17): here row 19, attributes of an existing variable. */
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"set\",\"name\":\"Bar\",\"guid\":\"" TEST_GUID_TEXT
			    "\",\"attributes\":\"NV|BS|RT\",\"data\":\"01\"}"),
		  "{\"ok\":false,\"status\":\"EFI_INVALID_PARAMETER\",\"reason\":\"attributes 0x7 "
		  "differ from the existing variable's 0x3 (delete it first to change them)\","
		  "\"error\":\"EFI_INVALID_PARAMETER: attributes 0x7 differ from the existing "
		  "variable's 0x3 (delete it first to change them)\"}");
	/* The derived SecureBoot is not the host's to write. */
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"set\",\"name\":\"SecureBoot\",\"guid\":\"global\","
			    "\"attributes\":\"BS|RT\",\"data\":\"01\"}"),
		  "\"error\":\"EFI_WRITE_PROTECTED: derived by the Secure Boot service from PK and "
		  "its mode; it cannot be written: enroll or delete PK, or change the mode (vmvars "
		  "sb-mode)\"");
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"get\",\"name\":\"SecureBoot\",\"guid\":"
			    "\"EfiGlobalVariable\"}"), "\"data\":\"00\"");
	/* Namespaces by the names the command line takes. */
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"set\",\"name\":\"Timeout\",\"guid\":\"global\","
			    "\"attributes\":\"NV|BS|RT\",\"data\":\"0500\"}"),
		  "{\"ok\":true,\"status\":\"EFI_SUCCESS\"}");
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"get\",\"name\":\"Timeout\",\"guid\":"
			    "\"8be4df61-93ca-11d2-aa0d-00e098032b8c\"}"), "\"data\":\"0500\"");
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"get\",\"name\":\"Timeout\",\"guid\":\"nowhere\"}"),
		  "\"error\":\"\\\"guid\\\" is neither a GUID nor a namespace name the command "
		  "line knows (global, security, shim, ms, ...)\"");
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"delete\",\"name\":\"Foo\",\"guid\":\"" TEST_GUID_TEXT
			    "\"}"), "EFI_SUCCESS");
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"get\",\"name\":\"Foo\",\"guid\":\"" TEST_GUID_TEXT "\"}"),
		  "EFI_NOT_FOUND");
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"delete\",\"name\":\"Foo\",\"guid\":\"" TEST_GUID_TEXT
			    "\"}"), "EFI_NOT_FOUND");
	r = mgmt_call(fd, "{\"cmd\":\"secureboot\"}");
	CHECK_HAS(r, "\"mode\":\"setup\"");
	CHECK_HAS(r, "\"enforcing\":false");
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"enroll\",\"db\":\"PK\",\"esl\":\"00\"}"),
		  "EFI_INVALID_PARAMETER");
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"enroll\",\"db\":\"XX\",\"esl\":\"00\"}"), "\"ok\":false");
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"secureboot\"}"), "\"mode\":\"setup\"");
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"flush\"}"), "{\"ok\":true}");
	r = mgmt_call(fd, "{\"cmd\":\"stats\"}");
	CHECK_HAS(r, "\"requests\":0");
	CHECK_HAS(r, "\"mgmt_errors\":");
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"reset\"}"), "{\"ok\":true}");
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"quit\"}"), "{\"ok\":true}");
	close(fd);
	{
		int st;

		CHECK(waitpid(d.pid, &st, 0) == d.pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
		d.pid = 0;
	}
	/* the host's write is durable: a new daemon has Bar */
	REQUIRE(start(&d, NULL));
	fd = connect_unix(d.mgmt);
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"get\",\"name\":\"Bar\",\"guid\":\"" TEST_GUID_TEXT "\"}"),
		  "\"data\":\"000102\"");
	close(fd);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* The guest and the host owner on the same store, interleaved. */
static void
test_concurrent(void)
{
	struct daemon d;
	struct guest gs;
	uint8_t buf[16];
	uint64_t size;
	uint32_t attr;
	int fd, fd2;
	char line[256];

	setup(&d, NULL);
	REQUIRE(guest_start(&gs, d.vmm, false));
	fd = connect_unix(d.mgmt);
	fd2 = connect_unix(d.mgmt);
	REQUIRE(fd >= 0 && fd2 >= 0);
	for (int i = 0; i < 50; i++) {
		uint8_t v = (uint8_t)i;

		CHECK_STATUS(fw_set_variable(&gs.g, U("Guest"), &test_guid, NV_BS_RT, &v, 1),
			     VV_EFI_SUCCESS);
		snprintf(line, sizeof(line), "{\"cmd\":\"get\",\"name\":\"Guest\",\"guid\":\""
			 TEST_GUID_TEXT "\"}");
		{
			char want[32];

			snprintf(want, sizeof(want), "\"data\":\"%02x\"", i);
			CHECK_HAS(mgmt_call(i % 2 ? fd : fd2, line), want);
		}
		snprintf(line, sizeof(line), "{\"cmd\":\"set\",\"name\":\"Host\",\"guid\":\""
			 TEST_GUID_TEXT "\",\"attributes\":\"NV|BS|RT\",\"data\":\"%02x\"}", i);
		CHECK_HAS(mgmt_call(fd, line), "EFI_SUCCESS");
		size = sizeof(buf);
		CHECK_STATUS(fw_get_variable(&gs.g, U("Host"), &test_guid, &attr, buf, &size),
			     VV_EFI_SUCCESS);
		CHECK_EQ(size, 1);
		CHECK_EQ(buf[0], i);
	}
	CHECK_HAS(mgmt_call(fd2, "{\"cmd\":\"stats\"}"), "\"SetVariable\":50");
	close(fd);
	close(fd2);
	guest_stop(&gs);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* ---- raw frames ---- */

static void
put_frame(uint8_t *out, uint32_t type, uint32_t len)
{
	vv_put_le32(out, type);
	vv_put_le32(out + 4, len);
}

static size_t
hello(uint8_t *out, uint32_t version)
{
	put_frame(out, VV_VMM_MSG_HELLO, 24);
	vv_put_le32(out + 8, VV_VMM_MAGIC);
	vv_put_le32(out + 12, version);
	vv_put_le64(out + 16, 1);
	vv_put_le32(out + 24, VV_VMM_MAX_PAYLOAD);
	vv_put_le32(out + 28, 0);
	return 32;
}

/* Reads until EOF (5 s at most); returns the bytes read, or -1 if the
 * daemon kept the connection open. */
static ssize_t
read_to_eof(int fd, uint8_t *buf, size_t cap)
{
	size_t n = 0;

	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&p, 1, 5000) <= 0)
			return -1;
		r = read(fd, buf + n, cap - n);
		if (r <= 0)
			return (ssize_t)n;
		n += (size_t)r;
		if (n == cap)
			return -1;
	}
}

/* Sends bytes on a fresh VMM connection (after a HELLO if asked) and
 * checks that the daemon answers ERROR code and closes. */
static void
expect_error(struct daemon *d, bool say_hello, const uint8_t *bytes, size_t len, uint32_t code,
	     bool half_close)
{
	uint8_t buf[256];
	size_t off = 0;
	ssize_t n;
	int fd = connect_unix(d->vmm);

	REQUIRE(fd >= 0);
	if (say_hello) {
		off = hello(buf, 1);
		CHECK(write(fd, buf, off) == (ssize_t)off);
	}
	CHECK(write(fd, bytes, len) == (ssize_t)len);
	if (half_close)
		shutdown(fd, SHUT_WR);
	n = read_to_eof(fd, buf, sizeof(buf));
	close(fd);
	if (code == 0) {
		/* truncated frame: no reply, just closed */
		CHECK_EQ(n, say_hello ? 32 : 0);
		return;
	}
	REQUIRE(n >= (ssize_t)(off + 12));
	CHECK_EQ(vv_le32(buf + off), VV_VMM_MSG_ERROR);
	CHECK_EQ(vv_le32(buf + off + 8), code);
	CHECK_EQ((size_t)n, off + 8 + vv_le32(buf + off + 4));
}

static void
test_bad_frames(void)
{
	struct daemon d;
	struct guest gs;
	uint8_t f[128];
	size_t n;
	uint8_t buf[8];
	uint64_t size = sizeof(buf);
	uint32_t attr;

	setup(&d, NULL);
	/* garbage before HELLO */
	memcpy(f, "GET / HTTP/1.0\r\n\r\n", 18);
	expect_error(&d, false, f, 18, VV_VMM_ERR_HANDSHAKE, false);
	/* a HELLO with the wrong version, and with the wrong length */
	n = hello(f, 2);
	expect_error(&d, false, f, n, VV_VMM_ERR_VERSION, false);
	n = hello(f, 1);
	put_frame(f, VV_VMM_MSG_HELLO, 20);
	expect_error(&d, false, f, 28, VV_VMM_ERR_MALFORMED, false);
	/* HELLO twice */
	n = hello(f, 1);
	expect_error(&d, true, f, n, VV_VMM_ERR_HANDSHAKE, false);
	/* oversized: refused on the header alone */
	put_frame(f, VV_VMM_MSG_MM_REQUEST, VV_VMM_MAX_PAYLOAD + 1);
	expect_error(&d, true, f, 8, VV_VMM_ERR_TOO_LARGE, false);
	/* MM_REQUEST shorter than 28, MessageLength disagreeing, buffer too small */
	put_frame(f, VV_VMM_MSG_MM_REQUEST, 20);
	memset(f + 8, 0, 20);
	expect_error(&d, true, f, 28, VV_VMM_ERR_MALFORMED, false);
	put_frame(f, VV_VMM_MSG_MM_REQUEST, 28 + 8);
	memset(f + 8, 0, 36);
	vv_put_le32(f + 8, 65536);
	vv_put_le64(f + 12 + 16, 9);              /* MessageLength 9, 8 present */
	expect_error(&d, true, f, 44, VV_VMM_ERR_MALFORMED, false);
	vv_put_le64(f + 12 + 16, 8);
	vv_put_le32(f + 8, 30);                   /* 32 bytes in a 30-byte buffer */
	expect_error(&d, true, f, 44, VV_VMM_ERR_MALFORMED, false);
	/* VM_RESET with a payload; an unknown type; a server-only type */
	put_frame(f, VV_VMM_MSG_VM_RESET, 1);
	f[8] = 0;
	expect_error(&d, true, f, 9, VV_VMM_ERR_MALFORMED, false);
	put_frame(f, 99, 0);
	expect_error(&d, true, f, 8, VV_VMM_ERR_UNKNOWN_TYPE, false);
	put_frame(f, VV_VMM_MSG_MM_REPLY, 0);
	expect_error(&d, true, f, 8, VV_VMM_ERR_UNKNOWN_TYPE, false);
	/* truncated: a frame that promises 100 bytes, then the VMM leaves */
	put_frame(f, VV_VMM_MSG_MM_REQUEST, 100);
	memset(f + 8, 0, 40);
	expect_error(&d, true, f, 48, 0, true);
	CHECK(alive(&d));
	/* the daemon still serves a well-behaved VMM */
	REQUIRE(guest_start(&gs, d.vmm, false));
	CHECK_STATUS(fw_get_variable(&gs.g, U("SetupMode"), &VV_GUID_GLOBAL_VARIABLE, &attr, buf,
				     &size), VV_EFI_SUCCESS);
	guest_stop(&gs);
	{
		int fd = connect_unix(d.mgmt);

		CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"stats\"}"), "\"vmm_protocol_errors\":11");
		close(fd);
	}
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* A frame left incomplete is timed out (the VMM keeps the socket open). */
static void
test_frame_timeout(void)
{
	static const char *const extra[] = { "--frame-timeout-ms", "200", NULL };
	struct daemon d;
	uint8_t f[64];
	int fd;
	ssize_t n;

	setup(&d, extra);
	fd = connect_unix(d.vmm);
	REQUIRE(fd >= 0);
	n = (ssize_t)hello(f, 1);
	CHECK(write(fd, f, 10) == 10);            /* 10 of HELLO's 32 bytes */
	n = read_to_eof(fd, f, sizeof(f));
	REQUIRE(n >= 12);
	CHECK_EQ(vv_le32(f), VV_VMM_MSG_ERROR);
	CHECK_EQ(vv_le32(f + 8), VV_VMM_ERR_TIMEOUT);
	close(fd);
	CHECK(alive(&d));
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

static void
test_second_vmm_refused(void)
{
	struct daemon d;
	struct guest gs;
	struct vv_error err;
	struct vv_client *second;
	uint8_t buf[8];
	uint64_t size = sizeof(buf);
	uint32_t attr;

	setup(&d, NULL);
	REQUIRE(guest_start(&gs, d.vmm, false));
	second = vv_client_connect(d.vmm, &err);
	CHECK(second == NULL);
	CHECK_HAS(err.msg, "error 3");
	CHECK_HAS(err.msg, "another VMM");
	/* the first is undisturbed */
	CHECK_STATUS(fw_get_variable(&gs.g, U("SetupMode"), &VV_GUID_GLOBAL_VARIABLE, &attr, buf,
				     &size), VV_EFI_SUCCESS);
	guest_stop(&gs);
	/* once it is gone, a new VMM is accepted (the daemon notices the
	 * close on its next poll round) */
	for (int i = 0; i < 100 && (second = vv_client_connect(d.vmm, &err)) == NULL; i++)
		msleep(10);
	CHECK(second != NULL);
	vv_client_free(second);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* The client reconnects after a daemon restart; NV data survived. */
static void
test_reconnect(void)
{
	struct daemon d;
	struct guest gs;
	uint8_t buf[8];
	uint64_t size = sizeof(buf);
	uint32_t attr;

	setup(&d, NULL);
	REQUIRE(guest_start(&gs, d.vmm, false));
	CHECK_STATUS(fw_set_variable(&gs.g, U("Keep"), &test_guid, NV_BS_RT, "k", 1),
		     VV_EFI_SUCCESS);
	CHECK_EQ(stop(&d), 0);
	REQUIRE(start(&d, NULL));
	CHECK_STATUS(fw_get_variable(&gs.g, U("Keep"), &test_guid, &attr, buf, &size),
		     VV_EFI_SUCCESS);
	CHECK_EQ(buf[0], 'k');
	CHECK_EQ(vv_client_reconnects(gs.client), 1);
	/* with no daemon at all: EFI_DEVICE_ERROR via transport 0x10 */
	crash(&d);
	size = sizeof(buf);
	CHECK_EQ(fw_get_variable(&gs.g, U("Keep"), &test_guid, &attr, buf, &size),
		 VV_EFI_DEVICE_ERROR);
	CHECK_EQ(gs.g.last_sts, VV_STS_ERR_UNKNOWN);
	guest_stop(&gs);
	cleanup(&d);
}

/*
 * kill -9 at arbitrary points: a child writes Seq = 1, 2, 3 ... and
 * reports each acknowledged value on a pipe; the parent kills the daemon
 * after a varying delay, restarts it and checks that the stored value is
 * the last acknowledged one or the one in flight (never older).
 */
static void
test_kill9_durability(void)
{
	struct daemon d;
	uint32_t last_acked = 0;

	setup(&d, NULL);
	for (int round = 0; round < 12; round++) {
		int pfd[2];
		pid_t writer;
		uint32_t v, stored = 0;
		struct guest gs;
		uint8_t buf[8];
		uint64_t size = sizeof(buf);
		uint32_t attr;
		vv_status st;

		REQUIRE(pipe(pfd) == 0);
		writer = fork();
		if (writer == 0) {
			struct guest w;
			uint32_t seq = last_acked;

			close(pfd[0]);
			if (!guest_start(&w, d.vmm, false))
				_exit(1);
			vv_client_set_timeout(w.client, 2000);
			for (;;) {
				uint8_t le[4];

				seq++;
				vv_put_le32(le, seq);
				if (fw_set_variable(&w.g, U("Seq"), &test_guid, NV_BS_RT, le, 4) !=
				    VV_EFI_SUCCESS)
					_exit(0);
				if (write(pfd[1], &seq, 4) != 4)
					_exit(0);
			}
		}
		close(pfd[1]);
		msleep(20 + (round * 37) % 150);
		crash(&d);
		while (read(pfd[0], &v, 4) == 4)
			last_acked = v;
		close(pfd[0]);
		waitpid(writer, NULL, 0);
		REQUIRE(start(&d, NULL));
		REQUIRE(guest_start(&gs, d.vmm, false));
		/* Before any acknowledgement the variable may be absent, or hold
		 * the first write, in flight when the daemon died. */
		st = fw_get_variable(&gs.g, U("Seq"), &test_guid, &attr, buf, &size);
		if (last_acked > 0 || st != VV_EFI_NOT_FOUND)
			CHECK_STATUS(st, VV_EFI_SUCCESS);
		if (st == VV_EFI_SUCCESS)
			stored = vv_le32(buf);
		/* never lost: stored is the last ack or the write in flight */
		if (stored != last_acked && stored != last_acked + 1)
			printf("# round %d: stored %u, last acknowledged %u\n", round, stored,
			       last_acked);
		CHECK(stored == last_acked || stored == last_acked + 1);
		last_acked = stored;
		guest_stop(&gs);
	}
	CHECK(last_acked > 12);                /* the writers did write */
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* A full disk while saving: the guest gets an error status, the daemon
 * keeps running, and the store -- in memory and on disk -- keeps the last
 * acknowledged value (issue #4 "Bad input and faults"). */
static void
test_disk_full(void)
{
	struct daemon d;
	struct guest gs;
	static uint8_t big[4096];
	uint8_t buf[16];
	uint64_t size = sizeof(buf);
	uint32_t attr;
	char path[128];
	struct stat st;
	int fd;

	setup(&d, NULL);
	REQUIRE(guest_start(&gs, d.vmm, false));
	CHECK_STATUS(fw_set_variable(&gs.g, U("Keep"), &test_guid, NV_BS_RT, "old", 3),
		     VV_EFI_SUCCESS);
	guest_stop(&gs);
	CHECK_EQ(stop(&d), 0);                   /* compacts into vars.json */
	snprintf(path, sizeof(path), "%s/vars.json", d.dir);
	REQUIRE(stat(path, &st) == 0);

	/* the snapshot still fits; a journal record of a 4 KiB value does not */
	fsize_limit = (rlim_t)st.st_size + 64;
	REQUIRE(start(&d, NULL));
	fsize_limit = 0;
	REQUIRE(guest_start(&gs, d.vmm, false));
	memset(big, 0x5a, sizeof(big));
	CHECK_STATUS(fw_set_variable(&gs.g, U("Keep"), &test_guid, NV_BS_RT, big, sizeof(big)),
		     VV_EFI_DEVICE_ERROR);
	CHECK_STATUS(fw_set_variable(&gs.g, U("New"), &test_guid, NV_BS_RT, big, sizeof(big)),
		     VV_EFI_DEVICE_ERROR);
	CHECK_STATUS(fw_get_variable(&gs.g, U("Keep"), &test_guid, &attr, buf, &size),
		     VV_EFI_SUCCESS);
	CHECK(size == 3 && memcmp(buf, "old", 3) == 0);
	size = sizeof(buf);
	CHECK_STATUS(fw_get_variable(&gs.g, U("New"), &test_guid, &attr, buf, &size),
		     VV_EFI_NOT_FOUND);
	/* A volatile write changes the service state, which must be
	 * recorded (runtime.state) before the guest is answered: with no
	 * room for the record the daemon refuses, and serves nothing more
	 * until the VM is reset (issue #12). */
	CHECK_STATUS(fw_set_variable(&gs.g, U("Vol"), &test_guid, BS_RT, "v", 1),
		     VV_EFI_DEVICE_ERROR);
	CHECK_STATUS(fw_get_variable(&gs.g, U("Keep"), &test_guid, &attr, buf, &size),
		     VV_EFI_DEVICE_ERROR);
	fd = connect_unix(d.mgmt);
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"get\",\"name\":\"Keep\",\"guid\":\"" TEST_GUID_TEXT
			    "\"}"), "6f6c64");       /* "old" */
	close(fd);
	CHECK(alive(&d));
	guest_stop(&gs);
	CHECK_EQ(stop(&d), 0);

	/* on disk: the acknowledged value, nothing of the failed writes */
	REQUIRE(start(&d, NULL));
	REQUIRE(guest_start(&gs, d.vmm, false));
	size = sizeof(buf);
	CHECK_STATUS(fw_get_variable(&gs.g, U("Keep"), &test_guid, &attr, buf, &size),
		     VV_EFI_SUCCESS);
	CHECK(size == 3 && memcmp(buf, "old", 3) == 0);
	size = sizeof(buf);
	CHECK_STATUS(fw_get_variable(&gs.g, U("New"), &test_guid, &attr, buf, &size),
		     VV_EFI_NOT_FOUND);
	guest_stop(&gs);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* SIGTERM: clean exit 0, the store file is the flushed one. */
static void
test_sigterm(void)
{
	struct daemon d;
	char path[128];
	struct stat st;
	int fd;

	setup(&d, NULL);
	fd = connect_unix(d.mgmt);
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"set\",\"name\":\"T\",\"guid\":\"" TEST_GUID_TEXT
			    "\",\"attributes\":\"NV|BS\",\"data\":\"aa\"}"), "EFI_SUCCESS");
	close(fd);
	CHECK_EQ(stop(&d), 0);
	snprintf(path, sizeof(path), "%s/vars.json", d.dir);
	CHECK(stat(path, &st) == 0 && st.st_size > 0);
	cleanup(&d);
}

/* The sandbox: a syscall outside the allowlist (execve) kills vmvarsd
 * with SIGSYS; the same run without the sandbox execs /bin/true. */
static void
test_sandbox_kills_execve(void)
{
	static const char *const sandboxed[] = { "--test-forbidden-syscall", NULL };
	static const char *const unsandboxed[] = { "--test-forbidden-syscall", "--no-sandbox",
						    NULL };
	struct daemon d;
	int st;

	memset(&d, 0, sizeof(d));
	snprintf(d.dir, sizeof(d.dir), "/tmp/vmvarsd-test-XXXXXX");
	REQUIRE(mkdtemp(d.dir) != NULL);
	d.pid = spawn(&d, sandboxed);
	REQUIRE(waitpid(d.pid, &st, 0) == d.pid);
	CHECK(WIFSIGNALED(st));
	CHECK_EQ(WIFSIGNALED(st) ? WTERMSIG(st) : 0, SIGSYS);
	d.pid = spawn(&d, unsandboxed);
	REQUIRE(waitpid(d.pid, &st, 0) == d.pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	d.pid = 0;
	cleanup(&d);
}

/*
 * Landlock (src/daemon/landlock.c): an unprivileged vmvarsd -- no chroot
 * -- cannot open a world-readable file outside its state directory once
 * sandboxed, and still keeps its store there.  On a kernel without
 * Landlock the same probe opens the file: the test checks whichever the
 * kernel says it is.
 */
static void
test_landlock_confines_files(void)
{
	static const char *const probe[] = { "--test-forbidden-path", "/etc/passwd", NULL };
	bool landlock = syscall(SYS_landlock_create_ruleset, NULL, 0, 1u /* VERSION */) >= 1;
	struct daemon d;
	int st, fd;

	REQUIRE(access("/etc/passwd", R_OK) == 0);
	printf("# kernel Landlock: %s; daemon uid %u\n", landlock ? "yes" : "no",
	       getuid() == 0 ? 65534u : (unsigned)getuid());
	memset(&d, 0, sizeof(d));
	snprintf(d.dir, sizeof(d.dir), "/tmp/vmvarsd-test-XXXXXX");
	REQUIRE(mkdtemp(d.dir) != NULL);
	snprintf(d.vmm, sizeof(d.vmm), "%s/vmm.sock", d.dir);
	snprintf(d.mgmt, sizeof(d.mgmt), "%s/mgmt.sock", d.dir);
	if (getuid() == 0) {
		unprivileged_uid = 65534;                       /* nobody */
		REQUIRE(chown(d.dir, 65534, 65534) == 0);
	}
	d.pid = spawn(&d, probe);
	REQUIRE(waitpid(d.pid, &st, 0) == d.pid);
	d.pid = 0;
	CHECK(WIFEXITED(st));
	CHECK_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : -1, landlock ? 0 : 3);
	/* the state directory stays usable: a durable write, the final
	 * flush (an atomic rewrite: create, write, rename), a clean exit */
	REQUIRE(start(&d, NULL));
	fd = connect_unix(d.mgmt);
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"set\",\"name\":\"L\",\"guid\":\"" TEST_GUID_TEXT
			    "\",\"attributes\":\"NV|BS\",\"data\":\"aa\"}"), "EFI_SUCCESS");
	close(fd);
	CHECK_EQ(stop(&d), 0);
	REQUIRE(start(&d, NULL));
	fd = connect_unix(d.mgmt);
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"get\",\"name\":\"L\",\"guid\":\"" TEST_GUID_TEXT
			    "\"}"), "\"aa\"");
	close(fd);
	CHECK_EQ(stop(&d), 0);
	unprivileged_uid = 0;
	cleanup(&d);
}

/* ---- vars.json kept current ---- */

/* True if DIR/NAME holds `needle`. */
static bool
file_has(const char *dir, const char *name, const char *needle)
{
	char path[160], buf[1 << 16];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return strstr(buf, needle) != NULL;
}

static long
file_size_of(const char *dir, const char *name)
{
	char path[160];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void
mgmt_set_one(const struct daemon *d, const char *name)
{
	char line[256];
	int fd = connect_unix(d->mgmt);

	snprintf(line, sizeof(line), "{\"cmd\":\"set\",\"name\":\"%s\",\"guid\":\"" TEST_GUID_TEXT
		 "\",\"attributes\":\"NV|BS\",\"data\":\"aa\"}", name);
	CHECK_HAS(mgmt_call(fd, line), "EFI_SUCCESS");
	close(fd);
}

/*
 * The journal is folded into vars.json once no NV change has come for
 * --compact-idle-ms (server.c compact_when_idle), so a tool reading a
 * running VM's vars.json sees the current variables; with 0 it is folded
 * only at exit.
 */
static void
test_idle_compaction(void)
{
	static const char *const quick[] = { "--compact-idle-ms", "100", NULL };
	static const char *const never[] = { "--compact-idle-ms", "0", NULL };
	static const char *const bad[] = { "--compact-idle-ms", "3600001", NULL };
	struct daemon d;
	bool folded = false;
	int st;

	setup(&d, quick);
	/* what the daemon wrote while opening a new store (Secure Boot's
	 * initial state) is folded in without any further write */
	for (int i = 0; i < 500 && !folded; i++) {       /* up to 5 s */
		msleep(10);
		folded = file_has(d.dir, "vars.json", "VendorKeysNv") &&
			 file_size_of(d.dir, "vars.json.journal") <= 0;
	}
	CHECK(folded);
	folded = false;
	mgmt_set_one(&d, "IdleFolded");
	for (int i = 0; i < 500 && !folded; i++) {       /* up to 5 s */
		msleep(10);
		folded = file_has(d.dir, "vars.json", "IdleFolded") &&
			 file_size_of(d.dir, "vars.json.journal") <= 0;
	}
	CHECK(folded);
	CHECK(alive(&d));
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);

	setup(&d, never);
	mgmt_set_one(&d, "IdleJournal");
	msleep(300);
	CHECK(!file_has(d.dir, "vars.json", "IdleJournal"));   /* acknowledged: in the journal */
	CHECK(file_has(d.dir, "vars.json.journal", "IdleJournal"));
	CHECK_EQ(stop(&d), 0);
	CHECK(file_has(d.dir, "vars.json", "IdleJournal"));    /* folded at exit */
	d.pid = spawn(&d, bad);
	REQUIRE(waitpid(d.pid, &st, 0) == d.pid);
	d.pid = 0;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	cleanup(&d);
}

/* ---- adaptive busy polling ---- */

/* --poll-us takes 0..10000; anything else is a usage error (exit 2)
 * before anything is opened. */
static void
test_poll_us_usage(void)
{
	static const char *const bad[] = { "abc", "-1", "10001", "", "12x", "99999999999999999999" };
	struct daemon d;
	int st;

	memset(&d, 0, sizeof(d));
	snprintf(d.dir, sizeof(d.dir), "/tmp/vmvarsd-test-XXXXXX");
	REQUIRE(mkdtemp(d.dir) != NULL);
	snprintf(d.vmm, sizeof(d.vmm), "%s/vmm.sock", d.dir);
	snprintf(d.mgmt, sizeof(d.mgmt), "%s/mgmt.sock", d.dir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *extra[] = { "--poll-us", bad[i], NULL };

		d.pid = spawn(&d, extra);
		REQUIRE(waitpid(d.pid, &st, 0) == d.pid);
		if (!(WIFEXITED(st) && WEXITSTATUS(st) == 2))
			printf("# --poll-us '%s': status 0x%x\n", bad[i], st);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	}
	d.pid = 0;
	/* the bounds themselves are accepted */
	{
		static const char *const zero[] = { "--poll-us", "0", NULL };
		static const char *const most[] = { "--poll-us", "10000", NULL };

		REQUIRE(start(&d, zero));
		CHECK_EQ(stop(&d), 0);
		REQUIRE(start(&d, most));
		CHECK_EQ(stop(&d), 0);
	}
	cleanup(&d);
}

/* An MM_REQUEST frame of GetVariable(SetupMode, global GUID) in out, for
 * a buffer of buffer_size bytes, with DataSize ds (the room the reply
 * has: it is as long as the request); returns its length. */
static size_t
setup_mode_frame(uint8_t *out, uint32_t buffer_size, size_t ds)
{
	static const char name[] = "SetupMode";
	const size_t ns = sizeof(name) * 2, msg = 16 + 36 + ns + ds, total = 24 + msg;
	uint8_t *b = out + 12;

	memset(out, 0, 12 + total);
	put_frame(out, VV_VMM_MSG_MM_REQUEST, (uint32_t)(4 + total));
	vv_put_le32(out + 8, buffer_size);
	memcpy(b, VV_GUID_SMM_VARIABLE.b, 16);
	vv_put_le64(b + 16, msg);
	vv_put_le64(b + 24, VV_MM_GET_VARIABLE);
	memcpy(b + 40, VV_GUID_GLOBAL_VARIABLE.b, 16);
	vv_put_le64(b + 56, ds);
	vv_put_le64(b + 64, ns);
	for (size_t i = 0; i < sizeof(name); i++)
		vv_put_le16(b + 76 + 2 * i, (uint8_t)name[i]);
	return 12 + total;
}

/* The plain one: a 4 KiB buffer, 8 bytes of data. */
static size_t
get_setup_mode_frame(uint8_t *out)
{
	return setup_mode_frame(out, 4096, 8);
}

/* Reads exactly len bytes (5 s at most); false if they did not come. */
static bool
read_exact(int fd, uint8_t *buf, size_t len)
{
	size_t n = 0;

	while (n < len) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&p, 1, 5000) <= 0)
			return false;
		r = read(fd, buf + n, len - n);
		if (r <= 0)
			return false;
		n += (size_t)r;
	}
	return true;
}

/* Sends one GetVariable(SetupMode) and checks the whole reply: frame
 * type and length, transport status, EFI status, size and value (1: the
 * store is in Setup Mode). */
static void
check_get_setup_mode(int fd)
{
	uint8_t req[256], rep[256];
	size_t n = get_setup_mode_frame(req), total = n - 12;

	CHECK(write(fd, req, n) == (ssize_t)n);
	REQUIRE(read_exact(fd, rep, 8 + 2 + total));
	CHECK_EQ(vv_le32(rep), VV_VMM_MSG_MM_REPLY);
	CHECK_EQ(vv_le32(rep + 4), 2 + total);
	CHECK_EQ(vv_le16(rep + 8), VV_STS_SUCCESS);
	CHECK_EQ(vv_le64(rep + 10 + 32), VV_EFI_SUCCESS);
	CHECK_EQ(vv_le64(rep + 10 + 56), 1);                    /* DataSize */
	CHECK_EQ(rep[10 + 76 + 20], 1);                         /* SetupMode */
}

/*
 * Requests that arrive while the daemon is inside its poll window are
 * served like any other: back to back (the next one is written as soon as
 * the reply is read), after a pause shorter than the 10 ms window, and
 * after one longer than it (the daemon has gone back to sleep).  Nothing
 * else is on the socket afterwards.
 */
static void
test_requests_inside_window(void)
{
	static const char *const extra[] = { "--poll-us", "10000", NULL };
	struct daemon d;
	uint8_t buf[64];
	int fd;

	setup(&d, extra);
	fd = connect_unix(d.vmm);
	REQUIRE(fd >= 0);
	CHECK(write(fd, buf, hello(buf, 1)) == 32);
	REQUIRE(read_exact(fd, buf, 32));
	CHECK_EQ(vv_le32(buf), VV_VMM_MSG_HELLO_REPLY);
	for (int i = 0; i < 100; i++)
		check_get_setup_mode(fd);
	msleep(1);
	check_get_setup_mode(fd);
	msleep(50);
	check_get_setup_mode(fd);
	check_get_setup_mode(fd);
	{
		struct pollfd p = { fd, POLLIN, 0 };

		CHECK_EQ(poll(&p, 1, 20), 0);                    /* no stray bytes */
	}
	close(fd);
	fd = connect_unix(d.mgmt);
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"stats\"}"), "\"vmm_protocol_errors\":0");
	close(fd);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/*
 * The management socket and SIGTERM are served while a VMM keeps the
 * daemon busy (a child sends GetVariable after GetVariable, the daemon at
 * its longest window, the client spinning): each management answer is
 * exact, the guest's requests all succeed, and SIGTERM ends the daemon
 * with status 0 while the VMM is still sending.
 */
static void
test_mgmt_while_vmm_busy(void)
{
	static const char *const extra[] = { "--poll-us", "10000", NULL };
	struct daemon d;
	pid_t busy;
	int fd, st, go[2];

	setup(&d, extra);
	fd = connect_unix(d.mgmt);
	REQUIRE(fd >= 0);
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"set\",\"name\":\"Host\",\"guid\":\"" TEST_GUID_TEXT
			    "\",\"attributes\":\"NV|BS|RT\",\"data\":\"00\"}"), "EFI_SUCCESS");
	REQUIRE(pipe(go) == 0);
	busy = fork();
	if (busy == 0) {
		struct guest gs;
		uint8_t b[8];
		uint32_t attr;
		int failures = 0;

		close(go[0]);
		close(fd);
		client_poll_us = 1000000;
		if (!guest_start(&gs, d.vmm, false))
			_exit(2);
		if (write(go[1], "g", 1) != 1)
			_exit(2);
		/* until the daemon goes away (SIGTERM below), at most 20 s */
		for (int i = 0; i < 2000000; i++) {
			uint64_t size = sizeof(b);
			uint64_t got = fw_get_variable(&gs.g, U("Host"), &test_guid, &attr, b, &size);

			if (got == VV_EFI_DEVICE_ERROR)
				break;                          /* the daemon has exited */
			if (got != VV_EFI_SUCCESS || size != 1)
				failures++;
		}
		_exit(failures == 0 ? 0 : 1);
	}
	close(go[1]);
	{
		char c;

		REQUIRE(read(go[0], &c, 1) == 1);       /* the guest is connected */
		close(go[0]);
	}
	for (int i = 1; i <= 30; i++) {
		char line[256], want[32];

		snprintf(line, sizeof(line), "{\"cmd\":\"set\",\"name\":\"Host\",\"guid\":\""
			 TEST_GUID_TEXT "\",\"attributes\":\"NV|BS|RT\",\"data\":\"%02x\"}", i);
		CHECK_HAS(mgmt_call(fd, line), "EFI_SUCCESS");
		snprintf(want, sizeof(want), "\"data\":\"%02x\"", i);
		CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"get\",\"name\":\"Host\",\"guid\":\""
				    TEST_GUID_TEXT "\"}"), want);
	}
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"stats\"}"), "\"vmm_protocol_errors\":0");
	close(fd);
	CHECK(alive(&d));
	CHECK_EQ(stop(&d), 0);                          /* SIGTERM, VMM busy */
	REQUIRE(waitpid(busy, &st, 0) == busy);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cleanup(&d);
}

/* ---- restart safety (issue #12, finding 2) ---- */

/* PK (a fresh self-signed certificate) as an EFI_CERT_X509 list, hex. */
static char *
pk_esl_hex(const char *dir)
{
	static const char x509_type[] = "a159c0a5e494a74a87b5ab155c2bf072";
	char cmd[512], path[160];
	uint8_t der[4096];
	size_t n, list;
	char *hex, *o;
	FILE *f;

	snprintf(path, sizeof(path), "%s.pk.der", dir);
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=PK "
		 "-days 30 -keyout /dev/null -outform DER -out %s 2>/dev/null", path);
	if (system(cmd) != 0 || (f = fopen(path, "rb")) == NULL)
		return NULL;
	n = fread(der, 1, sizeof(der), f);
	fclose(f);
	unlink(path);
	list = 28 + 16 + n;
	hex = malloc(2 * list + 1);
	if (hex == NULL || n == 0 || n == sizeof(der))
		return free(hex), NULL;
	o = hex + sprintf(hex, "%s", x509_type);
	o += sprintf(o, "%02x%02x%02x%02x", (unsigned)(list & 0xff), (unsigned)(list >> 8 & 0xff),
		     (unsigned)(list >> 16 & 0xff), 0u);
	o += sprintf(o, "00000000");                                     /* header size */
	o += sprintf(o, "%02x%02x0000", (unsigned)((16 + n) & 0xff), (unsigned)((16 + n) >> 8));
	o += sprintf(o, "11111111222233334444555555555555");             /* owner */
	for (size_t i = 0; i < n; i++)
		o += sprintf(o, "%02x", der[i]);
	return hex;
}

/* A db write a running OS could try without any key: an AUTHENTICATION_2
 * descriptor whose PKCS#7 is garbage, and a valid SHA-256 list. */
static size_t
unsigned_db_write(uint8_t *out)
{
	static const uint8_t sha256_type[16] = { 0x26, 0x16, 0xc4, 0xc1, 0x4c, 0x50, 0x92, 0x40,
						  0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28 };
	static const uint8_t pkcs7_guid[16] = { 0x9d, 0xd2, 0xaf, 0x4a, 0xdf, 0x68, 0xee, 0x49,
						 0x8a, 0xa9, 0x34, 0x7d, 0x37, 0x56, 0x65, 0xa7 };
	size_t n = 0;

	memset(out, 0, 200);
	vv_put_le16(out, 2030);                          /* 2030-01-01 00:00:00 */
	out[2] = 1;
	out[3] = 1;
	vv_put_le32(out + 16, 24 + 8);                   /* 8 bytes of "PKCS#7" */
	vv_put_le16(out + 20, 0x0200);
	vv_put_le16(out + 22, 0x0ef1);
	memcpy(out + 24, pkcs7_guid, 16);
	memset(out + 40, 0x30, 8);
	n = 48;
	memcpy(out + n, sha256_type, 16);
	vv_put_le32(out + n + 16, 28 + 48);
	vv_put_le32(out + n + 24, 48);
	memset(out + n + 28 + 16, 0xab, 32);
	return n + 28 + 48;
}

/* What a running OS may try; every answer, for comparison. */
struct os_view {
	vv_status custom_mode, db_unsigned, mor, locked, new_volatile, get_bs_only, get_rt;
	int secure_boot;
	uint8_t rt_value;
};

static void
probe_os_view(struct fw_guest *g, struct os_view *v)
{
	const vv_guid *gv = &VV_GUID_GLOBAL_VARIABLE;
	uint8_t db[256], buf[16];
	uint64_t size;
	uint32_t attr;
	size_t n = unsigned_db_write(db);

	memset(v, 0, sizeof(*v));
	v->custom_mode = fw_set_variable(g, U("CustomMode"), &VV_GUID_CUSTOM_MODE,
					 VV_ATTR_NV | VV_ATTR_BS, "\x01", 1);
	v->db_unsigned = fw_set_variable(g, U("db"), &VV_GUID_IMAGE_SECURITY_DB,
					 NV_BS_RT | VV_ATTR_AT, db, n);
	v->mor = fw_set_variable(g, U("MemoryOverwriteRequestControl"), &VV_GUID_MOR, NV_BS_RT,
				 "\x00", 1);
	v->locked = fw_set_variable(g, U("Locked"), &test_guid, NV_BS_RT, "X", 1);
	v->new_volatile = fw_set_variable(g, U("Later"), &test_guid, BS_RT, "x", 1);
	size = sizeof(buf);
	v->get_bs_only = fw_get_variable(g, U("VolBS"), &test_guid, &attr, buf, &size);
	size = sizeof(buf);
	v->get_rt = fw_get_variable(g, U("VolRT"), &test_guid, &attr, buf, &size);
	v->rt_value = v->get_rt == VV_EFI_SUCCESS ? buf[0] : 0;
	size = sizeof(buf);
	v->secure_boot = fw_get_variable(g, U("SecureBoot"), gv, &attr, buf, &size) ==
			 VV_EFI_SUCCESS ? buf[0] : -1;
}

static void
check_os_view(const struct os_view *v)
{
	CHECK_STATUS(v->custom_mode, VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(v->db_unsigned, VV_EFI_SECURITY_VIOLATION);
	CHECK_STATUS(v->mor, VV_EFI_ACCESS_DENIED);
	CHECK_STATUS(v->locked, VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(v->new_volatile, VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(v->get_bs_only, VV_EFI_NOT_FOUND);
	CHECK_STATUS(v->get_rt, VV_EFI_SUCCESS);
	CHECK_EQ(v->rt_value, 'r');
	CHECK_EQ(v->secure_boot, 1);
}

/*
 * The review's reproducer: a VM in user mode boots to its OS (keyed
 * MORLock, a LOCK_NOW policy, ExitBootServices), then vmvarsd is killed
 * and restarted.  Before issue #12 the restarted daemon treated the OS as
 * boot-time firmware: CustomMode=1 and then an unsigned db write
 * succeeded, MOR was writable.  Now it restores the recorded state; and a
 * record it cannot trust makes it refuse until the VM is reset.
 */
static void
test_restart_keeps_security_state(void)
{
	static const char *const tpm[] = { "--tpm", NULL };
	static const uint8_t key[8] = { 8, 7, 6, 5, 4, 3, 2, 1 };
	struct daemon d;
	struct guest gs;
	struct os_view before, after;
	uint8_t entry[256], buf[16];
	char *esl, *line, path[160];
	uint64_t size;
	uint32_t attr;
	size_t n;
	int fd;

	setup(&d, tpm);
	esl = pk_esl_hex(d.dir);
	if (esl == NULL)
		SKIP("the openssl command is missing (./dev deps installs it)");
	line = malloc(strlen(esl) + 64);
	REQUIRE(line != NULL);
	sprintf(line, "{\"cmd\":\"enroll\",\"db\":\"PK\",\"esl\":\"%s\"}", esl);
	fd = connect_unix(d.mgmt);
	CHECK_HAS(mgmt_call(fd, line), "\"mode\":\"user\"");
	close(fd);
	free(line);
	free(esl);

	/* a boot up to the OS */
	REQUIRE(guest_start(&gs, d.vmm, false));
	CHECK_STATUS(fw_set_variable(&gs.g, U("Locked"), &test_guid, NV_BS_RT, "L", 1),
		     VV_EFI_SUCCESS);
	n = fw_policy_entry(entry, &test_guid, U("Locked"), 0, VV_POLICY_NO_MAX_SIZE, 0, 0,
			    VV_POLICY_LOCK_NOW);
	CHECK_STATUS(fw_policy_register(&gs.g, entry, n), VV_EFI_SUCCESS);
	CHECK_STATUS(fw_set_variable(&gs.g, U("VolBS"), &test_guid, VV_ATTR_BS, "b", 1),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(fw_set_variable(&gs.g, U("VolRT"), &test_guid, BS_RT, "r", 1),
		     VV_EFI_SUCCESS);
	CHECK_EQ(fw_event(&gs.g, &VV_GUID_END_OF_DXE), VV_STS_SUCCESS);
	CHECK_STATUS(fw_set_variable(&gs.g, U("MemoryOverwriteRequestControlLock"),
				     &VV_GUID_MOR_LOCK, NV_BS_RT, key, 8), VV_EFI_SUCCESS);
	CHECK_STATUS(fw_smm_function(&gs.g, VV_MM_READY_TO_BOOT), VV_EFI_SUCCESS);
	CHECK_EQ(fw_event(&gs.g, &VV_GUID_EXIT_BOOT_SERVICES), VV_STS_SUCCESS);
	probe_os_view(&gs.g, &before);
	check_os_view(&before);

	/* the daemon dies (OOM kill, crash) and systemd starts it again;
	 * the VM and its VMM connection's client go on */
	crash(&d);
	REQUIRE(start(&d, tpm));
	probe_os_view(&gs.g, &after);
	check_os_view(&after);
	CHECK_EQ(vv_client_reconnects(gs.client), 1);
	CHECK(log_has(&d, "restored the running VM's service state (phase: runtime)", false));
	/* the keyed MOR lock still knows its key: the right one unlocks */
	CHECK_STATUS(fw_set_variable(&gs.g, U("MemoryOverwriteRequestControlLock"),
				     &VV_GUID_MOR_LOCK, NV_BS_RT, key, 8), VV_EFI_SUCCESS);

	/* a record that does not verify: nothing is served until a reset */
	crash(&d);
	snprintf(path, sizeof(path), "%s/runtime.state", d.dir);
	fd = open(path, O_RDWR);
	REQUIRE(fd >= 0);
	REQUIRE(pwrite(fd, "\xff", 1, 60) == 1);
	close(fd);
	REQUIRE(start(&d, tpm));
	size = sizeof(buf);
	CHECK_STATUS(fw_get_variable(&gs.g, U("VolRT"), &test_guid, &attr, buf, &size),
		     VV_EFI_DEVICE_ERROR);
	CHECK_HAS(vv_client_last_error(gs.client), "checksum mismatch");
	size = sizeof(buf);
	CHECK_STATUS(fw_get_variable(&gs.g, U("SecureBoot"), &VV_GUID_GLOBAL_VARIABLE, &attr, buf,
				     &size), VV_EFI_DEVICE_ERROR);
	CHECK(log_has(&d, "no MM request is served until the VMM resets the VM", false));
	/* the VMM resets the VM: a power-on, served again */
	vv_uefi_vars_device_reset(gs.dev);
	{
		char why[128];

		REQUIRE(fw_guest_init(&gs.g, gs.dev, why, sizeof(why)) == 0);
	}
	size = sizeof(buf);
	CHECK_STATUS(fw_get_variable(&gs.g, U("VolRT"), &test_guid, &attr, buf, &size),
		     VV_EFI_NOT_FOUND);
	CHECK_STATUS(fw_set_variable(&gs.g, U("VolRT"), &test_guid, BS_RT, "s", 1),
		     VV_EFI_SUCCESS);
	CHECK(access(path, F_OK) == 0);          /* recorded again */
	guest_stop(&gs);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* ---- one writer per store (backend/store_lock.h) ---- */

/* DIR/NAME's bytes into buf (at most cap); the length, or -1 if it cannot
 * be read (absent). */
static long
read_bytes(const char *dir, const char *name, char *buf, size_t cap)
{
	char path[160];
	long n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	n = (long)fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

/* DIR/NAME holds exactly the n bytes of want (n -1: DIR/NAME is absent). */
static bool
same_bytes(const char *dir, const char *name, const char *want, long n)
{
	static char now[1 << 16];

	return read_bytes(dir, name, now, sizeof(now)) == n && (n <= 0 || memcmp(now, want, (size_t)n) == 0);
}


/* What a refused writer is told while d's daemon holds its store. */
static void
in_use_message(const struct daemon *d, char *out, size_t cap)
{
	snprintf(out, cap, "%s/vars.json is in use by vmvarsd (pid %ld); stop it or edit "
		 "through its management socket", d->dir, (long)d->pid);
}

/* What a refused vmvars writer is told (src/cli/live.c): the daemon and
 * the live form; outside the state root, the socket. */
static void
cli_in_use_message(const struct daemon *d, char *out, size_t cap)
{
	snprintf(out, cap, "%s/vars.json is in use by vmvarsd (pid %ld), which serves it to a "
		 "running VM; edit it live with --socket %s/mgmt.sock (its --mgmt-socket)",
		 d->dir, (long)d->pid, d->dir);
}

/* Waits up to 5 s for pid to exit; its exit status, or -1 (killed: it
 * did not exit, or died of a signal). */
static int
exit_status_within_5s(pid_t pid)
{
	int st;

	for (int i = 0; i < 500; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		msleep(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static void
mgmt_expect(const struct daemon *d, const char *line, const char *needle)
{
	int fd = connect_unix(d->mgmt);

	CHECK(fd >= 0);
	CHECK_HAS(fd >= 0 ? mgmt_call(fd, line) : "", needle);
	if (fd >= 0)
		close(fd);
}

#define GET_LINE(name) "{\"cmd\":\"get\",\"name\":\"" name "\",\"guid\":\"" TEST_GUID_TEXT "\"}"

/*
 * `vmvarsd --check` on the directory of a running daemon is refused and
 * touches nothing.  Before the lock, it compacted and truncated the
 * journal under the daemon, whose next append landed past a hole of zero
 * bytes: the store no longer loaded after a crash.  Here the daemon's
 * write after the refused check must load after a kill -9 (replayed from
 * the journal, never folded by a clean exit).
 */
static void
test_check_refused_on_live_store(void)
{
	static const char *const no_fold[] = { "--compact-idle-ms", "0", NULL };
	static const char *const check[] = { "--check", NULL };
	static char journal[1 << 16], snapshot[1 << 16];
	struct daemon d, c;
	char want[600];
	long jn, sn;

	setup(&d, no_fold);
	mgmt_set_one(&d, "BeforeCheck");
	jn = read_bytes(d.dir, "vars.json.journal", journal, sizeof(journal));
	sn = read_bytes(d.dir, "vars.json", snapshot, sizeof(snapshot));
	CHECK(jn > 0);                                  /* acknowledged: in the journal */
	c = d;
	c.pid = spawn(&c, check);
	CHECK_EQ(exit_status_within_5s(c.pid), 1);
	in_use_message(&d, want, sizeof(want));
	{
		char line[700];

		snprintf(line, sizeof(line), "vmvarsd[%ld]: error: %s", (long)c.pid, want);
		CHECK(log_has(&d, line, true));
	}
	CHECK(same_bytes(d.dir, "vars.json.journal", journal, jn));
	CHECK(same_bytes(d.dir, "vars.json", snapshot, sn));
	CHECK(alive(&d));
	mgmt_set_one(&d, "AfterCheck");                 /* the daemon's next write */
	crash(&d);
	REQUIRE(start(&d, no_fold));
	mgmt_expect(&d, GET_LINE("BeforeCheck"), "\"data\":\"aa\"");
	mgmt_expect(&d, GET_LINE("AfterCheck"), "\"data\":\"aa\"");
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* Counts the entries of dir other than . and .. */
static int
entries(const char *dir)
{
	char cmd[200];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A %s | wc -l", dir);
	if ((p = popen(cmd, "r")) != NULL) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

/*
 * `vmvarsd --check` writes nothing, ever: on an empty directory it creates
 * no file (no journal, no snapshot, no lock file); on a stopped store with
 * a torn last journal record it reports the store and leaves the tail (and
 * every other byte) as it was.
 */
static void
test_check_writes_nothing(void)
{
	static const char *const no_fold[] = { "--compact-idle-ms", "0", NULL };
	static const char *const check[] = { "--check", NULL };
	static char journal[1 << 16], snapshot[1 << 16];
	struct daemon d;
	char line[300], path[160];
	long jn, sn;
	FILE *f;

	memset(&d, 0, sizeof(d));
	snprintf(d.dir, sizeof(d.dir), "/tmp/vmvarsd-test-XXXXXX");
	REQUIRE(mkdtemp(d.dir) != NULL);
	snprintf(d.vmm, sizeof(d.vmm), "%s/vmm.sock", d.dir);
	snprintf(d.mgmt, sizeof(d.mgmt), "%s/mgmt.sock", d.dir);
	d.pid = spawn(&d, check);
	CHECK_EQ(exit_status_within_5s(d.pid), 0);
	d.pid = 0;
	CHECK_EQ(entries(d.dir), 0);

	REQUIRE(start(&d, no_fold));
	mgmt_set_one(&d, "Kept");
	crash(&d);                                      /* the journal holds Kept */
	snprintf(path, sizeof(path), "%s/vars.json.journal", d.dir);
	REQUIRE((f = fopen(path, "a")) != NULL);
	fputs("0badc0de {\"op\":\"put\",\"gu", f);     /* a torn append */
	fclose(f);
	jn = read_bytes(d.dir, "vars.json.journal", journal, sizeof(journal));
	sn = read_bytes(d.dir, "vars.json", snapshot, sizeof(snapshot));
	d.pid = spawn(&d, check);
	CHECK_EQ(exit_status_within_5s(d.pid), 0);
	d.pid = 0;
	snprintf(line, sizeof(line), "\n%s/vars.json: OK, ", d.dir);
	CHECK(log_has(&d, line, false));
	CHECK(same_bytes(d.dir, "vars.json.journal", journal, jn));
	CHECK(same_bytes(d.dir, "vars.json", snapshot, sn));
	/* and the store is whole for the daemon, which cuts the tail */
	REQUIRE(start(&d, NULL));
	mgmt_expect(&d, GET_LINE("Kept"), "\"data\":\"aa\"");
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/*
 * A second vmvarsd on the same state directory exits with status 1 and
 * says who holds the store, before it touches the sockets: the first one
 * still serves on its own (before the lock, the second unlinked and
 * rebound both sockets and the first one was cut off).
 */
static void
test_second_daemon_refused(void)
{
	struct daemon d, second;
	char want[600], line[700];
	struct stat before, after;
	struct guest gs;

	setup(&d, NULL);
	REQUIRE(lstat(d.vmm, &before) == 0);
	second = d;
	second.pid = spawn(&second, NULL);
	CHECK_EQ(exit_status_within_5s(second.pid), 1);
	in_use_message(&d, want, sizeof(want));
	snprintf(line, sizeof(line), "vmvarsd[%ld]: error: %s", (long)second.pid, want);
	CHECK(log_has(&d, line, true));
	/* the same socket inode, still answered by the first daemon */
	CHECK(lstat(d.vmm, &after) == 0 && after.st_ino == before.st_ino);
	CHECK(alive(&d));
	mgmt_set_one(&d, "StillServed");
	REQUIRE(guest_start(&gs, d.vmm, false));
	{
		uint8_t buf[8];
		uint64_t size = sizeof(buf);
		uint32_t attr;

		CHECK_STATUS(fw_get_variable(&gs.g, U("StillServed"), &test_guid, &attr, buf,
					     &size), VV_EFI_SUCCESS);
	}
	guest_stop(&gs);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* The lock goes with its holder: after a clean exit and after a kill -9,
 * a new daemon starts on the same directory. */
static void
test_lock_released_at_exit(void)
{
	struct daemon d;

	setup(&d, NULL);
	mgmt_set_one(&d, "One");
	CHECK_EQ(stop(&d), 0);
	REQUIRE(start(&d, NULL));
	mgmt_expect(&d, GET_LINE("One"), "\"data\":\"aa\"");
	crash(&d);
	REQUIRE(start(&d, NULL));
	mgmt_expect(&d, GET_LINE("One"), "\"data\":\"aa\"");
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* Runs the vmvars CLI with args (NULL-terminated); its exit status, its
 * standard error in err. */
static int
run_cli(const char *const *args, char *err, size_t cap)
{
	const char *root = getenv("VMVARS_BUILD_ROOT");
	char exe[512];
	const char *argv[16];
	int pfd[2], st, n = 0;
	size_t len = 0;
	ssize_t r;
	pid_t pid;

	snprintf(exe, sizeof(exe), "%s/src/cli/vmvars", root ? root : ".");
	argv[n++] = exe;
	for (int i = 0; args[i] != NULL && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (pipe(pfd) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 2);
		close(pfd[0]);
		close(pfd[1]);
		int nul = open("/dev/null", O_WRONLY);

		if (nul >= 0)
			dup2(nul, 1);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	while (len < cap - 1 && (r = read(pfd[0], err + len, cap - 1 - len)) > 0)
		len += (size_t)r;
	err[len] = '\0';
	close(pfd[0]);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * Every vmvars command that writes a store is refused on a live daemon's
 * store, with the message naming the store, the daemon and what to do,
 * and leaves the file byte for byte as it was; commands that only read
 * still work (they take no lock).  Once the daemon has stopped the same
 * edit goes through.
 */
static void
test_cli_write_refused_on_live_store(void)
{
	static const char *const no_fold[] = { "--compact-idle-ms", "0", NULL };
	static char snapshot[1 << 16];
	struct daemon d;
	char store[128], want[700], err[1024];
	long sn;

	/* the refusal names the socket, not a VM name under a state root */
	unsetenv("VMVARS_STATE_DIR");
	setup(&d, NULL);
	mgmt_set_one(&d, "Mine");
	CHECK_EQ(stop(&d), 0);                          /* vars.json now holds Mine */
	REQUIRE(start(&d, no_fold));
	snprintf(store, sizeof(store), "%s/vars.json", d.dir);
	sn = read_bytes(d.dir, "vars.json", snapshot, sizeof(snapshot));
	REQUIRE(sn > 0);
	{
		const char *const set[] = { "set", store, "Foo", "--string", "x", "--guid",
					    TEST_GUID_TEXT, NULL };
		const char *const del[] = { "delete", store, "Mine", "--guid", TEST_GUID_TEXT,
					    NULL };
		const char *const boot[] = { "boot", "add", store, "--title", "t", "--path",
					     "/EFI/x.efi", NULL };
		const char *const create[] = { "create", store, "--force", NULL };
		const char *const *writers[] = { set, del, boot, create };
		const char *const names[] = { "set", "delete", "boot", "create" };

		for (size_t i = 0; i < sizeof(writers) / sizeof(writers[0]); i++) {
			char msg[600];

			cli_in_use_message(&d, msg, sizeof(msg));
			snprintf(want, sizeof(want), "vmvars: %s: %s\n", names[i], msg);
			CHECK_EQ(run_cli(writers[i], err, sizeof(err)), 1);
			if (strcmp(err, want) != 0)
				printf("# %s: stderr \"%s\", want \"%s\"\n", names[i], err, want);
			CHECK(strcmp(err, want) == 0);
			CHECK(same_bytes(d.dir, "vars.json", snapshot, sn));
		}
	}
	{
		const char *const list[] = { "list", store, NULL };
		const char *const get[] = { "get", store, "Mine", "--hex", NULL };

		CHECK_EQ(run_cli(list, err, sizeof(err)), 0);
		CHECK_EQ(run_cli(get, err, sizeof(err)), 0);
	}
	/* nothing left behind: the store, journal, lock, the service-state
	 * record and the sockets only */
	CHECK_EQ(entries(d.dir), 6);
	CHECK(alive(&d));
	CHECK_EQ(stop(&d), 0);
	{
		const char *const set[] = { "set", store, "Foo", "--string", "x", "--guid",
					    TEST_GUID_TEXT, NULL };

		CHECK_EQ(run_cli(set, err, sizeof(err)), 0);
		CHECK(file_has(d.dir, "vars.json", "\"Foo\""));
	}
	cleanup(&d);
}

/* ---- the shipped systemd unit (contrib/systemd/vmvarsd@.service.in) ---- */

/* The value of KEY= in the generated unit (static buffer), or NULL. */
static const char *
unit_value(const char *key)
{
	static char line[1024];
	const char *root = getenv("VMVARS_BUILD_ROOT");
	char path[512];
	size_t klen = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "%s/contrib/vmvarsd@.service", root ? root : ".");
	if ((f = fopen(path, "r")) == NULL) {
		printf("# %s: %s\n", path, strerror(errno));
		return NULL;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
			fclose(f);
			line[strcspn(line, "\n")] = '\0';
			return line + klen + 1;
		}
	}
	fclose(f);
	return NULL;
}

/*
 * The unit as shipped, without systemd: the state directory as
 * StateDirectory= makes it for the unit's User= (owned by that user, the
 * unit's StateDirectoryMode=), the daemon started as that user with the
 * options of the unit's ExecStart= line -- the user is nobody here, as no
 * test creates users.  Then NV writes through the VMM client, well past
 * the journal's compaction bound: vars.json is written by the
 * compactions, owned by the user, and the journal never grows past its
 * bound; SIGTERM folds the rest in and leaves the journal empty.  (The
 * unit before had no User= and --user vmvars: a root-owned 0700
 * directory its daemon could not create a file in.)
 */
static void
test_unit_as_shipped(void)
{
	const char *v;
	char exec_copy[1024], *tok, *save = NULL, want_dir[] = "/var/lib/vmvars/%i";
	long mode = -1;
	const char *extra[16];
	static char value[1024];
	struct daemon d;
	struct guest gs;
	struct stat st;
	long max_journal = 0, snap;
	int n = 0, i;

	if (getuid() != 0)
		SKIP("needs root: the unit's user is another uid");
	/* unit_value's buffer is reused: each value is used at once */
	REQUIRE((v = unit_value("ExecStart")) != NULL);
	snprintf(exec_copy, sizeof(exec_copy), "%s", v);
	CHECK((v = unit_value("User")) != NULL && strcmp(v, "vmvars") == 0);
	CHECK((v = unit_value("StateDirectory")) != NULL && strcmp(v, "vmvars/%i") == 0);
	if ((v = unit_value("StateDirectoryMode")) != NULL)
		mode = strtol(v, NULL, 8);
	CHECK_EQ(mode, 0700);

	memset(&d, 0, sizeof(d));
	snprintf(d.dir, sizeof(d.dir), "/tmp/vmvarsd-test-XXXXXX");
	REQUIRE(mkdtemp(d.dir) != NULL);
	snprintf(d.vmm, sizeof(d.vmm), "%s/vmm.sock", d.dir);
	snprintf(d.mgmt, sizeof(d.mgmt), "%s/mgmt.sock", d.dir);
	REQUIRE(chown(d.dir, 65534, 65534) == 0);       /* StateDirectory= with User= */
	REQUIRE(mode > 0 && chmod(d.dir, (mode_t)mode) == 0);

	/* ExecStart=: the installed vmvarsd, --state-dir /var/lib/vmvars/%i
	 * (spawn() passes the build's binary and --state-dir d.dir), and
	 * whatever else it says, passed as it is. */
	tok = strtok_r(exec_copy, " ", &save);
	REQUIRE(tok != NULL && strlen(tok) > 13 && strcmp(tok + strlen(tok) - 13, "/sbin/vmvarsd") == 0);
	tok = strtok_r(NULL, " ", &save);
	REQUIRE(tok != NULL && strcmp(tok, "--state-dir") == 0);
	tok = strtok_r(NULL, " ", &save);
	REQUIRE(tok != NULL && strcmp(tok, want_dir) == 0);
	while ((tok = strtok_r(NULL, " ", &save)) != NULL && n < 15) {
		CHECK(strchr(tok, '%') == NULL);
		extra[n++] = tok;
	}
	extra[n] = NULL;

	unprivileged_uid = 65534;                       /* User= */
	d.pid = spawn(&d, extra);
	unprivileged_uid = 0;
	for (i = 0; i < 500 && access(d.mgmt, F_OK) != 0 && alive(&d); i++)
		msleep(10);
	REQUIRE(alive(&d));
	REQUIRE(guest_start(&gs, d.vmm, false));
	for (i = 0; i < 150; i++) {
		long j;

		memset(value, 'a' + i % 26, sizeof(value));
		CHECK_STATUS(fw_set_variable(&gs.g, U("Big"), &test_guid, NV_BS_RT, value,
					     sizeof(value)), VV_EFI_SUCCESS);
		j = file_size_of(d.dir, "vars.json.journal");
		max_journal = j > max_journal ? j : max_journal;
	}
	guest_stop(&gs);
	/* bound: max(64 KiB, snapshot) plus the record that crossed it */
	snap = file_size_of(d.dir, "vars.json");
	printf("# journal at most %ld bytes, vars.json %ld bytes\n", max_journal, snap);
	CHECK(snap > 0);                                /* written by a compaction */
	CHECK(max_journal <= 64 * 1024 + 4096);
	CHECK_EQ(stop(&d), 0);
	CHECK_EQ(file_size_of(d.dir, "vars.json.journal"), 0);
	CHECK(file_has(d.dir, "vars.json", "7474747474747474"));    /* 't' x 8: the last write */
	{
		char path[160];

		snprintf(path, sizeof(path), "%s/vars.json", d.dir);
		CHECK(stat(path, &st) == 0 && st.st_uid == 65534);
	}
	cleanup(&d);
}

/*
 * Started as root with --user in a directory that user cannot write (what
 * the unit used to do), vmvarsd refuses to start: exit 1, the reason and
 * the fix in its log, rather than failing every compaction later.
 */
static void
test_unwritable_state_dir_refused(void)
{
	static const char *const as_user[] = { "--user", "nobody", NULL };
	struct daemon d;
	char want[400];

	if (getuid() != 0)
		SKIP("needs root: --user");
	memset(&d, 0, sizeof(d));
	snprintf(d.dir, sizeof(d.dir), "/tmp/vmvarsd-test-XXXXXX");
	REQUIRE(mkdtemp(d.dir) != NULL);                /* root's, 0700 */
	d.pid = spawn(&d, as_user);
	CHECK_EQ(exit_status_within_5s(d.pid), 1);
	d.pid = 0;
	snprintf(want, sizeof(want), "error: the state directory %s is not writable by uid 65534 "
		 "(Permission denied): vmvarsd could not save the store; make the directory "
		 "owned by that user (the systemd unit's User= with StateDirectory= does)", d.dir);
	CHECK(log_has(&d, want, false));
	cleanup(&d);
}

/* Counts of a capture's records by type (vv_mm_pcap_read); n[0] is the
 * file offset of the last reply's last byte. */
static int
count_records(void *ctx, const struct vv_mm_pcap_packet *p)
{
	size_t *n = ctx;

	n[p->type]++;
	if (p->type == VV_MM_PCAP_REPLY)
		n[0] = p->offset + 20 + p->payload_len - 1;
	return 0;
}

/* Runs the built vmvars with args; its exit status, its stdout in out. */
static int
run_vmvars(const char *args, char *out, size_t cap)
{
	const char *root = getenv("VMVARS_BUILD_ROOT");
	char cmd[1024];
	FILE *f;
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd), "%s/src/cli/vmvars %s", root ? root : ".", args);
	REQUIRE((f = popen(cmd, "r")) != NULL);
	n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * Issue #17 item 6: vmvarsd --pcap writes every MM request, reply and VM
 * reset as QEMU 11's pcapfile= does; `vmvars pcap replay` sends the
 * requests to a fresh service and gets every reply byte for byte; a
 * changed reply is found.
 */
static void
test_pcap_capture_and_replay(void)
{
	char path[] = "/tmp/vmvarsd-pcap-XXXXXX", args[600], out[4096], want[600];
	const char *const extra[] = { "--pcap", path, NULL };
	const vv_guid *gv = &VV_GUID_GLOBAL_VARIABLE;
	size_t counts[4] = { 0 }, size;
	struct vv_error err;
	struct daemon d;
	struct guest gs;
	uint8_t buf[64], *file, entry[128];
	uint64_t n;
	uint32_t attr;
	int fd;

	REQUIRE((fd = mkstemp(path)) >= 0);
	close(fd);
	setup(&d, extra);
	REQUIRE(guest_start(&gs, d.vmm, false));
	n = fw_policy_entry(entry, &test_guid, U("Small"), 0, 2, 0, 0, VV_POLICY_NO_LOCK);
	CHECK_STATUS(fw_policy_register(&gs.g, entry, n), VV_EFI_SUCCESS);
	CHECK_STATUS(fw_set_variable(&gs.g, U("BootOrder"), gv, NV_BS_RT, "\0\0", 2),
		     VV_EFI_SUCCESS);
	CHECK_EQ(fw_event(&gs.g, &VV_GUID_END_OF_DXE), VV_STS_SUCCESS);
	CHECK_STATUS(fw_set_variable(&gs.g, U("Small"), &test_guid, BS_RT, "abc", 3),
		     VV_EFI_INVALID_PARAMETER);
	n = sizeof(buf);
	CHECK_STATUS(fw_get_variable(&gs.g, U("BootOrder"), gv, &attr, buf, &n), VV_EFI_SUCCESS);
	vv_uefi_vars_device_reset(gs.dev);
	guest_stop(&gs);
	CHECK_EQ(stop(&d), 0);

	REQUIRE((fd = open(path, O_RDWR)) >= 0);
	{
		off_t end = lseek(fd, 0, SEEK_END);

		REQUIRE(end > 24 && (file = malloc((size_t)end)) != NULL);
		REQUIRE(pread(fd, file, (size_t)end, 0) == end);
		size = (size_t)end;
	}
	CHECK_EQ(vv_mm_pcap_read(file, size, count_records, counts, &err), 0);
	/* the management reset at power-on, the guest's reset, the device's */
	CHECK(counts[VV_MM_PCAP_RESET] >= 2);
	CHECK(counts[VV_MM_PCAP_REQUEST] >= 6);
	CHECK_EQ(counts[VV_MM_PCAP_REPLY], counts[VV_MM_PCAP_REQUEST]);
	snprintf(args, sizeof(args), "pcap replay %s", path);
	CHECK_EQ(run_vmvars(args, out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "%s: %zu requests, %zu resets replayed; %zu of %zu replies "
		 "identical, 0 differ, 0 without a replayed reply\n", path,
		 counts[VV_MM_PCAP_REQUEST], counts[VV_MM_PCAP_RESET], counts[VV_MM_PCAP_REPLY],
		 counts[VV_MM_PCAP_REPLY]);
	CHECK(strcmp(out, want) == 0);
	/* the last reply's last byte changed: found, and said where */
	REQUIRE(counts[0] > 24 && counts[0] < size);
	file[counts[0]] ^= 0x5a;
	REQUIRE(pwrite(fd, file + counts[0], 1, (off_t)counts[0]) == 1);
	CHECK_EQ(run_vmvars(args, out, sizeof(out)), 1);
	CHECK_HAS(out, "reply differs from byte");
	CHECK_HAS(out, "1 differ");
	free(file);
	close(fd);
	unlink(path);
	cleanup(&d);
}

/*
 * The two faults of an install that was not finished: the unit's user
 * does not exist (sysusers.d/vmvars.conf never applied), and the daemon,
 * started as that user as the unit does, finds a state directory someone
 * else owns.  Each stops at once with the reason and the fix, and creates
 * nothing (no lock file, no sockets).
 */
static void
test_install_faults_refused(void)
{
	static const char *const no_user[] = { "--user", "vmvars-no-such-user", NULL };
	struct daemon d;
	char want[400], lock[160];

	if (getuid() != 0)
		SKIP("needs root: --user and running as another uid");
	memset(&d, 0, sizeof(d));
	snprintf(d.dir, sizeof(d.dir), "/tmp/vmvarsd-test-XXXXXX");
	REQUIRE(mkdtemp(d.dir) != NULL);
	snprintf(lock, sizeof(lock), "%s/vars.json.lock", d.dir);
	d.pid = spawn(&d, no_user);
	CHECK_EQ(exit_status_within_5s(d.pid), 1);
	d.pid = 0;
	CHECK(log_has(&d, "error: --user vmvars-no-such-user: no such user; create it "
		      "(systemd-sysusers vmvars.conf, or useradd --system vmvars-no-such-user) "
		      "and start again", false));
	CHECK(access(lock, F_OK) != 0);

	/* As the unit's User= (nobody here) in root's 0755 directory. */
	REQUIRE(chmod(d.dir, 0755) == 0);
	unprivileged_uid = 65534;
	d.pid = spawn(&d, NULL);
	unprivileged_uid = 0;
	CHECK_EQ(exit_status_within_5s(d.pid), 1);
	d.pid = 0;
	snprintf(want, sizeof(want), "error: the state directory %s (owner uid 0, mode 0755) is "
		 "not writable by uid 65534 (Permission denied): vmvarsd could not save the store; "
		 "make the directory owned by that user (the systemd unit's User= with "
		 "StateDirectory= does)", d.dir);
	CHECK(log_has(&d, want, false));
	CHECK(access(lock, F_OK) != 0);
	cleanup(&d);
}

/* ---- reconnection ---- */

/* A number from a management reply: the value of "key": (0 if absent). */
static unsigned long long
reply_number(const char *reply, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(reply, pat);
	return p != NULL ? strtoull(p + strlen(pat), NULL, 10) : 0;
}

/* Reads one frame (header and payload up to cap); its type, or 0. */
static uint32_t
read_frame(int fd, uint8_t *buf, size_t cap)
{
	uint32_t len;

	if (!read_exact(fd, buf, 8))
		return 0;
	len = vv_le32(buf + 4);
	if (len > cap - 8 || !read_exact(fd, buf + 8, len))
		return 0;
	return vv_le32(buf);
}

/*
 * Item 3: a VMM that closes cleanly and reconnects at once, 200 times:
 * HELLO, one GetVariable, close, connect again.  Never BUSY: the daemon
 * handles the old connection's hang-up before it accepts the new one.
 */
static void
test_reconnect_after_close_not_busy(void)
{
	enum { ROUNDS = 200 };
	struct daemon d;
	uint8_t buf[256];
	int busy = 0, served = 0, fd;

	/* a daemon that closes on us must fail a check, not kill the test */
	signal(SIGPIPE, SIG_IGN);

	setup(&d, NULL);
	for (int i = 0; i < ROUNDS; i++) {
		uint32_t type;

		fd = connect_unix(d.vmm);
		REQUIRE(fd >= 0);
		CHECK(write(fd, buf, hello(buf, 1)) == 32);
		type = read_frame(fd, buf, sizeof(buf));
		if (type == VV_VMM_MSG_ERROR && vv_le32(buf + 8) == VV_VMM_ERR_BUSY) {
			busy++;
		} else if (type == VV_VMM_MSG_HELLO_REPLY) {
			check_get_setup_mode(fd);
			served++;
		}
		close(fd);
	}
	printf("# %d of %d reconnections refused as busy\n", busy, ROUNDS);
	CHECK_EQ(busy, 0);
	CHECK_EQ(served, ROUNDS);
	fd = connect_unix(d.mgmt);
	{
		const char *r = mgmt_call(fd, "{\"cmd\":\"stats\"}");

		CHECK_EQ(reply_number(r, "vmm_refused"), 0);
		CHECK_EQ(reply_number(r, "vmm_connections"), ROUNDS);
	}
	close(fd);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* ---- sockets ---- */

/*
 * Item 5: the sockets have their modes (VMM 0660, management 0600) from
 * the moment they exist, even when vmvarsd starts with umask 0.  Evidence:
 * inotify on the state directory reports each socket created once and
 * its attributes never changed (a chmod after bind is an IN_ATTRIB), and
 * stat() polled in a loop during the start never sees another mode.
 */
static void
test_socket_modes_from_bind(void)
{
	struct daemon d;
	char evbuf[4096];
	int ifd, created[2] = { 0, 0 }, attrib[2] = { 0, 0 }, wrong = 0, polls = 0;
	bool up = false;
	struct stat st;

	memset(&d, 0, sizeof(d));
	snprintf(d.dir, sizeof(d.dir), "/tmp/vmvarsd-test-XXXXXX");
	REQUIRE(mkdtemp(d.dir) != NULL);
	snprintf(d.vmm, sizeof(d.vmm), "%s/vmm.sock", d.dir);
	snprintf(d.mgmt, sizeof(d.mgmt), "%s/mgmt.sock", d.dir);
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	REQUIRE(ifd >= 0);
	REQUIRE(inotify_add_watch(ifd, d.dir, IN_CREATE | IN_ATTRIB) >= 0);
	spawn_umask = 0;
	d.pid = spawn(&d, NULL);
	spawn_umask = -1;
	for (int i = 0; i < 2000000 && !up; i++) {
		const char *const paths[2] = { d.vmm, d.mgmt };
		const mode_t want[2] = { 0660, 0600 };

		for (int k = 0; k < 2; k++) {
			if (stat(paths[k], &st) == 0 && (st.st_mode & 07777) != want[k]) {
				if (wrong++ == 0)
					printf("# %s seen with mode %o\n", paths[k],
					       (unsigned)(st.st_mode & 07777));
			}
		}
		polls++;
		if (i % 64 == 63) {
			int fd = connect_unix(d.mgmt);

			if (fd >= 0) {
				close(fd);
				up = true;
			}
			if (waitpid(d.pid, NULL, WNOHANG) == d.pid)
				break;
		}
	}
	REQUIRE(up);
	for (;;) {
		ssize_t len = read(ifd, evbuf, sizeof(evbuf));

		if (len <= 0)
			break;
		for (char *p = evbuf; p < evbuf + len;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			int k = ev->len == 0 ? -1 : strcmp(ev->name, "vmm.sock") == 0 ? 0 :
				strcmp(ev->name, "mgmt.sock") == 0 ? 1 : -1;

			if (k >= 0) {
				created[k] += (ev->mask & IN_CREATE) != 0;
				attrib[k] += (ev->mask & IN_ATTRIB) != 0;
			}
			p += sizeof(*ev) + ev->len;
		}
	}
	close(ifd);
	printf("# %d stat() polls during the start\n", polls);
	CHECK_EQ(created[0], 1);
	CHECK_EQ(created[1], 1);
	CHECK_EQ(attrib[0], 0);
	CHECK_EQ(attrib[1], 0);
	CHECK_EQ(wrong, 0);
	CHECK(stat(d.vmm, &st) == 0 && (st.st_mode & 07777) == 0660);
	CHECK(stat(d.mgmt, &st) == 0 && (st.st_mode & 07777) == 0600);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/*
 * As uid `uid` (a child that drops root): connects to path, sends req,
 * and reads until `want` bytes, a newline, or EOF.  The bytes go to out;
 * returns their count, and *eof_after says whether the connection ended
 * right after them.  -1 if the connect failed.
 */
static ssize_t
exchange_as(uid_t uid, const char *path, const void *req, size_t req_len, uint8_t *out,
	    size_t want, bool *eof_after)
{
	int pfd[2], st;
	pid_t pid;
	ssize_t n = -1;
	uint8_t flag = 0;

	REQUIRE(pipe(pfd) == 0);
	pid = fork();
	if (pid == 0) {
		uint8_t buf[1024];
		ssize_t got = 0;
		int fd;

		close(pfd[0]);
		if (setgroups(0, NULL) != 0 || setgid(uid) != 0 || setuid(uid) != 0)
			_exit(2);
		fd = connect_unix(path);
		if (fd >= 0) {
			struct pollfd p = { fd, POLLIN, 0 };

			/* the write may fail: a refusing daemon may have
			 * closed already; what it said is still to be read */
			if (req_len > 0 && write(fd, req, req_len) != (ssize_t)req_len)
				fprintf(stderr, "uid %u: request not sent\n", (unsigned)uid);
			while ((size_t)got < want && poll(&p, 1, 5000) == 1) {
				ssize_t r = read(fd, buf + got, 1);

				if (r <= 0)
					break;
				got++;
				if (buf[got - 1] == '\n')
					break;
			}
			/* closed: EOF, or a reset when our request was still
			 * unread on the daemon's side as it closed */
			if (poll(&p, 1, 2000) == 1) {
				ssize_t r = read(fd, buf + got, 1);

				flag = r == 0 || (r < 0 && errno == ECONNRESET);
			}
		} else {
			got = -1;
		}
		if (write(pfd[1], &got, sizeof(got)) != sizeof(got) ||
		    (got > 0 && write(pfd[1], buf, (size_t)got) != got) ||
		    write(pfd[1], &flag, 1) != 1)
			_exit(4);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &n, sizeof(n)) == sizeof(n) && n > 0) {
		if (read_exact(pfd[0], out, (size_t)n) == false)
			n = -1;
	}
	if (read(pfd[0], &flag, 1) != 1)
		flag = 0;
	*eof_after = flag != 0;
	close(pfd[0]);
	waitpid(pid, &st, 0);
	return n;
}

/*
 * Item 6: the management socket checks the peer's credentials.  The
 * socket files are opened to everyone (chmod 0666, as a permissive
 * systemd SocketMode would) so that only the daemon's check stands:
 *   - daemon as root: uid 65534 gets the documented refusal line and the
 *     close, and the log names it; root is served; uid 65534 on the VMM
 *     socket is served as before (HELLO_REPLY: no credential check);
 *   - daemon as uid 65534: uid 65534 (its own) is served, root is
 *     served, uid 65533 is refused.
 */
static void
test_mgmt_peer_credentials(void)
{
	static const char version[] = "{\"cmd\":\"version\"}\n";
	static const char refused[] = "{\"ok\":false,\"error\":\"permission denied: uid 65534 "
				      "may not use the management socket\"}\n";
	struct daemon d;
	uint8_t out[512], h[32];
	bool eof;
	ssize_t n;
	int fd;

	/* a daemon that closes on us must fail a check, not kill the test */
	signal(SIGPIPE, SIG_IGN);

	if (getuid() != 0)
		SKIP("needs root to connect as other uids");
	setup(&d, NULL);
	REQUIRE(chmod(d.dir, 0711) == 0 && chmod(d.mgmt, 0666) == 0 && chmod(d.vmm, 0666) == 0);
	n = exchange_as(65534, d.mgmt, version, strlen(version), out, sizeof(out), &eof);
	CHECK_EQ(n, (ssize_t)strlen(refused));
	CHECK(n > 0 && memcmp(out, refused, (size_t)n) == 0);
	CHECK(eof);
	CHECK(log_has(&d, "management connection refused: peer uid 65534", false));
	n = exchange_as(65534, d.vmm, h, hello(h, 1), out, 32, &eof);
	CHECK_EQ(n, 32);
	CHECK_EQ(vv_le32(out), VV_VMM_MSG_HELLO_REPLY);
	CHECK(!eof);
	fd = connect_unix(d.mgmt);
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"version\"}"), "\"ok\":true");
	close(fd);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);

	memset(&d, 0, sizeof(d));
	snprintf(d.dir, sizeof(d.dir), "/tmp/vmvarsd-test-XXXXXX");
	REQUIRE(mkdtemp(d.dir) != NULL);
	snprintf(d.vmm, sizeof(d.vmm), "%s/vmm.sock", d.dir);
	snprintf(d.mgmt, sizeof(d.mgmt), "%s/mgmt.sock", d.dir);
	REQUIRE(chown(d.dir, 65534, 65534) == 0 && chmod(d.dir, 0711) == 0);
	unprivileged_uid = 65534;
	REQUIRE(start(&d, NULL));
	unprivileged_uid = 0;
	REQUIRE(chmod(d.mgmt, 0666) == 0);
	n = exchange_as(65534, d.mgmt, version, strlen(version), out, sizeof(out), &eof);
	CHECK(n > 0 && memmem(out, (size_t)n, "\"version\":", 10) != NULL &&
	      memmem(out, (size_t)n, "\"ok\":true}\n", 11) != NULL);
	CHECK(!eof);
	n = exchange_as(65533, d.mgmt, version, strlen(version), out, sizeof(out), &eof);
	CHECK(n > 0 && memmem(out, (size_t)n, "permission denied: uid 65533", 28) != NULL);
	CHECK(eof);
	fd = connect_unix(d.mgmt);
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"version\"}"), "\"ok\":true");
	close(fd);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* ---- timers and management bounds ---- */

/* Sanitizer builds keep freed memory in quarantine: no RSS bound there. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_TEST_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_TEST_BUILD 1
#endif
#endif

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static unsigned long long
daemon_stat(int mgmt_fd, const char *key)
{
	return reply_number(mgmt_call(mgmt_fd, "{\"cmd\":\"stats\"}"), key);
}

/* A VMM connection past the handshake, or -1. */
static int
vmm_connect_hello(const struct daemon *d)
{
	uint8_t buf[32];
	int fd = connect_unix(d->vmm);

	if (fd < 0)
		return -1;
	if (write(fd, buf, hello(buf, 1)) != 32 || !read_exact(fd, buf, 32) ||
	    vv_le32(buf) != VV_VMM_MSG_HELLO_REPLY) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Item 1: a VMM that pipelines.  A child writes 400 GetVariable frames so
 * that each write ends in the middle of a frame (the second half of frame
 * i with the first half of frame i+1, 2 ms apart): the daemon has a
 * partial frame buffered for the whole run (over 800 ms) while every frame
 * completes within a few ms.  With --frame-timeout-ms 250 the timer is per
 * frame: all 400 replies arrive, each exact, no ERROR, and the connection
 * serves one more request afterwards.
 */
static void
test_pipelined_frames_not_timed_out(void)
{
	static const char *const extra[] = { "--frame-timeout-ms", "250", NULL };
	enum { FRAMES = 400 };
	struct daemon d;
	uint8_t frame[256], rep[256];
	size_t n = get_setup_mode_frame(frame), total = n - 12, got = 0;
	int64_t t0;
	pid_t writer;
	int fd, st;

	/* a daemon that closes on us must fail a check, not kill the test */
	signal(SIGPIPE, SIG_IGN);

	setup(&d, extra);
	fd = vmm_connect_hello(&d);
	REQUIRE(fd >= 0);
	t0 = mono_ms();
	writer = fork();
	if (writer == 0) {
		static uint8_t stream[FRAMES * 256];
		size_t off = n / 2;

		for (int i = 0; i < FRAMES; i++)
			memcpy(stream + (size_t)i * n, frame, n);
		if (write(fd, stream, off) != (ssize_t)off)
			_exit(1);
		while (off < (size_t)FRAMES * n) {
			size_t len = off + n <= (size_t)FRAMES * n ? n : (size_t)FRAMES * n - off;

			msleep(2);
			if (write(fd, stream + off, len) != (ssize_t)len)
				_exit(1);
			off += len;
		}
		_exit(0);
	}
	for (int i = 0; i < FRAMES; i++) {
		if (!read_exact(fd, rep, 8 + 2 + total))
			break;
		if (vv_le32(rep) != VV_VMM_MSG_MM_REPLY) {
			printf("# reply %d: frame type %u, code %u\n", i, vv_le32(rep),
			       vv_le32(rep + 8));
			break;
		}
		if (vv_le32(rep + 4) == 2 + total && vv_le16(rep + 8) == VV_STS_SUCCESS &&
		    vv_le64(rep + 10 + 32) == VV_EFI_SUCCESS && rep[10 + 76 + 20] == 1)
			got++;
	}
	printf("# %zu replies in %lld ms with a 250 ms frame timeout\n", got,
	       (long long)(mono_ms() - t0));
	CHECK_EQ(got, FRAMES);
	CHECK(mono_ms() - t0 >= 800);           /* the run outlasted the timeout */
	REQUIRE(waitpid(writer, &st, 0) == writer);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (got == FRAMES)
		check_get_setup_mode(fd);       /* the connection stayed */
	close(fd);
	fd = connect_unix(d.mgmt);
	CHECK_EQ(daemon_stat(fd, "vmm_protocol_errors"), 0);
	close(fd);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/*
 * Item 2: --frame-timeout-ms is exact to the millisecond, not rounded up
 * to the loop's one-second tick.  150 ms: a VMM frame left incomplete at
 * t0 has its ERROR 7 waiting 450 ms later (three timeouts; the old loop
 * slept a whole second); a management line left incomplete then gets its
 * error line and the close after at least 140 ms and well under a second.
 */
static void
test_frame_timeout_ms_exact(void)
{
	static const char *const extra[] = { "--frame-timeout-ms", "150",
					     "--compact-idle-ms", "0", NULL };
	static const char timed_out[] =
		"{\"ok\":false,\"error\":\"request line not completed in time\"}\n";
	struct daemon d;
	uint8_t f[256];
	int v, m;
	int64_t t1, waited;
	ssize_t n;

	/* a daemon that closes on us must fail a check, not kill the test */
	signal(SIGPIPE, SIG_IGN);

	setup(&d, extra);
	v = connect_unix(d.vmm);
	m = connect_unix(d.mgmt);
	REQUIRE(v >= 0 && m >= 0);
	hello(f, 1);
	CHECK(write(v, f, 10) == 10);           /* 10 of HELLO's 32 bytes */
	msleep(450);
	{
		struct pollfd p = { v, POLLIN, 0 };

		CHECK_EQ(poll(&p, 1, 0), 1);    /* the ERROR is already there */
	}
	n = read_to_eof(v, f, sizeof(f));
	REQUIRE(n >= 12);
	CHECK_EQ(vv_le32(f), VV_VMM_MSG_ERROR);
	CHECK_EQ(vv_le32(f + 8), VV_VMM_ERR_TIMEOUT);
	close(v);
	t1 = mono_ms();
	CHECK(write(m, "{\"cmd\":", 7) == 7);
	n = read_to_eof(m, f, sizeof(f));
	waited = mono_ms() - t1;
	printf("# management line timed out after %lld ms\n", (long long)waited);
	CHECK_EQ(n, (ssize_t)strlen(timed_out));
	CHECK(n > 0 && memcmp(f, timed_out, (size_t)n) == 0);
	CHECK(waited >= 140 && waited < 900);
	close(m);
	CHECK(alive(&d));
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* The daemon's VmHWM (peak resident set) in KiB, or -1. */
static long
daemon_peak_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* A child that writes `lines` lines of `{"cmd":"list"}` to fd at once
 * (blocking: it waits whenever the daemon stops reading). */
static pid_t
flood_list(int fd, int lines)
{
	pid_t pid = fork();

	if (pid == 0) {
		static const char line[] = "{\"cmd\":\"list\"}\n";
		size_t len = (size_t)lines * (sizeof(line) - 1), off = 0;
		char *buf = malloc(len);

		signal(SIGPIPE, SIG_IGN);
		if (buf == NULL)
			_exit(2);
		for (int i = 0; i < lines; i++)
			memcpy(buf + (size_t)i * (sizeof(line) - 1), line, sizeof(line) - 1);
		while (off < len) {
			ssize_t w = write(fd, buf + off, len - off);

			if (w <= 0)
				_exit(1);
			off += (size_t)w;
		}
		_exit(0);
	}
	return pid;
}

/* Counts whole reply lines read from fd (non-blocking, at most cap
 * bytes); *bad counts those that are not a successful list. */
struct line_count {
	long lines, bad;
	char head[16];
	size_t head_len;
};


static ssize_t
count_replies(int fd, size_t cap, struct line_count *lc)
{
	static char buf[1 << 16];
	ssize_t r = recv(fd, buf, cap < sizeof(buf) ? cap : sizeof(buf), MSG_DONTWAIT);

	for (ssize_t i = 0; i < r; i++) {
		if (buf[i] == '\n') {
			if (lc->head_len < 12 || memcmp(lc->head, "{\"ok\":true,", 11) != 0)
				lc->bad++;
			lc->lines++;
			lc->head_len = 0;
		} else if (lc->head_len < sizeof(lc->head)) {
			lc->head[lc->head_len++] = buf[i];
		}
	}
	return r;
}

/*
 * Item 4: a management client floods 1 MiB of `list` requests (69,905
 * lines) in one write, first without reading a reply, then reading them
 * 64 KiB at a time, while a VMM sends GetVariable after GetVariable and a
 * second management connection reads the daemon's mgmt_requests counter
 * after each one.  Counted, not timed:
 *   - between two consecutive VMM requests at most 1000 management lines
 *     are handled (the unbounded loop handled one read's worth, thousands
 *     of lines, in one go);
 *   - while nobody reads the replies, the daemon stops: at most 2000 lines
 *     handled during the first 100 VMM requests;
 *   - every request line gets its reply, a successful list, in the end;
 *   - the daemon's peak RSS (VmHWM) stays under 32 MiB (not in sanitizer
 *     builds, whose allocator keeps freed memory in quarantine).
 */
static void
test_mgmt_flood_bounded(void)
{
	enum { LINES = (1 << 20) / 15 };
	struct daemon d;
	struct line_count lc = { 0 };
	unsigned long long base, prev, cur, max_delta = 0;
	pid_t writer;
	int v, s, f, st, idle = 0;
	long rss;

	/* a daemon that closes on us must fail a check, not kill the test */
	signal(SIGPIPE, SIG_IGN);

	setup(&d, NULL);
	v = vmm_connect_hello(&d);
	s = connect_unix(d.mgmt);
	f = connect_unix(d.mgmt);
	REQUIRE(v >= 0 && s >= 0 && f >= 0);
	base = prev = daemon_stat(s, "mgmt_requests");
	writer = flood_list(f, LINES);
	REQUIRE(writer > 0);
	for (int i = 0; i < 100; i++) {                 /* nobody reads f */
		check_get_setup_mode(v);
		cur = daemon_stat(s, "mgmt_requests");
		if (cur - prev > max_delta)
			max_delta = cur - prev;
		prev = cur;
	}
	printf("# unread flood: %llu lines handled during 100 VMM requests\n", prev - base);
	CHECK(prev - base <= 2000);
	while (lc.lines < LINES && idle < 5000) {       /* read 64 KiB a time */
		ssize_t r = count_replies(f, 1 << 16, &lc);

		if (r <= 0) {
			idle++;
			msleep(1);
		} else {
			idle = 0;
		}
		check_get_setup_mode(v);
		cur = daemon_stat(s, "mgmt_requests");
		if (cur - prev > max_delta)
			max_delta = cur - prev;
		prev = cur;
	}
	rss = daemon_peak_rss_kib(d.pid);
	printf("# %ld replies (%ld bad); at most %llu lines between two VMM requests; "
	       "peak RSS %ld KiB\n", lc.lines, lc.bad, max_delta, rss);
	CHECK_EQ(lc.lines, LINES);
	CHECK_EQ(lc.bad, 0);
	CHECK(max_delta <= 1000);
#ifndef SANITIZER_TEST_BUILD
	CHECK(rss > 0 && rss < 32 * 1024);
#endif
	REQUIRE(waitpid(writer, &st, 0) == writer);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(f);
	close(s);
	close(v);
	CHECK(alive(&d));
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/*
 * Item 4: a management client that never reads its replies is closed
 * once they have not moved for the frame timeout (300 ms here): after
 * a second of not reading, the client finds fewer replies than requests
 * and then the end of the connection; the daemon says why in its log.
 */
static void
test_mgmt_unread_replies_closed(void)
{
	static const char *const extra[] = { "--frame-timeout-ms", "300", NULL };
	enum { LINES = (1 << 20) / 15 };
	struct daemon d;
	struct line_count lc = { 0 };
	pid_t writer;
	bool eof = false;
	int f, st;

	/* a daemon that closes on us must fail a check, not kill the test */
	signal(SIGPIPE, SIG_IGN);

	setup(&d, extra);
	f = connect_unix(d.mgmt);
	REQUIRE(f >= 0);
	writer = flood_list(f, LINES);
	REQUIRE(writer > 0);
	msleep(1000);
	for (;;) {
		struct pollfd p = { f, POLLIN, 0 };
		ssize_t r;

		if (poll(&p, 1, 5000) <= 0)
			break;
		r = count_replies(f, 1 << 16, &lc);
		if (r == 0) {
			eof = true;
			break;
		}
		if (r < 0 && errno != EAGAIN)
			break;
	}
	printf("# %ld of %d replies before the close\n", lc.lines, LINES);
	CHECK(eof);
	CHECK(lc.lines < LINES);
	CHECK_EQ(lc.bad, 0);
	CHECK(log_has(&d, "bytes of replies not taken", false));
	REQUIRE(waitpid(writer, &st, 0) == writer);
	close(f);
	CHECK(alive(&d));
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/*
 * A management client that writes 1000 requests and half-closes at once
 * (shutdown SHUT_WR, as `socat -` does at the end of its input) still gets
 * every reply, in order (the "id"s), before the daemon closes: the lines
 * left by the per-turn budget are handled after the EOF.
 */
static void
test_mgmt_half_close_answered(void)
{
	enum { LINES = 1000 };
	static char req[LINES * 40];
	static uint8_t rep[LINES * 96];
	struct daemon d;
	size_t len = 0;
	long lines = 0, in_order = 0;
	ssize_t n;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	setup(&d, NULL);
	fd = connect_unix(d.mgmt);
	REQUIRE(fd >= 0);
	for (int i = 0; i < LINES; i++)
		len += (size_t)snprintf(req + len, sizeof(req) - len,
					"{\"cmd\":\"version\",\"id\":%d}\n", i);
	CHECK(write(fd, req, len) == (ssize_t)len);
	shutdown(fd, SHUT_WR);
	n = read_to_eof(fd, rep, sizeof(rep));
	REQUIRE(n > 0);
	for (const char *p = (const char *)rep; p < (const char *)rep + n; p++) {
		char want[32];

		snprintf(want, sizeof(want), "{\"id\":%ld,", lines);
		in_order += strncmp(p, want, strlen(want)) == 0;
		lines++;
		p = memchr(p, '\n', (size_t)((const char *)rep + n - p));
		if (p == NULL)
			break;
	}
	CHECK_EQ(lines, LINES);
	CHECK_EQ(in_order, LINES);
	close(fd);
	CHECK(alive(&d));
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/*
 * A VMM connection the daemon is closing does not hold the VMM slot, and
 * does not linger.  The VMM (v1) sends 60 KB GetVariable requests without
 * reading: three replies fill most of the daemon's socket buffer (each
 * seen sent whole through vmm_bytes_out), the fourth no longer fits and
 * stays queued, with half of a fifth frame buffered.  With a 300 ms frame
 * timeout the daemon ends v1 with ERROR 7 -- queued behind the reply, so
 * v1 is "closing" -- and a new VMM (v2) is then served, not BUSY.  v1,
 * still not reading, is dropped once its output has not moved for the
 * timeout (logged), and v2 keeps working.
 */
static void
test_closing_vmm_gives_up_slot(void)
{
	static const char *const extra[] = { "--frame-timeout-ms", "300", NULL };
	static uint8_t f[2 * 65600], sink[1 << 19];
	struct daemon d;
	size_t n = setup_mode_frame(f, 65536, 60000), reply = n - 12 + 10;
	unsigned long long out = 32;
	int v1, v2, s;

	signal(SIGPIPE, SIG_IGN);
	setup(&d, extra);
	v1 = vmm_connect_hello(&d);
	s = connect_unix(d.mgmt);
	REQUIRE(v1 >= 0 && s >= 0);
	for (int k = 0; k < 3; k++) {
		int tries = 0;

		CHECK(write(v1, f, n) == (ssize_t)n);
		out += reply;
		while (daemon_stat(s, "vmm_bytes_out") != out && tries++ < 200)
			msleep(10);
		REQUIRE(tries <= 200);                  /* sent whole */
	}
	memcpy(f + n, f, n / 2);                        /* a fourth, half a fifth */
	CHECK(write(v1, f, n + n / 2) == (ssize_t)(n + n / 2));
	msleep(600);
	v2 = vmm_connect_hello(&d);
	CHECK(v2 >= 0);                                 /* HELLO_REPLY, not BUSY */
	CHECK_EQ(daemon_stat(s, "vmm_refused"), 0);
	msleep(600);
	CHECK(log_has(&d, "bytes of replies not taken", false));
	CHECK(read_to_eof(v1, sink, sizeof(sink)) >= (ssize_t)(3 * reply));
	if (v2 >= 0)
		check_get_setup_mode(v2);
	close(v1);
	close(v2);
	close(s);
	CHECK(alive(&d));
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* CPU ticks (utime + stime) the process has used. */
static long
cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (f == NULL || fgets(buf, sizeof(buf), f) == NULL) {
		if (f != NULL)
			fclose(f);
		return -1;
	}
	fclose(f);
	p = strrchr(buf, ')');
	/* after ") state": fields 3.. ; utime is field 14, stime 15 */
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
				&ut, &st) != 2)
		return -1;
	return (long)(ut + st);
}

/*
 * Connections that never read fill the process's descriptors; accept()
 * then fails with EMFILE while the listening socket stays readable.  The
 * loop must not spin on it (it did, at 100% CPU), and must accept again
 * once descriptors are free.
 */
static void
test_accept_emfile_no_spin(void)
{
	struct daemon d;
	int fds[200], nfds = 0;
	long t0, t1, hz = sysconf(_SC_CLK_TCK);
	uint8_t buf[256];
	size_t n;
	int fd;

	/* 16 descriptors: the daemon's own (listening sockets, signalfd, the
	 * store's files, the log) leave fewer than the 16 management
	 * connections it would take. */
	nofile_limit = 16;
	setup(&d, NULL);
	nofile_limit = 0;
	/* Non-blocking connects: once the daemon stops accepting, the listen
	 * backlog fills and a blocking connect() would wait for it. */
	for (int i = 0; i < 16; i++) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

		memcpy(sun.sun_path, d.mgmt, strnlen(d.mgmt, sizeof(sun.sun_path) - 1));
		if (s >= 0 && connect(s, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			fds[nfds++] = s;
		else if (s >= 0)
			close(s);
	}
	msleep(300);
	CHECK(log_has(&d, "accept: Too many open files; not accepting for 100 ms", false));
	t0 = cpu_ticks(d.pid);
	msleep(1000);
	t1 = cpu_ticks(d.pid);
	REQUIRE(t0 >= 0 && t1 >= 0);
	printf("# %d connections held; daemon CPU over 1 s: %ld ticks of %ld\n", nfds, t1 - t0, hz);
	CHECK(t1 - t0 < hz / 4);               /* a spinning loop takes ~hz */
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	msleep(300);
	/* accepting again: a VMM gets its HELLO_REPLY */
	fd = connect_unix(d.vmm);
	REQUIRE(fd >= 0);
	n = hello(buf, 1);
	CHECK(write(fd, buf, n) == (ssize_t)n);
	{
		struct pollfd p = { fd, POLLIN, 0 };

		CHECK(poll(&p, 1, 5000) == 1);
		CHECK(read(fd, buf, sizeof(buf)) == 32);
		CHECK_EQ(vv_le32(buf), VV_VMM_MSG_HELLO_REPLY);
	}
	close(fd);
	CHECK(alive(&d));
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* ---- regressions from the attacker review of issue #12 (R1, R2, R4, R7) ---- */

static void
enroll_pk(struct daemon *d)
{
	char *esl = pk_esl_hex(d->dir), *line;
	int fd;

	if (esl == NULL)
		SKIP("the openssl command is missing");
	line = malloc(strlen(esl) + 64);
	REQUIRE(line != NULL);
	sprintf(line, "{\"cmd\":\"enroll\",\"db\":\"PK\",\"esl\":\"%s\"}", esl);
	fd = connect_unix(d->mgmt);
	CHECK_HAS(mgmt_call(fd, line), "\"mode\":\"user\"");
	close(fd);
	free(line);
	free(esl);
}

/* The OS must get no power it did not have: either the restored OS view,
 * or refusal (DEVICE_ERROR) until the VMM resets the VM. */
static void
check_no_new_power(const struct os_view *v)
{
	CHECK(v->custom_mode != VV_EFI_SUCCESS);
	CHECK(v->db_unsigned != VV_EFI_SUCCESS);
	CHECK(v->mor != VV_EFI_SUCCESS);
	CHECK(v->locked != VV_EFI_SUCCESS);
	CHECK(v->new_volatile != VV_EFI_SUCCESS);
}

/* A user-mode VM boots to its OS as in test_restart_keeps_security_state. */
static void
boot_to_os(struct guest *gs)
{
	static const uint8_t key[8] = { 8, 7, 6, 5, 4, 3, 2, 1 };
	uint8_t entry[256];
	size_t n;

	CHECK_STATUS(fw_set_variable(&gs->g, U("Locked"), &test_guid, NV_BS_RT, "L", 1),
		     VV_EFI_SUCCESS);
	n = fw_policy_entry(entry, &test_guid, U("Locked"), 0, VV_POLICY_NO_MAX_SIZE, 0, 0,
			    VV_POLICY_LOCK_NOW);
	CHECK_STATUS(fw_policy_register(&gs->g, entry, n), VV_EFI_SUCCESS);
	CHECK_STATUS(fw_set_variable(&gs->g, U("VolBS"), &test_guid, VV_ATTR_BS, "b", 1),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(fw_set_variable(&gs->g, U("VolRT"), &test_guid, BS_RT, "r", 1),
		     VV_EFI_SUCCESS);
	CHECK_EQ(fw_event(&gs->g, &VV_GUID_END_OF_DXE), VV_STS_SUCCESS);
	CHECK_STATUS(fw_set_variable(&gs->g, U("MemoryOverwriteRequestControlLock"),
				     &VV_GUID_MOR_LOCK, NV_BS_RT, key, 8), VV_EFI_SUCCESS);
	CHECK_STATUS(fw_smm_function(&gs->g, VV_MM_READY_TO_BOOT), VV_EFI_SUCCESS);
	CHECK_EQ(fw_event(&gs->g, &VV_GUID_EXIT_BOOT_SERVICES), VV_STS_SUCCESS);
}

/*
 * R1.  After a restore FAILS (the daemon is in NEEDS_RESET, its memory at
 * the power-on state), the first management command -- any, even
 * {"cmd":"version"} or "stats" from a monitoring agent -- runs vm_record,
 * which sees state_changes != recorded_changes (recorded_changes is still
 * 0: vm_restore never set it on failure) and writes the POWER-ON state
 * as runtime.state.  The next daemon restart restores that record
 * successfully and serves the still-running OS as boot-time firmware:
 * CustomMode=1 and then an unsigned db write succeed.
 */
static void
test_needs_reset_survives_management_and_restart(void)
{
	static const char *const tpm[] = { "--tpm", NULL };
	struct daemon d;
	struct guest gs;
	struct os_view before, after;
	uint8_t buf[16];
	uint64_t size;
	uint32_t attr;
	char path[160];
	int fd;

	setup(&d, tpm);
	enroll_pk(&d);
	REQUIRE(guest_start(&gs, d.vmm, false));
	boot_to_os(&gs);
	probe_os_view(&gs.g, &before);
	check_os_view(&before);

	/* the record is damaged (torn disk block, bit flip, version skew) */
	crash(&d);
	snprintf(path, sizeof(path), "%s/runtime.state", d.dir);
	fd = open(path, O_RDWR);
	REQUIRE(fd >= 0);
	REQUIRE(pwrite(fd, "\xff", 1, 60) == 1);
	close(fd);
	REQUIRE(start(&d, tpm));
	size = sizeof(buf);
	CHECK_STATUS(fw_get_variable(&gs.g, U("VolRT"), &test_guid, &attr, buf, &size),
		     VV_EFI_DEVICE_ERROR);                 /* NEEDS_RESET: good */

	/* a monitoring agent asks for the version: nothing else */
	fd = connect_unix(d.mgmt);
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"version\"}"), "\"ok\":true");
	close(fd);

	/* the daemon is restarted once more (operator, systemd Restart=) */
	crash(&d);
	REQUIRE(start(&d, tpm));
	probe_os_view(&gs.g, &after);
	check_no_new_power(&after);
	guest_stop(&gs);
	stop(&d);
	cleanup(&d);
}

/*
 * R2.  When vm_record fails (ENOSPC/EDQUOT/EIO on runtime.state.tmp; here
 * a directory of that name stands in for the failure), the daemon goes
 * NEEDS_RESET -- in memory only -- and leaves the OLD runtime.state in
 * place.  A restart then restores that older record: an earlier boot
 * phase.  Here: a record from before EndOfDxe; EndOfDxe's record fails;
 * the firmware boots the OS anyway (its calls get DEVICE_ERROR); after the
 * daemon is restarted the OS is served as pre-EndOfDxe firmware.
 */
static void
test_failed_record_is_not_restored(void)
{
	static const char *const tpm[] = { "--tpm", NULL };
	struct daemon d;
	struct guest gs;
	struct os_view after;
	static uint8_t big[20000];
	uint8_t entry[256];
	size_t n;

	/* Files may not grow past 16 KiB: the store and the early records
	 * fit, the record of a 20 KB volatile variable does not (the
	 * stand-in for a full disk). */
	fsize_limit = 16384;
	setup(&d, tpm);
	fsize_limit = 0;
	enroll_pk(&d);
	REQUIRE(guest_start(&gs, d.vmm, false));
	CHECK_STATUS(fw_set_variable(&gs.g, U("Locked"), &test_guid, NV_BS_RT, "L", 1),
		     VV_EFI_SUCCESS);
	n = fw_policy_entry(entry, &test_guid, U("Locked"), 0, VV_POLICY_NO_MAX_SIZE, 0, 0,
			    VV_POLICY_LOCK_NOW);
	CHECK_STATUS(fw_policy_register(&gs.g, entry, n), VV_EFI_SUCCESS);   /* recorded */
	CHECK_STATUS(fw_set_variable(&gs.g, U("VolRT"), &test_guid, BS_RT, "r", 1),
		     VV_EFI_SUCCESS);                                       /* recorded */

	/* the next record cannot be written: refused, the record removed */
	memset(big, 'B', sizeof(big));
	CHECK_STATUS(fw_set_variable(&gs.g, U("Big"), &test_guid, BS_RT, big, sizeof(big)),
		     VV_EFI_DEVICE_ERROR);
	CHECK(fw_event(&gs.g, &VV_GUID_END_OF_DXE) != VV_STS_SUCCESS);
	(void)fw_smm_function(&gs.g, VV_MM_READY_TO_BOOT);
	(void)fw_event(&gs.g, &VV_GUID_EXIT_BOOT_SERVICES);

	/* space is freed, the daemon restarted (operator or systemd): the
	 * older record (before the failure) must not come back */
	CHECK_EQ(stop(&d), 0);
	REQUIRE(start(&d, tpm));
	probe_os_view(&gs.g, &after);
	check_no_new_power(&after);
	CHECK(log_has(&d, "runtime.state: none; waiting for the VMM's VM_RESET", false));
	guest_stop(&gs);
	stop(&d);
	cleanup(&d);
}

/*
 * R4.  A state a live service reaches that its own restore refuses: a
 * volatile authenticated variable is bounded by max_auth_variable_size
 * (store_quota.c vv_store_class_max_size), but the snapshot loader bounds
 * every variable by max_volatile_variable_size (snapshot.c parse_variable).
 * With --max-variable-size below --max-auth-variable-size (OVMF's own
 * PCDs: 0x2000 vs 0x2800), a guest creates a 9000-byte volatile private
 * authenticated variable; after any daemon restart the VM is refused
 * (NEEDS_RESET) -- a guest-triggered forced reset, and the path into R1.
 */
static void
test_volatile_auth_variable_restores(void)
{
	static const char *const opts[] = { "--max-variable-size", "8192", NULL };
	const uint32_t attr = BS_RT | VV_ATTR_AT;
	static uint8_t sd[16384], auth[32768], value[9000];
	struct daemon d;
	struct guest gs;
	char cmd[1024], path[200];
	uint8_t t[16] = { 0xea, 0x07, 1, 1 }, buf[16384];
	size_t n = 0, sig_size;
	uint64_t size;
	uint32_t got_attr;
	FILE *f;

	setup(&d, opts);
	memset(value, 'A', sizeof(value));
	for (const char *c = "Big"; *c; c++) {
		sd[n++] = (uint8_t)*c;
		sd[n++] = 0;
	}
	memcpy(sd + n, test_guid.b, 16);
	n += 16;
	vv_put_le32(sd + n, attr);
	n += 4;
	memcpy(sd + n, t, 16);
	n += 16;
	memcpy(sd + n, value, sizeof(value));
	n += sizeof(value);
	snprintf(path, sizeof(path), "%s.sd", d.dir);
	f = fopen(path, "wb");
	REQUIRE(f != NULL && fwrite(sd, 1, n, f) == n);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cd /tmp && openssl req -x509 -newkey rsa:2048 -nodes "
		 "-subj /CN=guest -days 30 -keyout %s.key -out %s.crt 2>/dev/null && "
		 "openssl cms -sign -binary -noattr -md sha256 -outform DER -in %s.sd "
		 "-signer %s.crt -inkey %s.key -out %s.sig", d.dir, d.dir, d.dir, d.dir, d.dir,
		 d.dir);
	if (system(cmd) != 0)
		SKIP("openssl is missing");
	snprintf(path, sizeof(path), "%s.sig", d.dir);
	f = fopen(path, "rb");
	REQUIRE(f != NULL);
	sig_size = fread(auth + 40, 1, sizeof(auth) - 40 - sizeof(value), f);
	fclose(f);
	memcpy(auth, t, 16);
	vv_put_le32(auth + 16, (uint32_t)(24 + sig_size));
	vv_put_le16(auth + 20, 0x0200);
	vv_put_le16(auth + 22, 0x0ef1);
	vv_guid_parse("4aafd29d-68df-49ee-8aa9-347d375665a7", (vv_guid *)(auth + 24));
	memcpy(auth + 40 + sig_size, value, sizeof(value));

	REQUIRE(guest_start(&gs, d.vmm, false));
	CHECK_STATUS(fw_set_variable(&gs.g, U("Big"), &test_guid, attr, auth,
				     40 + sig_size + sizeof(value)), VV_EFI_SUCCESS);
	size = sizeof(buf);
	CHECK_STATUS(fw_get_variable(&gs.g, U("Big"), &test_guid, &got_attr, buf, &size),
		     VV_EFI_SUCCESS);
	/* the daemon is restarted; the VM goes on */
	crash(&d);
	REQUIRE(start(&d, opts));
	size = sizeof(buf);
	CHECK_STATUS(fw_get_variable(&gs.g, U("Big"), &test_guid, &got_attr, buf, &size),
		     VV_EFI_SUCCESS);
	printf("# after the restart: %s\n", vv_client_last_error(gs.client));
	guest_stop(&gs);
	stop(&d);
	snprintf(cmd, sizeof(cmd), "rm -f %s.sd %s.sig %s.key %s.crt", d.dir, d.dir, d.dir, d.dir);
	(void)system(cmd);
	cleanup(&d);
}

/*
 * R7.  The client resends an MM_REQUEST on a new connection when it got no
 * reply (client.c exchange(): "reconnecting once"), though the daemon may
 * already have applied it.  A daemon that stalls past the client's timeout
 * (a slow fdatasync on a loaded host; SIGSTOP here) then applies the
 * request twice.  For a keyed MORLock, the second application is "unlock
 * with the right key": the firmware is told SUCCESS and the OS runs with
 * MOR unlocked.  The same happens when a restarted daemon is up in time
 * for the resend after dying between its record and its reply.
 */
static void
test_client_never_resends_after_sending(void)
{
	/* Socket frames: a frame the client sent is in the socket when the
	 * daemon wakes, so it is applied exactly once -- what this test
	 * checks.  On shared memory (issue #20) a request the client gave up
	 * on may or may not be taken when the daemon wakes to the closed
	 * connection (either is safe: the firmware was told it failed);
	 * test_shm covers that transport's no-resend rule (taken_seq). */
	static const char *const tpm[] = { "--tpm", "--no-shm", NULL };
	static const uint8_t key[8] = { 8, 7, 6, 5, 4, 3, 2, 1 };
	struct daemon d;
	struct guest gs;
	vv_status st;
	pid_t helper, dpid;

	setup(&d, tpm);
	REQUIRE(guest_start(&gs, d.vmm, false));
	CHECK_EQ(fw_event(&gs.g, &VV_GUID_END_OF_DXE), VV_STS_SUCCESS);
	vv_client_set_timeout(gs.client, 1000);
	dpid = d.pid;
	REQUIRE(kill(dpid, SIGSTOP) == 0);              /* the daemon stalls ... */
	helper = fork();
	if (helper == 0) {
		msleep(1400);                           /* ... for 1.4 s */
		kill(dpid, SIGCONT);
		_exit(0);
	}
	st = fw_set_variable(&gs.g, U("MemoryOverwriteRequestControlLock"), &VV_GUID_MOR_LOCK,
			     NV_BS_RT, key, 8);
	waitpid(helper, NULL, 0);
	/* sent, not answered in time: failed, and not sent again */
	CHECK_STATUS(st, VV_EFI_DEVICE_ERROR);
	CHECK_EQ(vv_client_reconnects(gs.client), 0);
	vv_client_set_timeout(gs.client, 5000);
	/* The daemon applied the lock once when it woke: the OS cannot change
	 * MOR.  (A reconnect in the same instant as the daemon retires the
	 * timed-out connection may be refused as busy: a device error, never
	 * a success.) */
	for (int i = 0; i < 20; i++) {
		st = fw_set_variable(&gs.g, U("MemoryOverwriteRequestControl"), &VV_GUID_MOR,
				     NV_BS_RT, "\x00", 1);
		if (st != VV_EFI_DEVICE_ERROR)
			break;
		msleep(50);
	}
	CHECK_STATUS(st, VV_EFI_ACCESS_DENIED);
	CHECK(alive(&d));
	guest_stop(&gs);
	stop(&d);
	cleanup(&d);
}

/*
 * Review R5: files someone left under the record's name.  A FIFO named
 * runtime.state must not hang the start (it is refused: the VM then needs
 * a reset) nor the loop, and a hard link named runtime.state must not make
 * the daemon write into the linked file.
 */
static void
test_runtime_state_special_files(void)
{
	struct daemon d;
	char path[200], victim[96], got[64];
	struct stat st;
	int fd;
	FILE *f;

	/* (a) */
	memset(&d, 0, sizeof(d));
	snprintf(d.dir, sizeof(d.dir), "/tmp/vmvarsd-test-XXXXXX");
	REQUIRE(mkdtemp(d.dir) != NULL);
	snprintf(d.vmm, sizeof(d.vmm), "%s/vmm.sock", d.dir);
	snprintf(d.mgmt, sizeof(d.mgmt), "%s/mgmt.sock", d.dir);
	snprintf(path, sizeof(path), "%s/runtime.state", d.dir);
	REQUIRE(mkfifo(path, 0600) == 0);
	REQUIRE(start(&d, NULL));
	fd = connect_unix(d.mgmt);
	/* a reply: the daemon is past its start (the record was looked at) */
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"version\"}"), "\"ok\":true");
	CHECK(log_has(&d, "runtime.state: not a regular file with one link", false));
	CHECK(lstat(path, &st) != 0);                   /* made unusable: gone */
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"reset\"}"), "\"ok\":true");

	/* (b) a FIFO planted under the record's name while the daemon runs:
	 * records go on through the file the daemon created and holds, and
	 * the next one it creates replaces the FIFO (never opens it) */
	snprintf(path, sizeof(path), "%s/runtime.state", d.dir);
	REQUIRE(unlink(path) == 0 && mkfifo(path, 0600) == 0);
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"set\",\"name\":\"V\",\"guid\":\"" TEST_GUID_TEXT
			    "\",\"attributes\":\"BS|RT\",\"data\":\"01\"}"), "\"ok\":true");
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"reset\"}"), "\"ok\":true");
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"set\",\"name\":\"V\",\"guid\":\"" TEST_GUID_TEXT
			    "\",\"attributes\":\"BS|RT\",\"data\":\"01\"}"), "\"ok\":true");
	CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0);

	/* (c) a hard link to another file planted under the record's name:
	 * the daemon never writes through a name it did not create */
	snprintf(victim, sizeof(victim), "%s.victim", d.dir);
	f = fopen(victim, "w");
	REQUIRE(f != NULL);
	fputs("precious\n", f);
	fclose(f);
	REQUIRE(unlink(path) == 0 && link(victim, path) == 0);
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"reset\"}"), "\"ok\":true");
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"set\",\"name\":\"V\",\"guid\":\"" TEST_GUID_TEXT
			    "\",\"attributes\":\"BS|RT\",\"data\":\"02\"}"), "\"ok\":true");
	f = fopen(victim, "r");
	REQUIRE(f != NULL);
	CHECK(fgets(got, sizeof(got), f) != NULL && strcmp(got, "precious\n") == 0);
	fclose(f);
	unlink(victim);
	close(fd);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/*
 * A stopped and continued daemon (SIGSTOP, a cgroup freeze, a debugger)
 * resumes its poll() through restart_syscall, which the seccomp allowlist
 * lacked: the daemon died of SIGSYS when thawed (found by the review's R7
 * reproducer, which stops the daemon).
 */
static void
test_stop_and_continue(void)
{
	struct daemon d;
	int fd;

	setup(&d, NULL);
	for (int i = 0; i < 3; i++) {
		msleep(100);                    /* asleep in poll() */
		REQUIRE(kill(d.pid, SIGSTOP) == 0);
		msleep(100);
		REQUIRE(kill(d.pid, SIGCONT) == 0);
	}
	msleep(100);
	CHECK(alive(&d));
	fd = connect_unix(d.mgmt);
	CHECK_HAS(mgmt_call(fd, "{\"cmd\":\"version\"}"), "\"ok\":true");
	close(fd);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

static const struct vv_test tests[] = {
	TEST(test_boot_dma),
	TEST(test_boot_pio),
	TEST(test_boot_no_polling),
	TEST(test_boot_short_polling),
	TEST(test_boot_long_polling),
	TEST(test_poll_us_usage),
	TEST(test_requests_inside_window),
	TEST(test_mgmt_while_vmm_busy),
	TEST(test_management),
	TEST(test_concurrent),
	TEST(test_bad_frames),
	TEST(test_frame_timeout),
	TEST(test_second_vmm_refused),
	TEST(test_reconnect),
	TEST(test_kill9_durability),
	TEST(test_disk_full),
	TEST(test_sigterm),
	TEST(test_sandbox_kills_execve),
	TEST(test_landlock_confines_files),
	TEST(test_idle_compaction),
	TEST(test_restart_keeps_security_state),
	TEST(test_check_refused_on_live_store),
	TEST(test_check_writes_nothing),
	TEST(test_second_daemon_refused),
	TEST(test_lock_released_at_exit),
	TEST(test_cli_write_refused_on_live_store),
	TEST(test_unit_as_shipped),
	TEST(test_unwritable_state_dir_refused),
	TEST(test_install_faults_refused),
	TEST(test_pcap_capture_and_replay),
	TEST(test_pipelined_frames_not_timed_out),
	TEST(test_frame_timeout_ms_exact),
	TEST(test_reconnect_after_close_not_busy),
	TEST(test_mgmt_flood_bounded),
	TEST(test_mgmt_unread_replies_closed),
	TEST(test_mgmt_half_close_answered),
	TEST(test_closing_vmm_gives_up_slot),
	TEST(test_socket_modes_from_bind),
	TEST(test_mgmt_peer_credentials),
	TEST(test_accept_emfile_no_spin),
	TEST(test_needs_reset_survives_management_and_restart),
	TEST(test_failed_record_is_not_restored),
	TEST(test_volatile_auth_variable_restores),
	TEST(test_client_never_resends_after_sending),
	TEST(test_runtime_state_special_files),
	TEST(test_stop_and_continue),
};

VV_TEST_MAIN(tests)
