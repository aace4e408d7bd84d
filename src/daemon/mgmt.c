/*
 * src/daemon/mgmt.c -- the management API on the second socket
 * (docs/management.md): one JSON object per line in, one per line out, in
 * order.  Every variable operation runs as VV_CALLER_HOST, so it obeys the
 * store's structural rules and quotas but not read-only flags or policy
 * locks (vmvars/store.h "Who asks").
 *
 * A line that is not a JSON object, an unknown command or a bad argument
 * gets {"ok":false,"error":...} and the connection stays open; here only a
 * line longer than the buffer (1 MiB) ends the connection (server.c also
 * ends one for a line left incomplete, or replies left unread, too long).
 *
 * A connection gets a bounded share of each loop turn (daemon.h
 * MGMT_LINES_PER_TURN, MGMT_OUT_MAX; server.c runs the turns): a client
 * that writes a megabyte of requests at once must not hold up the guest's
 * variable calls, nor make the daemon queue all the replies.
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/sha.h>  /* SHA256_DIGEST_LENGTH */

#include <vmvars/json_v2.h>
#include <vmvars/vmm_protocol.h>

#include "core/store_state.h"
#include "daemon.h"
#include "format/json_v2_internal.h"

struct request {
	struct vm *vm;
	struct json_object *in;
	struct json_object *out;
	bool *quit;
};

/* ---- replies ---- */

