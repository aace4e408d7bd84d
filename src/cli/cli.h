/*
 * src/cli/cli.h -- the `vmvars` command-line tool: the subcommand table and
 * the conventions every subcommand follows.
 *
 * A subcommand is one entry of vv_cli_commands[] (main.c): a name, a one-line
 * summary for `vmvars --help`, a run function and a help function that
 * prints a man-page-like text (`vmvars help <cmd>`, `vmvars <cmd> --help`).
 * To add one, write src/cli/cmd_<name>.c with its two functions, declare
 * them below and add a row to the table.
 *
 * run() gets the arguments after the subcommand name (argv[0] is the
 * subcommand name, like a program's argv) and returns an exit code:
 */
#ifndef VMVARS_CLI_H
#define VMVARS_CLI_H

#include <stdio.h>

#define VV_EXIT_OK     0   /* the operation succeeded */
#define VV_EXIT_FAIL   1   /* the operation failed (message on stderr) */
#define VV_EXIT_USAGE  2   /* bad command line (message and hint on stderr) */

struct vv_cli_command {
	const char *name;
	const char *summary;                     /* one line, no final period */
	int (*run)(int argc, char **argv);
	void (*help)(FILE *out);
};

extern const struct vv_cli_command vv_cli_commands[];

/* The program name for messages ("vmvars"). */
extern const char *vv_cli_progname;

/* "vmvars: <cmd>: message" on stderr; returns code. */
int vv_cli_fail(int code, const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Subcommands. */
int vv_cmd_firmware(int argc, char **argv);
void vv_cmd_firmware_help(FILE *out);

#endif
