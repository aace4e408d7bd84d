/*
 * src/backend/file_backend.c -- the JSON v2 file backend (vmvars/backend.h;
 * device-abi §12, formats §3).
 *
 * Load: a missing or 0-byte file is an empty store (device-abi §12); any
 * other content must parse as JSON v2 or the load fails naming the file.
 *
 * Commit: unlike QEMU, which truncates and rewrites the file in place and
 * can lose the store in a crash (device-abi §12 "This is not atomic"), we
 * write the whole new content to <path>.tmp.<pid>, fsync it, rename it
 * over <path> and fsync the directory.  Until the rename the old file is
 * untouched; after it the new one is complete.  On failure the temporary
 * file is removed.  The one window left: if the directory fsync fails the
 * rename has happened but may not be durable; we report the failure (the
 * store then undoes the change in memory) and the next successful commit
 * rewrites the whole file, so disk and memory agree again.  Nothing else
 * can fail after the rename: the directory is opened before it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vmvars/backend.h>
#include <vmvars/json_v2.h>

#include "backend/file_backend.h"

/* A store file larger than this is refused before it is read: json-c
 * takes an int length, and no sane store comes near it. */
#define STORE_FILE_MAX (256u * 1024 * 1024)

struct file_backend {
	struct vv_backend base;     /* first: the vtable users see */
	char *path;
	/* test-only fault injection (file_backend.h) */
	enum vv_file_step fail_step;
	int fail_errno;
};

static struct file_backend *
to_file(struct vv_backend *b)
{
	return (struct file_backend *)b;
}

void
vv_file_backend_fail_next(struct vv_backend *b, enum vv_file_step step, int err_no)
{
	to_file(b)->fail_step = step;
	to_file(b)->fail_errno = err_no;
}

/* True (with errno set) if the test armed this step; disarms it. */
static bool
injected(struct file_backend *fb, enum vv_file_step step)
{
	if (fb->fail_step != step)
		return false;
	fb->fail_step = VV_FILE_STEP_NONE;
	errno = fb->fail_errno;
	return true;
}

/* ---- load ---- */

