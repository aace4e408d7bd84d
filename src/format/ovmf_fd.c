/*
 * src/format/ovmf_fd.c -- the edk2 OVMF_VARS.fd / ArmVirt flash image
 * (varstore-formats §2): one firmware volume holding the variable store,
 * an optional NV_EVENT_LOG, the fault-tolerant-write (FTW) working block
 * and its spare area.
 *
 * Reading (§2.6 reader checklist):
 *  - a blank flash image (every byte 0x00 or every byte 0xFF, a whole
 *    number of 4 KiB blocks) is an empty store: Debian's 64 MiB
 *    AAVMF_VARS.fd is all zeros and the firmware formats it at first boot;
 *  - the FV is found at a 1 KiB step (padded AArch64 images, §2.1 notes);
 *    its header must carry _FVH, revision 2, an even HeaderLength, FvLength
 *    within the file, a 16-bit checksum of 0 (§2.2), and a block map
 *    summing to FvLength or, as ArmVirt's flash driver writes it when it
 *    formats the store (Debian's AAVMF_VARS.ms.fd: {0x100, 0x40000} with
 *    FvLength 0xC0000), to the whole flash device, which must lie within
 *    the file;
 *  - the store header must have the authenticated (60-byte records) or
 *    the plain (32-byte records) GUID, Format 0x5A, State 0xFE, and
 *    Size <= FvLength - HeaderLength (§2.3);
 *  - records are walked from HEADER_ALIGN(store + 28) with 4-byte
 *    alignment until a StartId other than 0x55AA (§2.4).  Every record is
 *    bound-checked against the store end, whatever its state.  A record
 *    whose State, NameSize, DataSize or Attributes reads all-ones (torn
 *    write) is stepped over by the bare header size, as edk2 does.  Only
 *    0x3F (VAR_ADDED) and 0x3E (IN_DELETED_TRANSITION) records count; the
 *    first 0x3F copy of a (GUID, name) wins, and a 0x3E copy is live only
 *    when no 0x3F copy exists (the last such 0x3E wins, as edk2
 *    FindVariableEx); 0x7F, 0x3D and 0x3C are dead; any other State is
 *    corruption.  Variables are keyed by (GUID, name), never name alone
 *    (§12 item 1).  In-transition winners come after the others in store
 *    order;
 *  - free space that is not 0xFF is accepted (edk2 reclaims it on boot;
 *    python-uefivars writes zeros, §2.9);
 *  - the FTW working block, if present, must have its exact CRC, and its
 *    write queue must not show a write whose spare copy is complete but
 *    whose destination is not (§2.5 recovery rule): the live store would
 *    then be in the spare area, which we refuse rather than guess;
 *  - certdb (§2.8): a well-formed certdb whose every entry names a loaded
 *    variable is turned into those variables' signer digests and not kept
 *    as a variable (the store models the binding as vv_variable.digest);
 *    anything else is kept verbatim as an ordinary variable.
 *
 * Writing (§2.7 writer checklist): into a formatted template, every byte
 * outside the variable area [HEADER_ALIGN(store + 28), store + Size) is
 * kept.  Without a template, or into a blank one, one of the §2.1 layouts
 * is produced exactly as the fdf does (FV header, store header, empty
 * NV_EVENT_LOG if the build has one, FTW working header with its exact CRC
 * and an empty queue, spare all 0xFF): the 4 MiB build by default, so an
 * empty store gives Debian's OVMF_VARS_4M.fd byte for byte; the 2 MiB
 * build; or ArmVirt (0xC0000 bytes, checksum 0x0928, FTW CRC 0x86C6E75B).
 * A blank template keeps its size: the layout goes at offset 0 and the
 * padding after it is left as it was.  Records are State 0x3F, Reserved 0, MonotonicCount and
 * PubKeyIndex 0, TimeStamp only for AT variables, padded with 0xFF; the
 * free area is 0xFF.  certdb is generated first (attributes 0x27) when a
 * variable has a digest or the template had one.  Variables over edk2's
 * per-variable limit for the layout, or more than the store holds, fail
 * the save.  Volatile variables, and timestamps of non-AT variables, are
 * reported as not stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/ucs2.h>

#include "format/formats_internal.h"

/* §2.2: gEfiSystemNvDataFvGuid fff12b8d-7696-4c8b-a985-2747075b4f50 */
static const uint8_t nvdata_fv_guid[16] = {
	0x8d, 0x2b, 0xf1, 0xff, 0x96, 0x76, 0x8b, 0x4c,
	0xa9, 0x85, 0x27, 0x47, 0x07, 0x5b, 0x4f, 0x50,
};
/* §2.3: gEfiAuthenticatedVariableGuid aaf32c78-947b-439a-a180-2e144ec37792 */
static const uint8_t auth_store_guid[16] = {
	0x78, 0x2c, 0xf3, 0xaa, 0x7b, 0x94, 0x9a, 0x43,
	0xa1, 0x80, 0x2e, 0x14, 0x4e, 0xc3, 0x77, 0x92,
};
/* §2.3: gEfiVariableGuid ddcf3616-3275-4164-98b6-fe85707ffe7d */
static const uint8_t plain_store_guid[16] = {
	0x16, 0x36, 0xcf, 0xdd, 0x75, 0x32, 0x64, 0x41,
	0x98, 0xb6, 0xfe, 0x85, 0x70, 0x7f, 0xfe, 0x7d,
};
/* §2.5: gEdkiiWorkingBlockSignatureGuid 9e58292b-7c68-497d-a0ce-6500fd9f1b95 */
static const uint8_t ftw_working_guid[16] = {
	0x2b, 0x29, 0x58, 0x9e, 0x68, 0x7c, 0x7d, 0x49,
	0xa0, 0xce, 0x65, 0x00, 0xfd, 0x9f, 0x1b, 0x95,
};

