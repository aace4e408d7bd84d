/*
 * vmvars/xen_ioreq.h -- the Xen front end of the XenVariable protocol: the
 * ioreq-server side of varstored's transport (reference peer-services.md
 * §2.2-§2.3), as a layer between Xen's shared ioreq page and the doorbell
 * device (vmvars/extvarstore.h, Xen configuration).
 *
 * What Xen provides -- the ioreq server, its mapped ioreq page, one event
 * channel per vCPU, foreign mappings of guest pages -- stays behind struct
 * vv_xen_ops, so the layer runs (and is tested) without a hypervisor: the
 * tests drive it with a simulated ioreq page and event channel.  On a Xen
 * host, vmvars-xen (src/xen/) fills the ops from Debian's
 * libxendevicemodel / libxenforeignmemory / libxenevtchn
 * (docs/protocols.md "Running on Xen").
 *
 * The ioreq page holds one 32-byte ioreq slot per vCPU (Xen public ABI,
 * hvm/ioreq.h), little-endian:
 *    0  u64 addr         port number for PIO
 *    8  u64 data         value written, or the value read back
 *   16  u32 count        repetitions (rep ins/outs)
 *   20  u32 size         access size in bytes
 *   24  u32 vp_eport     the vCPU's event channel port
 *   28  u16 pad
 *   30  u8  state:4, data_is_ptr:1, dir:1 (1 = read), df:1, pad:1
 *   31  u8  type         0 = PIO
 * States: 0 NONE, 1 IOREQ_READY, 2 INPROCESS, 3 IORESP_READY.
 *
 * Ports 0x100-0x10B are the server's (num_io_port 3): a 32-bit write to
 * 0x100 is the doorbell (the page number of the 16-page buffer); every
 * other access completes with no effect (reads all-ones): the TPM PPI
 * ports 0x104/0x108 are not implemented.
 */
#ifndef VMVARS_XEN_IOREQ_H
#define VMVARS_XEN_IOREQ_H

#include <vmvars/extvarstore.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VV_XEN_IOREQ_SLOT_SIZE   32u
#define VV_XEN_VARSTORED_PORT    0x100u
#define VV_XEN_VARSTORED_NPORTS  12u        /* 0x100-0x10B */

#define VV_XEN_STATE_NONE         0u
#define VV_XEN_STATE_IOREQ_READY  1u
#define VV_XEN_STATE_INPROCESS    2u
#define VV_XEN_STATE_IORESP_READY 3u
#define VV_XEN_IOREQ_TYPE_PIO     0u

/* What the hypervisor side provides. */
struct vv_xen_ops {
	/* Signals the vCPU's event channel after its response is ready
	 * (xenevtchn_notify).  Returns 0 or -1. */
	int (*notify)(void *opaque, uint32_t port);
	void *opaque;
};

struct vv_xen_frontend;

/* ioreq_page: the mapped page with nr_vcpus slots (nr_vcpus * 32 <= 4096);
 * dev: a doorbell device in the Xen configuration (feature_word false),
 * owned by the caller.  NULL on a bad argument. */
struct vv_xen_frontend *vv_xen_frontend_new(uint8_t *ioreq_page, unsigned nr_vcpus,
					    struct vv_extvar_device *dev,
					    const struct vv_xen_ops *ops);
void vv_xen_frontend_free(struct vv_xen_frontend *f);

/*
 * An event arrived for vcpu (its port was pending): if its slot is
 * IOREQ_READY, the request is taken (INPROCESS), handled synchronously,
 * answered (data for reads, then IORESP_READY after a release barrier)
 * and the event channel notified.  Returns 1 if a request was handled, 0
 * if the slot held none, -1 for a vcpu out of range or a failed notify.
 */
int vv_xen_frontend_event(struct vv_xen_frontend *f, unsigned vcpu);

struct vv_xen_frontend_stats {
	uint64_t ioreqs;
	uint64_t doorbells;
	uint64_t ignored;          /* other ports, sizes, types, rep/ptr forms */
};
const struct vv_xen_frontend_stats *vv_xen_frontend_stats(const struct vv_xen_frontend *f);

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_XEN_IOREQ_H */
