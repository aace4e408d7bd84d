/*
 * src/core/store.c -- the variable store's lifecycle and the UEFI
 * variable-service rules: GetVariable, GetNextVariableName,
 * QueryVariableInfo, the VarCheck properties, SetVariable and its checks
 * (with the reason of the last refusal), and the state-change counter.
 *
 * The store is split by concern; src/core/store_impl.h holds struct
 * vv_store, lists the files and says what each part guarantees:
 * store_table.c (the hash table and creation-order list, see the
 * invariants in include/vmvars/store.h), store_quota.c (accounting),
 * store_phase.c (phases, listeners, hooks), store_update.c (SetVariable's
 * update with its undo, and vv_store_put), store_lang.c (row 20),
 * store_persist.c (load, flush, replace_all) and store_batch.c.
 *
 * SetVariable applies the checks of varstore-formats §8.2 in edk2's order;
 * each check cites its row ("row N"): rows 1-24 here, then the
 * PlatformLang/Lang companion (row 20, store_lang.c) and the update (rows
 * 25-32, store_update.c).  A write is applied in memory with an undo
 * record, then persisted (NV only); if persisting fails the undo restores
 * the old state exactly, and the guest gets EFI_DEVICE_ERROR.
 *
 * Deliberate differences from edk2 (docs/variable-rules.md explains each):
 *  - the service-owned variables (SetupMode, SecureBoot, VendorKeys,
 *    SignatureSupport, *Default) are read-only to the guest in every
 *    phase, not only after EndOfDxe: the host owns them (CVE-2026-16288);
 *  - counter-based authentication (0x10) is always EFI_UNSUPPORTED: edk2
 *    keeps a physical-presence delete for variables no store here can hold;
 *  - the PlatformLang/Lang synchronisation (store_lang.c, src/core/lang.c)
 *    takes part only for EFI_GLOBAL_VARIABLE names, and a companion write
 *    obeys the same VarCheck and policy rules as the write itself.
 *
 * State changes: every change of service state that is not NV content
 * (volatile variables, phase flags, VarCheck properties, reservations, and
 * what other modules report through vv_store_note_state_change) bumps
 * state_changes, so a caller that records that state (vmvarsd's restart
 * record, src/state/snapshot.c) knows when to write it again.  Counting
 * too often (an undo, a NV-only reservation) costs one more record; never
 * counting a change would lose one.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/backend.h>
#include <vmvars/store.h>
#include <vmvars/ucs2.h>

#include "core/store_impl.h"
#include "core/store_state.h"
#include "core/var_property.h"
#include "core/varcheck_uefi.h"

/* Offsets in EFI_VARIABLE_AUTHENTICATION_2 (device-abi §10.2). */
#define AUTH2_CERT_OFFSET   16u   /* TimeStamp, then WIN_CERTIFICATE */
#define AUTH2_CERTDATA_OFF  40u   /* 16 + WIN_CERTIFICATE_UEFI_GUID header (24) */
#define WIN_CERT_UEFI_HDR   24u

/* ------------------------------------------------------------------ */
/* Lifecycle                                                          */
/* ------------------------------------------------------------------ */

struct vv_store *
vv_store_new(const struct vv_limits *limits)
{
	struct vv_store *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	if (limits != NULL)
		s->limits = *limits;
	else
		vv_limits_default(&s->limits);
	if (s->limits.hwerr_storage > s->limits.nv_storage) {
		free(s);
		return NULL;
	}
	s->tab.nbuckets = MIN_BUCKETS;
	s->tab.buckets = calloc(s->tab.nbuckets, sizeof(*s->tab.buckets));
	s->properties = vv_property_table_new();
	if (s->tab.buckets == NULL || s->properties == NULL) {
		vv_store_free(s);
		return NULL;
	}
	return s;
}

void
vv_store_free(struct vv_store *s)
{
	struct vv_variable *v, *next;

	if (s == NULL)
		return;
	if (s->in_batch)
		vv_store_batch_abort(s);
	for (v = s->tab.head; v != NULL; v = next) {
		next = v->next;
		vv_store_var_free(v);
	}
	if (s->backend != NULL && s->backend->ops->destroy != NULL)
		s->backend->ops->destroy(s->backend);
	vv_property_table_free(s->properties);
	free(s->tab.buckets);
	free(s);
}

