/*
 * bench/bench.c -- measures vmvars against the physical limits, as
 * ratios taken in the same run (issue #8).  Prints one line per figure,
 *
 *   figure <name> <value> <unit>
 *
 * then a summary table with the targets.  Medians of several repetitions
 * after a warm-up.  `--quick` uses tiny sizes (CI runs it so the bench
 * cannot rot); timings are never asserted anywhere.
 *
 *   bench [--quick] [--dir DIR] [--shared-data DIR]
 *
 * DIR (default: a new directory under $TMPDIR or /var/tmp) is where the
 * durable-write figures fsync; put it on the file system a real store
 * would use.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <sched.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <uchar.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <vmvars/mor.h>
#include <vmvars/secureboot.h>
#include <vmvars/client.h>
#include <vmvars/vmvars.h>

#include "bench_util.h"
#include "guest_firmware.h"

#define NV_BS_RT (VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT)

static bool quick;
static const char *only;        /* --only WORD: the benchmarks whose name has WORD */
static char dir[512];
static char boot_dir[512];      /* the boot figures' stores (bench_boot) */
static const char *shared_data;

struct result {
	const char *name;
	double value;
	const char *unit;
	const char *target;     /* human text, NULL = report only */
	int met;                /* 1 met, 0 missed, -1 no target / not measured */
};

static struct result results[128];
static size_t nresults;

static void
figure(const char *name, double value, const char *unit, const char *target, int met)
{
	printf("figure %s %.3f %s\n", name, value, unit);
	fflush(stdout);
	if (nresults < sizeof(results) / sizeof(results[0]))
		results[nresults++] = (struct result){ name, value, unit, target, met };
}

/* Least-squares slope of log(t) against log(n). */
static double
scaling_exponent(const double *n, const double *t, size_t k)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0;

	for (size_t i = 0; i < k; i++) {
		double x = log(n[i]), y = log(t[i]);

		sx += x;
		sy += y;
		sxx += x * x;
		sxy += x * y;
	}
	return (k * sxy - sx * sy) / (k * sxx - sx * sx);
}

static void
name_of(unsigned i, uint16_t *name)
{
	char text[16];

	snprintf(text, sizeof(text), "Var%06u", i);
	for (int k = 0; k < 10; k++)
		name[k] = (uint8_t)text[k];
}

static struct vv_store *
store_with(unsigned n, size_t value_size)
{
	struct vv_limits l;
	struct vv_store *s;
	uint16_t name[10];
	uint8_t value[4096] = { 0 };
	vv_guid g;

	vv_limits_default(&l);
	l.nv_storage = (uint64_t)n * (60 + 22 + value_size) + (1u << 20);
	s = vv_store_new(&l);
	vv_guid_parse("12345678-1234-1234-1234-123456789abc", &g);
	for (unsigned i = 0; i < n; i++) {
		struct vv_set_request r = { name, 9, g, NV_BS_RT, value, value_size, VV_CALLER_HOST };

		name_of(i, name);
		memcpy(value, &i, sizeof(i));
		if (vv_store_set(s, &r) != VV_EFI_SUCCESS) {
			fprintf(stderr, "bench: could not fill the store\n");
			exit(1);
		}
	}
	return s;
}

/* ---- GetVariable through the device model, in process ---- */

static void
bench_mm_get(void)
{
	unsigned iters = quick ? 2000 : 200000;
	struct vv_store *s = store_with(100, 16);
	struct vv_mm *mm = vv_mm_new(s, NULL);
	struct fw_guest g;
	struct vv_uefi_vars_device *dev;
	double *lat = malloc(iters * sizeof(*lat));
	uint16_t name[10];
	uint8_t data[64];
	uint64_t size;
	vv_guid guid;
	char why[64];

	fw_guest_alloc(&g, false);
	dev = vv_uefi_vars_device_new(mm, fw_guest_memory(&g), false);
	if (fw_guest_init(&g, dev, why, sizeof(why)) != 0 || lat == NULL)
		exit(1);
	vv_guid_parse("12345678-1234-1234-1234-123456789abc", &guid);
	name_of(42, name);
	for (unsigned i = 0; i < iters / 10; i++) {      /* warm-up */
		size = sizeof(data);
		fw_get_variable(&g, name, 9, &guid, NULL, data, &size);
	}
	for (unsigned i = 0; i < iters; i++) {
		double t0 = now_us();

		size = sizeof(data);
		if (fw_get_variable(&g, name, 9, &guid, NULL, data, &size) != VV_EFI_SUCCESS)
			exit(1);
		lat[i] = now_us() - t0;
	}
	{
		double p50 = median(lat, iters);

		figure("mm_get_inproc_p50_us", p50, "us", "<= 2", p50 <= 2.0);
	}
	free(lat);
	vv_uefi_vars_device_free(dev);
	vv_mm_free(mm);
	vv_store_free(s);
	fw_guest_release(&g);
}

/* ---- GetNextVariableName over n variables ---- */

static double
enumerate_ms(unsigned n)
{
	struct vv_store *s = store_with(n, 8);
	struct vv_mm *mm = vv_mm_new(s, NULL);
	static uint8_t buf[65536];
	double t[5];
	int reps = quick ? 1 : 5;

	for (int r = 0; r < reps; r++) {
		unsigned count = 0;
		double t0 = now_us();

		memset(buf, 0, 40 + 24 + 512);
		memcpy(buf, VV_GUID_SMM_VARIABLE.b, 16);
		for (;;) {
			vv_put_le64(buf + 16, 16 + 24 + 512);
			vv_put_le64(buf + 24, VV_MM_GET_NEXT_VARIABLE_NAME);
			vv_put_le64(buf + 40 + 16, 512);      /* the name stays in place */
			if (vv_mm_handle(mm, buf, sizeof(buf)) != VV_STS_SUCCESS ||
			    vv_le64(buf + 32) != VV_EFI_SUCCESS)
				break;
			count++;
		}
		t[r] = (now_us() - t0) / 1000;
		if (count != n) {
			fprintf(stderr, "bench: enumerated %u of %u\n", count, n);
			exit(1);
		}
	}
	vv_mm_free(mm);
	vv_store_free(s);
	return median(t, (size_t)reps);
}

static void
bench_getnext(void)
{
	double n[3] = { 1000, 10000, 100000 }, t[3];

	if (quick) {
		n[0] = 100;
		n[1] = 1000;
		n[2] = 3000;
	}
	for (int i = 0; i < 3; i++)
		t[i] = enumerate_ms((unsigned)n[i]);
	figure(quick ? "getnext_1k_ms" : "getnext_10k_ms", t[1], "ms", "<= 20 at 10k",
	       quick ? -1 : t[1] <= 20);
	{
		double e = scaling_exponent(n, t, 3);

		figure("getnext_scaling_exp", e, "", "<= 1.15", e <= 1.15);
	}
}

/* ---- durable writes ---- */

/* A bare write + fsync of `size` bytes to a new file in dir (what the
 * plain file backend's rewrite must at least cost). */
static double
bare_fsync_us(size_t size)
{
	char path[600];
	char *data = calloc(1, size ? size : 1);
	double t[15];
	int reps = quick ? 3 : 15;

	snprintf(path, sizeof(path), "%s/bare.bin", dir);
	for (int r = 0; r < reps; r++) {
		double t0 = now_us();
		int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);

		if (fd < 0 || write(fd, data, size) != (ssize_t)size || fsync(fd) != 0) {
			perror("bench: bare write");
			exit(1);
		}
		close(fd);
		t[r] = now_us() - t0;
	}
	unlink(path);
	free(data);
	return median(t, (size_t)reps);
}

/* A bare append of `size` bytes to an open file + fsync: the physical
 * limit of one durable write (what a journal record must at least cost). */
static double
bare_append_fsync_us(size_t size)
{
	char path[600];
	char *data = calloc(1, size ? size : 1);
	double t[15];
	int reps = quick ? 3 : 15, fd;

	snprintf(path, sizeof(path), "%s/bare.log", dir);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_APPEND, 0600);
	if (fd < 0 || fsync(fd) != 0) {
		perror("bench: bare append");
		exit(1);
	}
	for (int r = 0; r < reps; r++) {
		double t0 = now_us();

		if (write(fd, data, size) != (ssize_t)size || fsync(fd) != 0) {
			perror("bench: bare append");
			exit(1);
		}
		t[r] = now_us() - t0;
	}
	close(fd);
	unlink(path);
	free(data);
	return median(t, (size_t)reps);
}

/* One durable NV SetVariable on a store holding about `bytes` of data,
 * through the journal backend (journal true) or the plain file backend.
 * *write_size gets the bytes one write puts on disk: a journal record, or
 * the whole store file. */
