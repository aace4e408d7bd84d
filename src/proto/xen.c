/*
 * src/proto/xen.c -- the varstored wire protocol (XenVariable) and its AWS
 * ExtVarStore dialect (reference peer-services.md §3, §4.2-§4.5, §9.2;
 * docs/protocols.md).
 *
 * The caller hands over its private copy of the communication buffer (the
 * front ends copy guest memory once: XSA-478 was varstored parsing a buffer
 * the guest could still change).  Each request is decoded with the bounded
 * cursor, the name into host-order UCS-2; then the buffer is zeroed and the
 * response written from offset 0.  Every rule -- attributes, phases,
 * quotas, Secure Boot, MOR, VarCheck -- is the store's and its hooks', the
 * same entry points the MM protocol calls (src/proto/mm_variable.c), with
 * one exception the Xen dialect's self-reported phase forces: the
 * boot-time Secure Boot switches are not the guest's there
 * (boot_time_sb_switch below).
 *
 * Decoding statuses follow varstored's unserialize limits (its do_set_
 * variable): a name longer than NAME_LIMIT is EFI_DEVICE_ERROR, an empty
 * SET name EFI_INVALID_PARAMETER, a value longer than DATA_LIMIT
 * EFI_OUT_OF_RESOURCES.  What varstored never checks -- a length past the
 * end of the buffer, an odd name length, a NUL inside a name -- is
 * EFI_DEVICE_ERROR here, before the store is asked anything.
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/efi.h>
#include <vmvars/xenvar.h>

#include "core/cursor.h"

/* Response offsets: status, then the command's results. */
#define OFF_RESULT 8u

struct vv_xenvar {
	struct vv_store *store;
	struct vv_xenvar_config cfg;
	struct vv_xenvar_stats stats;
	bool sb_failure_sent;           /* one alert per service, as varstored */
	/* A wire name fits the 64 KiB buffer, so no request allocates. */
	uint16_t name[VV_XENVAR_BUFFER_SIZE / 2];
	size_t name_len;
};

void
vv_xenvar_limits_default(struct vv_xenvar_limits *l)
{
	l->name_limit = 4096;
	l->data_limit = 57344;
	l->total_limit = 131072;
	l->variable_overhead = 128;
	l->max_count = 1024;
}

void
vv_xenvar_store_limits(const struct vv_xenvar_limits *x, struct vv_limits *out)
{
	vv_limits_default(out);
	out->nv_storage = x->total_limit;
	out->volatile_storage = x->total_limit;
	out->hwerr_storage = 0;
	out->variable_overhead = x->variable_overhead;
	out->max_variable_size = x->variable_overhead + x->data_limit;
	out->max_auth_variable_size = out->max_variable_size;
	out->max_volatile_variable_size = out->max_variable_size;
}

struct vv_xenvar *
vv_xenvar_new(struct vv_store *s, const struct vv_xenvar_config *cfg)
{
	struct vv_xenvar *x;

	if (s == NULL || (cfg != NULL && cfg->dialect != VV_XENVAR_XEN &&
			  cfg->dialect != VV_XENVAR_AWS))
		return NULL;
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NULL;
	x->store = s;
	if (cfg != NULL) {
		x->cfg = *cfg;
	} else {
		x->cfg.dialect = VV_XENVAR_XEN;
		vv_xenvar_limits_default(&x->cfg.limits);
	}
	return x;
}

void
vv_xenvar_free(struct vv_xenvar *x)
{
	free(x);
}

enum vv_xenvar_dialect
vv_xenvar_dialect(const struct vv_xenvar *x)
{
	return x->cfg.dialect;
}

const struct vv_xenvar_stats *
vv_xenvar_stats(const struct vv_xenvar *x)
{
	return &x->stats;
}

/*
 * The guest's word that it is at runtime (Xen's at_runtime byte, AWS's
 * ENTER_RUNTIME) is latched: the store's phase only moves forward until a
 * VM reset, so a guest cannot go back to boot-time access by sending 0
 * (varstored believes each request's byte).  Neither protocol carries
 * EndOfDxe, so it is signalled first: the rules that apply from EndOfDxe
 * (VarCheck, policy, MORLock) apply at the latest from runtime on.
 */
