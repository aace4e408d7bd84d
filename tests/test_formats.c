/*
 * tests/test_formats.c -- every varstore format behind vmvars/formats.h
 * (issue #5; varstore-formats §2-§5, peer-services §6.3).
 *
 * Interop: python-uefivars' vectors (shared/data/aws/testdata) decode to
 * the same store in every format (t02.aws == t02.edk2 == t02.json,
 * t01.efivarfs == t01.json); JSON -> fd -> aws -> xen -> JSON is lossless
 * on them; Debian's OVMF templates load, and a store written into them
 * reloads identically with every byte outside the variable area kept; an
 * empty store written from scratch is Debian's OVMF_VARS_4M.fd byte for
 * byte.  ArmVirt (§2.1): the layout from scratch has the reference's
 * checksum and FTW CRC; blank flash (all 0x00 / all 0xFF) loads empty and,
 * as a template (Debian's 64 MiB AAVMF_VARS.fd), gets the ArmVirt layout
 * at offset 0 with its padding and size kept; padded images load.  Record states (§2.4), certdb <-> digests (§2.8).  Bad input of
 * every format fails with a message naming file, format and offset or
 * field, and leaves the store empty.  Cases that need files from outside
 * the tree SKIP, saying which, when they are absent.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <uchar.h>
#include <unistd.h>

#include <vmvars/formats.h>
#include <vmvars/store.h>
#include <vmvars/ucs2.h>
#include <vmvars/uefi_vars_device.h>

/* ---- helpers ---- */

#define U(s) ((const uint16_t *)u"" s), (sizeof(u"" s) / 2 - 1)

static const vv_guid T_GUID = { { 0x78, 0x56, 0x34, 0x12, 0x34, 0x12, 0x34, 0x12,
				  0x12, 0x34, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc } };

static struct vv_store *
new_store(void)
{
	struct vv_store *s = vv_store_new(NULL);

	REQUIRE(s != NULL);
	return s;
}

static const char *
data_path(const char *rel)
{
	static char buf[8][1024];
	static int slot;
	const char *root = vv_test_shared_data();
	char *p = buf[slot++ % 8];

	if (root == NULL)
		SKIP("../shared/data is absent");
	snprintf(p, 1024, "%s/%s", root, rel);
	if (access(p, F_OK) != 0)
		SKIP("an interop vector in ../shared/data/aws/testdata is absent");
	return p;
}

