/*
 * tests/test_json.c -- the JSON v2 format (device-abi §12, formats §3):
 * every dialect of formats §3.2 parses, every malformed input is refused
 * with a message naming origin, index and field, and serialize -> parse is
 * the identity on NV variables.  Also python-uefivars' own interop vectors
 * (shared/data/aws/testdata).
 */
#include "harness.h"

#include <stdbool.h>
#include <uchar.h>

#include <vmvars/json_v2.h>
#include <vmvars/store.h>
#include <vmvars/ucs2.h>

/* ---- helpers ---- */

static struct vv_store *
new_store(void)
{
	struct vv_store *s = vv_store_new(NULL);

	REQUIRE(s != NULL);
	return s;
}

static int
parse_text(struct vv_store *s, const char *text, struct vv_error *err)
{
	memset(err, 0, sizeof(*err));
	return vv_json_v2_parse(s, text, strlen(text), "t.json", err);
}

static const struct vv_variable *
find_utf8(const struct vv_store *s, const char *name, const vv_guid *guid)
{
	size_t len;
	uint16_t *u = vv_ucs2_from_utf8(name, strlen(name), &len);
	const struct vv_variable *v;

	if (u == NULL)
		return NULL;
	v = vv_store_find(s, u, len, guid);
	free(u);
	return v;
}

static bool
data_is_hex(const struct vv_variable *v, const char *hex)
{
	size_t n = strlen(hex) / 2;

	if (v == NULL || v->data_size != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned byte;

		if (sscanf(hex + 2 * i, "%2x", &byte) != 1 || v->data[i] != byte)
			return false;
	}
	return true;
}

static bool
var_equal(const struct vv_variable *a, const struct vv_variable *b)
{
	return vv_guid_equal(&a->guid, &b->guid) && a->attributes == b->attributes &&
	       vv_ucs2_equal(a->name, a->name_len, b->name, b->name_len) &&
	       a->data_size == b->data_size &&
	       (a->data_size == 0 || memcmp(a->data, b->data, a->data_size) == 0) &&
	       a->has_time == b->has_time &&
	       (!a->has_time || memcmp(a->time.b, b->time.b, 16) == 0) &&
	       a->digest_size == b->digest_size &&
	       memcmp(a->digest, b->digest, a->digest_size) == 0;
}

/* The NV variables of a, in order, are exactly the variables of b. */
static bool
nv_equal(const struct vv_store *a, const struct vv_store *b)
{
	const struct vv_variable *x = vv_store_first(a), *y = vv_store_first(b);

	for (;;) {
		while (x != NULL && !(x->attributes & VV_ATTR_NV))
			x = vv_store_next(x);
		if (x == NULL || y == NULL)
			return x == NULL && y == NULL;
		if (!var_equal(x, y))
			return false;
		x = vv_store_next(x);
		y = vv_store_next(y);
	}
}

/* Serialises a and parses the text into a fresh store. */
static struct vv_store *
reparse(const struct vv_store *a, char **text_out)
{
	struct vv_store *b = new_store();
	struct vv_error err;
	size_t len = 0;
	char *text = vv_json_v2_serialize(a, &len);

	REQUIRE(text != NULL);
	CHECK_EQ(len, strlen(text));
	CHECK(len > 0 && text[len - 1] == '\n');
	if (vv_json_v2_parse(b, text, len, "reparse", &err) != 0)
		printf("# reparse: %s\n", err.msg);
	if (text_out != NULL)
		*text_out = text;
	else
		free(text);
	return b;
}

/* Inserts a variable directly (host loader path). */
static void
insert(struct vv_store *s, const char16_t *name, const vv_guid *guid, uint32_t attr,
       const void *data, size_t size)
{
	struct vv_variable v;
	struct vv_error err;
	size_t n = 0;

	while (name[n] != 0)
		n++;
	memset(&v, 0, sizeof(v));
	v.guid = *guid;
	v.attributes = attr;
	v.name = (uint16_t *)name;
	v.name_len = n;
	v.data = (uint8_t *)data;
	v.data_size = size;
	if (vv_store_insert_loaded(s, &v, &err) != 0)
		printf("# insert: %s\n", err.msg);
	REQUIRE(vv_store_find(s, name, n, guid) != NULL);
}

/* ---- dialects ---- */

