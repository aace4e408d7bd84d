/*
 * src/cli/cmd_boot.c -- `vmvars boot list | add | remove | order | next`:
 * boot entries (Boot####, EFI_LOAD_OPTION, varstore-formats §10.3),
 * BootOrder and BootNext (§10.2), with device paths in edk2 text form
 * (§10.5).  Every write is a host-owner SetVariable (vv_store_set), so the
 * store's VarCheck of load options, BootOrder and BootNext applies; the
 * file is saved only when every write of the operation succeeded.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/ucs2.h>

#include "cli/cli.h"
#include "cli/store_file.h"

#define CMD "boot"
#define ATTR_BOOT (VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT)   /* §10.2 */
#define LOAD_OPTION_ACTIVE 0x1u                            /* §10.3 */

void
vv_cmd_boot_help(FILE *out)
{
	fputs(
"NAME\n"
"    vmvars boot - boot entries: list, add, remove, order, next\n"
"\n"
"SYNOPSIS\n"
"    vmvars boot list FILE [--json]\n"
"    vmvars boot add FILE --title TITLE --path PATH [--optdata TEXT |\n"
"                    --optdata-hex HEX] [--number NUM] [--first] [--no-order]\n"
"                    [--next] [--inactive] [-o OUT] [--force]\n"
"    vmvars boot remove FILE NUM [-o OUT] [--force]\n"
"    vmvars boot order FILE NUM[,NUM...] [-o OUT] [--force]\n"
"    vmvars boot next FILE NUM | --clear [-o OUT] [--force]\n"
"\n"
"DESCRIPTION\n"
"    list    every Boot#### entry, BootOrder entries first: number, whether\n"
"            active, title, the device path in edk2 text form (e.g.\n"
"            PciRoot(0x0)/Pci(0x1F,0x2)/Sata(0x0,0xFFFF,0x0)) and optional data;\n"
"            then BootOrder and BootNext.\n"
"    add     creates Boot#### (the first free number unless --number) with a\n"
"            single device-path node: a file path (PATH starting with \\ or /;\n"
"            / becomes \\, as virt-fw-vars --append-boot-filepath) or a URI\n"
"            (PATH containing ://, as --set-boot-uri).  The number is appended\n"
"            to BootOrder (--first: put first; --no-order: left out); --next\n"
"            also sets BootNext.  --optdata TEXT stores TEXT as UCS-2 optional\n"
"            data (e.g. a kernel command line).\n"
"    remove  deletes Boot#### and removes it from BootOrder and BootNext.\n"
"    order   replaces BootOrder; every number must have a Boot#### entry.\n"
"    next    sets BootNext (or deletes it with --clear).\n"
"    NUM is hexadecimal, as in the variable name: 3, 0003 or Boot0003.\n"
"\n"
"EXIT STATUS\n"
"    0 done, 1 refused or the file cannot be read or written, 2 usage error.\n", out);
}

static int
parse_num(const char *text, unsigned *out)
{
	char *end;
	unsigned long n;

	if (strncmp(text, "Boot", 4) == 0)
		text += 4;
	if (*text == '\0' || strlen(text) > 4)
		return -1;
	errno = 0;
	n = strtoul(text, &end, 16);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = (unsigned)n;
	return 0;
}

static void
boot_name(unsigned num, uint16_t name[9])
{
	char ascii[9];

	/* §10.2: four uppercase hex digits */
	snprintf(ascii, sizeof(ascii), "Boot%04X", num);
	for (int i = 0; i < 9; i++)
		name[i] = (uint16_t)ascii[i];
}

static const struct vv_variable *
find_global(const struct vv_store *s, const char *ascii)
{
	uint16_t name[32];
	size_t len = strlen(ascii);

	for (size_t i = 0; i <= len && i < 32; i++)
		name[i] = (uint16_t)ascii[i];
	return vv_store_find(s, name, len, &VV_GUID_GLOBAL_VARIABLE);
}

static const struct vv_variable *
find_boot(const struct vv_store *s, unsigned num)
{
	uint16_t name[9];

	boot_name(num, name);
	return vv_store_find(s, name, 8, &VV_GUID_GLOBAL_VARIABLE);
}

