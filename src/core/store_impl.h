/*
 * src/core/store_impl.h -- the inside of struct vv_store, shared by the
 * files that implement the store, one concern each:
 *
 *   store.c          lifecycle and the variable-service rules: GetVariable,
 *                    GetNextVariableName, QueryVariableInfo, VarCheck
 *                    properties, SetVariable's checks (rows 1-24)
 *   store_update.c   SetVariable's update (rows 25-32) with its undo, and
 *                    vv_store_put, the service's own writes (quotas only)
 *   store_lang.c     row 20: PlatformLang and Lang kept in sync
 *   store_phase.c    boot phases, events, listeners and hooks
 *   store_table.c    the table: hash + creation-order list, variable nodes
 *   store_quota.c    limits, per-class accounting, reservations
 *   store_persist.c  the backend: load, flush, insert_loaded, replace_all,
 *                    restore modules, I/O errors and load warnings
 *   store_batch.c    atomic batches
 *
 * Not part of any API: nothing outside those files includes this header
 * (other library modules use include/vmvars/store.h and
 * src/core/store_state.h).
 *
 * What each part guarantees (the public invariants are in
 * include/vmvars/store.h; the numbers below refer to them):
 *
 *  - The table (tab).  Every variable is in exactly one hash chain,
 *    buckets[v->hash & (nbuckets - 1)] with nbuckets a power of 2, and in
 *    the creation-order list head..tail; count is their number.
 *    vv_store_table_append, _unlink and _relink move one variable in and
 *    out, and each keeps the class counters of invariant 4 and bumps
 *    state_changes for a volatile variable; only whole-table operations (a
 *    batch's begin and abort, replace_all) set the counters themselves,
 *    from the table they install.  cursor is NULL or a variable in the
 *    table.  A variable and its name are one allocation (vv_store_var_new),
 *    its data another (vv_store_var_free frees both).
 *  - Accounting.  used_nv, used_hwerr and used_volatile are the sums of
 *    vv_store_var_cost over the variables of each class; reserved (of
 *    which property_reserved is the VarCheck properties' share) counts
 *    against the volatile class only.  No variable is created or grown
 *    unless vv_store_class_has_room said it fits.
 *  - Phases.  ready_to_boot implies end_of_dxe.  Every change of non-NV
 *    service state bumps state_changes (store.c's file comment says why
 *    counting too often is harmless).
 *  - Writes.  SetVariable runs its checks (rows 1-24) first; the update
 *    is applied with an undo record, then persisted, and a failed persist
 *    undoes it (a row-20 companion written before it is put back), so
 *    invariant 5 holds.  refusal holds the first reason of the last
 *    refused write.
 *  - Batches.  While in_batch, batch_saved is the table as it was at
 *    begin, untouched; the live table is a copy, and NV writes are
 *    recorded (batch_put, batch_dead), not committed.
 *  - Whole-table replacement (replace_all, a batch): the old table (tab,
 *    a struct table_state) is set aside whole by a struct copy and put
 *    back exactly the same way if anything fails.
 */
#ifndef VMVARS_STORE_IMPL_H
#define VMVARS_STORE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmvars/backend.h>
#include <vmvars/store.h>

#include "core/store_state.h"
#include "core/var_property.h"

/* Returns st after recording why (vv_store_refuse): every refusal of
 * vv_store_set says which rule, in a clause a person reads after the
 * status ("EFI_INVALID_PARAMETER: its value is an array of ..."). */
#define REFUSE(s, st, ...) (vv_store_refuse((s), __VA_ARGS__), (st))

#define MAX_HOOKS_PER_STAGE 8
#define MAX_LISTENERS       8
#define MIN_BUCKETS         64
#define MAX_RESTORE_MODULES 4

struct hook {
	vv_hook_fn fn;
	void *ctx;
};

struct listener {
	vv_event_fn fn;
	void *ctx;
};

/* The part of the store vv_store_replace_all and a batch swap: the table
 * and what is counted from it -- one member of struct vv_store, so that
 * saving it and putting it back are struct copies. */
struct table_state {
	/* buckets[hash & (nbuckets - 1)], nbuckets a power of 2. */
	struct vv_variable **buckets;
	size_t nbuckets;
	size_t count;
	struct vv_variable *head, *tail;    /* creation order */
	/* The variable GetNextVariableName returned last: the next call
	 * usually starts from it, which then needs no hash probe.  Cleared
	 * whenever that variable leaves the table. */
	const struct vv_variable *cursor;
	/* Used bytes per class (invariant 4). */
	uint64_t used_nv;                   /* NV, not HR */
	uint64_t used_hwerr;                /* NV + HR */
	uint64_t used_volatile;
};

struct vv_store {
	struct vv_limits limits;

	struct table_state tab;             /* the table and its accounting */
	uint64_t reserved;                  /* vv_store_reserve, volatile class */
	uint64_t property_reserved;         /* part of reserved: VarCheck properties */

	bool end_of_dxe;
	bool ready_to_boot;
	bool at_runtime;

