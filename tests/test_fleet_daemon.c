/*
 * tests/test_fleet_daemon.c -- vmvarsd on the fleet store (issue #15,
 * docs/fleet.md), real daemons (sandboxed as in production) against a
 * real PostgreSQL server this program starts (tests/fleet_util.h):
 *  - the recorded OVMF boot replayed through vmvarsd on the fleet store,
 *    the final store equal to the file backend's after the same replay;
 *  - two daemons claiming one VM: the second wins, the first's next write
 *    is refused and invisible, its log says who took the VM;
 *  - the server crashed and restarted under a stream of writes through
 *    the daemon: no acknowledged write lost, no refused one present, the
 *    daemon reconnects by itself inside its sandbox;
 *  - kill -9 of the daemon during NV writes, in a loop;
 *  - a migration hand-over with the volatile-only snapshot: the
 *    destination takes the VM at LOAD_STATE, which fences the source.
 */
#include <errno.h>
#include <sys/syscall.h>

#include <vmvars/client.h>
#include <vmvars/vmvars.h>

#include "backend/journal_backend.h"
#include "backend/pg_backend.h"
#include "daemon_util.h"
#include "harness.h"
#include "ovmf_boot.h"
#include "fleet_util.h"

#define TEST_GUID_TEXT "3d6b1f0e-4c2a-4b8e-9f10-112233445566"

static void
need_schema(void)
{
	struct vv_error err = { { 0 } };
	int from;

	/* TCP too, on a port of this process's own (tcp_reconnect_...) */
	if (pg_tcp_port == 0)
		pg_tcp_port = 20000 + (int)(getpid() % 20000);
	REQUIRE(pg_server());
	REQUIRE(vv_pg_schema_upgrade(pg_conninfo, false, &from, &err) == 0);
}

/* "--store pg:CONNINFO --vm-name NAME" plus more, NULL-terminated. */
static char store_arg[300];

static void
fleet_args(const char **argv, const char *vm, const char *more1, const char *more2)
{
	int n = 0;

	snprintf(store_arg, sizeof(store_arg), "pg:%s", pg_conninfo);
	argv[n++] = "--store";
	argv[n++] = store_arg;
	argv[n++] = "--vm-name";
	argv[n++] = vm;
	if (more1 != NULL)
		argv[n++] = more1;
	if (more2 != NULL)
		argv[n++] = more2;
	argv[n] = NULL;
}

/* Started and past its load: its management API answers stats (the
 * sockets are bound before the store is opened, so a connection alone
 * does not say the daemon took the VM yet). */
static bool
fleet_daemon(struct daemon *d, const char *prefix, const char *vm, const char *more1,
	     const char *more2)
{
	const char *argv[10];

	fleet_args(argv, vm, more1, more2);
	if (!daemon_setup(d, prefix, argv))
		return false;
	for (int i = 0; i < 1000; i++) {
		if (strstr(mgmt(d, "{\"cmd\":\"stats\"}"), "\"backend\":\"postgresql\"") != NULL)
			return true;
		usleep(10000);
	}
	return false;
}

/* How many variables of s have a name starting with prefix. */
static size_t
count_prefixed(struct vv_store *s, char prefix)
{
	size_t n = 0;

	for (const struct vv_variable *v = vv_store_first(s); v != NULL; v = vv_store_next(v))
		n += v->name_len > 0 && v->name[0] == (uint16_t)prefix;
	return n;
}

/* A set through the management API; true if acknowledged. */
static bool
mgmt_set(const struct daemon *d, const char *name, unsigned value)
{
	char line[300];

	snprintf(line, sizeof(line), "{\"cmd\":\"set\",\"name\":\"%s\",\"guid\":\"" TEST_GUID_TEXT
		 "\",\"attributes\":\"NV|BS|RT\",\"data\":\"%08x\"}", name, value);
	return strstr(mgmt(d, line), "\"ok\":true") != NULL;
}

/* The VM's store as the database holds it now (read only). */
static struct vv_store *
db_store(const char *vm)
{
	struct vv_error err = { { 0 } };
	struct vv_pg_options o = { pg_conninfo, vm, NULL, VV_PG_READ, false, false };
	struct vv_backend *b = vv_pg_backend_new(&o, &err);
	struct vv_store *s = vv_store_new(NULL);

	if (b == NULL) {
		printf("# %s\n", err.msg);
		vv_store_free(s);
		return NULL;
	}
	vv_store_set_backend(s, b);
	if (vv_store_load(s, &err) != 0) {
		printf("# %s\n", err.msg);
		vv_store_free(s);
		return NULL;
	}
	return s;
}