/* device-abi §12 example, as QEMU writes it (data filled in). */
static const char qemu_doc[] =
	"{\n"
	"    \"version\": 2,\n"
	"    \"variables\": [\n"
	"        {\n"
	"            \"guid\": \"8be4df61-93ca-11d2-aa0d-00e098032b8c\",\n"
	"            \"name\": \"BootOrder\",\n"
	"            \"attr\": 7,\n"
	"            \"data\": \"00000100\"\n"
	"        },\n"
	"        {\n"
	"            \"guid\": \"d719b2cb-3d3a-4596-a3bc-dad00e67656f\",\n"
	"            \"name\": \"db\",\n"
	"            \"attr\": 39,\n"
	"            \"data\": \"a159c0a5e494a74a87b5ab155c2bf072\",\n"
	"            \"time\": \"e9070101000000000000000000000000\"\n"
	"        }\n"
	"    ]\n"
	"}\n";

static void
test_qemu_layout(void)
{
	static const uint8_t time[16] = { 0xe9, 0x07, 0x01, 0x01 };
	struct vv_store *s = new_store();
	struct vv_error err;
	const struct vv_variable *v;

	CHECK_EQ(parse_text(s, qemu_doc, &err), 0);
	CHECK_EQ(vv_store_count(s), 2);
	v = find_utf8(s, "BootOrder", &VV_GUID_GLOBAL_VARIABLE);
	REQUIRE(v != NULL);
	CHECK_EQ(v->attributes, 7);
	CHECK(data_is_hex(v, "00000100"));
	CHECK(!v->has_time);
	CHECK_EQ(v->digest_size, 0);
	v = find_utf8(s, "db", &VV_GUID_IMAGE_SECURITY_DB);
	REQUIRE(v != NULL);
	CHECK_EQ(v->attributes, 0x27);
	CHECK(data_is_hex(v, "a159c0a5e494a74a87b5ab155c2bf072"));
	CHECK(v->has_time);
	CHECK_MEM(v->time.b, time, 16);
	/* Store order is file order. */
	v = vv_store_first(s);
	REQUIRE(v != NULL);
	CHECK_EQ(v->name[0], 'B');
	vv_store_free(s);
}

/* formats §3.3, virt-fw-vars --output-json (data shortened to valid hex). */
static const char virtfw_doc[] =
	"{\n"
	"    \"version\": 2,\n"
	"    \"variables\": [\n"
	"        { \"name\": \"BootNext\", \"guid\": \"8be4df61-93ca-11d2-aa0d-00e098032b8c\","
	" \"attr\": 7, \"data\": \"9900\" },\n"
	"        { \"name\": \"PK\", \"guid\": \"8be4df61-93ca-11d2-aa0d-00e098032b8c\", \"attr\": 39,\n"
	"          \"data\": \"a159c0a5e494a74a87b5ab155c2bf072d003000000000000\",\n"
	"          \"time\": \"de070a1f0b0f25000000000000000000\" },\n"
	"        { \"name\": \"dbx\", \"guid\": \"d719b2cb-3d3a-4596-a3bc-dad00e67656f\", \"attr\": 39,\n"
	"          \"data\": \"2616c4c14c509240aca941f9369343284c00000000000000\",\n"
	"          \"time\": \"da070101000000000000000000000000\" },\n"
	"        { \"name\": \"SecureBootEnable\", \"guid\": \"f0a30bc7-af08-4556-99c4-001009c93a44\","
	" \"attr\": 3, \"data\": \"01\" }\n"
	"    ]\n"
	"}\n";

static void
test_virtfw_layout(void)
{
	struct vv_store *s = new_store();
	struct vv_error err;
	const struct vv_variable *v;

	CHECK_EQ(parse_text(s, virtfw_doc, &err), 0);
	CHECK_EQ(vv_store_count(s), 4);
	v = find_utf8(s, "PK", &VV_GUID_GLOBAL_VARIABLE);
	REQUIRE(v != NULL);
	CHECK(v->has_time);
	/* formats §3.3: 2014-10-31 11:15:37. */
	CHECK_EQ(vv_le16(v->time.b), 2014);
	CHECK_EQ(v->time.b[2], 10);
	CHECK_EQ(v->time.b[3], 31);
	CHECK_EQ(v->time.b[4], 11);
	CHECK_EQ(v->time.b[5], 15);
	CHECK_EQ(v->time.b[6], 37);
	CHECK_EQ(vv_le32(v->data + 16), 0x3d0);
	v = find_utf8(s, "SecureBootEnable", &VV_GUID_SECURE_BOOT_ENABLE);
	REQUIRE(v != NULL);
	CHECK_EQ(v->attributes, 3);
	CHECK(data_is_hex(v, "01"));
	v = find_utf8(s, "BootNext", &VV_GUID_GLOBAL_VARIABLE);
	CHECK(data_is_hex(v, "9900"));
	vv_store_free(s);
}

