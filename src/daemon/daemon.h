/*
 * src/daemon/daemon.h -- what the files of vmvarsd share: the per-VM state,
 * connections and their buffers, and the prototypes of each file, grouped
 * under the name of the file that defines them (as OpenBSD ntpd.h does).
 *
 * vmvarsd is one single-threaded process per VM.  Its life:
 *   SETUP    main.c parses options, log.c starts, vm.c opens the store,
 *            server.c binds or inherits the sockets;
 *   CONFINED sandbox.c drops everything it can (after this nothing new is
 *            opened outside the state directory);
 *   SERVING  server.c polls: one VMM connection (vmm_conn.c, the binary
 *            protocol of docs/protocol.md) and several management
 *            connections (mgmt.c, JSON lines of docs/management.md);
 *   EXITING  SIGTERM / quit: the store is flushed, exit 0.
 */
#ifndef VMVARSD_DAEMON_H
#define VMVARSD_DAEMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmvars/vmvars.h>

/* An AddressSanitizer build (tests only): the sandbox leaves the
 * sanitizers what they need (sandbox.c, landlock.c). */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif

/* ---- log.c ---- */
enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };
void log_init(enum log_level level);
int log_level_parse(const char *text, enum log_level *out);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* ---- vm.c: the one VM's variable service ---- */
/* The file the store lives in, relative to the state directory (the
 * current directory from main.c's chdir on; "/" after a chroot).  Its lock
 * is VM_STORE_FILE ".lock" (backend/store_lock.h). */
#define VM_STORE_FILE "vars.json"
/* The guest protocol the VM's firmware speaks (--protocol, docs/protocol.md
 * "XenVariable and ExtVarStore buffers"): one per VM. */
enum vm_protocol { VM_PROTO_MM = 0, VM_PROTO_XEN, VM_PROTO_AWS };
struct vm_config {
	const char *state_dir;
	struct vv_limits limits;
	bool force_secure_boot;
	bool no_custom_mode;
	bool tpm;
	bool read_only;                 /* --check: load only, write nothing */
	uint8_t vm_id[16];              /* --vm-uuid (EFI GUID layout); zero: none */
	/* Migration is off unless the operator turns it on: a VMM that could
	 * load a full snapshot could replace the NV store (PK included)
	 * without one authenticated write (docs/migration.md "Who may"). */
	bool migration;                 /* --migration: SAVE_STATE (a source) */
	bool incoming;                  /* --incoming: one LOAD_STATE before serving */
	enum vm_protocol protocol;      /* --protocol mm|xen|aws */
	/* --store pg:CONNINFO / postgresql://...: the fleet store (fleet.c,
	 * docs/fleet.md); NULL: the journaled vars.json */
	const char *fleet_conninfo;
	const char *fleet_vm;           /* the VM row: --vm-name, else --vm-uuid's text */
	char fleet_vm_buf[40];
	bool no_shm;                    /* --no-shm: SHM is never granted */
};

