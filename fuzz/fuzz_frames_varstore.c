/*
 * fuzz/fuzz_frames_varstore.c -- vmvarsd's VMM frame parser
 * (src/daemon/vmm_conn.c) for a daemon started with --protocol xen or aws
 * (docs/protocol.md "XenVariable and ExtVarStore buffers"): arbitrary
 * bytes on a VMM connection, fed in chunks whose sizes come from the
 * input, against a store with Secure Boot and MOR and the varstored
 * engine.  Input byte 0: bit 7 the dialect (xen/aws), bits 0-6 the chunk
 * size - 1.  Oracles: every queued frame is well-formed (header length
 * matches, a type the daemon sends; a VARSTORE_REPLY is empty or 8..64 KiB);
 * after an ERROR nothing more is processed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmvars/vmvars.h>

#include "../src/daemon/daemon.h"

static struct vm vms[2];

static void
setup_vm(struct vm *vm, enum vm_protocol proto)
{
	struct vv_xenvar_config xc = { 0 };
	struct vv_limits sl;

	xc.dialect = proto == VM_PROTO_XEN ? VV_XENVAR_XEN : VV_XENVAR_AWS;
	vv_xenvar_limits_default(&xc.limits);
	vv_xenvar_store_limits(&xc.limits, &sl);
	vm->protocol = proto;
	vm->store = vv_store_new(&sl);
	vv_store_set_backend(vm->store, vv_null_backend_new());
	vm->policy = vv_policy_new(vm->store, NULL);
	vm->sb = vv_secureboot_new(vm->store, NULL);
	vm->mor = vv_mor_new(vm->store, true);
	vm->mm = vv_mm_new(vm->store, vm->policy);
	vm->xv = vv_xenvar_new(vm->store, &xc);
	vm->mm_buf = calloc(1, VV_MM_MAX_BUFFER);
	if (vm->mm == NULL || vm->xv == NULL || vm->mm_buf == NULL)
		abort();
}

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
		if (type != 2 && type != 6 && type != 7 && type != 14)
			abort();
		if (type == 14 && len != 0 && (len < 8 || len > 65536))
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
	static char dir[] = "/tmp/vv-fuzz-frames-vs-XXXXXX";
	struct vm *vm;
	struct conn *c;
	size_t chunk;

	if (vms[0].store == NULL) {
		/* runtime.state goes to a private directory (vm.c) */
		if (mkdtemp(dir) == NULL || chdir(dir) != 0)
			abort();
		setup_vm(&vms[0], VM_PROTO_XEN);
		setup_vm(&vms[1], VM_PROTO_AWS);
		log_init(LOG_LVL_ERROR);
	}
	if (size == 0)
		return 0;
	vm = &vms[data[0] >> 7];
	chunk = (size_t)(data[0] & 0x7f) + 1;
	data++;
	size--;
	vm_reset(vm);
	c = conn_new(-1, CONN_VMM, 8 + (4 + VV_MM_MAX_BUFFER), 1);
	if (c == NULL)
		return 0;
	while (size > 0 && !c->close_after_flush) {
		size_t n = size < chunk ? size : chunk;

		conn_in_compact(c);
		if (n > c->in_cap - c->in_len)
			n = c->in_cap - c->in_len;
		memcpy(c->in + c->in_len, data, n);
		c->in_len += n;
		data += n;
		size -= n;
		if (vmm_conn_process(vm, c) != 0 && !c->close_after_flush)
			abort();
	}
	check_output(c);
	conn_free(c);
	return 0;
}
