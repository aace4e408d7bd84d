/*
 * src/state/snapshot.c -- the service-state snapshot (vmvars/snapshot.h;
 * the byte format is docs/snapshot.md).
 *
 * This layer sits above the store, the policy engine and MOR: it reads
 * their state through their own interfaces and puts it back through them,
 * so a restored policy entry is validated exactly as a guest's
 * registration is, and a restored variable obeys the store's structural
 * rules and quotas.
 *
 * Loading is two passes over the bytes: the first (parse) checks the
 * header, the checksum and every record against this service's limits and
 * changes nothing; the second (apply) puts the records in.  The phase is
 * restored last, so the other records go in as they did before EndOfDxe.
 *
 * The full form (VV_SNAPSHOT_FULL, issue #14) carries the NV variables
 * too; its variables replace the store's whole content in one step
 * (vv_store_replace_all: all or nothing, one whole-store commit), after
 * everything that can still be refused.  The NV digest (record 7) is a
 * SHA-256 over the NV variables in GUID/name order, so two stores with
 * the same content agree however they were written.
 *
 * Invariants:
 *  - the whole buffer is covered by the header, the records and the
 *    4-byte CRC-32 trailer, exactly; every length is checked against what
 *    remains (src/core/cursor.h) before it is used;
 *  - a reserved field that is not zero, an unknown record type, a record
 *    that occurs where it may not, or a value this service could not have
 *    produced is refused: a snapshot carries security state, and a reader
 *    that skipped what it did not understand could drop a lock.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <vmvars/snapshot.h>
#include <vmvars/ucs2.h>

#include "auth/mor_state.h"
#include "core/crc32.h"
#include "core/cursor.h"
#include "core/store_state.h"

#define MAGIC            "VMVSTATE"
#define HEADER_SIZE      48u
#define TRAILER_SIZE     4u
#define RECORD_HDR_SIZE  8u
#define VAR_FIXED        48u
#define PROP_FIXED       44u
/* Flags in the header: bit 0, the full form (NV variables included). */
#define HEADER_FULL        0x0001u
#define HEADER_FLAGS_KNOWN HEADER_FULL
#define NV_DIGEST_SIZE     32u

enum record_type {
	REC_PHASE = 1,
	REC_VARIABLE = 2,
	REC_PROPERTY = 3,
	REC_POLICY_STATE = 4,
	REC_POLICY_ENTRY = 5,
	REC_MOR = 6,
	REC_NV_DIGEST = 7,
};

#define PHASE_END_OF_DXE    0x01u
#define PHASE_READY_TO_BOOT 0x02u
#define PHASE_RUNTIME       0x04u
#define POLICY_DISABLED     0x01u
#define POLICY_LOCKED       0x02u
#define VAR_HAS_TIME        0x01u

/* ------------------------------------------------------------------ */
/* Writing                                                            */
/* ------------------------------------------------------------------ */

/* A growing output buffer; a failed allocation is sticky. */
struct wbuf {
	uint8_t *d;
	size_t len, cap;
	bool oom;
};

/* Makes room for n more bytes; false (and oom) when it cannot. */
static bool
wb_grow(struct wbuf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;
	uint8_t *d;

	while (cap - b->len < n) {
		if (cap > SIZE_MAX / 2) {
			b->oom = true;
			return false;
		}
		cap *= 2;
	}
	d = realloc(b->d, cap);
	if (d == NULL) {
		b->oom = true;
		return false;
	}
	b->d = d;
	b->cap = cap;
	return true;
}

/*
 * n bytes at the end, which the caller fills -- every one of them: they
 * are not zeroed (wb_zeros is for the bytes nothing sets).  The daemon
 * saves a snapshot before every reply that changed its state (the restart
 * record), field by field, so this is the hot path: a memset per field
 * cost as much as the rest of the serialisation.
 */
static inline uint8_t *
wb_take(struct wbuf *b, size_t n)
{
	uint8_t *at;

	if (b->oom || (n > b->cap - b->len && !wb_grow(b, n)))
		return NULL;
	at = b->d + b->len;
	b->len += n;
	return at;
}

static uint8_t *
wb_zeros(struct wbuf *b, size_t n)
{
	uint8_t *at = wb_take(b, n);

	return at != NULL ? memset(at, 0, n) : NULL;
}

static inline void
wb_bytes(struct wbuf *b, const void *p, size_t n)
{
	uint8_t *at = wb_take(b, n);

	if (at != NULL && n > 0)
		memcpy(at, p, n);
}

static inline void wb_u8(struct wbuf *b, uint8_t v) { wb_bytes(b, &v, 1); }

static inline void
wb_u16(struct wbuf *b, uint16_t v)
{
	uint8_t *at = wb_take(b, 2);

	if (at != NULL)
		vv_put_le16(at, v);
}

static inline void
wb_u32(struct wbuf *b, uint32_t v)
{
	uint8_t *at = wb_take(b, 4);

	if (at != NULL)
		vv_put_le32(at, v);
}

static inline void
wb_u64(struct wbuf *b, uint64_t v)
{
	uint8_t *at = wb_take(b, 8);

	if (at != NULL)
		vv_put_le64(at, v);
}

