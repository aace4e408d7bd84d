/*
 * tests/test_mm.c -- the MM protocol byte for byte: requests are built at
 * the offsets of device-abi §6-§7 in a zeroed 64 KiB buffer and handed to
 * vv_mm_handle, the way the device hands over its private copy.
 */
#include "harness.h"
#include "store_util.h"

#include <unistd.h>

#include "proto/mm_pcap.h"

#define BUF 65536u

static uint8_t buf[BUF];
static struct vv_store *store;
static struct vv_policy *policy;
static struct vv_mm *mm;

static void
teardown(void)
{
	vv_mm_free(mm);
	vv_policy_free(policy);
	vv_store_free(store);
	mm = NULL;
	policy = NULL;
	store = NULL;
}

static void
setup(void)
{
	static bool registered;

	if (!registered)
		registered = atexit(teardown) == 0;
	vv_mm_free(mm);
	vv_policy_free(policy);
	vv_store_free(store);
	store = vv_store_new(NULL);
	policy = vv_policy_new(store, NULL);
	mm = vv_mm_new(store, policy);
	REQUIRE(store != NULL && policy != NULL && mm != NULL);
}

/* Header + SMM variable sub-header; returns the payload (offset 40). */
static uint8_t *
var_msg(uint64_t function, uint64_t payload_len)
{
	memset(buf, 0, sizeof(buf));
	memcpy(buf, VV_GUID_SMM_VARIABLE.b, 16);
	vv_put_le64(buf + 16, 16 + payload_len);
	vv_put_le64(buf + 24, function);
	vv_put_le64(buf + 32, 0xafafafafafafafafULL);   /* stale status */
	return buf + 40;
}

static vv_status
status(void)
{
	return vv_le64(buf + 32);
}

/* An ACCESS_VARIABLE payload at buf + 40; returns its length. */
static uint64_t
access_payload(const vv_guid *g, const char *name, uint32_t attr, const void *data,
	       uint64_t data_size)
{
	uint8_t *p = buf + 40;
	uint64_t ns = (strlen(name) + 1) * 2;

	memcpy(p, g->b, 16);
	vv_put_le64(p + 16, data_size);
	vv_put_le64(p + 24, ns);
	vv_put_le32(p + 32, attr);
	for (size_t i = 0; i <= strlen(name); i++)
		vv_put_le16(p + 36 + 2 * i, (uint8_t)name[i]);
	if (data != NULL && data_size)
		memcpy(p + 36 + ns, data, data_size);
	return 36 + ns + data_size;
}

static vv_status
mm_set(const vv_guid *g, const char *name, uint32_t attr, const void *data, uint64_t size)
{
	uint64_t len;

	var_msg(VV_MM_SET_VARIABLE, 0);
	len = access_payload(g, name, attr, data, size);
	vv_put_le64(buf + 16, 16 + len);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	return status();
}

static void
test_transport_framing(void)
{
	setup();
	/* buffer smaller than the header */
	CHECK_EQ(vv_mm_handle(mm, buf, 23), VV_STS_ERR_BAD_BUFFER_SIZE);
	/* MessageLength overflowing, or beyond the buffer */
	var_msg(VV_MM_GET_PAYLOAD_SIZE, 8);
	vv_put_le64(buf + 16, UINT64_MAX);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_ERR_BAD_BUFFER_SIZE);
	vv_put_le64(buf + 16, UINT64_MAX - 23);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_ERR_BAD_BUFFER_SIZE);
	vv_put_le64(buf + 16, BUF - 24 + 1);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_ERR_BAD_BUFFER_SIZE);
	CHECK_EQ(vv_le64(buf + 32), 0xafafafafafafafafULL);   /* nothing written */
	vv_put_le64(buf + 16, BUF - 24);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	/* no room for the 16-byte sub-header */
	var_msg(VV_MM_GET_PAYLOAD_SIZE, 0);
	vv_put_le64(buf + 16, 15);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_ERR_BAD_BUFFER_SIZE);
	/* unknown HeaderGuid */
	memset(buf, 0, 64);
	memcpy(buf, TEST_GUID.b, 16);
	vv_put_le64(buf + 16, 8);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_ERR_NOT_SUPPORTED);
	CHECK(vv_mm_stats(mm)->transport_errors >= 6);
}

