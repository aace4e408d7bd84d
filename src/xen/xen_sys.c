/*
 * src/xen/xen_sys.c -- the Xen libraries behind struct xen_host_ops
 * (xen_sys.h).  The calls and their order follow the libraries' own
 * headers (xendevicemodel.h, xenforeignmemory.h, xenevtchn.h,
 * xentoolcore.h, xen/hvm/ioreq.h, xen/memory.h) and reference
 * peer-services.md §2.2: open, create the ioreq server, map its page,
 * claim the ports, enable it, bind each vCPU's channel, restrict.
 *
 * No hypervisor runs where this is built and tested: only the failure to
 * open the libraries is exercised here (tests/test_xen_host_cli.sh); the
 * loop it feeds is tested with simulated operations (test_xen_host).
 */
/* The ioreq server definitions in xen/hvm/hvm_op.h are the tools-only
 * interface, visible with __XEN_TOOLS__ (as xenctrl.h defines it). */
#define __XEN_TOOLS__ 1

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xentoolcore.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/ioreq.h>
#include <xen/memory.h>

#include "xen_sys.h"

struct xen_sys {
	domid_t domid;
	xendevicemodel_handle *dm;
	xenforeignmemory_handle *fm;
	xenevtchn_handle *xce;
	ioservid_t id;
	bool server, enabled;
	xenforeignmemory_resource_handle *res;
	void *ioreq_page;
	unsigned nr_bound;
	uint32_t local_port[XEN_HOST_MAX_VCPUS];
	sigset_t wait_mask;             /* the mask while waiting: stop signals open */
};

static volatile sig_atomic_t stop_requested;

static void
on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

struct xen_sys *
xen_sys_open(uint32_t domid, struct vv_error *err)
{
	struct sigaction sa;
	struct xen_sys *s;
	sigset_t block;

	if (domid == 0 || domid >= DOMID_FIRST_RESERVED) {
		vv_error_set(err, "domain id %u is not a guest domain", domid);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		vv_error_set(err, "out of memory");
		return NULL;
	}
	s->domid = (domid_t)domid;
	s->dm = xendevicemodel_open(NULL, 0);
	if (s->dm == NULL) {
		vv_error_set(err, "cannot open the Xen device model interface: %s "
			     "(is this a Xen dom0 with /dev/xen/privcmd?)", strerror(errno));
		goto fail;
	}
	s->fm = xenforeignmemory_open(NULL, 0);
	if (s->fm == NULL) {
		vv_error_set(err, "cannot open Xen foreign memory: %s", strerror(errno));
		goto fail;
	}
	s->xce = xenevtchn_open(NULL, 0);
	if (s->xce == NULL) {
		vv_error_set(err, "cannot open the Xen event channel device: %s", strerror(errno));
		goto fail;
	}
	/* SIGTERM/SIGINT only interrupt the wait (ppoll), never a request
	 * in progress: the vCPU gets its answer before the loop stops. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &s->wait_mask);
	sigdelset(&s->wait_mask, SIGTERM);
	sigdelset(&s->wait_mask, SIGINT);
	return s;
fail:
	xen_sys_close(s);
	return NULL;
}

int
xen_sys_setup(struct xen_sys *s, unsigned nr_vcpus, struct vv_error *err)
{
	const struct ioreq *slots;

	if (nr_vcpus == 0 || nr_vcpus > XEN_HOST_MAX_VCPUS)
		return vv_error_set(err, "%u vCPUs: 1 to %u are served", nr_vcpus,
				    XEN_HOST_MAX_VCPUS);
	if (xendevicemodel_create_ioreq_server(s->dm, s->domid, HVM_IOREQSRV_BUFIOREQ_OFF,
					       &s->id) != 0)
		return vv_error_set(err, "cannot create an ioreq server for domain %u: %s",
				    s->domid, strerror(errno));
	s->server = true;
	s->res = xenforeignmemory_map_resource(s->fm, s->domid, XENMEM_resource_ioreq_server,
					       s->id, XENMEM_resource_ioreq_server_frame_ioreq(0),
					       1, &s->ioreq_page, PROT_READ | PROT_WRITE, 0);
	if (s->res == NULL)
		return vv_error_set(err, "cannot map the ioreq page of server %u: %s", s->id,
				    strerror(errno));
	if (xendevicemodel_map_io_range_to_ioreq_server(s->dm, s->domid, s->id, 0,
							VV_XEN_VARSTORED_PORT,
							VV_XEN_VARSTORED_PORT +
							VV_XEN_VARSTORED_NPORTS - 1) != 0)
		return vv_error_set(err, "cannot claim I/O ports 0x%x-0x%x: %s",
				    VV_XEN_VARSTORED_PORT,
				    VV_XEN_VARSTORED_PORT + VV_XEN_VARSTORED_NPORTS - 1,
				    strerror(errno));
	/* The slots' vp_eport fields are meaningful once the server is
	 * enabled (xendevicemodel.h). */
	if (xendevicemodel_set_ioreq_server_state(s->dm, s->domid, s->id, 1) != 0)
		return vv_error_set(err, "cannot enable ioreq server %u: %s", s->id,
				    strerror(errno));
	s->enabled = true;
	slots = s->ioreq_page;
	for (unsigned v = 0; v < nr_vcpus; v++) {
		uint32_t remote = __atomic_load_n(&slots[v].vp_eport, __ATOMIC_ACQUIRE);
		xenevtchn_port_or_error_t p = xenevtchn_bind_interdomain(s->xce, s->domid, remote);

		if (p < 0)
			return vv_error_set(err, "cannot bind vCPU %u's event channel %u: %s", v,
					    remote, strerror(errno));
		s->local_port[v] = (uint32_t)p;
		s->nr_bound = v + 1;
	}
	return 0;
}

