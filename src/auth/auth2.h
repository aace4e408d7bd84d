/*
 * src/auth/auth2.h -- EFI_VARIABLE_AUTHENTICATION_2 descriptors and the
 * data they sign (varstore-formats §8.4, device-abi §10.2).
 *
 *   off size
 *     0   16 TimeStamp (EFI_TIME; Pad1, Nanosecond, TimeZone, Daylight, Pad2 must be 0)
 *    16    4 AuthInfo.Hdr.dwLength = 24 + PKCS#7 size
 *    20    2 AuthInfo.Hdr.wRevision (0x0200; not checked, as edk2)
 *    22    2 AuthInfo.Hdr.wCertificateType = 0x0EF1 (WIN_CERT_TYPE_EFI_GUID)
 *    24   16 AuthInfo.CertType = EFI_CERT_TYPE_PKCS7_GUID
 *    40    . CertData: DER PKCS#7 SignedData (ContentInfo-wrapped or not)
 *  16+dwLength  the new value
 */
#ifndef VMVARS_AUTH2_H
#define VMVARS_AUTH2_H

#include <vmvars/efi.h>

struct vv_auth2 {
	vv_efi_time time;
	const uint8_t *pkcs7;       /* points into the parsed data */
	size_t pkcs7_size;
	const uint8_t *payload;
	size_t payload_size;
};

/*
 * EFI_SECURITY_VIOLATION: size < 40, dwLength < 24 or > size - 16,
 * wCertificateType != 0x0EF1, CertType != PKCS7, or a non-zero
 * Pad1/Nanosecond/TimeZone/Daylight/Pad2.  EFI_SUCCESS and *out otherwise;
 * an empty PKCS#7 (pkcs7_size 0) parses but never verifies.
 */
vv_status vv_auth2_parse(const uint8_t *data, size_t size, struct vv_auth2 *out);

/* <0, 0, >0 comparing Year, Month, Day, Hour, Minute, Second only
 * (edk2 AuthServiceInternalCompareTimeStamp). */
int vv_efi_time_compare(const vv_efi_time *a, const vv_efi_time *b);

/*
 * The bytes the signer signed: name without NUL (UCS-2 LE) || vendor GUID ||
 * attributes (u32 LE, as passed, APPEND included) || timestamp || payload.
 * malloc'd; NULL on allocation failure or size overflow.
 */
uint8_t *vv_auth2_signed_data(const uint16_t *name, size_t name_len, const vv_guid *guid,
			      uint32_t attributes, const vv_efi_time *time,
			      const uint8_t *payload, size_t payload_size, size_t *out_size);

#endif