/*
 * Review fix: a caller whose buffer is larger than the transport's 64 KiB
 * (device-abi §3 BUFFER_SIZE) used to let a GetVariable name of more than
 * 32768 units overflow mm->name_scratch on the host heap.  vv_mm_handle now
 * treats such a buffer as 64 KiB: the long message is 0x12 with nothing
 * written, a message inside 64 KiB still works, and GetPayloadSize reports
 * 65536 - 40.
 */
static void
test_buffer_larger_than_transport(void)
{
	const size_t big = 4 * BUF;
	const uint64_t name_size = 2 * BUF;            /* 65536 units */
	uint8_t *b = calloc(1, big), *copy = malloc(big);
	uint8_t *p;

	setup();
	REQUIRE(b != NULL && copy != NULL);
	memcpy(b, VV_GUID_SMM_VARIABLE.b, 16);
	vv_put_le64(b + 16, 16 + 36 + name_size);
	vv_put_le64(b + 24, VV_MM_GET_VARIABLE);
	vv_put_le64(b + 32, 0xafafafafafafafafULL);
	p = b + 40;
	memcpy(p, TEST_GUID.b, 16);
	vv_put_le64(p + 24, name_size);
	for (uint64_t i = 0; i + 2 < name_size; i += 2)
		vv_put_le16(p + 36 + i, 'A');          /* last unit stays NUL */
	memcpy(copy, b, big);
	CHECK_EQ(vv_mm_handle(mm, b, big), VV_STS_ERR_BAD_BUFFER_SIZE);
	CHECK_MEM(b, copy, big);                        /* nothing written */
	/* a request inside 64 KiB is served from the big buffer */
	memset(b, 0, big);
	memcpy(b, VV_GUID_SMM_VARIABLE.b, 16);
	vv_put_le64(b + 16, 16 + 8);
	vv_put_le64(b + 24, VV_MM_GET_PAYLOAD_SIZE);
	CHECK_EQ(vv_mm_handle(mm, b, big), VV_STS_SUCCESS);
	CHECK_STATUS(vv_le64(b + 32), VV_EFI_SUCCESS);
	CHECK_EQ(vv_le64(b + 40), BUF - 40);
	free(copy);
	free(b);
}

static void
test_payload_size_and_unsupported_functions(void)
{
	static const uint64_t unsupported[] = { 0, 7, 12, 13, 14, 15, 99, UINT64_MAX };

	setup();
	var_msg(VV_MM_GET_PAYLOAD_SIZE, 8);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_SUCCESS);
	CHECK_EQ(vv_le64(buf + 40), BUF - 40);
	/* with a smaller device buffer */
	var_msg(VV_MM_GET_PAYLOAD_SIZE, 8);
	CHECK_EQ(vv_mm_handle(mm, buf, 4096), VV_STS_SUCCESS);
	CHECK_EQ(vv_le64(buf + 40), 4096 - 40);
	var_msg(VV_MM_GET_PAYLOAD_SIZE, 7);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_ACCESS_DENIED);
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		var_msg(unsupported[i], 64);
		CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
		CHECK_STATUS(status(), VV_EFI_UNSUPPORTED);
	}
}

