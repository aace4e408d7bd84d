/*
 * src/cli/cmd_create.c -- `vmvars create OUT`: a new store file, empty or
 * with the variables of a template (e.g. Debian's OVMF_VARS_4M.fd), in any
 * writable format; an fd template's geometry is kept.  An existing OUT is
 * never replaced without --force.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/provision.h"
#include "cli/store_file.h"

#define CMD "create"

void
vv_cmd_create_help(FILE *out)
{
	fputs(
"NAME\n"
"    vmvars create - create a new store file\n"
"\n"
"SYNOPSIS\n"
"    vmvars create OUT [--format FMT] [--template FILE] [--layout LAYOUT] [--force]\n"
"                  [--pk CERT [--owner GUID]] [--microsoft GEN] [--dbx ARCH]\n"
"                  [--keys-from TEMPLATE] [--ms-data DIR]\n"
"\n"
"DESCRIPTION\n"
"    Writes an empty store, or a copy of the variables of --template (any\n"
"    readable format), to OUT in FMT (json, fd, aws, xen; default: from OUT's\n"
"    extension, else the template's format, else json).  With an fd template\n"
"    and fd output the template's geometry is kept; an fd made from scratch\n"
"    has the 4 MiB-build layout (what OVMF_CODE_4M.fd expects).  Then use\n"
"    vmvars set, boot, enroll to fill it.\n"
"\n"
"    --layout  for an fd made from scratch (or into a blank template): ovmf-4m\n"
"              (OVMF_VARS_4M.fd, the default), ovmf-2m (OVMF_VARS.fd) or armvirt\n"
"              (AAVMF / ArmVirt QEMU_VARS.fd)\n"
"    --force   replace OUT if it exists\n"
"\n"
"    Secure Boot in one command (provisioning; the store is written only if\n"
"    the firmware would then enforce Secure Boot):\n"
"    --pk CERT        the PK (PEM or DER), also the first KEK entry\n"
"    --owner GUID     owner of that entry (default OvmfEnrollDefaultKeys,\n"
"                     a0baa8a3-041d-48a8-bc87-c36d121b5e3d, as virt-fw-vars)\n"
"    --microsoft GEN  Microsoft's KEK and db certificates: 2011 (KEK CA 2011,\n"
"                     Windows PCA 2011, UEFI CA 2011), 2023 (KEK 2K CA 2023,\n"
"                     Windows UEFI CA 2023, UEFI CA 2023, Option ROM CA 2023),\n"
"                     both (default with --pk) or none\n"
"    --dbx ARCH       Microsoft's newest dbx update for amd64, x86, arm64 or\n"
"                     arm (default: arm64 for --layout armvirt, else amd64,\n"
"                     when Microsoft's keys are added), or none\n"
"    --keys-from TEMPLATE  PK, KEK, db and dbx of a distribution's enrolled\n"
"                     store (e.g. /usr/share/OVMF/OVMF_VARS_4M.ms.fd); with\n"
"                     --microsoft/--dbx, those are appended to its lists\n"
"    --ms-data DIR    Microsoft's secureboot_objects (default $VMVARS_MS_DATA,\n"
"                     else the installed copy)\n"
"\n"
"EXIT STATUS\n"
"    0 created, 1 failure (OUT exists, template unreadable), 2 usage error.\n", out);
}

/* An fd image in a chosen layout: from scratch, or into the template
 * when that is a blank (unformatted) flash image. */
static int
save_fd_layout(struct vv_store_file *sf, const char *out, enum vv_fd_layout layout,
	       bool from_template, struct vv_error *err)
{
	uint8_t *bytes = NULL;
	size_t size = 0;
	int rc;

	rc = vv_format_save_fd_layout(sf->store, layout, from_template ? sf->raw : NULL,
				      from_template ? sf->raw_size : 0, &bytes, &size, NULL, err);
	if (rc == 0)
		rc = vv_store_file_write(NULL, out, VV_FORMAT_OVMF_FD, bytes, size, err);
	else
		vv_error_prefix(err, "%s", out);
	free(bytes);
	return rc;
}

