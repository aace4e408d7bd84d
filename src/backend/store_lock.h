/*
 * src/backend/store_lock.h -- one writer per store file (issue #12): the
 * lock vmvarsd, `vmvarsd --check` and every writing `vmvars` command take
 * before they touch a store.  Not public API.
 *
 * The lock is an OFD write lock (fcntl F_OFD_SETLK) on the whole of
 * <store>.lock, a file beside the store:
 *   - beside it, not on it: the store file is replaced by rename (temp file
 *     + rename, file_backend.c, vv_write_file_atomic), so a lock on it
 *     would stay on the old inode while the next writer locks the new one;
 *   - never deleted: unlinking a lock file lets two processes hold locks
 *     on two different inodes of the same name;
 *   - an OFD lock, not a POSIX record lock: it belongs to the open file
 *     description, so closing another descriptor of the same file (the
 *     C library, a test) does not drop it, and it is kept through chroot,
 *     setuid, Landlock and seccomp (no system call is needed to hold it);
 *     the kernel releases it when the holder exits, however it exits, so
 *     there is no stale lock to clean up after a crash;
 *   - a write lock needs a descriptor open for writing: only whoever may
 *     write the lock file can take it (a reader of the directory cannot
 *     lock a VM out of its store);
 *   - the file holds "PID PROGRAM\n" of the holder, for the refusal
 *     message only (correctness never depends on it).
 */
#ifndef VMVARS_STORE_LOCK_H
#define VMVARS_STORE_LOCK_H

#include <stdbool.h>

#include <vmvars/error.h>

/*
 * Takes the exclusive lock of the store file store_path and records
 * program and our pid in it.  *fd gets the lock's descriptor (close it, or
 * exit, to release).  A new lock file gets the store file's mode and, when
 * we are root, its owner (else the directory's owner), so that whoever may
 * write the store may lock it.
 *
 * create false (readers that only want a consistent view): a missing lock
 * file is not created; that means no writer ever ran on the store, and the
 * call returns 0 with *fd = -1.
 *
 * Returns 0, or -1 with err: held by someone else ("STORE is in use by
 * PROGRAM (pid N); WHAT TO DO"), or the lock file cannot be opened.
 */
int vv_store_lock(const char *store_path, const char *program, bool create, int *fd,
		  struct vv_error *err);

/* Releases a lock taken by vv_store_lock (fd may be -1). */
void vv_store_unlock(int fd);

/* The lock file of a store: "<store_path>.lock", malloc'd (NULL: no memory). */
char *vv_store_lock_path(const char *store_path);

#endif
