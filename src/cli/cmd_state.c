/*
 * src/cli/cmd_state.c -- backup, restore and clone of a VM's store as
 * service-state snapshots (issue #14 item 5; docs/migration.md, the byte
 * format docs/snapshot.md):
 *
 *   vmvars export STORE FILE        a full snapshot of STORE at power-on
 *   vmvars import-state FILE STORE  a full snapshot's NV content as STORE
 *   vmvars clone SRC DST --vm-uuid  SRC's NV content for a new VM identity
 *
 * A store file holds NV variables only; a snapshot also holds what a
 * running VM has beyond them (volatile variables, the boot phase, policies,
 * MOR).  So an export is the power-on state of the store -- what a VM
 * started on it would have before its firmware runs: the NV variables and
 * the variables the service itself creates (Secure Boot mode) -- and an
 * import keeps only the NV content (a store file cannot hold the rest).
 * Both go through the library's snapshot code, so an imported snapshot
 * passes every check a migrating daemon applies (checksum, version,
 * identity, limits) before anything is written.
 *
 * Lock rules (store_file.h): reading STORE/SRC takes its lock without
 * creating it -- refused while vmvarsd runs on it, since its journal may
 * hold writes not yet in the file (the management API's save-state gives
 * a running VM's state) -- and writing goes through vv_store_file_write
 * (the store's lock, an atomic replace).  An existing output file is never
 * replaced without --force.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vmvars/mor.h>
#include <vmvars/policy.h>
#include <vmvars/snapshot.h>

#include "backend/store_lock.h"
#include "cli/cli.h"
#include "cli/store_file.h"

/* One VM's service, built as vmvarsd builds it (src/daemon/vm.c): store,
 * variable policy, Secure Boot, MOR. */
struct service {
	struct vv_store_file sf;       /* sf.store, sf.sb */
	struct vv_policy *policy;
	struct vv_mor *mor;
	struct vv_service v;
};

static void
service_close(struct service *x)
{
	vv_mor_free(x->mor);
	vv_policy_free(x->policy);
	x->mor = NULL;
	x->policy = NULL;
	/* Secure Boot detaches itself; the store goes last */
	vv_store_file_close(&x->sf);
}

/* The store's limits: large enough for any real store, as the CLI opens
 * every store. */
static int
service_open(struct service *x, const char *path, bool tpm, struct vv_error *err)
{
	memset(x, 0, sizeof(*x));
	if ((x->sf.store = vv_store_new(NULL)) == NULL)
		return vv_error_set(err, "out of memory");
	if (path != NULL) {
		x->sf.path = strdup(path);
		if (x->sf.path == NULL ||
		    vv_read_file(path, &x->sf.raw, &x->sf.raw_size, err) != 0 ||
		    vv_format_load_path(path, VV_FORMAT_UNKNOWN, x->sf.store, &x->sf.format,
					err) != 0)
			goto fail;
	}
	x->sf.sb = vv_secureboot_new(x->sf.store, NULL);
	x->policy = vv_policy_new(x->sf.store, NULL);
	x->mor = vv_mor_new(x->sf.store, tpm);
	if (x->sf.sb == NULL || x->policy == NULL || x->mor == NULL) {
		vv_error_set(err, "out of memory");
		goto fail;
	}
	x->v = (struct vv_service){ x->sf.store, x->policy, x->mor };
	return 0;
fail:
	if (err->msg[0] == '\0')
		vv_error_set(err, "out of memory");
	service_close(x);
	return -1;
}

/* A consistent view of a store: its lock when one exists (never created),
 * so not while vmvarsd or a writing vmvars runs on it. */
static int
read_lock(const char *path, int *fd, struct vv_error *err)
{
	if (vv_store_lock(path, vv_cli_progname, false, fd, err) != 0) {
		vv_error_prefix(err, "cannot read a consistent copy (for a running VM use the "
				"management API's save-state)");
		return -1;
	}
	return 0;
}

/* A full snapshot of the store at path, at power-on, under vm_id. */
static int
export_store(const char *path, const uint8_t vm_id[16], bool tpm, uint8_t **snap, size_t *n,
	     struct vv_error *err)
{
	struct vv_snapshot_options opts = { { 0 }, VV_SNAPSHOT_FULL };
	struct service x;
	int lock = -1, rc;

