/*
 * tests/test_vmfwupdate.c -- vmfwupdate (vmfwupdate-and-firmware-
 * descriptors.md §1.3) and vm-launch-update (§1.6) driven by a simulated
 * guest through fw_cfg DMA, as the guest loader would drive them.
 *
 * Covers every branch of the vmfwupdate reset, resize with and without the
 * capability, the opaque buffer surviving exactly one update reset, the
 * write-once disable, and vm-launch-update's status codes and one-shot /
 * permanent relaunch.  Bad input is checked for the exact result (DMA
 * control word, value read back, status) and an unchanged BIOS region.
 */
#include <vmvars/vmfwupdate.h>

#include "harness.h"
#include "core/crc32.h"

#define RAM_BASE   0x100000ULL
#define RAM_SIZE   0x40000u
#define REGION_MAX 0x10000u
#define DESC       (RAM_BASE)
#define SCRATCH    (RAM_BASE + 0x100)
#define IMAGE      (RAM_BASE + 0x20000)

#define LOW_SIZE   0x1000u     /* guest RAM at GPA 0, for images placed there */

static uint8_t ram[RAM_SIZE];
static uint8_t low[LOW_SIZE];
static uint8_t region[REGION_MAX];

static int
ram_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	if (len != 0 && gpa < LOW_SIZE && len <= LOW_SIZE - gpa) {
		memcpy(buf, low + gpa, len);
		return 0;
	}
	if (len == 0 || gpa < RAM_BASE || gpa - RAM_BASE > RAM_SIZE || len > RAM_SIZE - (gpa - RAM_BASE))
		return -1;
	memcpy(buf, ram + (gpa - RAM_BASE), len);
	return 0;
}

static int
ram_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	if (len != 0 && gpa < LOW_SIZE && len <= LOW_SIZE - gpa) {
		memcpy(low + gpa, buf, len);
		return 0;
	}
	if (len == 0 || gpa < RAM_BASE || gpa - RAM_BASE > RAM_SIZE || len > RAM_SIZE - (gpa - RAM_BASE))
		return -1;
	memcpy(ram + (gpa - RAM_BASE), buf, len);
	return 0;
}

static const struct vv_guest_memory mem = { ram_read, ram_write, NULL };

static uint8_t *
gpa_ptr(uint64_t gpa)
{
	return ram + (gpa - RAM_BASE);
}

static void
set_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* One DMA operation on a file by name; returns the completion word. */
static uint32_t
dma(struct vv_fw_cfg *fw, const char *name, uint32_t op, uint32_t len, uint64_t addr)
{
	uint16_t key = vv_fw_cfg_file_key(fw, name);
	uint8_t *d = gpa_ptr(DESC);

	set_be32(d, VV_FW_CFG_DMA_CTL_SELECT | op | ((uint32_t)key << 16));
	set_be32(d + 4, len);
	set_be32(d + 8, (uint32_t)(addr >> 32));
	set_be32(d + 12, (uint32_t)addr);
	vv_fw_cfg_write(fw, VV_FW_CFG_IO_DMA, 0, 4);
	vv_fw_cfg_write(fw, VV_FW_CFG_IO_DMA + 4, __builtin_bswap32((uint32_t)DESC), 4);
	return get_be32(d);
}

/* Guest writes bytes to a file through DMA. */
static uint32_t
guest_write(struct vv_fw_cfg *fw, const char *name, const void *bytes, uint32_t len)
{
	memcpy(gpa_ptr(SCRATCH), bytes, len);
	return dma(fw, name, VV_FW_CFG_DMA_CTL_WRITE, len, SCRATCH);
}

static uint32_t
guest_write_u64(struct vv_fw_cfg *fw, const char *name, uint64_t v)
{
	uint8_t b[8];

	vv_put_le64(b, v);
	return guest_write(fw, name, b, 8);
}

/* Guest reads the first len (<= 8) bytes of a file as a LE integer. */
static uint64_t
guest_read_le(struct vv_fw_cfg *fw, const char *name, uint32_t len)
{
	uint64_t v = 0;

	memset(gpa_ptr(SCRATCH), 0xee, 8);
	if (dma(fw, name, VV_FW_CFG_DMA_CTL_READ, len, SCRATCH) != 0)
		return 0xdeadULL;
	for (uint32_t i = 0; i < len; i++)
		v |= (uint64_t)gpa_ptr(SCRATCH)[i] << (8 * i);
	return v;
}

struct rig {
	struct vv_fw_cfg *fw;
	struct vv_vmfwupdate *u;
};

static struct rig
rig_new(bool resize, enum vv_vmfwupdate_revision rev)
{
	struct vv_vmfwupdate_config cfg = { rev, region, REGION_MAX, REGION_MAX, resize };
	struct rig r;

	memset(ram, 0, sizeof(ram));
	memset(region, 'O', sizeof(region));            /* the old firmware */
	for (unsigned i = 0; i < REGION_MAX; i++)
		gpa_ptr(IMAGE)[i] = (uint8_t)(i * 7 + 1);   /* the new one */
	r.fw = vv_fw_cfg_new(VV_FW_CFG_IO, &mem, 0);
	r.u = r.fw != NULL ? vv_vmfwupdate_new(r.fw, &mem, &cfg) : NULL;
	return r;
}

static void
rig_free(struct rig *r)
{
	vv_fw_cfg_free(r->fw);
	vv_vmfwupdate_free(r->u);
}

static bool
region_is_old(void)
{
	for (unsigned i = 0; i < REGION_MAX; i++)
		if (region[i] != 'O')
			return false;
	return true;
}

/* ---- vmfwupdate ---- */

static void
test_files_and_capabilities(void)
{
	struct rig r = rig_new(false, VV_VMFWUPDATE_SPEC_V3);
	size_t size;

	REQUIRE(r.u != NULL);
	CHECK_EQ(guest_read_le(r.fw, VV_VMFWUPDATE_FILE_CAP, 8), 0);
	CHECK_EQ(guest_read_le(r.fw, VV_VMFWUPDATE_FILE_BIOS_SIZE, 8), REGION_MAX);
	CHECK_EQ(guest_read_le(r.fw, VV_VMFWUPDATE_FILE_DISABLE, 1), 0);
	CHECK_EQ(guest_read_le(r.fw, VV_VMFWUPDATE_FILE_BIOS_ADDR, 8), 0);
	CHECK(vv_fw_cfg_file_data(r.fw, VV_VMFWUPDATE_FILE_OPAQUE, &size) != NULL);
	CHECK_EQ(size, 4096);
	/* The capability file is read-only. */
	CHECK_EQ(guest_write_u64(r.fw, VV_VMFWUPDATE_FILE_CAP, 1), VV_FW_CFG_DMA_CTL_ERROR);
	CHECK_EQ(guest_read_le(r.fw, VV_VMFWUPDATE_FILE_CAP, 8), 0);
	/* One instance per fw_cfg. */
	{
		struct vv_vmfwupdate_config cfg = { 0, region, REGION_MAX, REGION_MAX, false };

		CHECK(vv_vmfwupdate_new(r.fw, &mem, &cfg) == NULL);
	}
	rig_free(&r);

	r = rig_new(true, VV_VMFWUPDATE_SPEC_V1);
	REQUIRE(r.u != NULL);
	CHECK_EQ(guest_read_le(r.fw, VV_VMFWUPDATE_FILE_CAP, 8), VV_VMFWUPDATE_CAP_BIOS_RESIZE);
	CHECK(vv_fw_cfg_file_data(r.fw, VV_VMFWUPDATE_FILE_BIOS_SIZE, &size) != NULL);
	CHECK_EQ(size, 4);
	CHECK(vv_fw_cfg_file_data(r.fw, VV_VMFWUPDATE_FILE_OPAQUE, &size) != NULL);
	CHECK_EQ(size, 1024);
	rig_free(&r);

	/* fw_cfg without DMA cannot carry vmfwupdate (§1.3). */
	{
		struct vv_fw_cfg *nodma = vv_fw_cfg_new(VV_FW_CFG_IO, NULL, 0);
		struct vv_vmfwupdate_config cfg = { 0, region, REGION_MAX, REGION_MAX, false };

		REQUIRE(nodma != NULL);
		CHECK(vv_vmfwupdate_new(nodma, &mem, &cfg) == NULL);
		CHECK_EQ(vv_fw_cfg_file_key(nodma, VV_VMFWUPDATE_FILE_CAP), VV_FW_CFG_INVALID);
		vv_fw_cfg_free(nodma);
	}
}

