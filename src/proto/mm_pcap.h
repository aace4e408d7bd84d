/*
 * src/proto/mm_pcap.h -- MM traffic captures in QEMU's format (QEMU 11's
 * uefi-vars `pcapfile=`, uefi-vars-device-abi §14): a classic pcap file
 * with link type 302, LINKTYPE_EDK2_MM, snap length 64 KiB; each packet is
 * a u32 record type (1 reset, 2 request, 3 reply) followed by the MM
 * buffer as it crossed the device (24 + MessageLength bytes).  Wireshark
 * and QEMU users read vmvars' captures the same way.  Not public API: a
 * VMM turns capture on with vv_mm_set_pcap (vmvars/mm.h).
 *
 * The writer (the endpoint, src/proto/mm.c) appends; the reader (the CLI's
 * decode and replay, fuzz/fuzz_pcap.c) takes hostile files: every length
 * is checked against what remains, and a bad file is an error naming the
 * byte offset and the reason.
 */
#ifndef VMVARS_MM_PCAP_H
#define VMVARS_MM_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmvars/error.h>

#define VV_MM_PCAP_LINKTYPE 302u      /* LINKTYPE_EDK2_MM */
#define VV_MM_PCAP_SNAPLEN  65536u
#define VV_MM_PCAP_FILE_HEADER 24u
#define VV_MM_PCAP_RECORD_HEADER 16u

enum vv_mm_pcap_type {
	VV_MM_PCAP_RESET = 1,
	VV_MM_PCAP_REQUEST = 2,
	VV_MM_PCAP_REPLY = 3,
};

/* Writes the 24-byte file header (little-endian, microsecond stamps) to
 * fd.  0, or -1 with errno. */
int vv_mm_pcap_write_header(int fd);

/* Appends one packet: type, then data[0, len) (nothing for a reset),
 * stamped with the current time.  orig_len (>= len) is how long the
 * buffer really was: more than len marks the record truncated, as pcap
 * does for a packet cut at the snap length (which this also applies).
 * 0, or -1 with errno. */
int vv_mm_pcap_write_record(int fd, enum vv_mm_pcap_type type, const uint8_t *data, size_t len,
			    size_t orig_len);

/* One packet as the reader hands it over: payload points into the file
 * data (after the u32 type); truncated when the capture cut it. */
struct vv_mm_pcap_packet {
	size_t index;               /* 0-based */
	size_t offset;              /* of its record header in the file */
	uint32_t ts_sec, ts_frac;   /* ts_frac: micro- or nanoseconds */
	enum vv_mm_pcap_type type;
	const uint8_t *payload;
	size_t payload_len;
	bool truncated;
};

/* Returns 0 to go on, non-zero to stop (that value is returned). */
typedef int (*vv_mm_pcap_fn)(void *ctx, const struct vv_mm_pcap_packet *p);

/*
 * Reads a whole capture: the file header (either byte order, micro- or
 * nanosecond magic; link type 302 required), then every record, each
 * handed to fn in order.  A request or reply must be at least the 24-byte
 * MM header and, unless truncated, exactly 24 + MessageLength; a reset
 * carries nothing.  Returns 0 (every record read), fn's non-zero value, or
 * -1 with err: "byte N: reason" -- and fn has then seen only the records
 * before the bad one.
 */
int vv_mm_pcap_read(const uint8_t *data, size_t size, vv_mm_pcap_fn fn, void *ctx,
		    struct vv_error *err);

#endif
