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

#include <malloc.h>
#include <zlib.h>

#include <vmvars/snapshot.h>

#include "core/crc32.h"
#include "core/store_state.h"

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
	struct vv_snapshot_options opts = { { 0 }, 0 };
	struct svc b;
	struct vv_error err = { { 0 } };
	uint8_t *before = NULL, *after = NULL;
	size_t nb = 0, na = 0;

	svc_open(&b, tpm, NULL);
	REQUIRE(vv_snapshot_save(&b.v, NULL, &before, &nb, &err) == 0);
	if (vm_id != NULL)
		memcpy(opts.vm_id, vm_id, 16);
	CHECK(vv_snapshot_load(&b.v, &opts, snap, n, &err) == -1);
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
	/* flags this version does not know */
	memcpy(copy, snap, n);
	vv_put_le16(copy + 10, 2);
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


/* ---- the full form (issue #14) ---- */

static const struct vv_snapshot_options FULL = { { 0 }, VV_SNAPSHOT_FULL };
static const struct vv_snapshot_options FULL_DIGEST = { { 0 },
							VV_SNAPSHOT_FULL | VV_SNAPSHOT_NV_DIGEST };

/* A service's whole state as bytes: the full snapshot. */
static uint8_t *
full_bytes(struct svc *e, size_t *n)
{
	struct vv_error err = { { 0 } };
	uint8_t *out = NULL;

	REQUIRE(vv_snapshot_save(&e->v, &FULL, &out, n, &err) == 0);
	return out;
}

/* A full snapshot moves the NV content too: the destination starts from
 * other NV content (a stale variable, no "Locked"), and ends with the
 * source's, in the source's enumeration order, byte for byte. */
static void
test_full_round_trip(void)
{
	struct svc a, b;
	uint8_t *snap, *again, *src;
	size_t n = 0, n2 = 0, ns = 0;
	struct vv_error err = { { 0 } };

	svc_open(&a, true, NULL);
	late_boot(&a);
	REQUIRE(vv_snapshot_save(&a.v, &FULL_DIGEST, &snap, &n, &err) == 0);
	CHECK_EQ(vv_le16(snap + 10), 1);            /* header flag: full */
	svc_open(&b, true, NULL);
	CHECK_STATUS(set_var(b.s, U("Stale"), &TEST_GUID, NV_BS_RT, "s", 1), VV_EFI_SUCCESS);
	CHECK(vv_snapshot_load(&b.v, &FULL, snap, n, &err) == 0);
	if (err.msg[0])
		printf("# %s\n", err.msg);
	CHECK(vv_store_find(b.s, U("Stale"), &TEST_GUID) == NULL);
	CHECK(vv_store_find(b.s, U("Locked"), &TEST_GUID) != NULL);
	src = full_bytes(&a, &ns);
	again = full_bytes(&b, &n2);
	CHECK_EQ(n2, ns);
	if (n2 == ns)
		CHECK_MEM(again, src, ns);
	check_late_boot_rules(&a);
	check_late_boot_rules(&b);
	/* a VM reset on the destination keeps the migrated NV content */
	vv_store_signal(b.s, VV_EVENT_RESET);
	CHECK(vv_store_find(b.s, U("Locked"), &TEST_GUID) != NULL);
	CHECK(vv_store_find(b.s, U("VolRT"), &TEST_GUID) == NULL);
	CHECK(!vv_policy_locked(b.p));
	free(snap);
	free(again);
	free(src);
	svc_close(&a);
	svc_close(&b);
}

/* Loads into b with opts; checks the refusal, its reason, and that b's
 * whole state (full form, NV included) is unchanged. */
static void
expect_full_refused(struct svc *b, const struct vv_snapshot_options *opts, const uint8_t *snap,
		    size_t n, const char *why)
{
	struct vv_error err = { { 0 } };
	size_t nb = 0, na = 0;
	uint8_t *before = full_bytes(b, &nb), *after;

	CHECK(vv_snapshot_load(&b->v, opts, snap, n, &err) == -1);
	if (strstr(err.msg, why) == NULL)
		printf("# got \"%s\", want \"%s\"\n", err.msg, why);
	CHECK(strstr(err.msg, why) != NULL);
	after = full_bytes(b, &na);
	CHECK_EQ(na, nb);
	if (na == nb)
		CHECK_MEM(after, before, na);
	if (na != nb || memcmp(after, before, na) != 0)
		printf("# changed by the refused load (%s)\n", why);
	free(before);
	free(after);
}

