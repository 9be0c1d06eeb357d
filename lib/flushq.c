/* SPDX-License-Identifier: MIT */
/*
 * flushq.c - per-CPU flush queues for lazy IOTLB invalidation.
 *
 * Design source: Linux drivers/iommu/dma-iommu.c (the "flush queue":
 * per-CPU rings of freed IOVAs, 256 entries, a 10 ms timer, a flush when a
 * ring fills) and Peleg et al., USENIX ATC 2015 (per-core invalidation
 * queues remove the global invalidation lock).
 *
 * Departures:
 *  - An entry is one word: an unmapped mapping's allocator block (its
 *    address and order; see flushq.h), which is both what is invalidated
 *    and what is given back.  Only single allocator-chosen mappings are
 *    queued (lib/map.c), and a queue's slots (lib/slots.c: released to
 *    their set, not to the allocator); anything else is invalidated at
 *    once.
 *  - The push is a restartable sequence (rseq.h: ivm_rseq_pair_push) on the
 *    CPU's ring, so an unmap adds no atomic read-modify-write and no lock
 *    for its queue.  Each CPU slot holds two rings, like the magazine
 *    cache's loaded and prev: pushes go to ring[cur]; ring[cur ^ 1] is
 *    always an empty ring when the slot is unlocked.  A full ring is taken
 *    by flipping cur (a store that commits only on the slot's CPU, which
 *    retires every push that read the old cur) or, from another CPU (the
 *    timeout poll, flush_all), by fencing that CPU after taking the slot
 *    lock; the taken ring is replaced by the slot's spare.  Where rseq is
 *    unusable (ThreadSanitizer builds, other architectures, kernels
 *    without membarrier's rseq fence) the same structure is used under
 *    the slot lock.
 *  - A flush invalidates the span of the entries it took (lowest to
 *    highest address) as one range when that span is at most
 *    FLUSHQ_SPAN_SLACK times the pages the entries cover: a CPU's
 *    addresses come from its own magazines, so they usually sit close
 *    together, and invalidating a few live pages in between only costs
 *    their next IOTLB miss.  Otherwise the entries are sorted and merged
 *    where adjacent or overlapping, each merged range invalidated through
 *    the backend's add_range, and past FLUSHQ_DOMAIN_WIDE_RANGES ranges
 *    one domain-wide flush is done instead.  Linux flushes the whole IOTLB
 *    every time.
 *  - No start/finish counters: a flush takes its entries out of the queue
 *    before it issues their invalidations, and gives their addresses back
 *    after the backend's sync returned.  The sync that covers an entry
 *    therefore began after the entry was queued and finished before its
 *    addresses are reused, which is the property the counters establish in
 *    Linux.  Entries queued meanwhile wait for the next flush.
 *  - The timeout is driven by a call (flushq_poll, public ivm_flush_poll)
 *    that a poll-mode driver puts in its loop, or by an optional thread.
 *    A ring's age is the time of the push that found it empty (read back
 *    after the push: one clock read per batch, not per unmap).
 *
 * Invariants:
 *  1. An entry's logical addresses are given back only after a backend
 *     sync that began after the entry was taken out of its ring, and the
 *     entry's range was queued to that sync (add_range) or the sync was a
 *     domain-wide flush.
 *  2. Pushes (rseq sections, or the locked path) write only ring[cur] of
 *     their slot and its state word.  Everything else in a slot -- cur,
 *     ring[cur ^ 1], the spare -- changes only under the slot lock; ring[cur]
 *     is taken under the lock only after every push that could still write
 *     it was retired (flip on the CPU, or fence).
 *  3. When the slot lock is free, ring[cur ^ 1] is an empty ring.
 *  4. An entry is in exactly one place: a ring, or the batch of exactly
 *     one flusher.
 *
 * Concurrency:
 *   flushq_push          | with everything (no lock unless the ring is
 *                        | full; the locked path: the slot lock)
 *   flushq_poll / _flush_all | with everything; each batch has one owner
 *
 * Build option broken_free_before_sync (tests only, lib/map.c) breaks
 * invariant 1 on purpose: the unmap gives its addresses back at once and
 * only queues the invalidation.  The invariant test must fail in that
 * build (tests/meson.build declares it should_fail).
 */