static bool
db_has(struct vv_store *s, const char *name, unsigned value)
{
	size_t len;
	uint16_t *n = vv_ucs2_from_utf8(name, strlen(name), &len);
	vv_guid g;
	const struct vv_variable *v;
	bool ok;

	vv_guid_parse(TEST_GUID_TEXT, &g);
	v = vv_store_find(s, n, len, &g);
	free(n);
	ok = v != NULL && v->data_size == 4 && (unsigned)(v->data[0] << 24 | v->data[1] << 16 |
							 v->data[2] << 8 | v->data[3]) == value;
	return ok;
}

/* A daemon on a fleet store writes Before, the server crashes and
 * restarts under it, it writes After and stays up (it reconnected). */
static void
write_across_server_crash(const struct daemon *d)
{
	for (int i = 0; i < 1000 && !strstr(mgmt(d, "{\"cmd\":\"stats\"}"), "postgresql"); i++)
		usleep(10000);
	CHECK(mgmt_set(d, "Before", 1));
	REQUIRE(pg_restart("immediate"));
	CHECK(mgmt_set(d, "After", 2));
	CHECK(alive(d));
}

/* ... and both writes are in the database. */
static void
check_both_in_database(const char *vm)
{
	struct vv_store *s = db_store(vm);

	REQUIRE(s != NULL);
	CHECK(db_has(s, "Before", 1));
	CHECK(db_has(s, "After", 2));
	vv_store_free(s);
}

static bool
db_absent(struct vv_store *s, const char *name)
{
	size_t len;
	uint16_t *n = vv_ucs2_from_utf8(name, strlen(name), &len);
	vv_guid g;
	bool absent;

	vv_guid_parse(TEST_GUID_TEXT, &g);
	absent = vv_store_find(s, n, len, &g) == NULL;
	free(n);
	return absent;
}

/* ------------------------------------------------------------------ */

/* Every recorded request through a client of d's VMM socket. */
static void
replay_boot(const struct daemon *d, const struct ovmf_boot *rec)
{
	struct vv_error err = { { 0 } };
	struct vv_client *c = vv_client_connect(d->vmm, &err);
	static uint8_t buf[VV_MM_MAX_BUFFER];
	size_t bad = 0;

	REQUIRE(c != NULL);
	REQUIRE(vv_client_vm_reset(c) == 0);
	for (size_t i = 0; i < rec->n; i++) {
		memset(buf, 0, sizeof(buf));
		memcpy(buf, rec->req[i], rec->len[i]);
		if (vv_client_mm(c, buf, sizeof(buf)) != 0 && bad++ < 3)
			printf("# request %zu: %s\n", i, vv_client_last_error(c));
	}
	CHECK_EQ(bad, 0);
	vv_client_free(c);
}

static bool
same_variable(const struct vv_variable *a, const struct vv_variable *b)
{
	return vv_guid_equal(&a->guid, &b->guid) &&
	       vv_ucs2_equal(a->name, a->name_len, b->name, b->name_len) &&
	       a->attributes == b->attributes && a->data_size == b->data_size &&
	       memcmp(a->data, b->data, a->data_size) == 0 && a->digest_size == b->digest_size &&
	       memcmp(a->digest, b->digest, a->digest_size) == 0 &&
	       (!(a->attributes & VV_ATTR_AT) || memcmp(a->time.b, b->time.b, 16) == 0);
}

static void
ovmf_boot_on_the_fleet_store_equals_the_file_store(void)
{
	struct vv_error err = { { 0 } };
	struct ovmf_boot rec;
	struct daemon f, p;
	struct vv_store *file, *fleet;
	const struct vv_variable *a, *b;
	char path[128];
	size_t n = 0, diffs = 0;

	need_schema();
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'ovmf'"));
	ovmf_boot_load(&rec);
	REQUIRE(daemon_setup(&f, "vv-fleet-file", NULL));
	REQUIRE(fleet_daemon(&p, "vv-fleet-pg", "ovmf", NULL, NULL));
	replay_boot(&f, &rec);
	replay_boot(&p, &rec);
	CHECK_EQ(stop(&f), 0);
	CHECK_EQ(stop(&p), 0);
	/* the file daemon's store: vars.json after its final compaction */
	snprintf(path, sizeof(path), "%s/vars.json", f.dir);
	file = vv_store_new(NULL);
	vv_store_set_backend(file, vv_json_file_backend_new(path, &err));
	REQUIRE(vv_store_load(file, &err) == 0);
	fleet = db_store("ovmf");
	REQUIRE(fleet != NULL);
	CHECK_EQ(vv_store_count(fleet), vv_store_count(file));
	for (a = vv_store_first(file), b = vv_store_first(fleet); a != NULL && b != NULL;
	     a = vv_store_next(a), b = vv_store_next(b), n++) {
		if (!same_variable(a, b) && diffs++ < 3) {
			char *na = vv_ucs2_to_utf8(a->name, a->name_len);

			printf("# variable %zu (%s) differs\n", n, na);
			free(na);
		}
	}
	CHECK_EQ(diffs, 0);
	CHECK(n > 10);
	printf("# %zu requests replayed; %zu NV variables, equal in order and content\n", rec.n, n);
	/* the owner's description is cleared at a clean exit */
	CHECK_EQ(pg_value("SELECT count(*) FROM vmvars_vm WHERE name = 'ovmf' AND owner_host "
			  "IS NULL"), 1);
	vv_store_free(file);
	vv_store_free(fleet);
	cleanup(&f);
	cleanup(&p);
	ovmf_boot_free(&rec);
}

