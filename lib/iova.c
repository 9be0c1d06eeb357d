/* SPDX-License-Identifier: MIT */
/*
 * iova.c - the IOVA allocator of a domain: a per-CPU magazine cache in
 * front of the buddy range allocator (range_alloc.c).
 *
 * Source: Bonwick & Adams, "Magazines and Vmem: Extending the Slab
 * Allocator to Many CPUs and Arbitrary Resources" (USENIX 2001), in the
 * shape Linux gave it for IOVAs (drivers/iommu/iova.c, since 4.7): per CPU
 * and per power-of-two size class a `loaded` and a `prev` magazine, each a
 * stack of up to IOVA_MAG_SIZE free blocks; behind them a depot of full
 * magazines per class; behind the depot the range allocator.
 *
 * Departures:
 *  - Static magazine size: 126 blocks, so that a magazine with its link
 *    and count is 1 KiB (Linux: 127 with a union; Bonwick & Adams grow it
 *    under contention).  Measured: docs/design.md, docs/BENCHMARKS.md.
 *  - "Per CPU" is the CPU the calling thread runs on, read from glibc's
 *    rseq area (one load, ~0.4 ns here; sched_getcpu() is a call, ~2.6
 *    ns).  A user thread can be preempted or migrated at any instruction,
 *    so each CPU's slot has its own lock (Linux takes a spinlock there
 *    too).  A thread that migrates after reading its CPU number simply
 *    uses the slot of the CPU it ran on: correct, one remote cache line.
 *  - Magazines are allocated lazily (a NULL magazine counts as empty), so
 *    a domain costs one slot array until it is used, and iova_trim can
 *    free every magazine.  Empty magazines are kept on a bounded spare
 *    list (depot lock) so that steady-state exchanges do not call malloc.
 *  - The depot is bounded twice (Linux 6.7 trims by time only):
 *      pressure: a class's depot holds at most depot_max full magazines;
 *        a push beyond that gives the magazine's blocks back to the range
 *        allocator at once;
 *      time: Bonwick's working set.  Each class records the lowest depot
 *        size (low water) since its interval began; when a depot push or
 *        pop finds the interval (100 ms) over, the magazines that sat
 *        unused for the whole interval (low water, less a floor of one per
 *        CPU) are given back.  No timer thread: the check is one coarse
 *        clock read per depot operation, i.e. per >= 126 allocations.
 *    A depot that nobody touches is not trimmed; iova_trim (public:
 *    ivm_domain_trim) and the exhaustion drain empty it on demand.
 *  - Requests that the cache cannot serve blindly bypass it, straight to
 *    the range allocator under io->lock: orders >= IOVA_CACHE_ORDERS, and
 *    constrained windows (min_page > 0 or max_page below the last page),
 *    because a cached block may lie anywhere.  Frees of any block of a
 *    cached order go to the cache (a block is valid for every
 *    unconstrained request).  Exact ranges (iova_claim / iova_release)
 *    never touch magazines.
 *  - Exhaustion: when the range allocator fails (INSUFFICIENT_RESOURCES,
 *    or a claim meets IN_USE while blocks are cached, since a cached block
 *    looks used to the range allocator), every magazine of every CPU and
 *    the depot are emptied into the range allocator and the call is
 *    retried once.
 *
 * Cost of the hit path (alloc or free served by the CPU's loaded or prev
 * magazine): one rseq load, one uncontended compare-and-swap on the CPU's
 * slot lock (the only atomic read-modify-write; ~8 ns on this project's
 * Xeon VM, ~2.3 ns on the EPYC), a magazine push or pop, two relaxed
 * counter updates on the slot's own cache line, and a store-release to
 * unlock.  No global lock, no shared cache line: the slot is written only
 * by threads running on (or just migrated off) its CPU.
 *
 * Lock order: slot lock -> depot_lock -> io->lock.  Blocks are given back
 * to the range allocator after every slot and depot lock is dropped
 * (struct reclaim_list), so io->lock is in practice taken alone.
 *
 * Concurrency (which operations may run at once on one struct ivm_iova):
 *   iova_alloc / iova_free | with everything; two calls on one CPU's slot
 *                          | serialise on its lock (preemption of the
 *                          | holder makes the other spin, then yield)
 *   iova_claim / release   | with everything (io->lock)
 *   iova_trim              | with everything (takes each lock in turn)
 *   iova_get_stats         | with everything (relaxed loads, no lock)
 *   iova_init / iova_fini  | with nothing
 *
 * Invariants:
 *  1. Every cached block (in a slot's magazine or in the depot) is a whole
 *     block of its class's order that the range allocator counts as used,
 *     and that no caller holds: it is live nowhere else.
 *  2. A magazine is reachable from exactly one place: a slot's loaded or
 *     prev, a depot list (then full: size == IOVA_MAG_SIZE), the spare
 *     list (then empty), or a reclaim_list of the running call.
 *  3. A slot's magazines, and its counters' values, change only under the
 *     slot's lock; depots, the spare list and their counters only under
 *     depot_lock; the range allocator only under io->lock.
 *  4. slot->cached_pages is the pages in that slot's magazines;
 *     cache->depot_pages the pages in all depots; depot_count[o] the
 *     magazines on depot[o] and never above depot_max.
 *  5. No block is ever dropped: a failed magazine allocation sends the
 *     block to the range allocator instead.
 */