#include "flushq.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atomics.h"
#include "cpu.h"
#include "domain.h"
#include "mem.h"
#include "rseq.h"
#include "slots.h"
#include "spinlock.h"
#include "util.h"

/* More distinct ranges than this in one flush: one domain-wide flush. */
#define FLUSHQ_DOMAIN_WIDE_RANGES 64u
/* A batch whose span is at most this many times its pages (plus one
 * leaf table's worth) is invalidated as one range. */
#define FLUSHQ_SPAN_SLACK 4u
#define FLUSHQ_SPAN_MIN_PAGES 512u
/* Slots are 1 << FLUSHQ_SLOT_SHIFT bytes apart (rseq.h's layout: the
 * lock word first): the lock and rings in the first 128 bytes (every push
 * writes them), oldest_ns in the second (every poll of every thread reads
 * it); 128 because the adjacent-line prefetcher pulls lines in pairs. */
#define FLUSHQ_SLOT_SHIFT 8

/* A ring: rseq.h's stack object (its first 16 bytes are ours). */
struct flushq_ring {
	struct flushq_ring *next; /* unused; the header rseq.h leaves us */
	uint64_t pad;
	uint64_t items[];
};
_Static_assert(offsetof(struct flushq_ring, items) == IVM_RSEQ_ITEMS_OFFSET,
	       "rseq.h layout");

struct flushq_cpu {
	ivm_spinlock lock;                  /* rseq.h: the lock word, first */
	struct ivm_rseq_stack_pair pair;    /* the rings (invariant 2) */
	struct flushq_ring *spare;          /* lock; NULL while a flusher
					       uses it */
	/* Push time of the oldest entry, 0 when none is noted.  Written
	 * once per batch; read by every poll, which therefore touches no
	 * line a push writes (a poll on one CPU used to pull the other
	 * CPU's rings line on every call). */
	_Alignas(128) _Atomic uint64_t oldest_ns;
} __attribute__((aligned(1u << FLUSHQ_SLOT_SHIFT)));
_Static_assert(sizeof(struct flushq_cpu) == 1u << FLUSHQ_SLOT_SHIFT,
	       "one slot per shift");
_Static_assert(offsetof(struct flushq_cpu, lock) == 0, "rseq.h layout");

#define PAIR_OFFSET offsetof(struct flushq_cpu, pair)

/* ---- entries ---------------------------------------------------------------- */

static inline ivm_la entry_la(uint64_t e)
{
	return e & ~(uint64_t)IVM_PAGE_MASK;
}

static inline unsigned entry_order(uint64_t e)
{
	return (unsigned)(e & FLUSHQ_ORDER_MASK);
}

static inline uint64_t entry_pages(uint64_t e)
{
	return 1ull << entry_order(e);
}

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* ---- rings -------------------------------------------------------------------- */

static size_t ring_bytes(const struct flushq *fq)
{
	return sizeof(struct flushq_ring) + fq->capacity * sizeof(uint64_t);
}

static struct flushq_ring *ring_alloc(const struct flushq *fq)
{
	return ivm_mem_zalloc(ring_bytes(fq), _Alignof(struct flushq_ring));
}

static void ring_free(const struct flushq *fq, struct flushq_ring *r)
{
	if (r)
		ivm_mem_free(r, ring_bytes(fq), _Alignof(struct flushq_ring));
}

static inline unsigned state_depth(const _Atomic uint64_t *state)
{
	return (unsigned)ivm_rseq_depth(ivm_load_relaxed(state));
}

/* Entries in both rings of s (relaxed: true at some instant). */
static unsigned slot_depth(const struct flushq_cpu *s)
{
	return state_depth(&s->pair.state[0]) + state_depth(&s->pair.state[1]);
}

/* ---- flushing ----------------------------------------------------------------- */

