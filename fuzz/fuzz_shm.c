/*
 * fuzz/fuzz_shm.c -- the MM request vmvarsd takes from a VMM's shared area
 * (src/daemon/vmm_conn.c vmm_conn_serve_shm, src/daemon/vmm_shm.c;
 * docs/protocol.md "Shared-memory transport"): the input is the two
 * control words (buffer_size, req_len) and the communicate buffer, against
 * a real store with policy, Secure Boot and MOR.  Oracles: no crash or
 * sanitizer report; a refused request queues exactly one ERROR frame and
 * publishes no reply; an answered one publishes rep_seq, a known status
 * and a reply length of 0 or req_len; nothing past the reply in the area
 * is written.  Seeds: fuzz/corpus/fuzz_shm/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmvars/vmvars.h>
#include <vmvars/vmm_protocol.h>

#include "fuzz_vm.h"

static struct vm vm;
static uint8_t *area;

static void
setup_vm(void)
{
	static char dir[] = "/tmp/vv-fuzz-shm-XXXXXX";

	fuzz_mm_vm_setup(&vm, dir);
	area = aligned_alloc(4096, VV_VMM_SHM_AREA_SIZE);
	if (area == NULL)
		abort();
}

static uint32_t
word(unsigned off)
{
	uint32_t v;

	memcpy(&v, area + off, 4);
	return v;
}

static void
put_word(unsigned off, uint32_t v)
{
	memcpy(area + off, &v, 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmm_shm shm = { 0 };
	struct conn *c;
	uint32_t buffer_size, len, status, rep_len;
	size_t n;
	int rc;

	if (vm.store == NULL)
		setup_vm();
	if (size < 8)
		return 0;
	vm_reset(&vm);
	memcpy(&buffer_size, data, 4);
	memcpy(&len, data + 4, 4);
	data += 8;
	size -= 8;
	memset(area, 0, VV_VMM_SHM_BUF);
	memset(area + VV_VMM_SHM_BUF, 0xcd, VV_MM_MAX_BUFFER);
	n = size < VV_MM_MAX_BUFFER ? size : VV_MM_MAX_BUFFER;
	memcpy(area + VV_VMM_SHM_BUF, data, n);
	put_word(VV_VMM_SHM_REQ_SEQ, 1);
	put_word(VV_VMM_SHM_BUFFER_SIZE, buffer_size);
	put_word(VV_VMM_SHM_REQ_LEN, len);
	shm.area = area;
	shm.req_fd = shm.rep_fd = -1;
	c = conn_new(-1, CONN_VMM, 8 + (4 + VV_MM_MAX_BUFFER), 1);
	if (c == NULL)
		return 0;
	c->handshaken = c->shm_granted = true;
	c->shm = &shm;
	rc = vmm_conn_serve_shm(&vm, c);
	status = word(VV_VMM_SHM_STATUS);
	rep_len = word(VV_VMM_SHM_REP_LEN);
	if (rc < 0) {
		/* refused: one ERROR frame, no reply */
		if (!c->close_after_flush || c->out_len < 12 || vv_le32(c->out) != VV_VMM_MSG_ERROR ||
		    c->out_len != 8 + (size_t)vv_le32(c->out + 4) || word(VV_VMM_SHM_REP_SEQ) != 0)
			abort();
	} else {
		if (rc != 1 || word(VV_VMM_SHM_REP_SEQ) != 1 || word(VV_VMM_SHM_TAKEN_SEQ) != 1 ||
		    c->out_len != 0)
			abort();
		if (status > 0xffff || (rep_len != 0 && rep_len != len))
			abort();
		if ((status == VV_STS_SUCCESS || status == VV_STS_ERR_NOT_SUPPORTED) != (rep_len != 0))
			abort();
		/* nothing written past the reply (bytes past the input stay) */
		for (size_t i = rep_len > n ? rep_len : n; i < VV_MM_MAX_BUFFER; i++)
			if (area[VV_VMM_SHM_BUF + i] != 0xcd)
				abort();
	}
	c->shm = NULL;
	conn_free(c);
	return 0;
}
