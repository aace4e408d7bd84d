/*
 * src/backend/journal_backend.c -- the journaled JSON v2 backend
 * (vmvars/backend.h: vv_json_journal_backend_new; issue #8).
 *
 * Files.  <path> is the snapshot: a JSON v2 store file (device-abi §12,
 * formats §3), exactly what the plain file backend writes, so QEMU,
 * virt-fw-vars and our own tools read it.  <path>.journal holds one line
 * per change committed since that snapshot:
 *
 *   <8 hex digits: CRC-32C of the JSON text> <JSON object>\n
 *   {"op":"put","guid":..,"name":..,"attr":..,"data":..[,"time":..][,"digest":..]}
 *   {"op":"delete","guid":..,"name":..}
 *   {"op":"batch","changes":[<put or delete object>,...]}
 *
 * A batch record (VV_CHANGE_BATCH, vv_store_batch_commit) holds several
 * changes that take effect together: one line, one CRC, one append and
 * one fdatasync, so a crash leaves the whole batch or none of it.  On
 * load every change of a batch is parsed before any is applied; a torn
 * batch is dropped whole like any torn record.
 *
 * The object's members are those of a store-file variable, encoded and
 * checked by the same code (src/format/json_v2_internal.h).  A JSON text
 * never holds a raw newline, so lines are records.
 *
 * Commit of one change: one record appended at the known end of the
 * journal and fdatasync'd (the directory is fsync'd once, when the journal
 * file is created).  A failed write or sync truncates the journal back to
 * its previous length and fails, so the store undoes the change.  Cost:
 * O(record), whatever the store's size.
 *
 * Compaction: when the journal passes max(64 KiB, snapshot size), on a
 * whole-store commit (vv_store_flush) and on destroy, the whole store is
 * written through the plain file backend (temp file, fsync, rename,
 * directory fsync) and then the journal is truncated and fsync'd.  A crash
 * between the rename and the truncate leaves records that the new snapshot
 * already contains; replaying them gives the same contents (a put is
 * "this variable now holds this", a delete of a missing variable is
 * nothing), so the crash is harmless.  Amortised, each compaction of S
 * bytes follows at least max(64 KiB, S) bytes of records: O(1) per write.
 *
 * Load: the snapshot (missing or empty = empty), then each record in order.
 * The last line may be torn -- no newline, or a header or CRC that does not
 * match -- if we crashed while appending it; it was never acknowledged, so
 * it is dropped and the journal truncated to the last good record.  Either
 * drop is reported (vv_store_load_warning): a complete last line with a bad
 * frame is what a crash leaves when the page holding the newline reached
 * the disk before an earlier one, but also what a damaged acknowledged
 * record looks like, and only the person can tell.  A bad record anywhere
 * else is corruption: the load fails naming the journal, the record's byte
 * offset and the reason, and the store stays empty.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vmvars/backend.h>
#include <vmvars/json_v2.h>
#include <vmvars/ucs2.h>

#include "backend/journal_backend.h"
#include "core/crc32c.h"
#include "core/name_hash.h"
#include "format/json_v2_internal.h"

/* Compact once the journal passes max(this, snapshot size). */
#define JOURNAL_MIN_COMPACT (64u * 1024)
/* "xxxxxxxx " before the JSON text of a record. */
#define RECORD_HEADER_LEN 9

struct journal_backend {
	struct vv_backend base;         /* first: the vtable users see */
	char *path;                     /* the snapshot */
	char *jpath;                    /* <path>.journal */
	struct vv_backend *snapshot;    /* plain file backend on path */
	int fd;                         /* journal, for writing; -1 until needed */
	/* Length of the journal's good records: the next record goes here. */
	off_t jlen;
	off_t snapshot_size;
	/* Disk (snapshot + journal) holds exactly the store's NV content, so a
	 * record may be appended.  False before a load or a compaction, and
	 * after a failed append could not be rolled back: the next commit then
	 * compacts, which makes disk equal memory again. */
	bool synced;
	/* vv_json_journal_backend_new_readonly: load touches nothing, commits
	 * fail, destroy does not compact. */
	bool read_only;
	/* test-only fault injection (journal_backend.h) */
	enum vv_journal_step fail_step;
	int fail_errno;
};

static struct journal_backend *
to_journal(struct vv_backend *b)
{
	return (struct journal_backend *)b;
}

void
vv_journal_backend_fail_next(struct vv_backend *b, enum vv_journal_step step, int err_no)
{
	to_journal(b)->fail_step = step;
	to_journal(b)->fail_errno = err_no;
}