static void
test_reset_no_addr_is_normal(void)
{
	struct rig r = rig_new(false, VV_VMFWUPDATE_SPEC_V3);

	REQUIRE(r.u != NULL);
	CHECK_EQ(vv_vmfwupdate_reset(r.u), VV_VMFWUPDATE_RESET_NO_ADDR);
	CHECK(region_is_old());
	CHECK_EQ(vv_vmfwupdate_bios_size(r.u), REGION_MAX);
	rig_free(&r);
}

static void
test_reset_updates_region(void)
{
	struct rig r = rig_new(false, VV_VMFWUPDATE_SPEC_V3);

	REQUIRE(r.u != NULL);
	CHECK_EQ(guest_write_u64(r.fw, VV_VMFWUPDATE_FILE_BIOS_ADDR, IMAGE), 0);
	CHECK_EQ(guest_read_le(r.fw, VV_VMFWUPDATE_FILE_BIOS_ADDR, 8), IMAGE);
	CHECK_EQ(vv_vmfwupdate_reset(r.u), VV_VMFWUPDATE_RESET_UPDATED);
	CHECK_MEM(region, gpa_ptr(IMAGE), REGION_MAX);
	CHECK_EQ(vv_vmfwupdate_bios_base(r.u), 0x100000000ULL - REGION_MAX);
	/* bios-addr and disable are 0 after the reset. */
	CHECK_EQ(guest_read_le(r.fw, VV_VMFWUPDATE_FILE_BIOS_ADDR, 8), 0);
	CHECK_EQ(guest_read_le(r.fw, VV_VMFWUPDATE_FILE_DISABLE, 1), 0);
	/* The next reset is normal again. */
	memset(region, 'O', sizeof(region));
	CHECK_EQ(vv_vmfwupdate_reset(r.u), VV_VMFWUPDATE_RESET_NO_ADDR);
	CHECK(region_is_old());
	rig_free(&r);
}

static void
test_reset_disabled_and_write_once(void)
{
	struct rig r = rig_new(false, VV_VMFWUPDATE_SPEC_V3);
	uint8_t zero = 0, two = 2;
	uint8_t *disable;

	REQUIRE(r.u != NULL);
	disable = vv_fw_cfg_file_data(r.fw, VV_VMFWUPDATE_FILE_DISABLE, NULL);
	REQUIRE(disable != NULL);
	/* Writing any value (even 0) disables. */
	CHECK_EQ(guest_write(r.fw, VV_VMFWUPDATE_FILE_DISABLE, &zero, 1), 0);
	CHECK_EQ(guest_read_le(r.fw, VV_VMFWUPDATE_FILE_DISABLE, 1), 1);
	/* A second write is ignored: the value stays 1. */
	CHECK_EQ(guest_write(r.fw, VV_VMFWUPDATE_FILE_DISABLE, &zero, 1), 0);
	CHECK_EQ(*disable, 1);
	CHECK_EQ(guest_write(r.fw, VV_VMFWUPDATE_FILE_DISABLE, &two, 1), 0);
	CHECK_EQ(*disable, 1);
	/* Disabled: a valid request is ignored at reset. */
	CHECK_EQ(guest_write_u64(r.fw, VV_VMFWUPDATE_FILE_BIOS_ADDR, IMAGE), 0);
	CHECK_EQ(vv_vmfwupdate_reset(r.u), VV_VMFWUPDATE_RESET_DISABLED);
	CHECK(region_is_old());
	/* disable resets to 0 and bios-addr to 0. */
	CHECK_EQ(*disable, 0);
	CHECK_EQ(guest_read_le(r.fw, VV_VMFWUPDATE_FILE_BIOS_ADDR, 8), 0);
	/* Writable again after the reset. */
	CHECK_EQ(guest_write(r.fw, VV_VMFWUPDATE_FILE_DISABLE, &two, 1), 0);
	CHECK_EQ(*disable, 1);
	rig_free(&r);
}

static void
test_reset_bad_ranges(void)
{
	struct rig r = rig_new(false, VV_VMFWUPDATE_SPEC_V3);
	uint8_t *opaque;

	REQUIRE(r.u != NULL);
	/* Image running past the end of guest RAM. */
	CHECK_EQ(guest_write_u64(r.fw, VV_VMFWUPDATE_FILE_BIOS_ADDR, RAM_BASE + RAM_SIZE - 0x100), 0);
	CHECK_EQ(vv_vmfwupdate_reset(r.u), VV_VMFWUPDATE_RESET_BAD_MEMORY);
	CHECK(region_is_old());
	CHECK_EQ(guest_read_le(r.fw, VV_VMFWUPDATE_FILE_BIOS_ADDR, 8), 0);
	/* Outside RAM altogether. */
	CHECK_EQ(guest_write_u64(r.fw, VV_VMFWUPDATE_FILE_BIOS_ADDR, 0x1000), 0);
	CHECK_EQ(vv_vmfwupdate_reset(r.u), VV_VMFWUPDATE_RESET_BAD_MEMORY);
	CHECK(region_is_old());
	/* bios-addr + bios-size wraps 2^64; the opaque buffer survives this
	 * normal reset too (QEMU never clears it; docs/fw-cfg.md). */
	opaque = vv_fw_cfg_file_data(r.fw, VV_VMFWUPDATE_FILE_OPAQUE, NULL);
	CHECK_EQ(guest_write(r.fw, VV_VMFWUPDATE_FILE_OPAQUE, "handover", 8), 0);
	CHECK_EQ(guest_write_u64(r.fw, VV_VMFWUPDATE_FILE_BIOS_ADDR, UINT64_MAX - 0x1000), 0);
	CHECK_EQ(vv_vmfwupdate_reset(r.u), VV_VMFWUPDATE_RESET_BAD_RANGE);
	CHECK(region_is_old());
	CHECK_MEM(opaque, "handover", 8);
	CHECK_EQ(vv_vmfwupdate_bios_size(r.u), REGION_MAX);
	rig_free(&r);
}

