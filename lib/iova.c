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
 * magazines per class; behind the depot the range allocator.  The hit
 * path is a restartable sequence (rseq.h), as in tcmalloc's per-CPU
 * caches, instead of Linux's per-CPU spinlock.
 *
 * Departures:
 *  - Static magazine size: 126 blocks, so that a magazine with its link
 *    and count is 1 KiB (Linux: 127 with a union; Bonwick & Adams grow it
 *    under contention).  Measured: docs/design.md, docs/BENCHMARKS.md.
 *  - "Per CPU" is the CPU the calling thread runs on, as the kernel keeps
 *    it in glibc's rseq area.  A user thread can be preempted or migrated
 *    at any instruction, which Linux excludes by disabling preemption and
 *    we cannot.  Two paths (chosen once per cache, at iova_init):
 *      rseq (x86-64 with glibc's rseq area and membarrier's RSEQ fence,
 *        not ThreadSanitizer): a hit is one restartable sequence that
 *        reads the CPU number, checks the slot's lock word, and pushes on
 *        or pops off loaded, committing with one store.  Preemption,
 *        migration or a signal inside it restarts it.
 *      locked (every other build, and TSan, which cannot see into asm):
 *        a hit takes the slot's lock (test-and-test-and-set), as before.
 *    Everything that is not a hit (the "miss paths" below) takes the slot
 *    lock in both.
 *  - loaded and prev are not two pointers but a pair of stacks and an
 *    index, stack[cur] and stack[cur ^ 1] (struct ivm_rseq_stack_pair):
 *    a hit touches only loaded, so a miss path may refill, empty or
 *    replace prev without excluding hits, and then makes it loaded with
 *    one store of cur, done on the slot's own CPU (see "Why the rseq path
 *    is safe" below).  A miss path never touches loaded.  Where Bonwick
 *    swaps the two and then pops or pushes on loaded, we pop or push on
 *    prev and then swap: the same states, in the other order.
 *  - A magazine's depth lives in its slot (the pair's state word) while it
 *    is loaded or prev, and in the magazine (size) elsewhere; the state
 *    word also counts the pops committed on it, so the hit counter costs
 *    the hit path nothing: the commit store adds 0xffff (depth - 1, pops
 *    + 1) where it would subtract 1.
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
 *    retried once.  Emptying another CPU's loaded magazine takes that
 *    slot's lock and then fences the CPU (ivm_rseq_fence_cpu: a
 *    membarrier IPI that restarts a hit in flight there).
 *
 * Cost of the hit path (rseq path: alloc or free served by the CPU's
 * loaded magazine): after the bypass checks, a `lea` and a store that
 * publish the section's descriptor; in the section, a load of the CPU
 * number and its bound check, a shift and an add to find the slot, a load
 * and test of its lock word, loads of cur and of the state word, a test of
 * the depth (a push: a compare with the capacity and a NULL check of the
 * magazine), the pop's load or the push's store of the block, and the
 * commit store: 18 instructions for a pop, 20 for a push, of which 3 or 4
 * branch out on failure.  No atomic read-modify-write, no fence, no
 * counter update.  iova_alloc and iova_free are leaves on that path (one
 * callee-saved register); everything else is tail-called out of line.
 * Every line it touches is the slot's own (written only by threads on its
 * CPU or by that slot's miss paths) or the magazine's.  A hit on prev
 * costs a miss path (the slot lock, one pop or push, the swap).  The
 * locked path costs what it did less the two counter updates: one
 * uncontended compare-and-swap on the slot lock and a store-release to
 * drop it.
 *
 * Why the rseq path is safe.  Hits on CPU k write only loaded
 * (stack[cur]) of k's slot and its state word, inside a section that read
 * the CPU number k and the lock word 0.  A miss path holding k's lock may
 * be running on any CPU (it read k and may have migrated since), so it
 * touches only prev (stack[cur ^ 1]).  It changes cur with
 * ivm_rseq_store_on_cpu(k), a one-store section that commits only while
 * it runs on CPU k: then no other thread runs on k, so every hit that
 * read the old cur has committed before it or was preempted and will
 * restart, reading the new cur.  If the thread is on another CPU by then,
 * the swap is simply not done: prev holds the block count the miss path
 * left, the next miss on k finds it.  Only the drains (and iova_check,
 * iova_fini) touch loaded: they take the lock and then fence the CPU,
 * which restarts a hit in flight there; restarted hits see the lock word
 * and wait for it to clear (IVM_RSEQ_BUSY).
 *
 * Lock order: slot lock -> depot_lock -> io->lock.  Blocks are given back
 * to the range allocator after every slot and depot lock is dropped
 * (struct reclaim_list), so io->lock is in practice taken alone.
 *
 * Concurrency (which operations may run at once on one struct ivm_iova):
 *   iova_alloc / iova_free | with everything.  Two hits on one CPU never
 *                          | interleave (rseq path: the kernel restarts
 *                          | a preempted one; locked path: the slot
 *                          | lock).  Misses on one CPU's slot serialise
 *                          | on its lock; a hit meeting that lock set
 *                          | waits (spins, then yields) for it to clear.
 *   iova_claim / release   | with everything (io->lock)
 *   iova_trim              | with everything (takes each lock in turn,
 *                          | fences each CPU)
 *   iova_get_stats         | with everything (relaxed loads, no lock)
 *   iova_init / iova_fini  | with nothing
 *
 * Invariants:
 *  1. Every cached block (in a slot's magazine or in the depot) is a whole
 *     block of its class's order that the range allocator counts as used,
 *     and that no caller holds: it is live nowhere else.
 *  2. A magazine is reachable from exactly one place: one of a slot
 *     pair's two stacks, a depot list (then full: size ==
 *     IOVA_MAG_SIZE), the spare list (then empty), or a reclaim_list of
 *     the running call.
 *  3. Who writes a slot pair: cur, prev, prev's state word and prev's
 *     magazine only the slot lock's holder (cur through
 *     ivm_rseq_store_on_cpu on the slot's CPU when on the rseq path);
 *     loaded's state word and the items of loaded's magazine only hits
 *     (rseq: running on the slot's CPU; locked: holding the lock), or a
 *     lock holder that fenced the CPU; the loaded pointer only a lock
 *     holder that fenced the CPU.  depots, the spare list and their
 *     counters only under depot_lock; the range allocator only under
 *     io->lock.
 *  4. While a magazine is a slot's loaded or prev, its block count is
 *     the depth in that stack's state word (m->size is stale); a NULL
 *     stack has depth 0.  Elsewhere it is m->size.
 *  5. cache->depot_pages is the pages in all depots; depot_count[o] the
 *     magazines on depot[o] and never above depot_max.
 *  6. No block is ever dropped: a failed magazine allocation sends the
 *     block to the range allocator instead.
 */
#include "iova.h"

#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomics.h"
#include "cpu.h"
#include "mem.h"
#include "rseq.h"
#include "spinlock.h"
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
/* Working-set interval of the depot trim. */
#define IOVA_RECLAIM_INTERVAL_NS (100ull * 1000 * 1000)
/* Slots are 1 << IOVA_SLOT_SHIFT bytes apart (the rseq sections find a
 * CPU's slot with one shift), aligned to two cache lines, because the
 * adjacent-line prefetcher on x86 pulls lines in pairs. */
#define IOVA_SLOT_SHIFT 8
#define IOVA_SLOT_ALIGN 128

_Static_assert(IOVA_MAG_SIZE <= IVM_RSEQ_DEPTH_MASK,
	       "a depth fits the state word");

/* ---- structures ---------------------------------------------------------- */

struct magazine {
	struct magazine *next;          /* on a depot, spare or reclaim list */
	uint64_t size;                  /* blocks held, pages[0 .. size),
	                                   when not in a slot (invariant 4) */
	uint64_t pages[IOVA_MAG_SIZE];  /* first page of each block */
};
_Static_assert(sizeof(struct magazine) == (IOVA_MAG_SIZE + 2) * 8,
	       "no padding");
_Static_assert(offsetof(struct magazine, pages) == IVM_RSEQ_ITEMS_OFFSET,
	       "rseq.h's stack layout");

/* One CPU's magazines: per class a pair (loaded = stack[cur], prev =
 * stack[cur ^ 1]).  Who writes what: invariant 3.  The layout is rseq.h's
 * contract: the lock word first, slots 1 << IOVA_SLOT_SHIFT apart.  The
 * pair of order 0, the one a 1-page map uses, shares the lock's line. */
struct cpu_slot {
	ivm_spinlock lock;               /* first: rseq.h's lock word */
	uint32_t unused;
	struct ivm_rseq_stack_pair pair[IOVA_CACHE_ORDERS];
	_Atomic uint64_t misses;         /* lock; single writer */
} __attribute__((aligned(IOVA_SLOT_ALIGN)));
_Static_assert(offsetof(struct cpu_slot, lock) == 0, "rseq.h's record");
_Static_assert(sizeof(struct cpu_slot) == 1u << IOVA_SLOT_SHIFT,
	       "one slot fills its four cache lines exactly");

struct iova_cache {
	/* Read by every hit; set at init. */
	struct cpu_slot *slots;          /* [ncpus] */
	unsigned ncpus;                  /* ivm_cpu_slots() at init */
	bool rseq;                       /* the rseq path (see the top) */
	uint64_t depot_max;              /* per class; set at init */
	uint64_t depot_floor;            /* per class; set at init */
	uint64_t spare_max;              /* set at init */
	_Atomic uint64_t interval_ns;    /* reclaim interval; tests may set */

	/* Written by every depot exchange: off the lines every hit reads
	 * (two lines: the adjacent-line prefetcher pulls pairs). */
	_Alignas(128) pthread_mutex_t depot_lock;
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

/* The slot lock is spinlock.h's (test-and-test-and-set, yield when the
 * holder seems preempted).  Its release store also pairs with the rseq
 * sections' load of the lock word (TSO: a section that reads 0 sees every
 * write the holder made to the slot and its magazines before it). */
static inline void slot_wait_unlocked(struct cpu_slot *s)
{
	ivm_spin_wait_unlocked(&s->lock);
}

static inline void slot_lock(struct cpu_slot *s)
{
	ivm_spin_lock(&s->lock);
}

static inline void slot_unlock(struct cpu_slot *s)
{
	ivm_spin_unlock(&s->lock);
}

/* ---- the current CPU (cpu.h: one rseq load) ------------------------------- */

static inline unsigned current_cpu(const struct iova_cache *c)
{
	/* For a miss path: a stale value only picks another CPU's slot,
	 * whose lock makes that safe (and whose cur it cannot swap). */
	return ivm_current_cpu(c->ncpus);
}

/* ---- magazines -------------------------------------------------------------- */

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
 * load and store is enough (no read-modify-write). */
static inline void slot_counter_add(_Atomic uint64_t *counter, uint64_t v)
{
	ivm_store_relaxed(counter, ivm_load_relaxed(counter) + v);
}

/* ---- a slot's stacks (invariants 3 and 4) ------------------------------------ */

void (*iova_debug_before_swap)(void);

static inline uint64_t state_pops(uint64_t state)
{
	return state >> IVM_RSEQ_DEPTH_BITS;
}

/* Byte offset of class o's pair in a slot, for the rseq sections. */
static inline size_t pair_offset(unsigned o)
{
	return offsetof(struct cpu_slot, pair) +
	       o * sizeof(struct ivm_rseq_stack_pair);
}

/*
 * Take the magazine out of stack i of pair p (NULL if none); its block
 * count moves into m->size, the pops stay with the stack.  Slot lock held,
 * and i is prev, or the CPU was fenced.  The state word is written with
 * relaxed stores: the only other accesses are the sections (excluded by
 * the caller) and statistics readers.
 */
static struct magazine *stack_take(struct ivm_rseq_stack_pair *p, unsigned i)
{
	struct magazine *m = p->stack[i];
	uint64_t state = ivm_load_relaxed(&p->state[i]);

	if (m != NULL)
		m->size = ivm_rseq_depth(state);
	IVM_ASSERT(m != NULL || ivm_rseq_depth(state) == 0);
	p->stack[i] = NULL;
	ivm_store_relaxed(&p->state[i], state & ~IVM_RSEQ_DEPTH_MASK);
	return m;
}

/* Put magazine m (not NULL) into the empty stack i of pair p.  Same
 * context as stack_take. */
static void stack_put(struct ivm_rseq_stack_pair *p, unsigned i,
		      struct magazine *m)
{
	uint64_t state = ivm_load_relaxed(&p->state[i]);

	IVM_ASSERT(p->stack[i] == NULL && ivm_rseq_depth(state) == 0);
	p->stack[i] = m;
	ivm_store_relaxed(&p->state[i], state | m->size);
}

/*
 * Make prev the loaded magazine of pair p of slot s (CPU k): cur ^= 1.
 * Slot lock held; prev was just refilled or emptied by the caller.  On
 * the rseq path the store commits only on CPU k (see the top: that is
 * what retires every hit that read the old cur); a thread running
 * elsewhere leaves cur as it is, which is a valid state too.
 */
static void slot_swap(const struct iova_cache *c, struct ivm_rseq_stack_pair *p,
		      unsigned k)
{
	uint64_t next = p->cur ^ 1;

#if IVM_DEBUG_LEVEL >= 1
	if (iova_debug_before_swap != NULL)
		iova_debug_before_swap();
#endif
	if (!c->rseq) {
		p->cur = next;
		return;
	}
	while (ivm_rseq_store_on_cpu(&p->cur, next, k) == IVM_RSEQ_RESTART)
		;
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

/* ---- the miss paths (slot lock held; they touch prev only) -------------------- */

/*
 * Alloc miss on slot s (CPU k), class o: loaded could not serve (or the
 * section could not run).  Take a block from prev, refilling prev first
 * with a full magazine from the depot when it is empty (its empty
 * magazine goes to the spare list, or to *free_out when that is full),
 * then swap prev and loaded.  Returns false, with nothing changed, when
 * prev and the depot of class o are both empty.  May queue excess depot
 * magazines on `out` (time-driven trim).  A pop from prev counts as a hit
 * (one pop in its state word); a pop from a refill counts as a miss.
 */
static bool slot_alloc_miss(struct iova_cache *c, struct cpu_slot *s,
			    unsigned k, unsigned o, uint64_t *page_out,
			    struct reclaim_list *out,
			    struct magazine **free_out)
{
	struct ivm_rseq_stack_pair *p = &s->pair[o];
	unsigned prev = (unsigned)p->cur ^ 1;
	uint64_t state = ivm_load_relaxed(&p->state[prev]);
	uint64_t add = IVM_RSEQ_ONE_POP;

	if (ivm_rseq_depth(state) == 0) {
		slot_counter_add(&s->misses, 1);
		depot_lock(c);
		struct magazine *full = depot_pop_locked(c, o);
		if (full == NULL) {
			depot_unlock(c);
			return false;
		}
		*free_out = spare_push_locked(c, stack_take(p, prev));
		stack_put(p, prev, full);
		depot_note_locked(c, o, out);
		depot_publish(c);
		depot_unlock(c);
		state = ivm_load_relaxed(&p->state[prev]);
		add = 0; /* a miss, not a hit */
	}
	struct magazine *m = p->stack[prev];
	*page_out = m->pages[ivm_rseq_depth(state) - 1];
	ivm_store_relaxed(&p->state[prev], state + add - 1);
	slot_swap(c, p, k);
	return true;
}

/*
 * Free miss on slot s (CPU k), class o: loaded could not take the block.
 * Push it on prev, making room first as Bonwick & Adams: a full prev goes
 * to the depot (or, at depot_max, onto `out` for the range allocator),
 * and a NULL (or departed) prev becomes an empty magazine from the spare
 * list or the memory allocator; then swap prev and loaded.  Returns false,
 * with prev left NULL and cur unchanged, only when no magazine could be
 * allocated; the caller then frees its block to the range allocator
 * (invariant 6).
 */
static bool slot_free_miss(struct iova_cache *c, struct cpu_slot *s,
			   unsigned k, unsigned o, uint64_t page,
			   struct reclaim_list *out)
{
	struct ivm_rseq_stack_pair *p = &s->pair[o];
	unsigned prev = (unsigned)p->cur ^ 1;
	uint64_t state = ivm_load_relaxed(&p->state[prev]);

	if (p->stack[prev] == NULL || ivm_rseq_depth(state) == IOVA_MAG_SIZE) {
		struct magazine *empty;

		depot_lock(c);
		if (p->stack[prev] != NULL) {
			struct magazine *m = stack_take(p, prev);

			if (c->depot_count[o] < c->depot_max)
				depot_push_locked(c, o, m);
			else
				reclaim_list_add(out, o, m); /* pressure bound */
			depot_note_locked(c, o, out);
			depot_publish(c);
		}
		empty = spare_pop_locked(c);
		depot_unlock(c);
		if (empty == NULL)
			empty = magazine_alloc(c);
		if (empty == NULL)
			return false;
		stack_put(p, prev, empty);
		state = ivm_load_relaxed(&p->state[prev]);
	}
	struct magazine *m = p->stack[prev];
	m->pages[ivm_rseq_depth(state)] = page;
	ivm_store_relaxed(&p->state[prev], state + 1);
	slot_swap(c, p, k);
	return true;
}

/* Moves every magazine of slot s onto `out` (non-empty ones) or `empties`
 * (the rest).  Slot lock held and, on the rseq path, the slot's CPU
 * fenced after taking it (loaded is touched); or no other thread runs. */
static void slot_drain(struct cpu_slot *s, struct reclaim_list *out,
		       struct magazine **empties)
{
	for (unsigned o = 0; o < IOVA_CACHE_ORDERS; o++) {
		for (unsigned i = 0; i < 2; i++) {
			struct magazine *m = stack_take(&s->pair[o], i);

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
}

/* Take the lock of CPU cpu's slot so that nothing else touches any of its
 * magazines: the lock excludes miss paths, the fence restarts a hit in
 * flight on that CPU, and later hits see the lock word and wait. */
static void slot_lock_fenced(struct iova_cache *c, unsigned cpu)
{
	slot_lock(&c->slots[cpu]);
	if (c->rseq)
		ivm_rseq_fence_cpu(cpu);
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
		slot_lock_fenced(c, cpu);
		slot_drain(&c->slots[cpu], &list, &empties);
		slot_unlock(&c->slots[cpu]);
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

ivm_noinline static void range_free_locked(struct ivm_iova *io,
					   uint64_t page, uint64_t pages)
{
	io_lock(io);
	range_alloc_free(&io->ra, page, pages);
	publish_used(io);
	io_unlock(io);
}

/* Pages in the depot and in every slot's magazines, summed from relaxed
 * loads: under concurrency a block moving between a slot and the depot
 * while this runs may be counted twice or not at all. */
static uint64_t cache_cached_pages(const struct iova_cache *c)
{
	uint64_t pages = ivm_load_relaxed(&c->depot_pages);

	for (unsigned cpu = 0; cpu < c->ncpus; cpu++)
		for (unsigned o = 0; o < IOVA_CACHE_ORDERS; o++)
			for (unsigned i = 0; i < 2; i++)
				pages += ivm_rseq_depth(ivm_load_relaxed(
					&c->slots[cpu].pair[o].state[i])) << o;
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

	struct iova_cache *c = ivm_mem_zalloc(sizeof(*c), _Alignof(struct iova_cache));
	if (c == NULL) {
		status = IVM_STATUS_INSUFFICIENT_RESOURCES;
		goto err_mutex;
	}
	c->ncpus = ivm_cpu_slots();
	c->rseq = ivm_rseq_usable();
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
	ivm_mem_free(c, sizeof(*c), _Alignof(struct iova_cache));
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
		/* The blocks go with the range allocator; free the memory.
		 * No other thread may use io now: no lock, no fence. */
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
		ivm_mem_free(c, sizeof(*c), _Alignof(struct iova_cache));
		io->cache = NULL;
	}
	pthread_mutex_destroy(&io->lock);
	range_alloc_fini(&io->ra);
}

/* The range allocator, and when it is full with a cache in front, one
 * drain of every cache and a retry.  Out of line: the callers' fast paths
 * stay leaves. */
ivm_noinline static ivm_status alloc_from_range(struct ivm_iova *io,
						unsigned order,
						uint64_t min_page,
						uint64_t max_page,
						uint64_t *page_out)
{
	ivm_status status = range_alloc_locked(io, order, min_page, max_page,
					       page_out);
	if (status == IVM_STATUS_INSUFFICIENT_RESOURCES && io->cache != NULL) {
		cache_drain(io, false);
		status = range_alloc_locked(io, order, min_page, max_page,
					    page_out);
	}
	return status;
}

/* Everything that is not a hit on loaded: prev, the depot, the range
 * allocator.  Slot s (CPU k) locked; unlocks it. */
ivm_noinline static ivm_status alloc_miss(struct ivm_iova *io,
					  struct cpu_slot *s, unsigned k,
					  unsigned order, uint64_t *page_out)
{
	struct iova_cache *c = io->cache;
	struct reclaim_list list = { 0 };
	struct magazine *to_free = NULL;
	bool cached = slot_alloc_miss(c, s, k, order, page_out, &list,
				      &to_free);

	slot_unlock(s);
	magazine_free(c, to_free);
	reclaim_list_give_back(io, &list);
	if (cached)
		return IVM_STATUS_SUCCESS;
	return alloc_from_range(io, order, 0, io->total_pages - 1, page_out);
}

/* The rseq path's miss, and every locked-path call.  Slot s (CPU k)
 * not locked yet. */
ivm_noinline static ivm_status alloc_cacheable(struct ivm_iova *io,
					       unsigned order,
					       uint64_t *page_out)
{
	struct iova_cache *c = io->cache;

	if (c->rseq) {
		for (;;) {
			enum ivm_rseq_result r = ivm_rseq_pair_pop(
				c->slots, IOVA_SLOT_SHIFT, c->ncpus,
				pair_offset(order), page_out);

			if (r == IVM_RSEQ_DONE)
				return IVM_STATUS_SUCCESS;
			if (r == IVM_RSEQ_MISS)
				break;
			if (r == IVM_RSEQ_BUSY)
				slot_wait_unlocked(&c->slots[current_cpu(c)]);
			/* RESTART, or the lock cleared: run it again. */
		}
		unsigned k = current_cpu(c);
		slot_lock(&c->slots[k]);
		return alloc_miss(io, &c->slots[k], k, order, page_out);
	}

	/* The locked path. */
	unsigned k = current_cpu(c);
	struct cpu_slot *s = &c->slots[k];
	slot_lock(s);
	struct ivm_rseq_stack_pair *p = &s->pair[order];
	unsigned cur = (unsigned)p->cur;
	uint64_t state = ivm_load_relaxed(&p->state[cur]);
	if (ivm_unlikely(ivm_rseq_depth(state) == 0))
		return alloc_miss(io, s, k, order, page_out); /* unlocks s */
	struct magazine *m = p->stack[cur];
	*page_out = m->pages[ivm_rseq_depth(state) - 1];
	ivm_store_relaxed(&p->state[cur], state + IVM_RSEQ_ONE_POP - 1);
	slot_unlock(s);
	return IVM_STATUS_SUCCESS;
}

/* The fast path is kept a leaf that only tail-calls, so that it saves no
 * registers: one rseq section, everything else out of line. */
ivm_status iova_alloc(struct ivm_iova *io, unsigned order, uint64_t min_page,
		      uint64_t max_page, uint64_t *page_out)
{
	struct iova_cache *c = io->cache;

	if (ivm_unlikely(c == NULL || order >= IOVA_CACHE_ORDERS ||
			 min_page != 0 || max_page < io->total_pages - 1))
		return alloc_from_range(io, order, min_page, max_page,
					page_out);
	if (ivm_likely(c->rseq) &&
	    ivm_likely(ivm_rseq_pair_pop(c->slots, IOVA_SLOT_SHIFT, c->ncpus,
					 pair_offset(order), page_out) ==
		       IVM_RSEQ_DONE))
		return IVM_STATUS_SUCCESS;
	return alloc_cacheable(io, order, page_out);
}

/* A free that loaded could not take.  Slot s (CPU k) locked; unlocks it. */
ivm_noinline static void free_miss(struct ivm_iova *io, struct cpu_slot *s,
				   unsigned k, uint64_t page, unsigned order)
{
	struct iova_cache *c = io->cache;
	struct reclaim_list list = { 0 };
	bool cached = slot_free_miss(c, s, k, order, page, &list);

	slot_unlock(s);
	reclaim_list_give_back(io, &list);
	if (!cached)
		range_free_locked(io, page, 1ull << order);
}

/* The rseq path's miss, and every locked-path call, of a cached order. */
ivm_noinline static void free_cacheable(struct ivm_iova *io, uint64_t page,
					unsigned order)
{
	struct iova_cache *c = io->cache;

	if (c->rseq) {
		for (;;) {
			enum ivm_rseq_result r = ivm_rseq_pair_push(
				c->slots, IOVA_SLOT_SHIFT, c->ncpus,
				pair_offset(order), IOVA_MAG_SIZE, page);

			if (r == IVM_RSEQ_DONE)
				return;
			if (r == IVM_RSEQ_MISS)
				break;
			if (r == IVM_RSEQ_BUSY)
				slot_wait_unlocked(&c->slots[current_cpu(c)]);
		}
		unsigned k = current_cpu(c);
		slot_lock(&c->slots[k]);
		free_miss(io, &c->slots[k], k, page, order);
		return;
	}

	/* The locked path. */
	unsigned k = current_cpu(c);
	struct cpu_slot *s = &c->slots[k];
	slot_lock(s);
	struct ivm_rseq_stack_pair *p = &s->pair[order];
	unsigned cur = (unsigned)p->cur;
	uint64_t state = ivm_load_relaxed(&p->state[cur]);
	struct magazine *m = p->stack[cur];
	if (ivm_unlikely(m == NULL || ivm_rseq_depth(state) == IOVA_MAG_SIZE)) {
		free_miss(io, s, k, page, order); /* unlocks s */
		return;
	}
	m->pages[ivm_rseq_depth(state)] = page;
	ivm_store_relaxed(&p->state[cur], state + 1);
	slot_unlock(s);
}

void iova_free(struct ivm_iova *io, uint64_t page, unsigned order)
{
	struct iova_cache *c = io->cache;

	IVM_ASSERT((page & ((1ull << order) - 1)) == 0);
	if (ivm_unlikely(c == NULL || order >= IOVA_CACHE_ORDERS)) {
		range_free_locked(io, page, 1ull << order);
		return;
	}
	if (ivm_likely(c->rseq) &&
	    ivm_likely(ivm_rseq_pair_push(c->slots, IOVA_SLOT_SHIFT, c->ncpus,
					  pair_offset(order), IOVA_MAG_SIZE,
					  page) == IVM_RSEQ_DONE))
		return;
	free_cacheable(io, page, order);
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

		for (unsigned o = 0; o < IOVA_CACHE_ORDERS; o++)
			for (unsigned i = 0; i < 2; i++)
				out->hits += state_pops(ivm_load_relaxed(
					&s->pair[o].state[i]));
		out->misses += ivm_load_relaxed(&s->misses);
	}
	out->cached_pages = cache_cached_pages(c);
	out->depot_magazines = ivm_load_relaxed(&c->depot_magazines);
	out->reclaimed = ivm_load_relaxed(&c->reclaimed);
	out->magazines = ivm_load_relaxed(&c->magazines);
}

/* ---- private: tests ------------------------------------------------------------------- */

bool iova_uses_rseq(const struct ivm_iova *io)
{
	return io->cache != NULL && io->cache->rseq;
}

unsigned iova_debug_loaded(const struct ivm_iova *io, unsigned cpu,
			   unsigned order)
{
	const struct iova_cache *c = io->cache;

	if (c == NULL || cpu >= c->ncpus || order >= IOVA_CACHE_ORDERS)
		return 0;
	return (unsigned)__atomic_load_n(&c->slots[cpu].pair[order].cur,
					 __ATOMIC_RELAXED);
}

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

/* One slot's magazines against the range allocator (everything locked,
 * the CPU fenced). */
static bool check_slot(struct ivm_iova *io, struct cpu_slot *s,
		       uint64_t *mags)
{
	bool ok = true;

	for (unsigned o = 0; o < IOVA_CACHE_ORDERS; o++) {
		struct ivm_rseq_stack_pair *p = &s->pair[o];

		ok &= p->cur <= 1;
		for (unsigned i = 0; i < 2; i++) {
			struct magazine *m = p->stack[i];
			uint64_t depth = ivm_rseq_depth(
				ivm_load_relaxed(&p->state[i]));

			ok &= depth <= IOVA_MAG_SIZE;
			if (m == NULL) {
				ok &= depth == 0;
				continue;
			}
			(*mags)++;
			for (uint64_t k = 0; k < depth && ok; k++) {
				uint64_t pg = m->pages[k];
				ok &= (pg & ((1ull << o) - 1)) == 0;
				ok &= pg < io->total_pages;
				ok &= !range_alloc_is_free(&io->ra, pg, 1ull << o);
			}
		}
	}
	return ok;
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
		slot_lock_fenced(c, cpu);
	depot_lock(c);
	io_lock(io);
	ok = range_alloc_check(&io->ra);
	uint64_t mags = c->spare_count, depot_pages = 0;
	for (unsigned cpu = 0; cpu < c->ncpus; cpu++)
		ok &= check_slot(io, &c->slots[cpu], &mags);
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
