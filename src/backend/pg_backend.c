/*
 * src/backend/pg_backend.c -- the fleet store: one VM's NV variables in
 * PostgreSQL through libpq (pg_backend.h; issue #15; docs/fleet.md has the
 * schema, the fencing argument and the faults, case by case).
 *
 * Every statement is parameterised (PQexecParams / PQexecPrepared); no
 * value is ever spliced into SQL text.  Results are read in binary and
 * every variable row is checked by pg_row.c before the store sees it.
 *
 * A durable write is ONE statement, so one transaction and one round
 * trip: a data-modifying WITH whose first part bumps the VM row's
 * nv_generation only WHERE epoch = ours, and whose second part writes the
 * variable's row only if the first matched.  No row back means fenced.
 *
 * Faults.  A statement that fails because the connection is gone is sent
 * again on a new connection, at most VV_PG_ATTEMPTS times with a doubling
 * pause (poll(), which the sandbox allows).  A write whose reply was lost
 * may or may not have committed: before answering, the VM row's
 * nv_generation is read on the new connection -- ours + 1 means it
 * committed (we are the only writer while our epoch stands), ours means
 * it did not and it is sent again.  So an acknowledged write is in the
 * database and a refused one is not.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include <vmvars/efi.h>
#include <vmvars/ucs2.h>

#include "backend/pg_backend.h"
#include "backend/pg_libpq.h"
#include "backend/pg_row.h"
#include "core/store_state.h"

/* vv_error_prefix, then fail */
#define PREFIX_FAIL(err, ...) (vv_error_prefix((err), __VA_ARGS__), -1)

#define VV_PG_ATTEMPTS   6              /* tries of one statement */
#define VV_PG_BACKOFF_MS 50             /* first pause; doubles: 50..1600 ms */

/* The NV content the database holds, as this backend last made it: a
 * whole-store commit (vv_store_flush, restores) writes only what differs
 * from it, and nothing at all when nothing does. */
struct mirror_var {
	vv_guid guid;
	uint16_t *name;
	size_t name_len;
	uint32_t attributes;
	bool has_time;
	vv_efi_time time;
	size_t digest_size;
	uint8_t digest[64];
	uint8_t *data;
	size_t data_size;
};

struct pg_backend {
	struct vv_backend base;         /* first: the vtable users see */
	PGconn *conn;
	/* The parameters of the first connection as libpq resolved them
	 * (service file and passfile already read): reconnections use these
	 * and read no file, which the sandbox would not allow. */
	char **keys, **vals;
	char server[160];               /* redacted, for messages */
	char *vm_name;
	bool has_uuid;
	vv_guid vm_uuid;
	enum vv_pg_mode mode;
	bool create, force;
	int64_t vm_id, epoch, gen;
	bool owner, fenced, loaded;
	/* A write whose COMMIT outcome could not be learnt (the server stayed
	 * away): the store undid it, the database may hold it.  The next
	 * commit learns it first and, if it did commit, rewrites the VM's
	 * rows from memory so that the refused write is gone (pg_commit). */
	bool in_doubt;
	char fenced_by[256];
	uint64_t reconnects, retries, unknown_outcomes;
	struct mirror_var *mirror;
	size_t nmirror, mirror_cap;
};

static const struct vv_backend_ops pg_ops;

static struct pg_backend *
to_pg(struct vv_backend *b)
{
	return (struct pg_backend *)b;
}

bool
vv_pg_backend_is(const struct vv_backend *b)
{
	return b != NULL && b->ops == &pg_ops;
}

/* ------------------------------------------------------------------ */
/* Secrets                                                              */

/* Appends n bytes of p to out (o bytes used), as many as fit. */
static void
redact_put(char *out, size_t *o, size_t out_size, const char *p, size_t n)
{
	for (size_t i = 0; i < n && *o + 1 < out_size; i++)
		out[(*o)++] = p[i];
}

void
vv_pg_redact(const char *ci, char *out, size_t out_size)
{
	size_t o = 0;

	if (out_size == 0)
		return;
	/* URI form: postgresql://user:secret@host/...?password=secret&...
	 * Copied byte by byte, so that a result cut to out_size never holds
	 * part of a secret and never runs past out (*** may be longer than
	 * the secret it replaces). */
	if (strncmp(ci, "postgresql://", 13) == 0 || strncmp(ci, "postgres://", 11) == 0) {
		const char *auth = strstr(ci, "://") + 3;
		const char *at = strchr(auth, '@'), *slash = strchr(auth, '/');
		const char *colon = strchr(auth, ':'), *query = strchr(auth, '?');
		const char *pw = NULL;

		if (at != NULL && (slash == NULL || at < slash) && colon != NULL && colon < at)
			pw = colon + 1;
		for (const char *c = ci; *c != '\0' && o + 1 < out_size;) {
			if (c == pw) {
				redact_put(out, &o, out_size, "***", 3);
				c = at;
				continue;
			}
			/* a query parameter named ...password (password,
			 * sslpassword): every one, libpq takes the last */
			if (query != NULL && c > query && (c[-1] == '?' || c[-1] == '&')) {
				const char *eq = strchr(c, '='), *amp = strchr(c, '&');

				/* a name with a %XX escape is judged after libpq
				 * decodes it, which we do not: its value goes too */
				if (eq != NULL && (amp == NULL || eq < amp) &&
				    ((eq - c >= 8 && strncmp(eq - 8, "password", 8) == 0) ||
				     memchr(c, '%', (size_t)(eq - c)) != NULL)) {
					redact_put(out, &o, out_size, c, (size_t)(eq + 1 - c));
					redact_put(out, &o, out_size, "***", 3);
					c = amp != NULL ? amp : c + strlen(c);
					continue;
				}
			}
			out[o++] = *c++;
		}
		out[o] = '\0';
		return;
	}
	/* key=value form: the value of every password (and sslpassword)
	 * keyword becomes *** */
	while (*ci != '\0' && o + 1 < out_size) {
		const char *p = ci;

		if (strncmp(ci, "password", 8) == 0) {
			p = ci + 8;
			/* libpq allows any white space around '=' */
			while (*p == ' ' || (*p >= '\t' && *p <= '\r'))
				p++;
		}
		if (p != ci && *p == '=') {
			static const char rep[] = "password=***";

			for (size_t i = 0; rep[i] != '\0' && o + 1 < out_size; i++)
				out[o++] = rep[i];
			for (p++; *p == ' ' || (*p >= '\t' && *p <= '\r'); p++)
				;
			if (*p == '\'') {
				for (p++; *p != '\0' && *p != '\''; p++)
					if (*p == '\\' && p[1] != '\0')
						p++;
				if (*p == '\'')
					p++;
			} else {
				while (*p != '\0' && *p != ' ' && !(*p >= '\t' && *p <= '\r'))
					p++;
			}
			ci = p;
			continue;
		}
		out[o++] = *ci++;
	}
	out[o] = '\0';
}

/* libpq's message, one line, for err. */
const char *
vv_pg_conn_message(PGconn *c)
{
	static __thread char buf[300];
	const char *m = c != NULL ? PQerrorMessage(c) : "out of memory";
	size_t n = strnlen(m, sizeof(buf) - 1);

	memcpy(buf, m, n);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = (i + 1 == n) ? '\0' : ' ';
	return buf;
}

const char *
vv_pg_result_message(const PGresult *r, PGconn *c)
{
	static __thread char buf[300];
	const char *m = r != NULL ? PQresultErrorMessage(r) : "";

	if (m == NULL || m[0] == '\0')
		return vv_pg_conn_message(c);
	snprintf(buf, sizeof(buf), "%s", m);
	for (char *p = buf; *p != '\0'; p++)
		if (*p == '\n')
			*p = p[1] == '\0' ? '\0' : ' ';
	return buf;
}

/* ------------------------------------------------------------------ */
/* Connections                                                          */

static void
free_params(struct pg_backend *pb)
{
	for (size_t i = 0; pb->keys != NULL && pb->keys[i] != NULL; i++) {
		free(pb->keys[i]);
		if (pb->vals[i] != NULL) {
			/* a password among them */
			explicit_bzero(pb->vals[i], strlen(pb->vals[i]));
			free(pb->vals[i]);
		}
	}
	free(pb->keys);
	free(pb->vals);
	pb->keys = pb->vals = NULL;
}

