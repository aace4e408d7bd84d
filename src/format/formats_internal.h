/*
 * src/format/formats_internal.h -- what the format modules share (not
 * public API): the error context every reader reports through, the save
 * report, base64, and each format's entry points, which
 * src/format/formats.c dispatches to (vmvars/formats.h).
 *
 * Reader contract: a loader adds variables to the store it is given with
 * vv_store_insert_loaded() and returns 0, or -1 with the error set.  The
 * store it is given is always a scratch store (formats.c moves the
 * variables into the caller's store only after the whole file loaded), so
 * a loader may fail half-way without leaving anything behind.
 */
#ifndef VMVARS_FORMATS_INTERNAL_H
#define VMVARS_FORMATS_INTERNAL_H

#include <stdarg.h>

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

/* ---- per-format entry points ---- */

bool vv_fd_detect(const uint8_t *data, size_t size);
int vv_fd_load(const uint8_t *data, size_t size, const struct vv_fmt_ctx *c, struct vv_store *s);
int vv_fd_save(const struct vv_store *s, enum vv_fd_layout layout, const uint8_t *template_data,
	       size_t template_size, uint8_t **out, size_t *out_size, struct vv_format_report *r, struct vv_error *err);

bool vv_aws_detect(const uint8_t *data, size_t size);
int vv_aws_load(const uint8_t *data, size_t size, const struct vv_fmt_ctx *c, struct vv_store *s);
int vv_aws_save(const struct vv_store *s, uint8_t **out, size_t *out_size,
		struct vv_format_report *r, struct vv_error *err);

bool vv_xen_detect(const uint8_t *data, size_t size);
int vv_xen_load(const uint8_t *data, size_t size, const struct vv_fmt_ctx *c, struct vv_store *s);
int vv_xen_save(const struct vv_store *s, uint8_t **out, size_t *out_size,
		struct vv_format_report *r, struct vv_error *err);

/* efivarfs: a directory; one entry is a file "<Name>-<guid>" holding u32
 * attributes + data (formats §5).  The entry parser is separate so that the
 * fuzz target can reach it without a directory. */
int vv_efivarfs_load_dir(const char *path, const struct vv_fmt_ctx *c, struct vv_store *s);
int vv_efivarfs_load_entry(const char *file_name, const uint8_t *data, size_t size,
			   const struct vv_fmt_ctx *c, struct vv_store *s);

/* The aws preset dictionary, generated at build time from
 * data/aws/uefivarstore-v0.dict (formats §4). */
extern const unsigned char vv_aws_dict_v0[];
extern const size_t vv_aws_dict_v0_size;

#endif
