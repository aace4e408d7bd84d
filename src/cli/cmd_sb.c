/*
 * src/cli/cmd_sb.c -- Secure Boot from the command line:
 *   enroll    host-owner enrollment of PK/KEK/db/dbx/dbt/dbr from PEM or DER
 *             certificates, signature lists (.esl), .auth payloads or
 *             SHA-256 hashes, with owner GUIDs (vv_secureboot_enroll), or
 *             copied from an enrolled template store (--from);
 *   sb-certs  every X.509 certificate of PK/KEK/db/dbx written as PEM
 *             (virt-fw-vars --extract-certs);
 *   apply     a signed .auth applied exactly as the guest would send it
 *             (vv_store_set, VV_CALLER_GUEST): verified, refused if invalid;
 *   sign      an EFI_VARIABLE_AUTHENTICATION_2 .auth from a signature list,
 *             a key and a certificate, as efitools' sign-efi-sig-list makes
 *             it (varstore-formats §11.1-§11.2);
 *   sb-state  the true state, the keys and every certificate's validity,
 *             with --require-secure-boot for enforcement;
 *   sb-mode   the host owner's mode change (Deployed -> User etc.).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include <vmvars/sigdb.h>
#include <vmvars/ucs2.h>

#include "cli/cli.h"
#include "cli/ms_keys.h"
#include "cli/store_file.h"

#define ATTR_SB_DB (VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT | VV_ATTR_AT)   /* §10.1, §11.2 */
#define CERT_X509_GUID "a5c059a1-94e4-4aa7-87b5-ab155c2bf072"           /* §9.2 */
#define CERT_SHA256_GUID "c1c41626-504c-4092-aca9-41f936934328"
#define CERT_TYPE_PKCS7_GUID "4aafd29d-68df-49ee-8aa9-347d375665a7"     /* §11.1 */

static const struct {
	const char *name;
	enum vv_sb_db db;
	bool global;          /* EfiGlobalVariable, else EfiImageSecurityDatabase */
} databases[] = {
	{ "PK", VV_SB_PK, true }, { "KEK", VV_SB_KEK, true }, { "db", VV_SB_DB, false },
	{ "dbx", VV_SB_DBX, false }, { "dbt", VV_SB_DBT, false }, { "dbr", VV_SB_DBR, false },
};

static int
database_index(const char *name)
{
	for (int i = 0; i < 6; i++)
		if (strcmp(name, databases[i].name) == 0)
			return i;
	return -1;
}

static const struct vv_variable *sb_var(const struct vv_store *s, int idx);

/* ---- help texts -------------------------------------------------------- */

void
vv_cmd_enroll_help(FILE *out)
{
	fputs(
"NAME\n"
"    vmvars enroll - enroll Secure Boot keys into a store file (host owner)\n"
"\n"
"SYNOPSIS\n"
"    vmvars enroll FILE DATABASE [SOURCE...] [--owner GUID] [--hash SHA256]...\n"
"                  [--replace] [--delete] [-o OUT] [--force]\n"
"    vmvars enroll FILE --from TEMPLATE [DATABASE] [-o OUT] [--force]\n"
"\n"
"DESCRIPTION\n"
"    DATABASE is PK, KEK, db, dbx, dbt or dbr.  Each SOURCE is a certificate in\n"
"    PEM or DER form (becomes one EFI_CERT_X509 list owned by --owner), a\n"
"    signature list (.esl, owners kept), or a .auth file (its signature lists\n"
"    are enrolled; its signature is not checked -- the host owner needs none,\n"
"    like virt-fw-vars --set-dbx).  --hash adds an EFI_CERT_SHA256 entry.\n"
"    The host owner enrolls without a signature, with the current time as\n"
"    the timestamp; the value is format-checked like a guest write (PK holds\n"
"    exactly one certificate).  KEK, db, dbx, dbt and dbr are appended to\n"
"    (duplicates skipped) unless --replace; PK is always replaced.  Enrolling\n"
"    PK leaves Setup mode (User), or Audit mode (Deployed).  --delete empties\n"
"    the database (deleting PK returns to Setup mode).\n"
"\n"
"    --from TEMPLATE copies KEK, db, dbx and then PK (or only DATABASE) from\n"
"    any readable store file, e.g. a distribution's enrolled template such as\n"
"    /usr/share/OVMF/OVMF_VARS_4M.ms.fd: each copied database replaces FILE's\n"
"    with the template's value byte for byte (owners kept), enrolled as the\n"
"    host owner.  Databases the template lacks are left as they are in FILE;\n"
"    a template holding none of them (or not DATABASE) is an error.\n"
"\n"
"OPTIONS\n"
"    --owner GUID   owner of certificates and hashes (default: the all-zero\n"
"                   GUID, as cert-to-efi-sig-list; names: ms, redhat, ...)\n"
"    --from TEMPLATE  copy the databases of TEMPLATE (any format)\n"
"    -o OUT         write OUT instead of rewriting FILE\n"
"\n"
"EXIT STATUS\n"
"    0 enrolled, 1 refused or unreadable input, 2 usage error.\n", out);
}

void
vv_cmd_apply_help(FILE *out)
{
	fputs(
"NAME\n"
"    vmvars apply - apply a signed .auth update as the guest would\n"
"\n"
"SYNOPSIS\n"
"    vmvars apply FILE AUTHFILE --var NAME [--guid GUID] [--append] [-o OUT] [--force]\n"
"\n"
"DESCRIPTION\n"
"    AUTHFILE (EFI_VARIABLE_AUTHENTICATION_2 + value, as sign-efi-sig-list or\n"
"    vmvars sign writes it) is passed to SetVariable with attributes\n"
"    NV|BS|RT|AT (plus APPEND with --append) exactly as a guest's call: the\n"
"    signature is verified against PK (for PK and KEK) or KEK (for db, dbx),\n"
"    the timestamp must be newer, and private authenticated variables are\n"
"    bound to their signer.  A refused update prints the EFI status and leaves\n"
"    FILE byte for byte as it was.  The namespace defaults to\n"
"    EfiGlobalVariable for PK and KEK and EfiImageSecurityDatabase for db,\n"
"    dbx, dbt and dbr.\n"
"\n"
"EXIT STATUS\n"
"    0 applied, 1 refused or unreadable input, 2 usage error.\n", out);
}

