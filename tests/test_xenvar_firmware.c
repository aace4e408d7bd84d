/*
 * tests/test_xenvar_firmware.c -- a scripted firmware per varstored
 * personality, as tests/test_firmware_boot.c is for MM: the XenVariable
 * driver behind the Xen front end (simulated ioreq page), the ExtVarStore
 * driver through the doorbell and through TRANSFER with CRC32.  Each boot:
 * an empty store, boot-time writes, Secure Boot keys enrolled (KEK, db,
 * then PK, as varstored provisions them; payloads made by openssl and
 * efitools), a rogue db refused, ExitBootServices, runtime writes and an
 * authenticated db append, then a VM reset with the store read back from
 * its JSON file.  Then the store each personality wrote is served by the
 * others, MM included, with the same keys, mode and variables.
 */
#include <sys/stat.h>

#include "guest_firmware.h"
#include "harness.h"
#include "sb_tools.h"
#include "store_util.h"
#include "xen_guest.h"

#include <vmvars/mor.h>
#include <vmvars/secureboot.h>

#define OWNER "11111111-2222-3333-4444-555555555555"
#define SB_ATTR (NV_BS_RT | VV_ATTR_AT)
#define GV (&VV_GUID_GLOBAL_VARIABLE)
#define DBG (&VV_GUID_IMAGE_SECURITY_DB)

enum personality { P_XEN, P_AWS_DOORBELL, P_AWS_TRANSFER, P_COUNT };
static const char *const pname[] = { "xen", "aws-doorbell", "aws-transfer" };

struct vm {
	enum personality p;
	struct vv_store *store;
	struct vv_secureboot *sb;
	struct vv_mor *mor;
	struct vv_xenvar *xv;
	struct xen_vm xen;
	struct ev_vm aws;
	struct xv_guest g;
};

static void
vm_start(struct vm *vm, enum personality p, const char *path)
{
	struct vv_xenvar_config xc = { 0 };
	struct vv_limits sl;
	struct vv_error err;

	memset(vm, 0, sizeof(*vm));
	vm->p = p;
	xc.dialect = p == P_XEN ? VV_XENVAR_XEN : VV_XENVAR_AWS;
	vv_xenvar_limits_default(&xc.limits);
	vv_xenvar_store_limits(&xc.limits, &sl);
	vm->store = vv_store_new(&sl);
	REQUIRE(vm->store != NULL);
	vv_store_set_backend(vm->store, vv_json_file_backend_new(path, &err));
	REQUIRE(vv_store_load(vm->store, &err) == 0);
	vm->sb = vv_secureboot_new(vm->store, NULL);
	vm->mor = vv_mor_new(vm->store, true);
	vm->xv = vv_xenvar_new(vm->store, &xc);
	REQUIRE(vm->sb != NULL && vm->mor != NULL && vm->xv != NULL);
	vm->g.dialect = xc.dialect;
	if (p == P_XEN) {
		REQUIRE(xen_vm_start(&vm->xen, vm->xv, vm->store) == 0);
		vm->g.call = xg_call;
		vm->g.ctx = &vm->xen;
	} else {
		struct vv_extvar_config dc = { true, VV_EXTVAR_FEATURE_CRC32 |
						     VV_EXTVAR_FEATURE_TRANSFER };
		struct vv_guest_memory mem;

		ev_vm_init(&vm->aws);
		mem = ev_memory(&vm->aws);
		vm->aws.dev = vv_extvar_device_new_engine(vm->xv, vm->store, &mem, &dc);
		REQUIRE(vm->aws.ram != NULL && vm->aws.dev != NULL);
		vm->g.call = p == P_AWS_TRANSFER ? ev_call_transfer : ev_call_doorbell;
		vm->g.ctx = &vm->aws;
		/* the driver's probe: the magic and both features */
		CHECK_EQ(vv_extvar_device_read(vm->aws.dev, 0, 4), 0x3EC);
	}
}

static void
vm_stop(struct vm *vm)
{
	if (vm->p == P_XEN)
		xen_vm_stop(&vm->xen);
	vv_extvar_device_free(vm->aws.dev);
	free(vm->aws.ram);
	vv_xenvar_free(vm->xv);
	vv_mor_free(vm->mor);
	vv_secureboot_free(vm->sb);
	vv_store_free(vm->store);
	memset(vm, 0, sizeof(*vm));
}

