/*
 * src/core/store_quota.c -- the store's limits and accounting: the bytes
 * a variable costs, the per-variable maximum and the capacity of each
 * class (NV, hardware-error records, volatile), what each class has in use,
 * and the volatile reservations (vv_store_reserve).  Invariant 4 of
 * include/vmvars/store.h; the counters themselves are kept by the table
 * as variables come and go.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/backend.h>
#include <vmvars/store.h>
#include <vmvars/ucs2.h>

#include "core/store_impl.h"

void
vv_limits_default(struct vv_limits *l)
{
	l->nv_storage = 262144;
	l->hwerr_storage = 4096;
	l->volatile_storage = 262144;
	l->max_variable_size = 65536;
	l->max_auth_variable_size = 65536;
	l->max_volatile_variable_size = 65536;
	l->max_hwerr_variable_size = 32768;
	l->variable_overhead = 60;
}

/* Bytes a variable occupies in its class (invariant 4). */
uint64_t
vv_store_var_cost(const struct vv_store *s, uint64_t name_size, uint64_t data_size)
{
	/* Cannot overflow: name and data sizes are bounded by the maximum
	 * variable sizes, checked before anything is stored. */
	return s->limits.variable_overhead + name_size + data_size;
}

/* The per-variable maximum (header included) for a set of attributes,
 * edk2 VariableServiceSetVariable (formats §8.2 row 11). */
uint64_t
vv_store_class_max_size(const struct vv_store *s, uint32_t attr)
{
	if (attr & VV_ATTR_HR)
		return s->limits.max_hwerr_variable_size;
	if (attr & (VV_ATTR_AT | VV_ATTR_AW))
		return s->limits.max_auth_variable_size;
	if (attr & VV_ATTR_NV)
		return s->limits.max_variable_size;
	return s->limits.max_volatile_variable_size;
}

uint64_t *
vv_store_class_used(struct vv_store *s, uint32_t attr)
{
	if (!(attr & VV_ATTR_NV))
		return &s->tab.used_volatile;
	return (attr & VV_ATTR_HR) ? &s->tab.used_hwerr : &s->tab.used_nv;
}

/* Capacity of the class; the volatile class also holds reservations. */
uint64_t
vv_store_class_capacity(const struct vv_store *s, uint32_t attr)
{
	if (!(attr & VV_ATTR_NV))
		return s->limits.volatile_storage;
	if (attr & VV_ATTR_HR)
		return s->limits.hwerr_storage;
	return s->limits.nv_storage - s->limits.hwerr_storage;
}

uint64_t
vv_store_class_in_use(const struct vv_store *s, uint32_t attr)
{
	if (!(attr & VV_ATTR_NV))
		return s->tab.used_volatile + s->reserved;
	return (attr & VV_ATTR_HR) ? s->tab.used_hwerr : s->tab.used_nv;
}

/* True if the class can take `add` more bytes once `release` is freed. */
bool
vv_store_class_has_room(const struct vv_store *s, uint32_t attr, uint64_t add, uint64_t release)
{
	uint64_t in_use = vv_store_class_in_use(s, attr) - release;
	uint64_t total;

	if (vv_add_overflow(in_use, add, &total))
		return false;
	return total <= vv_store_class_capacity(s, attr);
}

vv_status
vv_store_reserve(struct vv_store *s, uint64_t bytes)
{
	if (!vv_store_class_has_room(s, 0, bytes, 0))
		return VV_EFI_OUT_OF_RESOURCES;
	s->reserved += bytes;
	s->state_changes++;
	return VV_EFI_SUCCESS;
}

void
vv_store_release(struct vv_store *s, uint64_t bytes)
{
	s->reserved = bytes > s->reserved ? 0 : s->reserved - bytes;
	s->state_changes++;
}