static void
test_set_and_get_byte_for_byte(void)
{
	uint8_t *p;
	uint64_t len;

	setup();
	CHECK_STATUS(mm_set(&TEST_GUID, "Var", NV_BS_RT, "hello", 5), VV_EFI_SUCCESS);
	/* GetVariable with room for 8 bytes */
	p = var_msg(VV_MM_GET_VARIABLE, 0);
	len = access_payload(&TEST_GUID, "Var", 0, NULL, 8);
	vv_put_le64(buf + 16, 16 + len);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_SUCCESS);
	CHECK_EQ(vv_le64(p + 16), 5);                  /* DataSize */
	CHECK_EQ(vv_le32(p + 32), NV_BS_RT);           /* Attributes */
	CHECK_MEM(p + 36 + 8, "hello", 5);             /* after the 8-byte name */
	CHECK_EQ(vv_le64(buf + 16), 16 + len);         /* MessageLength unchanged */
	/* too small: size and attributes, no data */
	p = var_msg(VV_MM_GET_VARIABLE, 0);
	len = access_payload(&TEST_GUID, "Var", 0, NULL, 3);
	vv_put_le64(buf + 16, 16 + len);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_BUFFER_TOO_SMALL);
	CHECK_EQ(vv_le64(p + 16), 5);
	CHECK_EQ(vv_le32(p + 32), NV_BS_RT);
	CHECK_EQ(p[36 + 8], 0);
	/* not found */
	var_msg(VV_MM_GET_VARIABLE, 0);
	len = access_payload(&TEST_GUID, "Nope", 0, NULL, 8);
	vv_put_le64(buf + 16, 16 + len);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_NOT_FOUND);
}

static void
test_access_variable_framing(void)
{
	uint8_t *p;
	uint64_t len;

	setup();
	/* payload shorter than the 36-byte fixed part */
	for (uint64_t fn = 1; fn <= 3; fn += 2) {
		var_msg(fn, 35);
		CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
		CHECK_STATUS(status(), VV_EFI_ACCESS_DENIED);
	}
	/* NameSize beyond the message, and overflowing with DataSize */
	p = var_msg(VV_MM_SET_VARIABLE, 0);
	len = access_payload(&TEST_GUID, "Var", NV_BS_RT, "x", 1);
	vv_put_le64(buf + 16, 16 + len);
	vv_put_le64(p + 24, len);                              /* NameSize too big */
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_ACCESS_DENIED);
	vv_put_le64(p + 24, 8);
	vv_put_le64(p + 16, UINT64_MAX - 20);                  /* DataSize overflow */
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_ACCESS_DENIED);
	vv_put_le64(p + 16, 2);                                /* data past the end */
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_ACCESS_DENIED);
	/* names: zero, odd, not NUL-terminated */
	vv_put_le64(p + 16, 1);
	vv_put_le64(p + 24, 0);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_ACCESS_DENIED);
	vv_put_le64(p + 24, 7);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_ACCESS_DENIED);
	vv_put_le64(p + 24, 6);                                /* "Var" without NUL */
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_ACCESS_DENIED);
	/* empty name "\0": rules of the store (row 1) */
	vv_put_le64(p + 24, 2);
	memset(p + 36, 0, 2);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_INVALID_PARAMETER);
	CHECK_EQ(vv_store_count(store), 0);
	/* a name with a NUL inside: the name ends there ("A") */
	p = var_msg(VV_MM_SET_VARIABLE, 0);
	len = access_payload(&TEST_GUID, "ABC", NV_BS_RT, "x", 1);
	vv_put_le16(p + 36 + 2, 0);
	vv_put_le64(buf + 16, 16 + len);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_SUCCESS);
	CHECK(vv_store_find(store, U("A"), &TEST_GUID) != NULL);
}

/* A GetNext request: name in a name area of name_size bytes. */
static uint8_t *
getnext_msg(const vv_guid *g, const char *name, uint64_t name_size)
{
	uint8_t *p = var_msg(VV_MM_GET_NEXT_VARIABLE_NAME, 24 + name_size);

	memcpy(p, g->b, 16);
	vv_put_le64(p + 16, name_size);
	for (size_t i = 0; name[i]; i++)
		vv_put_le16(p + 24 + 2 * i, (uint8_t)name[i]);
	return p;
}