static double
nv_set_us(size_t bytes, bool journal, size_t *write_size)
{
	char path[600], jpath[620];
	struct vv_error err;
	unsigned n = (unsigned)(bytes / 256 ? bytes / 256 : 1);
	struct vv_store *s = store_with(n, 256 - 60 - 20);
	struct vv_backend *b;
	uint16_t name[10];
	vv_guid g;
	double t[15];
	int reps = quick ? 3 : 15;
	struct stat st;

	snprintf(path, sizeof(path), "%s/store-%zu.json", dir, bytes);
	snprintf(jpath, sizeof(jpath), "%s.journal", path);
	b = journal ? vv_json_journal_backend_new(path, &err) : vv_json_file_backend_new(path, &err);
	vv_store_set_backend(s, b);
	if (vv_store_flush(s, &err) != 0) {
		fprintf(stderr, "bench: %s\n", err.msg);
		exit(1);
	}
	vv_guid_parse("12345678-1234-1234-1234-123456789abc", &g);
	name_of(0, name);
	for (int r = 0; r < reps; r++) {
		uint32_t v[2] = { (uint32_t)r, 0xabcdef };
		struct vv_set_request req = { name, 9, g, NV_BS_RT, (const uint8_t *)v, sizeof(v),
					      VV_CALLER_GUEST };
		double t0 = now_us();

		if (vv_store_set(s, &req) != VV_EFI_SUCCESS) {
			fprintf(stderr, "bench: NV write failed: %s\n", vv_store_last_io_error(s));
			exit(1);
		}
		t[r] = now_us() - t0;
	}
	if (journal)
		*write_size = stat(jpath, &st) == 0 ? (size_t)st.st_size / (size_t)reps : 0;
	else
		*write_size = stat(path, &st) == 0 ? (size_t)st.st_size : 0;
	vv_store_free(s);
	unlink(path);
	unlink(jpath);
	return median(t, (size_t)reps);
}

static void
bench_durable_writes(void)
{
	size_t large_bytes = quick ? 128 << 10 : 1 << 20;
	size_t record, large_record, small_file, large_file;
	double small = nv_set_us(16 << 10, true, &record);
	double large = nv_set_us(large_bytes, true, &large_record);
	double bare = bare_append_fsync_us(record);
	double ratio = small / bare, scaling = large / small;
	double f_small = nv_set_us(16 << 10, false, &small_file);
	double f_large = nv_set_us(large_bytes, false, &large_file);
	double f_bare = bare_fsync_us(small_file);

	printf("# durable writes: journal record %zu bytes; plain file %zu / %zu bytes\n", record,
	       small_file, large_file);
	figure("nv_set_16k_us", small, "us", NULL, -1);
	figure("bare_append_fsync_us", bare, "us", NULL, -1);
	figure("nv_set_vs_fsync_ratio", ratio, "x", "<= 1.3", ratio <= 1.3);
	figure(quick ? "nv_set_store_scaling_128k" : "nv_set_store_scaling", scaling, "x",
	       "<= 1.5 (16 KiB vs 1 MiB)", quick ? -1 : scaling <= 1.5);
	/* The plain file backend (whole-store rewrite), for comparison. */
	figure("file_nv_set_16k_us", f_small, "us", NULL, -1);
	figure("file_bare_write_fsync_us", f_bare, "us", NULL, -1);
	figure("file_nv_set_vs_fsync_ratio", f_small / f_bare, "x", NULL, -1);
	figure(quick ? "file_nv_set_store_scaling_128k" : "file_nv_set_store_scaling",
	       f_large / f_small, "x", NULL, -1);
}

/* ---- authenticated writes: a db update against bare OpenSSL ---- */

#define ATTR_NV_BS_RT_AT (NV_BS_RT | VV_ATTR_AT)

struct signer {
	EVP_PKEY *key;
	X509 *cert;
	uint8_t *cert_der;
	int cert_len;
};

static void
die_ssl(const char *what)
{
	fprintf(stderr, "bench: OpenSSL: %s failed\n", what);
	exit(1);
}

/* An RSA-2048 key and a self-signed certificate for it. */
static void
signer_new(struct signer *sg)
{
	X509_NAME *n;

	sg->key = EVP_RSA_gen(2048);
	sg->cert = X509_new();
	if (sg->key == NULL || sg->cert == NULL)
		die_ssl("key generation");
	ASN1_INTEGER_set(X509_get_serialNumber(sg->cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(sg->cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(sg->cert), 3600L * 24 * 365);
	X509_set_pubkey(sg->cert, sg->key);
	n = X509_get_subject_name(sg->cert);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"vmvars bench",
				   -1, -1, 0);
	X509_set_issuer_name(sg->cert, n);
	if (X509_sign(sg->cert, sg->key, EVP_sha256()) == 0)
		die_ssl("X509_sign");
	sg->cert_der = NULL;
	sg->cert_len = i2d_X509(sg->cert, &sg->cert_der);
	if (sg->cert_len <= 0)
		die_ssl("i2d_X509");
}

static void
signer_free(struct signer *sg)
{
	OPENSSL_free(sg->cert_der);
	X509_free(sg->cert);
	EVP_PKEY_free(sg->key);
}

/* An EFI_SIGNATURE_LIST of `count` signatures of `size` bytes each, type
 * `type`; signature i is fill(i).  malloc'd. */
static uint8_t *
esl_new(const char *type, size_t count, size_t size, void (*fill)(size_t, uint8_t *, void *),
	void *ctx, size_t *len)
{
	vv_guid t, owner;
	uint8_t *esl;

	*len = 28 + count * (16 + size);
	esl = calloc(1, *len);
	vv_guid_parse(type, &t);
	vv_guid_parse("77fa9abd-0359-4d32-bd60-28f4e78f784b", &owner);
	memcpy(esl, t.b, 16);
	vv_put_le32(esl + 16, (uint32_t)*len);
	vv_put_le32(esl + 20, 0);
	vv_put_le32(esl + 24, (uint32_t)(16 + size));
	for (size_t i = 0; i < count; i++) {
		uint8_t *sig = esl + 28 + i * (16 + size);

		memcpy(sig, owner.b, 16);
		fill(i, sig + 16, ctx);
	}
	return esl;
}

static void
fill_cert(size_t i, uint8_t *out, void *ctx)
{
	const struct signer *sg = ctx;

	(void)i;
	memcpy(out, sg->cert_der, (size_t)sg->cert_len);
}

/* SHA-256 "hashes" numbered from *(size_t *)ctx. */
static void
fill_hash(size_t i, uint8_t *out, void *ctx)
{
	uint64_t v = *(size_t *)ctx + i;

	memset(out, 0x5a, 32);
	memcpy(out, &v, sizeof(v));
}

#define GUID_CERT_X509 "a5c059a1-94e4-4aa7-87b5-ab155c2bf072"
#define GUID_CERT_SHA256 "c1c41626-504c-4092-aca9-41f936934328"
#define GUID_CERT_TYPE_PKCS7 "4aafd29d-68df-49ee-8aa9-347d375665a7"

/* EFI_TIME 2030-01-01 00:00:00 plus `seconds` (< 1 day). */
static void
bench_time(unsigned seconds, uint8_t t[16])
{
	memset(t, 0, 16);
	vv_put_le16(t, 2030);
	t[2] = 1;
	t[3] = 1;
	t[4] = (uint8_t)(seconds / 3600);
	t[5] = (uint8_t)(seconds / 60 % 60);
	t[6] = (uint8_t)(seconds % 60);
}

/*
 * A time-based authenticated write of `value` to db (UEFI 2.10 §8.2.2):
 * EFI_VARIABLE_AUTHENTICATION_2 { time, WIN_CERTIFICATE_UEFI_GUID with a
 * detached PKCS#7 over name || vendor GUID || attributes || time || value }
 * followed by value.  *p7_der gets the PKCS#7 (DER ContentInfo) and
 * *signed the signed bytes, for the bare verification.
 */
static uint8_t *
auth_write_new(const struct signer *sg, unsigned seconds, const uint8_t *value, size_t value_len,
	       size_t *len, uint8_t **p7_der, int *p7_len, uint8_t **signed_data,
	       size_t *signed_len)
{
	uint8_t t[16], *sd, *out, *der = NULL;
	size_t sd_len = 4 + 16 + 4 + 16 + value_len;
	vv_guid cert_type;
	BIO *bio;
	PKCS7 *p7;
	int der_len;

	bench_time(seconds, t);
	sd = malloc(sd_len);
	vv_put_le16(sd, 'd');
	vv_put_le16(sd + 2, 'b');
	memcpy(sd + 4, VV_GUID_IMAGE_SECURITY_DB.b, 16);
	vv_put_le32(sd + 20, ATTR_NV_BS_RT_AT);
	memcpy(sd + 24, t, 16);
	memcpy(sd + 40, value, value_len);
	bio = BIO_new_mem_buf(sd, (int)sd_len);
	p7 = PKCS7_sign(sg->cert, sg->key, NULL, bio,
			PKCS7_DETACHED | PKCS7_BINARY | PKCS7_NOATTR);
	if (p7 == NULL)
		die_ssl("PKCS7_sign");
	der_len = i2d_PKCS7(p7, &der);
	if (der_len <= 0)
		die_ssl("i2d_PKCS7");
	PKCS7_free(p7);
	BIO_free(bio);

	*len = 16 + 24 + (size_t)der_len + value_len;
	out = malloc(*len);
	memcpy(out, t, 16);
	vv_put_le32(out + 16, (uint32_t)(24 + der_len));   /* dwLength */
	vv_put_le16(out + 20, 0x0200);                      /* wRevision */
	vv_put_le16(out + 22, 0x0ef1);                      /* WIN_CERT_TYPE_EFI_GUID */
	vv_guid_parse(GUID_CERT_TYPE_PKCS7, &cert_type);
	memcpy(out + 24, cert_type.b, 16);
	memcpy(out + 40, der, (size_t)der_len);
	memcpy(out + 40 + der_len, value, value_len);
	*p7_der = der;
	*p7_len = der_len;
	*signed_data = sd;
	*signed_len = sd_len;
	return out;
}

/* A store trusting the signer's certificate, decoded from DER. */
static X509_STORE *
bare_anchor_store(const struct signer *sg)
{
	const unsigned char *c = sg->cert_der;
	X509 *cert = d2i_X509(NULL, &c, sg->cert_len);
	X509_STORE *store = X509_STORE_new();

	if (cert == NULL || store == NULL || !X509_STORE_add_cert(store, cert))
		die_ssl("bare verify setup");
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME);
	X509_STORE_set_purpose(store, X509_PURPOSE_ANY);
	X509_free(cert);
	return store;
}