static void
enter_runtime(struct vv_xenvar *x)
{
	if (vv_store_at_runtime(x->store))
		return;
	if (!vv_store_end_of_dxe(x->store))
		vv_store_signal(x->store, VV_EVENT_END_OF_DXE);
	vv_store_signal(x->store, VV_EVENT_EXIT_BOOT_SERVICES);
}

static void
read_phase(struct vv_xenvar *x, struct vv_cursor *c)
{
	if (x->cfg.dialect == VV_XENVAR_XEN && vv_cursor_u8(c) != 0 && !c->bad)
		enter_runtime(x);
}

/*
 * A wire name: UINTN byte length + UTF-16LE without NUL.  Returns
 * SUCCESS with x->name/x->name_len set; EFI_DEVICE_ERROR for a length over
 * name_limit, past the buffer, odd, or a NUL inside; *empty tells the
 * caller about a zero length (whose status differs per command).
 */
static vv_status
read_name(struct vv_xenvar *x, struct vv_cursor *c, bool *empty)
{
	uint64_t len = vv_cursor_u64(c);
	const uint8_t *p;

	*empty = false;
	x->name_len = 0;
	if (c->bad)
		return VV_EFI_DEVICE_ERROR;
	if (len == 0) {
		*empty = true;
		return VV_EFI_SUCCESS;
	}
	if (len > x->cfg.limits.name_limit || len > c->left || (len & 1))
		return VV_EFI_DEVICE_ERROR;
	p = vv_cursor_take(c, (size_t)len);
	for (size_t i = 0; i < len / 2; i++) {
		x->name[i] = vv_le16(p + 2 * i);
		if (x->name[i] == 0)
			return VV_EFI_DEVICE_ERROR;
	}
	x->name_len = (size_t)(len / 2);
	return VV_EFI_SUCCESS;
}

/* Starts a response: the whole buffer zeroed, then the status. */
static size_t
reply(uint8_t *buf, size_t n, vv_status st)
{
	memset(buf, 0, n);
	vv_put_le64(buf, st);
	return OFF_RESULT;
}

static size_t
decode_error(struct vv_xenvar *x, uint8_t *buf, size_t n, vv_status st)
{
	x->stats.decode_errors++;
	return reply(buf, n, st);
}

static size_t
get_variable(struct vv_xenvar *x, struct vv_cursor *c, uint8_t *buf, size_t n)
{
	vv_guid guid;
	const uint8_t *g;
	uint64_t want, size, room;
	uint32_t attr = 0;
	bool empty;
	vv_status st;

	st = read_name(x, c, &empty);
	if (st != VV_EFI_SUCCESS)
		return decode_error(x, buf, n, st);
	g = vv_cursor_take(c, 16);
	want = vv_cursor_u64(c);
	read_phase(x, c);
	if (c->bad)
		return decode_error(x, buf, n, VV_EFI_DEVICE_ERROR);
	memcpy(guid.b, g, 16);
	if (empty)
		return reply(buf, n, VV_EFI_NOT_FOUND);     /* §4.2 */
	/* status 8 | attributes 4 | UINTN length 8 | data */
	reply(buf, n, 0);
	room = n > 20 ? n - 20 : 0;
	size = want < room ? want : room;
	st = vv_store_get(x->store, x->name, x->name_len, &guid, &attr, buf + 20, &size);
	if (st == VV_EFI_BUFFER_TOO_SMALL && size <= want)
		st = VV_EFI_DEVICE_ERROR;   /* fits the guest's buffer, not ours */
	if (st == VV_EFI_BUFFER_TOO_SMALL) {
		reply(buf, n, st);
		vv_put_le64(buf + OFF_RESULT, size);
		return OFF_RESULT + 8;
	}
	if (st != VV_EFI_SUCCESS)
		return reply(buf, n, st);
	vv_put_le32(buf + 8, attr);
	vv_put_le64(buf + 12, size);
	return 20 + (size_t)size;
}

static bool
name_is(const struct vv_set_request *r, const vv_guid *guid, const char *ascii)
{
	size_t len = strlen(ascii);

	if (r->name_len != len || !vv_guid_equal(&r->guid, guid))
		return false;
	for (size_t i = 0; i < len; i++)
		if (r->name[i] != (uint8_t)ascii[i])
			return false;
	return true;
}

