/*
 * src/daemon/vmm_conn.c -- the daemon's side of the VMM socket protocol
 * (docs/protocol.md; numbers in vmvars/vmm_protocol.h): frame parsing,
 * the handshake, MM_REQUEST -> MM_REPLY, VM_RESET -> ACK, with the
 * MIGRATION feature SAVE_STATE -> STATE and LOAD_STATE -> ACK
 * (docs/migration.md), with the VARSTORE feature (--protocol xen|aws)
 * VARSTORE_REQUEST -> VARSTORE_REPLY instead of MM_REQUEST, and with
 * the SHM feature SHM_SETUP -> ACK and the MM requests of the shared
 * area (vmm_shm.c).
 *
 * The VMM is trusted more than the guest but its bytes are the guest's:
 * every frame is validated whole before anything acts on it (protocol.md
 * "Validation").  Any violation queues one ERROR frame, logs the reason
 * (numbers only, never payload bytes) and ends the connection; the daemon
 * and the store are untouched by a rejected frame.
 *
 * Connection states: NEW (no HELLO yet; only HELLO is valid) -> READY
 * (c->handshaken; MM_REQUEST and VM_RESET valid) -> CLOSING
 * (c->close_after_flush; nothing more is read).
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/vmm_protocol.h>

#include "daemon.h"

/* Queues one frame: header then payload. */
static int
send_frame(struct conn *c, uint32_t type, const void *payload, size_t len)
{
	uint8_t hdr[VV_VMM_FRAME_HEADER_SIZE];

	vv_put_le32(hdr, type);
	vv_put_le32(hdr + 4, (uint32_t)len);
	if (conn_queue(c, hdr, sizeof(hdr)) != 0 || conn_queue(c, payload, len) != 0)
		return -1;
	return 0;
}

void
vmm_conn_error(struct conn *c, uint32_t code, const char *text)
{
	uint8_t payload[4 + VV_VMM_ERROR_TEXT_MAX];
	size_t n = strlen(text);

	if (n > VV_VMM_ERROR_TEXT_MAX)
		n = VV_VMM_ERROR_TEXT_MAX;
	vv_put_le32(payload, code);
	memcpy(payload + 4, text, n);
	(void)send_frame(c, VV_VMM_MSG_ERROR, payload, 4 + n);
	c->close_after_flush = true;
}

/* Logs why and ends the connection with an ERROR frame; returns -1. */
static int
reject(struct vm *vm, struct conn *c, uint32_t code, const char *why)
{
	log_warn("vmm connection %u: %s; closing it", c->id, why);
	vm->vmm_protocol_errors++;
	vmm_conn_error(c, code, why);
	return -1;
}

/* The service state is lost (vm.c): nothing but VM_RESET until the VMM
 * resets the VM.  The connection ends so the VMM cannot miss it. */
static int
refuse_until_reset(struct vm *vm, struct conn *c)
{
	log_warn("vmm connection %u: refused: the VM needs a reset", c->id);
	vm->vmm_protocol_errors++;
	vmm_conn_error(c, VV_VMM_ERR_NEEDS_RESET, vm->needs_reset_why);
	return -1;
}

/*
 * HELLO (protocol.md "Handshake"): exactly 24 bytes, our magic and
 * version, reserved 0, and a client that can take a full MM_REPLY.
 */