	struct vv_backend *backend;
	uint64_t nv_commits;                /* vv_store_nv_commits: attempts */
	uint64_t state_changes;             /* vv_store_state_changes */
	char io_error[sizeof(((struct vv_error *)0)->msg)];
	char load_warning[sizeof(((struct vv_error *)0)->msg)];
	char refusal[sizeof(((struct vv_error *)0)->msg)];  /* vv_store_last_refusal */

	struct hook hooks[VV_HOOK_STAGES][MAX_HOOKS_PER_STAGE];
	size_t nhooks[VV_HOOK_STAGES];
	struct listener listeners[MAX_LISTENERS];
	size_t nlisteners;
	struct { const struct vv_restore_ops *ops; void *ctx; } restorers[MAX_RESTORE_MODULES];
	size_t nrestorers;

	struct vv_property_table *properties;

	/* vv_store_batch_begin: the table as it was, untouched until the
	 * batch ends; the live table is a copy.  batch_dead chains (by next)
	 * the NV variables the batch deleted, for their DELETE changes. */
	bool in_batch;
	struct table_state batch_saved;
	struct vv_variable *batch_dead;
};

/* Accounting (invariant 4). */
uint64_t vv_store_var_cost(const struct vv_store *s, uint64_t name_size, uint64_t data_size);
uint64_t vv_store_class_max_size(const struct vv_store *s, uint32_t attr);
uint64_t *vv_store_class_used(struct vv_store *s, uint32_t attr);
uint64_t vv_store_class_capacity(const struct vv_store *s, uint32_t attr);
uint64_t vv_store_class_in_use(const struct vv_store *s, uint32_t attr);
bool vv_store_class_has_room(const struct vv_store *s, uint32_t attr, uint64_t add,
			     uint64_t release);

/* The table and its variables. */
struct vv_variable *vv_store_var_new(const uint16_t *name, size_t name_len, const vv_guid *guid,
				     uint32_t attr, const uint8_t *data, size_t data_size);
struct vv_variable *vv_store_var_copy(const struct vv_variable *in);
void vv_store_var_free(struct vv_variable *v);
void vv_store_free_chain(struct vv_variable *v);
struct vv_variable *vv_store_table_find(const struct vv_store *s, const uint16_t *name,
					size_t name_len, const vv_guid *guid);
void vv_store_hash_link(struct vv_store *s, struct vv_variable *v);
void vv_store_note_if_volatile(struct vv_store *s, const struct vv_variable *v);
void vv_store_table_append(struct vv_store *s, struct vv_variable *v);
void vv_store_table_unlink(struct vv_store *s, struct vv_variable *v);
void vv_store_table_relink(struct vv_store *s, struct vv_variable *v);

/* The hooks of one stage, in registration order. */
vv_status vv_store_run_hooks(struct vv_store *s, enum vv_hook_stage stage, struct vv_write *w);

/* Rules the update and the language sync share (store.c). */
bool vv_store_name_is(const struct vv_set_request *req, const char *ascii);
vv_status vv_store_check_varcheck(struct vv_store *s, struct vv_write *w);

/* Rows 25-32 for a checked write, persisted. */
vv_status vv_store_apply_write(struct vv_store *s, struct vv_write *w);

/* Row 20: PlatformLang and Lang kept in sync. */
/*
 * What a write of PlatformLang, Lang or their *Codes did to the other
 * language variable (formats §8.2 row 20, edk2 AutoUpdateLangVariable),
 * and enough to put it back if the write itself then fails.
 *
 * Choices, documented in docs/variable-rules.md:
 *  - only the EFI_GLOBAL_VARIABLE names take part (edk2 matches names
 *    under any GUID: a vendor's own "Lang" would rewrite the platform's);
 *  - the supported codes are read from the store (edk2 keeps a copy of the
 *    last value written, even when that write then failed);
 *  - deletes (DataSize 0 or no access attributes) and APPEND writes change
 *    nothing else; the language is the payload after any authentication
 *    descriptor;
 *  - the companion write passes the checks the caller's own write of it
 *    would (VarCheck, read-only properties, variable policy, after
 *    EndOfDxe; the host owner skips read-only flags and locks, as for its
 *    own writes); if they refuse it, the request is refused with that
 *    status (edk2 writes the companion unchecked, so a locked Lang could
 *    be changed through PlatformLang);
 *  - a companion that exists with attributes other than NV+BS+RT is left
 *    alone (edk2 replaces it);
 *  - the companion is written first, as in edk2, but undone if the write
 *    that caused it fails, so a failed write changes nothing.
 */
struct lang_sync {
	bool written;                   /* the companion was written */
	const uint16_t *name;           /* the companion: u"Lang" or u"PlatformLang" */
	size_t name_len;
	bool existed;                   /* its value before, to undo with */
	uint32_t old_attributes;
	uint8_t *old_data;
	size_t old_size;
	bool old_has_time;
	vv_efi_time old_time;
};


vv_status vv_store_lang_sync_begin(struct vv_store *s, const struct vv_write *w,
				   struct lang_sync *ls);
void vv_store_lang_sync_undo(struct vv_store *s, struct lang_sync *ls);

/* The structural rules of a host-supplied variable (loads, batch puts). */
int vv_store_check_loaded(const struct vv_store *s, const struct vv_variable *in,
			  uint64_t release, uint64_t *name_size, struct vv_error *err);

#endif
