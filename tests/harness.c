/*
 * tests/harness.c -- runs a table of test cases and prints TAP.
 */
#include "harness.h"

#include <sys/stat.h>

int
vv_test_run(const struct vv_test *tests, size_t n)
{
	volatile int failed = 0;

	printf("TAP version 13\n1..%zu\n", n);
	for (size_t i = 0; i < n; i++) {
		int before = vv_test_failures;
		int how;

		vv_test_skip_reason = NULL;
		how = setjmp(vv_test_skip_jmp);
		if (how == 0)
			tests[i].fn();
		if (how == 1 && vv_test_skip_reason != NULL) {
			printf("ok %zu - %s # SKIP %s\n", i + 1, tests[i].name, vv_test_skip_reason);
		} else if (vv_test_failures != before) {
			printf("not ok %zu - %s\n", i + 1, tests[i].name);
			failed++;
		} else {
			printf("ok %zu - %s\n", i + 1, tests[i].name);
		}
		fflush(stdout);
	}
	return failed ? 1 : 0;
}

const char *
vv_test_shared_data(void)
{
	static const char *const candidates[] = {
		NULL, /* $VMVARS_SHARED_DATA */
		VV_SOURCE_ROOT "/../shared/data",
	};
	struct stat st;
	const char *env = getenv("VMVARS_SHARED_DATA");

	if (env != NULL && *env != '\0')
		return stat(env, &st) == 0 && S_ISDIR(st.st_mode) ? env : NULL;
	for (size_t i = 1; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (stat(candidates[i], &st) == 0 && S_ISDIR(st.st_mode))
			return candidates[i];
	return NULL;
}
