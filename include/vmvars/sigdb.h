/*
 * vmvars/sigdb.h -- Secure Boot signature databases and signed updates as
 * the firmware reads them: EFI_SIGNATURE_LIST databases (the values of PK,
 * KEK, db, dbx, dbt, dbr; varstore-formats §9.1-§9.2) and
 * EFI_VARIABLE_AUTHENTICATION_2 payloads (varstore-formats §8.4,
 * device-abi §10.2).
 *
 * These are the checks and computations the variable service applies to a
 * guest's authenticated writes, offered to tools that inspect keys or
 * prepare updates (the vmvars CLI's sb-state and rollover use them), so
 * that a tool judges a database or an update exactly as the service will.
 * Every function takes untrusted bytes: each length is checked against
 * what remains before it is used.
 *
 * EFI_SIGNATURE_LIST:
 *   off size
 *     0   16 SignatureType
 *    16    4 SignatureListSize (header included)
 *    20    4 SignatureHeaderSize (0 for every defined type)
 *    24    4 SignatureSize (16-byte owner GUID + data)
 *    28    . header, then (SignatureListSize - 28 - HeaderSize) / SignatureSize entries
 *
 * EFI_VARIABLE_AUTHENTICATION_2:
 *   off size
 *     0   16 TimeStamp (EFI_TIME; Pad1, Nanosecond, TimeZone, Daylight, Pad2 must be 0)
 *    16    4 AuthInfo.Hdr.dwLength = 24 + PKCS#7 size
 *    20    2 AuthInfo.Hdr.wRevision (0x0200; not checked, as edk2)
 *    22    2 AuthInfo.Hdr.wCertificateType = 0x0EF1 (WIN_CERT_TYPE_EFI_GUID)
 *    24   16 AuthInfo.CertType = EFI_CERT_TYPE_PKCS7_GUID
 *    40    . CertData: DER PKCS#7 SignedData (ContentInfo-wrapped or not)
 *  16+dwLength  the new value
 */
#ifndef VMVARS_SIGDB_H
#define VMVARS_SIGDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmvars/efi.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VV_SIGLIST_HEADER_SIZE 28u

/*
 * edk2 CheckSignatureListFormat: the lists tile the data exactly; every
 * SignatureType is a known one with its SignatureSize (X.509: any size >
 * 16, the data a valid certificate); SignatureHeaderSize 0; the entries
 * divide the list exactly; at most max_signatures entries in all when
 * max_signatures != 0 (PK: 1).  An empty database is valid.
 * EFI_INVALID_PARAMETER otherwise.
 */
vv_status vv_siglist_validate(const uint8_t *db, size_t size, size_t max_signatures);

/* Calls fn for the DER data of every EFI_CERT_X509 entry of a valid
 * database; stops and returns fn's non-zero result. */
typedef int (*vv_siglist_cert_fn)(void *ctx, const uint8_t *der, size_t size);
int vv_siglist_for_each_x509(const uint8_t *db, size_t size, vv_siglist_cert_fn fn, void *ctx);

/*
 * edk2 FilterSignatureList, for APPEND to KEK/db/dbx/dbt: the part of `add`
 * not already in `old` -- an EFI_SIGNATURE_DATA (owner + data) is a
 * duplicate if an entry of old with the same SignatureType and
 * SignatureSize has the same bytes; duplicates inside `add` itself are kept
 * once.  List headers are emitted only for lists that keep an entry;
 * unknown types are kept, never dropped.  Linear in the input sizes (hash
 * set), since dbx holds thousands of hashes.  *out is malloc'd (may be
 * empty).  Both inputs must be valid databases.
 * EFI_OUT_OF_RESOURCES on allocation failure.
 */
vv_status vv_siglist_filter_append(const uint8_t *old, size_t old_size, const uint8_t *add,
				   size_t add_size, uint8_t **out, size_t *out_size);

/* Number of EFI_SIGNATURE_DATA entries in a valid database. */
size_t vv_siglist_count(const uint8_t *db, size_t size);

/* An EFI_VARIABLE_AUTHENTICATION_2 payload, parsed: pointers into the
 * caller's bytes. */
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

/*
 * The bytes the signer signed: name without NUL (UCS-2 LE) || vendor GUID ||
 * attributes (u32 LE, as passed, APPEND included) || timestamp || payload.
 * malloc'd; NULL on allocation failure or size overflow.
 */
uint8_t *vv_auth2_signed_data(const uint16_t *name, size_t name_len, const vv_guid *guid,
			      uint32_t attributes, const vv_efi_time *time,
			      const uint8_t *payload, size_t payload_size, size_t *out_size);

/* True when a's CertData is a DER PKCS#7 SignedData the service can read
 * (the same parser as for a guest's write); says nothing of who signed. */
bool vv_auth2_pkcs7_parses(const struct vv_auth2 *a);

/*
 * True when a (parsed from a write of variable name/guid with attributes)
 * carries a signature over vv_auth2_signed_data that verifies with the DER
 * certificate `anchor` as its only trust anchor -- the check the service
 * makes of a KEK, db or dbx update against the store's own PK or KEK
 * entries (secure-boot.md).  Certificates inside the PKCS#7 are never
 * trusted by themselves.
 */
bool vv_auth2_verify(const struct vv_auth2 *a, const uint16_t *name, size_t name_len,
		     const vv_guid *guid, uint32_t attributes, const uint8_t *anchor,
		     size_t anchor_size);

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_SIGDB_H */