static void
test_resize_without_capability(void)
{
	struct rig r = rig_new(false, VV_VMFWUPDATE_SPEC_V3);

	REQUIRE(r.u != NULL);
	/* bios-size is read-only: DMA ERROR, value unchanged. */
	CHECK_EQ(guest_write_u64(r.fw, VV_VMFWUPDATE_FILE_BIOS_SIZE, REGION_MAX / 2),
		 VV_FW_CFG_DMA_CTL_ERROR);
	CHECK_EQ(guest_read_le(r.fw, VV_VMFWUPDATE_FILE_BIOS_SIZE, 8), REGION_MAX);
	CHECK_EQ(guest_write_u64(r.fw, VV_VMFWUPDATE_FILE_BIOS_ADDR, IMAGE), 0);
	CHECK_EQ(vv_vmfwupdate_reset(r.u), VV_VMFWUPDATE_RESET_UPDATED);
	CHECK_EQ(vv_vmfwupdate_bios_size(r.u), REGION_MAX);
	CHECK_MEM(region, gpa_ptr(IMAGE), REGION_MAX);
	rig_free(&r);
}

static void
test_resize_with_capability(void)
{
	struct rig r = rig_new(true, VV_VMFWUPDATE_SPEC_V3);
	const uint64_t half = REGION_MAX / 2;

	REQUIRE(r.u != NULL);
	/* Refused values: the guest reads the old size back. */
	CHECK_EQ(guest_write_u64(r.fw, VV_VMFWUPDATE_FILE_BIOS_SIZE, REGION_MAX + 0x1000), 0);
	CHECK_EQ(guest_read_le(r.fw, VV_VMFWUPDATE_FILE_BIOS_SIZE, 8), REGION_MAX);
	CHECK_EQ(guest_write_u64(r.fw, VV_VMFWUPDATE_FILE_BIOS_SIZE, 0), 0);
	CHECK_EQ(guest_read_le(r.fw, VV_VMFWUPDATE_FILE_BIOS_SIZE, 8), REGION_MAX);
	CHECK_EQ(guest_write_u64(r.fw, VV_VMFWUPDATE_FILE_BIOS_SIZE, half + 1), 0);
	CHECK_EQ(guest_read_le(r.fw, VV_VMFWUPDATE_FILE_BIOS_SIZE, 8), REGION_MAX);
	CHECK_EQ(guest_write_u64(r.fw, VV_VMFWUPDATE_FILE_BIOS_SIZE, UINT64_MAX), 0);
	CHECK_EQ(guest_read_le(r.fw, VV_VMFWUPDATE_FILE_BIOS_SIZE, 8), REGION_MAX);
	/* Accepted: it reads back; a reset without update undoes it. */
	CHECK_EQ(guest_write_u64(r.fw, VV_VMFWUPDATE_FILE_BIOS_SIZE, half), 0);
	CHECK_EQ(guest_read_le(r.fw, VV_VMFWUPDATE_FILE_BIOS_SIZE, 8), half);
	CHECK_EQ(vv_vmfwupdate_reset(r.u), VV_VMFWUPDATE_RESET_NO_ADDR);
	CHECK_EQ(guest_read_le(r.fw, VV_VMFWUPDATE_FILE_BIOS_SIZE, 8), REGION_MAX);
	CHECK(region_is_old());
	/* Resize and update: the image sits at the top, below is zero. */
	CHECK_EQ(guest_write_u64(r.fw, VV_VMFWUPDATE_FILE_BIOS_SIZE, half), 0);
	CHECK_EQ(guest_write_u64(r.fw, VV_VMFWUPDATE_FILE_BIOS_ADDR, IMAGE), 0);
	CHECK_EQ(vv_vmfwupdate_reset(r.u), VV_VMFWUPDATE_RESET_UPDATED);
	CHECK_EQ(vv_vmfwupdate_bios_size(r.u), half);
	CHECK_EQ(vv_vmfwupdate_bios_base(r.u), 0x100000000ULL - half);
	CHECK_MEM(region + half, gpa_ptr(IMAGE), half);
	for (unsigned i = 0; i < half; i++)
		if (region[i] != 0) {
			CHECK_EQ(region[i], 0);
			break;
		}
	CHECK_EQ(guest_read_le(r.fw, VV_VMFWUPDATE_FILE_BIOS_SIZE, 8), half);
	rig_free(&r);

	/* v1/v2 layout: a u32 bios-size. */
	r = rig_new(true, VV_VMFWUPDATE_SPEC_V1);
	REQUIRE(r.u != NULL);
	{
		uint8_t b[4];

		vv_put_le32(b, (uint32_t)half);
		CHECK_EQ(guest_write(r.fw, VV_VMFWUPDATE_FILE_BIOS_SIZE, b, 4), 0);
		CHECK_EQ(guest_read_le(r.fw, VV_VMFWUPDATE_FILE_BIOS_SIZE, 4), half);
		/* An 8-byte write does not fit the 4-byte file. */
		CHECK_EQ(guest_write_u64(r.fw, VV_VMFWUPDATE_FILE_BIOS_SIZE, 0x1000), VV_FW_CFG_DMA_CTL_ERROR);
		CHECK_EQ(guest_read_le(r.fw, VV_VMFWUPDATE_FILE_BIOS_SIZE, 4), half);
	}
	rig_free(&r);
}

/* Guest reads n bytes of the opaque file through DMA into SCRATCH. */
static bool
opaque_reads(struct vv_fw_cfg *fw, const char *want, uint32_t n)
{
	memset(gpa_ptr(SCRATCH), 0xee, n);
	return dma(fw, VV_VMFWUPDATE_FILE_OPAQUE, VV_FW_CFG_DMA_CTL_READ, n, SCRATCH) == 0 &&
	       memcmp(gpa_ptr(SCRATCH), want, n) == 0;
}

/* Issue #19 item 1: §1.3 "all existing guest shared memory as well as the
 * vmfwupdate/opaque file are preserved" across the update reset, and QEMU's
 * patch never clears it: a firmware that hands data over once and then
 * updates twice (a chained update) still finds it.  Normal resets keep it
 * as well (QEMU; the new firmware is the one told to clear it). */