struct vm {
	struct vv_store *store;
	struct vv_policy *policy;
	struct vv_secureboot *sb;
	struct vv_mor *mor;
	struct vv_mm *mm;
	/* --protocol xen|aws: the varstored-protocol engine (else NULL) */
	struct vv_xenvar *xv;
	enum vm_protocol protocol;
	uint8_t *mm_buf;                /* VV_MM_MAX_BUFFER private bytes */
	size_t mm_dirty;                /* mm_buf[mm_dirty, MAX) is all zero
					 * (core/zero_tail.h) */
	/* Restart safety (vm.c, docs/protocol.md "Daemon restart"): the
	 * service state is recorded in runtime.state whenever
	 * vv_store_state_changes moves, before the reply that follows.  When
	 * it cannot be recorded, or a recorded one cannot be restored, the
	 * daemon serves no MM request until the VMM resets the VM. */
	uint64_t recorded_changes;
	/* The restart record: the cheapest form (volatile-only, no digest),
	 * under this VM's identity.  Migration (vm_save_state/vm_load_state)
	 * uses the same identity with the VMM's flags. */
	struct vv_snapshot_options restart_opts;
	/* MM requests served since the daemon started / since the last VM
	 * reset: a state is loaded only into a service that has served the
	 * VM nothing (vm_load_state, vmm_conn.c handle_load_state). */
	uint64_t mm_served_since_start, mm_served_since_reset;
	bool state_loaded;              /* a LOAD_STATE was taken (once per start) */
	bool cfg_migration, cfg_incoming; /* vm_config's --migration, --incoming */
	bool cfg_no_shm;                /* vm_config's --no-shm */
	bool runtime_open;              /* runtime_fd: the record file we created */
	int runtime_fd;
	bool needs_reset;
	char needs_reset_why[200];         /* for the ERROR frame (200 bytes at most) */
	/* Daemon counters (the MM endpoint keeps its own, vv_mm_stats). */
	uint64_t vmm_connections;
	uint64_t vmm_refused;
	uint64_t vmm_protocol_errors;
	uint64_t vmm_bytes_in;
	uint64_t vmm_bytes_out;
	uint64_t vm_resets;
	uint64_t mgmt_requests;
	uint64_t mgmt_errors;
	/* The fleet store's backend (owned by the store), or NULL. */
	struct vv_backend *fleet;
	bool fleet_fence_logged;
};

/* Opens DIR/vars.json (relative to the current directory, which main.c has
 * made the state directory) and attaches policy, Secure Boot and MOR.
 * 0, or -1 with err.  The caller holds the store's lock (main.c). */
int vm_open(struct vm *vm, const struct vm_config *cfg, struct vv_error *err);
void vm_close(struct vm *vm);
/* One MM request: req[0, len) is 24 + MessageLength bytes, already
 * validated against buffer_size.  Leaves the reply in vm->mm_buf. */
uint16_t vm_mm_request(struct vm *vm, const uint8_t *req, size_t len, uint32_t buffer_size);
/* One varstored-protocol request (--protocol xen|aws): req[0, len) is the
 * start of the 64 KiB buffer (4 <= len <= 64 KiB checked by the caller),
 * the rest zero.  Leaves the response in vm->mm_buf; returns its length
 * (0: no response). */
size_t vm_varstore_request(struct vm *vm, const uint8_t *req, size_t len);
/* The two halves of vm_mm_request, for a request whose bytes may change
 * under the daemon (the shared area, vmm_shm.c): vm_mm_copy_in zeroes
 * vm->mm_buf and copies len (<= VV_MM_MAX_BUFFER) bytes into it, once;
 * the caller validates the private copy, then vm_mm_handle_copied. */
void vm_mm_copy_in(struct vm *vm, const uint8_t *req, size_t len);
uint16_t vm_mm_handle_copied(struct vm *vm, uint32_t buffer_size);
/* 0, or -1 when the old record could not be removed (logged; the VM then
 * still needs a reset). */
int vm_reset(struct vm *vm);
/* At start, before serving: puts back the state a previous daemon
 * recorded for the running VM, if any.  On failure the VM needs a reset
 * (logged).  Returns 0 restored, 1 nothing to restore, -1 needs reset. */
int vm_restore(struct vm *vm);
/* After a request, before its reply: records the service state if it
 * changed.  0, or -1 (logged; the VM then needs a reset). */
int vm_record(struct vm *vm);
/*
 * Migration (docs/migration.md).  The largest snapshot this daemon writes
 * or takes: bounded by its limits (vm.c VM_STATE_MAX).
 */
size_t vm_state_max(const struct vm *vm);
/* The snapshot of the running VM with flags (VV_SNAPSHOT_*); *out
 * malloc'd.  0, or -1 with err. */
int vm_save_state(struct vm *vm, unsigned flags, uint8_t **out, size_t *size,
		  struct vv_error *err);