static int
fail(struct request *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(struct request *r, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	json_object_object_add(r->out, "ok", json_object_new_boolean(0));
	json_object_object_add(r->out, "error", json_object_new_string(text));
	r->vm->mgmt_errors++;
	return -1;
}

/*
 * An EFI status result: ok is whether it is EFI_SUCCESS.  A failure's
 * "error" is a sentence: the status and why -- the store's reason for a
 * refused write (vv_store_last_refusal: the rule, policy or limit), also
 * alone in "reason", or the I/O error behind EFI_DEVICE_ERROR.
 * explain is false for results that are not a store write (the store's
 * last reason would be another request's).
 */
static int
status_reply_why(struct request *r, vv_status st, bool explain)
{
	json_object_object_add(r->out, "ok", json_object_new_boolean(st == VV_EFI_SUCCESS));
	json_object_object_add(r->out, "status", json_object_new_string(vv_status_name(st)));
	if (st != VV_EFI_SUCCESS) {
		const char *io = vv_store_last_io_error(r->vm->store);
		const char *why = explain ? vv_store_last_refusal(r->vm->store) : "";
		char text[700];

		if (st == VV_EFI_DEVICE_ERROR && io[0])
			why = io;
		if (why[0] != '\0') {
			snprintf(text, sizeof(text), "%s: %s", vv_status_name(st), why);
			json_object_object_add(r->out, "reason", json_object_new_string(why));
		} else {
			snprintf(text, sizeof(text), "%s", vv_status_name(st));
		}
		json_object_object_add(r->out, "error", json_object_new_string(text));
		r->vm->mgmt_errors++;
	}
	return 0;
}

static int
status_reply(struct request *r, vv_status st)
{
	return status_reply_why(r, st, false);
}

static void
add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

/* ---- arguments ---- */

static const char *
arg_string(struct request *r, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(r->in, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int
hex_value(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Hex or base64 text to bytes (malloc'd, *size set); NULL on bad text. */
static uint8_t *
decode_hex(const char *text, size_t *size)
{
	size_t len = strlen(text);
	uint8_t *out;

	if (len % 2 != 0)
		return NULL;
	out = malloc(len / 2 + 1);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += 2) {
		int hi = hex_value((unsigned char)text[i]), lo = hex_value((unsigned char)text[i + 1]);

		if (hi < 0 || lo < 0) {
			free(out);
			return NULL;
		}
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	*size = len / 2;
	return out;
}

static uint8_t *
decode_base64(const char *text, size_t *size)
{
	size_t len = strlen(text), pad = 0;
	uint8_t *out;
	int n;

	if (len % 4 != 0 || len > INT32_MAX)
		return NULL;
	out = malloc(len / 4 * 3 + 1);
	if (out == NULL)
		return NULL;
	n = EVP_DecodeBlock(out, (const unsigned char *)text, (int)len);
	if (n < 0) {
		free(out);
		return NULL;
	}
	/* EVP_DecodeBlock counts the bytes the '=' padding stands for. */
	while (pad < 2 && len > pad && text[len - 1 - pad] == '=')
		pad++;
	*size = (size_t)n - pad;
	return out;
}

/*
 * The bytes of argument `<key>` (hex) or `<key>_base64`.  1 with *data set
 * (malloc'd, maybe 0 bytes), 0 if neither is present, -1 on bad text.
 */
static int
arg_bytes(struct request *r, const char *key, uint8_t **data, size_t *size)
{
	char b64key[64];
	const char *text;

	snprintf(b64key, sizeof(b64key), "%s_base64", key);
	if ((text = arg_string(r, key)) != NULL)
		*data = decode_hex(text, size);
	else if ((text = arg_string(r, b64key)) != NULL)
		*data = decode_base64(text, size);
	else
		return 0;
	return *data != NULL ? 1 : -1;
}

static void
add_hex(struct json_object *o, const char *key, const uint8_t *data, size_t size)
{
	static const char digits[] = "0123456789abcdef";
	char *text = malloc(size * 2 + 1);

	if (text == NULL)
		return;
	for (size_t i = 0; i < size; i++) {
		text[2 * i] = digits[data[i] >> 4];
		text[2 * i + 1] = digits[data[i] & 15];
	}
	text[size * 2] = '\0';
	json_object_object_add(o, key, json_object_new_string(text));
	free(text);
}

/* "NV|BS|RT" (names of vv_attr_format) or a number. */
static int
arg_attributes(struct request *r, uint32_t *attr)
{
	static const struct { const char *name; uint32_t bit; } names[] = {
		{ "NV", VV_ATTR_NV }, { "BS", VV_ATTR_BS }, { "RT", VV_ATTR_RT },
		{ "HR", VV_ATTR_HR }, { "AT", VV_ATTR_AT }, { "APPEND", VV_ATTR_APPEND },
	};
	struct json_object *v;
	char buf[128], *save = NULL;

	if (!json_object_object_get_ex(r->in, "attributes", &v))
		return -1;
	if (json_object_is_type(v, json_type_int)) {
		int64_t n = json_object_get_int64(v);

		if (n < 0 || n > UINT32_MAX)
			return -1;
		*attr = (uint32_t)n;
		return 0;
	}
	if (!json_object_is_type(v, json_type_string) ||
	    snprintf(buf, sizeof(buf), "%s", json_object_get_string(v)) >= (int)sizeof(buf))
		return -1;
	*attr = 0;
	for (char *tok = strtok_r(buf, "|", &save); tok != NULL; tok = strtok_r(NULL, "|", &save)) {
		unsigned i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strcmp(tok, names[i].name) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return -1;
		*attr |= names[i].bit;
	}
	return 0;
}

/* The variable named by "name" (UTF-8) and "guid".  0 or -1 (reply set). */
static int
arg_variable(struct request *r, uint16_t **name, size_t *len, vv_guid *guid)
{
	const char *text = arg_string(r, "name"), *gtext = arg_string(r, "guid");

	if (text == NULL || gtext == NULL)
		return fail(r, "\"name\" and \"guid\" (strings) are required");
	if (vv_guid_parse_name(gtext, guid) != 0)
		return fail(r, "\"guid\" is neither a GUID nor a namespace name the command line "
			    "knows (global, security, shim, ms, ...)");
	*name = vv_ucs2_from_utf8(text, strlen(text), len);
	if (*name == NULL || *len == 0) {
		free(*name);
		return fail(r, "\"name\" is not a non-empty UCS-2 name");
	}
	return 0;
}

/* ---- commands ---- */

static void
describe(struct json_object *o, const struct vv_variable *v)
{
	char gtext[VV_GUID_TEXT_LEN + 1], atext[64];
	char *name = vv_ucs2_to_utf8(v->name, v->name_len);

	vv_guid_format(&v->guid, gtext);
	json_object_object_add(o, "name", json_object_new_string(name ? name : ""));
	json_object_object_add(o, "guid", json_object_new_string(gtext));
	json_object_object_add(o, "attributes",
			       json_object_new_string(vv_attr_format(v->attributes, atext, sizeof(atext))));
	add_u64(o, "size", v->data_size);
	free(name);
}

static int
cmd_list(struct request *r)
{
	struct json_object *arr = json_object_new_array();

	for (const struct vv_variable *v = vv_store_first(r->vm->store); v != NULL;
	     v = vv_store_next(v)) {
		struct json_object *o = json_object_new_object();

		describe(o, v);
		json_object_array_add(arr, o);
	}
	json_object_object_add(r->out, "ok", json_object_new_boolean(1));
	json_object_object_add(r->out, "variables", arr);
	return 0;
}

static int
cmd_get(struct request *r)
{
	const struct vv_variable *v;
	uint16_t *name;
	size_t len;
	vv_guid guid;

	if (arg_variable(r, &name, &len, &guid) != 0)
		return -1;
	v = vv_store_find(r->vm->store, name, len, &guid);
	free(name);
	if (v == NULL)
		return status_reply(r, VV_EFI_NOT_FOUND);
	json_object_object_add(r->out, "ok", json_object_new_boolean(1));
	describe(r->out, v);
	add_hex(r->out, "data", v->data, v->data_size);
	return 0;
}

static int
cmd_set(struct request *r, bool delete)
{
	struct vv_set_request req = { .caller = VV_CALLER_HOST };
	uint8_t *data = NULL;
	size_t size = 0;
	uint16_t *name;
	vv_status st;

	if (arg_variable(r, &name, &req.name_len, &req.guid) != 0)
		return -1;
	req.name = name;
	if (!delete) {
		if (arg_attributes(r, &req.attributes) != 0) {
			free(name);
			return fail(r, "\"attributes\" (\"NV|BS|RT\" or a number) is required");
		}
		if (arg_bytes(r, "data", &data, &size) != 1) {
			free(name);
			return fail(r, "\"data\" (hex) or \"data_base64\" is required and must decode");
		}
	}
	req.data = data;
	req.data_size = size;
	st = vv_store_set(r->vm->store, &req);
	free(name);
	free(data);
	return status_reply_why(r, st, true);
}

static int
cmd_secureboot(struct request *r)
{
	json_object_object_add(r->out, "ok", json_object_new_boolean(1));
	json_object_object_add(r->out, "mode", json_object_new_string(
	    vv_sb_mode_name(vv_secureboot_mode(r->vm->sb))));
	json_object_object_add(r->out, "enforcing",
			       json_object_new_boolean(vv_secureboot_enforcing(r->vm->sb)));
	return 0;
}

static int
cmd_enroll(struct request *r)
{
	static const struct { const char *name; enum vv_sb_db db; } dbs[] = {
		{ "PK", VV_SB_PK }, { "KEK", VV_SB_KEK }, { "db", VV_SB_DB },
		{ "dbx", VV_SB_DBX }, { "dbt", VV_SB_DBT }, { "dbr", VV_SB_DBR },
	};
	const char *which = arg_string(r, "db");
	struct json_object *app;
	bool append = false;
	uint8_t *esl = NULL;
	size_t size = 0;
	vv_status st;
	unsigned i;

	for (i = 0; which != NULL && i < sizeof(dbs) / sizeof(dbs[0]); i++)
		if (strcmp(which, dbs[i].name) == 0)
			break;
	if (which == NULL || i == sizeof(dbs) / sizeof(dbs[0]))
		return fail(r, "\"db\" must be one of PK, KEK, db, dbx, dbt, dbr");
	if (json_object_object_get_ex(r->in, "append", &app))
		append = json_object_get_boolean(app);
	if (arg_bytes(r, "esl", &esl, &size) != 1)
		return fail(r, "\"esl\" (hex) or \"esl_base64\" is required and must decode");
	st = vv_secureboot_enroll(r->vm->sb, dbs[i].db, esl, size, append);
	free(esl);
	status_reply_why(r, st, true);
	json_object_object_add(r->out, "mode", json_object_new_string(
	    vv_sb_mode_name(vv_secureboot_mode(r->vm->sb))));
	return 0;
}

static int
cmd_set_mode(struct request *r)
{
	static const char *modes[] = { "setup", "user", "audit", "deployed" };
	const char *m = arg_string(r, "mode");

	for (unsigned i = 0; m != NULL && i < 4; i++)
		if (strcasecmp(m, modes[i]) == 0)
			return status_reply(r, vv_secureboot_set_mode(r->vm->sb, (enum vv_sb_mode)i));
	return fail(r, "\"mode\" must be one of setup, user, audit, deployed");
}

static int
cmd_flush(struct request *r)
{
	struct vv_error err = { { 0 } };

	if (vv_store_flush(r->vm->store, &err) != 0)
		return fail(r, "flush failed: %s", err.msg);
	json_object_object_add(r->out, "ok", json_object_new_boolean(1));
	return 0;
}

static int
cmd_stats(struct request *r)
{
	static const char *fn[16] = {
		NULL, "GetVariable", "GetNextVariableName", "SetVariable", "QueryVariableInfo",
		"ReadyToBoot", "ExitBootService", "GetStatistics", "LockVariable",
		"VarCheckPropertySet", "VarCheckPropertyGet", "GetPayloadSize",
		"InitRuntimeCacheContext", "SyncRuntimeCache", "GetRuntimeCacheInfo", NULL,
	};
	const struct vv_mm_stats *s = vv_mm_stats(r->vm->mm);
	struct json_object *by = json_object_new_object(), *d = json_object_new_object();
	const struct vm *vm = r->vm;

	for (unsigned i = 0; i < 16; i++) {
		char other[16];

		if (s->by_function[i] == 0)
			continue;
		snprintf(other, sizeof(other), "function%u", i);
		add_u64(by, fn[i] ? fn[i] : other, s->by_function[i]);
	}
	json_object_object_add(r->out, "ok", json_object_new_boolean(1));
	add_u64(r->out, "requests", s->requests);
	json_object_object_add(r->out, "by_function", by);
	add_u64(r->out, "policy_commands", s->policy_commands);
	add_u64(r->out, "events", s->events);
	add_u64(r->out, "transport_errors", s->transport_errors);
	add_u64(r->out, "efi_errors", s->efi_errors);
	add_u64(r->out, "variables", vv_store_count(vm->store));
	add_u64(d, "vmm_connections", vm->vmm_connections);
	add_u64(d, "vmm_refused", vm->vmm_refused);
	add_u64(d, "vmm_protocol_errors", vm->vmm_protocol_errors);
	add_u64(d, "vmm_bytes_in", vm->vmm_bytes_in);
	add_u64(d, "vmm_bytes_out", vm->vmm_bytes_out);
	add_u64(d, "vm_resets", vm->vm_resets);
	add_u64(d, "mgmt_requests", vm->mgmt_requests);
	add_u64(d, "mgmt_errors", vm->mgmt_errors);
	json_object_object_add(r->out, "daemon", d);
	fleet_stats(r->vm, r->out);
	return 0;
}

/* An optional boolean argument: 0 absent or false, 1 true, -1 not a
 * boolean. */
static int
arg_flag(struct request *r, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(r->in, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return -1;
	return json_object_get_boolean(v) ? 1 : 0;
}

/* save-state: the migration snapshot (docs/migration.md) as base64. */
static int
cmd_save_state(struct request *r)
{
	struct vv_error err = { { 0 } };
	int full = arg_flag(r, "full"), digest = arg_flag(r, "nv_digest");
	uint8_t *snap = NULL;
	size_t size = 0;
	char *text;

	if (full < 0 || digest < 0)
		return fail(r, "\"full\" and \"nv_digest\" must be booleans");
	if (r->vm->needs_reset)
		return fail(r, "the VM needs a reset: %s", r->vm->needs_reset_why);
	if (vm_save_state(r->vm, (full ? VV_SNAPSHOT_FULL : 0) |
			  (digest ? VV_SNAPSHOT_NV_DIGEST : 0), &snap, &size, &err) != 0)
		return fail(r, "%s", err.msg);
	text = malloc(4 * ((size + 2) / 3) + 1);
	if (text == NULL) {
		free(snap);
		return fail(r, "out of memory");
	}
	EVP_EncodeBlock((unsigned char *)text, snap, (int)size);
	free(snap);
	json_object_object_add(r->out, "ok", json_object_new_boolean(1));
	json_object_object_add(r->out, "state_base64", json_object_new_string(text));
	add_u64(r->out, "bytes", size);
	free(text);
	return 0;
}

/* load-state: a snapshot into a VM at power-on. */
static int
cmd_load_state(struct request *r)
{
	struct vv_error err = { { 0 } };
	int full = arg_flag(r, "full");
	uint8_t *snap = NULL;
	size_t size = 0;
	int rc;

	if (full < 0)
		return fail(r, "\"full\" must be a boolean");
	if (arg_bytes(r, "state", &snap, &size) != 1) {
		free(snap);
		return fail(r, "\"state_base64\" (or \"state\", hex) is required and must decode");
	}
	if (size > vm_state_max(r->vm)) {
		free(snap);
		return fail(r, "snapshot of %zu bytes exceeds this daemon's limit %zu", size,
			    vm_state_max(r->vm));
	}
	rc = vm_load_state(r->vm, full ? VV_SNAPSHOT_FULL : 0, snap, size, &err);
	free(snap);
	if (rc == -1)
		return fail(r, "%s", err.msg);
	if (rc != 0)
		return fail(r, "%s", r->vm->needs_reset_why);
	log_info("service state loaded by the management API");
	json_object_object_add(r->out, "ok", json_object_new_boolean(1));
	return 0;
}

static int
cmd_simple(struct request *r, const char *cmd)
{
	if (strcmp(cmd, "reset") == 0) {
		if (vm_reset(r->vm) != 0)
			return fail(r, "%s", r->vm->needs_reset_why);
		log_info("VM reset by the management API");
	} else if (strcmp(cmd, "quit") == 0) {
		log_info("quit requested by the management API");
		*r->quit = true;
	} else {
		json_object_object_add(r->out, "version", json_object_new_string(VMVARS_VERSION));
		json_object_object_add(r->out, "protocol", json_object_new_int(VV_VMM_VERSION));
	}
	json_object_object_add(r->out, "ok", json_object_new_boolean(1));
	return 0;
}

/* ---- dump and batch: the CLI's view of a live store (docs/management.md) ---- */

/* dump: the NV content as a JSON v2 store object (the file format, times
 * and digests included), for a client that edits a copy and sends the
 * difference back as a batch. */
static int
cmd_dump(struct request *r)
{
	struct json_object *store;
	size_t len;
	char *text = vv_json_v2_serialize(r->vm->store, &len);

	if (text == NULL)
		return fail(r, "out of memory");
	store = json_tokener_parse(text);
	free(text);
	if (store == NULL)
		return fail(r, "out of memory");
	json_object_object_add(r->out, "ok", json_object_new_boolean(1));
	json_object_object_add(r->out, "store", store);
	json_object_object_add(r->out, "mode", json_object_new_string(
	    vv_sb_mode_name(vv_secureboot_mode(r->vm->sb))));
	add_u64(r->out, "nv_commits", vv_store_nv_commits(r->vm->store));
	{
		const struct vv_limits *l = vv_store_limits(r->vm->store);
		struct json_object *lim = json_object_new_object();

		add_u64(lim, "nv_storage", l->nv_storage);
		add_u64(lim, "hwerr_storage", l->hwerr_storage);
		add_u64(lim, "volatile_storage", l->volatile_storage);
		add_u64(lim, "max_variable_size", l->max_variable_size);
		add_u64(lim, "max_auth_variable_size", l->max_auth_variable_size);
		add_u64(lim, "max_volatile_variable_size", l->max_volatile_variable_size);
		add_u64(lim, "max_hwerr_variable_size", l->max_hwerr_variable_size);
		add_u64(lim, "variable_overhead", l->variable_overhead);
		json_object_object_add(r->out, "limits", lim);
	}
	return 0;
}

/* SHA-256 of attributes (4 bytes, little-endian) then data, in hex: what
 * "expect" compares (docs/management.md). */
static void
var_fingerprint(const struct vv_variable *v, char out[65])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t md[SHA256_DIGEST_LENGTH], attr[4];
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	attr[0] = (uint8_t)v->attributes;
	attr[1] = (uint8_t)(v->attributes >> 8);
	attr[2] = (uint8_t)(v->attributes >> 16);
	attr[3] = (uint8_t)(v->attributes >> 24);
	memset(md, 0, sizeof(md));  /* out of memory: no match, a refusal */
	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, attr, 4) != 1 || EVP_DigestUpdate(c, v->data, v->data_size) != 1 ||
	    EVP_DigestFinal_ex(c, md, NULL) != 1)
		memset(md, 0, sizeof(md));
	EVP_MD_CTX_free(c);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[64] = '\0';
}

/* One change's "expect": absent (no precondition), "absent", or the
 * variable's fingerprint.  0 if it holds; else -1 with why set. */
static int
check_expect(struct json_object *change, const struct vv_variable *cur, char *why, size_t cap)
{
	struct json_object *e;
	const char *want;
	char have[65];

	if (!json_object_object_get_ex(change, "expect", &e))
		return 0;
	if (!json_object_is_type(e, json_type_string)) {
		snprintf(why, cap, "\"expect\" must be \"absent\" or a SHA-256 in hex");
		return -1;
	}
	want = json_object_get_string(e);
	if (strcmp(want, "absent") == 0) {
		if (cur == NULL)
			return 0;
		snprintf(why, cap, "the variable exists now (it did not when it was read): "
			 "it changed meanwhile; read it again");
		return -1;
	}
	if (strlen(want) != 64) {
		snprintf(why, cap, "\"expect\" must be \"absent\" or a SHA-256 in hex");
		return -1;
	}
	if (cur == NULL) {
		snprintf(why, cap, "the variable no longer exists: it changed since it was read; "
			 "read it again");
		return -1;
	}
	var_fingerprint(cur, have);
	if (strcasecmp(have, want) != 0) {
		snprintf(why, cap, "the variable changed since it was read; read it again");
		return -1;
	}
	return 0;
}

/* What a change names, for its refusal: "put db (d719b2cb-...)". */
static void
change_label(struct json_object *change, const char *op, char *out, size_t cap)
{
	struct json_object *var = change, *n, *g;

	if (strcmp(op, "put") == 0)
		json_object_object_get_ex(change, "var", &var);
	if (var != NULL && json_object_object_get_ex(var, "name", &n) &&
	    json_object_object_get_ex(var, "guid", &g))
		snprintf(out, cap, "%s %.100s (%.40s)", op, json_object_get_string(n),
			 json_object_get_string(g));
	else
		snprintf(out, cap, "%s", op);
}

/*
 * One change of a batch, applied inside the store's open batch.  0, or -1
 * with why (a sentence) and *st (the EFI status, or SUCCESS for a bad
 * argument) set.
 */
static int
batch_change(struct request *r, struct json_object *change, bool *raw, vv_status *st,
	     char *why, size_t cap)
{
	struct json_object *scratch = json_object_new_object(), *jop, *e;
	struct request sub = { .vm = r->vm, .in = change, .out = scratch, .quit = r->quit };
	struct vv_set_request req = { .caller = VV_CALLER_HOST };
	struct vv_error err = { { 0 } };
	const struct vv_variable *cur;
	const char *op;
	uint8_t *data = NULL;
	size_t size = 0;
	uint16_t *name = NULL;
	int rc = -1;

	*st = VV_EFI_SUCCESS;
	if (!json_object_is_type(change, json_type_object) ||
	    !json_object_object_get_ex(change, "op", &jop) ||
	    !json_object_is_type(jop, json_type_string)) {
		snprintf(why, cap, "a change is an object with \"op\" (set, delete, put or remove)");
		goto out;
	}
	op = json_object_get_string(jop);
	if (strcmp(op, "put") == 0) {
		struct json_object *var;
		struct vv_variable v;

		if (!json_object_object_get_ex(change, "var", &var)) {
			snprintf(why, cap, "\"var\" (a store-file variable object) is required");
			goto out;
		}
		if (vv_json_v2_var_from_object(var, "var", NULL, false, &v, &err) != 0) {
			snprintf(why, cap, "%.300s", err.msg);
			goto out;
		}
		cur = vv_store_find(r->vm->store, v.name, v.name_len, &v.guid);
		if (check_expect(change, cur, why, cap) == 0) {
			if (vv_store_batch_put_var(r->vm->store, &v, &err) == 0)
				rc = 0;
			else
				snprintf(why, cap, "%.300s", err.msg);
		}
		free(v.name);
		free(v.data);
		*raw = true;
		goto out;
	}
	if (strcmp(op, "set") != 0 && strcmp(op, "delete") != 0 && strcmp(op, "remove") != 0) {
		snprintf(why, cap, "unknown op \"%.32s\" (set, delete, put or remove)", op);
		goto out;
	}
	/* set, delete, remove: "name" and "guid" as for the single commands;
	 * arg_variable's refusal lands in scratch, and is counted once, by
	 * the batch's own reply. */
	if (arg_variable(&sub, &name, &req.name_len, &req.guid) != 0) {
		r->vm->mgmt_errors--;
		if (json_object_object_get_ex(scratch, "error", &e))
			snprintf(why, cap, "%s", json_object_get_string(e));
		goto out;
	}
	req.name = name;
	cur = vv_store_find(r->vm->store, name, req.name_len, &req.guid);
	if (check_expect(change, cur, why, cap) != 0)
		goto out;
	if (strcmp(op, "remove") == 0) {
		*raw = true;
		if (vv_store_batch_delete_var(r->vm->store, name, req.name_len, &req.guid,
					      &err) != 0) {
			*st = VV_EFI_NOT_FOUND;
			snprintf(why, cap, "%.300s", err.msg);
			goto out;
		}
		rc = 0;
		goto out;
	}
	if (strcmp(op, "set") == 0) {
		if (arg_attributes(&sub, &req.attributes) != 0) {
			snprintf(why, cap, "\"attributes\" (\"NV|BS|RT\" or a number) is required");
			goto out;
		}
		if (arg_bytes(&sub, "data", &data, &size) != 1) {
			snprintf(why, cap, "\"data\" (hex) or \"data_base64\" is required and must "
				 "decode");
			goto out;
		}
	}
	req.data = data;
	req.data_size = size;
	*st = vv_store_set(r->vm->store, &req);
	if (*st != VV_EFI_SUCCESS)
		snprintf(why, cap, "%s", vv_status_name(*st));
	else
		rc = 0;
out:
	free(name);
	free(data);
	json_object_put(scratch);
	return rc;
}

/*
 * batch: every change or none (vv_store_batch_begin), made durable as one
 * backend commit (one journal record) before the reply.  The daemon is one
 * thread (server.c): no guest request runs between the changes.
 */
static int
cmd_batch(struct request *r)
{
	struct json_object *changes;
	struct vv_error err = { { 0 } };
	char why[400], label[200];
	bool raw = false;
	size_t n;

	if (!json_object_object_get_ex(r->in, "changes", &changes) ||
	    !json_object_is_type(changes, json_type_array))
		return fail(r, "\"changes\" (an array) is required");
	n = json_object_array_length(changes);
	if (vv_store_batch_begin(r->vm->store, &err) != 0)
		return fail(r, "%s", err.msg);
	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(changes, i), *jop;
		vv_status st;

		if (batch_change(r, c, &raw, &st, why, sizeof(why)) == 0)
			continue;
		vv_store_batch_abort(r->vm->store);
		change_label(c, json_object_object_get_ex(c, "op", &jop) &&
			     json_object_is_type(jop, json_type_string) ?
			     json_object_get_string(jop) : "?", label, sizeof(label));
		add_u64(r->out, "failed", i);
		if (st != VV_EFI_SUCCESS)
			json_object_object_add(r->out, "status",
					       json_object_new_string(vv_status_name(st)));
		return fail(r, "change %zu (%s) refused: %s; nothing was changed", i, label, why);
	}
	/* Raw states of key variables: derive and publish the mode as a PK
	 * write would have (the hooks did not run). */
	if (raw)
		vv_secureboot_refresh(r->vm->sb);
	{
		vv_status st = vv_store_batch_commit(r->vm->store, &err);

		if (st != VV_EFI_SUCCESS) {
			json_object_object_add(r->out, "status",
					       json_object_new_string(vv_status_name(st)));
			return fail(r, "the batch could not be saved (%s); nothing was changed",
				    err.msg);
		}
	}
	json_object_object_add(r->out, "ok", json_object_new_boolean(1));
	json_object_object_add(r->out, "status", json_object_new_string("EFI_SUCCESS"));
	add_u64(r->out, "changes", n);
	json_object_object_add(r->out, "mode", json_object_new_string(
	    vv_sb_mode_name(vv_secureboot_mode(r->vm->sb))));
	if (n > 0)
		log_info("management batch of %zu changes applied", n);
	return 0;
}

static void
run_command(struct request *r)
{
	const char *cmd = arg_string(r, "cmd");

	if (cmd == NULL)
		fail(r, "\"cmd\" (a string) is required");
	else if (strcmp(cmd, "list") == 0)
		cmd_list(r);
	else if (strcmp(cmd, "get") == 0)
		cmd_get(r);
	else if (strcmp(cmd, "set") == 0)
		cmd_set(r, false);
	else if (strcmp(cmd, "delete") == 0)
		cmd_set(r, true);
	else if (strcmp(cmd, "secureboot") == 0)
		cmd_secureboot(r);
	else if (strcmp(cmd, "enroll") == 0)
		cmd_enroll(r);
	else if (strcmp(cmd, "set-mode") == 0)
		cmd_set_mode(r);
	else if (strcmp(cmd, "flush") == 0)
		cmd_flush(r);
	else if (strcmp(cmd, "stats") == 0)
		cmd_stats(r);
	else if (strcmp(cmd, "save-state") == 0)
		cmd_save_state(r);
	else if (strcmp(cmd, "load-state") == 0)
		cmd_load_state(r);
	else if (strcmp(cmd, "dump") == 0)
		cmd_dump(r);
	else if (strcmp(cmd, "batch") == 0)
		cmd_batch(r);
	else if (strcmp(cmd, "reset") == 0 || strcmp(cmd, "quit") == 0 ||
		 strcmp(cmd, "version") == 0)
		cmd_simple(r, cmd);
	else
		fail(r, "unknown command \"%.64s\"", cmd);
}

/* One line (NUL-terminated, without its newline) -> one reply line. */
static void
handle_line(struct vm *vm, struct conn *c, const char *line, bool *quit)
{
	struct request r = { .vm = vm, .quit = quit, .out = json_object_new_object() };
	enum json_tokener_error jerr;
	const char *text;
	struct json_object *id;

	vm->mgmt_requests++;
	r.in = json_tokener_parse_verbose(line, &jerr);
	if (r.in == NULL || !json_object_is_type(r.in, json_type_object))
		fail(&r, "request is not a JSON object%s%s", r.in == NULL ? ": " : "",
		     r.in == NULL ? json_tokener_error_desc(jerr) : "");
	else {
		if (json_object_object_get_ex(r.in, "id", &id))
			json_object_object_add(r.out, "id", json_object_get(id));
		run_command(&r);
	}
	fleet_after_request(vm);
	/* What a host edit changed of the service state is recorded before
	 * the reply, as for a guest request (vm.c vm_record). */
	if (!vm->needs_reset && vm_record(vm) != 0)
		fail(&r, "the service state could not be recorded (%s); the VMM must reset "
		     "the VM", vm->needs_reset_why);
	text = json_object_to_json_string_ext(r.out, JSON_C_TO_STRING_PLAIN);
	if (conn_queue(c, text, strlen(text)) != 0 || conn_queue(c, "\n", 1) != 0)
		c->close_after_flush = true;
	json_object_put(r.in);
	json_object_put(r.out);
}

int
mgmt_conn_process(struct vm *vm, struct conn *c, bool *quit)
{
	unsigned handled = 0;

	c->backlog = false;
	for (;;) {
		uint8_t *nl = memchr(c->in, '\n', c->in_len);
		size_t n;

		if (nl == NULL)
			break;
		if (handled == MGMT_LINES_PER_TURN || conn_out_queued(c) > MGMT_OUT_MAX) {
			/* The rest waits for the next turn (server.c). */
			c->backlog = true;
			return 0;
		}
		handled++;
		n = (size_t)(nl - c->in);
		*nl = '\0';             /* the line is now a C string */
		if (memchr(c->in, '\0', n) != NULL) {
			const char *msg = "{\"ok\":false,\"error\":\"NUL byte in request\"}\n";

			vm->mgmt_errors++;
			(void)conn_queue(c, msg, strlen(msg));
		} else if (n > 0) {
			handle_line(vm, c, (const char *)c->in, quit);
		}
		conn_consume(c, n + 1);
		if (*quit)
			return 0;
	}
	if (conn_in_full(c)) {
		const char *msg = "{\"ok\":false,\"error\":\"request line longer than 1 MiB\"}\n";

		log_warn("management connection %u: line longer than %zu bytes; closing it",
			 c->id, c->in_size);
		(void)conn_queue(c, msg, strlen(msg));
		c->close_after_flush = true;
		return -1;
	}
	return 0;
}
