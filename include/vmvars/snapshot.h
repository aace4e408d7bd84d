/*
 * vmvars/snapshot.h -- the state of one VM's variable service as bytes:
 * what is not in the NV store but decides what the guest may do and sees
 * (volatile variables, the boot phase, registered VarCheck properties, the
 * variable-policy table and its lock, the MORLock state and key).  Taken
 * while the VM is paused (or between two requests), put back into a
 * service whose NV store holds the same content.  vmvarsd records it to
 * survive its own restart; live migration sends it with the VM.
 *
 * The byte format (versioned, little-endian, self-describing, CRC-32
 * checked) is documented byte for byte in docs/snapshot.md.
 *
 * A snapshot is hostile input to the side that loads it: every field is
 * checked, sizes are held to the loading service's own limits, and a
 * snapshot that fails a check changes nothing.
 */
#ifndef VMVARS_SNAPSHOT_H
#define VMVARS_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include <vmvars/error.h>
#include <vmvars/mor.h>
#include <vmvars/policy.h>
#include <vmvars/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The objects one VM's service is made of.  policy and mor may be NULL
 * (not attached); Secure Boot keeps no state outside the store. */
struct vv_service {
	struct vv_store *store;
	struct vv_policy *policy;
	struct vv_mor *mor;
};

#define VV_SNAPSHOT_VERSION 1u

/*
 * Serialises the service's non-NV state.  vm_id (16 bytes, may be NULL for
 * all zeros) names the VM; a loader can insist on it.  *out is malloc'd
 * (free() it).  0, or -1 with err (out of memory).
 */
int vv_snapshot_save(const struct vv_service *svc, const uint8_t *vm_id, uint8_t **out,
		     size_t *out_size, struct vv_error *err);

/*
 * Puts a snapshot back into svc, which must be at its power-on state (just
 * created, or just after a VM reset): no volatile variable but the ones
 * the service makes itself, no policy, no registered property, MORLock
 * unlocked, before EndOfDxe.  vm_id (NULL: any) must match the snapshot's.
 * Every check runs before anything changes; err then names the byte
 * offset and the reason, and the service is unchanged.  If applying a
 * checked snapshot still fails (out of memory, a limit of this service
 * smaller than the source's), the service is reset to its power-on state
 * (VV_EVENT_RESET) and -1 returned: it never serves a half-restored state.
 */
int vv_snapshot_load(const struct vv_service *svc, const uint8_t *vm_id, const uint8_t *buf,
		     size_t size, struct vv_error *err);

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_SNAPSHOT_H */
