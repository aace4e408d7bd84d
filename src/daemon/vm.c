/*
 * src/daemon/vm.c -- the one VM vmvarsd serves: its store on the state
 * directory's vars.json, with variable policy, Secure Boot and MOR
 * attached exactly as an embedding VMM attaches them
 * (docs/architecture.md "Embedding"), and the private 64 KiB buffer every
 * MM request is copied into before it is parsed (device-abi §4; the same
 * copy-once rule as src/device/uefi_vars_device.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/journal_backend.h"
#include "core/zero_tail.h"
#include "daemon.h"

/* The service state of the running VM (docs/snapshot.md). */
#define VM_RUNTIME_FILE "runtime.state"
/* Larger than any snapshot this daemon writes: the volatile quota plus
 * the policy and property tables' own bounds. */
#define VM_RUNTIME_MAX  (16u << 20)

/* The backend: nothing else in the daemon depends on which one it is. */
static struct vv_backend *
open_backend(const struct vm_config *cfg, struct vv_error *err)
{
	/* The fleet store (fleet.c, docs/fleet.md). */
	if (cfg->fleet_conninfo != NULL)
		return fleet_backend_new(cfg, err);
	/* The journaled backend: one append + fdatasync per durable write,
	 * compacted into the JSON v2 file (docs/architecture.md).  --check
	 * reads the same files and writes nothing: not even Secure Boot's
	 * initial variables of a new store, whose commits then fail (and
	 * are undone), so it reports what is on disk. */
	if (cfg->read_only)
		return vv_json_journal_backend_new_readonly(VM_STORE_FILE, err);
	return vv_json_journal_backend_new(VM_STORE_FILE, err);
}

/*
 * The engine's limits follow the store's (main.c gives the store
 * varstored's unless sizes are on the command line): the wire limit on a
 * value is the largest variable less the per-variable charge, and the
 * variable count grows with the NV storage, never below varstored's 1024.
 * With the defaults this is exactly varstored's DATA_LIMIT 57344,
 * TOTAL_LIMIT 131072 and MAX_VARIABLE_COUNT 1024.
 */
static void
engine_limits(const struct vv_limits *sl, struct vv_xenvar_limits *xl)
{
	uint64_t maxvar = sl->max_variable_size > sl->max_auth_variable_size
				  ? sl->max_variable_size : sl->max_auth_variable_size;
	uint64_t count;

	vv_xenvar_limits_default(xl);
	xl->variable_overhead = sl->variable_overhead;
	xl->total_limit = sl->nv_storage;
	xl->data_limit = maxvar > sl->variable_overhead ? maxvar - sl->variable_overhead : 0;
	count = sl->variable_overhead ? sl->nv_storage / sl->variable_overhead : 0;
	if (count > xl->max_count)
		xl->max_count = count;
}

/* NOTIFY_SB_FAILURE (Xen): the guest's one Secure Boot failure alert per
 * daemon (the engine refuses later ones).  varstored raises a XAPI
 * message; vmvarsd logs it for the operator's log collection. */
static int
on_sb_failure(void *ctx)
{
	(void)ctx;
	log_warn("the guest reported a Secure Boot verification failure (NOTIFY_SB_FAILURE)");
	return 0;
}

