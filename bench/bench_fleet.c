/*
 * bench/bench_fleet.c -- the fleet store's figures (issue #15,
 * docs/fleet.md), as ratios measured in one run against one private
 * PostgreSQL server (scripts/pg-server, fsync on) that this program starts
 * and stops.  Prints `figure <name> <value> <unit>` lines like bench.c.
 *
 *   fleet_nv_set_vs_bare_commit_ratio  a durable SetVariable-sized write
 *       through the store and the fleet backend, against a bare libpq
 *       upsert + commit of the same bytes on the same server (goal <= 1.3)
 *   fleet_cold_start_ms_10, _large, fleet_cold_start_ratio  connect, take
 *       ownership and load one VM of 20 variables in a database of 10 VMs
 *       and of 10,000 (1,000 with --quick) (goal: ratio <= 1.5)
 *   fleet_handover_ms  a 256 KiB store handed over: the destination's
 *       refresh, the volatile-only snapshot saved and loaded, ownership
 *
 *   bench_fleet [--quick]
 *
 * Timings are never asserted; ./dev test runs --quick so that it cannot rot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include <vmvars/vmvars.h>

#include "backend/pg_backend.h"
#include "bench_util.h"

#define NV_BS_RT (VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT)

static bool quick;
static char pg_dir[64], conninfo[256];

static void
figure(const char *name, double value, const char *unit, const char *goal)
{
	printf("figure %s %.3f %s%s%s\n", name, value, unit, goal ? "  # goal " : "",
	       goal ? goal : "");
	fflush(stdout);
}

static int
pg_server(const char *cmd)
{
	char line[512];

	char extra[48] = "";

	if (strcmp(cmd, "start") == 0)
		snprintf(extra, sizeof(extra), "--fsync --watch %d", (int)getpid());
	snprintf(line, sizeof(line), "%s/scripts/pg-server %s %s %s >/dev/null", VV_SOURCE_ROOT,
		 cmd, pg_dir, extra);
	return system(line);
}

static void
sql(PGconn *c, const char *text)
{
	PGresult *r = PQexec(c, text);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "bench_fleet: %s: %s", text, PQerrorMessage(c));
		exit(1);
	}
	PQclear(r);
}

static struct vv_store *
open_vm(const char *vm, enum vv_pg_mode mode, struct vv_backend **out)
{
	struct vv_error err = { { 0 } };
	struct vv_pg_options o = { conninfo, vm, NULL, mode, true, false };
	struct vv_store *s = vv_store_new(NULL);
	struct vv_backend *b = vv_pg_backend_new(&o, &err);

	if (b == NULL) {
		fprintf(stderr, "bench_fleet: %s\n", err.msg);
		exit(1);
	}
	vv_store_set_backend(s, b);
	if (vv_store_load(s, &err) != 0) {
		fprintf(stderr, "bench_fleet: %s\n", err.msg);
		exit(1);
	}
	if (out != NULL)
		*out = b;
	return s;
}

/* A durable write of 64 bytes, both ways, the same number of times. */
static void
bench_nv_set(PGconn *c)
{
	int n = quick ? 50 : 1000, reps = quick ? 3 : 7;
	double fleet[7], bare[7];
	struct vv_store *s = open_vm("bench-set", VV_PG_OWN, NULL);
	uint8_t value[64];
	const char *prep = "INSERT INTO bench_bare (k, v) VALUES ($1, $2) ON CONFLICT (k) DO "
			   "UPDATE SET v = EXCLUDED.v";
	PGresult *r;

	sql(c, "CREATE TABLE IF NOT EXISTS bench_bare (k text PRIMARY KEY, v bytea)");
	r = PQprepare(c, "bare", prep, 2, NULL);
	PQclear(r);
	memset(value, 0x5a, sizeof(value));
	for (int rep = 0; rep < reps; rep++) {
		double t0 = now_us();

		for (int i = 0; i < n; i++) {
			value[0] = (uint8_t)i;
			if (vv_store_put(s, (const uint16_t *)u"BenchVar", 8, &VV_GUID_GLOBAL_VARIABLE,
					 NV_BS_RT, value, sizeof(value), NULL) != VV_EFI_SUCCESS) {
				fprintf(stderr, "bench_fleet: write failed: %s\n",
					vv_store_last_io_error(s));
				exit(1);
			}
		}
		fleet[rep] = (now_us() - t0) / n;
		t0 = now_us();
		for (int i = 0; i < n; i++) {
			const char *vals[2] = { "BenchVar", (const char *)value };
			int lens[2] = { 0, sizeof(value) }, fmts[2] = { 0, 1 };

			value[0] = (uint8_t)i;
			r = PQexecPrepared(c, "bare", 2, vals, lens, fmts, 0);
			if (PQresultStatus(r) != PGRES_COMMAND_OK) {
				fprintf(stderr, "bench_fleet: bare: %s", PQerrorMessage(c));
				exit(1);
			}
			PQclear(r);
		}
		bare[rep] = (now_us() - t0) / n;
	}
	figure("fleet_nv_set_us", median(fleet, (size_t)reps), "us", NULL);
	figure("fleet_bare_upsert_commit_us", median(bare, (size_t)reps), "us", NULL);
	figure("fleet_nv_set_vs_bare_commit_ratio",
	       median(fleet, (size_t)reps) / median(bare, (size_t)reps), "x", "<= 1.3");
	vv_store_free(s);
}

