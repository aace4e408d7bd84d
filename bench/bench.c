/*
 * bench/bench.c -- measures vmvars against the physical limits, as
 * ratios taken in the same run (issue #8).  Prints one line per figure,
 *
 *   figure <name> <value> <unit>
 *
 * then a summary table with the targets.  Medians of several repetitions
 * after a warm-up.  `--quick` uses tiny sizes (CI runs it so the bench
 * cannot rot); timings are never asserted anywhere.
 *
 *   bench [--quick] [--dir DIR] [--shared-data DIR]
 *
 * DIR (default: a new directory under $TMPDIR or /var/tmp) is where the
 * durable-write figures fsync; put it on the file system a real store
 * would use.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <uchar.h>
#include <unistd.h>

#include <vmvars/vmvars.h>

#include "guest_firmware.h"

#define NV_BS_RT (VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT)

static bool quick;
static char dir[512];
static const char *shared_data;

struct result {
	const char *name;
	double value;
	const char *unit;
	const char *target;     /* human text, NULL = report only */
	int met;                /* 1 met, 0 missed, -1 no target / not measured */
};

static struct result results[32];
static size_t nresults;

static void
figure(const char *name, double value, const char *unit, const char *target, int met)
{
	printf("figure %s %.3f %s\n", name, value, unit);
	fflush(stdout);
	if (nresults < sizeof(results) / sizeof(results[0]))
		results[nresults++] = (struct result){ name, value, unit, target, met };
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Least-squares slope of log(t) against log(n). */
static double
scaling_exponent(const double *n, const double *t, size_t k)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0;

	for (size_t i = 0; i < k; i++) {
		double x = log(n[i]), y = log(t[i]);

		sx += x;
		sy += y;
		sxx += x * x;
		sxy += x * y;
	}
	return (k * sxy - sx * sy) / (k * sxx - sx * sx);
}

static void
name_of(unsigned i, uint16_t *name)
{
	char text[16];

	snprintf(text, sizeof(text), "Var%06u", i);
	for (int k = 0; k < 10; k++)
		name[k] = (uint8_t)text[k];
}

static struct vv_store *
store_with(unsigned n, size_t value_size)
{
	struct vv_limits l;
	struct vv_store *s;
	uint16_t name[10];
	uint8_t value[4096] = { 0 };
	vv_guid g;

	vv_limits_default(&l);
	l.nv_storage = (uint64_t)n * (60 + 22 + value_size) + (1u << 20);
	s = vv_store_new(&l);
	vv_guid_parse("12345678-1234-1234-1234-123456789abc", &g);
	for (unsigned i = 0; i < n; i++) {
		struct vv_set_request r = { name, 9, g, NV_BS_RT, value, value_size, VV_CALLER_HOST };

		name_of(i, name);
		memcpy(value, &i, sizeof(i));
		if (vv_store_set(s, &r) != VV_EFI_SUCCESS) {
			fprintf(stderr, "bench: could not fill the store\n");
			exit(1);
		}
	}
	return s;
}

/* ---- GetVariable through the device model, in process ---- */

static void
bench_mm_get(void)
{
	unsigned iters = quick ? 2000 : 200000;
	struct vv_store *s = store_with(100, 16);
	struct vv_mm *mm = vv_mm_new(s, NULL);
	struct fw_guest g;
	struct vv_uefi_vars_device *dev;
	double *lat = malloc(iters * sizeof(*lat));
	uint16_t name[10];
	uint8_t data[64];
	uint64_t size;
	vv_guid guid;
	char why[64];

	fw_guest_alloc(&g, false);
	dev = vv_uefi_vars_device_new(mm, fw_guest_memory(&g), false);
	if (fw_guest_init(&g, dev, why, sizeof(why)) != 0 || lat == NULL)
		exit(1);
	vv_guid_parse("12345678-1234-1234-1234-123456789abc", &guid);
	name_of(42, name);
	for (unsigned i = 0; i < iters / 10; i++) {      /* warm-up */
		size = sizeof(data);
		fw_get_variable(&g, name, 9, &guid, NULL, data, &size);
	}
	for (unsigned i = 0; i < iters; i++) {
		double t0 = now_us();

		size = sizeof(data);
		if (fw_get_variable(&g, name, 9, &guid, NULL, data, &size) != VV_EFI_SUCCESS)
			exit(1);
		lat[i] = now_us() - t0;
	}
	{
		double p50 = median(lat, iters);

		figure("mm_get_inproc_p50_us", p50, "us", "<= 2", p50 <= 2.0);
	}
	free(lat);
	vv_uefi_vars_device_free(dev);
	vv_mm_free(mm);
	vv_store_free(s);
	fw_guest_release(&g);
}

/* ---- GetNextVariableName over n variables ---- */

