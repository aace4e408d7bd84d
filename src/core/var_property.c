/*
 * src/core/var_property.c -- VarCheck properties registered at run time
 * (edk2 VarCheckLibVariablePropertySet, SMM function 9).
 *
 * A small chained hash keyed like the variable table.  The firmware
 * registers a handful of entries per boot; MAX_PROPERTIES bounds what a
 * hostile guest can make the host allocate.  The table is volatile state:
 * the store clears it on VM reset.
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/ucs2.h>

#include "core/name_hash.h"
#include "core/var_property.h"

#define BUCKETS        64       /* power of two */
#define MAX_PROPERTIES 1024

struct entry {
	struct entry *next;
	uint64_t hash;
	vv_guid guid;
	uint16_t *name;
	size_t name_len;
	struct vv_var_property prop;
};

struct vv_property_table {
	struct entry *buckets[BUCKETS];
	size_t count;
};

struct vv_property_table *
vv_property_table_new(void)
{
	return calloc(1, sizeof(struct vv_property_table));
}

void
vv_property_table_clear(struct vv_property_table *t)
{
	for (size_t i = 0; i < BUCKETS; i++) {
		struct entry *e = t->buckets[i], *next;

		for (; e != NULL; e = next) {
			next = e->next;
			free(e->name);
			free(e);
		}
		t->buckets[i] = NULL;
	}
	t->count = 0;
}

void
vv_property_table_free(struct vv_property_table *t)
{
	if (t == NULL)
		return;
	vv_property_table_clear(t);
	free(t);
}

static struct entry *
find(const struct vv_property_table *t, const uint16_t *name, size_t name_len, const vv_guid *guid,
     uint64_t h)
{
	struct entry *e;

	for (e = t->buckets[h & (BUCKETS - 1)]; e != NULL; e = e->next)
		if (e->hash == h && vv_guid_equal(&e->guid, guid) &&
		    vv_ucs2_equal(e->name, e->name_len, name, name_len))
			return e;
	return NULL;
}

vv_status
vv_property_table_set(struct vv_property_table *t, const uint16_t *name, size_t name_len,
		      const vv_guid *guid, const struct vv_var_property *p)
{
	uint64_t h = vv_name_hash(guid, name, name_len);
	struct entry *e = find(t, name, name_len, guid, h);

	if (e != NULL) {
		e->prop = *p;
		return VV_EFI_SUCCESS;
	}
	if (t->count == MAX_PROPERTIES)
		return VV_EFI_OUT_OF_RESOURCES;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return VV_EFI_OUT_OF_RESOURCES;
	e->name = calloc(name_len + 1, sizeof(uint16_t));
	if (e->name == NULL) {
		free(e);
		return VV_EFI_OUT_OF_RESOURCES;
	}
	memcpy(e->name, name, name_len * sizeof(uint16_t));
	e->name_len = name_len;
	e->guid = *guid;
	e->hash = h;
	e->prop = *p;
	e->next = t->buckets[h & (BUCKETS - 1)];
	t->buckets[h & (BUCKETS - 1)] = e;
	t->count++;
	return VV_EFI_SUCCESS;
}

const struct vv_var_property *
vv_property_table_get(const struct vv_property_table *t, const uint16_t *name, size_t name_len,
		      const vv_guid *guid)
{
	struct entry *e;

	if (t->count == 0)
		return NULL;
	e = find(t, name, name_len, guid, vv_name_hash(guid, name, name_len));
	return e != NULL ? &e->prop : NULL;
}

void
vv_property_table_for_each(const struct vv_property_table *t, vv_property_fn fn, void *ctx)
{
	for (size_t i = 0; i < BUCKETS; i++)
		for (const struct entry *e = t->buckets[i]; e != NULL; e = e->next)
			fn(ctx, e->name, e->name_len, &e->guid, &e->prop);
}
