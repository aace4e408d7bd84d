/*
 * src/device/vm_launch_update.c -- the vm-launch-update device
 * (vmfwupdate-and-firmware-descriptors.md §1.6): one 56-byte little-endian
 * fw_cfg file `etc/vmlaunchupdate` through which the guest hands the VMM
 * an IGVM image to relaunch with, and the reset rules that apply it once
 * or for good.
 *
 * Invariants (tests/test_vmfwupdate.c checks each):
 *  (1) Every guest write is judged on the whole struct as the guest left
 *      it, in the order of QEMU's launch_update_write (§1.6 "write
 *      callback"), and ends with `status` written back; version and
 *      capabilities are put back (they are read-only to the guest).
 *  (2) An image is accepted only if its range does not wrap, is at most
 *      max_image_size, guest RAM gives all of it, its IGVM structure is
 *      sound (vv_igvm_check_header: the checks QEMU's parser makes) and
 *      the VMM's parser, if it plugged one in, accepts it; it is copied
 *      once into a host buffer and only that copy is checked and handed
 *      on (no double fetch).  A refused image is status LOAD_FAIL and
 *      changes nothing else.
 *  (3) The one-shot request (CTL_HOST_IGVM) is latched in host state when
 *      the write that carries it succeeds, so a later select (which
 *      re-initialises control, §1.6 "select callback") cannot lose it.
 *  (4) A revert request (no image, CTL_HOST_IGVM) takes effect at the very
 *      next reset (§1.6 write step 4), ahead of any format check.
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/vmfwupdate.h>

#include "core/crc32.h"

#define DEFAULT_MAX_IMAGE (64ULL << 20)

struct vv_vm_launch_update {
	struct vv_fw_cfg *fw;
	struct vv_guest_memory mem;
	bool started_from_igvm;
	uint64_t max_image;
	vv_igvm_parse_fn parse;         /* the VMM's full parser, or NULL */
	void *parse_opaque;

	bool disabled;                  /* CTL_DISABLE latched until host revert */
	bool host_igvm_requested;       /* invariant (3) */
	bool host_igvm_on_reset;        /* next reset goes back to the host image */
	uint8_t *image;                 /* accepted guest image, or NULL */
	size_t image_size;
	uint64_t opaque_addr, opaque_size;
};

/*
 * ---- IGVM structure (issue #19 item 2) ----
 *
 * The checks QEMU's IGVM parser (the igvm library's igvm_new_from_binary,
 * behind §1.6 "write callback" step 6) makes on a file's structure, from
 * the IGVM format's published definitions (igvm_defs: IGVM_FIXED_HEADER,
 * IGVM_FIXED_HEADER_V2, IGVM_VHS_VARIABLE_HEADER):
 *
 *   fixed header  magic "IGVM"; format_version 1 (24-byte header) or 2
 *                 (32-byte header); total_file_size equal to the file's
 *                 size; variable_header_offset at least the fixed header's
 *                 size and 8-byte aligned; the variable header section
 *                 inside the file; checksum = CRC-32 (zlib's) over the
 *                 fixed header with the checksum field taken as zero,
 *                 followed by the variable header section.
 *   variable      a run of entries, each a u32 type and a u32 length of
 *   headers       its content (not counting the 8 bytes of type/length),
 *                 each starting 8-byte aligned (content padded with zero
 *                 bytes to a multiple of 8), each wholly inside the
 *                 section, the section exactly filled; type 0 is INVALID.
 *
 * What the entries mean (platforms, directives, per-type sizes) is left to
 * the VMM's loader, or to the parser it plugs in (igvm_parse).  All sizes
 * are u32 from the file, summed in u64, so nothing here can overflow.
 */

#define IGVM_OFF_MAGIC          0
#define IGVM_OFF_VERSION        4
#define IGVM_OFF_VH_OFFSET      8
#define IGVM_OFF_VH_SIZE        12
#define IGVM_OFF_TOTAL          16
#define IGVM_OFF_CHECKSUM       20
#define IGVM_VH_ENTRY_HEADER    8u      /* u32 type + u32 length */
#define IGVM_VHT_INVALID        0u

static int
igvm_check_entries(const uint8_t *vh, uint64_t size)
{
	uint64_t pos = 0;

	/* A section too short for one entry header is malformed (an IGVM file
	 * needs at least its platform header). */
	if (size < IGVM_VH_ENTRY_HEADER)
		return -1;
	while (pos < size) {
		uint64_t left = size - pos, len, padded;

		if (left < IGVM_VH_ENTRY_HEADER)
			return -1;
		if (vv_le32(vh + pos) == IGVM_VHT_INVALID)
			return -1;
		len = vv_le32(vh + pos + 4);
		padded = (len + 7) & ~(uint64_t)7;      /* len < 2^32: no wrap */
		if (padded > left - IGVM_VH_ENTRY_HEADER)
			return -1;
		for (uint64_t i = len; i < padded; i++)
			if (vh[pos + IGVM_VH_ENTRY_HEADER + i] != 0)
				return -1;
		pos += IGVM_VH_ENTRY_HEADER + padded;
	}
	return 0;
}