/* §2.2 FV header */
#define FV_GUID_OFF         0x10
#define FV_LENGTH_OFF       0x20
#define FV_SIG_OFF          0x28
#define FV_ATTR_OFF         0x2C
#define FV_HDRLEN_OFF       0x30
#define FV_CSUM_OFF         0x32
#define FV_REV_OFF          0x37
#define FV_BLOCKMAP_OFF     0x38
#define FV_MIN_HDR          0x48     /* one block-map entry + terminator */
#define FV_SIGNATURE        0x4856465Fu
#define FV_ATTRIBUTES       0x0004FEFFu
#define FV_REVISION         2
#define FV_SCAN_STEP        1024     /* virt-firmware's scan step, §2.9 */

/* §2.3 store header */
#define STORE_HDR_SIZE      28
#define STORE_FORMATTED     0x5A
#define STORE_HEALTHY       0xFE

/* §2.4 records */
#define AUTH_REC_HDR        60
#define PLAIN_REC_HDR       32
#define REC_START_ID        0x55AA
#define ST_HEADER_VALID     0x7F
#define ST_ADDED            0x3F
#define ST_IN_DELETED       0x3E
#define ST_DELETED          0x3D
#define ST_DELETED_TRANS    0x3C

/* §2.5 FTW */
#define FTW_HDR_SIZE        32
#define FTW_WRITE_HDR_SIZE  40
#define FTW_RECORD_SIZE     40
#define FTW_STATE_VALID     0xFE

/* §2.1 region maps.  The FV covers the whole image; the variable region
 * starts at 0; gaps (event log, write queue, spare) are 0xFF. */
struct fd_geometry {
	const char *name;
	size_t fv_size;
	size_t block;
	size_t var_region;
	size_t ftw_working;
	size_t ftw_size;
};

static const struct fd_geometry geometries[] = {
	[VV_FD_LAYOUT_OVMF_2M] = { "OVMF 2 MiB", 0x20000, 0x1000, 0xE000, 0xF000, 0x1000 },
	[VV_FD_LAYOUT_OVMF_4M] = { "OVMF 4 MiB", 0x84000, 0x1000, 0x40000, 0x41000, 0x1000 },
	[VV_FD_LAYOUT_ARMVIRT] = { "ArmVirt", 0xC0000, 0x40000, 0x40000, 0x40000, 0x40000 },
};

/* A blank flash image is a whole number of these (edk2 flash blocks). */
#define BLANK_UNIT          0x1000u

/* §2.7 edk2 per-variable limits (.dsc): 1M/2M builds vs 4M builds. */
#define SMALL_REGION_MAX    0x10000u
#define SMALL_MAX_VAR       0x2000u
#define SMALL_MAX_AUTH_VAR  0x2800u
#define LARGE_MAX_VAR       0x8400u
#define MAX_HWERR_VAR       0x8000u

#define CERTDB_ATTRIBUTES   (VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT | VV_ATTR_AT)
#define CERTDB_ENTRY_HDR    28       /* guid + three u32, §2.8 */

static const uint16_t certdb_name[] = { 'c', 'e', 'r', 't', 'd', 'b', 0 };
#define CERTDB_NAME_LEN 6

/* Where things are in one image (all offsets are file offsets). */
struct fd_layout {
	size_t fv;
	size_t fv_end;
	size_t store;
	size_t first;       /* first record */
	size_t end;         /* store end */
	size_t rec_hdr;     /* 60 (authenticated) or 32 */
	size_t region_size; /* HeaderLength + store Size: the variable region */
};

static size_t
align4(size_t off)
{
	return (off + 3) & ~(size_t)3;
}

/* Every byte 0x00, or every byte 0xFF, in whole 4 KiB blocks: erased or
 * zero-filled flash that the firmware formats at first boot. */
static bool
is_blank(const uint8_t *data, size_t size)
{
	size_t i;

	if (size == 0 || size % BLANK_UNIT != 0 || (data[0] != 0x00 && data[0] != 0xFF))
		return false;
	for (i = 1; i < size; i++)
		if (data[i] != data[0])
			return false;
	return true;
}

bool
vv_fd_detect(const uint8_t *data, size_t size)
{
	size_t off;

	if (is_blank(data, size))
		return true;

	for (off = 0; size >= FV_MIN_HDR && off <= size - FV_MIN_HDR; off += FV_SCAN_STEP)
		if (memcmp(data + off + FV_GUID_OFF, nvdata_fv_guid, 16) == 0 &&
		    vv_le32(data + off + FV_SIG_OFF) == FV_SIGNATURE)
			return true;
	return false;
}

/* 16-bit word sum of the header (§2.2 checksum). */
static uint16_t
fv_header_sum(const uint8_t *h, size_t len)
{
	uint16_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum = (uint16_t)(sum + vv_le16(h + i));
	return sum;
}

/* Finds the FV: the first 1 KiB step carrying the NvData GUID. */
static int
find_fv(const uint8_t *d, size_t size, const struct vv_fmt_ctx *c, size_t *fv)
{
	size_t off;

	if (size < FV_MIN_HDR)
		return vv_fmt_fail(c, "truncated: %zu bytes, a firmware volume header needs %u",
				   size, FV_MIN_HDR);
	for (off = 0; off <= size - FV_MIN_HDR; off += FV_SCAN_STEP) {
		if (memcmp(d + off + FV_GUID_OFF, nvdata_fv_guid, 16) == 0) {
			*fv = off;
			return 0;
		}
	}
	return vv_fmt_fail(c, "offset 0x10: no firmware volume with the NvData FileSystemGuid "
			   "fff12b8d-7696-4c8b-a985-2747075b4f50 at any 1 KiB step");
}

/* The block map {NumBlocks, Length}... {0, 0} must sum to FvLength, or to
 * the whole flash device (ArmVirt, see the top comment) when that lies
 * within the file: avail is the file size after the FV start. */
static int
check_block_map(const uint8_t *h, size_t hdr_len, uint64_t fv_len, size_t fv, size_t avail,
		const struct vv_fmt_ctx *c)
{
	uint64_t total = 0;
	size_t off;

	for (off = FV_BLOCKMAP_OFF; off + 8 <= hdr_len; off += 8) {
		uint32_t n = vv_le32(h + off), len = vv_le32(h + off + 4);

		if (n == 0 && len == 0)
			break;
		if (vv_add_overflow(total, (uint64_t)n * len, &total))
			return vv_fmt_fail(c, "offset 0x%zx: block map overflows", fv + off);
	}
	if (off + 8 > hdr_len)
		return vv_fmt_fail(c, "offset 0x%zx: block map has no {0, 0} terminator within "
				   "HeaderLength 0x%zx", fv + FV_BLOCKMAP_OFF, hdr_len);
	if (total != fv_len && (total < fv_len || total > avail))
		return vv_fmt_fail(c, "offset 0x%zx: block map covers 0x%llx bytes, FvLength is "
				   "0x%llx (and the file has 0x%zx bytes from the volume)",
				   fv + FV_BLOCKMAP_OFF, (unsigned long long)total,
				   (unsigned long long)fv_len, avail);
	return 0;
}

