/*
 * src/device/vmfwupdate.c -- vmfwupdate as its specification describes it
 * (vmfwupdate-and-firmware-descriptors.md §1.3): five fw_cfg files and the
 * reset-time replacement of the BIOS region.
 *
 * Invariants (tests/test_vmfwupdate.c checks each):
 *  (1) Host state is a shadow the guest cannot set directly: each write
 *      callback validates the guest-visible file, takes what it accepts
 *      into the shadow, then writes the shadow back, so a guest that reads
 *      a file after writing it sees what was accepted (Gerd Hoffmann's
 *      guest-copy/shadow scheme, §1.5; the spec's "read bios-size back").
 *  (2) The BIOS region is written only inside vv_vmfwupdate_reset(), and
 *      only after the whole image was read from guest RAM into a scratch
 *      buffer: a refused or wrapping range leaves it unchanged.
 *  (3) disable is write-once until reset (§1.3): the first write of any
 *      value makes it 1, later writes are put back to 1.
 *  (4) bios-size is writable only with CAP_BIOS_RESIZE; an accepted value
 *      is non-zero, a multiple of 4 KiB and at most region_max.
 *  (5) The opaque file is the guest's: no reset changes it (§1.3 step 4).
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/vmfwupdate.h>

#define PAGE_SIZE          4096u
#define OPAQUE_SIZE_V3     4096u
#define OPAQUE_SIZE_V1     1024u

struct vv_vmfwupdate {
	struct vv_fw_cfg *fw;
	struct vv_guest_memory mem;
	uint8_t *region;
	uint64_t region_max;
	uint64_t caps;
	unsigned size_width;            /* bytes of bios-size: 4 (v1/v2) or 8 */

	/* The shadow, invariant (1). */
	uint64_t bios_size;             /* firmware now in the region */
	uint64_t req_size;              /* accepted bios-size for the next update */
	uint64_t bios_addr;
	bool disabled;
};

static uint64_t
get_width(const uint8_t *p, unsigned width)
{
	return width == 4 ? vv_le32(p) : vv_le64(p);
}

/* width is 1 (disable), 4 (v1/v2 bios-size) or 8. */
static void
put_width(uint8_t *p, unsigned width, uint64_t v)
{
	if (width == 1)
		p[0] = (uint8_t)v;
	else if (width == 4)
		vv_put_le32(p, (uint32_t)v);
	else
		vv_put_le64(p, v);
}

static void
publish(struct vv_vmfwupdate *u, const char *name, uint64_t v, unsigned width)
{
	size_t size;
	uint8_t *data = vv_fw_cfg_file_data(u->fw, name, &size);

	if (data != NULL && size >= width)
		put_width(data, width, v);
}

/* ---- write callbacks ---- */

/* Invariant (4); a refused value is put back, so the read-back differs. */
static void
bios_size_written(void *opaque, uint8_t *data, size_t size, uint32_t offset, uint32_t len)
{
	struct vv_vmfwupdate *u = opaque;
	uint64_t v = get_width(data, u->size_width);

	if ((u->caps & VV_VMFWUPDATE_CAP_BIOS_RESIZE) && v != 0 && v % PAGE_SIZE == 0 &&
	    v <= u->region_max)
		u->req_size = v;
	put_width(data, u->size_width, u->req_size);
}

static void
bios_addr_written(void *opaque, uint8_t *data, size_t size, uint32_t offset, uint32_t len)
{
	struct vv_vmfwupdate *u = opaque;

	/* The range is checked at reset, when bios-size is final (§1.3 step 3). */
	u->bios_addr = vv_le64(data);
}

/* Invariant (3). */
static void
disable_written(void *opaque, uint8_t *data, size_t size, uint32_t offset, uint32_t len)
{
	struct vv_vmfwupdate *u = opaque;

	u->disabled = true;
	data[0] = 1;
}

/* ---- construction ---- */

