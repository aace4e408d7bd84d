/*
 * tests/test_journal.c -- the journaled JSON backend (vmvars/backend.h,
 * vv_json_journal_backend_new; src/backend/journal_backend.c).
 *
 * What a reload must give back is exactly what was acknowledged: every
 * case compares the reloaded store with the one that wrote it through the
 * JSON v2 serialisation, which covers order, attributes, data, time and
 * digest at once.  Crashes are simulated by crafting the files a crash
 * leaves (a torn last record, a journal not yet truncated after a
 * compaction); I/O failures by the backend's fault injection
 * (src/backend/journal_backend.h), which holds for root too.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <uchar.h>
#include <unistd.h>

#include <vmvars/backend.h>
#include <vmvars/json_v2.h>
#include <vmvars/store.h>
#include <vmvars/uefi_vars_device.h>

#include "backend/journal_backend.h"
#include "store_util.h"

#define NV_BS_RT_AT (NV_BS_RT | VV_ATTR_AT)

static char tmpdir[256];
static char store_path[512];
static char journal_path[600];

static void
fresh_dir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vvtest-journal-XXXXXX");
	REQUIRE(mkdtemp(tmpdir) != NULL);
	snprintf(store_path, sizeof(store_path), "%s/vars.json", tmpdir);
	snprintf(journal_path, sizeof(journal_path), "%s/vars.json.journal", tmpdir);
}

static void
remove_dir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char p[1024];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(tmpdir);
}

/* Whole file (NUL-terminated); NULL if it cannot be read. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	*len = 0;
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		if (buf != NULL) {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static void
write_file(const char *path, const char *text, size_t len, const char *mode)
{
	FILE *f = fopen(path, mode);

	REQUIRE(f != NULL);
	REQUIRE(fwrite(text, 1, len, f) == len);
	REQUIRE(fclose(f) == 0);
}

static long
size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* A framed record line for json: "<crc> json\n" (malloc'd). */
static char *
record(const char *json)
{
	size_t n = strlen(json);
	char *line = malloc(n + 11);

	REQUIRE(line != NULL);
	snprintf(line, n + 11, "%08x %s\n", vv_crc32c(json, n), json);
	return line;
}

/* A store on store_path through the journal backend; loaded if load. */
static struct vv_store *
open_journal(struct vv_backend **backend, bool load, struct vv_error *err)
{
	struct vv_store *s = vv_store_new(NULL);
	struct vv_backend *b;

	REQUIRE(s != NULL);
	memset(err, 0, sizeof(*err));
	b = vv_json_journal_backend_new(store_path, err);
	REQUIRE(b != NULL);
	vv_store_set_backend(s, b);
	if (backend != NULL)
		*backend = b;
	if (load && vv_store_load(s, err) != 0)
		printf("# load: %s\n", err->msg);
	return s;
}

/* The same store through the plain file backend (interop). */
static struct vv_store *
open_plain(struct vv_error *err)
{
	struct vv_store *s = vv_store_new(NULL);

	REQUIRE(s != NULL);
	memset(err, 0, sizeof(*err));
	vv_store_set_backend(s, vv_json_file_backend_new(store_path, err));
	if (vv_store_load(s, err) != 0)
		printf("# plain load: %s\n", err->msg);
	return s;
}

/* Same NV content, order, times and digests. */
static bool
same_nv(const struct vv_store *a, const struct vv_store *b)
{
	size_t la, lb;
	char *ta = vv_json_v2_serialize(a, &la), *tb = vv_json_v2_serialize(b, &lb);
	bool same = ta != NULL && tb != NULL && la == lb && memcmp(ta, tb, la) == 0;

	if (!same)
		printf("# stores differ:\n# --- want\n%s# --- got\n%s", ta ? ta : "", tb ? tb : "");
	free(ta);
	free(tb);
	return same;
}

/* A reference store holding what was acknowledged, with no backend. */
static void
mirror_set(struct vv_store *m, const uint16_t *name, size_t len, uint32_t attr,
	   const char *data)
{
	CHECK_STATUS(set_as(m, VV_CALLER_HOST, name, len, &TEST_GUID, attr, data, strlen(data)),
		     VV_EFI_SUCCESS);
}

static void
both_set(struct vv_store *s, struct vv_store *m, const uint16_t *name, size_t len,
	 uint32_t attr, const char *data)
{
	CHECK_STATUS(set_as(s, VV_CALLER_HOST, name, len, &TEST_GUID, attr, data, strlen(data)),
		     VV_EFI_SUCCESS);
	mirror_set(m, name, len, attr, data);
}

