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

#endif