int
xen_sys_restrict(struct xen_sys *s, struct vv_error *err)
{
	if (xentoolcore_restrict_all(s->domid) != 0)
		return vv_error_set(err, "cannot restrict the Xen handles to domain %u: %s",
				    s->domid, strerror(errno));
	return 0;
}

uint8_t *
xen_sys_ioreq_page(struct xen_sys *s)
{
	return s->ioreq_page;
}

const uint32_t *
xen_sys_local_ports(const struct xen_sys *s)
{
	return s->local_port;
}

static int
sys_wait(void *opaque, uint32_t *port)
{
	struct xen_sys *s = opaque;
	struct pollfd pfd = { .fd = xenevtchn_fd(s->xce), .events = POLLIN };
	xenevtchn_port_or_error_t p;

	for (;;) {
		if (stop_requested)
			return 0;
		if (ppoll(&pfd, 1, NULL, &s->wait_mask) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p = xenevtchn_pending(s->xce);
		if (p < 0) {
			if (errno == EAGAIN)
				continue;
			return -1;
		}
		*port = (uint32_t)p;
		return 1;
	}
}

static int
sys_unmask(void *opaque, uint32_t port)
{
	struct xen_sys *s = opaque;

	return xenevtchn_unmask(s->xce, port) == 0 ? 0 : -1;
}

static int
sys_notify(void *opaque, uint32_t port)
{
	struct xen_sys *s = opaque;

	return xenevtchn_notify(s->xce, port) == 0 ? 0 : -1;
}

static void *
sys_map(void *opaque, uint64_t gfn, size_t npages)
{
	struct xen_sys *s = opaque;
	xen_pfn_t pfns[XEN_HOST_MAX_MAP_PAGES];
	int errs[XEN_HOST_MAX_MAP_PAGES];
	void *p;

	if (npages == 0 || npages > XEN_HOST_MAX_MAP_PAGES || gfn > UINT64_MAX - npages)
		return NULL;
	for (size_t i = 0; i < npages; i++)
		pfns[i] = (xen_pfn_t)(gfn + i);
	p = xenforeignmemory_map(s->fm, s->domid, PROT_READ | PROT_WRITE, npages, pfns, errs);
	if (p == NULL)
		return NULL;
	/* A mapping may succeed with some frames failed (xenforeignmemory.h):
	 * then none of it is used. */
	for (size_t i = 0; i < npages; i++) {
		if (errs[i] != 0) {
			xenforeignmemory_unmap(s->fm, p, npages);
			return NULL;
		}
	}
	return p;
}

static void
sys_unmap(void *opaque, void *addr, size_t npages)
{
	struct xen_sys *s = opaque;

	xenforeignmemory_unmap(s->fm, addr, npages);
}

void
xen_sys_ops(struct xen_sys *s, struct xen_host_ops *ops)
{
	ops->wait = sys_wait;
	ops->unmask = sys_unmask;
	ops->notify = sys_notify;
	ops->map = sys_map;
	ops->unmap = sys_unmap;
	ops->opaque = s;
}

void
xen_sys_close(struct xen_sys *s)
{
	if (s == NULL)
		return;
	for (unsigned v = 0; v < s->nr_bound; v++)
		xenevtchn_unbind(s->xce, s->local_port[v]);
	if (s->enabled)
		xendevicemodel_set_ioreq_server_state(s->dm, s->domid, s->id, 0);
	if (s->res != NULL)
		xenforeignmemory_unmap_resource(s->fm, s->res);
	if (s->server)
		xendevicemodel_destroy_ioreq_server(s->dm, s->domid, s->id);
	if (s->xce != NULL)
		xenevtchn_close(s->xce);
	if (s->fm != NULL)
		xenforeignmemory_close(s->fm);
	if (s->dm != NULL)
		xendevicemodel_close(s->dm);
	free(s);
}
