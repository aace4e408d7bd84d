/*
 * vmvars/fw_cfg.h -- a device model of QEMU's fw_cfg interface
 * (vmfwupdate-and-firmware-descriptors.md §2), as an object a VMM embeds,
 * and the `etc/hardware-info` file through which x86 firmware finds the
 * uefi-vars device (uefi-vars-device-abi.md §2.2).
 *
 * Two register layouts, offsets relative to the VMM's base:
 *
 *   VV_FW_CFG_IO (x86 ports, base 0x510)     VV_FW_CFG_MMIO (Arm/RISC-V, size 0x18)
 *   0x0 selector, 16-bit write, LE           0x00 data, 1/2/4/8-byte reads
 *   0x0/0x1 data, 8-bit read                 0x08 selector, 16-bit write, big-endian
 *   0x4 DMA address, 64-bit, big-endian      0x10 DMA address, 64-bit, big-endian
 *
 * Register values crossing this API are what a little-endian CPU loads or
 * stores: byte i of the value is the byte at offset + i.  So a data read of
 * 4 bytes returns the next 4 item bytes in order (as memcpy would), the
 * MMIO selector takes the byte-swapped key (as a guest's cpu_to_be16 makes
 * it), and a DMA-register read at +0 returns the bytes "QEMU CFG".
 *
 * Items are numbered (keys below 0x20, or architecture-local keys with bit
 * 15) or named files (keys 0x20 + their index in the name-sorted
 * directory, renumbered whenever a file is added, §2.2).  The device keeps
 * its own zero-filled copy of every item; the guest writes only through
 * DMA and only to files added writable, and each accepted write runs the
 * file's write callback.  Guest RAM is reached only through the same
 * struct vv_guest_memory callbacks the uefi-vars device uses.
 *
 * The object holds no lock: the VMM serialises calls, as QEMU's BQL does.
 */
#ifndef VMVARS_FW_CFG_H
#define VMVARS_FW_CFG_H

#include <vmvars/uefi_vars_device.h>

