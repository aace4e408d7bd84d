/*
 * vmvars/policy.h -- the edk2 variable policy engine (VariablePolicyLib),
 * enforced by the host.
 *
 * Entries are VARIABLE_POLICY_ENTRY structures exactly as the guest sends
 * them (device-abi §8.4, packed, 44-byte fixed part):
 *
 *   off size field
 *     0    4 Version = 0x00010000
 *     4    2 Size (whole entry)
 *     6    2 OffsetToName
 *     8   16 Namespace
 *    24    4 MinSize            (0 = none)
 *    28    4 MaxSize            (0xFFFFFFFF = none)
 *    32    4 AttributesMustHave
 *    36    4 AttributesCantHave
 *    40    1 LockPolicyType     (0 NO_LOCK, 1 LOCK_NOW, 2 LOCK_ON_CREATE,
 *                                3 LOCK_ON_VAR_STATE)
 *    41    3 padding (not checked: OVMF leaves garbage there)
 *    44    . type 3 only: VARIABLE_LOCK_ON_VAR_STATE_POLICY (packed, 18 bytes:
 *            Namespace 16, Value 1, Padding 1) + NUL-terminated name
 *            ending exactly at OffsetToName
 *  OffsetToName  name, NUL-terminated, ending exactly at Size; absent
 *            (Size == OffsetToName) for a namespace-wide entry.
 *
 * Matching: same namespace; '#' in a policy name matches one hex digit;
 * the entry with the fewest wildcards wins, namespace-wide entries last.
 * Enforcement runs as a VarCheck handler (after EndOfDxe only), as edk2
 * does.  The interface locks at EndOfDxe (edk2 VariableSmm.c).  A VM reset
 * empties the table and unlocks the interface: the firmware registers its
 * policies on every boot.  Every entry's size is reserved against the
 * store's volatile quota (QEMU's unbounded registration was a host DoS).
 */
#ifndef VMVARS_POLICY_H
#define VMVARS_POLICY_H

#include <vmvars/store.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VV_POLICY_ENTRY_REVISION   0x00010000u
#define VV_POLICY_ENTRY_FIXED_SIZE 44u
#define VV_POLICY_LOCK_STATE_SIZE  18u
#define VV_POLICY_NO_MAX_SIZE      0xFFFFFFFFu

enum vv_policy_lock_type {
	VV_POLICY_NO_LOCK = 0,
	VV_POLICY_LOCK_NOW = 1,
	VV_POLICY_LOCK_ON_CREATE = 2,
	VV_POLICY_LOCK_ON_VAR_STATE = 3,
};

struct vv_policy;

struct vv_policy_config {
	/* edk2 PcdAllowVariablePolicyEnforcementDisable (OVMF: FALSE). */
	bool allow_disable;
	/* Upper bound on the number of entries, on top of the quota. */
	unsigned max_entries;
};

/* Creates the engine and attaches it to the store (VarCheck hook and
 * event listener).  NULL config means {false, 1024}. */
struct vv_policy *vv_policy_new(struct vv_store *s, const struct vv_policy_config *cfg);
void vv_policy_free(struct vv_policy *p);

/*
 * RegisterVariablePolicy.
 *   EFI_WRITE_PROTECTED    interface locked
 *   EFI_INVALID_PARAMETER  malformed entry (any rule of the header comment,
 *                          MinSize > MaxSize, MustHave & CantHave != 0,
 *                          unknown lock type, surrogate in a name)
 *   EFI_ALREADY_STARTED    an entry for the same namespace and name exists
 *   EFI_OUT_OF_RESOURCES   quota or max_entries reached
 */
vv_status vv_policy_register(struct vv_policy *p, const uint8_t *entry, size_t size);
/* DisableVariablePolicy: EFI_ALREADY_STARTED if already disabled,
 * EFI_WRITE_PROTECTED if locked or disabling is not allowed. */
vv_status vv_policy_disable(struct vv_policy *p);
bool vv_policy_enabled(const struct vv_policy *p);
/* LockVariablePolicy: EFI_WRITE_PROTECTED if already locked. */
vv_status vv_policy_lock(struct vv_policy *p);
bool vv_policy_locked(const struct vv_policy *p);
size_t vv_policy_count(const struct vv_policy *p);

/*
 * DumpVariablePolicy: the entries, concatenated in registration order.
 * *size in: capacity of buf (buf may be NULL with *size 0); out: bytes
 * needed.  EFI_BUFFER_TOO_SMALL when it does not fit.
 */
vv_status vv_policy_dump(const struct vv_policy *p, uint8_t *buf, size_t *size);

/*
 * GetVariablePolicyInfo: the best-matching entry's 44-byte fixed part and
 * its name (with NUL; *name_size 0 for a namespace-wide entry).
 * EFI_NOT_FOUND if none matches; EFI_BUFFER_TOO_SMALL (with *name_size
 * set) if the name does not fit.
 */
vv_status vv_policy_get_info(const struct vv_policy *p, const uint16_t *name, size_t name_len,
			     const vv_guid *guid, uint8_t fixed[VV_POLICY_ENTRY_FIXED_SIZE],
			     uint8_t *name_out, size_t *name_size);
/* GetLockOnVariableStateVariablePolicyInfo: the 18-byte lock block and the
 * controlling variable's name.  EFI_NOT_FOUND if the best match is not a
 * LOCK_ON_VAR_STATE entry. */
vv_status vv_policy_get_lock_var_state_info(const struct vv_policy *p, const uint16_t *name,
					    size_t name_len, const vv_guid *guid,
					    uint8_t lock[VV_POLICY_LOCK_STATE_SIZE],
					    uint8_t *name_out, size_t *name_size);

/*
 * EDKII VariableLock (SMM function 8): a LOCK_NOW entry for one variable.
 * EFI_ACCESS_DENIED after EndOfDxe (edk2 VariableSmm.c); an existing
 * LOCK_NOW entry for the same variable is success.
 */
vv_status vv_policy_lock_variable(struct vv_policy *p, const uint16_t *name, size_t name_len,
				  const vv_guid *guid);

/* The policy check itself (exposed for tests and the host view):
 * EFI_SUCCESS, EFI_INVALID_PARAMETER or EFI_WRITE_PROTECTED. */
vv_status vv_policy_check(struct vv_policy *p, const uint16_t *name, size_t name_len,
			  const vv_guid *guid, uint32_t attributes, uint64_t data_size);

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_POLICY_H */
