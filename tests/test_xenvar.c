/*
 * tests/test_xenvar.c -- the varstored wire protocol (XenVariable) and its
 * ExtVarStore dialect, byte for byte (reference peer-services.md §3, §4,
 * §9.2): requests built at the offsets of §3.1-§3.2 in a zeroed 64 KiB
 * buffer, handed to vv_xenvar_handle as a front end hands its private
 * copy.  Hostile fields get the documented status and leave the store as
 * it was; varstored's own suite behaviours (§8.2) run through both
 * dialects where vmvars agrees with varstored, and the differences are
 * asserted as documented in docs/protocols.md.
 */
#include "harness.h"
#include "store_util.h"
#include "xenvar_guest.h"

#include <vmvars/mor.h>
#include <vmvars/secureboot.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

static struct vv_store *store;
static struct vv_secureboot *sb;
static struct vv_mor *mor;
static struct vv_xenvar *xv;
static struct xv_guest guest;
static int sb_alerts, sb_alert_result;

static int
on_sb_failure(void *ctx)
{
	(void)ctx;
	sb_alerts++;
	return sb_alert_result;
}

static void
teardown(void)
{
	vv_xenvar_free(xv);
	vv_mor_free(mor);
	vv_secureboot_free(sb);
	vv_store_free(store);
	xv = NULL;
	mor = NULL;
	sb = NULL;
	store = NULL;
}

static void
setup_with(enum vv_xenvar_dialect d, const struct vv_xenvar_limits *lim)
{
	static bool registered;
	struct vv_xenvar_config cfg = { 0 };
	struct vv_limits sl;

	if (!registered)
		registered = atexit(teardown) == 0;
	teardown();
	cfg.dialect = d;
	if (lim != NULL)
		cfg.limits = *lim;
	else
		vv_xenvar_limits_default(&cfg.limits);
	cfg.sb_failure = on_sb_failure;
	vv_xenvar_store_limits(&cfg.limits, &sl);
	store = vv_store_new(&sl);
	REQUIRE(store != NULL);
	sb = vv_secureboot_new(store, NULL);
	mor = vv_mor_new(store, true);
	xv = vv_xenvar_new(store, &cfg);
	REQUIRE(sb != NULL && mor != NULL && xv != NULL);
	memset(&guest, 0, sizeof(guest));
	guest.dialect = d;
	guest.call = xv_call_engine;
	guest.ctx = xv;
	sb_alerts = 0;
	sb_alert_result = 0;
}

static void setup(enum vv_xenvar_dialect d) { setup_with(d, NULL); }

static uint8_t image_before[1 << 20], image_after[1 << 20];
static size_t image_before_len;

static void
snap(void)
{
	image_before_len = store_image(store, image_before, sizeof(image_before));
	REQUIRE(image_before_len != SIZE_MAX);
}

#define CHECK_UNTOUCHED() do { \
	size_t n_ = store_image(store, image_after, sizeof(image_after)); \
	REQUIRE(n_ != SIZE_MAX); \
	CHECK_EQ(n_, image_before_len); \
	CHECK(memcmp(image_before, image_after, n_) == 0); \
	} while (0)

