/*
 * src/backend/journal_backend.h -- internals of the journaled JSON backend
 * (vmvars/backend.h: vv_json_journal_backend_new) that tests and the fuzz
 * target reach: fault injection and the journal replay parser.  Not public
 * API.
 */
#ifndef VMVARS_JOURNAL_BACKEND_H
#define VMVARS_JOURNAL_BACKEND_H

#include <vmvars/backend.h>

#include "backend/file_backend.h"

enum vv_journal_step {
	VV_JOURNAL_STEP_NONE = 0,
	VV_JOURNAL_STEP_APPEND,     /* the record's write: half of it lands, then errno */
	VV_JOURNAL_STEP_SYNC,       /* the fdatasync after the write */
	VV_JOURNAL_STEP_TRUNCATE,   /* the ftruncate emptying the journal after a compaction */
	VV_JOURNAL_STEP_TRUNCATE_SYNC, /* the fsync after that ftruncate succeeded */
};

/* Arms one journal step of a later commit to fail with err_no, as if the
 * system call had returned it; the step is then disarmed.  b must come
 * from vv_json_journal_backend_new(). */
void vv_journal_backend_fail_next(struct vv_backend *b, enum vv_journal_step step,
				  int err_no);

/*
 * The same files, opened read-only (vmvarsd --check): load reads the
 * snapshot and replays the journal and writes nothing -- a missing journal
 * is not created, a torn last record is not cut (its writer may still be
 * appending) -- every commit fails ("opened read-only"), and destroy does
 * not compact.
 */
struct vv_backend *vv_json_journal_backend_new_readonly(const char *path,
							struct vv_error *err);

/* The plain JSON file backend the journal backend writes its snapshots
 * through, for vv_file_backend_fail_next() on a compaction. */
struct vv_backend *vv_journal_backend_snapshot(struct vv_backend *b);

/*
 * Replays journal text onto an empty snapshot and adds the result to the
 * empty store s (vv_store_insert_loaded).  origin names the journal in
 * messages.  *good_len gets the length of the records that count (a torn
 * last line is not one).  0, or -1 with err naming origin, the byte offset
 * of the bad record and the reason (s may then hold some variables).
 */
int vv_journal_replay_text(struct vv_store *s, const char *text, size_t len,
			   const char *origin, size_t *good_len, struct vv_error *err);

/*
 * What a load of the store path builds, from bytes the caller read itself:
 * the snapshot text (JSON v2; NULL or 0 bytes = empty) with the journal
 * text replayed onto it -- the same parser, replay and torn-tail rule as
 * load -- added to the empty store s.  Messages name path and
 * path.journal.  *good_len: the length of the journal's good records (less
 * than journal_len by a torn last record).  For the vmvars CLI, which must
 * see what vmvarsd sees and later check that the files still hold the bytes
 * it read (src/cli/store_file.c).  0, or -1 with err.
 */
int vv_journal_load_text(struct vv_store *s, const char *path, const char *snapshot,
			 size_t snapshot_len, const char *journal, size_t journal_len,
			 size_t *good_len, struct vv_error *err);

/*
 * The snapshot a compaction of those bytes writes: the same load into a
 * store without quotas (what was accepted once is not judged again),
 * serialised as JSON v2.  malloc'd, *len and *good_len set; NULL with err.
 */
char *vv_journal_fold_text(const char *path, const char *snapshot, size_t snapshot_len,
			   const char *journal, size_t journal_len, size_t *len,
			   size_t *good_len, struct vv_error *err);

#endif
