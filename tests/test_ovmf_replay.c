/*
 * tests/test_ovmf_replay.c -- replays every MM request a real OVMF
 * (edk2-stable202605, QEMU_PV_VARS + SECURE_BOOT_ENABLE) sent during one
 * boot (shared/data/ovmf-boot, see its README) through the uefi-vars device
 * in DMA mode, exactly as recorded, against the product's configuration:
 * store + variable policy + Secure Boot + MOR.
 *
 * Expected statuses come from an independent shadow model kept by this
 * test: a plain list of (GUID, name) -> value updated by the recorded
 * SetVariable calls with the basic UEFI semantics (create/replace, delete,
 * append).  Every GetVariable is then checked against the shadow (NOT_FOUND
 * / BUFFER_TOO_SMALL with the right size / SUCCESS with the right bytes),
 * and the final store against final-nv-variables.txt.
 */
#include <stdio.h>

#include "guest_firmware.h"
#include "harness.h"
#include "ovmf_boot.h"

#include <vmvars/mor.h>
#include <vmvars/secureboot.h>

#define MAX_SHADOW 512

struct shadow_var {
	vv_guid guid;
	uint8_t name[256];
	size_t name_size;           /* bytes incl. NUL */
	uint8_t data[4096];
	size_t data_size;
	uint32_t attr;
	bool present;
};

static struct shadow_var shadow[MAX_SHADOW];
static size_t nshadow;

static struct shadow_var *
shadow_find(const uint8_t *guid, const uint8_t *name, size_t name_size, bool create)
{
	for (size_t i = 0; i < nshadow; i++)
		if (memcmp(shadow[i].guid.b, guid, 16) == 0 && shadow[i].name_size == name_size &&
		    memcmp(shadow[i].name, name, name_size) == 0)
			return &shadow[i];
	if (!create || nshadow == MAX_SHADOW || name_size > sizeof(shadow[0].name))
		return NULL;
	memcpy(shadow[nshadow].guid.b, guid, 16);
	memcpy(shadow[nshadow].name, name, name_size);
	shadow[nshadow].name_size = name_size;
	return &shadow[nshadow++];
}

struct replay {
	struct vv_store *store;
	struct vv_policy *policy;
	struct vv_secureboot *sb;
	struct vv_mor *mor;
	struct vv_mm *mm;
	struct vv_uefi_vars_device *dev;
	struct fw_guest g;
	unsigned requests, gets, get_not_found, get_too_small, sets, set_not_found, policies;
	unsigned getnext, getnext_unknown, events;
};

static struct shadow_var *
shadow_global(const char *ascii)
{
	uint8_t name[64];
	size_t n = strlen(ascii);

	for (size_t i = 0; i <= n; i++)
		vv_put_le16(name + 2 * i, (uint8_t)ascii[i]);
	return shadow_find(VV_GUID_GLOBAL_VARIABLE.b, name, 2 * (n + 1), true);
}

/* Position of `want` (len bytes) among PlatformLangCodes' ';' entries. */
static int
platform_entry_index(const struct shadow_var *codes, const uint8_t *want, size_t len)
{
	size_t start = 0;

	for (int i = 0; start < codes->data_size && codes->data[start] != 0; i++) {
		size_t end = start;

		while (end < codes->data_size && codes->data[end] != ';' && codes->data[end] != 0)
			end++;
		if (end - start == len && memcmp(codes->data + start, want, len) == 0)
			return i;
		start = end + 1;
	}
	return -1;
}

/*
 * Row 20 of the rules (formats §8.2): with both *Codes variables present,
 * a write of Lang sets PlatformLang to the entry at the same position, and
 * the reverse.  A plain model for this recording (exact entries, cut back
 * at '-' for PlatformLang), independent of src/core/lang.c.
 */
static void
shadow_sync_lang(const uint8_t *name, size_t name_size, const uint8_t *data, size_t size)
{
	struct shadow_var *lc = shadow_global("LangCodes"), *pc = shadow_global("PlatformLangCodes");
	struct shadow_var *other;
	size_t len = 0;
	int index = -1;

	if (!lc->present || !pc->present || size == 0)
		return;
	while (len < size && data[len] != 0)
		len++;
	if (name_size == 10 && memcmp(name, "L\0a\0n\0g\0\0", 10) == 0) {
		for (size_t off = 0; len >= 3 && off + 3 <= lc->data_size; off += 3)
			if (memcmp(lc->data + off, data, 3) == 0) {
				index = (int)(off / 3);
				break;
			}
		other = shadow_global("PlatformLang");
		for (size_t start = 0, i = 0; index >= 0 && start < pc->data_size; i++) {
			size_t end = start;

			while (end < pc->data_size && pc->data[end] != ';' && pc->data[end] != 0)
				end++;
			if ((int)i == index) {
				memcpy(other->data, pc->data + start, end - start);
				other->data[end - start] = 0;
				other->data_size = end - start + 1;
				other->attr = VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT;
				other->present = true;
				return;
			}
			start = end + 1;
		}
		return;
	}
	while (len > 0 && (index = platform_entry_index(pc, data, len)) < 0)
		for (len--; len > 0 && data[len] != '-'; len--)
			;
	if (index < 0 || (size_t)index * 3 + 3 > lc->data_size)
		return;
	other = shadow_global("Lang");
	memcpy(other->data, lc->data + 3 * (size_t)index, 3);
	other->data[3] = 0;
	other->data_size = 4;
	other->attr = VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT;
	other->present = true;
}

