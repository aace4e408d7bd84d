/*
 * src/core/spin_gate.h -- whether an end of vmvarsd's VMM connection may
 * spin at all: the contention check above the spin window
 * (core/spin_window.h) of the daemon's loop (server.c vmm_busy_poll) and
 * of vv_client's wait for a reply (client.c).
 *
 * Why a second rule: the window's own rule ("did the spin catch the
 * message?") cannot see CPU contention.  When both ends share a busy CPU,
 * a spinning end holds the CPU its peer needs until the scheduler preempts
 * it; the peer then runs, answers, and the spin -- resumed later -- counts
 * a catch and reopens the full window.  Measured on the recorded OVMF boot
 * with the CPUs busy, every spinning way lost to blocking that way
 * (docs/performance.md "The real boot through vmvarsd").  What does reveal
 * it is the spinning thread's involuntary context switches
 * (getrusage(RUSAGE_THREAD) ru_nivcsw): a thread that spins on a CPU
 * nobody else wants is never preempted; one that holds a CPU another
 * runnable thread wants is, at the latest at the next scheduler tick.
 *
 * The rule: every VV_SPIN_GATE_PERIOD waits the caller reads its thread's
 * ru_nivcsw and how crowded the machine's CPUs are (vv_spin_gate_next
 * says when; vv_spin_gate_crowded: CPU pressure since the last look, or
 * the run queue); if they are crowded at two looks in a row (a spin would
 * hold a CPU another thread is waiting for), or if the waits of that
 * period that spun met at least VV_SPIN_GATE_EVIDENCE involuntary
 * switches and more than one per VV_SPIN_GATE_SWITCHES_PER of them, or at
 * least VV_SPIN_GATE_EVIDENCE and more than one in VV_SPIN_GATE_MISSES_PER
 * spun for nothing (the peer did not answer within the window: it was not
 * running, or it is not in a burst), spinning is off for the next
 * 2^(strikes - 1) periods (strikes: consecutive such looks, at most
 * VV_SPIN_GATE_MAX_STRIKES), then tried again with a short probe of
 * VV_SPIN_GATE_PROBE waits.
 * Why two of everything, and pressure rather than the run queue: on an
 * idle host every wait with spinning off costs a wake-up of a halted CPU,
 * 30-40 us against a request's 1.5 us, so a pause on one event -- a kernel
 * worker runnable at one look, one preemption or one late answer in a
 * probe of 8 -- cost a 1 ms boot 1.5-2.5 ms, in most runs on a quiet
 * machine (docs/performance.md "Where the round trip went"); real
 * contention repeats itself and is still caught within a period or two.
 * The switch count catches the contention the run queue misses; the
 * unanswered spins catch what the switch count cannot see: a spin
 * shorter than the scheduler's wake-up granularity is never preempted,
 * it only delays, by its whole window, a peer waiting for its CPU.  One
 * usable CPU, or a thread that cannot read its counter, never spins.  The
 * caller counts waits, so a gate costs two system calls (getrusage and one
 * pread) per VV_SPIN_GATE_PERIOD requests.
 *
 * Everything here is arithmetic on the caller's own counters and the
 * kernel's; nothing in it comes from the peer.
 */
#ifndef VMVARS_CORE_SPIN_GATE_H
#define VMVARS_CORE_SPIN_GATE_H

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VV_SPIN_GATE_PERIOD        32u   /* waits per look at ru_nivcsw */
#define VV_SPIN_GATE_PROBE         8u    /* ... the first look after a pause */
#define VV_SPIN_GATE_SWITCHES_PER  16u   /* contended: > 1 switch per 16 spins */
#define VV_SPIN_GATE_MISSES_PER    4u    /* not paying: > 1 miss per 4 spins */
#define VV_SPIN_GATE_EVIDENCE      2u    /* ... and at least 2 of either */
#define VV_SPIN_GATE_MAX_STRIKES   8u    /* off for at most 128 periods */

