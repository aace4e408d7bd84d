/*
 * src/device/uefi_vars_device.c -- the uefi-vars register block
 * (device-abi §3-§5) as a library object: register decoding, the DMA and
 * PIO transports, and the copy of each MM request into a private buffer
 * before vv_mm_handle() parses it.
 *
 * Invariants (tests/test_device.c checks each):
 *  (1) pio_buf and mm_buf are both allocated iff buf_size > 0, each holds
 *      exactly buf_size <= VV_MM_MAX_BUFFER bytes, and both are zero-filled
 *      when allocated (CVE-2025-8860, device-abi §18).
 *  (2) mm_buf is the only buffer the MM layer sees.  Each MM command gives
 *      it the 24-byte header and the body once each (no double fetch,
 *      device-abi §4); the header's MessageLength is decoded once and that
 *      value alone sizes the body and the reply.  Beyond the body it is
 *      zero when the handler sees it: mm_buf[mm_dirty, buf_size) is always
 *      zero, and each command zeroes [24 + MessageLength, mm_dirty) -- what
 *      a longer earlier request left -- rather than all 64 KiB (a memset
 *      that cost about as much as serving a GetVariable,
 *      docs/performance.md).  Handlers write only within the request's
 *      bytes (vmvars/mm.h, vmvars/uefi_vars_device.h).
 *  (3) The reply is exactly 24 + MessageLength bytes from mm_buf offset 0,
 *      written to offset 0 of where the request came from (the guest
 *      address in DMA mode, the PIO buffer in PIO mode): never QEMU
 *      10.0-10.2's copy 24 bytes too far (device-abi §4 step 6, §18.1).
 *  (4) Every PIO transfer and the CRC stay within [0, buf_size), even when
 *      pio_offset exceeds buf_size after the buffer shrank (device-abi §3,
 *      §18): pio_offset is kept across BUFFER_SIZE writes and soft RESET
 *      as QEMU keeps it, but it can never index past the buffer.
 *  (5) Only the guest-memory callbacks touch guest RAM, each with a range
 *      [gpa, gpa + len) that does not wrap around 2^64.
 *
 * The VMM serialises calls (one register access at a time), as QEMU's BQL
 * does; the object holds no lock.
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/uefi_vars_device.h>

#include "core/crc32.h"
#include "core/cursor.h"
#include "core/zero_tail.h"
#include "proto/mm_internal.h"

struct vv_uefi_vars_device {
	struct vv_mm *mm;               /* NULL for vv_uefi_vars_device_new_handler */
	struct vv_mm_handler handler;   /* where requests go: mm, or the VMM's */
	struct vv_guest_memory mem;     /* callbacks may be NULL (PIO only) */
	bool use_pio;                   /* FLAGS bit 0; fixed at creation */

	uint16_t status;                /* CMD_STS read: last command's status */
	uint32_t buf_size;              /* 0 .. VV_MM_MAX_BUFFER, invariant (1) */
	uint32_t dma_addr_lo;
	uint32_t dma_addr_hi;
	uint32_t pio_offset;            /* may exceed buf_size, invariant (4) */
	uint8_t *pio_buf;               /* the PIO transfer buffer */
	uint8_t *mm_buf;                /* private copy of one request */
	size_t mm_dirty;                /* mm_buf beyond it is zero, (2) */
};

/* ---- buffers ---- */

static void
free_buffers(struct vv_uefi_vars_device *d)
{
	free(d->pio_buf);
	free(d->mm_buf);
	d->pio_buf = NULL;
	d->mm_buf = NULL;
	d->buf_size = 0;
	d->mm_dirty = 0;
}

/*
 * BUFFER_SIZE write (device-abi §3): clamp to 64 KiB, drop both buffers
 * and allocate new zero-filled ones.  0, or an allocation failure, leaves
 * no buffer: MM commands then report BAD_BUFFER_SIZE (§3.2) and PIO
 * transfers are discarded.
 */
