/*
 * tests/test_varcheck.c -- the rules for UEFI-defined variables
 * (src/core/varcheck_uefi.c): the built-in VarCheck properties, the
 * VarCheckUefiLib SetVariable handler (varstore-formats §8.2 rows 15-16)
 * and the format validators (§10.2, §10.3, §10.5).
 *
 * Independent of the store: it calls vv_uefi_var_property and
 * vv_varcheck_uefi directly.  The first case replays every SetVariable of a
 * real OVMF boot (shared/data/ovmf-boot) under the specification's GUIDs:
 * real firmware data must pass both the handler and the property check.
 */
#include "harness.h"

#include <json-c/json.h>
#include <vmvars/ucs2.h>

#include "core/varcheck_uefi.h"

#define NAME(lit) (const uint16_t *)(lit), (sizeof(lit) / 2 - 1)

#define NV VV_ATTR_NV
#define BS VV_ATTR_BS
#define RT VV_ATTR_RT
#define HR VV_ATTR_HR
#define AT VV_ATTR_AT
#define NBR (NV | BS | RT)

static const vv_guid *const global = &VV_GUID_GLOBAL_VARIABLE;
static const vv_guid *const imgsec = &VV_GUID_IMAGE_SECURITY_DB;
static const vv_guid *const hwerr = &VV_GUID_HARDWARE_ERROR;
/* 12345678-1234-1234-1234-123456789abc, a vendor GUID */
static const vv_guid vendor = {{ 0x78, 0x56, 0x34, 0x12, 0x34, 0x12, 0x34, 0x12,
				 0x12, 0x34, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc }};

/* The property check the store does for a non-delete (store.h, §8.2 row
 * 14): attributes equal (ignoring APPEND), non-zero size within range. */
static bool
property_accepts(const struct vv_var_property *p, uint32_t attributes, uint64_t size)
{
	if (p->attributes != 0 && (attributes & ~VV_ATTR_APPEND) != p->attributes)
		return false;
	return size == 0 || (size >= p->min_size && size <= p->max_size);
}

/* ---- the recorded OVMF boot ---- */

