/*
 * src/cli/cmd_firmware.c -- `vmvars firmware list | show | select |
 * instantiate`: QEMU firmware descriptors from the command line
 * (vmvars/firmware.h, docs/firmware.md).
 *
 * Text output is for people; --json output is one JSON document on stdout
 * for programs.  Errors go to stderr; exit codes as in cli.h (selecting
 * nothing is a failure: exit 1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <vmvars/firmware.h>

#include "cli/cli.h"

#define CMD "firmware"

void
vv_cmd_firmware_help(FILE *out)
{
	fputs(
"NAME\n"
"    vmvars firmware - QEMU firmware descriptors: list, show, select, instantiate\n"
"\n"
"SYNOPSIS\n"
"    vmvars firmware list [--json] [--firmware-dir DIR]...\n"
"    vmvars firmware show NAME|PATH [--json] [--firmware-dir DIR]...\n"
"    vmvars firmware select [QUERY] [--explain] [--json] [--firmware-dir DIR]...\n"
"    vmvars firmware instantiate [QUERY | --descriptor NAME|PATH] --vm NAME\n"
"                                (--dir DIR | --output FILE) [--template FILE]\n"
"                                [--host-vars] [--force] [--drive] [--json]\n"
"                                [--vmvarsd STATE_DIR [--vmvarsd-socket PATH]]\n"
"\n"
"DESCRIPTION\n"
"    Descriptors (QEMU docs/interop/firmware.json) are read from\n"
"    /usr/share/qemu/firmware, /etc/qemu/firmware and\n"
"    $XDG_CONFIG_HOME/qemu/firmware (default ~/.config/qemu/firmware).  A file\n"
"    in a later directory replaces one of the same name in an earlier one; an\n"
"    empty file hides it.  Files are tried sorted by name; the first match wins.\n"
"    --firmware-dir DIR (repeatable, most general first) replaces that path.\n"
"\n"
"    list         every descriptor in priority order: ok, masked or invalid\n"
"                 (with the reason), and which files it overrides.\n"
"    show         one descriptor, validated, with warnings about ignored input.\n"
"    select       the first descriptor matching QUERY (libvirt's rules).\n"
"                 --explain says for every descriptor why it was or was not\n"
"                 chosen.\n"
"    instantiate  creates the VM's firmware state from the selected (or named)\n"
"                 descriptor and prints the QEMU arguments that go with it:\n"
"                   split      copies the NVRAM template to DIR/VM_VARS.fd|.qcow2\n"
"                   combined   copies the executable to DIR/VM_CODE.fd|.qcow2\n"
"                   stateless  writes nothing (variables are volatile)\n"
"                   host-uefi-vars (or --host-vars)  creates a vmvars JSON store\n"
"                              DIR/VM_VARS.json, from the descriptor's JSON\n"
"                              template or --template FILE (JSON v2)\n"
"                              --vmvarsd STATE_DIR: the store is STATE_DIR/vars.json,\n"
"                              served by vmvarsd; prints the daemon's command\n"
"                              line and QEMU's uefi-vars-x64,vmvarsd=SOCKET\n"
"                              (QEMU patched with contrib/qemu, docs/qemu.md)\n"
"                 An existing file is never replaced without --force.\n"
"\n"
"QUERY OPTIONS\n"
"    --arch ARCH          aarch64, arm, i386 (or i686), loongarch64, riscv64, x86_64\n"
"    --machine TYPE       machine type, e.g. pc-q35-8.2 (matched against globs);\n"
"                         q35, pc and virt are QEMU 10.2's aliases (pc-q35-10.2, ...)\n"
"    --interface IF       bios, openfirmware, uboot, uefi\n"
"    --feature F          require feature F (repeatable or comma-separated)\n"
"    --no-feature F       forbid feature F\n"
"                         acpi-s3 acpi-s4 amd-sev amd-sev-es amd-sev-snp intel-tdx\n"
"                         enrolled-keys requires-smm secure-boot verbose-dynamic\n"
"                         verbose-static host-uefi-vars\n"
"    --mode MODE          split, combined, stateless, or any; default: automatic\n"
"                         (split flash only; combined is never chosen unless asked)\n"
"    --format FMT         executable format: raw, qcow2\n"
"    --nvram-format FMT   NVRAM template format: raw, qcow2, json\n"
"    --loader PATH        the executable must be this file\n"
"    --nvram-template PATH  the NVRAM template must be this file\n"
"\n"
"OTHER OPTIONS\n"
"    --json               print one JSON document instead of text\n"
"    --firmware-dir DIR   search DIR instead of the default path (repeatable)\n"
"    --vm NAME            the VM's name (names the per-VM file)\n"
"    --dir DIR            where the per-VM file goes\n"
"    --output FILE        the per-VM file itself (instead of --dir)\n"
"    --template FILE      host-side variables: JSON v2 store template\n"
"    --host-vars          split firmware: make a vmvars store instead of a copy\n"
"    --force              replace an existing per-VM file\n"
"    --drive              print -drive if=pflash (QEMU < 4.0) instead of -blockdev\n"
"    --vmvarsd DIR        host-side variables served by vmvarsd with state DIR\n"
"    --vmvarsd-socket PATH  the VMM socket QEMU connects to (default DIR/vmm.sock;\n"
"                         /run/vmvars/VM/vmm.sock with contrib/systemd's units)\n"
"\n"
"EXIT STATUS\n"
"    0 success; 1 the operation failed or nothing matched; 2 usage error.\n", out);
}

/* ---- options ---- */