static void
second_daemon_wins_first_is_fenced(void)
{
	struct daemon a, b;
	struct vv_store *s;
	const char *st;

	need_schema();
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'twice'"));
	REQUIRE(fleet_daemon(&a, "vv-fleet-a", "twice", NULL, NULL));
	CHECK(mgmt_set(&a, "First", 1));
	REQUIRE(fleet_daemon(&b, "vv-fleet-b", "twice", NULL, NULL));
	CHECK(!mgmt_set(&a, "Lost", 2));
	CHECK(!mgmt_set(&a, "First", 3));
	CHECK(mgmt_set(&b, "Second", 4));
	st = mgmt(&a, "{\"cmd\":\"stats\"}");
	CHECK(strstr(st, "\"backend\":\"postgresql\"") != NULL);
	CHECK(strstr(st, "\"fenced\":true") != NULL);
	CHECK(strstr(st, "\"owner\":false") != NULL);
	st = mgmt(&b, "{\"cmd\":\"stats\"}");
	CHECK(strstr(st, "\"fenced\":false") != NULL && strstr(st, "\"owner\":true") != NULL);
	CHECK(strstr(st, "\"epoch\":2") != NULL);
	CHECK(log_has(&a, "was taken over", false));
	CHECK(alive(&a) && alive(&b));
	s = db_store("twice");
	REQUIRE(s != NULL);
	CHECK(db_has(s, "First", 1));
	CHECK(db_absent(s, "Lost"));
	CHECK(db_has(s, "Second", 4));
	vv_store_free(s);
	cleanup(&a);
	cleanup(&b);
}

/* The server crashed and restarted by a child while the daemon takes
 * writes; the daemon's sandbox must let it reconnect. */
static void
server_restart_under_daemon_writes(void)
{
	enum { MAX = 5000, AFTER = 20 };
	struct daemon d;
	struct vv_store *s;
	bool *acked = calloc(MAX, sizeof(*acked));
	char name[16];
	pid_t child;
	int n = 0, after = -1, ws, nacked = 0, lost = 0;

	need_schema();
	REQUIRE(acked != NULL);
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'bumpy'"));
	REQUIRE(fleet_daemon(&d, "vv-fleet-r", "bumpy", NULL, NULL));
	child = fork();
	if (child == 0) {
		usleep(100000);
		_exit(pg_restart("immediate") ? 0 : 1);
	}
	while (n < MAX && (after < 0 || n < after + AFTER)) {
		snprintf(name, sizeof(name), "W%04d", n);
		acked[n] = mgmt_set(&d, name, (unsigned)n);
		nacked += acked[n];
		n++;
		if (after < 0 && waitpid(child, &ws, WNOHANG) == child) {
			CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
			after = n;
		}
	}
	CHECK(after >= 0);
	CHECK(alive(&d));
	for (int i = after; i >= 0 && i < n; i++)
		CHECK(acked[i]);
	s = db_store("bumpy");
	REQUIRE(s != NULL);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "W%04d", i);
		if (acked[i] ? !db_has(s, name, (unsigned)i) : !db_absent(s, name))
			lost++;
	}
	CHECK_EQ(lost, 0);
	CHECK_EQ(count_prefixed(s, 'W'), (size_t)nacked);
	printf("# %d writes through vmvarsd, %d acknowledged; %s\n", n, nacked,
	       strstr(mgmt(&d, "{\"cmd\":\"stats\"}"), "\"reconnects\":0") ? "no reconnection" :
	       "reconnected");
	CHECK(strstr(mgmt(&d, "{\"cmd\":\"stats\"}"), "\"connected\":true") != NULL);
	CHECK(strstr(mgmt(&d, "{\"cmd\":\"stats\"}"), "\"reconnects\":0") == NULL);
	vv_store_free(s);
	cleanup(&d);
	free(acked);
}