/* §2.2: validates the FV header at l->fv and sets l->fv_end. */
static int
check_fv_header(const uint8_t *d, size_t size, struct fd_layout *l, size_t *hdr_len,
		const struct vv_fmt_ctx *c)
{
	const uint8_t *h = d + l->fv;
	uint64_t fv_len = vv_le64(h + FV_LENGTH_OFF);
	uint16_t sum;

	if (vv_le32(h + FV_SIG_OFF) != FV_SIGNATURE)
		return vv_fmt_fail(c, "offset 0x%zx: firmware volume signature is not _FVH",
				   l->fv + FV_SIG_OFF);
	if (h[FV_REV_OFF] != FV_REVISION)
		return vv_fmt_fail(c, "offset 0x%zx: firmware volume revision %u, expected 2",
				   l->fv + FV_REV_OFF, h[FV_REV_OFF]);
	*hdr_len = vv_le16(h + FV_HDRLEN_OFF);
	if (*hdr_len < FV_MIN_HDR || (*hdr_len & 1) != 0)
		return vv_fmt_fail(c, "offset 0x%zx: HeaderLength 0x%zx is odd or below 0x48",
				   l->fv + FV_HDRLEN_OFF, *hdr_len);
	if (fv_len == UINT64_MAX || fv_len < *hdr_len || fv_len > size - l->fv)
		return vv_fmt_fail(c, "offset 0x%zx: FvLength 0x%llx does not fit the %zu-byte "
				   "file (truncated?)", l->fv + FV_LENGTH_OFF,
				   (unsigned long long)fv_len, size);
	sum = fv_header_sum(h, *hdr_len);
	if (sum != 0)
		return vv_fmt_fail(c, "offset 0x%zx: firmware volume header checksum 0x%04x is "
				   "wrong (words sum to 0x%04x, not 0)", l->fv + FV_CSUM_OFF,
				   vv_le16(h + FV_CSUM_OFF), sum);
	if (check_block_map(h, *hdr_len, fv_len, l->fv, size - l->fv, c) != 0)
		return -1;
	l->fv_end = l->fv + (size_t)fv_len;
	return 0;
}

/* §2.3: validates the variable store header and fills the record bounds. */
static int
check_store_header(const uint8_t *d, size_t hdr_len, struct fd_layout *l,
		   const struct vv_fmt_ctx *c)
{
	const uint8_t *h;
	uint32_t store_size;

	l->store = l->fv + hdr_len;
	if (l->fv_end - l->store < STORE_HDR_SIZE)
		return vv_fmt_fail(c, "offset 0x%zx: no room for the variable store header",
				   l->store);
	h = d + l->store;
	if (memcmp(h, auth_store_guid, 16) == 0)
		l->rec_hdr = AUTH_REC_HDR;
	else if (memcmp(h, plain_store_guid, 16) == 0)
		l->rec_hdr = PLAIN_REC_HDR;
	else
		return vv_fmt_fail(c, "offset 0x%zx: variable store signature is neither the "
				   "authenticated nor the plain variable GUID", l->store);
	if (h[20] != STORE_FORMATTED || h[21] != STORE_HEALTHY)
		return vv_fmt_fail(c, "offset 0x%zx: store Format/State 0x%02x/0x%02x, expected "
				   "0x5a/0xfe", l->store + 20, h[20], h[21]);
	store_size = vv_le32(h + 16);
	if (store_size < STORE_HDR_SIZE || store_size > l->fv_end - l->store)
		return vv_fmt_fail(c, "offset 0x%zx: store Size 0x%x is below the header or runs "
				   "past the firmware volume (0x%zx bytes after the store)",
				   l->store + 16, store_size, l->fv_end - l->store);
	l->end = l->store + store_size;
	l->first = l->fv + align4(hdr_len + STORE_HDR_SIZE);
	if (l->first > l->end)
		l->first = l->end;
	l->region_size = hdr_len + store_size;
	return 0;
}

/*
 * §2.5: the working block, searched at 4 KiB steps after the variable
 * region inside the FV.  Absent is accepted (python-uefivars omits it and
 * edk2 re-creates it); present must be exact and must not hold a pending
 * write whose data is in the spare area.
 */
static int
check_ftw_queue(const uint8_t *d, size_t q, size_t qend, const struct vv_fmt_ctx *c)
{
	while (qend - q >= FTW_WRITE_HDR_SIZE) {
		uint8_t flags = d[q];
		uint64_t writes = vv_le64(d + q + 24), priv = vv_le64(d + q + 32);
		uint64_t rec_size, total, i;
		size_t r;

		if (flags & 1)          /* HeaderAllocated still erased: queue end */
			break;
		if (vv_add_overflow(FTW_RECORD_SIZE, priv, &rec_size) ||
		    __builtin_mul_overflow(writes, rec_size, &total) ||
		    vv_add_overflow(total, FTW_WRITE_HDR_SIZE, &total) || total > qend - q)
			return vv_fmt_fail(c, "offset 0x%zx: FTW write header (%llu writes, %llu "
					   "bytes private data) runs past the write queue", q,
					   (unsigned long long)writes, (unsigned long long)priv);
		if ((flags & 4) != 0 && (flags & 2) == 0) {
			/* allocated, not Complete: look at each record (§2.5) */
			for (i = 0, r = q + FTW_WRITE_HDR_SIZE; i < writes;
			     i++, r += (size_t)rec_size) {
				bool spare_done = (d[r] & 2) == 0, dest_done = (d[r] & 4) == 0;

				if (spare_done && !dest_done)
					return vv_fmt_fail(c, "offset 0x%zx: FTW write in progress: "
							   "the current store is in the spare area; "
							   "boot the VM once so the firmware finishes "
							   "it", r);
			}
		}
		q += (size_t)total;
	}
	return 0;
}

