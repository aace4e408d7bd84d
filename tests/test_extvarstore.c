/*
 * tests/test_extvarstore.c -- the doorbell device (vmvars/extvarstore.h)
 * driven through its register as the ExtVarStore and XenVariable guest
 * drivers drive it (reference peer-services.md §2.3, §9.3, §9.4): the
 * feature word, the doorbell with the buffer's page number, the TRANSFER
 * stream with its CRC checked by the guest side (zlib's CRC-32, not the
 * device's), and every hostile case of issue #18 -- wrong kick length, a
 * kick without data, an overflowing stream, a page outside guest memory,
 * a buffer the guest changes while the request runs -- each with the
 * store compared before and after.
 */
#include "harness.h"
#include "store_util.h"
#include "extvar_guest.h"

static struct vv_store *store;
static struct vv_xenvar *xv;
static struct ev_vm vm;
static struct xv_guest guest;

static void
teardown(void)
{
	vv_extvar_device_free(vm.dev);
	vv_xenvar_free(xv);
	vv_store_free(store);
	free(vm.ram);
	memset(&vm, 0, sizeof(vm));
	xv = NULL;
	store = NULL;
}

static void
setup(bool feature_word, uint32_t features, bool transfer)
{
	static bool registered;
	struct vv_xenvar_config xc = { 0 };
	struct vv_extvar_config dc = { feature_word, features };
	struct vv_guest_memory mem;
	struct vv_limits sl;

	if (!registered)
		registered = atexit(teardown) == 0;
	teardown();
	xc.dialect = feature_word ? VV_XENVAR_AWS : VV_XENVAR_XEN;
	vv_xenvar_limits_default(&xc.limits);
	vv_xenvar_store_limits(&xc.limits, &sl);
	store = vv_store_new(&sl);
	xv = vv_xenvar_new(store, &xc);
	ev_vm_init(&vm);
	mem = ev_memory(&vm);
	vm.dev = vv_extvar_device_new_engine(xv, store, &mem, &dc);
	REQUIRE(store != NULL && xv != NULL && vm.ram != NULL && vm.dev != NULL);
	memset(&guest, 0, sizeof(guest));
	guest.dialect = xc.dialect;
	guest.call = transfer ? ev_call_transfer : ev_call_doorbell;
	guest.ctx = &vm;
}

static uint8_t img_a[1 << 18], img_b[1 << 18];
static size_t img_a_len;

static void
snap(void)
{
	img_a_len = store_image(store, img_a, sizeof(img_a));
	REQUIRE(img_a_len != SIZE_MAX);
}

#define CHECK_UNTOUCHED() do { \
	size_t n_ = store_image(store, img_b, sizeof(img_b)); \
	REQUIRE(n_ != SIZE_MAX); \
	CHECK_EQ(n_, img_a_len); \
	CHECK(memcmp(img_a, img_b, n_) == 0); \
	} while (0)

static void
test_feature_word(void)
{
	setup(true, VV_EXTVAR_FEATURE_CRC32 | VV_EXTVAR_FEATURE_TRANSFER, false);
	CHECK_EQ(vv_extvar_device_read(vm.dev, 0, 4), 0x3EC);
	CHECK_EQ(vv_extvar_device_read(vm.dev, 4, 4), 0xffffffffu);
	CHECK_EQ(vv_extvar_device_read(vm.dev, 0, 2), 0xffff);
	setup(true, 0, false);
	CHECK_EQ(vv_extvar_device_read(vm.dev, 0, 4), 0xEC);
	setup(true, 0xff, false);                 /* unknown bits not offered */
	CHECK_EQ(vv_extvar_device_read(vm.dev, 0, 4), 0x3EC);
	setup(false, VV_EXTVAR_FEATURE_TRANSFER, false);    /* Xen: no feature word */
	CHECK_EQ(vv_extvar_device_read(vm.dev, 0, 4), 0xffffffffu);
}

