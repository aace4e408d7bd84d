/*
 * src/cli/ms_keys.c -- Microsoft's Secure Boot CAs by fingerprint, the data
 * set of signed updates, and a store's facts (ms_keys.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <vmvars/sigdb.h>

#include "cli/cli.h"
#include "cli/ms_keys.h"
#include "cli/store_file.h"

#ifndef VV_MS_DATA_DIR
#define VV_MS_DATA_DIR "/usr/share/vmvars/ms-secureboot"
#endif

/*
 * SHA-256 of each DER certificate as Microsoft publishes it in
 * secureboot_objects (PreSignedObjects/{KEK,DB}/Certificates), expiry from
 * the certificates' notAfter (reference key-lifecycle-and-fleet.md §1:
 * KEK CA 2011 2026-06-24, UEFI CA 2011 2026-06-27, PCA 2011 2026-10-19).
 * The db updates are the same bytes for every architecture, but are read
 * from the architecture's folder as Microsoft lays them out.
 */
const struct vv_ms_ca_info vv_ms_cas[VV_MS_NCAS] = {
	[VV_MS_KEK2011] = { "kek-2011", "Microsoft Corporation KEK CA 2011", "KEK",
		"a1117f516a32cefcba3f2d1ace10a87972fd6bbe8fe0d0b996e09e65d802a503",
		"PreSignedObjects/KEK/Certificates/MicCorKEKCA2011_2011-06-24.der", NULL,
		"2026-06-24", 1782334289 },
	[VV_MS_KEK2023] = { "kek-2023", "Microsoft Corporation KEK 2K CA 2023", "KEK",
		"3cd3f0309edae228767a976dd40d9f4affc4fbd5218f2e8cc3c9dd97e8ac6f9d",
		"PreSignedObjects/KEK/Certificates/microsoft corporation kek 2k ca 2023.der", NULL,
		"2038-03-02", 2151174695 },
	[VV_MS_PCA2011] = { "windows-pca-2011", "Microsoft Windows Production PCA 2011", "db",
		"e8e95f0733a55e8bad7be0a1413ee23c51fcea64b3c8fa6a786935fddcc71961",
		"PreSignedObjects/DB/Certificates/MicWinProPCA2011_2011-10-19.der", NULL,
		"2026-10-19", 1792435902 },
	[VV_MS_UEFI2011] = { "uefi-ca-2011", "Microsoft Corporation UEFI CA 2011", "db",
		"48e99b991f57fc52f76149599bff0a58c47154229b9f8d603ac40d3500248507",
		"PreSignedObjects/DB/Certificates/MicCorUEFCA2011_2011-06-27.der", NULL,
		"2026-06-27", 1782595965 },
	[VV_MS_WIN2023] = { "windows-uefi-ca-2023", "Windows UEFI CA 2023", "db",
		"076f1fea90ac29155ebf77c17682f75f1fdd1be196da302dc8461e350a9ae330",
		"PreSignedObjects/DB/Certificates/windows uefi ca 2023.der",
		"PostSignedObjects/Optional/DB/%s/DBUpdate2024.bin", "2035-06-13", 2065374509 },
	[VV_MS_UEFI2023] = { "microsoft-uefi-ca-2023", "Microsoft UEFI CA 2023", "db",
		"f6124e34125bee3fe6d79a574eaa7b91c0e7bd9d929c1a321178efd611dad901",
		"PreSignedObjects/DB/Certificates/microsoft uefi ca 2023.der",
		"PostSignedObjects/Optional/DB/%s/DBUpdate3P2023.bin", "2038-06-13", 2160070307 },
	[VV_MS_OROM2023] = { "option-rom-ca-2023", "Microsoft Option ROM UEFI CA 2023", "db",
		"e5be3e64c6e66a281457ecdece0d6d0787577aad2a3a0144262c10c14ba8d8f1",
		"PreSignedObjects/DB/Certificates/microsoft option rom uefi ca 2023.der",
		"PostSignedObjects/Optional/DB/%s/DBUpdateOROM2023.bin", "2038-10-26", 2171733140 },
};

