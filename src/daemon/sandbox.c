/*
 * src/daemon/sandbox.c -- confinement of vmvarsd once its store and
 * sockets are open (code-models §6 item 7, in this order):
 *   1. resource limits (descriptors, file size, no core dumps);
 *   2. when root: chroot into the state directory, drop the capability
 *      bounding set, switch to --user's uid/gid (or, without --user, keep
 *      uid 0 with every capability cleared);
 *   3. no_new_privs;
 *   4. Landlock: no file outside the state directory (landlock.c), the
 *      confinement that also holds without root;
 *   5. a seccomp allowlist: the syscalls of the poll loop, the file
 *      backend's atomic rewrite (openat, write, fsync, renameat, unlinkat,
 *      fdatasync) and the C library's memory management.  Anything else
 *      kills the whole process with SIGSYS (SCMP_ACT_KILL_PROCESS).
 * The set was found by running the daemon tests under `strace -f -c`.
 *
 * Between 2 and 3 the daemon makes sure its user can create files in the
 * state directory (check_state_dir_writable), or refuses to start.
 *
 * Without root, step 2 is skipped: the store is confined by Landlock where
 * the kernel has it, file permissions, and the allowlist (no socket(),
 * connect(), execve(), fork).
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <seccomp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon.h"

/* The allowlist.  Each group says who needs it. */
static const int allowed_syscalls[] = {
	/* poll loop and sockets already open; server.c's vmm_busy_poll
	 * spins on read() and clock_gettime() (below; a real syscall where
	 * the clocksource has no vDSO) and reads getrusage(RUSAGE_THREAD)
	 * (install_seccomp: that form only) every 32 requests.  The shared-memory
	 * transport (vmm_shm.c) adds none: its descriptors come through
	 * recvmsg, and it needs only fstat, fcntl (F_GET_SEALS, F_SETFL),
	 * mmap, munmap, read and write, all listed here */
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv),
	SCMP_SYS(writev), SCMP_SYS(accept4), SCMP_SYS(recvfrom), SCMP_SYS(sendto),
	SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(close), SCMP_SYS(fcntl),
	SCMP_SYS(shutdown),
	/* the kernel resumes a poll() with a timeout that a stop (SIGSTOP,
	 * a cgroup freeze, a debugger) interrupted through restart_syscall:
	 * without it a frozen and thawed daemon died of SIGSYS */
	SCMP_SYS(restart_syscall),
	/* server.c: the management peer's SO_PEERCRED on accept, checked
	 * against root and our own uid (taken once when serving starts) */
	SCMP_SYS(getsockopt), SCMP_SYS(geteuid),
	/* file backend: tmp file, fsync, rename, directory fsync */
	SCMP_SYS(openat), SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(rename),
	SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(unlink), SCMP_SYS(unlinkat),
	SCMP_SYS(ftruncate), SCMP_SYS(lseek), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
	SCMP_SYS(statx), SCMP_SYS(fchmod), SCMP_SYS(pread64), SCMP_SYS(pwrite64),
	SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(access),
	/* memory */
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(brk), SCMP_SYS(madvise),
	SCMP_SYS(mprotect),
	/* time, randomness (OpenSSL), signals, exit */
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(getrandom), SCMP_SYS(futex),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(getpid), SCMP_SYS(exit),
	SCMP_SYS(exit_group),
#ifdef SANITIZER_BUILD
	/* AddressSanitizer / LeakSanitizer runtime (test builds only): the
	 * leak check at exit stops the world with a ptrace'd clone. */
	SCMP_SYS(sigaltstack), SCMP_SYS(rt_sigaction), SCMP_SYS(prctl), SCMP_SYS(gettid),
	SCMP_SYS(sched_yield), SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(ptrace),
	SCMP_SYS(wait4), SCMP_SYS(waitid), SCMP_SYS(readlink), SCMP_SYS(readlinkat),
	SCMP_SYS(getrlimit), SCMP_SYS(prlimit64), SCMP_SYS(tgkill), SCMP_SYS(kill),
	SCMP_SYS(open), SCMP_SYS(sched_getaffinity), SCMP_SYS(getppid), SCMP_SYS(uname),
	SCMP_SYS(getdents64), SCMP_SYS(pipe2), SCMP_SYS(dup), SCMP_SYS(dup2),
