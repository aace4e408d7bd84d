/*
 * src/cli/live.c -- every store command on a running VM (live.h): the
 * store is read from vmvarsd's management socket ("dump"), the command
 * runs on that copy exactly as on a file -- same rules, same Secure Boot
 * verification of signed updates --, and what it changed goes back as ONE
 * "batch" (docs/management.md), which the daemon applies atomically
 * between guest requests and makes durable as one journal record.
 *
 * Every change of the batch carries "expect": the fingerprint of the
 * variable as it was read (or "absent").  If the guest (or another host
 * tool) wrote one of those variables in between, the daemon refuses the
 * whole batch and nothing changes: the user runs the command again.  A
 * guest write to any other variable does not conflict.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <vmvars/json_v2.h>

#include "backend/store_lock.h"
#include "cli/cli.h"
#include "cli/live.h"
#include "format/json_v2_internal.h"

/* A reply (a dump of a full store) may be large; no request waits longer
 * than this for the daemon, which answers between guest requests. */
#define LIVE_TIMEOUT_MS 30000
#define LIVE_REPLY_MAX (64u << 20)

struct vv_live {
	int fd;
	char *socket;
	struct vv_store *base;          /* the NV content as read */
};

bool
vv_live_is_address(const char *path)
{
	return strncmp(path, "vm:", 3) == 0 || strncmp(path, "socket:", 7) == 0;
}

static const char *
state_root(void)
{
	const char *env = getenv("VMVARS_STATE_DIR");

	return env != NULL && *env != '\0' ? env : "/var/lib/vmvars";
}

/* The socket an address names; malloc'd (NULL with err). */
static char *
resolve(const char *addr, struct vv_error *err)
{
	const char *name;
	char *path = NULL;
	struct stat st;

	if (strncmp(addr, "socket:", 7) == 0) {
		if (addr[7] == '\0') {
			vv_error_set(err, "%s: empty socket path", addr);
			return NULL;
		}
		return strdup(addr + 7);
	}
	name = addr + 3;
	if (*name == '\0' || strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0) {
		vv_error_set(err, "%s: a VM name is one path component (vmvarsd@NAME)", addr);
		return NULL;
	}
	/* vmvarsd@NAME: StateDirectory=vmvars/NAME, the socket inside it;
	 * vmvarsd-mgmt@NAME.socket: /run/vmvars/NAME/mgmt.sock. */
	if (asprintf(&path, "%s/%s/mgmt.sock", state_root(), name) < 0)
		return NULL;
	if (stat(path, &st) != 0) {
		char *run;

		if (asprintf(&run, "/run/vmvars/%s/mgmt.sock", name) >= 0) {
			if (stat(run, &st) == 0) {
				free(path);
				return run;
			}
			free(run);
		}
	}
	return path;
}

static int
send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One request line out, one reply line back, parsed.  NULL with err. */
static struct json_object *
roundtrip(struct vv_live *l, struct json_object *req, struct vv_error *err)
{
	const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	struct json_object *reply = NULL;
	enum json_tokener_error jerr;

	if (buf == NULL) {
		vv_error_set(err, "out of memory");
		return NULL;
	}
	if (send_all(l->fd, text, strlen(text)) != 0 || send_all(l->fd, "\n", 1) != 0) {
		vv_error_set(err, "%s: send: %s", l->socket, strerror(errno));
		goto out;
	}
	for (;;) {
		struct pollfd p = { l->fd, POLLIN, 0 };
		char *nl;
		ssize_t n;
		int pr;

		if (len > 0 && (nl = memchr(buf, '\n', len)) != NULL) {
			*nl = '\0';
			break;
		}
		if (len + 1 >= cap) {
			char *bigger;

			if (cap >= LIVE_REPLY_MAX) {
				vv_error_set(err, "%s: reply longer than %u bytes", l->socket,
					     LIVE_REPLY_MAX);
				goto out;
			}
			bigger = realloc(buf, cap * 2);
			if (bigger == NULL) {
				vv_error_set(err, "out of memory");
				goto out;
			}
			buf = bigger;
			cap *= 2;
		}
		pr = poll(&p, 1, LIVE_TIMEOUT_MS);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			vv_error_set(err, "%s: no reply within %d s", l->socket,
				     LIVE_TIMEOUT_MS / 1000);
			goto out;
		}
		n = recv(l->fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			vv_error_set(err, "%s: the daemon closed the connection%s%s", l->socket,
				     n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
			goto out;
		}
		len += (size_t)n;
	}
	reply = json_tokener_parse_verbose(buf, &jerr);
	if (reply == NULL || !json_object_is_type(reply, json_type_object)) {
		json_object_put(reply);
		reply = NULL;
		vv_error_set(err, "%s: the reply is not a JSON object", l->socket);
	}
out:
	free(buf);
	return reply;
}

