/*
 * src/auth/secureboot.c -- Secure Boot rules on top of the store: which
 * authenticated writes are allowed (the key hierarchy, timestamps, private
 * authenticated variables), and the mode variables (setup / user / audit /
 * deployed).  See include/vmvars/secureboot.h for the mode table.
 *
 * Facts: varstore-formats §8.2 rows 21-24, §8.3 (APPEND), §8.4 (time-based
 * authentication), §8.5 (read-only variables), §8.6 (modes).  Where QEMU
 * and edk2 differ we follow edk2 and the specification, with these
 * choices (docs/secure-boot.md):
 *  - enrolling PK in setup or audit mode needs a self-signed PK (QEMU;
 *    edk2's PcdRequireSelfSignedPk), so a guest cannot install a PK it
 *    does not hold the key of;
 *  - a timestamp must be strictly later than the stored one unless APPEND
 *    (edk2); with APPEND the stored time becomes the later of the two;
 *  - PK cannot be appended to (it holds one signature) and cannot be
 *    deleted by the guest in deployed mode;
 *  - SignatureSupport is edk2's list (SHA-1, SHA-256/384/512, RSA2048,
 *    X.509): it describes what the guest firmware's image verification
 *    supports.
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/secureboot.h>
#include <vmvars/ucs2.h>

#include "core/store_state.h"
#include "auth/auth2.h"
#include "auth/pkcs7.h"
#include "auth/siglist.h"
#include "core/store_state.h"

#define ATTR_SB_DB  (VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT | VV_ATTR_AT)   /* 0x27 */
#define ATTR_BS_RT  (VV_ATTR_BS | VV_ATTR_RT)
#define ATTR_NV_BS  (VV_ATTR_NV | VV_ATTR_BS)
#define ATTR_NV_BS_AT (VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_AT)   /* 0x23: edk2's VendorKeysNv */
#define MAX_ANCHORS 256

/* vmvars's own namespace: the persisted Audit/Deployed state. */
static const vv_guid VMVARS_STATE_GUID = { {
	0xc4, 0xc6, 0xa3, 0xd6, 0x5e, 0x5b, 0x63, 0x4d,
	0x9a, 0x3c, 0x7f, 0x1e, 0x0d, 0x4e, 0x2a, 0x10 } };  /* d6a3c6c4-5b5e-4d63-9a3c-7f1e0d4e2a10 */

/*
 * Decoded trust anchors kept between writes (pkcs7.h, struct vv_trust):
 * decoding a certificate costs several times verifying a signature, and
 * PK and KEK change far less often than db and dbx are written.
 * Invariant: a slot with a trust was built from PK (and, for the database
 * slot, KEK) holding exactly the bytes in pk / kek.  It is checked by
 * comparing those bytes on every use rather than by watching writes, so it
 * holds whatever changed the variables (guest, host enrollment, a load,
 * an undo after a failed save).
 */
struct trust_slot {
	uint8_t *pk, *kek;
	size_t pk_size, kek_size;
	struct vv_trust *trust;
};

enum { TRUST_PK, TRUST_PK_KEK, TRUST_SLOTS };

struct vv_secureboot {
	struct vv_store *store;
	struct vv_secureboot_config cfg;
	enum vv_sb_mode mode;
	struct trust_slot trust[TRUST_SLOTS];   /* [TRUST_PK]: PK and KEK writes; [TRUST_PK_KEK]: db */
	struct vv_x509_seen seen;               /* certificates already found valid */
};

/* Which rules a variable falls under. */
enum var_kind {
	KIND_OTHER,          /* ordinary, or a private authenticated variable */
	KIND_PK,
	KIND_KEK,
	KIND_DB,             /* db, dbx, dbt, dbr */
};

struct name {
	const uint16_t *s;
	size_t len;
};

#define NAME(lit) ((struct name){ (const uint16_t *)u"" lit, sizeof(u"" lit) / 2 - 1 })

static bool
name_eq(const uint16_t *n, size_t len, struct name want)
{
	return vv_ucs2_equal(n, len, want.s, want.len);
}

static enum var_kind
classify(const uint16_t *n, size_t len, const vv_guid *g)
{
	if (vv_guid_equal(g, &VV_GUID_GLOBAL_VARIABLE)) {
		if (name_eq(n, len, NAME("PK")))
			return KIND_PK;
		if (name_eq(n, len, NAME("KEK")))
			return KIND_KEK;
	} else if (vv_guid_equal(g, &VV_GUID_IMAGE_SECURITY_DB)) {
		if (name_eq(n, len, NAME("db")) || name_eq(n, len, NAME("dbx")) ||
		    name_eq(n, len, NAME("dbt")) || name_eq(n, len, NAME("dbr")))
			return KIND_DB;
	}
	return KIND_OTHER;
}

/* ------------------------------------------------------------------ */
/* Small store helpers                                                */
/* ------------------------------------------------------------------ */

static const struct vv_variable *
find(const struct vv_secureboot *sb, struct name n, const vv_guid *g)
{
	return vv_store_find(sb->store, n.s, n.len, g);
}

/*
 * The mode rules read variables through a lookup, so the same code judges
 * the live store and a state a restore would produce (sb_restore_check).
 */
static const struct vv_variable *
store_lookup(void *ctx, const uint16_t *name, size_t len, const vv_guid *g)
{
	return vv_store_find(ctx, name, len, g);
}

/* A 1-byte variable's value in a view, or -1 when absent or not 1 byte. */
static int
view_byte(vv_restore_lookup_fn lookup, void *lctx, struct name n, const vv_guid *g)
{
	const struct vv_variable *v = lookup(lctx, n.s, n.len, g);

	return v != NULL && v->data_size == 1 ? v->data[0] : -1;
}

/* A 1-byte variable's value, or -1 when absent or not 1 byte. */
static int
byte_value(const struct vv_secureboot *sb, struct name n, const vv_guid *g)
{
	return view_byte(store_lookup, sb->store, n, g);
}

