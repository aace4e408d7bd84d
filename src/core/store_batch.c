/*
 * src/core/store_batch.c -- atomic batches (vmvars/store.h
 * vv_store_batch_begin): several changes as one all-or-nothing unit, in
 * memory and on disk, and the host owner's exact puts and deletes inside
 * one (vv_store_batch_put_var, src/core/store_state.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/backend.h>
#include <vmvars/store.h>
#include <vmvars/ucs2.h>

#include "core/store_impl.h"

/*
 * Why a copy of the table rather than an undo log: a batch runs the whole
 * SetVariable machinery (companion writes, hooks that write mode
 * variables, authenticated appends), each of which would need its undo
 * recorded in order; with the original table set aside untouched, a
 * rollback is one swap whatever ran, and it cannot fail.
 */

static void
free_dead(struct vv_store *s)
{
	vv_store_free_chain(s->batch_dead);
	s->batch_dead = NULL;
}

bool
vv_store_in_batch(const struct vv_store *s)
{
	return s->in_batch;
}

vv_status
vv_store_batch_begin(struct vv_store *s, struct vv_error *err)
{
	struct table_state saved;
	struct vv_variable **fresh;

	if (s->in_batch) {
		vv_error_set(err, "a batch is already open");
		return VV_EFI_INVALID_PARAMETER;
	}
	fresh = calloc(s->tab.nbuckets, sizeof(*fresh));
	if (fresh == NULL) {
		vv_error_set(err, "out of memory");
		return VV_EFI_OUT_OF_RESOURCES;
	}
	saved = s->tab;
	s->tab.buckets = fresh;
	s->tab.count = 0;
	s->tab.head = s->tab.tail = NULL;
	s->tab.cursor = NULL;
	for (const struct vv_variable *v = saved.head; v != NULL; v = v->next) {
		struct vv_variable *c = vv_store_var_copy(v);

		if (c == NULL) {
			vv_store_free_chain(s->tab.head);
			free(s->tab.buckets);
			s->tab = saved;
			vv_error_set(err, "out of memory");
			return VV_EFI_OUT_OF_RESOURCES;
		}
		/* vv_store_hash_link and the list, without vv_store_table_append's accounting:
		 * the counters are the saved ones, unchanged by a copy. */
		vv_store_hash_link(s, c);
		c->prev = s->tab.tail;
		if (s->tab.tail != NULL)
			s->tab.tail->next = c;
		else
			s->tab.head = c;
		s->tab.tail = c;
		s->tab.count++;
	}
	s->tab.used_nv = saved.used_nv;
	s->tab.used_hwerr = saved.used_hwerr;
	s->tab.used_volatile = saved.used_volatile;
	s->batch_saved = saved;
	s->batch_dead = NULL;
	s->in_batch = true;
	return VV_EFI_SUCCESS;
}

static void
resync_modules(struct vv_store *s)
{
	for (size_t i = 0; i < s->nrestorers; i++)
		if (s->restorers[i].ops->resync != NULL)
			s->restorers[i].ops->resync(s->restorers[i].ctx, s);
}

void
vv_store_batch_abort(struct vv_store *s)
{
	if (!s->in_batch)
		return;
	vv_store_free_chain(s->tab.head);
	free(s->tab.buckets);
	free_dead(s);
	s->tab = s->batch_saved;
	s->tab.cursor = NULL;
	s->in_batch = false;
	s->state_changes++;
	resync_modules(s);
}

/* The batch's changes in the order vv_change documents: the deletes, then
 * the puts in table order (so re-created variables land last on replay,
 * as they are in memory).  malloc'd; *n set; NULL only if out of memory. */
static struct vv_change *
batch_changes(const struct vv_store *s, size_t *n)
{
	size_t count = 0, i = 0;
	struct vv_change *c;

	for (const struct vv_variable *v = s->batch_dead; v != NULL; v = v->next)
		count++;
	for (const struct vv_variable *v = s->tab.head; v != NULL; v = v->next)
		if (v->batch_put)
			count++;
	c = calloc(count ? count : 1, sizeof(*c));
	if (c == NULL)
		return NULL;
	for (const struct vv_variable *v = s->batch_dead; v != NULL; v = v->next)
		c[i++] = (struct vv_change){ VV_CHANGE_DELETE, v, NULL, 0 };
	for (const struct vv_variable *v = s->tab.head; v != NULL; v = v->next)
		if (v->batch_put)
			c[i++] = (struct vv_change){ VV_CHANGE_PUT, v, NULL, 0 };
	*n = count;
	return c;
}

