/* SPDX-License-Identifier: MIT */
/*
 * atomics.h - C11 atomics with the memory order in the name.
 *
 * STYLE.md habit 4: no implicit seq_cst and no order passed as a run-time
 * argument.  Every call site of an acquire, release or fence carries a
 * comment naming the operation it pairs with.  Relaxed accesses are for
 * counters and for values whose publication is ordered by something else,
 * which the call site names.
 */
#ifndef IVM_ATOMICS_H
#define IVM_ATOMICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define ivm_load_relaxed(p)     atomic_load_explicit((p), memory_order_relaxed)
#define ivm_load_acquire(p)     atomic_load_explicit((p), memory_order_acquire)
#define ivm_store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define ivm_store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)

#define ivm_fetch_add_relaxed(p, v) atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define ivm_fetch_sub_relaxed(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_relaxed)
#define ivm_fetch_sub_release(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_release)
#define ivm_fetch_add_acq_rel(p, v) atomic_fetch_add_explicit((p), (v), memory_order_acq_rel)
#define ivm_fetch_sub_acq_rel(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_acq_rel)

/* Compare-and-swap; on failure *expected receives the current value. */
#define ivm_cas_release(p, expected, desired)                               \
	atomic_compare_exchange_strong_explicit((p), (expected), (desired),  \
						memory_order_release,        \
						memory_order_relaxed)
#define ivm_cas_acq_rel(p, expected, desired)                               \
	atomic_compare_exchange_strong_explicit((p), (expected), (desired),  \
						memory_order_acq_rel,        \
						memory_order_acquire)
#define ivm_cas_relaxed(p, expected, desired)                               \
	atomic_compare_exchange_strong_explicit((p), (expected), (desired),  \
						memory_order_relaxed,        \
						memory_order_relaxed)

#define ivm_fence_acquire() atomic_thread_fence(memory_order_acquire)
#define ivm_fence_release() atomic_thread_fence(memory_order_release)

/* A relaxed statistics counter bump (single writer or not, no ordering). */
static inline void ivm_counter_add(_Atomic uint64_t *c, uint64_t v)
{
	ivm_fetch_add_relaxed(c, v);
}

/*
 * A per-CPU estimate bump: a relaxed load and store, no read-modify-write
 * (no lock prefix).  Two threads updating the same per-CPU cell at once (one
 * preempted between the load and the store) can lose an update, so use it
 * only for heuristics that are corrected elsewhere, never for a count that
 * must be exact.
 */
static inline uint64_t ivm_estimate_add(_Atomic uint64_t *c, uint64_t v)
{
	uint64_t n = ivm_load_relaxed(c) + v;
	ivm_store_relaxed(c, n);
	return n;
}

#endif /* IVM_ATOMICS_H */