/* Sets a 1-byte service variable unless it already holds that value. */
static void
put_byte(struct vv_secureboot *sb, struct name n, const vv_guid *g, uint32_t attr, uint8_t val)
{
	const struct vv_variable *v = find(sb, n, g);

	if (v != NULL && v->attributes == attr && v->data_size == 1 && v->data[0] == val)
		return;
	if (v != NULL && v->attributes != attr)
		vv_store_put(sb->store, n.s, n.len, g, v->attributes, NULL, 0, NULL);
	vv_store_put(sb->store, n.s, n.len, g, attr, &val, 1, NULL);
}

/* ------------------------------------------------------------------ */
/* Modes                                                              */
/* ------------------------------------------------------------------ */

static void
set_state_flag(struct vv_secureboot *sb, struct name n, bool on)
{
	if (on)
		put_byte(sb, n, &VMVARS_STATE_GUID, ATTR_NV_BS, 1);
	else if (find(sb, n, &VMVARS_STATE_GUID) != NULL)
		vv_store_put(sb->store, n.s, n.len, &VMVARS_STATE_GUID, ATTR_NV_BS, NULL, 0, NULL);
}

/* The mode PK and the persisted Audit/Deployed flags make (formats §8.6). */
static enum vv_sb_mode
mode_in(vv_restore_lookup_fn lookup, void *lctx)
{
	bool pk = lookup(lctx, NAME("PK").s, NAME("PK").len, &VV_GUID_GLOBAL_VARIABLE) != NULL;

	if (!pk)
		return view_byte(lookup, lctx, NAME("AuditMode"), &VMVARS_STATE_GUID) == 1 ?
			       VV_SB_AUDIT : VV_SB_SETUP;
	return view_byte(lookup, lctx, NAME("DeployedMode"), &VMVARS_STATE_GUID) == 1 ?
		       VV_SB_DEPLOYED : VV_SB_USER;
}

static enum vv_sb_mode
derive_mode(const struct vv_secureboot *sb)
{
	return mode_in(store_lookup, sb->store);
}

/* SecureBootEnable, 1 when forced or absent (edk2 defaults it to 1 once a
 * PK exists). */
static int
secure_boot_enable_in(const struct vv_secureboot *sb, vv_restore_lookup_fn lookup, void *lctx)
{
	int v;

	if (sb->cfg.force_secure_boot)
		return 1;
	v = view_byte(lookup, lctx, NAME("SecureBootEnable"), &VV_GUID_SECURE_BOOT_ENABLE);
	return v < 0 ? 1 : v;
}

static int
secure_boot_enable(const struct vv_secureboot *sb)
{
	return secure_boot_enable_in(sb, store_lookup, sb->store);
}

/* Whether firmware enforces signatures in mode m (SecureBoot = 1). */
static bool
enforcing(enum vv_sb_mode m, int secure_boot_enable_value)
{
	return m == VV_SB_DEPLOYED || (m == VV_SB_USER && secure_boot_enable_value == 1);
}

/* Publishes the mode variables (BS|RT, read-only to the guest) for the
 * current mode.  SecureBoot describes this boot: it is only rebuilt at a
 * reset (edk2 AuthVariableLibInitialize) and by PK changes. */
static void
publish_mode(struct vv_secureboot *sb)
{
	const vv_guid *gv = &VV_GUID_GLOBAL_VARIABLE;
	enum vv_sb_mode m = derive_mode(sb);
	bool secure;

	sb->mode = m;
	secure = enforcing(m, secure_boot_enable(sb));
	put_byte(sb, NAME("SetupMode"), gv, ATTR_BS_RT, m == VV_SB_SETUP || m == VV_SB_AUDIT);
	put_byte(sb, NAME("AuditMode"), gv, ATTR_BS_RT, m == VV_SB_AUDIT);
	put_byte(sb, NAME("DeployedMode"), gv, ATTR_BS_RT, m == VV_SB_DEPLOYED);
	/* edk2 UpdatePlatformMode: SecureBoot says whether this boot runs in
	 * Secure Boot mode, so it is not changed at runtime. */
	if (!vv_store_at_runtime(sb->store))
		put_byte(sb, NAME("SecureBoot"), gv, ATTR_BS_RT, secure);
}

/* SignatureSupport: edk2's list (SHA-1, SHA-256/384/512, RSA2048, X.509). */
#define SIGNATURE_SUPPORT_SIZE (6 * 16)
static void
signature_support(uint8_t out[SIGNATURE_SUPPORT_SIZE])
{
	static const char *const support[] = {
		"826ca512-cf10-4ac9-b187-be01496631bd", "c1c41626-504c-4092-aca9-41f936934328",
		"ff3e5307-9fd0-48c9-85f1-8ad56c701e01", "093e0fae-a6c4-4f50-9f1b-d41e2b89c19a",
		"3c5766e8-269c-4e34-aa14-ed776e85b3b6", "a5c059a1-94e4-4aa7-87b5-ab155c2bf072",
	};

	for (size_t i = 0; i < sizeof(support) / sizeof(support[0]); i++)
		vv_guid_parse(support[i], (vv_guid *)(out + 16 * i));
}

/* Power-on work (edk2 AuthVariableLibInitialize, formats §8.6). */
static void
initialise(struct vv_secureboot *sb)
{
	uint8_t list[SIGNATURE_SUPPORT_SIZE];
	const vv_guid *gv = &VV_GUID_GLOBAL_VARIABLE;
	struct name ss = NAME("SignatureSupport");
	int vendor;

	signature_support(list);
	if (find(sb, ss, gv) == NULL)
		vv_store_put(sb->store, ss.s, ss.len, gv, ATTR_BS_RT, list, sizeof(list), NULL);
	if (sb->cfg.force_secure_boot ||
	    (find(sb, NAME("PK"), gv) != NULL &&
	     find(sb, NAME("SecureBootEnable"), &VV_GUID_SECURE_BOOT_ENABLE) == NULL))
		put_byte(sb, NAME("SecureBootEnable"), &VV_GUID_SECURE_BOOT_ENABLE, ATTR_NV_BS, 1);
	put_byte(sb, NAME("CustomMode"), &VV_GUID_CUSTOM_MODE, ATTR_NV_BS, 0);
	vendor = byte_value(sb, NAME("VendorKeysNv"), &VV_GUID_VENDOR_KEYS_NV);
	if (vendor < 0)
		vendor = 1;
	/* edk2 creates it NV|BS|AT (formats §8.5); stores written before
	 * vmvars did the same hold NV|BS, which put_byte replaces. */
	put_byte(sb, NAME("VendorKeysNv"), &VV_GUID_VENDOR_KEYS_NV, ATTR_NV_BS_AT, (uint8_t)vendor);
	put_byte(sb, NAME("VendorKeys"), gv, ATTR_BS_RT, (uint8_t)vendor);
	publish_mode(sb);
}

