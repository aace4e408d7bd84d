/*
 * src/format/formats.c -- every varstore format behind one interface
 * (vmvars/formats.h): names, detection, loading into a scratch store and
 * then into the caller's, saving with a report of what the target cannot
 * hold, and the atomic file write.  The formats themselves live in
 * json_v2.c, ovmf_fd.c, aws.c, xen.c and efivarfs.c.
 *
 * Invariants:
 *  - a load either adds every variable of the file to the (empty) store or
 *    leaves it empty: the reader fills a scratch store with the same
 *    limits, and only a complete scratch store is moved over;
 *  - a save never touches a file; vv_write_file_atomic() does, and the old
 *    file is intact until the rename (core/file_replace.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include <vmvars/json_v2.h>
#include <vmvars/ucs2.h>

#include "core/file_replace.h"
#include "format/formats_internal.h"

static const struct {
	enum vv_format f;
	const char *name;
} format_names[] = {
	{ VV_FORMAT_JSON, "json" },
	{ VV_FORMAT_OVMF_FD, "fd" },
	{ VV_FORMAT_AWS, "aws" },
	{ VV_FORMAT_XEN, "xen" },
	{ VV_FORMAT_EFIVARFS, "efivarfs" },
};

const char *
vv_format_name(enum vv_format f)
{
	size_t i;

	for (i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
		if (format_names[i].f == f)
			return format_names[i].name;
	return "unknown";
}

/* Also accepts the names other tools use: python-uefivars' "edk2", and
 * "ovmf". */