/* Loads a snapshot (the VM must be at power-on): 0 loaded and recorded;
 * -1 refused with err, the service unchanged (at power-on); -2 loaded but
 * not recorded (the VM needs a reset, logged). */
int vm_load_state(struct vm *vm, unsigned flags, const uint8_t *buf, size_t size,
		  struct vv_error *err);

/* ---- fleet.c: the fleet store (docs/fleet.md) ---- */
struct json_object;
struct sandbox_config;
/* The PostgreSQL backend for cfg: takes ownership at load, or, with
 * --incoming, at the migrated state's load only (QEMU resets the devices
 * of an incoming machine too, so a VM reset must not fence the source);
 * until then NV writes fail. */
struct vv_backend *fleet_backend_new(const struct vm_config *cfg, struct vv_error *err);
/* After each request: a fence is logged once, with who took the VM. */
void fleet_after_request(struct vm *vm);
/* Around vm_load_state's snapshot load (the hand-over, docs/fleet.md):
 * before, the NV content as the database holds it now; after, ownership,
 * which fences the source.  0 or -1 with err. */
int fleet_before_load_state(struct vm *vm, struct vv_error *err);
int fleet_after_load_state(struct vm *vm, struct vv_error *err);
/* The "store" object of the stats reply. */
void fleet_stats(struct vm *vm, struct json_object *out);
/* What the sandbox must leave open: the database's socket or port. */
void fleet_sandbox(struct vm *vm, struct sandbox_config *sb);
/* Clean exit: the VM row's owner is cleared (the epoch stays). */
void fleet_release(struct vm *vm);

/* ---- conn.c: connection buffers ---- */
#define VMM_MAX_FDS 3           /* VV_VMM_SHM_FDS */
enum conn_kind { CONN_VMM, CONN_MGMT };

struct conn {
	int fd;
	enum conn_kind kind;
	uint8_t *in;                    /* received, not yet consumed: in[0, in_len) */
	size_t in_len, in_cap;          /* in_cap: room from `in` to the end */
	uint8_t *in_base;               /* the allocation, in_size bytes */
	size_t in_size;
	uint8_t *out;                   /* to send: out[out_off, out_len) */
	size_t out_off, out_len, out_cap;
	bool close_after_flush;         /* stop reading; close once out is sent */
	bool handshaken;                /* VMM: HELLO accepted */
	bool migration;                 /* VMM: MIGRATION granted (STATE frames) */
	bool varstore;                  /* VMM: VARSTORE granted (--protocol xen|aws) */
	bool shm_granted;               /* VMM: SHM granted (SHM_SETUP valid) */
	bool eof;                       /* mgmt: peer sent EOF; finish, then close */
	bool backlog;                   /* mgmt: a whole line waits (turn budget);
					 * VMM: a whole frame waits behind a STATE reply */
	/* The frame timer: when the first byte of the message now incomplete
	 * in `in` arrived, restarted each time a message completes; -1. */
	int64_t partial_since_ms;
	/* Output pending and no byte of it taken since (server.c
	 * check_deadlines: management and closing connections); -1. */
	int64_t out_stalled_since_ms;
	unsigned id;
	/* VMM: descriptors that came with the bytes now in `in` (SCM_RIGHTS,
	 * server.c read_conn); only an SHM_SETUP frame may take them. */
	int fds[VMM_MAX_FDS];
	unsigned nfds;
	bool fds_lost;                  /* more came than fit, or were cut off */
	/* VMM: the shared-memory transport (vmm_shm.c), NULL when not set up */
	struct vmm_shm *shm;
	struct conn *next;
};

/* CLOCK_MONOTONIC in milliseconds: the clock of every daemon timer. */
int64_t now_ms(void);
struct conn *conn_new(int fd, enum conn_kind kind, size_t in_cap, unsigned id);
void conn_free(struct conn *c);
/* Appends to the output queue; -1 (and the connection is to be closed)
 * on allocation failure. */
int conn_queue(struct conn *c, const void *data, size_t len);
/* Drops the first n bytes of the input buffer: one whole message (this
 * restarts the frame timer). */