/* n VMs named cold-<n>-<i>, each with 20 variables of 100 bytes, in bulk. */
static void
populate(PGconn *c, int n)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "INSERT INTO vmvars_vm (name, nv_generation, next_seq) SELECT 'cold-%d-' || g, 20, 20 "
		 "FROM generate_series(1, %d) g", n, n);
	sql(c, text);
	snprintf(text, sizeof(text),
		 "INSERT INTO vmvars_var (vm_id, guid, name, seq, attributes, data) "
		 "SELECT m.id, '8be4df61-93ca-11d2-aa0d-00e098032b8c', "
		 "convert_to('Var' || lpad(k::text, 4, '0'), 'UTF8'), k, 7, "
		 "decode(repeat('ab', 100), 'hex') FROM vmvars_vm m, generate_series(0, 19) k "
		 "WHERE m.name LIKE 'cold-%d-%%'", n);
	/* names must be UCS-2LE: interleave a zero byte after each ASCII one */
	sql(c, text);
	snprintf(text, sizeof(text),
		 "UPDATE vmvars_var v SET name = (SELECT string_agg(substr(v.name, i, 1) || "
		 "'\\x00'::bytea, ''::bytea ORDER BY i) FROM generate_series(1, length(v.name)) i) "
		 "FROM vmvars_vm m WHERE m.id = v.vm_id AND m.name LIKE 'cold-%d-%%'", n);
	sql(c, text);
	sql(c, "ANALYZE vmvars_vm");
	sql(c, "ANALYZE vmvars_var");
}

static double
cold_start(int n)
{
	int reps = quick ? 5 : 21;
	double t[21];
	char vm[64];

	for (int i = 0; i < reps; i++) {
		struct vv_store *s;
		double t0;

		snprintf(vm, sizeof(vm), "cold-%d-%d", n, 1 + (i * 7919) % n);
		t0 = now_us();
		s = open_vm(vm, VV_PG_OWN, NULL);
		t[i] = (now_us() - t0) / 1000;
		if (vv_store_count(s) != 20) {
			fprintf(stderr, "bench_fleet: %s has %zu variables\n", vm, vv_store_count(s));
			exit(1);
		}
		vv_store_free(s);
	}
	return median(t, (size_t)reps);
}

static void
bench_cold_start(PGconn *c)
{
	int large = quick ? 1000 : 10000;
	double small_ms, large_ms;
	char name[64];

	populate(c, 10);
	small_ms = cold_start(10);
	populate(c, large);
	large_ms = cold_start(large);
	figure("fleet_cold_start_ms_10", small_ms, "ms", NULL);
	snprintf(name, sizeof(name), "fleet_cold_start_ms_%d", large);
	figure(name, large_ms, "ms", NULL);
	figure("fleet_cold_start_ratio", large_ms / small_ms, "x", "<= 1.5");
}