static bool
reply_ok(struct json_object *reply)
{
	struct json_object *ok;

	return json_object_object_get_ex(reply, "ok", &ok) &&
	       json_object_is_type(ok, json_type_boolean) && json_object_get_boolean(ok);
}

static const char *
reply_error(struct json_object *reply)
{
	struct json_object *e;

	if (json_object_object_get_ex(reply, "error", &e) &&
	    json_object_is_type(e, json_type_string))
		return json_object_get_string(e);
	return "refused (no reason given)";
}

void
vv_live_close(struct vv_live *l)
{
	if (l == NULL)
		return;
	if (l->fd >= 0)
		close(l->fd);
	vv_store_free(l->base);
	free(l->socket);
	free(l);
}

static struct vv_live *
live_connect(const char *addr, struct vv_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vv_live *l = calloc(1, sizeof(*l));

	if (l == NULL) {
		vv_error_set(err, "out of memory");
		return NULL;
	}
	l->fd = -1;
	if ((l->socket = resolve(addr, err)) == NULL)
		goto fail;
	if (strlen(l->socket) >= sizeof(sa.sun_path)) {
		vv_error_set(err, "%s: socket path too long", l->socket);
		goto fail;
	}
	strcpy(sa.sun_path, l->socket);
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->fd < 0 || connect(l->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		vv_error_set(err, "%s: cannot connect to the VM's management socket %s: %s%s",
			     addr, l->socket, strerror(errno),
			     strncmp(addr, "vm:", 3) == 0 ?
			     " (is vmvarsd running for it? VMVARS_STATE_DIR sets where VMs live)" :
			     "");
		goto fail;
	}
	return l;
fail:
	vv_live_close(l);
	return NULL;
}

/* The daemon's limits from a dump reply into l (members it lacks keep
 * l's values: an older daemon). */
static void
limits_from(struct json_object *reply, struct vv_limits *l)
{
	static const struct { const char *key; size_t off; } f[] = {
		{ "nv_storage", offsetof(struct vv_limits, nv_storage) },
		{ "hwerr_storage", offsetof(struct vv_limits, hwerr_storage) },
		{ "volatile_storage", offsetof(struct vv_limits, volatile_storage) },
		{ "max_variable_size", offsetof(struct vv_limits, max_variable_size) },
		{ "max_auth_variable_size", offsetof(struct vv_limits, max_auth_variable_size) },
		{ "max_volatile_variable_size",
		  offsetof(struct vv_limits, max_volatile_variable_size) },
		{ "max_hwerr_variable_size", offsetof(struct vv_limits, max_hwerr_variable_size) },
		{ "variable_overhead", offsetof(struct vv_limits, variable_overhead) },
	};
	struct json_object *lim, *v;

	if (!json_object_object_get_ex(reply, "limits", &lim) ||
	    !json_object_is_type(lim, json_type_object))
		return;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (json_object_object_get_ex(lim, f[i].key, &v) &&
		    json_object_is_type(v, json_type_int))
			*(uint64_t *)((char *)l + f[i].off) = json_object_get_uint64(v);
}

