/*
 * tests/test_fleet.c -- the fleet store (issue #15, docs/fleet.md) against
 * a real PostgreSQL server that this program starts (tests/fleet_util.h):
 * schema versions, round trips in store order, hostile rows refused whole,
 * fencing between two owners, a read-only database user, the server
 * restarted under a stream of writes, and 1,000 VMs in one database.
 * The daemon-level cases (OVMF replay, kill -9, hand-over) are in
 * tests/test_fleet_daemon.c.
 */
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <vmvars/vmvars.h>

#include "backend/pg_backend.h"
#include "backend/pg_row.h"
#include "core/store_state.h"
#include "harness.h"
#include "store_util.h"
#include "fleet_util.h"

#define TEST_GUID_TEXT_FLEET "78563412-3412-3412-1234-123456789abc"
#define NEED_SERVER() REQUIRE(pg_server() && pg_sql("SELECT 1"))

static void
ensure_schema(void)
{
	struct vv_error err = { { 0 } };
	int from;

	NEED_SERVER();
	REQUIRE(vv_pg_schema_upgrade(pg_conninfo, false, &from, &err) == 0);
}

/* A store on VM `name` of the test database; NULL (err set) if it fails. */
static struct vv_backend *last_backend;

static struct vv_store *
open_vm(const char *name, enum vv_pg_mode mode, struct vv_error *err)
{
	struct vv_pg_options o = { pg_conninfo, name, NULL, mode, true, false };
	struct vv_store *s = vv_store_new(NULL);
	struct vv_backend *b = vv_pg_backend_new(&o, err);

	if (b == NULL) {
		vv_store_free(s);
		return NULL;
	}
	vv_store_set_backend(s, b);
	if (vv_store_load(s, err) != 0) {
		vv_store_free(s);
		return NULL;
	}
	last_backend = b;
	return s;
}

static vv_status
put(struct vv_store *s, const uint16_t *name, size_t len, uint8_t value)
{
	uint8_t data[3] = { value, (uint8_t)~value, 0x5a };

	return vv_store_put(s, name, len, &TEST_GUID, NV_BS_RT, data, sizeof(data), NULL);
}

static int
value_of(struct vv_store *s, const uint16_t *name, size_t len)
{
	const struct vv_variable *v = vv_store_find(s, name, len, &TEST_GUID);

	return v == NULL ? -1 : v->data[0];
}

static void
schema_init_upgrade_and_versions(void)
{
	struct vv_error err = { { 0 } };
	int from = -2;

	NEED_SERVER();
	/* a fresh database has none: a store cannot open */
	CHECK(pg_sql("DROP TABLE IF EXISTS vmvars_var, vmvars_vm, vmvars_schema"));
	CHECK(open_vm("vm", VV_PG_OWN, &err) == NULL);
	CHECK(strstr(err.msg, "vmvars db init") != NULL);
	CHECK_EQ(vv_pg_schema_upgrade(pg_conninfo, true, &from, &err), 0);
	CHECK_EQ(from, 0);
	CHECK_EQ(pg_value("SELECT version FROM vmvars_schema"), VV_PG_SCHEMA_VERSION);
	/* init twice is refused, upgrade at the current version does nothing */
	CHECK_EQ(vv_pg_schema_upgrade(pg_conninfo, true, &from, &err), -1);
	CHECK(strstr(err.msg, "already initialised") != NULL);
	CHECK_EQ(vv_pg_schema_upgrade(pg_conninfo, false, &from, &err), 0);
	CHECK_EQ(from, VV_PG_SCHEMA_VERSION);
	/* a newer schema than we know: refused, naming both versions */
	CHECK(pg_sql("UPDATE vmvars_schema SET version = 99"));
	CHECK(open_vm("vm", VV_PG_OWN, &err) == NULL);
	CHECK(strstr(err.msg, "schema version 99 is newer") != NULL);
	CHECK_EQ(vv_pg_schema_upgrade(pg_conninfo, false, &from, &err), -1);
	CHECK(pg_sql("UPDATE vmvars_schema SET version = %d", VV_PG_SCHEMA_VERSION));
}

static void
round_trip_in_store_order(void)
{
	struct vv_error err = { { 0 } };
	struct vv_store *a, *b;
	const struct vv_variable *v;
	static const char *order[] = { "Alpha", "Gamma", "Beta" };
	size_t i = 0;

	ensure_schema();
	a = open_vm("round-trip", VV_PG_OWN, &err);
	REQUIRE(a != NULL);
	CHECK_EQ(vv_store_count(a), 0);
	CHECK_STATUS(put(a, U("Alpha"), 1), VV_EFI_SUCCESS);
	CHECK_STATUS(put(a, U("Beta"), 2), VV_EFI_SUCCESS);
	CHECK_STATUS(put(a, U("Gamma"), 3), VV_EFI_SUCCESS);
	CHECK_STATUS(put(a, U("Alpha"), 4), VV_EFI_SUCCESS);        /* update keeps its place */
	CHECK_STATUS(vv_store_put(a, U("Beta"), &TEST_GUID, NV_BS_RT, NULL, 0, NULL), VV_EFI_SUCCESS);
	CHECK_STATUS(put(a, U("Beta"), 5), VV_EFI_SUCCESS);         /* re-created: at the end */
	/* a volatile variable never reaches the database */
	CHECK_STATUS(vv_store_put(a, U("Vol"), &TEST_GUID, BS_RT, "x", 1, NULL), VV_EFI_SUCCESS);
	/* one row per variable; the generation counts each durable write */
	CHECK_EQ(pg_value("SELECT count(*) FROM vmvars_var v JOIN vmvars_vm m ON m.id = v.vm_id "
			  "WHERE m.name = 'round-trip'"), 3);
	CHECK_EQ(pg_value("SELECT nv_generation FROM vmvars_vm WHERE name = 'round-trip'"), 6);
	b = open_vm("round-trip", VV_PG_READ, &err);
	REQUIRE(b != NULL);
	CHECK_EQ(vv_store_count(b), 3);
	for (v = vv_store_first(b); v != NULL && i < 3; v = vv_store_next(v), i++) {
		char *n = vv_ucs2_to_utf8(v->name, v->name_len);

		CHECK(n != NULL && strcmp(n, order[i]) == 0);
		free(n);
	}
	CHECK_EQ(value_of(b, U("Alpha")), 4);
	CHECK_EQ(value_of(b, U("Beta")), 5);
	CHECK_EQ(value_of(b, U("Gamma")), 3);
	/* a read-only view writes nothing */
	CHECK_STATUS(put(b, U("Alpha"), 9), VV_EFI_DEVICE_ERROR);
	CHECK_EQ(value_of(b, U("Alpha")), 4);
	/* a flush with nothing changed writes nothing (no generation bump) */
	CHECK_EQ(vv_store_flush(a, &err), 0);
	CHECK_EQ(pg_value("SELECT nv_generation FROM vmvars_vm WHERE name = 'round-trip'"), 6);
	vv_store_free(b);
	vv_store_free(a);
}

