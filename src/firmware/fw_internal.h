/*
 * src/firmware/fw_internal.h -- helpers shared by the firmware descriptor
 * modules (descriptor, discovery, select, instantiate) and their tests.
 */
#ifndef VMVARS_FW_INTERNAL_H
#define VMVARS_FW_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <vmvars/error.h>

/* Reads a whole regular file of at most max bytes into a malloc'd,
 * NUL-terminated buffer.  0, or -1 with err naming the file. */
int vv_fw_read_file(const char *path, size_t max, char **out, size_t *out_len,
		    struct vv_error *err);

/* GLib's g_pattern_match_simple, which libvirt uses for machine globs
 * (§4.2 step 3): `*` matches any run of characters, `?` exactly one;
 * nothing else is special.  Iterative, O(len(pattern) * len(text)). */
bool vv_fw_glob_match(const char *pattern, const char *text);

/* The QEMU whose newest machine types a machine alias stands for: the
 * QEMU this project builds and tests against (scripts/qemu-build). */
#define VV_FW_QEMU_MACHINE_VERSION "10.2"

/* A QEMU machine alias (q35, pc on x86; virt on arm/aarch64) resolved to
 * the versioned type it stands for in out ("pc-q35-10.2"), for arch
 * (vv_fw_arch, -1 any): 1, or 0 when machine is no alias there. */
int vv_fw_machine_resolve(const char *machine, int arch, char *out, size_t out_size);

/*
 * Publishes data[0, len) as the file target through the one atomic-replace
 * primitive (core/file_replace.h): a temporary file next to target,
 * fsynced, then linked to target (refusing an existing target: "already
 * exists ... use --force") or, with replace, renamed over it keeping the
 * old file's identity (through a symlink, owner, mode, label), and the
 * directory fsynced.  A new file is 0600.  On any failure the temporary
 * file is removed and target is untouched.  0 or -1 with err.
 */
int vv_fw_publish_file(const char *target, bool replace, const void *data, size_t len,
		       struct vv_error *err);

#endif
