/*
 * tests/test_fw_cfg.c -- the fw_cfg device (vmfwupdate-and-firmware-
 * descriptors.md §2) driven by a simulated guest the way OVMF (x86 ports,
 * DMA address as two byte-swapped 32-bit writes) and Linux (MMIO, one
 * 64-bit big-endian write) drive it, and etc/hardware-info parsed back as
 * OVMF's QemuHwInfo.c does (uefi-vars-device-abi.md §2.2).
 *
 * Every bad-input case checks the exact result (DMA control word, value
 * read back) and that the item bytes, guest RAM and the data offset are as
 * before.
 */
#include <vmvars/fw_cfg.h>

#include "harness.h"

#define RAM_BASE 0x100000ULL
#define RAM_SIZE 0x10000u

static uint8_t ram[RAM_SIZE];
static unsigned ram_reads, ram_writes;

static int
ram_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	ram_reads++;
	if (len == 0 || gpa < RAM_BASE || gpa - RAM_BASE > RAM_SIZE || len > RAM_SIZE - (gpa - RAM_BASE))
		return -1;
	memcpy(buf, ram + (gpa - RAM_BASE), len);
	return 0;
}

static int
ram_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	ram_writes++;
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

static uint32_t
get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void
set_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* ---- the simulated guest ---- */

/* OVMF on x86: IoWrite16(0x510, key). */
static void
io_select(struct vv_fw_cfg *fw, uint16_t key)
{
	vv_fw_cfg_write(fw, VV_FW_CFG_IO_SELECTOR, key, 2);
}

static void
io_read(struct vv_fw_cfg *fw, void *buf, size_t n)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)vv_fw_cfg_read(fw, VV_FW_CFG_IO_DATA, 1);
}

/* Linux on Arm: iowrite16(cpu_to_be16(key), base + 8). */
static void
mmio_select(struct vv_fw_cfg *fw, uint16_t key)
{
	vv_fw_cfg_write(fw, VV_FW_CFG_MMIO_SELECTOR, __builtin_bswap16(key), 2);
}

/* Writes an FWCfgDmaAccess at gpa (all fields big-endian, §2.3). */
static void
put_desc(uint64_t gpa, uint32_t control, uint32_t length, uint64_t address)
{
	uint8_t *d = gpa_ptr(gpa);

	set_be32(d, control);
	set_be32(d + 4, length);
	set_be32(d + 8, (uint32_t)(address >> 32));
	set_be32(d + 12, (uint32_t)address);
}

/* OVMF: high half then low half, each SwapBytes32, at 0x514 / 0x518. */
static uint32_t
io_dma(struct vv_fw_cfg *fw, uint64_t desc)
{
	vv_fw_cfg_write(fw, VV_FW_CFG_IO_DMA, __builtin_bswap32((uint32_t)(desc >> 32)), 4);
	vv_fw_cfg_write(fw, VV_FW_CFG_IO_DMA + 4, __builtin_bswap32((uint32_t)desc), 4);
	return get_be32(gpa_ptr(desc));
}

/* Linux: one 64-bit cpu_to_be64 write. */
static uint32_t
mmio_dma(struct vv_fw_cfg *fw, uint64_t desc)
{
	vv_fw_cfg_write(fw, VV_FW_CFG_MMIO_DMA, __builtin_bswap64(desc), 8);
	return get_be32(gpa_ptr(desc));
}

/* OVMF's QemuFwCfgFindFile: count, then 64-byte entries, by name. */
static int
io_find_file(struct vv_fw_cfg *fw, const char *name, uint16_t *key, uint32_t *size)
{
	uint8_t b[4], e[64];
	uint32_t count;

	io_select(fw, VV_FW_CFG_FILE_DIR);
	io_read(fw, b, 4);
	count = get_be32(b);
	for (uint32_t i = 0; i < count; i++) {
		io_read(fw, e, sizeof(e));
		if (strncmp((const char *)e + 8, name, 56) == 0) {
			*key = (uint16_t)((e[4] << 8) | e[5]);
			*size = get_be32(e);
			return 0;
		}
	}
	return -1;
}

static struct vv_fw_cfg *
new_io(void)
{
	memset(ram, 0, sizeof(ram));
	return vv_fw_cfg_new(VV_FW_CFG_IO, &mem, 0);
}

/* ---- write-callback recorder ---- */

struct wlog {
	unsigned calls, selects;
	uint32_t offset, len;
};

static void
log_write(void *opaque, uint8_t *data, size_t size, uint32_t offset, uint32_t len)
{
	struct wlog *l = opaque;

	l->calls++;
	l->offset = offset;
	l->len = len;
}

