/*
 * src/firmware/instantiate.c -- create a VM's firmware state from a
 * descriptor and say how QEMU uses it (vmvars/firmware.h; reference §3.3,
 * §3.4, §4.4, §4.5).
 *
 *   split flash      copy the NVRAM template to <dir>/<vm>_VARS.<ext>
 *                    (§4.4: ext .qcow2 for qcow2, .fd for raw); mapped
 *                    read-write as pflash1, the executable read-only.
 *   combined flash   copy the executable to <dir>/<vm>_CODE.<ext>; mapped
 *                    read-write as pflash0, no pflash1 (§3.3).
 *   stateless        nothing is written; the executable is mapped read-only
 *                    and variables live only while the VM runs (§3.1).
 *                    host-uefi-vars firmware asked for stateless
 *                    (opts.stateless) gets the variable device without a
 *                    store: nothing is written either.
 *   host-uefi-vars   a new vmvars JSON v2 store <dir>/<vm>_VARS.json, from
 *                    the descriptor's JSON template or a given one (§3.4,
 *                    §4.5), used as `-device uefi-vars-x64,jsonfile=`
 *                    (x86) or `uefi-vars-sysbus,jsonfile=` (others).
 *                    Served by vmvarsd instead (vmvarsd_dir): the store is
 *                    the daemon's <state dir>/vars.json and the device gets
 *                    `vmvarsd=<socket>` (QEMU patched with contrib/qemu).
 *
 * Every per-VM file is published atomically (vv_fw_publish_file, the
 * one atomic-replace primitive of core/file_replace.h): a temporary file
 * next to the target, fsync, link (no overwrite) or rename (--force,
 * keeping the replaced file's identity), fsync of the directory.  An existing target is refused unless
 * forced; a failure leaves neither a partial target nor a temporary file.
 *
 * A raw OVMF_VARS.fd template becomes a vmvars store through the format
 * layer (vmvars/formats.h): the same reader the CLI uses, so Debian's
 * OVMF_VARS_4M.ms.fd gives a store with the same keys.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vmvars/backend.h>
#include <vmvars/firmware.h>
#include <vmvars/formats.h>
#include <vmvars/json_v2.h>
#include <vmvars/store.h>

#include "core/file_replace.h"
#include "firmware/fw_internal.h"

/* Templates and combined images: OVMF images are 2-4 MiB, AAVMF 64 MiB. */
#define TEMPLATE_MAX (256u * 1024u * 1024u)

const char *
vv_fw_state_kind_name(enum vv_fw_state_kind k)
{
	static const char *const names[] = { "split", "combined", "stateless", "host-uefi-vars",
					     "host-uefi-vars-stateless" };

	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : NULL;
}

/* ---- atomic publication ---- */

int
vv_fw_publish_file(const char *target, bool replace, const void *data, size_t len,
		   struct vv_error *err)
{
	const struct vv_replace how = {
		VV_REPLACE_IDENTITY | (replace ? VV_REPLACE_FORCE : VV_REPLACE_NEW), 0600, NULL, NULL
	};
	struct stat st;

	/* Refuse early, with a clear message; link() in the primitive closes
	 * the race. */
	if (!replace && lstat(target, &st) == 0)
		return vv_error_set(err, "%s: already exists (refusing to overwrite a VM's "
				    "firmware state; use --force to replace it)", target);
	return vv_file_replace(target, data, len, &how, err);
}

/* The per-VM copy of a template or executable must be what QEMU maps:
 * written whole (the primitive), never a partial file. */
struct bytes {
	const char *data;
	size_t len;
};

/* ---- template checks ---- */

static bool
looks_like_qcow2(const char *data, size_t len)
{
	return len >= 4 && memcmp(data, "QFI\xfb", 4) == 0;
}

static bool
looks_like_json(const char *data, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r')
			continue;
		return data[i] == '{';
	}
	return false;
}

/* The content of a flash file must agree with its declared format: a
 * qcow2 file starts with "QFI\xfb"; a raw image must not (QEMU would map
 * the qcow2 container bytes as firmware). */
static int
check_flash_format(const char *path, const struct bytes *b, enum vv_fw_format fmt,
		   struct vv_error *err)
{
	bool q = looks_like_qcow2(b->data, b->len);

	if (fmt == VV_FW_FMT_QCOW2 && !q)
		return vv_error_set(err, "%s: descriptor says format qcow2, but the file has no "
				    "qcow2 header", path);
	if (fmt == VV_FW_FMT_RAW && q)
		return vv_error_set(err, "%s: descriptor says format raw, but the file is qcow2",
				    path);
	if (fmt == VV_FW_FMT_RAW && b->len == 0)
		return vv_error_set(err, "%s: empty file, not a raw flash image", path);
	return 0;
}