static void
test_doorbell_round_trip(void)
{
	static const bool fw[] = { true, false };

	for (size_t i = 0; i < 2; i++) {
		uint8_t data[8];
		uint64_t size = sizeof(data);
		uint32_t attr;

		setup(fw[i], fw[i] ? VV_EXTVAR_FEATURE_CRC32 : 0, false);
		CHECK_STATUS(xv_set(&guest, U("Var"), &TEST_GUID, NV_BS_RT, "abc", 3),
			     VV_EFI_SUCCESS);
		CHECK_EQ(vm.reads, 1);                /* one copy of the request */
		CHECK_STATUS(xv_get(&guest, U("Var"), &TEST_GUID, &attr, data, &size),
			     VV_EFI_SUCCESS);
		CHECK_EQ(size, 3);
		CHECK_MEM(data, "abc", 3);
		CHECK_EQ(vm.reads, 2);
		/* the CRC32 trailer right after the 23-byte response (AWS) */
		if (fw[i])
			CHECK_EQ(vv_le32(vm.ram + EV_BUF_GPA + 23),
				 (uint32_t)crc32(0, vm.ram + EV_BUF_GPA, 23));
		CHECK_EQ(vv_extvar_device_stats(vm.dev)->doorbells, 2);
	}
}

static void
put_query(size_t gpa)
{
	vv_put_le32(vm.ram + gpa, 1);
	vv_put_le32(vm.ram + gpa + 4, VV_XENVAR_QUERY_VARIABLE_INFO);
	vv_put_le32(vm.ram + gpa + 8, NV_BS_RT);
}

/* Pages outside guest memory (and addresses that would wrap): nothing
 * runs, nothing is written. */
static void
test_doorbell_outside_memory(void)
{
	setup(true, VV_EXTVAR_FEATURE_CRC32, false);
	CHECK_STATUS(xv_set(&guest, U("Var"), &TEST_GUID, NV_BS_RT, "abc", 3), VV_EFI_SUCCESS);
	snap();
	/* a valid QUERY placed at the end of RAM, its 16 pages running past it */
	put_query(EV_RAM_SIZE - 4096);
	vm.writes = 0;
	vv_extvar_device_write(vm.dev, 0, (EV_RAM_SIZE - 4096) >> 12, 4);
	vv_extvar_device_write(vm.dev, 0, 0xfffff, 4);
	vv_extvar_device_write(vm.dev, 0, 0xffffffffffffffffULL, 8);   /* ARM, wraps */
	vv_extvar_device_write(vm.dev, 0, 0x000fffffffffffffULL, 8);
	CHECK_EQ(vm.writes, 0);
	CHECK_EQ(vv_extvar_device_stats(vm.dev)->bad_doorbells, 4);
	CHECK_UNTOUCHED();
	/* the ARM 64-bit doorbell at a good page works */
	put_query(EV_BUF_GPA + 4096 * 16);
	vv_extvar_device_write(vm.dev, 0, (EV_BUF_GPA >> 12) + 16, 8);
	CHECK_STATUS(vv_le64(vm.ram + EV_BUF_GPA + 4096 * 16), VV_EFI_SUCCESS);
	CHECK_EQ(vv_le32(vm.ram + EV_BUF_GPA + 4096 * 16 + 32),
		 (uint32_t)crc32(0, vm.ram + EV_BUF_GPA + 4096 * 16, 32));
	CHECK_EQ(vm.writes, 2);                   /* response + CRC trailer */
}

/* The guest rewrites the buffer while the request runs (another vCPU):
 * the engine sees only the copy made at the doorbell. */
static struct vv_extvar_device *race_dev;

static size_t
racing_handle(void *opaque, uint8_t *buf, size_t size)
{
	/* the value's bytes in guest memory change under the request */
	memset(vm.ram + EV_BUF_GPA + 8, 0x5a, 4096);
	return vv_xenvar_handle(opaque, buf, size);
}

static void
test_buffer_changed_during_request(void)
{
	struct vv_extvar_handler h = { racing_handle, NULL, NULL };
	struct vv_extvar_config dc = { true, 0 };
	struct vv_guest_memory mem;
	uint8_t data[8];
	uint64_t size = sizeof(data);
	uint32_t attr;

	setup(true, 0, false);
	mem = ev_memory(&vm);
	h.opaque = xv;
	race_dev = vv_extvar_device_new(&h, &mem, &dc);
	REQUIRE(race_dev != NULL);
	vv_extvar_device_free(vm.dev);
	vm.dev = race_dev;
	vm.reads = 0;
	CHECK_STATUS(xv_set(&guest, U("Var"), &TEST_GUID, NV_BS_RT, "abc", 3), VV_EFI_SUCCESS);
	CHECK_EQ(vm.reads, 1);
	size = sizeof(data);
	CHECK_STATUS(vv_store_get(store, U("Var"), &TEST_GUID, &attr, data, &size),
		     VV_EFI_SUCCESS);
	CHECK_EQ(size, 3);
	CHECK_MEM(data, "abc", 3);
}