static bool
zero_from(const uint8_t *p, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static const enum vv_xenvar_dialect dialects[] = { VV_XENVAR_XEN, VV_XENVAR_AWS };

/* SET then GET, checking the response bytes of §3.2 exactly. */
static void
test_wire_layout(void)
{
	for (size_t d = 0; d < 2; d++) {
		uint8_t *b = guest.buf;
		size_t off;

		setup(dialects[d]);
		CHECK_STATUS(xv_set(&guest, U("Boot0001"), &VV_GUID_GLOBAL_VARIABLE, NV_BS_RT,
				    "\x01\x02\x03", 3), VV_EFI_SUCCESS);
		CHECK_EQ(guest.last_len, 8);
		CHECK(zero_from(b, 8, XV_BUF));
		/* GET by hand: version, command, name, GUID, buffer_size, [rt] */
		memset(b, 0xcc, XV_BUF);
		vv_put_le32(b, 1);
		vv_put_le32(b + 4, 0);
		vv_put_le64(b + 8, 16);
		for (int i = 0; i < 8; i++)
			vv_put_le16(b + 16 + 2 * i, (uint16_t)"Boot0001"[i]);
		memcpy(b + 32, VV_GUID_GLOBAL_VARIABLE.b, 16);
		vv_put_le64(b + 48, 100);
		off = 56;
		if (dialects[d] == VV_XENVAR_XEN)
			b[off++] = 0;
		CHECK_EQ(vv_xenvar_handle(xv, b, XV_BUF), 23);
		CHECK_EQ(vv_le64(b), VV_EFI_SUCCESS);
		CHECK_EQ(vv_le32(b + 8), NV_BS_RT);
		CHECK_EQ(vv_le64(b + 12), 3);
		CHECK_MEM(b + 20, "\x01\x02\x03", 3);
		CHECK(zero_from(b, 23, XV_BUF));      /* zero-filled: no request bytes left */
		/* BUFFER_TOO_SMALL: status + UINTN size, nothing else */
		memset(b + 16 + 16 + 16, 0, 8);
		memset(b, 0, XV_BUF);
		vv_put_le32(b, 1);
		vv_put_le64(b + 8, 16);
		for (int i = 0; i < 8; i++)
			vv_put_le16(b + 16 + 2 * i, (uint16_t)"Boot0001"[i]);
		memcpy(b + 32, VV_GUID_GLOBAL_VARIABLE.b, 16);
		vv_put_le64(b + 48, 2);
		CHECK_EQ(vv_xenvar_handle(xv, b, XV_BUF), 16);
		CHECK_EQ(vv_le64(b), VV_EFI_BUFFER_TOO_SMALL);
		CHECK_EQ(vv_le64(b + 8), 3);
		CHECK(zero_from(b, 16, XV_BUF));
		/* GET_NEXT: name without NUL + GUID (the mode variables come
		 * first in the store, so walk to ours) */
		{
			uint16_t name[64] = { 0 };
			vv_guid g = { { 0 } };
			uint64_t size;
			vv_status st;

			for (;;) {
				size = sizeof(name);
				st = xv_get_next(&guest, &size, name, &g);
				if (st != VV_EFI_SUCCESS || memcmp(name, u"Boot0001", 18) == 0)
					break;
			}
			CHECK_STATUS(st, VV_EFI_SUCCESS);
			CHECK_EQ(guest.last_len, 8 + 8 + 16 + 16);
			CHECK_EQ(vv_le64(b + 8), 16);
			CHECK_MEM(b + 32, VV_GUID_GLOBAL_VARIABLE.b, 16);
			CHECK(zero_from(b, 48, XV_BUF));
			/* too small: the next name's length + 2 */
			name[0] = 0;
			size = 2;
			CHECK_STATUS(xv_get_next(&guest, &size, name, &g), VV_EFI_BUFFER_TOO_SMALL);
			CHECK_EQ(size, vv_var_name_size(vv_store_first(store)));
			CHECK_EQ(guest.last_len, 16);
		}
	}
}

/* §3.2: version != 1 or an unknown command: no response, buffer as it was. */
static void
test_ignored_requests(void)
{
	static uint8_t copy[XV_BUF];
	static const struct { uint32_t version, command; enum vv_xenvar_dialect d; } cases[] = {
		{ 0, 0, VV_XENVAR_XEN }, { 2, 1, VV_XENVAR_XEN }, { 0xffffffff, 3, VV_XENVAR_AWS },
		{ 1, 6, VV_XENVAR_XEN }, { 1, 0xffffffff, VV_XENVAR_AWS },
		{ 1, VV_XENVAR_ENTER_RUNTIME, VV_XENVAR_XEN },      /* AWS only */
		{ 1, VV_XENVAR_NOTIFY_SB_FAILURE, VV_XENVAR_AWS },  /* Xen only */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setup(cases[i].d);
		for (size_t j = 0; j < XV_BUF; j++)
			guest.buf[j] = (uint8_t)(j * 7 + i);
		vv_put_le32(guest.buf, cases[i].version);
		vv_put_le32(guest.buf + 4, cases[i].command);
		memcpy(copy, guest.buf, XV_BUF);
		CHECK_EQ(vv_xenvar_handle(xv, guest.buf, XV_BUF), 0);
		CHECK(memcmp(copy, guest.buf, XV_BUF) == 0);
		CHECK_EQ(vv_xenvar_stats(xv)->ignored, 1);
		CHECK(!vv_store_at_runtime(store));
	}
	/* shorter than version + command */
	setup(VV_XENVAR_XEN);
	memset(guest.buf, 0xab, 8);
	CHECK_EQ(vv_xenvar_handle(xv, guest.buf, 7), 0);
	CHECK_EQ(guest.buf[0], 0xab);
}

/* Builds a SET by hand with the given name length field and data length
 * field; returns the request length. */
static size_t
raw_set(uint64_t name_len_field, size_t name_bytes, uint64_t data_len_field, size_t data_bytes,
	bool xen)
{
	uint8_t *b = guest.buf;
	size_t off = 0;

	memset(b, 0, XV_BUF);
	vv_put_le32(b, 1);
	vv_put_le32(b + 4, VV_XENVAR_SET_VARIABLE);
	off = 8;
	vv_put_le64(b + off, name_len_field);
	off += 8;
	for (size_t i = 0; i < name_bytes; i++)
		b[off + i] = (i & 1) ? 0 : 'A';
	off += name_bytes;
	memcpy(b + off, TEST_GUID.b, 16);
	off += 16;
	vv_put_le64(b + off, data_len_field);
	off += 8;
	memset(b + off, 'd', data_bytes);
	off += data_bytes;
	vv_put_le32(b + off, NV_BS_RT);
	off += 4;
	if (xen)
		b[off++] = 0;
	return off;
}

static void
test_hostile_set(void)
{
	for (size_t d = 0; d < 2; d++) {
		bool xen = dialects[d] == VV_XENVAR_XEN;

		setup(dialects[d]);
		CHECK_STATUS(xv_set(&guest, U("Keep"), &TEST_GUID, NV_BS_RT, "k", 1), VV_EFI_SUCCESS);
		snap();
		/* empty name: INVALID_PARAMETER (varstored) */
		raw_set(0, 0, 1, 1, xen);
		CHECK_EQ(vv_xenvar_handle(xv, guest.buf, XV_BUF), 8);
		CHECK_STATUS(vv_le64(guest.buf), VV_EFI_INVALID_PARAMETER);
		/* name over NAME_LIMIT (4096): DEVICE_ERROR */
		raw_set(4098, 4098, 1, 1, xen);
		vv_xenvar_handle(xv, guest.buf, XV_BUF);
		CHECK_STATUS(vv_le64(guest.buf), VV_EFI_DEVICE_ERROR);
		/* odd name length */
		raw_set(7, 7, 1, 1, xen);
		vv_xenvar_handle(xv, guest.buf, XV_BUF);
		CHECK_STATUS(vv_le64(guest.buf), VV_EFI_DEVICE_ERROR);
		/* a NUL inside the name */
		raw_set(4, 4, 1, 1, xen);
		vv_put_le16(guest.buf + 16, 0);
		vv_xenvar_handle(xv, guest.buf, XV_BUF);
		CHECK_STATUS(vv_le64(guest.buf), VV_EFI_DEVICE_ERROR);
		/* name length that wraps / runs past the buffer */
		raw_set(0xfffffffffffffffeULL, 4, 1, 1, xen);
		vv_xenvar_handle(xv, guest.buf, XV_BUF);
		CHECK_STATUS(vv_le64(guest.buf), VV_EFI_DEVICE_ERROR);
		/* data over DATA_LIMIT (57344): OUT_OF_RESOURCES, even if it wraps */
		raw_set(4, 4, 57345, 0, xen);
		vv_xenvar_handle(xv, guest.buf, XV_BUF);
		CHECK_STATUS(vv_le64(guest.buf), VV_EFI_OUT_OF_RESOURCES);
		raw_set(4, 4, 0xffffffffffffffffULL, 0, xen);
		vv_xenvar_handle(xv, guest.buf, XV_BUF);
		CHECK_STATUS(vv_le64(guest.buf), VV_EFI_OUT_OF_RESOURCES);
		/* data within the limit but past the end of a short buffer */
		raw_set(4, 4, 4000, 0, xen);
		vv_xenvar_handle(xv, guest.buf, 100);
		CHECK_STATUS(vv_le64(guest.buf), VV_EFI_DEVICE_ERROR);
		/* truncated after the data: attributes missing */
		{
			size_t len = raw_set(4, 4, 1, 1, xen);

			CHECK_EQ(vv_xenvar_handle(xv, guest.buf, len - (xen ? 3 : 2)), 8);
			CHECK_STATUS(vv_le64(guest.buf), VV_EFI_DEVICE_ERROR);
			/* the same request whole is accepted */
			raw_set(4, 4, 1, 1, xen);
			CHECK_EQ(vv_xenvar_handle(xv, guest.buf, len), 8);
			CHECK_STATUS(vv_le64(guest.buf), VV_EFI_SUCCESS);
			raw_set(4, 4, 0, 0, xen);         /* delete it again */
			CHECK_EQ(vv_xenvar_handle(xv, guest.buf, len - 1), 8);
			CHECK_STATUS(vv_le64(guest.buf), VV_EFI_SUCCESS);
		}
		CHECK_UNTOUCHED();
		CHECK_EQ(vv_xenvar_stats(xv)->decode_errors, 9);
	}
}

static void
test_hostile_get(void)
{
	uint8_t data[16];
	uint64_t size;
	uint32_t attr;
	static uint16_t longname[2100];

	for (size_t d = 0; d < 2; d++) {
		setup(dialects[d]);
		CHECK_STATUS(xv_set(&guest, U("Keep"), &TEST_GUID, NV_BS_RT, "k", 1), VV_EFI_SUCCESS);
		snap();
		size = sizeof(data);
		/* §4.2 empty name: NOT_FOUND; over the limit: DEVICE_ERROR */
		CHECK_STATUS(xv_get(&guest, NULL, 0, &TEST_GUID, &attr, data, &size), VV_EFI_NOT_FOUND);
		for (size_t i = 0; i < 2049; i++)
			longname[i] = 'n';
		CHECK_STATUS(xv_get(&guest, longname, 2049, &TEST_GUID, &attr, data, &size),
			     VV_EFI_DEVICE_ERROR);
		/* exactly the limit is decoded (and not found) */
		CHECK_STATUS(xv_get(&guest, longname, 2048, &TEST_GUID, &attr, data, &size),
			     VV_EFI_NOT_FOUND);
		/* a buffer_size beyond the communication buffer is capped */
		size = ~0ULL;
		CHECK_STATUS(xv_get(&guest, U("Keep"), &TEST_GUID, &attr, data, &size), VV_EFI_SUCCESS);
		CHECK_EQ(size, 1);
		/* truncated request: GUID cut short */
		xv_start(&guest, VV_XENVAR_GET_VARIABLE);
		vv_put_le64(guest.buf + 8, 8);
		CHECK_EQ(vv_xenvar_handle(xv, guest.buf, 8 + 8 + 8 + 10), 8);
		CHECK_STATUS(vv_le64(guest.buf), VV_EFI_DEVICE_ERROR);
		/* GET_NEXT of a name not in the store: INVALID_PARAMETER (§4.3) */
		{
			uint16_t name[16] = u"Nope";
			vv_guid g = TEST_GUID;
			uint64_t ns = sizeof(name);

			CHECK_STATUS(xv_get_next(&guest, &ns, name, &g), VV_EFI_INVALID_PARAMETER);
			memcpy(name, u"Keep", 10);
			g = VV_GUID_GLOBAL_VARIABLE;      /* right name, wrong GUID */
			CHECK_STATUS(xv_get_next(&guest, &ns, name, &g), VV_EFI_INVALID_PARAMETER);
		}
		/* QUERY cut short */
		xv_start(&guest, VV_XENVAR_QUERY_VARIABLE_INFO);
		CHECK_EQ(vv_xenvar_handle(xv, guest.buf, 10), 8);
		CHECK_STATUS(vv_le64(guest.buf), VV_EFI_DEVICE_ERROR);
		CHECK_UNTOUCHED();
	}
}

/* QUERY: varstored's figures (TOTAL_LIMIT, DATA_LIMIT), from the store. */
static void
test_query(void)
{
	uint64_t max = 0, rem = 0, maxvar = 0;

	for (size_t d = 0; d < 2; d++) {
		setup(dialects[d]);
		uint64_t rem0 = 0;

		CHECK_STATUS(xv_query(&guest, NV_BS_RT, &max, &rem0, &maxvar), VV_EFI_SUCCESS);
		CHECK_EQ(max, 131072);
		CHECK_EQ(maxvar, 57344);
		CHECK_STATUS(xv_set(&guest, U("Abc"), &TEST_GUID, NV_BS_RT, "xyz", 3), VV_EFI_SUCCESS);
		CHECK_STATUS(xv_query(&guest, NV_BS_RT, &max, &rem, &maxvar), VV_EFI_SUCCESS);
		/* overhead 128 + name with NUL 8 + data 3 */
		CHECK_EQ(rem, rem0 - 128 - 8 - 3);
		/* §4.5: HR is UNSUPPORTED */
		CHECK_STATUS(xv_query(&guest, NV_BS_RT | VV_ATTR_HR, &max, &rem, &maxvar),
			     VV_EFI_UNSUPPORTED);
	}
}

/* §3.2 NOTIFY_SB_FAILURE: one alert, then ACCESS_DENIED. */
static void
test_notify_sb_failure(void)
{
	setup(VV_XENVAR_XEN);
	CHECK_STATUS(xv_simple(&guest, VV_XENVAR_NOTIFY_SB_FAILURE), VV_EFI_SUCCESS);
	CHECK_EQ(sb_alerts, 1);
	CHECK_STATUS(xv_simple(&guest, VV_XENVAR_NOTIFY_SB_FAILURE), VV_EFI_ACCESS_DENIED);
	vv_store_signal(store, VV_EVENT_RESET);   /* per service, not per boot */
	CHECK_STATUS(xv_simple(&guest, VV_XENVAR_NOTIFY_SB_FAILURE), VV_EFI_ACCESS_DENIED);
	CHECK_EQ(sb_alerts, 1);
	CHECK_EQ(vv_xenvar_stats(xv)->sb_failures, 3);
	setup(VV_XENVAR_XEN);
	sb_alert_result = -1;
	CHECK_STATUS(xv_simple(&guest, VV_XENVAR_NOTIFY_SB_FAILURE), VV_EFI_DEVICE_ERROR);
	CHECK_STATUS(xv_simple(&guest, VV_XENVAR_NOTIFY_SB_FAILURE), VV_EFI_ACCESS_DENIED);
}

/* at_runtime / ENTER_RUNTIME latch until a reset. */
static void
test_runtime_latch(void)
{
	uint8_t data[8];
	uint64_t size;
	uint32_t attr;

	for (size_t d = 0; d < 2; d++) {
		setup(dialects[d]);
		CHECK_STATUS(xv_set(&guest, U("BsOnly"), &TEST_GUID, VV_ATTR_NV | VV_ATTR_BS, "b", 1),
			     VV_EFI_SUCCESS);
		CHECK(!vv_store_at_runtime(store));
		xv_exit_boot_services(&guest);
		size = sizeof(data);
		CHECK_STATUS(xv_get(&guest, U("BsOnly"), &TEST_GUID, &attr, data, &size),
			     VV_EFI_NOT_FOUND);
		CHECK(vv_store_at_runtime(store));
		CHECK(vv_store_end_of_dxe(store));
		/* the guest says "boot time" again: still runtime */
		guest.at_runtime = false;
		size = sizeof(data);
		CHECK_STATUS(xv_get(&guest, U("BsOnly"), &TEST_GUID, &attr, data, &size),
			     VV_EFI_NOT_FOUND);
		CHECK_STATUS(xv_set(&guest, U("Vol"), &TEST_GUID, BS_RT, "v", 1),
			     VV_EFI_INVALID_PARAMETER);
		/* a VM reset goes back to boot time */
		vv_store_signal(store, VV_EVENT_RESET);
		size = sizeof(data);
		CHECK_STATUS(xv_get(&guest, U("BsOnly"), &TEST_GUID, &attr, data, &size),
			     VV_EFI_SUCCESS);
		CHECK(!vv_store_at_runtime(store));
	}
}

/* MAX_VARIABLE_COUNT and the configurable limits. */
static void
test_limits(void)
{
	struct vv_xenvar_limits lim;
	uint64_t max = 0, rem = 0, maxvar = 0;
	static uint8_t big[200];

	vv_xenvar_limits_default(&lim);
	CHECK_EQ(lim.name_limit, 4096);
	CHECK_EQ(lim.data_limit, 57344);
	CHECK_EQ(lim.total_limit, 131072);
	CHECK_EQ(lim.variable_overhead, 128);
	CHECK_EQ(lim.max_count, 1024);
	/* the mode and MOR variables count too, as in varstored's list */
	setup(VV_XENVAR_XEN);
	lim.max_count = vv_store_count(store) + 2;
	lim.data_limit = 100;
	lim.name_limit = 8;
	lim.total_limit = 8192;
	setup_with(VV_XENVAR_XEN, &lim);
	CHECK_STATUS(xv_set(&guest, U("A"), &TEST_GUID, NV_BS_RT, "a", 1), VV_EFI_SUCCESS);
	CHECK_STATUS(xv_set(&guest, U("B"), &TEST_GUID, BS_RT, "b", 1), VV_EFI_SUCCESS);
	snap();
	CHECK_STATUS(xv_set(&guest, U("C"), &TEST_GUID, NV_BS_RT, "c", 1), VV_EFI_OUT_OF_RESOURCES);
	CHECK_STATUS(xv_set(&guest, U("Named"), &TEST_GUID, NV_BS_RT, "c", 1), VV_EFI_DEVICE_ERROR);
	CHECK_STATUS(xv_set(&guest, U("A"), &TEST_GUID, NV_BS_RT, big, 101),
		     VV_EFI_OUT_OF_RESOURCES);
	CHECK_UNTOUCHED();
	/* updates and deletes of existing variables go on */
	CHECK_STATUS(xv_set(&guest, U("A"), &TEST_GUID, NV_BS_RT, "z", 1), VV_EFI_SUCCESS);
	CHECK_STATUS(xv_set(&guest, U("B"), &TEST_GUID, 0, NULL, 0), VV_EFI_SUCCESS);
	CHECK_STATUS(xv_set(&guest, U("C"), &TEST_GUID, NV_BS_RT, "c", 1), VV_EFI_SUCCESS);
	CHECK_STATUS(xv_query(&guest, NV_BS_RT, &max, &rem, &maxvar), VV_EFI_SUCCESS);
	CHECK_EQ(max, 8192);
	CHECK_EQ(maxvar, 100);
}

/*
 * varstored's suite behaviours (§4.2-§4.4, §8.2) through both dialects:
 * attribute checks, read-only mode variables, delete rules, append,
 * runtime visibility, enumeration end.
 */
static void
test_varstored_behaviours(void)
{
	uint8_t data[64];
	uint64_t size;
	uint32_t attr;

	for (size_t d = 0; d < 2; d++) {
		setup(dialects[d]);
		snap();
		/* HR -> INVALID_PARAMETER; AW -> UNSUPPORTED (edk2 too) */
		CHECK_STATUS(xv_set(&guest, U("H"), &TEST_GUID, NV_BS_RT | VV_ATTR_HR, "h", 1),
			     VV_EFI_INVALID_PARAMETER);
		CHECK_STATUS(xv_set(&guest, U("W"), &TEST_GUID, NV_BS_RT | VV_ATTR_AW, "w", 1),
			     VV_EFI_UNSUPPORTED);
		/* RT without BS -> INVALID_PARAMETER */
		CHECK_STATUS(xv_set(&guest, U("R"), &TEST_GUID, VV_ATTR_NV | VV_ATTR_RT, "r", 1),
			     VV_EFI_INVALID_PARAMETER);
		/* new variable with no data or no access bits: NOT_FOUND */
		CHECK_STATUS(xv_set(&guest, U("N"), &TEST_GUID, NV_BS_RT, NULL, 0), VV_EFI_NOT_FOUND);
		CHECK_STATUS(xv_set(&guest, U("N"), &TEST_GUID, 0, "n", 1), VV_EFI_NOT_FOUND);
		/* read-only mode variables */
		CHECK_STATUS(xv_set(&guest, U("SecureBoot"), &VV_GUID_GLOBAL_VARIABLE, BS_RT, "\1", 1),
			     VV_EFI_WRITE_PROTECTED);
		CHECK_STATUS(xv_set(&guest, U("SetupMode"), &VV_GUID_GLOBAL_VARIABLE, BS_RT, "\0", 1),
			     VV_EFI_WRITE_PROTECTED);
		/* PK must be NV|BS|RT|AT */
		CHECK_STATUS(xv_set(&guest, U("PK"), &VV_GUID_GLOBAL_VARIABLE, NV_BS_RT, "x", 1),
			     VV_EFI_INVALID_PARAMETER);
		CHECK_UNTOUCHED();
		/* create, attributes must match on update, append, delete */
		CHECK_STATUS(xv_set(&guest, U("V"), &TEST_GUID, NV_BS_RT, "ab", 2), VV_EFI_SUCCESS);
		CHECK_STATUS(xv_set(&guest, U("V"), &TEST_GUID, BS_RT, "cd", 2),
			     VV_EFI_INVALID_PARAMETER);
		CHECK_STATUS(xv_set(&guest, U("V"), &TEST_GUID, NV_BS_RT | VV_ATTR_APPEND, "cd", 2),
			     VV_EFI_SUCCESS);
		size = sizeof(data);
		CHECK_STATUS(xv_get(&guest, U("V"), &TEST_GUID, &attr, data, &size), VV_EFI_SUCCESS);
		CHECK_EQ(size, 4);
		CHECK_MEM(data, "abcd", 4);
		CHECK_EQ(attr, NV_BS_RT);                 /* APPEND never returned */
		/* a zero-length append is not a delete */
		CHECK_STATUS(xv_set(&guest, U("V"), &TEST_GUID, NV_BS_RT | VV_ATTR_APPEND, NULL, 0),
			     VV_EFI_SUCCESS);
		size = sizeof(data);
		CHECK_STATUS(xv_get(&guest, U("V"), &TEST_GUID, &attr, data, &size), VV_EFI_SUCCESS);
		CHECK_EQ(size, 4);
		/* delete by clearing the attributes */
		CHECK_STATUS(xv_set(&guest, U("V"), &TEST_GUID, 0, "x", 1), VV_EFI_SUCCESS);
		size = sizeof(data);
		CHECK_STATUS(xv_get(&guest, U("V"), &TEST_GUID, &attr, data, &size), VV_EFI_NOT_FOUND);
		/* at runtime: BS-only variables invisible, enumeration skips them,
		 * volatile creation refused, NV|BS|RT writes go on */
		CHECK_STATUS(xv_set(&guest, U("Bs"), &TEST_GUID, VV_ATTR_NV | VV_ATTR_BS, "b", 1),
			     VV_EFI_SUCCESS);
		CHECK_STATUS(xv_set(&guest, U("Rt"), &TEST_GUID, NV_BS_RT, "r", 1), VV_EFI_SUCCESS);
		xv_exit_boot_services(&guest);
		/* varstored: INVALID_PARAMETER; edk2 and vmvars: WRITE_PROTECTED
		 * (docs/protocols.md, differences) */
		CHECK_STATUS(xv_set(&guest, U("Bs"), &TEST_GUID, VV_ATTR_NV | VV_ATTR_BS, "c", 1),
			     VV_EFI_WRITE_PROTECTED);
		CHECK_STATUS(xv_set(&guest, U("Rt"), &TEST_GUID, NV_BS_RT, "s", 1), VV_EFI_SUCCESS);
		{
			uint16_t name[64] = { 0 };
			vv_guid g = { { 0 } };
			uint64_t ns;
			int n = 0;
			vv_status st;

			for (;;) {
				ns = sizeof(name);
				st = xv_get_next(&guest, &ns, name, &g);
				if (st != VV_EFI_SUCCESS)
					break;
				CHECK(!(name[0] == 'B' && name[1] == 's' && name[2] == 0));
				n++;
			}
			CHECK_STATUS(st, VV_EFI_NOT_FOUND);
			CHECK(n >= 1);
		}
	}
}

/*
 * Store rules the MM tests check (tests/test_store.c, test_varcheck.c),
 * through both dialects: delete of a missing variable, the size probe,
 * quotas and their release, VarCheck of UEFI-defined variables from
 * runtime on (no EndOfDxe reaches the store through these protocols), and
 * QUERY's phase rule.
 */
static void
test_store_rules(void)
{
	static uint8_t big[57344];
	uint8_t data[8];
	uint64_t size, max = 0, rem = 0, maxvar = 0;
	uint32_t attr;

	for (size_t d = 0; d < 2; d++) {
		int made = 0;
		vv_status st = VV_EFI_SUCCESS;

		setup(dialects[d]);
		CHECK_STATUS(xv_set(&guest, U("Gone"), &TEST_GUID, NV_BS_RT, NULL, 0),
			     VV_EFI_NOT_FOUND);
		CHECK_STATUS(xv_set(&guest, U("Gone"), &TEST_GUID, 0, NULL, 0), VV_EFI_NOT_FOUND);
		CHECK_STATUS(xv_set(&guest, U("Probe"), &TEST_GUID, NV_BS_RT, "abcde", 5),
			     VV_EFI_SUCCESS);
		size = 0;
		CHECK_STATUS(xv_get(&guest, U("Probe"), &TEST_GUID, &attr, data, &size),
			     VV_EFI_BUFFER_TOO_SMALL);
		CHECK_EQ(size, 5);
		/* NV quota: 131072 bytes; fill it with 40 KiB values */
		for (int i = 0; i < 8 && st == VV_EFI_SUCCESS; i++) {
			uint16_t name[3] = { 'Q', (uint16_t)('0' + i), 0 };

			st = xv_set(&guest, name, 2, &TEST_GUID, NV_BS_RT, big, 40000);
			made += st == VV_EFI_SUCCESS;
		}
		CHECK_STATUS(st, VV_EFI_OUT_OF_RESOURCES);
		CHECK_EQ(made, 3);
		snap();
		CHECK_STATUS(xv_set(&guest, U("Q9"), &TEST_GUID, NV_BS_RT, big, 40000),
			     VV_EFI_OUT_OF_RESOURCES);
		CHECK_UNTOUCHED();
		CHECK_STATUS(xv_set(&guest, U("Q0"), &TEST_GUID, 0, NULL, 0), VV_EFI_SUCCESS);
		CHECK_STATUS(xv_set(&guest, U("Q9"), &TEST_GUID, NV_BS_RT, big, 40000),
			     VV_EFI_SUCCESS);
		/* the volatile class has its own 131072 */
		CHECK_STATUS(xv_set(&guest, U("V0"), &TEST_GUID, BS_RT, big, 40000), VV_EFI_SUCCESS);
		/* VarCheck: BootOrder must be a whole number of UINT16s -- at boot
		 * time not yet enforced (before EndOfDxe, as through MM) ... */
		CHECK_STATUS(xv_set(&guest, U("BootOrder"), &VV_GUID_GLOBAL_VARIABLE, NV_BS_RT,
				    "\1\0\2", 3), VV_EFI_SUCCESS);
		xv_exit_boot_services(&guest);
		/* ... at runtime it is */
		CHECK_STATUS(xv_set(&guest, U("BootOrder"), &VV_GUID_GLOBAL_VARIABLE, NV_BS_RT,
				    "\1\0\2", 3), VV_EFI_INVALID_PARAMETER);
		CHECK_STATUS(xv_set(&guest, U("BootOrder"), &VV_GUID_GLOBAL_VARIABLE, NV_BS_RT,
				    "\1\0", 2), VV_EFI_SUCCESS);
		CHECK_STATUS(xv_query(&guest, VV_ATTR_NV | VV_ATTR_BS, &max, &rem, &maxvar),
			     VV_EFI_INVALID_PARAMETER);
		CHECK_STATUS(xv_query(&guest, NV_BS_RT, &max, &rem, &maxvar), VV_EFI_SUCCESS);
	}
}

/* A PK value: an EFI_CERT_X509 list holding one fresh self-signed P-256
 * certificate (made in-process; only the host enrolls it here). */
static uint8_t *
make_pk_esl(size_t *size)
{
	static const uint8_t cert_x509[16] = { 0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a,
					       0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72 };
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	unsigned char *der = NULL;
	uint8_t *esl;
	int len;

	REQUIRE(key != NULL && x != NULL);
	REQUIRE(X509_set_version(x, 2) == 1);
	REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(x), 1) == 1);
	REQUIRE(X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL);
	REQUIRE(X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365) != NULL);
	REQUIRE(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
					   (const unsigned char *)"xen PK", -1, -1, 0) == 1);
	REQUIRE(X509_set_issuer_name(x, X509_get_subject_name(x)) == 1);
	REQUIRE(X509_set_pubkey(x, key) == 1);
	REQUIRE(X509_sign(x, key, EVP_sha256()) > 0);
	len = i2d_X509(x, &der);
	REQUIRE(len > 0);
	*size = 28 + 16 + (size_t)len;
	esl = calloc(1, *size);
	REQUIRE(esl != NULL);
	memcpy(esl, cert_x509, 16);
	vv_put_le32(esl + 16, (uint32_t)*size);
	vv_put_le32(esl + 20, 0);
	vv_put_le32(esl + 24, 16 + (uint32_t)len);
	memset(esl + 28, 0x5a, 16);                     /* SignatureOwner */
	memcpy(esl + 44, der, (size_t)len);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(key);
	return esl;
}

