/*
 * tests/test_persistence.c -- the JSON file backend (vmvars/backend.h):
 * loading missing, empty and corrupt files; commit then reload; and
 * failure atomicity (store.h invariant 5): a failed commit leaves the old
 * file byte for byte, no temporary file, and -- through vv_store_set -- the
 * old value in memory with EFI_DEVICE_ERROR.
 *
 * Failures are produced in ways that hold for root too (CI runs as root,
 * which ignores permission bits): the temporary file's name taken by a
 * directory, a path inside a missing directory, and the backend's
 * test-only fault injection (src/backend/file_backend.h) for ENOSPC/EIO.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <uchar.h>
#include <unistd.h>

#include <vmvars/backend.h>
#include <vmvars/json_v2.h>
#include <vmvars/store.h>
#include <vmvars/ucs2.h>

#include "backend/file_backend.h"
#include "core/file_replace.h"

/* ---- helpers ---- */

static char tmpdir[256];
static char store_path[512];

/* A fresh directory per case, with store_path = <dir>/vars.json. */
static void
fresh_dir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vvtest-persist-XXXXXX");
	REQUIRE(mkdtemp(tmpdir) != NULL);
	snprintf(store_path, sizeof(store_path), "%s/vars.json", tmpdir);
}

/* Removes the directory and what the cases put there (one level deep). */
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
		if (unlink(p) != 0)
			rmdir(p);
	}
	closedir(d);
	rmdir(tmpdir);
}

/* Number of directory entries other than . and .. and the names given. */
static int
count_other_entries(const char *keep1, const char *keep2)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if ((keep1 != NULL && strcmp(e->d_name, keep1) == 0) ||
		    (keep2 != NULL && strcmp(e->d_name, keep2) == 0))
			continue;
		printf("# unexpected entry %s\n", e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static void
write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	REQUIRE(f != NULL);
	REQUIRE(fwrite(text, 1, len, f) == len);
	REQUIRE(fclose(f) == 0);
}

/* Whole file; NULL if it cannot be read. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

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

static bool
file_is(const char *path, const char *want, size_t want_len)
{
	size_t len = 0;
	char *got = slurp(path, &len);
	bool same = got != NULL && len == want_len && memcmp(got, want, len) == 0;

	free(got);
	return same;
}

static const vv_guid *
vendor_guid(void)
{
	static vv_guid g;

	if (vv_guid_parse("4e32566d-8e9e-4f52-81d3-5bb9715f9727", &g) != 0)
		abort();
	return &g;
}

static void
insert(struct vv_store *s, const char16_t *name, uint32_t attr, const char *data)
{
	struct vv_variable v;
	struct vv_error err;
	size_t n = 0;

	while (name[n] != 0)
		n++;
	memset(&v, 0, sizeof(v));
	v.guid = *vendor_guid();
	v.attributes = attr;
	v.name = (uint16_t *)name;
	v.name_len = n;
	v.data = (uint8_t *)data;
	v.data_size = strlen(data);
	if (vv_store_insert_loaded(s, &v, &err) != 0)
		printf("# insert: %s\n", err.msg);
	REQUIRE(vv_store_find(s, name, n, vendor_guid()) != NULL);
}

/* A store with a file backend on store_path, loaded. */
static struct vv_store *
open_store(struct vv_backend **backend, struct vv_error *err)
{
	struct vv_store *s = vv_store_new(NULL);
	struct vv_backend *b;

	REQUIRE(s != NULL);
	b = vv_json_file_backend_new(store_path, err);
	REQUIRE(b != NULL);
	vv_store_set_backend(s, b);
	if (backend != NULL)
		*backend = b;
	memset(err, 0, sizeof(*err));
	return s;
}

static bool
value_is(const struct vv_store *s, const char16_t *name, const char *data)
{
	size_t n = 0;
	const struct vv_variable *v;

	while (name[n] != 0)
		n++;
	v = vv_store_find(s, name, n, vendor_guid());
	return v != NULL && v->data_size == strlen(data) &&
	       memcmp(v->data, data, v->data_size) == 0;
}

