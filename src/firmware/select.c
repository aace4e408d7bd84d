/*
 * src/firmware/select.c -- choose a descriptor for a VM with libvirt's
 * matching rules (vmvars/firmware.h; reference §4.2, §4.4, §4.6).
 *
 * Every check of §4.2 must pass; they run in libvirt's order and the first
 * failure is the reason reported:
 *   1 interface, 2 paths, 3 architecture and machine glob,
 *   4-6, 9 features (power management, Secure Boot / enrolled keys, SMM,
 *     launch security are all "required / forbidden / either" on a
 *     feature: suspend-to-mem -> acpi-s3, smm off -> no requires-smm,
 *     loader secure=yes -> requires-smm, SEV-ES -> amd-sev-es, ...),
 *   7 mode: automatic selection takes only split flash (or stateless when
 *     asked), so combined is never auto-selected; asking for combined
 *     explicitly selects it (issue #7),
 *   8 formats.
 * Rules of our own, which libvirt follows in effect (issue #17):
 *  - firmware with host-uefi-vars panics without the host variable
 *    device (§3.2), so unless the query says anything about
 *    host-uefi-vars it is treated as forbidden; asking for it selects it;
 *  - firmware made for a confidential VM is only chosen for a VM that
 *    asks for launch security (amd-sev, amd-sev-es, amd-sev-snp or
 *    intel-tdx required): an IGVM mapping (§3.1, QEMU 10.1) never
 *    otherwise -- libvirt cannot map IGVM at all, so a plain VM never
 *    gets it -- and firmware with amd-sev-snp or intel-tdx not in
 *    automatic selection.  An explicit mode keeps libvirt's own results:
 *    its "supported firmware" listing shows OVMF.amdsev.fd and
 *    OVMF.inteltdx.fd for q35 and its efi-stateless case takes the
 *    stateless amdsev build (§4.6);
 *  - machine aliases: descriptors name concrete machine types (globs, "no
 *    aliases", §3.1), and libvirt matches the domain's machine after QEMU
 *    resolved an alias to its newest type (q35 -> pc-q35-10.2 with QEMU
 *    10.2).  A query's q35, pc (x86) or virt (arm, aarch64) is resolved
 *    the same way, with the QEMU this project builds against
 *    (VV_FW_QEMU_MACHINE_VERSION).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/firmware.h>

#include "firmware/fw_internal.h"

bool
vv_fw_glob_match(const char *pattern, const char *text)
{
	const char *star_p = NULL, *star_t = NULL;

	/* Greedy match with backtracking to the last `*` only: correct for
	 * patterns of `*`, `?` and literals, linear in the common case. */
	while (*text != '\0') {
		if (*pattern == '*') {
			star_p = ++pattern;
			star_t = text;
		} else if (*pattern == '?' || *pattern == *text) {
			pattern++;
			text++;
		} else if (star_p != NULL) {
			pattern = star_p;
			text = ++star_t;
		} else {
			return false;
		}
	}
	while (*pattern == '*')
		pattern++;
	return *pattern == '\0';
}

void
vv_fw_query_init(struct vv_fw_query *q)
{
	memset(q, 0, sizeof(*q));
	q->interface = -1;
	q->mode = VV_FW_MODE_AUTO;
	q->executable_format = -1;
	q->nvram_format = -1;
}