static int
check_ftw(const uint8_t *d, const struct fd_layout *l, const struct vv_fmt_ctx *c)
{
	size_t w = l->fv + ((l->region_size + 0xFFF) & ~(size_t)0xFFF);
	uint8_t hdr[FTW_HDR_SIZE];
	uint32_t want, got;
	uint64_t queue;

	for (; w < l->fv_end && l->fv_end - w >= FTW_HDR_SIZE; w += 0x1000)
		if (memcmp(d + w, ftw_working_guid, 16) == 0)
			break;
	if (w >= l->fv_end || l->fv_end - w < FTW_HDR_SIZE)
		return 0;
	memcpy(hdr, d + w, sizeof(hdr));
	want = vv_le32(hdr + 16);
	memset(hdr + 16, 0xFF, 5);      /* Crc and the state byte, §2.5 */
	got = vv_fmt_crc32(hdr, sizeof(hdr));
	if (got != want)
		return vv_fmt_fail(c, "offset 0x%zx: FTW working block CRC 0x%08x does not match "
				   "its header (0x%08x)", w + 16, want, got);
	if (d[w + 20] != FTW_STATE_VALID)
		return vv_fmt_fail(c, "offset 0x%zx: FTW working block state 0x%02x is not valid "
				   "(0xfe)", w + 20, d[w + 20]);
	queue = vv_le64(d + w + 24);
	if (queue > l->fv_end - w - FTW_HDR_SIZE)
		return vv_fmt_fail(c, "offset 0x%zx: FTW WriteQueueSize 0x%llx runs past the "
				   "firmware volume", w + 24, (unsigned long long)queue);
	return check_ftw_queue(d, w + FTW_HDR_SIZE, w + FTW_HDR_SIZE + (size_t)queue, c);
}

/* Validates everything up to the records; on success l is filled. */
static int
parse_layout(const uint8_t *d, size_t size, struct fd_layout *l, const struct vv_fmt_ctx *c)
{
	size_t hdr_len = 0;

	memset(l, 0, sizeof(*l));
	if (find_fv(d, size, c, &l->fv) != 0 || check_fv_header(d, size, l, &hdr_len, c) != 0 ||
	    check_store_header(d, hdr_len, l, c) != 0)
		return -1;
	return check_ftw(d, l, c);
}

/* One record header, decoded. */
struct fd_record {
	size_t off;
	uint8_t state;
	uint32_t attributes;
	uint32_t name_size;
	uint32_t data_size;
	const uint8_t *time;     /* NULL for plain records */
	const uint8_t *guid;
	const uint8_t *name;
	const uint8_t *data;
};

static void
decode_record(const uint8_t *d, const struct fd_layout *l, size_t off, struct fd_record *r)
{
	const uint8_t *h = d + off;

	r->off = off;
	r->state = h[2];
	r->attributes = vv_le32(h + 4);
	if (l->rec_hdr == AUTH_REC_HDR) {
		r->time = h + 0x10;
		r->name_size = vv_le32(h + 0x24);
		r->data_size = vv_le32(h + 0x28);
		r->guid = h + 0x2C;
	} else {
		r->time = NULL;
		r->name_size = vv_le32(h + 0x08);
		r->data_size = vv_le32(h + 0x0C);
		r->guid = h + 0x10;
	}
	r->name = h + l->rec_hdr;
	r->data = r->name + r->name_size;
}

static bool
state_is_known(uint8_t st)
{
	return st == ST_HEADER_VALID || st == ST_ADDED || st == ST_IN_DELETED ||
	       st == ST_DELETED || st == ST_DELETED_TRANS;
}

/* Builds a variable from a live record; name is malloc'd into *name_buf. */
static int
record_to_variable(const struct fd_record *r, struct vv_variable *v, uint16_t **name_buf,
		   const struct vv_fmt_ctx *c)
{
	size_t i, len;

	if ((r->name_size & 1) != 0 || r->name_size < 4)
		return vv_fmt_fail(c, "offset 0x%zx: record NameSize %u is odd or too short", r->off,
				   r->name_size);
	len = r->name_size / 2 - 1;
	*name_buf = malloc((len + 1) * sizeof(uint16_t));
	if (*name_buf == NULL)
		return vv_fmt_fail(c, "out of memory");
	for (i = 0; i <= len; i++)
		(*name_buf)[i] = vv_le16(r->name + 2 * i);
	if ((*name_buf)[len] != 0 || vv_ucs2_strnlen(*name_buf, len) != len) {
		free(*name_buf);
		*name_buf = NULL;
		return vv_fmt_fail(c, "offset 0x%zx: record name is not NUL-terminated at NameSize "
				   "%u", r->off, r->name_size);
	}
	memset(v, 0, sizeof(*v));
	memcpy(v->guid.b, r->guid, 16);
	v->attributes = r->attributes;
	v->name = *name_buf;
	v->name_len = len;
	v->data = (uint8_t *)r->data;
	v->data_size = r->data_size;
	/* a zero TimeStamp is "none" (formats §2.4: zero unless AT) */
	if (r->time != NULL && (r->attributes & VV_ATTR_AT) && !vv_fmt_all_zero(r->time, 16)) {
		v->has_time = true;
		memcpy(v->time.b, r->time, 16);
	}
	return 0;
}

/*
 * Adds a live record unless its (GUID, name) is already loaded: pass 1
 * adds 0x3F records in file order (the first wins), pass 2 adds 0x3E
 * records from the last one back (the last wins, and only without a 0x3F).
 */
static int
add_record(const struct fd_record *r, struct vv_store *s, const struct vv_fmt_ctx *c)
{
	struct vv_variable v;
	uint16_t *name = NULL;
	char where[64];
	int rc = 0;

	if (record_to_variable(r, &v, &name, c) != 0)
		return -1;
	if (vv_store_find(s, v.name, v.name_len, &v.guid) == NULL &&
	    vv_store_insert_loaded(s, &v, c->err) != 0) {
		snprintf(where, sizeof(where), "record at offset 0x%zx", r->off);
		rc = vv_fmt_fail_prefix(c, where);
	}
	free(name);
	return rc;
}

