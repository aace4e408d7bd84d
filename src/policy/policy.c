/*
 * src/policy/policy.c -- the edk2 variable policy engine (VariablePolicyLib)
 * enforced on the host.
 *
 * The engine keeps the guest's VARIABLE_POLICY_ENTRY structures verbatim
 * (for DUMP and GET_INFO) next to their decoded fields (for matching), in
 * registration order.  It plugs into the store twice:
 *   - a VarCheck hook (VV_HOOK_VARCHECK), which the store calls only after
 *     EndOfDxe, as edk2's VarCheckLib does (device-abi §8.6);
 *   - an event listener: EndOfDxe (and ReadyToBoot / ExitBootServices, which
 *     imply it) locks the interface as edk2 VariableSmm.c does; a VM reset
 *     empties the table, releases the reservations, unlocks and re-enables.
 *
 * Invariants:
 *   (1) every entry in the table passed entry_valid(), so its offsets and
 *       names may be used without re-checking;
 *   (2) p->reserved == sum of the Size of the entries in the table, and
 *       exactly that many bytes are reserved in the store's volatile class;
 *   (3) no two entries have the same namespace and the same name (or are
 *       both namespace-wide).
 *
 * Where we differ from edk2 on purpose (each noted at the rule):
 *   - MinSize > MaxSize and MustHave & CantHave are refused at registration
 *     (vmvars/policy.h), edk2 accepts such contradictory entries;
 *   - a LOCK_ON_VAR_STATE entry needs a non-empty controlling name (edk2
 *     accepts an empty one, which can never name an existing variable);
 *   - names with UTF-16 surrogates are refused (vmvars/ucs2.h);
 *   - a duplicate is an entry with the identical name; edk2's duplicate test
 *     runs the new name through its matcher, where '#' never matches '#',
 *     so it would register two identical wildcard entries.
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/policy.h>
#include <vmvars/ucs2.h>

#include "core/store_state.h"

/* edk2 VariablePolicyLib MATCH_PRIORITY_EXACT / MATCH_PRIORITY_MIN. */
#define MATCH_PRIORITY_EXACT 0u
#define MATCH_PRIORITY_MIN   255u
/* Entry offsets (device-abi §8.4). */
#define OFF_VERSION     0
#define OFF_SIZE        4
#define OFF_NAME_OFFSET 6
#define OFF_NAMESPACE   8
#define OFF_MIN_SIZE    24
#define OFF_MAX_SIZE    28
#define OFF_MUST_HAVE   32
#define OFF_CANT_HAVE   36
#define OFF_LOCK_TYPE   40
/* VARIABLE_LOCK_ON_VAR_STATE_POLICY, packed (device-abi §8.5). */
#define OFF_STATE_NAMESPACE 44
#define OFF_STATE_VALUE     60
#define OFF_STATE_NAME      62

struct policy_entry {
	uint8_t *raw;               /* the entry as registered, size bytes */
	uint16_t size;
	uint16_t name_offset;
	vv_guid ns;
	uint32_t min_size, max_size, must_have, cant_have;
	uint8_t lock_type;
	bool namespace_wide;        /* Size == OffsetToName: no name */
	uint16_t *name;             /* policy name without its NUL */
	size_t name_len;
	unsigned wildcards;
	/* LOCK_ON_VAR_STATE only */
	vv_guid state_ns;
	uint8_t state_value;
	uint16_t *state_name;
	size_t state_name_len;
};

struct vv_policy {
	struct vv_store *store;
	struct vv_policy_config cfg;
	bool disabled;              /* DisableVariablePolicy succeeded */
	bool locked;                /* LockVariablePolicy or EndOfDxe */
	struct policy_entry **entries;
	size_t count, cap;
	uint64_t reserved;          /* invariant (2) */
};

/* ---- entry decoding and validation ---- */

static bool
is_surrogate(uint16_t c)
{
	return c >= 0xD800 && c <= 0xDFFF;
}