void conn_consume(struct conn *c, size_t n);
/* Moves the unconsumed input to the start of the allocation (before a read). */
void conn_in_compact(struct conn *c);
/* Makes the input allocation size bytes (>= in_len): a VMM connection
 * grows it for one LOAD_STATE frame and shrinks it back after.  0, or -1
 * (out of memory; the buffer is unchanged). */
int conn_in_resize(struct conn *c, size_t size);
/* The whole allocation holds unconsumed input. */
bool conn_in_full(const struct conn *c);
bool conn_out_pending(const struct conn *c);
size_t conn_out_queued(const struct conn *c);

/* ---- vmm_conn.c: the VMM frame protocol (docs/protocol.md) ---- */
/* Handles every complete frame in c->in.  Returns 0 (connection stays) or
 * -1 after having logged why and queued an ERROR frame; the caller then
 * closes once the output is flushed. */
int vmm_conn_process(struct vm *vm, struct conn *c);
/* Queues an ERROR frame with code and text (close follows). */
void vmm_conn_error(struct conn *c, uint32_t code, const char *text);
/* Serves the MM request waiting in c's shared area, if any: copied out
 * once, validated like an MM_REQUEST, handled, recorded, answered in the
 * area.  1 answered, 0 nothing to do, -1 after an ERROR frame was queued
 * (close follows). */
int vmm_conn_serve_shm(struct vm *vm, struct conn *c);

/* ---- vmm_shm.c: the shared-memory transport (docs/protocol.md) ---- */
struct vmm_shm {
	uint8_t *area;                  /* VV_VMM_SHM_AREA_SIZE bytes, shared */
	int req_fd, rep_fd;             /* doorbells (non-blocking) */
	uint32_t served;                /* the last req_seq answered */
};
/* SHM_SETUP: takes c->fds on success (and on failure closes them).  0, or
 * -1 with *why set (the caller rejects the frame). */
int vmm_shm_setup(struct conn *c, uint32_t area_size, uint32_t flags, const char **why);
void vmm_shm_free(struct vmm_shm *s);
/* A request is waiting in the area (req_seq moved). */
bool vmm_shm_pending(const struct vmm_shm *s);
/* Before the loop may block in poll(): tells the VMM to ring; false when a
 * request came meanwhile (do not block). */
bool vmm_shm_may_sleep(struct vmm_shm *s);
/* After poll(): awake again (the VMM need not ring). */
void vmm_shm_awake(struct vmm_shm *s);
/* The request doorbell was readable: empties it.  0, or -1 when it is not
 * an eventfd's 8-byte count (the caller refuses the VMM). */
int vmm_shm_drain(struct vmm_shm *s);
/* The request now in the area, if any: its number and the two words,
 * each read once (the VMM may change them at any time). */
bool vmm_shm_take(struct vmm_shm *s, uint32_t *seq, uint32_t *buffer_size, uint32_t *len);
/* The communicate buffer in the area (the VMM's memory: copy it once). */
const uint8_t *vmm_shm_buf(const struct vmm_shm *s);
/* Publishes the reply to request seq: len (<= 64 KiB) bytes from the
 * daemon's private buffer, status, length, then rep_seq; rings the VMM
 * when it sleeps. */
void vmm_shm_reply(struct vmm_shm *s, uint32_t seq, uint16_t sts, const uint8_t *reply,
		   size_t len);

/* ---- mgmt.c: the management API (docs/management.md) ---- */
/* Bounds on one management connection (issue #12): per loop turn at most
 * MGMT_LINES_PER_TURN lines are handled, so a flood waits behind the VMM
 * rather than the other way round; no line is handled (and nothing read)
 * while more than MGMT_OUT_MAX bytes of its replies are unsent. */
#define MGMT_LINES_PER_TURN 4
#define MGMT_OUT_MAX        (64u * 1024)
/* Handles up to MGMT_LINES_PER_TURN complete lines in c->in; sets
 * c->backlog when a complete line is left for the next turn.  -1: close
 * (oversized line). */