static vv_status
set_var(struct vv_store *s, const char16_t *name, uint32_t attr, const char *data)
{
	struct vv_set_request req;
	size_t n = 0;

	while (name[n] != 0)
		n++;
	memset(&req, 0, sizeof(req));
	req.name = name;
	req.name_len = n;
	req.guid = *vendor_guid();
	req.attributes = attr;
	req.data = (const uint8_t *)data;
	req.data_size = strlen(data);
	req.caller = VV_CALLER_GUEST;
	return vv_store_set(s, &req);
}

/* The temporary name the backend uses for this process. */
static void
temp_name(char *out, size_t cap)
{
	snprintf(out, cap, "%s.tmp.%ld", store_path, (long)getpid());
}

/* ---- load ---- */

static void
test_load_missing_file(void)
{
	struct vv_error err;
	struct vv_store *s;

	fresh_dir();
	s = open_store(NULL, &err);
	CHECK_EQ(vv_store_load(s, &err), 0);
	CHECK_EQ(vv_store_count(s), 0);
	/* Loading does not create the file. */
	CHECK(access(store_path, F_OK) != 0);
	vv_store_free(s);
	remove_dir();
}

static void
test_load_empty_file(void)
{
	struct vv_error err;
	struct vv_store *s;

	fresh_dir();
	write_file(store_path, "", 0);
	s = open_store(NULL, &err);
	CHECK_EQ(vv_store_load(s, &err), 0);
	CHECK_EQ(vv_store_count(s), 0);
	vv_store_free(s);
	remove_dir();
}

/* A corrupt file: the error names the file; the store stays empty even
 * though the first variable was good (never a silently partial store). */
static void
test_load_corrupt_file(void)
{
	static const char doc[] =
		"{\"version\": 2, \"variables\": ["
		"{\"guid\": \"8be4df61-93ca-11d2-aa0d-00e098032b8c\", \"name\": \"A\","
		" \"attr\": 7, \"data\": \"00\"},"
		"{\"guid\": \"8be4df61-93ca-11d2-aa0d-00e098032b8c\", \"name\": \"B\","
		" \"attr\": 7, \"data\": \"0\"}]}";
	struct vv_error err;
	struct vv_store *s;
	char want[700];

	fresh_dir();
	write_file(store_path, doc, strlen(doc));
	s = open_store(NULL, &err);
	CHECK_EQ(vv_store_load(s, &err), -1);
	snprintf(want, sizeof(want), "%s: variables[1].data: odd number of hex digits",
		 store_path);
	if (strcmp(err.msg, want) != 0)
		printf("# got \"%s\"\n", err.msg);
	CHECK(strcmp(err.msg, want) == 0);
	CHECK_EQ(vv_store_count(s), 0);
	vv_store_free(s);

	/* Truncated JSON. */
	write_file(store_path, doc, 40);
	s = open_store(NULL, &err);
	CHECK_EQ(vv_store_load(s, &err), -1);
	snprintf(want, sizeof(want), "%s: JSON syntax error at byte 40: unexpected end of input",
		 store_path);
	if (strcmp(err.msg, want) != 0)
		printf("# got \"%s\"\n", err.msg);
	CHECK(strcmp(err.msg, want) == 0);
	CHECK_EQ(vv_store_count(s), 0);
	vv_store_free(s);
	remove_dir();
}

/* The path is a directory: not readable as a store. */
static void
test_load_unreadable(void)
{
	struct vv_error err;
	struct vv_store *s;
	char want[700];

	fresh_dir();
	REQUIRE(mkdir(store_path, 0700) == 0);
	s = open_store(NULL, &err);
	CHECK_EQ(vv_store_load(s, &err), -1);
	snprintf(want, sizeof(want), "%s: is a directory", store_path);
	CHECK(strcmp(err.msg, want) == 0);
	vv_store_free(s);

	/* A path through a regular file: ENOTDIR, with strerror. */
	rmdir(store_path);
	write_file(store_path, "", 0);
	snprintf(store_path + strlen(store_path), sizeof(store_path) - strlen(store_path),
		 "/inner.json");
	s = open_store(NULL, &err);
	CHECK_EQ(vv_store_load(s, &err), -1);
	snprintf(want, sizeof(want), "%s: open: %s", store_path, strerror(ENOTDIR));
	if (strcmp(err.msg, want) != 0)
		printf("# got \"%s\"\n", err.msg);
	CHECK(strcmp(err.msg, want) == 0);
	vv_store_free(s);
	remove_dir();
}