static void
test_get_next_variable_name(void)
{
	uint8_t *p;

	setup();
	CHECK_STATUS(mm_set(&TEST_GUID, "First", NV_BS_RT, "1", 1), VV_EFI_SUCCESS);
	CHECK_STATUS(mm_set(&VV_GUID_GLOBAL_VARIABLE, "Timeout", NV_BS_RT, "\1\0", 2),
		     VV_EFI_SUCCESS);
	/* start, enough room */
	p = getnext_msg(&VV_GUID_GLOBAL_VARIABLE, "", 64);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_SUCCESS);
	CHECK_MEM(p, TEST_GUID.b, 16);
	CHECK_EQ(vv_le64(p + 16), 12);
	CHECK_EQ(vv_le16(p + 24), 'F');
	CHECK_EQ(vv_le16(p + 24 + 10), 0);
	/* next, with a too-small buffer: needed size, input name untouched */
	p = getnext_msg(&TEST_GUID, "First", 12);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_BUFFER_TOO_SMALL);
	CHECK_EQ(vv_le64(p + 16), 16);
	CHECK_EQ(vv_le16(p + 24), 'F');
	CHECK_MEM(p, TEST_GUID.b, 16);
	p = getnext_msg(&TEST_GUID, "First", 16);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_SUCCESS);
	CHECK_EQ(vv_le16(p + 24), 'T');
	CHECK_MEM(p, VV_GUID_GLOBAL_VARIABLE.b, 16);
	/* end of the list */
	getnext_msg(&VV_GUID_GLOBAL_VARIABLE, "Timeout", 16);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_NOT_FOUND);
	/* unknown starting point */
	getnext_msg(&TEST_GUID, "Timeout", 16);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_INVALID_PARAMETER);
	/* no NUL within NameSize (the area itself ends in NUL) */
	getnext_msg(&TEST_GUID, "First", 16);
	vv_put_le64(buf + 40 + 16, 10);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_INVALID_PARAMETER);
	getnext_msg(&TEST_GUID, "", 16);
	vv_put_le64(buf + 40 + 16, 0);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_INVALID_PARAMETER);
	/* NameSize beyond the message; area not NUL-terminated; too short */
	getnext_msg(&TEST_GUID, "First", 16);
	vv_put_le64(buf + 40 + 16, 17);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_ACCESS_DENIED);
	getnext_msg(&TEST_GUID, "Firstxxx", 16);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_ACCESS_DENIED);
	var_msg(VV_MM_GET_NEXT_VARIABLE_NAME, 23);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_ACCESS_DENIED);
}

static void
test_query_variable_info(void)
{
	uint8_t *p;

	setup();
	/* edk2's unpacked 32-byte structure */
	p = var_msg(VV_MM_QUERY_VARIABLE_INFO, 32);
	vv_put_le32(p + 24, NV_BS_RT);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_SUCCESS);
	CHECK_EQ(vv_le64(p), 262144 - 4096);
	CHECK_EQ(vv_le64(p + 8), 262144 - 4096);
	CHECK_EQ(vv_le64(p + 16), 65536 - 60);
	/* QEMU's packed 28 bytes are enough; 27 are not */
	p = var_msg(VV_MM_QUERY_VARIABLE_INFO, 28);
	vv_put_le32(p + 24, VV_ATTR_NV);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_INVALID_PARAMETER);
	CHECK_EQ(vv_le64(p), 0);
	var_msg(VV_MM_QUERY_VARIABLE_INFO, 27);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_ACCESS_DENIED);
}