const struct vv_limits *
vv_store_limits(const struct vv_store *s)
{
	return &s->limits;
}

uint64_t vv_store_state_changes(const struct vv_store *s) { return s->state_changes; }
uint64_t vv_store_max_variable_size(const struct vv_store *s, uint32_t attributes)
{
	return vv_store_class_max_size(s, attributes);
}
void vv_store_note_state_change(struct vv_store *s) { s->state_changes++; }

static bool
auth_supported(const struct vv_store *s)
{
	return s->nhooks[VV_HOOK_AUTH] > 0;
}

/* ------------------------------------------------------------------ */
/* GetVariable, GetNextVariableName, QueryVariableInfo                */
/* ------------------------------------------------------------------ */

/* After ExitBootServices only RT variables exist for the caller
 * (formats §8.7, §8.8; edk2 FindVariableEx). */
static bool
accessible(const struct vv_store *s, const struct vv_variable *v)
{
	return !s->at_runtime || (v->attributes & VV_ATTR_RT);
}

vv_status
vv_store_get(struct vv_store *s, const uint16_t *name, size_t name_len, const vv_guid *guid,
	     uint32_t *attributes, void *data, uint64_t *data_size)
{
	const struct vv_variable *v;

	if (name_len == 0)
		return VV_EFI_NOT_FOUND;            /* edk2: empty name */
	v = vv_store_table_find(s, name, name_len, guid);
	if (v == NULL || !accessible(s, v))
		return VV_EFI_NOT_FOUND;
	if (attributes != NULL)                     /* also on BUFFER_TOO_SMALL */
		*attributes = v->attributes;
	if (*data_size < v->data_size) {
		*data_size = v->data_size;
		return VV_EFI_BUFFER_TOO_SMALL;
	}
	if (data == NULL && v->data_size != 0)
		return VV_EFI_INVALID_PARAMETER;
	if (v->data_size)
		memcpy(data, v->data, v->data_size);
	*data_size = v->data_size;
	return VV_EFI_SUCCESS;
}

vv_status
vv_store_get_next(struct vv_store *s, const uint16_t *name, size_t name_len, const vv_guid *guid,
		  const struct vv_variable **next)
{
	const struct vv_variable *v;

	if (name_len == 0) {
		v = s->tab.head;
	} else {
		v = s->tab.cursor;
		if (v == NULL || !vv_guid_equal(&v->guid, guid) ||
		    !vv_ucs2_equal(v->name, v->name_len, name, name_len))
			v = vv_store_table_find(s, name, name_len, guid);
		/* An input the caller could not have been given is
		 * "not an existing variable" (formats §8.8). */
		if (v == NULL || !accessible(s, v))
			return VV_EFI_INVALID_PARAMETER;
		v = v->next;
	}
	while (v != NULL && !accessible(s, v))
		v = v->next;
	if (v == NULL)
		return VV_EFI_NOT_FOUND;
	*next = v;
	s->tab.cursor = v;
	return VV_EFI_SUCCESS;
}

