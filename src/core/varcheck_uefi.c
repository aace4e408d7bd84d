/*
 * src/core/varcheck_uefi.c -- the rules for the variables the UEFI
 * specification defines: their VarCheck properties (attributes, size range,
 * read-only flag) and the SetVariable handler that checks names under the
 * specification's namespaces and the formats of the values (what edk2's
 * VarCheckUefiLib does).
 *
 * Reference: shared/reference/varstore-formats.md §8.2 rows 13-16, §8.5,
 * §10.1 (namespaces), §10.2 (EFI_GLOBAL_VARIABLE names), §10.3
 * (EFI_LOAD_OPTION), §10.5 (device-path nodes).
 *
 * Every payload comes from the guest: the validators read only inside
 * [p, p + size) and compare lengths against what remains (never p + len).
 * Lookups run once per SetVariable: names are compared unit by unit with
 * the ASCII table text (no conversion), the fixed names are found by binary
 * search, the ####-patterns by their length and prefix.
 */
#include <stdio.h>
#include <string.h>

#include "core/varcheck_uefi.h"

/* How a defined variable's value is checked (§8.2 row 16). */
enum uefi_format {
	FMT_NONE,               /* size range only (the store checks it) */
	FMT_ASCII,              /* language strings: bytes < 0x80 */
	FMT_SIZE_ARRAY,         /* size a multiple of min_size (UINT16[], GUID[]) */
	FMT_DEVICE_PATH,        /* multi-instance device path */
	FMT_LOAD_OPTION,        /* EFI_LOAD_OPTION (§10.3) */
	FMT_KEY_OPTION,         /* EFI_KEY_OPTION + InputKeyCount EFI_INPUT_KEYs */
};

struct uefi_var {
	const char *name;       /* ASCII; for patterns the prefix before #### */
	uint8_t name_len;       /* strlen(name) */
	uint8_t format;         /* enum uefi_format */
	struct vv_var_property prop;
};

#define NV      VV_ATTR_NV
#define BS      VV_ATTR_BS
#define RT      VV_ATTR_RT
#define HR      VV_ATTR_HR
#define AT      VV_ATTR_AT
#define RO      VV_VAR_CHECK_PROPERTY_READ_ONLY
#define UNBOUNDED UINT64_MAX

#define VAR(n, fmt, flags, attr, min, max) \
	{ n, sizeof(n) - 1, fmt, { VV_VAR_CHECK_PROPERTY_REVISION, flags, attr, min, max } }

/* Sizes of the packed structures (§10.3; UEFI spec §3.1.6 for Key####). */
#define LOAD_OPTION_HEADER_SIZE 6       /* Attributes u32, FilePathListLength u16 */
#define KEY_OPTION_SIZE         10      /* KeyData u32, BootOptionCrc u32, BootOption u16 */
#define INPUT_KEY_SIZE          4       /* ScanCode u16, UnicodeChar u16 */
#define DEVICE_PATH_HEADER_SIZE 4       /* Type u8, SubType u8, Length u16 */

/*
 * EFI_GLOBAL_VARIABLE fixed names (§10.2, §8.5), sorted by (length, then
 * ASCII byte order) for binary search: keep the order when adding a name.
 */
