/*
 * tests/test_policy.c -- the variable policy engine (src/policy/policy.c)
 * and its MM protocol (src/proto/mm_policy.c).
 *
 * Entries are built byte by byte at the offsets of device-abi §8.4-§8.5;
 * MM requests at the offsets of §8.1-§8.3.  Every check names the exact
 * EFI status and the state after it.  The real OVMF boot's six REGISTER
 * requests (shared/data/ovmf-boot) are replayed through vv_mm_handle.
 */
#include <vmvars/mm.h>
#include <vmvars/policy.h>
#include <vmvars/store.h>

#include "harness.h"

/* A name literal and its length without NUL. */
#define N(lit) (const uint16_t *)(lit), (sizeof(lit) / 2 - 1)

#define VV_EFI_TIMEOUT (VV_EFI_ERROR_BIT | 18)

static const vv_guid NS_A = { { 0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x33, 0x33,
				0x44, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55, 0x01 } };
static const vv_guid NS_B = { { 0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x33, 0x33,
				0x44, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55, 0x02 } };

/* ---- entry builder (device-abi §8.4) ---- */

struct ent {
	const vv_guid *ns;
	uint32_t min, max, must, cant;
	uint8_t lock;
	const vv_guid *state_ns;    /* type 3 only */
	uint8_t state_value;
	const char *state_name;
	const char *name;           /* NULL: namespace-wide */
};

static size_t
put_ascii(uint8_t *p, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i <= n; i++)
		vv_put_le16(p + 2 * i, (uint16_t)(unsigned char)s[i]);
	return (n + 1) * 2;
}

/* Writes the entry into buf (which must be large); returns its Size. */
static size_t
build(uint8_t *buf, const struct ent *e)
{
	size_t off = 44, name_off;

	memset(buf, 0, 44);
	vv_put_le32(buf + 0, VV_POLICY_ENTRY_REVISION);
	memcpy(buf + 8, e->ns->b, 16);
	vv_put_le32(buf + 24, e->min);
	vv_put_le32(buf + 28, e->max);
	vv_put_le32(buf + 32, e->must);
	vv_put_le32(buf + 36, e->cant);
	buf[40] = e->lock;
	buf[41] = buf[42] = buf[43] = 0xaf;     /* OVMF leaves garbage here */
	if (e->lock == VV_POLICY_LOCK_ON_VAR_STATE) {
		memcpy(buf + 44, e->state_ns->b, 16);
		buf[60] = e->state_value;
		buf[61] = 0xaf;
		off = 62 + put_ascii(buf + 62, e->state_name);
	}
	name_off = off;
	if (e->name != NULL)
		off += put_ascii(buf + off, e->name);
	vv_put_le16(buf + 4, (uint16_t)off);
	vv_put_le16(buf + 6, (uint16_t)name_off);
	return off;
}

static struct ent
basic(const vv_guid *ns, const char *name, uint8_t lock)
{
	struct ent e = { .ns = ns, .max = VV_POLICY_NO_MAX_SIZE, .lock = lock, .name = name };

	return e;
}

static vv_status
reg(struct vv_policy *p, const struct ent *e)
{
	uint8_t buf[1024];
	size_t n = build(buf, e);

	return vv_policy_register(p, buf, n);
}

struct fixture {
	struct vv_store *s;
	struct vv_policy *p;
};

static void
fixture_init(struct fixture *f, const struct vv_policy_config *cfg, const struct vv_limits *lim)
{
	f->s = vv_store_new(lim);
	REQUIRE(f->s != NULL);
	f->p = vv_policy_new(f->s, cfg);
	REQUIRE(f->p != NULL);
}

/* The engine detaches from the store when freed: free it first. */
static void
fixture_fini(struct fixture *f)
{
	vv_policy_free(f->p);
	vv_store_free(f->s);
}

static vv_status
set_var(struct vv_store *s, enum vv_caller caller, const uint16_t *name, size_t len,
	const vv_guid *g, uint32_t attr, const void *data, uint64_t size)
{
	struct vv_set_request r = {
		.name = name, .name_len = len, .guid = *g, .attributes = attr,
		.data = data, .data_size = size, .caller = caller,
	};

	return vv_store_set(s, &r);
}

static size_t
dump_size(struct vv_policy *p)
{
	size_t n = 0;

	(void)vv_policy_dump(p, NULL, &n);
	return n;
}

/* MinSize of the best match for (name, guid), used as an entry id;
 * 0 when nothing matches. */
static uint32_t
winner(struct vv_policy *p, const uint16_t *name, size_t len, const vv_guid *g)
{
	uint8_t fixed[44];
	size_t ns = 0;
	vv_status st = vv_policy_get_info(p, name, len, g, fixed, NULL, &ns);

	if (st == VV_EFI_NOT_FOUND)
		return 0;
	return vv_le32(fixed + 24);
}

#define BSRT (VV_ATTR_BS | VV_ATTR_RT)

/* ------------------------------------------------------------------ */

static void
test_register_basic(void)
{
	struct fixture f;
	uint8_t buf[256], out[256];
	struct ent e = basic(&NS_A, "Foo", VV_POLICY_LOCK_NOW);
	size_t n = build(buf, &e), m = sizeof(out);

	fixture_init(&f, NULL, NULL);
	CHECK(!vv_policy_locked(f.p));
	CHECK(vv_policy_enabled(f.p));
	/* Trailing bytes after Size are ignored (OVMF sends a 16 KiB message). */
	memset(buf + n, 0xaf, 16);
	CHECK_STATUS(vv_policy_register(f.p, buf, n + 16), VV_EFI_SUCCESS);
	CHECK_EQ(vv_policy_count(f.p), 1);
	CHECK_STATUS(vv_policy_dump(f.p, out, &m), VV_EFI_SUCCESS);
	CHECK_EQ(m, n);
	CHECK_MEM(out, buf, n);
	m = n - 1;
	CHECK_STATUS(vv_policy_dump(f.p, out, &m), VV_EFI_BUFFER_TOO_SMALL);
	CHECK_EQ(m, n);
	fixture_fini(&f);
}

/* One malformed entry per rule of edk2 IsValidVariablePolicyStructure and
 * vmvars/policy.h; each is EFI_INVALID_PARAMETER and changes nothing. */
static void
test_validity_rules(void)
{
	struct fixture f;
	uint8_t buf[1024], before[1024];
	struct ent good = basic(&NS_A, "Good", VV_POLICY_NO_LOCK);
	struct ent e3 = basic(&NS_A, "Target", VV_POLICY_LOCK_ON_VAR_STATE);
	size_t n, nbefore;
	char hashes[300];

	e3.state_ns = &NS_B;
	e3.state_value = 1;
	e3.state_name = "Ctl";
	fixture_init(&f, NULL, NULL);
	REQUIRE(reg(f.p, &good) == VV_EFI_SUCCESS);
	nbefore = sizeof(before);
	REQUIRE(vv_policy_dump(f.p, before, &nbefore) == VV_EFI_SUCCESS);

#define BAD(mutation) do { \
		struct ent x_ = basic(&NS_A, "Bad", VV_POLICY_NO_LOCK); \
		n = build(buf, &x_); \
		mutation; \
		CHECK_STATUS(vv_policy_register(f.p, buf, n), VV_EFI_INVALID_PARAMETER); \
	} while (0)
