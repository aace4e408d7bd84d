/*
 * src/core/store_persist.c -- the store and its backend: loading
 * (vv_store_load, vv_store_insert_loaded and the structural rules of a
 * host-supplied variable), whole-store commits (vv_store_flush), replacing
 * the whole content (vv_store_replace_all, for snapshots) with the restore
 * modules that check and resync it, and what the last I/O failure and load
 * said.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/backend.h>
#include <vmvars/store.h>
#include <vmvars/ucs2.h>

#include "core/store_impl.h"

/* The structural rules of a host-supplied variable (insert_loaded and
 * batch puts); *name_size set.  release: bytes a replaced variable frees. */
int
vv_store_check_loaded(const struct vv_store *s, const struct vv_variable *in, uint64_t release,
	     uint64_t *name_size, struct vv_error *err)
{
	uint32_t attr = in->attributes;
	uint64_t cost;

	if (in->name_len == 0 || !vv_ucs2_valid(in->name, in->name_len))
		return vv_error_set(err, "name is empty or not valid UCS-2");
	if (attr & ~(uint32_t)(VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT | VV_ATTR_HR | VV_ATTR_AT))
		return vv_error_set(err, "attributes 0x%x have unsupported bits", attr);
	if (!(attr & VV_ATTR_BS))
		return vv_error_set(err, "attributes 0x%x lack BOOTSERVICE_ACCESS", attr);
	if ((attr & VV_ATTR_HR) && !(attr & VV_ATTR_NV))
		return vv_error_set(err, "attributes 0x%x: HR without NV", attr);
	if (in->digest_size > sizeof(in->digest))
		return vv_error_set(err, "digest of %zu bytes is too long", in->digest_size);
	*name_size = ((uint64_t)in->name_len + 1) * 2;
	cost = s->limits.variable_overhead + *name_size + in->data_size;
	if (cost > vv_store_class_max_size(s, attr))
		return vv_error_set(err, "%zu bytes of data exceed the maximum variable size",
				    in->data_size);
	if (!vv_store_class_has_room(s, attr, cost, release))
		return vv_error_set(err, "store quota exceeded (%llu bytes in use of %llu)",
				    (unsigned long long)vv_store_class_in_use(s, attr),
				    (unsigned long long)vv_store_class_capacity(s, attr));
	return 0;
}

int
vv_store_insert_loaded(struct vv_store *s, const struct vv_variable *in, struct vv_error *err)
{
	uint64_t name_size;
	struct vv_variable *v;

	if (vv_store_check_loaded(s, in, 0, &name_size, err) != 0)
		return -1;
	if (vv_store_table_find(s, in->name, in->name_len, &in->guid) != NULL)
		return vv_error_set(err, "duplicate variable");
	v = vv_store_var_copy(in);
	if (v == NULL)
		return vv_error_set(err, "out of memory");
	vv_store_table_append(s, v);
	return 0;
}

void
vv_store_set_backend(struct vv_store *s, struct vv_backend *b)
{
	if (s->backend != NULL && s->backend->ops->destroy != NULL)
		s->backend->ops->destroy(s->backend);
	s->backend = b;
}

static void
drop_all(struct vv_store *s)
{
	struct vv_variable *v, *next;

	for (v = s->tab.head; v != NULL; v = next) {
		next = v->next;
		vv_store_table_unlink(s, v);
		vv_store_var_free(v);
	}
}

int
vv_store_load(struct vv_store *s, struct vv_error *err)
{
	if (s->tab.count != 0)
		return vv_error_set(err, "store is not empty");
	s->load_warning[0] = '\0';
	if (s->backend == NULL)
		return 0;
	if (s->backend->ops->load(s->backend, s, err) != 0) {
		drop_all(s);
		s->load_warning[0] = '\0';     /* err says it all */
		return -1;
	}
	return 0;
}

int
vv_store_flush(struct vv_store *s, struct vv_error *err)
{
	struct vv_change all = { VV_CHANGE_ALL, NULL, NULL, 0 };

	if (s->in_batch)
		return vv_error_set(err, "a batch is open: commit or abort it first");
	if (s->backend == NULL)
		return 0;
	return s->backend->ops->commit(s->backend, s, &all, err);
}