/* Reads all of fd into a malloc'd buffer; -1 with errno on failure. */
int
vv_file_read_all(int fd, char **out, size_t *out_len)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap), *bigger;
	ssize_t n;

	if (buf == NULL)
		return -1;
	for (;;) {
		if (len == cap) {
			if (cap >= STORE_FILE_MAX) {
				free(buf);
				errno = EFBIG;
				return -1;
			}
			bigger = realloc(buf, cap * 2);
			if (bigger == NULL) {
				free(buf);
				return -1;
			}
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;

			free(buf);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

static int
file_load(struct vv_backend *b, struct vv_store *s, struct vv_error *err)
{
	struct file_backend *fb = to_file(b);
	struct stat st;
	char *text;
	size_t len;
	int fd, rc;

	fd = open(fb->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0; /* no file yet: an empty store */
	if (fd < 0)
		return vv_error_set(err, "%s: open: %s", fb->path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		rc = vv_error_set(err, "%s: fstat: %s", fb->path, strerror(errno));
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = vv_error_set(err, "%s: %s", fb->path,
				  S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
		close(fd);
		return rc;
	}
	if (vv_file_read_all(fd, &text, &len) != 0) {
		rc = vv_error_set(err, "%s: read: %s", fb->path, strerror(errno));
		close(fd);
		return rc;
	}
	close(fd);
	rc = vv_json_v2_parse(s, text, len, fb->path, err);
	free(text);
	return rc;
}

/* ---- commit ---- */

/* Writes all len bytes, retrying on EINTR and short writes. */
static int
write_all(struct file_backend *fb, int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n;

		if (injected(fb, VV_FILE_STEP_WRITE))
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

/* The directory holding path, malloc'd ("." for a bare name). */
static char *
parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	dir = strndup(path, (size_t)(slash - path));
	return dir;
}

/* The directory holding path, opened for fsync; its name in *dir
 * (malloc'd).  -1 with err. */
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

/* fsync of an open directory; fail_errno != 0 fails it (fault injection). */
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

/*
 * Creates tmp.  O_EXCL: never write through a symlink or into a file
 * someone else holds open.  A leftover regular file of that name is from a
 * crashed run with our pid (common in containers, where the daemon is often
 * pid 1): it is removed once and the create retried.  Anything else there
 * (a directory) is an error.
 */
static int
create_temp(struct file_backend *fb, const char *tmp)
{
	const int flags = O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC;
	int fd;

	if (injected(fb, VV_FILE_STEP_OPEN))
		return -1;
	fd = open(tmp, flags, 0600);
	if (fd < 0 && errno == EEXIST) {
		if (unlink(tmp) != 0) {
			errno = EEXIST;
			return -1;
		}
		fd = open(tmp, flags, 0600);
	}
	return fd;
}

/*
 * Writes text to the new file tmp and makes it durable.  Returns 0, or -1
 * with err (tmp may exist; the caller unlinks it).
 */
static int
write_temp(struct file_backend *fb, const char *tmp, const char *text, size_t len,
	   bool *created, struct vv_error *err)
{
	int fd;

	fd = create_temp(fb, tmp);
	if (fd < 0)
		return vv_error_set(err, "%s: create %s: %s", fb->path, tmp, strerror(errno));
	*created = true;
	if (write_all(fb, fd, text, len) != 0) {
		vv_error_set(err, "%s: write: %s", fb->path, strerror(errno));
		close(fd);
		return -1;
	}
	if (injected(fb, VV_FILE_STEP_FSYNC) || fsync(fd) != 0) {
		vv_error_set(err, "%s: fsync: %s", fb->path, strerror(errno));
		close(fd);
		return -1;
	}
	/* close can report a deferred write error (NFS): check it. */
	if (injected(fb, VV_FILE_STEP_CLOSE)) {
		int saved = errno;

		close(fd);
		errno = saved;
		return vv_error_set(err, "%s: close: %s", fb->path, strerror(errno));
	}
	if (close(fd) != 0)
		return vv_error_set(err, "%s: close: %s", fb->path, strerror(errno));
	return 0;
}

static int
file_commit(struct vv_backend *b, const struct vv_store *s, const struct vv_change *change,
	    struct vv_error *err)
{
	struct file_backend *fb = to_file(b);
	char *text, *tmp = NULL, *dir = NULL;
	size_t len;
	bool created = false;
	int rc = -1, dirfd = -1;

	text = vv_json_v2_serialize(s, &len);
	if (text == NULL)
		return vv_error_set(err, "%s: out of memory", fb->path);
	if (asprintf(&tmp, "%s.tmp.%ld", fb->path, (long)getpid()) < 0) {
		tmp = NULL;
		vv_error_set(err, "%s: out of memory", fb->path);
		goto out;
	}
	if (write_temp(fb, tmp, text, len, &created, err) != 0)
		goto out;
	/* Everything that can fail for want of memory or descriptors happens
	 * before the rename: after it the new content is in place, and a
	 * failure then leaves disk ahead of the memory the store restores
	 * (the window described at the top of this file).  Only the
	 * directory's fsync itself is left after the rename. */
	dirfd = open_parent(fb->path, &dir, err);
	if (dirfd < 0)
		goto out;
	if (injected(fb, VV_FILE_STEP_RENAME) || rename(tmp, fb->path) != 0) {
		vv_error_set(err, "%s: rename %s: %s", fb->path, tmp, strerror(errno));
		goto out;
	}
	created = false; /* tmp is now path */
	rc = sync_parent_fd(fb->path, dir, dirfd,
			    injected(fb, VV_FILE_STEP_DIRSYNC) ? errno : 0, err);
out:
	if (dirfd >= 0)
		close(dirfd);
	if (created)
		unlink(tmp);
	free(dir);
	free(tmp);
	free(text);
	return rc;
}

static void
file_destroy(struct vv_backend *b)
{
	struct file_backend *fb = to_file(b);

	free(fb->path);
	free(fb);
}

static const struct vv_backend_ops file_ops = {
	.name = "json-file",
	.load = file_load,
	.commit = file_commit,
	.destroy = file_destroy,
};

struct vv_backend *
vv_json_file_backend_new(const char *path, struct vv_error *err)
{
	struct file_backend *fb;

	if (path == NULL || *path == '\0') {
		vv_error_set(err, "JSON store: empty path");
		return NULL;
	}
	fb = calloc(1, sizeof(*fb));
	if (fb == NULL || (fb->path = strdup(path)) == NULL) {
		free(fb);
		vv_error_set(err, "%s: out of memory", path);
		return NULL;
	}
	fb->base.ops = &file_ops;
	return &fb->base;
}