	memcpy(opts.vm_id, vm_id, 16);
	if (read_lock(path, &lock, err) != 0)
		return -1;
	/* vmvarsd's journal (src/backend/journal_backend.c) beside the store:
	 * records not yet folded into the file, left by a daemon that did not
	 * exit cleanly.  The file alone would be an older state. */
	{
		char journal[4096];
		struct stat st;

		snprintf(journal, sizeof(journal), "%s.journal", path);
		if (stat(journal, &st) == 0 && st.st_size > 0) {
			vv_store_unlock(lock);
			return vv_error_set(err, "%s holds writes not yet in %s (vmvarsd did not "
					    "exit cleanly): start and stop vmvarsd on it once, then "
					    "export", journal, path);
		}
	}
	rc = service_open(&x, path, tpm, err);
	vv_store_unlock(lock);
	if (rc != 0)
		return -1;
	rc = vv_snapshot_save(&x.v, &opts, snap, n, err);
	service_close(&x);
	return rc;
}

/*
 * Loads a full snapshot into a fresh service (TPM setting taken from the
 * snapshot's MOR record: a store file holds no MOR state, so either is
 * right) and writes its NV content as out_path in format f.  The store is
 * then at power-on: the snapshot's volatile state is not written.
 */
static int
import_snapshot(const uint8_t *snap, size_t n, const uint8_t vm_id[16], const char *out_path,
		enum vv_format f, struct vv_error *err)
{
	struct vv_snapshot_options opts = { { 0 }, VV_SNAPSHOT_FULL };
	struct service x;
	int rc = -1;

	memcpy(opts.vm_id, vm_id, 16);
	if (n < 12 || !(vv_le16(snap + 10) & 1))
		return vv_error_set(err, "not a full snapshot (a volatile-only one holds no NV "
				    "variables to make a store of)");
	for (int tpm = 0; tpm < 2; tpm++) {
		struct vv_error e = { "" };

		if (service_open(&x, NULL, tpm != 0, err) != 0)
			return -1;
		rc = vv_snapshot_load(&x.v, &opts, snap, n, &e);
		if (rc == 0)
			break;
		service_close(&x);
		*err = e;
		if (strstr(e.msg, "TPM") == NULL)
			return -1;
	}
	if (rc != 0)
		return -1;
	/* The snapshot's boot, if it was a running VM's, ends here: back to
	 * power-on, as the VM will start from the file. */
	vv_store_signal(x.sf.store, VV_EVENT_RESET);
	x.sf.format = f;
	rc = vv_store_file_save(&x.sf, out_path, f, NULL, 0, err);
	service_close(&x);
	return rc;
}

static int
write_snapshot(const char *path, const uint8_t *snap, size_t n, struct vv_error *err)
{
	return vv_write_file_atomic(path, snap, n, err);
}

static int
parse_uuid(const char *cmd, const char *text, uint8_t out[16])
{
	if (vv_guid_parse(text, (vv_guid *)out) != 0)
		return vv_cli_fail(VV_EXIT_USAGE, cmd, "--vm-uuid: not a UUID: %s", text);
	return 0;
}

/* ---- export ---- */

void
vv_cmd_export_help(FILE *out)
{
	fputs(
"NAME\n"
"    vmvars export - a store's full state as a snapshot file (backup)\n"
"\n"
"SYNOPSIS\n"
"    vmvars export STORE FILE [--vm-uuid UUID] [--tpm] [--force]\n"
"\n"
"DESCRIPTION\n"
"    Writes FILE: a full service-state snapshot (docs/snapshot.md) of STORE\n"
"    (any format) at power-on -- its NV variables and the variables the\n"
"    service creates itself -- under the VM identity UUID (default: none).\n"
"    vmvarsd --vm-uuid UUID loads it with LOAD_STATE or the management\n"
"    API's load-state; `vmvars import-state` makes a store of it again.\n"
"    --tpm: the snapshot says the VM has a TPM (a daemon started with --tpm\n"
"    requires that). STORE must not be in use by vmvarsd: its journal may\n"
"    hold writes not yet in the file (use the management API's save-state\n"
"    for a running VM). FILE is never replaced without --force.\n"
"\n"
"EXIT STATUS\n"
"    0 written, 1 STORE unreadable or FILE not written, 2 usage error.\n", out);
}