vv_status
vv_store_query(struct vv_store *s, uint32_t attr, uint64_t *max_storage, uint64_t *remaining,
	       uint64_t *max_variable_size)
{
	uint64_t max, used, maxvar, overhead = s->limits.variable_overhead;

	/* Checks in edk2 VariableServiceQueryVariableInfo order (formats §8.9). */
	if (attr == 0)
		return VV_EFI_INVALID_PARAMETER;
	if (attr & VV_ATTR_AW)
		return VV_EFI_UNSUPPORTED;
	/* edk2's mask here is VARIABLE_ATTRIBUTE_NV_BS_RT_AT_HR_AW: APPEND_WRITE
	 * (and EA) alone select no storage class, so they are EFI_UNSUPPORTED
	 * (formats §8.9), not the volatile figures. */
	if ((attr & (VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT | VV_ATTR_HR | VV_ATTR_AT)) == 0)
		return VV_EFI_UNSUPPORTED;
	if ((attr & (VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT)) == VV_ATTR_NV)
		return VV_EFI_INVALID_PARAMETER;
	if ((attr & (VV_ATTR_BS | VV_ATTR_RT)) == VV_ATTR_RT)
		return VV_EFI_INVALID_PARAMETER;
	if (s->at_runtime && !(attr & VV_ATTR_RT))
		return VV_EFI_INVALID_PARAMETER;
	if ((attr & (VV_ATTR_NV | VV_ATTR_HR)) == VV_ATTR_HR)
		return VV_EFI_INVALID_PARAMETER;
	if ((attr & VV_ATTR_AT) && !auth_supported(s))
		return VV_EFI_UNSUPPORTED;
	if ((attr & VV_ATTR_HR) && s->limits.hwerr_storage == 0)
		return VV_EFI_UNSUPPORTED;

	max = vv_store_class_capacity(s, attr);
	used = vv_store_class_in_use(s, attr);
	maxvar = vv_store_class_max_size(s, attr);
	maxvar = maxvar > overhead ? maxvar - overhead : 0;
	*max_storage = max;
	*remaining = used < max ? max - used : 0;
	if (*remaining < overhead)
		maxvar = 0;
	else if (*remaining - overhead < maxvar)
		maxvar = *remaining - overhead;
	*max_variable_size = maxvar;
	return VV_EFI_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* VarCheck properties                                                */
/* ------------------------------------------------------------------ */

/*
 * Adds or replaces a registered property.  A new entry is charged against
 * the volatile quota like a variable (overhead + name size), released on
 * RESET: without that a guest could make the host keep MAX_PROPERTIES names
 * of up to 64 KiB each (64 MiB) per boot, outside every quota (the same DoS
 * as QEMU's unbounded policy registration, device-abi §18).  A failed add
 * changes nothing.
 */
static vv_status
property_add(struct vv_store *s, const uint16_t *name, size_t name_len, const vv_guid *guid,
	     const struct vv_var_property *p)
{
	uint64_t cost = 0;
	vv_status st;

	if (vv_property_table_get(s->properties, name, name_len, guid) == NULL) {
		cost = vv_store_var_cost(s, ((uint64_t)name_len + 1) * 2, 0);
		if (vv_store_reserve(s, cost) != VV_EFI_SUCCESS)
			return VV_EFI_OUT_OF_RESOURCES;
	}
	st = vv_property_table_set(s->properties, name, name_len, guid, p);
	if (st != VV_EFI_SUCCESS)
		vv_store_release(s, cost);
	else
		s->property_reserved += cost;
	s->state_changes++;
	return st;
}

void
vv_store_for_each_property(const struct vv_store *s, vv_property_fn fn, void *ctx)
{
	vv_property_table_for_each(s->properties, fn, ctx);
}

vv_status
vv_store_property_set(struct vv_store *s, const uint16_t *name, size_t name_len,
		      const vv_guid *guid, const struct vv_var_property *p)
{
	/* edk2 VarCheckLibVariablePropertySet. */
	if (name_len == 0 || !vv_ucs2_valid(name, name_len))
		return VV_EFI_INVALID_PARAMETER;
	if (p->revision != VV_VAR_CHECK_PROPERTY_REVISION)
		return VV_EFI_INVALID_PARAMETER;
	if (s->end_of_dxe)
		return VV_EFI_ACCESS_DENIED;
	return property_add(s, name, name_len, guid, p);
}

static const struct vv_var_property *
property_lookup(const struct vv_store *s, const uint16_t *name, size_t name_len,
		const vv_guid *guid)
{
	const struct vv_var_property *p;

	p = vv_property_table_get(s->properties, name, name_len, guid);
	return p != NULL ? p : vv_uefi_var_property(name, name_len, guid);
}

vv_status
vv_store_property_get(struct vv_store *s, const uint16_t *name, size_t name_len,
		      const vv_guid *guid, struct vv_var_property *out)
{
	const struct vv_var_property *p;

	if (name_len == 0)
		return VV_EFI_INVALID_PARAMETER;
	p = property_lookup(s, name, name_len, guid);
	if (p == NULL)
		return VV_EFI_NOT_FOUND;
	*out = *p;
	return VV_EFI_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* SetVariable: the checks                                            */
/* ------------------------------------------------------------------ */

/* Rows 1-11: everything that depends only on the request. */
static vv_status
check_request(struct vv_store *s, const struct vv_set_request *req, struct vv_write *w)
{
	uint32_t attr = req->attributes;
	uint64_t name_size, total, limit;

	if (req->name_len == 0 || !vv_ucs2_valid(req->name, req->name_len))
		return REFUSE(s, VV_EFI_INVALID_PARAMETER,
			      "the name is empty or not valid UCS-2");  /* row 1 */
	if (req->data_size != 0 && req->data == NULL)
		return REFUSE(s, VV_EFI_INVALID_PARAMETER,
			      "a data size without data");              /* row 2 */
	if (attr & ~(uint32_t)(VV_ATTR_MASK | VV_ATTR_AW))
		return REFUSE(s, VV_EFI_INVALID_PARAMETER, "attributes 0x%x have bits UEFI "
			      "does not define", attr);                 /* row 3 */
	/* Rows 4-7 are one else-if chain in edk2. */
	if ((attr & (VV_ATTR_RT | VV_ATTR_BS)) == VV_ATTR_RT) {
		return REFUSE(s, (attr & VV_ATTR_AW) ? VV_EFI_UNSUPPORTED : VV_EFI_INVALID_PARAMETER,
			      "RUNTIME_ACCESS needs BOOTSERVICE_ACCESS as well");
	} else if ((attr & VV_ATTR_MASK) == VV_ATTR_NV) {
		return REFUSE(s, (attr & VV_ATTR_AW) ? VV_EFI_UNSUPPORTED : VV_EFI_INVALID_PARAMETER,
			      "NON_VOLATILE alone is not an attribute set a variable can have "
			      "(add BOOTSERVICE_ACCESS)");
	} else if (attr & (VV_ATTR_AT | VV_ATTR_AW)) {
		if (!auth_supported(s))
			return REFUSE(s, VV_EFI_INVALID_PARAMETER, "this store has no "
				      "authenticated-variable service");  /* row 6 */
	} else if (attr & VV_ATTR_HR) {
		if (s->limits.hwerr_storage == 0)
			return REFUSE(s, VV_EFI_INVALID_PARAMETER, "this store keeps no "
				      "hardware-error records (no HR storage)"); /* row 7 */
	}
	if ((attr & VV_ATTR_AT) && (attr & VV_ATTR_AW))
		return REFUSE(s, VV_EFI_UNSUPPORTED, "AUTHENTICATED_WRITE_ACCESS is deprecated "
			      "and not supported");                     /* row 8 */
	if (attr & VV_ATTR_AW)
		return REFUSE(s, VV_EFI_UNSUPPORTED, "AUTHENTICATED_WRITE_ACCESS is deprecated "
			      "and not supported");                     /* row 9 */

	w->payload = req->data;
	w->payload_size = req->data_size;
	if (attr & VV_ATTR_AT) {                                        /* row 10 */
		uint32_t cert_len;

		if (req->data_size < AUTH2_CERTDATA_OFF)
			return REFUSE(s, VV_EFI_SECURITY_VIOLATION, "an authenticated write shorter "
				      "than its EFI_VARIABLE_AUTHENTICATION_2 header");
		cert_len = vv_le32(req->data + AUTH2_CERT_OFFSET);
		if (cert_len < WIN_CERT_UEFI_HDR ||
		    cert_len > req->data_size - AUTH2_CERT_OFFSET)
			return REFUSE(s, VV_EFI_SECURITY_VIOLATION, "the authentication header's "
				      "certificate length (%u) does not fit the data", cert_len);
		w->payload = req->data + AUTH2_CERT_OFFSET + cert_len;
		w->payload_size = req->data_size - AUTH2_CERT_OFFSET - cert_len;
	}

	/* Row 11: name + payload within the class maximum minus the header. */
	name_size = ((uint64_t)req->name_len + 1) * 2;
	limit = vv_store_class_max_size(s, attr);
	limit = limit > s->limits.variable_overhead ? limit - s->limits.variable_overhead : 0;
	if (vv_add_overflow(name_size, w->payload_size, &total) || total > limit)
		return REFUSE(s, VV_EFI_INVALID_PARAMETER, "name and value (%llu bytes) exceed "
			      "the largest variable of this kind the store takes (%llu bytes "
			      "for name and value)", (unsigned long long)(name_size +
			      w->payload_size), (unsigned long long)limit);

	/* VarCheck's notion of a delete (edk2 VarCheckLibSetVariableCheck). */
	w->is_delete = ((attr & VV_ATTR_APPEND) == 0 && w->payload_size == 0) || attr == 0;
	return VV_EFI_SUCCESS;
}

/* Row 14's size refusal: the size the property allows, in words. */
static vv_status
size_refusal(struct vv_store *s, const struct vv_var_property *p, uint64_t size)
{
	if (p->min_size == p->max_size)
		return REFUSE(s, VV_EFI_INVALID_PARAMETER, "its value must be exactly %llu "
			      "byte%s (its VarCheck property%s); got %llu",
			      (unsigned long long)p->min_size, p->min_size == 1 ? "" : "s",
			      p->min_size == 2 ? ": a UINT16" : "", (unsigned long long)size);
	if (p->max_size == UINT64_MAX)
		return REFUSE(s, VV_EFI_INVALID_PARAMETER, "its value must be at least %llu "
			      "bytes (its VarCheck property); got %llu",
			      (unsigned long long)p->min_size, (unsigned long long)size);
	return REFUSE(s, VV_EFI_INVALID_PARAMETER, "its value must be %llu to %llu bytes (its "
		      "VarCheck property); got %llu", (unsigned long long)p->min_size,
		      (unsigned long long)p->max_size, (unsigned long long)size);
}

/* Rows 13-17: VarCheck.  Properties and the UEFI-defined-variable rules,
 * then the registered handlers (variable policy). */
vv_status
vv_store_check_varcheck(struct vv_store *s, struct vv_write *w)
{
	const struct vv_set_request *req = w->req;
	const struct vv_var_property *p;
	uint32_t attr = req->attributes;
	char why[256];
	vv_status st;

	p = property_lookup(s, req->name, req->name_len, &req->guid);
	if (p != NULL && (p->property & VV_VAR_CHECK_PROPERTY_READ_ONLY) &&
	    req->caller == VV_CALLER_GUEST)
		return REFUSE(s, VV_EFI_WRITE_PROTECTED, "read-only after EndOfDxe (its "
			      "VarCheck property)");                    /* row 13 */
	if (!w->is_delete) {
		if (p != NULL) {                                        /* row 14 */
			if (p->attributes != 0 && (attr & ~VV_ATTR_APPEND) != p->attributes)
				return REFUSE(s, VV_EFI_INVALID_PARAMETER, "attributes 0x%x; its "
					      "VarCheck property requires 0x%x", attr & ~VV_ATTR_APPEND,
					      p->attributes);
			if (w->payload_size != 0 &&
			    (w->payload_size < p->min_size || w->payload_size > p->max_size))
				return size_refusal(s, p, w->payload_size);
		}
		st = vv_varcheck_uefi_why(req->name, req->name_len, &req->guid, attr, w->payload,
					  w->payload_size, why, sizeof(why)); /* rows 15-16 */
		if (st != VV_EFI_SUCCESS)
			return REFUSE(s, st, "%s", why);
	}
	return vv_store_run_hooks(s, VV_HOOK_VARCHECK, w);                       /* row 17 */
}

bool
vv_store_name_is(const struct vv_set_request *req, const char *ascii)
{
	size_t n = strlen(ascii);

	if (req->name_len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (req->name[i] != (uint16_t)(unsigned char)ascii[i])
			return false;
	return true;
}

/*
 * Variables that describe the service's own state or that only the host
 * owner provides (formats §8.5, issue #3): SetupMode, SecureBoot,
 * VendorKeys, SignatureSupport and the *Default key databases.  edk2
 * protects them only after EndOfDxe (VarCheck, row 13); with the store on
 * the host nothing in the guest has a reason to write them, so they are
 * read-only to the guest in every phase.  AuditMode and DeployedMode have
 * transition rules of their own (the Secure Boot module).
 */
static bool
is_service_owned(const struct vv_set_request *req)
{
	static const char *const names[] = {
		"SetupMode", "SecureBoot", "VendorKeys", "SignatureSupport", "PKDefault",
		"KEKDefault", "dbDefault", "dbxDefault", "dbtDefault", "dbrDefault", "devdbDefault",
	};

	if (!vv_guid_equal(&req->guid, &VV_GUID_GLOBAL_VARIABLE))
		return false;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (vv_store_name_is(req, names[i]))
			return true;
	return false;
}

/* Everything before UpdateVariable: rows 12-24. */
static vv_status
check_write(struct vv_store *s, struct vv_write *w)
{
	const struct vv_set_request *req = w->req;
	const struct vv_variable *old = w->existing;
	uint32_t attr = req->attributes;
	vv_status st;

	/* vmvars: the service-owned status variables are never the guest's to
	 * write, in any phase (CVE-2026-16288; see the file comment). */
	if (req->caller == VV_CALLER_GUEST && is_service_owned(req))
		return REFUSE(s, VV_EFI_WRITE_PROTECTED, "the variable service owns this status "
			      "variable; the guest may not write it");

	st = vv_store_run_hooks(s, VV_HOOK_SPECIAL, w);                          /* row 12 */
	if (st != VV_EFI_SUCCESS || w->handled)
		return st;
	if (s->end_of_dxe) {                                            /* rows 13-17 */
		st = vv_store_check_varcheck(s, w);
		if (st != VV_EFI_SUCCESS || w->handled)
			return st;
	}
	if (old != NULL) {
		if (s->at_runtime && !(old->attributes & VV_ATTR_RT))
			return REFUSE(s, VV_EFI_WRITE_PROTECTED, "after ExitBootServices only "
				      "variables with RUNTIME_ACCESS can be written"); /* row 18 */
		if (attr != 0 && (attr & ~VV_ATTR_APPEND) != old->attributes)
			return REFUSE(s, VV_EFI_INVALID_PARAMETER, "attributes 0x%x differ from "
				      "the existing variable's 0x%x (delete it first to change "
				      "them)", attr & ~VV_ATTR_APPEND, old->attributes); /* row 19 */
	}
	if (s->at_runtime && (vv_store_name_is(req, "PlatformLangCodes") || vv_store_name_is(req, "LangCodes")))
		return REFUSE(s, VV_EFI_WRITE_PROTECTED, "the firmware's language codes cannot "
			      "change after ExitBootServices");         /* row 20 */
	if (auth_supported(s))
		return vv_store_run_hooks(s, VV_HOOK_AUTH, w);                   /* rows 21-23 */
	if (old != NULL && (old->attributes & (VV_ATTR_AT | VV_ATTR_AW)) && !(attr & VV_ATTR_AT))
		return REFUSE(s, VV_EFI_WRITE_PROTECTED, "an authenticated variable is only "
			      "written by an authenticated (signed) write"); /* row 24 */
	return VV_EFI_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* SetVariable, and why it refused                                    */
/* ------------------------------------------------------------------ */

vv_status
vv_store_set(struct vv_store *s, const struct vv_set_request *req)
{
	struct vv_write w;
	struct lang_sync ls;
	vv_status st;

	memset(&w, 0, sizeof(w));
	w.req = req;
	s->refusal[0] = '\0';
	st = check_request(s, req, &w);
	if (st != VV_EFI_SUCCESS)
		return st;
	w.existing = vv_store_table_find(s, req->name, req->name_len, &req->guid);
	st = check_write(s, &w);
	if (st == VV_EFI_SUCCESS && !w.handled) {
		st = vv_store_lang_sync_begin(s, &w, &ls);                       /* row 20 */
		if (st == VV_EFI_SUCCESS) {
			/* w.existing is still right: the companion is
			 * never the variable written */
			st = vv_store_apply_write(s, &w);
			if (st != VV_EFI_SUCCESS)
				vv_store_lang_sync_undo(s, &ls);
			free(ls.old_data);
		}
	}
	free(w.owned);
	if (st == VV_EFI_SUCCESS)
		s->refusal[0] = '\0';
	return st;
}

const char *
vv_store_last_refusal(const struct vv_store *s)
{
	return s->refusal;
}

void
vv_store_refusal_reset(struct vv_store *s)
{
	s->refusal[0] = '\0';
}

void
vv_store_refuse(struct vv_store *s, const char *fmt, ...)
{
	va_list ap;

	if (s->refusal[0] != '\0')
		return;         /* the first reason is the precise one */
	va_start(ap, fmt);
	vsnprintf(s->refusal, sizeof(s->refusal), fmt, ap);
	va_end(ap);
}
