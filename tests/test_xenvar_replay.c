/*
 * tests/test_xenvar_replay.c -- the real OVMF boot (shared/data/ovmf-boot,
 * as tests/test_ovmf_replay.c replays it) translated into XenVariable and
 * ExtVarStore calls: every SMM GetVariable, GetNextVariableName and
 * SetVariable becomes the same call in the varstored protocol (through
 * the Xen front end, and through the ExtVarStore device in TRANSFER mode),
 * ExitBootServices becomes at_runtime / ENTER_RUNTIME, and the same
 * request runs through the MM endpoint on a store of its own in the
 * product's MM configuration.  Requests with no varstored equivalent
 * (variable policy, VarCheck properties, LockVariable, QueryVariableInfo,
 * GetPayloadSize, EndOfDxe, ReadyToBoot) go to MM only.
 *
 * Asserted: each translated GetVariable and SetVariable returns the status
 * MM returned, GetVariable with the same attributes and data; the final
 * stores hold the same variables (GUID, name, attributes, value) in the
 * same order, but for one: MemoryOverwriteRequestControlLock, which the MOR
 * module (re)creates at EndOfDxe -- an MM event neither varstored protocol
 * carries, so through them it appears only when the guest enters runtime
 * (docs/protocols.md, differences), which this recording (a boot to the
 * UEFI shell, then a reset) never does.  GetNextVariableName is therefore
 * compared step for step up to the recording's EndOfDxe; after it each name
 * returned must be a variable MM also has, visible in this phase, and an
 * INVALID_PARAMETER is allowed only where MM gave one too or for the MORLock
 * name the recorded firmware got from MM.
 */
#include "harness.h"
#include "ovmf_boot.h"
#include "store_util.h"
#include "xen_guest.h"

#include <vmvars/mor.h>
#include <vmvars/secureboot.h>

struct side {
	struct vv_store *store;
	struct vv_policy *policy;
	struct vv_secureboot *sb;
	struct vv_mor *mor;
	struct vv_mm *mm;
	struct vv_xenvar *xv;
	struct xen_vm xen;
	struct ev_vm aws;
	struct xv_guest g;
};

static void
side_open(struct side *s, int kind)     /* 0 MM, 1 Xen, 2 AWS */
{
	memset(s, 0, sizeof(*s));
	if (kind == 0) {
		s->store = vv_store_new(NULL);
		s->policy = vv_policy_new(s->store, NULL);
	} else {
		struct vv_xenvar_config xc = { 0 };
		struct vv_limits sl;

		xc.dialect = kind == 1 ? VV_XENVAR_XEN : VV_XENVAR_AWS;
		vv_xenvar_limits_default(&xc.limits);
		vv_xenvar_store_limits(&xc.limits, &sl);
		s->store = vv_store_new(&sl);
		s->xv = vv_xenvar_new(s->store, &xc);
		s->g.dialect = xc.dialect;
	}
	REQUIRE(s->store != NULL);
	s->sb = vv_secureboot_new(s->store, NULL);
	s->mor = vv_mor_new(s->store, true);
	if (kind == 0) {
		s->mm = vv_mm_new(s->store, s->policy);
		REQUIRE(s->mm != NULL);
	} else if (kind == 1) {
		REQUIRE(xen_vm_start(&s->xen, s->xv, s->store) == 0);
		s->g.call = xg_call;
		s->g.ctx = &s->xen;
	} else {
		struct vv_extvar_config dc = { true, VV_EXTVAR_FEATURE_CRC32 |
						     VV_EXTVAR_FEATURE_TRANSFER };
		struct vv_guest_memory mem;

		ev_vm_init(&s->aws);
		mem = ev_memory(&s->aws);
		s->aws.dev = vv_extvar_device_new_engine(s->xv, s->store, &mem, &dc);
		REQUIRE(s->aws.dev != NULL);
		s->g.call = ev_call_transfer;
		s->g.ctx = &s->aws;
	}
}

static void
side_close(struct side *s)
{
	if (s->xen.fe != NULL)
		xen_vm_stop(&s->xen);
	vv_extvar_device_free(s->aws.dev);
	free(s->aws.ram);
	vv_xenvar_free(s->xv);
	vv_mm_free(s->mm);
	vv_mor_free(s->mor);
	vv_secureboot_free(s->sb);
	vv_policy_free(s->policy);
	vv_store_free(s->store);
}