/* What OpenSSL alone does for one such write: decode the PKCS#7 (and,
 * without `store`, the trusted certificate), verify the signature over
 * the signed bytes. */
static void
bare_verify(const struct signer *sg, X509_STORE *store, const uint8_t *der, int der_len,
	    const uint8_t *sd, size_t sd_len)
{
	const unsigned char *p = der;
	PKCS7 *p7 = d2i_PKCS7(NULL, &p, der_len);
	X509_STORE *own = store == NULL ? bare_anchor_store(sg) : NULL;
	BIO *content = BIO_new_mem_buf(sd, (int)sd_len);

	if (p7 == NULL || content == NULL)
		die_ssl("bare verify setup");
	if (PKCS7_verify(p7, NULL, own != NULL ? own : store, content, NULL, PKCS7_BINARY) != 1)
		die_ssl("PKCS7_verify");
	BIO_free(content);
	X509_STORE_free(own);
	PKCS7_free(p7);
}

/* The signer's certificate with another serial number: the same key and
 * names, different bytes (a certificate vmvars has not seen). */
static uint8_t *
cert_esl_with_serial(const struct signer *sg, long serial, size_t *len)
{
	struct signer other = *sg;
	X509 *cert = X509_dup(sg->cert);
	uint8_t *esl;

	if (cert == NULL || !ASN1_INTEGER_set(X509_get_serialNumber(cert), serial) ||
	    X509_sign(cert, sg->key, EVP_sha256()) == 0)
		die_ssl("certificate with a new serial");
	other.cert_der = NULL;
	other.cert_len = i2d_X509(cert, &other.cert_der);
	if (other.cert_len <= 0)
		die_ssl("i2d_X509");
	esl = esl_new(GUID_CERT_X509, 1, (size_t)other.cert_len, fill_cert, &other, len);
	OPENSSL_free(other.cert_der);
	X509_free(cert);
	return esl;
}

/*
 * Times reps authenticated db writes through vv_store_set, write r setting
 * db to values[r] (signed by the KEK, times first_second + r), and the
 * bare verification of each payload: cold (the anchor decoded per call,
 * all a one-shot verifier can do) and warm (decoded beforehand).  Medians
 * in us: out[0] the store, out[1] cold, out[2] warm.
 */
static void
time_auth_writes(struct vv_store *s, const struct signer *sg, uint8_t *const *values,
		 const size_t *value_len, int reps, unsigned first_second, double out[3])
{
	double *t[3];
	uint8_t *auth, *der, *sd;
	size_t auth_len, sd_len;
	int der_len;
	X509_STORE *warm_store = bare_anchor_store(sg);

	for (int k = 0; k < 3; k++)
		t[k] = calloc((size_t)reps, sizeof(double));
	for (int r = 0; r < reps; r++) {
		struct vv_set_request req;
		double t0;
		vv_status st;

		auth = auth_write_new(sg, first_second + (unsigned)r, values[r], value_len[r],
				      &auth_len, &der, &der_len, &sd, &sd_len);
		req = (struct vv_set_request){ (const uint16_t *)u"db", 2,
					       VV_GUID_IMAGE_SECURITY_DB, ATTR_NV_BS_RT_AT, auth,
					       auth_len, VV_CALLER_GUEST };
		t0 = now_us();
		st = vv_store_set(s, &req);
		t[0][r] = now_us() - t0;
		if (st != VV_EFI_SUCCESS) {
			fprintf(stderr, "bench: authenticated db write: %s\n", vv_status_name(st));
			exit(1);
		}
		t0 = now_us();
		bare_verify(sg, NULL, der, der_len, sd, sd_len);
		t[1][r] = now_us() - t0;
		t0 = now_us();
		bare_verify(sg, warm_store, der, der_len, sd, sd_len);
		t[2][r] = now_us() - t0;
		free(auth);
		OPENSSL_free(der);
		free(sd);
	}
	for (int k = 0; k < 3; k++) {
		out[k] = median(t[k], (size_t)reps);
		free(t[k]);
	}
	X509_STORE_free(warm_store);
}

/*
 * Authenticated db writes (Secure Boot attached, User mode, signed by the
 * KEK) against the bare OpenSSL verification of the same payloads.  The
 * store has no backend: this compares the service's work with the
 * cryptography's, not with the disk (nv_set_* cover that).  Two cases:
 * the value is a certificate vmvars has already validated (the KEK's own,
 * as when db is rewritten with the certificates it holds), and a new
 * certificate each time (its X.509 check cannot be skipped).
 */
static void
bench_auth_set(void)
{
	int reps = quick ? 5 : 41;
	struct signer sg;
	struct vv_store *s = vv_store_new(NULL);
	struct vv_secureboot *sb = vv_secureboot_new(s, NULL);
	uint8_t *esl, **values = calloc((size_t)reps, sizeof(*values));
	size_t esl_len, *lens = calloc((size_t)reps, sizeof(*lens));
	double known[3], fresh[3];

	signer_new(&sg);
	esl = esl_new(GUID_CERT_X509, 1, (size_t)sg.cert_len, fill_cert, &sg, &esl_len);
	if (sb == NULL || vv_secureboot_enroll(sb, VV_SB_KEK, esl, esl_len, false) != 0 ||
	    vv_secureboot_enroll(sb, VV_SB_PK, esl, esl_len, false) != 0 ||
	    vv_secureboot_mode(sb) != VV_SB_USER) {
		fprintf(stderr, "bench: Secure Boot enrollment failed\n");
		exit(1);
	}
	for (int r = 0; r < reps; r++) {
		values[r] = esl;
		lens[r] = esl_len;
	}
	time_auth_writes(s, &sg, values, lens, reps, 1, known);
	for (int r = 0; r < reps; r++)
		values[r] = cert_esl_with_serial(&sg, 1000 + r, &lens[r]);
	time_auth_writes(s, &sg, values, lens, reps, 1 + (unsigned)reps, fresh);
	figure("auth_set_us", known[0], "us", NULL, -1);
	figure("openssl_pkcs7_verify_us", known[1], "us", NULL, -1);
	figure("auth_set_vs_openssl_ratio", known[0] / known[1], "x", "<= 1.2",
	       known[0] / known[1] <= 1.2);
	figure("openssl_pkcs7_verify_warm_us", known[2], "us", NULL, -1);
	figure("auth_set_vs_warm_openssl_ratio", known[0] / known[2], "x", NULL, -1);
	figure("auth_set_new_cert_us", fresh[0], "us", NULL, -1);
	figure("auth_set_new_cert_vs_openssl_ratio", fresh[0] / fresh[1], "x", NULL, -1);
	figure("auth_set_new_cert_vs_warm_openssl_ratio", fresh[0] / fresh[2], "x", NULL, -1);
	for (int r = 0; r < reps; r++)
		free(values[r]);
	free(values);
	free(lens);
	free(esl);
	vv_secureboot_free(sb);
	vv_store_free(s);
	signer_free(&sg);
}

/* ---- dbx appends with de-duplication ---- */

/* One host append of n/10 SHA-256 entries, half already present, into a
 * dbx of n entries; ms, median. */
static double
dbx_append_ms(size_t n)
{
	int reps = quick ? 1 : 5;
	double t[5];

	for (int r = 0; r < reps; r++) {
		struct vv_limits l;
		struct vv_store *s;
		struct vv_secureboot *sb;
		size_t base_len, add_len, first = 0, add_first = n - n / 20, add = n / 10;
		uint8_t *base = esl_new(GUID_CERT_SHA256, n, 32, fill_hash, &first, &base_len);
		uint8_t *more = esl_new(GUID_CERT_SHA256, add, 32, fill_hash, &add_first, &add_len);
		const struct vv_variable *v;
		double t0;

		vv_limits_default(&l);
		l.nv_storage = 64u << 20;
		l.max_auth_variable_size = 32u << 20;
		s = vv_store_new(&l);
		sb = vv_secureboot_new(s, NULL);
		if (sb == NULL || vv_secureboot_enroll(sb, VV_SB_DBX, base, base_len, false) != 0) {
			fprintf(stderr, "bench: dbx enrollment of %zu entries failed\n", n);
			exit(1);
		}
		t0 = now_us();
		if (vv_secureboot_enroll(sb, VV_SB_DBX, more, add_len, true) != 0) {
			fprintf(stderr, "bench: dbx append failed\n");
			exit(1);
		}
		t[r] = (now_us() - t0) / 1000;
		v = vv_store_find(s, (const uint16_t *)u"dbx", 3, &VV_GUID_IMAGE_SECURITY_DB);
		/* n + add/2 new entries: duplicates were dropped (the append
		 * may add one list or extend the existing one) */
		if (v == NULL || (v->data_size - 28) / 48 < n + add - add / 2 ||
		    v->data_size > 28 * 2 + (n + add - add / 2) * 48) {
			fprintf(stderr, "bench: dbx append: unexpected size %zu\n",
				v ? v->data_size : 0);
			exit(1);
		}
		vv_secureboot_free(sb);
		vv_store_free(s);
		free(base);
		free(more);
	}
	return median(t, (size_t)reps);
}