int
vm_open(struct vm *vm, const struct vm_config *cfg, struct vv_error *err)
{
	struct vv_secureboot_config sbc = {
		.force_secure_boot = cfg->force_secure_boot,
		.disable_custom_mode = cfg->no_custom_mode,
	};
	struct vv_backend *backend;

	memset(vm, 0, sizeof(*vm));
	memcpy(vm->restart_opts.vm_id, cfg->vm_id, sizeof(vm->restart_opts.vm_id));
	vm->runtime_open = false;
	vm->cfg_migration = cfg->migration;
	vm->cfg_incoming = cfg->incoming;
	vm->cfg_no_shm = cfg->no_shm;
	vm->store = vv_store_new(&cfg->limits);
	if (vm->store == NULL)
		return vv_error_set(err, "limits make no sense (hwerr storage > NV storage?)");
	backend = open_backend(cfg, err);
	if (backend == NULL)
		goto fail;
	vv_store_set_backend(vm->store, backend);
	if (cfg->fleet_conninfo != NULL)
		vm->fleet = backend;
	if (vv_store_load(vm->store, err) != 0)
		goto fail;
	/* e.g. the journal's damaged last record, dropped: the person decides
	 * whether it was a crash or a failing disk */
	if (vv_store_load_warning(vm->store)[0] != '\0')
		log_warn("%s", vv_store_load_warning(vm->store));
	vm->policy = vv_policy_new(vm->store, NULL);
	vm->sb = vv_secureboot_new(vm->store, &sbc);
	vm->mor = vv_mor_new(vm->store, cfg->tpm);
	vm->mm = vv_mm_new(vm->store, vm->policy);
	vm->mm_buf = calloc(1, VV_MM_MAX_BUFFER);
	vm->protocol = cfg->protocol;
	if (cfg->protocol != VM_PROTO_MM) {
		struct vv_xenvar_config xc = { 0 };

		xc.dialect = cfg->protocol == VM_PROTO_XEN ? VV_XENVAR_XEN : VV_XENVAR_AWS;
		engine_limits(&cfg->limits, &xc.limits);
		xc.sb_failure = on_sb_failure;
		vm->xv = vv_xenvar_new(vm->store, &xc);
	}
	if (vm->policy == NULL || vm->sb == NULL || vm->mor == NULL || vm->mm == NULL ||
	    vm->mm_buf == NULL || (cfg->protocol != VM_PROTO_MM && vm->xv == NULL)) {
		vv_error_set(err, "out of memory");
		goto fail;
	}
	return 0;
fail:
	vm_close(vm);
	return -1;
}

/* Teardown in the reverse order of attachment (each detaches itself from
 * the store, vmvars/store.h). */
void
vm_close(struct vm *vm)
{
	if (vm->runtime_open)
		(void)close(vm->runtime_fd);
	vm->runtime_open = false;
	vv_xenvar_free(vm->xv);
	vv_mm_free(vm->mm);
	vv_mor_free(vm->mor);
	vv_secureboot_free(vm->sb);
	vv_policy_free(vm->policy);
	vv_store_free(vm->store);
	free(vm->mm_buf);
	memset(vm, 0, sizeof(*vm));
}

/*
 * The caller (vmm_conn.c) has checked 24 <= len <= buffer_size <= 64 KiB
 * and that len is 24 + MessageLength.  The buffer is zeroed first so that
 * no byte of an earlier request can reach this reply (invariant (2) of
 * uefi_vars_device.c, CVE-2025-8860).
 */
uint16_t
vm_mm_request(struct vm *vm, const uint8_t *req, size_t len, uint32_t buffer_size)
{
	vm_mm_copy_in(vm, req, len);
	return vm_mm_handle_copied(vm, buffer_size);
}

/* Zero beyond the request (core/zero_tail.h), then the request. */
void
vm_mm_copy_in(struct vm *vm, const uint8_t *req, size_t len)
{
	vv_zero_tail(vm->mm_buf, &vm->mm_dirty, len);
	memcpy(vm->mm_buf, req, len);
}

uint16_t
vm_mm_handle_copied(struct vm *vm, uint32_t buffer_size)
{
	uint16_t rc;

	/* vv_mm_handle writes its reply within the request's own 24 +
	 * MessageLength bytes (vmvars/mm.h), so mm_dirty stays len. */
	rc = vv_mm_handle(vm->mm, vm->mm_buf, buffer_size);
	fleet_after_request(vm);
	return rc;
}

/*
 * Same discipline as vm_mm_request: the private buffer is zeroed, so the
 * bytes the VMM did not send (it trims trailing zeros) are zeros and no
 * byte of an earlier request can reach this response.
 */
size_t
vm_varstore_request(struct vm *vm, const uint8_t *req, size_t len)
{
	size_t n;

	vm_mm_copy_in(vm, req, len);
	n = vv_xenvar_handle(vm->xv, vm->mm_buf, VV_XENVAR_BUFFER_SIZE);
	vm->mm_dirty = VV_XENVAR_BUFFER_SIZE;   /* a response may fill it all */
	fleet_after_request(vm);
	return n;
}

