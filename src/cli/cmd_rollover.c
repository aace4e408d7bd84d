/*
 * src/cli/cmd_rollover.c -- `vmvars rollover`: the Microsoft 2011 -> 2023 CA
 * rollover of existing stores, done by the host that owns them (issue #16;
 * facts: shared/reference/key-lifecycle-and-fleet.md §1).
 *
 * Per target, all or nothing:
 *   KEK   KEK 2K CA 2023.  If Microsoft's kek_update_map.json has a KEK
 *         update signed by this store's PK (looked up by the PK's SHA-1
 *         thumbprint), it is applied as the guest would apply it: an
 *         authenticated APPEND through SetVariable, verified against the PK
 *         actually in the store.  Otherwise (custom, distribution or
 *         NULL-signed PKs: §1 "Who cannot update in-guest") only with
 *         --allow-host-kek, as the host owner.
 *   db    the 2023 successors of what the store trusts from 2011 (or --db),
 *         from Microsoft's DBUpdate*.bin: authenticated appends when KEK CA
 *         2011 is in KEK (they are signed by it), else host-owner appends of
 *         the same signature lists after checking their signature against
 *         KEK CA 2011 from the data set (so they are Microsoft's).
 *   dbx   the newest DBXUpdate.bin for --arch, the same way.
 * Never removes anything (dbx updates are still signed by KEK CA 2011, §1);
 * appends deduplicate (edk2 FilterSignatureList) and keep Microsoft's owner
 * GUIDs.  Room is checked first: a rollover that would not fit is refused
 * with the bytes missing rather than filling the store ("Volume Full", §1).
 * A target with nothing to do is not rewritten: a second run leaves the file
 * byte for byte as it was.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/sigdb.h>
#include <vmvars/ucs2.h>

#include "cli/cli.h"
#include "cli/ms_keys.h"
#include "cli/store_file.h"

#define ATTR_AT_APPEND (VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT | VV_ATTR_AT | VV_ATTR_APPEND)

static const char *const CMD = "rollover";

void
vv_cmd_rollover_help(FILE *out)
{
	fputs(
"NAME\n"
"    vmvars rollover - add Microsoft's 2023 Secure Boot CAs and the newest dbx\n"
"    to existing stores (the 2011 -> 2023 CA rollover)\n"
"\n"
"SYNOPSIS\n"
"    vmvars rollover FILE... [--dry-run] [--json] [--allow-host-kek]\n"
"                    [--db LIST] [--arch ARCH] [--vtpm] [--ms-data DIR]\n"
"                    [--targets-from LIST] [--force]\n"
"\n"
"DESCRIPTION\n"
"    For each FILE (any store format), all or nothing:\n"
"    KEK: Microsoft Corporation KEK 2K CA 2023.  When Microsoft's KEK update\n"
"    map has an update signed by the store's PK, that update is applied as\n"
"    an authenticated write, verified against the store's PK as the firmware\n"
"    would.  Otherwise (a custom, distribution or NULL-signed PK) the\n"
"    certificate is added as the host owner only with --allow-host-kek.\n"
"    db: by default the 2023 CAs replacing what the store trusts from 2011\n"
"    (Windows Production PCA 2011 -> Windows UEFI CA 2023; UEFI CA 2011 ->\n"
"    Microsoft UEFI CA 2023 and Microsoft Option ROM UEFI CA 2023), from\n"
"    Microsoft's signed db updates: authenticated appends when KEK CA 2011 is\n"
"    in KEK, host-owner appends otherwise.  dbx: the newest dbx update for\n"
"    ARCH, the same way.  Nothing is removed; duplicates are skipped.  The\n"
"    store must have a PK (setup mode is refused).  Room is checked first.\n"
"    A FILE that needs nothing is not rewritten.\n"
"    A running VM: --vm NAME or --socket PATH (or FILE vm:NAME, socket:PATH,\n"
"    also in a --targets-from list): the plan is made from its live store\n"
"    and applied by its vmvarsd as one atomic batch between guest requests.\n"
"\n"
"OPTIONS\n"
"    --dry-run         print the plan; write nothing\n"
"    --json            one JSON report for all targets on stdout\n"
"    --allow-host-kek  add KEK 2023 as the host owner when no Microsoft-signed\n"
"                      KEK update exists for the store's PK\n"
"    --db LIST         the db CAs to add, comma-separated: windows, uefi,\n"
"                      option-rom, or default (the rule above)\n"
"    --arch ARCH       amd64, x86, arm64 or arm: which dbx update (default:\n"
"                      arm64 for an ArmVirt flash image, else amd64)\n"
"    --vtpm            the VM has a vTPM: warn that PCR 7 changes\n"
"    --ms-data DIR     Microsoft's secureboot_objects (default: $VMVARS_MS_DATA,\n"
"                      else the installed copy)\n"
"    --targets-from LIST  more FILEs, one path a line (- for stdin; blank\n"
"                      lines and # comments skipped), for fleets too large\n"
"                      for one command line\n"
"\n"
"EXIT STATUS\n"
"    0 every FILE rolled over, already done, or (--dry-run) planned;\n"
"    1 at least one FILE refused (nothing written to it); 2 usage error.\n", out);
}

struct opts {
	bool dry_run, json, allow_host_kek, vtpm, db_given;
	bool db_want[VV_MS_NCAS];
	const char *arch;
	struct vv_ms_data data;
};

struct step {
	const char *var;
	enum vv_sb_db db;
	char what[160];
	bool authenticated;
	char how[1024];
	struct vv_ms_update upd;      /* the signed file (auth, or source of a host append) */
	uint8_t *esl;                 /* host append built here (KEK by consent) */
	size_t esl_size;
	size_t added;
};