enum {
	OPT_JSON = 256, OPT_DIR_SEARCH, OPT_ARCH, OPT_MACHINE, OPT_INTERFACE, OPT_FEATURE,
	OPT_NO_FEATURE, OPT_MODE, OPT_FORMAT, OPT_NVRAM_FORMAT, OPT_LOADER, OPT_NVRAM_TEMPLATE,
	OPT_EXPLAIN, OPT_DESCRIPTOR, OPT_VM, OPT_DIR, OPT_OUTPUT, OPT_TEMPLATE, OPT_HOST_VARS,
	OPT_FORCE, OPT_DRIVE, OPT_VMVARSD, OPT_VMVARSD_SOCKET, OPT_HELP,
};

static const struct option long_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "firmware-dir", required_argument, NULL, OPT_DIR_SEARCH },
	{ "arch", required_argument, NULL, OPT_ARCH },
	{ "machine", required_argument, NULL, OPT_MACHINE },
	{ "interface", required_argument, NULL, OPT_INTERFACE },
	{ "feature", required_argument, NULL, OPT_FEATURE },
	{ "no-feature", required_argument, NULL, OPT_NO_FEATURE },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "nvram-format", required_argument, NULL, OPT_NVRAM_FORMAT },
	{ "loader", required_argument, NULL, OPT_LOADER },
	{ "nvram-template", required_argument, NULL, OPT_NVRAM_TEMPLATE },
	{ "explain", no_argument, NULL, OPT_EXPLAIN },
	{ "descriptor", required_argument, NULL, OPT_DESCRIPTOR },
	{ "vm", required_argument, NULL, OPT_VM },
	{ "dir", required_argument, NULL, OPT_DIR },
	{ "output", required_argument, NULL, OPT_OUTPUT },
	{ "template", required_argument, NULL, OPT_TEMPLATE },
	{ "host-vars", no_argument, NULL, OPT_HOST_VARS },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "drive", no_argument, NULL, OPT_DRIVE },
	{ "vmvarsd", required_argument, NULL, OPT_VMVARSD },
	{ "vmvarsd-socket", required_argument, NULL, OPT_VMVARSD_SOCKET },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

struct fw_args {
	const char *sub;
	bool json, explain, help;
	const char **dirs;
	size_t n_dirs;
	struct vv_fw_query q;
	const char *descriptor;
	struct vv_fw_instance_opts inst;
	const char *positional;
	bool query_given;
	char progname[64];
};

static int
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: %s: ", vv_cli_progname, CMD);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(see `vmvars help firmware`)\n");
	return VV_EXIT_USAGE;
}

/* --feature a,b / --no-feature a,b */
static int
set_features(struct vv_fw_query *q, const char *list, enum vv_fw_want w)
{
	char *copy = strdup(list), *tok, *save = NULL;
	int f, r = 0;

	if (copy == NULL)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if ((f = vv_fw_feature_from_name(tok)) < 0) {
			r = usage_error("unknown feature '%s'", tok);
			break;
		}
		if (q->features[f] != VV_FW_WANT_ANY && q->features[f] != w) {
			r = usage_error("feature '%s' both required and forbidden", tok);
			break;
		}
		q->features[f] = w;
	}
	free(copy);
	return r;
}

