/*
 * src/auth/siglist.c -- EFI_SIGNATURE_LIST databases: the format check of
 * edk2 CheckSignatureListFormat, walking, counting, and the de-duplicating
 * append of edk2 FilterSignatureList (varstore-formats §8.3, §8.4, §9.1,
 * §9.2, §11.1).
 *
 * Every walk goes through siglist_next(), which bounds each list by what
 * remains of the buffer before reading a field of it, so even the helpers
 * documented as "valid database only" cannot read out of bounds.
 * The append filter is linear: one open-addressing hash set of entries
 * keyed by (SignatureType, SignatureSize, entry bytes) with a per-call
 * random SipHash key, so crafted entries cannot force collisions.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "auth/pkcs7.h"
#include "auth/siglist.h"

/* One EFI_SIGNATURE_LIST as found in a database (§9.1). */
struct siglist {
	const uint8_t *type;       /* 16 bytes */
	const uint8_t *header;     /* 28 bytes + SignatureHeader */
	uint32_t list_size;
	uint32_t header_size;
	uint32_t sig_size;
	const uint8_t *entries;
	size_t nentries;
};

/*
 * The list at *off, or 0 at the end of the data, or -1 when the sizes lie:
 * fewer than 28 bytes left, SignatureListSize < 28 or past the end, the
 * SignatureHeader past the list, SignatureSize 0 or not dividing the entry
 * area (§8.4 CheckSignatureListFormat).
 */
static int
siglist_next(const uint8_t *db, size_t size, size_t *off, struct siglist *l)
{
	const uint8_t *p;
	size_t left, area;

	if (*off >= size)
		return 0;
	left = size - *off;
	if (left < VV_SIGLIST_HEADER_SIZE)
		return -1;
	p = db + *off;
	l->type = p;
	l->header = p;
	l->list_size = vv_le32(p + 16);
	l->header_size = vv_le32(p + 20);
	l->sig_size = vv_le32(p + 24);
	if (l->list_size < VV_SIGLIST_HEADER_SIZE || l->list_size > left)
		return -1;
	area = l->list_size - VV_SIGLIST_HEADER_SIZE;
	if (l->header_size > area)
		return -1;
	area -= l->header_size;
	if (l->sig_size == 0 || area % l->sig_size != 0)
		return -1;
	l->entries = p + VV_SIGLIST_HEADER_SIZE + l->header_size;
	l->nentries = area / l->sig_size;
	*off += l->list_size;
	return 1;
}

/* Signature types edk2 knows (AuthService.c mSupportSigItem, §9.2), with
 * the SignatureData size; 0 = X.509 (any size, a DER certificate). */
struct sig_type {
	uint8_t guid[16];
	uint32_t data_size;
};