/* ---- the per-VM file name ---- */

static int
check_vm_name(const char *vm, struct vv_error *err)
{
	if (vm == NULL || vm[0] == '\0')
		return vv_error_set(err, "a VM name is required");
	if (strchr(vm, '/') != NULL || strcmp(vm, ".") == 0 || strcmp(vm, "..") == 0)
		return vv_error_set(err, "VM name %s: must not contain '/' or be . or ..", vm);
	return 0;
}

static char *
target_path(const struct vv_fw_instance_opts *o, const char *suffix, struct vv_error *err)
{
	char *p;
	int n;

	if (o->target != NULL)
		return strdup(o->target);
	if (o->dir == NULL) {
		vv_error_set(err, "no target directory given (--dir) and no target file");
		return NULL;
	}
	n = snprintf(NULL, 0, "%s/%s%s", o->dir, o->vm_name, suffix);
	if (n < 0 || (p = malloc((size_t)n + 1)) == NULL)
		return NULL;
	snprintf(p, (size_t)n + 1, "%s/%s%s", o->dir, o->vm_name, suffix);
	return p;
}

/* ---- QEMU arguments ---- */

struct argv {
	char **v;
	size_t n;
	bool oom;
};

static void
push(struct argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
push(struct argv *a, const char *fmt, ...)
{
	char **grown;
	va_list ap;
	char *s;

	if (a->oom)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	grown = s != NULL ? realloc(a->v, (a->n + 1) * sizeof(*grown)) : NULL;
	if (grown == NULL) {
		free(s);
		a->oom = true;
		return;
	}
	a->v = grown;
	a->v[a->n++] = s;
}

/* QEMU option syntax: a comma inside a value is written as two. */
static char *
qemu_escape(const char *s)
{
	size_t n = 0, i, j;
	char *out;

	for (i = 0; s[i] != '\0'; i++)
		n += s[i] == ',' ? 2 : 1;
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0, j = 0; s[i] != '\0'; i++) {
		out[j++] = s[i];
		if (s[i] == ',')
			out[j++] = ',';
	}
	out[j] = '\0';
	return out;
}

static bool
x86_firmware(const struct vv_fw_descriptor *d)
{
	size_t i;

	for (i = 0; i < d->n_targets; i++)
		if (d->targets[i].arch == VV_FW_ARCH_X86_64 || d->targets[i].arch == VV_FW_ARCH_I386)
			return true;
	return false;
}

/* pflash<unit> as a file node plus a format node (-blockdev), or the
 * pre-4.0 -drive if=pflash form (§3.3). */
static void
push_pflash(struct argv *a, int unit, const char *file, enum vv_fw_format fmt, bool ro,
	    bool legacy)
{
	const char *f = vv_fw_format_name(fmt);

	if (legacy) {
		push(a, "-drive");
		push(a, "if=pflash,unit=%d,format=%s%s,file=%s", unit, f,
		     ro ? ",readonly=on" : "", file);
		return;
	}
	push(a, "-blockdev");
	push(a, "node-name=pflash%d-file,driver=file,filename=%s,read-only=%s", unit, file,
	     ro ? "on" : "off");
	push(a, "-blockdev");
	push(a, "node-name=pflash%d,driver=%s,file=pflash%d-file,read-only=%s", unit, f, unit,
	     ro ? "on" : "off");
}

static void
push_flash(struct argv *a, const struct vv_fw_descriptor *d, enum vv_fw_state_kind kind,
	   const char *exe, const char *vars, bool legacy)
{
	bool smm = (d->features & VV_FW_BIT(VV_FW_FEAT_REQUIRES_SMM)) != 0;
	bool pflash1 = kind == VV_FW_STATE_SPLIT && vars != NULL;

	push_pflash(a, 0, exe, d->executable.format, kind != VV_FW_STATE_COMBINED, legacy);
	if (pflash1)
		push_pflash(a, 1, vars, d->nvram_template.format, false, legacy);
	if (!legacy) {
		push(a, "-machine");
		push(a, "pflash0=pflash0%s%s", pflash1 ? ",pflash1=pflash1" : "",
		     smm ? ",smm=on" : "");
	} else if (smm) {
		push(a, "-machine");
		push(a, "smm=on");
	}
	/* §3.2 requires-smm: with secure-boot, flash writes only from SMM. */
	if (smm && (d->features & VV_FW_BIT(VV_FW_FEAT_SECURE_BOOT))) {
		push(a, "-global");
		push(a, "driver=cfi.pflash01,property=secure,value=on");
	}
}

