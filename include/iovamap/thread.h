/* SPDX-License-Identifier: MIT */
/*
 * iovamap/thread.h - telling iovamap about the threads that use it.
 *
 * Translation is protected by RCU (liburcu).  The default flavour is
 * "memb": a thread's read-side sections cost two plain stores, and a
 * thread must be registered before its first one.  iovamap registers a
 * thread automatically on its first call and unregisters it when the
 * thread exits, so with memb these calls are optional: call
 * ivm_thread_register() up front to keep the one-time registration cost
 * out of the first packet.
 *
 * With the QSBR flavour (link iovamap-qsbr, or iovamap-dpdk-qsbr, instead
 * of iovamap; or build with meson option rcu=qsbr) read-side sections cost
 * nothing, and in exchange every registered thread must announce quiescent
 * states: call ivm_quiescent() regularly from each thread's loop (a PMD
 * does it once per burst), and ivm_thread_unregister() (or go offline by
 * unregistering) before blocking for long, or every unmap waits on it.
 */
#ifndef IOVAMAP_THREAD_H
#define IOVAMAP_THREAD_H

#include "iovamap/export.h"
#include "iovamap/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * ivm_thread_register - register the calling thread with iovamap's RCU.
 *
 * Idempotent: a registered thread may call it again (SUCCESS, no effect).
 *
 * Returns IVM_STATUS_SUCCESS.
 * Context: any thread, outside iovamap calls.  Blocking: briefly (liburcu's
 * registry lock).  Ordering: none for the caller.
 */
IVM_API ivm_status ivm_thread_register(void);

/*
 * ivm_thread_unregister - undo ivm_thread_register.  Threads that exit
 * are unregistered automatically; call this to go offline earlier.
 *
 * Returns IVM_STATUS_SUCCESS (also when the thread was not registered).
 * Context: any thread, not inside an iovamap call.  Blocking: briefly.
 * Ordering: none for the caller.
 */
IVM_API ivm_status ivm_thread_unregister(void);

/*
 * ivm_quiescent - announce that the calling thread holds no reference to
 * iovamap page tables (QSBR quiescent state).  A no-op with memb.
 *
 * Returns IVM_STATUS_SUCCESS.
 * Context: a registered thread, outside iovamap calls.  Blocking: never.
 * Ordering: full barrier (QSBR); none with memb.
 */
IVM_API ivm_status ivm_quiescent(void);

#ifdef __cplusplus
}
#endif

#endif /* IOVAMAP_THREAD_H */
