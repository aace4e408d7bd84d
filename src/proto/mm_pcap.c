/*
 * src/proto/mm_pcap.c -- MM traffic captures, QEMU's pcap format
 * (mm_pcap.h; uefi-vars-device-abi §14).  The file is the classic pcap
 * layout: a 24-byte header (magic, version 2.4, zone, sigfigs, snap length,
 * link type) and per packet a 16-byte record header (seconds, fraction,
 * captured length, original length) followed by the captured bytes.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/cursor.h"
#include "proto/mm_pcap.h"

#define MAGIC_USEC 0xa1b2c3d4u
#define MAGIC_NSEC 0xa1b23c4du
#define MM_HEADER 24u   /* HeaderGuid + MessageLength */

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Writes the iovecs whole, resuming after a short write. */
static int
writev_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int
vv_mm_pcap_write_header(int fd)
{
	uint8_t h[VV_MM_PCAP_FILE_HEADER];

	put_le32(h, MAGIC_USEC);
	h[4] = 2; h[5] = 0;             /* version 2.4 */
	h[6] = 4; h[7] = 0;
	put_le32(h + 8, 0);             /* thiszone */
	put_le32(h + 12, 0);            /* sigfigs */
	put_le32(h + 16, VV_MM_PCAP_SNAPLEN);
	put_le32(h + 20, VV_MM_PCAP_LINKTYPE);
	{
		struct iovec iov = { h, sizeof(h) };

		return writev_all(fd, &iov, 1);
	}
}

int
vv_mm_pcap_write_record(int fd, enum vv_mm_pcap_type type, const uint8_t *data, size_t len,
			size_t orig_len)
{
	size_t orig = 4 + (orig_len > len ? orig_len : len);
	size_t incl = 4 + len < VV_MM_PCAP_SNAPLEN ? 4 + len : VV_MM_PCAP_SNAPLEN;
	uint8_t head[VV_MM_PCAP_RECORD_HEADER + 4];
	struct iovec iov[2];
	struct timespec ts;

	if (len > VV_MM_PCAP_SNAPLEN || orig_len > VV_MM_PCAP_SNAPLEN) {
		errno = EMSGSIZE;
		return -1;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	put_le32(head, (uint32_t)ts.tv_sec);
	put_le32(head + 4, (uint32_t)(ts.tv_nsec / 1000));
	put_le32(head + 8, (uint32_t)incl);
	put_le32(head + 12, (uint32_t)orig);
	put_le32(head + 16, (uint32_t)type);
	iov[0] = (struct iovec){ head, sizeof(head) };
	iov[1] = (struct iovec){ (void *)data, incl - 4 };
	return writev_all(fd, iov, incl > 4 ? 2 : 1);
}

static uint32_t
swap32(uint32_t v)
{
	return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}

static uint32_t
u32(struct vv_cursor *c, bool swap)
{
	uint32_t v = vv_cursor_u32(c);

	return swap ? swap32(v) : v;
}

static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int
vv_mm_pcap_read(const uint8_t *data, size_t size, vv_mm_pcap_fn fn, void *ctx,
		struct vv_error *err)
{
	struct vv_cursor c = vv_cursor_make(data, size);
	uint32_t magic, snaplen, link;
	bool swap;
	size_t index = 0;

	magic = vv_cursor_u32(&c);
	if (c.bad)
		return vv_error_set(err, "byte 0: too short for a pcap file header (%zu bytes)",
				    size);
	if (magic == MAGIC_USEC || magic == MAGIC_NSEC)
		swap = false;
	else if (swap32(magic) == MAGIC_USEC || swap32(magic) == MAGIC_NSEC)
		swap = true;
	else
		return vv_error_set(err, "byte 0: not a pcap file (magic 0x%08x)", magic);
	(void)vv_cursor_take(&c, 12);   /* version, thiszone, sigfigs */
	snaplen = u32(&c, swap);
	link = u32(&c, swap);
	if (c.bad)
		return vv_error_set(err, "byte 0: too short for a pcap file header (%zu bytes)",
				    size);
	if (link != VV_MM_PCAP_LINKTYPE)
		return vv_error_set(err, "byte 20: link type %u, not %u (LINKTYPE_EDK2_MM: edk2 MM "
				    "traffic as QEMU's uefi-vars pcapfile= writes it)", link,
				    VV_MM_PCAP_LINKTYPE);
	while (c.left > 0) {
		struct vv_mm_pcap_packet p = { .index = index, .offset = vv_cursor_offset(&c) };
		uint32_t incl, orig, type;
		const uint8_t *body;
		int r;

		p.ts_sec = u32(&c, swap);
		p.ts_frac = u32(&c, swap);
		incl = u32(&c, swap);
		orig = u32(&c, swap);
		if (c.bad)
			return vv_error_set(err, "byte %zu: record %zu: header cut short (%zu bytes "
					    "left)", p.offset, index, size - p.offset);
		if (incl > snaplen || incl > VV_MM_PCAP_SNAPLEN + 4)
			return vv_error_set(err, "byte %zu: record %zu: %u captured bytes, more than "
					    "the snap length %u", p.offset, index, incl,
					    snaplen < VV_MM_PCAP_SNAPLEN + 4 ? snaplen
									     : VV_MM_PCAP_SNAPLEN + 4);
		if (orig < incl)
			return vv_error_set(err, "byte %zu: record %zu: original length %u below the "
					    "captured %u", p.offset, index, orig, incl);
		if (incl < 4)
			return vv_error_set(err, "byte %zu: record %zu: %u bytes, no room for the "
					    "record type", p.offset, index, incl);
		body = vv_cursor_take(&c, incl);
		if (body == NULL)
			return vv_error_set(err, "byte %zu: record %zu: %u captured bytes, only %zu "
					    "in the file", p.offset, index, incl,
					    size - p.offset - VV_MM_PCAP_RECORD_HEADER);
		/* The type is in the capturing host's order, like the header:
		 * a swapped file has a swapped type. */
		type = (uint32_t)body[0] | (uint32_t)body[1] << 8 | (uint32_t)body[2] << 16 |
		       (uint32_t)body[3] << 24;
		if (swap)
			type = swap32(type);
		p.payload = body + 4;
		p.payload_len = incl - 4;
		p.truncated = orig > incl;
		if (type < VV_MM_PCAP_RESET || type > VV_MM_PCAP_REPLY)
			return vv_error_set(err, "byte %zu: record %zu: record type %u (1 reset, 2 "
					    "request, 3 reply)", p.offset, index, type);
		p.type = (enum vv_mm_pcap_type)type;
		if (p.type == VV_MM_PCAP_RESET && p.payload_len != 0)
			return vv_error_set(err, "byte %zu: record %zu: a reset with %zu bytes of "
					    "data", p.offset, index, p.payload_len);
		if (p.type != VV_MM_PCAP_RESET) {
			uint64_t msg;

			if (p.payload_len < MM_HEADER)
				return vv_error_set(err, "byte %zu: record %zu: %zu bytes, shorter than "
						    "the 24-byte MM header", p.offset, index,
						    p.payload_len);
			msg = le64(p.payload + 16);
			if (!p.truncated && msg != p.payload_len - MM_HEADER)
				return vv_error_set(err, "byte %zu: record %zu: MessageLength %llu, but "
						    "%zu bytes follow the MM header", p.offset, index,
						    (unsigned long long)msg,
						    p.payload_len - MM_HEADER);
		}
		if ((r = fn(ctx, &p)) != 0)
			return r;
		index++;
	}
	return 0;
}