static uint8_t *
slurp(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long n;

	REQUIRE(f != NULL);
	REQUIRE(fseek(f, 0, SEEK_END) == 0);
	n = ftell(f);
	REQUIRE(n >= 0);
	rewind(f);
	b = malloc((size_t)n + 1);
	REQUIRE(b != NULL);
	REQUIRE(fread(b, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	*size = (size_t)n;
	return b;
}

static struct vv_store *
load_path(const char *path, enum vv_format want)
{
	struct vv_store *s = new_store();
	struct vv_error err = { "" };
	enum vv_format got = VV_FORMAT_UNKNOWN;

	if (vv_format_load_path(path, VV_FORMAT_UNKNOWN, s, &got, &err) != 0)
		printf("# load %s: %s\n", path, err.msg);
	CHECK_EQ(got, want);
	REQUIRE(vv_store_count(s) > 0 || want == VV_FORMAT_OVMF_FD);
	return s;
}

static void
time_of(const struct vv_variable *v, uint8_t out[16])
{
	memset(out, 0, 16);
	if (v->has_time)
		memcpy(out, v->time.b, 16);
}

/* Equal as data: name, GUID, attributes, data, timestamp (zero == none),
 * digest.  nv_only compares the NV variables of a with all of b. */
static bool
same_var(const struct vv_variable *x, const struct vv_variable *y)
{
	uint8_t tx[16], ty[16];

	time_of(x, tx);
	time_of(y, ty);
	return x->attributes == y->attributes && x->data_size == y->data_size &&
	       (x->data_size == 0 || memcmp(x->data, y->data, x->data_size) == 0) &&
	       memcmp(tx, ty, 16) == 0 && x->digest_size == y->digest_size &&
	       memcmp(x->digest, y->digest, x->digest_size) == 0;
}

static size_t
count_nv(const struct vv_store *s)
{
	const struct vv_variable *v;
	size_t n = 0;

	for (v = vv_store_first(s); v != NULL; v = vv_store_next(v))
		n += (v->attributes & VV_ATTR_NV) != 0;
	return n;
}

static bool
stores_equal(const struct vv_store *a, const struct vv_store *b, bool nv_only)
{
	const struct vv_variable *v, *w;
	char name[128];

	if ((nv_only ? count_nv(a) : vv_store_count(a)) != vv_store_count(b)) {
		printf("# counts differ: %zu vs %zu\n", nv_only ? count_nv(a) : vv_store_count(a),
		       vv_store_count(b));
		return false;
	}
	for (v = vv_store_first(a); v != NULL; v = vv_store_next(v)) {
		if (nv_only && !(v->attributes & VV_ATTR_NV))
			continue;
		w = vv_store_find(b, v->name, v->name_len, &v->guid);
		if (w == NULL || !same_var(v, w)) {
			vv_ucs2_print(v->name, v->name_len, name, sizeof(name));
			printf("# variable %s %s\n", name, w == NULL ? "missing" : "differs");
			return false;
		}
	}
	return true;
}

static uint8_t *
save(enum vv_format f, const struct vv_store *s, const uint8_t *tmpl, size_t tmpl_size,
     size_t *size, struct vv_format_report *rep)
{
	struct vv_error err = { "" };
	uint8_t *out = NULL;

	if (vv_format_save(f, s, tmpl, tmpl_size, &out, size, rep, &err) != 0)
		printf("# save %s: %s\n", vv_format_name(f), err.msg);
	REQUIRE(out != NULL);
	return out;
}

static struct vv_store *
reload(enum vv_format f, const uint8_t *data, size_t size)
{
	struct vv_store *s = new_store();
	struct vv_error err = { "" };

	if (vv_format_load(f, data, size, "reload", s, &err) != 0)
		printf("# reload %s: %s\n", vv_format_name(f), err.msg);
	CHECK_EQ(vv_format_detect(data, size), f);
	return s;
}

/* Loads bad bytes; the load must fail, leave s empty, and the message must
 * hold every needle. */
static void
expect_bad(enum vv_format f, const uint8_t *data, size_t size, const char *n1, const char *n2)
{
	struct vv_store *s = new_store();
	struct vv_error err = { "" };

	CHECK_EQ(vv_format_load(f, data, size, "bad.bin", s, &err), -1);
	CHECK_EQ(vv_store_count(s), 0);
	CHECK(strstr(err.msg, "bad.bin") != NULL);
	CHECK(strstr(err.msg, vv_format_name(f)) != NULL);
	if (n1 != NULL && strstr(err.msg, n1) == NULL)
		CHECK(!"message lacks the first needle");
	if (n2 != NULL && strstr(err.msg, n2) == NULL)
		CHECK(!"message lacks the second needle");
	printf("# %s: %s\n", vv_format_name(f), err.msg);
	vv_store_free(s);
}

static void
add(struct vv_store *s, const uint16_t *name, size_t len, const vv_guid *g, uint32_t attr,
    const void *data, size_t size)
{
	struct vv_variable v;
	struct vv_error err;

	memset(&v, 0, sizeof(v));
	v.guid = *g;
	v.attributes = attr;
	v.name = (uint16_t *)name;
	v.name_len = len;
	v.data = (uint8_t *)data;
	v.data_size = size;
	REQUIRE(vv_store_insert_loaded(s, &v, &err) == 0);
}

/* ---- names and detection ---- */

static void
test_names(void)
{
	static const enum vv_format all[] = { VV_FORMAT_JSON, VV_FORMAT_OVMF_FD, VV_FORMAT_AWS,
					      VV_FORMAT_XEN, VV_FORMAT_EFIVARFS };
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		CHECK_EQ(vv_format_from_name(vv_format_name(all[i])), all[i]);
	CHECK_EQ(vv_format_from_name("edk2"), VV_FORMAT_OVMF_FD);
	CHECK_EQ(vv_format_from_name("qcow2"), VV_FORMAT_UNKNOWN);
	CHECK(strcmp(vv_format_name(VV_FORMAT_OVMF_FD), "fd") == 0);
	CHECK_EQ(vv_format_detect((const uint8_t *)"hello", 5), VV_FORMAT_UNKNOWN);
	CHECK_EQ(vv_format_detect((const uint8_t *)"", 0), VV_FORMAT_JSON);
	CHECK_EQ(vv_format_detect((const uint8_t *)"VARS\2\0\0\0", 8), VV_FORMAT_XEN);
}

/* ---- python-uefivars' interop vectors ---- */

static void
test_t02_aws_equals_json(void)
{
	struct vv_store *aws = load_path(data_path("aws/testdata/t02.aws"), VV_FORMAT_AWS);
	struct vv_store *json = load_path(data_path("aws/testdata/t02.json"), VV_FORMAT_JSON);

	CHECK_EQ(vv_store_count(aws), 23);
	CHECK(stores_equal(json, aws, false));
	vv_store_free(aws);
	vv_store_free(json);
}

static void
test_t02_fd_equals_json(void)
{
	struct vv_store *fd = load_path(data_path("aws/testdata/t02.edk2"), VV_FORMAT_OVMF_FD);
	struct vv_store *json = load_path(data_path("aws/testdata/t02.json"), VV_FORMAT_JSON);

	/* t02.edk2 also holds an empty certdb (python-uefivars writes one): it is
	 * consumed as the (empty) digest map, not kept as a variable */
	CHECK_EQ(vv_store_count(fd), 23);
	CHECK(vv_store_find(fd, U("certdb"), &VV_GUID_CERT_DB) == NULL);
	CHECK(stores_equal(json, fd, false));
	vv_store_free(fd);
	vv_store_free(json);
}

static void
test_t01_efivarfs_equals_json(void)
{
	struct vv_store *dir = load_path(data_path("aws/testdata/t01.efivarfs"),
					 VV_FORMAT_EFIVARFS);
	struct vv_store *json = load_path(data_path("aws/testdata/t01.json"), VV_FORMAT_JSON);
	const struct vv_variable *v;

	/* 22 files, the same 22 variables (10 of them volatile) */
	CHECK_EQ(vv_store_count(dir), 22);
	CHECK_EQ(count_nv(dir), 12);
	CHECK(stores_equal(json, dir, false));
	/* readdir order is not used: name order */
	v = vv_store_first(dir);
	REQUIRE(v != NULL);
	CHECK(vv_ucs2_equal(v->name, v->name_len, U("Boot0000")));
	vv_store_free(dir);
	vv_store_free(json);
}

/* JSON -> every format -> back, and the chain fd -> aws -> xen -> JSON. */
static void
round_trip_one(const char *rel, size_t expect_volatile)
{
	static const enum vv_format targets[] = { VV_FORMAT_OVMF_FD, VV_FORMAT_AWS,
						  VV_FORMAT_XEN, VV_FORMAT_JSON };
	struct vv_store *src = load_path(data_path(rel), VV_FORMAT_JSON), *cur, *next;
	size_t i, size, k;

	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		struct vv_format_report rep = { 0 };
		uint8_t *b = save(targets[i], src, NULL, 0, &size, &rep);
		struct vv_store *back = reload(targets[i], b, size);

		CHECK(stores_equal(src, back, true));
		CHECK_EQ(rep.count, expect_volatile);
		for (k = 0; k < rep.count; k++)
			CHECK(strstr(rep.lines[k], "volatile variable not stored") != NULL);
		vv_format_report_free(&rep);
		free(b);
		vv_store_free(back);
	}
	cur = src;
	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		uint8_t *b = save(targets[i], cur, NULL, 0, &size, NULL);

		next = reload(targets[i], b, size);
		free(b);
		if (cur != src)
			vv_store_free(cur);
		cur = next;
	}
	CHECK(stores_equal(src, cur, true));
	vv_store_free(cur);
	vv_store_free(src);
}

static void
test_round_trip_t01(void)
{
	round_trip_one("aws/testdata/t01.json", 10);
}

static void
test_round_trip_t02(void)
{
	round_trip_one("aws/testdata/t02.json", 0);
}

/* Timestamps and digests survive every format that holds them. */
static void
test_round_trip_time_digest(void)
{
	static const enum vv_format targets[] = { VV_FORMAT_OVMF_FD, VV_FORMAT_AWS,
						  VV_FORMAT_XEN, VV_FORMAT_JSON };
	struct vv_store *s = new_store();
	struct vv_variable v;
	struct vv_error err;
	uint8_t data[3] = { 1, 2, 3 };
	size_t i, size;

	memset(&v, 0, sizeof(v));
	v.guid = T_GUID;
	v.attributes = VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT | VV_ATTR_AT;
	v.name = (uint16_t *)u"Priv\u00e9";   /* non-ASCII, kept by all four */
	v.name_len = 5;
	v.data = data;
	v.data_size = sizeof(data);
	v.has_time = true;
	memcpy(v.time.b, "\xe9\x07\x03\x0a\x02\x35\x27\0\0\0\0\0\0\0\0\0", 16);
	v.digest_size = 32;
	memset(v.digest, 0xA5, 32);
	REQUIRE(vv_store_insert_loaded(s, &v, &err) == 0);
	add(s, U("Plain"), &T_GUID, VV_ATTR_NV | VV_ATTR_BS, "x", 1);
	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		struct vv_format_report rep = { 0 };
		uint8_t *b = save(targets[i], s, NULL, 0, &size, &rep);
		struct vv_store *back = reload(targets[i], b, size);

		CHECK(stores_equal(s, back, false));
		/* only JSON mentions the name, which QEMU would not keep */
		CHECK_EQ(rep.count, targets[i] == VV_FORMAT_JSON ? 1 : 0);
		vv_format_report_free(&rep);
		free(b);
		vv_store_free(back);
	}
	vv_store_free(s);
}