/* ---- commit ---- */

static void
test_commit_then_reload(void)
{
	struct vv_error err;
	struct vv_store *s, *t;
	struct stat st;
	const struct vv_variable *a, *b;

	fresh_dir();
	s = open_store(NULL, &err);
	REQUIRE(vv_store_load(s, &err) == 0);
	insert(s, u"One", 7, "first");
	insert(s, u"Two", 3, "");
	insert(s, u"Größe", 7, "\x01\x02");
	insert(s, u"Volatile", 6, "gone");
	CHECK_EQ(vv_store_flush(s, &err), 0);
	CHECK(stat(store_path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK_EQ(count_other_entries("vars.json", NULL), 0);

	t = open_store(NULL, &err);
	CHECK_EQ(vv_store_load(t, &err), 0);
	CHECK_EQ(vv_store_count(t), 3);
	for (a = vv_store_first(s), b = vv_store_first(t); a != NULL; a = vv_store_next(a)) {
		if (!(a->attributes & VV_ATTR_NV))
			continue;
		REQUIRE(b != NULL);
		CHECK(vv_ucs2_equal(a->name, a->name_len, b->name, b->name_len));
		CHECK_EQ(a->attributes, b->attributes);
		CHECK_EQ(a->data_size, b->data_size);
		CHECK(a->data_size == 0 || memcmp(a->data, b->data, a->data_size) == 0);
		b = vv_store_next(b);
	}
	CHECK(b == NULL);
	vv_store_free(t);
	vv_store_free(s);
	remove_dir();
}

/* A stale temporary file from a crashed run with our pid is replaced. */
static void
test_commit_replaces_stale_temp(void)
{
	struct vv_error err;
	struct vv_store *s;
	char tmp[600];

	fresh_dir();
	temp_name(tmp, sizeof(tmp));
	write_file(tmp, "junk", 4);
	s = open_store(NULL, &err);
	insert(s, u"One", 7, "x");
	CHECK_EQ(vv_store_flush(s, &err), 0);
	CHECK(access(tmp, F_OK) != 0);
	CHECK_EQ(count_other_entries("vars.json", NULL), 0);
	vv_store_free(s);
	remove_dir();
}

/*
 * Every failing step: -1, the message "<path>: <step>: <reason>", the old
 * file byte for byte, no temporary file left.
 */
static void
test_commit_failure_keeps_old_file(void)
{
	static const struct {
		enum vv_file_step step;
		int err_no;
		const char *what;   /* the message after "<path>: " */
	} cases[] = {
		{ VV_FILE_STEP_WRITE, ENOSPC, "write: No space left on device" },
		{ VV_FILE_STEP_FSYNC, ENOSPC, "fsync: No space left on device" },
		{ VV_FILE_STEP_FSYNC, EIO, "fsync: Input/output error" },
		{ VV_FILE_STEP_CLOSE, EIO, "close: Input/output error" },
		{ VV_FILE_STEP_RENAME, EIO, NULL },     /* names the temp file */
		{ VV_FILE_STEP_OPEN, EMFILE, NULL },
	};
	struct vv_error err;
	struct vv_backend *b;
	struct vv_store *s;
	char *before, want[2048], tmp[600];
	size_t before_len = 0;

	fresh_dir();
	temp_name(tmp, sizeof(tmp));
	s = open_store(&b, &err);
	insert(s, u"One", 7, "old");
	REQUIRE(vv_store_flush(s, &err) == 0);
	before = slurp(store_path, &before_len);
	REQUIRE(before != NULL);
	insert(s, u"Two", 7, "new");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&err, 0, sizeof(err));
		vv_file_backend_fail_next(b, cases[i].step, cases[i].err_no);
		CHECK_EQ(vv_store_flush(s, &err), -1);
		if (cases[i].what != NULL)
			snprintf(want, sizeof(want), "%s: %s", store_path, cases[i].what);
		else if (cases[i].step == VV_FILE_STEP_RENAME)
			snprintf(want, sizeof(want), "%s: rename %s: %s", store_path, tmp,
				 strerror(EIO));
		else
			snprintf(want, sizeof(want), "%s: create %s: %s", store_path, tmp,
				 strerror(EMFILE));
		if (strcmp(err.msg, want) != 0)
			printf("# case %zu: got \"%s\", want \"%s\"\n", i, err.msg, want);
		CHECK(strcmp(err.msg, want) == 0);
		CHECK(file_is(store_path, before, before_len));
		CHECK_EQ(count_other_entries("vars.json", NULL), 0);
	}
	/* Injection is one-shot: the next commit goes through. */
	CHECK_EQ(vv_store_flush(s, &err), 0);
	CHECK(!file_is(store_path, before, before_len));
	free(before);
	vv_store_free(s);
	remove_dir();
}

