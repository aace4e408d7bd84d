/*
 * src/cli/main.c -- the `vmvars` executable: dispatches to a subcommand of
 * the table below and provides --help, --version and `help <cmd>`.
 *
 * Exit codes (cli.h): 0 success, 1 the operation failed, 2 usage error,
 * 3 sb-state --require-secure-boot found Secure Boot not enforced.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <vmvars/vmvars.h>

#include "cli/cli.h"

const char *vv_cli_progname = "vmvars";

const struct vv_cli_command vv_cli_commands[] = {
	{ "firmware", "find, select and instantiate firmware from QEMU firmware descriptors",
	  vv_cmd_firmware, vv_cmd_firmware_help },
	{ "list", "list the variables of a store file", vv_cmd_list, vv_cmd_list_help },
	{ "get", "print one variable, raw, hex or decoded", vv_cmd_get, vv_cmd_get_help },
	{ "set", "create or replace a variable", vv_cmd_set, vv_cmd_set_help },
	{ "append", "append to a variable (APPEND_WRITE)", vv_cmd_append, vv_cmd_append_help },
	{ "delete", "delete a variable", vv_cmd_delete, vv_cmd_delete_help },
	{ "boot", "boot entries: list, add, remove, order, next", vv_cmd_boot, vv_cmd_boot_help },
	{ "enroll", "enroll PK/KEK/db/dbx from certificates, lists or .auth files",
	  vv_cmd_enroll, vv_cmd_enroll_help },
	{ "apply", "apply a signed .auth update as the guest would", vv_cmd_apply, vv_cmd_apply_help },
	{ "sign", "make a signed .auth update from a signature list", vv_cmd_sign, vv_cmd_sign_help },
	{ "sb-state", "the true Secure Boot state, keys and certificate validity",
	  vv_cmd_sb_state, vv_cmd_sb_state_help },
	{ "rollover", "add Microsoft's 2023 CAs and the newest dbx to existing stores",
	  vv_cmd_rollover, vv_cmd_rollover_help },
	{ "sb-mode", "change the Secure Boot mode as the platform owner",
	  vv_cmd_sb_mode, vv_cmd_sb_mode_help },
	{ "sb-certs", "write the X.509 certificates of PK/KEK/db/dbx as PEM files",
	  vv_cmd_sb_certs, vv_cmd_sb_certs_help },
	{ "import", "set every variable of another store file (e.g. JSON) in a store",
	  vv_cmd_import, vv_cmd_import_help },
	{ "convert", "convert a store file to another format", vv_cmd_convert, vv_cmd_convert_help },
	{ "create", "create a new store file, empty or from a template",
	  vv_cmd_create, vv_cmd_create_help },
	{ "export", "a store's full state as a snapshot file (backup)",
	  vv_cmd_export, vv_cmd_export_help },
	{ "import-state", "a store from a snapshot file (restore)",
	  vv_cmd_import_state, vv_cmd_import_state_help },
	{ "clone", "copy a store for a new VM identity", vv_cmd_clone, vv_cmd_clone_help },
	{ "db", "the fleet store's database: init, upgrade, list VMs", vv_cmd_db, vv_cmd_db_help },
	{ NULL, NULL, NULL, NULL },
};

int
vv_cli_fail(int code, const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", vv_cli_progname);
	if (cmd != NULL)
		fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

static void
usage(FILE *out)
{
	const struct vv_cli_command *c;

	fprintf(out,
		"usage: vmvars <command> [options] [arguments]\n"
		"       vmvars help <command>\n"
		"       vmvars --help | --version\n"
		"\n"
		"vmvars manages UEFI variable stores and firmware for virtual machines.\n"
		"\n"
		"Commands:\n");
	for (c = vv_cli_commands; c->name != NULL; c++)
		fprintf(out, "  %-12s %s\n", c->name, c->summary);
	fprintf(out,
		"\n"
		"Exit status: 0 success, 1 the operation failed, 2 usage error,\n"
		"3 Secure Boot not enforced (sb-state --require-secure-boot).\n"
		"Run `vmvars help <command>` for a command's options.\n");
}

static const struct vv_cli_command *
find_command(const char *name)
{
	const struct vv_cli_command *c;

	for (c = vv_cli_commands; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static int
help_command(int argc, char **argv)
{
	const struct vv_cli_command *c;

	if (argc < 2) {
		usage(stdout);
		return VV_EXIT_OK;
	}
	if ((c = find_command(argv[1])) == NULL)
		return vv_cli_fail(VV_EXIT_USAGE, "help", "unknown command '%s' (see vmvars --help)",
				   argv[1]);
	c->help(stdout);
	return VV_EXIT_OK;
}

int
main(int argc, char **argv)
{
	const struct vv_cli_command *c;

	if (argc < 2) {
		usage(stderr);
		return VV_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return VV_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("vmvars %s\n", VMVARS_VERSION);
		return VV_EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0)
		return help_command(argc - 1, argv + 1);
	if ((c = find_command(argv[1])) == NULL)
		return vv_cli_fail(VV_EXIT_USAGE, NULL, "unknown command '%s' (see vmvars --help)",
				   argv[1]);
	return c->run(argc - 1, argv + 1);
}