static const struct sig_type known_types[] = {
	/* EFI_CERT_SHA256_GUID c1c41626-504c-4092-aca9-41f936934328 */
	{ { 0x26, 0x16, 0xc4, 0xc1, 0x4c, 0x50, 0x92, 0x40,
	    0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28 }, 32 },
	/* EFI_CERT_RSA2048_GUID 3c5766e8-269c-4e34-aa14-ed776e85b3b6 */
	{ { 0xe8, 0x66, 0x57, 0x3c, 0x9c, 0x26, 0x34, 0x4e,
	    0xaa, 0x14, 0xed, 0x77, 0x6e, 0x85, 0xb3, 0xb6 }, 256 },
	/* EFI_CERT_RSA2048_SHA256_GUID e2b36190-879b-4a3d-ad8d-f2e7bba32784 */
	{ { 0x90, 0x61, 0xb3, 0xe2, 0x9b, 0x87, 0x3d, 0x4a,
	    0xad, 0x8d, 0xf2, 0xe7, 0xbb, 0xa3, 0x27, 0x84 }, 256 },
	/* EFI_CERT_SHA1_GUID 826ca512-cf10-4ac9-b187-be01496631bd */
	{ { 0x12, 0xa5, 0x6c, 0x82, 0x10, 0xcf, 0xc9, 0x4a,
	    0xb1, 0x87, 0xbe, 0x01, 0x49, 0x66, 0x31, 0xbd }, 20 },
	/* EFI_CERT_RSA2048_SHA1_GUID 67f8444f-8743-48f1-a328-1eaab8736080 */
	{ { 0x4f, 0x44, 0xf8, 0x67, 0x43, 0x87, 0xf1, 0x48,
	    0xa3, 0x28, 0x1e, 0xaa, 0xb8, 0x73, 0x60, 0x80 }, 256 },
	/* EFI_CERT_X509_GUID a5c059a1-94e4-4aa7-87b5-ab155c2bf072 */
	{ { 0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a,
	    0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72 }, 0 },
	/* EFI_CERT_SHA224_GUID 0b6e5233-a65c-44c9-9407-d9ab83bfc8bd */
	{ { 0x33, 0x52, 0x6e, 0x0b, 0x5c, 0xa6, 0xc9, 0x44,
	    0x94, 0x07, 0xd9, 0xab, 0x83, 0xbf, 0xc8, 0xbd }, 28 },
	/* EFI_CERT_SHA384_GUID ff3e5307-9fd0-48c9-85f1-8ad56c701e01 */
	{ { 0x07, 0x53, 0x3e, 0xff, 0xd0, 0x9f, 0xc9, 0x48,
	    0x85, 0xf1, 0x8a, 0xd5, 0x6c, 0x70, 0x1e, 0x01 }, 48 },
	/* EFI_CERT_SHA512_GUID 093e0fae-a6c4-4f50-9f1b-d41e2b89c19a */
	{ { 0xae, 0x0f, 0x3e, 0x09, 0xc4, 0xa6, 0x50, 0x4f,
	    0x9f, 0x1b, 0xd4, 0x1e, 0x2b, 0x89, 0xc1, 0x9a }, 64 },
	/* EFI_CERT_X509_SHA256_GUID 3bd2a492-96c0-4079-b420-fcf98ef103ed */
	{ { 0x92, 0xa4, 0xd2, 0x3b, 0xc0, 0x96, 0x79, 0x40,
	    0xb4, 0x20, 0xfc, 0xf9, 0x8e, 0xf1, 0x03, 0xed }, 48 },
	/* EFI_CERT_X509_SHA384_GUID 7076876e-80c2-4ee6-aad2-28b349a6865b */
	{ { 0x6e, 0x87, 0x76, 0x70, 0xc2, 0x80, 0xe6, 0x4e,
	    0xaa, 0xd2, 0x28, 0xb3, 0x49, 0xa6, 0x86, 0x5b }, 64 },
	/* EFI_CERT_X509_SHA512_GUID 446dbf63-2502-4cda-bcfa-2465d2b0fe9d */
	{ { 0x63, 0xbf, 0x6d, 0x44, 0x02, 0x25, 0xda, 0x4c,
	    0xbc, 0xfa, 0x24, 0x65, 0xd2, 0xb0, 0xfe, 0x9d }, 80 },
};

#define SIG_OWNER_SIZE 16u

static const struct sig_type *
siglist_known_type(const uint8_t *guid)
{
	for (size_t i = 0; i < sizeof(known_types) / sizeof(known_types[0]); i++)
		if (memcmp(known_types[i].guid, guid, 16) == 0)
			return &known_types[i];
	return NULL;
}

static bool
siglist_is_x509(const uint8_t *guid)
{
	const struct sig_type *t = siglist_known_type(guid);

	return t != NULL && t->data_size == 0;
}

/* §8.4: a known type, header size 0, the type's SignatureSize; X.509
 * entries: SignatureSize > 16 and every certificate parses. */
static bool
siglist_format_ok(const struct siglist *l, struct vv_x509_seen *seen)
{
	const struct sig_type *t = siglist_known_type(l->type);

	if (t == NULL || l->header_size != 0)
		return false;
	if (t->data_size != 0)
		return l->sig_size == SIG_OWNER_SIZE + t->data_size;
	if (l->sig_size <= SIG_OWNER_SIZE)
		return false;
	for (size_t i = 0; i < l->nentries; i++) {
		const uint8_t *e = l->entries + i * l->sig_size;

		if (!vv_x509_valid_seen(seen, e + SIG_OWNER_SIZE, l->sig_size - SIG_OWNER_SIZE))
			return false;
	}
	return true;
}

vv_status
vv_siglist_validate(const uint8_t *db, size_t size, size_t max_signatures)
{
	return vv_siglist_validate_seen(db, size, max_signatures, NULL);
}

vv_status
vv_siglist_validate_seen(const uint8_t *db, size_t size, size_t max_signatures,
			 struct vv_x509_seen *seen)
{
	struct siglist l;
	size_t off = 0, total = 0;
	int r;

