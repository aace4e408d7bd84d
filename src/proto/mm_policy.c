/*
 * src/proto/mm_policy.c -- the variable policy MM protocol
 * (edk2 VarCheckPolicyLibMmiHandler, device-abi §8).
 *
 * The message after the MM header is a 20-byte VAR_CHECK_POLICY_COMM_HEADER
 * followed by the command's parameters:
 *
 *   off size
 *     0    4 Signature "VCPC" (0x43504356)
 *     4    4 Revision = 1
 *     8    4 Command
 *    12    8 Result (EFI_STATUS), written by us
 *    20    . parameters (device-abi §8.3)
 *
 * Every EFI-level outcome goes into Result and the transport status is
 * VV_STS_SUCCESS; only a message too short for the sub-header is a
 * transport error (device-abi §3.2).  Nothing is ever written at or past
 * msg_len.  Where edk2 and the brief of this module disagree, edk2 wins and
 * the rule says so.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/mm_internal.h"

/* EFI_TIMEOUT (UEFI Appendix D, code 18); efi.h has no name for it. */

#define HDR_SIGNATURE 0
#define HDR_REVISION  4
#define HDR_COMMAND   8
#define HDR_RESULT    12
#define PARAMS        VV_MM_POLICY_HEADER_SIZE

/* VAR_CHECK_POLICY_COMM_DUMP_PARAMS, packed, 13 bytes (device-abi §8.3). */
#define DUMP_PAGE_REQUESTED 0
#define DUMP_TOTAL_SIZE     4
#define DUMP_PAGE_SIZE      8
#define DUMP_HAS_MORE       12
#define DUMP_PARAMS_SIZE    13

/* VAR_CHECK_POLICY_COMM_GET_INFO_PARAMS, packed (device-abi §8.3). */
#define INFO_GUID          0
#define INFO_IN_NAME_SIZE  16
#define INFO_OUT_NAME_SIZE 20
#define INFO_UNION         24
#define INFO_UNION_SIZE    44
#define INFO_PARAMS_END    68

static void
put_result(uint8_t *msg, vv_status st)
{
	vv_put_le64(msg + HDR_RESULT, st);
}

static void
dump_cache_drop(struct vv_mm *mm)
{
	free(mm->dump_cache);
	mm->dump_cache = NULL;
	mm->dump_cache_size = 0;
}

/* IS_ENABLED: one byte State after the header. */
static vv_status
cmd_is_enabled(struct vv_mm *mm, uint8_t *msg, uint64_t msg_len)
{
	if (msg_len < PARAMS + 1)
		return VV_EFI_INVALID_PARAMETER;
	msg[PARAMS] = vv_policy_enabled(mm->policy) ? 1 : 0;
	return VV_EFI_SUCCESS;
}

/* REGISTER: the fixed part must be there, then the entry's own Size
 * (edk2 checks Version and Size >= 44 here already). */
static vv_status
cmd_register(struct vv_mm *mm, uint8_t *msg, uint64_t msg_len)
{
	const uint8_t *entry = msg + PARAMS;
	uint16_t size;

	if (msg_len < PARAMS + VV_POLICY_ENTRY_FIXED_SIZE)
		return VV_EFI_INVALID_PARAMETER;
	size = vv_le16(entry + 4);
	if (vv_le32(entry) != VV_POLICY_ENTRY_REVISION || size < VV_POLICY_ENTRY_FIXED_SIZE ||
	    (uint64_t)PARAMS + size > msg_len)
		return VV_EFI_INVALID_PARAMETER;
	return vv_policy_register(mm->policy, entry, size);
}

/* DUMP page 0: snapshot the table; TotalSize, PageSize 0, HasMore iff a
 * table exists. */
static vv_status
dump_first(struct vv_mm *mm, uint8_t *params)
{
	size_t size = 0;

	dump_cache_drop(mm);
	(void)vv_policy_dump(mm->policy, NULL, &size);
	if (size == 0)
		return VV_EFI_SUCCESS;
	if (size > UINT32_MAX)
		return VV_EFI_OUT_OF_RESOURCES;
	mm->dump_cache = malloc(size);
	if (mm->dump_cache == NULL)
		return VV_EFI_OUT_OF_RESOURCES;
	mm->dump_cache_size = size;
	if (vv_policy_dump(mm->policy, mm->dump_cache, &size) != VV_EFI_SUCCESS) {
		dump_cache_drop(mm);
		return VV_EFI_OUT_OF_RESOURCES;
	}
	vv_put_le32(params + DUMP_TOTAL_SIZE, (uint32_t)size);
	params[DUMP_HAS_MORE] = 1;
	return VV_EFI_SUCCESS;
}