static void
test_events_and_phase_functions(void)
{
	static const vv_guid *events[] = { &VV_GUID_END_OF_DXE, &VV_GUID_READY_TO_BOOT,
					   &VV_GUID_EXIT_BOOT_SERVICES };

	setup();
	for (size_t i = 0; i < 3; i++) {
		memset(buf, 0, 32);
		memcpy(buf, events[i]->b, 16);
		vv_put_le64(buf + 16, 1);
		CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
		CHECK_EQ(vv_le64(buf + 16), 1);
	}
	CHECK(vv_store_end_of_dxe(store) && vv_store_ready_to_boot(store) &&
	      vv_store_at_runtime(store));
	var_msg(VV_MM_READY_TO_BOOT, 0);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_UNSUPPORTED);
	setup();
	var_msg(VV_MM_READY_TO_BOOT, 0);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_SUCCESS);
	CHECK(vv_store_end_of_dxe(store) && vv_store_ready_to_boot(store));
	CHECK(vv_policy_locked(policy));                /* EndOfDxe work done */
	var_msg(VV_MM_EXIT_BOOT_SERVICE, 0);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_SUCCESS);
	CHECK(vv_store_at_runtime(store));
}

static uint8_t *
lock_msg(const vv_guid *g, const char *name)
{
	uint64_t ns = (strlen(name) + 1) * 2;
	uint8_t *p = var_msg(VV_MM_LOCK_VARIABLE, 24 + ns);

	memcpy(p, g->b, 16);
	vv_put_le64(p + 16, ns);
	for (size_t i = 0; name[i]; i++)
		vv_put_le16(p + 24 + 2 * i, (uint8_t)name[i]);
	return p;
}

static void
test_lock_variable(void)
{
	setup();
	CHECK_STATUS(mm_set(&TEST_GUID, "Locked", NV_BS_RT, "1", 1), VV_EFI_SUCCESS);
	lock_msg(&TEST_GUID, "Locked");
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_SUCCESS);
	lock_msg(&TEST_GUID, "Locked");                 /* again: still fine */
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_SUCCESS);
	lock_msg(&TEST_GUID, "Locked");
	vv_put_le64(buf + 40 + 16, 1000);               /* NameSize past the end */
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_ACCESS_DENIED);
	/* locks bite after EndOfDxe */
	CHECK_STATUS(mm_set(&TEST_GUID, "Locked", NV_BS_RT, "2", 1), VV_EFI_SUCCESS);
	vv_store_signal(store, VV_EVENT_END_OF_DXE);
	CHECK_STATUS(mm_set(&TEST_GUID, "Locked", NV_BS_RT, "3", 1), VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(mm_set(&TEST_GUID, "Locked", NV_BS_RT, NULL, 0), VV_EFI_WRITE_PROTECTED);
	CHECK_EQ(vv_store_find(store, U("Locked"), &TEST_GUID)->data[0], '2');
	lock_msg(&TEST_GUID, "Other");
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_ACCESS_DENIED);
	/* without a policy engine */
	vv_mm_free(mm);
	mm = vv_mm_new(store, NULL);
	lock_msg(&TEST_GUID, "Other");
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_UNSUPPORTED);
}

static uint8_t *
property_msg(uint64_t fn, const vv_guid *g, const char *name, uint16_t rev, uint16_t prop,
	     uint32_t attr, uint64_t min, uint64_t max)
{
	uint64_t ns = (strlen(name) + 1) * 2;
	uint8_t *p = var_msg(fn, 48 + ns);

	memcpy(p, g->b, 16);
	vv_put_le64(p + 16, ns);
	vv_put_le16(p + 24, rev);
	vv_put_le16(p + 26, prop);
	vv_put_le32(p + 28, attr);
	vv_put_le64(p + 32, min);
	vv_put_le64(p + 40, max);
	for (size_t i = 0; name[i]; i++)
		vv_put_le16(p + 48 + 2 * i, (uint8_t)name[i]);
	return p;
}