static void
steps_free(struct step *st, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		vv_ms_update_free(&st[i].upd);
		free(st[i].esl);
	}
}

static const uint8_t *
step_payload(const struct step *s, size_t *size)
{
	if (s->esl != NULL) {
		*size = s->esl_size;
		return s->esl;
	}
	*size = s->upd.payload_size;
	return s->upd.payload;
}

/* One EFI_CERT_X509 list with Microsoft's owner GUID (reference §1). */
static int
x509_esl(const uint8_t *der, size_t size, uint8_t **out, size_t *out_size)
{
	vv_guid type, owner;
	uint8_t *b = malloc(28 + 16 + size);

	if (b == NULL)
		return -1;
	vv_guid_parse("a5c059a1-94e4-4aa7-87b5-ab155c2bf072", &type);   /* EFI_CERT_X509 */
	vv_guid_parse(VV_MS_OWNER_GUID, &owner);
	memcpy(b, type.b, 16);
	vv_put_le32(b + 16, (uint32_t)(28 + 16 + size));
	vv_put_le32(b + 20, 0);
	vv_put_le32(b + 24, (uint32_t)(16 + size));
	memcpy(b + 28, owner.b, 16);
	memcpy(b + 44, der, size);
	*out = b;
	*out_size = 28 + 16 + size;
	return 0;
}

/* A db or dbx step from a signed update: authenticated when KEK CA 2011 is in
 * the store's KEK, else the host appends the payload once the file's
 * signature has been checked against Microsoft's KEK CA 2011. */
static int
signed_step(struct step *s, const char *var, enum vv_sb_db db, const char *rel,
	    const struct vv_ms_facts *f, const struct opts *o, struct vv_error *err)
{
	uint8_t *kek2011;
	size_t kek2011_size;
	bool ok;

	s->var = var;
	s->db = db;
	if (vv_ms_update_load(&o->data, rel, &s->upd, err) != 0)
		return -1;
	if (f->present[VV_MS_KEK2011]) {
		s->authenticated = true;
		snprintf(s->how, sizeof(s->how), "authenticated append signed by %s (%s)",
			 vv_ms_cas[VV_MS_KEK2011].name, rel);
		return 0;
	}
	if (vv_ms_cert_load(&o->data, VV_MS_KEK2011, &kek2011, &kek2011_size, err) != 0)
		return -1;
	ok = vv_ms_update_signed_by(&s->upd, var, kek2011, kek2011_size);
	free(kek2011);
	if (!ok)
		return vv_error_set(err, "%s: its signature does not verify against %s: not "
				    "Microsoft's update (corrupt data file)", s->upd.path,
				    vv_ms_cas[VV_MS_KEK2011].name);
	snprintf(s->how, sizeof(s->how), "host-owner append: the store's KEK has no %s to verify "
		 "%s against (its signature was checked against Microsoft's certificate)",
		 vv_ms_cas[VV_MS_KEK2011].name, rel);
	return 0;
}

