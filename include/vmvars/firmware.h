/*
 * vmvars/firmware.h -- QEMU firmware descriptors (docs/interop/firmware.json):
 * parse and validate them, discover them on the search path, select one for
 * a VM with libvirt's matching rules, and instantiate the VM's firmware
 * state (split / combined / stateless / host-side UEFI variables).
 *
 * Reference: vmfwupdate-and-firmware-descriptors.md §3 (schema), §3.5
 * (search directories, overrides, masks), §4.1-4.6 (libvirt's parse and
 * match rules and its test behaviours), §5 (what distributions ship).
 *
 * Every function that can fail fills a struct vv_error naming the file,
 * the member (as a dotted path such as `mapping.executable.format`), the
 * offending value and the reason.
 */
#ifndef VMVARS_FIRMWARE_H
#define VMVARS_FIRMWARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmvars/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A descriptor document larger than this is refused (§4.1: 1 MiB). */
#define VV_FW_DESCRIPTOR_MAX (1024u * 1024u)

/* FirmwareOSInterface (§3.1); also bit positions in interface masks. */
enum vv_fw_interface {
	VV_FW_IF_BIOS,
	VV_FW_IF_OPENFIRMWARE,
	VV_FW_IF_UBOOT,
	VV_FW_IF_UEFI,
	VV_FW_IF_COUNT
};

/* FirmwareDevice (§3.1): the discriminator of FirmwareMapping. */
enum vv_fw_device {
	VV_FW_DEV_FLASH,
	VV_FW_DEV_KERNEL,
	VV_FW_DEV_MEMORY,
	VV_FW_DEV_IGVM,
	VV_FW_DEV_COUNT
};

/* FirmwareArchitecture (§3.1). */
enum vv_fw_arch {
	VV_FW_ARCH_AARCH64,
	VV_FW_ARCH_ARM,
	VV_FW_ARCH_I386,
	VV_FW_ARCH_LOONGARCH64,
	VV_FW_ARCH_RISCV64,
	VV_FW_ARCH_X86_64,
	VV_FW_ARCH_COUNT
};

/* FirmwareFormat (raw, qcow2) and, for the memory mapping's NVRAM template
 * of the §3.4 proposal, FirmwareMemoryNvramFormat (json). */
enum vv_fw_format {
	VV_FW_FMT_RAW,
	VV_FW_FMT_QCOW2,
	VV_FW_FMT_JSON,
	VV_FW_FMT_COUNT
};

/* FirmwareFlashMode (§3.1), also FirmwareMemoryMode (§3.4). */
enum vv_fw_mode {
	VV_FW_MODE_SPLIT,
	VV_FW_MODE_COMBINED,
	VV_FW_MODE_STATELESS,
	VV_FW_MODE_COUNT
};

/* FirmwareFeature (§3.2), as bits of a uint32_t. */
enum vv_fw_feature {
	VV_FW_FEAT_ACPI_S3,
	VV_FW_FEAT_ACPI_S4,
	VV_FW_FEAT_AMD_SEV,
	VV_FW_FEAT_AMD_SEV_ES,
	VV_FW_FEAT_AMD_SEV_SNP,
	VV_FW_FEAT_INTEL_TDX,
	VV_FW_FEAT_ENROLLED_KEYS,
	VV_FW_FEAT_REQUIRES_SMM,
	VV_FW_FEAT_SECURE_BOOT,
	VV_FW_FEAT_VERBOSE_DYNAMIC,
	VV_FW_FEAT_VERBOSE_STATIC,
	VV_FW_FEAT_HOST_UEFI_VARS,
	VV_FW_FEAT_COUNT
};
#define VV_FW_BIT(f) (1u << (f))

/* Names as they appear in descriptors; NULL for out-of-range values.
 * The _from_name functions return -1 for an unknown name.  The
 * architecture lookup also accepts libvirt's "i686" for i386 (§4.1). */