int
vv_cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'F' },
		{ "template", required_argument, NULL, 'T' },
		{ "force", no_argument, NULL, 'f' },
		{ "layout", required_argument, NULL, 'L' },
		{ "pk", required_argument, NULL, 'P' },
		{ "owner", required_argument, NULL, 'O' },
		{ "microsoft", required_argument, NULL, 'M' },
		{ "dbx", required_argument, NULL, 'X' },
		{ "keys-from", required_argument, NULL, 'K' },
		{ "ms-data", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum vv_format fmt = VV_FORMAT_UNKNOWN;
	enum vv_fd_layout layout = VV_FD_LAYOUT_AUTO;
	const char *tmpl = NULL, *out;
	bool force = false;
	struct vv_store_file sf;
	struct vv_error err = { "" };
	struct vv_provision prov = { 0 };
	const char *microsoft = NULL, *dbx = NULL;
	bool provision;
	int c, rc = VV_EXIT_OK;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "F:T:L:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'F':
			if (vv_cli_parse_format(optarg, &fmt) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown format '%s'", optarg);
			break;
		case 'T': tmpl = optarg; break;
		case 'f': force = true; break;
		case 'L':
			if (strcmp(optarg, "ovmf-4m") == 0)
				layout = VV_FD_LAYOUT_OVMF_4M;
			else if (strcmp(optarg, "ovmf-2m") == 0)
				layout = VV_FD_LAYOUT_OVMF_2M;
			else if (strcmp(optarg, "armvirt") == 0)
				layout = VV_FD_LAYOUT_ARMVIRT;
			else
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown layout '%s' (ovmf-4m, "
						   "ovmf-2m, armvirt)", optarg);
			break;
		case 'P': prov.pk_cert = optarg; break;
		case 'O':
			if (vv_cli_parse_guid(optarg, &prov.owner) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "--owner: not a GUID: '%s'",
						   optarg);
			prov.owner_set = true;
			break;
		case 'M': microsoft = optarg; break;
		case 'X': dbx = optarg; break;
		case 'K': prov.keys_from = optarg; break;
		case 'D': prov.ms_data = optarg; break;
		case 'h': vv_cmd_create_help(stdout); return VV_EXIT_OK;
		default:
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown option '%s' (see vmvars create --help)",
					   argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "expected OUT");
	provision = prov.pk_cert != NULL || prov.keys_from != NULL;
	if (!provision && (microsoft != NULL || dbx != NULL || prov.ms_data != NULL))
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "--microsoft, --dbx and --ms-data provision "
				   "Secure Boot: give --pk CERT or --keys-from TEMPLATE");
	if (prov.pk_cert != NULL && prov.keys_from != NULL)
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "give --pk or --keys-from, not both");
	if (provision) {
		if (microsoft == NULL)
			microsoft = prov.keys_from != NULL ? "none" : "both";
		if (strcmp(microsoft, "both") == 0)
			prov.ms_2011 = prov.ms_2023 = true;
		else if (strcmp(microsoft, "2011") == 0)
			prov.ms_2011 = true;
		else if (strcmp(microsoft, "2023") == 0)
			prov.ms_2023 = true;
		else if (strcmp(microsoft, "none") != 0)
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "--microsoft: 2011, 2023, both or "
					   "none, not '%s'", microsoft);
		if (dbx == NULL && (prov.ms_2011 || prov.ms_2023))
			dbx = layout == VV_FD_LAYOUT_ARMVIRT ? "arm64" : "amd64";
		if (dbx != NULL && strcmp(dbx, "none") != 0) {
			if (strcmp(dbx, "amd64") != 0 && strcmp(dbx, "x86") != 0 &&
			    strcmp(dbx, "arm64") != 0 && strcmp(dbx, "arm") != 0)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "--dbx: amd64, x86, arm64, "
						   "arm or none, not '%s'", dbx);
			prov.dbx_arch = dbx;
		}
		if (prov.pk_cert != NULL && !prov.owner_set)
			vv_cli_parse_guid("OvmfEnrollDefaultKeys", &prov.owner);
	}
	out = argv[optind];
	if (!force && access(out, F_OK) == 0)
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s exists (use --force to replace it)", out);
	vv_cli_write.force = force;
	vv_cli_write.new_file = !force; /* closes the race with the check above */
	if (fmt == VV_FORMAT_UNKNOWN)
		fmt = vv_cli_format_of_name(out);
	if (tmpl != NULL) {
		if (vv_store_file_open(&sf, tmpl, VV_FORMAT_UNKNOWN, provision, &err) != 0)
			return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
		if (fmt == VV_FORMAT_UNKNOWN)
			fmt = sf.format == VV_FORMAT_EFIVARFS ? VV_FORMAT_JSON : sf.format;
	} else {
		if (vv_store_file_empty(&sf, provision, &err) != 0)
			return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
		if (fmt == VV_FORMAT_UNKNOWN)
			fmt = VV_FORMAT_JSON;
	}
	if (provision && vv_provision(&sf, &prov, &err) != 0) {
		rc = vv_cli_fail(VV_EXIT_FAIL, CMD, "%s: %s; nothing written", out, err.msg);
	} else if (layout != VV_FD_LAYOUT_AUTO && fmt != VV_FORMAT_OVMF_FD) {
		rc = vv_cli_fail(VV_EXIT_USAGE, CMD, "--layout applies to fd output only");
	} else if (layout != VV_FD_LAYOUT_AUTO) {
		rc = save_fd_layout(&sf, out, layout, tmpl != NULL, &err);
		if (rc != 0)
			rc = vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	} else if (vv_store_file_save(&sf, out, fmt, NULL, 0, &err) != 0) {
		rc = vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	}
	vv_store_file_close(&sf);
	return rc;
}
