/*
 * tests/test_auth_crypto.c -- the Secure Boot building blocks:
 * EFI_VARIABLE_AUTHENTICATION_2 parsing (src/auth/auth2.c), PKCS#7
 * verification (src/auth/pkcs7.c) and EFI_SIGNATURE_LIST databases
 * (src/auth/siglist.c); varstore-formats §8.3, §8.4, §9, §11 and
 * device-abi §10, §18.1.
 *
 * Payloads come from independent tools: throwaway keys and certificates
 * from `openssl req`, signature lists from efitools' cert-to-efi-sig-list
 * and hash-to-efi-sig-list, .auth files from sign-efi-sig-list, and
 * detached signatures from `openssl cms` / `openssl smime` over the signed
 * data.  Everything is generated in a temporary directory removed at exit.
 * Without the openssl or efitools commands the cases that need them are
 * skipped, saying so (CI installs both and forbids skips).
 */
#include "harness.h"

#include <stdarg.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "auth/auth2.h"
#include "auth/pkcs7.h"
#include "auth/siglist.h"

/* ---- scratch directory and external tools ---- */

static char tmpdir[64];

static void
remove_tmpdir(void)
{
	char cmd[128];

	if (tmpdir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

static const char *
scratch(void)
{
	if (tmpdir[0] == '\0') {
		strcpy(tmpdir, "/tmp/vv-auth-XXXXXX");
		if (mkdtemp(tmpdir) == NULL) {
			tmpdir[0] = '\0';
			return NULL;
		}
		atexit(remove_tmpdir);
	}
	return tmpdir;
}

/* Runs a shell command inside the scratch directory, quietly; 0 on success. */
static int
sh(const char *fmt, ...)
{
	char cmd[2048], full[2300];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd) || scratch() == NULL)
		return -1;
	snprintf(full, sizeof(full), "cd '%s' && { %s ; } >>tools.log 2>&1", tmpdir, cmd);
	return system(full) == 0 ? 0 : -1;
}

static bool
have_cmds(const char *cmds)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "for c in %s; do command -v $c >/dev/null || exit 1; done", cmds);
	return system(cmd) == 0;
}

#define NEED_OPENSSL() do { \
	if (!have_cmds("openssl")) \
		SKIP("the openssl command is not installed"); \
	REQUIRE(scratch() != NULL); \
	} while (0)

#define NEED_EFITOOLS() do { \
	NEED_OPENSSL(); \
	if (!have_cmds("cert-to-efi-sig-list sign-efi-sig-list hash-to-efi-sig-list")) \
		SKIP("efitools is not installed (apt-get install efitools)"); \
	} while (0)

struct blob {
	uint8_t *d;
	size_t n;
};

/* A file of the scratch directory; d == NULL if it cannot be read. */
static struct blob
slurp(const char *name)
{
	struct blob b = { NULL, 0 };
	char path[256];
	FILE *f;
	long len;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "rb");
	if (f == NULL)
		return b;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		b.d = malloc((size_t)len + 1);
		if (b.d != NULL && fread(b.d, 1, (size_t)len, f) != (size_t)len) {
			free(b.d);
			b.d = NULL;
		}
		b.n = (size_t)len;
	}
	fclose(f);
	return b;
}

static int
spit(const char *name, const uint8_t *d, size_t n)
{
	char path[256];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	if (f == NULL)
		return -1;
	rc = fwrite(d, 1, n, f) == n ? 0 : -1;
	return fclose(f) == 0 ? rc : -1;
}

/*
 * A self-signed key pair NAME.key / NAME.crt / NAME.der with CN=NAME;
 * newkey is an `openssl req -newkey` argument ("rsa:2048", "ec -pkeyopt
 * ec_paramgen_curve:P-256").  Made once per run.
 */
static int
make_key(const char *name, const char *newkey)
{
	if (sh("test -f %s.der || { openssl req -x509 -newkey %s -nodes -keyout %s.key -out %s.crt "
	       "-subj /CN=%s -days 3650 -sha256 && openssl x509 -in %s.crt -outform DER -out %s.der; }",
	       name, newkey, name, name, name, name, name) != 0)
		return -1;
	return 0;
}

/* NAME signed by CA (a make_key or make_issued name); extra: openssl
 * x509 -req options (extensions file). */
static int
make_issued(const char *name, const char *ca, const char *newkey, const char *ext)
{
	return sh("test -f %s.der || { openssl req -new -newkey %s -nodes -keyout %s.key -out %s.csr "
		  "-subj /CN=%s && printf '%%s\\n' '%s' > %s.ext && openssl x509 -req -in %s.csr "
		  "-CA %s.crt -CAkey %s.key -CAcreateserial -days 3650 -sha256 -extfile %s.ext "
		  "-out %s.crt && openssl x509 -in %s.crt -outform DER -out %s.der; }",
		  name, newkey, name, name, name, ext, name, name, ca, ca, name, name, name, name);
}

static struct vv_cert_ref
cert_of(struct blob *b)
{
	struct vv_cert_ref r = { b->d, b->n };

	return r;
}

static void
ascii_name(const char *s, uint16_t *out, size_t *len)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		out[i] = (uint8_t)s[i];
	*len = i;
}

/* 2025-01-01 00:00:00, what every sign-efi-sig-list -t below uses. */
static vv_efi_time
time_2025(void)
{
	vv_efi_time t;

	memset(&t, 0, sizeof(t));
	vv_put_le16(t.b, 2025);
	t.b[2] = 1;
	t.b[3] = 1;
	return t;
}

/* Verifies an efitools-style .auth blob for NAME/GUID/ATTR against one
 * anchor. */
static bool
verify_auth(const uint8_t *auth, size_t auth_size, const char *var, const vv_guid *guid,
	    uint32_t attr, const struct vv_cert_ref *anchors, size_t nanchors)
{
	struct vv_auth2 a;
	struct vv_pkcs7 *p;
	uint16_t name[32];
	size_t name_len, sd_size;
	uint8_t *sd;
	bool ok;

	if (vv_auth2_parse(auth, auth_size, &a) != VV_EFI_SUCCESS)
		return false;
	p = vv_pkcs7_parse(a.pkcs7, a.pkcs7_size);
	if (p == NULL)
		return false;
	ascii_name(var, name, &name_len);
	sd = vv_auth2_signed_data(name, name_len, guid, attr, &a.time, a.payload, a.payload_size,
				  &sd_size);
	ok = sd != NULL && vv_pkcs7_verify(p, sd, sd_size, anchors, nanchors);
	free(sd);
	vv_pkcs7_free(p);
	return ok;
}

/* ---- vv_auth2_parse: every rule (§8.4, device-abi §10.2) ---- */

static const uint8_t pkcs7_guid_wire[16] = {
	0x9d, 0xd2, 0xaf, 0x4a, 0xdf, 0x68, 0xee, 0x49,
	0x8a, 0xa9, 0x34, 0x7d, 0x37, 0x56, 0x65, 0xa7,
};

/* time(16) | dwLength | 0x0200 | 0x0EF1 | PKCS7 GUID | 5 bytes "PKCS7" | payload "DATA" */
static size_t
build_descriptor(uint8_t *buf)
{
	vv_efi_time t = time_2025();

	memset(buf, 0, 64);
	memcpy(buf, t.b, 16);
	vv_put_le32(buf + 16, 24 + 5);
	vv_put_le16(buf + 20, 0x0200);
	vv_put_le16(buf + 22, 0x0EF1);
	memcpy(buf + 24, pkcs7_guid_wire, 16);
	memcpy(buf + 40, "PKCS7", 5);
	memcpy(buf + 45, "DATA", 4);
	return 49;
}

static void
check_parse_rejects(const uint8_t *buf, size_t size, int line)
{
	struct vv_auth2 a, before;
	vv_status st;

	memset(&a, 0xa5, sizeof(a));
	before = a;
	st = vv_auth2_parse(buf, size, &a);
	if (st != VV_EFI_SECURITY_VIOLATION) {
		printf("# line %d: got %s, want EFI_SECURITY_VIOLATION\n", line, vv_status_name(st));
		vv_test_failures++;
	}
	CHECK(memcmp(&a, &before, sizeof(a)) == 0);
}

static void
test_auth2_parse_valid(void)
{
	uint8_t buf[64];
	size_t n = build_descriptor(buf);
	struct vv_auth2 a;

	CHECK_STATUS(vv_auth2_parse(buf, n, &a), VV_EFI_SUCCESS);
	CHECK_MEM(a.time.b, buf, 16);
	CHECK(a.pkcs7 == buf + 40);
	CHECK_EQ(a.pkcs7_size, 5);
	CHECK(a.payload == buf + 45);
	CHECK_EQ(a.payload_size, 4);

	/* dwLength reaching exactly the end: an empty payload (a delete). */
	CHECK_STATUS(vv_auth2_parse(buf, 45, &a), VV_EFI_SUCCESS);
	CHECK_EQ(a.payload_size, 0);
	CHECK(a.payload == buf + 45);

	/* wRevision is not checked (edk2; device-abi §10.2). */
	vv_put_le16(buf + 20, 0x0100);
	CHECK_STATUS(vv_auth2_parse(buf, n, &a), VV_EFI_SUCCESS);
	vv_put_le16(buf + 20, 0);
	CHECK_STATUS(vv_auth2_parse(buf, n, &a), VV_EFI_SUCCESS);

	/* efitools quirks (§11.3): Month 0, a local-time hour, an all-zero
	 * timestamp are all fine: only pad/ns/tz/daylight are checked. */
	n = build_descriptor(buf);
	buf[2] = 0;
	buf[4] = 23;
	CHECK_STATUS(vv_auth2_parse(buf, n, &a), VV_EFI_SUCCESS);
	CHECK_EQ(a.time.b[2], 0);
	memset(buf, 0, 16);
	CHECK_STATUS(vv_auth2_parse(buf, n, &a), VV_EFI_SUCCESS);
}