/* ------------------------------------------------------------------ */
/* Trust anchors                                                      */
/* ------------------------------------------------------------------ */

struct anchors {
	struct vv_cert_ref certs[MAX_ANCHORS];
	size_t n;
};

static int
add_anchor(void *ctx, const uint8_t *der, size_t size)
{
	struct anchors *a = ctx;

	if (a->n < MAX_ANCHORS)
		a->certs[a->n++] = (struct vv_cert_ref){ der, size };
	return 0;
}

static void
anchors_from(struct anchors *a, const struct vv_variable *v)
{
	if (v != NULL)
		vv_siglist_for_each_x509(v->data, v->data_size, add_anchor, a);
}

static void
trust_slot_clear(struct trust_slot *t)
{
	vv_trust_free(t->trust);
	free(t->pk);
	free(t->kek);
	memset(t, 0, sizeof(*t));
}

/* True if the variable (NULL: absent) holds exactly size bytes at copy. */
static bool
same_bytes(const uint8_t *copy, size_t size, const struct vv_variable *v)
{
	size_t have = v != NULL ? v->data_size : 0;

	return have == size && (size == 0 || memcmp(copy, v->data, size) == 0);
}

static int
copy_bytes(uint8_t **copy, size_t *size, const struct vv_variable *v)
{
	*size = v != NULL ? v->data_size : 0;
	*copy = *size > 0 ? malloc(*size) : NULL;
	if (*size > 0 && *copy == NULL)
		return -1;
	if (*size > 0)
		memcpy(*copy, v->data, *size);
	return 0;
}

/*
 * The decoded anchors for a write signed by PK (slot TRUST_PK) or by PK or
 * KEK (TRUST_PK_KEK); `anchors` are the certificates of those variables
 * now.  NULL if none decodes (or memory ran out): nothing can verify.
 */
static const struct vv_trust *
trust_for(struct vv_secureboot *sb, int slot, const struct anchors *anchors)
{
	const vv_guid *gv = &VV_GUID_GLOBAL_VARIABLE;
	const struct vv_variable *pk = find(sb, NAME("PK"), gv);
	const struct vv_variable *kek = slot == TRUST_PK_KEK ? find(sb, NAME("KEK"), gv) : NULL;
	struct trust_slot *t = &sb->trust[slot];

	if (t->trust != NULL && same_bytes(t->pk, t->pk_size, pk) &&
	    same_bytes(t->kek, t->kek_size, kek))
		return t->trust;
	trust_slot_clear(t);
	if (anchors->n == 0 || copy_bytes(&t->pk, &t->pk_size, pk) != 0 ||
	    copy_bytes(&t->kek, &t->kek_size, kek) != 0 ||
	    (t->trust = vv_trust_new(anchors->certs, anchors->n)) == NULL) {
		trust_slot_clear(t);
		return NULL;
	}
	return t->trust;
}

/* ------------------------------------------------------------------ */
/* The AUTH hook                                                      */
/* ------------------------------------------------------------------ */

static bool
custom_mode(const struct vv_secureboot *sb)
{
	return !sb->cfg.disable_custom_mode &&
	       byte_value(sb, NAME("CustomMode"), &VV_GUID_CUSTOM_MODE) == 1;
}

/*
 * Verifies the write's signature, already parsed as p7, against trust;
 * with `signers` the signer must also be one of those certificates itself
 * (PK: no chaining).
 */
static vv_status
verify(const struct vv_write *w, const struct vv_auth2 *a, const struct vv_pkcs7 *p7,
       const struct vv_trust *trust, const struct anchors *signers)
{
	const struct vv_set_request *req = w->req;
	uint8_t *signed_data;
	size_t signed_size;
	bool ok;

	if (p7 == NULL || trust == NULL)
		return VV_EFI_SECURITY_VIOLATION;
	signed_data = vv_auth2_signed_data(req->name, req->name_len, &req->guid, req->attributes,
					   &a->time, a->payload, a->payload_size, &signed_size);
	if (signed_data == NULL)
		return VV_EFI_OUT_OF_RESOURCES;
	ok = vv_pkcs7_verify_trusted(p7, signed_data, signed_size, trust) &&
	     (signers == NULL || vv_pkcs7_signers_are(p7, signers->certs, signers->n));
	free(signed_data);
	return ok ? VV_EFI_SUCCESS : VV_EFI_SECURITY_VIOLATION;
}

/* Strictly later, except APPEND, which keeps the later of the two. */
static vv_status
check_time(struct vv_store *store, struct vv_write *w, const struct vv_auth2 *a)
{
	const struct vv_variable *old = w->existing;
	bool append = (w->req->attributes & VV_ATTR_APPEND) != 0;

	w->has_time = true;
	w->time = a->time;
	if (old == NULL || !old->has_time)
		return VV_EFI_SUCCESS;
	if (append) {
		if (vv_efi_time_compare(&old->time, &a->time) > 0)
			w->time = old->time;
		return VV_EFI_SUCCESS;
	}
	if (vv_efi_time_compare(&a->time, &old->time) > 0)
		return VV_EFI_SUCCESS;
	vv_store_refuse(store, "its timestamp is not later than the variable's (a stale or "
			"replayed signed update)");
	return VV_EFI_SECURITY_VIOLATION;
}

