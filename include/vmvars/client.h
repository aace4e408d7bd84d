/*
 * vmvars/client.h -- the VMM's side of vmvarsd: a connection to one VM's
 * daemon over the VMM socket (docs/protocol.md), with the same shape as the
 * in-process endpoint, so a VMM swaps vv_mm_handle() for vv_client_mm():
 *
 *   struct vv_client *c = vv_client_connect("/run/vmvars/vm1/vmm.sock", &err);
 *   struct vv_mm_handler h;
 *   vv_client_mm_handler(c, &h);
 *   dev = vv_uefi_vars_device_new_handler(&h, &guest_memory, false);
 *   ... MMIO exits -> vv_uefi_vars_device_read/write(dev, ...) as before;
 *   ... VM reset   -> vv_uefi_vars_device_reset(dev) (sends VM_RESET).
 *
 * Transport: MM requests go through a shared-memory area when the daemon
 * grants VV_VMM_FEATURE_SHM (the client always asks), else as MM_REQUEST
 * frames (docs/protocol.md "Shared-memory transport").
 *
 * Reconnection: a request whose frame could not be sent because the
 * connection broke (the daemon restarted) -- or, through shared memory,
 * one the daemon had not started on when the connection ended -- is sent
 * once more on a new connection, after a new handshake.  A request that was sent but not
 * answered is never sent again: the daemon may have applied it (a keyed
 * MORLock applied twice is a lock and an unlock), so it gets
 * VV_STS_ERR_UNKNOWN (the guest sees EFI_DEVICE_ERROR) and the next request
 * reconnects.  A restarted daemon continues from the VM's recorded service
 * state, or refuses until the VMM resets the VM (docs/protocol.md "Daemon
 * restart").
 *
 * A client is not thread-safe; the VMM serialises calls as it does for
 * the device.
 */
#ifndef VMVARS_CLIENT_H
#define VMVARS_CLIENT_H

#include <vmvars/error.h>
#include <vmvars/extvarstore.h>
#include <vmvars/uefi_vars_device.h>
#include <vmvars/vmm_protocol.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vv_client;

/* Connects to the VMM socket at path and does the handshake.  NULL with
 * err set (the daemon's ERROR text when it refused, e.g. BUSY). */
struct vv_client *vv_client_connect(const char *path, struct vv_error *err);
void vv_client_free(struct vv_client *c);

/*
 * One MM request, with the contract of vv_mm_handle() (vmvars/mm.h): buf
 * holds buf_size bytes, the request at offset 0.  Returns the daemon's
 * transport status (reply in place on 0x00 and 0x11), VV_STS_ERR_BAD_
 * BUFFER_SIZE without contacting the daemon when 24 + MessageLength does
 * not fit buf_size, or VV_STS_ERR_UNKNOWN when the daemon could not be
 * reached (buf then unchanged; vv_client_last_error() says why).
 */
uint16_t vv_client_mm(struct vv_client *c, uint8_t *buf, size_t buf_size);

/*
 * One XenVariable / ExtVarStore request (VARSTORE_REQUEST, granted by a
 * daemon started with --protocol xen or aws), with the contract of
 * vv_xenvar_handle() (vmvars/xenvar.h): buf holds buf_size bytes (the
 * 64 KiB buffer), the request at offset 0.  0 with *resp_len the response
 * length (buf then holds it at offset 0, zeros after; 0: no response, buf
 * unchanged), or -1 (not granted, unreachable, malformed reply; buf
 * unchanged; vv_client_last_error() says why).  Reconnection as for
 * vv_client_mm().
 */
int vv_client_varstore(struct vv_client *c, enum vv_xenvar_dialect d, uint8_t *buf,
		       size_t buf_size, size_t *resp_len);

/* VM reset (VM_RESET -> ACK).  0, or -1 with vv_client_last_error(). */
int vv_client_vm_reset(struct vv_client *c);

/*
 * Migration (docs/migration.md; needs VV_VMM_FEATURE_MIGRATION, which
 * this client always asks for).  vv_client_save_state: SAVE_STATE with
 * flags (VV_SNAPSHOT_FULL, VV_SNAPSHOT_NV_DIGEST of vmvars/snapshot.h);
 * *out is malloc'd (free() it).  vv_client_load_state: LOAD_STATE; flags
 * VV_SNAPSHOT_FULL lets the daemon take a full snapshot.  0, or -1 with
 * vv_client_last_error() (for a refusal, the daemon's reason).  A save,
 * which changes nothing, is retried once on a new connection when the old
 * one broke (a daemon restarted while the VM was paused); a load is not:
 * the VMM decides (the source keeps running on any failure, and a second
 * LOAD_STATE after a load that did complete is refused as "not at its
 * power-on state").
 */
int vv_client_save_state(struct vv_client *c, uint32_t flags, uint8_t **out, size_t *size);
int vv_client_load_state(struct vv_client *c, uint32_t flags, const uint8_t *buf, size_t size);

/* The features the daemon granted in its HELLO_REPLY. */
uint64_t vv_client_features(const struct vv_client *c);
/* How many times the client has reconnected since vv_client_connect(). */
unsigned vv_client_reconnects(const struct vv_client *c);
const char *vv_client_last_error(const struct vv_client *c);

/* Fills h so that vv_uefi_vars_device_new_handler() forwards to c. */
void vv_client_mm_handler(struct vv_client *c, struct vv_mm_handler *h);

/* Fills h so that vv_extvar_device_new() (vmvars/extvarstore.h) forwards
 * to c in dialect d; a request the daemon cannot answer gets the 8-byte
 * response EFI_DEVICE_ERROR.  The reset sends VM_RESET. */
void vv_client_extvar_handler(struct vv_client *c, enum vv_xenvar_dialect d,
			      struct vv_extvar_handler *h);

/* Sets the timeout for each read and write on the socket (default 30000
 * ms); a daemon that does not answer in time counts as unreachable. */
void vv_client_set_timeout(struct vv_client *c, int ms);

/*
 * Sets how long, in microseconds, a request waits for its reply by
 * spinning before it blocks, on both transports (defaults
 * VV_CLIENT_POLL_US_DEFAULT on socket frames, VV_CLIENT_SHM_SPIN_US_DEFAULT
 * on shared memory; 0: always block).  On socket frames each spin is a
 * recv() system call; on shared memory it is a load of the reply's
 * sequence word, it runs only while vmvarsd is seen awake and taking the
 * request, and it stops while the host is crowded or the calling thread
 * is being preempted (core/spin_gate.h).  Socket frames block by
 * default: on the recorded OVMF boot every socket window was slower or
 * costlier than blocking on a loaded host.  Shared memory spins 20 us by
 * default: the gated spin makes the boot 15-25x faster than blocking on
 * an idle host (0.75-1.25 ms against 17-24 ms), with an eighth of the
 * CPU, and next to a busy job, where the gate shuts it, costs 4-15 % more
 * than blocking (docs/performance.md "The real boot through vmvarsd",
 * "Where the round trip went"); 0 turns it off.
 * The caller -- a VMM vCPU thread -- is stalled on the device access
 * anyway; spinning trades up to `us` of CPU per request for the
 * scheduler's wake-up latency.  It spins only while a request is in
 * flight, never between requests; with one usable CPU never.  Replies and
 * errors are the same either way; the timeout of vv_client_set_timeout()
 * still bounds the wait.
 */
#define VV_CLIENT_POLL_US_DEFAULT 0u
#define VV_CLIENT_SHM_SPIN_US_DEFAULT 20u
void vv_client_set_poll_us(struct vv_client *c, unsigned us);

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_CLIENT_H */