#ifdef __cplusplus
extern "C" {
#endif

enum vv_fw_cfg_layout {
	VV_FW_CFG_IO,           /* x86 I/O ports 0x510.. (§2.1) */
	VV_FW_CFG_MMIO,         /* Arm/RISC-V MMIO block (§2.1) */
};

#define VV_FW_CFG_IO_BASE            0x510u
#define VV_FW_CFG_IO_SIZE            0x0cu   /* 0x510..0x51b */
#define VV_FW_CFG_IO_SELECTOR        0x0u
#define VV_FW_CFG_IO_DATA            0x1u
#define VV_FW_CFG_IO_DMA             0x4u
#define VV_FW_CFG_MMIO_SIZE          0x18u
#define VV_FW_CFG_MMIO_DATA          0x00u
#define VV_FW_CFG_MMIO_SELECTOR      0x08u
#define VV_FW_CFG_MMIO_DMA           0x10u
#define VV_FW_CFG_ARM_VIRT_BASE      0x09020000ULL
#define VV_FW_CFG_RISCV_VIRT_BASE    0x10100000ULL

/* Keys (§2.1, §2.2). */
#define VV_FW_CFG_SIGNATURE          0x0000u  /* "QEMU" */
#define VV_FW_CFG_ID                 0x0001u  /* u32 LE feature bits */
#define VV_FW_CFG_FILE_DIR           0x0019u
#define VV_FW_CFG_FILE_FIRST         0x0020u
#define VV_FW_CFG_WRITE_CHANNEL      0x4000u  /* ignored since QEMU 2.4 */
#define VV_FW_CFG_ARCH_LOCAL         0x8000u
#define VV_FW_CFG_ENTRY_MASK         0x3fffu
#define VV_FW_CFG_INVALID            0xffffu

#define VV_FW_CFG_ID_TRADITIONAL     0x01u    /* FW_CFG_VERSION, always set */
#define VV_FW_CFG_ID_DMA             0x02u    /* FW_CFG_VERSION_DMA */

#define VV_FW_CFG_MAX_FILE_PATH      56u      /* including the NUL */
#define VV_FW_CFG_FILE_SLOTS_DFLT    0x20u
#define VV_FW_CFG_FILE_SLOTS_MIN     0x10u
#define VV_FW_CFG_DIR_ENTRY_SIZE     64u

/* DMA (§2.3). */
#define VV_FW_CFG_DMA_SIGNATURE      0x51454d5520434647ULL  /* "QEMU CFG", BE */
#define VV_FW_CFG_DMA_ACCESS_SIZE    16u
#define VV_FW_CFG_DMA_CTL_ERROR      0x01u
#define VV_FW_CFG_DMA_CTL_READ       0x02u
#define VV_FW_CFG_DMA_CTL_SKIP       0x04u
#define VV_FW_CFG_DMA_CTL_SELECT     0x08u
#define VV_FW_CFG_DMA_CTL_WRITE      0x10u

struct vv_fw_cfg;

/*
 * Per-file callbacks (QEMU's select_cb / write_cb, §2.3).  `data` is the
 * device's copy of the file, `size` its fixed length.
 * select: the guest selected the file (selector register or DMA SELECT),
 *         before any byte moves; may rewrite data.
 * write:  a DMA write of [offset, offset + len) has landed in data
 *         (always inside the file, len > 0); may rewrite data, e.g. put
 *         back what it refuses so the guest reads the accepted value.
 * Callbacks must not call into the fw_cfg device.
 */
struct vv_fw_cfg_file_ops {
	void (*select)(void *opaque, uint8_t *data, size_t size);
	void (*write)(void *opaque, uint8_t *data, size_t size, uint32_t offset, uint32_t len);
	void *opaque;
};

/*
 * mem NULL: no DMA interface (ID bit 1 clear, DMA register absent).
 * file_slots 0 means VV_FW_CFG_FILE_SLOTS_DFLT; below the minimum (0x10) or
 * above 0x3fe0 gives NULL.  The signature, ID and an empty directory are
 * present from the start; the selector starts at VV_FW_CFG_SIGNATURE.
 */
struct vv_fw_cfg *vv_fw_cfg_new(enum vv_fw_cfg_layout layout, const struct vv_guest_memory *mem,
				unsigned file_slots);
void vv_fw_cfg_free(struct vv_fw_cfg *fw);

/*
 * A numbered, read-only item: key below 0x20 (not 0x00, 0x01, 0x19) or an
 * architecture-local key (bit 15 set, index below 0x20 + file_slots).
 * Replaces an earlier item of that key.  Returns 0, or -1 (bad key, size
 * above 4 GiB - 1, no memory).
 */
int vv_fw_cfg_add_item(struct vv_fw_cfg *fw, uint16_t key, const void *data, size_t size);

/*
 * A named file: name 1..55 bytes, unique; data (size bytes, may be NULL for
 * zeros) is copied.  writable: the guest may write it through DMA.  ops
 * may be NULL.  Keeps the directory sorted by name: selectors of files that
 * sort after it move up by one.  Returns 0, or -1 (bad or duplicate name,
 * no free slot, size above 4 GiB - 1, no memory).
 */
int vv_fw_cfg_add_file(struct vv_fw_cfg *fw, const char *name, const void *data, size_t size,
		       bool writable, const struct vv_fw_cfg_file_ops *ops);

/* Replaces an existing file's contents (QEMU's fw_cfg_modify_file); the
 * size may change.  Returns 0, or -1 (no such file, no memory). */
int vv_fw_cfg_replace_file(struct vv_fw_cfg *fw, const char *name, const void *data, size_t size);

/* Removes a file (its key and later ones move down).  0, or -1 if absent. */
int vv_fw_cfg_remove_file(struct vv_fw_cfg *fw, const char *name);

/* Whether the device was created with guest memory (the DMA interface). */
bool vv_fw_cfg_has_dma(const struct vv_fw_cfg *fw);

/* The file's current selector, or VV_FW_CFG_INVALID. */
uint16_t vv_fw_cfg_file_key(const struct vv_fw_cfg *fw, const char *name);

/* The device's copy of a file, for the VMM to read or update between
 * guest accesses; NULL if there is no such file.  Valid until the file is
 * replaced or the device freed. */
uint8_t *vv_fw_cfg_file_data(struct vv_fw_cfg *fw, const char *name, size_t *size);

/* Register accesses at offset from the layout's base; size 1, 2, 4 or 8.
 * An access the layout does not decode reads all-ones and a write is
 * ignored (see docs/fw-cfg.md for the table). */
uint64_t vv_fw_cfg_read(struct vv_fw_cfg *fw, uint64_t offset, unsigned size);
void vv_fw_cfg_write(struct vv_fw_cfg *fw, uint64_t offset, uint64_t value, unsigned size);

/* VM reset: selector back to VV_FW_CFG_SIGNATURE, offset 0, DMA address 0.
 * Item contents are kept. */
void vv_fw_cfg_reset(struct vv_fw_cfg *fw);

/*
 * etc/hardware-info (device-abi §2.2): records of a u64 LE type, a u64 LE
 * payload size, then the payload.  The uefi-vars record is type 2 with an
 * 8-byte payload, the register block's MMIO address.
 */
#define VV_HWINFO_FILE               "etc/hardware-info"
#define VV_HWINFO_TYPE_HOST_BRIDGE   1u
#define VV_HWINFO_TYPE_UEFI_VARS     2u
#define VV_HWINFO_HEADER_SIZE        16u

/* Appends the uefi-vars record for mmio_base (normally
 * VV_UEFI_VARS_X64_MMIO) to etc/hardware-info, creating the read-only file
 * if it is absent.  Returns 0, or -1 (a uefi-vars record is already there,
 * or the file cannot be added). */
int vv_hardware_info_add_uefi_vars(struct vv_fw_cfg *fw, uint64_t mmio_base);

/*
 * Finds the uefi-vars address in an etc/hardware-info image as OVMF's
 * QemuHwInfo.c does: exactly one type-2 record whose size is at least 8.
 * Returns 0 and sets *mmio_base, or -1 (none, more than one, or a record
 * that runs past the end of the image).
 */
int vv_hardware_info_find_uefi_vars(const uint8_t *buf, size_t len, uint64_t *mmio_base);

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_FW_CFG_H */