#include "iova.h"

#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomics.h"
#include "cpu.h"
#include "mem.h"
#include "util.h"

/* ---- parameters ---------------------------------------------------------- */

/* Cached classes: orders 0 .. IOVA_CACHE_ORDERS - 1 (1 .. 32 pages). */
#define IOVA_CACHE_ORDERS 6
/* Blocks per magazine: with its two header words a magazine is exactly
 * 1 KiB (Linux: 127 and a union of the two).  Overridable for the
 * measurements in docs/design.md. */
#ifndef IOVA_MAG_SIZE
#define IOVA_MAG_SIZE 126
#endif
/* Working-set interval of the time-driven depot trim. */
#define IOVA_RECLAIM_INTERVAL_NS (100ull * 1000 * 1000)
/* Slots are this far apart: two cache lines, because the adjacent-line
 * prefetcher on x86 pulls lines in pairs. */
#define IOVA_SLOT_ALIGN 128
/* Spins on a busy slot lock before each sched_yield(). */
#define IOVA_SPINS_BEFORE_YIELD 64

/* ---- structures ---------------------------------------------------------- */

struct magazine {
	struct magazine *next;          /* on a depot, spare or reclaim list */
	uint64_t size;                  /* blocks held, pages[0 .. size) */
	uint64_t pages[IOVA_MAG_SIZE];  /* first page of each block */
};
_Static_assert(sizeof(struct magazine) == (IOVA_MAG_SIZE + 2) * 8,
	       "no padding");

/* One CPU's magazines.  Every field but `lock` is written only by the
 * holder of `lock` (invariant 3); the counters are atomics so that
 * iova_get_stats may read them without it. */
struct cpu_slot {
	_Atomic uint32_t lock;           /* 0 free, 1 held */
	struct magazine *loaded[IOVA_CACHE_ORDERS]; /* NULL: empty */
	struct magazine *prev[IOVA_CACHE_ORDERS];   /* NULL: empty */
	_Atomic uint64_t hits;           /* lock; single writer */
	_Atomic uint64_t misses;         /* lock; single writer */
	_Atomic uint64_t cached_pages;   /* lock; single writer */
} __attribute__((aligned(IOVA_SLOT_ALIGN)));
_Static_assert(sizeof(struct cpu_slot) == IOVA_SLOT_ALIGN,
	       "one slot fills its two cache lines exactly");

struct iova_cache {
	struct cpu_slot *slots;          /* [ncpus]; set at init */
	unsigned ncpus;                  /* ivm_cpu_slots() at init */
	uint64_t depot_max;              /* per class; set at init */
	uint64_t depot_floor;            /* per class; set at init */
	uint64_t spare_max;              /* set at init */
	_Atomic uint64_t interval_ns;    /* reclaim interval; tests may set */

	pthread_mutex_t depot_lock;
	/* Everything below: depot_lock. */
	struct magazine *depot[IOVA_CACHE_ORDERS];  /* full magazines */
	uint64_t depot_count[IOVA_CACHE_ORDERS];
	uint64_t low_water[IOVA_CACHE_ORDERS];      /* min depot_count in the
	                                               current interval */
	uint64_t interval_start[IOVA_CACHE_ORDERS]; /* coarse ns */
	struct magazine *spare;                     /* empty magazines */
	uint64_t spare_count;
	/* Counters read by iova_get_stats without a lock. */
	_Atomic uint64_t depot_magazines; /* depot_lock; single writer */
	_Atomic uint64_t depot_pages;     /* depot_lock; single writer */
	_Atomic uint64_t magazines;       /* magazines allocated now */
	_Atomic uint64_t reclaimed;       /* blocks given back by the cache */
};

/* Magazines taken out of the cache whose blocks go back to the range
 * allocator once the caller holds no slot or depot lock. */
struct reclaim_list {
	struct magazine *full[IOVA_CACHE_ORDERS];
	uint64_t count;
};

/* ---- locks ---------------------------------------------------------------- */