/* Updates the shadow with what a recorded SetVariable must do. */
static vv_status
shadow_expect_set(const uint8_t *p)
{
	uint64_t data_size = vv_le64(p + 16), name_size = vv_le64(p + 24);
	uint32_t attr = vv_le32(p + 32);
	const uint8_t *name = p + 36, *data = p + 36 + name_size;
	struct shadow_var *v = shadow_find(p, name, name_size, true);
	bool append = (attr & VV_ATTR_APPEND) != 0;

	if (v == NULL)
		return VV_EFI_OUT_OF_RESOURCES;
	if (vv_guid_equal((const vv_guid *)p, &VV_GUID_GLOBAL_VARIABLE) &&
	    ((name_size == 10 && memcmp(name, "L\0a\0n\0g\0\0", 10) == 0) ||
	     (name_size == 26 && memcmp(name, "P\0l\0a\0t\0f\0o\0r\0m\0L\0a\0n\0g\0\0", 26) == 0)))
		shadow_sync_lang(name, name_size, data, data_size);
	if ((data_size == 0 && !append) || (attr & (VV_ATTR_BS | VV_ATTR_RT)) == 0) {
		if (!v->present)
			return VV_EFI_NOT_FOUND;
		v->present = false;
		return VV_EFI_SUCCESS;
	}
	if (!append || !v->present)
		v->data_size = 0;
	if (v->data_size + data_size > sizeof(v->data))
		return VV_EFI_OUT_OF_RESOURCES;
	memcpy(v->data + v->data_size, data, data_size);
	v->data_size += data_size;
	v->attr = attr & ~VV_ATTR_APPEND;
	v->present = true;
	return VV_EFI_SUCCESS;
}

static void
check_get(struct replay *r, const uint8_t *req, const uint8_t *rep)
{
	const uint8_t *p = req + 40, *q = rep + 40;
	uint64_t asked = vv_le64(p + 16), name_size = vv_le64(p + 24);
	struct shadow_var *v = shadow_find(p, p + 36, name_size, false);
	vv_status st = vv_le64(rep + 32);

	r->gets++;
	if (v == NULL || !v->present) {
		CHECK_STATUS(st, VV_EFI_NOT_FOUND);
		r->get_not_found++;
		return;
	}
	CHECK_EQ(vv_le32(q + 32), v->attr);
	CHECK_EQ(vv_le64(q + 16), v->data_size);
	if (asked < v->data_size) {
		CHECK_STATUS(st, VV_EFI_BUFFER_TOO_SMALL);
		r->get_too_small++;
	} else {
		CHECK_STATUS(st, VV_EFI_SUCCESS);
		CHECK(memcmp(q + 36 + name_size, v->data, v->data_size) == 0);
	}
}

/*
 * GetNextVariableName: the recorded request names the variable QEMU's
 * service returned last time.  If that variable exists here the answer
 * must be the next one (present in the shadow) or the end; if it does not
 * (a variable only QEMU creates), the spec answer is INVALID_PARAMETER.
 */
static void
check_get_next(struct replay *r, const uint8_t *req, const uint8_t *rep)
{
	const uint8_t *p = req + 40, *q = rep + 40;
	uint64_t name_size = vv_le64(p + 16);
	vv_status st = vv_le64(rep + 32);
	size_t in_size = 0;
	struct shadow_var *in;

	r->getnext++;
	while (in_size + 2 <= name_size && vv_le16(p + 24 + in_size) != 0)
		in_size += 2;
	in_size += 2;
	if (in_size == 2) {
		CHECK(st == VV_EFI_SUCCESS || st == VV_EFI_BUFFER_TOO_SMALL);
	} else {
		in = shadow_find(p, p + 24, in_size, false);
		if (in == NULL || !in->present) {
			CHECK_STATUS(st, VV_EFI_INVALID_PARAMETER);
			r->getnext_unknown++;
			return;
		}
		CHECK(st == VV_EFI_SUCCESS || st == VV_EFI_NOT_FOUND || st == VV_EFI_BUFFER_TOO_SMALL);
	}
	if (st == VV_EFI_SUCCESS) {
		struct shadow_var *v = shadow_find(q, q + 24, vv_le64(q + 16), false);

		CHECK(v != NULL && v->present);
	}
}