static void
test_transfer_round_trip(void)
{
	uint8_t data[64];
	uint64_t size;
	uint32_t attr;
	static const uint32_t feats[] = {
		VV_EXTVAR_FEATURE_CRC32 | VV_EXTVAR_FEATURE_TRANSFER, VV_EXTVAR_FEATURE_TRANSFER,
	};

	for (size_t i = 0; i < 2; i++) {
		setup(true, feats[i], true);
		CHECK_STATUS(xv_set(&guest, U("Var"), &TEST_GUID, NV_BS_RT, "hello", 5),
			     VV_EFI_SUCCESS);
		CHECK(vm.crc_ok);
		CHECK_EQ(vm.attempts, 1);
		/* SET response: 8 bytes (+ 4 trailer), so size 8 + 4 (+ 4) */
		CHECK_EQ(vm.last_size, i == 0 ? 16 : 12);
		size = sizeof(data);
		CHECK_STATUS(xv_get(&guest, U("Var"), &TEST_GUID, &attr, data, &size),
			     VV_EFI_SUCCESS);
		CHECK(vm.crc_ok);
		CHECK_EQ(size, 5);
		CHECK_MEM(data, "hello", 5);
		CHECK_EQ(attr, NV_BS_RT);
		/* GET response 25 bytes (+4), padded to 4, + 4 for the CRC word */
		CHECK_EQ(vm.last_size, i == 0 ? 36 : 32);
		CHECK_EQ(vv_extvar_device_stats(vm.dev)->transfers, 2);
		CHECK_EQ(vm.reads, 0);                /* no guest memory involved */
		CHECK_EQ(vm.writes, 0);
		/* idle again: the feature word */
		CHECK_EQ(vv_extvar_device_read(vm.dev, 0, 4), 0xEC | feats[i] << 8);
	}
}

/* The words come last first: check the order by hand on a QUERY reply. */
static void
test_transfer_word_order(void)
{
	uint8_t req[12], resp[40];
	uint32_t size, crc;

	setup(true, VV_EXTVAR_FEATURE_TRANSFER, true);
	vv_put_le32(req, 1);
	vv_put_le32(req + 4, VV_XENVAR_QUERY_VARIABLE_INFO);
	vv_put_le32(req + 8, NV_BS_RT);
	for (size_t i = 0; i < 12; i += 2)
		vv_extvar_device_write(vm.dev, 0, VV_EXTVAR_STREAM_MAGIC | (uint32_t)req[i] << 16 |
				       (uint32_t)req[i + 1] << 24, 4);
	vv_extvar_device_write(vm.dev, 0, VV_EXTVAR_KICK_MAGIC | 12u << 16, 4);
	size = (uint32_t)vv_extvar_device_read(vm.dev, 0, 4);
	CHECK_EQ(size, 36);
	crc = (uint32_t)vv_extvar_device_read(vm.dev, 0, 4);
	for (int w = 7; w >= 0; w--)
		vv_put_le32(resp + 4 * w, (uint32_t)vv_extvar_device_read(vm.dev, 0, 4));
	CHECK_EQ(crc, (uint32_t)crc32(0, resp, 32));
	CHECK_STATUS(vv_le64(resp), VV_EFI_SUCCESS);
	CHECK_EQ(vv_le64(resp + 8), 131072);
	CHECK_EQ(vv_le64(resp + 24), 57344);
}

static void
stream(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i += 2)
		vv_extvar_device_write(vm.dev, 0, VV_EXTVAR_STREAM_MAGIC | (uint32_t)b[i] << 16 |
				       (uint32_t)(i + 1 < n ? b[i + 1] : 0) << 24, 4);
}

