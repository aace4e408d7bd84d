/*
 * tests/test_xen_host.c -- vmvars-xen's event loop (src/xen/host.c), the
 * code that runs on a real Xen host, driven through simulated operations
 * in place of libxenevtchn and libxenforeignmemory (no hypervisor runs
 * here; docs/protocols.md "Running on Xen"): a queue of pending local
 * ports that stay masked until unmasked, guest RAM reached only by
 * mapping frames, and a record of the ports notified.  XenVariable
 * requests from several vCPUs go through the loop to an engine; the
 * 16-page buffer is mapped once to read, the response's pages once to
 * answer, and every mapping is unmapped; the loop signals our end of each vCPU's channel
 * (not the slot's vp_eport); unknown ports, unmappable buffers and failing
 * operations are handled as host.h says.  Last, the composition
 * vmvars-xen runs (src/xen/main.c): the loop in front of a real vmvarsd
 * --protocol xen through vv_client_extvar_handler, after VM_RESET.
 */
#include "harness.h"
#include "daemon_util.h"
#include "store_util.h"
#include "xenvar_guest.h"

#include "../src/xen/host.h"

#define RAM_SIZE  (1u << 20)
#define BUF_GPA   0x40000u
#define VCPUS     4u
#define LOCAL(v)  (100u + (v))
#define REMOTE(v) (40u + (v))

struct sim {
	uint8_t *ram;
	uint8_t ioreq_page[4096];
	uint32_t queue[8];
	unsigned queued, next;
	bool masked[256];
	unsigned notifies, unmasks, maps, unmaps, outstanding;
	uint32_t last_notified;
	uint64_t last_gfn;
	size_t last_npages;
	struct { uint64_t gfn; size_t npages; } log[64];   /* successful maps */
	bool fail_wait, fail_unmask, fail_notify;
};

static int
sim_wait(void *opaque, uint32_t *port)
{
	struct sim *s = opaque;

	if (s->fail_wait)
		return -1;
	if (s->next == s->queued)
		return 0;                        /* nothing pending: stop */
	*port = s->queue[s->next++];
	CHECK(!s->masked[*port]);
	s->masked[*port] = true;                 /* delivered: masked until unmasked */
	return 1;
}

static int
sim_unmask(void *opaque, uint32_t port)
{
	struct sim *s = opaque;

	CHECK(s->masked[port]);
	s->masked[port] = false;
	s->unmasks++;
	return s->fail_unmask ? -1 : 0;
}

static int
sim_notify(void *opaque, uint32_t port)
{
	struct sim *s = opaque;

	s->notifies++;
	s->last_notified = port;
	return s->fail_notify ? -1 : 0;
}

static void *
sim_map(void *opaque, uint64_t gfn, size_t npages)
{
	struct sim *s = opaque;

	s->last_gfn = gfn;
	s->last_npages = npages;
	if (gfn >= RAM_SIZE / 4096 || npages > RAM_SIZE / 4096 - gfn)
		return NULL;
	if (s->maps < 64) {
		s->log[s->maps].gfn = gfn;
		s->log[s->maps].npages = npages;
	}
	s->maps++;
	s->outstanding++;
	return s->ram + gfn * 4096;
}

static void
sim_unmap(void *opaque, void *addr, size_t npages)
{
	struct sim *s = opaque;

	CHECK(s->outstanding > 0);
	CHECK(addr == s->ram + s->last_gfn * 4096 && npages == s->last_npages);
	s->outstanding--;
	s->unmaps++;
}

static size_t
engine_handle(void *opaque, uint8_t *buf, size_t size)
{
	return vv_xenvar_handle(opaque, buf, size);
}

static struct vv_store *store;
static struct vv_xenvar *xv;
static struct sim sim;
static struct xen_host *host;
static struct xv_guest guest;
static unsigned cur_vcpu;

static void
teardown(void)
{
	xen_host_free(host);
	vv_xenvar_free(xv);
	vv_store_free(store);
	free(sim.ram);
	host = NULL;
	xv = NULL;
	store = NULL;
	sim.ram = NULL;
}

