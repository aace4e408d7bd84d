/*
 * src/daemon/main.c -- vmvarsd: options, then the setup sequence, read top
 * to bottom (code-models §6 item 7):
 *   parse options -> log -> the store's lock -> sockets (bound or
 *   inherited from systemd)
 *   -> chdir to the state directory -> open the store -> READY=1
 *   -> sandbox -> serve -> flush -> exit 0.
 * Exit codes: 0 clean shutdown, 1 setup failure, 2 bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "backend/store_lock.h"
#include "core/spin_gate.h"
#include "daemon.h"

struct options {
	struct vm_config vm;
	struct server_config server;
	struct sandbox_config sandbox;
	enum log_level log_level;
	bool check_only;
	const char *pcap_path;          /* --pcap FILE */
	bool test_forbidden_syscall;
	const char *test_forbidden_path;
	int test_forbidden_connect;     /* a TCP port on 127.0.0.1, or 0 */
	bool test_forbidden_udp;
	char vmm_default[PATH_MAX], mgmt_default[PATH_MAX];
};

enum {
	OPT_STATE_DIR = 256, OPT_VMM_SOCKET, OPT_MGMT_SOCKET, OPT_FORCE_SB, OPT_NO_CUSTOM,
	OPT_TPM, OPT_NV, OPT_VOLATILE, OPT_HWERR, OPT_MAXVAR, OPT_MAXAUTH, OPT_LOG,
	OPT_USER, OPT_NO_SANDBOX, OPT_TIMEOUT, OPT_CHECK, OPT_TEST_SYSCALL, OPT_TEST_PATH, OPT_TEST_CONNECT, OPT_TEST_UDP, OPT_COMPACT_IDLE, OPT_VERSION,
	OPT_POLL_US, OPT_VM_UUID, OPT_MIGRATION, OPT_INCOMING, OPT_PROTOCOL, OPT_PCAP, OPT_STORE, OPT_VM_NAME, OPT_NO_SHM,
};