int
vv_live_load(const char *addr, struct vv_store **sp, struct vv_live **out, struct vv_error *err)
{
	struct json_object *req = json_object_new_object(), *reply = NULL, *store;
	struct vv_store *s = *sp;
	struct vv_limits lim = *vv_store_limits(s);
	struct vv_live *l;
	const char *text;
	int rc = -1;

	*out = NULL;
	if ((l = live_connect(addr, err)) == NULL) {
		json_object_put(req);
		return -1;
	}
	json_object_object_add(req, "cmd", json_object_new_string("dump"));
	reply = roundtrip(l, req, err);
	if (reply == NULL)
		goto out;
	if (!reply_ok(reply)) {
		vv_error_set(err, "%s: %s", addr, reply_error(reply));
		goto out;
	}
	if (!json_object_object_get_ex(reply, "store", &store)) {
		vv_error_set(err, "%s: the daemon's dump holds no store (an older vmvarsd?)",
			     addr);
		goto out;
	}
	text = json_object_to_json_string_ext(store, JSON_C_TO_STRING_PLAIN);
	/* The daemon's quotas, so that an edit (a rollover's room check) is
	 * judged by the limits the VM has.  The store is new and empty; it
	 * gets the phase the caller gave it (EndOfDxe, store_file.c). */
	limits_from(reply, &lim);
	if (memcmp(&lim, vv_store_limits(s), sizeof(lim)) != 0) {
		struct vv_store *n = vv_store_new(&lim);

		if (n == NULL) {
			vv_error_set(err, "%s: the VM's limits are not usable", addr);
			goto out;
		}
		if (vv_store_end_of_dxe(s))
			vv_store_signal(n, VV_EVENT_END_OF_DXE);
		vv_store_free(s);
		*sp = s = n;
	}
	l->base = vv_store_new(&lim);
	if (l->base == NULL) {
		vv_error_set(err, "out of memory");
		goto out;
	}
	if (vv_json_v2_parse(l->base, text, strlen(text), addr, err) != 0 ||
	    vv_json_v2_parse(s, text, strlen(text), addr, err) != 0)
		goto out;
	*out = l;
	l = NULL;
	rc = 0;
out:
	vv_live_close(l);
	json_object_put(req);
	json_object_put(reply);
	return rc;
}

/* ---- the difference, as a batch ---- */

static bool
same_var(const struct vv_variable *a, const struct vv_variable *b)
{
	return a->attributes == b->attributes && a->data_size == b->data_size &&
	       (a->data_size == 0 || memcmp(a->data, b->data, a->data_size) == 0) &&
	       a->has_time == b->has_time &&
	       (!a->has_time || memcmp(&a->time, &b->time, sizeof(a->time)) == 0) &&
	       a->digest_size == b->digest_size &&
	       memcmp(a->digest, b->digest, a->digest_size) == 0;
}

/* The daemon's "expect" for a variable as read (management.md). */
static struct json_object *
expect_of(const struct vv_variable *v)
{
	static const char digits[] = "0123456789abcdef";
	uint8_t md[32] = { 0 }, attr[4];
	char hex[65];
	EVP_MD_CTX *c;

	if (v == NULL)
		return json_object_new_string("absent");
	attr[0] = (uint8_t)v->attributes;
	attr[1] = (uint8_t)(v->attributes >> 8);
	attr[2] = (uint8_t)(v->attributes >> 16);
	attr[3] = (uint8_t)(v->attributes >> 24);
	c = EVP_MD_CTX_new();
	if (c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(c, attr, 4) == 1 && EVP_DigestUpdate(c, v->data, v->data_size) == 1)
		EVP_DigestFinal_ex(c, md, NULL);
	EVP_MD_CTX_free(c);
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
	return json_object_new_string(hex);
}

/* The variable's store-file object (guid, name[, attr, data, time,
 * digest]); NULL if out of memory. */
static struct json_object *
var_object(const struct vv_variable *v, bool key_only)
{
	size_t len;
	char *text = vv_json_v2_var_members("{", v, key_only, "}", &len);
	struct json_object *o;

	if (text == NULL)
		return NULL;
	o = json_tokener_parse(text);
	free(text);
	return o;
}