/* python-uefivars: `timestamp` instead of `time`, and a digest. */
static void
test_uefivars_timestamp_and_digest(void)
{
	static const char doc[] =
		"{\"version\": 2, \"variables\": [{\"name\": \"Priv\", \"data\": \"00ff\","
		" \"guid\": \"12345678-9abc-def0-1234-56789abcdef0\", \"attr\": 39,"
		" \"timestamp\": \"e7070c1f173b3b000000000000000000\","
		" \"digest\": \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"}]}";
	struct vv_store *s = new_store(), *t;
	struct vv_error err;
	const struct vv_variable *v;
	vv_guid g;
	char *text = NULL;

	REQUIRE(vv_guid_parse("12345678-9abc-def0-1234-56789abcdef0", &g) == 0);
	CHECK_EQ(parse_text(s, doc, &err), 0);
	v = find_utf8(s, "Priv", &g);
	REQUIRE(v != NULL);
	CHECK(v->has_time);
	CHECK_EQ(vv_le16(v->time.b), 2023);
	CHECK_EQ(v->time.b[6], 59);
	CHECK_EQ(v->digest_size, 32);
	for (int i = 0; i < 32; i++)
		CHECK_EQ(v->digest[i], i);

	/* Written back in QEMU's spelling, digest preserved. */
	t = reparse(s, &text);
	CHECK(nv_equal(s, t));
	CHECK(strstr(text, "\"time\"") != NULL);
	CHECK(strstr(text, "\"timestamp\"") == NULL);
	CHECK(strstr(text, "\"digest\": \"000102030405060708090a0b0c0d0e0f"
			   "101112131415161718191a1b1c1d1e1f\"") != NULL);
	free(text);
	vv_store_free(t);
	vv_store_free(s);
}

/* python-uefivars version 1: a bare array of variables (formats §3.2). */
static void
test_uefivars_version1(void)
{
	static const char doc[] =
		"[{\"name\": \"Timeout\", \"data\": \"0500\","
		" \"guid\": \"8be4df61-93ca-11d2-aa0d-00e098032b8c\", \"attr\": 7}]";
	struct vv_store *s = new_store();
	struct vv_error err;

	CHECK_EQ(parse_text(s, doc, &err), 0);
	CHECK_EQ(vv_store_count(s), 1);
	CHECK(data_is_hex(find_utf8(s, "Timeout", &VV_GUID_GLOBAL_VARIABLE), "0500"));
	vv_store_free(s);
}

static void
test_non_ascii_names(void)
{
	static const char doc[] =
		"{\"version\": 2, \"variables\": ["
		"{\"guid\": \"8be4df61-93ca-11d2-aa0d-00e098032b8c\", \"name\": \"Größe\","
		" \"attr\": 7, \"data\": \"01\"},"
		"{\"guid\": \"8be4df61-93ca-11d2-aa0d-00e098032b8c\", \"name\": \"変数\","
		" \"attr\": 7, \"data\": \"02\"},"
		"{\"guid\": \"8be4df61-93ca-11d2-aa0d-00e098032b8c\", \"name\": \"\\u00e9t\\u00e9\","
		" \"attr\": 7, \"data\": \"03\"}]}";
	static const char16_t groesse[] = u"Größe";
	static const char16_t hensu[] = u"変数";
	struct vv_store *s = new_store(), *t;
	struct vv_error err;
	const struct vv_variable *v;
	char *text = NULL;

	CHECK_EQ(parse_text(s, doc, &err), 0);
	CHECK_EQ(vv_store_count(s), 3);
	v = vv_store_find(s, groesse, 5, &VV_GUID_GLOBAL_VARIABLE);
	CHECK(data_is_hex(v, "01"));
	v = vv_store_find(s, hensu, 2, &VV_GUID_GLOBAL_VARIABLE);
	CHECK(data_is_hex(v, "02"));
	/* A \u escape decodes like the raw character. */
	CHECK(data_is_hex(find_utf8(s, "été", &VV_GUID_GLOBAL_VARIABLE), "03"));

	t = reparse(s, &text);
	CHECK_EQ(vv_store_count(t), 3);
	CHECK(nv_equal(s, t));
	/* Written as raw UTF-8, not escaped or '?' (unlike QEMU, §12). */
	CHECK(strstr(text, "\"name\": \"Größe\"") != NULL);
	CHECK(strstr(text, "\"name\": \"変数\"") != NULL);
	CHECK(strstr(text, "\"name\": \"été\"") != NULL);
	free(text);
	vv_store_free(t);
	vv_store_free(s);
}