/* The authenticated step's signature against the anchor the store uses
 * for it: the PK for KEK, KEK CA 2011 (present in KEK, by fingerprint) for
 * db and dbx.  err names the anchor when false. */
static bool
signed_by_store_anchor(struct vv_store_file *sf, const struct step *s, const struct opts *o,
		       struct vv_error *err)
{
	const uint8_t *pk;
	uint8_t *kek2011;
	size_t size;
	bool ok;

	if (strcmp(s->var, "KEK") == 0) {
		vv_error_set(err, "the store's PK");
		return vv_ms_store_pk_cert(sf->store, &pk, &size) == 0 &&
		       vv_ms_update_signed_by(&s->upd, s->var, pk, size);
	}
	vv_error_set(err, "%s", vv_ms_cas[VV_MS_KEK2011].name);
	if (vv_ms_cert_load(&o->data, VV_MS_KEK2011, &kek2011, &size, err) != 0)
		return false;
	ok = vv_ms_update_signed_by(&s->upd, s->var, kek2011, size);
	free(kek2011);
	return ok;
}

static const char *
pk_text(const struct vv_ms_facts *f, char *buf, size_t cap)
{
	if (f->pk_kind == VV_PK_DISTRIBUTION)
		snprintf(buf, cap, "%s's distribution PK (sha256 %.16s...)", f->pk_distribution,
			 f->pk_sha256);
	else
		snprintf(buf, cap, "a custom PK (%.400s, sha256 %.16s...)", f->pk_subject, f->pk_sha256);
	return buf;
}

/* 0, -1 with err (bad data), or -2 with err when only --allow-host-kek could
 * add KEK 2023. */
static int
plan_kek(struct step *s, const struct vv_ms_facts *f, const struct opts *o, struct vv_error *err)
{
	char pk[600];
	uint8_t *der;
	size_t size;

	s->var = "KEK";
	s->db = VV_SB_KEK;
	snprintf(s->what, sizeof(s->what), "%s", vv_ms_cas[VV_MS_KEK2023].name);
	if (f->pk_kind == VV_PK_MS_UPDATE && f->kek_update_shipped) {
		if (vv_ms_update_load(&o->data, f->kek_update, &s->upd, err) != 0)
			return -1;
		if (!vv_ms_payload_has_cert(s->upd.payload, s->upd.payload_size,
					    vv_ms_cas[VV_MS_KEK2023].sha256))
			return vv_error_set(err, "%s: does not hold %s (sha256 %s): wrong or corrupt "
					    "data file", s->upd.path, vv_ms_cas[VV_MS_KEK2023].name,
					    vv_ms_cas[VV_MS_KEK2023].sha256);
		s->authenticated = true;
		snprintf(s->how, sizeof(s->how), "authenticated append signed by the store's PK "
			 "(Microsoft's KEK update for PK %s: %s)", f->pk_sha1, f->kek_update);
		return 0;
	}
	if (!o->allow_host_kek) {
		if (f->pk_kind == VV_PK_MS_UPDATE)
			vv_error_set(err, "Microsoft's map has a KEK update for this store's PK (%s) but "
				     "%s does not ship it: point VMVARS_MS_DATA at a full "
				     "secureboot_objects copy, or add KEK 2023 as the host owner with "
				     "--allow-host-kek", f->kek_update, o->data.dir);
		else
			vv_error_set(err, "KEK 2023 cannot be added with a signature: the store's PK is "
				     "%s, for which Microsoft publishes no signed KEK update; adding it "
				     "as the host owner needs --allow-host-kek",
				     pk_text(f, pk, sizeof(pk)));
		return -2;      /* the owner's consent is needed, not a fault */
	}
	if (vv_ms_cert_load(&o->data, VV_MS_KEK2023, &der, &size, err) != 0)
		return -1;
	if (x509_esl(der, size, &s->esl, &s->esl_size) != 0) {
		free(der);
		return vv_error_set(err, "out of memory");
	}
	free(der);
	snprintf(s->how, sizeof(s->how), "host-owner append (--allow-host-kek): the store's PK is "
		 "%s, with no Microsoft-signed KEK update", f->pk_kind == VV_PK_MS_UPDATE
		 ? "one whose KEK update is not in the data set" : pk_text(f, pk, sizeof(pk)));
	return 0;
}

