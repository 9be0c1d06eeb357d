/* SPDX-License-Identifier: MIT */
/*
 * mem.c - the allocation front end (see mem.h).
 */
#include "mem.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "ivm_config.h"
#include "util.h"

#if IVM_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

/* Both written by tests only; read relaxed on every allocation. */
static _Atomic long fail_countdown = -1;
static _Atomic uint64_t alloc_count;

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

void *ivm_mem_zalloc(size_t size, size_t align)
{
	IVM_ASSERT(align && (align & (align - 1)) == 0 && align <= 4096);
	if (ivm_unlikely(injected_failure()))
		return NULL;
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

void ivm_mem_free(void *p, size_t size, size_t align)
{
	if (!p)
		return;
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
