/*
 * vmvars/vmfwupdate.h -- guest-driven firmware replacement over fw_cfg:
 * vmfwupdate (vmfwupdate-and-firmware-descriptors.md §1.3, the published
 * specification; never merged into QEMU) and its merged successor
 * vm-launch-update (§1.6, one 56-byte file `etc/vmlaunchupdate`, IGVM
 * images only).  Both are objects a VMM attaches to its struct vv_fw_cfg;
 * the VMM calls the object's reset function on every system reset and acts
 * on the answer.  docs/fw-cfg.md lists every choice where the
 * specification and the posted code disagree.
 */
#ifndef VMVARS_VMFWUPDATE_H
#define VMVARS_VMFWUPDATE_H

#include <vmvars/fw_cfg.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- vmfwupdate (§1.3) ---- */

/* File names as the specification gives them (§1.3).  The posted code's
 * `etc/vmfwupdate/...` names and its combined fw-blob are not offered. */
#define VV_VMFWUPDATE_FILE_CAP        "vmfwupdate/cap"
#define VV_VMFWUPDATE_FILE_BIOS_SIZE  "vmfwupdate/bios-size"
#define VV_VMFWUPDATE_FILE_OPAQUE     "vmfwupdate/opaque"
#define VV_VMFWUPDATE_FILE_DISABLE    "vmfwupdate/disable"
#define VV_VMFWUPDATE_FILE_BIOS_ADDR  "vmfwupdate/bios-addr"

#define VV_VMFWUPDATE_CAP_BIOS_RESIZE 0x0000000000000001ULL  /* spec value */
#define VV_VMFWUPDATE_X86_BIOS_END    0x100000000ULL         /* 4 GiB */

enum vv_vmfwupdate_revision {
	VV_VMFWUPDATE_SPEC_V3,  /* v3 and later: u64 bios-size, 4096-byte opaque (default) */
	VV_VMFWUPDATE_SPEC_V1,  /* v1/v2: u32 bios-size, 1024-byte opaque */
};

struct vv_vmfwupdate_config {
	enum vv_vmfwupdate_revision revision;
	/* The BIOS region the VMM maps read-write below 4 GiB: region_max
	 * bytes at `region`, the current firmware in its top bios_size bytes
	 * (0 < bios_size <= region_max).  The object writes it only inside
	 * vv_vmfwupdate_reset(). */
	uint8_t *region;
	uint64_t region_max;
	uint64_t bios_size;
	bool allow_resize;      /* advertise CAP_BIOS_RESIZE */
};

enum vv_vmfwupdate_outcome {
	VV_VMFWUPDATE_RESET_DISABLED,   /* disable was 1: normal reset */
	VV_VMFWUPDATE_RESET_NO_ADDR,    /* bios-addr was 0: normal reset */
	VV_VMFWUPDATE_RESET_UPDATED,    /* region replaced; boot the new firmware */
	VV_VMFWUPDATE_RESET_BAD_RANGE,  /* bios-addr + bios-size wraps: normal reset, region unchanged */
	VV_VMFWUPDATE_RESET_BAD_MEMORY, /* guest RAM refused the range: normal reset, region unchanged */
};

struct vv_vmfwupdate;

/* Adds the five files to fw (which must have DMA).  NULL on bad config,
 * fw without DMA, no free fw_cfg slots, or no memory. */
struct vv_vmfwupdate *vv_vmfwupdate_new(struct vv_fw_cfg *fw, const struct vv_guest_memory *mem,
					const struct vv_vmfwupdate_config *cfg);
/* Frees the object.  Its files stay in fw and their callbacks point here:
 * free fw first. */
void vv_vmfwupdate_free(struct vv_vmfwupdate *u);

/*
 * Call on every system reset, before the vCPUs restart (§1.3 "required
 * behaviour at reset"): disable 1 -> normal; bios-addr 0 -> normal; else
 * copy bios-size bytes from guest bios-addr into the top of the region.
 * Afterwards disable = 0, bios-addr = 0, bios-size = the region's size.
 * The opaque file is never touched: it survives every reset, chained
 * updates included (§1.3 step 4, as QEMU); the new firmware clears it.
 */
enum vv_vmfwupdate_outcome vv_vmfwupdate_reset(struct vv_vmfwupdate *u);

/* Size of the firmware now in the region (its top bytes), and where it is
 * mapped on x86: 4 GiB - size (§1.3). */