/* Who may sign a write to a Secure Boot database (formats §8.4). */
static vv_status
authorize_db_write(struct vv_secureboot *sb, enum var_kind kind, const struct vv_write *w,
		   const struct vv_auth2 *a)
{
	const vv_guid *gv = &VV_GUID_GLOBAL_VARIABLE;
	bool setup = sb->mode == VV_SB_SETUP || sb->mode == VV_SB_AUDIT;
	struct vv_trust *enrolling = NULL;
	const struct vv_trust *trust;
	struct anchors *anchors;
	struct vv_variable self;
	struct vv_pkcs7 *p7;
	vv_status st;

	if (custom_mode(sb))
		return VV_EFI_SUCCESS;
	if (setup && kind != KIND_PK)
		return VV_EFI_SUCCESS;
	anchors = calloc(1, sizeof(*anchors));
	if (anchors == NULL)
		return VV_EFI_OUT_OF_RESOURCES;
	if (kind == KIND_PK && setup) {
		/* enrollment: self-signed by the certificate it installs */
		memset(&self, 0, sizeof(self));
		self.data = (uint8_t *)a->payload;
		self.data_size = a->payload_size;
		anchors_from(anchors, &self);
		trust = enrolling = vv_trust_new(anchors->certs, anchors->n);
	} else {
		anchors_from(anchors, find(sb, NAME("PK"), gv));
		if (kind == KIND_DB)
			anchors_from(anchors, find(sb, NAME("KEK"), gv));
		trust = trust_for(sb, kind == KIND_DB ? TRUST_PK_KEK : TRUST_PK, anchors);
	}
	p7 = trust != NULL ? vv_pkcs7_parse(a->pkcs7, a->pkcs7_size) : NULL;
	st = verify(w, a, p7, trust, kind == KIND_PK ? anchors : NULL);
	if (st == VV_EFI_SECURITY_VIOLATION)
		vv_store_refuse(sb->store, "%s", p7 == NULL && trust != NULL ?
				"its PKCS#7 signature does not parse" :
				kind == KIND_PK && setup ? "a PK enrollment must be signed by the "
				"certificate it enrolls (self-signed); this one is not" :
				kind == KIND_DB ? "not signed by the enrolled PK or a KEK" :
				"not signed by the enrolled PK");
	vv_pkcs7_free(p7);
	vv_trust_free(enrolling);
	free(anchors);
	return st;
}

static vv_status
dedup_append(struct vv_write *w, const struct vv_auth2 *a)
{
	uint8_t *out;
	size_t out_size;
	vv_status st;

	st = vv_siglist_filter_append(w->existing->data, w->existing->data_size, a->payload,
				      a->payload_size, &out, &out_size);
	if (st != VV_EFI_SUCCESS)
		return st;
	w->owned = out;
	w->payload = out;
	w->payload_size = out_size;
	return VV_EFI_SUCCESS;
}

static vv_status
auth_db(struct vv_secureboot *sb, enum var_kind kind, struct vv_write *w)
{
	uint32_t attr = w->req->attributes;
	bool append = (attr & VV_ATTR_APPEND) != 0;
	struct vv_auth2 a;
	vv_status st;

	if ((attr & ~VV_ATTR_APPEND) != ATTR_SB_DB) {
		vv_store_refuse(sb->store, "a Secure Boot key database takes attributes "
				"NV|BS|RT|TIME_BASED_AUTHENTICATED_WRITE_ACCESS (0x27); got 0x%x",
				attr & ~VV_ATTR_APPEND);
		return VV_EFI_INVALID_PARAMETER;                        /* row 21 */
	}
	if (kind == KIND_PK && append) {
		vv_store_refuse(sb->store, "PK holds exactly one certificate; it cannot be "
				"appended to");
		return VV_EFI_INVALID_PARAMETER;                /* PK: one signature */
	}
	st = vv_auth2_parse(w->req->data, w->req->data_size, &a);
	if (st != VV_EFI_SUCCESS) {
		vv_store_refuse(sb->store, "not a well-formed EFI_VARIABLE_AUTHENTICATION_2 "
				"(timestamp, then a WIN_CERTIFICATE_UEFI_GUID holding a PKCS#7 "
				"signature)");
		return st;
	}
	if (a.payload_size != 0 &&
	    vv_siglist_validate_seen(a.payload, a.payload_size, kind == KIND_PK ? 1 : 0,
				     &sb->seen) != VV_EFI_SUCCESS) {
		vv_store_refuse(sb->store, "%s", kind == KIND_PK ?
				"PK must be one EFI_SIGNATURE_LIST holding exactly one X.509 "
				"certificate" : "its value is not a well-formed sequence of "
				"EFI_SIGNATURE_LISTs");
		return VV_EFI_INVALID_PARAMETER;
	}
	if (kind == KIND_PK && a.payload_size == 0 && sb->mode == VV_SB_DEPLOYED) {
		vv_store_refuse(sb->store, "PK cannot be deleted in Deployed mode");
		return VV_EFI_WRITE_PROTECTED;
	}
	st = check_time(sb->store, w, &a);
	if (st != VV_EFI_SUCCESS)
		return st;
	st = authorize_db_write(sb, kind, w, &a);
	if (st != VV_EFI_SUCCESS)
		return st;
	if (append && w->existing != NULL && a.payload_size != 0)
		return dedup_append(w, &a);
	return VV_EFI_SUCCESS;
}

/* Private authenticated variables (UEFI 2.9 §8.2.2): bound to their first
 * signer, every later write and delete must come from the same one. */
