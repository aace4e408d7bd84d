/*
 * src/auth/auth2.c -- EFI_VARIABLE_AUTHENTICATION_2 descriptors: parsing
 * with every length checked, the EFI_TIME rules of time-based
 * authentication, and the byte string the signer signed
 * (varstore-formats §8.4, §9.3, §11.1; device-abi §10.1-§10.2).
 *
 * Nothing here trusts a length from the guest: dwLength is checked against
 * both 24 (the WIN_CERTIFICATE_UEFI_GUID header) and what remains after the
 * timestamp before anything is computed from it (device-abi §18.1: QEMU
 * subtracted 24 unchecked).
 */
#include <stdlib.h>
#include <string.h>

#include "auth/auth2.h"
#include "auth/pkcs7.h"

#define AUTH2_TIME_SIZE       16u
#define AUTH2_WINCERT_HDR     8u   /* dwLength, wRevision, wCertificateType */
#define AUTH2_CERT_HDR_SIZE   24u  /* WIN_CERTIFICATE_UEFI_GUID without CertData */
#define AUTH2_MIN_SIZE        (AUTH2_TIME_SIZE + AUTH2_CERT_HDR_SIZE) /* 40 */
#define WIN_CERT_TYPE_EFI_GUID 0x0EF1u

/* EFI_CERT_TYPE_PKCS7_GUID 4aafd29d-68df-49ee-8aa9-347d375665a7, wire layout. */
static const uint8_t cert_type_pkcs7[16] = {
	0x9d, 0xd2, 0xaf, 0x4a, 0xdf, 0x68, 0xee, 0x49,
	0x8a, 0xa9, 0x34, 0x7d, 0x37, 0x56, 0x65, 0xa7,
};

/*
 * §8.4: Pad1 (7), Nanosecond (8..11), TimeZone (12..13), Daylight (14) and
 * Pad2 (15) must be zero.  Year/Month/Day/... are not range-checked: efitools
 * writes Month 0 and local time (§11.3), which edk2 and varstored accept.
 */
static bool
auth2_time_fields_zero(const uint8_t *t)
{
	for (size_t i = 7; i < AUTH2_TIME_SIZE; i++)
		if (t[i] != 0)
			return false;
	return true;
}

vv_status
vv_auth2_parse(const uint8_t *data, size_t size, struct vv_auth2 *out)
{
	uint32_t dw_length;
	size_t pkcs7_size, payload_off;

	/* edk2 VerifyTimeBasedPayload: DataSize < 40 is a violation. */
	if (data == NULL || size < AUTH2_MIN_SIZE)
		return VV_EFI_SECURITY_VIOLATION;
	/* The pad/timezone fields first, as edk2 orders its checks. */
	if (!auth2_time_fields_zero(data))
		return VV_EFI_SECURITY_VIOLATION;
	dw_length = vv_le32(data + AUTH2_TIME_SIZE);
	/* 24 <= dwLength <= size - 16 (size >= 40 here, no underflow). */
	if (dw_length < AUTH2_CERT_HDR_SIZE || dw_length > size - AUTH2_TIME_SIZE)
		return VV_EFI_SECURITY_VIOLATION;
	/* wRevision (offset 20) is not checked, as in edk2 (device-abi §10.2). */
	if (vv_le16(data + AUTH2_TIME_SIZE + 6) != WIN_CERT_TYPE_EFI_GUID)
		return VV_EFI_SECURITY_VIOLATION;
	if (memcmp(data + AUTH2_TIME_SIZE + AUTH2_WINCERT_HDR, cert_type_pkcs7, 16) != 0)
		return VV_EFI_SECURITY_VIOLATION;
	/*
	 * An empty PKCS#7 (dwLength 24) is a well-formed descriptor: edk2
	 * accepts it where no signature is checked (KEK/db/dbx in setup mode,
	 * custom mode), and efi-updatevar -e and varstored's tools write it
	 * (formats §11.3).  It can never verify: vv_pkcs7_parse refuses an
	 * empty blob (QEMU's zero-size allocation, device-abi §18.1).
	 */
	pkcs7_size = dw_length - AUTH2_CERT_HDR_SIZE;

	payload_off = AUTH2_TIME_SIZE + (size_t)dw_length; /* <= size, checked above */
	memcpy(out->time.b, data, AUTH2_TIME_SIZE);
	out->pkcs7 = data + AUTH2_MIN_SIZE;
	out->pkcs7_size = pkcs7_size;
	out->payload = data + payload_off;
	out->payload_size = size - payload_off;
	return VV_EFI_SUCCESS;
}

