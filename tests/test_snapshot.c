/*
 * tests/test_snapshot.c -- the service-state snapshot (vmvars/snapshot.h,
 * docs/snapshot.md): a service driven into a late-boot state (policies,
 * properties, volatile variables, a keyed MORLock, ExitBootServices) is
 * saved and loaded into a second service on the same NV content, which
 * must then answer exactly as the first; and every malformed or unfitting
 * snapshot is refused with its reason, changing nothing.
 */
#include "harness.h"
#include "store_util.h"

#include <zlib.h>

#include <vmvars/snapshot.h>

#define POLICY_REV 0x00010000u

struct svc {
	struct vv_store *s;
	struct vv_policy *p;
	struct vv_secureboot *sb;
	struct vv_mor *m;
	struct vv_service v;
};

static void
svc_open(struct svc *e, bool tpm, const struct vv_limits *lim)
{
	e->s = vv_store_new(lim);
	REQUIRE(e->s != NULL);
	e->p = vv_policy_new(e->s, NULL);
	e->sb = vv_secureboot_new(e->s, NULL);
	e->m = vv_mor_new(e->s, tpm);
	REQUIRE(e->p && e->sb && e->m);
	e->v = (struct vv_service){ e->s, e->p, e->m };
}

static void
svc_close(struct svc *e)
{
	vv_mor_free(e->m);
	vv_secureboot_free(e->sb);
	vv_policy_free(e->p);
	vv_store_free(e->s);
}

/* A LOCK_NOW policy for one name in TEST_GUID (device-abi §8.4). */
static size_t
lock_now_entry(uint8_t *buf, const char *name)
{
	size_t n = strlen(name), size = 44 + (n + 1) * 2;

	memset(buf, 0, size);
	vv_put_le32(buf, POLICY_REV);
	vv_put_le16(buf + 4, (uint16_t)size);
	vv_put_le16(buf + 6, 44);
	memcpy(buf + 8, TEST_GUID.b, 16);
	vv_put_le32(buf + 28, 0xffffffffu);
	buf[40] = VV_POLICY_LOCK_NOW;
	for (size_t i = 0; i < n; i++)
		vv_put_le16(buf + 44 + 2 * i, (uint8_t)name[i]);
	return size;
}

