/*
 * src/format/xen.c -- the Xen/XAPI varstored "VARS" blob, versions 1 and 2
 * (peer-services §6.3): "VARS", u32 version, u64 variable count, u64 total
 * size of the records, for version 2 an 8-byte MOR key and the 260-byte
 * ppi_vdata (u32 idx + 256 function bytes), then per variable: u64 name
 * length + UTF-16LE name (no NUL), u64 data length + data, 16-byte GUID,
 * u32 attributes, 16-byte EFI_TIME, 32-byte signer digest.
 *
 * Reading accepts the raw blob or its base64 (what XAPI keeps in the VM's
 * NVRAM "EFI-variables" key) and enforces varstored's own parser limits:
 * version 1 or 2, at most 1024 variables, names of 1..4096 bytes, data of
 * 1..57344 bytes, records summing to the header's data_len, no leftover
 * bytes.  A trailing UTF-16 NUL in a name is dropped (whether varstored
 * stores one is unverified; we write none).  All-zero timestamps and digests mean none; a timestamp is kept
 * only for AT variables (as in every other format here).  The MOR key and
 * PPI state are not variables and are not kept.
 *
 * Writing produces version 2, base64-encoded (XAPI's form), with a zero MOR
 * key and PPI block, NV variables only (varstored sends only NV ones to
 * XAPI).  Reported: volatile variables, digests that are not 32 bytes,
 * timestamps of non-AT variables, and variables varstored would refuse
 * (empty data, names over 4096 bytes, data over 57344 bytes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/ucs2.h>

#include "format/formats_internal.h"

#define XEN_MAGIC        "VARS"
#define XEN_HDR_V1       24
#define XEN_V2_EXTRA     (8 + 4 + 256)
#define XEN_MAX_VARS     1024
#define XEN_MAX_NAME     4096
#define XEN_MAX_DATA     57344
#define XEN_DIGEST_SIZE  32
#define XEN_TAIL         (16 + 4 + 16 + XEN_DIGEST_SIZE)

bool
vv_xen_detect(const uint8_t *data, size_t size)
{
	return (size >= 4 && memcmp(data, XEN_MAGIC, 4) == 0) ||
	       vv_base64_has_prefix(data, size, XEN_MAGIC, 4);
}

struct cursor {
	const uint8_t *p;
	size_t size, off;
	const struct vv_fmt_ctx *c;
};

static int
need(struct cursor *k, size_t n, size_t index, const char *field)
{
	if (n > k->size - k->off)
		return vv_fmt_fail(k->c, "offset 0x%zx: variable %zu: %s runs past the end of the "
				   "blob (%zu bytes)", k->off, index, field, k->size);
	return 0;
}

/* u64 length within [1, max], then the bytes. */
static int
take_sized(struct cursor *k, size_t max, size_t index, const char *field, const uint8_t **at,
	   size_t *len)
{
	uint64_t n;

	if (need(k, 8, index, field) != 0)
		return -1;
	n = vv_le64(k->p + k->off);
	if (n == 0 || n > max)
		return vv_fmt_fail(k->c, "offset 0x%zx: variable %zu: %s length %llu is outside "
				   "1..%zu", k->off, index, field, (unsigned long long)n, max);
	k->off += 8;
	if (need(k, (size_t)n, index, field) != 0)
		return -1;
	*at = k->p + k->off;
	*len = (size_t)n;
	k->off += (size_t)n;
	return 0;
}