void
vv_cmd_sign_help(FILE *out)
{
	fputs(
"NAME\n"
"    vmvars sign - make a signed .auth update (like sign-efi-sig-list)\n"
"\n"
"SYNOPSIS\n"
"    vmvars sign --key KEY.pem --cert CERT.pem [--time \"YYYY-MM-DD HH:MM:SS\"]\n"
"                [--append] [--guid GUID] [--attr ATTR] VAR IN.esl OUT.auth\n"
"\n"
"DESCRIPTION\n"
"    Writes EFI_VARIABLE_AUTHENTICATION_2 (timestamp, WIN_CERTIFICATE_UEFI_GUID\n"
"    with a PKCS#7 SignedData) followed by IN.esl.  The signature covers\n"
"    VAR (UCS-2, no NUL) || namespace GUID || attributes || timestamp ||\n"
"    IN.esl, and is made as efitools does: detached, binary, no signed\n"
"    attributes, SHA-256, bare SignedData.  With the same key, certificate,\n"
"    time and input the output equals sign-efi-sig-list's byte for byte.\n"
"    Attributes are NV|BS|RT|AT, plus APPEND with --append.  The namespace is\n"
"    EfiGlobalVariable for PK and KEK, EfiImageSecurityDatabase for db, dbx,\n"
"    dbt and dbr, else --guid (required).  An empty IN.esl (e.g. /dev/null)\n"
"    makes a delete.  --time defaults to now (UTC).\n"
"\n"
"EXIT STATUS\n"
"    0 written, 1 failure (unreadable key, certificate or input), 2 usage error.\n", out);
}

void
vv_cmd_sb_state_help(FILE *out)
{
	fputs(
"NAME\n"
"    vmvars sb-state - the true Secure Boot state of a store file\n"
"\n"
"SYNOPSIS\n"
"    vmvars sb-state FILE [--json] [--require-secure-boot] [--warn-days N]\n"
"                    [--arch ARCH] [--ms-data DIR]\n"
"\n"
"DESCRIPTION\n"
"    Prints the mode (setup, user, audit, deployed) as the firmware derives\n"
"    it from the file, whether Secure Boot will be enforced at the next boot\n"
"    and if not why, SecureBootEnable, which of PK, KEK, db, dbx are present\n"
"    and their entry counts, and every certificate of PK, KEK, db and dbx with\n"
"    its subject, issuer, validity, SHA-256 and status: ok, expiring (within N\n"
"    days, default 365) or expired.\n"
"\n"
"    Microsoft's seven Secure Boot CAs (KEK CA 2011, KEK 2K CA 2023, Windows\n"
"    Production PCA 2011, UEFI CA 2011, Windows UEFI CA 2023, Microsoft UEFI\n"
"    CA 2023, Option ROM UEFI CA 2023) are identified by the SHA-256 of their\n"
"    certificate, never by name: present or not, expiry against today's date.\n"
"    Also: the PK's kind (absent, microsoft-kek-update: Microsoft publishes a\n"
"    KEK update signed by it; distribution; custom), how many entries of\n"
"    Microsoft's newest dbx update for ARCH the dbx holds (ARCH: amd64, x86,\n"
"    arm64, arm; default arm64 for an ArmVirt flash image, else amd64), and a\n"
"    verdict: ready, needs-rollover, host-only (the guest cannot add KEK 2023\n"
"    itself: vmvars rollover --allow-host-kek) or secure-boot-off.  DIR is\n"
"    Microsoft's secureboot_objects (default: $VMVARS_MS_DATA, else the\n"
"    installed copy).\n"
"\n"
"    --require-secure-boot  exit 3 unless the store would boot with Secure\n"
"                           Boot enforced (PK enrolled, User or Deployed mode,\n"
"                           SecureBootEnable not 0).\n"
"\n"
"EXIT STATUS\n"
"    0 printed (and, with --require-secure-boot, enforced); 1 the file cannot\n"
"    be read; 2 usage error; 3 --require-secure-boot and not enforced.\n", out);
}

void
vv_cmd_sb_mode_help(FILE *out)
{
	fputs(
"NAME\n"
"    vmvars sb-mode - change the Secure Boot mode as the platform owner\n"
"\n"
"SYNOPSIS\n"
"    vmvars sb-mode FILE setup|user|audit|deployed [-o OUT] [--force]\n"
"\n"
"DESCRIPTION\n"
"    The platform-specific transitions of UEFI 2.10 §32.3: setup and audit\n"
"    delete PK; user and deployed need an enrolled PK.  Deployed -> User is\n"
"    only possible this way.\n"
"\n"
"EXIT STATUS\n"
"    0 changed, 1 refused (e.g. user without a PK), 2 usage error.\n", out);
}

/* ---- enroll ------------------------------------------------------------ */

struct bytes {
	uint8_t *p;
	size_t n;
};

static int
bytes_append(struct bytes *b, const uint8_t *d, size_t n)
{
	uint8_t *p = realloc(b->p, b->n + n + 1);

	if (p == NULL)
		return -1;
	memcpy(p + b->n, d, n);
	b->p = p;
	b->n += n;
	return 0;
}

/* One EFI_SIGNATURE_LIST with one entry (§9.1). */
static int
append_list(struct bytes *b, const char *type_guid, const vv_guid *owner, const uint8_t *data,
	    size_t size)
{
	uint8_t hdr[28 + 16];
	vv_guid type;

	if (size > 0xFFFFFFFFu - sizeof(hdr))
		return -1;
	vv_guid_parse(type_guid, &type);
	memcpy(hdr, type.b, 16);
	vv_put_le32(hdr + 16, (uint32_t)(28 + 16 + size));
	vv_put_le32(hdr + 20, 0);
	vv_put_le32(hdr + 24, (uint32_t)(16 + size));
	memcpy(hdr + 28, owner->b, 16);
	if (bytes_append(b, hdr, sizeof(hdr)) != 0)
		return -1;
	return bytes_append(b, data, size);
}

/* A certificate file in PEM (first certificate) or DER: its DER bytes. */
static int
cert_der(const uint8_t *data, size_t size, uint8_t **der, size_t *der_size)
{
	X509 *x = NULL;
	BIO *bio;
	int n;
	unsigned char *out = NULL;

	if (size >= 10 && memcmp(data, "-----BEGIN", 10) == 0) {
		if ((bio = BIO_new_mem_buf(data, (int)size)) == NULL)
			return -1;
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
	} else if (size <= 0x7fffffff) {
		const unsigned char *p = data;

		x = d2i_X509(NULL, &p, (long)size);
		if (x != NULL && p != data + size) {   /* trailing bytes: not one cert */
			X509_free(x);
			x = NULL;
		}
	}
	if (x == NULL)
		return -1;
	n = i2d_X509(x, &out);
	X509_free(x);
	if (n <= 0)
		return -1;
	*der = out;
	*der_size = (size_t)n;
	return 0;
}