static int shadow_service_variable(struct replay *r, const uint16_t *name, size_t len,
				   const vv_guid *g);

/* Sends one recorded request through the device; checks it. */
static void
replay_one(struct replay *r, const uint8_t *req, size_t len)
{
	uint8_t *rep = r->g.ram + FW_COMM_GPA;
	vv_status want = VV_EFI_SUCCESS;
	bool is_var = memcmp(req, VV_GUID_SMM_VARIABLE.b, 16) == 0;
	uint64_t fn = len >= 32 ? vv_le64(req + 24) : 0;

	if (is_var && fn == VV_MM_SET_VARIABLE)
		want = shadow_expect_set(req + 40);
	memcpy(rep, req, len);
	vv_uefi_vars_device_write(r->dev, VV_REG_CMD_STS, VV_CMD_DMA_MM, 2);
	CHECK_EQ(vv_uefi_vars_device_read(r->dev, VV_REG_CMD_STS, 2), VV_STS_SUCCESS);
	CHECK_EQ(vv_le64(rep + 16), vv_le64(req + 16));     /* length unchanged */
	r->requests++;
	if (is_var) {
		switch (fn) {
		case VV_MM_GET_VARIABLE:
			check_get(r, req, rep);
			break;
		case VV_MM_GET_NEXT_VARIABLE_NAME:
			check_get_next(r, req, rep);
			break;
		case VV_MM_SET_VARIABLE:
			r->sets++;
			r->set_not_found += want == VV_EFI_NOT_FOUND;
			CHECK_STATUS(vv_le64(rep + 32), want);
			break;
		default:
			CHECK_STATUS(vv_le64(rep + 32), VV_EFI_SUCCESS);
			break;
		}
	} else if (memcmp(req, VV_GUID_VAR_CHECK_POLICY_MMI.b, 16) == 0) {
		r->policies++;
		CHECK_STATUS(vv_le64(rep + 24 + 12), VV_EFI_SUCCESS);
	} else {
		r->events++;
		/* At EndOfDxe the MOR module writes MORLock = 0 (edk2
		 * TcgMorLockSmm does the same): a service variable too. */
		if (memcmp(req, VV_GUID_END_OF_DXE.b, 16) == 0)
			REQUIRE(shadow_service_variable(r, (const uint16_t *)
				u"MemoryOverwriteRequestControlLock", 33, &VV_GUID_MOR_LOCK) == 0);
	}
}

/*
 * The variables the service creates by itself (Secure Boot state: the
 * recording's README says these are not listed) enter the shadow as they
 * are before the first request.
 */
static int
shadow_add(const struct vv_variable *v)
{
	uint8_t wire[256];
	struct shadow_var *sv;

	if (v->name_len + 1 > sizeof(wire) / 2 || v->data_size > sizeof(sv->data))
		return -1;
	for (size_t i = 0; i <= v->name_len; i++)
		vv_put_le16(wire + 2 * i, v->name[i]);
	sv = shadow_find(v->guid.b, wire, vv_var_name_size(v), true);
	if (sv == NULL)
		return -1;
	memcpy(sv->data, v->data, v->data_size);
	sv->data_size = v->data_size;
	sv->attr = v->attributes;
	sv->present = true;
	return 0;
}

static int
shadow_service_variables(struct replay *r)
{
	for (const struct vv_variable *v = vv_store_first(r->store); v; v = vv_store_next(v))
		if (shadow_add(v) != 0)
			return -1;
	return 0;
}

static int
shadow_service_variable(struct replay *r, const uint16_t *name, size_t len, const vv_guid *g)
{
	const struct vv_variable *v = vv_store_find(r->store, name, len, g);

	return v != NULL ? shadow_add(v) : -1;
}

