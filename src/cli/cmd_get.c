/*
 * src/cli/cmd_get.c -- `vmvars get FILE NAME`: one variable's value, raw,
 * as hex, or decoded by what the name says it holds (the kinds virt-fw-vars
 * decodes, varstore-formats §7.6-§7.7: signature databases, booleans,
 * ASCII, boot order, device paths, boot entries; fixed-size integers).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmvars/ucs2.h>

#include "cli/cli.h"
#include "cli/store_file.h"

#define CMD "get"

void
vv_cmd_get_help(FILE *out)
{
	fputs(
"NAME\n"
"    vmvars get - print one variable of a store file\n"
"\n"
"SYNOPSIS\n"
"    vmvars get FILE NAME [--guid GUID] [--decode | --hex | --raw] [--json]\n"
"               [--output OUT]\n"
"\n"
"DESCRIPTION\n"
"    Without --guid, NAME is looked up in every namespace; when several hold\n"
"    it, the default namespace of the name (EfiGlobalVariable for most) wins,\n"
"    else --guid is required.\n"
"\n"
"    --decode (default)  decoded by kind: signature databases (PK, KEK, db,\n"
"                        dbx, MokList...: each certificate's subject, issuer,\n"
"                        validity and SHA-256, or the hash), boot entries\n"
"                        (Boot####: title, attributes, device path in edk2\n"
"                        text form, optional data), BootOrder/BootNext,\n"
"                        ConIn/ConOut/ErrOut device paths, booleans, ASCII\n"
"                        strings, 1/2/4/8-byte integers; else a hex dump\n"
"    --hex               the data as one line of lowercase hex\n"
"    --raw               the data bytes to stdout (or to --output OUT)\n"
"    --json              {name, guid, attr, attributes, size, time, data,\n"
"                        decoded}\n"
"\n"
"EXIT STATUS\n"
"    0 printed, 1 no such variable or the file cannot be read, 2 usage error.\n", out);
}

enum kind { K_BLOB, K_SIGDB, K_BOOL, K_ASCII, K_ORDER, K_DEVPATH, K_LOADOPT };

static bool
hex4(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return s[4] == '\0';
}

static enum kind
kind_of(const char *name)
{
	/* varstore-formats §7.6 name lists, extended with §10.2 names. */
	static const char *const sigdb[] = {
		"PK", "KEK", "db", "dbx", "dbt", "dbr", "MokList", "MokListX", "MokListRT",
		"MokListXRT", "MokListTrusted", "TlsCaCertificate", "PKDefault", "KEKDefault",
		"dbDefault", "dbxDefault", "dbtDefault", "dbrDefault",
	};
	static const char *const ascii[] = {
		"Lang", "PlatformLang", "SbatLevel", "LangCodes", "PlatformLangCodes",
	};
	static const char *const order[] = { "BootOrder", "BootNext", "DriverOrder", "SysPrepOrder",
					     "BootCurrent" };
	static const char *const devpath[] = { "ConIn", "ConOut", "ErrOut", "ConInDev",
					       "ConOutDev", "ErrOutDev" };
	size_t i;

	for (i = 0; i < sizeof(sigdb) / sizeof(sigdb[0]); i++)
		if (strcmp(name, sigdb[i]) == 0)
			return K_SIGDB;
	if (strcmp(name, "SecureBootEnable") == 0 || strcmp(name, "CustomMode") == 0)
		return K_BOOL;
	for (i = 0; i < sizeof(ascii) / sizeof(ascii[0]); i++)
		if (strcmp(name, ascii[i]) == 0)
			return K_ASCII;
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (strcmp(name, order[i]) == 0)
			return K_ORDER;
	for (i = 0; i < sizeof(devpath) / sizeof(devpath[0]); i++)
		if (strcmp(name, devpath[i]) == 0)
			return K_DEVPATH;
	if ((strncmp(name, "Boot", 4) == 0 && hex4(name + 4)) ||
	    (strncmp(name, "Driver", 6) == 0 && hex4(name + 6)) ||
	    (strncmp(name, "SysPrep", 7) == 0 && hex4(name + 7)))
		return K_LOADOPT;
	return K_BLOB;
}

static char *
ascii_text(const uint8_t *d, size_t n)
{
	char *s = malloc(n * 2 + 1);
	size_t j = 0;

	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (d[i] == 0)
			continue;       /* §7.7: NULs removed */
		if (d[i] == '\n') {
			s[j++] = '\\';
			s[j++] = 'n';
		} else {
			s[j++] = (d[i] >= 0x20 && d[i] < 0x7f) ? (char)d[i] : '?';
		}
	}
	s[j] = '\0';
	return s;
}

