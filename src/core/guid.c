/*
 * src/core/guid.c -- EFI_GUID text <-> wire layout, and the well-known
 * namespace and protocol GUIDs (device-abi §6.3-§6.5, formats §10.1, §7.6).
 *
 * Wire layout (device-abi §1, formats §10.1): Data1 u32 LE, Data2 u16 LE,
 * Data3 u16 LE, Data4[8] in text order.  So the text
 * "8be4df61-93ca-11d2-aa0d-00e098032b8c" is the bytes
 * 61 df e4 8b ca 93 d2 11 aa 0d 00 e0 98 03 2b 8c.
 */
#include <string.h>
#include <strings.h>

#include <vmvars/efi.h>

/* Builds the wire bytes of a GUID written as its four text fields. */
#define VV_GUID_INIT(d1, d2, d3, a, b, c, d, e, f, g, h) {{ \
	(uint8_t)(d1), (uint8_t)((d1) >> 8), (uint8_t)((d1) >> 16), (uint8_t)((d1) >> 24), \
	(uint8_t)(d2), (uint8_t)((d2) >> 8), (uint8_t)(d3), (uint8_t)((d3) >> 8), \
	a, b, c, d, e, f, g, h }}

const vv_guid VV_GUID_GLOBAL_VARIABLE = VV_GUID_INIT(0x8be4df61, 0x93ca, 0x11d2,
	0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c);
const vv_guid VV_GUID_IMAGE_SECURITY_DB = VV_GUID_INIT(0xd719b2cb, 0x3d3a, 0x4596,
	0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f);
const vv_guid VV_GUID_HARDWARE_ERROR = VV_GUID_INIT(0x414e6bdd, 0xe47b, 0x47cc,
	0xb2, 0x44, 0xbb, 0x61, 0x02, 0x0c, 0xf5, 0x16);
const vv_guid VV_GUID_SECURE_BOOT_ENABLE = VV_GUID_INIT(0xf0a30bc7, 0xaf08, 0x4556,
	0x99, 0xc4, 0x00, 0x10, 0x09, 0xc9, 0x3a, 0x44);
const vv_guid VV_GUID_CUSTOM_MODE = VV_GUID_INIT(0xc076ec0c, 0x7028, 0x4399,
	0xa0, 0x72, 0x71, 0xee, 0x5c, 0x44, 0x8b, 0x9f);
const vv_guid VV_GUID_VENDOR_KEYS_NV = VV_GUID_INIT(0x9073e4e0, 0x60ec, 0x4b6e,
	0x99, 0x03, 0x4c, 0x22, 0x3c, 0x26, 0x0f, 0x3c);
const vv_guid VV_GUID_CERT_DB = VV_GUID_INIT(0xd9bee56e, 0x75dc, 0x49d9,
	0xb4, 0xd7, 0xb5, 0x34, 0x21, 0x0f, 0x63, 0x7a);
const vv_guid VV_GUID_MOR = VV_GUID_INIT(0xe20939be, 0x32d4, 0x41be,
	0xa1, 0x50, 0x89, 0x7f, 0x85, 0xd4, 0x98, 0x29);
const vv_guid VV_GUID_MOR_LOCK = VV_GUID_INIT(0xbb983ccf, 0x151d, 0x40e1,
	0xa0, 0x7b, 0x4a, 0x17, 0xbe, 0x16, 0x82, 0x92);
const vv_guid VV_GUID_SMM_VARIABLE = VV_GUID_INIT(0xed32d533, 0x99e6, 0x4209,
	0x9c, 0xc0, 0x2d, 0x72, 0xcd, 0xd9, 0x98, 0xa7);
const vv_guid VV_GUID_VAR_CHECK_POLICY_MMI = VV_GUID_INIT(0xda1b0d11, 0xd1a7, 0x46c4,
	0x9d, 0xc9, 0xf3, 0x71, 0x48, 0x75, 0xc6, 0xeb);
const vv_guid VV_GUID_END_OF_DXE = VV_GUID_INIT(0x02ce967a, 0xdd7e, 0x4ffc,
	0x9e, 0xe7, 0x81, 0x0c, 0xf0, 0x47, 0x08, 0x80);
const vv_guid VV_GUID_READY_TO_BOOT = VV_GUID_INIT(0x7ce88fb3, 0x4bd7, 0x4679,
	0x87, 0xa8, 0xa8, 0xd8, 0xde, 0xe5, 0x0d, 0x2b);
const vv_guid VV_GUID_EXIT_BOOT_SERVICES = VV_GUID_INIT(0x27abf055, 0xb1b8, 0x4c26,
	0x80, 0x48, 0x74, 0x8f, 0x37, 0xba, 0xa2, 0xdf);

/* Well-known GUIDs kept as canonical text; names follow virt-firmware's
 * efi/guids.py where it has one (formats §7.6), else edk2's. */