struct vv_spin_gate {
	bool never;             /* one usable CPU, or no counter: never spin */
	bool based;             /* base holds the count at this period's start */
	long base;              /* ru_nivcsw when the period began */
	uint32_t period;        /* this period's length in waits */
	uint32_t waits;         /* waits in this period */
	uint32_t spun;          /* of them, those that spun */
	uint32_t missed;        /* ... and spun for nothing (then blocked) */
	uint32_t off;           /* waits left with spinning off */
	uint32_t strikes;       /* consecutive contended periods */
	bool crowded_seen;      /* the last look found the CPUs crowded */
	int64_t psi_total;      /* CPU pressure at the last look (us), or -1 */
	int64_t psi_at;         /* when (CLOCK_MONOTONIC, us) */
	uint64_t contended;     /* periods found contended, ever (figures) */
};

/* The CPUs the calling thread may run on: its affinity mask (taskset, a
 * cpuset), else the online count.  vmvarsd asks before its sandbox:
 * sched_getaffinity is not in its allowlist. */
static inline long
vv_usable_cpus(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	return sysconf(_SC_NPROCESSORS_ONLN);
}

/* usable_cpus: the CPUs the thread may run on (vv_usable_cpus). */
static inline void
vv_spin_gate_init(struct vv_spin_gate *g, long usable_cpus)
{
	*g = (struct vv_spin_gate){ .never = usable_cpus < 2, .psi_total = -1 };
}

/* May this wait spin?  Not before the first count was read. */
static inline bool
vv_spin_gate_open(const struct vv_spin_gate *g)
{
	return !g->never && g->based && g->off == 0;
}

/* How a wait went. */
enum vv_spin_outcome {
	VV_SPIN_NONE,           /* it did not spin */
	VV_SPIN_CAUGHT,         /* the spin saw the message */
	VV_SPIN_MISSED,         /* it spun, then blocked all the same */
};

/* After a wait.  true: read ru_nivcsw now and pass it to
 * vv_spin_gate_sample. */
static inline bool
vv_spin_gate_next(struct vv_spin_gate *g, enum vv_spin_outcome how)
{
	if (g->never)
		return false;
	if (g->off > 0)
		return --g->off == 0;   /* the count to start the next period */
	if (!g->based)
		return true;
	g->waits++;
	if (how != VV_SPIN_NONE)
		g->spun++;
	if (how == VV_SPIN_MISSED)
		g->missed++;
	return g->waits >= g->period;
}

/* nivcsw: the thread's involuntary context switches now, or < 0 when they
 * cannot be read (then the gate stays shut).  crowded: the machine's CPUs
 * are wanted by more threads than they can run (vv_spin_gate_crowded) --
 * a spin would take a CPU from one of them. */
static inline void
vv_spin_gate_sample(struct vv_spin_gate *g, long nivcsw, bool crowded)
{
	bool strike = crowded && g->crowded_seen;

	if (nivcsw < 0) {
		g->never = true;
		return;
	}
	/* A look after a period without spins (a pause, the start) cannot
	 * see the contention a spin would add -- waiting in turn, the two
	 * ends leave a CPU to whoever else wants it -- so it does not clear
	 * what an earlier look saw: next to a busy job the gate would
	 * otherwise reopen after every pause. */
	g->crowded_seen = crowded || (g->spun == 0 && g->crowded_seen);
	if (!strike && g->based && g->off == 0 && g->spun > 0) {
		/* long: the counter only grows; a smaller one (another thread
		 * of the caller's took over) counts as no switch. */
		uint64_t d = nivcsw > g->base ? (uint64_t)(nivcsw - g->base) : 0;

		strike = (d >= VV_SPIN_GATE_EVIDENCE &&
			  d * VV_SPIN_GATE_SWITCHES_PER > g->spun) ||
			 (g->missed >= VV_SPIN_GATE_EVIDENCE &&
			  (uint64_t)g->missed * VV_SPIN_GATE_MISSES_PER > g->spun);
		if (!strike)
			g->strikes = 0;
	}
	if (strike) {
		if (g->strikes < VV_SPIN_GATE_MAX_STRIKES)
			g->strikes++;
		g->off = VV_SPIN_GATE_PERIOD << (g->strikes - 1);
		g->contended++;
	}
	/* A period that follows a pause is a short probe: under contention
	 * it costs a few windows, not a whole period's.  So is the first when
	 * its look found the CPUs crowded; otherwise the first is a whole
	 * one: a peer that has just started (a daemon waking, creating its
	 * restart record) answers late a time or two, which in a probe of 8
	 * made two misses and a pause of 32 wake-ups in a third of the
	 * quiet machine's boots. */
	g->period = g->off == 0 && (g->based || (g->strikes == 0 && !crowded))
			    ? VV_SPIN_GATE_PERIOD : VV_SPIN_GATE_PROBE;
	g->based = g->off == 0;
	g->base = nivcsw;
	g->waits = g->spun = g->missed = 0;
}