int
vv_igvm_check_header(const uint8_t *buf, size_t len)
{
	uint8_t fixed_copy[VV_IGVM_FIXED_HEADER_V2];
	uint32_t version, vh_off, vh_size, crc;
	uint64_t vh_end;
	size_t fixed;

	if (buf == NULL || len < VV_IGVM_FIXED_HEADER_V1 || vv_le32(buf + IGVM_OFF_MAGIC) != VV_IGVM_MAGIC)
		return -1;
	version = vv_le32(buf + IGVM_OFF_VERSION);
	if (version == 1)
		fixed = VV_IGVM_FIXED_HEADER_V1;
	else if (version == 2)
		fixed = VV_IGVM_FIXED_HEADER_V2;
	else
		return -1;
	if (len < fixed || vv_le32(buf + IGVM_OFF_TOTAL) != len)
		return -1;
	vh_off = vv_le32(buf + IGVM_OFF_VH_OFFSET);
	vh_size = vv_le32(buf + IGVM_OFF_VH_SIZE);
	vh_end = (uint64_t)vh_off + vh_size;
	if (vh_off < fixed || vh_off % 8 != 0 || vh_end > len)
		return -1;
	/* The checksum as if its own field were zero. */
	memcpy(fixed_copy, buf, fixed);
	vv_put_le32(fixed_copy + IGVM_OFF_CHECKSUM, 0);
	crc = vv_crc32(0, fixed_copy, fixed);
	crc = vv_crc32(crc, buf + vh_off, vh_size);
	if (crc != vv_le32(buf + IGVM_OFF_CHECKSUM))
		return -1;
	return igvm_check_entries(buf + vh_off, vh_size);
}

/* ---- the struct ---- */

/* §1.6 select callback: version, capabilities and control re-initialised. */
static void
init_fields(struct vv_vm_launch_update *u, uint8_t *data)
{
	vv_put_le16(data + VV_VMLU_OFF_VERSION, VV_VMLU_VERSION);
	vv_put_le64(data + VV_VMLU_OFF_CAPABILITIES, VV_VMLU_FORMAT_IGVM);
	vv_put_le64(data + VV_VMLU_OFF_CONTROL, u->disabled ? VV_VMLU_CTL_DISABLE : 0);
}

static void
selected(void *opaque, uint8_t *data, size_t size)
{
	init_fields(opaque, data);
}

/* Invariant (2).  Returns the status. */
static uint16_t
load_image(struct vv_vm_launch_update *u, uint8_t *data, uint64_t addr, uint64_t size)
{
	uint64_t end;
	uint8_t *copy;

	if (size == 0 || size > u->max_image || vv_add_overflow(addr, size, &end))
		return VV_VMLU_STATUS_LOAD_FAIL;
	copy = malloc((size_t)size);
	if (copy == NULL)
		return VV_VMLU_STATUS_LOAD_FAIL;
	/* Structure first, so the VMM's parser only ever sees a well-framed
	 * file; either refusal leaves the launch state as it was (§1.6: an
	 * invalid file "fails to parse" and status reports it). */
	if (u->mem.read(u->mem.opaque, addr, copy, (size_t)size) != 0 ||
	    vv_igvm_check_header(copy, (size_t)size) != 0 ||
	    (u->parse != NULL && u->parse(u->parse_opaque, copy, (size_t)size) != 0)) {
		free(copy);
		return VV_VMLU_STATUS_LOAD_FAIL;
	}
	free(u->image);
	u->image = copy;
	u->image_size = (size_t)size;
	/* Cleared after a successful parse (§1.6 field table). */
	vv_put_le64(data + VV_VMLU_OFF_IMAGE_ADDR, 0);
	vv_put_le64(data + VV_VMLU_OFF_IMAGE_SIZE, 0);
	return VV_VMLU_STATUS_SUCCESS;
}