/* A host-owner SetVariable in EfiGlobalVariable; size 0 deletes. */
static vv_status
put_global(struct vv_store *s, const uint16_t *name, size_t len, const uint8_t *data, size_t size)
{
	struct vv_set_request req = {
		.name = name, .name_len = len, .guid = VV_GUID_GLOBAL_VARIABLE,
		.attributes = ATTR_BOOT, .data = data, .data_size = size,
		.caller = VV_CALLER_HOST,
	};

	return vv_store_set(s, &req);
}

static vv_status
put_ascii(struct vv_store *s, const char *ascii, const uint8_t *data, size_t size)
{
	uint16_t name[32];
	size_t len = strlen(ascii);

	for (size_t i = 0; i <= len && i < 32; i++)
		name[i] = (uint16_t)ascii[i];
	if (size == 0 && find_global(s, ascii) == NULL)
		return VV_EFI_SUCCESS;      /* deleting what is not there */
	return put_global(s, name, len, data, size);
}

/* ---- list -------------------------------------------------------------- */

static bool
is_boot_name(const struct vv_variable *v, unsigned *num)
{
	char a[9];

	if (v->name_len != 8 || !vv_guid_equal(&v->guid, &VV_GUID_GLOBAL_VARIABLE))
		return false;
	for (int i = 0; i < 8; i++) {
		if (v->name[i] > 0x7f)
			return false;
		a[i] = (char)v->name[i];
	}
	a[8] = '\0';
	if (strncmp(a, "Boot", 4) != 0)
		return false;
	for (int i = 4; i < 8; i++)
		if (!((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'A' && a[i] <= 'F')))
			return false;
	*num = (unsigned)strtoul(a + 4, NULL, 16);
	return true;
}

static bool
in_order(const struct vv_variable *order, unsigned num)
{
	if (order == NULL)
		return false;
	for (size_t i = 0; i + 1 < order->data_size; i += 2)
		if (vv_le16(order->data + i) == num)
			return true;
	return false;
}

static void
entry_out(const struct vv_variable *v, unsigned num, bool ordered, struct json_object *arr)
{
	struct vv_load_option lo;
	char *dp = NULL, *opt = NULL;
	bool ok = vv_load_option_parse(v->data, v->data_size, &lo) == 0;

	if (ok) {
		dp = vv_devpath_text(lo.path, lo.path_size);
		opt = vv_cli_hex(lo.optional, lo.optional_size);
	}
	if (arr != NULL) {
		struct json_object *o = json_object_new_object();
		char nm[9];

		snprintf(nm, sizeof(nm), "Boot%04X", num);
		json_object_object_add(o, "name", json_object_new_string(nm));
		json_object_object_add(o, "number", json_object_new_int((int)num));
		json_object_object_add(o, "in_boot_order", json_object_new_boolean(ordered));
		json_object_object_add(o, "valid", json_object_new_boolean(ok));
		if (ok) {
			json_object_object_add(o, "title", json_object_new_string(lo.description));
			json_object_object_add(o, "attributes", json_object_new_int64(lo.attributes));
			json_object_object_add(o, "active",
					       json_object_new_boolean(lo.attributes & LOAD_OPTION_ACTIVE));
			json_object_object_add(o, "devpath", json_object_new_string(dp ? dp : ""));
			json_object_object_add(o, "optional_data", json_object_new_string(opt ? opt : ""));
		}
		json_object_array_add(arr, o);
	} else if (ok) {
		printf("Boot%04X %c%c %-32s %s", num, ordered ? '*' : ' ',
		       (lo.attributes & LOAD_OPTION_ACTIVE) ? 'A' : '-', lo.description, dp ? dp : "");
		if (lo.optional_size)
			printf(" optdata=%s", opt ? opt : "");
		putchar('\n');
	} else {
		printf("Boot%04X %c  <malformed load option, %zu bytes>\n", num, ordered ? '*' : ' ',
		       v->data_size);
	}
	if (ok)
		vv_load_option_free(&lo);
	free(dp);
	free(opt);
}

static struct json_object *
order_json(const struct vv_variable *v)
{
	struct json_object *a;

	if (v == NULL || v->data_size % 2 != 0)
		return NULL;
	a = json_object_new_array();
	for (size_t i = 0; i < v->data_size; i += 2)
		json_object_array_add(a, json_object_new_int(vv_le16(v->data + i)));
	return a;
}