/* Keeps the resolved parameters of a working connection for the next
 * ones: without the service (already expanded) and with a passfile that
 * is never read (the password, if any, is among the values). */
static int
keep_params(struct pg_backend *pb)
{
	PQconninfoOption *opts = PQconninfo(pb->conn), *o;
	size_t n = 0, i = 0;
	/* "" over a UNIX socket */
	const char *addr = PQhostaddr(pb->conn) != NULL ? PQhostaddr(pb->conn) : "";

	if (opts == NULL)
		return -1;
	for (o = opts; o->keyword != NULL; o++)
		n++;
	pb->keys = calloc(n + 4, sizeof(char *));
	pb->vals = calloc(n + 4, sizeof(char *));
	if (pb->keys == NULL || pb->vals == NULL)
		goto fail;
	for (o = opts; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "password") == 0) {
			/* the password used: from the conninfo, or from the
			 * password file, which PQconninfo does not report but
			 * PQpass does */
			const char *pw = PQpass(pb->conn);

			if (pw == NULL || pw[0] == '\0')
				continue;
			pb->keys[i] = strdup(o->keyword);
			pb->vals[i] = strdup(pw);
			if (pb->keys[i] == NULL || pb->vals[i] == NULL)
				goto fail;
			i++;
			continue;
		}
		if (o->val == NULL || strcmp(o->keyword, "service") == 0 ||
		    strcmp(o->keyword, "passfile") == 0)
			continue;
		/* over TCP, the server this connection reached: its name (for
		 * TLS verification), its port and the address the name
		 * resolved to.  A reconnection inside the sandbox must not
		 * resolve the name again: /etc/hosts is out of Landlock's
		 * reach and glibc would then ask DNS through a UDP socket,
		 * which seccomp answers by killing the daemon. */
		if (addr[0] != '\0' && (strcmp(o->keyword, "host") == 0 ||
		    strcmp(o->keyword, "hostaddr") == 0 || strcmp(o->keyword, "port") == 0))
			continue;

		/* GSSAPI encryption that the first connection did not use
		 * ("prefer" fell back) is not tried again: it would run the
		 * Kerberos library (credential caches, krb5.conf) inside the
		 * sandbox for nothing */
		if (strcmp(o->keyword, "gssencmode") == 0 && !PQgssEncInUse(pb->conn)) {
			pb->keys[i] = strdup(o->keyword);
			pb->vals[i] = strdup("disable");
			if (pb->keys[i] == NULL || pb->vals[i] == NULL)
				goto fail;
			i++;
			continue;
		}
		pb->keys[i] = strdup(o->keyword);
		pb->vals[i] = strdup(o->val);
		if (pb->keys[i] == NULL || pb->vals[i] == NULL)
			goto fail;
		i++;
	}
	if (addr[0] != '\0') {
		const char *pin[3][2] = { { "host", PQhost(pb->conn) }, { "hostaddr", addr },
					  { "port", PQport(pb->conn) } };

		for (size_t k = 0; k < 3; k++) {
			if (pin[k][1] == NULL || pin[k][1][0] == '\0')
				continue;
			pb->keys[i] = strdup(pin[k][0]);
			pb->vals[i] = strdup(pin[k][1]);
			if (pb->keys[i] == NULL || pb->vals[i] == NULL)
				goto fail;
			i++;
		}
	}
	/* a path that does not exist: libpq then looks for no ~/.pgpass,
	 * which would need the user database (NSS) inside the sandbox */
	pb->keys[i] = strdup("passfile");
	pb->vals[i] = strdup("/nonexistent/vmvars-no-passfile");
	if (pb->keys[i] == NULL || pb->vals[i] == NULL)
		goto fail;
	PQconninfoFree(opts);
	return 0;
fail:
	PQconninfoFree(opts);
	free_params(pb);
	return -1;
}

static void
pause_ms(int ms)
{
	(void)poll(NULL, 0, ms);
}

/* The statements of a write, prepared on every new connection. */
static const char SQL_PUT[] =
	"WITH v AS (UPDATE vmvars_vm SET nv_generation = nv_generation + 1, "
	"next_seq = next_seq + 1 WHERE id = $1 AND epoch = $2 AND nv_generation = $9 "
	"RETURNING id, nv_generation, next_seq), "
	"w AS (INSERT INTO vmvars_var (vm_id, guid, name, seq, attributes, time, digest, data) "
	"SELECT v.id, $3::uuid, $4, v.next_seq, $5, $6, $7, $8 FROM v "
	"ON CONFLICT (vm_id, guid, name) DO UPDATE SET attributes = EXCLUDED.attributes, "
	"time = EXCLUDED.time, digest = EXCLUDED.digest, data = EXCLUDED.data, "
	"modified = now()) "
	"SELECT nv_generation FROM v";
static const char SQL_DELETE[] =
	"WITH v AS (UPDATE vmvars_vm SET nv_generation = nv_generation + 1 "
	"WHERE id = $1 AND epoch = $2 AND nv_generation = $5 RETURNING id, nv_generation), "
	"d AS (DELETE FROM vmvars_var WHERE vm_id = (SELECT id FROM v) "
	"AND guid = $3::uuid AND name = $4) "
	"SELECT nv_generation FROM v";
static const char SQL_STATE[] =
	"SELECT epoch, nv_generation, coalesce(owner_host, ''), "
	"coalesce(owner_pid::text, ''), coalesce(owner_since::text, '') "
	"FROM vmvars_vm WHERE id = $1";

static int
prepare_all(struct pg_backend *pb)
{
	static const struct { const char *name, *sql; int n; } stmts[] = {
		{ "vv_put", SQL_PUT, 9 }, { "vv_delete", SQL_DELETE, 5 },
		{ "vv_state", SQL_STATE, 1 },
	};

	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		PGresult *r = PQprepare(pb->conn, stmts[i].name, stmts[i].sql, stmts[i].n, NULL);
		bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;

		PQclear(r);
		if (!ok)
			return -1;
	}
	return 0;
}

/* The schema's version must be ours (docs/fleet.md "Versions"). */
static int
check_schema(struct pg_backend *pb, struct vv_error *err)
{
	PGresult *r = PQexecParams(pb->conn, "SELECT max(version)::int8 FROM vmvars_schema", 0,
				   NULL, NULL, NULL, NULL, 1);
	struct vv_pg_field f;
	int64_t v;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

		/* 42P01: undefined table */
		if (state != NULL && strcmp(state, "42P01") == 0)
			vv_error_set(err, "fleet store %s: no vmvars schema in this database "
				     "(run `vmvars db init`)", pb->server);
		else
			vv_error_set(err, "fleet store %s: %s", pb->server,
				     vv_pg_result_message(r, pb->conn));
		PQclear(r);
		return -1;
	}
	f.null = PQntuples(r) != 1 || PQgetisnull(r, 0, 0);
	f.p = f.null ? NULL : (const uint8_t *)PQgetvalue(r, 0, 0);
	f.len = f.null ? 0 : (size_t)PQgetlength(r, 0, 0);
	if (vv_pg_decode_int8(&f, "schema version", &v, err) != 0) {
		PQclear(r);
		return vv_error_set(err, "fleet store %s: the vmvars_schema table is empty "
				    "or damaged", pb->server);
	}
	PQclear(r);
	if (v < VV_PG_SCHEMA_VERSION)
		return vv_error_set(err, "fleet store %s: schema version %lld is older than %d "
				    "(run `vmvars db upgrade`)", pb->server, (long long)v,
				    VV_PG_SCHEMA_VERSION);
	if (v > VV_PG_SCHEMA_VERSION)
		return vv_error_set(err, "fleet store %s: schema version %lld is newer than this "
				    "vmvars knows (%d): upgrade vmvars", pb->server, (long long)v,
				    VV_PG_SCHEMA_VERSION);
	return 0;
}

/* Server notices ("terminating connection due to ...") are not ours to
 * print: the failure they announce reaches the caller as an error. */
static void
ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* A new connection with the kept parameters (or, the first time, the
 * conninfo); statements prepared.  0, or -1 with err. */