/*
 * The room the steps need, checked before anything is written (issue #16;
 * reference §1 "Volume Full"): each database's growth is what
 * FilterSignatureList will really append (duplicates cost nothing), a new
 * variable costs its header and name too (store.h invariant 4), and each
 * database must stay under the per-variable limit.
 */
static int
check_room(struct vv_store_file *sf, struct step *st, size_t n, size_t *total,
	   struct vv_error *err)
{
	static const char *const vars[] = { "KEK", "db", "dbx" };
	const struct vv_limits *lim = vv_store_limits(sf->store);
	uint64_t max_storage, remaining, maxvar, need = 0;
	static const uint8_t empty[1];

	for (int k = 0; k < 3; k++) {
		const struct vv_variable *v = vv_ms_sb_var(sf->store, vars[k]);
		uint8_t *cur = NULL;
		size_t cur_size = 0, grow = 0;

		if (v != NULL && v->data_size > 0) {
			if ((cur = malloc(v->data_size)) == NULL)
				return vv_error_set(err, "out of memory");
			memcpy(cur, v->data, v->data_size);
			cur_size = v->data_size;
		}
		for (size_t i = 0; i < n; i++) {
			const uint8_t *p;
			size_t ps;
			uint8_t *add, *grown;
			size_t add_size;

			if (strcmp(st[i].var, vars[k]) != 0)
				continue;
			p = step_payload(&st[i], &ps);
			if (vv_siglist_filter_append(cur ? cur : empty, cur_size, p, ps, &add,
						     &add_size) != VV_EFI_SUCCESS ||
			    (grown = realloc(cur, cur_size + add_size + 1)) == NULL) {
				free(cur);
				return vv_error_set(err, "out of memory");
			}
			memcpy(grown + cur_size, add, add_size);
			free(add);
			cur = grown;
			cur_size += add_size;
			st[i].added = add_size;
			grow += add_size;
		}
		free(cur);
		if (grow == 0)
			continue;
		if (v == NULL)
			grow += lim->variable_overhead + (strlen(vars[k]) + 1) * 2;
		if (lim->variable_overhead + (strlen(vars[k]) + 1) * 2 + cur_size >
		    lim->max_auth_variable_size)
			return vv_error_set(err, "%s: %s would hold %zu bytes, over the store's "
					    "per-variable limit of %llu; nothing written", sf->path,
					    vars[k], cur_size, (unsigned long long)
					    (lim->max_auth_variable_size - lim->variable_overhead -
					     (strlen(vars[k]) + 1) * 2));
		need += grow;
	}
	*total = (size_t)need;
	if (vv_store_query(sf->store, VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT | VV_ATTR_AT,
			   &max_storage, &remaining, &maxvar) != VV_EFI_SUCCESS)
		return vv_error_set(err, "%s: cannot query the store's free space", sf->path);
	if (need > remaining)
		return vv_error_set(err, "%s: not enough room: the rollover adds %llu bytes but the "
				    "store has %llu of %llu bytes free: %llu more bytes needed; "
				    "nothing written", sf->path, (unsigned long long)need,
				    (unsigned long long)remaining, (unsigned long long)max_storage,
				    (unsigned long long)(need - remaining));
	return 0;
}

/* "refused" with the message on stderr and in the report, with a reason
 * code fleet tooling can act on (docs/cli.md): needs-consent, setup-mode,
 * no-room, format-limit, verify-failed, data-error, in-use, unreadable,
 * refused-by-store, write-failed, internal. */
static int
refuse(struct json_object *t, const char *code, const char *msg)
{
	json_object_object_add(t, "result", json_object_new_string("refused"));
	json_object_object_add(t, "reason", json_object_new_string(code));
	json_object_object_add(t, "error", json_object_new_string(msg));
	fprintf(stderr, "%s: %s: %s\n", vv_cli_progname, CMD, msg);
	return 1;
}

