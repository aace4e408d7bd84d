/*
 * src/auth/mor.c -- MOR and MORLock (include/vmvars/mor.h has the state
 * machine).  A SPECIAL-stage hook (varstore-formats §8.2 row 12): it runs
 * before VarCheck, in every phase, for guest requests only; the host owner
 * edits both variables as plain variables.
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/mor.h>
#include <vmvars/ucs2.h>

#include "auth/mor_state.h"
#include "core/store_state.h"

#define ATTR_NV_BS_RT (VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT)
#define MOR_VALID_BITS 0x11u        /* ClearMemory | DisableAutoDetect */
#define KEY_SIZE VV_MOR_KEY_SIZE

static const uint16_t MOR_NAME[] = u"MemoryOverwriteRequestControl";
static const uint16_t LOCK_NAME[] = u"MemoryOverwriteRequestControlLock";
#define MOR_LEN  (sizeof(MOR_NAME) / 2 - 1)
#define LOCK_LEN (sizeof(LOCK_NAME) / 2 - 1)

struct vv_mor {
	struct vv_store *store;
	bool tpm_present;
	enum vv_mor_lock_state state;
	uint8_t key[KEY_SIZE];
};

static bool
is_var(const struct vv_set_request *r, const uint16_t *name, size_t len, const vv_guid *g)
{
	return vv_guid_equal(&r->guid, g) && vv_ucs2_equal(r->name, r->name_len, name, len);
}

/* Stores the MORLock value that reflects the state; the write is the
 * service's own, so the request is fully handled here. */
static vv_status
store_lock_value(struct vv_mor *m)
{
	uint8_t v = (uint8_t)m->state;

	return vv_store_put(m->store, LOCK_NAME, LOCK_LEN, &VV_GUID_MOR_LOCK, ATTR_NV_BS_RT, &v, 1,
			    NULL);
}

