/*
 * tests/test_daemon_xenvar.c -- vmvarsd serving the varstored protocols
 * over real sockets (issue #18 step 4; docs/protocol.md "XenVariable and
 * ExtVarStore buffers"): --protocol xen and aws grant VARSTORE and serve
 * VARSTORE_REQUEST through the client, behind the Xen front end and the
 * ExtVarStore device (TRANSFER with CRC); the refusals (dialect mismatch,
 * MM on a varstored daemon, VARSTORE on an MM daemon, malformed frames);
 * persistence across a restart; and one state directory served in turn by
 * --protocol xen, aws and mm with the same variables.
 */
#include "guest_firmware.h"
#include "harness.h"
#include "daemon_util.h"
#include "store_util.h"
#include "xen_guest.h"

static void
setup(struct daemon *d, const char *const *extra)
{
	signal(SIGPIPE, SIG_IGN);
	REQUIRE(daemon_setup(d, "vmvarsd-xv", extra));
	REQUIRE(strstr(mgmt(d, "{\"cmd\":\"reset\"}"), "\"ok\":true") != NULL);
}

/* A VMM's side: the client behind the doorbell device (Xen configuration
 * behind the Xen front end, or ExtVarStore with TRANSFER). */
struct vmm {
	struct vv_client *client;
	struct xen_vm xen;          /* Xen: front end + device + RAM */
	struct ev_vm aws;           /* AWS: device + RAM */
	struct xv_guest g;
};

static bool
vmm_start(struct vmm *v, const char *sock, enum vv_xenvar_dialect d)
{
	struct vv_error err;
	struct vv_extvar_handler h;
	struct vv_guest_memory mem;

	memset(v, 0, sizeof(*v));
	v->client = vv_client_connect(sock, &err);
	if (v->client == NULL) {
		printf("# connect: %s\n", err.msg);
		return false;
	}
	vv_client_extvar_handler(v->client, d, &h);
	v->g.dialect = d;
	if (d == VV_XENVAR_XEN) {
		struct vv_extvar_config dc = { false, 0 };
		struct vv_xen_ops ops = { xg_notify, &v->xen };

		ev_vm_init(&v->xen.ram);
		mem = ev_memory(&v->xen.ram);
		v->xen.ram.dev = vv_extvar_device_new(&h, &mem, &dc);
		v->xen.fe = vv_xen_frontend_new(v->xen.ioreq_page, XG_VCPUS, v->xen.ram.dev, &ops);
		v->g.call = xg_call;
		v->g.ctx = &v->xen;
		return v->xen.fe != NULL;
	}
	{
		struct vv_extvar_config dc = {
			true, VV_EXTVAR_FEATURE_CRC32 | VV_EXTVAR_FEATURE_TRANSFER };

		ev_vm_init(&v->aws);
		mem = ev_memory(&v->aws);
		v->aws.dev = vv_extvar_device_new(&h, &mem, &dc);
		v->g.call = ev_call_transfer;
		v->g.ctx = &v->aws;
		return v->aws.dev != NULL;
	}
}

static void
vmm_stop(struct vmm *v)
{
	if (v->g.dialect == VV_XENVAR_XEN)
		xen_vm_stop(&v->xen);
	vv_extvar_device_free(v->aws.dev);
	free(v->aws.ram);
	vv_client_free(v->client);
	memset(v, 0, sizeof(*v));
}

static const char *const xen_args[] = { "--protocol", "xen", NULL };
static const char *const aws_args[] = { "--protocol", "aws", NULL };
static const char *const mm_args[] = { "--protocol", "mm", NULL };

