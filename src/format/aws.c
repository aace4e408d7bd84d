/*
 * src/format/aws.c -- the AWS uefi-vars blob (varstore-formats §4): base64
 * text around "AMZNUEFI" (u64 LE magic), a CRC-32C of everything after
 * the CRC field, version 0, and a zlib stream compressed with the 11,381-
 * byte preset dictionary (data/aws/uefivarstore-v0.dict, embedded at build
 * time).  The inflated body is a u64 count, then per variable: u64 name
 * length + UTF-8 name, u64 data length + data, 16-byte GUID, u32
 * attributes and, for AT variables only, a 16-byte EFI_TIME and a u64
 * length + digest.  An all-zero timestamp or digest means none.
 *
 * Reading refuses: bad base64, a wrong magic or version, a CRC mismatch,
 * any zlib error, an inflated body over VV_FMT_INFLATE_MAX (a zlib bomb),
 * a length running past the body, an invalid UTF-8 or non-UCS-2 name, a
 * digest over 64 bytes, and bytes after the last variable.
 *
 * Writing stores NV variables only (AWS: "Only non-volatile variables are
 * stored"), compression level 9 as python-uefivars; an AT variable without
 * a digest gets 32 zero bytes, as python-uefivars writes.  Reported: volatile
 * variables, and timestamps or digests of non-AT variables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include <vmvars/ucs2.h>

#include "core/crc32c.h"
#include "format/formats_internal.h"

#define AWS_MAGIC       "AMZNUEFI"
#define AWS_HDR_SIZE    16       /* magic 8, crc 4, version 4 */
#define AWS_VERSION     0
#define AWS_LEVEL       9
#define AWS_DIGEST_SIZE 32       /* what python-uefivars writes for none */
#define AWS_MIN_ENTRY   (8 + 8 + 16 + 4)

bool
vv_aws_detect(const uint8_t *data, size_t size)
{
	return (size >= 8 && memcmp(data, AWS_MAGIC, 8) == 0) ||
	       vv_base64_has_prefix(data, size, AWS_MAGIC, 8);
}

/* Grows out to hold at least need bytes, capped at VV_FMT_INFLATE_MAX. */
static int
grow(uint8_t **out, size_t *cap, size_t need)
{
	size_t n = *cap == 0 ? 65536 : *cap * 2;
	uint8_t *p;

	if (need > VV_FMT_INFLATE_MAX)
		return -1;
	while (n < need)
		n *= 2;
	if (n > VV_FMT_INFLATE_MAX)
		n = VV_FMT_INFLATE_MAX;
	p = realloc(*out, n);
	if (p == NULL)
		return -1;
	*out = p;
	*cap = n;
	return 0;
}