static const struct uefi_var global_vars[] = {
	VAR("PK", FMT_NONE, 0, NV | BS | RT | AT, 1, UNBOUNDED),
	VAR("KEK", FMT_NONE, 0, NV | BS | RT | AT, 1, UNBOUNDED),
	VAR("Lang", FMT_ASCII, 0, NV | BS | RT, 1, UNBOUNDED),
	VAR("ConIn", FMT_DEVICE_PATH, 0, NV | BS | RT, 4, UNBOUNDED),
	VAR("ConOut", FMT_DEVICE_PATH, 0, NV | BS | RT, 4, UNBOUNDED),
	VAR("ErrOut", FMT_DEVICE_PATH, 0, NV | BS | RT, 4, UNBOUNDED),
	VAR("Timeout", FMT_NONE, 0, NV | BS | RT, 2, 2),
	VAR("BootNext", FMT_NONE, 0, NV | BS | RT, 2, 2),
	VAR("ConInDev", FMT_DEVICE_PATH, 0, BS | RT, 4, UNBOUNDED),
	VAR("AuditMode", FMT_NONE, RO, BS | RT, 1, 1),
	VAR("BootOrder", FMT_SIZE_ARRAY, 0, NV | BS | RT, 2, UNBOUNDED),
	VAR("ConOutDev", FMT_DEVICE_PATH, 0, BS | RT, 4, UNBOUNDED),
	VAR("ErrOutDev", FMT_DEVICE_PATH, 0, BS | RT, 4, UNBOUNDED),
	VAR("LangCodes", FMT_ASCII, 0, BS | RT, 1, UNBOUNDED),
	VAR("PKDefault", FMT_NONE, RO, BS | RT, 1, UNBOUNDED),
	VAR("SetupMode", FMT_NONE, RO, BS | RT, 1, 1),
	VAR("dbDefault", FMT_NONE, RO, BS | RT, 1, UNBOUNDED),
	VAR("KEKDefault", FMT_NONE, RO, BS | RT, 1, UNBOUNDED),
	VAR("SecureBoot", FMT_NONE, RO, BS | RT, 1, 1),
	VAR("VendorKeys", FMT_NONE, RO, BS | RT, 1, 1),
	VAR("dbrDefault", FMT_NONE, RO, BS | RT, 1, UNBOUNDED),
	VAR("dbtDefault", FMT_NONE, RO, BS | RT, 1, UNBOUNDED),
	VAR("dbxDefault", FMT_NONE, RO, BS | RT, 1, UNBOUNDED),
	VAR("BootCurrent", FMT_NONE, 0, BS | RT, 2, 2),
	VAR("DriverOrder", FMT_SIZE_ARRAY, 0, NV | BS | RT, 2, UNBOUNDED),
	VAR("devAuthBoot", FMT_NONE, RO, BS | RT, 1, 1),
	VAR("DeployedMode", FMT_NONE, RO, BS | RT, 1, 1),
	VAR("PlatformLang", FMT_ASCII, 0, NV | BS | RT, 1, UNBOUNDED),
	VAR("SysPrepOrder", FMT_SIZE_ARRAY, 0, NV | BS | RT, 2, UNBOUNDED),
	VAR("devdbDefault", FMT_NONE, RO, BS | RT, 1, UNBOUNDED),
	VAR("OsIndications", FMT_NONE, 0, NV | BS | RT, 8, 8),
	VAR("HwErrRecSupport", FMT_NONE, 0, NV | BS | RT, 2, 2),
	VAR("OsRecoveryOrder", FMT_SIZE_ARRAY, 0, NV | BS | RT | AT, 16, UNBOUNDED),
	VAR("SignatureSupport", FMT_SIZE_ARRAY, RO, BS | RT, 16, UNBOUNDED),
	VAR("BootOptionSupport", FMT_NONE, 0, BS | RT, 4, 4),
	VAR("CryptoIndications", FMT_NONE, 0, NV | BS | RT, 8, 8),
	VAR("PlatformLangCodes", FMT_ASCII, 0, BS | RT, 1, UNBOUNDED),
	VAR("OsIndicationsSupported", FMT_NONE, 0, BS | RT, 8, 8),
	VAR("CryptoIndicationsActivated", FMT_NONE, 0, BS | RT, 8, 8),
	VAR("CryptoIndicationsSupported", FMT_NONE, 0, BS | RT, 8, 8),
};

/* EFI_GLOBAL_VARIABLE ####-patterns: the prefix, then exactly four
 * uppercase hex digits (§10.2). */
static const struct uefi_var global_patterns[] = {
	VAR("Key", FMT_KEY_OPTION, 0, NV | BS | RT, KEY_OPTION_SIZE,
	    KEY_OPTION_SIZE + 3 * INPUT_KEY_SIZE),
	VAR("Boot", FMT_LOAD_OPTION, 0, NV | BS | RT, LOAD_OPTION_HEADER_SIZE, UNBOUNDED),
	VAR("Driver", FMT_LOAD_OPTION, 0, NV | BS | RT, LOAD_OPTION_HEADER_SIZE, UNBOUNDED),
	VAR("SysPrep", FMT_LOAD_OPTION, 0, NV | BS | RT, LOAD_OPTION_HEADER_SIZE, UNBOUNDED),
	VAR("PlatformRecovery", FMT_LOAD_OPTION, 0, BS | RT, LOAD_OPTION_HEADER_SIZE, UNBOUNDED),
};

