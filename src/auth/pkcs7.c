/*
 * src/auth/pkcs7.c -- PKCS#7 SignedData verification for time-based
 * authenticated variables, with OpenSSL 3's own ASN.1 decoders
 * (varstore-formats §8.4, §11.3; device-abi §10.2, §18.1).
 *
 * Invariants:
 *  - a struct vv_pkcs7 always holds a ContentInfo of type signedData whose
 *    SignedData is present and has at least one SignerInfo; a bare
 *    SignedData is wrapped with OpenSSL's objects, never by writing DER;
 *  - the form is decided by DER decoding (a ContentInfo starts with an OID,
 *    a SignedData with an INTEGER), not by peeking at tag bytes (QEMU's
 *    0x0a-for-0xa0 bug, device-abi §18.1);
 *  - every function leaves the thread's OpenSSL error queue empty, so a
 *    guest cannot make it grow request after request.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "auth/pkcs7.h"

struct vv_pkcs7 {
	PKCS7 *p7;   /* ContentInfo, type signedData, d.sign != NULL */
};

/* The blob as a ContentInfo, or NULL. */
static PKCS7 *
pkcs7_decode_content_info(const uint8_t *der, size_t size)
{
	const unsigned char *p = der;
	PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)size);

	if (p7 != NULL && (!PKCS7_type_is_signed(p7) || p7->d.sign == NULL)) {
		PKCS7_free(p7);
		p7 = NULL;
	}
	return p7;
}

/* The blob as a bare SignedData (sign-efi-sig-list 1.9.x, §11.3), wrapped
 * in a ContentInfo built from OpenSSL objects (edk2 WrapPkcs7Data). */
static PKCS7 *
pkcs7_decode_bare_signed(const uint8_t *der, size_t size)
{
	const unsigned char *p = der;
	PKCS7_SIGNED *sd = d2i_PKCS7_SIGNED(NULL, &p, (long)size);
	PKCS7 *p7;

	if (sd == NULL)
		return NULL;
	p7 = PKCS7_new();
	if (p7 == NULL || !PKCS7_set_type(p7, NID_pkcs7_signed)) {
		PKCS7_free(p7);
		PKCS7_SIGNED_free(sd);
		return NULL;
	}
	/* PKCS7_set_type made an empty SignedData; put the decoded one there. */
	PKCS7_SIGNED_free(p7->d.sign);
	p7->d.sign = sd;
	return p7;
}

/*
 * Trailing bytes after the DER object (inside dwLength) are ignored, as
 * edk2's d2i_PKCS7 call does; they are not part of what is verified.
 */
struct vv_pkcs7 *
vv_pkcs7_parse(const uint8_t *der, size_t size)
{
	struct vv_pkcs7 *p = NULL;
	PKCS7 *p7 = NULL;
	STACK_OF(PKCS7_SIGNER_INFO) *signers;

	if (der == NULL || size == 0 || size > (size_t)LONG_MAX)
		goto out;
	p7 = pkcs7_decode_content_info(der, size);
	if (p7 == NULL)
		p7 = pkcs7_decode_bare_signed(der, size);
	if (p7 == NULL)
		goto out;
	signers = PKCS7_get_signer_info(p7);
	if (signers == NULL || sk_PKCS7_SIGNER_INFO_num(signers) < 1)
		goto out;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		goto out;
	p->p7 = p7;
	p7 = NULL;
out:
	PKCS7_free(p7);
	ERR_clear_error();
	return p;
}

void
vv_pkcs7_free(struct vv_pkcs7 *p)
{
	if (p == NULL)
		return;
	PKCS7_free(p->p7);
	free(p);
}

static bool
pkcs7_digest_nid_allowed(const X509_ALGOR *alg)
{
	int nid = alg != NULL ? OBJ_obj2nid(alg->algorithm) : NID_undef;

	return nid == NID_sha256 || nid == NID_sha384 || nid == NID_sha512;
}

