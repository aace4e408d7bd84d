/*
 * src/format/formats_internal.h -- each format module's entry points,
 * which src/format/formats.c dispatches to (vmvars/formats.h); the helpers
 * the modules share are fmt_util.h (not public API).
 *
 * Reader contract: a loader adds variables to the store it is given with
 * vv_store_insert_loaded() and returns 0, or -1 with the error set.  The
 * store it is given is always a scratch store (formats.c moves the
 * variables into the caller's store only after the whole file loaded), so
 * a loader may fail half-way without leaving anything behind.
 */
#ifndef VMVARS_FORMATS_INTERNAL_H
#define VMVARS_FORMATS_INTERNAL_H

#include "format/fmt_util.h"

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