/* vv_fw_qemu_args, or with vmvarsd_socket the device served by vmvarsd. */
static char **
qemu_args(const struct vv_fw_descriptor *d, enum vv_fw_state_kind kind,
	  const char *executable, const char *vars_path, const char *vmvarsd_socket,
	  bool legacy_drive, size_t *n)
{
	struct argv a = { 0 };
	char *exe = NULL, *vars = NULL;
	const char *src = executable != NULL ? executable
	    : d->executable.filename != NULL ? d->executable.filename : d->filename;

	*n = 0;
	if (vmvarsd_socket != NULL)
		vars_path = vmvarsd_socket;
	if ((exe = qemu_escape(src)) == NULL ||
	    (vars_path != NULL && (vars = qemu_escape(vars_path)) == NULL)) {
		free(exe);
		return NULL;
	}
	switch (d->device) {
	case VV_FW_DEV_FLASH:
		push_flash(&a, d, kind, exe, kind == VV_FW_STATE_HOST_VARS ||
			   kind == VV_FW_STATE_HOST_VARS_STATELESS ? NULL : vars, legacy_drive);
		break;
	case VV_FW_DEV_MEMORY:
		push(&a, "-bios");
		push(&a, "%s", src);    /* a plain argument: no option syntax */
		break;
	case VV_FW_DEV_KERNEL:
		push(&a, "-kernel");
		push(&a, "%s", src);
		break;
	default:
		push(&a, "-object");
		push(&a, "igvm-cfg,id=igvm0,file=%s", exe);
		push(&a, "-machine");
		push(&a, "igvm-cfg=igvm0");
		break;
	}
	/* §3.2, §3.4: the host variable device carries the store; without
	 * one (stateless) it keeps the variables in memory. */
	if (kind == VV_FW_STATE_HOST_VARS && vars != NULL) {
		push(&a, "-device");
		push(&a, "%s,%s=%s", x86_firmware(d) ? "uefi-vars-x64" : "uefi-vars-sysbus",
		     vmvarsd_socket != NULL ? "vmvarsd" : "jsonfile", vars);
	} else if (kind == VV_FW_STATE_HOST_VARS_STATELESS) {
		push(&a, "-device");
		push(&a, "%s", x86_firmware(d) ? "uefi-vars-x64" : "uefi-vars-sysbus");
	}
	free(exe);
	free(vars);
	if (a.oom) {
		vv_fw_free_strings(a.v, a.n);
		return NULL;
	}
	*n = a.n;
	return a.v;
}

char **
vv_fw_qemu_args(const struct vv_fw_descriptor *d, enum vv_fw_state_kind kind,
		const char *executable, const char *vars_path, bool legacy_drive, size_t *n)
{
	return qemu_args(d, kind, executable, vars_path, NULL, legacy_drive, n);
}

/* ---- the modes ---- */

static int
copy_file(const char *src, enum vv_fw_format fmt, const char *target, bool force,
	  struct vv_error *err)
{
	struct bytes b;
	char *data;
	int r;

	if (vv_fw_read_file(src, TEMPLATE_MAX, &data, &b.len, err) != 0)
		return -1;
	b.data = data;
	r = check_flash_format(src, &b, fmt, err);
	if (r == 0)
		r = vv_fw_publish_file(target, force, b.data, b.len, err);
	free(data);
	return r;
}

/* Fills s from the template file at path: JSON v2, or an OVMF_VARS.fd
 * image read by the format layer. */
static int
load_template(struct vv_store *s, const char *path, bool must_be_json, struct vv_error *err)
{
	size_t len;
	char *text;
	int r;

	if (vv_fw_read_file(path, TEMPLATE_MAX, &text, &len, err) != 0)
		return -1;
	if (looks_like_json(text, len)) {
		r = vv_json_v2_parse(s, text, len, path, err);
	} else if (must_be_json) {
		r = vv_error_set(err, "%s: descriptor says format json, but the file is not a "
				 "JSON document", path);
	} else if (vv_format_detect((const uint8_t *)text, len) == VV_FORMAT_OVMF_FD) {
		r = vv_format_load(VV_FORMAT_OVMF_FD, (const uint8_t *)text, len, path, s, err);
	} else {
		r = vv_error_set(err, "%s: neither a JSON v2 store nor an OVMF_VARS.fd image", path);
	}
	free(text);
	return r;
}

static size_t
count_variables(const struct vv_store *s)
{
	const struct vv_variable *v;
	size_t n = 0;

	for (v = vv_store_first(s); v != NULL; v = vv_store_next(v))
		n++;
	return n;
}

