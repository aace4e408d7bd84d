/*
 * src/core/store_update.c -- SetVariable's update, after the checks of
 * store.c: rows 25-32 of varstore-formats §8.2 (each cited as "row N").
 * A write is applied in memory with an undo record, then persisted (NV
 * only); if persisting fails the undo restores the old state exactly, and
 * the guest gets EFI_DEVICE_ERROR.  Inside a batch the NV change is
 * recorded for the batch's commit instead (store_batch.c).  Also
 * vv_store_put, the service's own writes (mode variables, MOR state),
 * which take the same update path with no rule but the quotas.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/backend.h>
#include <vmvars/store.h>
#include <vmvars/ucs2.h>

#include "core/store_impl.h"

/* What to do to the table, with enough kept to undo it. */
struct update {
	enum { UPD_NONE, UPD_CREATE, UPD_REPLACE, UPD_DELETE } kind;
	struct vv_variable *var;        /* the variable in the table / unlinked */
	/* UPD_REPLACE: the old contents, restored by undo. */
	uint8_t *old_data;
	size_t old_data_size;
	bool old_has_time;
	vv_efi_time old_time;
	size_t old_digest_size;
	uint8_t old_digest[64];
};

static void
replace_contents(struct vv_store *s, struct vv_variable *v, uint8_t *data, size_t size,
		 const struct vv_write *w)
{
	uint64_t *used = vv_store_class_used(s, v->attributes);

	vv_store_note_if_volatile(s, v);
	*used -= vv_store_var_cost(s, vv_var_name_size(v), v->data_size);
	v->data = data;
	v->data_size = size;
	*used += vv_store_var_cost(s, vv_var_name_size(v), v->data_size);
	if (w->has_time) {
		v->has_time = true;
		v->time = w->time;
	}
	if (w->digest_size) {
		v->digest_size = w->digest_size;
		memcpy(v->digest, w->digest, w->digest_size);
	}
}

static void
undo_update(struct vv_store *s, struct update *u)
{
	struct vv_variable *v = u->var;
	uint64_t *used;

	switch (u->kind) {
	case UPD_CREATE:
		vv_store_table_unlink(s, v);
		vv_store_var_free(v);
		break;
	case UPD_REPLACE:
		used = vv_store_class_used(s, v->attributes);
		*used -= vv_store_var_cost(s, vv_var_name_size(v), v->data_size);
		free(v->data);
		v->data = u->old_data;
		v->data_size = u->old_data_size;
		*used += vv_store_var_cost(s, vv_var_name_size(v), v->data_size);
		v->has_time = u->old_has_time;
		v->time = u->old_time;
		v->digest_size = u->old_digest_size;
		memcpy(v->digest, u->old_digest, sizeof(v->digest));
		break;
	case UPD_DELETE:
		vv_store_table_relink(s, v);
		break;
	case UPD_NONE:
		break;
	}
	u->kind = UPD_NONE;
}

static void
finish_update(struct update *u)
{
	if (u->kind == UPD_REPLACE)
		free(u->old_data);
	else if (u->kind == UPD_DELETE)
		vv_store_var_free(u->var);
}

/* Builds the new value: payload alone, or old ‖ payload for APPEND. */
static uint8_t *
new_value(const struct vv_variable *old, const struct vv_write *w, bool append, size_t *size)
{
	size_t base = append ? old->data_size : 0;
	uint8_t *buf;

	*size = base + (size_t)w->payload_size;
	buf = malloc(*size ? *size : 1);
	if (buf == NULL)
		return NULL;
	if (base)
		memcpy(buf, old->data, base);
	if (w->payload_size)
		memcpy(buf + base, w->payload, w->payload_size);
	return buf;
}

/* Row 32's refusal: the class's space, in numbers. */
static vv_status
full_refusal(struct vv_store *s, uint32_t attr)
{
	return REFUSE(s, VV_EFI_OUT_OF_RESOURCES, "the store's %s space is full (%llu of %llu "
		      "bytes in use)", (attr & VV_ATTR_HR) ? "hardware-error record" :
		      (attr & VV_ATTR_NV) ? "non-volatile" : "volatile",
		      (unsigned long long)vv_store_class_in_use(s, attr),
		      (unsigned long long)vv_store_class_capacity(s, attr));
}

/* Rows 25-29 for an existing variable; fills u or returns a status.
 * *done is set when the request succeeds without any change. */