static void
set_buffer_size(struct vv_uefi_vars_device *d, uint32_t requested)
{
	uint32_t size = requested > VV_MM_MAX_BUFFER ? VV_MM_MAX_BUFFER : requested;
	uint8_t *pio, *mm;

	free_buffers(d);
	if (size == 0)
		return;
	pio = calloc(1, size);
	mm = calloc(1, size);
	if (pio == NULL || mm == NULL) {
		free(pio);
		free(mm);
		return;
	}
	d->pio_buf = pio;
	d->mm_buf = mm;
	d->buf_size = size;
}

/* ---- guest memory, invariant (5) ---- */

static int
guest_read(struct vv_uefi_vars_device *d, uint64_t gpa, void *buf, uint64_t len)
{
	uint64_t end;

	if (len == 0)
		return 0;
	if (d->mem.read == NULL || vv_add_overflow(gpa, len, &end))
		return -1;
	return d->mem.read(d->mem.opaque, gpa, buf, (size_t)len) == 0 ? 0 : -1;
}

static int
guest_write(struct vv_uefi_vars_device *d, uint64_t gpa, const void *buf, uint64_t len)
{
	uint64_t end;

	if (len == 0)
		return 0;
	if (d->mem.write == NULL || vv_add_overflow(gpa, len, &end))
		return -1;
	return d->mem.write(d->mem.opaque, gpa, buf, (size_t)len) == 0 ? 0 : -1;
}

/* ---- one MM request, device-abi §4 ---- */

/*
 * A non-zero CMD_STS the device produces itself (vv_mm_handle counts its
 * own): counted in the endpoint's statistics, so that every failed command
 * shows up once in vv_mm_stats()->transport_errors.
 */
static uint16_t
transport_error(struct vv_uefi_vars_device *d, uint16_t sts)
{
	if (d->mm != NULL)
		d->mm->stats.transport_errors++;
	return sts;
}

/*
 * Steps 1-2 of §4 on the header already in mm_buf[0, 24): decode
 * MessageLength once and check 24 + MessageLength <= buf_size without
 * overflow.  Sets *total (the request and reply size) or returns false
 * (BAD_BUFFER_SIZE, §3.2).
 */
static bool
request_total(const struct vv_uefi_vars_device *d, uint64_t *total)
{
	uint64_t message_length = vv_le64(d->mm_buf + 16);

	if (vv_add_overflow(VV_MM_HEADER_SIZE, message_length, total))
		return false;
	return *total <= d->buf_size;
}

/* A buffer that can hold the 24-byte header (§3.2: "no buffer allocated;
 * buf_size < 24" give BAD_BUFFER_SIZE). */
static bool
have_request_buffer(const struct vv_uefi_vars_device *d)
{
	return d->mm_buf != NULL && d->buf_size >= VV_MM_HEADER_SIZE;
}

/* Step 5 and the rule of step 6: write back on SUCCESS and on
 * NOT_SUPPORTED (unknown HeaderGuid) only (vmvars/mm.h). */
static bool
reply_expected(uint16_t sts)
{
	return sts == VV_STS_SUCCESS || sts == VV_STS_ERR_NOT_SUPPORTED;
}

static uint64_t
dma_address(const struct vv_uefi_vars_device *d)
{
	return ((uint64_t)d->dma_addr_hi << 32) | d->dma_addr_lo;
}

/*
 * Invariant (2), before the header is read: its 24 bytes are about to be
 * written and stay dirty if the command stops there.  Once the request's
 * total is known (<= buf_size), vv_zero_tail zeroes what the last request
 * left beyond it (core/zero_tail.h).
 */
static void
header_dirty(struct vv_uefi_vars_device *d)
{
	if (d->mm_dirty < VV_MM_HEADER_SIZE)
		d->mm_dirty = VV_MM_HEADER_SIZE;
}

/*
 * CMD 2 DMA_MM.  A refused guest read changes nothing and gives
 * ERR_UNKNOWN (vmvars/uefi_vars_device.h).  A refused write-back comes
 * after the store has acted on the request; the guest then sees
 * ERR_UNKNOWN (EFI_DEVICE_ERROR), as for a lost reply.
 */
