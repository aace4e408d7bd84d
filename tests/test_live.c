/*
 * tests/test_live.c -- the CLI on running VMs (docs/cli.md "Live VMs"):
 * real vmvarsd processes, the real `vmvars` binary, a guest speaking the
 * VMM protocol.
 *
 *  - an edit with --socket / --vm is what the guest then reads;
 *  - an offline write to the store the daemon holds is refused with the
 *    exact message naming the daemon and the live form, the files unchanged;
 *  - the management "batch": all or nothing, refusals name the change and
 *    the reason, one journal record;
 *  - `vmvars rollover --socket` with Microsoft's real objects, the daemon
 *    killed (SIGKILL) at several moments: after a restart KEK, db and dbx
 *    are all the old ones or all the new ones, never a mix.
 *
 * The binaries are $VMVARS_BUILD_ROOT/src/{cli/vmvars,daemon/vmvarsd};
 * Microsoft's objects are $VMVARS_MS_DATA (meson sets both); the rollover
 * store is Debian's OVMF_VARS_4M.ms.fd (package ovmf).
 */
#include "harness.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/stat.h>

#include <vmvars/vmvars.h>
#include <vmvars/vmm_protocol.h>

#include "daemon_util.h"

#define MSFD "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"
#define G "3d6b1f0e-4c2a-4b8e-9f10-112233445566"

static const vv_guid TG = { { 0x0e, 0x1f, 0x6b, 0x3d, 0x2a, 0x4c, 0x8e, 0x4b,
			      0x9f, 0x10, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66 } };

static char cli[600], work[64];
static char out[1 << 16], err[1 << 16];

static void
slurp_into(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, cap - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	/* one trailing newline off, as $(...) would */
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
}

/* Runs `env vmvars ARGS` (a shell fragment); out and err hold its output.
 * Returns the exit status (-1 if it did not exit). */
static int
run(const char *env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
run(const char *env, const char *fmt, ...)
{
	char args[2048], cmd[4096], o[128], e[128];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(o, sizeof(o), "%s/out", work);
	snprintf(e, sizeof(e), "%s/err", work);
	snprintf(cmd, sizeof(cmd), "%s %s %s >%s 2>%s", env ? env : "", cli, args, o, e);
	st = system(cmd);
	slurp_into(o, out, sizeof(out));
	slurp_into(e, err, sizeof(err));
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool
same_file(const char *a, const char *b)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", a, b);
	return system(cmd) == 0;
}

static void
copy_file(const char *from, const char *to)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "cp -p '%s' '%s'", from, to);
	REQUIRE(system(cmd) == 0);
}

static bool
reset_vm(const struct daemon *d)
{
	return strstr(mgmt(d, "{\"cmd\":\"reset\"}"), "\"ok\":true") != NULL;
}

/* ---- a guest on the VMM socket ---- */

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