static int
boot_list(struct vv_store_file *sf, bool json)
{
	const struct vv_variable *order = find_global(sf->store, "BootOrder");
	const struct vv_variable *next = find_global(sf->store, "BootNext");
	const struct vv_variable *v;
	struct json_object *arr = json ? json_object_new_array() : NULL;
	unsigned num;

	/* BootOrder entries first, in that order, then the rest in store order. */
	if (order != NULL)
		for (size_t i = 0; i + 1 < order->data_size; i += 2)
			if ((v = find_boot(sf->store, vv_le16(order->data + i))) != NULL)
				entry_out(v, vv_le16(order->data + i), true, arr);
	for (v = vv_store_first(sf->store); v != NULL; v = vv_store_next(v))
		if (is_boot_name(v, &num) && !in_order(order, num))
			entry_out(v, num, false, arr);
	if (json) {
		struct json_object *doc = json_object_new_object();

		json_object_object_add(doc, "entries", arr);
		json_object_object_add(doc, "boot_order", order_json(order));
		json_object_object_add(doc, "boot_next",
				       next != NULL && next->data_size == 2
					       ? json_object_new_int(vv_le16(next->data)) : NULL);
		vv_cli_print_json(doc);
		return VV_EXIT_OK;
	}
	printf("BootOrder:");
	if (order == NULL)
		printf(" (none)");
	for (size_t i = 0; order != NULL && i + 1 < order->data_size; i += 2)
		printf("%s %04X", i ? "," : "", vv_le16(order->data + i));
	printf("\nBootNext: ");
	if (next != NULL && next->data_size == 2)
		printf("%04X\n", vv_le16(next->data));
	else
		printf("(none)\n");
	return VV_EXIT_OK;
}

/* ---- edits ------------------------------------------------------------- */

struct boot_args {
	const char *title, *path, *output, *optdata, *optdata_hex;
	bool first, no_order, next, inactive, clear, json, have_number;
	unsigned number;
	enum vv_format in_fmt;
};

/* New BootOrder: old without num, with num at the front/back (add) or not
 * at all (remove). */
static vv_status
rewrite_order(struct vv_store *s, unsigned num, int where)
{
	const struct vv_variable *order = find_global(s, "BootOrder");
	size_t n = order != NULL ? order->data_size / 2 : 0, k = 0;
	uint8_t *buf = malloc((n + 1) * 2);
	vv_status st;

	if (buf == NULL)
		return VV_EFI_OUT_OF_RESOURCES;
	if (where < 0)
		vv_put_le16(buf + 2 * k++, (uint16_t)num);
	for (size_t i = 0; i < n; i++)
		if (vv_le16(order->data + 2 * i) != num)
			vv_put_le16(buf + 2 * k++, vv_le16(order->data + 2 * i));
	if (where > 0)
		vv_put_le16(buf + 2 * k++, (uint16_t)num);
	st = put_ascii(s, "BootOrder", buf, k * 2);
	free(buf);
	return st;
}