static bool
config_ok(const struct vv_vmfwupdate_config *cfg)
{
	return cfg != NULL && cfg->region != NULL && cfg->region_max > 0 &&
	       cfg->region_max <= VV_VMFWUPDATE_X86_BIOS_END && cfg->bios_size > 0 &&
	       cfg->bios_size <= cfg->region_max &&
	       (cfg->revision == VV_VMFWUPDATE_SPEC_V3 || cfg->revision == VV_VMFWUPDATE_SPEC_V1) &&
	       (cfg->revision == VV_VMFWUPDATE_SPEC_V3 || cfg->region_max <= UINT32_MAX);
}

static int
add_files(struct vv_vmfwupdate *u, size_t opaque_size, bool resize)
{
	struct vv_fw_cfg_file_ops size_ops = { NULL, bios_size_written, u };
	struct vv_fw_cfg_file_ops addr_ops = { NULL, bios_addr_written, u };
	struct vv_fw_cfg_file_ops disable_ops = { NULL, disable_written, u };
	uint8_t cap[8], bios_size[8], zero8[8] = { 0 };

	vv_put_le64(cap, u->caps);
	put_width(bios_size, u->size_width, u->bios_size);
	if (vv_fw_cfg_add_file(u->fw, VV_VMFWUPDATE_FILE_CAP, cap, 8, false, NULL) != 0)
		return -1;
	if (vv_fw_cfg_add_file(u->fw, VV_VMFWUPDATE_FILE_BIOS_SIZE, bios_size, u->size_width,
			       resize, &size_ops) != 0)
		return -1;
	/* A plain writable file: only the guest ever changes it (step 4). */
	if (vv_fw_cfg_add_file(u->fw, VV_VMFWUPDATE_FILE_OPAQUE, NULL, opaque_size, true,
			       NULL) != 0)
		return -1;
	if (vv_fw_cfg_add_file(u->fw, VV_VMFWUPDATE_FILE_DISABLE, zero8, 1, true, &disable_ops) != 0)
		return -1;
	return vv_fw_cfg_add_file(u->fw, VV_VMFWUPDATE_FILE_BIOS_ADDR, zero8, 8, true, &addr_ops);
}

static const char *const all_files[] = {
	VV_VMFWUPDATE_FILE_CAP, VV_VMFWUPDATE_FILE_BIOS_SIZE, VV_VMFWUPDATE_FILE_OPAQUE,
	VV_VMFWUPDATE_FILE_DISABLE, VV_VMFWUPDATE_FILE_BIOS_ADDR,
};

struct vv_vmfwupdate *
vv_vmfwupdate_new(struct vv_fw_cfg *fw, const struct vv_guest_memory *mem,
		  const struct vv_vmfwupdate_config *cfg)
{
	struct vv_vmfwupdate *u;
	bool v1;

	/* §1.3 base requirements: fw_cfg with DMA, a BIOS region. */
	if (fw == NULL || mem == NULL || mem->read == NULL || !config_ok(cfg) ||
	    !vv_fw_cfg_has_dma(fw))
		return NULL;
	/* At most one instance (v6 realize), and no name taken. */
	for (size_t i = 0; i < sizeof(all_files) / sizeof(all_files[0]); i++)
		if (vv_fw_cfg_file_key(fw, all_files[i]) != VV_FW_CFG_INVALID)
			return NULL;
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return NULL;
	v1 = cfg->revision == VV_VMFWUPDATE_SPEC_V1;
	u->fw = fw;
	u->mem = *mem;
	u->region = cfg->region;
	u->region_max = cfg->region_max;
	u->caps = cfg->allow_resize ? VV_VMFWUPDATE_CAP_BIOS_RESIZE : 0;
	u->size_width = v1 ? 4 : 8;
	u->bios_size = cfg->bios_size;
	u->req_size = cfg->bios_size;
	if (add_files(u, v1 ? OPAQUE_SIZE_V1 : OPAQUE_SIZE_V3, cfg->allow_resize) != 0) {
		/* No half-registered device: the files' callbacks point at u. */
		for (size_t i = 0; i < sizeof(all_files) / sizeof(all_files[0]); i++)
			(void)vv_fw_cfg_remove_file(fw, all_files[i]);
		free(u);
		return NULL;
	}
	return u;
}

