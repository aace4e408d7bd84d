/*
 * tests/test_mor.c -- MOR and MORLock through the store, as the guest
 * writes them (include/vmvars/mor.h has the state machine; edk2
 * TcgMorLockSmm facts in varstore-formats §8.5).
 */
#include "harness.h"
#include "store_util.h"

#include <vmvars/mor.h>

#define MOR_ATTR NV_BS_RT

static struct vv_store *s;
static struct vv_mor *m;

static void
open_env(bool tpm)
{
	s = vv_store_new(NULL);
	m = vv_mor_new(s, tpm);
	REQUIRE(s != NULL && m != NULL);
}

static void
close_env(void)
{
	vv_mor_free(m);
	vv_store_free(s);
}

static vv_status
set_mor(uint32_t attr, const void *d, size_t n)
{
	return set_var(s, U("MemoryOverwriteRequestControl"), &VV_GUID_MOR, attr, d, n);
}

static vv_status
set_lock(uint32_t attr, const void *d, size_t n)
{
	return set_var(s, U("MemoryOverwriteRequestControlLock"), &VV_GUID_MOR_LOCK, attr, d, n);
}

static int
lock_value(void)
{
	const struct vv_variable *v =
		vv_store_find(s, U("MemoryOverwriteRequestControlLock"), &VV_GUID_MOR_LOCK);

	return v != NULL && v->data_size == 1 ? v->data[0] : -1;
}

static void
test_mor_rules(void)
{
	uint8_t one = 1, bad = 0x02, both = 0x11;

	open_env(true);
	CHECK_STATUS(set_mor(MOR_ATTR, &one, 1), VV_EFI_SUCCESS);
	CHECK_STATUS(set_mor(MOR_ATTR, &both, 1), VV_EFI_SUCCESS);
	CHECK_STATUS(set_mor(MOR_ATTR, &bad, 1), VV_EFI_INVALID_PARAMETER);     /* reserved bit */
	CHECK_STATUS(set_mor(BS_RT, &one, 1), VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(set_mor(MOR_ATTR, "ab", 2), VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(set_mor(MOR_ATTR, NULL, 0), VV_EFI_INVALID_PARAMETER);     /* no delete */
	CHECK_STATUS(set_mor(0, NULL, 0), VV_EFI_INVALID_PARAMETER);
	CHECK_EQ(vv_store_find(s, U("MemoryOverwriteRequestControl"), &VV_GUID_MOR)->data[0], 0x11);
	/* the host owner is not bound by the guest rules */
	CHECK_STATUS(set_as(s, VV_CALLER_HOST, U("MemoryOverwriteRequestControl"), &VV_GUID_MOR,
			    MOR_ATTR, NULL, 0), VV_EFI_SUCCESS);
	close_env();
}

static void
test_lock_without_key(void)
{
	uint8_t zero = 0, one = 1, two = 2;

	open_env(true);
	vv_store_signal(s, VV_EVENT_END_OF_DXE);
	CHECK_EQ(lock_value(), 0);                           /* written at EndOfDxe */
	CHECK_STATUS(set_lock(MOR_ATTR, &two, 1), VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(set_lock(BS_RT, &one, 1), VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(set_lock(MOR_ATTR, "abc", 3), VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(set_lock(MOR_ATTR, NULL, 0), VV_EFI_WRITE_PROTECTED);   /* delete */
	CHECK_STATUS(set_lock(MOR_ATTR, &zero, 1), VV_EFI_SUCCESS);
	CHECK_EQ(vv_mor_lock_state(m), VV_MOR_UNLOCKED);
	CHECK_STATUS(set_lock(MOR_ATTR, &one, 1), VV_EFI_SUCCESS);
	CHECK_EQ(vv_mor_lock_state(m), VV_MOR_LOCKED_NO_KEY);
	CHECK_EQ(lock_value(), 1);
	/* locked: everything refused, MOR included */
	CHECK_STATUS(set_lock(MOR_ATTR, &zero, 1), VV_EFI_ACCESS_DENIED);
	CHECK_STATUS(set_lock(MOR_ATTR, "12345678", 8), VV_EFI_ACCESS_DENIED);
	CHECK_STATUS(set_mor(MOR_ATTR, &one, 1), VV_EFI_ACCESS_DENIED);
	/* a VM reset unlocks */
	vv_store_signal(s, VV_EVENT_RESET);
	CHECK_EQ(vv_mor_lock_state(m), VV_MOR_UNLOCKED);
	CHECK_STATUS(set_mor(MOR_ATTR, &one, 1), VV_EFI_SUCCESS);
	close_env();
}

static void
test_lock_with_key(void)
{
	uint8_t one = 1;

	open_env(true);
	CHECK_STATUS(set_lock(MOR_ATTR, "SECRET!!", 8), VV_EFI_SUCCESS);
	CHECK_EQ(vv_mor_lock_state(m), VV_MOR_LOCKED_WITH_KEY);
	CHECK_EQ(lock_value(), 2);
	CHECK_STATUS(set_mor(MOR_ATTR, &one, 1), VV_EFI_ACCESS_DENIED);
	CHECK_STATUS(set_lock(MOR_ATTR, &one, 1), VV_EFI_ACCESS_DENIED);
	/* the right key unlocks */
	CHECK_STATUS(set_lock(MOR_ATTR, "SECRET!!", 8), VV_EFI_SUCCESS);
	CHECK_EQ(vv_mor_lock_state(m), VV_MOR_UNLOCKED);
	CHECK_EQ(lock_value(), 0);
	CHECK_STATUS(set_mor(MOR_ATTR, &one, 1), VV_EFI_SUCCESS);
	/* a wrong key locks it until reset, even against the right key */
	CHECK_STATUS(set_lock(MOR_ATTR, "SECRET!!", 8), VV_EFI_SUCCESS);
	CHECK_STATUS(set_lock(MOR_ATTR, "WRONGKEY", 8), VV_EFI_ACCESS_DENIED);
	CHECK_EQ(vv_mor_lock_state(m), VV_MOR_LOCKED_NO_KEY);
	CHECK_EQ(lock_value(), 1);
	CHECK_STATUS(set_lock(MOR_ATTR, "SECRET!!", 8), VV_EFI_ACCESS_DENIED);
	CHECK_STATUS(set_mor(MOR_ATTR, &one, 1), VV_EFI_ACCESS_DENIED);
	vv_store_signal(s, VV_EVENT_RESET);
	CHECK_EQ(vv_mor_lock_state(m), VV_MOR_UNLOCKED);
	CHECK_STATUS(set_lock(MOR_ATTR, "SECRET!!", 8), VV_EFI_SUCCESS);
	close_env();
}

static void
test_without_tpm(void)
{
	uint8_t one = 1;

	open_env(false);
	CHECK_STATUS(set_mor(MOR_ATTR, &one, 1), VV_EFI_SUCCESS);   /* before EndOfDxe */
	vv_store_signal(s, VV_EVENT_END_OF_DXE);
	CHECK(vv_store_find(s, U("MemoryOverwriteRequestControl"), &VV_GUID_MOR) == NULL);
	CHECK_STATUS(set_mor(MOR_ATTR, &one, 1), VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(set_lock(MOR_ATTR, &one, 1), VV_EFI_WRITE_PROTECTED);
	close_env();
}

static const struct vv_test tests[] = {
	TEST(test_mor_rules),
	TEST(test_lock_without_key),
	TEST(test_lock_with_key),
	TEST(test_without_tpm),
};

VV_TEST_MAIN(tests)