static const struct option long_options[] = {
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "vmm-socket", required_argument, NULL, OPT_VMM_SOCKET },
	{ "mgmt-socket", required_argument, NULL, OPT_MGMT_SOCKET },
	{ "force-secure-boot", no_argument, NULL, OPT_FORCE_SB },
	{ "no-custom-mode", no_argument, NULL, OPT_NO_CUSTOM },
	{ "tpm", no_argument, NULL, OPT_TPM },
	{ "vm-uuid", required_argument, NULL, OPT_VM_UUID },
	{ "store", required_argument, NULL, OPT_STORE },
	{ "vm-name", required_argument, NULL, OPT_VM_NAME },
	{ "migration", no_argument, NULL, OPT_MIGRATION },
	{ "incoming", no_argument, NULL, OPT_INCOMING },
	{ "protocol", required_argument, NULL, OPT_PROTOCOL },
	{ "no-shm", no_argument, NULL, OPT_NO_SHM },
	{ "nv-storage", required_argument, NULL, OPT_NV },
	{ "volatile-storage", required_argument, NULL, OPT_VOLATILE },
	{ "hwerr-storage", required_argument, NULL, OPT_HWERR },
	{ "max-variable-size", required_argument, NULL, OPT_MAXVAR },
	{ "max-auth-variable-size", required_argument, NULL, OPT_MAXAUTH },
	{ "frame-timeout-ms", required_argument, NULL, OPT_TIMEOUT },
	{ "poll-us", required_argument, NULL, OPT_POLL_US },
	{ "compact-idle-ms", required_argument, NULL, OPT_COMPACT_IDLE },
	{ "log-level", required_argument, NULL, OPT_LOG },
	{ "user", required_argument, NULL, OPT_USER },
	{ "no-sandbox", no_argument, NULL, OPT_NO_SANDBOX },
	{ "check", no_argument, NULL, OPT_CHECK },
	{ "pcap", required_argument, NULL, OPT_PCAP },
	{ "test-forbidden-syscall", no_argument, NULL, OPT_TEST_SYSCALL },
	{ "test-forbidden-path", required_argument, NULL, OPT_TEST_PATH },
	{ "test-forbidden-connect", required_argument, NULL, OPT_TEST_CONNECT },
	{ "test-forbidden-udp", no_argument, NULL, OPT_TEST_UDP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: vmvarsd --state-dir DIR [options]\n"
"\n"
"The UEFI variable service of one VM (docs/protocol.md, docs/management.md).\n"
"\n"
"  --state-dir DIR          the VM's directory; the store is DIR/vars.json\n"
"  --vmm-socket PATH        VMM socket (default DIR/vmm.sock; mode 0660)\n"
"  --mgmt-socket PATH       management socket (default DIR/mgmt.sock; mode 0600)\n"
"  --force-secure-boot      SecureBootEnable is 1 and stays 1\n"
"  --no-custom-mode         the guest cannot set CustomMode\n"
"  --tpm                    the VM has a TPM: MOR/MORLock are served\n"
"  --migration              a VMM may save the service state (SAVE_STATE): a\n"
"                           migration source (docs/migration.md)\n"
"  --incoming               a VMM may load one state (LOAD_STATE) before the\n"
"                           VM is served: a migration destination\n"
"  --protocol mm|xen|aws    the guest protocol of the VM's firmware (default mm):\n"
"                           edk2 MM (MM_REQUEST), or Xen's XenVariable / AWS's\n"
"                           ExtVarStore (VARSTORE_REQUEST, docs/protocols.md);\n"
"                           xen and aws default the limits to varstored's\n"
"  --no-shm                 do not offer the shared-memory transport: MM\n"
"                           requests only over the VMM socket\n"
"  --vm-uuid UUID           the VM's identity in its migration snapshots: a\n"
"                           snapshot of another VM is refused (default: none)\n"
"  --store STORE            where the NV variables live: DIR/vars.json (default),\n"
"                           or the fleet store: postgresql://... or pg:CONNINFO\n"
"                           (docs/fleet.md; credentials via libpq's passfile or\n"
"                           service file, never on the command line)\n"
"  --vm-name NAME           the VM's row in the fleet store (default: the\n"
"                           --vm-uuid text; one of them is required with it)\n"
"  --nv-storage BYTES       NV storage (default 262144)\n"
"  --volatile-storage BYTES volatile storage (default 262144)\n"
"  --hwerr-storage BYTES    HwErrRec reserve inside NV storage (default 4096)\n"
"  --max-variable-size BYTES        largest NV/volatile variable (default 65536)\n"
"  --max-auth-variable-size BYTES   largest authenticated variable (default 65536)\n"
"  --frame-timeout-ms MS    a started message must complete within MS (default 10000)\n"
"  --poll-us US             after a reply to the VMM, wait for its next request\n"
"                           without sleeping for up to US microseconds (at most\n"
"                           10000; default 20 on shared memory, never while the\n"
"                           CPUs are contended, and 0 = never on socket frames):\n"
"                           lower latency in request bursts for at most US of CPU\n"
"                           per request; 0 turns it off on both\n"
"  --compact-idle-ms MS     fold the journal into vars.json once no NV change has\n"
"                           come for MS (default 2000; 0 = only when the journal\n"
"                           grows and at exit)\n"
"  --log-level LEVEL        error, warn, info (default) or debug\n"
"  --user NAME              when started as root: run as NAME after setup\n"
"  --no-sandbox             DEBUGGING ONLY: no chroot, Landlock, seccomp or privilege drop\n"
"  --check                  open the store, report it, exit (0 if it loads)\n"
"  --pcap FILE              write every MM request, reply and VM reset to FILE\n"
"                           (pcap, link type 302: QEMU 11's uefi-vars pcapfile=)\n"
"  --version, --help\n"
"\n"
"Under systemd, the VMM and management sockets may be passed by socket\n"
"activation (FileDescriptorName=vmm / mgmt); see contrib/systemd/.\n");
}

