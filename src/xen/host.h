/*
 * src/xen/host.h -- the event loop of vmvars-xen (docs/protocols.md
 * "Running on Xen"), written against a table of operations so that the
 * same loop runs on a real Xen host (xen_sys.c: libxenevtchn,
 * libxenforeignmemory) and in tests/test_xen_host.c (a simulated event
 * channel and guest RAM).  It owns the doorbell device (Xen
 * configuration) and the front end (vmvars/xen_ioreq.h); guest memory
 * reaches the device only through map/unmap of guest frames, and the
 * device copies the 16-page buffer out once (XSA-478, reference
 * peer-services.md §2.5).
 */
#ifndef VMVARS_XEN_HOST_H
#define VMVARS_XEN_HOST_H

#include <vmvars/xen_ioreq.h>

#define XEN_HOST_MAX_VCPUS (4096u / VV_XEN_IOREQ_SLOT_SIZE)
/* The largest guest range mapped at once: the 64 KiB buffer, and one more
 * page for a range that does not start on a page boundary. */
#define XEN_HOST_MAX_MAP_PAGES 17u

struct xen_host_ops {
	/* Blocks until a local event channel port is pending: 1 with *port
	 * set, 0 to stop (a signal asked to), -1 on an error. */
	int (*wait)(void *opaque, uint32_t *port);
	/* Re-arms a port after its event was handled (xenevtchn_unmask). */
	int (*unmask)(void *opaque, uint32_t port);
	/* Signals a local port (xenevtchn_notify).  0 or -1. */
	int (*notify)(void *opaque, uint32_t port);
	/* Maps npages guest frames from gfn, readable and writable
	 * (xenforeignmemory_map); NULL if any of them cannot be mapped. */
	void *(*map)(void *opaque, uint64_t gfn, size_t npages);
	void (*unmap)(void *opaque, void *addr, size_t npages);
	void *opaque;
};

struct xen_host_stats {
	uint64_t events;
	uint64_t spurious;         /* a port that is no vCPU's */
	uint64_t map_failures;     /* guest range not mappable or too large */
};

struct xen_host;

/*
 * ioreq_page: the ioreq server's mapped page (nr_vcpus slots);
 * local_port[v]: vCPU v's event channel as bound here (the slot's
 * vp_eport is Xen's end of it); h: where requests go (vmvarsd through
 * vv_client_extvar_handler, or an engine in the tests).  NULL on a bad
 * argument or no memory.
 */
struct xen_host *xen_host_new(const struct xen_host_ops *ops, uint8_t *ioreq_page,
			      unsigned nr_vcpus, const uint32_t *local_port,
			      const struct vv_extvar_handler *h);
void xen_host_free(struct xen_host *x);

/*
 * Serves events until ops->wait returns 0 (returns 0) or something fails
 * (returns -1): a failed wait, unmask or notify -- a vCPU that is never
 * notified stays blocked, so the loop stops rather than go on.
 */
int xen_host_run(struct xen_host *x);

const struct xen_host_stats *xen_host_stats(const struct xen_host *x);
struct vv_extvar_device *xen_host_device(struct xen_host *x);
struct vv_xen_frontend *xen_host_frontend(struct xen_host *x);

#endif
