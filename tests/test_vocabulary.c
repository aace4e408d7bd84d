/*
 * tests/test_vocabulary.c -- the shared vocabulary: GUID text <-> wire
 * layout (device-abi §6.3-§6.5, formats §10.1), status and attribute names
 * (device-abi §9), UTF-8 <-> UCS-2 names (device-abi §11 "Strings") and
 * struct vv_error.
 */
#include "harness.h"

#include <vmvars/efi.h>
#include <vmvars/error.h>
#include <vmvars/ucs2.h>

/* ---- GUIDs ---- */

static void
test_guid_wire_layout(void)
{
	/* Data1/2/3 little-endian, Data4 as written (formats §10.1). */
	static const uint8_t want[16] = {
		0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
		0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c,
	};
	vv_guid g;

	memset(&g, 0x5a, sizeof(g));
	CHECK_EQ(vv_guid_parse("8be4df61-93ca-11d2-aa0d-00e098032b8c", &g), 0);
	CHECK_MEM(g.b, want, 16);
	CHECK_MEM(VV_GUID_GLOBAL_VARIABLE.b, want, 16);
	CHECK(vv_guid_equal(&g, &VV_GUID_GLOBAL_VARIABLE));
}

static void
test_guid_round_trip(void)
{
	vv_guid g, h;
	char text[VV_GUID_TEXT_LEN + 1];

	/* Uppercase in, lowercase out. */
	REQUIRE(vv_guid_parse("D719B2CB-3D3A-4596-A3BC-DAD00E67656F", &g) == 0);
	vv_guid_format(&g, text);
	CHECK(strcmp(text, "d719b2cb-3d3a-4596-a3bc-dad00e67656f") == 0);
	CHECK(vv_guid_equal(&g, &VV_GUID_IMAGE_SECURITY_DB));

	/* Every byte value survives format -> parse. */
	for (int i = 0; i < 16; i++)
		g.b[i] = (uint8_t)(i * 17 + 3);
	vv_guid_format(&g, text);
	CHECK_EQ(strlen(text), VV_GUID_TEXT_LEN);
	REQUIRE(vv_guid_parse(text, &h) == 0);
	CHECK(vv_guid_equal(&g, &h));
	CHECK(strcmp(text, "36251403-5847-7a69-8b9c-adbecfe0f102") == 0);

	memset(g.b, 0xff, 16);
	vv_guid_format(&g, text);
	CHECK(strcmp(text, "ffffffff-ffff-ffff-ffff-ffffffffffff") == 0);
}

static void
test_guid_rejects(void)
{
	static const char *const bad[] = {
		"",
		"8be4df61-93ca-11d2-aa0d-00e098032b8",     /* 35 chars */
		"8be4df61-93ca-11d2-aa0d-00e098032b8c0",   /* 37 chars */
		"8be4df61-93ca-11d2-aa0d-00e098032b8c ",   /* trailing space */
		" 8be4df61-93ca-11d2-aa0d-00e098032b8",    /* leading space */
		"8be4df6193ca-11d2-aa0d-00e098032b8c0",    /* dash moved */
		"8be4df61-93ca11d2--aa0d-00e098032b8c",
		"8be4df61-93ca-11d2-aa0d00e098032b8c-",
		"8be4df61_93ca_11d2_aa0d_00e098032b8c",
		"8be4df61-93ca-11d2-aa0d-00e098032b8g",    /* non-hex */
		"{8be4df61-93ca-11d2-aa0d-00e098032b8}",
		"8be4df61-93ca-11d2-aa0d-00e0980-2b8c",    /* dash in Data4 */
		"+be4df61-93ca-11d2-aa0d-00e098032b8c",
	};
	vv_guid g, before;

	memset(&g, 0x77, sizeof(g));
	before = g;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (vv_guid_parse(bad[i], &g) != -1)
			printf("# accepted: \"%s\"\n", bad[i]);
		CHECK_EQ(vv_guid_parse(bad[i], &g), -1);
		/* A failed parse leaves the output alone. */
		CHECK(vv_guid_equal(&g, &before));
	}
	CHECK_EQ(vv_guid_parse(NULL, &g), -1);
}