/* A whole-store commit (a full snapshot's load, vv_store_flush) writes
 * only the rows that differ when the order is the same, and rewrites the
 * VM's rows in store order when it is not. */
static void
whole_store_commits(void)
{
	struct vv_error err = { { 0 } };
	struct vv_store *s, *r;
	struct vv_variable vars[3];
	const struct vv_variable *v;
	uint8_t a2[3] = { 9, 9, 9 };
	long long gen;
	size_t n = 0;

	ensure_schema();
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'whole'"));
	s = open_vm("whole", VV_PG_OWN, &err);
	REQUIRE(s != NULL);
	CHECK_STATUS(put(s, U("A"), 1), VV_EFI_SUCCESS);
	CHECK_STATUS(put(s, U("B"), 2), VV_EFI_SUCCESS);
	gen = pg_value("SELECT nv_generation FROM vmvars_vm WHERE name = 'whole'");
	/* same order, A's value changed: one row written */
	for (v = vv_store_first(s); v != NULL && n < 2; v = vv_store_next(v))
		vars[n++] = *v;
	vars[0].data = a2;
	CHECK_EQ(vv_store_replace_all(s, vars, 2, &err), 0);
	CHECK_EQ(pg_value("SELECT nv_generation FROM vmvars_vm WHERE name = 'whole'"), gen + 1);
	CHECK_EQ(pg_value("SELECT get_byte(data, 0) FROM vmvars_var v JOIN vmvars_vm m ON "
			  "m.id = v.vm_id WHERE m.name = 'whole' AND v.name = '\\x4100'"), 9);
	/* another order (B, A): the rows rewritten, in that order (the
	 * variables as the store holds them now: the old ones are freed) */
	n = 0;
	for (v = vv_store_first(s); v != NULL && n < 2; v = vv_store_next(v))
		vars[1 - n++] = *v;
	CHECK_EQ(vv_store_replace_all(s, vars, 2, &err), 0);
	r = open_vm("whole", VV_PG_READ, &err);
	REQUIRE(r != NULL);
	v = vv_store_first(r);
	REQUIRE(v != NULL);
	CHECK(v->name_len == 1 && v->name[0] == 'B');
	CHECK_EQ(value_of(r, U("A")), 9);
	CHECK_EQ(vv_store_count(r), 2);
	vv_store_free(r);
	vv_store_free(s);
}

/* An atomic batch (vv_store_batch_commit, the management API's batch and
 * a live rollover) reaches the database as one transaction: all of its
 * changes, one generation step; an aborted batch writes nothing. */
static void
batch_commits_whole(void)
{
	struct vv_error err = { { 0 } };
	struct vv_store *s, *r;
	long long gen;

	ensure_schema();
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'batch'"));
	s = open_vm("batch", VV_PG_OWN, &err);
	REQUIRE(s != NULL);
	CHECK_STATUS(put(s, U("A"), 1), VV_EFI_SUCCESS);
	gen = pg_value("SELECT nv_generation FROM vmvars_vm WHERE name = 'batch'");
	CHECK_STATUS(vv_store_batch_begin(s, &err), VV_EFI_SUCCESS);
	CHECK_STATUS(put(s, U("A"), 2), VV_EFI_SUCCESS);
	CHECK_STATUS(put(s, U("B"), 3), VV_EFI_SUCCESS);
	/* nothing reaches the database before the commit */
	CHECK_EQ(pg_value("SELECT nv_generation FROM vmvars_vm WHERE name = 'batch'"), gen);
	CHECK_STATUS(vv_store_batch_commit(s, &err), VV_EFI_SUCCESS);
	CHECK_EQ(pg_value("SELECT nv_generation FROM vmvars_vm WHERE name = 'batch'"), gen + 1);
	CHECK_STATUS(vv_store_batch_begin(s, &err), VV_EFI_SUCCESS);
	CHECK_STATUS(put(s, U("C"), 4), VV_EFI_SUCCESS);
	vv_store_batch_abort(s);
	CHECK_EQ(pg_value("SELECT nv_generation FROM vmvars_vm WHERE name = 'batch'"), gen + 1);
	r = open_vm("batch", VV_PG_READ, &err);
	REQUIRE(r != NULL);
	CHECK_EQ(vv_store_count(r), 2);
	CHECK_EQ(value_of(r, U("A")), 2);
	CHECK_EQ(value_of(r, U("B")), 3);
	CHECK_EQ(value_of(r, U("C")), -1);
	vv_store_free(r);
	vv_store_free(s);
}

/*
 * Finding (r-fleet): a whole-store commit whose order is unchanged wrote
 * each changed row in a transaction of its own, so one that failed half
 * way (here the server refuses the second row; a crash or a takeover
 * between the two does the same) left the first row committed while the
 * store undid the whole replacement: memory and database disagree, and
 * the next owner loads a state the guest was told was refused.
 */
