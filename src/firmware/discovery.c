/*
 * src/firmware/discovery.c -- find firmware descriptors on the search path
 * (vmvars/firmware.h; reference §3.5 and §4.1).
 *
 * Rules encoded:
 *  - directories from most general to most specific: /usr/share/qemu/firmware,
 *    /etc/qemu/firmware, $XDG_CONFIG_HOME/qemu/firmware (§3.5);
 *  - one list merged by file name, a file in a more specific directory
 *    replaces a same-named one in a less specific directory (§3.5);
 *  - a zero-length file hides the same-named file of less specific
 *    directories and is itself no descriptor (§3.5 "touch ... disables it");
 *  - the list is sorted by file name, the first match wins (§3.5, §4.1);
 *  - a file that cannot be read or parsed is skipped, not fatal (§4.1
 *    "descriptors that fail to parse are skipped"); we keep it in the list
 *    as INVALID with its error so `list` and `--explain` can show it.
 * Only names ending in ".json" and not starting with "." are descriptors.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <vmvars/firmware.h>

#include "firmware/fw_internal.h"

static char *
join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 2);

	if (s == NULL)
		return NULL;
	memcpy(s, a, la);
	s[la] = '/';
	memcpy(s + la + 1, b, lb + 1);
	return s;
}

char **
vv_fw_default_dirs(size_t *n)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char **dirs = calloc(3, sizeof(*dirs));

	*n = 0;
	if (dirs == NULL)
		return NULL;
	if ((dirs[0] = strdup("/usr/share/qemu/firmware")) == NULL ||
	    (dirs[1] = strdup("/etc/qemu/firmware")) == NULL)
		goto oom;
	*n = 2;
	/* XDG base directory spec: an empty or relative value is ignored. */
	if (xdg != NULL && xdg[0] == '/')
		dirs[2] = join(xdg, "qemu/firmware");
	else if (home != NULL && home[0] == '/')
		dirs[2] = join(home, ".config/qemu/firmware");
	else
		return dirs;
	if (dirs[2] == NULL)
		goto oom;
	*n = 3;
	return dirs;
oom:
	vv_fw_free_strings(dirs, 3);
	*n = 0;
	return NULL;
}

static bool
is_descriptor_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".json") == 0;
}

static struct vv_fw_entry *
find_entry(struct vv_fw_list *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->entries[i].name, name) == 0)
			return &l->entries[i];
	return NULL;
}

/* Records path as the current winner for name; the previous winner (from a
 * less specific directory) moves to overridden. */
static int
add_file(struct vv_fw_list *l, const char *name, char *path)
{
	struct vv_fw_entry *e = find_entry(l, name), *grown;
	char **ov;

	if (e != NULL) {
		ov = realloc(e->overridden, (e->n_overridden + 1) * sizeof(*ov));
		if (ov == NULL)
			return -1;
		e->overridden = ov;
		e->overridden[e->n_overridden++] = e->path;
		e->path = path;
		return 0;
	}
	grown = realloc(l->entries, (l->n + 1) * sizeof(*grown));
	if (grown == NULL)
		return -1;
	l->entries = grown;
	e = &l->entries[l->n];
	memset(e, 0, sizeof(*e));
	if ((e->name = strdup(name)) == NULL)
		return -1;
	e->path = path;
	l->n++;
	return 0;
}

static int
scan_dir(struct vv_fw_list *l, const char *dir, struct vv_error *err)
{
	struct dirent *de;
	char *path;
	DIR *dh;

	if ((dh = opendir(dir)) == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;     /* a search directory that does not exist */
		return vv_error_set(err, "%s: cannot read directory: %s", dir, strerror(errno));
	}
	while ((errno = 0, de = readdir(dh)) != NULL) {
		if (!is_descriptor_name(de->d_name))
			continue;
		if ((path = join(dir, de->d_name)) == NULL || add_file(l, de->d_name, path) != 0) {
			free(path);
			closedir(dh);
			return vv_error_set(err, "%s: out of memory", dir);
		}
	}
	if (errno != 0) {
		int e = errno;

		closedir(dh);
		return vv_error_set(err, "%s: cannot read directory: %s", dir, strerror(e));
	}
	closedir(dh);
	return 0;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct vv_fw_entry *)a)->name, ((const struct vv_fw_entry *)b)->name);
}

/* Decides the state of one entry from its winning file: a zero-length file
 * (or a link to one, e.g. /dev/null) masks; otherwise parse. */
static int
resolve_entry(struct vv_fw_entry *e)
{
	struct vv_error perr;
	struct stat st;

	if (stat(e->path, &st) == 0 && st.st_size == 0 &&
	    (S_ISREG(st.st_mode) || S_ISCHR(st.st_mode))) {
		e->state = VV_FW_ENTRY_MASKED;
		return 0;
	}
	if ((e->desc = vv_fw_descriptor_load(e->path, &perr)) != NULL) {
		e->state = VV_FW_ENTRY_OK;
		return 0;
	}
	e->state = VV_FW_ENTRY_INVALID;
	return (e->error = strdup(perr.msg)) == NULL ? -1 : 0;
}

struct vv_fw_list *
vv_fw_discover(const char *const *dirs, size_t n_dirs, struct vv_error *err)
{
	struct vv_fw_list *l = calloc(1, sizeof(*l));
	size_t i;

	if (l == NULL || (n_dirs != 0 && (l->dirs = calloc(n_dirs, sizeof(*l->dirs))) == NULL))
		goto oom;
	for (i = 0; i < n_dirs; i++) {
		if ((l->dirs[i] = strdup(dirs[i])) == NULL)
			goto oom;
		l->n_dirs++;
	}
	for (i = 0; i < n_dirs; i++) {
		if (scan_dir(l, dirs[i], err) != 0) {
			vv_fw_list_free(l);
			return NULL;
		}
	}
	if (l->n > 1)
		qsort(l->entries, l->n, sizeof(*l->entries), by_name);
	for (i = 0; i < l->n; i++)
		if (resolve_entry(&l->entries[i]) != 0)
			goto oom;
	return l;
oom:
	vv_fw_list_free(l);
	vv_error_set(err, "firmware discovery: out of memory");
	return NULL;
}

const struct vv_fw_entry *
vv_fw_list_find(const struct vv_fw_list *l, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < l->n; i++) {
		const char *en = l->entries[i].name;

		if (strcmp(en, name) == 0 ||
		    (strlen(en) == n + 5 && strncmp(en, name, n) == 0 && strcmp(en + n, ".json") == 0))
			return &l->entries[i];
	}
	return NULL;
}

void
vv_fw_list_free(struct vv_fw_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->entries[i].name);
		free(l->entries[i].path);
		vv_fw_free_strings(l->entries[i].overridden, l->entries[i].n_overridden);
		vv_fw_descriptor_free(l->entries[i].desc);
		free(l->entries[i].error);
	}
	free(l->entries);
	vv_fw_free_strings(l->dirs, l->n_dirs);
	free(l);
}
