/*
 * src/proto/mm_variable.c -- the SMM variable protocol (HeaderGuid
 * gEfiSmmVariableProtocolGuid; device-abi §7).
 *
 * Message layout (offsets from the start of the message, i.e. buffer
 * offset 24):
 *    0  8  Function
 *    8  8  ReturnStatus  (written by us)
 *   16  .  payload (fixed parts below, all packed)
 *
 *   ACCESS_VARIABLE (1, 3)   Guid 16 | DataSize 8 | NameSize 8 | Attributes 4 | Name | Data
 *   GET_NEXT_VARIABLE_NAME (2), LOCK_VARIABLE (8)   Guid 16 | NameSize 8 | Name
 *   QUERY_VARIABLE_INFO (4)  MaxStorage 8 | Remaining 8 | MaxVarSize 8 | Attributes 4
 *   VAR_CHECK_PROPERTY (9, 10)  Guid 16 | NameSize 8 | Revision 2 | Property 2 |
 *                            Attributes 4 | MinSize 8 | MaxSize 8 | Name
 *   GET_PAYLOAD_SIZE (11)    VariablePayloadSize 8
 *
 * Framing errors inside the payload follow edk2's VariableSmm.c (formats
 * §8.2 preamble): a size that overflows or does not fit the message, a
 * NameSize below 2 or odd, or a name whose last CHAR16 is not NUL give
 * EFI_ACCESS_DENIED.  edk2 leaves ReturnStatus untouched when the payload
 * is shorter than the fixed part; vmvars reports EFI_ACCESS_DENIED there
 * too, so the guest never reads back its own stale status.  A message
 * shorter than the 16-byte sub-header is a transport error (0x12).
 *
 * All writes stay inside [msg, msg + msg_len): every output field lies in
 * a fixed part or area whose bounds were checked first.
 */
#include <string.h>

#include "proto/mm_internal.h"

#include <vmvars/ucs2.h>

#define ACCESS_FIXED     36u
#define GETNEXT_FIXED    24u
#define QUERY_FIXED      28u
#define PROPERTY_FIXED   48u
#define PAYLOAD_SIZE_LEN 8u

struct payload {
	uint8_t *p;
	uint64_t size;
};

/*
 * Decodes a wire name of name_size bytes at p into mm->name_scratch.
 * edk2 rule: name_size >= 2 and the last CHAR16 is NUL; vmvars also wants
 * an even size.  *len is the number of characters before the first NUL.
 */
static vv_status
decode_name(struct vv_mm *mm, const uint8_t *p, uint64_t name_size, size_t *len)
{
	size_t units = (size_t)(name_size / 2);

	if (name_size < 2 || (name_size & 1) || vv_le16(p + name_size - 2) != 0)
		return VV_EFI_ACCESS_DENIED;
	for (size_t i = 0; i < units; i++)
		mm->name_scratch[i] = vv_le16(p + 2 * i);
	*len = vv_ucs2_strnlen(mm->name_scratch, units);
	return VV_EFI_SUCCESS;
}

/* fixed + a + b must fit in the payload (edk2 InfoSize check). */
static bool
fits(const struct payload *pl, uint64_t fixed, uint64_t a, uint64_t b)
{
	uint64_t total;

	return !vv_add_overflow(fixed, a, &total) && !vv_add_overflow(total, b, &total) &&
	       total <= pl->size;
}

static vv_status
get_variable(struct vv_mm *mm, struct payload *pl)
{
	vv_guid guid;
	uint64_t data_size, name_size;
	uint32_t attr = 0;
	size_t len;
	vv_status st;

	if (pl->size < ACCESS_FIXED)
		return VV_EFI_ACCESS_DENIED;
	memcpy(guid.b, pl->p, 16);
	data_size = vv_le64(pl->p + 16);
	name_size = vv_le64(pl->p + 24);
	if (!fits(pl, ACCESS_FIXED, name_size, data_size))
		return VV_EFI_ACCESS_DENIED;
	st = decode_name(mm, pl->p + ACCESS_FIXED, name_size, &len);
	if (st != VV_EFI_SUCCESS)
		return st;
	st = vv_store_get(mm->store, mm->name_scratch, len, &guid, &attr,
			  pl->p + ACCESS_FIXED + name_size, &data_size);
	if (st == VV_EFI_SUCCESS || st == VV_EFI_BUFFER_TOO_SMALL) {
		vv_put_le64(pl->p + 16, data_size);
		vv_put_le32(pl->p + 32, attr);
	}
	return st;
}

