/*
 * src/cli/decode_siglist.c -- signature databases (PK, KEK, db, dbx,
 * MokList...) decoded for people and programs: every EFI_SIGNATURE_LIST
 * (varstore-formats §9.1), its type (§9.2), and per entry the owner GUID
 * and either the certificate's subject, issuer, validity and SHA-256 or the
 * hash.  Certificates are parsed by OpenSSL; the list framing is walked
 * here with every length checked against what remains, since the value
 * may come from a hostile store file.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cli/store_file.h"

#define LIST_HEADER 28u   /* §9.1: type 16, list size 4, header size 4, sig size 4 */

static const struct {
	const char *guid;
	const char *name;
} sig_types[] = {
	/* varstore-formats §9.2 */
	{ "c1c41626-504c-4092-aca9-41f936934328", "sha256" },
	{ "3c5766e8-269c-4e34-aa14-ed776e85b3b6", "rsa2048" },
	{ "e2b36190-879b-4a3d-ad8d-f2e7bba32784", "rsa2048-sha256" },
	{ "826ca512-cf10-4ac9-b187-be01496631bd", "sha1" },
	{ "67f8444f-8743-48f1-a328-1eaab8736080", "rsa2048-sha1" },
	{ "a5c059a1-94e4-4aa7-87b5-ab155c2bf072", "x509" },
	{ "0b6e5233-a65c-44c9-9407-d9ab83bfc8bd", "sha224" },
	{ "ff3e5307-9fd0-48c9-85f1-8ad56c701e01", "sha384" },
	{ "093e0fae-a6c4-4f50-9f1b-d41e2b89c19a", "sha512" },
	{ "3bd2a492-96c0-4079-b420-fcf98ef103ed", "x509-sha256" },
	{ "7076876e-80c2-4ee6-aad2-28b349a6865b", "x509-sha384" },
	{ "446dbf63-2502-4cda-bcfa-2465d2b0fe9d", "x509-sha512" },
	{ "57347f87-7a9b-403a-b93c-dc4afb7a0ebc", "sm3" },
	{ "60d807e5-10b4-49a9-9331-e40437888d37", "x509-sm3" },
};

void
vv_cert_info_json(struct json_object *o, const struct vv_cert_info *ci)
{
	json_object_object_add(o, "subject", json_object_new_string(ci->subject));
	json_object_object_add(o, "issuer", json_object_new_string(ci->issuer));
	json_object_object_add(o, "cn", json_object_new_string(ci->cn));
	json_object_object_add(o, "not_before", json_object_new_string(ci->not_before));
	json_object_object_add(o, "not_after", json_object_new_string(ci->not_after));
	json_object_object_add(o, "sha256", json_object_new_string(ci->sha256));
}

const char *
vv_sigtype_name(const vv_guid *type)
{
	vv_guid g;

	for (size_t i = 0; i < sizeof(sig_types) / sizeof(sig_types[0]); i++)
		if (vv_guid_parse(sig_types[i].guid, &g) == 0 && vv_guid_equal(&g, type))
			return sig_types[i].name;
	return NULL;
}

static void
name_text(const X509_NAME *n, char *out, size_t cap)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long len;

	out[0] = '\0';
	if (b == NULL)
		return;
	/* RFC 2253 order reversed to the familiar "C=.., O=.., CN=.." and
	 * UTF-8 kept as is. */
	X509_NAME_print_ex(b, n, 0, (XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) | ASN1_STRFLGS_UTF8_CONVERT);
	len = BIO_get_mem_data(b, &p);
	if (len > 0)
		snprintf(out, cap, "%.*s", (int)len, p);
	BIO_free(b);
}

static void
time_text(const ASN1_TIME *t, char *out, size_t cap, long long *epoch)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	out[0] = '\0';
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return;
	strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
	if (epoch != NULL)
		*epoch = (long long)timegm(&tm);
}