/* Adds the NV changes from base to now to arr; -1 if out of memory. */
static int
diff(const struct vv_store *base, const struct vv_store *now, struct json_object *arr)
{
	const struct vv_variable *v, *old;

	for (v = vv_store_first(base); v != NULL; v = vv_store_next(v)) {
		struct json_object *c, *key;
		const struct vv_variable *cur;

		if (!(v->attributes & VV_ATTR_NV))
			continue;
		cur = vv_store_find(now, v->name, v->name_len, &v->guid);
		if (cur != NULL && (cur->attributes & VV_ATTR_NV))
			continue;
		if ((key = var_object(v, true)) == NULL)
			return -1;
		c = json_object_new_object();
		json_object_object_add(c, "op", json_object_new_string("remove"));
		json_object_object_add(c, "guid", json_object_get(json_object_object_get(key, "guid")));
		json_object_object_add(c, "name", json_object_get(json_object_object_get(key, "name")));
		json_object_object_add(c, "expect", expect_of(v));
		json_object_put(key);
		json_object_array_add(arr, c);
	}
	for (v = vv_store_first(now); v != NULL; v = vv_store_next(v)) {
		struct json_object *c, *var;

		if (!(v->attributes & VV_ATTR_NV))
			continue;
		old = vv_store_find(base, v->name, v->name_len, &v->guid);
		if (old != NULL && !(old->attributes & VV_ATTR_NV))
			old = NULL;
		if (old != NULL && same_var(old, v))
			continue;
		if ((var = var_object(v, false)) == NULL)
			return -1;
		c = json_object_new_object();
		json_object_object_add(c, "op", json_object_new_string("put"));
		json_object_object_add(c, "var", var);
		json_object_object_add(c, "expect", expect_of(old));
		json_object_array_add(arr, c);
	}
	return 0;
}

int
vv_live_save(struct vv_live *l, const char *addr, const struct vv_store *s, size_t *changes,
	     struct vv_error *err)
{
	struct json_object *req = json_object_new_object(), *arr = json_object_new_array();
	struct json_object *reply = NULL;
	int rc = -1;

	*changes = 0;
	json_object_object_add(req, "cmd", json_object_new_string("batch"));
	json_object_object_add(req, "changes", arr);
	if (diff(l->base, s, arr) != 0) {
		vv_error_set(err, "out of memory");
		goto out;
	}
	*changes = json_object_array_length(arr);
	if (*changes == 0) {
		rc = 0;                 /* nothing to do: nothing sent */
		goto out;
	}
	reply = roundtrip(l, req, err);
	if (reply == NULL) {
		/* The daemon may or may not have applied it (all or nothing):
		 * say so rather than guess. */
		vv_error_prefix(err, "%s: no answer to the batch; it was applied whole or not at "
				"all -- check with `vmvars list`", addr);
		goto out;
	}
	if (!reply_ok(reply)) {
		vv_error_set(err, "%s: the VM refused the change: %s", addr, reply_error(reply));
		goto out;
	}
	rc = 0;
out:
	json_object_put(req);
	json_object_put(reply);
	return rc;
}

/* ---- the offline refusal ---- */

void
vv_live_lock_hint(const char *store_path, struct vv_error *err)
{
	char *lock = vv_store_lock_path(store_path), buf[128], prog[64] = "", *dir, *slash;
	const char *root = state_root();
	long pid = 0;
	ssize_t n;
	int fd;

	if (lock == NULL)
		return;
	fd = open(lock, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	free(lock);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if (sscanf(buf, "%ld %63[A-Za-z0-9._-]", &pid, prog) != 2 || strcmp(prog, "vmvarsd") != 0)
		return;
	dir = strdup(store_path);
	if (dir == NULL)
		return;
	slash = strrchr(dir, '/');
	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	/* Under the state root: the VM's name works; else the socket. */
	slash = strrchr(dir, '/');
	if (slash != NULL && (size_t)(slash - dir) == strlen(root) &&
	    strncmp(dir, root, strlen(root)) == 0 && slash[1] != '\0')
		vv_error_set(err, "%s is in use by vmvarsd (pid %ld), which serves it to a running "
			     "VM; edit it live with --vm %s (or --socket %s/mgmt.sock)", store_path,
			     pid, slash + 1, dir);
	else
		vv_error_set(err, "%s is in use by vmvarsd (pid %ld), which serves it to a running "
			     "VM; edit it live with --socket %s/mgmt.sock (its --mgmt-socket)",
			     store_path, pid, dir);
	free(dir);
}