static int
parse_size(const char *text, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 0);
	if (errno != 0 || end == text || *end != '\0' || text[0] == '-')
		return -1;
	*out = v;
	return 0;
}

/*
 * The largest file the daemon may write (RLIMIT_FSIZE): the JSON snapshot
 * of a full store, whatever the --nv-storage.  A variable is charged
 * 60 + name + data bytes of quota (store.h); in JSON its data takes 2
 * bytes per byte (hex), its name at most 3 per charged byte (\uXXXX
 * escapes), its fixed members about 250 bytes -- under 5x the charge.
 * The journal stays below the snapshot plus one record.
 */
static uint64_t
max_file_size(const struct vv_limits *l)
{
	uint64_t need;

	if (l->nv_storage > (UINT64_MAX - (1u << 20)) / 5)
		return UINT64_MAX;                      /* no limit to speak of */
	need = 5 * l->nv_storage + (1u << 20);
	return need > (64u << 20) ? need : (64u << 20);
}

/*
 * --protocol xen|aws: the store accounts like varstored (vmvars/xenvar.h
 * vv_xenvar_store_limits: 128 KiB per class, 128 bytes a variable, no
 * HwErrRec, 56 KiB values), except for the sizes given on the command
 * line (set: which ones were).
 */
static void
varstored_limits(struct vv_limits *l, const struct vv_limits *set)
{
	struct vv_xenvar_limits xl;
	struct vv_limits v;

	vv_xenvar_limits_default(&xl);
	vv_xenvar_store_limits(&xl, &v);
	l->variable_overhead = v.variable_overhead;
	if (!set->nv_storage)
		l->nv_storage = v.nv_storage;
	if (!set->volatile_storage)
		l->volatile_storage = v.volatile_storage;
	if (!set->hwerr_storage)
		l->hwerr_storage = v.hwerr_storage;
	if (!set->max_variable_size)
		l->max_variable_size = l->max_volatile_variable_size = v.max_variable_size;
	if (!set->max_auth_variable_size)
		l->max_auth_variable_size = v.max_auth_variable_size;
}