/* What a target cannot hold is reported, not silently dropped. */
static void
test_report_lists_drops(void)
{
	struct vv_store *s = new_store(), *back;
	struct vv_format_report rep = { 0 };
	struct vv_variable v;
	struct vv_error err;
	uint8_t *b;
	size_t size;

	add(s, U("Vol"), &T_GUID, VV_ATTR_BS | VV_ATTR_RT, "v", 1);
	memset(&v, 0, sizeof(v));
	v.guid = T_GUID;
	v.attributes = VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_AT;
	v.name = (uint16_t *)u"Long";
	v.name_len = 4;
	v.data = (uint8_t *)"d";
	v.data_size = 1;
	v.digest_size = 48; /* SHA-384: the Xen blob holds 32 */
	memset(v.digest, 7, 48);
	REQUIRE(vv_store_insert_loaded(s, &v, &err) == 0);
	b = save(VV_FORMAT_XEN, s, NULL, 0, &size, &rep);
	REQUIRE(rep.count == 2);
	CHECK(strstr(rep.lines[0], "Vol-12345678-1234-1234-1234-123456789abc: volatile") != NULL);
	CHECK(strstr(rep.lines[1], "Long-") != NULL && strstr(rep.lines[1], "48 bytes") != NULL);
	back = reload(VV_FORMAT_XEN, b, size);
	CHECK_EQ(vv_store_count(back), 1);
	CHECK_EQ(vv_store_first(back)->digest_size, 0);
	vv_format_report_free(&rep);
	CHECK_EQ(rep.count, 0);
	free(b);
	vv_store_free(back);
	vv_store_free(s);
}

/* ---- OVMF_VARS.fd ---- */

#define DEBIAN_4M "/usr/share/OVMF/OVMF_VARS_4M.fd"

static const char *
debian(const char *name)
{
	static char p[256];

	snprintf(p, sizeof(p), "/usr/share/OVMF/%s", name);
	if (access(p, R_OK) != 0)
		SKIP("Debian's ovmf package is not installed (/usr/share/OVMF)");
	return p;
}

/* An empty store from scratch is the 4 MiB build's pristine file. */
static void
test_fd_scratch_is_debian_empty(void)
{
	struct vv_store *s = new_store();
	uint8_t *b, *ref;
	size_t size, ref_size;

	b = save(VV_FORMAT_OVMF_FD, s, NULL, 0, &size, NULL);
	CHECK_EQ(size, 0x84000);
	CHECK_EQ(vv_le16(b + 0x32), 0xB8AF);               /* §2.1 checksum */
	CHECK_EQ(vv_le32(b + 0x41000 + 16), 0x642CAF2C);   /* §2.5 FTW CRC */
	ref = slurp(debian("OVMF_VARS_4M.fd"), &ref_size);
	CHECK_EQ(ref_size, size);
	if (ref_size == size)
		CHECK_MEM(b, ref, size);
	free(ref);
	free(b);
	vv_store_free(s);
}

/* Every Debian template loads; a store written into one reloads the same
 * and every byte outside the variable area is the template's. */
static void
template_case(const char *name, size_t expect_live)
{
	const char *path = debian(name);
	struct vv_store *tmpl_store = new_store(), *vec, *back;
	struct vv_error err = { "" };
	uint8_t *tmpl, *b;
	size_t tmpl_size, size, store_end;

	tmpl = slurp(path, &tmpl_size);
	CHECK_EQ(vv_format_load(VV_FORMAT_OVMF_FD, tmpl, tmpl_size, path, tmpl_store, &err), 0);
	CHECK_EQ(vv_store_count(tmpl_store), expect_live);
	/* the template's own content written back into it */
	b = save(VV_FORMAT_OVMF_FD, tmpl_store, tmpl, tmpl_size, &size, NULL);
	CHECK_EQ(size, tmpl_size);
	back = reload(VV_FORMAT_OVMF_FD, b, size);
	CHECK(stores_equal(tmpl_store, back, false));
	store_end = 0x48 + vv_le32(tmpl + 0x58);
	CHECK_MEM(b, tmpl, 0x64);
	CHECK_MEM(b + store_end, tmpl + store_end, tmpl_size - store_end);
	free(b);
	vv_store_free(back);
	/* another store (t02) written into the template */
	vec = load_path(data_path("aws/testdata/t02.json"), VV_FORMAT_JSON);
	b = save(VV_FORMAT_OVMF_FD, vec, tmpl, tmpl_size, &size, NULL);
	back = reload(VV_FORMAT_OVMF_FD, b, size);
	CHECK(stores_equal(vec, back, false));
	CHECK_MEM(b + store_end, tmpl + store_end, tmpl_size - store_end);
	free(b);
	vv_store_free(back);
	vv_store_free(vec);
	vv_store_free(tmpl_store);
	free(tmpl);
}

static void test_fd_template_4m(void) { template_case("OVMF_VARS_4M.fd", 0); }
static void test_fd_template_2m(void) { template_case("OVMF_VARS.fd", 0); }

/* The Secure Boot template (§2.4 real-world example): the live records,
 * with certdb (empty) consumed and the key timestamps kept. */
static void
test_fd_template_4m_ms(void)
{
	const struct vv_variable *pk;
	struct vv_store *s;

	template_case("OVMF_VARS_4M.ms.fd", 30);
	s = load_path(debian("OVMF_VARS_4M.ms.fd"), VV_FORMAT_OVMF_FD);
	pk = vv_store_find(s, U("PK"), &VV_GUID_GLOBAL_VARIABLE);
	REQUIRE(pk != NULL);
	CHECK_EQ(pk->attributes, 0x27);
	CHECK(pk->has_time);
	CHECK_MEM(pk->time.b, "\xe9\x07\x03\x0a\x02\x35\x27\0", 8);
	CHECK(vv_store_find(s, U("BootOrder"), &VV_GUID_GLOBAL_VARIABLE) == NULL); /* only dead copies */
	CHECK(vv_store_find(s, U("certdb"), &VV_GUID_CERT_DB) == NULL);
	vv_store_free(s);
}

/* ---- ArmVirt / AAVMF (§2.1) ---- */

#define AAVMF_DIR "/usr/share/AAVMF"
#define ARMVIRT_SIZE 0xC0000
#define PAD_64M (64u << 20)

static const char *
aavmf(const char *name)
{
	static char p[256];

	snprintf(p, sizeof(p), AAVMF_DIR "/%s", name);
	if (access(p, R_OK) != 0)
		SKIP("Debian's qemu-efi-aarch64 package is not installed (" AAVMF_DIR ")");
	return p;
}

static struct vv_store *
armvirt_vars(void)
{
	struct vv_store *s = new_store();
	static const uint8_t order[4] = { 1, 0, 0, 0 };

	add(s, U("BootOrder"), &VV_GUID_GLOBAL_VARIABLE, VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT,
	    order, 2);
	add(s, U("Armvirt"), &T_GUID, VV_ATTR_NV | VV_ATTR_BS, "aarch64", 7);
	return s;
}

static uint8_t *
save_layout(enum vv_fd_layout layout, const struct vv_store *s, const uint8_t *tmpl,
	    size_t tmpl_size, size_t *size)
{
	struct vv_error err = { "" };
	uint8_t *out = NULL;

	if (vv_format_save_fd_layout(s, layout, tmpl, tmpl_size, &out, size, NULL, &err) != 0)
		printf("# save fd layout %d: %s\n", (int)layout, err.msg);
	REQUIRE(out != NULL);
	return out;
}

