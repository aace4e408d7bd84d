/*
 * examples/varstored_boot.c -- a VMM that serves firmware speaking the
 * varstored protocol (docs/protocols.md) from libvmvars.so alone: the
 * store on a JSON file with Secure Boot and MOR, the XenVariable /
 * ExtVarStore engine, and the doorbell device -- behind a simulated Xen
 * ioreq page (--xen) or as EC2's register in TRANSFER mode (default).  A
 * small guest driver written here from the wire format boots: it probes
 * the register, writes and reads a boot entry, leaves boot services and
 * checks that a boot-time-only variable is gone, then resets the VM.
 *
 *   varstored-boot [--xen] [--store DIR]
 *
 * Exits non-zero when a step does not give the status it expects.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uchar.h>

#include <vmvars/mor.h>
#include <vmvars/secureboot.h>
#include <vmvars/vmvars.h>

#define RAM_SIZE (1u << 20)
#define BUF_GPA  0x10000u
#define BUF_SIZE VV_XENVAR_BUFFER_SIZE

static uint8_t *ram;
static bool xen;
static struct vv_extvar_device *dev;
static struct vv_xen_frontend *fe;
static uint8_t ioreq_page[4096];
static int failures;

/* ---- the VMM's side: guest memory and the Xen event channel ---- */

static int
mem_read(void *o, uint64_t gpa, void *buf, size_t len)
{
	(void)o;
	if (gpa > RAM_SIZE || len > RAM_SIZE - gpa)
		return -1;
	memcpy(buf, ram + gpa, len);
	return 0;
}

static int
mem_write(void *o, uint64_t gpa, const void *buf, size_t len)
{
	(void)o;
	if (gpa > RAM_SIZE || len > RAM_SIZE - gpa)
		return -1;
	memcpy(ram + gpa, buf, len);
	return 0;
}

static int
notify(void *o, uint32_t port)
{
	(void)o;
	(void)port;
	return 0;
}

/* ---- the guest's driver ---- */

static uint8_t req[BUF_SIZE];
static size_t req_len;

static void put32(uint32_t v) { vv_put_le32(req + req_len, v); req_len += 4; }
static void put64(uint64_t v) { vv_put_le64(req + req_len, v); req_len += 8; }
static void
put_bytes(const void *p, size_t n)
{
	memcpy(req + req_len, p, n);
	req_len += n;
}
static void
put_name(const char16_t *name)
{
	size_t n = 0;

	while (name[n])
		n++;
	put64(n * 2);
	for (size_t i = 0; i < n; i++)
		vv_put_le16(req + req_len + 2 * i, name[i]);
	req_len += n * 2;
}

static void
start(uint32_t command)
{
	memset(req, 0, sizeof(req));
	req_len = 0;
	put32(1);
	put32(command);
}

/* Xen: the request in guest RAM and `outl(page, 0x100)` through the ioreq
 * slot of vCPU 0.  EC2: the TRANSFER stream, then the reply read back. */
static vv_status
ring(void)
{
	if (xen) {
		memcpy(ram + BUF_GPA, req, req_len);
		memset(ioreq_page, 0, 32);
		vv_put_le64(ioreq_page, VV_XEN_VARSTORED_PORT);
		vv_put_le64(ioreq_page + 8, BUF_GPA >> 12);
		vv_put_le32(ioreq_page + 16, 1);
		vv_put_le32(ioreq_page + 20, 4);
		ioreq_page[30] = VV_XEN_STATE_IOREQ_READY;
		if (vv_xen_frontend_event(fe, 0) != 1)
			return VV_EFI_DEVICE_ERROR;
		memcpy(req, ram + BUF_GPA, sizeof(req));
	} else {
		uint32_t size, crc;
		size_t i;

		for (i = 0; i < req_len; i += 2)
			vv_extvar_device_write(dev, 0, VV_EXTVAR_STREAM_MAGIC |
					       (uint32_t)req[i] << 16 | (uint32_t)req[i + 1] << 24, 4);
		vv_extvar_device_write(dev, 0, VV_EXTVAR_KICK_MAGIC | (uint32_t)i << 16, 4);
		size = (uint16_t)vv_extvar_device_read(dev, 0, 4);
		if (size < 12 || (size & 3))
			return VV_EFI_DEVICE_ERROR;
		crc = (uint32_t)vv_extvar_device_read(dev, 0, 4);
		for (i = size - 4; i > 0; i -= 4)
			vv_put_le32(req + i - 4, (uint32_t)vv_extvar_device_read(dev, 0, 4));
		if (vv_extvar_crc32(req, size - 4) != crc)
			return VV_EFI_DEVICE_ERROR;
	}
	return vv_le64(req);
}

static vv_status
set_variable(const char16_t *name, const vv_guid *g, uint32_t attr, const void *data,
	     size_t size, bool at_runtime)
{
	start(VV_XENVAR_SET_VARIABLE);
	put_name(name);
	put_bytes(g->b, 16);
	put64(size);
	put_bytes(data, size);
	put32(attr);
	if (xen)
		req[req_len++] = at_runtime;
	return ring();
}