static void
test_uppercase_hex(void)
{
	static const char doc[] =
		"{\"version\": 2, \"variables\": [{\"guid\": \"8BE4DF61-93CA-11D2-AA0D-00E098032B8C\","
		" \"name\": \"X\", \"attr\": 39, \"data\": \"ABcdEF\","
		" \"time\": \"E9070101000000000000000000000000\", \"digest\": \"FF\"}]}";
	struct vv_store *s = new_store(), *t;
	struct vv_error err;
	const struct vv_variable *v;
	char *text = NULL;

	CHECK_EQ(parse_text(s, doc, &err), 0);
	v = find_utf8(s, "X", &VV_GUID_GLOBAL_VARIABLE);
	CHECK(data_is_hex(v, "abcdef"));
	REQUIRE(v != NULL);
	CHECK_EQ(v->time.b[0], 0xe9);
	CHECK_EQ(v->digest_size, 1);
	CHECK_EQ(v->digest[0], 0xff);
	t = reparse(s, &text);
	CHECK(nv_equal(s, t));
	/* Lowercase everywhere on output. */
	CHECK(strstr(text, "\"guid\": \"8be4df61-93ca-11d2-aa0d-00e098032b8c\"") != NULL);
	CHECK(strstr(text, "\"data\": \"abcdef\"") != NULL);
	CHECK(strstr(text, "\"time\": \"e9070101000000000000000000000000\"") != NULL);
	CHECK(strstr(text, "\"digest\": \"ff\"") != NULL);
	free(text);
	vv_store_free(t);
	vv_store_free(s);
}

static void
test_empty_text(void)
{
	struct vv_store *s = new_store(), *t;
	struct vv_error err;
	char *text = NULL;

	CHECK_EQ(vv_json_v2_parse(s, "", 0, "t.json", &err), 0);
	CHECK_EQ(parse_text(s, " \n\t\r\n", &err), 0);
	CHECK_EQ(vv_store_count(s), 0);
	/* An empty store writes an empty list, which reads back empty. */
	t = reparse(s, &text);
	CHECK_EQ(vv_store_count(t), 0);
	CHECK(strstr(text, "\"version\": 2") != NULL);
	CHECK(strstr(text, "\"variables\"") != NULL);
	free(text);
	vv_store_free(t);
	vv_store_free(s);
}

/* ---- errors ---- */

#define G "\"guid\": \"8be4df61-93ca-11d2-aa0d-00e098032b8c\""
#define DOC(vars) "{\"version\": 2, \"variables\": [" vars "]}"
#define VAR(rest) "{" G ", \"name\": \"V\", \"attr\": 7" rest "}"

struct bad_case {
	const char *text;
	const char *message;        /* exact, or a prefix when prefix is set */
	bool prefix;
};