static int
parse_options(int argc, char **argv, struct options *o)
{
	struct vv_limits set = { 0 };
	uint64_t v;
	int ch;

	memset(o, 0, sizeof(*o));
	vv_limits_default(&o->vm.limits);
	o->log_level = LOG_LVL_INFO;
	o->sandbox.enabled = true;
	o->server.vmm_fd = o->server.mgmt_fd = -1;
	o->server.frame_timeout_ms = 10000;
	o->server.poll_us = POLL_US_DEFAULT;
	o->server.shm_spin_us = SHM_SPIN_US_DEFAULT;
	o->server.compact_idle_ms = COMPACT_IDLE_MS_DEFAULT;
	while ((ch = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		switch (ch) {
		case OPT_STATE_DIR: o->vm.state_dir = optarg; break;
		case OPT_VMM_SOCKET: o->server.vmm_socket = optarg; break;
		case OPT_MGMT_SOCKET: o->server.mgmt_socket = optarg; break;
		case OPT_FORCE_SB: o->vm.force_secure_boot = true; break;
		case OPT_NO_CUSTOM: o->vm.no_custom_mode = true; break;
		case OPT_TPM: o->vm.tpm = true; break;
		case OPT_MIGRATION: o->vm.migration = true; break;
		case OPT_INCOMING: o->vm.incoming = true; break;
		case OPT_PROTOCOL:
			if (strcmp(optarg, "mm") == 0)
				o->vm.protocol = VM_PROTO_MM;
			else if (strcmp(optarg, "xen") == 0)
				o->vm.protocol = VM_PROTO_XEN;
			else if (strcmp(optarg, "aws") == 0)
				o->vm.protocol = VM_PROTO_AWS;
			else {
				fprintf(stderr, "vmvarsd: --protocol: mm, xen or aws, not %s\n",
					optarg);
				return -1;
			}
			break;
		case OPT_NO_SHM: o->vm.no_shm = true; break;
		case OPT_VM_UUID:
			/* The 16 bytes are the GUID's EFI wire layout
			 * (docs/migration.md "Identity"). */
			if (vv_guid_parse(optarg, (vv_guid *)o->vm.vm_id) != 0) {
				fprintf(stderr, "vmvarsd: --vm-uuid: not a UUID: %s\n", optarg);
				return -1;
			}
			break;
		case OPT_STORE:
			if (strncmp(optarg, "pg:", 3) == 0) {
				o->vm.fleet_conninfo = optarg + 3;
			} else if (strncmp(optarg, "postgresql://", 13) == 0 ||
				   strncmp(optarg, "postgres://", 11) == 0) {
				o->vm.fleet_conninfo = optarg;
			} else {
				fprintf(stderr, "vmvarsd: --store: postgresql://... or pg:CONNINFO "
					"(the default store needs no option)\n");
				return -1;
			}
			break;
		case OPT_VM_NAME: o->vm.fleet_vm = optarg; break;
		case OPT_USER: o->sandbox.user = optarg; break;
		case OPT_NO_SANDBOX: o->sandbox.enabled = false; break;
		case OPT_CHECK: o->check_only = true; break;
		case OPT_PCAP: o->pcap_path = optarg; break;
		case OPT_TEST_SYSCALL: o->test_forbidden_syscall = true; break;
		case OPT_TEST_PATH: o->test_forbidden_path = optarg; break;
		case OPT_TEST_CONNECT: o->test_forbidden_connect = atoi(optarg); break;
		case OPT_TEST_UDP: o->test_forbidden_udp = true; break;
		case OPT_VERSION: printf("vmvarsd %s, protocol 1\n", VMVARS_VERSION); exit(0);
		case 'h': usage(stdout); exit(0);
		case OPT_LOG:
			if (log_level_parse(optarg, &o->log_level) != 0) {
				fprintf(stderr, "vmvarsd: bad --log-level %s\n", optarg);
				return -1;
			}
			break;
		case OPT_NV: case OPT_VOLATILE: case OPT_HWERR: case OPT_MAXVAR: case OPT_MAXAUTH:
		case OPT_TIMEOUT: case OPT_POLL_US: case OPT_COMPACT_IDLE:
			if (parse_size(optarg, &v) != 0) {
				fprintf(stderr, "vmvarsd: bad number %s\n", optarg);
				return -1;
			}
			if (ch == OPT_NV) {
				o->vm.limits.nv_storage = v;
				set.nv_storage = 1;
			}
			if (ch == OPT_VOLATILE) {
				o->vm.limits.volatile_storage = v;
				set.volatile_storage = 1;
			}
			if (ch == OPT_HWERR) {
				o->vm.limits.hwerr_storage = v;
				set.hwerr_storage = 1;
			}
			if (ch == OPT_MAXVAR) {
				o->vm.limits.max_variable_size = o->vm.limits.max_volatile_variable_size = v;
				set.max_variable_size = set.max_volatile_variable_size = 1;
			}
			if (ch == OPT_MAXAUTH) {
				o->vm.limits.max_auth_variable_size = v;
				set.max_auth_variable_size = 1;
			}
			if (ch == OPT_TIMEOUT) {
				if (v == 0 || v > 3600000) {
					fprintf(stderr, "vmvarsd: --frame-timeout-ms out of range\n");
					return -1;
				}
				o->server.frame_timeout_ms = (int)v;
			}
			if (ch == OPT_COMPACT_IDLE) {
				if (v > 3600000) {
					fprintf(stderr, "vmvarsd: --compact-idle-ms out of range "
						"(0..3600000)\n");
					return -1;
				}
				o->server.compact_idle_ms = (int)v;
			}
			if (ch == OPT_POLL_US) {
				if (v > POLL_US_MAX) {
					fprintf(stderr, "vmvarsd: --poll-us out of range (0..%u)\n",
						POLL_US_MAX);
					return -1;
				}
				o->server.poll_us = o->server.shm_spin_us = (unsigned)v;
			}
			break;
		default:
			return -1;
		}
	}
	if (optind != argc || o->vm.state_dir == NULL) {
		fprintf(stderr, "vmvarsd: %s\n", optind != argc ? "unexpected argument"
							     : "--state-dir is required");
		return -1;
	}
	if (o->vm.protocol != VM_PROTO_MM)
		varstored_limits(&o->vm.limits, &set);
	if (o->vm.fleet_conninfo != NULL && o->vm.fleet_vm == NULL) {
		static const uint8_t zero[16];

		if (memcmp(o->vm.vm_id, zero, sizeof(zero)) == 0) {
			fprintf(stderr, "vmvarsd: --store on a fleet store needs --vm-name or "
				"--vm-uuid (the VM's row)\n");
			return -1;
		}
		vv_guid_format((const vv_guid *)o->vm.vm_id, o->vm.fleet_vm_buf);
		o->vm.fleet_vm = o->vm.fleet_vm_buf;
	}
	if (o->vm.fleet_vm != NULL && o->vm.fleet_conninfo == NULL) {
		fprintf(stderr, "vmvarsd: --vm-name names a VM of a fleet store (--store)\n");
		return -1;
	}
	/* no journal to fold: every fleet write is already its own row */
	if (o->vm.fleet_conninfo != NULL)
		o->server.compact_idle_ms = 0;
	o->sandbox.state_dir = o->vm.state_dir;
	o->sandbox.max_file_size = max_file_size(&o->vm.limits);
	return 0;
}

/* Socket activation: descriptors named "vmm" / "mgmt" (or, unnamed, the
 * first is the VMM socket and the second the management one). */
static void
inherit_sockets(struct options *o)
{
#ifdef HAVE_LIBSYSTEMD
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names);

	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names != NULL ? names[i] : "";

		if (strcmp(name, "mgmt") == 0 || (strcmp(name, "vmm") != 0 && o->server.vmm_fd >= 0))
			o->server.mgmt_fd = fd;
		else
			o->server.vmm_fd = fd;
	}
	for (int i = 0; names != NULL && i < n; i++)
		free(names[i]);
	free(names);
	if (n > 0)
		log_info("socket activation: %d descriptor(s)", n);