static bool
all_bytes(const uint8_t *p, size_t n, uint8_t value)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != value)
			return false;
	return true;
}

/* §2.1-§2.5: the ArmVirt region map with the reference's values. */
static void
check_armvirt_layout(const uint8_t *b)
{
	CHECK_EQ(vv_le64(b + 0x20), ARMVIRT_SIZE);          /* FvLength */
	CHECK_EQ(vv_le16(b + 0x32), 0x0928);                /* §2.1 checksum */
	CHECK_EQ(vv_le32(b + 0x38), 3);                     /* block map {3, 0x40000} */
	CHECK_EQ(vv_le32(b + 0x3C), 0x40000);
	CHECK_EQ(vv_le32(b + 0x40), 0);
	CHECK_EQ(vv_le32(b + 0x58), 0x3FFB8);               /* §2.3 store Size */
	CHECK_EQ(vv_le32(b + 0x40000 + 16), 0x86C6E75Bu);   /* §2.5 FTW CRC */
	CHECK_EQ(b[0x40000 + 20], 0xFE);
	CHECK_EQ(vv_le64(b + 0x40000 + 24), 0x3FFE0);       /* WriteQueueSize */
	CHECK(all_bytes(b + 0x40020, 0x3FFE0, 0xFF));       /* empty queue */
	CHECK(all_bytes(b + 0x80000, 0x40000, 0xFF));       /* spare */
}

static void
test_fd_armvirt_scratch(void)
{
	struct vv_store *s = new_store(), *vars = armvirt_vars(), *back;
	uint8_t *b;
	size_t size;

	b = save_layout(VV_FD_LAYOUT_ARMVIRT, s, NULL, 0, &size);
	CHECK_EQ(size, ARMVIRT_SIZE);
	check_armvirt_layout(b);
	CHECK(all_bytes(b + 0x64, 0x40000 - 0x64, 0xFF));  /* empty store */
	back = reload(VV_FORMAT_OVMF_FD, b, size);
	CHECK_EQ(vv_store_count(back), 0);
	vv_store_free(back);
	free(b);
	b = save_layout(VV_FD_LAYOUT_ARMVIRT, vars, NULL, 0, &size);
	CHECK_EQ(size, ARMVIRT_SIZE);
	check_armvirt_layout(b);
	back = reload(VV_FORMAT_OVMF_FD, b, size);
	CHECK(stores_equal(vars, back, false));
	vv_store_free(back);
	free(b);
	/* AUTO from scratch is still the 4 MiB build */
	b = save_layout(VV_FD_LAYOUT_AUTO, s, NULL, 0, &size);
	CHECK_EQ(size, 0x84000);
	CHECK_EQ(vv_le16(b + 0x32), 0xB8AF);
	free(b);
	vv_store_free(vars);
	vv_store_free(s);
}

/* The 2 MiB build from scratch is Debian's OVMF_VARS.fd byte for byte. */
static void
test_fd_scratch_2m_is_debian_empty(void)
{
	struct vv_store *s = new_store();
	uint8_t *b, *ref;
	size_t size, ref_size;

	b = save_layout(VV_FD_LAYOUT_OVMF_2M, s, NULL, 0, &size);
	CHECK_EQ(size, 0x20000);
	CHECK_EQ(vv_le16(b + 0x32), 0xF919);               /* §2.1 checksum */
	CHECK_EQ(vv_le32(b + 0xF000 + 16), 0x642CAF2C);    /* §2.5 FTW CRC */
	ref = slurp(debian("OVMF_VARS.fd"), &ref_size);
	CHECK_EQ(ref_size, size);
	if (ref_size == size)
		CHECK_MEM(b, ref, size);
	free(ref);
	free(b);
	vv_store_free(s);
}

/* Blank flash (all 0x00 or all 0xFF, whole 4 KiB blocks) is an empty fd
 * store; anything else that lacks an FV is not. */
static void
test_fd_blank_loads_empty(void)
{
	static const size_t sizes[] = { 0x1000, 0x84000, ARMVIRT_SIZE };
	struct vv_error err = { "" };
	struct vv_store *s;
	uint8_t *img = malloc(ARMVIRT_SIZE);
	size_t i, fill;

	REQUIRE(img != NULL);
	for (fill = 0; fill < 2; fill++) {
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			memset(img, fill ? 0xFF : 0x00, sizes[i]);
			CHECK_EQ(vv_format_detect(img, sizes[i]), VV_FORMAT_OVMF_FD);
			s = new_store();
			CHECK_EQ(vv_format_load(VV_FORMAT_OVMF_FD, img, sizes[i], "blank", s, &err),
				 0);
			CHECK_EQ(vv_store_count(s), 0);
			vv_store_free(s);
		}
	}
	/* not blank: one byte differs, or not whole blocks */
	memset(img, 0, ARMVIRT_SIZE);
	img[0x12345] = 1;
	CHECK_EQ(vv_format_detect(img, ARMVIRT_SIZE), VV_FORMAT_UNKNOWN);
	expect_bad(VV_FORMAT_OVMF_FD, img, ARMVIRT_SIZE, "NvData", NULL);
	memset(img, 0xFF, 0x1800);
	CHECK_EQ(vv_format_detect(img, 0x1800), VV_FORMAT_UNKNOWN);
	expect_bad(VV_FORMAT_OVMF_FD, img, 0x1800, "NvData", NULL);
	free(img);
}

/* A store written into a blank 64 MiB template: ArmVirt at offset 0, the
 * padding kept, the size kept, and it reloads identically. */
static void
blank_template_case(const uint8_t *tmpl, size_t tmpl_size, uint8_t pad)
{
	struct vv_store *vars = armvirt_vars(), *back;
	uint8_t *b;
	size_t size;

	b = save(VV_FORMAT_OVMF_FD, vars, tmpl, tmpl_size, &size, NULL);
	CHECK_EQ(size, tmpl_size);
	check_armvirt_layout(b);
	CHECK(all_bytes(b + ARMVIRT_SIZE, tmpl_size - ARMVIRT_SIZE, pad));
	back = reload(VV_FORMAT_OVMF_FD, b, size);
	CHECK(stores_equal(vars, back, false));
	vv_store_free(back);
	free(b);
	vv_store_free(vars);
}

static void
test_fd_aavmf_blank_template(void)
{
	struct vv_store *s;
	uint8_t *tmpl;
	size_t tmpl_size;

	tmpl = slurp(aavmf("AAVMF_VARS.fd"), &tmpl_size);
	CHECK_EQ(tmpl_size, PAD_64M);
	REQUIRE(all_bytes(tmpl, tmpl_size, 0x00)); /* Debian ships it unformatted */
	s = load_path(aavmf("AAVMF_VARS.fd"), VV_FORMAT_OVMF_FD); /* detected, empty */
	CHECK_EQ(vv_store_count(s), 0);
	vv_store_free(s);
	blank_template_case(tmpl, tmpl_size, 0x00);
	free(tmpl);
}