int
vv_fw_query_check(const struct vv_fw_query *q, struct vv_error *err)
{
	int f;

	for (f = 0; f < VV_FW_FEAT_COUNT; f++)
		if (q->features[f] != VV_FW_WANT_ANY && q->features[f] != VV_FW_WANT_YES &&
		    q->features[f] != VV_FW_WANT_NO)
			return vv_error_set(err, "feature %s: invalid wish %d",
					    vv_fw_feature_name(f), (int)q->features[f]);
	if (q->arch != NULL && vv_fw_arch_from_name(q->arch) < 0)
		return vv_error_set(err, "architecture %s: unknown (expected aarch64, arm, i386, "
				    "loongarch64, riscv64, x86_64)", q->arch);
	if (q->interface < -1 || q->interface >= VV_FW_IF_COUNT)
		return vv_error_set(err, "interface %d: unknown", q->interface);
	if (q->mode < VV_FW_MODE_ANY || q->mode >= VV_FW_MODE_COUNT)
		return vv_error_set(err, "mode %d: unknown", q->mode);
	if (q->executable_format < -1 || q->executable_format >= VV_FW_FMT_COUNT ||
	    q->nvram_format < -1 || q->nvram_format >= VV_FW_FMT_COUNT)
		return vv_error_set(err, "format: unknown value");
	/* §4.6 efi-enrolled-keys-no-secboot: a parse error in libvirt. */
	if (q->features[VV_FW_FEAT_ENROLLED_KEYS] == VV_FW_WANT_YES &&
	    q->features[VV_FW_FEAT_SECURE_BOOT] == VV_FW_WANT_NO)
		return vv_error_set(err, "enrolled-keys requires secure-boot, which is forbidden");
	/* §4.6 efi-format-mismatch: the NVRAM format follows the loader's. */
	if (q->executable_format >= 0 && q->nvram_format >= 0 &&
	    q->nvram_format != VV_FW_FMT_JSON && q->executable_format != q->nvram_format)
		return vv_error_set(err, "executable format %s and NVRAM format %s differ",
				    vv_fw_format_name(q->executable_format),
				    vv_fw_format_name(q->nvram_format));
	/* §4.4, §4.6 bios-not-stateless, bios-nvram: BIOS is always stateless. */
	if (q->interface == VV_FW_IF_BIOS &&
	    (q->mode == VV_FW_MODE_SPLIT || q->mode == VV_FW_MODE_COMBINED))
		return vv_error_set(err, "a BIOS is always stateless; mode %s is impossible",
				    vv_fw_mode_name(q->mode));
	if (q->interface == VV_FW_IF_BIOS && (q->nvram_template_path != NULL || q->nvram_format >= 0))
		return vv_error_set(err, "a BIOS has no NVRAM; an NVRAM template or format is impossible");
	/* §4.4, §4.6 nvram-stateless, nvram-template-stateless. */
	if ((q->mode == VV_FW_MODE_STATELESS || q->mode == VV_FW_MODE_COMBINED) &&
	    (q->nvram_template_path != NULL || q->nvram_format >= 0))
		return vv_error_set(err, "mode %s has no NVRAM template; an NVRAM template or "
				    "format is impossible", vv_fw_mode_name(q->mode));
	return 0;
}