static const struct xen_host_ops sim_ops = {
	sim_wait, sim_unmask, sim_notify, sim_map, sim_unmap, &sim,
};

/* A vCPU's PIO write as Xen presents it: the slot READY, its port pending. */
static void
post(unsigned vcpu, uint16_t port, uint32_t size, uint64_t value)
{
	uint8_t *slot = sim.ioreq_page + vcpu * VV_XEN_IOREQ_SLOT_SIZE;

	memset(slot, 0, VV_XEN_IOREQ_SLOT_SIZE);
	vv_put_le64(slot, port);
	vv_put_le64(slot + 8, value);
	vv_put_le32(slot + 16, 1);
	vv_put_le32(slot + 20, size);
	vv_put_le32(slot + 24, REMOTE(vcpu));
	slot[30] = VV_XEN_STATE_IOREQ_READY;
	slot[31] = VV_XEN_IOREQ_TYPE_PIO;
	sim.queue[sim.queued++] = LOCAL(vcpu);
}

static uint8_t
slot_state(unsigned vcpu)
{
	return sim.ioreq_page[vcpu * VV_XEN_IOREQ_SLOT_SIZE + 30] & 0x0f;
}

static void
reset_queue(void)
{
	sim.queued = sim.next = 0;
}

/* xv_guest transport: the request at BUF_GPA, the doorbell, the loop run
 * until nothing is pending. */
static size_t
host_call(void *ctx, uint8_t *buf, size_t size, size_t req_len)
{
	size_t n = size < XV_BUF ? size : XV_BUF;

	(void)ctx;
	(void)req_len;
	memcpy(sim.ram + BUF_GPA, buf, n);
	reset_queue();
	post(cur_vcpu, VV_XEN_VARSTORED_PORT, 4, BUF_GPA >> 12);
	CHECK_EQ(xen_host_run(host), 0);
	CHECK_EQ(slot_state(cur_vcpu), VV_XEN_STATE_IORESP_READY);
	CHECK_EQ(sim.last_notified, LOCAL(cur_vcpu));
	if (memcmp(sim.ram + BUF_GPA, buf, n) == 0)
		return 0;
	memcpy(buf, sim.ram + BUF_GPA, n);
	return n;
}

/* The stack on an engine, or with h_override (not NULL) on that handler. */
static void
setup_with(const struct vv_extvar_handler *h_override)
{
	static bool registered;
	struct vv_extvar_handler h = { engine_handle, NULL, NULL };
	uint32_t ports[VCPUS];
	struct vv_xenvar_limits lim;
	struct vv_limits sl;

	if (!registered)
		registered = atexit(teardown) == 0;
	teardown();
	memset(&sim, 0, sizeof(sim));
	sim.ram = calloc(1, RAM_SIZE);
	vv_xenvar_limits_default(&lim);
	vv_xenvar_store_limits(&lim, &sl);
	store = vv_store_new(&sl);
	xv = vv_xenvar_new(store, NULL);
	REQUIRE(sim.ram != NULL && store != NULL && xv != NULL);
	h.opaque = xv;
	for (unsigned v = 0; v < VCPUS; v++)
		ports[v] = LOCAL(v);
	host = xen_host_new(&sim_ops, sim.ioreq_page, VCPUS, ports, h_override ? h_override : &h);
	REQUIRE(host != NULL);
	memset(&guest, 0, sizeof(guest));
	guest.dialect = VV_XENVAR_XEN;
	guest.call = host_call;
	cur_vcpu = 0;
}

static void
setup(void)
{
	setup_with(NULL);
}