/* Year (u16 LE), Month, Day, Hour, Minute, Second: nothing else counts
 * (edk2 AuthServiceInternalCompareTimeStamp; §8.4). */
int
vv_efi_time_compare(const vv_efi_time *a, const vv_efi_time *b)
{
	uint16_t ya = vv_le16(a->b), yb = vv_le16(b->b);

	if (ya != yb)
		return ya < yb ? -1 : 1;
	for (size_t i = 2; i <= 6; i++)
		if (a->b[i] != b->b[i])
			return a->b[i] < b->b[i] ? -1 : 1;
	return 0;
}

/* Signed data (§8.4, §11.1): name (UCS-2 LE, no NUL) || GUID || attributes
 * (u32 LE) || timestamp || payload. */
uint8_t *
vv_auth2_signed_data(const uint16_t *name, size_t name_len, const vv_guid *guid,
		     uint32_t attributes, const vv_efi_time *time,
		     const uint8_t *payload, size_t payload_size, size_t *out_size)
{
	uint64_t name_bytes, total;
	uint8_t *buf, *p;

	if (name_len > SIZE_MAX / 2)
		return NULL;
	name_bytes = (uint64_t)name_len * 2;
	if (vv_add_overflow(name_bytes, 16 + 4 + AUTH2_TIME_SIZE, &total) ||
	    vv_add_overflow(total, payload_size, &total) || total > SIZE_MAX)
		return NULL;
	buf = malloc(total > 0 ? (size_t)total : 1);
	if (buf == NULL)
		return NULL;
	p = buf;
	for (size_t i = 0; i < name_len; i++, p += 2)
		vv_put_le16(p, name[i]);
	memcpy(p, guid->b, 16);
	p += 16;
	vv_put_le32(p, attributes);
	p += 4;
	memcpy(p, time->b, AUTH2_TIME_SIZE);
	p += AUTH2_TIME_SIZE;
	if (payload_size > 0)
		memcpy(p, payload, payload_size);
	*out_size = (size_t)total;
	return buf;
}

/* Tools' view of a signed update (vmvars/sigdb.h): the parser and the
 * verifier a guest's write goes through (pkcs7.c). */
bool
vv_auth2_pkcs7_parses(const struct vv_auth2 *a)
{
	struct vv_pkcs7 *p7 = vv_pkcs7_parse(a->pkcs7, a->pkcs7_size);
	bool ok = p7 != NULL;

	vv_pkcs7_free(p7);
	return ok;
}

bool
vv_auth2_verify(const struct vv_auth2 *a, const uint16_t *name, size_t name_len,
		const vv_guid *guid, uint32_t attributes, const uint8_t *anchor,
		size_t anchor_size)
{
	struct vv_cert_ref ref = { anchor, anchor_size };
	struct vv_pkcs7 *p7;
	uint8_t *signed_data;
	size_t signed_size;
	bool ok = false;

	signed_data = vv_auth2_signed_data(name, name_len, guid, attributes, &a->time,
					   a->payload, a->payload_size, &signed_size);
	if (signed_data == NULL)
		return false;
	/* the anchor is the only trust point (vv_pkcs7_verify) */
	if ((p7 = vv_pkcs7_parse(a->pkcs7, a->pkcs7_size)) != NULL)
		ok = vv_pkcs7_verify(p7, signed_data, signed_size, &ref, 1);
	vv_pkcs7_free(p7);
	free(signed_data);
	return ok;
}