static void
bench_dbx_append(void)
{
	double n[3] = { 1000, 3000, 10000 }, t[3];

	if (quick) {
		n[0] = 100;
		n[1] = 300;
		n[2] = 1000;
	}
	for (int i = 0; i < 3; i++)
		t[i] = dbx_append_ms((size_t)n[i]);
	figure(quick ? "dbx_append_1k_ms" : "dbx_append_10k_ms", t[2], "ms", "<= 50 at 10k",
	       quick ? -1 : t[2] <= 50);
	{
		double e = scaling_exponent(n, t, 3);

		figure("dbx_append_scaling_exp", e, "", "<= 1.15", quick ? -1 : e <= 1.15);
	}
}

/* ---- the recorded OVMF boot, end to end ---- */

static void
bench_boot_replay(void)
{
	char path[1024], store_path[600];
	FILE *f;
	double t[5];
	int reps = quick ? 1 : 5;

	if (shared_data == NULL) {
		printf("# boot_replay_ms: not measured (no shared data directory)\n");
		return;
	}
	snprintf(path, sizeof(path), "%s/ovmf-boot/requests.jsonl", shared_data);
	snprintf(store_path, sizeof(store_path), "%s/boot.json", dir);
	for (int r = 0; r < reps; r++) {
		struct vv_error err;
		struct vv_store *s = vv_store_new(NULL);
		struct vv_policy *p = vv_policy_new(s, NULL);
		struct vv_mm *mm = vv_mm_new(s, p);
		struct fw_guest g;
		struct vv_uefi_vars_device *dev;
		char *line = NULL;
		size_t cap = 0;
		double t0;

		unlink(store_path);
		vv_store_set_backend(s, vv_json_file_backend_new(store_path, &err));
		fw_guest_alloc(&g, false);
		dev = vv_uefi_vars_device_new(mm, fw_guest_memory(&g), false);
		f = fopen(path, "r");
		if (f == NULL) {
			printf("# boot_replay_ms: not measured (%s: %s)\n", path, strerror(errno));
			return;
		}
		t0 = now_us();
		vv_uefi_vars_device_write(dev, VV_REG_BUFFER_SIZE, VV_MM_MAX_BUFFER, 4);
		vv_uefi_vars_device_write(dev, VV_REG_DMA_ADDR_LO, FW_COMM_GPA, 4);
		while (getline(&line, &cap, f) > 0) {
			struct json_object *o = json_tokener_parse(line), *hex;
			const char *h;
			size_t len;

			if (o == NULL || !json_object_object_get_ex(o, "request", &hex))
				exit(1);
			h = json_object_get_string(hex);
			len = strlen(h) / 2;
			for (size_t i = 0; i < len; i++) {
				unsigned v;

				sscanf(h + 2 * i, "%2x", &v);
				g.ram[FW_COMM_GPA + i] = (uint8_t)v;
			}
			vv_uefi_vars_device_write(dev, VV_REG_CMD_STS, VV_CMD_DMA_MM, 2);
			json_object_put(o);
		}
		t[r] = (now_us() - t0) / 1000;
		fclose(f);
		free(line);
		vv_uefi_vars_device_free(dev);
		vv_mm_free(mm);
		vv_policy_free(p);
		vv_store_free(s);
		fw_guest_release(&g);
	}
	unlink(store_path);
	figure("boot_replay_ms", median(t, (size_t)reps), "ms", NULL, -1);
}

/* ---- migration: save, transfer, load (issue #14) ---- */

/*
 * The source side of a handover, on its own thread as the source daemon
 * would be its own process: on each byte from `go` it either saves the
 * service's full snapshot and sends it (mode 1), or sends `bare` bytes
 * already in memory (mode 0), over one end of a socketpair.
 */
struct mig_source {
	int go[2];              /* pipe: one byte per round, 'q' ends */
	int sock;
	const struct vv_service *svc;
	const uint8_t *bare;
	size_t bare_size;
};

static void
send_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w <= 0) {
			perror("bench: migration send");
			exit(1);
		}
		p += w;
		n -= (size_t)w;
	}
}

static void
recv_all(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);

		if (r <= 0) {
			perror("bench: migration receive");
			exit(1);
		}
		p += r;
		n -= (size_t)r;
	}
}

static void *
mig_source_main(void *arg)
{
	struct mig_source *m = arg;
	struct vv_snapshot_options full = { { 0 }, VV_SNAPSHOT_FULL };
	char mode;

	while (read(m->go[0], &mode, 1) == 1 && mode != 'q') {
		if (mode == '1') {
			struct vv_error err;
			uint8_t *snap = NULL, len[8];
			size_t n = 0;

			if (vv_snapshot_save(m->svc, &full, &snap, &n, &err) != 0) {
				fprintf(stderr, "bench: save: %s\n", err.msg);
				exit(1);
			}
			vv_put_le64(len, n);
			send_all(m->sock, len, 8);
			send_all(m->sock, snap, n);
			free(snap);
		} else {
			uint8_t len[8];

			vv_put_le64(len, m->bare_size);
			send_all(m->sock, len, 8);
			send_all(m->sock, m->bare, m->bare_size);
		}
	}
	return NULL;
}

struct mig_service {
	struct vv_store *s;
	struct vv_policy *p;
	struct vv_secureboot *sb;
	struct vv_mor *m;
	struct vv_service v;
};

static void
mig_open(struct mig_service *x, const struct vv_limits *l)
{
	x->s = vv_store_new(l);
	x->p = vv_policy_new(x->s, NULL);
	x->sb = vv_secureboot_new(x->s, NULL);
	x->m = vv_mor_new(x->s, true);
	if (x->s == NULL || x->p == NULL || x->sb == NULL || x->m == NULL) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	x->v = (struct vv_service){ x->s, x->p, x->m };
}

static void
mig_close(struct mig_service *x)
{
	vv_mor_free(x->m);
	vv_secureboot_free(x->sb);
	vv_policy_free(x->p);
	vv_store_free(x->s);
}

/* One round: 'go' to the source, receive (and load, for a handover) on
 * this thread.  Returns its time in ms; the load's error exits. */
static double
mig_round(struct mig_source *m, int sock, char mode, struct mig_service *dst, uint8_t *buf,
	  size_t *got)
{
	struct vv_snapshot_options full = { { 0 }, VV_SNAPSHOT_FULL };
	struct vv_error err;
	uint8_t len[8];
	double t0 = now_us();
	size_t n;

	if (write(m->go[1], &mode, 1) != 1)
		exit(1);
	recv_all(sock, len, 8);
	n = (size_t)vv_le64(len);
	if (n > (8u << 20))
		exit(1);
	recv_all(sock, buf, n);
	*got = n;
	if (dst != NULL && vv_snapshot_load(&dst->v, &full, buf, n, &err) != 0) {
		fprintf(stderr, "bench: load: %s\n", err.msg);
		exit(1);
	}
	return (now_us() - t0) / 1000;
}

/*
 * migration_handover_ms: a VM paused with a 256 KiB store (NV variables
 * of 4000 bytes, a few volatile ones, EndOfDxe) is saved in full, sent
 * over a socketpair and loaded into a fresh service (no backend: the
 * disk's part is the whole-store commit, which docs/performance.md
 * "Durable writes" measures), against sending the same number of bytes
 * over the same socket.  Both rounds run interleaved, medians of each.
 */
static void
bench_migration(void)
{
	struct vv_limits l;
	struct mig_service src;
	struct mig_source m = { 0 };
	pthread_t th;
	int sv[2], reps = quick ? 3 : 31;
	double *ho = calloc((size_t)reps, sizeof(double)), *bare = calloc((size_t)reps, sizeof(double));
	unsigned nvars = quick ? 8 : 60;
	uint8_t value[4000], *buf;
	uint16_t name[10];
	vv_guid g;
	size_t size = 0, got = 0;

	vv_limits_default(&l);
	l.nv_storage = 512u << 10;
	mig_open(&src, &l);
	vv_guid_parse("12345678-1234-1234-1234-123456789abc", &g);
	for (unsigned i = 0; i < nvars; i++) {
		name_of(i, name);
		memset(value, (int)i, sizeof(value));
		if (vv_store_put(src.s, name, 9, &g, NV_BS_RT, value, sizeof(value), NULL) !=
		    VV_EFI_SUCCESS)
			exit(1);
	}
	for (unsigned i = 0; i < 8; i++) {
		name_of(1000 + i, name);
		if (vv_store_put(src.s, name, 9, &g, VV_ATTR_BS | VV_ATTR_RT, value, 200, NULL) !=
		    VV_EFI_SUCCESS)
			exit(1);
	}
	vv_store_signal(src.s, VV_EVENT_END_OF_DXE);
	if (ho == NULL || bare == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 ||
	    pipe(m.go) != 0)
		exit(1);
	m.sock = sv[0];
	m.svc = &src.v;
	buf = malloc(8u << 20);
	if (buf == NULL)
		exit(1);
	if (pthread_create(&th, NULL, mig_source_main, &m) != 0)
		exit(1);
	/* the size of a snapshot, for the bare rounds */
	{
		struct mig_service dst;

		mig_open(&dst, &l);
		(void)mig_round(&m, sv[1], '1', &dst, buf, &size);
		mig_close(&dst);
	}
	m.bare = malloc(size);
	if (m.bare == NULL)
		exit(1);
	memset((uint8_t *)m.bare, 0x5a, size);
	m.bare_size = size;
	for (int r = 0; r < reps; r++) {
		struct mig_service dst;

		mig_open(&dst, &l);
		ho[r] = mig_round(&m, sv[1], '1', &dst, buf, &got);
		mig_close(&dst);
		bare[r] = mig_round(&m, sv[1], '0', NULL, buf, &got);
	}
	if (write(m.go[1], "q", 1) != 1)
		exit(1);
	pthread_join(th, NULL);
	{
		double h = median(ho, (size_t)reps), b = median(bare, (size_t)reps);

		figure("migration_handover_ms", h, "ms", NULL, -1);
		figure("migration_bare_transfer_ms", b, "ms", NULL, -1);
		figure("migration_handover_vs_transfer_ratio", h / b, "x", "<= 3", h / b <= 3);
		figure("migration_handover_bytes", (double)size, "B", NULL, -1);
	}
	close(sv[0]);
	close(sv[1]);
	close(m.go[0]);
	close(m.go[1]);
	free((uint8_t *)m.bare);
	free(buf);
	free(ho);
	free(bare);
	mig_close(&src);
}