static void
test_auth2_parse_rejects(void)
{
	uint8_t buf[64];
	size_t n = build_descriptor(buf);
	static const uint16_t bad_types[] = { 0x0EF0, 0x0002, 0x0000, 0xF10E, 0xFFFF };
	static const uint32_t bad_lengths[] = { 0, 1, 23, 24 + 5 + 4 + 1, 0x7fffffff, 0xffffffff };

	/* Fewer than 40 bytes (edk2: DataSize < sizeof(AUTH_2)). */
	check_parse_rejects(buf, 39, __LINE__);
	check_parse_rejects(buf, 16, __LINE__);
	check_parse_rejects(buf, 0, __LINE__);
	check_parse_rejects(NULL, 0, __LINE__);

	/* dwLength < 24 or past the data (QEMU did not check < 24, §18.1). */
	for (size_t i = 0; i < sizeof(bad_lengths) / sizeof(bad_lengths[0]); i++) {
		n = build_descriptor(buf);
		vv_put_le32(buf + 16, bad_lengths[i]);
		check_parse_rejects(buf, n, __LINE__);
	}
	/* One byte short of what dwLength claims. */
	n = build_descriptor(buf);
	check_parse_rejects(buf, 44, __LINE__);

	/* An empty PKCS#7 (dwLength 24) parses, as in edk2 (efi-updatevar -e
	 * writes it for setup mode), and can never verify (QEMU's zero-size
	 * allocation, §18.1). */
	n = build_descriptor(buf);
	vv_put_le32(buf + 16, 24);
	{
		struct vv_auth2 a;

		CHECK_STATUS(vv_auth2_parse(buf, n, &a), VV_EFI_SUCCESS);
		CHECK_EQ(a.pkcs7_size, 0);
		CHECK_EQ(a.payload_size, n - 40);
		CHECK(vv_pkcs7_parse(a.pkcs7, 0) == NULL);
		CHECK_STATUS(vv_auth2_parse(buf, 40, &a), VV_EFI_SUCCESS);
		CHECK_EQ(a.payload_size, 0);
	}

	/* wCertificateType other than WIN_CERT_TYPE_EFI_GUID. */
	for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
		n = build_descriptor(buf);
		vv_put_le16(buf + 22, bad_types[i]);
		check_parse_rejects(buf, n, __LINE__);
	}
	/* CertType other than EFI_CERT_TYPE_PKCS7_GUID: each byte. */
	for (size_t i = 0; i < 16; i++) {
		n = build_descriptor(buf);
		buf[24 + i] ^= 0x01;
		check_parse_rejects(buf, n, __LINE__);
	}
	/* Pad1, Nanosecond, TimeZone, Daylight, Pad2: each byte non-zero. */
	for (size_t i = 7; i < 16; i++) {
		n = build_descriptor(buf);
		buf[i] = 0x01;
		check_parse_rejects(buf, n, __LINE__);
		buf[i] = 0x80;
		check_parse_rejects(buf, n, __LINE__);
	}
	/* EFI_UNSPECIFIED_TIMEZONE is a time zone too. */
	n = build_descriptor(buf);
	vv_put_le16(buf + 12, 0x07FF);
	check_parse_rejects(buf, n, __LINE__);
}

/* ---- vv_efi_time_compare ---- */

static vv_efi_time
mk_time(unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s)
{
	vv_efi_time t;

	memset(&t, 0, sizeof(t));
	vv_put_le16(t.b, (uint16_t)y);
	t.b[2] = (uint8_t)mo;
	t.b[3] = (uint8_t)d;
	t.b[4] = (uint8_t)h;
	t.b[5] = (uint8_t)mi;
	t.b[6] = (uint8_t)s;
	return t;
}

static void
test_time_compare(void)
{
	vv_efi_time a = mk_time(2025, 1, 1, 0, 0, 0), b;

	b = a;
	CHECK_EQ(vv_efi_time_compare(&a, &b), 0);
	/* Year is a u16: 2047 (0x07FF) < 2048 (0x0800), whose low byte is smaller. */
	a = mk_time(2047, 12, 31, 23, 59, 59);
	b = mk_time(2048, 1, 1, 0, 0, 0);
	CHECK(vv_efi_time_compare(&a, &b) < 0);
	CHECK(vv_efi_time_compare(&b, &a) > 0);
	/* Each field outranks every later one. */
	a = mk_time(2025, 2, 1, 0, 0, 0);
	b = mk_time(2025, 1, 31, 23, 59, 59);
	CHECK(vv_efi_time_compare(&a, &b) > 0);
	a = mk_time(2025, 1, 2, 0, 0, 0);
	b = mk_time(2025, 1, 1, 23, 59, 59);
	CHECK(vv_efi_time_compare(&a, &b) > 0);
	a = mk_time(2025, 1, 1, 1, 0, 0);
	b = mk_time(2025, 1, 1, 0, 59, 59);
	CHECK(vv_efi_time_compare(&a, &b) > 0);
	a = mk_time(2025, 1, 1, 0, 1, 0);
	b = mk_time(2025, 1, 1, 0, 0, 59);
	CHECK(vv_efi_time_compare(&a, &b) > 0);
	a = mk_time(2025, 1, 1, 0, 0, 1);
	b = mk_time(2025, 1, 1, 0, 0, 0);
	CHECK(vv_efi_time_compare(&a, &b) > 0);
	CHECK(vv_efi_time_compare(&b, &a) < 0);
	/* Month 0 (efitools) sorts before Month 1. */
	a = mk_time(2025, 0, 1, 0, 0, 0);
	b = mk_time(2025, 1, 1, 0, 0, 0);
	CHECK(vv_efi_time_compare(&a, &b) < 0);
	/* Nanosecond, TimeZone, Daylight and pads do not count (edk2). */
	a = mk_time(2025, 1, 1, 0, 0, 0);
	b = a;
	vv_put_le32(b.b + 8, 999999999);
	b.b[7] = 1;
	vv_put_le16(b.b + 12, 0x07FF);
	b.b[14] = 3;
	b.b[15] = 9;
	CHECK_EQ(vv_efi_time_compare(&a, &b), 0);
}

/* ---- vv_auth2_signed_data ---- */

static void
test_signed_data_layout(void)
{
	uint16_t name[8];
	size_t name_len, n;
	vv_efi_time t = mk_time(2025, 3, 4, 5, 6, 7);
	const uint8_t payload[3] = { 0xaa, 0xbb, 0xcc };
	uint8_t want[4 + 16 + 4 + 16 + 3];
	uint8_t *sd;

	ascii_name("db", name, &name_len);
	memcpy(want, "d\0b\0", 4);
	memcpy(want + 4, VV_GUID_IMAGE_SECURITY_DB.b, 16);
	memcpy(want + 20, "\x67\0\0\0", 4);
	memcpy(want + 24, t.b, 16);
	memcpy(want + 40, payload, 3);
	sd = vv_auth2_signed_data(name, name_len, &VV_GUID_IMAGE_SECURITY_DB, 0x67, &t, payload, 3,
				  &n);
	REQUIRE(sd != NULL);
	CHECK_EQ(n, sizeof(want));
	CHECK_MEM(sd, want, sizeof(want));
	free(sd);

	/* Non-ASCII UCS-2 is written little-endian; empty name and payload. */
	name[0] = 0x20ac;
	sd = vv_auth2_signed_data(name, 1, &VV_GUID_GLOBAL_VARIABLE, 0x27, &t, NULL, 0, &n);
	REQUIRE(sd != NULL);
	CHECK_EQ(n, 2 + 16 + 4 + 16);
	CHECK_EQ(sd[0], 0xac);
	CHECK_EQ(sd[1], 0x20);
	free(sd);
	sd = vv_auth2_signed_data(name, 0, &VV_GUID_GLOBAL_VARIABLE, 0x27, &t, NULL, 0, &n);
	REQUIRE(sd != NULL);
	CHECK_EQ(n, 16 + 4 + 16);
	CHECK_MEM(sd, VV_GUID_GLOBAL_VARIABLE.b, 16);
	free(sd);

	/* Sizes that overflow give NULL rather than a short buffer. */
	CHECK(vv_auth2_signed_data(name, SIZE_MAX / 2 + 1, &VV_GUID_GLOBAL_VARIABLE, 0, &t, payload,
				   3, &n) == NULL);
	CHECK(vv_auth2_signed_data(name, 1, &VV_GUID_GLOBAL_VARIABLE, 0, &t, payload,
				   SIZE_MAX - 20, &n) == NULL);
}

/* sign-efi-sig-list -o writes the exact bytes it would sign (§11.2). */
static void
test_signed_data_matches_efitools(void)
{
	struct blob esl, bundle, bundle_a;
	vv_efi_time t = time_2025();
	uint16_t name[8];
	size_t name_len, n;
	uint8_t *sd;

	NEED_EFITOOLS();
	REQUIRE(make_key("tKEK", "rsa:2048") == 0);
	REQUIRE(sh("cert-to-efi-sig-list -g 11111111-2222-3333-4444-555555555555 tKEK.crt o.esl && "
		   "sign-efi-sig-list -o -t '2025-01-01 00:00:00' db o.esl o.bundle && "
		   "sign-efi-sig-list -a -o -t '2025-01-01 00:00:00' KEK o.esl o.abundle") == 0);
	esl = slurp("o.esl");
	bundle = slurp("o.bundle");
	bundle_a = slurp("o.abundle");
	REQUIRE(esl.d != NULL && bundle.d != NULL && bundle_a.d != NULL);

	ascii_name("db", name, &name_len);
	sd = vv_auth2_signed_data(name, name_len, &VV_GUID_IMAGE_SECURITY_DB, 0x27, &t, esl.d, esl.n,
				  &n);
	REQUIRE(sd != NULL);
	CHECK_EQ(n, bundle.n);
	CHECK(n == bundle.n && memcmp(sd, bundle.d, n) == 0);
	free(sd);

	ascii_name("KEK", name, &name_len);
	sd = vv_auth2_signed_data(name, name_len, &VV_GUID_GLOBAL_VARIABLE, 0x67, &t, esl.d, esl.n,
				  &n);
	REQUIRE(sd != NULL);
	CHECK_EQ(n, bundle_a.n);
	CHECK(n == bundle_a.n && memcmp(sd, bundle_a.d, n) == 0);
	free(sd);
	free(esl.d);
	free(bundle.d);
	free(bundle_a.d);
}

