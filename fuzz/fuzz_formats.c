/*
 * fuzz/fuzz_formats.c -- libFuzzer target for every varstore format reader
 * (vmvars/formats.h; varstore-formats §2-§5, peer-services §6.3).
 *
 * Input: the first byte selects the format (byte % 5: 0 JSON, 1 fd,
 * 2 aws, 3 xen, 4 one efivarfs entry); the rest is the file.  For an
 * efivarfs entry the rest is "<file name>\0<file content>".
 *
 * Oracle: a failed load leaves the store empty.  A successful load of a
 * writable format is saved in the same format (fd: into the input as its
 * template) and reloaded, and the reloaded store must hold exactly the NV
 * variables of the first, field for field (a zero timestamp counts as
 * none); else abort.  A save may refuse (e.g. a variable over the
 * firmware's per-variable limit), but must then produce nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/formats.h>
#include <vmvars/store.h>
#include <vmvars/ucs2.h>

#include "format/formats_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum vv_format selector[5] = {
	VV_FORMAT_JSON, VV_FORMAT_OVMF_FD, VV_FORMAT_AWS, VV_FORMAT_XEN, VV_FORMAT_EFIVARFS,
};

static bool
same_variable(const struct vv_variable *a, const struct vv_variable *b)
{
	static const uint8_t zero[16];
	const uint8_t *ta = a->has_time ? a->time.b : zero, *tb = b->has_time ? b->time.b : zero;

	return a->attributes == b->attributes && a->data_size == b->data_size &&
	       (a->data_size == 0 || memcmp(a->data, b->data, a->data_size) == 0) &&
	       memcmp(ta, tb, 16) == 0 && a->digest_size == b->digest_size &&
	       memcmp(a->digest, b->digest, a->digest_size) == 0;
}

/* The NV variables of a are exactly the variables of b. */
static bool
same_nv_content(const struct vv_store *a, const struct vv_store *b)
{
	const struct vv_variable *v, *w;
	size_t n = 0;

	for (v = vv_store_first(a); v != NULL; v = vv_store_next(v)) {
		if (!(v->attributes & VV_ATTR_NV))
			continue;
		n++;
		w = vv_store_find(b, v->name, v->name_len, &v->guid);
		if (w == NULL || !same_variable(v, w))
			return false;
	}
	return n == vv_store_count(b);
}

static int
load_efivarfs_entry(const uint8_t *data, size_t size, struct vv_store *s, struct vv_error *err)
{
	struct vv_fmt_ctx c = { "fuzz", "efivarfs", err };
	const uint8_t *nul = memchr(data, 0, size);
	char *name;
	int rc;

	if (nul == NULL)
		return -1;
	name = strndup((const char *)data, (size_t)(nul - data));
	if (name == NULL)
		return -1;
	rc = vv_efivarfs_load_entry(name, nul + 1, size - (size_t)(nul + 1 - data), &c, s);
	free(name);
	return rc;
}

static void
check_round_trip(enum vv_format f, const struct vv_store *first, const uint8_t *file, size_t size)
{
	struct vv_store *second = vv_store_new(NULL);
	struct vv_format_report rep = { 0 };
	struct vv_error err;
	uint8_t *out = NULL;
	size_t out_size = 0;

	if (second == NULL)
		return;
	if (vv_format_save(f, first, f == VV_FORMAT_OVMF_FD ? file : NULL,
			   f == VV_FORMAT_OVMF_FD ? size : 0, &out, &out_size, &rep, &err) != 0) {
		if (out != NULL)
			abort();
		goto done;
	}
	if (vv_format_load(f, out, out_size, "fuzz-reload", second, &err) != 0) {
		fprintf(stderr, "reload of a saved %s store failed: %s\n", vv_format_name(f),
			err.msg);
		abort();
	}
	if (!same_nv_content(first, second)) {
		fprintf(stderr, "%s save -> load is not the identity on NV variables\n",
			vv_format_name(f));
		abort();
	}
done:
	vv_format_report_free(&rep);
	free(out);
	vv_store_free(second);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vv_store *first;
	struct vv_error err;
	enum vv_format f;
	int rc;

	if (size < 1)
		return 0;
	f = selector[data[0] % 5];
	data++;
	size--;
	first = vv_store_new(NULL);
	if (first == NULL)
		return 0;
	if (f == VV_FORMAT_EFIVARFS)
		rc = load_efivarfs_entry(data, size, first, &err);
	else
		rc = vv_format_load(f, data, size, "fuzz", first, &err);
	if (rc != 0 && vv_store_count(first) != 0)
		abort(); /* a failed load must leave the store empty */
	if (rc == 0 && f != VV_FORMAT_EFIVARFS)
		check_round_trip(f, first, data, size);
	vv_store_free(first);
	return 0;
}