static struct vv_service
service_of(struct vm *vm)
{
	return (struct vv_service){ vm->store, vm->policy, vm->mor };
}

/*
 * The record, runtime.state, says one of three things:
 *   absent        nothing is known of the running VM (its first start, a
 *                 record made unusable, or a daemon upgraded under a VM
 *                 started before records existed): serve nothing until the
 *                 VMM's VM_RESET, which a VMM sends at power-on anyway;
 *   empty         the VM was reset and nothing changed since (power-on);
 *   a snapshot    the state to continue from (docs/snapshot.md).
 * Both ways down need no free space (a full disk is one reason to take
 * them): making the record unusable is an unlink, recording a reset is an
 * empty file.  "Absent" must never mean "power-on": then losing the record
 * would hand the running OS boot-time powers.
 */
static void
close_record(struct vm *vm)
{
	if (vm->runtime_open)
		(void)close(vm->runtime_fd);
	vm->runtime_open = false;
}

static void
invalidate_record(struct vm *vm)
{
	close_record(vm);
	if (unlink(VM_RUNTIME_FILE) != 0 && errno != ENOENT)
		log_error("%s: cannot remove it: %s", VM_RUNTIME_FILE, strerror(errno));
}

/* A new, empty record of our own, kept open for the records that follow:
 * created afresh (O_EXCL after an unlink), never through a link or a FIFO
 * someone left under the name. */
static int
create_record(struct vm *vm, const char *what, char *why, size_t why_size)
{
	int fd;

	close_record(vm);
	if (unlink(VM_RUNTIME_FILE) != 0 && errno != ENOENT) {
		snprintf(why, why_size, "%s: %s: %s", what, VM_RUNTIME_FILE, strerror(errno));
		return -1;
	}
	fd = open(VM_RUNTIME_FILE, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(why, why_size, "%s: %s: %s", what, VM_RUNTIME_FILE, strerror(errno));
		return -1;
	}
	vm->runtime_fd = fd;
	vm->runtime_open = true;
	return 0;
}

/* The empty record of a reset. */
static int
record_power_on(struct vm *vm, char *why, size_t why_size)
{
	return create_record(vm, "VM reset", why, why_size);
}

static void
need_reset(struct vm *vm, const char *why)
{
	/* The ERROR frame carries at most 200 bytes; the log has it all. */
	size_t n = strnlen(why, sizeof(vm->needs_reset_why) - 1);

	memcpy(vm->needs_reset_why, why, n);
	vm->needs_reset_why[n] = '\0';
	vm->needs_reset = true;
	invalidate_record(vm);
	log_error("%s; no MM request is served until the VMM resets the VM", why);
}

/* Reads runtime.state whole: a regular file with one link, at most
 * VM_RUNTIME_MAX bytes.  NULL (why set) otherwise; *missing when absent. */
