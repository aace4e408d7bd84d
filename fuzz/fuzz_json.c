/*
 * fuzz/fuzz_json.c -- libFuzzer target for JSON v2 store files
 * (src/format/json_v2.c; device-abi §12, formats §3).
 *
 * Arbitrary bytes are parsed into a fresh store.  If they parse, the store
 * is serialised and the text parsed into a second store, which must hold
 * exactly the NV variables of the first, in order, field for field
 * (serialize -> parse is the identity on NV variables); else abort.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/json_v2.h>
#include <vmvars/store.h>
#include <vmvars/ucs2.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
same_variable(const struct vv_variable *a, const struct vv_variable *b)
{
	return vv_guid_equal(&a->guid, &b->guid) && a->attributes == b->attributes &&
	       vv_ucs2_equal(a->name, a->name_len, b->name, b->name_len) &&
	       a->data_size == b->data_size &&
	       (a->data_size == 0 || memcmp(a->data, b->data, a->data_size) == 0) &&
	       a->has_time == b->has_time &&
	       (!a->has_time || memcmp(a->time.b, b->time.b, sizeof(a->time.b)) == 0) &&
	       a->digest_size == b->digest_size &&
	       memcmp(a->digest, b->digest, a->digest_size) == 0;
}

/* The NV variables of a, in order, are exactly the variables of b. */
static bool
same_nv_content(const struct vv_store *a, const struct vv_store *b)
{
	const struct vv_variable *x = vv_store_first(a), *y = vv_store_first(b);

	for (;;) {
		while (x != NULL && !(x->attributes & VV_ATTR_NV))
			x = vv_store_next(x);
		if (x == NULL || y == NULL)
			return x == NULL && y == NULL;
		if (!same_variable(x, y))
			return false;
		x = vv_store_next(x);
		y = vv_store_next(y);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vv_store *first = vv_store_new(NULL), *second = NULL;
	struct vv_error err;
	char *text = NULL;
	size_t len = 0;

	if (first == NULL)
		return 0;
	if (vv_json_v2_parse(first, (const char *)data, size, "fuzz", &err) != 0)
		goto out;
	text = vv_json_v2_serialize(first, &len);
	if (text == NULL)
		goto out; /* out of memory only */
	if (len != strlen(text))
		abort();
	second = vv_store_new(NULL);
	if (second == NULL)
		goto out;
	if (vv_json_v2_parse(second, text, len, "reparse", &err) != 0) {
		fprintf(stderr, "re-parse failed: %s\n%s", err.msg, text);
		abort();
	}
	if (!same_nv_content(first, second)) {
		fprintf(stderr, "round trip differs:\n%s", text);
		abort();
	}
out:
	free(text);
	vv_store_free(second);
	vv_store_free(first);
	return 0;
}