/* oldest_ns: when the batch's first entry was queued.  The wait counted
 * is n times that entry's (an upper bound: one clock read per batch, not
 * one per unmap). */
static void give_back(struct flushq *fq, const uint64_t *batch, unsigned n,
		      uint64_t oldest_ns, uint64_t now)
{
	uint64_t others = 0; /* the flags of entries not given back */

	for (unsigned i = 0; i < n; i++) {
		if (batch[i] & FLUSHQ_GIVE)
			domain_give_space(fq->domain, entry_la(batch[i]),
					  entry_pages(batch[i]), true);
		else
			others |= batch[i];
	}
	if (others & FLUSHQ_SLOT)
		slots_release(fq->domain, batch, n);
	ivm_counter_add(&fq->entries, n);
	if (n > 0 && oldest_ns != 0 && now > oldest_ns)
		ivm_counter_add(&fq->wait_ns, n * (now - oldest_ns));
}

/*
 * Coalescing: in a batch sorted by address, the entries from i on that
 * overlap or touch the first one's range make one range [start, end).
 * Returns the index after them.
 */
static unsigned merged_range(const uint64_t *batch, unsigned n, unsigned i,
			     ivm_la *start_out, ivm_la *end_out)
{
	ivm_la start = entry_la(batch[i]);
	ivm_la end = start + (entry_pages(batch[i]) << IVM_PAGE_SHIFT);

	for (i++; i < n && entry_la(batch[i]) <= end; i++) {
		ivm_la e = entry_la(batch[i]) +
			   (entry_pages(batch[i]) << IVM_PAGE_SHIFT);
		if (e > end)
			end = e;
	}
	if (start_out) {
		*start_out = start;
		*end_out = end;
	}
	return i;
}

/* The lowest and highest address a batch touches, and its pages. */
static void batch_span(const uint64_t *batch, unsigned n, ivm_la *lo_out,
		       ivm_la *hi_out, uint64_t *pages_out)
{
	ivm_la lo = UINT64_MAX, hi = 0;
	uint64_t pages = 0;

	for (unsigned i = 0; i < n; i++) {
		ivm_la la = entry_la(batch[i]);
		ivm_la end = la + (entry_pages(batch[i]) << IVM_PAGE_SHIFT);
		if (la < lo)
			lo = la;
		if (end > hi)
			hi = end;
		pages += entry_pages(batch[i]);
	}
	*lo_out = lo;
	*hi_out = hi;
	*pages_out = pages;
}

/*
 * Invalidate a batch taken out of the rings, then give its addresses back
 * (invariant 1).  domain_wide forces one domain-wide flush.
 */
static void flush_batch(struct flushq *fq, uint64_t *batch, unsigned n,
			bool domain_wide, uint64_t oldest_ns)
{
	struct ivm_domain *d = fq->domain;
	uint64_t ranges = 0;

	if (n == 0 && !domain_wide)
		return;
	if (!domain_wide) {
		ivm_la lo, hi;
		uint64_t pages;
		batch_span(batch, n, &lo, &hi, &pages);
		if (((hi - lo) >> IVM_PAGE_SHIFT) <=
		    FLUSHQ_SPAN_SLACK * pages + FLUSHQ_SPAN_MIN_PAGES) {
			/* One range covers the batch (top of the file). */
			d->be_ops->add_range(d->be, lo,
					     (hi - lo) >> IVM_PAGE_SHIFT, true);
			domain_backend_sync(d);
			ivm_counter_add(&fq->ranges, 1);
			ivm_counter_add(&fq->batches, 1);
			give_back(fq, batch, n, oldest_ns, ivm_coarse_now_ns());
			return;
		}
		qsort(batch, n, sizeof(*batch), by_value); /* by address */
		for (unsigned i = 0; i < n; ranges++)
			i = merged_range(batch, n, i, NULL, NULL);
		domain_wide = ranges > FLUSHQ_DOMAIN_WIDE_RANGES;
	}
	if (domain_wide) {
		domain_backend_flush_all(d);
		ivm_counter_add(&fq->domain_wide, 1);
	} else {
		for (unsigned i = 0; i < n;) {
			ivm_la start, end;
			i = merged_range(batch, n, i, &start, &end);
			d->be_ops->add_range(d->be, start,
					     (end - start) >> IVM_PAGE_SHIFT, true);
		}
		domain_backend_sync(d);
		ivm_counter_add(&fq->ranges, ranges);
	}
	if (n > 0)
		ivm_counter_add(&fq->batches, 1);
	give_back(fq, batch, n, oldest_ns, ivm_coarse_now_ns());
}