static void
test_fd_blank_template_sizes(void)
{
	struct vv_store *vars = armvirt_vars();
	struct vv_error err = { "" };
	uint8_t *tmpl = malloc(PAD_64M), *b = NULL, *formatted;
	size_t size, f_size;

	REQUIRE(tmpl != NULL);
	memset(tmpl, 0xFF, PAD_64M);
	blank_template_case(tmpl, PAD_64M, 0xFF);
	memset(tmpl, 0x00, PAD_64M);
	blank_template_case(tmpl, ARMVIRT_SIZE + 0x1000, 0x00);
	/* an x86 size keeps its x86 layout */
	b = save(VV_FORMAT_OVMF_FD, vars, tmpl, 0x84000, &size, NULL);
	CHECK_EQ(size, 0x84000);
	CHECK_EQ(vv_le16(b + 0x32), 0xB8AF);
	free(b);
	b = NULL;
	/* a blank size that matches no layout, and a layout that does not fit */
	CHECK_EQ(vv_format_save(VV_FORMAT_OVMF_FD, vars, tmpl, 0x30000, &b, &size, NULL, &err),
		 -1);
	CHECK(b == NULL);
	CHECK(strstr(err.msg, "matches no layout") != NULL);
	CHECK_EQ(vv_format_save_fd_layout(vars, VV_FD_LAYOUT_ARMVIRT, tmpl, 0x84000, &b, &size,
					  NULL, &err), -1);
	CHECK(b == NULL);
	CHECK(strstr(err.msg, "smaller than the ArmVirt layout") != NULL);
	/* a formatted template keeps its geometry: no layout override */
	formatted = save_layout(VV_FD_LAYOUT_OVMF_4M, vars, NULL, 0, &f_size);
	CHECK_EQ(vv_format_save_fd_layout(vars, VV_FD_LAYOUT_ARMVIRT, formatted, f_size, &b,
					  &size, NULL, &err), -1);
	CHECK(b == NULL);
	CHECK(strstr(err.msg, "keeps its own layout") != NULL);
	printf("# %s\n", err.msg);
	free(formatted);
	free(tmpl);
	vv_store_free(vars);
}

/* A formatted ArmVirt image padded to 64 MiB with 0x00 or 0xFF loads. */
static void
test_fd_armvirt_padded(void)
{
	struct vv_store *vars = armvirt_vars(), *back;
	uint8_t *img, *b;
	size_t size, fill;

	b = save_layout(VV_FD_LAYOUT_ARMVIRT, vars, NULL, 0, &size);
	img = malloc(PAD_64M);
	REQUIRE(img != NULL);
	for (fill = 0; fill < 2; fill++) {
		memset(img, fill ? 0xFF : 0x00, PAD_64M);
		memcpy(img, b, size);
		back = reload(VV_FORMAT_OVMF_FD, img, PAD_64M);
		CHECK(stores_equal(vars, back, false));
		vv_store_free(back);
	}
	free(img);
	free(b);
	vv_store_free(vars);
}

/* Debian's AAVMF_VARS.ms.fd: formatted by the firmware (its block map
 * covers the 64 MiB flash device, not FvLength 0xC0000), Secure Boot keys
 * enrolled; it loads, and a save into it keeps every byte after the store. */
static void
test_fd_aavmf_ms(void)
{
	const char *path = aavmf("AAVMF_VARS.ms.fd");
	struct vv_store *s, *back;
	uint8_t *tmpl, *b;
	size_t tmpl_size, size;

	tmpl = slurp(path, &tmpl_size);
	CHECK_EQ(tmpl_size, PAD_64M);
	CHECK_EQ(vv_le64(tmpl + 0x20), ARMVIRT_SIZE);
	s = load_path(path, VV_FORMAT_OVMF_FD);
	CHECK(vv_store_find(s, U("PK"), &VV_GUID_GLOBAL_VARIABLE) != NULL);
	CHECK(vv_store_find(s, U("db"), &VV_GUID_IMAGE_SECURITY_DB) != NULL);
	b = save(VV_FORMAT_OVMF_FD, s, tmpl, tmpl_size, &size, NULL);
	CHECK_EQ(size, tmpl_size);
	CHECK_MEM(b, tmpl, 0x64);
	CHECK_MEM(b + 0x40000, tmpl + 0x40000, tmpl_size - 0x40000);
	back = reload(VV_FORMAT_OVMF_FD, b, size);
	CHECK(stores_equal(s, back, false));
	vv_store_free(back);
	vv_store_free(s);
	free(b);
	free(tmpl);
}

/* Builds a scratch image holding A=1 then B=2; returns the offsets. */
static uint8_t *
two_records(size_t *size, size_t *a, size_t *b)
{
	struct vv_store *s = new_store();
	uint8_t *img;

	add(s, U("A"), &T_GUID, VV_ATTR_NV | VV_ATTR_BS, "\1", 1);
	add(s, U("B"), &T_GUID, VV_ATTR_NV | VV_ATTR_BS, "\2", 1);
	img = save(VV_FORMAT_OVMF_FD, s, NULL, 0, size, NULL);
	vv_store_free(s);
	*a = 0x64;
	*b = 0x64 + ((60 + 4 + 1 + 3) & ~3u); /* 60 header + "A\0" + 1 byte, aligned */
	CHECK_EQ(vv_le16(img + *b), 0x55AA);
	return img;
}

static const struct vv_variable *
find_a(const struct vv_store *s)
{
	return vv_store_find(s, U("A"), &T_GUID);
}

static void
test_fd_record_states(void)
{
	size_t size, a, b, c;
	uint8_t *img = two_records(&size, &a, &b);
	struct vv_store *s;

	c = b + ((60 + 4 + 1 + 3) & ~3u);  /* free space after B */
	/* 0x3C (deleted via transition), 0x3D (deleted), 0x7F: dead */
	img[a + 2] = 0x3C;
	s = reload(VV_FORMAT_OVMF_FD, img, size);
	CHECK(find_a(s) == NULL);
	CHECK_EQ(vv_store_count(s), 1);
	vv_store_free(s);
	img[a + 2] = 0x7F;
	s = reload(VV_FORMAT_OVMF_FD, img, size);
	CHECK(find_a(s) == NULL);
	vv_store_free(s);
	/* 0x3E alone is the live value */
	img[a + 2] = 0x3E;
	s = reload(VV_FORMAT_OVMF_FD, img, size);
	REQUIRE(find_a(s) != NULL);
	CHECK_EQ(find_a(s)->data[0], 1);
	vv_store_free(s);
	/* a 0x3F copy after it wins: copy A's record to the free space, data 9 */
	memcpy(img + c, img + a, 60 + 4 + 1);
	img[c + 2] = 0x3F;
	img[c + 60 + 4] = 9;
	s = reload(VV_FORMAT_OVMF_FD, img, size);
	REQUIRE(find_a(s) != NULL);
	CHECK_EQ(find_a(s)->data[0], 9);
	CHECK_EQ(vv_store_count(s), 2);
	vv_store_free(s);
	/* a torn record (State still 0xFF) is stepped over by its header */
	img[c + 2] = 0xFF;
	s = reload(VV_FORMAT_OVMF_FD, img, size);
	REQUIRE(find_a(s) != NULL);
	CHECK_EQ(find_a(s)->data[0], 1);
	vv_store_free(s);
	free(img);
}