static uint16_t
cmd_dma_mm(struct vv_uefi_vars_device *d)
{
	uint64_t gpa = dma_address(d), total, end;
	uint16_t sts;

	if (!have_request_buffer(d))
		return transport_error(d, VV_STS_ERR_BAD_BUFFER_SIZE);
	header_dirty(d);
	if (guest_read(d, gpa, d->mm_buf, VV_MM_HEADER_SIZE) != 0)
		return transport_error(d, VV_STS_ERR_UNKNOWN);
	if (!request_total(d, &total))
		return transport_error(d, VV_STS_ERR_BAD_BUFFER_SIZE);
	vv_zero_tail(d->mm_buf, &d->mm_dirty, (size_t)total);
	/* A reply range that wraps would be refused only after the store
	 * acted; refuse the request before (invariant (5)). */
	if (vv_add_overflow(gpa, total, &end))
		return transport_error(d, VV_STS_ERR_UNKNOWN);
	if (guest_read(d, gpa + VV_MM_HEADER_SIZE, d->mm_buf + VV_MM_HEADER_SIZE,
		       total - VV_MM_HEADER_SIZE) != 0)
		return transport_error(d, VV_STS_ERR_UNKNOWN);
	sts = d->handler.handle(d->handler.opaque, d->mm_buf, d->buf_size);
	if (!reply_expected(sts))
		return sts;
	if (guest_write(d, gpa, d->mm_buf, total) != 0) {
		/* vv_mm_handle has counted a NOT_SUPPORTED already. */
		if (sts == VV_STS_SUCCESS)
			return transport_error(d, VV_STS_ERR_UNKNOWN);
		return VV_STS_ERR_UNKNOWN;
	}
	return sts;
}

/* CMD 3 PIO_MM: the same, from and back to the PIO buffer at offset 0. */
static uint16_t
cmd_pio_mm(struct vv_uefi_vars_device *d)
{
	uint64_t total;
	uint16_t sts;

	if (!have_request_buffer(d))
		return transport_error(d, VV_STS_ERR_BAD_BUFFER_SIZE);
	header_dirty(d);
	memcpy(d->mm_buf, d->pio_buf, VV_MM_HEADER_SIZE);
	if (!request_total(d, &total))
		return transport_error(d, VV_STS_ERR_BAD_BUFFER_SIZE);
	vv_zero_tail(d->mm_buf, &d->mm_dirty, (size_t)total);
	memcpy(d->mm_buf + VV_MM_HEADER_SIZE, d->pio_buf + VV_MM_HEADER_SIZE,
	       (size_t)(total - VV_MM_HEADER_SIZE));
	sts = d->handler.handle(d->handler.opaque, d->mm_buf, d->buf_size);
	if (reply_expected(sts))
		memcpy(d->pio_buf, d->mm_buf, (size_t)total);
	return sts;
}

/*
 * CMD 1 RESET (device-abi §3.1): buf_size and the DMA address to 0, the MM
 * buffer freed; variables and phase untouched.  QEMU keeps the PIO buffer
 * allocated, but with buf_size 0 nothing can reach it, so it is freed too
 * (invariant (1)).  pio_offset keeps its value, as in QEMU (invariant (4)).
 */
static void
soft_reset(struct vv_uefi_vars_device *d)
{
	free_buffers(d);
	d->dma_addr_lo = 0;
	d->dma_addr_hi = 0;
}

static uint16_t
run_command(struct vv_uefi_vars_device *d, uint16_t cmd)
{
	switch (cmd) {
	case VV_CMD_RESET:
		soft_reset(d);
		return VV_STS_SUCCESS;
	case VV_CMD_DMA_MM:
		return cmd_dma_mm(d);
	case VV_CMD_PIO_MM:
		return cmd_pio_mm(d);
	case VV_CMD_PIO_ZERO_OFFSET:
		d->pio_offset = 0;
		return VV_STS_SUCCESS;
	default:
		return transport_error(d, VV_STS_ERR_NOT_SUPPORTED);
	}
}

/* ---- PIO transfer register, device-abi §3 ---- */

