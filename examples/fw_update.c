/*
 * examples/fw_update.c -- the VMM side of a guest-driven firmware update,
 * end to end over a toy guest RAM: an x86 fw_cfg device with
 * etc/hardware-info (so OVMF finds the uefi-vars block), vmfwupdate over
 * a 64 KiB BIOS region, and vm-launch-update.  The "guest" is a few
 * functions that move bytes through the fw_cfg registers as a loader
 * would (docs/fw-cfg.md).
 *
 * Flow: boot 1 runs the old firmware; the guest finds the uefi-vars
 * address, stages a new image and a hand-over note, points bios-addr at
 * the image and asks for a reset; the VMM's reset handler replaces the
 * region; boot 2 runs the new firmware, reads the note, and locks the
 * interface for the rest of the boot.  Then the same guest hands an IGVM
 * image to vm-launch-update for one relaunch.
 */
#include <stdio.h>
#include <string.h>

#include <vmvars/fw_cfg.h>
#include <vmvars/vmfwupdate.h>

#define RAM_BASE   0x100000ULL
#define RAM_SIZE   0x40000u
#define BIOS_SIZE  0x10000u

static uint8_t ram[RAM_SIZE];           /* the toy guest RAM */
static uint8_t bios_region[BIOS_SIZE];  /* mapped at 4 GiB - BIOS_SIZE */

/* CRC-32 as zlib computes it (reflected polynomial 0xEDB88320): the IGVM
 * fixed header's checksum.  A real guest tool gets it from its IGVM
 * builder; it is spelt out here to keep the example self-contained. */
static uint32_t
crc32_ieee(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;

	while (n-- > 0) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

/* ---- VMM: guest-memory callbacks (refuse anything outside ram[]) ---- */

static int
gpa_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	if (gpa < RAM_BASE || gpa - RAM_BASE > RAM_SIZE || len > RAM_SIZE - (gpa - RAM_BASE))
		return -1;
	memcpy(buf, ram + (gpa - RAM_BASE), len);
	return 0;
}

static int
gpa_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	if (gpa < RAM_BASE || gpa - RAM_BASE > RAM_SIZE || len > RAM_SIZE - (gpa - RAM_BASE))
		return -1;
	memcpy(ram + (gpa - RAM_BASE), buf, len);
	return 0;
}

/* ---- guest: a loader talking to fw_cfg at ports 0x510/0x514 ---- */

#define DESC_GPA   (RAM_BASE + 0x0)
#define BUF_GPA    (RAM_BASE + 0x1000)
#define IMAGE_GPA  (RAM_BASE + 0x10000)