static uint8_t *
read_runtime(size_t *size, bool *missing, char *why, size_t why_size)
{
	/* O_NONBLOCK: a FIFO planted under the name must not hang the start. */
	int fd = open(VM_RUNTIME_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	uint8_t *buf = NULL;
	struct stat st;
	size_t got = 0;

	*missing = fd < 0 && errno == ENOENT;
	if (fd < 0) {
		snprintf(why, why_size, "%s: %s", VM_RUNTIME_FILE, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    st.st_size > VM_RUNTIME_MAX) {
		snprintf(why, why_size, "%s: not a regular file with one link and at most %u bytes",
			 VM_RUNTIME_FILE, VM_RUNTIME_MAX);
		goto out;
	}
	buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (buf == NULL)
		snprintf(why, why_size, "%s: out of memory", VM_RUNTIME_FILE);
	while (buf != NULL && got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n <= 0) {
			snprintf(why, why_size, "%s: %s", VM_RUNTIME_FILE,
				 n == 0 ? "shorter than its size" : strerror(errno));
			free(buf);
			buf = NULL;
			break;
		}
		got += (size_t)n;
	}
	/* Records are written in place: a shorter one leaves the old tail,
	 * which the snapshot's own total size (header offset 16) excludes. */
	if (buf != NULL && got >= 24 && vv_le64(buf + 16) >= 24 && vv_le64(buf + 16) < got)
		got = (size_t)vv_le64(buf + 16);
	*size = got;
out:
	close(fd);
	return buf;
}

/* At start: restores what the record says (see invalidate_record). */
int
vm_restore(struct vm *vm)
{
	struct vv_service svc = service_of(vm);
	struct vv_error err = { { 0 } };
	char why[640] = "";
	size_t size = 0;
	bool missing = false;
	uint8_t *buf = read_runtime(&size, &missing, why, sizeof(why));
	int rc;

	vm->recorded_changes = vv_store_state_changes(vm->store);
	if (buf == NULL && missing) {
		snprintf(vm->needs_reset_why, sizeof(vm->needs_reset_why),
			 "no record of the VM's service state: the VMM must reset the VM (it "
			 "does at power-on) before it is served");
		vm->needs_reset = true;
		log_info("%s: none; waiting for the VMM's VM_RESET (power-on) before serving",
			 VM_RUNTIME_FILE);
		return 1;
	}
	if (buf == NULL) {
		need_reset(vm, why);
		return -1;
	}
	if (size == 0) {
		free(buf);
		log_info("%s: the VM was reset and nothing changed since", VM_RUNTIME_FILE);
		return 0;
	}
	rc = vv_snapshot_load(&svc, &vm->restart_opts, buf, size, &err);
	free(buf);
	if (rc != 0) {
		snprintf(why, sizeof(why), "%s: cannot restore the VM's service state: %s",
			 VM_RUNTIME_FILE, err.msg);
		need_reset(vm, why);
		return -1;
	}
	vm->recorded_changes = vv_store_state_changes(vm->store);
	log_info("%s: restored the running VM's service state (phase: %s)", VM_RUNTIME_FILE,
		 vv_store_at_runtime(vm->store) ? "runtime" :
		 vv_store_end_of_dxe(vm->store) ? "after EndOfDxe" : "boot");
	return 0;
}


/*
 * Writes the current state as the record, in place at offset 0 of the
 * record file this daemon created and keeps open: one pwrite, a couple of
 * microseconds, where a temporary file renamed over the old one cost
 * ~200 us on ext4 (its replace-by-rename heuristic writes the data out),
 * which the volatile writes of a firmware boot would pay a hundred times.
 * A shorter record leaves the old tail behind: the reader takes the
 * snapshot's own total size.  A daemon killed in the middle of the write
 * leaves a record whose CRC fails, so the restarted daemon refuses
 * (NEEDS_RESET) rather than restoring a mix.  Not fsynced: the record
 * only has to outlive the daemon process, not the host -- when the host
 * goes down the VM goes with it, and its next start is a power-on that
 * the VMM announces with VM_RESET.
 */
static int
write_record(struct vm *vm, char *why, size_t why_size)
{
	struct vv_service svc = service_of(vm);
	struct vv_error err = { { 0 } };
	uint8_t *buf = NULL;
	size_t size = 0, done = 0;
	int rc = -1;

	if (vv_snapshot_save(&svc, &vm->restart_opts, &buf, &size, &err) != 0) {
		snprintf(why, why_size, "cannot record the service state: %s", err.msg);
		return -1;
	}
	if (!vm->runtime_open &&
	    create_record(vm, "cannot record the service state", why, why_size) != 0)
		goto out;
	while (done < size) {
		ssize_t w = pwrite(vm->runtime_fd, buf + done, size - done, (off_t)done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(why, why_size, "cannot record the service state: %s: %s",
				 VM_RUNTIME_FILE, w < 0 ? strerror(errno) : "short write");
			goto out;
		}
		done += (size_t)w;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

int
vm_record(struct vm *vm)
{
	uint64_t changes = vv_store_state_changes(vm->store);
	char why[640];

	/* Nothing is recorded while the VM needs a reset: the state in
	 * memory is not the guest's (it is the power-on state, or one whose
	 * record failed), and the record was made unusable on purpose. */
	if (vm->needs_reset)
		return -1;
	if (changes == vm->recorded_changes)
		return 0;
	if (write_record(vm, why, sizeof(why)) != 0) {
		need_reset(vm, why);
		return -1;
	}
	vm->recorded_changes = changes;
	return 0;
}

/*
 * A VM reset as vv_uefi_vars_device_reset() does it on the store side,
 * and the way out of needs_reset.  The power-on state is recorded (an
 * empty record), so that a daemon restarted before the next change still
 * knows the VM was reset.
 */
int
vm_reset(struct vm *vm)
{
	bool was = vm->needs_reset;
	char why[640];

	vv_store_signal(vm->store, VV_EVENT_RESET);
	vm->vm_resets++;
	vm->mm_served_since_reset = 0;
	if (record_power_on(vm, why, sizeof(why)) != 0) {
		need_reset(vm, why);
		return -1;
	}
	vm->recorded_changes = vv_store_state_changes(vm->store);
	vm->needs_reset = false;
	if (was)
		log_info("VM reset: serving again from the power-on state");
	return 0;
}

/*
 * A snapshot record costs at most its variable's quota charge plus 58
 * bytes (record header 8 + fixed 48 + a 64-byte digest, against a charge
 * of overhead + the name's NUL), and no variable is charged less than
 * 65 bytes; so twice the storage sizes bound the records, and 64 KiB more
 * covers the header, the fixed records and the policy table's slack.
 */
size_t
vm_state_max(const struct vm *vm)
{
	const struct vv_limits *l = vv_store_limits(vm->store);
	uint64_t max = (64u << 10) + 2 * (l->nv_storage + l->volatile_storage);

	return max > (256u << 20) ? (256u << 20) : (size_t)max;
}

int
vm_save_state(struct vm *vm, unsigned flags, uint8_t **out, size_t *size, struct vv_error *err)
{
	struct vv_service svc = service_of(vm);
	struct vv_snapshot_options opts = vm->restart_opts;

	opts.flags = flags;
	if (vv_snapshot_save(&svc, &opts, out, size, err) != 0)
		return -1;
	if (*size > vm_state_max(vm)) {
		free(*out);
		*out = NULL;
		return vv_error_set(err, "snapshot of %zu bytes exceeds this daemon's limit %zu",
				    *size, vm_state_max(vm));
	}
	return 0;
}

int
vm_load_state(struct vm *vm, unsigned flags, const uint8_t *buf, size_t size,
	      struct vv_error *err)
{
	struct vv_service svc = service_of(vm);
	struct vv_snapshot_options opts = vm->restart_opts;

	/* Only into a service that has served this VM nothing since its
	 * start or last reset: then a refused load (which resets the
	 * service) takes nothing from a running guest. */
	if (vm->mm_served_since_reset != 0)
		return vv_error_set(err, "snapshot: the service is not at its power-on state: it "
				    "has served the VM since its start or last reset");
	opts.flags = flags & VV_SNAPSHOT_FULL;
	/* The fleet store's hand-over: the NV content as the source left it
	 * in the database (fleet.c). */
	if (fleet_before_load_state(vm, err) != 0)
		return -1;
	if (vv_snapshot_load(&svc, &opts, buf, size, err) != 0) {
		/* Unchanged, or reset to power-on by the loader: either way
		 * the power-on state, which the record on disk already says
		 * (empty after a VM_RESET) or leaves unknown (absent: still
		 * NEEDS_RESET, as a destination that never ran the VM is). */
		vm->recorded_changes = vv_store_state_changes(vm->store);
		return -1;
	}
	/* A loaded state is the running VM's: recorded now, so that a
	 * daemon restart after the migration keeps it.  A load is also what
	 * ends a NEEDS_RESET that came from an unrestorable record (the
	 * loader required the power-on state). */
	vm->needs_reset = false;
	/* ... and ownership, which fences the source (docs/fleet.md
	 * "Hand-over"); without it this daemon must not serve the VM. */
	if (fleet_after_load_state(vm, err) != 0) {
		char why[640];

		snprintf(why, sizeof(why), "fleet store: %s", err->msg);
		need_reset(vm, why);
		return -2;
	}
	if (vm_record(vm) != 0)
		return -2;
	log_info("loaded a migrated service state (%zu bytes, %s)", size,
		 (buf[10] & 1) ? "full" : "volatile-only");
	return 0;
}