static vv_status
auth_private(struct vv_store *s, struct vv_write *w)
{
	const struct vv_set_request *req = w->req;
	struct vv_pkcs7 *p7;
	struct vv_auth2 a;
	uint8_t digest[32], *signed_data;
	size_t signed_size;
	vv_status st;
	int rc;

	st = vv_auth2_parse(w->req->data, w->req->data_size, &a);
	if (st != VV_EFI_SUCCESS) {
		vv_store_refuse(s, "not a well-formed EFI_VARIABLE_AUTHENTICATION_2 (timestamp, "
				"then a WIN_CERTIFICATE_UEFI_GUID holding a PKCS#7 signature)");
		return st;
	}
	st = check_time(s, w, &a);
	if (st != VV_EFI_SUCCESS)
		return st;
	/* Verified against the top of the signer's own chain only, and bound
	 * to that certificate (pkcs7.h vv_pkcs7_verify_private). */
	p7 = vv_pkcs7_parse(a.pkcs7, a.pkcs7_size);
	if (p7 == NULL) {
		vv_store_refuse(s, "its PKCS#7 signature does not parse");
		return VV_EFI_SECURITY_VIOLATION;
	}
	signed_data = vv_auth2_signed_data(req->name, req->name_len, &req->guid, req->attributes,
					   &a.time, a.payload, a.payload_size, &signed_size);
	if (signed_data == NULL) {
		vv_pkcs7_free(p7);
		return VV_EFI_OUT_OF_RESOURCES;
	}
	rc = vv_pkcs7_verify_private(p7, signed_data, signed_size, digest);
	free(signed_data);
	vv_pkcs7_free(p7);
	if (rc != 0) {
		vv_store_refuse(s, "its signature does not verify");
		return VV_EFI_SECURITY_VIOLATION;
	}
	/* An existing variable is bound to the signer recorded with it.  One
	 * with no recorded signer (imported from a format that has none, such
	 * as efivarfs) has no owner a signature could match: the guest cannot
	 * take it over by signing first (edk2 refuses a write to a private
	 * variable missing from its certdb).  Its owner, the host, can. */
	if (w->existing != NULL &&
	    (w->existing->digest_size != sizeof(digest) ||
	     memcmp(w->existing->digest, digest, sizeof(digest)) != 0)) {
		vv_store_refuse(s, "signed by another key than the one this private "
				"authenticated variable is bound to");
		return VV_EFI_SECURITY_VIOLATION;
	}
	w->digest_size = sizeof(digest);
	memcpy(w->digest, digest, sizeof(digest));
	return VV_EFI_SUCCESS;
}

static vv_status
sb_auth_hook(void *ctx, struct vv_store *s, struct vv_write *w)
{
	struct vv_secureboot *sb = ctx;
	const struct vv_set_request *req = w->req;
	enum var_kind kind = classify(req->name, req->name_len, &req->guid);

	if (kind != KIND_OTHER)
		return auth_db(sb, kind, w);
	if (!(req->attributes & VV_ATTR_AT)) {
		/* row 24: an authenticated variable needs an authenticated write */
		if (w->existing != NULL && (w->existing->attributes & VV_ATTR_AT)) {
			vv_store_refuse(s, "an authenticated variable is only written by an "
					"authenticated (signed) write");
			return VV_EFI_WRITE_PROTECTED;
		}
		return VV_EFI_SUCCESS;
	}
	return auth_private(s, w);
}

/* ------------------------------------------------------------------ */
/* The SPECIAL hook: mode variables and switches                      */
/* ------------------------------------------------------------------ */

/*
 * PK was enrolled (present) or deleted: edk2's UpdatePlatformMode writes
 * SecureBootEnable = 1 (NV|BS) on the way into user mode, whatever it held
 * before, and deletes it on the way back to setup mode, so firmware that
 * reads it right after enrolling PK (EnrollDefaultKeys.efi) finds it.  At
 * runtime it touches neither SecureBootEnable nor SecureBoot (the OS
 * cannot change how the running boot was secured).  force_secure_boot
 * keeps it at 1 throughout.
 */
static void
sync_secure_boot_enable(struct vv_secureboot *sb, bool pk)
{
	struct name n = NAME("SecureBootEnable");
	const vv_guid *g = &VV_GUID_SECURE_BOOT_ENABLE;

	if (vv_store_at_runtime(sb->store))
		return;
	if (pk || sb->cfg.force_secure_boot)
		put_byte(sb, n, g, ATTR_NV_BS, 1);
	else if (find(sb, n, g) != NULL)
		vv_store_put(sb->store, n.s, n.len, g, ATTR_NV_BS, NULL, 0, NULL);
}

/* A guest write of AuditMode / DeployedMode: 1 byte, BS|RT, boot time. */
static vv_status
mode_write(struct vv_secureboot *sb, struct vv_write *w, bool audit)
{
	const struct vv_set_request *req = w->req;
	uint8_t want;

	w->handled = true;
	if (vv_store_at_runtime(sb->store) || w->is_delete) {
		vv_store_refuse(sb->store, "%s cannot be deleted, or changed after "
				"ExitBootServices", audit ? "AuditMode" : "DeployedMode");
		return VV_EFI_WRITE_PROTECTED;
	}
	if (req->attributes != ATTR_BS_RT || req->data_size != 1) {
		vv_store_refuse(sb->store, "%s is 1 byte with attributes BS|RT (0x6)",
				audit ? "AuditMode" : "DeployedMode");
		return VV_EFI_INVALID_PARAMETER;
	}
	want = req->data[0];
	if (audit) {
		if (want == (sb->mode == VV_SB_AUDIT))
			return VV_EFI_SUCCESS;
		if (want != 1 || sb->mode == VV_SB_DEPLOYED) {
			vv_store_refuse(sb->store, "AuditMode can only be set to 1, and not in "
					"Deployed mode (UEFI 2.10 Secure Boot mode transitions)");
			return VV_EFI_WRITE_PROTECTED;
		}
		/* Setup -> Audit; User -> Audit clears PK */
		if (sb->mode == VV_SB_USER) {
			vv_store_put(sb->store, NAME("PK").s, 2, &VV_GUID_GLOBAL_VARIABLE, ATTR_SB_DB,
				     NULL, 0, NULL);
			sync_secure_boot_enable(sb, false);
		}
		set_state_flag(sb, NAME("AuditMode"), true);
	} else {
		if (want == (sb->mode == VV_SB_DEPLOYED))
			return VV_EFI_SUCCESS;
		if (want != 1 || sb->mode != VV_SB_USER) {
			vv_store_refuse(sb->store, "DeployedMode can only be set to 1, from User "
					"mode (UEFI 2.10 Secure Boot mode transitions)");
			return VV_EFI_WRITE_PROTECTED;
		}
		set_state_flag(sb, NAME("DeployedMode"), true);        /* User -> Deployed */
	}
	publish_mode(sb);
	return VV_EFI_SUCCESS;
}