static void
test_full_refusals(void)
{
	struct svc a, b;
	uint8_t *full, *vol, *copy;
	size_t nf = 0, nv = 0;
	struct vv_error err = { { 0 } };
	static const struct vv_snapshot_options digest = { { 0 }, VV_SNAPSHOT_NV_DIGEST };
	struct vv_snapshot_options mine = { { 0x11 }, VV_SNAPSHOT_FULL };
	struct vv_limits lim;

	svc_open(&a, true, NULL);
	late_boot(&a);
	REQUIRE(vv_snapshot_save(&a.v, &FULL, &full, &nf, &err) == 0);
	REQUIRE(vv_snapshot_save(&a.v, &digest, &vol, &nv, &err) == 0);
	svc_open(&b, true, NULL);
	CHECK_STATUS(set_var(b.s, U("Mine"), &TEST_GUID, NV_BS_RT, "m", 1), VV_EFI_SUCCESS);

	/* a full snapshot into a service that shares its NV store */
	expect_full_refused(&b, NULL, full, nf, "shares its NV store");
	/* another VM: b names itself, the snapshot is of VM zero */
	expect_full_refused(&b, &mine, full, nf, "another VM");
	/* the volatile-only form with an NV digest over different NV content */
	expect_full_refused(&b, NULL, vol, nv, "NV store diverged");
	/* ... and a digest that does not match the full form's own NV */
	{
		uint8_t *d;
		size_t nd = 0;

		REQUIRE(vv_snapshot_save(&a.v, &FULL_DIGEST, &d, &nd, &err) == 0);
		REQUIRE(vv_le16(d + 48 + 12) == 7);          /* after PHASE: NV_DIGEST */
		d[48 + 12 + 8] ^= 1;
		reseal(d, nd);
		expect_full_refused(&b, &FULL, d, nd, "NV store diverged");
		/* a truncated full snapshot, a bad checksum, a newer version */
		expect_full_refused(&b, &FULL, d, nd - 1, "given");
		d[nd / 2] ^= 0x40;
		expect_full_refused(&b, &FULL, d, nd, "checksum mismatch");
		free(d);
	}
	copy = malloc(nf);
	REQUIRE(copy != NULL);
	memcpy(copy, full, nf);
	vv_put_le16(copy + 8, 2);
	reseal(copy, nf);
	expect_full_refused(&b, &FULL, copy, nf, "format version 2");
	/* an NV variable in a snapshot that does not say it is full */
	memcpy(copy, full, nf);
	vv_put_le16(copy + 10, 0);
	reseal(copy, nf);
	expect_full_refused(&b, &FULL, copy, nf, "an NV variable in a volatile snapshot");
	/* the same variable twice: found before anything changes */
	{
		uint8_t *rec = find_record(full, nf, 2), *dup;
		size_t len = 8 + vv_le32(rec + 4), at = (size_t)(rec - full);

		dup = malloc(nf + len);
		REQUIRE(dup != NULL);
		memcpy(dup, full, at + len);
		memcpy(dup + at + len, rec, len);
		memcpy(dup + at + 2 * len, full + at + len, nf - at - len);
		reseal(dup, nf + len);
		expect_full_refused(&b, &FULL, dup, nf + len, "a duplicate variable");
		free(dup);
	}
	svc_close(&b);

	/* limits that do not fit: NV storage, and a smaller maximum NV size */
	vv_limits_default(&lim);
	lim.nv_storage = 4096 + 300;
	svc_open(&b, true, &lim);
	expect_full_refused(&b, &FULL, full, nf, "do not fit this service's NV storage");
	svc_close(&b);
	vv_limits_default(&lim);
	lim.max_variable_size = 64;
	svc_open(&b, true, &lim);
	expect_full_refused(&b, &FULL, full, nf, "maximum NV variable size");
	svc_close(&b);
	vv_limits_default(&lim);
	lim.volatile_storage = 300;
	svc_open(&b, true, &lim);
	expect_full_refused(&b, &FULL, full, nf, "volatile storage");
	svc_close(&b);

	free(copy);
	free(full);
	free(vol);
	svc_close(&a);
}

/* The same NV content, written in another order, has the same digest;
 * a volatile-only snapshot with it loads over a shared store. */
