/*
 * fuzz/fuzz_snapshot.c -- libFuzzer target for the service-state snapshot
 * loader (src/state/snapshot.c, docs/snapshot.md): hostile bytes, as a
 * migration stream or a tampered state file would bring them, loaded into
 * a service built as tests/test_snapshot.c builds one (store, policy
 * engine, Secure Boot, MOR).
 *
 * Input: one mode byte, then the snapshot.  Mode bits:
 *   bit 0  raw: load the bytes as given.  Otherwise (the default) the
 *          target "reseals" a copy first -- writes the total-size field
 *          (offset 16) and the CRC-32 trailer -- so that mutations reach
 *          the record parser instead of dying at the checksum (which
 *          tests/test_snapshot.c covers).  Inputs shorter than a header
 *          and a trailer are loaded raw.
 *   bit 1  the service runs without a TPM (MOR records must say so)
 *   bit 2  small limits: 4 KiB of volatile storage, 1 KiB per volatile
 *          variable, so the fit checks and the apply-time failures
 *          (reset to power-on) are reachable with small inputs
 *   bit 3  the loader takes the full form (VV_SNAPSHOT_FULL): NV
 *          variables in the snapshot replace the service's NV content
 *   bit 4  the service holds an NV variable of its own before the load
 *          (the content a full load replaces and a refusal must keep)
 *   bit 5  oracle 2 saves with the NV digest record (VV_SNAPSHOT_NV_DIGEST)
 * Other bits are ignored.
 *
 * Oracles besides the sanitizers (abort() on violation):
 *  1. a refused load leaves the service as it was: the same snapshot bytes
 *     (volatile-only with the NV digest, so the NV content is compared
 *     too, independently of its order) and the same remaining volatile
 *     and NV storage (a refusal after the checks resets the service,
 *     which for a fresh service must be the same state);
 *  2. an accepted load, saved (full when the loader takes the full form;
 *     with the NV digest under bit 5) and loaded into a second fresh
 *     service of the same configuration, is accepted, and the second
 *     service saves the same bytes as the first;
 *  3. after an accepted load: as many policies as POLICY_ENTRY records and
 *     as many volatile variables as VARIABLE records -- all variables, NV
 *     included, for a full snapshot (each is registered or inserted once,
 *     or the load fails), and the invariant every live
 *     service keeps -- any boot phase past power-on (EndOfDxe, ReadyToBoot,
 *     ExitBootServices) has the policy interface locked (the policy
 *     engine's listener locks it at each of those events); each accepted
 *     POLICY_ENTRY record is exactly its entry's Size bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include <vmvars/mor.h>
#include <vmvars/policy.h>
#include <vmvars/secureboot.h>
#include <vmvars/snapshot.h>
#include <vmvars/store.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR  48u
#define TAIL 4u

#define MODE_RAW    0x01u
#define MODE_NO_TPM 0x02u
#define MODE_SMALL  0x04u
#define MODE_FULL   0x08u
#define MODE_OWN_NV 0x10u
#define MODE_DIGEST 0x20u

struct svc {
	struct vv_store *s;
	struct vv_policy *p;
	struct vv_secureboot *sb;
	struct vv_mor *m;
	struct vv_service v;
};

static bool
svc_open(struct svc *e, uint8_t mode)
{
	struct vv_limits lim;

	vv_limits_default(&lim);
	if (mode & MODE_SMALL) {
		lim.volatile_storage = 4096;
		lim.max_volatile_variable_size = 1024;
	}
	memset(e, 0, sizeof(*e));
	e->s = vv_store_new(&lim);
	if (e->s == NULL)
		return false;
	e->p = vv_policy_new(e->s, NULL);
	e->sb = vv_secureboot_new(e->s, NULL);
	e->m = vv_mor_new(e->s, !(mode & MODE_NO_TPM));
	if (e->p == NULL || e->sb == NULL || e->m == NULL)
		abort();        /* a fresh service always builds */
	e->v = (struct vv_service){ e->s, e->p, e->m };
	if ((mode & MODE_OWN_NV) &&
	    vv_store_put(e->s, (const uint16_t *)u"Own", 3, &(vv_guid){ { 1 } },
			 VV_ATTR_NV | VV_ATTR_BS, "own", 3, NULL) != VV_EFI_SUCCESS)
		abort();
	return true;
}

static const struct vv_snapshot_options *
load_opts(uint8_t mode)
{
	static const struct vv_snapshot_options full = { { 0 }, VV_SNAPSHOT_FULL };

	return (mode & MODE_FULL) ? &full : NULL;
}

static void
svc_close(struct svc *e)
{
	/* hooks and listeners detach from the store: before it */
	vv_mor_free(e->m);
	vv_secureboot_free(e->sb);
	vv_policy_free(e->p);
	vv_store_free(e->s);
}

static uint8_t *
save(struct svc *e, unsigned flags, size_t *n)
{
	struct vv_snapshot_options opts = { { 0 }, flags };
	struct vv_error err;
	uint8_t *out = NULL;

	if (vv_snapshot_save(&e->v, &opts, &out, n, &err) != 0) {
		fprintf(stderr, "save failed: %s\n", err.msg);
		abort();        /* out of memory only, which ASan does not give */
	}
	return out;
}

static uint64_t
remaining_of(struct vv_store *s, uint32_t attr)
{
	uint64_t max = 0, remaining = 0, max_var = 0;

	if (vv_store_query(s, attr, &max, &remaining, &max_var) != VV_EFI_SUCCESS)
		abort();
	return remaining;
}

