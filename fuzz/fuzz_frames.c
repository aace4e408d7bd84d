/*
 * fuzz/fuzz_frames.c -- the VMM frame parser of vmvarsd
 * (src/daemon/vmm_conn.c, docs/protocol.md): arbitrary bytes arrive on a
 * VMM connection, fed in chunks whose sizes come from the input, against a
 * real store with policy, Secure Boot and MOR.  Oracles: no crash or
 * sanitizer report; every frame the daemon queues is well-formed (header
 * length matches the bytes, known type); after an ERROR nothing more is
 * processed.  Seeds: fuzz/corpus/fuzz_frames/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmvars/vmvars.h>

#include "fuzz_vm.h"

static struct vm vm;

static void
setup_vm(void)
{
	static char dir[] = "/tmp/vv-fuzz-frames-XXXXXX";

	fuzz_mm_vm_setup(&vm, dir);
}

/* Every queued frame: header length equals what follows, type is one the
 * daemon sends. */
static void
check_output(const struct conn *c)
{
	size_t off = 0;

	while (off < c->out_len) {
		uint32_t type, len;

		if (c->out_len - off < 8)
			abort();
		type = vv_le32(c->out + off);
		len = vv_le32(c->out + off + 4);
		if (type != 2 && type != 4 && type != 6 && type != 7 && type != 9)
			abort();
		if (c->out_len - off - 8 < len)
			abort();
		off += 8 + (size_t)len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conn *c;
	size_t chunk;

	if (vm.store == NULL)
		setup_vm();
	vm_reset(&vm);
	c = conn_new(-1, CONN_VMM, 8 + (4 + VV_MM_MAX_BUFFER), 1);
	if (c == NULL)
		return 0;
	/* First byte: chunk size (1..256), so frames split at odd places. */
	chunk = size > 0 ? (size_t)data[0] + 1 : 1;
	if (size > 0) {
		data++;
		size--;
	}
	while (size > 0 && !c->close_after_flush) {
		size_t n = size < chunk ? size : chunk;

		conn_in_compact(c);             /* as server.c read_conn does */
		if (n > c->in_cap - c->in_len)
			n = c->in_cap - c->in_len;
		memcpy(c->in + c->in_len, data, n);
		c->in_len += n;
		data += n;
		size -= n;
		if (vmm_conn_process(&vm, c) != 0 && !c->close_after_flush)
			abort();
	}
	check_output(c);
	conn_free(c);
	return 0;
}