/*
 * The directory fsync fails after the rename: the failure is reported (the
 * store undoes the change in memory) although the new file is in place;
 * the next successful commit rewrites it whole (file_backend.c header).
 */
static void
test_commit_dirsync_failure(void)
{
	struct vv_error err;
	struct vv_backend *b;
	struct vv_store *s;
	char want[2048];

	fresh_dir();
	s = open_store(&b, &err);
	insert(s, u"One", 7, "x");
	vv_file_backend_fail_next(b, VV_FILE_STEP_DIRSYNC, EIO);
	CHECK_EQ(vv_store_flush(s, &err), -1);
	snprintf(want, sizeof(want), "%s: fsync directory %s: %s", store_path, tmpdir,
		 strerror(EIO));
	if (strcmp(err.msg, want) != 0)
		printf("# got \"%s\"\n", err.msg);
	CHECK(strcmp(err.msg, want) == 0);
	CHECK_EQ(count_other_entries("vars.json", NULL), 0);
	vv_store_free(s);
	remove_dir();
}

/* Real failures, for root too: the temporary name is a directory. */
static void
test_commit_failure_temp_is_directory(void)
{
	struct vv_error err;
	struct vv_store *s;
	char *before, want[2048], tmp[600];
	size_t before_len = 0;

	fresh_dir();
	temp_name(tmp, sizeof(tmp));
	s = open_store(NULL, &err);
	insert(s, u"One", 7, "old");
	REQUIRE(vv_store_flush(s, &err) == 0);
	before = slurp(store_path, &before_len);
	REQUIRE(before != NULL);
	REQUIRE(mkdir(tmp, 0700) == 0);
	insert(s, u"Two", 7, "new");
	CHECK_EQ(vv_store_flush(s, &err), -1);
	snprintf(want, sizeof(want), "%s: create %s: %s", store_path, tmp, strerror(EEXIST));
	if (strcmp(err.msg, want) != 0)
		printf("# got \"%s\"\n", err.msg);
	CHECK(strcmp(err.msg, want) == 0);
	CHECK(file_is(store_path, before, before_len));
	CHECK_EQ(count_other_entries("vars.json", strrchr(tmp, '/') + 1), 0);
	free(before);
	vv_store_free(s);
	remove_dir();
}

/* The target path is a directory: rename fails, temp file removed. */
static void
test_commit_failure_target_is_directory(void)
{
	struct vv_error err;
	struct vv_store *s;
	char want[2048], tmp[600];

	fresh_dir();
	temp_name(tmp, sizeof(tmp));
	REQUIRE(mkdir(store_path, 0700) == 0);
	s = open_store(NULL, &err);
	insert(s, u"One", 7, "x");
	CHECK_EQ(vv_store_flush(s, &err), -1);
	snprintf(want, sizeof(want), "%s: rename %s: %s", store_path, tmp, strerror(EISDIR));
	if (strcmp(err.msg, want) != 0)
		printf("# got \"%s\"\n", err.msg);
	CHECK(strcmp(err.msg, want) == 0);
	CHECK(access(tmp, F_OK) != 0);
	CHECK_EQ(count_other_entries("vars.json", NULL), 0);
	vv_store_free(s);
	remove_dir();
}

