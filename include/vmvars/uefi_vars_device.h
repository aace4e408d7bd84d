/*
 * vmvars/uefi_vars_device.h -- a device model of QEMU's uefi-vars register
 * block (device-abi §3-§5), as an object a VMM embeds.
 *
 * Register block, 0x20 bytes, little-endian:
 *   0x00 MAGIC            16 RO  0x0EF1
 *   0x02 CMD_STS          16     write: command; read: status of the last one
 *   0x04 BUFFER_SIZE      32 RW  clamped to 64 KiB; (re)allocates zeroed buffers
 *   0x08 DMA_BUFFER_ADDR_LO 32 RW
 *   0x0c DMA_BUFFER_ADDR_HI 32 RW
 *   0x10 PIO_BUFFER_TRANSFER 16/32 RW  moves bytes at the PIO offset
 *   0x18 PIO_BUFFER_CRC32C 32 RO  CRC-32C of pio buffer [0, offset)
 *   0x1c FLAGS            32 RO  bit 0: use PIO
 *   elsewhere: reads all-ones, writes ignored.
 * Commands: 1 RESET (soft), 2 DMA_MM, 3 PIO_MM, 4 PIO_ZERO_OFFSET.
 *
 * Every command runs synchronously inside the register write.  The request
 * is copied out of guest memory (or the PIO buffer) once into a private,
 * zero-filled buffer and parsed only from there; the reply always lands at
 * offset 0 with the original length.  The VMM serialises register accesses
 * (one vCPU at a time), as QEMU's BQL does.
 */
#ifndef VMVARS_UEFI_VARS_DEVICE_H
#define VMVARS_UEFI_VARS_DEVICE_H

#include <vmvars/error.h>
#include <vmvars/mm.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VV_UEFI_VARS_REGS_SIZE   0x20u
#define VV_UEFI_VARS_MAGIC       0x0EF1u
#define VV_UEFI_VARS_X64_MMIO    0xfef10000ULL  /* QEMU's fixed x86 address */

#define VV_REG_MAGIC             0x00
#define VV_REG_CMD_STS           0x02
#define VV_REG_BUFFER_SIZE       0x04
#define VV_REG_DMA_ADDR_LO       0x08
#define VV_REG_DMA_ADDR_HI       0x0c
#define VV_REG_PIO_TRANSFER      0x10
#define VV_REG_PIO_CRC32C        0x18
#define VV_REG_FLAGS             0x1c

#define VV_CMD_RESET             0x01
#define VV_CMD_DMA_MM            0x02
#define VV_CMD_PIO_MM            0x03
#define VV_CMD_PIO_ZERO_OFFSET   0x04

#define VV_FLAG_USE_PIO          0x01u

/*
 * Guest memory, supplied by the VMM.  Each returns 0 on success or -1 if
 * any byte of [gpa, gpa + len) is not valid guest RAM; the device then
 * reports VV_STS_ERR_UNKNOWN (edk2: EFI_DEVICE_ERROR) and changes nothing.
 * May be NULL in PIO-only setups.
 */
struct vv_guest_memory {
	int (*read)(void *opaque, uint64_t gpa, void *buf, size_t len);
	int (*write)(void *opaque, uint64_t gpa, const void *buf, size_t len);
	void *opaque;
};

struct vv_uefi_vars_device;

struct vv_uefi_vars_device *vv_uefi_vars_device_new(struct vv_mm *mm,
						    const struct vv_guest_memory *mem,
						    bool use_pio);
void vv_uefi_vars_device_free(struct vv_uefi_vars_device *d);

/*
 * Where the device sends each MM request, for a VMM whose variable service
 * is not in-process (vmvars/client.h forwards to vmvarsd).  handle() has
 * exactly the contract of vv_mm_handle() (vmvars/mm.h): buf holds buf_size
 * bytes, the request at offset 0, the rest zero; it returns a VV_STS_*
 * value and, on SUCCESS and ERR_NOT_SUPPORTED, leaves the 24 +
 * MessageLength reply bytes at offset 0, writing nothing beyond them (the
 * device then zeroes only what the last request used).  reset() (may be NULL) is the
 * store side of a VM reset (VV_EVENT_RESET).
 */
struct vv_mm_handler {
	uint16_t (*handle)(void *opaque, uint8_t *buf, size_t buf_size);
	void (*reset)(void *opaque);
	void *opaque;
};

/* Like vv_uefi_vars_device_new() with requests going to h (copied) rather
 * than to an in-process vv_mm.  Transport errors the device produces
 * itself are then not counted anywhere.  NULL if h->handle is NULL. */
struct vv_uefi_vars_device *vv_uefi_vars_device_new_handler(const struct vv_mm_handler *h,
							    const struct vv_guest_memory *mem,
							    bool use_pio);

/* MMIO/PIO accesses at offset within the 0x20-byte block; size 1, 2, 4 or 8.
 * Sizes behave as QEMU's memory core makes them (device-abi §3 access
 * sizes): 1 is widened to 2, 8 is split into two 4-byte accesses. */
uint64_t vv_uefi_vars_device_read(struct vv_uefi_vars_device *d, uint64_t offset, unsigned size);
void vv_uefi_vars_device_write(struct vv_uefi_vars_device *d, uint64_t offset, uint64_t value,
			       unsigned size);

/* Full VM reset: registers and buffers as at power-on, and the store gets
 * VV_EVENT_RESET (volatile variables gone, boot phase, policies cleared). */
void vv_uefi_vars_device_reset(struct vv_uefi_vars_device *d);

/*
 * The register block as bytes, for the VMM's own migration stream
 * (docs/migration.md "The device's registers"): status, BUFFER_SIZE, the
 * DMA address, the PIO offset and the PIO buffer's bytes -- what the
 * guest's firmware set up at boot and its runtime driver goes on using.
 * The store side is the service snapshot's (vmvars/snapshot.h).
 *
 * vv_uefi_vars_device_save: *out malloc'd; 0, or -1 (out of memory).
 * vv_uefi_vars_device_load: into a device created with the same use_pio,
 * taken while the VM is paused (no command in flight); every field is
 * checked first and a refused or failed load changes nothing.  No
 * handler is called (the store's state comes with its own snapshot).  0,
 * or -1 with err.
 */
int vv_uefi_vars_device_save(const struct vv_uefi_vars_device *d, uint8_t **out, size_t *size);
int vv_uefi_vars_device_load(struct vv_uefi_vars_device *d, const uint8_t *buf, size_t size,
			     struct vv_error *err);

/* CRC-32C (Castagnoli), init and final XOR 0xffffffff: edk2's
 * CalculateCrc32c(buf, len, 0). */
uint32_t vv_crc32c(const void *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_UEFI_VARS_DEVICE_H */