/*
 * §8.4: the signer digest is SHA-256, SHA-384 or SHA-512 (edk2 since
 * 2024); SHA-1 and SHA-224 are refused (QEMU accepted SHA-224, §18.1).
 * The SignedData's digestAlgorithms set must hold only those too: besides
 * being the same rule, an unknown algorithm there makes OpenSSL 3.0's
 * PKCS7_verify fail inside PKCS7_dataInit and leak its copy of the content
 * BIO (found by fuzz_auth), so such blobs never reach it.
 */
static bool
pkcs7_digests_allowed(PKCS7 *p7)
{
	STACK_OF(PKCS7_SIGNER_INFO) *signers = PKCS7_get_signer_info(p7);
	STACK_OF(X509_ALGOR) *md_algs = p7->d.sign->md_algs;

	for (int i = 0; i < sk_X509_ALGOR_num(md_algs); i++)
		if (!pkcs7_digest_nid_allowed(sk_X509_ALGOR_value(md_algs, i)))
			return false;
	for (int i = 0; i < sk_PKCS7_SIGNER_INFO_num(signers); i++) {
		X509_ALGOR *dig = NULL;

		PKCS7_SIGNER_INFO_get0_algs(sk_PKCS7_SIGNER_INFO_value(signers, i), NULL, &dig,
					    NULL);
		if (!pkcs7_digest_nid_allowed(dig))
			return false;
	}
	return true;
}

/* The signer keys this service takes (pkcs7.h): RSA 2048-4096 bits,
 * ECDSA on P-256 or P-384. */
static bool
pkcs7_signer_key_allowed(X509 *cert)
{
	EVP_PKEY *key = X509_get0_pubkey(cert);
	char group[64];
	size_t len = 0;
	int bits;

	if (key == NULL)
		return false;
	if (EVP_PKEY_is_a(key, "RSA")) {
		bits = EVP_PKEY_get_bits(key);
		return bits >= 2048 && bits <= 4096;
	}
	if (EVP_PKEY_is_a(key, "EC")) {
		if (!EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &len))
			return false;
		return strcmp(group, "prime256v1") == 0 || strcmp(group, "secp384r1") == 0;
	}
	return false;
}

static bool
pkcs7_signers_allowed(PKCS7 *p7)
{
	STACK_OF(X509) *signers = PKCS7_get0_signers(p7, NULL, 0);
	bool ok;

	if (signers == NULL)
		return false;
	ok = sk_X509_num(signers) > 0;
	for (int i = 0; ok && i < sk_X509_num(signers); i++)
		ok = pkcs7_signer_key_allowed(sk_X509_value(signers, i));
	sk_X509_free(signers);   /* the certificates belong to p7 */
	return ok;
}

/* No purpose or key-usage checks (edk2 sets X509_PURPOSE_ANY and allows any
 * key usage): only those errors are forgiven, everything else stands. */
static int
pkcs7_verify_cb(int ok, X509_STORE_CTX *ctx)
{
	int err = X509_STORE_CTX_get_error(ctx);

	if (!ok && (err == X509_V_ERR_INVALID_PURPOSE || err == X509_V_ERR_KEYUSAGE_NO_CERTSIGN ||
		    err == X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE))
		return 1;
	return ok;
}

/*
 * A decoded set of trust anchors.  Decoding is the expensive part of a
 * verification: with Debian 12's OpenSSL 3.0, d2i_X509 spends 150-200 µs
 * in the provider decoders for the public key, five times the RSA-2048
 * signature check itself (docs/performance.md).  A vv_trust is built once
 * and reused while the anchors are unchanged (secureboot.c keeps one per
 * anchor set).
 *
 * Invariant: store trusts exactly the anchors that decoded, at least one;
 * partial chains allowed, no time checks (§8.4: an anchor need not be
 * self-signed), purpose ANY and pkcs7_verify_cb.
 */
struct vv_trust {
	X509_STORE *store;
};

