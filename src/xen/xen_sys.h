/*
 * src/xen/xen_sys.h -- vmvars-xen's thin layer over Debian's Xen
 * libraries (libxendevicemodel, libxenevtchn, libxenforeignmemory,
 * libxentoolcore): the setup sequence of reference peer-services.md §2.2
 * and the operations host.c's loop runs on.  Nothing here understands a
 * request; host.c and the library do.
 */
#ifndef VMVARS_XEN_SYS_H
#define VMVARS_XEN_SYS_H

#include <vmvars/error.h>

#include "host.h"

struct xen_sys;

/* Opens the three libraries' handles for domid.  NULL with err set
 * ("cannot open the Xen device model interface: ..."). */
struct xen_sys *xen_sys_open(uint32_t domid, struct vv_error *err);

/* Creates the ioreq server (no buffered ioreqs), maps its ioreq page,
 * claims ports 0x100-0x10B, enables it and binds one event channel per
 * vCPU.  0, or -1 with err set. */
int xen_sys_setup(struct xen_sys *s, unsigned nr_vcpus, struct vv_error *err);

/* xentoolcore_restrict_all: every handle may then reach only domid. */
int xen_sys_restrict(struct xen_sys *s, struct vv_error *err);

uint8_t *xen_sys_ioreq_page(struct xen_sys *s);
const uint32_t *xen_sys_local_ports(const struct xen_sys *s);
/* The operations for xen_host_new(); wait returns 0 once SIGTERM or
 * SIGINT arrived (xen_sys_open blocks them outside the wait). */
void xen_sys_ops(struct xen_sys *s, struct xen_host_ops *ops);

/* Disables and destroys the ioreq server, unbinds, unmaps, closes. */
void xen_sys_close(struct xen_sys *s);

#endif