static vv_status
plan_existing(struct vv_store *s, struct vv_write *w, struct update *u, bool *done)
{
	struct vv_variable *old = (struct vv_variable *)w->existing;
	uint32_t attr = w->req->attributes;
	bool append = (attr & VV_ATTR_APPEND) != 0;
	uint64_t merged, limit, name_size = vv_var_name_size(old);
	size_t size;
	uint8_t *data;

	if (s->at_runtime) {
		if (!(old->attributes & VV_ATTR_NV))
			return REFUSE(s, VV_EFI_WRITE_PROTECTED, "after ExitBootServices a "
				      "volatile variable cannot change");   /* row 25 */
		if (!(old->attributes & VV_ATTR_RT))
			return REFUSE(s, VV_EFI_INVALID_PARAMETER, "after ExitBootServices only "
				      "variables with RUNTIME_ACCESS can be written"); /* row 26 */
	}
	if ((!append && w->payload_size == 0) || (attr & (VV_ATTR_BS | VV_ATTR_RT)) == 0) {
		u->kind = UPD_DELETE;
		u->var = old;
		return VV_EFI_SUCCESS;
	}
	if (!append && !w->has_time && old->data_size == w->payload_size &&
	    (w->payload_size == 0 || memcmp(old->data, w->payload, w->payload_size) == 0)) {
		*done = true;                                           /* row 27 */
		return VV_EFI_SUCCESS;
	}
	if (append) {                                                   /* row 28 */
		limit = vv_store_class_max_size(s, attr);
		if (vv_add_overflow(old->data_size, w->payload_size, &merged) ||
		    vv_add_overflow(merged, name_size + s->limits.variable_overhead, &merged) ||
		    merged > limit)
			return REFUSE(s, VV_EFI_INVALID_PARAMETER, "appending would make the "
				      "variable larger than the %llu bytes the store takes for one "
				      "variable of this kind", (unsigned long long)limit);
	}
	data = new_value(old, w, append, &size);
	if (data == NULL)
		return VV_EFI_OUT_OF_RESOURCES;
	if (!vv_store_class_has_room(s, old->attributes, vv_store_var_cost(s, name_size, size),
			    vv_store_var_cost(s, name_size, old->data_size))) {
		free(data);
		return full_refusal(s, old->attributes);                /* row 32 */
	}
	u->kind = UPD_REPLACE;
	u->var = old;
	u->old_data = old->data;
	u->old_data_size = old->data_size;
	u->old_has_time = old->has_time;
	u->old_time = old->time;
	u->old_digest_size = old->digest_size;
	memcpy(u->old_digest, old->digest, sizeof(old->digest));
	replace_contents(s, old, data, size, w);
	return VV_EFI_SUCCESS;
}

static vv_status plan_create_unchecked(struct vv_store *s, struct vv_write *w, struct update *u);

/* Rows 29-32 for a missing variable. */
static vv_status
plan_create(struct vv_store *s, struct vv_write *w, struct update *u, bool *done)
{
	uint32_t attr = w->req->attributes;

	if (w->payload_size == 0 && (attr & VV_ATTR_APPEND)) {
		*done = true;                                           /* row 29 */
		return VV_EFI_SUCCESS;
	}
	if (w->payload_size == 0 || (attr & (VV_ATTR_BS | VV_ATTR_RT)) == 0)
		return REFUSE(s, VV_EFI_NOT_FOUND, "no such variable to delete"); /* row 30 */
	if (s->at_runtime && (!(attr & VV_ATTR_RT) || !(attr & VV_ATTR_NV)))
		return REFUSE(s, VV_EFI_INVALID_PARAMETER, "after ExitBootServices a new "
			      "variable must be NON_VOLATILE and RUNTIME_ACCESS"); /* row 31 */
	return plan_create_unchecked(s, w, u);
}

/* Creates the variable of w (quota checked) and records it in u. */
static vv_status
plan_create_unchecked(struct vv_store *s, struct vv_write *w, struct update *u)
{
	const struct vv_set_request *req = w->req;
	uint32_t stored_attr = req->attributes & ~VV_ATTR_APPEND;
	struct vv_variable *v;

	if (!vv_store_class_has_room(s, stored_attr,
			    vv_store_var_cost(s, ((uint64_t)req->name_len + 1) * 2, w->payload_size), 0))
		return full_refusal(s, stored_attr);                    /* row 32 */
	v = vv_store_var_new(req->name, req->name_len, &req->guid, stored_attr, w->payload,
		    (size_t)w->payload_size);
	if (v == NULL)
		return VV_EFI_OUT_OF_RESOURCES;
	v->has_time = w->has_time;
	v->time = w->time;
	v->digest_size = w->digest_size;
	memcpy(v->digest, w->digest, sizeof(v->digest));
	vv_store_table_append(s, v);
	u->kind = UPD_CREATE;
	u->var = v;
	return VV_EFI_SUCCESS;
}