/*
 * A UCS-2 string in raw[start, end): NUL-terminated with the NUL as the
 * very last character, no other NUL, no surrogates.  Stores its length
 * (without NUL) in *len.  edk2 IsValidVariablePolicyStructure walks to the
 * first NUL and requires the next byte to be the end; an odd byte count
 * can never satisfy that.
 */
static bool
terminated_string_valid(const uint8_t *raw, size_t start, size_t end, size_t *len)
{
	size_t bytes, chars;

	if (end < start)
		return false;
	bytes = end - start;
	if (bytes < 2 || bytes % 2 != 0)
		return false;
	chars = bytes / 2;
	for (size_t i = 0; i < chars; i++) {
		uint16_t c = vv_le16(raw + start + 2 * i);

		if (c == 0)
			return i == chars - 1 ? (*len = i, true) : false;
		if (is_surrogate(c))
			return false;
	}
	return false;   /* no NUL at all */
}

/*
 * Every rule of edk2 IsValidVariablePolicyStructure (device-abi §8.4-§8.5)
 * plus the stricter ones listed in the file header.  Padding bytes (41..43,
 * and the lock block's padding) are not checked: OVMF sends 0xaf there.
 */
static bool
entry_valid(const uint8_t *raw, size_t avail)
{
	uint16_t size, name_offset;
	uint32_t min_size, max_size, must_have, cant_have;
	uint8_t lock_type;
	size_t len, wildcards;

	if (avail < VV_POLICY_ENTRY_FIXED_SIZE)
		return false;
	if (vv_le32(raw + OFF_VERSION) != VV_POLICY_ENTRY_REVISION)
		return false;
	size = vv_le16(raw + OFF_SIZE);
	name_offset = vv_le16(raw + OFF_NAME_OFFSET);
	if (size < VV_POLICY_ENTRY_FIXED_SIZE || size > avail)
		return false;
	if (name_offset < VV_POLICY_ENTRY_FIXED_SIZE || name_offset > size)
		return false;
	if ((size - name_offset) % 2 != 0)
		return false;

	min_size = vv_le32(raw + OFF_MIN_SIZE);
	max_size = vv_le32(raw + OFF_MAX_SIZE);
	must_have = vv_le32(raw + OFF_MUST_HAVE);
	cant_have = vv_le32(raw + OFF_CANT_HAVE);
	/* edk2: MaxSize 0 is invalid (device-abi §18.1: QEMU accepts it). */
	if (max_size == 0)
		return false;
	/* vmvars/policy.h: contradictory limits are malformed. */
	if (max_size != VV_POLICY_NO_MAX_SIZE && min_size > max_size)
		return false;
	if ((must_have & cant_have) != 0)
		return false;

	lock_type = raw[OFF_LOCK_TYPE];
	switch (lock_type) {
	case VV_POLICY_NO_LOCK:
	case VV_POLICY_LOCK_NOW:
	case VV_POLICY_LOCK_ON_CREATE:
		/* No lock block: the name follows the fixed part directly. */
		if (name_offset != VV_POLICY_ENTRY_FIXED_SIZE)
			return false;
		break;
	case VV_POLICY_LOCK_ON_VAR_STATE:
		/* 18-byte packed block, then a non-empty NUL-terminated name
		 * ending exactly at OffsetToName. */
		if (name_offset < VV_POLICY_ENTRY_FIXED_SIZE + VV_POLICY_LOCK_STATE_SIZE + 4)
			return false;
		if (!terminated_string_valid(raw, OFF_STATE_NAME, name_offset, &len) || len == 0)
			return false;
		break;
	default:
		return false;
	}

	if (size == name_offset)
		return true;    /* namespace-wide */
	if (!terminated_string_valid(raw, name_offset, size, &len))
		return false;
	wildcards = 0;
	for (size_t i = 0; i < len; i++)
		if (vv_le16(raw + name_offset + 2 * i) == '#')
			wildcards++;
	/* edk2: more wildcards than MATCH_PRIORITY_MIN is invalid. */
	return wildcards <= MATCH_PRIORITY_MIN;
}

