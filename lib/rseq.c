/* SPDX-License-Identifier: MIT */
/*
 * rseq.c - per-CPU restartable sequences (rseq.h): the process-wide
 * decision whether the sections may run, the cross-CPU fence, and the
 * debug queries.
 *
 * Source: the rseq(2) and membarrier(2) ABIs (Linux 4.18 and 5.10;
 * include/uapi/linux/rseq.h, include/uapi/linux/membarrier.h), with the
 * rseq area that glibc 2.35+ registers for every thread (<sys/rseq.h>).
 *
 * Departures from the usual rseq libraries:
 *  - The area is glibc's; nothing here registers or unregisters one.  A
 *    process where glibc did not (old kernel, seccomp, or
 *    GLIBC_TUNABLES=glibc.pthread.rseq=0) gets ivm_rseq_usable() false and
 *    the callers' locked paths.
 *  - The descriptor field (rseq_cs) is never cleared after a section: the
 *    kernel clears it lazily when it finds the thread outside the section.
 *    The descriptors live in this library's data for the life of the
 *    process, so a stale pointer always points at a valid descriptor.
 *    (Unloading the library with a thread's rseq_cs still pointing into it
 *    would not be; iovamap is not meant to be dlclose()d.)
 *
 * Invariants:
 *  1. ivm_rseq_usable() gives one answer for the life of the process;
 *     true implies the membarrier registration succeeded, so
 *     ivm_rseq_fence_cpu() cannot fail but for an OS bug.
 *  2. Every section's abort_ip is preceded by IVM_RSEQ_SIGNATURE, the
 *     value glibc registered (else the kernel kills the thread).
 */
#include "rseq.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

#if IVM_RSEQ_ASM
#include <linux/membarrier.h>
#endif

static pthread_once_t usable_once = PTHREAD_ONCE_INIT;
static bool usable; /* written once under usable_once */

#if IVM_RSEQ_ASM

_Thread_local uint64_t ivm_rseq_restart_count;

/* The linker's bounds of the descriptor section (rseq.h).  An empty
 * contribution here keeps them defined in any link that has this file. */
__asm__(".pushsection ivm_rseq_cs, \"aw\"\n\t.popsection");
extern const char __start_ivm_rseq_cs[] __attribute__((visibility("hidden")));
extern const char __stop_ivm_rseq_cs[] __attribute__((visibility("hidden")));

static struct rseq *thread_area(void)
{
	return (struct rseq *)((char *)__builtin_thread_pointer() +
			       __rseq_offset);
}

static long membarrier(int cmd, unsigned flags, int cpu)
{
	return syscall(__NR_membarrier, cmd, flags, cpu);
}

static void decide_usable(void)
{
	/* glibc registered an area that holds cpu_id and rseq_cs (the
	 * original 32-byte ABI; __rseq_size is 20 or 32 there). */
	if (__rseq_size < 16)
		return;
	/* ... and the registration of this thread is live (cpu_id is
	 * negative when it failed). */
	if ((int32_t)__atomic_load_n(&thread_area()->cpu_id,
				     __ATOMIC_RELAXED) < 0)
		return;
	long cmds = membarrier(MEMBARRIER_CMD_QUERY, 0, 0);
	if (cmds < 0 ||
	    !(cmds & MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ) ||
	    !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ))
		return;
	if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0)
	    != 0)
		return;
	/* MEMBARRIER_CMD_FLAG_CPU came with the RSEQ command (5.10), but
	 * prove it once here rather than die in a drain. */
	int cpu = sched_getcpu();
	if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ,
		       MEMBARRIER_CMD_FLAG_CPU, cpu < 0 ? 0 : cpu) != 0)
		return;
	usable = true;
}

void ivm_rseq_fence_cpu(unsigned cpu)
{
	IVM_ASSERT(usable);
	/* A CPU number the kernel does not have (offline, beyond
	 * nr_cpu_ids) returns 0 without an IPI: no section runs there. */
	if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ,
		       MEMBARRIER_CMD_FLAG_CPU, (int)cpu) != 0)
		ivm_die("membarrier(PRIVATE_EXPEDITED_RSEQ, cpu %u): errno %d",
			cpu, errno);
}

uint64_t ivm_rseq_thread_restarts(void)
{
	return ivm_rseq_restart_count;
}

bool ivm_rseq_last_section_is_ours(void)
{
	if (__rseq_size < 16)
		return false;
	/* Written by this thread's sections and by the kernel on this
	 * thread's behalf: a relaxed load of the whole word. */
	uint64_t cs = __atomic_load_n(&thread_area()->rseq_cs,
				      __ATOMIC_RELAXED);
	return cs >= (uint64_t)(uintptr_t)__start_ivm_rseq_cs &&
	       cs < (uint64_t)(uintptr_t)__stop_ivm_rseq_cs;
}

#else /* !IVM_RSEQ_ASM */

static void decide_usable(void)
{
	usable = false;
}

void ivm_rseq_fence_cpu(unsigned cpu)
{
	ivm_die("ivm_rseq_fence_cpu(%u) without rseq sections", cpu);
}

uint64_t ivm_rseq_thread_restarts(void)
{
	return 0;
}

bool ivm_rseq_last_section_is_ours(void)
{
	return false;
}

#endif /* IVM_RSEQ_ASM */

bool ivm_rseq_usable(void)
{
	if (pthread_once(&usable_once, decide_usable) != 0)
		ivm_die("pthread_once failed");
	return usable;
}
