/*
 * src/backend/pg_row.c -- checks and decodes the fleet store's rows
 * (pg_row.h).  What a row must be is docs/fleet.md "Schema"; everything
 * else is refused here, so that a row someone else wrote (a malformed
 * name, an oversized value, stray attribute bits, a negative number)
 * never reaches the store.  vv_store_insert_loaded then applies the
 * store's own structural rules and quotas on top.
 */
#include <string.h>

#include <vmvars/efi.h>
#include <vmvars/ucs2.h>

#include "backend/pg_row.h"

void
vv_pg_uuid_to_guid(const uint8_t u[16], vv_guid *g)
{
	/* text order: data1 (4) data2 (2) data3 (2) data4 (8), big-endian */
	g->b[0] = u[3]; g->b[1] = u[2]; g->b[2] = u[1]; g->b[3] = u[0];
	g->b[4] = u[5]; g->b[5] = u[4];
	g->b[6] = u[7]; g->b[7] = u[6];
	memcpy(g->b + 8, u + 8, 8);
}

void
vv_pg_guid_to_uuid(const vv_guid *g, uint8_t u[16])
{
	vv_guid t;

	/* the same swap is its own inverse */
	vv_pg_uuid_to_guid(g->b, &t);
	memcpy(u, t.b, 16);
}

int
vv_pg_decode_int8(const struct vv_pg_field *f, const char *what, int64_t *out,
		  struct vv_error *err)
{
	uint64_t v = 0;

	if (f->null)
		return vv_error_set(err, "%s is NULL", what);
	if (f->len != 8)
		return vv_error_set(err, "%s is %zu bytes, not an int8", what, f->len);
	for (size_t i = 0; i < 8; i++)
		v = v << 8 | f->p[i];
	if (v > (uint64_t)INT64_MAX)
		return vv_error_set(err, "%s is negative", what);
	*out = (int64_t)v;
	return 0;
}

int
vv_pg_decode_var(const struct vv_pg_field f[VV_PG_VAR_COLS], struct vv_variable *out,
		 uint16_t *name_buf, struct vv_error *err)
{
	const uint32_t known = VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT | VV_ATTR_HR | VV_ATTR_AT;
	const struct vv_pg_field *name = &f[VV_PG_COL_NAME], *tm = &f[VV_PG_COL_TIME];
	const struct vv_pg_field *dg = &f[VV_PG_COL_DIGEST], *data = &f[VV_PG_COL_DATA];
	size_t n;
	int64_t attr;

	memset(out, 0, sizeof(*out));
	if (f[VV_PG_COL_GUID].null || f[VV_PG_COL_GUID].len != 16)
		return vv_error_set(err, "guid is not a uuid");
	vv_pg_uuid_to_guid(f[VV_PG_COL_GUID].p, &out->guid);

	if (name->null || name->len == 0)
		return vv_error_set(err, "name is empty");
	if (name->len % 2 != 0)
		return vv_error_set(err, "name is %zu bytes, not UCS-2", name->len);
	n = name->len / 2;
	if (n > VV_PG_NAME_MAX)
		return vv_error_set(err, "name of %zu characters is longer than %u", n,
				    VV_PG_NAME_MAX);
	for (size_t i = 0; i < n; i++)
		name_buf[i] = vv_le16(name->p + 2 * i);
	name_buf[n] = 0;
	if (!vv_ucs2_valid(name_buf, n))
		return vv_error_set(err, "name is not valid UCS-2 (a NUL or a surrogate)");
	out->name = name_buf;
	out->name_len = n;

	if (vv_pg_decode_int8(&f[VV_PG_COL_ATTR], "attributes", &attr, err) != 0)
		return -1;
	if ((uint64_t)attr & ~(uint64_t)known)
		return vv_error_set(err, "attributes 0x%llx have bits a stored variable never has",
				    (unsigned long long)attr);
	if (!(attr & VV_ATTR_NV) || !(attr & VV_ATTR_BS))
		return vv_error_set(err, "attributes 0x%llx: a stored variable is NV and BS",
				    (unsigned long long)attr);
	out->attributes = (uint32_t)attr;

	if (!tm->null) {
		if (tm->len != sizeof(out->time.b))
			return vv_error_set(err, "time is %zu bytes, not an EFI_TIME (16)", tm->len);
		if (!(attr & VV_ATTR_AT))
			return vv_error_set(err, "time on a variable without "
					    "TIME_BASED_AUTHENTICATED_WRITE_ACCESS");
		memcpy(out->time.b, tm->p, tm->len);
		out->has_time = true;
	}
	if (!dg->null) {
		if (dg->len == 0 || dg->len > sizeof(out->digest))
			return vv_error_set(err, "digest is %zu bytes (1..64)", dg->len);
		memcpy(out->digest, dg->p, dg->len);
		out->digest_size = dg->len;
	}
	if (data->null)
		return vv_error_set(err, "data is NULL");
	if (data->len > VV_PG_DATA_MAX)
		return vv_error_set(err, "data of %zu bytes is larger than any store allows",
				    data->len);
	out->data = (uint8_t *)data->p;
	out->data_size = data->len;
	return 0;
}