/* migration_blob_bytes: the recorded OVMF boot's full state, with the
 * product's configuration (store, policy, Secure Boot, MOR). */
static void
bench_migration_blob(void)
{
	struct vv_snapshot_options full = { { 0 }, VV_SNAPSHOT_FULL };
	struct mig_service x;
	struct vv_error err;
	struct vv_mm *mm;
	struct fw_guest g;
	struct vv_uefi_vars_device *dev;
	char path[1024], *line = NULL;
	uint8_t *snap = NULL;
	size_t cap = 0, n = 0;
	FILE *f;

	if (shared_data == NULL) {
		printf("# migration_blob_bytes: not measured (no shared data directory)\n");
		return;
	}
	snprintf(path, sizeof(path), "%s/ovmf-boot/requests.jsonl", shared_data);
	if ((f = fopen(path, "r")) == NULL) {
		printf("# migration_blob_bytes: not measured (%s: %s)\n", path, strerror(errno));
		return;
	}
	mig_open(&x, NULL);
	mm = vv_mm_new(x.s, x.p);
	fw_guest_alloc(&g, false);
	dev = vv_uefi_vars_device_new(mm, fw_guest_memory(&g), false);
	vv_uefi_vars_device_write(dev, VV_REG_BUFFER_SIZE, VV_MM_MAX_BUFFER, 4);
	vv_uefi_vars_device_write(dev, VV_REG_DMA_ADDR_LO, FW_COMM_GPA, 4);
	while (getline(&line, &cap, f) > 0) {
		struct json_object *o = json_tokener_parse(line), *hex;
		const char *h;

		if (o == NULL || !json_object_object_get_ex(o, "request", &hex))
			exit(1);
		h = json_object_get_string(hex);
		for (size_t i = 0; i < strlen(h) / 2; i++) {
			unsigned v;

			sscanf(h + 2 * i, "%2x", &v);
			g.ram[FW_COMM_GPA + i] = (uint8_t)v;
		}
		vv_uefi_vars_device_write(dev, VV_REG_CMD_STS, VV_CMD_DMA_MM, 2);
		json_object_put(o);
	}
	fclose(f);
	free(line);
	if (vv_snapshot_save(&x.v, &full, &snap, &n, &err) != 0)
		exit(1);
	figure("migration_blob_bytes", (double)n, "B", NULL, -1);
	free(snap);
	vv_snapshot_save(&x.v, NULL, &snap, &n, &err);
	figure("migration_blob_volatile_bytes", (double)n, "B", NULL, -1);
	free(snap);
	vv_uefi_vars_device_free(dev);
	vv_mm_free(mm);
	fw_guest_release(&g);
	mig_close(&x);
}


/* ---- vmvarsd: a real daemon process over its VMM socket ---- */

/* A store file of about 256 KiB of NV data for the daemon to load. */
static void
write_daemon_store(const char *state)
{
	char path[700];
	struct vv_error err;
	struct vv_store *s = store_with(1000, 256 - 60 - 20);

	snprintf(path, sizeof(path), "%s/vars.json", state);
	vv_store_set_backend(s, vv_json_file_backend_new(path, &err));
	if (vv_store_flush(s, &err) != 0) {
		fprintf(stderr, "bench: %s\n", err.msg);
		exit(1);
	}
	vv_store_free(s);
}

/* Starts vmvarsd on state; poll_us NULL keeps its default --poll-us;
 * no_shm: --no-shm (MM requests as socket frames). */
static pid_t
start_daemon_ex(const char *state, const char *poll_us, bool no_shm)
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		const char *argv[10];
		int n = 0;

		/* not the bench's output: a pipe reader must see EOF */
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		argv[n++] = "vmvarsd";
		argv[n++] = "--state-dir";
		argv[n++] = state;
		argv[n++] = "--log-level";
		argv[n++] = "error";
		if (poll_us != NULL) {
			argv[n++] = "--poll-us";
			argv[n++] = poll_us;
		}
		if (no_shm)
			argv[n++] = "--no-shm";
		argv[n] = NULL;
		execv(VV_BUILD_ROOT "/src/daemon/vmvarsd", (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static pid_t
start_daemon(const char *state, const char *poll_us)
{
	return start_daemon_ex(state, poll_us, false);
}

/* Connects as soon as the socket accepts; NULL after ~2 s. */
static struct vv_client *
connect_daemon(const char *sock)
{
	struct vv_error err;

	for (int i = 0; i < 20000; i++) {
		struct vv_client *c = vv_client_connect(sock, &err);

		/* the VM powers on: a daemon serves a VM from its VM_RESET
		 * (or a restored record) on, docs/protocol.md */
		if (c != NULL && vv_client_vm_reset(c) == 0)
			return c;
		vv_client_free(c);
		usleep(100);
	}
	return NULL;
}

/* Builds a GetVariable request for Var000042 in buf; returns its length. */
static size_t
get_request(uint8_t *buf)
{
	uint16_t name[10];
	uint64_t ns = 20, ds = 256;     /* the value is 176 bytes */
	size_t len = 24 + 16 + 36 + ns + ds;

	memset(buf, 0, len);
	memcpy(buf, VV_GUID_SMM_VARIABLE.b, 16);
	vv_put_le64(buf + 16, len - 24);
	vv_put_le64(buf + 24, VV_MM_GET_VARIABLE);
	vv_guid_parse("12345678-1234-1234-1234-123456789abc", (vv_guid *)(buf + 40));
	vv_put_le64(buf + 56, ds);
	vv_put_le64(buf + 64, ns);
	name_of(42, name);
	for (int i = 0; i < 10; i++)
		vv_put_le16(buf + 76 + 2 * i, name[i]);
	return len;
}

/* Private memory of a process, KiB: Private_Clean + Private_Dirty, or
 * Private_Dirty alone. */
static long
private_kib(pid_t pid, bool dirty_only)
{
	char path[64], line[256];
	long total = 0, v;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if ((!dirty_only && sscanf(line, "Private_Clean: %ld kB", &v) == 1) ||
		    sscanf(line, "Private_Dirty: %ld kB", &v) == 1)
			total += v;
	fclose(f);
	return total;
}

static void
stop_daemon(pid_t pid)
{
	int st;

	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
}

/* Receives exactly len bytes; spin: non-blocking receives in a loop (no
 * sleep, no wake-up) instead of blocking ones.  -1 on EOF or error. */
static int
recv_exact(int fd, uint8_t *b, size_t len, bool spin)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, b + got, len - got, spin ? MSG_DONTWAIT : 0);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/*
 * The physical limits of the socket figure: a ping-pong of the same sizes
 * between two processes over a UNIX stream socket pair, no work done.
 * Blocking (spin false): both sides sleep in recv, so every round trip
 * pays two scheduler wake-ups.  Spinning: both sides poll with
 * MSG_DONTWAIT, the round trip without wake-ups (it needs a CPU each).
 */
static double
bare_pingpong_p50_us(size_t req, size_t rep, unsigned iters, bool spin)
{
	int sv[2];
	static uint8_t b[65536];
	double *lat = malloc(iters * sizeof(*lat)), p50;
	pid_t pid;

	if (lat == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		exit(1);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		while (recv_exact(sv[1], b, req, spin) == 0)
			if (write(sv[1], b, rep) != (ssize_t)rep)
				_exit(1);
		_exit(0);
	}
	close(sv[1]);
	for (unsigned i = 0; i < iters; i++) {
		double t0 = now_us();

		if (write(sv[0], b, req) != (ssize_t)req || recv_exact(sv[0], b, rep, spin) != 0)
			exit(1);
		lat[i] = now_us() - t0;
	}
	close(sv[0]);
	waitpid(pid, NULL, 0);
	p50 = median(lat, iters);
	free(lat);
	return p50;
}

/* p50 of iters GetVariable round trips through c, after a warm-up of a
 * tenth as many.  Exits if the daemon fails. */
static double
socket_get_p50_us(struct vv_client *c, pid_t pid, unsigned iters, double *lat)
{
	static uint8_t buf[65536];

	for (unsigned i = 0; i < iters + iters / 10; i++) {
		double t0;

		get_request(buf);
		t0 = now_us();
		if (vv_client_mm(c, buf, sizeof(buf)) != VV_STS_SUCCESS ||
		    vv_le64(buf + 32) != VV_EFI_SUCCESS) {
			fprintf(stderr, "bench: vmvarsd failed (%s)\n", vv_client_last_error(c));
			stop_daemon(pid);
			exit(1);
		}
		if (i >= iters / 10)
			lat[i - iters / 10] = now_us() - t0;
	}
	return median(lat, iters);
}

/* utime + stime of a process, ms (/proc/PID/stat fields 14 and 15, in
 * clock ticks: the resolution is one tick, 10 ms at USER_HZ 100); -1 if
 * unreadable. */
static double
cpu_ms(pid_t pid)
{
	char path[64], text[1024], *p;
	unsigned long long utime, stime;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	/* after "pid (comm) ": state is field 3, utime 14, stime 15 */
	p = strrchr(text, ')');
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				&utime, &stime) != 2)
		return -1;
	return (double)(utime + stime) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* CPU the daemon burns while its VMM is connected but silent: with the
 * busy-poll window opening only after a reply, it must be ~0. */
