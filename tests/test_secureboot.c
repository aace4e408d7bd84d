/*
 * tests/test_secureboot.c -- Secure Boot as the guest sees it through the
 * MM protocol, with keys, signature lists and signed updates made by
 * openssl and efitools (sb_tools.h): enrollment, the key hierarchy,
 * timestamps, tampering, appends with de-duplication, every mode
 * transition (observed with GetVariable of the mode variables), private
 * authenticated variables, and the host owner's enrollment API.
 */
#include <zlib.h>

#include <vmvars/snapshot.h>

#include "harness.h"
#include "sb_tools.h"
#include "store_util.h"

#include <vmvars/secureboot.h>

#define BUF 65536u
#define SB_ATTR 0x27u
#define OWNER "11111111-2222-3333-4444-555555555555"

static uint8_t buf[BUF];

struct sbenv {
	struct vv_store *s;
	struct vv_policy *p;
	struct vv_mm *mm;
	struct vv_secureboot *sb;
};

static void
env_open(struct sbenv *e, const struct vv_secureboot_config *cfg)
{
	e->s = vv_store_new(NULL);
	e->p = vv_policy_new(e->s, NULL);
	e->mm = vv_mm_new(e->s, e->p);
	e->sb = vv_secureboot_new(e->s, cfg);
	REQUIRE(e->s && e->p && e->mm && e->sb);
}

static void
env_close(struct sbenv *e)
{
	vv_secureboot_free(e->sb);
	vv_mm_free(e->mm);
	vv_policy_free(e->p);
	vv_store_free(e->s);
}

/* SetVariable through the MM protocol. */
static vv_status
mm_set(struct sbenv *e, const vv_guid *g, const char *name, uint32_t attr, const void *data,
       size_t size)
{
	uint8_t *p = buf + 40;
	size_t ns = (strlen(name) + 1) * 2;

	memset(buf, 0, 40 + 36 + ns + size);
	memcpy(buf, VV_GUID_SMM_VARIABLE.b, 16);
	vv_put_le64(buf + 16, 16 + 36 + ns + size);
	vv_put_le64(buf + 24, VV_MM_SET_VARIABLE);
	memcpy(p, g->b, 16);
	vv_put_le64(p + 16, size);
	vv_put_le64(p + 24, ns);
	vv_put_le32(p + 32, attr);
	for (size_t i = 0; name[i]; i++)
		vv_put_le16(p + 36 + 2 * i, (uint8_t)name[i]);
	if (size)
		memcpy(p + 36 + ns, data, size);
	if (vv_mm_handle(e->mm, buf, BUF) != VV_STS_SUCCESS)
		return VV_EFI_DEVICE_ERROR;
	return vv_le64(buf + 32);
}

/* GetVariable through the MM protocol; the first byte, or -1 if absent. */
static int
mm_get_byte(struct sbenv *e, const vv_guid *g, const char *name)
{
	uint8_t *p = buf + 40;
	size_t ns = (strlen(name) + 1) * 2;

	memset(buf, 0, 40 + 36 + ns + 16);
	memcpy(buf, VV_GUID_SMM_VARIABLE.b, 16);
	vv_put_le64(buf + 16, 16 + 36 + ns + 16);
	vv_put_le64(buf + 24, VV_MM_GET_VARIABLE);
	memcpy(p, g->b, 16);
	vv_put_le64(p + 16, 16);
	vv_put_le64(p + 24, ns);
	for (size_t i = 0; name[i]; i++)
		vv_put_le16(p + 36 + 2 * i, (uint8_t)name[i]);
	if (vv_mm_handle(e->mm, buf, BUF) != VV_STS_SUCCESS || vv_le64(buf + 32) != 0)
		return -1;
	return p[36 + ns];
}

/* Sends an .auth file made by sign-efi-sig-list. */
static vv_status
send_auth(struct sbenv *e, const vv_guid *g, const char *var, uint32_t attr, const char *file)
{
	size_t size;
	uint8_t *data = sb_read(file, &size);
	vv_status st;

	REQUIRE(data != NULL);
	st = mm_set(e, g, var, attr, data, size);
	free(data);
	return st;
}

#define GV (&VV_GUID_GLOBAL_VARIABLE)
#define DBG (&VV_GUID_IMAGE_SECURITY_DB)

/* The mode variables as the guest reads them. */
static void
check_mode(struct sbenv *e, int setup, int secure, int audit, int deployed)
{
	CHECK_EQ(mm_get_byte(e, GV, "SetupMode"), setup);
	CHECK_EQ(mm_get_byte(e, GV, "SecureBoot"), secure);
	CHECK_EQ(mm_get_byte(e, GV, "AuditMode"), audit);
	CHECK_EQ(mm_get_byte(e, GV, "DeployedMode"), deployed);
}

static bool tools_ready;

