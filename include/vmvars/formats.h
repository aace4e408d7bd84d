/*
 * vmvars/formats.h -- every varstore file format behind one interface
 * (issue #5): detection, loading into a store, saving a store.
 *
 * Formats (facts: shared/reference/varstore-formats.md §2-§7,
 * peer-services.md for the Xen blob):
 *   VV_FORMAT_JSON      JSON v2 (QEMU / virt-firmware / python-uefivars)
 *   VV_FORMAT_OVMF_FD   edk2 OVMF_VARS.fd / ArmVirt flash (FV + variable
 *                       store + FTW areas), 2 MiB and 4 MiB builds and
 *                       ArmVirt (AAVMF, padded to 64 MiB or not); a blank
 *                       flash image (all 0x00 or all 0xFF) is an empty store
 *   VV_FORMAT_AWS       the AWS uefi-vars blob (CRC32C, zlib with the
 *                       preset dictionary)
 *   VV_FORMAT_XEN       Xen varstored "VARS" blob, v1 and v2
 *   VV_FORMAT_EFIVARFS  a Linux efivarfs directory (Name-GUID files:
 *                       4-byte attributes + data); import only
 *
 * Loading adds variables with vv_store_insert_loaded() (host view, no
 * guest rules) into an empty store; on error the store is left empty and
 * err names the file, the format, and the offset or field.  Saving never
 * writes a file itself: it returns bytes, and callers write them with
 * vv_write_file_atomic().  What a target format cannot hold (timestamps,
 * digests, volatile variables, non-ASCII names, ...) is listed in the
 * report rather than dropped silently.
 */
#ifndef VMVARS_FORMATS_H
#define VMVARS_FORMATS_H

#include <vmvars/store.h>

#ifdef __cplusplus
extern "C" {
#endif

enum vv_format {
	VV_FORMAT_UNKNOWN = 0,
	VV_FORMAT_JSON,
	VV_FORMAT_OVMF_FD,
	VV_FORMAT_AWS,
	VV_FORMAT_XEN,
	VV_FORMAT_EFIVARFS,
};

const char *vv_format_name(enum vv_format f);            /* "json", "fd", ... */
enum vv_format vv_format_from_name(const char *name);    /* UNKNOWN if none */

/* Detects the format of a file's bytes (efivarfs is a directory, so the
 * caller decides that one).  VV_FORMAT_UNKNOWN when nothing matches. */
enum vv_format vv_format_detect(const uint8_t *data, size_t size);

/* Loads bytes of format f.  origin names the file in messages. */
int vv_format_load(enum vv_format f, const uint8_t *data, size_t size, const char *origin,
		   struct vv_store *s, struct vv_error *err);

/* Loads a file or (efivarfs) a directory, detecting the format unless f is
 * given; *detected (may be NULL) gets the format used. */
int vv_format_load_path(const char *path, enum vv_format f, struct vv_store *s,
			enum vv_format *detected, struct vv_error *err);

/* What a save could not represent: one line per item, e.g.
 * "BootOrder-8be4...: volatile variable not stored". */
struct vv_format_report {
	char **lines;
	size_t count;
};
void vv_format_report_free(struct vv_format_report *r);

/*
 * Serialises the store in format f.  For VV_FORMAT_OVMF_FD, template (may be
 * NULL) is an existing flash image whose geometry (sizes, FTW areas) is
 * kept (a blank one is formatted, see vv_format_save_fd_layout); without
 * one the 4 MiB build's layout (540,672 bytes) is produced.  *out is
 * malloc'd.  report may be NULL.
 */
int vv_format_save(enum vv_format f, const struct vv_store *s, const uint8_t *template_data,
		   size_t template_size, uint8_t **out, size_t *out_size,
		   struct vv_format_report *report, struct vv_error *err);

/* Which edk2 flash layout an fd save produces (formats §2.1). */
enum vv_fd_layout {
	VV_FD_LAYOUT_AUTO = 0,  /* the template's; the 4 MiB build without one */
	VV_FD_LAYOUT_OVMF_2M,   /* OVMF_VARS.fd, 0x20000 bytes */
	VV_FD_LAYOUT_OVMF_4M,   /* OVMF_VARS_4M.fd, 0x84000 bytes */
	VV_FD_LAYOUT_ARMVIRT,   /* ArmVirt QEMU_VARS.fd / AAVMF, 0xC0000 bytes */
};

/*
 * vv_format_save() for VV_FORMAT_OVMF_FD with a chosen layout.
 *  - No template: the layout's pristine image holding s (AUTO: 4 MiB).
 *  - A blank template (every byte 0x00, or every byte 0xFF, e.g. Debian's
 *    64 MiB AAVMF_VARS.fd): the layout is written at offset 0 and every
 *    byte after it is the template's; the size is the template's.  AUTO
 *    picks by size: 0x20000 -> 2 MiB, 0x84000 -> 4 MiB, any other size of
 *    at least 0xC0000 -> ArmVirt; other sizes fail.  An explicit layout
 *    must fit the template.
 *  - A formatted template keeps its own geometry; layout must be AUTO.
 */
int vv_format_save_fd_layout(const struct vv_store *s, enum vv_fd_layout layout,
			     const uint8_t *template_data, size_t template_size, uint8_t **out,
			     size_t *out_size, struct vv_format_report *report,
			     struct vv_error *err);

/* Writes bytes to path atomically (temp file, fsync, rename, directory
 * fsync); the old file, if any, is untouched on failure.  A symlink is
 * written through (the file it points at is replaced); the new file keeps
 * the old one's owner, group, mode and SELinux label; an immutable,
 * read-only or hard-linked file is refused with a message saying so
 * (docs/cli.md "How vmvars writes a file"). */
int vv_write_file_atomic(const char *path, const uint8_t *data, size_t size,
			 struct vv_error *err);

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_FORMATS_H */