	if (db == NULL && size > 0)
		return VV_EFI_INVALID_PARAMETER;
	while ((r = siglist_next(db, size, &off, &l)) > 0) {
		if (!siglist_format_ok(&l, seen))
			return VV_EFI_INVALID_PARAMETER;
		total += l.nentries;   /* <= size / 16: cannot overflow */
		if (max_signatures != 0 && total > max_signatures)
			return VV_EFI_INVALID_PARAMETER;
	}
	return r < 0 ? VV_EFI_INVALID_PARAMETER : VV_EFI_SUCCESS;
}

int
vv_siglist_for_each_x509(const uint8_t *db, size_t size, vv_siglist_cert_fn fn, void *ctx)
{
	struct siglist l;
	size_t off = 0;
	int rc;

	if (db == NULL)
		return 0;
	while (siglist_next(db, size, &off, &l) > 0) {
		if (!siglist_is_x509(l.type) || l.sig_size <= SIG_OWNER_SIZE)
			continue;
		for (size_t i = 0; i < l.nentries; i++) {
			const uint8_t *e = l.entries + i * l.sig_size;

			rc = fn(ctx, e + SIG_OWNER_SIZE, l.sig_size - SIG_OWNER_SIZE);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

size_t
vv_siglist_count(const uint8_t *db, size_t size)
{
	struct siglist l;
	size_t off = 0, n = 0;

	if (db == NULL)
		return 0;
	while (siglist_next(db, size, &off, &l) > 0)
		n += l.nentries;
	return n;
}

/* ---- the entry set of the append filter ---- */

/* SipHash-2-4 (Aumasson, Bernstein) over a key drawn per call. */
#define ROTL64(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
	v0 += v1; v1 = ROTL64(v1, 13); v1 ^= v0; v0 = ROTL64(v0, 32); \
	v2 += v3; v3 = ROTL64(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = ROTL64(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = ROTL64(v1, 17); v1 ^= v2; v2 = ROTL64(v2, 32); \
	} while (0)

struct sip {
	uint64_t v0, v1, v2, v3;
	uint64_t tail;      /* pending bytes, little-endian */
	unsigned ntail;
	uint64_t total;
};

static void
sip_init(struct sip *s, const uint64_t key[2])
{
	s->v0 = 0x736f6d6570736575ULL ^ key[0];
	s->v1 = 0x646f72616e646f6dULL ^ key[1];
	s->v2 = 0x6c7967656e657261ULL ^ key[0];
	s->v3 = 0x7465646279746573ULL ^ key[1];
	s->tail = 0;
	s->ntail = 0;
	s->total = 0;
}

static void
sip_block(struct sip *s, uint64_t m)
{
	uint64_t v0 = s->v0, v1 = s->v1, v2 = s->v2, v3 = s->v3;

	v3 ^= m;
	SIPROUND;
	SIPROUND;
	v0 ^= m;
	s->v0 = v0; s->v1 = v1; s->v2 = v2; s->v3 = v3;
}

static void
sip_update(struct sip *s, const uint8_t *p, size_t n)
{
	s->total += n;
	for (; n > 0; n--, p++) {
		s->tail |= (uint64_t)*p << (8 * s->ntail);
		if (++s->ntail == 8) {
			sip_block(s, s->tail);
			s->tail = 0;
			s->ntail = 0;
		}
	}
}

static uint64_t
sip_final(struct sip *s)
{
	uint64_t v0, v1, v2, v3;

	sip_block(s, s->tail | (s->total << 56));
	v0 = s->v0; v1 = s->v1; v2 = s->v2; v3 = s->v3;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* An entry: its list's type and SignatureSize, and its bytes (owner +
 * data, sig_size of them) inside one of the two input buffers. */
struct entry_ref {
	const uint8_t *type;
	const uint8_t *bytes;   /* NULL: free slot */
	uint32_t sig_size;
	uint64_t hash;
};

struct entry_set {
	struct entry_ref *slots;
	size_t mask;            /* capacity - 1; capacity a power of two */
	uint64_t key[2];
};

static uint64_t
entry_hash(const struct entry_set *set, const uint8_t *type, uint32_t sig_size,
	   const uint8_t *bytes)
{
	struct sip s;
	uint8_t size_le[4];

	vv_put_le32(size_le, sig_size);
	sip_init(&s, set->key);
	sip_update(&s, type, 16);
	sip_update(&s, size_le, 4);
	sip_update(&s, bytes, sig_size);
	return sip_final(&s);
}

/* Room for at least 2 * n entries (load <= 1/2). */
static int
entry_set_init(struct entry_set *set, size_t n)
{
	size_t cap = 16;

	while (cap / 2 < n) {
		if (cap > SIZE_MAX / 2 / sizeof(struct entry_ref))
			return -1;
		cap *= 2;
	}
	set->slots = calloc(cap, sizeof(struct entry_ref));
	if (set->slots == NULL)
		return -1;
	set->mask = cap - 1;
	if (getrandom(set->key, sizeof(set->key), GRND_NONBLOCK) != (ssize_t)sizeof(set->key)) {
		/* No entropy yet: a fixed key still hashes well for
		 * non-adversarial data; correctness never depends on it. */
		set->key[0] = 0x0706050403020100ULL;
		set->key[1] = 0x0f0e0d0c0b0a0908ULL;
	}
	return 0;
}

/*
 * Inserts the entry unless an equal one (same type, same SignatureSize,
 * same bytes) is there.  Returns true if it was new.  The set never fills
 * up: it was sized for every entry of both inputs.
 */
static bool
entry_set_add(struct entry_set *set, const uint8_t *type, uint32_t sig_size, const uint8_t *bytes)
{
	uint64_t h = entry_hash(set, type, sig_size, bytes);
	size_t i = (size_t)h & set->mask;

	for (;;) {
		struct entry_ref *e = &set->slots[i];

		if (e->bytes == NULL) {
			e->type = type;
			e->bytes = bytes;
			e->sig_size = sig_size;
			e->hash = h;
			return true;
		}
		if (e->hash == h && e->sig_size == sig_size && memcmp(e->type, type, 16) == 0 &&
		    memcmp(e->bytes, bytes, sig_size) == 0)
			return false;
		i = (i + 1) & set->mask;
	}
}

static void
entry_set_add_db(struct entry_set *set, const uint8_t *db, size_t size)
{
	struct siglist l;
	size_t off = 0;

	while (siglist_next(db, size, &off, &l) > 0)
		for (size_t i = 0; i < l.nentries; i++)
			entry_set_add(set, l.type, l.sig_size, l.entries + i * l.sig_size);
}

/*
 * Copies to out the entries of one list of `add` that are new, behind a copy
 * of its header (type, sizes, SignatureHeader) with SignatureListSize
 * rewritten; nothing when none is new (§8.3).  Returns the bytes written
 * (never more than the list's own size).
 */
static size_t
filter_one_list(struct entry_set *set, const struct siglist *l, uint8_t *out)
{
	size_t head = VV_SIGLIST_HEADER_SIZE + l->header_size;
	size_t len = head;

	for (size_t i = 0; i < l->nentries; i++) {
		const uint8_t *e = l->entries + i * l->sig_size;

		if (entry_set_add(set, l->type, l->sig_size, e)) {
			memcpy(out + len, e, l->sig_size);
			len += l->sig_size;
		}
	}
	if (len == head)
		return 0;
	memcpy(out, l->header, head);
	vv_put_le32(out + 16, (uint32_t)len);   /* len <= l->list_size */
	return len;
}

vv_status
vv_siglist_filter_append(const uint8_t *old, size_t old_size, const uint8_t *add,
			 size_t add_size, uint8_t **out, size_t *out_size)
{
	struct entry_set set;
	struct siglist l;
	size_t off = 0, len = 0;
	uint8_t *buf;

	if (old == NULL)
		old_size = 0;
	if (add == NULL)
		add_size = 0;
	/* The result is a subset of `add`: add_size bytes always suffice. */
	buf = malloc(add_size > 0 ? add_size : 1);
	if (buf == NULL)
		return VV_EFI_OUT_OF_RESOURCES;
	if (entry_set_init(&set, vv_siglist_count(old, old_size) + vv_siglist_count(add, add_size))) {
		free(buf);
		return VV_EFI_OUT_OF_RESOURCES;
	}
	entry_set_add_db(&set, old, old_size);
	while (siglist_next(add, add_size, &off, &l) > 0)
		len += filter_one_list(&set, &l, buf + len);
	free(set.slots);
	*out = buf;
	*out_size = len;
	return VV_EFI_SUCCESS;
}
