/* SPDX-License-Identifier: MIT */
/*
 * spinlock.h - the lock of a per-CPU slot: almost always uncontended, held
 * for a few dozen instructions.
 *
 * One compare-and-swap to take it and a store-release to drop it: one
 * atomic read-modify-write per critical section, where a pthread mutex
 * pays two (glibc's unlock is an atomic exchange).  Contention happens
 * only when a thread is preempted or migrates while holding a slot, so a
 * waiter spins briefly and then yields to let the holder run.
 *
 * Context: any thread; not async-signal-safe.  A holder must not block.
 */
#ifndef IVM_SPINLOCK_H
#define IVM_SPINLOCK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "atomics.h"
#include "util.h"

/* Spins on a busy lock before each sched_yield(). */
#define IVM_SPINS_BEFORE_YIELD 64

typedef struct {
	_Atomic uint32_t held; /* 0 free, 1 held */
} ivm_spinlock;

static inline void ivm_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Wait, without taking it, until the lock looks free.  Relaxed: a
 * caller that then needs the holder's writes takes the lock (acquire) or
 * re-reads the word in an rseq section (rseq.h: TSO keeps its loads in
 * order). */
static inline void ivm_spin_wait_unlocked(ivm_spinlock *l)
{
	unsigned spins = 0;

	while (ivm_load_relaxed(&l->held) != 0) {
		if (++spins % IVM_SPINS_BEFORE_YIELD == 0)
			sched_yield(); /* the holder may be preempted */
		else
			ivm_cpu_relax();
	}
}

ivm_cold static void ivm_spin_lock_contended(ivm_spinlock *l)
{
	for (;;) {
		/* Test before test-and-set: spin on a shared copy. */
		ivm_spin_wait_unlocked(l);
		uint32_t expected = 0;
		/* A1: pairs with R1 in ivm_spin_unlock, as below. */
		if (ivm_cas_acq_rel(&l->held, &expected, 1))
			return;
	}
}

static inline void ivm_spin_lock(ivm_spinlock *l)
{
	uint32_t expected = 0;

	/* A1: the acquire half pairs with R1 in ivm_spin_unlock: the
	 * previous holder's writes are visible to us. */
	if (ivm_likely(ivm_cas_acq_rel(&l->held, &expected, 1)))
		return;
	ivm_spin_lock_contended(l);
}

static inline void ivm_spin_unlock(ivm_spinlock *l)
{
	/* R1: pairs with A1: our writes happen before the next holder's
	 * reads. */
	ivm_store_release(&l->held, 0);
}

#endif /* IVM_SPINLOCK_H */
