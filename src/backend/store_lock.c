/*
 * src/backend/store_lock.c -- the exclusive lock of a store file
 * (store_lock.h says what it is and why it is built this way).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/store_lock.h"

char *
vv_store_lock_path(const char *store_path)
{
	char *path;

	return asprintf(&path, "%s.lock", store_path) < 0 ? NULL : path;
}

/* The directory holding path ("." for a bare name); malloc'd. */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	return slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
}

/*
 * A lock file we have just created: the store's mode and, as root, the
 * store's owner (a new store: the directory's), so that the user the
 * store belongs to -- vmvarsd under its unit's User= -- can open it for
 * writing after root (a `vmvars` edit) created it.  Our own new inode,
 * reached through the descriptor: no symlink or hard-link games apply.
 */
static int
adopt_store_owner(int fd, const char *store_path, const char *lock_path, struct vv_error *err)
{
	struct stat st;
	mode_t mode = 0600;
	char *dir;

	if (stat(store_path, &st) == 0 && S_ISREG(st.st_mode)) {
		mode = st.st_mode & 0666;
	} else {
		dir = dir_of(store_path);
		if (dir == NULL || stat(dir, &st) != 0) {
			free(dir);
			return vv_error_set(err, "%s: cannot find the store's directory: %s",
					    lock_path, strerror(errno));
		}
		free(dir);
	}
	if (geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) != 0)
		return vv_error_set(err, "%s: chown to %u:%u: %s", lock_path, (unsigned)st.st_uid,
				    (unsigned)st.st_gid, strerror(errno));
	if (fchmod(fd, mode | 0600) != 0)
		return vv_error_set(err, "%s: chmod: %s", lock_path, strerror(errno));
	return 0;
}

/* The refusal: names the store, the holder as its lock file records it,
 * and what to do. */
static int
refuse(int fd, const char *store_path, struct vv_error *err)
{
	char buf[128], prog[64] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid = 0;

	buf[n > 0 ? n : 0] = '\0';
	/* The holder writes its record right after taking the lock: an
	 * empty or odd record is a holder caught in between (or an older
	 * writer); the lock itself is what counts. */
	if (sscanf(buf, "%ld %63[A-Za-z0-9._-]", &pid, prog) != 2 || pid <= 0)
		return vv_error_set(err, "%s is in use by another process; stop it, or wait for it "
				    "to finish", store_path);
	if (strcmp(prog, "vmvarsd") == 0)
		return vv_error_set(err, "%s is in use by vmvarsd (pid %ld); stop it or edit "
				    "through its management socket", store_path, pid);
	return vv_error_set(err, "%s is in use by %s (pid %ld); wait for it to finish",
			    store_path, prog, pid);
}

int
vv_store_lock(const char *store_path, const char *program, bool create, int *out,
	      struct vv_error *err)
{
	const int flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	char *path = vv_store_lock_path(store_path), record[96];
	struct stat st;
	int fd, len, rc = -1;

	*out = -1;
	if (path == NULL)
		return vv_error_set(err, "%s: out of memory", store_path);
	fd = create ? open(path, flags | O_CREAT | O_EXCL, 0600) : -1;
	if (fd >= 0) {
		if (adopt_store_owner(fd, store_path, path, err) != 0)
			goto out;
	} else if (!create || errno == EEXIST) {
		fd = open(path, flags);
		if (fd < 0 && errno == ENOENT && !create) {
			rc = 0;                 /* no writer has ever run here */
			goto out;
		}
	}
	if (fd < 0) {
		vv_error_set(err, "%s: cannot open its lock file %s: %s", store_path, path,
			     strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		vv_error_set(err, "%s: its lock file %s is not a regular file", store_path, path);
		goto out;
	}
	if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
		if (errno == EAGAIN || errno == EACCES)
			refuse(fd, store_path, err);
		else
			vv_error_set(err, "%s: lock %s: %s", store_path, path, strerror(errno));
		goto out;
	}
	/* Ours.  The record is for other processes' messages; it needs no
	 * fsync: after a crash the lock is free whatever the file says. */
	len = snprintf(record, sizeof(record), "%ld %s\n", (long)getpid(), program);
	if (ftruncate(fd, 0) != 0 || pwrite(fd, record, (size_t)len, 0) != len) {
		vv_error_set(err, "%s: write %s: %s", store_path, path, strerror(errno));
		goto out;
	}
	*out = fd;
	fd = -1;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

void
vv_store_unlock(int fd)
{
	/* Closing the only descriptor of the open file description releases
	 * its OFD lock. */
	if (fd >= 0)
		close(fd);
}