/*
 * Only the Xen guest says whether it is at runtime (reference §2.4), so an
 * OS that never sends at_runtime = 1 is served as boot time.  The Secure
 * Boot switches that edk2 leaves to boot-time code would then be the OS's,
 * unsigned: AuditMode = 1 clears PK in user mode, SecureBootEnable = 0 and
 * CustomMode = 1 turn verification off.  In this dialect they are the host
 * owner's alone (vv_secureboot_set_mode, the store file), as in varstored,
 * which has AuditMode and DeployedMode read-only (§4.4) and neither of the
 * others.  The AWS firmware ends boot time itself (ENTER_RUNTIME from its
 * ExitBootServices event, §9.2), so there the boot-time rules stand.
 */
static bool
boot_time_sb_switch(const struct vv_set_request *r)
{
	return name_is(r, &VV_GUID_GLOBAL_VARIABLE, "AuditMode") ||
	       name_is(r, &VV_GUID_GLOBAL_VARIABLE, "DeployedMode") ||
	       name_is(r, &VV_GUID_SECURE_BOOT_ENABLE, "SecureBootEnable") ||
	       name_is(r, &VV_GUID_CUSTOM_MODE, "CustomMode");
}

static size_t
set_variable(struct vv_xenvar *x, struct vv_cursor *c, uint8_t *buf, size_t n)
{
	struct vv_set_request req;
	const uint8_t *g, *data = NULL;
	uint64_t data_len;
	bool empty;
	vv_status st;

	memset(&req, 0, sizeof(req));
	st = read_name(x, c, &empty);
	if (st == VV_EFI_SUCCESS && empty)
		st = VV_EFI_INVALID_PARAMETER;
	if (st != VV_EFI_SUCCESS)
		return decode_error(x, buf, n, st);
	g = vv_cursor_take(c, 16);
	data_len = vv_cursor_u64(c);
	if (!c->bad && data_len > x->cfg.limits.data_limit)
		return decode_error(x, buf, n, VV_EFI_OUT_OF_RESOURCES);
	if (!c->bad && data_len > c->left)
		return decode_error(x, buf, n, VV_EFI_DEVICE_ERROR);
	if (!c->bad)
		data = vv_cursor_take(c, (size_t)data_len);
	req.attributes = vv_cursor_u32(c);
	read_phase(x, c);
	if (c->bad)
		return decode_error(x, buf, n, VV_EFI_DEVICE_ERROR);
	memcpy(req.guid.b, g, 16);
	req.name = x->name;
	req.name_len = x->name_len;
	req.data = data;
	req.data_size = data_len;
	req.caller = VV_CALLER_GUEST;
	if (x->cfg.dialect == VV_XENVAR_XEN && boot_time_sb_switch(&req))
		return reply(buf, n, VV_EFI_WRITE_PROTECTED);
	/* MAX_VARIABLE_COUNT (§3.3): a write that would create a variable
	 * once the store holds max_count is refused before the rules run. */
	if (vv_store_count(x->store) >= x->cfg.limits.max_count &&
	    vv_store_find(x->store, x->name, x->name_len, &req.guid) == NULL && data_len != 0 &&
	    (req.attributes & (VV_ATTR_BS | VV_ATTR_RT)) != 0)
		return reply(buf, n, VV_EFI_OUT_OF_RESOURCES);
	/* The value is read from buf, so the store runs before buf is zeroed. */
	st = vv_store_set(x->store, &req);
	return reply(buf, n, st);
}

static size_t
get_next_variable(struct vv_xenvar *x, struct vv_cursor *c, uint8_t *buf, size_t n)
{
	const struct vv_variable *next;
	const uint8_t *g;
	uint64_t want, need, name_bytes;
	vv_guid guid;
	bool empty;
	vv_status st;

	want = vv_cursor_u64(c);
	st = read_name(x, c, &empty);
	if (st != VV_EFI_SUCCESS)
		return decode_error(x, buf, n, st);
	g = vv_cursor_take(c, 16);
	read_phase(x, c);
	if (c->bad)
		return decode_error(x, buf, n, VV_EFI_DEVICE_ERROR);
	memcpy(guid.b, g, 16);
	/* A name not in the store (or not visible now): INVALID_PARAMETER. */
	st = vv_store_get_next(x->store, x->name, x->name_len, &guid, &next);
	if (st != VV_EFI_SUCCESS)
		return reply(buf, n, st);
	name_bytes = (uint64_t)next->name_len * 2;
	need = name_bytes + 2;                          /* §3.2: length + NUL */
	if (need > want) {
		reply(buf, n, VV_EFI_BUFFER_TOO_SMALL);
		vv_put_le64(buf + OFF_RESULT, need);
		return OFF_RESULT + 8;
	}
	/* status 8 | UINTN length 8 | name | GUID 16 */
	if (n < 32 || name_bytes > n - 32)
		return reply(buf, n, VV_EFI_DEVICE_ERROR);
	reply(buf, n, VV_EFI_SUCCESS);
	vv_put_le64(buf + 8, name_bytes);
	for (size_t i = 0; i < next->name_len; i++)
		vv_put_le16(buf + 16 + 2 * i, next->name[i]);
	memcpy(buf + 16 + name_bytes, next->guid.b, 16);
	return 32 + (size_t)name_bytes;
}