static void
log_select(void *opaque, uint8_t *data, size_t size)
{
	((struct wlog *)opaque)->selects++;
}

/* ---- cases ---- */

static void
test_signature_and_id_io(void)
{
	struct vv_fw_cfg *fw = new_io(), *nodma;
	uint8_t sig[4], id[4];

	REQUIRE(fw != NULL);
	/* The selector starts at the signature (QEMU's reset selects it). */
	io_read(fw, sig, 4);
	CHECK_MEM(sig, "QEMU", 4);
	io_select(fw, VV_FW_CFG_ID);
	io_read(fw, id, 4);
	CHECK_EQ(vv_le32(id), VV_FW_CFG_ID_TRADITIONAL | VV_FW_CFG_ID_DMA);
	/* DMA register reads "QEMU CFG" in address order. */
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_IO_DMA, 4), 0x554d4551u);
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_IO_DMA + 4, 4), 0x47464320u);
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_IO_DMA, 8), __builtin_bswap64(VV_FW_CFG_DMA_SIGNATURE));
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_IO_DMA + 7, 1), 'G');
	/* Not decoded: a 16-bit read of 0x510, anything at 0x512. */
	CHECK_EQ(vv_fw_cfg_read(fw, 0, 2), 0xffffu);
	CHECK_EQ(vv_fw_cfg_read(fw, 2, 1), 0xffu);
	CHECK_EQ(vv_fw_cfg_read(fw, 0, 3), ~0ULL);
	vv_fw_cfg_free(fw);

	nodma = vv_fw_cfg_new(VV_FW_CFG_IO, NULL, 0);
	REQUIRE(nodma != NULL);
	io_select(nodma, VV_FW_CFG_ID);
	io_read(nodma, id, 4);
	CHECK_EQ(vv_le32(id), VV_FW_CFG_ID_TRADITIONAL);
	CHECK_EQ(vv_fw_cfg_read(nodma, VV_FW_CFG_IO_DMA, 4), 0xffffffffu);
	CHECK(!vv_fw_cfg_has_dma(nodma));
	vv_fw_cfg_free(nodma);
}

static void
test_directory_walk_and_selector_reads(void)
{
	struct vv_fw_cfg *fw = new_io();
	uint8_t buf[16];
	uint16_t key;
	uint32_t size;

	REQUIRE(fw != NULL);
	REQUIRE(vv_fw_cfg_add_file(fw, "opt/b", "bbbbbb", 6, false, NULL) == 0);
	REQUIRE(vv_fw_cfg_add_file(fw, "etc/a", "a", 1, false, NULL) == 0);
	REQUIRE(vv_fw_cfg_add_file(fw, "opt/a", "aaa", 3, false, NULL) == 0);
	/* Sorted by name, keys from 0x20 (§2.2). */
	REQUIRE(io_find_file(fw, "etc/a", &key, &size) == 0);
	CHECK_EQ(key, 0x20); CHECK_EQ(size, 1);
	REQUIRE(io_find_file(fw, "opt/a", &key, &size) == 0);
	CHECK_EQ(key, 0x21); CHECK_EQ(size, 3);
	REQUIRE(io_find_file(fw, "opt/b", &key, &size) == 0);
	CHECK_EQ(key, 0x22); CHECK_EQ(size, 6);
	CHECK_EQ(vv_fw_cfg_file_key(fw, "opt/b"), 0x22);
	CHECK(io_find_file(fw, "opt/c", &key, &size) != 0);

	/* Selector read: the bytes, then zeros past the end. */
	io_select(fw, 0x22);
	memset(buf, 0xaa, sizeof(buf));
	io_read(fw, buf, 8);
	CHECK_MEM(buf, "bbbbbb\0\0", 8);
	/* Re-selecting resets the offset. */
	io_select(fw, 0x22);
	io_read(fw, buf, 1);
	CHECK_EQ(buf[0], 'b');
	/* A new file that sorts first renumbers the others. */
	REQUIRE(vv_fw_cfg_add_file(fw, "etc/0", NULL, 2, false, NULL) == 0);
	CHECK_EQ(vv_fw_cfg_file_key(fw, "opt/b"), 0x23);
	REQUIRE(io_find_file(fw, "opt/b", &key, &size) == 0);
	CHECK_EQ(key, 0x23);
	/* An unused key and an out-of-table key read zeros. */
	io_select(fw, 0x30);
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_IO_DATA, 1), 0);
	io_select(fw, 0x3fff);
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_IO_DATA, 1), 0);
	/* Bit 14 (legacy write channel) is ignored on select. */
	io_select(fw, 0x4000 | 0x23);
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_IO_DATA, 1), 'b');
	vv_fw_cfg_free(fw);
}

