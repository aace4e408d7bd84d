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

#include <vmvars/vmm_protocol.h>

#include "daemon.h"

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

/* An EFI status result: ok is whether it is EFI_SUCCESS. */
static int
status_reply(struct request *r, vv_status st)
{
	json_object_object_add(r->out, "ok", json_object_new_boolean(st == VV_EFI_SUCCESS));
	json_object_object_add(r->out, "status", json_object_new_string(vv_status_name(st)));
	if (st != VV_EFI_SUCCESS) {
		const char *io = vv_store_last_io_error(r->vm->store);

		json_object_object_add(r->out, "error", json_object_new_string(
		    st == VV_EFI_DEVICE_ERROR && io[0] ? io : vv_status_name(st)));
		r->vm->mgmt_errors++;
	}
	return 0;
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
	if (vv_guid_parse(gtext, guid) != 0)
		return fail(r, "\"guid\" is not a GUID");
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
	return status_reply(r, st);
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
	status_reply(r, st);
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