static int
enum_arg(int (*from_name)(const char *), const char *what, const char *arg, int *out)
{
	char fmt[64];

	if ((*out = from_name(arg)) < 0) {
		snprintf(fmt, sizeof(fmt), "unknown %s '%%s'", what);
		return usage_error(fmt, arg);
	}
	return 0;
}

static int
parse_option(struct fw_args *a, int c, const char *arg)
{
	const char **grown;

	switch (c) {
	case OPT_JSON: a->json = true; return 0;
	case OPT_HELP: a->help = true; return 0;
	case OPT_EXPLAIN: a->explain = true; return 0;
	case OPT_DIR_SEARCH:
		if ((grown = realloc(a->dirs, (a->n_dirs + 1) * sizeof(*grown))) == NULL)
			return VV_EXIT_FAIL;
		a->dirs = grown;
		a->dirs[a->n_dirs++] = arg;
		return 0;
	case OPT_ARCH:
		a->query_given = true;
		if (vv_fw_arch_from_name(arg) < 0)
			return usage_error("unknown architecture '%s'", arg);
		a->q.arch = arg;
		return 0;
	case OPT_MACHINE: a->query_given = true; a->q.machine = arg; return 0;
	case OPT_INTERFACE:
		a->query_given = true;
		return enum_arg(vv_fw_interface_from_name, "interface", arg, &a->q.interface);
	case OPT_FEATURE: a->query_given = true; return set_features(&a->q, arg, VV_FW_WANT_YES);
	case OPT_NO_FEATURE: a->query_given = true; return set_features(&a->q, arg, VV_FW_WANT_NO);
	case OPT_MODE:
		a->query_given = true;
		if (strcmp(arg, "any") == 0) {
			a->q.mode = VV_FW_MODE_ANY;
			return 0;
		}
		if (strcmp(arg, "auto") == 0) {
			a->q.mode = VV_FW_MODE_AUTO;
			return 0;
		}
		return enum_arg(vv_fw_mode_from_name, "mode", arg, &a->q.mode);
	case OPT_FORMAT:
		a->query_given = true;
		return enum_arg(vv_fw_format_from_name, "format", arg, &a->q.executable_format);
	case OPT_NVRAM_FORMAT:
		a->query_given = true;
		return enum_arg(vv_fw_format_from_name, "format", arg, &a->q.nvram_format);
	case OPT_LOADER: a->query_given = true; a->q.executable_path = arg; return 0;
	case OPT_NVRAM_TEMPLATE: a->query_given = true; a->q.nvram_template_path = arg; return 0;
	case OPT_DESCRIPTOR: a->descriptor = arg; return 0;
	case OPT_VM: a->inst.vm_name = arg; return 0;
	case OPT_DIR: a->inst.dir = arg; return 0;
	case OPT_OUTPUT: a->inst.target = arg; return 0;
	case OPT_TEMPLATE: a->inst.template_path = arg; return 0;
	case OPT_HOST_VARS: a->inst.host_vars = true; return 0;
	case OPT_FORCE: a->inst.force = true; return 0;
	case OPT_DRIVE: a->inst.legacy_drive = true; return 0;
	case OPT_VMVARSD: a->inst.vmvarsd_dir = arg; return 0;
	case OPT_VMVARSD_SOCKET: a->inst.vmvarsd_socket = arg; return 0;
	default:
		return VV_EXIT_USAGE;   /* getopt printed the message */
	}
}

/* Which options each subcommand takes. */
static bool
option_allowed(const char *sub, int c)
{
	bool query = c >= OPT_ARCH && c <= OPT_NVRAM_TEMPLATE;

	if (c == OPT_JSON || c == OPT_DIR_SEARCH || c == OPT_HELP)
		return true;
	if (strcmp(sub, "select") == 0)
		return query || c == OPT_EXPLAIN;
	if (strcmp(sub, "instantiate") == 0)
		return query || c >= OPT_DESCRIPTOR;
	return false;
}

static const char *
option_name(int c)
{
	const struct option *o;

	for (o = long_options; o->name != NULL; o++)
		if (o->val == c)
			return o->name;
	return "?";
}

