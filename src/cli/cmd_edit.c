/*
 * src/cli/cmd_edit.c -- `vmvars set | append | delete`: edit one variable
 * of a store file through the same SetVariable code that serves guests
 * (vv_store_set, host-owner caller: read-only flags and policy locks do
 * not apply, every structural and VarCheck rule does), then save the file
 * atomically in its own format.
 *
 * Authenticated variables have no descriptor when the host owner writes
 * them: the Secure Boot databases go through vv_secureboot_enroll (format
 * checked, mode follows), other time-based authenticated variables through
 * vv_store_put (the host's own write, quotas only).  A refused write leaves
 * the file byte for byte as it was (store.h invariant 5, and nothing is
 * saved).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/ucs2.h>

#include "cli/cli.h"
#include "cli/store_file.h"
#include "core/varcheck_uefi.h"

void
vv_cmd_set_help(FILE *out)
{
	fputs(
"NAME\n"
"    vmvars set, vmvars append, vmvars delete - edit one variable of a store file\n"
"\n"
"SYNOPSIS\n"
"    vmvars set FILE NAME VALUE-OPTION [--guid GUID] [--attr ATTR] [-o OUT] [--force]\n"
"    vmvars append FILE NAME VALUE-OPTION [--guid GUID] [--attr ATTR] [-o OUT] [--force]\n"
"    vmvars delete FILE NAME [--guid GUID] [-o OUT] [--force]\n"
"\n"
"DESCRIPTION\n"
"    The edit goes through the same SetVariable rules a guest write does, as\n"
"    the host owner (read-only flags and variable-policy locks do not apply;\n"
"    attribute, size, name and UEFI variable-format checks do).  FILE is\n"
"    rewritten atomically in its own format (or OUT is written); if the edit is\n"
"    refused, nothing is written.  A new variable gets the namespace and\n"
"    attributes virt-fw-vars would give it: Boot####, BootOrder and the other\n"
"    UEFI globals NV|BS|RT in EfiGlobalVariable, SecureBootEnable and\n"
"    CustomMode in their edk2 namespaces, MokList and friends in the shim\n"
"    namespace, anything else NV|BS in EfiGlobalVariable.  An existing\n"
"    variable keeps its attributes unless --attr is given.\n"
"\n"
"    PK, KEK, db, dbx, dbt and dbr are written by host-owner enrollment (see\n"
"    vmvars enroll): the value must be a valid signature list.\n"
"\n"
"VALUE OPTIONS (one of)\n"
"    --data HEX       bytes in hex (spaces and colons ignored)\n"
"    --file FILE      the contents of FILE\n"
"    --string TEXT    TEXT as bytes with a terminating NUL (e.g. PlatformLang)\n"
"    --ucs2 TEXT      TEXT as UCS-2 little-endian with a terminating NUL\n"
"    --u8 N, --u16 N, --u32 N, --u64 N   a little-endian integer\n"
"    --true, --false  one byte 0x01 / 0x00 (virt-fw-vars --set-true/--set-false)\n"
"\n"
"OTHER OPTIONS\n"
"    --guid GUID      the namespace (GUID or a name: global, security, shim, ...)\n"
"    --attr ATTR      NV|BS|RT|AT|HR, or a number such as 0x7\n"
"    -o, --output OUT write the result to OUT instead of FILE (same format\n"
"                     unless --output-format FMT)\n"
"    --input-format FMT, --output-format FMT   json, fd, aws, xen (efivarfs in)\n"
"    --force          write a read-only, immutable or hard-linked FILE anyway\n"
"                     (its owner, mode and label are kept; docs/cli.md \"How\n"
"                     vmvars writes a file\")\n"
"\n"
"EXIT STATUS\n"
"    0 written, 1 refused (the EFI status and why are printed) or the file cannot be\n"
"    read or written, 2 usage error.\n", out);
}

void vv_cmd_append_help(FILE *out) { vv_cmd_set_help(out); }
void vv_cmd_delete_help(FILE *out) { vv_cmd_set_help(out); }

struct edit_args {
	const char *file, *name, *output;
	enum vv_format in_fmt, out_fmt;
	bool have_guid, have_attr, have_value;
	vv_guid guid;
	uint32_t attr;
	uint8_t *value;
	size_t value_size;
};

static int
set_value(struct edit_args *a, const char *cmd, uint8_t *data, size_t size)
{
	if (a->have_value) {
		free(data);
		return vv_cli_fail(VV_EXIT_USAGE, cmd, "give only one value option");
	}
	a->value = data;
	a->value_size = size;
	a->have_value = true;
	return VV_EXIT_OK;
}

static int
int_value(struct edit_args *a, const char *cmd, const char *text, size_t width)
{
	unsigned long long n;
	char *end;
	uint8_t *d;

	errno = 0;
	n = strtoull(text, &end, 0);
	if (errno != 0 || *end != '\0' || text[0] == '-' ||
	    (width < 8 && n >> (width * 8) != 0))
		return vv_cli_fail(VV_EXIT_USAGE, cmd, "'%s' is not a %zu-byte unsigned integer",
				   text, width);
	if ((d = malloc(width)) == NULL)
		return vv_cli_fail(VV_EXIT_FAIL, cmd, "out of memory");
	for (size_t i = 0; i < width; i++)
		d[i] = (uint8_t)(n >> (8 * i));
	return set_value(a, cmd, d, width);
}

static int
parse_value_option(struct edit_args *a, const char *cmd, int c, const char *arg)
{
	struct vv_error err = { "" };
	uint8_t *d;
	size_t n;

	switch (c) {
	case 'D':
		if (vv_cli_parse_hex(arg, &d, &n) != 0)
			return vv_cli_fail(VV_EXIT_USAGE, cmd, "--data: not hex (or odd length): '%s'", arg);
		return set_value(a, cmd, d, n);
	case 'F':
		if (vv_read_file(arg, &d, &n, &err) != 0)
			return vv_cli_fail(VV_EXIT_FAIL, cmd, "%s", err.msg);
		return set_value(a, cmd, d, n);
	case 'S':
		n = strlen(arg) + 1;
		if ((d = malloc(n)) == NULL)
			return vv_cli_fail(VV_EXIT_FAIL, cmd, "out of memory");
		memcpy(d, arg, n);
		return set_value(a, cmd, d, n);
	case 'U': {
		size_t len;
		uint16_t *u = vv_ucs2_from_utf8(arg, strlen(arg), &len);

		if (u == NULL || (d = malloc((len + 1) * 2)) == NULL) {
			free(u);
			return vv_cli_fail(VV_EXIT_USAGE, cmd, "--ucs2: not representable in UCS-2");
		}
		for (size_t i = 0; i <= len; i++)
			vv_put_le16(d + 2 * i, i < len ? u[i] : 0);
		free(u);
		return set_value(a, cmd, d, (len + 1) * 2);
	}
	case '1': return int_value(a, cmd, arg, 1);
	case '2': return int_value(a, cmd, arg, 2);
	case '4': return int_value(a, cmd, arg, 4);
	case '8': return int_value(a, cmd, arg, 8);
	case 'T': case 'N':
		if ((d = malloc(1)) == NULL)
			return vv_cli_fail(VV_EXIT_FAIL, cmd, "out of memory");
		d[0] = c == 'T';
		return set_value(a, cmd, d, 1);
	}
	return VV_EXIT_USAGE;
}

static int
parse_edit_args(int argc, char **argv, const char *cmd, bool want_value, struct edit_args *a)
{
	static const struct option opts[] = {
		{ "guid", required_argument, NULL, 'g' },
		{ "attr", required_argument, NULL, 'a' },
		{ "output", required_argument, NULL, 'o' },
		{ "input-format", required_argument, NULL, 'f' },
		{ "output-format", required_argument, NULL, 'O' },
		{ "data", required_argument, NULL, 'D' },
		{ "file", required_argument, NULL, 'F' },
		{ "string", required_argument, NULL, 'S' },
		{ "ucs2", required_argument, NULL, 'U' },
		{ "u8", required_argument, NULL, '1' },
		{ "u16", required_argument, NULL, '2' },
		{ "u32", required_argument, NULL, '4' },
		{ "u64", required_argument, NULL, '8' },
		{ "true", no_argument, NULL, 'T' },
		{ "false", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ "force", no_argument, NULL, VV_CLI_OPT_FORCE },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;

	memset(a, 0, sizeof(*a));
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "g:a:o:f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'g':
			if (vv_cli_parse_guid(optarg, &a->guid) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, cmd, "not a GUID: '%s'", optarg);
			a->have_guid = true;
			break;
		case 'a':
			if (vv_cli_parse_attr(optarg, &a->attr) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, cmd, "bad attributes '%s'", optarg);
			a->have_attr = true;
			break;
		case 'o': a->output = optarg; break;
		case 'f':
			if (vv_cli_parse_format(optarg, &a->in_fmt) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, cmd, "unknown format '%s'", optarg);
			break;
		case 'O':
			if (vv_cli_parse_format(optarg, &a->out_fmt) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, cmd, "unknown format '%s'", optarg);
			break;
		case 'h': vv_cmd_set_help(stdout); return -1;
		case VV_CLI_OPT_FORCE: vv_cli_write.force = true; break;
		case 'D': case 'F': case 'S': case 'U': case '1': case '2': case '4': case '8':
		case 'T': case 'N':
			if (!want_value)
				return vv_cli_fail(VV_EXIT_USAGE, cmd, "%s takes no value", cmd);
			if ((rc = parse_value_option(a, cmd, c, optarg)) != VV_EXIT_OK)
				return rc;
			break;
		default:
			return vv_cli_fail(VV_EXIT_USAGE, cmd, "unknown option '%s' (see vmvars %s --help)",
					   argv[optind - 1], cmd);
		}
	}
	if (argc - optind != 2)
		return vv_cli_fail(VV_EXIT_USAGE, cmd, "expected FILE NAME (see vmvars %s --help)", cmd);
	if (want_value && !a->have_value)
		return vv_cli_fail(VV_EXIT_USAGE, cmd, "no value given (--data, --file, --string, ...)");
	a->file = argv[optind];
	a->name = argv[optind + 1];
	return VV_EXIT_OK;
}

/* Which Secure Boot database (name, guid) is, or -1. */
static int
sb_database(const char *name, const vv_guid *guid)
{
	static const char *const names[] = { "PK", "KEK", "db", "dbx", "dbt", "dbr" };

	for (int i = 0; i < 6; i++) {
		const vv_guid *want = i < 2 ? &VV_GUID_GLOBAL_VARIABLE : &VV_GUID_IMAGE_SECURITY_DB;

		if (strcmp(name, names[i]) == 0 && vv_guid_equal(guid, want))
			return i;
	}
	return -1;
}