static int
guest_connect(const struct daemon *d)
{
	uint8_t b[32];
	int fd = connect_unix(d->vmm);

	if (fd < 0)
		return -1;
	vv_put_le32(b, VV_VMM_MSG_HELLO);
	vv_put_le32(b + 4, 24);
	vv_put_le32(b + 8, VV_VMM_MAGIC);
	vv_put_le32(b + 12, 1);
	vv_put_le64(b + 16, 1);
	vv_put_le32(b + 24, VV_VMM_MAX_PAYLOAD);
	vv_put_le32(b + 28, 0);
	if (write(fd, b, 32) != 32 || !read_exact(fd, b, 32) ||
	    vv_le32(b) != VV_VMM_MSG_HELLO_REPLY) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The guest's GetVariable(name, guid) through an MM_REQUEST frame, with
 * room for 64 bytes: the EFI status; *size and data on success. */
static uint64_t
guest_get(int fd, const char *name, const vv_guid *guid, uint8_t *data, size_t *size)
{
	uint8_t req[512], rep[512];
	const size_t ns = (strlen(name) + 1) * 2, ds = 64, msg = 16 + 36 + ns + ds,
		     total = 24 + msg;
	uint8_t *b = req + 12;
	uint64_t st;

	memset(req, 0, sizeof(req));
	vv_put_le32(req, VV_VMM_MSG_MM_REQUEST);
	vv_put_le32(req + 4, (uint32_t)(4 + total));
	vv_put_le32(req + 8, 4096);
	memcpy(b, VV_GUID_SMM_VARIABLE.b, 16);
	vv_put_le64(b + 16, msg);
	vv_put_le64(b + 24, VV_MM_GET_VARIABLE);
	memcpy(b + 40, guid->b, 16);
	vv_put_le64(b + 56, ds);
	vv_put_le64(b + 64, ns);
	for (size_t i = 0; name[i] != '\0'; i++)
		vv_put_le16(b + 76 + 2 * i, (uint8_t)name[i]);
	if (write(fd, req, 12 + total) != (ssize_t)(12 + total) ||
	    !read_exact(fd, rep, 8 + 2 + total))
		return UINT64_MAX;
	st = vv_le64(rep + 10 + 32);
	if (st == VV_EFI_SUCCESS) {
		*size = (size_t)vv_le64(rep + 10 + 56);
		if (*size <= ds)
			memcpy(data, rep + 10 + 76 + ns, *size);
	}
	return st;
}

/* ---- cases ---- */

static void
test_live_edit_seen_by_guest(void)
{
	struct daemon d;
	char env[200];
	const char *name;
	uint8_t data[64];
	size_t size = 0;
	int fd;

	REQUIRE(daemon_setup(&d, "vmvars-live", NULL));
	REQUIRE(reset_vm(&d));
	name = strrchr(d.dir, '/') + 1;
	snprintf(env, sizeof(env), "VMVARS_STATE_DIR=/tmp");
	fd = guest_connect(&d);
	REQUIRE(fd >= 0);
	CHECK_EQ(guest_get(fd, "Foo", &TG, data, &size), VV_EFI_NOT_FOUND);
	/* --socket */
	CHECK_EQ(run(NULL, "set --socket %s Foo --guid " G " --attr NV,BS,RT --data 0102", d.mgmt), 0);
	CHECK_EQ(out[0], 0);
	CHECK_EQ(err[0], 0);
	CHECK_EQ(guest_get(fd, "Foo", &TG, data, &size), VV_EFI_SUCCESS);
	CHECK(size == 2 && data[0] == 1 && data[1] == 2);
	/* --vm NAME, the state directory from VMVARS_STATE_DIR */
	CHECK_EQ(run(env, "get --vm %s Foo --guid " G " --hex", name), 0);
	CHECK(strcmp(out, "0102") == 0);
	CHECK_EQ(run(env, "set Foo --guid " G " --attr NV,BS,RT --data 0a0b0c --vm=%s", name), 0);
	CHECK_EQ(guest_get(fd, "Foo", &TG, data, &size), VV_EFI_SUCCESS);
	CHECK(size == 3 && data[2] == 0x0c);
	/* boot: the address goes after its SUBCOMMAND */
	CHECK_EQ(run(env, "boot --vm %s add --title Live --path '\\EFI\\live.efi'", name), 0);
	CHECK_EQ(guest_get(fd, "BootOrder", &VV_GUID_GLOBAL_VARIABLE, data, &size), VV_EFI_SUCCESS);
	CHECK(size == 2 && data[0] == 0 && data[1] == 0);
	CHECK_EQ(run(env, "list --vm %s", name), 0);
	CHECK(strstr(out, "Boot0000") != NULL && strstr(out, "Foo") != NULL);
	/* delete; a second delete is refused and says so */
	CHECK_EQ(run(env, "delete --vm %s Foo --guid " G, name), 0);
	CHECK_EQ(guest_get(fd, "Foo", &TG, data, &size), VV_EFI_NOT_FOUND);
	CHECK_EQ(run(env, "delete --vm %s Foo --guid " G, name), 1);
	CHECK(strstr(err, "no such variable") != NULL);
	/* a VM that does not run: exit 1, the socket named */
	CHECK_EQ(run(env, "list --vm no-such-vm-here"), 1);
	CHECK(strstr(err, "vm:no-such-vm-here: cannot connect to the VM's management socket "
		      "/tmp/no-such-vm-here/mgmt.sock") != NULL);
	/* create takes no store: --vm is not one of its options */
	CHECK_EQ(run(NULL, "create --vm x new.json"), 2);
	close(fd);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* An offline write to the store vmvarsd holds: exit 1, the exact message
 * (the daemon's pid, the live form), the store's files unchanged. */
static void
test_offline_write_refused(void)
{
	struct daemon d;
	char store[128], journal[140], s0[128], j0[140], want[600], env[64];
	const char *name;

	REQUIRE(daemon_setup(&d, "vmvars-live", NULL));
	name = strrchr(d.dir, '/') + 1;
	REQUIRE(strstr(mgmt(&d, "{\"cmd\":\"set\",\"name\":\"Foo\",\"guid\":\"" G "\","
			    "\"attributes\":\"NV|BS|RT\",\"data\":\"01\"}"), "\"ok\":true") != NULL);
	snprintf(store, sizeof(store), "%s/vars.json", d.dir);
	snprintf(journal, sizeof(journal), "%s/vars.json.journal", d.dir);
	snprintf(s0, sizeof(s0), "%s/s0", work);
	snprintf(j0, sizeof(j0), "%s/j0", work);
	copy_file(journal, j0);
	if (access(store, F_OK) == 0)
		copy_file(store, s0);
	snprintf(env, sizeof(env), "VMVARS_STATE_DIR=/tmp");
	CHECK_EQ(run(env, "set %s Foo --guid " G " --attr NV,BS,RT --data 02", store), 1);
	snprintf(want, sizeof(want), "vmvars: set: %s is in use by vmvarsd (pid %ld), which serves "
		 "it to a running VM; edit it live with --vm %s (or --socket %s/mgmt.sock)", store,
		 (long)d.pid, name, d.dir);
	CHECK(strcmp(err, want) == 0);
	if (strcmp(err, want) != 0)
		printf("# got  %s\n# want %s\n", err, want);
	/* outside the state root: the socket form */
	CHECK_EQ(run("VMVARS_STATE_DIR=/nonexistent", "delete %s Foo --guid " G, store), 1);
	snprintf(want, sizeof(want), "vmvars: delete: %s is in use by vmvarsd (pid %ld), which "
		 "serves it to a running VM; edit it live with --socket %s/mgmt.sock (its "
		 "--mgmt-socket)", store, (long)d.pid, d.dir);
	CHECK(strcmp(err, want) == 0);
	CHECK(same_file(journal, j0));
	CHECK(access(store, F_OK) != 0 || same_file(store, s0));
	/* and the live form works */
	CHECK_EQ(run(env, "set --vm %s Foo --guid " G " --attr NV,BS,RT --data 02", name), 0);
	CHECK(strstr(mgmt(&d, "{\"cmd\":\"get\",\"name\":\"Foo\",\"guid\":\"" G "\"}"),
		     "\"data\":\"02\"") != NULL);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

static size_t
lines_of(const char *path)
{
	char buf[1 << 16];
	size_t n = 0;

	slurp_into(path, buf, sizeof(buf));
	for (char *p = buf; *p; p++)
		n += *p == '\n';
	return buf[0] ? n + 1 : 0;  /* slurp_into dropped the last newline */
}

/* The management batch: all or nothing, the refused change and the reason
 * named, one journal record. */
static void
test_mgmt_batch(void)
{
	struct daemon d;
	char journal[140];
	const char *r;
	size_t before;

	REQUIRE(daemon_setup(&d, "vmvars-live", NULL));
	snprintf(journal, sizeof(journal), "%s/vars.json.journal", d.dir);
	REQUIRE(strstr(mgmt(&d, "{\"cmd\":\"set\",\"name\":\"A\",\"guid\":\"" G "\","
			    "\"attributes\":\"NV|BS|RT\",\"data\":\"01\"}"), "\"ok\":true") != NULL);
	before = lines_of(journal);
	/* the second change's expectation fails: nothing of the first stays */
	r = mgmt(&d, "{\"cmd\":\"batch\",\"changes\":["
		 "{\"op\":\"set\",\"name\":\"B\",\"guid\":\"" G "\",\"attributes\":\"NV|BS|RT\","
		 "\"data\":\"02\"},"
		 "{\"op\":\"put\",\"var\":{\"guid\":\"" G "\",\"name\":\"A\",\"attr\":7,"
		 "\"data\":\"03\"},\"expect\":\"absent\"}]}");
	CHECK(strcmp(r, "{\"failed\":1,\"ok\":false,\"error\":\"change 1 (put A (" G ")) refused: "
		     "the variable exists now (it did not when it was read): it changed meanwhile; "
		     "read it again; nothing was changed\"}") == 0);
	if (strstr(r, "failed") == NULL)
		printf("# %s\n", r);
	CHECK(strstr(mgmt(&d, "{\"cmd\":\"get\",\"name\":\"B\",\"guid\":\"" G "\"}"),
		     "EFI_NOT_FOUND") != NULL);
	/* a refused SetVariable: its status and index */
	r = mgmt(&d, "{\"cmd\":\"batch\",\"changes\":["
		 "{\"op\":\"delete\",\"name\":\"A\",\"guid\":\"" G "\"},"
		 "{\"op\":\"set\",\"name\":\"K\",\"guid\":\"" G "\",\"attributes\":\"NV|BS|RT|AT\","
		 "\"data\":\"00\"}]}");
	CHECK(strstr(r, "\"failed\":1") != NULL && strstr(r, "\"status\":\"EFI_") != NULL &&
	      strstr(r, "change 1 (set K (" G ")) refused: EFI_") != NULL);
	CHECK(strstr(mgmt(&d, "{\"cmd\":\"get\",\"name\":\"A\",\"guid\":\"" G "\"}"),
		     "\"data\":\"01\"") != NULL);
	r = mgmt(&d, "{\"cmd\":\"batch\",\"changes\":[{\"op\":\"frob\"}]}");
	CHECK(strstr(r, "change 0 (frob) refused: unknown op \\\"frob\\\"") != NULL);
	CHECK_EQ(lines_of(journal), before);
	/* accepted: both, one record */
	r = mgmt(&d, "{\"cmd\":\"batch\",\"changes\":["
		 "{\"op\":\"remove\",\"name\":\"A\",\"guid\":\"" G "\",\"expect\":"
		 "\"0dbc8b6d87c4c741a7ada41a96fad8ee7e477cbd168acf57fb3a33fac26cb7c6\"},"
		 "{\"op\":\"set\",\"name\":\"B\",\"guid\":\"" G "\",\"attributes\":\"NV|BS|RT\","
		 "\"data\":\"02\"}]}");
	if (strstr(r, "\"ok\":true") == NULL) {
		/* the fingerprint above is SHA-256(07000000 01); say which */
		printf("# %s\n", r);
	}
	CHECK(strstr(r, "\"ok\":true,\"status\":\"EFI_SUCCESS\",\"changes\":2") != NULL);
	CHECK_EQ(lines_of(journal), before + 1);
	CHECK(strstr(mgmt(&d, "{\"cmd\":\"get\",\"name\":\"A\",\"guid\":\"" G "\"}"),
		     "EFI_NOT_FOUND") != NULL);
	/* a restart replays the batch record */
	crash(&d);
	REQUIRE(start(&d, NULL));
	CHECK(strstr(mgmt(&d, "{\"cmd\":\"get\",\"name\":\"B\",\"guid\":\"" G "\"}"),
		     "\"data\":\"02\"") != NULL);
	CHECK(strstr(mgmt(&d, "{\"cmd\":\"get\",\"name\":\"A\",\"guid\":\"" G "\"}"),
		     "EFI_NOT_FOUND") != NULL);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* The live copy has the VM's limits, not the CLI's defaults: a daemon with
 * 1 MiB of NV storage holding 400 KB of variables is listed and edited;
 * one with 16 KiB refuses, through the CLI's own quota check, a value it
 * could not hold, and nothing is sent. */
static void
test_live_uses_the_vms_limits(void)
{
	static const char *const big[] = { "--nv-storage", "1048576", NULL };
	static const char *const small[] = { "--nv-storage", "16384", NULL };
	struct daemon d;
	char fill[128];
	size_t before;
	char journal[140];

	snprintf(fill, sizeof(fill), "%s/fill", work);
	{
		FILE *f = fopen(fill, "wb");

		REQUIRE(f != NULL);
		for (int i = 0; i < 50000; i++)
			fputc(i & 0xff, f);
		REQUIRE(fclose(f) == 0);
	}
	REQUIRE(daemon_setup(&d, "vmvars-live", big));
	for (int i = 0; i < 8; i++)
		CHECK_EQ(run(NULL, "set --socket %s Fill%d --guid " G " --attr NV,BS --file %s",
			     d.mgmt, i, fill), 0);
	CHECK_EQ(run(NULL, "list --socket %s", d.mgmt), 0);
	CHECK(strstr(out, "Fill7") != NULL);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);

	REQUIRE(daemon_setup(&d, "vmvars-live", small));
	snprintf(journal, sizeof(journal), "%s/vars.json.journal", d.dir);
	/* the daemon's own first records (the Secure Boot variables it
	 * creates) are in before the count */
	CHECK_EQ(run(NULL, "list --socket %s", d.mgmt), 0);
	before = lines_of(journal);
	CHECK_EQ(run(NULL, "set --socket %s Fill0 --guid " G " --attr NV,BS --file %s", d.mgmt,
		     fill), 1);
	CHECK(strstr(err, "EFI_OUT_OF_RESOURCES") != NULL);
	CHECK_EQ(lines_of(journal), before);
	CHECK(strstr(mgmt(&d, "{\"cmd\":\"get\",\"name\":\"Fill0\",\"guid\":\"" G "\"}"),
		     "EFI_NOT_FOUND") != NULL);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* KEK, db and dbx of a store (file or address) as hex, one line each. */
static void
keys_of(const char *env, const char *store, char *buf, size_t cap)
{
	static const char *const names[] = { "KEK", "db", "dbx" };

	buf[0] = '\0';
	for (int i = 0; i < 3; i++) {
		if (run(env, "get %s %s --hex", store, names[i]) != 0)
			snprintf(out, sizeof(out), "<%s: %.200s>", names[i], err);
		strncat(buf, out, cap - strlen(buf) - 2);
		strcat(buf, "\n");
	}
}

/* A daemon on a copy of the store file from, in a directory we made. */
static bool
daemon_on(struct daemon *d, const char *from)
{
	char path[128];

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/vmvars-live-XXXXXX");
	if (mkdtemp(d->dir) == NULL)
		return false;
	snprintf(d->vmm, sizeof(d->vmm), "%s/vmm.sock", d->dir);
	snprintf(d->mgmt, sizeof(d->mgmt), "%s/mgmt.sock", d->dir);
	snprintf(path, sizeof(path), "%s/vars.json", d->dir);
	copy_file(from, path);
	return start(d, NULL);
}

/*
 * `vmvars rollover --socket` while the daemon is killed with SIGKILL at
 * several moments (before, during and after the batch): restarted, the
 * daemon serves KEK, db and dbx all as before or all as rolled over.
 */
static void
test_live_rollover_killed(void)
{
	static const int delays_us[] = { 0, 1000, 3000, 6000, 10000, 15000, 20000, 25000, 30000,
					 35000, 40000, 50000, 60000, 80000, 1000000 };
	static char old_keys[1 << 17], new_keys[1 << 17], got[1 << 17];
	const char *msd = getenv("VMVARS_MS_DATA");
	char ref_old[128], ref_new[128], env[700], sock[160];
	int olds = 0, news = 0, mixed = 0;

	if (msd == NULL || access(MSFD, R_OK) != 0)
		SKIP("needs VMVARS_MS_DATA and " MSFD " (package ovmf)");
	snprintf(env, sizeof(env), "VMVARS_MS_DATA='%s'", msd);
	snprintf(ref_old, sizeof(ref_old), "%s/old.json", work);
	snprintf(ref_new, sizeof(ref_new), "%s/new.json", work);
	REQUIRE(run(env, "convert " MSFD " %s", ref_old) == 0);
	copy_file(ref_old, ref_new);
	REQUIRE(run(env, "rollover %s --allow-host-kek", ref_new) == 0);
	keys_of(env, ref_old, old_keys, sizeof(old_keys));
	keys_of(env, ref_new, new_keys, sizeof(new_keys));
	REQUIRE(strcmp(old_keys, new_keys) != 0);
	for (size_t i = 0; i < sizeof(delays_us) / sizeof(delays_us[0]); i++) {
		struct daemon d;
		pid_t child;

		REQUIRE(daemon_on(&d, ref_old));
		REQUIRE(reset_vm(&d));
		snprintf(sock, sizeof(sock), "--socket %s", d.mgmt);
		child = fork();
		REQUIRE(child >= 0);
		if (child == 0) {
			char cmd[2400];

			snprintf(cmd, sizeof(cmd), "%s %s rollover %s --allow-host-kek "
				 ">/dev/null 2>&1", env, cli, sock);
			_exit(system(cmd) == 0 ? 0 : 1);
		}
		if (delays_us[i] > 0)
			usleep((useconds_t)delays_us[i]);
		crash(&d);                                     /* kill -9 */
		waitpid(child, NULL, 0);
		REQUIRE(start(&d, NULL));
		keys_of(NULL, sock, got, sizeof(got));
		if (strcmp(got, old_keys) == 0)
			olds++;
		else if (strcmp(got, new_keys) == 0)
			news++;
		else
			mixed++;
		/* after the last delay (1 s) the rollover had finished; a second
		 * live rollover is a no-op that sends nothing */
		if (delays_us[i] == 1000000) {
			char jpath[140], spath[140], j0[140], s0[140];

			CHECK(strcmp(got, new_keys) == 0);
			snprintf(jpath, sizeof(jpath), "%s/vars.json.journal", d.dir);
			snprintf(spath, sizeof(spath), "%s/vars.json", d.dir);
			snprintf(j0, sizeof(j0), "%s/j.before", work);
			snprintf(s0, sizeof(s0), "%s/s.before", work);
			copy_file(jpath, j0);
			copy_file(spath, s0);
			CHECK_EQ(run(env, "rollover %s --allow-host-kek", sock), 0);
			CHECK(strstr(out, "nothing to do") != NULL);
			CHECK(same_file(jpath, j0) && same_file(spath, s0));
		}
		CHECK_EQ(stop(&d), 0);
		cleanup(&d);
	}
	printf("# killed at %zu moments: %d old, %d rolled over, %d mixed\n",
	       sizeof(delays_us) / sizeof(delays_us[0]), olds, news, mixed);
	CHECK_EQ(mixed, 0);
	CHECK(news >= 1);
}

static void
setup_env(void)
{
	const char *root = getenv("VMVARS_BUILD_ROOT");

	REQUIRE(root != NULL);
	snprintf(cli, sizeof(cli), "%s/src/cli/vmvars", root);
	snprintf(work, sizeof(work), "/tmp/vmvars-livework-XXXXXX");
	REQUIRE(mkdtemp(work) != NULL);
}

static void
test_setup(void)
{
	setup_env();
	CHECK(access(cli, X_OK) == 0);
}

static void
test_cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", work);
	CHECK_EQ(system(cmd), 0);
}

static const struct vv_test tests[] = {
	TEST(test_setup),
	TEST(test_live_edit_seen_by_guest),
	TEST(test_offline_write_refused),
	TEST(test_mgmt_batch),
	TEST(test_live_uses_the_vms_limits),
	TEST(test_live_rollover_killed),
	TEST(test_cleanup),
};

VV_TEST_MAIN(tests)