static int
connect_once(struct pg_backend *pb, const char *conninfo, struct vv_error *err)
{
	if (pb->conn != NULL)
		PQfinish(pb->conn);
	if (pb->keys != NULL)
		pb->conn = PQconnectdbParams((const char *const *)pb->keys,
					     (const char *const *)pb->vals, 0);
	else
		pb->conn = PQconnectdb(conninfo);
	if (pb->conn == NULL || PQstatus(pb->conn) != CONNECTION_OK)
		return vv_error_set(err, "fleet store %s: cannot connect: %s", pb->server,
				    vv_pg_conn_message(pb->conn));
	PQsetNoticeProcessor(pb->conn, ignore_notice, NULL);
	if (pb->keys == NULL && keep_params(pb) != 0)
		return vv_error_set(err, "out of memory");
	if (check_schema(pb, err) != 0)
		return -1;
	if (prepare_all(pb) != 0) {
		/* e.g. the tables are missing: said clearly by the schema
		 * check on the first connection */
		return vv_error_set(err, "fleet store %s: %s", pb->server, vv_pg_conn_message(pb->conn));
	}
	return 0;
}

/* Reconnects with backoff; 0, or -1 with err after VV_PG_ATTEMPTS. */
static int
reconnect(struct pg_backend *pb, struct vv_error *err)
{
	int delay = VV_PG_BACKOFF_MS;

	for (int i = 0; i < VV_PG_ATTEMPTS; i++) {
		if (i > 0) {
			pause_ms(delay);
			delay *= 2;
		}
		if (connect_once(pb, NULL, err) == 0) {
			pb->reconnects++;
			return 0;
		}
	}
	return -1;
}

static bool
connection_lost(struct pg_backend *pb)
{
	return pb->conn == NULL || PQstatus(pb->conn) != CONNECTION_OK;
}

/*
 * One idempotent statement (a read), sent again on a new connection when
 * the connection fails under it.  NULL with err on failure.
 */
static PGresult *
exec_read(struct pg_backend *pb, const char *prepared, const char *sql, int n,
	  const char *const *vals, const int *lens, const int *fmts, struct vv_error *err)
{
	for (int attempt = 0; attempt < VV_PG_ATTEMPTS; attempt++) {
		PGresult *r;
		ExecStatusType st;

		if (connection_lost(pb) && reconnect(pb, err) != 0)
			return NULL;
		if (prepared != NULL)
			r = PQexecPrepared(pb->conn, prepared, n, vals, lens, fmts, 1);
		else
			r = PQexecParams(pb->conn, sql, n, NULL, vals, lens, fmts, 1);
		st = PQresultStatus(r);
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
			return r;
		vv_error_set(err, "fleet store %s: %s", pb->server, vv_pg_result_message(r, pb->conn));
		PQclear(r);
		if (!connection_lost(pb))
			return NULL;            /* an SQL error: sending it again is no use */
		pb->retries++;
	}
	return NULL;
}

/* A text-typed (or ::text) column of a binary result, NUL-terminated and
 * cut to out_size, control characters replaced: it goes into logs. */
static void
text_col(const PGresult *r, int row, int col, char *out, size_t out_size)
{
	size_t n = (size_t)PQgetlength(r, row, col);
	const char *p = PQgetvalue(r, row, col);

	if (n >= out_size)
		n = out_size - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] : '?';
	out[n] = '\0';
}

static struct vv_pg_field
field(const PGresult *r, int row, int col)
{
	struct vv_pg_field f;

	f.null = PQgetisnull(r, row, col);
	f.p = (const uint8_t *)PQgetvalue(r, row, col);
	f.len = f.null ? 0 : (size_t)PQgetlength(r, row, col);
	return f;
}

/* ------------------------------------------------------------------ */
/* The mirror                                                           */

static void
mirror_clear(struct pg_backend *pb)
{
	for (size_t i = 0; i < pb->nmirror; i++) {
		free(pb->mirror[i].name);
		free(pb->mirror[i].data);
	}
	pb->nmirror = 0;
}

static ssize_t
mirror_find(const struct pg_backend *pb, const vv_guid *g, const uint16_t *name, size_t len)
{
	for (size_t i = 0; i < pb->nmirror; i++)
		if (vv_guid_equal(&pb->mirror[i].guid, g) &&
		    vv_ucs2_equal(pb->mirror[i].name, pb->mirror[i].name_len, name, len))
			return (ssize_t)i;
	return -1;
}

static bool
mirror_same(const struct mirror_var *m, const struct vv_variable *v)
{
	bool vt = v->has_time && (v->attributes & VV_ATTR_AT);

	return m->attributes == v->attributes && m->has_time == vt &&
	       (!vt || memcmp(m->time.b, v->time.b, 16) == 0) &&
	       m->digest_size == v->digest_size &&
	       memcmp(m->digest, v->digest, v->digest_size) == 0 &&
	       m->data_size == v->data_size &&
	       (v->data_size == 0 || memcmp(m->data, v->data, v->data_size) == 0);
}

/* Sets slot i (i == nmirror appends) to v.  -1 out of memory (the slot is
 * then unchanged). */
static int
mirror_set(struct pg_backend *pb, size_t i, const struct vv_variable *v)
{
	struct mirror_var m;

	if (i == pb->nmirror && pb->nmirror == pb->mirror_cap) {
		size_t cap = pb->mirror_cap ? 2 * pb->mirror_cap : 64;
		struct mirror_var *n = realloc(pb->mirror, cap * sizeof(*n));

		if (n == NULL)
			return -1;
		pb->mirror = n;
		pb->mirror_cap = cap;
	}
	memset(&m, 0, sizeof(m));
	m.guid = v->guid;
	m.name = malloc((v->name_len + 1) * 2);
	m.data = malloc(v->data_size ? v->data_size : 1);
	if (m.name == NULL || m.data == NULL) {
		free(m.name);
		free(m.data);
		return -1;
	}
	memcpy(m.name, v->name, v->name_len * 2);
	m.name[v->name_len] = 0;
	m.name_len = v->name_len;
	m.attributes = v->attributes;
	m.has_time = v->has_time && (v->attributes & VV_ATTR_AT);
	m.time = v->time;
	m.digest_size = v->digest_size;
	memcpy(m.digest, v->digest, v->digest_size);
	if (v->data_size)
		memcpy(m.data, v->data, v->data_size);
	m.data_size = v->data_size;
	if (i < pb->nmirror) {
		free(pb->mirror[i].name);
		free(pb->mirror[i].data);
	} else {
		pb->nmirror++;
	}
	pb->mirror[i] = m;
	return 0;
}

static void
mirror_remove(struct pg_backend *pb, size_t i)
{
	free(pb->mirror[i].name);
	free(pb->mirror[i].data);
	memmove(pb->mirror + i, pb->mirror + i + 1, (pb->nmirror - i - 1) * sizeof(*pb->mirror));
	pb->nmirror--;
}

/* ------------------------------------------------------------------ */
/* Load and ownership                                                   */

static PGresult *
tx_exec(struct pg_backend *pb, const char *sql, int n, const char *const *vals,
	const int *lens, const int *fmts, struct vv_error *err)
{
	PGresult *r = PQexecParams(pb->conn, sql, n, NULL, vals, lens, fmts, 1);
	ExecStatusType st = PQresultStatus(r);

	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return r;
	vv_error_set(err, "%s", vv_pg_result_message(r, pb->conn));
	PQclear(r);
	return NULL;
}

static void
rollback(struct pg_backend *pb)
{
	PQclear(PQexec(pb->conn, "ROLLBACK"));
}

/* A write refused because the user may not write: said as such. */
static int
permission_error(struct pg_backend *pb, struct vv_error *err)
{
	if (strstr(err->msg, "permission denied") != NULL || strstr(err->msg, "read-only") != NULL)
		return vv_error_set(err, "fleet store %s: the database user may not write the "
				    "store (%s); vmvarsd needs SELECT, INSERT, UPDATE and DELETE on "
				    "vmvars_vm and vmvars_var (docs/fleet.md \"Roles\")",
				    pb->server, err->msg);
	return PREFIX_FAIL(err, "fleet store %s", pb->server);
}