static double
enumerate_ms(unsigned n)
{
	struct vv_store *s = store_with(n, 8);
	struct vv_mm *mm = vv_mm_new(s, NULL);
	static uint8_t buf[65536];
	double t[5];
	int reps = quick ? 1 : 5;

	for (int r = 0; r < reps; r++) {
		unsigned count = 0;
		double t0 = now_us();

		memset(buf, 0, 40 + 24 + 512);
		memcpy(buf, VV_GUID_SMM_VARIABLE.b, 16);
		for (;;) {
			vv_put_le64(buf + 16, 16 + 24 + 512);
			vv_put_le64(buf + 24, VV_MM_GET_NEXT_VARIABLE_NAME);
			vv_put_le64(buf + 40 + 16, 512);      /* the name stays in place */
			if (vv_mm_handle(mm, buf, sizeof(buf)) != VV_STS_SUCCESS ||
			    vv_le64(buf + 32) != VV_EFI_SUCCESS)
				break;
			count++;
		}
		t[r] = (now_us() - t0) / 1000;
		if (count != n) {
			fprintf(stderr, "bench: enumerated %u of %u\n", count, n);
			exit(1);
		}
	}
	vv_mm_free(mm);
	vv_store_free(s);
	return median(t, (size_t)reps);
}

static void
bench_getnext(void)
{
	double n[3] = { 1000, 10000, 100000 }, t[3];

	if (quick) {
		n[0] = 100;
		n[1] = 1000;
		n[2] = 3000;
	}
	for (int i = 0; i < 3; i++)
		t[i] = enumerate_ms((unsigned)n[i]);
	figure(quick ? "getnext_1k_ms" : "getnext_10k_ms", t[1], "ms", "<= 20 at 10k",
	       quick ? -1 : t[1] <= 20);
	{
		double e = scaling_exponent(n, t, 3);

		figure("getnext_scaling_exp", e, "", "<= 1.15", e <= 1.15);
	}
}

/* ---- durable writes ---- */

/* A bare write + fsync of `size` bytes to a new file in dir. */
static double
bare_fsync_us(size_t size)
{
	char path[600];
	char *data = calloc(1, size ? size : 1);
	double t[15];
	int reps = quick ? 3 : 15;

	snprintf(path, sizeof(path), "%s/bare.bin", dir);
	for (int r = 0; r < reps; r++) {
		double t0 = now_us();
		int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);

		if (fd < 0 || write(fd, data, size) != (ssize_t)size || fsync(fd) != 0) {
			perror("bench: bare write");
			exit(1);
		}
		close(fd);
		t[r] = now_us() - t0;
	}
	unlink(path);
	free(data);
	return median(t, (size_t)reps);
}

/* One durable NV SetVariable on a store holding about `bytes` of data;
 * *file_size gets the store file's size. */
static double
nv_set_us(size_t bytes, size_t *file_size)
{
	char path[600];
	struct vv_error err;
	unsigned n = (unsigned)(bytes / 256 ? bytes / 256 : 1);
	struct vv_store *s = store_with(n, 256 - 60 - 20);
	struct vv_backend *b;
	uint16_t name[10];
	vv_guid g;
	double t[15];
	int reps = quick ? 3 : 15;
	struct stat st;

	snprintf(path, sizeof(path), "%s/store-%zu.json", dir, bytes);
	b = vv_json_file_backend_new(path, &err);
	vv_store_set_backend(s, b);
	if (vv_store_flush(s, &err) != 0) {
		fprintf(stderr, "bench: %s\n", err.msg);
		exit(1);
	}
	vv_guid_parse("12345678-1234-1234-1234-123456789abc", &g);
	name_of(0, name);
	for (int r = 0; r < reps; r++) {
		uint32_t v[2] = { (uint32_t)r, 0xabcdef };
		struct vv_set_request req = { name, 9, g, NV_BS_RT, (const uint8_t *)v, sizeof(v),
					      VV_CALLER_GUEST };
		double t0 = now_us();

		if (vv_store_set(s, &req) != VV_EFI_SUCCESS) {
			fprintf(stderr, "bench: NV write failed: %s\n", vv_store_last_io_error(s));
			exit(1);
		}
		t[r] = now_us() - t0;
	}
	*file_size = stat(path, &st) == 0 ? (size_t)st.st_size : 0;
	vv_store_free(s);
	unlink(path);
	return median(t, (size_t)reps);
}

static void
bench_durable_writes(void)
{
	size_t small_file, large_file;
	double small = nv_set_us(16 << 10, &small_file);
	double large = nv_set_us(quick ? 128 << 10 : 1 << 20, &large_file);
	double bare = bare_fsync_us(small_file);
	double ratio = small / bare, scaling = large / small;

	figure("nv_set_16k_us", small, "us", NULL, -1);
	figure("bare_write_fsync_us", bare, "us", NULL, -1);
	figure("nv_set_vs_fsync_ratio", ratio, "x", "<= 1.3", ratio <= 1.3);
	figure(quick ? "nv_set_store_scaling_128k" : "nv_set_store_scaling", scaling, "x",
	       "<= 1.5 (16 KiB vs 1 MiB)", quick ? -1 : scaling <= 1.5);
}