static void
test_mmio_layout_linux(void)
{
	struct vv_fw_cfg *fw;
	uint64_t desc = RAM_BASE, buf = RAM_BASE + 0x100;

	memset(ram, 0, sizeof(ram));
	fw = vv_fw_cfg_new(VV_FW_CFG_MMIO, &mem, 0);
	REQUIRE(fw != NULL);
	REQUIRE(vv_fw_cfg_add_file(fw, "etc/x", "12345", 5, false, NULL) == 0);
	mmio_select(fw, VV_FW_CFG_SIGNATURE);
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_MMIO_DATA, 4), 0x554d4551u);
	/* A little-endian selector write selects the byte-swapped key. */
	vv_fw_cfg_write(fw, VV_FW_CFG_MMIO_SELECTOR, VV_FW_CFG_ID, 2);
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_MMIO_DATA, 4), 0);  /* key 0x0100: empty */
	mmio_select(fw, VV_FW_CFG_ID);
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_MMIO_DATA, 4), 3);
	/* 8-byte read of a 5-byte file: bytes then zeros; then only zeros. */
	mmio_select(fw, 0x20);
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_MMIO_DATA, 8), 0x3534333231ULL);
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_MMIO_DATA, 8), 0);
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_MMIO_SELECTOR, 2), 0xffffu);
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_MMIO_DMA, 8), __builtin_bswap64(VV_FW_CFG_DMA_SIGNATURE));
	/* DMA through one 64-bit write. */
	put_desc(desc, VV_FW_CFG_DMA_CTL_SELECT | VV_FW_CFG_DMA_CTL_READ | (0x20u << 16), 5, buf);
	CHECK_EQ(mmio_dma(fw, desc), 0);
	CHECK_MEM(gpa_ptr(buf), "12345", 5);
	/* Writes to the data register are ignored (§2.1). */
	mmio_select(fw, 0x20);
	vv_fw_cfg_write(fw, VV_FW_CFG_MMIO_DATA, 0x4141414141ULL, 8);
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_MMIO_DATA, 1), '1');
	vv_fw_cfg_free(fw);
}

static void
test_dma_read_skip(void)
{
	struct vv_fw_cfg *fw = new_io();
	uint64_t desc = RAM_BASE + 0x40, buf = RAM_BASE + 0x1000;

	REQUIRE(fw != NULL);
	REQUIRE(vv_fw_cfg_add_file(fw, "etc/f", "abcdefgh", 8, false, NULL) == 0);
	/* READ runs past the end: the rest of the buffer is zero, no ERROR. */
	memset(gpa_ptr(buf), 0xaa, 16);
	put_desc(desc, VV_FW_CFG_DMA_CTL_SELECT | VV_FW_CFG_DMA_CTL_READ | (0x20u << 16), 12, buf);
	CHECK_EQ(io_dma(fw, desc), 0);
	CHECK_MEM(gpa_ptr(buf), "abcdefgh\0\0\0\0", 12);
	CHECK_EQ(gpa_ptr(buf)[12], 0xaa);
	/* SKIP 3, then READ 2 from offset 3. */
	put_desc(desc, VV_FW_CFG_DMA_CTL_SELECT | VV_FW_CFG_DMA_CTL_SKIP | (0x20u << 16), 3, 0);
	CHECK_EQ(io_dma(fw, desc), 0);
	put_desc(desc, VV_FW_CFG_DMA_CTL_READ, 2, buf);
	CHECK_EQ(io_dma(fw, desc), 0);
	CHECK_MEM(gpa_ptr(buf), "de", 2);
	/* The data port continues where DMA stopped. */
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_IO_DATA, 1), 'f');
	/* A READ of an invalid key zero-fills, no ERROR. */
	memset(gpa_ptr(buf), 0xaa, 4);
	put_desc(desc, VV_FW_CFG_DMA_CTL_SELECT | VV_FW_CFG_DMA_CTL_READ | (0x3fffu << 16), 4, buf);
	CHECK_EQ(io_dma(fw, desc), 0);
	CHECK_MEM(gpa_ptr(buf), "\0\0\0\0", 4);
	/* A 32-bit address needs only the low-half write; high alone does
	 * nothing. */
	put_desc(desc, VV_FW_CFG_DMA_CTL_SELECT | VV_FW_CFG_DMA_CTL_READ | (0x20u << 16), 1, buf);
	vv_fw_cfg_write(fw, VV_FW_CFG_IO_DMA, 0, 4);
	CHECK_EQ(get_be32(gpa_ptr(desc)), VV_FW_CFG_DMA_CTL_SELECT | VV_FW_CFG_DMA_CTL_READ | (0x20u << 16));
	vv_fw_cfg_write(fw, VV_FW_CFG_IO_DMA + 4, __builtin_bswap32((uint32_t)desc), 4);
	CHECK_EQ(get_be32(gpa_ptr(desc)), 0);
	CHECK_EQ(gpa_ptr(buf)[0], 'a');
	vv_fw_cfg_free(fw);
}

