/*
 * src/auth/siglist.h -- EFI_SIGNATURE_LIST databases (the values of PK,
 * KEK, db, dbx, dbt, dbr; varstore-formats §9.1-§9.2).
 *
 *   off size
 *     0   16 SignatureType
 *    16    4 SignatureListSize (header included)
 *    20    4 SignatureHeaderSize (0 for every defined type)
 *    24    4 SignatureSize (16-byte owner GUID + data)
 *    28    . header, then (SignatureListSize - 28 - HeaderSize) / SignatureSize entries
 */
#ifndef VMVARS_SIGLIST_H
#define VMVARS_SIGLIST_H

#include <vmvars/efi.h>

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
/* The same, remembering valid certificates in `seen` (pkcs7.h). */
struct vv_x509_seen;
vv_status vv_siglist_validate_seen(const uint8_t *db, size_t size, size_t max_signatures,
				   struct vv_x509_seen *seen);

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

#endif