static void
whole_store_commit_is_all_or_nothing(void)
{
	struct vv_error err = { { 0 } };
	struct vv_store *s, *r;
	struct vv_variable vars[2];
	const struct vv_variable *v;
	uint8_t a2[3] = { 9, 9, 9 }, bad[3] = { 0xde, 0xad, 0 };
	long long gen;
	size_t n = 0;

	ensure_schema();
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'atomic'"));
	s = open_vm("atomic", VV_PG_OWN, &err);
	REQUIRE(s != NULL);
	CHECK_STATUS(put(s, U("A"), 1), VV_EFI_SUCCESS);
	CHECK_STATUS(put(s, U("B"), 2), VV_EFI_SUCCESS);
	gen = pg_value("SELECT nv_generation FROM vmvars_vm WHERE name = 'atomic'");
	CHECK(pg_sql("CREATE OR REPLACE FUNCTION vv_refuse_dead() RETURNS trigger LANGUAGE plpgsql "
		     "AS $$BEGIN IF NEW.data = '\\xdead00'::bytea THEN RAISE EXCEPTION 'refused'; "
		     "END IF; RETURN NEW; END$$"));
	CHECK(pg_sql("CREATE TRIGGER vv_refuse_dead BEFORE INSERT OR UPDATE ON vmvars_var FOR EACH "
		     "ROW EXECUTE FUNCTION vv_refuse_dead()"));
	/* same order: A and B changed, B's row refused by the server */
	for (v = vv_store_first(s); v != NULL && n < 2; v = vv_store_next(v))
		vars[n++] = *v;
	vars[0].data = a2;
	vars[1].data = bad;
	CHECK_EQ(vv_store_replace_all(s, vars, 2, &err), -1);
	CHECK(pg_sql("DROP TRIGGER vv_refuse_dead ON vmvars_var"));
	CHECK(pg_sql("DROP FUNCTION vv_refuse_dead()"));
	/* memory as it was ... */
	CHECK_EQ(value_of(s, U("A")), 1);
	CHECK_EQ(value_of(s, U("B")), 2);
	/* ... and the database too */
	r = open_vm("atomic", VV_PG_READ, &err);
	REQUIRE(r != NULL);
	CHECK_EQ(value_of(r, U("A")), 1);
	CHECK_EQ(value_of(r, U("B")), 2);
	CHECK_EQ(pg_value("SELECT nv_generation FROM vmvars_vm WHERE name = 'atomic'"), gen);
	vv_store_free(r);
	/* and the store still writes */
	CHECK_STATUS(put(s, U("A"), 3), VV_EFI_SUCCESS);
	r = open_vm("atomic", VV_PG_READ, &err);
	REQUIRE(r != NULL);
	CHECK_EQ(value_of(r, U("A")), 3);
	CHECK_EQ(value_of(r, U("B")), 2);
	vv_store_free(r);
	vv_store_free(s);
}

/* A row someone else wrote: the load fails whole, naming VM, variable
 * and reason, and the store stays empty. */
static void
hostile_rows_refuse_the_load(void)
{
	static const struct {
		const char *cols;       /* attributes, name, time, digest, data */
		const char *reason;
	} bad[] = {
		{ "7, '\\x410042'::bytea, NULL, NULL, '\\x00'", "not UCS-2" },
		{ "7, '\\x00d8'::bytea, NULL, NULL, '\\x00'", "not valid UCS-2" },
		{ "6, '\\x4100'::bytea, NULL, NULL, '\\x00'", "NV and BS" },
		{ "-1, '\\x4100'::bytea, NULL, NULL, '\\x00'", "negative" },
		{ "4103, '\\x4100'::bytea, NULL, NULL, '\\x00'", "bits" },
		{ "7, '\\x4100'::bytea, '\\x00'::bytea, NULL, '\\x00'", "EFI_TIME" },
		{ "7, '\\x4100'::bytea, '\\x00000000000000000000000000000000'::bytea, NULL, '\\x00'",
		  "without TIME_BASED" },
		{ "7, '\\x4100'::bytea, NULL, '\\x'::bytea, '\\x00'", "digest is 0 bytes" },
		{ "7, '\\x4100'::bytea, NULL, NULL, decode(repeat('00', 70000), 'hex')",
		  "maximum variable size" },
		{ "7, ''::bytea, NULL, NULL, '\\x00'", "name is empty" },
	};
	struct vv_error err = { { 0 } };

	ensure_schema();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vv_store *s;

		CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'hostile'"));
		CHECK(pg_sql("INSERT INTO vmvars_vm (name) VALUES ('hostile')"));
		/* a good row first: the load must not keep it either */
		CHECK(pg_sql("INSERT INTO vmvars_var (vm_id, guid, name, seq, attributes, data) "
			     "SELECT id, '12345678-1234-1234-1234-123456789abc', '\\x47006f006f006400', "
			     "0, 7, '\\x01' FROM vmvars_vm WHERE name = 'hostile'"));
		CHECK(pg_sql("INSERT INTO vmvars_var (vm_id, guid, seq, attributes, name, time, "
			     "digest, data) SELECT id, '12345678-1234-1234-1234-123456789abc', 1, %s "
			     "FROM vmvars_vm WHERE name = 'hostile'", bad[i].cols));
		memset(&err, 0, sizeof(err));
		s = open_vm("hostile", VV_PG_OWN, &err);
		CHECK(s == NULL);
		if (strstr(err.msg, "VM hostile") == NULL || strstr(err.msg, bad[i].reason) == NULL ||
		    strstr(err.msg, "variable") == NULL)
			printf("# case %zu: %s\n", i, err.msg), vv_test_failures++;
		vv_store_free(s);
	}
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'hostile'"));
}

/* Two owners: the second open wins; the first's next write is refused
 * (VV_EFI_DEVICE_ERROR, memory unchanged), invisible in the database, and so
 * is every later one. */
static void
second_owner_fences_the_first(void)
{
	struct vv_error err = { { 0 } };
	struct vv_store *a, *b, *c;
	struct vv_backend *ba;
	struct vv_pg_status st;

	ensure_schema();
	a = open_vm("contested", VV_PG_OWN, &err);
	REQUIRE(a != NULL);
	ba = last_backend;
	CHECK_STATUS(put(a, U("Before"), 1), VV_EFI_SUCCESS);
	b = open_vm("contested", VV_PG_OWN, &err);
	REQUIRE(b != NULL);
	CHECK_EQ(value_of(b, U("Before")), 1);
	CHECK_STATUS(put(a, U("Late"), 2), VV_EFI_DEVICE_ERROR);
	CHECK(vv_store_find(a, U("Late"), &TEST_GUID) == NULL);
	CHECK(strstr(vv_store_last_io_error(a), "fenced") != NULL);
	vv_pg_backend_status(ba, &st);
	CHECK(st.fenced && !st.owner);
	CHECK(strstr(st.fenced_by, "taken by") != NULL);
	CHECK_STATUS(put(a, U("Before"), 7), VV_EFI_DEVICE_ERROR);
	CHECK_EQ(value_of(a, U("Before")), 1);
	CHECK_STATUS(put(b, U("After"), 3), VV_EFI_SUCCESS);
	c = open_vm("contested", VV_PG_READ, &err);
	REQUIRE(c != NULL);
	CHECK(vv_store_find(c, U("Late"), &TEST_GUID) == NULL);
	CHECK_EQ(value_of(c, U("Before")), 1);
	CHECK_EQ(value_of(c, U("After")), 3);
	CHECK_EQ(vv_store_count(c), 2);
	/* an offline edit refuses a VM a daemon holds */
	CHECK(open_vm("contested", VV_PG_EDIT, &err) == NULL);
	CHECK(strstr(err.msg, "is served by a daemon") != NULL);
	vv_store_free(c);
	vv_store_free(a);
	vv_store_free(b);
}