/* ---- efitools .auth files through parse + verify ---- */

static void
test_efitools_auth_verify(void)
{
	struct blob auth, kek, pk, other, esl;
	struct vv_cert_ref anchors[2];
	struct vv_auth2 a;
	vv_efi_time t = time_2025();
	uint8_t *copy;

	NEED_EFITOOLS();
	REQUIRE(make_key("tKEK", "rsa:2048") == 0);
	REQUIRE(make_key("tPK", "rsa:4096") == 0);
	REQUIRE(make_key("tOther", "rsa:2048") == 0);
	REQUIRE(sh("cert-to-efi-sig-list -g 11111111-2222-3333-4444-555555555555 tOther.crt v.esl && "
		   "sign-efi-sig-list -t '2025-01-01 00:00:00' -k tKEK.key -c tKEK.crt db v.esl v.auth") == 0);
	auth = slurp("v.auth");
	esl = slurp("v.esl");
	kek = slurp("tKEK.der");
	pk = slurp("tPK.der");
	other = slurp("tOther.der");
	REQUIRE(auth.d && esl.d && kek.d && pk.d && other.d);

	/* The descriptor: the timestamp of -t, bare SignedData (Debian's
	 * 1.9.2, §11.3), the ESL as payload. */
	CHECK_STATUS(vv_auth2_parse(auth.d, auth.n, &a), VV_EFI_SUCCESS);
	CHECK_MEM(a.time.b, t.b, 16);
	CHECK_EQ(a.payload_size, esl.n);
	CHECK(a.payload_size == esl.n && memcmp(a.payload, esl.d, esl.n) == 0);
	CHECK(a.pkcs7_size > 8 && a.pkcs7[0] == 0x30 && a.pkcs7[4] == 0x02);

	anchors[0] = cert_of(&kek);
	CHECK(verify_auth(auth.d, auth.n, "db", &VV_GUID_IMAGE_SECURITY_DB, 0x27, anchors, 1));
	/* PK or any KEK (§8.4): the right one need not be first. */
	anchors[0] = cert_of(&pk);
	anchors[1] = cert_of(&kek);
	CHECK(verify_auth(auth.d, auth.n, "db", &VV_GUID_IMAGE_SECURITY_DB, 0x27, anchors, 2));
	/* Wrong anchors. */
	CHECK(!verify_auth(auth.d, auth.n, "db", &VV_GUID_IMAGE_SECURITY_DB, 0x27, anchors, 1));
	anchors[0] = cert_of(&other);
	CHECK(!verify_auth(auth.d, auth.n, "db", &VV_GUID_IMAGE_SECURITY_DB, 0x27, anchors, 1));
	CHECK(!verify_auth(auth.d, auth.n, "db", &VV_GUID_IMAGE_SECURITY_DB, 0x27, anchors, 0));
	/* Modified name, GUID, attributes (APPEND was not signed). */
	anchors[0] = cert_of(&kek);
	CHECK(!verify_auth(auth.d, auth.n, "dbx", &VV_GUID_IMAGE_SECURITY_DB, 0x27, anchors, 1));
	CHECK(!verify_auth(auth.d, auth.n, "Db", &VV_GUID_IMAGE_SECURITY_DB, 0x27, anchors, 1));
	CHECK(!verify_auth(auth.d, auth.n, "db", &VV_GUID_GLOBAL_VARIABLE, 0x27, anchors, 1));
	CHECK(!verify_auth(auth.d, auth.n, "db", &VV_GUID_IMAGE_SECURITY_DB, 0x67, anchors, 1));
	CHECK(!verify_auth(auth.d, auth.n, "db", &VV_GUID_IMAGE_SECURITY_DB, 0x07, anchors, 1));

	copy = malloc(auth.n);
	REQUIRE(copy != NULL);
	/* Modified timestamp (each of Year..Second) and payload. */
	for (size_t i = 0; i <= 6; i++) {
		memcpy(copy, auth.d, auth.n);
		copy[i] ^= 0x01;
		CHECK(!verify_auth(copy, auth.n, "db", &VV_GUID_IMAGE_SECURITY_DB, 0x27, anchors, 1));
	}
	memcpy(copy, auth.d, auth.n);
	copy[auth.n - 1] ^= 0x80;
	CHECK(!verify_auth(copy, auth.n, "db", &VV_GUID_IMAGE_SECURITY_DB, 0x27, anchors, 1));
	/* A payload cut short or extended. */
	CHECK(!verify_auth(auth.d, auth.n - 1, "db", &VV_GUID_IMAGE_SECURITY_DB, 0x27, anchors, 1));
	/* The signature value itself (the last bytes of the PKCS#7). */
	memcpy(copy, auth.d, auth.n);
	copy[40 + a.pkcs7_size - 1] ^= 0x01;
	CHECK(!verify_auth(copy, auth.n, "db", &VV_GUID_IMAGE_SECURITY_DB, 0x27, anchors, 1));
	free(copy);

	free(auth.d);
	free(esl.d);
	free(kek.d);
	free(pk.d);
	free(other.d);
}

/* The tools' entry points (vmvars/sigdb.h): the same verdicts as the
 * service's own verification, the given certificate the only anchor. */
static void
test_public_auth2_verify(void)
{
	static const uint16_t db[] = { 'd', 'b' };
	static const uint16_t dbx[] = { 'd', 'b', 'x' };
	struct blob auth, kek, other;
	struct vv_auth2 a;
	uint8_t *copy;

	NEED_EFITOOLS();
	REQUIRE(make_key("pKEK", "rsa:2048") == 0);
	REQUIRE(make_key("pOther", "rsa:2048") == 0);
	REQUIRE(sh("cert-to-efi-sig-list -g 11111111-2222-3333-4444-555555555555 pOther.crt p.esl && "
		   "sign-efi-sig-list -t '2025-01-01 00:00:00' -k pKEK.key -c pKEK.crt db p.esl p.auth") == 0);
	auth = slurp("p.auth");
	kek = slurp("pKEK.der");
	other = slurp("pOther.der");
	REQUIRE(auth.d && kek.d && other.d);
	REQUIRE(vv_auth2_parse(auth.d, auth.n, &a) == VV_EFI_SUCCESS);
	CHECK(vv_auth2_pkcs7_parses(&a));
	CHECK(vv_auth2_verify(&a, db, 2, &VV_GUID_IMAGE_SECURITY_DB, 0x27, kek.d, kek.n));
	/* another anchor, another variable, APPEND not signed */
	CHECK(!vv_auth2_verify(&a, db, 2, &VV_GUID_IMAGE_SECURITY_DB, 0x27, other.d, other.n));
	CHECK(!vv_auth2_verify(&a, dbx, 3, &VV_GUID_IMAGE_SECURITY_DB, 0x27, kek.d, kek.n));
	CHECK(!vv_auth2_verify(&a, db, 2, &VV_GUID_IMAGE_SECURITY_DB, 0x67, kek.d, kek.n));
	/* an anchor that is not a certificate verifies nothing */
	CHECK(!vv_auth2_verify(&a, db, 2, &VV_GUID_IMAGE_SECURITY_DB, 0x27, kek.d, kek.n / 2));
	/* CertData that is not DER SignedData: neither parses nor verifies */
	copy = malloc(auth.n);
	REQUIRE(copy != NULL);
	memcpy(copy, auth.d, auth.n);
	copy[40] ^= 0xff;
	REQUIRE(vv_auth2_parse(copy, auth.n, &a) == VV_EFI_SUCCESS);
	CHECK(!vv_auth2_pkcs7_parses(&a));
	CHECK(!vv_auth2_verify(&a, db, 2, &VV_GUID_IMAGE_SECURITY_DB, 0x27, kek.d, kek.n));
	free(copy);
	free(auth.d);
	free(kek.d);
	free(other.d);
}

/* APPEND (-a): attributes 0x67 are signed; PK/KEK get the global GUID. */
static void
test_efitools_append_and_keys(void)
{
	static const struct {
		const char *key, *newkey;
	} keys[] = {
		{ "tKEK", "rsa:2048" },
		{ "tPK", "rsa:4096" },
		{ "tEC256", "ec -pkeyopt ec_paramgen_curve:P-256" },
		{ "tEC384", "ec -pkeyopt ec_paramgen_curve:P-384" },
	};

	NEED_EFITOOLS();
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct blob auth, appended, der;
		struct vv_cert_ref anchor;

		REQUIRE(make_key(keys[i].key, keys[i].newkey) == 0);
		REQUIRE(sh("cert-to-efi-sig-list %s.crt %s.esl && "
			   "sign-efi-sig-list -t '2025-01-01 00:00:00' -k %s.key -c %s.crt KEK %s.esl %s.kek.auth && "
			   "sign-efi-sig-list -a -t '2025-01-02 00:00:00' -k %s.key -c %s.crt db %s.esl %s.dba.auth",
			   keys[i].key, keys[i].key, keys[i].key, keys[i].key, keys[i].key, keys[i].key,
			   keys[i].key, keys[i].key, keys[i].key, keys[i].key) == 0);
		{
			char n1[64], n2[64], n3[64];

			snprintf(n1, sizeof(n1), "%s.kek.auth", keys[i].key);
			snprintf(n2, sizeof(n2), "%s.dba.auth", keys[i].key);
			snprintf(n3, sizeof(n3), "%s.der", keys[i].key);
			auth = slurp(n1);
			appended = slurp(n2);
			der = slurp(n3);
		}
		REQUIRE(auth.d && appended.d && der.d);
		anchor = cert_of(&der);
		printf("# signer %s\n", keys[i].key);
		CHECK(verify_auth(auth.d, auth.n, "KEK", &VV_GUID_GLOBAL_VARIABLE, 0x27, &anchor, 1));
		CHECK(!verify_auth(auth.d, auth.n, "KEK", &VV_GUID_IMAGE_SECURITY_DB, 0x27, &anchor, 1));
		CHECK(verify_auth(appended.d, appended.n, "db", &VV_GUID_IMAGE_SECURITY_DB, 0x67,
				  &anchor, 1));
		CHECK(!verify_auth(appended.d, appended.n, "db", &VV_GUID_IMAGE_SECURITY_DB, 0x27,
				   &anchor, 1));
		free(auth.d);
		free(appended.d);
		free(der.d);
	}
}