static void
owner_text(char *host, size_t host_size, char *pid, size_t pid_size)
{
	if (gethostname(host, host_size) != 0)
		snprintf(host, host_size, "?");
	host[host_size - 1] = '\0';
	snprintf(pid, pid_size, "%ld", (long)getpid());
}

static int check_not_held(struct pg_backend *pb, struct vv_error *err);

/*
 * Inside the open transaction: the VM row (created if asked), with the
 * epoch raised when take is set.  Sets vm_id, epoch, gen; prev (if not
 * NULL) gets the previous owner's description.  0, 1 (no such VM and
 * not created), or -1 with err.
 */
static int
vm_row(struct pg_backend *pb, bool take, char *prev, size_t prev_size, struct vv_error *err)
{
	char uuid_text[VV_GUID_TEXT_LEN + 1], host[128], pid[24];
	const char *p[4];
	PGresult *r;
	struct vv_pg_field f;

	if (pb->has_uuid)
		vv_guid_format(&pb->vm_uuid, uuid_text);
	if (pb->create) {
		p[0] = pb->vm_name;
		p[1] = pb->has_uuid ? uuid_text : NULL;
		r = tx_exec(pb, "INSERT INTO vmvars_vm (name, uuid) VALUES ($1, $2::uuid) "
			    "ON CONFLICT (name) DO NOTHING", 2, p, NULL, NULL, err);
		if (r == NULL)
			return -1;
		PQclear(r);
	}
	owner_text(host, sizeof(host), pid, sizeof(pid));
	p[0] = pb->vm_name;
	p[1] = host;
	p[2] = pid;
	/* An offline edit takes the VM only from nobody, decided on the
	 * locked row itself: a daemon that took it since check_not_held is
	 * not fenced by the edit. */
	p[3] = pb->mode == VV_PG_EDIT && !pb->force ? "f" : "t";
	if (take)
		r = tx_exec(pb, "UPDATE vmvars_vm n SET epoch = o.epoch + 1, owner_host = $2, "
			    "owner_pid = $3::int4, owner_since = now() FROM (SELECT id, epoch, "
			    "owner_host, owner_pid, owner_since, uuid FROM vmvars_vm WHERE name = $1 "
			    "FOR UPDATE) o WHERE n.id = o.id AND ($4::bool OR o.owner_host IS NULL) "
			    "RETURNING n.id, n.epoch, "
			    "n.nv_generation, coalesce(o.owner_host || ' pid ' || o.owner_pid::text "
			    "|| ' since ' || o.owner_since::text, ''), o.uuid",
			    4, p, NULL, NULL, err);
	else
		r = tx_exec(pb, "SELECT id, epoch, nv_generation, coalesce(owner_host || ' pid ' "
			    "|| owner_pid::text || ' since ' || owner_since::text, ''), uuid "
			    "FROM vmvars_vm WHERE name = $1", 1, p, NULL, NULL, err);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		/* no row, or (an edit) a row a daemon holds */
		if (take && p[3][0] == 'f')
			return check_not_held(pb, err) != 0 ? -1 : 1;
		return 1;
	}
	f = field(r, 0, 0);
	if (vv_pg_decode_int8(&f, "vm id", &pb->vm_id, err) != 0)
		goto bad;
	f = field(r, 0, 1);
	if (vv_pg_decode_int8(&f, "epoch", &pb->epoch, err) != 0)
		goto bad;
	f = field(r, 0, 2);
	if (vv_pg_decode_int8(&f, "nv_generation", &pb->gen, err) != 0)
		goto bad;
	if (prev != NULL)
		text_col(r, 0, 3, prev, prev_size);
	f = field(r, 0, 4);
	if (!f.null && pb->has_uuid) {
		vv_guid row;
		char rt[VV_GUID_TEXT_LEN + 1];

		if (f.len != 16) {
			vv_error_set(err, "uuid is not a uuid");
			goto bad;
		}
		vv_pg_uuid_to_guid(f.p, &row);
		if (!vv_guid_equal(&row, &pb->vm_uuid)) {
			vv_guid_format(&row, rt);
			PQclear(r);
			return vv_error_set(err, "VM %s in the database is %s, not %s (--vm-uuid)",
					    pb->vm_name, rt, uuid_text);
		}
	}
	PQclear(r);
	return 0;
bad:
	PQclear(r);
	return PREFIX_FAIL(err, "VM %s: its row", pb->vm_name);
}

/*
 * Inside the open transaction: every variable row of the VM, checked
 * (pg_row.c), in store order.  On success *vars (n) holds them, pointing
 * into *res, which the caller clears after use.
 */
static int
var_rows(struct pg_backend *pb, PGresult **res, struct vv_variable **vars, uint16_t **names,
	 size_t *n, struct vv_error *err)
{
	char id[24];
	const char *p[1] = { id };
	PGresult *r;
	size_t rows, name_off = 0;

	snprintf(id, sizeof(id), "%" PRId64, pb->vm_id);
	r = tx_exec(pb, "SELECT guid, name, attributes, time, digest, data FROM vmvars_var "
		    "WHERE vm_id = $1::int8 ORDER BY seq", 1, p, NULL, NULL, err);
	if (r == NULL)
		return -1;
	if (PQnfields(r) != VV_PG_VAR_COLS) {
		PQclear(r);
		return vv_error_set(err, "VM %s: the variable query returned %d columns",
				    pb->vm_name, PQnfields(r));
	}
	rows = (size_t)PQntuples(r);
	/* names: the total of their lengths + one NUL each, bounded by the
	 * result's own size */
	size_t total = 0;
	for (size_t i = 0; i < rows; i++)
		total += (size_t)PQgetlength(r, (int)i, VV_PG_COL_NAME) / 2 + 1;
	*vars = calloc(rows ? rows : 1, sizeof(**vars));
	*names = calloc(total + VV_PG_NAME_MAX + 1, sizeof(uint16_t));
	if (*vars == NULL || *names == NULL) {
		PQclear(r);
		free(*vars);
		free(*names);
		return vv_error_set(err, "out of memory");
	}
	for (size_t i = 0; i < rows; i++) {
		struct vv_pg_field f[VV_PG_VAR_COLS];

		for (int c = 0; c < VV_PG_VAR_COLS; c++)
			f[c] = field(r, (int)i, c);
		if (vv_pg_decode_var(f, &(*vars)[i], *names + name_off, err) != 0) {
			char g[VV_GUID_TEXT_LEN + 1] = "?";

			if (!f[VV_PG_COL_GUID].null && f[VV_PG_COL_GUID].len == 16) {
				vv_guid gg;

				vv_pg_uuid_to_guid(f[VV_PG_COL_GUID].p, &gg);
				vv_guid_format(&gg, g);
			}
			PQclear(r);
			free(*vars);
			free(*names);
			return PREFIX_FAIL(err, "VM %s: variable %zu (guid %s)", pb->vm_name,
					       i, g);
		}
		name_off += (*vars)[i].name_len + 1;
	}
	*res = r;
	*n = rows;
	return 0;
}

/* Puts rows into the store (load) and the mirror.  0 or -1 with err. */
static int
insert_rows(struct pg_backend *pb, struct vv_store *s, const struct vv_variable *vars,
	    size_t n, struct vv_error *err)
{
	mirror_clear(pb);
	for (size_t i = 0; i < n; i++) {
		if (s != NULL && vv_store_insert_loaded(s, &vars[i], err) != 0) {
			char *nm = vv_ucs2_to_utf8(vars[i].name, vars[i].name_len);

			vv_error_prefix(err, "VM %s: variable %s", pb->vm_name, nm ? nm : "?");
			free(nm);
			return -1;
		}
		if (mirror_set(pb, pb->nmirror, &vars[i]) != 0)
			return vv_error_set(err, "out of memory");
	}
	return 0;
}

/*
 * The load, and ownership when take: one transaction, so that the
 * content read is exactly the content at our epoch (the VM row stays
 * locked from the epoch's raise to the COMMIT, and every writer must
 * update that row first).  s NULL: rows into an array for the caller
 * (take_ownership).  On success res, vars, names and n are as var_rows leaves them.
 */