/* Adds one SOURCE to the database being built; err names the file. */
static int
add_source(struct bytes *b, const char *path, const vv_guid *owner, struct vv_error *err)
{
	uint8_t *data, *der;
	size_t size, der_size;
	struct vv_auth2 a;
	int rc = 0;

	if (vv_read_file(path, &data, &size, err) != 0)
		return -1;
	if (cert_der(data, size, &der, &der_size) == 0) {
		rc = append_list(b, CERT_X509_GUID, owner, der, der_size);
		OPENSSL_free(der);
		if (rc != 0)
			vv_error_set(err, "%s: out of memory", path);
	} else if (size > 0 && vv_siglist_validate(data, size, 0) == VV_EFI_SUCCESS) {
		if ((rc = bytes_append(b, data, size)) != 0)
			vv_error_set(err, "%s: out of memory", path);
	} else if (vv_auth2_parse(data, size, &a) == VV_EFI_SUCCESS &&
		   vv_siglist_validate(a.payload, a.payload_size, 0) == VV_EFI_SUCCESS) {
		if ((rc = bytes_append(b, a.payload, a.payload_size)) != 0)
			vv_error_set(err, "%s: out of memory", path);
	} else {
		rc = vv_error_set(err, "%s: neither a PEM/DER certificate, a valid signature list nor "
				  "a .auth file with valid signature lists", path);
	}
	free(data);
	return rc;
}

/*
 * enroll --from: copies databases of a template store into FILE as the host
 * owner.  which < 0 means KEK, db, dbx, then PK last (PK ends Setup mode,
 * the order a firmware enrollment uses); databases the template lacks are
 * skipped, and a template holding none of them is an error.  All
 * enrollments happen in memory; FILE is saved only if every one succeeded.
 */
static int
enroll_from(const char *file, const char *tmpl, int which, const char *output)
{
	static const char *const CMD = "enroll";
	static const int order[] = { 1, 2, 3, 0 };   /* KEK, db, dbx, PK */
	struct vv_store_file sf, tf;
	struct vv_error err = { "" };
	size_t copied = 0;
	int rc = VV_EXIT_OK;
	vv_status st;

	if (vv_store_file_open(&tf, tmpl, VV_FORMAT_UNKNOWN, false, &err) != 0)
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	if (vv_store_file_open(&sf, file, VV_FORMAT_UNKNOWN, true, &err) != 0) {
		vv_store_file_close(&tf);
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	}
	for (int k = 0; k < 4 && rc == VV_EXIT_OK; k++) {
		int idx = which >= 0 ? which : order[k];
		const struct vv_variable *v = sb_var(tf.store, idx);

		if (which >= 0 && k > 0)
			break;
		if (v == NULL || v->data_size == 0)
			continue;
		st = vv_secureboot_enroll(sf.sb, databases[idx].db, v->data, v->data_size, false);
		if (st != VV_EFI_SUCCESS)
			rc = vv_cli_fail(VV_EXIT_FAIL, CMD, "%s: enrolling %s from %s refused: %s; "
					 "nothing written", sf.path, databases[idx].name, tmpl,
					 vv_cli_why(sf.store, st));
		copied++;
	}
	if (rc == VV_EXIT_OK && copied == 0)
		rc = vv_cli_fail(VV_EXIT_FAIL, CMD, "%s: holds no %s; nothing written", tmpl,
				 which >= 0 ? databases[which].name : "PK, KEK, db or dbx");
	if (rc == VV_EXIT_OK && vv_store_file_save(&sf, output, VV_FORMAT_UNKNOWN, NULL, 0, &err) != 0)
		rc = vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	vv_store_file_close(&sf);
	vv_store_file_close(&tf);
	return rc;
}

int
vv_cmd_enroll(int argc, char **argv)
{
	static const char *const CMD = "enroll";
	static const struct option opts[] = {
		{ "owner", required_argument, NULL, 'g' },
		{ "hash", required_argument, NULL, 'H' },
		{ "replace", no_argument, NULL, 'r' },
		{ "delete", no_argument, NULL, 'd' },
		{ "output", required_argument, NULL, 'o' },
		{ "from", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ "force", no_argument, NULL, VV_CLI_OPT_FORCE },
		{ NULL, 0, NULL, 0 },
	};
	struct bytes db = { NULL, 0 };
	vv_guid owner;
	bool replace = false, del = false, have_owner = false;
	const char *output = NULL, *from = NULL;
	char *hashes[64];
	size_t nhashes = 0;
	struct vv_store_file sf;
	struct vv_error err = { "" };
	int c, idx, rc = VV_EXIT_OK;
	vv_status st;

	memset(&owner, 0, sizeof(owner));
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "g:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'g':
			if (vv_cli_parse_guid(optarg, &owner) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "not a GUID: '%s'", optarg);
			have_owner = true;
			break;
		case 'F': from = optarg; break;
		case 'H':
			if (nhashes == 64)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "at most 64 --hash options");
			hashes[nhashes++] = optarg;
			break;
		case 'r': replace = true; break;
		case 'd': del = true; break;
		case 'o': output = optarg; break;
		case 'h': vv_cmd_enroll_help(stdout); return VV_EXIT_OK;
		case VV_CLI_OPT_FORCE: vv_cli_write.force = true; break;
		default:
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown option '%s' (see vmvars enroll --help)",
					   argv[optind - 1]);
		}
	}
	if (from != NULL) {
		/* The template's lists carry their own owners; nothing to add. */
		if (argc - optind < 1 || argc - optind > 2 || nhashes || del || replace || have_owner)
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "--from takes FILE [DATABASE] and no "
					   "SOURCE, --hash, --owner, --replace or --delete");
		idx = -1;
		if (argc - optind == 2 && (idx = database_index(argv[optind + 1])) < 0)
			return vv_cli_fail(VV_EXIT_USAGE, CMD,
					   "DATABASE must be PK, KEK, db, dbx, dbt or dbr");
		return enroll_from(argv[optind], from, idx, output);
	}
	if (argc - optind < 2)
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "expected FILE DATABASE [SOURCE...]");
	if ((idx = database_index(argv[optind + 1])) < 0)
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "DATABASE must be PK, KEK, db, dbx, dbt or dbr");
	if (del != (argc - optind == 2 && nhashes == 0))
		return vv_cli_fail(VV_EXIT_USAGE, CMD, del ? "--delete takes no SOURCE"
							   : "nothing to enroll (SOURCE or --hash)");
	for (int i = optind + 2; i < argc; i++) {
		if (add_source(&db, argv[i], &owner, &err) != 0) {
			free(db.p);
			return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
		}
	}
	for (size_t i = 0; i < nhashes; i++) {
		uint8_t *h;
		size_t hn;

		if (vv_cli_parse_hex(hashes[i], &h, &hn) != 0 || hn != 32) {
			if (hn != 32)
				free(h);
			free(db.p);
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "--hash: not a SHA-256 in hex: '%s'", hashes[i]);
		}
		c = append_list(&db, CERT_SHA256_GUID, &owner, h, 32);
		free(h);
		if (c != 0) {
			free(db.p);
			return vv_cli_fail(VV_EXIT_FAIL, CMD, "out of memory");
		}
	}
	if (vv_store_file_open(&sf, argv[optind], VV_FORMAT_UNKNOWN, true, &err) != 0) {
		free(db.p);
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	}
	st = vv_secureboot_enroll(sf.sb, databases[idx].db, db.p, db.n,
				  !replace && !del && databases[idx].db != VV_SB_PK);
	if (st != VV_EFI_SUCCESS)
		rc = vv_cli_fail(VV_EXIT_FAIL, CMD, "%s: enrolling %s refused: %s%s; nothing written",
				 sf.path, databases[idx].name, vv_cli_why(sf.store, st),
				 st == VV_EFI_INVALID_PARAMETER && databases[idx].db == VV_SB_PK
					 ? " (PK holds exactly one certificate)" : "");
	else if (vv_store_file_save(&sf, output, VV_FORMAT_UNKNOWN, NULL, 0, &err) != 0)
		rc = vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	vv_store_file_close(&sf);
	free(db.p);
	return rc;
}

