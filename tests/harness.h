/*
 * tests/harness.h -- the tiny test harness every test program uses.
 *
 * A test program defines functions `static void test_xxx(void)` and lists
 * them with TEST(test_xxx) in a `static const struct vv_test tests[]`
 * table, then ends with VV_TEST_MAIN(tests).  Output is TAP 13, which meson
 * counts per test case (protocol: 'tap').  A CHECK failure records the file,
 * line and the two values, and the case goes on (so one run shows every
 * broken rule); the case is reported "not ok" at its end.
 *
 * SKIP(reason) ends the current case as skipped: only for missing external
 * inputs (e.g. ../shared/data absent in a user's own clone), never to hide
 * a failure.
 */
#ifndef VMVARS_TEST_HARNESS_H
#define VMVARS_TEST_HARNESS_H

#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/efi.h>

struct vv_test {
	const char *name;
	void (*fn)(void);
};
#define TEST(f) { #f, f }

extern int vv_test_failures;
extern const char *vv_test_skip_reason;
extern jmp_buf vv_test_skip_jmp;

#define CHECK(cond) do { \
	if (!(cond)) { \
		printf("# %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
		vv_test_failures++; \
	} } while (0)

#define CHECK_EQ(a, b) do { \
	unsigned long long va_ = (unsigned long long)(a), vb_ = (unsigned long long)(b); \
	if (va_ != vb_) { \
		printf("# %s:%d: %s == %s failed: 0x%llx != 0x%llx\n", __FILE__, __LINE__, \
		       #a, #b, va_, vb_); \
		vv_test_failures++; \
	} } while (0)

#define CHECK_STATUS(expr, expected) do { \
	vv_status got_ = (expr), want_ = (expected); \
	if (got_ != want_) { \
		printf("# %s:%d: %s: got %s (0x%llx), want %s\n", __FILE__, __LINE__, #expr, \
		       vv_status_name(got_), (unsigned long long)got_, vv_status_name(want_)); \
		vv_test_failures++; \
	} } while (0)

#define CHECK_MEM(a, b, n) do { \
	if (memcmp((a), (b), (n)) != 0) { \
		printf("# %s:%d: memcmp(%s, %s, %s) differs\n", __FILE__, __LINE__, #a, #b, #n); \
		vv_test_failures++; \
	} } while (0)

/* With VMVARS_NO_SKIP set (CI sets it: CI always has ../shared), a skip is
 * a failure. */
#define SKIP(reason) do { \
	vv_test_skip_reason = (reason); \
	if (getenv("VMVARS_NO_SKIP") != NULL) { \
		printf("# %s:%d: skip not allowed here: %s\n", __FILE__, __LINE__, (reason)); \
		vv_test_failures++; \
		vv_test_skip_reason = NULL; \
	} \
	longjmp(vv_test_skip_jmp, 1); } while (0)

/* Fatal precondition inside a test: report and end this case. */
#define REQUIRE(cond) do { \
	if (!(cond)) { \
		printf("# %s:%d: REQUIRE(%s) failed\n", __FILE__, __LINE__, #cond); \
		vv_test_failures++; \
		vv_test_skip_reason = NULL; \
		longjmp(vv_test_skip_jmp, 2); \
	} } while (0)

int vv_test_run(const struct vv_test *tests, size_t n);

#define VV_TEST_MAIN(table) \
	int vv_test_failures; \
	const char *vv_test_skip_reason; \
	jmp_buf vv_test_skip_jmp; \
	int main(void) { return vv_test_run(table, sizeof(table) / sizeof(table[0])); }

/* Path of ../shared/data (or $VMVARS_SHARED_DATA); NULL if absent. */
const char *vv_test_shared_data(void);

#endif