#define BAD3(mutation) do { \
		n = build(buf, &e3); \
		mutation; \
		CHECK_STATUS(vv_policy_register(f.p, buf, n), VV_EFI_INVALID_PARAMETER); \
	} while (0)

	BAD(n = 43);                                            /* buffer < fixed part */
	BAD(vv_put_le32(buf, 0x00010001));                      /* Version */
	BAD(vv_put_le32(buf, 0x00020000));
	BAD(vv_put_le16(buf + 4, 43));                          /* Size < 44 */
	BAD(vv_put_le16(buf + 4, (uint16_t)(n + 2)); memset(buf + n, 0, 2)); /* Size > buffer */
	BAD(vv_put_le16(buf + 6, 42));                          /* OffsetToName < 44 */
	BAD(vv_put_le16(buf + 6, (uint16_t)(n + 2)));           /* OffsetToName > Size */
	BAD(vv_put_le16(buf + 4, (uint16_t)(n - 1)); n--);      /* odd name bytes */
	BAD(vv_put_le32(buf + 28, 0));                          /* MaxSize 0 */
	BAD(vv_put_le32(buf + 24, 9); vv_put_le32(buf + 28, 8)); /* MinSize > MaxSize */
	BAD(vv_put_le32(buf + 32, 0x3); vv_put_le32(buf + 36, 0x1)); /* MustHave & CantHave */
	BAD(buf[40] = 4);                                       /* lock type */
	BAD(buf[40] = 0xff);
	BAD(vv_put_le16(buf + 6, 46));                          /* types 0-2 need 44 */
	BAD(buf[40] = VV_POLICY_LOCK_NOW; vv_put_le16(buf + 6, 46));
	BAD(buf[40] = VV_POLICY_LOCK_ON_CREATE; vv_put_le16(buf + 6, 46));
	BAD(buf[40] = VV_POLICY_LOCK_ON_VAR_STATE);             /* type 3 without block */
	BAD(vv_put_le16(buf + n - 2, 'x'));                     /* name without NUL */
	BAD(vv_put_le16(buf + 46, 0));                          /* embedded NUL in name */
	BAD(vv_put_le16(buf + 46, 0xD800));                     /* surrogate in name */
	BAD(vv_put_le16(buf + 46, 0xDFFF));
	/* Type 3 (LOCK_ON_VAR_STATE): "Ctl" at 62..70, OffsetToName 70. */
	BAD3(vv_put_le16(buf + 6, 62));                         /* no room for a name */
	BAD3(vv_put_le16(buf + 62, 0); vv_put_le16(buf + 6, 64);
	     memmove(buf + 64, buf + 70, n - 70); n -= 6; vv_put_le16(buf + 4, (uint16_t)n));
	BAD3(vv_put_le16(buf + 66, 0));                         /* NUL before OffsetToName */
	BAD3(vv_put_le16(buf + 68, 'x'));                       /* no NUL at OffsetToName */
	BAD3(vv_put_le16(buf + 64, 0xDC00));                    /* surrogate */
	BAD3(vv_put_le16(buf + 6, 72));                         /* OffsetToName after NUL */
	BAD3(buf[40] = VV_POLICY_LOCK_NOW);                     /* block with type 1 */
	/* 256 wildcards: more than MATCH_PRIORITY_MIN. */
	memset(hashes, '#', 256);
	hashes[256] = '\0';
	{
		struct ent w = basic(&NS_A, hashes, VV_POLICY_NO_LOCK);

		CHECK_STATUS(reg(f.p, &w), VV_EFI_INVALID_PARAMETER);
	}

	/* Nothing changed. */
	CHECK_EQ(vv_policy_count(f.p), 1);
	n = sizeof(buf);
	CHECK_STATUS(vv_policy_dump(f.p, buf, &n), VV_EFI_SUCCESS);
	CHECK_EQ(n, nbefore);
	CHECK_MEM(buf, before, nbefore);

	/* The boundaries just inside the rules are accepted. */
	hashes[255] = '\0';
	{
		struct ent w = basic(&NS_A, hashes, VV_POLICY_NO_LOCK);
		struct ent mm = basic(&NS_A, "MinEqMax", VV_POLICY_NO_LOCK);
		struct ent nomax = basic(&NS_A, "MinNoMax", VV_POLICY_NO_LOCK);
		struct ent empty = basic(&NS_A, "", VV_POLICY_NO_LOCK);

		mm.min = mm.max = 8;
		nomax.min = 0x7fffffff;
		CHECK_STATUS(reg(f.p, &w), VV_EFI_SUCCESS);
		CHECK_STATUS(reg(f.p, &mm), VV_EFI_SUCCESS);
		CHECK_STATUS(reg(f.p, &nomax), VV_EFI_SUCCESS);
		/* A name of just a NUL is a present (empty) name, as in edk2. */
		CHECK_STATUS(reg(f.p, &empty), VV_EFI_SUCCESS);
		CHECK_STATUS(reg(f.p, &e3), VV_EFI_SUCCESS);
	}
	CHECK_EQ(vv_policy_count(f.p), 6);
	fixture_fini(&f);
#undef BAD
#undef BAD3
}

static void
test_duplicates(void)
{
	struct fixture f;
	struct ent a = basic(&NS_A, "Foo", VV_POLICY_NO_LOCK);
	struct ent a2 = basic(&NS_A, "Foo", VV_POLICY_LOCK_NOW);
	struct ent b = basic(&NS_B, "Foo", VV_POLICY_NO_LOCK);
	struct ent w = basic(&NS_A, "Boot####", VV_POLICY_NO_LOCK);
	struct ent w1 = basic(&NS_A, "Boot0001", VV_POLICY_NO_LOCK);
	struct ent nw = basic(&NS_A, NULL, VV_POLICY_NO_LOCK);
	struct ent nw2 = basic(&NS_A, NULL, VV_POLICY_LOCK_NOW);
	struct ent foo_lower = basic(&NS_A, "foo", VV_POLICY_NO_LOCK);

	fixture_init(&f, NULL, NULL);
	CHECK_STATUS(reg(f.p, &a), VV_EFI_SUCCESS);
	CHECK_STATUS(reg(f.p, &a), VV_EFI_ALREADY_STARTED);
	CHECK_STATUS(reg(f.p, &a2), VV_EFI_ALREADY_STARTED);   /* same name, other lock */
	CHECK_STATUS(reg(f.p, &b), VV_EFI_SUCCESS);            /* other namespace */
	CHECK_STATUS(reg(f.p, &foo_lower), VV_EFI_SUCCESS);    /* names are case-sensitive */
	CHECK_STATUS(reg(f.p, &w), VV_EFI_SUCCESS);
	CHECK_STATUS(reg(f.p, &w), VV_EFI_ALREADY_STARTED);    /* identical wildcard name */
	CHECK_STATUS(reg(f.p, &w1), VV_EFI_SUCCESS);           /* covered by, not equal to */
	CHECK_STATUS(reg(f.p, &nw), VV_EFI_SUCCESS);
	CHECK_STATUS(reg(f.p, &nw2), VV_EFI_ALREADY_STARTED);  /* both namespace-wide */
	CHECK_EQ(vv_policy_count(f.p), 6);
	fixture_fini(&f);
}