/*
 * Walks the records (§2.4, §2.6 step 3).  Collects the offsets of live
 * candidates into *live (malloc'd, *n_live entries).
 */
static int
walk_records(const uint8_t *d, const struct fd_layout *l, size_t **live, size_t *n_live,
	     const struct vv_fmt_ctx *c)
{
	size_t off = l->first, cap = 0;
	struct fd_record r;
	uint64_t rec_end;

	*live = NULL;
	*n_live = 0;
	while (l->end - off >= 2 && vv_le16(d + off) == REC_START_ID) {
		if (l->end - off < l->rec_hdr)
			return vv_fmt_fail(c, "offset 0x%zx: record header runs past the store end "
					   "0x%zx", off, l->end);
		decode_record(d, l, off, &r);
		if (r.state == 0xFF || r.name_size == UINT32_MAX || r.data_size == UINT32_MAX ||
		    r.attributes == UINT32_MAX) {
			off += l->rec_hdr; /* torn header: edk2 sizes read 0 */
			continue;
		}
		if (!state_is_known(r.state))
			return vv_fmt_fail(c, "offset 0x%zx: record State 0x%02x is not a valid state",
					   off + 2, r.state);
		rec_end = (uint64_t)off + l->rec_hdr + r.name_size + r.data_size;
		if (rec_end > l->end)
			return vv_fmt_fail(c, "offset 0x%zx: record (NameSize %u, DataSize %u) runs "
					   "past the store end 0x%zx", off, r.name_size,
					   r.data_size, l->end);
		if (r.state == ST_ADDED || r.state == ST_IN_DELETED) {
			if (*n_live == cap) {
				size_t *grown = realloc(*live, (cap = cap * 2 + 64) * sizeof(*grown));

				if (grown == NULL)
					return vv_fmt_fail(c, "out of memory");
				*live = grown;
			}
			(*live)[(*n_live)++] = off;
		}
		off = (size_t)rec_end;
		off = l->end - off < 3 ? l->end : l->fv + align4(off - l->fv);
	}
	return 0;
}

/* ---- certdb (§2.8) ---- */

struct certdb_entry {
	vv_guid guid;
	uint16_t *name;
	size_t name_len;
	const uint8_t *digest;
	size_t digest_size;
};

static void
certdb_free(struct certdb_entry *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(e[i].name);
	free(e);
}

/*
 * Decodes a certdb body.  Returns the entry count, or -1 if the body is not
 * a well-formed list whose entries all name a variable of s with a digest
 * that fits (then certdb is kept verbatim).
 */
static long
certdb_decode(const struct vv_variable *cdb, const struct vv_store *s, struct certdb_entry **out)
{
	const uint8_t *p = cdb->data;
	size_t size = cdb->data_size, off = 4, n = 0, i;
	struct certdb_entry *e = NULL;

	*out = NULL;
	if (size < 4 || vv_le32(p) != size)
		return -1;
	while (off < size) {
		uint32_t node, name_chars, cert;
		struct certdb_entry *grown;

		if (size - off < CERTDB_ENTRY_HDR)
			goto bad;
		node = vv_le32(p + off + 16);
		name_chars = vv_le32(p + off + 20);
		cert = vv_le32(p + off + 24);
		if (name_chars == 0 || cert == 0 || cert > 64 || node > size - off ||
		    (uint64_t)CERTDB_ENTRY_HDR + 2ull * name_chars + cert != node)
			goto bad;
		grown = realloc(e, (n + 1) * sizeof(*e));
		if (grown == NULL)
			goto bad;
		e = grown;
		memcpy(e[n].guid.b, p + off, 16);
		e[n].name = malloc((size_t)name_chars * 2);
		if (e[n].name == NULL)
			goto bad;
		for (i = 0; i < name_chars; i++)
			e[n].name[i] = vv_le16(p + off + CERTDB_ENTRY_HDR + 2 * i);
		e[n].name_len = name_chars;
		e[n].digest = p + off + CERTDB_ENTRY_HDR + 2 * (size_t)name_chars;
		e[n].digest_size = cert;
		n++;
		if (vv_store_find(s, e[n - 1].name, e[n - 1].name_len, &e[n - 1].guid) == NULL)
			goto bad;
		off += node;
	}
	*out = e;
	return (long)n;
bad:
	certdb_free(e, n);
	return -1;
}

static bool
is_certdb(const struct vv_variable *v)
{
	return vv_guid_equal(&v->guid, &VV_GUID_CERT_DB) &&
	       vv_ucs2_equal(v->name, v->name_len, certdb_name, CERTDB_NAME_LEN);
}

/* Copies raw into s, turning a decodable certdb into digests. */
static int
apply_certdb(const struct vv_store *raw, struct vv_store *s, const struct vv_fmt_ctx *c)
{
	const struct vv_variable *cdb = vv_store_find(raw, certdb_name, CERTDB_NAME_LEN,
						      &VV_GUID_CERT_DB), *v;
	struct certdb_entry *e = NULL;
	long n = cdb != NULL ? certdb_decode(cdb, raw, &e) : -1;
	size_t i;

	if (n < 0)
		cdb = NULL; /* absent or kept verbatim */
	for (v = vv_store_first(raw); v != NULL; v = vv_store_next(v)) {
		struct vv_variable copy = *v;

		if (cdb != NULL && v == cdb)
			continue;
		for (i = 0; cdb != NULL && i < (size_t)n; i++) {
			if (vv_guid_equal(&e[i].guid, &v->guid) &&
			    vv_ucs2_equal(e[i].name, e[i].name_len, v->name, v->name_len)) {
				copy.digest_size = e[i].digest_size;
				memcpy(copy.digest, e[i].digest, e[i].digest_size);
			}
		}
		if (vv_store_insert_loaded(s, &copy, c->err) != 0) {
			certdb_free(e, n > 0 ? (size_t)n : 0);
			return vv_fmt_fail_prefix(c, "applying certdb");
		}
	}
	certdb_free(e, n > 0 ? (size_t)n : 0);
	return 0;
}

