/*
 * src/core/spin_window.h -- the adaptive busy-poll window of the two ends
 * of vmvarsd's VMM socket: the daemon's loop after a reply (server.c
 * vmm_busy_poll) and vv_client waiting for a reply (client.c recv_frame).
 *
 * The rule is KVM's halt polling: a window that catches a message restores
 * the full `max`; one that expires halves the next, so isolated messages
 * soon cost no spinning; once it has shrunk to nothing, a blocking wait
 * that a window twice as long would have covered reopens it at that size.
 * It matters when both ends share one CPU: there a spin holds the CPU the
 * other end needs, and a fixed window would add itself to every round
 * trip (docs/performance.md, "The socket round trip").
 *
 * Invariant: cur <= max; max 0 means never spin.
 */
#ifndef VMVARS_CORE_SPIN_WINDOW_H
#define VMVARS_CORE_SPIN_WINDOW_H

#include <stdint.h>

struct vv_spin_window {
	unsigned max;           /* the longest window, us */
	unsigned cur;           /* the next window, us; 0: block */
};

static inline void
vv_spin_window_init(struct vv_spin_window *w, unsigned max)
{
	w->max = w->cur = max;
}

/* A message arrived while spinning. */
static inline void
vv_spin_window_caught(struct vv_spin_window *w)
{
	w->cur = w->max;
}

/* The window expired with nothing. */
static inline void
vv_spin_window_missed(struct vv_spin_window *w)
{
	w->cur /= 2;
}

/* With the window closed, a message came after blocking for waited_us. */
static inline void
vv_spin_window_waited(struct vv_spin_window *w, int64_t waited_us)
{
	if (w->cur != 0 || waited_us >= (int64_t)w->max)
		return;
	w->cur = waited_us * 2 >= (int64_t)w->max ? w->max : waited_us > 0 ? (unsigned)waited_us * 2 : 1;
}

#endif