/* EFI_IMAGE_SECURITY_DATABASE_GUID (§10.1), same ordering as global_vars. */
static const struct uefi_var image_security_vars[] = {
	VAR("db", FMT_NONE, 0, NV | BS | RT | AT, 1, UNBOUNDED),
	VAR("dbr", FMT_NONE, 0, NV | BS | RT | AT, 1, UNBOUNDED),
	VAR("dbt", FMT_NONE, 0, NV | BS | RT | AT, 1, UNBOUNDED),
	VAR("dbx", FMT_NONE, 0, NV | BS | RT | AT, 1, UNBOUNDED),
};

/* EFI_HARDWARE_ERROR_VARIABLE: HwErrRec#### (§8.1, §10.1). */
static const struct uefi_var hwerr_pattern =
	VAR("HwErrRec", FMT_NONE, 0, NV | BS | RT | HR, 1, UNBOUNDED);

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Orders a UCS-2 name against table text: by length, then unit by unit. */
static int
name_cmp(const uint16_t *name, size_t name_len, const struct uefi_var *v)
{
	if (name_len != v->name_len)
		return name_len < v->name_len ? -1 : 1;
	for (size_t i = 0; i < name_len; i++) {
		uint16_t c = (unsigned char)v->name[i];

		if (name[i] != c)
			return name[i] < c ? -1 : 1;
	}
	return 0;
}