/* Makes an applied update durable; on failure undoes it. */
static vv_status
persist_update(struct vv_store *s, struct update *u)
{
	struct vv_change change;
	struct vv_error err = { { 0 } };

	if (u->kind == UPD_DELETE)
		vv_store_table_unlink(s, u->var);
	if (!(u->var->attributes & VV_ATTR_NV))
		return VV_EFI_SUCCESS;
	if (s->in_batch) {
		/* Persisted at vv_store_batch_commit; a rollback restores the
		 * table saved at begin, so nothing needs undoing here. */
		if (u->kind == UPD_DELETE) {
			u->var->next = s->batch_dead;
			s->batch_dead = u->var;
			u->kind = UPD_NONE;     /* kept for its DELETE change */
		} else {
			u->var->batch_put = true;
		}
		return VV_EFI_SUCCESS;
	}
	if (s->backend == NULL)
		return VV_EFI_SUCCESS;
	memset(&change, 0, sizeof(change));
	change.kind = u->kind == UPD_DELETE ? VV_CHANGE_DELETE : VV_CHANGE_PUT;
	change.var = u->var;
	/* Counted whether or not it works: a failed commit may leave the
	 * backend out of step with memory, which a flush repairs. */
	s->nv_commits++;
	if (s->backend->ops->commit(s->backend, s, &change, &err) != 0) {
		memcpy(s->io_error, err.msg, sizeof(s->io_error));
		undo_update(s, u);
		return VV_EFI_DEVICE_ERROR;
	}
	return VV_EFI_SUCCESS;
}

/* The write itself, after the checks: rows 25-32, persisted. */
vv_status
vv_store_apply_write(struct vv_store *s, struct vv_write *w)
{
	const struct vv_set_request *req = w->req;
	struct update u = { .kind = UPD_NONE };
	bool done = false;
	vv_status st;

	if (w->existing != NULL)
		st = plan_existing(s, w, &u, &done);
	else
		st = plan_create(s, w, &u, &done);
	if (st != VV_EFI_SUCCESS || done)
		return st;
	st = persist_update(s, &u);
	if (st == VV_EFI_SUCCESS) {
		finish_update(&u);
		w->existing = vv_store_table_find(s, req->name, req->name_len, &req->guid);
		vv_store_run_hooks(s, VV_HOOK_COMMITTED, w);
	}
	return st;
}

vv_status
vv_store_put(struct vv_store *s, const uint16_t *name, size_t name_len, const vv_guid *guid,
	     uint32_t attributes, const void *data, size_t size, const vv_efi_time *time)
{
	struct vv_set_request req = { name, name_len, *guid, attributes, data, size,
				      VV_CALLER_HOST };
	struct vv_write w;
	struct update u = { .kind = UPD_NONE };
	struct vv_variable *old = vv_store_table_find(s, name, name_len, guid);
	uint64_t name_size = ((uint64_t)name_len + 1) * 2;
	vv_status st;

	memset(&w, 0, sizeof(w));
	s->refusal[0] = '\0';
	w.req = &req;
	w.payload = data;
	w.payload_size = size;
	if (time != NULL) {
		w.has_time = true;
		w.time = *time;
	}
	if (size == 0) {
		if (old == NULL)
			return VV_EFI_NOT_FOUND;
		u.kind = UPD_DELETE;
		u.var = old;
	} else if (old != NULL && old->attributes == attributes) {
		uint8_t *copy = malloc(size);

		if (copy == NULL)
			return VV_EFI_OUT_OF_RESOURCES;
		if (!vv_store_class_has_room(s, attributes, vv_store_var_cost(s, name_size, size),
				    vv_store_var_cost(s, name_size, old->data_size))) {
			free(copy);
			return full_refusal(s, attributes);
		}
		memcpy(copy, data, size);
		u.kind = UPD_REPLACE;
		u.var = old;
		u.old_data = old->data;
		u.old_data_size = old->data_size;
		u.old_has_time = old->has_time;
		u.old_time = old->time;
		u.old_digest_size = old->digest_size;
		memcpy(u.old_digest, old->digest, sizeof(old->digest));
		replace_contents(s, old, copy, size, &w);
	} else {
		/* A changed attribute set is a delete and a create: callers
		 * (mode variables) never change them. */
		if (old != NULL)
			return VV_EFI_INVALID_PARAMETER;
		w.existing = NULL;
		st = plan_create_unchecked(s, &w, &u);
		if (st != VV_EFI_SUCCESS)
			return st;
	}
	st = persist_update(s, &u);
	if (st == VV_EFI_SUCCESS)
		finish_update(&u);
	return st;
}
