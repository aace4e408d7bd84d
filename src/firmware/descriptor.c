/*
 * src/firmware/descriptor.c -- parse and validate one QEMU firmware
 * descriptor (vmvars/firmware.h; reference vmfwupdate-and-firmware-
 * descriptors.md §3 and §4.1).
 *
 * Strict where the schema and libvirt are strict, lenient where they say
 * management software must be:
 *  - errors (the descriptor is unusable): not JSON, not an object, larger
 *    than 1 MiB, a missing required member, a member of the wrong type, an
 *    unknown interface, device, architecture, mode or format (§4.1), a
 *    member that the mapping's mode forbids (§3.3, §3.4), verbose-static
 *    together with verbose-dynamic (§3.2 "mutually exclusive");
 *  - warnings (recorded, input ignored): unknown features (§3.2 "consumers
 *    must ignore unknown features"), unknown members (forward
 *    compatibility: libvirt reads only the members it knows), host-uefi-vars
 *    flash firmware not in stateless mode (§3.2 "should");
 *  - ignored entirely: `tags` (§3.3 "management software must ignore it").
 * Every message names the origin, the member as a dotted path, and the
 * offending value.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include <vmvars/firmware.h>

#include "firmware/fw_internal.h"

/* ---- names of enumeration values (§3.1, §3.2, §3.4) ---- */

static const char *const interface_names[VV_FW_IF_COUNT] = {
	"bios", "openfirmware", "uboot", "uefi",
};
static const char *const device_names[VV_FW_DEV_COUNT] = {
	"flash", "kernel", "memory", "igvm",
};
static const char *const arch_names[VV_FW_ARCH_COUNT] = {
	"aarch64", "arm", "i386", "loongarch64", "riscv64", "x86_64",
};
static const char *const format_names[VV_FW_FMT_COUNT] = {
	"raw", "qcow2", "json",
};
static const char *const mode_names[VV_FW_MODE_COUNT] = {
	"split", "combined", "stateless",
};
static const char *const feature_names[VV_FW_FEAT_COUNT] = {
	"acpi-s3", "acpi-s4", "amd-sev", "amd-sev-es", "amd-sev-snp", "intel-tdx",
	"enrolled-keys", "requires-smm", "secure-boot", "verbose-dynamic",
	"verbose-static", "host-uefi-vars",
};

static const char *
name_of(const char *const *names, size_t n, int v)
{
	return v >= 0 && (size_t)v < n ? names[v] : NULL;
}

