/*
 * fuzz/fuzz_xenvar.c -- libFuzzer target for the varstored wire protocol
 * engine (src/proto/xen.c), both dialects: one communication buffer per
 * input, byte 0 choosing the dialect and the buffer length (the whole
 * 64 KiB or exactly the input), run against a small populated store with
 * Secure Boot and MOR attached, at boot time and at runtime.
 *
 * Oracles besides the sanitizers: no response leaves the buffer exactly
 * as it was; a response is at least the 8-byte status, fits the buffer,
 * and everything after it is zero.
 */
#include <stdlib.h>
#include <string.h>
#include <uchar.h>

#include <vmvars/mor.h>
#include <vmvars/secureboot.h>
#include <vmvars/vmvars.h>

#define BUF 65536u

static uint8_t buf[BUF], copy[BUF];

static void
populate(struct vv_store *s)
{
	struct vv_set_request r = { 0 };

	vv_guid_parse("12345678-1234-1234-1234-123456789abc", &r.guid);
	r.caller = VV_CALLER_HOST;
	r.attributes = VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT;
	r.name = (const uint16_t *)u"Keep";
	r.name_len = 4;
	r.data = (const uint8_t *)"abc";
	r.data_size = 3;
	vv_store_set(s, &r);
	r.name = (const uint16_t *)u"BsOnly";
	r.name_len = 6;
	r.attributes = VV_ATTR_BS;
	vv_store_set(s, &r);
}

static void
run_one(struct vv_xenvar *x, const uint8_t *data, size_t size, size_t buf_size)
{
	size_t len;

	memset(buf, 0, BUF);
	memcpy(buf, data, size);
	memcpy(copy, buf, BUF);
	len = vv_xenvar_handle(x, buf, buf_size);
	if (len == 0) {
		if (memcmp(buf, copy, BUF) != 0)
			abort();
		return;
	}
	if (len < 8 || len > buf_size)
		abort();
	for (size_t i = len; i < buf_size; i++)
		if (buf[i] != 0)
			abort();
	if (memcmp(buf + buf_size, copy + buf_size, BUF - buf_size) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vv_xenvar_config cfg = { 0 };
	struct vv_limits lim;
	struct vv_store *s;
	struct vv_secureboot *sb;
	struct vv_mor *mor;
	struct vv_xenvar *x;
	uint8_t sel;

	if (size < 1 || size - 1 > BUF)
		return 0;
	sel = data[0];
	data++;
	size--;
	cfg.dialect = (sel & 1) ? VV_XENVAR_AWS : VV_XENVAR_XEN;
	vv_xenvar_limits_default(&cfg.limits);
	vv_xenvar_store_limits(&cfg.limits, &lim);
	s = vv_store_new(&lim);
	sb = vv_secureboot_new(s, NULL);
	mor = vv_mor_new(s, true);
	x = vv_xenvar_new(s, &cfg);
	if (s == NULL || sb == NULL || mor == NULL || x == NULL)
		abort();
	populate(s);
	run_one(x, data, size, (sel & 2) ? size : BUF);
	run_one(x, data, size, BUF);
	vv_store_signal(s, VV_EVENT_EXIT_BOOT_SERVICES);
	run_one(x, data, size, BUF);
	vv_xenvar_free(x);
	vv_mor_free(mor);
	vv_secureboot_free(sb);
	vv_store_free(s);
	return 0;
}