static void
test_opaque_preserved_across_chained_updates(void)
{
	struct rig r = rig_new(false, VV_VMFWUPDATE_SPEC_V3);
	uint8_t *opaque;
	size_t size;

	REQUIRE(r.u != NULL);
	opaque = vv_fw_cfg_file_data(r.fw, VV_VMFWUPDATE_FILE_OPAQUE, &size);
	REQUIRE(opaque != NULL && size == 4096);
	CHECK_EQ(guest_write(r.fw, VV_VMFWUPDATE_FILE_OPAQUE, "payload@0x1234", 14), 0);
	CHECK_EQ(guest_write_u64(r.fw, VV_VMFWUPDATE_FILE_BIOS_ADDR, IMAGE), 0);
	CHECK_EQ(vv_vmfwupdate_reset(r.u), VV_VMFWUPDATE_RESET_UPDATED);
	CHECK(opaque_reads(r.fw, "payload@0x1234", 14));
	/* The new firmware updates again without rewriting opaque. */
	CHECK_EQ(guest_write_u64(r.fw, VV_VMFWUPDATE_FILE_BIOS_ADDR, IMAGE), 0);
	CHECK_EQ(vv_vmfwupdate_reset(r.u), VV_VMFWUPDATE_RESET_UPDATED);
	CHECK(opaque_reads(r.fw, "payload@0x1234", 14));
	/* Normal resets (no address; disabled) keep it too. */
	CHECK_EQ(vv_vmfwupdate_reset(r.u), VV_VMFWUPDATE_RESET_NO_ADDR);
	CHECK(opaque_reads(r.fw, "payload@0x1234", 14));
	CHECK_EQ(guest_write(r.fw, VV_VMFWUPDATE_FILE_DISABLE, "\1", 1), 0);
	CHECK_EQ(vv_vmfwupdate_reset(r.u), VV_VMFWUPDATE_RESET_DISABLED);
	CHECK(opaque_reads(r.fw, "payload@0x1234", 14));
	/* Only the guest clears it (the spec: the new BIOS should). */
	{
		uint8_t zero[14] = { 0 };

		CHECK_EQ(guest_write(r.fw, VV_VMFWUPDATE_FILE_OPAQUE, zero, 14), 0);
		CHECK(opaque_reads(r.fw, (const char *)zero, 14));
	}
	/* A write past the 4096 bytes is refused whole. */
	CHECK_EQ(guest_write(r.fw, VV_VMFWUPDATE_FILE_OPAQUE, "y", 1), 0);
	CHECK_EQ(dma(r.fw, VV_VMFWUPDATE_FILE_OPAQUE, VV_FW_CFG_DMA_CTL_WRITE, 4097, SCRATCH),
		 VV_FW_CFG_DMA_CTL_ERROR);
	CHECK_EQ(opaque[0], 'y');
	rig_free(&r);
}

/* Silent point: bios-addr 0 is the spec's "no update" (§1.3 step 2), so an
 * image at guest address 0 cannot be used by vmfwupdate even where GPA 0
 * is RAM. */
static void
test_reset_image_at_address_zero_is_no_update(void)
{
	struct rig r = rig_new(false, VV_VMFWUPDATE_SPEC_V3);

	REQUIRE(r.u != NULL);
	memset(low, 0x77, sizeof(low));
	CHECK_EQ(guest_write_u64(r.fw, VV_VMFWUPDATE_FILE_BIOS_ADDR, 0), 0);
	CHECK_EQ(vv_vmfwupdate_reset(r.u), VV_VMFWUPDATE_RESET_NO_ADDR);
	CHECK(region_is_old());
	rig_free(&r);
}

/* ---- vm-launch-update ---- */

/*
 * A small well-formed IGVM file (IGVM format, igvm_defs: little-endian
 * fixed header; variable headers as type/length entries, each starting on
 * an 8-byte boundary, zero padding; CRC-32 over the fixed header with the
 * checksum field zero followed by the variable header section):
 *   0   fixed header (24 bytes v1, 32 bytes v2)
 *   32  one IGVM_VHT_SUPPORTED_PLATFORM (type 1) entry, 16 bytes of content
 *   56  8 bytes of file data ('D')
 * total 64 bytes.
 */
#define IGVM_LEN      64u
#define IGVM_VH_OFF   32u
#define IGVM_VH_SIZE  24u

/* Recompute the checksum from the header fields as they stand, so a test
 * can break one rule and keep the checksum honest. */
static void
igvm_seal(uint8_t *p, size_t buf)
{
	uint32_t fixed = vv_le32(p + 4) == 2 ? 32 : 24;
	uint32_t off = vv_le32(p + 8), size = vv_le32(p + 12);
	uint32_t crc;

	vv_put_le32(p + 20, 0);
	crc = vv_crc32(0, p, fixed);
	if (off <= buf && size <= buf - off)
		crc = vv_crc32(crc, p + off, size);
	vv_put_le32(p + 20, crc);
}

static size_t
make_igvm(uint8_t *p, uint32_t version)
{
	memset(p, 0, IGVM_LEN);
	vv_put_le32(p, VV_IGVM_MAGIC);
	vv_put_le32(p + 4, version);
	vv_put_le32(p + 8, IGVM_VH_OFF);
	vv_put_le32(p + 12, IGVM_VH_SIZE);
	vv_put_le32(p + 16, IGVM_LEN);
	if (version == 2)
		vv_put_le32(p + 28, 4096);      /* v2: architecture X64 (0), page size */
	vv_put_le32(p + 32, 1);                 /* IGVM_VHT_SUPPORTED_PLATFORM */
	vv_put_le32(p + 36, 16);                /* content length */
	vv_put_le32(p + 40, 1);                 /* compatibility mask */
	p[45] = 2;                              /* platform type: SEV-SNP */
	vv_put_le16(p + 46, 1);                 /* platform version */
	memset(p + 56, 'D', 8);
	igvm_seal(p, IGVM_LEN);
	return IGVM_LEN;
}

struct lrig {
	struct vv_fw_cfg *fw;
	struct vv_vm_launch_update *u;
	uint8_t *data;
};

static struct lrig
lrig_new_cfg(const struct vv_vm_launch_update_config *cfg)
{
	struct lrig r = { 0 };

	memset(ram, 0, sizeof(ram));
	r.fw = vv_fw_cfg_new(VV_FW_CFG_IO, &mem, 0);
	if (r.fw != NULL)
		r.u = vv_vm_launch_update_new(r.fw, &mem, cfg);
	if (r.u != NULL)
		r.data = vv_fw_cfg_file_data(r.fw, VV_VMLU_FILE, NULL);
	return r;
}

static struct lrig
lrig_new(bool from_igvm)
{
	struct vv_vm_launch_update_config cfg = { from_igvm, 0x8000, NULL, NULL };

	return lrig_new_cfg(&cfg);
}

static void
lrig_free(struct lrig *r)
{
	vv_fw_cfg_free(r->fw);
	vv_vm_launch_update_free(r->u);
}

/* The guest fills the whole 56-byte struct and writes it. */
static uint16_t
lu_write(struct lrig *r, uint64_t control, uint64_t addr, uint64_t size, uint64_t oaddr,
	 uint64_t osize)
{
	uint8_t s[VV_VMLU_STRUCT_SIZE] = { 0 };

	vv_put_le16(s, VV_VMLU_VERSION);
	vv_put_le64(s + VV_VMLU_OFF_CAPABILITIES, VV_VMLU_FORMAT_IGVM);
	vv_put_le64(s + VV_VMLU_OFF_CONTROL, control);
	vv_put_le64(s + VV_VMLU_OFF_IMAGE_ADDR, addr);
	vv_put_le64(s + VV_VMLU_OFF_IMAGE_SIZE, size);
	vv_put_le64(s + VV_VMLU_OFF_OPAQUE_ADDR, oaddr);
	vv_put_le64(s + VV_VMLU_OFF_OPAQUE_SIZE, osize);
	if (guest_write(r->fw, VV_VMLU_FILE, s, sizeof(s)) != 0)
		return 0xffff;
	/* Read the struct back as the guest does (select runs again). */
	if (dma(r->fw, VV_VMLU_FILE, VV_FW_CFG_DMA_CTL_READ, VV_VMLU_STRUCT_SIZE, SCRATCH) != 0)
		return 0xfffe;
	return vv_le16(gpa_ptr(SCRATCH) + VV_VMLU_OFF_STATUS);
}

