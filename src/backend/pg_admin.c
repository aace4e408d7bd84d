/*
 * src/backend/pg_admin.c -- the fleet store's database as a whole
 * (pg_backend.h; docs/fleet.md "Schema", "Versions"): creating and
 * upgrading the schema (`vmvars db init|upgrade`) and listing its VMs with
 * their Secure Boot state in one query (`vmvars db list`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "backend/pg_backend.h"
#include "backend/pg_libpq.h"

/* ------------------------------------------------------------------ */
/* Schema                                                               */

/* Version 1 (docs/fleet.md "Schema"). */
static const char SCHEMA_V1[] =
	"CREATE TABLE vmvars_schema (version integer NOT NULL);"
	"CREATE TABLE vmvars_vm ("
	" id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	" name text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 255),"
	" uuid uuid,"
	" epoch bigint NOT NULL DEFAULT 0 CHECK (epoch >= 0),"
	" nv_generation bigint NOT NULL DEFAULT 0 CHECK (nv_generation >= 0),"
	" next_seq bigint NOT NULL DEFAULT 0,"
	" owner_host text, owner_pid integer, owner_since timestamptz,"
	" created timestamptz NOT NULL DEFAULT now());"
	"CREATE TABLE vmvars_var ("
	" vm_id bigint NOT NULL REFERENCES vmvars_vm (id) ON DELETE CASCADE,"
	" guid uuid NOT NULL,"
	" name bytea NOT NULL,"
	" seq bigint NOT NULL,"
	" attributes bigint NOT NULL,"
	" time bytea,"
	" digest bytea,"
	" data bytea NOT NULL,"
	" modified timestamptz NOT NULL DEFAULT now(),"
	" PRIMARY KEY (vm_id, guid, name));"
	"INSERT INTO vmvars_schema VALUES (1);";

int
vv_pg_schema_upgrade(const char *conninfo, bool init_only, int *from, struct vv_error *err)
{
	char server[160];
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r;
	int version = 0, rc = -1;

	vv_pg_redact(conninfo, server, sizeof(server));
	*from = -1;
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		vv_error_set(err, "fleet store %s: cannot connect: %s", server, vv_pg_conn_message(c));
		PQfinish(c);
		return -1;
	}
	/* One upgrader at a time (a transaction-scoped advisory lock). */
	PQclear(PQexec(c, "BEGIN"));
	PQclear(PQexec(c, "SELECT pg_advisory_xact_lock(7451015)"));
	r = PQexec(c, "SELECT to_regclass('vmvars_schema') IS NOT NULL");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		vv_error_set(err, "fleet store %s: %s", server, vv_pg_result_message(r, c));
		goto out;
	}
	if (strcmp(PQgetvalue(r, 0, 0), "t") == 0) {
		PQclear(r);
		r = PQexec(c, "SELECT coalesce(max(version), 0) FROM vmvars_schema");
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			vv_error_set(err, "fleet store %s: %s", server, vv_pg_result_message(r, c));
			goto out;
		}
		version = atoi(PQgetvalue(r, 0, 0));
	}
	PQclear(r);
	r = NULL;
	*from = version;
	if (version > VV_PG_SCHEMA_VERSION) {
		vv_error_set(err, "fleet store %s: schema version %d is newer than this vmvars "
			     "knows (%d)", server, version, VV_PG_SCHEMA_VERSION);
		goto out;
	}
	if (init_only && version != 0) {
		vv_error_set(err, "fleet store %s: already initialised (schema version %d)%s",
			     server, version, version < VV_PG_SCHEMA_VERSION ?
			     "; run `vmvars db upgrade`" : "");
		goto out;
	}
	/* Each step takes version N-1 to N; a later version adds its step. */
	if (version < 1) {
		r = PQexec(c, SCHEMA_V1);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			vv_error_set(err, "fleet store %s: creating schema version 1: %s", server,
				     vv_pg_result_message(r, c));
			goto out;
		}
		PQclear(r);
		r = NULL;
	}
	r = PQexec(c, "COMMIT");
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		vv_error_set(err, "fleet store %s: COMMIT: %s", server, vv_pg_result_message(r, c));
		goto out;
	}
	rc = 0;
out:
	PQclear(r);
	if (rc != 0)
		PQclear(PQexec(c, "ROLLBACK"));
	PQfinish(c);
	return rc;
}

/* ------------------------------------------------------------------ */
/* db list                                                              */

int
vv_pg_list_vms(const char *conninfo, void (*fn)(void *ctx, const struct vv_pg_vm_info *vm),
	       void *ctx, struct vv_error *err)
{
	/* PK in the global namespace; SecureBootEnable's first byte in its
	 * own (formats §10.1) -- the Secure Boot state a host can read
	 * without running the firmware (docs/fleet.md "db list"). */
	static const char sql[] =
		"SELECT m.name, coalesce(m.uuid::text, ''), m.epoch, m.nv_generation, "
		"coalesce(m.owner_host || ' pid ' || m.owner_pid::text, ''), "
		"(SELECT count(*) FROM vmvars_var v WHERE v.vm_id = m.id), "
		"EXISTS (SELECT 1 FROM vmvars_var v WHERE v.vm_id = m.id AND "
		"v.guid = '8be4df61-93ca-11d2-aa0d-00e098032b8c' AND v.name = '\\x50004b00'::bytea), "
		"coalesce((SELECT get_byte(v.data, 0) FROM vmvars_var v WHERE v.vm_id = m.id AND "
		"v.guid = 'f0a30bc7-af08-4556-99c4-001009c93a44' AND length(v.data) >= 1 AND "
		"v.name = '\\x53006500630075007200650042006f006f00740045006e00610062006c006500'"
		"::bytea), -1) "
		"FROM vmvars_vm m ORDER BY m.name";
	char server[160];
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r;

	vv_pg_redact(conninfo, server, sizeof(server));
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		vv_error_set(err, "fleet store %s: cannot connect: %s", server, vv_pg_conn_message(c));
		PQfinish(c);
		return -1;
	}
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		vv_error_set(err, "fleet store %s: %s", server, vv_pg_result_message(r, c));
		PQclear(r);
		PQfinish(c);
		return -1;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		struct vv_pg_vm_info vm;

		vm.name = PQgetvalue(r, i, 0);
		vm.uuid = PQgetvalue(r, i, 1);
		vm.epoch = strtoll(PQgetvalue(r, i, 2), NULL, 10);
		vm.nv_generation = strtoll(PQgetvalue(r, i, 3), NULL, 10);
		vm.owner = PQgetvalue(r, i, 4);
		vm.variables = strtoll(PQgetvalue(r, i, 5), NULL, 10);
		vm.has_pk = strcmp(PQgetvalue(r, i, 6), "t") == 0;
		vm.secure_boot_enable = atoi(PQgetvalue(r, i, 7));
		fn(ctx, &vm);
	}
	PQclear(r);
	PQfinish(c);
	return 0;
}
