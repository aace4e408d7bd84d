/*
 * examples/firmware_boot.c -- a whole VM boot, seen from the variable
 * service: a VMM embeds libvmvars (store on a per-VM JSON file, variable
 * policy, MM endpoint, uefi-vars device), and a simulated firmware drives
 * the device registers exactly as OVMF does, from power-on to the OS
 * writing a boot entry at runtime and a reboot.
 *
 *   firmware-boot [--store DIR] [--pio] [--quiet]
 *
 * The store is DIR/vars.json (QEMU's jsonfile= format) plus its journal
 * DIR/vars.json.journal, folded in at exit.  Run it twice:
 * the second boot finds the variables the first one wrote.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uchar.h>

#include <vmvars/mor.h>
#include <vmvars/secureboot.h>
#include <vmvars/vmvars.h>

#include "guest_firmware.h"

#define U(s) ((const uint16_t *)u"" s), (sizeof(u"" s) / 2 - 1)
#define NV_BS_RT (VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT)

static bool quiet;

static void
say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

static int failures;

/* Prints one service call and its status; counts unexpected results. */
static void
step(const char *what, vv_status got, vv_status want)
{
	say("  %-60s %s%s\n", what, vv_status_name(got), got == want ? "" : "   <-- UNEXPECTED");
	if (got != want)
		failures++;
}