static const struct uefi_var *
find_fixed(const struct uefi_var *table, size_t n, const uint16_t *name, size_t name_len)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = name_cmp(name, name_len, &table[mid]);

		if (c == 0)
			return &table[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* VarCheck accepts only 0-9 and A-F in a #### suffix (§10.2 Boot####). */
static bool
is_upper_hex(uint16_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* True if name is v->name followed by exactly four uppercase hex digits. */
static bool
matches_pattern(const uint16_t *name, size_t name_len, const struct uefi_var *v)
{
	if (name_len != (size_t)v->name_len + 4)
		return false;
	for (size_t i = 0; i < v->name_len; i++)
		if (name[i] != (unsigned char)v->name[i])
			return false;
	for (size_t i = v->name_len; i < name_len; i++)
		if (!is_upper_hex(name[i]))
			return false;
	return true;
}

static bool
is_hwerr_rec(const uint16_t *name, size_t name_len, const vv_guid *guid)
{
	return vv_guid_equal(guid, &VV_GUID_HARDWARE_ERROR) &&
	    matches_pattern(name, name_len, &hwerr_pattern);
}

/* The table entry of a UEFI-defined (guid, name), or NULL. */
static const struct uefi_var *
lookup(const uint16_t *name, size_t name_len, const vv_guid *guid)
{
	const struct uefi_var *v;

	if (name == NULL || name_len == 0 || guid == NULL)
		return NULL;
	if (vv_guid_equal(guid, &VV_GUID_GLOBAL_VARIABLE)) {
		v = find_fixed(global_vars, NELEM(global_vars), name, name_len);
		if (v != NULL)
			return v;
		for (size_t i = 0; i < NELEM(global_patterns); i++)
			if (matches_pattern(name, name_len, &global_patterns[i]))
				return &global_patterns[i];
		return NULL;
	}
	if (vv_guid_equal(guid, &VV_GUID_IMAGE_SECURITY_DB))
		return find_fixed(image_security_vars, NELEM(image_security_vars), name, name_len);
	if (is_hwerr_rec(name, name_len, guid))
		return &hwerr_pattern;
	return NULL;
}

const struct vv_var_property *
vv_uefi_var_property(const uint16_t *name, size_t name_len, const vv_guid *guid)
{
	const struct uefi_var *v = lookup(name, name_len, guid);

	return v != NULL ? &v->prop : NULL;
}

/* The namespaces whose names the specification reserves (§8.2 row 15). */
static bool
is_spec_namespace(const vv_guid *guid)
{
	return vv_guid_equal(guid, &VV_GUID_GLOBAL_VARIABLE) ||
	    vv_guid_equal(guid, &VV_GUID_IMAGE_SECURITY_DB) ||
	    vv_guid_equal(guid, &VV_GUID_HARDWARE_ERROR);
}

/*
 * Walks device-path nodes from p[0] (§10.5).  Each node: Type u8, SubType
 * u8, Length u16 LE with 4 <= Length <= bytes remaining.  Stops at the
 * first End-entire node (7F/FF), which must have Length 4; *used is then
 * the offset just past it.  End-instance nodes (7F/01) are accepted only
 * when allow_instances.  Every iteration consumes >= 4 bytes, so the walk
 * ends within size / 4 steps.
 */
static bool
walk_device_path(const uint8_t *p, uint64_t size, bool allow_instances, uint64_t *used)
{
	uint64_t off = 0;

	for (;;) {
		uint64_t remaining = size - off;        /* off <= size holds */
		uint8_t type, subtype;
		uint16_t len;

		if (remaining < DEVICE_PATH_HEADER_SIZE)
			return false;   /* no End node inside the data */
		type = p[off];
		subtype = p[off + 1];
		len = vv_le16(p + off + 2);
		if (len < DEVICE_PATH_HEADER_SIZE || len > remaining)
			return false;
		if (type == 0x7F && subtype == 0xFF) {
			if (len != DEVICE_PATH_HEADER_SIZE)
				return false;
			*used = off + len;
			return true;
		}
		if (type == 0x7F && subtype == 0x01 && !allow_instances)
			return false;
		off += len;
	}
}

/*
 * A whole variable that is a device path: nodes up to an End-entire node
 * that ends exactly at the end of the data; End-instance nodes separate
 * instances when multi_instance.
 */
bool
vv_device_path_valid(const uint8_t *p, uint64_t size, bool multi_instance)
{
	uint64_t used;

	if (p == NULL)
		return false;
	if (!walk_device_path(p, size, multi_instance, &used))
		return false;
	return used == size;
}

/*
 * EFI_LOAD_OPTION (§10.3): Attributes u32, FilePathListLength u16,
 * Description (CHAR16, NUL-terminated, the NUL inside the data),
 * FilePathList (FilePathListLength >= 4 bytes, inside the data), then
 * OptionalData (the rest, any content).  The first device path of the list
 * must reach its End-entire node inside FilePathListLength; further paths
 * are extra data.  Like edk2's IsDevicePathValid, End-instance nodes in it
 * are accepted.
 */
bool
vv_load_option_valid(const uint8_t *p, uint64_t size)
{
	uint64_t off, file_path_len, used;

	if (p == NULL || size < LOAD_OPTION_HEADER_SIZE)
		return false;
	file_path_len = vv_le16(p + 4);

	/* Description: CHAR16 units from offset 6 up to and including the
	 * first NUL unit, which must lie wholly inside the data. */
	off = LOAD_OPTION_HEADER_SIZE;
	for (;;) {
		if (size - off < 2)
			return false;
		off += 2;
		if (vv_le16(p + off - 2) == 0)
			break;
	}

	if (file_path_len < DEVICE_PATH_HEADER_SIZE || file_path_len > size - off)
		return false;
	return walk_device_path(p + off, file_path_len, true, &used);
}

/*
 * EFI_KEY_OPTION (UEFI spec §3.1.6): KeyData u32 (bits 30-31 are
 * InputKeyCount), BootOptionCrc u32, BootOption u16, then exactly
 * InputKeyCount EFI_INPUT_KEYs of 4 bytes.
 */
static bool
key_option_valid(const uint8_t *p, uint64_t size)
{
	uint32_t input_key_count;

	if (size < KEY_OPTION_SIZE)
		return false;
	input_key_count = vv_le32(p) >> 30;
	return size - KEY_OPTION_SIZE == (uint64_t)input_key_count * INPUT_KEY_SIZE;
}

/* Language variables (§10.2): ASCII bytes; a trailing NUL is allowed but
 * not required (OVMF writes "eng\0", "en-US\0"). */
static bool
ascii_valid(const uint8_t *p, uint64_t size)
{
	for (uint64_t i = 0; i < size; i++)
		if (p[i] >= 0x80)
			return false;
	return true;
}

static bool
format_valid(const struct uefi_var *v, const uint8_t *p, uint64_t size)
{
	switch (v->format) {
	case FMT_NONE:
		return true;
	case FMT_ASCII:
		return ascii_valid(p, size);
	case FMT_SIZE_ARRAY:
		/* edk2 uses min_size as the element size (2 or 16). */
		return size % v->prop.min_size == 0;
	case FMT_DEVICE_PATH:
		return vv_device_path_valid(p, size, true);
	case FMT_LOAD_OPTION:
		return vv_load_option_valid(p, size);
	case FMT_KEY_OPTION:
		return key_option_valid(p, size);
	}
	return false;
}

/* What a value of v's format must be, for the refusal (§10.2, §10.3,
 * §10.5; UEFI spec §3.1.6 for Key####). */
static void
format_why(const struct uefi_var *v, const uint8_t *p, uint64_t size, char *why, size_t cap)
{
	switch (v->format) {
	case FMT_ASCII:
		for (uint64_t i = 0; i < size; i++)
			if (p[i] >= 0x80) {
				snprintf(why, cap, "its value must be ASCII (a language code); byte %llu "
					 "is 0x%02x", (unsigned long long)i, p[i]);
				return;
			}
		break;
	case FMT_SIZE_ARRAY:
		snprintf(why, cap, "its value is an array of %llu-byte %s; %llu bytes is not a "
			 "multiple of %llu", (unsigned long long)v->prop.min_size,
			 v->prop.min_size == 2 ? "UINT16 option numbers" : "GUIDs",
			 (unsigned long long)size, (unsigned long long)v->prop.min_size);
		return;
	case FMT_DEVICE_PATH:
		snprintf(why, cap, "its value is not a well-formed device path (nodes of 4 or more "
			 "bytes, the last an End node ending exactly at the end of the value)");
		return;
	case FMT_LOAD_OPTION:
		snprintf(why, cap, "its value is not a well-formed EFI_LOAD_OPTION (attributes, "
			 "file path list length, a NUL-terminated UCS-2 description, then a "
			 "device path ending in an End node; vmvars boot add builds one)");
		return;
	case FMT_KEY_OPTION:
		snprintf(why, cap, "its value is not a well-formed EFI_KEY_OPTION (10 bytes, then "
			 "the 4-byte input keys its KeyData counts)");
		return;
	default:
		break;
	}
	snprintf(why, cap, "its value breaks the variable's format");
}

static const char *
namespace_name(const vv_guid *g)
{
	if (vv_guid_equal(g, &VV_GUID_GLOBAL_VARIABLE))
		return "EFI_GLOBAL_VARIABLE";
	if (vv_guid_equal(g, &VV_GUID_IMAGE_SECURITY_DB))
		return "EFI_IMAGE_SECURITY_DATABASE";
	return "EFI_HARDWARE_ERROR_VARIABLE";
}

vv_status
vv_varcheck_uefi_why(const uint16_t *name, size_t name_len, const vv_guid *guid,
		     uint32_t attributes, const uint8_t *payload, uint64_t payload_size,
		     char *why, size_t cap)
{
	const struct uefi_var *v;
	char scratch[8];

	if (why == NULL || cap == 0) {
		why = scratch;
		cap = sizeof(scratch);
	}
	why[0] = '\0';
	if (guid == NULL || (name == NULL && name_len != 0))
		return VV_EFI_INVALID_PARAMETER;
	/* Deletes are not checked (§8.2 rows 14-16 "not for deletes"). */
	if ((payload_size == 0 && (attributes & VV_ATTR_APPEND) == 0) ||
	    (attributes & (VV_ATTR_BS | VV_ATTR_RT)) == 0)
		return VV_EFI_SUCCESS;
	if (payload_size != 0 && payload == NULL)
		return VV_EFI_INVALID_PARAMETER;

	/* Row 15: HR only for HwErrRec#### under the hardware-error GUID. */
	if ((attributes & VV_ATTR_HR) != 0 && !is_hwerr_rec(name, name_len, guid)) {
		snprintf(why, cap, "the HARDWARE_ERROR_RECORD attribute is only for HwErrRec#### "
			 "(four uppercase hex digits) in the hardware-error namespace");
		return VV_EFI_INVALID_PARAMETER;
	}

	/* Row 15: only names the specification defines under its GUIDs. */
	if (!is_spec_namespace(guid))
		return VV_EFI_SUCCESS;
	v = lookup(name, name_len, guid);
	if (v == NULL) {
		snprintf(why, cap, "the UEFI specification defines no variable of this name in the "
			 "%s namespace, which takes only the names it defines (edk2 "
			 "VarCheckUefiLib)", namespace_name(guid));
		return VV_EFI_INVALID_PARAMETER;
	}

	/* Row 16: formats; an append of nothing has no value to check. */
	if (payload_size == 0 || format_valid(v, payload, payload_size))
		return VV_EFI_SUCCESS;
	format_why(v, payload, payload_size, why, cap);
	return VV_EFI_INVALID_PARAMETER;
}

vv_status
vv_varcheck_uefi(const uint16_t *name, size_t name_len, const vv_guid *guid,
		 uint32_t attributes, const uint8_t *payload, uint64_t payload_size)
{
	return vv_varcheck_uefi_why(name, name_len, guid, attributes, payload, payload_size,
				    NULL, 0);
}