/* Truncated, zero-filled and garbage PKCS#7 inside a well-formed descriptor. */
static void
test_pkcs7_malformed(void)
{
	struct blob auth, kek;
	struct vv_auth2 a;
	struct vv_cert_ref anchor;
	uint8_t *buf;
	uint32_t seed = 12345;

	NEED_EFITOOLS();
	REQUIRE(make_key("tKEK", "rsa:2048") == 0);
	REQUIRE(make_key("tOther", "rsa:2048") == 0);
	REQUIRE(sh("test -f v.auth || { cert-to-efi-sig-list tOther.crt v.esl && "
		   "sign-efi-sig-list -t '2025-01-01 00:00:00' -k tKEK.key -c tKEK.crt db v.esl v.auth; }") == 0);
	auth = slurp("v.auth");
	kek = slurp("tKEK.der");
	REQUIRE(auth.d && kek.d);
	anchor = cert_of(&kek);
	REQUIRE(vv_auth2_parse(auth.d, auth.n, &a) == VV_EFI_SUCCESS);

	/* Truncated DER: every cut of the blob fails to parse. */
	for (size_t cut = 1; cut < a.pkcs7_size; cut += (cut < 64 ? 1 : 61))
		CHECK(vv_pkcs7_parse(a.pkcs7, cut) == NULL);
	CHECK(vv_pkcs7_parse(a.pkcs7, a.pkcs7_size - 1) == NULL);
	CHECK(vv_pkcs7_parse(a.pkcs7, 0) == NULL);
	CHECK(vv_pkcs7_parse(NULL, 0) == NULL);

	buf = malloc(a.pkcs7_size);
	REQUIRE(buf != NULL);
	memset(buf, 0, a.pkcs7_size);
	CHECK(vv_pkcs7_parse(buf, a.pkcs7_size) == NULL);
	memset(buf, 0xff, a.pkcs7_size);
	CHECK(vv_pkcs7_parse(buf, a.pkcs7_size) == NULL);
	for (int round = 0; round < 64; round++) {
		for (size_t i = 0; i < a.pkcs7_size; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (uint8_t)(seed >> 16);
		}
		CHECK(vv_pkcs7_parse(buf, a.pkcs7_size) == NULL);
	}
	/* A valid header over garbage content. */
	memcpy(buf, a.pkcs7, 16);
	CHECK(vv_pkcs7_parse(buf, a.pkcs7_size) == NULL);
	free(buf);
	/* Refusals leave nothing on OpenSSL's error queue. */
	CHECK_EQ(ERR_peek_error(), 0);

	/* A whole .auth whose PKCS#7 is zero-filled / cut: parse passes, the
	 * signature does not. */
	buf = malloc(auth.n);
	REQUIRE(buf != NULL);
	memcpy(buf, auth.d, auth.n);
	memset(buf + 40, 0, a.pkcs7_size);
	CHECK(!verify_auth(buf, auth.n, "db", &VV_GUID_IMAGE_SECURITY_DB, 0x27, &anchor, 1));
	memcpy(buf, auth.d, auth.n);
	vv_put_le32(buf + 16, (uint32_t)(24 + a.pkcs7_size / 2));
	CHECK(!verify_auth(buf, auth.n, "db", &VV_GUID_IMAGE_SECURITY_DB, 0x27, &anchor, 1));
	free(buf);

	/* Garbage anchors verify nothing. */
	{
		uint8_t junk[64] = { 0x30, 0x3e };
		struct vv_cert_ref bad[2] = { { junk, sizeof(junk) }, { NULL, 0 } };

		CHECK(!verify_auth(auth.d, auth.n, "db", &VV_GUID_IMAGE_SECURITY_DB, 0x27, bad, 2));
		bad[1] = anchor;
		CHECK(verify_auth(auth.d, auth.n, "db", &VV_GUID_IMAGE_SECURITY_DB, 0x27, bad, 2));
	}
	CHECK_EQ(ERR_peek_error(), 0);
	free(auth.d);
	free(kek.d);
}

/* ---- openssl cms / smime over signed data we build ---- */

/* Writes sd.bin = the signed data of "db" over v.esl with attributes 0x27. */
static int
write_db_signed_data(struct blob *esl)
{
	uint16_t name[4];
	size_t name_len, n;
	vv_efi_time t = time_2025();
	uint8_t *sd;
	int rc;

	ascii_name("db", name, &name_len);
	sd = vv_auth2_signed_data(name, name_len, &VV_GUID_IMAGE_SECURITY_DB, 0x27, &t, esl->d,
				  esl->n, &n);
	if (sd == NULL)
		return -1;
	rc = spit("sd.bin", sd, n);
	free(sd);
	return rc;
}

/* Verifies file SIG (DER PKCS#7) over sd.bin against anchor file ANCHOR.der;
 * -1 if it does not parse. */
static int
verify_file(const char *sig, const char *anchor, const struct blob *sd)
{
	struct blob s = slurp(sig), c;
	struct vv_pkcs7 *p;
	struct vv_cert_ref ref;
	char name[64];
	int rc;

	snprintf(name, sizeof(name), "%s.der", anchor);
	c = slurp(name);
	if (s.d == NULL || c.d == NULL) {
		free(s.d);
		free(c.d);
		printf("# %s or %s missing\n", sig, name);
		return -2;
	}
	p = vv_pkcs7_parse(s.d, s.n);
	ref = cert_of(&c);
	rc = p == NULL ? -1 : vv_pkcs7_verify(p, sd->d, sd->n, &ref, 1) ? 1 : 0;
	vv_pkcs7_free(p);
	free(s.d);
	free(c.d);
	return rc;
}

/* The offset of the SignedData inside a DER ContentInfo: after the outer
 * SEQUENCE header, the 11-byte OID and the [0] header. */
static size_t
der_header_len(const uint8_t *p)
{
	return p[1] < 0x80 ? 2 : 2 + (size_t)(p[1] & 0x7f);
}

static int
strip_wrapper(const char *in, const char *out)
{
	struct blob b = slurp(in);
	size_t off;
	int rc;

	if (b.d == NULL || b.n < 20)
		return -1;
	/* After the outer header and the 11-byte OID comes [0] (0xA0); the
	 * SignedData follows its header.  asn1parse -strparse OFF -out writes
	 * the object at OFF. */
	off = der_header_len(b.d) + 11;
	if (b.d[off] != 0xa0) {
		free(b.d);
		return -1;
	}
	off += der_header_len(b.d + off);
	rc = sh("openssl asn1parse -inform DER -in %s -strparse %zu -noout -out %s", in, off, out);
	free(b.d);
	return rc;
}

static void
test_openssl_cms_forms(void)
{
	static const struct {
		const char *signer, *newkey, *md, *extra;
		int want;   /* 1 verifies, 0 refused, -1 does not parse */
	} cases[] = {
		{ "tKEK", "rsa:2048", "sha256", "-noattr", 1 },
		{ "tKEK", "rsa:2048", "sha256", "", 1 },            /* signed attributes */
		{ "tKEK", "rsa:2048", "sha384", "-noattr", 1 },
		{ "tKEK", "rsa:2048", "sha512", "", 1 },
		{ "tKEK", "rsa:2048", "sha1", "-noattr", 0 },
		{ "tKEK", "rsa:2048", "sha1", "", 0 },
		{ "tKEK", "rsa:2048", "sha224", "-noattr", 0 },
		{ "tKEK", "rsa:2048", "sha224", "", 0 },
		{ "tPK", "rsa:4096", "sha256", "", 1 },
		{ "tEC256", "ec -pkeyopt ec_paramgen_curve:P-256", "sha256", "-noattr", 1 },
		{ "tEC384", "ec -pkeyopt ec_paramgen_curve:P-384", "sha384", "", 1 },
		/* Outside the signer keys of pkcs7.h. */
		{ "tRSA1024", "rsa:1024", "sha256", "-noattr", 0 },
		{ "tEC521", "ec -pkeyopt ec_paramgen_curve:P-521", "sha256", "-noattr", 0 },
	};
	struct blob esl, sd;

	NEED_OPENSSL();
	REQUIRE(make_key("tOther", "rsa:2048") == 0);
	REQUIRE(sh("openssl x509 -in tOther.crt -outform DER -out tOther.cert.der") == 0);
	esl = slurp("tOther.cert.der");   /* any bytes do as payload */
	REQUIRE(esl.d != NULL);
	REQUIRE(write_db_signed_data(&esl) == 0);
	sd = slurp("sd.bin");
	REQUIRE(sd.d != NULL);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char sig[64], bare[64];
		int got;

		REQUIRE(make_key(cases[i].signer, cases[i].newkey) == 0);
		snprintf(sig, sizeof(sig), "cms%zu.der", i);
		snprintf(bare, sizeof(bare), "cms%zu.bare", i);
		printf("# cms case %zu: %s %s %s\n", i, cases[i].signer, cases[i].md, cases[i].extra);
		REQUIRE(sh("openssl cms -sign -binary %s -outform DER -md %s -in sd.bin -signer %s.crt "
			   "-inkey %s.key -out %s", cases[i].extra, cases[i].md, cases[i].signer,
			   cases[i].signer, sig) == 0);
		/* ContentInfo-wrapped as written... */
		got = verify_file(sig, cases[i].signer, &sd);
		CHECK_EQ(got, cases[i].want);
		/* ...and as a bare SignedData. */
		REQUIRE(strip_wrapper(sig, bare) == 0);
		got = verify_file(bare, cases[i].signer, &sd);
		CHECK_EQ(got, cases[i].want);
		/* A wrong anchor never verifies. */
		if (strcmp(cases[i].signer, "tOther") != 0)
			CHECK_EQ(verify_file(sig, "tOther", &sd), cases[i].want == -1 ? -1 : 0);
	}

	/* The SignedData's digestAlgorithms set (the first SHA-256 OID in the
	 * blob) naming SHA-224, SHA-384 or an unknown digest while the
	 * SignerInfo says SHA-256: refused (and, under ASan, nothing leaks in
	 * OpenSSL's failure path). */
	{
		static const uint8_t sha256_oid[9] = {
			0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
		};
		static const uint8_t subst[] = { 0x04, 0x02, 0x7f };
		struct blob c = slurp("cms0.der");
		size_t at = 0;

		REQUIRE(c.d != NULL);
		while (at + 9 <= c.n && memcmp(c.d + at, sha256_oid, 9) != 0)
			at++;
		REQUIRE(at + 9 <= c.n);
		for (size_t i = 0; i < sizeof(subst); i++) {
			c.d[at + 8] = subst[i];
			REQUIRE(spit("cms-mdalg.der", c.d, c.n) == 0);
			printf("# digestAlgorithms OID last byte 0x%02x\n", subst[i]);
			CHECK_EQ(verify_file("cms-mdalg.der", "tKEK", &sd), 0);
		}
		c.d[at + 8] = 0x01;
		REQUIRE(spit("cms-mdalg.der", c.d, c.n) == 0);
		CHECK_EQ(verify_file("cms-mdalg.der", "tKEK", &sd), 1);
		free(c.d);
	}

	/* openssl smime (the documented -o/-i flow, §11.3): ContentInfo with
	 * signed attributes. */
	REQUIRE(sh("openssl smime -sign -binary -outform DER -md sha256 -in sd.bin -signer tKEK.crt "
		   "-inkey tKEK.key -out smime.der") == 0);
	CHECK_EQ(verify_file("smime.der", "tKEK", &sd), 1);
	CHECK_EQ(verify_file("smime.der", "tPK", &sd), 0);
	/* Over other data. */
	sd.d[0] ^= 1;
	CHECK_EQ(verify_file("smime.der", "tKEK", &sd), 0);
	CHECK_EQ(verify_file("cms0.der", "tKEK", &sd), 0);
	CHECK_EQ(verify_file("cms1.der", "tKEK", &sd), 0);
	sd.d[0] ^= 1;
	free(sd.d);
	free(esl.d);
}