/* ---- apply ------------------------------------------------------------- */

/* The namespace a database name implies (§11.2), or the given one. */
static int
var_guid(const char *name, bool have_guid, const vv_guid *given, vv_guid *out)
{
	int idx = database_index(name);

	if (have_guid) {
		*out = *given;
		return 0;
	}
	if (idx < 0)
		return -1;
	*out = databases[idx].global ? VV_GUID_GLOBAL_VARIABLE : VV_GUID_IMAGE_SECURITY_DB;
	return 0;
}

int
vv_cmd_apply(int argc, char **argv)
{
	static const char *const CMD = "apply";
	static const struct option opts[] = {
		{ "var", required_argument, NULL, 'v' },
		{ "guid", required_argument, NULL, 'g' },
		{ "append", no_argument, NULL, 'a' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "force", no_argument, NULL, VV_CLI_OPT_FORCE },
		{ NULL, 0, NULL, 0 },
	};
	const char *var = NULL, *output = NULL;
	bool have_guid = false, append = false;
	vv_guid given, guid;
	struct vv_store_file sf;
	struct vv_error err = { "" };
	uint8_t *auth;
	size_t auth_size, len;
	uint16_t *name;
	int c, rc = VV_EXIT_OK;
	vv_status st;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "v:g:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'v': var = optarg; break;
		case 'g':
			if (vv_cli_parse_guid(optarg, &given) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "not a GUID: '%s'", optarg);
			have_guid = true;
			break;
		case 'a': append = true; break;
		case 'o': output = optarg; break;
		case 'h': vv_cmd_apply_help(stdout); return VV_EXIT_OK;
		case VV_CLI_OPT_FORCE: vv_cli_write.force = true; break;
		default:
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown option '%s' (see vmvars apply --help)",
					   argv[optind - 1]);
		}
	}
	if (argc - optind != 2 || var == NULL)
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "expected FILE AUTHFILE --var NAME");
	if (var_guid(var, have_guid, &given, &guid) != 0)
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "--guid is required for '%s'", var);
	if ((name = vv_cli_name(var, &len)) == NULL)
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "not a variable name: '%s'", var);
	if (vv_read_file(argv[optind + 1], &auth, &auth_size, &err) != 0) {
		free(name);
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	}
	if (vv_store_file_open(&sf, argv[optind], VV_FORMAT_UNKNOWN, true, &err) != 0) {
		free(name);
		free(auth);
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	}
	struct vv_set_request req = {
		.name = name, .name_len = len, .guid = guid,
		.attributes = ATTR_SB_DB | (append ? VV_ATTR_APPEND : 0),
		.data = auth, .data_size = auth_size,
		.caller = VV_CALLER_GUEST,
	};
	st = vv_store_set(sf.store, &req);
	if (st != VV_EFI_SUCCESS)
		rc = vv_cli_fail(VV_EXIT_FAIL, CMD, "%s: %s refused by SetVariable: %s; %s not written",
				 argv[optind + 1], var, vv_cli_why(sf.store, st), output ? output : sf.path);
	else if (vv_store_file_save(&sf, output, VV_FORMAT_UNKNOWN, NULL, 0, &err) != 0)
		rc = vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	vv_store_file_close(&sf);
	free(name);
	free(auth);
	return rc;
}

/* ---- sign -------------------------------------------------------------- */

static int
parse_time(const char *text, vv_efi_time *t)
{
	struct tm tm;
	char *end;

	memset(&tm, 0, sizeof(tm));
	if (text == NULL) {
		time_t now = time(NULL);

		gmtime_r(&now, &tm);
	} else if ((end = strptime(text, "%Y-%m-%d %H:%M:%S", &tm)) == NULL || *end != '\0') {
		return -1;
	}
	/* efitools -t uses the same "%Y-%m-%d %H:%M:%S" (§11.3). */
	vv_efi_time_from_tm(&tm, t);
	return 0;
}

static void *
read_pem(const char *path, bool key, struct vv_error *err)
{
	BIO *bio = BIO_new_file(path, "r");
	void *obj;

	if (bio == NULL) {
		vv_error_set(err, "%s: %s", path, strerror(errno));
		return NULL;
	}
	obj = key ? (void *)PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
		  : (void *)PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (obj == NULL)
		vv_error_set(err, "%s: not a PEM %s", path, key ? "private key" : "certificate");
	return obj;
}

/* Detached, binary, no attributes, SHA-256; bare SignedData DER (what
 * Debian's efitools 1.9.2 writes, §11.3). */
static unsigned char *
make_signature(X509 *cert, EVP_PKEY *key, const uint8_t *data, size_t size, int *out_len)
{
	const int flags = PKCS7_BINARY | PKCS7_DETACHED | PKCS7_NOATTR;
	BIO *bio = BIO_new_mem_buf(data, (int)size);
	PKCS7 *p7 = NULL;
	unsigned char *der = NULL;

	*out_len = 0;
	if (bio == NULL || size > 0x7fffffff)
		goto out;
	if ((p7 = PKCS7_sign(NULL, NULL, NULL, bio, flags | PKCS7_PARTIAL)) == NULL ||
	    PKCS7_sign_add_signer(p7, cert, key, EVP_sha256(), flags) == NULL ||
	    PKCS7_final(p7, bio, flags) != 1)
		goto out;
	*out_len = i2d_PKCS7_SIGNED(p7->d.sign, &der);
	if (*out_len <= 0) {
		der = NULL;
		*out_len = 0;
	}
out:
	PKCS7_free(p7);
	BIO_free(bio);
	return der;
}

static int
build_auth(const char *var, const vv_guid *guid, uint32_t attr, const vv_efi_time *t,
	   const uint8_t *esl, size_t esl_size, X509 *cert, EVP_PKEY *key, struct bytes *out,
	   struct vv_error *err)
{
	uint16_t *name;
	size_t len, signed_size;
	uint8_t *signed_data, hdr[40];
	unsigned char *sig;
	int sig_len;
	vv_guid pkcs7;