static int
lookup(const char *const *names, size_t n, const char *s)
{
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *vv_fw_interface_name(enum vv_fw_interface v) { return name_of(interface_names, COUNT(interface_names), v); }
const char *vv_fw_device_name(enum vv_fw_device v) { return name_of(device_names, COUNT(device_names), v); }
const char *vv_fw_arch_name(enum vv_fw_arch v) { return name_of(arch_names, COUNT(arch_names), v); }
const char *vv_fw_format_name(enum vv_fw_format v) { return name_of(format_names, COUNT(format_names), v); }
const char *vv_fw_mode_name(enum vv_fw_mode v) { return name_of(mode_names, COUNT(mode_names), v); }
const char *vv_fw_feature_name(enum vv_fw_feature v) { return name_of(feature_names, COUNT(feature_names), v); }
int vv_fw_interface_from_name(const char *s) { return lookup(interface_names, COUNT(interface_names), s); }
int vv_fw_device_from_name(const char *s) { return lookup(device_names, COUNT(device_names), s); }
int vv_fw_format_from_name(const char *s) { return lookup(format_names, COUNT(format_names), s); }
int vv_fw_mode_from_name(const char *s) { return lookup(mode_names, COUNT(mode_names), s); }
int vv_fw_feature_from_name(const char *s) { return lookup(feature_names, COUNT(feature_names), s); }

/* libvirt maps the schema's i386 to its i686 (§4.1); accept both. */
int
vv_fw_arch_from_name(const char *s)
{
	if (s != NULL && strcmp(s, "i686") == 0)
		return VV_FW_ARCH_I386;
	return lookup(arch_names, COUNT(arch_names), s);
}

/* ---- parser state and messages ---- */

struct parse {
	const char *origin;
	struct vv_error *err;
	struct vv_fw_descriptor *d;
	bool oom;
};

/* The JSON text of v, cut to fit a message. */
static void
value_text(struct json_object *v, char *out, size_t size)
{
	const char *t = v == NULL ? "(absent)"
	    : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	if (t == NULL)
		t = "?";
	if (strlen(t) >= size && size > 4) {
		memcpy(out, t, size - 4);
		memcpy(out + size - 4, "...", 4);
	} else {
		snprintf(out, size, "%s", t);
	}
}

/* "origin: key: value: reason"; always -1. */
static int
fail(struct parse *p, const char *key, struct json_object *v, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int
fail(struct parse *p, const char *key, struct json_object *v, const char *fmt, ...)
{
	char why[256], val[96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (v == NULL)
		return vv_error_set(p->err, "%s: %s: %s", p->origin, key, why);
	value_text(v, val, sizeof(val));
	return vv_error_set(p->err, "%s: %s: %s: %s", p->origin, key, val, why);
}

/* Appends one warning line to d; false when out of memory. */
static bool
add_warning(struct vv_fw_descriptor *d, const char *line)
{
	char **grown = realloc(d->warnings, (d->n_warnings + 1) * sizeof(*grown));

	if (grown == NULL)
		return false;
	d->warnings = grown;
	if ((d->warnings[d->n_warnings] = strdup(line)) == NULL)
		return false;
	d->n_warnings++;
	return true;
}

static void
warn(struct parse *p, const char *key, struct json_object *v, const char *why)
{
	char val[96], line[512], **grown;
	struct vv_fw_descriptor *d = p->d;

	if (v == NULL) {
		snprintf(line, sizeof(line), "%s: %s: %s", p->origin, key, why);
	} else {
		value_text(v, val, sizeof(val));
		snprintf(line, sizeof(line), "%s: %s: %s: %s", p->origin, key, val, why);
	}
	grown = realloc(d->warnings, (d->n_warnings + 1) * sizeof(*grown));
	if (grown == NULL) {
		p->oom = true;
		return;
	}
	d->warnings = grown;
	if ((d->warnings[d->n_warnings] = strdup(line)) == NULL) {
		p->oom = true;
		return;
	}
	d->n_warnings++;
}

static const char *
json_type_word(struct json_object *v)
{
	return json_type_to_name(json_object_get_type(v));
}

/* Looks up a member that must have type t.  Returns 1 (found, *out set),
 * 0 (absent; an error if required) or -1 (error). */
static int
member(struct parse *p, struct json_object *obj, const char *prefix, const char *name,
       enum json_type t, bool required, struct json_object **out)
{
	char key[128];
	struct json_object *v;

	snprintf(key, sizeof(key), "%s%s%s", prefix, prefix[0] ? "." : "", name);
	if (!json_object_object_get_ex(obj, name, &v) || v == NULL) {
		/* A JSON null counts as absent: QAPI has no nullable members
		 * here, so a null required member is "missing". */
		if (required)
			return fail(p, key, NULL, "required member missing");
		return 0;
	}
	if (!json_object_is_type(v, t))
		return fail(p, key, v, "must be a JSON %s, not a %s", json_type_to_name(t),
			    json_type_word(v));
	*out = v;
	return 1;
}

/* Warns about members of obj that are not in known[]. */
static void
warn_unknown_members(struct parse *p, struct json_object *obj, const char *prefix,
		     const char *const *known, size_t n_known)
{
	char key[256];
	size_t i;

	json_object_object_foreach(obj, k, v) {
		for (i = 0; i < n_known; i++)
			if (strcmp(k, known[i]) == 0)
				break;
		if (i < n_known)
			continue;
		snprintf(key, sizeof(key), "%s%s%s", prefix, prefix[0] ? "." : "", k);
		warn(p, key, v, "unknown member, ignored");
	}
}

static int
dup_string(struct parse *p, struct json_object *v, char **out)
{
	if ((*out = strdup(json_object_get_string(v))) == NULL)
		return vv_error_set(p->err, "%s: out of memory", p->origin);
	return 0;
}

/* A string member that must be one of names[] (an unknown value is an
 * error, §4.1).  Returns the index or -1. */
static int
enum_member(struct parse *p, struct json_object *obj, const char *prefix, const char *name,
	    int (*from_name)(const char *), const char *type_name, const char *expected)
{
	struct json_object *v;
	char key[128];
	int r, idx;

	if ((r = member(p, obj, prefix, name, json_type_string, true, &v)) != 1)
		return -1;
	idx = from_name(json_object_get_string(v));
	if (idx < 0) {
		snprintf(key, sizeof(key), "%s%s%s", prefix, prefix[0] ? "." : "", name);
		return fail(p, key, v, "unknown %s (expected %s)", type_name, expected);
	}
	return idx;
}

/* A non-empty string member. */
static int
path_member(struct parse *p, struct json_object *obj, const char *prefix, const char *name,
	    char **out)
{
	struct json_object *v;
	char key[128];

	if (member(p, obj, prefix, name, json_type_string, true, &v) != 1)
		return -1;
	if (json_object_get_string_len(v) == 0) {
		snprintf(key, sizeof(key), "%s%s%s", prefix, prefix[0] ? "." : "", name);
		return fail(p, key, v, "must not be empty");
	}
	if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v)) {
		snprintf(key, sizeof(key), "%s%s%s", prefix, prefix[0] ? "." : "", name);
		return fail(p, key, NULL, "contains a NUL character");
	}
	return dup_string(p, v, out);
}

/* ---- the pieces of the schema ---- */

/* FirmwareFlashFile and the §3.4 memory files: {filename, format}; the
 * format must be one of the allowed ones for this position. */
static int
parse_file(struct parse *p, struct json_object *obj, const char *key, uint32_t allowed,
	   struct vv_fw_file *f)
{
	static const char *const known[] = { "filename", "format" };
	char expected[64] = "";
	struct json_object *v;
	int fmt, i;

	if (member(p, obj, "mapping", key, json_type_object, true, &v) != 1)
		return -1;
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "mapping.%s", key);
	warn_unknown_members(p, v, prefix, known, COUNT(known));
	if (path_member(p, v, prefix, "filename", &f->filename) != 0)
		return -1;
	for (i = 0; i < VV_FW_FMT_COUNT; i++) {
		if (!(allowed & (1u << i)))
			continue;
		if (expected[0] != '\0')
			strcat(expected, ", ");
		strcat(expected, format_names[i]);
	}
	fmt = enum_member(p, v, prefix, "format", vv_fw_format_from_name, "format", expected);
	if (fmt < 0)
		return -1;
	if (!(allowed & (1u << fmt))) {
		struct json_object *fv;
		char fkey[96];

		json_object_object_get_ex(v, "format", &fv);
		snprintf(fkey, sizeof(fkey), "%s.format", prefix);
		return fail(p, fkey, fv, "format not allowed here (expected %s)", expected);
	}
	f->format = (enum vv_fw_format)fmt;
	return 0;
}