static int
parse_args(int argc, char **argv, struct fw_args *a)
{
	int c, r;

	vv_fw_query_init(&a->q);
	if (argc < 2)
		return usage_error("%s", "missing subcommand (list, show, select, instantiate)");
	a->sub = argv[1];
	if (strcmp(a->sub, "--help") == 0 || strcmp(a->sub, "-h") == 0 ||
	    strcmp(a->sub, "help") == 0) {
		a->help = true;
		return 0;
	}
	if (strcmp(a->sub, "list") != 0 && strcmp(a->sub, "show") != 0 &&
	    strcmp(a->sub, "select") != 0 && strcmp(a->sub, "instantiate") != 0)
		return usage_error("unknown subcommand '%s' (list, show, select, instantiate)",
				   a->sub);
	/* getopt names argv[0] in its messages: make that the whole command. */
	snprintf(a->progname, sizeof(a->progname), "%s %s %s", vv_cli_progname, CMD, a->sub);
	argv[1] = a->progname;
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "h", long_options, NULL)) != -1) {
		if (c == 'h')
			c = OPT_HELP;
		if (c == '?')
			return VV_EXIT_USAGE;
		if (!option_allowed(a->sub, c)) {
			fprintf(stderr, "%s: %s %s: option --%s does not apply here\n",
				vv_cli_progname, CMD, a->sub, option_name(c));
			return VV_EXIT_USAGE;
		}
		if ((r = parse_option(a, c, optarg)) != 0)
			return r;
	}
	if (optind < argc - 1)
		a->positional = argv[1 + optind++];
	if (optind < argc - 1)
		return usage_error("unexpected argument '%s'", argv[1 + optind]);
	if (strcmp(a->sub, "show") == 0 && a->positional == NULL && !a->help)
		return usage_error("%sshow needs a descriptor name or path", "");
	if (strcmp(a->sub, "show") != 0 && a->positional != NULL)
		return usage_error("unexpected argument '%s'", a->positional);
	return 0;
}

/* ---- JSON views ---- */

static struct json_object *
str_or_null(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

static struct json_object *
strings_json(char **v, size_t n)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static struct json_object *
file_json(const struct vv_fw_file *f)
{
	struct json_object *o;

	if (f->filename == NULL)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "filename", json_object_new_string(f->filename));
	json_object_object_add(o, "format", json_object_new_string(vv_fw_format_name(f->format)));
	return o;
}

static struct json_object *
descriptor_json(const struct vv_fw_descriptor *d)
{
	struct json_object *o = json_object_new_object(), *a, *m, *t;
	size_t i;
	int f;

	json_object_object_add(o, "path", json_object_new_string(d->path));
	json_object_object_add(o, "description", str_or_null(d->description));
	a = json_object_new_array();
	for (i = 0; i < d->n_interfaces; i++)
		json_object_array_add(a, json_object_new_string(vv_fw_interface_name(d->interfaces[i])));
	json_object_object_add(o, "interface-types", a);
	m = json_object_new_object();
	json_object_object_add(m, "device", json_object_new_string(vv_fw_device_name(d->device)));
	json_object_object_add(m, "mode", json_object_new_string(vv_fw_mode_name(d->mode)));
	json_object_object_add(m, "mode-given", json_object_new_boolean(d->mode_given));
	if (d->executable.filename != NULL)
		json_object_object_add(m, "executable", file_json(&d->executable));
	if (d->nvram_template.filename != NULL)
		json_object_object_add(m, "nvram-template", file_json(&d->nvram_template));
	if (d->filename != NULL)
		json_object_object_add(m, "filename", json_object_new_string(d->filename));
	json_object_object_add(o, "mapping", m);
	a = json_object_new_array();
	for (i = 0; i < d->n_targets; i++) {
		t = json_object_new_object();
		json_object_object_add(t, "architecture",
				       json_object_new_string(vv_fw_arch_name(d->targets[i].arch)));
		json_object_object_add(t, "machines", strings_json(d->targets[i].machines,
								   d->targets[i].n_machines));
		json_object_array_add(a, t);
	}
	json_object_object_add(o, "targets", a);
	a = json_object_new_array();
	for (f = 0; f < VV_FW_FEAT_COUNT; f++)
		if (d->features & VV_FW_BIT(f))
			json_object_array_add(a, json_object_new_string(vv_fw_feature_name(f)));
	json_object_object_add(o, "features", a);
	json_object_object_add(o, "warnings", strings_json(d->warnings, d->n_warnings));
	return o;
}

static const char *
state_name(enum vv_fw_entry_state s)
{
	return s == VV_FW_ENTRY_OK ? "ok" : s == VV_FW_ENTRY_MASKED ? "masked" : "invalid";
}