static const struct bad_case bad_cases[] = {
	{ DOC(VAR(", \"data\": \"abc\"")),
	  "t.json: variables[0].data: odd number of hex digits", false },
	{ DOC(VAR(", \"data\": \"a0zz\"")),
	  "t.json: variables[0].data: not a hex digit at position 2", false },
	{ DOC(VAR(", \"data\": \"0x00\"")),
	  "t.json: variables[0].data: not a hex digit at position 1", false },
	{ DOC(VAR(", \"data\": \"AQ==\"")),            /* README-era base64 */
	  "t.json: variables[0].data: not a hex digit at position 1", false },
	{ DOC(VAR(", \"data\": 5")),
	  "t.json: variables[0].data: must be a string", false },
	{ DOC(VAR(", \"data\": null")),
	  "t.json: variables[0].data: must be a string", false },
	{ DOC(VAR("")),
	  "t.json: variables[0].data: missing", false },
	{ DOC("{" G ", \"name\": \"V\", \"data\": \"\"}"),
	  "t.json: variables[0].attr: missing", false },
	{ DOC("{" G ", \"attr\": 7, \"data\": \"\"}"),
	  "t.json: variables[0].name: missing", false },
	{ DOC("{\"name\": \"V\", \"attr\": 7, \"data\": \"\"}"),
	  "t.json: variables[0].guid: missing", false },
	{ DOC("{" G ", \"name\": \"V\", \"attr\": \"7\", \"data\": \"\"}"),
	  "t.json: variables[0].attr: must be an integer", false },
	{ DOC("{" G ", \"name\": \"V\", \"attr\": 7.0, \"data\": \"\"}"),
	  "t.json: variables[0].attr: must be an integer", false },
	{ DOC("{" G ", \"name\": \"V\", \"attr\": true, \"data\": \"\"}"),
	  "t.json: variables[0].attr: must be an integer", false },
	{ DOC("{" G ", \"name\": \"V\", \"attr\": -1, \"data\": \"\"}"),
	  "t.json: variables[0].attr: out of range 0..0xffffffff", false },
	{ DOC("{" G ", \"name\": \"V\", \"attr\": 4294967296, \"data\": \"\"}"),
	  "t.json: variables[0].attr: out of range 0..0xffffffff", false },
	{ DOC("{" G ", \"name\": \"V\", \"attr\": 18446744073709551615, \"data\": \"\"}"),
	  "t.json: variables[0].attr: out of range 0..0xffffffff", false },
	{ DOC("{\"guid\": \"8be4df61-93ca-11d2-aa0d-00e098032b8\", \"name\": \"V\","
	      " \"attr\": 7, \"data\": \"\"}"),
	  "t.json: variables[0].guid: not a GUID (want 8-4-4-4-12 hex digits)", false },
	{ DOC("{\"guid\": \"8be4df61-93ca-11d2-aa0d-00e098032b8c\\u0000\", \"name\": \"V\","
	      " \"attr\": 7, \"data\": \"\"}"),
	  "t.json: variables[0].guid: not a GUID (want 8-4-4-4-12 hex digits)", false },
	{ DOC("{\"guid\": 1, \"name\": \"V\", \"attr\": 7, \"data\": \"\"}"),
	  "t.json: variables[0].guid: must be a string", false },
	{ DOC("{" G ", \"name\": \"\", \"attr\": 7, \"data\": \"\"}"),
	  "t.json: variables[0].name: empty", false },
	{ DOC("{" G ", \"name\": [\"V\"], \"attr\": 7, \"data\": \"\"}"),
	  "t.json: variables[0].name: must be a string", false },
	{ DOC("{" G ", \"name\": \"\\ud83d\\ude00\", \"attr\": 7, \"data\": \"\"}"),
	  "t.json: variables[0].name: not representable in UCS-2", true },
	{ DOC("{" G ", \"name\": \"a\\u0000b\", \"attr\": 7, \"data\": \"\"}"),
	  "t.json: variables[0].name: not representable in UCS-2", true },
	{ DOC(VAR(", \"data\": \"\", \"time\": \"e907010100000000000000000000\"")),
	  "t.json: variables[0].time: must be 32 hex digits (16-byte EFI_TIME)", false },
	{ DOC(VAR(", \"data\": \"\", \"time\": \"e9070101000000000000000000000000ff\"")),
	  "t.json: variables[0].time: must be 32 hex digits (16-byte EFI_TIME)", false },
	{ DOC(VAR(", \"data\": \"\", \"time\": \"e907010100000000000000000000000g\"")),
	  "t.json: variables[0].time: not a hex digit at position 31", false },
	{ DOC(VAR(", \"data\": \"\", \"timestamp\": \"00\"")),
	  "t.json: variables[0].timestamp: must be 32 hex digits (16-byte EFI_TIME)", false },
	{ DOC(VAR(", \"data\": \"\", \"time\": null")),
	  "t.json: variables[0].time: must be a string", false },
	{ DOC(VAR(", \"data\": \"\", \"time\": \"e9070101000000000000000000000000\","
		  " \"timestamp\": \"e9070101000000000000000000000000\"")),
	  "t.json: variables[0]: both \"time\" and \"timestamp\"", false },
	{ DOC(VAR(", \"data\": \"\", \"digest\": \""
		  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00\"")),
	  "t.json: variables[0].digest: longer than 64 bytes", false },
	{ DOC(VAR(", \"data\": \"\", \"digest\": \"abc\"")),
	  "t.json: variables[0].digest: odd number of hex digits", false },
	{ DOC(VAR(", \"data\": \"\", \"foo\": 1")),
	  "t.json: variables[0]: unknown key \"foo\"", false },
	{ DOC(VAR(", \"data\": \"\", \"Data\": \"00\"")),
	  "t.json: variables[0]: unknown key \"Data\"", false },
	{ DOC(VAR(", \"data\": \"\"") ", 7"),
	  "t.json: variables[1]: not an object", false },
	{ "{\"version\": 2, \"variables\": [], \"extra\": 1}",
	  "t.json: unknown key \"extra\"", false },
	{ "{\"version\": 3, \"variables\": []}",
	  "t.json: version: 3 is not supported (want 2)", false },
	{ "{\"version\": 1, \"variables\": []}",
	  "t.json: version: 1 is not supported (want 2)", false },
	{ "{\"version\": \"2\", \"variables\": []}",
	  "t.json: version: must be an integer", false },
	{ "{\"variables\": []}",
	  "t.json: version: missing", false },
	{ "{\"version\": 2}",
	  "t.json: variables: missing", false },
	{ "{\"version\": 2, \"variables\": {}}",
	  "t.json: variables: must be an array", false },
	{ "\"just a string\"",
	  "t.json: top level is not an object", false },
	/* Syntax errors: the offset and json-c's description. */
	{ "{\"version\": 2, \"variables\": [",
	  "t.json: JSON syntax error at byte 29: unexpected end of input", false },
	{ "{\"version\": 2, \"variables\": []}} ",
	  "t.json: JSON syntax error at byte 31: ", true },
	{ "null",
	  "t.json: top level is not an object", false },
	{ " 42 ",
	  "t.json: top level is not an object", false },
	{ "{",
	  "t.json: JSON syntax error at byte 1: unexpected end of input", false },
	{ "{\"version\": 2, \"variables\": [],}",
	  "t.json: JSON syntax error at byte ", true },
	{ "{\"version\": 2 \"variables\": []}",
	  "t.json: JSON syntax error at byte ", true },
	{ "{\"version\": 2, \"variables\": [\"\xc3\x28\"]}",
	  "t.json: JSON syntax error at byte ", true },
	/* Rules of the store (vv_store_insert_loaded), prefixed with the name. */
	{ DOC(VAR(", \"data\": \"01\"") "," VAR(", \"data\": \"02\"")),
	  "t.json: variables[1] (V): duplicate variable", false },
	{ DOC("{" G ", \"name\": \"NoBs\", \"attr\": 1, \"data\": \"00\"}"),
	  "t.json: variables[0] (NoBs): attributes 0x1 lack BOOTSERVICE_ACCESS", false },
	{ DOC("{" G ", \"name\": \"Append\", \"attr\": 71, \"data\": \"00\"}"),
	  "t.json: variables[0] (Append): attributes 0x47 have unsupported bits", false },
};