int mgmt_conn_process(struct vm *vm, struct conn *c, bool *quit);

/* ---- server.c: sockets and the poll loop ---- */
struct server_config {
	const char *vmm_socket;         /* path, or NULL when inherited */
	const char *mgmt_socket;
	int vmm_fd;                     /* inherited (socket activation) or -1 */
	int mgmt_fd;
	int frame_timeout_ms;
	/* After answering the VMM, keep reading its connection without
	 * blocking for this long before sleeping in poll() again (server.c
	 * vmm_busy_poll); 0 = never.  main.c bounds it to POLL_US_MAX. */
	unsigned poll_us;
	/* The same window on the shared-memory transport, where the spin
	 * is a load of req_seq and stops while the CPUs are contended
	 * (core/spin_gate.h).  --poll-us sets both. */
	unsigned shm_spin_us;
	/* CPUs the daemon may run on (sched_getaffinity, taken before the
	 * sandbox); with one, neither window opens. */
	long usable_cpus;
	/* /proc/loadavg and /proc/pressure/cpu, opened before the sandbox
	 * (the run queue's length and the CPU pressure for the spin gate,
	 * core/spin_gate.h), or -1 */
	int loadavg_fd;
	int psi_fd;
	/* Fold the journal into vars.json once no NV change has come for this
	 * long (server.c compact_when_idle); 0 = only when the journal grows
	 * past its bound and at exit. */
	int compact_idle_ms;
};
/* 0: block.  Measured on the recorded OVMF boot (docs/performance.md,
 * "The real boot"), every busy-poll window made the boot slower or
 * costlier in CPU than blocking on a loaded host; polling is the
 * operator's choice for dedicated cores. */
#define POLL_US_DEFAULT 0u
/* Shared memory: the gated spin, 20 us after each reply.  On an idle host
 * blocking is at its worst (each wake-up finds a halted vCPU: the boot
 * took 30-38 ms blocking, 5.3-7.4 ms with the spin, a third of the CPU);
 * on a crowded one the gate (core/spin_gate.h) shuts the spin and it
 * measured within noise of blocking (docs/performance.md "On an idle
 * host", "Spinning only where it pays").  --poll-us 0 turns it off. */
#define SHM_SPIN_US_DEFAULT 20u
#define POLL_US_MAX     10000u
#define COMPACT_IDLE_MS_DEFAULT 2000
/* Binds (or takes) the listening sockets; 0 or -1 (logged). */
int server_listen(struct server_config *cfg);
/* Runs until SIGTERM/SIGINT or a management quit. */
void server_run(struct vm *vm, const struct server_config *cfg);

/* ---- sandbox.c ---- */
struct sandbox_config {
	bool enabled;
	const char *user;               /* switch to this user when root */
	const char *state_dir;          /* the current directory: the confinement root */
	uint64_t max_file_size;         /* RLIMIT_FSIZE: room for the largest snapshot */
	/* The fleet store's database (fleet_sandbox): reconnections need
	 * socket() and connect() to it.  db_unix: its UNIX socket directory
	 * (then no chroot, which would hide it); db_tcp_port: its TCP port
	 * (Landlock ABI 4 allows connecting to that port only). */
	bool db;
	char db_unix[256];
	int db_tcp_port;
};
/* Confines the process; 0 or -1 (logged).  After it, only the syscalls of
 * sandbox.c's allowlist work; anything else kills the process (SIGSYS). */
int sandbox_enter(const struct sandbox_config *cfg);
/* landlock.c: only the current directory (the state directory) stays
 * reachable.  0 applied, 1 the kernel has no Landlock (logged), -1 failed
 * (logged); *abi: the kernel's Landlock ABI, or -1.  Needs no_new_privs. */
int landlock_confine(int *abi, int tcp_connect_port);

#endif /* VMVARSD_DAEMON_H */
