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

#endif
