/*
 * tests/test_qemu_device.c -- QEMU's own uefi-vars device, patched with
 * the series in contrib/qemu, served by a real vmvarsd (issue #13).
 *
 * QEMU runs with -accel qtest: no firmware, no guest code.  This program
 * plays edk2's VirtMmCommunicationDxe through qtest commands on the device's
 * registers at 0xfef10000 (device-abi §5.1-§5.2: magic, RESET, BUFFER_SIZE,
 * FLAGS, DMA address; per request the DMA command, or the PIO sequence with
 * its two CRC-32C checks), with the communication buffer in guest RAM.
 *
 *   1. The recorded real OVMF boot (shared/data/ovmf-boot) replayed through
 *      QEMU into vmvarsd, in DMA mode and in PIO mode: every transport status
 *      and every reply byte equals what the library gives in-process for the
 *      same request (a reference device replaying alongside), and the store
 *      vmvarsd persisted equals the reference's non-volatile variables.
 *   2. A VM reset through QMP (system_reset) reaches the daemon: its
 *      vm_resets counter goes from 1 (machine start) to 2, and a volatile
 *      variable is gone while an NV one stays.
 *   3. vmvarsd killed mid-stream: the guest gets ERR_UNKNOWN (0x10) and QEMU
 *      logs the failure once; after a restart on the same state directory
 *      the next request is served, with the running guest's volatile state
 *      restored and no VM reset sent.  A daemon that lost that state
 *      (runtime.state corrupt) refuses with NEEDS_RESET: 0x10 until QMP
 *      system_reset, then served again.
 *      A reply lost after vmvarsd applied the request (a proxy drops it):
 *      the guest gets 0x10, QEMU never sends the request again (a keyed
 *      MORLock written twice would be unlocked), and the lock is held.
 *   4. A fake daemon (a child of this program) that answers the handshake
 *      and then sends one kind of malformed MM_REPLY: the guest gets 0x10,
 *      and the communication buffer and 4 KiB on each side of it read back
 *      exactly as before (DMA), or the PIO buffer reads back the request;
 *      the fake received the request once.  A fake that trickles a valid
 *      reply a byte every 0.6 s gets the request failed at the device's
 *      deadline (vmvarsd-timeout-ms=2000): within 4 s.
 *   5. The handshake: QEMU refuses to start when nothing listens on the
 *      socket, with jsonfile= next to vmvarsd=, or with vmvarsd-timeout-ms=0;
 *      migration is blocked.
 *   6. Without vmvarsd= the device is QEMU's own service, as upstream.
 *   7. The operator path: what `vmvars firmware instantiate --vmvarsd`
 *      prints (store, daemon argv, QEMU -device) runs as printed.
 *
 * The patched QEMU is $VMVARS_PATCHED_QEMU (./dev test builds it with
 * scripts/qemu-build); vmvarsd is $VMVARS_BUILD_ROOT/src/daemon/vmvarsd.
 * Without the QEMU every case SKIPs (fails under CI=true or VMVARS_NO_SKIP).
 * QEMU needs a BIOS image to create the q35 machine even though qtest runs
 * no guest code: Debian's (qemu-system-data / seabios) is found with -L.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vmvars/vmvars.h>
#include <vmvars/vmm_protocol.h>

#include "daemon_util.h"
#include "guest_firmware.h"
#include "harness.h"
#include "ovmf_boot.h"

#define REG_BASE       0xfef10000ull
#define GUEST_BUF      0x200000ull           /* the firmware's 64 KiB buffer */
#define GUARD          4096u                 /* checked on each side of it */
#define BUF_SIZE       VV_MM_MAX_BUFFER

#define NV_BS_RT (VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT)
#define BS_RT (VV_ATTR_BS | VV_ATTR_RT)

static const vv_guid test_guid = { { 0x0e, 0x1f, 0x6b, 0x3d, 0x2a, 0x4c, 0x8e, 0x4b,
				     0x9f, 0x10, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66 } };

/* ---- processes and sockets ---- */

static int
listen_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 && listen(fd, 4) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

/* accept() with a timeout: QEMU connects as it starts, or has died (then
 * *child is reaped and set to 0). */
static int
accept_timeout(int lfd, pid_t *child, int ms)
{
	struct pollfd p = { lfd, POLLIN, 0 };

	for (int waited = 0; waited < ms; waited += 100) {
		if (poll(&p, 1, 100) == 1)
			return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (*child > 0 && waitpid(*child, NULL, WNOHANG) == *child) {
			*child = 0;
			return -1;
		}
	}
	return -1;
}