int
vv_cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vm-uuid", required_argument, NULL, 'u' },
		{ "tpm", no_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vv_error err = { "" };
	uint8_t vm_id[16] = { 0 }, *snap = NULL;
	bool tpm = false, force = false;
	size_t n = 0;
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "u:tfh", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			if (parse_uuid("export", optarg, vm_id) != 0)
				return VV_EXIT_USAGE;
			break;
		case 't': tpm = true; break;
		case 'f': force = true; break;
		case 'h': vv_cmd_export_help(stdout); return VV_EXIT_OK;
		default:
			return vv_cli_fail(VV_EXIT_USAGE, "export", "unknown option '%s' (see vmvars "
					   "export --help)", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return vv_cli_fail(VV_EXIT_USAGE, "export", "expected STORE FILE");
	if (!force && access(argv[optind + 1], F_OK) == 0)
		return vv_cli_fail(VV_EXIT_FAIL, "export", "%s exists (use --force to replace it)",
				   argv[optind + 1]);
	vv_cli_write.force = force;
	vv_cli_write.new_file = !force;
	if (export_store(argv[optind], vm_id, tpm, &snap, &n, &err) != 0 ||
	    write_snapshot(argv[optind + 1], snap, n, &err) != 0) {
		free(snap);
		return vv_cli_fail(VV_EXIT_FAIL, "export", "%s", err.msg);
	}
	printf("exported %s to %s: a full snapshot of %zu bytes\n", argv[optind],
	       argv[optind + 1], n);
	free(snap);
	return VV_EXIT_OK;
}

/* ---- import-state and clone: their common command line ---- */

/* What import-state and clone take besides their two operands. */
struct store_out {
	uint8_t vm_id[16];      /* --vm-uuid, else all zero */
	const char *uuid;       /* its text; NULL without --vm-uuid */
	enum vv_format f;       /* --format, else the output's extension, else json */
};

/*
 * "CMD IN OUT [--vm-uuid UUID] [--format FMT] [--force]": operands names
 * IN and OUT for the usage error; need_uuid: --vm-uuid is required.  An
 * existing OUT is refused without --force.  Returns -1 to go on (the
 * operands are argv[optind] and argv[optind + 1]), else the command's exit
 * status (--help, a usage error, OUT exists).
 */
static int
parse_store_out(int argc, char **argv, const char *cmd, const char *operands, bool need_uuid,
		void (*help)(FILE *), struct store_out *o)
{
	static const struct option opts[] = {
		{ "vm-uuid", required_argument, NULL, 'u' },
		{ "format", required_argument, NULL, 'F' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool force = false;
	int c;

	memset(o, 0, sizeof(*o));
	o->f = VV_FORMAT_UNKNOWN;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "u:F:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			if (parse_uuid(cmd, optarg, o->vm_id) != 0)
				return VV_EXIT_USAGE;
			o->uuid = optarg;
			break;
		case 'F':
			if (vv_cli_parse_format(optarg, &o->f) != 0)
				return vv_cli_fail(VV_EXIT_USAGE, cmd, "unknown format '%s'", optarg);
			break;
		case 'f': force = true; break;
		case 'h': help(stdout); return VV_EXIT_OK;
		default:
			return vv_cli_fail(VV_EXIT_USAGE, cmd, "unknown option '%s' (see vmvars %s "
					   "--help)", argv[optind - 1], cmd);
		}
	}
	if (argc - optind != 2)
		return vv_cli_fail(VV_EXIT_USAGE, cmd, "expected %s", operands);
	if (need_uuid && o->uuid == NULL)
		return vv_cli_fail(VV_EXIT_USAGE, cmd, "--vm-uuid UUID is required (the new VM's "
				   "identity)");
	if (o->f == VV_FORMAT_UNKNOWN)
		o->f = vv_cli_format_of_name(argv[optind + 1]);
	if (o->f == VV_FORMAT_UNKNOWN)
		o->f = VV_FORMAT_JSON;
	if (!force && access(argv[optind + 1], F_OK) == 0)
		return vv_cli_fail(VV_EXIT_FAIL, cmd, "%s exists (use --force to replace it)",
				   argv[optind + 1]);
	vv_cli_write.force = force;
	vv_cli_write.new_file = !force;
	return -1;
}

/* ---- import-state ---- */

void
vv_cmd_import_state_help(FILE *out)
{
	fputs(
"NAME\n"
"    vmvars import-state - a store from a snapshot file (restore)\n"
"\n"
"SYNOPSIS\n"
"    vmvars import-state FILE STORE [--vm-uuid UUID] [--format FMT] [--force]\n"
"\n"
"DESCRIPTION\n"
"    Checks the full snapshot FILE as a migrating vmvarsd would (checksum,\n"
"    version, limits, and with --vm-uuid the VM identity) and writes its NV\n"
"    variables as STORE, in FMT (json, fd, aws, xen; default from STORE's\n"
"    extension, else json). A store file holds NV variables only: the\n"
"    snapshot's volatile variables, boot phase, policies and MOR state, if\n"
"    it was taken from a running VM, are not written (the VM starts from\n"
"    power-on). STORE is never replaced without --force, and never while\n"
"    vmvarsd runs on it.\n"
"\n"
"EXIT STATUS\n"
"    0 written, 1 FILE refused or STORE not written, 2 usage error.\n", out);
}

int
vv_cmd_import_state(int argc, char **argv)
{
	struct vv_error err = { "" };
	struct store_out o;
	uint8_t *snap = NULL;
	size_t n = 0;
	int rc;

	rc = parse_store_out(argc, argv, "import-state", "FILE STORE", false,
			     vv_cmd_import_state_help, &o);
	if (rc >= 0)
		return rc;
	if (vv_read_file(argv[optind], &snap, &n, &err) != 0 ||
	    import_snapshot(snap, n, o.vm_id, argv[optind + 1], o.f, &err) != 0) {
		free(snap);
		return vv_cli_fail(VV_EXIT_FAIL, "import-state", "%s", err.msg);
	}
	printf("imported %s into %s (NV variables only; the VM starts from power-on)\n",
	       argv[optind], argv[optind + 1]);
	free(snap);
	return VV_EXIT_OK;
}

/* ---- clone ---- */

void
vv_cmd_clone_help(FILE *out)
{
	fputs(
"NAME\n"
"    vmvars clone - copy a store for a new VM\n"
"\n"
"SYNOPSIS\n"
"    vmvars clone SRC DST --vm-uuid UUID [--format FMT] [--force]\n"
"\n"
"DESCRIPTION\n"
"    Writes DST with the NV content of SRC, for the new VM UUID, through a\n"
"    full snapshot (export, then import under the new identity). The NV\n"
"    variables are copied byte for byte (Secure Boot keys, boot entries,\n"
"    authenticated variables with their timestamps). What the clone does\n"
"    not have: the source's identity (start its vmvarsd with --vm-uuid\n"
"    UUID: a migration snapshot of the source VM is then refused by it), any\n"
"    volatile state (never part of a store file), and an NV generation (not\n"
"    tracked in this version). DST is never replaced without --force.\n"
"\n"
"EXIT STATUS\n"
"    0 written, 1 SRC unreadable or DST not written, 2 usage error.\n", out);
}

int
vv_cmd_clone(int argc, char **argv)
{
	struct vv_error err = { "" };
	struct store_out o;
	uint8_t *snap = NULL;
	size_t n = 0;
	int rc;

	rc = parse_store_out(argc, argv, "clone", "SRC DST", true, vv_cmd_clone_help, &o);
	if (rc >= 0)
		return rc;
	if (export_store(argv[optind], o.vm_id, false, &snap, &n, &err) != 0 ||
	    import_snapshot(snap, n, o.vm_id, argv[optind + 1], o.f, &err) != 0) {
		free(snap);
		return vv_cli_fail(VV_EXIT_FAIL, "clone", "%s", err.msg);
	}
	free(snap);
	printf("cloned %s to %s for VM %s\n"
	       "copied: every NV variable, byte for byte\n"
	       "reset: the VM identity (start its vmvarsd with --vm-uuid %s); no volatile state "
	       "(never part of a store file); NV generation (not tracked)\n",
	       argv[optind], argv[optind + 1], o.uuid, o.uuid);
	return VV_EXIT_OK;
}