static double
daemon_idle_cpu_ms(pid_t pid, int idle_ms)
{
	double before = cpu_ms(pid), after;

	usleep((useconds_t)idle_ms * 1000);
	after = cpu_ms(pid);
	return before < 0 || after < 0 ? -1 : after - before;
}

static void
bench_daemon(void)
{
	char state[600], sock[700];
	static uint8_t buf[65536];
	unsigned iters = quick ? 500 : 20000;
	int reps = quick ? 2 : 7;
	double cold[7], *lat = malloc(iters * sizeof(*lat));
	double socket_us = 0, socket_p90_us = 0, poll_us = 0, poll_p90_us = 0, shm_us,
	       shm_poll_us = 0, bare, spin_bare, idle_ms = 0;
	struct vv_client *c = NULL;
	size_t len;
	pid_t pid = -1;
	long rss, rss_dirty;

	if (access(VV_BUILD_ROOT "/src/daemon/vmvarsd", X_OK) != 0 || lat == NULL) {
		printf("# daemon figures: not measured (vmvarsd not built)\n");
		free(lat);
		return;
	}
	snprintf(state, sizeof(state), "%s/daemon", dir);
	snprintf(sock, sizeof(sock), "%s/vmm.sock", state);
	mkdir(state, 0700);
	write_daemon_store(state);
	len = get_request(buf);
	/* cold start: exec to the first reply, a 256 KiB store */
	for (int r = 0; r < reps; r++) {
		double t0 = now_us();

		unlink(sock);
		pid = start_daemon(state, NULL);
		c = connect_daemon(sock);
		get_request(buf);
		if (c == NULL || vv_client_mm(c, buf, sizeof(buf)) != VV_STS_SUCCESS ||
		    vv_le64(buf + 32) != VV_EFI_SUCCESS) {
			fprintf(stderr, "bench: vmvarsd did not answer (%s)\n",
				c != NULL ? vv_client_last_error(c) : "no connection");
			stop_daemon(pid);
			exit(1);
		}
		cold[r] = (now_us() - t0) / 1000;
		if (r + 1 < reps) {
			vv_client_free(c);
			stop_daemon(pid);
		}
	}
	/* GetVariable round trips, product defaults: shared memory, both
	 * ends block (issue #20) */
	shm_us = socket_get_p50_us(c, pid, iters, lat);
	rss = private_kib(pid, false);
	rss_dirty = private_kib(pid, true);
	vv_client_free(c);
	stop_daemon(pid);
	/* over the socket (--no-shm), blocking; then with the busy-poll
	 * windows an operator may turn on (--poll-us 50, client 100), on
	 * the socket and on shared memory */
	for (int k = 0; k < 3; k++) {
		unlink(sock);
		pid = start_daemon_ex(state, k == 0 ? NULL : "50", k < 2);
		c = connect_daemon(sock);
		if (c == NULL) {
			fprintf(stderr, "bench: vmvarsd did not start\n");
			stop_daemon(pid);
			exit(1);
		}
		if (k > 0)
			vv_client_set_poll_us(c, 100);
		if (k == 0) {
			socket_us = socket_get_p50_us(c, pid, iters, lat);
			socket_p90_us = lat[(size_t)iters * 9 / 10];    /* lat is sorted now */
		} else if (k == 1) {
			poll_us = socket_get_p50_us(c, pid, iters, lat);
			poll_p90_us = lat[(size_t)iters * 9 / 10];
			/* then the VMM stays connected and silent: the daemon
			 * must sleep */
			idle_ms = daemon_idle_cpu_ms(pid, quick ? 50 : 300);
		} else {
			shm_poll_us = socket_get_p50_us(c, pid, iters, lat);
		}
		vv_client_free(c);
		stop_daemon(pid);
	}
	bare = bare_pingpong_p50_us(8 + 4 + len, 8 + 2 + len, iters, false);
	spin_bare = bare_pingpong_p50_us(8 + 4 + len, 8 + 2 + len, iters, true);
	figure("mm_get_socket_p50_us", socket_us, "us", NULL, -1);
	figure("mm_get_socket_p90_us", socket_p90_us, "us", NULL, -1);
	figure("mm_get_socket_poll_p50_us", poll_us, "us", "<= 25", poll_us <= 25);
	figure("mm_get_socket_poll_p90_us", poll_p90_us, "us", NULL, -1);
	figure("mm_get_shm_p50_us", shm_us, "us", NULL, -1);
	figure("mm_get_shm_poll_p50_us", shm_poll_us, "us", NULL, -1);
	figure("bare_socket_pingpong_p50_us", bare, "us", NULL, -1);
	figure("bare_socket_spin_pingpong_p50_us", spin_bare, "us", NULL, -1);
	figure("mm_get_socket_vs_pingpong_ratio", socket_us / bare, "x", NULL, -1);
	figure("mm_get_socket_poll_vs_spin_pingpong_ratio", poll_us / spin_bare, "x", NULL, -1);
	figure("daemon_idle_cpu_ms", idle_ms, "ms", NULL, -1);
	figure("daemon_rss_kib", (double)rss, "KiB", "<= 4096 (256 KiB store)", rss <= 4096);
	/* Private_Clean is mostly library text no other process maps yet;
	 * with many daemons it is shared, and each one costs its dirty pages. */
	figure("daemon_private_dirty_kib", (double)rss_dirty, "KiB", NULL, -1);
	figure("daemon_cold_start_ms", median(cold, (size_t)reps), "ms", "<= 20",
	       median(cold, (size_t)reps) <= 20);
	free(lat);
}

/* ---- the real workload: the recorded OVMF boot through vmvarsd (issue #20) ---- */

/*
 * The recorded boot (shared/data/ovmf-boot/requests.jsonl, 659 requests),
 * decoded once so that no replay pays for the JSON.  Both replays below
 * drive the same device model (src/device, DMA mode) from the same fake
 * guest: in process its handler is vv_mm on a store of the daemon's
 * configuration (journaled backend, policy, Secure Boot, MOR); through
 * the daemon it is vv_client, as a VMM links it.  The only difference is
 * the transport.
 */
struct boot {
	uint8_t **req;
	size_t *len;
	size_t n;
	uint16_t *sts;          /* the in-process transport statuses */
	uint64_t *efi;          /* ... and EFI statuses (reply offset 32) */
};

static struct boot boot_rec;

static int
hexval(char ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
	       ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

static bool
boot_load(void)
{
	char path[1024], *line = NULL;
	size_t cap = 0, room = 0;
	FILE *f;

	if (boot_rec.n > 0)
		return true;
	if (shared_data == NULL)
		return false;
	snprintf(path, sizeof(path), "%s/ovmf-boot/requests.jsonl", shared_data);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	while (getline(&line, &cap, f) > 0) {
		struct json_object *o = json_tokener_parse(line), *hex;
		const char *h;
		size_t len;
		uint8_t *b;

		if (o == NULL || !json_object_object_get_ex(o, "request", &hex))
			exit(1);
		h = json_object_get_string(hex);
		len = strlen(h) / 2;
		if (len < 24 || len > VV_MM_MAX_BUFFER || (b = malloc(len)) == NULL)
			exit(1);
		for (size_t i = 0; i < len; i++) {
			int hi = hexval(h[2 * i]), lo = hexval(h[2 * i + 1]);

			if (hi < 0 || lo < 0)
				exit(1);
			b[i] = (uint8_t)(hi << 4 | lo);
		}
		json_object_put(o);
		if (boot_rec.n == room) {
			room = room ? room * 2 : 1024;
			boot_rec.req = realloc(boot_rec.req, room * sizeof(*boot_rec.req));
			boot_rec.len = realloc(boot_rec.len, room * sizeof(*boot_rec.len));
			boot_rec.sts = realloc(boot_rec.sts, room * sizeof(*boot_rec.sts));
			boot_rec.efi = realloc(boot_rec.efi, room * sizeof(*boot_rec.efi));
			if (!boot_rec.req || !boot_rec.len || !boot_rec.sts || !boot_rec.efi)
				exit(1);
		}
		boot_rec.req[boot_rec.n] = b;
		boot_rec.len[boot_rec.n++] = len;
	}
	fclose(f);
	free(line);
	return boot_rec.n > 0;
}

/* CPU time of this process (all its threads), us. */
static double
self_cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1e6 +
	       ru.ru_stime.tv_usec;
}

/* CPU time of a process, us, from /proc/PID/schedstat (the scheduler's
 * sum_exec_runtime, in ns: exact, where /proc/PID/stat counts ticks);
 * -1 if unreadable. */
static double
proc_cpu_us(pid_t pid)
{
	char path[64];
	unsigned long long ns;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	ok = fscanf(f, "%llu", &ns) == 1;
	fclose(f);
	return ok ? ns / 1e3 : -1;
}