static const uint8_t MOR_KEY[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

/* Drives a service to where a running OS finds it. */
static void
late_boot(struct svc *e)
{
	uint8_t entry[128];
	struct vv_var_property ro = { VV_VAR_CHECK_PROPERTY_REVISION,
				      VV_VAR_CHECK_PROPERTY_READ_ONLY, 0, 0, 0 };

	CHECK_STATUS(set_var(e->s, U("Locked"), &TEST_GUID, NV_BS_RT, "L", 1), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_policy_register(e->p, entry, lock_now_entry(entry, "Locked")),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(vv_store_property_set(e->s, U("ReadOnly"), &TEST_GUID, &ro), VV_EFI_SUCCESS);
	CHECK_STATUS(set_var(e->s, U("ReadOnly"), &TEST_GUID, NV_BS_RT, "R", 1), VV_EFI_SUCCESS);
	CHECK_STATUS(set_var(e->s, U("VolBS"), &TEST_GUID, VV_ATTR_BS, "boot", 4), VV_EFI_SUCCESS);
	CHECK_STATUS(set_var(e->s, U("VolRT"), &TEST_GUID, BS_RT, "runtime", 7), VV_EFI_SUCCESS);
	vv_store_signal(e->s, VV_EVENT_END_OF_DXE);
	CHECK_STATUS(set_var(e->s, U("MemoryOverwriteRequestControlLock"), &VV_GUID_MOR_LOCK,
			     NV_BS_RT, MOR_KEY, 8), VV_EFI_SUCCESS);
	vv_store_signal(e->s, VV_EVENT_READY_TO_BOOT);
	vv_store_signal(e->s, VV_EVENT_EXIT_BOOT_SERVICES);
}

/* What a running OS may and may not do, checked on any service. */
static void
check_late_boot_rules(struct svc *e)
{
	uint8_t buf[16];
	uint64_t size = sizeof(buf);
	uint32_t attr = 0;
	uint8_t wrong[8] = { 9 };

	CHECK(vv_store_at_runtime(e->s));
	CHECK(vv_store_end_of_dxe(e->s) && vv_store_ready_to_boot(e->s));
	CHECK(vv_policy_locked(e->p));
	CHECK_EQ(vv_policy_count(e->p), 1);
	CHECK_EQ(vv_mor_lock_state(e->m), VV_MOR_LOCKED_WITH_KEY);
	/* the LOCK_NOW policy and the read-only property hold */
	CHECK_STATUS(set_var(e->s, U("Locked"), &TEST_GUID, NV_BS_RT, "X", 1),
		     VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(set_var(e->s, U("ReadOnly"), &TEST_GUID, NV_BS_RT, "X", 1),
		     VV_EFI_WRITE_PROTECTED);
	/* runtime: the BS-only volatile variable is gone for the OS, the RT
	 * one is there; BS-only writes (CustomMode) are refused */
	CHECK_STATUS(vv_store_get(e->s, U("VolBS"), &TEST_GUID, &attr, buf, &size),
		     VV_EFI_NOT_FOUND);
	size = sizeof(buf);
	CHECK_STATUS(vv_store_get(e->s, U("VolRT"), &TEST_GUID, &attr, buf, &size),
		     VV_EFI_SUCCESS);
	CHECK_EQ(size, 7);
	CHECK_MEM(buf, "runtime", 7);
	CHECK_STATUS(set_var(e->s, U("CustomMode"), &VV_GUID_CUSTOM_MODE,
			     VV_ATTR_NV | VV_ATTR_BS, "\x01", 1), VV_EFI_WRITE_PROTECTED);
	CHECK(vv_store_find(e->s, U("CustomMode"), &VV_GUID_CUSTOM_MODE)->data[0] == 0);
	/* the keyed MOR lock: a wrong key ends it (locked, no key) */
	CHECK_STATUS(set_var(e->s, U("MemoryOverwriteRequestControl"), &VV_GUID_MOR, NV_BS_RT,
			     "\x01", 1), VV_EFI_ACCESS_DENIED);
	CHECK_STATUS(set_var(e->s, U("MemoryOverwriteRequestControlLock"), &VV_GUID_MOR_LOCK,
			     NV_BS_RT, wrong, 8), VV_EFI_ACCESS_DENIED);
	CHECK_EQ(vv_mor_lock_state(e->m), VV_MOR_LOCKED_NO_KEY);
}

/* The NV content of a into b, as a shared or copied NV store would be. */
static void
copy_nv(struct svc *a, struct svc *b)
{
	for (const struct vv_variable *v = vv_store_first(a->s); v; v = vv_store_next(v)) {
		if (!(v->attributes & VV_ATTR_NV))
			continue;
		if (vv_store_find(b->s, v->name, v->name_len, &v->guid) != NULL)
			vv_store_put(b->s, v->name, v->name_len, &v->guid,
				     vv_store_find(b->s, v->name, v->name_len, &v->guid)->attributes,
				     NULL, 0, NULL);
		REQUIRE(vv_store_put(b->s, v->name, v->name_len, &v->guid, v->attributes, v->data,
				     v->data_size, v->has_time ? &v->time : NULL) == VV_EFI_SUCCESS);
	}
}

/* The volatile variables of both, in order, byte for byte. */
static void
check_same_volatile(struct svc *a, struct svc *b)
{
	const struct vv_variable *x = vv_store_first(a->s), *y = vv_store_first(b->s);

	for (;;) {
		while (x && (x->attributes & VV_ATTR_NV))
			x = vv_store_next(x);
		while (y && (y->attributes & VV_ATTR_NV))
			y = vv_store_next(y);
		if (!x || !y)
			break;
		CHECK(vv_ucs2_equal(x->name, x->name_len, y->name, y->name_len));
		CHECK(vv_guid_equal(&x->guid, &y->guid));
		CHECK_EQ(x->attributes, y->attributes);
		CHECK_EQ(x->data_size, y->data_size);
		if (x->data_size == y->data_size)
			CHECK_MEM(x->data, y->data, x->data_size);
		x = vv_store_next(x);
		y = vv_store_next(y);
	}
	CHECK(x == NULL && y == NULL);
}

static void
test_round_trip(void)
{
	struct svc a, b;
	uint8_t *snap = NULL, *again = NULL;
	size_t n = 0, n2 = 0;
	struct vv_error err = { { 0 } };

	svc_open(&a, true, NULL);
	late_boot(&a);
	REQUIRE(vv_snapshot_save(&a.v, NULL, &snap, &n, &err) == 0);
	CHECK(n > 48 + 4);
	svc_open(&b, true, NULL);
	copy_nv(&a, &b);
	CHECK(vv_snapshot_load(&b.v, NULL, snap, n, &err) == 0);
	if (err.msg[0])
		printf("# %s\n", err.msg);
	check_same_volatile(&a, &b);
	/* the restored service saves the same bytes (same order, same state) */
	REQUIRE(vv_snapshot_save(&b.v, NULL, &again, &n2, &err) == 0);
	CHECK_EQ(n2, n);
	/* and it enforces everything the source does */
	check_late_boot_rules(&a);
	check_late_boot_rules(&b);
	/* a VM reset on the restored service is a full power-on again */
	vv_store_signal(b.s, VV_EVENT_RESET);
	CHECK(!vv_store_at_runtime(b.s) && !vv_policy_locked(b.p));
	CHECK_EQ(vv_mor_lock_state(b.m), VV_MOR_UNLOCKED);
	CHECK(vv_store_find(b.s, U("VolRT"), &TEST_GUID) == NULL);
	free(snap);
	free(again);
	svc_close(&a);
	svc_close(&b);
}

/* The change counter moves with every kind of non-NV state and not with
 * reads. */
static void
test_state_changes(void)
{
	struct svc a;
	uint8_t entry[128], buf[8];
	uint64_t before, size = sizeof(buf);
	uint32_t attr;

	svc_open(&a, true, NULL);
	before = vv_store_state_changes(a.s);
	CHECK_STATUS(vv_store_get(a.s, U("SetupMode"), &VV_GUID_GLOBAL_VARIABLE, &attr, buf, &size),
		     VV_EFI_SUCCESS);
	CHECK_EQ(vv_store_state_changes(a.s), before);
	CHECK_STATUS(set_var(a.s, U("Nv"), &TEST_GUID, NV_BS_RT, "n", 1), VV_EFI_SUCCESS);
	CHECK_EQ(vv_store_state_changes(a.s), before);          /* NV only */
	CHECK_STATUS(set_var(a.s, U("Vol"), &TEST_GUID, BS_RT, "v", 1), VV_EFI_SUCCESS);
	CHECK(vv_store_state_changes(a.s) > before);
	before = vv_store_state_changes(a.s);
	CHECK_STATUS(vv_policy_register(a.p, entry, lock_now_entry(entry, "X")), VV_EFI_SUCCESS);
	CHECK(vv_store_state_changes(a.s) > before);
	before = vv_store_state_changes(a.s);
	CHECK_STATUS(vv_policy_lock(a.p), VV_EFI_SUCCESS);
	CHECK(vv_store_state_changes(a.s) > before);
	before = vv_store_state_changes(a.s);
	CHECK_STATUS(set_var(a.s, U("MemoryOverwriteRequestControlLock"), &VV_GUID_MOR_LOCK,
			     NV_BS_RT, "\x01", 1), VV_EFI_SUCCESS);
	CHECK(vv_store_state_changes(a.s) > before);
	before = vv_store_state_changes(a.s);
	vv_store_signal(a.s, VV_EVENT_EXIT_BOOT_SERVICES);
	CHECK(vv_store_state_changes(a.s) > before);
	svc_close(&a);
}

/* Loads bytes into a fresh service; checks refusal, the reason and that
 * nothing changed. */
static void
expect_refused(const uint8_t *snap, size_t n, bool tpm, const uint8_t *vm_id, const char *why)
{
	struct svc b;
	struct vv_error err = { { 0 } };
	uint8_t *before = NULL, *after = NULL;
	size_t nb = 0, na = 0;

	svc_open(&b, tpm, NULL);
	REQUIRE(vv_snapshot_save(&b.v, NULL, &before, &nb, &err) == 0);
	CHECK(vv_snapshot_load(&b.v, vm_id, snap, n, &err) == -1);
	if (strstr(err.msg, why) == NULL)
		printf("# got \"%s\", want \"%s\"\n", err.msg, why);
	CHECK(strstr(err.msg, why) != NULL);
	REQUIRE(vv_snapshot_save(&b.v, NULL, &after, &na, &err) == 0);
	CHECK_EQ(na, nb);
	if (na == nb)
		CHECK_MEM(after, before, na);
	CHECK(!vv_store_end_of_dxe(b.s));
	free(before);
	free(after);
	svc_close(&b);
}

/* Re-seals a modified snapshot (its CRC-32), so the check under test is
 * the one that fires. */
static void
reseal(uint8_t *snap, size_t n)
{
	vv_put_le64(snap + 16, n);
	vv_put_le32(snap + n - 4, (uint32_t)crc32(0L, snap, (unsigned)(n - 4)));
}

/* The first record of a type in a snapshot, or NULL. */
static uint8_t *
find_record(uint8_t *snap, size_t n, uint16_t type)
{
	for (size_t off = 48; off + 8 <= n - 4; off += 8 + (size_t)vv_le32(snap + off + 4))
		if (vv_le16(snap + off) == type)
			return snap + off;
	return NULL;
}

static void
test_refusals(void)
{
	struct svc a;
	uint8_t *snap = NULL, *copy;
	size_t n = 0;
	struct vv_error err = { { 0 } };
	static const uint8_t other_vm[16] = { 0xaa };

	svc_open(&a, true, NULL);
	late_boot(&a);
	REQUIRE(vv_snapshot_save(&a.v, NULL, &snap, &n, &err) == 0);
	copy = malloc(n);
	REQUIRE(copy != NULL);

	/* truncated, at every length below the whole */
	for (size_t cut = 0; cut < n; cut += (cut < 64 ? 1 : 97)) {
		struct svc b;

		svc_open(&b, true, NULL);
		CHECK(vv_snapshot_load(&b.v, NULL, snap, cut, &err) == -1);
		CHECK(!vv_store_end_of_dxe(b.s) && vv_policy_count(b.p) == 0);
		svc_close(&b);
	}
	expect_refused(snap, n - 1, true, NULL, "given");
	/* a bit flipped anywhere: the checksum */
	memcpy(copy, snap, n);
	copy[n / 2] ^= 0x10;
	expect_refused(copy, n, true, NULL, "checksum mismatch");
	/* another VM */
	expect_refused(snap, n, true, other_vm, "another VM");
	/* a newer format */
	memcpy(copy, snap, n);
	vv_put_le16(copy + 8, 2);
	reseal(copy, n);
	expect_refused(copy, n, true, NULL, "format version 2");
	/* flags this version does not know (the full form) */
	memcpy(copy, snap, n);
	vv_put_le16(copy + 10, 1);
	reseal(copy, n);
	expect_refused(copy, n, true, NULL, "flags this version does not know");
	/* bad magic */
	memcpy(copy, snap, n);
	copy[0] = 'X';
	reseal(copy, n);
	expect_refused(copy, n, true, NULL, "bad magic");
	/* an unknown record type (the first record, right after the header) */
	memcpy(copy, snap, n);
	vv_put_le16(copy + 48, 99);
	reseal(copy, n);
	expect_refused(copy, n, true, NULL, "unknown record type");
	/* a record longer than what remains */
	memcpy(copy, snap, n);
	vv_put_le32(copy + 52, 0x7fffffff);
	reseal(copy, n);
	expect_refused(copy, n, true, NULL, "longer than what remains");
	/* past EndOfDxe with the policy interface unlocked: no service is in
	 * that state (fuzz_snapshot found the loader accepted it) */
	memcpy(copy, snap, n);
	{
		uint8_t *rec = find_record(copy, n, 4);     /* POLICY_STATE */

		REQUIRE(rec != NULL);
		rec[8] &= (uint8_t)~0x02u;
	}
	reseal(copy, n);
	expect_refused(copy, n, true, NULL, "policy interface unlocked");
	/* bytes after a policy entry's own Size, inside its record */
	{
		uint8_t *padded = malloc(n + 4), *rec;
		size_t at, len;

		REQUIRE(padded != NULL);
		memcpy(padded, snap, n);
		rec = find_record(padded, n, 5);            /* POLICY_ENTRY */
		REQUIRE(rec != NULL);
		len = vv_le32(rec + 4);
		at = (size_t)(rec - padded) + 8 + len;
		memmove(padded + at + 4, padded + at, n - at);
		memset(padded + at, 0xee, 4);
		vv_put_le32(rec + 4, (uint32_t)(len + 4));
		reseal(padded, n + 4);
		expect_refused(padded, n + 4, true, NULL, "not the entry's Size");
		free(padded);
	}
	/* a daemon without a TPM cannot take a TPM VM's MOR state */
	expect_refused(snap, n, false, NULL, "TPM");
	/* a service with less volatile storage than the state needs */
	{
		struct vv_limits lim;
		struct svc b;

		vv_limits_default(&lim);
		lim.volatile_storage = 200;
		svc_open(&b, true, &lim);
		CHECK(vv_snapshot_load(&b.v, NULL, snap, n, &err) == -1);
		CHECK(strstr(err.msg, "volatile storage") != NULL ||
		      strstr(err.msg, "max_volatile_variable_size") != NULL);
		CHECK(!vv_store_end_of_dxe(b.s) && vv_policy_count(b.p) == 0);
		svc_close(&b);
	}
	/* not at power-on */
	{
		struct svc b;

		svc_open(&b, true, NULL);
		vv_store_signal(b.s, VV_EVENT_END_OF_DXE);
		CHECK(vv_snapshot_load(&b.v, NULL, snap, n, &err) == -1);
		CHECK(strstr(err.msg, "power-on") != NULL);
		svc_close(&b);
	}
	free(copy);
	free(snap);
	svc_close(&a);
}

static const struct vv_test tests[] = {
	TEST(test_round_trip),
	TEST(test_state_changes),
	TEST(test_refusals),
};

VV_TEST_MAIN(tests)