static void
test_requests_per_vcpu(void)
{
	uint8_t data[8];
	uint64_t size;
	uint32_t attr;

	setup();
	for (unsigned v = 0; v < VCPUS; v++) {
		uint16_t name[3] = { 'V', (uint16_t)('0' + v), 0 };
		unsigned maps = sim.maps;

		cur_vcpu = v;
		CHECK_STATUS(xv_set(&guest, name, 2, &TEST_GUID, NV_BS_RT, "x", 1), VV_EFI_SUCCESS);
		/* the 16 pages mapped once to copy the request out, then the
		 * response's page to write it, each unmapped at once */
		CHECK_EQ(sim.maps - maps, 2);
		CHECK_EQ(sim.log[maps].gfn, BUF_GPA >> 12);
		CHECK_EQ(sim.log[maps].npages, 16);
		CHECK_EQ(sim.log[maps + 1].gfn, BUF_GPA >> 12);
		CHECK_EQ(sim.log[maps + 1].npages, 1);
		CHECK_EQ(sim.outstanding, 0);
		size = sizeof(data);
		CHECK_STATUS(xv_get(&guest, name, 2, &TEST_GUID, &attr, data, &size),
			     VV_EFI_SUCCESS);
		CHECK_EQ(size, 1);
		CHECK_EQ(data[0], 'x');
	}
	CHECK_EQ(sim.notifies, 2 * VCPUS);
	CHECK_EQ(sim.unmasks, 2 * VCPUS);
	CHECK_EQ(sim.maps, sim.unmaps);
	CHECK_EQ(xen_host_stats(host)->events, 2 * VCPUS);
	CHECK_EQ(vv_xen_frontend_stats(xen_host_frontend(host))->doorbells, 2 * VCPUS);
	CHECK_EQ(vv_store_count(store), VCPUS);
}

/* Several vCPUs pending at once, an unknown port among them, a vCPU whose
 * event arrives with no request in its slot. */
static void
test_batch_and_spurious(void)
{
	setup();
	CHECK_STATUS(xv_set(&guest, U("A"), &TEST_GUID, NV_BS_RT, "a", 1), VV_EFI_SUCCESS);
	reset_queue();
	sim.notifies = 0;
	post(1, 0x104, 4, 7);                    /* PPI index: no effect */
	sim.queue[sim.queued++] = 7;             /* no vCPU's port */
	post(2, 0x108, 4, 7);
	sim.queue[sim.queued++] = LOCAL(3);      /* vCPU 3's slot is NONE */
	CHECK_EQ(xen_host_run(host), 0);
	CHECK_EQ(slot_state(1), VV_XEN_STATE_IORESP_READY);
	CHECK_EQ(slot_state(2), VV_XEN_STATE_IORESP_READY);
	CHECK_EQ(slot_state(3), VV_XEN_STATE_NONE);
	CHECK_EQ(sim.notifies, 2);
	CHECK_EQ(xen_host_stats(host)->spurious, 1);
	CHECK(!sim.masked[7] && !sim.masked[LOCAL(1)] && !sim.masked[LOCAL(3)]);
	CHECK_EQ(vv_xen_frontend_stats(xen_host_frontend(host))->ignored, 2);
	CHECK_EQ(vv_store_count(store), 1);
}

/* A buffer the host cannot map (past the end of guest RAM): the vCPU gets
 * its completion, nothing runs, nothing stays mapped. */
static void
test_unmappable_buffer(void)
{
	setup();
	reset_queue();
	post(0, VV_XEN_VARSTORED_PORT, 4, RAM_SIZE / 4096 - 8);
	CHECK_EQ(xen_host_run(host), 0);
	CHECK_EQ(slot_state(0), VV_XEN_STATE_IORESP_READY);
	CHECK_EQ(sim.notifies, 1);
	CHECK_EQ(sim.maps, 0);
	CHECK_EQ(sim.outstanding, 0);
	CHECK_EQ(xen_host_stats(host)->map_failures, 1);
	CHECK_EQ(vv_extvar_device_stats(xen_host_device(host))->bad_doorbells, 1);
	CHECK_EQ(vv_store_count(store), 0);
}

/* A failed wait, notify or unmask stops the loop with -1. */
static void
test_failures_stop_the_loop(void)
{
	setup();
	reset_queue();
	sim.fail_wait = true;
	post(0, 0x104, 4, 1);
	CHECK_EQ(xen_host_run(host), -1);
	CHECK_EQ(sim.notifies, 0);
	sim.fail_wait = false;
	sim.fail_notify = true;
	CHECK_EQ(xen_host_run(host), -1);
	CHECK_EQ(sim.notifies, 1);
	sim.fail_notify = false;
	sim.masked[LOCAL(0)] = false;
	reset_queue();
	sim.fail_unmask = true;
	post(0, 0x104, 4, 1);
	post(0, 0x104, 4, 1);
	CHECK_EQ(xen_host_run(host), -1);
	CHECK_EQ(sim.next, 1);                   /* the second event was not taken */
}