#else
	(void)o;
#endif
}

static void
notify_ready(void)
{
#ifdef HAVE_LIBSYSTEMD
	/* Before the sandbox: sd_notify needs socket(), which it forbids.
	 * Connections made from here on wait in the listen backlog. */
	sd_notify(0, "READY=1");
#endif
}

/* Default socket paths inside the state directory, made absolute before
 * the chdir. */
static void
default_sockets(struct options *o)
{
	if (o->server.vmm_socket == NULL && o->server.vmm_fd < 0) {
		snprintf(o->vmm_default, sizeof(o->vmm_default), "%s/vmm.sock", o->vm.state_dir);
		o->server.vmm_socket = o->vmm_default;
	}
	if (o->server.mgmt_socket == NULL && o->server.mgmt_fd < 0) {
		snprintf(o->mgmt_default, sizeof(o->mgmt_default), "%s/mgmt.sock", o->vm.state_dir);
		o->server.mgmt_socket = o->mgmt_default;
	}
}

/*
 * tests/test_daemon.c: after the sandbox, a file outside the state
 * directory must be out of reach.  Exit 0 when opening it is refused
 * (EACCES: Landlock), 3 when it opens, 4 for any other error.
 */
static int
try_forbidden_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		log_info("test: %s opened", path);
		close(fd);
		return 3;
	}
	log_info("test: %s: %s", path, strerror(errno));
	return errno == EACCES ? 0 : 4;
}

/*
 * tests/test_fleet_daemon.c: after the sandbox of a daemon on a TCP fleet
 * store, a TCP connection to another port must be refused.  Exit 0 when
 * Landlock refuses it (EACCES), 5 when the kernel has no Landlock TCP
 * rules (ABI < 4: the connect reaches the network stack), 3 when it
 * connects, 4 for any other error.  A UDP socket must be impossible:
 * seccomp kills the process (SIGSYS) on it.
 */
