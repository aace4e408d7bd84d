/*
 * vmvars/vmm_protocol.h -- the VMM socket protocol between a VMM's
 * uefi-vars device front-end and vmvarsd, as constants.  docs/protocol.md
 * is the normative description, byte for byte; this header only names the
 * numbers it defines.  Message numbers and feature bits are only ever
 * appended.
 *
 * Byte order: every integer is little-endian (like the MM buffer it
 * carries, device-abi §6.1).
 *
 * Frame (both directions):
 *   off size field
 *     0    4 type     (VV_VMM_MSG_*)
 *     4    4 length   payload bytes that follow (not counting these 8)
 *     8    . payload
 *
 * HELLO / HELLO_REPLY payload, exactly 24 bytes:
 *     0    4 magic        VV_VMM_MAGIC ("VMVR" on the wire)
 *     4    4 version      VV_VMM_VERSION
 *     8    8 features     VV_VMM_FEATURE_* bitmap
 *    16    4 max_payload  largest payload the sender accepts
 *    20    4 reserved     0
 *
 * MM_REQUEST payload: buffer_size u32, then the communicate buffer
 *   (24-byte EFI_MM_COMMUNICATE_HEADER + MessageLength bytes), exactly.
 * MM_REPLY payload: status u16 (VV_STS_*), then 24 + MessageLength reply
 *   bytes when status is 0x00 or 0x11, nothing otherwise.
 * VM_RESET payload: empty.  ACK payload: acknowledged type u32.
 * ERROR payload: code u32 (VV_VMM_ERR_*), then 0..200 bytes of UTF-8
 *   text; the sender closes the connection after it.
 *
 * Migration (feature VV_VMM_FEATURE_MIGRATION; docs/migration.md):
 * SAVE_STATE payload: flags u32 (VV_SNAPSHOT_FULL, VV_SNAPSHOT_NV_DIGEST
 *   of vmvars/snapshot.h).  STATE payload: the snapshot bytes.
 * LOAD_STATE payload: flags u32 (VV_SNAPSHOT_FULL allows a full
 *   snapshot), then the snapshot bytes.  Reply ACK (type 10), or ERROR
 *   STATE_REFUSED with the loader's reason.
 * STATE and LOAD_STATE payloads may exceed max_payload: their bound is
 *   HELLO_REPLY's offset 20 (max_state_payload), reserved 0 when the
 *   feature is not granted.
 *
 * Shared memory (feature VV_VMM_FEATURE_SHM; docs/protocol.md "Shared-
 * memory transport"): SHM_SETUP payload: area_size u32
 *   (VV_VMM_SHM_AREA_SIZE), flags u32 (0), sent with exactly three
 *   descriptors (SCM_RIGHTS): the area (a memfd sealed against shrinking),
 *   the request doorbell and the reply doorbell (eventfds).  Reply ACK
 *   (type 11).  MM requests then go through the area (offsets
 *   VV_VMM_SHM_*); everything else stays on the socket.
 *
 * varstored-protocol buffers (feature VV_VMM_FEATURE_VARSTORE, granted
 * only by a daemon started with --protocol xen or aws; docs/protocol.md
 * "XenVariable and ExtVarStore buffers"):
 * VARSTORE_REQUEST payload: dialect u32 (VV_VMM_VARSTORE_*), then the
 *   first 8..65536 bytes of the 64 KiB communication buffer; the rest of
 *   it is zero.
 * VARSTORE_REPLY payload: the response written at offset 0 (0..65536
 *   bytes); empty when there is no response (buffer left as it was).
 * Type 15 is reserved for this extension.
 */
#ifndef VMVARS_VMM_PROTOCOL_H
#define VMVARS_VMM_PROTOCOL_H

#include <vmvars/mm.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VV_VMM_MAGIC             0x52564D56u  /* bytes 'V' 'M' 'V' 'R' */
#define VV_VMM_VERSION           1u
#define VV_VMM_FRAME_HEADER_SIZE 8u
#define VV_VMM_HELLO_SIZE        24u
#define VV_VMM_MM_REQUEST_MIN    (4u + VV_MM_HEADER_SIZE)
/* The largest payload either side ever needs: an MM_REQUEST of a full
 * 64 KiB buffer (4 + 65536). */
#define VV_VMM_MAX_PAYLOAD       (4u + VV_MM_MAX_BUFFER)
/* What a client must accept at least: an MM_REPLY of a full buffer. */
#define VV_VMM_MIN_CLIENT_PAYLOAD (2u + VV_MM_MAX_BUFFER)
#define VV_VMM_ERROR_TEXT_MAX    200u