/*
 * Loads the live records into raw, certdb as an ordinary variable.
 */
static int
load_raw(const uint8_t *data, size_t size, struct fd_layout *l, const struct vv_fmt_ctx *c,
	 struct vv_store *raw)
{
	struct fd_record r;
	size_t *live = NULL, n_live = 0, i;
	int rc = -1;

	if (parse_layout(data, size, l, c) != 0 || walk_records(data, l, &live, &n_live, c) != 0)
		goto out;
	for (i = 0; i < n_live; i++) {
		decode_record(data, l, live[i], &r);
		if (r.state == ST_ADDED && add_record(&r, raw, c) != 0)
			goto out;
	}
	for (i = n_live; i-- > 0;) {
		decode_record(data, l, live[i], &r);
		if (r.state == ST_IN_DELETED && add_record(&r, raw, c) != 0)
			goto out;
	}
	rc = 0;
out:
	free(live);
	return rc;
}

int
vv_fd_load(const uint8_t *data, size_t size, const struct vv_fmt_ctx *c, struct vv_store *s)
{
	struct fd_layout l;
	struct vv_store *raw;
	int rc;

	if (is_blank(data, size))
		return 0; /* unformatted flash: an empty store */
	raw = vv_store_new(vv_store_limits(s));
	if (raw == NULL)
		return vv_fmt_fail(c, "out of memory");
	rc = load_raw(data, size, &l, c, raw);
	if (rc == 0)
		rc = apply_certdb(raw, s, c);
	vv_store_free(raw);
	return rc;
}

/* ---- writing ---- */

struct fd_writer {
	uint8_t *buf;
	const struct fd_layout *l;
	size_t off;
	uint64_t max_var, max_auth_var;
	struct vv_format_report *r;
	struct vv_error *err;
};

/* §2.1-§2.5: formats b[0, g->fv_size) as the fdf does, with an empty store. */
static void
format_image(uint8_t *b, const struct fd_geometry *g)
{
	uint8_t hdr[FTW_HDR_SIZE], *w;

	memset(b, 0xFF, g->fv_size);
	/* §2.2 FV header: one block-map entry and its terminator */
	memset(b, 0, FV_MIN_HDR);
	memcpy(b + FV_GUID_OFF, nvdata_fv_guid, 16);
	vv_put_le64(b + FV_LENGTH_OFF, g->fv_size);
	vv_put_le32(b + FV_SIG_OFF, FV_SIGNATURE);
	vv_put_le32(b + FV_ATTR_OFF, FV_ATTRIBUTES);
	vv_put_le16(b + FV_HDRLEN_OFF, FV_MIN_HDR);
	b[FV_REV_OFF] = FV_REVISION;
	vv_put_le32(b + FV_BLOCKMAP_OFF, (uint32_t)(g->fv_size / g->block));
	vv_put_le32(b + FV_BLOCKMAP_OFF + 4, (uint32_t)g->block);
	vv_put_le16(b + FV_CSUM_OFF, (uint16_t)(0x10000u - fv_header_sum(b, FV_MIN_HDR)));
	/* §2.3 store header: Size excludes the FV header */
	memcpy(b + FV_MIN_HDR, auth_store_guid, 16);
	vv_put_le32(b + FV_MIN_HDR + 16, (uint32_t)(g->var_region - FV_MIN_HDR));
	b[FV_MIN_HDR + 20] = STORE_FORMATTED;
	b[FV_MIN_HDR + 21] = STORE_HEALTHY;
	memset(b + FV_MIN_HDR + 22, 0, 6);
	/* §2.5 FTW working block header (WriteQueueSize = area - 32), empty
	 * queue; the CRC covers the header with Crc and State as 0xFF */
	w = b + g->ftw_working;
	memcpy(w, ftw_working_guid, 16);
	w[20] = FTW_STATE_VALID;
	vv_put_le64(w + 24, g->ftw_size - FTW_HDR_SIZE);
	memcpy(hdr, w, sizeof(hdr));
	memset(hdr + 16, 0xFF, 5);
	vv_put_le32(w + 16, vv_fmt_crc32(hdr, sizeof(hdr)));
}

/* AUTO for a blank template: the x86 builds by exact size, else ArmVirt
 * (AArch64 pads the vars pflash, §2.1 notes). */
static enum vv_fd_layout
layout_for_blank(size_t size)
{
	if (size == geometries[VV_FD_LAYOUT_OVMF_2M].fv_size)
		return VV_FD_LAYOUT_OVMF_2M;
	if (size == geometries[VV_FD_LAYOUT_OVMF_4M].fv_size)
		return VV_FD_LAYOUT_OVMF_4M;
	if (size >= geometries[VV_FD_LAYOUT_ARMVIRT].fv_size)
		return VV_FD_LAYOUT_ARMVIRT;
	return VV_FD_LAYOUT_AUTO;
}

/*
 * The image to write records into, with its variable area not yet
 * cleared: a copy of a formatted template, a blank template formatted at
 * offset 0 (the rest kept), or a fresh layout.
 */
static uint8_t *
base_image(enum vv_fd_layout layout, const uint8_t *t, size_t t_size, size_t *size,
	   struct vv_error *err)
{
	const struct fd_geometry *g;
	uint8_t *buf;

	if ((unsigned)layout >= sizeof(geometries) / sizeof(geometries[0])) {
		vv_error_set(err, "fd: unknown layout %d", (int)layout);
		return NULL;
	}
	if (t != NULL && !is_blank(t, t_size)) {
		if (layout != VV_FD_LAYOUT_AUTO) {
			vv_error_set(err, "template: a formatted flash image keeps its own "
				     "layout; the %s layout applies only to a blank one",
				     geometries[layout].name);
			return NULL;
		}
		g = NULL;
	} else {
		if (layout == VV_FD_LAYOUT_AUTO)
			layout = t != NULL ? layout_for_blank(t_size) : VV_FD_LAYOUT_OVMF_4M;
		if (layout == VV_FD_LAYOUT_AUTO) {
			vv_error_set(err, "template: a blank flash image of 0x%zx bytes matches no "
				     "layout (0x20000, 0x84000, or at least 0xc0000)", t_size);
			return NULL;
		}
		g = &geometries[layout];
		if (t != NULL && t_size < g->fv_size) {
			vv_error_set(err, "template: the blank flash image (0x%zx bytes) is "
				     "smaller than the %s layout (0x%zx bytes)", t_size, g->name,
				     g->fv_size);
			return NULL;
		}
	}
	*size = t != NULL ? t_size : g->fv_size;
	buf = malloc(*size);
	if (buf == NULL) {
		vv_error_set(err, "fd: out of memory");
		return NULL;
	}
	if (t != NULL)
		memcpy(buf, t, t_size);
	if (g != NULL)
		format_image(buf, g);
	return buf;
}