static uint64_t
le_value(const uint8_t *d, size_t n)
{
	uint64_t v = 0;

	for (size_t i = n; i > 0; i--)
		v = v << 8 | d[i - 1];
	return v;
}

/* The decoded value as JSON (NULL: no decoder applies). */
static struct json_object *
decoded_json(enum kind k, const struct vv_variable *v)
{
	struct json_object *o;
	struct vv_load_option lo;
	char *s;

	switch (k) {
	case K_SIGDB:
		return vv_decode_siglist_json(v->data, v->data_size);
	case K_BOOL:
		return v->data_size == 1 ? json_object_new_boolean(v->data[0] != 0) : NULL;
	case K_ASCII:
		s = ascii_text(v->data, v->data_size);
		o = json_object_new_string(s != NULL ? s : "");
		free(s);
		return o;
	case K_ORDER:
		if (v->data_size % 2 != 0)
			return NULL;
		o = json_object_new_array();
		for (size_t i = 0; i < v->data_size; i += 2)
			json_object_array_add(o, json_object_new_int(vv_le16(v->data + i)));
		return o;
	case K_DEVPATH:
		s = vv_devpath_text(v->data, v->data_size);
		o = json_object_new_string(s != NULL ? s : "");
		free(s);
		return o;
	case K_LOADOPT:
		if (vv_load_option_parse(v->data, v->data_size, &lo) != 0)
			return NULL;
		o = json_object_new_object();
		json_object_object_add(o, "title", json_object_new_string(lo.description));
		json_object_object_add(o, "attributes", json_object_new_int64(lo.attributes));
		json_object_object_add(o, "active", json_object_new_boolean(lo.attributes & 1));
		s = vv_devpath_text(lo.path, lo.path_size);
		json_object_object_add(o, "devpath", json_object_new_string(s != NULL ? s : ""));
		free(s);
		s = vv_cli_hex(lo.optional, lo.optional_size);
		json_object_object_add(o, "optional_data", json_object_new_string(s != NULL ? s : ""));
		free(s);
		vv_load_option_free(&lo);
		return o;
	case K_BLOB:
		if (v->data_size == 1 || v->data_size == 2 || v->data_size == 4 || v->data_size == 8)
			return json_object_new_int64((int64_t)le_value(v->data, v->data_size));
		return NULL;
	}
	return NULL;
}

static void
hexdump(const uint8_t *d, size_t n)
{
	for (size_t off = 0; off < n; off += 16) {
		printf("  %06zx ", off);
		for (size_t i = 0; i < 16; i++) {
			if (off + i < n)
				printf(" %02x", d[off + i]);
			else
				printf("   ");
		}
		printf("  ");
		for (size_t i = 0; i < 16 && off + i < n; i++)
			putchar(d[off + i] >= 0x20 && d[off + i] < 0x7f ? d[off + i] : '.');
		putchar('\n');
	}
}

static void
print_decoded(enum kind k, const struct vv_variable *v)
{
	struct json_object *o;
	struct vv_load_option lo;
	char *s;
	static const char *const width[] = { NULL, "byte", "word", NULL, "dword",
					     NULL, NULL, NULL, "qword" };

	switch (k) {
	case K_SIGDB:
		vv_decode_siglist_text(stdout, v->data, v->data_size, "  ");
		return;
	case K_DEVPATH:
		s = vv_devpath_text(v->data, v->data_size);
		printf("  devpath: %s\n", s != NULL ? s : "");
		free(s);
		return;
	case K_LOADOPT:
		if (vv_load_option_parse(v->data, v->data_size, &lo) != 0)
			break;
		s = vv_devpath_text(lo.path, lo.path_size);
		printf("  title: \"%s\"\n  attributes: 0x%x%s\n  devpath: %s\n", lo.description,
		       lo.attributes, (lo.attributes & 1) ? " (active)" : "", s != NULL ? s : "");
		free(s);
		if (lo.optional_size) {
			s = vv_cli_hex(lo.optional, lo.optional_size);
			printf("  optdata: %s\n", s != NULL ? s : "");
			free(s);
		}
		vv_load_option_free(&lo);
		return;
	case K_ORDER:
		if (v->data_size % 2 != 0)
			break;
		printf("  boot order:");
		for (size_t i = 0; i < v->data_size; i += 2)
			printf("%s %04X", i ? "," : "", vv_le16(v->data + i));
		putchar('\n');
		return;
	case K_BOOL:
		if (v->data_size != 1)
			break;
		printf("  bool: %s\n", v->data[0] ? "ON" : "off");
		return;
	case K_ASCII:
		s = ascii_text(v->data, v->data_size);
		printf("  ascii: \"%s\"\n", s != NULL ? s : "");
		free(s);
		return;
	case K_BLOB:
		if (v->data_size <= 8 && width[v->data_size] != NULL) {
			printf("  %s: 0x%0*llx\n", width[v->data_size], (int)v->data_size * 2,
			       (unsigned long long)le_value(v->data, v->data_size));
			return;
		}
		break;
	}
	(void)o;
	hexdump(v->data, v->data_size);
}