/* Decodes len characters at raw+off into a new host-order array. */
static uint16_t *
decode_name(const uint8_t *raw, size_t off, size_t len)
{
	uint16_t *name = calloc(len + 1, sizeof(*name));

	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++)
		name[i] = vv_le16(raw + off + 2 * i);
	return name;
}

static void
entry_free(struct policy_entry *e)
{
	if (e == NULL)
		return;
	free(e->raw);
	free(e->name);
	free(e->state_name);
	free(e);
}

/* Builds the decoded entry from a raw entry that passed entry_valid(). */
static struct policy_entry *
entry_decode(const uint8_t *raw)
{
	struct policy_entry *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->size = vv_le16(raw + OFF_SIZE);
	e->name_offset = vv_le16(raw + OFF_NAME_OFFSET);
	memcpy(e->ns.b, raw + OFF_NAMESPACE, 16);
	e->min_size = vv_le32(raw + OFF_MIN_SIZE);
	e->max_size = vv_le32(raw + OFF_MAX_SIZE);
	e->must_have = vv_le32(raw + OFF_MUST_HAVE);
	e->cant_have = vv_le32(raw + OFF_CANT_HAVE);
	e->lock_type = raw[OFF_LOCK_TYPE];
	e->namespace_wide = e->size == e->name_offset;
	e->raw = malloc(e->size);
	if (e->raw == NULL)
		goto fail;
	memcpy(e->raw, raw, e->size);
	if (!e->namespace_wide) {
		e->name_len = (size_t)(e->size - e->name_offset) / 2 - 1;
		e->name = decode_name(raw, e->name_offset, e->name_len);
		if (e->name == NULL)
			goto fail;
		for (size_t i = 0; i < e->name_len; i++)
			if (e->name[i] == '#')
				e->wildcards++;
	}
	if (e->lock_type == VV_POLICY_LOCK_ON_VAR_STATE) {
		memcpy(e->state_ns.b, raw + OFF_STATE_NAMESPACE, 16);
		e->state_value = raw[OFF_STATE_VALUE];
		e->state_name_len = (size_t)(e->name_offset - OFF_STATE_NAME) / 2 - 1;
		e->state_name = decode_name(raw, OFF_STATE_NAME, e->state_name_len);
		if (e->state_name == NULL)
			goto fail;
	}
	return e;
fail:
	entry_free(e);
	return NULL;
}

/* ---- matching (edk2 EvaluatePolicyMatch / GetBestPolicyMatch) ---- */