static void
test_guid_constants(void)
{
	static const struct {
		const vv_guid *g;
		const char *text;
	} table[] = {
		{ &VV_GUID_GLOBAL_VARIABLE, "8be4df61-93ca-11d2-aa0d-00e098032b8c" },
		{ &VV_GUID_IMAGE_SECURITY_DB, "d719b2cb-3d3a-4596-a3bc-dad00e67656f" },
		{ &VV_GUID_HARDWARE_ERROR, "414e6bdd-e47b-47cc-b244-bb61020cf516" },
		{ &VV_GUID_SECURE_BOOT_ENABLE, "f0a30bc7-af08-4556-99c4-001009c93a44" },
		{ &VV_GUID_CUSTOM_MODE, "c076ec0c-7028-4399-a072-71ee5c448b9f" },
		{ &VV_GUID_VENDOR_KEYS_NV, "9073e4e0-60ec-4b6e-9903-4c223c260f3c" },
		{ &VV_GUID_CERT_DB, "d9bee56e-75dc-49d9-b4d7-b534210f637a" },
		{ &VV_GUID_MOR, "e20939be-32d4-41be-a150-897f85d49829" },
		{ &VV_GUID_MOR_LOCK, "bb983ccf-151d-40e1-a07b-4a17be168292" },
		{ &VV_GUID_SMM_VARIABLE, "ed32d533-99e6-4209-9cc0-2d72cdd998a7" },
		{ &VV_GUID_VAR_CHECK_POLICY_MMI, "da1b0d11-d1a7-46c4-9dc9-f3714875c6eb" },
		{ &VV_GUID_END_OF_DXE, "02ce967a-dd7e-4ffc-9ee7-810cf0470880" },
		{ &VV_GUID_READY_TO_BOOT, "7ce88fb3-4bd7-4679-87a8-a8d8dee50d2b" },
		{ &VV_GUID_EXIT_BOOT_SERVICES, "27abf055-b1b8-4c26-8048-748f37baa2df" },
	};
	char text[VV_GUID_TEXT_LEN + 1];

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		vv_guid_format(table[i].g, text);
		if (strcmp(text, table[i].text) != 0)
			printf("# constant %zu is %s, want %s\n", i, text, table[i].text);
		CHECK(strcmp(text, table[i].text) == 0);
		/* Every constant has a well-known name. */
		CHECK(vv_guid_name(table[i].g) != NULL);
	}
}

static void
test_guid_names(void)
{
	vv_guid g;
	const char *n;

	n = vv_guid_name(&VV_GUID_GLOBAL_VARIABLE);
	CHECK(n != NULL && strcmp(n, "EfiGlobalVariable") == 0);
	n = vv_guid_name(&VV_GUID_IMAGE_SECURITY_DB);
	CHECK(n != NULL && strcmp(n, "EfiImageSecurityDatabase") == 0);
	REQUIRE(vv_guid_parse("605dab50-e046-4300-abb6-3dd810dd8b23", &g) == 0);
	n = vv_guid_name(&g);
	CHECK(n != NULL && strcmp(n, "Shim") == 0);
	REQUIRE(vv_guid_parse("12345678-1234-1234-1234-123456789abc", &g) == 0);
	CHECK(vv_guid_name(&g) == NULL);
}

/* ---- statuses and attributes ---- */