static void
test_nv_digest_order(void)
{
	struct svc a, b;
	uint8_t *snap;
	size_t n = 0;
	struct vv_error err = { { 0 } };
	static const struct vv_snapshot_options digest = { { 0 }, VV_SNAPSHOT_NV_DIGEST };

	svc_open(&a, true, NULL);
	svc_open(&b, true, NULL);
	CHECK_STATUS(set_var(a.s, U("One"), &TEST_GUID, NV_BS_RT, "1", 1), VV_EFI_SUCCESS);
	CHECK_STATUS(set_var(a.s, U("Two"), &TEST_GUID, NV_BS_RT, "2", 1), VV_EFI_SUCCESS);
	CHECK_STATUS(set_var(b.s, U("Two"), &TEST_GUID, NV_BS_RT, "2", 1), VV_EFI_SUCCESS);
	CHECK_STATUS(set_var(b.s, U("One"), &TEST_GUID, NV_BS_RT, "1", 1), VV_EFI_SUCCESS);
	REQUIRE(vv_snapshot_save(&a.v, &digest, &snap, &n, &err) == 0);
	CHECK(vv_snapshot_load(&b.v, NULL, snap, n, &err) == 0);
	free(snap);
	svc_close(&a);
	svc_close(&b);
}

/* The names of a store's variables in enumeration order, with data. */
static void
same_content(struct vv_store *x, struct vv_store *y)
{
	const struct vv_variable *v = vv_store_first(x), *w = vv_store_first(y);

	for (; v && w; v = vv_store_next(v), w = vv_store_next(w)) {
		CHECK(vv_ucs2_equal(v->name, v->name_len, w->name, w->name_len));
		CHECK_EQ(v->attributes, w->attributes);
		CHECK_EQ(v->data_size, w->data_size);
	}
	CHECK(v == NULL && w == NULL);
}

/* vv_store_replace_all: all or nothing, one whole-store commit. */
static void
test_replace_all(void)
{
	struct test_backend tb;
	struct vv_store *s = vv_store_new(NULL), *ref = vv_store_new(NULL);
	struct vv_error err = { { 0 } };
	struct vv_variable vars[3];
	uint64_t avail_before, avail, max, rem, maxvar;

	REQUIRE(s != NULL && ref != NULL);
	test_backend_init(&tb);
	vv_store_set_backend(s, &tb.base);
	CHECK_STATUS(set_var(s, U("Old"), &TEST_GUID, NV_BS_RT, "o", 1), VV_EFI_SUCCESS);
	CHECK_STATUS(set_var(s, U("OldVol"), &TEST_GUID, BS_RT, "v", 1), VV_EFI_SUCCESS);
	CHECK_STATUS(set_var(ref, U("Old"), &TEST_GUID, NV_BS_RT, "o", 1), VV_EFI_SUCCESS);
	CHECK_STATUS(set_var(ref, U("OldVol"), &TEST_GUID, BS_RT, "v", 1), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_store_query(s, VV_ATTR_NV | VV_ATTR_BS, &max, &avail_before, &maxvar),
		     VV_EFI_SUCCESS);
	memset(vars, 0, sizeof(vars));
	for (int i = 0; i < 3; i++) {
		vars[i].guid = TEST_GUID;
		vars[i].attributes = i == 1 ? BS_RT : NV_BS_RT;
		vars[i].data = (uint8_t *)"new";
		vars[i].data_size = 3;
	}
	vars[0].name = (uint16_t *)u"A";
	vars[1].name = (uint16_t *)u"B";
	vars[2].name = (uint16_t *)u"C";
	vars[0].name_len = vars[1].name_len = vars[2].name_len = 1;

	/* the commit fails: memory (and so the disk, atomic) unchanged */
	tb.fail_next = 1;
	CHECK(vv_store_replace_all(s, vars, 3, &err) == -1);
	CHECK(strstr(err.msg, "injected failure") != NULL);
	same_content(s, ref);
	CHECK_STATUS(vv_store_query(s, VV_ATTR_NV | VV_ATTR_BS, &max, &avail, &maxvar),
		     VV_EFI_SUCCESS);
	CHECK_EQ(avail, avail_before);
	CHECK(vv_store_find(s, U("Old"), &TEST_GUID) != NULL);
	/* a refused variable (a duplicate): unchanged, no commit tried */
	{
		int commits = tb.commits;

		vars[2].name = (uint16_t *)u"A";
		CHECK(vv_store_replace_all(s, vars, 3, &err) == -1);
		CHECK(strstr(err.msg, "duplicate") != NULL);
		CHECK_EQ(tb.commits, commits);
		same_content(s, ref);
		vars[2].name = (uint16_t *)u"C";
	}
	/* success: the new content, in order, committed once as a whole */
	{
		int commits = tb.commits;

		CHECK(vv_store_replace_all(s, vars, 3, &err) == 0);
		CHECK_EQ(tb.commits, commits + 1);
		CHECK_EQ(tb.last_kind, VV_CHANGE_ALL);
		CHECK(vv_store_find(s, U("Old"), &TEST_GUID) == NULL);
		CHECK_EQ(vv_store_count(s), 3);
		CHECK(vv_ucs2_equal(vv_store_first(s)->name, 1, (const uint16_t *)u"A", 1));
		CHECK_EQ(vv_store_next(vv_store_first(s))->attributes, BS_RT);
		CHECK_STATUS(vv_store_query(s, VV_ATTR_NV | VV_ATTR_BS, &max, &rem, &maxvar),
			     VV_EFI_SUCCESS);
		CHECK(rem < max);
	}
	vv_store_free(s);
	vv_store_free(ref);
}

