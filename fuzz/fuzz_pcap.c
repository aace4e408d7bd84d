/*
 * fuzz/fuzz_pcap.c -- libFuzzer target for the reader of MM traffic
 * captures (src/proto/mm_pcap.c: QEMU's pcapfile= format, link type 302)
 * and for what `vmvars pcap replay` does with what it reads: every request
 * of the capture goes, in order, through vv_mm_handle of one fresh service
 * (store, variable policy, Secure Boot), each reset to the store.
 *
 * The input is a whole capture file.  Oracle besides the sanitizers: the
 * reader either hands over records whose payload lies inside the input
 * and whose type is 1-3, a request or reply of at least 24 bytes, or fails
 * with a message starting "byte "; it never calls back after failing.
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/mm.h>
#include <vmvars/policy.h>
#include <vmvars/secureboot.h>
#include <vmvars/store.h>

#include "proto/mm_pcap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t buf[VV_MM_MAX_BUFFER];

struct ctx {
	const uint8_t *data;
	size_t size;
	struct vv_store *store;
	struct vv_mm *mm;
};

static int
one(void *opaque, const struct vv_mm_pcap_packet *p)
{
	struct ctx *c = opaque;

	if (p->payload < c->data || p->payload_len > c->size ||
	    (size_t)(p->payload - c->data) > c->size - p->payload_len ||
	    p->type < VV_MM_PCAP_RESET || p->type > VV_MM_PCAP_REPLY ||
	    (p->type != VV_MM_PCAP_RESET && p->payload_len < 24))
		abort();
	if (p->type == VV_MM_PCAP_RESET) {
		vv_store_signal(c->store, VV_EVENT_RESET);
	} else if (p->type == VV_MM_PCAP_REQUEST && !p->truncated) {
		memset(buf, 0, sizeof(buf));
		memcpy(buf, p->payload, p->payload_len);
		(void)vv_mm_handle(c->mm, buf, sizeof(buf));
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx c = { data, size, vv_store_new(NULL), NULL };
	struct vv_policy *p = c.store != NULL ? vv_policy_new(c.store, NULL) : NULL;
	struct vv_secureboot *sb = c.store != NULL ? vv_secureboot_new(c.store, NULL) : NULL;
	struct vv_error err;
	int r;

	c.mm = p != NULL ? vv_mm_new(c.store, p) : NULL;
	if (c.mm == NULL || sb == NULL)
		abort();
	memset(&err, 0, sizeof(err));
	r = vv_mm_pcap_read(data, size, one, &c, &err);
	if (r == -1 && strncmp(err.msg, "byte ", 5) != 0)
		abort();
	if (r != 0 && r != -1)
		abort();
	vv_mm_free(c.mm);
	vv_secureboot_free(sb);
	vv_policy_free(p);
	vv_store_free(c.store);
	return 0;
}
