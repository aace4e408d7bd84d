/*
 * fuzz/fuzz_fw_cfg.c -- libFuzzer target: arbitrary register access
 * sequences against the fw_cfg device (vmfwupdate-and-firmware-
 * descriptors.md §2) in both layouts, over a small toy guest RAM, with
 * vmfwupdate and vm-launch-update attached to the port device so their
 * write callbacks and reset paths run too.
 *
 * Input: a sequence of operations, each starting with an op byte:
 *   bit 0     device: 0 = x86 ports (with the update devices), 1 = MMIO
 *   bits 1-3  kind: 0 read, 1 write, 2 RAM poke, 3 DMA descriptor,
 *             4 VM reset (fw_cfg and both update devices), 5 IGVM file,
 *             6-7 read
 *   bits 4-5  access size: 1, 2, 4, 8
 * read:   offset byte
 * write:  offset byte, then `size` value bytes, little-endian
 * poke:   2 bytes RAM offset, 1 byte length, then that many bytes
 * DMA:    2 bytes RAM offset of the descriptor, then 16 descriptor bytes
 *         (big-endian control, length, address) stored there; the
 *         address field's low 16 bits are taken as a RAM offset when bit 7
 *         of the op byte is set; then the DMA register is written (64-bit)
 * IGVM:   2 bytes RAM offset, 2 bytes length n (mod 2048), n file bytes
 *         stored there; when bit 7 of the op byte is set, total_file_size
 *         is set to n and the checksum recomputed first (as a well-meaning
 *         guest would), so the variable-header framing checks are reached;
 *         then vv_igvm_check_header() runs on it and the guest asks
 *         vm-launch-update to take it (one DMA write of the 56-byte struct)
 * A truncated operation ends the input.  Must never crash, leak or read
 * uninitialised memory; sanitizers do the checking.
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/fw_cfg.h>
#include <vmvars/vmfwupdate.h>

#include "core/crc32.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM_BASE 0x1000ULL
#define RAM_SIZE 8192u
#define REGION   4096u

static uint8_t ram[RAM_SIZE];
static uint8_t region[REGION];

static int
ram_range(uint64_t gpa, size_t len, size_t *off)
{
	if (len == 0 || gpa < RAM_BASE || gpa - RAM_BASE > RAM_SIZE || len > RAM_SIZE - (gpa - RAM_BASE))
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

/* The VMM's parser hook: touches every byte it is given, so the
 * sanitizers see a wrong size; refuses when the last byte is odd. */
static volatile uint8_t hook_sink;

static int
parse_hook(void *opaque, const uint8_t *image, size_t size)
{
	uint8_t x = 0;

	for (size_t i = 0; i < size; i++)
		x ^= image[i];
	hook_sink = x;
	return size > 0 && (image[size - 1] & 1) ? -1 : 0;
}

/* Make the IGVM at p[0..n) self-consistent where its fields allow it:
 * total_file_size = n and the checksum over the fixed header and the
 * variable header section (when that section lies inside the buffer). */
static void
igvm_fix(uint8_t *p, size_t n)
{
	size_t fixed;
	uint32_t off, size, crc;
	uint8_t hdr[VV_IGVM_FIXED_HEADER_V2];

	if (n < VV_IGVM_FIXED_HEADER_V1)
		return;
	fixed = vv_le32(p + 4) == 2 ? VV_IGVM_FIXED_HEADER_V2 : VV_IGVM_FIXED_HEADER_V1;
	if (n < fixed)
		return;
	vv_put_le32(p + 16, (uint32_t)n);
	off = vv_le32(p + 8);
	size = vv_le32(p + 12);
	if (off > n || size > n - off)
		return;
	memcpy(hdr, p, fixed);
	vv_put_le32(hdr + 20, 0);
	crc = vv_crc32(0, hdr, fixed);
	crc = vv_crc32(crc, p + off, size);
	vv_put_le32(p + 20, crc);
}

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

struct rig {
	struct vv_fw_cfg *fw[2];
	struct vv_vmfwupdate *upd;
	struct vv_vm_launch_update *vmlu;
};