/* DUMP page n >= 1: chunk n of VV_POLICY_DUMP_PAGE_SIZE bytes from the
 * snapshot.  The last page frees the snapshot.  (edk2 reports PageSize 0
 * for a last page when the table is an exact multiple of the page size;
 * we report the full page.) */
static vv_status
dump_page(struct vv_mm *mm, uint8_t *params, uint32_t page)
{
	uint64_t pages, off, chunk;

	/* edk2: a page > 0 with no snapshot "must have timed out". */
	if (mm->dump_cache == NULL)
		return VV_EFI_TIMEOUT;
	vv_put_le32(params + DUMP_TOTAL_SIZE, (uint32_t)mm->dump_cache_size);
	pages = (mm->dump_cache_size + VV_POLICY_DUMP_PAGE_SIZE - 1) / VV_POLICY_DUMP_PAGE_SIZE;
	if (page > pages)
		return VV_EFI_INVALID_PARAMETER;
	off = (uint64_t)(page - 1) * VV_POLICY_DUMP_PAGE_SIZE;
	chunk = mm->dump_cache_size - off;
	if (chunk > VV_POLICY_DUMP_PAGE_SIZE)
		chunk = VV_POLICY_DUMP_PAGE_SIZE;
	memcpy(params + DUMP_PARAMS_SIZE, mm->dump_cache + off, chunk);
	vv_put_le32(params + DUMP_PAGE_SIZE, (uint32_t)chunk);
	if (page == pages) {
		params[DUMP_HAS_MORE] = 0;
		dump_cache_drop(mm);
	} else {
		params[DUMP_HAS_MORE] = 1;
	}
	return VV_EFI_SUCCESS;
}

/* DUMP: needs the whole page area (edk2 VAR_CHECK_POLICY_MM_DUMP_BUFFER_SIZE).
 * The output fields and the page area are cleared first, so a reply never
 * carries what the guest left there. */
static vv_status
cmd_dump(struct vv_mm *mm, uint8_t *msg, uint64_t msg_len)
{
	uint8_t *params = msg + PARAMS;
	uint32_t page;

	if (msg_len < PARAMS + DUMP_PARAMS_SIZE + VV_POLICY_DUMP_PAGE_SIZE)
		return VV_EFI_INVALID_PARAMETER;
	page = vv_le32(params + DUMP_PAGE_REQUESTED);
	memset(params + DUMP_TOTAL_SIZE, 0, DUMP_PARAMS_SIZE - DUMP_TOTAL_SIZE);
	memset(params + DUMP_PARAMS_SIZE, 0, VV_POLICY_DUMP_PAGE_SIZE);
	if (page == 0)
		return dump_first(mm, params);
	return dump_page(mm, params, page);
}

/*
 * GET_INFO (6) and GET_LOCK_VAR_STATE_INFO (7).  The input name must lie in
 * the message and hold a NUL within InputVariableNameSize; the output name
 * area is the rest of the message after it, capped by
 * OutputVariableNameSize.  The union is zeroed, then receives the entry's
 * fixed part (6) or the 18-byte lock block (7).  OutputVariableNameSize is
 * set to the bytes written, or needed on EFI_BUFFER_TOO_SMALL; it is left
 * alone on EFI_NOT_FOUND, as edk2 does.
 */