static int
replay_setup(struct replay *r)
{
	memset(r, 0, sizeof(*r));
	nshadow = 0;
	r->store = vv_store_new(NULL);
	r->policy = vv_policy_new(r->store, NULL);
	r->sb = vv_secureboot_new(r->store, NULL);
	r->mor = vv_mor_new(r->store, true);
	r->mm = vv_mm_new(r->store, r->policy);
	if (r->store == NULL || r->policy == NULL || r->sb == NULL || r->mor == NULL ||
	    r->mm == NULL || fw_guest_alloc(&r->g, false))
		return -1;
	r->dev = vv_uefi_vars_device_new(r->mm, fw_guest_memory(&r->g), false);
	if (r->dev == NULL || shadow_service_variables(r) != 0)
		return -1;
	vv_uefi_vars_device_write(r->dev, VV_REG_CMD_STS, VV_CMD_RESET, 2);
	vv_uefi_vars_device_write(r->dev, VV_REG_BUFFER_SIZE, VV_MM_MAX_BUFFER, 4);
	vv_uefi_vars_device_write(r->dev, VV_REG_DMA_ADDR_LO, FW_COMM_GPA, 4);
	vv_uefi_vars_device_write(r->dev, VV_REG_DMA_ADDR_HI, 0, 4);
	return 0;
}

static void
replay_teardown(struct replay *r)
{
	vv_uefi_vars_device_free(r->dev);
	vv_mm_free(r->mm);
	vv_mor_free(r->mor);
	vv_secureboot_free(r->sb);
	vv_policy_free(r->policy);
	vv_store_free(r->store);
	fw_guest_release(&r->g);
}

/* Checks final-nv-variables.txt: "guid name 0xattr size" per line. */
static void
check_final(struct replay *r, const char *path)
{
	FILE *f = fopen(path, "r");
	char gtext[64], name[128];
	unsigned attr, size, lines = 0;

	REQUIRE(f != NULL);
	while (fscanf(f, "%63s %127s %x %u", gtext, name, &attr, &size) == 4) {
		uint16_t uname[128];
		size_t len = strlen(name);
		vv_guid g;
		const struct vv_variable *v;

		lines++;
		REQUIRE(vv_guid_parse(gtext, &g) == 0);
		for (size_t i = 0; i < len; i++)
			uname[i] = (uint8_t)name[i];
		v = vv_store_find(r->store, uname, len, &g);
		if (v == NULL) {
			printf("# final store lacks %s %s\n", gtext, name);
			vv_test_failures++;
			continue;
		}
		CHECK_EQ(v->attributes, attr);
		CHECK_EQ(v->data_size, size);
	}
	fclose(f);
	CHECK_EQ(lines, 15);
}

static void
test_replay_real_ovmf_boot(void)
{
	const char *data = vv_test_shared_data();
	char path[4096];
	struct ovmf_boot rec;
	struct replay r;

	ovmf_boot_load(&rec);
	REQUIRE(replay_setup(&r) == 0);
	for (size_t i = 0; i < rec.n; i++)
		replay_one(&r, rec.req[i], rec.len[i]);
	ovmf_boot_free(&rec);

	/* The README's inventory of the recording. */
	CHECK_EQ(r.requests, 659);
	CHECK_EQ(r.gets, 314);
	CHECK_EQ(r.getnext, 221);
	CHECK_EQ(r.sets, 114);
	CHECK_EQ(r.policies, 6);
	CHECK(r.get_not_found > 0);
	CHECK(r.get_too_small > 0);
	CHECK(r.set_not_found > 0);
	printf("# %u GetVariable (%u NOT_FOUND, %u BUFFER_TOO_SMALL), %u SetVariable "
	       "(%u deletes of missing variables), %u GetNext (%u from a QEMU-only variable), "
	       "%u policies, %u events\n", r.gets, r.get_not_found, r.get_too_small, r.sets,
	       r.set_not_found, r.getnext, r.getnext_unknown, r.policies, r.events);
	CHECK_EQ(vv_policy_count(r.policy), 6);
	CHECK(vv_store_ready_to_boot(r.store));
	snprintf(path, sizeof(path), "%s/ovmf-boot/final-nv-variables.txt", data);
	check_final(&r, path);
	/* every NV variable of the shadow is in the store, with its bytes */
	for (size_t i = 0; i < nshadow; i++) {
		struct shadow_var *v = &shadow[i];
		const struct vv_variable *sv;
		uint16_t uname[128];
		size_t n = v->name_size / 2 - 1;

		if (!v->present || !(v->attr & VV_ATTR_NV))
			continue;
		for (size_t k = 0; k < n; k++)
			uname[k] = vv_le16(v->name + 2 * k);
		sv = vv_store_find(r.store, uname, n, &v->guid);
		CHECK(sv != NULL && sv->data_size == v->data_size &&
		      memcmp(sv->data, v->data, v->data_size) == 0);
	}
	replay_teardown(&r);
}

static const struct vv_test tests[] = {
	TEST(test_replay_real_ovmf_boot),
};

VV_TEST_MAIN(tests)