static void
round_trip(struct xv_guest *g)
{
	uint8_t data[16];
	uint64_t size = sizeof(data), max = 0, rem = 0, maxvar = 0;
	uint32_t attr = 0;
	uint16_t name[64] = { 0 };
	vv_guid guid = { { 0 } };
	int found = 0;
	vv_status st;

	CHECK_STATUS(xv_set(g, U("Boot0001"), &VV_GUID_GLOBAL_VARIABLE, NV_BS_RT, "\1\2\3", 3),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(xv_get(g, U("Boot0001"), &VV_GUID_GLOBAL_VARIABLE, &attr, data, &size),
		     VV_EFI_SUCCESS);
	CHECK_EQ(size, 3);
	CHECK_MEM(data, "\1\2\3", 3);
	CHECK_EQ(attr, NV_BS_RT);
	size = 1;
	CHECK_STATUS(xv_get(g, U("Boot0001"), &VV_GUID_GLOBAL_VARIABLE, &attr, data, &size),
		     VV_EFI_BUFFER_TOO_SMALL);
	CHECK_EQ(size, 3);
	for (;;) {
		uint64_t ns = sizeof(name);

		st = xv_get_next(g, &ns, name, &guid);
		if (st != VV_EFI_SUCCESS)
			break;
		found += memcmp(name, u"Boot0001", 18) == 0;
	}
	CHECK_STATUS(st, VV_EFI_NOT_FOUND);
	CHECK_EQ(found, 1);
	/* varstored's limits are the daemon's defaults for this personality */
	CHECK_STATUS(xv_query(g, NV_BS_RT, &max, &rem, &maxvar), VV_EFI_SUCCESS);
	CHECK_EQ(max, 131072);
	CHECK_EQ(maxvar, 57344);
}

static void
test_xen_daemon(void)
{
	struct daemon d;
	struct vmm v;

	setup(&d, xen_args);
	REQUIRE(vmm_start(&v, d.vmm, VV_XENVAR_XEN));
	CHECK(vv_client_features(v.client) & VV_VMM_FEATURE_VARSTORE);
	round_trip(&v.g);
	/* the guest's NOTIFY_SB_FAILURE is logged once */
	CHECK_STATUS(xv_simple(&v.g, VV_XENVAR_NOTIFY_SB_FAILURE), VV_EFI_SUCCESS);
	CHECK_STATUS(xv_simple(&v.g, VV_XENVAR_NOTIFY_SB_FAILURE), VV_EFI_ACCESS_DENIED);
	/* an unknown command: an empty VARSTORE_REPLY, guest memory untouched */
	{
		static uint8_t copy[XV_BUF];

		memset(v.g.buf, 0x77, XV_BUF);
		vv_put_le32(v.g.buf, 1);
		vv_put_le32(v.g.buf + 4, 9);
		memcpy(copy, v.g.buf, XV_BUF);
		CHECK_EQ(xg_call(&v.xen, v.g.buf, XV_BUF, 8), 0);
		CHECK(memcmp(copy, v.g.buf, XV_BUF) == 0);
	}
	vmm_stop(&v);
	CHECK_EQ(stop(&d), 0);
	CHECK(log_has(&d, "Secure Boot verification failure", false));
	/* NV survives a restart */
	REQUIRE(start(&d, xen_args));
	REQUIRE(strstr(mgmt(&d, "{\"cmd\":\"reset\"}"), "\"ok\":true") != NULL);
	REQUIRE(vmm_start(&v, d.vmm, VV_XENVAR_XEN));
	{
		uint8_t data[8];
		uint64_t size = sizeof(data);
		uint32_t attr;

		CHECK_STATUS(xv_get(&v.g, U("Boot0001"), &VV_GUID_GLOBAL_VARIABLE, &attr, data,
				    &size), VV_EFI_SUCCESS);
	}
	vmm_stop(&v);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

static void
test_aws_daemon_transfer(void)
{
	struct daemon d;
	struct vmm v;

	setup(&d, aws_args);
	REQUIRE(vmm_start(&v, d.vmm, VV_XENVAR_AWS));
	round_trip(&v.g);
	CHECK(v.aws.crc_ok);
	CHECK_EQ(v.aws.attempts, 1);
	/* ENTER_RUNTIME then a BS-only variable is invisible */
	CHECK_STATUS(xv_set(&v.g, U("BsOnly"), &TEST_GUID, VV_ATTR_NV | VV_ATTR_BS, "b", 1),
		     VV_EFI_SUCCESS);
	xv_exit_boot_services(&v.g);
	{
		uint8_t data[8];
		uint64_t size = sizeof(data);
		uint32_t attr;

		CHECK_STATUS(xv_get(&v.g, U("BsOnly"), &TEST_GUID, &attr, data, &size),
			     VV_EFI_NOT_FOUND);
		/* the device's reset sends VM_RESET: boot time again */
		vv_extvar_device_reset(v.aws.dev);
		size = sizeof(data);
		CHECK_STATUS(xv_get(&v.g, U("BsOnly"), &TEST_GUID, &attr, data, &size),
			     VV_EFI_SUCCESS);
	}
	vmm_stop(&v);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* Raw frames: the refusals of protocol.md. */
static int
raw_hello(const struct daemon *d, uint64_t features, uint64_t *granted)
{
	uint8_t f[8 + 24], r[8 + 24];
	int fd = connect_unix(d->vmm);

	if (fd < 0)
		return -1;
	vv_put_le32(f, VV_VMM_MSG_HELLO);
	vv_put_le32(f + 4, 24);
	vv_put_le32(f + 8, VV_VMM_MAGIC);
	vv_put_le32(f + 12, VV_VMM_VERSION);
	vv_put_le64(f + 16, features);
	vv_put_le32(f + 24, VV_VMM_MAX_PAYLOAD);
	vv_put_le32(f + 28, 0);
	if (write(fd, f, sizeof(f)) != (ssize_t)sizeof(f) ||
	    recv(fd, r, sizeof(r), MSG_WAITALL) != (ssize_t)sizeof(r)) {
		close(fd);
		return -1;
	}
	*granted = vv_le64(r + 16);
	return fd;
}

/* Sends one frame; returns the type of the answer (ERROR: its code in
 * *code), or 0 if the connection closed without one. */
static uint32_t
raw_frame(int fd, uint32_t type, const uint8_t *payload, uint32_t len, uint32_t *code,
	  uint8_t *reply, uint32_t *rlen)
{
	uint8_t hdr[8];

	vv_put_le32(hdr, type);
	vv_put_le32(hdr + 4, len);
	/* payload NULL: the header alone (a frame refused on its header) */
	if (write(fd, hdr, 8) != 8 ||
	    (payload != NULL && len && write(fd, payload, len) != (ssize_t)len))
		return 0;
	if (recv(fd, hdr, 8, MSG_WAITALL) != 8)
		return 0;
	*rlen = vv_le32(hdr + 4);
	if (*rlen > XV_BUF + 8 || (*rlen && recv(fd, reply, *rlen, MSG_WAITALL) != (ssize_t)*rlen))
		return 0;
	*code = *rlen >= 4 ? vv_le32(reply) : 0;
	return vv_le32(hdr);
}

static uint8_t payload[XV_BUF + 16], reply[XV_BUF + 16];

/* A whole 64 KiB XenVariable QUERY (payload's dialect, version and command
 * already set) for NV|BS|RT, the rest of the buffer fill: answered. */
static void
whole_query(int fd, uint8_t fill)
{
	uint32_t code, rlen;

	memset(payload + 12, fill, XV_BUF - 8);
	vv_put_le32(payload + 12, NV_BS_RT);
	CHECK_EQ(raw_frame(fd, VV_VMM_MSG_VARSTORE_REQUEST, payload, 4 + XV_BUF, &code, reply,
			   &rlen), VV_VMM_MSG_VARSTORE_REPLY);
	CHECK_EQ(rlen, 32);
	CHECK_STATUS(vv_le64(reply), VV_EFI_SUCCESS);
}

static void
test_refusals(void)
{
	struct daemon d;
	uint64_t granted;
	uint32_t code, rlen;
	int fd;

	setup(&d, xen_args);
	/* VARSTORE granted only when asked */
	fd = raw_hello(&d, VV_VMM_FEATURE_VM_RESET, &granted);
	REQUIRE(fd >= 0);
	CHECK_EQ(granted, VV_VMM_FEATURE_VM_RESET);
	vv_put_le32(payload, VV_VMM_VARSTORE_XEN);
	vv_put_le32(payload + 4, 1);
	vv_put_le32(payload + 8, 3);
	CHECK_EQ(raw_frame(fd, VV_VMM_MSG_VARSTORE_REQUEST, payload, 16, &code, reply, &rlen),
		 VV_VMM_MSG_ERROR);
	CHECK_EQ(code, VV_VMM_ERR_UNKNOWN_TYPE);
	close(fd);
	/* wrong dialect */
	fd = raw_hello(&d, VV_VMM_FEATURES_KNOWN, &granted);
	REQUIRE(fd >= 0);
	CHECK(granted & VV_VMM_FEATURE_VARSTORE);
	vv_put_le32(payload, VV_VMM_VARSTORE_AWS);
	CHECK_EQ(raw_frame(fd, VV_VMM_MSG_VARSTORE_REQUEST, payload, 16, &code, reply, &rlen),
		 VV_VMM_MSG_ERROR);
	CHECK_EQ(code, VV_VMM_ERR_MALFORMED);
	close(fd);
	/* too short, too long */
	fd = raw_hello(&d, VV_VMM_FEATURES_KNOWN, &granted);
	REQUIRE(fd >= 0);
	vv_put_le32(payload, VV_VMM_VARSTORE_XEN);
	CHECK_EQ(raw_frame(fd, VV_VMM_MSG_VARSTORE_REQUEST, payload, 11, &code, reply, &rlen),
		 VV_VMM_MSG_ERROR);
	CHECK_EQ(code, VV_VMM_ERR_MALFORMED);
	close(fd);
	fd = raw_hello(&d, VV_VMM_FEATURES_KNOWN, &granted);
	REQUIRE(fd >= 0);
	CHECK_EQ(raw_frame(fd, VV_VMM_MSG_VARSTORE_REQUEST, NULL, 4 + XV_BUF + 1, &code, reply,
			   &rlen), VV_VMM_MSG_ERROR);
	CHECK_EQ(code, VV_VMM_ERR_TOO_LARGE);
	close(fd);
	/* a whole 64 KiB request is fine: QUERY then zeros */
	fd = raw_hello(&d, VV_VMM_FEATURES_KNOWN, &granted);
	REQUIRE(fd >= 0);
	whole_query(fd, 0);
	/* MM on a varstored daemon */
	memset(payload, 0, 64);
	vv_put_le32(payload, 64);
	CHECK_EQ(raw_frame(fd, VV_VMM_MSG_MM_REQUEST, payload, 4 + 24, &code, reply, &rlen),
		 VV_VMM_MSG_ERROR);
	CHECK_EQ(code, VV_VMM_ERR_UNKNOWN_TYPE);
	close(fd);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
	/* VARSTORE on an MM daemon: not granted, and the client says why */
	setup(&d, mm_args);
	fd = raw_hello(&d, VV_VMM_FEATURES_KNOWN, &granted);
	REQUIRE(fd >= 0);
	CHECK_EQ(granted & VV_VMM_FEATURE_VARSTORE, 0);
	close(fd);
	{
		struct vv_error err;
		struct vv_client *c = vv_client_connect(d.vmm, &err);
		size_t n = 99;

		REQUIRE(c != NULL);
		memset(payload, 0, XV_BUF);
		CHECK_EQ(vv_client_varstore(c, VV_XENVAR_XEN, payload, XV_BUF, &n), -1);
		CHECK(strstr(vv_client_last_error(c), "--protocol") != NULL);
		vv_client_free(c);
	}
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* A VMM trims a buffer's trailing zeros; the daemon pads them back.  After
 * a whole 64 KiB QUERY whose attributes are NV|BS|RT, a QUERY trimmed to
 * its version and command must read attributes 0 -- not the 4 bytes the
 * last request left in the daemon's buffer (vm.c zeroes only what the last
 * request used) -- and so answer exactly as the same QUERY with its zero
 * attributes sent. */
static void
test_trimmed_request_reads_zeros(void)
{
	struct daemon d;
	uint64_t granted;
	uint32_t code, rlen, trimmed_len;
	uint64_t trimmed_sts;
	int fd;

	setup(&d, xen_args);
	fd = raw_hello(&d, VV_VMM_FEATURES_KNOWN, &granted);
	REQUIRE(fd >= 0);
	vv_put_le32(payload, VV_VMM_VARSTORE_XEN);
	vv_put_le32(payload + 4, 1);
	vv_put_le32(payload + 8, 3);
	whole_query(fd, 0x5a);
	/* version and command only */
	CHECK_EQ(raw_frame(fd, VV_VMM_MSG_VARSTORE_REQUEST, payload, 12, &code, reply, &rlen),
		 VV_VMM_MSG_VARSTORE_REPLY);
	trimmed_len = rlen;
	trimmed_sts = vv_le64(reply);
	CHECK(trimmed_sts != VV_EFI_SUCCESS);
	/* the same with its zero attributes spelled out */
	vv_put_le32(payload + 12, 0);
	CHECK_EQ(raw_frame(fd, VV_VMM_MSG_VARSTORE_REQUEST, payload, 16, &code, reply, &rlen),
		 VV_VMM_MSG_VARSTORE_REPLY);
	CHECK_EQ(rlen, trimmed_len);
	CHECK_STATUS(vv_le64(reply), trimmed_sts);
	close(fd);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* One state directory served by --protocol xen, then aws, then mm: each
 * sees what the others wrote. */
static void
test_one_store_three_personalities(void)
{
	struct daemon d;
	struct vmm v;
	uint8_t data[16];
	uint64_t size;
	uint32_t attr;

	setup(&d, xen_args);
	REQUIRE(vmm_start(&v, d.vmm, VV_XENVAR_XEN));
	CHECK_STATUS(xv_set(&v.g, U("FromXen"), &TEST_GUID, NV_BS_RT, "xen", 3), VV_EFI_SUCCESS);
	vmm_stop(&v);
	CHECK_EQ(stop(&d), 0);

	REQUIRE(start(&d, aws_args));
	REQUIRE(strstr(mgmt(&d, "{\"cmd\":\"reset\"}"), "\"ok\":true") != NULL);
	REQUIRE(vmm_start(&v, d.vmm, VV_XENVAR_AWS));
	size = sizeof(data);
	CHECK_STATUS(xv_get(&v.g, U("FromXen"), &TEST_GUID, &attr, data, &size), VV_EFI_SUCCESS);
	CHECK_MEM(data, "xen", 3);
	CHECK_STATUS(xv_set(&v.g, U("FromAws"), &TEST_GUID, NV_BS_RT, "aws", 3), VV_EFI_SUCCESS);
	vmm_stop(&v);
	CHECK_EQ(stop(&d), 0);

	REQUIRE(start(&d, mm_args));
	REQUIRE(strstr(mgmt(&d, "{\"cmd\":\"reset\"}"), "\"ok\":true") != NULL);
	{
		struct vv_error err;
		struct vv_mm_handler h;
		struct vv_client *c = vv_client_connect(d.vmm, &err);
		struct vv_uefi_vars_device *dev;
		struct fw_guest g;
		char why[128];

		REQUIRE(c != NULL);
		vv_client_mm_handler(c, &h);
		REQUIRE(fw_guest_alloc(&g, false) == 0);
		dev = vv_uefi_vars_device_new_handler(&h, fw_guest_memory(&g), false);
		REQUIRE(dev != NULL && fw_guest_init(&g, dev, why, sizeof(why)) == 0);
		size = sizeof(data);
		CHECK_STATUS(fw_get_variable(&g, U("FromXen"), &TEST_GUID, &attr, data, &size),
			     VV_EFI_SUCCESS);
		CHECK_MEM(data, "xen", 3);
		size = sizeof(data);
		CHECK_STATUS(fw_get_variable(&g, U("FromAws"), &TEST_GUID, &attr, data, &size),
			     VV_EFI_SUCCESS);
		CHECK_MEM(data, "aws", 3);
		CHECK_STATUS(fw_set_variable(&g, U("FromMm"), &TEST_GUID, NV_BS_RT, "mm", 2),
			     VV_EFI_SUCCESS);
		vv_uefi_vars_device_free(dev);
		fw_guest_release(&g);
		vv_client_free(c);
	}
	CHECK_EQ(stop(&d), 0);

	REQUIRE(start(&d, xen_args));
	REQUIRE(strstr(mgmt(&d, "{\"cmd\":\"reset\"}"), "\"ok\":true") != NULL);
	REQUIRE(vmm_start(&v, d.vmm, VV_XENVAR_XEN));
	size = sizeof(data);
	CHECK_STATUS(xv_get(&v.g, U("FromMm"), &TEST_GUID, &attr, data, &size), VV_EFI_SUCCESS);
	CHECK_MEM(data, "mm", 2);
	vmm_stop(&v);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/* A store larger than varstored's limits: refused at load, with the
 * reason; served once the sizes are given on the command line. */
static void
test_store_over_the_limits(void)
{
	static const char *const sized[] = { "--protocol", "xen", "--nv-storage", "262144",
					     "--max-variable-size", "65536", NULL };
	static uint8_t big[40000];
	struct daemon d;
	struct vv_error err;
	struct vv_store *s;
	char path[200];
	struct vmm v;

	setup(&d, mm_args);
	CHECK_EQ(stop(&d), 0);
	snprintf(path, sizeof(path), "%s/vars.json", d.dir);
	s = vv_store_new(NULL);
	REQUIRE(s != NULL);
	vv_store_set_backend(s, vv_json_file_backend_new(path, &err));
	REQUIRE(vv_store_load(s, &err) == 0);
	for (int i = 0; i < 4; i++) {
		uint16_t name[3] = { 'B', (uint16_t)('0' + i), 0 };

		CHECK_STATUS(set_as(s, VV_CALLER_HOST, name, 2, &TEST_GUID, NV_BS_RT, big,
				    sizeof(big)), VV_EFI_SUCCESS);
	}
	vv_store_free(s);
	{
		/* the daemon exits; start() could see its sockets before the
		 * store is loaded, so wait for the exit itself */
		pid_t pid = spawn(&d, xen_args);
		int status = 0;

		REQUIRE(pid > 0 && waitpid(pid, &status, 0) == pid);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0);
		CHECK(log_has(&d, "store quota exceeded", false));
	}
	REQUIRE(start(&d, sized));
	REQUIRE(strstr(mgmt(&d, "{\"cmd\":\"reset\"}"), "\"ok\":true") != NULL);
	REQUIRE(vmm_start(&v, d.vmm, VV_XENVAR_XEN));
	{
		uint8_t data[8];
		uint64_t size = 8;
		uint32_t attr;

		uint64_t max = 0, rem = 0, maxvar = 0;
		static uint8_t bigger[65536 - 128 - 6];

		CHECK_STATUS(xv_get(&v.g, U("B3"), &TEST_GUID, &attr, data, &size),
			     VV_EFI_BUFFER_TOO_SMALL);
		CHECK_EQ(size, sizeof(big));
		/* the engine's limits follow the sizes given */
		CHECK_STATUS(xv_query(&v.g, NV_BS_RT, &max, &rem, &maxvar), VV_EFI_SUCCESS);
		CHECK_EQ(max, 262144);
		CHECK_STATUS(xv_set(&v.g, U("B0"), &TEST_GUID, 0, NULL, 0), VV_EFI_SUCCESS);
		CHECK_STATUS(xv_set(&v.g, U("B1"), &TEST_GUID, 0, NULL, 0), VV_EFI_SUCCESS);
		CHECK_STATUS(xv_set(&v.g, U("Bx"), &TEST_GUID, NV_BS_RT, bigger, sizeof(bigger)),
			     VV_EFI_SUCCESS);
		{
			/* one byte over: refused on the length alone (no room
			 * in the buffer for such a value anyway) */
			struct xv_w w = xv_start(&v.g, VV_XENVAR_SET_VARIABLE);

			xv_name(&w, U("By"));
			xv_bytes(&w, TEST_GUID.b, 16);
			xv_u64(&w, 65536 - 128 + 1);
			CHECK_STATUS(xv_send(&v.g, &w), VV_EFI_OUT_OF_RESOURCES);
		}
	}
	vmm_stop(&v);
	CHECK_EQ(stop(&d), 0);
	cleanup(&d);
}

/*
 * The runtime latch is security state: a daemon killed while the guest is
 * at runtime comes back at runtime (runtime.state, protocol.md "Daemon
 * restart"), so the guest's at_runtime = 0 still gains it nothing; the
 * volatile variables come back too.  The client reconnects by itself.
 */
static void
test_latch_survives_restart(void)
{
	static const enum vv_xenvar_dialect dialects[] = { VV_XENVAR_XEN, VV_XENVAR_AWS };

	for (size_t i = 0; i < 2; i++) {
		struct daemon d;
		struct vmm v;
		uint8_t data[8];
		uint64_t size;
		uint32_t attr;

		setup(&d, i == 0 ? xen_args : aws_args);
		REQUIRE(vmm_start(&v, d.vmm, dialects[i]));
		CHECK_STATUS(xv_set(&v.g, U("BsOnly"), &TEST_GUID, VV_ATTR_NV | VV_ATTR_BS, "b", 1),
			     VV_EFI_SUCCESS);
		CHECK_STATUS(xv_set(&v.g, U("Vol"), &TEST_GUID, BS_RT, "v", 1), VV_EFI_SUCCESS);
		xv_exit_boot_services(&v.g);
		size = sizeof(data);
		CHECK_STATUS(xv_get(&v.g, U("BsOnly"), &TEST_GUID, &attr, data, &size),
			     VV_EFI_NOT_FOUND);
		crash(&d);
		REQUIRE(start(&d, i == 0 ? xen_args : aws_args));
		v.g.at_runtime = false;
		size = sizeof(data);
		/* the first request after the crash reconnects */
		CHECK_STATUS(xv_get(&v.g, U("BsOnly"), &TEST_GUID, &attr, data, &size),
			     VV_EFI_NOT_FOUND);
		size = sizeof(data);
		CHECK_STATUS(xv_get(&v.g, U("Vol"), &TEST_GUID, &attr, data, &size),
			     VV_EFI_SUCCESS);
		CHECK(vv_client_reconnects(v.client) >= 1);
		vmm_stop(&v);
		CHECK_EQ(stop(&d), 0);
		cleanup(&d);
	}
}

/*
 * Live migration of a varstored-personality VM at runtime (docs/migration.md
 * frames, unchanged by VARSTORE): the destination continues at runtime and
 * with the volatile variables, so the latch moves with the VM.
 */
static void
test_migration_keeps_the_latch(void)
{
	static const char *const src_args[] = { "--protocol", "aws", "--migration", NULL };
	static const char *const dst_args[] = { "--protocol", "aws", "--incoming", NULL };
	struct daemon a, b;
	struct vmm va, vb;
	uint8_t *snap = NULL, data[8];
	size_t n = 0;
	uint64_t size;
	uint32_t attr;

	setup(&a, src_args);
	REQUIRE(daemon_setup(&b, "vmvarsd-xv", dst_args));
	REQUIRE(vmm_start(&va, a.vmm, VV_XENVAR_AWS));
	CHECK_STATUS(xv_set(&va.g, U("BsOnly"), &TEST_GUID, VV_ATTR_NV | VV_ATTR_BS, "b", 1),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(xv_set(&va.g, U("Vol"), &TEST_GUID, BS_RT, "v", 1), VV_EFI_SUCCESS);
	xv_exit_boot_services(&va.g);
	REQUIRE(vv_client_save_state(va.client, VV_SNAPSHOT_FULL, &snap, &n) == 0);
	REQUIRE(vmm_start(&vb, b.vmm, VV_XENVAR_AWS));
	if (vv_client_load_state(vb.client, VV_SNAPSHOT_FULL, snap, n) != 0) {
		printf("# load: %s\n", vv_client_last_error(vb.client));
		vv_test_failures++;
	}
	size = sizeof(data);
	CHECK_STATUS(xv_get(&vb.g, U("BsOnly"), &TEST_GUID, &attr, data, &size),
		     VV_EFI_NOT_FOUND);
	size = sizeof(data);
	CHECK_STATUS(xv_get(&vb.g, U("Vol"), &TEST_GUID, &attr, data, &size), VV_EFI_SUCCESS);
	CHECK_STATUS(xv_set(&vb.g, U("Vol2"), &TEST_GUID, BS_RT, "v", 1),
		     VV_EFI_INVALID_PARAMETER);
	free(snap);
	vmm_stop(&va);
	vmm_stop(&vb);
	CHECK_EQ(stop(&a), 0);
	CHECK_EQ(stop(&b), 0);
	cleanup(&a);
	cleanup(&b);
}

static const struct vv_test tests[] = {
	TEST(test_xen_daemon),
	TEST(test_aws_daemon_transfer),
	TEST(test_refusals),
	TEST(test_trimmed_request_reads_zeros),
	TEST(test_one_store_three_personalities),
	TEST(test_store_over_the_limits),
	TEST(test_latch_survives_restart),
	TEST(test_migration_keeps_the_latch),
};

VV_TEST_MAIN(tests)