static int
mkdir_p(const char *dir)
{
	char path[4096];

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
		return -1;
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(path, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* A load option: Attributes, FilePathListLength, Description, FilePath. */
static size_t
boot_entry(uint8_t *out, const char *desc)
{
	static const uint8_t end_path[4] = { 0x7f, 0xff, 0x04, 0x00 };
	size_t n = 6;

	vv_put_le32(out, 1);                    /* LOAD_OPTION_ACTIVE */
	vv_put_le16(out + 4, sizeof(end_path));
	for (const char *c = desc; ; c++) {
		vv_put_le16(out + n, (uint8_t)*c);
		n += 2;
		if (*c == '\0')
			break;
	}
	memcpy(out + n, end_path, sizeof(end_path));
	return n + sizeof(end_path);
}

static void
enumerate(struct fw_guest *g)
{
	uint16_t name[512] = { 0 };
	vv_guid guid = { { 0 } };
	uint64_t size;
	unsigned n = 0;
	vv_status st;

	for (;;) {
		char text[256], gtext[VV_GUID_TEXT_LEN + 1];
		size_t len = 0;

		size = sizeof(name);
		st = fw_get_next_variable_name(g, &size, name, &guid);
		if (st != VV_EFI_SUCCESS)
			break;
		while (name[len] != 0)
			len++;
		vv_ucs2_print(name, len, text, sizeof(text));
		vv_guid_format(&guid, gtext);
		say("    %-28s %s\n", text, vv_guid_name(&guid) ? vv_guid_name(&guid) : gtext);
		n++;
	}
	step("GetNextVariableName until the end", st, VV_EFI_NOT_FOUND);
	say("    (%u variables visible)\n", n);
}

static void
boot(struct fw_guest *g, int boot_no, bool empty_store)
{
	const vv_guid *global = &VV_GUID_GLOBAL_VARIABLE;
	uint8_t buf[512], entry[128];
	uint64_t size, max, rem, maxvar;
	uint32_t attr;
	uint16_t order[2] = { 0, 1 };
	uint8_t order_le[4];
	size_t n;

	say("\n== boot %d: DXE phase\n", boot_no);
	size = sizeof(buf);
	step("GetVariable(SetupMode)", fw_get_variable(g, U("SetupMode"), global, &attr, buf, &size),
	     VV_EFI_SUCCESS);
	say("    SetupMode = %u (no PK enrolled)\n", buf[0]);
	size = sizeof(buf);
	step("GetVariable(BootOrder)", fw_get_variable(g, U("BootOrder"), global, &attr, buf, &size),
	     empty_store ? VV_EFI_NOT_FOUND : VV_EFI_SUCCESS);
	/* Policies: lock the platform's language codes once written. */
	n = fw_policy_entry(entry, global, U("PlatformLangCodes"), 0, VV_POLICY_NO_MAX_SIZE, 0, 0,
			    VV_POLICY_LOCK_ON_CREATE);
	step("VariablePolicy Register(PlatformLangCodes, LOCK_ON_CREATE)",
	     fw_policy_register(g, entry, n), VV_EFI_SUCCESS);
	step("SetVariable(PlatformLangCodes, BS|RT)",
	     fw_set_variable(g, U("PlatformLangCodes"), global, VV_ATTR_BS | VV_ATTR_RT, "en\0", 3),
	     VV_EFI_SUCCESS);
	step("SetVariable(PlatformLang, NV|BS|RT)",
	     fw_set_variable(g, U("PlatformLang"), global, NV_BS_RT, "en\0", 3), VV_EFI_SUCCESS);
	step("SetVariable(Timeout = 3)",
	     fw_set_variable(g, U("Timeout"), global, NV_BS_RT, "\x03\x00", 2), VV_EFI_SUCCESS);
	n = boot_entry(entry, "UEFI Shell");
	step("SetVariable(Boot0000)", fw_set_variable(g, U("Boot0000"), global, NV_BS_RT, entry, n),
	     VV_EFI_SUCCESS);
	n = boot_entry(entry, "UEFI Misc Device");
	step("SetVariable(Boot0001)", fw_set_variable(g, U("Boot0001"), global, NV_BS_RT, entry, n),
	     VV_EFI_SUCCESS);
	vv_put_le16(order_le, order[0]);
	vv_put_le16(order_le + 2, order[1]);
	step("SetVariable(BootOrder = 0000,0001)",
	     fw_set_variable(g, U("BootOrder"), global, NV_BS_RT, order_le, 4), VV_EFI_SUCCESS);
	step("SetVariable(RTC) delete of a missing variable",
	     fw_set_variable(g, U("RTC"), &VV_GUID_GLOBAL_VARIABLE, 0, NULL, 0), VV_EFI_NOT_FOUND);

	say("== EndOfDxe\n");
	step("event EndOfDxe", fw_event(g, &VV_GUID_END_OF_DXE) == VV_STS_SUCCESS ? 0 : 1, 0);
	step("VariablePolicy Register after EndOfDxe",
	     fw_policy_register(g, entry, fw_policy_entry(entry, global, U("Late"), 0,
							  VV_POLICY_NO_MAX_SIZE, 0, 0, 1)),
	     VV_EFI_WRITE_PROTECTED);
	step("SetVariable(PlatformLangCodes) now locked",
	     fw_set_variable(g, U("PlatformLangCodes"), global, VV_ATTR_BS | VV_ATTR_RT, "fr\0", 3),
	     VV_EFI_WRITE_PROTECTED);
	step("SetVariable(Bogus) undefined global name",
	     fw_set_variable(g, U("Bogus"), global, NV_BS_RT, "x", 1), VV_EFI_INVALID_PARAMETER);
	step("SetVariable(SetupMode) by the guest",
	     fw_set_variable(g, U("SetupMode"), global, VV_ATTR_BS | VV_ATTR_RT, "\0", 1),
	     VV_EFI_WRITE_PROTECTED);
	size = 2;
	step("GetVariable(Boot0000) with a 2-byte buffer",
	     fw_get_variable(g, U("Boot0000"), global, &attr, buf, &size), VV_EFI_BUFFER_TOO_SMALL);
	say("    needed %llu bytes, attributes 0x%x\n", (unsigned long long)size, attr);
	enumerate(g);
	step("QueryVariableInfo(NV|BS|RT)", fw_query_variable_info(g, NV_BS_RT, &max, &rem, &maxvar),
	     VV_EFI_SUCCESS);
	say("    max %llu, remaining %llu, max variable %llu\n", (unsigned long long)max,
	    (unsigned long long)rem, (unsigned long long)maxvar);

	say("== ReadyToBoot, ExitBootServices\n");
	step("SMM function ReadyToBoot", fw_smm_function(g, VV_MM_READY_TO_BOOT), VV_EFI_SUCCESS);
	step("event ReadyToBoot", fw_event(g, &VV_GUID_READY_TO_BOOT) == VV_STS_SUCCESS ? 0 : 1, 0);
	step("SetVariable(MemoryTypeInformation) in the wrong namespace",
	     fw_set_variable(g, U("MemoryTypeInformation"), &VV_GUID_GLOBAL_VARIABLE,
			     VV_ATTR_NV | VV_ATTR_BS, "x", 1), VV_EFI_INVALID_PARAMETER);
	step("event ExitBootServices",
	     fw_event(g, &VV_GUID_EXIT_BOOT_SERVICES) == VV_STS_SUCCESS ? 0 : 1, 0);

	say("== runtime: the OS\n");
	n = boot_entry(entry, "Linux");
	step("SetVariable(Boot0002) from the OS", fw_set_variable(g, U("Boot0002"), global, NV_BS_RT,
								  entry, n), VV_EFI_SUCCESS);
	step("SetVariable(BootNext = 0002)",
	     fw_set_variable(g, U("BootNext"), global, NV_BS_RT, "\x02\x00", 2), VV_EFI_SUCCESS);
	step("SetVariable(PlatformLangCodes) at runtime (volatile)",
	     fw_set_variable(g, U("PlatformLangCodes"), global, VV_ATTR_BS | VV_ATTR_RT, "de\0", 3),
	     VV_EFI_WRITE_PROTECTED);
	step("SetVariable(Fresh, BS|RT) create volatile at runtime",
	     fw_set_variable(g, U("Fresh"), &VV_GUID_MOR, VV_ATTR_BS | VV_ATTR_RT, "x", 1),
	     VV_EFI_INVALID_PARAMETER);
	step("SetVariable(BootNext) delete",
	     fw_set_variable(g, U("BootNext"), global, NV_BS_RT, NULL, 0), VV_EFI_SUCCESS);
}

int
main(int argc, char **argv)
{
	const char *dir = NULL;
	char path[4200], why[128];
	bool pio = false, empty;
	struct vv_error err = { { 0 } };
	struct vv_store *store;
	struct vv_policy *policy;
	struct vv_secureboot *sb;
	struct vv_mor *mor;
	struct vv_mm *mm;
	struct vv_uefi_vars_device *dev;
	struct vv_backend *backend;
	struct fw_guest g;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--pio") == 0)
			pio = true;
		else if (strcmp(argv[i], "--quiet") == 0)
			quiet = true;
		else {
			fprintf(stderr, "usage: %s [--store DIR] [--pio] [--quiet]\n", argv[0]);
			return 2;
		}
	}
	if (dir == NULL)
		dir = "example-vm";
	if (mkdir_p(dir) != 0) {
		fprintf(stderr, "firmware-boot: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/vars.json", dir);

	/* --- the VMM's side: store, persistence, policy, MM, device --- */
	store = vv_store_new(NULL);
	backend = vv_json_journal_backend_new(path, &err);
	if (store == NULL || backend == NULL) {
		fprintf(stderr, "firmware-boot: %s\n", err.msg[0] ? err.msg : "out of memory");
		return 1;
	}
	vv_store_set_backend(store, backend);
	if (vv_store_load(store, &err) != 0) {
		fprintf(stderr, "firmware-boot: %s\n", err.msg);
		return 1;
	}
	printf("vmvars %s: store %s (%zu variables loaded), %s mode\n", VMVARS_VERSION, path,
	       vv_store_count(store), pio ? "PIO" : "DMA");
	empty = vv_store_find(store, U("BootOrder"), &VV_GUID_GLOBAL_VARIABLE) == NULL;
	policy = vv_policy_new(store, NULL);
	sb = vv_secureboot_new(store, NULL);
	mor = vv_mor_new(store, true);
	mm = vv_mm_new(store, policy);
	if (policy == NULL || sb == NULL || mor == NULL || mm == NULL ||
	    fw_guest_alloc(&g, pio) != 0)
		return 1;
	printf("Secure Boot: %s mode, %s at next boot\n", vv_sb_mode_name(vv_secureboot_mode(sb)),
	       vv_secureboot_enforcing(sb) ? "enforced" : "not enforced");
	dev = vv_uefi_vars_device_new(mm, fw_guest_memory(&g), pio);
	if (dev == NULL)
		return 1;

	/* --- the firmware's side --- */
	say("== power on: device handshake\n");
	if (fw_guest_init(&g, dev, why, sizeof(why)) != 0) {
		fprintf(stderr, "firmware-boot: device init: %s\n", why);
		return 1;
	}
	say("  magic 0x%04x, buffer 64 KiB, %s, payload size %llu\n", VV_UEFI_VARS_MAGIC,
	    g.pio ? "PIO" : "DMA", (unsigned long long)g.payload_size);
	boot(&g, 1, empty);

	say("\n== reboot\n");
	vv_uefi_vars_device_reset(dev);
	if (fw_guest_init(&g, dev, why, sizeof(why)) != 0)
		return 1;
	boot(&g, 2, false);

	printf("\n%u requests, %u unexpected results; %zu variables in the store, "
	       "NV ones persisted in %s\n", g.requests, failures, vv_store_count(store), path);
	vv_uefi_vars_device_free(dev);
	vv_mm_free(mm);
	vv_mor_free(mor);
	vv_secureboot_free(sb);
	vv_policy_free(policy);
	vv_store_free(store);
	fw_guest_release(&g);
	return failures ? 1 : 0;
}