static void
test_vmlu_layout_and_success(void)
{
	struct lrig r = lrig_new(true);
	size_t size, n;
	uint64_t oa, os;

	REQUIRE(r.u != NULL);
	CHECK_EQ(dma(r.fw, VV_VMLU_FILE, VV_FW_CFG_DMA_CTL_READ, 56, SCRATCH), 0);
	CHECK_EQ(vv_le16(gpa_ptr(SCRATCH)), 1);
	CHECK_EQ(vv_le16(gpa_ptr(SCRATCH) + 2), 0);
	CHECK_EQ(vv_le64(gpa_ptr(SCRATCH) + 8), 1ULL << 32);
	CHECK_EQ(vv_le64(gpa_ptr(SCRATCH) + 16), 0);
	n = make_igvm(gpa_ptr(IMAGE), 1);
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, n, RAM_BASE + 0x3000, 0x1000),
		 VV_VMLU_STATUS_SUCCESS);
	/* Address and size cleared after the parse. */
	CHECK_EQ(vv_le64(gpa_ptr(SCRATCH) + VV_VMLU_OFF_IMAGE_ADDR), 0);
	CHECK_EQ(vv_le64(gpa_ptr(SCRATCH) + VV_VMLU_OFF_IMAGE_SIZE), 0);
	REQUIRE(vv_vm_launch_update_image(r.u, &size) != NULL);
	CHECK_EQ(size, n);
	CHECK_MEM(vv_vm_launch_update_image(r.u, &size), gpa_ptr(IMAGE), n);
	vv_vm_launch_update_opaque(r.u, &oa, &os);
	CHECK_EQ(oa, RAM_BASE + 0x3000);
	CHECK_EQ(os, 0x1000);
	/* Permanent replacement: every later reset boots it. */
	CHECK_EQ(vv_vm_launch_update_reset(r.u), VV_VMLU_BOOT_GUEST_IMAGE);
	CHECK_EQ(vv_vm_launch_update_reset(r.u), VV_VMLU_BOOT_GUEST_IMAGE);
	/* A version-2 header is accepted too. */
	n = make_igvm(gpa_ptr(IMAGE), 2);
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, n, 0, 0), VV_VMLU_STATUS_SUCCESS);
	lrig_free(&r);
}

static void
test_vmlu_bad_images(void)
{
	struct lrig r = lrig_new(true);
	size_t n;

	REQUIRE(r.u != NULL);
	n = make_igvm(gpa_ptr(IMAGE), 1);
	/* Not IGVM. */
	gpa_ptr(IMAGE)[0] = 'X';
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, n, 0, 0), VV_VMLU_STATUS_LOAD_FAIL);
	CHECK_EQ(vv_le64(gpa_ptr(SCRATCH) + VV_VMLU_OFF_IMAGE_ADDR), IMAGE);   /* not cleared */
	make_igvm(gpa_ptr(IMAGE), 3);                                          /* bad version */
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, n, 0, 0), VV_VMLU_STATUS_LOAD_FAIL);
	make_igvm(gpa_ptr(IMAGE), 1);
	vv_put_le32(gpa_ptr(IMAGE) + 16, 65);                                  /* total > size */
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, n, 0, 0), VV_VMLU_STATUS_LOAD_FAIL);
	make_igvm(gpa_ptr(IMAGE), 1);
	vv_put_le32(gpa_ptr(IMAGE) + 12, 0xfffffff0u);                         /* var header wraps */
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, n, 0, 0), VV_VMLU_STATUS_LOAD_FAIL);
	make_igvm(gpa_ptr(IMAGE), 1);
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, 20, 0, 0), VV_VMLU_STATUS_LOAD_FAIL);
	/* No FORMAT_IGVM with an image; FORMAT_IGVM without one. */
	CHECK_EQ(lu_write(&r, 0, IMAGE, n, 0, 0), VV_VMLU_STATUS_LOAD_FAIL);
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, 0, 0, 0, 0), VV_VMLU_STATUS_LOAD_FAIL);
	/* Outside RAM, wrapping, above the platform maximum. */
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, RAM_BASE + RAM_SIZE - 16, n, 0, 0),
		 VV_VMLU_STATUS_LOAD_FAIL);
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, UINT64_MAX - 8, n, 0, 0), VV_VMLU_STATUS_LOAD_FAIL);
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, 0x8001, 0, 0), VV_VMLU_STATUS_LOAD_FAIL);
	CHECK_EQ(lu_write(&r, 0, 0, 0, UINT64_MAX, 2), VV_VMLU_STATUS_LOAD_FAIL);
	CHECK(vv_vm_launch_update_image(r.u, NULL) == NULL);
	CHECK_EQ(vv_vm_launch_update_reset(r.u), VV_VMLU_BOOT_HOST_IMAGE);
	/* A guest cannot overwrite the read-only fields. */
	{
		uint8_t s[VV_VMLU_STRUCT_SIZE] = { 0 };

		vv_put_le16(s, 7);
		CHECK_EQ(guest_write(r.fw, VV_VMLU_FILE, s, sizeof(s)), 0);
		CHECK_EQ(vv_le16(r.data), VV_VMLU_VERSION);
		CHECK_EQ(vv_le64(r.data + 8), VV_VMLU_FORMAT_IGVM);
		/* No image and no CTL_HOST_IGVM: QEMU's empty-range parse fails. */
		CHECK_EQ(vv_le16(r.data + 2), VV_VMLU_STATUS_LOAD_FAIL);
	}
	lrig_free(&r);

	/* VM not started from IGVM: status 2 whatever the guest writes. */
	r = lrig_new(false);
	REQUIRE(r.u != NULL);
	n = make_igvm(gpa_ptr(IMAGE), 1);
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, n, 0, 0), VV_VMLU_STATUS_NOT_IGVM_INIT);
	CHECK(vv_vm_launch_update_image(r.u, NULL) == NULL);
	lrig_free(&r);
}