static void
test_status_names(void)
{
	CHECK(strcmp(vv_status_name(VV_EFI_SUCCESS), "EFI_SUCCESS") == 0);
	CHECK(strcmp(vv_status_name(VV_EFI_INVALID_PARAMETER), "EFI_INVALID_PARAMETER") == 0);
	CHECK(strcmp(vv_status_name(VV_EFI_UNSUPPORTED), "EFI_UNSUPPORTED") == 0);
	CHECK(strcmp(vv_status_name(VV_EFI_BAD_BUFFER_SIZE), "EFI_BAD_BUFFER_SIZE") == 0);
	CHECK(strcmp(vv_status_name(VV_EFI_BUFFER_TOO_SMALL), "EFI_BUFFER_TOO_SMALL") == 0);
	CHECK(strcmp(vv_status_name(VV_EFI_NOT_READY), "EFI_NOT_READY") == 0);
	CHECK(strcmp(vv_status_name(VV_EFI_DEVICE_ERROR), "EFI_DEVICE_ERROR") == 0);
	CHECK(strcmp(vv_status_name(VV_EFI_WRITE_PROTECTED), "EFI_WRITE_PROTECTED") == 0);
	CHECK(strcmp(vv_status_name(VV_EFI_OUT_OF_RESOURCES), "EFI_OUT_OF_RESOURCES") == 0);
	CHECK(strcmp(vv_status_name(VV_EFI_NOT_FOUND), "EFI_NOT_FOUND") == 0);
	CHECK(strcmp(vv_status_name(VV_EFI_ACCESS_DENIED), "EFI_ACCESS_DENIED") == 0);
	CHECK(strcmp(vv_status_name(VV_EFI_ALREADY_STARTED), "EFI_ALREADY_STARTED") == 0);
	CHECK(strcmp(vv_status_name(VV_EFI_SECURITY_VIOLATION), "EFI_SECURITY_VIOLATION") == 0);
	/* Values from device-abi §9. */
	CHECK_EQ(VV_EFI_NOT_FOUND, 0x800000000000000EULL);
	CHECK_EQ(VV_EFI_SECURITY_VIOLATION, 0x800000000000001AULL);
	/* Unknown: a code without the error bit, and one with it. */
	CHECK(strcmp(vv_status_name(2), "EFI_UNKNOWN_STATUS") == 0);
	CHECK(strcmp(vv_status_name(VV_EFI_ERROR_BIT | 99), "EFI_UNKNOWN_STATUS") == 0);
	CHECK(vv_efi_error(VV_EFI_NOT_FOUND));
	CHECK(!vv_efi_error(VV_EFI_SUCCESS));
}

static void
test_attr_format(void)
{
	char buf[64], small[6];

	CHECK(strcmp(vv_attr_format(0x07, buf, sizeof(buf)), "NV|BS|RT") == 0);
	CHECK(strcmp(vv_attr_format(0x27, buf, sizeof(buf)), "NV|BS|RT|AT") == 0);
	CHECK(strcmp(vv_attr_format(0x0F, buf, sizeof(buf)), "NV|BS|RT|HR") == 0);
	CHECK(strcmp(vv_attr_format(0xD0, buf, sizeof(buf)), "AW|APPEND|EA") == 0);
	CHECK(strcmp(vv_attr_format(0, buf, sizeof(buf)), "0") == 0);
	CHECK(strcmp(vv_attr_format(0x103, buf, sizeof(buf)), "NV|BS|0x100") == 0);
	/* Truncation stays inside the buffer and NUL-terminates. */
	memset(small, 'x', sizeof(small));
	vv_attr_format(0x27, small, sizeof(small));
	CHECK(strcmp(small, "NV|BS") == 0);
}

/* ---- UCS-2 ---- */

static void
test_utf8_to_ucs2(void)
{
	static const uint16_t groesse[] = { 'G', 'r', 0x00F6, 0x00DF, 'e' };
	static const uint16_t hensu[] = { 0x5909, 0x6570 };
	static const uint16_t edges[] = { 0x0001, 0x007F, 0x0080, 0x07FF, 0x0800, 0xD7FF,
					  0xE000, 0xFFFF };
	const char *edges_utf8 = "\x01\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf"
				 "\xee\x80\x80\xef\xbf\xbf";
	uint16_t *u;
	size_t len = 99;

	u = vv_ucs2_from_utf8("Boot0001", 8, &len);
	REQUIRE(u != NULL);
	CHECK_EQ(len, 8);
	CHECK_EQ(u[0], 'B');
	CHECK_EQ(u[7], '1');
	CHECK_EQ(u[8], 0);
	free(u);

	u = vv_ucs2_from_utf8("Größe", strlen("Größe"), &len);
	REQUIRE(u != NULL);
	CHECK_EQ(len, 5);
	CHECK(vv_ucs2_equal(u, len, groesse, 5));
	free(u);

	u = vv_ucs2_from_utf8("変数", strlen("変数"), &len);
	REQUIRE(u != NULL);
	CHECK_EQ(len, 2);
	CHECK(vv_ucs2_equal(u, len, hensu, 2));
	free(u);

	u = vv_ucs2_from_utf8(edges_utf8, strlen(edges_utf8), &len);
	REQUIRE(u != NULL);
	CHECK_EQ(len, 8);
	CHECK(vv_ucs2_equal(u, len, edges, 8));
	free(u);

	/* Empty text is a valid (empty) conversion; the store refuses it. */
	u = vv_ucs2_from_utf8("", 0, &len);
	REQUIRE(u != NULL);
	CHECK_EQ(len, 0);
	CHECK_EQ(u[0], 0);
	free(u);

	/* text_len bounds the read: the rest of the string is ignored. */
	u = vv_ucs2_from_utf8("abcdef", 3, &len);
	REQUIRE(u != NULL);
	CHECK_EQ(len, 3);
	free(u);
}