const char *vv_fw_interface_name(enum vv_fw_interface v);
const char *vv_fw_device_name(enum vv_fw_device v);
const char *vv_fw_arch_name(enum vv_fw_arch v);
const char *vv_fw_format_name(enum vv_fw_format v);
const char *vv_fw_mode_name(enum vv_fw_mode v);
const char *vv_fw_feature_name(enum vv_fw_feature v);
int vv_fw_interface_from_name(const char *s);
int vv_fw_device_from_name(const char *s);
int vv_fw_arch_from_name(const char *s);
int vv_fw_format_from_name(const char *s);
int vv_fw_mode_from_name(const char *s);
int vv_fw_feature_from_name(const char *s);

/* FirmwareFlashFile / FirmwareMemory*File: {filename, format}. */
struct vv_fw_file {
	char *filename;             /* NULL when absent */
	enum vv_fw_format format;
};

/* FirmwareTarget: machines are glob patterns (`*`, `?`). */
struct vv_fw_target {
	enum vv_fw_arch arch;
	char **machines;
	size_t n_machines;
};

/*
 * One parsed, validated descriptor.  Invariants established by the parser:
 *  - n_interfaces >= 1, interfaces[] in the file's order (most native first);
 *  - flash: executable.filename set, format raw|qcow2; nvram_template set
 *    iff mode == split (§3.3);
 *  - memory: either the legacy `filename` (mode stateless, no executable) or
 *    `executable` (raw) with an explicit mode split|stateless, and an
 *    nvram_template (json) only in split mode (§3.4);
 *  - kernel, igvm: `filename` set, mode stateless;
 *  - features holds only known features; unknown ones are in warnings.
 */
struct vv_fw_descriptor {
	char *path;                 /* the file it came from ("" for text) */
	char *description;          /* NULL when absent */
	enum vv_fw_interface interfaces[VV_FW_IF_COUNT];
	size_t n_interfaces;
	enum vv_fw_device device;
	enum vv_fw_mode mode;       /* effective mode (absent flash mode = split) */
	bool mode_given;            /* `mode` was written in the file */
	struct vv_fw_file executable;
	struct vv_fw_file nvram_template;
	char *filename;             /* kernel, igvm, legacy memory */
	struct vv_fw_target *targets;
	size_t n_targets;
	uint32_t features;          /* VV_FW_BIT(enum vv_fw_feature) */
	char **warnings;            /* "file: key: value: reason", ignored input */
	size_t n_warnings;
};

/* Parses one descriptor document.  origin names it in messages and becomes
 * desc->path.  NULL with err on any error; nothing is returned half-built. */
struct vv_fw_descriptor *vv_fw_descriptor_parse(const char *text, size_t len,
						const char *origin, struct vv_error *err);
/* Reads and parses a file (at most VV_FW_DESCRIPTOR_MAX bytes). */
struct vv_fw_descriptor *vv_fw_descriptor_load(const char *path, struct vv_error *err);
void vv_fw_descriptor_free(struct vv_fw_descriptor *d);

/* True if the descriptor expects a host-provided UEFI variable store
 * (feature host-uefi-vars, §3.2) rather than flash NVRAM. */
bool vv_fw_descriptor_host_vars(const struct vv_fw_descriptor *d);

/* An x86 split-flash descriptor whose executable and NVRAM template are
 * of different OVMF builds (their sizes do not add up to the 2 or 4 MiB
 * flash edk2 builds), so that the firmware would lose every variable
 * write: 1 with why (a sentence), else 0 (also when a file cannot be
 * stat'ed).  vv_fw_descriptor_load adds it to the warnings. */
int vv_fw_flash_pair_check(const struct vv_fw_descriptor *d, char *why, size_t cap);

/* ---- discovery (§3.5, §4.1) ---- */

enum vv_fw_entry_state {
	VV_FW_ENTRY_OK,
	VV_FW_ENTRY_MASKED,         /* a zero-length file of this name hides it */
	VV_FW_ENTRY_INVALID,        /* unreadable or does not parse: skipped */
};

struct vv_fw_entry {
	char *name;                 /* last path component: the sort key */
	char *path;                 /* the winning (most specific) file */
	char **overridden;          /* less specific files of the same name */
	size_t n_overridden;
	enum vv_fw_entry_state state;
	struct vv_fw_descriptor *desc;   /* only when OK */
	char *error;                /* only when INVALID */
};