static int
handle_hello(struct vm *vm, struct conn *c, const uint8_t *p, uint32_t len)
{
	uint8_t reply[VV_VMM_HELLO_SIZE];
	uint64_t features;

	if (c->handshaken)
		return reject(vm, c, VV_VMM_ERR_HANDSHAKE, "HELLO sent twice");
	if (len != VV_VMM_HELLO_SIZE)
		return reject(vm, c, VV_VMM_ERR_MALFORMED, "HELLO payload is not 24 bytes");
	if (vv_le32(p) != VV_VMM_MAGIC)
		return reject(vm, c, VV_VMM_ERR_VERSION, "bad magic in HELLO");
	if (vv_le32(p + 4) != VV_VMM_VERSION)
		return reject(vm, c, VV_VMM_ERR_VERSION, "unsupported protocol version");
	if (vv_le32(p + 20) != 0)
		return reject(vm, c, VV_VMM_ERR_MALFORMED, "HELLO reserved field is not 0");
	if (vv_le32(p + 16) < VV_VMM_MIN_CLIENT_PAYLOAD)
		return reject(vm, c, VV_VMM_ERR_MALFORMED,
			      "HELLO max_payload cannot hold an MM_REPLY of 64 KiB");
	features = vv_le64(p + 8) & VV_VMM_FEATURES_KNOWN;
	vv_put_le32(reply, VV_VMM_MAGIC);
	vv_put_le32(reply + 4, VV_VMM_VERSION);
	vv_put_le64(reply + 8, features);
	vv_put_le32(reply + 16, VV_VMM_MAX_PAYLOAD);
	/* max_state_payload: the bound of STATE and LOAD_STATE payloads, for
	 * a VMM that asked for MIGRATION; reserved (0) for any other. */
	/* MIGRATION only where the operator started the daemon for it
	 * (--migration, --incoming): with it a VMM could replace the NV store
	 * through a full LOAD_STATE, which no MM request can. */
	if (!vm->cfg_migration && !vm->cfg_incoming)
		features &= ~(uint64_t)VV_VMM_FEATURE_MIGRATION;
	/* VARSTORE only where the VM's firmware speaks a varstored dialect:
	 * one guest protocol per VM (--protocol). */
	if (vm->protocol == VM_PROTO_MM)
		features &= ~(uint64_t)VV_VMM_FEATURE_VARSTORE;
	vv_put_le64(reply + 8, features);
	vv_put_le32(reply + 20, (features & VV_VMM_FEATURE_MIGRATION) ?
				(uint32_t)(4 + vm_state_max(vm)) : 0);
	c->migration = (features & VV_VMM_FEATURE_MIGRATION) != 0;
	c->varstore = (features & VV_VMM_FEATURE_VARSTORE) != 0;
	/* The shared area carries MM requests only: not for a varstored
	 * dialect, whose daemon refuses MM requests. */
	if (vm->cfg_no_shm || vm->protocol != VM_PROTO_MM)
		features &= ~(uint64_t)VV_VMM_FEATURE_SHM;
	vv_put_le64(reply + 8, features);
	c->shm_granted = (features & VV_VMM_FEATURE_SHM) != 0;
	c->handshaken = true;
	log_info("vmm connection %u: protocol %u, features 0x%llx", c->id, VV_VMM_VERSION,
		 (unsigned long long)features);
	return send_frame(c, VV_VMM_MSG_HELLO_REPLY, reply, sizeof(reply));
}

/*
 * What follows an MM request handled into vm->mm_buf, on either
 * transport: counted, recorded before its reply can leave (a daemon
 * restarted after the guest saw the reply continues from it, protocol.md
 * "Daemon restart").  Returns the reply's length (24 + MessageLength on
 * SUCCESS and NOT_SUPPORTED, 0 otherwise: vmvars/mm.h), or -1 when the
 * state could not be recorded (the VMM has been refused).
 */
static ssize_t
after_mm_request(struct vm *vm, struct conn *c, uint16_t sts, size_t total)
{
	vm->mm_served_since_start++;
	vm->mm_served_since_reset++;
	if (vm_record(vm) != 0)
		return refuse_until_reset(vm, c);
	return sts == VV_STS_SUCCESS || sts == VV_STS_ERR_NOT_SUPPORTED ? (ssize_t)total : 0;
}

/*
 * MM_REQUEST (protocol.md "MM_REQUEST"): buffer_size u32 then the
 * communicate buffer.  Checked in this order, each before any use:
 *   (1) len >= 4 + 24;
 *   (2) 24 <= buffer_size <= 64 KiB;
 *   (3) 24 + MessageLength == len - 4 exactly (no overflow: MessageLength
 *       is compared to a 32-bit remainder before adding);
 *   (4) len - 4 <= buffer_size.
 */