static vv_status
get_next_variable_name(struct vv_mm *mm, struct payload *pl)
{
	const struct vv_variable *next;
	uint64_t name_size, area, need;
	vv_guid guid;
	size_t units, len;
	vv_status st;

	if (pl->size < GETNEXT_FIXED)
		return VV_EFI_ACCESS_DENIED;
	memcpy(guid.b, pl->p, 16);
	name_size = vv_le64(pl->p + 16);
	if (!fits(pl, GETNEXT_FIXED, name_size, 0))
		return VV_EFI_ACCESS_DENIED;
	/* edk2: the last CHAR16 of the whole name area must be NUL. */
	area = pl->size - GETNEXT_FIXED;
	if (area < 2 || vv_le16(pl->p + GETNEXT_FIXED + (area / 2 - 1) * 2) != 0)
		return VV_EFI_ACCESS_DENIED;
	/* Spec: a NUL must lie within the caller's NameSize (formats §8.8). */
	units = (size_t)(name_size / 2);
	for (size_t i = 0; i < units; i++)
		mm->name_scratch[i] = vv_le16(pl->p + GETNEXT_FIXED + 2 * i);
	len = vv_ucs2_strnlen(mm->name_scratch, units);
	if (units == 0 || len == units)
		return VV_EFI_INVALID_PARAMETER;
	st = vv_store_get_next(mm->store, mm->name_scratch, len, &guid, &next);
	if (st != VV_EFI_SUCCESS)
		return st;
	need = vv_var_name_size(next);
	if (need > name_size) {
		st = VV_EFI_BUFFER_TOO_SMALL;     /* input name left as it was */
	} else {
		memcpy(pl->p, next->guid.b, 16);
		for (size_t i = 0; i <= next->name_len; i++)
			vv_put_le16(pl->p + GETNEXT_FIXED + 2 * i, next->name[i]);
	}
	vv_put_le64(pl->p + 16, need);
	return st;
}

static vv_status
set_variable(struct vv_mm *mm, struct payload *pl)
{
	struct vv_set_request req;
	uint64_t data_size, name_size;
	vv_status st;

	if (pl->size < ACCESS_FIXED)
		return VV_EFI_ACCESS_DENIED;
	memset(&req, 0, sizeof(req));
	memcpy(req.guid.b, pl->p, 16);
	data_size = vv_le64(pl->p + 16);
	name_size = vv_le64(pl->p + 24);
	req.attributes = vv_le32(pl->p + 32);
	if (!fits(pl, ACCESS_FIXED, name_size, data_size))
		return VV_EFI_ACCESS_DENIED;
	st = decode_name(mm, pl->p + ACCESS_FIXED, name_size, &req.name_len);
	if (st != VV_EFI_SUCCESS)
		return st;
	req.name = mm->name_scratch;
	req.data = pl->p + ACCESS_FIXED + name_size;
	req.data_size = data_size;
	req.caller = VV_CALLER_GUEST;
	return vv_store_set(mm->store, &req);
}

static vv_status
query_variable_info(struct vv_mm *mm, struct payload *pl)
{
	uint64_t max, remaining, maxvar;
	vv_status st;

	/* edk2 sends its unpacked 32-byte struct; QEMU's packed one is 28. */
	if (pl->size < QUERY_FIXED)
		return VV_EFI_ACCESS_DENIED;
	st = vv_store_query(mm->store, vv_le32(pl->p + 24), &max, &remaining, &maxvar);
	if (st == VV_EFI_SUCCESS) {
		vv_put_le64(pl->p + 0, max);
		vv_put_le64(pl->p + 8, remaining);
		vv_put_le64(pl->p + 16, maxvar);
	}
	return st;
}

/*
 * The common head of LOCK_VARIABLE and the VarCheck property functions:
 * Guid at 0, NameSize at 16, the name right after a fixed part of `fixed`
 * bytes.  EFI_ACCESS_DENIED for any framing error (edk2 VariableSmm.c).
 */
static vv_status
guid_and_name(struct vv_mm *mm, const struct payload *pl, uint64_t fixed, vv_guid *guid,
	      size_t *len)
{
	uint64_t name_size;

	if (pl->size < fixed)
		return VV_EFI_ACCESS_DENIED;
	memcpy(guid->b, pl->p, 16);
	name_size = vv_le64(pl->p + 16);
	if (!fits(pl, fixed, name_size, 0))
		return VV_EFI_ACCESS_DENIED;
	return decode_name(mm, pl->p + fixed, name_size, len);
}

static vv_status
lock_variable(struct vv_mm *mm, struct payload *pl)
{
	vv_guid guid;
	size_t len;
	vv_status st;

	if (mm->policy == NULL)
		return VV_EFI_UNSUPPORTED;
	/* edk2 VariableSmm.c refuses VariableLock after EndOfDxe first. */
	if (vv_store_end_of_dxe(mm->store))
		return VV_EFI_ACCESS_DENIED;
	st = guid_and_name(mm, pl, GETNEXT_FIXED, &guid, &len);
	if (st != VV_EFI_SUCCESS)
		return st;
	return vv_policy_lock_variable(mm->policy, mm->name_scratch, len, &guid);
}

