/*
 * src/proto/mm.c -- the edk2 MM-communicate endpoint: frame checks and
 * dispatch by HeaderGuid (device-abi §4, §6).
 *
 * Every request is parsed from the caller's private copy of the buffer
 * (the device model copies guest memory once), so nothing here can be
 * changed by the guest while it is being parsed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/mm_internal.h"
#include "proto/mm_pcap.h"

/* A VM reset drops the policy DUMP pagination snapshot with the rest of
 * the volatile state. */
static void
on_store_event(void *ctx, struct vv_store *s, enum vv_event ev)
{
	struct vv_mm *mm = ctx;

	(void)s;
	if (ev != VV_EVENT_RESET)
		return;
	if (mm->pcap_fd >= 0 &&
	    vv_mm_pcap_write_record(mm->pcap_fd, VV_MM_PCAP_RESET, NULL, 0, 0) != 0)
		mm->pcap_fd = -1;
	free(mm->dump_cache);
	mm->dump_cache = NULL;
	mm->dump_cache_size = 0;
}

struct vv_mm *
vv_mm_new(struct vv_store *s, struct vv_policy *p)
{
	struct vv_mm *mm = calloc(1, sizeof(*mm));

	if (mm == NULL)
		return NULL;
	mm->store = s;
	mm->policy = p;
	mm->pcap_fd = -1;
	if (vv_store_add_listener(s, on_store_event, mm) != 0) {
		free(mm);
		return NULL;
	}
	return mm;
}

void
vv_mm_free(struct vv_mm *mm)
{
	if (mm == NULL)
		return;
	vv_store_remove_listener(mm->store, on_store_event, mm);
	free(mm->dump_cache);
	free(mm);
}

const struct vv_mm_stats *
vv_mm_stats(const struct vv_mm *mm)
{
	return &mm->stats;
}

/* The event messages of device-abi §5.3: HeaderGuid = event group,
 * MessageLength 1, one zero byte.  Only the GUID matters. */
static bool
handle_event(struct vv_mm *mm, const vv_guid *g)
{
	enum vv_event ev;

	if (vv_guid_equal(g, &VV_GUID_END_OF_DXE))
		ev = VV_EVENT_END_OF_DXE;
	else if (vv_guid_equal(g, &VV_GUID_READY_TO_BOOT))
		ev = VV_EVENT_READY_TO_BOOT;
	else if (vv_guid_equal(g, &VV_GUID_EXIT_BOOT_SERVICES))
		ev = VV_EVENT_EXIT_BOOT_SERVICES;
	else
		return false;
	mm->stats.events++;
	vv_store_signal(mm->store, ev);
	return true;
}

int
vv_mm_set_pcap(struct vv_mm *mm, int fd, struct vv_error *err)
{
	mm->pcap_fd = -1;
	if (fd < 0)
		return 0;
	if (vv_mm_pcap_write_header(fd) != 0)
		return vv_error_set(err, "MM capture: writing the pcap header: %s", strerror(errno));
	mm->pcap_fd = fd;
	return 0;
}

/* One packet of the capture: the buffer's 24 + MessageLength bytes.  A
 * request whose length is not within the buffer (refused with 0x12) is
 * its MM header alone, marked truncated (the buffer was longer); a buffer
 * too small for even the header is not captured. */
static void
capture(struct vv_mm *mm, enum vv_mm_pcap_type type, const uint8_t *buf, size_t buf_size)
{
	size_t cap = buf_size < VV_MM_MAX_BUFFER ? buf_size : VV_MM_MAX_BUFFER;
	size_t n = VV_MM_HEADER_SIZE, orig = cap;
	uint64_t total;

	if (cap < VV_MM_HEADER_SIZE)
		return;
	if (!vv_add_overflow(VV_MM_HEADER_SIZE, vv_le64(buf + 16), &total) && total <= cap)
		n = orig = (size_t)total;
	else if (cap == VV_MM_HEADER_SIZE)
		return;         /* nothing beyond the header to say it was cut */
	if (vv_mm_pcap_write_record(mm->pcap_fd, type, buf, n, orig) != 0)
		mm->pcap_fd = -1;
}

static uint16_t handle(struct vv_mm *mm, uint8_t *buf, size_t buf_size);

uint16_t
vv_mm_handle(struct vv_mm *mm, uint8_t *buf, size_t buf_size)
{
	uint16_t sts;

	if (mm->pcap_fd < 0)
		return handle(mm, buf, buf_size);
	capture(mm, VV_MM_PCAP_REQUEST, buf, buf_size);
	sts = handle(mm, buf, buf_size);
	/* A reply is what the device writes back (vmvars/mm.h). */
	if (mm->pcap_fd >= 0 && (sts == VV_STS_SUCCESS || sts == VV_STS_ERR_NOT_SUPPORTED))
		capture(mm, VV_MM_PCAP_REPLY, buf, buf_size);
	return sts;
}

static uint16_t
handle(struct vv_mm *mm, uint8_t *buf, size_t buf_size)
{
	vv_guid guid;
	uint64_t msg_len, total;
	uint16_t sts;

	/* device-abi §3.2 status 0x12: buffer too small for the header, or
	 * 24 + MessageLength overflows or exceeds the buffer. */
	if (buf_size < VV_MM_HEADER_SIZE) {
		mm->stats.transport_errors++;
		return VV_STS_ERR_BAD_BUFFER_SIZE;
	}
	/* The transport never has more than MAX_BUFFER_SIZE (device-abi §3
	 * BUFFER_SIZE), and the handlers size mm->name_scratch by it: a
	 * caller with a larger buffer gets the 64 KiB view of it, so a
	 * longer message is 0x12 instead of a name_scratch overflow. */
	if (buf_size > VV_MM_MAX_BUFFER)
		buf_size = VV_MM_MAX_BUFFER;
	memcpy(guid.b, buf, sizeof(guid.b));
	msg_len = vv_le64(buf + 16);
	if (vv_add_overflow(VV_MM_HEADER_SIZE, msg_len, &total) || total > buf_size) {
		mm->stats.transport_errors++;
		return VV_STS_ERR_BAD_BUFFER_SIZE;
	}
	mm->stats.requests++;
	if (vv_guid_equal(&guid, &VV_GUID_SMM_VARIABLE))
		sts = vv_mm_variable_handle(mm, buf + VV_MM_HEADER_SIZE, msg_len, buf_size);
	else if (vv_guid_equal(&guid, &VV_GUID_VAR_CHECK_POLICY_MMI))
		sts = vv_mm_policy_handle(mm, buf + VV_MM_HEADER_SIZE, msg_len);
	else if (handle_event(mm, &guid))
		sts = VV_STS_SUCCESS;
	else
		sts = VV_STS_ERR_NOT_SUPPORTED;
	if (sts != VV_STS_SUCCESS)
		mm->stats.transport_errors++;
	return sts;
}