static bool
read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static bool
write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Text of a whole file (static buffer), "" when absent. */
static const char *
slurp(const char *path)
{
	static char buf[1 << 20];
	size_t n = 0;
	FILE *f = fopen(path, "r");

	if (f != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = 0;
	return buf;
}

static unsigned
count_of(const char *text, const char *needle)
{
	unsigned n = 0;

	for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* One more byte in the file at path: a counter two processes can share. */
static void
count_request(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (fd >= 0) {
		if (write(fd, "r", 1) != 1)
			printf("# could not count a request in %s\n", path);
		close(fd);
	}
}

static size_t
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- vmvarsd (tests/daemon_util.h) ---- */

/* The daemon's vm_resets counter, -1 if it cannot be read. */
static long
vm_resets(const struct daemon *d)
{
	const char *r = strstr(mgmt(d, "{\"cmd\":\"stats\"}"), "\"vm_resets\":");

	return r != NULL ? strtol(r + strlen("\"vm_resets\":"), NULL, 10) : -1;
}

/* ---- QEMU under qtest ---- */

struct qemu {
	char dir[64];
	char log[128];
	pid_t pid;
	int qtest, qmp;
	FILE *qin;           /* qtest replies, line by line */
	bool pio;
};

static const char *qt(struct qemu *q, const char *fmt, ...);

/* The patched QEMU is missing: a skip for a user's plain `meson test`, a
 * failure in CI (CI=true, or VMVARS_NO_SKIP through SKIP), where ./dev
 * test builds it. */
#define NEED_QEMU() do { \
	if (patched_qemu() == NULL) { \
		const char *ci_ = getenv("CI"); \
		if (ci_ != NULL && strcmp(ci_, "true") == 0) { \
			printf("# CI=true, yet VMVARS_PATCHED_QEMU does not name the patched " \
			       "QEMU\n"); \
			REQUIRE(patched_qemu() != NULL); \
		} \
		SKIP("VMVARS_PATCHED_QEMU does not name the patched QEMU (./dev qemu builds it)"); \
	} } while (0)

static const char *
patched_qemu(void)
{
	const char *q = getenv("VMVARS_PATCHED_QEMU");

	return q != NULL && q[0] != 0 && access(q, X_OK) == 0 ? q : NULL;
}

/*
 * Starts QEMU with the device on `sock` (the vmvarsd VMM socket) and
 * `extra` device options; false if QEMU did not come up (its log says
 * why).  QEMU connects to our qtest and QMP sockets, as libqtest has it.
 */
static bool
qemu_start(struct qemu *q, const char *sock, bool pio, const char *extra)
{
	char qtest_path[128], qmp_path[128], qtest_arg[160], qmp_arg[160], dev[512];
	int lq, lm;
	pid_t pid;

	memset(q, 0, sizeof(*q));
	q->qtest = q->qmp = -1;
	q->pio = pio;
	snprintf(q->dir, sizeof(q->dir), "/tmp/vmvars-qemu-q-XXXXXX");
	if (mkdtemp(q->dir) == NULL)
		return false;
	snprintf(q->log, sizeof(q->log), "%s/qemu.log", q->dir);
	snprintf(qtest_path, sizeof(qtest_path), "%s/qtest.sock", q->dir);
	snprintf(qmp_path, sizeof(qmp_path), "%s/qmp.sock", q->dir);
	snprintf(qtest_arg, sizeof(qtest_arg), "unix:%s", qtest_path);
	snprintf(qmp_arg, sizeof(qmp_arg), "socket,path=%s,id=qmp", qmp_path);
	/* sock NULL: QEMU's own in-process store, as without the series */
	snprintf(dev, sizeof(dev), "uefi-vars-x64%s%s%s%s", sock ? ",vmvarsd=" : "",
		 sock ? sock : "", pio ? ",use-pio=on" : "", extra ? extra : "");
	lq = listen_unix(qtest_path);
	lm = listen_unix(qmp_path);
	if (lq < 0 || lm < 0)
		return false;
	pid = fork();
	if (pid == 0) {
		int fd = open(q->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(patched_qemu(), "qemu-system-x86_64", "-machine", "q35", "-accel", "qtest",
		      "-qtest", qtest_arg, "-qtest-log", "/dev/null",
		      "-chardev", qmp_arg, "-mon", "chardev=qmp,mode=control",
		      "-display", "none", "-nodefaults", "-m", "64M",
		      "-L", "/usr/share/qemu", "-L", "/usr/share/seabios",
		      "-device", dev, (char *)NULL);
		_exit(127);
	}
	q->pid = pid;
	q->qtest = accept_timeout(lq, &q->pid, 20000);
	if (q->qtest >= 0)
		q->qmp = accept_timeout(lm, &q->pid, 20000);
	close(lq);
	close(lm);
	if (q->qtest < 0 || q->qmp < 0)
		return false;
	q->qin = fdopen(dup(q->qtest), "r");
	/* QEMU connects before it creates the devices; the first answer
	 * comes from the main loop, once the machine is up. */
	return q->qin != NULL && qt(q, "readw 0x%llx", REG_BASE + VV_REG_MAGIC) != NULL;
}

static void
qemu_stop(struct qemu *q)
{
	char cmd[200];

	if (q->pid > 0) {
		kill(q->pid, SIGTERM);
		waitpid(q->pid, NULL, 0);
		q->pid = 0;
	}
	if (q->qin != NULL)
		fclose(q->qin);
	if (q->qtest >= 0)
		close(q->qtest);
	if (q->qmp >= 0)
		close(q->qmp);
	q->qin = NULL;
	q->qtest = q->qmp = -1;
	if (q->dir[0] != 0 && getenv("VMVARS_TEST_KEEP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", q->dir);
		if (system(cmd) != 0)
			printf("# cleanup of %s failed\n", q->dir);
	}
}

/* One qtest command; returns the text after "OK" (static buffer), or NULL
 * on FAIL or a dead QEMU.  Asynchronous "IRQ" lines are skipped. */
static const char *
qt(struct qemu *q, const char *fmt, ...)
{
	static char *line;
	static size_t cap;
	char cmd[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (!write_full(q->qtest, cmd, strlen(cmd)) || !write_full(q->qtest, "\n", 1))
		return NULL;
	for (;;) {
		if (getline(&line, &cap, q->qin) <= 0)
			return NULL;
		if (strncmp(line, "IRQ", 3) == 0)
			continue;
		line[strcspn(line, "\n")] = 0;
		return strncmp(line, "OK", 2) == 0 ? line + 2 : NULL;
	}
}

static uint32_t
qt_read(struct qemu *q, const char *op, uint64_t addr)
{
	const char *r = qt(q, "%s 0x%llx", op, (unsigned long long)addr);

	return r != NULL ? (uint32_t)strtoul(r, NULL, 16) : 0xdeadbeef;
}

static bool
qt_write(struct qemu *q, const char *op, uint64_t addr, uint32_t val)
{
	return qt(q, "%s 0x%llx 0x%x", op, (unsigned long long)addr, val) != NULL;
}

/* Guest RAM: "write ADDR SIZE 0xHEX" / "read ADDR SIZE". */
static bool
mem_write(struct qemu *q, uint64_t gpa, const uint8_t *buf, size_t len)
{
	static char cmd[2 * BUF_SIZE + 2 * GUARD * 2 + 64];
	size_t n = (size_t)snprintf(cmd, sizeof(cmd), "write 0x%llx 0x%zx 0x",
				    (unsigned long long)gpa, len);
	static const char hex[] = "0123456789abcdef";
	char *line = NULL;
	size_t cap = 0;
	bool ok;

	for (size_t i = 0; i < len; i++) {
		cmd[n++] = hex[buf[i] >> 4];
		cmd[n++] = hex[buf[i] & 15];
	}
	cmd[n++] = '\n';
	if (!write_full(q->qtest, cmd, n))
		return false;
	do {
		if (getline(&line, &cap, q->qin) <= 0) {
			free(line);
			return false;
		}
	} while (strncmp(line, "IRQ", 3) == 0);
	ok = strncmp(line, "OK", 2) == 0;
	free(line);
	return ok;
}

static bool
mem_read(struct qemu *q, uint64_t gpa, uint8_t *buf, size_t len)
{
	const char *r = qt(q, "read 0x%llx 0x%zx", (unsigned long long)gpa, len);

	if (r == NULL || strncmp(r, " 0x", 3) != 0 || strlen(r + 3) != 2 * len)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned v;

		if (sscanf(r + 3 + 2 * i, "%2x", &v) != 1)
			return false;
		buf[i] = (uint8_t)v;
	}
	return true;
}

/* VirtMmHwInit (device-abi §5.1).  False with a diagnostic if it fails. */
static bool
fw_init(struct qemu *q)
{
	uint32_t flags;
	int i;

	if (qt_read(q, "readw", REG_BASE + VV_REG_MAGIC) != VV_UEFI_VARS_MAGIC) {
		printf("# magic register does not read 0xef1\n");
		return false;
	}
	qt_write(q, "writew", REG_BASE + VV_REG_CMD_STS, VV_CMD_RESET);
	for (i = 0; i < 100 && qt_read(q, "readw", REG_BASE + VV_REG_CMD_STS) != 0; i++)
		;
	qt_write(q, "writel", REG_BASE + VV_REG_BUFFER_SIZE, BUF_SIZE);
	flags = qt_read(q, "readl", REG_BASE + VV_REG_FLAGS);
	if ((flags & 1) != (q->pio ? 1u : 0u)) {
		printf("# FLAGS 0x%x, use-pio %d\n", flags, q->pio);
		return false;
	}
	if (!q->pio) {
		qt_write(q, "writel", REG_BASE + VV_REG_DMA_ADDR_LO, (uint32_t)GUEST_BUF);
		qt_write(q, "writel", REG_BASE + VV_REG_DMA_ADDR_HI, (uint32_t)(GUEST_BUF >> 32));
	}
	return true;
}

/*
 * One MM request of len bytes in buf, as VirtMmCommunication2Communicate
 * sends it (device-abi §5.2); the reply replaces buf[0 .. len).  Returns
 * the transport status, or 0xffff when a PIO CRC check or qtest failed.
 */
static uint16_t
fw_call(struct qemu *q, uint8_t *buf, size_t len)
{
	size_t words = (len + 3) / 4;
	uint8_t padded[BUF_SIZE];
	uint16_t sts;

	if (!q->pio) {
		if (!mem_write(q, GUEST_BUF, buf, len))
			return 0xffff;
		qt_write(q, "writew", REG_BASE + VV_REG_CMD_STS, VV_CMD_DMA_MM);
		sts = (uint16_t)qt_read(q, "readw", REG_BASE + VV_REG_CMD_STS);
		if (!mem_read(q, GUEST_BUF, buf, len))
			return 0xffff;
		return sts;
	}
	memset(padded, 0, 4 * words);
	memcpy(padded, buf, len);
	qt_write(q, "writew", REG_BASE + VV_REG_CMD_STS, VV_CMD_PIO_ZERO_OFFSET);
	for (size_t i = 0; i < words; i++)
		qt_write(q, "writel", REG_BASE + VV_REG_PIO_TRANSFER, vv_le32(padded + 4 * i));
	if (qt_read(q, "readl", REG_BASE + VV_REG_PIO_CRC32C) != vv_crc32c(padded, 4 * words)) {
		printf("# PIO CRC-32C mismatch after the request\n");
		return 0xffff;
	}
	qt_write(q, "writew", REG_BASE + VV_REG_CMD_STS, VV_CMD_PIO_MM);
	sts = (uint16_t)qt_read(q, "readw", REG_BASE + VV_REG_CMD_STS);
	qt_write(q, "writew", REG_BASE + VV_REG_CMD_STS, VV_CMD_PIO_ZERO_OFFSET);
	for (size_t i = 0; i < words; i++)
		vv_put_le32(padded + 4 * i, qt_read(q, "readl", REG_BASE + VV_REG_PIO_TRANSFER));
	if (qt_read(q, "readl", REG_BASE + VV_REG_PIO_CRC32C) != vv_crc32c(padded, 4 * words)) {
		printf("# PIO CRC-32C mismatch after the reply\n");
		return 0xffff;
	}
	memcpy(buf, padded, len);
	return sts;
}

/* The last line QMP sent (qmp()). */
static char qmp_line[4096];

/* QMP: the greeting, qmp_capabilities, then one command; true on "return". */
static bool
qmp(struct qemu *q, const char *cmd)
{
	static bool negotiated;
	static pid_t for_pid;
	char *line = qmp_line;
	const size_t cap = sizeof(qmp_line);
	size_t n = 0;

	if (!negotiated || for_pid != q->pid) {
		negotiated = true;
		for_pid = q->pid;
		if (!qmp(q, NULL) || !qmp(q, "{\"execute\":\"qmp_capabilities\"}"))
			return false;
	}
	if (cmd != NULL && (!write_full(q->qmp, cmd, strlen(cmd)) || !write_full(q->qmp, "\n", 1)))
		return false;
	/* Read lines until the greeting (cmd NULL) or the command's answer;
	 * events (RESET, ...) come in between. */
	for (;;) {
		n = 0;
		while (n < cap - 1 && read(q->qmp, line + n, 1) == 1 && line[n] != '\n')
			n++;
		line[n] = 0;
		if (n == 0)
			return false;
		if (cmd == NULL && strstr(line, "\"QMP\""))
			return true;
		if (strstr(line, "\"return\""))
			return true;
		if (strstr(line, "\"error\""))
			return false;
	}
}

/* ---- requests ---- */

/* A GetVariable / SetVariable request of the SMM variable protocol,
 * framed as VariableSmmRuntimeDxe frames it; returns its length. */
static size_t
var_request(uint8_t *buf, uint64_t fn, const char *ascii, const vv_guid *g, uint32_t attr,
	    const void *data, uint64_t size)
{
	size_t name_size = 2 * (strlen(ascii) + 1);
	size_t msg = 16 + 36 + name_size + size;   /* SMM header, access, name, data */
	uint8_t *p = buf + 40;

	memset(buf, 0, 24 + msg);
	memcpy(buf, VV_GUID_SMM_VARIABLE.b, 16);
	vv_put_le64(buf + 16, msg);
	vv_put_le64(buf + 24, fn);
	memcpy(p, g->b, 16);
	vv_put_le64(p + 16, size);
	vv_put_le64(p + 24, name_size);
	vv_put_le32(p + 32, attr);
	for (size_t i = 0; i < strlen(ascii); i++)
		vv_put_le16(p + 36 + 2 * i, (uint8_t)ascii[i]);
	if (data != NULL)
		memcpy(p + 36 + name_size, data, size);
	return 24 + msg;
}

/* GetVariable through QEMU; the EFI status, with the transport status in
 * *sts. */
static vv_status
q_get(struct qemu *q, const char *name, const vv_guid *g, uint16_t *sts, uint8_t *out,
      uint64_t cap)
{
	static uint8_t buf[BUF_SIZE];
	size_t len = var_request(buf, VV_MM_GET_VARIABLE, name, g, 0, NULL, cap);

	*sts = fw_call(q, buf, len);
	if (out != NULL)
		memcpy(out, buf + 40 + 36 + 2 * (strlen(name) + 1), cap);
	return vv_le64(buf + 32);
}

static vv_status
q_set(struct qemu *q, const char *name, const vv_guid *g, uint32_t attr, const void *data,
      uint64_t size, uint16_t *sts)
{
	static uint8_t buf[BUF_SIZE];
	size_t len = var_request(buf, VV_MM_SET_VARIABLE, name, g, attr, data, size);

	*sts = fw_call(q, buf, len);
	return vv_le64(buf + 32);
}

/* ---- the reference: the same requests through the library in-process ---- */

/* The daemon's service without --tpm (src/daemon/vm.c): store, variable
 * policy, Secure Boot, MOR without MORLock. */
struct reference {
	struct vv_store *store;
	struct vv_policy *policy;
	struct vv_secureboot *sb;
	struct vv_mor *mor;
	struct vv_mm *mm;
	struct vv_uefi_vars_device *dev;
	struct fw_guest g;
};

static int
ref_setup(struct reference *r)
{
	memset(r, 0, sizeof(*r));
	r->store = vv_store_new(NULL);
	r->policy = vv_policy_new(r->store, NULL);
	r->sb = vv_secureboot_new(r->store, NULL);
	r->mor = vv_mor_new(r->store, false);
	r->mm = vv_mm_new(r->store, r->policy);
	if (r->store == NULL || r->policy == NULL || r->sb == NULL || r->mor == NULL ||
	    r->mm == NULL || fw_guest_alloc(&r->g, false))
		return -1;
	r->dev = vv_uefi_vars_device_new(r->mm, fw_guest_memory(&r->g), false);
	if (r->dev == NULL)
		return -1;
	/* What QEMU's machine-start reset does to the daemon (VM_RESET). */
	vv_uefi_vars_device_reset(r->dev);
	vv_uefi_vars_device_write(r->dev, VV_REG_CMD_STS, VV_CMD_RESET, 2);
	vv_uefi_vars_device_write(r->dev, VV_REG_BUFFER_SIZE, BUF_SIZE, 4);
	vv_uefi_vars_device_write(r->dev, VV_REG_DMA_ADDR_LO, FW_COMM_GPA, 4);
	vv_uefi_vars_device_write(r->dev, VV_REG_DMA_ADDR_HI, 0, 4);
	return 0;
}

/* The request through the reference device; the reply replaces buf. */
static uint16_t
ref_call(struct reference *r, uint8_t *buf, size_t len)
{
	uint16_t sts;

	memcpy(r->g.ram + FW_COMM_GPA, buf, len);
	vv_uefi_vars_device_write(r->dev, VV_REG_CMD_STS, VV_CMD_DMA_MM, 2);
	sts = (uint16_t)vv_uefi_vars_device_read(r->dev, VV_REG_CMD_STS, 2);
	memcpy(buf, r->g.ram + FW_COMM_GPA, len);
	return sts;
}

static void
ref_teardown(struct reference *r)
{
	vv_uefi_vars_device_free(r->dev);
	vv_mm_free(r->mm);
	vv_mor_free(r->mor);
	vv_secureboot_free(r->sb);
	vv_policy_free(r->policy);
	vv_store_free(r->store);
	fw_guest_release(&r->g);
}

/*
 * The store vmvarsd persisted (its journaled vars.json, loaded by the
 * library) against the reference's NV variables: the same set, with the
 * same attributes and bytes.
 */
static void
check_persisted(const char *dir, const struct vv_store *want)
{
	char path[160];
	struct vv_error err;
	struct vv_store *got = vv_store_new(NULL);
	unsigned nv = 0, loaded = 0;

	snprintf(path, sizeof(path), "%s/vars.json", dir);
	REQUIRE(got != NULL);
	vv_store_set_backend(got, vv_json_journal_backend_new(path, &err));
	if (vv_store_load(got, &err) != 0) {
		printf("# loading %s: %s\n", path, err.msg);
		vv_test_failures++;
		vv_store_free(got);
		return;
	}
	for (const struct vv_variable *v = vv_store_first(want); v; v = vv_store_next(v)) {
		const struct vv_variable *g;

		if (!(v->attributes & VV_ATTR_NV))
			continue;
		nv++;
		g = vv_store_find(got, v->name, v->name_len, &v->guid);
		if (g == NULL || g->attributes != v->attributes || g->data_size != v->data_size ||
		    memcmp(g->data, v->data, v->data_size) != 0) {
			char name[128];
			size_t i;

			for (i = 0; i < v->name_len && i < sizeof(name) - 1; i++)
				name[i] = (char)v->name[i];
			name[i] = 0;
			printf("# persisted store differs at %s\n", name);
			vv_test_failures++;
		}
	}
	for (const struct vv_variable *v = vv_store_first(got); v; v = vv_store_next(v))
		loaded++;
	CHECK_EQ(loaded, nv);
	CHECK(nv >= 15);                 /* final-nv-variables.txt lists 15 */
	printf("# %u NV variables in the reference, %u in the store vmvarsd persisted\n", nv,
	       loaded);
	vv_store_free(got);
}

/* ---- 1. the real OVMF boot through QEMU's device ---- */

static void
replay_boot(bool pio)
{
	static uint8_t via_qemu[BUF_SIZE], via_lib[BUF_SIZE];
	unsigned requests = 0, status_diff = 0, byte_diff = 0, ok_sts = 0, efi_errors = 0;
	struct ovmf_boot rec;
	struct reference ref;
	struct daemon d;
	struct qemu q;

	NEED_QEMU();
	ovmf_boot_load(&rec);
	REQUIRE(ref_setup(&ref) == 0);
	REQUIRE(daemon_setup(&d, "vmvars-qemu-dev", NULL));
	if (!qemu_start(&q, d.vmm, pio, NULL)) {
		printf("# QEMU did not start: %s\n", slurp(q.log));
		vv_test_failures++;
		goto out;
	}
	REQUIRE(fw_init(&q));
	for (size_t i = 0; i < rec.n; i++) {
		const uint8_t *req = rec.req[i];
		size_t len = rec.len[i];
		uint16_t sq, sl;

		memcpy(via_qemu, req, len);
		memcpy(via_lib, req, len);
		sq = fw_call(&q, via_qemu, len);
		sl = ref_call(&ref, via_lib, len);
		requests++;
		ok_sts += sq == VV_STS_SUCCESS;
		if (sq != sl) {
			if (status_diff++ < 5)
				printf("# request %u: status 0x%x through QEMU, 0x%x in-process\n",
				       requests, sq, sl);
		} else if (memcmp(via_qemu, via_lib, len) != 0) {
			if (byte_diff++ < 5)
				printf("# request %u: reply bytes differ\n", requests);
		}
		/* EFI errors inside successful replies (NOT_FOUND, ...): the
		 * replay is not a string of trivial successes. */
		if (sq == VV_STS_SUCCESS && memcmp(req, VV_GUID_SMM_VARIABLE.b, 16) == 0 &&
		    vv_le64(via_qemu + 32) != VV_EFI_SUCCESS)
			efi_errors++;
	}
	CHECK_EQ(requests, 659);
	CHECK_EQ(status_diff, 0);
	CHECK_EQ(byte_diff, 0);
	CHECK_EQ(ok_sts, 659);
	CHECK(efi_errors > 100);
	printf("# %s: %u requests through QEMU into vmvarsd; against in-process: %u status and "
	       "%u reply differences; %u EFI errors inside the replies\n", pio ? "PIO" : "DMA",
	       requests, status_diff, byte_diff, efi_errors);
	CHECK_EQ(vm_resets(&d), 1);      /* the machine-start reset */
	qemu_stop(&q);
	CHECK_EQ(stop(&d), 0);          /* SIGTERM flushes the store */
	check_persisted(d.dir, ref.store);
out:
	ovmf_boot_free(&rec);
	qemu_stop(&q);
	cleanup(&d);
	ref_teardown(&ref);
}

static void
test_ovmf_boot_dma(void)
{
	replay_boot(false);
}

static void
test_ovmf_boot_pio(void)
{
	replay_boot(true);
}

/* ---- 2. VM reset through QMP ---- */

static bool
wait_resets(const struct daemon *d, long want)
{
	for (int i = 0; i < 500; i++) {
		if (vm_resets(d) == want)
			return true;
		msleep(10);
	}
	return false;
}

static void
test_qmp_reset_reaches_daemon(void)
{
	const char vol[] = "volatile", nv[] = "durable";
	uint8_t out[16];
	struct daemon d;
	struct qemu q;
	uint16_t sts;

	NEED_QEMU();
	REQUIRE(daemon_setup(&d, "vmvars-qemu-dev", NULL));
	REQUIRE(qemu_start(&q, d.vmm, false, NULL));
	REQUIRE(fw_init(&q));
	CHECK_EQ(vm_resets(&d), 1);
	CHECK_STATUS(q_set(&q, "Vol", &test_guid, BS_RT, vol, sizeof(vol), &sts), VV_EFI_SUCCESS);
	CHECK_EQ(sts, VV_STS_SUCCESS);
	CHECK_STATUS(q_set(&q, "Nv", &test_guid, NV_BS_RT, nv, sizeof(nv), &sts), VV_EFI_SUCCESS);
	CHECK_STATUS(q_get(&q, "Vol", &test_guid, &sts, out, sizeof(vol)), VV_EFI_SUCCESS);
	CHECK_MEM(out, vol, sizeof(vol));

	CHECK(qmp(&q, "{\"execute\":\"system_reset\"}"));
	CHECK(wait_resets(&d, 2));
	/* After the reset the firmware initialises the device again. */
	REQUIRE(fw_init(&q));
	CHECK_STATUS(q_get(&q, "Vol", &test_guid, &sts, out, sizeof(vol)), VV_EFI_NOT_FOUND);
	CHECK_EQ(sts, VV_STS_SUCCESS);
	CHECK_STATUS(q_get(&q, "Nv", &test_guid, &sts, out, sizeof(nv)), VV_EFI_SUCCESS);
	CHECK_MEM(out, nv, sizeof(nv));
	qemu_stop(&q);
	cleanup(&d);
}

/* ---- 3. the daemon killed mid-stream ---- */

static void
test_daemon_killed_and_restarted(void)
{
	const char vol[] = "volatile", nv[] = "durable";
	char path[160];
	uint8_t out[16];
	struct daemon d;
	struct qemu q;
	uint16_t sts;
	int fd;

	NEED_QEMU();
	REQUIRE(daemon_setup(&d, "vmvars-qemu-dev", NULL));
	REQUIRE(qemu_start(&q, d.vmm, false, NULL));
	REQUIRE(fw_init(&q));
	CHECK_STATUS(q_set(&q, "Vol", &test_guid, BS_RT, vol, sizeof(vol), &sts), VV_EFI_SUCCESS);
	CHECK_STATUS(q_set(&q, "Nv", &test_guid, NV_BS_RT, nv, sizeof(nv), &sts), VV_EFI_SUCCESS);

	/* Gone: every request fails with ERR_UNKNOWN, reported once. */
	crash(&d);
	q_get(&q, "Nv", &test_guid, &sts, out, sizeof(nv));
	CHECK_EQ(sts, VV_STS_ERR_UNKNOWN);
	q_get(&q, "Nv", &test_guid, &sts, out, sizeof(nv));
	CHECK_EQ(sts, VV_STS_ERR_UNKNOWN);
	CHECK_EQ(count_of(slurp(q.log), "request failed, the guest gets a device error"), 1);

	/* Back on the same state: the next request reconnects, the running
	 * guest's volatile state was restored, and QEMU sent no reset. */
	REQUIRE(start(&d, NULL));
	CHECK_STATUS(q_get(&q, "Vol", &test_guid, &sts, out, sizeof(vol)), VV_EFI_SUCCESS);
	CHECK_EQ(sts, VV_STS_SUCCESS);
	CHECK_MEM(out, vol, sizeof(vol));
	CHECK_STATUS(q_get(&q, "Nv", &test_guid, &sts, out, sizeof(nv)), VV_EFI_SUCCESS);
	CHECK_MEM(out, nv, sizeof(nv));
	CHECK_EQ(vm_resets(&d), 0);
	CHECK(strstr(slurp(q.log), "vmvarsd serves requests again (2 failed)") != NULL);

	/* Killed again, and its record of the running guest is damaged: the
	 * restarted daemon refuses (NEEDS_RESET) and the guest gets 0x10 until
	 * the VM is reset; then it is served from the power-on state. */
	crash(&d);
	snprintf(path, sizeof(path), "%s/runtime.state", d.dir);
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write(fd, "x", 1) == 1);
	if (fd >= 0)
		close(fd);
	REQUIRE(start(&d, NULL));
	q_get(&q, "Nv", &test_guid, &sts, out, sizeof(nv));
	CHECK_EQ(sts, VV_STS_ERR_UNKNOWN);
	CHECK(strstr(slurp(q.log), "error 9") != NULL);
	CHECK(qmp(&q, "{\"execute\":\"system_reset\"}"));
	CHECK(wait_resets(&d, 1));
	REQUIRE(fw_init(&q));
	CHECK_STATUS(q_get(&q, "Vol", &test_guid, &sts, out, sizeof(vol)), VV_EFI_NOT_FOUND);
	CHECK_EQ(sts, VV_STS_SUCCESS);
	CHECK_STATUS(q_get(&q, "Nv", &test_guid, &sts, out, sizeof(nv)), VV_EFI_SUCCESS);
	CHECK_MEM(out, nv, sizeof(nv));
	qemu_stop(&q);
	cleanup(&d);
}

/* ---- 3b. a reply lost after the daemon applied the request ---- */

/*
 * A proxy between QEMU and vmvarsd (a child of this program) that forwards
 * frame for frame, except that for the first MM_REQUEST writing MORLock it
 * lets vmvarsd apply the request and then closes both connections instead
 * of forwarding the reply: what QEMU sees when the daemon is killed after
 * it recorded a request and before its reply left.  Every MORLock request
 * it forwards is counted in count_path.
 */
static void
morlock_proxy(int l, const char *daemon_sock, const char *count_path)
{
	static const char name[] = "MemoryOverwriteRequestControlLock";
	static uint8_t f[8 + VV_VMM_MAX_PAYLOAD + 64];
	uint8_t wide[2 * sizeof(name)];
	bool dropped = false;

	for (size_t i = 0; i < strlen(name); i++)
		vv_put_le16(wide + 2 * i, (uint8_t)name[i]);
	for (;;) {
		int c = accept(l, NULL, NULL), v;
		uint32_t n;

		if (c < 0)
			_exit(1);
		v = connect_unix(daemon_sock);
		while (v >= 0) {
			bool morlock;

			if (!read_full(c, f, 8) || (n = vv_le32(f + 4)) > VV_VMM_MAX_PAYLOAD ||
			    !read_full(c, f + 8, n) || !write_full(v, f, 8 + n))
				break;
			morlock = vv_le32(f) == VV_VMM_MSG_MM_REQUEST &&
				  memmem(f + 8, n, wide, 2 * strlen(name)) != NULL;
			if (morlock)
				count_request(count_path);
			if (!read_full(v, f, 8) || (n = vv_le32(f + 4)) > VV_VMM_MAX_PAYLOAD + 64 ||
			    !read_full(v, f + 8, n))
				break;
			if (morlock && !dropped) {
				dropped = true;      /* applied, and never answered */
				break;
			}
			if (!write_full(c, f, 8 + n))
				break;
		}
		if (v >= 0)
			close(v);
		close(c);
	}
}

static void
test_applied_request_not_resent(void)
{
	static const char *const tpm[] = { "--tpm", NULL };
	const uint8_t key[8] = { 'K', '3', 'y', 'K', '3', 'y', 'K', '3' };
	char sock[160], count[160];
	struct daemon d;
	struct qemu q;
	uint8_t lock;
	uint16_t sts;
	pid_t proxy;
	int l;

	NEED_QEMU();
	REQUIRE(daemon_setup(&d, "vmvars-qemu-dev", tpm));
	snprintf(sock, sizeof(sock), "%s/proxy.sock", d.dir);
	snprintf(count, sizeof(count), "%s/morlock.requests", d.dir);
	REQUIRE((l = listen_unix(sock)) >= 0);
	proxy = fork();
	if (proxy == 0)
		morlock_proxy(l, d.vmm, count);
	close(l);
	REQUIRE(proxy > 0);
	REQUIRE(qemu_start(&q, sock, false, NULL));
	REQUIRE(fw_init(&q));

	/* The keyed lock: vmvarsd applies it, its reply is lost.  The guest
	 * is told the call failed; QEMU does not send it a second time (which
	 * would have been the right key for a locked MORLock: an unlock). */
	q_set(&q, "MemoryOverwriteRequestControlLock", &VV_GUID_MOR_LOCK, NV_BS_RT, key,
	      sizeof(key), &sts);
	CHECK_EQ(sts, VV_STS_ERR_UNKNOWN);
	CHECK_EQ(file_size(count), 1);
	CHECK(strstr(slurp(q.log), "request failed, the guest gets a device error") != NULL);

	/* The next request connects anew: the lock is held, with its key. */
	CHECK_STATUS(q_get(&q, "MemoryOverwriteRequestControlLock", &VV_GUID_MOR_LOCK, &sts,
			   &lock, 1), VV_EFI_SUCCESS);
	CHECK_EQ(sts, VV_STS_SUCCESS);
	CHECK_EQ(lock, 2);               /* 0 unlocked, 1 locked, 2 locked with a key */
	CHECK_EQ(file_size(count), 2);
	qemu_stop(&q);
	kill(proxy, SIGKILL);
	waitpid(proxy, NULL, 0);
	cleanup(&d);
}

/* ---- 4. a fake daemon sending malformed replies ---- */

enum fake_reply {
	FAKE_GOOD,            /* control: a valid reply, one byte changed */
	FAKE_LONGER,          /* status 0, reply 16 bytes longer than the request */
	FAKE_SHORTER,         /* status 0, reply 4 bytes shorter */
	FAKE_WRONG_TYPE,      /* a HELLO_REPLY where the MM_REPLY belongs */
	FAKE_TRUNCATED,       /* announces the whole reply, sends half, closes */
	FAKE_ERROR_WITH_BYTES, /* status 0x12 followed by reply bytes */
	FAKE_UNKNOWN_STATUS,  /* status 0x77 */
	FAKE_HUGE,            /* length 0xfffffff0 */
	FAKE_BAD_ERROR,       /* an ERROR frame of 3 bytes */
	FAKE_TRICKLE,         /* a valid reply, one byte every 0.6 s */
};

/* The fake daemon appends a byte to this file for every MM_REQUEST it
 * receives, on any connection: how often QEMU sent the guest's request. */
static char fake_count_path[160];

static void
put_header(uint8_t *h, uint32_t type, uint32_t length)
{
	vv_put_le32(h, type);
	vv_put_le32(h + 4, length);
}

/* One connection: HELLO, then ACK every VM_RESET and answer every
 * MM_REQUEST the way `kind` says. */
static void
fake_serve(int c, enum fake_reply kind)
{
	static uint8_t in[8 + VV_VMM_MAX_PAYLOAD], out[8 + VV_VMM_MAX_PAYLOAD + 64];
	uint32_t type, length, size;

	if (!read_full(c, in, 8) || vv_le32(in) != VV_VMM_MSG_HELLO || vv_le32(in + 4) != 24 ||
	    !read_full(c, in + 8, 24))
		return;
	put_header(out, VV_VMM_MSG_HELLO_REPLY, 24);
	memset(out + 8, 0, 24);
	vv_put_le32(out + 8, VV_VMM_MAGIC);
	vv_put_le32(out + 12, VV_VMM_VERSION);
	vv_put_le64(out + 16, VV_VMM_FEATURE_VM_RESET);
	vv_put_le32(out + 24, VV_VMM_MAX_PAYLOAD);
	if (!write_full(c, out, 32))
		return;
	while (read_full(c, in, 8)) {
		type = vv_le32(in);
		length = vv_le32(in + 4);
		if (length > VV_VMM_MAX_PAYLOAD || !read_full(c, in + 8, length))
			return;
		if (type == VV_VMM_MSG_VM_RESET) {
			put_header(out, VV_VMM_MSG_ACK, 4);
			vv_put_le32(out + 8, VV_VMM_MSG_VM_RESET);
			if (!write_full(c, out, 12))
				return;
			continue;
		}
		size = length - 4;          /* the MM request */
		count_request(fake_count_path);
		memcpy(out + 10, in + 12, size);
		vv_put_le16(out + 8, VV_STS_SUCCESS);
		switch (kind) {
		case FAKE_GOOD:
			out[10 + size - 1] ^= 0xff;
			put_header(out, VV_VMM_MSG_MM_REPLY, 2 + size);
			write_full(c, out, 10 + size);
			break;
		case FAKE_LONGER:
			memset(out + 10 + size, 0xee, 16);
			put_header(out, VV_VMM_MSG_MM_REPLY, 2 + size + 16);
			write_full(c, out, 10 + size + 16);
			break;
		case FAKE_SHORTER:
			put_header(out, VV_VMM_MSG_MM_REPLY, 2 + size - 4);
			write_full(c, out, 10 + size - 4);
			break;
		case FAKE_WRONG_TYPE:
			put_header(out, VV_VMM_MSG_HELLO_REPLY, 2 + size);
			write_full(c, out, 10 + size);
			break;
		case FAKE_TRUNCATED:
			put_header(out, VV_VMM_MSG_MM_REPLY, 2 + size);
			write_full(c, out, 10 + size / 2);
			return;
		case FAKE_ERROR_WITH_BYTES:
			vv_put_le16(out + 8, VV_STS_ERR_BAD_BUFFER_SIZE);
			put_header(out, VV_VMM_MSG_MM_REPLY, 2 + size);
			write_full(c, out, 10 + size);
			break;
		case FAKE_UNKNOWN_STATUS:
			vv_put_le16(out + 8, 0x77);
			put_header(out, VV_VMM_MSG_MM_REPLY, 2);
			write_full(c, out, 10);
			break;
		case FAKE_HUGE:
			put_header(out, VV_VMM_MSG_MM_REPLY, 0xfffffff0u);
			write_full(c, out, 10 + size);
			break;
		case FAKE_BAD_ERROR:
			put_header(out, VV_VMM_MSG_ERROR, 3);
			write_full(c, out, 11);
			break;
		case FAKE_TRICKLE:
			/* Each byte well within any per-receive timeout, the
			 * whole reply (over 10 minutes) far beyond QEMU's. */
			put_header(out, VV_VMM_MSG_MM_REPLY, 2 + size);
			if (send(c, out, 10, MSG_NOSIGNAL) != 10)
				return;
			for (uint32_t i = 0; i < size; i++) {
				msleep(600);
				if (send(c, out + 10 + i, 1, MSG_NOSIGNAL) != 1)
					return;
			}
			break;
		}
	}
}

/* The fake daemon: a child process serving connection after connection
 * (QEMU reconnects after a broken one). */
static pid_t
fake_start(const char *sock, enum fake_reply kind)
{
	int l = listen_unix(sock);
	pid_t pid;

	if (l < 0)
		return -1;
	snprintf(fake_count_path, sizeof(fake_count_path), "%s.requests", sock);
	unlink(fake_count_path);
	pid = fork();
	if (pid == 0) {
		for (;;) {
			int c = accept(l, NULL, NULL);

			if (c < 0)
				_exit(1);
			fake_serve(c, kind);
			close(c);
		}
	}
	close(l);
	return pid;
}

static void
fake_case(enum fake_reply kind, bool pio, const char *what)
{
	static uint8_t before[GUARD + BUF_SIZE + GUARD], after[sizeof(before)];
	static uint8_t req[BUF_SIZE], got[BUF_SIZE];
	/* The trickle case: a short deadline, and how long the request took. */
	const bool trickle = kind == FAKE_TRICKLE;
	char dir[64], sock[128];
	double t0, took;
	struct qemu q;
	uint16_t sts;
	size_t len;
	pid_t fake;
	int failures = vv_test_failures;

	snprintf(dir, sizeof(dir), "/tmp/vmvars-qemu-fake-XXXXXX");
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(sock, sizeof(sock), "%s/vmm.sock", dir);
	fake = fake_start(sock, kind);
	REQUIRE(fake > 0);
	if (!qemu_start(&q, sock, pio, trickle ? ",vmvarsd-timeout-ms=2000" : NULL)) {
		printf("# QEMU did not start: %s\n", slurp(q.log));
		vv_test_failures++;
		goto out;
	}
	REQUIRE(fw_init(&q));
	/* Guest RAM around and in the buffer: a pattern QEMU must not touch. */
	for (size_t i = 0; i < sizeof(before); i++)
		before[i] = (uint8_t)(0x5a ^ (i * 7));
	len = var_request(req, VV_MM_GET_VARIABLE, "Probe", &test_guid, 0, NULL, 1000);
	memcpy(before + GUARD, req, len);
	REQUIRE(mem_write(&q, GUEST_BUF - GUARD, before, sizeof(before)));
	memcpy(got, req, len);
	t0 = now_s();
	if (pio) {
		sts = fw_call(&q, got, len);     /* reads the PIO buffer back */
	} else {
		qt_write(&q, "writew", REG_BASE + VV_REG_CMD_STS, VV_CMD_DMA_MM);
		sts = (uint16_t)qt_read(&q, "readw", REG_BASE + VV_REG_CMD_STS);
	}
	took = now_s() - t0;
	REQUIRE(mem_read(&q, GUEST_BUF - GUARD, after, sizeof(after)));
	if (kind == FAKE_GOOD) {
		/* The control: a valid reply is written back exactly. */
		CHECK_EQ(sts, VV_STS_SUCCESS);
		req[len - 1] ^= 0xff;
		if (pio) {
			CHECK_MEM(got, req, len);
			CHECK_MEM(after, before, sizeof(after));
		} else {
			memcpy(before + GUARD, req, len);
			CHECK_MEM(after, before, sizeof(after));
		}
	} else {
		CHECK_EQ(sts, VV_STS_ERR_UNKNOWN);
		CHECK_MEM(after, before, sizeof(after));
		if (pio)
			CHECK_MEM(got, req, len);
		CHECK(strstr(slurp(q.log), "uefi-vars: request failed") != NULL);
	}
	/*
	 * The request went out whole, so it is never sent again, whatever
	 * became of its reply (the daemon may have applied it): one MM_REQUEST
	 * reached the fake, on one connection.
	 */
	CHECK_EQ(file_size(fake_count_path), 1);
	if (trickle) {
		/* One deadline (2 s) for the whole request, not one per
		 * receive: a byte every 0.6 s does not keep QEMU waiting.
		 * The upper bound is twice the deadline, to stay clear of a
		 * loaded machine's delays.  Timed in DMA mode only, where the
		 * request is one qtest command (PIO adds hundreds). */
		printf("# trickling daemon (%s): the request failed after %.2f s\n",
		       pio ? "PIO" : "DMA", took);
		if (!pio) {
			CHECK(took >= 1.5);
			CHECK(took < 4.0);
		}
		CHECK(strstr(slurp(q.log), "no answer within 2000 ms") != NULL);
	}
	/* QEMU survived it and still answers. */
	CHECK_EQ(qt_read(&q, "readw", REG_BASE + VV_REG_MAGIC), VV_UEFI_VARS_MAGIC);
	if (vv_test_failures != failures)
		printf("# case: %s (%s); QEMU's log: %s\n", what, pio ? "PIO" : "DMA",
		       slurp(q.log));
out:
	qemu_stop(&q);
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);
	unlink(sock);
	unlink(fake_count_path);
	rmdir(dir);
}

