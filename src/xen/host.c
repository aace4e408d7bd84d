/*
 * src/xen/host.c -- the event loop of vmvars-xen over struct xen_host_ops
 * (host.h).  Facts from the Xen public headers (xenevtchn.h: a pending
 * port is masked until unmasked; hvm/ioreq.h: one slot per vCPU) and
 * reference peer-services.md §2.2-§2.3 (the 16-page buffer by frame).
 */
#include <stdlib.h>
#include <string.h>

#include "host.h"

struct xen_host {
	struct xen_host_ops ops;
	unsigned nr_vcpus;
	uint32_t local_port[XEN_HOST_MAX_VCPUS];
	unsigned current;              /* the vCPU being served */
	struct vv_extvar_device *dev;
	struct vv_xen_frontend *fe;
	struct xen_host_stats stats;
};

/*
 * Guest memory for the device: the frames covering [gpa, gpa + len) are
 * mapped for this one copy and unmapped at once, so nothing of the guest
 * stays mapped between requests.
 */
static int
guest_copy(struct xen_host *x, uint64_t gpa, void *buf, size_t len, bool to_guest)
{
	uint64_t off = gpa & 4095u, npages;
	uint8_t *p;

	if (len == 0)
		return 0;
	if (len > XEN_HOST_MAX_MAP_PAGES * 4096u) {
		x->stats.map_failures++;
		return -1;
	}
	npages = (off + len + 4095u) / 4096u;     /* no overflow: both bounded */
	if (npages > XEN_HOST_MAX_MAP_PAGES) {
		x->stats.map_failures++;
		return -1;
	}
	p = x->ops.map(x->ops.opaque, gpa >> 12, (size_t)npages);
	if (p == NULL) {
		x->stats.map_failures++;
		return -1;
	}
	if (to_guest)
		memcpy(p + off, buf, len);
	else
		memcpy(buf, p + off, len);
	x->ops.unmap(x->ops.opaque, p, (size_t)npages);
	return 0;
}

static int
mem_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	return guest_copy(opaque, gpa, buf, len, false);
}

static int
mem_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	return guest_copy(opaque, gpa, (void *)buf, len, true);
}

/*
 * The front end passes the slot's vp_eport, which is Xen's end of the
 * channel; the port to signal is ours, bound for the vCPU being served.
 */
static int
fe_notify(void *opaque, uint32_t remote_port)
{
	struct xen_host *x = opaque;

	(void)remote_port;
	return x->ops.notify(x->ops.opaque, x->local_port[x->current]);
}

struct xen_host *
xen_host_new(const struct xen_host_ops *ops, uint8_t *ioreq_page, unsigned nr_vcpus,
	     const uint32_t *local_port, const struct vv_extvar_handler *h)
{
	struct vv_extvar_config cfg = { false, 0 };     /* Xen: no feature word */
	struct vv_guest_memory mem;
	struct vv_xen_ops fops;
	struct xen_host *x;

	if (ops == NULL || ops->wait == NULL || ops->unmask == NULL || ops->notify == NULL ||
	    ops->map == NULL || ops->unmap == NULL || ioreq_page == NULL || nr_vcpus == 0 ||
	    nr_vcpus > XEN_HOST_MAX_VCPUS || local_port == NULL || h == NULL)
		return NULL;
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NULL;
	x->ops = *ops;
	x->nr_vcpus = nr_vcpus;
	memcpy(x->local_port, local_port, nr_vcpus * sizeof(*local_port));
	mem.read = mem_read;
	mem.write = mem_write;
	mem.opaque = x;
	fops.notify = fe_notify;
	fops.opaque = x;
	x->dev = vv_extvar_device_new(h, &mem, &cfg);
	if (x->dev != NULL)
		x->fe = vv_xen_frontend_new(ioreq_page, nr_vcpus, x->dev, &fops);
	if (x->fe == NULL) {
		xen_host_free(x);
		return NULL;
	}
	return x;
}

void
xen_host_free(struct xen_host *x)
{
	if (x == NULL)
		return;
	vv_xen_frontend_free(x->fe);
	vv_extvar_device_free(x->dev);
	free(x);
}

int
xen_host_run(struct xen_host *x)
{
	uint32_t port;
	unsigned v;
	int r;

	for (;;) {
		r = x->ops.wait(x->ops.opaque, &port);
		if (r <= 0)
			return r;
		x->stats.events++;
		for (v = 0; v < x->nr_vcpus && x->local_port[v] != port; v++)
			;
		if (v == x->nr_vcpus) {
			x->stats.spurious++;
		} else {
			x->current = v;
			if (vv_xen_frontend_event(x->fe, v) < 0)
				return -1;
		}
		/* Unmasked after the work, as xenevtchn.h advises: an event
		 * raised meanwhile is queued and delivered then. */
		if (x->ops.unmask(x->ops.opaque, port) != 0)
			return -1;
	}
}

const struct xen_host_stats *
xen_host_stats(const struct xen_host *x)
{
	return &x->stats;
}

struct vv_extvar_device *
xen_host_device(struct xen_host *x)
{
	return x->dev;
}

struct vv_xen_frontend *
xen_host_frontend(struct xen_host *x)
{
	return x->fe;
}
