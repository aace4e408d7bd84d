/*
 * src/backend/pg_row.h -- decoding the fleet store's rows (issue #15,
 * docs/fleet.md "Schema").  Rows come from a database many hosts write, so
 * they are hostile input: every field is checked here, before the store
 * sees it, and a row that fails names the variable and the reason.
 *
 * No libpq here: a field is the (pointer, length, null) triple libpq's
 * PQgetvalue/PQgetlength/PQgetisnull give for a binary-format result, so
 * the fuzz target (fuzz/fuzz_pg_row.c) feeds synthetic tuples.
 */
#ifndef VV_BACKEND_PG_ROW_H
#define VV_BACKEND_PG_ROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmvars/error.h>
#include <vmvars/store.h>

/* One column of one row, binary format (PostgreSQL's send functions:
 * integers big-endian, uuid its 16 bytes in text order, bytea raw). */
struct vv_pg_field {
	const uint8_t *p;
	size_t len;
	bool null;
};

/* The variable columns, in the order of the load query (pg_backend.c). */
enum {
	VV_PG_COL_GUID,         /* uuid NOT NULL */
	VV_PG_COL_NAME,         /* bytea: UCS-2LE, no NUL */
	VV_PG_COL_ATTR,         /* int8 */
	VV_PG_COL_TIME,         /* bytea NULL or 16 bytes of EFI_TIME (AT only) */
	VV_PG_COL_DIGEST,       /* bytea NULL or 1..64 bytes */
	VV_PG_COL_DATA,         /* bytea NOT NULL */
	VV_PG_VAR_COLS
};

/* Longest name a row may carry, in characters: the name alone must fit
 * under the largest variable size the store allows (store.h), and no
 * default limit is above 64 KiB. */
#define VV_PG_NAME_MAX 32768u
/* Largest value a row may carry before the store's own quota check. */
#define VV_PG_DATA_MAX (1u << 20)

/*
 * Decodes one variable row into *out.  out->name points into name_buf,
 * which must hold VV_PG_NAME_MAX + 1 units; out->data points into the
 * field (valid while the result is).  0, or -1 with err saying what is
 * wrong (the caller prefixes the VM and the variable's position).
 */
int vv_pg_decode_var(const struct vv_pg_field f[VV_PG_VAR_COLS], struct vv_variable *out,
		     uint16_t *name_buf, struct vv_error *err);

/* A non-negative int8 field; 0 or -1 with err naming `what`. */
int vv_pg_decode_int8(const struct vv_pg_field *f, const char *what, int64_t *out,
		      struct vv_error *err);

/* GUID <-> the 16 bytes of PostgreSQL's uuid (RFC 4122 order; EFI keeps
 * the first three fields little-endian, formats §10.1). */
void vv_pg_uuid_to_guid(const uint8_t u[16], vv_guid *g);
void vv_pg_guid_to_uuid(const vv_guid *g, uint8_t u[16]);

#endif /* VV_BACKEND_PG_ROW_H */