	if ((name = vv_cli_name(var, &len)) == NULL)
		return vv_error_set(err, "not a variable name: '%s'", var);
	signed_data = vv_auth2_signed_data(name, len, guid, attr, t, esl, esl_size, &signed_size);
	free(name);
	if (signed_data == NULL)
		return vv_error_set(err, "out of memory");
	sig = make_signature(cert, key, signed_data, signed_size, &sig_len);
	free(signed_data);
	if (sig == NULL) {
		unsigned long e = ERR_get_error();

		return vv_error_set(err, "signing failed: %s (does the key match the certificate?)",
				    e ? ERR_reason_error_string(e) : "OpenSSL error");
	}
	/* §11.1: TimeStamp, dwLength = 24 + signature, wRevision 0x0200,
	 * wCertificateType 0x0EF1, CertType PKCS7, CertData, then the value. */
	memcpy(hdr, t->b, 16);
	vv_put_le32(hdr + 16, (uint32_t)(24 + sig_len));
	vv_put_le16(hdr + 20, 0x0200);
	vv_put_le16(hdr + 22, 0x0EF1);
	vv_guid_parse(CERT_TYPE_PKCS7_GUID, &pkcs7);
	memcpy(hdr + 24, pkcs7.b, 16);
	if (bytes_append(out, hdr, sizeof(hdr)) != 0 || bytes_append(out, sig, (size_t)sig_len) != 0 ||
	    bytes_append(out, esl, esl_size) != 0) {
		OPENSSL_free(sig);
		return vv_error_set(err, "out of memory");
	}
	OPENSSL_free(sig);
	return 0;
}

int
vv_cmd_sign(int argc, char **argv)
{
	static const char *const CMD = "sign";
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "cert", required_argument, NULL, 'c' },
		{ "time", required_argument, NULL, 't' },
		{ "append", no_argument, NULL, 'a' },
		{ "guid", required_argument, NULL, 'g' },
		{ "attr", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *keyfile = NULL, *certfile = NULL, *timetext = NULL;
	bool append = false, have_guid = false, have_attr = false;
	vv_guid given, guid;
	uint32_t attr = ATTR_SB_DB;
	vv_efi_time t;
	struct vv_error err = { "" };
	struct bytes out = { NULL, 0 };
	uint8_t *esl = NULL;
	size_t esl_size = 0;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int c, rc = VV_EXIT_FAIL;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "k:c:t:ag:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': keyfile = optarg; break;
		case 'c': certfile = optarg; break;
		case 't': timetext = optarg; break;
		case 'a': append = true; break;
		case 'g':
			if (vv_cli_parse_guid(optarg, &given) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "not a GUID: '%s'", optarg);
			have_guid = true;
			break;
		case 'A':
			if (vv_cli_parse_attr(optarg, &attr) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "bad attributes '%s'", optarg);
			have_attr = true;
			break;
		case 'h': vv_cmd_sign_help(stdout); return VV_EXIT_OK;
		default:
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown option '%s' (see vmvars sign --help)",
					   argv[optind - 1]);
		}
	}
	if (argc - optind != 3 || keyfile == NULL || certfile == NULL)
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "expected --key KEY --cert CERT VAR IN.esl OUT.auth");
	/* §11.2: PK/KEK/db/dbx are forced to their standard namespaces. */
	if (database_index(argv[optind]) >= 0)
		have_guid = false;
	if (var_guid(argv[optind], have_guid, &given, &guid) != 0)
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "--guid is required for '%s'", argv[optind]);
	if (parse_time(timetext, &t) != 0)
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "--time must be \"YYYY-MM-DD HH:MM:SS\"");
	if (append)
		attr |= VV_ATTR_APPEND;
	(void)have_attr;
	if (vv_read_file(argv[optind + 1], &esl, &esl_size, &err) != 0 &&
	    strcmp(argv[optind + 1], "/dev/null") != 0)
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	if ((key = read_pem(keyfile, true, &err)) == NULL || (cert = read_pem(certfile, false, &err)) == NULL)
		goto out;
	if (build_auth(argv[optind], &guid, attr, &t, esl, esl_size, cert, key, &out, &err) != 0)
		goto out;
	if (vv_write_file_atomic(argv[optind + 2], out.p, out.n, &err) != 0)
		goto out;
	rc = VV_EXIT_OK;
out:
	if (rc != VV_EXIT_OK)
		vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	EVP_PKEY_free(key);
	X509_free(cert);
	free(esl);
	free(out.p);
	return rc;
}

/* ---- sb-state ---------------------------------------------------------- */

struct state_ctx {
	struct json_object *certs;
	const char *var;
	long long now, warn_seconds;
	size_t expired, expiring;
};

static int
state_cert(void *vctx, const uint8_t *der, size_t size)
{
	struct state_ctx *ctx = vctx;
	struct vv_cert_info ci;
	struct json_object *o;
	const char *status;

	if (vv_cert_info(der, size, &ci) != 0)
		return 0;
	if (ci.not_after_epoch < ctx->now) {
		status = "expired";
		ctx->expired++;
	} else if (ci.not_after_epoch - ctx->now < ctx->warn_seconds) {
		status = "expiring";
		ctx->expiring++;
	} else {
		status = "ok";
	}
	o = json_object_new_object();
	json_object_object_add(o, "variable", json_object_new_string(ctx->var));
	vv_cert_info_json(o, &ci);
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_array_add(ctx->certs, o);
	return 0;
}

static const struct vv_variable *
sb_var(const struct vv_store *s, int idx)
{
	uint16_t n[4];
	size_t len = strlen(databases[idx].name);

	for (size_t i = 0; i <= len; i++)
		n[i] = (uint16_t)databases[idx].name[i];
	return vv_store_find(s, n, len, databases[idx].global ? &VV_GUID_GLOBAL_VARIABLE
							      : &VV_GUID_IMAGE_SECURITY_DB);
}

static int
secure_boot_enable_value(const struct vv_store *s)
{
	static const uint16_t n[] = u"SecureBootEnable";
	const struct vv_variable *v = vv_store_find(s, n, 16, &VV_GUID_SECURE_BOOT_ENABLE);

	return v != NULL && v->data_size == 1 ? v->data[0] : -1;
}

static const char *
not_enforced_reason(enum vv_sb_mode m, bool pk, int sbe)
{
	if (!pk && m == VV_SB_AUDIT)
		return "Audit mode: no PK, signatures are checked but not enforced";
	if (!pk)
		return "Setup mode: no PK enrolled";
	if (sbe == 0)
		return "SecureBootEnable is 0";
	return "";
}

/*
 * The Microsoft CA rollover state (issue #16), every CA identified by the
 * SHA-256 of its certificate (ms_keys.h), never by name: a self-signed
 * certificate calling itself "Microsoft UEFI CA 2023" is not counted.  The
 * verdict says what `vmvars rollover` would do to the store.
 */