/* True when size bytes at pio_offset lie inside the buffer. */
static bool
pio_fits(const struct vv_uefi_vars_device *d, unsigned size)
{
	return d->pio_buf != NULL && (uint64_t)d->pio_offset + size <= d->buf_size;
}

static uint64_t
pio_read(struct vv_uefi_vars_device *d, unsigned size)
{
	uint64_t value = 0;

	if (!pio_fits(d, size))
		return 0;
	for (unsigned i = 0; i < size; i++)
		value |= (uint64_t)d->pio_buf[d->pio_offset + i] << (8 * i);
	d->pio_offset += size;
	return value;
}

static void
pio_write(struct vv_uefi_vars_device *d, uint64_t value, unsigned size)
{
	if (!pio_fits(d, size))
		return;
	for (unsigned i = 0; i < size; i++)
		d->pio_buf[d->pio_offset + i] = (uint8_t)(value >> (8 * i));
	d->pio_offset += size;
}

/* CRC-32C of pio_buf[0, min(pio_offset, buf_size)) (device-abi §3, §18). */
static uint32_t
pio_crc(const struct vv_uefi_vars_device *d)
{
	uint32_t len = d->pio_offset < d->buf_size ? d->pio_offset : d->buf_size;

	if (d->pio_buf == NULL)
		return vv_crc32c(NULL, 0);
	return vv_crc32c(d->pio_buf, len);
}

/* ---- register decoding ---- */

#define ALL_ONES UINT64_MAX

/*
 * One device access of 2 or 4 bytes at an offset aligned to its size
 * (what QEMU's memory core hands the device, device-abi §3 access sizes).
 * A register answers at its own offset only; elsewhere all-ones.
 */
static uint64_t
reg_read(struct vv_uefi_vars_device *d, uint64_t offset, unsigned size)
{
	switch (offset) {
	case VV_REG_MAGIC:
		return VV_UEFI_VARS_MAGIC;
	case VV_REG_CMD_STS:
		return d->status;
	case VV_REG_BUFFER_SIZE:
		return d->buf_size;
	case VV_REG_DMA_ADDR_LO:
		return d->dma_addr_lo;
	case VV_REG_DMA_ADDR_HI:
		return d->dma_addr_hi;
	case VV_REG_PIO_TRANSFER:
		return pio_read(d, size);
	case VV_REG_PIO_CRC32C:
		return pio_crc(d);
	case VV_REG_FLAGS:
		return d->use_pio ? VV_FLAG_USE_PIO : 0;
	default:
		return ALL_ONES;
	}
}

static void
reg_write(struct vv_uefi_vars_device *d, uint64_t offset, uint64_t value, unsigned size)
{
	switch (offset) {
	case VV_REG_CMD_STS:
		d->status = run_command(d, (uint16_t)value);
		break;
	case VV_REG_BUFFER_SIZE:
		set_buffer_size(d, (uint32_t)value);
		break;
	case VV_REG_DMA_ADDR_LO:
		d->dma_addr_lo = (uint32_t)value;
		break;
	case VV_REG_DMA_ADDR_HI:
		d->dma_addr_hi = (uint32_t)value;
		break;
	case VV_REG_PIO_TRANSFER:
		pio_write(d, value, size);
		break;
	default:
		break;  /* MAGIC, CRC and FLAGS are read-only; holes ignore writes */
	}
}

static uint64_t
size_mask(unsigned size)
{
	return size >= 8 ? UINT64_MAX : (1ULL << (8 * size)) - 1;
}

/*
 * A guest access is decoded when its size is 1, 2, 4 or 8, it lies inside
 * the 0x20-byte block and its offset is a multiple of its size (QEMU
 * rejects misaligned accesses, device-abi §3).  Anything else reads
 * all-ones and a write is ignored.
 */
static bool
access_valid(uint64_t offset, unsigned size)
{
	if (size != 1 && size != 2 && size != 4 && size != 8)
		return false;
	if (offset >= VV_UEFI_VARS_REGS_SIZE || size > VV_UEFI_VARS_REGS_SIZE - offset)
		return false;
	return offset % size == 0;
}