/* The Secure Boot mode variables the service derives (a host write is
 * refused by it, with the reason, rather than stored as a lie). */
static bool
sb_derived(const char *name, const vv_guid *guid)
{
	static const char *const names[] = {
		"SecureBoot", "SetupMode", "VendorKeys", "AuditMode", "DeployedMode",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0 && vv_guid_equal(guid, &VV_GUID_GLOBAL_VARIABLE))
			return true;
	return false;
}

/* The advice after a refusal the store explained: a name the UEFI
 * specification does not define, put in EFI_GLOBAL_VARIABLE because no
 * --guid was given, wants a namespace of its own. */
static const char *
refusal_hint(const struct edit_args *a, const vv_guid *guid, vv_status st)
{
	uint16_t *name;
	size_t len;
	bool undefined;

	if (st != VV_EFI_INVALID_PARAMETER || a->have_guid ||
	    !vv_guid_equal(guid, &VV_GUID_GLOBAL_VARIABLE) ||
	    (name = vv_cli_name(a->name, &len)) == NULL)
		return "";
	undefined = vv_uefi_var_property(name, len, guid) == NULL;
	free(name);
	return undefined ? "; without --guid a name goes to EFI_GLOBAL_VARIABLE (global): give "
			   "your own variable a vendor namespace with --guid GUID" : "";
}