static int
load_tx(struct pg_backend *pb, bool take, PGresult **res, struct vv_variable **vars,
	uint16_t **names, size_t *n, struct vv_error *err)
{
	char prev[200] = "";
	PGresult *r;
	int rc;

	for (int attempt = 0; attempt < VV_PG_ATTEMPTS; attempt++) {
		if (connection_lost(pb) && reconnect(pb, err) != 0)
			return -1;
		/* a view: one snapshot for the VM row and its variables (and
		 * writable only to create a missing row) */
		r = PQexec(pb->conn, take ? "BEGIN ISOLATION LEVEL READ COMMITTED" : pb->create ?
			   "BEGIN ISOLATION LEVEL REPEATABLE READ" :
			   "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			vv_error_set(err, "fleet store %s: %s", pb->server, vv_pg_result_message(r, pb->conn));
			PQclear(r);
			if (connection_lost(pb)) {
				pb->retries++;
				continue;
			}
			return -1;
		}
		PQclear(r);
		rc = vm_row(pb, take, prev, sizeof(prev), err);
		if (rc == 1) {
			rollback(pb);
			return vv_error_set(err, "fleet store %s: no VM named %s", pb->server,
					    pb->vm_name);
		}
		if (rc == 0 && var_rows(pb, res, vars, names, n, err) == 0) {
			r = PQexec(pb->conn, "COMMIT");
			if (PQresultStatus(r) == PGRES_COMMAND_OK) {
				PQclear(r);
				if (take) {
					pb->owner = true;
					pb->fenced = false;
					pb->fenced_by[0] = '\0';
					if (prev[0] != '\0')
						snprintf(pb->fenced_by, sizeof(pb->fenced_by),
							 "took it from %s", prev);
				}
				return 0;
			}
			vv_error_set(err, "COMMIT: %s", vv_pg_result_message(r, pb->conn));
			PQclear(r);
			PQclear(*res);
			free(*vars);
			free(*names);
		}
		/* -1: an SQL error (permission, bad row), or the connection
		 * went (then the transaction is gone with it and changed
		 * nothing: try again) */
		if (!connection_lost(pb)) {
			rollback(pb);
			return take ? permission_error(pb, err) : PREFIX_FAIL(err, "fleet store %s",
											 pb->server);
		}
		pb->retries++;
	}
	return PREFIX_FAIL(err, "fleet store %s: gave up after %d attempts", pb->server,
			       VV_PG_ATTEMPTS);
}

/* An offline edit refuses a VM that a daemon holds (its owner set). */
static int
check_not_held(struct pg_backend *pb, struct vv_error *err)
{
	const char *p[1] = { pb->vm_name };
	PGresult *r = exec_read(pb, NULL, "SELECT coalesce(owner_host || ' pid ' || "
				"owner_pid::text || ' since ' || owner_since::text, '') FROM "
				"vmvars_vm WHERE name = $1", 1, p, NULL, NULL, err);
	char owner[200] = "";

	if (r == NULL)
		return -1;
	if (PQntuples(r) == 1)
		text_col(r, 0, 0, owner, sizeof(owner));
	PQclear(r);
	if (owner[0] != '\0')
		return vv_error_set(err, "VM %s is served by a daemon (%s): stop it, or edit "
				    "through its management socket; VMVARS_FLEET_FORCE=1 takes the VM "
				    "from it (it is then fenced)", pb->vm_name, owner);
	return 0;
}

static int
pg_load(struct vv_backend *b, struct vv_store *s, struct vv_error *err)
{
	struct pg_backend *pb = to_pg(b);
	PGresult *res = NULL;
	struct vv_variable *vars = NULL;
	uint16_t *names = NULL;
	size_t n = 0;
	bool take = pb->mode == VV_PG_OWN || pb->mode == VV_PG_EDIT;
	int rc;

	if (pb->mode == VV_PG_EDIT && !pb->force && check_not_held(pb, err) != 0)
		return -1;
	if (load_tx(pb, take, &res, &vars, &names, &n, err) != 0)
		return -1;
	rc = insert_rows(pb, s, vars, n, err);
	PQclear(res);
	free(vars);
	free(names);
	if (rc != 0)
		mirror_clear(pb);
	pb->loaded = rc == 0;
	return rc;
}

int
vv_pg_refresh(struct vv_backend *b, struct vv_store *s, struct vv_error *err)
{
	struct pg_backend *pb = to_pg(b);
	PGresult *res = NULL;
	struct vv_variable *vars = NULL, *all = NULL;
	uint16_t *names = NULL;
	const struct vv_variable *v;
	size_t n = 0, k = 0;
	int rc;

	if (pb->owner)
		return vv_error_set(err, "fleet store: VM %s is ours already", pb->vm_name);
	if (load_tx(pb, false, &res, &vars, &names, &n, err) != 0)
		return -1;
	/* the database's NV rows, then the store's volatile variables */
	all = calloc(n + vv_store_count(s) + 1, sizeof(*all));
	rc = all == NULL ? vv_error_set(err, "out of memory") : 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		all[k++] = vars[i];
	for (v = vv_store_first(s); rc == 0 && v != NULL; v = vv_store_next(v))
		if (!(v->attributes & VV_ATTR_NV))
			all[k++] = *v;
	/* The mirror becomes the database's content first: the store's
	 * whole-store commit then finds nothing to write (and needs no
	 * ownership). */
	if (rc == 0)
		rc = insert_rows(pb, NULL, vars, n, err);
	if (rc == 0)
		rc = vv_store_replace_all(s, all, k, err);
	pb->loaded = rc == 0;
	PQclear(res);
	free(all);
	free(vars);
	free(names);
	return rc;
}

