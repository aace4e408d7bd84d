/*
 * src/core/store_lang.c -- SetVariable row 20 (formats §8.2): a write of
 * PlatformLang, Lang or their *Codes updates the other language variable,
 * and a failed write puts it back.  The codes themselves are matched by
 * src/core/lang.c; vv_store_set (store.c) calls this between its checks
 * and the update.  The choices where this differs from edk2 are listed at
 * struct lang_sync (src/core/store_impl.h) and in docs/variable-rules.md.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/backend.h>
#include <vmvars/store.h>
#include <vmvars/ucs2.h>

#include "core/lang.h"
#include "core/store_impl.h"

#define LANG_ATTRIBUTES (VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT)

static const struct vv_variable *
global_var(const struct vv_store *s, const void *name, size_t len)
{
	return vv_store_table_find(s, name, len, &VV_GUID_GLOBAL_VARIABLE);
}

/* The codes variable's bytes: the write's own payload when it is the one
 * being written, else the store's. */
static const struct vv_variable *
lang_codes(const struct vv_store *s, const struct vv_write *w, const char *name,
	   struct vv_variable *scratch)
{
	if (vv_store_name_is(w->req, name)) {
		scratch->data = (uint8_t *)w->payload;
		scratch->data_size = (size_t)w->payload_size;
		return scratch;
	}
	return name[0] == 'P' ? global_var(s, u"PlatformLangCodes", 17) : global_var(s, u"LangCodes", 9);
}

/*
 * The companion value for this write, if any: *to_platform says which
 * variable gets it (PlatformLang, or Lang).
 */
static bool
lang_companion_for(const struct vv_store *s, const struct vv_write *w, char *out,
		   size_t *out_size, bool *to_platform)
{
	const struct vv_set_request *req = w->req;
	struct vv_variable pc_scratch, lc_scratch;
	const struct vv_variable *pcodes, *lcodes, *from;
	bool codes = vv_store_name_is(req, "PlatformLangCodes") || vv_store_name_is(req, "LangCodes");
	const uint8_t *value;
	size_t value_size;

	/* A delete is also any write without BS or RT (plan_existing,
	 * plan_create), whatever its data. */
	if (w->is_delete || w->payload_size == 0 || (req->attributes & VV_ATTR_APPEND) ||
	    (req->attributes & (VV_ATTR_BS | VV_ATTR_RT)) == 0 ||
	    !vv_guid_equal(&req->guid, &VV_GUID_GLOBAL_VARIABLE))
		return false;
	if (!codes && !vv_store_name_is(req, "PlatformLang") && !vv_store_name_is(req, "Lang"))
		return false;
	pcodes = lang_codes(s, w, "PlatformLangCodes", &pc_scratch);
	lcodes = lang_codes(s, w, "LangCodes", &lc_scratch);
	if (pcodes == NULL || lcodes == NULL)
		return false;
	if (codes) {
		/* New codes: re-derive Lang from PlatformLang, else the reverse. */
		from = global_var(s, u"PlatformLang", 12);
		*to_platform = from == NULL;
		if (from == NULL && (from = global_var(s, u"Lang", 4)) == NULL)
			return false;
		value = from->data;
		value_size = from->data_size;
	} else {
		*to_platform = vv_store_name_is(req, "Lang");
		value = w->payload;
		value_size = (size_t)w->payload_size;
	}
	if (*to_platform)
		return vv_lang_companion(true, value, value_size, lcodes->data, lcodes->data_size,
					 pcodes->data, pcodes->data_size, out, out_size);
	return vv_lang_companion(false, value, value_size, pcodes->data, pcodes->data_size,
				 lcodes->data, lcodes->data_size, out, out_size);
}

/* The companion write gets the checks the caller's own write of it would
 * (rows 13-17, after EndOfDxe): for the host owner, the size, attribute
 * and format rules, without read-only flags and policy locks. */
static vv_status
lang_companion_allowed(struct vv_store *s, const struct vv_set_request *req,
		       const struct lang_sync *ls, const char *value, size_t size,
		       const struct vv_variable *old)
{
	struct vv_set_request creq = { ls->name, ls->name_len, VV_GUID_GLOBAL_VARIABLE,
				       LANG_ATTRIBUTES, (const uint8_t *)value, size, req->caller };
	struct vv_write cw;
	vv_status st;

	if (!s->end_of_dxe)
		return VV_EFI_SUCCESS;
	memset(&cw, 0, sizeof(cw));
	cw.req = &creq;
	cw.existing = old;
	cw.payload = (const uint8_t *)value;
	cw.payload_size = size;
	st = vv_store_check_varcheck(s, &cw);
	free(cw.owned);
	return st;
}

/* Writes the companion (row 20) before the write itself, as edk2 does;
 * its refusal or failure is the request's status. */
vv_status
vv_store_lang_sync_begin(struct vv_store *s, const struct vv_write *w, struct lang_sync *ls)
{
	char value[VV_LANG_MAX];
	size_t size;
	bool to_platform;
	const struct vv_variable *old;
	vv_status st;

	memset(ls, 0, sizeof(*ls));
	if (!lang_companion_for(s, w, value, &size, &to_platform))
		return VV_EFI_SUCCESS;
	ls->name = (const uint16_t *)(to_platform ? u"PlatformLang" : u"Lang");
	ls->name_len = to_platform ? 12 : 4;
	old = vv_store_table_find(s, ls->name, ls->name_len, &VV_GUID_GLOBAL_VARIABLE);
	if (old != NULL && old->attributes != LANG_ATTRIBUTES)
		return VV_EFI_SUCCESS;          /* not ours to rewrite: left alone */
	if (old != NULL && old->data_size == size && memcmp(old->data, value, size) == 0)
		return VV_EFI_SUCCESS;          /* already in sync: no write (row 27) */
	st = lang_companion_allowed(s, w->req, ls, value, size, old);
	if (st != VV_EFI_SUCCESS)
		return st;
	if (old != NULL) {
		ls->old_data = malloc(old->data_size ? old->data_size : 1);
		if (ls->old_data == NULL)
			return VV_EFI_OUT_OF_RESOURCES;
		memcpy(ls->old_data, old->data, old->data_size);
		ls->existed = true;
		ls->old_attributes = old->attributes;
		ls->old_size = old->data_size;
		ls->old_has_time = old->has_time;
		ls->old_time = old->time;
	}
	st = vv_store_put(s, ls->name, ls->name_len, &VV_GUID_GLOBAL_VARIABLE, LANG_ATTRIBUTES,
			  value, size, NULL);
	if (st != VV_EFI_SUCCESS) {
		free(ls->old_data);
		ls->old_data = NULL;
		return st;
	}
	ls->written = true;
	return VV_EFI_SUCCESS;
}

/* The write that caused the companion failed: put the companion back.  If
 * even that cannot be saved, the failure is in io_error and the store
 * matches the disk (vv_store_put undoes in memory what it cannot save). */
void
vv_store_lang_sync_undo(struct vv_store *s, struct lang_sync *ls)
{
	if (!ls->written)
		return;
	if (ls->existed)
		(void)vv_store_put(s, ls->name, ls->name_len, &VV_GUID_GLOBAL_VARIABLE,
				   ls->old_attributes, ls->old_data, ls->old_size,
				   ls->old_has_time ? &ls->old_time : NULL);
	else
		(void)vv_store_put(s, ls->name, ls->name_len, &VV_GUID_GLOBAL_VARIABLE, 0, NULL, 0,
				   NULL);
	ls->written = false;
}
