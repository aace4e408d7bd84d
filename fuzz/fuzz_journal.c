/*
 * fuzz/fuzz_journal.c -- libFuzzer target for the journal replay parser
 * (src/backend/journal_backend.c): arbitrary bytes are a <path>.journal
 * replayed onto an empty snapshot.
 *
 * Oracles (abort on violation):
 *  - the good prefix is a prefix: good_len <= size, and it ends the input
 *    or a line;
 *  - replaying exactly that prefix succeeds again with the same good_len
 *    and the same store (the torn tail never mattered);
 *  - the resulting store, written back as one put record per variable
 *    (the encoder the backend uses), replays to the same store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/json_v2.h>
#include <vmvars/store.h>
#include <vmvars/uefi_vars_device.h>

#include "backend/journal_backend.h"
#include "format/json_v2_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Same NV content, order, times and digests. */
static bool
same_store(const struct vv_store *a, const struct vv_store *b)
{
	size_t la, lb;
	char *ta = vv_json_v2_serialize(a, &la), *tb = vv_json_v2_serialize(b, &lb);
	bool same = ta != NULL && tb != NULL && la == lb && memcmp(ta, tb, la) == 0;

	free(ta);
	free(tb);
	return same;
}

/* The store as put records, framed as the backend frames them. */
static char *
as_records(const struct vv_store *s, size_t *len)
{
	char *out = NULL;
	size_t cap = 0;
	FILE *f = open_memstream(&out, &cap);

	if (f == NULL)
		abort();
	for (const struct vv_variable *v = vv_store_first(s); v != NULL; v = vv_store_next(v)) {
		size_t n;
		char *json = vv_json_v2_var_members("{\"op\":\"put\",", v, false, "}", &n);

		if (json == NULL)
			abort();
		fprintf(f, "%08x %s\n", vv_crc32c(json, n), json);
		free(json);
	}
	fclose(f);
	*len = cap;
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vv_store *a = vv_store_new(NULL), *b = vv_store_new(NULL), *c = vv_store_new(NULL);
	const char *text = (const char *)data;
	struct vv_error err;
	size_t good = 0, good2 = 0, good3 = 0, len;
	char *again;

	if (a == NULL || b == NULL || c == NULL)
		abort();
	if (vv_journal_replay_text(a, text, size, "fuzz.journal", &good, &err) == 0) {
		if (good > size || (good > 0 && text[good - 1] != '\n'))
			abort();
		if (vv_journal_replay_text(b, text, good, "fuzz.journal", &good2, &err) != 0 ||
		    good2 != good || !same_store(a, b))
			abort();
		again = as_records(a, &len);
		if (vv_journal_replay_text(c, again, len, "again", &good3, &err) != 0 ||
		    good3 != len || !same_store(a, c))
			abort();
		free(again);
	}
	vv_store_free(a);
	vv_store_free(b);
	vv_store_free(c);
	return 0;
}
