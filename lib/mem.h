/* SPDX-License-Identifier: MIT */
/*
 * mem.h - every allocation iovamap makes goes through here.
 *
 * jemalloc's mallocx/sdallocx when the build has it (sized frees are
 * cheaper, and page-table pages come page aligned without padding); libc's
 * aligned_alloc/free in sanitizer builds.  One place also means one place
 * to inject failures: tests arm a countdown so that the N-th allocation
 * from now fails, and read a counter to prove a path allocated nothing.
 */
#ifndef IVM_MEM_H
#define IVM_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Allocate size bytes aligned to align (a power of two, <= 4096), zeroed.
 * NULL on failure (or injected failure).  Context: any thread. */
void *ivm_mem_zalloc(size_t size, size_t align);
/* Free what ivm_mem_zalloc returned; size and align must be the same.
 * NULL is a no-op. */
void ivm_mem_free(void *p, size_t size, size_t align);

/* Testing hooks (not thread-safe against each other; set them while no
 * other thread allocates).  ivm_mem_fail_after(n): allocation number n
 * from now (0 = the next) and every later one fails, until
 * ivm_mem_fail_after(-1) disarms.  ivm_mem_alloc_count(): allocations
 * attempted so far in this process. */
void ivm_mem_fail_after(long n);
uint64_t ivm_mem_alloc_count(void);

/* Accounting (builds with -Dfault_injection=true): the bytes and blocks
 * allocated through ivm_mem_zalloc and not yet freed, process-wide.
 * Returns false (and zeros) in builds without it.  Exact when no other
 * thread allocates or frees meanwhile (liburcu's call_rcu thread frees
 * retired page tables: see ivm_rcu_barrier).  Context: any thread. */
bool ivm_mem_usage(uint64_t *bytes, uint64_t *blocks);

#endif /* IVM_MEM_H */