static int
hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes hex text into a malloc'd buffer; NULL if malformed. */
static uint8_t *
hex_decode(const char *text, size_t *len)
{
	size_t n = strlen(text);
	uint8_t *out;

	if (n % 2 != 0)
		return NULL;
	out = malloc(n / 2 + 1);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hex_nibble(text[2 * i]), lo = hex_nibble(text[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(out);
			return NULL;
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return out;
}

struct replay_stats {
	unsigned checked;
	unsigned rejected_handler;
	unsigned rejected_property;
	char names[64][40];
	unsigned n_names;
};

static void
note_name(struct replay_stats *st, const uint16_t *name, size_t len)
{
	char text[40];

	vv_ucs2_print(name, len, text, sizeof(text));
	for (unsigned i = 0; i < st->n_names; i++)
		if (strcmp(st->names[i], text) == 0)
			return;
	if (st->n_names < 64)
		strcpy(st->names[st->n_names++], text);
}

/*
 * One MM-communicate buffer: EFI_MM_COMMUNICATE_HEADER (GUID 16,
 * MessageLength u64), SMM_VARIABLE_COMMUNICATE_HEADER (Function u64,
 * ReturnStatus u64), then for function 3 (SetVariable) at offset 40:
 * Guid 16, DataSize u64, NameSize u64, Attributes u32, Name, Data.
 */
static void
replay_request(const uint8_t *b, size_t len, struct replay_stats *st)
{
	const uint8_t *p;
	uint64_t data_size, name_size, avail;
	uint32_t attributes;
	vv_guid guid;
	uint16_t name[256];
	size_t name_len;

	if (len < 40 || memcmp(b, VV_GUID_SMM_VARIABLE.b, 16) != 0 || vv_le64(b + 24) != 3)
		return;
	REQUIRE(len >= 40 + 36);
	p = b + 40;
	avail = len - 40 - 36;
	memcpy(guid.b, p, 16);
	data_size = vv_le64(p + 16);
	name_size = vv_le64(p + 24);
	attributes = vv_le32(p + 32);
	REQUIRE(name_size >= 2 && name_size % 2 == 0 && name_size / 2 <= 256);
	REQUIRE(name_size <= avail && data_size <= avail - name_size);
	name_len = name_size / 2 - 1;
	for (size_t i = 0; i <= name_len; i++)
		name[i] = vv_le16(p + 36 + 2 * i);
	REQUIRE(name[name_len] == 0);

	if (data_size == 0)
		return;         /* a delete: neither check applies */
	if (!vv_guid_equal(&guid, global) && !vv_guid_equal(&guid, imgsec) &&
	    !vv_guid_equal(&guid, hwerr))
		return;

	const uint8_t *data = p + 36 + name_size;
	const struct vv_var_property *prop = vv_uefi_var_property(name, name_len, &guid);
	vv_status s = vv_varcheck_uefi(name, name_len, &guid, attributes, data, data_size);
	char text[64];

	vv_ucs2_print(name, name_len, text, sizeof(text));
	st->checked++;
	note_name(st, name, name_len);
	if (s != VV_EFI_SUCCESS) {
		printf("# handler rejects %s (size %" PRIu64 "): %s\n", text, data_size,
		       vv_status_name(s));
		st->rejected_handler++;
	}
	if (prop == NULL || !property_accepts(prop, attributes, data_size)) {
		printf("# property rejects %s attr 0x%x size %" PRIu64 "\n", text, attributes,
		       data_size);
		st->rejected_property++;
	}
}

static void
test_ovmf_boot_writes_pass(void)
{
	const char *dir = vv_test_shared_data();
	char path[4096];
	char line[1 << 16];
	struct replay_stats st;
	FILE *f;

	if (dir == NULL)
		SKIP("shared/data not found");
	snprintf(path, sizeof(path), "%s/ovmf-boot/requests.jsonl", dir);
	f = fopen(path, "r");
	if (f == NULL)
		SKIP("ovmf-boot/requests.jsonl not found");
	memset(&st, 0, sizeof(st));
	while (fgets(line, sizeof(line), f) != NULL) {
		struct json_object *obj = json_tokener_parse(line), *req;
		uint8_t *bytes;
		size_t len;

		if (obj == NULL || !json_object_object_get_ex(obj, "request", &req)) {
			json_object_put(obj);
			fclose(f);
			REQUIRE(!"malformed requests.jsonl line");
		}
		bytes = hex_decode(json_object_get_string(req), &len);
		json_object_put(obj);
		if (bytes == NULL) {
			fclose(f);
			REQUIRE(!"bad hex in requests.jsonl");
		}
		replay_request(bytes, len, &st);
		free(bytes);
	}
	fclose(f);

	/* 70 non-delete SetVariables under the spec GUIDs, 21 names. */
	CHECK_EQ(st.checked, 70);
	CHECK_EQ(st.rejected_handler, 0);
	CHECK_EQ(st.rejected_property, 0);
	static const char *const expected[] = {
		"Boot0000", "Boot0001", "Boot0002", "BootCurrent", "BootOptionSupport",
		"BootOrder", "ConIn", "ConInDev", "ConOut", "ConOutDev", "ErrOut",
		"ErrOutDev", "Key0000", "Key0001", "Lang", "LangCodes",
		"OsIndicationsSupported", "PlatformLang", "PlatformLangCodes",
		"PlatformRecovery0000", "Timeout",
	};
	CHECK_EQ(st.n_names, sizeof(expected) / sizeof(expected[0]));
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		bool seen = false;

		for (unsigned j = 0; j < st.n_names; j++)
			seen = seen || strcmp(st.names[j], expected[i]) == 0;
		if (!seen)
			printf("# %s not written by the recorded boot\n", expected[i]);
		CHECK(seen);
	}
}

/* ---- properties ---- */

static void
check_prop(const uint16_t *name, size_t len, const vv_guid *g, uint16_t flags, uint32_t attr,
	   uint64_t min, uint64_t max)
{
	const struct vv_var_property *p = vv_uefi_var_property(name, len, g);
	char text[64];

	vv_ucs2_print(name, len, text, sizeof(text));
	if (p == NULL) {
		printf("# no property for %s\n", text);
		CHECK(p != NULL);
		return;
	}
	CHECK_EQ(p->revision, VV_VAR_CHECK_PROPERTY_REVISION);
	if (p->property != flags || p->attributes != attr || p->min_size != min ||
	    p->max_size != max)
		printf("# property of %s differs\n", text);
	CHECK_EQ(p->property, flags);
	CHECK_EQ(p->attributes, attr);
	CHECK_EQ(p->min_size, min);
	CHECK_EQ(p->max_size, max);
}

static void
test_property_table(void)
{
	const uint16_t RO = VV_VAR_CHECK_PROPERTY_READ_ONLY;
	const uint64_t M = UINT64_MAX;

	/* Every fixed global name (also proves the binary-search order). */
	check_prop(NAME(u"LangCodes"), global, 0, BS | RT, 1, M);
	check_prop(NAME(u"Lang"), global, 0, NBR, 1, M);
	check_prop(NAME(u"PlatformLangCodes"), global, 0, BS | RT, 1, M);
	check_prop(NAME(u"PlatformLang"), global, 0, NBR, 1, M);
	check_prop(NAME(u"Timeout"), global, 0, NBR, 2, 2);
	check_prop(NAME(u"ConIn"), global, 0, NBR, 4, M);
	check_prop(NAME(u"ConOut"), global, 0, NBR, 4, M);
	check_prop(NAME(u"ErrOut"), global, 0, NBR, 4, M);
	check_prop(NAME(u"ConInDev"), global, 0, BS | RT, 4, M);
	check_prop(NAME(u"ConOutDev"), global, 0, BS | RT, 4, M);
	check_prop(NAME(u"ErrOutDev"), global, 0, BS | RT, 4, M);
	check_prop(NAME(u"BootOrder"), global, 0, NBR, 2, M);
	check_prop(NAME(u"DriverOrder"), global, 0, NBR, 2, M);
	check_prop(NAME(u"SysPrepOrder"), global, 0, NBR, 2, M);
	check_prop(NAME(u"BootNext"), global, 0, NBR, 2, 2);
	check_prop(NAME(u"BootCurrent"), global, 0, BS | RT, 2, 2);
	check_prop(NAME(u"BootOptionSupport"), global, 0, BS | RT, 4, 4);
	check_prop(NAME(u"HwErrRecSupport"), global, 0, NBR, 2, 2);
	check_prop(NAME(u"OsIndications"), global, 0, NBR, 8, 8);
	check_prop(NAME(u"OsIndicationsSupported"), global, 0, BS | RT, 8, 8);
	check_prop(NAME(u"PK"), global, 0, NBR | AT, 1, M);
	check_prop(NAME(u"KEK"), global, 0, NBR | AT, 1, M);
	check_prop(NAME(u"SetupMode"), global, RO, BS | RT, 1, 1);
	check_prop(NAME(u"SecureBoot"), global, RO, BS | RT, 1, 1);
	check_prop(NAME(u"VendorKeys"), global, RO, BS | RT, 1, 1);
	check_prop(NAME(u"AuditMode"), global, RO, BS | RT, 1, 1);
	check_prop(NAME(u"DeployedMode"), global, RO, BS | RT, 1, 1);
	check_prop(NAME(u"SignatureSupport"), global, RO, BS | RT, 16, M);
	check_prop(NAME(u"PKDefault"), global, RO, BS | RT, 1, M);
	check_prop(NAME(u"KEKDefault"), global, RO, BS | RT, 1, M);
	check_prop(NAME(u"dbDefault"), global, RO, BS | RT, 1, M);
	check_prop(NAME(u"dbxDefault"), global, RO, BS | RT, 1, M);
	check_prop(NAME(u"dbtDefault"), global, RO, BS | RT, 1, M);
	check_prop(NAME(u"dbrDefault"), global, RO, BS | RT, 1, M);
	check_prop(NAME(u"devdbDefault"), global, RO, BS | RT, 1, M);
	check_prop(NAME(u"devAuthBoot"), global, RO, BS | RT, 1, 1);
	check_prop(NAME(u"CryptoIndications"), global, 0, NBR, 8, 8);
	check_prop(NAME(u"CryptoIndicationsSupported"), global, 0, BS | RT, 8, 8);
	check_prop(NAME(u"CryptoIndicationsActivated"), global, 0, BS | RT, 8, 8);
	check_prop(NAME(u"OsRecoveryOrder"), global, 0, NBR | AT, 16, M);

	/* Patterns. */
	check_prop(NAME(u"Boot0000"), global, 0, NBR, 6, M);
	check_prop(NAME(u"BootFFFF"), global, 0, NBR, 6, M);
	check_prop(NAME(u"Driver12AB"), global, 0, NBR, 6, M);
	check_prop(NAME(u"SysPrep0009"), global, 0, NBR, 6, M);
	check_prop(NAME(u"PlatformRecovery0000"), global, 0, BS | RT, 6, M);
	check_prop(NAME(u"Key0001"), global, 0, NBR, 10, 22);
	check_prop(NAME(u"db"), imgsec, 0, NBR | AT, 1, M);
	check_prop(NAME(u"dbx"), imgsec, 0, NBR | AT, 1, M);
	check_prop(NAME(u"dbt"), imgsec, 0, NBR | AT, 1, M);
	check_prop(NAME(u"dbr"), imgsec, 0, NBR | AT, 1, M);
	check_prop(NAME(u"HwErrRec0001"), hwerr, 0, NBR | HR, 1, M);
}

static void
test_property_undefined(void)
{
	CHECK(vv_uefi_var_property(NAME(u"Foo"), global) == NULL);
	CHECK(vv_uefi_var_property(NAME(u"Boot000a"), global) == NULL);  /* lowercase */
	CHECK(vv_uefi_var_property(NAME(u"Boot00001"), global) == NULL); /* 5 digits */
	CHECK(vv_uefi_var_property(NAME(u"Boot001"), global) == NULL);
	CHECK(vv_uefi_var_property(NAME(u"BootG000"), global) == NULL);
	CHECK(vv_uefi_var_property(NAME(u"boot0000"), global) == NULL);
	CHECK(vv_uefi_var_property(NAME(u"bootorder"), global) == NULL);
	CHECK(vv_uefi_var_property(NAME(u"Boot"), global) == NULL);
	CHECK(vv_uefi_var_property(NAME(u"BootOrderX"), global) == NULL);
	CHECK(vv_uefi_var_property(NAME(u"db"), global) == NULL);        /* wrong GUID */
	CHECK(vv_uefi_var_property(NAME(u"dbDefault"), imgsec) == NULL);
	CHECK(vv_uefi_var_property(NAME(u"HwErrRec0001"), global) == NULL);
	CHECK(vv_uefi_var_property(NAME(u"HwErrRec000g"), hwerr) == NULL);
	CHECK(vv_uefi_var_property(NAME(u"BootOrder"), &vendor) == NULL);
	CHECK(vv_uefi_var_property(NAME(u"SetupMode"), &VV_GUID_SECURE_BOOT_ENABLE) == NULL);
	CHECK(vv_uefi_var_property(NULL, 0, global) == NULL);
	CHECK(vv_uefi_var_property(NAME(u"PK"), NULL) == NULL);
	/* A prefix of a table name, and a table name with an embedded NUL. */
	static const uint16_t pk_nul[] = { 'P', 'K', 0 };
	CHECK(vv_uefi_var_property(pk_nul, 3, global) == NULL);
	CHECK(vv_uefi_var_property(NAME(u"P"), global) == NULL);
	/* Wide units that truncate to ASCII table letters do not match. */
	static const uint16_t wide_pk[] = { 0x0150, 0x014B };
	CHECK(vv_uefi_var_property(wide_pk, 2, global) == NULL);
}

/* ---- the handler: names and HR ---- */

static const uint8_t one_byte[1] = { 1 };

static void
test_undefined_names_rejected(void)
{
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"Foo"), global, NBR, one_byte, 1),
		     VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"Boot000a"), global, NBR, one_byte, 1),
		     VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"dbz"), imgsec, NBR | AT, one_byte, 1),
		     VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"PK"), imgsec, NBR | AT, one_byte, 1),
		     VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"Foo"), hwerr, NBR, one_byte, 1),
		     VV_EFI_INVALID_PARAMETER);
	/* VendorKeysNv belongs under its own edk2 GUID, not the global one. */
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"VendorKeysNv"), global, NV | BS | AT, one_byte, 1),
		     VV_EFI_INVALID_PARAMETER);
	/* An append of nothing still may not create an undefined name. */
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"Foo"), global, NBR | VV_ATTR_APPEND, NULL, 0),
		     VV_EFI_INVALID_PARAMETER);
	/* Other GUIDs: any name. */
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"Foo"), &vendor, NBR, one_byte, 1), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"Boot000a"), &vendor, NBR, one_byte, 1),
		     VV_EFI_SUCCESS);
	/* Defined names pass; the value checks of formats without one are
	 * the property's (size 1 for SetupMode is fine). */
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"SetupMode"), global, BS | RT, one_byte, 1),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"db"), imgsec, NBR | AT, one_byte, 1),
		     VV_EFI_SUCCESS);
	/* Deletes are not checked (the store does not even call for them). */
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"Foo"), global, NBR, NULL, 0), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"Foo"), global, 0, one_byte, 1), VV_EFI_SUCCESS);
	/* Data NULL with a size. */
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"Timeout"), global, NBR, NULL, 2),
		     VV_EFI_INVALID_PARAMETER);
}