static vv_status
sb_special_hook(void *ctx, struct vv_store *s, struct vv_write *w)
{
	struct vv_secureboot *sb = ctx;
	const struct vv_set_request *req = w->req;
	const uint16_t *n = req->name;
	size_t len = req->name_len;
	bool guest = req->caller == VV_CALLER_GUEST;

	if (!guest) {
		/* The mode variables are what the service derives from PK and
		 * its mode flags: a host write would only make them lie (the
		 * guest would see SecureBoot=1 with no PK).  The host changes
		 * the mode through vv_secureboot_set_mode (vmvars sb-mode). */
		if (vv_guid_equal(&req->guid, &VV_GUID_GLOBAL_VARIABLE) &&
		    (name_eq(n, len, NAME("SecureBoot")) || name_eq(n, len, NAME("SetupMode")) ||
		     name_eq(n, len, NAME("VendorKeys")) || name_eq(n, len, NAME("AuditMode")) ||
		     name_eq(n, len, NAME("DeployedMode")))) {
			vv_store_refuse(s, "derived by the Secure Boot service from PK and its mode; "
					"it cannot be written: enroll or delete PK, or change the "
					"mode (vmvars sb-mode)");
			return VV_EFI_WRITE_PROTECTED;
		}
		return VV_EFI_SUCCESS;
	}
	if (vv_guid_equal(&req->guid, &VV_GUID_GLOBAL_VARIABLE)) {
		if (name_eq(n, len, NAME("AuditMode")))
			return mode_write(sb, w, true);
		if (name_eq(n, len, NAME("DeployedMode")))
			return mode_write(sb, w, false);
	} else if (vv_guid_equal(&req->guid, &VMVARS_STATE_GUID) ||
		   vv_guid_equal(&req->guid, &VV_GUID_VENDOR_KEYS_NV) ||
		   vv_guid_equal(&req->guid, &VV_GUID_CERT_DB)) {
		vv_store_refuse(s, "the Secure Boot service's own state; the guest may not "
				"write it");
		return VV_EFI_WRITE_PROTECTED;
	} else if (vv_guid_equal(&req->guid, &VV_GUID_SECURE_BOOT_ENABLE) &&
		   name_eq(n, len, NAME("SecureBootEnable"))) {
		if (sb->cfg.force_secure_boot &&
		    (w->is_delete || req->data_size != 1 || req->data[0] != 1)) {
			vv_store_refuse(s, "Secure Boot is forced on for this VM (force_secure_boot)");
			return VV_EFI_WRITE_PROTECTED;
		}
	} else if (vv_guid_equal(&req->guid, &VV_GUID_CUSTOM_MODE) &&
		   name_eq(n, len, NAME("CustomMode"))) {
		if (sb->cfg.disable_custom_mode &&
		    !(req->data_size == 1 && req->data[0] == 0)) {
			vv_store_refuse(s, "CustomMode is disabled for this VM (disable_custom_mode)");
			return VV_EFI_WRITE_PROTECTED;
		}
	}
	return VV_EFI_SUCCESS;
}

/* After a write: PK changes move the mode; guest changes to the key
 * databases mean the keys are no longer the vendor's. */
static vv_status
sb_committed_hook(void *ctx, struct vv_store *s, struct vv_write *w)
{
	struct vv_secureboot *sb = ctx;
	const struct vv_set_request *req = w->req;
	enum var_kind kind = classify(req->name, req->name_len, &req->guid);

	(void)s;
	if (kind == KIND_OTHER)
		return VV_EFI_SUCCESS;
	if (req->caller == VV_CALLER_GUEST) {
		put_byte(sb, NAME("VendorKeysNv"), &VV_GUID_VENDOR_KEYS_NV, ATTR_NV_BS_AT, 0);
		put_byte(sb, NAME("VendorKeys"), &VV_GUID_GLOBAL_VARIABLE, ATTR_BS_RT, 0);
	}
	if (kind == KIND_PK) {
		bool pk = w->existing != NULL;

		if (pk && sb->mode == VV_SB_AUDIT) {            /* Audit -> Deployed */
			set_state_flag(sb, NAME("AuditMode"), false);
			set_state_flag(sb, NAME("DeployedMode"), true);
		} else if (!pk) {                               /* User -> Setup */
			set_state_flag(sb, NAME("DeployedMode"), false);
		}
		sync_secure_boot_enable(sb, pk);
		publish_mode(sb);
	}
	return VV_EFI_SUCCESS;
}

/* The NV content was replaced whole (a full migration snapshot,
 * vv_store_replace_all): the mode is derived again from the new PK and
 * mode flags.  Nothing is published: the mode variables the guest reads
 * came with the snapshot and describe the boot that is running. */
static void
sb_resync(void *ctx, struct vv_store *s)
{
	struct vv_secureboot *sb = ctx;

	(void)s;
	sb->mode = derive_mode(sb);
}

void
vv_secureboot_refresh(struct vv_secureboot *sb)
{
	publish_mode(sb);
}

static void
sb_on_event(void *ctx, struct vv_store *s, enum vv_event ev)
{
	(void)s;
	if (ev == VV_EVENT_RESET)
		initialise(ctx);
}

/* ------------------------------------------------------------------ */
/* Restores: states no live service produces are refused              */
/* ------------------------------------------------------------------ */


/* A mode variable must be there, BS|RT, one byte, of this value. */
static int
check_mode_var(vv_restore_lookup_fn lookup, void *lctx, struct name n, int want,
	       const char *ascii, struct vv_error *err)
{
	const struct vv_variable *v = lookup(lctx, n.s, n.len, &VV_GUID_GLOBAL_VARIABLE);

	if (v == NULL || v->attributes != ATTR_BS_RT || v->data_size != 1)
		return vv_error_set(err, "snapshot: %s missing or not a 1-byte BS|RT variable",
				    ascii);
	if (want >= 0 && v->data[0] != want)
		return vv_error_set(err, "snapshot: %s is %u, but the keys and mode flags the "
				    "snapshot leaves make it %d", ascii, v->data[0], want);
	return 0;
}

