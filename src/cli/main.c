/*
 * src/cli/main.c -- the `vmvars` executable: dispatches to a subcommand of
 * the table below and provides --help, --version and `help <cmd>`.
 *
 * Exit codes (cli.h): 0 success, 1 the operation failed, 2 usage error,
 * 3 sb-state --require-secure-boot found Secure Boot not enforced.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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
	{ "pcap", "decode or replay a capture of MM traffic (pcap, link type 302)",
	  vv_cmd_pcap, vv_cmd_pcap_help },
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
		"A store command works on a running VM with --vm NAME (vmvarsd@NAME) or\n"
		"--socket PATH (its management socket) in place of FILE.\n"
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

/*
 * --vm NAME / --socket PATH (docs/cli.md "Live VMs"), anywhere after the
 * command: removed, and the live address ("vm:NAME", "socket:PATH",
 * live.h) put where the command takes its store FILE -- the first operand,
 * or for `boot` the one after its SUBCOMMAND.  The commands' getopt
 * permutes options and operands, so the operand order is what counts.
 * 0 (maybe *argv replaced by a malloc'd copy), or an exit code.
 */
static char *live_addr;         /* freed by main after the command */
static char **live_argv;

static int
live_target(const char *cmd, int *argc, char ***argv)
{
	/* Commands that take no store to read or edit keep their own
	 * options untouched (firmware instantiate has a --vm of its own;
	 * export, import-state and clone a --vm-uuid, which getopt would
	 * also take --vm for). */
	static const char *const no_store[] = {
		"firmware", "sign", "create", "import-state", "clone", "export",
	};
	static const char *const boot_subs[] = { "list", "add", "remove", "order", "next" };
	char **in = *argv, **out, *addr = NULL;
	int n = *argc, m = 0, at = 1;
	bool found = false;

	for (size_t i = 0; i < sizeof(no_store) / sizeof(no_store[0]); i++)
		if (strcmp(cmd, no_store[i]) == 0)
			return 0;

	for (int i = 1; i < n; i++) {
		const char *a = in[i], *val = NULL;
		const char *pfx = NULL;

		if (strcmp(a, "--") == 0)
			break;
		if (strcmp(a, "--vm") == 0 || strcmp(a, "--socket") == 0) {
			if (i + 1 >= n) {
				free(addr);
				return vv_cli_fail(VV_EXIT_USAGE, cmd, "%s needs a value", a);
			}
			val = in[i + 1];
			pfx = a[2] == 'v' ? "vm:" : "socket:";
		} else if (strncmp(a, "--vm=", 5) == 0) {
			val = a + 5;
			pfx = "vm:";
		} else if (strncmp(a, "--socket=", 9) == 0) {
			val = a + 9;
			pfx = "socket:";
		}
		if (val == NULL)
			continue;
		if (found) {
			free(addr);
			return vv_cli_fail(VV_EXIT_USAGE, cmd, "give one --vm or --socket");
		}
		found = true;
		free(addr);
		if (asprintf(&addr, "%s%s", pfx, val) < 0)
			return vv_cli_fail(VV_EXIT_FAIL, cmd, "out of memory");
	}
	if (!found)
		return 0;
	out = calloc((size_t)n + 2, sizeof(*out));
	if (out == NULL) {
		free(addr);
		return vv_cli_fail(VV_EXIT_FAIL, cmd, "out of memory");
	}
	/* The arguments without the option (none after "--"), then the
	 * address inserted. */
	for (int i = 0, dd = 0; i < n; i++) {
		dd |= strcmp(in[i], "--") == 0;
		if (!dd && (strcmp(in[i], "--vm") == 0 || strcmp(in[i], "--socket") == 0)) {
			i++;
			continue;
		}
		if (!dd && (strncmp(in[i], "--vm=", 5) == 0 || strncmp(in[i], "--socket=", 9) == 0))
			continue;
		out[m++] = in[i];
	}
	if (strcmp(cmd, "boot") == 0)
		for (int i = 1; i < m && at == 1; i++)
			for (size_t k = 0; k < sizeof(boot_subs) / sizeof(boot_subs[0]); k++)
				if (strcmp(out[i], boot_subs[k]) == 0)
					at = i + 1;
	memmove(&out[at + 1], &out[at], (size_t)(m - at) * sizeof(*out));
	out[at] = addr;
	m++;
	out[m] = NULL;
	*argc = m;
	*argv = live_argv = out;
	live_addr = addr;
	return 0;
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
	{
		int sub_argc = argc - 1, rc;
		char **sub_argv = argv + 1;

		if ((rc = live_target(c->name, &sub_argc, &sub_argv)) != 0)
			return rc;
		rc = c->run(sub_argc, sub_argv);
		free(live_argv);
		free(live_addr);
		return rc;
	}
}