static void
test_hardware_error_attribute(void)
{
	const uint32_t hr = NBR | HR;

	CHECK_STATUS(vv_varcheck_uefi(NAME(u"HwErrRec0001"), hwerr, hr, one_byte, 1),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"HwErrRecABCD"), hwerr, hr, one_byte, 1),
		     VV_EFI_SUCCESS);
	/* HR on a non-HwErrRec name, any GUID. */
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"Foo"), &vendor, hr, one_byte, 1),
		     VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"BootOrder"), global, hr, one_byte, 1),
		     VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"HwErrRec0001"), global, hr, one_byte, 1),
		     VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"HwErrRec0001"), &vendor, hr, one_byte, 1),
		     VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"HwErrRec000a"), hwerr, hr, one_byte, 1),
		     VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"HwErrRec01"), hwerr, hr, one_byte, 1),
		     VV_EFI_INVALID_PARAMETER);
	/* Without HR the name is defined; the attribute mismatch is the
	 * property's business. */
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"HwErrRec0001"), hwerr, NBR, one_byte, 1),
		     VV_EFI_SUCCESS);
	CHECK(!property_accepts(vv_uefi_var_property(NAME(u"HwErrRec0001"), hwerr), NBR, 1));
}

/* ---- the handler: formats ---- */

/* PciRoot(0x0)/Pci(0x1F,0x2) then End-entire: 12 + 6 + 4 bytes. */
static const uint8_t dp_sata[] = {
	0x02, 0x01, 0x0c, 0x00, 0xd0, 0x41, 0x03, 0x0a, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x01, 0x06, 0x00, 0x02, 0x1f,
	0x7f, 0xff, 0x04, 0x00,
};

