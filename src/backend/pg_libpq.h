/*
 * src/backend/pg_libpq.h -- what pg_backend.c and pg_admin.c share about
 * libpq: its error messages as one line (for vv_error and logs).
 */
#ifndef VV_BACKEND_PG_LIBPQ_H
#define VV_BACKEND_PG_LIBPQ_H

#include <libpq-fe.h>

/* The connection's last error (or "out of memory" for NULL), one line,
 * in a thread-local buffer. */
const char *vv_pg_conn_message(PGconn *c);
/* The result's error, else the connection's, one line, thread-local. */
const char *vv_pg_result_message(const PGresult *r, PGconn *c);

#endif