static void
both_delete(struct vv_store *s, struct vv_store *m, const uint16_t *name, size_t len)
{
	CHECK_STATUS(set_as(s, VV_CALLER_HOST, name, len, &TEST_GUID, NV_BS_RT, NULL, 0),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(set_as(m, VV_CALLER_HOST, name, len, &TEST_GUID, NV_BS_RT, NULL, 0),
		     VV_EFI_SUCCESS);
}

static size_t
count_lines(const char *path)
{
	size_t len, n = 0;
	char *text = slurp(path, &len);

	for (size_t i = 0; i < len; i++)
		n += text[i] == '\n';
	free(text);
	return n;
}

/* ---- cases ---- */

static void
test_missing_files_load_empty(void)
{
	struct vv_error err;
	struct vv_store *s;

	fresh_dir();
	s = open_journal(NULL, true, &err);
	CHECK_EQ(vv_store_count(s), 0);
	CHECK_EQ(err.msg[0], 0);
	CHECK(access(journal_path, F_OK) != 0);    /* load creates nothing */
	vv_store_free(s);
	CHECK(access(store_path, F_OK) != 0);      /* nothing written, nothing compacted */
	remove_dir();
}

/* Puts, updates (in place), deletes, re-creates, volatile writes (not
 * journaled), AT times, non-ASCII names: a reload gives exactly these. */
static void
test_reload_equals_acknowledged(void)
{
	struct vv_error err;
	struct vv_store *s, *m = vv_store_new(NULL), *r;
	const vv_efi_time t1 = { { 0xe8, 0x07, 3, 14, 15, 9, 26, 0, 0, 0, 0, 0, 0, 0, 0, 0 } };
	const vv_efi_time t2 = { { 0xe8, 0x07, 3, 15, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0 } };
	size_t snap_len, snap_len_after;
	char *snap_before, *snap_after;

	fresh_dir();
	s = open_journal(NULL, true, &err);
	both_set(s, m, U("Alpha"), NV_BS_RT, "one");
	both_set(s, m, U("Beta"), NV_BS_RT, "two");
	both_set(s, m, U("Gamma"), NV_BS_RT, "three");
	both_set(s, m, U("Grüße€✓"), NV_BS_RT, "unicode");
	both_set(s, m, U("Alpha"), NV_BS_RT, "one, longer now");      /* keeps its place */
	both_delete(s, m, U("Beta"));
	both_set(s, m, U("Beta"), NV_BS_RT, "two again");             /* now last */
	both_set(s, m, U("Gamma"), NV_BS_RT, "");                     /* size 0: delete */
	CHECK_STATUS(set_as(s, VV_CALLER_HOST, U("Volatile"), &TEST_GUID, BS_RT, "v", 1),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(vv_store_put(s, U("Stamped"), &TEST_GUID, NV_BS_RT_AT, "at", 2, &t1),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(vv_store_put(m, U("Stamped"), &TEST_GUID, NV_BS_RT_AT, "at", 2, &t1),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(vv_store_put(s, U("Stamped"), &TEST_GUID, NV_BS_RT_AT, "AT", 2, &t2),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(vv_store_put(m, U("Stamped"), &TEST_GUID, NV_BS_RT_AT, "AT", 2, &t2),
		     VV_EFI_SUCCESS);
	/* 10 NV changes: one record each; the snapshot was never written. */
	CHECK_EQ(count_lines(journal_path), 10);
	CHECK(access(store_path, F_OK) != 0);

	/* A crash now (no clean shutdown): the journal alone carries it. */
	snap_before = slurp(journal_path, &snap_len);
	r = open_journal(NULL, true, &err);
	CHECK(same_nv(m, r));
	CHECK(vv_store_find(r, U("Volatile"), &TEST_GUID) == NULL);
	{
		const struct vv_variable *v = vv_store_find(r, U("Stamped"), &TEST_GUID);

		REQUIRE(v != NULL);
		CHECK(v->has_time);
		CHECK_MEM(v->time.b, t2.b, sizeof(t2.b));
	}
	/* The second backend has not written anything yet. */
	snap_after = slurp(journal_path, &snap_len_after);
	CHECK(snap_len == snap_len_after && memcmp(snap_before, snap_after, snap_len) == 0);
	free(snap_before);
	free(snap_after);
	vv_store_free(r);       /* clean shutdown: compacts */
	CHECK_EQ(size_of(journal_path), 0);
	CHECK(size_of(store_path) > 0);

	vv_store_free(s);       /* journal empty again: nothing to fold */
	r = open_journal(NULL, true, &err);
	CHECK(same_nv(m, r));
	vv_store_free(r);
	vv_store_free(m);
	remove_dir();
}

/* A digest (private authenticated variables) survives the journal: the
 * change is committed through the backend directly, as the store does. */
static void
test_digest_record(void)
{
	struct vv_error err;
	struct vv_backend *b;
	struct vv_store *s, *r;
	struct vv_variable v;
	struct vv_change c;
	const struct vv_variable *got;

	fresh_dir();
	s = open_journal(&b, true, &err);
	memset(&v, 0, sizeof(v));
	v.guid = TEST_GUID;
	v.attributes = NV_BS_RT_AT;
	v.name = (uint16_t *)u"Private";
	v.name_len = 7;
	v.data = (uint8_t *)"value";
	v.data_size = 5;
	v.has_time = true;
	v.time.b[0] = 0xe8;
	v.time.b[1] = 0x07;
	v.digest_size = 32;
	for (int i = 0; i < 32; i++)
		v.digest[i] = (uint8_t)(0xa0 + i);
	REQUIRE(vv_store_insert_loaded(s, &v, &err) == 0);
	c.kind = VV_CHANGE_PUT;
	c.var = vv_store_find(s, U("Private"), &TEST_GUID);
	CHECK_EQ(b->ops->commit(b, s, &c, &err), 0);
	r = open_journal(NULL, true, &err);
	got = vv_store_find(r, U("Private"), &TEST_GUID);
	REQUIRE(got != NULL);
	CHECK_EQ(got->digest_size, 32);
	CHECK_MEM(got->digest, v.digest, 32);
	CHECK(same_nv(s, r));
	vv_store_free(r);
	vv_store_free(s);
	remove_dir();
}

/* A crash during an append leaves a partial last line: never acknowledged,
 * dropped on load, and the journal cut back so the next record follows a
 * good one. */
static void
test_torn_tail_ignored_and_truncated(void)
{
	static const char *tails[] = {
		"1234abcd {\"op\":\"put\",\"guid\":\"12345",     /* no newline */
		"00000000 {\"op\":\"delete\",\"guid\":\"x\"}\n", /* CRC mismatch, last */
		"\0\0\0\0\0\0\0\0",                               /* zero-filled block */
	};
	static const size_t tail_len[] = { 0, 0, 8 };    /* 0: strlen */

	for (size_t i = 0; i < 3; i++) {
		struct vv_error err;
		struct vv_store *s, *m = vv_store_new(NULL), *r;
		long good;
		size_t n = tail_len[i] ? tail_len[i] : strlen(tails[i]), jlen;
		char *journal;

		fresh_dir();
		s = open_journal(NULL, true, &err);
		both_set(s, m, U("Alpha"), NV_BS_RT, "one");
		both_set(s, m, U("Beta"), NV_BS_RT, "two");
		good = size_of(journal_path);
		/* the files a crash during the next append leaves: no snapshot
		 * yet, the two records, a torn third */
		journal = slurp(journal_path, &jlen);
		REQUIRE(journal != NULL);
		vv_store_free(s);
		unlink(store_path);
		write_file(journal_path, journal, jlen, "wb");
		free(journal);
		write_file(journal_path, tails[i], n, "ab");
		CHECK_EQ(size_of(journal_path), good + (long)n);

		r = open_journal(NULL, true, &err);
		CHECK_EQ(err.msg[0], 0);
		CHECK(same_nv(m, r));
		CHECK_EQ(size_of(journal_path), good);          /* tail cut */
		both_set(r, m, U("Gamma"), NV_BS_RT, "three");  /* appends cleanly */
		CHECK_EQ(count_lines(journal_path), 3);
		s = open_journal(NULL, true, &err);
		CHECK_EQ(err.msg[0], 0);
		CHECK(same_nv(m, s));
		vv_store_free(s);
		vv_store_free(r);
		vv_store_free(m);
		remove_dir();
	}
}

/* Dropping the last record is never silent: vv_store_load_warning names
 * the journal, the record's offset and size, and the reason; a complete
 * line with a bad CRC (a crash can leave it, but so can damage to an
 * acknowledged write) is told apart from an unfinished one.  A clean load
 * warns of nothing, and neither does the load after the cut. */
static void
test_dropped_tail_is_reported(void)
{
	static const char *tails[] = {
		"1234abcd {\"op\":\"put\",\"guid\":\"12345",     /* no newline */
		"00000000 {\"op\":\"delete\",\"guid\":\"x\"}\n", /* complete, bad CRC */
		"zzzzzzzz {}\n",                                 /* complete, bad header */
	};
	static const char *why[] = { NULL, "CRC-32C mismatch", "header is not 8 hex digits" };
	char want[1400];

	for (size_t i = 0; i < 3; i++) {
		struct vv_error err;
		struct vv_store *s, *r;
		long good;

		fresh_dir();
		s = open_journal(NULL, true, &err);
		CHECK_EQ(vv_store_load_warning(s)[0], 0);
		CHECK_STATUS(set_as(s, VV_CALLER_HOST, U("Alpha"), &TEST_GUID, NV_BS_RT, "one", 3),
			     VV_EFI_SUCCESS);
		good = size_of(journal_path);
		/* a crash right after that: no fold into the snapshot */
		{
			size_t jlen;
			char *journal = slurp(journal_path, &jlen);

			REQUIRE(journal != NULL);
			vv_store_free(s);
			unlink(store_path);
			write_file(journal_path, journal, jlen, "wb");
			free(journal);
		}
		write_file(journal_path, tails[i], strlen(tails[i]), "ab");
		r = open_journal(NULL, true, &err);
		CHECK_EQ(err.msg[0], 0);
		CHECK_EQ(vv_store_count(r), 1);
		if (why[i] == NULL)
			snprintf(want, sizeof(want), "%s: dropped an unfinished last record (%zu bytes "
				 "at byte %ld, no newline): a write cut short by a crash, never "
				 "acknowledged", journal_path, strlen(tails[i]), good);
		else
			snprintf(want, sizeof(want), "%s: dropped the last record (%zu bytes at byte "
				 "%ld): %s; an append cut short by a crash leaves this and was never "
				 "acknowledged, but a damaged acknowledged write looks the same: "
				 "check the disk", journal_path, strlen(tails[i]), good, why[i]);
		if (strcmp(vv_store_load_warning(r), want) != 0)
			printf("# got  \"%s\"\n# want \"%s\"\n", vv_store_load_warning(r), want);
		CHECK(strcmp(vv_store_load_warning(r), want) == 0);
		CHECK_EQ(size_of(journal_path), good);          /* still cut, as before */
		vv_store_free(r);
		/* the fold at free emptied the journal: nothing more to report */
		r = open_journal(NULL, true, &err);
		CHECK_EQ(err.msg[0], 0);
		CHECK_EQ(vv_store_count(r), 1);
		CHECK_EQ(vv_store_load_warning(r)[0], 0);
		vv_store_free(r);
		remove_dir();
	}
}

/* A bad record before the last is corruption: the load fails naming the
 * journal, the record's offset and the reason; the store stays empty and
 * the files are not touched. */
static void
test_corruption_in_the_middle(void)
{
	char want[700];
	struct vv_error err;
	struct vv_store *s;
	char *r1, *r2, *bad, *text;
	size_t len, len_after;
	char *after;

	r1 = record("{\"op\":\"put\",\"guid\":\"12345678-1234-1234-1234-123456789abc\","
		    "\"name\":\"A\",\"attr\":7,\"data\":\"01\"}");
	r2 = record("{\"op\":\"put\",\"guid\":\"12345678-1234-1234-1234-123456789abc\","
		    "\"name\":\"B\",\"attr\":7,\"data\":\"02\"}");

	/* 1: CRC mismatch in the second of three records. */
	fresh_dir();
	bad = strdup(r2);
	bad[strlen(bad) - 3] = '3';     /* "02" -> "03": CRC no longer matches */
	len = strlen(r1) + strlen(bad) + strlen(r1);
	text = malloc(len + 1);
	snprintf(text, len + 1, "%s%s%s", r1, bad, r1);
	write_file(journal_path, text, len, "wb");
	s = open_journal(NULL, true, &err);
	snprintf(want, sizeof(want), "%s: record at byte %zu: CRC-32C mismatch", journal_path,
		 strlen(r1));
	CHECK(strcmp(err.msg, want) == 0);
	if (strcmp(err.msg, want) != 0)
		printf("# got \"%s\"\n# want \"%s\"\n", err.msg, want);
	CHECK_EQ(vv_store_count(s), 0);
	after = slurp(journal_path, &len_after);
	CHECK(len_after == len && memcmp(after, text, len) == 0);
	free(after);
	free(text);
	free(bad);
	vv_store_free(s);       /* not loaded: destroy folds nothing */
	CHECK(access(store_path, F_OK) != 0);
	remove_dir();

	/* 2: a record with a good CRC but an unknown op, first of two. */
	fresh_dir();
	bad = record("{\"op\":\"rename\",\"guid\":\"12345678-1234-1234-1234-123456789abc\","
		     "\"name\":\"A\"}");
	len = strlen(bad) + strlen(r1);
	text = malloc(len + 1);
	snprintf(text, len + 1, "%s%s", bad, r1);
	write_file(journal_path, text, len, "wb");
	s = open_journal(NULL, true, &err);
	snprintf(want, sizeof(want), "%s: record at byte 0: op: must be \"put\", \"delete\" or \"batch\"",
		 journal_path);
	CHECK(strcmp(err.msg, want) == 0);
	if (strcmp(err.msg, want) != 0)
		printf("# got \"%s\"\n# want \"%s\"\n", err.msg, want);
	CHECK_EQ(vv_store_count(s), 0);
	vv_store_free(s);
	free(text);
	free(bad);
	remove_dir();

	/* 3: a good frame whose variable breaks a store-file rule; it is the
	 * last record, but a good CRC means it was written whole: an error. */
	fresh_dir();
	bad = record("{\"op\":\"put\",\"guid\":\"12345678-1234-1234-1234-123456789abc\","
		     "\"name\":\"A\",\"attr\":7,\"data\":\"0\"}");
	len = strlen(r1) + strlen(bad);
	text = malloc(len + 1);
	snprintf(text, len + 1, "%s%s", r1, bad);
	write_file(journal_path, text, len, "wb");
	s = open_journal(NULL, true, &err);
	snprintf(want, sizeof(want), "%s: record at byte %zu: data: odd number of hex digits",
		 journal_path, strlen(r1));
	CHECK(strcmp(err.msg, want) == 0);
	if (strcmp(err.msg, want) != 0)
		printf("# got \"%s\"\n# want \"%s\"\n", err.msg, want);
	CHECK_EQ(vv_store_count(s), 0);
	vv_store_free(s);
	free(text);
	free(bad);
	remove_dir();

	/* 4: a delete record carrying a value is refused too. */
	fresh_dir();
	bad = record("{\"op\":\"delete\",\"guid\":\"12345678-1234-1234-1234-123456789abc\","
		     "\"name\":\"A\",\"data\":\"01\"}");
	write_file(journal_path, bad, strlen(bad), "wb");
	s = open_journal(NULL, true, &err);
	snprintf(want, sizeof(want), "%s: record at byte 0: unexpected key \"data\"",
		 journal_path);
	CHECK(strcmp(err.msg, want) == 0);
	if (strcmp(err.msg, want) != 0)
		printf("# got \"%s\"\n# want \"%s\"\n", err.msg, want);
	CHECK_EQ(vv_store_count(s), 0);
	vv_store_free(s);
	free(bad);
	remove_dir();
	free(r1);
	free(r2);
}

/* Past max(64 KiB, snapshot) of journal, a commit compacts: the snapshot
 * holds everything, the journal restarts small; a reload is unchanged. */
static void
test_compaction_by_size(void)
{
	struct vv_error err;
	struct vv_store *s, *m = vv_store_new(NULL), *r;
	static char value[1025];
	long max_journal = 0;
	bool compacted = false;

	fresh_dir();
	s = open_journal(NULL, true, &err);
	memset(value, 'x', 1024);
	for (int i = 0; i < 40; i++) {
		uint16_t name[2] = { (uint16_t)('A' + i % 8), 0 };
		long j;

		value[0] = (char)('a' + i % 26);
		both_set(s, m, name, 1, NV_BS_RT, value);
		j = size_of(journal_path);
		if (j < max_journal)
			compacted = true;
		if (j > max_journal)
			max_journal = j;
	}
	/* each record is ~2.2 KiB (hex data): 40 of them pass 64 KiB once;
	 * the commit that passes it compacts, so the journal is never seen
	 * above 64 KiB */
	CHECK(compacted);
	CHECK(max_journal > 60 * 1024);
	CHECK(max_journal <= 64 * 1024);
	CHECK(size_of(journal_path) < 64 * 1024);
	CHECK(size_of(store_path) > 0);
	r = open_journal(NULL, true, &err);
	CHECK(same_nv(m, r));
	vv_store_free(r);
	vv_store_free(s);
	vv_store_free(m);
	remove_dir();
}

/* A crash after the compaction's rename but before the journal's truncate:
 * the new snapshot and the old records.  Replaying them is harmless. */
static void
test_crash_between_rename_and_truncate(void)
{
	struct vv_error err;
	struct vv_store *s, *m = vv_store_new(NULL), *r;
	char *journal;
	size_t len;

	fresh_dir();
	s = open_journal(NULL, true, &err);
	both_set(s, m, U("Alpha"), NV_BS_RT, "one");
	both_set(s, m, U("Beta"), NV_BS_RT, "two");
	both_set(s, m, U("Gamma"), NV_BS_RT, "three");
	both_set(s, m, U("Alpha"), NV_BS_RT, "uno");
	both_delete(s, m, U("Beta"));
	journal = slurp(journal_path, &len);
	REQUIRE(journal != NULL && len > 0);
	CHECK_EQ(vv_store_flush(s, &err), 0);
	CHECK_EQ(size_of(journal_path), 0);
	write_file(journal_path, journal, len, "wb");   /* the truncate "never happened" */
	r = open_journal(NULL, true, &err);
	CHECK_EQ(err.msg[0], 0);
	CHECK(same_nv(m, r));
	CHECK(vv_store_find(r, U("Beta"), &TEST_GUID) == NULL);
	vv_store_free(r);
	free(journal);
	vv_store_free(s);
	vv_store_free(m);
	remove_dir();
}

/* A failed append (ENOSPC mid-write, EIO on fdatasync): EFI_DEVICE_ERROR,
 * the old value in memory, the journal byte for byte as before. */
static void
test_failed_append_changes_nothing(void)
{
	static const struct { enum vv_journal_step step; int err; const char *text; } f[] = {
		{ VV_JOURNAL_STEP_APPEND, ENOSPC, "append: No space left on device" },
		{ VV_JOURNAL_STEP_SYNC, EIO, "fdatasync: Input/output error" },
	};

	for (size_t i = 0; i < 2; i++) {
		struct vv_error err;
		struct vv_backend *b;
		struct vv_store *s, *m = vv_store_new(NULL), *r;
		char *before, *after;
		size_t lb, la;
		uint8_t buf[16];
		uint64_t size = sizeof(buf);

		fresh_dir();
		s = open_journal(&b, true, &err);
		both_set(s, m, U("Alpha"), NV_BS_RT, "one");
		before = slurp(journal_path, &lb);
		vv_journal_backend_fail_next(b, f[i].step, f[i].err);
		CHECK_STATUS(set_as(s, VV_CALLER_HOST, U("Alpha"), &TEST_GUID, NV_BS_RT, "two", 3),
			     VV_EFI_DEVICE_ERROR);
		CHECK(strstr(vv_store_last_io_error(s), f[i].text) != NULL);
		CHECK_STATUS(get_var(s, U("Alpha"), &TEST_GUID, NULL, buf, &size), VV_EFI_SUCCESS);
		CHECK(size == 3 && memcmp(buf, "one", 3) == 0);
		/* a failed create leaves no variable either */
		vv_journal_backend_fail_next(b, f[i].step, f[i].err);
		CHECK_STATUS(set_as(s, VV_CALLER_HOST, U("New"), &TEST_GUID, NV_BS_RT, "n", 1),
			     VV_EFI_DEVICE_ERROR);
		CHECK(vv_store_find(s, U("New"), &TEST_GUID) == NULL);
		after = slurp(journal_path, &la);
		CHECK(la == lb && memcmp(before, after, lb) == 0);
		free(after);
		/* the next write works and follows the good records */
		both_set(s, m, U("Beta"), NV_BS_RT, "two");
		r = open_journal(NULL, true, &err);
		CHECK_EQ(err.msg[0], 0);
		CHECK(same_nv(m, r));
		vv_store_free(r);
		free(before);
		vv_store_free(s);
		vv_store_free(m);
		remove_dir();
	}
}

/* A compaction whose snapshot write fails: vv_store_flush reports it, and
 * the journal still holds everything. */
static void
test_failed_compaction_keeps_journal(void)
{
	struct vv_error err;
	struct vv_backend *b;
	struct vv_store *s, *m = vv_store_new(NULL), *r;
	long before;

	fresh_dir();
	s = open_journal(&b, true, &err);
	both_set(s, m, U("Alpha"), NV_BS_RT, "one");
	before = size_of(journal_path);
	vv_file_backend_fail_next(vv_journal_backend_snapshot(b), VV_FILE_STEP_RENAME, EIO);
	CHECK_EQ(vv_store_flush(s, &err), -1);
	CHECK(strstr(err.msg, "rename") != NULL);
	CHECK_EQ(size_of(journal_path), before);
	CHECK(access(store_path, F_OK) != 0);
	/* a failed truncate after a good snapshot: content durable, flush ok */
	vv_journal_backend_fail_next(b, VV_JOURNAL_STEP_TRUNCATE, EIO);
	CHECK_EQ(vv_store_flush(s, &err), 0);
	CHECK_EQ(size_of(journal_path), before);
	both_set(s, m, U("Beta"), NV_BS_RT, "two");
	r = open_journal(NULL, true, &err);
	CHECK_EQ(err.msg[0], 0);
	CHECK(same_nv(m, r));
	vv_store_free(r);
	vv_store_free(s);
	vv_store_free(m);
	remove_dir();
}

/* A compaction whose journal truncate succeeds but whose fsync fails: the
 * snapshot is durable, so the flush succeeds, and the writes after it must
 * survive a reload.  (The backend used to keep the journal's old length
 * here, so the next record went after a hole of zeros, and load dropped it
 * as a torn line: an acknowledged write lost.) */
static void
test_truncate_sync_failure_loses_nothing(void)
{
	struct vv_error err;
	struct vv_backend *b;
	struct vv_store *s, *m = vv_store_new(NULL), *r;

	fresh_dir();
	s = open_journal(&b, true, &err);
	both_set(s, m, U("Alpha"), NV_BS_RT, "one");
	both_set(s, m, U("Beta"), NV_BS_RT, "two");
	CHECK(size_of(journal_path) > 0);
	vv_journal_backend_fail_next(b, VV_JOURNAL_STEP_TRUNCATE_SYNC, EIO);
	CHECK_EQ(vv_store_flush(s, &err), 0);
	CHECK_EQ(size_of(journal_path), 0);
	both_set(s, m, U("Gamma"), NV_BS_RT, "three");
	both_set(s, m, U("Alpha"), NV_BS_RT, "uno");
	r = open_journal(NULL, true, &err);
	CHECK_EQ(err.msg[0], 0);
	CHECK(same_nv(m, r));
	vv_store_free(r);
	/* the journal never holds a zero byte */
	{
		size_t len;
		char *text = slurp(journal_path, &len);

		CHECK(text == NULL || memchr(text, 0, len) == NULL);
		free(text);
	}
	vv_store_free(s);
	vv_store_free(m);
	remove_dir();
}

/* Commits before any load (a store filled by the host, then attached):
 * the first one writes the whole store, so disk equals memory. */
static void
test_commit_without_load_writes_everything(void)
{
	struct vv_error err;
	struct vv_store *s = vv_store_new(NULL), *m = vv_store_new(NULL), *r;

	fresh_dir();
	/* a stale journal from some other life must not leak in */
	{
		char *stale = record("{\"op\":\"put\",\"guid\":\"12345678-1234-1234-1234-"
				     "123456789abc\",\"name\":\"Stale\",\"attr\":7,\"data\":\"01\"}");

		write_file(journal_path, stale, strlen(stale), "wb");
		free(stale);
	}
	both_set(s, m, U("Alpha"), NV_BS_RT, "one");
	vv_store_set_backend(s, vv_json_journal_backend_new(store_path, &err));
	both_set(s, m, U("Beta"), NV_BS_RT, "two");
	CHECK_EQ(size_of(journal_path), 0);
	both_set(s, m, U("Gamma"), NV_BS_RT, "three");
	CHECK_EQ(count_lines(journal_path), 1);
	r = open_journal(NULL, true, &err);
	CHECK(same_nv(m, r));
	vv_store_free(r);
	vv_store_free(s);
	vv_store_free(m);
	remove_dir();
}

/* After a clean shutdown the snapshot alone is the store: the plain file
 * backend (and so QEMU, virt-fw-vars) reads the same content. */
static void
test_snapshot_interop_with_plain_backend(void)
{
	struct vv_error err;
	struct vv_store *s, *m = vv_store_new(NULL), *p;

	fresh_dir();
	s = open_journal(NULL, true, &err);
	both_set(s, m, U("Alpha"), NV_BS_RT, "one");
	both_set(s, m, U("Grüße"), NV_BS_RT, "two");
	both_delete(s, m, U("Alpha"));
	both_set(s, m, U("Alpha"), NV_BS_RT, "three");
	vv_store_free(s);
	CHECK_EQ(size_of(journal_path), 0);
	p = open_plain(&err);
	CHECK_EQ(err.msg[0], 0);
	CHECK(same_nv(m, p));
	/* and the other way round: a plain file loads through the journal */
	both_set(p, m, U("Delta"), NV_BS_RT, "four");
	vv_store_free(p);
	s = open_journal(NULL, true, &err);
	CHECK(same_nv(m, s));
	vv_store_free(s);
	vv_store_free(m);
	remove_dir();
}

/* The replay parser on its own (what fuzz_journal drives). */
static void
test_replay_text(void)
{
	struct vv_error err;
	struct vv_store *s = vv_store_new(NULL);
	char *r1 = record("{\"op\":\"put\",\"guid\":\"12345678-1234-1234-1234-123456789abc\","
			  "\"name\":\"A\",\"attr\":7,\"data\":\"01\"}");
	char *r2 = record("{\"op\":\"delete\",\"guid\":\"12345678-1234-1234-1234-123456789abc\","
			  "\"name\":\"A\"}");
	char text[512];
	size_t good = 99;

	snprintf(text, sizeof(text), "%s%s%s", r1, r2, r1);
	CHECK_EQ(vv_journal_replay_text(s, text, strlen(text), "j", &good, &err), 0);
	CHECK_EQ(good, strlen(text));
	CHECK_EQ(vv_store_count(s), 1);
	vv_store_free(s);
	s = vv_store_new(NULL);
	CHECK_EQ(vv_journal_replay_text(s, text, strlen(text) - 1, "j", &good, &err), 0);
	CHECK_EQ(good, strlen(r1) + strlen(r2));
	CHECK_EQ(vv_store_count(s), 0);
	vv_store_free(s);
	free(r1);
	free(r2);
}

/* ---- batches (vv_store_batch_begin; one VV_CHANGE_BATCH record) ---- */

/* A second view of the files that writes nothing (no compaction when
 * freed), while the store under test keeps its backend. */
static struct vv_store *
open_ro(struct vv_error *err)
{
	struct vv_store *s = vv_store_new(NULL);

	REQUIRE(s != NULL);
	memset(err, 0, sizeof(*err));
	vv_store_set_backend(s, vv_json_journal_backend_new_readonly(store_path, err));
	if (vv_store_load(s, err) != 0)
		printf("# load: %s\n", err->msg);
	return s;
}

/* The NV content as text, for "memory is as before". */
static char *
all_text(const struct vv_store *s)
{
	size_t len;

	return vv_json_v2_serialize(s, &len);
}

/* A store with Alpha, Beta, Gamma acknowledged; m mirrors it. */
static struct vv_store *
batch_setup(struct vv_backend **b, struct vv_store *m)
{
	struct vv_error err;
	struct vv_store *s;

	fresh_dir();
	s = open_journal(b, true, &err);
	both_set(s, m, U("Alpha"), NV_BS_RT, "one");
	both_set(s, m, U("Beta"), NV_BS_RT, "two");
	both_set(s, m, U("Gamma"), NV_BS_RT, "three");
	return s;
}

/* The batch every case applies: an update, a delete, a create, a delete
 * and re-create (which moves Gamma last), a volatile write. */
static void
batch_changes_on(struct vv_store *s)
{
	CHECK_STATUS(set_as(s, VV_CALLER_HOST, U("Alpha"), &TEST_GUID, NV_BS_RT, "ONE", 3),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(set_as(s, VV_CALLER_HOST, U("Beta"), &TEST_GUID, NV_BS_RT, NULL, 0),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(set_as(s, VV_CALLER_HOST, U("Delta"), &TEST_GUID, NV_BS_RT, "four", 4),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(set_as(s, VV_CALLER_HOST, U("Gamma"), &TEST_GUID, NV_BS_RT, NULL, 0),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(set_as(s, VV_CALLER_HOST, U("Gamma"), &TEST_GUID, NV_BS_RT, "THREE", 5),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(set_as(s, VV_CALLER_HOST, U("Vol"), &TEST_GUID, BS_RT, "v", 1),
		     VV_EFI_SUCCESS);
}

/* A committed batch is one record; a reload gives exactly memory (order
 * included: Gamma, re-created, comes last). */
static void
test_batch_is_one_record(void)
{
	struct vv_error err;
	struct vv_backend *b;
	struct vv_store *m = vv_store_new(NULL), *s = batch_setup(&b, m), *r;
	size_t lines = count_lines(journal_path), len;
	char *journal;

	CHECK_EQ(vv_store_batch_begin(s, &err), 0);
	CHECK(vv_store_in_batch(s));
	batch_changes_on(s);
	/* nothing reached the disk yet */
	CHECK_EQ(count_lines(journal_path), lines);
	CHECK_EQ(vv_store_flush(s, &err), -1);
	CHECK(strstr(err.msg, "batch is open") != NULL);
	CHECK_EQ(vv_store_batch_commit(s, &err), 0);
	CHECK(!vv_store_in_batch(s));
	CHECK_EQ(count_lines(journal_path), lines + 1);
	journal = slurp(journal_path, &len);
	CHECK(strstr(journal, "{\"op\":\"batch\",\"changes\":[{\"op\":\"delete\"") != NULL);
	free(journal);
	r = open_ro(&err);
	CHECK_EQ(err.msg[0], 0);
	CHECK(same_nv(s, r));
	CHECK(vv_store_find(r, U("Beta"), &TEST_GUID) == NULL);
	CHECK(vv_store_find(r, U("Vol"), &TEST_GUID) == NULL);   /* volatile: not journaled */
	vv_store_free(r);
	/* an empty batch writes nothing */
	CHECK_EQ(vv_store_batch_begin(s, &err), 0);
	CHECK_EQ(vv_store_batch_commit(s, &err), 0);
	CHECK_EQ(count_lines(journal_path), lines + 1);
	vv_store_free(s);
	vv_store_free(m);
	remove_dir();
}

/* A crash while the batch record was being appended leaves any prefix of
 * it: every one of them loads as the state before the batch (dropped
 * whole, reported), and so does a complete line with a bad CRC. */
static void
test_torn_batch_dropped_whole(void)
{
	struct vv_error err;
	struct vv_backend *b;
	struct vv_store *m = vv_store_new(NULL), *s = batch_setup(&b, m), *r;
	size_t before_len, after_len, cuts = 0, good = 0;
	char *before, *after;

	before = slurp(journal_path, &before_len);
	CHECK_EQ(vv_store_batch_begin(s, &err), 0);
	batch_changes_on(s);
	CHECK_EQ(vv_store_batch_commit(s, &err), 0);
	after = slurp(journal_path, &after_len);
	REQUIRE(after_len > before_len + 20 && memcmp(before, after, before_len) == 0);
	vv_store_free(s);       /* would compact: the files are rewritten below */
	for (size_t cut = before_len + 1; cut < after_len; cut += 7) {
		write_file(store_path, "", 0, "wb");
		write_file(journal_path, after, cut, "wb");
		r = open_journal(NULL, true, &err);
		cuts++;
		if (err.msg[0] == 0 && same_nv(m, r) &&
		    strstr(vv_store_load_warning(r), "dropped an unfinished last record") != NULL)
			good++;
		vv_store_free(r);
	}
	CHECK(cuts > 10);
	CHECK_EQ(good, cuts);
	/* the whole line with one byte changed: dropped, reported */
	after[before_len + 40] ^= 0x01;
	write_file(store_path, "", 0, "wb");
	write_file(journal_path, after, after_len, "wb");
	r = open_ro(&err);
	CHECK_EQ(err.msg[0], 0);
	CHECK(same_nv(m, r));
	CHECK(strstr(vv_store_load_warning(r), "CRC-32C mismatch") != NULL);
	vv_store_free(r);
	free(before);
	free(after);
	vv_store_free(m);
	remove_dir();
}

/* A batch whose append or fdatasync fails: -1 with the reason, memory
 * (NV and volatile) and the journal exactly as before the batch. */
static void
test_failed_batch_commit_changes_nothing(void)
{
	static const struct { enum vv_journal_step step; int err; const char *text; } f[] = {
		{ VV_JOURNAL_STEP_APPEND, ENOSPC, "append: No space left on device" },
		{ VV_JOURNAL_STEP_SYNC, EIO, "fdatasync: Input/output error" },
	};

	for (size_t i = 0; i < 2; i++) {
		struct vv_error err;
		struct vv_backend *b;
		struct vv_store *m = vv_store_new(NULL), *s = batch_setup(&b, m), *r;
		char *mem_before, *mem_after, *jbefore, *jafter;
		size_t lb, la;

		mem_before = all_text(s);
		jbefore = slurp(journal_path, &lb);
		CHECK_EQ(vv_store_batch_begin(s, &err), 0);
		batch_changes_on(s);
		vv_journal_backend_fail_next(b, f[i].step, f[i].err);
		CHECK_STATUS(vv_store_batch_commit(s, &err), VV_EFI_DEVICE_ERROR);
		CHECK(strstr(err.msg, f[i].text) != NULL);
		CHECK(strstr(vv_store_last_io_error(s), f[i].text) != NULL);
		CHECK(!vv_store_in_batch(s));
		mem_after = all_text(s);
		CHECK(strcmp(mem_before, mem_after) == 0);
		CHECK(vv_store_find(s, U("Vol"), &TEST_GUID) == NULL);
		CHECK(vv_store_find(s, U("Beta"), &TEST_GUID) != NULL);
		jafter = slurp(journal_path, &la);
		CHECK(la == lb && memcmp(jbefore, jafter, lb) == 0);
		r = open_ro(&err);
		CHECK(same_nv(m, r));
		vv_store_free(r);
		/* the store still works: the same batch now commits */
		CHECK_EQ(vv_store_batch_begin(s, &err), 0);
		batch_changes_on(s);
		CHECK_EQ(vv_store_batch_commit(s, &err), 0);
		r = open_ro(&err);
		CHECK(same_nv(s, r));
		vv_store_free(r);
		free(mem_before);
		free(mem_after);
		free(jbefore);
		free(jafter);
		vv_store_free(s);
		vv_store_free(m);
		remove_dir();
	}
}

/* vv_store_apply: a refused change (the 3rd) names its index and status,
 * and nothing of the two before it stays, in memory or on disk. */
static void
test_apply_refused_changes_nothing(void)
{
	struct vv_error err;
	struct vv_backend *b;
	struct vv_store *m = vv_store_new(NULL), *s = batch_setup(&b, m), *r;
	struct vv_set_request reqs[3] = {
		{ U("Alpha"), TEST_GUID, NV_BS_RT, (const uint8_t *)"X", 1, VV_CALLER_HOST },
		{ U("New"), TEST_GUID, NV_BS_RT, (const uint8_t *)"Y", 1, VV_CALLER_HOST },
		/* a delete of a missing variable: EFI_NOT_FOUND */
		{ U("Missing"), TEST_GUID, NV_BS_RT, NULL, 0, VV_CALLER_HOST },
	};
	size_t failed = 99, lb, la;
	char *mem_before = all_text(s), *mem_after, *jb = slurp(journal_path, &lb), *ja;

	CHECK_STATUS(vv_store_apply(s, reqs, 3, &failed), VV_EFI_NOT_FOUND);
	CHECK_EQ(failed, 2);
	mem_after = all_text(s);
	CHECK(strcmp(mem_before, mem_after) == 0);
	ja = slurp(journal_path, &la);
	CHECK(la == lb && memcmp(jb, ja, lb) == 0);
	/* the first two alone apply as one record */
	CHECK_STATUS(vv_store_apply(s, reqs, 2, &failed), VV_EFI_SUCCESS);
	CHECK_EQ(failed, 2);
	CHECK_EQ(count_lines(journal_path), 4);
	r = open_ro(&err);
	CHECK(same_nv(s, r));
	CHECK(vv_store_find(r, U("New"), &TEST_GUID) != NULL);
	vv_store_free(r);
	free(mem_before);
	free(mem_after);
	free(jb);
	free(ja);
	vv_store_free(s);
	vv_store_free(m);
	remove_dir();
}

/* A batch record that passes its CRC but holds a bad change is corruption:
 * the load fails naming the change, and nothing of the record applies. */
static void
test_bad_batch_record_refused(void)
{
	struct vv_error err;
	struct vv_store *r;
	char *rec;

	fresh_dir();
	rec = record("{\"op\":\"batch\",\"changes\":[{\"op\":\"put\",\"guid\":"
		     "\"12345678-1234-1234-1234-123456789abc\",\"name\":\"A\",\"attr\":7,"
		     "\"data\":\"01\"},{\"op\":\"batch\",\"changes\":[]}]}");
	write_file(journal_path, rec, strlen(rec), "wb");
	write_file(journal_path, rec, strlen(rec), "ab");   /* not the last line */
	r = open_ro(&err);
	CHECK(strstr(err.msg, "record at byte 0: change 1: op: a batch cannot hold a batch") !=
	      NULL);
	CHECK_EQ(vv_store_count(r), 0);
	vv_store_free(r);
	free(rec);
	remove_dir();
}

/* The plain file backend: a batch is one atomic rewrite; a failed rename
 * leaves the file and memory as before.  A backend sees the batch as one
 * VV_CHANGE_BATCH commit. */
static void
test_batch_plain_file_and_kind(void)
{
	struct vv_error err;
	struct vv_store *s = vv_store_new(NULL), *r;
	struct vv_backend *b;
	struct test_backend tb;
	char *mem_before, *mem_after, *fb, *fa;
	size_t lb, la;

	fresh_dir();
	b = vv_json_file_backend_new(store_path, &err);
	vv_store_set_backend(s, b);
	CHECK_EQ(vv_store_load(s, &err), 0);
	CHECK_STATUS(set_as(s, VV_CALLER_HOST, U("Alpha"), &TEST_GUID, NV_BS_RT, "one", 3),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(set_as(s, VV_CALLER_HOST, U("Beta"), &TEST_GUID, NV_BS_RT, "two", 3),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(set_as(s, VV_CALLER_HOST, U("Gamma"), &TEST_GUID, NV_BS_RT, "3", 1),
		     VV_EFI_SUCCESS);
	mem_before = all_text(s);
	fb = slurp(store_path, &lb);
	CHECK_EQ(vv_store_batch_begin(s, &err), 0);
	batch_changes_on(s);
	vv_file_backend_fail_next(b, VV_FILE_STEP_RENAME, EIO);
	CHECK_STATUS(vv_store_batch_commit(s, &err), VV_EFI_DEVICE_ERROR);
	CHECK(strstr(err.msg, "rename") != NULL);
	mem_after = all_text(s);
	CHECK(strcmp(mem_before, mem_after) == 0);
	fa = slurp(store_path, &la);
	CHECK(la == lb && memcmp(fa, fb, lb) == 0);
	free(fa);
	CHECK_EQ(vv_store_batch_begin(s, &err), 0);
	batch_changes_on(s);
	CHECK_EQ(vv_store_batch_commit(s, &err), 0);
	r = open_plain(&err);
	CHECK(same_nv(s, r));
	vv_store_free(r);
	vv_store_free(s);
	/* the kind and the count a backend sees */
	s = vv_store_new(NULL);
	test_backend_init(&tb);
	vv_store_set_backend(s, &tb.base);
	CHECK_STATUS(set_as(s, VV_CALLER_HOST, U("Beta"), &TEST_GUID, NV_BS_RT, "two", 3),
		     VV_EFI_SUCCESS);
	CHECK_STATUS(set_as(s, VV_CALLER_HOST, U("Gamma"), &TEST_GUID, NV_BS_RT, "3", 1),
		     VV_EFI_SUCCESS);
	CHECK_EQ(vv_store_batch_begin(s, &err), 0);
	batch_changes_on(s);
	CHECK_EQ(tb.commits, 2);
	CHECK_EQ(vv_store_batch_commit(s, &err), 0);
	CHECK_EQ(tb.commits, 3);
	CHECK_EQ(tb.last_kind, VV_CHANGE_BATCH);
	CHECK_EQ(vv_store_nv_commits(s), 3);
	/* abort: nothing committed, the table as before */
	mem_before = (free(mem_before), all_text(s));
	CHECK_EQ(vv_store_batch_begin(s, &err), 0);
	CHECK_STATUS(set_as(s, VV_CALLER_HOST, U("Alpha"), &TEST_GUID, NV_BS_RT, "zz", 2),
		     VV_EFI_SUCCESS);
	vv_store_batch_abort(s);
	free(mem_after);
	mem_after = all_text(s);
	CHECK(strcmp(mem_before, mem_after) == 0);
	CHECK_EQ(tb.commits, 3);
	vv_store_set_backend(s, NULL);
	vv_store_free(s);
	free(mem_before);
	free(mem_after);
	free(fb);
	remove_dir();
}

static const struct vv_test tests[] = {
	TEST(test_missing_files_load_empty),
	TEST(test_reload_equals_acknowledged),
	TEST(test_digest_record),
	TEST(test_torn_tail_ignored_and_truncated),
	TEST(test_dropped_tail_is_reported),
	TEST(test_corruption_in_the_middle),
	TEST(test_compaction_by_size),
	TEST(test_crash_between_rename_and_truncate),
	TEST(test_failed_append_changes_nothing),
	TEST(test_failed_compaction_keeps_journal),
	TEST(test_truncate_sync_failure_loses_nothing),
	TEST(test_commit_without_load_writes_everything),
	TEST(test_snapshot_interop_with_plain_backend),
	TEST(test_replay_text),
	TEST(test_batch_is_one_record),
	TEST(test_torn_batch_dropped_whole),
	TEST(test_failed_batch_commit_changes_nothing),
	TEST(test_apply_refused_changes_nothing),
	TEST(test_bad_batch_record_refused),
	TEST(test_batch_plain_file_and_kind),
};

VV_TEST_MAIN(tests)