struct vv_backend *
vv_journal_backend_snapshot(struct vv_backend *b)
{
	return to_journal(b)->snapshot;
}

/* True (with errno set) if the test armed this step; disarms it. */
static bool
injected(struct journal_backend *jb, enum vv_journal_step step)
{
	if (jb->fail_step != step)
		return false;
	jb->fail_step = VV_JOURNAL_STEP_NONE;
	errno = jb->fail_errno;
	return true;
}

/* ------------------------------------------------------------------ */
/* The replayed state: variables in store order, hashed by key          */
/* ------------------------------------------------------------------ */

struct rvar {
	struct vv_variable v;           /* name and data owned */
	struct rvar *prev, *next, *hnext;
	uint64_t hash;
};

struct replay {
	struct rvar *head, *tail;
	struct rvar **buckets;
	size_t nbuckets, count;
};

static void
rvar_free(struct rvar *r)
{
	free(r->v.name);
	free(r->v.data);
	free(r);
}

static void
replay_free(struct replay *r)
{
	struct rvar *v, *next;

	for (v = r->head; v != NULL; v = next) {
		next = v->next;
		rvar_free(v);
	}
	free(r->buckets);
	memset(r, 0, sizeof(*r));
}

static struct rvar **
replay_slot(struct replay *r, const vv_guid *guid, const uint16_t *name, size_t name_len,
	    uint64_t hash)
{
	struct rvar **p = &r->buckets[hash & (r->nbuckets - 1)];

	for (; *p != NULL; p = &(*p)->hnext)
		if ((*p)->hash == hash && (*p)->v.name_len == name_len &&
		    memcmp(&(*p)->v.guid, guid, sizeof(*guid)) == 0 &&
		    memcmp((*p)->v.name, name, name_len * 2) == 0)
			break;
	return p;
}

/* Doubles the table at load factor 1 (as the store does). */
static int
replay_grow(struct replay *r)
{
	size_t n = r->nbuckets ? r->nbuckets * 2 : 64;
	struct rvar **b, *v;

	if (r->count < r->nbuckets)
		return 0;
	b = calloc(n, sizeof(*b));
	if (b == NULL)
		return -1;
	free(r->buckets);
	r->buckets = b;
	r->nbuckets = n;
	for (v = r->head; v != NULL; v = v->next) {
		v->hnext = b[v->hash & (n - 1)];
		b[v->hash & (n - 1)] = v;
	}
	return 0;
}

/*
 * A put: the variable now holds exactly in's contents.  An existing one
 * keeps its place (store.h invariant 3); a new one goes last.  Takes
 * ownership of in->name and in->data.
 */
static int
replay_put(struct replay *r, struct vv_variable *in)
{
	uint64_t hash = vv_name_hash(&in->guid, in->name, in->name_len);
	struct rvar **slot, *v;

	if (replay_grow(r) != 0)
		return -1;
	slot = replay_slot(r, &in->guid, in->name, in->name_len, hash);
	if (*slot != NULL) {
		v = *slot;
		free(v->v.name);
		free(v->v.data);
		v->v = *in;
		return 0;
	}
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return -1;
	v->v = *in;
	v->hash = hash;
	*slot = v;
	v->prev = r->tail;
	if (r->tail != NULL)
		r->tail->next = v;
	else
		r->head = v;
	r->tail = v;
	r->count++;
	return 0;
}

/* A delete: removes the variable if present (absent: already applied). */
static void
replay_delete(struct replay *r, const vv_guid *guid, const uint16_t *name, size_t name_len)
{
	uint64_t hash = vv_name_hash(guid, name, name_len);
	struct rvar **slot, *v;

	if (r->nbuckets == 0)
		return;
	slot = replay_slot(r, guid, name, name_len, hash);
	if ((v = *slot) == NULL)
		return;
	*slot = v->hnext;
	if (v->prev != NULL)
		v->prev->next = v->next;
	else
		r->head = v->next;
	if (v->next != NULL)
		v->next->prev = v->prev;
	else
		r->tail = v->prev;
	r->count--;
	rvar_free(v);
}

