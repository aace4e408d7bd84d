/*
 * src/daemon/vm.c -- the one VM vmvarsd serves: its store on the state
 * directory's vars.json, with variable policy, Secure Boot and MOR
 * attached exactly as an embedding VMM attaches them
 * (docs/architecture.md "Embedding"), and the private 64 KiB buffer every
 * MM request is copied into before it is parsed (device-abi §4; the same
 * copy-once rule as src/device/uefi_vars_device.c).
 */
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

/* The file the store lives in, relative to the state directory (the
 * current directory from main.c on; "/" after a chroot). */
#define VM_STORE_FILE "vars.json"

/* The backend: nothing else in the daemon depends on which one it is. */
static struct vv_backend *
open_backend(struct vv_error *err)
{
	/* The journaled backend: one append + fdatasync per durable write,
	 * compacted into the JSON v2 file (docs/architecture.md). */
	return vv_json_journal_backend_new(VM_STORE_FILE, err);
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
	vm->store = vv_store_new(&cfg->limits);
	if (vm->store == NULL)
		return vv_error_set(err, "limits make no sense (hwerr storage > NV storage?)");
	backend = open_backend(err);
	if (backend == NULL)
		goto fail;
	vv_store_set_backend(vm->store, backend);
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
	if (vm->policy == NULL || vm->sb == NULL || vm->mor == NULL || vm->mm == NULL ||
	    vm->mm_buf == NULL) {
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
	memset(vm->mm_buf, 0, VV_MM_MAX_BUFFER);
	memcpy(vm->mm_buf, req, len);
	return vv_mm_handle(vm->mm, vm->mm_buf, buffer_size);
}

/* A VM reset as vv_uefi_vars_device_reset() does it on the store side. */
void
vm_reset(struct vm *vm)
{
	vv_store_signal(vm->store, VV_EVENT_RESET);
	vm->vm_resets++;
}
