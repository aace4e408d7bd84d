/*
 * fuzz/fuzz_device.c -- libFuzzer target: arbitrary register access
 * sequences against the uefi-vars device (device-abi §3-§5), one device in
 * DMA mode over a small toy guest RAM and one in PIO mode without guest
 * memory, both on a fresh store (null backend) and MM endpoint; each input
 * runs twice, the endpoint reached through checked_handle and then inside
 * the devices (vv_uefi_vars_device_new: its statistics and reset).
 *
 * Input: a sequence of operations, each starting with an op byte:
 *   bit 0     device: 0 = DMA, 1 = PIO
 *   bits 1-2  kind: 0 read, 1 write, 2 guest-RAM poke, 3 full device reset
 *   bits 3-4  access size: 1, 2, 4, 8
 *   bits 5-7  unused
 * read:   offset byte (the whole byte: offsets past 0x20 are exercised)
 * write:  offset byte, then `size` value bytes, little-endian
 * poke:   2 bytes RAM offset, 1 byte length, then that many bytes copied
 *         into guest RAM (so that DMA_MM finds requests there)
 * A truncated operation ends the input.  Must never crash, leak or read
 * uninitialised memory; sanitizers do the checking.  One oracle besides:
 * in the first run the MM endpoint is reached through a handler that aborts unless the
 * buffer beyond 24 + MessageLength is zero when it is called (invariant
 * (2) of src/device/uefi_vars_device.c: the device zeroes only what the
 * last request left there, so a missed case would show here).
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/backend.h>
#include <vmvars/mm.h>
#include <vmvars/store.h>
#include <vmvars/uefi_vars_device.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM_BASE 0x1000ULL
#define RAM_SIZE 8192u

static uint8_t ram[RAM_SIZE];

/* Refuses any range that is not entirely inside ram[]. */
static int
ram_range(uint64_t gpa, size_t len, size_t *off)
{
	if (gpa < RAM_BASE || gpa - RAM_BASE > RAM_SIZE || len > RAM_SIZE - (gpa - RAM_BASE))
		return -1;
	*off = (size_t)(gpa - RAM_BASE);
	return 0;
}

static int
ram_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	size_t off;

	if (ram_range(gpa, len, &off) != 0)
		return -1;
	memcpy(buf, ram + off, len);
	return 0;
}

static int
ram_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	size_t off;

	if (ram_range(gpa, len, &off) != 0)
		return -1;
	memcpy(ram + off, buf, len);
	return 0;
}

/* The endpoint behind both devices, through checked_handle. */
struct endpoint {
	struct vv_mm *mm;
	struct vv_store *store;
};

/* Invariant (2): the request fits the buffer and the rest of it is zero. */
static uint16_t
checked_handle(void *opaque, uint8_t *buf, size_t buf_size)
{
	struct endpoint *e = opaque;
	uint64_t total = VV_MM_HEADER_SIZE + vv_le64(buf + 16);

	if (buf_size < VV_MM_HEADER_SIZE || total < VV_MM_HEADER_SIZE || total > buf_size)
		abort();
	for (size_t i = (size_t)total; i < buf_size; i++)
		if (buf[i] != 0)
			abort();
	return vv_mm_handle(e->mm, buf, buf_size);
}

static void
checked_reset(void *opaque)
{
	struct endpoint *e = opaque;

	vv_store_signal(e->store, VV_EVENT_RESET);
}

/* Consumes n bytes of input; false when fewer remain. */
static bool
take(const uint8_t **p, size_t *left, size_t n, const uint8_t **out)
{
	if (*left < n)
		return false;
	*out = *p;
	*p += n;
	*left -= n;
	return true;
}

/* Runs one operation; false when the input is exhausted. */
static bool
run_op(struct vv_uefi_vars_device *devs[2], const uint8_t **p, size_t *left)
{
	static const unsigned sizes[4] = { 1, 2, 4, 8 };
	const uint8_t *op, *arg;
	struct vv_uefi_vars_device *d;
	unsigned access;
	uint64_t value = 0;
	size_t off, len;

	if (!take(p, left, 1, &op))
		return false;
	d = devs[op[0] & 1];
	access = sizes[(op[0] >> 3) & 3];
	switch ((op[0] >> 1) & 3) {
	case 0:
		if (!take(p, left, 1, &arg))
			return false;
		(void)vv_uefi_vars_device_read(d, arg[0], access);
		return true;
	case 1:
		if (!take(p, left, 1 + access, &arg))
			return false;
		for (unsigned i = 0; i < access; i++)
			value |= (uint64_t)arg[1 + i] << (8 * i);
		vv_uefi_vars_device_write(d, arg[0], value, access);
		return true;
	case 2:
		if (!take(p, left, 3, &arg))
			return false;
		off = ((size_t)arg[0] | ((size_t)arg[1] << 8)) % RAM_SIZE;
		len = arg[2];
		if (len > RAM_SIZE - off)
			len = RAM_SIZE - off;
		if (!take(p, left, len, &arg))
			return false;
		memcpy(ram + off, arg, len);
		return true;
	default:
		vv_uefi_vars_device_reset(d);
		return true;
	}
}

/* The input against a fresh store; checked: the endpoint behind
 * checked_handle (vv_uefi_vars_device_new_handler), else inside the
 * devices (vv_uefi_vars_device_new: its statistics and reset). */
static void
run_input(const uint8_t *data, size_t size, bool checked)
{
	struct vv_guest_memory mem = { ram_read, ram_write, NULL };
	struct vv_uefi_vars_device *devs[2] = { NULL, NULL };
	struct vv_backend *backend;
	struct vv_store *store;
	struct vv_mm *mm = NULL;
	struct endpoint e;
	struct vv_mm_handler h = { checked_handle, checked_reset, &e };

	memset(ram, 0, sizeof(ram));
	store = vv_store_new(NULL);
	if (store == NULL)
		return;
	backend = vv_null_backend_new();
	if (backend == NULL)
		goto out;
	vv_store_set_backend(store, backend);
	mm = vv_mm_new(store, NULL);
	if (mm == NULL)
		goto out;
	e.mm = mm;
	e.store = store;
	devs[0] = checked ? vv_uefi_vars_device_new_handler(&h, &mem, false)
			  : vv_uefi_vars_device_new(mm, &mem, false);
	devs[1] = checked ? vv_uefi_vars_device_new_handler(&h, NULL, true)
			  : vv_uefi_vars_device_new(mm, NULL, true);
	if (devs[0] == NULL || devs[1] == NULL)
		goto out;
	while (run_op(devs, &data, &size))
		;
out:
	vv_uefi_vars_device_free(devs[0]);
	vv_uefi_vars_device_free(devs[1]);
	vv_mm_free(mm);
	vv_store_free(store);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run_input(data, size, true);
	run_input(data, size, false);
	return 0;
}