static struct json_object *
entry_json(const struct vv_fw_entry *e)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(e->name));
	json_object_object_add(o, "path", json_object_new_string(e->path));
	json_object_object_add(o, "state", json_object_new_string(state_name(e->state)));
	json_object_object_add(o, "overrides", strings_json(e->overridden, e->n_overridden));
	if (e->error != NULL)
		json_object_object_add(o, "error", json_object_new_string(e->error));
	if (e->desc != NULL)
		json_object_object_add(o, "descriptor", descriptor_json(e->desc));
	return o;
}

static void
print_json(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					       JSON_C_TO_STRING_SPACED |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

/* ---- text views ---- */

static void
print_features(FILE *out, uint32_t features)
{
	const char *sep = "";
	int f;

	for (f = 0; f < VV_FW_FEAT_COUNT; f++)
		if (features & VV_FW_BIT(f)) {
			fprintf(out, "%s%s", sep, vv_fw_feature_name(f));
			sep = " ";
		}
	if (sep[0] == '\0')
		fputs("(none)", out);
}

static void
print_descriptor(const struct vv_fw_descriptor *d)
{
	size_t i, j;

	printf("path:        %s\n", d->path);
	if (d->description != NULL)
		printf("description: %s\n", d->description);
	printf("interfaces: ");
	for (i = 0; i < d->n_interfaces; i++)
		printf(" %s", vv_fw_interface_name(d->interfaces[i]));
	printf("\ndevice:      %s\nmode:        %s%s\n", vv_fw_device_name(d->device),
	       vv_fw_mode_name(d->mode), d->mode_given ? "" : " (default)");
	if (d->executable.filename != NULL)
		printf("executable:  %s (%s)\n", d->executable.filename,
		       vv_fw_format_name(d->executable.format));
	if (d->nvram_template.filename != NULL)
		printf("template:    %s (%s)\n", d->nvram_template.filename,
		       vv_fw_format_name(d->nvram_template.format));
	if (d->filename != NULL)
		printf("filename:    %s\n", d->filename);
	for (i = 0; i < d->n_targets; i++) {
		printf("target:      %s", vv_fw_arch_name(d->targets[i].arch));
		for (j = 0; j < d->targets[i].n_machines; j++)
			printf(" %s", d->targets[i].machines[j]);
		putchar('\n');
	}
	printf("features:    ");
	print_features(stdout, d->features);
	putchar('\n');
	for (i = 0; i < d->n_warnings; i++)
		printf("warning:     %s\n", d->warnings[i]);
}

static void
print_entry_line(const struct vv_fw_entry *e)
{
	size_t i;

	printf("%-44s %-8s %s\n", e->name, state_name(e->state), e->path);
	for (i = 0; i < e->n_overridden; i++)
		printf("%-44s %-8s   overrides %s\n", "", "", e->overridden[i]);
	if (e->state == VV_FW_ENTRY_INVALID)
		printf("%-44s %-8s   %s\n", "", "", e->error);
	else if (e->state == VV_FW_ENTRY_OK && e->desc->n_warnings != 0)
		printf("%-44s %-8s   %zu warning(s): see `vmvars firmware show %s`\n", "", "",
		       e->desc->n_warnings, e->name);
}

/* Shell-quotes one argument for a copy-pasteable command line. */
static void
print_shell_word(const char *s)
{
	const char *p;

	if (s[0] != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789-_=,./:+@%") == strlen(s)) {
		fputs(s, stdout);
		return;
	}
	putchar('\'');
	for (p = s; *p != '\0'; p++) {
		if (*p == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*p);
	}
	putchar('\'');
}

/* ---- subcommands ---- */

static int
cmd_list(struct fw_args *a, struct vv_fw_list *l)
{
	struct json_object *o, *arr;
	size_t i;

	if (a->json) {
		o = json_object_new_object();
		json_object_object_add(o, "directories", strings_json(l->dirs, l->n_dirs));
		arr = json_object_new_array();
		for (i = 0; i < l->n; i++)
			json_object_array_add(arr, entry_json(&l->entries[i]));
		json_object_object_add(o, "descriptors", arr);
		print_json(o);
		return VV_EXIT_OK;
	}
	for (i = 0; i < l->n; i++)
		print_entry_line(&l->entries[i]);
	if (l->n == 0) {
		printf("no descriptors in");
		for (i = 0; i < l->n_dirs; i++)
			printf(" %s", l->dirs[i]);
		putchar('\n');
	}
	return VV_EXIT_OK;
}

/* A descriptor by list name, or by path (contains '/'), loaded directly. */
static int
named_descriptor(struct vv_fw_list *l, const char *name, const struct vv_fw_descriptor **d,
		 struct vv_fw_descriptor **owned)
{
	const struct vv_fw_entry *e;
	struct vv_error err;

	*owned = NULL;
	if (strchr(name, '/') != NULL) {
		if ((*owned = vv_fw_descriptor_load(name, &err)) == NULL)
			return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
		*d = *owned;
		return VV_EXIT_OK;
	}
	if ((e = vv_fw_list_find(l, name)) == NULL)
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "no descriptor named %s in the search path",
				   name);
	if (e->state == VV_FW_ENTRY_MASKED)
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s is masked by the empty file %s", name,
				   e->path);
	if (e->state == VV_FW_ENTRY_INVALID)
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", e->error);
	*d = e->desc;
	return VV_EXIT_OK;
}

