/*
 * src/format/formats.c -- every varstore format behind one interface
 * (vmvars/formats.h): names, detection, loading into a scratch store and
 * then into the caller's, saving with a report of what the target cannot
 * hold, and the atomic file write.  The formats themselves live in
 * json_v2.c, ovmf_fd.c, aws.c, xen.c and efivarfs.c; the helpers they share
 * in fmt_util.c, which depends on none of them.
 *
 * Invariants:
 *  - a load either adds every variable of the file to the (empty) store or
 *    leaves it empty: the reader fills a scratch store with the same
 *    limits, and only a complete scratch store is moved over;
 *  - a save never touches a file; vv_write_file_atomic() does, and the old
 *    file is intact until the rename (core/file_replace.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vmvars/json_v2.h>

#include "core/file_replace.h"
#include "format/formats_internal.h"

static const struct {
	enum vv_format f;
	const char *name;
} format_names[] = {
	{ VV_FORMAT_JSON, "json" },
	{ VV_FORMAT_OVMF_FD, "fd" },
	{ VV_FORMAT_AWS, "aws" },
	{ VV_FORMAT_XEN, "xen" },
	{ VV_FORMAT_EFIVARFS, "efivarfs" },
};

const char *
vv_format_name(enum vv_format f)
{
	size_t i;

	for (i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
		if (format_names[i].f == f)
			return format_names[i].name;
	return "unknown";
}

/* Also accepts the names other tools use: python-uefivars' "edk2", and
 * "ovmf". */