#endif
};

/* Sets a resource limit to value, or keeps a lower one the operator (or
 * a test) already set: the sandbox only ever tightens. */
static int
limit(int resource, rlim_t value)
{
	struct rlimit rl;

	if (getrlimit(resource, &rl) == 0 && rl.rlim_max != RLIM_INFINITY && rl.rlim_max < value)
		value = rl.rlim_max;
	rl.rlim_cur = rl.rlim_max = value;
	return setrlimit(resource, &rl);
}

static int
set_limits(const struct sandbox_config *cfg)
{
	/* 16 management + 1 VMM connection + listeners, signalfd, stdio and
	 * the backend's two transient descriptors. */
	if (limit(RLIMIT_NOFILE, 64) != 0 || limit(RLIMIT_CORE, 0) != 0 ||
	    limit(RLIMIT_FSIZE, (rlim_t)cfg->max_file_size) != 0) {
		log_error("sandbox: setrlimit: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Empties the capability bounding set (needs CAP_SETPCAP, i.e. root). */
static int
drop_bounding_set(void)
{
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
			log_error("sandbox: drop capability %d: %s", cap, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Empties the permitted, effective and inheritable sets. */
static int
drop_capabilities(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) != 0) {
		log_error("sandbox: capset: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Root only: chroot, then the user switch, then no capability left. */
static int
confine_root(const struct sandbox_config *cfg)
{
	uid_t uid = 0;
	gid_t gid = 0;

	if (cfg->user != NULL) {
		struct passwd *pw = getpwnam(cfg->user);    /* before the chroot */

		if (pw == NULL) {
			log_error("sandbox: unknown user %s", cfg->user);
			return -1;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	/* main.c has made the state directory the current one.  Sanitizer
	 * builds (tests only) skip the chroot: LeakSanitizer needs /proc.
	 * So does a fleet store reached through a UNIX socket, which lies
	 * outside the state directory: Landlock still confines the files. */
#ifdef SANITIZER_BUILD
	log_warn("sandbox: sanitizer build, no chroot");
#else
	if (cfg->db && cfg->db_unix[0] != '\0') {
		log_info("sandbox: no chroot: the fleet store's socket is in %s", cfg->db_unix);
	} else if (chroot(".") != 0 || chdir("/") != 0) {
		log_error("sandbox: chroot %s: %s", cfg->state_dir, strerror(errno));
		return -1;
	}
#endif
	if (cfg->user != NULL && (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0)) {
		log_error("sandbox: setgid %u: %s", (unsigned)gid, strerror(errno));
		return -1;
	}
	/* The bounding set needs CAP_SETPCAP: empty it while still root. */
	if (drop_bounding_set() != 0)
		return -1;
	if (cfg->user != NULL && setresuid(uid, uid, uid) != 0) {
		log_error("sandbox: setuid %u: %s", (unsigned)uid, strerror(errno));
		return -1;
	}
	return drop_capabilities();
}

/*
 * The store's writes create files in the state directory: the journal,
 * the temporary file of each compaction (renamed over vars.json).  A
 * directory the daemon's user cannot write -- typically root's 0700
 * directory after --user dropped to another uid -- would let it start
 * and then fail every compaction, the journal growing until every NV
 * write fails at RLIMIT_FSIZE.  So it does not start.  access() checks
 * the real uid: after confine_root's setresuid, the user that will write.
 * Landlock (applied after this) does not change what access() reports.
 */
static int
check_state_dir_writable(const struct sandbox_config *cfg)
{
	if (access(".", W_OK | X_OK) == 0)
		return 0;
	log_error("the state directory %s is not writable by uid %u (%s): vmvarsd could not "
		  "save the store; make the directory owned by that user (the systemd unit's "
		  "User= with StateDirectory= does)", cfg->state_dir, (unsigned)getuid(),
		  strerror(errno));
	return -1;
}

/*
 * The fleet store (fleet.c): libpq reconnects inside the sandbox, so
 * socket() -- of the database's address family only -- connect() and the
 * socket options libpq sets.  Where connect() may go is Landlock's (TCP:
 * the database's port only, ABI 4) or, for a UNIX socket, the file
 * system's: seccomp cannot read the path.
 */
static int
allow_database(scmp_filter_ctx ctx, const struct sandbox_config *cfg)
{
	static const int calls[] = {
		SCMP_SYS(connect), SCMP_SYS(setsockopt), SCMP_SYS(getsockname),
		SCMP_SYS(getpeername), SCMP_SYS(uname), SCMP_SYS(getuid), SCMP_SYS(getgid),
	};
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < sizeof(calls) / sizeof(calls[0]); i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0);
	/* stream sockets only (the type's low bits; SOCK_CLOEXEC and
	 * SOCK_NONBLOCK may be or'ed in): Landlock restricts TCP connect,
	 * not UDP sends */
	if (rc == 0 && cfg->db_unix[0] != '\0')
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
				      SCMP_A0(SCMP_CMP_EQ, AF_UNIX, 0),
				      SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM));
	if (rc == 0 && cfg->db_unix[0] == '\0') {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
				      SCMP_A0(SCMP_CMP_EQ, AF_INET, 0),
				      SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM));
		if (rc == 0)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
					      SCMP_A0(SCMP_CMP_EQ, AF_INET6, 0),
					      SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM));
	}
	return rc;
}

static int
install_seccomp(const struct sandbox_config *cfg)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	const struct scmp_arg_cmp thread_only = { .arg = 0, .op = SCMP_CMP_EQ,
						  .datum_a = (scmp_datum_t)RUSAGE_THREAD,
						  .datum_b = 0 };
	int rc = 0;

	if (ctx == NULL)
		return -1;
	if (cfg->db)
		rc = allow_database(ctx, cfg);
	for (size_t i = 0; rc == 0 && i < sizeof(allowed_syscalls) / sizeof(allowed_syscalls[0]);
	     i++) {
		/* A syscall this architecture lacks resolves to a negative
		 * pseudo number; libseccomp skips those with -EDOM etc. */
		if (allowed_syscalls[i] < 0)
			continue;
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed_syscalls[i], 0);
	}
	/* server.c's spin gate (core/spin_gate.h): the loop thread's own
	 * involuntary context switches, read every 64 requests to stop
	 * spinning while the CPUs are contended.  Only RUSAGE_THREAD: the
	 * daemon needs no other process's or thread's usage. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(getrusage), 1, thread_only);
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc != 0)
		log_error("sandbox: seccomp: %s", strerror(-rc));
	return rc == 0 ? 0 : -1;
}

int
sandbox_enter(const struct sandbox_config *cfg)
{
	bool root = geteuid() == 0;
	int landlock_abi = -1;

	if (!cfg->enabled) {
		log_warn("*** --no-sandbox: NO SANDBOX. This process parses guest input with its "
			 "full privileges. Use only for debugging. ***");
		return check_state_dir_writable(cfg);
	}
	if (set_limits(cfg) != 0)
		return -1;
	if (root && confine_root(cfg) != 0)
		return -1;
	if (check_state_dir_writable(cfg) != 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		log_error("sandbox: no_new_privs: %s", strerror(errno));
		return -1;
	}
	if (landlock_confine(&landlock_abi, cfg->db ? cfg->db_tcp_port : 0) < 0)
		return -1;
	if (install_seccomp(cfg) != 0)
		return -1;
	/* From here on only allowed_syscalls work. */
	log_info("sandbox: %s, Landlock %s, seccomp allowlist of %zu syscalls%s",
		 !root ? "unprivileged" : cfg->db && cfg->db_unix[0] != '\0' ?
		 "no chroot (fleet store socket), no capabilities" :
		 "chroot to the state directory, no capabilities",
		 landlock_abi > 0 ? "confines files to the state directory" : "unavailable",
		 sizeof(allowed_syscalls) / sizeof(allowed_syscalls[0]),
		 cfg->db ? " + the fleet store's socket(), connect()" : "");
	return 0;
}