static void
test_lock_command(void)
{
	struct fixture f;
	struct vv_policy_config cfg = { .allow_disable = true, .max_entries = 16 };
	struct ent a = basic(&NS_A, "Foo", VV_POLICY_NO_LOCK);
	struct ent b = basic(&NS_A, "Bar", VV_POLICY_NO_LOCK);

	fixture_init(&f, &cfg, NULL);
	CHECK_STATUS(reg(f.p, &a), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_policy_lock(f.p), VV_EFI_SUCCESS);
	CHECK(vv_policy_locked(f.p));
	CHECK_STATUS(vv_policy_lock(f.p), VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(reg(f.p, &b), VV_EFI_WRITE_PROTECTED);
	/* Locked wins over a malformed entry, as in edk2's order. */
	{
		uint8_t junk[44] = { 0 };

		CHECK_STATUS(vv_policy_register(f.p, junk, sizeof(junk)), VV_EFI_WRITE_PROTECTED);
	}
	CHECK_STATUS(vv_policy_disable(f.p), VV_EFI_WRITE_PROTECTED);
	CHECK(vv_policy_enabled(f.p));
	CHECK_EQ(vv_policy_count(f.p), 1);
	fixture_fini(&f);
}

static void
test_lock_at_end_of_dxe(void)
{
	struct fixture f;
	struct ent a = basic(&NS_A, "Foo", VV_POLICY_NO_LOCK);
	struct ent b = basic(&NS_A, "Bar", VV_POLICY_NO_LOCK);

	fixture_init(&f, NULL, NULL);
	CHECK_STATUS(reg(f.p, &a), VV_EFI_SUCCESS);
	vv_store_signal(f.s, VV_EVENT_END_OF_DXE);
	CHECK(vv_policy_locked(f.p));
	CHECK_STATUS(reg(f.p, &b), VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(vv_policy_lock(f.p), VV_EFI_WRITE_PROTECTED);
	CHECK_EQ(vv_policy_count(f.p), 1);
	fixture_fini(&f);

	/* ReadyToBoot without EndOfDxe does EndOfDxe's work (edk2). */
	fixture_init(&f, NULL, NULL);
	vv_store_signal(f.s, VV_EVENT_READY_TO_BOOT);
	CHECK(vv_policy_locked(f.p));
	CHECK_STATUS(reg(f.p, &b), VV_EFI_WRITE_PROTECTED);
	fixture_fini(&f);
}

static void
test_reset_clears(void)
{
	struct fixture f;
	struct vv_policy_config cfg = { .allow_disable = true, .max_entries = 16 };
	struct ent a = basic(&NS_A, "Foo", VV_POLICY_LOCK_NOW);
	struct ent b = basic(&NS_A, NULL, VV_POLICY_NO_LOCK);
	uint64_t max, rem0, rem1, rem2, maxvar;
	uint8_t d = 1;

	fixture_init(&f, &cfg, NULL);
	REQUIRE(vv_store_query(f.s, BSRT, &max, &rem0, &maxvar) == VV_EFI_SUCCESS);
	CHECK_STATUS(reg(f.p, &a), VV_EFI_SUCCESS);
	CHECK_STATUS(reg(f.p, &b), VV_EFI_SUCCESS);
	REQUIRE(vv_store_query(f.s, BSRT, &max, &rem1, &maxvar) == VV_EFI_SUCCESS);
	CHECK_EQ(rem0 - rem1, dump_size(f.p));
	CHECK_STATUS(vv_policy_disable(f.p), VV_EFI_SUCCESS);
	vv_store_signal(f.s, VV_EVENT_END_OF_DXE);
	CHECK(vv_policy_locked(f.p));

	vv_store_signal(f.s, VV_EVENT_RESET);
	CHECK_EQ(vv_policy_count(f.p), 0);
	CHECK_EQ(dump_size(f.p), 0);
	CHECK(!vv_policy_locked(f.p));
	CHECK(vv_policy_enabled(f.p));
	REQUIRE(vv_store_query(f.s, BSRT, &max, &rem2, &maxvar) == VV_EFI_SUCCESS);
	CHECK_EQ(rem2, rem0);
	/* The old LOCK_NOW is gone: after the next EndOfDxe Foo is writable. */
	vv_store_signal(f.s, VV_EVENT_END_OF_DXE);
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Foo"), &NS_A, BSRT, &d, 1), VV_EFI_SUCCESS);
	vv_store_signal(f.s, VV_EVENT_RESET);
	CHECK_STATUS(reg(f.p, &a), VV_EFI_SUCCESS);
	CHECK_EQ(vv_policy_count(f.p), 1);
	fixture_fini(&f);
}

static void
test_disable(void)
{
	struct fixture f;
	struct vv_policy_config cfg = { .allow_disable = true, .max_entries = 16 };
	struct ent a = basic(&NS_A, "Foo", VV_POLICY_LOCK_NOW);
	uint8_t d = 1;

	/* OVMF's PcdAllowVariablePolicyEnforcementDisable is FALSE. */
	fixture_init(&f, NULL, NULL);
	CHECK_STATUS(vv_policy_disable(f.p), VV_EFI_WRITE_PROTECTED);
	CHECK(vv_policy_enabled(f.p));
	fixture_fini(&f);

	fixture_init(&f, &cfg, NULL);
	CHECK_STATUS(reg(f.p, &a), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_policy_check(f.p, N(u"Foo"), &NS_A, BSRT, 1), VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(vv_policy_disable(f.p), VV_EFI_SUCCESS);
	CHECK(!vv_policy_enabled(f.p));
	CHECK_STATUS(vv_policy_disable(f.p), VV_EFI_ALREADY_STARTED);
	CHECK_STATUS(vv_policy_check(f.p, N(u"Foo"), &NS_A, BSRT, 1), VV_EFI_SUCCESS);
	vv_store_signal(f.s, VV_EVENT_END_OF_DXE);
	/* Already disabled is reported before locked. */
	CHECK_STATUS(vv_policy_disable(f.p), VV_EFI_ALREADY_STARTED);
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Foo"), &NS_A, BSRT, &d, 1), VV_EFI_SUCCESS);
	fixture_fini(&f);
}

static void
test_matching_priority(void)
{
	struct fixture f;
	struct ent nw = basic(&NS_A, NULL, VV_POLICY_NO_LOCK);
	struct ent w4 = basic(&NS_A, "Var####", VV_POLICY_NO_LOCK);
	struct ent w2 = basic(&NS_A, "Var##01", VV_POLICY_NO_LOCK);
	struct ent ex = basic(&NS_A, "Var0001", VV_POLICY_NO_LOCK);
	struct ent t1 = basic(&NS_B, "A#", VV_POLICY_NO_LOCK);
	struct ent t2 = basic(&NS_B, "#B", VV_POLICY_NO_LOCK);

	/* Registered worst first, so the order of the table is not what
	 * decides. */
	nw.min = 1;
	w4.min = 2;
	w2.min = 3;
	ex.min = 4;
	t1.min = 5;
	t2.min = 6;
	fixture_init(&f, NULL, NULL);
	REQUIRE(reg(f.p, &nw) == VV_EFI_SUCCESS);
	REQUIRE(reg(f.p, &w4) == VV_EFI_SUCCESS);
	REQUIRE(reg(f.p, &w2) == VV_EFI_SUCCESS);
	REQUIRE(reg(f.p, &ex) == VV_EFI_SUCCESS);
	REQUIRE(reg(f.p, &t1) == VV_EFI_SUCCESS);
	REQUIRE(reg(f.p, &t2) == VV_EFI_SUCCESS);

	CHECK_EQ(winner(f.p, N(u"Var0001"), &NS_A), 4);        /* exact */
	CHECK_EQ(winner(f.p, N(u"Var0101"), &NS_A), 3);        /* 2 wildcards beat 4 */
	CHECK_EQ(winner(f.p, N(u"Var0102"), &NS_A), 2);
	CHECK_EQ(winner(f.p, N(u"Var00ab"), &NS_A), 2);        /* lowercase hex */
	CHECK_EQ(winner(f.p, N(u"VarABCD"), &NS_A), 2);
	CHECK_EQ(winner(f.p, N(u"Var00ag"), &NS_A), 1);        /* 'g' is not hex */
	CHECK_EQ(winner(f.p, N(u"Var#001"), &NS_A), 1);        /* '#' matches no '#' */
	CHECK_EQ(winner(f.p, N(u"Var####"), &NS_A), 1);
	CHECK_EQ(winner(f.p, N(u"Var00011"), &NS_A), 1);       /* both must end together */
	CHECK_EQ(winner(f.p, N(u"Var000"), &NS_A), 1);
	CHECK_EQ(winner(f.p, N(u"var0001"), &NS_A), 1);        /* case-sensitive */
	CHECK_EQ(winner(f.p, N(u"Other"), &NS_A), 1);          /* namespace-wide */
	CHECK_EQ(winner(f.p, N(u"Var0001"), &NS_B), 0);        /* other namespace */
	/* Equal priority: the first registered wins. */
	CHECK_EQ(winner(f.p, N(u"AB"), &NS_B), 5);
	CHECK_EQ(winner(f.p, N(u"A1"), &NS_B), 5);
	CHECK_EQ(winner(f.p, N(u"1B"), &NS_B), 6);
	CHECK_EQ(winner(f.p, N(u"ZB"), &NS_B), 0);
	fixture_fini(&f);

	/* 255 wildcards tie with a namespace-wide entry; the first wins. */
	{
		char h[256];
		uint16_t name[255];
		struct ent w255 = basic(&NS_A, h, VV_POLICY_NO_LOCK);

		memset(h, '#', 255);
		h[255] = '\0';
		for (size_t i = 0; i < 255; i++)
			name[i] = 'a';
		w255.min = 7;
		fixture_init(&f, NULL, NULL);
		REQUIRE(reg(f.p, &nw) == VV_EFI_SUCCESS);
		REQUIRE(reg(f.p, &w255) == VV_EFI_SUCCESS);
		CHECK_EQ(winner(f.p, name, 255, &NS_A), 1);
		fixture_fini(&f);
	}
}

/* Size and attribute limits: enforced through vv_store_set for a guest
 * after EndOfDxe only; deletes skip them. */
static void
test_limits_enforced(void)
{
	struct fixture f;
	struct ent e = basic(&NS_A, "Lim", VV_POLICY_NO_LOCK);
	uint8_t d[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	const struct vv_variable *v;

	e.min = 2;
	e.max = 4;
	e.must = VV_ATTR_RT;
	e.cant = VV_ATTR_NV;
	fixture_init(&f, NULL, NULL);
	REQUIRE(reg(f.p, &e) == VV_EFI_SUCCESS);

	/* Before EndOfDxe the engine is not consulted. */
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Lim"), &NS_A, VV_ATTR_BS, d, 1),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Lim"), &NS_A, VV_ATTR_BS, NULL, 0),
		     VV_EFI_SUCCESS);
	CHECK(vv_store_find(f.s, N(u"Lim"), &NS_A) == NULL);

	vv_store_signal(f.s, VV_EVENT_END_OF_DXE);
	/* Each refusal names the policy's rule (vv_store_last_refusal). */
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Lim"), &NS_A, BSRT, d, 1),
		     VV_EFI_INVALID_PARAMETER);                 /* < MinSize */
	CHECK(strcmp(vv_store_last_refusal(f.s),
		     "a variable policy requires at least 2 bytes; got 1") == 0);
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Lim"), &NS_A, BSRT, d, 5),
		     VV_EFI_INVALID_PARAMETER);                 /* > MaxSize */
	CHECK(strcmp(vv_store_last_refusal(f.s),
		     "a variable policy allows at most 4 bytes; got 5") == 0);
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Lim"), &NS_A, VV_ATTR_BS, d, 2),
		     VV_EFI_INVALID_PARAMETER);                 /* lacks RT */
	CHECK(strcmp(vv_store_last_refusal(f.s),
		     "a variable policy requires attributes 0x4; got 0x2") == 0);
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Lim"), &NS_A, BSRT | VV_ATTR_NV, d, 2),
		     VV_EFI_INVALID_PARAMETER);                 /* has NV */
	CHECK(strcmp(vv_store_last_refusal(f.s),
		     "a variable policy forbids attributes 0x1; got 0x7") == 0);
	/* Size/attribute violations are INVALID_PARAMETER for the host too
	 * (only WRITE_PROTECTED is ignored for trusted callers). */
	CHECK_STATUS(set_var(f.s, VV_CALLER_HOST, N(u"Lim"), &NS_A, BSRT, d, 5),
		     VV_EFI_INVALID_PARAMETER);
	CHECK(vv_store_find(f.s, N(u"Lim"), &NS_A) == NULL);
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Lim"), &NS_A, BSRT, d, 2), VV_EFI_SUCCESS);
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Lim"), &NS_A, BSRT, d, 4), VV_EFI_SUCCESS);
	v = vv_store_find(f.s, N(u"Lim"), &NS_A);
	REQUIRE(v != NULL);
	CHECK_EQ(v->data_size, 4);
	/* A delete is not size- or attribute-checked (edk2; QEMU is wrong). */
	CHECK_STATUS(vv_policy_check(f.p, N(u"Lim"), &NS_A, VV_ATTR_BS, 0), VV_EFI_SUCCESS);
	CHECK_STATUS(vv_policy_check(f.p, N(u"Lim"), &NS_A, 0, 0), VV_EFI_SUCCESS);
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Lim"), &NS_A, BSRT, NULL, 0), VV_EFI_SUCCESS);
	CHECK(vv_store_find(f.s, N(u"Lim"), &NS_A) == NULL);
	/* APPEND with no data is not a delete: MinSize applies. */
	CHECK_STATUS(vv_policy_check(f.p, N(u"Lim"), &NS_A, BSRT | VV_ATTR_APPEND, 0),
		     VV_EFI_INVALID_PARAMETER);
	/* A variable no entry matches is not affected. */
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Other"), &NS_A, VV_ATTR_BS, d, 8),
		     VV_EFI_SUCCESS);
	fixture_fini(&f);
}