enum vv_format
vv_format_from_name(const char *name)
{
	size_t i;

	if (name == NULL)
		return VV_FORMAT_UNKNOWN;
	for (i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
		if (strcmp(format_names[i].name, name) == 0)
			return format_names[i].f;
	if (strcmp(name, "edk2") == 0 || strcmp(name, "ovmf") == 0)
		return VV_FORMAT_OVMF_FD;
	return VV_FORMAT_UNKNOWN;
}

/* ---- detection ---- */

static bool
looks_like_json(const uint8_t *data, size_t size)
{
	size_t i = 0;

	while (i < size && vv_fmt_is_space(data[i]))
		i++;
	/* empty or whitespace-only is QEMU's empty JSON store (formats §3.1) */
	return i == size || data[i] == '{' || data[i] == '[';
}

enum vv_format
vv_format_detect(const uint8_t *data, size_t size)
{
	if (data == NULL)
		return size == 0 ? VV_FORMAT_JSON : VV_FORMAT_UNKNOWN;
	if (vv_aws_detect(data, size))
		return VV_FORMAT_AWS;
	if (vv_xen_detect(data, size))
		return VV_FORMAT_XEN;
	if (looks_like_json(data, size))
		return VV_FORMAT_JSON;
	if (vv_fd_detect(data, size))
		return VV_FORMAT_OVMF_FD;
	return VV_FORMAT_UNKNOWN;
}

/* ---- loading ---- */

static int
load_json(const uint8_t *data, size_t size, const struct vv_fmt_ctx *c, struct vv_store *s)
{
	size_t olen = strlen(c->origin);
	char rest[sizeof(c->err->msg)];

	/* the JSON parser names the origin and the field; add the format */
	if (vv_json_v2_parse(s, (const char *)data, size, c->origin, c->err) == 0)
		return 0;
	if (c->err != NULL) {
		const char *m = c->err->msg;

		if (strncmp(m, c->origin, olen) == 0 && strncmp(m + olen, ": ", 2) == 0)
			m += olen + 2;
		snprintf(rest, sizeof(rest), "%s", m);
		vv_fmt_fail(c, "%s", rest);
	}
	return -1;
}

static int
load_into(enum vv_format f, const uint8_t *data, size_t size, const struct vv_fmt_ctx *c,
	  struct vv_store *s)
{
	switch (f) {
	case VV_FORMAT_JSON:
		return load_json(data, size, c, s);
	case VV_FORMAT_OVMF_FD:
		return vv_fd_load(data, size, c, s);
	case VV_FORMAT_AWS:
		return vv_aws_load(data, size, c, s);
	case VV_FORMAT_XEN:
		return vv_xen_load(data, size, c, s);
	case VV_FORMAT_EFIVARFS:
		return vv_fmt_fail(c, "an efivarfs store is a directory, not bytes");
	default:
		return vv_fmt_fail(c, "unknown format");
	}
}

/*
 * Moves every variable of scratch into s.  s is empty and has the same
 * limits, so this only fails for lack of memory; the variables added so
 * far are then deleted again (s has no backend during a load in every
 * caller we have; if it has one the deletes are persisted like any).
 */
static int
move_loaded(struct vv_store *scratch, struct vv_store *s, const struct vv_fmt_ctx *c)
{
	const struct vv_variable *v, *u;

	for (v = vv_store_first(scratch); v != NULL; v = vv_store_next(v)) {
		if (vv_store_insert_loaded(s, v, c->err) == 0)
			continue;
		for (u = vv_store_first(scratch); u != v; u = vv_store_next(u))
			(void)vv_store_put(s, u->name, u->name_len, &u->guid, u->attributes,
					   NULL, 0, NULL);
		return vv_fmt_fail_prefix(c, "moving the loaded variables");
	}
	return 0;
}

static int
load_with(enum vv_format f, const uint8_t *data, size_t size, const char *path, bool is_dir,
	  const char *origin, struct vv_store *s, struct vv_error *err)
{
	struct vv_fmt_ctx c = { origin != NULL ? origin : "(input)", vv_format_name(f), err };
	struct vv_store *scratch;
	int rc;

	if (vv_store_count(s) != 0)
		return vv_fmt_fail(&c, "the target store is not empty");
	scratch = vv_store_new(vv_store_limits(s));
	if (scratch == NULL)
		return vv_fmt_fail(&c, "out of memory");
	if (is_dir)
		rc = vv_efivarfs_load_dir(path, &c, scratch);
	else
		rc = load_into(f, data, size, &c, scratch);
	if (rc == 0)
		rc = move_loaded(scratch, s, &c);
	vv_store_free(scratch);
	return rc;
}

int
vv_format_load(enum vv_format f, const uint8_t *data, size_t size, const char *origin,
	       struct vv_store *s, struct vv_error *err)
{
	if (data == NULL && size != 0)
		return vv_error_set(err, "%s: no data", origin != NULL ? origin : "(input)");
	return load_with(f, data, size, NULL, false, origin, s, err);
}

/* Reads a whole regular file (at most VV_FMT_FILE_MAX bytes). */
static int
read_file(const char *path, uint8_t **out, size_t *out_size, struct vv_error *err)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	int fd;

	*out = NULL;
	*out_size = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vv_error_set(err, "%s: open: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return vv_error_set(err, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > VV_FMT_FILE_MAX) {
		close(fd);
		return vv_error_set(err, "%s: %lld bytes is larger than the %u-byte limit", path,
				    (long long)st.st_size, VV_FMT_FILE_MAX);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return vv_error_set(err, "%s: out of memory", path);
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			vv_error_set(err, "%s: read: %s", path, n == 0 ? "file shrank" : strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	buf[got] = 0;
	*out = buf;
	*out_size = got;
	return 0;
}

int
vv_format_load_path(const char *path, enum vv_format f, struct vv_store *s,
		    enum vv_format *detected, struct vv_error *err)
{
	struct stat st;
	uint8_t *data;
	size_t size;
	int rc;

	if (stat(path, &st) != 0)
		return vv_error_set(err, "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		if (f != VV_FORMAT_UNKNOWN && f != VV_FORMAT_EFIVARFS)
			return vv_error_set(err, "%s: %s: is a directory", path, vv_format_name(f));
		if (detected != NULL)
			*detected = VV_FORMAT_EFIVARFS;
		return load_with(VV_FORMAT_EFIVARFS, NULL, 0, path, true, path, s, err);
	}
	if (f == VV_FORMAT_EFIVARFS)
		return vv_error_set(err, "%s: efivarfs: not a directory", path);
	if (read_file(path, &data, &size, err) != 0)
		return -1;
	if (f == VV_FORMAT_UNKNOWN)
		f = vv_format_detect(data, size);
	if (f == VV_FORMAT_UNKNOWN) {
		free(data);
		return vv_error_set(err, "%s: unknown format (not JSON, an OVMF_VARS.fd flash "
				    "image, an aws blob or a Xen VARS blob)", path);
	}
	if (detected != NULL)
		*detected = f;
	rc = vv_format_load(f, data, size, path, s, err);
	free(data);
	return rc;
}

/* ---- saving ---- */

/*
 * JSON keeps NV variables only, `time` only with AT (json_v2.h); names
 * survive here but QEMU's jsonfile= loader keeps only ASCII (formats §3.1,
 * §12 item 4), so such names are reported too.
 */
static int
report_json(const struct vv_store *s, struct vv_format_report *r)
{
	const struct vv_variable *v;
	int rc = 0;

	for (v = vv_store_first(s); v != NULL; v = vv_store_next(v)) {
		if (!(v->attributes & VV_ATTR_NV)) {
			rc |= vv_fmt_report_var(r, v, "volatile variable not stored");
			continue;
		}
		if (v->has_time && !(v->attributes & VV_ATTR_AT) &&
		    !vv_fmt_all_zero(v->time.b, sizeof(v->time.b)))
			rc |= vv_fmt_report_var(r, v, "timestamp of a non-AT variable not stored");
		if (!vv_fmt_name_is_ascii(v))
			rc |= vv_fmt_report_var(r, v, "non-ASCII name kept, but QEMU's jsonfile= "
						"loader keeps only ASCII names");
	}
	return rc;
}

static int
save_json(const struct vv_store *s, uint8_t **out, size_t *out_size, struct vv_format_report *r,
	  struct vv_error *err)
{
	char *text;
	size_t len;

	if (report_json(s, r) != 0)
		return vv_error_set(err, "json: out of memory");
	text = vv_json_v2_serialize(s, &len);
	if (text == NULL)
		return vv_error_set(err, "json: out of memory");
	*out = (uint8_t *)text;
	*out_size = len;
	return 0;
}

int
vv_format_save(enum vv_format f, const struct vv_store *s, const uint8_t *template_data,
	       size_t template_size, uint8_t **out, size_t *out_size,
	       struct vv_format_report *report, struct vv_error *err)
{
	*out = NULL;
	*out_size = 0;
	if (template_data != NULL && f != VV_FORMAT_OVMF_FD)
		return vv_error_set(err, "%s: a template applies only to the fd format",
				    vv_format_name(f));
	switch (f) {
	case VV_FORMAT_JSON:
		return save_json(s, out, out_size, report, err);
	case VV_FORMAT_OVMF_FD:
		return vv_fd_save(s, VV_FD_LAYOUT_AUTO, template_data, template_size, out, out_size,
				  report, err);
	case VV_FORMAT_AWS:
		return vv_aws_save(s, out, out_size, report, err);
	case VV_FORMAT_XEN:
		return vv_xen_save(s, out, out_size, report, err);
	case VV_FORMAT_EFIVARFS:
		return vv_error_set(err, "efivarfs: import only; it cannot be written");
	default:
		return vv_error_set(err, "unknown format");
	}
}

int
vv_format_save_fd_layout(const struct vv_store *s, enum vv_fd_layout layout,
			 const uint8_t *template_data, size_t template_size, uint8_t **out,
			 size_t *out_size, struct vv_format_report *report, struct vv_error *err)
{
	*out = NULL;
	*out_size = 0;
	return vv_fd_save(s, layout, template_data, template_size, out, out_size, report, err);
}

/* ---- atomic file write ---- */

/* The one atomic-replace primitive (core/file_replace.h) for a user's
 * file: through a symlink, owner, group, mode and SELinux label kept,
 * immutable, read-only and hard-linked files refused. */
int
vv_write_file_atomic(const char *path, const uint8_t *data, size_t size, struct vv_error *err)
{
	return vv_file_replace(path, data, size, NULL, err);
}