static X509_STORE *
pkcs7_store_new(void)
{
	X509_STORE *store = X509_STORE_new();

	if (store == NULL)
		return NULL;
	if (!X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME) ||
	    !X509_STORE_set_purpose(store, X509_PURPOSE_ANY)) {
		X509_STORE_free(store);
		return NULL;
	}
	X509_STORE_set_verify_cb(store, pkcs7_verify_cb);
	return store;
}

/* Takes the store: a trust holding it, or NULL (and the store freed) when
 * no anchor made it in. */
static struct vv_trust *
pkcs7_trust_wrap(X509_STORE *store, size_t added)
{
	struct vv_trust *t = added > 0 ? calloc(1, sizeof(*t)) : NULL;

	if (t == NULL) {
		X509_STORE_free(store);
		return NULL;
	}
	t->store = store;
	return t;
}

struct vv_trust *
vv_trust_new(const struct vv_cert_ref *anchors, size_t nanchors)
{
	X509_STORE *store = anchors != NULL ? pkcs7_store_new() : NULL;
	size_t added = 0;

	for (size_t i = 0; store != NULL && i < nanchors; i++) {
		const unsigned char *p = anchors[i].der;
		X509 *cert;

		if (p == NULL || anchors[i].size == 0 || anchors[i].size > (size_t)LONG_MAX)
			continue;
		cert = d2i_X509(NULL, &p, (long)anchors[i].size);
		if (cert == NULL)
			continue;
		if (X509_STORE_add_cert(store, cert))
			added++;
		X509_free(cert);
	}
	ERR_clear_error();
	return store != NULL ? pkcs7_trust_wrap(store, added) : NULL;
}

void
vv_trust_free(struct vv_trust *t)
{
	if (t == NULL)
		return;
	X509_STORE_free(t->store);
	free(t);
}

bool
vv_pkcs7_verify_trusted(const struct vv_pkcs7 *p, const uint8_t *data, size_t size,
			const struct vv_trust *trust)
{
	BIO *content = NULL;
	bool ok = false;

	if (p == NULL || (data == NULL && size > 0) || size > INT_MAX || trust == NULL)
		goto out;
	if (!pkcs7_digests_allowed(p->p7) || !pkcs7_signers_allowed(p->p7))
		goto out;
	content = BIO_new_mem_buf(size > 0 ? data : (const uint8_t *)"", (int)size);
	if (content == NULL)
		goto out;
	/*
	 * The signer certificate is looked up among the blob's certificates,
	 * which also serve as untrusted intermediates; PKCS7_BINARY: the
	 * content is bytes, not MIME text.  Every SignerInfo must verify.
	 */
	ok = PKCS7_verify(p->p7, NULL, trust->store, content, NULL, PKCS7_BINARY) == 1;
out:
	BIO_free(content);
	ERR_clear_error();
	return ok;
}

bool
vv_pkcs7_verify(const struct vv_pkcs7 *p, const uint8_t *data, size_t size,
		const struct vv_cert_ref *anchors, size_t nanchors)
{
	struct vv_trust *trust;
	bool ok;

	if (p == NULL)
		return false;
	trust = vv_trust_new(anchors, nanchors);
	ok = vv_pkcs7_verify_trusted(p, data, size, trust);
	vv_trust_free(trust);
	return ok;
}

/* The chain of the signer inside the blob: follow issuers among the blob's
 * certificates until a self-issued one or none; returns the top. */
static X509 *
pkcs7_top_of_chain(X509 *signer, STACK_OF(X509) *certs)
{
	X509 *cur = signer;
	int steps = 0;

	/* At most one step per certificate: a loop of cross-issued
	 * certificates cannot make this run forever. */
	while (steps++ < sk_X509_num(certs)) {
		X509 *next = NULL;

		if (X509_check_issued(cur, cur) == X509_V_OK)
			break;
		for (int i = 0; i < sk_X509_num(certs); i++) {
			X509 *c = sk_X509_value(certs, i);

			if (c != cur && X509_check_issued(c, cur) == X509_V_OK) {
				next = c;
				break;
			}
		}
		if (next == NULL)
			break;
		cur = next;
	}
	return cur;
}

