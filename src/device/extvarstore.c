/*
 * src/device/extvarstore.c -- the varstored-protocol doorbell register:
 * AWS ExtVarStore (feature word, CRC32 trailer, TRANSFER PIO stream) and
 * Xen's port-0x100 doorbell (reference peer-services.md §2.3, §9.3-§9.4;
 * vmvars/extvarstore.h has the register contract).
 *
 * Guest memory is read once per doorbell, through the VMM's callback, into
 * a private buffer; TRANSFER bytes land in a private stream buffer and are
 * copied once into the same zero-filled request buffer.  The engine only
 * ever parses that private copy (XSA-478).
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/extvarstore.h>

#include "core/crc32.h"

#define BUF VV_XENVAR_BUFFER_SIZE
/* The guest reads the TRANSFER size as a UINT16 (aws/uefi patch 0023). */
#define TRANSFER_MAX_SIZE 0xFFFCu

enum out_state {
	OUT_IDLE,           /* reads return the feature word */
	OUT_SIZE,           /* next read: total size */
	OUT_CRC,            /* next read: CRC32 */
	OUT_WORDS,          /* next reads: payload words, last first */
};

struct engine_ctx {
	struct vv_xenvar *x;
	struct vv_store *s;
};

struct vv_extvar_device {
	struct vv_extvar_handler h;
	struct vv_guest_memory mem;
	struct vv_extvar_config cfg;
	struct vv_extvar_stats stats;
	struct engine_ctx eng;
	/* TRANSFER request stream */
	size_t stream_len;
	bool stream_overflow;
	/* TRANSFER response */
	enum out_state out;
	uint32_t out_size;          /* payload + 4 (CRC); 0 = error */
	uint32_t out_crc;
	size_t out_words_left;      /* words still to read */
	uint8_t stream[BUF];
	uint8_t req[BUF];           /* the one private copy of a request */
	uint8_t payload[BUF + 8];   /* response + trailer, padded to 4 */
};

uint32_t
vv_extvar_crc32(const void *buf, size_t len)
{
	return vv_crc32(0, buf, len);
}

struct vv_extvar_device *
vv_extvar_device_new(const struct vv_extvar_handler *h, const struct vv_guest_memory *mem,
		     const struct vv_extvar_config *cfg)
{
	struct vv_extvar_device *d;

	if (h == NULL || h->handle == NULL || mem == NULL || mem->read == NULL ||
	    mem->write == NULL || cfg == NULL)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->h = *h;
	d->mem = *mem;
	d->cfg = *cfg;
	if (!d->cfg.feature_word)
		d->cfg.features = 0;
	d->cfg.features &= VV_EXTVAR_FEATURE_CRC32 | VV_EXTVAR_FEATURE_TRANSFER;
	return d;
}

static size_t
engine_handle(void *opaque, uint8_t *buf, size_t size)
{
	struct engine_ctx *e = opaque;

	return vv_xenvar_handle(e->x, buf, size);
}

static void
engine_reset(void *opaque)
{
	struct engine_ctx *e = opaque;

	vv_store_signal(e->s, VV_EVENT_RESET);
}

struct vv_extvar_device *
vv_extvar_device_new_engine(struct vv_xenvar *x, struct vv_store *s,
			    const struct vv_guest_memory *mem, const struct vv_extvar_config *cfg)
{
	struct vv_extvar_handler h = { engine_handle, engine_reset, NULL };
	struct vv_extvar_device *d;

	if (x == NULL || s == NULL)
		return NULL;
	d = vv_extvar_device_new(&h, mem, cfg);
	if (d == NULL)
		return NULL;
	d->eng.x = x;
	d->eng.s = s;
	d->h.opaque = &d->eng;
	return d;
}

void
vv_extvar_device_free(struct vv_extvar_device *d)
{
	free(d);
}

const struct vv_extvar_stats *
vv_extvar_device_stats(const struct vv_extvar_device *d)
{
	return &d->stats;
}

static void
stream_clear(struct vv_extvar_device *d)
{
	d->stream_len = 0;
	d->stream_overflow = false;
}

/* Runs the request in d->req; returns the response length (0: none). */
static size_t
run(struct vv_extvar_device *d)
{
	size_t len = d->h.handle(d->h.opaque, d->req, BUF);

	return len <= BUF ? len : 0;
}

/* FEATURE_CRC32: "every command response ... a CRC32 checksum trailing its
 * contents" (aws/uefi interface.h): a UINT32 right after the response. */
static bool
crc_trailer(const struct vv_extvar_device *d)
{
	return (d->cfg.features & VV_EXTVAR_FEATURE_CRC32) != 0;
}