static void
test_errors(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct vv_store *s = new_store();
		struct vv_error err;
		int rc = parse_text(s, c->text, &err);
		bool match = c->prefix ? strncmp(err.msg, c->message, strlen(c->message)) == 0
				       : strcmp(err.msg, c->message) == 0;

		if (rc != -1 || !match)
			printf("# case %zu: rc %d, message \"%s\", want \"%s\"\n", i, rc,
			       err.msg, c->message);
		CHECK_EQ(rc, -1);
		CHECK(match);
		vv_store_free(s);
	}
}

/* A NUL byte inside the text is an error, not an early end. */
static void
test_error_nul_byte(void)
{
	static const char doc[] = "{\"version\": 2,\0 \"variables\": []}";
	struct vv_store *s = new_store();
	struct vv_error err;

	CHECK_EQ(vv_json_v2_parse(s, doc, sizeof(doc) - 1, "t.json", &err), -1);
	CHECK(strcmp(err.msg, "t.json: JSON syntax error at byte 14: NUL byte") == 0);
	vv_store_free(s);
}

/* Quotas apply at load: one variable above max_variable_size (65536). */
static void
test_error_too_large(void)
{
	const size_t bytes = 70000;
	const char *head = "{\"version\": 2, \"variables\": [{" G ", \"name\": \"Big\", \"attr\": 7,"
			   " \"data\": \"";
	const char *tail = "\"}]}";
	size_t hl = strlen(head), tl = strlen(tail);
	char *doc = malloc(hl + 2 * bytes + tl + 1);
	struct vv_store *s = new_store();
	struct vv_error err;

	REQUIRE(doc != NULL);
	memcpy(doc, head, hl);
	memset(doc + hl, '0', 2 * bytes);
	memcpy(doc + hl + 2 * bytes, tail, tl + 1);
	CHECK_EQ(parse_text(s, doc, &err), -1);
	CHECK(strncmp(err.msg, "t.json: variables[0] (Big): ", 28) == 0);
	CHECK(strstr(err.msg, "exceed the maximum variable size") != NULL);
	CHECK_EQ(vv_store_count(s), 0);
	free(doc);
	vv_store_free(s);
}