static vv_status
get_variable(const char16_t *name, const vv_guid *g, uint8_t *out, uint64_t *size,
	     bool at_runtime)
{
	vv_status st;

	start(VV_XENVAR_GET_VARIABLE);
	put_name(name);
	put_bytes(g->b, 16);
	put64(*size);
	if (xen)
		req[req_len++] = at_runtime;
	st = ring();
	if (st == VV_EFI_SUCCESS) {
		*size = vv_le64(req + 12);
		memcpy(out, req + 20, *size);
	}
	return st;
}

static void
expect(const char *what, vv_status got, vv_status want)
{
	printf("%-44s %s\n", what, vv_status_name(got));
	if (got != want) {
		printf("  expected %s\n", vv_status_name(want));
		failures++;
	}
}

int
main(int argc, char **argv)
{
	static const vv_guid vendor = { { 0x78, 0x56, 0x34, 0x12, 0x34, 0x12, 0x34, 0x12,
					  0x12, 0x34, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc } };
	const char *dir = "varstored-vm";
	struct vv_xenvar_config xc = { 0 };
	struct vv_extvar_config dc = { 0 };
	struct vv_guest_memory mem = { mem_read, mem_write, NULL };
	struct vv_xen_ops ops = { notify, NULL };
	struct vv_limits limits;
	struct vv_error err;
	struct vv_store *store;
	struct vv_secureboot *sb;
	struct vv_mor *mor;
	struct vv_xenvar *xv;
	char path[4096];
	uint8_t data[64];
	uint64_t size;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--xen") == 0)
			xen = true;
		else if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
			dir = argv[++i];
		else {
			fprintf(stderr, "usage: varstored-boot [--xen] [--store DIR]\n");
			return 2;
		}
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		perror(dir);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/vars.json", dir);
	ram = calloc(1, RAM_SIZE);

	/* The VMM: one store per VM, accounted like varstored. */
	xc.dialect = xen ? VV_XENVAR_XEN : VV_XENVAR_AWS;
	vv_xenvar_limits_default(&xc.limits);
	vv_xenvar_store_limits(&xc.limits, &limits);
	store = vv_store_new(&limits);
	if (ram == NULL || store == NULL)
		return 1;
	vv_store_set_backend(store, vv_json_file_backend_new(path, &err));
	if (vv_store_load(store, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	sb = vv_secureboot_new(store, NULL);
	mor = vv_mor_new(store, false);
	xv = vv_xenvar_new(store, &xc);
	dc.feature_word = !xen;
	dc.features = xen ? 0 : VV_EXTVAR_FEATURE_CRC32 | VV_EXTVAR_FEATURE_TRANSFER;
	dev = vv_extvar_device_new_engine(xv, store, &mem, &dc);
	if (xen)
		fe = vv_xen_frontend_new(ioreq_page, 1, dev, &ops);
	if (sb == NULL || mor == NULL || xv == NULL || dev == NULL || (xen && fe == NULL))
		return 1;
	printf("%s guest, store %s\n", xen ? "XenVariable" : "ExtVarStore (TRANSFER)", path);

	/* The guest boots. */
	if (!xen)
		expect("probe: magic 0xEC with CRC32 and TRANSFER",
		       vv_extvar_device_read(dev, 0, 4) == 0x3EC ? VV_EFI_SUCCESS : VV_EFI_UNSUPPORTED,
		       VV_EFI_SUCCESS);
	expect("SetVariable(BootOrder)",
	       set_variable(u"BootOrder", &VV_GUID_GLOBAL_VARIABLE,
			    VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT, "\0\0", 2, false), VV_EFI_SUCCESS);
	expect("SetVariable(BootTimeOnly, NV|BS)",
	       set_variable(u"BootTimeOnly", &vendor, VV_ATTR_NV | VV_ATTR_BS, "b", 1, false),
	       VV_EFI_SUCCESS);
	size = sizeof(data);
	expect("GetVariable(BootOrder)",
	       get_variable(u"BootOrder", &VV_GUID_GLOBAL_VARIABLE, data, &size, false),
	       VV_EFI_SUCCESS);
	/* ExitBootServices: ENTER_RUNTIME, or at_runtime = 1 from now on */
	if (!xen) {
		start(VV_XENVAR_ENTER_RUNTIME);
		expect("ENTER_RUNTIME", ring(), VV_EFI_SUCCESS);
	}
	size = sizeof(data);
	expect("runtime GetVariable(BootTimeOnly)",
	       get_variable(u"BootTimeOnly", &vendor, data, &size, true), VV_EFI_NOT_FOUND);
	size = sizeof(data);
	expect("runtime GetVariable(BootTimeOnly), at_runtime 0",
	       get_variable(u"BootTimeOnly", &vendor, data, &size, false), VV_EFI_NOT_FOUND);
	/* The VM resets: boot time again, NV variables kept. */
	vv_extvar_device_reset(dev);
	size = sizeof(data);
	expect("after reset: GetVariable(BootTimeOnly)",
	       get_variable(u"BootTimeOnly", &vendor, data, &size, false), VV_EFI_SUCCESS);

	vv_xen_frontend_free(fe);
	vv_extvar_device_free(dev);
	vv_xenvar_free(xv);
	vv_mor_free(mor);
	vv_secureboot_free(sb);
	vv_store_free(store);
	free(ram);
	printf("%s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