static void
test_vmlu_one_shot_and_disable(void)
{
	struct lrig r = lrig_new(true);
	size_t n;

	REQUIRE(r.u != NULL);
	n = make_igvm(gpa_ptr(IMAGE), 1);
	/* HOST_IGVM with an image: one boot of it, then the host image. The
	 * read-back select in lu_write must not lose the request. */
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM | VV_VMLU_CTL_HOST_IGVM, IMAGE, n, 0, 0),
		 VV_VMLU_STATUS_SUCCESS);
	CHECK_EQ(vv_le64(gpa_ptr(SCRATCH) + VV_VMLU_OFF_CONTROL), 0);   /* select re-inits */
	CHECK_EQ(vv_vm_launch_update_reset(r.u), VV_VMLU_BOOT_GUEST_IMAGE);
	CHECK_EQ(vv_vm_launch_update_reset(r.u), VV_VMLU_BOOT_HOST_IMAGE);
	CHECK_EQ(vv_vm_launch_update_reset(r.u), VV_VMLU_BOOT_HOST_IMAGE);

	/* Permanent image, then DISABLE: later writes change nothing. */
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, n, 0, 0), VV_VMLU_STATUS_SUCCESS);
	CHECK_EQ(lu_write(&r, VV_VMLU_CTL_DISABLE, 0, 0, 0, 0), VV_VMLU_STATUS_SUCCESS);
	CHECK_EQ(vv_le64(gpa_ptr(SCRATCH) + VV_VMLU_OFF_CONTROL), VV_VMLU_CTL_DISABLE);
	gpa_ptr(IMAGE)[40] = 0x5a;              /* a different image */
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, n, 0, 0), VV_VMLU_STATUS_SUCCESS);
	CHECK_EQ(vv_vm_launch_update_image(r.u, NULL)[40], 1);   /* make_igvm's byte */
	CHECK_EQ(lu_write(&r, VV_VMLU_CTL_HOST_IGVM, 0, 0, 0, 0), VV_VMLU_STATUS_SUCCESS);
	CHECK_EQ(vv_vm_launch_update_reset(r.u), VV_VMLU_BOOT_GUEST_IMAGE);
	CHECK_EQ(vv_vm_launch_update_reset(r.u), VV_VMLU_BOOT_GUEST_IMAGE);
	lrig_free(&r);

}

/* Issue #19 item 3: with the addresses cleared and CTL_HOST_IGVM set, "the
 * immediate next guest reset will load the original host provided IGVM
 * file" (§1.6 write step 4): no further boot of the guest image. */
static void
test_vmlu_revert_takes_effect_at_next_reset(void)
{
	struct lrig r = lrig_new(true);
	size_t n;

	REQUIRE(r.u != NULL);
	n = make_igvm(gpa_ptr(IMAGE), 1);
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, n, 0, 0), VV_VMLU_STATUS_SUCCESS);
	CHECK_EQ(vv_vm_launch_update_reset(r.u), VV_VMLU_BOOT_GUEST_IMAGE);
	/* The guest image is running; it asks to go back. */
	CHECK_EQ(lu_write(&r, VV_VMLU_CTL_HOST_IGVM, 0, 0, 0, 0), VV_VMLU_STATUS_SUCCESS);
	CHECK_EQ(vv_vm_launch_update_reset(r.u), VV_VMLU_BOOT_HOST_IMAGE);
	CHECK(vv_vm_launch_update_image(r.u, NULL) == NULL);
	CHECK_EQ(vv_vm_launch_update_reset(r.u), VV_VMLU_BOOT_HOST_IMAGE);
	/* A revert asked for is not cancelled by an image written before the
	 * reset: QEMU's pending host reload wins (docs/fw-cfg.md). */
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, n, 0, 0), VV_VMLU_STATUS_SUCCESS);
	CHECK_EQ(lu_write(&r, VV_VMLU_CTL_HOST_IGVM, 0, 0, 0, 0), VV_VMLU_STATUS_SUCCESS);
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, n, 0, 0), VV_VMLU_STATUS_SUCCESS);
	CHECK_EQ(vv_vm_launch_update_reset(r.u), VV_VMLU_BOOT_HOST_IMAGE);
	CHECK(vv_vm_launch_update_image(r.u, NULL) == NULL);
	lrig_free(&r);
}

/* Issue #19 item 4: "addresses cleared and host flag" is checked before the
 * format (§1.6 write steps 4 then 5), so FORMAT_IGVM with no image and
 * CTL_HOST_IGVM reverts with status 0 instead of failing. */
static void
test_vmlu_revert_with_format_flag(void)
{
	struct lrig r = lrig_new(true);
	size_t n;

	REQUIRE(r.u != NULL);
	n = make_igvm(gpa_ptr(IMAGE), 1);
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, n, 0, 0), VV_VMLU_STATUS_SUCCESS);
	CHECK_EQ(vv_vm_launch_update_reset(r.u), VV_VMLU_BOOT_GUEST_IMAGE);
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM | VV_VMLU_CTL_HOST_IGVM, 0, 0, 0, 0),
		 VV_VMLU_STATUS_SUCCESS);
	CHECK_EQ(vv_vm_launch_update_reset(r.u), VV_VMLU_BOOT_HOST_IMAGE);
	CHECK(vv_vm_launch_update_image(r.u, NULL) == NULL);
	lrig_free(&r);
}

/* Silent points, following QEMU (docs/fw-cfg.md): the revert re-enables
 * the interface, so updates and DISABLE work again afterwards; DISABLE
 * written while already set is status 0 and changes nothing; a write with
 * neither an image nor CTL_HOST_IGVM fails as QEMU's empty-range parse
 * does; an image at guest address 0 is an image. */
static void
test_vmlu_silent_points(void)
{
	struct lrig r = lrig_new(true);
	const uint8_t *img;
	size_t n, size;

	REQUIRE(r.u != NULL);
	n = make_igvm(gpa_ptr(IMAGE), 1);
	/* Disable, twice: both status 0, control reads back CTL_DISABLE. */
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM | VV_VMLU_CTL_HOST_IGVM | VV_VMLU_CTL_DISABLE,
			  IMAGE, n, 0, 0), VV_VMLU_STATUS_SUCCESS);
	CHECK_EQ(lu_write(&r, VV_VMLU_CTL_DISABLE, 0, 0, 0, 0), VV_VMLU_STATUS_SUCCESS);
	CHECK_EQ(vv_le64(gpa_ptr(SCRATCH) + VV_VMLU_OFF_CONTROL), VV_VMLU_CTL_DISABLE);
	CHECK(vv_vm_launch_update_image(r.u, NULL) == NULL);   /* DISABLE wins: step 3 */
	/* A disabled device still reverts at the reset it promised: none here. */
	CHECK_EQ(vv_vm_launch_update_reset(r.u), VV_VMLU_BOOT_HOST_IMAGE);
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, n, 0, 0), VV_VMLU_STATUS_SUCCESS);
	CHECK(vv_vm_launch_update_image(r.u, NULL) == NULL);   /* still disabled */
	lrig_free(&r);

	/* One-shot with DISABLE: after the revert, updates are allowed again. */
	r = lrig_new(true);
	REQUIRE(r.u != NULL);
	n = make_igvm(gpa_ptr(IMAGE), 1);
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM | VV_VMLU_CTL_HOST_IGVM, IMAGE, n, 0, 0),
		 VV_VMLU_STATUS_SUCCESS);
	CHECK_EQ(lu_write(&r, VV_VMLU_CTL_DISABLE, 0, 0, 0, 0), VV_VMLU_STATUS_SUCCESS);
	CHECK_EQ(vv_vm_launch_update_reset(r.u), VV_VMLU_BOOT_GUEST_IMAGE);
	CHECK_EQ(vv_vm_launch_update_reset(r.u), VV_VMLU_BOOT_HOST_IMAGE);
	CHECK_EQ(dma(r.fw, VV_VMLU_FILE, VV_FW_CFG_DMA_CTL_READ, VV_VMLU_STRUCT_SIZE, SCRATCH), 0);
	CHECK_EQ(vv_le64(gpa_ptr(SCRATCH) + VV_VMLU_OFF_CONTROL), 0);   /* enabled again */
	gpa_ptr(IMAGE)[56] = 'E';
	igvm_seal(gpa_ptr(IMAGE), IGVM_LEN);
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, n, 0, 0), VV_VMLU_STATUS_SUCCESS);
	CHECK_EQ(vv_vm_launch_update_reset(r.u), VV_VMLU_BOOT_GUEST_IMAGE);
	img = vv_vm_launch_update_image(r.u, &size);
	REQUIRE(img != NULL && size == n);
	CHECK_EQ(img[56], 'E');

	/* Neither an image nor CTL_HOST_IGVM: LOAD_FAIL, nothing changes. */
	CHECK_EQ(lu_write(&r, 0, 0, 0, RAM_BASE + 0x3000, 0x1000), VV_VMLU_STATUS_LOAD_FAIL);
	CHECK(vv_vm_launch_update_image(r.u, NULL) == img);
	{
		uint64_t oa, os;

		vv_vm_launch_update_opaque(r.u, &oa, &os);
		CHECK_EQ(oa, 0);
		CHECK_EQ(os, 0);
	}

	/* An image at guest address 0 (RAM there) is parsed like any other. */
	make_igvm(low, 1);
	low[56] = 'Z';
	igvm_seal(low, IGVM_LEN);
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, 0, IGVM_LEN, 0, 0), VV_VMLU_STATUS_SUCCESS);
	img = vv_vm_launch_update_image(r.u, &size);
	REQUIRE(img != NULL && size == IGVM_LEN);
	CHECK_EQ(img[56], 'Z');
	lrig_free(&r);
}

