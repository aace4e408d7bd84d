/*
 * vmvars/efi.h -- the UEFI vocabulary every other header speaks: EFI_STATUS
 * values, variable attribute bits, the EFI_GUID wire layout, EFI_TIME, and
 * the well-known namespace GUIDs.
 *
 * Sources: shared/reference/uefi-vars-device-abi.md §6.3-§6.5, §9, §10.1;
 * varstore-formats.md §8.1, §9.3, §10.1.  All integers on the wire are
 * little-endian; vmvars decodes them byte by byte, so the host may be either.
 */
#ifndef VMVARS_EFI_H
#define VMVARS_EFI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* EFI_STATUS is 64 bits; errors have the top bit set (device-abi §9). */
typedef uint64_t vv_status;

#define VV_EFI_ERROR_BIT            0x8000000000000000ULL
#define VV_EFI_SUCCESS              0ULL
#define VV_EFI_INVALID_PARAMETER    (VV_EFI_ERROR_BIT | 2)
#define VV_EFI_UNSUPPORTED          (VV_EFI_ERROR_BIT | 3)
#define VV_EFI_BAD_BUFFER_SIZE      (VV_EFI_ERROR_BIT | 4)
#define VV_EFI_BUFFER_TOO_SMALL     (VV_EFI_ERROR_BIT | 5)
#define VV_EFI_NOT_READY            (VV_EFI_ERROR_BIT | 6)
#define VV_EFI_DEVICE_ERROR         (VV_EFI_ERROR_BIT | 7)
#define VV_EFI_WRITE_PROTECTED      (VV_EFI_ERROR_BIT | 8)
#define VV_EFI_OUT_OF_RESOURCES     (VV_EFI_ERROR_BIT | 9)
#define VV_EFI_TIMEOUT              (VV_EFI_ERROR_BIT | 18)
#define VV_EFI_NOT_FOUND            (VV_EFI_ERROR_BIT | 14)
#define VV_EFI_ACCESS_DENIED        (VV_EFI_ERROR_BIT | 15)
#define VV_EFI_ALREADY_STARTED      (VV_EFI_ERROR_BIT | 20)
#define VV_EFI_SECURITY_VIOLATION   (VV_EFI_ERROR_BIT | 26)

static inline bool vv_efi_error(vv_status s) { return (s & VV_EFI_ERROR_BIT) != 0; }

/* "EFI_NOT_FOUND" etc.; "EFI_STATUS(0x...)" style text is not produced:
 * unknown values return "EFI_UNKNOWN_STATUS". */
const char *vv_status_name(vv_status s);

/* Variable attribute bits (varstore-formats §8.1). */
#define VV_ATTR_NV      0x01u   /* NON_VOLATILE */
#define VV_ATTR_BS      0x02u   /* BOOTSERVICE_ACCESS */
#define VV_ATTR_RT      0x04u   /* RUNTIME_ACCESS; requires BS */
#define VV_ATTR_HR      0x08u   /* HARDWARE_ERROR_RECORD */
#define VV_ATTR_AW      0x10u   /* AUTHENTICATED_WRITE_ACCESS, deprecated */
#define VV_ATTR_AT      0x20u   /* TIME_BASED_AUTHENTICATED_WRITE_ACCESS */
#define VV_ATTR_APPEND  0x40u   /* APPEND_WRITE: never stored */
#define VV_ATTR_EA      0x80u   /* ENHANCED_AUTHENTICATED_ACCESS: unsupported */
/* edk2 EFI_VARIABLE_ATTRIBUTES_MASK: NV|BS|RT|HR|AT|APPEND. */
#define VV_ATTR_MASK    0x6Fu

/* Writes "NV|BS|RT" style text; returns buf. */
char *vv_attr_format(uint32_t attr, char *buf, size_t len);

/*
 * EFI_GUID in its 16-byte wire layout: Data1 u32 LE, Data2 u16 LE,
 * Data3 u16 LE, Data4[8] as written.  Kept as bytes so that a struct copy is
 * a wire copy and comparisons are memcmp.
 */
typedef struct vv_guid {
	uint8_t b[16];
} vv_guid;

#define VV_GUID_TEXT_LEN 36  /* without the NUL */

/* Parses "8be4df61-93ca-11d2-aa0d-00e098032b8c" (either case).
 * Returns 0, or -1 if the text is not exactly a GUID. */