static int
make_host_store(const struct vv_fw_descriptor *d, const struct vv_fw_instance_opts *o,
		const char *target, size_t *n_vars, struct vv_error *err)
{
	const char *tpl = o->template_path;
	bool must_json = false;
	struct vv_store *s;
	int r = 0;

	if (tpl == NULL && d->nvram_template.filename != NULL) {
		tpl = d->nvram_template.filename;
		must_json = d->nvram_template.format == VV_FW_FMT_JSON;
		if (!must_json && d->nvram_template.format == VV_FW_FMT_QCOW2)
			return vv_error_set(err, "%s: a qcow2 NVRAM template cannot be converted "
					    "into a vmvars store", tpl);
	}
	if ((s = vv_store_new(NULL)) == NULL)
		return vv_error_set(err, "%s: out of memory", target);
	if (tpl != NULL && load_template(s, tpl, must_json, err) != 0)
		r = -1;
	if (r == 0) {
		size_t len;
		char *text = vv_json_v2_serialize(s, &len);

		*n_vars = count_variables(s);
		r = text != NULL ? vv_fw_publish_file(target, o->force, text, len, err)
				 : vv_error_set(err, "%s: out of memory", target);
		free(text);
	}
	vv_store_free(s);
	return r;
}

/*
 * Host-side variables persist in a store unless the VM asked for stateless
 * firmware: QEMU's uefi-vars device without jsonfile= keeps them in
 * memory (device-abi "jsonfile ... provides persistence").  (A flash
 * descriptor of host-uefi-vars firmware says "stateless" for the flash
 * only, §3.2, so only the request decides.)
 */
static enum vv_fw_state_kind
kind_for(const struct vv_fw_descriptor *d, const struct vv_fw_instance_opts *o)
{
	if (vv_fw_descriptor_host_vars(d) || o->host_vars)
		return o->stateless ? VV_FW_STATE_HOST_VARS_STATELESS : VV_FW_STATE_HOST_VARS;
	if (d->device != VV_FW_DEV_FLASH)
		return VV_FW_STATE_STATELESS;
	if (d->mode == VV_FW_MODE_SPLIT)
		return VV_FW_STATE_SPLIT;
	return d->mode == VV_FW_MODE_COMBINED ? VV_FW_STATE_COMBINED : VV_FW_STATE_STATELESS;
}

static int
create_state(const struct vv_fw_descriptor *d, const struct vv_fw_instance_opts *o,
	     struct vv_fw_instance *inst, struct vv_error *err)
{
	const char *suffix;
	char why[700];

	switch (inst->kind) {
	case VV_FW_STATE_STATELESS:
	case VV_FW_STATE_HOST_VARS_STATELESS:
		if (o->template_path != NULL)
			return vv_error_set(err, "%s: stateless firmware has no variable store; "
					    "a template makes no sense", d->path);
		if (o->vmvarsd_dir != NULL)
			return vv_error_set(err, "%s: vmvarsd keeps a store; stateless firmware "
					    "keeps none (drop --vmvarsd or --mode stateless)",
					    d->path);
		return 0;
	case VV_FW_STATE_SPLIT:
		if (!o->force && vv_fw_flash_pair_check(d, why, sizeof(why)))
			return vv_error_set(err, "%s: %s; nothing written (--force instantiates "
					    "it anyway)", d->path, why);
		suffix = d->nvram_template.format == VV_FW_FMT_QCOW2 ? "_VARS.qcow2" : "_VARS.fd";
		break;
	case VV_FW_STATE_COMBINED:
		suffix = d->executable.format == VV_FW_FMT_QCOW2 ? "_CODE.qcow2" : "_CODE.fd";
		break;
	default:
		suffix = "_VARS.json";
		break;
	}
	if (o->vmvarsd_dir != NULL) {
		if (inst->kind != VV_FW_STATE_HOST_VARS)
			return vv_error_set(err, "%s: vmvarsd serves host-side variables; this "
					    "firmware keeps them in %s", d->path,
					    vv_fw_state_kind_name(inst->kind));
		/* The daemon's store is vars.json in its state directory
		 * (src/daemon/vm.c), which systemd's StateDirectory= or this
		 * creates with the mode vmvarsd expects. */
		if (mkdir(o->vmvarsd_dir, 0700) != 0 && errno != EEXIST)
			return vv_error_set(err, "%s: %s", o->vmvarsd_dir, strerror(errno));
		if (asprintf(&inst->created, "%s/vars.json", o->vmvarsd_dir) < 0) {
			inst->created = NULL;
			return vv_error_set(err, "out of memory");
		}
		return make_host_store(d, o, inst->created, &inst->n_variables, err);
	}
	if ((inst->created = target_path(o, suffix, err)) == NULL)
		return err != NULL && err->msg[0] ? -1 : vv_error_set(err, "out of memory");
	switch (inst->kind) {
	case VV_FW_STATE_SPLIT:
		if (o->template_path != NULL)
			return vv_error_set(err, "split firmware %s: the template is the "
					    "descriptor's (%s); --template applies to host-side "
					    "variables", d->path, d->nvram_template.filename);
		return copy_file(d->nvram_template.filename, d->nvram_template.format,
				 inst->created, o->force, err);
	case VV_FW_STATE_COMBINED:
		if (copy_file(d->executable.filename, d->executable.format, inst->created,
			      o->force, err) != 0)
			return -1;
		free(inst->executable);
		return (inst->executable = strdup(inst->created)) == NULL
		    ? vv_error_set(err, "out of memory") : 0;
	default:
		return make_host_store(d, o, inst->created, &inst->n_variables, err);
	}
}

