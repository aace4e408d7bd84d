/*
 * src/device/fw_cfg.c -- the fw_cfg device (vmfwupdate-and-firmware-
 * descriptors.md §2): selector, data and DMA registers in the x86 port and
 * the MMIO layouts, numbered items, the name-sorted file directory, and
 * DMA reads, skips and writes with per-file callbacks.
 *
 * Invariants (tests/test_fw_cfg.c checks each):
 *  (1) Every item's bytes live in a buffer the device allocated
 *      zero-filled; a present item of size n owns exactly n bytes
 *      (data may be NULL for n == 0).  Nothing indexes an item at or past
 *      its size: reads past the end give zeros (§2.1 data register, §2.3).
 *  (2) The guest changes item bytes only by a DMA WRITE to a file added
 *      writable, that starts and ends inside the file; the bytes are read
 *      from guest RAM into a scratch buffer first, so a refused read
 *      changes nothing; the write callback runs after the bytes landed
 *      (§2.3 write rules).  The data register never writes (§2.1).
 *  (3) Every guest-RAM access goes through the vv_guest_memory callbacks,
 *      with a non-zero length and a range that does not wrap 2^64.
 *  (4) The directory (key 0x19) always lists the files sorted by name with
 *      selectors 0x20 + index (§2.2), and is rebuilt after every change.
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/fw_cfg.h>

#define GENERIC_ITEMS   VV_FW_CFG_FILE_FIRST   /* numbered keys 0x00..0x1f */
#define MAX_FILE_SLOTS  (VV_FW_CFG_ENTRY_MASK + 1u - VV_FW_CFG_FILE_FIRST)
#define ZERO_CHUNK      4096u

struct item {
	bool present;
	bool writable;
	uint32_t size;
	uint8_t *data;                          /* size bytes; invariant (1) */
	struct vv_fw_cfg_file_ops ops;          /* files only; zero otherwise */
	char name[VV_FW_CFG_MAX_FILE_PATH];     /* files only */
};

struct vv_fw_cfg {
	enum vv_fw_cfg_layout layout;
	struct vv_guest_memory mem;
	bool dma;                               /* ID bit 1, DMA register mapped */
	unsigned slots;
	unsigned max_entry;                     /* FILE_FIRST + slots */

	struct item generic[GENERIC_ITEMS];
	struct item *arch;                      /* max_entry entries */
	struct item *files;                     /* slots entries, sorted by name */
	unsigned nfiles;

	uint16_t cur_key;                       /* VV_FW_CFG_INVALID or a key */
	uint32_t cur_offset;
	uint64_t dma_addr;                      /* high half of a split write */
};

static const uint8_t zeros[ZERO_CHUNK];

/* ---- byte order helpers: fw_cfg's directory and DMA are big-endian ---- */

static uint32_t
be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static uint64_t
be64(const uint8_t *p)
{
	return ((uint64_t)be32(p) << 32) | be32(p + 4);
}

/* The access's bytes in address order (the API's little-endian view). */
static void
value_bytes(uint64_t value, unsigned size, uint8_t *out)
{
	for (unsigned i = 0; i < size; i++)
		out[i] = (uint8_t)(value >> (8 * i));
}

static uint64_t
all_ones(unsigned size)
{
	return size >= 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
}

/* ---- items ---- */

static void
item_clear(struct item *it)
{
	free(it->data);
	memset(it, 0, sizeof(*it));
}

/* Fills it with a zero-filled copy of data (NULL: zeros).  On failure it is
 * untouched. */
static int
item_set(struct item *it, const void *data, size_t size)
{
	uint8_t *copy = NULL;

	if (size > UINT32_MAX)
		return -1;
	if (size > 0) {
		copy = calloc(1, size);
		if (copy == NULL)
			return -1;
		if (data != NULL)
			memcpy(copy, data, size);
	}
	free(it->data);
	it->data = copy;
	it->size = (uint32_t)size;
	it->present = true;
	return 0;
}

/* The item a key names, or NULL (invalid key, empty slot). */
static struct item *
lookup(struct vv_fw_cfg *fw, uint16_t key)
{
	unsigned idx = key & VV_FW_CFG_ENTRY_MASK;
	struct item *it;

	if (key == VV_FW_CFG_INVALID || idx >= fw->max_entry)
		return NULL;
	if (key & VV_FW_CFG_ARCH_LOCAL)
		it = &fw->arch[idx];
	else if (idx >= VV_FW_CFG_FILE_FIRST)
		it = idx - VV_FW_CFG_FILE_FIRST < fw->nfiles ? &fw->files[idx - VV_FW_CFG_FILE_FIRST] : NULL;
	else
		it = &fw->generic[idx];
	return it != NULL && it->present ? it : NULL;
}

