/*
 * fuzz/fuzz_vm.h -- the edk2 MM VM that the targets built from vmvarsd's
 * sources (fuzz_frames, fuzz_shm) put behind the VMM connection: a store
 * on the null backend with variable policy, Secure Boot and MOR attached,
 * as the daemon runs it.  vm.c keeps the VM's service state in
 * runtime.state in the current directory (vmvarsd's state directory), so
 * the target moves to a private one (dir: a mkdtemp template) and writes
 * nothing where it was started.
 */
#ifndef VMVARS_FUZZ_VM_H
#define VMVARS_FUZZ_VM_H

#include <stdlib.h>
#include <unistd.h>

#include "../src/daemon/daemon.h"

static inline void
fuzz_mm_vm_setup(struct vm *vm, char *dir)
{
	struct vv_secureboot_config sbc = { false, false };

	if (mkdtemp(dir) == NULL || chdir(dir) != 0)
		abort();
	vm->store = vv_store_new(NULL);
	vv_store_set_backend(vm->store, vv_null_backend_new());
	vm->policy = vv_policy_new(vm->store, NULL);
	vm->sb = vv_secureboot_new(vm->store, &sbc);
	vm->mor = vv_mor_new(vm->store, true);
	vm->mm = vv_mm_new(vm->store, vm->policy);
	vm->mm_buf = calloc(1, VV_MM_MAX_BUFFER);
	if (vm->mm == NULL || vm->mm_buf == NULL)
		abort();
	log_init(LOG_LVL_ERROR);
}

#endif