static vv_status
boot_add(struct vv_store *s, struct boot_args *a, const char **what)
{
	uint8_t *opt = NULL, *lo;
	size_t opt_size = 0, lo_size;
	uint16_t name[9];
	vv_status st;
	unsigned num = a->number;

	if (!a->have_number) {
		for (num = 0; num <= 0xFFFF && find_boot(s, num) != NULL; num++)
			;
		if (num > 0xFFFF) {
			*what = "no free Boot#### number";
			return VV_EFI_OUT_OF_RESOURCES;
		}
	} else if (find_boot(s, num) != NULL) {
		*what = "that Boot#### exists (remove it first)";
		return VV_EFI_INVALID_PARAMETER;
	}
	if (a->optdata_hex != NULL && vv_cli_parse_hex(a->optdata_hex, &opt, &opt_size) != 0) {
		*what = "--optdata-hex is not hex";
		return VV_EFI_INVALID_PARAMETER;
	}
	if (a->optdata != NULL) {
		size_t len;
		uint16_t *u = vv_ucs2_from_utf8(a->optdata, strlen(a->optdata), &len);

		if (u == NULL || (opt = malloc((len + 1) * 2)) == NULL) {
			free(u);
			*what = "--optdata is not representable in UCS-2";
			return VV_EFI_INVALID_PARAMETER;
		}
		for (size_t i = 0; i <= len; i++)
			vv_put_le16(opt + 2 * i, i < len ? u[i] : 0);
		opt_size = (len + 1) * 2;
		free(u);
	}
	lo = vv_load_option_build(a->inactive ? 0 : LOAD_OPTION_ACTIVE, a->title, a->path, opt,
				  opt_size, &lo_size);
	free(opt);
	if (lo == NULL) {
		*what = "cannot build the load option from --title/--path";
		return VV_EFI_INVALID_PARAMETER;
	}
	boot_name(num, name);
	*what = "SetVariable Boot####";
	st = put_global(s, name, 8, lo, lo_size);
	free(lo);
	if (st == VV_EFI_SUCCESS && !a->no_order) {
		*what = "SetVariable BootOrder";
		st = rewrite_order(s, num, a->first ? -1 : 1);
	}
	if (st == VV_EFI_SUCCESS && a->next) {
		uint8_t v[2];

		vv_put_le16(v, (uint16_t)num);
		*what = "SetVariable BootNext";
		st = put_ascii(s, "BootNext", v, 2);
	}
	if (st == VV_EFI_SUCCESS)
		printf("Boot%04X\n", num);
	return st;
}

static vv_status
boot_remove(struct vv_store *s, unsigned num, const char **what)
{
	const struct vv_variable *next = find_global(s, "BootNext");
	uint16_t name[9];
	vv_status st;

	if (find_boot(s, num) == NULL) {
		*what = "no such Boot#### entry";
		return VV_EFI_NOT_FOUND;
	}
	boot_name(num, name);
	*what = "SetVariable Boot####";
	if ((st = put_global(s, name, 8, NULL, 0)) != VV_EFI_SUCCESS)
		return st;
	if (find_global(s, "BootOrder") != NULL) {
		*what = "SetVariable BootOrder";
		if ((st = rewrite_order(s, num, 0)) != VV_EFI_SUCCESS)
			return st;
	}
	if (next != NULL && next->data_size == 2 && vv_le16(next->data) == num) {
		*what = "SetVariable BootNext";
		st = put_ascii(s, "BootNext", NULL, 0);
	}
	return st;
}