static void
test_lock_now(void)
{
	struct fixture f;
	struct ent e = basic(&NS_A, "Locked", VV_POLICY_LOCK_NOW);
	uint8_t d1 = 1, d2 = 2;
	const struct vv_variable *v;

	fixture_init(&f, NULL, NULL);
	REQUIRE(reg(f.p, &e) == VV_EFI_SUCCESS);
	/* Not before EndOfDxe. */
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Locked"), &NS_A, BSRT, &d1, 1),
		     VV_EFI_SUCCESS);
	vv_store_signal(f.s, VV_EVENT_END_OF_DXE);
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Locked"), &NS_A, BSRT, &d2, 1),
		     VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Locked"), &NS_A, BSRT, NULL, 0),
		     VV_EFI_WRITE_PROTECTED);                   /* deletes are lock-checked */
	v = vv_store_find(f.s, N(u"Locked"), &NS_A);
	REQUIRE(v != NULL);
	CHECK_EQ(v->data[0], 1);
	/* The host owner is trusted (store.h). */
	CHECK_STATUS(set_var(f.s, VV_CALLER_HOST, N(u"Locked"), &NS_A, BSRT, &d2, 1),
		     VV_EFI_SUCCESS);
	v = vv_store_find(f.s, N(u"Locked"), &NS_A);
	REQUIRE(v != NULL);
	CHECK_EQ(v->data[0], 2);
	/* A variable that does not exist yet cannot be created either. */
	{
		struct ent w = basic(&NS_B, "New#", VV_POLICY_LOCK_NOW);

		vv_store_signal(f.s, VV_EVENT_RESET);
		REQUIRE(reg(f.p, &w) == VV_EFI_SUCCESS);
		vv_store_signal(f.s, VV_EVENT_END_OF_DXE);
		CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"New7"), &NS_B, BSRT, &d1, 1),
			     VV_EFI_WRITE_PROTECTED);
		CHECK(vv_store_find(f.s, N(u"New7"), &NS_B) == NULL);
		CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"NewX"), &NS_B, BSRT, &d1, 1),
			     VV_EFI_SUCCESS);
	}
	fixture_fini(&f);
}

static void
test_lock_on_create(void)
{
	struct fixture f;
	struct ent e = basic(&NS_A, "Once", VV_POLICY_LOCK_ON_CREATE);
	uint8_t d1 = 1, d2 = 2;
	const struct vv_variable *v;

	fixture_init(&f, NULL, NULL);
	REQUIRE(reg(f.p, &e) == VV_EFI_SUCCESS);
	/* Before EndOfDxe: create, update and delete all pass. */
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Once"), &NS_A, BSRT, &d1, 1), VV_EFI_SUCCESS);
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Once"), &NS_A, BSRT, &d2, 1), VV_EFI_SUCCESS);
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Once"), &NS_A, BSRT, NULL, 0), VV_EFI_SUCCESS);
	vv_store_signal(f.s, VV_EVENT_END_OF_DXE);
	CHECK_STATUS(vv_policy_check(f.p, N(u"Once"), &NS_A, BSRT, 1), VV_EFI_SUCCESS);
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Once"), &NS_A, BSRT, &d1, 1), VV_EFI_SUCCESS);
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Once"), &NS_A, BSRT, &d2, 1),
		     VV_EFI_WRITE_PROTECTED);
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Once"), &NS_A, BSRT, NULL, 0),
		     VV_EFI_WRITE_PROTECTED);
	v = vv_store_find(f.s, N(u"Once"), &NS_A);
	REQUIRE(v != NULL);
	CHECK_EQ(v->data[0], 1);
	fixture_fini(&f);
}

static void
test_lock_on_var_state(void)
{
	struct fixture f;
	struct ent e = basic(&NS_A, "Guarded", VV_POLICY_LOCK_ON_VAR_STATE);
	uint8_t buf[256], one = 1, two = 2, pair[2] = { 1, 0 }, d = 9;
	size_t n;

	e.state_ns = &NS_B;
	e.state_value = 1;
	e.state_name = "Ctl";
	n = build(buf, &e);
	/* The packed layout: the controlling name starts at 62 (18-byte
	 * block), not at 64 as QEMU reads it. */
	CHECK_EQ(vv_le16(buf + 6), 70);
	CHECK_EQ(vv_le16(buf + 62), 'C');
	CHECK_EQ(buf[60], 1);

	fixture_init(&f, NULL, NULL);
	REQUIRE(vv_policy_register(f.p, buf, n) == VV_EFI_SUCCESS);
	/* Controlling variable present but before EndOfDxe: not enforced. */
	REQUIRE(set_var(f.s, VV_CALLER_HOST, N(u"Ctl"), &NS_B, BSRT, &one, 1) == VV_EFI_SUCCESS);
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Guarded"), &NS_A, BSRT, &d, 1), VV_EFI_SUCCESS);
	vv_store_signal(f.s, VV_EVENT_END_OF_DXE);
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Guarded"), &NS_A, BSRT, &d, 1),
		     VV_EFI_WRITE_PROTECTED);
	CHECK(strcmp(vv_store_last_refusal(f.s), "locked by a variable policy while Ctl is 1 "
		     "(LOCK_ON_VAR_STATE)") == 0);
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Guarded"), &NS_A, BSRT, NULL, 0),
		     VV_EFI_WRITE_PROTECTED);
	/* Other value: unlocked. */
	REQUIRE(set_var(f.s, VV_CALLER_GUEST, N(u"Ctl"), &NS_B, BSRT, &two, 1) == VV_EFI_SUCCESS);
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Guarded"), &NS_A, BSRT, &d, 1), VV_EFI_SUCCESS);
	/* Right first byte but DataSize 2: unlocked. */
	REQUIRE(set_var(f.s, VV_CALLER_GUEST, N(u"Ctl"), &NS_B, BSRT, pair, 2) == VV_EFI_SUCCESS);
	CHECK_STATUS(vv_policy_check(f.p, N(u"Guarded"), &NS_A, BSRT, 1), VV_EFI_SUCCESS);
	/* Same name in another namespace does not count. */
	REQUIRE(set_var(f.s, VV_CALLER_GUEST, N(u"Ctl"), &NS_A, BSRT, &one, 1) == VV_EFI_SUCCESS);
	CHECK_STATUS(vv_policy_check(f.p, N(u"Guarded"), &NS_A, BSRT, 1), VV_EFI_SUCCESS);
	/* Back to 1: locked again; then controlling variable deleted: free. */
	REQUIRE(set_var(f.s, VV_CALLER_GUEST, N(u"Ctl"), &NS_B, BSRT, NULL, 0) == VV_EFI_SUCCESS);
	REQUIRE(set_var(f.s, VV_CALLER_GUEST, N(u"Ctl"), &NS_B, BSRT, &one, 1) == VV_EFI_SUCCESS);
	CHECK_STATUS(vv_policy_check(f.p, N(u"Guarded"), &NS_A, BSRT, 1), VV_EFI_WRITE_PROTECTED);
	REQUIRE(set_var(f.s, VV_CALLER_GUEST, N(u"Ctl"), &NS_B, BSRT, NULL, 0) == VV_EFI_SUCCESS);
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Guarded"), &NS_A, BSRT, NULL, 0),
		     VV_EFI_SUCCESS);
	fixture_fini(&f);
}