/*
 * The Secure Boot rules a restored state must meet (vv_snapshot_load):
 *  - PK, KEK, db, dbx, dbt and dbr hold exactly NV|BS|RT|AT (row 21: no
 *    service ever stores them otherwise);
 *  - vmvars's own namespaces (the Audit/Deployed flags, VendorKeysNv,
 *    certdb) hold no volatile variable: the mode is read from them;
 *  - SetupMode, AuditMode and DeployedMode are what PK and the mode flags
 *    make them (published on every change, in every phase), VendorKeys
 *    follows VendorKeysNv, SignatureSupport is the service's list;
 *  - before ExitBootServices, SecureBoot is 1 when the mode enforces:
 *    firmware skips image verification when it reads 0, so a snapshot
 *    must not turn it off for the boot that is running (it may say 1 when
 *    the mode would not: SecureBootEnable changed during the boot takes
 *    effect at the next one).  At runtime it only describes the boot.
 */
static int
sb_restore_check(void *ctx, const struct vv_variable *vars, size_t n,
		 vv_restore_lookup_fn lookup, void *lctx, bool at_runtime, struct vv_error *err)
{
	const struct vv_secureboot *sb = ctx;
	const vv_guid *gv = &VV_GUID_GLOBAL_VARIABLE;
	uint8_t support[SIGNATURE_SUPPORT_SIZE];
	const struct vv_variable *v;
	enum vv_sb_mode m;
	int vendor;

	for (size_t i = 0; i < n; i++) {
		v = &vars[i];
		if (classify(v->name, v->name_len, &v->guid) != KIND_OTHER &&
		    v->attributes != ATTR_SB_DB)
			return vv_error_set(err, "snapshot: a Secure Boot key database with "
					    "attributes 0x%x (only 0x27 is ever stored)",
					    v->attributes);
		if (!(v->attributes & VV_ATTR_NV) &&
		    (vv_guid_equal(&v->guid, &VMVARS_STATE_GUID) ||
		     vv_guid_equal(&v->guid, &VV_GUID_VENDOR_KEYS_NV) ||
		     vv_guid_equal(&v->guid, &VV_GUID_CERT_DB)))
			return vv_error_set(err, "snapshot: a volatile variable in a namespace the "
					    "Secure Boot service owns");
	}
	m = mode_in(lookup, lctx);
	if (check_mode_var(lookup, lctx, NAME("SetupMode"), m == VV_SB_SETUP || m == VV_SB_AUDIT,
			   "SetupMode", err) != 0 ||
	    check_mode_var(lookup, lctx, NAME("AuditMode"), m == VV_SB_AUDIT, "AuditMode",
			   err) != 0 ||
	    check_mode_var(lookup, lctx, NAME("DeployedMode"), m == VV_SB_DEPLOYED,
			   "DeployedMode", err) != 0)
		return -1;
	if (check_mode_var(lookup, lctx, NAME("SecureBoot"),
			   !at_runtime && enforcing(m, secure_boot_enable_in(sb, lookup, lctx)) ? 1 : -1,
			   "SecureBoot", err) != 0)
		return -1;
	v = lookup(lctx, NAME("SecureBoot").s, NAME("SecureBoot").len, gv);
	if (v->data[0] > 1)
		return vv_error_set(err, "snapshot: SecureBoot is %u", v->data[0]);
	vendor = view_byte(lookup, lctx, NAME("VendorKeysNv"), &VV_GUID_VENDOR_KEYS_NV);
	if (check_mode_var(lookup, lctx, NAME("VendorKeys"), vendor < 0 ? 1 : vendor, "VendorKeys",
			   err) != 0)
		return -1;
	signature_support(support);
	v = lookup(lctx, NAME("SignatureSupport").s, NAME("SignatureSupport").len, gv);
	if (v == NULL || v->attributes != ATTR_BS_RT || v->data_size != sizeof(support) ||
	    memcmp(v->data, support, sizeof(support)) != 0)
		return vv_error_set(err, "snapshot: SignatureSupport is not the service's list");
	return 0;
}

/* How Secure Boot takes part in restores (core/store_state.h). */
static const struct vv_restore_ops sb_restore_ops = { sb_restore_check, sb_resync };

/* ------------------------------------------------------------------ */
/* Public API                                                         */
/* ------------------------------------------------------------------ */

static void
detach(struct vv_secureboot *sb)
{
	vv_store_remove_hook(sb->store, VV_HOOK_SPECIAL, sb_special_hook, sb);
	vv_store_remove_hook(sb->store, VV_HOOK_AUTH, sb_auth_hook, sb);
	vv_store_remove_hook(sb->store, VV_HOOK_COMMITTED, sb_committed_hook, sb);
	vv_store_remove_listener(sb->store, sb_on_event, sb);
	vv_store_remove_restore_module(sb->store, &sb_restore_ops, sb);
}

struct vv_secureboot *
vv_secureboot_new(struct vv_store *s, const struct vv_secureboot_config *cfg)
{
	struct vv_secureboot *sb = calloc(1, sizeof(*sb));

	if (sb == NULL)
		return NULL;
	sb->store = s;
	if (cfg != NULL)
		sb->cfg = *cfg;
	if (vv_store_add_hook(s, VV_HOOK_SPECIAL, sb_special_hook, sb) != 0 ||
	    vv_store_add_hook(s, VV_HOOK_AUTH, sb_auth_hook, sb) != 0 ||
	    vv_store_add_hook(s, VV_HOOK_COMMITTED, sb_committed_hook, sb) != 0 ||
	    vv_store_add_listener(s, sb_on_event, sb) != 0 ||
	    vv_store_add_restore_module(s, &sb_restore_ops, sb) != 0) {
		detach(sb);
		free(sb);
		return NULL;
	}
	initialise(sb);
	return sb;
}

void
vv_secureboot_free(struct vv_secureboot *sb)
{
	if (sb == NULL)
		return;
	detach(sb);
	for (int i = 0; i < TRUST_SLOTS; i++)
		trust_slot_clear(&sb->trust[i]);
	free(sb);
}