/* Appends one State 0x3F record (§2.7). */
static int
put_record(struct fd_writer *w, const vv_guid *guid, uint32_t attr, const uint16_t *name,
	   size_t name_len, const uint8_t *data, size_t data_size, const uint8_t *time)
{
	const struct fd_layout *l = w->l;
	uint64_t name_size = ((uint64_t)name_len + 1) * 2, need;
	uint8_t *h;
	size_t i;

	need = l->rec_hdr + name_size + data_size;
	if (need > l->end - w->off)
		return -1;
	h = w->buf + w->off;
	memset(h, 0, l->rec_hdr);
	vv_put_le16(h, REC_START_ID);
	h[2] = ST_ADDED;
	vv_put_le32(h + 4, attr);
	if (l->rec_hdr == AUTH_REC_HDR) {
		if (time != NULL)
			memcpy(h + 0x10, time, 16);
		vv_put_le32(h + 0x24, (uint32_t)name_size);
		vv_put_le32(h + 0x28, (uint32_t)data_size);
		memcpy(h + 0x2C, guid->b, 16);
	} else {
		vv_put_le32(h + 0x08, (uint32_t)name_size);
		vv_put_le32(h + 0x0C, (uint32_t)data_size);
		memcpy(h + 0x10, guid->b, 16);
	}
	h += l->rec_hdr;
	for (i = 0; i < name_len; i++)
		vv_put_le16(h + 2 * i, name[i]);
	vv_put_le16(h + 2 * name_len, 0);
	if (data_size != 0)
		memcpy(h + name_size, data, data_size);
	w->off += (size_t)need;
	/* padding stays 0xFF: the area was filled before */
	w->off = l->end - w->off < 3 ? l->end : l->fv + align4(w->off - l->fv);
	return 0;
}

/* Which variables go into certdb (NV ones with a digest). */
static bool
wants_certdb_entry(const struct vv_variable *v)
{
	return (v->attributes & VV_ATTR_NV) && v->digest_size != 0 && !is_certdb(v);
}

/* §2.8: u32 total, then {guid, node size, name chars, cert size, name, cert}. */
static uint8_t *
build_certdb(const struct vv_store *s, size_t *size)
{
	const struct vv_variable *v;
	size_t total = 4, off = 4, i;
	uint8_t *b;

	for (v = vv_store_first(s); v != NULL; v = vv_store_next(v))
		if (wants_certdb_entry(v))
			total += CERTDB_ENTRY_HDR + 2 * v->name_len + v->digest_size;
	if (total > UINT32_MAX || (b = malloc(total)) == NULL)
		return NULL;
	vv_put_le32(b, (uint32_t)total);
	for (v = vv_store_first(s); v != NULL; v = vv_store_next(v)) {
		size_t node = CERTDB_ENTRY_HDR + 2 * v->name_len + v->digest_size;

		if (!wants_certdb_entry(v))
			continue;
		memcpy(b + off, v->guid.b, 16);
		vv_put_le32(b + off + 16, (uint32_t)node);
		vv_put_le32(b + off + 20, (uint32_t)v->name_len);
		vv_put_le32(b + off + 24, (uint32_t)v->digest_size);
		for (i = 0; i < v->name_len; i++)
			vv_put_le16(b + off + CERTDB_ENTRY_HDR + 2 * i, v->name[i]);
		memcpy(b + off + CERTDB_ENTRY_HDR + 2 * v->name_len, v->digest, v->digest_size);
		off += node;
	}
	*size = total;
	return b;
}

/* The bytes a record of this name and data takes in the store, padding
 * to the next 4-byte boundary included (put_record). */
static uint64_t
record_bytes(const struct fd_writer *w, size_t name_len, size_t data_size)
{
	return (w->l->rec_hdr + ((uint64_t)name_len + 1) * 2 + data_size + 3) & ~(uint64_t)3;
}

/*
 * The refusal when the variables do not fit the flash layout's variable
 * store: how many bytes they need, how many the layout has, how many more
 * (issue #16: "refuses with the number of bytes needed").  What is
 * written so far counts as it is; from the variable that did not fit (or,
 * v NULL, the certdb record of pending bytes) every NV variable still to
 * come counts as the record it would be.
 */
static int
no_room(struct fd_writer *w, const struct vv_variable *v, const struct vv_store *s,
	uint64_t pending)
{
	uint64_t space = w->l->end - w->l->first, need = (w->off - w->l->first) + pending;
	const struct vv_variable *u = v != NULL ? v : vv_store_first(s);
	char name[128];

	for (; u != NULL; u = vv_store_next(u))
		if (u->attributes & VV_ATTR_NV)
			need += record_bytes(w, u->name_len, u->data_size);
	if (v == NULL)
		snprintf(name, sizeof(name), "certdb");
	else
		vv_ucs2_print(v->name, v->name_len, name, sizeof(name));
	return vv_error_set(w->err, "fd: the variables do not fit the flash layout's variable "
			    "store: they need %llu bytes of its %llu bytes of record space, %llu "
			    "more bytes (out of room at %s)", (unsigned long long)need,
			    (unsigned long long)space,
			    (unsigned long long)(need > space ? need - space : 0), name);
}