static int
rollover_one(const char *file, struct opts *o, struct json_object *t)
{
	struct vv_store_file sf;
	struct vv_error err = { "" };
	struct vv_ms_facts f, after;
	struct step st[8];
	size_t n = 0, total = 0;
	bool want[VV_MS_NCAS];
	enum vv_sb_mode mode;
	const char *arch;
	struct json_object *actions, *warnings;
	char msg[1024];
	int rc = 1;

	memset(st, 0, sizeof(st));
	json_object_object_add(t, "file", json_object_new_string(file));
	if (vv_store_file_open(&sf, file, VV_FORMAT_UNKNOWN, true, &err) != 0)
		return refuse(t, "unreadable", err.msg);
	json_object_object_add(t, "format", json_object_new_string(vv_format_name(sf.format)));
	mode = vv_secureboot_mode(sf.sb);
	json_object_object_add(t, "mode", json_object_new_string(vv_sb_mode_name(mode)));
	if (mode == VV_SB_SETUP || mode == VV_SB_AUDIT) {
		/* Without a PK nothing verifies a signed update (secure-boot.md
		 * "Trust anchors"): the store must be provisioned first. */
		snprintf(msg, sizeof(msg), "%s: in %s mode (no PK): signed updates would not be "
			 "verified; enroll a PK first (vmvars enroll); nothing written", sf.path,
			 vv_sb_mode_name(mode));
		rc = refuse(t, "setup-mode", msg);
		goto out;
	}
	arch = o->arch ? o->arch : vv_ms_default_arch(sf.format, sf.raw_size);
	json_object_object_add(t, "arch", json_object_new_string(arch));
	if (vv_ms_facts(sf.store, &o->data, arch, &f, &err) != 0) {
		snprintf(msg, sizeof(msg), "%s: %s; nothing written", sf.path, err.msg);
		rc = refuse(t, "data-error", msg);
		goto out;
	}
	json_object_object_add(t, "pk", vv_ms_pk_json(&f));
	vv_ms_default_wanted(&f, want);
	if (o->db_given) {
		want[VV_MS_WIN2023] = o->db_want[VV_MS_WIN2023];
		want[VV_MS_UEFI2023] = o->db_want[VV_MS_UEFI2023];
		want[VV_MS_OROM2023] = o->db_want[VV_MS_OROM2023];
		want[VV_MS_KEK2023] = true;
	}
	if (want[VV_MS_KEK2023] && !f.present[VV_MS_KEK2023]) {
		int k = plan_kek(&st[n++], &f, o, &err);

		if (k != 0) {
			snprintf(msg, sizeof(msg), "%s: %s; nothing written", sf.path, err.msg);
			rc = refuse(t, k == -2 ? "needs-consent" : "data-error", msg);
			goto out;
		}
	}
	for (int ca = VV_MS_WIN2023; ca <= VV_MS_OROM2023; ca++) {
		char rel[160];

		if (!want[ca] || f.present[ca])
			continue;
		snprintf(rel, sizeof(rel), vv_ms_cas[ca].update, arch);
		snprintf(st[n].what, sizeof(st[n].what), "%s", vv_ms_cas[ca].name);
		if (signed_step(&st[n++], "db", VV_SB_DB, rel, &f, o, &err) != 0)
			goto data_error;
		if (!vv_ms_payload_has_cert(st[n - 1].upd.payload, st[n - 1].upd.payload_size,
					    vv_ms_cas[ca].sha256)) {
			vv_error_set(&err, "%s: does not hold %s (sha256 %s): wrong or corrupt data "
				     "file", st[n - 1].upd.path, vv_ms_cas[ca].name, vv_ms_cas[ca].sha256);
			goto data_error;
		}
	}
	if (f.any_microsoft && f.dbx_applied < f.dbx_total) {
		char rel[160];

		snprintf(rel, sizeof(rel), "PostSignedObjects/DBX/%s/DBXUpdate.bin", arch);
		snprintf(st[n].what, sizeof(st[n].what), "%zu of the %zu entries of the %s dbx update",
			 f.dbx_total - f.dbx_applied, f.dbx_total, arch);
		if (signed_step(&st[n++], "dbx", VV_SB_DBX, rel, &f, o, &err) != 0)
			goto data_error;
	}
	actions = json_object_new_array();
	json_object_object_add(t, "actions", actions);
	warnings = json_object_new_array();
	json_object_object_add(t, "warnings", warnings);
	if (n == 0) {
		json_object_object_add(t, "result", json_object_new_string("no-op"));
		if (!o->json)
			printf("%s: nothing to do (%s)\n", sf.path, f.any_microsoft
			       ? "the 2023 CAs and the newest dbx are already there"
			       : "the store trusts no Microsoft CA");
		rc = 0;
		goto out;
	}
	if (check_room(&sf, st, n, &total, &err) != 0) {
		rc = refuse(t, "no-room", err.msg);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		vv_status s;

		if (st[i].authenticated) {
			uint16_t name[4];
			size_t len = strlen(st[i].var);

			for (size_t k = 0; k < len; k++)
				name[k] = (uint16_t)st[i].var[k];
			/* Exactly the guest's SetVariable (VV_CALLER_GUEST): the
			 * signature is verified against the store's own PK or KEK. */
			struct vv_set_request req = {
				.name = name, .name_len = len,
				.guid = strcmp(st[i].var, "KEK") == 0 ? VV_GUID_GLOBAL_VARIABLE
								      : VV_GUID_IMAGE_SECURITY_DB,
				.attributes = ATTR_AT_APPEND,
				.data = st[i].upd.raw, .data_size = st[i].upd.size,
				.caller = VV_CALLER_GUEST,
			};
			s = vv_store_set(sf.store, &req);
			if (s != VV_EFI_SUCCESS) {
				snprintf(msg, sizeof(msg), "%s: %s refused by SetVariable (%s): %s: "
					 "not signed by a key this store trusts for %s; nothing "
					 "written", sf.path, st[i].upd.rel, st[i].var,
					 vv_status_name(s), st[i].var);
				rc = refuse(t, "verify-failed", msg);
				goto out;
			}
			/* SetVariable skips the signature in CustomMode (edk2;
			 * secure-boot.md): the update must still be the one its
			 * signer made, checked here against the same anchor. */
			if (!signed_by_store_anchor(&sf, &st[i], o, &err)) {
				snprintf(msg, sizeof(msg), "%s: %s was accepted by SetVariable without a "
					 "signature check (CustomMode?) but is not signed by %s; nothing "
					 "written", sf.path, st[i].upd.rel, err.msg);
				rc = refuse(t, "verify-failed", msg);
				goto out;
			}
		} else {
			const uint8_t *p;
			size_t ps;

			p = step_payload(&st[i], &ps);
			s = vv_secureboot_enroll(sf.sb, st[i].db, p, ps, true);
			if (s != VV_EFI_SUCCESS) {
				snprintf(msg, sizeof(msg), "%s: appending %s to %s refused: %s; nothing "
					 "written", sf.path, st[i].what, st[i].var, vv_status_name(s));
				rc = refuse(t, "refused-by-store", msg);
				goto out;
			}
		}
	}
	/* What was asked for is now there, by fingerprint. */
	if (vv_ms_facts(sf.store, &o->data, arch, &after, &err) != 0) {
		snprintf(msg, sizeof(msg), "%s: %s; nothing written", sf.path, err.msg);
		rc = refuse(t, "data-error", msg);
		goto out;
	}
	for (int ca = 0; ca < VV_MS_NCAS; ca++)
		if (want[ca] && !after.present[ca]) {
			snprintf(msg, sizeof(msg), "%s: %s still missing after the update; nothing "
				 "written", sf.path, vv_ms_cas[ca].name);
			rc = refuse(t, "internal", msg);
			goto out;
		}
	/* The target format must hold the result too (the flash layout's
	 * per-variable and record-space limits for an fd image): serialise it
	 * now, so that a refusal comes before any plan is printed or written. */
	{
		uint8_t *out = NULL;
		size_t out_size = 0;
		bool fd = sf.format == VV_FORMAT_OVMF_FD;

		if (vv_format_save(sf.format, sf.store, fd ? sf.raw : NULL, fd ? sf.raw_size : 0, &out,
				   &out_size, NULL, &err) != 0) {
			snprintf(msg, sizeof(msg), "%s: %s; nothing written", sf.path, err.msg);
			rc = refuse(t, "format-limit", msg);
			goto out;
		}
		free(out);
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *a = json_object_new_object();

		json_object_object_add(a, "variable", json_object_new_string(st[i].var));
		json_object_object_add(a, "adds", json_object_new_string(st[i].what));
		json_object_object_add(a, "method", json_object_new_string(
			st[i].authenticated ? "authenticated" : "host"));
		json_object_object_add(a, "how", json_object_new_string(st[i].how));
		if (st[i].upd.rel)
			json_object_object_add(a, "source", json_object_new_string(st[i].upd.rel));
		json_object_object_add(a, "bytes", json_object_new_int64((int64_t)st[i].added));
		json_object_array_add(actions, a);
		if (!o->json)
			printf("%s: %-3s + %s: %s (+%zu bytes)\n", sf.path, st[i].var, st[i].what,
			       st[i].how, st[i].added);
	}
	json_object_object_add(t, "bytes_added", json_object_new_int64((int64_t)total));
	if (o->vtpm) {
		const char *w = "the VM has a vTPM: PCR 7 measures PK, KEK, db and dbx, so BitLocker "
				"or LUKS keys sealed to PCR 7 will ask for their recovery key at the "
				"next boot; first suspend BitLocker (manage-bde -protectors -disable "
				"C: -RebootCount 1) or re-seal the LUKS TPM2 slot after the boot "
				"(systemd-cryptenroll --wipe-slot=tpm2 --tpm2-device=auto)";

		json_object_array_add(warnings, json_object_new_string(w));
		fprintf(stderr, "%s: %s: warning: %s: %s\n", vv_cli_progname, CMD, sf.path, w);
	}
	if (o->dry_run) {
		json_object_object_add(t, "result", json_object_new_string("planned"));
		if (!o->json)
			printf("%s: dry run: %zu changes, +%zu bytes; nothing written\n", sf.path, n,
			       total);
		rc = 0;
		goto out;
	}
	if (vv_store_file_save(&sf, NULL, VV_FORMAT_UNKNOWN, NULL, 0, &err) != 0) {
		snprintf(msg, sizeof(msg), "%s; nothing written", err.msg);
		rc = refuse(t, strstr(err.msg, " is in use by ") ? "in-use" : "write-failed", msg);
		goto out;
	}
	json_object_object_add(t, "result", json_object_new_string("rolled-over"));
	if (!o->json)
		printf("%s: rolled over: %zu changes, +%zu bytes\n", sf.path, n, total);
	rc = 0;
	goto out;
data_error:
	snprintf(msg, sizeof(msg), "%s: %s; nothing written", sf.path, err.msg);
	rc = refuse(t, "data-error", msg);
out:
	steps_free(st, n);
	vv_store_file_close(&sf);
	return rc;
}