#define io_lock(io) ivm_mutex_lock(&(io)->lock)
#define io_unlock(io) ivm_mutex_unlock(&(io)->lock)
#define depot_lock(c) ivm_mutex_lock(&(c)->depot_lock)
#define depot_unlock(c) ivm_mutex_unlock(&(c)->depot_lock)

/* Call with io->lock held. */
static void publish_used(struct ivm_iova *io)
{
	ivm_store_relaxed(&io->used_pages, range_alloc_used_pages(&io->ra));
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

ivm_cold static void slot_lock_contended(struct cpu_slot *s)
{
	unsigned spins = 0;

	for (;;) {
		/* Test before test-and-set: spin on a shared copy. */
		while (ivm_load_relaxed(&s->lock) != 0) {
			if (++spins % IOVA_SPINS_BEFORE_YIELD == 0)
				sched_yield(); /* the holder may be preempted */
			else
				cpu_relax();
		}
		uint32_t expected = 0;
		/* A1: pairs with R1 in slot_unlock, like slot_lock. */
		if (ivm_cas_acq_rel(&s->lock, &expected, 1))
			return;
	}
}

static inline void slot_lock(struct cpu_slot *s)
{
	uint32_t expected = 0;

	/* A1: the acquire half pairs with R1 in slot_unlock: the previous
	 * holder's magazine and counter writes are visible to us. */
	if (ivm_likely(ivm_cas_acq_rel(&s->lock, &expected, 1)))
		return;
	slot_lock_contended(s);
}

static inline void slot_unlock(struct cpu_slot *s)
{
	/* R1: pairs with A1 in slot_lock: our writes to the slot's
	 * magazines happen before the next holder reads them. */
	ivm_store_release(&s->lock, 0);
}

/* ---- the current CPU (cpu.h: one rseq load) ------------------------------- */

static inline unsigned current_cpu(const struct iova_cache *c)
{
	/* A stale value only picks another CPU's slot, which its lock
	 * makes safe. */
	return ivm_current_cpu(c->ncpus);
}

/* ---- magazines -------------------------------------------------------------- */

static inline bool magazine_empty(const struct magazine *m)
{
	return m == NULL || m->size == 0;
}

static inline bool magazine_full(const struct magazine *m)
{
	return m != NULL && m->size == IOVA_MAG_SIZE;
}

static void magazine_free(struct iova_cache *c, struct magazine *m)
{
	if (m == NULL)
		return;
	ivm_fetch_sub_relaxed(&c->magazines, 1);
	ivm_mem_free(m, sizeof(*m), 64);
}

static struct magazine *magazine_alloc(struct iova_cache *c)
{
	struct magazine *m = ivm_mem_zalloc(sizeof(*m), 64);

	if (m != NULL)
		ivm_fetch_add_relaxed(&c->magazines, 1);
	return m;
}

/* Slot counters: the slot lock's holder is their only writer, so a relaxed
 * load and store is enough (no read-modify-write on the hit path). */
static inline void slot_counter_add(_Atomic uint64_t *counter, uint64_t v)
{
	ivm_store_relaxed(counter, ivm_load_relaxed(counter) + v);
}

static inline void slot_counter_sub(_Atomic uint64_t *counter, uint64_t v)
{
	ivm_store_relaxed(counter, ivm_load_relaxed(counter) - v);
}

/* ---- the depot (depot_lock held) ---------------------------------------------- */

static void depot_publish(struct iova_cache *c)
{
	uint64_t mags = 0, pages = 0;

	for (unsigned o = 0; o < IOVA_CACHE_ORDERS; o++) {
		mags += c->depot_count[o];
		pages += (c->depot_count[o] * IOVA_MAG_SIZE) << o;
	}
	ivm_store_relaxed(&c->depot_magazines, mags);
	ivm_store_relaxed(&c->depot_pages, pages);
}

static struct magazine *depot_pop_locked(struct iova_cache *c, unsigned o)
{
	struct magazine *m = c->depot[o];

	if (m == NULL)
		return NULL;
	c->depot[o] = m->next;
	c->depot_count[o]--;
	m->next = NULL;
	IVM_ASSERT(m->size == IOVA_MAG_SIZE);
	return m;
}

static void depot_push_locked(struct iova_cache *c, unsigned o,
			      struct magazine *m)
{
	IVM_ASSERT(m->size == IOVA_MAG_SIZE);
	m->next = c->depot[o];
	c->depot[o] = m;
	c->depot_count[o]++;
}

/*
 * The time-driven half of the bound (see the top): called after every
 * depot push or pop of class o.  Magazines that stayed in the depot for a
 * whole interval (the low-water mark) were not part of the working set;
 * those above the floor move to `out`.
 */
static void depot_note_locked(struct iova_cache *c, unsigned o,
			      struct reclaim_list *out)
{
	uint64_t now = ivm_coarse_now_ns();

	if (c->depot_count[o] < c->low_water[o])
		c->low_water[o] = c->depot_count[o];
	if (now - c->interval_start[o] < ivm_load_relaxed(&c->interval_ns))
		return;
	uint64_t excess = c->low_water[o] > c->depot_floor ?
		c->low_water[o] - c->depot_floor : 0;
	while (excess-- > 0) {
		struct magazine *m = depot_pop_locked(c, o);
		m->next = out->full[o];
		out->full[o] = m;
		out->count++;
	}
	c->interval_start[o] = now;
	c->low_water[o] = c->depot_count[o];
}

static struct magazine *spare_pop_locked(struct iova_cache *c)
{
	struct magazine *m = c->spare;

	if (m != NULL) {
		c->spare = m->next;
		c->spare_count--;
		m->next = NULL;
		IVM_ASSERT(m->size == 0);
	}
	return m;
}

/* Keeps an empty magazine as a spare, or returns it for freeing. */
static struct magazine *spare_push_locked(struct iova_cache *c,
					  struct magazine *m)
{
	if (m == NULL || c->spare_count >= c->spare_max)
		return m;
	IVM_ASSERT(m->size == 0);
	m->next = c->spare;
	c->spare = m;
	c->spare_count++;
	return NULL;
}

/* ---- giving blocks back ----------------------------------------------------- */

static void reclaim_list_add(struct reclaim_list *list, unsigned o,
			     struct magazine *m)
{
	m->next = list->full[o];
	list->full[o] = m;
	list->count++;
}

/*
 * Frees every block of every magazine on `list` to the range allocator
 * (one io->lock hold), then keeps the emptied magazines as spares or frees
 * them.  Call with no slot or depot lock held (lock order).
 */
static void reclaim_list_give_back(struct ivm_iova *io,
				   struct reclaim_list *list)
{
	struct iova_cache *c = io->cache;
	struct magazine *empty = NULL;
	uint64_t blocks = 0;

	if (list->count == 0)
		return;
	io_lock(io);
	for (unsigned o = 0; o < IOVA_CACHE_ORDERS; o++) {
		struct magazine *m = list->full[o];

		while (m != NULL) {
			struct magazine *next = m->next;

			for (uint64_t i = 0; i < m->size; i++)
				range_alloc_free(&io->ra, m->pages[i],
						 1ull << o);
			blocks += m->size;
			m->size = 0;
			m->next = empty;
			empty = m;
			m = next;
		}
		list->full[o] = NULL;
	}
	publish_used(io);
	io_unlock(io);
	list->count = 0;
	ivm_counter_add(&c->reclaimed, blocks);

	depot_lock(c);
	while (empty != NULL) {
		struct magazine *next = empty->next;

		empty->next = NULL;
		empty = spare_push_locked(c, empty);
		if (empty != NULL) {
			/* Spare list full: free the rest. */
			depot_unlock(c);
			magazine_free(c, empty);
			depot_lock(c);
		}
		empty = next;
	}
	depot_unlock(c);
}

/* ---- the slot state machine (slot lock held) -------------------------------------- */

/*
 * Alloc miss on the slot: loaded and prev are both empty.  Exchange the
 * empty loaded magazine for a full one from the depot.  Returns false when
 * the depot of class o is empty too.  May queue excess depot magazines on
 * `out` (time-driven trim) and may hand back an empty magazine to free in
 * *free_out.
 */
static bool slot_refill_from_depot(struct iova_cache *c, struct cpu_slot *s,
				   unsigned o, struct reclaim_list *out,
				   struct magazine **free_out)
{
	depot_lock(c);
	struct magazine *full = depot_pop_locked(c, o);
	if (full == NULL) {
		depot_unlock(c);
		return false;
	}
	*free_out = spare_push_locked(c, s->loaded[o]);
	s->loaded[o] = full;
	slot_counter_add(&s->cached_pages, IOVA_MAG_SIZE << o);
	depot_note_locked(c, o, out);
	depot_publish(c);
	depot_unlock(c);
	return true;
}

/*
 * Free miss on the slot: loaded is NULL or full, prev is NULL or full (the
 * fast path pushed otherwise).  Make room, as Bonwick & Adams: when both
 * are full, prev goes to the depot (or, at depot_max, onto `out` for the
 * range allocator) and loaded becomes prev; a NULL loaded becomes an empty
 * magazine from the spare list or the memory allocator.  Returns false
 * (loaded left NULL) only when no magazine could be allocated; the caller
 * then frees its block to the range allocator (invariant 5).
 */
static bool slot_make_room(struct iova_cache *c, struct cpu_slot *s,
			   unsigned o, struct reclaim_list *out)
{
	struct magazine *empty;

	IVM_ASSERT(s->loaded[o] == NULL || magazine_full(s->loaded[o]));
	IVM_ASSERT(s->prev[o] == NULL || magazine_full(s->prev[o]));
	depot_lock(c);
	if (s->loaded[o] != NULL && s->prev[o] != NULL) {
		struct magazine *m = s->prev[o];

		slot_counter_sub(&s->cached_pages, IOVA_MAG_SIZE << o);
		if (c->depot_count[o] < c->depot_max)
			depot_push_locked(c, o, m);
		else
			reclaim_list_add(out, o, m); /* pressure-driven bound */
		depot_note_locked(c, o, out);
		depot_publish(c);
		s->prev[o] = NULL;
	}
	empty = spare_pop_locked(c);
	depot_unlock(c);

	if (s->loaded[o] != NULL) {
		/* Full loaded, and prev is NULL now. */
		s->prev[o] = s->loaded[o];
		s->loaded[o] = NULL;
	}
	if (empty == NULL)
		empty = magazine_alloc(c);
	s->loaded[o] = empty;
	return empty != NULL;
}

/* Moves every magazine of slot s onto `out` (non-empty ones) or `empties`
 * (the rest).  Slot lock held. */
static void slot_drain(struct cpu_slot *s, struct reclaim_list *out,
		       struct magazine **empties)
{
	for (unsigned o = 0; o < IOVA_CACHE_ORDERS; o++) {
		struct magazine *both[2] = { s->loaded[o], s->prev[o] };

		s->loaded[o] = NULL;
		s->prev[o] = NULL;
		for (int i = 0; i < 2; i++) {
			struct magazine *m = both[i];

			if (m == NULL)
				continue;
			if (m->size > 0) {
				reclaim_list_add(out, o, m);
			} else {
				m->next = *empties;
				*empties = m;
			}
		}
	}
	ivm_store_relaxed(&s->cached_pages, 0);
}

/*
 * Empties every slot and the depot into the range allocator.  With
 * free_magazines, every magazine's memory is freed too (iova_trim);
 * otherwise the emptied magazines are kept as spares (up to spare_max).
 * Blocks freed to a slot by another thread while this runs may stay
 * cached (the drain is not a barrier against concurrent frees).
 */
static void cache_drain(struct ivm_iova *io, bool free_magazines)
{
	struct iova_cache *c = io->cache;
	struct reclaim_list list = { 0 };
	struct magazine *empties = NULL;

	for (unsigned cpu = 0; cpu < c->ncpus; cpu++) {
		struct cpu_slot *s = &c->slots[cpu];

		slot_lock(s);
		slot_drain(s, &list, &empties);
		slot_unlock(s);
	}
	depot_lock(c);
	for (unsigned o = 0; o < IOVA_CACHE_ORDERS; o++) {
		struct magazine *m;

		while ((m = depot_pop_locked(c, o)) != NULL)
			reclaim_list_add(&list, o, m);
		c->low_water[o] = 0;
	}
	depot_publish(c);
	if (free_magazines) {
		struct magazine *m;

		while ((m = spare_pop_locked(c)) != NULL) {
			m->next = empties;
			empties = m;
		}
	}
	depot_unlock(c);

	reclaim_list_give_back(io, &list);
	if (free_magazines) {
		/* give_back parked its magazines on the spare list. */
		struct magazine *m;

		depot_lock(c);
		while ((m = spare_pop_locked(c)) != NULL) {
			m->next = empties;
			empties = m;
		}
		depot_unlock(c);
	}
	while (empties != NULL) {
		struct magazine *next = empties->next;

		if (!free_magazines) {
			empties->next = NULL;
			depot_lock(c);
			struct magazine *m = spare_push_locked(c, empties);
			depot_unlock(c);
			magazine_free(c, m);
		} else {
			magazine_free(c, empties);
		}
		empties = next;
	}
}

/* ---- the range allocator, locked ---------------------------------------------------- */

static ivm_status range_alloc_locked(struct ivm_iova *io, unsigned order,
				     uint64_t min_page, uint64_t max_page,
				     uint64_t *page_out)
{
	io_lock(io);
	ivm_status status = range_alloc_alloc(&io->ra, order, min_page,
					      max_page, page_out);
	publish_used(io);
	io_unlock(io);
	return status;
}

static void range_free_locked(struct ivm_iova *io, uint64_t page,
			      uint64_t pages)
{
	io_lock(io);
	range_alloc_free(&io->ra, page, pages);
	publish_used(io);
	io_unlock(io);
}

static uint64_t cache_cached_pages(const struct iova_cache *c)
{
	uint64_t pages = ivm_load_relaxed(&c->depot_pages);

	for (unsigned cpu = 0; cpu < c->ncpus; cpu++)
		pages += ivm_load_relaxed(&c->slots[cpu].cached_pages);
	return pages;
}

/* ---- the API ------------------------------------------------------------------------ */

ivm_status iova_init(struct ivm_iova *io, unsigned width, bool cache)
{
	memset(io, 0, sizeof(*io));
	ivm_status status = range_alloc_init(&io->ra, width);
	if (status != IVM_STATUS_SUCCESS)
		return status;
	if (pthread_mutex_init(&io->lock, NULL) != 0) {
		status = IVM_STATUS_INSUFFICIENT_RESOURCES;
		goto err_ra;
	}
	io->total_pages = io->ra.total_pages;
	if (!cache)
		return IVM_STATUS_SUCCESS;

	struct iova_cache *c = ivm_mem_zalloc(sizeof(*c), 64);
	if (c == NULL) {
		status = IVM_STATUS_INSUFFICIENT_RESOURCES;
		goto err_mutex;
	}
	c->ncpus = ivm_cpu_slots();
	c->depot_floor = c->ncpus;
	c->depot_max = 8ull * c->ncpus < 16 ? 16 : 8ull * c->ncpus;
	c->spare_max = 2ull * c->ncpus + IOVA_CACHE_ORDERS;
	ivm_store_relaxed(&c->interval_ns, IOVA_RECLAIM_INTERVAL_NS);
	uint64_t now = ivm_coarse_now_ns();
	for (unsigned o = 0; o < IOVA_CACHE_ORDERS; o++)
		c->interval_start[o] = now;
	c->slots = ivm_mem_zalloc(c->ncpus * sizeof(struct cpu_slot),
				  IOVA_SLOT_ALIGN);
	if (c->slots == NULL) {
		status = IVM_STATUS_INSUFFICIENT_RESOURCES;
		goto err_cache;
	}
	if (pthread_mutex_init(&c->depot_lock, NULL) != 0) {
		status = IVM_STATUS_INSUFFICIENT_RESOURCES;
		goto err_slots;
	}
	io->cache = c;
	return IVM_STATUS_SUCCESS;

err_slots:
	ivm_mem_free(c->slots, c->ncpus * sizeof(struct cpu_slot),
		     IOVA_SLOT_ALIGN);
err_cache:
	ivm_mem_free(c, sizeof(*c), 64);
err_mutex:
	pthread_mutex_destroy(&io->lock);
err_ra:
	range_alloc_fini(&io->ra);
	memset(io, 0, sizeof(*io));
	return status;
}

void iova_fini(struct ivm_iova *io)
{
	struct iova_cache *c = io->cache;

	if (c != NULL) {
		/* The blocks go with the range allocator; free the memory. */
		struct reclaim_list list = { 0 };
		struct magazine *empties = NULL;

		for (unsigned cpu = 0; cpu < c->ncpus; cpu++)
			slot_drain(&c->slots[cpu], &list, &empties);
		for (unsigned o = 0; o < IOVA_CACHE_ORDERS; o++) {
			struct magazine *m;

			while ((m = depot_pop_locked(c, o)) != NULL)
				reclaim_list_add(&list, o, m);
			for (m = list.full[o]; m != NULL;) {
				struct magazine *next = m->next;
				magazine_free(c, m);
				m = next;
			}
		}
		struct magazine *m;
		while ((m = spare_pop_locked(c)) != NULL)
			magazine_free(c, m);
		while (empties != NULL) {
			struct magazine *next = empties->next;
			magazine_free(c, empties);
			empties = next;
		}
		IVM_ASSERT(ivm_load_relaxed(&c->magazines) == 0);
		pthread_mutex_destroy(&c->depot_lock);
		ivm_mem_free(c->slots, c->ncpus * sizeof(struct cpu_slot),
			     IOVA_SLOT_ALIGN);
		ivm_mem_free(c, sizeof(*c), 64);
		io->cache = NULL;
	}
	pthread_mutex_destroy(&io->lock);
	range_alloc_fini(&io->ra);
}

/* Everything that is not a magazine hit: the depot, the range allocator,
 * the exhaustion drain.  `s` is the locked slot for a cacheable request
 * (its loaded and prev are empty), NULL for a bypass. */
ivm_noinline static ivm_status alloc_slow(struct ivm_iova *io,
					  struct cpu_slot *s, unsigned order,
					  uint64_t min_page, uint64_t max_page,
					  uint64_t *page_out)
{
	struct iova_cache *c = io->cache;
	ivm_status status;

	if (s != NULL) {
		struct reclaim_list list = { 0 };
		struct magazine *to_free = NULL;
		bool refilled;

		slot_counter_add(&s->misses, 1);
		refilled = slot_refill_from_depot(c, s, order, &list, &to_free);
		if (refilled) {
			struct magazine *m = s->loaded[order];

			*page_out = m->pages[--m->size];
			slot_counter_sub(&s->cached_pages, 1ull << order);
		}
		slot_unlock(s);
		magazine_free(c, to_free);
		reclaim_list_give_back(io, &list);
		if (refilled)
			return IVM_STATUS_SUCCESS;
	}
	status = range_alloc_locked(io, order, min_page, max_page, page_out);
	if (status == IVM_STATUS_INSUFFICIENT_RESOURCES && c != NULL) {
		cache_drain(io, false);
		status = range_alloc_locked(io, order, min_page, max_page,
					    page_out);
	}
	return status;
}

ivm_status iova_alloc(struct ivm_iova *io, unsigned order, uint64_t min_page,
		      uint64_t max_page, uint64_t *page_out)
{
	struct iova_cache *c = io->cache;

	if (c == NULL || order >= IOVA_CACHE_ORDERS || min_page != 0 ||
	    max_page < io->total_pages - 1)
		return alloc_slow(io, NULL, order, min_page, max_page,
				  page_out);

	struct cpu_slot *s = &c->slots[current_cpu(c)];
	slot_lock(s);
	struct magazine *m = s->loaded[order];
	if (ivm_unlikely(magazine_empty(m))) {
		m = s->prev[order];
		if (ivm_unlikely(magazine_empty(m)))
			return alloc_slow(io, s, order, min_page, max_page,
					  page_out); /* unlocks s */
		s->prev[order] = s->loaded[order];
		s->loaded[order] = m;
	}
	*page_out = m->pages[--m->size];
	slot_counter_add(&s->hits, 1);
	slot_counter_sub(&s->cached_pages, 1ull << order);
	slot_unlock(s);
	return IVM_STATUS_SUCCESS;
}

/* A free whose slot has no room in loaded or prev.  Slot s locked. */
ivm_noinline static void free_slow(struct ivm_iova *io, struct cpu_slot *s,
				   uint64_t page, unsigned order)
{
	struct iova_cache *c = io->cache;
	struct reclaim_list list = { 0 };
	bool cached = slot_make_room(c, s, order, &list);

	if (cached) {
		struct magazine *m = s->loaded[order];

		m->pages[m->size++] = page;
		slot_counter_add(&s->cached_pages, 1ull << order);
	}
	slot_unlock(s);
	reclaim_list_give_back(io, &list);
	if (!cached)
		range_free_locked(io, page, 1ull << order);
}

void iova_free(struct ivm_iova *io, uint64_t page, unsigned order)
{
	struct iova_cache *c = io->cache;

	IVM_ASSERT((page & ((1ull << order) - 1)) == 0);
	if (c == NULL || order >= IOVA_CACHE_ORDERS) {
		range_free_locked(io, page, 1ull << order);
		return;
	}
	struct cpu_slot *s = &c->slots[current_cpu(c)];
	slot_lock(s);
	struct magazine *m = s->loaded[order];
	if (ivm_unlikely(m == NULL || m->size == IOVA_MAG_SIZE)) {
		m = s->prev[order];
		if (ivm_unlikely(m == NULL || m->size == IOVA_MAG_SIZE)) {
			free_slow(io, s, page, order); /* unlocks s */
			return;
		}
		s->prev[order] = s->loaded[order];
		s->loaded[order] = m;
	}
	m->pages[m->size++] = page;
	slot_counter_add(&s->cached_pages, 1ull << order);
	slot_unlock(s);
}

ivm_status iova_claim(struct ivm_iova *io, uint64_t page, uint64_t pages)
{
	io_lock(io);
	ivm_status status = range_alloc_claim(&io->ra, page, pages);
	publish_used(io);
	io_unlock(io);
	/* A cached block looks used to the range allocator: a claim that
	 * meets one must not fail for it (drain and retry once). */
	if ((status == IVM_STATUS_IN_USE ||
	     status == IVM_STATUS_INSUFFICIENT_RESOURCES) &&
	    io->cache != NULL && cache_cached_pages(io->cache) != 0) {
		cache_drain(io, false);
		io_lock(io);
		status = range_alloc_claim(&io->ra, page, pages);
		publish_used(io);
		io_unlock(io);
	}
	return status;
}

void iova_release(struct ivm_iova *io, uint64_t page, uint64_t pages)
{
	range_free_locked(io, page, pages);
}

void iova_trim(struct ivm_iova *io)
{
	if (io->cache != NULL)
		cache_drain(io, true);
	io_lock(io);
	range_alloc_trim(&io->ra);
	io_unlock(io);
}

void iova_get_stats(struct ivm_iova *io, struct iova_stats *out)
{
	const struct iova_cache *c = io->cache;

	memset(out, 0, sizeof(*out));
	out->used_pages = ivm_load_relaxed(&io->used_pages);
	if (c == NULL)
		return;
	for (unsigned cpu = 0; cpu < c->ncpus; cpu++) {
		const struct cpu_slot *s = &c->slots[cpu];

		out->hits += ivm_load_relaxed(&s->hits);
		out->misses += ivm_load_relaxed(&s->misses);
	}
	out->cached_pages = cache_cached_pages(c);
	out->depot_magazines = ivm_load_relaxed(&c->depot_magazines);
	out->reclaimed = ivm_load_relaxed(&c->reclaimed);
	out->magazines = ivm_load_relaxed(&c->magazines);
}

/* ---- private: tests ------------------------------------------------------------------- */

void iova_set_reclaim_interval(struct ivm_iova *io, uint64_t ns)
{
	if (io->cache != NULL)
		ivm_store_relaxed(&io->cache->interval_ns, ns);
}

void iova_get_geometry(const struct ivm_iova *io, struct iova_geometry *out)
{
	const struct iova_cache *c = io->cache;

	memset(out, 0, sizeof(*out));
	out->cache_orders = IOVA_CACHE_ORDERS;
	out->magazine_size = IOVA_MAG_SIZE;
	if (c == NULL)
		return;
	out->ncpus = c->ncpus;
	out->depot_max = c->depot_max;
	out->depot_floor = c->depot_floor;
	out->spare_max = c->spare_max;
	/* Per class: two magazines per CPU plus a full depot. */
	for (unsigned o = 0; o < IOVA_CACHE_ORDERS; o++)
		out->max_cached_pages += ((2ull * c->ncpus + c->depot_max) *
					  IOVA_MAG_SIZE) << o;
}

bool iova_check(struct ivm_iova *io)
{
	struct iova_cache *c = io->cache;
	bool ok = true;

	if (c == NULL) {
		io_lock(io);
		ok = range_alloc_check(&io->ra);
		io_unlock(io);
		return ok;
	}
	/* Lock order: every slot, then the depot, then io. */
	for (unsigned cpu = 0; cpu < c->ncpus; cpu++)
		slot_lock(&c->slots[cpu]);
	depot_lock(c);
	io_lock(io);
	ok = range_alloc_check(&io->ra);
	uint64_t mags = c->spare_count, depot_pages = 0;
	for (unsigned cpu = 0; cpu < c->ncpus; cpu++) {
		struct cpu_slot *s = &c->slots[cpu];
		uint64_t pages = 0;

		for (unsigned o = 0; o < IOVA_CACHE_ORDERS; o++) {
			struct magazine *both[2] = { s->loaded[o], s->prev[o] };

			for (int i = 0; i < 2; i++) {
				struct magazine *m = both[i];
				if (m == NULL)
					continue;
				mags++;
				ok &= m->size <= IOVA_MAG_SIZE;
				for (uint64_t k = 0; k < m->size && ok; k++) {
					uint64_t p = m->pages[k];
					ok &= (p & ((1ull << o) - 1)) == 0;
					ok &= p < io->total_pages;
					ok &= !range_alloc_is_free(&io->ra, p, 1ull << o);
				}
				pages += m->size << o;
			}
		}
		ok &= pages == ivm_load_relaxed(&s->cached_pages);
	}
	for (unsigned o = 0; o < IOVA_CACHE_ORDERS; o++) {
		uint64_t n = 0;

		for (struct magazine *m = c->depot[o]; m; m = m->next) {
			n++;
			ok &= m->size == IOVA_MAG_SIZE;
			for (uint64_t k = 0; k < m->size && ok; k++)
				ok &= !range_alloc_is_free(&io->ra, m->pages[k],
							   1ull << o);
		}
		ok &= n == c->depot_count[o] && n <= c->depot_max;
		mags += n;
		depot_pages += (n * IOVA_MAG_SIZE) << o;
	}
	uint64_t spares = 0;
	for (struct magazine *m = c->spare; m; m = m->next) {
		spares++;
		ok &= m->size == 0;
	}
	ok &= spares == c->spare_count && spares <= c->spare_max;
	ok &= depot_pages == ivm_load_relaxed(&c->depot_pages);
	ok &= mags == ivm_load_relaxed(&c->magazines);
	io_unlock(io);
	depot_unlock(c);
	for (unsigned cpu = c->ncpus; cpu-- > 0;)
		slot_unlock(&c->slots[cpu]);
	return ok;
}