static void
test_bad_arguments(void)
{
	struct vv_extvar_handler h = { engine_handle, NULL, NULL };
	struct xen_host_ops ops = sim_ops;
	uint32_t ports[XEN_HOST_MAX_VCPUS + 1] = { 0 };

	setup();
	h.opaque = xv;
	CHECK(xen_host_new(&sim_ops, sim.ioreq_page, 0, ports, &h) == NULL);
	CHECK(xen_host_new(&sim_ops, sim.ioreq_page, XEN_HOST_MAX_VCPUS + 1, ports, &h) == NULL);
	CHECK(xen_host_new(&sim_ops, NULL, 1, ports, &h) == NULL);
	CHECK(xen_host_new(&sim_ops, sim.ioreq_page, 1, NULL, &h) == NULL);
	CHECK(xen_host_new(&sim_ops, sim.ioreq_page, 1, ports, NULL) == NULL);
	ops.map = NULL;
	CHECK(xen_host_new(&ops, sim.ioreq_page, 1, ports, &h) == NULL);
	{
		struct xen_host *x = xen_host_new(&sim_ops, sim.ioreq_page, XEN_HOST_MAX_VCPUS,
						  ports, &h);

		CHECK(x != NULL);
		xen_host_free(x);
	}
}

/* What vmvars-xen runs: VM_RESET, then the loop forwarding to vmvarsd
 * --protocol xen; the variable is in the daemon's store, and a daemon
 * restarted on the same directory serves it to a reconnected front end
 * that sends no reset (--no-reset). */
static void
test_through_vmvarsd(void)
{
	const char *const extra[] = { "--protocol", "xen", NULL };
	struct vv_extvar_handler h;
	struct vv_client *c;
	struct vv_error err;
	struct daemon d;
	uint8_t data[8];
	uint64_t size;
	uint32_t attr;

	signal(SIGPIPE, SIG_IGN);
	REQUIRE(daemon_setup(&d, "vmvars-xenhost", extra));
	c = vv_client_connect(d.vmm, &err);
	REQUIRE(c != NULL);
	CHECK_EQ(vv_client_vm_reset(c), 0);
	vv_client_extvar_handler(c, VV_XENVAR_XEN, &h);
	setup_with(&h);
	cur_vcpu = 2;
	CHECK_STATUS(xv_set(&guest, U("FromXen"), &TEST_GUID, NV_BS_RT, "xen", 3),
		     VV_EFI_SUCCESS);
	CHECK_EQ(vv_store_count(store), 0);          /* not the local engine's */
	CHECK_EQ(sim.outstanding, 0);
	CHECK_EQ(stop(&d), 0);
	vv_client_free(c);

	REQUIRE(start(&d, extra));
	c = vv_client_connect(d.vmm, &err);
	REQUIRE(c != NULL);
	vv_client_extvar_handler(c, VV_XENVAR_XEN, &h);
	setup_with(&h);
	cur_vcpu = 3;
	size = sizeof(data);
	CHECK_STATUS(xv_get(&guest, U("FromXen"), &TEST_GUID, &attr, data, &size),
		     VV_EFI_SUCCESS);
	CHECK_EQ(size, 3);
	CHECK(memcmp(data, "xen", 3) == 0);
	CHECK_EQ(attr, NV_BS_RT);
	CHECK_EQ(sim.notifies, 1);
	CHECK_EQ(sim.last_notified, LOCAL(3));
	teardown();
	vv_client_free(c);
	cleanup(&d);
}

static const struct vv_test tests[] = {
	TEST(test_requests_per_vcpu),
	TEST(test_batch_and_spurious),
	TEST(test_unmappable_buffer),
	TEST(test_failures_stop_the_loop),
	TEST(test_bad_arguments),
	TEST(test_through_vmvarsd),
};

VV_TEST_MAIN(tests)
