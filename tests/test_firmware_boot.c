/*
 * tests/test_firmware_boot.c -- a scripted firmware boot through the
 * device registers, in DMA and in PIO mode: the init handshake, policy
 * registrations, EndOfDxe, enumeration, reads and writes, ReadyToBoot,
 * ExitBootServices, runtime writes, then a VM reset and the persisted store
 * read back from its JSON file.
 */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest_firmware.h"
#include "harness.h"
#include "store_util.h"

struct vm {
	struct vv_store *store;
	struct vv_policy *policy;
	struct vv_mm *mm;
	struct vv_uefi_vars_device *dev;
	struct fw_guest g;
	char path[256];
};

static void
vm_start(struct vm *vm, bool pio, const char *path)
{
	struct vv_error err;
	char why[128];

	memset(vm, 0, sizeof(*vm));
	snprintf(vm->path, sizeof(vm->path), "%s", path);
	vm->store = vv_store_new(NULL);
	REQUIRE(vm->store != NULL);
	vv_store_set_backend(vm->store, vv_json_file_backend_new(path, &err));
	REQUIRE(vv_store_load(vm->store, &err) == 0);
	vm->policy = vv_policy_new(vm->store, NULL);
	vm->mm = vv_mm_new(vm->store, vm->policy);
	REQUIRE(fw_guest_alloc(&vm->g, pio) == 0);
	vm->dev = vv_uefi_vars_device_new(vm->mm, fw_guest_memory(&vm->g), pio);
	REQUIRE(vm->dev != NULL);
	REQUIRE(fw_guest_init(&vm->g, vm->dev, why, sizeof(why)) == 0);
	CHECK_EQ(vm->g.pio, pio);
	CHECK_EQ(vm->g.payload_size, 65536 - 40);
}

static void
vm_stop(struct vm *vm)
{
	vv_uefi_vars_device_free(vm->dev);
	vv_mm_free(vm->mm);
	vv_policy_free(vm->policy);
	vv_store_free(vm->store);
	fw_guest_release(&vm->g);
}

static const uint8_t load_option[] = {
	0x01, 0, 0, 0, 0x04, 0,                   /* ACTIVE, FilePathListLength 4 */
	'S', 0, 'h', 0, 0, 0,                     /* "Sh" */
	0x7f, 0xff, 0x04, 0x00,                   /* End of device path */
};

static void
count_visible(struct fw_guest *g, unsigned *n, bool *saw_bs_only)
{
	uint16_t name[256] = { 0 };
	vv_guid guid = { { 0 } };
	uint64_t size;
	vv_status st;

	*n = 0;
	*saw_bs_only = false;
	for (;;) {
		size = sizeof(name);
		st = fw_get_next_variable_name(g, &size, name, &guid);
		if (st != VV_EFI_SUCCESS)
			break;
		(*n)++;
		if (name[0] == 'B' && name[1] == 's')
			*saw_bs_only = true;
	}
	CHECK_STATUS(st, VV_EFI_NOT_FOUND);
}