static int
handle_mm_request(struct vm *vm, struct conn *c, const uint8_t *p, uint32_t len)
{
	uint8_t fh[VV_VMM_FRAME_HEADER_SIZE], sts_le[2];
	uint32_t buffer_size;
	uint64_t message_length;
	ssize_t reply_len;
	size_t total;
	uint16_t sts;

	if (vm->protocol != VM_PROTO_MM)
		return reject(vm, c, VV_VMM_ERR_UNKNOWN_TYPE,
			      "MM_REQUEST: this daemon serves a varstored protocol (--protocol)");
	if (len < VV_VMM_MM_REQUEST_MIN)
		return reject(vm, c, VV_VMM_ERR_MALFORMED, "MM_REQUEST shorter than 28 bytes");
	buffer_size = vv_le32(p);
	if (buffer_size < VV_MM_HEADER_SIZE || buffer_size > VV_MM_MAX_BUFFER)
		return reject(vm, c, VV_VMM_ERR_MALFORMED, "MM_REQUEST buffer_size out of range");
	total = (size_t)len - 4;
	message_length = vv_le64(p + 4 + 16);
	if (message_length != total - VV_MM_HEADER_SIZE)
		return reject(vm, c, VV_VMM_ERR_MALFORMED,
			      "MM_REQUEST length disagrees with MessageLength");
	if (total > buffer_size)
		return reject(vm, c, VV_VMM_ERR_MALFORMED, "MM_REQUEST larger than buffer_size");
	if (vm->needs_reset)
		return refuse_until_reset(vm, c);
	sts = vm_mm_request(vm, p + 4, total, buffer_size);
	reply_len = after_mm_request(vm, c, sts, total);
	if (reply_len < 0)
		return -1;
	total = (size_t)reply_len;
	vv_put_le16(sts_le, sts);
	vv_put_le32(fh, VV_VMM_MSG_MM_REPLY);
	vv_put_le32(fh + 4, (uint32_t)(2 + total));
	if (conn_queue(c, fh, sizeof(fh)) != 0 || conn_queue(c, sts_le, 2) != 0 ||
	    conn_queue(c, vm->mm_buf, total) != 0)
		return -1;
	return 0;
}

/*
 * VARSTORE_REQUEST (protocol.md "XenVariable and ExtVarStore buffers"):
 * dialect u32, then 8..65536 bytes of the communication buffer.  The
 * dialect must be the one --protocol chose: a Xen VMM on an ExtVarStore
 * daemon would have its at_runtime bytes read as attributes.
 */
static int
handle_varstore_request(struct vm *vm, struct conn *c, const uint8_t *p, uint32_t len)
{
	uint8_t fh[VV_VMM_FRAME_HEADER_SIZE];
	uint32_t dialect, want;
	size_t n;

	if (len < VV_VMM_VARSTORE_REQUEST_MIN || len - 4 > VV_XENVAR_BUFFER_SIZE)
		return reject(vm, c, VV_VMM_ERR_MALFORMED,
			      "VARSTORE_REQUEST not 12..65540 bytes");
	dialect = vv_le32(p);
	want = vm->protocol == VM_PROTO_XEN ? VV_VMM_VARSTORE_XEN : VV_VMM_VARSTORE_AWS;
	if (dialect != want)
		return reject(vm, c, VV_VMM_ERR_MALFORMED,
			      "VARSTORE_REQUEST dialect is not this daemon's --protocol");
	if (vm->needs_reset)
		return refuse_until_reset(vm, c);
	n = vm_varstore_request(vm, p + 4, (size_t)len - 4);
	vm->mm_served_since_start++;
	vm->mm_served_since_reset++;
	/* Recorded before the reply can leave, as for MM_REQUEST. */
	if (vm_record(vm) != 0)
		return refuse_until_reset(vm, c);
	vv_put_le32(fh, VV_VMM_MSG_VARSTORE_REPLY);
	vv_put_le32(fh + 4, (uint32_t)n);
	if (conn_queue(c, fh, sizeof(fh)) != 0 || conn_queue(c, vm->mm_buf, n) != 0)
		return -1;
	return 0;
}

