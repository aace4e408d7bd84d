/*
 * src/cli/ms_keys.h -- Microsoft's Secure Boot CAs known by fingerprint, the
 * data set of their signed updates (data/ms-secureboot/, README there), and
 * what a store holds of them: the facts behind `vmvars sb-state` and the
 * plan of `vmvars rollover` (issue #16).
 *
 * Keys are identified by the SHA-256 of their DER certificate, never by
 * name: a self-signed certificate that merely calls itself "Microsoft UEFI
 * CA 2023" is not Microsoft's CA (shared/reference/key-lifecycle-and-fleet.md
 * §1).  The fingerprints are compiled in; every certificate and signed
 * update read from the data set is checked against them, so a newer set can
 * be dropped in (VMVARS_MS_DATA) but a corrupt or substituted file is
 * refused, naming the file and the reason.
 */
#ifndef VMVARS_CLI_MS_KEYS_H
#define VMVARS_CLI_MS_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include <vmvars/formats.h>
#include <vmvars/store.h>

enum vv_ms_ca {
	VV_MS_KEK2011,   /* Microsoft Corporation KEK CA 2011 */
	VV_MS_KEK2023,   /* Microsoft Corporation KEK 2K CA 2023 */
	VV_MS_PCA2011,   /* Microsoft Windows Production PCA 2011 */
	VV_MS_UEFI2011,  /* Microsoft Corporation UEFI CA 2011 (third party) */
	VV_MS_WIN2023,   /* Windows UEFI CA 2023 */
	VV_MS_UEFI2023,  /* Microsoft UEFI CA 2023 (third party) */
	VV_MS_OROM2023,  /* Microsoft Option ROM UEFI CA 2023 */
	VV_MS_NCAS,
};

struct vv_ms_ca_info {
	const char *id;          /* "kek-2011", ... (JSON, --db) */
	const char *name;        /* the certificate's CN */
	const char *var;         /* "KEK" or "db" */
	const char *sha256;      /* of the DER certificate */
	const char *cert;        /* path in the data set */
	const char *update;      /* signed db append, "%s" = arch; NULL if none */
	const char *not_after;   /* "YYYY-MM-DD" */
	long long not_after_epoch;
};
extern const struct vv_ms_ca_info vv_ms_cas[VV_MS_NCAS];

/* Microsoft's owner GUID for its entries (reference §1). */
#define VV_MS_OWNER_GUID "77fa9abd-0359-4d32-bd60-28f4e78f784b"

/* The data set: its directory (VMVARS_MS_DATA, --ms-data, or the installed
 * one) and, once needed, kek_update_map.json. */
struct vv_ms_data {
	char *dir;
	struct json_object *map;
};
/* override NULL: $VMVARS_MS_DATA, else the installed directory. */
int vv_ms_data_open(struct vv_ms_data *d, const char *override, struct vv_error *err);
void vv_ms_data_close(struct vv_ms_data *d);
/* "DIR/rel" (malloc'd). */
char *vv_ms_data_path(const struct vv_ms_data *d, const char *rel);
/* The map entry for a PK's SHA-1 thumbprint (lower hex): the KEKUpdate
 * path, relative to PostSignedObjects/KEK/ as the map writes it, or NULL
 * (none; rc -1 with err when the map cannot be read). */
int vv_ms_map_lookup(struct vv_ms_data *d, const char *pk_sha1, const char **rel,
		     struct vv_error *err);
/* A CA's certificate from the data set, checked against its fingerprint. */
int vv_ms_cert_load(const struct vv_ms_data *d, enum vv_ms_ca ca, uint8_t **der, size_t *size,
		    struct vv_error *err);

/* A signed update (EFI_VARIABLE_AUTHENTICATION_2 + signature lists) read
 * from the data set and checked for form: parses, the signature lists are
 * well formed, the PKCS#7 parses. */
struct vv_ms_update {
	char *path;
	char *rel;
	uint8_t *raw;
	size_t size;
	const uint8_t *payload;  /* into raw */
	size_t payload_size;
};
int vv_ms_update_load(const struct vv_ms_data *d, const char *rel, struct vv_ms_update *u,
		      struct vv_error *err);
void vv_ms_update_free(struct vv_ms_update *u);
/* True if the update's signature over (var, its namespace, NV|BS|RT|AT|APPEND,
 * its timestamp, its payload) verifies with anchor as the trust anchor:
 * the check firmware makes, used to prove a file Microsoft's before the
 * host owner appends its payload to a store that cannot verify it. */
bool vv_ms_update_signed_by(const struct vv_ms_update *u, const char *var, const uint8_t *anchor,
			    size_t anchor_size);
/* True if the update's payload holds the certificate of fingerprint sha256. */
bool vv_ms_payload_has_cert(const uint8_t *esl, size_t size, const char *sha256);

/* What a store holds, by fingerprint. */
enum vv_ms_pk_kind { VV_PK_ABSENT, VV_PK_MS_UPDATE, VV_PK_DISTRIBUTION, VV_PK_CUSTOM };
struct vv_ms_facts {
	bool present[VV_MS_NCAS];
	bool any_microsoft;          /* any of the seven */
	enum vv_ms_pk_kind pk_kind;
	char pk_sha256[65], pk_sha1[41], pk_subject[512];
	const char *pk_distribution; /* name, for VV_PK_DISTRIBUTION */
	char kek_update[512];        /* the map's KEKUpdate, as a path in the data set
				      * (PostSignedObjects/KEK/...), for VV_PK_MS_UPDATE */
	bool kek_update_shipped;     /* that file is in the data set */
	/* the newest dbx update for arch: its entries and how many the store has */
	size_t dbx_total, dbx_applied;
};
/* Fills facts for the store s.  The map lookup and the dbx figures need
 * the data set (d, arch); d NULL skips them.  -1 with err when a data file
 * is unreadable or corrupt (the facts found before it stay filled in). */
int vv_ms_facts(const struct vv_store *s, struct vv_ms_data *d, const char *arch,
		struct vv_ms_facts *f, struct vv_error *err);
const char *vv_ms_pk_kind_name(enum vv_ms_pk_kind k);
/* The 2023 CAs the default rule asks for (issue #16): KEK 2023 when the store
 * trusts any Microsoft CA; Windows UEFI CA 2023 for PCA 2011; Microsoft UEFI
 * CA 2023 and the Option ROM CA for UEFI CA 2011. */
void vv_ms_default_wanted(const struct vv_ms_facts *f, bool want[VV_MS_NCAS]);

/* The PK facts as JSON: kind, sha256, sha1, subject, distribution, kek_update. */
struct json_object *vv_ms_pk_json(const struct vv_ms_facts *f);

/* The first X.509 certificate of the store's PK (pointers into the
 * variable); -1 if there is none. */
int vv_ms_store_pk_cert(const struct vv_store *s, const uint8_t **der, size_t *size);

/* The architecture whose dbx a store gets when none is given: arm64 for an
 * ArmVirt flash image (0xC0000 bytes or more, formats §2.1), else amd64. */
const char *vv_ms_default_arch(enum vv_format f, size_t raw_size);

/* The database variables (EfiGlobalVariable PK/KEK, EfiImageSecurityDatabase db/dbx). */
const struct vv_variable *vv_ms_sb_var(const struct vv_store *s, const char *name);

/* Counts the entries of upd (a valid database) whose type and data (the
 * owner aside) are in have. */
size_t vv_ms_count_present(const uint8_t *have, size_t have_size, const uint8_t *upd,
			   size_t upd_size);

#endif