static void
scripted_boot(bool pio)
{
	char path[] = "/tmp/vmvars-boot-XXXXXX";
	char file[300];
	struct vm vm;
	struct fw_guest *g;
	const vv_guid *gv = &VV_GUID_GLOBAL_VARIABLE;
	uint8_t entry[128], buf[64];
	uint64_t size, max, rem, maxvar;
	uint16_t name[8] = { 0 };
	vv_guid guid = { { 0 } };
	uint32_t attr;
	unsigned n;
	bool bs_only;

	REQUIRE(mkdtemp(path) != NULL);
	snprintf(file, sizeof(file), "%s/vars.json", path);
	vm_start(&vm, pio, file);
	g = &vm.g;

	/* DXE: nothing yet */
	size = sizeof(buf);
	CHECK_STATUS(fw_get_variable(g, U("BootOrder"), gv, &attr, buf, &size), VV_EFI_NOT_FOUND);
	/* enumeration of an empty store */
	size = sizeof(name);
	CHECK_STATUS(fw_get_next_variable_name(g, &size, name, &guid), VV_EFI_NOT_FOUND);
	/* policies */
	n = fw_policy_entry(entry, gv, U("PlatformLangCodes"), 0, VV_POLICY_NO_MAX_SIZE, 0, 0,
			    VV_POLICY_LOCK_ON_CREATE);
	CHECK_STATUS(fw_policy_register(g, entry, n), VV_EFI_SUCCESS);
	CHECK_STATUS(fw_policy_register(g, entry, n), VV_EFI_ALREADY_STARTED);
	n = fw_policy_entry(entry, &TEST_GUID, U("Small"), 0, 2, 0, 0, VV_POLICY_NO_LOCK);
	CHECK_STATUS(fw_policy_register(g, entry, n), VV_EFI_SUCCESS);
	/* writes */
	CHECK_STATUS(fw_set_variable(g, U("PlatformLangCodes"), gv, BS_RT, "en", 2), VV_EFI_SUCCESS);
	CHECK_STATUS(fw_set_variable(g, U("Boot0000"), gv, NV_BS_RT, load_option,
				     sizeof(load_option)), VV_EFI_SUCCESS);
	CHECK_STATUS(fw_set_variable(g, U("BootOrder"), gv, NV_BS_RT, "\0\0", 2), VV_EFI_SUCCESS);
	CHECK_STATUS(fw_set_variable(g, U("BsOnly"), &TEST_GUID, VV_ATTR_NV | VV_ATTR_BS, "b", 1),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(fw_set_variable(g, U("RTC"), &TEST_GUID, 0, NULL, 0), VV_EFI_NOT_FOUND);
	/* before EndOfDxe, policies are not enforced */
	CHECK_STATUS(fw_set_variable(g, U("Small"), &TEST_GUID, BS_RT, "abc", 3), VV_EFI_SUCCESS);

	CHECK_EQ(fw_event(g, &VV_GUID_END_OF_DXE), VV_STS_SUCCESS);
	CHECK(vv_store_end_of_dxe(vm.store));
	CHECK(vv_policy_locked(vm.policy));
	CHECK_STATUS(fw_policy_register(g, entry, n), VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(fw_set_variable(g, U("PlatformLangCodes"), gv, BS_RT, "fr", 2),
		     VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(fw_set_variable(g, U("Small"), &TEST_GUID, BS_RT, "abc", 3),
		     VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(fw_set_variable(g, U("Small"), &TEST_GUID, BS_RT, "ab", 2), VV_EFI_SUCCESS);
	CHECK_STATUS(fw_set_variable(g, U("Bogus"), gv, NV_BS_RT, "x", 1), VV_EFI_INVALID_PARAMETER);
	/* reads */
	size = 4;
	CHECK_STATUS(fw_get_variable(g, U("Boot0000"), gv, &attr, buf, &size),
		     VV_EFI_BUFFER_TOO_SMALL);
	CHECK_EQ(size, sizeof(load_option));
	CHECK_EQ(attr, NV_BS_RT);
	size = sizeof(buf);
	CHECK_STATUS(fw_get_variable(g, U("Boot0000"), gv, &attr, buf, &size), VV_EFI_SUCCESS);
	CHECK_EQ(size, sizeof(load_option));
	CHECK_MEM(buf, load_option, sizeof(load_option));
	/* enumeration: a 2-byte name buffer is too small and says what is needed */
	memset(name, 0, sizeof(name));
	size = 2;
	CHECK_STATUS(fw_get_next_variable_name(g, &size, name, &guid), VV_EFI_BUFFER_TOO_SMALL);
	CHECK_EQ(size, sizeof(u"PlatformLangCodes"));
	count_visible(g, &n, &bs_only);
	CHECK_EQ(n, 5);
	CHECK(bs_only);
	CHECK_STATUS(fw_query_variable_info(g, NV_BS_RT, &max, &rem, &maxvar), VV_EFI_SUCCESS);
	CHECK_EQ(max, 262144 - 4096);
	CHECK(rem < max);

	/* ReadyToBoot, ExitBootServices */
	CHECK_STATUS(fw_smm_function(g, VV_MM_READY_TO_BOOT), VV_EFI_SUCCESS);
	CHECK_EQ(fw_event(g, &VV_GUID_READY_TO_BOOT), VV_STS_SUCCESS);
	CHECK_EQ(fw_event(g, &VV_GUID_EXIT_BOOT_SERVICES), VV_STS_SUCCESS);
	CHECK(vv_store_at_runtime(vm.store));
	CHECK_STATUS(fw_smm_function(g, VV_MM_READY_TO_BOOT), VV_EFI_UNSUPPORTED);

	/* runtime: the OS */
	count_visible(g, &n, &bs_only);
	CHECK_EQ(n, 4);
	CHECK(!bs_only);
	size = sizeof(buf);
	CHECK_STATUS(fw_get_variable(g, U("BsOnly"), &TEST_GUID, &attr, buf, &size),
		     VV_EFI_NOT_FOUND);
	CHECK_STATUS(fw_set_variable(g, U("Boot0001"), gv, NV_BS_RT, load_option,
				     sizeof(load_option)), VV_EFI_SUCCESS);
	CHECK_STATUS(fw_set_variable(g, U("BootOrder"), gv, NV_BS_RT, "\0\0\1\0", 4),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(fw_set_variable(g, U("Small"), &TEST_GUID, BS_RT, "cd", 2),
		     VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(fw_set_variable(g, U("NewVol"), &TEST_GUID, BS_RT, "x", 1),
		     VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(fw_query_variable_info(g, VV_ATTR_NV | VV_ATTR_BS, &max, &rem, &maxvar),
		     VV_EFI_INVALID_PARAMETER);

	/* VM reset: volatile state gone, NV kept, back to boot time */
	vv_uefi_vars_device_reset(vm.dev);
	CHECK(!vv_store_at_runtime(vm.store) && !vv_store_end_of_dxe(vm.store));
	CHECK_EQ(vv_policy_count(vm.policy), 0);
	{
		char why[128];

		REQUIRE(fw_guest_init(g, vm.dev, why, sizeof(why)) == 0);
	}
	size = sizeof(buf);
	CHECK_STATUS(fw_get_variable(g, U("Small"), &TEST_GUID, &attr, buf, &size), VV_EFI_NOT_FOUND);
	size = sizeof(buf);
	CHECK_STATUS(fw_get_variable(g, U("BsOnly"), &TEST_GUID, &attr, buf, &size), VV_EFI_SUCCESS);
	CHECK_STATUS(fw_set_variable(g, U("PlatformLangCodes"), gv, BS_RT, "de", 2), VV_EFI_SUCCESS);
	vm_stop(&vm);

	/* a new process: the JSON file holds exactly the NV variables */
	vm_start(&vm, pio, file);
	CHECK_EQ(vv_store_count(vm.store), 4);       /* Boot0000/1, BootOrder, BsOnly */
	size = sizeof(buf);
	CHECK_STATUS(fw_get_variable(&vm.g, U("BootOrder"), gv, &attr, buf, &size), VV_EFI_SUCCESS);
	CHECK_EQ(size, 4);
	CHECK_MEM(buf, "\0\0\1\0", 4);
	vm_stop(&vm);
	unlink(file);
	rmdir(path);
}

static void
test_boot_dma(void)
{
	scripted_boot(false);
}

static void
test_boot_pio(void)
{
	scripted_boot(true);
}

static const struct vv_test tests[] = {
	TEST(test_boot_dma),
	TEST(test_boot_pio),
};

VV_TEST_MAIN(tests)
