/*
 * tests/store_util.h -- shorthands the store-level tests share: UCS-2
 * literals, one-line Get/Set calls, the store as bytes, and a backend whose commits can be
 * made to fail on demand (to prove that a failed save changes nothing).
 */
#ifndef VMVARS_TEST_STORE_UTIL_H
#define VMVARS_TEST_STORE_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uchar.h>

#include <vmvars/vmvars.h>

/* A UCS-2 name literal and its length in characters. */
#define U(s) ((const uint16_t *)u"" s), (sizeof(u"" s) / 2 - 1)

#define NV_BS_RT (VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT)
#define BS_RT    (VV_ATTR_BS | VV_ATTR_RT)

static const vv_guid TEST_GUID = { { 0x78, 0x56, 0x34, 0x12, 0x34, 0x12, 0x34, 0x12,
				     0x12, 0x34, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc } };

/*
 * The whole store as bytes, in enumeration order (GUID, attributes, data
 * size, name, data per variable), to prove that a refused request changed
 * nothing: equal images before and after.  SIZE_MAX when it does not fit
 * in cap.
 */
static inline size_t
store_image(const struct vv_store *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	for (const struct vv_variable *v = vv_store_first(s); v; v = vv_store_next(v)) {
		size_t need = 16 + 4 + 8 + v->name_len * 2 + v->data_size;

		if (need > cap - n)
			return SIZE_MAX;
		memcpy(out + n, v->guid.b, 16);
		vv_put_le32(out + n + 16, v->attributes);
		vv_put_le64(out + n + 20, v->data_size);
		memcpy(out + n + 28, v->name, v->name_len * 2);
		memcpy(out + n + 28 + v->name_len * 2, v->data, v->data_size);
		n += need;
	}
	return n;
}

static inline vv_status
set_as(struct vv_store *s, enum vv_caller who, const uint16_t *name, size_t len,
       const vv_guid *g, uint32_t attr, const void *data, uint64_t size)
{
	struct vv_set_request r = { name, len, *g, attr, data, size, who };

	return vv_store_set(s, &r);
}

static inline vv_status
set_var(struct vv_store *s, const uint16_t *name, size_t len, const vv_guid *g, uint32_t attr,
	const void *data, uint64_t size)
{
	return set_as(s, VV_CALLER_GUEST, name, len, g, attr, data, size);
}

/* GetVariable into a fixed buffer; returns the status, fills size/attr. */
static inline vv_status
get_var(struct vv_store *s, const uint16_t *name, size_t len, const vv_guid *g, uint32_t *attr,
	uint8_t *buf, uint64_t *size)
{
	return vv_store_get(s, name, len, g, attr, buf, size);
}

/* A backend that records commits and fails when told to. */
struct test_backend {
	struct vv_backend base;
	int commits;
	int fail_next;          /* number of upcoming commits to fail */
	int pass_first;         /* ... after letting this many through */
	int last_kind;
};

static int
test_backend_load(struct vv_backend *b, struct vv_store *s, struct vv_error *err)
{
	(void)b; (void)s; (void)err;
	return 0;
}

static int
test_backend_commit(struct vv_backend *b, const struct vv_store *s, const struct vv_change *c,
		    struct vv_error *err)
{
	struct test_backend *t = (struct test_backend *)b;

	(void)s;
	if (t->fail_next > 0 && t->pass_first > 0) {
		t->pass_first--;
	} else if (t->fail_next > 0) {
		t->fail_next--;
		return vv_error_set(err, "test backend: injected failure");
	}
	t->commits++;
	t->last_kind = (int)c->kind;
	return 0;
}

static void
test_backend_destroy(struct vv_backend *b)
{
	(void)b;   /* owned by the test */
}

static const struct vv_backend_ops test_backend_ops = {
	"test", test_backend_load, test_backend_commit, test_backend_destroy,
};

static inline void
test_backend_init(struct test_backend *t)
{
	memset(t, 0, sizeof(*t));
	t->base.ops = &test_backend_ops;
}

#endif