/* Sends a set without waiting for the answer (the kill lands during it). */
static void
mgmt_send_only(const struct daemon *d, const char *name, unsigned value, int *fd)
{
	char line[300];

	*fd = connect_unix(d->mgmt);
	snprintf(line, sizeof(line), "{\"cmd\":\"set\",\"name\":\"%s\",\"guid\":\"" TEST_GUID_TEXT
		 "\",\"attributes\":\"NV|BS|RT\",\"data\":\"%08x\"}\n", name, value);
	if (*fd >= 0 && write(*fd, line, strlen(line)) < 0)
		printf("# write: %s\n", strerror(errno));
}

static void
kill_9_loop_during_writes(void)
{
	enum { ROUNDS = 15, PER = 8 };
	unsigned seed = 15;
	int total = 0, lost = 0;
	char name[16];

	need_schema();
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'killed'"));
	for (int round = 0; round < ROUNDS; round++) {
		struct daemon d;
		struct vv_store *s;
		int fd = -1;

		REQUIRE(fleet_daemon(&d, "vv-fleet-k", "killed", NULL, NULL));
		for (int i = 0; i < PER; i++) {
			snprintf(name, sizeof(name), "R%02dW%d", round, i);
			CHECK(mgmt_set(&d, name, (unsigned)(round * 100 + i)));
			total++;
		}
		snprintf(name, sizeof(name), "R%02dX", round);
		mgmt_send_only(&d, name, 0xdead, &fd);
		usleep((useconds_t)(rand_r(&seed) % 3000));
		crash(&d);
		if (fd >= 0)
			close(fd);
		/* every acknowledged write of every round so far is there */
		s = db_store("killed");
		REQUIRE(s != NULL);
		for (int r = 0; r <= round; r++)
			for (int i = 0; i < PER; i++) {
				snprintf(name, sizeof(name), "R%02dW%d", r, i);
				lost += !db_has(s, name, (unsigned)(r * 100 + i));
			}
		vv_store_free(s);
		cleanup(&d);
	}
	CHECK_EQ(lost, 0);
	printf("# %d rounds of kill -9, %d acknowledged writes, %d lost\n", ROUNDS, total, lost);
}

/*
 * The hand-over: A serves the VM (--migration), B starts on the same VM
 * (--incoming) and takes a VM reset (QEMU resets an incoming machine's
 * devices) without fencing A; A's volatile-only snapshot loads into B,
 * which then owns the VM: A is fenced, B writes.
 */
static void
migration_hand_over_fences_the_source(void)
{
	struct vv_error err = { { 0 } };
	struct daemon a, b;
	struct vv_client *ca, *cb;
	struct vv_store *s;
	uint8_t *snap = NULL;
	size_t n = 0;

	need_schema();
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'moving'"));
	REQUIRE(fleet_daemon(&a, "vv-fleet-src", "moving", "--migration", NULL));
	ca = vv_client_connect(a.vmm, &err);
	REQUIRE(ca != NULL);
	REQUIRE(vv_client_vm_reset(ca) == 0);
	CHECK(mgmt_set(&a, "Before", 1));
	REQUIRE(fleet_daemon(&b, "vv-fleet-dst", "moving", "--incoming", NULL));
	cb = vv_client_connect(b.vmm, &err);
	if (cb == NULL)
		printf("# %s\n", err.msg);
	REQUIRE(cb != NULL);
	REQUIRE(vv_client_vm_reset(cb) == 0);
	/* B is not the owner yet: A still writes, B does not */
	CHECK(mgmt_set(&a, "During", 2));
	CHECK(!mgmt_set(&b, "Early", 3));
	CHECK(strstr(mgmt(&b, "{\"cmd\":\"stats\"}"), "\"owner\":false") != NULL);
	REQUIRE(vv_client_save_state(ca, VV_SNAPSHOT_NV_DIGEST, &snap, &n) == 0);
	if (vv_client_load_state(cb, 0, snap, n) != 0) {
		printf("# load refused: %s\n", vv_client_last_error(cb));
		vv_test_failures++;
	}
	CHECK(strstr(mgmt(&b, "{\"cmd\":\"stats\"}"), "\"owner\":true") != NULL);
	/* the source is fenced; the destination writes */
	CHECK(!mgmt_set(&a, "Stale", 4));
	CHECK(mgmt_set(&b, "After", 5));
	CHECK(log_has(&a, "was taken over", false));
	s = db_store("moving");
	REQUIRE(s != NULL);
	CHECK(db_has(s, "Before", 1));
	CHECK(db_has(s, "During", 2));
	CHECK(db_absent(s, "Early"));
	CHECK(db_absent(s, "Stale"));
	CHECK(db_has(s, "After", 5));
	vv_store_free(s);
	free(snap);
	vv_client_free(ca);
	vv_client_free(cb);
	cleanup(&a);
	cleanup(&b);
}

