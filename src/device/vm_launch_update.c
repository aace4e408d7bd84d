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
 *      max_image_size, guest RAM gives all of it, and it starts with an
 *      IGVM fixed header; it is copied once into a host buffer and only
 *      that copy is checked and handed on (no double fetch).  A refused
 *      image is status LOAD_FAIL and changes nothing else.
 *  (3) The one-shot request (CTL_HOST_IGVM) is latched in host state when
 *      the write that carries it succeeds, so a later select (which
 *      re-initialises control, §1.6 "select callback") cannot lose it.
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/vmfwupdate.h>

#define DEFAULT_MAX_IMAGE (64ULL << 20)

struct vv_vm_launch_update {
	struct vv_fw_cfg *fw;
	struct vv_guest_memory mem;
	bool started_from_igvm;
	uint64_t max_image;

	bool disabled;                  /* CTL_DISABLE latched until host revert */
	bool host_igvm_requested;       /* invariant (3) */
	bool host_igvm_on_reset;        /* next reset goes back to the host image */
	uint8_t *image;                 /* accepted guest image, or NULL */
	size_t image_size;
	uint64_t opaque_addr, opaque_size;
};

/* ---- IGVM fixed header (IGVM specification; not a full parse) ---- */

int
vv_igvm_check_header(const uint8_t *buf, size_t len)
{
	uint32_t version, var_off, var_size, total;
	size_t fixed;
	uint64_t var_end;

	if (buf == NULL || len < VV_IGVM_FIXED_HEADER_V1 || vv_le32(buf) != VV_IGVM_MAGIC)
		return -1;
	version = vv_le32(buf + 4);
	if (version == 1)
		fixed = VV_IGVM_FIXED_HEADER_V1;
	else if (version == 2)
		fixed = VV_IGVM_FIXED_HEADER_V2;
	else
		return -1;
	if (len < fixed)
		return -1;
	var_off = vv_le32(buf + 8);
	var_size = vv_le32(buf + 12);
	total = vv_le32(buf + 16);
	if (var_off < fixed || vv_add_overflow(var_off, var_size, &var_end) || var_end > total ||
	    total > len)
		return -1;
	return 0;
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
	if (u->mem.read(u->mem.opaque, addr, copy, (size_t)size) != 0 ||
	    vv_igvm_check_header(copy, (size_t)size) != 0) {
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
	if (vv_add_overflow(oaddr, osize, &end))
		return VV_VMLU_STATUS_LOAD_FAIL;
	if (!image && (control & VV_VMLU_FORMAT_IGVM))
		return VV_VMLU_STATUS_LOAD_FAIL;                /* an image promised, none given */
	if (image && !(control & VV_VMLU_FORMAT_IGVM))
		return VV_VMLU_STATUS_LOAD_FAIL;                /* step 5 */
	status = image ? load_image(u, data, addr, size) : VV_VMLU_STATUS_SUCCESS;
	if (status == VV_VMLU_STATUS_SUCCESS) {
		/* step 4 and the reset rule "CTL_HOST_IGVM and status 0" */
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