/* A wrong origin would make every message useless: it is the prefix. */
static void
test_error_origin(void)
{
	struct vv_store *s = new_store();
	struct vv_error err;

	CHECK_EQ(vv_json_v2_parse(s, "[1]", 3, "/var/lib/vm/vars.json", &err), -1);
	CHECK(strcmp(err.msg, "/var/lib/vm/vars.json: variables[0]: not an object") == 0);
	vv_store_free(s);
}

/* ---- writing ---- */

static void
test_round_trip(void)
{
	static const uint8_t blob[] = { 0, 1, 2, 0xfe, 0xff };
	struct vv_store *s = new_store(), *t;
	vv_guid vendor;
	char *text = NULL;

	REQUIRE(vv_guid_parse("a0baa8a3-041d-48a8-bc87-c36d121b5e3d", &vendor) == 0);
	insert(s, u"Boot0000", &VV_GUID_GLOBAL_VARIABLE, 7, blob, sizeof(blob));
	insert(s, u"Empty", &vendor, 3, NULL, 0);
	insert(s, u"Hr", &VV_GUID_HARDWARE_ERROR, 0x0f, blob, 1);
	insert(s, u"Vol", &vendor, 6, blob, 2);     /* volatile: not written */
	insert(s, u"Last", &vendor, 0x03, blob, 3);
	t = reparse(s, &text);
	CHECK_EQ(vv_store_count(t), 4);
	CHECK(nv_equal(s, t));
	CHECK(strstr(text, "Vol") == NULL);
	CHECK(strstr(text, "\"data\": \"\"") != NULL);
	/* Serialising the copy gives the same text again. */
	{
		size_t len;
		char *again = vv_json_v2_serialize(t, &len);

		REQUIRE(again != NULL);
		CHECK(strcmp(again, text) == 0);
		free(again);
	}
	free(text);
	vv_store_free(t);
	vv_store_free(s);
}

/* Keys in QEMU's order guid, name, attr, data, time, digest (§12). */
static void
test_output_key_order(void)
{
	static const char doc[] =
		"{\"variables\": [{\"digest\": \"aa\", \"time\": \"e9070101000000000000000000000000\","
		" \"data\": \"01\", \"attr\": 39, \"name\": \"K\","
		" \"guid\": \"8be4df61-93ca-11d2-aa0d-00e098032b8c\"}], \"version\": 2}";
	struct vv_store *s = new_store();
	struct vv_error err;
	size_t len;
	char *text;
	const char *keys[] = { "\"version\"", "\"variables\"", "\"guid\"", "\"name\"",
			       "\"attr\"", "\"data\"", "\"time\"", "\"digest\"" };
	const char *prev = NULL;

	REQUIRE(parse_text(s, doc, &err) == 0);
	text = vv_json_v2_serialize(s, &len);
	REQUIRE(text != NULL);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *at = strstr(text, keys[i]);

		if (at == NULL || (prev != NULL && at < prev))
			printf("# key %s out of order in:\n%s", keys[i], text);
		CHECK(at != NULL);
		CHECK(prev == NULL || (at != NULL && at > prev));
		prev = at;
	}
	CHECK(strstr(text, "\"attr\": 39,\n") != NULL);
	/* No escaped slashes, trailing newline. */
	CHECK(strstr(text, "\\/") == NULL);
	CHECK_EQ(text[len - 1], '\n');
	free(text);
	vv_store_free(s);
}

/* `time` only for AT variables (device-abi §12); never read for others. */
static void
test_time_only_for_at(void)
{
	static const char doc[] = DOC(VAR(", \"data\": \"00\","
				      " \"time\": \"e9070101000000000000000000000000\""));
	struct vv_store *s = new_store();
	struct vv_variable v;
	struct vv_error err;
	size_t len;
	char *text;
	const struct vv_variable *got;

	/* Read: accepted (virt-firmware writes it whenever known) but not kept. */
	REQUIRE(parse_text(s, doc, &err) == 0);
	got = find_utf8(s, "V", &VV_GUID_GLOBAL_VARIABLE);
	REQUIRE(got != NULL);
	CHECK(!got->has_time);

	/* Write: a non-AT variable that has a time still gets none. */
	memset(&v, 0, sizeof(v));
	v.guid = VV_GUID_GLOBAL_VARIABLE;
	v.attributes = 7;
	v.name = (uint16_t *)u"W";
	v.name_len = 1;
	v.has_time = true;
	v.time.b[0] = 0xe9;
	REQUIRE(vv_store_insert_loaded(s, &v, &err) == 0);
	text = vv_json_v2_serialize(s, &len);
	REQUIRE(text != NULL);
	CHECK(strstr(text, "\"time\"") == NULL);
	free(text);

	/* An AT variable without a time gets none either. */
	v.name = (uint16_t *)u"A";
	v.attributes = 0x27;
	v.has_time = false;
	REQUIRE(vv_store_insert_loaded(s, &v, &err) == 0);
	text = vv_json_v2_serialize(s, &len);
	REQUIRE(text != NULL);
	CHECK(strstr(text, "\"time\"") == NULL);
	free(text);
	vv_store_free(s);
}