/* Volatile and NV storage left, in one number each half. */
static uint64_t
volatile_remaining(struct vv_store *s)
{
	return remaining_of(s, VV_ATTR_BS | VV_ATTR_RT) << 32 ^
	       remaining_of(s, VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT);
}

/* Records of one type in an accepted snapshot (whose framing the loader
 * has checked). */
static size_t
count_records(const uint8_t *buf, size_t n, uint16_t type)
{
	size_t off = HDR, count = 0;

	while (off + 8 <= n - TAIL) {
		uint32_t len = vv_le32(buf + off + 4);

		if (len > n - TAIL - off - 8)
			abort();        /* the loader accepted a bad frame */
		if (vv_le16(buf + off) == type)
			count++;
		/* a POLICY_ENTRY record is exactly the entry's own Size bytes */
		if (vv_le16(buf + off) == 5 && (len < 6 || vv_le16(buf + off + 8 + 4) != len))
			abort();
		off += 8 + (size_t)len;
	}
	if (off != n - TAIL)
		abort();
	return count;
}

static size_t
count_volatile(const struct vv_store *s, bool all)
{
	size_t n = 0;

	for (const struct vv_variable *v = vv_store_first(s); v != NULL; v = vv_store_next(v))
		if (all || !(v->attributes & VV_ATTR_NV))
			n++;
	return n;
}

static void
check_accepted(struct svc *a, uint8_t mode, const uint8_t *buf, size_t n)
{
	struct svc b;
	struct vv_error err;
	uint8_t *first, *second;
	size_t n1 = 0, n2 = 0;
	unsigned flags = ((mode & MODE_FULL) ? VV_SNAPSHOT_FULL : 0) |
			 ((mode & MODE_DIGEST) ? VV_SNAPSHOT_NV_DIGEST : 0);
	bool full;

	/* 3: what the records say went in, once each */
	if (vv_policy_count(a->p) != count_records(buf, n, 5)) {
		fprintf(stderr, "%zu policies after loading %zu POLICY_ENTRY records\n",
			vv_policy_count(a->p), count_records(buf, n, 5));
		abort();
	}
	/* an accepted snapshot with header flag bit 0 is the full form: its
	 * records are the whole variable content */
	full = (vv_le16(buf + 10) & 1) != 0;
	if (full && !(mode & MODE_FULL)) {
		fprintf(stderr, "a full snapshot accepted by a loader that does not take it\n");
		abort();
	}
	if (count_volatile(a->s, full) != count_records(buf, n, 2)) {
		fprintf(stderr, "%zu variables after loading %zu VARIABLE records\n",
			count_volatile(a->s, full), count_records(buf, n, 2));
		abort();
	}
	if ((vv_store_end_of_dxe(a->s) || vv_store_ready_to_boot(a->s) ||
	     vv_store_at_runtime(a->s)) && !vv_policy_locked(a->p)) {
		fprintf(stderr, "a boot phase past power-on with the policy interface unlocked\n");
		abort();
	}

	/* 2: save, load into a fresh service, save again: the same bytes */
	first = save(a, flags, &n1);
	if (!svc_open(&b, mode)) {
		free(first);
		return;
	}
	if (vv_snapshot_load(&b.v, load_opts(mode), first, n1, &err) != 0) {
		fprintf(stderr, "re-load of a saved snapshot refused: %s\n", err.msg);
		abort();
	}
	second = save(&b, flags, &n2);
	if (n1 != n2 || memcmp(first, second, n1) != 0) {
		fprintf(stderr, "round trip differs: %zu bytes, then %zu\n", n1, n2);
		abort();
	}
	free(second);
	free(first);
	svc_close(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct svc a;
	struct vv_error err;
	uint8_t mode, *buf, *before, *after;
	size_t n, nb = 0, na = 0;
	uint64_t room;

	if (size < 1)
		return 0;
	mode = data[0];
	n = size - 1;
	/* An exact-size copy: ASan sees any read past the snapshot. */
	buf = malloc(n ? n : 1);
	if (buf == NULL)
		return 0;
	if (n)
		memcpy(buf, data + 1, n);
	if (!(mode & MODE_RAW) && n >= HDR + TAIL) {
		vv_put_le64(buf + 16, n);
		vv_put_le32(buf + n - TAIL, (uint32_t)crc32(0L, buf, (uInt)(n - TAIL)));
	}
	if (!svc_open(&a, mode)) {
		free(buf);
		return 0;
	}
	before = save(&a, VV_SNAPSHOT_NV_DIGEST, &nb);
	room = volatile_remaining(a.s);
	if (vv_snapshot_load(&a.v, load_opts(mode), buf, n, &err) != 0) {
		/* 1: a refusal changes nothing */
		after = save(&a, VV_SNAPSHOT_NV_DIGEST, &na);
		if (na != nb || memcmp(before, after, nb) != 0) {
			fprintf(stderr, "refused load (%s) changed the service's state\n",
				err.msg);
			abort();
		}
		if (volatile_remaining(a.s) != room) {
			fprintf(stderr, "refused load (%s) changed the volatile storage left: "
				"%llu, then %llu\n", err.msg, (unsigned long long)room,
				(unsigned long long)volatile_remaining(a.s));
			abort();
		}
		free(after);
	} else {
		check_accepted(&a, mode, buf, n);
	}
	free(before);
	free(buf);
	svc_close(&a);
	return 0;
}