static void
test_transfer_hostile(void)
{
	uint8_t req[64];
	size_t n;

	setup(true, VV_EXTVAR_FEATURE_CRC32 | VV_EXTVAR_FEATURE_TRANSFER, true);
	/* a valid SET request, by hand */
	CHECK_STATUS(xv_set(&guest, U("Keep"), &TEST_GUID, NV_BS_RT, "k", 1), VV_EFI_SUCCESS);
	snap();
	memset(req, 0, sizeof(req));
	vv_put_le32(req, 1);
	vv_put_le32(req + 4, VV_XENVAR_SET_VARIABLE);
	vv_put_le64(req + 8, 2);
	vv_put_le16(req + 16, 'Z');
	memcpy(req + 18, TEST_GUID.b, 16);
	vv_put_le64(req + 34, 1);
	req[42] = 'z';
	vv_put_le32(req + 43, NV_BS_RT);
	n = 47;
	/* wrong length (short, long): size 0, nothing runs */
	stream(req, n);
	vv_extvar_device_write(vm.dev, 0, VV_EXTVAR_KICK_MAGIC | 40u << 16, 4);
	CHECK_EQ(vv_extvar_device_read(vm.dev, 0, 4), 0);
	CHECK_EQ(vv_extvar_device_read(vm.dev, 0, 4), 0x3EC);    /* idle again */
	stream(req, n);
	vv_extvar_device_write(vm.dev, 0, VV_EXTVAR_KICK_MAGIC | 50u << 16, 4);
	CHECK_EQ(vv_extvar_device_read(vm.dev, 0, 4), 0);
	/* a kick without data */
	vv_extvar_device_write(vm.dev, 0, VV_EXTVAR_KICK_MAGIC | 48u << 16, 4);
	CHECK_EQ(vv_extvar_device_read(vm.dev, 0, 4), 0);
	vv_extvar_device_write(vm.dev, 0, VV_EXTVAR_KICK_MAGIC, 4);
	CHECK_EQ(vv_extvar_device_read(vm.dev, 0, 4), 0);
	/* more than 64 KiB streamed */
	for (size_t i = 0; i < 32769; i++)
		vv_extvar_device_write(vm.dev, 0, VV_EXTVAR_STREAM_MAGIC | 0x01010000u, 4);
	vv_extvar_device_write(vm.dev, 0, VV_EXTVAR_KICK_MAGIC | 0xfffeu << 16, 4);
	CHECK_EQ(vv_extvar_device_read(vm.dev, 0, 4), 0);
	/* the reset kick drops a half-streamed request */
	stream(req, 20);
	vv_extvar_device_write(vm.dev, 0, VV_EXTVAR_KICK_MAGIC | 0xffffu << 16, 4);
	stream(req + 20, n - 20);
	vv_extvar_device_write(vm.dev, 0, VV_EXTVAR_KICK_MAGIC | (uint32_t)(n - 20 + 1) << 16, 4);
	CHECK_EQ(vv_extvar_device_read(vm.dev, 0, 4), 0);     /* garbage: no response */
	CHECK_EQ(vv_extvar_device_stats(vm.dev)->bad_kicks, 5);
	CHECK_EQ(vv_extvar_device_stats(vm.dev)->resets, 1);
	CHECK_UNTOUCHED();
	/* the odd-length request itself, kicked with its exact length, runs */
	stream(req, n);
	vv_extvar_device_write(vm.dev, 0, VV_EXTVAR_KICK_MAGIC | (uint32_t)n << 16, 4);
	CHECK_EQ(vv_extvar_device_read(vm.dev, 0, 4), 16);
	CHECK(vv_store_find(store, U("Z"), &TEST_GUID) != NULL);
}

/* CRC checked by the guest: a response stream broken by a reset kick in
 * the middle fails the guest's check, and the retry succeeds. */
static size_t
interrupted_transfer(void *ctx, uint8_t *buf, size_t size, size_t req_len)
{
	static bool done;
	struct ev_vm *v = ctx;

	if (!done) {
		uint8_t tmp[XV_BUF];
		uint32_t out, crc;

		done = true;
		stream(buf, req_len);
		vv_extvar_device_write(v->dev, 0, VV_EXTVAR_KICK_MAGIC |
				       (uint32_t)((req_len + 1) & ~1u) << 16, 4);
		out = (uint32_t)vv_extvar_device_read(v->dev, 0, 4);
		crc = (uint32_t)vv_extvar_device_read(v->dev, 0, 4);
		memset(tmp, 0, sizeof(tmp));
		vv_put_le32(tmp + out - 8, (uint32_t)vv_extvar_device_read(v->dev, 0, 4));
		vv_extvar_device_reset(v->dev);    /* e.g. a live update */
		for (uint32_t i = out - 8; i > 0; i -= 4)
			vv_put_le32(tmp + i - 4, (uint32_t)vv_extvar_device_read(v->dev, 0, 4));
		CHECK(crc32(0, tmp, out - 4) != crc);
	}
	return ev_call_transfer(ctx, buf, size, req_len);
}