/* Copies every variable of s into r, in store order. */
static int
replay_from_store(struct replay *r, const struct vv_store *s)
{
	const struct vv_variable *v;

	for (v = vv_store_first(s); v != NULL; v = vv_store_next(v)) {
		struct vv_variable copy = *v;

		copy.name = malloc(vv_var_name_size(v));
		copy.data = malloc(v->data_size ? v->data_size : 1);
		if (copy.name == NULL || copy.data == NULL) {
			free(copy.name);
			free(copy.data);
			return -1;
		}
		memcpy(copy.name, v->name, vv_var_name_size(v));
		if (v->data_size)
			memcpy(copy.data, v->data, v->data_size);
		if (replay_put(r, &copy) != 0) {
			free(copy.name);
			free(copy.data);
			return -1;
		}
	}
	return 0;
}

/* Adds the replayed variables to s in order; errors name the variable. */
static int
replay_into_store(const struct replay *r, struct vv_store *s, const char *origin,
		  struct vv_error *err)
{
	for (const struct rvar *v = r->head; v != NULL; v = v->next) {
		if (vv_store_insert_loaded(s, &v->v, err) != 0) {
			char guid[VV_GUID_TEXT_LEN + 1];
			char *name = vv_ucs2_to_utf8(v->v.name, v->v.name_len);

			/* The store names the rule; we name the variable. */
			vv_guid_format(&v->v.guid, guid);
			vv_error_prefix(err, "%s: after replay: variable %.100s (%s)", origin,
					name != NULL ? name : "?", guid);
			free(name);
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Records                                                              */
/* ------------------------------------------------------------------ */

/*
 * Checks a line's frame: "xxxxxxxx " then JSON text whose CRC-32C is the
 * hex number.  Returns NULL if good, else the reason.
 */
static const char *
check_frame(const char *line, size_t len)
{
	uint32_t want = 0;

	if (len < RECORD_HEADER_LEN + 2)
		return "too short for a record";
	for (int i = 0; i < 8; i++) {
		int d = vv_hex_digit(line[i]);

		if (d < 0)
			return "header is not 8 hex digits";
		want = want << 4 | (uint32_t)d;
	}
	if (line[8] != ' ')
		return "no space after the CRC";
	if (vv_crc32c(line + RECORD_HEADER_LEN, len - RECORD_HEADER_LEN) != want)
		return "CRC-32C mismatch";
	return NULL;
}

/* The "op" member: 1 put, 0 delete, -1 with err. */
static int
record_op(struct json_object *obj, const char *origin, struct vv_error *err)
{
	struct json_object *op;
	const char *text;

	if (!json_object_is_type(obj, json_type_object))
		return vv_error_set(err, "%s: not an object", origin);
	if (!json_object_object_get_ex(obj, "op", &op))
		return vv_error_set(err, "%s: op: missing", origin);
	if (!json_object_is_type(op, json_type_string))
		return vv_error_set(err, "%s: op: must be a string", origin);
	text = json_object_get_string(op);
	if (strcmp(text, "put") == 0 && json_object_get_string_len(op) == 3)
		return 1;
	if (strcmp(text, "delete") == 0 && json_object_get_string_len(op) == 6)
		return 0;
	if (strcmp(text, "batch") == 0 && json_object_get_string_len(op) == 5)
		return 2;
	return vv_error_set(err, "%s: op: must be \"put\", \"delete\" or \"batch\"", origin);
}

/* One put or delete of a batch record, parsed before any is applied. */
struct batch_op {
	bool del;
	struct vv_variable v;
};

/*
 * A batch record: {"op":"batch","changes":[put or delete objects...]}.
 * Every change is parsed and checked before the first is applied, so a
 * bad one leaves r as it was: the record counts whole or not at all (and
 * a torn one never gets here: its frame fails first).
 */
static int
apply_batch(struct replay *r, struct json_object *obj, const char *origin, struct vv_error *err)
{
	struct json_object *changes;
	struct batch_op *ops;
	size_t n, done = 0;
	char where[700];
	int rc = -1;

	if (json_object_object_length(obj) != 2 ||
	    !json_object_object_get_ex(obj, "changes", &changes))
		return vv_error_set(err, "%s: a batch has exactly \"op\" and \"changes\"", origin);
	if (!json_object_is_type(changes, json_type_array) ||
	    (n = json_object_array_length(changes)) == 0)
		return vv_error_set(err, "%s: changes: must be a non-empty array", origin);
	ops = calloc(n, sizeof(*ops));
	if (ops == NULL)
		return vv_error_set(err, "%s: out of memory", origin);
	for (; done < n; done++) {
		struct json_object *c = json_object_array_get_idx(changes, done);
		int op;

		snprintf(where, sizeof(where), "%s: change %zu", origin, done);
		op = record_op(c, where, err);
		if (op == 2)
			vv_error_set(err, "%s: op: a batch cannot hold a batch", where);
		if (op < 0 || op == 2)
			goto out;
		ops[done].del = op == 0;
		if (vv_json_v2_var_from_object(c, where, "op", op == 0, &ops[done].v, err) != 0)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (ops[i].del) {
			replay_delete(r, &ops[i].v.guid, ops[i].v.name, ops[i].v.name_len);
		} else if (replay_put(r, &ops[i].v) != 0) {
			/* Out of memory halfway: the load fails as a whole. */
			vv_error_set(err, "%s: out of memory", origin);
			goto out;
		} else {
			ops[i].v.name = NULL;   /* owned by r now */
			ops[i].v.data = NULL;
		}
	}
	rc = 0;
out:
	for (size_t i = 0; i < done && i < n; i++) {
		free(ops[i].v.name);
		free(ops[i].v.data);
	}
	free(ops);
	return rc;
}

/* Applies one framed record's JSON text to r; origin names the record. */
static int
apply_record(struct replay *r, const char *json, size_t len, const char *origin,
	     struct vv_error *err)
{
	struct json_object *obj = vv_json_v2_tokenize(json, len, origin, err);
	struct vv_variable v;
	int op, rc = -1;

	if (obj == NULL)
		return -1;
	op = record_op(obj, origin, err);
	if (op < 0)
		goto out;
	if (op == 2) {
		rc = apply_batch(r, obj, origin, err);
		goto out;
	}
	if (vv_json_v2_var_from_object(obj, origin, "op", op == 0, &v, err) != 0)
		goto out;
	if (op == 0) {
		replay_delete(r, &v.guid, v.name, v.name_len);
		free(v.name);
		rc = 0;
	} else if (replay_put(r, &v) != 0) {
		free(v.name);
		free(v.data);
		vv_error_set(err, "%s: out of memory", origin);
	} else {
		rc = 0;
	}
out:
	json_object_put(obj);
	return rc;
}

/* The last line load dropped, for the warning (journal_load). */
struct dropped_tail {
	size_t off, len;
	const char *why;        /* NULL: nothing dropped */
	bool complete;          /* it ended with a newline */
};

/*
 * Replays journal text onto r.  *good_len: the bytes of whole, good records
 * (a torn last line excluded).  tail (may be NULL) says what was dropped.
 */
static int
replay_journal(struct replay *r, const char *text, size_t len, const char *origin,
	       size_t *good_len, struct dropped_tail *tail, struct vv_error *err)
{
	char where[600];
	size_t off = 0;

	while (off < len) {
		const char *line = text + off;
		const char *nl = memchr(line, '\n', len - off);
		size_t line_len;
		const char *why;

		if (nl == NULL) {
			/* torn: the write never completed */
			if (tail != NULL)
				*tail = (struct dropped_tail){ off, len - off, "no newline", false };
			break;
		}
		line_len = (size_t)(nl - line);
		why = check_frame(line, line_len);
		if (why != NULL) {
			/* A complete last line whose frame is bad: an append cut
			 * short by a crash can leave it (the page holding the
			 * newline reached the disk, an earlier one did not), so
			 * it is dropped like a torn one -- but corruption of an
			 * acknowledged record looks the same, so load reports it
			 * (journal_load). */
			if (off + line_len + 1 == len) {
				if (tail != NULL)
					*tail = (struct dropped_tail){ off, line_len + 1, why, true };
				break;
			}
			return vv_error_set(err, "%s: record at byte %zu: %s", origin, off, why);
		}
		snprintf(where, sizeof(where), "%s: record at byte %zu", origin, off);
		if (apply_record(r, line + RECORD_HEADER_LEN, line_len - RECORD_HEADER_LEN, where,
				 err) != 0)
			return -1;
		off += line_len + 1;
	}
	*good_len = off;
	return 0;
}

/* A store with no quota worth the name, for replaying what a real store
 * (whose quotas were enforced when it was written) accepted. */
static struct vv_store *
scratch_store(void)
{
	struct vv_limits l;

	vv_limits_default(&l);
	l.nv_storage = UINT64_MAX / 4;
	l.hwerr_storage = UINT64_MAX / 8;
	l.volatile_storage = UINT64_MAX / 4;
	l.max_variable_size = UINT64_MAX / 4;
	l.max_auth_variable_size = UINT64_MAX / 4;
	l.max_volatile_variable_size = UINT64_MAX / 4;
	l.max_hwerr_variable_size = UINT64_MAX / 4;
	return vv_store_new(&l);
}

/* Replays journal text onto the snapshot held in base (may be NULL) and
 * adds the result to s. */
static int
replay_onto(struct vv_store *s, const struct vv_store *base, const char *text, size_t len,
	    const char *origin, size_t *good_len, struct dropped_tail *tail, struct vv_error *err)
{
	struct replay r = { 0 };
	int rc = -1;

	if (base != NULL && replay_from_store(&r, base) != 0) {
		vv_error_set(err, "%s: out of memory", origin);
		goto out;
	}
	if (replay_journal(&r, text, len, origin, good_len, tail, err) != 0)
		goto out;
	rc = replay_into_store(&r, s, origin, err);
out:
	replay_free(&r);
	return rc;
}

int
vv_journal_replay_text(struct vv_store *s, const char *text, size_t len, const char *origin,
		       size_t *good_len, struct vv_error *err)
{
	return replay_onto(s, NULL, text, len, origin ? origin : "<journal>", good_len, NULL,
			   err);
}

int
vv_journal_load_text(struct vv_store *s, const char *path, const char *snapshot,
		     size_t snapshot_len, const char *journal, size_t journal_len,
		     size_t *good_len, struct vv_error *err)
{
	struct vv_store *base;
	char *jpath;
	int rc = -1;

	*good_len = 0;
	if (snapshot == NULL)
		snapshot_len = 0;
	/* As read_state: nothing to replay, the snapshot goes straight in. */
	if (journal == NULL || journal_len == 0)
		return vv_json_v2_parse(s, snapshot != NULL ? snapshot : "", snapshot_len, path,
					err);
	if (asprintf(&jpath, "%s.journal", path) < 0)
		return vv_error_set(err, "%s: out of memory", path);
	base = scratch_store();
	if (base == NULL)
		vv_error_set(err, "%s: out of memory", path);
	else if (vv_json_v2_parse(base, snapshot != NULL ? snapshot : "", snapshot_len, path,
				  err) == 0)
		rc = replay_onto(s, base, journal, journal_len, jpath, good_len, NULL, err);
	vv_store_free(base);
	free(jpath);
	return rc;
}

char *
vv_journal_fold_text(const char *path, const char *snapshot, size_t snapshot_len,
		     const char *journal, size_t journal_len, size_t *len, size_t *good_len,
		     struct vv_error *err)
{
	struct vv_store *s = scratch_store();
	char *text = NULL;

	if (s == NULL) {
		vv_error_set(err, "%s: out of memory", path);
		return NULL;
	}
	if (vv_journal_load_text(s, path, snapshot, snapshot_len, journal, journal_len,
				 good_len, err) == 0 &&
	    (text = vv_json_v2_serialize(s, len)) == NULL)
		vv_error_set(err, "%s: out of memory", path);
	vv_store_free(s);
	return text;
}

/* ------------------------------------------------------------------ */
/* Load                                                                 */
/* ------------------------------------------------------------------ */

/* Reads the journal; a missing one is empty (*exists false). */
static int
read_journal(struct journal_backend *jb, char **text, size_t *len, bool *exists,
	     struct vv_error *err)
{
	struct stat st;
	int fd, rc = 0;

	*text = NULL;
	*len = 0;
	*exists = false;
	fd = open(jb->jpath, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return vv_error_set(err, "%s: open: %s", jb->jpath, strerror(errno));
	if (fstat(fd, &st) != 0)
		rc = vv_error_set(err, "%s: fstat: %s", jb->jpath, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = vv_error_set(err, "%s: not a regular file", jb->jpath);
	else if (vv_file_read_all(fd, text, len) != 0)
		rc = vv_error_set(err, "%s: read: %s", jb->jpath, strerror(errno));
	else
		*exists = true;
	close(fd);
	return rc;
}

/*
 * Snapshot + journal into s.  *good_len and *journal_len: the good records'
 * length and the journal's size (they differ by a torn tail).
 */
static int
read_state(struct journal_backend *jb, struct vv_store *s, size_t *good_len,
	   size_t *journal_len, bool *journal_exists, struct dropped_tail *tail,
	   struct vv_error *err)
{
	struct vv_store *base = NULL;
	char *text;
	size_t len;
	int rc = -1;

	if (read_journal(jb, &text, &len, journal_exists, err) != 0)
		return -1;
	*journal_len = len;
	*good_len = 0;
	if (len == 0) {
		/* Nothing to replay: the snapshot loads straight into s, with
		 * the plain backend's messages. */
		rc = jb->snapshot->ops->load(jb->snapshot, s, err);
		goto out;
	}
	base = scratch_store();
	if (base == NULL) {
		vv_error_set(err, "%s: out of memory", jb->path);
		goto out;
	}
	if (jb->snapshot->ops->load(jb->snapshot, base, err) != 0)
		goto out;
	rc = replay_onto(s, base, text, len, jb->jpath, good_len, tail, err);
out:
	vv_store_free(base);
	free(text);
	return rc;
}

/* Opens the journal for writing, creating it (and making the create
 * durable with a directory fsync) if it does not exist. */
static int
open_journal(struct journal_backend *jb, struct vv_error *err)
{
	struct stat st;
	int fd;

	if (jb->fd >= 0)
		return 0;
	fd = open(jb->jpath, O_WRONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		fd = open(jb->jpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return vv_error_set(err, "%s: create: %s", jb->jpath, strerror(errno));
		if (vv_file_sync_parent(jb->jpath, 0, err) != 0) {
			close(fd);
			return -1;
		}
	} else if (fd < 0) {
		return vv_error_set(err, "%s: open: %s", jb->jpath, strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return vv_error_set(err, "%s: not a regular file", jb->jpath);
	}
	jb->fd = fd;
	return 0;
}

/*
 * Cuts the journal to len bytes, durably.  jlen follows the file as soon as
 * ftruncate has cut it, even if the fsync then fails: the next record must
 * go at the file's real end.  (Keeping the old jlen there made the next
 * append leave a hole of zero bytes before its record; load took the
 * zeros and the record for one torn line and dropped an acknowledged
 * write -- found by the fault campaign, tests/test_faults.c.)
 */
static int
truncate_journal(struct journal_backend *jb, off_t len, struct vv_error *err)
{
	if (injected(jb, VV_JOURNAL_STEP_TRUNCATE) || ftruncate(jb->fd, len) != 0)
		return vv_error_set(err, "%s: truncate to %lld bytes: %s", jb->jpath,
				    (long long)len, strerror(errno));
	jb->jlen = len;
	if (injected(jb, VV_JOURNAL_STEP_TRUNCATE_SYNC) || fsync(jb->fd) != 0)
		return vv_error_set(err, "%s: fsync after truncating to %lld bytes: %s",
				    jb->jpath, (long long)len, strerror(errno));
	return 0;
}

static off_t
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : 0;
}

static int
journal_load(struct vv_backend *b, struct vv_store *s, struct vv_error *err)
{
	struct journal_backend *jb = to_journal(b);
	struct dropped_tail tail = { 0, 0, NULL, false };
	size_t good_len, journal_len;
	bool exists;

	jb->synced = false;
	if (read_state(jb, s, &good_len, &journal_len, &exists, &tail, err) != 0)
		return -1;
	if (tail.why != NULL && tail.complete)
		vv_store_load_warn(s, "%s: dropped the last record (%zu bytes at byte %zu): %s; "
				   "an append cut short by a crash leaves this and was never "
				   "acknowledged, but a damaged acknowledged write looks the same: "
				   "check the disk", jb->jpath, tail.len, tail.off, tail.why);
	else if (tail.why != NULL)
		vv_store_load_warn(s, "%s: dropped an unfinished last record (%zu bytes at byte "
				   "%zu, no newline): a write cut short by a crash, never "
				   "acknowledged", jb->jpath, tail.len, tail.off);
	jb->jlen = (off_t)good_len;
	if (jb->read_only)
		return 0;       /* a torn tail stays: its writer may be alive */
	if (exists) {
		if (open_journal(jb, err) != 0)
			return -1;
		/* A torn tail: cut it, so the next record follows a good one. */
		if (good_len < journal_len && truncate_journal(jb, (off_t)good_len, err) != 0)
			return -1;
	}
	jb->snapshot_size = file_size(jb->path);
	jb->synced = true;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Commit                                                               */
/* ------------------------------------------------------------------ */

/*
 * Writes s as the new snapshot, then empties the journal.  0 once the
 * snapshot is durable: a journal left non-empty (truncate failed) only
 * repeats what the snapshot holds, and later records still follow it.
 */
static int
compact(struct journal_backend *jb, const struct vv_store *s, struct vv_error *err)
{
	struct vv_change all = { VV_CHANGE_ALL, NULL, NULL, 0 };
	struct vv_error ignored;

	if (jb->snapshot->ops->commit(jb->snapshot, s, &all, err) != 0)
		return -1;
	jb->snapshot_size = file_size(jb->path);
	jb->synced = true;
	if (jb->fd < 0 && access(jb->jpath, F_OK) != 0) {
		jb->jlen = 0;           /* no journal: nothing to empty */
		return 0;
	}
	/* Appends resume only once the journal is known empty on disk: after a
	 * failed truncate the next commit compacts again.  Appending over an
	 * emptied journal whose new length is not durable could, after a
	 * crash, leave the new record followed by bytes of the old ones: a
	 * bad record in the middle, which load must refuse. */
	if (open_journal(jb, &ignored) != 0 || truncate_journal(jb, 0, &ignored) != 0)
		jb->synced = false;
	return 0;
}

/* The record line of one change; malloc'd, *len set. */
static char *
encode_record(const struct vv_change *change, size_t *len)
{
	bool del = change->kind == VV_CHANGE_DELETE;
	size_t json_len;
	char *json, *line;

	json = vv_json_v2_var_members(del ? "{\"op\":\"delete\"," : "{\"op\":\"put\",",
				      change->var, del, "}", &json_len);
	if (json == NULL)
		return NULL;
	line = malloc(RECORD_HEADER_LEN + json_len + 2);
	if (line != NULL) {
		snprintf(line, RECORD_HEADER_LEN + 1, "%08x ", vv_crc32c(json, json_len));
		memcpy(line + RECORD_HEADER_LEN, json, json_len);
		line[RECORD_HEADER_LEN + json_len] = '\n';
		line[RECORD_HEADER_LEN + json_len + 1] = '\0';
		*len = RECORD_HEADER_LEN + json_len + 1;
	}
	free(json);
	return line;
}

/* The JSON text of one put or delete, without a frame; malloc'd. */
static char *
encode_change(const struct vv_change *change, size_t *len)
{
	bool del = change->kind == VV_CHANGE_DELETE;

	return vv_json_v2_var_members(del ? "{\"op\":\"delete\"," : "{\"op\":\"put\",",
				      change->var, del, "}", len);
}

/* The record line of a batch: every change in one framed line, so that
 * the frame's CRC makes it all-or-nothing on load.  malloc'd, *len set. */
static char *
encode_batch_record(const struct vv_change *batch, size_t *len)
{
	static const char head[] = "{\"op\":\"batch\",\"changes\":[", tail[] = "]}";
	size_t cap = RECORD_HEADER_LEN + sizeof(head) + sizeof(tail) + 2, used, json_len;
	char **parts = calloc(batch->nbatch, sizeof(*parts));
	size_t *lens = calloc(batch->nbatch, sizeof(*lens));
	char *line = NULL;

	if (parts == NULL || lens == NULL)
		goto out;
	for (size_t i = 0; i < batch->nbatch; i++) {
		if ((parts[i] = encode_change(&batch->batch[i], &lens[i])) == NULL)
			goto out;
		cap += lens[i] + 1;
	}
	line = malloc(cap);
	if (line == NULL)
		goto out;
	used = RECORD_HEADER_LEN;
	memcpy(line + used, head, sizeof(head) - 1);
	used += sizeof(head) - 1;
	for (size_t i = 0; i < batch->nbatch; i++) {
		if (i > 0)
			line[used++] = ',';
		memcpy(line + used, parts[i], lens[i]);
		used += lens[i];
	}
	memcpy(line + used, tail, sizeof(tail) - 1);
	used += sizeof(tail) - 1;
	json_len = used - RECORD_HEADER_LEN;
	{
		char hdr[RECORD_HEADER_LEN + 1];

		snprintf(hdr, sizeof(hdr), "%08x ", vv_crc32c(line + RECORD_HEADER_LEN, json_len));
		memcpy(line, hdr, RECORD_HEADER_LEN);
	}
	line[used++] = '\n';
	line[used] = '\0';
	*len = used;
out:
	for (size_t i = 0; parts != NULL && i < batch->nbatch; i++)
		free(parts[i]);
	free(parts);
	free(lens);
	return line;
}

/* pwrite of all len bytes at off; -1 with errno. */
static int
write_at(struct journal_backend *jb, const char *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n;

		if (injected(jb, VV_JOURNAL_STEP_APPEND)) {
			int saved = errno;

			/* a short write that then fails, as ENOSPC does */
			if (pwrite(jb->fd, buf, len / 2, off) < 0)
				(void)0;
			errno = saved;
			return -1;
		}
		n = pwrite(jb->fd, buf, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/*
 * Appends one record durably.  On failure the journal is cut back to its
 * previous length, so what is on disk is what was there before; if even
 * that fails, disk may hold a record the store is about to undo, so the
 * backend stops appending until a compaction rewrites everything.
 */
static int
append_record(struct journal_backend *jb, const char *line, size_t len, struct vv_error *err)
{
	struct vv_error ignored;

	if (open_journal(jb, err) != 0)
		return -1;
	if (write_at(jb, line, len, jb->jlen) != 0) {
		vv_error_set(err, "%s: append: %s", jb->jpath, strerror(errno));
		goto undo;
	}
	if (injected(jb, VV_JOURNAL_STEP_SYNC) || fdatasync(jb->fd) != 0) {
		vv_error_set(err, "%s: fdatasync: %s", jb->jpath, strerror(errno));
		goto undo;
	}
	jb->jlen += (off_t)len;
	return 0;
undo:
	if (truncate_journal(jb, jb->jlen, &ignored) != 0)
		jb->synced = false;
	return -1;
}

static int
journal_commit(struct vv_backend *b, const struct vv_store *s, const struct vv_change *change,
	       struct vv_error *err)
{
	struct journal_backend *jb = to_journal(b);
	struct vv_error ignored;
	off_t limit;
	char *line;
	size_t len;
	int rc;

	if (jb->read_only)
		return vv_error_set(err, "%s: opened read-only", jb->path);
	/* A whole-store change, or disk not known to match memory: rewrite. */
	if (change->kind == VV_CHANGE_BATCH && jb->synced && change->nbatch > 0)
		line = encode_batch_record(change, &len);
	else if (change->kind == VV_CHANGE_ALL || change->var == NULL || !jb->synced)
		return compact(jb, s, err);
	else
		line = encode_record(change, &len);
	if (line == NULL)
		return vv_error_set(err, "%s: out of memory", jb->jpath);
	rc = append_record(jb, line, len, err);
	free(line);
	if (rc != 0)
		return -1;
	/* The change is durable now; compaction only bounds the journal, and
	 * its failure leaves a longer journal, not a lost write. */
	limit = jb->snapshot_size > JOURNAL_MIN_COMPACT ? jb->snapshot_size : JOURNAL_MIN_COMPACT;
	if (jb->jlen > limit)
		(void)compact(jb, s, &ignored);
	return 0;
}

/* Clean shutdown: fold the journal into the snapshot.  The store's
 * variables are gone by now (vv_store_free), so the state is replayed from
 * disk; any failure leaves the journal, which the next load replays. */
static void
compact_from_disk(struct journal_backend *jb)
{
	struct vv_store *s = scratch_store();
	struct vv_error err;
	size_t good_len, journal_len;
	bool exists;

	if (s != NULL && read_state(jb, s, &good_len, &journal_len, &exists, NULL, &err) == 0)
		(void)compact(jb, s, &err);
	vv_store_free(s);
}

static void
journal_destroy(struct vv_backend *b)
{
	struct journal_backend *jb = to_journal(b);

	if (jb->synced && jb->jlen > 0 && !jb->read_only)
		compact_from_disk(jb);
	if (jb->fd >= 0)
		close(jb->fd);
	jb->snapshot->ops->destroy(jb->snapshot);
	free(jb->path);
	free(jb->jpath);
	free(jb);
}

static const struct vv_backend_ops journal_ops = {
	.name = "json-journal",
	.load = journal_load,
	.commit = journal_commit,
	.destroy = journal_destroy,
};

struct vv_backend *
vv_json_journal_backend_new(const char *path, struct vv_error *err)
{
	struct journal_backend *jb;

	if (path == NULL || *path == '\0') {
		vv_error_set(err, "JSON store: empty path");
		return NULL;
	}
	jb = calloc(1, sizeof(*jb));
	if (jb == NULL)
		goto oom;
	jb->fd = -1;
	jb->path = strdup(path);
	if (jb->path == NULL || asprintf(&jb->jpath, "%s.journal", path) < 0) {
		jb->jpath = NULL;
		goto oom;
	}
	jb->snapshot = vv_json_file_backend_new(path, err);
	if (jb->snapshot == NULL)
		goto fail;
	jb->base.ops = &journal_ops;
	return &jb->base;
oom:
	vv_error_set(err, "%s: out of memory", path);
fail:
	if (jb != NULL) {
		free(jb->path);
		free(jb->jpath);
		free(jb);
	}
	return NULL;
}

struct vv_backend *
vv_json_journal_backend_new_readonly(const char *path, struct vv_error *err)
{
	struct vv_backend *b = vv_json_journal_backend_new(path, err);

	if (b != NULL)
		to_journal(b)->read_only = true;
	return b;
}
