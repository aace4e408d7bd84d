/*
 * vmvars/mor.h -- TCG Platform Reset Attack Mitigation: the
 * MemoryOverwriteRequestControl (MOR) and MemoryOverwriteRequestControlLock
 * (MORLock) variables, enforced as edk2's TcgMorLockSmm does
 * (varstore-formats §8.5, §10.1).
 *
 *   MOR      e20939be-32d4-41be-a150-897f85d49829, NV|BS|RT, 1 byte:
 *            bit 0 ClearMemory, bit 4 DisableAutoDetect, other bits reserved
 *   MORLock  bb983ccf-151d-40e1-a07b-4a17be168292, NV|BS|RT, 1 or 8 bytes;
 *            stored value 0 unlocked, 1 locked without key, 2 locked with key
 *
 * Lock state machine (lives in memory; a VM reset unlocks):
 *   unlocked --1-byte 0--> unlocked          --1-byte 1--> locked (no key)
 *   unlocked --8-byte K--> locked with key K --other 1-byte--> INVALID_PARAMETER
 *   locked with K --8-byte K--> unlocked
 *   locked with K --8-byte K' != K--> locked (no key), EFI_ACCESS_DENIED
 *   locked, anything else --> EFI_ACCESS_DENIED
 * MOR writes while locked: EFI_ACCESS_DENIED.  Neither can be deleted.
 * At EndOfDxe MORLock is (re)written as 0 when the platform has a TPM
 * (the VMM says so); without one both are deleted and refused afterwards.
 */
#ifndef VMVARS_MOR_H
#define VMVARS_MOR_H

#include <vmvars/store.h>

#ifdef __cplusplus
extern "C" {
#endif

enum vv_mor_lock_state {
	VV_MOR_UNLOCKED = 0,
	VV_MOR_LOCKED_NO_KEY = 1,
	VV_MOR_LOCKED_WITH_KEY = 2,
};

struct vv_mor;

/* tpm_present: whether the VM has a (v)TPM, i.e. MOR is meaningful. */
struct vv_mor *vv_mor_new(struct vv_store *s, bool tpm_present);
/* Detaches from the store: free before the store. */
void vv_mor_free(struct vv_mor *m);
enum vv_mor_lock_state vv_mor_lock_state(const struct vv_mor *m);

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_MOR_H */