static void
test_quota(void)
{
	struct fixture f;
	struct vv_limits lim;
	struct vv_policy_config cfg = { .allow_disable = false, .max_entries = 1000 };
	uint64_t max, rem, maxvar;
	char name[16];
	size_t i, n = 0;
	vv_status st = VV_EFI_SUCCESS;
	uint8_t d = 1;

	vv_limits_default(&lim);
	lim.volatile_storage = 4096;
	fixture_init(&f, &cfg, &lim);
	for (i = 0; i < 1000; i++) {
		struct ent e = basic(&NS_A, name, VV_POLICY_NO_LOCK);

		snprintf(name, sizeof(name), "P%04zu", i);     /* 44 + 12 = 56 bytes */
		st = reg(f.p, &e);
		if (st != VV_EFI_SUCCESS)
			break;
		n++;
	}
	CHECK_STATUS(st, VV_EFI_OUT_OF_RESOURCES);
	CHECK_EQ(n, 4096 / 56);
	CHECK_EQ(vv_policy_count(f.p), n);
	REQUIRE(vv_store_query(f.s, BSRT, &max, &rem, &maxvar) == VV_EFI_SUCCESS);
	CHECK_EQ(rem, 4096 - n * 56);
	/* The reservation leaves no room for a volatile variable either. */
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Vol"), &NS_B, BSRT, &d, 1),
		     VV_EFI_OUT_OF_RESOURCES);
	/* A reset gives it all back. */
	vv_store_signal(f.s, VV_EVENT_RESET);
	REQUIRE(vv_store_query(f.s, BSRT, &max, &rem, &maxvar) == VV_EFI_SUCCESS);
	CHECK_EQ(rem, 4096);
	CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"Vol"), &NS_B, BSRT, &d, 1), VV_EFI_SUCCESS);
	fixture_fini(&f);

	/* max_entries bounds the table on top of the quota. */
	cfg.max_entries = 2;
	fixture_init(&f, &cfg, NULL);
	{
		struct ent a = basic(&NS_A, "A", VV_POLICY_NO_LOCK);
		struct ent b = basic(&NS_A, "B", VV_POLICY_NO_LOCK);
		struct ent c = basic(&NS_A, "C", VV_POLICY_NO_LOCK);

		CHECK_STATUS(reg(f.p, &a), VV_EFI_SUCCESS);
		CHECK_STATUS(reg(f.p, &b), VV_EFI_SUCCESS);
		CHECK_STATUS(reg(f.p, &c), VV_EFI_OUT_OF_RESOURCES);
		CHECK_STATUS(reg(f.p, &a), VV_EFI_ALREADY_STARTED);  /* duplicate first */
		CHECK_EQ(vv_policy_count(f.p), 2);
	}
	fixture_fini(&f);
}

static void
test_lock_variable(void)
{
	struct fixture f;
	struct ent e = basic(&NS_A, "Plain", VV_POLICY_NO_LOCK);
	uint8_t fixed[44], name[64];
	size_t ns = sizeof(name);

	fixture_init(&f, NULL, NULL);
	CHECK_STATUS(vv_policy_lock_variable(f.p, N(u"Var"), &NS_A), VV_EFI_SUCCESS);
	CHECK_EQ(vv_policy_count(f.p), 1);
	CHECK_STATUS(vv_policy_get_info(f.p, N(u"Var"), &NS_A, fixed, name, &ns), VV_EFI_SUCCESS);
	CHECK_EQ(vv_le32(fixed + 0), VV_POLICY_ENTRY_REVISION);
	CHECK_EQ(vv_le16(fixed + 4), 52);
	CHECK_EQ(vv_le16(fixed + 6), 44);
	CHECK_MEM(fixed + 8, NS_A.b, 16);
	CHECK_EQ(vv_le32(fixed + 24), 0);
	CHECK_EQ(vv_le32(fixed + 28), VV_POLICY_NO_MAX_SIZE);
	CHECK_EQ(vv_le32(fixed + 32), 0);
	CHECK_EQ(vv_le32(fixed + 36), 0);
	CHECK_EQ(fixed[40], VV_POLICY_LOCK_NOW);
	CHECK_EQ(ns, 8);
	CHECK_MEM(name, "V\0a\0r\0\0\0", 8);
	/* Locking again is fine; an entry of another kind is not replaced. */
	CHECK_STATUS(vv_policy_lock_variable(f.p, N(u"Var"), &NS_A), VV_EFI_SUCCESS);
	REQUIRE(reg(f.p, &e) == VV_EFI_SUCCESS);
	CHECK_STATUS(vv_policy_lock_variable(f.p, N(u"Plain"), &NS_A), VV_EFI_ALREADY_STARTED);
	CHECK_STATUS(vv_policy_lock_variable(f.p, (const uint16_t *)u"", 0, &NS_A),
		     VV_EFI_INVALID_PARAMETER);
	CHECK_STATUS(vv_policy_lock_variable(f.p, (const uint16_t *)u"\xD800", 1, &NS_A),
		     VV_EFI_INVALID_PARAMETER);
	CHECK_EQ(vv_policy_count(f.p), 2);
	vv_store_signal(f.s, VV_EVENT_END_OF_DXE);
	CHECK_STATUS(vv_policy_lock_variable(f.p, N(u"Late"), &NS_A), VV_EFI_ACCESS_DENIED);
	CHECK_EQ(vv_policy_count(f.p), 2);
	fixture_fini(&f);
}

static void
test_get_info_api(void)
{
	struct fixture f;
	struct ent nw = basic(&NS_B, NULL, VV_POLICY_LOCK_ON_CREATE);
	struct ent s3 = basic(&NS_A, "State", VV_POLICY_LOCK_ON_VAR_STATE);
	uint8_t fixed[44], lock[18], out[64], raw[256];
	size_t ns, n;

	s3.state_ns = &NS_B;
	s3.state_value = 0x5a;
	s3.state_name = "Ctl";
	n = build(raw, &s3);
	fixture_init(&f, NULL, NULL);
	REQUIRE(reg(f.p, &nw) == VV_EFI_SUCCESS);
	REQUIRE(vv_policy_register(f.p, raw, n) == VV_EFI_SUCCESS);

	/* Namespace-wide: no name. */
	ns = sizeof(out);
	CHECK_STATUS(vv_policy_get_info(f.p, N(u"Any"), &NS_B, fixed, out, &ns), VV_EFI_SUCCESS);
	CHECK_EQ(ns, 0);
	CHECK_EQ(fixed[40], VV_POLICY_LOCK_ON_CREATE);
	/* Name that does not fit. */
	ns = 11;
	CHECK_STATUS(vv_policy_get_info(f.p, N(u"State"), &NS_A, fixed, out, &ns),
		     VV_EFI_BUFFER_TOO_SMALL);
	CHECK_EQ(ns, 12);
	CHECK_MEM(fixed, raw, 44);
	ns = 12;
	CHECK_STATUS(vv_policy_get_info(f.p, N(u"State"), &NS_A, fixed, out, &ns), VV_EFI_SUCCESS);
	CHECK_MEM(out, raw + 70, 12);
	CHECK_STATUS(vv_policy_get_info(f.p, N(u"State"), &VV_GUID_GLOBAL_VARIABLE, fixed, out, &ns),
		     VV_EFI_NOT_FOUND);
	/* Lock-on-var-state info. */
	ns = 7;
	CHECK_STATUS(vv_policy_get_lock_var_state_info(f.p, N(u"State"), &NS_A, lock, out, &ns),
		     VV_EFI_BUFFER_TOO_SMALL);
	CHECK_EQ(ns, 8);
	ns = 8;
	CHECK_STATUS(vv_policy_get_lock_var_state_info(f.p, N(u"State"), &NS_A, lock, out, &ns),
		     VV_EFI_SUCCESS);
	CHECK_MEM(lock, raw + 44, 18);
	CHECK_EQ(lock[16], 0x5a);
	CHECK_MEM(out, "C\0t\0l\0\0\0", 8);
	ns = 8;
	CHECK_STATUS(vv_policy_get_lock_var_state_info(f.p, N(u"Any"), &NS_B, lock, out, &ns),
		     VV_EFI_NOT_FOUND);                         /* best match is type 2 */
	fixture_fini(&f);
}

/* ---- MM protocol, byte for byte ---- */

static uint8_t mmbuf[VV_MM_MAX_BUFFER];

#define MSG       24          /* the message starts after the MM header */
#define RESULT    (MSG + 12)
#define PRM       (MSG + 20)  /* command parameters */
#define POISON    0xA5A5A5A5A5A5A5A5ULL

/* Builds one policy request: the message area [24, 24 + msg_len) is
 * filled with `fill`, then header and parameters are written; Result is
 * poisoned so that an unwritten Result shows. */
static void
mm_build(uint64_t msg_len, uint32_t sig, uint32_t rev, uint32_t cmd, const void *params,
	 size_t plen, uint8_t fill)
{
	memset(mmbuf, 0, sizeof(mmbuf));
	memcpy(mmbuf, VV_GUID_VAR_CHECK_POLICY_MMI.b, 16);
	vv_put_le64(mmbuf + 16, msg_len);
	memset(mmbuf + MSG, fill, (size_t)msg_len);
	if (msg_len >= 20) {
		vv_put_le32(mmbuf + MSG + 0, sig);
		vv_put_le32(mmbuf + MSG + 4, rev);
		vv_put_le32(mmbuf + MSG + 8, cmd);
		vv_put_le64(mmbuf + RESULT, POISON);
	}
	if (plen > 0)
		memcpy(mmbuf + PRM, params, plen);
}

