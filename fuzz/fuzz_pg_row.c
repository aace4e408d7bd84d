/*
 * fuzz/fuzz_pg_row.c -- the fleet store's row decoder (src/backend/pg_row.c)
 * on synthetic row tuples, as libpq hands them over in a binary result.
 *
 * Input: rows of VV_PG_VAR_COLS fields, each `u8 null, u16 length (LE),
 * bytes` (the length is cut to what remains).  Each row is decoded; a row
 * accepted must be what the decoder promises (valid name, known attribute
 * bits, NV|BS, bounded sizes) and is inserted into a store, which applies
 * its own rules on top -- a crash, a sanitizer report or a broken promise
 * is a finding.
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/vmvars.h>

#include "backend/pg_row.h"
#include "core/cursor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vv_cursor c = vv_cursor_make(data, size);
	struct vv_store *s = vv_store_new(NULL);
	static uint16_t name_buf[VV_PG_NAME_MAX + 1];

	if (s == NULL)
		return 0;
	while (c.left > 0 && !c.bad) {
		struct vv_pg_field f[VV_PG_VAR_COLS];
		struct vv_variable v;
		struct vv_error err = { { 0 } };
		uint8_t u[16];
		vv_guid back;

		for (int i = 0; i < VV_PG_VAR_COLS; i++) {
			size_t len;

			f[i].null = vv_cursor_u8(&c) & 1;
			len = vv_cursor_u16(&c);
			if (len > c.left)
				len = c.left;
			f[i].p = vv_cursor_take(&c, len);
			f[i].len = f[i].null ? 0 : len;
		}
		if (c.bad)
			break;
		if (vv_pg_decode_var(f, &v, name_buf, &err) != 0) {
			if (err.msg[0] == '\0')
				abort();                /* a refusal always says why */
			continue;
		}
		if (v.name_len == 0 || v.name_len > VV_PG_NAME_MAX ||
		    !vv_ucs2_valid(v.name, v.name_len) || v.name[v.name_len] != 0 ||
		    !(v.attributes & VV_ATTR_NV) || !(v.attributes & VV_ATTR_BS) ||
		    v.digest_size > sizeof(v.digest) || v.data_size > VV_PG_DATA_MAX ||
		    (v.has_time && !(v.attributes & VV_ATTR_AT)))
			abort();
		vv_pg_guid_to_uuid(&v.guid, u);
		vv_pg_uuid_to_guid(u, &back);
		if (!vv_guid_equal(&back, &v.guid))
			abort();
		if (vv_store_insert_loaded(s, &v, &err) == 0) {
			const struct vv_variable *got = vv_store_find(s, v.name, v.name_len, &v.guid);

			if (got == NULL || got->data_size != v.data_size ||
			    (v.data_size && memcmp(got->data, v.data, v.data_size) != 0))
				abort();
		}
	}
	vv_store_free(s);
	return 0;
}