/* Issue #19 item 2: every structural rule of the IGVM format as QEMU's
 * parser applies it, one malformed file each.  Each write gets status
 * LOAD_FAIL and leaves the launch state as it was: the previously accepted
 * image, its address/size fields not cleared, no one-shot latched. */
static void
test_vmlu_igvm_validation(void)
{
	struct lrig r = lrig_new(true);
	uint8_t *p = gpa_ptr(IMAGE);
	uint8_t first[IGVM_LEN];
	const uint8_t *img;
	size_t size;
	unsigned cases = 0;

	REQUIRE(r.u != NULL);
	make_igvm(p, 1);
	p[56] = 'A';
	igvm_seal(p, IGVM_LEN);
	memcpy(first, p, IGVM_LEN);
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, IGVM_LEN, 0, 0), VV_VMLU_STATUS_SUCCESS);

#define BAD_IGVM(len, what)                                                                    \
	do {                                                                                   \
		cases++;                                                                       \
		CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM | VV_VMLU_CTL_HOST_IGVM, IMAGE, (len), \
				  0, 0), VV_VMLU_STATUS_LOAD_FAIL);                            \
		CHECK_EQ(vv_le64(gpa_ptr(SCRATCH) + VV_VMLU_OFF_IMAGE_ADDR), IMAGE);           \
		CHECK_EQ(vv_le64(gpa_ptr(SCRATCH) + VV_VMLU_OFF_IMAGE_SIZE), (len));           \
		img = vv_vm_launch_update_image(r.u, &size);                                   \
		REQUIRE(img != NULL);                                                          \
		CHECK_EQ(size, IGVM_LEN);                                                      \
		CHECK_MEM(img, first, IGVM_LEN);                                               \
		CHECK_EQ(vv_igvm_check_header(p, (len)), -1);                                  \
		(void)(what);                                                                  \
	} while (0)

	/* Fixed header. */
	make_igvm(p, 1); p[0] = 'X'; igvm_seal(p, IGVM_LEN);
	BAD_IGVM(IGVM_LEN, "magic");
	make_igvm(p, 3);
	BAD_IGVM(IGVM_LEN, "format version 3");
	make_igvm(p, 0);
	BAD_IGVM(IGVM_LEN, "format version 0");
	make_igvm(p, 1);
	BAD_IGVM(23, "shorter than a v1 fixed header");
	make_igvm(p, 2); vv_put_le32(p + 16, 28); igvm_seal(p, IGVM_LEN);
	BAD_IGVM(28, "shorter than a v2 fixed header");
	make_igvm(p, 1); p[20] ^= 0x01;
	BAD_IGVM(IGVM_LEN, "checksum: one bit off");
	make_igvm(p, 1); p[40] ^= 0x80;
	BAD_IGVM(IGVM_LEN, "checksum: variable header changed after sealing");
	make_igvm(p, 2); p[28] ^= 0x01;
	BAD_IGVM(IGVM_LEN, "checksum: v2 page_size (inside the 32-byte fixed header) changed");
	/* Declared total size vs the file size. */
	make_igvm(p, 1); vv_put_le32(p + 16, IGVM_LEN + 1); igvm_seal(p, IGVM_LEN);
	BAD_IGVM(IGVM_LEN, "total_file_size larger than the file");
	make_igvm(p, 1); vv_put_le32(p + 16, IGVM_LEN - 8); igvm_seal(p, IGVM_LEN);
	BAD_IGVM(IGVM_LEN, "total_file_size smaller than the file");
	make_igvm(p, 1);
	BAD_IGVM(IGVM_LEN - 4, "file shorter than total_file_size");
	/* Where the variable header section is. */
	make_igvm(p, 1); vv_put_le32(p + 8, 16); igvm_seal(p, IGVM_LEN);
	BAD_IGVM(IGVM_LEN, "variable headers inside the v1 fixed header");
	make_igvm(p, 2); vv_put_le32(p + 8, 24); igvm_seal(p, IGVM_LEN);
	BAD_IGVM(IGVM_LEN, "variable headers inside the v2 fixed header");
	make_igvm(p, 1); vv_put_le32(p + 8, 28); vv_put_le32(p + 12, 16); igvm_seal(p, IGVM_LEN);
	BAD_IGVM(IGVM_LEN, "variable header offset not 8-aligned");
	make_igvm(p, 1); vv_put_le32(p + 12, 40); igvm_seal(p, IGVM_LEN);
	BAD_IGVM(IGVM_LEN, "variable header section past total_file_size");
	make_igvm(p, 1); vv_put_le32(p + 12, 0xfffffff0u); igvm_seal(p, IGVM_LEN);
	BAD_IGVM(IGVM_LEN, "variable header offset + size wraps 32 bits");
	/* The variable header section's framing. */
	make_igvm(p, 1); vv_put_le32(p + 12, 0); igvm_seal(p, IGVM_LEN);
	BAD_IGVM(IGVM_LEN, "empty variable header section");
	make_igvm(p, 1); vv_put_le32(p + 12, 4); igvm_seal(p, IGVM_LEN);
	BAD_IGVM(IGVM_LEN, "section too short for one entry header");
	make_igvm(p, 1); vv_put_le32(p + 36, 17); igvm_seal(p, IGVM_LEN);
	BAD_IGVM(IGVM_LEN, "entry length (aligned to 8) runs past the section");
	make_igvm(p, 1); vv_put_le32(p + 36, 0xfffffffcu); igvm_seal(p, IGVM_LEN);
	BAD_IGVM(IGVM_LEN, "entry length near 2^32");
	make_igvm(p, 1); vv_put_le32(p + 12, 28); igvm_seal(p, IGVM_LEN);
	BAD_IGVM(IGVM_LEN, "4 bytes left after the last entry: no room for an entry header");
	make_igvm(p, 1); vv_put_le32(p + 12, 32); memset(p + 56, 0, 8); igvm_seal(p, IGVM_LEN);
	BAD_IGVM(IGVM_LEN, "a second entry of type 0 (INVALID) in the section");
	make_igvm(p, 1); vv_put_le32(p + 32, 0); igvm_seal(p, IGVM_LEN);
	BAD_IGVM(IGVM_LEN, "entry type 0 (INVALID)");
	make_igvm(p, 1); vv_put_le32(p + 36, 12); p[52] = 1; igvm_seal(p, IGVM_LEN);
	BAD_IGVM(IGVM_LEN, "non-zero padding after a 12-byte entry");
