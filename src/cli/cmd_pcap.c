/*
 * src/cli/cmd_pcap.c -- `vmvars pcap decode|replay FILE`: captures of MM
 * traffic in QEMU's format (link type 302, LINKTYPE_EDK2_MM; QEMU 11's
 * uefi-vars pcapfile=, vmvarsd --pcap, vv_mm_set_pcap; src/proto/mm_pcap.h).
 *
 *   decode  one line per record: reset, or the request's SMM variable
 *           function (name, namespace, attributes, size) / policy command /
 *           event, and the reply's EFI status; --json for tools.
 *   replay  sends every request of the capture, in order, to a fresh
 *           service (store, variable policy, Secure Boot, MOR: what
 *           vmvarsd serves) -- empty, or loaded from --store FILE, which is
 *           read and never written -- replays each reset, and compares every
 *           reply byte for byte with the captured one.  Exit 0 when all are
 *           identical: a golden trace of QEMU or of an earlier vmvars.
 *
 * The capture is hostile input: the reader (mm_pcap.c) bounds every
 * length, and decoding reads fields only inside the record.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/mm.h>
#include <vmvars/mor.h>
#include <vmvars/policy.h>
#include <vmvars/secureboot.h>
#include <vmvars/ucs2.h>

#include "cli/cli.h"
#include "cli/store_file.h"
#include "proto/mm_pcap.h"

#define CMD "pcap"

void
vv_cmd_pcap_help(FILE *out)
{
	fputs(
"NAME\n"
"    vmvars pcap - decode or replay a capture of MM traffic\n"
"\n"
"SYNOPSIS\n"
"    vmvars pcap decode FILE [--json]\n"
"    vmvars pcap replay FILE [--store STORE] [--buffer-size BYTES] [--json]\n"
"\n"
"DESCRIPTION\n"
"    FILE is a pcap capture with link type 302 (LINKTYPE_EDK2_MM) as QEMU 11's\n"
"    uefi-vars pcapfile=, vmvarsd --pcap and vv_mm_set_pcap write it: a\n"
"    record per VM reset, request and reply.\n"
"\n"
"    decode  prints one line per record: the request's SMM variable function\n"
"            with the variable's name, namespace, attributes and size, or the\n"
"            policy command or event; the reply's EFI status.\n"
"    replay  sends every request to a fresh variable service (empty, or\n"
"            STORE's variables; STORE is never written), replays the resets,\n"
"            and compares each reply with the captured one byte for byte.\n"
"            --buffer-size is the device buffer the capture was made with\n"
"            (default 65536; GetPayloadSize answers from it).\n"
"\n"
"EXIT STATUS\n"
"    0 decoded / every reply identical, 1 FILE unreadable or malformed (the\n"
"    byte offset and the reason are printed) or a reply differs, 2 usage error.\n",
	    out);
}

/* ---- decoding ---- */

static const char *const function_names[] = {
	NULL, "GetVariable", "GetNextVariableName", "SetVariable", "QueryVariableInfo",
	"ReadyToBoot", "ExitBootService", "GetStatistics", "LockVariable",
	"VarCheckVariablePropertySet", "VarCheckVariablePropertyGet", "GetPayloadSize",
	"InitRuntimeVariableCacheContext", "SyncRuntimeCache", "GetRuntimeCacheInfo",
};

static uint64_t
rd64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The variable name at p (UCS-2, n bytes, inside the record) as UTF-8. */
static void
name_text(const uint8_t *p, uint64_t n, char *out, size_t cap)
{
	uint16_t units[512];
	size_t k = 0;

	for (uint64_t i = 0; i + 1 < n && k < sizeof(units) / 2; i += 2) {
		units[k] = (uint16_t)(p[i] | p[i + 1] << 8);
		if (units[k] == 0)
			break;
		k++;
	}
	vv_ucs2_print(units, k, out, cap);
}

struct decoded {
	char what[64];          /* "SetVariable", "policy REGISTER", "event EndOfDxe" */
	char var[600];          /* "Boot0001 global" or "" */
	char status[48];        /* reply: "EFI_SUCCESS"; "" for a request */
	uint32_t attributes;
	uint64_t data_size;
	bool has_var;
};