static int
write_raw(const struct vv_variable *v, const char *out)
{
	struct vv_error err = { "" };

	if (out != NULL) {
		if (vv_write_file_atomic(out, v->data, v->data_size, &err) != 0)
			return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
		return VV_EXIT_OK;
	}
	if (fwrite(v->data, 1, v->data_size, stdout) != v->data_size)
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "write error on stdout");
	return VV_EXIT_OK;
}

int
vv_cmd_get(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "guid", required_argument, NULL, 'g' },
		{ "decode", no_argument, NULL, 'd' },
		{ "hex", no_argument, NULL, 'x' },
		{ "raw", no_argument, NULL, 'r' },
		{ "output", required_argument, NULL, 'o' },
		{ "input-format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vv_store_file sf;
	struct vv_error err = { "" };
	enum vv_format fmt = VV_FORMAT_UNKNOWN;
	const struct vv_variable *v;
	bool json = false, have_guid = false, ambiguous;
	const char *out = NULL, *name;
	int c, mode = 'd', rc = VV_EXIT_OK;
	vv_guid guid;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "jg:dxro:f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'g':
			if (vv_cli_parse_guid(optarg, &guid) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "not a GUID: '%s'", optarg);
			have_guid = true;
			break;
		case 'd': case 'x': case 'r': mode = c; break;
		case 'o': out = optarg; mode = 'r'; break;
		case 'f':
			if (vv_cli_parse_format(optarg, &fmt) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown format '%s'", optarg);
			break;
		case 'h': vv_cmd_get_help(stdout); return VV_EXIT_OK;
		default:
			return vv_cli_fail(VV_EXIT_USAGE, CMD, "unknown option '%s' (see vmvars get --help)",
					   argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return vv_cli_fail(VV_EXIT_USAGE, CMD, "expected FILE NAME (see vmvars get --help)");
	name = argv[optind + 1];
	if (vv_store_file_open(&sf, argv[optind], fmt, false, &err) != 0)
		return vv_cli_fail(VV_EXIT_FAIL, CMD, "%s", err.msg);
	v = vv_cli_find(sf.store, name, have_guid ? &guid : NULL, &ambiguous);
	if (v == NULL) {
		rc = ambiguous ? vv_cli_fail(VV_EXIT_FAIL, CMD, "%s: '%s' exists in several namespaces; give --guid",
					      argv[optind], name)
			       : vv_cli_fail(VV_EXIT_FAIL, CMD, "%s: no variable '%s'", argv[optind], name);
	} else if (json) {
		struct json_object *o = json_object_new_object(), *d;
		char g[VV_GUID_TEXT_LEN + 1], attr[96], t[32];
		char *hex = vv_cli_hex(v->data, v->data_size);

		vv_guid_format(&v->guid, g);
		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "guid", json_object_new_string(g));
		json_object_object_add(o, "attr", json_object_new_int64(v->attributes));
		json_object_object_add(o, "attributes",
				       json_object_new_string(vv_attr_format(v->attributes, attr, sizeof(attr))));
		json_object_object_add(o, "size", json_object_new_int64((int64_t)v->data_size));
		if (v->has_time)
			vv_cli_time_text(&v->time, t, sizeof(t));
		json_object_object_add(o, "time", v->has_time ? json_object_new_string(t) : NULL);
		json_object_object_add(o, "data", json_object_new_string(hex != NULL ? hex : ""));
		d = decoded_json(kind_of(name), v);
		json_object_object_add(o, "decoded", d);
		free(hex);
		vv_cli_print_json(o);
	} else if (mode == 'r') {
		rc = write_raw(v, out);
	} else if (mode == 'x') {
		char *hex = vv_cli_hex(v->data, v->data_size);

		printf("%s\n", hex != NULL ? hex : "");
		free(hex);
	} else {
		char g[64], attr[96], t[32] = "";

		if (v->has_time)
			vv_cli_time_text(&v->time, t, sizeof(t));
		printf("%s %s %s size=%zu%s%s\n", name, vv_cli_guid_text(&v->guid, g, sizeof(g)),
		       vv_attr_format(v->attributes, attr, sizeof(attr)), v->data_size,
		       v->has_time ? " time=" : "", t);
		print_decoded(kind_of(name), v);
	}
	vv_store_file_close(&sf);
	return rc;
}