/*
 * A Xen guest is at boot time until it says otherwise, and an OS that
 * never sends at_runtime = 1 keeps it there.  The Secure Boot switches
 * edk2 leaves to boot-time code must not be the OS's then: without a
 * signature, AuditMode = 1 would clear PK (user -> audit, verification
 * off at the next boot, whatever --force-secure-boot says), SecureBootEnable
 * = 0 and CustomMode = 1 would turn verification off.  In the Xen dialect
 * they are WRITE_PROTECTED (varstored has AuditMode and DeployedMode
 * read-only, §4.4) and change nothing; the AWS firmware closes boot time
 * itself with ENTER_RUNTIME, so there the boot-time rules stand.
 */
static void
test_xen_boot_time_sb_switches(void)
{
	static const uint8_t one = 1, zero = 0;
	size_t esl_size;
	uint8_t *esl = make_pk_esl(&esl_size);

	setup(VV_XENVAR_XEN);
	CHECK_STATUS(vv_secureboot_enroll(sb, VV_SB_PK, esl, esl_size, false), VV_EFI_SUCCESS);
	REQUIRE(vv_secureboot_mode(sb) == VV_SB_USER && vv_secureboot_enforcing(sb));
	guest.at_runtime = false;          /* the OS, never having said "runtime" */
	snap();
	CHECK_STATUS(xv_set(&guest, U("AuditMode"), &VV_GUID_GLOBAL_VARIABLE, BS_RT, &one, 1),
		     VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(xv_set(&guest, U("DeployedMode"), &VV_GUID_GLOBAL_VARIABLE, BS_RT, &one, 1),
		     VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(xv_set(&guest, U("SecureBootEnable"), &VV_GUID_SECURE_BOOT_ENABLE,
			    VV_ATTR_NV | VV_ATTR_BS, &zero, 1), VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(xv_set(&guest, U("SecureBootEnable"), &VV_GUID_SECURE_BOOT_ENABLE,
			    VV_ATTR_NV | VV_ATTR_BS, NULL, 0), VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(xv_set(&guest, U("CustomMode"), &VV_GUID_CUSTOM_MODE,
			    VV_ATTR_NV | VV_ATTR_BS, &one, 1), VV_EFI_WRITE_PROTECTED);
	CHECK_UNTOUCHED();
	CHECK(!vv_store_at_runtime(store));
	CHECK(vv_secureboot_mode(sb) == VV_SB_USER);
	vv_store_signal(store, VV_EVENT_RESET);
	CHECK(vv_secureboot_mode(sb) == VV_SB_USER && vv_secureboot_enforcing(sb));
	/* other boot-time writes are unchanged */
	CHECK_STATUS(xv_set(&guest, U("BsOnly"), &TEST_GUID, VV_ATTR_NV | VV_ATTR_BS, "b", 1),
		     VV_EFI_SUCCESS);

	/* AWS: boot time ends with the firmware's ENTER_RUNTIME; before it
	 * the switch is the firmware's, as through MM. */
	setup(VV_XENVAR_AWS);
	CHECK_STATUS(vv_secureboot_enroll(sb, VV_SB_PK, esl, esl_size, false), VV_EFI_SUCCESS);
	CHECK_STATUS(xv_set(&guest, U("DeployedMode"), &VV_GUID_GLOBAL_VARIABLE, BS_RT, &one, 1),
		     VV_EFI_SUCCESS);
	CHECK(vv_secureboot_mode(sb) == VV_SB_DEPLOYED);
	xv_exit_boot_services(&guest);
	CHECK_STATUS(xv_set(&guest, U("AuditMode"), &VV_GUID_GLOBAL_VARIABLE, BS_RT, &one, 1),
		     VV_EFI_WRITE_PROTECTED);
	CHECK(vv_secureboot_mode(sb) == VV_SB_DEPLOYED);
	free(esl);
}

static const struct vv_test tests[] = {
	TEST(test_wire_layout),
	TEST(test_ignored_requests),
	TEST(test_hostile_set),
	TEST(test_hostile_get),
	TEST(test_query),
	TEST(test_notify_sb_failure),
	TEST(test_runtime_latch),
	TEST(test_limits),
	TEST(test_varstored_behaviours),
	TEST(test_store_rules),
	TEST(test_xen_boot_time_sb_switches),
};

VV_TEST_MAIN(tests)
