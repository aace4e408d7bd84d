/*
 * vmvars/xenvar.h -- the varstored wire protocol, in its two dialects:
 * Xen's XenVariable (varstored, XenServer/XCP-ng) and AWS EC2's
 * ExtVarStore (reference peer-services.md §3, §9.2; docs/protocols.md).
 *
 * One request is one buffer (the 16-page, 64 KiB communication area),
 * little-endian, x86-64 sizes:
 *   UINT32 version (1) | UINT32 command | arguments
 * and the response is written from offset 0 of the same buffer:
 *   UINT64 EFI_STATUS | results
 *
 *   cmd  request arguments (Xen)                          response after status
 *   0 GET       name, GUID, UINTN buffer_size, BOOL rt    SUCCESS: UINT32 attr, data
 *                                                         BUFFER_TOO_SMALL: UINTN size
 *   1 SET       name, GUID, data, UINT32 attr, BOOL rt    -
 *   2 GET_NEXT  UINTN buffer_size, name, GUID, BOOL rt    SUCCESS: name, GUID
 *                                                         BUFFER_TOO_SMALL: UINTN size
 *   3 QUERY     UINT32 attr                               UINT64 max, remaining, maxvar
 *   4 NOTIFY_SB_FAILURE (Xen only)                        -
 *   5 ENTER_RUNTIME (AWS only)                            -
 * "name" and "data" are UINTN length + bytes; names are UTF-16LE without
 * the NUL.  The AWS dialect has no `rt` BOOLEAN.
 *
 * Every request goes to the same store, Secure Boot, MOR and VarCheck
 * code as the edk2 MM protocol (vmvars/mm.h): this layer only decodes,
 * except that in the Xen dialect, whose guest alone says when boot time
 * ends, guest writes of AuditMode, DeployedMode, SecureBootEnable and
 * CustomMode are EFI_WRITE_PROTECTED (docs/protocols.md, difference 8).
 */
#ifndef VMVARS_XENVAR_H
#define VMVARS_XENVAR_H

#include <vmvars/store.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VV_XENVAR_VERSION      1u
#define VV_XENVAR_BUFFER_PAGES 16u
#define VV_XENVAR_BUFFER_SIZE  65536u   /* SHMEM_PAGES 16 x 4096 */

enum vv_xenvar_command {
	VV_XENVAR_GET_VARIABLE = 0,
	VV_XENVAR_SET_VARIABLE = 1,
	VV_XENVAR_GET_NEXT_VARIABLE = 2,
	VV_XENVAR_QUERY_VARIABLE_INFO = 3,
	VV_XENVAR_NOTIFY_SB_FAILURE = 4,
	VV_XENVAR_ENTER_RUNTIME = 5,
};

enum vv_xenvar_dialect {
	VV_XENVAR_XEN = 0,      /* varstored: at_runtime byte, NOTIFY_SB_FAILURE */
	VV_XENVAR_AWS = 1,      /* ExtVarStore: no at_runtime, ENTER_RUNTIME */
};

/*
 * varstored's limits (peer-services §3.3), the defaults of this
 * personality:
 *   name_limit        4096  bytes of a wire name (longer: DEVICE_ERROR)
 *   data_limit       57344  bytes of a wire value (longer: OUT_OF_RESOURCES)
 *   total_limit     131072  storage reported by QUERY
 *   variable_overhead  128  charged per variable
 *   max_count         1024  variables in the store (more: OUT_OF_RESOURCES)
 */
struct vv_xenvar_limits {
	uint64_t name_limit;
	uint64_t data_limit;
	uint64_t total_limit;
	uint64_t variable_overhead;
	uint64_t max_count;
};

void vv_xenvar_limits_default(struct vv_xenvar_limits *l);

/*
 * The store limits that make the store account like varstored: NV and
 * volatile storage total_limit each, variable_overhead per variable, no
 * hardware-error records, and a per-variable maximum of overhead +
 * data_limit (so QUERY reports data_limit as the maximum variable size).
 * Create the store with these for a Xen or AWS personality.
 */
void vv_xenvar_store_limits(const struct vv_xenvar_limits *x, struct vv_limits *out);

struct vv_xenvar_config {
	enum vv_xenvar_dialect dialect;
	struct vv_xenvar_limits limits;
	/* NOTIFY_SB_FAILURE (Xen): called the first time only; returns 0, or
	 * -1 for EFI_DEVICE_ERROR.  NULL: the alert is only counted. */
	int (*sb_failure)(void *ctx);
	void *ctx;
};

struct vv_xenvar;

/* NULL cfg: the Xen dialect with varstored's limits.  Uses the store
 * (free this first).  NULL on allocation failure or a bad dialect. */
struct vv_xenvar *vv_xenvar_new(struct vv_store *s, const struct vv_xenvar_config *cfg);
void vv_xenvar_free(struct vv_xenvar *x);
enum vv_xenvar_dialect vv_xenvar_dialect(const struct vv_xenvar *x);

/*
 * Handles one request in place.  buf holds the caller's private copy of
 * the communication buffer (buf_size bytes, at most 64 KiB are looked at).
 * Returns the length of the response written at offset 0, with the rest
 * of buf zeroed; or 0 when the version is not 1 or the command is unknown
 * to this dialect, and buf is then left exactly as it was (no response,
 * as varstored).  A request that cannot be decoded (a length past the
 * buffer, an odd name length, a NUL inside a name) is answered with
 * EFI_DEVICE_ERROR and changes nothing.
 */
size_t vv_xenvar_handle(struct vv_xenvar *x, uint8_t *buf, size_t buf_size);

struct vv_xenvar_stats {
	uint64_t requests;
	uint64_t by_command[6];
	uint64_t ignored;          /* bad version or command: no response */
	uint64_t decode_errors;    /* answered EFI_DEVICE_ERROR before the store */
	uint64_t sb_failures;      /* NOTIFY_SB_FAILURE calls */
};
const struct vv_xenvar_stats *vv_xenvar_stats(const struct vv_xenvar *x);

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_XENVAR_H */