/* Inflates the zlib stream at blob + 16 with the preset dictionary. */
static int
inflate_body(const uint8_t *z, size_t zsize, uint8_t **out, size_t *out_size,
	     const struct vv_fmt_ctx *c)
{
	z_stream st;
	size_t cap = 0;
	int zr, rc = -1;

	*out = NULL;
	memset(&st, 0, sizeof(st));
	if (zsize > UINT32_MAX)
		return vv_fmt_fail(c, "compressed body of %zu bytes is too large", zsize);
	if (inflateInit(&st) != Z_OK)
		return vv_fmt_fail(c, "zlib: cannot initialise");
	st.next_in = (Bytef *)z;
	st.avail_in = (uInt)zsize;
	for (;;) {
		if (st.total_out == cap) {
			if (cap == VV_FMT_INFLATE_MAX || grow(out, &cap, cap + 1) != 0) {
				vv_fmt_fail(c, "offset 0x%lx: inflated body exceeds %u bytes (zlib "
					    "bomb?)", AWS_HDR_SIZE + st.total_in, VV_FMT_INFLATE_MAX);
				goto out;
			}
		}
		st.next_out = *out + st.total_out;
		st.avail_out = (uInt)(cap - st.total_out);
		zr = inflate(&st, Z_NO_FLUSH);
		if (zr == Z_NEED_DICT) {
			if (inflateSetDictionary(&st, vv_aws_dict_v0, (uInt)vv_aws_dict_v0_size) !=
			    Z_OK) {
				vv_fmt_fail(c, "offset 0x%x: zlib stream wants a preset dictionary "
					    "other than uefivarstore-v0", AWS_HDR_SIZE + 2);
				goto out;
			}
			continue;
		}
		if (zr == Z_STREAM_END)
			break;
		if (zr == Z_BUF_ERROR && st.avail_out != 0) {
			vv_fmt_fail(c, "offset 0x%lx: zlib stream is truncated",
				    AWS_HDR_SIZE + st.total_in);
			goto out;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			vv_fmt_fail(c, "offset 0x%lx: zlib: %s", AWS_HDR_SIZE + st.total_in,
				    st.msg != NULL ? st.msg : "data error");
			goto out;
		}
	}
	if (st.avail_in != 0) {
		vv_fmt_fail(c, "offset 0x%lx: %u bytes after the end of the zlib stream",
			    AWS_HDR_SIZE + st.total_in, st.avail_in);
		goto out;
	}
	*out_size = st.total_out;
	rc = 0;
out:
	inflateEnd(&st);
	if (rc != 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* A cursor over the inflated body; errors name the body offset. */
struct body {
	const uint8_t *p;
	size_t size;
	size_t off;
	const struct vv_fmt_ctx *c;
};

static int
take(struct body *b, size_t n, const uint8_t **at, const char *field, size_t index)
{
	if (n > b->size - b->off)
		return vv_fmt_fail(b->c, "variable %zu: %s (%zu bytes at inflated offset 0x%zx) "
				   "runs past the body (%zu bytes)", index, field, n, b->off,
				   b->size);
	*at = b->p + b->off;
	b->off += n;
	return 0;
}

/* u64 length, then that many bytes. */
static int
take_sized(struct body *b, const uint8_t **at, size_t *len, const char *field, size_t index)
{
	const uint8_t *l = NULL;
	uint64_t n;

	if (take(b, 8, &l, field, index) != 0)
		return -1;
	n = vv_le64(l);
	if (n > b->size - b->off)
		return vv_fmt_fail(b->c, "variable %zu: %s length %llu at inflated offset 0x%zx "
				   "runs past the body", index, field, (unsigned long long)n,
				   b->off - 8);
	*len = (size_t)n;
	return take(b, *len, at, field, index);
}

static int
parse_variable(struct body *b, size_t index, struct vv_store *s)
{
	const uint8_t *name = NULL, *data = NULL, *guid = NULL, *attr = NULL, *time = NULL;
	const uint8_t *digest = NULL;
	size_t name_len = 0, data_len = 0, digest_len = 0;
	struct vv_variable v;
	char where[64];
	int rc;

	memset(&v, 0, sizeof(v));
	if (take_sized(b, &name, &name_len, "name", index) != 0 ||
	    take_sized(b, &data, &data_len, "data", index) != 0 ||
	    take(b, 16, &guid, "guid", index) != 0 || take(b, 4, &attr, "attributes", index) != 0)
		return -1;
	v.attributes = vv_le32(attr);
	if (v.attributes & VV_ATTR_AT) {
		if (take(b, 16, &time, "timestamp", index) != 0 ||
		    take_sized(b, &digest, &digest_len, "digest", index) != 0)
			return -1;
		if (digest_len > sizeof(v.digest))
			return vv_fmt_fail(b->c, "variable %zu: digest of %zu bytes (at most 64)",
					   index, digest_len);
		if (!vv_fmt_all_zero(time, 16)) {
			v.has_time = true;
			memcpy(v.time.b, time, 16);
		}
		if (!vv_fmt_all_zero(digest, digest_len)) {
			v.digest_size = digest_len;
			memcpy(v.digest, digest, digest_len);
		}
	}
	memcpy(v.guid.b, guid, 16);
	v.name = vv_ucs2_from_utf8((const char *)name, name_len, &v.name_len);
	if (v.name == NULL)
		return vv_fmt_fail(b->c, "variable %zu: name is not UTF-8 within UCS-2", index);
	v.data = (uint8_t *)data;
	v.data_size = data_len;
	rc = vv_store_insert_loaded(s, &v, b->c->err);
	if (rc != 0) {
		snprintf(where, sizeof(where), "variable %zu", index);
		vv_fmt_fail_prefix(b->c, where);
	}
	free(v.name);
	return rc;
}

static int
parse_body(const uint8_t *p, size_t size, const struct vv_fmt_ctx *c, struct vv_store *s)
{
	struct body b = { p, size, 8, c };
	uint64_t count, i;

	if (size < 8)
		return vv_fmt_fail(c, "inflated body of %zu bytes has no variable count", size);
	count = vv_le64(p);
	if (count > (size - 8) / AWS_MIN_ENTRY)
		return vv_fmt_fail(c, "variable count %llu cannot fit the %zu-byte body",
				   (unsigned long long)count, size);
	for (i = 0; i < count; i++)
		if (parse_variable(&b, (size_t)i, s) != 0)
			return -1;
	if (b.off != size)
		return vv_fmt_fail(c, "inflated offset 0x%zx: %zu bytes after the last variable",
				   b.off, size - b.off);
	return 0;
}

static int
parse_blob(const uint8_t *blob, size_t size, const struct vv_fmt_ctx *c, struct vv_store *s)
{
	uint8_t *body = NULL;
	size_t body_size = 0;
	uint32_t crc, want;
	int rc;

	if (size < AWS_HDR_SIZE)
		return vv_fmt_fail(c, "truncated: %zu bytes, the header needs %u", size,
				   AWS_HDR_SIZE);
	if (memcmp(blob, AWS_MAGIC, 8) != 0)
		return vv_fmt_fail(c, "offset 0: magic is not AMZNUEFI");
	want = vv_le32(blob + 8);
	crc = vv_crc32c(blob + 12, size - 12);
	if (crc != want)
		return vv_fmt_fail(c, "offset 0x8: CRC-32C 0x%08x does not match the content "
				   "(0x%08x)", want, crc);
	if (vv_le32(blob + 12) != AWS_VERSION)
		return vv_fmt_fail(c, "offset 0xc: version %u is not supported (only 0)",
				   vv_le32(blob + 12));
	if (inflate_body(blob + AWS_HDR_SIZE, size - AWS_HDR_SIZE, &body, &body_size, c) != 0)
		return -1;
	rc = parse_body(body, body_size, c, s);
	free(body);
	return rc;
}

int
vv_aws_load(const uint8_t *data, size_t size, const struct vv_fmt_ctx *c, struct vv_store *s)
{
	uint8_t *blob;
	size_t blob_size, bad;
	int rc;

	if (size >= 8 && memcmp(data, AWS_MAGIC, 8) == 0)
		return parse_blob(data, size, c, s); /* already decoded */
	if (!vv_base64_has_prefix(data, size, AWS_MAGIC, 8))
		return vv_fmt_fail(c, "offset 0: magic is not AMZNUEFI (raw or base64)");
	if (vv_base64_decode(data, size, &blob, &blob_size, &bad) != 0)
		return vv_fmt_fail(c, "offset 0x%zx: not base64", bad);
	rc = parse_blob(blob, blob_size, c, s);
	free(blob);
	return rc;
}

/* ---- writing ---- */

struct buf {
	uint8_t *p;
	size_t len, cap;
	bool failed;
};

static void
put(struct buf *b, const void *data, size_t n)
{
	if (b->failed)
		return;
	if (n > b->cap - b->len) {
		size_t cap = b->cap == 0 ? 4096 : b->cap;
		uint8_t *p;

		while (cap - b->len < n) {
			if (cap > SIZE_MAX / 2) {
				b->failed = true;
				return;
			}
			cap *= 2;
		}
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	if (n != 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void
put_u64(struct buf *b, uint64_t v)
{
	uint8_t le[8];

	vv_put_le64(le, v);
	put(b, le, 8);
}

static int
report_variable(const struct vv_variable *v, struct vv_format_report *r)
{
	int rc = 0;

	if (!(v->attributes & VV_ATTR_NV))
		return vv_fmt_report_var(r, v, "volatile variable not stored");
	if (v->attributes & VV_ATTR_AT)
		return 0;
	if (v->has_time && !vv_fmt_all_zero(v->time.b, 16))
		rc |= vv_fmt_report_var(r, v, "timestamp not stored (not an AT variable)");
	if (v->digest_size != 0)
		rc |= vv_fmt_report_var(r, v, "signer digest not stored (not an AT variable)");
	return rc;
}

static void
put_variable(struct buf *b, const struct vv_variable *v, struct vv_error *err)
{
	static const uint8_t zero[AWS_DIGEST_SIZE];
	uint8_t attr[4];
	char *name = vv_ucs2_to_utf8(v->name, v->name_len);

	if (name == NULL) {
		b->failed = true;
		return;
	}
	put_u64(b, strlen(name));
	put(b, name, strlen(name));
	free(name);
	put_u64(b, v->data_size);
	put(b, v->data, v->data_size);
	put(b, v->guid.b, 16);
	vv_put_le32(attr, v->attributes);
	put(b, attr, 4);
	if (!(v->attributes & VV_ATTR_AT))
		return;
	put(b, v->has_time ? v->time.b : zero, 16);
	if (v->digest_size != 0) {
		put_u64(b, v->digest_size);
		put(b, v->digest, v->digest_size);
	} else {
		put_u64(b, sizeof(zero));
		put(b, zero, sizeof(zero));
	}
}

static int
build_body(const struct vv_store *s, struct buf *body, struct vv_format_report *r,
	   struct vv_error *err)
{
	const struct vv_variable *v;
	uint64_t count = 0;
	int rep = 0;

	for (v = vv_store_first(s); v != NULL; v = vv_store_next(v)) {
		rep |= report_variable(v, r);
		count += (v->attributes & VV_ATTR_NV) != 0;
	}
	put_u64(body, count);
	for (v = vv_store_first(s); v != NULL; v = vv_store_next(v))
		if (v->attributes & VV_ATTR_NV)
			put_variable(body, v, err);
	if (body->failed || rep != 0)
		return vv_error_set(err, "aws: out of memory");
	return 0;
}

/* Deflates body into blob after the 16-byte header. */
static int
deflate_body(const struct buf *body, struct buf *blob, struct vv_error *err)
{
	z_stream st;
	uLong bound;
	int zr;

	memset(&st, 0, sizeof(st));
	if (body->len > UINT32_MAX / 2 || deflateInit(&st, AWS_LEVEL) != Z_OK)
		return vv_error_set(err, "aws: zlib: cannot initialise");
	if (deflateSetDictionary(&st, vv_aws_dict_v0, (uInt)vv_aws_dict_v0_size) != Z_OK) {
		deflateEnd(&st);
		return vv_error_set(err, "aws: zlib: cannot set the dictionary");
	}
	bound = deflateBound(&st, (uLong)body->len);
	{
		uint8_t *p = realloc(blob->p, AWS_HDR_SIZE + bound);

		if (p == NULL) {
			deflateEnd(&st);
			return vv_error_set(err, "aws: out of memory");
		}
		blob->p = p;
		blob->cap = AWS_HDR_SIZE + bound;
	}
	st.next_in = body->p;
	st.avail_in = (uInt)body->len;
	st.next_out = blob->p + AWS_HDR_SIZE;
	st.avail_out = (uInt)bound;
	zr = deflate(&st, Z_FINISH);
	blob->len = AWS_HDR_SIZE + st.total_out;
	deflateEnd(&st);
	if (zr != Z_STREAM_END)
		return vv_error_set(err, "aws: zlib: compression failed");
	return 0;
}

int
vv_aws_save(const struct vv_store *s, uint8_t **out, size_t *out_size,
	    struct vv_format_report *r, struct vv_error *err)
{
	struct buf body = { 0 }, blob = { 0 };
	char *text;
	size_t len;
	int rc = -1;

	if (build_body(s, &body, r, err) != 0)
		goto out;
	blob.p = malloc(AWS_HDR_SIZE);
	if (blob.p == NULL) {
		vv_error_set(err, "aws: out of memory");
		goto out;
	}
	blob.cap = AWS_HDR_SIZE;
	if (deflate_body(&body, &blob, err) != 0)
		goto out;
	memcpy(blob.p, AWS_MAGIC, 8);
	vv_put_le32(blob.p + 12, AWS_VERSION);
	vv_put_le32(blob.p + 8, vv_crc32c(blob.p + 12, blob.len - 12));
	text = vv_base64_encode(blob.p, blob.len, &len);
	if (text == NULL) {
		vv_error_set(err, "aws: out of memory");
		goto out;
	}
	*out = (uint8_t *)text;
	*out_size = len;
	rc = 0;
out:
	free(body.p);
	free(blob.p);
	return rc;
}