static vv_status
cmd_get_info(struct vv_mm *mm, uint8_t *msg, uint64_t msg_len, uint32_t command)
{
	uint8_t *params = msg + PARAMS, *out;
	uint64_t in_size, room, cap, end;
	size_t name_len, name_size;
	uint16_t *name;
	vv_guid guid;
	vv_status st;

	if (msg_len < PARAMS + INFO_PARAMS_END)
		return VV_EFI_INVALID_PARAMETER;
	in_size = vv_le32(params + INFO_IN_NAME_SIZE);
	end = PARAMS + INFO_PARAMS_END + in_size;       /* < 2^33: no overflow */
	if (end > msg_len)
		return VV_EFI_INVALID_PARAMETER;
	name = malloc((size_t)(in_size / 2 + 1) * sizeof(*name));
	if (name == NULL)
		return VV_EFI_OUT_OF_RESOURCES;
	for (name_len = 0; name_len < in_size / 2; name_len++) {
		name[name_len] = vv_le16(params + INFO_PARAMS_END + 2 * name_len);
		if (name[name_len] == 0)
			break;
	}
	if (name_len == in_size / 2) {  /* no NUL inside InputVariableNameSize */
		free(name);
		return VV_EFI_INVALID_PARAMETER;
	}
	memcpy(guid.b, params + INFO_GUID, 16);
	out = msg + end;
	room = msg_len - end;
	cap = vv_le32(params + INFO_OUT_NAME_SIZE);
	if (cap > room)
		cap = room;
	name_size = (size_t)cap;

	memset(params + INFO_UNION, 0, INFO_UNION_SIZE);
	memset(out, 0, (size_t)cap);
	if (command == VV_POLICY_CMD_GET_INFO)
		st = vv_policy_get_info(mm->policy, name, name_len, &guid, params + INFO_UNION,
					out, &name_size);
	else
		st = vv_policy_get_lock_var_state_info(mm->policy, name, name_len, &guid,
						       params + INFO_UNION, out, &name_size);
	free(name);
	if (st != VV_EFI_SUCCESS && st != VV_EFI_BUFFER_TOO_SMALL)
		return st;
	vv_put_le32(params + INFO_OUT_NAME_SIZE, (uint32_t)name_size);
	/* edk2 fills the whole output area with NULs when there is no name. */
	if (st == VV_EFI_SUCCESS && name_size == 0)
		memset(out, 0, (size_t)room);
	return st;
}

static vv_status
dispatch(struct vv_mm *mm, uint8_t *msg, uint64_t msg_len, uint32_t command)
{
	switch (command) {
	case VV_POLICY_CMD_DISABLE:
		return vv_policy_disable(mm->policy);
	case VV_POLICY_CMD_IS_ENABLED:
		return cmd_is_enabled(mm, msg, msg_len);
	case VV_POLICY_CMD_REGISTER:
		return cmd_register(mm, msg, msg_len);
	case VV_POLICY_CMD_DUMP:
		return cmd_dump(mm, msg, msg_len);
	case VV_POLICY_CMD_LOCK:
		return vv_policy_lock(mm->policy);
	case VV_POLICY_CMD_GET_INFO:
	case VV_POLICY_CMD_GET_LOCK_VAR_STATE_INFO:
		return cmd_get_info(mm, msg, msg_len, command);
	default:
		return VV_EFI_UNSUPPORTED;
	}
}

uint16_t
vv_mm_policy_handle(struct vv_mm *mm, uint8_t *msg, uint64_t msg_len)
{
	uint32_t command;

	/* device-abi §3.2: the protocol sub-header does not fit. */
	if (msg_len < VV_MM_POLICY_HEADER_SIZE)
		return VV_STS_ERR_BAD_BUFFER_SIZE;
	mm->stats.policy_commands++;
	if (mm->policy == NULL) {
		put_result(msg, VV_EFI_UNSUPPORTED);
		return VV_STS_SUCCESS;
	}
	/* edk2 checks both; QEMU checks neither (device-abi §8.1). */
	if (vv_le32(msg + HDR_SIGNATURE) != VV_POLICY_COMM_SIGNATURE ||
	    vv_le32(msg + HDR_REVISION) != VV_POLICY_COMM_REVISION) {
		put_result(msg, VV_EFI_INVALID_PARAMETER);
		return VV_STS_SUCCESS;
	}
	command = vv_le32(msg + HDR_COMMAND);
	/* edk2: any other command ends a paginated dump in progress. */
	if (mm->dump_cache != NULL && command != VV_POLICY_CMD_DUMP)
		dump_cache_drop(mm);
	put_result(msg, dispatch(mm, msg, msg_len, command));
	return VV_STS_SUCCESS;
}