enum vv_sb_mode
vv_secureboot_mode(const struct vv_secureboot *sb)
{
	return derive_mode(sb);
}

const char *
vv_sb_mode_name(enum vv_sb_mode m)
{
	switch (m) {
	case VV_SB_SETUP: return "setup";
	case VV_SB_USER: return "user";
	case VV_SB_AUDIT: return "audit";
	case VV_SB_DEPLOYED: return "deployed";
	}
	return "unknown";
}

bool
vv_secureboot_enforcing(const struct vv_secureboot *sb)
{
	enum vv_sb_mode m = derive_mode(sb);

	return enforcing(m, secure_boot_enable(sb));
}

static const struct {
	const char *ascii;
	struct name name;
	const vv_guid *guid;
	enum var_kind kind;
} databases[] = {
	[VV_SB_PK] = { "PK", { (const uint16_t *)u"PK", 2 }, &VV_GUID_GLOBAL_VARIABLE, KIND_PK },
	[VV_SB_KEK] = { "KEK", { (const uint16_t *)u"KEK", 3 }, &VV_GUID_GLOBAL_VARIABLE, KIND_KEK },
	[VV_SB_DB] = { "db", { (const uint16_t *)u"db", 2 }, &VV_GUID_IMAGE_SECURITY_DB, KIND_DB },
	[VV_SB_DBX] = { "dbx", { (const uint16_t *)u"dbx", 3 }, &VV_GUID_IMAGE_SECURITY_DB, KIND_DB },
	[VV_SB_DBT] = { "dbt", { (const uint16_t *)u"dbt", 3 }, &VV_GUID_IMAGE_SECURITY_DB, KIND_DB },
	[VV_SB_DBR] = { "dbr", { (const uint16_t *)u"dbr", 3 }, &VV_GUID_IMAGE_SECURITY_DB, KIND_DB },
};

vv_status
vv_secureboot_enroll(struct vv_secureboot *sb, enum vv_sb_db which, const uint8_t *esl,
		     size_t size, bool append)
{
	const struct vv_variable *old;
	uint8_t *merged = NULL, *filtered = NULL;
	size_t merged_size = 0, filtered_size = 0;
	enum vv_sb_mode before = derive_mode(sb);
	vv_efi_time now;
	vv_status st;

	vv_store_refusal_reset(sb->store);
	if ((unsigned)which > VV_SB_DBR)
		return VV_EFI_INVALID_PARAMETER;
	if (size != 0 && vv_siglist_validate_seen(esl, size, which == VV_SB_PK ? 1 : 0,
						  &sb->seen) != VV_EFI_SUCCESS) {
		vv_store_refuse(sb->store, "%s", which == VV_SB_PK ?
				"PK must be one EFI_SIGNATURE_LIST holding exactly one X.509 "
				"certificate" : "not a well-formed sequence of EFI_SIGNATURE_LISTs");
		return VV_EFI_INVALID_PARAMETER;
	}
	if (which == VV_SB_PK && append) {
		vv_store_refuse(sb->store, "PK holds exactly one certificate; it cannot be "
				"appended to");
		return VV_EFI_INVALID_PARAMETER;
	}
	old = vv_store_find(sb->store, databases[which].name.s, databases[which].name.len,
			    databases[which].guid);
	vv_efi_time_now(&now);
	if (append && old != NULL && size != 0) {
		st = vv_siglist_filter_append(old->data, old->data_size, esl, size, &filtered,
					      &filtered_size);
		if (st != VV_EFI_SUCCESS)
			return st;
		merged_size = old->data_size + filtered_size;
		merged = malloc(merged_size ? merged_size : 1);
		if (merged == NULL) {
			free(filtered);
			return VV_EFI_OUT_OF_RESOURCES;
		}
		memcpy(merged, old->data, old->data_size);
		if (filtered_size)
			memcpy(merged + old->data_size, filtered, filtered_size);
		esl = merged;
		size = merged_size;
	} else if (append && size == 0) {
		return VV_EFI_SUCCESS;
	}
	if (size == 0 && old == NULL)
		st = VV_EFI_SUCCESS;
	else
		st = vv_store_put(sb->store, databases[which].name.s, databases[which].name.len,
				  databases[which].guid, ATTR_SB_DB, esl, size, &now);
	free(merged);
	free(filtered);
	if (st == VV_EFI_SUCCESS && which == VV_SB_PK) {
		if (size != 0 && before == VV_SB_AUDIT) {
			set_state_flag(sb, NAME("AuditMode"), false);
			set_state_flag(sb, NAME("DeployedMode"), true);
		} else if (size == 0) {
			set_state_flag(sb, NAME("DeployedMode"), false);
		}
		sync_secure_boot_enable(sb, size != 0);
		publish_mode(sb);
	}
	return st;
}

vv_status
vv_secureboot_set_mode(struct vv_secureboot *sb, enum vv_sb_mode m)
{
	bool pk = find(sb, NAME("PK"), &VV_GUID_GLOBAL_VARIABLE) != NULL;

	switch (m) {
	case VV_SB_SETUP:
	case VV_SB_AUDIT:
		if (pk)
			vv_store_put(sb->store, NAME("PK").s, 2, &VV_GUID_GLOBAL_VARIABLE, ATTR_SB_DB,
				     NULL, 0, NULL);
		set_state_flag(sb, NAME("DeployedMode"), false);
		set_state_flag(sb, NAME("AuditMode"), m == VV_SB_AUDIT);
		break;
	case VV_SB_USER:
	case VV_SB_DEPLOYED:
		if (!pk)
			return VV_EFI_INVALID_PARAMETER;
		set_state_flag(sb, NAME("AuditMode"), false);
		set_state_flag(sb, NAME("DeployedMode"), m == VV_SB_DEPLOYED);
		break;
	default:
		return VV_EFI_INVALID_PARAMETER;
	}
	sync_secure_boot_enable(sb, m == VV_SB_USER || m == VV_SB_DEPLOYED);
	publish_mode(sb);
	return VV_EFI_SUCCESS;
}