/*
 * Distribution PKs no Microsoft-signed KEK update exists for (reference
 * §1: "Debian's PK has none"), by SHA-256 of the DER.  Debian's is the PK
 * of /usr/share/OVMF/OVMF_VARS_4M.ms.fd (ovmf 2022.11, "Debian UEFI Secure
 * Boot (PK/KEK key)").  Red Hat's PK is in Microsoft's map (it has an update).
 */
static const struct {
	const char *sha256, *name;
} distribution_pks[] = {
	{ "5fb05ed84c5170d542ed6a7b7487dd57b8faedb02f7e107b0409e1d22cac4169", "Debian" },
};

const char *
vv_ms_pk_kind_name(enum vv_ms_pk_kind k)
{
	switch (k) {
	case VV_PK_ABSENT: return "absent";
	case VV_PK_MS_UPDATE: return "microsoft-kek-update";
	case VV_PK_DISTRIBUTION: return "distribution";
	default: return "custom";
	}
}

/* ---- the data set ----------------------------------------------------- */

int
vv_ms_data_open(struct vv_ms_data *d, const char *override, struct vv_error *err)
{
	const char *dir = override;
	struct stat st;

	memset(d, 0, sizeof(*d));
	if (dir == NULL || *dir == '\0')
		dir = getenv("VMVARS_MS_DATA");
	if (dir == NULL || *dir == '\0')
		dir = VV_MS_DATA_DIR;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return vv_error_set(err, "%s: Microsoft Secure Boot data not found (%s); set "
				    "VMVARS_MS_DATA or --ms-data to a secureboot_objects copy", dir,
				    stat(dir, &st) != 0 ? strerror(errno) : "not a directory");
	if ((d->dir = strdup(dir)) == NULL)
		return vv_error_set(err, "out of memory");
	return 0;
}

void
vv_ms_data_close(struct vv_ms_data *d)
{
	if (d->map != NULL)
		json_object_put(d->map);
	free(d->dir);
	memset(d, 0, sizeof(*d));
}

char *
vv_ms_data_path(const struct vv_ms_data *d, const char *rel)
{
	char *p;

	return asprintf(&p, "%s/%s", d->dir, rel) < 0 ? NULL : p;
}

static int
load_map(struct vv_ms_data *d, struct vv_error *err)
{
	char *path = vv_ms_data_path(d, "PostSignedObjects/KEK/kek_update_map.json");
	uint8_t *text;
	size_t size;
	struct json_tokener *tok;
	int rc = -1;

	if (path == NULL)
		return vv_error_set(err, "out of memory");
	if (vv_read_file(path, &text, &size, err) != 0) {
		free(path);
		return -1;
	}
	tok = json_tokener_new();
	d->map = tok ? json_tokener_parse_ex(tok, (const char *)text, (int)size) : NULL;
	if (d->map == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(d->map, json_type_object)) {
		vv_error_set(err, "%s: not Microsoft's KEK update map (a JSON object of PK "
			     "thumbprint -> {\"KEKUpdate\": path}): %s", path,
			     tok == NULL ? "out of memory" :
			     json_tokener_get_error(tok) == json_tokener_continue ? "truncated JSON" :
			     json_tokener_get_error(tok) == json_tokener_success ? "not an object" :
			     json_tokener_error_desc(json_tokener_get_error(tok)));
		if (d->map != NULL)
			json_object_put(d->map);
		d->map = NULL;
	} else {
		rc = 0;
	}
	if (tok)
		json_tokener_free(tok);
	free(text);
	free(path);
	return rc;
}

