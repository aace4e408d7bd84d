/*
 * vmvars/store.h -- the variable store: UEFI GetVariable, GetNextVariableName,
 * SetVariable and QueryVariableInfo with every rule of the specification and
 * edk2, the boot phases, quotas, and the hooks later layers plug into.
 *
 * The store is the single owner of variable state.  Guest protocols (the
 * edk2 MM protocol in vmvars/mm.h), the daemon and the CLI all go through
 * it, so an offline edit obeys the same rules as a guest write.
 *
 * Names are host-order UCS-2 arrays (uint16_t, which is what C11 u"" literals
 * produce on every supported platform) passed with their length in
 * characters, without the terminating NUL.  Wire decoding happens in the
 * protocol layer.
 *
 * Invariants (checked by tests/test_store.c):
 *  (1) every stored variable has BS set, and RT only with BS; APPEND_WRITE is
 *      never stored;
 *  (2) (guid, name) is unique; lookup is a hash probe, never a scan;
 *  (3) enumeration order is creation order; an update keeps the variable's
 *      place, a delete removes it, a re-create appends it at the end;
 *  (4) used storage per class == sum over its variables of
 *      limits.variable_overhead + name_size + data_size (+ reservations);
 *  (5) a SetVariable that returns an error changed nothing, in memory or on
 *      disk.
 */
#ifndef VMVARS_STORE_H
#define VMVARS_STORE_H

#include <vmvars/efi.h>
#include <vmvars/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Storage limits.  Sizes of single variables count like edk2's
 * (PcdMax*VariableSize): variable_overhead + name size (with NUL) + data.
 * Defaults (vv_limits_default) and why:
 *   nv_storage            262144  QEMU uefi-vars `size` default, OVMF 4M store
 *   hwerr_storage           4096  reserved inside nv_storage for HwErrRec####
 *   volatile_storage      262144
 *   max_variable_size      65536  NV, non-authenticated
 *   max_auth_variable_size 65536  AT variables (dbx grows; comm buffer is 64K)
 *   max_volatile_variable_size 65536
 *   max_hwerr_variable_size 32768 edk2 PcdMaxHardwareErrorVariableSize
 *   variable_overhead         60  sizeof(edk2 AUTHENTICATED_VARIABLE_HEADER)
 * hwerr_storage may be 0: HR writes are then refused (formats §8.2 row 7).
 */
struct vv_limits {
	uint64_t nv_storage;
	uint64_t hwerr_storage;
	uint64_t volatile_storage;
	uint64_t max_variable_size;
	uint64_t max_auth_variable_size;
	uint64_t max_volatile_variable_size;
	uint64_t max_hwerr_variable_size;
	uint64_t variable_overhead;
};

void vv_limits_default(struct vv_limits *l);

/*
 * One variable.  Callers read these fields; only the store writes them.
 */
struct vv_variable {
	vv_guid guid;
	uint32_t attributes;        /* never includes VV_ATTR_APPEND */
	uint16_t *name;             /* UCS-2, NUL-terminated */
	size_t name_len;            /* characters, without the NUL */
	uint8_t *data;              /* payload (no authentication descriptor) */
	size_t data_size;
	bool has_time;              /* AT variables: the last authenticated time */
	vv_efi_time time;
	size_t digest_size;         /* private authenticated variables: signer */
	uint8_t digest[64];         /* binding, opaque to the store (0..64) */

	/* private to the store */
	struct vv_variable *hash_next;
	struct vv_variable *prev, *next;
	uint64_t hash;
	bool batch_put;             /* written in the open batch (NV) */
};

static inline size_t vv_var_name_size(const struct vv_variable *v) { return (v->name_len + 1) * 2; }

/* Who asks.  The guest is untrusted; the host owner (CLI, management API,
 * loaders, the service itself) bypasses read-only flags and policy locks,
 * like edk2's VarCheckFromTrusted, but not the structural rules. */
enum vv_caller {
	VV_CALLER_GUEST = 0,
	VV_CALLER_HOST = 1,
};

/* Boot-phase events (device-abi §5.3, §7.2 functions 5-6). */
enum vv_event {
	VV_EVENT_END_OF_DXE,
	VV_EVENT_READY_TO_BOOT,
	VV_EVENT_EXIT_BOOT_SERVICES,
	VV_EVENT_RESET,             /* VM reset: volatile state and phase gone */
};

struct vv_store;
struct vv_backend;

/* A new, empty store; NULL limits means vv_limits_default().  Returns NULL
 * on allocation failure or limits that make no sense (hwerr > nv). */
struct vv_store *vv_store_new(const struct vv_limits *limits);
void vv_store_free(struct vv_store *s);
const struct vv_limits *vv_store_limits(const struct vv_store *s);