static void
microsoft_state(struct json_object *doc, struct json_object *warnings, struct vv_store_file *sf,
		bool enforced, const char *reason, const char *ms_data, const char *arch,
		long long now, long long warn_seconds)
{
	struct vv_ms_data d;
	struct vv_ms_facts f;
	struct vv_error err = { "" };
	struct json_object *cas = json_object_new_array(), *y2011 = json_object_new_array(),
			   *y2023 = json_object_new_array(), *dbx;
	bool data_ok = vv_ms_data_open(&d, ms_data, &err) == 0, want[VV_MS_NCAS];
	bool facts_ok, kek_missing, dbx_missing;
	const char *verdict;
	char text[1024], missing[512] = "";

	facts_ok = vv_ms_facts(sf->store, data_ok ? &d : NULL, arch, &f, &err) == 0 && data_ok;
	if (!facts_ok)
		json_object_array_add(warnings, json_object_new_string(err.msg));
	json_object_object_add(doc, "pk", vv_ms_pk_json(&f));
	for (int i = 0; i < VV_MS_NCAS; i++) {
		struct json_object *o = json_object_new_object();
		const char *status = vv_ms_cas[i].not_after_epoch < now ? "expired" :
				     vv_ms_cas[i].not_after_epoch - now < warn_seconds ? "expiring" : "ok";

		json_object_object_add(o, "id", json_object_new_string(vv_ms_cas[i].id));
		json_object_object_add(o, "name", json_object_new_string(vv_ms_cas[i].name));
		json_object_object_add(o, "variable", json_object_new_string(vv_ms_cas[i].var));
		json_object_object_add(o, "sha256", json_object_new_string(vv_ms_cas[i].sha256));
		json_object_object_add(o, "present", json_object_new_boolean(f.present[i]));
		json_object_object_add(o, "expires", json_object_new_string(vv_ms_cas[i].not_after));
		json_object_object_add(o, "status", json_object_new_string(status));
		json_object_array_add(cas, o);
		if (f.present[i])
			json_object_array_add(strstr(vv_ms_cas[i].name, "2011") ? y2011 : y2023,
					      json_object_new_string(vv_ms_cas[i].name));
		if (f.present[i] && strcmp(status, "ok") != 0) {
			long long days = (vv_ms_cas[i].not_after_epoch - now) / 86400;

			if (days < 0)
				snprintf(text, sizeof(text), "%s (%s) expired on %s, %lld days ago: new "
					 "signed media and updates use its 2023 successor", vv_ms_cas[i].name,
					 vv_ms_cas[i].var, vv_ms_cas[i].not_after, -days);
			else
				snprintf(text, sizeof(text), "%s (%s) expires on %s, in %lld days",
					 vv_ms_cas[i].name, vv_ms_cas[i].var, vv_ms_cas[i].not_after, days);
			json_object_array_add(warnings, json_object_new_string(text));
		}
	}
	json_object_object_add(doc, "microsoft_cas", cas);
	json_object_object_add(doc, "microsoft_2011_cas", y2011);
	json_object_object_add(doc, "microsoft_2023_cas", y2023);
	dbx = json_object_new_object();
	json_object_object_add(dbx, "arch", json_object_new_string(arch));
	json_object_object_add(dbx, "entries", json_object_new_int64((int64_t)f.dbx_total));
	json_object_object_add(dbx, "applied", json_object_new_int64((int64_t)f.dbx_applied));
	json_object_object_add(doc, "dbx_update", facts_ok ? dbx : NULL);
	if (!facts_ok)
		json_object_put(dbx);

	vv_ms_default_wanted(&f, want);
	for (int i = 0; i < VV_MS_NCAS; i++)
		if (want[i] && !f.present[i])
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), "%s%s",
				 missing[0] ? ", " : "", vv_ms_cas[i].name);
	kek_missing = want[VV_MS_KEK2023] && !f.present[VV_MS_KEK2023];
	dbx_missing = f.any_microsoft && facts_ok && f.dbx_applied < f.dbx_total;
	if (!enforced) {
		verdict = "secure-boot-off";
		snprintf(text, sizeof(text), "Secure Boot off (%s)", reason);
	} else if (!f.any_microsoft) {
		verdict = "ready";
		snprintf(text, sizeof(text), "ready: the store trusts no Microsoft CA, nothing to roll over");
	} else if (!missing[0] && !dbx_missing) {
		verdict = facts_ok ? "ready" : "unknown";
		snprintf(text, sizeof(text), facts_ok ? "ready: the 2023 CAs and the newest %s dbx are there"
			 : "the 2023 CAs are there; the dbx state is unknown (%s data unreadable)", arch);
	} else {
		int k = snprintf(text, sizeof(text), "needs rollover:%s%s", missing[0] ? " missing " : "",
				 missing);

		if (dbx_missing)
			k += snprintf(text + k, sizeof(text) - (size_t)k, "%s%zu of %zu newest %s dbx "
				      "entries applied", missing[0] ? "; " : " ", f.dbx_applied,
				      f.dbx_total, arch);
		if (kek_missing && f.pk_kind != VV_PK_MS_UPDATE && facts_ok) {
			verdict = "host-only";
			snprintf(text + k, sizeof(text) - (size_t)k, "; cannot be rolled over in-guest: "
				 "the PK has no Microsoft-signed KEK update (vmvars rollover "
				 "--allow-host-kek)");
		} else {
			verdict = "needs-rollover";
			snprintf(text + k, sizeof(text) - (size_t)k, " (vmvars rollover)");
		}
	}
	json_object_object_add(doc, "verdict", json_object_new_string(verdict));
	json_object_object_add(doc, "verdict_text", json_object_new_string(text));
	if (data_ok)
		vv_ms_data_close(&d);
}