/* A path inside a directory that does not exist. */
static void
test_commit_failure_missing_directory(void)
{
	struct vv_error err;
	struct vv_store *s;

	fresh_dir();
	snprintf(store_path, sizeof(store_path), "%s/no-such-dir/vars.json", tmpdir);
	s = open_store(NULL, &err);
	CHECK_EQ(vv_store_load(s, &err), 0);  /* missing file: empty store */
	insert(s, u"One", 7, "x");
	CHECK_EQ(vv_store_flush(s, &err), -1);
	CHECK(strncmp(err.msg, store_path, strlen(store_path)) == 0);
	CHECK(strstr(err.msg, strerror(ENOENT)) != NULL);
	CHECK_EQ(count_other_entries(NULL, NULL), 0);
	vv_store_free(s);
	remove_dir();
}

/* ---- end to end: SetVariable (store.h invariant 5) ---- */

static void
test_failed_set_changes_nothing(void)
{
	struct vv_error err;
	struct vv_backend *b;
	struct vv_store *s, *t;
	char *before, tmp[600], want[2048];
	size_t before_len = 0;
	const uint32_t nvbsrt = VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT;

	fresh_dir();
	temp_name(tmp, sizeof(tmp));
	s = open_store(&b, &err);
	REQUIRE(vv_store_load(s, &err) == 0);
	CHECK_STATUS(set_var(s, u"Keep", nvbsrt, "v1"), VV_EFI_SUCCESS);
	CHECK_STATUS(set_var(s, u"Other", nvbsrt, "o1"), VV_EFI_SUCCESS);

	/* The file holds it. */
	t = open_store(NULL, &err);
	CHECK_EQ(vv_store_load(t, &err), 0);
	CHECK(value_is(t, u"Keep", "v1"));
	CHECK(value_is(t, u"Other", "o1"));
	vv_store_free(t);
	before = slurp(store_path, &before_len);
	REQUIRE(before != NULL);

	/* Break the directory: the temporary name is taken by a directory. */
	REQUIRE(mkdir(tmp, 0700) == 0);
	snprintf(want, sizeof(want), "%s: create %s: %s", store_path, tmp, strerror(EEXIST));

	/* Update. */
	CHECK_STATUS(set_var(s, u"Keep", nvbsrt, "v2"), VV_EFI_DEVICE_ERROR);
	CHECK(value_is(s, u"Keep", "v1"));
	CHECK(strcmp(vv_store_last_io_error(s), want) == 0);
	/* Create. */
	CHECK_STATUS(set_var(s, u"New", nvbsrt, "n1"), VV_EFI_DEVICE_ERROR);
	CHECK(vv_store_find(s, u"New", 3, vendor_guid()) == NULL);
	/* Delete (DataSize 0). */
	CHECK_STATUS(set_var(s, u"Other", nvbsrt, ""), VV_EFI_DEVICE_ERROR);
	CHECK(value_is(s, u"Other", "o1"));
	/* Append. */
	CHECK_STATUS(set_var(s, u"Keep", nvbsrt | VV_ATTR_APPEND, "+"), VV_EFI_DEVICE_ERROR);
	CHECK(value_is(s, u"Keep", "v1"));
	CHECK_EQ(vv_store_count(s), 2);
	/* Enumeration order is unchanged: Keep, Other. */
	CHECK(vv_store_first(s) != NULL && vv_store_first(s)->name[0] == 'K');
	CHECK(file_is(store_path, before, before_len));

	/* A volatile variable needs no commit and still works. */
	CHECK_STATUS(set_var(s, u"Vol", VV_ATTR_BS, "x"), VV_EFI_SUCCESS);

	/* ENOSPC on fsync, through the guest path. */
	rmdir(tmp);
	vv_file_backend_fail_next(b, VV_FILE_STEP_FSYNC, ENOSPC);
	CHECK_STATUS(set_var(s, u"Keep", nvbsrt, "v3"), VV_EFI_DEVICE_ERROR);
	snprintf(want, sizeof(want), "%s: fsync: No space left on device", store_path);
	CHECK(strcmp(vv_store_last_io_error(s), want) == 0);
	CHECK(value_is(s, u"Keep", "v1"));
	CHECK(file_is(store_path, before, before_len));
	CHECK_EQ(count_other_entries("vars.json", NULL), 0);

	/* Repaired: the next write lands in memory and on disk. */
	CHECK_STATUS(set_var(s, u"Keep", nvbsrt, "v4"), VV_EFI_SUCCESS);
	CHECK(value_is(s, u"Keep", "v4"));
	t = open_store(NULL, &err);
	CHECK_EQ(vv_store_load(t, &err), 0);
	CHECK(value_is(t, u"Keep", "v4"));
	CHECK(value_is(t, u"Other", "o1"));
	CHECK(vv_store_find(t, u"Vol", 3, vendor_guid()) == NULL);
	CHECK_EQ(vv_store_count(t), 2);
	vv_store_free(t);
	free(before);
	vv_store_free(s);
	remove_dir();
}

