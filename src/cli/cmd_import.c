/*
 * src/cli/cmd_import.c -- `vmvars import FILE SOURCE`: every variable of
 * SOURCE (any readable store format; a JSON v2 file is the virt-fw-vars
 * --set-json case) is written into FILE as the host owner, with the rules
 * of `vmvars set` (cmd_edit.c):
 *   - PK, KEK, db, dbx, dbt, dbr in their standard namespaces go through
 *     host-owner enrollment (vv_secureboot_enroll, replacing; format
 *     checked), PK last because enrolling it ends Setup mode;
 *   - other time-based authenticated variables through vv_store_put (the
 *     host's own write), keeping SOURCE's timestamp when it has one;
 *   - everything else through vv_store_set with VV_CALLER_HOST, so every
 *     structural and VarCheck rule applies.  A variable FILE already holds
 *     with other attributes is deleted first (SetVariable refuses an
 *     attribute change, UEFI 2.10 §8.2), so SOURCE's attributes win.
 * Invariant (store_file.h): all writes happen in memory; FILE is saved only
 * when every variable was accepted, so a refusal leaves it byte for byte.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/ucs2.h>

#include "cli/cli.h"
#include "cli/store_file.h"

void
vv_cmd_import_help(FILE *out)
{
	fputs(
"NAME\n"
"    vmvars import - write every variable of another store file into a store\n"
"    (virt-fw-vars --set-json)\n"
"\n"
"SYNOPSIS\n"
"    vmvars import FILE SOURCE [-o OUT] [--output-format FMT] [--force]\n"
"\n"
"DESCRIPTION\n"
"    Each variable of SOURCE (JSON v2 as virt-fw-vars --output-json writes it,\n"
"    or any format vmvars reads: fd, aws, xen) is set in FILE as `vmvars set`\n"
"    would set it, as the host owner, with SOURCE's namespace, attributes and\n"
"    value.  A variable FILE holds with other attributes is replaced.  PK,\n"
"    KEK, db, dbx, dbt and dbr are enrolled (replacing, PK last; the value\n"
"    must be a valid signature list); other authenticated variables keep\n"
"    SOURCE's timestamp.  Variables of FILE that SOURCE lacks are kept.  If\n"
"    any variable is refused, its name and the EFI status are printed and\n"
"    nothing is written.\n"
"\n"
"OPTIONS\n"
"    -o, --output OUT         write OUT instead of rewriting FILE\n"
"    --output-format FMT      json, fd, aws or xen (default: FILE's format)\n"
"\n"
"EXIT STATUS\n"
"    0 imported, 1 a variable refused or a file unreadable, 2 usage error.\n", out);
}

/* The Secure Boot database (name, guid) is, or -1 (§11.2 namespaces). */
static int
sb_database(const struct vv_variable *v)
{
	static const char *const names[] = { "PK", "KEK", "db", "dbx", "dbt", "dbr" };

	for (int i = 0; i < 6; i++) {
		const vv_guid *want = i < 2 ? &VV_GUID_GLOBAL_VARIABLE : &VV_GUID_IMAGE_SECURITY_DB;
		size_t n = strlen(names[i]);
		bool same = v->name_len == n && vv_guid_equal(&v->guid, want);

		for (size_t k = 0; same && k < n; k++)
			same = v->name[k] == (uint16_t)names[i][k];
		if (same)
			return i;
	}
	return -1;
}

static bool
source_has_sb_database(const struct vv_store *s)
{
	for (const struct vv_variable *v = vv_store_first(s); v != NULL; v = vv_store_next(v))
		if (sb_database(v) >= 0)
			return true;
	return false;
}