static void
test_transfer_crc_both_ways(void)
{
	uint64_t max = 0, rem = 0, maxvar = 0;

	setup(true, VV_EXTVAR_FEATURE_CRC32 | VV_EXTVAR_FEATURE_TRANSFER, true);
	guest.call = interrupted_transfer;
	CHECK_STATUS(xv_query(&guest, NV_BS_RT, &max, &rem, &maxvar), VV_EFI_SUCCESS);
	CHECK(vm.crc_ok);
	CHECK_EQ(max, 131072);
	/* and the device's CRC matches an independent CRC-32 on every length */
	for (size_t len = 0; len < 300; len++) {
		uint8_t b[300];

		for (size_t i = 0; i < len; i++)
			b[i] = (uint8_t)(i * 31 + len);
		CHECK_EQ(vv_extvar_crc32(b, len), (uint32_t)crc32(0, b, len));
	}
}

/* Xen doorbell: 32-bit writes only, every value a page number. */
static void
test_xen_doorbell(void)
{
	uint8_t data[8];
	uint64_t size = sizeof(data);
	uint32_t attr;

	setup(false, 0, false);
	guest.at_runtime = false;
	CHECK_STATUS(xv_set(&guest, U("Var"), &TEST_GUID, NV_BS_RT, "x", 1), VV_EFI_SUCCESS);
	snap();
	vm.reads = 0;
	vv_extvar_device_write(vm.dev, 0, EV_BUF_GPA >> 12, 8);   /* ignored */
	vv_extvar_device_write(vm.dev, 0, EV_BUF_GPA >> 12, 2);   /* ignored */
	CHECK_EQ(vm.reads, 0);
	/* TRANSFER magics are plain page numbers here (outside RAM) */
	vv_extvar_device_write(vm.dev, 0, VV_EXTVAR_KICK_MAGIC | 8u << 16, 4);
	CHECK_EQ(vv_extvar_device_stats(vm.dev)->bad_doorbells, 1);
	CHECK_UNTOUCHED();
	CHECK_STATUS(xv_get(&guest, U("Var"), &TEST_GUID, &attr, data, &size), VV_EFI_SUCCESS);
}

static void
test_reset(void)
{
	uint8_t data[8];
	uint64_t size = sizeof(data);
	uint32_t attr;

	setup(true, VV_EXTVAR_FEATURE_TRANSFER, true);
	CHECK_STATUS(xv_set(&guest, U("Vol"), &TEST_GUID, BS_RT, "v", 1), VV_EFI_SUCCESS);
	CHECK_STATUS(xv_set(&guest, U("Nv"), &TEST_GUID, NV_BS_RT, "n", 1), VV_EFI_SUCCESS);
	xv_exit_boot_services(&guest);
	CHECK(vv_store_at_runtime(store));
	stream((const uint8_t *)"abcd", 4);
	vv_extvar_device_reset(vm.dev);
	CHECK(!vv_store_at_runtime(store));
	CHECK(vv_store_find(store, U("Vol"), &TEST_GUID) == NULL);
	CHECK(vv_store_find(store, U("Nv"), &TEST_GUID) != NULL);
	CHECK_EQ(vv_extvar_device_read(vm.dev, 0, 4), 0x2EC);
	CHECK_STATUS(xv_get(&guest, U("Nv"), &TEST_GUID, &attr, data, &size), VV_EFI_SUCCESS);
}

static const struct vv_test tests[] = {
	TEST(test_feature_word),
	TEST(test_doorbell_round_trip),
	TEST(test_doorbell_outside_memory),
	TEST(test_buffer_changed_during_request),
	TEST(test_transfer_round_trip),
	TEST(test_transfer_word_order),
	TEST(test_transfer_hostile),
	TEST(test_transfer_crc_both_ways),
	TEST(test_xen_doorbell),
	TEST(test_reset),
};

VV_TEST_MAIN(tests)