static void
test_null_backend(void)
{
	struct vv_store *s = vv_store_new(NULL);
	struct vv_backend *b = vv_null_backend_new();
	struct vv_error err;

	REQUIRE(s != NULL && b != NULL);
	vv_store_set_backend(s, b);
	CHECK_EQ(vv_store_load(s, &err), 0);
	CHECK_EQ(vv_store_count(s), 0);
	CHECK_STATUS(set_var(s, u"Keep", VV_ATTR_NV | VV_ATTR_BS, "v1"), VV_EFI_SUCCESS);
	CHECK(value_is(s, u"Keep", "v1"));
	CHECK_EQ(vv_store_flush(s, &err), 0);
	vv_store_free(s);
}

static void
test_backend_new_rejects_empty_path(void)
{
	struct vv_error err;

	memset(&err, 0, sizeof(err));
	CHECK(vv_json_file_backend_new("", &err) == NULL);
	CHECK(err.msg[0] != '\0');
	CHECK(vv_json_file_backend_new(NULL, &err) == NULL);
}

/* The file's whole content equals text. */
static bool
content_is(const char *path, const char *text)
{
	char buf[256];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n == (ssize_t)strlen(text) && memcmp(buf, text, (size_t)n) == 0;
}

#define CHECK_MSG(err, want) do { \
	if (strcmp((err).msg, (want)) != 0) { \
		printf("# got  '%s'\n# want '%s'\n", (err).msg, (want)); \
		vv_test_failures++; \
	} } while (0)

/*
 * The one atomic-replace primitive for a user's file (core/file_replace.h,
 * issue #17): through a symlink, new-only, hard links, read-only; each
 * refusal with its exact message and the file unchanged.
 */