/* A source that keeps writing after the snapshot's NV was read: the
 * destination refuses to take the VM (and serves nothing). */
static void
hand_over_refused_when_the_source_wrote_since(void)
{
	struct vv_error err = { { 0 } };
	struct vv_store *dst;
	struct vv_pg_options own = { NULL, "raced", NULL, VV_PG_OWN, true, false };
	struct vv_pg_options later = { NULL, "raced", NULL, VV_PG_LATER, true, false };
	struct vv_store *src;
	struct vv_backend *bsrc, *bdst;
	vv_guid g;

	need_schema();
	own.conninfo = later.conninfo = pg_conninfo;
	vv_guid_parse(TEST_GUID_TEXT, &g);
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'raced'"));
	src = vv_store_new(NULL);
	bsrc = vv_pg_backend_new(&own, &err);
	REQUIRE(bsrc != NULL);
	vv_store_set_backend(src, bsrc);
	REQUIRE(vv_store_load(src, &err) == 0);
	dst = vv_store_new(NULL);
	bdst = vv_pg_backend_new(&later, &err);
	REQUIRE(bdst != NULL);
	vv_store_set_backend(dst, bdst);
	REQUIRE(vv_store_load(dst, &err) == 0);
	REQUIRE(vv_pg_refresh(bdst, dst, &err) == 0);
	CHECK_STATUS(vv_store_put(src, (const uint16_t *)u"Late", 4, &g, 7, "x", 1, NULL),
		     VV_EFI_SUCCESS);
	CHECK_EQ(vv_pg_take_ownership(bdst, &err), -1);
	CHECK(strstr(err.msg, "written (or removed) since") != NULL);
	/* the source is not fenced */
	CHECK_STATUS(vv_store_put(src, (const uint16_t *)u"Later", 5, &g, 7, "y", 1, NULL),
		     VV_EFI_SUCCESS);
	vv_store_free(dst);
	vv_store_free(src);
}

/* Over TCP: the daemon reconnects inside its sandbox (seccomp allows
 * socket(AF_INET) and connect; Landlock ABI 4, where the kernel has it,
 * the database's port only) after the server crashed. */