/* ---- interop vectors (python-uefivars testdata) ---- */

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return NULL;
	}
	buf = malloc((size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf != NULL) {
		buf[n] = '\0';
		*len = (size_t)n;
	}
	return buf;
}

static void
check_vector(const char *file, const char *const *names, size_t count, size_t nv)
{
	const char *dir = vv_test_shared_data();
	char path[4096];
	struct vv_store *s, *t;
	struct vv_error err;
	const struct vv_variable *v;
	size_t len, i = 0;
	char *text;

	if (dir == NULL)
		SKIP("shared/data not found");
	snprintf(path, sizeof(path), "%s/aws/testdata/%s", dir, file);
	text = read_file(path, &len);
	if (text == NULL)
		SKIP("interop vector missing");
	s = new_store();
	if (vv_json_v2_parse(s, text, len, file, &err) != 0)
		printf("# %s\n", err.msg);
	CHECK_EQ(vv_store_count(s), count);
	for (v = vv_store_first(s); v != NULL && i < count; v = vv_store_next(v), i++) {
		char *name = vv_ucs2_to_utf8(v->name, v->name_len);

		if (name == NULL || strcmp(name, names[i]) != 0)
			printf("# %s: variable %zu is %s, want %s\n", file, i,
			       name ? name : "?", names[i]);
		CHECK(name != NULL && strcmp(name, names[i]) == 0);
		free(name);
	}
	t = reparse(s, NULL);
	CHECK_EQ(vv_store_count(t), nv);
	CHECK(nv_equal(s, t));
	vv_store_free(t);
	vv_store_free(s);
	free(text);
}

static void
test_vector_t01(void)
{
	static const char *const names[] = {
		"X-Nitro-SecurebootStatus", "Boot0001", "Boot0000", "BootOrder", "LangCodes",
		"ConOutDev", "ConInDev", "Lang", "ErrOut", "PlatformLangCodes", "BootCurrent",
		"ErrOutDev", "MTC", "PlatformRecovery0000", "Key0000", "PlatformLang",
		"BootOptionSupport", "Timeout", "ConIn", "Key0001", "ConOut",
		"OsIndicationsSupported",
	};
	/* t01 mixes NV (attr 7) and volatile (attr 6) variables: 12 are NV
	 * and survive a rewrite. */
	check_vector("t01.json", names, 22, 12);
}

static void
test_vector_t02(void)
{
	static const char *const names[] = {
		"MemoryTypeInformation", "HDDP", "BootOrder", "MemoryOverwriteRequestControlLock",
		"MemoryOverwriteRequestControl", "ConIn", "ConOut", "MTC", "Boot0006", "Boot0005",
		"Boot0004", "Boot0003", "Boot0002", "Boot0001", "Boot0000", "ConsoleOutMode",
		"PlatformLang", "Lang", "SbConfigState", "dbx", "db", "KEK", "PK",
	};

	check_vector("t02.json", names, 23, 23);
}

static const struct vv_test tests[] = {
	TEST(test_qemu_layout),
	TEST(test_virtfw_layout),
	TEST(test_uefivars_timestamp_and_digest),
	TEST(test_uefivars_version1),
	TEST(test_non_ascii_names),
	TEST(test_uppercase_hex),
	TEST(test_empty_text),
	TEST(test_errors),
	TEST(test_error_nul_byte),
	TEST(test_error_too_large),
	TEST(test_error_origin),
	TEST(test_round_trip),
	TEST(test_output_key_order),
	TEST(test_time_only_for_at),
	TEST(test_vector_t01),
	TEST(test_vector_t02),
};

VV_TEST_MAIN(tests)
