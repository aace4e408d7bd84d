/*
 * src/format/fmt_util.h -- what the format modules share (not public API),
 * implemented in fmt_util.c: the error context every reader reports
 * through, the save report, base64, CRC-32 and the limits of a file.
 */
#ifndef VMVARS_FMT_UTIL_H
#define VMVARS_FMT_UTIL_H

#include <stdarg.h>
#include <stdbool.h>

#include <vmvars/formats.h>

/* Largest file vv_format_load_path reads (64 MiB padded AArch64 flash
 * images fit, formats §2.1 notes). */
#define VV_FMT_FILE_MAX (128u * 1024 * 1024)
/* Largest inflated aws body (formats §4); a bigger one is refused as a
 * zlib bomb.  Far above any store edk2 can hold. */
#define VV_FMT_INFLATE_MAX (16u * 1024 * 1024)

/* Who is reading: messages are "<origin>: <format>: <what>". */
struct vv_fmt_ctx {
	const char *origin;
	const char *format;
	struct vv_error *err;
};

/* Sets the error as "<origin>: <format>: <printf text>"; returns -1. */
int vv_fmt_fail(const struct vv_fmt_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prefixes an error set by a callee (e.g. vv_store_insert_loaded) the same
 * way, plus "<where>: ". */
int vv_fmt_fail_prefix(const struct vv_fmt_ctx *c, const char *where);

/* Adds one line "<Name>-<guid>: <text>" to r (r may be NULL).  -1 on
 * allocation failure. */
int vv_fmt_report_var(struct vv_format_report *r, const struct vv_variable *v,
		      const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Adds a line that is not about one variable. */
int vv_fmt_report_line(struct vv_format_report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

bool vv_fmt_all_zero(const uint8_t *p, size_t n);
bool vv_fmt_name_is_ascii(const struct vv_variable *v);

/* Base64 (RFC 4648, standard alphabet, '=' padding).  Encode: malloc'd,
 * NUL-terminated, no line breaks, then one '\n'.  Decode skips ASCII
 * whitespace; -1 with *bad_offset at the first offending byte. */
char *vv_base64_encode(const uint8_t *data, size_t size, size_t *out_len);
int vv_base64_decode(const uint8_t *text, size_t len, uint8_t **out, size_t *out_size,
		     size_t *bad_offset);
/* True if text (after leading whitespace) begins with the base64 of the
 * magic bytes given (whose length is a multiple of 3 up to 9 bytes is not
 * required: only whole 6-bit groups are compared). */
bool vv_base64_has_prefix(const uint8_t *text, size_t len, const char *magic, size_t magic_len);

/* CRC-32 (IEEE 802.3 / zlib) as edk2 CalculateCrc32. */
uint32_t vv_fmt_crc32(const uint8_t *p, size_t n);

/* ASCII whitespace as JSON and base64 skip it (C's isspace in the C locale). */
bool vv_fmt_is_space(uint8_t ch);

#endif