static void
test_malformed_replies(void)
{
	static const struct {
		enum fake_reply kind;
		const char *what;
	} cases[] = {
		{ FAKE_GOOD, "valid reply (control)" },
		{ FAKE_LONGER, "reply longer than the request" },
		{ FAKE_SHORTER, "reply shorter than the request" },
		{ FAKE_WRONG_TYPE, "wrong frame type" },
		{ FAKE_TRUNCATED, "truncated reply" },
		{ FAKE_ERROR_WITH_BYTES, "error status with reply bytes" },
		{ FAKE_UNKNOWN_STATUS, "unknown status" },
		{ FAKE_HUGE, "length 0xfffffff0" },
		{ FAKE_BAD_ERROR, "ERROR frame of 3 bytes" },
		{ FAKE_TRICKLE, "a reply trickled a byte at a time" },
	};

	NEED_QEMU();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_case(cases[i].kind, false, cases[i].what);
		fake_case(cases[i].kind, true, cases[i].what);
	}
}

/* ---- 5. start-up ---- */

static void
test_startup_refusals(void)
{
	struct daemon d;
	struct qemu q;

	NEED_QEMU();
	/* Nothing listens: QEMU does not start a VM without its service. */
	CHECK(!qemu_start(&q, "/tmp/vmvars-qemu-nonexistent/vmm.sock", false, NULL));
	CHECK(strstr(slurp(q.log), "cannot use vmvarsd at /tmp/vmvars-qemu-nonexistent/vmm.sock")
	      != NULL);
	qemu_stop(&q);
	/* The in-process store's options are refused next to vmvarsd. */
	REQUIRE(daemon_setup(&d, "vmvars-qemu-dev", NULL));
	CHECK(!qemu_start(&q, d.vmm, false, ",jsonfile=/tmp/vmvars-qemu-unused.json"));
	CHECK(strstr(slurp(q.log), "configured in the daemon") != NULL);
	qemu_stop(&q);
	/* A request with no time at all to complete is refused too. */
	CHECK(!qemu_start(&q, d.vmm, false, ",vmvarsd-timeout-ms=0"));
	CHECK(strstr(slurp(q.log), "vmvarsd-timeout-ms must not be 0") != NULL);
	qemu_stop(&q);
	/* A migration blocker is in place. */
	REQUIRE(qemu_start(&q, d.vmm, false, NULL));
	CHECK(!qmp(&q, "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"exec:cat>/dev/null\"}}"));
	CHECK(strstr(qmp_line, "migration is not supported with the vmvarsd backend") != NULL);
	qemu_stop(&q);
	cleanup(&d);
}