static bool
is_hex_digit(uint16_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

/*
 * True when e matches (name, guid); *priority is then 0 for an exact match,
 * the number of '#' used for a wildcard match, 255 for a namespace-wide
 * entry.  A '#' in the policy matches only a hex digit (never a literal
 * '#'); both names must end together.
 */
static bool
entry_matches(const struct policy_entry *e, const uint16_t *name, size_t name_len,
	      const vv_guid *guid, unsigned *priority)
{
	unsigned prio = MATCH_PRIORITY_EXACT;

	if (!vv_guid_equal(&e->ns, guid))
		return false;
	if (e->namespace_wide) {
		*priority = MATCH_PRIORITY_MIN;
		return true;
	}
	if (e->name_len != name_len)
		return false;
	for (size_t i = 0; i < name_len; i++) {
		if (e->name[i] == '#') {
			if (!is_hex_digit(name[i]))
				return false;
			if (prio < MATCH_PRIORITY_MIN)
				prio++;
		} else if (e->name[i] != name[i]) {
			return false;
		}
	}
	*priority = prio;
	return true;
}

/* Lowest priority value wins; ties go to the first registered. */
static const struct policy_entry *
best_match(const struct vv_policy *p, const uint16_t *name, size_t name_len, const vv_guid *guid)
{
	const struct policy_entry *best = NULL;
	unsigned best_prio = MATCH_PRIORITY_MIN + 1, prio;

	/* A C-string view: the name ends at its first NUL, as in edk2. */
	name_len = vv_ucs2_strnlen(name, name_len);
	for (size_t i = 0; i < p->count; i++) {
		if (!entry_matches(p->entries[i], name, name_len, guid, &prio))
			continue;
		if (prio < best_prio) {
			best = p->entries[i];
			best_prio = prio;
			if (prio == MATCH_PRIORITY_EXACT)
				break;
		}
	}
	return best;
}

/* Invariant (3): the same namespace and an identical name (or none). */
static const struct policy_entry *
find_same(const struct vv_policy *p, const struct policy_entry *n)
{
	for (size_t i = 0; i < p->count; i++) {
		const struct policy_entry *e = p->entries[i];

		if (!vv_guid_equal(&e->ns, &n->ns) || e->namespace_wide != n->namespace_wide)
			continue;
		if (e->namespace_wide || vv_ucs2_equal(e->name, e->name_len, n->name, n->name_len))
			return e;
	}
	return NULL;
}

/* ---- enforcement (edk2 ValidateSetVariable) ---- */

/* Records why a policy refuses (vv_store_refuse) when s is given: the
 * rule, so a person does not stop at the status. */
#define POLICY_REFUSE(s, st, ...) \
	((s) != NULL ? (vv_store_refuse((s), __VA_ARGS__), (st)) : (st))

static vv_status
lock_status(struct vv_policy *p, const struct policy_entry *e, const uint16_t *name,
	    size_t name_len, const vv_guid *guid, struct vv_store *why)
{
	const struct vv_variable *v;
	char state[128];

	switch (e->lock_type) {
	case VV_POLICY_LOCK_NOW:
		return POLICY_REFUSE(why, VV_EFI_WRITE_PROTECTED, "locked by a variable policy "
				     "(LOCK_NOW)");
	case VV_POLICY_LOCK_ON_CREATE:
		/* Locked once the variable exists (host view). */
		if (vv_store_find(p->store, name, name_len, guid) != NULL)
			return POLICY_REFUSE(why, VV_EFI_WRITE_PROTECTED, "locked by a variable "
					     "policy once it exists (LOCK_ON_CREATE)");
		return VV_EFI_SUCCESS;
	case VV_POLICY_LOCK_ON_VAR_STATE:
		/* Locked while the controlling variable exists with exactly
		 * one byte equal to Value (device-abi §8.5). */
		v = vv_store_find(p->store, e->state_name, e->state_name_len, &e->state_ns);
		if (v != NULL && v->data_size == 1 && v->data[0] == e->state_value) {
			vv_ucs2_print(e->state_name, e->state_name_len, state, sizeof(state));
			return POLICY_REFUSE(why, VV_EFI_WRITE_PROTECTED, "locked by a variable "
					     "policy while %s is %u (LOCK_ON_VAR_STATE)", state,
					     (unsigned)e->state_value);
		}
		return VV_EFI_SUCCESS;
	default:
		return VV_EFI_SUCCESS;
	}
}

static vv_status
evaluate(struct vv_policy *p, const uint16_t *name, size_t name_len, const vv_guid *guid,
	 uint32_t attributes, uint64_t data_size, bool is_delete, struct vv_store *why)
{
	const struct policy_entry *e;

	if (p->disabled)
		return VV_EFI_SUCCESS;
	name_len = vv_ucs2_strnlen(name, name_len);
	e = best_match(p, name, name_len, guid);
	if (e == NULL)
		return VV_EFI_SUCCESS;
	/* Size and attribute limits apply to writes only; deletes get only
	 * the lock rules (edk2; QEMU checks deletes too, device-abi §8.6).
	 * MaxSize is never 0 (entry_valid), so "> max" is edk2's test. */
	if (!is_delete) {
		if (e->min_size > 0 && data_size < e->min_size)
			return POLICY_REFUSE(why, VV_EFI_INVALID_PARAMETER, "a variable policy "
					     "requires at least %u bytes; got %llu", e->min_size,
					     (unsigned long long)data_size);
		if (data_size > e->max_size)
			return POLICY_REFUSE(why, VV_EFI_INVALID_PARAMETER, "a variable policy "
					     "allows at most %u bytes; got %llu", e->max_size,
					     (unsigned long long)data_size);
		if ((attributes & e->must_have) != e->must_have)
			return POLICY_REFUSE(why, VV_EFI_INVALID_PARAMETER, "a variable policy "
					     "requires attributes 0x%x; got 0x%x", e->must_have,
					     attributes & ~VV_ATTR_APPEND);
		if ((attributes & e->cant_have) != 0)
			return POLICY_REFUSE(why, VV_EFI_INVALID_PARAMETER, "a variable policy "
					     "forbids attributes 0x%x; got 0x%x", e->cant_have,
					     attributes & ~VV_ATTR_APPEND);
	}
	return lock_status(p, e, name, name_len, guid, why);
}

/* The VarCheck hook: the store calls it after EndOfDxe only. */
static vv_status
policy_varcheck_hook(void *ctx, struct vv_store *s, struct vv_write *w)
{
	struct vv_policy *p = ctx;

	return evaluate(p, w->req->name, w->req->name_len, &w->req->guid, w->req->attributes,
			w->payload_size, w->is_delete, s);
}

vv_status
vv_policy_check(struct vv_policy *p, const uint16_t *name, size_t name_len, const vv_guid *guid,
		uint32_t attributes, uint64_t data_size)
{
	/* The store's notion of a delete for VarCheck (store.c, edk2
	 * VarCheckLibSetVariableCheck): no data and no APPEND, or no
	 * attributes at all. */
	bool is_delete = (data_size == 0 && (attributes & VV_ATTR_APPEND) == 0) ||
			 attributes == 0;

	return evaluate(p, name, name_len, guid, attributes, data_size, is_delete, NULL);
}

/* ---- table management ---- */

static void
table_clear(struct vv_policy *p, bool release)
{
	for (size_t i = 0; i < p->count; i++)
		entry_free(p->entries[i]);
	p->count = 0;
	if (release && p->reserved > 0)
		vv_store_release(p->store, p->reserved);
	p->reserved = 0;
}

static void
policy_on_event(void *ctx, struct vv_store *s, enum vv_event ev)
{
	struct vv_policy *p = ctx;

	(void)s;
	switch (ev) {
	case VV_EVENT_END_OF_DXE:
	case VV_EVENT_READY_TO_BOOT:    /* implies EndOfDxe (edk2 VariableSmm.c) */
	case VV_EVENT_EXIT_BOOT_SERVICES:
		p->locked = true;
		break;
	case VV_EVENT_RESET:
		/* The firmware registers its policies again on every boot. */
		table_clear(p, true);
		p->locked = false;
		p->disabled = false;
		break;
	}
}

struct vv_policy *
vv_policy_new(struct vv_store *s, const struct vv_policy_config *cfg)
{
	struct vv_policy *p;

	if (s == NULL)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->store = s;
	if (cfg != NULL) {
		p->cfg = *cfg;
	} else {
		p->cfg.allow_disable = false;
		p->cfg.max_entries = 1024;
	}
	if (vv_store_add_hook(s, VV_HOOK_VARCHECK, policy_varcheck_hook, p) != 0) {
		free(p);
		return NULL;
	}
	if (vv_store_add_listener(s, policy_on_event, p) != 0) {
		vv_store_remove_hook(s, VV_HOOK_VARCHECK, policy_varcheck_hook, p);
		free(p);
		return NULL;
	}
	return p;
}

/* Detaches from the store (hook, listener, reservations): free the engine
 * before the store. */
void
vv_policy_free(struct vv_policy *p)
{
	if (p == NULL)
		return;
	vv_store_remove_hook(p->store, VV_HOOK_VARCHECK, policy_varcheck_hook, p);
	vv_store_remove_listener(p->store, policy_on_event, p);
	table_clear(p, true);
	free(p->entries);
	free(p);
}

static bool
table_grow(struct vv_policy *p)
{
	struct policy_entry **n;
	size_t cap;

	if (p->count < p->cap)
		return true;
	cap = p->cap == 0 ? 16 : p->cap * 2;
	n = realloc(p->entries, cap * sizeof(*n));
	if (n == NULL)
		return false;
	p->entries = n;
	p->cap = cap;
	return true;
}

/* Register a decoded entry; takes ownership of e in every case. */
static vv_status
table_add(struct vv_policy *p, struct policy_entry *e)
{
	if (find_same(p, e) != NULL) {
		entry_free(e);
		return VV_EFI_ALREADY_STARTED;
	}
	if (p->count >= p->cfg.max_entries || !table_grow(p)) {
		entry_free(e);
		return VV_EFI_OUT_OF_RESOURCES;
	}
	/* QEMU's unbounded registration was a host DoS (device-abi §18):
	 * every entry counts against the volatile quota. */
	if (vv_store_reserve(p->store, e->size) != VV_EFI_SUCCESS) {
		entry_free(e);
		return VV_EFI_OUT_OF_RESOURCES;
	}
	p->reserved += e->size;
	p->entries[p->count++] = e;
	return VV_EFI_SUCCESS;
}

vv_status
vv_policy_register(struct vv_policy *p, const uint8_t *entry, size_t size)
{
	struct policy_entry *e;

	if (p->locked)
		return VV_EFI_WRITE_PROTECTED;
	if (entry == NULL || !entry_valid(entry, size))
		return VV_EFI_INVALID_PARAMETER;
	e = entry_decode(entry);
	if (e == NULL)
		return VV_EFI_OUT_OF_RESOURCES;
	return table_add(p, e);
}

vv_status
vv_policy_disable(struct vv_policy *p)
{
	/* edk2 DisableVariablePolicy, in its order. */
	if (p->disabled)
		return VV_EFI_ALREADY_STARTED;
	if (p->locked)
		return VV_EFI_WRITE_PROTECTED;
	if (!p->cfg.allow_disable)
		return VV_EFI_WRITE_PROTECTED;
	p->disabled = true;
	vv_store_note_state_change(p->store);
	return VV_EFI_SUCCESS;
}

bool
vv_policy_enabled(const struct vv_policy *p)
{
	return !p->disabled;
}

vv_status
vv_policy_lock(struct vv_policy *p)
{
	/* edk2 LockVariablePolicy: a second lock is EFI_WRITE_PROTECTED. */
	if (p->locked)
		return VV_EFI_WRITE_PROTECTED;
	p->locked = true;
	vv_store_note_state_change(p->store);
	return VV_EFI_SUCCESS;
}

bool
vv_policy_locked(const struct vv_policy *p)
{
	return p->locked;
}

size_t
vv_policy_count(const struct vv_policy *p)
{
	return p->count;
}

vv_status
vv_policy_dump(const struct vv_policy *p, uint8_t *buf, size_t *size)
{
	size_t need = 0, off = 0;

	for (size_t i = 0; i < p->count; i++)
		need += p->entries[i]->size;
	if (*size < need || (need > 0 && buf == NULL)) {
		*size = need;
		return VV_EFI_BUFFER_TOO_SMALL;
	}
	for (size_t i = 0; i < p->count; i++) {
		memcpy(buf + off, p->entries[i]->raw, p->entries[i]->size);
		off += p->entries[i]->size;
	}
	*size = need;
	return VV_EFI_SUCCESS;
}

/* Copies raw[start, end) to name_out if it fits (edk2 GetVariablePolicyInfo
 * sizing: BUFFER_TOO_SMALL with the needed size). */
static vv_status
copy_name(const uint8_t *raw, size_t start, size_t end, uint8_t *name_out, size_t *name_size)
{
	size_t need = end - start;

	if (*name_size < need || (need > 0 && name_out == NULL)) {
		*name_size = need;
		return VV_EFI_BUFFER_TOO_SMALL;
	}
	if (need > 0)
		memcpy(name_out, raw + start, need);
	*name_size = need;
	return VV_EFI_SUCCESS;
}

vv_status
vv_policy_get_info(const struct vv_policy *p, const uint16_t *name, size_t name_len,
		   const vv_guid *guid, uint8_t fixed[VV_POLICY_ENTRY_FIXED_SIZE],
		   uint8_t *name_out, size_t *name_size)
{
	const struct policy_entry *e = best_match(p, name, name_len, guid);

	if (e == NULL)
		return VV_EFI_NOT_FOUND;
	memcpy(fixed, e->raw, VV_POLICY_ENTRY_FIXED_SIZE);
	return copy_name(e->raw, e->name_offset, e->size, name_out, name_size);
}

vv_status
vv_policy_get_lock_var_state_info(const struct vv_policy *p, const uint16_t *name,
				  size_t name_len, const vv_guid *guid,
				  uint8_t lock[VV_POLICY_LOCK_STATE_SIZE],
				  uint8_t *name_out, size_t *name_size)
{
	const struct policy_entry *e = best_match(p, name, name_len, guid);

	if (e == NULL || e->lock_type != VV_POLICY_LOCK_ON_VAR_STATE)
		return VV_EFI_NOT_FOUND;
	memcpy(lock, e->raw + VV_POLICY_ENTRY_FIXED_SIZE, VV_POLICY_LOCK_STATE_SIZE);
	return copy_name(e->raw, OFF_STATE_NAME, e->name_offset, name_out, name_size);
}

vv_status
vv_policy_lock_variable(struct vv_policy *p, const uint16_t *name, size_t name_len,
			const vv_guid *guid)
{
	uint8_t *raw;
	size_t size;
	vv_status st;
	struct policy_entry *e;
	const struct policy_entry *old;

	/* edk2 VariableSmm.c: VariableLock is refused after EndOfDxe. */
	if (vv_store_end_of_dxe(p->store))
		return VV_EFI_ACCESS_DENIED;
	if (name == NULL || name_len == 0 || name_len != vv_ucs2_strnlen(name, name_len))
		return VV_EFI_INVALID_PARAMETER;
	if (name_len > (0xFFFFu - VV_POLICY_ENTRY_FIXED_SIZE) / 2 - 1)
		return VV_EFI_INVALID_PARAMETER;
	size = VV_POLICY_ENTRY_FIXED_SIZE + (name_len + 1) * 2;
	raw = calloc(1, size);
	if (raw == NULL)
		return VV_EFI_OUT_OF_RESOURCES;
	/* RegisterBasicVariablePolicy(LOCK_NOW, no limits). */
	vv_put_le32(raw + OFF_VERSION, VV_POLICY_ENTRY_REVISION);
	vv_put_le16(raw + OFF_SIZE, (uint16_t)size);
	vv_put_le16(raw + OFF_NAME_OFFSET, VV_POLICY_ENTRY_FIXED_SIZE);
	memcpy(raw + OFF_NAMESPACE, guid->b, 16);
	vv_put_le32(raw + OFF_MAX_SIZE, VV_POLICY_NO_MAX_SIZE);
	raw[OFF_LOCK_TYPE] = VV_POLICY_LOCK_NOW;
	for (size_t i = 0; i < name_len; i++)
		vv_put_le16(raw + VV_POLICY_ENTRY_FIXED_SIZE + 2 * i, name[i]);

	st = vv_policy_register(p, raw, size);
	if (st == VV_EFI_ALREADY_STARTED) {
		/* Already locked the same way: fine (edk2
		 * VariableLockRequestToLock). */
		e = entry_decode(raw);
		old = e != NULL ? find_same(p, e) : NULL;
		if (old != NULL && old->lock_type == VV_POLICY_LOCK_NOW)
			st = VV_EFI_SUCCESS;
		entry_free(e);
	}
	free(raw);
	return st;
}