/* One variable of SOURCE that is not a Secure Boot database. */
static vv_status
import_plain(struct vv_store *dst, const struct vv_variable *v)
{
	const struct vv_variable *old = vv_store_find(dst, v->name, v->name_len, &v->guid);
	vv_status st;

	if (v->attributes & VV_ATTR_AT) {
		vv_efi_time now;

		/* vv_store_put keeps attributes (store.h): a change is a delete
		 * and a create. */
		if (old != NULL && old->attributes != v->attributes &&
		    (st = vv_store_put(dst, v->name, v->name_len, &v->guid, old->attributes, NULL, 0,
				       NULL)) != VV_EFI_SUCCESS)
			return st;
		vv_efi_time_now(&now);
		return vv_store_put(dst, v->name, v->name_len, &v->guid, v->attributes, v->data,
				    v->data_size, v->has_time ? &v->time : &now);
	}
	if (old != NULL && old->attributes != v->attributes) {
		struct vv_set_request del = {
			.name = v->name, .name_len = v->name_len, .guid = v->guid,
			.attributes = old->attributes, .data = NULL, .data_size = 0,
			.caller = VV_CALLER_HOST,
		};

		if ((st = vv_store_set(dst, &del)) != VV_EFI_SUCCESS)
			return st;
	}
	struct vv_set_request req = {
		.name = v->name, .name_len = v->name_len, .guid = v->guid,
		.attributes = v->attributes, .data = v->data, .data_size = v->data_size,
		.caller = VV_CALLER_HOST,
	};
	return vv_store_set(dst, &req);
}

/* Writes SOURCE's variables into sf; pass 0 the plain ones and the
 * databases other than PK, pass 1 PK.  0 or -1 (message printed). */
static int
import_all(struct vv_store_file *sf, const struct vv_store *src)
{
	char name[256], guid[40];

	for (int pass = 0; pass < 2; pass++) {
		for (const struct vv_variable *v = vv_store_first(src); v != NULL;
		     v = vv_store_next(v)) {
			int db = sb_database(v);
			vv_status st;

			if ((db == 0) != (pass == 1))
				continue;
			if (db >= 0)
				st = vv_secureboot_enroll(sf->sb, (enum vv_sb_db)db, v->data,
							  v->data_size, false);
			else
				st = import_plain(sf->store, v);
			if (st != VV_EFI_SUCCESS) {
				vv_ucs2_print(v->name, v->name_len, name, sizeof(name));
				vv_cli_fail(VV_EXIT_FAIL, "import", "%s: %s %s refused: %s; nothing written",
					    sf->path, name, vv_cli_guid_text(&v->guid, guid, sizeof(guid)),
					    vv_cli_why(sf->store, st));
				return -1;
			}
		}
	}
	return 0;
}

int
vv_cmd_import(int argc, char **argv)
{
	static const char *const CMD = "import";
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "output-format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ "force", no_argument, NULL, VV_CLI_OPT_FORCE },
		{ NULL, 0, NULL, 0 },
	};
	const char *output = NULL;
	enum vv_format out_fmt = VV_FORMAT_UNKNOWN;
	struct vv_store_file sf, src;
	struct vv_error err = { "" };
	int c, rc = VV_EXIT_OK;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': output = optarg; break;
		case 'F':
			if (vv_cli_parse_format(optarg, &out_fmt) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown format '%s'", optarg);
			break;
		case 'h': vv_cmd_import_help(stdout); return VV_EXIT_OK;
		case VV_CLI_OPT_FORCE: vv_cli_write.force = true; break;
		default:
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown option '%s' (see vmvars import --help)",
					   argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "expected FILE SOURCE");
	if (vv_store_file_open(&src, argv[optind + 1], VV_FORMAT_UNKNOWN, false, &err) != 0)
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	/* As `vmvars set`: Secure Boot is attached only when a database is
	 * written, so an unrelated import does not add edk2's power-on
	 * variables to FILE. */
	if (vv_store_file_open(&sf, argv[optind], VV_FORMAT_UNKNOWN,
			       source_has_sb_database(src.store), &err) != 0) {
		vv_store_file_close(&src);
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	}
	if (import_all(&sf, src.store) != 0)
		rc = VV_EXIT_FAIL;
	else if (vv_store_file_save(&sf, output, out_fmt, NULL, 0, &err) != 0)
		rc = vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	vv_store_file_close(&sf);
	vv_store_file_close(&src);
	return rc;
}