static void
test_utf8_rejects(void)
{
	static const struct {
		const char *bytes;
		size_t len;
		const char *why;
	} bad[] = {
		{ "\xc0\x80", 2, "overlong NUL" },
		{ "\xc1\xbf", 2, "overlong 2-byte" },
		{ "\xe0\x80\x80", 3, "overlong 3-byte" },
		{ "\xe0\x9f\xbf", 3, "overlong U+07FF" },
		{ "\xed\xa0\x80", 3, "surrogate D800" },
		{ "\xed\xbf\xbf", 3, "surrogate DFFF" },
		{ "\xf0\x9f\x98\x80", 4, "U+1F600 outside the BMP" },
		{ "\xf4\x8f\xbf\xbf", 4, "U+10FFFF" },
		{ "\xf8\x88\x80\x80\x80", 5, "5-byte form" },
		{ "\xff", 1, "0xFF" },
		{ "\x80", 1, "stray continuation" },
		{ "a\x00" "b", 3, "NUL" },
		{ "\xe6\x97", 2, "truncated 3-byte" },
		{ "\xc3", 1, "truncated 2-byte" },
		{ "ab\xe5", 3, "truncated at end" },
		{ "\xe5" "ab", 3, "bad continuation" },
		{ "\xc3\xc3\xb6", 3, "lead then lead" },
	};
	size_t len = 1234;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint16_t *u = vv_ucs2_from_utf8(bad[i].bytes, bad[i].len, &len);

		if (u != NULL)
			printf("# accepted: %s\n", bad[i].why);
		CHECK(u == NULL);
		free(u);
	}
}

static void
test_ucs2_to_utf8(void)
{
	static const uint16_t groesse[] = { 'G', 'r', 0x00F6, 0x00DF, 'e' };
	static const uint16_t hensu[] = { 0x5909, 0x6570 };
	static const uint16_t surrogate[] = { 'a', 0xD83D, 0xDE00 };
	static const uint16_t with_nul[] = { 'a', 0, 'b' };
	char *t;
	uint16_t *back;
	size_t len;

	t = vv_ucs2_to_utf8(groesse, 5);
	REQUIRE(t != NULL);
	CHECK(strcmp(t, "Größe") == 0);
	back = vv_ucs2_from_utf8(t, strlen(t), &len);
	CHECK(back != NULL && vv_ucs2_equal(back, len, groesse, 5));
	free(back);
	free(t);

	t = vv_ucs2_to_utf8(hensu, 2);
	REQUIRE(t != NULL);
	CHECK(strcmp(t, "変数") == 0);
	free(t);

	t = vv_ucs2_to_utf8(hensu, 0);
	REQUIRE(t != NULL);
	CHECK(strcmp(t, "") == 0);
	free(t);

	CHECK(vv_ucs2_to_utf8(surrogate, 3) == NULL);
	CHECK(vv_ucs2_to_utf8(with_nul, 3) == NULL);

	/* Every BMP non-surrogate unit round-trips. */
	for (uint32_t c = 1; c <= 0xFFFF; c++) {
		uint16_t unit = (uint16_t)c;
		uint16_t *u;

		if (c >= 0xD800 && c <= 0xDFFF)
			continue;
		t = vv_ucs2_to_utf8(&unit, 1);
		u = t != NULL ? vv_ucs2_from_utf8(t, strlen(t), &len) : NULL;
		if (u == NULL || len != 1 || u[0] != unit) {
			printf("# U+%04X does not round-trip\n", (unsigned)c);
			CHECK(0);
			free(t);
			free(u);
			break;
		}
		free(t);
		free(u);
	}
}

