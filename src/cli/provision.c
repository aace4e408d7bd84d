/*
 * src/cli/provision.c -- one-shot Secure Boot provisioning for `vmvars
 * create` (issue #16 item 4; provision.h): a new store with a PK, the
 * Microsoft KEK/db set of a chosen generation or a distribution's keys, a
 * dbx, and Secure Boot on, as virt-fw-vars' --enroll-cert / --enroll-redhat
 * --microsoft-kek --secure-boot do (varstore-formats §7.1):
 *
 *   PK   the given certificate (owner --owner, default OvmfEnrollDefaultKeys
 *        as virt-fw-vars), enrolled last: it ends Setup mode;
 *   KEK  that certificate first (as --enroll-cert), then Microsoft's KEK CA
 *        2011 and/or KEK 2K CA 2023 (owner MicrosoftVendor);
 *   db   2011: Windows Production PCA 2011, Microsoft UEFI CA 2011;
 *        2023: Windows UEFI CA 2023, Microsoft UEFI CA 2023, Microsoft
 *        Option ROM UEFI CA 2023 (owner MicrosoftVendor);
 *   dbx  Microsoft's newest DBXUpdate.bin for the architecture, its
 *        signature checked against Microsoft's KEK CA 2011 first (the host
 *        enrolls its payload; a store whose KEK holds only the 2023 CA
 *        could not verify it itself);
 *   or --keys-from TEMPLATE: PK, KEK, db and dbx byte for byte from a
 *        distribution's enrolled store (Debian's OVMF_VARS_4M.ms.fd).
 *
 * Every certificate comes from the data set checked against its compiled-in
 * fingerprint (ms_keys.h).  Enrolling PK turns Secure Boot on
 * (SecureBootEnable 1, User mode, secureboot.c); provisioning then checks
 * that the firmware would enforce it, else nothing is written.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cli/cli.h"
#include "cli/ms_keys.h"
#include "cli/provision.h"
#include "cli/store_file.h"

#define CERT_X509 "a5c059a1-94e4-4aa7-87b5-ab155c2bf072"

struct esl {
	uint8_t *p;
	size_t n;
};

/* Appends one EFI_SIGNATURE_LIST holding one X.509 certificate. */
static int
esl_add_cert(struct esl *e, const uint8_t *der, size_t size, const vv_guid *owner)
{
	vv_guid type;
	uint8_t *p;

	if (size > 0xFFFFFFFFu - 44 || (p = realloc(e->p, e->n + 44 + size)) == NULL)
		return -1;
	vv_guid_parse(CERT_X509, &type);
	memcpy(p + e->n, type.b, 16);
	vv_put_le32(p + e->n + 16, (uint32_t)(44 + size));
	vv_put_le32(p + e->n + 20, 0);
	vv_put_le32(p + e->n + 24, (uint32_t)(16 + size));
	memcpy(p + e->n + 28, owner->b, 16);
	memcpy(p + e->n + 44, der, size);
	e->p = p;
	e->n += 44 + size;
	return 0;
}

/* A certificate file, PEM (the first certificate) or DER, as DER. */
static int
read_cert(const char *path, uint8_t **der, size_t *size, struct vv_error *err)
{
	uint8_t *data, *out = NULL;
	size_t n;
	X509 *x = NULL;
	int len;

	if (vv_read_file(path, &data, &n, err) != 0)
		return -1;
	if (n >= 10 && memcmp(data, "-----BEGIN", 10) == 0) {
		BIO *bio = BIO_new_mem_buf(data, (int)n);

		if (bio != NULL)
			x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
	} else {
		const unsigned char *p = data;

		x = d2i_X509(NULL, &p, (long)n);
		if (x != NULL && p != data + n) {
			X509_free(x);
			x = NULL;
		}
	}
	free(data);
	if (x == NULL)
		return vv_error_set(err, "%s: not an X.509 certificate (PEM or DER)", path);
	len = i2d_X509(x, &out);
	X509_free(x);
	if (len <= 0)
		return vv_error_set(err, "%s: cannot encode the certificate", path);
	*der = malloc((size_t)len);
	if (*der == NULL) {
		OPENSSL_free(out);
		return vv_error_set(err, "out of memory");
	}
	memcpy(*der, out, (size_t)len);
	OPENSSL_free(out);
	*size = (size_t)len;
	return 0;
}