void
vv_vmfwupdate_free(struct vv_vmfwupdate *u)
{
	free(u);
}

/* ---- reset (§1.3 "required behaviour at reset") ---- */

/* Invariant (2): the image goes to the top of the region (on x86 the
 * region ends at 4 GiB and starts at 4 GiB - bios-size); below it the
 * region is zeroed so nothing of the old firmware stays mapped. */
static enum vv_vmfwupdate_outcome
replace_region(struct vv_vmfwupdate *u)
{
	uint64_t size = u->req_size, end;
	uint8_t *scratch;

	if (vv_add_overflow(u->bios_addr, size, &end))
		return VV_VMFWUPDATE_RESET_BAD_RANGE;
	scratch = malloc((size_t)size);
	if (scratch == NULL)
		return VV_VMFWUPDATE_RESET_BAD_MEMORY;
	if (u->mem.read(u->mem.opaque, u->bios_addr, scratch, (size_t)size) != 0) {
		free(scratch);
		return VV_VMFWUPDATE_RESET_BAD_MEMORY;
	}
	memset(u->region, 0, (size_t)(u->region_max - size));
	memcpy(u->region + (u->region_max - size), scratch, (size_t)size);
	free(scratch);
	u->bios_size = size;
	return VV_VMFWUPDATE_RESET_UPDATED;
}

enum vv_vmfwupdate_outcome
vv_vmfwupdate_reset(struct vv_vmfwupdate *u)
{
	enum vv_vmfwupdate_outcome o;

	if (u->disabled)
		o = VV_VMFWUPDATE_RESET_DISABLED;       /* step 1 */
	else if (u->bios_addr == 0)
		o = VV_VMFWUPDATE_RESET_NO_ADDR;        /* step 2 */
	else
		o = replace_region(u);                  /* step 3 */

	/* disable and bios-addr reset to 0; bios-size tells the truth again. */
	u->disabled = false;
	u->bios_addr = 0;
	u->req_size = u->bios_size;
	publish(u, VV_VMFWUPDATE_FILE_DISABLE, 0, 1);
	publish(u, VV_VMFWUPDATE_FILE_BIOS_ADDR, 0, 8);
	publish(u, VV_VMFWUPDATE_FILE_BIOS_SIZE, u->bios_size, u->size_width);

	/* Step 4: "all existing guest shared memory as well as the
	 * vmfwupdate/opaque file are preserved" -- on every reset, chained
	 * updates included (issue #19 item 1).  QEMU's patch never clears it
	 * either; the new firmware is the one the spec tells to clear it. */
	return o;
}

uint64_t
vv_vmfwupdate_bios_size(const struct vv_vmfwupdate *u)
{
	return u->bios_size;
}

uint64_t
vv_vmfwupdate_bios_base(const struct vv_vmfwupdate *u)
{
	return VV_VMFWUPDATE_X86_BIOS_END - u->bios_size;
}

const char *
vv_vmfwupdate_outcome_name(enum vv_vmfwupdate_outcome o)
{
	switch (o) {
	case VV_VMFWUPDATE_RESET_DISABLED: return "normal reset (disabled)";
	case VV_VMFWUPDATE_RESET_NO_ADDR: return "normal reset (bios-addr 0)";
	case VV_VMFWUPDATE_RESET_UPDATED: return "firmware replaced";
	case VV_VMFWUPDATE_RESET_BAD_RANGE: return "normal reset (bios range wraps)";
	case VV_VMFWUPDATE_RESET_BAD_MEMORY: return "normal reset (bios range not guest RAM)";
	}
	return "unknown";
}