/* The daemon's command line; its default VMM socket (main.c) is what
 * QEMU is pointed at unless another is given. */
static int
vmvarsd_argv(const struct vv_fw_instance_opts *o, struct vv_fw_instance *inst)
{
	struct argv a = { 0 };

	push(&a, "vmvarsd");
	push(&a, "--state-dir");
	push(&a, "%s", o->vmvarsd_dir);
	if (o->vmvarsd_socket != NULL) {
		push(&a, "--vmm-socket");
		push(&a, "%s", o->vmvarsd_socket);
	}
	if (a.oom) {
		vv_fw_free_strings(a.v, a.n);
		return -1;
	}
	inst->vmvarsd_args = a.v;
	inst->n_vmvarsd_args = a.n;
	return 0;
}

struct vv_fw_instance *
vv_fw_instantiate(const struct vv_fw_descriptor *d, const struct vv_fw_instance_opts *o,
		  struct vv_error *err)
{
	struct vv_fw_instance *inst;
	const char *exe = d->executable.filename != NULL ? d->executable.filename : d->filename;
	char *sock = NULL;

	if (err != NULL)
		err->msg[0] = '\0';
	if (check_vm_name(o->vm_name, err) != 0)
		return NULL;
	if (o->vmvarsd_socket != NULL && o->vmvarsd_dir == NULL)
		return vv_error_set(err, "a vmvarsd socket without the daemon's state "
				    "directory"), NULL;
	if (o->host_vars && !vv_fw_descriptor_host_vars(d) &&
	    !(d->device == VV_FW_DEV_FLASH && d->mode == VV_FW_MODE_SPLIT))
		return vv_error_set(err, "%s: host-side variables replace a split NVRAM; this "
				    "firmware is %s %s", d->path, vv_fw_device_name(d->device),
				    vv_fw_mode_name(d->mode)), NULL;
	if ((inst = calloc(1, sizeof(*inst))) == NULL || (inst->executable = strdup(exe)) == NULL) {
		free(inst);
		vv_error_set(err, "out of memory");
		return NULL;
	}
	inst->kind = kind_for(d, o);
	if (create_state(d, o, inst, err) != 0) {
		vv_fw_instance_free(inst);
		return NULL;
	}
	if (o->vmvarsd_dir != NULL &&
	    (vmvarsd_argv(o, inst) != 0 ||
	     (o->vmvarsd_socket == NULL && asprintf(&sock, "%s/vmm.sock", o->vmvarsd_dir) < 0))) {
		vv_error_set(err, "out of memory");
		vv_fw_instance_free(inst);
		return NULL;
	}
	inst->qemu_args = qemu_args(d, inst->kind, inst->executable,
				    inst->kind == VV_FW_STATE_STATELESS ||
				    inst->kind == VV_FW_STATE_HOST_VARS_STATELESS ? NULL : inst->created,
				    o->vmvarsd_socket != NULL ? o->vmvarsd_socket : sock,
				    o->legacy_drive, &inst->n_qemu_args);
	free(sock);
	if (inst->qemu_args == NULL) {
		vv_error_set(err, "out of memory");
		vv_fw_instance_free(inst);
		return NULL;
	}
	return inst;
}

void
vv_fw_instance_free(struct vv_fw_instance *inst)
{
	if (inst == NULL)
		return;
	free(inst->created);
	free(inst->executable);
	vv_fw_free_strings(inst->qemu_args, inst->n_qemu_args);
	vv_fw_free_strings(inst->vmvarsd_args, inst->n_vmvarsd_args);
	free(inst);
}
