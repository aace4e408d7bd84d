/*
 * src/format/json_v2.c -- the JSON v2 variable-store format (vmvars/json_v2.h;
 * device-abi §12, varstore-formats §3).
 *
 * Reading is strict where QEMU is strict (unknown keys, wrong types: §12
 * "Writing and loading rules") and stricter where QEMU is lax (bad hex, a
 * `time` of the wrong length, sizes, duplicates), because a store file is
 * input we did not write.  It accepts every dialect of formats §3.2: keys
 * in any order, `time` or python-uefivars' `timestamp`, a `digest`, upper-
 * or lowercase hex, and python-uefivars' version-1 files (a bare array of
 * variables, §3.2 row 3).  Every error names the origin, the variable
 * index and the field: "vars.json: variables[3].data: odd number of hex
 * digits".
 *
 * Writing follows QEMU (§12): only NV variables, in store order, keys in the
 * order guid, name, attr, data, time, digest; `time` only for AT variables
 * (attribute 0x20), `digest` only when there is one; lowercase hex.
 *
 * Invariant kept for serialize -> parse being the identity on NV variables:
 * a `time` read for a variable without AT is not kept (it would not be
 * written back), and an empty `digest` is the same as none.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <vmvars/json_v2.h>
#include <vmvars/ucs2.h>

#include "format/json_v2_internal.h"

#define JSON_V2_VERSION 2

/* Where an error is: the origin and, once inside a variable, its index.
 * A single object (a journal record, json_v2_internal.h) has no index:
 * messages then read "origin: field: what". */
struct json_where {
	const char *origin;
	size_t index;
	struct vv_error *err;
	bool single;                /* one object, not variables[index] */
	const char *extra_key;      /* a key the caller handles ("op"), or NULL */
	bool key_only;              /* only guid and name (a delete record) */
};

static int
field_error(const struct json_where *w, const char *field, const char *what)
{
	if (w->single)
		return vv_error_set(w->err, "%s: %s: %s", w->origin, field, what);
	return vv_error_set(w->err, "%s: variables[%zu].%s: %s", w->origin, w->index, field,
			    what);
}

/* An error about the variable object as a whole. */
static int
object_error(const struct json_where *w, const char *what)
{
	if (w->single)
		return vv_error_set(w->err, "%s: %s", w->origin, what);
	return vv_error_set(w->err, "%s: variables[%zu]: %s", w->origin, w->index, what);
}

static bool
is_json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool
all_space(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_json_space(text[i]))
			return false;
	return true;
}

/*
 * Decodes hex text of len characters into out (len / 2 bytes).  Returns
 * 0, or -1 with the reason in err (prefixed by the caller's field).
 */