static void
doorbell(struct vv_extvar_device *d, uint64_t page)
{
	uint8_t trailer[4];
	size_t len;

	d->stats.doorbells++;
	d->out = OUT_IDLE;
	stream_clear(d);
	/* 16 pages from page << 12: the address must not wrap. */
	if (page > (UINT64_MAX - BUF) >> 12 ||
	    d->mem.read(d->mem.opaque, page << 12, d->req, BUF) != 0) {
		d->stats.bad_doorbells++;
		return;
	}
	len = run(d);
	if (len == 0)
		return;             /* no response: guest memory untouched */
	if (d->mem.write(d->mem.opaque, page << 12, d->req, len) != 0)
		return;
	if (crc_trailer(d) && len + 4 <= BUF) {
		vv_put_le32(trailer, vv_extvar_crc32(d->req, len));
		(void)d->mem.write(d->mem.opaque, (page << 12) + len, trailer, 4);
	}
}

static void
respond_error(struct vv_extvar_device *d)
{
	d->out = OUT_SIZE;
	d->out_size = 0;
	d->out_crc = 0;
	d->out_words_left = 0;
}

static void
kick(struct vv_extvar_device *d, uint16_t len)
{
	size_t n, padded;

	if (len == VV_EXTVAR_INVALID_LEN) {
		d->stats.resets++;
		stream_clear(d);
		d->out = OUT_IDLE;
		return;
	}
	/* The guest streams two bytes a write and kicks with the count it
	 * sent, so len must round up to exactly what arrived. */
	if (d->stream_overflow || len == 0 || (size_t)len + (len & 1u) != d->stream_len) {
		d->stats.bad_kicks++;
		stream_clear(d);
		respond_error(d);
		return;
	}
	memset(d->req, 0, BUF);
	memcpy(d->req, d->stream, len);
	stream_clear(d);
	d->stats.transfers++;
	n = run(d);
	if (n == 0) {
		respond_error(d);
		return;
	}
	memset(d->payload, 0, sizeof(d->payload));
	memcpy(d->payload, d->req, n);
	if (crc_trailer(d)) {
		vv_put_le32(d->payload + n, vv_extvar_crc32(d->req, n));
		n += 4;
	}
	padded = (n + 3) & ~(size_t)3;
	if (padded + 4 > TRANSFER_MAX_SIZE) {
		/* Cannot be described to the guest; it resets and retries. */
		respond_error(d);
		return;
	}
	d->out = OUT_SIZE;
	d->out_size = (uint32_t)(padded + 4);
	d->out_crc = vv_extvar_crc32(d->payload, padded);
	d->out_words_left = padded / 4;
}

static uint32_t
feature_word(const struct vv_extvar_device *d)
{
	return VV_EXTVAR_MAGIC | d->cfg.features << 8;
}

uint64_t
vv_extvar_device_read(struct vv_extvar_device *d, uint64_t offset, unsigned size)
{
	uint32_t v;

	if (offset != 0 || size != 4 || !d->cfg.feature_word)
		return size >= 8 ? UINT64_MAX : (1ull << (8 * size)) - 1;
	switch (d->out) {
	case OUT_SIZE:
		v = d->out_size;
		d->out = d->out_size != 0 ? OUT_CRC : OUT_IDLE;
		return v;
	case OUT_CRC:
		d->out = d->out_words_left ? OUT_WORDS : OUT_IDLE;
		return d->out_crc;
	case OUT_WORDS:
		d->out_words_left--;
		v = vv_le32(d->payload + 4 * d->out_words_left);
		if (d->out_words_left == 0)
			d->out = OUT_IDLE;
		return v;
	default:
		return feature_word(d);
	}
}

void
vv_extvar_device_write(struct vv_extvar_device *d, uint64_t offset, uint64_t value,
		       unsigned size)
{
	uint16_t magic = (uint16_t)value;

	if (offset != 0)
		return;
	if (size == 8 && d->cfg.feature_word) {
		doorbell(d, value);         /* the ARM MMIO doorbell */
		return;
	}
	if (size != 4)
		return;
	value &= 0xffffffffu;
	if (d->cfg.features & VV_EXTVAR_FEATURE_TRANSFER) {
		if (magic == VV_EXTVAR_STREAM_MAGIC) {
			d->out = OUT_IDLE;
			if (d->stream_len + 2 > BUF) {
				d->stream_overflow = true;
				return;
			}
			d->stream[d->stream_len++] = (uint8_t)(value >> 16);
			d->stream[d->stream_len++] = (uint8_t)(value >> 24);
			return;
		}
		if (magic == VV_EXTVAR_KICK_MAGIC) {
			kick(d, (uint16_t)(value >> 16));
			return;
		}
	}
	doorbell(d, value);
}

void
vv_extvar_device_reset(struct vv_extvar_device *d)
{
	stream_clear(d);
	d->out = OUT_IDLE;
	memset(d->req, 0, BUF);
	memset(d->payload, 0, sizeof(d->payload));
	if (d->h.reset != NULL)
		d->h.reset(d->h.opaque);
}