static void
test_dma_write(void)
{
	struct vv_fw_cfg *fw = new_io();
	struct wlog log = { 0 };
	struct vv_fw_cfg_file_ops ops = { log_select, log_write, &log };
	uint64_t desc = RAM_BASE, src = RAM_BASE + 0x200;
	uint16_t key;
	size_t size;
	uint8_t *data;

	REQUIRE(fw != NULL);
	REQUIRE(vv_fw_cfg_add_file(fw, "etc/w", "00000000", 8, true, &ops) == 0);
	key = vv_fw_cfg_file_key(fw, "etc/w");
	memcpy(gpa_ptr(src), "WXYZ", 4);
	put_desc(desc, VV_FW_CFG_DMA_CTL_SELECT | VV_FW_CFG_DMA_CTL_SKIP | ((uint32_t)key << 16), 2, 0);
	CHECK_EQ(io_dma(fw, desc), 0);
	CHECK_EQ(log.selects, 1);
	put_desc(desc, VV_FW_CFG_DMA_CTL_WRITE, 4, src);
	CHECK_EQ(io_dma(fw, desc), 0);
	data = vv_fw_cfg_file_data(fw, "etc/w", &size);
	REQUIRE(data != NULL);
	CHECK_EQ(size, 8);
	CHECK_MEM(data, "00WXYZ00", 8);
	CHECK_EQ(log.calls, 1);
	CHECK_EQ(log.offset, 2);
	CHECK_EQ(log.len, 4);
	/* The guest reads back what it wrote. */
	io_select(fw, key);
	CHECK_EQ(log.selects, 2);
	{
		uint8_t back[8];

		io_read(fw, back, 8);
		CHECK_MEM(back, "00WXYZ00", 8);
	}
	/* A write that fills the file exactly to its end is accepted. */
	put_desc(desc, VV_FW_CFG_DMA_CTL_SELECT | VV_FW_CFG_DMA_CTL_WRITE | ((uint32_t)key << 16), 8, src);
	memcpy(gpa_ptr(src), "12345678", 8);
	CHECK_EQ(io_dma(fw, desc), 0);
	CHECK_MEM(data, "12345678", 8);
	CHECK_EQ(log.calls, 2);
	vv_fw_cfg_free(fw);
}

/* The refused-write cases: ERROR, file bytes and offset unchanged, no
 * callback. */