uint64_t vv_vmfwupdate_bios_size(const struct vv_vmfwupdate *u);
uint64_t vv_vmfwupdate_bios_base(const struct vv_vmfwupdate *u);
const char *vv_vmfwupdate_outcome_name(enum vv_vmfwupdate_outcome o);

/* ---- vm-launch-update (§1.6) ---- */

#define VV_VMLU_FILE                  "etc/vmlaunchupdate"
#define VV_VMLU_STRUCT_SIZE           56u
#define VV_VMLU_VERSION               0x0001u
#define VV_VMLU_FORMAT_IGVM           (1ULL << 32)
#define VV_VMLU_CTL_DISABLE           (1ULL << 0)
#define VV_VMLU_CTL_HOST_IGVM         (1ULL << 1)

/* Field offsets in the little-endian struct. */
#define VV_VMLU_OFF_VERSION           0
#define VV_VMLU_OFF_STATUS            2
#define VV_VMLU_OFF_CAPABILITIES      8
#define VV_VMLU_OFF_CONTROL           16
#define VV_VMLU_OFF_IMAGE_ADDR        24
#define VV_VMLU_OFF_IMAGE_SIZE        32
#define VV_VMLU_OFF_OPAQUE_ADDR       40
#define VV_VMLU_OFF_OPAQUE_SIZE       48

#define VV_VMLU_STATUS_SUCCESS        0u
#define VV_VMLU_STATUS_LOAD_FAIL      1u
#define VV_VMLU_STATUS_NOT_IGVM_INIT  2u

/* IGVM fixed header: magic "IGVM" (u32 LE 0x4D564749), format version. */
#define VV_IGVM_MAGIC                 0x4D564749u
#define VV_IGVM_FIXED_HEADER_V1       24u
#define VV_IGVM_FIXED_HEADER_V2       32u

/*
 * A VMM's own full IGVM parser (e.g. the igvm library's
 * igvm_new_from_binary()), run on the host copy of a guest image after the
 * built-in structural checks (vv_igvm_check_header) passed.  Return 0 to
 * accept the image, anything else to refuse it: the guest then sees status
 * LOAD_FAIL and the launch state is not modified (§1.6 "write callback"
 * step 6).  image is valid only during the call.  Must not call back into
 * the fw_cfg device.
 */
typedef int (*vv_igvm_parse_fn)(void *opaque, const uint8_t *image, size_t size);

struct vv_vm_launch_update_config {
	bool started_from_igvm;         /* else every write gets NOT_IGVM_INIT */
	uint64_t max_image_size;        /* 0: 64 MiB */
	vv_igvm_parse_fn igvm_parse;    /* NULL: the structural checks only */
	void *igvm_parse_opaque;
};

enum vv_vmlu_boot {
	VV_VMLU_BOOT_HOST_IMAGE,        /* the VMM's own IGVM */
	VV_VMLU_BOOT_GUEST_IMAGE,       /* vv_vm_launch_update_image() */
};

struct vv_vm_launch_update;

struct vv_vm_launch_update *vv_vm_launch_update_new(struct vv_fw_cfg *fw,
						    const struct vv_guest_memory *mem,
						    const struct vv_vm_launch_update_config *cfg);
/* As vv_vmfwupdate_free(): free fw first. */
void vv_vm_launch_update_free(struct vv_vm_launch_update *u);

/* Call on every system reset: which image to launch (§1.6 reset). */
enum vv_vmlu_boot vv_vm_launch_update_reset(struct vv_vm_launch_update *u);

/* The accepted guest image (a copy, its header validated), or NULL. */
const uint8_t *vv_vm_launch_update_image(const struct vv_vm_launch_update *u, size_t *size);
/* The guest memory the guest asked to keep across the relaunch. */
void vv_vm_launch_update_opaque(const struct vv_vm_launch_update *u, uint64_t *addr, uint64_t *size);

/* 0 if buf[0..len) is a structurally sound IGVM file, as QEMU's IGVM
 * parser checks it: magic, format version 1 or 2, total_file_size == len,
 * variable header section 8-byte aligned after the fixed header and inside
 * the file, the CRC-32 checksum over the fixed header (checksum field as
 * zero) and the variable header section, and that section exactly filled
 * by 8-byte-aligned type/length entries with zero padding and no INVALID
 * (0) type.  Otherwise -1.  The entries' meaning is not checked: that is
 * the VMM's IGVM loader's job (or its igvm_parse hook's). */
int vv_igvm_check_header(const uint8_t *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_VMFWUPDATE_H */