/*
 * Persistence.  The store takes ownership of the backend.  vv_store_load()
 * requires an empty store and leaves it empty on failure (never a silently
 * partial store); err then names the file and what is wrong.
 */
void vv_store_set_backend(struct vv_store *s, struct vv_backend *b);
int vv_store_load(struct vv_store *s, struct vv_error *err);
/* Writes the whole NV content through the backend (e.g. after a host edit). */
int vv_store_flush(struct vv_store *s, struct vv_error *err);
/* How many NV changes have been committed through the backend since the
 * store was created, failed attempts included (a failed one may have left
 * the backend out of step with memory, which vv_store_flush repairs);
 * vv_store_flush itself is not counted.  A caller that notes it can tell
 * whether anything was written since: vmvarsd folds its journal into
 * vars.json once the count has been still for a while. */
uint64_t vv_store_nv_commits(const struct vv_store *s);
/* How many times the service state that is not NV content has changed:
 * volatile variables, the phase, registered VarCheck properties, variable
 * policies and the MOR lock.  It may count more often than the state
 * really changed, never less: a caller that records that state (a daemon's
 * restart record, vmvars/snapshot.h) writes it again when the count moved. */
uint64_t vv_store_state_changes(const struct vv_store *s);
/* The reason the last SetVariable returned EFI_DEVICE_ERROR ("" if none). */
const char *vv_store_last_io_error(const struct vv_store *s);
/*
 * Why the last vv_store_set did not succeed: a clause for a person that
 * names the rule, the policy or the limit -- "its value is an array of
 * 2-byte UINT16 option numbers; 5 bytes is not a multiple of 2", "the
 * store's non-volatile space is full (65000 of 65536 bytes in use)" --
 * shown after the status.  "" after a success, and for the rare refusal
 * that has nothing to add to its status (docs/variable-rules.md).
 */
const char *vv_store_last_refusal(const struct vv_store *s);
/* For hooks: records why the write being checked is refused, before the
 * hook returns the status.  The first reason recorded during one
 * vv_store_set is kept (a hook's is more precise than the row that then
 * returns its status). */