/*
 * The same once the process sleeps: the scheduler adds a running task's
 * time to sum_exec_runtime only at a tick or a switch, so a daemon still
 * spinning for the next request (on shared memory) would be read up to a
 * tick short.  A daemon sleeping (state S) has been switched out and its
 * figure is exact; the wait is bounded (its window is at most 10 ms).
 */
static double
proc_cpu_us_settled(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 1000; i++) {
		size_t n = 0;

		if ((f = fopen(path, "r")) != NULL) {
			n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
		}
		buf[n] = '\0';
		p = strrchr(buf, ')');
		if (p == NULL || (p[1] == ' ' && p[2] == 'S'))
			break;
		usleep(100);
	}
	return proc_cpu_us(pid);
}

/*
 * Replays the boot through dev (handshake done) from g.  check: compare
 * every transport and EFI status with the in-process replay's (record:
 * keep them).  Returns the number of mismatches.
 */
static unsigned
boot_run(struct fw_guest *g, bool record)
{
	unsigned bad = 0;

	for (size_t i = 0; i < boot_rec.n; i++) {
		uint16_t sts;
		uint64_t efi;

		memcpy(g->msg, boot_rec.req[i], boot_rec.len[i]);
		sts = fw_communicate(g, boot_rec.len[i]);
		efi = boot_rec.len[i] >= 40 ? vv_le64(g->msg + 32) : 0;
		if (record) {
			boot_rec.sts[i] = sts;
			boot_rec.efi[i] = efi;
		} else if (sts != boot_rec.sts[i] || efi != boot_rec.efi[i]) {
			bad++;
		}
	}
	return bad;
}

/* A fresh, empty directory under dir for one replay's store. */
static void
fresh_dir(char *out, size_t size, const char *what, int k)
{
	char cmd[800];

	snprintf(out, size, "%s/%s-%d", boot_dir, what, k);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", out);
	if (system(cmd) != 0 || mkdir(out, 0700) != 0) {
		fprintf(stderr, "bench: cannot make %s\n", out);
		exit(1);
	}
}

static void
remove_dir(const char *path)
{
	char cmd[800];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: cannot remove %s\n", path);
}

/* The boot in process: wall and CPU, us.  The first run records the
 * statuses the daemon's replays are checked against. */
static void
boot_inproc(int k, double *wall, double *cpu)
{
	static bool recorded;
	struct vv_secureboot_config sbc = { 0 };
	char d[600], path[700];
	struct vv_error err;
	struct vv_store *s = vv_store_new(NULL);
	struct vv_policy *p;
	struct vv_secureboot *sb;
	struct vv_mor *mor;
	struct vv_mm *mm;
	struct fw_guest g;
	struct vv_uefi_vars_device *dev;
	double t0, c0;
	char why[128];

	fresh_dir(d, sizeof(d), "boot-inproc", k);
	snprintf(path, sizeof(path), "%s/vars.json", d);
	vv_store_set_backend(s, vv_json_journal_backend_new(path, &err));
	if (vv_store_load(s, &err) != 0) {
		fprintf(stderr, "bench: %s\n", err.msg);
		exit(1);
	}
	p = vv_policy_new(s, NULL);
	sb = vv_secureboot_new(s, &sbc);
	mor = vv_mor_new(s, false);
	mm = vv_mm_new(s, p);
	fw_guest_alloc(&g, false);
	dev = vv_uefi_vars_device_new(mm, fw_guest_memory(&g), false);
	if (fw_guest_init(&g, dev, why, sizeof(why)) != 0) {
		fprintf(stderr, "bench: %s\n", why);
		exit(1);
	}
	t0 = now_us();
	c0 = self_cpu_us();
	(void)boot_run(&g, !recorded);
	*cpu = self_cpu_us() - c0;
	*wall = now_us() - t0;
	recorded = true;
	vv_uefi_vars_device_free(dev);
	vv_mm_free(mm);
	vv_mor_free(mor);
	vv_secureboot_free(sb);
	vv_policy_free(p);
	vv_store_free(s);
	fw_guest_release(&g);
	remove_dir(d);
}

/* How a daemon and its client wait: --poll-us and vv_client_set_poll_us;
 * NULL / -1 keep the defaults. */
struct waiting {
	const char *name;
	const char *daemon_poll_us;
	int client_poll_us;
	bool socket;            /* --no-shm: MM requests as socket frames */
};

/* One VM: a daemon on a fresh state directory and a connected client
 * driving a device, ready to replay. */
struct boot_vm {
	char state[600];
	pid_t pid;
	struct vv_client *c;
	struct vv_uefi_vars_device *dev;
	struct fw_guest g;
};

static void
boot_vm_start(struct boot_vm *v, const char *what, int k, const struct waiting *w)
{
	fresh_dir(v->state, sizeof(v->state), what, k);
	v->pid = start_daemon_ex(v->state, w->daemon_poll_us, w->socket);
	v->c = NULL;
}

/* Connects (in whichever process replays) and does the firmware's
 * handshake; the VM_RESET of a power-on is connect_daemon's. */
static void
boot_vm_connect(struct boot_vm *v, const struct waiting *w)
{
	char sock[700], why[128];
	struct vv_mm_handler h;

	snprintf(sock, sizeof(sock), "%s/vmm.sock", v->state);
	v->c = connect_daemon(sock);
	if (v->c == NULL) {
		fprintf(stderr, "bench: vmvarsd in %s did not start\n", v->state);
		exit(1);
	}
	if (w->client_poll_us >= 0)
		vv_client_set_poll_us(v->c, (unsigned)w->client_poll_us);
	vv_client_mm_handler(v->c, &h);
	fw_guest_alloc(&v->g, false);
	v->dev = vv_uefi_vars_device_new_handler(&h, fw_guest_memory(&v->g), false);
	if (fw_guest_init(&v->g, v->dev, why, sizeof(why)) != 0) {
		fprintf(stderr, "bench: %s (%s)\n", why, vv_client_last_error(v->c));
		exit(1);
	}
}

static void
boot_vm_disconnect(struct boot_vm *v)
{
	vv_uefi_vars_device_free(v->dev);
	vv_client_free(v->c);
	fw_guest_release(&v->g);
}

static void
boot_vm_stop(struct boot_vm *v)
{
	stop_daemon(v->pid);
	remove_dir(v->state);
}

/* The boot through a daemon: wall, client CPU and daemon CPU, us. */
static void
boot_socket(int k, const struct waiting *w, double *wall, double *ccpu, double *dcpu)
{
	struct boot_vm v;
	double t0, c0, d0;
	unsigned bad;

	boot_vm_start(&v, "boot-daemon", k, w);
	boot_vm_connect(&v, w);
	d0 = proc_cpu_us_settled(v.pid);
	t0 = now_us();
	c0 = self_cpu_us();
	bad = boot_run(&v.g, false);
	*ccpu = self_cpu_us() - c0;
	*wall = now_us() - t0;
	*dcpu = proc_cpu_us_settled(v.pid) - d0;
	if (bad != 0) {
		fprintf(stderr, "bench: %u replies through vmvarsd differ from in-process (%s)\n",
			bad, vv_client_last_error(v.c));
		exit(1);
	}
	boot_vm_disconnect(&v);
	boot_vm_stop(&v);
}

/* CPUs this process may run on (its affinity mask; the online count if
 * that cannot be read). */
static int
usable_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

/*
 * n boots at once: n daemons, n replaying processes (each a VMM), all
 * connected before a common start (the closing of a pipe they all wait
 * on).  Wall from the start to the last exit; CPU of all 2n processes.
 */
static void
boot_storm(int n, const struct waiting *w, double *wall, double *cpu)
{
	struct boot_vm *v = calloc((size_t)n, sizeof(*v));
	pid_t *kid = calloc((size_t)n, sizeof(*kid));
	int ready[2], go[2];
	double t0, d0 = 0, d1 = 0, kids_cpu = 0;
	char byte;

	if (v == NULL || kid == NULL || pipe2(ready, O_CLOEXEC) != 0 || pipe2(go, O_CLOEXEC) != 0)
		exit(1);
	for (int i = 0; i < n; i++)
		boot_vm_start(&v[i], "storm", i, w);
	for (int i = 0; i < n; i++) {
		kid[i] = fork();
		if (kid[i] == 0) {
			close(ready[0]);
			close(go[1]);
			boot_vm_connect(&v[i], w);
			if (write(ready[1], "r", 1) != 1 || read(go[0], &byte, 1) != 0)
				_exit(1);
			_exit(boot_run(&v[i].g, false) == 0 ? 0 : 3);
		}
	}
	close(ready[1]);
	close(go[0]);
	for (int i = 0; i < n; i++)
		if (read(ready[0], &byte, 1) != 1) {
			fprintf(stderr, "bench: a storm VM did not get ready\n");
			exit(1);
		}
	for (int i = 0; i < n; i++)
		d0 += proc_cpu_us_settled(v[i].pid);
	t0 = now_us();
	close(go[1]);                   /* every replay starts now */
	for (int i = 0; i < n; i++) {
		struct rusage ru;
		int st;

		if (wait4(kid[i], &st, 0, &ru) != kid[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "bench: a storm replay failed (status 0x%x)\n", st);
			exit(1);
		}
		kids_cpu += ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec +
			    ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
	}
	*wall = now_us() - t0;
	for (int i = 0; i < n; i++)
		d1 += proc_cpu_us_settled(v[i].pid);
	/* The children's CPU includes their connect and handshake (a few
	 * hundred us each, against ~10 ms of replay): a slight overcount. */
	*cpu = kids_cpu + d1 - d0;
	for (int i = 0; i < n; i++)
		boot_vm_stop(&v[i]);
	close(ready[0]);
	free(v);
	free(kid);
}

