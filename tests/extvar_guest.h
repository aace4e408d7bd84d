/*
 * tests/extvar_guest.h -- a simulated VM for the doorbell device
 * (vmvars/extvarstore.h): guest RAM behind the VMM callbacks, and the two
 * ways the ExtVarStore driver moves a request (reference peer-services.md
 * §9.3-§9.4, aws/uefi patch 0023): the doorbell with the buffer's page
 * number, and the TRANSFER stream with the guest's own CRC check and
 * retry.  Used as an xv_guest transport (tests/xenvar_guest.h).
 */
#ifndef VMVARS_TEST_EXTVAR_GUEST_H
#define VMVARS_TEST_EXTVAR_GUEST_H

#include <zlib.h>

#include <vmvars/extvarstore.h>

#include "xenvar_guest.h"

#define EV_RAM_SIZE (1u << 20)
#define EV_BUF_GPA  0x40000u          /* page 0x40 */

struct ev_vm {
	uint8_t *ram;
	size_t ram_size;
	unsigned reads, writes;
	struct vv_extvar_device *dev;
	/* TRANSFER outcome of the last call */
	unsigned attempts;
	bool crc_ok;
	uint32_t last_size, last_crc;
};

static inline int
ev_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	struct ev_vm *vm = opaque;

	vm->reads++;
	if (gpa > vm->ram_size || len > vm->ram_size - gpa)
		return -1;
	memcpy(buf, vm->ram + gpa, len);
	return 0;
}

static inline int
ev_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	struct ev_vm *vm = opaque;

	vm->writes++;
	if (gpa > vm->ram_size || len > vm->ram_size - gpa)
		return -1;
	memcpy(vm->ram + gpa, buf, len);
	return 0;
}

static inline struct vv_guest_memory
ev_memory(struct ev_vm *vm)
{
	struct vv_guest_memory m = { ev_read, ev_write, vm };

	return m;
}

/* Doorbell transport: the request in the 16 pages at EV_BUF_GPA, one
 * 32-bit write of the page number; the buffer read back.  The response
 * length is what changed (0 if nothing did). */
static inline size_t
ev_call_doorbell(void *ctx, uint8_t *buf, size_t size, size_t req_len)
{
	struct ev_vm *vm = ctx;
	size_t n = size < XV_BUF ? size : XV_BUF;

	(void)req_len;
	memcpy(vm->ram + EV_BUF_GPA, buf, n);
	vv_extvar_device_write(vm->dev, 0, EV_BUF_GPA >> 12, 4);
	if (memcmp(vm->ram + EV_BUF_GPA, buf, n) == 0)
		return 0;
	memcpy(buf, vm->ram + EV_BUF_GPA, n);
	return n;
}

/* TRANSFER transport, as the guest driver does it: stream two bytes a
 * write, kick with the count, read the size (reset kick and retry when it
 * is 0 or unaligned, up to 2 attempts), the CRC, the words last first, and
 * check the CRC with an independent implementation (zlib). */
static inline size_t
ev_call_transfer(void *ctx, uint8_t *buf, size_t size, size_t req_len)
{
	struct ev_vm *vm = ctx;
	uint32_t out, crc;

	(void)size;
	vm->crc_ok = false;
	for (vm->attempts = 1; vm->attempts <= 2; vm->attempts++) {
		size_t i;

		for (i = 0; i < req_len; i += 2)
			vv_extvar_device_write(vm->dev, 0,
					       VV_EXTVAR_STREAM_MAGIC | (uint32_t)buf[i] << 16 |
					       (uint32_t)buf[i + 1] << 24, 4);
		vv_extvar_device_write(vm->dev, 0, VV_EXTVAR_KICK_MAGIC | (uint32_t)i << 16, 4);
		out = (uint16_t)vv_extvar_device_read(vm->dev, 0, 4);
		vm->last_size = out;
		if (out == 0 || (out & 3)) {
			vv_extvar_device_write(vm->dev, 0, VV_EXTVAR_KICK_MAGIC |
					       (uint32_t)VV_EXTVAR_INVALID_LEN << 16, 4);
			continue;
		}
		crc = (uint32_t)vv_extvar_device_read(vm->dev, 0, 4);
		vm->last_crc = crc;
		out -= 4;
		memset(buf, 0xaa, XV_BUF);
		for (i = out; i > 0; i -= 4)
			vv_put_le32(buf + i - 4, (uint32_t)vv_extvar_device_read(vm->dev, 0, 4));
		if (crc32(0, buf, out) == crc) {
			vm->crc_ok = true;
			return out;
		}
	}
	return 0;
}

static inline void
ev_vm_init(struct ev_vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->ram_size = EV_RAM_SIZE;
	vm->ram = calloc(1, EV_RAM_SIZE);
}

#endif
