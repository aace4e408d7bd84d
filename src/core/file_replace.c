/*
 * src/core/file_replace.c -- atomic file replace that keeps a user's file
 * what it was (file_replace.h says what and why, step by step).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/file_replace.h"

/* The SELinux label; copied as bytes (no libselinux, Debian 12 rules). */
#define SELINUX_XATTR "security.selinux"
/* The flags that forbid a rename over the file. */
#define LOCKED_FLAGS (FS_IMMUTABLE_FL | FS_APPEND_FL)

static bool
injected(const struct vv_replace *how, enum vv_replace_step step)
{
	return how->inject != NULL && how->inject(how->inject_ctx, step);
}

/* The directory holding path, malloc'd ("." for a bare name). */
static char *
parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* The directory holding path, opened for fsync; its name in *dir. */
static int
open_parent(const char *path, char **dir, struct vv_error *err)
{
	int fd;

	*dir = parent_dir(path);
	if (*dir == NULL)
		return vv_error_set(err, "%s: out of memory", path);
	fd = open(*dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		vv_error_set(err, "%s: open directory %s: %s", path, *dir, strerror(errno));
		free(*dir);
		*dir = NULL;
	}
	return fd;
}

static int
sync_parent_fd(const char *path, const char *dir, int fd, int fail_errno, struct vv_error *err)
{
	if (fail_errno != 0)
		errno = fail_errno;
	if (fail_errno != 0 || fsync(fd) != 0)
		return vv_error_set(err, "%s: fsync directory %s: %s", path, dir, strerror(errno));
	return 0;
}

int
vv_file_sync_parent(const char *path, int fail_errno, struct vv_error *err)
{
	char *dir;
	int fd = open_parent(path, &dir, err), rc;

	if (fd < 0)
		return -1;
	rc = sync_parent_fd(path, dir, fd, fail_errno, err);
	close(fd);
	free(dir);
	return rc;
}

