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
#define VV_EXIT_NOT_SECURE 3 /* sb-state --require-secure-boot: Secure Boot would not be enforced */

struct vv_cli_command {
	const char *name;
	const char *summary;                     /* one line, no final period */
	int (*run)(int argc, char **argv);
	void (*help)(FILE *out);
};

extern const struct vv_cli_command vv_cli_commands[];

/* The program name for messages ("vmvars"). */
extern const char *vv_cli_progname;

#include <vmvars/efi.h>

struct vv_store;

/* A refused SetVariable as text: "EFI_STATUS: why" (the store's
 * vv_store_last_refusal, or its I/O error for EFI_DEVICE_ERROR), the bare
 * status when the store says nothing more.  A static buffer (refusal.c). */
const char *vv_cli_why(const struct vv_store *s, vv_status st);

/* "vmvars: <cmd>: message" on stderr; returns code. */
int vv_cli_fail(int code, const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Subcommands. */
int vv_cmd_firmware(int argc, char **argv);
void vv_cmd_firmware_help(FILE *out);
int vv_cmd_list(int argc, char **argv);
void vv_cmd_list_help(FILE *out);
int vv_cmd_get(int argc, char **argv);
void vv_cmd_get_help(FILE *out);
int vv_cmd_set(int argc, char **argv);
void vv_cmd_set_help(FILE *out);
int vv_cmd_append(int argc, char **argv);
void vv_cmd_append_help(FILE *out);
int vv_cmd_delete(int argc, char **argv);
void vv_cmd_delete_help(FILE *out);
int vv_cmd_boot(int argc, char **argv);
void vv_cmd_boot_help(FILE *out);
int vv_cmd_enroll(int argc, char **argv);
void vv_cmd_enroll_help(FILE *out);
int vv_cmd_apply(int argc, char **argv);
void vv_cmd_apply_help(FILE *out);
int vv_cmd_sign(int argc, char **argv);
void vv_cmd_sign_help(FILE *out);
int vv_cmd_sb_state(int argc, char **argv);
void vv_cmd_sb_state_help(FILE *out);
int vv_cmd_rollover(int argc, char **argv);
void vv_cmd_rollover_help(FILE *out);
int vv_cmd_sb_mode(int argc, char **argv);
void vv_cmd_sb_mode_help(FILE *out);
int vv_cmd_sb_certs(int argc, char **argv);
void vv_cmd_sb_certs_help(FILE *out);
int vv_cmd_import(int argc, char **argv);
void vv_cmd_import_help(FILE *out);
int vv_cmd_convert(int argc, char **argv);
void vv_cmd_convert_help(FILE *out);
int vv_cmd_create(int argc, char **argv);
void vv_cmd_create_help(FILE *out);
int vv_cmd_export(int argc, char **argv);
void vv_cmd_export_help(FILE *out);
int vv_cmd_import_state(int argc, char **argv);
void vv_cmd_import_state_help(FILE *out);
int vv_cmd_db(int argc, char **argv);
void vv_cmd_db_help(FILE *out);
int vv_cmd_clone(int argc, char **argv);
void vv_cmd_clone_help(FILE *out);
int vv_cmd_pcap(int argc, char **argv);
void vv_cmd_pcap_help(FILE *out);

#endif