static void
wb_name(struct wbuf *b, const uint16_t *name, size_t len)
{
	uint8_t *at = wb_take(b, len * 2);

	for (size_t i = 0; at != NULL && i < len; i++)
		vv_put_le16(at + 2 * i, name[i]);
}

/* Opens a record; returns the offset of its length field for rec_end. */
static size_t
rec_begin(struct wbuf *b, enum record_type type)
{
	size_t at;

	wb_u16(b, (uint16_t)type);
	wb_u16(b, 0);
	at = b->len;
	wb_u32(b, 0);
	return at;
}

static void
rec_end(struct wbuf *b, size_t len_at)
{
	if (!b->oom)
		vv_put_le32(b->d + len_at, (uint32_t)(b->len - len_at - 4));
}

/* A VARIABLE record's body (docs/snapshot.md): also what the NV digest
 * hashes for each variable. */
static void
variable_body(struct wbuf *b, const struct vv_variable *v)
{
	wb_bytes(b, v->guid.b, 16);
	wb_u32(b, v->attributes);
	wb_u32(b, (uint32_t)v->name_len);
	wb_u32(b, (uint32_t)v->data_size);
	wb_u8(b, v->has_time ? VAR_HAS_TIME : 0);
	wb_u8(b, (uint8_t)v->digest_size);
	wb_u16(b, 0);
	wb_bytes(b, v->has_time ? v->time.b : (const uint8_t[16]){ 0 }, 16);
	wb_bytes(b, v->digest, v->digest_size);
	wb_name(b, v->name, v->name_len);
	wb_bytes(b, v->data, v->data_size);
}

static void
save_variable(struct wbuf *b, const struct vv_variable *v)
{
	size_t at = rec_begin(b, REC_VARIABLE);

	variable_body(b, v);
	rec_end(b, at);
}

/* The canonical order of the NV digest: GUID bytes, then the name as
 * UCS-2 code units, a prefix first.  Independent of creation order, so
 * two stores with the same content agree however they were written. */
static int
nv_order(const void *x, const void *y)
{
	const struct vv_variable *a = *(const struct vv_variable *const *)x;
	const struct vv_variable *b = *(const struct vv_variable *const *)y;
	int c = memcmp(a->guid.b, b->guid.b, 16);
	size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;

	if (c != 0)
		return c;
	for (size_t i = 0; i < n; i++)
		if (a->name[i] != b->name[i])
			return a->name[i] < b->name[i] ? -1 : 1;
	return a->name_len < b->name_len ? -1 : a->name_len > b->name_len;
}

/*
 * SHA-256 over the NV variables among vars[0, n) (pointers; reordered),
 * each encoded as a VARIABLE record body, in nv_order.  0, or -1 (out of
 * memory, OpenSSL failure).
 */
static int
nv_digest(const struct vv_variable **vars, size_t n, uint8_t out[NV_DIGEST_SIZE])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct wbuf b = { 0 };
	size_t nv = 0;
	unsigned len = 0;
	int rc = -1;

	for (size_t i = 0; i < n; i++)
		if (vars[i]->attributes & VV_ATTR_NV)
			vars[nv++] = vars[i];
	qsort(vars, nv, sizeof(*vars), nv_order);
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto out;
	for (size_t i = 0; i < nv; i++) {
		b.len = 0;
		variable_body(&b, vars[i]);
		if (b.oom || EVP_DigestUpdate(md, b.d, b.len) != 1)
			goto out;
	}
	if (EVP_DigestFinal_ex(md, out, &len) == 1 && len == NV_DIGEST_SIZE)
		rc = 0;
out:
	EVP_MD_CTX_free(md);
	free(b.d);
	return rc;
}

/* The NV digest of a store's current content. */
static int
store_nv_digest(const struct vv_store *s, uint8_t out[NV_DIGEST_SIZE])
{
	size_t n = vv_store_count(s), i = 0;
	const struct vv_variable **vars = malloc((n ? n : 1) * sizeof(*vars));
	int rc;

	if (vars == NULL)
		return -1;
	for (const struct vv_variable *v = vv_store_first(s); v != NULL; v = vv_store_next(v))
		vars[i++] = v;
	rc = nv_digest(vars, i, out);
	free(vars);
	return rc;
}

static void
save_property(void *ctx, const uint16_t *name, size_t name_len, const vv_guid *guid,
	      const struct vv_var_property *p)
{
	struct wbuf *b = ctx;
	size_t at = rec_begin(b, REC_PROPERTY);

	wb_bytes(b, guid->b, 16);
	wb_u16(b, p->revision);
	wb_u16(b, p->property);
	wb_u32(b, p->attributes);
	wb_u64(b, p->min_size);
	wb_u64(b, p->max_size);
	wb_u32(b, (uint32_t)name_len);
	wb_name(b, name, name_len);
	rec_end(b, at);
}

/* The policy table as edk2 dumps it: entries back to back, each starting
 * with its version (u32) and size (u16). */