struct vv_fw_list {
	struct vv_fw_entry *entries;     /* sorted by name (strcmp) */
	size_t n;
	char **dirs;                /* searched, most general first */
	size_t n_dirs;
};

/* The default search path, most general first: /usr/share/qemu/firmware,
 * /etc/qemu/firmware, $XDG_CONFIG_HOME/qemu/firmware (or
 * $HOME/.config/qemu/firmware).  Malloc'd array of malloc'd strings;
 * *n set.  NULL on allocation failure. */
char **vv_fw_default_dirs(size_t *n);
void vv_fw_free_strings(char **v, size_t n);

/* Scans dirs (most general first; a missing directory is skipped), merges
 * by file name (a later directory wins), masks by zero-length files, sorts
 * by name and parses each winner.  Only names ending in ".json" count.
 * Parse failures do not fail discovery: they become INVALID entries.
 * Returns NULL with err only on a directory that exists but cannot be read
 * or on allocation failure. */
struct vv_fw_list *vv_fw_discover(const char *const *dirs, size_t n_dirs,
				  struct vv_error *err);
void vv_fw_list_free(struct vv_fw_list *l);
/* The entry named name (a file name such as "50-ovmf.json", with or without
 * ".json"), or NULL. */
const struct vv_fw_entry *vv_fw_list_find(const struct vv_fw_list *l, const char *name);

/* ---- selection (§4.2) ---- */

/* Tri-state wishes about a feature. */
enum vv_fw_want {
	VV_FW_WANT_ANY = 0,
	VV_FW_WANT_YES,
	VV_FW_WANT_NO,
};

/* What the VM needs.  Zero-initialise, then set what matters. */
struct vv_fw_query {
	const char *arch;           /* NULL: any architecture */
	const char *machine;        /* NULL: any machine type */
	int interface;              /* enum vv_fw_interface, or -1 for any */
	enum vv_fw_want features[VV_FW_FEAT_COUNT];
	/* Mode: -1 is libvirt's automatic selection (flash must be split,
	 * combined never chosen, §4.2 step 7); -2 accepts every mode (what
	 * libvirt's "supported firmware" listing does, §4.6); otherwise a
	 * vv_fw_mode the descriptor's effective mode must equal. */
	int mode;
	int executable_format;      /* vv_fw_format or -1 */
	int nvram_format;           /* vv_fw_format or -1 */
	const char *executable_path;     /* must equal, if set (§4.2 step 2) */
	const char *nvram_template_path; /* must equal, if set (split only) */
};
#define VV_FW_MODE_AUTO (-1)
#define VV_FW_MODE_ANY (-2)

/* Fills q with "anything" (interface, formats -1, mode AUTO). */
void vv_fw_query_init(struct vv_fw_query *q);

/* Rejects queries libvirt rejects at parse time (§4.2, §4.4, §4.6):
 * a feature both required and forbidden, enrolled-keys required with
 * secure-boot forbidden, executable and NVRAM formats that differ, a
 * BIOS interface with split or combined mode, a template path with
 * stateless or combined mode, an unknown architecture.  0 or -1. */
int vv_fw_query_check(const struct vv_fw_query *q, struct vv_error *err);

/* Whether d matches q.  On false, why (one sentence) is written to reason
 * (may be NULL).  The checks run in libvirt's order and the first failure
 * is reported. */
bool vv_fw_match(const struct vv_fw_descriptor *d, const struct vv_fw_query *q,
		 char *reason, size_t reason_size);

/* One line of an explanation: an entry of the list and what happened. */
enum vv_fw_verdict {
	VV_FW_SELECTED,
	VV_FW_ALSO_MATCHES,         /* matches, but a higher-priority one won */
	VV_FW_REJECTED,
	VV_FW_SKIPPED_MASKED,
	VV_FW_SKIPPED_INVALID,
};

struct vv_fw_explanation {
	const struct vv_fw_entry *entry;
	enum vv_fw_verdict verdict;
	char reason[256];
};

/* Tries every entry in priority order; the first match wins (§4.2
 * "Ordering").  Returns the index of the selected entry in l->entries or
 * -1 when nothing matches.  If expl is not NULL it receives l->n
 * explanations (caller frees with free()). */
