/*
 * tests/xen_guest.h -- a simulated Xen HVM guest for the front end
 * (vmvars/xen_ioreq.h): guest RAM (tests/extvar_guest.h), a shared ioreq
 * page with one slot per vCPU, and an event channel that records what
 * the front end notifies.  A vCPU's `outl` to a port fills its slot as
 * Xen does (IOREQ_READY), raises the event, and the front end's answer
 * (IORESP_READY) is consumed back to NONE.  Used as an xv_guest transport.
 */
#ifndef VMVARS_TEST_XEN_GUEST_H
#define VMVARS_TEST_XEN_GUEST_H

#include <vmvars/xen_ioreq.h>

#include "extvar_guest.h"

#define XG_VCPUS 4u

struct xen_vm {
	struct ev_vm ram;                 /* guest memory + the doorbell device */
	uint8_t ioreq_page[4096];
	struct vv_xen_frontend *fe;
	unsigned vcpu;                    /* which vCPU does the next access */
	unsigned notifies;
	uint32_t last_port;
};

static inline int
xg_notify(void *opaque, uint32_t port)
{
	struct xen_vm *x = opaque;

	x->notifies++;
	x->last_port = port;
	return 0;
}

/* One PIO access by the current vCPU; returns the data of a read. */
static inline uint64_t
xg_pio(struct xen_vm *x, uint16_t port, uint32_t size, bool read, uint64_t value)
{
	uint8_t *slot = x->ioreq_page + x->vcpu * VV_XEN_IOREQ_SLOT_SIZE;
	uint64_t data;

	memset(slot, 0, VV_XEN_IOREQ_SLOT_SIZE);
	vv_put_le64(slot, port);
	vv_put_le64(slot + 8, read ? 0 : value);
	vv_put_le32(slot + 16, 1);
	vv_put_le32(slot + 20, size);
	vv_put_le32(slot + 24, 40 + x->vcpu);          /* vp_eport */
	slot[30] = (uint8_t)(VV_XEN_STATE_IOREQ_READY | (read ? 0x20 : 0));
	slot[31] = VV_XEN_IOREQ_TYPE_PIO;
	CHECK_EQ(vv_xen_frontend_event(x->fe, x->vcpu), 1);
	CHECK_EQ(slot[30] & 0x0f, VV_XEN_STATE_IORESP_READY);
	CHECK_EQ(x->last_port, 40 + x->vcpu);
	data = vv_le64(slot + 8);
	slot[30] = VV_XEN_STATE_NONE;
	return data;
}

/* XenVariable transport: the request in the 16 pages at EV_BUF_GPA and
 * `outl(page, 0x100)`; the buffer read back (0 if nothing changed). */
static inline size_t
xg_call(void *ctx, uint8_t *buf, size_t size, size_t req_len)
{
	struct xen_vm *x = ctx;
	size_t n = size < XV_BUF ? size : XV_BUF;

	(void)req_len;
	memcpy(x->ram.ram + EV_BUF_GPA, buf, n);
	xg_pio(x, VV_XEN_VARSTORED_PORT, 4, false, EV_BUF_GPA >> 12);
	if (memcmp(x->ram.ram + EV_BUF_GPA, buf, n) == 0)
		return 0;
	memcpy(buf, x->ram.ram + EV_BUF_GPA, n);
	return n;
}

/* The whole stack on a store: engine (Xen dialect), doorbell device in
 * its Xen configuration, front end on the simulated ioreq page. */
static inline int
xen_vm_start(struct xen_vm *x, struct vv_xenvar *xv, struct vv_store *s)
{
	struct vv_extvar_config dc = { false, 0 };
	struct vv_xen_ops ops = { xg_notify, NULL };
	struct vv_guest_memory mem;

	memset(x, 0, sizeof(*x));
	ev_vm_init(&x->ram);
	if (x->ram.ram == NULL)
		return -1;
	mem = ev_memory(&x->ram);
	x->ram.dev = vv_extvar_device_new_engine(xv, s, &mem, &dc);
	ops.opaque = x;
	x->fe = vv_xen_frontend_new(x->ioreq_page, XG_VCPUS, x->ram.dev, &ops);
	return x->ram.dev != NULL && x->fe != NULL ? 0 : -1;
}

static inline void
xen_vm_stop(struct xen_vm *x)
{
	vv_xen_frontend_free(x->fe);
	vv_extvar_device_free(x->ram.dev);
	free(x->ram.ram);
	memset(x, 0, sizeof(*x));
}

#endif