static void
decode(const struct vv_mm_pcap_packet *p, struct decoded *d)
{
	const uint8_t *b = p->payload;
	size_t n = p->payload_len;
	vv_guid g;
	char gt[VV_GUID_TEXT_LEN + 1];

	memset(d, 0, sizeof(*d));
	if (p->type == VV_MM_PCAP_RESET) {
		snprintf(d->what, sizeof(d->what), "VM reset");
		return;
	}
	memcpy(g.b, b, 16);
	if (vv_guid_equal(&g, &VV_GUID_SMM_VARIABLE) && n < 40) {
		snprintf(d->what, sizeof(d->what), "SMM variable, cut");
	} else if (vv_guid_equal(&g, &VV_GUID_SMM_VARIABLE)) {
		uint64_t fn = rd64(b + 24);
		const uint8_t *v = b + 40;
		size_t vl = n - 40;

		snprintf(d->what, sizeof(d->what), "%s", fn < sizeof(function_names) /
			 sizeof(function_names[0]) && function_names[fn] != NULL ?
			 function_names[fn] : "function?");
		if (p->type == VV_MM_PCAP_REPLY)
			snprintf(d->status, sizeof(d->status), "%s", vv_status_name(rd64(b + 32)));
		if ((fn == VV_MM_GET_VARIABLE || fn == VV_MM_SET_VARIABLE) && vl >= 36) {
			uint64_t ns = rd64(v + 24);

			memcpy(g.b, v, 16);
			d->data_size = rd64(v + 16);
			d->attributes = rd32(v + 32);
			name_text(v + 36, ns < vl - 36 ? ns : vl - 36, d->var, sizeof(d->var) - 60);
			d->has_var = true;
		} else if (fn == VV_MM_GET_NEXT_VARIABLE_NAME && vl >= 24) {
			uint64_t ns = rd64(v);

			memcpy(g.b, v + 8, 16);
			name_text(v + 24, ns < vl - 24 ? ns : vl - 24, d->var, sizeof(d->var) - 60);
			d->has_var = true;
		}
		if (d->has_var) {
			size_t len = strlen(d->var);

			snprintf(d->var + len, sizeof(d->var) - len, " %s",
				 vv_cli_guid_text(&g, gt, sizeof(gt)));
		}
	} else if (vv_guid_equal(&g, &VV_GUID_VAR_CHECK_POLICY_MMI)) {
		snprintf(d->what, sizeof(d->what), "policy command %u", n >= 32 ? rd32(b + 32) : 0);
		if (p->type == VV_MM_PCAP_REPLY && n >= 44)
			snprintf(d->status, sizeof(d->status), "%s", vv_status_name(rd64(b + 36)));
	} else if (vv_guid_equal(&g, &VV_GUID_END_OF_DXE)) {
		snprintf(d->what, sizeof(d->what), "event EndOfDxe");
	} else if (vv_guid_equal(&g, &VV_GUID_READY_TO_BOOT)) {
		snprintf(d->what, sizeof(d->what), "event ReadyToBoot");
	} else if (vv_guid_equal(&g, &VV_GUID_EXIT_BOOT_SERVICES)) {
		snprintf(d->what, sizeof(d->what), "event ExitBootServices");
	} else {
		vv_guid_format(&g, gt);
		snprintf(d->what, sizeof(d->what), "unknown %s", gt);
	}
}

static const char *
type_name(enum vv_mm_pcap_type t)
{
	return t == VV_MM_PCAP_RESET ? "reset" : t == VV_MM_PCAP_REQUEST ? "request" : "reply";
}

struct decode_ctx {
	bool json;
	struct json_object *arr;
};

static int
decode_one(void *ctx, const struct vv_mm_pcap_packet *p)
{
	struct decode_ctx *c = ctx;
	struct decoded d;
	char attr[64];

	decode(p, &d);
	vv_attr_format(d.attributes, attr, sizeof(attr));
	if (c->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "index", json_object_new_int64((int64_t)p->index));
		json_object_object_add(o, "offset", json_object_new_int64((int64_t)p->offset));
		json_object_object_add(o, "time", json_object_new_double(p->ts_sec +
								       p->ts_frac / 1e6));
		json_object_object_add(o, "type", json_object_new_string(type_name(p->type)));
		json_object_object_add(o, "length", json_object_new_int64((int64_t)p->payload_len));
		json_object_object_add(o, "truncated", json_object_new_boolean(p->truncated));
		json_object_object_add(o, "what", json_object_new_string(d.what));
		if (d.has_var)
			json_object_object_add(o, "variable", json_object_new_string(d.var));
		if (d.has_var && p->type == VV_MM_PCAP_REQUEST) {
			json_object_object_add(o, "attributes", json_object_new_string(attr));
			json_object_object_add(o, "data_size",
					       json_object_new_int64((int64_t)d.data_size));
		}
		if (d.status[0] != '\0')
			json_object_object_add(o, "status", json_object_new_string(d.status));
		json_object_array_add(c->arr, o);
		return 0;
	}
	{
		char line[1024];
		size_t k;

		k = (size_t)snprintf(line, sizeof(line), "%-5zu %-7s %-20s", p->index,
				     type_name(p->type), d.what);
		if (d.has_var && k < sizeof(line))
			k += (size_t)snprintf(line + k, sizeof(line) - k, " %s", d.var);
		if (d.has_var && p->type == VV_MM_PCAP_REQUEST && d.attributes != 0 &&
		    k < sizeof(line))
			k += (size_t)snprintf(line + k, sizeof(line) - k, " %s", attr);
		if (d.has_var && p->type == VV_MM_PCAP_REQUEST && d.data_size != 0 &&
		    k < sizeof(line))
			k += (size_t)snprintf(line + k, sizeof(line) - k, " %" PRIu64 " bytes",
					      d.data_size);
		if (d.status[0] != '\0' && k < sizeof(line))
			k += (size_t)snprintf(line + k, sizeof(line) - k, " -> %s", d.status);
		if (p->truncated && k < sizeof(line))
			k += (size_t)snprintf(line + k, sizeof(line) - k, " (truncated)");
		for (k = strlen(line); k > 0 && line[k - 1] == ' '; k--)
			line[k - 1] = '\0';
		puts(line);
	}
	return 0;
}