static int
get_byte(struct xv_guest *g, const vv_guid *guid, const uint16_t *name, size_t len)
{
	uint8_t b[8];
	uint64_t size = sizeof(b);
	uint32_t attr;

	if (xv_get(g, name, len, guid, &attr, b, &size) != VV_EFI_SUCCESS || size != 1)
		return -1;
	return b[0];
}

static vv_status
set_file(struct xv_guest *g, const uint16_t *name, size_t len, const vv_guid *guid,
	 uint32_t attr, const char *file)
{
	size_t size;
	uint8_t *data = sb_read(file, &size);
	vv_status st;

	REQUIRE(data != NULL);
	st = xv_set(g, name, len, guid, attr, data, size);
	free(data);
	return st;
}

static bool keys_ready;

static void
test_make_keys(void)
{
	if (!sb_tools_init())
		SKIP("openssl/efitools not installed (./dev deps installs them)");
	REQUIRE(sb_make_key("PK", "rsa:2048") == 0 && sb_make_key("KEK", "rsa:2048") == 0);
	REQUIRE(sb_make_key("DB", "rsa:2048") == 0 && sb_make_key("ROGUE", "rsa:2048") == 0);
	REQUIRE(sb_make_esl("PK", OWNER) == 0 && sb_make_esl("KEK", OWNER) == 0);
	REQUIRE(sb_make_esl("DB", OWNER) == 0 && sb_make_esl("ROGUE", OWNER) == 0);
	REQUIRE(sb_sign("PK", "PK.esl", "PK", "2025-01-01 00:00:00", "", "PK.auth") == 0);
	REQUIRE(sb_sign("KEK", "KEK.esl", "PK", "2025-01-02 00:00:00", "", "KEK.auth") == 0);
	REQUIRE(sb_sign("db", "DB.esl", "KEK", "2025-01-03 00:00:00", "", "db.auth") == 0);
	REQUIRE(sb_sign("db", "ROGUE.esl", "ROGUE", "2025-01-04 00:00:00", "", "db-rogue.auth") == 0);
	REQUIRE(sb_sign("db", "ROGUE.esl", "KEK", "2025-01-05 00:00:00", "-a",
			"db-append.auth") == 0);
	/* varstored's suite behaviours (test_auth_conformance) */
	REQUIRE(sb_sign("db", "DB.esl", "KEK", "2025-01-02 00:00:00", "", "db-older.auth") == 0);
	REQUIRE(sb_sign("db", "DB.esl", "KEK", "2025-01-03 00:00:00", "", "db-same.auth") == 0);
	REQUIRE(sb_sign("db", "ROGUE.esl", "KEK", "2025-01-01 00:00:00", "-a",
			"db-append-older.auth") == 0);
	REQUIRE(sb_sign("KEK", "KEK.esl", "ROGUE", "2025-01-06 00:00:00", "", "KEK-rogue.auth") == 0);
	REQUIRE(sb_sign("PK", "PK.esl", "PK", "2025-01-07 00:00:00", "-a", "PK-append.auth") == 0);
	keys_ready = true;
}

#define NEED_KEYS() do { if (!keys_ready) SKIP("keys were not made (test_make_keys)"); } while (0)

static const uint8_t load_option[] = {
	0x01, 0, 0, 0, 0x04, 0, 'S', 0, 'h', 0, 0, 0, 0x7f, 0xff, 0x04, 0x00,
};

static char store_path[P_COUNT][300];
static size_t db_size_after[P_COUNT];

