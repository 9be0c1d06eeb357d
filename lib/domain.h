/* SPDX-License-Identifier: MIT */
/*
 * domain.h - the domain object, shared by the files of lib/ and hw/.
 */
#ifndef IVM_DOMAIN_H
#define IVM_DOMAIN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <sched.h>

#include "atomics.h"
#include "backend.h"
#include "fault.h"
#include "iovamap/domain.h"
#include "iovamap/reserve.h"
#include "pagetable.h"
#include "spinlock.h"
#include "flushq.h"
#include "iova.h"

struct ivm_reservation {
	struct ivm_domain *domain;       /* set at creation */
	ivm_la base;                     /* first logical address */
	uint64_t pages;                  /* usable pages */
	uint64_t alloc_pages;            /* pages taken from the allocator
	                                    (rounding included); 0 without */
	bool alloc_block;                /* alloc_pages is an iova_alloc block */
	_Atomic uint64_t mappings;       /* live maps inside */
	struct ivm_reservation *prev;    /* domain's list; domain lock */
	struct ivm_reservation *next;
};

struct ivm_domain {
	/* Set at creation, then read-only. */
	enum ivm_domain_type type;
	unsigned width;                  /* logical address width in bits */
	bool has_allocator;
	bool allow_explicit;
	const struct ivm_backend_ops *be_ops;
	struct ivm_backend *be;

	/* Guards the reservation list and the fault handler only; the data
	 * path (map, unmap, translate) takes no domain lock. */
	pthread_mutex_t lock;
	struct ivm_iova iova;            /* thread-safe on its own */
	struct ivm_reservation *reservations; /* lock */
	ivm_fault_handler_fn fault_fn;   /* lock */
	void *fault_ctx;                 /* lock */
	/* The queues' slot sets (slots.c), with a lock of their own: the
	 * flush path that releases slots takes it, and may run where the
	 * domain lock is held. */
	ivm_spinlock slot_sets_lock;
	struct ivm_slots *slot_sets;     /* slot_sets_lock */

	/* Read by any thread without the lock (see pagetable.h). */
	struct pagetable pt;

	/* Lazy invalidation of allocator-chosen addresses (flushq.h); only
	 * when lazy is set. */
	bool lazy;
	struct flushq fq;

	/* Counters: relaxed atomic adds by any thread, read relaxed by
	 * ivm_domain_get_stats.  Their own cache line (see pagetable.h).
	 * None is written by map or unmap: ivm_domain_get_stats counts the
	 * mappings from the page table (pt_tally). */
	_Alignas(64) _Atomic uint64_t reservation_count;
	_Atomic uint64_t faults;
	_Atomic uint32_t devices;        /* model devices attached */
};

/* The backend's map and unmap hooks, which may be NULL (hw/backend.h).
 * Test builds may make map fail (fault.h, IVM_FAULT_BACKEND_MAP), as a
 * backend that runs out of resources would; the caller undoes the
 * mapping. */
static inline ivm_status domain_backend_map(struct ivm_domain *d, ivm_la la,
					    uint64_t pages,
					    const struct ivm_phys *phys,
					    uint32_t permissions)
{
	if (ivm_fault_inject(IVM_FAULT_BACKEND_MAP))
		return IVM_STATUS_INSUFFICIENT_RESOURCES;
	return d->be_ops->map ? d->be_ops->map(d->be, la, pages, phys,
					       permissions)
			      : IVM_STATUS_SUCCESS;
}

static inline void domain_backend_unmap(struct ivm_domain *d, ivm_la la,
					uint64_t pages)
{
	if (d->be_ops->unmap)
		d->be_ops->unmap(d->be, la, pages);
}

/*
 * The backend's sync and flush_all, the only way the core makes queued
 * invalidations take effect.  The core releases logical space only after
 * one of these returned.  Test builds may inject a transient failure
 * (fault.h, IVM_FAULT_BACKEND_SYNC): the invalidation did not complete
 * and the backend keeps its queue, so the core yields (devices keep using
 * the old IOTLB meanwhile) and retries; it never goes on before a sync
 * succeeded.  Context: any thread.  Blocking: as the backend's sync.
 */