static void
test_make_keys(void)
{
	if (!sb_tools_init())
		SKIP("openssl/efitools not installed (./dev deps installs them)");
	REQUIRE(sb_make_key("PK", "rsa:2048") == 0);
	REQUIRE(sb_make_key("KEK", "rsa:4096") == 0);
	REQUIRE(sb_make_key("DB", "ec") == 0);
	REQUIRE(sb_make_key("ROGUE", "rsa:2048") == 0);
	REQUIRE(sb_make_key("PRIV2", "rsa:2048") == 0);
	REQUIRE(sb_make_esl("PK", OWNER) == 0 && sb_make_esl("KEK", OWNER) == 0);
	REQUIRE(sb_make_esl("DB", OWNER) == 0 && sb_make_esl("ROGUE", OWNER) == 0);
	REQUIRE(sb_sh("cat DB.esl ROGUE.esl > DB2.esl && : > empty.esl") == 0);
	/* enrollment payloads */
	REQUIRE(sb_sign("PK", "PK.esl", "PK", "2025-01-01 00:00:00", "", "PK.auth") == 0);
	REQUIRE(sb_sign("PK", "PK.esl", "ROGUE", "2025-01-01 00:00:00", "", "PK-rogue.auth") == 0);
	REQUIRE(sb_sign("KEK", "KEK.esl", "PK", "2025-01-02 00:00:00", "", "KEK.auth") == 0);
	REQUIRE(sb_sign("KEK", "KEK.esl", "ROGUE", "2025-01-02 00:00:00", "", "KEK-rogue.auth") == 0);
	REQUIRE(sb_sign("db", "DB.esl", "KEK", "2025-01-03 00:00:00", "", "db.auth") == 0);
	REQUIRE(sb_sign("db", "DB.esl", "KEK", "2025-01-02 00:00:00", "", "db-older.auth") == 0);
	REQUIRE(sb_sign("db", "DB.esl", "KEK", "2025-01-03 00:00:00", "", "db-same.auth") == 0);
	REQUIRE(sb_sign("db", "DB2.esl", "KEK", "2025-01-04 00:00:00", "-a", "db-append.auth") == 0);
	REQUIRE(sb_sign("db", "DB.esl", "PK", "2025-01-05 00:00:00", "", "db-by-pk.auth") == 0);
	REQUIRE(sb_sign("dbx", "ROGUE.esl", "KEK", "2025-01-03 00:00:00", "", "dbx.auth") == 0);
	REQUIRE(sb_sign("PK", "empty.esl", "PK", "2025-02-01 00:00:00", "", "PK-delete.auth") == 0);
	/* key rotation (test_rotation_replaces_trust) */
	REQUIRE(sb_make_key("PK2", "rsa:2048") == 0 && sb_make_key("KEK2", "rsa:2048") == 0);
	REQUIRE(sb_make_esl("PK2", OWNER) == 0 && sb_make_esl("KEK2", OWNER) == 0);
	REQUIRE(sb_sign("KEK", "KEK2.esl", "PK", "2025-01-06 00:00:00", "", "KEK2.auth") == 0);
	REQUIRE(sb_sign("db", "DB.esl", "KEK", "2025-01-07 00:00:00", "", "db-kek-07.auth") == 0);
	REQUIRE(sb_sign("db", "DB.esl", "KEK2", "2025-01-08 00:00:00", "", "db-kek2-08.auth") == 0);
	REQUIRE(sb_sign("db", "DB.esl", "KEK", "2025-01-09 00:00:00", "", "db-kek-09.auth") == 0);
	REQUIRE(sb_sign("db", "DB.esl", "KEK2", "2025-01-10 00:00:00", "", "db-kek2-10.auth") == 0);
	REQUIRE(sb_sign("PK", "PK2.esl", "PK", "2025-01-11 00:00:00", "", "PK2.auth") == 0);
	REQUIRE(sb_sign("KEK", "KEK.esl", "PK", "2025-01-12 00:00:00", "", "KEK-by-pk-12.auth") == 0);
	REQUIRE(sb_sign("KEK", "KEK.esl", "PK2", "2025-01-13 00:00:00", "", "KEK-by-pk2-13.auth") == 0);
	REQUIRE(sb_sign("db", "DB.esl", "KEK", "2025-01-15 00:00:00", "", "db-kek-15.auth") == 0);
	REQUIRE(sb_sign("db", "DB.esl", "KEK2", "2025-01-16 00:00:00", "", "db-kek2-16.auth") == 0);
	tools_ready = true;
}

#define NEED_TOOLS() do { if (!tools_ready) SKIP("keys were not made (see test_make_keys)"); } while (0)