static bool
has(struct json_object *obj, const char *name)
{
	struct json_object *v;

	return json_object_object_get_ex(obj, name, &v) && v != NULL;
}

/* The mode member where it is optional (flash) or required (memory with
 * executable).  Returns the mode, or -1. */
static int
parse_mode(struct parse *p, struct json_object *m, bool allow_combined)
{
	struct json_object *v;
	int mode;

	mode = enum_member(p, m, "mapping", "mode", vv_fw_mode_from_name, "mode",
			   allow_combined ? "split, combined, stateless" : "split, stateless");
	if (mode < 0)
		return -1;
	if (!allow_combined && mode == VV_FW_MODE_COMBINED) {
		json_object_object_get_ex(m, "mode", &v);
		return fail(p, "mapping.mode", v, "not allowed for device memory "
			    "(expected split, stateless)");
	}
	p->d->mode_given = true;
	return mode;
}

/* FirmwareMappingFlash (§3.3): mode absent = split; executable raw|qcow2;
 * nvram-template present in split mode only. */
static int
parse_flash(struct parse *p, struct json_object *m)
{
	static const char *const known[] = { "device", "mode", "executable", "nvram-template" };
	const uint32_t flash_formats = (1u << VV_FW_FMT_RAW) | (1u << VV_FW_FMT_QCOW2);
	struct vv_fw_descriptor *d = p->d;
	int mode = VV_FW_MODE_SPLIT;

	warn_unknown_members(p, m, "mapping", known, COUNT(known));
	if (has(m, "mode") && (mode = parse_mode(p, m, true)) < 0)
		return -1;
	d->mode = (enum vv_fw_mode)mode;
	if (parse_file(p, m, "executable", flash_formats, &d->executable) != 0)
		return -1;
	if (d->mode == VV_FW_MODE_SPLIT)
		return parse_file(p, m, "nvram-template", flash_formats, &d->nvram_template);
	if (has(m, "nvram-template"))
		return fail(p, "mapping.nvram-template", NULL,
			    "present, but mode %s has no template (only split has one)",
			    mode_names[d->mode]);
	return 0;
}