static void
test_ucs2_helpers(void)
{
	static const uint16_t name[] = { 'B', 'o', 'o', 't', 0, 'x' };
	static const uint16_t other[] = { 'B', 'o', 'o', 'T' };
	static const uint16_t lone[] = { 'a', 0xDC00 };
	static const uint16_t bad_and_wide[] = { 'a', 0xD800, 0x00F6, 0x5909 };
	char out[8];

	CHECK_EQ(vv_ucs2_strnlen(name, 6), 4);
	CHECK_EQ(vv_ucs2_strnlen(name, 3), 3);
	CHECK_EQ(vv_ucs2_strnlen(name, 0), 0);

	CHECK(vv_ucs2_valid(name, 4));
	CHECK(!vv_ucs2_valid(name, 5));       /* includes the NUL */
	CHECK(!vv_ucs2_valid(lone, 2));
	CHECK(vv_ucs2_valid(lone, 1));

	CHECK(vv_ucs2_equal(name, 4, name, 4));
	CHECK(!vv_ucs2_equal(name, 4, other, 4));
	CHECK(!vv_ucs2_equal(name, 4, name, 3));
	CHECK(vv_ucs2_equal(name, 0, other, 0));

	vv_ucs2_print(bad_and_wide, 4, out, sizeof(out));
	CHECK(strcmp(out, "a?\xc3\xb6\xe5\xa4\x89") == 0);
	/* Never splits a character: with room for 4 bytes, U+00F6 fits, the
	 * 3-byte U+5909 does not. */
	vv_ucs2_print(bad_and_wide, 4, out, 5);
	CHECK(strcmp(out, "a?\xc3\xb6") == 0);
	vv_ucs2_print(bad_and_wide, 4, out, 1);
	CHECK(strcmp(out, "") == 0);
}

/* ---- errors ---- */

static void
test_error(void)
{
	struct vv_error err;
	char longtext[600];

	memset(&err, 0, sizeof(err));
	CHECK_EQ(vv_error_set(&err, "%s: %d", "vars.json", 42), -1);
	CHECK(strcmp(err.msg, "vars.json: 42") == 0);
	vv_error_prefix(&err, "load %s", "x");
	CHECK(strcmp(err.msg, "load x: vars.json: 42") == 0);

	/* NULL is accepted everywhere. */
	CHECK_EQ(vv_error_set(NULL, "nothing"), -1);
	vv_error_prefix(NULL, "nothing");

	/* Overlong text is truncated and NUL-terminated. */
	memset(longtext, 'a', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	vv_error_set(&err, "%s", longtext);
	CHECK_EQ(strlen(err.msg), sizeof(err.msg) - 1);
	vv_error_set(&err, "tail");
	vv_error_prefix(&err, "%s", longtext);
	CHECK_EQ(strlen(err.msg), sizeof(err.msg) - 1);
	vv_error_set(&err, "%s", longtext);
	vv_error_prefix(&err, "head");
	CHECK_EQ(strlen(err.msg), sizeof(err.msg) - 1);
	CHECK(strncmp(err.msg, "head: aaa", 9) == 0);
}

static const struct vv_test tests[] = {
	TEST(test_guid_wire_layout),
	TEST(test_guid_round_trip),
	TEST(test_guid_rejects),
	TEST(test_guid_constants),
	TEST(test_guid_names),
	TEST(test_status_names),
	TEST(test_attr_format),
	TEST(test_utf8_to_ucs2),
	TEST(test_utf8_rejects),
	TEST(test_ucs2_to_utf8),
	TEST(test_ucs2_helpers),
	TEST(test_error),
};

VV_TEST_MAIN(tests)