/* Builds a load option: attrs, file path length, description "Ab",
 * path bytes, optional bytes.  Returns the size. */
static size_t
make_load_option(uint8_t *out, uint16_t file_path_len, const uint8_t *path, size_t path_size,
		 const uint8_t *opt, size_t opt_size)
{
	size_t off = 0;

	vv_put_le32(out, 1);
	vv_put_le16(out + 4, file_path_len);
	off = 6;
	vv_put_le16(out + off, 'A'); off += 2;
	vv_put_le16(out + off, 'b'); off += 2;
	vv_put_le16(out + off, 0); off += 2;
	memcpy(out + off, path, path_size);
	off += path_size;
	if (opt_size != 0)
		memcpy(out + off, opt, opt_size);
	return off + opt_size;
}

static vv_status
set_boot(const uint8_t *data, size_t size)
{
	return vv_varcheck_uefi(NAME(u"Boot0003"), global, NBR, data, size);
}

static void
test_load_option(void)
{
	uint8_t buf[128], path[64];
	const uint8_t guid16[16] = { 0x4e, 0xac, 0x08, 0x81 };
	size_t n;

	/* Valid, with and without OptionalData. */
	n = make_load_option(buf, sizeof(dp_sata), dp_sata, sizeof(dp_sata), NULL, 0);
	CHECK_STATUS(set_boot(buf, n), VV_EFI_SUCCESS);
	CHECK(vv_load_option_valid(buf, n));
	/* Every truncation of it is invalid. */
	for (size_t cut = 0; cut < n; cut++)
		if (vv_load_option_valid(buf, cut)) {
			printf("# truncation to %zu accepted\n", cut);
			CHECK(!vv_load_option_valid(buf, cut));
		}
	n = make_load_option(buf, sizeof(dp_sata), dp_sata, sizeof(dp_sata), guid16, 16);
	CHECK_STATUS(set_boot(buf, n), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"Driver0001"), global, NBR, buf, n), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"SysPrep0001"), global, NBR, buf, n), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"PlatformRecovery0001"), global, BS | RT, buf, n),
		     VV_EFI_SUCCESS);
	/* A second path in the list (e.g. an initrd) after the first's End. */
	memcpy(path, dp_sata, sizeof(dp_sata));
	memcpy(path + sizeof(dp_sata), dp_sata, sizeof(dp_sata));
	n = make_load_option(buf, 2 * sizeof(dp_sata), path, 2 * sizeof(dp_sata), NULL, 0);
	CHECK_STATUS(set_boot(buf, n), VV_EFI_SUCCESS);
	/* The first path ends inside FilePathListLength; bytes after it in
	 * the list are not its concern. */
	memcpy(path, dp_sata, sizeof(dp_sata));
	memset(path + sizeof(dp_sata), 0, 3);
	n = make_load_option(buf, sizeof(dp_sata) + 3, path, sizeof(dp_sata) + 3, NULL, 0);
	CHECK_STATUS(set_boot(buf, n), VV_EFI_SUCCESS);

	/* Description without NUL: the data ends inside it. */
	vv_put_le32(buf, 1);
	vv_put_le16(buf + 4, 4);
	vv_put_le16(buf + 6, 'A');
	vv_put_le16(buf + 8, 'b');
	CHECK_STATUS(set_boot(buf, 10), VV_EFI_INVALID_PARAMETER);
	/* ... or only half of the NUL unit is inside. */
	buf[10] = 0;
	CHECK_STATUS(set_boot(buf, 11), VV_EFI_INVALID_PARAMETER);
	/* Header only (6 bytes) and shorter. */
	CHECK_STATUS(set_boot(buf, 6), VV_EFI_INVALID_PARAMETER);
	CHECK(!vv_load_option_valid(buf, 5));
	CHECK(!vv_load_option_valid(buf, 0));

	/* FilePathListLength past the end of the data. */
	n = make_load_option(buf, sizeof(dp_sata) + 1, dp_sata, sizeof(dp_sata), NULL, 0);
	CHECK_STATUS(set_boot(buf, n), VV_EFI_INVALID_PARAMETER);
	n = make_load_option(buf, 0xFFFF, dp_sata, sizeof(dp_sata), NULL, 0);
	CHECK_STATUS(set_boot(buf, n), VV_EFI_INVALID_PARAMETER);
	/* FilePathListLength below 4. */
	n = make_load_option(buf, 3, dp_sata, sizeof(dp_sata), NULL, 0);
	CHECK_STATUS(set_boot(buf, n), VV_EFI_INVALID_PARAMETER);
	n = make_load_option(buf, 0, dp_sata, sizeof(dp_sata), NULL, 0);
	CHECK_STATUS(set_boot(buf, n), VV_EFI_INVALID_PARAMETER);
	/* The End node lies beyond FilePathListLength (in OptionalData). */
	n = make_load_option(buf, sizeof(dp_sata) - 4, dp_sata, sizeof(dp_sata), NULL, 0);
	CHECK_STATUS(set_boot(buf, n), VV_EFI_INVALID_PARAMETER);

	/* A node shorter than 4. */
	memcpy(path, dp_sata, sizeof(dp_sata));
	vv_put_le16(path + 14, 3);
	n = make_load_option(buf, sizeof(dp_sata), path, sizeof(dp_sata), NULL, 0);
	CHECK_STATUS(set_boot(buf, n), VV_EFI_INVALID_PARAMETER);
	vv_put_le16(path + 14, 0);    /* length 0 must not loop */
	n = make_load_option(buf, sizeof(dp_sata), path, sizeof(dp_sata), NULL, 0);
	CHECK_STATUS(set_boot(buf, n), VV_EFI_INVALID_PARAMETER);
	/* A node longer than the list. */
	vv_put_le16(path + 14, 11);
	n = make_load_option(buf, sizeof(dp_sata), path, sizeof(dp_sata), NULL, 0);
	CHECK_STATUS(set_boot(buf, n), VV_EFI_INVALID_PARAMETER);

	/* Missing End node: the path is only PciRoot/Pci. */
	n = make_load_option(buf, 18, dp_sata, 18, NULL, 0);
	CHECK_STATUS(set_boot(buf, n), VV_EFI_INVALID_PARAMETER);
	/* End-entire node with a length other than 4. */
	memcpy(path, dp_sata, sizeof(dp_sata));
	path[sizeof(dp_sata)] = 0;
	vv_put_le16(path + 20, 5);
	n = make_load_option(buf, sizeof(dp_sata) + 1, path, sizeof(dp_sata) + 1, NULL, 0);
	CHECK_STATUS(set_boot(buf, n), VV_EFI_INVALID_PARAMETER);
}