/*
 * --targets-from LIST: one store path a line ("-" reads stdin), for fleets
 * whose thousands of stores would not fit one command line (ARG_MAX).
 * Blank lines and lines starting with '#' are skipped; a path is taken
 * whole (spaces included), never split or globbed.
 */
static int
read_targets(const char *path, char ***out, size_t *n, struct vv_error *err)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char *line = NULL, **list = NULL;
	size_t cap = 0, lcap = 0;
	ssize_t len;

	*out = NULL;
	*n = 0;
	if (f == NULL)
		return vv_error_set(err, "%s: %s", path, strerror(errno));
	while ((len = getline(&line, &cap, f)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if (*n == lcap) {
			char **nl = realloc(list, (lcap = lcap ? lcap * 2 : 64) * sizeof(*list));

			if (nl == NULL)
				break;
			list = nl;
		}
		if ((list[*n] = strdup(line)) == NULL)
			break;
		(*n)++;
	}
	free(line);
	if (ferror(f) || !feof(f)) {
		if (f != stdin)
			fclose(f);
		for (size_t i = 0; i < *n; i++)
			free(list[i]);
		free(list);
		*n = 0;
		return vv_error_set(err, "%s: read error or out of memory", path);
	}
	if (f != stdin)
		fclose(f);
	*out = list;
	return 0;
}

