/*
 * tests/daemon_util.h -- vmvarsd as a child process of a test program:
 * start it on a private state directory, talk to its management socket,
 * stop it, kill it, clean up.  tests/test_daemon.c, tests/test_migration.c
 * and tests/test_qemu_device.c share these.
 *
 * The daemon is $VMVARS_BUILD_ROOT/src/daemon/vmvarsd, run with
 * --state-dir DIR --log-level debug and the caller's extra arguments; its
 * stdout and stderr go to DIR.log (next to DIR, so that removing the state
 * directory in a test does not lose the log).
 */
#ifndef VMVARS_TEST_DAEMON_UTIL_H
#define VMVARS_TEST_DAEMON_UTIL_H

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct daemon {
	char dir[64];
	char vmm[128], mgmt[128];
	pid_t pid;
};

static inline void
msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static inline int
connect_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	/* the precision says what snprintf does anyway (a longer path is cut
	 * to fit), so that GCC sees no truncation where this is inlined */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%.*s", (int)sizeof(sun.sun_path) - 1, path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

/*
 * What the next spawned daemons get in their own process before exec; the
 * defaults change nothing.  tests/test_daemon.c sets them around a start.
 */

/* When non-zero, the next daemons start with this RLIMIT_FSIZE: every file
 * write past it fails with EFBIG, as a full disk fails with ENOSPC (and
 * raises SIGXFSZ, which vmvarsd must ignore). */
static rlim_t fsize_limit;
/* RLIMIT_NOFILE for the next daemon (0: inherited); the sandbox's own
 * limit only ever tightens one. */
static rlim_t nofile_limit;

/* When non-zero and the tests run as root, the next daemons run as this
 * uid and gid: an unprivileged vmvarsd, which cannot chroot. */
static uid_t unprivileged_uid;

/* When >= 0, the next daemons start with this umask. */
static int spawn_umask = -1;

/* Starts vmvarsd on d->dir with extra arguments (NULL-terminated, or
 * NULL); does not wait for it.  The caller keeps the pid. */
static inline pid_t
spawn(struct daemon *d, const char *const *extra)
{
	const char *root = getenv("VMVARS_BUILD_ROOT");
	char exe[512], logpath[128];
	const char *argv[32];
	int n = 0;
	pid_t pid;

	snprintf(exe, sizeof(exe), "%s/src/daemon/vmvarsd", root ? root : ".");
	argv[n++] = exe;
	argv[n++] = "--state-dir";
	argv[n++] = d->dir;
	argv[n++] = "--log-level";
	argv[n++] = "debug";
	for (int i = 0; extra != NULL && extra[i] != NULL && n < 30; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	snprintf(logpath, sizeof(logpath), "%s.log", d->dir);
	pid = fork();
	if (pid == 0) {
		int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
		}
		/* Sanitizer builds: LeakSanitizer's exit-time check (a ptrace'd
		 * clone) cannot run under the seccomp filter and hangs; the
		 * library's leaks are covered by the in-process tests. */
		setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
		if (nofile_limit != 0) {
			struct rlimit rl = { nofile_limit, nofile_limit };

			setrlimit(RLIMIT_NOFILE, &rl);
		}
		if (fsize_limit != 0) {
			struct rlimit rl = { fsize_limit, fsize_limit };

			/* SIGXFSZ keeps its default action (death): vmvarsd
			 * must ignore it itself. */
			signal(SIGXFSZ, SIG_DFL);
			setrlimit(RLIMIT_FSIZE, &rl);
		}
		if (spawn_umask >= 0)
			umask((mode_t)spawn_umask);
		if (unprivileged_uid != 0 && getuid() == 0 &&
		    (setgroups(0, NULL) != 0 || setgid(unprivileged_uid) != 0 ||
		     setuid(unprivileged_uid) != 0))
			_exit(126);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* The daemon's log (DIR.log) holds text; whole_line: as a whole line. */
static inline bool
log_has(const struct daemon *d, const char *text, bool whole_line)
{
	static char log[1 << 18];
	char path[128], want[800];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s.log", d->dir);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	n = fread(log + 1, 1, sizeof(log) - 2, f);
	fclose(f);
	log[0] = '\n';
	log[n + 1] = '\0';
	snprintf(want, sizeof(want), whole_line ? "\n%s\n" : "%s", text);
	if (strstr(log, want) != NULL)
		return true;
	printf("# %s.log lacks: %s\n", d->dir, text);
	return false;
}

/* Starts the daemon and waits (10 s at most) until its management socket
 * answers; false if it did not (d->pid is 0 if it exited). */
static inline bool
start(struct daemon *d, const char *const *extra)
{
	d->pid = spawn(d, extra);
	for (int i = 0; i < 1000; i++) {
		int fd = connect_unix(d->mgmt);

		if (fd >= 0) {
			close(fd);
			return true;
		}
		if (waitpid(d->pid, NULL, WNOHANG) == d->pid) {
			d->pid = 0;
			return false;
		}
		msleep(10);
	}
	return false;
}

/* A new state directory, /tmp/PREFIX-XXXXXX, and a daemon started on it
 * (its sockets DIR/vmm.sock and DIR/mgmt.sock).  It serves no VM before
 * a VM reset (protocol.md "Daemon restart"): that is the caller's. */
static inline bool
daemon_setup(struct daemon *d, const char *prefix, const char *const *extra)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/%s-XXXXXX", prefix);
	if (mkdtemp(d->dir) == NULL)
		return false;
	snprintf(d->vmm, sizeof(d->vmm), "%s/vmm.sock", d->dir);
	snprintf(d->mgmt, sizeof(d->mgmt), "%s/mgmt.sock", d->dir);
	return start(d, extra);
}

/* SIGTERM and the exit status (-1 if it did not exit normally). */
static inline int
stop(struct daemon *d)
{
	int st;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	if (waitpid(d->pid, &st, 0) != d->pid)
		return -1;
	d->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* SIGKILL, reaped. */
static inline void
crash(struct daemon *d)
{
	if (d->pid <= 0)
		return;
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	d->pid = 0;
}

static inline bool
alive(const struct daemon *d)
{
	return d->pid > 0 && waitpid(d->pid, NULL, WNOHANG) == 0;
}

/* Kills a daemon still running and removes DIR and DIR.log. */
static inline void
cleanup(struct daemon *d)
{
	char cmd[200];

	crash(d);
	if (d->dir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s.log", d->dir, d->dir);
	if (system(cmd) != 0)
		printf("# cleanup of %s failed\n", d->dir);
}

/* Sends one line on a management connection and returns the reply line
 * (static buffer, at most 64 KiB; "" on failure). */
static inline const char *
mgmt_call(int fd, const char *line)
{
	static char reply[1 << 16];
	size_t n = 0;

	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line) || write(fd, "\n", 1) != 1)
		return "";
	while (n < sizeof(reply) - 1) {
		ssize_t r = read(fd, reply + n, 1);

		if (r <= 0 || reply[n] == '\n')
			break;
		n++;
	}
	reply[n] = '\0';
	return reply;
}

/* mgmt_call on a connection of its own. */
static inline const char *
mgmt(const struct daemon *d, const char *line)
{
	int fd = connect_unix(d->mgmt);
	const char *reply;

	if (fd < 0)
		return "";
	reply = mgmt_call(fd, line);
	close(fd);
	return reply;
}

#endif