/* Digests travel as certdb entries (§2.8) and come back as digests. */
static void
test_fd_certdb_digests(void)
{
	struct vv_store *s = new_store(), *back;
	const struct vv_variable *v;
	struct vv_variable in;
	struct vv_error err;
	uint8_t *img;
	size_t size;

	memset(&in, 0, sizeof(in));
	in.guid = T_GUID;
	in.attributes = 0x27;
	in.name = (uint16_t *)u"Private";
	in.name_len = 7;
	in.data = (uint8_t *)"abc";
	in.data_size = 3;
	in.digest_size = 32;
	memset(in.digest, 0x5C, 32);
	REQUIRE(vv_store_insert_loaded(s, &in, &err) == 0);
	img = save(VV_FORMAT_OVMF_FD, s, NULL, 0, &size, NULL);
	/* the first record is certdb, 0x27, holding one 28 + 14 + 32 entry */
	CHECK_EQ(vv_le32(img + 0x64 + 4), 0x27);
	CHECK_EQ(vv_le32(img + 0x64 + 0x28), 4 + 28 + 14 + 32);
	back = reload(VV_FORMAT_OVMF_FD, img, size);
	CHECK_EQ(vv_store_count(back), 1);
	v = vv_store_find(back, U("Private"), &T_GUID);
	REQUIRE(v != NULL);
	CHECK_EQ(v->digest_size, 32);
	CHECK_MEM(v->digest, in.digest, 32);
	vv_store_free(back);
	vv_store_free(s);
	free(img);
}

static void
test_fd_too_full(void)
{
	struct vv_store *s = new_store();
	struct vv_error err = { "" };
	uint8_t *out = NULL, *tmpl, big[0x2000];
	size_t size, tmpl_size, i;

	/* 8 variables of 8 KiB: fit the 4M layout, not the 2M one (0xDF9C) */
	memset(big, 0x11, sizeof(big));
	for (i = 0; i < 8; i++) {
		uint16_t name[3] = { 'V', (uint16_t)('0' + i), 0 };

		add(s, name, 2, &T_GUID, VV_ATTR_NV | VV_ATTR_BS, big, 0x1F00);
	}
	out = save(VV_FORMAT_OVMF_FD, s, NULL, 0, &size, NULL);
	free(out);
	out = NULL;
	tmpl = slurp(debian("OVMF_VARS.fd"), &tmpl_size);
	CHECK_EQ(vv_format_save(VV_FORMAT_OVMF_FD, s, tmpl, tmpl_size, &out, &size, NULL, &err), -1);
	CHECK(out == NULL);
	CHECK(strstr(err.msg, "do not fit") != NULL);
	printf("# %s\n", err.msg);
	free(tmpl);
	vv_store_free(s);
}

/* ---- bad input ---- */

static void
refresh_fv_checksum(uint8_t *img)
{
	uint16_t sum = 0;
	size_t i;

	vv_put_le16(img + 0x32, 0);
	for (i = 0; i < 0x48; i += 2)
		sum = (uint16_t)(sum + vv_le16(img + i));
	vv_put_le16(img + 0x32, (uint16_t)(0x10000u - sum));
}

static void
test_fd_bad_input(void)
{
	size_t size, a, b;
	uint8_t *img = two_records(&size, &a, &b), *bad = malloc(size);

	REQUIRE(bad != NULL);
	expect_bad(VV_FORMAT_OVMF_FD, img, 40, "truncated", NULL);
	expect_bad(VV_FORMAT_OVMF_FD, img, size / 2, "FvLength", "offset 0x20");
	memcpy(bad, img, size);
	bad[0x2C] ^= 1;   /* attributes changed, checksum not */
	expect_bad(VV_FORMAT_OVMF_FD, bad, size, "checksum", "offset 0x32");
	memcpy(bad, img, size);
	bad[0x28] = 'X';
	expect_bad(VV_FORMAT_OVMF_FD, bad, size, "_FVH", "offset 0x28");
	memcpy(bad, img, size);
	bad[0x10] ^= 0xFF;
	expect_bad(VV_FORMAT_OVMF_FD, bad, size, "NvData", NULL);
	memcpy(bad, img, size);
	bad[0x48] ^= 0xFF;
	expect_bad(VV_FORMAT_OVMF_FD, bad, size, "store signature", "offset 0x48");
	memcpy(bad, img, size);
	vv_put_le32(bad + 0x58, 0x90000);
	expect_bad(VV_FORMAT_OVMF_FD, bad, size, "store Size", "offset 0x58");
	memcpy(bad, img, size);
	vv_put_le32(bad + b + 0x28, 0x40000); /* B's DataSize */
	expect_bad(VV_FORMAT_OVMF_FD, bad, size, "runs past the store end", "offset 0xa8");
	memcpy(bad, img, size);
	bad[a + 2] = 0x12;
	expect_bad(VV_FORMAT_OVMF_FD, bad, size, "State 0x12", "offset 0x66");
	memcpy(bad, img, size);
	vv_put_le32(bad + a + 0x24, 3); /* odd NameSize on a live record */
	vv_put_le32(bad + a + 0x28, 2);
	expect_bad(VV_FORMAT_OVMF_FD, bad, size, "NameSize 3", "offset 0x64");
	memcpy(bad, img, size);
	bad[0x41000 + 0x18] ^= 1; /* WriteQueueSize changed, CRC not */
	expect_bad(VV_FORMAT_OVMF_FD, bad, size, "FTW working block CRC", "offset 0x41010");
	/* a pending FTW write whose spare copy is complete (§2.5) */
	memcpy(bad, img, size);
	bad[0x41020] = 0xFF & ~1 & ~2;        /* header + writes allocated, not complete */
	vv_put_le64(bad + 0x41020 + 24, 1);   /* one write */
	vv_put_le64(bad + 0x41020 + 32, 0);   /* no private data */
	bad[0x41048] = 0xFF & ~2;             /* SpareComplete done, destination not */
	expect_bad(VV_FORMAT_OVMF_FD, bad, size, "FTW write in progress", "offset 0x41048");
	/* the checksum itself refreshed: the next problem is found */
	memcpy(bad, img, size);
	vv_put_le64(bad + 0x20, 0x85000);
	refresh_fv_checksum(bad);
	expect_bad(VV_FORMAT_OVMF_FD, bad, size, "FvLength 0x85000", NULL);
	free(bad);
	free(img);
}

static char *
b64(const uint8_t *p, size_t n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *o = malloc(n / 3 * 4 + 8), *q = o;
	size_t i;

	REQUIRE(o != NULL);
	for (i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);

		*q++ = a[v >> 18 & 63];
		*q++ = a[v >> 12 & 63];
		*q++ = i + 1 < n ? a[v >> 6 & 63] : '=';
		*q++ = i + 2 < n ? a[v & 63] : '=';
	}
	*q = 0;
	return o;
}