long vv_fw_select(const struct vv_fw_list *l, const struct vv_fw_query *q,
		  struct vv_fw_explanation **expl);

/* ---- instantiation ---- */

enum vv_fw_state_kind {
	VV_FW_STATE_SPLIT,          /* per-VM copy of the NVRAM template */
	VV_FW_STATE_COMBINED,       /* per-VM read-write clone of the executable */
	VV_FW_STATE_STATELESS,      /* nothing persists: volatile-only variables */
	VV_FW_STATE_HOST_VARS,      /* per-VM vmvars JSON v2 store */
	VV_FW_STATE_HOST_VARS_STATELESS, /* the host variable device with no
				     * store: variables live while the VM runs */
};

struct vv_fw_instance_opts {
	const char *vm_name;        /* required: names the per-VM files */
	const char *dir;            /* where per-VM files go (required unless
				     * target is given for a mode that writes) */
	const char *target;         /* explicit per-VM file path */
	const char *template_path;  /* host-vars: store template instead of the
				     * descriptor's (JSON v2 or OVMF_VARS.fd) */
	bool host_vars;             /* split flash firmware: convert the raw
				     * template into a vmvars store instead of
				     * copying it (needs an OVMF_VARS.fd reader) */
	bool force;                 /* replace an existing per-VM file */
	bool legacy_drive;          /* -drive if=pflash instead of -blockdev */
	const char *vmvarsd_dir;    /* host-vars served by vmvarsd: the daemon's
				     * state directory, which receives the store
				     * as vars.json (created 0700 if missing) */
	const char *vmvarsd_socket; /* the VMM socket QEMU connects to; default
				     * <vmvarsd_dir>/vmm.sock */
	bool stateless;             /* the VM asked for stateless firmware
				     * (--mode stateless): host-side variables
				     * get the device but no store, nothing is
				     * written */
};

struct vv_fw_instance {
	enum vv_fw_state_kind kind;
	char *created;              /* the per-VM file written, or NULL */
	char *executable;           /* what the VM maps/loads */
	size_t n_variables;         /* HOST_VARS: variables in the new store */
	char **qemu_args;           /* argv tokens, e.g. "-machine", "smm=on" */
	size_t n_qemu_args;
	char **vmvarsd_args;        /* with vmvarsd_dir: the daemon's argv */
	size_t n_vmvarsd_args;
};

/* Creates the VM's firmware state for descriptor d (§3.3, §4.4):
 *  split flash -> copy the template to <dir>/<vm>_VARS.{fd,qcow2};
 *  combined    -> copy the executable to <dir>/<vm>_CODE.{fd,qcow2};
 *  stateless   -> nothing written;
 *  host-uefi-vars (or opts->host_vars) -> a new vmvars JSON v2 store at
 *               <dir>/<vm>_VARS.json, filled from the JSON template of the
 *               descriptor or opts->template_path when there is one, for
 *               QEMU's `uefi-vars-x64,jsonfile=`; with opts->vmvarsd_dir the
 *               store is <vmvarsd_dir>/vars.json, served by vmvarsd (its
 *               argv in vmvarsd_args) to QEMU's `uefi-vars-x64,vmvarsd=`
 *               (contrib/qemu, docs/qemu.md).
 * Files are written to a temporary file in the target directory, fsynced
 * and linked (or, with force, renamed) into place, then the directory is
 * fsynced: an existing target is never touched without force, and a
 * failure leaves nothing behind.  NULL with err on failure. */
struct vv_fw_instance *vv_fw_instantiate(const struct vv_fw_descriptor *d,
					 const struct vv_fw_instance_opts *opts,
					 struct vv_error *err);
void vv_fw_instance_free(struct vv_fw_instance *inst);
const char *vv_fw_state_kind_name(enum vv_fw_state_kind k);

/* The QEMU arguments for d with the per-VM file vars_path (NULL when there
 * is none), as argv tokens; commas in paths are doubled as QEMU's option
 * syntax needs.  NULL on allocation failure. */
char **vv_fw_qemu_args(const struct vv_fw_descriptor *d, enum vv_fw_state_kind kind,
		       const char *executable, const char *vars_path, bool legacy_drive,
		       size_t *n);

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_FIRMWARE_H */