/* ---- taking a ring out of a slot (slot lock held) ---------------------------- */

/* What a take removed from a slot: flush taken->items[0 .. n), then hand
 * the ring back (put_ring). */
struct taken {
	struct flushq_ring *ring;
	unsigned n;
	uint64_t oldest_ns;
};

/*
 * Take ring[cur] of slot s (CPU k) out, leaving an empty ring[cur] and an
 * empty ring[cur ^ 1] behind.  Slot lock held.  On the rseq path every
 * push that could still write ring[cur] is retired first: by flipping cur
 * with a store that commits only on CPU k (the common case: the thread
 * whose push found the ring full runs there), else by fencing CPU k.
 * Returns false, having changed nothing, when a replacement ring is
 * needed and there is no memory for one; the caller then flushes ring[cur]
 * in place (flush_in_place).
 */
static bool take_locked(struct flushq *fq, struct flushq_cpu *s, unsigned k,
			struct taken *out)
{
	struct ivm_rseq_stack_pair *p = &s->pair;
	struct flushq_ring *fresh = s->spare;

	if (!fresh && !(fresh = ring_alloc(fq)))
		return false;
	s->spare = NULL;

	unsigned old = (unsigned)p->cur;
	if (fq->rseq) {
		enum ivm_rseq_result r;
		while ((r = ivm_rseq_store_on_cpu(&p->cur, old ^ 1, k)) ==
		       IVM_RSEQ_RESTART)
			;
		if (r != IVM_RSEQ_DONE)
			ivm_rseq_fence_cpu(k); /* retires pushes on CPU k */
	}
	/* Invariant 2: nothing writes ring[old] now. */
	out->ring = p->stack[old];
	out->n = state_depth(&p->state[old]);
	out->oldest_ns = ivm_load_relaxed(&s->oldest_ns);
	p->stack[old] = fresh;
	/* The entries leave the ring's count for in_flight's until the flush
	 * counts them released.  Release: orders the add before the emptied
	 * depth; pairs with flushq_depth's acquire fence. */
	ivm_counter_add(&fq->in_flight, out->n);
	ivm_store_release(&p->state[old], 0);
	ivm_store_relaxed(&s->oldest_ns, 0);
	/* Flipped: pushes may already have landed in the new ring while
	 * state[old] still counted, so none of them noted its time; start
	 * its clock here (note_push_time covers the pushes after). */
	if (slot_depth(s) != 0)
		ivm_store_relaxed(&s->oldest_ns, ivm_coarse_now_ns());
	/* Flipped: cur now names the empty ring[old ^ 1] and ring[old] is the
	 * fresh one (invariant 3 holds).  Fenced: cur still names old, now
	 * fresh. */
	return true;
}

/* No memory for a replacement ring: flush ring[cur] under the lock and
 * reuse it (pushes on that CPU wait for the lock meanwhile; rare). */
static unsigned flush_in_place(struct flushq *fq, struct flushq_cpu *s,
			       unsigned k, bool domain_wide)
{
	struct ivm_rseq_stack_pair *p = &s->pair;
	unsigned cur = (unsigned)p->cur;

	if (fq->rseq)
		ivm_rseq_fence_cpu(k);
	unsigned n = state_depth(&p->state[cur]);
	struct flushq_ring *r = p->stack[cur];
	flush_batch(fq, r->items, n, domain_wide,
		    ivm_load_relaxed(&s->oldest_ns));
	/* Release: the released count before the emptied depth; pairs
	 * with flushq_depth's acquire fence. */
	ivm_store_release(&p->state[cur], 0);
	ivm_store_relaxed(&s->oldest_ns, 0);
	return n;
}