static void
test_dma_write_refused(void)
{
	struct vv_fw_cfg *fw = new_io();
	struct wlog log = { 0 };
	struct vv_fw_cfg_file_ops ops = { NULL, log_write, &log };
	uint64_t desc = RAM_BASE, src = RAM_BASE + 0x200;
	uint32_t sel_w, sel_r;
	uint8_t *w, *r;

	REQUIRE(fw != NULL);
	REQUIRE(vv_fw_cfg_add_file(fw, "etc/ro", "readonly", 8, false, &ops) == 0);
	REQUIRE(vv_fw_cfg_add_file(fw, "etc/rw", "writable", 8, true, &ops) == 0);
	sel_r = VV_FW_CFG_DMA_CTL_SELECT | ((uint32_t)vv_fw_cfg_file_key(fw, "etc/ro") << 16);
	sel_w = VV_FW_CFG_DMA_CTL_SELECT | ((uint32_t)vv_fw_cfg_file_key(fw, "etc/rw") << 16);
	w = vv_fw_cfg_file_data(fw, "etc/rw", NULL);
	r = vv_fw_cfg_file_data(fw, "etc/ro", NULL);
	memset(gpa_ptr(src), 'X', 16);

	/* Read-only item. */
	put_desc(desc, sel_r | VV_FW_CFG_DMA_CTL_WRITE, 4, src);
	CHECK_EQ(io_dma(fw, desc), VV_FW_CFG_DMA_CTL_ERROR);
	CHECK_MEM(r, "readonly", 8);
	/* Numbered items are read-only too. */
	put_desc(desc, VV_FW_CFG_DMA_CTL_SELECT | VV_FW_CFG_DMA_CTL_WRITE, 4, src);
	CHECK_EQ(io_dma(fw, desc), VV_FW_CFG_DMA_CTL_ERROR);
	io_select(fw, VV_FW_CFG_SIGNATURE);
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_IO_DATA, 1), 'Q');
	/* Ends past the end: dropped entirely (no truncated write). */
	put_desc(desc, sel_w | VV_FW_CFG_DMA_CTL_WRITE, 9, src);
	CHECK_EQ(io_dma(fw, desc), VV_FW_CFG_DMA_CTL_ERROR);
	CHECK_MEM(w, "writable", 8);
	/* Offset unchanged by the refused write: data port still at 0. */
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_IO_DATA, 1), 'w');
	/* Starts at the end. */
	put_desc(desc, sel_w | VV_FW_CFG_DMA_CTL_SKIP, 8, 0);
	CHECK_EQ(io_dma(fw, desc), 0);
	put_desc(desc, VV_FW_CFG_DMA_CTL_WRITE, 1, src);
	CHECK_EQ(io_dma(fw, desc), VV_FW_CFG_DMA_CTL_ERROR);
	/* No item selected. */
	put_desc(desc, VV_FW_CFG_DMA_CTL_SELECT | (0x3fffu << 16) | VV_FW_CFG_DMA_CTL_WRITE, 1, src);
	CHECK_EQ(io_dma(fw, desc), VV_FW_CFG_DMA_CTL_ERROR);
	/* Source outside guest RAM, and a source range that wraps 2^64. */
	put_desc(desc, sel_w | VV_FW_CFG_DMA_CTL_WRITE, 4, RAM_BASE + RAM_SIZE - 2);
	CHECK_EQ(io_dma(fw, desc), VV_FW_CFG_DMA_CTL_ERROR);
	put_desc(desc, sel_w | VV_FW_CFG_DMA_CTL_WRITE, 4, UINT64_MAX - 1);
	CHECK_EQ(io_dma(fw, desc), VV_FW_CFG_DMA_CTL_ERROR);
	CHECK_MEM(w, "writable", 8);
	CHECK_EQ(log.calls, 0);
	vv_fw_cfg_free(fw);
}

static void
test_dma_bad_descriptors(void)
{
	struct vv_fw_cfg *fw = new_io();
	static uint8_t before[RAM_SIZE];
	uint64_t desc = RAM_BASE + 0x80;
	uint32_t sel = VV_FW_CFG_DMA_CTL_SELECT | (0x20u << 16);

	REQUIRE(fw != NULL);
	REQUIRE(vv_fw_cfg_add_file(fw, "etc/f", "abcd", 4, false, NULL) == 0);

	/* Descriptor entirely outside RAM: nothing anywhere changes. */
	memcpy(before, ram, RAM_SIZE);
	vv_fw_cfg_write(fw, VV_FW_CFG_IO_DMA, 0, 4);
	vv_fw_cfg_write(fw, VV_FW_CFG_IO_DMA + 4, __builtin_bswap32(0x1000), 4);
	CHECK_MEM(ram, before, RAM_SIZE);
	/* Descriptor straddling the end of RAM: ERROR lands in its control
	 * word, nothing else moves. */
	put_desc(RAM_BASE + RAM_SIZE - 16, sel | VV_FW_CFG_DMA_CTL_READ, 4, RAM_BASE);
	memcpy(before, ram, RAM_SIZE);
	vv_fw_cfg_write(fw, VV_FW_CFG_IO_DMA + 4, __builtin_bswap32((uint32_t)(RAM_BASE + RAM_SIZE - 8)), 4);
	CHECK_EQ(get_be32(gpa_ptr(RAM_BASE + RAM_SIZE - 8)), VV_FW_CFG_DMA_CTL_ERROR);
	CHECK_MEM(ram, before, RAM_SIZE - 8);
	/* Descriptor address wrapping 2^64. */
	ram_reads = 0;
	vv_fw_cfg_write(fw, VV_FW_CFG_IO_DMA, __builtin_bswap64(UINT64_MAX - 3), 8);
	CHECK_EQ(ram_reads, 0);
	/* READ target outside RAM / wrapping: ERROR, RAM unchanged but the
	 * control word. */
	put_desc(desc, sel | VV_FW_CFG_DMA_CTL_READ, 4, RAM_BASE + RAM_SIZE);
	memcpy(before, ram, RAM_SIZE);
	CHECK_EQ(io_dma(fw, desc), VV_FW_CFG_DMA_CTL_ERROR);
	CHECK_MEM(ram, before, 0x80);
	CHECK_MEM(ram + 0x84, before + 0x84, RAM_SIZE - 0x84);
	put_desc(desc, sel | VV_FW_CFG_DMA_CTL_READ, 0xffffffffu, UINT64_MAX - 0x100);
	memcpy(before, ram, RAM_SIZE);
	ram_writes = 0;
	CHECK_EQ(io_dma(fw, desc), VV_FW_CFG_DMA_CTL_ERROR);
	CHECK_EQ(ram_writes, 1);        /* only the completion word */
	CHECK_MEM(ram, before, 0x80);
	CHECK_MEM(ram + 0x84, before + 0x84, RAM_SIZE - 0x84);
	/* The offset did not move: the data port still reads from 0. */
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_IO_DATA, 1), 'a');
	/* DMA writes other than 32-bit at +0/+4 or 64-bit at +0 are ignored. */
	put_desc(desc, sel | VV_FW_CFG_DMA_CTL_READ, 1, RAM_BASE + 0x400);
	vv_fw_cfg_write(fw, VV_FW_CFG_IO_DMA + 4, __builtin_bswap64(desc), 8);
	vv_fw_cfg_write(fw, VV_FW_CFG_IO_DMA + 6, 0, 2);
	CHECK_EQ(get_be32(gpa_ptr(desc)), sel | VV_FW_CFG_DMA_CTL_READ);
	vv_fw_cfg_free(fw);
}