/* Without vmvarsd= the patched device is QEMU's own service, as before:
 * a variable set through it is read back and lands in its jsonfile. */
static void
test_in_process_backend_unchanged(void)
{
	const char nv[] = "durable";
	char dir[48], opt[96];
	uint8_t out[sizeof(nv)];
	struct qemu q;
	uint16_t sts;

	NEED_QEMU();
	snprintf(dir, sizeof(dir), "/tmp/vmvars-qemu-json-XXXXXX");
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(opt, sizeof(opt), ",jsonfile=%s/vars.json", dir);
	REQUIRE(qemu_start(&q, NULL, false, opt));
	REQUIRE(fw_init(&q));
	CHECK_STATUS(q_set(&q, "Nv", &test_guid, NV_BS_RT, nv, sizeof(nv), &sts), VV_EFI_SUCCESS);
	CHECK_EQ(sts, VV_STS_SUCCESS);
	CHECK_STATUS(q_get(&q, "Nv", &test_guid, &sts, out, sizeof(nv)), VV_EFI_SUCCESS);
	CHECK_MEM(out, nv, sizeof(nv));
	snprintf(opt, sizeof(opt), "%s/vars.json", dir);
	/* QEMU's JSON names the variable and holds its bytes in hex */
	CHECK(strstr(slurp(opt), "\"Nv\"") != NULL);
	CHECK(strstr(slurp(opt), "64757261626c6500") != NULL);
	qemu_stop(&q);
	snprintf(opt, sizeof(opt), "rm -rf %s", dir);
	if (system(opt) != 0)
		printf("# cleanup of %s failed\n", dir);
}

