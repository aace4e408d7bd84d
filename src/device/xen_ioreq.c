/*
 * src/device/xen_ioreq.c -- the ioreq-server side of varstored's transport
 * (reference peer-services.md §2.2-§2.3; vmvars/xen_ioreq.h has the slot
 * layout).  Each slot is read once (the page is shared with the
 * hypervisor), the access goes to the doorbell device in its Xen
 * configuration -- which copies the 16-page buffer out of guest memory
 * once (XSA-478) -- and the response is published with a release barrier
 * before the state, as the hypervisor expects.
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/xen_ioreq.h>

struct vv_xen_frontend {
	uint8_t *page;
	unsigned nr_vcpus;
	struct vv_extvar_device *dev;
	struct vv_xen_ops ops;
	struct vv_xen_frontend_stats stats;
};

struct vv_xen_frontend *
vv_xen_frontend_new(uint8_t *ioreq_page, unsigned nr_vcpus, struct vv_extvar_device *dev,
		    const struct vv_xen_ops *ops)
{
	struct vv_xen_frontend *f;

	if (ioreq_page == NULL || nr_vcpus == 0 || nr_vcpus > 4096 / VV_XEN_IOREQ_SLOT_SIZE ||
	    dev == NULL || ops == NULL || ops->notify == NULL)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->page = ioreq_page;
	f->nr_vcpus = nr_vcpus;
	f->dev = dev;
	f->ops = *ops;
	return f;
}

void
vv_xen_frontend_free(struct vv_xen_frontend *f)
{
	free(f);
}

const struct vv_xen_frontend_stats *
vv_xen_frontend_stats(const struct vv_xen_frontend *f)
{
	return &f->stats;
}

static uint8_t
slot_state(const uint8_t *slot)
{
	return __atomic_load_n(slot + 30, __ATOMIC_ACQUIRE) & 0x0f;
}

static void
set_state(uint8_t *slot, uint8_t state)
{
	uint8_t b = (uint8_t)((slot[30] & 0xf0) | state);

	__atomic_store_n(slot + 30, b, __ATOMIC_RELEASE);
}

int
vv_xen_frontend_event(struct vv_xen_frontend *f, unsigned vcpu)
{
	uint8_t *slot, req[VV_XEN_IOREQ_SLOT_SIZE], flags;
	uint64_t addr, data;
	uint32_t count, size, port;
	bool is_read, data_is_ptr;

	if (vcpu >= f->nr_vcpus)
		return -1;
	slot = f->page + (size_t)vcpu * VV_XEN_IOREQ_SLOT_SIZE;
	if (slot_state(slot) != VV_XEN_STATE_IOREQ_READY)
		return 0;
	/* One copy of the slot; every field comes from it. */
	memcpy(req, slot, sizeof(req));
	set_state(slot, VV_XEN_STATE_INPROCESS);
	addr = vv_le64(req);
	data = vv_le64(req + 8);
	count = vv_le32(req + 16);
	size = vv_le32(req + 20);
	port = vv_le32(req + 24);
	flags = req[30];
	data_is_ptr = (flags & 0x10) != 0;
	is_read = (flags & 0x20) != 0;
	f->stats.ioreqs++;

	if (req[31] == VV_XEN_IOREQ_TYPE_PIO && !data_is_ptr && count == 1 &&
	    addr == VV_XEN_VARSTORED_PORT && size == 4 && !is_read) {
		f->stats.doorbells++;
		vv_extvar_device_write(f->dev, 0, data & 0xffffffffu, 4);
	} else {
		/* Anything else completes with no effect: reads see all-ones
		 * of their size, as from an unclaimed port. */
		f->stats.ignored++;
		if (is_read && !data_is_ptr)
			vv_put_le64(slot + 8, size >= 8 || size == 0 ? UINT64_MAX
								      : (1ull << (8 * size)) - 1);
	}
	set_state(slot, VV_XEN_STATE_IORESP_READY);
	return f->ops.notify(f->ops.opaque, port) == 0 ? 1 : -1;
}