/* Control words without a known operation, or with several (§2.3): QEMU's
 * precedence READ > WRITE > SKIP; unknown bits and a guest-set ERROR bit
 * are ignored, as QEMU ignores them. */
static void
test_dma_control_bits(void)
{
	struct vv_fw_cfg *fw = new_io();
	struct wlog log = { 0 };
	struct vv_fw_cfg_file_ops ops = { NULL, log_write, &log };
	uint64_t desc = RAM_BASE, buf = RAM_BASE + 0x100;
	uint32_t sel;
	uint8_t *w;

	REQUIRE(fw != NULL);
	REQUIRE(vv_fw_cfg_add_file(fw, "etc/rw", "rw", 2, true, &ops) == 0);
	sel = VV_FW_CFG_DMA_CTL_SELECT | ((uint32_t)vv_fw_cfg_file_key(fw, "etc/rw") << 16);
	w = vv_fw_cfg_file_data(fw, "etc/rw", NULL);
	/* Unknown bits only: no transfer, success, buffer untouched. */
	memset(gpa_ptr(buf), 0xaa, 4);
	put_desc(desc, sel | 0x60u, 2, buf);
	CHECK_EQ(io_dma(fw, desc), 0);
	CHECK_EQ(gpa_ptr(buf)[0], 0xaa);
	/* ERROR set by the guest is not an operation. */
	put_desc(desc, VV_FW_CFG_DMA_CTL_ERROR, 2, buf);
	CHECK_EQ(io_dma(fw, desc), 0);
	CHECK_EQ(gpa_ptr(buf)[0], 0xaa);
	/* READ|WRITE is a READ: the file is not written. */
	put_desc(desc, sel | VV_FW_CFG_DMA_CTL_READ | VV_FW_CFG_DMA_CTL_WRITE, 2, buf);
	CHECK_EQ(io_dma(fw, desc), 0);
	CHECK_MEM(gpa_ptr(buf), "rw", 2);
	CHECK_MEM(w, "rw", 2);
	CHECK_EQ(log.calls, 0);
	/* WRITE|SKIP is a WRITE. */
	memcpy(gpa_ptr(buf), "ZZ", 2);
	put_desc(desc, sel | VV_FW_CFG_DMA_CTL_WRITE | VV_FW_CFG_DMA_CTL_SKIP, 2, buf);
	CHECK_EQ(io_dma(fw, desc), 0);
	CHECK_MEM(w, "ZZ", 2);
	CHECK_EQ(log.calls, 1);
	vv_fw_cfg_free(fw);
}