struct guid_name {
	const char *text;
	const char *name;
};

static const struct guid_name guid_names[] = {
	/* variable namespaces (formats §10.1, device-abi §6.4-§6.5) */
	{ "8be4df61-93ca-11d2-aa0d-00e098032b8c", "EfiGlobalVariable" },
	{ "d719b2cb-3d3a-4596-a3bc-dad00e67656f", "EfiImageSecurityDatabase" },
	{ "414e6bdd-e47b-47cc-b244-bb61020cf516", "EfiHardwareErrorVariable" },
	{ "f0a30bc7-af08-4556-99c4-001009c93a44", "EfiSecureBootEnableDisable" },
	{ "c076ec0c-7028-4399-a072-71ee5c448b9f", "EfiCustomModeEnable" },
	{ "9073e4e0-60ec-4b6e-9903-4c223c260f3c", "EfiVendorKeysNv" },
	{ "d9bee56e-75dc-49d9-b4d7-b534210f637a", "EfiCertDb" },
	{ "e20939be-32d4-41be-a150-897f85d49829", "MemoryOnlyResetControl" },
	{ "bb983ccf-151d-40e1-a07b-4a17be168292", "MemoryOverwriteRequestControlLock" },
	{ "04b37fe8-f6ae-480b-bdd5-37d98c5e89aa", "EdkiiVarErrorFlag" },
	{ "eb704011-1402-11d3-8e77-00a0c969723b", "MtcVendor" },
	{ "4c19049f-4137-4dd3-9c10-8b97a83ffdfa", "EfiMemoryTypeInformation" },
	{ "39b68c46-f7fb-441b-b6ec-16b0f69821f3", "EfiCapsuleReport" },
	{ "5b446ed1-e30b-4faa-871a-3654eca36080", "EfiIp4Config2Protocol" },
	{ "937fe521-95ae-4d1a-8929-48bcd90ad31a", "EfiIp6ConfigProtocol" },
	{ "9fb9a8a1-2f4a-43a6-889c-d0f7b6c47ad5", "EfiDhcp6ServiceBindingProtocol" },
	{ "4b47d616-a8d6-4552-9d44-ccad2e0f4cf9", "IScsiConfig" },
	{ "59324945-ec44-4c0d-b1cd-9db139df070c", "EfiIScsiInitiatorNameProtocol" },
	{ "fd2340d0-3dab-4349-a6c7-3b4f12b48eae", "EfiTlsCaCertificate" },
	{ "605dab50-e046-4300-abb6-3dd810dd8b23", "Shim" },
	{ "77fa9abd-0359-4d32-bd60-28f4e78f784b", "MicrosoftVendor" },
	{ "a0baa8a3-041d-48a8-bc87-c36d121b5e3d", "OvmfEnrollDefaultKeys" },
	{ "4e32566d-8e9e-4f52-81d3-5bb9715f9727", "OvmfPkKek1AppPrefix" },
	{ "9d1947eb-09bb-4780-a3cd-bea956e0e056", "EfiTcg2PpiXen" },
	/* MM protocols and events (device-abi §6.3, §6.5) */
	{ "ed32d533-99e6-4209-9cc0-2d72cdd998a7", "EfiSmmVariableProtocol" },
	{ "da1b0d11-d1a7-46c4-9dc9-f3714875c6eb", "VarCheckPolicyLibMmiHandler" },
	{ "02ce967a-dd7e-4ffc-9ee7-810cf0470880", "EfiEndOfDxeEventGroup" },
	{ "7ce88fb3-4bd7-4679-87a8-a8d8dee50d2b", "EfiEventReadyToBoot" },
	{ "27abf055-b1b8-4c26-8048-748f37baa2df", "EfiEventExitBootServices" },
	{ "93ba1826-dffb-45dd-82a7-e7dcaa3bbdf3", "SmmVariableWrite" },
	{ "81d1675c-86f6-48df-bd95-9a6e4f0925c3", "EdkiiVariablePolicyProtocol" },
	/* signature types (device-abi §6.4) */
	{ "c1c41626-504c-4092-aca9-41f936934328", "EfiCertSha256" },
	{ "ff3e5307-9fd0-48c9-85f1-8ad56c701e01", "EfiCertSha384" },
	{ "093e0fae-a6c4-4f50-9f1b-d41e2b89c19a", "EfiCertSha512" },
	{ "3c5766e8-269c-4e34-aa14-ed776e85b3b6", "EfiCertRsa2048" },
	{ "a5c059a1-94e4-4aa7-87b5-ab155c2bf072", "EfiCertX509" },
	{ "4aafd29d-68df-49ee-8aa9-347d375665a7", "EfiCertPkcs7" },
};

