/*
 * tests/test_xen_frontend.c -- the Xen front end (vmvars/xen_ioreq.h)
 * driven through a simulated ioreq page and event channel (no hypervisor
 * runs here): the port-0x100 doorbell from several vCPUs, the 16-page
 * buffer read exactly once per request, the slot protocol (READY ->
 * IORESP_READY, the vCPU's port notified), and accesses the server must
 * complete without effect (other ports and sizes, reads, rep and pointer
 * forms, other ioreq types, slots that are not READY, a page outside
 * guest memory), each with the store unchanged.
 */
#include "harness.h"
#include "store_util.h"
#include "xen_guest.h"

static struct vv_store *store;
static struct vv_xenvar *xv;
static struct xen_vm vm;
static struct xv_guest guest;

static void
teardown(void)
{
	xen_vm_stop(&vm);
	vv_xenvar_free(xv);
	vv_store_free(store);
	xv = NULL;
	store = NULL;
}

static void
setup(void)
{
	static bool registered;
	struct vv_xenvar_limits lim;
	struct vv_limits sl;

	if (!registered)
		registered = atexit(teardown) == 0;
	teardown();
	vv_xenvar_limits_default(&lim);
	vv_xenvar_store_limits(&lim, &sl);
	store = vv_store_new(&sl);
	xv = vv_xenvar_new(store, NULL);
	REQUIRE(store != NULL && xv != NULL && xen_vm_start(&vm, xv, store) == 0);
	memset(&guest, 0, sizeof(guest));
	guest.dialect = VV_XENVAR_XEN;
	guest.call = xg_call;
	guest.ctx = &vm;
}

static void
test_doorbell_per_vcpu(void)
{
	uint8_t data[8];
	uint64_t size;
	uint32_t attr;

	setup();
	for (unsigned v = 0; v < XG_VCPUS; v++) {
		uint16_t name[3] = { 'V', (uint16_t)('0' + v), 0 };

		vm.vcpu = v;
		vm.ram.reads = 0;
		CHECK_STATUS(xv_set(&guest, name, 2, &TEST_GUID, NV_BS_RT, "x", 1), VV_EFI_SUCCESS);
		CHECK_EQ(vm.ram.reads, 1);               /* the 16 pages, copied once */
		size = sizeof(data);
		CHECK_STATUS(xv_get(&guest, name, 2, &TEST_GUID, &attr, data, &size),
			     VV_EFI_SUCCESS);
		CHECK_EQ(size, 1);
	}
	CHECK_EQ(vm.notifies, 2 * XG_VCPUS);
	CHECK_EQ(vv_xen_frontend_stats(vm.fe)->doorbells, 2 * XG_VCPUS);
	CHECK_EQ(vv_store_count(store), XG_VCPUS);
}