/* The decoded t02.aws blob. */
static uint8_t *
t02_blob(size_t *size)
{
	struct vv_store *s = load_path(data_path("aws/testdata/t02.json"), VV_FORMAT_JSON);
	uint8_t *text = save(VV_FORMAT_AWS, s, NULL, 0, size, NULL), *blob;
	struct vv_store *raw = new_store();
	struct vv_error err;

	vv_store_free(s);
	/* decode with the library (raw blobs load too) */
	blob = malloc(*size);
	REQUIRE(blob != NULL);
	{
		/* minimal local base64 decode */
		static const char a[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		size_t i, o = 0, n = 0;
		uint32_t acc = 0;

		for (i = 0; i < *size; i++) {
			const char *p = text[i] ? strchr(a, text[i]) : NULL;

			if (p == NULL)
				continue;
			acc = acc << 6 | (uint32_t)(p - a);
			if (++n % 4 == 0) {
				blob[o++] = (uint8_t)(acc >> 16);
				blob[o++] = (uint8_t)(acc >> 8);
				blob[o++] = (uint8_t)acc;
			}
		}
		if (n % 4 == 2)
			blob[o++] = (uint8_t)(acc >> 4);
		else if (n % 4 == 3) {
			blob[o++] = (uint8_t)(acc >> 10);
			blob[o++] = (uint8_t)(acc >> 2);
		}
		*size = o;
	}
	free(text);
	CHECK_EQ(vv_format_load(VV_FORMAT_AWS, blob, *size, "raw", raw, &err), 0);
	CHECK_EQ(vv_store_count(raw), 23);
	vv_store_free(raw);
	return blob;
}

static void
fix_crc(uint8_t *blob, size_t size)
{
	vv_put_le32(blob + 8, vv_crc32c(blob + 12, size - 12));
}

/* LSB-first bit writer for a hand-made deflate stream (RFC 1951). */
struct bits {
	uint8_t *p;
	size_t n;
	uint32_t acc;
	int nb;
};

static void
put_bits(struct bits *b, uint32_t v, int count)
{
	b->acc |= v << b->nb;
	b->nb += count;
	while (b->nb >= 8) {
		b->p[b->n++] = (uint8_t)b->acc;
		b->acc >>= 8;
		b->nb -= 8;
	}
}

/* Huffman codes go MSB first. */
static void
put_code(struct bits *b, uint32_t code, int len)
{
	uint32_t r = 0;
	int i;

	for (i = 0; i < len; i++)
		r |= ((code >> i) & 1) << (len - 1 - i);
	put_bits(b, r, len);
}

/*
 * A valid blob (magic, CRC, version) whose zlib body would inflate to
 * 32 MiB of zeros: one fixed-Huffman block, a literal 0 then (length 258,
 * distance 1) pairs, 13 bits per 258 bytes.
 */
static uint8_t *
zlib_bomb(size_t *size)
{
	size_t pairs = (32u << 20) / 258, i;
	struct bits b = { malloc(16 + 2 + pairs * 2 + 16), 16, 0, 0 };

	REQUIRE(b.p != NULL);
	b.p[b.n++] = 0x78;
	b.p[b.n++] = 0xDA;
	put_bits(&b, 1, 1);             /* BFINAL */
	put_bits(&b, 1, 2);             /* fixed Huffman */
	put_code(&b, 0x30, 8);          /* literal 0 */
	for (i = 0; i < pairs; i++) {
		put_code(&b, 0xC5, 8);  /* length code 285: 258 */
		put_code(&b, 0, 5);     /* distance code 0: 1 */
	}
	put_code(&b, 0, 7);             /* end of block */
	put_bits(&b, 0, 7);             /* flush; the adler32 is never reached */
	memcpy(b.p, "AMZNUEFI", 8);
	vv_put_le32(b.p + 12, 0);
	*size = b.n;
	fix_crc(b.p, *size);
	return b.p;
}

static void
test_aws_bad_input(void)
{
	size_t size, bomb_size;
	uint8_t *blob = t02_blob(&size), *bad = malloc(size), *bomb;
	char *text;

	REQUIRE(bad != NULL);
	memcpy(bad, blob, size);
	bad[size - 1] ^= 0x55;
	text = b64(bad, size);
	expect_bad(VV_FORMAT_AWS, (uint8_t *)text, strlen(text), "CRC-32C", "offset 0x8");
	free(text);
	memcpy(bad, blob, size);
	bad[7] = 'X';
	text = b64(bad, size);
	expect_bad(VV_FORMAT_AWS, (uint8_t *)text, strlen(text), "magic", "offset 0");
	free(text);
	text = b64(blob, size / 2);
	expect_bad(VV_FORMAT_AWS, (uint8_t *)text, strlen(text), "CRC-32C", NULL);
	free(text);
	memcpy(bad, blob, size);
	fix_crc(bad, size / 2);           /* truncated, CRC made to match */
	text = b64(bad, size / 2);
	expect_bad(VV_FORMAT_AWS, (uint8_t *)text, strlen(text), "truncated", "offset 0x");
	free(text);
	memcpy(bad, blob, size);
	vv_put_le32(bad + 12, 1);
	fix_crc(bad, size);
	expect_bad(VV_FORMAT_AWS, bad, size, "version 1", "offset 0xc");
	memcpy(bad, blob, size);
	bad[20] ^= 0xFF;                  /* corrupt deflate data */
	fix_crc(bad, size);
	expect_bad(VV_FORMAT_AWS, bad, size, "zlib", "offset 0x");
	expect_bad(VV_FORMAT_AWS, (const uint8_t *)"QU1aTlVFRkk*", 12, "not base64", "offset 0xb");
	expect_bad(VV_FORMAT_AWS, (const uint8_t *)"QU1aTlVFRkkA", 12, "truncated", NULL);
	bomb = zlib_bomb(&bomb_size);
	expect_bad(VV_FORMAT_AWS, bomb, bomb_size, "zlib bomb", "exceeds");
	free(bomb);
	free(bad);
	free(blob);
}

/* A raw Xen v2 blob of one variable "AB" with data {1}. */
static size_t
xen_blob(uint8_t *p, uint32_t version)
{
	size_t off = 24 + (version == 2 ? 268 : 0), start;

	memset(p, 0, 512);
	memcpy(p, "VARS", 4);
	vv_put_le32(p + 4, version);
	vv_put_le64(p + 8, 1);
	start = off;
	vv_put_le64(p + off, 4);
	memcpy(p + off + 8, "A\0B\0", 4);
	off += 12;
	vv_put_le64(p + off, 1);
	p[off + 8] = 1;
	off += 9;
	memcpy(p + off, T_GUID.b, 16);
	vv_put_le32(p + off + 16, VV_ATTR_NV | VV_ATTR_BS);
	off += 16 + 4 + 16 + 32;
	vv_put_le64(p + 16, off - start);
	return off;
}

static void
test_xen_versions_and_bad_input(void)
{
	uint8_t blob[512], bad[512];
	size_t n, n1;
	struct vv_store *s;
	char *text;

	n = xen_blob(blob, 2);
	s = reload(VV_FORMAT_XEN, blob, n);
	CHECK_EQ(vv_store_count(s), 1);
	CHECK(vv_store_find(s, U("AB"), &T_GUID) != NULL);
	vv_store_free(s);
	text = b64(blob, n);
	s = reload(VV_FORMAT_XEN, (uint8_t *)text, strlen(text));
	CHECK_EQ(vv_store_count(s), 1);
	vv_store_free(s);
	free(text);
	n1 = xen_blob(blob, 1);
	s = reload(VV_FORMAT_XEN, blob, n1);
	CHECK_EQ(vv_store_count(s), 1);
	vv_store_free(s);

	n = xen_blob(blob, 2);
	expect_bad(VV_FORMAT_XEN, blob, 10, "truncated", NULL);
	expect_bad(VV_FORMAT_XEN, blob, n - 1, "data_len", "offset 0x10");
	memcpy(bad, blob, n);
	bad[0] = 'W';
	expect_bad(VV_FORMAT_XEN, bad, n, "magic", "offset 0");
	memcpy(bad, blob, n);
	vv_put_le32(bad + 4, 3);
	expect_bad(VV_FORMAT_XEN, bad, n, "version 3", "offset 0x4");
	memcpy(bad, blob, n);
	vv_put_le64(bad + 8, 2000);
	expect_bad(VV_FORMAT_XEN, bad, n, "2000 variables", "offset 0x8");
	memcpy(bad, blob, n);
	vv_put_le64(bad + 8, 2);
	expect_bad(VV_FORMAT_XEN, bad, n, "variable 1", "runs past");
	memcpy(bad, blob, n);
	vv_put_le64(bad + 292, 3);        /* odd UTF-16 name length */
	expect_bad(VV_FORMAT_XEN, bad, n, "odd length", "offset 0x124");
	memcpy(bad, blob, n);
	vv_put_le64(bad + 292 + 12, 0);   /* empty data, which varstored refuses */
	expect_bad(VV_FORMAT_XEN, bad, n, "data length 0", "offset 0x130");
}

static void
test_efivarfs_bad_input(void)
{
	char dir[] = "/tmp/vv-efivarfs-XXXXXX", path[256];
	struct vv_store *s = new_store();
	struct vv_error err = { "" };
	FILE *f;

	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/Good-12345678-1234-1234-1234-123456789abc", dir);
	f = fopen(path, "wb");
	REQUIRE(f != NULL);
	fwrite("\x07\0\0\0xy", 1, 6, f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/Short-12345678-1234-1234-1234-123456789abc", dir);
	f = fopen(path, "wb");
	REQUIRE(f != NULL);
	fwrite("\x07\0", 1, 2, f);
	fclose(f);
	CHECK_EQ(vv_format_load_path(dir, VV_FORMAT_UNKNOWN, s, NULL, &err), -1);
	CHECK_EQ(vv_store_count(s), 0);
	CHECK(strstr(err.msg, "Short-12345678") != NULL && strstr(err.msg, "efivarfs") != NULL &&
	      strstr(err.msg, "offset 0") != NULL);
	printf("# %s\n", err.msg);
	unlink(path);
	snprintf(path, sizeof(path), "%s/NoGuid", dir);
	f = fopen(path, "wb");
	REQUIRE(f != NULL);
	fwrite("\x07\0\0\0x", 1, 5, f);
	fclose(f);
	CHECK_EQ(vv_format_load_path(dir, VV_FORMAT_EFIVARFS, s, NULL, &err), -1);
	CHECK_EQ(vv_store_count(s), 0);
	CHECK(strstr(err.msg, "NoGuid") != NULL && strstr(err.msg, "<Name>-<guid>") != NULL);
	unlink(path);
	CHECK_EQ(vv_format_load_path(dir, VV_FORMAT_UNKNOWN, s, NULL, &err), 0);
	CHECK_EQ(vv_store_count(s), 1);
	snprintf(path, sizeof(path), "%s/Good-12345678-1234-1234-1234-123456789abc", dir);
	unlink(path);
	rmdir(dir);
	vv_store_free(s);
}

static void
test_json_bad_input(void)
{
	static const char odd[] = "{\"version\":2,\"variables\":[{\"guid\":"
		"\"12345678-1234-1234-1234-123456789abc\",\"name\":\"X\",\"attr\":7,\"data\":\"abc\"}]}";

	expect_bad(VV_FORMAT_JSON, (const uint8_t *)odd, strlen(odd), "variables[0].data", "hex");
	expect_bad(VV_FORMAT_JSON, (const uint8_t *)"[1]", 3, "variables[0]", NULL);
}

/* A load never goes into a store that already holds variables. */
static void
test_load_needs_empty_store(void)
{
	struct vv_store *s = new_store();
	struct vv_error err = { "" };
	static const char doc[] = "{\"version\":2,\"variables\":[]}";

	add(s, U("Old"), &T_GUID, VV_ATTR_NV | VV_ATTR_BS, "o", 1);
	CHECK_EQ(vv_format_load(VV_FORMAT_JSON, (const uint8_t *)doc, strlen(doc), "x.json", s,
				&err), -1);
	CHECK(strstr(err.msg, "not empty") != NULL);
	CHECK_EQ(vv_store_count(s), 1);
	vv_store_free(s);
}

/* ---- atomic write ---- */

static void
test_write_file_atomic(void)
{
	char dir[] = "/tmp/vv-atomic-XXXXXX", path[256], tmp[300];
	struct vv_error err = { "" };
	uint8_t *back;
	size_t size;

	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/vars.fd", dir);
	CHECK_EQ(vv_write_file_atomic(path, (const uint8_t *)"first", 5, &err), 0);
	CHECK_EQ(vv_write_file_atomic(path, (const uint8_t *)"second!", 7, &err), 0);
	back = slurp(path, &size);
	CHECK_EQ(size, 7);
	CHECK_MEM(back, "second!", 7);
	free(back);
	/* a temp name blocked by a directory: the write fails, the file stays */
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	REQUIRE(mkdir(tmp, 0700) == 0);
	CHECK_EQ(vv_write_file_atomic(path, (const uint8_t *)"third", 5, &err), -1);
	CHECK(strstr(err.msg, path) != NULL);
	back = slurp(path, &size);
	CHECK_EQ(size, 7);
	CHECK_MEM(back, "second!", 7);
	free(back);
	rmdir(tmp);
	CHECK_EQ(vv_write_file_atomic(dir, (const uint8_t *)"x", 1, &err), -1);
	unlink(path);
	rmdir(dir);
}

static const struct vv_test tests[] = {
	TEST(test_names),
	TEST(test_t02_aws_equals_json),
	TEST(test_t02_fd_equals_json),
	TEST(test_t01_efivarfs_equals_json),
	TEST(test_round_trip_t01),
	TEST(test_round_trip_t02),
	TEST(test_round_trip_time_digest),
	TEST(test_report_lists_drops),
	TEST(test_fd_scratch_is_debian_empty),
	TEST(test_fd_template_4m),
	TEST(test_fd_template_2m),
	TEST(test_fd_template_4m_ms),
	TEST(test_fd_armvirt_scratch),
	TEST(test_fd_scratch_2m_is_debian_empty),
	TEST(test_fd_blank_loads_empty),
	TEST(test_fd_aavmf_blank_template),
	TEST(test_fd_blank_template_sizes),
	TEST(test_fd_armvirt_padded),
	TEST(test_fd_aavmf_ms),
	TEST(test_fd_record_states),
	TEST(test_fd_certdb_digests),
	TEST(test_fd_too_full),
	TEST(test_fd_bad_input),
	TEST(test_aws_bad_input),
	TEST(test_xen_versions_and_bad_input),
	TEST(test_efivarfs_bad_input),
	TEST(test_json_bad_input),
	TEST(test_load_needs_empty_store),
	TEST(test_write_file_atomic),
};

VV_TEST_MAIN(tests)