char *
vv_file_resolve(const char *path, struct vv_error *err)
{
	char link[PATH_MAX];
	struct stat st;
	char *real;
	ssize_t n;

	if (lstat(path, &st) != 0 || !S_ISLNK(st.st_mode)) {
		real = strdup(path);
		if (real == NULL)
			vv_error_set(err, "%s: out of memory", path);
		return real;
	}
	real = realpath(path, NULL);
	if (real != NULL)
		return real;
	if (errno == ENOENT) {
		n = readlink(path, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = '\0';
		vv_error_set(err, "%s: is a symlink to %s, which does not exist; nothing written",
			     path, link);
	} else {
		vv_error_set(err, "%s: cannot follow the symlink: %s", path, strerror(errno));
	}
	return NULL;
}

/* What step 2 found out about the existing target. */
struct old_file {
	bool exists;
	struct stat st;
	int flags;               /* FS_IOC_GETFLAGS, 0 where unsupported */
	char label[256];         /* security.selinux */
	ssize_t label_len;       /* < 0: none */
};

/*
 * Step 2: the old file's facts, and the refusals.  The facts come from one
 * descriptor (fstat, ioctl) so they describe one inode.
 */
static int
judge(const char *path, const char *real, unsigned flags, struct old_file *o,
      struct vv_error *err)
{
	bool force = flags & VV_REPLACE_FORCE;
	int fd;

	o->label_len = -1;
	fd = open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 && (errno == EACCES || errno == EPERM))
		return vv_error_set(err, "%s: cannot be read by us (%s), so it cannot be rewritten "
				    "as it is; nothing written", path, strerror(errno));
	if (fd < 0)
		return vv_error_set(err, "%s: open: %s", path, strerror(errno));
	o->exists = true;
	if (fstat(fd, &o->st) != 0) {
		vv_error_set(err, "%s: fstat: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(o->st.st_mode)) {
		close(fd);
		return vv_error_set(err, "%s: %s; nothing written", path,
				    S_ISDIR(o->st.st_mode) ? "is a directory" : "is not a regular file");
	}
	if (ioctl(fd, FS_IOC_GETFLAGS, &o->flags) != 0)
		o->flags = 0; /* tmpfs before 6.0, FUSE, ...: no such flags */
	o->label_len = fgetxattr(fd, SELINUX_XATTR, o->label, sizeof(o->label));
	if (o->label_len < 0 && errno == ERANGE) {
		close(fd);
		return vv_error_set(err, "%s: its SELinux label is too long to copy; nothing written",
				    path);
	}
	close(fd);
	if ((o->flags & LOCKED_FLAGS) && !force)
		return vv_error_set(err, "%s: is %s (chattr +%c); nothing written (use --force to "
				    "clear the flag, write and set it again)", path,
				    (o->flags & FS_IMMUTABLE_FL) ? "immutable" : "append-only",
				    (o->flags & FS_IMMUTABLE_FL) ? 'i' : 'a');
	if (!force && ((o->st.st_mode & 0222) == 0 || faccessat(AT_FDCWD, real, W_OK, AT_EACCESS) != 0))
		return vv_error_set(err, "%s: is read-only (mode %04o%s); nothing written (use --force "
				    "to write it anyway; its mode is kept)", path,
				    (unsigned)(o->st.st_mode & 07777),
				    (o->st.st_mode & 0222) ? ", not writable by us" : "");
	if (!force && o->st.st_nlink > 1)
		return vv_error_set(err, "%s: has %lu hard links; replacing it would leave the other "
				    "names with the old content; nothing written (use --force to "
				    "replace this name only)", path, (unsigned long)o->st.st_nlink);
	return 0;
}

/* Step 4: the old file's owner, group, mode and label onto fd. */
static int
copy_identity(const char *path, const char *tmp, int fd, const struct old_file *o,
	      struct vv_error *err)
{
	if ((o->st.st_uid != geteuid() || o->st.st_gid != getegid()) &&
	    fchown(fd, o->st.st_uid, o->st.st_gid) != 0)
		return vv_error_set(err, "%s: cannot keep its owner %u:%u on %s: %s; nothing written",
				    path, (unsigned)o->st.st_uid, (unsigned)o->st.st_gid, tmp,
				    strerror(errno));
	/* After fchown, which clears set-id bits. */
	if (fchmod(fd, o->st.st_mode & 07777) != 0)
		return vv_error_set(err, "%s: cannot keep its mode %04o on %s: %s; nothing written",
				    path, (unsigned)(o->st.st_mode & 07777), tmp, strerror(errno));
	if (o->label_len >= 0 &&
	    fsetxattr(fd, SELINUX_XATTR, o->label, (size_t)o->label_len, 0) != 0)
		return vv_error_set(err, "%s: cannot keep its SELinux label on %s: %s; nothing written",
				    path, tmp, strerror(errno));
	return 0;
}

static int
write_all(const struct vv_replace *how, int fd, const unsigned char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n;

		if (injected(how, VV_REPLACE_STEP_WRITE))
			return -1;
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO; /* no progress on a regular file */
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Step 3: a new tmp (a leftover of our pid removed once). */
static int
create_temp(const struct vv_replace *how, const char *tmp, mode_t mode)
{
	const int oflags = O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC;
	int fd;

	if (injected(how, VV_REPLACE_STEP_OPEN))
		return -1;
	fd = open(tmp, oflags, mode);
	if (fd < 0 && errno == EEXIST) {
		if (unlink(tmp) != 0) {
			errno = EEXIST;
			return -1;
		}
		fd = open(tmp, oflags, mode);
	}
	return fd;
}

/* Sets (or clears) the flags of the file real. */
static int
set_flags(const char *real, int flags)
{
	int fd = open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = ioctl(fd, FS_IOC_SETFLAGS, &flags);
	if (rc != 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

/* Steps 3-7 on real, the target's resolved name. */
static int
replace_at(const char *path, const char *real, const void *data, size_t size,
	   const struct vv_replace *how, const struct old_file *o, struct vv_error *err)
{
	bool identity = (how->flags & VV_REPLACE_IDENTITY) && o->exists;
	bool unlock = identity && (o->flags & LOCKED_FLAGS);
	bool created = false;
	char *tmp = NULL, *dir = NULL;
	int fd, dirfd = -1, rc = -1;

	if (asprintf(&tmp, "%s.tmp.%ld", real, (long)getpid()) < 0)
		return vv_error_set(err, "%s: out of memory", path);
	fd = create_temp(how, tmp, how->new_mode);
	if (fd < 0) {
		vv_error_set(err, "%s: create %s: %s", path, tmp, strerror(errno));
		goto out;
	}
	created = true;
	if (identity && copy_identity(path, tmp, fd, o, err) != 0) {
		close(fd);
		goto out;
	}
	if (write_all(how, fd, data, size) != 0) {
		vv_error_set(err, "%s: write: %s", path, strerror(errno));
		close(fd);
		goto out;
	}
	if (injected(how, VV_REPLACE_STEP_FSYNC) || fsync(fd) != 0) {
		vv_error_set(err, "%s: fsync: %s", path, strerror(errno));
		close(fd);
		goto out;
	}
	if (injected(how, VV_REPLACE_STEP_CLOSE)) {
		int saved = errno;

		close(fd);
		errno = saved;
		vv_error_set(err, "%s: close: %s", path, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		vv_error_set(err, "%s: close: %s", path, strerror(errno));
		goto out;
	}
	/* Everything that can fail for want of memory or descriptors happens
	 * before the rename; only the directory's fsync is left after it. */
	dirfd = open_parent(real, &dir, err);
	if (dirfd < 0)
		goto out;
	if (unlock && set_flags(real, o->flags & ~LOCKED_FLAGS) != 0) {
		vv_error_set(err, "%s: cannot clear its %s flag: %s; nothing written", path,
			     (o->flags & FS_IMMUTABLE_FL) ? "immutable" : "append-only",
			     strerror(errno));
		goto out;
	}
	if (how->flags & VV_REPLACE_NEW) {
		if (injected(how, VV_REPLACE_STEP_RENAME) || link(tmp, real) != 0) {
			if (errno == EEXIST)
				vv_error_set(err, "%s: exists; nothing written (use --force to replace it)",
					     path);
			else
				vv_error_set(err, "%s: link %s: %s", path, tmp, strerror(errno));
			goto out;
		}
		unlink(tmp);
	} else {
		if (injected(how, VV_REPLACE_STEP_RENAME) || rename(tmp, real) != 0) {
			vv_error_set(err, "%s: rename %s: %s", path, tmp, strerror(errno));
			if (unlock)
				set_flags(real, o->flags); /* the old file as it was */
			goto out;
		}
	}
	created = false; /* tmp is now the target */
	if (unlock && set_flags(real, o->flags) != 0) {
		vv_error_set(err, "%s: written, but its %s flag could not be set again: %s", path,
			     (o->flags & FS_IMMUTABLE_FL) ? "immutable" : "append-only",
			     strerror(errno));
		goto out;
	}
	rc = sync_parent_fd(path, dir, dirfd,
			    injected(how, VV_REPLACE_STEP_DIRSYNC) ? errno : 0, err);
out:
	if (dirfd >= 0)
		close(dirfd);
	if (created)
		unlink(tmp);
	free(dir);
	free(tmp);
	return rc;
}

int
vv_file_replace(const char *path, const void *data, size_t size, const struct vv_replace *how,
		struct vv_error *err)
{
	static const struct vv_replace user_file = { VV_REPLACE_IDENTITY, 0644, NULL, NULL };
	struct old_file o = { .exists = false, .label_len = -1 };
	char *real;
	int rc;

	if (how == NULL)
		how = &user_file;
	if (path == NULL || *path == '\0')
		return vv_error_set(err, "empty file name");
	if (!(how->flags & VV_REPLACE_IDENTITY))
		return replace_at(path, path, data, size, how, &o, err);
	real = vv_file_resolve(path, err);
	if (real == NULL)
		return -1;
	rc = judge(path, real, how->flags, &o, err);
	if (rc == 0 && o.exists && (how->flags & VV_REPLACE_NEW))
		rc = vv_error_set(err, "%s: exists; nothing written (use --force to replace it)",
				  path);
	if (rc == 0)
		rc = replace_at(path, real, data, size, how, &o, err);
	free(real);
	return rc;
}