/*
 * Finding (r-fleet): an offline edit checked that no daemon holds the VM
 * in one statement and took the VM in another; a daemon that took it in
 * between (here: the VM row locked by a "daemon" transaction that takes
 * the VM while the edit waits on the lock) was fenced by the edit, which
 * docs/fleet.md says is refused while a daemon holds the VM.
 */
static void
offline_edit_never_takes_a_held_vm(void)
{
	struct vv_error err = { { 0 } };
	PGconn *c;
	PGresult *r;
	pid_t child;
	int ws = 0;
	bool waited = false;

	ensure_schema();
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'race'"));
	CHECK(pg_sql("INSERT INTO vmvars_vm (name) VALUES ('race')"));
	c = PQconnectdb(pg_conninfo);
	REQUIRE(PQstatus(c) == CONNECTION_OK);
	PQclear(PQexec(c, "BEGIN"));
	r = PQexec(c, "SELECT id FROM vmvars_vm WHERE name = 'race' FOR UPDATE");
	CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
	PQclear(r);
	fflush(stdout);
	child = fork();
	REQUIRE(child >= 0);
	if (child == 0) {
		struct vv_store *e = open_vm("race", VV_PG_EDIT, &err);

		_exit(e != NULL ? 0 : strstr(err.msg, "is served by a daemon") != NULL ? 1 : 2);
	}
	/* the edit waits for the row lock (its check has passed) */
	for (int i = 0; i < 500 && !waited; i++) {
		waited = pg_value("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
				  "'Lock' AND query LIKE 'UPDATE vmvars_vm%%'") == 1;
		if (!waited)
			usleep(10000);
	}
	CHECK(waited);
	/* a daemon takes the VM meanwhile */
	r = PQexec(c, "UPDATE vmvars_vm SET epoch = epoch + 1, owner_host = 'host-d', owner_pid = "
		   "4242, owner_since = now() WHERE name = 'race'");
	CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
	PQclear(r);
	PQclear(PQexec(c, "COMMIT"));
	PQfinish(c);
	REQUIRE(waitpid(child, &ws, 0) == child);
	CHECK(WIFEXITED(ws));
	CHECK_EQ(WEXITSTATUS(ws), 1);
	/* the daemon still holds it, at its epoch */
	CHECK_EQ(pg_value("SELECT epoch FROM vmvars_vm WHERE name = 'race'"), 1);
	CHECK_EQ(pg_value("SELECT owner_pid FROM vmvars_vm WHERE name = 'race'"), 4242);
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'race'"));
}

static void
read_only_user_fails_at_start(void)
{
	struct vv_error err = { { 0 } };
	char ci[400];
	struct vv_pg_options o = { ci, "ro-vm", NULL, VV_PG_OWN, true, false };
	struct vv_backend *b;
	struct vv_store *s;

	ensure_schema();
	(void)pg_sql("DROP ROLE IF EXISTS vv_reader");
	CHECK(pg_sql("CREATE ROLE vv_reader LOGIN"));
	CHECK(pg_sql("GRANT SELECT ON vmvars_schema, vmvars_vm, vmvars_var TO vv_reader"));
	CHECK(pg_sql("INSERT INTO vmvars_vm (name) VALUES ('ro-vm') ON CONFLICT DO NOTHING"));
	snprintf(ci, sizeof(ci), "host=%s port=5432 user=vv_reader dbname=vmvars password=s3cret",
		 pg_dir);
	b = vv_pg_backend_new(&o, &err);
	REQUIRE(b != NULL);
	s = vv_store_new(NULL);
	vv_store_set_backend(s, b);
	CHECK_EQ(vv_store_load(s, &err), -1);
	CHECK(strstr(err.msg, "may not write") != NULL);
	/* the message names the server without its password */
	CHECK(strstr(err.msg, "s3cret") == NULL);
	CHECK(strstr(err.msg, "password=***") != NULL);
	vv_store_free(s);
}

static void
redaction(void)
{
	char out[200];

	vv_pg_redact("host=/x password='a b\\'c' user=u", out, sizeof(out));
	CHECK(strcmp(out, "host=/x password=*** user=u") == 0);
	vv_pg_redact("postgresql://u:pw@h:5432/db?sslmode=require", out, sizeof(out));
	CHECK(strcmp(out, "postgresql://u:***@h:5432/db?sslmode=require") == 0);
	vv_pg_redact("postgresql://h/db?password=pw&user=u", out, sizeof(out));
	CHECK(strcmp(out, "postgresql://h/db?password=***&user=u") == 0);
	vv_pg_redact("host=h password = x port=1", out, sizeof(out));
	CHECK(strcmp(out, "host=h password=*** port=1") == 0);
	/* Finding (r-fleet): only the first "password=" of a URI's query was
	 * redacted (an sslpassword before it hid the password), a name
	 * libpq decodes (%77 is w) was not, nor a value after a tab ... */
	vv_pg_redact("postgresql://h/db?sslpassword=k&password=pw1&password=pw2", out,
		     sizeof(out));
	CHECK(strcmp(out, "postgresql://h/db?sslpassword=***&password=***&password=***") == 0);
	vv_pg_redact("postgresql://h/db?pass%77ord=pw", out, sizeof(out));
	CHECK(strcmp(out, "postgresql://h/db?pass%77ord=***") == 0);
	vv_pg_redact("host=h\tpassword\t=\tpw\tport=1", out, sizeof(out));
	CHECK(strcmp(out, "host=h\tpassword=***\tport=1") == 0);
	/* ... and a short password at the end of a result cut to its buffer
	 * was replaced in place by the longer ***, past the buffer's end
	 * (the daemon's is 160 bytes, the conninfo any length) */
	{
		static const char uri[] = "postgresql://h/d?password=a";
		char *small = malloc(sizeof(uri));

		REQUIRE(small != NULL);
		vv_pg_redact(uri, small, sizeof(uri));
		CHECK(strcmp(small, "postgresql://h/d?password=*") == 0);
		vv_pg_redact("postgresql://u:secret@h/d", small, 18);
		CHECK(strcmp(small, "postgresql://u:**") == 0);
		free(small);
	}
}

/*
 * The server stopped (immediate: a crash) and started again by a child
 * while this process writes: every write the store acknowledged is in the
 * database, every refused one is not, and writes work again afterwards
 * without any action.
 */