/* Parses two hex digits at p into *out; -1 if either is not hex. */
static int
parse_byte(const char *p, uint8_t *out)
{
	int hi = vv_hex_digit(p[0]), lo;

	if (hi < 0)
		return -1;
	lo = vv_hex_digit(p[1]);
	if (lo < 0)
		return -1;
	*out = (uint8_t)(hi << 4 | lo);
	return 0;
}

/*
 * Text positions of the 16 bytes in text order (dashes at 8, 13, 18, 23),
 * and for each the wire index it lands on: Data1..Data3 are byte-swapped.
 */
static const uint8_t text_pos[16] = {
	0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34,
};
static const uint8_t wire_index[16] = {
	3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15,
};

int
vv_guid_parse(const char *text, vv_guid *out)
{
	vv_guid g;

	if (text == NULL || out == NULL)
		return -1;
	/* Exactly 36 characters: strnlen bounds the read at 37. */
	if (strnlen(text, VV_GUID_TEXT_LEN + 1) != VV_GUID_TEXT_LEN)
		return -1;
	if (text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-')
		return -1;
	for (int i = 0; i < 16; i++)
		if (parse_byte(text + text_pos[i], &g.b[wire_index[i]]) != 0)
			return -1;
	*out = g;
	return 0;
}

void
vv_guid_format(const vv_guid *g, char out[VV_GUID_TEXT_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";

	memset(out, '-', VV_GUID_TEXT_LEN);
	for (int i = 0; i < 16; i++) {
		uint8_t v = g->b[wire_index[i]];

		out[text_pos[i]] = digits[v >> 4];
		out[text_pos[i] + 1] = digits[v & 0xf];
	}
	out[VV_GUID_TEXT_LEN] = '\0';
}

bool
vv_guid_equal(const vv_guid *a, const vv_guid *b)
{
	return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

static const struct {
	const char *alias;
	const char *guid;
} guid_aliases[] = {
	/* varstore-formats §7.6 and §10.1 */
	{ "global", "8be4df61-93ca-11d2-aa0d-00e098032b8c" },
	{ "EfiGlobalVariable", "8be4df61-93ca-11d2-aa0d-00e098032b8c" },
	{ "security", "d719b2cb-3d3a-4596-a3bc-dad00e67656f" },
	{ "EfiImageSecurityDatabase", "d719b2cb-3d3a-4596-a3bc-dad00e67656f" },
	{ "SecureBootEnable", "f0a30bc7-af08-4556-99c4-001009c93a44" },
	{ "EfiSecureBootEnableDisable", "f0a30bc7-af08-4556-99c4-001009c93a44" },
	{ "CustomMode", "c076ec0c-7028-4399-a072-71ee5c448b9f" },
	{ "EfiCustomModeEnable", "c076ec0c-7028-4399-a072-71ee5c448b9f" },
	{ "shim", "605dab50-e046-4300-abb6-3dd810dd8b23" },
	{ "Shim", "605dab50-e046-4300-abb6-3dd810dd8b23" },
	{ "ms", "77fa9abd-0359-4d32-bd60-28f4e78f784b" },
	{ "microsoft", "77fa9abd-0359-4d32-bd60-28f4e78f784b" },
	{ "MicrosoftVendor", "77fa9abd-0359-4d32-bd60-28f4e78f784b" },
	{ "OvmfEnrollDefaultKeys", "a0baa8a3-041d-48a8-bc87-c36d121b5e3d" },
	{ "redhat", "a0baa8a3-041d-48a8-bc87-c36d121b5e3d" },
	{ "EfiCertDb", "d9bee56e-75dc-49d9-b4d7-b534210f637a" },
	{ "MtcVendor", "eb704011-1402-11d3-8e77-00a0c969723b" },
	{ "EfiMemoryTypeInformation", "4c19049f-4137-4dd3-9c10-8b97a83ffdfa" },
	{ "VarErrorFlag", "04b37fe8-f6ae-480b-bdd5-37d98c5e89aa" },
	{ "hwerr", "414e6bdd-e47b-47cc-b244-bb61020cf516" },
	{ "zero", "00000000-0000-0000-0000-000000000000" },
};

int
vv_guid_parse_name(const char *text, vv_guid *out)
{
	if (vv_guid_parse(text, out) == 0)
		return 0;
	if (text == NULL || out == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(guid_aliases) / sizeof(guid_aliases[0]); i++)
		if (strcasecmp(text, guid_aliases[i].alias) == 0)
			return vv_guid_parse(guid_aliases[i].guid, out);
	return -1;
}

const char *
vv_guid_name(const vv_guid *g)
{
	char text[VV_GUID_TEXT_LEN + 1];

	vv_guid_format(g, text);
	for (size_t i = 0; i < sizeof(guid_names) / sizeof(guid_names[0]); i++)
		if (strcmp(guid_names[i].text, text) == 0)
			return guid_names[i].name;
	return NULL;
}