int
vv_cert_info(const uint8_t *der, size_t size, struct vv_cert_info *ci)
{
	const unsigned char *p = der;
	X509 *x;
	unsigned char md[32];
	unsigned int mdlen = 0;
	int idx;

	memset(ci, 0, sizeof(*ci));
	if (size > 0x7fffffff || (x = d2i_X509(NULL, &p, (long)size)) == NULL)
		return -1;
	name_text(X509_get_subject_name(x), ci->subject, sizeof(ci->subject));
	name_text(X509_get_issuer_name(x), ci->issuer, sizeof(ci->issuer));
	idx = X509_NAME_get_index_by_NID(X509_get_subject_name(x), NID_commonName, -1);
	if (idx >= 0) {
		ASN1_STRING *s = X509_NAME_ENTRY_get_data(
			X509_NAME_get_entry(X509_get_subject_name(x), idx));
		unsigned char *u = NULL;
		int n = ASN1_STRING_to_UTF8(&u, s);

		if (n > 0)
			snprintf(ci->cn, sizeof(ci->cn), "%.*s", n, u);
		OPENSSL_free(u);
	}
	time_text(X509_get0_notBefore(x), ci->not_before, sizeof(ci->not_before), NULL);
	time_text(X509_get0_notAfter(x), ci->not_after, sizeof(ci->not_after), &ci->not_after_epoch);
	X509_free(x);
	if (EVP_Digest(der, size, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return -1;
	for (unsigned i = 0; i < 32; i++)
		snprintf(ci->sha256 + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/*
 * Walks the lists; calls fn per entry.  Returns 0, or -1 at the first
 * framing error (after the valid entries before it were visited).
 */
typedef void (*entry_fn)(void *ctx, const vv_guid *type, const vv_guid *owner,
			 const uint8_t *data, size_t size);

static int
walk(const uint8_t *db, size_t size, entry_fn fn, void *ctx)
{
	size_t off = 0;

	while (off < size) {
		size_t remain = size - off, list_size, hdr_size, sig_size, body;
		vv_guid type;

		if (remain < LIST_HEADER)
			return -1;
		memcpy(type.b, db + off, 16);
		list_size = vv_le32(db + off + 16);
		hdr_size = vv_le32(db + off + 20);
		sig_size = vv_le32(db + off + 24);
		/* §9.1: the list size includes the header; the entries tile the rest. */
		if (list_size < LIST_HEADER || list_size > remain || sig_size < 16 ||
		    hdr_size > list_size - LIST_HEADER)
			return -1;
		body = list_size - LIST_HEADER - hdr_size;
		if (body % sig_size != 0)
			return -1;
		for (size_t e = 0; e < body; e += sig_size) {
			const uint8_t *entry = db + off + LIST_HEADER + hdr_size + e;
			vv_guid owner;

			memcpy(owner.b, entry, 16);
			fn(ctx, &type, &owner, entry + 16, sig_size - 16);
		}
		off += list_size;
	}
	return 0;
}

static bool
is_x509(const vv_guid *type)
{
	const char *n = vv_sigtype_name(type);

	return n != NULL && strcmp(n, "x509") == 0;
}

static void
json_entry(void *ctx, const vv_guid *type, const vv_guid *owner, const uint8_t *data, size_t size)
{
	struct json_object *arr = ctx, *o = json_object_new_object();
	const char *tn = vv_sigtype_name(type);
	char g[VV_GUID_TEXT_LEN + 1];
	struct vv_cert_info ci;

	vv_guid_format(type, g);
	json_object_object_add(o, "type", json_object_new_string(tn != NULL ? tn : g));
	vv_guid_format(owner, g);
	json_object_object_add(o, "owner", json_object_new_string(g));
	if (is_x509(type) && vv_cert_info(data, size, &ci) == 0) {
		vv_cert_info_json(o, &ci);
	} else {
		char *hex = vv_cli_hex(data, size);

		json_object_object_add(o, is_x509(type) ? "invalid_certificate" : "data",
				       json_object_new_string(hex != NULL ? hex : ""));
		free(hex);
	}
	json_object_array_add(arr, o);
}

struct json_object *
vv_decode_siglist_json(const uint8_t *db, size_t size)
{
	struct json_object *arr = json_object_new_array();

	if (walk(db, size, json_entry, arr) != 0) {
		json_object_put(arr);
		return NULL;
	}
	return arr;
}

struct text_ctx {
	FILE *out;
	const char *indent;
};

static void
text_entry(void *ctx, const vv_guid *type, const vv_guid *owner, const uint8_t *data, size_t size)
{
	struct text_ctx *t = ctx;
	const char *tn = vv_sigtype_name(type);
	char g[VV_GUID_TEXT_LEN + 1], o[64];
	struct vv_cert_info ci;

	vv_guid_format(type, g);
	fprintf(t->out, "%s%s owner=%s\n", t->indent, tn != NULL ? tn : g,
		vv_cli_guid_text(owner, o, sizeof(o)));
	if (is_x509(type) && vv_cert_info(data, size, &ci) == 0) {
		fprintf(t->out, "%s  subject: %s\n", t->indent, ci.subject);
		fprintf(t->out, "%s  issuer:  %s\n", t->indent, ci.issuer);
		fprintf(t->out, "%s  valid:   %s .. %s\n", t->indent, ci.not_before, ci.not_after);
		fprintf(t->out, "%s  sha256:  %s\n", t->indent, ci.sha256);
	} else {
		char *hex = vv_cli_hex(data, size);

		fprintf(t->out, "%s  %s%s\n", t->indent, is_x509(type) ? "invalid certificate: " : "",
			hex != NULL ? hex : "");
		free(hex);
	}
}

int
vv_decode_siglist_text(FILE *out, const uint8_t *db, size_t size, const char *indent)
{
	struct text_ctx t = { out, indent };

	if (walk(db, size, text_entry, &t) != 0) {
		fprintf(out, "%s<malformed signature list>\n", indent);
		return -1;
	}
	return 0;
}