vv_status
vv_store_batch_commit(struct vv_store *s, struct vv_error *err)
{
	struct vv_change *changes, batch;
	size_t n = 0;

	if (!s->in_batch) {
		vv_error_set(err, "no batch is open");
		return VV_EFI_INVALID_PARAMETER;
	}
	changes = batch_changes(s, &n);
	if (changes == NULL) {
		/* Found by the fault campaign (tests/test_faults.c): nothing
		 * was written, so this is no device error. */
		vv_store_batch_abort(s);
		vv_error_set(err, "out of memory");
		return VV_EFI_OUT_OF_RESOURCES;
	}
	if (n > 0 && s->backend != NULL) {
		batch = (struct vv_change){ VV_CHANGE_BATCH, NULL, changes, n };
		s->nv_commits++;
		if (s->backend->ops->commit(s->backend, s, &batch, err) != 0) {
			memcpy(s->io_error, err->msg, sizeof(s->io_error));
			free(changes);
			vv_store_batch_abort(s);
			return VV_EFI_DEVICE_ERROR;
		}
	}
	free(changes);
	for (struct vv_variable *v = s->tab.head; v != NULL; v = v->next)
		v->batch_put = false;
	free_dead(s);
	vv_store_free_chain(s->batch_saved.head);
	free(s->batch_saved.buckets);
	memset(&s->batch_saved, 0, sizeof(s->batch_saved));
	s->in_batch = false;
	s->state_changes++;
	return VV_EFI_SUCCESS;
}

vv_status
vv_store_apply(struct vv_store *s, const struct vv_set_request *reqs, size_t n, size_t *failed)
{
	struct vv_error err = { { 0 } };
	vv_status st;

	if (failed != NULL)
		*failed = n;
	st = vv_store_batch_begin(s, &err);
	if (st != VV_EFI_SUCCESS)
		return st;
	for (size_t i = 0; i < n; i++) {
		st = vv_store_set(s, &reqs[i]);
		if (st != VV_EFI_SUCCESS) {
			vv_store_batch_abort(s);
			if (failed != NULL)
				*failed = i;
			return st;
		}
	}
	return vv_store_batch_commit(s, &err);
}

/* Takes v out of the table inside a batch: kept for its DELETE if NV. */
static void
batch_unlink(struct vv_store *s, struct vv_variable *v)
{
	vv_store_table_unlink(s, v);
	if (v->attributes & VV_ATTR_NV) {
		v->next = s->batch_dead;
		s->batch_dead = v;
	} else {
		vv_store_var_free(v);
	}
}

int
vv_store_batch_put_var(struct vv_store *s, const struct vv_variable *in, struct vv_error *err)
{
	struct vv_variable *old, *v;
	uint64_t name_size, release = 0;
	uint8_t *data;

	if (!s->in_batch)
		return vv_error_set(err, "no batch is open");
	old = vv_store_table_find(s, in->name, in->name_len, &in->guid);
	if (old != NULL && old->attributes == in->attributes)
		release = vv_store_var_cost(s, vv_var_name_size(old), old->data_size);
	if (vv_store_check_loaded(s, in, release, &name_size, err) != 0)
		return -1;
	if (old != NULL && old->attributes == in->attributes) {
		/* Replaced in place: the variable keeps its place (invariant 3). */
		data = malloc(in->data_size ? in->data_size : 1);
		if (data == NULL)
			return vv_error_set(err, "out of memory");
		if (in->data_size)
			memcpy(data, in->data, in->data_size);
		vv_store_note_if_volatile(s, old);
		*vv_store_class_used(s, old->attributes) -= vv_store_var_cost(s, name_size, old->data_size);
		free(old->data);
		old->data = data;
		old->data_size = in->data_size;
		*vv_store_class_used(s, old->attributes) += vv_store_var_cost(s, name_size, old->data_size);
		old->has_time = in->has_time;
		old->time = in->time;
		old->digest_size = in->digest_size;
		memset(old->digest, 0, sizeof(old->digest));
		memcpy(old->digest, in->digest, in->digest_size);
		old->batch_put = (old->attributes & VV_ATTR_NV) != 0;
		return 0;
	}
	v = vv_store_var_copy(in);
	if (v == NULL)
		return vv_error_set(err, "out of memory");
	if (old != NULL) {
		/* Other attributes: a delete and a create.  The quota was
		 * checked without the old one's release, which is stricter. */
		batch_unlink(s, old);
	}
	vv_store_table_append(s, v);
	v->batch_put = (v->attributes & VV_ATTR_NV) != 0;
	return 0;
}

int
vv_store_batch_delete_var(struct vv_store *s, const uint16_t *name, size_t name_len,
			  const vv_guid *guid, struct vv_error *err)
{
	struct vv_variable *v;

	if (!s->in_batch)
		return vv_error_set(err, "no batch is open");
	v = vv_store_table_find(s, name, name_len, guid);
	if (v == NULL)
		return vv_error_set(err, "no such variable");
	batch_unlink(s, v);
	return 0;
}
