/*
 * src/core/store_phase.c -- the store's boot phases (EndOfDxe,
 * ReadyToBoot, ExitBootServices, reset), the listeners told of them, and
 * the hooks later layers plug into SetVariable (vmvars/store.h
 * vv_store_add_hook), run in registration order.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/backend.h>
#include <vmvars/store.h>
#include <vmvars/ucs2.h>

#include "core/store_impl.h"

static void
drop_volatile(struct vv_store *s)
{
	struct vv_variable *v, *next;

	for (v = s->tab.head; v != NULL; v = next) {
		next = v->next;
		if (!(v->attributes & VV_ATTR_NV)) {
			vv_store_table_unlink(s, v);
			vv_store_var_free(v);
		}
	}
}

void
vv_store_signal(struct vv_store *s, enum vv_event ev)
{
	s->state_changes++;
	switch (ev) {
	case VV_EVENT_END_OF_DXE:
		s->end_of_dxe = true;
		break;
	case VV_EVENT_READY_TO_BOOT:
		/* edk2 VariableSmm.c: ReadyToBoot performs the EndOfDxe work
		 * if EndOfDxe was never signalled. */
		s->end_of_dxe = true;
		s->ready_to_boot = true;
		break;
	case VV_EVENT_EXIT_BOOT_SERVICES:
		s->at_runtime = true;
		break;
	case VV_EVENT_RESET:
		drop_volatile(s);
		vv_property_table_clear(s->properties);
		vv_store_release(s, s->property_reserved);
		s->property_reserved = 0;
		s->end_of_dxe = s->ready_to_boot = s->at_runtime = false;
		break;
	}
	for (size_t i = 0; i < s->nlisteners; i++)
		s->listeners[i].fn(s->listeners[i].ctx, s, ev);
}

bool vv_store_end_of_dxe(const struct vv_store *s) { return s->end_of_dxe; }
bool vv_store_ready_to_boot(const struct vv_store *s) { return s->ready_to_boot; }
bool vv_store_at_runtime(const struct vv_store *s) { return s->at_runtime; }

void
vv_store_restore_phase(struct vv_store *s, bool end_of_dxe, bool ready_to_boot, bool at_runtime)
{
	s->end_of_dxe = end_of_dxe || ready_to_boot;
	s->ready_to_boot = ready_to_boot;
	s->at_runtime = at_runtime;
	s->state_changes++;
}

int
vv_store_add_listener(struct vv_store *s, vv_event_fn fn, void *ctx)
{
	if (s->nlisteners == MAX_LISTENERS)
		return -1;
	s->listeners[s->nlisteners++] = (struct listener){ fn, ctx };
	return 0;
}

void
vv_store_remove_listener(struct vv_store *s, vv_event_fn fn, void *ctx)
{
	for (size_t i = 0; i < s->nlisteners; i++) {
		if (s->listeners[i].fn == fn && s->listeners[i].ctx == ctx) {
			memmove(&s->listeners[i], &s->listeners[i + 1],
				(s->nlisteners - i - 1) * sizeof(s->listeners[0]));
			s->nlisteners--;
			return;
		}
	}
}

void
vv_store_remove_hook(struct vv_store *s, enum vv_hook_stage stage, vv_hook_fn fn, void *ctx)
{
	struct hook *h;

	if ((unsigned)stage >= VV_HOOK_STAGES)
		return;
	h = s->hooks[stage];
	for (size_t i = 0; i < s->nhooks[stage]; i++) {
		if (h[i].fn == fn && h[i].ctx == ctx) {
			memmove(&h[i], &h[i + 1], (s->nhooks[stage] - i - 1) * sizeof(h[0]));
			s->nhooks[stage]--;
			return;
		}
	}
}

int
vv_store_add_hook(struct vv_store *s, enum vv_hook_stage stage, vv_hook_fn fn, void *ctx)
{
	if ((unsigned)stage >= VV_HOOK_STAGES || s->nhooks[stage] == MAX_HOOKS_PER_STAGE)
		return -1;
	s->hooks[stage][s->nhooks[stage]++] = (struct hook){ fn, ctx };
	return 0;
}

vv_status
vv_store_run_hooks(struct vv_store *s, enum vv_hook_stage stage, struct vv_write *w)
{
	for (size_t i = 0; i < s->nhooks[stage]; i++) {
		vv_status st = s->hooks[stage][i].fn(s->hooks[stage][i].ctx, s, w);

		/* edk2: VarCheck handlers' WRITE_PROTECTED is ignored for
		 * trusted callers. */
		if (st == VV_EFI_WRITE_PROTECTED && stage == VV_HOOK_VARCHECK &&
		    w->req->caller == VV_CALLER_HOST) {
			s->refusal[0] = '\0';  /* not a refusal after all */
			continue;
		}
		if (st != VV_EFI_SUCCESS || w->handled)
			return st;
	}
	return VV_EFI_SUCCESS;
}