static void
tcp_reconnect_inside_the_sandbox(void)
{
	char uri[128];
	const char *argv[8] = { "--store", uri, "--vm-name", "tcp", NULL };
	struct daemon d;
	const char *st;

	need_schema();
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'tcp'"));
	snprintf(uri, sizeof(uri), "postgresql://vmvars@127.0.0.1:%d/vmvars", pg_tcp_port);
	REQUIRE(daemon_setup(&d, "vv-fleet-tcp", argv));
	write_across_server_crash(&d);
	st = mgmt(&d, "{\"cmd\":\"stats\"}");
	CHECK(strstr(st, "\"connected\":true") != NULL);
	CHECK(strstr(st, "\"reconnects\":0") == NULL);
	check_both_in_database("tcp");
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/*
 * Finding (r-fleet): a store named by a host NAME (docs/fleet.md's own
 * example, host=db.example) -- here localhost, which /etc/hosts or DNS
 * resolve.  Reconnecting inside the sandbox made libpq resolve the name
 * again: Landlock hides /etc/hosts, so glibc asks DNS, whose UDP socket
 * seccomp answers by killing the daemon at the first database restart.
 */
static void
tcp_host_name_reconnects_inside_the_sandbox(void)
{
	char uri[128];
	const char *argv[8] = { "--store", uri, "--vm-name", "tcp-name", NULL };
	struct daemon d;
	const char *st;

	need_schema();
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'tcp-name'"));
	snprintf(uri, sizeof(uri), "postgresql://vmvars@localhost:%d/vmvars", pg_tcp_port);
	REQUIRE(daemon_setup(&d, "vv-fleet-tcpn", argv));
	write_across_server_crash(&d);
	st = mgmt(&d, "{\"cmd\":\"stats\"}");
	CHECK(strstr(st, "\"connected\":true") != NULL);
	check_both_in_database("tcp-name");
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/*
 * A password from libpq's password file (PGPASSFILE), never on the command
 * line: the daemon reads the file once, before its sandbox, and reconnects
 * after a server crash with what it resolved (Landlock would not let it
 * read the file again); the password shows nowhere in its log.
 */
static void
password_file_and_reconnection(void)
{
	char uri[128], passfile[96], hba[160], line[256];
	const char *argv[8] = { "--store", uri, "--vm-name", "pw", NULL };
	struct daemon d;
	FILE *f;
	char *old;
	size_t n;

	need_schema();
	if (pg_value("SELECT count(*) FROM pg_roles WHERE rolname = 'vv_pw'") == 1) {
		CHECK(pg_sql("DROP OWNED BY vv_pw"));
		CHECK(pg_sql("DROP ROLE vv_pw"));
	}
	CHECK(pg_sql("CREATE ROLE vv_pw LOGIN PASSWORD 'pw-Secret-42'"));
	CHECK(pg_sql("GRANT SELECT ON vmvars_schema TO vv_pw"));
	CHECK(pg_sql("GRANT SELECT, INSERT, UPDATE, DELETE ON vmvars_vm, vmvars_var TO vv_pw"));
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'pw'"));
	CHECK(pg_sql("INSERT INTO vmvars_vm (name) VALUES ('pw')"));
	/* scram for this role over TCP, before the trust lines */
	snprintf(hba, sizeof(hba), "%s/data/pg_hba.conf", pg_dir);
	f = fopen(hba, "r");
	REQUIRE(f != NULL);
	old = calloc(1, 1 << 16);
	REQUIRE(old != NULL);
	n = fread(old, 1, (1 << 16) - 1, f);
	fclose(f);
	f = fopen(hba, "w");
	REQUIRE(f != NULL);
	fprintf(f, "host all vv_pw 127.0.0.1/32 scram-sha-256\n%.*s", (int)n, old);
	fclose(f);
	free(old);
	CHECK(pg_sql("SELECT pg_reload_conf()"));
	snprintf(passfile, sizeof(passfile), "/tmp/vv-fleet-pgpass-%d", (int)getpid());
	f = fopen(passfile, "w");
	REQUIRE(f != NULL);
	fprintf(f, "127.0.0.1:%d:vmvars:vv_pw:pw-Secret-42\n", pg_tcp_port);
	fclose(f);
	chmod(passfile, 0600);
	setenv("PGPASSFILE", passfile, 1);
	snprintf(uri, sizeof(uri), "postgresql://vv_pw@127.0.0.1:%d/vmvars", pg_tcp_port);
	REQUIRE(daemon_setup(&d, "vv-fleet-pw", argv));
	unsetenv("PGPASSFILE");
	write_across_server_crash(&d);
	CHECK(strstr(mgmt(&d, "{\"cmd\":\"stats\"}"), "\"reconnects\":0") == NULL);
	CHECK_EQ(stop(&d), 0);
	CHECK(!log_has(&d, "pw-Secret-42", false));
	/* without the file there is no way in: the password came from it */
	snprintf(line, sizeof(line), "postgresql://vv_pw@127.0.0.1:%d/vmvars", pg_tcp_port);
	{
		struct vv_error err = { { 0 } };
		struct vv_pg_options o = { line, "pw", NULL, VV_PG_READ, false, false };
		struct vv_backend *b;

		setenv("PGPASSFILE", "/nonexistent", 1);
		b = vv_pg_backend_new(&o, &err);
		unsetenv("PGPASSFILE");
		CHECK(b == NULL);
		CHECK(strstr(err.msg, "password") != NULL);
		if (b != NULL)
			b->ops->destroy(b);
	}
	cleanup(&d);
	/* the same through a service file (PGSERVICEFILE, service=NAME) */
	{
		char svcfile[96], store[64];
		const char *sargv[8] = { "--store", store, "--vm-name", "pw", NULL };

		snprintf(svcfile, sizeof(svcfile), "/tmp/vv-fleet-pgsvc-%d", (int)getpid());
		f = fopen(svcfile, "w");
		REQUIRE(f != NULL);
		fprintf(f, "[vmvarsfleet]\nhost=127.0.0.1\nport=%d\ndbname=vmvars\nuser=vv_pw\n",
			pg_tcp_port);
		fclose(f);
		snprintf(store, sizeof(store), "pg:service=vmvarsfleet");
		setenv("PGSERVICEFILE", svcfile, 1);
		setenv("PGPASSFILE", passfile, 1);
		REQUIRE(daemon_setup(&d, "vv-fleet-svc", sargv));
		unsetenv("PGSERVICEFILE");
		unsetenv("PGPASSFILE");
		for (int i = 0; i < 1000 && !strstr(mgmt(&d, "{\"cmd\":\"stats\"}"), "postgresql");
		     i++)
			usleep(10000);
		CHECK(mgmt_set(&d, "ViaService", 3));
		REQUIRE(pg_restart("immediate"));
		CHECK(mgmt_set(&d, "ViaServiceAfter", 4));
		CHECK_EQ(stop(&d), 0);
		cleanup(&d);
		unlink(svcfile);
	}
	unlink(passfile);
}

/* What the sandbox leaves a TCP fleet daemon: its database's port, not
 * another one (Landlock ABI 4, where the kernel has it) and no UDP socket
 * at all (seccomp). */
static int
landlock_abi(void)
{
	long abi = syscall(444 /* landlock_create_ruleset */, NULL, 0, 1UL);

	return abi < 0 ? 0 : (int)abi;
}

static int
exit_status_of(struct daemon *d)
{
	int st;

	if (waitpid(d->pid, &st, 0) != d->pid)
		return -1;
	d->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
}

static void
tcp_sandbox_allows_only_the_database(void)
{
	char uri[128], port[16];
	const char *argv[8] = { "--store", uri, "--vm-name", "tcp-sb", "--test-forbidden-connect",
				port, NULL };
	const char *udp[8] = { "--store", uri, "--vm-name", "tcp-sb", "--test-forbidden-udp", NULL };
	struct daemon d;
	int st;

	need_schema();
	snprintf(uri, sizeof(uri), "postgresql://vmvars@127.0.0.1:%d/vmvars", pg_tcp_port);
	/* a port nothing listens on: only Landlock can make it EACCES */
	snprintf(port, sizeof(port), "%d", pg_tcp_port + 1);
	memset(&d, 0, sizeof(d));
	snprintf(d.dir, sizeof(d.dir), "/tmp/vv-fleet-sb-XXXXXX");
	REQUIRE(mkdtemp(d.dir) != NULL);
	snprintf(d.vmm, sizeof(d.vmm), "%s/vmm.sock", d.dir);
	snprintf(d.mgmt, sizeof(d.mgmt), "%s/mgmt.sock", d.dir);
	d.pid = spawn(&d, argv);
	st = exit_status_of(&d);
	printf("# Landlock ABI %d; another TCP port: exit %d\n", landlock_abi(), st);
	CHECK_EQ(st, landlock_abi() >= 4 ? 0 : 5);
	d.pid = spawn(&d, udp);
	st = exit_status_of(&d);
	CHECK_EQ(st, 128 + SIGSYS);
	cleanup(&d);
}

/*
 * The recorded OVMF boot migrated half-way between two fleet daemons: A
 * (--migration) serves requests [0, k), its volatile-only snapshot (with
 * the NV digest) goes to B (--incoming, same VM), B serves [k, n).  Every
 * reply equals an uninterrupted run's on a file-store daemon, the final
 * NV store too, and A is fenced.  GetNextVariableName is the exception
 * docs/migration.md states: after a volatile-only load the NV variables
 * enumerate first, so its replies are not compared byte for byte (the
 * final store is).
 */
static void
ovmf_boot_migrated_half_way(void)
{
	struct vv_error err = { { 0 } };
	struct ovmf_boot rec;
	struct daemon f, a, b;
	struct vv_client *cf, *ca, *cb;
	static uint8_t buf[VV_MM_MAX_BUFFER];
	uint8_t **ref;
	uint16_t *ref_st;
	uint8_t *snap = NULL;
	size_t n = 0, k, differ = 0, getnext = 0;
	struct vv_store *file, *fleet;
	const struct vv_variable *x, *y;
	char path[128];

	need_schema();
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'ovmf-mig'"));
	ovmf_boot_load(&rec);
	k = rec.n / 2;
	ref = calloc(rec.n, sizeof(*ref));
	ref_st = calloc(rec.n, sizeof(*ref_st));
	REQUIRE(ref != NULL && ref_st != NULL);
	/* the uninterrupted run */
	REQUIRE(daemon_setup(&f, "vv-fleet-ref", NULL));
	cf = vv_client_connect(f.vmm, &err);
	REQUIRE(cf != NULL);
	REQUIRE(vv_client_vm_reset(cf) == 0);
	for (size_t i = 0; i < rec.n; i++) {
		memset(buf, 0, sizeof(buf));
		memcpy(buf, rec.req[i], rec.len[i]);
		ref_st[i] = vv_client_mm(cf, buf, sizeof(buf));
		ref[i] = malloc(rec.len[i]);
		REQUIRE(ref[i] != NULL);
		memcpy(ref[i], buf, rec.len[i]);
	}
	vv_client_free(cf);
	CHECK_EQ(stop(&f), 0);
	/* A, then B */
	REQUIRE(fleet_daemon(&a, "vv-fleet-ma", "ovmf-mig", "--migration", NULL));
	REQUIRE(fleet_daemon(&b, "vv-fleet-mb", "ovmf-mig", "--incoming", NULL));
	ca = vv_client_connect(a.vmm, &err);
	cb = vv_client_connect(b.vmm, &err);
	REQUIRE(ca != NULL && cb != NULL);
	REQUIRE(vv_client_vm_reset(ca) == 0);
	REQUIRE(vv_client_vm_reset(cb) == 0);
	for (size_t i = 0; i < rec.n; i++) {
		struct vv_client *c = i < k ? ca : cb;
		uint16_t st;

		if (i == k) {
			REQUIRE(vv_client_save_state(ca, VV_SNAPSHOT_NV_DIGEST, &snap, &n) == 0);
			if (vv_client_load_state(cb, 0, snap, n) != 0) {
				printf("# load refused: %s\n", vv_client_last_error(cb));
				vv_test_failures++;
			}
		}
		memset(buf, 0, sizeof(buf));
		memcpy(buf, rec.req[i], rec.len[i]);
		st = vv_client_mm(c, buf, sizeof(buf));
		/* SMM_VARIABLE_COMMUNICATE_HEADER.Function at 24: 2 is
		 * GetNextVariableName (device-abi §7.1) */
		if (i >= k && rec.len[i] >= 32 && vv_le64(rec.req[i] + 24) == 2) {
			getnext++;
			continue;
		}
		if ((st != ref_st[i] || memcmp(buf, ref[i], rec.len[i]) != 0) && differ++ < 3)
			printf("# request %zu (%s) differs from the uninterrupted run\n", i,
			       i < k ? "source" : "destination");
	}
	CHECK_EQ(differ, 0);
	CHECK(!mgmt_set(&a, "Stale", 1));
	CHECK(strstr(mgmt(&a, "{\"cmd\":\"stats\"}"), "\"fenced\":true") != NULL);
	vv_client_free(ca);
	vv_client_free(cb);
	CHECK_EQ(stop(&b), 0);
	/* the final NV store equals the uninterrupted run's */
	snprintf(path, sizeof(path), "%s/vars.json", f.dir);
	file = vv_store_new(NULL);
	vv_store_set_backend(file, vv_json_file_backend_new(path, &err));
	REQUIRE(vv_store_load(file, &err) == 0);
	fleet = db_store("ovmf-mig");
	REQUIRE(fleet != NULL);
	CHECK_EQ(vv_store_count(fleet), vv_store_count(file));
	for (x = vv_store_first(file), y = vv_store_first(fleet); x != NULL && y != NULL;
	     x = vv_store_next(x), y = vv_store_next(y))
		CHECK(same_variable(x, y));
	printf("# %zu requests, migrated after %zu; snapshot %zu bytes; %zu GetNextVariableName "
	       "replies after the migration not compared\n", rec.n, k, n, getnext);
	vv_store_free(file);
	vv_store_free(fleet);
	free(snap);
	for (size_t i = 0; i < rec.n; i++)
		free(ref[i]);
	free(ref);
	free(ref_st);
	cleanup(&f);
	cleanup(&a);
	cleanup(&b);
	ovmf_boot_free(&rec);
}

static const struct vv_test tests[] = {
	TEST(ovmf_boot_on_the_fleet_store_equals_the_file_store),
	TEST(second_daemon_wins_first_is_fenced),
	TEST(server_restart_under_daemon_writes),
	TEST(kill_9_loop_during_writes),
	TEST(migration_hand_over_fences_the_source),
	TEST(ovmf_boot_migrated_half_way),
	TEST(hand_over_refused_when_the_source_wrote_since),
	TEST(tcp_reconnect_inside_the_sandbox),
	TEST(tcp_host_name_reconnects_inside_the_sandbox),
	TEST(password_file_and_reconnection),
	TEST(tcp_sandbox_allows_only_the_database),
};

VV_TEST_MAIN(tests)
