/*
 * src/xen/main.c -- vmvars-xen: the Xen front end of one HVM domain
 * (docs/protocols.md "Running on Xen", docs/vmvars-xen.8).  It takes
 * varstored's place beside the domain (reference peer-services.md §2.1-
 * §2.3) and forwards each XenVariable request to the domain's vmvarsd
 * (--protocol xen), which holds the store:
 *   parse options -> open the Xen libraries -> connect to vmvarsd ->
 *   VM reset (unless --no-reset) -> ioreq server, ports, event channels
 *   -> xentoolcore_restrict_all -> serve until SIGTERM -> tear down.
 * Exit codes as vmvarsd's: 0 clean shutdown, 1 setup or serving failure,
 * 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/client.h>
#include <vmvars/vmvars.h>

#include "host.h"
#include "xen_sys.h"

/* Xen's first reserved domain id (DOMID_FIRST_RESERVED, xen/xen.h). */
#define DOMID_LIMIT 0x7FF0u

struct options {
	uint32_t domid;
	unsigned vcpus;
	const char *state_dir, *vmm_socket;
	bool no_reset;
};

enum { OPT_DOMID = 256, OPT_VCPUS, OPT_STATE_DIR, OPT_VMM_SOCKET, OPT_NO_RESET, OPT_VERSION };

static const struct option long_options[] = {
	{ "domid", required_argument, NULL, OPT_DOMID },
	{ "vcpus", required_argument, NULL, OPT_VCPUS },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "vmm-socket", required_argument, NULL, OPT_VMM_SOCKET },
	{ "no-reset", no_argument, NULL, OPT_NO_RESET },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: vmvars-xen --domid DOMID --vcpus N (--state-dir DIR | --vmm-socket PATH) [options]\n"
"\n"
"The XenVariable front end of one Xen HVM domain: an ioreq server for I/O\n"
"ports 0x100-0x10B whose requests go to the domain's vmvarsd, started with\n"
"--protocol xen (docs/protocols.md \"Running on Xen\").\n"
"\n"
"  --domid DOMID       the guest domain (1 to 32751)\n"
"  --vcpus N           the domain's maximum vCPUs, one event channel each\n"
"                      (1 to %u)\n"
"  --state-dir DIR     vmvarsd's state directory: its socket is DIR/vmm.sock\n"
"  --vmm-socket PATH   vmvarsd's VMM socket (instead of --state-dir)\n"
"  --no-reset          do not send VM_RESET at start: the domain is already\n"
"                      running (vmvars-xen restarted beside it)\n"
"  --version, --help\n"
"\n"
"Run as root in dom0 after the domain is built and before it is unpaused;\n"
"stop it with SIGTERM.\n", XEN_HOST_MAX_VCPUS);
}

static int
parse_uint(const char *text, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || text[0] == '+' ||
	    v > max)
		return -1;
	*out = v;
	return 0;
}

/* 0 to run, 1 done (help/version printed), 2 bad usage (reported). */
static int
parse_options(int argc, char **argv, struct options *o)
{
	unsigned long v;
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_DOMID:
			if (parse_uint(optarg, DOMID_LIMIT - 1, &v) != 0 || v == 0) {
				fprintf(stderr, "vmvars-xen: bad --domid %s: a guest domain is "
					"1 to %u\n", optarg, DOMID_LIMIT - 1);
				return 2;
			}
			o->domid = (uint32_t)v;
			break;
		case OPT_VCPUS:
			if (parse_uint(optarg, XEN_HOST_MAX_VCPUS, &v) != 0 || v == 0) {
				fprintf(stderr, "vmvars-xen: bad --vcpus %s: 1 to %u\n", optarg,
					XEN_HOST_MAX_VCPUS);
				return 2;
			}
			o->vcpus = (unsigned)v;
			break;
		case OPT_STATE_DIR: o->state_dir = optarg; break;
		case OPT_VMM_SOCKET: o->vmm_socket = optarg; break;
		case OPT_NO_RESET: o->no_reset = true; break;
		case OPT_VERSION: printf("vmvars-xen %s\n", VMVARS_VERSION); return 1;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vmvars-xen: unexpected argument %s\n", argv[optind]);
		return 2;
	}
	if (o->domid == 0 || o->vcpus == 0) {
		fprintf(stderr, "vmvars-xen: --domid and --vcpus are required\n");
		return 2;
	}
	if ((o->state_dir == NULL) == (o->vmm_socket == NULL)) {
		fprintf(stderr, "vmvars-xen: give one of --state-dir and --vmm-socket\n");
		return 2;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	char sock[PATH_MAX];
	struct options o;
	struct vv_error err = { { 0 } };
	struct vv_extvar_handler handler;
	struct xen_host_ops ops;
	struct xen_sys *sys = NULL;
	struct vv_client *client = NULL;
	struct xen_host *host = NULL;
	int rc = 1, r;

	r = parse_options(argc, argv, &o);
	if (r != 0)
		return r == 1 ? 0 : 2;
	if (o.vmm_socket != NULL) {
		snprintf(sock, sizeof(sock), "%s", o.vmm_socket);
	} else if (snprintf(sock, sizeof(sock), "%s/vmm.sock", o.state_dir) >= (int)sizeof(sock)) {
		fprintf(stderr, "vmvars-xen: --state-dir too long\n");
		return 2;
	}

	sys = xen_sys_open(o.domid, &err);
	if (sys == NULL)
		goto fail;
	client = vv_client_connect(sock, &err);
	if (client == NULL)
		goto fail;
	/* A domain being built is at power-on, and a VMM says so with
	 * VM_RESET (docs/protocol.md "Daemon restart": vmvarsd serves nothing
	 * of a VM it has no record of until then).  A front end restarted
	 * beside a running domain only reconnects. */
	if (!o.no_reset && vv_client_vm_reset(client) != 0) {
		vv_error_set(&err, "VM reset refused by %s: %s", sock,
			     vv_client_last_error(client));
		goto fail;
	}
	if (xen_sys_setup(sys, o.vcpus, &err) != 0 || xen_sys_restrict(sys, &err) != 0)
		goto fail;
	vv_client_extvar_handler(client, VV_XENVAR_XEN, &handler);
	xen_sys_ops(sys, &ops);
	host = xen_host_new(&ops, xen_sys_ioreq_page(sys), o.vcpus, xen_sys_local_ports(sys),
			    &handler);
	if (host == NULL) {
		vv_error_set(&err, "out of memory");
		goto fail;
	}
	fprintf(stderr, "vmvars-xen: serving domain %u (%u vCPUs, ports 0x%x-0x%x) for %s\n",
		o.domid, o.vcpus, VV_XEN_VARSTORED_PORT,
		VV_XEN_VARSTORED_PORT + VV_XEN_VARSTORED_NPORTS - 1, sock);
	if (xen_host_run(host) != 0) {
		vv_error_set(&err, "event channel failure: %s", strerror(errno));
		goto fail;
	}
	fprintf(stderr, "vmvars-xen: domain %u: %llu requests, stopping\n", o.domid,
		(unsigned long long)vv_xen_frontend_stats(xen_host_frontend(host))->ioreqs);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "vmvars-xen: %s\n", err.msg);
out:
	xen_host_free(host);
	xen_sys_close(sys);
	vv_client_free(client);
	return rc;
}