enum vv_vmm_msg {
	VV_VMM_MSG_HELLO = 1,        /* VMM -> daemon, first frame */
	VV_VMM_MSG_HELLO_REPLY = 2,  /* daemon -> VMM */
	VV_VMM_MSG_MM_REQUEST = 3,   /* VMM -> daemon */
	VV_VMM_MSG_MM_REPLY = 4,     /* daemon -> VMM */
	VV_VMM_MSG_VM_RESET = 5,     /* VMM -> daemon */
	VV_VMM_MSG_ACK = 6,          /* daemon -> VMM */
	VV_VMM_MSG_ERROR = 7,        /* daemon -> VMM, then close */
	VV_VMM_MSG_SAVE_STATE = 8,   /* VMM -> daemon (MIGRATION) */
	VV_VMM_MSG_STATE = 9,        /* daemon -> VMM (MIGRATION) */
	VV_VMM_MSG_LOAD_STATE = 10,  /* VMM -> daemon (MIGRATION) */
	VV_VMM_MSG_SHM_SETUP = 11,   /* VMM -> daemon, with 3 fds (SHM) */
	/* 12 is reserved for the shared-memory transport */
	VV_VMM_MSG_VARSTORE_REQUEST = 13, /* VMM -> daemon (VARSTORE) */
	VV_VMM_MSG_VARSTORE_REPLY = 14,   /* daemon -> VMM (VARSTORE) */
};

/* Feature bits (HELLO features; the reply holds the intersection). */
#define VV_VMM_FEATURE_VM_RESET  (1ull << 0)
#define VV_VMM_FEATURE_MIGRATION (1ull << 1)  /* SAVE_STATE, LOAD_STATE */
#define VV_VMM_FEATURE_SHM       (1ull << 2)  /* SHM_SETUP: MM requests in shared memory */
#define VV_VMM_FEATURE_VARSTORE  (1ull << 3)  /* VARSTORE_REQUEST / _REPLY */
#define VV_VMM_FEATURES_KNOWN    (VV_VMM_FEATURE_VM_RESET | VV_VMM_FEATURE_MIGRATION | \
				  VV_VMM_FEATURE_SHM | VV_VMM_FEATURE_VARSTORE)

/* VARSTORE_REQUEST dialects: which guest protocol the buffer speaks. */
#define VV_VMM_VARSTORE_XEN      1u   /* XenVariable (varstored) */
#define VV_VMM_VARSTORE_AWS      2u   /* ExtVarStore */
#define VV_VMM_VARSTORE_REQUEST_MIN (4u + 8u)  /* dialect + version + command */

/*
 * The shared area (SHM): one page of control words, then the communicate
 * buffer.  Each control word is a u32 in the host's byte order (both ends
 * share the host's memory), accessed atomically by both ends; the four
 * that change per request have a cache line each.
 *   req_seq       VMM: the number of the request now in the area
 *   rep_seq       daemon: the number of the request last answered
 *   daemon_sleep  daemon: 1 while it may block (the VMM rings the request
 *                 doorbell after publishing a request)
 *   vmm_sleep     VMM: 1 while it may block (the daemon rings the reply
 *                 doorbell after publishing a reply)
 *   taken_seq     daemon: the number of the request it has started on
 *                 (stored before anything the request does: every effect
 *                 is ordered after it): a VMM whose connection ends while
 *                 taken_seq is not its request's knows the daemon never
 *                 acted on it, and may send it on a new connection
 *   buffer_size   VMM: the request's buffer size (24 .. 64 KiB)
 *   req_len       VMM: 24 + MessageLength of the request
 *   status        daemon: the reply's transport status (VV_STS_*), as u32
 *   rep_len       daemon: reply bytes at VV_VMM_SHM_BUF (24 + MessageLength
 *                 on 0x00 and 0x11, else 0)
 */
#define VV_VMM_SHM_REQ_SEQ       0u
#define VV_VMM_SHM_REP_SEQ       64u
#define VV_VMM_SHM_DAEMON_SLEEP  128u
#define VV_VMM_SHM_VMM_SLEEP     192u
#define VV_VMM_SHM_TAKEN_SEQ     320u
#define VV_VMM_SHM_BUFFER_SIZE   256u
#define VV_VMM_SHM_REQ_LEN       260u
#define VV_VMM_SHM_STATUS        264u
#define VV_VMM_SHM_REP_LEN       268u
#define VV_VMM_SHM_BUF           4096u
#define VV_VMM_SHM_AREA_SIZE     (VV_VMM_SHM_BUF + VV_MM_MAX_BUFFER)
#define VV_VMM_SHM_SETUP_SIZE    8u
#define VV_VMM_SHM_FDS           3u

enum vv_vmm_error {
	VV_VMM_ERR_MALFORMED = 1,    /* a frame broke a length or field rule */
	VV_VMM_ERR_VERSION = 2,      /* bad magic or unsupported version */
	VV_VMM_ERR_BUSY = 3,         /* another VMM is connected */
	VV_VMM_ERR_TOO_LARGE = 4,    /* length > the daemon's max_payload */
	VV_VMM_ERR_UNKNOWN_TYPE = 5, /* type not sent by a VMM */
	VV_VMM_ERR_HANDSHAKE = 6,    /* first frame not HELLO, or HELLO again */
	VV_VMM_ERR_TIMEOUT = 7,      /* a frame was not completed in time */
	VV_VMM_ERR_SHUTDOWN = 8,     /* the daemon is exiting */
	VV_VMM_ERR_NEEDS_RESET = 9,  /* the service state of the running VM is
				      * lost: only VM_RESET is served */
	VV_VMM_ERR_STATE_REFUSED = 10, /* LOAD_STATE refused (text: why); the
					* daemon's state is unchanged */
};

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_VMM_PROTOCOL_H */