int
vv_store_add_restore_module(struct vv_store *s, const struct vv_restore_ops *ops, void *ctx)
{
	if (s->nrestorers >= MAX_RESTORE_MODULES)
		return -1;
	s->restorers[s->nrestorers].ops = ops;
	s->restorers[s->nrestorers].ctx = ctx;
	s->nrestorers++;
	return 0;
}

void
vv_store_remove_restore_module(struct vv_store *s, const struct vv_restore_ops *ops, void *ctx)
{
	for (size_t i = 0; i < s->nrestorers; i++) {
		if (s->restorers[i].ops == ops && s->restorers[i].ctx == ctx) {
			s->restorers[i] = s->restorers[--s->nrestorers];
			return;
		}
	}
}

int
vv_store_run_restore_checks(const struct vv_store *s, const struct vv_variable *vars, size_t n,
			    vv_restore_lookup_fn lookup, void *lookup_ctx, bool at_runtime,
			    struct vv_error *err)
{
	for (size_t i = 0; i < s->nrestorers; i++)
		if (s->restorers[i].ops->check != NULL &&
		    s->restorers[i].ops->check(s->restorers[i].ctx, vars, n, lookup, lookup_ctx,
					       at_runtime, err) != 0)
			return -1;
	return 0;
}

int
vv_store_replace_all(struct vv_store *s, const struct vv_variable *vars, size_t n,
		     struct vv_error *err)
{
	struct table_state old;
	struct vv_variable **fresh;

	if (s->in_batch)
		return vv_error_set(err, "a batch is open: commit or abort it first");
	fresh = calloc(MIN_BUCKETS, sizeof(*fresh));
	if (fresh == NULL)
		return vv_error_set(err, "out of memory");
	/* The old table goes aside whole; the new one is built in its place,
	 * so vv_store_insert_loaded applies every structural rule and quota
	 * to the new content alone. */
	old = s->tab;
	s->tab.buckets = fresh;
	s->tab.nbuckets = MIN_BUCKETS;
	s->tab.count = 0;
	s->tab.head = s->tab.tail = NULL;
	s->tab.cursor = NULL;
	s->tab.used_nv = s->tab.used_hwerr = s->tab.used_volatile = 0;
	for (size_t i = 0; i < n; i++) {
		if (vv_store_insert_loaded(s, &vars[i], err) != 0) {
			vv_error_prefix(err, "variable %zu", i);
			goto undo;
		}
	}
	if (s->backend != NULL) {
		struct vv_change all = { VV_CHANGE_ALL, NULL, NULL, 0 };

		s->nv_commits++;
		if (s->backend->ops->commit(s->backend, s, &all, err) != 0) {
			memcpy(s->io_error, err->msg, sizeof(s->io_error));
			goto undo;
		}
	}
	vv_store_free_chain(old.head);
	free(old.buckets);
	s->state_changes++;
	for (size_t i = 0; i < s->nrestorers; i++)
		if (s->restorers[i].ops->resync != NULL)
			s->restorers[i].ops->resync(s->restorers[i].ctx, s);
	return 0;
undo:
	vv_store_free_chain(s->tab.head);
	free(s->tab.buckets);
	s->tab = old;
	s->state_changes++;
	return -1;
}

uint64_t
vv_store_nv_commits(const struct vv_store *s)
{
	return s->nv_commits;
}

const char *
vv_store_last_io_error(const struct vv_store *s)
{
	return s->io_error;
}

const char *
vv_store_load_warning(const struct vv_store *s)
{
	return s->load_warning;
}

void
vv_store_load_warn(struct vv_store *s, const char *fmt, ...)
{
	size_t used = strlen(s->load_warning);
	va_list ap;

	if (used > 0) {
		if (used + 2 >= sizeof(s->load_warning))
			return;
		memcpy(s->load_warning + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(s->load_warning + used, sizeof(s->load_warning) - used, fmt, ap);
	va_end(ap);
}