int
vv_pg_take_ownership(struct vv_backend *b, struct vv_error *err)
{
	struct pg_backend *pb = to_pg(b);
	char id[24], gen[24], host[128], pid[24], prev[200] = "";
	const char *p[4] = { id, gen, host, pid };
	PGresult *r;
	struct vv_pg_field f;

	if (pb->owner)
		return 0;
	if (!pb->loaded)
		return vv_error_set(err, "fleet store: VM %s: not loaded", pb->vm_name);
	snprintf(id, sizeof(id), "%" PRId64, pb->vm_id);
	snprintf(gen, sizeof(gen), "%" PRId64, pb->gen);
	owner_text(host, sizeof(host), pid, sizeof(pid));
	/* Only if nothing was written since our load: then what we serve is
	 * exactly what the previous owner left. */
	r = exec_read(pb, NULL, "UPDATE vmvars_vm n SET epoch = o.epoch + 1, owner_host = $3, "
		      "owner_pid = $4::int4, owner_since = now() FROM (SELECT id, epoch, "
		      "owner_host, owner_pid, owner_since FROM vmvars_vm WHERE id = $1::int8 FOR "
		      "UPDATE) o WHERE n.id = o.id AND n.nv_generation = $2::int8 RETURNING n.epoch, "
		      "coalesce(o.owner_host || ' pid ' || o.owner_pid::text || ' since ' || "
		      "o.owner_since::text, '')", 4, p, NULL, NULL, err);
	if (r == NULL)
		return permission_error(pb, err);
	if (PQntuples(r) != 1) {
		PQclear(r);
		return vv_error_set(err, "fleet store: VM %s was written (or removed) since this "
				    "daemon read it: ownership not taken", pb->vm_name);
	}
	f = field(r, 0, 0);
	if (vv_pg_decode_int8(&f, "epoch", &pb->epoch, err) != 0) {
		PQclear(r);
		return -1;
	}
	text_col(r, 0, 1, prev, sizeof(prev));
	PQclear(r);
	pb->owner = true;
	pb->fenced = false;
	snprintf(pb->fenced_by, sizeof(pb->fenced_by), "%s%s", prev[0] ? "took it from " : "",
		 prev);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Commits                                                              */

/* After a fence: who holds the VM now, for the log and the status. */
static void
note_fenced(struct pg_backend *pb)
{
	char id[24], host[100] = "", pid[24] = "", since[64] = "";
	const char *p[1] = { id };
	struct vv_error e = { { 0 } };
	PGresult *r;
	int64_t epoch = -1;

	pb->fenced = true;
	pb->owner = false;
	snprintf(id, sizeof(id), "%" PRId64, pb->vm_id);
	r = exec_read(pb, "vv_state", NULL, 1, p, NULL, NULL, &e);
	if (r != NULL && PQntuples(r) == 1 && PQnfields(r) == 5) {
		struct vv_pg_field f = field(r, 0, 0);

		(void)vv_pg_decode_int8(&f, "epoch", &epoch, &e);
		text_col(r, 0, 2, host, sizeof(host));
		text_col(r, 0, 3, pid, sizeof(pid));
		text_col(r, 0, 4, since, sizeof(since));
		snprintf(pb->fenced_by, sizeof(pb->fenced_by),
			 "epoch %lld (ours %lld) taken by %s pid %s since %s", (long long)epoch,
			 (long long)pb->epoch, host[0] ? host : "an offline edit", pid[0] ? pid : "?",
			 since[0] ? since : "?");
	} else if (r != NULL && PQntuples(r) == 0) {
		snprintf(pb->fenced_by, sizeof(pb->fenced_by), "the VM's row was deleted");
	} else {
		snprintf(pb->fenced_by, sizeof(pb->fenced_by), "epoch no longer %lld",
			 (long long)pb->epoch);
	}
	PQclear(r);
}

/*
 * The write's outcome is unknown (the connection went after it was
 * sent): on a new connection, the VM row says.  1 committed, 0 not
 * committed (send it again), -1 fenced or inconsistent, -2 the row could
 * not be read (still unknown); err set for the last two.
 */
static int
resolve_outcome(struct pg_backend *pb, struct vv_error *err)
{
	char id[24];
	const char *p[1] = { id };
	PGresult *r;
	int64_t epoch, gen;
	struct vv_pg_field f;

	pb->unknown_outcomes++;
	snprintf(id, sizeof(id), "%" PRId64, pb->vm_id);
	r = exec_read(pb, "vv_state", NULL, 1, p, NULL, NULL, err);
	if (r == NULL) {
		vv_error_prefix(err, "outcome of a write unknown");
		return -2;
	}
	if (PQntuples(r) != 1) {
		PQclear(r);
		note_fenced(pb);
		return vv_error_set(err, "fleet store: VM %s fenced: %s", pb->vm_name, pb->fenced_by);
	}
	f = field(r, 0, 0);
	if (vv_pg_decode_int8(&f, "epoch", &epoch, err) != 0)
		goto bad;
	f = field(r, 0, 1);
	if (vv_pg_decode_int8(&f, "nv_generation", &gen, err) != 0)
		goto bad;
	PQclear(r);
	if (epoch != pb->epoch) {
		note_fenced(pb);
		return vv_error_set(err, "fleet store: VM %s fenced: %s", pb->vm_name, pb->fenced_by);
	}
	if (gen == pb->gen + 1)
		return 1;
	if (gen == pb->gen)
		return 0;
	return vv_error_set(err, "fleet store: VM %s: nv_generation %lld, expected %lld or %lld "
			    "with our epoch: another writer ignores fencing", pb->vm_name,
			    (long long)gen, (long long)pb->gen, (long long)pb->gen + 1);
bad:
	PQclear(r);
	return PREFIX_FAIL(err, "VM %s", pb->vm_name);
}

/*
 * A write matched no VM row: fenced (the epoch moved, the row is gone:
 * -1 with err), or our epoch stands but the generation is not the one
 * the write followed (2): the database is not what we made it -- a late
 * copy of one of our writes ran, or it lost commits of ours -- and the
 * VM's rows are rewritten from memory (pg_commit).
 */
static int
stale_or_fenced(struct pg_backend *pb, struct vv_error *err)
{
	char id[24];
	const char *p[1] = { id };
	PGresult *r;
	int64_t epoch;
	struct vv_pg_field f;

	snprintf(id, sizeof(id), "%" PRId64, pb->vm_id);
	r = exec_read(pb, "vv_state", NULL, 1, p, NULL, NULL, err);
	if (r != NULL && PQntuples(r) == 1) {
		f = field(r, 0, 0);
		if (vv_pg_decode_int8(&f, "epoch", &epoch, err) == 0 && epoch == pb->epoch) {
			PQclear(r);
			pb->loaded = false;
			return 2;
		}
	}
	PQclear(r);
	note_fenced(pb);
	return vv_error_set(err, "fleet store: VM %s fenced: %s", pb->vm_name, pb->fenced_by);
}

/*
 * Sends one write statement (prepared) until it is known to have
 * committed (0) or not (-1 with err; 2: not made, the generation moved,
 * stale_or_fenced).  Every write names the generation it follows, so a
 * copy of it that the server runs late (its reply was lost, it was sent
 * again, later writes followed) changes nothing.  When the server stays unreachable
 * after a send whose reply was lost, the outcome stays unknown: -1, and
 * pb->in_doubt makes the next commit resolve it first (pg_commit).
 */
static int
write_stmt(struct pg_backend *pb, const char *stmt, int n, const char *const *vals,
	   const int *lens, const int *fmts, struct vv_error *err)
{
	bool unknown = false;           /* sent, reply lost, not yet resolved */
	int known;

	for (int attempt = 0; attempt < VV_PG_ATTEMPTS; attempt++) {
		PGresult *r;
		ExecStatusType st;
		int64_t gen;

		if (connection_lost(pb)) {
			if (reconnect(pb, err) != 0)
				goto unreachable;
			if (unknown) {
				known = resolve_outcome(pb, err);
				if (known == -2)
					goto unreachable;
				if (known < 0)
					return -1;
				unknown = false;
				if (known == 1) {
					pb->gen++;
					return 0;
				}
			}
		}
		if (attempt > 0)
			pb->retries++;
		r = PQexecPrepared(pb->conn, stmt, n, vals, lens, fmts, 1);
		st = PQresultStatus(r);
		if (st == PGRES_TUPLES_OK) {
			struct vv_pg_field f;

			if (PQntuples(r) == 0) {
				PQclear(r);
				return stale_or_fenced(pb, err);
			}
			f = field(r, 0, 0);
			if (vv_pg_decode_int8(&f, "nv_generation", &gen, err) != 0) {
				PQclear(r);
				return -1;
			}
			PQclear(r);
			/* Not ours + 1: the database is not what we made it (a
			 * crash with synchronous_commit off, a failover to a
			 * standby that lagged, lost our last commits): the VM's
			 * rows are rewritten from memory next (pg_commit). */
			if (gen != pb->gen + 1)
				pb->loaded = false;
			pb->gen = gen;
			return 0;
		}
		vv_error_set(err, "fleet store %s: %s", pb->server, vv_pg_result_message(r, pb->conn));
		PQclear(r);
		if (!connection_lost(pb))
			return -1;      /* refused by the server: nothing committed */
		unknown = true;         /* resolved after the reconnection above */
	}
	/* Every attempt lost its connection after sending. */
	if (reconnect(pb, err) != 0)
		goto unreachable;
	known = resolve_outcome(pb, err);
	if (known == 1) {
		pb->gen++;
		return 0;
	}
	if (known == 0)
		return vv_error_set(err, "fleet store %s: the connection failed %d times under "
				    "the write; not made", pb->server, VV_PG_ATTEMPTS);
	if (known == -1)
		return -1;
unreachable:
	if (unknown)
		pb->in_doubt = true;
	return PREFIX_FAIL(err, "gave up after %d attempts%s", VV_PG_ATTEMPTS,
			   unknown ? " (the last write's outcome is unknown: resolved at the "
			   "next write)" : "");
}

static int
commit_one(struct pg_backend *pb, const struct vv_change *ch, struct vv_error *err)
{
	const struct vv_variable *v = ch->var;
	char id[24], epoch[24], guid[VV_GUID_TEXT_LEN + 1], attr[24], gen[24];
	uint8_t *name = malloc(v->name_len > 0 ? v->name_len * 2 : 1);
	const char *vals[9];
	int lens[9] = { 0 }, fmts[9] = { 0 };
	bool put = ch->kind == VV_CHANGE_PUT, at_time = v->has_time && (v->attributes & VV_ATTR_AT);
	int rc;

	if (name == NULL)
		return vv_error_set(err, "out of memory");
	for (size_t i = 0; i < v->name_len; i++)
		vv_put_le16(name + 2 * i, v->name[i]);
	snprintf(id, sizeof(id), "%" PRId64, pb->vm_id);
	snprintf(epoch, sizeof(epoch), "%" PRId64, pb->epoch);
	vv_guid_format(&v->guid, guid);
	snprintf(attr, sizeof(attr), "%u", (unsigned)v->attributes);
	snprintf(gen, sizeof(gen), "%" PRId64, pb->gen);
	vals[0] = id;
	vals[1] = epoch;
	vals[2] = guid;
	vals[3] = (const char *)name;
	lens[3] = (int)(v->name_len * 2);
	fmts[3] = 1;
	if (put) {
		vals[4] = attr;
		vals[5] = at_time ? (const char *)v->time.b : NULL;
		lens[5] = 16;
		fmts[5] = 1;
		vals[6] = v->digest_size ? (const char *)v->digest : NULL;
		lens[6] = (int)v->digest_size;
		fmts[6] = 1;
		vals[7] = v->data_size ? (const char *)v->data : "";
		lens[7] = (int)v->data_size;
		fmts[7] = 1;
	}
	vals[put ? 8 : 4] = gen;
	rc = write_stmt(pb, put ? "vv_put" : "vv_delete", put ? 9 : 5, vals, lens, fmts, err);
	free(name);
	if (rc != 0)
		return rc;
	/* the mirror follows the database */
	ssize_t i = mirror_find(pb, &v->guid, v->name, v->name_len);
	if (put) {
		if (mirror_set(pb, i >= 0 ? (size_t)i : pb->nmirror, v) != 0)
			pb->loaded = false;     /* unknown mirror: next flush rewrites */
	} else if (i >= 0) {
		mirror_remove(pb, (size_t)i);
	}
	return 0;
}

/*
 * The whole NV content (vv_store_flush, restores): nothing when it equals
 * the mirror; the rows that differ when only values changed; else the
 * VM's rows rewritten in store order.  Either way ONE transaction that
 * first checks our epoch: a whole-store commit is all or nothing (a
 * restore the store undoes must leave no row of it behind, store.h
 * invariant 5), so the changed rows are never written one statement each.
 */
static int
commit_all(struct pg_backend *pb, const struct vv_store *s, struct vv_error *err)
{
	const struct vv_variable *v;
	size_t i = 0, nv = 0;
	bool same_order = pb->loaded, same = pb->loaded, commit_sent = false;

	for (v = vv_store_first(s); v != NULL; v = vv_store_next(v)) {
		if (!(v->attributes & VV_ATTR_NV))
			continue;
		if (i >= pb->nmirror || !vv_guid_equal(&pb->mirror[i].guid, &v->guid) ||
		    !vv_ucs2_equal(pb->mirror[i].name, pb->mirror[i].name_len, v->name, v->name_len))
			same_order = false;
		else if (!mirror_same(&pb->mirror[i], v))
			same = false;
		i++;
		nv++;
	}
	if (nv != pb->nmirror)
		same_order = false;
	if (same_order && same)
		return 0;               /* the database already holds exactly this */
	/* Same order: the changed rows updated in place (their seq kept).
	 * Else: delete the rows, insert every NV variable with its place. */
	for (int attempt = 0; attempt < VV_PG_ATTEMPTS; attempt++) {
		char id[24], epoch[24], seq[24], guid[VV_GUID_TEXT_LEN + 1], attr[24], cnt[24];
		int64_t newgen = 0;
		const char *p[8];
		int lens[8] = { 0 }, fmts[8] = { 0 };
		PGresult *r;
		bool ok = true;
		size_t k = 0;

		if (connection_lost(pb)) {
			if (reconnect(pb, err) != 0) {
				pb->in_doubt |= commit_sent;
				return -1;
			}
			if (commit_sent) {
				int known = resolve_outcome(pb, err);

				if (known == -2)
					pb->in_doubt = true;
				if (known < 0)
					return -1;
				commit_sent = false;
				if (known == 1) {
					pb->gen++;
					goto done;
				}
			}
		}
		snprintf(id, sizeof(id), "%" PRId64, pb->vm_id);
		snprintf(epoch, sizeof(epoch), "%" PRId64, pb->epoch);
		snprintf(cnt, sizeof(cnt), "%zu", nv);
		r = PQexec(pb->conn, "BEGIN");
		PQclear(r);
		p[0] = id;
		p[1] = epoch;
		p[2] = cnt;
		r = tx_exec(pb, same_order ? "UPDATE vmvars_vm SET nv_generation = nv_generation "
			    "+ 1 WHERE id = $1::int8 AND epoch = $2::int8 RETURNING nv_generation" :
			    "UPDATE vmvars_vm SET nv_generation = nv_generation + 1, "
			    "next_seq = $3::int8 WHERE id = $1::int8 AND epoch = $2::int8 "
			    "RETURNING nv_generation", same_order ? 2 : 3, p, NULL, NULL, err);
		if (r == NULL)
			goto failed;
		if (PQntuples(r) == 0) {
			PQclear(r);
			rollback(pb);
			note_fenced(pb);
			return vv_error_set(err, "fleet store: VM %s fenced: %s", pb->vm_name,
					    pb->fenced_by);
		}
		{
			struct vv_pg_field f = field(r, 0, 0);

			if (vv_pg_decode_int8(&f, "nv_generation", &newgen, err) != 0) {
				PQclear(r);
				goto failed;
			}
		}
		PQclear(r);
		if (same_order && newgen != pb->gen + 1) {
			/* the database lost commits of ours (write_stmt):
			 * the changed rows alone would not restore them */
			rollback(pb);
			same_order = false;
			pb->loaded = false;
			continue;
		}
		if (!same_order) {
			r = tx_exec(pb, "DELETE FROM vmvars_var WHERE vm_id = $1::int8", 1, p, NULL,
				    NULL, err);
			if (r == NULL)
				goto failed;
			PQclear(r);
		}
		i = 0;
		for (v = vv_store_first(s); ok && v != NULL; v = vv_store_next(v)) {
			uint8_t *name;
			bool at_time = v->has_time && (v->attributes & VV_ATTR_AT);

			if (!(v->attributes & VV_ATTR_NV))
				continue;
			if (same_order && mirror_same(&pb->mirror[i++], v))
				continue;
			name = malloc(v->name_len * 2 + 1);
			if (name == NULL) {
				vv_error_set(err, "out of memory");
				ok = false;
				break;
			}
			for (size_t c = 0; c < v->name_len; c++)
				vv_put_le16(name + 2 * c, v->name[c]);
			snprintf(seq, sizeof(seq), "%zu", k++);
			vv_guid_format(&v->guid, guid);
			snprintf(attr, sizeof(attr), "%u", (unsigned)v->attributes);
			p[1] = guid;
			p[2] = (const char *)name; lens[2] = (int)v->name_len * 2; fmts[2] = 1;
			p[3] = seq;
			p[4] = attr;
			p[5] = at_time ? (const char *)v->time.b : NULL; lens[5] = 16; fmts[5] = 1;
			p[6] = v->digest_size ? (const char *)v->digest : NULL;
			lens[6] = (int)v->digest_size; fmts[6] = 1;
			p[7] = v->data_size ? (const char *)v->data : "";
			lens[7] = (int)v->data_size; fmts[7] = 1;
			if (same_order)
				r = tx_exec(pb, "UPDATE vmvars_var SET attributes = $5::int8, time = $6, "
					    "digest = $7, data = $8, modified = now() WHERE vm_id = "
					    "$1::int8 AND guid = $2::uuid AND name = $3 AND $4::int8 "
					    ">= 0", 8, p, lens, fmts, err);
			else
				r = tx_exec(pb, "INSERT INTO vmvars_var (vm_id, guid, name, seq, "
					    "attributes, time, digest, data) VALUES ($1::int8, "
					    "$2::uuid, $3, $4::int8, $5::int8, $6, $7, $8)", 8, p, lens,
					    fmts, err);
			free(name);
			if (r == NULL) {
				ok = false;
			} else if (same_order && strcmp(PQcmdTuples(r), "1") != 0) {
				/* the mirror said the row is there */
				vv_error_set(err, "VM %s: a variable's row is missing", pb->vm_name);
				ok = false;
			}
			PQclear(r);
		}
		if (!ok)
			goto failed;
		r = PQexec(pb->conn, "COMMIT");
		if (PQresultStatus(r) == PGRES_COMMAND_OK) {
			PQclear(r);
			pb->gen = newgen;
			goto done;
		}
		vv_error_set(err, "COMMIT: %s", vv_pg_result_message(r, pb->conn));
		PQclear(r);
		commit_sent = connection_lost(pb);
failed:
		if (!connection_lost(pb)) {
			rollback(pb);
			return PREFIX_FAIL(err, "fleet store %s", pb->server);
		}
		pb->retries++;
	}
	pb->in_doubt |= commit_sent;
	return PREFIX_FAIL(err, "fleet store %s: gave up after %d attempts", pb->server,
			   VV_PG_ATTEMPTS);
done:
	mirror_clear(pb);
	pb->loaded = true;
	for (v = vv_store_first(s); v != NULL; v = vv_store_next(v))
		if ((v->attributes & VV_ATTR_NV) && mirror_set(pb, pb->nmirror, v) != 0)
			pb->loaded = false;
	return 0;
}

/* The store's NV content is the mirror's, in the same order. */
static bool
mirror_equal(const struct pg_backend *pb, const struct vv_store *s)
{
	const struct vv_variable *v;
	size_t i = 0;

	if (!pb->loaded)
		return false;
	for (v = vv_store_first(s); v != NULL; v = vv_store_next(v)) {
		if (!(v->attributes & VV_ATTR_NV))
			continue;
		if (i >= pb->nmirror || !vv_guid_equal(&pb->mirror[i].guid, &v->guid) ||
		    !vv_ucs2_equal(pb->mirror[i].name, pb->mirror[i].name_len, v->name,
				   v->name_len) || !mirror_same(&pb->mirror[i], v))
			return false;
		i++;
	}
	return i == pb->nmirror;
}

static int
pg_commit(struct vv_backend *b, const struct vv_store *s, const struct vv_change *ch,
	  struct vv_error *err)
{
	struct pg_backend *pb = to_pg(b);
	int rc;

	/* A whole-store commit of what the database already holds needs no
	 * write, and so no ownership (vmvarsd's final flush, a read-only
	 * view). */
	if (ch->kind == VV_CHANGE_ALL && !pb->owner && mirror_equal(pb, s))
		return 0;
	if (!pb->owner) {
		if (pb->fenced)
			return vv_error_set(err, "fleet store: VM %s fenced (%s): no NV write is "
					    "accepted", pb->vm_name, pb->fenced_by);
		return vv_error_set(err, "fleet store: VM %s is open without ownership: no NV "
				    "write", pb->vm_name);
	}
	if (pb->in_doubt) {
		int known;

		if (connection_lost(pb) && reconnect(pb, err) != 0)
			return PREFIX_FAIL(err, "an earlier write's outcome is still unknown");
		known = resolve_outcome(pb, err);
		if (known < 0)
			return -1;
		pb->in_doubt = false;
		if (known == 1) {
			/* it committed although the store undid it: the VM's
			 * rows are rewritten from memory, this change included */
			pb->gen++;
			pb->loaded = false;
			return commit_all(pb, s, err);
		}
	}
	/* A batch (vv_store_batch_commit) must reach the database whole or
	 * not at all: the whole-store commit is one epoch-checked
	 * transaction, which is exactly that.  And when the mirror is not
	 * the database's content (an in-doubt write that committed, whose
	 * rewrite has not succeeded yet; out of memory), a single row would
	 * leave the difference there, so every commit is the whole rewrite
	 * until one succeeds. */
	if (ch->kind == VV_CHANGE_ALL || ch->kind == VV_CHANGE_BATCH || !pb->loaded)
		return commit_all(pb, s, err);
	rc = commit_one(pb, ch, err);
	if (rc == 2)
		return commit_all(pb, s, err);  /* not made: the rewrite makes it */
	if (rc != 0)
		return -1;
	/* committed, but the database had lost commits of ours (write_stmt):
	 * restored from memory now; if that fails, at the next commit (the
	 * write itself is in, so it is not refused) */
	if (!pb->loaded) {
		struct vv_error e2 = { { 0 } };

		(void)commit_all(pb, s, &e2);
	}
	return 0;
}

void
vv_pg_release(struct vv_backend *b)
{
	struct pg_backend *pb = to_pg(b);
	char id[24], epoch[24];
	const char *p[2] = { id, epoch };
	PGresult *r;

	if (!pb->owner || connection_lost(pb))
		return;
	snprintf(id, sizeof(id), "%" PRId64, pb->vm_id);
	snprintf(epoch, sizeof(epoch), "%" PRId64, pb->epoch);
	r = PQexecParams(pb->conn, "UPDATE vmvars_vm SET owner_host = NULL, owner_pid = NULL, "
			 "owner_since = NULL WHERE id = $1::int8 AND epoch = $2::int8", 2, NULL, p,
			 NULL, NULL, 0);
	PQclear(r);
	pb->owner = false;
}

static void
pg_destroy(struct vv_backend *b)
{
	struct pg_backend *pb = to_pg(b);

	if (pb->mode == VV_PG_EDIT)
		vv_pg_release(b);
	if (pb->conn != NULL)
		PQfinish(pb->conn);
	free_params(pb);
	mirror_clear(pb);
	free(pb->mirror);
	free(pb->vm_name);
	free(pb);
}

static const struct vv_backend_ops pg_ops = {
	.name = "postgresql",
	.load = pg_load,
	.commit = pg_commit,
	.destroy = pg_destroy,
};

bool
vv_pg_backend_fenced(const struct vv_backend *b)
{
	return ((const struct pg_backend *)b)->fenced;
}

void
vv_pg_backend_status(struct vv_backend *b, struct vv_pg_status *st)
{
	struct pg_backend *pb = to_pg(b);

	memset(st, 0, sizeof(*st));
	st->vm_id = pb->vm_id;
	st->epoch = pb->epoch;
	st->nv_generation = pb->gen;
	st->owner = pb->owner;
	st->connected = !connection_lost(pb);
	st->fenced = pb->fenced;
	snprintf(st->fenced_by, sizeof(st->fenced_by), "%s", pb->fenced ? pb->fenced_by : "");
	st->reconnects = pb->reconnects;
	st->retries = pb->retries;
	st->unknown_outcomes = pb->unknown_outcomes;
	st->in_doubt = pb->in_doubt;
	snprintf(st->server, sizeof(st->server), "%s", pb->server);
}

int
vv_pg_backend_endpoint(struct vv_backend *b, char *host, size_t host_size, int *port,
		       bool *unix_socket)
{
	struct pg_backend *pb = to_pg(b);
	const char *h, *p;

	if (connection_lost(pb))
		return -1;
	h = PQhost(pb->conn);
	p = PQport(pb->conn);
	if (h == NULL || p == NULL)
		return -1;
	snprintf(host, host_size, "%s", h);
	*port = atoi(p);
	*unix_socket = h[0] == '/' || h[0] == '@';
	return 0;
}

const char *
vv_pg_backend_vm(struct vv_backend *b)
{
	return to_pg(b)->vm_name;
}

struct vv_backend *
vv_pg_backend_new(const struct vv_pg_options *o, struct vv_error *err)
{
	struct pg_backend *pb;
	size_t nlen = o->vm_name != NULL ? strlen(o->vm_name) : 0;

	if (nlen == 0 || nlen > VV_PG_VM_NAME_MAX) {
		vv_error_set(err, "a fleet VM name is 1..%d bytes", VV_PG_VM_NAME_MAX);
		return NULL;
	}
	pb = calloc(1, sizeof(*pb));
	if (pb == NULL || (pb->vm_name = strdup(o->vm_name)) == NULL) {
		free(pb);
		vv_error_set(err, "out of memory");
		return NULL;
	}
	pb->base.ops = &pg_ops;
	pb->mode = o->mode;
	pb->create = o->create && o->mode != VV_PG_READ;
	pb->force = o->force;
	if (o->vm_uuid != NULL) {
		pb->has_uuid = true;
		pb->vm_uuid = *o->vm_uuid;
	}
	vv_pg_redact(o->conninfo, pb->server, sizeof(pb->server));
	if (connect_once(pb, o->conninfo, err) != 0) {
		pg_destroy(&pb->base);
		return NULL;
	}
	return &pb->base;
}
