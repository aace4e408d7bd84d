/*
 * src/backend/file_backend.h -- test-only fault injection for the JSON
 * file backend, and the file reader the journal backend shares with it
 * (not public API; the atomic replace itself is core/file_replace.h).
 *
 * A test arms one step of the next commit to fail with a given errno, as if
 * the system call had returned it; the step is then disarmed.  This is how
 * tests reach failures that cannot be produced for root (ENOSPC on fsync,
 * EIO on rename) without touching the environment.
 */
#ifndef VMVARS_FILE_BACKEND_H
#define VMVARS_FILE_BACKEND_H

#include <vmvars/backend.h>

#include "core/file_replace.h"  /* vv_file_sync_parent, the replace steps */

/* The steps of the atomic replace (core/file_replace.h) the commit uses. */
enum vv_file_step {
	VV_FILE_STEP_NONE = VV_REPLACE_STEP_NONE,
	VV_FILE_STEP_OPEN = VV_REPLACE_STEP_OPEN,       /* creating <path>.tmp.<pid> */
	VV_FILE_STEP_WRITE = VV_REPLACE_STEP_WRITE,     /* writing it */
	VV_FILE_STEP_FSYNC = VV_REPLACE_STEP_FSYNC,     /* fsync of the temporary file */
	VV_FILE_STEP_CLOSE = VV_REPLACE_STEP_CLOSE,     /* close of the temporary file */
	VV_FILE_STEP_RENAME = VV_REPLACE_STEP_RENAME,   /* rename over <path> */
	VV_FILE_STEP_DIRSYNC = VV_REPLACE_STEP_DIRSYNC, /* fsync of the directory */
};

/* b must come from vv_json_file_backend_new(). */
void vv_file_backend_fail_next(struct vv_backend *b, enum vv_file_step step, int err_no);

/* Reads all of fd (at most 256 MiB) into a malloc'd buffer; 0, or -1 with
 * errno. */
int vv_file_read_all(int fd, char **out, size_t *out_len);

#endif