/* Hand a flushed ring back to slot s as its spare. */
static void put_ring(struct flushq *fq, struct flushq_cpu *s,
		     struct flushq_ring *r)
{
	ivm_spin_lock(&s->lock);
	if (!s->spare) {
		s->spare = r;
		r = NULL;
	}
	ivm_spin_unlock(&s->lock);
	ring_free(fq, r);
}

/* n taken entries were flushed and counted released: no longer in
 * flight.  Release: orders give_back's count of them before; pairs with
 * flushq_depth's acquire load of in_flight. */
static void taken_done(struct flushq *fq, uint64_t n)
{
	ivm_fetch_sub_release(&fq->in_flight, n);
}

/* Flush what a take removed from slot s, and hand its ring back. */
static void flush_taken(struct flushq *fq, struct flushq_cpu *s,
			struct taken *t)
{
	flush_batch(fq, t->ring->items, t->n, false, t->oldest_ns);
	taken_done(fq, t->n);
	put_ring(fq, s, t->ring);
}

/* ---- init / fini ------------------------------------------------------------ */

/* Free the rings of the first n slots and the slot array. */
static void free_slots(struct flushq *fq, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct flushq_cpu *s = &fq->slots[i];
		ring_free(fq, s->pair.stack[0]);
		ring_free(fq, s->pair.stack[1]);
		ring_free(fq, s->spare);
	}
	ivm_mem_free(fq->slots, fq->nslots * sizeof(struct flushq_cpu),
		     _Alignof(struct flushq_cpu));
	fq->slots = NULL;
}

static void *flush_thread_main(void *arg)
{
	struct flushq *fq = arg;
	struct timespec nap = {
		.tv_sec = (time_t)(fq->timeout_ns / 2 / 1000000000ull),
		.tv_nsec = (long)(fq->timeout_ns / 2 % 1000000000ull),
	};

	while (!atomic_load_explicit(&fq->stop, memory_order_acquire)) {
		nanosleep(&nap, NULL);
		flushq_poll(fq);
	}
	return NULL;
}

ivm_status flushq_init(struct flushq *fq, struct ivm_domain *d,
		       const struct ivm_domain_config *config)
{
	memset(fq, 0, sizeof(*fq));
	fq->domain = d;
	fq->nslots = ivm_cpu_slots();
	fq->capacity = config->flush_queue_size ? config->flush_queue_size
						: IVM_DEFAULT_FLUSH_QUEUE_SIZE;
	IVM_ASSERT(fq->capacity <= IVM_RSEQ_DEPTH_MASK);
	fq->timeout_ns = 1000ull * (config->flush_timeout_us
				    ? config->flush_timeout_us
				    : IVM_DEFAULT_FLUSH_TIMEOUT_US);
	fq->rseq = ivm_rseq_usable();
	fq->slots = ivm_mem_zalloc(fq->nslots * sizeof(struct flushq_cpu),
				   _Alignof(struct flushq_cpu));
	if (!fq->slots)
		return IVM_STATUS_INSUFFICIENT_RESOURCES;
	unsigned i;
	for (i = 0; i < fq->nslots; i++) {
		struct flushq_cpu *s = &fq->slots[i];
		s->pair.stack[0] = ring_alloc(fq);
		s->pair.stack[1] = ring_alloc(fq);
		s->spare = ring_alloc(fq);
		if (!s->pair.stack[0] || !s->pair.stack[1] || !s->spare) {
			i++; /* free this slot's rings too */
			goto err_slots;
		}
	}
	if (config->flush_thread) {
		if (pthread_create(&fq->thread, NULL, flush_thread_main, fq) != 0)
			goto err_slots;
		fq->has_thread = true;
	}
	return IVM_STATUS_SUCCESS;

err_slots:
	free_slots(fq, i);
	return IVM_STATUS_INSUFFICIENT_RESOURCES;
}

