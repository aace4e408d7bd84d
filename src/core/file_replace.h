/*
 * src/core/file_replace.h -- the one way vmvars replaces a file: atomic
 * replace (a crash leaves the old file or the new one, never a mix) that,
 * for a user's file, also keeps the file's identity.  Not public API;
 * vv_write_file_atomic (vmvars/formats.h), the JSON file backend, the
 * journal backend's snapshot and every writing `vmvars` command use it.
 *
 * It lives in core because both src/format and src/backend need it and
 * dependencies point one way (everything -> core); before, formats.c
 * reached up into the file backend for it.
 *
 * The steps (each checked; any failure before the rename removes the
 * temporary file and leaves the target as it was):
 *   1. resolve:  with VV_REPLACE_IDENTITY, a symlink at path is followed to
 *                the real file, and everything below happens beside it --
 *                replacing the link itself would leave the file the VM
 *                uses unchanged (issue #17);
 *   2. judge:    with VV_REPLACE_IDENTITY, an existing target that is
 *                immutable or append-only (FS_IOC_GETFLAGS), read-only
 *                (no write bit at all, or the caller may not write it) or
 *                hard-linked (st_nlink > 1) is refused, see below;
 *   3. create:   <real>.tmp.<pid>, O_CREAT|O_EXCL (never through a symlink,
 *                never into a file someone holds open); a leftover of a
 *                crashed run with our pid is removed once;
 *   4. identity: with VV_REPLACE_IDENTITY, the old file's owner and group
 *                (fchown, when they differ from ours), mode (fchmod, exact,
 *                not umask'd) and SELinux label (the security.selinux
 *                xattr, copied as bytes: no libselinux) go onto the new
 *                file before it has content;
 *   5. write, fsync, close (close reports deferred errors, NFS);
 *   6. publish:  rename over the target -- or, with VV_REPLACE_NEW,
 *                link() (fails with EEXIST instead of replacing: no race
 *                between a check and the write) and unlink the temporary;
 *   7. fsync the directory, opened before the rename so that nothing but
 *                that fsync can fail after it.
 *
 * Hard links: a rename gives the name a new inode, so the other names of
 * a hard-linked file would keep the old content with nothing to say so.
 * Writing in place instead keeps the link but is not atomic (a crash in
 * the middle leaves a mix of old and new bytes, which a varstore must
 * never be), so the safe behaviour is to refuse; VV_REPLACE_FORCE
 * replaces this name only (the link is broken, the other names keep the
 * old content) -- the caller asked for it and the message said so.
 *
 * Immutable and append-only files cannot be renamed over.  With
 * VV_REPLACE_FORCE the flag is cleared on the old file (needs
 * CAP_LINUX_IMMUTABLE), the new file is published and the same flag set
 * on it.  A crash between the clear and the rename leaves the old content
 * without its flag (never lost content).
 */
#ifndef VMVARS_CORE_FILE_REPLACE_H
#define VMVARS_CORE_FILE_REPLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <vmvars/error.h>

/* The target is a user's file: follow a symlink, keep owner, group, mode
 * and SELinux label, refuse an immutable, read-only or hard-linked one. */
#define VV_REPLACE_IDENTITY 0x1u
/* With IDENTITY: write an immutable, read-only or hard-linked target
 * anyway (see above for what each means). */
#define VV_REPLACE_FORCE    0x2u
/* The target must not exist: published with link(), never replaced
 * ("PATH: exists (use --force to replace it)"). */
#define VV_REPLACE_NEW      0x4u

/* The system calls a test can make fail (fault injection). */
enum vv_replace_step {
	VV_REPLACE_STEP_NONE = 0,
	VV_REPLACE_STEP_OPEN,      /* creating <path>.tmp.<pid> */
	VV_REPLACE_STEP_WRITE,     /* writing it */
	VV_REPLACE_STEP_FSYNC,     /* fsync of the temporary file */
	VV_REPLACE_STEP_CLOSE,     /* close of the temporary file */
	VV_REPLACE_STEP_RENAME,    /* rename (or link) over <path> */
	VV_REPLACE_STEP_DIRSYNC,   /* fsync of the directory */
};

struct vv_replace {
	unsigned flags;            /* VV_REPLACE_* */
	mode_t new_mode;           /* a new file's mode (before umask); an
	                            * existing one's is kept with IDENTITY */
	/* Test-only: returns true with errno set to fail that step. */
	bool (*inject)(void *ctx, enum vv_replace_step step);
	void *inject_ctx;
};

/*
 * Replaces (or creates) the file path with size bytes of data as described
 * above.  how NULL: { VV_REPLACE_IDENTITY, 0644 }.  Returns 0, or -1 with
 * err: "PATH: create TMP: ...", "PATH: write: ...", "PATH: fsync: ...",
 * "PATH: close: ...", "PATH: rename TMP: ...", "PATH: fsync directory DIR:
 * ..." or one of the refusals, which say what is wrong, that nothing was
 * written and what --force would do.  After a failed directory fsync the
 * new content is in place but maybe not durable.
 */
int vv_file_replace(const char *path, const void *data, size_t size, const struct vv_replace *how,
		    struct vv_error *err);

/*
 * The file path names: a symlink (chain) at the end of path followed to
 * the file it points at, malloc'd; path itself (copied) when it is not a
 * symlink or does not exist.  NULL with err for a dangling or looping
 * symlink ("PATH: is a symlink to TARGET, which does not exist").
 */
char *vv_file_resolve(const char *path, struct vv_error *err);

/* fsyncs the directory holding path, so a rename or create in it is
 * durable.  fail_errno != 0 makes the fsync fail with it (fault
 * injection).  0, or -1 with err naming path and the directory. */
int vv_file_sync_parent(const char *path, int fail_errno, struct vv_error *err);

#endif