static size_t
query_variable_info(struct vv_xenvar *x, struct vv_cursor *c, uint8_t *buf, size_t n)
{
	uint64_t max, remaining, maxvar;
	uint32_t attr = vv_cursor_u32(c);
	vv_status st;

	/* The reply (32 bytes) must fit what the caller gave us. */
	if (c->bad || n < 32)
		return decode_error(x, buf, n, VV_EFI_DEVICE_ERROR);
	st = vv_store_query(x->store, attr, &max, &remaining, &maxvar);
	reply(buf, n, st);
	if (st != VV_EFI_SUCCESS)
		return OFF_RESULT;
	vv_put_le64(buf + 8, max);
	vv_put_le64(buf + 16, remaining);
	vv_put_le64(buf + 24, maxvar);
	return 32;
}

/* §3.2: SUCCESS (or DEVICE_ERROR from the owner's hook) the first time,
 * ACCESS_DENIED ever after, so a guest cannot flood the owner. */
static size_t
notify_sb_failure(struct vv_xenvar *x, uint8_t *buf, size_t n)
{
	vv_status st = VV_EFI_ACCESS_DENIED;

	x->stats.sb_failures++;
	if (!x->sb_failure_sent) {
		x->sb_failure_sent = true;
		st = VV_EFI_SUCCESS;
		if (x->cfg.sb_failure != NULL && x->cfg.sb_failure(x->cfg.ctx) != 0)
			st = VV_EFI_DEVICE_ERROR;
	}
	return reply(buf, n, st);
}

size_t
vv_xenvar_handle(struct vv_xenvar *x, uint8_t *buf, size_t buf_size)
{
	size_t n = buf_size < VV_XENVAR_BUFFER_SIZE ? buf_size : VV_XENVAR_BUFFER_SIZE;
	struct vv_cursor c = vv_cursor_make(buf, n);
	uint32_t version = vv_cursor_u32(&c);
	uint32_t command = vv_cursor_u32(&c);
	bool xen = x->cfg.dialect == VV_XENVAR_XEN;

	/* §3.2: a wrong version or an unknown command gets no response. */
	if (c.bad || version != VV_XENVAR_VERSION || command > VV_XENVAR_ENTER_RUNTIME ||
	    (command == VV_XENVAR_NOTIFY_SB_FAILURE && !xen) ||
	    (command == VV_XENVAR_ENTER_RUNTIME && xen)) {
		x->stats.ignored++;
		return 0;
	}
	x->stats.requests++;
	x->stats.by_command[command]++;
	/* Zero what lies beyond the 64 KiB the protocol owns as well, so a
	 * caller with a larger buffer gets no stale bytes back either. */
	if (buf_size > n)
		memset(buf + n, 0, buf_size - n);
	switch (command) {
	case VV_XENVAR_GET_VARIABLE:
		return get_variable(x, &c, buf, n);
	case VV_XENVAR_SET_VARIABLE:
		return set_variable(x, &c, buf, n);
	case VV_XENVAR_GET_NEXT_VARIABLE:
		return get_next_variable(x, &c, buf, n);
	case VV_XENVAR_QUERY_VARIABLE_INFO:
		return query_variable_info(x, &c, buf, n);
	case VV_XENVAR_NOTIFY_SB_FAILURE:
		return notify_sb_failure(x, buf, n);
	default:        /* VV_XENVAR_ENTER_RUNTIME; its result is ignored (§9.2) */
		enter_runtime(x);
		return reply(buf, n, VV_EFI_SUCCESS);
	}
}