void flushq_fini(struct flushq *fq)
{
	if (!fq->slots)
		return;
	if (fq->has_thread) {
		atomic_store_explicit(&fq->stop, true, memory_order_release);
		pthread_join(fq->thread, NULL);
	}
	for (unsigned i = 0; i < fq->nslots; i++)
		IVM_ASSERT(slot_depth(&fq->slots[i]) == 0);
	free_slots(fq, fq->nslots);
}

/* ---- push ------------------------------------------------------------------- */

/* After a push: the push that found its rings empty notes the time (one
 * clock read per batch).  Racy by design: a stale note only moves one
 * timeout. */
static inline void note_push_time(struct flushq *fq, struct flushq_cpu *s)
{
	if (ivm_unlikely(slot_depth(s) == 1) &&
	    ivm_load_relaxed(&s->oldest_ns) == 0)
		ivm_store_relaxed(&s->oldest_ns, ivm_coarse_now_ns());
}

/* The locked push (no rseq, or ring[cur] full, or a CPU number past the
 * slots).  Returns true when the entry was queued; false when the caller
 * should try the rseq push again (a full ring was taken). */
ivm_noinline static bool push_locked(struct flushq *fq, uint64_t entry)
{
	unsigned k = ivm_current_cpu(fq->nslots);
	struct flushq_cpu *s = &fq->slots[k];
	struct ivm_rseq_stack_pair *p = &s->pair;
	struct taken t;

	ivm_spin_lock(&s->lock);
	unsigned cur = (unsigned)p->cur;
	unsigned depth = state_depth(&p->state[cur]);
	if (depth < fq->capacity) {
		/* The locked path, or an rseq miss with room left (a CPU
		 * number past the slots, which ivm_current_cpu folded into k,
		 * or a ring another thread took meanwhile): queue under the
		 * lock, after fencing k like a cross-CPU take (invariant 2). */
		if (fq->rseq)
			ivm_rseq_fence_cpu(k);
		((struct flushq_ring *)p->stack[cur])->items[depth] = entry;
		ivm_store_relaxed(&p->state[cur], (uint64_t)depth + 1);
		ivm_spin_unlock(&s->lock);
		note_push_time(fq, s);
		return true;
	}
	/* Full: take it, and flush it outside the lock. */
	if (!take_locked(fq, s, k, &t)) {
		flush_in_place(fq, s, k, false);
		ivm_spin_unlock(&s->lock);
		return false;
	}
	ivm_spin_unlock(&s->lock);
	flush_taken(fq, s, &t);
	return false;
}

/* Inlined into each caller by link-time optimisation (the allocator
 * unmap's and the slots' unmap): with two callers GCC's heuristics
 * stopped inlining it, a call on every lazy unmap.  GCC warns that an
 * always_inline function without `inline` might not be inlinable in its
 * own unit; `inline` with external linkage would forbid the static
 * helpers it calls (C11 6.7.4). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wattributes"
#endif
__attribute__((always_inline)) void
flushq_push(struct flushq *fq, ivm_la la, unsigned order, uint64_t how)
{
	uint64_t entry = la | order | how;

	IVM_ASSERT(ivm_page_aligned(la) && order <= FLUSHQ_ORDER_MASK &&
		   (how & ~(FLUSHQ_GIVE | FLUSHQ_SLOT)) == 0);
	for (;;) {
		if (ivm_likely(fq->rseq)) {
			enum ivm_rseq_result r = ivm_rseq_pair_push(
				fq->slots, FLUSHQ_SLOT_SHIFT, fq->nslots,
				PAIR_OFFSET, fq->capacity, entry);
			if (ivm_likely(r == IVM_RSEQ_DONE)) {
				note_push_time(
					fq, &fq->slots[ivm_current_cpu(fq->nslots)]);
				return;
			}
			if (r == IVM_RSEQ_RESTART)
				continue;
			if (r == IVM_RSEQ_BUSY) {
				ivm_spin_wait_unlocked(
					&fq->slots[ivm_current_cpu(fq->nslots)].lock);
				continue;
			}
		}
		if (push_locked(fq, entry))
			return;
	}
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* ---- poll / flush_all / depth ------------------------------------------------ */