static void
restart_name(int i, uint16_t name[8])
{
	name[0] = 'V';
	for (int k = 4; k >= 1; k--, i /= 10)
		name[k] = (uint16_t)('0' + i % 10);
	name[5] = 0;
}

static void
server_restart_during_writes(void)
{
	enum { MAX = 20000, AFTER = 50 };
	struct vv_error err = { { 0 } };
	vv_status *st = calloc(MAX, sizeof(*st));
	struct vv_store *s, *r;
	struct vv_pg_status ps;
	struct vv_backend *bs;
	pid_t child;
	int acked = 0, refused = 0, n = 0, after = -1, ws = 0;

	ensure_schema();
	REQUIRE(st != NULL);
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'restart'"));
	s = open_vm("restart", VV_PG_OWN, &err);
	REQUIRE(s != NULL);
	bs = last_backend;
	child = fork();
	if (child == 0) {
		usleep(50000);
		_exit(pg_restart("immediate") ? 0 : 1);
	}
	/* writes until the restart is over, then AFTER more */
	while (n < MAX && (after < 0 || n < after + AFTER)) {
		uint16_t name[8];

		restart_name(n, name);
		st[n] = put(s, name, 5, (uint8_t)n);
		if (st[n] == VV_EFI_SUCCESS)
			acked++;
		else
			refused++;
		n++;
		if (after < 0 && waitpid(child, &ws, WNOHANG) == child) {
			CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
			after = n;
		}
	}
	CHECK(after >= 0);
	vv_pg_backend_status(bs, &ps);
	printf("# %d writes: %d acknowledged, %d refused; %llu reconnections, %llu retries, "
	       "%llu outcomes resolved\n", n, acked, refused, (unsigned long long)ps.reconnects,
	       (unsigned long long)ps.retries, (unsigned long long)ps.unknown_outcomes);
	CHECK(ps.reconnects >= 1);
	CHECK(ps.connected);
	/* recovered by itself: the writes after the restart went through */
	for (int i = after; i >= 0 && i < n; i++)
		CHECK_STATUS(st[i], VV_EFI_SUCCESS);
	r = open_vm("restart", VV_PG_READ, &err);
	REQUIRE(r != NULL);
	for (int i = 0; i < n; i++) {
		uint16_t name[8];
		const struct vv_variable *v;
		bool in_memory;

		restart_name(i, name);
		v = vv_store_find(r, name, 5, &TEST_GUID);
		in_memory = vv_store_find(s, name, 5, &TEST_GUID) != NULL;
		if ((st[i] == VV_EFI_SUCCESS) != (v != NULL) || in_memory != (v != NULL)) {
			printf("# V%04d: status %s, in the database %d, in memory %d\n", i,
			       vv_status_name(st[i]), v != NULL, in_memory);
			vv_test_failures++;
		}
	}
	CHECK_EQ(vv_store_count(r), (size_t)acked);
	vv_store_free(r);
	vv_store_free(s);
	free(st);
}

/*
 * The server away for longer than the retries: a write in flight is
 * refused with its outcome unknown ("in doubt").  The next write learns
 * it first: not committed -> nothing to undo; committed (simulated: the
 * row and the generation bump such a COMMIT leaves) -> the VM's rows are
 * rewritten from memory, so the refused write is gone.
 */
static void
server_away_leaves_a_write_in_doubt(void)
{
	struct vv_error err = { { 0 } };
	struct vv_store *s, *r;
	struct vv_backend *b;
	struct vv_pg_status st;
	long long gen;

	ensure_schema();
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'doubt'"));
	s = open_vm("doubt", VV_PG_OWN, &err);
	REQUIRE(s != NULL);
	b = last_backend;
	CHECK_STATUS(put(s, U("A"), 1), VV_EFI_SUCCESS);
	/* 1: the write was not made */
	REQUIRE(pg_script2("stop", "fast") == 0);
	CHECK_STATUS(put(s, U("B"), 2), VV_EFI_DEVICE_ERROR);
	CHECK(vv_store_find(s, U("B"), &TEST_GUID) == NULL);
	vv_pg_backend_status(b, &st);
	CHECK(st.in_doubt && !st.connected);
	REQUIRE(pg_script("start") == 0);
	CHECK_STATUS(put(s, U("C"), 3), VV_EFI_SUCCESS);
	vv_pg_backend_status(b, &st);
	CHECK(!st.in_doubt && st.connected);
	/* 2: the write was made, its reply lost */
	REQUIRE(pg_script2("stop", "fast") == 0);
	CHECK_STATUS(put(s, U("D"), 4), VV_EFI_DEVICE_ERROR);
	REQUIRE(pg_script("start") == 0);
	gen = pg_value("SELECT nv_generation FROM vmvars_vm WHERE name = 'doubt'");
	CHECK(pg_sql("INSERT INTO vmvars_var (vm_id, guid, name, seq, attributes, data) SELECT id, "
		     "'12345678-1234-1234-1234-123456789abc', '\\x4400'::bytea, 99, 7, "
		     "'\\x04fb5a'::bytea FROM vmvars_vm WHERE name = 'doubt'"));
	CHECK(pg_sql("UPDATE vmvars_vm SET nv_generation = nv_generation + 1 WHERE name = 'doubt'"));
	CHECK_STATUS(put(s, U("E"), 5), VV_EFI_SUCCESS);
	CHECK(pg_value("SELECT nv_generation FROM vmvars_vm WHERE name = 'doubt'") > gen + 1);
	r = open_vm("doubt", VV_PG_READ, &err);
	REQUIRE(r != NULL);
	CHECK_EQ(value_of(r, U("A")), 1);
	CHECK_EQ(value_of(r, U("B")), -1);
	CHECK_EQ(value_of(r, U("C")), 3);
	CHECK_EQ(value_of(r, U("D")), -1);
	CHECK_EQ(value_of(r, U("E")), 5);
	CHECK_EQ(vv_store_count(r), 3);
	vv_store_free(r);
	vv_store_free(s);
}

/*
 * Finding (r-fleet): a write in doubt that did commit is removed by
 * rewriting the VM's rows at the next write.  When that rewrite failed
 * (the server refusing it here; going away again does the same), the
 * doubt was forgotten and later writes were single rows again: the
 * refused write stayed in the database for as long as the daemon ran,
 * and for good after a kill -9.
 */
