/*
 * src/format/fmt_util.c -- the helper library every format module shares
 * (fmt_util.h): errors in the "<origin>: <format>: <what>" form, the save
 * report, base64 for the text formats, edk2's CRC-32.  It depends on no
 * format module: formats.c dispatches to the modules, and the modules and
 * formats.c call down into this file, so the dependencies point one way.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include <vmvars/ucs2.h>

#include "format/fmt_util.h"

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

bool
vv_fmt_is_space(uint8_t ch)
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

		if (vv_fmt_is_space(text[i]))
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
	while (i < len && vv_fmt_is_space(text[i]))
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