/*
 * The MM request in the shared area (protocol.md "Shared-memory
 * transport"): the same checks as MM_REQUEST, on words read once and on
 * the daemon's private copy of the buffer -- the VMM can change the area
 * at any moment, so nothing is read from it twice:
 *   (1) 24 <= buffer_size <= 64 KiB;
 *   (2) 24 <= req_len <= buffer_size;
 *   (3) after the copy of req_len bytes: 24 + MessageLength == req_len.
 * The reply goes into the area from the private buffer, which held
 * nothing but this request (zeroed before the copy).
 */
int
vmm_conn_serve_shm(struct vm *vm, struct conn *c)
{
	uint32_t seq, buffer_size, len;
	ssize_t reply_len;
	uint16_t sts;

	if (c->shm == NULL || c->close_after_flush ||
	    !vmm_shm_take(c->shm, &seq, &buffer_size, &len))
		return 0;
	if (buffer_size < VV_MM_HEADER_SIZE || buffer_size > VV_MM_MAX_BUFFER)
		return reject(vm, c, VV_VMM_ERR_MALFORMED, "shared MM request buffer_size out of range");
	if (len < VV_MM_HEADER_SIZE || len > buffer_size)
		return reject(vm, c, VV_VMM_ERR_MALFORMED, "shared MM request length out of range");
	if (vm->needs_reset)
		return refuse_until_reset(vm, c);
	vm_mm_copy_in(vm, vmm_shm_buf(c->shm), len);
	if (vv_le64(vm->mm_buf + 16) != (uint64_t)len - VV_MM_HEADER_SIZE)
		return reject(vm, c, VV_VMM_ERR_MALFORMED,
			      "shared MM request length disagrees with MessageLength");
	vm->vmm_bytes_in += len;
	sts = vm_mm_handle_copied(vm, buffer_size);
	reply_len = after_mm_request(vm, c, sts, len);
	if (reply_len < 0)
		return -1;
	vmm_shm_reply(c->shm, seq, sts, vm->mm_buf, (size_t)reply_len);
	vm->vmm_bytes_out += (uint64_t)reply_len;
	return 1;
}

/* SHM_SETUP: area_size u32, flags u32, and the three descriptors. */
static int
handle_shm_setup(struct vm *vm, struct conn *c, const uint8_t *p, uint32_t len)
{
	const char *why = NULL;
	uint8_t ack[4];

	if (len != VV_VMM_SHM_SETUP_SIZE)
		return reject(vm, c, VV_VMM_ERR_MALFORMED, "SHM_SETUP payload is not 8 bytes");
	if (vmm_shm_setup(c, vv_le32(p), vv_le32(p + 4), &why) != 0)
		return reject(vm, c, VV_VMM_ERR_MALFORMED, why);
	log_info("vmm connection %u: MM requests through shared memory", c->id);
	vv_put_le32(ack, VV_VMM_MSG_SHM_SETUP);
	return send_frame(c, VV_VMM_MSG_ACK, ack, sizeof(ack));
}

static int
handle_vm_reset(struct vm *vm, struct conn *c, uint32_t len)
{
	uint8_t ack[4];

	if (len != 0)
		return reject(vm, c, VV_VMM_ERR_MALFORMED, "VM_RESET payload is not empty");
	if (vm_reset(vm) != 0)
		return refuse_until_reset(vm, c);
	log_info("vmm connection %u: VM reset", c->id);
	vv_put_le32(ack, VV_VMM_MSG_VM_RESET);
	return send_frame(c, VV_VMM_MSG_ACK, ack, sizeof(ack));
}

/*
 * SAVE_STATE (docs/migration.md): flags u32, FULL and NV_DIGEST only.
 * The VM is paused, so this is its state until the VMM resumes it here or
 * on the destination.  Saving changes nothing: the source keeps serving.
 */