static void
refused_write_removed_even_if_the_first_rewrite_fails(void)
{
	struct vv_error err = { { 0 } };
	struct vv_store *s, *r;

	ensure_schema();
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'doubt2'"));
	s = open_vm("doubt2", VV_PG_OWN, &err);
	REQUIRE(s != NULL);
	CHECK_STATUS(put(s, U("A"), 1), VV_EFI_SUCCESS);
	REQUIRE(pg_script2("stop", "fast") == 0);
	CHECK_STATUS(put(s, U("D"), 4), VV_EFI_DEVICE_ERROR);
	REQUIRE(pg_script("start") == 0);
	/* it did commit (as in server_away_leaves_a_write_in_doubt) */
	CHECK(pg_sql("INSERT INTO vmvars_var (vm_id, guid, name, seq, attributes, data) SELECT id, "
		     "'12345678-1234-1234-1234-123456789abc', '\\x4400'::bytea, 99, 7, "
		     "'\\x04fb5a'::bytea FROM vmvars_vm WHERE name = 'doubt2'"));
	CHECK(pg_sql("UPDATE vmvars_vm SET nv_generation = nv_generation + 1 WHERE name = 'doubt2'"));
	/* the next write's rewrite is refused by the server */
	CHECK(pg_sql("CREATE OR REPLACE FUNCTION vv_refuse_e() RETURNS trigger LANGUAGE plpgsql "
		     "AS $$BEGIN IF NEW.data = '\\x05fa5a'::bytea THEN RAISE EXCEPTION 'refused'; "
		     "END IF; RETURN NEW; END$$"));
	CHECK(pg_sql("CREATE TRIGGER vv_refuse_e BEFORE INSERT OR UPDATE ON vmvars_var FOR EACH ROW "
		     "EXECUTE FUNCTION vv_refuse_e()"));
	CHECK_STATUS(put(s, U("E"), 5), VV_EFI_DEVICE_ERROR);
	CHECK(pg_sql("DROP TRIGGER vv_refuse_e ON vmvars_var"));
	CHECK(pg_sql("DROP FUNCTION vv_refuse_e()"));
	/* the write after it succeeds: the refused D must be gone by then */
	CHECK_STATUS(put(s, U("F"), 6), VV_EFI_SUCCESS);
	r = open_vm("doubt2", VV_PG_READ, &err);
	REQUIRE(r != NULL);
	CHECK_EQ(value_of(r, U("A")), 1);
	CHECK_EQ(value_of(r, U("D")), -1);
	CHECK_EQ(value_of(r, U("E")), -1);
	CHECK_EQ(value_of(r, U("F")), 6);
	CHECK_EQ(vv_store_count(r), 2);
	vv_store_free(r);
	vv_store_free(s);
}

/*
 * Finding (r-fleet): the database loses commits of ours (a server crash
 * with synchronous_commit off, a failover to a standby that lagged --
 * simulated: the last write's row and generation bump taken back).  The
 * next write's generation says so (not ours + 1), but it was taken as it
 * came: the lost write, acknowledged to the guest and still in memory,
 * stayed missing from the database, and gone after a restart.
 */
static void
commits_the_database_lost_are_written_again(void)
{
	struct vv_error err = { { 0 } };
	struct vv_store *s, *r;

	ensure_schema();
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'lost'"));
	s = open_vm("lost", VV_PG_OWN, &err);
	REQUIRE(s != NULL);
	CHECK_STATUS(put(s, U("A"), 1), VV_EFI_SUCCESS);
	CHECK_STATUS(put(s, U("B"), 2), VV_EFI_SUCCESS);
	CHECK(pg_sql("DELETE FROM vmvars_var WHERE name = '\\x4200'::bytea AND vm_id = (SELECT id "
		     "FROM vmvars_vm WHERE name = 'lost')"));
	CHECK(pg_sql("UPDATE vmvars_vm SET nv_generation = nv_generation - 1 WHERE name = 'lost'"));
	CHECK_STATUS(put(s, U("C"), 3), VV_EFI_SUCCESS);
	r = open_vm("lost", VV_PG_READ, &err);
	REQUIRE(r != NULL);
	CHECK_EQ(value_of(r, U("A")), 1);
	CHECK_EQ(value_of(r, U("B")), 2);
	CHECK_EQ(value_of(r, U("C")), 3);
	CHECK_EQ(vv_store_count(r), 3);
	vv_store_free(r);
	/* and single-row writes again after that */
	CHECK_STATUS(put(s, U("A"), 4), VV_EFI_SUCCESS);
	r = open_vm("lost", VV_PG_READ, &err);
	REQUIRE(r != NULL);
	CHECK_EQ(value_of(r, U("A")), 4);
	CHECK_EQ(vv_store_count(r), 3);
	vv_store_free(r);
	vv_store_free(s);
}

/*
 * Finding (r-fleet): a write whose reply was lost was sent again once the
 * VM row said it had not committed -- but the first copy may not have run
 * yet: its server process still holds it (a partition, a stalled server
 * process: here SIGSTOP, and the client's socket shut down under the
 * write).  The copy that runs later, after the write sent again and after
 * later writes, still matched our epoch and committed: an acknowledged
 * delete undone (a lost write and a phantom at once).  Every write must
 * also name the generation it follows.
 */
static char zombie_socket[128];

static void
cut_the_database_socket(int sig)
{
	(void)sig;
	for (int fd = 3; fd < 1024; fd++) {
		struct sockaddr_un a;
		socklen_t len = sizeof(a);

		if (getpeername(fd, (struct sockaddr *)&a, &len) == 0 && a.sun_family == AF_UNIX &&
		    strcmp(a.sun_path, zombie_socket) == 0)
			(void)shutdown(fd, SHUT_RDWR);
	}
}