static void
test_var_check_properties(void)
{
	uint8_t *p;

	setup();
	property_msg(VV_MM_VAR_CHECK_PROPERTY_SET, &TEST_GUID, "Prop", 1,
		     VV_VAR_CHECK_PROPERTY_READ_ONLY, BS_RT, 1, 4);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_SUCCESS);
	property_msg(VV_MM_VAR_CHECK_PROPERTY_SET, &TEST_GUID, "Prop2", 7, 0, 0, 0, 0);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_INVALID_PARAMETER);
	p = property_msg(VV_MM_VAR_CHECK_PROPERTY_GET, &TEST_GUID, "Prop", 0, 0, 0, 0, 0);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_SUCCESS);
	CHECK_EQ(vv_le16(p + 24), 1);
	CHECK_EQ(vv_le16(p + 26), VV_VAR_CHECK_PROPERTY_READ_ONLY);
	CHECK_EQ(vv_le32(p + 28), BS_RT);
	CHECK_EQ(vv_le64(p + 32), 1);
	CHECK_EQ(vv_le64(p + 40), 4);
	property_msg(VV_MM_VAR_CHECK_PROPERTY_GET, &TEST_GUID, "None", 0, 0, 0, 0, 0);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_NOT_FOUND);
	var_msg(VV_MM_VAR_CHECK_PROPERTY_GET, 47);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_ACCESS_DENIED);
	vv_store_signal(store, VV_EVENT_END_OF_DXE);
	CHECK_STATUS(mm_set(&TEST_GUID, "Prop", BS_RT, "x", 1), VV_EFI_WRITE_PROTECTED);
	property_msg(VV_MM_VAR_CHECK_PROPERTY_SET, &TEST_GUID, "Late", 1, 0, 0, 0, 0);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_ACCESS_DENIED);
}

static void
test_guest_cannot_write_past_message(void)
{
	uint8_t *p;
	uint64_t len;

	/* A GetVariable whose DataSize claims more room than the message
	 * has: refused, and nothing beyond MessageLength is touched. */
	setup();
	CHECK_STATUS(mm_set(&TEST_GUID, "Var", NV_BS_RT, "0123456789", 10), VV_EFI_SUCCESS);
	p = var_msg(VV_MM_GET_VARIABLE, 0);
	len = access_payload(&TEST_GUID, "Var", 0, NULL, 10);
	vv_put_le64(buf + 16, 16 + len - 5);           /* message ends mid-data */
	memset(buf + 24 + 16 + len - 5, 0x5a, 5);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_STATUS(status(), VV_EFI_ACCESS_DENIED);
	for (int i = 0; i < 5; i++)
		CHECK_EQ(buf[24 + 16 + len - 5 + i], 0x5a);
	(void)p;
}

/* ---- traffic capture (vv_mm_set_pcap; src/proto/mm_pcap.h) ---- */

struct seen {
	int n;
	enum vv_mm_pcap_type type[8];
	size_t len[8];
	uint8_t first[8][64];
};

static int
collect(void *ctx, const struct vv_mm_pcap_packet *p)
{
	struct seen *s = ctx;

	if (s->n < 8) {
		s->type[s->n] = p->type;
		s->len[s->n] = p->payload_len;
		memcpy(s->first[s->n], p->payload, p->payload_len < 64 ? p->payload_len : 64);
	}
	s->n++;
	return 0;
}

/* Reads the whole file fd was written to. */
static uint8_t *
slurp(int fd, size_t *size)
{
	off_t end = lseek(fd, 0, SEEK_END);
	uint8_t *d = malloc(end > 0 ? (size_t)end : 1);

	REQUIRE(end >= 0 && d != NULL);
	REQUIRE(pread(fd, d, (size_t)end, 0) == end);
	*size = (size_t)end;
	return d;
}

/*
 * Issue #17 item 6: every request, reply and reset as QEMU 11's pcapfile=
 * writes it -- file header (magic, 2.4, snap length 65536, link type
 * 302), then per packet a u32 type and the 24 + MessageLength bytes.
 */
