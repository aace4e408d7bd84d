/*
 * tests/fleet_util.h -- a private PostgreSQL server for the fleet-store
 * tests (issue #15): scripts/pg-server starts it once per test program in
 * a temporary directory (UNIX socket only, as an unprivileged user when
 * the tests run as root) and it is stopped at exit.  No system service.
 */
#ifndef VMVARS_TEST_FLEET_UTIL_H
#define VMVARS_TEST_FLEET_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

static char pg_dir[64];
static char pg_conninfo[256];
/* Set before pg_server(): the server also listens on 127.0.0.1:port. */
static int pg_tcp_port;

/* scripts/pg-server CMD DIR [ARG]; its exit status. */
static inline int
pg_script2(const char *cmd_name, const char *arg)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "%s/scripts/pg-server %s %s %s >/dev/null", VV_SOURCE_ROOT,
		 cmd_name, pg_dir, arg != NULL ? arg : "");
	return system(cmd);
}

static inline int
pg_script(const char *cmd_name)
{
	return pg_script2(cmd_name, NULL);
}

static inline void
pg_server_stop_at_exit(void)
{
	char cmd[200];

	if (pg_dir[0] == '\0')
		return;
	(void)pg_script("stop");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", pg_dir);
	(void)system(cmd);
}

/* Starts the server (once) and creates the schema; false if it failed. */
static inline bool
pg_server(void)
{
	if (pg_conninfo[0] != '\0')
		return true;
	snprintf(pg_dir, sizeof(pg_dir), "/tmp/vv-pg-XXXXXX");
	if (mkdtemp(pg_dir) == NULL)
		return false;
	atexit(pg_server_stop_at_exit);
	/* --watch: stopped and removed even if this program dies without
	 * running its atexit handlers (a sanitizer abort, a signal) */
	{
		char arg[64];

		if (pg_tcp_port > 0)
			snprintf(arg, sizeof(arg), "--tcp %d --watch %d", pg_tcp_port, (int)getpid());
		else
			snprintf(arg, sizeof(arg), "--watch %d", (int)getpid());
		if (pg_script2("start", arg) != 0) {
			printf("# scripts/pg-server start %s %s failed\n", pg_dir, arg);
			return false;
		}
	}
	snprintf(pg_conninfo, sizeof(pg_conninfo), "host=%s port=%d user=vmvars dbname=vmvars",
		 pg_dir, pg_tcp_port > 0 ? pg_tcp_port : 5432);
	return true;
}

/* Stops the server (immediate: a crash) and starts it again. */
static inline bool
pg_restart(const char *mode)
{
	return pg_script2("stop", mode) == 0 && pg_script("start") == 0;
}

/* One SQL command on a connection of its own; true if it succeeded. */
static inline bool
pg_sql(const char *fmt, ...)
{
	char sql[4096];
	va_list ap;
	PGconn *c;
	PGresult *r;
	bool ok;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	c = PQconnectdb(pg_conninfo);
	r = PQexec(c, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		printf("# SQL failed: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return ok;
}

/* The first column of the first row of a query as a number; -1 if none. */
static inline long long
pg_value(const char *fmt, ...)
{
	char sql[4096];
	va_list ap;
	PGconn *c;
	PGresult *r;
	long long v = -1;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	c = PQconnectdb(pg_conninfo);
	r = PQexec(c, sql);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	else if (PQresultStatus(r) != PGRES_TUPLES_OK)
		printf("# SQL failed: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return v;
}

#endif
