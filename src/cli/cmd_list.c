/*
 * src/cli/cmd_list.c -- `vmvars list FILE`: every variable of a store file
 * with its namespace (by well-known name), attributes (NV|BS|RT|AT...),
 * size and timestamp; `--json` for programs.
 *
 * The file is read without Secure Boot attached, so the listing is what
 * the file holds, not the variables the service would add at power-on.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/ucs2.h>

#include "cli/cli.h"
#include "cli/store_file.h"

#define CMD "list"

void
vv_cmd_list_help(FILE *out)
{
	fputs(
"NAME\n"
"    vmvars list - list the variables of a store file\n"
"\n"
"SYNOPSIS\n"
"    vmvars list FILE [--guid GUID] [--input-format FMT] [--json]\n"
"\n"
"DESCRIPTION\n"
"    Prints one line per variable in store order: name, namespace GUID (by its\n"
"    well-known name when it has one), attributes, data size in bytes and, for\n"
"    time-based authenticated variables, the timestamp.  FILE may be any format\n"
"    vmvars reads (json, fd, aws, xen, or an efivarfs directory); the format is\n"
"    detected unless --input-format is given.\n"
"\n"
"OPTIONS\n"
"    --guid GUID          only variables of this namespace (GUID or a name such\n"
"                         as global, security, shim, EfiGlobalVariable)\n"
"    --input-format FMT   json, fd, aws, xen, efivarfs\n"
"    --json               an array of {name, guid, guid_name, attr, attributes,\n"
"                         size, time} objects\n"
"\n"
"EXIT STATUS\n"
"    0 listed, 1 the file cannot be read, 2 usage error.\n", out);
}

static struct json_object *
var_json(const struct vv_variable *v)
{
	struct json_object *o = json_object_new_object();
	char g[VV_GUID_TEXT_LEN + 1], attr[96], t[32];
	char *name = vv_ucs2_to_utf8(v->name, v->name_len);
	const char *gn = vv_guid_name(&v->guid);

	vv_guid_format(&v->guid, g);
	json_object_object_add(o, "name", json_object_new_string(name != NULL ? name : "?"));
	json_object_object_add(o, "guid", json_object_new_string(g));
	json_object_object_add(o, "guid_name", gn != NULL ? json_object_new_string(gn) : NULL);
	json_object_object_add(o, "attr", json_object_new_int64(v->attributes));
	json_object_object_add(o, "attributes",
			       json_object_new_string(vv_attr_format(v->attributes, attr, sizeof(attr))));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)v->data_size));
	if (v->has_time) {
		vv_cli_time_text(&v->time, t, sizeof(t));
		json_object_object_add(o, "time", json_object_new_string(t));
	} else {
		json_object_object_add(o, "time", NULL);
	}
	free(name);
	return o;
}

static void
var_line(const struct vv_variable *v)
{
	char g[64], attr[96], t[32] = "";
	char *name = vv_ucs2_to_utf8(v->name, v->name_len);

	if (v->has_time)
		vv_cli_time_text(&v->time, t, sizeof(t));
	printf("%-24s %-36s %-14s %7zu  %s\n", name != NULL ? name : "?",
	       vv_cli_guid_text(&v->guid, g, sizeof(g)),
	       vv_attr_format(v->attributes, attr, sizeof(attr)), v->data_size, t);
	free(name);
}

int
vv_cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "guid", required_argument, NULL, 'g' },
		{ "input-format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vv_store_file sf;
	struct vv_error err = { "" };
	enum vv_format fmt = VV_FORMAT_UNKNOWN;
	bool json = false, have_guid = false;
	vv_guid guid;
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "jg:f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'g':
			if (vv_cli_parse_guid(optarg, &guid) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "not a GUID: '%s'", optarg);
			have_guid = true;
			break;
		case 'f':
			if (vv_cli_parse_format(optarg, &fmt) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown format '%s'", optarg);
			break;
		case 'h': vv_cmd_list_help(stdout); return VV_EXIT_OK;
		default:
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown option '%s' (see vmvars list --help)",
					   argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "expected one FILE (see vmvars list --help)");
	if (vv_store_file_open(&sf, argv[optind], fmt, false, &err) != 0)
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);

	struct json_object *arr = json ? json_object_new_array() : NULL;

	for (const struct vv_variable *v = vv_store_first(sf.store); v != NULL; v = vv_store_next(v)) {
		if (have_guid && !vv_guid_equal(&v->guid, &guid))
			continue;
		if (json)
			json_object_array_add(arr, var_json(v));
		else
			var_line(v);
	}
	if (json)
		vv_cli_print_json(arr);
	vv_store_file_close(&sf);
	return VV_EXIT_OK;
}
