/*
 * src/cli/cmd_convert.c -- `vmvars convert IN OUT`: a store file from one
 * format to another (vmvars/formats.h).  Lossless wherever the target can
 * hold the data; what it cannot hold is listed on stderr as warnings
 * (vv_format_save's report), never dropped silently.  OUT is written
 * atomically, and only as a new file unless --force: an existing store
 * is replaced only when asked, and never IN itself (the same inode, by
 * whatever name: a symlink or a hard link), which would silently turn
 * the store into another format under the VM.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/store_file.h"

#define CMD "convert"

void
vv_cmd_convert_help(FILE *out)
{
	fputs(
"NAME\n"
"    vmvars convert - convert a store file to another format\n"
"\n"
"SYNOPSIS\n"
"    vmvars convert IN OUT [--to FMT] [--from FMT] [--template FILE] [--force]\n"
"\n"
"DESCRIPTION\n"
"    Reads IN (format detected unless --from; an efivarfs directory is read\n"
"    as efivarfs) and writes OUT in FMT: json (JSON v2, QEMU's uefi-vars),\n"
"    fd (an OVMF_VARS.fd flash image), aws, xen.  Without --to the format is\n"
"    taken from OUT's extension (.json, .fd, .raw, .aws, .xen), else IN's.\n"
"    For fd output the geometry (volume and store sizes, FTW areas) is taken\n"
"    from --template (e.g. /usr/share/OVMF/OVMF_VARS_4M.fd), else from IN\n"
"    when IN is an fd image, else the 4 MiB-build layout.  Whatever OUT's\n"
"    format cannot hold (timestamps, digests, ...) is listed as warnings.\n"
"\n"
"    OUT must not exist unless --force, and is never IN itself (by any\n"
"    name: a symlink or hard link to IN is refused even with --force).\n"
"    With --force an existing OUT is replaced keeping its owner, group,\n"
"    mode and SELinux label, even when read-only, immutable or\n"
"    hard-linked (see \"How vmvars writes a file\" in docs/cli.md).\n"
"\n"
"EXIT STATUS\n"
"    0 written, 1 IN unreadable or OUT not written, 2 usage error.\n", out);
}

/* True if both names reach one inode (through symlinks or hard links). */
static bool
same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

int
vv_cmd_convert(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "from", required_argument, NULL, 'f' },
		{ "template", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ "force", no_argument, NULL, VV_CLI_OPT_FORCE },
		{ NULL, 0, NULL, 0 },
	};
	enum vv_format from = VV_FORMAT_UNKNOWN, to = VV_FORMAT_UNKNOWN;
	const char *tmpl_path = NULL;
	uint8_t *tmpl = NULL;
	size_t tmpl_size = 0;
	struct vv_store_file sf;
	struct vv_error err = { "" };
	int c, rc = VV_EXIT_OK;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:f:T:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (vv_cli_parse_format(optarg, &to) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown format '%s'", optarg);
			break;
		case 'f':
			if (vv_cli_parse_format(optarg, &from) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown format '%s'", optarg);
			break;
		case 'T': tmpl_path = optarg; break;
		case 'h': vv_cmd_convert_help(stdout); return VV_EXIT_OK;
		case VV_CLI_OPT_FORCE: vv_cli_write.force = true; break;
		default:
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown option '%s' (see vmvars convert --help)",
					   argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "expected IN OUT");
	if (same_file(argv[optind], argv[optind + 1]))
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s and %s are the same file; nothing written "
				   "(convert to a new file, then move it over the old one)",
				   argv[optind], argv[optind + 1]);
	vv_cli_write.new_file = !vv_cli_write.force;
	if (to == VV_FORMAT_UNKNOWN)
		to = vv_cli_format_of_name(argv[optind + 1]);
	if (tmpl_path != NULL && vv_read_file(tmpl_path, &tmpl, &tmpl_size, &err) != 0)
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	if (vv_store_file_open(&sf, argv[optind], from, false, &err) != 0) {
		free(tmpl);
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	}
	if (vv_store_file_save(&sf, argv[optind + 1], to, tmpl, tmpl_size, &err) != 0)
		rc = vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	vv_store_file_close(&sf);
	free(tmpl);
	return rc;
}