/* ---- the recorded OVMF boot, end to end ---- */

static void
bench_boot_replay(void)
{
	char path[1024], store_path[600];
	FILE *f;
	double t[5];
	int reps = quick ? 1 : 5;

	if (shared_data == NULL) {
		printf("# boot_replay_ms: not measured (no shared data directory)\n");
		return;
	}
	snprintf(path, sizeof(path), "%s/ovmf-boot/requests.jsonl", shared_data);
	snprintf(store_path, sizeof(store_path), "%s/boot.json", dir);
	for (int r = 0; r < reps; r++) {
		struct vv_error err;
		struct vv_store *s = vv_store_new(NULL);
		struct vv_policy *p = vv_policy_new(s, NULL);
		struct vv_mm *mm = vv_mm_new(s, p);
		struct fw_guest g;
		struct vv_uefi_vars_device *dev;
		char *line = NULL;
		size_t cap = 0;
		double t0;

		unlink(store_path);
		vv_store_set_backend(s, vv_json_file_backend_new(store_path, &err));
		fw_guest_alloc(&g, false);
		dev = vv_uefi_vars_device_new(mm, fw_guest_memory(&g), false);
		f = fopen(path, "r");
		if (f == NULL) {
			printf("# boot_replay_ms: not measured (%s: %s)\n", path, strerror(errno));
			return;
		}
		t0 = now_us();
		vv_uefi_vars_device_write(dev, VV_REG_BUFFER_SIZE, VV_MM_MAX_BUFFER, 4);
		vv_uefi_vars_device_write(dev, VV_REG_DMA_ADDR_LO, FW_COMM_GPA, 4);
		while (getline(&line, &cap, f) > 0) {
			struct json_object *o = json_tokener_parse(line), *hex;
			const char *h;
			size_t len;

			if (o == NULL || !json_object_object_get_ex(o, "request", &hex))
				exit(1);
			h = json_object_get_string(hex);
			len = strlen(h) / 2;
			for (size_t i = 0; i < len; i++) {
				unsigned v;

				sscanf(h + 2 * i, "%2x", &v);
				g.ram[FW_COMM_GPA + i] = (uint8_t)v;
			}
			vv_uefi_vars_device_write(dev, VV_REG_CMD_STS, VV_CMD_DMA_MM, 2);
			json_object_put(o);
		}
		t[r] = (now_us() - t0) / 1000;
		fclose(f);
		free(line);
		vv_uefi_vars_device_free(dev);
		vv_mm_free(mm);
		vv_policy_free(p);
		vv_store_free(s);
		fw_guest_release(&g);
	}
	unlink(store_path);
	figure("boot_replay_ms", median(t, (size_t)reps), "ms", NULL, -1);
}

static void
summary(void)
{
	printf("\n%-32s %12s  %-26s %s\n", "figure", "value", "target", "");
	for (size_t i = 0; i < nresults; i++) {
		const struct result *r = &results[i];

		printf("%-32s %12.3f  %-26s %s\n", r->name, r->value, r->target ? r->target : "report",
		       r->met == 1 ? "met" : r->met == 0 ? "MISSED" : "");
	}
	printf("not measured here: mm_get_socket_p50_us, daemon_rss_kib, daemon_cold_start_ms "
	       "(vmvarsd, issue #4); auth_set_vs_openssl_ratio, dbx_append_10k_ms (issue #3)\n");
}

int
main(int argc, char **argv)
{
	const char *user_dir = NULL;
	struct stat st;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = true;
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			user_dir = argv[++i];
		else if (strcmp(argv[i], "--shared-data") == 0 && i + 1 < argc)
			shared_data = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--quick] [--dir DIR] [--shared-data DIR]\n",
				argv[0]);
			return 2;
		}
	}
	if (shared_data == NULL && stat(VV_SOURCE_ROOT "/../shared/data", &st) == 0)
		shared_data = VV_SOURCE_ROOT "/../shared/data";
	if (user_dir != NULL) {
		snprintf(dir, sizeof(dir), "%s", user_dir);
	} else {
		const char *tmp = getenv("TMPDIR");

		snprintf(dir, sizeof(dir), "%s/vmvars-bench-XXXXXX", tmp ? tmp : "/var/tmp");
		if (mkdtemp(dir) == NULL) {
			perror("bench: mkdtemp");
			return 1;
		}
	}
	printf("# vmvars %s bench%s, durable writes in %s\n", VMVARS_VERSION,
	       quick ? " (quick: tiny sizes, figures not comparable)" : "", dir);
	bench_mm_get();
	bench_getnext();
	bench_durable_writes();
	bench_boot_replay();
	summary();
	if (user_dir == NULL)
		rmdir(dir);
	return 0;
}
