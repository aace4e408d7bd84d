/*
 * vmvars/mm.h -- the edk2 MM-communicate protocol endpoint.
 *
 * One request is one EFI_MM_COMMUNICATE_HEADER (device-abi §6.1) plus its
 * message, dispatched by HeaderGuid (§6.3):
 *   SMM variable protocol (§7)      -> the store
 *   variable policy protocol (§8)   -> the policy engine
 *   EndOfDxe / ReadyToBoot / ExitBootServices events (§5.3) -> phase
 * The reply is written in place; its MessageLength is never changed.
 * EFI-level results go into the protocol sub-header's status field; the
 * return value is the transport status of device-abi §3.2.
 */
#ifndef VMVARS_MM_H
#define VMVARS_MM_H

#include <vmvars/policy.h>
#include <vmvars/store.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VV_MM_HEADER_SIZE        24u   /* HeaderGuid + MessageLength */
#define VV_MM_VAR_HEADER_SIZE    16u   /* Function + ReturnStatus */
#define VV_MM_POLICY_HEADER_SIZE 20u   /* VAR_CHECK_POLICY_COMM_HEADER */
#define VV_MM_MAX_BUFFER         65536u

/* Transport status values (device-abi §3.2). */
#define VV_STS_SUCCESS             0x00
#define VV_STS_BUSY                0x01
#define VV_STS_ERR_UNKNOWN         0x10
#define VV_STS_ERR_NOT_SUPPORTED   0x11
#define VV_STS_ERR_BAD_BUFFER_SIZE 0x12

/* SMM variable functions (edk2 SmmVariableCommon.h; device-abi §7.2). */
enum vv_mm_function {
	VV_MM_GET_VARIABLE = 1,
	VV_MM_GET_NEXT_VARIABLE_NAME = 2,
	VV_MM_SET_VARIABLE = 3,
	VV_MM_QUERY_VARIABLE_INFO = 4,
	VV_MM_READY_TO_BOOT = 5,
	VV_MM_EXIT_BOOT_SERVICE = 6,
	VV_MM_GET_STATISTICS = 7,
	VV_MM_LOCK_VARIABLE = 8,
	VV_MM_VAR_CHECK_PROPERTY_SET = 9,
	VV_MM_VAR_CHECK_PROPERTY_GET = 10,
	VV_MM_GET_PAYLOAD_SIZE = 11,
	VV_MM_INIT_RUNTIME_CACHE_CONTEXT = 12,
	VV_MM_SYNC_RUNTIME_CACHE = 13,
	VV_MM_GET_RUNTIME_CACHE_INFO = 14,
};

/* Variable policy commands (edk2 VarCheckPolicyMmi.h; device-abi §8.2). */
#define VV_POLICY_COMM_SIGNATURE 0x43504356u  /* "VCPC" */
#define VV_POLICY_COMM_REVISION  1u
enum vv_policy_command {
	VV_POLICY_CMD_DISABLE = 1,
	VV_POLICY_CMD_IS_ENABLED = 2,
	VV_POLICY_CMD_REGISTER = 3,
	VV_POLICY_CMD_DUMP = 4,
	VV_POLICY_CMD_LOCK = 5,
	VV_POLICY_CMD_GET_INFO = 6,
	VV_POLICY_CMD_GET_LOCK_VAR_STATE_INFO = 7,
};
/* edk2 VAR_CHECK_POLICY_MM_DUMP_BUFFER_SIZE: 16384 - (24 + 20 + 13). */
#define VV_POLICY_DUMP_PAGE_SIZE 16327u

struct vv_mm;

/* Counters for statistics (management API, bench). */
struct vv_mm_stats {
	uint64_t requests;
	uint64_t by_function[16];   /* SMM variable functions 0..15 */
	uint64_t policy_commands;
	uint64_t events;
	uint64_t transport_errors;
	uint64_t efi_errors;
};

/* The endpoint uses the store and, if not NULL, the policy engine (without
 * one, policy commands get EFI_UNSUPPORTED and LockVariable too). */
struct vv_mm *vv_mm_new(struct vv_store *s, struct vv_policy *p);
void vv_mm_free(struct vv_mm *mm);

/*
 * Handles one request in place.  buf holds buf_size bytes (the device's
 * negotiated buffer size): the request at offset 0, the rest zero.  The
 * caller has already checked 24 + MessageLength <= buf_size; vv_mm_handle
 * checks again.  Returns a VV_STS_* value.  On VV_STS_SUCCESS and on
 * VV_STS_ERR_NOT_SUPPORTED (unknown HeaderGuid) the caller writes back
 * 24 + MessageLength bytes; on VV_STS_ERR_BAD_BUFFER_SIZE nothing.
 * Whatever the request, it writes only within those 24 + MessageLength
 * bytes (a reply that needs more says EFI_BUFFER_TOO_SMALL instead), so
 * a caller that keeps its buffer may zero just what the last request
 * used (an oracle of fuzz/fuzz_mm.c).
 */
uint16_t vv_mm_handle(struct vv_mm *mm, uint8_t *buf, size_t buf_size);

const struct vv_mm_stats *vv_mm_stats(const struct vv_mm *mm);

/*
 * Traffic capture, like QEMU 11's uefi-vars pcapfile= (device-abi §14):
 * from now on every request vv_mm_handle takes, the reply it leaves, and
 * each VM reset (VV_EVENT_RESET) are appended to fd as a pcap file with
 * link type 302 (LINKTYPE_EDK2_MM), which Wireshark and QEMU users read
 * as they read QEMU's.  The file header is written now, at fd's position.
 * fd stays the caller's (not closed); -1 stops capturing.  A failed
 * write stops the capture too (the guest's request is still served).
 * 0, or -1 with err (the header could not be written).
 */
int vv_mm_set_pcap(struct vv_mm *mm, int fd, struct vv_error *err);

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_MM_H */