static void
test_pcap_capture(void)
{
	static const uint8_t header[24] = {
		0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x00, 0x00, 0x01, 0x00, 0x2e, 0x01, 0x00, 0x00,
	};
	char path[] = "/tmp/vmvars-pcap-XXXXXX";
	uint8_t req[200], *file;
	struct seen seen = { 0 };
	struct vv_error err;
	size_t size, n;
	int fd;

	setup();
	REQUIRE((fd = mkstemp(path)) >= 0);
	unlink(path);
	REQUIRE(vv_mm_set_pcap(mm, fd, &err) == 0);
	vv_store_signal(store, VV_EVENT_RESET);
	var_msg(VV_MM_SET_VARIABLE, 0);
	n = access_payload(&TEST_GUID, "Cap", NV_BS_RT, "\x07", 1);
	vv_put_le64(buf + 16, 16 + n);
	memcpy(req, buf, 24 + 16 + n);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_SUCCESS);
	CHECK_EQ(status(), VV_EFI_SUCCESS);
	/* refused at the transport (0x12): the request's header only, no reply */
	var_msg(VV_MM_GET_PAYLOAD_SIZE, 0);
	vv_put_le64(buf + 16, BUF);
	CHECK_EQ(vv_mm_handle(mm, buf, BUF), VV_STS_ERR_BAD_BUFFER_SIZE);
	/* stopped: nothing more is written */
	REQUIRE(vv_mm_set_pcap(mm, -1, &err) == 0);
	CHECK_EQ(mm_set(&TEST_GUID, "Cap", NV_BS_RT, "\x08", 1), VV_EFI_SUCCESS);

	file = slurp(fd, &size);
	REQUIRE(size >= 24);
	CHECK_MEM(file, header, 24);
	/* 24 + (16+4+4 record header & type, 0 | 80 | 80 | 24) */
	CHECK_EQ(size, 24 + 20 + (20 + 24 + 16 + n) * 2 + 20 + 24);
	CHECK_EQ(vv_mm_pcap_read(file, size, collect, &seen, &err), 0);
	CHECK_EQ(seen.n, 4);
	CHECK_EQ(seen.type[0], VV_MM_PCAP_RESET);
	CHECK_EQ(seen.len[0], 0);
	CHECK_EQ(seen.type[1], VV_MM_PCAP_REQUEST);
	CHECK_EQ(seen.len[1], 24 + 16 + n);
	CHECK_MEM(seen.first[1], req, 64);
	CHECK_EQ(seen.type[2], VV_MM_PCAP_REPLY);
	CHECK_EQ(seen.len[2], 24 + 16 + n);
	CHECK_EQ(vv_le64(seen.first[2] + 32), VV_EFI_SUCCESS);  /* the reply's status */
	CHECK_EQ(seen.type[3], VV_MM_PCAP_REQUEST);
	CHECK_EQ(seen.len[3], 24);
	free(file);
	close(fd);
}

/* A capture is hostile input: each fault is refused with the byte offset
 * and the reason, and the records before it were handed over. */
