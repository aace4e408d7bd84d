/*
 * vmvars/json_v2.h -- the JSON v2 variable-store format (device-abi §12,
 * varstore-formats §3): QEMU's `jsonfile=`, virt-fw-vars --output-json and
 * python-uefivars.
 *
 *   { "version": 2,
 *     "variables": [ { "guid": "...", "name": "...", "attr": 7,
 *                      "data": "<hex>", "time": "<32 hex>", "digest": "<hex>" } ] }
 *
 * Reading accepts all three dialects: `time` or python-uefivars'
 * `timestamp`, keys in any order, upper- or lowercase hex; it refuses
 * unknown keys, odd-length or non-hex strings, duplicates, invalid names
 * and wrong types, naming the file, the variable index and the field.
 * Names are UTF-8 (non-ASCII round-trips; QEMU itself only keeps ASCII).
 * Writing emits QEMU's key order (guid, name, attr, data, time, digest),
 * lowercase hex, only NV variables, `time` only for AT variables.
 */
#ifndef VMVARS_JSON_V2_H
#define VMVARS_JSON_V2_H

#include <vmvars/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Adds the variables of a JSON v2 document to s (via
 * vv_store_insert_loaded).  origin names the source in messages.  An empty
 * (0-byte or all-whitespace) text is an empty store.  0 or -1 with err;
 * on -1 the store may hold some of the variables: callers load into an
 * empty store and discard it (vv_store_load does). */
int vv_json_v2_parse(struct vv_store *s, const char *text, size_t len, const char *origin,
		     struct vv_error *err);

/* Serialises the NV variables of s; malloc'd, NUL-terminated, *len set.
 * NULL on allocation failure. */
char *vv_json_v2_serialize(const struct vv_store *s, size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_JSON_V2_H */
