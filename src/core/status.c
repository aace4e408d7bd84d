/*
 * src/core/status.c -- EFI_STATUS and attribute bits as text, for logs,
 * error messages and test output (device-abi §9, formats §8.1).
 */
#include <stdio.h>
#include <string.h>

#include <vmvars/efi.h>

struct status_name {
	vv_status status;
	const char *name;
};

/* Every status efi.h defines; other values are "EFI_UNKNOWN_STATUS". */
static const struct status_name status_names[] = {
	{ VV_EFI_SUCCESS, "EFI_SUCCESS" },
	{ VV_EFI_INVALID_PARAMETER, "EFI_INVALID_PARAMETER" },
	{ VV_EFI_UNSUPPORTED, "EFI_UNSUPPORTED" },
	{ VV_EFI_BAD_BUFFER_SIZE, "EFI_BAD_BUFFER_SIZE" },
	{ VV_EFI_BUFFER_TOO_SMALL, "EFI_BUFFER_TOO_SMALL" },
	{ VV_EFI_NOT_READY, "EFI_NOT_READY" },
	{ VV_EFI_TIMEOUT, "EFI_TIMEOUT" },
	{ VV_EFI_DEVICE_ERROR, "EFI_DEVICE_ERROR" },
	{ VV_EFI_WRITE_PROTECTED, "EFI_WRITE_PROTECTED" },
	{ VV_EFI_OUT_OF_RESOURCES, "EFI_OUT_OF_RESOURCES" },
	{ VV_EFI_NOT_FOUND, "EFI_NOT_FOUND" },
	{ VV_EFI_ACCESS_DENIED, "EFI_ACCESS_DENIED" },
	{ VV_EFI_ALREADY_STARTED, "EFI_ALREADY_STARTED" },
	{ VV_EFI_SECURITY_VIOLATION, "EFI_SECURITY_VIOLATION" },
};

const char *
vv_status_name(vv_status s)
{
	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (status_names[i].status == s)
			return status_names[i].name;
	return "EFI_UNKNOWN_STATUS";
}

/* Short names of the attribute bits, bit 0 first (formats §8.1). */
static const char *const attr_bit_names[8] = {
	"NV", "BS", "RT", "HR", "AW", "AT", "APPEND", "EA",
};

/*
 * Appends s (and a '|' before it unless first) to buf, truncating at len.
 * *used tracks the would-be length so truncation never writes past len.
 */
static void
attr_append(char *buf, size_t len, size_t *used, const char *s)
{
	size_t n = strlen(s);

	if (*used < len)
		snprintf(buf + *used, len - *used, "%s%s", *used ? "|" : "", s);
	*used += n + (*used ? 1 : 0);
}

char *
vv_attr_format(uint32_t attr, char *buf, size_t len)
{
	size_t used = 0;
	uint32_t unknown = attr & ~0xFFu;
	char hex[16];

	if (buf == NULL || len == 0)
		return buf;
	buf[0] = '\0';
	for (unsigned bit = 0; bit < 8; bit++)
		if (attr & (1u << bit))
			attr_append(buf, len, &used, attr_bit_names[bit]);
	if (unknown != 0) {
		snprintf(hex, sizeof(hex), "0x%x", unknown);
		attr_append(buf, len, &used, hex);
	}
	if (used == 0)
		snprintf(buf, len, "0");
	return buf;
}