/*
 * The tbsCertificate exactly as encoded in the certificate (edk2
 * X509GetTBSCert walks the DER; re-encoding could differ for a
 * non-canonical encoding): the first element of the outer SEQUENCE.
 * *der is OPENSSL_malloc'd; *tbs points into it.
 */
static int
pkcs7_tbs_as_encoded(X509 *cert, unsigned char **der, const unsigned char **tbs, size_t *tbs_len)
{
	const unsigned char *p, *q;
	long len, inner_len;
	int total, tag, xclass;

	*der = NULL;
	total = i2d_X509(cert, der);
	if (total <= 0)
		return -1;
	p = *der;
	if (ASN1_get_object(&p, &len, &tag, &xclass, total) & 0x80 || tag != V_ASN1_SEQUENCE)
		return -1;
	q = p;
	if (ASN1_get_object(&q, &inner_len, &tag, &xclass, len) & 0x80 || tag != V_ASN1_SEQUENCE)
		return -1;
	*tbs = p;
	*tbs_len = (size_t)(q - p) + (size_t)inner_len;
	return 0;
}

/* SHA-256(signer CN as UTF-8 || top-level tbsCertificate DER), UEFI 2.9
 * §8.2.2 / edk2 certdb (§8.4 "private authenticated variables"). */
static int
pkcs7_identity(X509 *signer, X509 *top, uint8_t out[32])
{
	X509_NAME *subject = X509_get_subject_name(signer);
	X509_NAME_ENTRY *cn_entry;
	unsigned char *cn = NULL, *top_der = NULL;
	const unsigned char *tbs;
	size_t tbs_len;
	int cn_len, idx, rc = -1;
	EVP_MD_CTX *md = NULL;
	unsigned int out_len = 0;

	idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
	if (idx < 0)
		goto out;
	cn_entry = X509_NAME_get_entry(subject, idx);
	cn_len = ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(cn_entry));
	if (cn_len < 0)
		goto out;
	if (pkcs7_tbs_as_encoded(top, &top_der, &tbs, &tbs_len) != 0)
		goto out;
	md = EVP_MD_CTX_new();
	if (md == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(md, cn, (size_t)cn_len) ||
	    !EVP_DigestUpdate(md, tbs, tbs_len) || !EVP_DigestFinal_ex(md, out, &out_len) ||
	    out_len != 32)
		goto out;
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	OPENSSL_free(cn);
	OPENSSL_free(top_der);
	return rc;
}

/* The first signer's certificate and the top of its chain in the blob;
 * *signers must be sk_X509_free'd (the certificates belong to p). */
static int
pkcs7_signer_and_top(const struct vv_pkcs7 *p, STACK_OF(X509) **signers, X509 **signer,
		     X509 **top)
{
	*signers = PKCS7_get0_signers(p->p7, NULL, 0);
	if (*signers == NULL || sk_X509_num(*signers) < 1)
		return -1;
	*signer = sk_X509_value(*signers, 0);
	*top = pkcs7_top_of_chain(*signer, p->p7->d.sign->cert);
	return 0;
}

int
vv_pkcs7_signer_digest(const struct vv_pkcs7 *p, uint8_t out[32])
{
	STACK_OF(X509) *signers = NULL;
	X509 *signer, *top;
	int rc = -1;

	if (p != NULL && pkcs7_signer_and_top(p, &signers, &signer, &top) == 0)
		rc = pkcs7_identity(signer, top, out);
	sk_X509_free(signers);
	ERR_clear_error();
	return rc;
}

