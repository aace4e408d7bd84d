/*
 * src/format/json_v2_internal.h -- one JSON v2 variable object on its own,
 * for the journal backend (src/backend/journal_backend.c), whose records
 * reuse the variable encoding of the store file (device-abi §12) so that
 * a record and a snapshot entry can never disagree on what a field means.
 * Not public API.
 */
#ifndef VMVARS_JSON_V2_INTERNAL_H
#define VMVARS_JSON_V2_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include <vmvars/store.h>

/*
 * Parses text (len bytes, no NUL) as exactly one strict JSON value, as the
 * store file parser does.  NULL with err ("origin: JSON syntax error at
 * byte N: ...") on failure; the caller json_object_put()s the result.
 */
struct json_object *vv_json_v2_tokenize(const char *text, size_t len, const char *origin,
					struct vv_error *err);

/*
 * Converts one variable object with the store file's rules (same checks,
 * same messages, "origin: field: what").  extra_key names one more key the
 * caller handles itself (it is skipped), or NULL.  key_only: the object
 * holds exactly guid and name (a delete record); anything else is refused.
 * On 0, v->name and v->data (NULL when key_only) are malloc'd for the
 * caller; on -1 nothing is left allocated.
 */
int vv_json_v2_var_from_object(struct json_object *obj, const char *origin,
			       const char *extra_key, bool key_only, struct vv_variable *v,
			       struct vv_error *err);

/*
 * prefix + the members of v in the store file's order and encoding (guid,
 * name; with !key_only also attr, data, time, digest), compact on one line
 * (a name's control characters are escaped, so the result holds no
 * newline), + suffix.  malloc'd, NUL-terminated, *len set; NULL on
 * allocation failure.
 */
char *vv_json_v2_var_members(const char *prefix, const struct vv_variable *v, bool key_only,
			     const char *suffix, size_t *len);

#endif