/* sign-efi-sig-list -i with an external smime signature: the wrapped,
 * attribute-carrying form inside a real .auth.  (efitools 1.9.2 copies the
 * -i file verbatim, so it must be DER although the help says PEM.) */
static void
test_efitools_detached_flow(void)
{
	struct blob auth, kek;
	struct vv_cert_ref anchor;
	struct vv_auth2 a;

	NEED_EFITOOLS();
	REQUIRE(make_key("tKEK", "rsa:2048") == 0);
	REQUIRE(sh("cert-to-efi-sig-list tKEK.crt d.esl && "
		   "sign-efi-sig-list -o -t '2025-01-01 00:00:00' dbx d.esl d.bundle && "
		   "openssl smime -sign -binary -in d.bundle -signer tKEK.crt -inkey tKEK.key "
		   "-outform DER -md sha256 -out d.sig.der && "
		   "sign-efi-sig-list -i d.sig.der -t '2025-01-01 00:00:00' dbx d.esl d.auth") == 0);
	auth = slurp("d.auth");
	kek = slurp("tKEK.der");
	REQUIRE(auth.d && kek.d);
	anchor = cert_of(&kek);
	REQUIRE(vv_auth2_parse(auth.d, auth.n, &a) == VV_EFI_SUCCESS);
	/* A ContentInfo: SEQUENCE { OID signedData, [0] ... }. */
	CHECK(a.pkcs7_size > 20 && a.pkcs7[0] == 0x30 && a.pkcs7[4] == 0x06 && a.pkcs7[15] == 0xa0);
	CHECK(verify_auth(auth.d, auth.n, "dbx", &VV_GUID_IMAGE_SECURITY_DB, 0x27, &anchor, 1));
	CHECK(!verify_auth(auth.d, auth.n, "db", &VV_GUID_IMAGE_SECURITY_DB, 0x27, &anchor, 1));
	free(auth.d);
	free(kek.d);
}

/* Chains: root -> intermediate -> leaf; partial chains; any key usage. */
static void
test_pkcs7_chains(void)
{
	struct blob sd;
	static const char ca_ext[] = "basicConstraints=critical,CA:TRUE";

	NEED_OPENSSL();
	REQUIRE(make_key("tOther", "rsa:2048") == 0);
	REQUIRE(make_key("cRoot", "rsa:2048") == 0);
	REQUIRE(make_issued("cInter", "cRoot", "rsa:2048", ca_ext) == 0);
	REQUIRE(make_issued("cLeaf", "cInter", "rsa:2048", "basicConstraints=CA:FALSE") == 0);
	/* A leaf whose key usage allows no signing and whose EKU is TLS:
	 * edk2 allows any key usage. */
	REQUIRE(make_issued("cOdd", "cRoot", "rsa:2048",
			    "keyUsage=critical,keyCertSign\nextendedKeyUsage=serverAuth") == 0);
	REQUIRE(spit("sd.bin", (const uint8_t *)"chain test data", 15) == 0);
	sd = slurp("sd.bin");
	REQUIRE(sd.d != NULL);
	REQUIRE(sh("openssl cms -sign -binary -noattr -outform DER -md sha256 -in sd.bin "
		   "-signer cLeaf.crt -inkey cLeaf.key -certfile cInter.crt -out ch-full.der && "
		   "openssl cms -sign -binary -noattr -outform DER -md sha256 -in sd.bin "
		   "-signer cLeaf.crt -inkey cLeaf.key -out ch-leaf.der && "
		   "openssl cms -sign -binary -outform DER -md sha256 -in sd.bin "
		   "-signer cOdd.crt -inkey cOdd.key -out ch-odd.der") == 0);
	/* Leaf + intermediate in the blob: the root, the intermediate (not
	 * self-signed: a partial chain) and the leaf itself are anchors. */
	CHECK_EQ(verify_file("ch-full.der", "cRoot", &sd), 1);
	CHECK_EQ(verify_file("ch-full.der", "cInter", &sd), 1);
	CHECK_EQ(verify_file("ch-full.der", "cLeaf", &sd), 1);
	CHECK_EQ(verify_file("ch-full.der", "tOther", &sd), 0);
	/* Leaf only: the root is unreachable without the intermediate. */
	CHECK_EQ(verify_file("ch-leaf.der", "cRoot", &sd), 0);
	CHECK_EQ(verify_file("ch-leaf.der", "cInter", &sd), 1);
	CHECK_EQ(verify_file("ch-odd.der", "cRoot", &sd), 1);
	CHECK_EQ(verify_file("ch-odd.der", "cInter", &sd), 0);
	free(sd.d);
}

/* ---- vv_pkcs7_signer_digest ---- */

static int
digest_of(const char *sig, uint8_t out[32])
{
	struct blob s = slurp(sig);
	struct vv_pkcs7 *p = s.d ? vv_pkcs7_parse(s.d, s.n) : NULL;
	int rc = p ? vv_pkcs7_signer_digest(p, out) : -2;

	vv_pkcs7_free(p);
	free(s.d);
	return rc;
}

/* SHA-256(CN || tbsCertificate) computed here from the DER file. */
static int
expected_digest(const char *cn, const char *der_name, uint8_t out[32])
{
	struct blob c = slurp(der_name);
	size_t off, len;
	int ok;

	if (c.d == NULL || c.n < 8)
		return -1;
	off = der_header_len(c.d);           /* the tbsCertificate SEQUENCE */
	len = c.d[off + 1] < 0x80 ? (size_t)c.d[off + 1] + 2 :
	      c.d[off + 1] == 0x81 ? (size_t)c.d[off + 2] + 3 :
	      ((size_t)c.d[off + 2] << 8 | c.d[off + 3]) + 4;
	{
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
		     EVP_DigestUpdate(md, cn, strlen(cn)) &&
		     EVP_DigestUpdate(md, c.d + off, len) && EVP_DigestFinal_ex(md, out, NULL);
		EVP_MD_CTX_free(md);
	}
	free(c.d);
	return ok ? 0 : -1;
}

static void
test_signer_digest(void)
{
	uint8_t d1[32], d2[32], d3[32], want[32];

	NEED_OPENSSL();
	REQUIRE(make_key("tKEK", "rsa:2048") == 0);
	REQUIRE(make_key("tPK", "rsa:4096") == 0);
	REQUIRE(make_key("cRoot", "rsa:2048") == 0);
	REQUIRE(make_issued("cInter", "cRoot", "rsa:2048", "basicConstraints=critical,CA:TRUE") == 0);
	REQUIRE(make_issued("cLeaf", "cInter", "rsa:2048", "basicConstraints=CA:FALSE") == 0);
	REQUIRE(spit("p1.bin", (const uint8_t *)"payload one", 11) == 0);
	REQUIRE(spit("p2.bin", (const uint8_t *)"payload two!", 12) == 0);
	REQUIRE(sh("for k in tKEK tPK; do for p in p1 p2; do "
		   "openssl cms -sign -binary -noattr -outform DER -md sha256 -in $p.bin "
		   "-signer $k.crt -inkey $k.key -out dg-$k-$p.der || exit 1; done; done && "
		   "openssl cms -sign -binary -outform DER -md sha384 -in p1.bin -signer tKEK.crt "
		   "-inkey tKEK.key -out dg-tKEK-attr.der && "
		   "cat cInter.crt cRoot.crt > chain.pem && "
		   "openssl cms -sign -binary -noattr -outform DER -md sha256 -in p1.bin "
		   "-signer cLeaf.crt -inkey cLeaf.key -certfile chain.pem -out dg-chain.der && "
		   "openssl cms -sign -binary -noattr -outform DER -md sha256 -in p1.bin "
		   "-signer cLeaf.crt -inkey cLeaf.key -out dg-leaf.der") == 0);

	/* Same signer, different payloads and forms: same identity. */
	REQUIRE(digest_of("dg-tKEK-p1.der", d1) == 0);
	REQUIRE(digest_of("dg-tKEK-p2.der", d2) == 0);
	CHECK_MEM(d1, d2, 32);
	REQUIRE(digest_of("dg-tKEK-attr.der", d3) == 0);
	CHECK_MEM(d1, d3, 32);
	/* The value: SHA-256(CN || tbsCertificate) of the self-signed signer. */
	REQUIRE(expected_digest("tKEK", "tKEK.der", want) == 0);
	CHECK_MEM(d1, want, 32);
	/* Another signer: another identity. */
	REQUIRE(digest_of("dg-tPK-p1.der", d2) == 0);
	CHECK(memcmp(d1, d2, 32) != 0);
	REQUIRE(digest_of("dg-tPK-p2.der", d3) == 0);
	CHECK_MEM(d2, d3, 32);
	REQUIRE(expected_digest("tPK", "tPK.der", want) == 0);
	CHECK_MEM(d2, want, 32);
	/* A chain in the blob: the leaf's CN with the top (root) tbs; with
	 * no chain, the leaf's own tbs. */
	REQUIRE(digest_of("dg-chain.der", d1) == 0);
	REQUIRE(expected_digest("cLeaf", "cRoot.der", want) == 0);
	CHECK_MEM(d1, want, 32);
	REQUIRE(digest_of("dg-leaf.der", d2) == 0);
	REQUIRE(expected_digest("cLeaf", "cLeaf.der", want) == 0);
	CHECK_MEM(d2, want, 32);
	CHECK(memcmp(d1, d2, 32) != 0);
	CHECK(vv_pkcs7_signer_digest(NULL, d1) == -1);
}