/* Two-instance path: Pci-node instance, End-instance, ACPI instance, End. */
static const uint8_t dp_two_instances[] = {
	0x01, 0x01, 0x06, 0x00, 0x00, 0x1f,
	0x7f, 0x01, 0x04, 0x00,
	0x02, 0x01, 0x0c, 0x00, 0xd0, 0x41, 0x03, 0x0a, 0x00, 0x00, 0x00, 0x00,
	0x7f, 0xff, 0x04, 0x00,
};

static void
test_device_path(void)
{
	uint8_t buf[64];

	CHECK(vv_device_path_valid(dp_sata, sizeof(dp_sata), false));
	CHECK(vv_device_path_valid(dp_sata, sizeof(dp_sata), true));
	CHECK(vv_device_path_valid(dp_two_instances, sizeof(dp_two_instances), true));
	CHECK(!vv_device_path_valid(dp_two_instances, sizeof(dp_two_instances), false));
	CHECK(vv_device_path_valid(dp_sata + 18, 4, false));      /* End node alone */
	CHECK(!vv_device_path_valid(NULL, 0, true));
	for (size_t cut = 0; cut < sizeof(dp_two_instances); cut++)
		CHECK(!vv_device_path_valid(dp_two_instances, cut, true));

	CHECK_STATUS(vv_varcheck_uefi(NAME(u"ConIn"), global, NBR, dp_two_instances,
				      sizeof(dp_two_instances)), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"ConOutDev"), global, BS | RT, dp_two_instances,
				      sizeof(dp_two_instances)), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"ErrOut"), global, NBR, dp_sata, sizeof(dp_sata)),
		     VV_EFI_SUCCESS);

	/* Bytes after the End node. */
	memcpy(buf, dp_sata, sizeof(dp_sata));
	buf[sizeof(dp_sata)] = 0;
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"ConOut"), global, NBR, buf, sizeof(dp_sata) + 1),
		     VV_EFI_INVALID_PARAMETER);
	/* No End node: ends with End-instance. */
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"ConOut"), global, NBR, dp_two_instances, 10),
		     VV_EFI_INVALID_PARAMETER);
	/* Node length 0, 3, and past the end. */
	memcpy(buf, dp_sata, sizeof(dp_sata));
	vv_put_le16(buf + 2, 0);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"ConIn"), global, NBR, buf, sizeof(dp_sata)),
		     VV_EFI_INVALID_PARAMETER);
	vv_put_le16(buf + 2, 3);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"ConIn"), global, NBR, buf, sizeof(dp_sata)),
		     VV_EFI_INVALID_PARAMETER);
	vv_put_le16(buf + 2, sizeof(dp_sata) + 1);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"ConIn"), global, NBR, buf, sizeof(dp_sata)),
		     VV_EFI_INVALID_PARAMETER);
	/* End-entire with length 8 covering the tail. */
	memcpy(buf, dp_sata, sizeof(dp_sata));
	vv_put_le16(buf + 20, 8);
	memset(buf + 22, 0, 4);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"ConIn"), global, NBR, buf, 26),
		     VV_EFI_INVALID_PARAMETER);
	/* Fewer than 4 bytes. */
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"ConIn"), global, NBR, dp_sata + 18, 3),
		     VV_EFI_INVALID_PARAMETER);
}