static int
save_policy(struct wbuf *b, struct vv_policy *p)
{
	size_t size = 0, at;
	uint8_t *dump;
	struct vv_cursor c;

	at = rec_begin(b, REC_POLICY_STATE);
	wb_u8(b, (uint8_t)((vv_policy_enabled(p) ? 0 : POLICY_DISABLED) |
			   (vv_policy_locked(p) ? POLICY_LOCKED : 0)));
	wb_u8(b, 0);
	wb_u16(b, 0);
	rec_end(b, at);
	if (vv_policy_dump(p, NULL, &size) != VV_EFI_BUFFER_TOO_SMALL || size == 0)
		return 0;                       /* empty table */
	dump = malloc(size);
	if (dump == NULL || vv_policy_dump(p, dump, &size) != VV_EFI_SUCCESS) {
		free(dump);
		return -1;
	}
	c = vv_cursor_make(dump, size);
	while (c.left > 0) {
		const uint8_t *entry = c.p;
		uint16_t entry_size;

		(void)vv_cursor_u32(&c);
		entry_size = vv_cursor_u16(&c);
		if (c.bad || entry_size < 6 || entry_size - 6u > c.left)
			break;                  /* cannot happen: our own table */
		(void)vv_cursor_take(&c, entry_size - 6u);
		at = rec_begin(b, REC_POLICY_ENTRY);
		wb_bytes(b, entry, entry_size);
		rec_end(b, at);
	}
	free(dump);
	return 0;
}