/* FirmwareMappingMemory, legacy form and the §3.4 extension:
 * `filename` XOR `executable`; with filename no mode (= stateless); with
 * executable a required mode split|stateless; nvram-template (json) only
 * with executable and split. */
static int
parse_memory(struct parse *p, struct json_object *m)
{
	static const char *const known[] = { "device", "filename", "mode", "executable",
					     "nvram-template" };
	struct vv_fw_descriptor *d = p->d;
	int mode;

	warn_unknown_members(p, m, "mapping", known, COUNT(known));
	if (has(m, "filename") && has(m, "executable"))
		return fail(p, "mapping", NULL, "`filename` and `executable` are mutually exclusive");
	if (!has(m, "executable")) {
		if (has(m, "mode"))
			return fail(p, "mapping.mode", NULL,
				    "must be absent with `filename` (which means stateless)");
		if (has(m, "nvram-template"))
			return fail(p, "mapping.nvram-template", NULL,
				    "allowed only with `executable` and mode split");
		d->mode = VV_FW_MODE_STATELESS;
		return path_member(p, m, "mapping", "filename", &d->filename);
	}
	if (!has(m, "mode"))
		return fail(p, "mapping.mode", NULL, "required member missing (with `executable`)");
	if ((mode = parse_mode(p, m, false)) < 0)
		return -1;
	d->mode = (enum vv_fw_mode)mode;
	if (parse_file(p, m, "executable", 1u << VV_FW_FMT_RAW, &d->executable) != 0)
		return -1;
	if (!has(m, "nvram-template"))
		return 0;
	if (d->mode != VV_FW_MODE_SPLIT)
		return fail(p, "mapping.nvram-template", NULL,
			    "present, but mode stateless has no template (only split has one)");
	return parse_file(p, m, "nvram-template", 1u << VV_FW_FMT_JSON, &d->nvram_template);
}

/* FirmwareMappingKernel and FirmwareMappingIgvm: {filename}. */
static int
parse_filename_only(struct parse *p, struct json_object *m)
{
	static const char *const known[] = { "device", "filename" };

	warn_unknown_members(p, m, "mapping", known, COUNT(known));
	p->d->mode = VV_FW_MODE_STATELESS;
	return path_member(p, m, "mapping", "filename", &p->d->filename);
}