/* ---- replay ---- */

struct replay_ctx {
	struct vv_store *store;
	struct vv_mm *mm;
	uint8_t *buf;
	size_t buf_size;
	bool have_reply;            /* the last request left a reply in buf */
	size_t reply_len;
	size_t requests, resets, replies, same, differ, unmatched;
	bool json;
	struct json_object *diffs;
};

static int
replay_one(void *ctx, const struct vv_mm_pcap_packet *p)
{
	struct replay_ctx *r = ctx;
	struct decoded want, got;
	struct vv_mm_pcap_packet mine;
	size_t i;
	uint16_t sts;

	if (p->type == VV_MM_PCAP_RESET) {
		vv_store_signal(r->store, VV_EVENT_RESET);
		r->resets++;
		r->have_reply = false;
		return 0;
	}
	if (p->type == VV_MM_PCAP_REQUEST) {
		r->requests++;
		memset(r->buf, 0, VV_MM_MAX_BUFFER);
		if (p->truncated || p->payload_len > r->buf_size) {
			r->have_reply = false;
			return 0;       /* not replayable: the capture cut it */
		}
		memcpy(r->buf, p->payload, p->payload_len);
		sts = vv_mm_handle(r->mm, r->buf, r->buf_size);
		r->have_reply = sts == VV_STS_SUCCESS || sts == VV_STS_ERR_NOT_SUPPORTED;
		r->reply_len = p->payload_len;
		return 0;
	}
	r->replies++;
	if (!r->have_reply) {
		r->unmatched++;
		return 0;
	}
	r->have_reply = false;
	if (!p->truncated && p->payload_len == r->reply_len &&
	    memcmp(p->payload, r->buf, p->payload_len) == 0) {
		r->same++;
		return 0;
	}
	r->differ++;
	for (i = 0; i < p->payload_len && i < r->reply_len && p->payload[i] == r->buf[i]; i++)
		;
	decode(p, &want);
	mine = *p;
	mine.payload = r->buf;
	mine.payload_len = r->reply_len;
	decode(&mine, &got);
	if (r->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "index", json_object_new_int64((int64_t)p->index));
		json_object_object_add(o, "what", json_object_new_string(want.what));
		json_object_object_add(o, "variable", json_object_new_string(want.var));
		json_object_object_add(o, "first_difference", json_object_new_int64((int64_t)i));
		json_object_object_add(o, "captured_status", json_object_new_string(want.status));
		json_object_object_add(o, "replayed_status", json_object_new_string(got.status));
		json_object_array_add(r->diffs, o);
	} else {
		printf("record %zu: %s%s%s: reply differs from byte %zu (captured %s, replayed "
		       "%s)\n", p->index, want.what, want.has_var ? " " : "", want.var, i,
		       want.status[0] ? want.status : "-", got.status[0] ? got.status : "-");
	}
	return 0;
}

/*
 * The service vmvarsd builds (src/daemon/vm.c), with vmvarsd's default
 * limits -- QueryVariableInfo answers from them -- holding STORE's
 * variables when given (read through the format layer, never written).
 */
static struct vv_store *
replay_store(const char *store_path, struct vv_error *err)
{
	struct vv_store *s = vv_store_new(NULL);
	struct vv_store_file sf;
	const struct vv_variable *v;
	int rc = 0;

	if (s == NULL || store_path == NULL) {
		if (s == NULL)
			vv_error_set(err, "out of memory");
		return s;
	}
	if (vv_store_file_open(&sf, store_path, VV_FORMAT_UNKNOWN, false, err) != 0) {
		vv_store_free(s);
		return NULL;
	}
	for (v = vv_store_first(sf.store); v != NULL && rc == 0; v = vv_store_next(v))
		if ((v->attributes & VV_ATTR_NV) && (rc = vv_store_insert_loaded(s, v, err)) != 0)
			vv_error_prefix(err, "%s", store_path);
	vv_store_file_close(&sf);
	if (rc != 0) {
		vv_store_free(s);
		return NULL;
	}
	return s;
}