static uint8_t mmbuf[VV_MM_MAX_BUFFER];
static uint8_t data[VV_MM_MAX_BUFFER];

/* The UCS-2 name of an MM request (up to its first NUL). */
static size_t
mm_name(const uint8_t *p, uint64_t name_size, uint16_t *out)
{
	size_t n = 0;

	while (n < name_size / 2 && vv_le16(p + 2 * n) != 0) {
		out[n] = vv_le16(p + 2 * n);
		n++;
	}
	out[n] = 0;
	return n;
}

struct counts {
	unsigned gets, sets, getnexts, getnexts_strict, ebs, mm_only;
};

static bool
is_morlock(const struct vv_variable *v)
{
	return v->name_len == 33 && memcmp(v->name, u"MemoryOverwriteRequestControlLock", 66) == 0 &&
	       vv_guid_equal(&v->guid, &VV_GUID_MOR_LOCK);
}

static const struct vv_variable *
skip_morlock(const struct vv_variable *v)
{
	return v != NULL && is_morlock(v) ? vv_store_next(v) : v;
}

static void
replay(int kind, struct counts *cnt)
{
	struct ovmf_boot rec;
	struct side mm, xv;
	static uint16_t name[VV_MM_MAX_BUFFER / 2];
	bool after_end_of_dxe = false;

	ovmf_boot_load(&rec);
	side_open(&mm, 0);
	side_open(&xv, kind);
	memset(cnt, 0, sizeof(*cnt));
	for (size_t i = 0; i < rec.n; i++) {
		const uint8_t *req = rec.req[i];
		const uint8_t *p = mmbuf + 40;
		uint64_t function = rec.len[i] >= 32 ? vv_le64(req + 24) : 0;
		bool smm = vv_guid_equal((const vv_guid *)req, &VV_GUID_SMM_VARIABLE);
		vv_status mst, st;

		memset(mmbuf, 0, sizeof(mmbuf));
		memcpy(mmbuf, req, rec.len[i]);
		(void)vv_mm_handle(mm.mm, mmbuf, sizeof(mmbuf));
		mst = vv_le64(mmbuf + 32);
		if (vv_guid_equal((const vv_guid *)req, &VV_GUID_END_OF_DXE) ||
		    vv_guid_equal((const vv_guid *)req, &VV_GUID_READY_TO_BOOT))
			after_end_of_dxe = true;
		if (vv_guid_equal((const vv_guid *)req, &VV_GUID_EXIT_BOOT_SERVICES) ||
		    (smm && function == VV_MM_EXIT_BOOT_SERVICE)) {
			xv_exit_boot_services(&xv.g);
			cnt->ebs++;
			continue;
		}
		if (!smm || (function != VV_MM_GET_VARIABLE && function != VV_MM_SET_VARIABLE &&
			     function != VV_MM_GET_NEXT_VARIABLE_NAME)) {
			cnt->mm_only++;
			continue;
		}
		/* the request as recorded (mmbuf now holds MM's reply) */
		p = req + 40;
		if (function == VV_MM_GET_VARIABLE) {
			vv_guid g;
			uint64_t size = vv_le64(p + 16);
			uint32_t attr = 0;
			size_t len = mm_name(p + 36, vv_le64(p + 24), name);

			memcpy(g.b, p, 16);
			st = xv_get(&xv.g, name, len, &g, &attr, data, &size);
			CHECK_STATUS(st, mst);
			if (st == VV_EFI_SUCCESS && st == mst) {
				CHECK_EQ(size, vv_le64(mmbuf + 40 + 16));
				CHECK_EQ(attr, vv_le32(mmbuf + 40 + 32));
				CHECK(memcmp(data, mmbuf + 40 + 36 + vv_le64(p + 24), size) == 0);
			}
			cnt->gets++;
		} else if (function == VV_MM_SET_VARIABLE) {
			vv_guid g;
			uint64_t ns = vv_le64(p + 24);
			size_t len = mm_name(p + 36, ns, name);

			memcpy(g.b, p, 16);
			st = xv_set(&xv.g, name, len, &g, vv_le32(p + 32), p + 36 + ns,
				    vv_le64(p + 16));
			if (st != mst)
				printf("# request %zu: SetVariable: %s here, %s through MM\n", i,
				       vv_status_name(st), vv_status_name(mst));
			CHECK_STATUS(st, mst);
			cnt->sets++;
		} else {
			vv_guid g;
			uint64_t size = vv_le64(p + 16);

			memcpy(g.b, p, 16);
			(void)mm_name(p + 24, size, name);
			st = xv_get_next(&xv.g, &size, name, &g);
			if (!after_end_of_dxe) {
				CHECK_STATUS(st, mst);
				if (st == VV_EFI_SUCCESS && st == mst) {
					uint16_t want[512];

					(void)mm_name(mmbuf + 40 + 24, vv_le64(mmbuf + 40 + 16),
						      want);
					CHECK(memcmp(name, want,
						     2 * (1 + vv_ucs2_strnlen(want, 511))) == 0);
					CHECK_MEM(g.b, mmbuf + 40, 16);
				}
				if (st == VV_EFI_BUFFER_TOO_SMALL && st == mst)
					CHECK_EQ(size, vv_le64(mmbuf + 40 + 16));
				cnt->getnexts_strict++;
			} else if (st == VV_EFI_SUCCESS) {
				uint8_t b[1];
				uint64_t bs = 0;
				size_t len = vv_ucs2_strnlen(name, 511);

				/* a variable MM has and shows in this phase */
				CHECK(vv_store_find(mm.store, name, len, &g) != NULL);
				CHECK(vv_store_get(mm.store, name, len, &g, NULL, b, &bs) !=
				      VV_EFI_NOT_FOUND);
			} else if (st == VV_EFI_INVALID_PARAMETER) {
				/* as through MM, or the MORLock name MM gave out */
				CHECK(mst == VV_EFI_INVALID_PARAMETER ||
				      (vv_ucs2_strnlen(name, 511) == 33 &&
				       memcmp(name, u"MemoryOverwriteRequestControlLock", 66) == 0));
			} else {
				CHECK(st == VV_EFI_NOT_FOUND || st == VV_EFI_BUFFER_TOO_SMALL);
			}
			cnt->getnexts++;
		}
	}
	/* the final stores, variable for variable and in order */
	{
		const struct vv_variable *a = skip_morlock(vv_store_first(mm.store));
		const struct vv_variable *b = skip_morlock(vv_store_first(xv.store));
		const struct vv_variable *la, *lb;
		size_t n = 0;

		/* MORLock: created at EndOfDxe through MM; through a varstored
		 * protocol only at runtime, which this boot never reached */
		la = vv_store_find(mm.store, U("MemoryOverwriteRequestControlLock"),
				   &VV_GUID_MOR_LOCK);
		lb = vv_store_find(xv.store, U("MemoryOverwriteRequestControlLock"),
				   &VV_GUID_MOR_LOCK);
		CHECK(la != NULL);
		CHECK_EQ(cnt->ebs, 0);
		CHECK(lb == NULL);
		for (; a != NULL && b != NULL;
		     a = skip_morlock(vv_store_next(a)), b = skip_morlock(vv_store_next(b)), n++) {
			CHECK(vv_guid_equal(&a->guid, &b->guid));
			CHECK_EQ(a->name_len, b->name_len);
			CHECK(a->name_len == b->name_len &&
			      memcmp(a->name, b->name, 2 * a->name_len) == 0);
			CHECK_EQ(a->attributes, b->attributes);
			CHECK_EQ(a->data_size, b->data_size);
			CHECK(a->data_size == b->data_size &&
			      memcmp(a->data, b->data, a->data_size) == 0);
		}
		CHECK(a == NULL && b == NULL);
		CHECK(n > 20);
		printf("# %zu variables equal (MORLock aside); %u gets, %u sets, %u getnexts (%u before "
		       "EndOfDxe) translated, %u EBS, %u MM-only\n", n, cnt->gets, cnt->sets,
		       cnt->getnexts, cnt->getnexts_strict, cnt->ebs, cnt->mm_only);
	}
	side_close(&xv);
	side_close(&mm);
	ovmf_boot_free(&rec);
}

static void
test_replay_xen(void)
{
	struct counts c;

	replay(1, &c);
	CHECK(c.sets > 0 && c.gets > 0 && c.getnexts_strict > 0);
}

static void
test_replay_aws_transfer(void)
{
	struct counts c;

	replay(2, &c);
	CHECK(c.sets > 0 && c.gets > 0 && c.getnexts_strict > 0);
}

static const struct vv_test tests[] = {
	TEST(test_replay_xen),
	TEST(test_replay_aws_transfer),
};

VV_TEST_MAIN(tests)