/* Microsoft's CA, from the data set checked by fingerprint, into e. */
static int
add_ms(struct esl *e, const struct vv_ms_data *d, enum vv_ms_ca ca, struct vv_error *err)
{
	vv_guid owner;
	uint8_t *der;
	size_t size;
	int rc;

	vv_guid_parse(VV_MS_OWNER_GUID, &owner);
	if (vv_ms_cert_load(d, ca, &der, &size, err) != 0)
		return -1;
	rc = esl_add_cert(e, der, size, &owner);
	free(der);
	return rc != 0 ? vv_error_set(err, "out of memory") : 0;
}

static int
enroll(struct vv_store_file *sf, enum vv_sb_db db, const char *name, const struct esl *e,
       struct vv_error *err)
{
	vv_status st;

	if (e->n == 0)
		return 0;
	st = vv_secureboot_enroll(sf->sb, db, e->p, e->n, false);
	if (st != VV_EFI_SUCCESS)
		return vv_error_set(err, "%s refused by the store: %s", name, vv_status_name(st));
	return 0;
}

/* The newest Microsoft dbx update for arch: verified against KEK CA 2011,
 * its payload into e. */
static int
add_dbx(struct esl *e, const struct vv_ms_data *d, const char *arch, struct vv_error *err)
{
	char rel[128];
	struct vv_ms_update u;
	uint8_t *kek2011;
	size_t size;
	bool ok;

	snprintf(rel, sizeof(rel), "PostSignedObjects/DBX/%s/DBXUpdate.bin", arch);
	if (vv_ms_update_load(d, rel, &u, err) != 0)
		return -1;
	if (vv_ms_cert_load(d, VV_MS_KEK2011, &kek2011, &size, err) != 0) {
		vv_ms_update_free(&u);
		return -1;
	}
	ok = vv_ms_update_signed_by(&u, "dbx", kek2011, size);
	free(kek2011);
	if (!ok) {
		vv_error_set(err, "%s: its signature does not verify against %s: not Microsoft's "
			     "update (corrupt data file)", u.path, vv_ms_cas[VV_MS_KEK2011].name);
		vv_ms_update_free(&u);
		return -1;
	}
	e->p = malloc(u.payload_size);
	if (e->p == NULL) {
		vv_ms_update_free(&u);
		return vv_error_set(err, "out of memory");
	}
	memcpy(e->p, u.payload, u.payload_size);
	e->n = u.payload_size;
	vv_ms_update_free(&u);
	return 0;
}

/* --keys-from: PK, KEK, db and dbx of a distribution's enrolled store. */
static int
keys_from(struct vv_store_file *sf, const char *tmpl, struct vv_error *err)
{
	static const struct { const char *name; enum vv_sb_db db; bool global; } dbs[] = {
		{ "KEK", VV_SB_KEK, true }, { "db", VV_SB_DB, false }, { "dbx", VV_SB_DBX, false },
		{ "PK", VV_SB_PK, true },
	};
	struct vv_store_file t;
	int rc = 0;

	if (vv_store_file_open(&t, tmpl, VV_FORMAT_UNKNOWN, false, err) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]) && rc == 0; i++) {
		uint16_t *name;
		size_t len;
		const struct vv_variable *v;
		struct esl e = { NULL, 0 };

		name = vv_cli_name(dbs[i].name, &len);
		if (name == NULL) {
			rc = vv_error_set(err, "out of memory");
			break;
		}
		v = vv_store_find(t.store, name, len, dbs[i].global ? &VV_GUID_GLOBAL_VARIABLE :
				  &VV_GUID_IMAGE_SECURITY_DB);
		free(name);
		if (v == NULL) {
			if (dbs[i].db == VV_SB_PK || dbs[i].db == VV_SB_KEK)
				rc = vv_error_set(err, "%s: no %s: not an enrolled store", tmpl,
						  dbs[i].name);
			continue;
		}
		e.p = v->data;
		e.n = v->data_size;
		rc = enroll(sf, dbs[i].db, dbs[i].name, &e, err);
	}
	vv_store_file_close(&t);
	return rc;
}

