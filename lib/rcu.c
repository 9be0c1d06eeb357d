/* SPDX-License-Identifier: MIT */
/*
 * rcu.c - thread registration and the public thread calls (thread.h).
 *
 * A thread is registered with liburcu on its first iovamap call and
 * unregistered by a pthread key destructor when it exits, so that memb
 * users never have to think about it.  QSBR users still must call
 * ivm_quiescent() (see iovamap/thread.h).
 */
#include <pthread.h>

#include "iovamap/thread.h"
#include "rcu.h"

__thread bool ivm_rcu_registered;
char ivm_rcu_gp_token;

static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

static void unregister_at_exit(void *unused)
{
	if (ivm_rcu_registered) {
		ivm_urcu(unregister_thread)();
		ivm_rcu_registered = false;
	}
}

static void make_exit_key(void)
{
	if (pthread_key_create(&exit_key, unregister_at_exit) != 0)
		ivm_die("pthread_key_create failed");
}

void ivm_rcu_register_slow(void)
{
	pthread_once(&exit_key_once, make_exit_key);
	ivm_urcu(register_thread)();
	ivm_rcu_registered = true;
	/* Any non-NULL value makes the destructor run at thread exit. */
	if (pthread_setspecific(exit_key, (void *)1) != 0)
		ivm_die("pthread_setspecific failed");
}

void ivm_rcu_synchronize(void)
{
	ivm_rcu_ensure_registered();
#if IVM_RCU_QSBR
	/* A QSBR thread that waits for a grace period must not count as a
	 * reader itself, or it would wait for its own quiescent state. */
	ivm_urcu(thread_offline)();
	ivm_urcu(synchronize_rcu)();
	ivm_urcu(thread_online)();
#else
	ivm_urcu(synchronize_rcu)();
#endif
	ivm_tsan_acquire(&ivm_rcu_gp_token);
}

void ivm_rcu_barrier(void)
{
	ivm_rcu_ensure_registered();
#if IVM_RCU_QSBR
	/* As in ivm_rcu_synchronize: not a reader while it waits. */
	ivm_urcu(thread_offline)();
	ivm_urcu(barrier)();
	ivm_urcu(thread_online)();
#else
	ivm_urcu(barrier)();
#endif
	/* TSan: the callbacks' frees happen before what follows. */
	ivm_tsan_acquire(&ivm_rcu_gp_token);
}

void ivm_rcu_call(struct rcu_head *head, void (*func)(struct rcu_head *))
{
	ivm_rcu_ensure_registered();
	/* TSan: the caller's writes to the object happen before the
	 * callback (liburcu's queue is invisible to TSan). */
	ivm_tsan_release(head);
	ivm_urcu(call_rcu)(head, func);
}

IVM_API ivm_status ivm_thread_register(void)
{
	ivm_detail_reset();
	ivm_rcu_ensure_registered();
	return IVM_STATUS_SUCCESS;
}

IVM_API ivm_status ivm_thread_unregister(void)
{
	ivm_detail_reset();
	if (ivm_rcu_registered) {
		ivm_urcu(unregister_thread)();
		ivm_rcu_registered = false;
	}
	return IVM_STATUS_SUCCESS;
}

IVM_API ivm_status ivm_quiescent(void)
{
#if IVM_RCU_QSBR
	if (ivm_rcu_registered)
		ivm_urcu(quiescent_state)();
#endif
	return IVM_STATUS_SUCCESS;
}