static void
test_size_arrays(void)
{
	const uint8_t order[6] = { 0, 0, 1, 0, 2, 0 };
	uint8_t guids[48] = { 0 };

	CHECK_STATUS(vv_varcheck_uefi(NAME(u"BootOrder"), global, NBR, order, 6), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"BootOrder"), global, NBR, order, 5),
		     VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"BootOrder"), global, NBR, order, 1),
		     VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"DriverOrder"), global, NBR, order, 3),
		     VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"SysPrepOrder"), global, NBR, order, 4),
		     VV_EFI_SUCCESS);
	/* An odd append fragment is checked like a value. */
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"BootOrder"), global, NBR | VV_ATTR_APPEND, order, 3),
		     VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"SignatureSupport"), global, BS | RT, guids, 32),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"SignatureSupport"), global, BS | RT, guids, 17),
		     VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"OsRecoveryOrder"), global, NBR | AT, guids, 48),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"OsRecoveryOrder"), global, NBR | AT, guids, 40),
		     VV_EFI_INVALID_PARAMETER);
}

static void
test_fixed_sizes_by_property(void)
{
	const uint8_t three[3] = { 0 };
	const struct vv_var_property *timeout = vv_uefi_var_property(NAME(u"Timeout"), global);

	REQUIRE(timeout != NULL);
	CHECK(!property_accepts(timeout, NBR, 3));
	CHECK(!property_accepts(timeout, NBR, 1));
	CHECK(property_accepts(timeout, NBR, 2));
	CHECK(!property_accepts(timeout, BS | RT, 2));     /* attributes */
	CHECK(property_accepts(timeout, NBR | VV_ATTR_APPEND, 2));
	/* The range is the store's check from the property; the handler has
	 * no format rule for Timeout. */
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"Timeout"), global, NBR, three, 3), VV_EFI_SUCCESS);
	CHECK(!property_accepts(vv_uefi_var_property(NAME(u"BootNext"), global), NBR, 3));
	CHECK(!property_accepts(vv_uefi_var_property(NAME(u"OsIndications"), global), NBR, 4));
	CHECK(!property_accepts(vv_uefi_var_property(NAME(u"SetupMode"), global), BS | RT, 2));
	CHECK(!property_accepts(vv_uefi_var_property(NAME(u"Boot0000"), global), NBR, 5));
	CHECK(!property_accepts(vv_uefi_var_property(NAME(u"Key0000"), global), NBR, 26));
	CHECK(!property_accepts(vv_uefi_var_property(NAME(u"PK"), global), NBR, 1));
}