/* The snapshot's CRC-32 (src/core/crc32.c, PCLMULQDQ where the CPU has
 * it) equals zlib's on every length and alignment around the 16- and
 * 64-byte steps, on large random buffers, and chained. */
static void
test_crc32_equals_zlib(void)
{
	size_t n = 1u << 20;
	uint8_t *b = malloc(n);
	unsigned seed = 7, bad = 0;

	REQUIRE(b != NULL);
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)rand_r(&seed);
	for (size_t len = 0; len <= 1024; len++)
		for (size_t off = 0; off < 3; off++)
			bad += vv_crc32(0, b + off, len) != (uint32_t)crc32(0L, b + off, (uInt)len);
	for (int i = 0; i < 50; i++) {
		size_t len = (size_t)rand_r(&seed) % n, off = (size_t)rand_r(&seed) % (n - len + 1);

		bad += vv_crc32(0, b + off, len) != (uint32_t)crc32(0L, b + off, (uInt)len);
		bad += vv_crc32(vv_crc32(0, b, off), b + off, len) !=
		       (uint32_t)crc32(0L, b, (uInt)(off + len));
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(vv_crc32(0, "123456789", 9), 0xCBF43926u);      /* the check value */
	free(b);
}

/*
 * Every byte of a snapshot is written by its writer: since 190b72c the
 * writer's buffer is not zeroed per field (wb_take), so a reserved field
 * or padding left unset would carry whatever the heap held -- into the
 * restart record, a migration's STATE or a `vmvars state` export.  glibc
 * fills each malloc (not calloc) with a chosen byte under M_PERTURB: two
 * saves of the same state, one over 0x5a-filled memory and one over
 * 0xa5-filled memory, must be the same bytes, in both forms.  (Under ASan
 * its own allocator ignores M_PERTURB and the two agree trivially.)
 */
static void
test_save_fills_every_byte(void)
{
	const struct vv_snapshot_options *forms[] = { NULL, &FULL_DIGEST };
	struct svc a;

	svc_open(&a, true, NULL);
	late_boot(&a);
	for (size_t f = 0; f < 2; f++) {
		uint8_t *x = NULL, *y = NULL;
		size_t nx = 0, ny = 0;
		struct vv_error err = { { 0 } };

		mallopt(M_PERTURB, 0x5a);
		REQUIRE(vv_snapshot_save(&a.v, forms[f], &x, &nx, &err) == 0);
		mallopt(M_PERTURB, 0xa5);
		REQUIRE(vv_snapshot_save(&a.v, forms[f], &y, &ny, &err) == 0);
		mallopt(M_PERTURB, 0);
		CHECK_EQ(nx, ny);
		CHECK(nx == ny && memcmp(x, y, nx) == 0);
		free(x);
		free(y);
	}
	svc_close(&a);
}

static const struct vv_test tests[] = {
	TEST(test_crc32_equals_zlib),
	TEST(test_round_trip),
	TEST(test_state_changes),
	TEST(test_refusals),
	TEST(test_full_round_trip),
	TEST(test_full_refusals),
	TEST(test_nv_digest_order),
	TEST(test_replace_all),
	TEST(test_save_fills_every_byte),
};

VV_TEST_MAIN(tests)