/* A 256 KiB store (60 variables of 4 KiB) handed from a source to a
 * destination: refresh, volatile-only snapshot saved and loaded, ownership. */
static void
bench_handover(void)
{
	int reps = quick ? 3 : 11, vars = quick ? 8 : 60;
	double t[11];
	struct vv_backend *bs;
	struct vv_store *src = open_vm("handover", VV_PG_OWN, &bs);
	uint8_t value[4096];

	memset(value, 0xc3, sizeof(value));
	for (int i = 0; i < vars; i++) {
		uint16_t name[8] = { 'B', 'i', 'g', (uint16_t)('A' + i / 26), (uint16_t)('a' + i % 26) };

		value[0] = (uint8_t)i;
		if (vv_store_put(src, name, 5, &VV_GUID_GLOBAL_VARIABLE, NV_BS_RT, value,
				 sizeof(value), NULL) != VV_EFI_SUCCESS) {
			fprintf(stderr, "bench_fleet: fill: %s\n", vv_store_last_io_error(src));
			exit(1);
		}
	}
	for (int rep = 0; rep < reps; rep++) {
		struct vv_error err = { { 0 } };
		struct vv_backend *bd;
		struct vv_store *dst = open_vm("handover", VV_PG_LATER, &bd);
		struct vv_policy *ps = vv_policy_new(src, NULL), *pd = vv_policy_new(dst, NULL);
		struct vv_mor *ms = vv_mor_new(src, false), *md = vv_mor_new(dst, false);
		struct vv_snapshot_options o = { { 0 }, VV_SNAPSHOT_NV_DIGEST };
		uint8_t *snap = NULL;
		size_t n = 0;
		double t0 = now_us();

		if (vv_pg_refresh(bd, dst, &err) != 0 ||
		    vv_snapshot_save(&(struct vv_service){ src, ps, ms }, &o, &snap, &n, &err) != 0 ||
		    vv_snapshot_load(&(struct vv_service){ dst, pd, md }, &o, snap, n, &err) != 0 ||
		    vv_pg_take_ownership(bd, &err) != 0) {
			fprintf(stderr, "bench_fleet: hand-over: %s\n", err.msg);
			exit(1);
		}
		t[rep] = (now_us() - t0) / 1000;
		free(snap);
		vv_mor_free(md);
		vv_policy_free(pd);
		vv_mor_free(ms);
		vv_policy_free(ps);
		/* the source takes it back for the next round */
		vv_store_free(src);
		src = dst;
	}
	figure("fleet_handover_ms", median(t, (size_t)reps), "ms", NULL);
	vv_store_free(src);
}

int
main(int argc, char **argv)
{
	struct vv_error err = { { 0 } };
	PGconn *c;
	int from;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			quick = true;
		} else {
			fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
			return 2;
		}
	}
	snprintf(pg_dir, sizeof(pg_dir), "/tmp/vv-bench-pg-XXXXXX");
	if (mkdtemp(pg_dir) == NULL || pg_server("start") != 0) {
		fprintf(stderr, "bench_fleet: cannot start PostgreSQL in %s\n", pg_dir);
		return 1;
	}
	snprintf(conninfo, sizeof(conninfo), "host=%s port=5432 user=vmvars dbname=vmvars", pg_dir);
	printf("# vmvars fleet bench%s, PostgreSQL in %s (fsync on)\n",
	       quick ? " (quick: small sizes, figures not comparable)" : "", pg_dir);
	if (vv_pg_schema_upgrade(conninfo, true, &from, &err) != 0) {
		fprintf(stderr, "bench_fleet: %s\n", err.msg);
		pg_server("stop");
		return 1;
	}
	c = PQconnectdb(conninfo);
	bench_nv_set(c);
	bench_cold_start(c);
	bench_handover();
	PQfinish(c);
	pg_server("stop");
	{
		char rm[128];

		snprintf(rm, sizeof(rm), "rm -rf %s", pg_dir);
		if (system(rm) != 0)
			fprintf(stderr, "bench_fleet: %s not removed\n", pg_dir);
	}
	return 0;
}
