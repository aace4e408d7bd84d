/*
 * src/core/store_state.h -- the store's non-NV service state as the
 * library's own modules see it: the change counter other modules bump, and
 * what src/state/snapshot.c needs to read and restore it.  Not part of the
 * public API (a VMM saves and restores through vmvars/snapshot.h).
 */
#ifndef VMVARS_STORE_STATE_H
#define VMVARS_STORE_STATE_H

#include <vmvars/store.h>

#include "core/var_property.h"

/* A change of service state the store cannot see itself (policy lock,
 * MOR lock state): bumps vv_store_state_changes. */
void vv_store_note_state_change(struct vv_store *s);

/* Sets the phase flags exactly, without running listeners: a restore
 * puts back a phase that was reached before, whose listener work (policy
 * lock at EndOfDxe, MOR clean-up) is already in the restored state.
 * ready_to_boot implies end_of_dxe. */
void vv_store_restore_phase(struct vv_store *s, bool end_of_dxe, bool ready_to_boot,
			    bool at_runtime);

/* The largest variable (overhead + name + data) the store takes with these
 * attributes: the class rule every write obeys (HR, authenticated, NV,
 * volatile), so a restore bounds a variable exactly as a live write did. */
uint64_t vv_store_max_variable_size(const struct vv_store *s, uint32_t attributes);

/* Every VarCheck property registered at run time (not the built-in table). */
void vv_store_for_each_property(const struct vv_store *s, vv_property_fn fn, void *ctx);

/*
 * Replaces the store's whole variable content (NV and volatile) with
 * vars[0, n), in that enumeration order, and makes the NV part durable
 * with one whole-store commit (VV_CHANGE_ALL): the full form of a
 * migration snapshot (src/state/snapshot.c).  Each variable obeys the
 * rules of vv_store_insert_loaded (attributes, per-class maximum size,
 * class quotas, no duplicates); no hook runs and no per-variable commit
 * is made.  On any failure (a variable refused, out of memory, the commit
 * failing) the previous table is put back exactly -- the same variable
 * objects, order and counters -- and -1 returned with err: memory is
 * unchanged, and so is the disk, since the backends' whole-store commit
 * is atomic.  Reservations and properties are not touched.  After a
 * success the restore modules' resync runs (Secure Boot derives its mode
 * from PK and the mode flags, which may now differ).
 */
int vv_store_replace_all(struct vv_store *s, const struct vv_variable *vars, size_t n,
			 struct vv_error *err);

/*
 * Inside a batch (vmvars/store.h vv_store_batch_begin), the host owner's
 * exact state of one variable: v (name, guid, attributes, data, time,
 * digest) becomes the variable, created or replaced (a variable of other
 * attributes is deleted first; an existing one keeps its place).  No hook
 * and no SetVariable rule runs, only those of vv_store_insert_loaded
 * (valid name and attributes, per-class maximum size, quotas): the state
 * was produced under the rules elsewhere (the CLI's copy of a live VM's
 * store, which ran them).  The caller refreshes the modules that derive
 * state from variables (vv_secureboot_refresh) before committing.
 * vv_store_batch_delete_var removes a variable (-1 if absent).
 * 0, or -1 with err; -1 outside a batch.
 */
int vv_store_batch_put_var(struct vv_store *s, const struct vv_variable *v, struct vv_error *err);
int vv_store_batch_delete_var(struct vv_store *s, const uint16_t *name, size_t name_len,
			      const vv_guid *guid, struct vv_error *err);

/*
 * A module that owns rules and state the store cannot see (Secure Boot:
 * the key databases' attributes, the mode it derives from PK) takes part
 * in restores through one registration, at most 4 modules:
 *
 * check, before a snapshot's variables are applied (vv_snapshot_load):
 *   refuses a state no live service produces.  vars[0, n) are the
 *   snapshot's variables; lookup finds a variable as the restored service
 *   will hold it (the snapshot's, or the store's NV one a volatile-only
 *   snapshot keeps).  0, or -1 with err.
 * resync, after vv_store_replace_all succeeded: derives its state again
 *   from the new NV content.
 * Either may be NULL.
 */
typedef const struct vv_variable *(*vv_restore_lookup_fn)(void *ctx, const uint16_t *name,
							  size_t len, const vv_guid *guid);
struct vv_restore_ops {
	int (*check)(void *ctx, const struct vv_variable *vars, size_t n,
		     vv_restore_lookup_fn lookup, void *lookup_ctx, bool at_runtime,
		     struct vv_error *err);
	void (*resync)(void *ctx, struct vv_store *s);
};
/* 0, or -1 when all slots are taken. */
int vv_store_add_restore_module(struct vv_store *s, const struct vv_restore_ops *ops, void *ctx);
void vv_store_remove_restore_module(struct vv_store *s, const struct vv_restore_ops *ops,
				    void *ctx);
/* Forgets the last refusal's reason (vv_store_last_refusal): for the
 * host-side operations that do not go through vv_store_set (Secure Boot
 * enrollment) and record their own. */
void vv_store_refusal_reset(struct vv_store *s);

/* Every registered check in turn; the first refusal's -1. */
int vv_store_run_restore_checks(const struct vv_store *s, const struct vv_variable *vars,
				size_t n, vv_restore_lookup_fn lookup, void *lookup_ctx,
				bool at_runtime, struct vv_error *err);

#endif
