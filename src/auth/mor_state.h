/*
 * src/auth/mor_state.h -- the MORLock state machine's memory (the lock
 * state and a keyed lock's key, which edk2 keeps in SMRAM), for the
 * service-state snapshot (src/state/snapshot.c).  Internal.
 */
#ifndef VMVARS_MOR_STATE_H
#define VMVARS_MOR_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include <vmvars/mor.h>

#define VV_MOR_KEY_SIZE 8

void vv_mor_state_get(const struct vv_mor *m, enum vv_mor_lock_state *state,
		      uint8_t key[VV_MOR_KEY_SIZE]);
/* 0, or -1 for a state the machine cannot be in (unknown value, or a key
 * without a keyed lock); nothing changes then. */
int vv_mor_state_set(struct vv_mor *m, enum vv_mor_lock_state state,
		     const uint8_t key[VV_MOR_KEY_SIZE]);
bool vv_mor_tpm_present(const struct vv_mor *m);

#endif
