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
 *    (under the slot lock) before it issues their invalidations, and gives
 *    their addresses back after the backend's sync returned.  The sync
 *    that covers an entry therefore began after the entry was queued and
 *    finished before its addresses are reused, which is the property the
 *    counters establish in Linux.  Entries queued meanwhile wait for the
 *    next flush.
 *  - The timeout is driven by a call (flushq_poll, public ivm_flush_poll)
 *    that a poll-mode driver puts in its loop, or by an optional thread.
 *
 * Invariants:
 *  1. An entry's logical addresses are given back only after a backend
 *     sync that began after the entry was taken out of its queue, and the
 *     entry's range was queued to that sync (add_range) or the sync was a
 *     domain-wide flush.
 *  2. A slot's ring and count change only under the slot's lock; oldest_ns
 *     is written under it and read without it (a stale read only delays or
 *     advances one poll's decision).
 *  3. An entry is in exactly one place: a ring, or the batch of exactly one
 *     flusher.
 *
 * Concurrency:
 *   flushq_push          | with everything (slot lock, uncontended unless
 *                        | a thread migrates or a flusher holds the slot)
 *   flushq_poll / _flush_all | with everything; each batch has one owner
 *
 * Build option broken_free_before_sync (tests only, lib/map.c) breaks
 * invariant 1 on purpose: the unmap gives its addresses back at once and
 * only queues the invalidation.  The invariant test must fail in that
 * build (tests/meson.build declares it should_fail).
 */
#include "flushq.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atomics.h"
#include "cpu.h"
#include "domain.h"
#include "mem.h"
#include "spinlock.h"
#include "util.h"

/* More distinct ranges than this in one flush: one domain-wide flush. */
#define FLUSHQ_DOMAIN_WIDE_RANGES 64u
/* A batch whose span is at most this many times its pages (plus one
 * leaf table's worth) is invalidated as one range. */
#define FLUSHQ_SPAN_SLACK 4u
#define FLUSHQ_SPAN_MIN_PAGES 512u

struct flushq_entry {
	ivm_la la;            /* invalidate [la, la + pages) */
	uint64_t pages;
	uint64_t give_pages;  /* then give [la, la + give_pages) back */
	bool block;
};

struct flushq_cpu {
	ivm_spinlock lock;
	unsigned count;               /* lock */
	struct flushq_entry *ring;    /* capacity entries; lock */
	_Atomic uint64_t oldest_ns;   /* queue time of ring[0], 0 when empty;
				         written under lock */
} __attribute__((aligned(64)));

#define slot_lock(s) ivm_spin_lock(&(s)->lock)
#define slot_unlock(s) ivm_spin_unlock(&(s)->lock)

static int by_la(const void *a, const void *b)
{
	const struct flushq_entry *x = a, *y = b;
	return x->la < y->la ? -1 : x->la > y->la;
}

/* oldest_ns: when the batch's first entry was queued.  The wait counted
 * is n times that entry's (an upper bound: one clock read per batch, not
 * one per unmap). */
static void give_back(struct flushq *fq, struct flushq_entry *batch,
		      unsigned n, uint64_t oldest_ns, uint64_t now)
{
	for (unsigned i = 0; i < n; i++)
		domain_give_space(fq->domain, batch[i].la, batch[i].give_pages,
				  batch[i].block);
	ivm_counter_add(&fq->entries, n);
	if (n > 0 && oldest_ns != 0 && now > oldest_ns)
		ivm_counter_add(&fq->wait_ns, n * (now - oldest_ns));
}

/* The lowest and highest address a batch touches, and its pages. */
static void batch_span(const struct flushq_entry *batch, unsigned n,
		       ivm_la *lo_out, ivm_la *hi_out, uint64_t *pages_out)
{
	ivm_la lo = UINT64_MAX, hi = 0;
	uint64_t pages = 0;

	for (unsigned i = 0; i < n; i++) {
		ivm_la end = batch[i].la + (batch[i].pages << IVM_PAGE_SHIFT);
		if (batch[i].la < lo)
			lo = batch[i].la;
		if (end > hi)
			hi = end;
		pages += batch[i].pages;
	}
	*lo_out = lo;
	*hi_out = hi;
	*pages_out = pages;
}

/*
 * Coalescing: in a batch sorted by address, the entries from i on that
 * overlap or touch the first one's range make one range [start, end).
 * Returns the index after them.
 */
static unsigned merged_range(const struct flushq_entry *batch, unsigned n,
			     unsigned i, ivm_la *start_out, ivm_la *end_out)
{
	ivm_la start = batch[i].la;
	ivm_la end = start + (batch[i].pages << IVM_PAGE_SHIFT);

	for (i++; i < n && batch[i].la <= end; i++) {
		ivm_la e = batch[i].la + (batch[i].pages << IVM_PAGE_SHIFT);
		if (e > end)
			end = e;
	}
	if (start_out) {
		*start_out = start;
		*end_out = end;
	}
	return i;
}

/*
 * Invalidate a batch taken out of the queues, then give its addresses
 * back (invariant 1).  domain_wide forces one domain-wide flush.
 */
static void flush_batch(struct flushq *fq, struct flushq_entry *batch,
			unsigned n, bool domain_wide, uint64_t oldest_ns)
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
			d->be_ops->sync(d->be);
			ivm_counter_add(&fq->ranges, 1);
			ivm_counter_add(&fq->batches, 1);
			give_back(fq, batch, n, oldest_ns, ivm_coarse_now_ns());
			return;
		}
		qsort(batch, n, sizeof(*batch), by_la);
		for (unsigned i = 0; i < n; ranges++)
			i = merged_range(batch, n, i, NULL, NULL);
		domain_wide = ranges > FLUSHQ_DOMAIN_WIDE_RANGES;
	}
	if (domain_wide) {
		d->be_ops->flush_all(d->be);
		ivm_counter_add(&fq->domain_wide, 1);
	} else {
		for (unsigned i = 0; i < n;) {
			ivm_la start, end;
			i = merged_range(batch, n, i, &start, &end);
			d->be_ops->add_range(d->be, start,
					     (end - start) >> IVM_PAGE_SHIFT, true);
		}
		d->be_ops->sync(d->be);
		ivm_counter_add(&fq->ranges, ranges);
	}
	if (n > 0)
		ivm_counter_add(&fq->batches, 1);
	give_back(fq, batch, n, oldest_ns, ivm_coarse_now_ns());
}

