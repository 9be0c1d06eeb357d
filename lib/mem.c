/* SPDX-License-Identifier: MIT */
/*
 * mem.c - the allocation front end (see mem.h).
 *
 * Design: one place for every allocation, so that one place can fail them
 * (the countdown below, and the ALLOC site of fault.h in test builds) and
 * count them.  Departure from a plain wrapper: builds with
 * -Dfault_injection=true also keep the bytes and blocks currently
 * allocated (ivm_mem_usage), so that the stress harness can prove that a
 * domain's memory returns to an empty domain's; other builds pay nothing
 * for it.
 *
 * Invariants:
 *  1. Every block ivm_mem_zalloc returns is zeroed and aligned as asked.
 *  2. With accounting, live_bytes / live_blocks are the sums over blocks
 *     returned and not yet freed (relaxed counters: exact once the threads
 *     that allocate are quiet).
 */
#include "mem.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "fault.h"
#include "ivm_config.h"
#include "util.h"

#if IVM_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

/* Both written by tests only; read relaxed on every allocation. */
static _Atomic long fail_countdown = -1;
static _Atomic uint64_t alloc_count;

#if IVM_FAULT_INJECTION
/* Invariant 2 (test builds only). */
static _Atomic uint64_t live_bytes, live_blocks;
#endif

static bool injected_failure(void)
{
	ivm_counter_add(&alloc_count, 1);
	long n = ivm_load_relaxed(&fail_countdown);
	if (ivm_likely(n < 0))
		return false;
	if (n == 0)
		return true;
	/* Racy decrement is fine: tests arm this while single-threaded. */
	ivm_store_relaxed(&fail_countdown, n - 1);
	return false;
}

static void *zalloc(size_t size, size_t align)
{
#if IVM_HAVE_JEMALLOC
	return mallocx(size, MALLOCX_ALIGN(align) | MALLOCX_ZERO);
#else
	if (align < sizeof(void *))
		align = sizeof(void *);
	size_t rounded = (size + align - 1) & ~(align - 1);
	void *p = aligned_alloc(align, rounded);
	if (p)
		memset(p, 0, size);
	return p;
#endif
}

void *ivm_mem_zalloc(size_t size, size_t align)
{
	IVM_ASSERT(align && (align & (align - 1)) == 0 && align <= 4096);
	if (ivm_unlikely(injected_failure()))
		return NULL;
	if (ivm_fault_inject(IVM_FAULT_ALLOC))
		return NULL;
	void *p = zalloc(size, align);
#if IVM_FAULT_INJECTION
	if (p) {
		ivm_counter_add(&live_bytes, size);
		ivm_counter_add(&live_blocks, 1);
	}
#endif
	return p;
}

void ivm_mem_free(void *p, size_t size, size_t align)
{
	if (!p)
		return;
#if IVM_FAULT_INJECTION
	ivm_fetch_sub_relaxed(&live_bytes, size);
	ivm_fetch_sub_relaxed(&live_blocks, 1);
#endif
#if IVM_HAVE_JEMALLOC
	sdallocx(p, size, MALLOCX_ALIGN(align));
#else
	(void)size;
	(void)align;
	free(p);
#endif
}

void ivm_mem_fail_after(long n)
{
	ivm_store_relaxed(&fail_countdown, n);
}

uint64_t ivm_mem_alloc_count(void)
{
	return ivm_load_relaxed(&alloc_count);
}

bool ivm_mem_usage(uint64_t *bytes, uint64_t *blocks)
{
#if IVM_FAULT_INJECTION
	*bytes = ivm_load_relaxed(&live_bytes);
	*blocks = ivm_load_relaxed(&live_blocks);
	return true;
#else
	*bytes = 0;
	*blocks = 0;
	return false;
#endif
}
