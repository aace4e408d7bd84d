/*
 * src/proto/mm_internal.h -- what the MM dispatcher (mm.c) shares with the
 * per-protocol handlers (mm_variable.c, mm_policy.c).
 */
#ifndef VMVARS_MM_INTERNAL_H
#define VMVARS_MM_INTERNAL_H

#include <vmvars/mm.h>

struct vv_mm {
	struct vv_store *store;
	struct vv_policy *policy;       /* may be NULL */
	struct vv_mm_stats stats;
	/* Policy DUMP pagination cache (edk2 VarCheckPolicyLib keeps the same:
	 * page 0 snapshots the table, pages 1..n read from the snapshot). */
	uint8_t *dump_cache;
	size_t dump_cache_size;
	/* Scratch for names decoded from the wire into host-order UCS-2, so
	 * that no request allocates (a name fits the 64 KiB buffer). */
	uint16_t name_scratch[VV_MM_MAX_BUFFER / 2];
	/* vv_mm_set_pcap: the capture's descriptor (the caller's), or -1. */
	int pcap_fd;
};

/*
 * Each handler gets the message that follows the 24-byte MM header:
 * msg[0 .. msg_len) where msg_len is MessageLength, already checked to lie
 * inside the private buffer; buf_size is the device buffer size (for
 * GetPayloadSize).  Handlers write their reply into msg, never past
 * msg_len, and return a VV_STS_* transport status.
 */
uint16_t vv_mm_variable_handle(struct vv_mm *mm, uint8_t *msg, uint64_t msg_len, size_t buf_size);
uint16_t vv_mm_policy_handle(struct vv_mm *mm, uint8_t *msg, uint64_t msg_len);

#endif
