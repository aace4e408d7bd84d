/*
 * src/format/efivarfs.c -- import of a Linux efivarfs directory
 * (varstore-formats §5): one file per variable, named "<Name>-<guid>"
 * (the GUID is the last 36 characters, so names may hold dashes), holding
 * a u32 LE attribute word and then the data.
 *
 * Files are read in name order (readdir order is arbitrary), so a load is
 * reproducible.  Every entry must be a regular file with a well-formed
 * name and at least the 4 attribute bytes; anything else fails the whole
 * import naming the file.  efivarfs cannot show timestamps or signer
 * digests, so AT variables are imported without them (python-uefivars
 * skips them instead; we keep the data, which is what the keys are).
 * Import only: there is no writer.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vmvars/ucs2.h>

#include "format/formats_internal.h"

#define ATTR_SIZE     4
/* Larger than any variable a firmware accepts (formats §2.7 limits). */
#define ENTRY_MAX     (1024u * 1024)

int
vv_efivarfs_load_entry(const char *file_name, const uint8_t *data, size_t size,
		       const struct vv_fmt_ctx *c, struct vv_store *s)
{
	size_t len = strlen(file_name), name_bytes;
	struct vv_variable v;
	int rc;

	if (len < VV_GUID_TEXT_LEN + 2 || file_name[len - VV_GUID_TEXT_LEN - 1] != '-')
		return vv_fmt_fail(c, "file name is not <Name>-<guid>");
	memset(&v, 0, sizeof(v));
	if (vv_guid_parse(file_name + len - VV_GUID_TEXT_LEN, &v.guid) != 0)
		return vv_fmt_fail(c, "file name does not end in a GUID");
	if (size < ATTR_SIZE)
		return vv_fmt_fail(c, "offset 0: %zu bytes, the attribute word needs 4", size);
	name_bytes = len - VV_GUID_TEXT_LEN - 1;
	v.name = vv_ucs2_from_utf8(file_name, name_bytes, &v.name_len);
	if (v.name == NULL)
		return vv_fmt_fail(c, "file name is not UTF-8 within UCS-2");
	v.attributes = vv_le32(data);
	v.data = (uint8_t *)data + ATTR_SIZE;
	v.data_size = size - ATTR_SIZE;
	rc = vv_store_insert_loaded(s, &v, c->err);
	if (rc != 0)
		vv_fmt_fail_prefix(c, "attributes/name");
	free(v.name);
	return rc;
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entry names of dir except "." and "..", sorted; NULL-safe free. */
static char **
list_dir(const char *path, size_t *n, const struct vv_fmt_ctx *c)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char **names = NULL, **grown;

	*n = 0;
	if (d == NULL) {
		vv_fmt_fail(c, "opendir: %s", strerror(errno));
		return NULL;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		grown = realloc(names, (*n + 2) * sizeof(*names));
		if (grown == NULL || (grown[*n] = strdup(e->d_name)) == NULL) {
			names = grown != NULL ? grown : names;
			goto fail;
		}
		names = grown;
		(*n)++;
		names[*n] = NULL;
	}
	closedir(d);
	if (names == NULL)
		names = calloc(1, sizeof(*names));
	if (names != NULL)
		qsort(names, *n, sizeof(*names), compare_names);
	return names;
fail:
	closedir(d);
	while (*n > 0)
		free(names[--(*n)]);
	free(names);
	vv_fmt_fail(c, "out of memory");
	return NULL;
}

/* Reads one file of the directory (regular, at most ENTRY_MAX bytes). */
static int
read_entry(int dirfd, const char *name, uint8_t **out, size_t *size, const struct vv_fmt_ctx *c)
{
	struct stat st;
	size_t got = 0;
	int fd;

	*out = NULL;
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return vv_fmt_fail(c, "open: %s", strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > ENTRY_MAX) {
		close(fd);
		return vv_fmt_fail(c, "not a regular file of at most %u bytes", ENTRY_MAX);
	}
	*out = malloc((size_t)st.st_size + 1);
	if (*out == NULL) {
		close(fd);
		return vv_fmt_fail(c, "out of memory");
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, *out + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		free(*out);
		*out = NULL;
		return vv_fmt_fail(c, "read: %s", strerror(errno));
	}
	*size = got;
	return 0;
}

int
vv_efivarfs_load_dir(const char *path, const struct vv_fmt_ctx *c, struct vv_store *s)
{
	struct vv_fmt_ctx fc = *c;
	char **names, *file_path = NULL;
	size_t n, i;
	int dirfd, rc = 0;

	names = list_dir(path, &n, c);
	if (names == NULL)
		return -1;
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		rc = vv_fmt_fail(c, "open: %s", strerror(errno));
	for (i = 0; rc == 0 && i < n; i++) {
		uint8_t *data;
		size_t size = 0;

		free(file_path);
		if (asprintf(&file_path, "%s/%s", path, names[i]) < 0) {
			file_path = NULL;
			rc = vv_fmt_fail(c, "out of memory");
			break;
		}
		fc.origin = file_path;
		rc = read_entry(dirfd, names[i], &data, &size, &fc);
		if (rc == 0)
			rc = vv_efivarfs_load_entry(names[i], data, size, &fc, s);
		free(data);
	}
	if (dirfd >= 0)
		close(dirfd);
	free(file_path);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}