static void
test_file_replace_identity(void)
{
	const struct vv_replace user = { VV_REPLACE_IDENTITY, 0644, NULL, NULL };
	const struct vv_replace fresh = { VV_REPLACE_IDENTITY | VV_REPLACE_NEW, 0600, NULL, NULL };
	const struct vv_replace force = { VV_REPLACE_IDENTITY | VV_REPLACE_FORCE, 0644, NULL,
					  NULL };
	char real[600], link_[600], hard[600], want[1200], *resolved;
	struct vv_error err;
	struct stat st;

	fresh_dir();
	snprintf(real, sizeof(real), "%s/real.json", tmpdir);
	snprintf(link_, sizeof(link_), "%s/link.json", tmpdir);
	snprintf(hard, sizeof(hard), "%s/hard.json", tmpdir);
	/* new file: mode as asked (umask aside), content whole */
	REQUIRE(vv_file_replace(real, "one", 3, &fresh, &err) == 0);
	CHECK(content_is(real, "one"));
	CHECK(stat(real, &st) == 0 && (st.st_mode & 0077) == 0);
	/* new-only onto an existing file: refused, unchanged */
	CHECK(vv_file_replace(real, "two", 3, &fresh, &err) == -1);
	snprintf(want, sizeof(want), "%s: exists; nothing written (use --force to replace it)",
		 real);
	CHECK_MSG(err, want);
	CHECK(content_is(real, "one"));
	/* through a symlink: the target replaced, the link kept, the mode too */
	REQUIRE(chmod(real, 0640) == 0);
	REQUIRE(symlink("real.json", link_) == 0);
	resolved = vv_file_resolve(link_, &err);
	REQUIRE(resolved != NULL);
	CHECK(strcmp(strrchr(resolved, '/'), "/real.json") == 0);
	free(resolved);
	REQUIRE(vv_file_replace(link_, "three", 5, &user, &err) == 0);
	CHECK(lstat(link_, &st) == 0 && S_ISLNK(st.st_mode));
	CHECK(content_is(real, "three"));
	CHECK(stat(real, &st) == 0 && (st.st_mode & 07777) == 0640);
	CHECK_EQ(count_other_entries("real.json", "link.json"), 0);   /* no temporary left */
	/* hard-linked: refused, both names unchanged; forced: this name only */
	REQUIRE(link(real, hard) == 0);
	CHECK(vv_file_replace(real, "four", 4, &user, &err) == -1);
	snprintf(want, sizeof(want), "%s: has 2 hard links; replacing it would leave the other "
		 "names with the old content; nothing written (use --force to replace this name "
		 "only)", real);
	CHECK_MSG(err, want);
	CHECK(content_is(real, "three") && content_is(hard, "three"));
	REQUIRE(vv_file_replace(real, "four", 4, &force, &err) == 0);
	CHECK(content_is(real, "four") && content_is(hard, "three"));
	/* read-only (no write bit): refused even for root, then forced */
	REQUIRE(chmod(real, 0444) == 0);
	CHECK(vv_file_replace(real, "five", 4, &user, &err) == -1);
	snprintf(want, sizeof(want), "%s: is read-only (mode 0444); nothing written (use "
		 "--force to write it anyway; its mode is kept)", real);
	CHECK_MSG(err, want);
	CHECK(content_is(real, "four"));
	REQUIRE(vv_file_replace(real, "five", 4, &force, &err) == 0);
	CHECK(content_is(real, "five"));
	CHECK(stat(real, &st) == 0 && (st.st_mode & 07777) == 0444);
	/* a dangling symlink and a directory */
	unlink(link_);
	REQUIRE(symlink("nowhere.json", link_) == 0);
	CHECK(vv_file_replace(link_, "x", 1, &user, &err) == -1);
	snprintf(want, sizeof(want), "%s: is a symlink to nowhere.json, which does not exist; "
		 "nothing written", link_);
	CHECK_MSG(err, want);
	CHECK(vv_file_replace(tmpdir, "x", 1, &user, &err) == -1);
	snprintf(want, sizeof(want), "%s: is a directory; nothing written", tmpdir);
	CHECK_MSG(err, want);
	snprintf(want, sizeof(want), "%s.tmp.%ld", real, (long)getpid());
	CHECK(lstat(want, &st) != 0);   /* no temporary file left by the refusals */
	remove_dir();
}

static const struct vv_test tests[] = {
	TEST(test_load_missing_file),
	TEST(test_load_empty_file),
	TEST(test_load_corrupt_file),
	TEST(test_load_unreadable),
	TEST(test_commit_then_reload),
	TEST(test_commit_replaces_stale_temp),
	TEST(test_commit_failure_keeps_old_file),
	TEST(test_commit_dirsync_failure),
	TEST(test_commit_failure_temp_is_directory),
	TEST(test_commit_failure_target_is_directory),
	TEST(test_commit_failure_missing_directory),
	TEST(test_failed_set_changes_nothing),
	TEST(test_null_backend),
	TEST(test_backend_new_rejects_empty_path),
	TEST(test_file_replace_identity),
};

VV_TEST_MAIN(tests)
