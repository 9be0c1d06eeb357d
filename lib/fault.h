/* SPDX-License-Identifier: MIT */
/*
 * fault.h - fault injection for the stress harness (stress/) and the API
 * fuzzer (fuzz/): make an allocation, a page-table page, a backend map or
 * a backend sync fail on demand, so that every failure path of the core
 * runs under load and its promise ("a failed call changes nothing") is
 * checked.
 *
 * Compiled in only with meson -Dfault_injection=true (IVM_FAULT_INJECTION,
 * test builds).  Otherwise ivm_fault_inject() is the constant false and
 * every injection point compiles to nothing: zero cost.
 *
 * Injection points (each names its site):
 *   IVM_FAULT_ALLOC         lib/mem.c, every ivm_mem_zalloc (metadata:
 *                           domain, nodes, magazines, rings, records ...)
 *   IVM_FAULT_PT_ALLOC      lib/pagetable.c, a page-table page (before and
 *                           in addition to the ALLOC point it also passes)
 *   IVM_FAULT_BACKEND_MAP   lib/domain.h, domain_backend_map: the backend
 *                           refuses a mapping (the core undoes it and
 *                           returns INSUFFICIENT_RESOURCES)
 *   IVM_FAULT_BACKEND_SYNC  lib/domain.h, domain_backend_sync / _flush_all:
 *                           a transient sync failure.  The model: the
 *                           invalidation did not complete and the backend
 *                           keeps its queue; the core retries (after a
 *                           yield, so devices keep running against the
 *                           old IOTLB meanwhile) and releases nothing
 *                           before a sync succeeded.  At most
 *                           IVM_FAULT_SYNC_MAX_STREAK failures in a row per
 *                           thread, so a retry loop always ends.
 *
 * Two ways to fail, both per thread:
 *   random: after ivm_fault_thread_start(seed), each pass of this thread
 *           through a site fails with that site's rate
 *           (ivm_fault_set_rate), drawn from the thread's own generator,
 *           so a thread's injections depend on its seed and its own calls
 *           only;
 *   forced: ivm_fault_fail_nth(mask, n): the n-th pass (0 = the next)
 *           through a site in mask fails, once; for sweeps that fail
 *           every allocation of one call in turn.
 * Threads that called neither (liburcu's call_rcu thread, the harness's
 * checker) never see an injection.
 *
 * Context: any thread.  The control calls are not serialised against each
 * other; set rates before the threads that use them start.
 */
#ifndef IVM_FAULT_H
#define IVM_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "atomics.h"
#include "ivm_config.h"
#include "util.h"

enum ivm_fault_site {
	IVM_FAULT_ALLOC = 0,
	IVM_FAULT_PT_ALLOC = 1,
	IVM_FAULT_BACKEND_MAP = 2,
	IVM_FAULT_BACKEND_SYNC = 3,
	IVM_FAULT_SITES
};

#define IVM_FAULT_MASK(site) (1u << (site))
#define IVM_FAULT_ALL_SITES ((1u << IVM_FAULT_SITES) - 1)
/* Consecutive injected sync failures one thread may see. */
#define IVM_FAULT_SYNC_MAX_STREAK 3u

#if IVM_FAULT_INJECTION

/* Non-zero while any site has a rate or any thread a forced failure:
 * the one load every injection point pays when nothing is armed. */
extern _Atomic uint32_t ivm_fault_armed;

/* The slow path: does this pass of the calling thread through site fail? */
bool ivm_fault_decide(enum ivm_fault_site site);

/*
 * ivm_fault_inject - true when this pass through `site` must fail.
 * Context: any thread.  Blocking: never.  Ordering: none (a relaxed load;
 * a rate set while other threads run takes effect for them eventually).
 */
static inline bool ivm_fault_inject(enum ivm_fault_site site)
{
	if (ivm_likely(ivm_load_relaxed(&ivm_fault_armed) == 0))
		return false;
	return ivm_fault_decide(site);
}

/* Rate of random failures at a site, in failures per million passes
 * (0: none; values above 1000000 mean always). */
void ivm_fault_set_rate(enum ivm_fault_site site, uint32_t per_million);

/* The calling thread takes part in random injection, with its generator
 * seeded from seed / stops taking part. */
void ivm_fault_thread_start(uint64_t seed);
void ivm_fault_thread_stop(void);

/* The calling thread's n-th pass (0 = the next) through a site in
 * site_mask fails, once.  n < 0 disarms.  ivm_fault_nth_fired() tells
 * whether the armed failure happened (and disarms it). */
void ivm_fault_fail_nth(unsigned site_mask, long n);
bool ivm_fault_nth_fired(void);

/* Failures injected so far at a site, by every thread. */
uint64_t ivm_fault_injected(enum ivm_fault_site site);

#else /* !IVM_FAULT_INJECTION */

#define ivm_fault_inject(site) ((void)(site), false)

#endif /* IVM_FAULT_INJECTION */

/* "alloc", "pt_alloc", "backend_map", "backend_sync". */
static inline const char *ivm_fault_site_name(enum ivm_fault_site site)
{
	static const char *const names[IVM_FAULT_SITES] = {
		"alloc", "pt_alloc", "backend_map", "backend_sync",
	};
	return (unsigned)site < IVM_FAULT_SITES ? names[site] : "?";
}

#endif /* IVM_FAULT_H */