/* ---- 6. the operator path: vmvars firmware instantiate --vmvarsd ---- */

/*
 * A host-uefi-vars descriptor with a JSON variable template, instantiated
 * for vmvarsd (the library behind `vmvars firmware instantiate --vmvarsd`):
 * the daemon started with exactly the printed argv and QEMU with exactly
 * the printed -device serve the template's variable to the guest.  Only
 * -bios is left out, the firmware image being the descriptor's invention.
 */
static void
test_instantiated_vm_runs(void)
{
	static const char tpl_text[] =
		"{\"version\": 2, \"variables\": [{\"guid\": "
		"\"3d6b1f0e-4c2a-4b8e-9f10-112233445566\", \"name\": \"FromTemplate\","
		" \"attr\": 7, \"data\": \"c0ffee\"}]}";
	char base[40], tpl[64], state[48], desc[1024], dev[256];
	struct vv_fw_instance_opts o = { .vm_name = "vm1" };
	struct vv_fw_instance *inst = NULL;
	struct vv_fw_descriptor *d;
	struct vv_error err;
	struct daemon dm;
	struct qemu q;
	uint8_t out[3];
	uint16_t sts;
	FILE *f;

	NEED_QEMU();
	snprintf(base, sizeof(base), "/tmp/vmvars-qemu-inst-XXXXXX");
	REQUIRE(mkdtemp(base) != NULL);
	snprintf(tpl, sizeof(tpl), "%s/template.json", base);
	snprintf(state, sizeof(state), "%s/vm1", base);
	REQUIRE((f = fopen(tpl, "w")) != NULL);
	fputs(tpl_text, f);
	fclose(f);
	snprintf(desc, sizeof(desc),
		 "{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"memory\","
		 " \"mode\": \"split\", \"executable\": {\"filename\": \"/fw.fd\", \"format\":"
		 " \"raw\"}, \"nvram-template\": {\"filename\": \"%s\", \"format\": \"json\"}},"
		 " \"targets\": [{\"architecture\": \"x86_64\", \"machines\": [\"pc-q35-*\"]}],"
		 " \"features\": [\"host-uefi-vars\"]}", tpl);
	REQUIRE((d = vv_fw_descriptor_parse(desc, strlen(desc), "qv.json", &err)) != NULL);
	o.vmvarsd_dir = state;
	inst = vv_fw_instantiate(d, &o, &err);
	vv_fw_descriptor_free(d);
	if (inst == NULL)
		printf("# %s\n", err.msg);
	REQUIRE(inst != NULL);
	REQUIRE(inst->n_vmvarsd_args == 3 && strcmp(inst->vmvarsd_args[2], state) == 0);
	REQUIRE(inst->n_qemu_args == 4 && strcmp(inst->qemu_args[2], "-device") == 0);
	snprintf(dev, sizeof(dev), "uefi-vars-x64,vmvarsd=%s/vmm.sock", state);
	CHECK(strcmp(inst->qemu_args[3], dev) == 0);

	/* The daemon on the printed state directory, QEMU with the printed
	 * device (qemu_start adds nothing to it but the socket it is given). */
	memset(&dm, 0, sizeof(dm));
	snprintf(dm.dir, sizeof(dm.dir), "%s", state);
	snprintf(dm.vmm, sizeof(dm.vmm), "%s/vmm.sock", state);
	snprintf(dm.mgmt, sizeof(dm.mgmt), "%s/mgmt.sock", state);
	REQUIRE(start(&dm, NULL));
	REQUIRE(qemu_start(&q, dm.vmm, false, NULL));
	REQUIRE(fw_init(&q));
	CHECK_STATUS(q_get(&q, "FromTemplate", &test_guid, &sts, out, sizeof(out)),
		     VV_EFI_SUCCESS);
	CHECK_EQ(sts, VV_STS_SUCCESS);
	CHECK_MEM(out, "\xc0\xff\xee", 3);
	qemu_stop(&q);
	cleanup(&dm);
	vv_fw_instance_free(inst);
	snprintf(desc, sizeof(desc), "rm -rf %s", base);
	if (system(desc) != 0)
		printf("# cleanup of %s failed\n", base);
}

static const struct vv_test tests[] = {
	TEST(test_ovmf_boot_dma),
	TEST(test_ovmf_boot_pio),
	TEST(test_qmp_reset_reaches_daemon),
	TEST(test_daemon_killed_and_restarted),
	TEST(test_applied_request_not_resent),
	TEST(test_malformed_replies),
	TEST(test_startup_refusals),
	TEST(test_in_process_backend_unchanged),
	TEST(test_instantiated_vm_runs),
};

VV_TEST_MAIN(tests)
