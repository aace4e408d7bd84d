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
 * over <path> and fsync the directory (vv_file_replace,
 * core/file_replace.h).  Until the rename the old file is
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
#include "core/file_replace.h"

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

/* The primitive's fault-injection hook: the test's armed step. */
static bool
inject_hook(void *ctx, enum vv_replace_step step)
{
	return injected(ctx, (enum vv_file_step)step);
}

/*
 * The whole new content through the one atomic-replace primitive
 * (core/file_replace.h), without VV_REPLACE_IDENTITY: the store is the
 * daemon's own file in its state directory, which it created 0600, and
 * the sandbox allows neither the xattr calls nor the flag ioctls that
 * keeping a user's file's identity takes (a `vmvars` edit of the same
 * file keeps it the daemon's: the CLI writes with IDENTITY).
 */
static int
file_commit(struct vv_backend *b, const struct vv_store *s, const struct vv_change *change,
	    struct vv_error *err)
{
	struct file_backend *fb = to_file(b);
	const struct vv_replace how = { 0, 0600, inject_hook, fb };
	size_t len;
	char *text;
	int rc;

	text = vv_json_v2_serialize(s, &len);
	if (text == NULL)
		return vv_error_set(err, "%s: out of memory", fb->path);
	rc = vv_file_replace(fb->path, text, len, &how, err);
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