static int
replay(const char *file, const uint8_t *data, size_t size, const char *store_path,
       size_t buf_size, bool json)
{
	struct replay_ctx r = { .buf_size = buf_size, .json = json };
	struct vv_secureboot *sb = NULL;
	struct vv_policy *pol = NULL;
	struct vv_mor *mor = NULL;
	struct vv_error err = { "" };
	int rc;

	if ((r.store = replay_store(store_path, &err)) == NULL)
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	pol = vv_policy_new(r.store, NULL);
	sb = vv_secureboot_new(r.store, NULL);
	mor = vv_mor_new(r.store, false);
	r.mm = pol != NULL ? vv_mm_new(r.store, pol) : NULL;
	r.buf = calloc(1, VV_MM_MAX_BUFFER);
	r.diffs = json ? json_object_new_array() : NULL;
	if (pol == NULL || sb == NULL || mor == NULL || r.mm == NULL || r.buf == NULL) {
		rc = vv_cli_fail(VV_EXIT_FAIL, CMD, "out of memory");
		goto out;
	}
	if (vv_mm_pcap_read(data, size, replay_one, &r, &err) != 0) {
		rc = vv_cli_fail(VV_EXIT_FAIL, CMD, "%s: %s", file, err.msg);
		goto out;
	}
	if (json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "requests", json_object_new_int64((int64_t)r.requests));
		json_object_object_add(o, "resets", json_object_new_int64((int64_t)r.resets));
		json_object_object_add(o, "replies", json_object_new_int64((int64_t)r.replies));
		json_object_object_add(o, "identical", json_object_new_int64((int64_t)r.same));
		json_object_object_add(o, "different", json_object_new_int64((int64_t)r.differ));
		json_object_object_add(o, "unmatched", json_object_new_int64((int64_t)r.unmatched));
		json_object_object_add(o, "differences", r.diffs);
		r.diffs = NULL;
		vv_cli_print_json(o);
	} else {
		printf("%s: %zu requests, %zu resets replayed; %zu of %zu replies identical, %zu "
		       "differ, %zu without a replayed reply\n", file, r.requests, r.resets, r.same,
		       r.replies, r.differ, r.unmatched);
	}
	rc = r.differ == 0 && r.unmatched == 0 ? VV_EXIT_OK : VV_EXIT_FAIL;
out:
	json_object_put(r.diffs);
	free(r.buf);
	vv_mm_free(r.mm);
	vv_mor_free(mor);
	vv_secureboot_free(sb);
	vv_policy_free(pol);
	vv_store_free(r.store);
	return rc;
}

int
vv_cmd_pcap(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "store", required_argument, NULL, 's' },
		{ "buffer-size", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *store = NULL, *sub, *file;
	struct decode_ctx dc = { false, NULL };
	struct vv_error err = { "" };
	unsigned long buf_size = VV_MM_MAX_BUFFER;
	uint8_t *data;
	size_t size;
	char *end;
	int c, rc;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': dc.json = true; break;
		case 's': store = optarg; break;
		case 'b':
			buf_size = strtoul(optarg, &end, 0);
			if (*optarg == '\0' || *end != '\0' || buf_size < VV_MM_HEADER_SIZE ||
			    buf_size > VV_MM_MAX_BUFFER)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "--buffer-size: 24 to 65536 "
						   "bytes, not '%s'", optarg);
			break;
		case 'h': vv_cmd_pcap_help(stdout); return VV_EXIT_OK;
		default:
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown option '%s' (see vmvars pcap "
					   "--help)", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "expected decode|replay FILE");
	sub = argv[optind];
	file = argv[optind + 1];
	if (strcmp(sub, "decode") != 0 && strcmp(sub, "replay") != 0)
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown subcommand '%s' (decode, replay)",
				   sub);
	if (strcmp(sub, "decode") == 0 && store != NULL)
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "--store is for replay");
	if (vv_read_file(file, &data, &size, &err) != 0)
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	if (strcmp(sub, "replay") == 0) {
		rc = replay(file, data, size, store, buf_size, dc.json);
		free(data);
		return rc;
	}
	if (dc.json)
		dc.arr = json_object_new_array();
	if (vv_mm_pcap_read(data, size, decode_one, &dc, &err) != 0) {
		json_object_put(dc.arr);
		free(data);
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s: %s", file, err.msg);
	}
	if (dc.json)
		vv_cli_print_json(dc.arr);
	free(data);
	return VV_EXIT_OK;
}