/* Constant time: the key is a secret the OS provisioned. */
static bool
key_equal(const uint8_t *a, const uint8_t *b)
{
	uint8_t diff = 0;

	for (size_t i = 0; i < KEY_SIZE; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

static vv_status
lock_write(struct vv_mor *m, struct vv_write *w)
{
	const struct vv_set_request *r = w->req;
	vv_status st;

	w->handled = true;
	if (r->attributes == 0 || r->data_size == 0)
		return VV_EFI_WRITE_PROTECTED;
	if (r->attributes != ATTR_NV_BS_RT || (r->data_size != 1 && r->data_size != KEY_SIZE))
		return VV_EFI_INVALID_PARAMETER;
	if (m->state == VV_MOR_UNLOCKED) {
		if (r->data_size == KEY_SIZE) {
			memcpy(m->key, r->data, KEY_SIZE);
			m->state = VV_MOR_LOCKED_WITH_KEY;
		} else if (r->data[0] == 1) {
			m->state = VV_MOR_LOCKED_NO_KEY;
		} else if (r->data[0] != 0) {
			return VV_EFI_INVALID_PARAMETER;
		}
		return store_lock_value(m);
	}
	if (m->state != VV_MOR_LOCKED_WITH_KEY || r->data_size != KEY_SIZE)
		return VV_EFI_ACCESS_DENIED;
	if (key_equal(m->key, r->data)) {
		m->state = VV_MOR_UNLOCKED;
		st = store_lock_value(m);
	} else {
		/* A wrong key ends the keyed lock: locked until reset. */
		m->state = VV_MOR_LOCKED_NO_KEY;
		store_lock_value(m);
		st = VV_EFI_ACCESS_DENIED;
	}
	memset(m->key, 0, KEY_SIZE);
	return st;
}

static vv_status
mor_write(struct vv_mor *m, struct vv_write *w)
{
	const struct vv_set_request *r = w->req;

	if (m->state != VV_MOR_UNLOCKED)
		return VV_EFI_ACCESS_DENIED;
	if (r->attributes != ATTR_NV_BS_RT || r->data_size != 1)
		return VV_EFI_INVALID_PARAMETER;        /* deletes included */
	if (r->data[0] & ~MOR_VALID_BITS)
		return VV_EFI_INVALID_PARAMETER;        /* reserved bits */
	return VV_EFI_SUCCESS;                          /* an ordinary write */
}

static vv_status
mor_hook(void *ctx, struct vv_store *s, struct vv_write *w)
{
	struct vv_mor *m = ctx;
	bool is_mor, is_lock;

	(void)s;
	if (w->req->caller != VV_CALLER_GUEST)
		return VV_EFI_SUCCESS;
	is_mor = is_var(w->req, MOR_NAME, MOR_LEN, &VV_GUID_MOR);
	is_lock = is_var(w->req, LOCK_NAME, LOCK_LEN, &VV_GUID_MOR_LOCK);
	if (!is_mor && !is_lock)
		return VV_EFI_SUCCESS;
	if (!m->tpm_present && vv_store_end_of_dxe(m->store)) {
		w->handled = true;
		return VV_EFI_WRITE_PROTECTED;
	}
	if (!is_lock)
		return mor_write(m, w);
	vv_store_note_state_change(m->store);   /* the lock state and key */
	return lock_write(m, w);
}

static void
mor_on_event(void *ctx, struct vv_store *s, enum vv_event ev)
{
	struct vv_mor *m = ctx;

	if (ev == VV_EVENT_RESET) {
		m->state = VV_MOR_UNLOCKED;
		memset(m->key, 0, KEY_SIZE);
	} else if (ev == VV_EVENT_END_OF_DXE || ev == VV_EVENT_READY_TO_BOOT) {
		if (m->tpm_present) {
			if (m->state == VV_MOR_UNLOCKED)
				store_lock_value(m);
		} else {
			vv_store_put(s, MOR_NAME, MOR_LEN, &VV_GUID_MOR, 0, NULL, 0, NULL);
			vv_store_put(s, LOCK_NAME, LOCK_LEN, &VV_GUID_MOR_LOCK, 0, NULL, 0, NULL);
		}
	}
}

struct vv_mor *
vv_mor_new(struct vv_store *s, bool tpm_present)
{
	struct vv_mor *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->store = s;
	m->tpm_present = tpm_present;
	if (vv_store_add_hook(s, VV_HOOK_SPECIAL, mor_hook, m) != 0) {
		free(m);
		return NULL;
	}
	if (vv_store_add_listener(s, mor_on_event, m) != 0) {
		vv_store_remove_hook(s, VV_HOOK_SPECIAL, mor_hook, m);
		free(m);
		return NULL;
	}
	return m;
}

void
vv_mor_free(struct vv_mor *m)
{
	if (m == NULL)
		return;
	vv_store_remove_hook(m->store, VV_HOOK_SPECIAL, mor_hook, m);
	vv_store_remove_listener(m->store, mor_on_event, m);
	free(m);
}

enum vv_mor_lock_state
vv_mor_lock_state(const struct vv_mor *m)
{
	return m->state;
}

void
vv_mor_state_get(const struct vv_mor *m, enum vv_mor_lock_state *state,
		 uint8_t key[VV_MOR_KEY_SIZE])
{
	*state = m->state;
	memcpy(key, m->key, KEY_SIZE);
}

int
vv_mor_state_set(struct vv_mor *m, enum vv_mor_lock_state state,
		 const uint8_t key[VV_MOR_KEY_SIZE])
{
	static const uint8_t zero[KEY_SIZE];

	/* Only a keyed lock has a key: any other combination did not come
	 * from this state machine. */
	if (state != VV_MOR_UNLOCKED && state != VV_MOR_LOCKED_NO_KEY &&
	    state != VV_MOR_LOCKED_WITH_KEY)
		return -1;
	if (state != VV_MOR_LOCKED_WITH_KEY && memcmp(key, zero, KEY_SIZE) != 0)
		return -1;
	m->state = state;
	memcpy(m->key, key, KEY_SIZE);
	vv_store_note_state_change(m->store);
	return 0;
}

bool
vv_mor_tpm_present(const struct vv_mor *m)
{
	return m->tpm_present;
}
