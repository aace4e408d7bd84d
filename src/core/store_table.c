/*
 * src/core/store_table.c -- the store's table: a chained hash table keyed
 * by (GUID, name) for lookups, threaded on a doubly linked list in creation
 * order for enumeration (invariants 2 and 3 of include/vmvars/store.h).  So
 * GetVariable is one probe, and GetNextVariableName is one probe plus one
 * step (plus the variables it must skip at runtime).  Also the variable
 * nodes themselves (new, copy, free) and the whole-table save and put-back
 * that replace_all and batches use.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/backend.h>
#include <vmvars/store.h>
#include <vmvars/ucs2.h>

#include "core/name_hash.h"
#include "core/store_impl.h"

/* The name lives in the same allocation as the variable (vv_store_var_new). */
void
vv_store_var_free(struct vv_variable *v)
{
	if (v == NULL)
		return;
	free(v->data);
	free(v);
}

struct vv_variable *
vv_store_table_find(const struct vv_store *s, const uint16_t *name, size_t name_len, const vv_guid *guid)
{
	uint64_t h = vv_name_hash(guid, name, name_len);
	struct vv_variable *v;

	for (v = s->tab.buckets[h & (s->tab.nbuckets - 1)]; v != NULL; v = v->hash_next)
		if (v->hash == h && vv_guid_equal(&v->guid, guid) &&
		    vv_ucs2_equal(v->name, v->name_len, name, name_len))
			return v;
	return NULL;
}

/* Doubles the bucket array when the load factor passes 1.  Failure to grow
 * is harmless: chains just get longer. */
static void
table_maybe_grow(struct vv_store *s)
{
	struct vv_variable **nb, *v;
	size_t n;

	if (s->tab.count < s->tab.nbuckets)
		return;
	n = s->tab.nbuckets * 2;
	nb = calloc(n, sizeof(*nb));
	if (nb == NULL)
		return;
	for (v = s->tab.head; v != NULL; v = v->next) {
		v->hash_next = nb[v->hash & (n - 1)];
		nb[v->hash & (n - 1)] = v;
	}
	free(s->tab.buckets);
	s->tab.buckets = nb;
	s->tab.nbuckets = n;
}

static void
hash_unlink(struct vv_store *s, struct vv_variable *v)
{
	struct vv_variable **pp = &s->tab.buckets[v->hash & (s->tab.nbuckets - 1)];

	while (*pp != v)
		pp = &(*pp)->hash_next;
	*pp = v->hash_next;
	v->hash_next = NULL;
}

void
vv_store_hash_link(struct vv_store *s, struct vv_variable *v)
{
	struct vv_variable **head = &s->tab.buckets[v->hash & (s->tab.nbuckets - 1)];

	v->hash_next = *head;
	*head = v;
}

/* A change to a volatile variable is a change of non-NV service state. */
void
vv_store_note_if_volatile(struct vv_store *s, const struct vv_variable *v)
{
	if (!(v->attributes & VV_ATTR_NV))
		s->state_changes++;
}

/* Appends v (hash already set) at the end of the enumeration order. */
void
vv_store_table_append(struct vv_store *s, struct vv_variable *v)
{
	vv_store_note_if_volatile(s, v);
	vv_store_hash_link(s, v);
	v->prev = s->tab.tail;
	v->next = NULL;
	if (s->tab.tail != NULL)
		s->tab.tail->next = v;
	else
		s->tab.head = v;
	s->tab.tail = v;
	s->tab.count++;
	*vv_store_class_used(s, v->attributes) += vv_store_var_cost(s, vv_var_name_size(v), v->data_size);
	table_maybe_grow(s);
}

/* Unlinks v but keeps v->prev/v->next so that vv_store_table_relink can undo. */
void
vv_store_table_unlink(struct vv_store *s, struct vv_variable *v)
{
	vv_store_note_if_volatile(s, v);
	if (s->tab.cursor == v)
		s->tab.cursor = NULL;
	hash_unlink(s, v);
	if (v->prev != NULL)
		v->prev->next = v->next;
	else
		s->tab.head = v->next;
	if (v->next != NULL)
		v->next->prev = v->prev;
	else
		s->tab.tail = v->prev;
	s->tab.count--;
	*vv_store_class_used(s, v->attributes) -= vv_store_var_cost(s, vv_var_name_size(v), v->data_size);
}

/* Undoes vv_store_table_unlink(v) when nothing else changed in between. */
void
vv_store_table_relink(struct vv_store *s, struct vv_variable *v)
{
	vv_store_note_if_volatile(s, v);
	vv_store_hash_link(s, v);
	if (v->prev != NULL)
		v->prev->next = v;
	else
		s->tab.head = v;
	if (v->next != NULL)
		v->next->prev = v;
	else
		s->tab.tail = v;
	s->tab.count++;
	*vv_store_class_used(s, v->attributes) += vv_store_var_cost(s, vv_var_name_size(v), v->data_size);
}

/* A new variable with copies of name and data; NULL if out of memory. */
struct vv_variable *
vv_store_var_new(const uint16_t *name, size_t name_len, const vv_guid *guid, uint32_t attr,
	const uint8_t *data, size_t data_size)
{
	struct vv_variable *v;

	/* One block for the node and its name: enumeration touches both, and
	 * keeping them together halves its cache misses on large stores. */
	v = calloc(1, sizeof(*v) + (name_len + 1) * sizeof(uint16_t));
	if (v == NULL)
		return NULL;
	v->name = (uint16_t *)(v + 1);
	v->data = malloc(data_size ? data_size : 1);
	if (v->data == NULL) {
		vv_store_var_free(v);
		return NULL;
	}
	memcpy(v->name, name, name_len * sizeof(uint16_t));
	if (data_size)
		memcpy(v->data, data, data_size);
	v->name_len = name_len;
	v->data_size = data_size;
	v->guid = *guid;
	v->attributes = attr;
	v->hash = vv_name_hash(guid, name, name_len);
	return v;
}

const struct vv_variable *
vv_store_find(const struct vv_store *s, const uint16_t *name, size_t name_len, const vv_guid *guid)
{
	return vv_store_table_find(s, name, name_len, guid);
}

const struct vv_variable *
vv_store_first(const struct vv_store *s)
{
	return s->tab.head;
}

const struct vv_variable *
vv_store_next(const struct vv_variable *v)
{
	return v->next;
}

size_t
vv_store_count(const struct vv_store *s)
{
	return s->tab.count;
}

/* A new table variable with in's whole state; NULL if out of memory. */
struct vv_variable *
vv_store_var_copy(const struct vv_variable *in)
{
	struct vv_variable *v = vv_store_var_new(in->name, in->name_len, &in->guid, in->attributes,
					in->data, in->data_size);

	if (v == NULL)
		return NULL;
	v->has_time = in->has_time;
	v->time = in->time;
	v->digest_size = in->digest_size;
	memcpy(v->digest, in->digest, in->digest_size);
	return v;
}

void
vv_store_free_chain(struct vv_variable *v)
{
	struct vv_variable *next;

	for (; v != NULL; v = next) {
		next = v->next;
		vv_store_var_free(v);
	}
}
