/*
 * fuzz/fuzz_xen_ioreq.c -- libFuzzer target for the Xen front end
 * (src/device/xen_ioreq.c) on a simulated ioreq page: the input's first
 * 64 KiB at most fill the guest's buffer pages, then each 33-byte chunk is
 * one vCPU slot (1 byte vCPU number + the 32-byte slot as the hypervisor
 * would leave it) followed by an event for that vCPU.
 *
 * Oracles besides the sanitizers: a handled slot always ends
 * IORESP_READY with its own port notified; a slot that was not
 * IOREQ_READY is left byte for byte as it was.
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/vmvars.h>

#define RAM (256u * 1024u)
#define VCPUS 4u

static uint8_t ram[RAM], page[4096];
static uint32_t notified;

static int
mem_read(void *o, uint64_t gpa, void *buf, size_t len)
{
	(void)o;
	if (gpa > RAM || len > RAM - gpa)
		return -1;
	memcpy(buf, ram + gpa, len);
	return 0;
}

static int
mem_write(void *o, uint64_t gpa, const void *buf, size_t len)
{
	(void)o;
	if (gpa > RAM || len > RAM - gpa)
		return -1;
	memcpy(ram + gpa, buf, len);
	return 0;
}

static int
on_notify(void *o, uint32_t port)
{
	(void)o;
	notified = port;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vv_guest_memory mem = { mem_read, mem_write, NULL };
	struct vv_extvar_config dc = { false, 0 };
	struct vv_xen_ops ops = { on_notify, NULL };
	struct vv_xenvar_limits lim;
	struct vv_limits sl;
	struct vv_store *s;
	struct vv_xenvar *x;
	struct vv_extvar_device *d;
	struct vv_xen_frontend *f;
	size_t head;

	if (size < 2)
		return 0;
	vv_xenvar_limits_default(&lim);
	vv_xenvar_store_limits(&lim, &sl);
	s = vv_store_new(&sl);
	x = vv_xenvar_new(s, NULL);
	d = vv_extvar_device_new_engine(x, s, &mem, &dc);
	f = vv_xen_frontend_new(page, VCPUS, d, &ops);
	if (s == NULL || x == NULL || d == NULL || f == NULL)
		abort();
	memset(ram, 0, RAM);
	memset(page, 0, sizeof(page));
	/* byte 0: how many 256-byte blocks of the input are buffer content */
	head = (size_t)data[0] * 256;
	data++;
	size--;
	if (head > size)
		head = size;
	memcpy(ram + 0x10000, data, head);
	data += head;
	size -= head;
	for (; size >= 33; data += 33, size -= 33) {
		unsigned v = data[0] % (VCPUS + 1);
		uint8_t before[32];
		uint8_t *slot;
		int rc;

		if (v == VCPUS) {
			if (vv_xen_frontend_event(f, v) != -1)
				abort();
			continue;
		}
		slot = page + v * 32;
		memcpy(slot, data + 1, 32);
		memcpy(before, slot, 32);
		notified = ~0u;
		rc = vv_xen_frontend_event(f, v);
		if ((before[30] & 0x0f) != 1) {
			if (rc != 0 || memcmp(before, slot, 32) != 0)
				abort();
			continue;
		}
		if (rc != 1 || (slot[30] & 0x0f) != 3 || notified != vv_le32(before + 24))
			abort();
	}
	vv_xen_frontend_free(f);
	vv_extvar_device_free(d);
	vv_xenvar_free(x);
	vv_store_free(s);
	return 0;
}