static bool
reject(char *reason, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool
reject(char *reason, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (reason != NULL && size != 0) {
		va_start(ap, fmt);
		vsnprintf(reason, size, fmt, ap);
		va_end(ap);
	}
	return false;
}

static bool
has_interface(const struct vv_fw_descriptor *d, int want)
{
	size_t i;

	for (i = 0; i < d->n_interfaces; i++)
		if ((int)d->interfaces[i] == want)
			return true;
	return false;
}

/* §4.2 step 2: given paths must equal the descriptor's. */
static bool
match_paths(const struct vv_fw_descriptor *d, const struct vv_fw_query *q, char *r, size_t rs)
{
	const char *exe = d->executable.filename != NULL ? d->executable.filename : d->filename;

	if (q->executable_path != NULL && strcmp(q->executable_path, exe) != 0)
		return reject(r, rs, "executable is %s, not %s", exe, q->executable_path);
	if (q->nvram_template_path == NULL)
		return true;
	if (d->nvram_template.filename == NULL)
		return reject(r, rs, "has no NVRAM template (mode %s), but template %s was asked for",
			      vv_fw_mode_name(d->mode), q->nvram_template_path);
	if (strcmp(q->nvram_template_path, d->nvram_template.filename) != 0)
		return reject(r, rs, "NVRAM template is %s, not %s", d->nvram_template.filename,
			      q->nvram_template_path);
	return true;
}

/* The QEMU machine aliases (QEMU's own, `qemu-system-* -machine help`):
 * the alias and the prefix of the versioned types it stands for. */
static const struct {
	const char *alias;
	const char *prefix;
	int arch;                   /* -1: x86 (i386 and x86_64) */
} machine_aliases[] = {
	{ "q35", "pc-q35-", -1 },
	{ "pc", "pc-i440fx-", -1 },
	{ "virt", "virt-", VV_FW_ARCH_AARCH64 },
	{ "virt", "virt-", VV_FW_ARCH_ARM },
};

int
vv_fw_machine_resolve(const char *machine, int arch, char *out, size_t out_size)
{
	size_t i;

	for (i = 0; i < sizeof(machine_aliases) / sizeof(machine_aliases[0]); i++) {
		int a = machine_aliases[i].arch;

		if (strcmp(machine, machine_aliases[i].alias) != 0)
			continue;
		if (a < 0 ? (arch >= 0 && arch != VV_FW_ARCH_X86_64 && arch != VV_FW_ARCH_I386)
			  : (arch >= 0 && arch != a))
			continue;
		snprintf(out, out_size, "%s%s", machine_aliases[i].prefix,
			 VV_FW_QEMU_MACHINE_VERSION);
		return 1;
	}
	return 0;
}

/* Whether a target's globs match machine, or the type its alias stands for
 * on this target's architecture. */
static bool
target_matches(const struct vv_fw_target *t, const char *machine)
{
	char resolved[64];
	size_t j;

	for (j = 0; j < t->n_machines; j++)
		if (vv_fw_glob_match(t->machines[j], machine))
			return true;
	if (!vv_fw_machine_resolve(machine, (int)t->arch, resolved, sizeof(resolved)))
		return false;
	for (j = 0; j < t->n_machines; j++)
		if (vv_fw_glob_match(t->machines[j], resolved))
			return true;
	return false;
}

/* §4.2 step 3: some target has the architecture and a matching glob. */
static bool
match_target(const struct vv_fw_descriptor *d, const struct vv_fw_query *q, char *r, size_t rs)
{
	int arch = q->arch != NULL ? vv_fw_arch_from_name(q->arch) : -1;
	bool arch_seen = false;
	char resolved[64];
	size_t i;

	for (i = 0; i < d->n_targets; i++) {
		if (arch >= 0 && (int)d->targets[i].arch != arch)
			continue;
		arch_seen = true;
		if (q->machine == NULL || target_matches(&d->targets[i], q->machine))
			return true;
	}
	if (!arch_seen && q->arch == NULL)
		return reject(r, rs, "has no targets");
	if (!arch_seen)
		return reject(r, rs, "no target for architecture %s", q->arch);
	if (vv_fw_machine_resolve(q->machine, arch, resolved, sizeof(resolved)))
		return reject(r, rs, "no %s machine pattern matches %s (QEMU's alias of %s)",
			      q->arch != NULL ? q->arch : "", q->machine, resolved);
	return reject(r, rs, "no %s machine pattern matches %s", q->arch != NULL ? q->arch : "",
		      q->machine);
}

/* Firmware made for a confidential VM (file comment). */
static bool
for_confidential_vm(const struct vv_fw_descriptor *d)
{
	return d->device == VV_FW_DEV_IGVM ||
	       (d->features & (VV_FW_BIT(VV_FW_FEAT_AMD_SEV_SNP) |
			       VV_FW_BIT(VV_FW_FEAT_INTEL_TDX))) != 0;
}

static bool
asks_launch_security(const struct vv_fw_query *q)
{
	return q->features[VV_FW_FEAT_AMD_SEV] == VV_FW_WANT_YES ||
	       q->features[VV_FW_FEAT_AMD_SEV_ES] == VV_FW_WANT_YES ||
	       q->features[VV_FW_FEAT_AMD_SEV_SNP] == VV_FW_WANT_YES ||
	       q->features[VV_FW_FEAT_INTEL_TDX] == VV_FW_WANT_YES;
}

/* Steps 4, 5, 6, 9: every feature wish, in the order of enum vv_fw_feature. */
static bool
match_features(const struct vv_fw_descriptor *d, const struct vv_fw_query *q, char *r, size_t rs)
{
	int f;

	if ((d->device == VV_FW_DEV_IGVM ||
	     (q->mode == VV_FW_MODE_AUTO && for_confidential_vm(d))) && !asks_launch_security(q))
		return reject(r, rs, "made for a confidential VM (%s); not chosen unless launch "
			      "security is asked for (amd-sev, amd-sev-es, amd-sev-snp or intel-tdx)",
			      d->device == VV_FW_DEV_IGVM ? "an IGVM image" :
			      (d->features & VV_FW_BIT(VV_FW_FEAT_INTEL_TDX)) ? "intel-tdx" :
			      "amd-sev-snp");
	for (f = 0; f < VV_FW_FEAT_COUNT; f++) {
		bool has_f = (d->features & VV_FW_BIT(f)) != 0;
		enum vv_fw_want w = q->features[f];

		if (f == VV_FW_FEAT_HOST_UEFI_VARS && w == VV_FW_WANT_ANY && has_f)
			return reject(r, rs, "has host-uefi-vars (panics without the host variable "
				      "device); not chosen unless host-uefi-vars is asked for");
		if (w == VV_FW_WANT_YES && !has_f)
			return reject(r, rs, "lacks required feature %s", vv_fw_feature_name(f));
		if (w == VV_FW_WANT_NO && has_f)
			return reject(r, rs, "has forbidden feature %s", vv_fw_feature_name(f));
	}
	return true;
}

/* Step 7.  Automatic selection (libvirt): flash must be split, combined is
 * never taken; non-flash mappings (memory, kernel, igvm) carry their own
 * mode and are not filtered.  An explicit mode must equal the effective
 * mode of any mapping. */
static bool
match_mode(const struct vv_fw_descriptor *d, const struct vv_fw_query *q, char *r, size_t rs)
{
	if (q->mode == VV_FW_MODE_ANY)
		return true;
	if (q->mode == VV_FW_MODE_AUTO) {
		if (d->device != VV_FW_DEV_FLASH || d->mode == VV_FW_MODE_SPLIT)
			return true;
		return reject(r, rs, "flash mode %s; automatic selection takes only split "
			      "(ask for mode %s explicitly)", vv_fw_mode_name(d->mode),
			      vv_fw_mode_name(d->mode));
	}
	if ((int)d->mode != q->mode)
		return reject(r, rs, "mode %s, not %s", vv_fw_mode_name(d->mode),
			      vv_fw_mode_name(q->mode));
	return true;
}

/* Step 8: formats must equal the wanted ones when given. */
static bool
match_formats(const struct vv_fw_descriptor *d, const struct vv_fw_query *q, char *r, size_t rs)
{
	if (q->executable_format >= 0) {
		if (d->executable.filename == NULL)
			return reject(r, rs, "device %s has no executable format (wanted %s)",
				      vv_fw_device_name(d->device),
				      vv_fw_format_name(q->executable_format));
		if ((int)d->executable.format != q->executable_format)
			return reject(r, rs, "executable format %s, not %s",
				      vv_fw_format_name(d->executable.format),
				      vv_fw_format_name(q->executable_format));
	}
	if (q->nvram_format >= 0) {
		if (d->nvram_template.filename == NULL)
			return reject(r, rs, "has no NVRAM template (wanted format %s)",
				      vv_fw_format_name(q->nvram_format));
		if ((int)d->nvram_template.format != q->nvram_format)
			return reject(r, rs, "NVRAM template format %s, not %s",
				      vv_fw_format_name(d->nvram_template.format),
				      vv_fw_format_name(q->nvram_format));
	}
	return true;
}

bool
vv_fw_match(const struct vv_fw_descriptor *d, const struct vv_fw_query *q, char *r, size_t rs)
{
	if (q->interface >= 0 && !has_interface(d, q->interface))
		return reject(r, rs, "interface %s not offered", vv_fw_interface_name(q->interface));
	return match_paths(d, q, r, rs) && match_target(d, q, r, rs) &&
	       match_features(d, q, r, rs) && match_mode(d, q, r, rs) &&
	       match_formats(d, q, r, rs);
}

long
vv_fw_select(const struct vv_fw_list *l, const struct vv_fw_query *q,
	     struct vv_fw_explanation **expl)
{
	struct vv_fw_explanation *ex = NULL, scratch;
	long chosen = -1;
	size_t i;

	if (expl != NULL) {
		*expl = NULL;
		if (l->n != 0 && (ex = calloc(l->n, sizeof(*ex))) == NULL)
			expl = NULL;     /* still select; no explanation */
	}
	for (i = 0; i < l->n; i++) {
		const struct vv_fw_entry *e = &l->entries[i];
		struct vv_fw_explanation *x = ex != NULL ? &ex[i] : &scratch;

		memset(x, 0, sizeof(*x));
		x->entry = e;
		if (e->state == VV_FW_ENTRY_MASKED) {
			x->verdict = VV_FW_SKIPPED_MASKED;
			snprintf(x->reason, sizeof(x->reason), "masked by the empty file %s", e->path);
		} else if (e->state == VV_FW_ENTRY_INVALID) {
			x->verdict = VV_FW_SKIPPED_INVALID;
			snprintf(x->reason, sizeof(x->reason), "%s", e->error);
		} else if (!vv_fw_match(e->desc, q, x->reason, sizeof(x->reason))) {
			x->verdict = VV_FW_REJECTED;
		} else if (chosen < 0) {
			x->verdict = VV_FW_SELECTED;
			snprintf(x->reason, sizeof(x->reason), "first match in priority order");
			chosen = (long)i;
		} else {
			x->verdict = VV_FW_ALSO_MATCHES;
			snprintf(x->reason, sizeof(x->reason), "matches, but %s comes first",
				 l->entries[chosen].name);
		}
		/* Without an explanation, stop at the first match (§4.2). */
		if (ex == NULL && chosen >= 0)
			break;
	}
	if (expl != NULL)
		*expl = ex;
	return chosen;
}