int
vv_snapshot_save(const struct vv_service *svc, const struct vv_snapshot_options *opts,
		 uint8_t **out, size_t *out_size, struct vv_error *err)
{
	static const struct vv_snapshot_options none;
	struct vv_store *s = svc->store;
	struct wbuf b = { 0 };
	uint8_t *hdr;
	size_t at;
	bool full;

	*out = NULL;
	*out_size = 0;
	if (opts == NULL)
		opts = &none;
	if (opts->flags & ~(VV_SNAPSHOT_FULL | VV_SNAPSHOT_NV_DIGEST))
		return vv_error_set(err, "snapshot: unknown save flags 0x%x", opts->flags);
	full = (opts->flags & VV_SNAPSHOT_FULL) != 0;
	/* One allocation of about the right size: a full snapshot of a large
	 * store would otherwise be copied by every doubling on the way. */
	{
		size_t est = HEADER_SIZE + TRAILER_SIZE + 4096;

		for (const struct vv_variable *v = vv_store_first(s); v != NULL;
		     v = vv_store_next(v))
			if (full || !(v->attributes & VV_ATTR_NV))
				est += RECORD_HDR_SIZE + VAR_FIXED + v->digest_size +
				       2 * v->name_len + v->data_size;
		b.d = malloc(est);
		b.cap = b.d != NULL ? est : 0;
	}
	hdr = wb_zeros(&b, HEADER_SIZE);
	if (hdr != NULL) {
		memcpy(hdr, MAGIC, 8);
		vv_put_le16(hdr + 8, VV_SNAPSHOT_VERSION);
		vv_put_le16(hdr + 10, full ? HEADER_FULL : 0);
		vv_put_le32(hdr + 12, HEADER_SIZE);
		memcpy(hdr + 24, opts->vm_id, 16);
		/* +40: NV generation, 0 = not tracked (docs/snapshot.md) */
	}
	at = rec_begin(&b, REC_PHASE);
	wb_u8(&b, (uint8_t)((vv_store_end_of_dxe(s) ? PHASE_END_OF_DXE : 0) |
			    (vv_store_ready_to_boot(s) ? PHASE_READY_TO_BOOT : 0) |
			    (vv_store_at_runtime(s) ? PHASE_RUNTIME : 0)));
	wb_u8(&b, 0);
	wb_u16(&b, 0);
	rec_end(&b, at);
	if (opts->flags & VV_SNAPSHOT_NV_DIGEST) {
		uint8_t digest[NV_DIGEST_SIZE];

		if (store_nv_digest(s, digest) != 0) {
			b.oom = true;
		} else {
			at = rec_begin(&b, REC_NV_DIGEST);
			wb_bytes(&b, digest, sizeof(digest));
			rec_end(&b, at);
		}
	}
	/* In enumeration order, NV and volatile interleaved in the full form,
	 * so the destination enumerates (GetNextVariableName) exactly as the
	 * source did. */
	for (const struct vv_variable *v = vv_store_first(s); v != NULL; v = vv_store_next(v))
		if (full || !(v->attributes & VV_ATTR_NV))
			save_variable(&b, v);
	vv_store_for_each_property(s, save_property, &b);
	if (svc->policy != NULL && save_policy(&b, svc->policy) != 0)
		b.oom = true;
	if (svc->mor != NULL) {
		enum vv_mor_lock_state state;
		uint8_t key[VV_MOR_KEY_SIZE];

		vv_mor_state_get(svc->mor, &state, key);
		at = rec_begin(&b, REC_MOR);
		wb_u8(&b, vv_mor_tpm_present(svc->mor) ? 1 : 0);
		wb_u8(&b, (uint8_t)state);
		wb_u16(&b, 0);
		wb_bytes(&b, key, sizeof(key));
		rec_end(&b, at);
		memset(key, 0, sizeof(key));
	}
	(void)wb_zeros(&b, TRAILER_SIZE);
	if (b.oom) {
		free(b.d);
		return vv_error_set(err, "snapshot: out of memory");
	}
	vv_put_le64(b.d + 16, b.len);
	vv_put_le32(b.d + b.len - TRAILER_SIZE,
		    vv_crc32(0, b.d, b.len - TRAILER_SIZE));
	*out = b.d;
	*out_size = b.len;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Reading                                                            */
/* ------------------------------------------------------------------ */

/* What the parse pass found, for the apply pass and the quota check. */
struct parsed {
	bool have_phase, have_policy_state, have_mor;
	uint8_t phase, policy_flags;
	uint8_t mor_tpm, mor_state;
	uint8_t mor_key[VV_MOR_KEY_SIZE];
	bool full;                          /* header flag: NV variables allowed */
	bool have_digest;
	uint8_t digest[NV_DIGEST_SIZE];
	uint64_t volatile_cost;             /* variables + properties + policies */
	uint64_t nv_cost, hwerr_cost;       /* full form: NV variables by class */
	size_t policies;
	/* Every VARIABLE record, in order: pointers into the buffer but for
	 * the names (malloc'd).  Kept from the parse pass for the apply. */
	struct vv_variable *vars;
	size_t nvars, vars_cap;
};

static void
parsed_free(struct parsed *p)
{
	for (size_t i = 0; i < p->nvars; i++)
		free(p->vars[i].name);
	free(p->vars);
	p->vars = NULL;
	p->nvars = p->vars_cap = 0;
	memset(p->mor_key, 0, sizeof(p->mor_key));
}

static int
bad(struct vv_error *err, size_t off, const char *what)
{
	return vv_error_set(err, "snapshot: offset %zu: %s", off, what);
}

/* name_len UCS-2LE characters into a host-order array (n >= 1). */
static uint16_t *
read_name(struct vv_cursor *c, uint32_t name_len)
{
	const uint8_t *raw = vv_cursor_take(c, (size_t)name_len * 2);
	uint16_t *name;

	if (raw == NULL)
		return NULL;
	name = malloc((size_t)name_len * 2 + 2);
	if (name == NULL)
		return NULL;
	for (uint32_t i = 0; i < name_len; i++)
		name[i] = (uint16_t)(raw[2 * i] | raw[2 * i + 1] << 8);
	name[name_len] = 0;
	return name;
}

/* A VARIABLE record body; *v points into the buffer except v->name
 * (malloc'd, freed by the caller). */
static int
parse_variable(struct vv_cursor *c, const struct vv_store *s, bool full, struct vv_variable *v,
	       size_t off, struct vv_error *err)
{
	const struct vv_limits *l = vv_store_limits(s);
	uint32_t name_len, data_size;
	uint8_t flags;
	const uint8_t *guid, *time, *digest;

	memset(v, 0, sizeof(*v));
	guid = vv_cursor_take(c, 16);
	v->attributes = vv_cursor_u32(c);
	name_len = vv_cursor_u32(c);
	data_size = vv_cursor_u32(c);
	flags = vv_cursor_u8(c);
	v->digest_size = vv_cursor_u8(c);
	if (vv_cursor_u16(c) != 0 || c->bad)
		return bad(err, off, "variable record: short, or reserved field not 0");
	time = vv_cursor_take(c, 16);
	if (c->bad || (flags & ~VAR_HAS_TIME) != 0)
		return bad(err, off, "variable record: unknown flags");
	if ((v->attributes & VV_ATTR_NV) && !full)
		return bad(err, off, "variable record: an NV variable in a volatile snapshot");
	/* The attribute rules of vv_store_insert_loaded, here so that a bad
	 * record is refused before anything changes. */
	if (v->attributes & ~(uint32_t)(VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT | VV_ATTR_HR |
					VV_ATTR_AT))
		return bad(err, off, "variable record: unsupported attribute bits");
	if (!(v->attributes & VV_ATTR_BS) ||
	    ((v->attributes & VV_ATTR_HR) && !(v->attributes & VV_ATTR_NV)))
		return bad(err, off, "variable record: attributes no variable can have");
	if (name_len == 0 || data_size == 0)
		return bad(err, off, "variable record: empty name or data");
	if (v->digest_size > sizeof(v->digest))
		return bad(err, off, "variable record: digest longer than 64 bytes");
	/* Bounded by this service's limits before anything is allocated,
	 * by the rule of the variable's own class, as its live write was (a
	 * volatile authenticated variable may be larger than a plain one). */
	if ((uint64_t)name_len * 2 + 2 + data_size + l->variable_overhead >
	    vv_store_max_variable_size(s, v->attributes))
		return bad(err, off, (v->attributes & VV_ATTR_NV) ?
			   "variable record: larger than this service's maximum NV variable "
			   "size for its class" :
			   "variable record: larger than this service's maximum variable size "
			   "for its attributes (max_volatile_variable_size, or "
			   "max_auth_variable_size when authenticated)");
	memcpy(v->guid.b, guid, 16);
	v->has_time = (flags & VAR_HAS_TIME) != 0;
	memcpy(v->time.b, time, 16);
	if (!v->has_time && memcmp(time, (const uint8_t[16]){ 0 }, 16) != 0)
		return bad(err, off, "variable record: a time without the time flag");
	digest = vv_cursor_take(c, v->digest_size);
	if (c->bad)
		return bad(err, off, "variable record: truncated digest");
	memcpy(v->digest, digest, v->digest_size);
	v->name = read_name(c, name_len);
	if (v->name == NULL)
		return bad(err, off, c->bad ? "variable record: truncated name" : "out of memory");
	v->name_len = name_len;
	if (!vv_ucs2_valid(v->name, v->name_len))
		return bad(err, off, "variable record: name is not valid UCS-2");
	v->data = (uint8_t *)vv_cursor_take(c, data_size);
	v->data_size = data_size;
	if (c->bad || c->left != 0)
		return bad(err, off, "variable record: length disagrees with its fields");
	return 0;
}

/* Keeps a parsed variable (and its name) in p->vars. */
static int
keep_variable(struct parsed *p, struct vv_variable *v)
{
	if (p->nvars == p->vars_cap) {
		size_t cap = p->vars_cap ? p->vars_cap * 2 : 64;
		struct vv_variable *n = realloc(p->vars, cap * sizeof(*n));

		if (n == NULL)
			return -1;
		p->vars = n;
		p->vars_cap = cap;
	}
	p->vars[p->nvars++] = *v;
	return 0;
}

static int
parse_property(struct vv_cursor *c, vv_guid *guid, struct vv_var_property *p, uint16_t **name,
	       size_t *name_len, size_t off, struct vv_error *err)
{
	const uint8_t *g = vv_cursor_take(c, 16);
	uint32_t len;

	p->revision = vv_cursor_u16(c);
	p->property = vv_cursor_u16(c);
	p->attributes = vv_cursor_u32(c);
	p->min_size = vv_cursor_u64(c);
	p->max_size = vv_cursor_u64(c);
	len = vv_cursor_u32(c);
	if (c->bad)
		return bad(err, off, "property record: short");
	if (len == 0 || (uint64_t)len * 2 != c->left)
		return bad(err, off, "property record: name length disagrees with the record");
	/* What vv_store_property_set would refuse is refused here, before
	 * anything changes (a refusal in the apply pass resets the service). */
	if (p->revision != VV_VAR_CHECK_PROPERTY_REVISION)
		return bad(err, off, "property record: revision is not 1");
	memcpy(guid->b, g, 16);
	*name = read_name(c, len);
	if (*name == NULL)
		return bad(err, off, "out of memory");
	*name_len = len;
	if (!vv_ucs2_valid(*name, len)) {
		free(*name);
		*name = NULL;
		return bad(err, off, "property record: name is not valid UCS-2");
	}
	return 0;
}

/* Checks the header and trailer; leaves *body over the records and
 * *full set from the header's flags. */
static int
parse_header(const uint8_t *buf, size_t size, const struct vv_snapshot_options *opts,
	     struct vv_cursor *body, bool *full, struct vv_error *err)
{
	static const uint8_t any_vm[16];
	struct vv_cursor c = vv_cursor_make(buf, size);
	const uint8_t *magic = vv_cursor_take(&c, 8);
	uint16_t version = vv_cursor_u16(&c), flags = vv_cursor_u16(&c);
	uint32_t header_size = vv_cursor_u32(&c);
	uint64_t total = vv_cursor_u64(&c);
	const uint8_t *id = vv_cursor_take(&c, 16);

	(void)vv_cursor_u64(&c);        /* NV generation: not checked in version 1 */
	if (c.bad || size < HEADER_SIZE + TRAILER_SIZE)
		return bad(err, 0, "shorter than a header and a checksum");
	if (memcmp(magic, MAGIC, 8) != 0)
		return bad(err, 0, "not a vmvars service snapshot (bad magic)");
	if (version != VV_SNAPSHOT_VERSION)
		return vv_error_set(err, "snapshot: offset 8: format version %u; this vmvars "
				    "reads version %u", version, VV_SNAPSHOT_VERSION);
	if ((flags & ~HEADER_FLAGS_KNOWN) != 0)
		return bad(err, 10, "flags this version does not know");
	if (header_size != HEADER_SIZE)
		return bad(err, 12, "header size is not 48");
	if (total != size)
		return vv_error_set(err, "snapshot: offset 16: declares %llu bytes, %zu given "
				    "(truncated or padded)", (unsigned long long)total, size);
	if (vv_le32(buf + size - TRAILER_SIZE) != vv_crc32(0, buf, size - TRAILER_SIZE))
		return bad(err, size - TRAILER_SIZE, "checksum mismatch");
	if (memcmp(opts->vm_id, any_vm, 16) != 0 && memcmp(id, opts->vm_id, 16) != 0)
		return bad(err, 24, "the snapshot is of another VM");
	*full = (flags & HEADER_FULL) != 0;
	if (*full && !(opts->flags & VV_SNAPSHOT_FULL))
		return bad(err, 10, "a full snapshot (NV variables included), but this service "
			   "shares its NV store: it loads only the volatile-only form");
	*body = vv_cursor_make(buf + HEADER_SIZE, size - HEADER_SIZE - TRAILER_SIZE);
	return 0;
}

/* One record's header: type, reserved, length; *rec over its body. */
static int
next_record(struct vv_cursor *c, uint16_t *type, struct vv_cursor *rec, size_t *off,
	    struct vv_error *err)
{
	uint32_t len;

	*off = HEADER_SIZE + vv_cursor_offset(c);
	*type = vv_cursor_u16(c);
	if (vv_cursor_u16(c) != 0 || c->bad)
		return bad(err, *off, "record header: short, or reserved field not 0");
	len = vv_cursor_u32(c);
	*rec = vv_cursor_sub(c, len);
	if (c->bad)
		return bad(err, *off, "record longer than what remains");
	return 0;
}

/* Fixed-size records: PHASE, POLICY_STATE, MOR. */
static int
parse_small(struct vv_cursor *rec, uint16_t type, struct parsed *p, size_t off,
	    struct vv_error *err)
{
	uint8_t a = vv_cursor_u8(rec), b = vv_cursor_u8(rec);

	if (vv_cursor_u16(rec) != 0 || rec->bad)
		return bad(err, off, "record: short, or reserved field not 0");
	if (type == REC_PHASE) {
		if (p->have_phase || b != 0 ||
		    (a & ~(PHASE_END_OF_DXE | PHASE_READY_TO_BOOT | PHASE_RUNTIME)) != 0)
			return bad(err, off, "phase record: repeated or unknown bits");
		if ((a & PHASE_READY_TO_BOOT) && !(a & PHASE_END_OF_DXE))
			return bad(err, off, "phase record: ReadyToBoot without EndOfDxe");
		p->have_phase = true;
		p->phase = a;
	} else if (type == REC_POLICY_STATE) {
		if (p->have_policy_state || b != 0 || (a & ~(POLICY_DISABLED | POLICY_LOCKED)) != 0)
			return bad(err, off, "policy state record: repeated or unknown bits");
		p->have_policy_state = true;
		p->policy_flags = a;
	} else {
		const uint8_t *key = vv_cursor_take(rec, VV_MOR_KEY_SIZE);

		if (p->have_mor || key == NULL || a > 1 || b > VV_MOR_LOCKED_WITH_KEY)
			return bad(err, off, "MOR record: repeated, short or out of range");
		if (b != VV_MOR_LOCKED_WITH_KEY &&
		    memcmp(key, (const uint8_t[VV_MOR_KEY_SIZE]){ 0 }, VV_MOR_KEY_SIZE) != 0)
			return bad(err, off, "MOR record: a key without a keyed lock");
		p->have_mor = true;
		p->mor_tpm = a;
		p->mor_state = b;
		memcpy(p->mor_key, key, VV_MOR_KEY_SIZE);
	}
	if (rec->left != 0)
		return bad(err, off, "record longer than its fields");
	return 0;
}

/*
 * The parse pass (p set, apply false): every record checked, nothing
 * changed; the variables are kept in p->vars.  The apply pass (apply
 * true): the property and policy records go in as they come; variables
 * are applied from p->vars by the caller.
 */
static int
walk(const struct vv_service *svc, struct vv_cursor body, struct parsed *p, bool apply,
     struct vv_error *err)
{
	const struct vv_limits *l = vv_store_limits(svc->store);

	while (body.left > 0) {
		struct vv_cursor rec;
		uint16_t type;
		size_t off;
		int rc = 0;

		if (next_record(&body, &type, &rec, &off, err) != 0)
			return -1;
		switch (type) {
		case REC_PHASE:
		case REC_POLICY_STATE:
		case REC_MOR:
			if (!apply && parse_small(&rec, type, p, off, err) != 0)
				return -1;
			break;
		case REC_NV_DIGEST:
			if (apply)
				break;
			if (p->have_digest || rec.left != NV_DIGEST_SIZE)
				return bad(err, off, "NV digest record: repeated, or not 32 bytes");
			p->have_digest = true;
			memcpy(p->digest, rec.p, NV_DIGEST_SIZE);
			break;
		case REC_VARIABLE: {
			struct vv_variable v;
			uint64_t cost;

			if (apply)
				break;
			if (parse_variable(&rec, svc->store, p->full, &v, off, err) != 0) {
				free(v.name);
				return -1;
			}
			cost = l->variable_overhead + vv_var_name_size(&v) + v.data_size;
			if (!(v.attributes & VV_ATTR_NV))
				p->volatile_cost += cost;
			else if (v.attributes & VV_ATTR_HR)
				p->hwerr_cost += cost;
			else
				p->nv_cost += cost;
			if (keep_variable(p, &v) != 0) {
				free(v.name);
				return bad(err, off, "out of memory");
			}
			break;
		}
		case REC_PROPERTY: {
			struct vv_var_property prop;
			uint16_t *name = NULL;
			size_t name_len = 0;
			vv_guid guid;

			rc = parse_property(&rec, &guid, &prop, &name, &name_len, off, err);
			if (rc == 0 && !apply)
				p->volatile_cost += l->variable_overhead + (name_len + 1) * 2;
			if (rc == 0 && apply &&
			    vv_store_property_set(svc->store, name, name_len, &guid, &prop) !=
				    VV_EFI_SUCCESS)
				rc = bad(err, off, "property record: refused by this service");
			free(name);
			break;
		}
		case REC_POLICY_ENTRY:
			if (svc->policy == NULL)
				return bad(err, off, "policy entry, but this service has no policy "
					   "engine");
			if (!apply) {
				/* The record is the entry, its own Size bytes: the
				 * engine reads Size bytes, and anything after them
				 * would be skipped unread. */
				if (rec.left < 6 || vv_le16(rec.p + 4) != rec.left)
					return bad(err, off, "policy entry: record length is not "
						   "the entry's Size");
				p->policies++;
				p->volatile_cost += rec.left;
			} else if (vv_policy_register(svc->policy, rec.p, rec.left) !=
				   VV_EFI_SUCCESS) {
				rc = bad(err, off, "policy entry: refused by this service's policy "
					 "engine");
			}
			break;
		default:
			return bad(err, off, "unknown record type");
		}
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* Two VARIABLE records of the same variable: the store would refuse the
 * second one half way through the apply; found here, before anything
 * changes. */
static bool
has_duplicate(const struct parsed *p)
{
	const struct vv_variable **v = malloc((p->nvars ? p->nvars : 1) * sizeof(*v));
	bool dup = false;

	if (v == NULL)
		return true;            /* out of memory: refused all the same */
	for (size_t i = 0; i < p->nvars; i++)
		v[i] = &p->vars[i];
	qsort(v, p->nvars, sizeof(*v), nv_order);
	for (size_t i = 1; i < p->nvars && !dup; i++)
		dup = nv_order(&v[i - 1], &v[i]) == 0;
	free(v);
	return dup;
}

/* The variables as the restored service will hold them: the snapshot's,
 * and, for a volatile-only snapshot, the store's NV ones it keeps. */
struct restored_view {
	const struct parsed *p;
	const struct vv_store *store;
};

static const struct vv_variable *
restored_lookup(void *ctx, const uint16_t *name, size_t len, const vv_guid *guid)
{
	const struct restored_view *rv = ctx;
	const struct vv_variable *v;

	for (size_t i = 0; i < rv->p->nvars; i++) {
		v = &rv->p->vars[i];
		if (vv_guid_equal(&v->guid, guid) && vv_ucs2_equal(v->name, v->name_len, name, len))
			return v;
	}
	if (rv->p->full)
		return NULL;
	v = vv_store_find(rv->store, name, len, guid);
	return v != NULL && (v->attributes & VV_ATTR_NV) ? v : NULL;
}

/* What the parse pass can tell about fit before anything changes. */
static int
check_fit(const struct vv_service *svc, struct parsed *p, struct vv_error *err)
{
	const struct vv_limits *l = vv_store_limits(svc->store);

	if (!p->have_phase)
		return vv_error_set(err, "snapshot: no phase record");
	if (svc->policy != NULL && !p->have_policy_state)
		return vv_error_set(err, "snapshot: no policy state record, but this service "
				    "has a policy engine");
	/* The policy engine locks its interface at EndOfDxe, ReadyToBoot and
	 * ExitBootServices (and only a reset unlocks it): a phase past
	 * power-on with an unlocked interface is a state no service reaches,
	 * and restoring it would let the OS register or disable policies. */
	if (svc->policy != NULL && p->phase != 0 && !(p->policy_flags & POLICY_LOCKED))
		return vv_error_set(err, "snapshot: a boot phase past power-on with the variable "
				    "policy interface unlocked");
	if (svc->policy == NULL && p->have_policy_state && p->policy_flags != 0)
		return vv_error_set(err, "snapshot: a policy lock, but this service has no "
				    "policy engine");
	if (p->have_mor != (svc->mor != NULL))
		return vv_error_set(err, "snapshot: MOR state %s, but this service %s MOR",
				    p->have_mor ? "present" : "absent",
				    svc->mor != NULL ? "serves" : "does not serve");
	if (p->have_mor && (p->mor_tpm != 0) != vv_mor_tpm_present(svc->mor))
		return vv_error_set(err, "snapshot: taken with%s a TPM, this service runs "
				    "with%s one", p->mor_tpm ? "" : "out",
				    vv_mor_tpm_present(svc->mor) ? "" : "out");
	if (p->volatile_cost > l->volatile_storage)
		return vv_error_set(err, "snapshot: %llu bytes of volatile state do not fit this "
				    "service's volatile storage (%llu)",
				    (unsigned long long)p->volatile_cost,
				    (unsigned long long)l->volatile_storage);
	if (p->nv_cost > l->nv_storage - l->hwerr_storage)
		return vv_error_set(err, "snapshot: %llu bytes of NV variables do not fit this "
				    "service's NV storage (%llu)", (unsigned long long)p->nv_cost,
				    (unsigned long long)(l->nv_storage - l->hwerr_storage));
	if (p->hwerr_cost > l->hwerr_storage)
		return vv_error_set(err, "snapshot: %llu bytes of hardware-error records do not "
				    "fit this service's hwerr storage (%llu)",
				    (unsigned long long)p->hwerr_cost,
				    (unsigned long long)l->hwerr_storage);
	if (has_duplicate(p))
		return vv_error_set(err, "snapshot: a duplicate variable (the same GUID and name "
				    "twice)");
	{
		struct restored_view rv = { p, svc->store };

		if (vv_store_run_restore_checks(svc->store, p->vars, p->nvars, restored_lookup, &rv,
						(p->phase & PHASE_RUNTIME) != 0, err) != 0)
			return -1;
	}
	if (p->have_digest) {
		/* The NV content this service will serve after the load: the
		 * snapshot's own in the full form, its store's otherwise. */
		uint8_t mine[NV_DIGEST_SIZE];
		int rc;

		if (p->full) {
			const struct vv_variable **vars =
				malloc((p->nvars ? p->nvars : 1) * sizeof(*vars));

			for (size_t i = 0; vars != NULL && i < p->nvars; i++)
				vars[i] = &p->vars[i];
			rc = vars != NULL ? nv_digest(vars, p->nvars, mine) : -1;
			free(vars);
		} else {
			rc = store_nv_digest(svc->store, mine);
		}
		if (rc != 0)
			return vv_error_set(err, "snapshot: out of memory");
		if (memcmp(mine, p->digest, NV_DIGEST_SIZE) != 0)
			return vv_error_set(err, "snapshot: the NV store diverged from the source's "
					    "(NV digest mismatch)");
	}
	return 0;
}

/* The service's own volatile variables (mode variables and the like) go:
 * the snapshot's are the ones the guest saw. */
static int
drop_volatile(struct vv_store *s)
{
	const struct vv_variable *v = vv_store_first(s), *next;

	for (; v != NULL; v = next) {
		next = vv_store_next(v);
		if (!(v->attributes & VV_ATTR_NV) &&
		    vv_store_put(s, v->name, v->name_len, &v->guid, v->attributes, NULL, 0, NULL) !=
			    VV_EFI_SUCCESS)
			return -1;
	}
	return 0;
}

/*
 * Order: first what can still be refused by this service's own engines
 * (properties, policy entries, the policy flags), over the unchanged
 * variables; then the variables (the full form: the whole content in one
 * all-or-nothing step with one NV commit); then what cannot fail (MOR,
 * the phase).  So a refusal at any point leaves the NV content as it was,
 * and the caller's reset brings the rest back to power-on.
 */
static int
apply(const struct vv_service *svc, struct vv_cursor body, const struct parsed *p,
      struct vv_error *err)
{
	/* Volatile-only: the service's own volatile variables go first, so
	 * the quota the policy and property reservations meet is the
	 * snapshot's (the full form swaps the table whole, below). */
	if (!p->full && drop_volatile(svc->store) != 0)
		return vv_error_set(err, "snapshot: could not clear the volatile variables");
	if (walk(svc, body, NULL, true, err) != 0)
		return -1;
	if (svc->policy != NULL) {
		if ((p->policy_flags & POLICY_DISABLED) &&
		    vv_policy_disable(svc->policy) != VV_EFI_SUCCESS)
			return vv_error_set(err, "snapshot: the variable policy was disabled on the "
					    "source; this service does not allow that");
		if ((p->policy_flags & POLICY_LOCKED) && vv_policy_lock(svc->policy) != VV_EFI_SUCCESS)
			return vv_error_set(err, "snapshot: cannot lock the variable policy");
	}
	if (p->full) {
		if (vv_store_replace_all(svc->store, p->vars, p->nvars, err) != 0) {
			vv_error_prefix(err, "snapshot: the NV content was not replaced");
			return -1;
		}
	} else {
		for (size_t i = 0; i < p->nvars; i++) {
			if (vv_store_insert_loaded(svc->store, &p->vars[i], err) != 0) {
				vv_error_prefix(err, "snapshot: variable %zu", i);
				return -1;
			}
		}
	}
	if (p->have_mor &&
	    vv_mor_state_set(svc->mor, (enum vv_mor_lock_state)p->mor_state, p->mor_key) != 0)
		return vv_error_set(err, "snapshot: MOR state refused");
	vv_store_restore_phase(svc->store, (p->phase & PHASE_END_OF_DXE) != 0,
			       (p->phase & PHASE_READY_TO_BOOT) != 0,
			       (p->phase & PHASE_RUNTIME) != 0);
	return 0;
}

int
vv_snapshot_load(const struct vv_service *svc, const struct vv_snapshot_options *opts,
		 const uint8_t *buf, size_t size, struct vv_error *err)
{
	static const struct vv_snapshot_options none;
	struct parsed p;
	struct vv_cursor body;
	int rc = -1;

	memset(&p, 0, sizeof(p));
	if (opts == NULL)
		opts = &none;
	if (buf == NULL)
		return vv_error_set(err, "snapshot: no data");
	if (vv_store_end_of_dxe(svc->store) || (svc->policy != NULL && vv_policy_count(svc->policy)))
		return vv_error_set(err, "snapshot: the service is not at its power-on state");
	if (parse_header(buf, size, opts, &body, &p.full, err) != 0 ||
	    walk(svc, body, &p, false, err) != 0 || check_fit(svc, &p, err) != 0)
		goto out;
	if (apply(svc, body, &p, err) != 0) {
		/* Never serve half a state: back to power-on (over the NV
		 * content as it was: nothing that can fail comes after the
		 * replacement of the NV content). */
		vv_store_signal(svc->store, VV_EVENT_RESET);
		goto out;
	}
	rc = 0;
out:
	parsed_free(&p);
	return rc;
}