static void
print_state_text(struct json_object *doc)
{
	struct json_object *keys, *certs, *o;

	printf("mode:        %s\n", json_object_get_string(json_object_object_get(doc, "mode")));
	printf("enforced:    %s", json_object_get_boolean(json_object_object_get(doc, "enforced")) ? "yes" : "no");
	o = json_object_object_get(doc, "reason");
	if (o != NULL)
		printf(" (%s)", json_object_get_string(o));
	printf("\nSecureBootEnable: %s\n", json_object_get_string(json_object_object_get(doc, "secure_boot_enable")));
	keys = json_object_object_get(doc, "keys");
	printf("keys:");
	json_object_object_foreach(keys, k, v)
		printf("  %s=%d", k, json_object_get_int(v));
	printf("  (entries; 0 = absent)\n");
	certs = json_object_object_get(doc, "certificates");
	for (size_t i = 0; i < json_object_array_length(certs); i++) {
		struct json_object *c = json_object_array_get_idx(certs, i);

		printf("%-4s %-8s %s\n", json_object_get_string(json_object_object_get(c, "variable")),
		       json_object_get_string(json_object_object_get(c, "status")),
		       json_object_get_string(json_object_object_get(c, "subject")));
		printf("              issuer:  %s\n", json_object_get_string(json_object_object_get(c, "issuer")));
		printf("              valid:   %s .. %s\n",
		       json_object_get_string(json_object_object_get(c, "not_before")),
		       json_object_get_string(json_object_object_get(c, "not_after")));
		printf("              sha256:  %s\n", json_object_get_string(json_object_object_get(c, "sha256")));
	}
	o = json_object_object_get(doc, "pk");
	printf("PK kind:     %s", json_object_get_string(json_object_object_get(o, "kind")));
	if (json_object_object_get(o, "distribution"))
		printf(" (%s)", json_object_get_string(json_object_object_get(o, "distribution")));
	if (json_object_object_get(o, "kek_update"))
		printf(" (%s)", json_object_get_string(json_object_object_get(o, "kek_update")));
	printf("\nMicrosoft CAs (by SHA-256):\n");
	o = json_object_object_get(doc, "microsoft_cas");
	for (size_t i = 0; i < json_object_array_length(o); i++) {
		struct json_object *c = json_object_array_get_idx(o, i);

		printf("  %-4s %-38s %-8s %s %s\n",
		       json_object_get_string(json_object_object_get(c, "variable")),
		       json_object_get_string(json_object_object_get(c, "name")),
		       json_object_get_boolean(json_object_object_get(c, "present")) ? "present" : "absent",
		       json_object_get_string(json_object_object_get(c, "status")),
		       json_object_get_string(json_object_object_get(c, "expires")));
	}
	o = json_object_object_get(doc, "dbx_update");
	if (o != NULL)
		printf("dbx:         %lld of %lld entries of the newest %s update\n",
		       (long long)json_object_get_int64(json_object_object_get(o, "applied")),
		       (long long)json_object_get_int64(json_object_object_get(o, "entries")),
		       json_object_get_string(json_object_object_get(o, "arch")));
	printf("verdict:     %s\n", json_object_get_string(json_object_object_get(doc, "verdict_text")));
	o = json_object_object_get(doc, "warnings");
	for (size_t i = 0; i < json_object_array_length(o); i++)
		printf("warning: %s\n", json_object_get_string(json_object_array_get_idx(o, i)));
}

int
vv_cmd_sb_state(int argc, char **argv)
{
	static const char *const CMD = "sb-state";
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "require-secure-boot", no_argument, NULL, 'r' },
		{ "warn-days", required_argument, NULL, 'w' },
		{ "input-format", required_argument, NULL, 'f' },
		{ "arch", required_argument, NULL, 'a' },
		{ "ms-data", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *arch = NULL, *ms_data = NULL;
	bool json = false, require = false, enforced, pk;
	long warn_days = 365;
	enum vv_format fmt = VV_FORMAT_UNKNOWN;
	struct vv_store_file sf;
	struct vv_error err = { "" };
	struct state_ctx ctx;
	struct json_object *doc, *keys, *warnings;
	enum vv_sb_mode mode;
	char *end;
	int c, sbe;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "jrw:f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (strcmp(optarg, "amd64") != 0 && strcmp(optarg, "x86") != 0 &&
			    strcmp(optarg, "arm64") != 0 && strcmp(optarg, "arm") != 0)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "--arch: amd64, x86, arm64 or arm");
			arch = optarg;
			break;
		case 'm': ms_data = optarg; break;
		case 'j': json = true; break;
		case 'r': require = true; break;
		case 'w':
			errno = 0;
			warn_days = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || warn_days < 0 || warn_days > 36500)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "--warn-days: 0..36500");
			break;
		case 'f':
			if (vv_cli_parse_format(optarg, &fmt) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown format '%s'", optarg);
			break;
		case 'h': vv_cmd_sb_state_help(stdout); return VV_EXIT_OK;
		default:
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown option '%s' (see vmvars sb-state --help)",
					   argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "expected one FILE");
	if (vv_store_file_open(&sf, argv[optind], fmt, true, &err) != 0)
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);

	mode = vv_secureboot_mode(sf.sb);
	enforced = vv_secureboot_enforcing(sf.sb);
	pk = sb_var(sf.store, 0) != NULL;
	sbe = secure_boot_enable_value(sf.store);
	doc = json_object_new_object();
	json_object_object_add(doc, "file", json_object_new_string(sf.path));
	json_object_object_add(doc, "mode", json_object_new_string(vv_sb_mode_name(mode)));
	json_object_object_add(doc, "enforced", json_object_new_boolean(enforced));
	if (!enforced)
		json_object_object_add(doc, "reason",
				       json_object_new_string(not_enforced_reason(mode, pk, sbe)));
	json_object_object_add(doc, "secure_boot_enable",
			       json_object_new_string(sbe < 0 ? "absent" : sbe ? "1" : "0"));
	keys = json_object_new_object();
	memset(&ctx, 0, sizeof(ctx));
	ctx.certs = json_object_new_array();
	ctx.now = (long long)time(NULL);
	ctx.warn_seconds = (long long)warn_days * 86400;
	for (int i = 0; i < 4; i++) {
		const struct vv_variable *v = sb_var(sf.store, i);
		size_t n = 0;

		if (v != NULL && vv_siglist_validate(v->data, v->data_size, 0) == VV_EFI_SUCCESS) {
			n = vv_siglist_count(v->data, v->data_size);
			ctx.var = databases[i].name;
			vv_siglist_for_each_x509(v->data, v->data_size, state_cert, &ctx);
		}
		json_object_object_add(keys, databases[i].name, json_object_new_int((int)n));
	}
	json_object_object_add(doc, "keys", keys);
	json_object_object_add(doc, "certificates", ctx.certs);
	warnings = json_object_new_array();
	if (ctx.expired)
		json_object_array_add(warnings, json_object_new_string("expired certificates present"));
	if (ctx.expiring)
		json_object_array_add(warnings, json_object_new_string("certificates expiring soon"));
	if (sb_var(sf.store, 3) == NULL && pk)
		json_object_array_add(warnings, json_object_new_string("no dbx: nothing is revoked"));
	microsoft_state(doc, warnings, &sf, enforced, not_enforced_reason(mode, pk, sbe), ms_data,
			arch ? arch : vv_ms_default_arch(sf.format, sf.raw_size), ctx.now,
			ctx.warn_seconds);
	json_object_object_add(doc, "warnings", warnings);
	if (json)
		puts(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
						    JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		print_state_text(doc);
	json_object_put(doc);
	vv_store_file_close(&sf);
	if (require && !enforced) {
		fprintf(stderr, "%s: %s: %s: Secure Boot would not be enforced at next boot\n",
			vv_cli_progname, CMD, argv[optind]);
		return VV_EXIT_NOT_SECURE;
	}
	return VV_EXIT_OK;
}

/* ---- sb-mode ----------------------------------------------------------- */