static void
test_pkcs7_cert_count(void)
{
	struct blob b;
	struct vv_pkcs7 *p;

	NEED_OPENSSL();
	REQUIRE(make_key("tKEK", "rsa:2048") == 0);
	REQUIRE(make_key("tPK", "rsa:4096") == 0);
	REQUIRE(spit("p1.bin", (const uint8_t *)"payload one", 11) == 0);
	REQUIRE(sh("openssl cms -sign -binary -noattr -outform DER -md sha256 -in p1.bin "
		   "-signer tKEK.crt -inkey tKEK.key -certfile tPK.crt -out cc2.der && "
		   "openssl cms -sign -binary -noattr -outform DER -md sha256 -in p1.bin "
		   "-signer tKEK.crt -inkey tKEK.key -nocerts -out cc0.der") == 0);
	b = slurp("cc2.der");
	REQUIRE(b.d != NULL);
	p = vv_pkcs7_parse(b.d, b.n);
	REQUIRE(p != NULL);
	CHECK_EQ(vv_pkcs7_cert_count(p), 2);
	vv_pkcs7_free(p);
	free(b.d);
	b = slurp("cc0.der");
	REQUIRE(b.d != NULL);
	p = vv_pkcs7_parse(b.d, b.n);
	REQUIRE(p != NULL);
	CHECK_EQ(vv_pkcs7_cert_count(p), 0);
	/* Without the signer's certificate in the blob nothing verifies and
	 * there is no identity. */
	{
		struct blob c = slurp("tKEK.der"), sd = slurp("p1.bin");
		struct vv_cert_ref r = cert_of(&c);
		uint8_t d[32];

		REQUIRE(c.d && sd.d);
		CHECK(!vv_pkcs7_verify(p, sd.d, sd.n, &r, 1));
		CHECK_EQ(vv_pkcs7_signer_digest(p, d), (unsigned long long)-1);
		free(c.d);
		free(sd.d);
	}
	vv_pkcs7_free(p);
	free(b.d);
}

static void
test_x509_valid(void)
{
	struct blob c;
	uint8_t *buf;

	NEED_OPENSSL();
	REQUIRE(make_key("tKEK", "rsa:2048") == 0);
	c = slurp("tKEK.der");
	REQUIRE(c.d != NULL);
	CHECK(vv_x509_valid(c.d, c.n));
	CHECK(!vv_x509_valid(c.d, c.n - 1));
	CHECK(!vv_x509_valid(c.d, 0));
	CHECK(!vv_x509_valid(NULL, 0));
	buf = calloc(1, c.n + 1);
	REQUIRE(buf != NULL);
	memcpy(buf, c.d, c.n);
	CHECK(!vv_x509_valid(buf, c.n + 1));   /* something after it */
	memset(buf, 0, c.n);
	CHECK(!vv_x509_valid(buf, c.n));
	free(buf);
	free(c.d);
}

/* ---- signature lists ---- */

static const uint8_t sha256_type[16] = {
	0x26, 0x16, 0xc4, 0xc1, 0x4c, 0x50, 0x92, 0x40,
	0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28,
};
static const uint8_t x509_type[16] = {
	0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a,
	0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72,
};

/* A SHA-256 list header for n entries at p; returns 28. */
static size_t
put_list_header(uint8_t *p, const uint8_t type[16], uint32_t header_size, uint32_t sig_size,
		size_t n)
{
	memcpy(p, type, 16);
	vv_put_le32(p + 16, (uint32_t)(28 + header_size + n * sig_size));
	vv_put_le32(p + 20, header_size);
	vv_put_le32(p + 24, sig_size);
	return 28;
}

/* Entry i of a synthetic SHA-256 list: owner GUID byte `owner`, data
 * derived from i. */
static void
put_sha_entry(uint8_t *p, uint8_t owner, uint32_t i)
{
	memset(p, owner, 16);
	for (int k = 0; k < 32; k++)
		p[16 + k] = (uint8_t)((i * 2654435761u) >> ((k % 4) * 8)) ^ (uint8_t)k;
	vv_put_le32(p + 16, i);
}

static uint8_t *
sha_list(uint8_t owner, uint32_t first, size_t n, size_t *size)
{
	uint8_t *b = malloc(28 + n * 48);

	if (b == NULL)
		return NULL;
	put_list_header(b, sha256_type, 0, 48, n);
	for (size_t i = 0; i < n; i++)
		put_sha_entry(b + 28 + i * 48, owner, first + (uint32_t)i);
	*size = 28 + n * 48;
	return b;
}