static inline void domain_backend_sync(struct ivm_domain *d)
{
	while (ivm_fault_inject(IVM_FAULT_BACKEND_SYNC))
		sched_yield();
	d->be_ops->sync(d->be);
}

static inline void domain_backend_flush_all(struct ivm_domain *d)
{
	while (ivm_fault_inject(IVM_FAULT_BACKEND_SYNC))
		sched_yield();
	d->be_ops->flush_all(d->be);
}

static inline uint64_t domain_pages(const struct ivm_domain *d)
{
	return 1ull << (d->width - IVM_PAGE_SHIFT);
}

/* True when [la, la + pages * 4 KiB) lies inside the domain's width
 * (inclusive last address, overflow checked). */
static inline bool domain_range_ok(const struct ivm_domain *d, ivm_la la,
				   uint64_t pages)
{
	uint64_t limit = domain_pages(d);
	uint64_t first = la >> IVM_PAGE_SHIFT;
	return pages > 0 && first < limit && pages <= limit - first;
}

/* Report a faulting device access: counts it and calls the handler.
 * Context: no iovamap lock held, outside RCU read-side sections. */
void domain_report_fault(struct ivm_domain *d, ivm_la la, uint32_t access,
			 enum ivm_fault_reason reason);

#endif /* IVM_DOMAIN_H */

/* A request for logical space, validated at the API boundary. */
struct space_request {
	uint64_t pages;
	bool is_explicit;
	ivm_la explicit_la;     /* when is_explicit */
	unsigned order;         /* allocated: log2 of the block in pages */
	uint64_t min_page;      /* allocated: inclusive page window */
	uint64_t max_page;
};

/*
 * domain_check_window - build a space request for `pages` pages at
 * explicit_la (NULL: the allocator chooses) inside the optional inclusive
 * byte window [min_la, max_la], and check that the window can ever be
 * satisfied: an explicit range must lie inside it, and an allocated block
 * (2^order pages, aligned to its size) must fit in it when the space is
 * empty.  The window is ignored without an allocator; max is clamped to
 * the width.  Returns SUCCESS or INVALID_PARAMETER_MIX; changes nothing.
 * Context: any thread, no lock (reads only configuration).
 */
ivm_status domain_check_window(const struct ivm_domain *d, uint64_t pages,
			       const ivm_la *explicit_la, const ivm_la *min_la,
			       const ivm_la *max_la, struct space_request *req);

/*
 * domain_take_space - take the logical space of a checked request: the
 * explicit range (claimed in the allocator when the domain has one), or a
 * block chosen by the allocator inside the window.  Thread-safe.
 *
 * Returns SUCCESS with *la_out and *alloc_pages (pages to give back to the
 * allocator later; 0 when the domain has no allocator), IN_USE or
 * INSUFFICIENT_RESOURCES.
 */
ivm_status domain_take_space(struct ivm_domain *d,
			     const struct space_request *req,
			     ivm_la *la_out, uint64_t *alloc_pages);

/* Give back what domain_take_space took: a block (allocated request) or
 * an exact range (explicit request; or a union of adjacent ones, blocks
 * included).  Only after the backend's sync for any mapping that used it.
 * Context: any thread, no lock needed. */
void domain_give_space(struct ivm_domain *d, ivm_la la, uint64_t alloc_pages,
		       bool block);


/* Lock / unlock the domain lock (ivm_die on an OS failure). */
void domain_lock(struct ivm_domain *d);
void domain_unlock(struct ivm_domain *d);

/* Queue the invalidation of a removed range and sync the backend (strict
 * invalidation).  Thread-safe (the backend serialises itself). */
void domain_invalidate(struct ivm_domain *d, ivm_la la, uint64_t pages);