/* Invariant (4): count (be32) then one 64-byte FWCfgFile per slot (§2.2);
 * entries past the count are zero, as in QEMU.  The item's size is fixed
 * (4 + 64 * slots, allocated once in vv_fw_cfg_new), so this cannot fail. */
static void
rebuild_directory(struct vv_fw_cfg *fw)
{
	struct item *it = &fw->generic[VV_FW_CFG_FILE_DIR];
	uint8_t *dir = it->data;

	memset(dir, 0, it->size);
	put_be32(dir, fw->nfiles);
	for (unsigned i = 0; i < fw->nfiles; i++) {
		uint8_t *e = dir + 4 + (size_t)VV_FW_CFG_DIR_ENTRY_SIZE * i;
		uint16_t key = (uint16_t)(VV_FW_CFG_FILE_FIRST + i);

		put_be32(e, fw->files[i].size);
		e[4] = (uint8_t)(key >> 8);
		e[5] = (uint8_t)key;
		memcpy(e + 8, fw->files[i].name, strlen(fw->files[i].name));
	}
}

static int
find_file(const struct vv_fw_cfg *fw, const char *name)
{
	for (unsigned i = 0; i < fw->nfiles; i++)
		if (strcmp(fw->files[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* ---- public: construction and items ---- */

struct vv_fw_cfg *
vv_fw_cfg_new(enum vv_fw_cfg_layout layout, const struct vv_guest_memory *mem, unsigned file_slots)
{
	static const uint8_t signature[4] = { 'Q', 'E', 'M', 'U' };
	struct vv_fw_cfg *fw;
	uint8_t id[4];

	if (file_slots == 0)
		file_slots = VV_FW_CFG_FILE_SLOTS_DFLT;
	if (file_slots < VV_FW_CFG_FILE_SLOTS_MIN || file_slots > MAX_FILE_SLOTS)
		return NULL;
	if (layout != VV_FW_CFG_IO && layout != VV_FW_CFG_MMIO)
		return NULL;
	fw = calloc(1, sizeof(*fw));
	if (fw == NULL)
		return NULL;
	fw->layout = layout;
	fw->dma = mem != NULL && mem->read != NULL && mem->write != NULL;
	if (fw->dma)
		fw->mem = *mem;
	fw->slots = file_slots;
	fw->max_entry = VV_FW_CFG_FILE_FIRST + file_slots;
	fw->arch = calloc(fw->max_entry, sizeof(*fw->arch));
	fw->files = calloc(file_slots, sizeof(*fw->files));
	vv_put_le32(id, VV_FW_CFG_ID_TRADITIONAL | (fw->dma ? VV_FW_CFG_ID_DMA : 0));
	if (fw->arch == NULL || fw->files == NULL ||
	    item_set(&fw->generic[VV_FW_CFG_SIGNATURE], signature, sizeof(signature)) != 0 ||
	    item_set(&fw->generic[VV_FW_CFG_ID], id, sizeof(id)) != 0 ||
	    item_set(&fw->generic[VV_FW_CFG_FILE_DIR], NULL,
		     4 + (size_t)VV_FW_CFG_DIR_ENTRY_SIZE * file_slots) != 0) {
		vv_fw_cfg_free(fw);
		return NULL;
	}
	rebuild_directory(fw);
	vv_fw_cfg_reset(fw);
	return fw;
}

void
vv_fw_cfg_free(struct vv_fw_cfg *fw)
{
	if (fw == NULL)
		return;
	for (unsigned i = 0; i < GENERIC_ITEMS; i++)
		item_clear(&fw->generic[i]);
	if (fw->arch != NULL)
		for (unsigned i = 0; i < fw->max_entry; i++)
			item_clear(&fw->arch[i]);
	if (fw->files != NULL)
		for (unsigned i = 0; i < fw->nfiles; i++)
			item_clear(&fw->files[i]);
	free(fw->arch);
	free(fw->files);
	free(fw);
}

int
vv_fw_cfg_add_item(struct vv_fw_cfg *fw, uint16_t key, const void *data, size_t size)
{
	unsigned idx = key & VV_FW_CFG_ENTRY_MASK;

	if (key & VV_FW_CFG_WRITE_CHANNEL)
		return -1;
	if (key & VV_FW_CFG_ARCH_LOCAL)
		return idx < fw->max_entry ? item_set(&fw->arch[idx], data, size) : -1;
	/* The signature, ID and directory belong to the device. */
	if (idx >= VV_FW_CFG_FILE_FIRST || idx == VV_FW_CFG_SIGNATURE || idx == VV_FW_CFG_ID ||
	    idx == VV_FW_CFG_FILE_DIR)
		return -1;
	return item_set(&fw->generic[idx], data, size);
}

int
vv_fw_cfg_add_file(struct vv_fw_cfg *fw, const char *name, const void *data, size_t size,
		   bool writable, const struct vv_fw_cfg_file_ops *ops)
{
	struct item it;
	size_t namelen;
	unsigned pos;

	if (name == NULL)
		return -1;
	namelen = strnlen(name, VV_FW_CFG_MAX_FILE_PATH);
	if (namelen == 0 || namelen >= VV_FW_CFG_MAX_FILE_PATH)
		return -1;
	if (fw->nfiles >= fw->slots || find_file(fw, name) >= 0)
		return -1;
	memset(&it, 0, sizeof(it));
	if (item_set(&it, data, size) != 0)
		return -1;
	memcpy(it.name, name, namelen);
	it.writable = writable;
	if (ops != NULL)
		it.ops = *ops;
	/* Sorted insert (§2.2): later files move up one selector. */
	for (pos = 0; pos < fw->nfiles && strcmp(fw->files[pos].name, name) < 0; pos++)
		;
	memmove(&fw->files[pos + 1], &fw->files[pos], (fw->nfiles - pos) * sizeof(*fw->files));
	fw->files[pos] = it;
	fw->nfiles++;
	rebuild_directory(fw);
	return 0;
}

int
vv_fw_cfg_remove_file(struct vv_fw_cfg *fw, const char *name)
{
	int i = find_file(fw, name);
	unsigned pos;

	if (i < 0)
		return -1;
	pos = (unsigned)i;
	item_clear(&fw->files[pos]);
	memmove(&fw->files[pos], &fw->files[pos + 1], (fw->nfiles - pos - 1) * sizeof(*fw->files));
	fw->nfiles--;
	memset(&fw->files[fw->nfiles], 0, sizeof(*fw->files));
	rebuild_directory(fw);
	return 0;
}

int
vv_fw_cfg_replace_file(struct vv_fw_cfg *fw, const char *name, const void *data, size_t size)
{
	int i = find_file(fw, name);

	if (i < 0 || item_set(&fw->files[i], data, size) != 0)
		return -1;
	rebuild_directory(fw);
	/* The data offset may now be past the end: reads then give zeros. */
	return 0;
}

bool
vv_fw_cfg_has_dma(const struct vv_fw_cfg *fw)
{
	return fw->dma;
}

uint16_t
vv_fw_cfg_file_key(const struct vv_fw_cfg *fw, const char *name)
{
	int i = find_file(fw, name);

	return i < 0 ? VV_FW_CFG_INVALID : (uint16_t)(VV_FW_CFG_FILE_FIRST + (unsigned)i);
}

uint8_t *
vv_fw_cfg_file_data(struct vv_fw_cfg *fw, const char *name, size_t *size)
{
	int i = find_file(fw, name);

	if (i < 0)
		return NULL;
	if (size != NULL)
		*size = fw->files[i].size;
	return fw->files[i].data;
}

/* ---- selector and data register ---- */

/* §2.1: selecting resets the offset; keys beyond the table select nothing
 * (QEMU's FW_CFG_INVALID); bit 14 is kept but ignored by lookup. */
static void
select_key(struct vv_fw_cfg *fw, uint16_t key)
{
	struct item *it;

	fw->cur_offset = 0;
	if ((key & VV_FW_CFG_ENTRY_MASK) >= fw->max_entry) {
		fw->cur_key = VV_FW_CFG_INVALID;
		return;
	}
	fw->cur_key = key;
	it = lookup(fw, key);
	if (it != NULL && it->ops.select != NULL)
		it->ops.select(it->ops.opaque, it->data, it->size);
}

/* Next size bytes of the item in address order; zeros past the end, where
 * the offset stops (§2.1). */
static uint64_t
data_read(struct vv_fw_cfg *fw, unsigned size)
{
	struct item *it = lookup(fw, fw->cur_key);
	uint64_t value = 0;

	for (unsigned i = 0; i < size; i++) {
		if (it == NULL || fw->cur_offset >= it->size)
			break;
		value |= (uint64_t)it->data[fw->cur_offset++] << (8 * i);
	}
	return value;
}

/* ---- DMA (§2.3) ---- */

static bool
range_ok(uint64_t gpa, uint64_t len)
{
	uint64_t end;

	return !vv_add_overflow(gpa, len, &end);
}

/* Reads the rest of the transfer as zeros into guest RAM. */
static uint32_t
dma_zero_fill(struct vv_fw_cfg *fw, uint64_t gpa, uint64_t len)
{
	while (len > 0) {
		size_t n = len > ZERO_CHUNK ? ZERO_CHUNK : (size_t)len;

		if (fw->mem.write(fw->mem.opaque, gpa, zeros, n) != 0)
			return VV_FW_CFG_DMA_CTL_ERROR;
		gpa += n;
		len -= n;
	}
	return 0;
}

/* READ: the item's bytes from the offset, then zeros (past the end or no
 * item: no ERROR, §2.3).  The offset advances by the bytes delivered. */
static uint32_t
dma_read(struct vv_fw_cfg *fw, uint64_t gpa, uint32_t len)
{
	struct item *it = lookup(fw, fw->cur_key);
	uint32_t avail = 0, n;

	if (len == 0)
		return 0;
	if (!range_ok(gpa, len))
		return VV_FW_CFG_DMA_CTL_ERROR;
	if (it != NULL && fw->cur_offset < it->size)
		avail = it->size - fw->cur_offset;
	n = len < avail ? len : avail;
	if (n > 0) {
		if (fw->mem.write(fw->mem.opaque, gpa, it->data + fw->cur_offset, n) != 0)
			return VV_FW_CFG_DMA_CTL_ERROR;
		fw->cur_offset += n;
	}
	return dma_zero_fill(fw, gpa + n, (uint64_t)len - n);
}

/* SKIP: advance within the item; past the end nothing happens. */
static uint32_t
dma_skip(struct vv_fw_cfg *fw, uint32_t len)
{
	struct item *it = lookup(fw, fw->cur_key);
	uint32_t avail = 0;

	if (it != NULL && fw->cur_offset < it->size)
		avail = it->size - fw->cur_offset;
	fw->cur_offset += len < avail ? len : avail;
	return 0;
}

/* WRITE: invariant (2).  Refused (ERROR, nothing changed, offset kept):
 * no item, read-only item, a write that starts or ends past the end, a
 * range that wraps, guest RAM refused. */
static uint32_t
dma_write(struct vv_fw_cfg *fw, uint64_t gpa, uint32_t len)
{
	struct item *it = lookup(fw, fw->cur_key);
	uint32_t start = fw->cur_offset;
	uint8_t *scratch;

	if (len == 0)
		return 0;
	if (it == NULL || !it->writable || start >= it->size || len > it->size - start ||
	    !range_ok(gpa, len))
		return VV_FW_CFG_DMA_CTL_ERROR;
	scratch = malloc(len);
	if (scratch == NULL)
		return VV_FW_CFG_DMA_CTL_ERROR;
	if (fw->mem.read(fw->mem.opaque, gpa, scratch, len) != 0) {
		free(scratch);
		return VV_FW_CFG_DMA_CTL_ERROR;
	}
	memcpy(it->data + start, scratch, len);
	free(scratch);
	fw->cur_offset = start + len;
	if (it->ops.write != NULL)
		it->ops.write(it->ops.opaque, it->data, it->size, start, len);
	return 0;
}

/* Stores the completion control word (be32) at the descriptor. */
static void
dma_complete(struct vv_fw_cfg *fw, uint64_t desc, uint32_t control)
{
	uint8_t word[4];

	if (!range_ok(desc, sizeof(word)))
		return;
	put_be32(word, control);
	(void)fw->mem.write(fw->mem.opaque, desc, word, sizeof(word));
}

/*
 * One FWCfgDmaAccess (§2.3): read the 16-byte big-endian descriptor once,
 * SELECT first, then READ, else WRITE, else SKIP (QEMU's precedence; other
 * control bits are ignored as QEMU ignores them), then write back control
 * = 0 or ERROR.  The address register is 0 again when the operation starts.
 */
static void
dma_transfer(struct vv_fw_cfg *fw)
{
	uint64_t desc = fw->dma_addr, address;
	uint8_t raw[VV_FW_CFG_DMA_ACCESS_SIZE];
	uint32_t control, length, result = 0;

	fw->dma_addr = 0;
	if (!range_ok(desc, sizeof(raw)) ||
	    fw->mem.read(fw->mem.opaque, desc, raw, sizeof(raw)) != 0) {
		dma_complete(fw, desc, VV_FW_CFG_DMA_CTL_ERROR);
		return;
	}
	control = be32(raw);
	length = be32(raw + 4);
	address = be64(raw + 8);
	if (control & VV_FW_CFG_DMA_CTL_SELECT)
		select_key(fw, (uint16_t)(control >> 16));
	if (control & VV_FW_CFG_DMA_CTL_READ)
		result = dma_read(fw, address, length);
	else if (control & VV_FW_CFG_DMA_CTL_WRITE)
		result = dma_write(fw, address, length);
	else if (control & VV_FW_CFG_DMA_CTL_SKIP)
		result = dma_skip(fw, length);
	dma_complete(fw, desc, result);
}

/* ---- register decode ---- */

/* The DMA register, rel = offset inside its 8 bytes.  Reads give the
 * signature's bytes; writes: 32-bit at +0 (high half), 32-bit at +4 (low
 * half, starts), 64-bit at +0 (starts), all big-endian; others ignored. */
static uint64_t
dma_reg_read(unsigned rel, unsigned size)
{
	uint64_t value = 0;

	if (rel + size > 8)
		return all_ones(size);
	for (unsigned i = 0; i < size; i++)
		value |= ((VV_FW_CFG_DMA_SIGNATURE >> (8 * (7 - rel - i))) & 0xff) << (8 * i);
	return value;
}

static void
dma_reg_write(struct vv_fw_cfg *fw, unsigned rel, uint64_t value, unsigned size)
{
	uint8_t b[8];

	value_bytes(value, size, b);
	if (size == 4 && rel == 0) {
		fw->dma_addr = (uint64_t)be32(b) << 32;
	} else if (size == 4 && rel == 4) {
		fw->dma_addr |= be32(b);
		dma_transfer(fw);
	} else if (size == 8 && rel == 0) {
		fw->dma_addr = be64(b);
		dma_transfer(fw);
	}
}

static bool
valid_size(unsigned size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

uint64_t
vv_fw_cfg_read(struct vv_fw_cfg *fw, uint64_t offset, unsigned size)
{
	if (!valid_size(size))
		return ~0ULL;
	if (fw->layout == VV_FW_CFG_IO) {
		/* 0x510/0x511: 8-bit data reads only (QEMU's comb region). */
		if (offset <= VV_FW_CFG_IO_DATA && size == 1)
			return data_read(fw, 1);
		if (fw->dma && offset >= VV_FW_CFG_IO_DMA && offset < VV_FW_CFG_IO_DMA + 8)
			return dma_reg_read((unsigned)(offset - VV_FW_CFG_IO_DMA), size);
		return all_ones(size);
	}
	if (offset == VV_FW_CFG_MMIO_DATA)
		return data_read(fw, size);
	if (fw->dma && offset >= VV_FW_CFG_MMIO_DMA && offset < VV_FW_CFG_MMIO_DMA + 8)
		return dma_reg_read((unsigned)(offset - VV_FW_CFG_MMIO_DMA), size);
	return all_ones(size);
}

void
vv_fw_cfg_write(struct vv_fw_cfg *fw, uint64_t offset, uint64_t value, unsigned size)
{
	uint8_t b[8];

	if (!valid_size(size))
		return;
	if (fw->layout == VV_FW_CFG_IO) {
		/* A 16-bit write at 0x510 selects (little-endian); 8-bit writes to
		 * the data port are ignored since QEMU 2.4 (§2.1). */
		if (offset == VV_FW_CFG_IO_SELECTOR && size == 2)
			select_key(fw, (uint16_t)value);
		else if (fw->dma && offset >= VV_FW_CFG_IO_DMA && offset < VV_FW_CFG_IO_DMA + 8)
			dma_reg_write(fw, (unsigned)(offset - VV_FW_CFG_IO_DMA), value, size);
		return;
	}
	/* MMIO: the selector is big-endian; data writes are ignored. */
	if (offset == VV_FW_CFG_MMIO_SELECTOR && size == 2) {
		value_bytes(value, 2, b);
		select_key(fw, (uint16_t)((b[0] << 8) | b[1]));
	} else if (fw->dma && offset >= VV_FW_CFG_MMIO_DMA && offset < VV_FW_CFG_MMIO_DMA + 8) {
		dma_reg_write(fw, (unsigned)(offset - VV_FW_CFG_MMIO_DMA), value, size);
	}
}

void
vv_fw_cfg_reset(struct vv_fw_cfg *fw)
{
	fw->dma_addr = 0;
	/* QEMU's fw_cfg_reset selects the signature (no select callback). */
	select_key(fw, VV_FW_CFG_SIGNATURE);
}