static uint16_t
mm_cmd(struct vv_mm *mm, uint64_t msg_len, uint32_t cmd, const void *params, size_t plen)
{
	mm_build(msg_len, VV_POLICY_COMM_SIGNATURE, VV_POLICY_COMM_REVISION, cmd, params, plen, 0);
	return vv_mm_handle(mm, mmbuf, sizeof(mmbuf));
}

static vv_status
mm_result(void)
{
	return vv_le64(mmbuf + RESULT);
}

/* The edk2 DXE side always sends the whole 16 KiB buffer. */
#define FULL_MSG 16360u

static void
test_mm_header(void)
{
	struct fixture f;
	struct vv_mm *mm, *bare;
	uint8_t copy[64];

	fixture_init(&f, NULL, NULL);
	mm = vv_mm_new(f.s, f.p);
	bare = vv_mm_new(f.s, NULL);
	REQUIRE(mm != NULL && bare != NULL);

	/* Sub-header does not fit: transport error, nothing written. */
	mm_build(19, 0, 0, 0, NULL, 0, 0x77);
	memcpy(copy, mmbuf, sizeof(copy));
	CHECK_EQ(vv_mm_handle(mm, mmbuf, sizeof(mmbuf)), VV_STS_ERR_BAD_BUFFER_SIZE);
	CHECK_MEM(mmbuf, copy, sizeof(copy));
	CHECK_EQ(vv_mm_stats(mm)->policy_commands, 0);

	/* Wrong signature / revision. */
	mm_build(FULL_MSG, 0x43504357, 1, VV_POLICY_CMD_LOCK, NULL, 0, 0);
	CHECK_EQ(vv_mm_handle(mm, mmbuf, sizeof(mmbuf)), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_INVALID_PARAMETER);
	mm_build(FULL_MSG, VV_POLICY_COMM_SIGNATURE, 2, VV_POLICY_CMD_LOCK, NULL, 0, 0);
	CHECK_EQ(vv_mm_handle(mm, mmbuf, sizeof(mmbuf)), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_INVALID_PARAMETER);
	CHECK(!vv_policy_locked(f.p));                          /* not executed */

	/* Unknown commands. */
	CHECK_EQ(mm_cmd(mm, 20, 0, NULL, 0), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_UNSUPPORTED);
	CHECK_EQ(mm_cmd(mm, 20, 8, NULL, 0), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_UNSUPPORTED);
	CHECK_EQ(mm_cmd(mm, 20, 0xffffffffu, NULL, 0), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_UNSUPPORTED);

	/* No engine: every command is unsupported. */
	for (uint32_t c = 1; c <= 7; c++) {
		CHECK_EQ(mm_cmd(bare, FULL_MSG, c, NULL, 0), VV_STS_SUCCESS);
		CHECK_STATUS(mm_result(), VV_EFI_UNSUPPORTED);
	}
	CHECK_EQ(vv_mm_stats(mm)->policy_commands, 5);

	/* The MessageLength in the reply is never changed. */
	CHECK_EQ(vv_le64(mmbuf + 16), FULL_MSG);
	vv_mm_free(bare);
	vv_mm_free(mm);
	fixture_fini(&f);
}

static void
test_mm_simple_commands(void)
{
	struct fixture f;
	struct vv_policy_config cfg = { .allow_disable = true, .max_entries = 16 };
	struct vv_mm *mm;
	uint8_t entry[256];
	struct ent e = basic(&NS_A, "Foo", VV_POLICY_LOCK_NOW);
	size_t n = build(entry, &e);

	fixture_init(&f, &cfg, NULL);
	mm = vv_mm_new(f.s, f.p);
	REQUIRE(mm != NULL);

	/* IS_ENABLED needs its one byte. */
	CHECK_EQ(mm_cmd(mm, 20, VV_POLICY_CMD_IS_ENABLED, NULL, 0), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_INVALID_PARAMETER);
	mm_build(21, VV_POLICY_COMM_SIGNATURE, 1, VV_POLICY_CMD_IS_ENABLED, NULL, 0, 0x77);
	CHECK_EQ(vv_mm_handle(mm, mmbuf, sizeof(mmbuf)), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_SUCCESS);
	CHECK_EQ(mmbuf[PRM], 1);
	CHECK_EQ(mmbuf[PRM + 1], 0);                            /* past msg_len: untouched */

	/* REGISTER: too short for the fixed part; Size beyond the message;
	 * wrong Version; good; duplicate. */
	CHECK_EQ(mm_cmd(mm, 20 + 43, VV_POLICY_CMD_REGISTER, entry, 43), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_INVALID_PARAMETER);
	CHECK_EQ(mm_cmd(mm, 20 + n - 1, VV_POLICY_CMD_REGISTER, entry, n - 1), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_INVALID_PARAMETER);
	entry[2] = 2;
	CHECK_EQ(mm_cmd(mm, 20 + n, VV_POLICY_CMD_REGISTER, entry, n), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_INVALID_PARAMETER);
	entry[2] = 1;
	CHECK_EQ(vv_policy_count(f.p), 0);
	CHECK_EQ(mm_cmd(mm, 20 + n, VV_POLICY_CMD_REGISTER, entry, n), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_SUCCESS);
	CHECK_EQ(mm_cmd(mm, FULL_MSG, VV_POLICY_CMD_REGISTER, entry, n), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_ALREADY_STARTED);
	CHECK_EQ(vv_policy_count(f.p), 1);

	/* DISABLE, then IS_ENABLED reports 0. */
	CHECK_EQ(mm_cmd(mm, 20, VV_POLICY_CMD_DISABLE, NULL, 0), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_SUCCESS);
	CHECK_EQ(mm_cmd(mm, 20, VV_POLICY_CMD_DISABLE, NULL, 0), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_ALREADY_STARTED);
	mm_build(21, VV_POLICY_COMM_SIGNATURE, 1, VV_POLICY_CMD_IS_ENABLED, NULL, 0, 0x77);
	CHECK_EQ(vv_mm_handle(mm, mmbuf, sizeof(mmbuf)), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_SUCCESS);
	CHECK_EQ(mmbuf[PRM], 0);

	/* LOCK, then REGISTER and LOCK are write-protected. */
	CHECK_EQ(mm_cmd(mm, 20, VV_POLICY_CMD_LOCK, NULL, 0), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_SUCCESS);
	CHECK(vv_policy_locked(f.p));
	CHECK_EQ(mm_cmd(mm, 20, VV_POLICY_CMD_LOCK, NULL, 0), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_WRITE_PROTECTED);
	e.name = "Bar";
	n = build(entry, &e);
	CHECK_EQ(mm_cmd(mm, FULL_MSG, VV_POLICY_CMD_REGISTER, entry, n), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_WRITE_PROTECTED);
	CHECK_EQ(vv_policy_count(f.p), 1);
	vv_mm_free(mm);
	fixture_fini(&f);

	/* Default config: DISABLE is write-protected. */
	fixture_init(&f, NULL, NULL);
	mm = vv_mm_new(f.s, f.p);
	REQUIRE(mm != NULL);
	CHECK_EQ(mm_cmd(mm, 20, VV_POLICY_CMD_DISABLE, NULL, 0), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_WRITE_PROTECTED);
	CHECK(vv_policy_enabled(f.p));
	vv_mm_free(mm);
	fixture_fini(&f);
}

static uint16_t
mm_dump(struct vv_mm *mm, uint64_t msg_len, uint32_t page)
{
	uint8_t p[4];

	vv_put_le32(p, page);
	mm_build(msg_len, VV_POLICY_COMM_SIGNATURE, 1, VV_POLICY_CMD_DUMP, p, 4, 0xcc);
	return vv_mm_handle(mm, mmbuf, sizeof(mmbuf));
}

static bool
all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

#define DUMP_DATA (PRM + 13)