static int
parse_variable(struct cursor *k, size_t index, struct vv_store *s)
{
	const uint8_t *name, *data, *tail;
	size_t name_bytes, data_len, i;
	struct vv_variable v;
	char where[64];
	int rc;

	memset(&v, 0, sizeof(v));
	if (take_sized(k, XEN_MAX_NAME, index, "name", &name, &name_bytes) != 0)
		return -1;
	if (name_bytes & 1)
		return vv_fmt_fail(k->c, "offset 0x%zx: variable %zu: UTF-16 name of odd length "
				   "%zu", (size_t)(name - k->p) - 8, index, name_bytes);
	if (take_sized(k, XEN_MAX_DATA, index, "data", &data, &data_len) != 0 ||
	    need(k, XEN_TAIL, index, "guid/attributes/time/digest") != 0)
		return -1;
	tail = k->p + k->off;
	k->off += XEN_TAIL;
	memcpy(v.guid.b, tail, 16);
	v.attributes = vv_le32(tail + 16);
	if ((v.attributes & VV_ATTR_AT) && !vv_fmt_all_zero(tail + 20, 16)) {
		v.has_time = true;
		memcpy(v.time.b, tail + 20, 16);
	}
	if (!vv_fmt_all_zero(tail + 36, XEN_DIGEST_SIZE)) {
		v.digest_size = XEN_DIGEST_SIZE;
		memcpy(v.digest, tail + 36, XEN_DIGEST_SIZE);
	}
	v.name_len = name_bytes / 2;
	/* tolerate a stored terminator (unverified whether varstored keeps one) */
	if (v.name_len > 1 && vv_le16(name + name_bytes - 2) == 0)
		v.name_len--;
	v.name = malloc((v.name_len + 1) * sizeof(uint16_t));
	if (v.name == NULL)
		return vv_fmt_fail(k->c, "out of memory");
	for (i = 0; i < v.name_len; i++)
		v.name[i] = vv_le16(name + 2 * i);
	v.name[v.name_len] = 0;
	v.data = (uint8_t *)data;
	v.data_size = data_len;
	rc = vv_store_insert_loaded(s, &v, k->c->err);
	if (rc != 0) {
		snprintf(where, sizeof(where), "variable %zu", index);
		vv_fmt_fail_prefix(k->c, where);
	}
	free(v.name);
	return rc;
}

static int
parse_blob(const uint8_t *p, size_t size, const struct vv_fmt_ctx *c, struct vv_store *s)
{
	struct cursor k = { p, size, 0, c };
	uint32_t version;
	uint64_t count, data_len, i;

	if (size < XEN_HDR_V1)
		return vv_fmt_fail(c, "truncated: %zu bytes, the header needs %u", size, XEN_HDR_V1);
	if (memcmp(p, XEN_MAGIC, 4) != 0)
		return vv_fmt_fail(c, "offset 0: magic is not VARS");
	version = vv_le32(p + 4);
	if (version != 1 && version != 2)
		return vv_fmt_fail(c, "offset 0x4: version %u is not 1 or 2", version);
	count = vv_le64(p + 8);
	data_len = vv_le64(p + 16);
	if (count > XEN_MAX_VARS)
		return vv_fmt_fail(c, "offset 0x8: %llu variables, varstored allows %u",
				   (unsigned long long)count, XEN_MAX_VARS);
	k.off = XEN_HDR_V1;
	if (version == 2) {
		if (size - k.off < XEN_V2_EXTRA)
			return vv_fmt_fail(c, "truncated: the version 2 MOR/PPI block needs %u "
					   "bytes at offset 0x%zx", XEN_V2_EXTRA, k.off);
		k.off += XEN_V2_EXTRA;
	}
	if (data_len != size - k.off)
		return vv_fmt_fail(c, "offset 0x10: data_len %llu does not match the %zu bytes of "
				   "records", (unsigned long long)data_len, size - k.off);
	for (i = 0; i < count; i++)
		if (parse_variable(&k, (size_t)i, s) != 0)
			return -1;
	if (k.off != size)
		return vv_fmt_fail(c, "offset 0x%zx: %zu bytes after the last variable", k.off,
				   size - k.off);
	return 0;
}

int
vv_xen_load(const uint8_t *data, size_t size, const struct vv_fmt_ctx *c, struct vv_store *s)
{
	uint8_t *blob;
	size_t blob_size, bad;
	int rc;

	if (size >= 4 && memcmp(data, XEN_MAGIC, 4) == 0)
		return parse_blob(data, size, c, s);
	if (!vv_base64_has_prefix(data, size, XEN_MAGIC, 4))
		return vv_fmt_fail(c, "offset 0: magic is not VARS (raw or base64)");
	if (vv_base64_decode(data, size, &blob, &blob_size, &bad) != 0)
		return vv_fmt_fail(c, "offset 0x%zx: not base64", bad);
	rc = parse_blob(blob, blob_size, c, s);
	free(blob);
	return rc;
}