static void
late_copy_of_a_resent_write_changes_nothing(void)
{
	struct vv_error err = { { 0 } };
	struct vv_store *s, *r;
	struct itimerval it = { { 0, 0 }, { 0, 300000 } };
	struct sigaction sa, old;
	long long pid;

	ensure_schema();
	snprintf(zombie_socket, sizeof(zombie_socket), "%s/.s.PGSQL.%d", pg_dir,
		 pg_tcp_port > 0 ? pg_tcp_port : 5432);
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'zombie'"));
	s = open_vm("zombie", VV_PG_OWN, &err);
	REQUIRE(s != NULL);
	CHECK_STATUS(put(s, U("X"), 1), VV_EFI_SUCCESS);
	/* the store's server process: the one whose last statement was a write */
	REQUIRE(pg_value("SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND "
			 "query LIKE 'WITH v AS (UPDATE vmvars_vm%%'") == 1);
	pid = pg_value("SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND "
		       "query LIKE 'WITH v AS (UPDATE vmvars_vm%%'");
	REQUIRE(pid > 0);
	REQUIRE(kill((pid_t)pid, SIGSTOP) == 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cut_the_database_socket;
	sigaction(SIGALRM, &sa, &old);
	setitimer(ITIMER_REAL, &it, NULL);
	/* sent to the stopped process, the socket cut: sent again */
	CHECK_STATUS(put(s, U("X"), 2), VV_EFI_SUCCESS);
	sigaction(SIGALRM, &old, NULL);
	/* acknowledged: X deleted */
	CHECK_STATUS(vv_store_put(s, U("X"), &TEST_GUID, NV_BS_RT, NULL, 0, NULL), VV_EFI_SUCCESS);
	/* the first copy runs now */
	kill((pid_t)pid, SIGCONT);
	for (int i = 0; i < 500 && pg_value("SELECT count(*) FROM pg_stat_activity WHERE pid = %lld",
					    pid) != 0; i++)
		usleep(10000);
	CHECK_EQ(pg_value("SELECT count(*) FROM pg_stat_activity WHERE pid = %lld", pid), 0);
	r = open_vm("zombie", VV_PG_READ, &err);
	REQUIRE(r != NULL);
	CHECK_EQ(value_of(r, U("X")), -1);
	CHECK_EQ(vv_store_count(r), 0);
	vv_store_free(r);
	/* and the store goes on */
	CHECK_STATUS(put(s, U("Y"), 3), VV_EFI_SUCCESS);
	r = open_vm("zombie", VV_PG_READ, &err);
	REQUIRE(r != NULL);
	CHECK_EQ(value_of(r, U("Y")), 3);
	CHECK_EQ(vv_store_count(r), 1);
	vv_store_free(r);
	vv_store_free(s);
}

static void
thousand_vms_in_one_database(void)
{
	enum { VMS = 1000 };
	struct vv_error err = { { 0 } };
	char name[32];
	int bad = 0;

	ensure_schema();
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name LIKE 'fleet-%%'"));
	for (int i = 0; i < VMS && bad < 5; i++) {
		struct vv_store *s;

		snprintf(name, sizeof(name), "fleet-%04d", i);
		s = open_vm(name, VV_PG_OWN, &err);
		if (s == NULL || put(s, U("Index"), (uint8_t)i) != VV_EFI_SUCCESS ||
		    put(s, U("Other"), (uint8_t)(i * 7)) != VV_EFI_SUCCESS) {
			printf("# %s: %s\n", name, err.msg);
			bad++;
		}
		vv_store_free(s);
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(pg_value("SELECT count(*) FROM vmvars_vm WHERE name LIKE 'fleet-%%'"), VMS);
	CHECK_EQ(pg_value("SELECT count(*) FROM vmvars_var v JOIN vmvars_vm m ON m.id = v.vm_id "
			  "WHERE m.name LIKE 'fleet-%%'"), 2 * VMS);
	/* each VM sees its own variables and only them */
	for (int i = 0; i < VMS; i += 37) {
		struct vv_store *s;

		snprintf(name, sizeof(name), "fleet-%04d", i);
		s = open_vm(name, VV_PG_READ, &err);
		REQUIRE(s != NULL);
		CHECK_EQ(vv_store_count(s), 2);
		CHECK_EQ(value_of(s, U("Index")), (uint8_t)i);
		CHECK_EQ(value_of(s, U("Other")), (uint8_t)(i * 7));
		vv_store_free(s);
	}
}

static void
list_counter(void *ctx, const struct vv_pg_vm_info *vm)
{
	int *n = ctx;

	if (strncmp(vm->name, "fleet-", 6) == 0 && vm->variables == 2 && !vm->has_pk &&
	    vm->secure_boot_enable == -1)
		n[0]++;
	if (strcmp(vm->name, "with-pk") == 0 && vm->has_pk && vm->secure_boot_enable == 1 &&
	    vm->variables == 2)
		n[1]++;
}

static void
db_list_in_one_query(void)
{
	struct vv_error err = { { 0 } };
	int n[2] = { 0, 0 };

	ensure_schema();
	/* a VM with PK (global namespace) and SecureBootEnable = 1 */
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name = 'with-pk'"));
	CHECK(pg_sql("INSERT INTO vmvars_vm (name) VALUES ('with-pk')"));
	CHECK(pg_sql("INSERT INTO vmvars_var (vm_id, guid, name, seq, attributes, data) SELECT id, "
		     "'8be4df61-93ca-11d2-aa0d-00e098032b8c', '\\x50004b00', 0, 39, '\\x00' FROM "
		     "vmvars_vm WHERE name = 'with-pk'"));
	CHECK(pg_sql("INSERT INTO vmvars_var (vm_id, guid, name, seq, attributes, data) SELECT id, "
		     "'f0a30bc7-af08-4556-99c4-001009c93a44', "
		     "'\\x53006500630075007200650042006f006f00740045006e00610062006c006500', 1, 3, "
		     "'\\x01' FROM vmvars_vm WHERE name = 'with-pk'"));
	CHECK_EQ(vv_pg_list_vms(pg_conninfo, list_counter, n, &err), 0);
	CHECK_EQ(n[0], 1000);
	CHECK_EQ(n[1], 1);
}

/* `vmvars` on fleet addresses (src/cli/store_fleet.c, cmd_db.c). */
static int
cli(char *out, size_t out_size, const char *fmt, ...)
{
	char args[1024], cmd[1400];
	va_list ap;
	FILE *p;
	size_t n = 0;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s/src/cli/vmvars %s 2>&1", getenv("VMVARS_BUILD_ROOT"), args);
	p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	/* all of it is read (a closed pipe would kill a long listing);
	 * the first out_size - 1 bytes are kept */
	for (;;) {
		char sink[4096];
		size_t got = fread(sink, 1, sizeof(sink), p);

		if (got == 0)
			break;
		if (out != NULL && n + 1 < out_size) {
			size_t keep = got < out_size - 1 - n ? got : out_size - 1 - n;

			memcpy(out + n, sink, keep);
			n += keep;
		}
	}
	if (out != NULL)
		out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
cli_on_a_fleet_store(void)
{
	struct vv_error err = { { 0 } };
	char out[8192], addr[400], json[64];
	struct vv_store *held;
	int fd;

	ensure_schema();
	CHECK(pg_sql("DELETE FROM vmvars_vm WHERE name IN ('cli', 'cli-copy')"));
	snprintf(addr, sizeof(addr), "'pg:%s#cli'", pg_conninfo);
	snprintf(json, sizeof(json), "/tmp/vv-fleet-cli-XXXXXX");
	fd = mkstemp(json);
	REQUIRE(fd >= 0);
	close(fd);
	CHECK_EQ(cli(out, sizeof(out), "db upgrade '%s'", pg_conninfo), 0);
	CHECK(strstr(out, "up to date") != NULL);
	/* a VM that does not exist is an error, as a missing file is */
	CHECK_EQ(cli(out, sizeof(out), "list %s", addr), 1);
	CHECK(strstr(out, "no VM named cli") != NULL);
	/* an import creates it (from an empty JSON store) */
	REQUIRE(cli(NULL, 0, "create %s --force", json) == 0);
	CHECK_EQ(cli(out, sizeof(out), "convert %s %s", json, addr), 0);
	CHECK_EQ(cli(NULL, 0, "set %s Foo --string hello --guid " TEST_GUID_TEXT_FLEET, addr), 0);
	CHECK_EQ(cli(out, sizeof(out), "get %s Foo --guid " TEST_GUID_TEXT_FLEET, addr), 0);
	CHECK(strstr(out, "hello") != NULL);
	/* export to a file, import into another VM */
	CHECK_EQ(cli(NULL, 0, "convert %s %s --to json --force", addr, json), 0);
	CHECK_EQ(cli(out, sizeof(out), "get %s Foo --guid " TEST_GUID_TEXT_FLEET, json), 0);
	CHECK(strstr(out, "hello") != NULL);
	/* and to an OVMF flash image */
	CHECK_EQ(cli(NULL, 0, "convert %s %s.fd --to fd", addr, json), 0);
	CHECK_EQ(cli(out, sizeof(out), "get %s.fd Foo --guid " TEST_GUID_TEXT_FLEET, json), 0);
	CHECK(strstr(out, "hello") != NULL);
	CHECK_EQ(cli(NULL, 0, "convert %s 'pg:%s#cli-copy'", json, pg_conninfo), 0);
	CHECK_EQ(pg_value("SELECT count(*) FROM vmvars_var v JOIN vmvars_vm m ON m.id = v.vm_id "
			  "WHERE m.name = 'cli-copy' AND v.data = '\\x68656c6c6f00'"), 1);
	CHECK_EQ(cli(out, sizeof(out), "sb-state %s", addr), 0);
	CHECK(strstr(out, "setup") != NULL);
	CHECK_EQ(cli(out, sizeof(out), "db list '%s'", pg_conninfo), 0);
	CHECK(strstr(out, "cli-copy") != NULL && strstr(out, "setup mode") != NULL);
	/* an edit while a daemon (here: an owner in this process) holds the
	 * VM is refused, saying so; the store is unchanged */
	held = open_vm("cli", VV_PG_OWN, &err);
	REQUIRE(held != NULL);
	CHECK_EQ(cli(out, sizeof(out), "set %s Foo --string bye --guid " TEST_GUID_TEXT_FLEET,
		     addr), 1);
	CHECK(strstr(out, "is served by a daemon") != NULL);
	CHECK_EQ(cli(out, sizeof(out), "get %s Foo --guid " TEST_GUID_TEXT_FLEET, addr), 0);
	CHECK(strstr(out, "hello") != NULL);
	/* and the holder still writes (a refused edit fences nobody) */
	CHECK_STATUS(put(held, U("Still"), 1), VV_EFI_SUCCESS);
	vv_store_free(held);
	/* Finding (r-fleet): a failed save named the address as typed,
	 * password and all; now as vv_pg_redact shows it */
	CHECK(pg_sql("CREATE OR REPLACE FUNCTION vv_refuse_all() RETURNS trigger LANGUAGE plpgsql "
		     "AS $$BEGIN RAISE EXCEPTION 'refused'; END$$"));
	CHECK(pg_sql("CREATE TRIGGER vv_refuse_all BEFORE INSERT OR UPDATE ON vmvars_var FOR EACH "
		     "ROW EXECUTE FUNCTION vv_refuse_all()"));
	CHECK_EQ(cli(out, sizeof(out), "set 'pg:%s password=s3cret-Pw#cli-copy' Foo --string x --guid "
		     TEST_GUID_TEXT_FLEET, pg_conninfo), 1);
	CHECK(pg_sql("DROP TRIGGER vv_refuse_all ON vmvars_var"));
	CHECK(pg_sql("DROP FUNCTION vv_refuse_all()"));
	CHECK(strstr(out, "refused") != NULL);
	CHECK(strstr(out, "password=***#cli-copy") != NULL);
	if (strstr(out, "s3cret-Pw") != NULL)
		printf("# %s", out), vv_test_failures++;
	CHECK_EQ(cli(out, sizeof(out), "get 'pg:%s#cli-copy' Foo --guid " TEST_GUID_TEXT_FLEET,
		     pg_conninfo), 0);
	CHECK(strstr(out, "hello") != NULL);
	/* a bad address */
	CHECK_EQ(cli(out, sizeof(out), "list 'pg:%s'", pg_conninfo), 1);
	CHECK(strstr(out, "VM's name after '#'") != NULL);
	/* the file, its image, and the lock files vmvars leaves beside them */
	unlink(json);
	snprintf(out, sizeof(out), "%s.lock", json);
	unlink(out);
	snprintf(out, sizeof(out), "%s.fd", json);
	unlink(out);
	snprintf(out, sizeof(out), "%s.fd.lock", json);
	unlink(out);
}

static const struct vv_test tests[] = {
	TEST(redaction),
	TEST(schema_init_upgrade_and_versions),
	TEST(round_trip_in_store_order),
	TEST(whole_store_commits),
	TEST(batch_commits_whole),
	TEST(whole_store_commit_is_all_or_nothing),
	TEST(hostile_rows_refuse_the_load),
	TEST(second_owner_fences_the_first),
	TEST(offline_edit_never_takes_a_held_vm),
	TEST(read_only_user_fails_at_start),
	TEST(server_restart_during_writes),
	TEST(server_away_leaves_a_write_in_doubt),
	TEST(refused_write_removed_even_if_the_first_rewrite_fails),
	TEST(commits_the_database_lost_are_written_again),
	TEST(late_copy_of_a_resent_write_changes_nothing),
	TEST(thousand_vms_in_one_database),
	TEST(db_list_in_one_query),
	TEST(cli_on_a_fleet_store),
};

VV_TEST_MAIN(tests)