uint64_t
vv_uefi_vars_device_read(struct vv_uefi_vars_device *d, uint64_t offset, unsigned size)
{
	uint64_t lo, hi;

	if (!access_valid(offset, size))
		return ALL_ONES;
	switch (size) {
	case 1:
		/* Widened to 2 bytes; an odd offset hits no register. */
		return reg_read(d, offset, 2) & size_mask(1);
	case 8:
		/* Split into two 4-byte accesses, low half first. */
		lo = reg_read(d, offset, 4) & size_mask(4);
		hi = reg_read(d, offset + 4, 4) & size_mask(4);
		return lo | (hi << 32);
	default:
		return reg_read(d, offset, size) & size_mask(size);
	}
}

void
vv_uefi_vars_device_write(struct vv_uefi_vars_device *d, uint64_t offset, uint64_t value,
			  unsigned size)
{
	if (!access_valid(offset, size))
		return;
	switch (size) {
	case 1:
		/* Widened to 2 bytes with a zero upper byte. */
		reg_write(d, offset, value & size_mask(1), 2);
		break;
	case 8:
		reg_write(d, offset, value & size_mask(4), 4);
		reg_write(d, offset + 4, value >> 32, 4);
		break;
	default:
		reg_write(d, offset, value & size_mask(size), size);
		break;
	}
}

/* ---- life cycle ---- */

/* The in-process handler: the endpoint itself. */
static uint16_t
local_handle(void *opaque, uint8_t *buf, size_t buf_size)
{
	return vv_mm_handle(opaque, buf, buf_size);
}

static void
local_reset(void *opaque)
{
	struct vv_mm *mm = opaque;

	vv_store_signal(mm->store, VV_EVENT_RESET);
}

struct vv_uefi_vars_device *
vv_uefi_vars_device_new_handler(const struct vv_mm_handler *h, const struct vv_guest_memory *mem,
				bool use_pio)
{
	struct vv_uefi_vars_device *d;

	if (h == NULL || h->handle == NULL)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->handler = *h;
	if (mem != NULL)
		d->mem = *mem;
	d->use_pio = use_pio;
	return d;
}

struct vv_uefi_vars_device *
vv_uefi_vars_device_new(struct vv_mm *mm, const struct vv_guest_memory *mem, bool use_pio)
{
	struct vv_mm_handler h = { local_handle, local_reset, mm };
	struct vv_uefi_vars_device *d;

	if (mm == NULL)
		return NULL;
	d = vv_uefi_vars_device_new_handler(&h, mem, use_pio);
	if (d != NULL)
		d->mm = mm;
	return d;
}

void
vv_uefi_vars_device_free(struct vv_uefi_vars_device *d)
{
	if (d == NULL)
		return;
	free_buffers(d);
	free(d);
}

/*
 * Full VM reset: every register as at power-on (status 0, no buffer, DMA
 * address 0, pio_offset 0; FLAGS is a property and stays), then the store
 * drops volatile variables and the boot phase (vmvars/store.h).
 */
void
vv_uefi_vars_device_reset(struct vv_uefi_vars_device *d)
{
	free_buffers(d);
	d->status = VV_STS_SUCCESS;
	d->dma_addr_lo = 0;
	d->dma_addr_hi = 0;
	d->pio_offset = 0;
	if (d->handler.reset != NULL)
		d->handler.reset(d->handler.opaque);
}

/* ---- migration (docs/migration.md "The device's registers") ---- */

#define DEV_MAGIC      "VMVDEVST"
#define DEV_VERSION    1u
#define DEV_FIXED      36u          /* magic .. pio_offset */
#define DEV_FLAG_PIO   0x0001u