static int
parse_mapping(struct parse *p, struct json_object *root)
{
	struct json_object *m;
	int dev;

	if (member(p, root, "", "mapping", json_type_object, true, &m) != 1)
		return -1;
	dev = enum_member(p, m, "mapping", "device", vv_fw_device_from_name, "device",
			  "flash, kernel, memory, igvm");
	if (dev < 0)
		return -1;
	p->d->device = (enum vv_fw_device)dev;
	switch (p->d->device) {
	case VV_FW_DEV_FLASH:
		return parse_flash(p, m);
	case VV_FW_DEV_MEMORY:
		return parse_memory(p, m);
	default:
		return parse_filename_only(p, m);
	}
}

/* interface-types: non-empty array, ordered, unknown = error (§3.3, §4.1);
 * a repeated interface is an error too (the order would be ambiguous). */
static int
parse_interfaces(struct parse *p, struct json_object *root)
{
	struct json_object *a, *v;
	char key[64];
	size_t i, j, n;
	int idx;

	if (member(p, root, "", "interface-types", json_type_array, true, &a) != 1)
		return -1;
	n = json_object_array_length(a);
	if (n == 0)
		return fail(p, "interface-types", a, "must not be empty");
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(a, i);
		snprintf(key, sizeof(key), "interface-types[%zu]", i);
		if (!json_object_is_type(v, json_type_string))
			return fail(p, key, v, "must be a JSON string");
		idx = vv_fw_interface_from_name(json_object_get_string(v));
		if (idx < 0)
			return fail(p, key, v, "unknown interface (expected bios, openfirmware, "
				    "uboot, uefi)");
		for (j = 0; j < p->d->n_interfaces; j++)
			if (p->d->interfaces[j] == (enum vv_fw_interface)idx)
				return fail(p, key, v, "listed twice");
		p->d->interfaces[p->d->n_interfaces++] = (enum vv_fw_interface)idx;
	}
	return 0;
}

static int
parse_target(struct parse *p, struct json_object *t, size_t ti, struct vv_fw_target *out)
{
	static const char *const known[] = { "architecture", "machines" };
	struct json_object *ms, *v;
	char prefix[48], key[80];
	size_t i, n;
	int arch;

	snprintf(prefix, sizeof(prefix), "targets[%zu]", ti);
	if (!json_object_is_type(t, json_type_object))
		return fail(p, prefix, t, "must be a JSON object");
	warn_unknown_members(p, t, prefix, known, COUNT(known));
	arch = enum_member(p, t, prefix, "architecture", vv_fw_arch_from_name, "architecture",
			   "aarch64, arm, i386, loongarch64, riscv64, x86_64");
	if (arch < 0)
		return -1;
	out->arch = (enum vv_fw_arch)arch;
	if (member(p, t, prefix, "machines", json_type_array, true, &ms) != 1)
		return -1;
	n = json_object_array_length(ms);
	if (n != 0 && (out->machines = calloc(n, sizeof(*out->machines))) == NULL)
		return vv_error_set(p->err, "%s: out of memory", p->origin);
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(ms, i);
		snprintf(key, sizeof(key), "%s.machines[%zu]", prefix, i);
		if (!json_object_is_type(v, json_type_string))
			return fail(p, key, v, "must be a JSON string");
		if (json_object_get_string_len(v) == 0)
			return fail(p, key, v, "must not be empty");
		if (dup_string(p, v, &out->machines[i]) != 0)
			return -1;
		out->n_machines++;
	}
	return 0;
}

static int
parse_targets(struct parse *p, struct json_object *root)
{
	struct json_object *a;
	size_t i, n;

	if (member(p, root, "", "targets", json_type_array, true, &a) != 1)
		return -1;
	n = json_object_array_length(a);
	if (n == 0)
		return 0;
	if ((p->d->targets = calloc(n, sizeof(*p->d->targets))) == NULL)
		return vv_error_set(p->err, "%s: out of memory", p->origin);
	for (i = 0; i < n; i++) {
		/* counted first so vv_fw_descriptor_free sees partial targets */
		p->d->n_targets++;
		if (parse_target(p, json_object_array_get_idx(a, i), i, &p->d->targets[i]) != 0)
			return -1;
	}
	return 0;
}