static int
hex_decode(const struct json_where *w, const char *field, const char *text, size_t len,
	   uint8_t *out)
{
	char why[64];

	if (len % 2 != 0)
		return field_error(w, field, "odd number of hex digits");
	for (size_t i = 0; i < len; i += 2) {
		int hi = vv_hex_digit(text[i]), lo = vv_hex_digit(text[i + 1]);

		if (hi < 0 || lo < 0) {
			snprintf(why, sizeof(why), "not a hex digit at position %zu",
				 hi < 0 ? i : i + 1);
			return field_error(w, field, why);
		}
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* The string value of a member, or NULL with an error if it is not one. */
static const char *
string_member(const struct json_where *w, const char *field, struct json_object *o,
	      size_t *len)
{
	int n;

	if (!json_object_is_type(o, json_type_string)) {
		field_error(w, field, "must be a string");
		return NULL;
	}
	n = json_object_get_string_len(o);
	*len = n < 0 ? 0 : (size_t)n;
	return json_object_get_string(o);
}

/* The members of one variable object, before conversion. */
struct json_var_members {
	/* NULL for an absent member and for a JSON null: seen tells which. */
	struct json_object *guid, *name, *attr, *data, *time, *digest;
	unsigned seen;              /* bit per member, MEMBER_* */
	const char *time_key;       /* "time" or "timestamp" */
};

enum {
	MEMBER_GUID = 1u << 0,
	MEMBER_NAME = 1u << 1,
	MEMBER_ATTR = 1u << 2,
	MEMBER_DATA = 1u << 3,
	MEMBER_TIME = 1u << 4,
	MEMBER_DIGEST = 1u << 5,
};

/* Sorts the keys of a variable object; refuses unknown keys and both
 * spellings of the time.  (json-c keeps the last of two equal keys.) */
static int
collect_members(const struct json_where *w, struct json_object *obj,
		struct json_var_members *m)
{
	char why[160];

	memset(m, 0, sizeof(*m));
	json_object_object_foreach(obj, key, val) {
		struct json_object **slot;
		unsigned bit;

		if (strcmp(key, "guid") == 0) {
			slot = &m->guid;
			bit = MEMBER_GUID;
		} else if (strcmp(key, "name") == 0) {
			slot = &m->name;
			bit = MEMBER_NAME;
		} else if (strcmp(key, "attr") == 0) {
			slot = &m->attr;
			bit = MEMBER_ATTR;
		} else if (strcmp(key, "data") == 0) {
			slot = &m->data;
			bit = MEMBER_DATA;
		} else if (strcmp(key, "digest") == 0) {
			slot = &m->digest;
			bit = MEMBER_DIGEST;
		} else if (strcmp(key, "time") == 0 || strcmp(key, "timestamp") == 0) {
			/* QEMU and virt-firmware say `time`, python-uefivars
			 * `timestamp` (formats §3.2); one of them at most. */
			if (m->time_key != NULL)
				return object_error(w, "both \"time\" and \"timestamp\"");
			m->time_key = strcmp(key, "time") == 0 ? "time" : "timestamp";
			slot = &m->time;
			bit = MEMBER_TIME;
		} else if (w->extra_key != NULL && strcmp(key, w->extra_key) == 0) {
			continue;
		} else {
			/* QEMU refuses unknown keys too (device-abi §12). */
			snprintf(why, sizeof(why), "unknown key \"%.100s\"", key);
			return object_error(w, why);
		}
		if (w->key_only && bit != MEMBER_GUID && bit != MEMBER_NAME) {
			snprintf(why, sizeof(why), "unexpected key \"%.100s\"", key);
			return object_error(w, why);
		}
		*slot = val;
		m->seen |= bit;
	}
	if (!(m->seen & MEMBER_GUID))
		return field_error(w, "guid", "missing");
	if (!(m->seen & MEMBER_NAME))
		return field_error(w, "name", "missing");
	if (w->key_only)
		return 0;
	if (!(m->seen & MEMBER_ATTR))
		return field_error(w, "attr", "missing");
	if (!(m->seen & MEMBER_DATA))
		return field_error(w, "data", "missing");
	return 0;
}

static int
parse_guid(const struct json_where *w, struct json_object *o, vv_guid *out)
{
	size_t len;
	const char *text = string_member(w, "guid", o, &len);

	if (text == NULL)
		return -1;
	/* vv_guid_parse stops at a NUL; the length check catches "\u0000". */
	if (len != VV_GUID_TEXT_LEN || vv_guid_parse(text, out) != 0)
		return field_error(w, "guid", "not a GUID (want 8-4-4-4-12 hex digits)");
	return 0;
}

/* attr: a JSON integer 0..0xFFFFFFFF (device-abi §12). */
static int
parse_attr(const struct json_where *w, struct json_object *o, uint32_t *out)
{
	int64_t v;

	if (!json_object_is_type(o, json_type_int))
		return field_error(w, "attr", "must be an integer");
	/* json-c keeps values above INT64_MAX as uint64; get_int64 then
	 * saturates to INT64_MAX, which the range check refuses. */
	v = json_object_get_int64(o);
	if (v < 0 || v > (int64_t)UINT32_MAX)
		return field_error(w, "attr", "out of range 0..0xffffffff");
	*out = (uint32_t)v;
	return 0;
}

/* name: UTF-8 text -> UCS-2 (vmvars/ucs2.h); malloc'd into v->name. */
static int
parse_name(const struct json_where *w, struct json_object *o, struct vv_variable *v)
{
	size_t len;
	const char *text = string_member(w, "name", o, &len);

	if (text == NULL)
		return -1;
	if (len == 0)
		return field_error(w, "name", "empty");
	v->name = vv_ucs2_from_utf8(text, len, &v->name_len);
	if (v->name == NULL)
		return field_error(w, "name", "not representable in UCS-2 (invalid UTF-8, "
				   "NUL, surrogate or character above U+FFFF)");
	return 0;
}

/* data: even-length hex of the value; malloc'd into v->data. */
static int
parse_data(const struct json_where *w, struct json_object *o, struct vv_variable *v)
{
	size_t len;
	const char *text = string_member(w, "data", o, &len);

	if (text == NULL)
		return -1;
	/* len / 2 + 1 cannot overflow; the + 1 keeps malloc(0) out. */
	v->data = malloc(len / 2 + 1);
	if (v->data == NULL)
		return field_error(w, "data", "out of memory");
	if (hex_decode(w, "data", text, len, v->data) != 0)
		return -1;
	v->data_size = len / 2;
	return 0;
}

/* time: exactly 32 hex digits = EFI_TIME in memory order (device-abi §12,
 * §10.1). */
static int
parse_time(const struct json_where *w, const char *key, struct json_object *o,
	   struct vv_variable *v)
{
	size_t len;
	const char *text = string_member(w, key, o, &len);

	if (text == NULL)
		return -1;
	if (len != 2 * sizeof(v->time.b))
		return field_error(w, key, "must be 32 hex digits (16-byte EFI_TIME)");
	if (hex_decode(w, key, text, len, v->time.b) != 0)
		return -1;
	v->has_time = true;
	return 0;
}

/* digest: opaque hex, at most 64 bytes (formats §3.1). */
static int
parse_digest(const struct json_where *w, struct json_object *o, struct vv_variable *v)
{
	size_t len;
	const char *text = string_member(w, "digest", o, &len);

	if (text == NULL)
		return -1;
	if (len > 2 * sizeof(v->digest))
		return field_error(w, "digest", "longer than 64 bytes");
	if (hex_decode(w, "digest", text, len, v->digest) != 0)
		return -1;
	v->digest_size = len / 2;
	return 0;
}

/* Converts the members into v (name and data malloc'd; caller frees). */
static int
convert_variable(const struct json_where *w, const struct json_var_members *m,
		 struct vv_variable *v)
{
	if (parse_guid(w, m->guid, &v->guid) != 0 || parse_name(w, m->name, v) != 0 ||
	    parse_attr(w, m->attr, &v->attributes) != 0 || parse_data(w, m->data, v) != 0)
		return -1;
	if ((m->seen & MEMBER_TIME) && parse_time(w, m->time_key, m->time, v) != 0)
		return -1;
	if ((m->seen & MEMBER_DIGEST) && parse_digest(w, m->digest, v) != 0)
		return -1;
	/* Only AT variables carry a time (device-abi §12: QEMU writes it only
	 * for 0x20); keeping one elsewhere would not survive a rewrite. */
	if (!(v->attributes & VV_ATTR_AT))
		v->has_time = false;
	return 0;
}

int
vv_json_v2_var_from_object(struct json_object *obj, const char *origin, const char *extra_key,
			   bool key_only, struct vv_variable *v, struct vv_error *err)
{
	struct json_where w = { origin, 0, err, true, extra_key, key_only };
	struct json_var_members m;

	memset(v, 0, sizeof(*v));
	if (!json_object_is_type(obj, json_type_object))
		return vv_error_set(err, "%s: not an object", origin);
	if (collect_members(&w, obj, &m) != 0)
		return -1;
	if (key_only) {
		if (parse_guid(&w, m.guid, &v->guid) == 0 && parse_name(&w, m.name, v) == 0)
			return 0;
	} else if (convert_variable(&w, &m, v) == 0) {
		return 0;
	}
	free(v->name);
	free(v->data);
	v->name = NULL;
	v->data = NULL;
	return -1;
}

static int
load_variable(struct vv_store *s, const struct json_where *w, struct json_object *obj)
{
	struct json_var_members m;
	struct vv_variable v;
	int rc = -1;

	if (!json_object_is_type(obj, json_type_object))
		return vv_error_set(w->err, "%s: variables[%zu]: not an object", w->origin,
				    w->index);
	if (collect_members(w, obj, &m) != 0)
		return -1;
	memset(&v, 0, sizeof(v));
	if (convert_variable(w, &m, &v) != 0)
		goto out;
	if (vv_store_insert_loaded(s, &v, w->err) != 0) {
		/* The store names the rule; we name the variable. */
		vv_error_prefix(w->err, "%s: variables[%zu] (%.100s)", w->origin, w->index,
				json_object_get_string(m.name));
		goto out;
	}
	rc = 0;
out:
	free(v.name);
	free(v.data);
	return rc;
}

static int
load_variables(struct vv_store *s, const char *origin, struct json_object *array,
	       struct vv_error *err)
{
	struct json_where w = { origin, 0, err, false, NULL, false };
	size_t n = json_object_array_length(array);

	for (w.index = 0; w.index < n; w.index++)
		if (load_variable(s, &w, json_object_array_get_idx(array, w.index)) != 0)
			return -1;
	return 0;
}

/* The top-level object: exactly "version" (2) and "variables" (§12). */
static int
load_document(struct vv_store *s, const char *origin, struct json_object *root,
	      struct vv_error *err)
{
	struct json_object *version = NULL, *variables = NULL;
	bool has_version = false, has_variables = false;
	int64_t v;

	/* python-uefivars version 1: a bare array of variables (formats §3.2). */
	if (json_object_is_type(root, json_type_array))
		return load_variables(s, origin, root, err);
	if (!json_object_is_type(root, json_type_object))
		return vv_error_set(err, "%s: top level is not an object", origin);

	json_object_object_foreach(root, key, val) {
		if (strcmp(key, "version") == 0) {
			version = val;
			has_version = true;
		} else if (strcmp(key, "variables") == 0) {
			variables = val;
			has_variables = true;
		} else {
			return vv_error_set(err, "%s: unknown key \"%.100s\"", origin, key);
		}
	}
	if (!has_version)
		return vv_error_set(err, "%s: version: missing", origin);
	if (!json_object_is_type(version, json_type_int))
		return vv_error_set(err, "%s: version: must be an integer", origin);
	v = json_object_get_int64(version);
	if (v != JSON_V2_VERSION)
		return vv_error_set(err, "%s: version: %lld is not supported (want 2)", origin,
				    (long long)v);
	if (!has_variables)
		return vv_error_set(err, "%s: variables: missing", origin);
	if (!json_object_is_type(variables, json_type_array))
		return vv_error_set(err, "%s: variables: must be an array", origin);
	return load_variables(s, origin, variables, err);
}

/* Parses the whole text as one JSON value; NULL with err on a syntax error. */
struct json_object *
vv_json_v2_tokenize(const char *text, size_t len, const char *origin, struct vv_error *err)
{
	struct json_tokener *tok;
	struct json_object *root;
	enum json_tokener_error jerr;
	size_t end;
	const char *nul = memchr(text, '\0', len);

	/* json-c would stop at a NUL; a store file never holds one. */
	if (nul != NULL) {
		vv_error_set(err, "%s: JSON syntax error at byte %zu: NUL byte", origin,
			     (size_t)(nul - text));
		return NULL;
	}
	if (len > INT_MAX) {
		vv_error_set(err, "%s: %zu bytes is too large", origin, len);
		return NULL;
	}
	tok = json_tokener_new();
	if (tok == NULL) {
		vv_error_set(err, "%s: out of memory", origin);
		return NULL;
	}
	/* Strict: standard JSON only, nothing after the value but space;
	 * strings must be UTF-8. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (root == NULL && jerr == json_tokener_continue) {
		/* A top-level literal or number may still grow: a NUL tells
		 * json-c the input has ended.  Anything else is truncated. */
		root = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		if (jerr != json_tokener_success)
			jerr = json_tokener_continue;
		end = len;
	}
	if (root == NULL && jerr == json_tokener_success) {
		/* a bare `null`: json-c's value for it is NULL */
		vv_error_set(err, "%s: top level is not an object", origin);
	} else if (root == NULL || jerr != json_tokener_success) {
		const char *what = jerr == json_tokener_continue
			? "unexpected end of input" : json_tokener_error_desc(jerr);

		vv_error_set(err, "%s: JSON syntax error at byte %zu: %s", origin, end, what);
		json_object_put(root);
		root = NULL;
	} else if (!all_space(text + end, len - end)) {
		vv_error_set(err, "%s: JSON syntax error at byte %zu: trailing characters",
			     origin, end);
		json_object_put(root);
		root = NULL;
	}
	json_tokener_free(tok);
	return root;
}

int
vv_json_v2_parse(struct vv_store *s, const char *text, size_t len, const char *origin,
		 struct vv_error *err)
{
	struct json_object *root;
	int rc;

	if (origin == NULL)
		origin = "<json>";
	/* A 0-byte file is an empty store (device-abi §12); so is a blank one. */
	if (len == 0 || all_space(text, len))
		return 0;
	root = vv_json_v2_tokenize(text, len, origin, err);
	if (root == NULL)
		return -1;
	rc = load_document(s, origin, root, err);
	json_object_put(root);
	return rc;
}

/* ---- writing ---- */

/*
 * The output is laid out like QEMU's qobject_to_json_pretty (device-abi
 * §12): 4-space indent, "key": value, one member per line.  The structure
 * is fixed, so it is written directly; json-c only escapes the names.
 */
struct out_buf {
	char *p;
	size_t len, cap;
	bool failed;                /* an allocation failed: p is garbage */
	bool compact;               /* one line, no spaces (journal records) */
};

static void
out_append(struct out_buf *o, const char *text, size_t n)
{
	char *bigger;
	size_t cap;

	if (o->failed)
		return;
	if (n > SIZE_MAX - 1 - o->len) {
		o->failed = true;
		return;
	}
	if (o->len + n + 1 > o->cap) {
		cap = o->cap ? o->cap : 4096;
		while (cap < o->len + n + 1)
			cap = cap > SIZE_MAX / 2 ? o->len + n + 1 : cap * 2;
		bigger = realloc(o->p, cap);
		if (bigger == NULL) {
			o->failed = true;
			return;
		}
		o->p = bigger;
		o->cap = cap;
	}
	memcpy(o->p + o->len, text, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void
out_str(struct out_buf *o, const char *text)
{
	out_append(o, text, strlen(text));
}

/* Appends `"key": "<lowercase hex>"`. */
static void
out_hex_member(struct out_buf *o, const char *key, const uint8_t *bytes, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char pair[2];

	out_str(o, o->compact ? ",\"" : ",\n            \"");
	out_str(o, key);
	out_str(o, o->compact ? "\":\"" : "\": \"");
	for (size_t i = 0; i < n; i++) {
		pair[0] = digits[bytes[i] >> 4];
		pair[1] = digits[bytes[i] & 0xf];
		out_append(o, pair, 2);
	}
	out_str(o, "\"");
}

/* Appends the name as a JSON string (UTF-8, escaped by json-c). */
static void
out_name(struct out_buf *o, const struct vv_variable *v)
{
	/* The store holds only valid names, so NULL means out of memory. */
	char *utf8 = vv_ucs2_to_utf8(v->name, v->name_len);
	struct json_object *str = utf8 != NULL ? json_object_new_string(utf8) : NULL;
	const char *quoted = str != NULL
		? json_object_to_json_string_ext(str, JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;

	if (quoted == NULL)
		o->failed = true;
	else
		out_str(o, quoted);
	json_object_put(str);
	free(utf8);
}

/* The members guid and name (pretty or compact). */
static void
out_key_members(struct out_buf *o, const struct vv_variable *v)
{
	char guid[VV_GUID_TEXT_LEN + 1];

	vv_guid_format(&v->guid, guid);
	out_str(o, o->compact ? "\"guid\":\"" : "\"guid\": \"");
	out_str(o, guid);
	out_str(o, o->compact ? "\",\"name\":" : "\",\n            \"name\": ");
	out_name(o, v);
}

/* The members after guid and name: attr, data, time, digest. */
static void
out_value_members(struct out_buf *o, const struct vv_variable *v)
{
	char attr[32];

	snprintf(attr, sizeof(attr), o->compact ? ",\"attr\":%" PRIu32
		 : ",\n            \"attr\": %" PRIu32, v->attributes);
	out_str(o, attr);
	out_hex_member(o, "data", v->data, v->data_size);
	/* `time` only for AT variables (device-abi §12). */
	if (v->has_time && (v->attributes & VV_ATTR_AT))
		out_hex_member(o, "time", v->time.b, sizeof(v->time.b));
	if (v->digest_size > 0)
		out_hex_member(o, "digest", v->digest,
			       v->digest_size < sizeof(v->digest) ? v->digest_size
								  : sizeof(v->digest));
}

/* One variable in QEMU's key order guid, name, attr, data, time, digest. */
static void
out_variable(struct out_buf *o, const struct vv_variable *v)
{
	out_str(o, "        {\n            ");
	out_key_members(o, v);
	out_value_members(o, v);
	out_str(o, "\n        }");
}

char *
vv_json_v2_var_members(const char *prefix, const struct vv_variable *v, bool key_only,
		       const char *suffix, size_t *len)
{
	struct out_buf o = { NULL, 0, 0, false, true };

	out_str(&o, prefix);
	out_key_members(&o, v);
	if (!key_only)
		out_value_members(&o, v);
	out_str(&o, suffix);
	if (o.failed) {
		free(o.p);
		return NULL;
	}
	*len = o.len;
	return o.p;
}

char *
vv_json_v2_serialize(const struct vv_store *s, size_t *len)
{
	struct out_buf o = { NULL, 0, 0, false, false };
	const struct vv_variable *v;
	bool first = true;

	out_str(&o, "{\n    \"version\": 2,\n    \"variables\": [");
	/* Only NV variables are persisted, in store order (device-abi §12). */
	for (v = vv_store_first(s); v != NULL; v = vv_store_next(v)) {
		if (!(v->attributes & VV_ATTR_NV))
			continue;
		out_str(&o, first ? "\n" : ",\n");
		out_variable(&o, v);
		first = false;
	}
	out_str(&o, first ? "]\n}\n" : "\n    ]\n}\n");
	if (o.failed) {
		free(o.p);
		return NULL;
	}
	if (len != NULL)
		*len = o.len;
	return o.p;
}
