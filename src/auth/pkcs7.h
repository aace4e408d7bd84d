/*
 * src/auth/pkcs7.h -- PKCS#7 SignedData verification for authenticated
 * variables, with OpenSSL 3 (no hand-written ASN.1).
 *
 * edk2's Pkcs7Verify semantics: the blob may be a bare SignedData or a
 * ContentInfo; the content is detached (the caller passes the signed
 * bytes); signed attributes may be present or not; the signer's digest is
 * SHA-256, SHA-384 or SHA-512; the signer certificate must chain (using the
 * certificates inside the blob) to one of the trust anchors, with no time
 * checks and no purpose checks, and an anchor need not be self-signed
 * (partial chains).  RSA 2048-4096 and ECDSA P-256/P-384 signers.
 */
#ifndef VMVARS_PKCS7_H
#define VMVARS_PKCS7_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vv_pkcs7;

/* Parses a DER blob; NULL if it is not a PKCS#7 SignedData with at least
 * one signer. */
struct vv_pkcs7 *vv_pkcs7_parse(const uint8_t *der, size_t size);
void vv_pkcs7_free(struct vv_pkcs7 *p);

/* A trust anchor: one DER X.509 certificate. */
struct vv_cert_ref {
	const uint8_t *der;
	size_t size;
};

/* True only if every check in the header comment holds for at least one
 * anchor.  Decodes the anchors each call; vv_trust keeps them decoded. */
bool vv_pkcs7_verify(const struct vv_pkcs7 *p, const uint8_t *data, size_t size,
		     const struct vv_cert_ref *anchors, size_t nanchors);

/*
 * Decoded trust anchors, reusable across verifications: decoding an X.509
 * certificate costs several times the signature check (OpenSSL 3.0's
 * provider decoders), so a caller that verifies many writes against the
 * same anchors decodes them once.  vv_trust_new skips anchors that do not
 * decode and returns NULL if none does.  A vv_trust is not shared between
 * threads.
 */
struct vv_trust;
struct vv_trust *vv_trust_new(const struct vv_cert_ref *anchors, size_t nanchors);
void vv_trust_free(struct vv_trust *t);
/* vv_pkcs7_verify against decoded anchors; false if trust is NULL. */
bool vv_pkcs7_verify_trusted(const struct vv_pkcs7 *p, const uint8_t *data, size_t size,
			     const struct vv_trust *trust);

/*
 * The signer identity a private authenticated variable is bound to
 * (UEFI 2.9 §8.2.2; edk2 certdb): SHA-256 over the signer certificate's
 * subject CN (UTF-8, as encoded) || the DER tbsCertificate of the top-level
 * certificate of the signer's chain inside the blob (the last certificate of
 * that chain; the signer itself when it carries no chain).  0 or -1.
 */
int vv_pkcs7_signer_digest(const struct vv_pkcs7 *p, uint8_t out[32]);

/*
 * A write to a private authenticated variable: 0 and the signer identity
 * (as vv_pkcs7_signer_digest) when the signature over data verifies with
 * the top-level certificate of the signer's chain as the ONLY trust anchor,
 * -1 otherwise.  The caller then compares the identity with the one the
 * variable is bound to.  Never trust the blob's other certificates: they
 * are the attacker's (a forged intermediate naming the victim's root as
 * its issuer would otherwise make the identity the victim's).
 */
int vv_pkcs7_verify_private(const struct vv_pkcs7 *p, const uint8_t *data, size_t size,
			    uint8_t identity[32]);

/* How many certificates the blob embeds. */
size_t vv_pkcs7_cert_count(const struct vv_pkcs7 *p);

/* True if every signer certificate is byte for byte one of the anchors
 * (for PK: signed by PK itself, no chaining). */
bool vv_pkcs7_signers_are(const struct vv_pkcs7 *p, const struct vv_cert_ref *anchors, size_t n);

/* True if der parses as one X.509 certificate with nothing after it. */
bool vv_x509_valid(const uint8_t *der, size_t size);

/*
 * Certificates already found valid, remembered by the SHA-256 of their
 * DER: decoding one costs 150-200 us with OpenSSL 3.0 (the public key goes
 * through the provider decoders), and the same certificates come back in
 * write after write (a db rewritten whole with one certificate added, the
 * signer's own certificate enrolled, firmware re-enrolling its defaults
 * each boot).  Validity depends on the bytes alone, so a digest match
 * stands for a successful decode.  Only successes are kept; the oldest is
 * replaced.  Zero-initialised is empty.
 */
#define VV_X509_SEEN_SLOTS 32
struct vv_x509_seen {
	uint8_t digest[VV_X509_SEEN_SLOTS][32];
	size_t count, next;
};

/* vv_x509_valid, answered from `seen` when the bytes are there (seen may
 * be NULL). */
bool vv_x509_valid_seen(struct vv_x509_seen *seen, const uint8_t *der, size_t size);

#endif