/* Functions 9 and 10: VarCheck variable property set / get. */
static vv_status
variable_property(struct vv_mm *mm, struct payload *pl, bool set)
{
	struct vv_var_property prop;
	vv_guid guid;
	size_t len;
	vv_status st;

	st = guid_and_name(mm, pl, PROPERTY_FIXED, &guid, &len);
	if (st != VV_EFI_SUCCESS)
		return st;
	if (set) {
		prop.revision = vv_le16(pl->p + 24);
		prop.property = vv_le16(pl->p + 26);
		prop.attributes = vv_le32(pl->p + 28);
		prop.min_size = vv_le64(pl->p + 32);
		prop.max_size = vv_le64(pl->p + 40);
		return vv_store_property_set(mm->store, mm->name_scratch, len, &guid, &prop);
	}
	st = vv_store_property_get(mm->store, mm->name_scratch, len, &guid, &prop);
	if (st == VV_EFI_SUCCESS) {
		vv_put_le16(pl->p + 24, prop.revision);
		vv_put_le16(pl->p + 26, prop.property);
		vv_put_le32(pl->p + 28, prop.attributes);
		vv_put_le64(pl->p + 32, prop.min_size);
		vv_put_le64(pl->p + 40, prop.max_size);
	}
	return st;
}

/* GetPayloadSize: the largest payload edk2's front end may put after the
 * 24 + 16 bytes of headers (device-abi §7.4; QEMU's pre-2026 value of
 * buf_size made its largest requests overflow the transport). */
static vv_status
get_payload_size(size_t buf_size, struct payload *pl)
{
	if (pl->size < PAYLOAD_SIZE_LEN)
		return VV_EFI_ACCESS_DENIED;
	vv_put_le64(pl->p, buf_size > 40 ? buf_size - 40 : 0);
	return VV_EFI_SUCCESS;
}

static vv_status
dispatch(struct vv_mm *mm, uint64_t function, struct payload *pl, size_t buf_size)
{
	switch (function) {
	case VV_MM_GET_VARIABLE:
		return get_variable(mm, pl);
	case VV_MM_GET_NEXT_VARIABLE_NAME:
		return get_next_variable_name(mm, pl);
	case VV_MM_SET_VARIABLE:
		return set_variable(mm, pl);
	case VV_MM_QUERY_VARIABLE_INFO:
		return query_variable_info(mm, pl);
	case VV_MM_READY_TO_BOOT:
		/* edk2: ReadyToBoot is a boot-time event. */
		if (vv_store_at_runtime(mm->store))
			return VV_EFI_UNSUPPORTED;
		vv_store_signal(mm->store, VV_EVENT_READY_TO_BOOT);
		return VV_EFI_SUCCESS;
	case VV_MM_EXIT_BOOT_SERVICE:
		vv_store_signal(mm->store, VV_EVENT_EXIT_BOOT_SERVICES);
		return VV_EFI_SUCCESS;
	case VV_MM_LOCK_VARIABLE:
		return lock_variable(mm, pl);
	case VV_MM_VAR_CHECK_PROPERTY_SET:
		return variable_property(mm, pl, true);
	case VV_MM_VAR_CHECK_PROPERTY_GET:
		return variable_property(mm, pl, false);
	case VV_MM_GET_PAYLOAD_SIZE:
		return get_payload_size(buf_size, pl);
	case VV_MM_GET_STATISTICS:
		/* PcdVariableCollectStatistics is FALSE for this transport. */
	case VV_MM_INIT_RUNTIME_CACHE_CONTEXT:
	case VV_MM_SYNC_RUNTIME_CACHE:
	case VV_MM_GET_RUNTIME_CACHE_INFO:
		/* The runtime cache is disabled by design (PcdEnable-
		 * VariableRuntimeCache FALSE with QEMU_PV_VARS). */
	default:
		return VV_EFI_UNSUPPORTED;
	}
}

uint16_t
vv_mm_variable_handle(struct vv_mm *mm, uint8_t *msg, uint64_t msg_len, size_t buf_size)
{
	struct payload pl;
	uint64_t function;
	vv_status st;

	if (msg_len < VV_MM_VAR_HEADER_SIZE)
		return VV_STS_ERR_BAD_BUFFER_SIZE;
	function = vv_le64(msg);
	pl.p = msg + VV_MM_VAR_HEADER_SIZE;
	pl.size = msg_len - VV_MM_VAR_HEADER_SIZE;
	mm->stats.by_function[function < 16 ? function : 0]++;
	st = dispatch(mm, function, &pl, buf_size);
	if (vv_efi_error(st))
		mm->stats.efi_errors++;
	vv_put_le64(msg + 8, st);
	return VV_STS_SUCCESS;
}