/* features: array of strings; unknown ones are skipped with a warning
 * (§3.2).  verbose-dynamic and verbose-static exclude each other (§3.2). */
static int
parse_features(struct parse *p, struct json_object *root)
{
	const uint32_t both = VV_FW_BIT(VV_FW_FEAT_VERBOSE_DYNAMIC) |
			      VV_FW_BIT(VV_FW_FEAT_VERBOSE_STATIC);
	struct json_object *a, *v;
	char key[48];
	size_t i, n;
	int f;

	if (member(p, root, "", "features", json_type_array, true, &a) != 1)
		return -1;
	n = json_object_array_length(a);
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(a, i);
		snprintf(key, sizeof(key), "features[%zu]", i);
		if (!json_object_is_type(v, json_type_string))
			return fail(p, key, v, "must be a JSON string");
		f = vv_fw_feature_from_name(json_object_get_string(v));
		if (f < 0) {
			warn(p, key, v, "unknown feature, ignored");
			continue;
		}
		p->d->features |= VV_FW_BIT(f);
	}
	if ((p->d->features & both) == both)
		return fail(p, "features", a, "verbose-dynamic and verbose-static are "
			    "mutually exclusive");
	return 0;
}

/*
 * Machine types with the uefi-vars device (uefi-vars-device-abi
 * "Machines": a dynamic sysbus device on pc/q35 and virt): a glob whose
 * literal start cannot name one of them offers host-uefi-vars firmware,
 * which panics without the device, to a machine that has none.
 */
static bool
glob_may_have_uefi_vars(const char *glob, enum vv_fw_arch arch)
{
	static const char *const x86[] = { "pc-q35-", "pc-i440fx-", "q35", "pc" };
	static const char *const other[] = { "virt" };
	const char *const *fam = arch == VV_FW_ARCH_X86_64 || arch == VV_FW_ARCH_I386 ? x86 : other;
	size_t n = fam == x86 ? 4 : 1, lit = strcspn(glob, "*?[");

	for (size_t i = 0; i < n; i++) {
		size_t fl = strlen(fam[i]), m = lit < fl ? lit : fl;

		if (strncmp(glob, fam[i], m) == 0)
			return true;
	}
	return false;
}

static void
warn_machines_without_device(struct parse *p)
{
	const struct vv_fw_descriptor *d = p->d;
	char why[200];

	for (size_t i = 0; i < d->n_targets; i++)
		for (size_t j = 0; j < d->targets[i].n_machines; j++) {
			if (glob_may_have_uefi_vars(d->targets[i].machines[j], d->targets[i].arch))
				continue;
			snprintf(why, sizeof(why), "%s %s has no uefi-vars device (QEMU has it on "
				 "%s only), and host-uefi-vars firmware panics without it",
				 vv_fw_arch_name(d->targets[i].arch), d->targets[i].machines[j],
				 d->targets[i].arch == VV_FW_ARCH_X86_64 ||
				 d->targets[i].arch == VV_FW_ARCH_I386 ? "pc and q35" : "virt");
			warn(p, "targets", NULL, why);
		}
}