static void
test_mm_dump(void)
{
	struct fixture f;
	struct vv_mm *mm;
	uint8_t *expect;
	size_t total, i;
	char name[128];

	fixture_init(&f, NULL, NULL);
	mm = vv_mm_new(f.s, f.p);
	REQUIRE(mm != NULL);

	/* Too short for the page area. */
	CHECK_EQ(mm_dump(mm, 20 + 13 + VV_POLICY_DUMP_PAGE_SIZE - 1, 0), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_INVALID_PARAMETER);
	/* Empty table: page 0 says so, there is nothing to page through. */
	CHECK_EQ(mm_dump(mm, FULL_MSG, 0), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_SUCCESS);
	CHECK_EQ(vv_le32(mmbuf + PRM + 4), 0);
	CHECK_EQ(vv_le32(mmbuf + PRM + 8), 0);
	CHECK_EQ(mmbuf[PRM + 12], 0);
	CHECK(all_bytes(mmbuf + DUMP_DATA, VV_POLICY_DUMP_PAGE_SIZE, 0));
	/* edk2: a page > 0 with no snapshot is EFI_TIMEOUT. */
	CHECK_EQ(mm_dump(mm, FULL_MSG, 1), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_TIMEOUT);
	CHECK_EQ(vv_le32(mmbuf + PRM + 4), 0);

	/* 80 entries of 44 + 2 * 104 = 252 bytes: 20160 bytes, two pages. */
	memset(name, 'N', 103);
	name[103] = '\0';
	for (i = 0; i < 80; i++) {
		struct ent e = basic(&NS_A, name, VV_POLICY_NO_LOCK);

		name[0] = (char)('0' + i / 10);
		name[1] = (char)('0' + i % 10);
		REQUIRE(reg(f.p, &e) == VV_EFI_SUCCESS);
	}
	total = dump_size(f.p);
	CHECK_EQ(total, 80 * 252);
	expect = malloc(total);
	REQUIRE(expect != NULL);
	REQUIRE(vv_policy_dump(f.p, expect, &total) == VV_EFI_SUCCESS);

	CHECK_EQ(mm_dump(mm, FULL_MSG, 0), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_SUCCESS);
	CHECK_EQ(vv_le32(mmbuf + PRM + 0), 0);
	CHECK_EQ(vv_le32(mmbuf + PRM + 4), total);
	CHECK_EQ(vv_le32(mmbuf + PRM + 8), 0);
	CHECK_EQ(mmbuf[PRM + 12], 1);

	/* A snapshot: registering now does not change the pages. */
	{
		struct ent late = basic(&NS_B, "Late", VV_POLICY_NO_LOCK);

		REQUIRE(reg(f.p, &late) == VV_EFI_SUCCESS);
	}
	CHECK_EQ(mm_dump(mm, FULL_MSG, 1), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_SUCCESS);
	CHECK_EQ(vv_le32(mmbuf + PRM + 0), 1);
	CHECK_EQ(vv_le32(mmbuf + PRM + 4), total);
	CHECK_EQ(vv_le32(mmbuf + PRM + 8), VV_POLICY_DUMP_PAGE_SIZE);
	CHECK_EQ(mmbuf[PRM + 12], 1);
	CHECK_MEM(mmbuf + DUMP_DATA, expect, VV_POLICY_DUMP_PAGE_SIZE);
	/* Pages can be re-read while the snapshot lives. */
	CHECK_EQ(mm_dump(mm, FULL_MSG, 1), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_SUCCESS);
	/* Beyond the last page. */
	CHECK_EQ(mm_dump(mm, FULL_MSG, 3), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_INVALID_PARAMETER);
	CHECK_EQ(mm_dump(mm, FULL_MSG, 0xffffffffu), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_INVALID_PARAMETER);
	/* Last page: the rest, HasMore 0, the page area after it zeroed. */
	CHECK_EQ(mm_dump(mm, FULL_MSG, 2), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_SUCCESS);
	CHECK_EQ(vv_le32(mmbuf + PRM + 4), total);
	CHECK_EQ(vv_le32(mmbuf + PRM + 8), total - VV_POLICY_DUMP_PAGE_SIZE);
	CHECK_EQ(mmbuf[PRM + 12], 0);
	CHECK_MEM(mmbuf + DUMP_DATA, expect + VV_POLICY_DUMP_PAGE_SIZE,
		  total - VV_POLICY_DUMP_PAGE_SIZE);
	CHECK(all_bytes(mmbuf + DUMP_DATA + (total - VV_POLICY_DUMP_PAGE_SIZE),
			VV_POLICY_DUMP_PAGE_SIZE - (total - VV_POLICY_DUMP_PAGE_SIZE), 0));
	/* The snapshot was freed with the last page. */
	CHECK_EQ(mm_dump(mm, FULL_MSG, 1), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_TIMEOUT);

	/* Any other command ends a dump in progress (edk2). */
	CHECK_EQ(mm_dump(mm, FULL_MSG, 0), VV_STS_SUCCESS);
	CHECK_EQ(vv_le32(mmbuf + PRM + 4), total + 54);          /* now with "Late" */
	CHECK_EQ(mm_cmd(mm, 21, VV_POLICY_CMD_IS_ENABLED, NULL, 0), VV_STS_SUCCESS);
	CHECK_EQ(mm_dump(mm, FULL_MSG, 1), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_TIMEOUT);
	free(expect);
	vv_mm_free(mm);
	fixture_fini(&f);
}

/* GET_INFO parameters (device-abi §8.3), relative to PRM. */
#define GI_GUID     0
#define GI_IN_SIZE  16
#define GI_OUT_SIZE 20
#define GI_UNION    24
#define GI_NAME     68

static uint16_t
mm_get_info(struct vv_mm *mm, uint64_t msg_len, uint32_t cmd, const vv_guid *g,
	    const char *name, uint32_t in_size, uint32_t out_size)
{
	uint8_t p[GI_NAME + 512];
	size_t nb;

	memset(p, 0x5c, sizeof(p));             /* garbage in the union */
	memcpy(p + GI_GUID, g->b, 16);
	nb = put_ascii(p + GI_NAME, name);
	vv_put_le32(p + GI_IN_SIZE, in_size ? in_size : (uint32_t)nb);
	vv_put_le32(p + GI_OUT_SIZE, out_size);
	mm_build(msg_len, VV_POLICY_COMM_SIGNATURE, 1, cmd, p, GI_NAME + nb, 0x33);
	return vv_mm_handle(mm, mmbuf, sizeof(mmbuf));
}

static void
test_mm_get_info(void)
{
	struct fixture f;
	struct vv_mm *mm;
	struct ent w = basic(&NS_A, "Var####", VV_POLICY_LOCK_NOW);
	struct ent nw = basic(&NS_B, NULL, VV_POLICY_NO_LOCK);
	struct ent s3 = basic(&NS_A, "State", VV_POLICY_LOCK_ON_VAR_STATE);
	uint8_t raw_w[256], raw_s3[256], zero[44] = { 0 };
	const size_t out_at = PRM + GI_NAME + 16;   /* after "Var0001\0" */

	s3.state_ns = &NS_B;
	s3.state_value = 7;
	s3.state_name = "Control";
	build(raw_w, &w);
	build(raw_s3, &s3);
	fixture_init(&f, NULL, NULL);
	mm = vv_mm_new(f.s, f.p);
	REQUIRE(mm != NULL);
	REQUIRE(reg(f.p, &w) == VV_EFI_SUCCESS);
	REQUIRE(reg(f.p, &nw) == VV_EFI_SUCCESS);
	REQUIRE(reg(f.p, &s3) == VV_EFI_SUCCESS);

	/* Too short for the parameter block. */
	CHECK_EQ(mm_get_info(mm, 20 + 67, VV_POLICY_CMD_GET_INFO, &NS_A, "", 2, 0), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_INVALID_PARAMETER);
	/* Input name beyond the message. */
	CHECK_EQ(mm_get_info(mm, 20 + 68 + 15, VV_POLICY_CMD_GET_INFO, &NS_A, "Var0001", 0, 0),
		 VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_INVALID_PARAMETER);
	CHECK_EQ(mm_get_info(mm, FULL_MSG, VV_POLICY_CMD_GET_INFO, &NS_A, "Var0001", 0xfffffff0u, 0),
		 VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_INVALID_PARAMETER);
	/* No NUL inside InputVariableNameSize. */
	CHECK_EQ(mm_get_info(mm, FULL_MSG, VV_POLICY_CMD_GET_INFO, &NS_A, "Var0001", 14, 0),
		 VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_INVALID_PARAMETER);
	CHECK_EQ(mm_get_info(mm, FULL_MSG, VV_POLICY_CMD_GET_INFO, &NS_A, "Var0001", 1, 0),
		 VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_INVALID_PARAMETER);

	/* Output area too small: BUFFER_TOO_SMALL, needed size, fixed part. */
	CHECK_EQ(mm_get_info(mm, FULL_MSG, VV_POLICY_CMD_GET_INFO, &NS_A, "Var0001", 0, 15),
		 VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_BUFFER_TOO_SMALL);
	CHECK_EQ(vv_le32(mmbuf + PRM + GI_OUT_SIZE), 16);
	CHECK_MEM(mmbuf + PRM + GI_UNION, raw_w, 44);
	CHECK_EQ(vv_le32(mmbuf + PRM + GI_IN_SIZE), 16);        /* input untouched */
	/* Large OutputVariableNameSize but the message ends first. */
	CHECK_EQ(mm_get_info(mm, 20 + 68 + 16 + 10, VV_POLICY_CMD_GET_INFO, &NS_A, "Var0001", 0,
			     4096), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_BUFFER_TOO_SMALL);
	CHECK_EQ(vv_le32(mmbuf + PRM + GI_OUT_SIZE), 16);
	CHECK(all_bytes(mmbuf + out_at + 10, 16, 0));           /* past msg_len: untouched */
	/* Success: the policy's name (with its '#'), its size. */
	CHECK_EQ(mm_get_info(mm, FULL_MSG, VV_POLICY_CMD_GET_INFO, &NS_A, "Var0001", 0, 100),
		 VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_SUCCESS);
	CHECK_EQ(vv_le32(mmbuf + PRM + GI_OUT_SIZE), 16);
	CHECK_MEM(mmbuf + PRM + GI_UNION, raw_w, 44);
	CHECK_MEM(mmbuf + out_at, raw_w + 44, 16);
	CHECK(all_bytes(mmbuf + out_at + 16, 100 - 16, 0));    /* rest of the area zeroed */
	CHECK_EQ(mmbuf[out_at + 100], 0x33);                    /* beyond the cap: untouched */
	/* No match: NOT_FOUND, union zeroed, OutputVariableNameSize as sent. */
	CHECK_EQ(mm_get_info(mm, FULL_MSG, VV_POLICY_CMD_GET_INFO, &NS_A, "Nope", 0, 100),
		 VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_NOT_FOUND);
	CHECK_MEM(mmbuf + PRM + GI_UNION, zero, 44);
	CHECK_EQ(vv_le32(mmbuf + PRM + GI_OUT_SIZE), 100);
	/* Namespace-wide: SUCCESS, size 0, the whole output area NUL. */
	CHECK_EQ(mm_get_info(mm, FULL_MSG, VV_POLICY_CMD_GET_INFO, &NS_B, "Anything", 0, 100),
		 VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_SUCCESS);
	CHECK_EQ(vv_le32(mmbuf + PRM + GI_OUT_SIZE), 0);
	CHECK_EQ(mmbuf[PRM + GI_UNION + 40], VV_POLICY_NO_LOCK);
	CHECK_EQ(vv_le16(mmbuf + PRM + GI_UNION + 4), 44);
	CHECK(all_bytes(mmbuf + PRM + GI_NAME + 18, FULL_MSG - 20 - GI_NAME - 18, 0));

	/* GET_LOCK_VAR_STATE_INFO: the 18-byte block, the rest of the union
	 * zero, the controlling name. */
	CHECK_EQ(mm_get_info(mm, FULL_MSG, VV_POLICY_CMD_GET_LOCK_VAR_STATE_INFO, &NS_A, "State",
			     0, 15), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_BUFFER_TOO_SMALL);
	CHECK_EQ(vv_le32(mmbuf + PRM + GI_OUT_SIZE), 16);
	CHECK_MEM(mmbuf + PRM + GI_UNION, raw_s3 + 44, 18);
	CHECK_MEM(mmbuf + PRM + GI_UNION + 18, zero, 26);
	CHECK_EQ(mm_get_info(mm, FULL_MSG, VV_POLICY_CMD_GET_LOCK_VAR_STATE_INFO, &NS_A, "State",
			     0, 16), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_SUCCESS);
	CHECK_EQ(vv_le32(mmbuf + PRM + GI_OUT_SIZE), 16);
	CHECK_MEM(mmbuf + PRM + GI_UNION, raw_s3 + 44, 18);
	CHECK_EQ(mmbuf[PRM + GI_UNION + 16], 7);
	CHECK_MEM(mmbuf + PRM + GI_UNION + 18, zero, 26);
	CHECK_MEM(mmbuf + PRM + GI_NAME + 12, raw_s3 + 62, 16);
	/* Best match is not LOCK_ON_VAR_STATE: NOT_FOUND. */
	CHECK_EQ(mm_get_info(mm, FULL_MSG, VV_POLICY_CMD_GET_LOCK_VAR_STATE_INFO, &NS_A, "Var0001",
			     0, 100), VV_STS_SUCCESS);
	CHECK_STATUS(mm_result(), VV_EFI_NOT_FOUND);
	CHECK_MEM(mmbuf + PRM + GI_UNION, zero, 44);
	vv_mm_free(mm);
	fixture_fini(&f);
}