static void
be32_store(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static uint32_t
be32_load(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Finds a file by name through the directory, port I/O only. */
static uint16_t
guest_find(struct vv_fw_cfg *fw, const char *name, uint32_t *size)
{
	uint8_t e[64], c[4];
	uint32_t count;

	vv_fw_cfg_write(fw, VV_FW_CFG_IO_SELECTOR, VV_FW_CFG_FILE_DIR, 2);
	for (int i = 0; i < 4; i++)
		c[i] = (uint8_t)vv_fw_cfg_read(fw, VV_FW_CFG_IO_DATA, 1);
	count = be32_load(c);
	for (uint32_t n = 0; n < count; n++) {
		for (int i = 0; i < 64; i++)
			e[i] = (uint8_t)vv_fw_cfg_read(fw, VV_FW_CFG_IO_DATA, 1);
		if (strncmp((char *)e + 8, name, 56) == 0) {
			*size = be32_load(e);
			return (uint16_t)((e[4] << 8) | e[5]);
		}
	}
	return VV_FW_CFG_INVALID;
}

/* One DMA transfer: SELECT plus READ or WRITE; returns the control word. */
static uint32_t
guest_dma(struct vv_fw_cfg *fw, const char *name, uint32_t op, uint32_t len, uint64_t gpa)
{
	uint8_t *d = ram + (DESC_GPA - RAM_BASE);
	uint32_t size;
	uint16_t key = guest_find(fw, name, &size);

	be32_store(d, VV_FW_CFG_DMA_CTL_SELECT | op | ((uint32_t)key << 16));
	be32_store(d + 4, len);
	be32_store(d + 8, (uint32_t)(gpa >> 32));
	be32_store(d + 12, (uint32_t)gpa);
	vv_fw_cfg_write(fw, VV_FW_CFG_IO_DMA, 0, 4);                                   /* high */
	vv_fw_cfg_write(fw, VV_FW_CFG_IO_DMA + 4, __builtin_bswap32((uint32_t)DESC_GPA), 4); /* low: go */
	return be32_load(d);
}

static uint32_t
guest_put(struct vv_fw_cfg *fw, const char *name, const void *bytes, uint32_t len)
{
	memcpy(ram + (BUF_GPA - RAM_BASE), bytes, len);
	return guest_dma(fw, name, VV_FW_CFG_DMA_CTL_WRITE, len, BUF_GPA);
}

static const uint8_t *
guest_get(struct vv_fw_cfg *fw, const char *name, uint32_t len)
{
	guest_dma(fw, name, VV_FW_CFG_DMA_CTL_READ, len, BUF_GPA);
	return ram + (BUF_GPA - RAM_BASE);
}

static void
guest_boot(struct vv_fw_cfg *fw, int boot)
{
	uint32_t size;
	uint64_t uefi_vars;
	const uint8_t *hw;

	/* What the firmware at the top of the region says it is. */
	printf("boot %d: firmware is \"%.16s\"\n", boot, (const char *)bios_region + BIOS_SIZE - 16);
	if (guest_find(fw, VV_HWINFO_FILE, &size) == VV_FW_CFG_INVALID)
		return;
	hw = guest_get(fw, VV_HWINFO_FILE, size);
	if (vv_hardware_info_find_uefi_vars(hw, size, &uefi_vars) == 0)
		printf("boot %d: uefi-vars register block at 0x%llx (etc/hardware-info)\n", boot,
		       (unsigned long long)uefi_vars);
}

int
main(void)
{
	struct vv_guest_memory mem = { gpa_read, gpa_write, NULL };
	struct vv_vmfwupdate_config ucfg = {
		VV_VMFWUPDATE_SPEC_V3, bios_region, BIOS_SIZE, BIOS_SIZE, false,
	};
	struct vv_vm_launch_update_config lcfg = { true, 0, NULL, NULL };
	struct vv_vm_launch_update *vmlu = NULL;
	struct vv_vmfwupdate *upd = NULL;
	struct vv_fw_cfg *fw;
	uint8_t addr[8], one = 1, igvm[64] = { 0 }, s[VV_VMLU_STRUCT_SIZE] = { 0 };
	int rc = 1;

	/* ---- VMM: build the machine ---- */
	memset(bios_region, 0, sizeof(bios_region));
	memcpy(bios_region + BIOS_SIZE - 16, "OLD FIRMWARE 1.0", 16);
	fw = vv_fw_cfg_new(VV_FW_CFG_IO, &mem, 0);
	if (fw == NULL || vv_hardware_info_add_uefi_vars(fw, VV_UEFI_VARS_X64_MMIO) != 0)
		goto out;
	upd = vv_vmfwupdate_new(fw, &mem, &ucfg);
	vmlu = vv_vm_launch_update_new(fw, &mem, &lcfg);
	if (upd == NULL || vmlu == NULL)
		goto out;

	/* ---- boot 1: the guest stages an update ---- */
	guest_boot(fw, 1);
	memset(ram + (IMAGE_GPA - RAM_BASE), 0, BIOS_SIZE);
	memcpy(ram + (IMAGE_GPA - RAM_BASE) + BIOS_SIZE - 16, "NEW FIRMWARE 2.0", 16);
	guest_put(fw, VV_VMFWUPDATE_FILE_OPAQUE, "kernel@0x2000000", 16);
	vv_put_le64(addr, IMAGE_GPA);
	printf("boot 1: bios-addr write: control 0x%x\n",
	       guest_put(fw, VV_VMFWUPDATE_FILE_BIOS_ADDR, addr, 8));

	/* ---- VMM: the guest asked for a reset ---- */
	printf("reset: %s\n", vv_vmfwupdate_outcome_name(vv_vmfwupdate_reset(upd)));
	vv_fw_cfg_reset(fw);
	printf("reset: BIOS region now mapped at 0x%llx\n",
	       (unsigned long long)vv_vmfwupdate_bios_base(upd));

	/* ---- boot 2: the new firmware ---- */
	guest_boot(fw, 2);
	printf("boot 2: opaque hand-over \"%.16s\"\n",
	       (const char *)guest_get(fw, VV_VMFWUPDATE_FILE_OPAQUE, 16));
	guest_put(fw, VV_VMFWUPDATE_FILE_DISABLE, &one, 1);
	printf("boot 2: disable reads %u\n", guest_get(fw, VV_VMFWUPDATE_FILE_DISABLE, 1)[0]);
	printf("reset: %s\n", vv_vmfwupdate_outcome_name(vv_vmfwupdate_reset(upd)));
	vv_fw_cfg_reset(fw);

	/* ---- vm-launch-update: the successor interface, one-shot ---- */
	/* A minimal well-formed IGVM v1 file: the 24-byte fixed header, one
	 * SUPPORTED_PLATFORM entry (type 1, 16 bytes) at offset 24, the
	 * checksum over both (docs/fw-cfg.md "The IGVM check"). */
	vv_put_le32(igvm, VV_IGVM_MAGIC);
	vv_put_le32(igvm + 4, 1);
	vv_put_le32(igvm + 8, 24);
	vv_put_le32(igvm + 12, 24);
	vv_put_le32(igvm + 16, sizeof(igvm));
	vv_put_le32(igvm + 24, 1);
	vv_put_le32(igvm + 28, 16);
	vv_put_le32(igvm + 32, 1);              /* compatibility mask */
	igvm[37] = 2;                           /* platform type: SEV-SNP */
	vv_put_le16(igvm + 38, 1);              /* platform version */
	vv_put_le32(igvm + 20, crc32_ieee(igvm, 48));
	memcpy(ram + (IMAGE_GPA - RAM_BASE), igvm, sizeof(igvm));
	vv_put_le64(s + VV_VMLU_OFF_CONTROL, VV_VMLU_FORMAT_IGVM | VV_VMLU_CTL_HOST_IGVM);
	vv_put_le64(s + VV_VMLU_OFF_IMAGE_ADDR, IMAGE_GPA);
	vv_put_le64(s + VV_VMLU_OFF_IMAGE_SIZE, sizeof(igvm));
	guest_put(fw, VV_VMLU_FILE, s, sizeof(s));
	printf("vm-launch-update: status %u\n",
	       vv_le16(guest_get(fw, VV_VMLU_FILE, VV_VMLU_STRUCT_SIZE) + VV_VMLU_OFF_STATUS));
	printf("reset: launch %s image\n",
	       vv_vm_launch_update_reset(vmlu) == VV_VMLU_BOOT_GUEST_IMAGE ? "guest" : "host");
	printf("reset: launch %s image\n",
	       vv_vm_launch_update_reset(vmlu) == VV_VMLU_BOOT_GUEST_IMAGE ? "guest" : "host");
	rc = 0;
out:
	/* fw_cfg first: the update objects' files call back into them. */
	vv_fw_cfg_free(fw);
	vv_vmfwupdate_free(upd);
	vv_vm_launch_update_free(vmlu);
	return rc;
}
