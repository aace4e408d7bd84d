/*
 * src/daemon/landlock.c -- file-system confinement with Landlock, a step
 * of the sandbox (sandbox.c): after it, the daemon can reach no file
 * outside its state directory, whatever its uid.
 *
 * Why: when vmvarsd runs unprivileged (the usual case under systemd or a
 * management stack) it cannot chroot, and seccomp must allow openat() for
 * the store's atomic rewrites, so until now file permissions alone kept a
 * compromised parser from reading or writing the rest of the host.  When
 * root, the chroot already confines it; Landlock is applied as well.
 *
 * What is handled (denied unless a rule allows it) is every file-system
 * right the running kernel knows, plus TCP bind/connect (ABI 4) and the
 * abstract-socket and signal scopes (ABI 6).  With a fleet store over TCP,
 * one net rule: connect to the database's port (fleet.c).  The file rule: the state
 * directory -- read, write, truncate, list, create and remove regular
 * files (the store, its journal and the temporary files of an atomic
 * rewrite).  Facts: the kernel's uapi linux/landlock.h and
 * Documentation/userspace-api/landlock.rst.
 *
 * Best effort: a kernel without Landlock (or with it disabled) is logged
 * and the daemon goes on with the rest of the sandbox.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon.h"

/* Rights newer than Debian 12's headers (linux-libc-dev 6.1 stops at
 * ABI 2); values from the kernel's uapi header. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)                   /* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)                /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)               /* ABI 5 */
#endif
#define LL_NET_BIND_TCP         (1ULL << 0)                     /* ABI 4 */
#define LL_NET_CONNECT_TCP      (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX  (1ULL << 0)                     /* ABI 6 */
#define LL_SCOPE_SIGNAL         (1ULL << 1)
#define LL_FS_ABI1              ((1ULL << 13) - 1)              /* EXECUTE .. MAKE_SYM */

/* struct landlock_ruleset_attr as of ABI 6; the kernel takes a shorter
 * prefix from older callers, so the size passed follows the ABI. */
struct ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

static int
landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return abi < 0 ? -1 : (int)abi;
}

/* What the ruleset handles, for this ABI; *size: how much of it to pass. */
static struct ruleset_attr
handled_for(int abi, size_t *size)
{
	struct ruleset_attr a = { LL_FS_ABI1, 0, 0 };

	if (abi >= 2)
		a.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		a.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		a.handled_access_fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	*size = sizeof(uint64_t);
	if (abi >= 4) {
		a.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		*size = 2 * sizeof(uint64_t);
	}
	if (abi >= 6) {
		a.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		*size = sizeof(a);
	}
	return a;
}

/* Allows `access` beneath path (a directory); 0 or -1. */
static int
allow_beneath(int ruleset, const char *path, uint64_t access)
{
	struct landlock_path_beneath_attr rule = { .allowed_access = access };
	int rc;

	rule.parent_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rule.parent_fd < 0)
		return -1;
	rc = (int)syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
	close(rule.parent_fd);
	return rc == 0 ? 0 : -1;
}

/* struct landlock_net_port_attr (ABI 4), newer than Debian 12's header. */
#define LL_RULE_NET_PORT 2
struct net_port_attr {
	uint64_t allowed_access;
	uint64_t port;
} __attribute__((packed));

/* The fleet store's TCP port: the one connect() allowed (fleet.c). */
static int
allow_tcp_connect(int ruleset, int port)
{
	struct net_port_attr rule = { LL_NET_CONNECT_TCP, (uint64_t)port };

	return syscall(SYS_landlock_add_rule, ruleset, LL_RULE_NET_PORT, &rule, 0) == 0 ? 0 : -1;
}

int
landlock_confine(int *abi_out, int tcp_connect_port)
{
	uint64_t state_dir = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
			     LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
			     LANDLOCK_ACCESS_FS_MAKE_REG;
	int abi = landlock_abi(), ruleset, rc = -1;
	struct ruleset_attr attr;
	size_t size;

	*abi_out = abi;
	if (abi < 1) {
		log_warn("sandbox: Landlock is not available (%s): the file system is confined "
			 "by %s only", strerror(errno), geteuid() == 0 ? "the chroot" :
			 "file permissions");
		return 1;
	}
	attr = handled_for(abi, &size);
	if (abi >= 3)
		state_dir |= LANDLOCK_ACCESS_FS_TRUNCATE;
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (ruleset < 0) {
		log_error("sandbox: landlock_create_ruleset: %s", strerror(errno));
		return -1;
	}
	/* The current directory is the state directory (main.c; after a
	 * chroot it is also "/"). */
	if (allow_beneath(ruleset, ".", state_dir) != 0) {
		log_error("sandbox: Landlock rule for the state directory: %s", strerror(errno));
		goto out;
	}
	if (tcp_connect_port > 0 && abi >= 4 && allow_tcp_connect(ruleset, tcp_connect_port) != 0) {
		log_error("sandbox: Landlock rule for the database's port %d: %s",
			  tcp_connect_port, strerror(errno));
		goto out;
	}
#ifdef SANITIZER_BUILD
	/* Tests only: the sanitizers read /proc/self to report. */
	(void)allow_beneath(ruleset, "/proc", LANDLOCK_ACCESS_FS_READ_FILE |
						  LANDLOCK_ACCESS_FS_READ_DIR);
#endif
	/* Needs no_new_privs, which sandbox.c has set. */
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) {
		log_error("sandbox: landlock_restrict_self: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	close(ruleset);
	return rc;
}