/* The write itself; op is 's'et, 'a'ppend or 'd'elete. */
static vv_status
apply_edit(struct vv_store_file *sf, struct edit_args *a, int op, const char **what)
{
	const struct vv_variable *old;
	uint16_t *name;
	size_t len;
	vv_guid guid;
	uint32_t attr;
	int db;
	vv_status st;

	vv_cli_default_var(a->name, &guid, &attr);
	if (a->have_guid)
		guid = a->guid;
	if ((name = vv_cli_name(a->name, &len)) == NULL) {
		*what = "not a valid variable name";
		return VV_EFI_INVALID_PARAMETER;
	}
	old = vv_store_find(sf->store, name, len, &guid);
	if (old != NULL)
		attr = old->attributes;
	if (a->have_attr)
		attr = a->attr & ~VV_ATTR_APPEND;
	if (op == 'd' && old == NULL) {
		free(name);
		*what = "no such variable";
		return VV_EFI_NOT_FOUND;
	}
	if ((db = sb_database(a->name, &guid)) >= 0) {
		*what = "refused by host-owner enrollment";
		st = vv_secureboot_enroll(sf->sb, (enum vv_sb_db)db, op == 'd' ? NULL : a->value,
					  op == 'd' ? 0 : a->value_size, op == 'a');
	} else if (attr & VV_ATTR_AT) {
		vv_efi_time now;
		uint8_t *merged = NULL;
		size_t size = a->value_size;

		*what = "refused by the host write";
		vv_efi_time_now(&now);
		if (op == 'a' && old != NULL) {
			/* §8.3: APPEND concatenates (no de-duplication outside the
			 * signature databases). */
			size = old->data_size + a->value_size;
			if ((merged = malloc(size ? size : 1)) == NULL) {
				free(name);
				return VV_EFI_OUT_OF_RESOURCES;
			}
			memcpy(merged, old->data, old->data_size);
			memcpy(merged + old->data_size, a->value, a->value_size);
		}
		st = vv_store_put(sf->store, name, len, &guid, attr,
				  merged != NULL ? merged : a->value, op == 'd' ? 0 : size, &now);
		free(merged);
	} else {
		struct vv_set_request req = {
			.name = name, .name_len = len, .guid = guid,
			.attributes = attr | (op == 'a' ? VV_ATTR_APPEND : 0),
			.data = op == 'd' ? NULL : a->value,
			.data_size = op == 'd' ? 0 : a->value_size,
			.caller = VV_CALLER_HOST,
		};

		*what = "refused by SetVariable";
		st = vv_store_set(sf->store, &req);
	}
	free(name);
	return st;
}

