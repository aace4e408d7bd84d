/*
 * vmvars/backend.h -- where non-volatile variables live between runs.
 *
 * A backend is a small vtable so that the file backend of today and a
 * networked backend of tomorrow are interchangeable.  The store calls
 * commit() after it has applied one change in memory; commit() returns 0
 * only once the new NV content is durable.  If it fails, the store undoes
 * the change, so memory and disk agree again and the guest gets an error.
 *
 * The change is passed so that a backend may persist incrementally (a
 * journal); the JSON file backend rewrites the file atomically each time.
 * A batch of changes (vv_store_batch_begin) arrives as one
 * VV_CHANGE_BATCH commit, which must be all-or-nothing on disk.
 */
#ifndef VMVARS_BACKEND_H
#define VMVARS_BACKEND_H

#include <vmvars/store.h>

#ifdef __cplusplus
extern "C" {
#endif

enum vv_change_kind {
	VV_CHANGE_PUT,      /* var is the new state of a created/updated variable */
	VV_CHANGE_DELETE,   /* var is the deleted variable (already unlinked) */
	VV_CHANGE_ALL,      /* var is NULL: the whole NV content may differ */
	/* var is NULL; batch[0, nbatch) are PUT and DELETE changes that take
	 * effect together or not at all (vv_store_batch_commit): the backend
	 * persists them as one atomic unit, so that a crash leaves all of
	 * them or none.  Applied in order; a DELETE of a variable the batch
	 * then re-creates precedes its PUT.  A backend that cannot do better
	 * may treat it as VV_CHANGE_ALL, which is atomic too. */
	VV_CHANGE_BATCH,
};

struct vv_change {
	enum vv_change_kind kind;
	const struct vv_variable *var;
	const struct vv_change *batch;  /* VV_CHANGE_BATCH only */
	size_t nbatch;
};

struct vv_backend;

struct vv_backend_ops {
	const char *name;
	/* Adds every persisted variable with vv_store_insert_loaded().
	 * Returns 0, or -1 with err naming the location and the problem. */
	int (*load)(struct vv_backend *b, struct vv_store *s, struct vv_error *err);
	/* Makes the store's current NV content durable.  0 or -1 with err. */
	int (*commit)(struct vv_backend *b, const struct vv_store *s,
		      const struct vv_change *change, struct vv_error *err);
	void (*destroy)(struct vv_backend *b);
};

struct vv_backend {
	const struct vv_backend_ops *ops;
};

/*
 * The JSON v2 file backend (device-abi §12, formats §3): the file QEMU's
 * `jsonfile=` and virt-fw-vars use.  A missing or empty file is an empty
 * store; anything else that does not parse is an error.  Each commit
 * writes <path>.tmp.<pid>, fsyncs it, renames it over <path> and fsyncs
 * the directory.
 */
struct vv_backend *vv_json_file_backend_new(const char *path, struct vv_error *err);

/*
 * The journaled JSON v2 backend (issue #8): <path> is a JSON v2 snapshot,
 * exactly what vv_json_file_backend_new writes, and <path>.journal
 * holds one CRC-32C-framed record per change since it.  A durable write
 * costs one small append and one fdatasync, whatever the store's size.
 * The journal is folded into the snapshot (atomically, as the file
 * backend writes it) when it outgrows max(64 KiB, the snapshot), on
 * vv_store_flush and when the store is freed; until then <path> alone may
 * lag the acknowledged state.  Load replays the journal; a torn last
 * record (never acknowledged) is dropped, any other bad record is an
 * error naming the journal and the byte offset.  docs/architecture.md,
 * "Persistence", has the crash-safety argument.
 */
struct vv_backend *vv_json_journal_backend_new(const char *path, struct vv_error *err);

/* A backend that keeps nothing (stateless VMs, tests). */
struct vv_backend *vv_null_backend_new(void);

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_BACKEND_H */