/* Move a slot's entries into batch (which has capacity entries); returns
 * how many.  Slot lock held. */
static unsigned take_locked(struct flushq *fq, struct flushq_cpu *s,
			    struct flushq_entry *batch)
{
	unsigned n = s->count;
	memcpy(batch, s->ring, n * sizeof(*batch));
	s->count = 0;
	ivm_store_relaxed(&s->oldest_ns, 0);
	return n;
}

/* Free the first n slots (initialised) and the slot array. */
static void free_slots(struct flushq *fq, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		ivm_mem_free(fq->slots[i].ring,
			     fq->capacity * sizeof(struct flushq_entry),
			     _Alignof(struct flushq_entry));
	}
	ivm_mem_free(fq->slots, fq->nslots * sizeof(struct flushq_cpu), 64);
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
	fq->timeout_ns = 1000ull * (config->flush_timeout_us
				    ? config->flush_timeout_us
				    : IVM_DEFAULT_FLUSH_TIMEOUT_US);
	fq->slots = ivm_mem_zalloc(fq->nslots * sizeof(struct flushq_cpu), 64);
	if (!fq->slots)
		return IVM_STATUS_INSUFFICIENT_RESOURCES;
	unsigned i;
	for (i = 0; i < fq->nslots; i++) {
		struct flushq_cpu *s = &fq->slots[i];
		s->ring = ivm_mem_zalloc(fq->capacity * sizeof(struct flushq_entry),
					 _Alignof(struct flushq_entry));
		if (!s->ring)
			goto err_slots;
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
		IVM_ASSERT(fq->slots[i].count == 0);
	free_slots(fq, fq->nslots);
}