static void
test_pcap_reader_faults(void)
{
	uint8_t f[24 + 20 + 40];
	struct seen seen;
	struct vv_error err;
	char want[200];

	memset(f, 0, sizeof(f));
	vv_put_le32(f, 0xa1b2c3d4u);
	vv_put_le16(f + 4, 2);
	vv_put_le16(f + 6, 4);
	vv_put_le32(f + 16, 65536);
	vv_put_le32(f + 20, 302);
	/* one request: a 24-byte MM header with MessageLength 16, 16 bytes */
	vv_put_le32(f + 24 + 8, 4 + 40);
	vv_put_le32(f + 24 + 12, 4 + 40);
	vv_put_le32(f + 24 + 16, VV_MM_PCAP_REQUEST);
	vv_put_le64(f + 44 + 16, 16);
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(vv_mm_pcap_read(f, sizeof(f), collect, &seen, &err), 0);
	CHECK_EQ(seen.n, 1);
#define FAULT(len, text) do { \
		memset(&seen, 0, sizeof(seen)); \
		CHECK_EQ(vv_mm_pcap_read(f, (len), collect, &seen, &err), -1); \
		if (strcmp(err.msg, (text)) != 0) { \
			printf("# got '%s'\n# want '%s'\n", err.msg, (text)); \
			vv_test_failures++; \
		} } while (0)
	FAULT(10, "byte 0: too short for a pcap file header (10 bytes)");
	FAULT(sizeof(f) - 1, "byte 24: record 0: 44 captured bytes, only 43 in the file");
	FAULT(30, "byte 24: record 0: header cut short (6 bytes left)");
	vv_put_le64(f + 44 + 16, 17);
	FAULT(sizeof(f), "byte 24: record 0: MessageLength 17, but 16 bytes follow the MM header");
	vv_put_le64(f + 44 + 16, 16);
	vv_put_le32(f + 24 + 16, 7);
	FAULT(sizeof(f), "byte 24: record 0: record type 7 (1 reset, 2 request, 3 reply)");
	vv_put_le32(f + 24 + 16, VV_MM_PCAP_RESET);
	FAULT(sizeof(f), "byte 24: record 0: a reset with 40 bytes of data");
	vv_put_le32(f + 24 + 16, VV_MM_PCAP_REQUEST);
	vv_put_le32(f + 24 + 8, 70000);
	FAULT(sizeof(f), "byte 24: record 0: 70000 captured bytes, more than the snap length 65536");
	vv_put_le32(f + 24 + 8, 4 + 40);
	vv_put_le32(f + 24 + 12, 3);
	FAULT(sizeof(f), "byte 24: record 0: original length 3 below the captured 44");
	vv_put_le32(f + 24 + 12, 4 + 40);
	vv_put_le32(f + 20, 1);
	FAULT(sizeof(f), "byte 20: link type 1, not 302 (LINKTYPE_EDK2_MM: edk2 MM traffic as "
	      "QEMU's uefi-vars pcapfile= writes it)");
	vv_put_le32(f, 0x12345678);
	snprintf(want, sizeof(want), "byte 0: not a pcap file (magic 0x12345678)");
	FAULT(sizeof(f), want);
	/* the other byte order reads the same */
	{
		uint8_t g[sizeof(f)];

		memset(g, 0, sizeof(g));
		g[0] = 0xa1; g[1] = 0xb2; g[2] = 0xc3; g[3] = 0xd4;
		g[5] = 2; g[7] = 4;
		g[16 + 1] = 1;                          /* 65536 big-endian */
		g[20 + 2] = 1; g[20 + 3] = 0x2e;        /* 302 */
		g[24 + 11] = 44; g[24 + 15] = 44; g[24 + 19] = 2;
		vv_put_le64(g + 44 + 16, 16);           /* the MM buffer stays little-endian */
		memset(&seen, 0, sizeof(seen));
		CHECK_EQ(vv_mm_pcap_read(g, sizeof(g), collect, &seen, &err), 0);
		CHECK_EQ(seen.n, 1);
		CHECK_EQ(seen.type[0], VV_MM_PCAP_REQUEST);
	}
#undef FAULT
}

static const struct vv_test tests[] = {
	TEST(test_transport_framing),
	TEST(test_buffer_larger_than_transport),
	TEST(test_payload_size_and_unsupported_functions),
	TEST(test_set_and_get_byte_for_byte),
	TEST(test_access_variable_framing),
	TEST(test_get_next_variable_name),
	TEST(test_query_variable_info),
	TEST(test_events_and_phase_functions),
	TEST(test_lock_variable),
	TEST(test_var_check_properties),
	TEST(test_guest_cannot_write_past_message),
	TEST(test_pcap_capture),
	TEST(test_pcap_reader_faults),
};

VV_TEST_MAIN(tests)