static int
cmd_show(struct fw_args *a, struct vv_fw_list *l)
{
	const struct vv_fw_descriptor *d;
	struct vv_fw_descriptor *owned;
	int r;

	if ((r = named_descriptor(l, a->positional, &d, &owned)) != VV_EXIT_OK)
		return r;
	if (a->json)
		print_json(descriptor_json(d));
	else
		print_descriptor(d);
	vv_fw_descriptor_free(owned);
	return VV_EXIT_OK;
}

static const char *
verdict_name(enum vv_fw_verdict v)
{
	static const char *const names[] = { "selected", "also-matches", "rejected", "masked",
					     "invalid" };

	return names[v];
}

static int
cmd_select(struct fw_args *a, struct vv_fw_list *l)
{
	struct vv_fw_explanation *ex = NULL;
	struct json_object *o, *arr, *x;
	long i, chosen;

	chosen = vv_fw_select(l, &a->q, &ex);
	if (a->json) {
		o = json_object_new_object();
		json_object_object_add(o, "selected", chosen >= 0
				       ? entry_json(&l->entries[chosen]) : NULL);
		if (a->explain && ex != NULL) {
			arr = json_object_new_array();
			for (i = 0; i < (long)l->n; i++) {
				x = json_object_new_object();
				json_object_object_add(x, "name", json_object_new_string(ex[i].entry->name));
				json_object_object_add(x, "path", json_object_new_string(ex[i].entry->path));
				json_object_object_add(x, "verdict",
						       json_object_new_string(verdict_name(ex[i].verdict)));
				json_object_object_add(x, "reason", json_object_new_string(ex[i].reason));
				json_object_array_add(arr, x);
			}
			json_object_object_add(o, "explanation", arr);
		}
		print_json(o);
	} else {
		if (chosen >= 0)
			printf("%s\n", l->entries[chosen].path);
		for (i = 0; a->explain && ex != NULL && i < (long)l->n; i++)
			printf("%-12s %-44s %s\n", verdict_name(ex[i].verdict), ex[i].entry->name,
			       ex[i].reason);
	}
	free(ex);
	if (chosen < 0)
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "no descriptor matches%s",
				   a->explain ? "" : " (use --explain to see why)");
	return VV_EXIT_OK;
}

static void
print_instance(const struct vv_fw_descriptor *d, const struct vv_fw_instance *inst, bool json)
{
	struct json_object *o;
	size_t i;

	if (json) {
		o = json_object_new_object();
		json_object_object_add(o, "descriptor", json_object_new_string(d->path));
		json_object_object_add(o, "kind",
				       json_object_new_string(vv_fw_state_kind_name(inst->kind)));
		json_object_object_add(o, "created", str_or_null(inst->created));
		json_object_object_add(o, "executable", json_object_new_string(inst->executable));
		if (inst->kind == VV_FW_STATE_HOST_VARS)
			json_object_object_add(o, "variables",
					       json_object_new_int64((int64_t)inst->n_variables));
		json_object_object_add(o, "qemu-args", strings_json(inst->qemu_args,
								    inst->n_qemu_args));
		if (inst->vmvarsd_args != NULL)
			json_object_object_add(o, "vmvarsd-args",
					       strings_json(inst->vmvarsd_args,
							    inst->n_vmvarsd_args));
		print_json(o);
		return;
	}
	printf("descriptor: %s\nkind:       %s\n", d->path, vv_fw_state_kind_name(inst->kind));
	if (inst->created != NULL)
		printf("created:    %s\n", inst->created);
	if (inst->kind == VV_FW_STATE_HOST_VARS)
		printf("variables:  %zu\n", inst->n_variables);
	if (inst->kind == VV_FW_STATE_STATELESS || inst->kind == VV_FW_STATE_HOST_VARS_STATELESS)
		printf("variables:  volatile only (nothing persists)\n");
	if (inst->vmvarsd_args != NULL) {
		printf("vmvarsd:   ");
		for (i = 0; i < inst->n_vmvarsd_args; i++) {
			putchar(' ');
			print_shell_word(inst->vmvarsd_args[i]);
		}
		putchar('\n');
	}
	printf("qemu args: ");
	for (i = 0; i < inst->n_qemu_args; i++) {
		putchar(' ');
		print_shell_word(inst->qemu_args[i]);
	}
	putchar('\n');
}