static int
parse_root(struct parse *p, struct json_object *root)
{
	static const char *const known[] = { "description", "interface-types", "mapping",
					     "targets", "features", "tags" };
	struct json_object *v;
	int r;

	if (!json_object_is_type(root, json_type_object))
		return fail(p, "(document)", root, "must be a JSON object");
	warn_unknown_members(p, root, "", known, COUNT(known));
	if ((r = member(p, root, "", "description", json_type_string, false, &v)) < 0)
		return -1;
	if (r == 1 && dup_string(p, v, &p->d->description) != 0)
		return -1;
	if (parse_interfaces(p, root) != 0 || parse_mapping(p, root) != 0 ||
	    parse_targets(p, root) != 0 || parse_features(p, root) != 0)
		return -1;
	if (p->d->device == VV_FW_DEV_FLASH && vv_fw_descriptor_host_vars(p->d) &&
	    p->d->mode != VV_FW_MODE_STATELESS)
		warn(p, "mapping.mode", NULL, p->d->mode == VV_FW_MODE_SPLIT
		     ? "split: host-uefi-vars firmware loaded as flash should be stateless"
		     : "combined: host-uefi-vars firmware loaded as flash should be stateless");
	if (vv_fw_descriptor_host_vars(p->d))
		warn_machines_without_device(p);
	if (p->oom)
		return vv_error_set(p->err, "%s: out of memory", p->origin);
	return 0;
}

bool
vv_fw_descriptor_host_vars(const struct vv_fw_descriptor *d)
{
	return (d->features & VV_FW_BIT(VV_FW_FEAT_HOST_UEFI_VARS)) != 0;
}

/* ---- entry points ---- */

static struct json_object *
parse_json(const char *text, size_t len, const char *origin, struct vv_error *err)
{
	struct json_tokener *tok;
	struct json_object *root;
	enum json_tokener_error jerr;
	size_t used, i;

	if (len > VV_FW_DESCRIPTOR_MAX) {
		vv_error_set(err, "%s: %zu bytes, larger than the %u-byte limit", origin, len,
			     VV_FW_DESCRIPTOR_MAX);
		return NULL;
	}
	if ((tok = json_tokener_new()) == NULL) {
		vv_error_set(err, "%s: out of memory", origin);
		return NULL;
	}
	root = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (root == NULL || jerr != json_tokener_success) {
		vv_error_set(err, "%s: not valid JSON (offset %zu): %s", origin, used,
			     jerr == json_tokener_success || jerr == json_tokener_continue
			     ? "unexpected end of input" : json_tokener_error_desc(jerr));
		json_object_put(root);
		return NULL;
	}
	for (i = used; i < len; i++) {
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r') {
			vv_error_set(err, "%s: not valid JSON (offset %zu): trailing data after "
				     "the document", origin, i);
			json_object_put(root);
			return NULL;
		}
	}
	return root;
}

struct vv_fw_descriptor *
vv_fw_descriptor_parse(const char *text, size_t len, const char *origin, struct vv_error *err)
{
	struct json_object *root;
	struct parse p = { .origin = origin != NULL ? origin : "(descriptor)", .err = err };

	if ((root = parse_json(text, len, p.origin, err)) == NULL)
		return NULL;
	if ((p.d = calloc(1, sizeof(*p.d))) == NULL ||
	    (p.d->path = strdup(origin != NULL ? origin : "")) == NULL) {
		vv_error_set(err, "%s: out of memory", p.origin);
		json_object_put(root);
		vv_fw_descriptor_free(p.d);
		return NULL;
	}
	if (parse_root(&p, root) != 0) {
		json_object_put(root);
		vv_fw_descriptor_free(p.d);
		return NULL;
	}
	json_object_put(root);
	return p.d;
}