static void
scripted_boot(enum personality p)
{
	char dir[] = "/tmp/vmvars-xvfw-XXXXXX";
	struct vm vm;
	struct xv_guest *g;
	uint8_t buf[8192];
	uint64_t size;
	uint32_t attr;

	NEED_KEYS();
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(store_path[p], sizeof(store_path[p]), "%s/vars.json", dir);
	vm_start(&vm, p, store_path[p]);
	g = &vm.g;
	printf("# %s\n", pname[p]);

	/* boot time, empty store (but for the service's mode variables) */
	size = sizeof(buf);
	CHECK_STATUS(xv_get(g, U("BootOrder"), GV, &attr, buf, &size), VV_EFI_NOT_FOUND);
	CHECK_EQ(get_byte(g, GV, U("SetupMode")), 1);
	CHECK_EQ(get_byte(g, GV, U("SecureBoot")), 0);
	CHECK_STATUS(xv_set(g, U("Boot0000"), GV, NV_BS_RT, load_option, sizeof(load_option)),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(xv_set(g, U("BootOrder"), GV, NV_BS_RT, "\0\0", 2), VV_EFI_SUCCESS);
	CHECK_STATUS(xv_set(g, U("Vol"), &TEST_GUID, BS_RT, "v", 1), VV_EFI_SUCCESS);
	CHECK_STATUS(xv_set(g, U("BsOnly"), &TEST_GUID, VV_ATTR_NV | VV_ATTR_BS, "b", 1),
		     VV_EFI_SUCCESS);

	/* keys: KEK and db first, PK last (varstored's setup_keys order) */
	CHECK_STATUS(set_file(g, U("KEK"), GV, SB_ATTR, "KEK.auth"), VV_EFI_SUCCESS);
	CHECK_STATUS(set_file(g, U("db"), DBG, SB_ATTR, "db.auth"), VV_EFI_SUCCESS);
	CHECK_EQ(get_byte(g, GV, U("SetupMode")), 1);
	CHECK_STATUS(set_file(g, U("PK"), GV, SB_ATTR, "PK.auth"), VV_EFI_SUCCESS);
	CHECK_EQ(get_byte(g, GV, U("SetupMode")), 0);
	CHECK_EQ(vv_secureboot_mode(vm.sb), VV_SB_USER);
	/* user mode: a db signed by a key nobody enrolled */
	size = sizeof(buf);
	CHECK_STATUS(xv_get(g, U("db"), DBG, &attr, buf, &size), VV_EFI_SUCCESS);
	CHECK_EQ(attr, SB_ATTR);
	db_size_after[p] = size;
	CHECK_STATUS(set_file(g, U("db"), DBG, SB_ATTR, "db-rogue.auth"),
		     VV_EFI_SECURITY_VIOLATION);
	size = sizeof(buf);
	CHECK_STATUS(xv_get(g, U("db"), DBG, &attr, buf, &size), VV_EFI_SUCCESS);
	CHECK_EQ(size, db_size_after[p]);

	/* ExitBootServices */
	xv_exit_boot_services(g);
	size = sizeof(buf);
	CHECK_STATUS(xv_get(g, U("BsOnly"), &TEST_GUID, &attr, buf, &size), VV_EFI_NOT_FOUND);
	CHECK(vv_store_at_runtime(vm.store));
	/* runtime writes */
	CHECK_STATUS(xv_set(g, U("BootOrder"), GV, NV_BS_RT, "\1\0", 2), VV_EFI_SUCCESS);
	CHECK_STATUS(xv_set(g, U("Vol2"), &TEST_GUID, BS_RT, "v", 1), VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(xv_set(g, U("RtVar"), &TEST_GUID, NV_BS_RT, "r", 1), VV_EFI_SUCCESS);
	CHECK_STATUS(set_file(g, U("db"), DBG, SB_ATTR | VV_ATTR_APPEND, "db-append.auth"),
		     VV_EFI_SUCCESS);
	size = sizeof(buf);
	CHECK_STATUS(xv_get(g, U("db"), DBG, &attr, buf, &size), VV_EFI_SUCCESS);
	CHECK(size > db_size_after[p]);
	db_size_after[p] = size;
	/* a Xen guest claiming boot time again gains nothing */
	g->at_runtime = false;
	size = sizeof(buf);
	CHECK_STATUS(xv_get(g, U("BsOnly"), &TEST_GUID, &attr, buf, &size), VV_EFI_NOT_FOUND);

	/* VM reset: a new service on the same file */
	vm_stop(&vm);
	vm_start(&vm, p, store_path[p]);
	g = &vm.g;
	size = sizeof(buf);
	CHECK_STATUS(xv_get(g, U("Vol"), &TEST_GUID, &attr, buf, &size), VV_EFI_NOT_FOUND);
	size = sizeof(buf);
	CHECK_STATUS(xv_get(g, U("BsOnly"), &TEST_GUID, &attr, buf, &size), VV_EFI_SUCCESS);
	size = sizeof(buf);
	CHECK_STATUS(xv_get(g, U("BootOrder"), GV, &attr, buf, &size), VV_EFI_SUCCESS);
	CHECK_MEM(buf, "\1\0", 2);
	CHECK_EQ(get_byte(g, GV, U("SetupMode")), 0);
	size = sizeof(buf);
	CHECK_STATUS(xv_get(g, U("db"), DBG, &attr, buf, &size), VV_EFI_SUCCESS);
	CHECK_EQ(size, db_size_after[p]);
	vm_stop(&vm);
}

/*
 * varstored's authenticated-variable behaviours (reference §4.4, §5.2,
 * §5.6; its suite, §8.2) through each personality, keys enrolled:
 *   non-append write with an older or equal timestamp: SECURITY_VIOLATION;
 *   append with an older timestamp: accepted, the stored time stays;
 *   an append of entries already there: accepted, nothing added, the
 *     later timestamp taken;
 *   a PK append: INVALID_PARAMETER;
 *   deleting an authenticated variable by clearing its attributes:
 *     INVALID_PARAMETER (UEFI 2.7A p.248);
 *   KEK signed by a key that is not PK: SECURITY_VIOLATION.
 */
static void
test_auth_conformance(void)
{
	NEED_KEYS();
	for (int p = 0; p < P_COUNT; p++) {
		char dir[] = "/tmp/vmvars-xvauth-XXXXXX", path[300], cmd[400];
		const struct vv_variable *db;
		struct vm vm;
		vv_efi_time t;
		size_t size;

		REQUIRE(mkdtemp(dir) != NULL);
		snprintf(path, sizeof(path), "%s/vars.json", dir);
		vm_start(&vm, (enum personality)p, path);
		CHECK_STATUS(set_file(&vm.g, U("KEK"), GV, SB_ATTR, "KEK.auth"), VV_EFI_SUCCESS);
		CHECK_STATUS(set_file(&vm.g, U("db"), DBG, SB_ATTR, "db.auth"), VV_EFI_SUCCESS);
		CHECK_STATUS(set_file(&vm.g, U("PK"), GV, SB_ATTR, "PK.auth"), VV_EFI_SUCCESS);
		db = vv_store_find(vm.store, U("db"), DBG);
		REQUIRE(db != NULL && db->has_time);
		t = db->time;
		size = db->data_size;
		CHECK_STATUS(set_file(&vm.g, U("db"), DBG, SB_ATTR, "db-older.auth"),
			     VV_EFI_SECURITY_VIOLATION);
		CHECK_STATUS(set_file(&vm.g, U("db"), DBG, SB_ATTR, "db-same.auth"),
			     VV_EFI_SECURITY_VIOLATION);
		CHECK_STATUS(set_file(&vm.g, U("db"), DBG, SB_ATTR | VV_ATTR_APPEND,
				      "db-append-older.auth"), VV_EFI_SUCCESS);
		db = vv_store_find(vm.store, U("db"), DBG);
		CHECK(db->data_size > size);
		CHECK(memcmp(db->time.b, t.b, sizeof(t.b)) == 0);
		size = db->data_size;
		/* the same entries again: de-duplicated */
		CHECK_STATUS(set_file(&vm.g, U("db"), DBG, SB_ATTR | VV_ATTR_APPEND,
				      "db-append.auth"), VV_EFI_SUCCESS);
		CHECK_EQ(vv_store_find(vm.store, U("db"), DBG)->data_size, size);
		/* ... and, being later, it still moves the time forward (§5.6) */
		CHECK(memcmp(vv_store_find(vm.store, U("db"), DBG)->time.b, t.b, sizeof(t.b)) != 0);
		CHECK_STATUS(xv_set(&vm.g, U("db"), DBG, 0, "x", 1), VV_EFI_INVALID_PARAMETER);
		CHECK_STATUS(set_file(&vm.g, U("KEK"), GV, SB_ATTR, "KEK-rogue.auth"),
			     VV_EFI_SECURITY_VIOLATION);
		/* a PK append (varstored: INVALID_PARAMETER) */
		CHECK_STATUS(set_file(&vm.g, U("PK"), GV, SB_ATTR | VV_ATTR_APPEND, "PK-append.auth"),
			     VV_EFI_INVALID_PARAMETER);
		vm_stop(&vm);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		CHECK(system(cmd) == 0);
	}
}

static void test_boot_xen(void) { scripted_boot(P_XEN); }
static void test_boot_aws_doorbell(void) { scripted_boot(P_AWS_DOORBELL); }
static void test_boot_aws_transfer(void) { scripted_boot(P_AWS_TRANSFER); }

/* What personality `from` wrote, seen through the other two and MM. */
static void
test_served_by_the_others(void)
{
	NEED_KEYS();
	for (int from = 0; from < P_COUNT; from++) {
		REQUIRE(store_path[from][0] != '\0');
		for (int to = 0; to < P_COUNT; to++) {
			struct vm vm;
			uint8_t buf[8192];
			uint64_t size = sizeof(buf);
			uint32_t attr;

			if (to == from)
				continue;
			vm_start(&vm, (enum personality)to, store_path[from]);
			CHECK_EQ(get_byte(&vm.g, GV, U("SetupMode")), 0);
			CHECK_STATUS(xv_get(&vm.g, U("db"), DBG, &attr, buf, &size), VV_EFI_SUCCESS);
			CHECK_EQ(size, db_size_after[from]);
			size = sizeof(buf);
			CHECK_STATUS(xv_get(&vm.g, U("RtVar"), &TEST_GUID, &attr, buf, &size),
				     VV_EFI_SUCCESS);
			/* the keys work here too: a rogue db is refused */
			CHECK_STATUS(set_file(&vm.g, U("db"), DBG, SB_ATTR, "db-rogue.auth"),
				     VV_EFI_SECURITY_VIOLATION);
			vm_stop(&vm);
		}
		/* and through edk2 MM, the uefi-vars device */
		{
			struct vv_store *s = vv_store_new(NULL);
			struct vv_error err;
			struct vv_secureboot *sb;
			struct vv_mm *mm;
			struct vv_uefi_vars_device *dev;
			struct fw_guest fg;
			uint8_t buf[8192], b = 0xff;
			uint64_t size = sizeof(buf);
			uint32_t attr;
			char why[128];

			REQUIRE(s != NULL);
			vv_store_set_backend(s, vv_json_file_backend_new(store_path[from], &err));
			REQUIRE(vv_store_load(s, &err) == 0);
			sb = vv_secureboot_new(s, NULL);
			mm = vv_mm_new(s, NULL);
			REQUIRE(fw_guest_alloc(&fg, false) == 0);
			dev = vv_uefi_vars_device_new(mm, fw_guest_memory(&fg), false);
			REQUIRE(dev != NULL && fw_guest_init(&fg, dev, why, sizeof(why)) == 0);
			CHECK_STATUS(fw_get_variable(&fg, U("db"), DBG, &attr, buf, &size),
				     VV_EFI_SUCCESS);
			CHECK_EQ(size, db_size_after[from]);
			size = 1;
			CHECK_STATUS(fw_get_variable(&fg, U("SetupMode"), GV, &attr, &b, &size),
				     VV_EFI_SUCCESS);
			CHECK_EQ(b, 0);
			vv_uefi_vars_device_free(dev);
			vv_mm_free(mm);
			vv_secureboot_free(sb);
			vv_store_free(s);
			fw_guest_release(&fg);
		}
	}
}

static void
test_cleanup(void)
{
	char cmd[1024];

	(void)sb_write;         /* a helper of sb_tools.h this test does not need */
	for (int p = 0; p < P_COUNT; p++) {
		char *slash;

		if (store_path[p][0] == '\0')
			continue;
		slash = strrchr(store_path[p], '/');
		*slash = '\0';
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", store_path[p]);
		CHECK(system(cmd) == 0);
	}
	sb_tools_cleanup();
}

static const struct vv_test tests[] = {
	TEST(test_make_keys),
	TEST(test_boot_xen),
	TEST(test_boot_aws_doorbell),
	TEST(test_boot_aws_transfer),
	TEST(test_served_by_the_others),
	TEST(test_auth_conformance),
	TEST(test_cleanup),
};

VV_TEST_MAIN(tests)