/* edk2's per-variable limit for this layout (§2.7). */
static int
check_var_limit(struct fd_writer *w, const struct vv_variable *v)
{
	uint64_t size = w->l->rec_hdr + vv_var_name_size(v) + v->data_size;
	uint64_t limit = (v->attributes & VV_ATTR_HR) ? MAX_HWERR_VAR :
			 (v->attributes & VV_ATTR_AT) ? w->max_auth_var : w->max_var;
	char name[128];

	if (size <= limit)
		return 0;
	vv_ucs2_print(v->name, v->name_len, name, sizeof(name));
	return vv_error_set(w->err, "fd: variable %s needs 0x%llx bytes, over the firmware's "
			    "per-variable limit of 0x%llx for this layout", name,
			    (unsigned long long)size, (unsigned long long)limit);
}

static int
put_certdb(struct fd_writer *w, const struct vv_store *s)
{
	uint8_t *body;
	size_t size;
	int rc;

	body = build_certdb(s, &size);
	if (body == NULL)
		return vv_error_set(w->err, "fd: out of memory");
	rc = put_record(w, &VV_GUID_CERT_DB, CERTDB_ATTRIBUTES, certdb_name, CERTDB_NAME_LEN,
			body, size, NULL);
	free(body);
	return rc != 0 ? no_room(w, NULL, s, record_bytes(w, CERTDB_NAME_LEN, size)) : 0;
}

/* Reports what this store cannot hold for v; true if v is written. */
static bool
report_variable(struct fd_writer *w, const struct vv_variable *v, bool certdb_written, int *rc)
{
	if (!(v->attributes & VV_ATTR_NV)) {
		*rc |= vv_fmt_report_var(w->r, v, "volatile variable not stored");
		return false;
	}
	if (v->has_time && !vv_fmt_all_zero(v->time.b, 16) &&
	    (!(v->attributes & VV_ATTR_AT) || w->l->rec_hdr != AUTH_REC_HDR))
		*rc |= vv_fmt_report_var(w->r, v, "timestamp not stored (%s)",
					 w->l->rec_hdr != AUTH_REC_HDR ?
					 "the store has plain record headers" :
					 "not an AT variable");
	if (v->digest_size != 0 && !certdb_written)
		*rc |= vv_fmt_report_var(w->r, v, "signer digest not stored (%s)",
					 w->l->rec_hdr != AUTH_REC_HDR ?
					 "the store has plain record headers" :
					 "the store holds a certdb variable of its own");
	return true;
}

static int
write_variables(struct fd_writer *w, const struct vv_store *s, bool template_certdb)
{
	const struct vv_variable *v;
	bool literal = vv_store_find(s, certdb_name, CERTDB_NAME_LEN, &VV_GUID_CERT_DB) != NULL;
	bool any_digest = false, gen;
	int rep = 0;

	for (v = vv_store_first(s); v != NULL; v = vv_store_next(v))
		any_digest |= wants_certdb_entry(v);
	gen = !literal && w->l->rec_hdr == AUTH_REC_HDR && (any_digest || template_certdb);
	if (gen && put_certdb(w, s) != 0)
		return -1;
	for (v = vv_store_first(s); v != NULL; v = vv_store_next(v)) {
		const uint8_t *time;

		if (!report_variable(w, v, gen, &rep))
			continue;
		if (check_var_limit(w, v) != 0)
			return -1;
		time = (v->has_time && (v->attributes & VV_ATTR_AT)) ? v->time.b : NULL;
		if (put_record(w, &v->guid, v->attributes, v->name, v->name_len, v->data,
			       v->data_size, time) != 0)
			return no_room(w, v, s, 0);
	}
	if (rep != 0)
		return vv_error_set(w->err, "fd: out of memory");
	return 0;
}

/* Parses the template and tells whether it held a live certdb. */
static int
read_template(const uint8_t *t, size_t size, const struct vv_store *s, struct fd_layout *l,
	      bool *had_certdb, struct vv_error *err)
{
	struct vv_fmt_ctx c = { "template", "fd", err };
	struct vv_limits lim = *vv_store_limits(s);
	struct vv_store *tmp;
	int rc;

	/* the template's variables only need to parse, not to fit our quotas */
	lim.nv_storage = lim.volatile_storage = UINT64_MAX / 4;
	lim.max_variable_size = lim.max_auth_variable_size = UINT64_MAX / 4;
	lim.max_volatile_variable_size = lim.max_hwerr_variable_size = UINT64_MAX / 4;
	lim.hwerr_storage = UINT64_MAX / 8;
	tmp = vv_store_new(&lim);
	if (tmp == NULL)
		return vv_error_set(err, "template: out of memory");
	rc = load_raw(t, size, l, &c, tmp);
	*had_certdb = rc == 0 &&
		      vv_store_find(tmp, certdb_name, CERTDB_NAME_LEN, &VV_GUID_CERT_DB) != NULL;
	vv_store_free(tmp);
	return rc;
}

int
vv_fd_save(const struct vv_store *s, enum vv_fd_layout layout, const uint8_t *template_data,
	   size_t template_size, uint8_t **out, size_t *out_size, struct vv_format_report *r,
	   struct vv_error *err)
{
	struct vv_fmt_ctx c = { "(built-in layout)", "fd", err };
	struct fd_writer w = { 0 };
	struct fd_layout l;
	bool template_certdb = false, blank;
	size_t size;
	uint8_t *buf;

	blank = template_data != NULL && is_blank(template_data, template_size);
	if (template_data != NULL && !blank &&
	    read_template(template_data, template_size, s, &l, &template_certdb, err) != 0)
		return -1;
	buf = base_image(layout, template_data, template_size, &size, err);
	if (buf == NULL)
		return -1;
	if ((template_data == NULL || blank) && parse_layout(buf, size, &l, &c) != 0) {
		free(buf);
		return -1;
	}
	memset(buf + l.first, 0xFF, l.end - l.first);
	w.buf = buf;
	w.l = &l;
	w.off = l.first;
	w.r = r;
	w.err = err;
	w.max_var = l.region_size <= SMALL_REGION_MAX ? SMALL_MAX_VAR : LARGE_MAX_VAR;
	w.max_auth_var = l.region_size <= SMALL_REGION_MAX ? SMALL_MAX_AUTH_VAR : LARGE_MAX_VAR;
	if (write_variables(&w, s, template_certdb) != 0) {
		free(buf);
		return -1;
	}
	*out = buf;
	*out_size = size;
	return 0;
}