/* Flush slot k if its oldest entry is due; returns entries. */
static uint64_t flush_slot(struct flushq *fq, unsigned k, uint64_t due_before)
{
	struct flushq_cpu *s = &fq->slots[k];
	struct taken t;

	ivm_spin_lock(&s->lock);
	uint64_t oldest = ivm_load_relaxed(&s->oldest_ns);
	if (state_depth(&s->pair.state[s->pair.cur]) == 0 || oldest == 0 ||
	    oldest > due_before) {
		ivm_spin_unlock(&s->lock);
		return 0;
	}
	if (!take_locked(fq, s, k, &t)) {
		unsigned n = flush_in_place(fq, s, k, false);
		ivm_spin_unlock(&s->lock);
		return n;
	}
	ivm_spin_unlock(&s->lock);
	flush_taken(fq, s, &t);
	return t.n;
}

uint64_t flushq_poll(struct flushq *fq)
{
	uint64_t now = ivm_coarse_now_ns();
	uint64_t released = 0;

	if (now < fq->timeout_ns)
		return 0;
	/* Once per timeout, also look at the rings of slots with no time
	 * noted, in case a push's note was lost to a race (note_push_time
	 * and take_locked make that rare); otherwise a poll reads only the
	 * oldest_ns lines, which pushes do not write. */
	bool check_depths = now - ivm_load_relaxed(&fq->depth_check_ns) >=
			    fq->timeout_ns;
	if (check_depths)
		ivm_store_relaxed(&fq->depth_check_ns, now);
	for (unsigned k = 0; k < fq->nslots; k++) {
		struct flushq_cpu *s = &fq->slots[k];
		uint64_t oldest = ivm_load_relaxed(&s->oldest_ns);
		if (oldest == 0) {
			/* The common case: nothing queued. */
			if (check_depths && slot_depth(s) != 0)
				ivm_store_relaxed(&s->oldest_ns, now);
			continue;
		}
		if (oldest > now - fq->timeout_ns)
			continue;
		released += flush_slot(fq, k, now - fq->timeout_ns);
	}
	return released;
}

uint64_t flushq_flush_all(struct flushq *fq)
{
	size_t cap = (size_t)fq->capacity * fq->nslots;
	uint64_t *batch = malloc(cap * sizeof(*batch));
	uint64_t released = 0, oldest = 0;
	unsigned n = 0;

	for (unsigned k = 0; k < fq->nslots; k++) {
		struct flushq_cpu *s = &fq->slots[k];
		struct taken t;

		ivm_spin_lock(&s->lock);
		if (!batch || !take_locked(fq, s, k, &t)) {
			/* No memory: this slot in place, domain-wide. */
			released += flush_in_place(fq, s, k, true);
			ivm_spin_unlock(&s->lock);
			continue;
		}
		ivm_spin_unlock(&s->lock);
		memcpy(batch + n, t.ring->items, t.n * sizeof(*batch));
		n += t.n;
		if (t.oldest_ns != 0 && (oldest == 0 || t.oldest_ns < oldest))
			oldest = t.oldest_ns;
		put_ring(fq, s, t.ring);
	}
	if (batch) {
		/* Every ring was taken before this one domain-wide flush,
		 * which covers them all (and every other cached translation,
		 * as ivm_flush_domain promises). */
		flush_batch(fq, batch, n, true, oldest);
		taken_done(fq, n);
		free(batch);
	}
	return released + n;
}

uint64_t flushq_depth(const struct flushq *fq)
{
	uint64_t depth = 0;
	if (!fq->slots)
		return 0;
	for (unsigned k = 0; k < fq->nslots; k++)
		depth += slot_depth(&fq->slots[k]);
	/* A ring seen emptied by a take or an in-place flush (their release
	 * stores) shows its entries here or in the released count, which the
	 * caller reads after: never in neither. */
	ivm_fence_acquire();
	return depth + ivm_load_acquire(&fq->in_flight);
}