static void
test_data_port_writes_ignored(void)
{
	struct vv_fw_cfg *fw = new_io();
	uint8_t *w;

	REQUIRE(fw != NULL);
	REQUIRE(vv_fw_cfg_add_file(fw, "etc/rw", "abc", 3, true, NULL) == 0);
	w = vv_fw_cfg_file_data(fw, "etc/rw", NULL);
	io_select(fw, 0x20);
	vv_fw_cfg_write(fw, VV_FW_CFG_IO_DATA, 'X', 1);
	vv_fw_cfg_write(fw, VV_FW_CFG_IO_SELECTOR, 'X', 1);
	/* Legacy write channel (bit 14) select does not make writes work. */
	io_select(fw, 0x4020);
	vv_fw_cfg_write(fw, VV_FW_CFG_IO_DATA, 'Y', 1);
	CHECK_MEM(w, "abc", 3);
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_IO_DATA, 1), 'a');
	/* A 4-byte selector write is not a select. */
	vv_fw_cfg_write(fw, VV_FW_CFG_IO_SELECTOR, VV_FW_CFG_SIGNATURE, 4);
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_IO_DATA, 1), 'b');
	/* VM reset: the signature is selected again. */
	vv_fw_cfg_reset(fw);
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_IO_DATA, 1), 'Q');
	vv_fw_cfg_free(fw);
}

static void
test_item_registration(void)
{
	struct vv_fw_cfg *fw = vv_fw_cfg_new(VV_FW_CFG_IO, &mem, VV_FW_CFG_FILE_SLOTS_MIN);
	char name[64];

	REQUIRE(fw != NULL);
	CHECK(vv_fw_cfg_new(VV_FW_CFG_IO, &mem, 4) == NULL);
	memset(name, 'n', 55);
	name[55] = '\0';
	CHECK_EQ(vv_fw_cfg_add_file(fw, name, NULL, 1, false, NULL), 0);      /* 55 + NUL fits */
	name[55] = 'n';
	name[56] = '\0';
	CHECK_EQ(vv_fw_cfg_add_file(fw, name, NULL, 1, false, NULL), -1);     /* 56 does not */
	CHECK_EQ(vv_fw_cfg_add_file(fw, "", NULL, 1, false, NULL), -1);
	CHECK_EQ(vv_fw_cfg_add_file(fw, "etc/a", NULL, 1, false, NULL), 0);
	CHECK_EQ(vv_fw_cfg_add_file(fw, "etc/a", NULL, 1, false, NULL), -1);  /* duplicate */
	for (unsigned i = 2; i < VV_FW_CFG_FILE_SLOTS_MIN; i++) {
		snprintf(name, sizeof(name), "opt/f%02u", i);
		CHECK_EQ(vv_fw_cfg_add_file(fw, name, NULL, 1, false, NULL), 0);
	}
	CHECK_EQ(vv_fw_cfg_add_file(fw, "opt/full", NULL, 1, false, NULL), -1); /* slots */
	CHECK_EQ(vv_fw_cfg_add_item(fw, VV_FW_CFG_SIGNATURE, "XXXX", 4), -1);
	CHECK_EQ(vv_fw_cfg_add_item(fw, VV_FW_CFG_FILE_DIR, "XXXX", 4), -1);
	CHECK_EQ(vv_fw_cfg_add_item(fw, 0x20, "XXXX", 4), -1);
	CHECK_EQ(vv_fw_cfg_add_item(fw, 0x05, "\x02\x00", 2), 0);              /* NB_CPUS */
	CHECK_EQ(vv_fw_cfg_add_item(fw, 0x8003, "arch", 4), 0);
	io_select(fw, 0x8003);
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_IO_DATA, 1), 'a');
	io_select(fw, 0x05);
	CHECK_EQ(vv_fw_cfg_read(fw, VV_FW_CFG_IO_DATA, 1), 2);
	/* Remove and replace keep the directory right. */
	CHECK_EQ(vv_fw_cfg_remove_file(fw, "etc/a"), 0);
	CHECK_EQ(vv_fw_cfg_file_key(fw, "etc/a"), VV_FW_CFG_INVALID);
	CHECK_EQ(vv_fw_cfg_replace_file(fw, "opt/f02", "longer", 6), 0);
	{
		uint16_t key;
		uint32_t size;

		REQUIRE(io_find_file(fw, "opt/f02", &key, &size) == 0);
		CHECK_EQ(size, 6);
		CHECK_EQ(key, vv_fw_cfg_file_key(fw, "opt/f02"));
	}
	vv_fw_cfg_free(fw);
}

/* ---- etc/hardware-info ---- */