int
vv_uefi_vars_device_save(const struct vv_uefi_vars_device *d, uint8_t **out, size_t *size)
{
	size_t n = DEV_FIXED + d->buf_size + 4;
	uint8_t *b = malloc(n);

	*out = NULL;
	*size = 0;
	if (b == NULL)
		return -1;
	memcpy(b, DEV_MAGIC, 8);
	vv_put_le16(b + 8, DEV_VERSION);
	vv_put_le16(b + 10, d->use_pio ? DEV_FLAG_PIO : 0);
	vv_put_le16(b + 12, d->status);
	vv_put_le16(b + 14, 0);
	vv_put_le32(b + 16, d->buf_size);
	vv_put_le32(b + 20, d->dma_addr_lo);
	vv_put_le32(b + 24, d->dma_addr_hi);
	vv_put_le32(b + 28, d->pio_offset);
	vv_put_le32(b + 32, 0);
	if (d->buf_size > 0)
		memcpy(b + DEV_FIXED, d->pio_buf, d->buf_size);
	vv_put_le32(b + n - 4, vv_crc32(0, b, n - 4));
	*out = b;
	*size = n;
	return 0;
}

int
vv_uefi_vars_device_load(struct vv_uefi_vars_device *d, const uint8_t *buf, size_t size,
			 struct vv_error *err)
{
	struct vv_cursor c = vv_cursor_make(buf, size);
	const uint8_t *magic = vv_cursor_take(&c, 8), *pio;
	uint16_t version = vv_cursor_u16(&c), flags = vv_cursor_u16(&c);
	uint16_t status = vv_cursor_u16(&c), reserved = vv_cursor_u16(&c);
	uint32_t buf_size = vv_cursor_u32(&c), lo = vv_cursor_u32(&c), hi = vv_cursor_u32(&c);
	uint32_t pio_offset = vv_cursor_u32(&c), reserved2 = vv_cursor_u32(&c);
	uint8_t *new_pio = NULL, *new_mm = NULL;

	if (c.bad || size < DEV_FIXED + 4 || memcmp(magic, DEV_MAGIC, 8) != 0)
		return vv_error_set(err, "device state: not a uefi-vars register block");
	if (version != DEV_VERSION)
		return vv_error_set(err, "device state: version %u; this vmvars reads version %u",
				    version, DEV_VERSION);
	if (vv_le32(buf + size - 4) != vv_crc32(0, buf, size - 4))
		return vv_error_set(err, "device state: checksum mismatch");
	if ((flags & ~DEV_FLAG_PIO) != 0 || reserved != 0 || reserved2 != 0)
		return vv_error_set(err, "device state: unknown flags or reserved fields not 0");
	if (((flags & DEV_FLAG_PIO) != 0) != d->use_pio)
		return vv_error_set(err, "device state: from a %s device, this one is %s",
				    (flags & DEV_FLAG_PIO) ? "PIO" : "DMA",
				    d->use_pio ? "PIO" : "DMA");
	/* Only what the device itself can put in CMD_STS. */
	if (status != VV_STS_SUCCESS && status != VV_STS_ERR_UNKNOWN &&
	    status != VV_STS_ERR_NOT_SUPPORTED && status != VV_STS_ERR_BAD_BUFFER_SIZE)
		return vv_error_set(err, "device state: status 0x%x is not one the device reports",
				    status);
	/* Invariant (1): at most 64 KiB, and the buffer's bytes exactly. */
	if (buf_size > VV_MM_MAX_BUFFER)
		return vv_error_set(err, "device state: buffer size %u exceeds %u", buf_size,
				    VV_MM_MAX_BUFFER);
	pio = vv_cursor_take(&c, buf_size);
	if (pio == NULL || c.left != 4)
		return vv_error_set(err, "device state: length disagrees with the buffer size");
	/* pio_offset may exceed buf_size (invariant (4) keeps every access
	 * inside the buffer), as the guest can leave it. */
	if (buf_size > 0) {
		new_pio = malloc(buf_size);
		new_mm = calloc(1, buf_size);
		if (new_pio == NULL || new_mm == NULL) {
			free(new_pio);
			free(new_mm);
			return vv_error_set(err, "device state: out of memory");
		}
		memcpy(new_pio, pio, buf_size);
	}
	free_buffers(d);
	d->pio_buf = new_pio;
	d->mm_buf = new_mm;
	d->buf_size = buf_size;
	d->status = status;
	d->dma_addr_lo = lo;
	d->dma_addr_hi = hi;
	d->pio_offset = pio_offset;
	return 0;
}