int
vv_cmd_sb_mode(int argc, char **argv)
{
	static const char *const CMD = "sb-mode";
	static const char *const names[] = { "setup", "user", "audit", "deployed" };
	static const enum vv_sb_mode modes[] = { VV_SB_SETUP, VV_SB_USER, VV_SB_AUDIT, VV_SB_DEPLOYED };
	const char *output = NULL;
	struct vv_store_file sf;
	struct vv_error err = { "" };
	int c, m = -1, rc = VV_EXIT_OK;
	vv_status st;
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "force", no_argument, NULL, VV_CLI_OPT_FORCE },
		{ NULL, 0, NULL, 0 },
	};

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		if (c == 'o') {
			output = optarg;
		} else if (c == VV_CLI_OPT_FORCE) {
			vv_cli_write.force = true;
		} else if (c == 'h') {
			vv_cmd_sb_mode_help(stdout);
			return VV_EXIT_OK;
		} else {
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind == 2)
		for (int i = 0; i < 4; i++)
			if (strcmp(argv[optind + 1], names[i]) == 0)
				m = i;
	if (m < 0)
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "expected FILE setup|user|audit|deployed");
	if (vv_store_file_open(&sf, argv[optind], VV_FORMAT_UNKNOWN, true, &err) != 0)
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	st = vv_secureboot_set_mode(sf.sb, modes[m]);
	if (st != VV_EFI_SUCCESS)
		rc = vv_cli_fail(VV_EXIT_FAIL, CMD, "%s: %s refused: %s%s; nothing written", sf.path,
				 names[m], vv_status_name(st),
				 st == VV_EFI_INVALID_PARAMETER ? " (no PK enrolled)" : "");
	else if (vv_store_file_save(&sf, output, VV_FORMAT_UNKNOWN, NULL, 0, &err) != 0)
		rc = vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	vv_store_file_close(&sf);
	return rc;
}

/* ---- sb-certs ---------------------------------------------------------- */

void
vv_cmd_sb_certs_help(FILE *out)
{
	fputs(
"NAME\n"
"    vmvars sb-certs - write the X.509 certificates of the Secure Boot\n"
"    databases as PEM files (virt-fw-vars --extract-certs)\n"
"\n"
"SYNOPSIS\n"
"    vmvars sb-certs FILE [DATABASE] [--out-dir DIR] [--input-format FMT]\n"
"\n"
"DESCRIPTION\n"
"    Every EFI_CERT_X509 entry of PK, KEK, db and dbx (or only of DATABASE:\n"
"    PK, KEK, db, dbx, dbt or dbr) is written to DIR (default: the current\n"
"    directory) as DATABASE-N-HASH.pem, where N counts the certificates of\n"
"    that database from 0 in the order they are stored and HASH is the first\n"
"    16 hex digits of the SHA-256 of the DER certificate (the SHA-256 that\n"
"    vmvars sb-state prints).  Existing files of those names are replaced.\n"
"    Each path written is printed on stdout, one a line.  Hashes and other\n"
"    non-certificate entries are not written.\n"
"\n"
"EXIT STATUS\n"
"    0 written (possibly none); 1 the file cannot be read, a database is not\n"
"    a valid signature list, a certificate does not parse or a PEM file\n"
"    cannot be written; 2 usage error.\n", out);
}

struct certs_ctx {
	const char *dir, *var;
	unsigned index;
	int failed;
};

/* Writes one DER certificate as DIR/VAR-N-HASH.pem (PEM_write_X509). */
static int
write_cert_pem(void *vctx, const uint8_t *der, size_t size)
{
	struct certs_ctx *ctx = vctx;
	struct vv_cert_info ci;
	const unsigned char *p = der;
	char path[4096];
	X509 *x = NULL;
	FILE *fp;
	unsigned n = ctx->index++;

	if (size > 0x7fffffff || vv_cert_info(der, size, &ci) != 0 ||
	    (x = d2i_X509(NULL, &p, (long)size)) == NULL) {
		fprintf(stderr, "%s: sb-certs: %s certificate %u does not parse; skipped\n",
			vv_cli_progname, ctx->var, n);
		ctx->failed = 1;
		return 0;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s%s%s-%u-%.16s.pem", ctx->dir ? ctx->dir : "",
			     ctx->dir ? "/" : "", ctx->var, n, ci.sha256) >= sizeof(path)) {
		X509_free(x);
		ctx->failed = 1;
		return vv_cli_fail(-1, "sb-certs", "%s: path too long", ctx->dir);
	}
	if ((fp = fopen(path, "w")) == NULL) {
		X509_free(x);
		ctx->failed = 1;
		return vv_cli_fail(-1, "sb-certs", "%s: %s", path, strerror(errno));
	}
	if (PEM_write_X509(fp, x) != 1 || fclose(fp) != 0) {
		X509_free(x);
		ctx->failed = 1;
		return vv_cli_fail(-1, "sb-certs", "%s: write failed", path);
	}
	X509_free(x);
	printf("%s\n", path);
	return 0;
}

int
vv_cmd_sb_certs(int argc, char **argv)
{
	static const char *const CMD = "sb-certs";
	static const struct option opts[] = {
		{ "out-dir", required_argument, NULL, 'd' },
		{ "input-format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum vv_format fmt = VV_FORMAT_UNKNOWN;
	struct vv_store_file sf;
	struct vv_error err = { "" };
	struct certs_ctx ctx = { NULL, NULL, 0, 0 };   /* dir NULL: the current one */
	int c, first = 0, last = 3;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': ctx.dir = optarg; break;
		case 'f':
			if (vv_cli_parse_format(optarg, &fmt) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown format '%s'", optarg);
			break;
		case 'h': vv_cmd_sb_certs_help(stdout); return VV_EXIT_OK;
		default:
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown option '%s' (see vmvars sb-certs --help)",
					   argv[optind - 1]);
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "expected FILE [DATABASE]");
	if (argc - optind == 2) {
		if ((first = database_index(argv[optind + 1])) < 0)
			return vv_cli_fail(VV_EXIT_USAGE, CMD,
					   "DATABASE must be PK, KEK, db, dbx, dbt or dbr");
		last = first;
	}
	if (vv_store_file_open(&sf, argv[optind], fmt, false, &err) != 0)
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	for (int i = first; i <= last; i++) {
		const struct vv_variable *v = sb_var(sf.store, i);

		if (v == NULL)
			continue;
		if (vv_siglist_validate(v->data, v->data_size, 0) != VV_EFI_SUCCESS) {
			vv_cli_fail(VV_EXIT_FAIL, CMD, "%s: %s is not a valid signature list",
				    sf.path, databases[i].name);
			ctx.failed = 1;
			continue;
		}
		ctx.var = databases[i].name;
		ctx.index = 0;
		if (vv_siglist_for_each_x509(v->data, v->data_size, write_cert_pem, &ctx) != 0)
			break;
	}
	vv_store_file_close(&sf);
	return ctx.failed ? VV_EXIT_FAIL : VV_EXIT_OK;
}