int
vv_fw_read_file(const char *path, size_t max, char **out, size_t *out_len, struct vv_error *err)
{
	struct stat st;
	size_t len = 0, cap;
	ssize_t n;
	char *buf;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return vv_error_set(err, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return vv_error_set(err, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return vv_error_set(err, "%s: %lld bytes, larger than the %zu-byte limit", path,
				    (long long)st.st_size, max);
	}
	cap = (size_t)st.st_size + 1;
	if ((buf = malloc(cap)) == NULL) {
		close(fd);
		return vv_error_set(err, "%s: out of memory", path);
	}
	/* Read at most max bytes plus one to notice a file that grew. */
	while (len < cap) {
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			vv_error_set(err, "%s: read failed: %s", path, strerror(errno));
			close(fd);
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > max || len == cap) {
		free(buf);
		return vv_error_set(err, "%s: file changed while being read", path);
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

struct vv_fw_descriptor *
vv_fw_descriptor_load(const char *path, struct vv_error *err)
{
	struct vv_fw_descriptor *d;
	char why[700], line[1000];
	size_t len;
	char *text;

	if (vv_fw_read_file(path, VV_FW_DESCRIPTOR_MAX, &text, &len, err) != 0)
		return NULL;
	d = vv_fw_descriptor_parse(text, len, path, err);
	free(text);
	if (d != NULL && vv_fw_flash_pair_check(d, why, sizeof(why)) &&
	    (snprintf(line, sizeof(line), "%s: mapping: %s", path, why), !add_warning(d, line))) {
		vv_fw_descriptor_free(d);
		vv_error_set(err, "%s: out of memory", path);
		return NULL;
	}
	return d;
}

/*
 * x86 OVMF split flash: the executable and the NVRAM template are the two
 * halves of one flash device that edk2 builds at 2 MiB (FD_SIZE_2MB:
 * 1966080-byte code + 131072-byte vars) or 4 MiB (FD_SIZE_4MB: 3653632 +
 * 540672).  The code looks for its variable store at the offset its
 * build put it; a template of the other build (OSX-KVM's mix of a 4 MiB
 * OVMF_CODE with a 2 MiB OVMF_VARS) puts none there, and every variable
 * write is lost.  Checked on the files' sizes, when both are raw and can
 * be stat'ed and one of them has the size of an OVMF build's half.
 */
int
vv_fw_flash_pair_check(const struct vv_fw_descriptor *d, char *why, size_t cap)
{
	const long long mib = 1024 * 1024;
	struct stat code, vars;
	long long sum;
	bool x86 = false;

	for (size_t i = 0; i < d->n_targets; i++)
		x86 |= d->targets[i].arch == VV_FW_ARCH_X86_64 || d->targets[i].arch == VV_FW_ARCH_I386;
	if (!x86 || d->device != VV_FW_DEV_FLASH || d->mode != VV_FW_MODE_SPLIT ||
	    d->executable.filename == NULL || d->nvram_template.filename == NULL ||
	    d->executable.format != VV_FW_FMT_RAW || d->nvram_template.format != VV_FW_FMT_RAW ||
	    stat(d->executable.filename, &code) != 0 || stat(d->nvram_template.filename, &vars) != 0)
		return 0;
	/* Only files of edk2's OVMF builds are judged: other firmware
	 * (SeaBIOS-style images, test files) has no such layout. */
	if (code.st_size != 1966080 && code.st_size != 3653632 &&
	    vars.st_size != 131072 && vars.st_size != 540672)
		return 0;
	sum = (long long)code.st_size + (long long)vars.st_size;
	if (sum == 2 * mib || sum == 4 * mib)
		return 0;
	snprintf(why, cap, "executable %s (%lld bytes) and NVRAM template %s (%lld bytes) make "
		 "%lld bytes, not the 2 or 4 MiB flash OVMF is built for: the firmware would "
		 "find no variable store in this template and lose every variable write (pair "
		 "a 4 MiB build's code with its own template, e.g. OVMF_VARS_4M.fd)",
		 d->executable.filename, (long long)code.st_size, d->nvram_template.filename,
		 (long long)vars.st_size, sum);
	return 1;
}

void
vv_fw_free_strings(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
vv_fw_descriptor_free(struct vv_fw_descriptor *d)
{
	size_t i;

	if (d == NULL)
		return;
	free(d->path);
	free(d->description);
	free(d->executable.filename);
	free(d->nvram_template.filename);
	free(d->filename);
	for (i = 0; i < d->n_targets; i++)
		vv_fw_free_strings(d->targets[i].machines, d->targets[i].n_machines);
	free(d->targets);
	vv_fw_free_strings(d->warnings, d->n_warnings);
	free(d);
}