static int
edit(int argc, char **argv, int op)
{
	const char *cmd = op == 's' ? "set" : op == 'a' ? "append" : "delete";
	struct edit_args a;
	struct vv_store_file sf;
	struct vv_error err = { "" };
	const char *what = "";
	vv_guid guid;
	uint32_t attr;
	vv_status st;
	int rc;

	if ((rc = parse_edit_args(argc, argv, cmd, op != 'd', &a)) != VV_EXIT_OK) {
		free(a.value);
		return rc < 0 ? VV_EXIT_OK : rc;
	}
	/* Secure Boot is attached only for its databases: attaching adds the
	 * variables edk2 creates at power-on, which an unrelated edit must
	 * not slip into the user's file. */
	vv_cli_default_var(a.name, &guid, &attr);
	if (a.have_guid)
		guid = a.guid;
	if (vv_store_file_open(&sf, a.file, a.in_fmt,
			       sb_database(a.name, &guid) >= 0 || sb_derived(a.name, &guid),
			       &err) != 0) {
		free(a.value);
		return vv_cli_fail(VV_EXIT_FAIL, cmd, "%s", err.msg);
	}
	st = apply_edit(&sf, &a, op, &what);
	if (st != VV_EFI_SUCCESS) {
		rc = vv_cli_fail(VV_EXIT_FAIL, cmd, "%s: %s %s: %s (%s)%s; %s not written", a.file,
				 cmd, a.name, what, vv_cli_why(sf.store, st),
				 refusal_hint(&a, &guid, st), a.output ? a.output : a.file);
	} else if (vv_store_file_save(&sf, a.output, a.out_fmt, NULL, 0, &err) != 0) {
		rc = vv_cli_fail(VV_EXIT_FAIL, cmd, "%s", err.msg);
	} else {
		rc = VV_EXIT_OK;
	}
	vv_store_file_close(&sf);
	free(a.value);
	return rc;
}

int vv_cmd_set(int argc, char **argv) { return edit(argc, argv, 's'); }
int vv_cmd_append(int argc, char **argv) { return edit(argc, argv, 'a'); }
int vv_cmd_delete(int argc, char **argv) { return edit(argc, argv, 'd'); }