static int
handle_save_state(struct vm *vm, struct conn *c, const uint8_t *p, uint32_t len)
{
	struct vv_error err = { { 0 } };
	uint8_t *snap = NULL;
	size_t size = 0;
	uint32_t flags;
	int rc;

	if (len != 4)
		return reject(vm, c, VV_VMM_ERR_MALFORMED, "SAVE_STATE payload is not 4 bytes");
	flags = vv_le32(p);
	if (flags & ~(uint32_t)(VV_SNAPSHOT_FULL | VV_SNAPSHOT_NV_DIGEST))
		return reject(vm, c, VV_VMM_ERR_MALFORMED, "SAVE_STATE flags unknown");
	if (!vm->cfg_migration)
		return reject(vm, c, VV_VMM_ERR_STATE_REFUSED,
			      "SAVE_STATE: this daemon was not started with --migration");
	if (vm->needs_reset)
		return refuse_until_reset(vm, c);
	if (vm_save_state(vm, flags, &snap, &size, &err) != 0) {
		log_error("vmm connection %u: SAVE_STATE: %s", c->id, err.msg);
		return reject(vm, c, VV_VMM_ERR_STATE_REFUSED, err.msg);
	}
	rc = send_frame(c, VV_VMM_MSG_STATE, snap, size);
	log_info("vmm connection %u: saved the service state (%zu bytes, flags 0x%x)", c->id,
		 size, flags);
	free(snap);
	return rc;
}

/*
 * LOAD_STATE: flags u32, then the snapshot (hostile bytes: every check is
 * the loader's, src/state/snapshot.c).  Refused: ERROR STATE_REFUSED with
 * the loader's reason, and the daemon holds what it held (the power-on
 * state); the VMM may retry on a new connection.
 */
static int
handle_load_state(struct vm *vm, struct conn *c, const uint8_t *p, uint32_t len)
{
	struct vv_error err = { { 0 } };
	uint32_t flags;
	int rc;

	if (len < 4)
		return reject(vm, c, VV_VMM_ERR_MALFORMED, "LOAD_STATE shorter than 4 bytes");
	flags = vv_le32(p);
	if (flags & ~(uint32_t)VV_SNAPSHOT_FULL)
		return reject(vm, c, VV_VMM_ERR_MALFORMED, "LOAD_STATE flags unknown");
	/* A destination takes one state, before it has served the VM
	 * anything: a VMM of a running VM cannot swap the store under it. */
	if (!vm->cfg_incoming)
		return reject(vm, c, VV_VMM_ERR_STATE_REFUSED,
			      "LOAD_STATE: this daemon was not started with --incoming");
	if (vm->state_loaded || vm->mm_served_since_start != 0)
		return reject(vm, c, VV_VMM_ERR_STATE_REFUSED,
			      "LOAD_STATE: the service is not at its power-on state: this daemon "
			      "has served the VM or taken a state since it started");
	rc = vm_load_state(vm, flags, p + 4, len - 4, &err);
	if (rc == -1) {
		log_warn("vmm connection %u: LOAD_STATE refused: %s", c->id, err.msg);
		return reject(vm, c, VV_VMM_ERR_STATE_REFUSED, err.msg);
	}
	if (rc != 0)
		return refuse_until_reset(vm, c);
	vm->state_loaded = true;
	return send_frame(c, VV_VMM_MSG_ACK, (uint8_t[4]){ VV_VMM_MSG_LOAD_STATE, 0, 0, 0 }, 4);
}

/* One whole, length-checked frame. */
static int
dispatch(struct vm *vm, struct conn *c, uint32_t type, const uint8_t *p, uint32_t len)
{
	if (type == VV_VMM_MSG_HELLO)
		return handle_hello(vm, c, p, len);
	if (!c->handshaken)
		return reject(vm, c, VV_VMM_ERR_HANDSHAKE, "first frame is not HELLO");
	switch (type) {
	case VV_VMM_MSG_MM_REQUEST:
		return handle_mm_request(vm, c, p, len);
	case VV_VMM_MSG_VM_RESET:
		return handle_vm_reset(vm, c, len);
	case VV_VMM_MSG_VARSTORE_REQUEST:
		if (!c->varstore)
			break;
		return handle_varstore_request(vm, c, p, len);
	case VV_VMM_MSG_SAVE_STATE:
		if (!c->migration)
			break;
		return handle_save_state(vm, c, p, len);
	case VV_VMM_MSG_LOAD_STATE:
		if (!c->migration)
			break;
		return handle_load_state(vm, c, p, len);
	case VV_VMM_MSG_SHM_SETUP:
		if (!c->shm_granted)
			break;
		return handle_shm_setup(vm, c, p, len);
	default:
		break;
	}
	return reject(vm, c, VV_VMM_ERR_UNKNOWN_TYPE, "unknown or server-only frame type");
}