int vv_guid_parse(const char *text, vv_guid *out);
/* Writes the canonical lowercase text; out must hold 37 bytes. */
void vv_guid_format(const vv_guid *g, char out[VV_GUID_TEXT_LEN + 1]);
bool vv_guid_equal(const vv_guid *a, const vv_guid *b);
/* A short well-known name ("EfiGlobalVariable") or NULL. */
const char *vv_guid_name(const vv_guid *g);
/* A GUID as text, or as a well-known namespace name, any case: "global" /
 * "EfiGlobalVariable", "security" / "EfiImageSecurityDatabase", "shim",
 * "ms" / "MicrosoftVendor", "SecureBootEnable", "CustomMode", ... (what
 * the vmvars command line and the management API accept).  0 or -1. */
int vv_guid_parse_name(const char *text, vv_guid *out);

/* Namespaces and protocol GUIDs (device-abi §6.3-§6.5, formats §10.1). */
extern const vv_guid VV_GUID_GLOBAL_VARIABLE;        /* 8be4df61-93ca-11d2-aa0d-00e098032b8c */
extern const vv_guid VV_GUID_IMAGE_SECURITY_DB;      /* d719b2cb-3d3a-4596-a3bc-dad00e67656f */
extern const vv_guid VV_GUID_HARDWARE_ERROR;         /* 414e6bdd-e47b-47cc-b244-bb61020cf516 */
extern const vv_guid VV_GUID_SECURE_BOOT_ENABLE;     /* f0a30bc7-af08-4556-99c4-001009c93a44 */
extern const vv_guid VV_GUID_CUSTOM_MODE;            /* c076ec0c-7028-4399-a072-71ee5c448b9f */
extern const vv_guid VV_GUID_VENDOR_KEYS_NV;         /* 9073e4e0-60ec-4b6e-9903-4c223c260f3c */
extern const vv_guid VV_GUID_CERT_DB;                /* d9bee56e-75dc-49d9-b4d7-b534210f637a */
extern const vv_guid VV_GUID_MOR;                    /* e20939be-32d4-41be-a150-897f85d49829 */
extern const vv_guid VV_GUID_MOR_LOCK;               /* bb983ccf-151d-40e1-a07b-4a17be168292 */
extern const vv_guid VV_GUID_SMM_VARIABLE;           /* ed32d533-99e6-4209-9cc0-2d72cdd998a7 */
extern const vv_guid VV_GUID_VAR_CHECK_POLICY_MMI;   /* da1b0d11-d1a7-46c4-9dc9-f3714875c6eb */
extern const vv_guid VV_GUID_END_OF_DXE;             /* 02ce967a-dd7e-4ffc-9ee7-810cf0470880 */
extern const vv_guid VV_GUID_READY_TO_BOOT;          /* 7ce88fb3-4bd7-4679-87a8-a8d8dee50d2b */
extern const vv_guid VV_GUID_EXIT_BOOT_SERVICES;     /* 27abf055-b1b8-4c26-8048-748f37baa2df */

/* EFI_TIME kept as its 16 wire bytes (device-abi §10.1). */
typedef struct vv_efi_time {
	uint8_t b[16];
} vv_efi_time;

struct tm;
/* The EFI_TIME of a broken-down UTC time: Year..Second set, Pad1,
 * Nanosecond, TimeZone, Daylight and Pad2 zero, as authenticated-variable
 * timestamps must be (varstore-formats §8.4, §9.3). */
void vv_efi_time_from_tm(const struct tm *tm, vv_efi_time *t);
/* The current time (UTC) in that form. */
void vv_efi_time_now(vv_efi_time *t);

/* Little-endian load/store helpers used by every wire parser. */
static inline uint16_t vv_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t vv_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t vv_le64(const uint8_t *p) { return vv_le32(p) | ((uint64_t)vv_le32(p + 4) << 32); }
static inline void vv_put_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void vv_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void vv_put_le64(uint8_t *p, uint64_t v) { vv_put_le32(p, (uint32_t)v); vv_put_le32(p + 4, (uint32_t)(v >> 32)); }

/* Value of one hex digit (either case), or -1. */
static inline int
vv_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Overflow-safe size arithmetic: the one helper every length check uses.
 * Returns true when a + b overflowed (and *out is then unspecified).
 */
static inline bool vv_add_overflow(uint64_t a, uint64_t b, uint64_t *out)
{
	return __builtin_add_overflow(a, b, out);
}

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_EFI_H */