#undef BAD_IGVM
	CHECK_EQ(cases, 24);

	/* No one-shot was latched by any refused write. */
	CHECK_EQ(vv_vm_launch_update_reset(r.u), VV_VMLU_BOOT_GUEST_IMAGE);
	CHECK_EQ(vv_vm_launch_update_reset(r.u), VV_VMLU_BOOT_GUEST_IMAGE);
	CHECK_MEM(vv_vm_launch_update_image(r.u, NULL), first, IGVM_LEN);

	/* The controls: the same shapes, well formed, are accepted. */
	make_igvm(p, 1); vv_put_le32(p + 36, 12); igvm_seal(p, IGVM_LEN);
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, IGVM_LEN, 0, 0), VV_VMLU_STATUS_SUCCESS);
	make_igvm(p, 1); vv_put_le32(p + 8, 24); vv_put_le32(p + 12, 24); igvm_seal(p, IGVM_LEN);
	memmove(p + 24, p + 32, 24);
	memset(p + 48, 0, 8);
	igvm_seal(p, IGVM_LEN);
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, IGVM_LEN, 0, 0), VV_VMLU_STATUS_SUCCESS);
	make_igvm(p, 2);
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, IGVM_LEN, 0, 0), VV_VMLU_STATUS_SUCCESS);
	lrig_free(&r);
}

/* The VMM's own IGVM parser, plugged in (issue #19 item 2): it sees the
 * host copy only after the structural checks passed, and its refusal is
 * LOAD_FAIL with the launch state unchanged. */
struct hook_state {
	unsigned calls;
	int verdict;
	uint8_t seen[IGVM_LEN];
	size_t seen_size;
};

static int
igvm_hook(void *opaque, const uint8_t *image, size_t size)
{
	struct hook_state *h = opaque;

	h->calls++;
	h->seen_size = size;
	memcpy(h->seen, image, size < IGVM_LEN ? size : IGVM_LEN);
	return h->verdict;
}

static void
test_vmlu_parser_hook(void)
{
	struct hook_state h = { 0 };
	struct vv_vm_launch_update_config cfg = { true, 0x8000, igvm_hook, &h };
	struct lrig r = lrig_new_cfg(&cfg);
	uint8_t first[IGVM_LEN];

	REQUIRE(r.u != NULL);
	make_igvm(gpa_ptr(IMAGE), 1);
	memcpy(first, gpa_ptr(IMAGE), IGVM_LEN);
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, IGVM_LEN, 0, 0), VV_VMLU_STATUS_SUCCESS);
	CHECK_EQ(h.calls, 1);
	CHECK_EQ(h.seen_size, IGVM_LEN);
	CHECK_MEM(h.seen, first, IGVM_LEN);
	/* A malformed file never reaches the hook. */
	gpa_ptr(IMAGE)[20] ^= 1;
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM, IMAGE, IGVM_LEN, 0, 0), VV_VMLU_STATUS_LOAD_FAIL);
	CHECK_EQ(h.calls, 1);
	/* The hook refuses a well-formed file. */
	make_igvm(gpa_ptr(IMAGE), 2);
	h.verdict = -1;
	CHECK_EQ(lu_write(&r, VV_VMLU_FORMAT_IGVM | VV_VMLU_CTL_HOST_IGVM, IMAGE, IGVM_LEN,
			  RAM_BASE, 0x1000), VV_VMLU_STATUS_LOAD_FAIL);
	CHECK_EQ(h.calls, 2);
	CHECK_EQ(vv_le64(gpa_ptr(SCRATCH) + VV_VMLU_OFF_IMAGE_SIZE), IGVM_LEN);
	CHECK_MEM(vv_vm_launch_update_image(r.u, NULL), first, IGVM_LEN);
	{
		uint64_t oa, os;

		vv_vm_launch_update_opaque(r.u, &oa, &os);
		CHECK_EQ(oa, 0);
		CHECK_EQ(os, 0);
	}
	CHECK_EQ(vv_vm_launch_update_reset(r.u), VV_VMLU_BOOT_GUEST_IMAGE);
	CHECK_EQ(vv_vm_launch_update_reset(r.u), VV_VMLU_BOOT_GUEST_IMAGE);
	lrig_free(&r);
}

static void
test_igvm_header_check(void)
{
	uint8_t b[64];

	make_igvm(b, 1);
	CHECK_EQ(vv_igvm_check_header(b, 64), 0);
	CHECK_EQ(vv_igvm_check_header(b, 63), -1);
	CHECK_EQ(vv_igvm_check_header(b, 23), -1);
	CHECK_EQ(vv_igvm_check_header(NULL, 0), -1);
	vv_put_le32(b + 8, 16);                 /* variable header inside the fixed one */
	CHECK_EQ(vv_igvm_check_header(b, 64), -1);
	make_igvm(b, 2);
	vv_put_le32(b + 8, 24);                 /* v2's fixed header is 32 bytes */
	CHECK_EQ(vv_igvm_check_header(b, 64), -1);
}

static const struct vv_test tests[] = {
	TEST(test_files_and_capabilities),
	TEST(test_reset_no_addr_is_normal),
	TEST(test_reset_updates_region),
	TEST(test_reset_disabled_and_write_once),
	TEST(test_reset_bad_ranges),
	TEST(test_resize_without_capability),
	TEST(test_resize_with_capability),
	TEST(test_opaque_preserved_across_chained_updates),
	TEST(test_reset_image_at_address_zero_is_no_update),
	TEST(test_vmlu_layout_and_success),
	TEST(test_vmlu_bad_images),
	TEST(test_vmlu_one_shot_and_disable),
	TEST(test_vmlu_revert_takes_effect_at_next_reset),
	TEST(test_vmlu_revert_with_format_flag),
	TEST(test_vmlu_silent_points),
	TEST(test_vmlu_igvm_validation),
	TEST(test_vmlu_parser_hook),
	TEST(test_igvm_header_check),
};

VV_TEST_MAIN(tests)
