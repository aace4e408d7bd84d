/*
 * examples/vmm_client.c -- a VMM and its firmware against a running
 * vmvarsd: the VMM keeps only the uefi-vars register block and forwards
 * each MM request over the VMM socket (vmvars/client.h); the simulated
 * firmware (guest_firmware.c) drives the registers exactly as OVMF does.
 *
 *   vmvarsd --state-dir /tmp/vm1 &
 *   vmm-client --socket /tmp/vm1/vmm.sock [--pio] [--quiet]
 *
 * Run it twice: the second boot finds BootOrder, written by the first one
 * and kept by the daemon.  Exit status 0 when every call got the status
 * the script expects.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <uchar.h>

#include <vmvars/vmvars.h>

#include "guest_firmware.h"

#define U(s) ((const uint16_t *)u"" s), (sizeof(u"" s) / 2 - 1)
#define NV_BS_RT (VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT)

static bool quiet;
static int failures;

static void
step(const char *what, vv_status got, vv_status want)
{
	if (!quiet || got != want)
		printf("  %-52s %s%s\n", what, vv_status_name(got),
		       got == want ? "" : "   <-- UNEXPECTED");
	if (got != want)
		failures++;
}

/* One boot: DXE writes, EndOfDxe, ExitBootServices, a runtime write. */
static void
boot(struct fw_guest *g, bool first)
{
	const vv_guid *gv = &VV_GUID_GLOBAL_VARIABLE;
	uint8_t buf[64];
	uint64_t size = sizeof(buf);
	uint32_t attr;

	step("GetVariable(SetupMode)", fw_get_variable(g, U("SetupMode"), gv, &attr, buf, &size),
	     VV_EFI_SUCCESS);
	size = sizeof(buf);
	step("GetVariable(BootOrder)", fw_get_variable(g, U("BootOrder"), gv, &attr, buf, &size),
	     first ? VV_EFI_NOT_FOUND : VV_EFI_SUCCESS);
	step("SetVariable(BootOrder = 0000)",
	     fw_set_variable(g, U("BootOrder"), gv, NV_BS_RT, "\0\0", 2), VV_EFI_SUCCESS);
	step("SetVariable(Timeout = 5)",
	     fw_set_variable(g, U("Timeout"), gv, NV_BS_RT, "\x05\x00", 2), VV_EFI_SUCCESS);
	step("event EndOfDxe", fw_event(g, &VV_GUID_END_OF_DXE) == VV_STS_SUCCESS ? 0 : 1, 0);
	step("SetVariable(Bogus) undefined global name",
	     fw_set_variable(g, U("Bogus"), gv, NV_BS_RT, "x", 1), VV_EFI_INVALID_PARAMETER);
	step("event ExitBootServices",
	     fw_event(g, &VV_GUID_EXIT_BOOT_SERVICES) == VV_STS_SUCCESS ? 0 : 1, 0);
	step("SetVariable(BootNext = 0000) at runtime",
	     fw_set_variable(g, U("BootNext"), gv, NV_BS_RT, "\0\0", 2), VV_EFI_SUCCESS);
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	bool pio = false;
	struct vv_error err = { { 0 } };
	struct vv_client *client;
	struct vv_mm_handler handler;
	struct vv_uefi_vars_device *dev;
	struct fw_guest g;
	char why[128];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--pio") == 0)
			pio = true;
		else if (strcmp(argv[i], "--quiet") == 0)
			quiet = true;
		else
			path = NULL, i = argc;
	}
	if (path == NULL) {
		fprintf(stderr, "usage: %s --socket PATH [--pio] [--quiet]\n", argv[0]);
		return 2;
	}
	/* --- the VMM: a device front-end forwarding to vmvarsd --- */
	client = vv_client_connect(path, &err);
	if (client == NULL) {
		fprintf(stderr, "vmm-client: %s\n", err.msg);
		return 1;
	}
	vv_client_mm_handler(client, &handler);
	if (fw_guest_alloc(&g, pio) != 0 ||
	    (dev = vv_uefi_vars_device_new_handler(&handler, fw_guest_memory(&g), pio)) == NULL)
		return 1;

	/* --- power-on --- */
	/* A VM's start is a reset: the daemon may hold (or have recorded) the
	 * state of the VM's previous run, and keeps it for a VMM that merely
	 * reconnects (docs/protocol.md "Daemon restart"). */
	vv_uefi_vars_device_reset(dev);

	/* --- the firmware --- */
	if (fw_guest_init(&g, dev, why, sizeof(why)) != 0) {
		fprintf(stderr, "vmm-client: device init: %s (%s)\n", why,
			vv_client_last_error(client));
		return 1;
	}
	printf("connected to %s, %s mode, payload size %llu\n", path, pio ? "PIO" : "DMA",
	       (unsigned long long)g.payload_size);
	{
		uint8_t buf[8];
		uint64_t size = sizeof(buf);
		uint32_t attr;
		bool first = fw_get_variable(&g, U("BootOrder"), &VV_GUID_GLOBAL_VARIABLE, &attr,
					     buf, &size) == VV_EFI_NOT_FOUND;

		printf("== boot 1\n");
		boot(&g, first);
	}
	printf("== reboot (VM_RESET)\n");
	vv_uefi_vars_device_reset(dev);
	if (fw_guest_init(&g, dev, why, sizeof(why)) != 0)
		return 1;
	printf("== boot 2\n");
	boot(&g, false);
	printf("%u requests, %d unexpected results, %u reconnects\n", g.requests, failures,
	       vv_client_reconnects(client));
	vv_uefi_vars_device_free(dev);
	vv_client_free(client);
	fw_guest_release(&g);
	return failures ? 1 : 0;
}