/* ---- the recorded OVMF boot ---- */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the "request" hex of one JSONL line into out; returns the byte
 * count, or 0 if the line has none. */
static size_t
decode_request(const char *line, uint8_t *out, size_t cap)
{
	const char *p = strstr(line, "\"request\": \"");
	size_t n = 0;

	if (p == NULL)
		return 0;
	for (p += 12; hexval(p[0]) >= 0 && hexval(p[1]) >= 0 && n < cap; p += 2)
		out[n++] = (uint8_t)(hexval(p[0]) << 4 | hexval(p[1]));
	return n;
}

static void
test_ovmf_registrations(void)
{
	const char *dir = vv_test_shared_data();
	char path[4096], *line = NULL;
	size_t cap = 0, n, found = 0;
	FILE *fp;
	struct fixture f;
	struct vv_mm *mm;
	static uint8_t req[VV_MM_MAX_BUFFER];

	if (dir == NULL)
		SKIP("shared data not found");
	snprintf(path, sizeof(path), "%s/ovmf-boot/requests.jsonl", dir);
	fp = fopen(path, "r");
	if (fp == NULL)
		SKIP("ovmf-boot/requests.jsonl not found");
	fixture_init(&f, NULL, NULL);
	mm = vv_mm_new(f.s, f.p);
	REQUIRE(mm != NULL);
	while (getline(&line, &cap, fp) > 0) {
		n = decode_request(line, req, sizeof(req));
		if (n < 24 || memcmp(req, VV_GUID_VAR_CHECK_POLICY_MMI.b, 16) != 0)
			continue;
		found++;
		CHECK_EQ(vv_le64(req + 16), FULL_MSG);
		CHECK_EQ(n, 24 + FULL_MSG);
		CHECK_EQ(vv_le32(req + MSG + 8), VV_POLICY_CMD_REGISTER);
		memset(mmbuf, 0, sizeof(mmbuf));
		memcpy(mmbuf, req, n);
		CHECK_EQ(vv_mm_handle(mm, mmbuf, sizeof(mmbuf)), VV_STS_SUCCESS);
		CHECK_STATUS(mm_result(), VV_EFI_SUCCESS);
		/* The rest of the reply is what the firmware sent. */
		CHECK_MEM(mmbuf + PRM, req + PRM, n - PRM);
	}
	free(line);
	fclose(fp);
	CHECK_EQ(found, 6);
	CHECK_EQ(vv_policy_count(f.p), 6);

	/* Six LOCK_NOW entries under EFI_GLOBAL_VARIABLE. */
	{
		const vv_guid *g = &VV_GUID_GLOBAL_VARIABLE;

		CHECK_STATUS(vv_policy_check(f.p, N(u"PlatformLangCodes"), g, BSRT, 4),
			     VV_EFI_WRITE_PROTECTED);
		CHECK_STATUS(vv_policy_check(f.p, N(u"LangCodes"), g, BSRT, 4), VV_EFI_WRITE_PROTECTED);
		CHECK_STATUS(vv_policy_check(f.p, N(u"BootOptionSupport"), g, BSRT, 4),
			     VV_EFI_WRITE_PROTECTED);
		CHECK_STATUS(vv_policy_check(f.p, N(u"HwErrRecSupport"), g, VV_ATTR_NV | BSRT, 2),
			     VV_EFI_WRITE_PROTECTED);
		CHECK_STATUS(vv_policy_check(f.p, N(u"OsIndicationsSupported"), g, BSRT, 8),
			     VV_EFI_WRITE_PROTECTED);
		CHECK_STATUS(vv_policy_check(f.p, N(u"PlatformRecovery0000"), g, VV_ATTR_NV | BSRT, 8),
			     VV_EFI_WRITE_PROTECTED);
		/* Not covered: no wildcard in these names. */
		CHECK_STATUS(vv_policy_check(f.p, N(u"PlatformRecovery0001"), g, VV_ATTR_NV | BSRT, 8),
			     VV_EFI_SUCCESS);
		CHECK_STATUS(vv_policy_check(f.p, N(u"PlatformLang"), g, VV_ATTR_NV | BSRT, 3),
			     VV_EFI_SUCCESS);
		CHECK_STATUS(vv_policy_check(f.p, N(u"LangCodes"), &NS_A, BSRT, 4), VV_EFI_SUCCESS);

		/* Through the store: written before EndOfDxe, locked after. */
		CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"LangCodes"), g, BSRT, "eng", 3),
			     VV_EFI_SUCCESS);
		vv_store_signal(f.s, VV_EVENT_END_OF_DXE);
		CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"LangCodes"), g, BSRT, "fra", 3),
			     VV_EFI_WRITE_PROTECTED);
		CHECK_STATUS(set_var(f.s, VV_CALLER_GUEST, N(u"LangCodes"), g, BSRT, NULL, 0),
			     VV_EFI_WRITE_PROTECTED);
		CHECK(vv_store_find(f.s, N(u"LangCodes"), g) != NULL);
	}
	/* The next boot registers the same six again. */
	vv_store_signal(f.s, VV_EVENT_RESET);
	CHECK_EQ(vv_policy_count(f.p), 0);
	vv_mm_free(mm);
	fixture_fini(&f);
}

static const struct vv_test tests[] = {
	TEST(test_register_basic),
	TEST(test_validity_rules),
	TEST(test_duplicates),
	TEST(test_lock_command),
	TEST(test_lock_at_end_of_dxe),
	TEST(test_reset_clears),
	TEST(test_disable),
	TEST(test_matching_priority),
	TEST(test_limits_enforced),
	TEST(test_lock_now),
	TEST(test_lock_on_create),
	TEST(test_lock_on_var_state),
	TEST(test_quota),
	TEST(test_lock_variable),
	TEST(test_get_info_api),
	TEST(test_mm_header),
	TEST(test_mm_simple_commands),
	TEST(test_mm_dump),
	TEST(test_mm_get_info),
	TEST(test_ovmf_registrations),
};

VV_TEST_MAIN(tests)