/* ---- writing ---- */

/* Reports what cannot go into the blob; true if v is written. */
static bool
representable(const struct vv_variable *v, struct vv_format_report *r, int *rep)
{
	if (!(v->attributes & VV_ATTR_NV)) {
		*rep |= vv_fmt_report_var(r, v, "volatile variable not stored");
		return false;
	}
	if (v->data_size == 0 || v->data_size > XEN_MAX_DATA) {
		*rep |= vv_fmt_report_var(r, v, "not stored: %zu bytes of data (varstored takes "
					  "1..%u)", v->data_size, XEN_MAX_DATA);
		return false;
	}
	if (v->name_len * 2 > XEN_MAX_NAME) {
		*rep |= vv_fmt_report_var(r, v, "not stored: name over %u bytes", XEN_MAX_NAME);
		return false;
	}
	if (v->digest_size != 0 && v->digest_size != XEN_DIGEST_SIZE)
		*rep |= vv_fmt_report_var(r, v, "signer digest of %zu bytes not stored (the blob "
					  "holds 32)", v->digest_size);
	if (v->has_time && !(v->attributes & VV_ATTR_AT) && !vv_fmt_all_zero(v->time.b, 16))
		*rep |= vv_fmt_report_var(r, v, "timestamp not stored (not an AT variable)");
	return true;
}

static size_t
record_size(const struct vv_variable *v)
{
	return 8 + v->name_len * 2 + 8 + v->data_size + XEN_TAIL;
}

static void
put_record(uint8_t *p, const struct vv_variable *v)
{
	size_t i, off = 0;

	vv_put_le64(p, v->name_len * 2);
	off = 8;
	for (i = 0; i < v->name_len; i++, off += 2)
		vv_put_le16(p + off, v->name[i]);
	vv_put_le64(p + off, v->data_size);
	off += 8;
	memcpy(p + off, v->data, v->data_size);
	off += v->data_size;
	memcpy(p + off, v->guid.b, 16);
	vv_put_le32(p + off + 16, v->attributes);
	memset(p + off + 20, 0, 16 + XEN_DIGEST_SIZE);
	if (v->has_time && (v->attributes & VV_ATTR_AT))
		memcpy(p + off + 20, v->time.b, 16);
	if (v->digest_size == XEN_DIGEST_SIZE)
		memcpy(p + off + 36, v->digest, XEN_DIGEST_SIZE);
}

int
vv_xen_save(const struct vv_store *s, uint8_t **out, size_t *out_size,
	    struct vv_format_report *r, struct vv_error *err)
{
	const struct vv_variable *v;
	size_t count = 0, records = 0, hdr = XEN_HDR_V1 + XEN_V2_EXTRA, off, len;
	uint8_t *blob;
	char *text;
	int rep = 0;

	for (v = vv_store_first(s); v != NULL; v = vv_store_next(v)) {
		if (!representable(v, r, &rep))
			continue;
		count++;
		records += record_size(v);
	}
	if (rep != 0)
		return vv_error_set(err, "xen: out of memory");
	if (count > XEN_MAX_VARS)
		return vv_error_set(err, "xen: %zu variables, varstored allows at most %u", count,
				    XEN_MAX_VARS);
	blob = calloc(1, hdr + records);
	if (blob == NULL)
		return vv_error_set(err, "xen: out of memory");
	memcpy(blob, XEN_MAGIC, 4);
	vv_put_le32(blob + 4, 2);
	vv_put_le64(blob + 8, count);
	vv_put_le64(blob + 16, records);
	/* MOR key and ppi_vdata stay zero */
	off = hdr;
	for (v = vv_store_first(s); v != NULL; v = vv_store_next(v)) {
		if (!representable(v, NULL, &rep))
			continue;
		put_record(blob + off, v);
		off += record_size(v);
	}
	text = vv_base64_encode(blob, off, &len);
	free(blob);
	if (text == NULL)
		return vv_error_set(err, "xen: out of memory");
	*out = (uint8_t *)text;
	*out_size = len;
	return 0;
}
