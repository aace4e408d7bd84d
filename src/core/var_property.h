/*
 * src/core/var_property.h -- the table of VarCheck properties registered at
 * run time (SMM function 9, and the service's own status variables).
 */
#ifndef VMVARS_VAR_PROPERTY_H
#define VMVARS_VAR_PROPERTY_H

#include <vmvars/store.h>

struct vv_property_table;

struct vv_property_table *vv_property_table_new(void);
void vv_property_table_free(struct vv_property_table *t);
void vv_property_table_clear(struct vv_property_table *t);
/* Adds or replaces; EFI_OUT_OF_RESOURCES when full or out of memory. */
vv_status vv_property_table_set(struct vv_property_table *t, const uint16_t *name, size_t name_len,
				const vv_guid *guid, const struct vv_var_property *p);
/* Calls fn for every registered property, in table order. */
typedef void (*vv_property_fn)(void *ctx, const uint16_t *name, size_t name_len,
			       const vv_guid *guid, const struct vv_var_property *p);
void vv_property_table_for_each(const struct vv_property_table *t, vv_property_fn fn, void *ctx);
const struct vv_var_property *vv_property_table_get(const struct vv_property_table *t,
						    const uint16_t *name, size_t name_len,
						    const vv_guid *guid);

#endif