enum vv_format
vv_format_from_name(const char *name)
{
	size_t i;

	if (name == NULL)
		return VV_FORMAT_UNKNOWN;
	for (i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
		if (strcmp(format_names[i].name, name) == 0)
			return format_names[i].f;
	if (strcmp(name, "edk2") == 0 || strcmp(name, "ovmf") == 0)
		return VV_FORMAT_OVMF_FD;
	return VV_FORMAT_UNKNOWN;
}

/* ---- shared helpers (formats_internal.h) ---- */

int
vv_fmt_fail(const struct vv_fmt_ctx *c, const char *fmt, ...)
{
	char text[sizeof(c->err->msg)];
	va_list ap;

	if (c->err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return vv_error_set(c->err, "%s: %s: %s", c->origin, c->format, text);
}

int
vv_fmt_fail_prefix(const struct vv_fmt_ctx *c, const char *where)
{
	vv_error_prefix(c->err, "%s: %s: %s", c->origin, c->format, where);
	return -1;
}

static int
report_add(struct vv_format_report *r, char *line)
{
	char **grown;

	if (line == NULL)
		return -1;
	grown = realloc(r->lines, (r->count + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(line);
		return -1;
	}
	r->lines = grown;
	r->lines[r->count++] = line;
	return 0;
}

int
vv_fmt_report_var(struct vv_format_report *r, const struct vv_variable *v, const char *fmt, ...)
{
	char name[256], guid[VV_GUID_TEXT_LEN + 1], text[512], *line;
	va_list ap;

	if (r == NULL)
		return 0;
	vv_ucs2_print(v->name, v->name_len, name, sizeof(name));
	vv_guid_format(&v->guid, guid);
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (asprintf(&line, "%s-%s: %s", name, guid, text) < 0)
		return -1;
	return report_add(r, line);
}

int
vv_fmt_report_line(struct vv_format_report *r, const char *fmt, ...)
{
	char *line;
	va_list ap;
	int n;

	if (r == NULL)
		return 0;
	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	return report_add(r, line);
}

void
vv_format_report_free(struct vv_format_report *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->count; i++)
		free(r->lines[i]);
	free(r->lines);
	r->lines = NULL;
	r->count = 0;
}

bool
vv_fmt_all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

bool
vv_fmt_name_is_ascii(const struct vv_variable *v)
{
	size_t i;

	for (i = 0; i < v->name_len; i++)
		if (v->name[i] >= 0x80)
			return false;
	return true;
}

uint32_t
vv_fmt_crc32(const uint8_t *p, size_t n)
{
	uLong crc = crc32(0L, Z_NULL, 0);

	/* zlib takes uInt lengths: feed large buffers in pieces. */
	while (n > 0) {
		uInt chunk = n > 0x40000000u ? 0x40000000u : (uInt)n;

		crc = crc32(crc, p, chunk);
		p += chunk;
		n -= chunk;
	}
	return (uint32_t)crc;
}

/* ---- base64 (RFC 4648 §4) ---- */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
vv_base64_encode(const uint8_t *data, size_t size, size_t *out_len)
{
	size_t groups = size / 3 + (size % 3 != 0), i, o = 0;
	char *out;

	if (groups > (SIZE_MAX - 2) / 4)
		return NULL;
	out = malloc(groups * 4 + 2);
	if (out == NULL)
		return NULL;
	for (i = 0; i < size; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16;
		size_t left = size - i;

		if (left > 1)
			v |= (uint32_t)data[i + 1] << 8;
		if (left > 2)
			v |= data[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = left > 1 ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = left > 2 ? b64_alphabet[v & 63] : '=';
	}
	out[o++] = '\n';
	out[o] = '\0';
	*out_len = o;
	return out;
}

static int
b64_value(uint8_t ch)
{
	const char *p;

	if (ch == 0)
		return -1;
	p = strchr(b64_alphabet, ch);
	return p == NULL ? -1 : (int)(p - b64_alphabet);
}

static bool
is_space(uint8_t ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/*
 * Strict decoding: only alphabet characters, whitespace anywhere, and at
 * most two '=' at the very end of a complete 4-character group.
 */
int
vv_base64_decode(const uint8_t *text, size_t len, uint8_t **out, size_t *out_size,
		 size_t *bad_offset)
{
	uint8_t *buf;
	uint32_t acc = 0;
	size_t i, o = 0, n = 0, pad = 0;

	*out = NULL;
	*out_size = 0;
	buf = malloc(len / 4 * 3 + 3);
	if (buf == NULL) {
		*bad_offset = 0;
		return -1;
	}
	for (i = 0; i < len; i++) {
		int v;

		if (is_space(text[i]))
			continue;
		if (text[i] == '=') {
			if (n % 4 < 2 || pad == 2)
				goto bad;
			pad++;
			v = 0;
		} else {
			v = b64_value(text[i]);
			if (v < 0 || pad != 0)
				goto bad;
		}
		acc = (acc << 6) | (uint32_t)v;
		n++;
		if (n % 4 == 0) {
			buf[o++] = (uint8_t)(acc >> 16);
			buf[o++] = (uint8_t)(acc >> 8);
			buf[o++] = (uint8_t)acc;
			acc = 0;
		}
	}
	if (n % 4 != 0) {
		i = len;
		goto bad;
	}
	o -= pad; /* the last group held 4 - pad characters */
	*out = buf;
	*out_size = o;
	return 0;
bad:
	free(buf);
	*bad_offset = i;
	return -1;
}

bool
vv_base64_has_prefix(const uint8_t *text, size_t len, const char *magic, size_t magic_len)
{
	size_t i = 0, chars = magic_len * 8 / 6, k;
	char enc[16];

	if (magic_len > 9)
		return false;
	while (i < len && is_space(text[i]))
		i++;
	for (k = 0; k < chars; k++) {
		size_t bit = k * 6, byte = bit / 8, shift = bit % 8;
		unsigned v = (unsigned)(uint8_t)magic[byte] << 8;

		if (byte + 1 < magic_len)
			v |= (uint8_t)magic[byte + 1];
		enc[k] = b64_alphabet[(v >> (10 - shift)) & 63];
	}
	return len - i >= chars && memcmp(text + i, enc, chars) == 0;
}

/* ---- detection ---- */

static bool
looks_like_json(const uint8_t *data, size_t size)
{
	size_t i = 0;

	while (i < size && is_space(data[i]))
		i++;
	/* empty or whitespace-only is QEMU's empty JSON store (formats §3.1) */
	return i == size || data[i] == '{' || data[i] == '[';
}

enum vv_format
vv_format_detect(const uint8_t *data, size_t size)
{
	if (data == NULL)
		return size == 0 ? VV_FORMAT_JSON : VV_FORMAT_UNKNOWN;
	if (vv_aws_detect(data, size))
		return VV_FORMAT_AWS;
	if (vv_xen_detect(data, size))
		return VV_FORMAT_XEN;
	if (looks_like_json(data, size))
		return VV_FORMAT_JSON;
	if (vv_fd_detect(data, size))
		return VV_FORMAT_OVMF_FD;
	return VV_FORMAT_UNKNOWN;
}

/* ---- loading ---- */

static int
load_json(const uint8_t *data, size_t size, const struct vv_fmt_ctx *c, struct vv_store *s)
{
	size_t olen = strlen(c->origin);
	char rest[sizeof(c->err->msg)];

	/* the JSON parser names the origin and the field; add the format */
	if (vv_json_v2_parse(s, (const char *)data, size, c->origin, c->err) == 0)
		return 0;
	if (c->err != NULL) {
		const char *m = c->err->msg;

		if (strncmp(m, c->origin, olen) == 0 && strncmp(m + olen, ": ", 2) == 0)
			m += olen + 2;
		snprintf(rest, sizeof(rest), "%s", m);
		vv_fmt_fail(c, "%s", rest);
	}
	return -1;
}

static int
load_into(enum vv_format f, const uint8_t *data, size_t size, const struct vv_fmt_ctx *c,
	  struct vv_store *s)
{
	switch (f) {
	case VV_FORMAT_JSON:
		return load_json(data, size, c, s);
	case VV_FORMAT_OVMF_FD:
		return vv_fd_load(data, size, c, s);
	case VV_FORMAT_AWS:
		return vv_aws_load(data, size, c, s);
	case VV_FORMAT_XEN:
		return vv_xen_load(data, size, c, s);
	case VV_FORMAT_EFIVARFS:
		return vv_fmt_fail(c, "an efivarfs store is a directory, not bytes");
	default:
		return vv_fmt_fail(c, "unknown format");
	}
}

/*
 * Moves every variable of scratch into s.  s is empty and has the same
 * limits, so this only fails for lack of memory; the variables added so
 * far are then deleted again (s has no backend during a load in every
 * caller we have; if it has one the deletes are persisted like any).
 */
static int
move_loaded(struct vv_store *scratch, struct vv_store *s, const struct vv_fmt_ctx *c)
{
	const struct vv_variable *v, *u;

	for (v = vv_store_first(scratch); v != NULL; v = vv_store_next(v)) {
		if (vv_store_insert_loaded(s, v, c->err) == 0)
			continue;
		for (u = vv_store_first(scratch); u != v; u = vv_store_next(u))
			(void)vv_store_put(s, u->name, u->name_len, &u->guid, u->attributes,
					   NULL, 0, NULL);
		return vv_fmt_fail_prefix(c, "moving the loaded variables");
	}
	return 0;
}

static int
load_with(enum vv_format f, const uint8_t *data, size_t size, const char *path, bool is_dir,
	  const char *origin, struct vv_store *s, struct vv_error *err)
{
	struct vv_fmt_ctx c = { origin != NULL ? origin : "(input)", vv_format_name(f), err };
	struct vv_store *scratch;
	int rc;

	if (vv_store_count(s) != 0)
		return vv_fmt_fail(&c, "the target store is not empty");
	scratch = vv_store_new(vv_store_limits(s));
	if (scratch == NULL)
		return vv_fmt_fail(&c, "out of memory");
	if (is_dir)
		rc = vv_efivarfs_load_dir(path, &c, scratch);
	else
		rc = load_into(f, data, size, &c, scratch);
	if (rc == 0)
		rc = move_loaded(scratch, s, &c);
	vv_store_free(scratch);
	return rc;
}

int
vv_format_load(enum vv_format f, const uint8_t *data, size_t size, const char *origin,
	       struct vv_store *s, struct vv_error *err)
{
	if (data == NULL && size != 0)
		return vv_error_set(err, "%s: no data", origin != NULL ? origin : "(input)");
	return load_with(f, data, size, NULL, false, origin, s, err);
}

/* Reads a whole regular file (at most VV_FMT_FILE_MAX bytes). */
static int
read_file(const char *path, uint8_t **out, size_t *out_size, struct vv_error *err)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	int fd;

	*out = NULL;
	*out_size = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vv_error_set(err, "%s: open: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return vv_error_set(err, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > VV_FMT_FILE_MAX) {
		close(fd);
		return vv_error_set(err, "%s: %lld bytes is larger than the %u-byte limit", path,
				    (long long)st.st_size, VV_FMT_FILE_MAX);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return vv_error_set(err, "%s: out of memory", path);
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			vv_error_set(err, "%s: read: %s", path, n == 0 ? "file shrank" : strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	buf[got] = 0;
	*out = buf;
	*out_size = got;
	return 0;
}

int
vv_format_load_path(const char *path, enum vv_format f, struct vv_store *s,
		    enum vv_format *detected, struct vv_error *err)
{
	struct stat st;
	uint8_t *data;
	size_t size;
	int rc;

	if (stat(path, &st) != 0)
		return vv_error_set(err, "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		if (f != VV_FORMAT_UNKNOWN && f != VV_FORMAT_EFIVARFS)
			return vv_error_set(err, "%s: %s: is a directory", path, vv_format_name(f));
		if (detected != NULL)
			*detected = VV_FORMAT_EFIVARFS;
		return load_with(VV_FORMAT_EFIVARFS, NULL, 0, path, true, path, s, err);
	}
	if (f == VV_FORMAT_EFIVARFS)
		return vv_error_set(err, "%s: efivarfs: not a directory", path);
	if (read_file(path, &data, &size, err) != 0)
		return -1;
	if (f == VV_FORMAT_UNKNOWN)
		f = vv_format_detect(data, size);
	if (f == VV_FORMAT_UNKNOWN) {
		free(data);
		return vv_error_set(err, "%s: unknown format (not JSON, an OVMF_VARS.fd flash "
				    "image, an aws blob or a Xen VARS blob)", path);
	}
	if (detected != NULL)
		*detected = f;
	rc = vv_format_load(f, data, size, path, s, err);
	free(data);
	return rc;
}

/* ---- saving ---- */

/*
 * JSON keeps NV variables only, `time` only with AT (json_v2.h); names
 * survive here but QEMU's jsonfile= loader keeps only ASCII (formats §3.1,
 * §12 item 4), so such names are reported too.
 */
static int
report_json(const struct vv_store *s, struct vv_format_report *r)
{
	const struct vv_variable *v;
	int rc = 0;

	for (v = vv_store_first(s); v != NULL; v = vv_store_next(v)) {
		if (!(v->attributes & VV_ATTR_NV)) {
			rc |= vv_fmt_report_var(r, v, "volatile variable not stored");
			continue;
		}
		if (v->has_time && !(v->attributes & VV_ATTR_AT) &&
		    !vv_fmt_all_zero(v->time.b, sizeof(v->time.b)))
			rc |= vv_fmt_report_var(r, v, "timestamp of a non-AT variable not stored");
		if (!vv_fmt_name_is_ascii(v))
			rc |= vv_fmt_report_var(r, v, "non-ASCII name kept, but QEMU's jsonfile= "
						"loader keeps only ASCII names");
	}
	return rc;
}

static int
save_json(const struct vv_store *s, uint8_t **out, size_t *out_size, struct vv_format_report *r,
	  struct vv_error *err)
{
	char *text;
	size_t len;

	if (report_json(s, r) != 0)
		return vv_error_set(err, "json: out of memory");
	text = vv_json_v2_serialize(s, &len);
	if (text == NULL)
		return vv_error_set(err, "json: out of memory");
	*out = (uint8_t *)text;
	*out_size = len;
	return 0;
}

int
vv_format_save(enum vv_format f, const struct vv_store *s, const uint8_t *template_data,
	       size_t template_size, uint8_t **out, size_t *out_size,
	       struct vv_format_report *report, struct vv_error *err)
{
	*out = NULL;
	*out_size = 0;
	if (template_data != NULL && f != VV_FORMAT_OVMF_FD)
		return vv_error_set(err, "%s: a template applies only to the fd format",
				    vv_format_name(f));
	switch (f) {
	case VV_FORMAT_JSON:
		return save_json(s, out, out_size, report, err);
	case VV_FORMAT_OVMF_FD:
		return vv_fd_save(s, VV_FD_LAYOUT_AUTO, template_data, template_size, out, out_size,
				  report, err);
	case VV_FORMAT_AWS:
		return vv_aws_save(s, out, out_size, report, err);
	case VV_FORMAT_XEN:
		return vv_xen_save(s, out, out_size, report, err);
	case VV_FORMAT_EFIVARFS:
		return vv_error_set(err, "efivarfs: import only; it cannot be written");
	default:
		return vv_error_set(err, "unknown format");
	}
}

int
vv_format_save_fd_layout(const struct vv_store *s, enum vv_fd_layout layout,
			 const uint8_t *template_data, size_t template_size, uint8_t **out,
			 size_t *out_size, struct vv_format_report *report, struct vv_error *err)
{
	*out = NULL;
	*out_size = 0;
	return vv_fd_save(s, layout, template_data, template_size, out, out_size, report, err);
}

/* ---- atomic file write ---- */

/* The one atomic-replace primitive (core/file_replace.h) for a user's
 * file: through a symlink, owner, group, mode and SELinux label kept,
 * immutable, read-only and hard-linked files refused. */
int
vv_write_file_atomic(const char *path, const uint8_t *data, size_t size, struct vv_error *err)
{
	return vv_file_replace(path, data, size, NULL, err);
}
