/*
 * fuzz/fuzz_policy.c -- libFuzzer target for the variable policy MM
 * protocol (src/proto/mm_policy.c) and the engine behind it
 * (src/policy/policy.c), driven through vv_mm_handle as a guest would.
 *
 * One input is a sequence of requests against one fresh store, engine and
 * endpoint, so that state carried between requests (the table, the lock,
 * the DUMP pagination snapshot) is exercised too.  Each request is
 *
 *   flags u8, length u16 LE, then `length` message bytes
 *
 * and is placed after an MM header with the policy HeaderGuid in a zeroed
 * 64 KiB buffer.  Flags:
 *   bit 0  write a valid "VCPC"/revision 1 over the first 8 message bytes
 *   bit 1  pad MessageLength to 16360 (what the edk2 DXE driver sends), so
 *          DUMP and GET_INFO are reachable without huge inputs
 *   bit 2  signal EndOfDxe before the request
 *   bit 3  signal a VM reset before the request
 *   bit 4  after the request, run a policy check and a guest SetVariable
 *          for a name taken from the message, to exercise matching and
 *          the lock rules
 * Oracle besides the sanitizers: the reply never touches a byte at or past
 * 24 + MessageLength, the MessageLength is never changed, and the status is
 * VV_STS_SUCCESS.
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/mm.h>
#include <vmvars/policy.h>
#include <vmvars/store.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FULL_MSG 16360u

static uint8_t buf[VV_MM_MAX_BUFFER];
static const uint8_t zeros[VV_MM_MAX_BUFFER];

/* A guest write of one byte for a name cut from the message. */
static void
exercise_check(struct vv_store *s, struct vv_policy *p, const uint8_t *msg, size_t len)
{
	uint16_t name[16];
	size_t n = 0;
	vv_guid g;
	uint8_t one = 1;
	struct vv_set_request r;

	if (len < 20 + 24 + 16)
		return;
	/* The namespace and name bytes of a REGISTER entry, if that is what
	 * was sent: the same spots as the entry's Namespace and name. */
	memcpy(g.b, msg + 20 + 8, 16);
	while (n < 16 && 20 + 44 + 2 * n + 1 < len) {
		name[n] = vv_le16(msg + 20 + 44 + 2 * n);
		if (name[n] == 0)
			break;
		n++;
	}
	if (n == 0)
		return;
	(void)vv_policy_check(p, name, n, &g, VV_ATTR_BS | VV_ATTR_RT, 1);
	memset(&r, 0, sizeof(r));
	r.name = name;
	r.name_len = n;
	r.guid = g;
	r.attributes = VV_ATTR_BS | VV_ATTR_RT;
	r.data = &one;
	r.data_size = 1;
	r.caller = VV_CALLER_GUEST;
	(void)vv_store_set(s, &r);
}

static void
one_request(struct vv_store *s, struct vv_policy *p, struct vv_mm *mm, uint8_t flags,
	    const uint8_t *msg, size_t len)
{
	uint64_t msg_len = len;
	uint16_t sts;

	if (flags & 0x08)
		vv_store_signal(s, VV_EVENT_RESET);
	if (flags & 0x04)
		vv_store_signal(s, VV_EVENT_END_OF_DXE);
	memset(buf, 0, sizeof(buf));
	memcpy(buf, VV_GUID_VAR_CHECK_POLICY_MMI.b, 16);
	memcpy(buf + VV_MM_HEADER_SIZE, msg, len);
	if ((flags & 0x02) && msg_len < FULL_MSG)
		msg_len = FULL_MSG;
	if ((flags & 0x01) && msg_len >= 8) {
		vv_put_le32(buf + VV_MM_HEADER_SIZE, VV_POLICY_COMM_SIGNATURE);
		vv_put_le32(buf + VV_MM_HEADER_SIZE + 4, VV_POLICY_COMM_REVISION);
	}
	vv_put_le64(buf + 16, msg_len);

	sts = vv_mm_handle(mm, buf, sizeof(buf));
	if (msg_len < VV_MM_POLICY_HEADER_SIZE) {
		if (sts != VV_STS_ERR_BAD_BUFFER_SIZE)
			abort();
	} else if (sts != VV_STS_SUCCESS) {
		abort();
	}
	if (vv_le64(buf + 16) != msg_len)
		abort();
	/* memcmp, not a byte loop: the loop would be coverage-instrumented
	 * and cost most of each run's time. */
	if (memcmp(buf + VV_MM_HEADER_SIZE + msg_len, zeros,
		   sizeof(buf) - VV_MM_HEADER_SIZE - (size_t)msg_len) != 0)
		abort();
	if (flags & 0x10)
		exercise_check(s, p, buf + VV_MM_HEADER_SIZE, (size_t)msg_len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vv_store *s = vv_store_new(NULL);
	struct vv_policy *p;
	struct vv_mm *mm;
	size_t off = 0;

	if (s == NULL)
		return 0;
	p = vv_policy_new(s, NULL);
	mm = vv_mm_new(s, p);
	if (p == NULL || mm == NULL)
		abort();
	/* At most 64 requests per input keeps each run short. */
	for (int n = 0; n < 64 && size - off >= 3; n++) {
		uint8_t flags = data[off];
		size_t len = vv_le16(data + off + 1);

		off += 3;
		if (len > size - off)
			len = size - off;
		if (len > VV_MM_MAX_BUFFER - VV_MM_HEADER_SIZE)
			len = VV_MM_MAX_BUFFER - VV_MM_HEADER_SIZE;
		one_request(s, p, mm, flags, data + off, len);
		off += len;
	}
	vv_mm_free(mm);
	vv_policy_free(p);      /* detaches from the store: before it */
	vv_store_free(s);
	return 0;
}
