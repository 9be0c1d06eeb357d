/* SPDX-License-Identifier: MIT */
/*
 * iova.h - the IOVA allocator of a domain: the per-CPU magazine cache in
 * front of the range allocator (range_alloc.h) and the lock that guards
 * the latter.
 *
 * Units are pages (la >> 12).  Every call is thread-safe: callers hold no
 * domain lock.
 *
 * Two kinds of space:
 *  - blocks: 2^order pages aligned to their size, from iova_alloc, given
 *    back with iova_free (from any thread, on any CPU).  Small orders are
 *    cached per CPU when the request is unconstrained.
 *  - exact ranges: iova_claim (explicit addresses, identity maps, reserved
 *    regions), given back with iova_release, which also accepts the union
 *    of several adjacent whole claims and blocks.
 */
#ifndef IVM_IOVA_H
#define IVM_IOVA_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "iovamap/status.h"
#include "range_alloc.h"

struct iova_cache; /* private to iova.c */

struct ivm_iova {
	uint64_t total_pages;            /* set at init */
	pthread_mutex_t lock;            /* guards ra (and the depot) */
	struct range_alloc ra;           /* lock */
	struct iova_cache *cache;        /* NULL when the cache is off */
	_Atomic uint64_t used_pages;     /* mirror of ra.used_pages */
};

/* Read with relaxed loads and no lock: under concurrency the fields come
 * from slightly different instants, and cached_pages, a sum over every
 * slot and the depot, may count a block that moves while it is summed
 * twice or not at all.  Exact when no other thread uses the allocator. */
struct iova_stats {
	uint64_t used_pages;      /* taken from the range allocator,
	                             cached blocks included */
	uint64_t cached_pages;    /* of those, sitting in magazines/depot:
	                             summed from the slots' depths and the
	                             depot's count when read */
	uint64_t hits;            /* iova_alloc served by a CPU's loaded or
	                             prev magazine; counted by the hit's own
	                             commit store (the pop count in each
	                             slot stack's state word, which wraps
	                             after 2^48 pops of one stack) */
	uint64_t misses;          /* cacheable iova_alloc that went to the
	                             depot or the range allocator */
	uint64_t depot_magazines; /* full magazines in the depot now */
	uint64_t reclaimed;       /* blocks the cache gave back to the range
	                             allocator (reclaim and drains) */
	uint64_t magazines;       /* magazines allocated now (any state) */
};

/* width 13..63; cache false turns the magazine layer off (the classic
 * locked allocator, kept as a baseline).  SUCCESS or
 * INSUFFICIENT_RESOURCES. */
ivm_status iova_init(struct ivm_iova *io, unsigned width, bool cache);
void iova_fini(struct ivm_iova *io);

/*
 * iova_alloc - a block of 2^order pages inside [min_page, max_page].
 * Returns SUCCESS, INVALID_PARAMETER_MIX (never satisfiable) or
 * INSUFFICIENT_RESOURCES (full, after draining every cache once).
 */
ivm_status iova_alloc(struct ivm_iova *io, unsigned order, uint64_t min_page,
		      uint64_t max_page, uint64_t *page_out);

/* Give back a block from iova_alloc.  Never fails. */
void iova_free(struct ivm_iova *io, uint64_t page, unsigned order);

/* Take / give back an exact range (see range_alloc_claim / _free). */
ivm_status iova_claim(struct ivm_iova *io, uint64_t page, uint64_t pages);
void iova_release(struct ivm_iova *io, uint64_t page, uint64_t pages);

/* Return every cached block and spare memory to the range allocator. */
void iova_trim(struct ivm_iova *io);

void iova_get_stats(struct ivm_iova *io, struct iova_stats *out);

/* ---- private to iova.c and its tests ---- */

/* The cache's fixed parameters (all 0 but the first two when it is off). */
struct iova_geometry {
	unsigned cache_orders;      /* orders 0 .. cache_orders - 1 cached */
	unsigned magazine_size;     /* blocks per magazine */
	unsigned ncpus;             /* slots */
	uint64_t depot_max;         /* full magazines per class, at most */
	uint64_t depot_floor;       /* the time-driven trim keeps this many */
	uint64_t spare_max;         /* empty magazines kept, at most */
	uint64_t max_cached_pages;  /* bound on iova_stats.cached_pages */
};
void iova_get_geometry(const struct ivm_iova *io, struct iova_geometry *out);

/* Is the cache's hit path the rseq one (lib/rseq.h) rather than the
 * slot lock?  Decided at iova_init, for the life of io; false without a
 * cache. */
bool iova_uses_rseq(const struct ivm_iova *io);

/* Which of the two stacks of class `order` on CPU `cpu`'s slot is the
 * loaded one (0 or 1; 0 without a cache).  Debug: a racy read. */
unsigned iova_debug_loaded(const struct ivm_iova *io, unsigned cpu,
			   unsigned order);

/* Debug builds (IVM_DEBUG_LEVEL >= 1) only: when not NULL, called by a
 * miss path, slot lock held, right before it swaps the slot's loaded and
 * prev magazines, so that a test can migrate the thread there.  Set it
 * while no other thread uses an allocator. */
extern void (*iova_debug_before_swap)(void);

/* Set the working-set interval of the depot trim (default 100 ms); 0
 * trims on every depot operation.  Any thread. */
void iova_set_reclaim_interval(struct ivm_iova *io, uint64_t ns);

/* Debug: lock everything and check every invariant of the cache and the
 * range allocator.  True when consistent. */
bool iova_check(struct ivm_iova *io);

#endif /* IVM_IOVA_H */