int
vmm_conn_process(struct vm *vm, struct conn *c)
{
	c->backlog = false;
	while (!c->close_after_flush && c->in_len >= VV_VMM_FRAME_HEADER_SIZE) {
		uint32_t type = vv_le32(c->in);
		uint32_t len = vv_le32(c->in + 4);
		int rc;

		/* Judge a frame on its header, before buffering its payload:
		 * anything but HELLO first is refused (so is garbage), and an
		 * oversized frame is never read (protocol.md "ERROR"). */
		if (!c->handshaken && type != VV_VMM_MSG_HELLO)
			return reject(vm, c, VV_VMM_ERR_HANDSHAKE, "first frame is not HELLO");
		if (type == VV_VMM_MSG_LOAD_STATE && c->migration) {
			/* The one frame allowed past max_payload, up to the
			 * bound advertised in HELLO_REPLY; the buffer grows
			 * for it once its header has passed that check. */
			size_t need = VV_VMM_FRAME_HEADER_SIZE + (size_t)len;

			if (len > 4 + vm_state_max(vm))
				return reject(vm, c, VV_VMM_ERR_TOO_LARGE,
					      "LOAD_STATE longer than max_state_payload");
			if (need > c->in_size && conn_in_resize(c, need) != 0)
				return reject(vm, c, VV_VMM_ERR_TOO_LARGE,
					      "LOAD_STATE: out of memory for the frame");
		} else if (len > VV_VMM_MAX_PAYLOAD) {
			return reject(vm, c, VV_VMM_ERR_TOO_LARGE, "frame longer than max_payload");
		}
		if (c->in_len - VV_VMM_FRAME_HEADER_SIZE < len)
			break;          /* incomplete: wait for the rest */
		/* Descriptors come with an SHM_SETUP or not at all: any other
		 * frame that brought some is refused (they are closed with
		 * the connection). */
		if ((c->nfds > 0 || c->fds_lost) && type != VV_VMM_MSG_SHM_SETUP)
			return reject(vm, c, VV_VMM_ERR_MALFORMED,
				      "descriptors sent with a frame other than SHM_SETUP");
		rc = dispatch(vm, c, type, c->in + VV_VMM_FRAME_HEADER_SIZE, len);
		if (rc != 0) {
			c->close_after_flush = true;
			return -1;
		}
		conn_consume(c, VV_VMM_FRAME_HEADER_SIZE + (size_t)len);
		/* A STATE reply is up to max_state_payload bytes for a 12-byte
		 * request: what follows it waits until it is out (server.c
		 * picks the backlog up), so pipelined SAVE_STATEs cannot pile
		 * up megabytes each in the output queue. */
		if (type == VV_VMM_MSG_SAVE_STATE && conn_out_pending(c)) {
			c->backlog = c->in_len >= VV_VMM_FRAME_HEADER_SIZE;
			break;
		}
		/* Back to the ordinary buffer after a LOAD_STATE (a failed
		 * shrink keeps the larger one, which is harmless). */
		if (c->in_size > VV_VMM_FRAME_HEADER_SIZE + VV_VMM_MAX_PAYLOAD &&
		    c->in_len <= VV_VMM_FRAME_HEADER_SIZE + VV_VMM_MAX_PAYLOAD)
			(void)conn_in_resize(c, VV_VMM_FRAME_HEADER_SIZE + VV_VMM_MAX_PAYLOAD);
	}
	return 0;
}