int
vv_ms_map_lookup(struct vv_ms_data *d, const char *pk_sha1, const char **rel, struct vv_error *err)
{
	struct json_object *e, *u;

	*rel = NULL;
	if (d->map == NULL && load_map(d, err) != 0)
		return -1;
	if (!json_object_object_get_ex(d->map, pk_sha1, &e))
		return 0;
	if (!json_object_object_get_ex(e, "KEKUpdate", &u) || !json_object_is_type(u, json_type_string) ||
	    strstr(json_object_get_string(u), "..") != NULL)
		return vv_error_set(err, "%s/PostSignedObjects/KEK/kek_update_map.json: entry %s has "
				    "no usable \"KEKUpdate\" path", d->dir, pk_sha1);
	*rel = json_object_get_string(u);
	return 0;
}

static void
sha256_hex(const uint8_t *data, size_t size, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	out[0] = '\0';
	if (EVP_Digest(data, size, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return;
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int
vv_ms_cert_load(const struct vv_ms_data *d, enum vv_ms_ca ca, uint8_t **der, size_t *size,
		struct vv_error *err)
{
	char *path = vv_ms_data_path(d, vv_ms_cas[ca].cert), fp[65];

	if (path == NULL)
		return vv_error_set(err, "out of memory");
	if (vv_read_file(path, der, size, err) != 0) {
		free(path);
		return -1;
	}
	sha256_hex(*der, *size, fp);
	if (strcmp(fp, vv_ms_cas[ca].sha256) != 0) {
		vv_error_set(err, "%s: SHA-256 %s is not %s's (%s): corrupt or replaced data file",
			     path, fp, vv_ms_cas[ca].name, vv_ms_cas[ca].sha256);
		free(*der);
		*der = NULL;
		free(path);
		return -1;
	}
	free(path);
	return 0;
}

void
vv_ms_update_free(struct vv_ms_update *u)
{
	free(u->path);
	free(u->rel);
	free(u->raw);
	memset(u, 0, sizeof(*u));
}

int
vv_ms_update_load(const struct vv_ms_data *d, const char *rel, struct vv_ms_update *u,
		  struct vv_error *err)
{
	struct vv_auth2 a;

	memset(u, 0, sizeof(*u));
	if ((u->path = vv_ms_data_path(d, rel)) == NULL || (u->rel = strdup(rel)) == NULL) {
		vv_ms_update_free(u);
		return vv_error_set(err, "out of memory");
	}
	if (vv_read_file(u->path, &u->raw, &u->size, err) != 0)
		goto fail;
	/* The checks SetVariable makes on the descriptor (auth2.h), so that a
	 * truncated or corrupt file is named here, not as an EFI status. */
	if (vv_auth2_parse(u->raw, u->size, &a) != VV_EFI_SUCCESS || a.pkcs7_size == 0) {
		vv_error_set(err, "%s: not a signed update: no valid EFI_VARIABLE_AUTHENTICATION_2 "
			     "header (truncated or corrupt, %zu bytes)", u->path, u->size);
		goto fail;
	}
	if (a.payload_size == 0 || vv_siglist_validate(a.payload, a.payload_size, 0) != VV_EFI_SUCCESS) {
		vv_error_set(err, "%s: the signed value is not a well-formed signature list "
			     "(truncated or corrupt)", u->path);
		goto fail;
	}
	if (!vv_auth2_pkcs7_parses(&a)) {
		vv_error_set(err, "%s: the signature is not a PKCS#7 SignedData (corrupt)", u->path);
		goto fail;
	}
	u->payload = a.payload;
	u->payload_size = a.payload_size;
	return 0;
fail:
	vv_ms_update_free(u);
	return -1;
}

bool
vv_ms_update_signed_by(const struct vv_ms_update *u, const char *var, const uint8_t *anchor,
		       size_t anchor_size)
{
	const uint32_t attr = VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT | VV_ATTR_AT | VV_ATTR_APPEND;
	bool global = strcmp(var, "KEK") == 0 || strcmp(var, "PK") == 0;
	struct vv_auth2 a;
	uint16_t name[8];
	size_t len = strlen(var);

	if (len >= 8 || vv_auth2_parse(u->raw, u->size, &a) != VV_EFI_SUCCESS)
		return false;
	for (size_t i = 0; i < len; i++)
		name[i] = (uint16_t)var[i];
	return vv_auth2_verify(&a, name, len,
			       global ? &VV_GUID_GLOBAL_VARIABLE : &VV_GUID_IMAGE_SECURITY_DB,
			       attr, anchor, anchor_size);
}

struct find_ctx {
	const char *sha256;
	bool found;
};

static int
find_cert(void *vctx, const uint8_t *der, size_t size)
{
	struct find_ctx *c = vctx;
	char fp[65];

	sha256_hex(der, size, fp);
	if (strcmp(fp, c->sha256) == 0) {
		c->found = true;
		return 1;
	}
	return 0;
}

bool
vv_ms_payload_has_cert(const uint8_t *esl, size_t size, const char *sha256)
{
	struct find_ctx c = { sha256, false };

	if (esl == NULL || vv_siglist_validate(esl, size, 0) != VV_EFI_SUCCESS)
		return false;
	vv_siglist_for_each_x509(esl, size, find_cert, &c);
	return c.found;
}

/* ---- a store's facts --------------------------------------------------- */

const struct vv_variable *
vv_ms_sb_var(const struct vv_store *s, const char *name)
{
	uint16_t n[8];
	size_t len = strlen(name);
	bool global = strcmp(name, "PK") == 0 || strcmp(name, "KEK") == 0;

	for (size_t i = 0; i <= len && i < 8; i++)
		n[i] = (uint16_t)name[i];
	return vv_store_find(s, n, len, global ? &VV_GUID_GLOBAL_VARIABLE : &VV_GUID_IMAGE_SECURITY_DB);
}

/* One walk over the entries of a valid database: (type, data) pairs. */
struct entry_iter {
	const uint8_t *db;
	size_t size, off, list_end, entry, nentries, sig_size;
	const uint8_t *type, *entries;
};

static bool
entry_next(struct entry_iter *it, const uint8_t **type, const uint8_t **data, size_t *data_size)
{
	while (it->entry >= it->nentries) {
		uint32_t list_size, hdr_size, sig_size;

		if (it->off + VV_SIGLIST_HEADER_SIZE > it->size)
			return false;
		list_size = vv_le32(it->db + it->off + 16);
		hdr_size = vv_le32(it->db + it->off + 20);
		sig_size = vv_le32(it->db + it->off + 24);
		if (list_size < VV_SIGLIST_HEADER_SIZE + hdr_size || list_size > it->size - it->off ||
		    sig_size <= 16)
			return false;
		it->type = it->db + it->off;
		it->entries = it->db + it->off + VV_SIGLIST_HEADER_SIZE + hdr_size;
		it->sig_size = sig_size;
		it->nentries = (list_size - VV_SIGLIST_HEADER_SIZE - hdr_size) / sig_size;
		it->entry = 0;
		it->off += list_size;
	}
	*type = it->type;
	*data = it->entries + it->entry * it->sig_size + 16;   /* past the owner GUID */
	*data_size = it->sig_size - 16;
	it->entry++;
	return true;
}

/* dbx updates hold thousands of hashes: quadratic matching would still be
 * fast enough (tens of ms), but sorting keeps it linearithmic. */
struct key {
	const uint8_t *type, *data;
	size_t size;
};

static int
key_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	int c = memcmp(x->type, y->type, 16);

	if (c != 0)
		return c;
	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return memcmp(x->data, y->data, x->size);
}

size_t
vv_ms_count_present(const uint8_t *have, size_t have_size, const uint8_t *upd, size_t upd_size)
{
	struct entry_iter it = { have, have_size, 0, 0, 0, 0, 0, NULL, NULL };
	const uint8_t *t, *d;
	size_t ds, n = 0, cap = 0, found = 0;
	struct key *keys = NULL, k;

	if (have == NULL || have_size == 0)
		return 0;
	while (entry_next(&it, &t, &d, &ds)) {
		if (n == cap) {
			struct key *nk = realloc(keys, (cap = cap ? cap * 2 : 256) * sizeof(*keys));

			if (nk == NULL) {
				free(keys);
				return 0;
			}
			keys = nk;
		}
		keys[n++] = (struct key){ t, d, ds };
	}
	qsort(keys, n, sizeof(*keys), key_cmp);
	it = (struct entry_iter){ upd, upd_size, 0, 0, 0, 0, 0, NULL, NULL };
	while (entry_next(&it, &t, &d, &ds)) {
		k = (struct key){ t, d, ds };
		if (n > 0 && bsearch(&k, keys, n, sizeof(*keys), key_cmp) != NULL)
			found++;
	}
	free(keys);
	return found;
}

struct facts_ctx {
	struct vv_ms_facts *f;
};

static int
facts_cert(void *vctx, const uint8_t *der, size_t size)
{
	struct vv_ms_facts *f = vctx;
	char fp[65];

	sha256_hex(der, size, fp);
	for (int i = 0; i < VV_MS_NCAS; i++)
		if (strcmp(fp, vv_ms_cas[i].sha256) == 0)
			f->present[i] = true;
	return 0;
}

static int
first_cert(void *vctx, const uint8_t *der, size_t size)
{
	struct vv_ms_facts *f = vctx;
	unsigned char md[20];
	unsigned int n = 0;
	const unsigned char *p = der;
	X509 *x;

	sha256_hex(der, size, f->pk_sha256);
	if (EVP_Digest(der, size, md, &n, EVP_sha1(), NULL) == 1 && n == 20)
		for (int i = 0; i < 20; i++)
			snprintf(f->pk_sha1 + 2 * i, 3, "%02x", md[i]);
	if (size <= 0x7fffffff && (x = d2i_X509(NULL, &p, (long)size)) != NULL) {
		X509_NAME_oneline(X509_get_subject_name(x), f->pk_subject, sizeof(f->pk_subject));
		X509_free(x);
	}
	return 1;
}

int
vv_ms_facts(const struct vv_store *s, struct vv_ms_data *d, const char *arch,
	    struct vv_ms_facts *f, struct vv_error *err)
{
	static const char *const vars[] = { "KEK", "db" };
	const struct vv_variable *pk = vv_ms_sb_var(s, "PK"), *dbx = vv_ms_sb_var(s, "dbx");
	struct vv_ms_update u;
	char rel[128];

	memset(f, 0, sizeof(*f));
	for (int i = 0; i < 2; i++) {
		const struct vv_variable *v = vv_ms_sb_var(s, vars[i]);

		if (v != NULL && vv_siglist_validate(v->data, v->data_size, 0) == VV_EFI_SUCCESS)
			vv_siglist_for_each_x509(v->data, v->data_size, facts_cert, f);
	}
	/* A CA counts only in the database it belongs to: KEK 2011 in db
	 * would not make db updates verify. */
	for (int i = 0; i < VV_MS_NCAS; i++) {
		const struct vv_variable *v = vv_ms_sb_var(s, vv_ms_cas[i].var);

		if (f->present[i])
			f->present[i] = vv_ms_payload_has_cert(v ? v->data : NULL, v ? v->data_size : 0,
							       vv_ms_cas[i].sha256);
		f->any_microsoft |= f->present[i];
	}
	f->pk_kind = VV_PK_ABSENT;
	if (pk != NULL && pk->data_size > 0 &&
	    vv_siglist_validate(pk->data, pk->data_size, 0) == VV_EFI_SUCCESS) {
		f->pk_kind = VV_PK_CUSTOM;
		vv_siglist_for_each_x509(pk->data, pk->data_size, first_cert, f);
		if (d != NULL && f->pk_sha1[0] != '\0') {
			const char *map_rel;

			if (vv_ms_map_lookup(d, f->pk_sha1, &map_rel, err) != 0)
				return -1;
			if (map_rel != NULL) {
				snprintf(f->kek_update, sizeof(f->kek_update),
					 "PostSignedObjects/KEK/%.480s", map_rel);
				char *path = vv_ms_data_path(d, f->kek_update);
				struct stat st;

				f->pk_kind = VV_PK_MS_UPDATE;
				f->kek_update_shipped = path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
				free(path);
			}
		}
		for (size_t i = 0; f->pk_kind == VV_PK_CUSTOM &&
				   i < sizeof(distribution_pks) / sizeof(distribution_pks[0]); i++)
			if (strcmp(f->pk_sha256, distribution_pks[i].sha256) == 0) {
				f->pk_kind = VV_PK_DISTRIBUTION;
				f->pk_distribution = distribution_pks[i].name;
			}
	}
	if (d == NULL)
		return 0;
	snprintf(rel, sizeof(rel), "PostSignedObjects/DBX/%s/DBXUpdate.bin", arch);
	if (vv_ms_update_load(d, rel, &u, err) != 0)
		return -1;
	f->dbx_total = vv_siglist_count(u.payload, u.payload_size);
	if (dbx != NULL && vv_siglist_validate(dbx->data, dbx->data_size, 0) == VV_EFI_SUCCESS)
		f->dbx_applied = vv_ms_count_present(dbx->data, dbx->data_size, u.payload,
						     u.payload_size);
	vv_ms_update_free(&u);
	return 0;
}

void
vv_ms_default_wanted(const struct vv_ms_facts *f, bool want[VV_MS_NCAS])
{
	memset(want, 0, sizeof(bool) * VV_MS_NCAS);
	/* Issue #16's default rule: what the store already trusts from the
	 * 2011 generation gets its 2023 successor; KEK 2023 whenever the store
	 * trusts Microsoft at all (future db/dbx updates are signed by it). */
	want[VV_MS_KEK2023] = f->any_microsoft;
	want[VV_MS_WIN2023] = f->present[VV_MS_PCA2011];
	want[VV_MS_UEFI2023] = want[VV_MS_OROM2023] = f->present[VV_MS_UEFI2011];
}

struct json_object *
vv_ms_pk_json(const struct vv_ms_facts *f)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "kind", json_object_new_string(vv_ms_pk_kind_name(f->pk_kind)));
	if (f->pk_kind != VV_PK_ABSENT) {
		json_object_object_add(o, "sha256", json_object_new_string(f->pk_sha256));
		json_object_object_add(o, "sha1", json_object_new_string(f->pk_sha1));
		json_object_object_add(o, "subject", json_object_new_string(f->pk_subject));
	}
	if (f->pk_distribution)
		json_object_object_add(o, "distribution", json_object_new_string(f->pk_distribution));
	if (f->kek_update[0]) {
		json_object_object_add(o, "kek_update", json_object_new_string(f->kek_update));
		json_object_object_add(o, "kek_update_shipped",
				       json_object_new_boolean(f->kek_update_shipped));
	}
	return o;
}

struct pk_ref {
	const uint8_t *der;
	size_t size;
};

static int
pk_ref_cert(void *vctx, const uint8_t *der, size_t size)
{
	struct pk_ref *r = vctx;

	r->der = der;
	r->size = size;
	return 1;
}

int
vv_ms_store_pk_cert(const struct vv_store *s, const uint8_t **der, size_t *size)
{
	const struct vv_variable *pk = vv_ms_sb_var(s, "PK");
	struct pk_ref r = { NULL, 0 };

	if (pk == NULL || vv_siglist_validate(pk->data, pk->data_size, 0) != VV_EFI_SUCCESS)
		return -1;
	vv_siglist_for_each_x509(pk->data, pk->data_size, pk_ref_cert, &r);
	if (r.der == NULL)
		return -1;
	*der = r.der;
	*size = r.size;
	return 0;
}

const char *
vv_ms_default_arch(enum vv_format f, size_t raw_size)
{
	/* The x86 OVMF builds are 0x20000 and 0x84000 bytes; ArmVirt's
	 * QEMU_VARS.fd is 0xC0000, padded to 64 MiB by Debian's AAVMF. */
	return f == VV_FORMAT_OVMF_FD && raw_size >= 0xC0000 ? "arm64" : "amd64";
}