void vv_store_refuse(struct vv_store *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * What the last successful vv_store_load() dropped or repaired that a
 * person should hear about, one line naming the file and the offset (e.g.
 * the journal's damaged last record, which a crash can leave and which is
 * dropped); "" if nothing.  A caller with a log (vmvarsd) logs it as a
 * warning.  Backends report through vv_store_load_warn() during load; a
 * second warning is appended after "; " while there is room.
 */
const char *vv_store_load_warning(const struct vv_store *s);
void vv_store_load_warn(struct vv_store *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Phase.  END_OF_DXE, READY_TO_BOOT and EXIT_BOOT_SERVICES only ever set
 * their flag (ReadyToBoot implies EndOfDxe, as in edk2 VariableSmm.c);
 * RESET drops every volatile variable and clears the flags.  Listeners run
 * after the store has applied the event.
 */
void vv_store_signal(struct vv_store *s, enum vv_event ev);
bool vv_store_end_of_dxe(const struct vv_store *s);
bool vv_store_ready_to_boot(const struct vv_store *s);
bool vv_store_at_runtime(const struct vv_store *s);

typedef void (*vv_event_fn)(void *ctx, struct vv_store *s, enum vv_event ev);
/* At most 8 listeners; -1 when full.  Objects that listen (policy engine,
 * MM endpoint) remove themselves when freed, so free them before the
 * store. */
int vv_store_add_listener(struct vv_store *s, vv_event_fn fn, void *ctx);
void vv_store_remove_listener(struct vv_store *s, vv_event_fn fn, void *ctx);

/*
 * Lookup without access rules (host view): NULL if absent.
 */
const struct vv_variable *vv_store_find(const struct vv_store *s, const uint16_t *name,
					size_t name_len, const vv_guid *guid);
/* Enumeration in store order (invariant 3), host view. */
const struct vv_variable *vv_store_first(const struct vv_store *s);
const struct vv_variable *vv_store_next(const struct vv_variable *v);
size_t vv_store_count(const struct vv_store *s);

/*
 * GetVariable (formats §8.7, edk2 VariableServiceGetVariable).
 *   EFI_NOT_FOUND          empty name; absent; not accessible in this phase
 *                          (after ExitBootServices a variable needs RT)
 *   EFI_BUFFER_TOO_SMALL   *data_size < value size; *data_size set to it
 *   EFI_INVALID_PARAMETER  data NULL while *data_size is large enough
 *   EFI_SUCCESS            value copied, *data_size set
 * *attributes (if not NULL) is set on SUCCESS and on BUFFER_TOO_SMALL.
 */
vv_status vv_store_get(struct vv_store *s, const uint16_t *name, size_t name_len,
		       const vv_guid *guid, uint32_t *attributes, void *data, uint64_t *data_size);

/*
 * GetNextVariableName core (formats §8.8): the variable that follows
 * (name, guid) in store order and is accessible in this phase.
 *   name_len == 0          start of the enumeration (guid ignored)
 *   EFI_INVALID_PARAMETER  (name, guid) is not an accessible variable
 *   EFI_NOT_FOUND          no further accessible variable
 *   EFI_SUCCESS            *next set
 * Buffer sizing is the caller's (vmvars/mm.h does edk2's).
 */
vv_status vv_store_get_next(struct vv_store *s, const uint16_t *name, size_t name_len,
			    const vv_guid *guid, const struct vv_variable **next);

/* SetVariable request. */
struct vv_set_request {
	const uint16_t *name;       /* not NUL-terminated; name_len chars */
	size_t name_len;
	vv_guid guid;
	uint32_t attributes;        /* as passed, APPEND included */
	const uint8_t *data;        /* data_size bytes; may be NULL if 0 */
	uint64_t data_size;
	enum vv_caller caller;
};

/*
 * SetVariable: the checks of formats §8.2 in edk2's order, then the update.
 * The full list of statuses and the row each comes from is in
 * docs/variable-rules.md.  An NV change is durable before this returns
 * EFI_SUCCESS; if the backend fails, memory and disk are unchanged and the
 * result is EFI_DEVICE_ERROR.
 */
vv_status vv_store_set(struct vv_store *s, const struct vv_set_request *req);

/*
 * QueryVariableInfo (formats §8.9, edk2 VariableServiceQueryVariableInfo):
 * figures for the class the attributes select (HR, NV or volatile).
 */
vv_status vv_store_query(struct vv_store *s, uint32_t attributes, uint64_t *max_storage,
			 uint64_t *remaining, uint64_t *max_variable_size);

/*
 * Storage reservations for state that is not a variable but must not grow
 * without bound (variable-policy entries).  Counted against the volatile
 * class, released on RESET by their owner.  EFI_OUT_OF_RESOURCES if full.
 */
vv_status vv_store_reserve(struct vv_store *s, uint64_t bytes);
void vv_store_release(struct vv_store *s, uint64_t bytes);

/* ---- Hooks: how policy, VarCheck properties, auth and MOR plug in ---- */

/* The write under consideration, as hooks see it. */
struct vv_write {
	const struct vv_set_request *req;
	const struct vv_variable *existing; /* regardless of phase; NULL if none */
	bool is_delete;             /* (DataSize 0 and no APPEND) or no BS/RT */
	/* The value after the EFI_VARIABLE_AUTHENTICATION_2 descriptor (for AT
	 * writes), else req->data.  An auth hook may replace it (e.g. with a
	 * de-duplicated signature-list append); the store frees `owned`. */
	const uint8_t *payload;
	uint64_t payload_size;
	uint8_t *owned;
	/* Set by the auth hook for AT writes. */
	bool has_time;
	vv_efi_time time;
	size_t digest_size;
	uint8_t digest[64];
	/* Set by a hook that fully handled the request (e.g. MORLock, whose
	 * state is not an ordinary write): the store returns the hook's status
	 * without writing anything. */
	bool handled;
};

enum vv_hook_stage {
	/* formats §8.2 row 12: special variables (MOR/MORLock), any phase. */
	VV_HOOK_SPECIAL = 0,
	/* rows 13-17: VarCheck handlers; called only after EndOfDxe, and an
	 * EFI_WRITE_PROTECTED result is ignored for VV_CALLER_HOST. */
	VV_HOOK_VARCHECK = 1,
	/* rows 21-24: authenticated-variable processing.  With no hook in this
	 * stage the store has no authenticated-variable support: AT writes are
	 * EFI_INVALID_PARAMETER (row 6) and QueryVariableInfo(AT) is
	 * EFI_UNSUPPORTED. */
	VV_HOOK_AUTH = 2,
	/* After a write is applied and durable (not for writes that changed
	 * nothing).  The result is ignored.  w->existing is then the variable
	 * as it is now, or NULL after a delete. */
	VV_HOOK_COMMITTED = 3,
};
#define VV_HOOK_STAGES 4

typedef vv_status (*vv_hook_fn)(void *ctx, struct vv_store *s, struct vv_write *w);
/* At most 8 hooks per stage, run in registration order; -1 when full. */
int vv_store_add_hook(struct vv_store *s, enum vv_hook_stage stage, vv_hook_fn fn, void *ctx);
void vv_store_remove_hook(struct vv_store *s, enum vv_hook_stage stage, vv_hook_fn fn, void *ctx);

/*
 * VarCheck variable properties (edk2 VarCheck.h, SMM functions 9/10).
 * A property applies after EndOfDxe: READ_ONLY gives EFI_WRITE_PROTECTED to
 * the guest; for a non-delete, attributes != property attributes (ignoring
 * APPEND, when the property's are non-zero) or a non-zero payload size
 * outside [min_size, max_size] give EFI_INVALID_PARAMETER.
 */
#define VV_VAR_CHECK_PROPERTY_REVISION  0x0001
#define VV_VAR_CHECK_PROPERTY_READ_ONLY 0x0001
struct vv_var_property {
	uint16_t revision;
	uint16_t property;
	uint32_t attributes;
	uint64_t min_size;
	uint64_t max_size;
};
/* Set (only before EndOfDxe: else EFI_ACCESS_DENIED); EFI_INVALID_PARAMETER
 * for an empty name or a wrong revision; EFI_OUT_OF_RESOURCES if full. */
vv_status vv_store_property_set(struct vv_store *s, const uint16_t *name, size_t name_len,
				const vv_guid *guid, const struct vv_var_property *p);
/* Registered property first, then the built-in UEFI table (Boot#### etc.);
 * EFI_NOT_FOUND if neither has one; EFI_INVALID_PARAMETER for an empty name. */
vv_status vv_store_property_get(struct vv_store *s, const uint16_t *name, size_t name_len,
				const vv_guid *guid, struct vv_var_property *p);

/*
 * The service's own writes (mode variables, MOR state): sets or, with
 * size 0, deletes a variable with no rule applied except the quotas, in
 * any phase; persisted like any write when NV.  time may be NULL.
 * EFI_NOT_FOUND (delete of a missing variable), EFI_OUT_OF_RESOURCES,
 * EFI_DEVICE_ERROR (nothing changed) or EFI_SUCCESS.
 */
vv_status vv_store_put(struct vv_store *s, const uint16_t *name, size_t name_len,
		       const vv_guid *guid, uint32_t attributes, const void *data, size_t size,
		       const vv_efi_time *time);

/*
 * Atomic batches: several changes as one all-or-nothing unit, in memory
 * and on disk.
 *
 * Between vv_store_batch_begin and vv_store_batch_commit every write
 * (vv_store_set with all its rules -- authenticated writes are verified
 * exactly as for the guest --, vv_store_put, and the companions and hooks
 * they trigger) applies in memory as usual and returns its status, but
 * nothing reaches the backend.  vv_store_batch_commit then persists every
 * NV change of the batch with one backend commit (VV_CHANGE_BATCH: one
 * journal record, one atomic file rewrite), so a crash leaves all of the
 * batch on disk or none of it.  If that commit fails, or the caller calls
 * vv_store_batch_abort (e.g. because one change was refused), the store's
 * variables are put back exactly as they were at vv_store_batch_begin --
 * the same objects, order and counters -- and the restore modules resync
 * (Secure Boot derives its mode again).
 *
 * Begin copies the table (O(store)), so that the original stays untouched
 * until the commit.  Only variables are rolled back: reservations,
 * VarCheck properties, phase and MOR state changed inside a batch stay.
 * vv_store_flush is refused inside a batch.  Batches do not nest.
 *
 * begin: EFI_SUCCESS; EFI_OUT_OF_RESOURCES (no memory for the copy) or
 * EFI_INVALID_PARAMETER (a batch is open), with err.
 * commit: EFI_SUCCESS once the batch is durable; otherwise rolled back and
 * with err: EFI_DEVICE_ERROR (the backend failed: its reason, also in
 * vv_store_last_io_error), EFI_OUT_OF_RESOURCES (no memory to describe the
 * changes: nothing was written), EFI_INVALID_PARAMETER (no batch open).
 * The batch is over either way.
 */
vv_status vv_store_batch_begin(struct vv_store *s, struct vv_error *err);
vv_status vv_store_batch_commit(struct vv_store *s, struct vv_error *err);
void vv_store_batch_abort(struct vv_store *s);
bool vv_store_in_batch(const struct vv_store *s);

/*
 * Applies reqs[0, n) with vv_store_set as one batch.  EFI_SUCCESS when all
 * were accepted and the batch is durable.  Otherwise nothing changed:
 * *failed (may be NULL) is the index of the refused request and the
 * result its status, or *failed == n and EFI_DEVICE_ERROR when the commit
 * failed (vv_store_last_io_error says why), or EFI_OUT_OF_RESOURCES when
 * the batch could not start.
 */
vv_status vv_store_apply(struct vv_store *s, const struct vv_set_request *reqs, size_t n,
			 size_t *failed);

/*
 * Host-side insertion used by format loaders: no phase or VarCheck rules,
 * but the structural ones (non-empty valid name, BS set, RT only with BS, no
 * APPEND, unique, quotas).  Does not persist.  Returns 0 or -1 with err set.
 */
int vv_store_insert_loaded(struct vv_store *s, const struct vv_variable *v, struct vv_error *err);

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_STORE_H */