/*
 * A private authenticated variable's write (pkcs7.h).  The top-level
 * certificate is found by following issuer names, which proves nothing: a
 * guest can mint a CA certificate that carries a victim root's subject as
 * its issuer name.  So the signature is verified with that top-level
 * certificate as the only trust anchor -- every link below it must then be
 * a real signature by it -- and the identity is computed from the same
 * certificate object, never from a second walk that could pick another.
 * (edk2 verifies against the top-level certificate alone as well.)
 */
int
vv_pkcs7_verify_private(const struct vv_pkcs7 *p, const uint8_t *data, size_t size,
			uint8_t identity[32])
{
	STACK_OF(X509) *signers = NULL;
	struct vv_trust *trust = NULL;
	X509_STORE *store;
	X509 *signer, *top;
	int rc = -1;

	if (p == NULL || pkcs7_signer_and_top(p, &signers, &signer, &top) != 0)
		goto out;
	store = pkcs7_store_new();
	if (store == NULL)
		goto out;
	trust = pkcs7_trust_wrap(store, X509_STORE_add_cert(store, top) ? 1 : 0);
	if (trust == NULL || !vv_pkcs7_verify_trusted(p, data, size, trust))
		goto out;
	rc = pkcs7_identity(signer, top, identity);
out:
	vv_trust_free(trust);
	sk_X509_free(signers);
	ERR_clear_error();
	return rc;
}

size_t
vv_pkcs7_cert_count(const struct vv_pkcs7 *p)
{
	int n;

	if (p == NULL || p->p7->d.sign->cert == NULL)
		return 0;
	n = sk_X509_num(p->p7->d.sign->cert);
	return n > 0 ? (size_t)n : 0;
}

bool
vv_x509_valid(const uint8_t *der, size_t size)
{
	const unsigned char *p = der;
	X509 *cert;
	bool ok;

	if (der == NULL || size == 0 || size > (size_t)LONG_MAX)
		return false;
	cert = d2i_X509(NULL, &p, (long)size);
	ok = cert != NULL && (size_t)(p - der) == size;
	X509_free(cert);
	ERR_clear_error();
	return ok;
}

bool
vv_x509_valid_seen(struct vv_x509_seen *seen, const uint8_t *der, size_t size)
{
	uint8_t digest[32];
	unsigned int len = 0;

	if (seen == NULL || der == NULL || size == 0)
		return vv_x509_valid(der, size);
	if (!EVP_Digest(der, size, digest, &len, EVP_sha256(), NULL) || len != sizeof(digest)) {
		ERR_clear_error();
		return vv_x509_valid(der, size);
	}
	for (size_t i = 0; i < seen->count; i++)
		if (memcmp(seen->digest[i], digest, sizeof(digest)) == 0)
			return true;
	if (!vv_x509_valid(der, size))
		return false;
	memcpy(seen->digest[seen->next], digest, sizeof(digest));
	seen->next = (seen->next + 1) % VV_X509_SEEN_SLOTS;
	if (seen->count < VV_X509_SEEN_SLOTS)
		seen->count++;
	return true;
}

/* True if each signer certificate is, byte for byte, one of the anchors
 * (PK updates: "the signer certificate must be PK itself; no chaining",
 * formats §8.4). */
bool
vv_pkcs7_signers_are(const struct vv_pkcs7 *p, const struct vv_cert_ref *anchors, size_t n)
{
	STACK_OF(X509) *signers;
	bool ok;

	if (p == NULL)
		return false;
	signers = PKCS7_get0_signers(p->p7, NULL, 0);
	ok = signers != NULL && sk_X509_num(signers) > 0;
	for (int i = 0; ok && i < sk_X509_num(signers); i++) {
		unsigned char *der = NULL;
		int len = i2d_X509(sk_X509_value(signers, i), &der);
		bool found = false;

		for (size_t k = 0; len > 0 && k < n && !found; k++)
			found = anchors[k].size == (size_t)len &&
				memcmp(anchors[k].der, der, (size_t)len) == 0;
		OPENSSL_free(der);
		ok = found;
	}
	sk_X509_free(signers);
	ERR_clear_error();
	return ok;
}