static void
test_hardware_info_discovery(void)
{
	struct vv_fw_cfg *fw = new_io();
	uint64_t desc = RAM_BASE, buf = RAM_BASE + 0x800, base = 0;
	uint16_t key;
	uint32_t size;

	REQUIRE(fw != NULL);
	REQUIRE(vv_hardware_info_add_uefi_vars(fw, VV_UEFI_VARS_X64_MMIO) == 0);
	/* The guest's way: find the file by name, DMA it in, parse it. */
	REQUIRE(io_find_file(fw, VV_HWINFO_FILE, &key, &size) == 0);
	CHECK_EQ(size, 24);
	put_desc(desc, VV_FW_CFG_DMA_CTL_SELECT | VV_FW_CFG_DMA_CTL_READ | ((uint32_t)key << 16), size, buf);
	CHECK_EQ(io_dma(fw, desc), 0);
	CHECK_EQ(vv_le64(gpa_ptr(buf)), VV_HWINFO_TYPE_UEFI_VARS);
	CHECK_EQ(vv_le64(gpa_ptr(buf) + 8), 8);
	CHECK_EQ(vv_hardware_info_find_uefi_vars(gpa_ptr(buf), size, &base), 0);
	CHECK_EQ(base, 0xfef10000ULL);
	/* A second uefi-vars record would break OVMF's exactly-one rule. */
	CHECK_EQ(vv_hardware_info_add_uefi_vars(fw, 0x1000), -1);
	vv_fw_cfg_free(fw);

	/* A host-bridge record before it is kept and skipped. */
	fw = new_io();
	REQUIRE(fw != NULL);
	{
		uint8_t hb[16 + 4] = { 0 };
		const uint8_t *img;
		size_t len;

		vv_put_le64(hb, VV_HWINFO_TYPE_HOST_BRIDGE);
		vv_put_le64(hb + 8, 4);
		REQUIRE(vv_fw_cfg_add_file(fw, VV_HWINFO_FILE, hb, sizeof(hb), false, NULL) == 0);
		REQUIRE(vv_hardware_info_add_uefi_vars(fw, 0xabc000) == 0);
		img = vv_fw_cfg_file_data(fw, VV_HWINFO_FILE, &len);
		CHECK_EQ(len, 20 + 24);
		CHECK_EQ(vv_hardware_info_find_uefi_vars(img, len, &base), 0);
		CHECK_EQ(base, 0xabc000);
	}
	vv_fw_cfg_free(fw);
}

static void
test_hardware_info_parser_rules(void)
{
	uint8_t img[64] = { 0 };
	uint64_t base = 0x77;

	/* Empty: not found. */
	CHECK_EQ(vv_hardware_info_find_uefi_vars(img, 0, &base), -1);
	/* Two type-2 records: not found (OVMF wants exactly one). */
	memset(img, 0, sizeof(img));
	vv_put_le64(img, 2); vv_put_le64(img + 8, 8); vv_put_le64(img + 16, 0x1000);
	vv_put_le64(img + 24, 2); vv_put_le64(img + 32, 8); vv_put_le64(img + 40, 0x2000);
	CHECK_EQ(vv_hardware_info_find_uefi_vars(img, 48, &base), -1);
	CHECK_EQ(base, 0x77);
	/* A type-2 record with size 4 does not count; the size-8 one does. */
	vv_put_le64(img + 8, 4);
	vv_put_le64(img + 20, 2); vv_put_le64(img + 28, 8); vv_put_le64(img + 36, 0x3000);
	CHECK_EQ(vv_hardware_info_find_uefi_vars(img, 44, &base), 0);
	CHECK_EQ(base, 0x3000);
	/* Size larger than 8 is accepted (>= 8); the first 8 bytes are the address. */
	memset(img, 0, sizeof(img));
	vv_put_le64(img, 2); vv_put_le64(img + 8, 16); vv_put_le64(img + 16, 0x4000);
	CHECK_EQ(vv_hardware_info_find_uefi_vars(img, 32, &base), 0);
	CHECK_EQ(base, 0x4000);
	/* A record running past the end, a huge size, a partial header. */
	base = 0x77;
	CHECK_EQ(vv_hardware_info_find_uefi_vars(img, 31, &base), -1);
	vv_put_le64(img + 8, UINT64_MAX);
	CHECK_EQ(vv_hardware_info_find_uefi_vars(img, 32, &base), -1);
	vv_put_le64(img + 8, 8);
	CHECK_EQ(vv_hardware_info_find_uefi_vars(img, 24 + 10, &base), -1);
	CHECK_EQ(base, 0x77);
}

static const struct vv_test tests[] = {
	TEST(test_signature_and_id_io),
	TEST(test_directory_walk_and_selector_reads),
	TEST(test_mmio_layout_linux),
	TEST(test_dma_read_skip),
	TEST(test_dma_write),
	TEST(test_dma_write_refused),
	TEST(test_dma_bad_descriptors),
	TEST(test_dma_control_bits),
	TEST(test_data_port_writes_ignored),
	TEST(test_item_registration),
	TEST(test_hardware_info_discovery),
	TEST(test_hardware_info_parser_rules),
};

VV_TEST_MAIN(tests)