static int
cmd_instantiate(struct fw_args *a, struct vv_fw_list *l)
{
	const struct vv_fw_descriptor *d;
	struct vv_fw_descriptor *owned = NULL;
	struct vv_fw_instance *inst;
	struct vv_error err;
	long chosen;
	int r;

	if (a->inst.vm_name == NULL)
		return usage_error("%sinstantiate needs --vm NAME", "");
	if (a->inst.dir == NULL && a->inst.target == NULL && a->inst.vmvarsd_dir == NULL)
		return usage_error("%sinstantiate needs --dir DIR, --output FILE or --vmvarsd DIR",
				   "");
	if (a->descriptor != NULL && a->query_given)
		return usage_error("%s--descriptor and query options exclude each other", "");
	if (a->descriptor != NULL) {
		if ((r = named_descriptor(l, a->descriptor, &d, &owned)) != VV_EXIT_OK)
			return r;
	} else {
		if ((chosen = vv_fw_select(l, &a->q, NULL)) < 0)
			return vv_cli_fail(VV_EXIT_FAIL, CMD, "no descriptor matches (see "
					   "`vmvars firmware select --explain`)");
		d = l->entries[chosen].desc;
	}
	/* --mode stateless: the VM keeps no variables, host-side ones included. */
	a->inst.stateless = a->q.mode == VV_FW_MODE_STATELESS;
	for (size_t i = 0; i < d->n_warnings; i++)
		fprintf(stderr, "%s: %s: warning: %s\n", vv_cli_progname, CMD, d->warnings[i]);
	if ((inst = vv_fw_instantiate(d, &a->inst, &err)) == NULL) {
		vv_fw_descriptor_free(owned);
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	}
	print_instance(d, inst, a->json);
	vv_fw_instance_free(inst);
	vv_fw_descriptor_free(owned);
	return VV_EXIT_OK;
}

int
vv_cmd_firmware(int argc, char **argv)
{
	struct fw_args a = { 0 };
	struct vv_fw_list *l;
	struct vv_error err;
	char **defaults = NULL;
	size_t n_defaults = 0;
	int r;

	if ((r = parse_args(argc, argv, &a)) != 0) {
		free(a.dirs);
		return r;
	}
	if (a.help) {
		vv_cmd_firmware_help(stdout);
		free(a.dirs);
		return VV_EXIT_OK;
	}
	if (vv_fw_query_check(&a.q, &err) != 0) {
		free(a.dirs);
		return usage_error("%s", err.msg);
	}
	if (a.n_dirs == 0) {
		if ((defaults = vv_fw_default_dirs(&n_defaults)) == NULL)
			return vv_cli_fail(VV_EXIT_FAIL, CMD, "out of memory");
		l = vv_fw_discover((const char *const *)defaults, n_defaults, &err);
	} else {
		l = vv_fw_discover(a.dirs, a.n_dirs, &err);
	}
	vv_fw_free_strings(defaults, n_defaults);
	free(a.dirs);
	if (l == NULL)
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	if (strcmp(a.sub, "list") == 0)
		r = cmd_list(&a, l);
	else if (strcmp(a.sub, "show") == 0)
		r = cmd_show(&a, l);
	else if (strcmp(a.sub, "select") == 0)
		r = cmd_select(&a, l);
	else
		r = cmd_instantiate(&a, l);
	vv_fw_list_free(l);
	return r;
}
