/* SPDX-License-Identifier: MIT */
/*
 * cpu.h - "which CPU am I on" and a coarse clock, for the per-CPU caches
 * and queues (iova.c, flushq.c).
 *
 * glibc 2.35+ registers an rseq area for every thread, in which the kernel
 * keeps the current CPU number up to date; reading it is one load (~0.4 ns
 * here) where sched_getcpu() is a call (~2.6 ns).  The value can be stale
 * by the time it is used (the thread may migrate right after), so every
 * per-CPU structure indexed by it outside a restartable sequence still
 * takes that CPU slot's own lock: a stale index costs a cache miss, never
 * correctness.  (The magazine cache's hit path reads the CPU number inside
 * a restartable sequence instead, where it cannot be stale: rseq.h.)
 */
#ifndef IVM_CPU_H
#define IVM_CPU_H

#include <sched.h>
#include <stdint.h>
#include <time.h>

#include "util.h"

#if defined(__has_include)
#if __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#define IVM_HAVE_RSEQ 1
#endif
#endif
#ifndef IVM_HAVE_RSEQ
#define IVM_HAVE_RSEQ 0
#endif

/* Number of CPU slots to allocate (get_nprocs_conf(), at least 1). */
unsigned ivm_cpu_slots(void);

ivm_cold static unsigned ivm_current_cpu_slow(unsigned nslots)
{
	int cpu = sched_getcpu();
	return cpu < 0 ? 0 : (unsigned)cpu % nslots;
}

/* The CPU this thread runs on, reduced to [0, nslots).  Context: any
 * thread.  Cost: one load with rseq. */
static inline unsigned ivm_current_cpu(unsigned nslots)
{
#if IVM_HAVE_RSEQ
	if (ivm_likely(__rseq_size != 0)) {
		const struct rseq *rs = (const struct rseq *)(
			(const char *)__builtin_thread_pointer() + __rseq_offset);
		/* Only the kernel writes cpu_id (on return to this thread): a
		 * volatile load, as glibc's sched_getcpu() does. */
		uint32_t cpu = *(const volatile uint32_t *)&rs->cpu_id;
		if (ivm_likely(cpu < nslots))
			return cpu;
	}
#endif
	return ivm_current_cpu_slow(nslots);
}

/* Monotonic time in ns from the coarse clock (vDSO, a few ns; resolution
 * one scheduler tick), for timeouts and reclaim intervals. */
static inline uint64_t ivm_coarse_now_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) != 0)
		ivm_die("clock_gettime failed");
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Monotonic time in ns from the precise clock. */
static inline uint64_t ivm_now_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		ivm_die("clock_gettime failed");
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif /* IVM_CPU_H */
