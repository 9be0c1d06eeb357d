/* SPDX-License-Identifier: MIT */
/*
 * rcu.h - iovamap's use of liburcu, in one place.
 *
 * The flavour is chosen at build time (meson option rcu): memb (default;
 * read-side sections are two thread-local stores and a compiler barrier,
 * grace periods use the membarrier system call) or qsbr (read-side
 * sections are free; threads announce quiescent states with
 * ivm_quiescent()).  Both need each reading thread registered; iovamap
 * registers a thread on its first call (ivm_rcu_ensure_registered) and
 * unregisters it when the thread exits.
 *
 * Nothing outside lib/rcu.[ch] names a liburcu symbol.
 */
#ifndef IVM_RCU_H
#define IVM_RCU_H

#include <stdbool.h>

#include "ivm_config.h"
#include "util.h"

#define _LGPL_SOURCE 1
#if IVM_RCU_QSBR
#include <urcu/urcu-qsbr.h>
#define ivm_urcu(name) urcu_qsbr_##name
#else
#include <urcu/urcu-memb.h>
#define ivm_urcu(name) urcu_memb_##name
#endif
#include <urcu/call-rcu.h>

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

/* Read-side section around every table walk.  Context: a registered
 * thread.  Nesting is allowed. */
static inline void ivm_rcu_read_lock(void)
{
	ivm_urcu(read_lock)();
}

static inline void ivm_rcu_read_unlock(void)
{
	ivm_urcu(read_unlock)();
}

/* Wait until every read-side section that began before the call has
 * ended.  Context: a registered thread outside any read-side section. */
void ivm_rcu_synchronize(void);

/* Run head->func after a grace period, on liburcu's call_rcu thread.
 * Context: a registered thread.  Never blocks. */
void ivm_rcu_call(struct rcu_head *head, void (*func)(struct rcu_head *));

#endif /* IVM_RCU_H */