/*
 * Whether more threads are runnable now than usable_cpus: the fourth field
 * of /proc/loadavg ("1.19 1.86 2.37 3/150 1234": 3 runnable of 150), read
 * through fd (open, read with pread: the daemon opens it before its
 * sandbox).  Kernel text, parsed with a bound all the same; false when it
 * cannot be read (the switch count still stands guard).  A spinning pair
 * counts itself: two runnable on two CPUs is not crowded.
 */
static inline bool
vv_spin_gate_runqueue_crowded(int fd, long usable_cpus)
{
	char buf[128];
	ssize_t n = fd >= 0 ? pread(fd, buf, sizeof(buf) - 1, 0) : -1;
	int fields = 0;
	long running = 0;

	if (n <= 0)
		return false;
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == ' ') {
			if (++fields > 3)
				return false;
			continue;
		}
		if (fields != 3)
			continue;
		if (buf[i] == '/')
			return running > usable_cpus;
		if (buf[i] < '0' || buf[i] > '9' || running > 1000000)
			return false;
		running = running * 10 + (buf[i] - '0');
	}
	return false;
}

/*
 * The CPU pressure so far: the total= of the first line of
 * /proc/pressure/cpu ("some avg10=0.85 avg60=6.00 avg300=4.43
 * total=4897912970"), the microseconds in which some runnable task waited
 * for a CPU (PSI, Documentation/accounting/psi.rst; on a machine of
 * several CPUs the kernel weighs each CPU's by how busy it was).  -1 when
 * it cannot be read (no PSI: CONFIG_PSI off or psi=0).  Kernel text,
 * parsed with a bound.
 */
static inline int64_t
vv_spin_gate_psi_total(int fd)
{
	char buf[256], *at, *end;
	ssize_t n = fd >= 0 ? pread(fd, buf, sizeof(buf) - 1, 0) : -1;
	long long total;

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';             /* the "some" line only */
	if (strncmp(buf, "some ", 5) != 0 || (at = strstr(buf, " total=")) == NULL)
		return -1;
	at += strlen(" total=");
	if (*at < '0' || *at > '9')
		return -1;
	errno = 0;
	total = strtoll(at, &end, 10);
	return errno == 0 && (*end == '\0' || *end == ' ') ? (int64_t)total : -1;
}

/*
 * Whether the CPUs are crowded at this look (now_us: CLOCK_MONOTONIC).
 * With CPU pressure (psi_fd: /proc/pressure/cpu) it is whether runnable
 * tasks waited for a CPU more than VV_SPIN_GATE_PRESSURE_PCT % of the time
 * since the last look: what a spin costs others, measured, where the run
 * queue's length is one instant's -- on a quiet machine that instant
 * often holds a kernel worker about to run for a few microseconds.  The
 * first look, or one without PSI, asks the run queue (loadavg_fd,
 * vv_spin_gate_runqueue_crowded).
 */
#define VV_SPIN_GATE_PRESSURE_PCT 20

static inline bool
vv_spin_gate_crowded(struct vv_spin_gate *g, int loadavg_fd, int psi_fd, long usable_cpus,
		     int64_t now_us)
{
	int64_t total = vv_spin_gate_psi_total(psi_fd);
	bool crowded;

	if (total >= 0 && g->psi_total >= 0 && total >= g->psi_total && now_us > g->psi_at)
		crowded = (total - g->psi_total) * 100 > (now_us - g->psi_at) * VV_SPIN_GATE_PRESSURE_PCT;
	else
		crowded = vv_spin_gate_runqueue_crowded(loadavg_fd, usable_cpus);
	g->psi_total = total;
	g->psi_at = now_us;
	return crowded;
}

/* The CPU's hint inside a spin loop: lets a sibling hyperthread run and
 * saves power; no system call. */
static inline void
vv_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

#endif