/* Steps 2-6 of §1.6 "write callback", after status was set to 0. */
static uint16_t
judge_write(struct vv_vm_launch_update *u, uint8_t *data)
{
	uint64_t control = vv_le64(data + VV_VMLU_OFF_CONTROL);
	uint64_t addr = vv_le64(data + VV_VMLU_OFF_IMAGE_ADDR);
	uint64_t size = vv_le64(data + VV_VMLU_OFF_IMAGE_SIZE);
	uint64_t oaddr = vv_le64(data + VV_VMLU_OFF_OPAQUE_ADDR);
	uint64_t osize = vv_le64(data + VV_VMLU_OFF_OPAQUE_SIZE);
	bool image = addr != 0 || size != 0;
	uint64_t end;
	uint16_t status;

	if (!u->started_from_igvm)
		return VV_VMLU_STATUS_NOT_IGVM_INIT;
	if (u->disabled)
		return VV_VMLU_STATUS_SUCCESS;                  /* step 2 */
	if (control & VV_VMLU_CTL_DISABLE) {
		u->disabled = true;                             /* step 3 */
		return VV_VMLU_STATUS_SUCCESS;
	}
	if (!image && (control & VV_VMLU_CTL_HOST_IGVM)) {
		/* Step 4, before the format is looked at (issue #19 item 4):
		 * "the immediate next guest reset will load the original host
		 * provided IGVM file" (item 3), whatever else control says. */
		u->host_igvm_on_reset = true;
		u->host_igvm_requested = false;
		return VV_VMLU_STATUS_SUCCESS;
	}
	if (image && !(control & VV_VMLU_FORMAT_IGVM))
		return VV_VMLU_STATUS_LOAD_FAIL;                /* step 5 */
	if (!image)
		return VV_VMLU_STATUS_LOAD_FAIL;                /* step 6 on an empty range, as QEMU */
	if (vv_add_overflow(oaddr, osize, &end))
		return VV_VMLU_STATUS_LOAD_FAIL;                /* ours: docs/fw-cfg.md */
	status = load_image(u, data, addr, size);              /* step 6 */
	if (status == VV_VMLU_STATUS_SUCCESS) {
		/* the reset rule "CTL_HOST_IGVM and status 0": one boot of it */
		u->host_igvm_requested = (control & VV_VMLU_CTL_HOST_IGVM) != 0;
		u->opaque_addr = oaddr;
		u->opaque_size = osize;
	}
	return status;
}

static void
written(void *opaque, uint8_t *data, size_t size, uint32_t offset, uint32_t len)
{
	struct vv_vm_launch_update *u = opaque;
	uint16_t status = judge_write(u, data);

	vv_put_le16(data + VV_VMLU_OFF_VERSION, VV_VMLU_VERSION);
	vv_put_le64(data + VV_VMLU_OFF_CAPABILITIES, VV_VMLU_FORMAT_IGVM);
	vv_put_le16(data + VV_VMLU_OFF_STATUS, status);
}

/* ---- public ---- */

struct vv_vm_launch_update *
vv_vm_launch_update_new(struct vv_fw_cfg *fw, const struct vv_guest_memory *mem,
			const struct vv_vm_launch_update_config *cfg)
{
	struct vv_fw_cfg_file_ops ops;
	struct vv_vm_launch_update *u;
	uint8_t init[VV_VMLU_STRUCT_SIZE] = { 0 };

	/* §1.6: requires fw_cfg with DMA; at most one instance. */
	if (fw == NULL || mem == NULL || mem->read == NULL || !vv_fw_cfg_has_dma(fw) ||
	    vv_fw_cfg_file_key(fw, VV_VMLU_FILE) != VV_FW_CFG_INVALID)
		return NULL;
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return NULL;
	u->fw = fw;
	u->mem = *mem;
	u->started_from_igvm = cfg != NULL && cfg->started_from_igvm;
	u->max_image = cfg != NULL && cfg->max_image_size != 0 ? cfg->max_image_size : DEFAULT_MAX_IMAGE;
	if (u->max_image > SIZE_MAX)
		u->max_image = SIZE_MAX;
	if (cfg != NULL) {
		u->parse = cfg->igvm_parse;
		u->parse_opaque = cfg->igvm_parse_opaque;
	}
	init_fields(u, init);
	ops.select = selected;
	ops.write = written;
	ops.opaque = u;
	if (vv_fw_cfg_add_file(fw, VV_VMLU_FILE, init, sizeof(init), true, &ops) != 0) {
		free(u);
		return NULL;
	}
	return u;
}

void
vv_vm_launch_update_free(struct vv_vm_launch_update *u)
{
	if (u == NULL)
		return;
	free(u->image);
	free(u);
}

enum vv_vmlu_boot
vv_vm_launch_update_reset(struct vv_vm_launch_update *u)
{
	size_t size;
	uint8_t *data = vv_fw_cfg_file_data(u->fw, VV_VMLU_FILE, &size);

	if (u->host_igvm_on_reset) {
		/* Back to the host image, interface enabled again (§1.6 reset). */
		free(u->image);
		u->image = NULL;
		u->image_size = 0;
		u->disabled = false;
		u->host_igvm_on_reset = false;
		u->host_igvm_requested = false;
	} else if (u->host_igvm_requested) {
		/* The guest image runs for this one boot only. */
		u->host_igvm_on_reset = true;
		u->host_igvm_requested = false;
	}
	if (data != NULL && size == VV_VMLU_STRUCT_SIZE)
		init_fields(u, data);
	return u->image != NULL ? VV_VMLU_BOOT_GUEST_IMAGE : VV_VMLU_BOOT_HOST_IMAGE;
}

const uint8_t *
vv_vm_launch_update_image(const struct vv_vm_launch_update *u, size_t *size)
{
	if (size != NULL)
		*size = u->image_size;
	return u->image;
}

void
vv_vm_launch_update_opaque(const struct vv_vm_launch_update *u, uint64_t *addr, uint64_t *size)
{
	*addr = u->opaque_addr;
	*size = u->opaque_size;
}