static void
test_siglist_validate_synthetic(void)
{
	uint8_t buf[512];
	size_t n;

	/* Empty database. */
	CHECK_STATUS(vv_siglist_validate(NULL, 0, 0), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_siglist_validate(NULL, 0, 1), VV_EFI_SUCCESS);
	CHECK_EQ(vv_siglist_count(NULL, 0), 0);

	/* Three SHA-256 entries. */
	memset(buf, 0, sizeof(buf));
	n = put_list_header(buf, sha256_type, 0, 48, 3);
	for (uint32_t i = 0; i < 3; i++)
		put_sha_entry(buf + n + i * 48, 7, i);
	n += 3 * 48;
	CHECK_STATUS(vv_siglist_validate(buf, n, 0), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_siglist_validate(buf, n, 3), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_siglist_validate(buf, n, 2), VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(vv_siglist_validate(buf, n, 1), VV_EFI_INVALID_PARAMETER);
	CHECK_EQ(vv_siglist_count(buf, n), 3);
	/* A list with no entries is allowed (edk2), and counts nothing. */
	put_list_header(buf + n, sha256_type, 0, 48, 0);
	CHECK_STATUS(vv_siglist_validate(buf, n + 28, 3), VV_EFI_SUCCESS);
	CHECK_EQ(vv_siglist_count(buf, n + 28), 3);

	/* Data that does not end where the lists end: 1..27 bytes more, or
	 * a list cut short. */
	for (size_t extra = 1; extra < 28; extra++)
		CHECK_STATUS(vv_siglist_validate(buf, n + extra, 0), VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(vv_siglist_validate(buf, n - 1, 0), VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(vv_siglist_validate(buf, 27, 0), VV_EFI_INVALID_PARAMETER);
	/* SignatureListSize that lies: past the end, below 28, 0, huge. */
	vv_put_le32(buf + 16, (uint32_t)n + 48);
	CHECK_STATUS(vv_siglist_validate(buf, n, 0), VV_EFI_INVALID_PARAMETER);
	vv_put_le32(buf + 16, 27);
	CHECK_STATUS(vv_siglist_validate(buf, n, 0), VV_EFI_INVALID_PARAMETER);
	vv_put_le32(buf + 16, 0);
	CHECK_STATUS(vv_siglist_validate(buf, n, 0), VV_EFI_INVALID_PARAMETER);
	vv_put_le32(buf + 16, 0xffffffff);
	CHECK_STATUS(vv_siglist_validate(buf, n, 0), VV_EFI_INVALID_PARAMETER);
	CHECK_EQ(vv_siglist_count(buf, n), 0);
	/* A list size smaller than the data but not a multiple of entries. */
	vv_put_le32(buf + 16, (uint32_t)n - 1);
	CHECK_STATUS(vv_siglist_validate(buf, n - 1, 0), VV_EFI_INVALID_PARAMETER);
	vv_put_le32(buf + 16, (uint32_t)n);

	/* SignatureHeaderSize != 0 (list size adjusted so it tiles). */
	put_list_header(buf, sha256_type, 48, 48, 2);
	CHECK_STATUS(vv_siglist_validate(buf, n, 0), VV_EFI_INVALID_PARAMETER);
	put_list_header(buf, sha256_type, 0xffffffff, 48, 3);
	vv_put_le32(buf + 16, (uint32_t)n);
	CHECK_STATUS(vv_siglist_validate(buf, n, 0), VV_EFI_INVALID_PARAMETER);
	/* Wrong SignatureSize for SHA-256 while the list still tiles. */
	put_list_header(buf, sha256_type, 0, 72, 2);
	CHECK_STATUS(vv_siglist_validate(buf, n, 0), VV_EFI_INVALID_PARAMETER);
	put_list_header(buf, sha256_type, 0, 144, 1);
	CHECK_STATUS(vv_siglist_validate(buf, n, 0), VV_EFI_INVALID_PARAMETER);
	put_list_header(buf, sha256_type, 0, 16, 9);
	CHECK_STATUS(vv_siglist_validate(buf, n, 0), VV_EFI_INVALID_PARAMETER);
	/* SignatureSize 0 (no division by zero) and not dividing the list. */
	put_list_header(buf, sha256_type, 0, 0, 0);
	vv_put_le32(buf + 16, (uint32_t)n);
	CHECK_STATUS(vv_siglist_validate(buf, n, 0), VV_EFI_INVALID_PARAMETER);
	CHECK_EQ(vv_siglist_count(buf, n), 0);
	put_list_header(buf, sha256_type, 0, 48, 3);
	vv_put_le32(buf + 24, 50);
	CHECK_STATUS(vv_siglist_validate(buf, n, 0), VV_EFI_INVALID_PARAMETER);
	/* Unknown SignatureType (EFI_CERT_TYPE_PKCS7_GUID is not a list type). */
	put_list_header(buf, sha256_type, 0, 48, 3);
	CHECK_STATUS(vv_siglist_validate(buf, n, 0), VV_EFI_SUCCESS);
	memcpy(buf, pkcs7_guid_wire, 16);
	CHECK_STATUS(vv_siglist_validate(buf, n, 0), VV_EFI_INVALID_PARAMETER);
	/* Every other defined type with its own size (§9.2). */
	{
		static const struct { uint8_t g[16]; uint32_t size; } types[] = {
			{ { 0xe8, 0x66, 0x57, 0x3c, 0x9c, 0x26, 0x34, 0x4e, 0xaa, 0x14, 0xed, 0x77, 0x6e, 0x85, 0xb3, 0xb6 }, 256 },
			{ { 0x12, 0xa5, 0x6c, 0x82, 0x10, 0xcf, 0xc9, 0x4a, 0xb1, 0x87, 0xbe, 0x01, 0x49, 0x66, 0x31, 0xbd }, 20 },
			{ { 0x33, 0x52, 0x6e, 0x0b, 0x5c, 0xa6, 0xc9, 0x44, 0x94, 0x07, 0xd9, 0xab, 0x83, 0xbf, 0xc8, 0xbd }, 28 },
			{ { 0x07, 0x53, 0x3e, 0xff, 0xd0, 0x9f, 0xc9, 0x48, 0x85, 0xf1, 0x8a, 0xd5, 0x6c, 0x70, 0x1e, 0x01 }, 48 },
			{ { 0xae, 0x0f, 0x3e, 0x09, 0xc4, 0xa6, 0x50, 0x4f, 0x9f, 0x1b, 0xd4, 0x1e, 0x2b, 0x89, 0xc1, 0x9a }, 64 },
			{ { 0x92, 0xa4, 0xd2, 0x3b, 0xc0, 0x96, 0x79, 0x40, 0xb4, 0x20, 0xfc, 0xf9, 0x8e, 0xf1, 0x03, 0xed }, 48 },
			{ { 0x6e, 0x87, 0x76, 0x70, 0xc2, 0x80, 0xe6, 0x4e, 0xaa, 0xd2, 0x28, 0xb3, 0x49, 0xa6, 0x86, 0x5b }, 64 },
			{ { 0x63, 0xbf, 0x6d, 0x44, 0x02, 0x25, 0xda, 0x4c, 0xbc, 0xfa, 0x24, 0x65, 0xd2, 0xb0, 0xfe, 0x9d }, 80 },
		};
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
			memset(buf, 0x11, sizeof(buf));
			n = put_list_header(buf, types[i].g, 0, 16 + types[i].size, 1) + 16 + types[i].size;
			CHECK_STATUS(vv_siglist_validate(buf, n, 1), VV_EFI_SUCCESS);
			n = put_list_header(buf, types[i].g, 0, 16 + types[i].size + 1, 1) + 17 + types[i].size;
			CHECK_STATUS(vv_siglist_validate(buf, n, 1), VV_EFI_INVALID_PARAMETER);
		}
	}
	/* X.509 with SignatureSize <= 16 or garbage data. */
	memset(buf, 0, sizeof(buf));
	n = put_list_header(buf, x509_type, 0, 16, 1) + 16;
	CHECK_STATUS(vv_siglist_validate(buf, n, 0), VV_EFI_INVALID_PARAMETER);
	n = put_list_header(buf, x509_type, 0, 100, 1) + 100;
	CHECK_STATUS(vv_siglist_validate(buf, n, 0), VV_EFI_INVALID_PARAMETER);
	buf[28 + 16] = 0x30;
	buf[28 + 17] = 82;
	CHECK_STATUS(vv_siglist_validate(buf, n, 0), VV_EFI_INVALID_PARAMETER);
}

static int
collect_cert(void *ctx, const uint8_t *der, size_t size)
{
	struct blob *seen = ctx;

	if (seen[0].d == NULL) {
		seen[0].d = (uint8_t *)der;
		seen[0].n = size;
	} else {
		seen[1].d = (uint8_t *)der;
		seen[1].n = size;
	}
	return 0;
}

static int
stop_at_first(void *ctx, const uint8_t *der, size_t size)
{
	(*(int *)ctx)++;
	return 42;
}

static void
test_siglist_efitools(void)
{
	struct blob a, b, h, der_a, der_b, both, seen[2];
	uint8_t *buf;
	int calls = 0;

	NEED_EFITOOLS();
	REQUIRE(make_key("tKEK", "rsa:2048") == 0);
	REQUIRE(make_key("tEC256", "ec -pkeyopt ec_paramgen_curve:P-256") == 0);
	REQUIRE(sh("cert-to-efi-sig-list -g 11111111-2222-3333-4444-555555555555 tKEK.crt sa.esl && "
		   "cert-to-efi-sig-list -g 11111111-2222-3333-4444-555555555555 tEC256.crt sb.esl && "
		   "cat sa.esl sb.esl > sab.esl") == 0);
	a = slurp("sa.esl");
	b = slurp("sb.esl");
	both = slurp("sab.esl");
	der_a = slurp("tKEK.der");
	der_b = slurp("tEC256.der");
	REQUIRE(a.d && b.d && both.d && der_a.d && der_b.d);

	CHECK_STATUS(vv_siglist_validate(a.d, a.n, 1), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_siglist_validate(b.d, b.n, 1), VV_EFI_SUCCESS);
	CHECK_EQ(vv_siglist_count(a.d, a.n), 1);
	/* Two lists: a db, not a PK. */
	CHECK_STATUS(vv_siglist_validate(both.d, both.n, 0), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_siglist_validate(both.d, both.n, 2), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_siglist_validate(both.d, both.n, 1), VV_EFI_INVALID_PARAMETER);
	CHECK_EQ(vv_siglist_count(both.d, both.n), 2);

	/* for_each_x509 yields the certificates exactly. */
	memset(seen, 0, sizeof(seen));
	CHECK_EQ(vv_siglist_for_each_x509(both.d, both.n, collect_cert, seen), 0);
	CHECK(seen[0].n == der_a.n && seen[0].d && memcmp(seen[0].d, der_a.d, der_a.n) == 0);
	CHECK(seen[1].n == der_b.n && seen[1].d && memcmp(seen[1].d, der_b.d, der_b.n) == 0);
	CHECK_EQ(vv_siglist_for_each_x509(both.d, both.n, stop_at_first, &calls), 42);
	CHECK_EQ(calls, 1);

	/* A second certificate appended inside one list (the sizes tile
	 * only when both certificates have the same length, so here the
	 * list size lies). */
	buf = malloc(both.n + 64);
	REQUIRE(buf != NULL);
	memcpy(buf, a.d, a.n);
	vv_put_le32(buf + 16, (uint32_t)(a.n + 1));
	CHECK_STATUS(vv_siglist_validate(buf, a.n, 0), VV_EFI_INVALID_PARAMETER);
	/* The certificate one byte shorter inside a list that still tiles:
	 * SignatureSize and SignatureListSize both shrunk. */
	memcpy(buf, a.d, a.n);
	vv_put_le32(buf + 16, (uint32_t)(a.n - 1));
	vv_put_le32(buf + 24, vv_le32(a.d + 24) - 1);
	CHECK_STATUS(vv_siglist_validate(buf, a.n - 1, 0), VV_EFI_INVALID_PARAMETER);
	/* Garbage inside the certificate's signature BIT STRING still parses
	 * as DER, but a broken tag does not. */
	memcpy(buf, a.d, a.n);
	buf[28 + 16] = 0x31;
	CHECK_STATUS(vv_siglist_validate(buf, a.n, 0), VV_EFI_INVALID_PARAMETER);
	/* Zero-filled certificate. */
	memcpy(buf, a.d, a.n);
	memset(buf + 28 + 16, 0, a.n - 28 - 16);
	CHECK_STATUS(vv_siglist_validate(buf, a.n, 0), VV_EFI_INVALID_PARAMETER);
	/* Header size != 0 on a certificate list. */
	memcpy(buf, a.d, a.n);
	vv_put_le32(buf + 20, 4);
	CHECK_STATUS(vv_siglist_validate(buf, a.n, 0), VV_EFI_INVALID_PARAMETER);
	/* The second list of two running past the end. */
	memcpy(buf, both.d, both.n);
	CHECK_STATUS(vv_siglist_validate(buf, both.n - 1, 0), VV_EFI_INVALID_PARAMETER);
	vv_put_le32(buf + a.n + 16, (uint32_t)b.n + 1);
	CHECK_STATUS(vv_siglist_validate(buf, both.n, 0), VV_EFI_INVALID_PARAMETER);
	free(buf);

	/* hash-to-efi-sig-list over two PE binaries shipped by efitools. */
	if (sh("set -- /usr/lib/efitools/*/HelloWorld.efi /usr/lib/efitools/*/KeyTool.efi && "
	       "test -f \"$1\" && test -f \"$2\" && hash-to-efi-sig-list \"$1\" \"$2\" sh.esl") == 0) {
		h = slurp("sh.esl");
		REQUIRE(h.d != NULL);
		CHECK_EQ(h.n, 28 + 2 * 48);
		CHECK_MEM(h.d, sha256_type, 16);
		CHECK_STATUS(vv_siglist_validate(h.d, h.n, 0), VV_EFI_SUCCESS);
		CHECK_STATUS(vv_siglist_validate(h.d, h.n, 1), VV_EFI_INVALID_PARAMETER);
		CHECK_EQ(vv_siglist_count(h.d, h.n), 2);
		calls = 0;
		CHECK_EQ(vv_siglist_for_each_x509(h.d, h.n, stop_at_first, &calls), 0);
		CHECK_EQ(calls, 0);
		free(h.d);
	} else {
		printf("# efitools' .efi binaries not found: hash-to-efi-sig-list not exercised\n");
		CHECK(getenv("VMVARS_NO_SKIP") == NULL);
	}
	free(a.d);
	free(b.d);
	free(both.d);
	free(der_a.d);
	free(der_b.d);
}

/* ---- vv_siglist_filter_append ---- */

/*
 * vv_x509_valid_seen (pkcs7.h): remembers certificates that decoded, by
 * their bytes; never a failure, never a prefix; at most
 * VV_X509_SEEN_SLOTS of them.  A certificate with a changed signature byte
 * still decodes (d2i does not check signatures) and is another entry.
 */
static void
test_x509_seen(void)
{
	struct vv_x509_seen seen;
	struct blob der;
	uint8_t *copy;

	NEED_OPENSSL();
	REQUIRE(make_key("tSEEN", "rsa:2048") == 0);
	der = slurp("tSEEN.der");
	REQUIRE(der.d != NULL && der.n > 64);
	memset(&seen, 0, sizeof(seen));
	CHECK(vv_x509_valid_seen(&seen, der.d, der.n));
	CHECK_EQ(seen.count, 1);
	CHECK(vv_x509_valid_seen(&seen, der.d, der.n));
	CHECK_EQ(seen.count, 1);                        /* answered from seen */
	CHECK(!vv_x509_valid_seen(&seen, der.d, der.n - 1));
	CHECK(!vv_x509_valid_seen(&seen, der.d + 1, der.n - 1));
	CHECK(!vv_x509_valid_seen(&seen, NULL, 0));
	CHECK_EQ(seen.count, 1);                        /* failures are not kept */
	copy = malloc(der.n);
	REQUIRE(copy != NULL);
	memcpy(copy, der.d, der.n);
	for (unsigned i = 0; i < VV_X509_SEEN_SLOTS + 8; i++) {
		copy[der.n - 1] = (uint8_t)i;           /* last byte of the signature */
		CHECK(vv_x509_valid_seen(&seen, copy, der.n));
	}
	CHECK_EQ(seen.count, VV_X509_SEEN_SLOTS);
	CHECK(vv_x509_valid_seen(NULL, der.d, der.n));
	free(copy);
	free(der.d);
}

static void
test_filter_append_certs(void)
{
	struct blob a, b, a2, ab;
	uint8_t *out = NULL, *cat;
	size_t out_size = 0;

	NEED_EFITOOLS();
	REQUIRE(make_key("tKEK", "rsa:2048") == 0);
	REQUIRE(make_key("tEC256", "ec -pkeyopt ec_paramgen_curve:P-256") == 0);
	REQUIRE(sh("cert-to-efi-sig-list -g 11111111-2222-3333-4444-555555555555 tKEK.crt fa.esl && "
		   "cert-to-efi-sig-list -g 11111111-2222-3333-4444-555555555555 tEC256.crt fb.esl && "
		   "cert-to-efi-sig-list -g 99999999-2222-3333-4444-555555555555 tKEK.crt fa2.esl && "
		   "cat fa.esl fb.esl > fab.esl") == 0);
	a = slurp("fa.esl");
	b = slurp("fb.esl");
	a2 = slurp("fa2.esl");
	ab = slurp("fab.esl");
	REQUIRE(a.d && b.d && a2.d && ab.d);

	/* All already there: nothing to add. */
	CHECK_STATUS(vv_siglist_filter_append(a.d, a.n, a.d, a.n, &out, &out_size), VV_EFI_SUCCESS);
	CHECK_EQ(out_size, 0);
	free(out);
	/* Overlap stored once: old A, add A+B -> B exactly. */
	CHECK_STATUS(vv_siglist_filter_append(a.d, a.n, ab.d, ab.n, &out, &out_size),
		     VV_EFI_SUCCESS);
	CHECK(out_size == b.n && memcmp(out, b.d, b.n) == 0);
	free(out);
	/* Duplicates inside the appended data are kept once: add B+B. */
	cat = malloc(2 * b.n);
	REQUIRE(cat != NULL);
	memcpy(cat, b.d, b.n);
	memcpy(cat + b.n, b.d, b.n);
	CHECK_STATUS(vv_siglist_filter_append(a.d, a.n, cat, 2 * b.n, &out, &out_size),
		     VV_EFI_SUCCESS);
	CHECK(out_size == b.n && memcmp(out, b.d, b.n) == 0);
	free(out);
	free(cat);
	/* A different owner GUID makes a different entry (§8.3: owner + data). */
	CHECK_STATUS(vv_siglist_filter_append(a.d, a.n, a2.d, a2.n, &out, &out_size),
		     VV_EFI_SUCCESS);
	CHECK(out_size == a2.n && memcmp(out, a2.d, a2.n) == 0);
	free(out);
	/* Empty old database: everything is new. */
	CHECK_STATUS(vv_siglist_filter_append(NULL, 0, ab.d, ab.n, &out, &out_size),
		     VV_EFI_SUCCESS);
	CHECK(out_size == ab.n && memcmp(out, ab.d, ab.n) == 0);
	free(out);
	/* Empty append. */
	out = NULL;
	CHECK_STATUS(vv_siglist_filter_append(ab.d, ab.n, NULL, 0, &out, &out_size),
		     VV_EFI_SUCCESS);
	CHECK(out != NULL);
	CHECK_EQ(out_size, 0);
	free(out);
	free(a.d);
	free(b.d);
	free(a2.d);
	free(ab.d);
}

static void
test_filter_append_types(void)
{
	uint8_t old[28 + 3 * 48], add[600], want[600];
	uint8_t *out = NULL;
	size_t out_size = 0, n = 0, w = 0;
	/* A type no table knows, with a 4-byte SignatureHeader. */
	static const uint8_t unknown_type[16] = {
		0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
	};

	put_list_header(old, sha256_type, 0, 48, 3);
	for (uint32_t i = 0; i < 3; i++)
		put_sha_entry(old + 28 + i * 48, 1, i);

	/* add: SHA-256 list {1, 3, 4} -> {3, 4} with its size rewritten. */
	n = put_list_header(add, sha256_type, 0, 48, 3);
	put_sha_entry(add + n, 1, 1);
	put_sha_entry(add + n + 48, 1, 3);
	put_sha_entry(add + n + 96, 1, 4);
	n += 3 * 48;
	w = put_list_header(want, sha256_type, 0, 48, 2);
	put_sha_entry(want + w, 1, 3);
	put_sha_entry(want + w + 48, 1, 4);
	w += 96;
	/* add: an unknown-type list whose entries equal old's SHA-256
	 * entries byte for byte, with a header: kept whole (another type). */
	{
		size_t start = n;

		n += put_list_header(add + n, unknown_type, 4, 48, 2);
		memcpy(add + n, "HDR!", 4);
		n += 4;
		put_sha_entry(add + n, 1, 0);
		put_sha_entry(add + n + 48, 1, 2);
		n += 96;
		memcpy(want + w, add + start, n - start);
		w += n - start;
	}
	/* add: a list of the same type but another SignatureSize holding
	 * the same leading bytes: a different entry (§8.3 type and size). */
	{
		size_t start = n;

		n += put_list_header(add + n, sha256_type, 0, 64, 1);
		memset(add + n, 0, 64);
		put_sha_entry(add + n, 1, 0);
		n += 64;
		memcpy(want + w, add + start, n - start);
		w += n - start;
	}
	/* add: a SHA-256 list that is entirely old: no header emitted. */
	n += put_list_header(add + n, sha256_type, 0, 48, 1);
	put_sha_entry(add + n, 1, 2);
	n += 48;

	CHECK_STATUS(vv_siglist_filter_append(old, sizeof(old), add, n, &out, &out_size),
		     VV_EFI_SUCCESS);
	CHECK_EQ(out_size, w);
	CHECK(out_size == w && memcmp(out, want, w) == 0);
	free(out);
}

static void
test_filter_append_large(void)
{
	uint8_t *old, *add, *out = NULL, *want;
	size_t old_size, add_size, want_size, out_size = 0;

	/* dbx-sized: 10000 entries stored, 10000 appended of which 5000
	 * are already there. */
	old = sha_list(0x55, 0, 10000, &old_size);
	add = sha_list(0x55, 5000, 10000, &add_size);
	want = sha_list(0x55, 10000, 5000, &want_size);
	REQUIRE(old && add && want);
	CHECK_STATUS(vv_siglist_validate(old, old_size, 0), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_siglist_filter_append(old, old_size, add, add_size, &out, &out_size),
		     VV_EFI_SUCCESS);
	CHECK_EQ(out_size, want_size);
	CHECK(out_size == want_size && memcmp(out, want, want_size) == 0);
	CHECK_EQ(vv_siglist_count(out, out_size), 5000);
	CHECK_STATUS(vv_siglist_validate(out, out_size, 0), VV_EFI_SUCCESS);
	free(out);
	/* The same data under another owner: all 10000 new. */
	free(add);
	add = sha_list(0x56, 5000, 10000, &add_size);
	REQUIRE(add != NULL);
	CHECK_STATUS(vv_siglist_filter_append(old, old_size, add, add_size, &out, &out_size),
		     VV_EFI_SUCCESS);
	CHECK(out_size == add_size && memcmp(out, add, add_size) == 0);
	free(out);
	free(old);
	free(add);
	free(want);
}

static const struct vv_test tests[] = {
	TEST(test_auth2_parse_valid),
	TEST(test_auth2_parse_rejects),
	TEST(test_time_compare),
	TEST(test_signed_data_layout),
	TEST(test_signed_data_matches_efitools),
	TEST(test_efitools_auth_verify),
	TEST(test_public_auth2_verify),
	TEST(test_efitools_append_and_keys),
	TEST(test_pkcs7_malformed),
	TEST(test_openssl_cms_forms),
	TEST(test_efitools_detached_flow),
	TEST(test_pkcs7_chains),
	TEST(test_signer_digest),
	TEST(test_pkcs7_cert_count),
	TEST(test_x509_valid),
	TEST(test_siglist_validate_synthetic),
	TEST(test_siglist_efitools),
	TEST(test_x509_seen),
	TEST(test_filter_append_certs),
	TEST(test_filter_append_types),
	TEST(test_filter_append_large),
};

VV_TEST_MAIN(tests)