static void
test_accesses_without_effect(void)
{
	uint8_t *slot = vm.ioreq_page;

	setup();
	CHECK_STATUS(xv_set(&guest, U("Keep"), &TEST_GUID, NV_BS_RT, "k", 1), VV_EFI_SUCCESS);
	/* leave a valid SET of another variable in the buffer */
	{
		struct xv_w w = xv_start(&guest, VV_XENVAR_SET_VARIABLE);

		xv_name(&w, U("New"));
		xv_bytes(&w, TEST_GUID.b, 16);
		xv_u64(&w, 1);
		xv_u8(&w, 'n');
		xv_u32(&w, NV_BS_RT);
		xv_u8(&w, 0);
		memcpy(vm.ram.ram + EV_BUF_GPA, guest.buf, w.off);
	}
	vm.ram.reads = 0;
	/* reads of the doorbell and the PPI ports: all-ones of their size */
	CHECK_EQ(xg_pio(&vm, 0x100, 4, true, 0), 0xffffffffu);
	CHECK_EQ(xg_pio(&vm, 0x104, 4, true, 0), 0xffffffffu);
	CHECK_EQ(xg_pio(&vm, 0x108, 2, true, 0), 0xffff);
	/* writes elsewhere or of another size */
	xg_pio(&vm, 0x104, 4, false, EV_BUF_GPA >> 12);
	xg_pio(&vm, 0x108, 4, false, EV_BUF_GPA >> 12);
	xg_pio(&vm, 0x100, 2, false, EV_BUF_GPA >> 12);
	xg_pio(&vm, 0x100, 1, false, EV_BUF_GPA >> 12);
	xg_pio(&vm, 0x101, 4, false, EV_BUF_GPA >> 12);
	/* rep outs (count 2) and the data-is-pointer form */
	memset(slot, 0, 32);
	vv_put_le64(slot, 0x100);
	vv_put_le64(slot + 8, EV_BUF_GPA >> 12);
	vv_put_le32(slot + 16, 2);
	vv_put_le32(slot + 20, 4);
	slot[30] = VV_XEN_STATE_IOREQ_READY;
	CHECK_EQ(vv_xen_frontend_event(vm.fe, 0), 1);
	vv_put_le32(slot + 16, 1);
	slot[30] = VV_XEN_STATE_IOREQ_READY | 0x10;
	CHECK_EQ(vv_xen_frontend_event(vm.fe, 0), 1);
	/* another ioreq type (COPY = MMIO) */
	slot[30] = VV_XEN_STATE_IOREQ_READY;
	slot[31] = 1;
	CHECK_EQ(vv_xen_frontend_event(vm.fe, 0), 1);
	/* slots not READY are left alone; a vCPU out of range is refused */
	slot[31] = 0;
	slot[30] = VV_XEN_STATE_INPROCESS;
	CHECK_EQ(vv_xen_frontend_event(vm.fe, 0), 0);
	slot[30] = VV_XEN_STATE_NONE;
	CHECK_EQ(vv_xen_frontend_event(vm.fe, 0), 0);
	CHECK_EQ(vv_xen_frontend_event(vm.fe, XG_VCPUS), -1);
	CHECK_EQ(vm.ram.reads, 0);
	CHECK_EQ(vv_xen_frontend_stats(vm.fe)->ignored, 11);
	CHECK(vv_store_find(store, U("New"), &TEST_GUID) == NULL);
	/* a page outside guest memory: completed, nothing read or run */
	xg_pio(&vm, 0x100, 4, false, 0xfffff);
	CHECK(vv_store_find(store, U("New"), &TEST_GUID) == NULL);
	CHECK_EQ(vv_extvar_device_stats(vm.ram.dev)->bad_doorbells, 1);
	/* the same request rung properly runs */
	xg_pio(&vm, 0x100, 4, false, EV_BUF_GPA >> 12);
	CHECK(vv_store_find(store, U("New"), &TEST_GUID) != NULL);
	CHECK_STATUS(vv_le64(vm.ram.ram + EV_BUF_GPA), VV_EFI_SUCCESS);
}

/* An unknown version: the slot completes, the buffer is untouched. */
static void
test_no_response(void)
{
	static uint8_t copy[XV_BUF];

	setup();
	for (size_t i = 0; i < XV_BUF; i++)
		vm.ram.ram[EV_BUF_GPA + i] = (uint8_t)(i * 13);
	vv_put_le32(vm.ram.ram + EV_BUF_GPA, 2);
	memcpy(copy, vm.ram.ram + EV_BUF_GPA, XV_BUF);
	vm.ram.writes = 0;
	xg_pio(&vm, 0x100, 4, false, EV_BUF_GPA >> 12);
	CHECK_EQ(vm.ram.writes, 0);
	CHECK(memcmp(copy, vm.ram.ram + EV_BUF_GPA, XV_BUF) == 0);
}

static const struct vv_test tests[] = {
	TEST(test_doorbell_per_vcpu),
	TEST(test_accesses_without_effect),
	TEST(test_no_response),
};

VV_TEST_MAIN(tests)
