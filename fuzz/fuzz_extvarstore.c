/*
 * fuzz/fuzz_extvarstore.c -- libFuzzer target for the doorbell device
 * (src/device/extvarstore.c) over a toy guest RAM: an arbitrary sequence
 * of register reads, 32- and 64-bit writes (doorbells, TRANSFER stream
 * bytes, kicks, reset kicks), RAM pokes and VM resets, against the engine
 * and a small store, in the AWS (all features) or Xen configuration.
 *
 * Input: byte 0 selects the configuration; then ops of 1 + 8 bytes:
 *   op % 5 == 0  read (size from the value's low byte: 1, 2, 4 or 8)
 *   op % 5 == 1  32-bit write of the value
 *   op % 5 == 2  64-bit write of the value
 *   op % 5 == 3  RAM poke: 4 bytes at value % RAM
 *   op % 5 == 4  device reset
 * Oracles besides the sanitizers: the device writes guest memory only
 * inside the 64 KiB + 4 it read for the doorbell in progress, and only
 * after reading it.
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/vmvars.h>

#define RAM (128u * 1024u)

static uint8_t ram[RAM];
static uint64_t read_gpa;
static bool have_read;

static int
mem_read(void *o, uint64_t gpa, void *buf, size_t len)
{
	(void)o;
	if (gpa > RAM || len > RAM - gpa)
		return -1;
	memcpy(buf, ram + gpa, len);
	read_gpa = gpa;
	have_read = true;
	return 0;
}

static int
mem_write(void *o, uint64_t gpa, const void *buf, size_t len)
{
	(void)o;
	if (!have_read || gpa < read_gpa || gpa - read_gpa + len > 65536 + 4)
		abort();
	if (gpa > RAM || len > RAM - gpa)
		return -1;
	memcpy(ram + gpa, buf, len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned sizes[] = { 1, 2, 4, 8 };
	struct vv_guest_memory mem = { mem_read, mem_write, NULL };
	struct vv_xenvar_config xc = { 0 };
	struct vv_extvar_config dc = { 0 };
	struct vv_limits sl;
	struct vv_store *s;
	struct vv_xenvar *x;
	struct vv_extvar_device *d;

	if (size < 1)
		return 0;
	dc.feature_word = !(data[0] & 1);
	dc.features = data[0] >> 1;
	xc.dialect = dc.feature_word ? VV_XENVAR_AWS : VV_XENVAR_XEN;
	vv_xenvar_limits_default(&xc.limits);
	vv_xenvar_store_limits(&xc.limits, &sl);
	s = vv_store_new(&sl);
	x = vv_xenvar_new(s, &xc);
	d = vv_extvar_device_new_engine(x, s, &mem, &dc);
	if (s == NULL || x == NULL || d == NULL)
		abort();
	memset(ram, 0, RAM);
	data++;
	size--;
	for (; size >= 9; data += 9, size -= 9) {
		uint64_t v = 0;

		for (int i = 0; i < 8; i++)
			v |= (uint64_t)data[1 + i] << (8 * i);
		have_read = false;
		switch (data[0] % 5) {
		case 0:
			(void)vv_extvar_device_read(d, data[0] >> 7, sizes[v & 3]);
			break;
		case 1:
			vv_extvar_device_write(d, 0, v & 0xffffffffu, 4);
			break;
		case 2:
			vv_extvar_device_write(d, 0, v, 8);
			break;
		case 3:
			memcpy(ram + (v >> 32) % (RAM - 4), &v, 4);
			break;
		default:
			vv_extvar_device_reset(d);
			break;
		}
	}
	vv_extvar_device_free(d);
	vv_xenvar_free(x);
	vv_store_free(s);
	return 0;
}