void flushq_push(struct flushq *fq, ivm_la la, uint64_t pages,
		 uint64_t give_pages, bool block)
{
	struct flushq_cpu *s = &fq->slots[ivm_current_cpu(fq->nslots)];
	struct flushq_entry *batch = NULL;
	uint64_t oldest = 0;
	unsigned n = 0;

	slot_lock(s);
	if (ivm_unlikely(s->count == fq->capacity)) {
		/* Full: take everything and flush it below, outside the lock.
		 * The batch buffer is allocated only here; without memory the
		 * queue is flushed in place, under the lock (rare, slower). */
		batch = malloc(fq->capacity * sizeof(*batch));
		oldest = ivm_load_relaxed(&s->oldest_ns);
		if (batch) {
			n = take_locked(fq, s, batch);
		} else {
			flush_batch(fq, s->ring, s->count, false, oldest);
			s->count = 0;
			ivm_store_relaxed(&s->oldest_ns, 0);
		}
	}
	struct flushq_entry *e = &s->ring[s->count++];
	e->la = la;
	e->pages = pages;
	e->give_pages = give_pages;
	e->block = block;
	if (s->count == 1) /* the clock is read once per batch */
		ivm_store_relaxed(&s->oldest_ns, ivm_coarse_now_ns());
	slot_unlock(s);

	if (batch) {
		flush_batch(fq, batch, n, false, oldest);
		free(batch);
	}
}

/* Flush one slot if its oldest entry is due; returns entries. */
static uint64_t flush_slot(struct flushq *fq, struct flushq_cpu *s,
			   struct flushq_entry *batch, uint64_t due_before)
{
	/* Invariant 2: re-read under the lock. */
	slot_lock(s);
	uint64_t oldest = ivm_load_relaxed(&s->oldest_ns);
	if (oldest == 0 || oldest > due_before) {
		slot_unlock(s);
		return 0;
	}
	unsigned n = take_locked(fq, s, batch);
	slot_unlock(s);
	flush_batch(fq, batch, n, false, oldest);
	return n;
}

uint64_t flushq_poll(struct flushq *fq)
{
	uint64_t now = ivm_coarse_now_ns();
	uint64_t released = 0;
	struct flushq_entry *batch = NULL;

	if (now < fq->timeout_ns)
		return 0;
	for (unsigned i = 0; i < fq->nslots; i++) {
		uint64_t oldest = ivm_load_relaxed(&fq->slots[i].oldest_ns);
		if (oldest == 0 || oldest > now - fq->timeout_ns)
			continue; /* the common case: nothing due */
		if (!batch && !(batch = malloc(fq->capacity * sizeof(*batch))))
			return released; /* no memory: the next poll retries */
		released += flush_slot(fq, &fq->slots[i], batch,
				       now - fq->timeout_ns);
	}
	free(batch);
	return released;
}

uint64_t flushq_flush_all(struct flushq *fq)
{
	size_t cap = (size_t)fq->capacity * fq->nslots;
	struct flushq_entry *batch = malloc(cap * sizeof(*batch));
	uint64_t released = 0;

	if (!batch) {
		/* No memory for one batch: each queue in place, domain-wide. */
		for (unsigned i = 0; i < fq->nslots; i++) {
			struct flushq_cpu *s = &fq->slots[i];
			slot_lock(s);
			released += s->count;
			flush_batch(fq, s->ring, s->count, true,
				    ivm_load_relaxed(&s->oldest_ns));
			s->count = 0;
			ivm_store_relaxed(&s->oldest_ns, 0);
			slot_unlock(s);
		}
		return released;
	}
	/* Take every queue's entries, then one domain-wide flush covers them
	 * all (and every other cached translation, as ivm_flush_domain
	 * promises); the flush begins after every entry was taken. */
	unsigned n = 0;
	uint64_t oldest = 0;
	for (unsigned i = 0; i < fq->nslots; i++) {
		struct flushq_cpu *s = &fq->slots[i];
		slot_lock(s);
		uint64_t o = ivm_load_relaxed(&s->oldest_ns);
		if (o != 0 && (oldest == 0 || o < oldest))
			oldest = o;
		n += take_locked(fq, s, batch + n);
		slot_unlock(s);
	}
	flush_batch(fq, batch, n, true, oldest);
	free(batch);
	return n;
}

uint64_t flushq_depth(const struct flushq *fq)
{
	uint64_t depth = 0;
	if (!fq->slots)
		return 0;
	for (unsigned i = 0; i < fq->nslots; i++) {
		struct flushq_cpu *s = &fq->slots[i];
		slot_lock(s);
		depth += s->count;
		slot_unlock(s);
	}
	return depth;
}