static int
try_forbidden_connect(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0) {
		log_info("test: socket: %s", strerror(errno));
		return 4;
	}
	rc = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	log_info("test: connect 127.0.0.1:%d: %s", port, rc == 0 ? "connected" : strerror(errno));
	close(fd);
	if (rc == 0)
		return 3;
	if (errno == EACCES)
		return 0;
	if (errno == ECONNREFUSED)
		return 5;
	return 4;
}

/* The same daemon, asked for a datagram socket after its sandbox. */
static int
try_forbidden_udp(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	log_info("test: a UDP socket: %s", fd >= 0 ? "created" : strerror(errno));
	return 3;
}

int
main(int argc, char **argv)
{
	struct options o;
	struct vv_error err = { { 0 } };
	struct vm vm;
	struct stat st;
	char store_path[PATH_MAX];
	int lock_fd, pcap_fd = -1;

	if (parse_options(argc, argv, &o) != 0) {
		usage(stderr);
		return 2;
	}
	log_init(o.log_level);
	/* A write past RLIMIT_FSIZE (the sandbox's, or the operator's) must
	 * fail with EFBIG -- the backend then reports EFI_DEVICE_ERROR and
	 * keeps the old file -- not kill the daemon with SIGXFSZ. */
	signal(SIGXFSZ, SIG_IGN);
	o.server.usable_cpus = vv_usable_cpus();
	/* Before the sandbox (Landlock would refuse /proc); pread later. */
	o.server.loadavg_fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
	o.server.psi_fd = open("/proc/pressure/cpu", O_RDONLY | O_CLOEXEC);
	if ((o.server.poll_us > 0 || o.server.shm_spin_us > 0) && o.server.usable_cpus < 2) {
		/* One CPU: a spin could only hold the CPU the VMM needs. */
		log_info("one usable CPU: no busy polling (--poll-us %u ignored)", o.server.poll_us);
		o.server.poll_us = o.server.shm_spin_us = 0;
	}
	if (stat(o.vm.state_dir, &st) != 0 || !S_ISDIR(st.st_mode))
		fatal("%s: not a directory", o.vm.state_dir);
	/*
	 * What an operator gets wrong when installing the service, said
	 * before anything is created (the lock file, the sockets): a --user
	 * that does not exist (sysusers.d/vmvars.conf not applied), and a
	 * state directory the user we run as cannot write (started directly
	 * as the unit's User= in a directory someone else owns; with --user
	 * the sandbox checks the same after the switch).
	 */
	if (o.sandbox.user != NULL && getpwnam(o.sandbox.user) == NULL)
		fatal("--user %s: no such user; create it (systemd-sysusers vmvars.conf, or "
		      "useradd --system %s) and start again", o.sandbox.user, o.sandbox.user);
	if (!o.check_only && o.sandbox.user == NULL && access(o.vm.state_dir, W_OK | X_OK) != 0)
		fatal("the state directory %s (owner uid %u, mode %04o) is not writable by uid %u "
		      "(%s): vmvarsd could not save the store; make the directory owned by that "
		      "user (the systemd unit's User= with StateDirectory= does)", o.vm.state_dir,
		      (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777), (unsigned)getuid(),
		      strerror(errno));
	/*
	 * One writer per store (backend/store_lock.h).  Before the sockets,
	 * so that a second daemon on this directory stops here rather than
	 * replace the first one's sockets; before the store is read, so that
	 * nothing else writes it under us.  The descriptor stays open for the
	 * process's life, through the sandbox, and the kernel releases the
	 * lock at exit.  --check takes it too, for a consistent view (no
	 * daemon appending or compacting while it reads), but creates nothing.
	 */
	if ((size_t)snprintf(store_path, sizeof(store_path), "%s/%s", o.vm.state_dir,
			     VM_STORE_FILE) >= sizeof(store_path))
		fatal("%s: path too long", o.vm.state_dir);
	if (vv_store_lock(store_path, "vmvarsd", !o.check_only, &lock_fd, &err) != 0)
		fatal("%s", err.msg);
	o.vm.read_only = o.check_only;
	if (!o.check_only) {
		inherit_sockets(&o);
		default_sockets(&o);
		if (server_listen(&o.server) != 0)
			return 1;
	}
	/*
	 * What the libraries would otherwise read from /etc lazily, once the
	 * sandbox (Landlock, chroot) no longer lets them: the system OpenSSL
	 * configuration (crypto policies, FIPS), loaded before any crypto
	 * use, and the time zone (gmtime_r's first call).
	 */
	if (!OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL))
		fatal("OpenSSL initialisation (configuration) failed");
	tzset();
	/* The capture file is opened here, before the chdir (a relative
	 * name is the operator's) and the sandbox (Landlock allows only the
	 * state directory); the descriptor is kept for the daemon's life. */
	if (o.pcap_path != NULL && !o.check_only &&
	    (pcap_fd = open(o.pcap_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
			    0600)) < 0)
		fatal("--pcap %s: %s", o.pcap_path, strerror(errno));
	if (chdir(o.vm.state_dir) != 0)
		fatal("%s: %s", o.vm.state_dir, strerror(errno));
	if (vm_open(&vm, &o.vm, &err) != 0) {
		if (o.vm.fleet_conninfo != NULL)
			fatal("%s", err.msg);
		fatal("%s/%s", o.vm.state_dir, err.msg);
	}
	if (pcap_fd >= 0) {
		if (vv_mm_set_pcap(vm.mm, pcap_fd, &err) != 0)
			fatal("--pcap %s: %s", o.pcap_path, err.msg);
		log_info("capturing MM traffic to %s (pcap, link type 302)", o.pcap_path);
	}
	if (o.vm.fleet_conninfo != NULL)
		snprintf(store_path, sizeof(store_path), "fleet VM %s", o.vm.fleet_vm);
	log_info("store %s: %zu variables; Secure Boot %s mode%s", store_path,
		 vv_store_count(vm.store), vv_sb_mode_name(vv_secureboot_mode(vm.sb)),
		 vv_secureboot_enforcing(vm.sb) ? ", enforcing" : "");
	if (o.check_only) {
		printf("%s: OK, %zu variables\n", store_path, vv_store_count(vm.store));
		vm_close(&vm);
		vv_store_unlock(lock_fd);
		return 0;
	}
	/* The running VM's service state, if a previous daemon recorded one
	 * (vm.c, protocol.md "Daemon restart"). */
	(void)vm_restore(&vm);
	/* The fleet store's database stays reachable (reconnections). */
	fleet_sandbox(&vm, &o.sandbox);
	/* Everything the sandbox forbids happens before it. */
	notify_ready();
	if (sandbox_enter(&o.sandbox) != 0)
		fatal("cannot enter the sandbox (use --no-sandbox only to debug)");
	if (o.test_forbidden_syscall) {
		/* tests/test_daemon.c: a syscall outside the allowlist must kill
		 * the process with SIGSYS; without the sandbox this execs. */
		char *args[] = { "/bin/true", NULL };

		execve(args[0], args, environ);
		return 3;
	}
	if (o.test_forbidden_path != NULL)
		return try_forbidden_path(o.test_forbidden_path);
	if (o.test_forbidden_connect > 0)
		return try_forbidden_connect(o.test_forbidden_connect);
	if (o.test_forbidden_udp)
		return try_forbidden_udp();
	server_run(&vm, &o.server);
	if (vv_store_flush(vm.store, &err) != 0) {
		log_error("final flush failed: %s", err.msg);
		vm_close(&vm);
		return 1;
	}
	log_info("store flushed; exiting");
	fleet_release(&vm);
	vm_close(&vm);
	vv_store_unlock(lock_fd);       /* after vm_close: it may still write */
	return 0;
}
