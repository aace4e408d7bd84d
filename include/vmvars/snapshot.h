/*
 * vmvars/snapshot.h -- the state of one VM's variable service as bytes:
 * what is not in the NV store but decides what the guest may do and sees
 * (volatile variables, the boot phase, registered VarCheck properties, the
 * variable-policy table and its lock, the MORLock state and key).  Taken
 * while the VM is paused (or between two requests), put back into a
 * service whose NV store holds the same content -- or, in the full form,
 * with the NV variables too.  vmvarsd records it to survive its own
 * restart; live migration sends it with the VM (docs/migration.md).
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
 * How a snapshot is written and what a loader accepts (NULL: all zero).
 *
 * vm_id names the VM (16 bytes, e.g. its UUID).  The saver writes it; a
 * loader whose vm_id is not all zero refuses a snapshot of another VM.
 *
 * flags:
 *  VV_SNAPSHOT_FULL       save: the NV variables ride along (the full
 *                         form, for a VM whose NV store is a local file);
 *                         load: a full snapshot may replace this
 *                         service's whole NV content.  Without it a full
 *                         snapshot is refused (the service shares its NV
 *                         store, which a load must not overwrite).
 *  VV_SNAPSHOT_NV_DIGEST  save: record the SHA-256 of the NV content
 *                         (for the volatile-only form over a shared NV
 *                         store); a loader compares it with the NV content
 *                         it will serve and refuses a mismatch.
 */
#define VV_SNAPSHOT_FULL      0x1u
#define VV_SNAPSHOT_NV_DIGEST 0x2u

struct vv_snapshot_options {
	uint8_t vm_id[16];
	unsigned flags;
};

/*
 * Serialises the service's state (the non-NV state; with VV_SNAPSHOT_FULL
 * also every NV variable).  *out is malloc'd (free() it).  0, or -1 with
 * err (out of memory, unknown flags).
 */
int vv_snapshot_save(const struct vv_service *svc, const struct vv_snapshot_options *opts,
		     uint8_t **out, size_t *out_size, struct vv_error *err);

/*
 * Puts a snapshot back into svc, which must be at its power-on state (just
 * created, or just after a VM reset): no volatile variable but the ones
 * the service makes itself, no policy, no registered property, MORLock
 * unlocked, before EndOfDxe.  opts as above (NULL: any VM, no full form).
 * Every check runs before anything changes; err then names the byte
 * offset and the reason, and the service is unchanged.  A full snapshot
 * replaces the store's whole content in one step and one whole-store
 * commit (all or nothing, memory and disk).  If applying a checked
 * snapshot still fails (out of memory, a policy entry this engine refuses,
 * the NV commit failing), the service is reset to its power-on state
 * (VV_EVENT_RESET) over the NV content it had before, and -1 returned: it
 * never serves a half-restored state.
 */
int vv_snapshot_load(const struct vv_service *svc, const struct vv_snapshot_options *opts,
		     const uint8_t *buf, size_t size, struct vv_error *err);

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_SNAPSHOT_H */
