/* SPDX-License-Identifier: MIT */
/*
 * vmtest.h - the report format of the programs that run inside the VM
 * test's guest (tests/vm/run-vm.sh parses it).
 *
 * Every line a program reports starts with "VMTEST: ":
 *   VMTEST: CHECK <group> <name> PASS|FAIL [details]
 *   VMTEST: INFO  <free text>
 *   VMTEST: RESULT PASS|FAIL checks=N failed=N
 * and the benchmark's figures with "VMBENCH: ".  RESULT is the last line;
 * a program that dies before it printed RESULT counts as failed.  Other
 * output (DPDK's EAL, the kernel) goes through unparsed.
 */
#ifndef IVM_TESTS_VM_VMTEST_H
#define IVM_TESTS_VM_VMTEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int vmtest_checks;
static int vmtest_failed;

__attribute__((format(printf, 1, 2))) static inline void
vmtest_info(const char *fmt, ...)
{
	va_list ap;

	fputs("VMTEST: INFO ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static inline bool vmtest_check_begin(bool ok, const char *group,
				      const char *name)
{
	vmtest_checks++;
	if (!ok)
		vmtest_failed++;
	printf("VMTEST: CHECK %s %s %s", group, name, ok ? "PASS" : "FAIL");
	return ok;
}

/* One check: @ok decides PASS or FAIL.  Returns @ok. */
static inline bool vmtest_check(bool ok, const char *group, const char *name)
{
	vmtest_check_begin(ok, group, name);
	fputc('\n', stdout);
	fflush(stdout);
	return ok;
}

/* The same with details after the verdict. */
__attribute__((format(printf, 4, 5))) static inline bool
vmtest_checkf(bool ok, const char *group, const char *name, const char *fmt, ...)
{
	va_list ap;

	vmtest_check_begin(ok, group, name);
	fputc(' ', stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	return ok;
}

/* The last line; returns the program's exit status. */
static inline int vmtest_result(void)
{
	bool pass = vmtest_failed == 0 && vmtest_checks > 0;

	printf("VMTEST: RESULT %s checks=%d failed=%d\n", pass ? "PASS" : "FAIL",
	       vmtest_checks, vmtest_failed);
	fflush(stdout);
	return pass ? 0 : 1;
}

/* A failure that leaves nothing meaningful to check: report and exit. */
__attribute__((format(printf, 1, 2), noreturn)) static inline void
vmtest_fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("VMTEST: FATAL ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	vmtest_failed++;
	vmtest_result();
	exit(1);
}

static inline uint64_t vmtest_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* True when the n bytes at p are all zero (a blocked DMA left them). */
static inline bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

#endif /* IVM_TESTS_VM_VMTEST_H */