static bool
run_op(struct rig *r, const uint8_t **p, size_t *left)
{
	static const unsigned sizes[4] = { 1, 2, 4, 8 };
	const uint8_t *op, *arg;
	struct vv_fw_cfg *fw;
	unsigned access;
	uint64_t value = 0;
	size_t off, len;

	if (!take(p, left, 1, &op))
		return false;
	fw = r->fw[op[0] & 1];
	access = sizes[(op[0] >> 4) & 3];
	switch ((op[0] >> 1) & 7) {
	case 1:
		if (!take(p, left, 1 + access, &arg))
			return false;
		for (unsigned i = 0; i < access; i++)
			value |= (uint64_t)arg[1 + i] << (8 * i);
		vv_fw_cfg_write(fw, arg[0], value, access);
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
	case 3: {
		uint64_t desc;

		if (!take(p, left, 18, &arg))
			return false;
		off = ((size_t)arg[0] | ((size_t)arg[1] << 8)) % (RAM_SIZE - 16);
		memcpy(ram + off, arg + 2, 16);
		if (op[0] & 0x80) {
			uint64_t a = RAM_BASE + (((size_t)arg[16] | ((size_t)arg[17] << 8)) % RAM_SIZE);

			for (unsigned i = 0; i < 8; i++)
				ram[off + 8 + i] = (uint8_t)(a >> (56 - 8 * i));
		}
		desc = RAM_BASE + off;
		vv_fw_cfg_write(fw, (op[0] & 1) ? VV_FW_CFG_MMIO_DMA : VV_FW_CFG_IO_DMA,
				__builtin_bswap64(desc), 8);
		return true;
	}
	case 5: {
		uint8_t s[VV_VMLU_STRUCT_SIZE] = { 0 };
		size_t n;

		if (!take(p, left, 4, &arg))
			return false;
		off = ((size_t)arg[0] | ((size_t)arg[1] << 8)) % (RAM_SIZE / 2);
		n = ((size_t)arg[2] | ((size_t)arg[3] << 8)) % 2048;
		if (!take(p, left, n, &arg))
			return false;
		memcpy(ram + off, arg, n);
		if (op[0] & 0x80)
			igvm_fix(ram + off, n);
		(void)vv_igvm_check_header(ram + off, n);
		/* The struct goes through the device's own write path. */
		vv_put_le64(s + VV_VMLU_OFF_CONTROL, VV_VMLU_FORMAT_IGVM | ((op[0] >> 5) & 2));
		vv_put_le64(s + VV_VMLU_OFF_IMAGE_ADDR, RAM_BASE + off);
		vv_put_le64(s + VV_VMLU_OFF_IMAGE_SIZE, n);
		{
			/* Descriptor and struct above the image area (off + n < 6144). */
			uint64_t da = RAM_BASE + RAM_SIZE - 128, sa = da + 16;
			uint8_t *d = ram + RAM_SIZE - 128;
			uint32_t ctl = VV_FW_CFG_DMA_CTL_SELECT | VV_FW_CFG_DMA_CTL_WRITE |
				       ((uint32_t)vv_fw_cfg_file_key(r->fw[0], VV_VMLU_FILE) << 16);

			memcpy(d + 16, s, sizeof(s));
			for (unsigned i = 0; i < 4; i++) {
				d[i] = (uint8_t)(ctl >> (24 - 8 * i));
				d[4 + i] = (uint8_t)((uint32_t)sizeof(s) >> (24 - 8 * i));
			}
			for (unsigned i = 0; i < 8; i++)
				d[8 + i] = (uint8_t)(sa >> (56 - 8 * i));
			vv_fw_cfg_write(r->fw[0], VV_FW_CFG_IO_DMA, __builtin_bswap64(da), 8);
		}
		return true;
	}
	case 4:
		(void)vv_vmfwupdate_reset(r->upd);
		(void)vv_vm_launch_update_reset(r->vmlu);
		vv_fw_cfg_reset(r->fw[0]);
		vv_fw_cfg_reset(r->fw[1]);
		return true;
	default:
		if (!take(p, left, 1, &arg))
			return false;
		(void)vv_fw_cfg_read(fw, arg[0], access);
		return true;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vv_guest_memory mem = { ram_read, ram_write, NULL };
	struct vv_vmfwupdate_config ucfg = { VV_VMFWUPDATE_SPEC_V3, region, REGION, REGION, true };
	struct vv_vm_launch_update_config lcfg = { true, 2048, parse_hook, NULL };
	struct rig r = { { NULL, NULL }, NULL, NULL };

	memset(ram, 0, sizeof(ram));
	memset(region, 0, sizeof(region));
	r.fw[0] = vv_fw_cfg_new(VV_FW_CFG_IO, &mem, 0);
	r.fw[1] = vv_fw_cfg_new(VV_FW_CFG_MMIO, &mem, VV_FW_CFG_FILE_SLOTS_MIN);
	if (r.fw[0] == NULL || r.fw[1] == NULL)
		goto out;
	r.upd = vv_vmfwupdate_new(r.fw[0], &mem, &ucfg);
	r.vmlu = vv_vm_launch_update_new(r.fw[0], &mem, &lcfg);
	if (r.upd == NULL || r.vmlu == NULL ||
	    vv_hardware_info_add_uefi_vars(r.fw[0], VV_UEFI_VARS_X64_MMIO) != 0 ||
	    vv_fw_cfg_add_file(r.fw[1], "etc/rw", "writable", 8, true, NULL) != 0 ||
	    vv_fw_cfg_add_file(r.fw[1], "etc/ro", "readonly", 8, false, NULL) != 0)
		goto out;
	while (run_op(&r, &data, &size))
		;
out:
	vv_fw_cfg_free(r.fw[0]);
	vv_fw_cfg_free(r.fw[1]);
	vv_vmfwupdate_free(r.upd);
	vv_vm_launch_update_free(r.vmlu);
	return 0;
}