static vv_status
boot_order(struct vv_store *s, const char *list, const char **what)
{
	uint8_t buf[2 * 1024];
	size_t k = 0;
	char *copy = strdup(list), *tok, *save = NULL;
	vv_status st;

	if (copy == NULL)
		return VV_EFI_OUT_OF_RESOURCES;
	for (tok = strtok_r(copy, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
		unsigned num;

		if (parse_num(tok, &num) != 0 || k >= sizeof(buf)) {
			free(copy);
			*what = "not a list of hexadecimal boot numbers";
			return VV_EFI_INVALID_PARAMETER;
		}
		if (find_boot(s, num) == NULL) {
			free(copy);
			*what = "a number in the list has no Boot#### entry";
			return VV_EFI_NOT_FOUND;
		}
		vv_put_le16(buf + k, (uint16_t)num);
		k += 2;
	}
	free(copy);
	*what = "SetVariable BootOrder";
	if (k == 0 && find_global(s, "BootOrder") == NULL)
		return VV_EFI_SUCCESS;
	st = put_ascii(s, "BootOrder", buf, k);
	return st;
}

static vv_status
boot_next(struct vv_store *s, const char *arg, bool clear, const char **what)
{
	unsigned num;
	uint8_t v[2];

	*what = "SetVariable BootNext";
	if (clear)
		return put_ascii(s, "BootNext", NULL, 0);
	if (parse_num(arg, &num) != 0) {
		*what = "not a hexadecimal boot number";
		return VV_EFI_INVALID_PARAMETER;
	}
	if (find_boot(s, num) == NULL) {
		*what = "no such Boot#### entry";
		return VV_EFI_NOT_FOUND;
	}
	vv_put_le16(v, (uint16_t)num);
	return put_ascii(s, "BootNext", v, 2);
}

int
vv_cmd_boot(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "title", required_argument, NULL, 't' },
		{ "path", required_argument, NULL, 'p' },
		{ "optdata", required_argument, NULL, 'd' },
		{ "optdata-hex", required_argument, NULL, 'x' },
		{ "number", required_argument, NULL, 'n' },
		{ "first", no_argument, NULL, '1' },
		{ "no-order", no_argument, NULL, '0' },
		{ "next", no_argument, NULL, 'N' },
		{ "inactive", no_argument, NULL, 'i' },
		{ "clear", no_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "input-format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "force", no_argument, NULL, VV_CLI_OPT_FORCE },
		{ NULL, 0, NULL, 0 },
	};
	struct boot_args a;
	struct vv_store_file sf;
	struct vv_error err = { "" };
	const char *sub, *what = "";
	int c, rc, nargs;
	vv_status st = VV_EFI_SUCCESS;

	memset(&a, 0, sizeof(a));
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "jt:p:o:f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': a.json = true; break;
		case 't': a.title = optarg; break;
		case 'p': a.path = optarg; break;
		case 'd': a.optdata = optarg; break;
		case 'x': a.optdata_hex = optarg; break;
		case 'n':
			if (parse_num(optarg, &a.number) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "--number: not a hex boot number");
			a.have_number = true;
			break;
		case '1': a.first = true; break;
		case '0': a.no_order = true; break;
		case 'N': a.next = true; break;
		case 'i': a.inactive = true; break;
		case 'c': a.clear = true; break;
		case 'o': a.output = optarg; break;
		case 'f':
			if (vv_cli_parse_format(optarg, &a.in_fmt) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown format '%s'", optarg);
			break;
		case 'h': vv_cmd_boot_help(stdout); return VV_EXIT_OK;
		case VV_CLI_OPT_FORCE: vv_cli_write.force = true; break;
		default:
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown option '%s' (see vmvars boot --help)",
					   argv[optind - 1]);
		}
	}
	if (argc - optind < 2)
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "expected SUBCOMMAND FILE (see vmvars boot --help)");
	sub = argv[optind];
	nargs = argc - optind - 2;
	if (strcmp(sub, "list") == 0 || strcmp(sub, "add") == 0) {
		if (nargs != 0)
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "%s takes only FILE", sub);
		if (strcmp(sub, "add") == 0 && (a.title == NULL || a.path == NULL))
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "add needs --title and --path");
		if (a.optdata != NULL && a.optdata_hex != NULL)
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "give --optdata or --optdata-hex, not both");
	} else if (strcmp(sub, "remove") == 0 || strcmp(sub, "order") == 0) {
		if (nargs != 1)
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "%s takes FILE and one argument", sub);
	} else if (strcmp(sub, "next") == 0) {
		if (nargs != (a.clear ? 0 : 1))
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "next takes FILE and NUM, or --clear");
	} else {
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown subcommand '%s' (see vmvars boot --help)", sub);
	}
	if (vv_store_file_open(&sf, argv[optind + 1], a.in_fmt, false, &err) != 0)
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	if (strcmp(sub, "list") == 0) {
		rc = boot_list(&sf, a.json);
		vv_store_file_close(&sf);
		return rc;
	}
	if (strcmp(sub, "add") == 0) {
		st = boot_add(sf.store, &a, &what);
	} else if (strcmp(sub, "remove") == 0) {
		unsigned num;

		if (parse_num(argv[optind + 2], &num) != 0) {
			vv_store_file_close(&sf);
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "not a hex boot number: '%s'", argv[optind + 2]);
		}
		st = boot_remove(sf.store, num, &what);
	} else if (strcmp(sub, "order") == 0) {
		st = boot_order(sf.store, argv[optind + 2], &what);
	} else {
		st = boot_next(sf.store, a.clear ? NULL : argv[optind + 2], a.clear, &what);
	}
	if (st != VV_EFI_SUCCESS)
		rc = vv_cli_fail(VV_EXIT_FAIL, CMD, "%s: %s: %s: %s; nothing written", sf.path, sub, what,
				 vv_cli_why(sf.store, st));
	else if (vv_store_file_save(&sf, a.output, VV_FORMAT_UNKNOWN, NULL, 0, &err) != 0)
		rc = vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	else
		rc = VV_EXIT_OK;
	vv_store_file_close(&sf);
	return rc;
}