static void
test_initial_setup_mode(void)
{
	struct sbenv e;
	uint8_t zero = 0;

	env_open(&e, NULL);
	check_mode(&e, 1, 0, 0, 0);
	CHECK_EQ(mm_get_byte(&e, GV, "VendorKeys"), 1);
	/* VendorKeysNv as edk2 creates it: NV|BS|AT (0x23), value 1 */
	REQUIRE(vv_store_find(e.s, U("VendorKeysNv"), &VV_GUID_VENDOR_KEYS_NV) != NULL);
	CHECK_EQ(vv_store_find(e.s, U("VendorKeysNv"), &VV_GUID_VENDOR_KEYS_NV)->attributes, 0x23);
	CHECK_EQ(vv_store_find(e.s, U("VendorKeysNv"), &VV_GUID_VENDOR_KEYS_NV)->data[0], 1);
	CHECK(vv_store_find(e.s, U("SignatureSupport"), GV)->data_size == 6 * 16);
	CHECK_EQ(vv_secureboot_mode(e.sb), VV_SB_SETUP);
	/* the mode variables are the service's */
	CHECK_STATUS(mm_set(&e, GV, "SetupMode", BS_RT, &zero, 1), VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(mm_set(&e, GV, "SecureBoot", BS_RT, &zero, 1), VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(mm_set(&e, &VV_GUID_VENDOR_KEYS_NV, "VendorKeysNv", NV_BS_RT, &zero, 1),
		     VV_EFI_WRITE_PROTECTED);
	/* unauthenticated writes of the databases */
	CHECK_STATUS(mm_set(&e, GV, "PK", NV_BS_RT, "x", 1), VV_EFI_INVALID_PARAMETER);
	{
		uint8_t desc[40] = { 0 };

		vv_put_le32(desc + 16, 24);            /* an empty PKCS#7: row 10 passes */
		vv_put_le16(desc + 22, 0x0ef1);
		CHECK_STATUS(mm_set(&e, DBG, "db", NV_BS_RT | VV_ATTR_AT | VV_ATTR_HR, desc, 40),
			     VV_EFI_INVALID_PARAMETER);   /* row 21: not exactly 0x27 */
	}
	CHECK_STATUS(mm_set(&e, GV, "KEK", SB_ATTR, "short", 5), VV_EFI_SECURITY_VIOLATION);
	check_mode(&e, 1, 0, 0, 0);
	/* The host may not write them either: they are derived from PK and the
	 * mode flags (issue #17: a host write of SecureBoot used to succeed
	 * and show the guest SecureBoot=1 in setup mode). */
	{
		static const char *const derived[] = {
			"SecureBoot", "SetupMode", "VendorKeys", "AuditMode", "DeployedMode",
		};
		uint8_t one = 1;

		for (size_t i = 0; i < 5; i++) {
			struct vv_set_request req = {
				.name_len = strlen(derived[i]), .guid = *GV,
				.attributes = BS_RT, .data = &one, .data_size = 1,
				.caller = VV_CALLER_HOST,
			};
			uint16_t name[16];

			for (size_t k = 0; k < req.name_len; k++)
				name[k] = (uint8_t)derived[i][k];
			req.name = name;
			CHECK_STATUS(vv_store_set(e.s, &req), VV_EFI_WRITE_PROTECTED);
			CHECK(strcmp(vv_store_last_refusal(e.s), "derived by the Secure Boot service "
				     "from PK and its mode; it cannot be written: enroll or delete "
				     "PK, or change the mode (vmvars sb-mode)") == 0);
		}
		check_mode(&e, 1, 0, 0, 0);
		CHECK_EQ(mm_get_byte(&e, GV, "VendorKeys"), 1);
	}
	env_close(&e);
}

static void
test_enroll_and_hierarchy(void)
{
	struct sbenv e;
	size_t n;
	uint8_t *data;
	const struct vv_variable *v;

	NEED_TOOLS();
	env_open(&e, NULL);
	/* setup mode: PK must be self-signed */
	CHECK_STATUS(send_auth(&e, GV, "PK", SB_ATTR, "PK-rogue.auth"), VV_EFI_SECURITY_VIOLATION);
	CHECK(strcmp(vv_store_last_refusal(e.s), "a PK enrollment must be signed by the "
		     "certificate it enrolls (self-signed); this one is not") == 0);
	check_mode(&e, 1, 0, 0, 0);
	CHECK(vv_store_find(e.s, U("SecureBootEnable"), &VV_GUID_SECURE_BOOT_ENABLE) == NULL);
	CHECK_STATUS(send_auth(&e, GV, "PK", SB_ATTR, "PK.auth"), VV_EFI_SUCCESS);
	check_mode(&e, 0, 1, 0, 0);
	CHECK_EQ(vv_secureboot_mode(e.sb), VV_SB_USER);
	CHECK_EQ(mm_get_byte(&e, GV, "VendorKeys"), 0);
	/* Issue #12 finding 6: edk2 creates SecureBootEnable (NV|BS, 1) as
	 * PK moves the platform to user mode; EnrollDefaultKeys.efi reads it
	 * right after its PK write and fails when it is missing. */
	v = vv_store_find(e.s, U("SecureBootEnable"), &VV_GUID_SECURE_BOOT_ENABLE);
	REQUIRE(v != NULL);
	CHECK_EQ(v->attributes, VV_ATTR_NV | VV_ATTR_BS);
	CHECK_EQ(v->data_size, 1);
	CHECK_EQ(v->data[0], 1);
	CHECK_EQ(mm_get_byte(&e, &VV_GUID_SECURE_BOOT_ENABLE, "SecureBootEnable"), 1);
	/* KEK: signed by PK only */
	CHECK_STATUS(send_auth(&e, GV, "KEK", SB_ATTR, "KEK-rogue.auth"), VV_EFI_SECURITY_VIOLATION);
	CHECK(strcmp(vv_store_last_refusal(e.s), "not signed by the enrolled PK") == 0);
	CHECK(vv_store_find(e.s, U("KEK"), GV) == NULL);
	CHECK_STATUS(send_auth(&e, GV, "KEK", SB_ATTR, "KEK.auth"), VV_EFI_SUCCESS);
	/* db: by KEK (or PK) */
	CHECK_STATUS(send_auth(&e, DBG, "db", SB_ATTR, "db.auth"), VV_EFI_SUCCESS);
	CHECK_STATUS(send_auth(&e, DBG, "dbx", SB_ATTR, "dbx.auth"), VV_EFI_SUCCESS);
	/* replays: older and equal timestamps */
	CHECK_STATUS(send_auth(&e, DBG, "db", SB_ATTR, "db-older.auth"), VV_EFI_SECURITY_VIOLATION);
	CHECK(strcmp(vv_store_last_refusal(e.s), "its timestamp is not later than the "
		     "variable's (a stale or replayed signed update)") == 0);
	CHECK_STATUS(send_auth(&e, DBG, "db", SB_ATTR, "db-same.auth"), VV_EFI_SECURITY_VIOLATION);
	/* attributes other than the signed ones: the signature no longer matches */
	CHECK_STATUS(send_auth(&e, DBG, "db", SB_ATTR, "db-append.auth"), VV_EFI_SECURITY_VIOLATION);
	/* tampered payload */
	data = sb_read("db-by-pk.auth", &n);
	REQUIRE(data != NULL);
	data[n - 1] ^= 1;
	CHECK_STATUS(mm_set(&e, DBG, "db", SB_ATTR, data, n), VV_EFI_SECURITY_VIOLATION);
	CHECK(strcmp(vv_store_last_refusal(e.s), "not signed by the enrolled PK or a KEK") == 0);
	data[n - 1] ^= 1;
	/* db may also be signed by PK */
	CHECK_STATUS(mm_set(&e, DBG, "db", SB_ATTR, data, n), VV_EFI_SUCCESS);
	free(data);
	/* append with overlap: the DB certificate is stored once */
	v = vv_store_find(e.s, U("db"), DBG);
	REQUIRE(v != NULL);
	n = v->data_size;
	CHECK_STATUS(send_auth(&e, DBG, "db", SB_ATTR | VV_ATTR_APPEND, "db-append.auth"),
		     VV_EFI_SUCCESS);
	v = vv_store_find(e.s, U("db"), DBG);
	data = sb_read("DB2.esl", &n);
	REQUIRE(data != NULL);
	CHECK_EQ(v->data_size, n);                     /* DB once + ROGUE */
	free(data);
	CHECK_EQ(v->attributes, SB_ATTR);
	/* delete by clearing attributes is refused */
	CHECK_STATUS(mm_set(&e, DBG, "db", 0, NULL, 0), VV_EFI_INVALID_PARAMETER);
	CHECK(vv_store_find(e.s, U("db"), DBG) != NULL);
	/* PK delete, signed by PK: back to setup mode */
	CHECK_STATUS(send_auth(&e, GV, "PK", SB_ATTR, "PK-delete.auth"), VV_EFI_SUCCESS);
	CHECK(vv_store_find(e.s, U("PK"), GV) == NULL);
	check_mode(&e, 1, 0, 0, 0);
	/* ... and deletes it on the way back to setup mode */
	CHECK(vv_store_find(e.s, U("SecureBootEnable"), &VV_GUID_SECURE_BOOT_ENABLE) == NULL);
	env_close(&e);
}

static void
test_modes_audit_and_deployed(void)
{
	struct sbenv e;
	uint8_t one = 1, zero = 0;

	NEED_TOOLS();
	env_open(&e, NULL);
	/* Setup -> Audit */
	CHECK_STATUS(mm_set(&e, GV, "AuditMode", BS_RT, &one, 1), VV_EFI_SUCCESS);
	check_mode(&e, 1, 0, 1, 0);
	CHECK_EQ(vv_secureboot_mode(e.sb), VV_SB_AUDIT);
	CHECK_STATUS(mm_set(&e, GV, "AuditMode", BS_RT, &zero, 1), VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(mm_set(&e, GV, "DeployedMode", BS_RT, &one, 1), VV_EFI_WRITE_PROTECTED);
	/* Audit -> Deployed by enrolling PK */
	CHECK_STATUS(send_auth(&e, GV, "PK", SB_ATTR, "PK.auth"), VV_EFI_SUCCESS);
	check_mode(&e, 0, 1, 0, 1);
	CHECK_EQ(vv_secureboot_mode(e.sb), VV_SB_DEPLOYED);
	/* deployed is sticky: survives a reset, PK cannot be deleted */
	vv_store_signal(e.s, VV_EVENT_RESET);
	check_mode(&e, 0, 1, 0, 1);
	CHECK_STATUS(send_auth(&e, GV, "PK", SB_ATTR, "PK-delete.auth"), VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(mm_set(&e, GV, "DeployedMode", BS_RT, &zero, 1), VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(mm_set(&e, GV, "AuditMode", BS_RT, &one, 1), VV_EFI_WRITE_PROTECTED);
	/* Deployed -> User: the host owner only */
	CHECK_STATUS(vv_secureboot_set_mode(e.sb, VV_SB_USER), VV_EFI_SUCCESS);
	check_mode(&e, 0, 1, 0, 0);
	/* User -> Deployed by the guest */
	CHECK_STATUS(mm_set(&e, GV, "DeployedMode", BS_RT, &one, 1), VV_EFI_SUCCESS);
	check_mode(&e, 0, 1, 0, 1);
	CHECK_STATUS(vv_secureboot_set_mode(e.sb, VV_SB_USER), VV_EFI_SUCCESS);
	/* User -> Audit clears PK */
	CHECK_STATUS(mm_set(&e, GV, "AuditMode", BS_RT, &one, 1), VV_EFI_SUCCESS);
	check_mode(&e, 1, 0, 1, 0);
	CHECK(vv_store_find(e.s, U("PK"), GV) == NULL);
	/* mode variables cannot be written at runtime */
	vv_store_signal(e.s, VV_EVENT_EXIT_BOOT_SERVICES);
	CHECK_STATUS(mm_set(&e, GV, "DeployedMode", BS_RT, &one, 1), VV_EFI_WRITE_PROTECTED);
	env_close(&e);
}

static void
test_secure_boot_enable_and_custom_mode_switches(void)
{
	struct sbenv e;
	struct vv_secureboot_config cfg = { true, true };
	uint8_t zero = 0, one = 1;

	env_open(&e, &cfg);
	CHECK_STATUS(mm_set(&e, &VV_GUID_SECURE_BOOT_ENABLE, "SecureBootEnable",
			    VV_ATTR_NV | VV_ATTR_BS, &zero, 1), VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(mm_set(&e, &VV_GUID_CUSTOM_MODE, "CustomMode", VV_ATTR_NV | VV_ATTR_BS, &one, 1),
		     VV_EFI_WRITE_PROTECTED);
	CHECK_EQ(vv_store_find(e.s, U("SecureBootEnable"), &VV_GUID_SECURE_BOOT_ENABLE)->data[0], 1);
	env_close(&e);
	env_open(&e, NULL);
	CHECK_STATUS(mm_set(&e, &VV_GUID_SECURE_BOOT_ENABLE, "SecureBootEnable",
			    VV_ATTR_NV | VV_ATTR_BS, &zero, 1), VV_EFI_SUCCESS);
	env_close(&e);
}

/*
 * edk2's UpdatePlatformMode (review of issue #12, R6): entering user mode
 * writes SecureBootEnable = 1 whatever it held; at runtime a PK change
 * touches neither SecureBootEnable nor SecureBoot (the running boot keeps
 * the Secure Boot state it started with), while SetupMode follows PK.
 */
static void
test_secure_boot_enable_follows_edk2(void)
{
	struct sbenv e;
	uint8_t zero = 0;

	NEED_TOOLS();
	env_open(&e, NULL);
	CHECK_STATUS(mm_set(&e, &VV_GUID_SECURE_BOOT_ENABLE, "SecureBootEnable",
			    VV_ATTR_NV | VV_ATTR_BS, &zero, 1), VV_EFI_SUCCESS);
	CHECK_STATUS(send_auth(&e, GV, "PK", SB_ATTR, "PK.auth"), VV_EFI_SUCCESS);
	CHECK_EQ(mm_get_byte(&e, &VV_GUID_SECURE_BOOT_ENABLE, "SecureBootEnable"), 1);
	check_mode(&e, 0, 1, 0, 0);
	/* the OS deletes PK at runtime: setup mode, SecureBoot as it was */
	vv_store_signal(e.s, VV_EVENT_END_OF_DXE);
	vv_store_signal(e.s, VV_EVENT_EXIT_BOOT_SERVICES);
	CHECK_STATUS(send_auth(&e, GV, "PK", SB_ATTR, "PK-delete.auth"), VV_EFI_SUCCESS);
	CHECK_EQ(mm_get_byte(&e, GV, "SetupMode"), 1);
	CHECK_EQ(mm_get_byte(&e, GV, "SecureBoot"), 1);
	CHECK(vv_store_find(e.s, U("SecureBootEnable"), &VV_GUID_SECURE_BOOT_ENABLE) != NULL);
	/* the next boot sees setup mode, Secure Boot off */
	vv_store_signal(e.s, VV_EVENT_RESET);
	check_mode(&e, 1, 0, 0, 0);
	env_close(&e);
}

/* Re-seals a snapshot after an edit: total size and CRC-32 (docs/snapshot.md). */
static void
snap_reseal(uint8_t *b, size_t n)
{
	vv_put_le64(b + 16, n);
	vv_put_le32(b + n - 4, (uint32_t)crc32(0L, b, (unsigned)(n - 4)));
}

/*
 * Second review of #14, finding 2: a snapshot (migration, or a restart
 * record) must not make the service serve Secure Boot state its keys do
 * not produce.  edk2 skips image verification when it reads SecureBoot 0,
 * and reads db through GetVariable.
 */
static void
test_snapshot_secure_boot_state_checked(void)
{
	static const uint16_t sb_name[] = u"SecureBoot";
	struct sbenv a, b;
	struct vv_service sa, sv;
	struct vv_error err = { { 0 } };
	uint8_t *snap = NULL, *bad;
	size_t n = 0, at = 0, i;
	uint8_t pat[20];

	NEED_TOOLS();
	env_open(&a, NULL);
	CHECK_STATUS(send_auth(&a, GV, "PK", SB_ATTR, "PK.auth"), VV_EFI_SUCCESS);
	vv_store_signal(a.s, VV_EVENT_END_OF_DXE);
	check_mode(&a, 0, 1, 0, 0);
	sa = (struct vv_service){ a.s, a.p, NULL };
	REQUIRE(vv_snapshot_save(&sa, NULL, &snap, &n, &err) == 0);
	for (i = 0; i < 10; i++)
		vv_put_le16(pat + 2 * i, sb_name[i]);
	for (i = 48; i + sizeof(pat) < n && at == 0; i++)
		if (memcmp(snap + i, pat, sizeof(pat)) == 0)
			at = i + sizeof(pat);           /* SecureBoot's one data byte */
	REQUIRE(at != 0 && snap[at] == 1);
	bad = malloc(n + 128);
	REQUIRE(bad != NULL);

	/* the unedited snapshot loads into a service with the same keys */
	env_open(&b, NULL);
	CHECK_STATUS(send_auth(&b, GV, "PK", SB_ATTR, "PK.auth"), VV_EFI_SUCCESS);
	sv = (struct vv_service){ b.s, b.p, NULL };
	CHECK(vv_snapshot_load(&sv, NULL, snap, n, &err) == 0);
	env_close(&b);

	/* SecureBoot turned off for the running boot: refused */
	memcpy(bad, snap, n);
	bad[at] = 0;
	snap_reseal(bad, n);
	env_open(&b, NULL);
	CHECK_STATUS(send_auth(&b, GV, "PK", SB_ATTR, "PK.auth"), VV_EFI_SUCCESS);
	sv = (struct vv_service){ b.s, b.p, NULL };
	CHECK(vv_snapshot_load(&sv, NULL, bad, n, &err) == -1);
	CHECK(strstr(err.msg, "SecureBoot is 0, but the keys and mode flags") != NULL);
	CHECK_EQ(mm_get_byte(&b, GV, "SecureBoot"), 1);
	env_close(&b);

	/* a volatile db next to the real one: refused */
	{
		size_t rec = 8 + 48 + 4 + 48, off = n - 4;

		memcpy(bad, snap, off);
		memset(bad + off, 0, rec);
		vv_put_le16(bad + off, 2);                       /* VARIABLE */
		vv_put_le32(bad + off + 4, (uint32_t)(rec - 8));
		memcpy(bad + off + 8, DBG->b, 16);
		vv_put_le32(bad + off + 24, VV_ATTR_BS | VV_ATTR_RT);
		vv_put_le32(bad + off + 28, 2);                  /* name "db" */
		vv_put_le32(bad + off + 32, 48);                 /* data */
		vv_put_le16(bad + off + 56, 'd');
		vv_put_le16(bad + off + 58, 'b');
		memset(bad + off + 60, 0xab, 48);
		snap_reseal(bad, n + rec);
		env_open(&b, NULL);
		CHECK_STATUS(send_auth(&b, GV, "PK", SB_ATTR, "PK.auth"), VV_EFI_SUCCESS);
		sv = (struct vv_service){ b.s, b.p, NULL };
		CHECK(vv_snapshot_load(&sv, NULL, bad, n + rec, &err) == -1);
		CHECK(strstr(err.msg, "a Secure Boot key database with attributes 0x6") != NULL);
		CHECK(vv_store_find(b.s, U("db"), DBG) == NULL);
		env_close(&b);
	}
	free(bad);
	free(snap);
	env_close(&a);
}

static void
test_custom_mode_skips_signatures(void)
{
	struct sbenv e;
	uint8_t one = 1;

	NEED_TOOLS();
	env_open(&e, NULL);
	CHECK_STATUS(send_auth(&e, GV, "PK", SB_ATTR, "PK.auth"), VV_EFI_SUCCESS);
	CHECK_STATUS(send_auth(&e, GV, "KEK", SB_ATTR, "KEK-rogue.auth"), VV_EFI_SECURITY_VIOLATION);
	CHECK_STATUS(mm_set(&e, &VV_GUID_CUSTOM_MODE, "CustomMode", VV_ATTR_NV | VV_ATTR_BS, &one, 1),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(send_auth(&e, GV, "KEK", SB_ATTR, "KEK-rogue.auth"), VV_EFI_SUCCESS);
	/* a reset turns custom mode off again */
	vv_store_signal(e.s, VV_EVENT_RESET);
	CHECK_EQ(vv_store_find(e.s, U("CustomMode"), &VV_GUID_CUSTOM_MODE)->data[0], 0);
	env_close(&e);
}

/* A private authenticated variable signed with openssl cms over the
 * signed data built here: name || guid || attributes || time || value. */
static int
make_private_auth_with(const char *signer, const char *cms_extra, const char *name,
		       const vv_guid *g, uint32_t attr, const char *ts16hex, const char *value,
		       const char *out)
{
	uint8_t sd[512], hdr[40], t[16];
	size_t n = 0, vlen = strlen(value), sig_size, total;
	uint8_t *sig, *auth;
	int rc;

	for (size_t i = 0; i < 16; i++) {
		unsigned x;

		sscanf(ts16hex + 2 * i, "%2x", &x);
		t[i] = (uint8_t)x;
	}
	for (size_t i = 0; name[i]; i++) {
		sd[n++] = (uint8_t)name[i];
		sd[n++] = 0;
	}
	memcpy(sd + n, g->b, 16);
	n += 16;
	vv_put_le32(sd + n, attr);
	n += 4;
	memcpy(sd + n, t, 16);
	n += 16;
	memcpy(sd + n, value, vlen);
	n += vlen;
	if (sb_write("sd.bin", sd, n) != 0 ||
	    sb_sh("openssl cms -sign -binary -noattr -md sha256 -outform DER -in sd.bin "
		  "-signer %s.crt -inkey %s.key %s -out sig.der", signer, signer, cms_extra) != 0)
		return -1;
	sig = sb_read("sig.der", &sig_size);
	if (sig == NULL)
		return -1;
	total = 40 + sig_size + vlen;
	auth = malloc(total);
	memcpy(hdr, t, 16);
	vv_put_le32(hdr + 16, (uint32_t)(24 + sig_size));
	vv_put_le16(hdr + 20, 0x0200);
	vv_put_le16(hdr + 22, 0x0ef1);
	vv_guid_parse("4aafd29d-68df-49ee-8aa9-347d375665a7", (vv_guid *)(hdr + 24));
	memcpy(auth, hdr, 40);
	memcpy(auth + 40, sig, sig_size);
	memcpy(auth + 40 + sig_size, value, vlen);
	rc = sb_write(out, auth, total);
	free(sig);
	free(auth);
	return rc;
}

static int
make_private_auth(const char *signer, const char *name, const vv_guid *g, uint32_t attr,
		  const char *ts16hex, const char *value, const char *out)
{
	return make_private_auth_with(signer, "", name, g, attr, ts16hex, value, out);
}

static void
test_private_authenticated_variable(void)
{
	struct sbenv e;
	uint32_t at = NV_BS_RT | VV_ATTR_AT;
	const struct vv_variable *v;

	NEED_TOOLS();
	REQUIRE(make_private_auth("DB", "Priv", &TEST_GUID, at, "e9070101000000000000000000000000",
				  "first", "p1.auth") == 0);
	REQUIRE(make_private_auth("PRIV2", "Priv", &TEST_GUID, at, "e9070102000000000000000000000000",
				  "other", "p2.auth") == 0);
	REQUIRE(make_private_auth("DB", "Priv", &TEST_GUID, at, "e9070103000000000000000000000000",
				  "second", "p3.auth") == 0);
	REQUIRE(make_private_auth("DB", "Priv", &TEST_GUID, at, "e9070104000000000000000000000000",
				  "", "p4.auth") == 0);
	env_open(&e, NULL);
	CHECK_STATUS(send_auth(&e, &TEST_GUID, "Priv", at, "p1.auth"), VV_EFI_SUCCESS);
	v = vv_store_find(e.s, U("Priv"), &TEST_GUID);
	REQUIRE(v != NULL);
	CHECK_EQ(v->data_size, 5);
	CHECK_EQ(v->digest_size, 32);
	CHECK(v->has_time);
	/* another signer is refused; the bound one may update */
	CHECK_STATUS(send_auth(&e, &TEST_GUID, "Priv", at, "p2.auth"), VV_EFI_SECURITY_VIOLATION);
	CHECK_STATUS(send_auth(&e, &TEST_GUID, "Priv", at, "p3.auth"), VV_EFI_SUCCESS);
	CHECK_EQ(vv_store_find(e.s, U("Priv"), &TEST_GUID)->data_size, 6);
	/* replay of the first write: older */
	CHECK_STATUS(send_auth(&e, &TEST_GUID, "Priv", at, "p1.auth"), VV_EFI_SECURITY_VIOLATION);
	/* no delete by clearing attributes, nor by an unauthenticated write */
	CHECK_STATUS(mm_set(&e, &TEST_GUID, "Priv", 0, NULL, 0), VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(mm_set(&e, &TEST_GUID, "Priv", NV_BS_RT, "x", 1), VV_EFI_INVALID_PARAMETER);
	/* the bound signer deletes with an empty payload */
	CHECK_STATUS(send_auth(&e, &TEST_GUID, "Priv", at, "p4.auth"), VV_EFI_SUCCESS);
	CHECK(vv_store_find(e.s, U("Priv"), &TEST_GUID) == NULL);
	/* A private variable with no recorded signer (imported from efivarfs,
	 * say) is nobody's to take: the first signer may not bind it. */
	{
		vv_efi_time t0;

		memset(&t0, 0, sizeof(t0));
		vv_put_le16(t0.b, 2024);
		t0.b[2] = t0.b[3] = 1;
		REQUIRE(vv_store_put(e.s, U("Priv"), &TEST_GUID, at, "host", 4, &t0) ==
			VV_EFI_SUCCESS);
		CHECK_STATUS(send_auth(&e, &TEST_GUID, "Priv", at, "p3.auth"),
			     VV_EFI_SECURITY_VIOLATION);
		CHECK_EQ(vv_store_find(e.s, U("Priv"), &TEST_GUID)->data_size, 4);
		CHECK_EQ(vv_store_find(e.s, U("Priv"), &TEST_GUID)->digest_size, 0);
	}
	env_close(&e);
}

/*
 * Issue #12 finding 1: a guest that knows the victim's public root R and
 * signer CN forges a CA certificate A whose issuer NAME is R's subject
 * (signed with A's own key, no key identifiers), issues a leaf with the
 * victim's CN from A, and sends [leaf, A, R].  Trusting the blob's own
 * certificates, verification stopped at A while the issuer-name walk
 * reached R, so the binding matched.  Only R may anchor the chain.
 */
static void
test_private_forged_chain(void)
{
	struct sbenv e;
	uint32_t at = NV_BS_RT | VV_ATTR_AT;
	const struct vv_variable *v;
	static const char ca[] = "basicConstraints=critical,CA:TRUE";

	NEED_TOOLS();
	/* The victim: root R, leaf V ("Victim signer"), chain [V, R]. */
	REQUIRE(sb_sh("openssl req -x509 -newkey rsa:2048 -nodes -subj '/CN=Victim Root/' "
		      "-days 3650 -keyout vR.key -out vR.crt && "
		      "openssl req -new -newkey rsa:2048 -nodes -subj '/CN=Victim signer/' "
		      "-keyout vV.key -out vV.csr && printf '%%s\n' 'basicConstraints=CA:FALSE' "
		      "> leaf.ext && openssl x509 -req -in vV.csr -CA vR.crt -CAkey vR.key "
		      "-CAcreateserial -days 3650 -extfile leaf.ext -out vV.crt") == 0);
	/* The attacker: key A; a stand-in "root" with R's subject made with
	 * A's key only to give A the issuer name; A issued under that name;
	 * a leaf with the victim's CN issued by A. */
	REQUIRE(sb_sh("openssl req -x509 -newkey rsa:2048 -nodes -subj '/CN=Victim Root/' "
		      "-days 3650 -keyout fA.key -out fakeR.crt && "
		      "openssl req -new -key fA.key -subj '/CN=Attacker CA/' -out fA.csr && "
		      "printf '%%s\n' '%s' > ca.ext && "
		      "openssl x509 -req -in fA.csr -CA fakeR.crt -CAkey fA.key -CAcreateserial "
		      "-days 3650 -extfile ca.ext -out fA.crt && "
		      "openssl req -new -newkey rsa:2048 -nodes -subj '/CN=Victim signer/' "
		      "-keyout fL.key -out fL.csr && "
		      "openssl x509 -req -in fL.csr -CA fA.crt -CAkey fA.key -CAcreateserial "
		      "-days 3650 -extfile leaf.ext -out fL.crt && "
		      "cat fA.crt vR.crt > forged-chain.pem && "
		      "! openssl x509 -in fA.crt -noout -text | grep -q 'Authority Key Identifier' && "
		      "openssl x509 -in fA.crt -noout -issuer | grep -q 'Victim Root'",
		      ca) == 0);
	REQUIRE(make_private_auth_with("vV", "-certfile vR.crt", "Priv", &TEST_GUID, at,
				       "e9070101000000000000000000000000", "victim", "v1.auth") == 0);
	REQUIRE(make_private_auth_with("fL", "-certfile forged-chain.pem", "Priv", &TEST_GUID, at,
				       "e9070102000000000000000000000000", "forged", "f1.auth") == 0);
	REQUIRE(make_private_auth_with("fL", "-certfile forged-chain.pem", "Priv", &TEST_GUID, at,
				       "e9070103000000000000000000000000", "", "f-del.auth") == 0);
	REQUIRE(make_private_auth_with("vV", "-certfile vR.crt", "Priv", &TEST_GUID, at,
				       "e9070104000000000000000000000000", "victim2", "v2.auth") == 0);
	env_open(&e, NULL);
	CHECK_STATUS(send_auth(&e, &TEST_GUID, "Priv", at, "v1.auth"), VV_EFI_SUCCESS);
	/* neither the forged write nor the forged delete gets through */
	CHECK_STATUS(send_auth(&e, &TEST_GUID, "Priv", at, "f1.auth"), VV_EFI_SECURITY_VIOLATION);
	CHECK_STATUS(send_auth(&e, &TEST_GUID, "Priv", at, "f-del.auth"),
		     VV_EFI_SECURITY_VIOLATION);
	v = vv_store_find(e.s, U("Priv"), &TEST_GUID);
	REQUIRE(v != NULL);
	CHECK_EQ(v->data_size, 6);
	CHECK_MEM(v->data, "victim", 6);
	/* the real signer still can */
	CHECK_STATUS(send_auth(&e, &TEST_GUID, "Priv", at, "v2.auth"), VV_EFI_SUCCESS);
	CHECK_EQ(vv_store_find(e.s, U("Priv"), &TEST_GUID)->data_size, 7);
	/* a forged chain cannot create a variable either: its own first
	 * write must verify against its own top certificate, and A is not R */
	CHECK_STATUS(send_auth(&e, &TEST_GUID, "Priv2", at, "f1.auth"), VV_EFI_SECURITY_VIOLATION);
	env_close(&e);
}

static void
test_host_enrollment(void)
{
	struct sbenv e;
	uint8_t *pk, *kek, *db;
	size_t npk, nkek, ndb;

	NEED_TOOLS();
	pk = sb_read("PK.esl", &npk);
	kek = sb_read("KEK.esl", &nkek);
	db = sb_read("DB2.esl", &ndb);
	REQUIRE(pk && kek && db);
	env_open(&e, NULL);
	CHECK(!vv_secureboot_enforcing(e.sb));
	CHECK_STATUS(vv_secureboot_enroll(e.sb, VV_SB_PK, db, ndb, false), VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(vv_secureboot_enroll(e.sb, VV_SB_KEK, kek, nkek, false), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_secureboot_enroll(e.sb, VV_SB_DB, db, ndb, false), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_secureboot_enroll(e.sb, VV_SB_DB, db, ndb, true), VV_EFI_SUCCESS);
	CHECK_EQ(vv_store_find(e.s, U("db"), DBG)->data_size, ndb);   /* nothing new */
	CHECK_EQ(vv_secureboot_mode(e.sb), VV_SB_SETUP);
	CHECK_STATUS(vv_secureboot_enroll(e.sb, VV_SB_PK, pk, npk, false), VV_EFI_SUCCESS);
	CHECK_EQ(vv_secureboot_mode(e.sb), VV_SB_USER);
	CHECK(vv_secureboot_enforcing(e.sb));
	check_mode(&e, 0, 1, 0, 0);
	CHECK_EQ(mm_get_byte(&e, GV, "VendorKeys"), 1);   /* the owner's keys */
	CHECK_STATUS(vv_secureboot_set_mode(e.sb, VV_SB_DEPLOYED), VV_EFI_SUCCESS);
	CHECK_EQ(vv_secureboot_mode(e.sb), VV_SB_DEPLOYED);
	CHECK_STATUS(vv_secureboot_set_mode(e.sb, VV_SB_SETUP), VV_EFI_SUCCESS);
	CHECK(vv_store_find(e.s, U("PK"), GV) == NULL);
	CHECK_STATUS(vv_secureboot_set_mode(e.sb, VV_SB_USER), VV_EFI_INVALID_PARAMETER);
	env_close(&e);
	free(pk);
	free(kek);
	free(db);
}

/*
 * Decoded anchors are kept between writes (secureboot.c, struct
 * trust_slot): every change of PK or KEK, by the guest or by the host,
 * must change whom the next write is checked against.
 */
static void
test_rotation_replaces_trust(void)
{
	struct sbenv e;
	uint8_t *kek;
	size_t nkek;

	NEED_TOOLS();
	env_open(&e, NULL);
	CHECK_STATUS(send_auth(&e, GV, "PK", SB_ATTR, "PK.auth"), VV_EFI_SUCCESS);
	CHECK_STATUS(send_auth(&e, GV, "KEK", SB_ATTR, "KEK.auth"), VV_EFI_SUCCESS);
	CHECK_STATUS(send_auth(&e, DBG, "db", SB_ATTR, "db.auth"), VV_EFI_SUCCESS);
	/* the guest replaces KEK: the old KEK no longer signs db */
	CHECK_STATUS(send_auth(&e, GV, "KEK", SB_ATTR, "KEK2.auth"), VV_EFI_SUCCESS);
	CHECK_STATUS(send_auth(&e, DBG, "db", SB_ATTR, "db-kek-07.auth"), VV_EFI_SECURITY_VIOLATION);
	CHECK_STATUS(send_auth(&e, DBG, "db", SB_ATTR, "db-kek2-08.auth"), VV_EFI_SUCCESS);
	/* the guest replaces PK: KEK writes need the new PK; the KEK it
	 * signs (the first one again) signs db again, KEK2 no longer */
	CHECK_STATUS(send_auth(&e, GV, "PK", SB_ATTR, "PK2.auth"), VV_EFI_SUCCESS);
	CHECK_STATUS(send_auth(&e, GV, "KEK", SB_ATTR, "KEK-by-pk-12.auth"),
		     VV_EFI_SECURITY_VIOLATION);
	CHECK_STATUS(send_auth(&e, GV, "KEK", SB_ATTR, "KEK-by-pk2-13.auth"), VV_EFI_SUCCESS);
	CHECK_STATUS(send_auth(&e, DBG, "db", SB_ATTR, "db-kek2-10.auth"), VV_EFI_SECURITY_VIOLATION);
	CHECK_STATUS(send_auth(&e, DBG, "db", SB_ATTR, "db-kek-09.auth"), VV_EFI_SUCCESS);
	/* the host enrolls KEK2: the guest's next db write is checked against it */
	kek = sb_read("KEK2.esl", &nkek);
	REQUIRE(kek != NULL);
	CHECK_STATUS(vv_secureboot_enroll(e.sb, VV_SB_KEK, kek, nkek, false), VV_EFI_SUCCESS);
	free(kek);
	CHECK_STATUS(send_auth(&e, DBG, "db", SB_ATTR, "db-kek-15.auth"), VV_EFI_SECURITY_VIOLATION);
	CHECK_STATUS(send_auth(&e, DBG, "db", SB_ATTR, "db-kek2-16.auth"), VV_EFI_SUCCESS);
	check_mode(&e, 0, 1, 0, 0);
	env_close(&e);
}

static void
test_cleanup(void)
{
	if (getenv("VMVARS_KEEP_SB") == NULL)
		sb_tools_cleanup();
	else
		printf("# kept %s\n", sb_dir);
}

/* A request whose data is a signed .auth file (freed by the caller). */
static struct vv_set_request
auth_req(const vv_guid *g, const uint16_t *name, size_t len, const char *file)
{
	struct vv_set_request r = { name, len, *g, SB_ATTR, NULL, 0, VV_CALLER_HOST };
	size_t size;

	r.data = sb_read(file, &size);
	REQUIRE(r.data != NULL);
	r.data_size = size;
	return r;
}

/* vv_store_apply: authenticated writes in one batch are verified as the
 * firmware does them one by one; one refused signature (the 3rd, a KEK
 * signed by a rogue key) undoes the PK enrolment before it, mode
 * variables included. */
static void
test_batch_of_authenticated_writes(void)
{
	struct sbenv e;
	struct vv_set_request r[3];
	size_t failed = 0;

	NEED_TOOLS();
	env_open(&e, NULL);
	r[0] = auth_req(GV, U("PK"), "PK.auth");
	r[1] = auth_req(GV, U("KEK"), "KEK.auth");
	r[2] = auth_req(GV, U("KEK"), "KEK-rogue.auth");
	r[2].attributes |= VV_ATTR_APPEND;
	CHECK_STATUS(vv_store_apply(e.s, r, 3, &failed), VV_EFI_SECURITY_VIOLATION);
	CHECK_EQ(failed, 2);
	CHECK(vv_store_find(e.s, U("PK"), GV) == NULL);
	CHECK(vv_store_find(e.s, U("KEK"), GV) == NULL);
	CHECK(vv_store_find(e.s, U("SecureBootEnable"), &VV_GUID_SECURE_BOOT_ENABLE) == NULL);
	CHECK_EQ(vv_secureboot_mode(e.sb), VV_SB_SETUP);
	check_mode(&e, 1, 0, 0, 0);
	/* the good two: user mode, both present */
	CHECK_STATUS(vv_store_apply(e.s, r, 2, &failed), VV_EFI_SUCCESS);
	CHECK(vv_store_find(e.s, U("KEK"), GV) != NULL);
	CHECK_EQ(vv_secureboot_mode(e.sb), VV_SB_USER);
	check_mode(&e, 0, 1, 0, 0);
	for (int i = 0; i < 3; i++)
		free((void *)r[i].data);
	env_close(&e);
}

static const struct vv_test tests[] = {
	TEST(test_make_keys),
	TEST(test_initial_setup_mode),
	TEST(test_enroll_and_hierarchy),
	TEST(test_batch_of_authenticated_writes),
	TEST(test_modes_audit_and_deployed),
	TEST(test_secure_boot_enable_and_custom_mode_switches),
	TEST(test_custom_mode_skips_signatures),
	TEST(test_private_authenticated_variable),
	TEST(test_private_forged_chain),
	TEST(test_secure_boot_enable_follows_edk2),
	TEST(test_snapshot_secure_boot_state_checked),
	TEST(test_host_enrollment),
	TEST(test_rotation_replaces_trust),
	TEST(test_cleanup),
};

VV_TEST_MAIN(tests)