static int
parse_db_list(const char *text, struct opts *o)
{
	char buf[256], *tok, *save = NULL;

	if (strlen(text) >= sizeof(buf))
		return -1;
	strcpy(buf, text);
	o->db_given = true;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "windows") == 0)
			o->db_want[VV_MS_WIN2023] = true;
		else if (strcmp(tok, "uefi") == 0)
			o->db_want[VV_MS_UEFI2023] = true;
		else if (strcmp(tok, "option-rom") == 0)
			o->db_want[VV_MS_OROM2023] = true;
		else if (strcmp(tok, "default") == 0)
			o->db_given = false;
		else
			return -1;
	}
	return 0;
}

int
vv_cmd_rollover(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "allow-host-kek", no_argument, NULL, 'K' },
		{ "db", required_argument, NULL, 'd' },
		{ "arch", required_argument, NULL, 'a' },
		{ "vtpm", no_argument, NULL, 't' },
		{ "ms-data", required_argument, NULL, 'm' },
		{ "targets-from", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ "force", no_argument, NULL, VV_CLI_OPT_FORCE },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o;
	const char *ms_data = NULL, *targets_from = NULL;
	char **list = NULL;
	size_t nlist = 0;
	struct vv_error err = { "" };
	struct json_object *doc, *targets;
	size_t counts[4] = { 0, 0, 0, 0 };   /* rolled-over, no-op, planned, refused */
	int c, failed = 0;

	memset(&o, 0, sizeof(o));
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "njh", opts, NULL)) != -1) {
		switch (c) {
		case 'n': o.dry_run = true; break;
		case 'j': o.json = true; break;
		case 'K': o.allow_host_kek = true; break;
		case 't': o.vtpm = true; break;
		case 'm': ms_data = optarg; break;
		case 'T': targets_from = optarg; break;
		case 'a':
			if (strcmp(optarg, "amd64") != 0 && strcmp(optarg, "x86") != 0 &&
			    strcmp(optarg, "arm64") != 0 && strcmp(optarg, "arm") != 0)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "--arch: amd64, x86, arm64 or arm");
			o.arch = optarg;
			break;
		case 'd':
			if (parse_db_list(optarg, &o) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "--db: a comma-separated list of "
						   "windows, uefi, option-rom, default");
			break;
		case 'h': vv_cmd_rollover_help(stdout); return VV_EXIT_OK;
		case VV_CLI_OPT_FORCE: vv_cli_write.force = true; break;
		default:
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown option '%s' (see vmvars rollover --help)",
					   argv[optind - 1]);
		}
	}
	if (argc - optind < 1 && targets_from == NULL)
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "expected FILE... or --targets-from LIST");
	if (targets_from != NULL && read_targets(targets_from, &list, &nlist, &err) != 0)
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	if (vv_ms_data_open(&o.data, ms_data, &err) != 0)
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	doc = json_object_new_object();
	targets = json_object_new_array();
	json_object_object_add(doc, "targets", targets);
	for (size_t i = 0; i < (size_t)(argc - optind) + nlist; i++) {
		struct json_object *t = json_object_new_object();
		struct json_object *r;
		const char *res;
		const char *file = i < (size_t)(argc - optind) ? argv[optind + (int)i]
							      : list[i - (size_t)(argc - optind)];

		failed |= rollover_one(file, &o, t);
		json_object_array_add(targets, t);
		res = json_object_object_get_ex(t, "result", &r) ? json_object_get_string(r) : "refused";
		counts[strcmp(res, "rolled-over") == 0 ? 0 : strcmp(res, "no-op") == 0 ? 1 :
		       strcmp(res, "planned") == 0 ? 2 : 3]++;
	}
	json_object_object_add(doc, "rolled_over", json_object_new_int64((int64_t)counts[0]));
	json_object_object_add(doc, "no_op", json_object_new_int64((int64_t)counts[1]));
	json_object_object_add(doc, "planned", json_object_new_int64((int64_t)counts[2]));
	json_object_object_add(doc, "refused", json_object_new_int64((int64_t)counts[3]));
	if (o.json)
		vv_cli_print_json(doc);
	else
		json_object_put(doc);
	vv_ms_data_close(&o.data);
	for (size_t i = 0; i < nlist; i++)
		free(list[i]);
	free(list);
	return failed ? VV_EXIT_FAIL : VV_EXIT_OK;
}
