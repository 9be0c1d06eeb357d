/* SPDX-License-Identifier: MIT */
/*
 * rcu.h - iovamap's use of liburcu, in one place.
 *
 * The flavour is chosen at build time: memb (read-side sections are two
 * thread-local stores and a compiler barrier, grace periods use the
 * membarrier system call) or qsbr (read-side sections are free; threads
 * announce quiescent states with ivm_quiescent()).  libiovamap takes the
 * meson option rcu (default memb); the library iovamap-qsbr is compiled
 * from the same sources with -DIVM_RCU_QSBR=1 (meson.build).  Both need
 * each reading thread registered; iovamap registers a thread on its first
 * call (ivm_rcu_ensure_registered) and unregisters it when it exits.
 *
 * Nothing outside lib/rcu.[ch] names a liburcu symbol.
 */
#ifndef IVM_RCU_H
#define IVM_RCU_H

#include <stdbool.h>

#include "ivm_config.h"
#include "util.h"

#ifndef IVM_RCU_QSBR
#define IVM_RCU_QSBR IVM_CONFIG_RCU_QSBR
#endif

#define _LGPL_SOURCE 1
#if IVM_RCU_QSBR
#include <urcu/urcu-qsbr.h>
#define ivm_urcu(name) urcu_qsbr_##name
#else
#include <urcu/urcu-memb.h>
#define ivm_urcu(name) urcu_memb_##name
#endif
#include <urcu/call-rcu.h>

/*
 * ThreadSanitizer cannot see liburcu's synchronisation (it lives in an
 * uninstrumented library and uses volatile accesses and asm barriers), so
 * in TSan builds the grace period is annotated: every read-side section
 * ends with a release on ivm_rcu_gp_token, and everything that runs after
 * a grace period (call_rcu callbacks, code after ivm_rcu_synchronize)
 * acquires it first.  That is exactly the guarantee RCU gives: a reader's
 * accesses happen before whatever follows the grace period that waited for
 * it.  A reader still inside its section gets no such edge, so a real
 * use-after-free under a reader is still reported.
 */
#if IVM_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define ivm_tsan_acquire(p) __tsan_acquire((void *)(p))
#define ivm_tsan_release(p) __tsan_release((void *)(p))
#else
#define ivm_tsan_acquire(p) ((void)(p))
#define ivm_tsan_release(p) ((void)(p))
#endif
extern char ivm_rcu_gp_token;

/* True once this thread is registered (written by this thread only). */
extern __thread bool ivm_rcu_registered;

void ivm_rcu_register_slow(void);

/* Register the calling thread on its first use of iovamap.  Cost on the
 * fast path: one thread-local load and a predicted branch. */
static inline void ivm_rcu_ensure_registered(void)
{
	if (ivm_unlikely(!ivm_rcu_registered))
		ivm_rcu_register_slow();
}

/* Read-side section around every table walk.  Registers the thread on
 * its first use.  Nesting is allowed. */
static inline void ivm_rcu_read_lock(void)
{
	ivm_rcu_ensure_registered();
	ivm_urcu(read_lock)();
}

static inline void ivm_rcu_read_unlock(void)
{
	ivm_tsan_release(&ivm_rcu_gp_token);
	ivm_urcu(read_unlock)();
}

/* Wait until every read-side section that began before the call has
 * ended.  Context: a registered thread outside any read-side section. */
void ivm_rcu_synchronize(void);

/* Wait until every callback queued with ivm_rcu_call before the call has
 * run (liburcu's rcu_barrier): after it, retired page tables are freed.
 * Context: a registered thread outside any read-side section, not a
 * call_rcu callback.  Blocking: at least one grace period. */
void ivm_rcu_barrier(void);

/* Run head->func after a grace period, on liburcu's call_rcu thread.
 * The callback must begin with ivm_rcu_callback_enter(head).
 * Context: a registered thread.  Never blocks. */
void ivm_rcu_call(struct rcu_head *head, void (*func)(struct rcu_head *));

/* First statement of every call_rcu callback (TSan annotation: pairs with
 * the release in ivm_rcu_call and with every reader's unlock). */
static inline void ivm_rcu_callback_enter(struct rcu_head *head)
{
	ivm_tsan_acquire(head);
	ivm_tsan_acquire(&ivm_rcu_gp_token);
}

#endif /* IVM_RCU_H */
