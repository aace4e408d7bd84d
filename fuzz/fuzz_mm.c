/*
 * fuzz/fuzz_mm.c -- libFuzzer target for the MM request path: one MM
 * communicate buffer (24-byte header + message) per input, run against a
 * small populated store (with variable policy, Secure Boot and MOR
 * attached, as the product runs) in each boot phase, with the device's 64 KiB
 * buffer and with a buffer exactly as long as the input.
 *
 * Oracles besides the sanitizers: the reply never changes MessageLength,
 * never writes past 24 + MessageLength, and a transport error writes
 * nothing at all.
 */
#include <stdlib.h>
#include <string.h>
#include <uchar.h>

#include <vmvars/mor.h>
#include <vmvars/secureboot.h>
#include <vmvars/vmvars.h>

#define BUF 65536u
#define U(s) ((const uint16_t *)u"" s), (sizeof(u"" s) / 2 - 1)

static uint8_t buf[BUF], copy[BUF];

static void
populate(struct vv_store *s, struct vv_policy *p)
{
	static const uint8_t entry[] = {
		0x00, 0x00, 0x01, 0x00, 0x38, 0x00, 0x2c, 0x00,      /* rev, size 56, off 44 */
		0x78, 0x56, 0x34, 0x12, 0x34, 0x12, 0x34, 0x12,
		0x12, 0x34, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc,      /* namespace */
		0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0,
		0x02, 0, 0, 0,                                       /* LOCK_ON_CREATE */
		'L', 0, 'o', 0, 'c', 0, 'k', 0, 'e', 0, 0, 0,        /* "Locke" */
	};
	vv_guid g;
	struct vv_set_request r = { 0 };

	vv_guid_parse("12345678-1234-1234-1234-123456789abc", &g);
	r.caller = VV_CALLER_HOST;
	r.guid = g;
	r.attributes = VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT;
	r.name = (const uint16_t *)u"Locke";
	r.name_len = 5;
	r.data = (const uint8_t *)"abc";
	r.data_size = 3;
	vv_store_set(s, &r);
	r.name = (const uint16_t *)u"BsOnly";
	r.name_len = 6;
	r.attributes = VV_ATTR_BS;
	vv_store_set(s, &r);
	r.guid = VV_GUID_GLOBAL_VARIABLE;
	r.name = (const uint16_t *)u"BootOrder";
	r.name_len = 9;
	r.attributes = VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT;
	r.data_size = 2;
	vv_store_set(s, &r);
	vv_policy_register(p, entry, sizeof(entry));
}

static void
run_one(struct vv_mm *mm, const uint8_t *data, size_t size, size_t buf_size)
{
	uint64_t msg_len, end;
	uint16_t sts;

	memset(buf, 0, BUF);
	memcpy(buf, data, size);
	memcpy(copy, buf, BUF);
	sts = vv_mm_handle(mm, buf, buf_size);
	if (sts == VV_STS_ERR_BAD_BUFFER_SIZE) {
		if (memcmp(buf, copy, BUF) != 0)
			abort();
		return;
	}
	msg_len = vv_le64(buf + 16);
	if (msg_len != vv_le64(copy + 16))
		abort();
	end = 24 + msg_len;                         /* <= buf_size: checked by mm */
	if (end > buf_size || memcmp(buf + end, copy + end, BUF - end) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum vv_event phases[] = { VV_EVENT_END_OF_DXE, VV_EVENT_EXIT_BOOT_SERVICES };
	struct vv_store *s;
	struct vv_policy *p;
	struct vv_secureboot *sb;
	struct vv_mor *mor;
	struct vv_mm *mm;

	if (size > BUF)
		return 0;
	s = vv_store_new(NULL);
	p = vv_policy_new(s, NULL);
	sb = vv_secureboot_new(s, NULL);
	mor = vv_mor_new(s, true);
	mm = vv_mm_new(s, p);
	if (s == NULL || p == NULL || sb == NULL || mor == NULL || mm == NULL)
		abort();
	populate(s, p);
	run_one(mm, data, size, BUF);
	run_one(mm, data, size, size);
	for (size_t i = 0; i < 2; i++) {
		vv_store_signal(s, phases[i]);
		run_one(mm, data, size, BUF);
	}
	vv_store_signal(s, VV_EVENT_RESET);
	run_one(mm, data, size, BUF);
	vv_mm_free(mm);
	vv_mor_free(mor);
	vv_secureboot_free(sb);
	vv_policy_free(p);
	vv_store_free(s);
	return 0;
}