static vv_status
set_key(const uint8_t *data, size_t size)
{
	return vv_varcheck_uefi(NAME(u"Key00A0"), global, NBR, data, size);
}

static void
test_key_option(void)
{
	uint8_t buf[32] = { 0 };

	/* InputKeyCount 0: exactly 10 bytes. */
	vv_put_le32(buf, 0x00000000);
	CHECK_STATUS(set_key(buf, 10), VV_EFI_SUCCESS);
	CHECK_STATUS(set_key(buf, 14), VV_EFI_INVALID_PARAMETER);
	/* Count 1: 14 bytes (what OVMF writes). */
	vv_put_le32(buf, 0x40000000);
	CHECK_STATUS(set_key(buf, 14), VV_EFI_SUCCESS);
	CHECK_STATUS(set_key(buf, 10), VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(set_key(buf, 18), VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(set_key(buf, 12), VV_EFI_INVALID_PARAMETER);
	/* Count 3: 22 bytes, the maximum; the other KeyData bits don't count. */
	vv_put_le32(buf, 0xC0000FFF);
	CHECK_STATUS(set_key(buf, 22), VV_EFI_SUCCESS);
	CHECK_STATUS(set_key(buf, 18), VV_EFI_INVALID_PARAMETER);
	/* Shorter than the EFI_KEY_OPTION itself. */
	CHECK_STATUS(set_key(buf, 9), VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(set_key(buf, 1), VV_EFI_INVALID_PARAMETER);
}

static void
test_ascii_strings(void)
{
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"Lang"), global, NBR, (const uint8_t *)"eng", 4),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"Lang"), global, NBR, (const uint8_t *)"eng", 3),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"PlatformLang"), global, NBR,
				      (const uint8_t *)"en-US", 6), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"PlatformLangCodes"), global, BS | RT,
				      (const uint8_t *)"en;fr", 6), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"Lang"), global, NBR, (const uint8_t *)"en\xe9", 4),
		     VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"LangCodes"), global, BS | RT,
				      (const uint8_t *)"engfr\x80", 6), VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(vv_varcheck_uefi(NAME(u"PlatformLang"), global, NBR,
				      (const uint8_t *)"\xff", 1), VV_EFI_INVALID_PARAMETER);
}

static const struct vv_test tests[] = {
	TEST(test_ovmf_boot_writes_pass),
	TEST(test_property_table),
	TEST(test_property_undefined),
	TEST(test_undefined_names_rejected),
	TEST(test_hardware_error_attribute),
	TEST(test_load_option),
	TEST(test_device_path),
	TEST(test_size_arrays),
	TEST(test_fixed_sizes_by_property),
	TEST(test_key_option),
	TEST(test_ascii_strings),
};

VV_TEST_MAIN(tests)
