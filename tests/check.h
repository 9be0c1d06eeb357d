/* SPDX-License-Identifier: MIT */
/*
 * check.h - the unit tests' tiny harness.
 *
 * A test file defines its cases with IVM_TEST(name) { ... } and ends with
 * IVM_TEST_MAIN().  Each case runs in order; a failed CHECK prints the
 * file, line and expression (and both statuses for CHECK_STATUS) and marks
 * the case failed, but the case goes on so one run shows every failure.
 * The runner prints "N passed, N failed" and exits non-zero on failure.
 */
#ifndef IVM_TESTS_CHECK_H
#define IVM_TESTS_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iovamap/status.h"

typedef void (*ivm_test_fn)(void);

struct ivm_test_case {
	const char *name;
	ivm_test_fn fn;
};

#define IVM_MAX_TESTS 256
static struct ivm_test_case ivm_tests[IVM_MAX_TESTS];
static int ivm_test_count;
static int ivm_test_failed_checks;

static inline void ivm_test_register(const char *name, ivm_test_fn fn)
{
	if (ivm_test_count == IVM_MAX_TESTS) {
		fprintf(stderr, "too many tests\n");
		exit(2);
	}
	ivm_tests[ivm_test_count].name = name;
	ivm_tests[ivm_test_count].fn = fn;
	ivm_test_count++;
}

#define IVM_TEST(name)                                                     \
	static void test_##name(void);                                     \
	__attribute__((constructor)) static void register_##name(void)     \
	{                                                                  \
		ivm_test_register(#name, test_##name);                     \
	}                                                                  \
	static void test_##name(void)

#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n",     \
				__FILE__, __LINE__, #cond);                \
			ivm_test_failed_checks++;                          \
		}                                                          \
	} while (0)

#define CHECK_STATUS(expr, want)                                           \
	do {                                                               \
		ivm_status got_ = (expr);                                  \
		ivm_status want_ = (want);                                 \
		if (got_ != want_) {                                       \
			fprintf(stderr, "  %s:%d: %s -> %s, want %s\n",    \
				__FILE__, __LINE__, #expr,                 \
				ivm_status_name(got_),                     \
				ivm_status_name(want_));                   \
			ivm_test_failed_checks++;                          \
		}                                                          \
	} while (0)

#define CHECK_EQ_U64(a, b)                                                 \
	do {                                                               \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);           \
		if (a_ != b_) {                                            \
			fprintf(stderr,                                    \
				"  %s:%d: %s == %s failed: 0x%" PRIx64     \
				" != 0x%" PRIx64 "\n",                     \
				__FILE__, __LINE__, #a, #b, a_, b_);       \
			ivm_test_failed_checks++;                          \
		}                                                          \
	} while (0)

/* Runs every case whose name contains argv[1] (all without argument);
 * prints fail_note after each failed case when non-NULL (a replay hint). */
static inline int ivm_test_run(int argc, char **argv, const char *fail_note)
{
	int passed = 0, failed = 0;

	for (int i = 0; i < ivm_test_count; i++) {
		if (argc > 1 && !strstr(ivm_tests[i].name, argv[1]))
			continue;
		int before = ivm_test_failed_checks;
		ivm_tests[i].fn();
		if (ivm_test_failed_checks == before) {
			passed++;
			printf("ok   %s\n", ivm_tests[i].name);
		} else {
			failed++;
			printf("FAIL %s%s%s\n", ivm_tests[i].name,
			       fail_note ? " " : "", fail_note ? fail_note : "");
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

#define IVM_TEST_MAIN()                                                    \
	int main(int argc, char **argv)                                    \
	{                                                                  \
		return ivm_test_run(argc, argv, NULL);                     \
	}

#endif /* IVM_TESTS_CHECK_H */