static const struct waiting waiting_default = { "default", NULL, -1, false };

/* The transports and ways to wait compared in full runs
 * (docs/performance.md, "The real boot"): the defaults first (shared
 * memory with the gated spin of core/spin_gate.h, as "spin20_20" spells
 * out), then both ends blocking, socket frames, and the spins, whose
 * storms are compared with block's. */
static const struct waiting waitings[] = {
	{ "default", NULL, -1, false },
	{ "block", "0", 0, false },                     /* shared memory, no spin */
	{ "frames", NULL, -1, true },                   /* MM_REQUEST frames */
	{ "frames_spin50_100", "50", 100, true },       /* the pre-#20 defaults */
	{ "spin20_20", "20", 20, false },               /* the gated spin */
	{ "spin200_200", "200", 200, false },
};

static void
bench_boot(void)
{
	int reps = quick ? 1 : 5, cpus = usable_cpus();
	/* --quick (CI) must stay quick on a large host too: at most 4 VMs */
	int storms[2] = { quick && 2 * cpus > 4 ? 4 : 2 * cpus, 4 * cpus };
	size_t nw = quick ? 1 : sizeof(waitings) / sizeof(waitings[0]);
	double in_wall[5], in_cpu[5], iw, ic;
	double alone_wall[sizeof(waitings) / sizeof(waitings[0])];
	double alone_cpu[sizeof(waitings) / sizeof(waitings[0])];
	char name[96];

	if (access(VV_BUILD_ROOT "/src/daemon/vmvarsd", X_OK) != 0 || !boot_load()) {
		printf("# boot figures: not measured (no vmvarsd or no recorded boot)\n");
		return;
	}
	printf("# boot: %zu recorded requests, %d usable CPUs\n", boot_rec.n, cpus);
	boot_inproc(99, &iw, &ic);              /* warm-up, records the statuses */
	for (int r = 0; r < reps; r++)
		boot_inproc(r, &in_wall[r], &in_cpu[r]);
	iw = median(in_wall, (size_t)reps);
	ic = median(in_cpu, (size_t)reps);
	figure("boot_inproc_ms", iw / 1000, "ms", NULL, -1);
	figure("boot_inproc_cpu_ms", ic / 1000, "ms", NULL, -1);
	/* Every way's boots alone first, then the storms: a boot measured
	 * right after a storm (its daemons and directories being torn down)
	 * took the default configuration 4-8 ms instead of ~1 ms. */
	for (size_t k = 0; k < nw; k++) {
		const struct waiting *w = k == 0 ? &waiting_default : &waitings[k];
		double wall[5], cc[5], dc[5], tot[5], sc, sd;
		bool dflt = k == 0;

		{
			double a, b, c;

			boot_socket(98, w, &a, &b, &c);     /* warm-up */
		}
		for (int r = 0; r < reps; r++) {
			boot_socket(r, w, &wall[r], &cc[r], &dc[r]);
			tot[r] = cc[r] + dc[r];
		}
		alone_wall[k] = median(wall, (size_t)reps);
		sc = median(cc, (size_t)reps);
		sd = median(dc, (size_t)reps);
		alone_cpu[k] = median(tot, (size_t)reps);
		if (dflt) {
			double sw = alone_wall[k], st = alone_cpu[k];

			figure("boot_vmvarsd_ms", sw / 1000, "ms", NULL, -1);
			figure("boot_vmvarsd_client_cpu_ms", sc / 1000, "ms", NULL, -1);
			figure("boot_vmvarsd_daemon_cpu_ms", sd / 1000, "ms", NULL, -1);
			figure("boot_socket_vs_inproc_wall_ratio", sw / iw, "x", "<= 2", sw / iw <= 2);
			figure("boot_socket_vs_inproc_cpu_ratio", st / ic, "x", "<= 3 (both ends)",
			       st / ic <= 3);
			/* What the daemon adds to each request, whatever the
			 * in-process baseline costs (docs/performance.md). */
			figure("boot_vmvarsd_overhead_us_per_request", (sw - iw) / (double)boot_rec.n,
			       "us", NULL, -1);
		} else {
			snprintf(name, sizeof(name), "boot_%s_ms", w->name);
			figure(strdup(name), alone_wall[k] / 1000, "ms", NULL, -1);
			snprintf(name, sizeof(name), "boot_%s_cpu_ms", w->name);
			figure(strdup(name), alone_cpu[k] / 1000, "ms", NULL, -1);
		}
	}
	for (size_t k = 0; k < nw; k++) {
		const struct waiting *w = k == 0 ? &waiting_default : &waitings[k];
		double sw = alone_wall[k], st = alone_cpu[k];
		bool dflt = k == 0;
		double worst = 0;
		static double block_storm[2];

		for (int s = 0; s < (quick ? 1 : 2); s++) {
			double stw, stc, ratio;

			boot_storm(storms[s], w, &stw, &stc);
			ratio = stw / (storms[s] * sw);
			if (dflt) {
				snprintf(name, sizeof(name), "boot_storm%d_ratio", storms[s]);
				figure(strdup(name), ratio, "x", NULL, -1);
				snprintf(name, sizeof(name), "boot_storm%d_cpu_ratio", storms[s]);
				figure(strdup(name), stc / (storms[s] * st), "x", NULL, -1);
				snprintf(name, sizeof(name), "boot_storm%d_cpu_us_per_request", storms[s]);
				figure(strdup(name), stc / (storms[s] * (double)boot_rec.n), "us", NULL,
				       -1);
				if (ratio > worst)
					worst = ratio;
			} else {
				snprintf(name, sizeof(name), "boot_%s_storm%d_ratio", w->name,
					 storms[s]);
				figure(strdup(name), ratio, "x", NULL, -1);
			}
			/* The gated spin's own goal: it stops under contention,
			 * so its storm takes no longer than blocking's. */
			if (strcmp(w->name, "block") == 0)
				block_storm[s] = stw;
			if (strcmp(w->name, "spin20_20") == 0) {
				snprintf(name, sizeof(name), "boot_spin20_20_storm%d_vs_block_ratio",
					 storms[s]);
				figure(strdup(name), stw / block_storm[s], "x", NULL, -1);
			}
		}
		/* the worst of the storms is the figure */
		if (dflt)
			figure("boot_storm_ratio", worst, "x", "<= 1.3 (vs N x one alone)",
			       worst <= 1.3);
	}
}

static void
summary(void)
{
	printf("\n%-32s %12s  %-26s %s\n", "figure", "value", "target", "");
	for (size_t i = 0; i < nresults; i++) {
		const struct result *r = &results[i];

		printf("%-32s %12.3f  %-26s %s\n", r->name, r->value, r->target ? r->target : "report",
		       r->met == 1 ? "met" : r->met == 0 ? "MISSED" : "");
	}
}

int
main(int argc, char **argv)
{
	const char *user_dir = NULL;
	bool boot_dir_made = false;
	struct stat st;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = true;
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			user_dir = argv[++i];
		else if (strcmp(argv[i], "--shared-data") == 0 && i + 1 < argc)
			shared_data = argv[++i];
		else if (strcmp(argv[i], "--boot-dir") == 0 && i + 1 < argc)
			snprintf(boot_dir, sizeof(boot_dir), "%s", argv[++i]);
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			only = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--quick] [--dir DIR] [--boot-dir DIR] [--shared-data DIR] "
				"[--only WORD]\n",
				argv[0]);
			return 2;
		}
	}
	if (shared_data == NULL && stat(VV_SOURCE_ROOT "/../shared/data", &st) == 0)
		shared_data = VV_SOURCE_ROOT "/../shared/data";
	if (user_dir != NULL) {
		snprintf(dir, sizeof(dir), "%s", user_dir);
	} else {
		const char *tmp = getenv("TMPDIR");

		snprintf(dir, sizeof(dir), "%s/vmvars-bench-XXXXXX", tmp ? tmp : "/var/tmp");
		if (mkdtemp(dir) == NULL) {
			perror("bench: mkdtemp");
			return 1;
		}
	}
	/* The boot figures compare transports: their stores go on a memory
	 * file system when there is one, so that the shared disk's fsync
	 * latency (tens of ms per boot here, and noisy) does not drown what
	 * is measured.  Durable writes have their own figures above. */
	if (boot_dir[0] == '\0') {
		char shm[] = "/dev/shm/vmvars-bench-boot-XXXXXX";

		if (mkdtemp(shm) != NULL) {
			snprintf(boot_dir, sizeof(boot_dir), "%s", shm);
			boot_dir_made = true;
		} else {
			snprintf(boot_dir, sizeof(boot_dir), "%s", dir);
		}
	}
	printf("# vmvars %s bench%s, durable writes in %s, boot stores in %s\n", VMVARS_VERSION,
	       quick ? " (quick: tiny sizes, figures not comparable)" : "", dir, boot_dir);
#define RUN(f) do { if (only == NULL || strstr(#f, only) != NULL) f(); } while (0)
	RUN(bench_mm_get);
	RUN(bench_getnext);
	RUN(bench_durable_writes);
	RUN(bench_auth_set);
	RUN(bench_dbx_append);
	RUN(bench_boot_replay);
	RUN(bench_migration);
	RUN(bench_migration_blob);
	RUN(bench_daemon);
	RUN(bench_boot);
#undef RUN
	summary();
	if (user_dir == NULL)
		rmdir(dir);
	if (boot_dir_made)
		rmdir(boot_dir);
	return 0;
}