int
vv_provision(struct vv_store_file *sf, const struct vv_provision *p, struct vv_error *err)
{
	struct vv_ms_data d = { NULL, NULL };
	struct esl kek = { NULL, 0 }, db = { NULL, 0 }, dbx = { NULL, 0 }, pk = { NULL, 0 };
	uint8_t *der = NULL;
	size_t der_size = 0;
	bool need_data = p->ms_2011 || p->ms_2023 || p->dbx_arch != NULL;
	int rc = -1;

	if (p->keys_from != NULL && keys_from(sf, p->keys_from, err) != 0)
		return -1;
	if (need_data && vv_ms_data_open(&d, p->ms_data, err) != 0)
		return -1;
	if (p->pk_cert != NULL) {
		if (read_cert(p->pk_cert, &der, &der_size, err) != 0)
			goto out;
		if (esl_add_cert(&pk, der, der_size, &p->owner) != 0 ||
		    esl_add_cert(&kek, der, der_size, &p->owner) != 0) {
			vv_error_set(err, "out of memory");
			goto out;
		}
	}
	if ((p->ms_2011 && (add_ms(&kek, &d, VV_MS_KEK2011, err) != 0 ||
			    add_ms(&db, &d, VV_MS_PCA2011, err) != 0 ||
			    add_ms(&db, &d, VV_MS_UEFI2011, err) != 0)) ||
	    (p->ms_2023 && (add_ms(&kek, &d, VV_MS_KEK2023, err) != 0 ||
			    add_ms(&db, &d, VV_MS_WIN2023, err) != 0 ||
			    add_ms(&db, &d, VV_MS_UEFI2023, err) != 0 ||
			    add_ms(&db, &d, VV_MS_OROM2023, err) != 0)))
		goto out;
	if (p->dbx_arch != NULL && add_dbx(&dbx, &d, p->dbx_arch, err) != 0)
		goto out;
	/* With --keys-from the template's lists are kept and ours appended. */
	if (p->keys_from != NULL) {
		if ((kek.n && vv_secureboot_enroll(sf->sb, VV_SB_KEK, kek.p, kek.n, true) !=
		     VV_EFI_SUCCESS) ||
		    (db.n && vv_secureboot_enroll(sf->sb, VV_SB_DB, db.p, db.n, true) !=
		     VV_EFI_SUCCESS) ||
		    (dbx.n && vv_secureboot_enroll(sf->sb, VV_SB_DBX, dbx.p, dbx.n, true) !=
		     VV_EFI_SUCCESS)) {
			vv_error_set(err, "appending to the template's keys was refused by the store");
			goto out;
		}
	} else if (enroll(sf, VV_SB_KEK, "KEK", &kek, err) != 0 ||
		   enroll(sf, VV_SB_DB, "db", &db, err) != 0 ||
		   enroll(sf, VV_SB_DBX, "dbx", &dbx, err) != 0 ||
		   enroll(sf, VV_SB_PK, "PK", &pk, err) != 0) {
		goto out;
	}
	if (!vv_secureboot_enforcing(sf->sb)) {
		vv_error_set(err, "Secure Boot would not be enforced (mode %s); nothing written",
			     vv_sb_mode_name(vv_secureboot_mode(sf->sb)));
		goto out;
	}
	rc = 0;
out:
	free(der);
	free(kek.p);
	free(db.p);
	free(dbx.p);
	free(pk.p);
	vv_ms_data_close(&d);
	return rc;
}
