/* SPDX-License-Identifier: MIT */
/*
 * ops.c - the operations of iovamap-stress that change mappings: maps
 * (allocated, constrained, explicit), unmaps, identity maps and
 * reservations, and the slots behind them.  probes.c has the operations
 * that look (translate, model-device DMA), the flushes, the contests, the
 * malformed calls and the worker loop.
 *
 * Design source: the concurrent torture tests of liburcu (rcutorture's
 * "every reader checks what it read") and the exact-status checks of
 * iovamap's own unit tests, applied to the contract (map.h, reserve.h,
 * flush.h, swiommu.h).
 *
 * What each worker holds: up to MAX_LIVE mappings and MAX_RESV
 * reservations of its own, each mapping backed by one of its slots
 * (model.c); what it shares: recently mapped addresses, which every worker
 * translates and reads through the model device while their owners unmap
 * and remap them, and the contest entries.
 *
 * Checks made by the workers (probes.c, checks.c: the rest):
 *  1. Every status is one the call documents for the situation; a call
 *     that must succeed (an unmap of a live mapping of one's own, a map
 *     inside a reservation with no backend failure...) succeeds.
 *  2. A map that succeeds gives an address with the documented shape
 *     (explicit: the one asked for; allocated: aligned to its block,
 *     inside the window) and no page of it is held by another live
 *     mapping (the shadow, model.c).
 *  3. Translations and device accesses of one's own live mappings reach
 *     exactly the mapping's memory with its permissions; of others'
 *     (racing) mappings, a value some concurrent mapping gave
 *     (check_racing_translation), and never poisoned (freed) memory.
 *  4. A device access refused for permission moves no byte.
 *  5. A slot is reused only with its poison intact: no device wrote into
 *     freed memory.
 *  6. Of two unmaps of one mapping exactly one succeeds; the other gets
 *     INVALID_PARAMETER.
 *
 * A slot goes back to FREE (poisoned) as soon as no device may reach it:
 * after a strict unmap returned, or, for a lazily invalidated one, after
 * the worker's own next ivm_flush_domain returned (settle_quarantine).
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ops.h"

#define DA H.dom[DOM_A]

/* ---- small helpers ------------------------------------------------------------------ */

bool faults_on(void)
{
	return H.cfg.fault_rate > 0;
}

static unsigned order_of(uint64_t pages)
{
	unsigned o = 0;

	while ((1ull << o) < pages)
		o++;
	return o;
}

static uint32_t new_id(struct worker *w)
{
	w->seq++;
	return (uint32_t)(w->tid + 1) << 24 | (uint32_t)(w->seq & 0xffffff);
}

void tally(struct worker *w, enum op op, ivm_status st)
{
	struct op_count *c = &w->count[op];

	c->calls++;
	if (st == IVM_STATUS_SUCCESS)
		c->ok++;
	else if (st == IVM_STATUS_IN_USE)
		c->in_use++;
	else if (st == IVM_STATUS_INSUFFICIENT_RESOURCES)
		c->no_resources++;
	else
		c->refused++;
}

/* Check that st is one of set; report it otherwise. */
bool expect_in(const char *call, ivm_status st, const ivm_status *set,
	       size_t n)
{
	char want[256] = "";

	for (size_t i = 0; i < n; i++)
		if (st == set[i])
			return true;
	for (size_t i = 0; i < n; i++) {
		if (i)
			strncat(want, " or ", sizeof(want) - strlen(want) - 1);
		strncat(want, ivm_status_name(set[i]),
			sizeof(want) - strlen(want) - 1);
	}
	bad_status(call, st, want);
	return false;
}


/* INSUFFICIENT_RESOURCES where only an injected failure can cause it. */
ivm_status injected_or_success(void)
{
	return faults_on() ? IVM_STATUS_INSUFFICIENT_RESOURCES
			   : IVM_STATUS_SUCCESS;
}

uint32_t pick_perms(struct worker *w)
{
	uint64_t r = rng_below(&w->rng, 100);

	if (r < 80)
		return IVM_PERM_READ | IVM_PERM_WRITE;
	if (r < 90)
		return IVM_PERM_READ;
	if (r < 95)
		return IVM_PERM_WRITE;
	return 0;
}

unsigned pick_phys_type(struct worker *w)
{
	uint64_t r = rng_below(&w->rng, 100);

	return r < 60 ? IVM_PHYS_BUFFER : r < 85 ? IVM_PHYS_CONTIGUOUS
						 : IVM_PHYS_PFN_ARRAY;
}

/* 1 page half of the time, else 2..max. */
uint64_t pick_pages(struct worker *w, uint64_t max)
{
	if (max <= 1 || rng_below(&w->rng, 2) == 0)
		return 1;
	return 2 + rng_below(&w->rng, max - 1);
}

void make_phys(struct worker *w, struct slot *s, uint64_t pages,
	       unsigned type, struct ivm_phys *phys)
{
	memset(phys, 0, sizeof(*phys));
	phys->type = (enum ivm_phys_type)type;
	switch (type) {
	case IVM_PHYS_BUFFER:
		phys->buffer.va = s->mem;
		phys->buffer.size = pages * PAGE;
		break;
	case IVM_PHYS_CONTIGUOUS:
		phys->contiguous.base = (uint64_t)(uintptr_t)s->mem;
		phys->contiguous.size = pages * PAGE;
		break;
	default:
		for (uint64_t i = 0; i < pages; i++)
			w->pfns[i] = ((uint64_t)(uintptr_t)s->mem >> 12) + i;
		phys->pfn_array.pfns = w->pfns;
		phys->pfn_array.count = pages;
		break;
	}
}

bool unmap_strict(unsigned dom, unsigned kind)
{
	/* map.h / domain.h: only one allocator-chosen mapping is queued. */
	return !(dom == DOM_A && H.cfg.flush == IVM_FLUSH_LAZY &&
		 kind == K_ALLOC);
}

/* ---- slots --------------------------------------------------------------------------- */

/* Make every quarantined slot free: after the worker's own flush of A
 * returned, no device can reach their memory any more. */
void settle_quarantine(struct worker *w)
{
	ivm_status st = ivm_flush_domain(DA);
	if (st != IVM_STATUS_SUCCESS)
		bad_status("ivm_flush_domain", st, "IVM_STATUS_SUCCESS");
	for (unsigned p = 0; p < NPOOLS; p++)
		for (unsigned i = 0; i < w->pool_n[p]; i++) {
			struct slot *s = w->pool[p][i];
			if (s->life == SLOT_QUARANTINE) {
				slot_poison(s);
				s->life = SLOT_FREE;
			}
		}
}

static struct slot *find_free(struct worker *w, enum pool pool, bool *quarantined)
{
	unsigned n = w->pool_n[pool];
	unsigned start = n ? (unsigned)rng_below(&w->rng, n) : 0;

	*quarantined = false;
	for (unsigned k = 0; k < n; k++) {
		struct slot *s = w->pool[pool][(start + k) % n];
		if (s->life == SLOT_FREE)
			return s;
		if (s->life == SLOT_QUARANTINE)
			*quarantined = true;
	}
	return NULL;
}

struct slot *take_slot(struct worker *w, enum pool pool)
{
	bool quarantined;
	struct slot *s = find_free(w, pool, &quarantined);

	if (!s && quarantined) {
		w->forced_flushes++;
		settle_quarantine(w);
		s = find_free(w, pool, &quarantined);
	}
	if (!s)
		return NULL;
	uint64_t off;
	if (!slot_poison_intact(s, &off))
		violation("dma", "slot %u (memory 0x%llx) was written at offset "
			  "%llu while it was free: a device reached memory no "
			  "mapping named any more", s->id,
			  (unsigned long long)(uintptr_t)s->mem,
			  (unsigned long long)off);
	s->gen++;
	s->life = SLOT_BUSY;
	slot_fill(s);
	return s;
}

void release_slot(struct worker *w, struct slot *s, bool strict)
{
	(void)w;
	if (strict) {
		slot_poison(s);
		s->life = SLOT_FREE;
	} else {
		s->life = SLOT_QUARANTINE;
	}
}

/* ---- domain B's explicit window: what its callers must order ------------------ */

/*
 * Domain B has no allocator, so the library cannot keep a logical address
 * from being mapped again while its unmap is still invalidating it: the
 * contract (iovamap/domain.h, "Explicit ... mappings are always
 * invalidated strictly: their caller ... decides when an address is used
 * again, which may be right after the unmap returns") leaves that order to
 * the caller.  So here a map (or explicit reservation) of a range of B's
 * shared window never overlaps in time an unmap of an overlapping range;
 * maps racing maps, which the contract settles ("of two overlapping maps
 * exactly one wins"), stay unordered.
 *
 * Dekker's pattern per page: a mapper counts itself in (eb_attempts) and
 * then looks for an unmap in flight (eb_unmapping), an unmapper flags
 * itself and then waits for the attempts to drain.  Each side's count and
 * look are seq_cst (read-modify-write, then load), so in their single
 * total order at least one side sees the other.  (Not fences: GCC's
 * ThreadSanitizer refuses atomic_thread_fence.)  Mappers whose calls
 * overlap in time do not synchronise with each other: a seq_cst count
 * acquires only what came before the other mapper's own count, not its
 * map call, so ThreadSanitizer still sees racing maps as racing.  An
 * unmapper's wait acquires a mapper's count going down (release): that
 * map happened before the unmap, as the contract asks of a caller.
 */
static bool in_eb(unsigned dom, uint64_t first, uint64_t pages)
{
	return dom == DOM_B && first >= H.lay.eb &&
	       first + pages <= H.lay.eb + H.lay.eb_pages;
}

/* Add delta to counts[i0 .. i0 + pages) (one window page each), with
 * the given order; the callers say what it pairs with. */
static void eb_count(_Atomic uint32_t *counts, uint64_t i0, uint64_t pages,
		     int delta, memory_order order)
{
	for (uint64_t i = i0; i < i0 + pages; i++)
		atomic_fetch_add_explicit(&counts[i], (uint32_t)delta, order);
}

/* After a map / reserve that b_window_enter let through (or to count it
 * out again). */
static void b_window_exit(unsigned dom, uint64_t first, uint64_t pages)
{
	if (!in_eb(dom, first, pages))
		return;
	/* Release: the call before the count goes down (pairs with the
	 * acquire in b_unmap_begin). */
	eb_count(H.eb_attempts, first - H.lay.eb, pages, -1,
		 memory_order_release);
}

/* Before a map / reserve of [first, first + pages) on B: false (counted
 * out again) when an overlapping unmap is in flight; skip the call then. */
static bool b_window_enter(unsigned dom, uint64_t first, uint64_t pages)
{
	if (!in_eb(dom, first, pages))
		return true;
	uint64_t i0 = first - H.lay.eb;
	/* Dekker: our counts, then the look at the unmap flags, all seq_cst
	 * (pairs with b_unmap_begin). */
	eb_count(H.eb_attempts, i0, pages, 1, memory_order_seq_cst);
	for (uint64_t i = i0; i < i0 + pages; i++)
		if (atomic_load_explicit(&H.eb_unmapping[i],
					 memory_order_seq_cst)) {
			b_window_exit(dom, first, pages);
			return false;
		}
	return true;
}

static void b_unmap_begin(unsigned dom, uint64_t first, uint64_t pages)
{
	if (!in_eb(dom, first, pages))
		return;
	uint64_t i0 = first - H.lay.eb;
	/* Dekker: our flags, then the look at the attempts, all seq_cst
	 * (pairs with b_window_enter); seq_cst loads also acquire, pairing
	 * with b_window_exit's release. */
	eb_count(H.eb_unmapping, i0, pages, 1, memory_order_seq_cst);
	for (uint64_t i = i0; i < i0 + pages; i++)
		while (atomic_load_explicit(&H.eb_attempts[i],
					    memory_order_seq_cst) != 0)
			sched_yield(); /* a map call's worth of waiting */
}

static void b_unmap_end(unsigned dom, uint64_t first, uint64_t pages)
{
	if (!in_eb(dom, first, pages))
		return;
	/* Relaxed: the flag only keeps maps out while the unmap runs; the
	 * library itself orders the unmap before a later map of the same
	 * pages (the leaves' release clear, the map's CAS). */
	eb_count(H.eb_unmapping, first - H.lay.eb, pages, -1,
		 memory_order_relaxed);
}

/* ---- the live list ------------------------------------------------------------------ */

static struct live *add_live(struct worker *w)
{
	struct live *l = &w->live[w->nlive++];

	memset(l, 0, sizeof(*l));
	l->resv = -1;
	atomic_store_explicit(&w->live_now, w->nlive, memory_order_relaxed);
	return l;
}

/*
 * Record a mapping the library just made: a live entry owned by this
 * worker, the overlap shadow claimed over its footprint (shadow pages; 0
 * for none), and the slot and recent-address lists told.
 */
static struct live *note_mapped(struct worker *w, struct slot *s, int dom,
				int kind, uint32_t perms, ivm_la la,
				uint64_t pages, uint64_t footprint,
				uint64_t shadow, const char *what)
{
	struct live *l = add_live(w);

	l->dom = (uint8_t)dom;
	l->kind = (uint8_t)kind;
	l->perms = perms;
	l->id = new_id(w);
	l->la = la;
	l->pages = pages;
	l->footprint = footprint;
	l->slot = s;
	if (shadow && shadow_claim(dom, la >> 12, shadow, l->id, what))
		l->shadow_pages = shadow;
	slot_note_live(s, dom, la);
	recent_publish(dom, la);
	return l;
}

static void drop_live(struct worker *w, unsigned i)
{
	w->live[i] = w->live[--w->nlive];
	atomic_store_explicit(&w->live_now, w->nlive, memory_order_relaxed);
}

void worker_count_live(const struct worker *w, unsigned dom,
		       uint64_t *mappings, uint64_t *pages,
		       uint64_t *footprint, uint64_t *reservations)
{
	for (unsigned i = 0; i < w->nlive; i++) {
		const struct live *l = &w->live[i];
		if (l->dom != dom)
			continue;
		(*mappings)++;
		*pages += l->pages;
		*footprint += l->footprint;
	}
	for (unsigned i = 0; i < MAX_RESV; i++) {
		const struct resv *r = &w->resv[i];
		if (r->used && r->dom == dom) {
			(*reservations)++;
			*footprint += r->footprint;
		}
	}
}

/* ---- translate: one's own mapping is exact -------------------------------------- */

void check_own_translation(struct worker *w, const struct live *l,
			   uint64_t page, uint64_t off)
{
	uint64_t pa = 0;
	uint32_t perms = ~0u;
	ivm_la la = l->la + page * PAGE + off;
	ivm_status st = ivm_translate(H.dom[l->dom], la, &pa, &perms);

	w->own_translations++;
	if (st != IVM_STATUS_SUCCESS) {
		violation("translate", "domain %c: own live mapping 0x%llx+%llu "
			  "pages: ivm_translate(0x%llx) returned %s",
			  'A' + l->dom, (unsigned long long)l->la,
			  (unsigned long long)l->pages, (unsigned long long)la,
			  ivm_status_name(st));
		return;
	}
	uint64_t want = (uint64_t)(uintptr_t)l->slot->mem + page * PAGE + off;
	if (pa != want || perms != l->perms)
		violation("translate", "domain %c: own live mapping at 0x%llx: "
			  "ivm_translate(0x%llx) = pa 0x%llx perms %u, want pa "
			  "0x%llx perms %u", 'A' + l->dom,
			  (unsigned long long)l->la, (unsigned long long)la,
			  (unsigned long long)pa, perms,
			  (unsigned long long)want, l->perms);
}

/* ---- map ------------------------------------------------------------------------------ */

/* The documented window check (map.h): could [min, max] ever hold a
 * block of 2^order pages aligned to its size?  Inclusive bounds; min
 * rounds up to a page; max past the width is clamped. */
static bool window_feasible(const ivm_la *min, const ivm_la *max,
			    unsigned order, uint64_t *lo_out, uint64_t *hi_out)
{
	uint64_t lo = 0, hi = H.lay.space - 1;

	if (min) {
		if (*min > UINT64_MAX - (PAGE - 1))
			return false;
		lo = (*min + PAGE - 1) >> 12;
	}
	if (max && *max != UINT64_MAX) {
		uint64_t end = (*max + 1) >> 12;
		if (end == 0)
			return false;
		if (end - 1 < hi)
			hi = end - 1;
	}
	uint64_t block = 1ull << order;
	if (lo > hi)
		return false;
	uint64_t start = (lo + block - 1) & ~(block - 1);
	if (start > hi || hi - start < block - 1)
		return false;
	*lo_out = lo;
	*hi_out = hi;
	return true;
}

/* An allocator-chosen map on A: no constraint, a minimum, a maximum or
 * both (op). */
void op_map(struct worker *w, enum op op)
{
	if (w->nlive >= MAX_LIVE) {
		op_unmap(w);
		return;
	}
	enum pool pool = POOL_SMALL;
	uint64_t pages;
	if (rng_below(&w->rng, 100) < 3 && w->pool_n[POOL_LARGE]) {
		pool = POOL_LARGE;
		pages = rng_below(&w->rng, 2) ? LARGE_PAGES
					      : 257 + rng_below(&w->rng, 255);
	} else {
		pages = pick_pages(w, SMALL_PAGES);
	}
	struct slot *s = take_slot(w, pool);
	if (!s) {
		w->count[op].skipped++;
		return;
	}
	unsigned order = order_of(pages);
	uint64_t block = 1ull << order;
	uint32_t perms = pick_perms(w);
	struct ivm_phys phys;
	make_phys(w, s, pages, pick_phys_type(w), &phys);

	ivm_la min = 0, max = 0;
	const ivm_la *pmin = NULL, *pmax = NULL;
	uint64_t usable = H.lay.usable;
	if (op == OP_MAP_MIN || (op == OP_MAP_MAX && rng_below(&w->rng, 3) == 0)) {
		min = zone_page(&w->rng) * PAGE + rng_below(&w->rng, PAGE);
		pmin = &min;
	}
	if (op == OP_MAP_MAX || (op == OP_MAP_MIN && rng_below(&w->rng, 3) == 0)) {
		uint64_t lo = pmin ? min >> 12 : 0;
		/* Mostly a window that can hold the block; now and then one
		 * that cannot (MIX). */
		uint64_t span = rng_below(&w->rng, 8) == 0
					? rng_below(&w->rng, block + 1)
					: block + rng_below(&w->rng, usable / 4);
		max = (lo + span) * PAGE + rng_below(&w->rng, PAGE) - 1;
		if (rng_below(&w->rng, 16) == 0)
			max = UINT64_MAX; /* "no limit" spelled out */
		pmax = &max;
	}
	uint64_t lo = 0, hi = 0;
	bool feasible = window_feasible(pmin, pmax, order, &lo, &hi);

	slot_note_mapping(s, DOM_A, false, 0);
	ivm_la la = 0;
	ivm_status st = ivm_map_logical_range_ex(DA, perms, &phys, NULL, pmin,
						 pmax, &la);
	tally(w, op, st);
	if (!feasible)
		EXPECT("ivm_map_logical_range_ex(window that cannot hold the block)",
		       st, IVM_STATUS_INVALID_PARAMETER_MIX);
	else if (st != IVM_STATUS_SUCCESS &&
		 st != IVM_STATUS_INSUFFICIENT_RESOURCES)
		violation("status", "domain A: allocated map of %llu pages%s%s "
			  "returned %s, want IVM_STATUS_SUCCESS or "
			  "IVM_STATUS_INSUFFICIENT_RESOURCES",
			  (unsigned long long)pages, pmin ? " with a minimum" : "",
			  pmax ? " with a maximum" : "", ivm_status_name(st));
	if (st != IVM_STATUS_SUCCESS) {
		slot_note_gone(s, DOM_A, false, 0);
		release_slot(w, s, true);
		return;
	}
	uint64_t page = la >> 12;
	if ((la & (block * PAGE - 1)) != 0 || page < lo || page > hi ||
	    hi - page < block - 1)
		violation("map", "domain A: allocated %llu pages (block %llu) "
			  "at 0x%llx: not aligned to its block or outside the "
			  "window [0x%llx, 0x%llx]",
			  (unsigned long long)pages, (unsigned long long)block,
			  (unsigned long long)la, (unsigned long long)(lo << 12),
			  (unsigned long long)((hi << 12) | (PAGE - 1)));
	note_mapped(w, s, DOM_A, K_ALLOC, perms, la, pages, block, block,
		    "allocated map");
}

/* An explicit address inside a window shared by every worker, so maps
 * collide: A (the allocator settles it) or B (the page table does). */
void op_map_explicit(struct worker *w)
{
	if (w->nlive >= MAX_LIVE) {
		op_unmap(w);
		return;
	}
	unsigned dom = (unsigned)rng_below(&w->rng, NDOMS);
	struct slot *s = take_slot(w, POOL_SMALL);
	if (!s) {
		w->count[OP_MAP_EXPLICIT].skipped++;
		return;
	}
	uint64_t pages = pick_pages(w, SMALL_PAGES);
	uint64_t base = dom == DOM_A ? H.lay.ea : H.lay.eb;
	uint64_t span = dom == DOM_A ? H.lay.ea_pages : H.lay.eb_pages;
	ivm_la la = (base + rng_below(&w->rng, span - pages + 1)) * PAGE;
	uint32_t perms = pick_perms(w);
	struct ivm_phys phys;
	make_phys(w, s, pages, pick_phys_type(w), &phys);
	/* Now and then a window around it too (valid: it contains the
	 * range; ignored on B, which has no allocator). */
	ivm_la min = la - rng_below(&w->rng, 64) * PAGE;
	ivm_la max = la + pages * PAGE - 1 + rng_below(&w->rng, 64) * PAGE;
	bool window = rng_below(&w->rng, 5) == 0;

	if (!b_window_enter(dom, la >> 12, pages)) {
		w->count[OP_MAP_EXPLICIT].skipped++;
		release_slot(w, s, true);
		return;
	}
	slot_note_mapping(s, dom, true, la);
	ivm_la got = 0;
	ivm_status st = ivm_map_logical_range_ex(H.dom[dom], perms, &phys, &la,
						 window ? &min : NULL,
						 window ? &max : NULL, &got);
	b_window_exit(dom, la >> 12, pages);
	tally(w, OP_MAP_EXPLICIT, st);
	EXPECT("ivm_map_logical_range_ex(explicit)", st, IVM_STATUS_SUCCESS,
	       IVM_STATUS_IN_USE, injected_or_success());
	if (st != IVM_STATUS_SUCCESS) {
		slot_note_gone(s, dom, true, la);
		release_slot(w, s, true);
		return;
	}
	if (got != la)
		violation("map", "domain %c: explicit map at 0x%llx returned "
			  "0x%llx", 'A' + dom, (unsigned long long)la,
			  (unsigned long long)got);
	note_mapped(w, s, dom, K_EXPLICIT, perms, la, pages,
		    dom == DOM_A ? pages : 0, pages, "explicit map");
}

/* ---- unmap ---------------------------------------------------------------------------- */

static ivm_status unmap_call(struct worker *w, const struct live *l)
{
	struct ivm_phys phys;

	switch (l->kind) {
	case K_IDENTITY:
		make_phys(w, l->slot, l->pages,
			  rng_below(&w->rng, 2) ? IVM_PHYS_BUFFER
						: IVM_PHYS_CONTIGUOUS, &phys);
		return ivm_unmap_identity_range_ex(H.dom[l->dom], &phys);
	case K_RESERVED: {
		const struct resv *r = &w->resv[l->resv];
		return ivm_unmap_reserved_logical_range(r->r, l->la - r->base,
							l->pages);
	}
	default:
		return ivm_unmap_logical_range(H.dom[l->dom], l->la, l->pages);
	}
}

static const char *kind_name(unsigned kind)
{
	static const char *const names[] = { "allocated", "explicit",
					     "identity", "reserved" };
	return names[kind];
}

/* Unmap live[i]: shadow first, then the call, then the slot. */
void unmap_live(struct worker *w, unsigned i)
{
	struct live *l = &w->live[i];

	/* Now and then a range that cuts through the mapping first: it
	 * must fail and leave the mapping whole. */
	if ((l->kind == K_ALLOC || l->kind == K_EXPLICIT) && l->pages >= 2 &&
	    rng_below(&w->rng, 10) == 0) {
		ivm_status st = ivm_unmap_logical_range(H.dom[l->dom], l->la,
							l->pages - 1);
		tally(w, OP_UNMAP, st);
		EXPECT("ivm_unmap_logical_range(part of a mapping)", st,
		       IVM_STATUS_INVALID_PARAMETER);
		check_own_translation(w, l, l->pages - 1, 0);
	}
	if (l->shadow_pages)
		shadow_release(l->dom, l->la >> 12, l->shadow_pages, l->id);
	slot_note_unmapping(l->slot, l->dom, l->la);
	b_unmap_begin(l->dom, l->la >> 12, l->pages);
	ivm_status st = unmap_call(w, l);
	b_unmap_end(l->dom, l->la >> 12, l->pages);
	tally(w, OP_UNMAP, st);
	if (st != IVM_STATUS_SUCCESS)
		violation("status", "domain %c: unmap of own live %s mapping "
			  "0x%llx+%llu pages returned %s", 'A' + l->dom,
			  kind_name(l->kind), (unsigned long long)l->la,
			  (unsigned long long)l->pages, ivm_status_name(st));
	slot_note_gone(l->slot, l->dom, true, l->la);
	release_slot(w, l->slot, unmap_strict(l->dom, l->kind));
	if (l->kind == K_RESERVED) {
		struct resv *r = &w->resv[l->resv];
		uint64_t first = (l->la - r->base) >> 12;
		for (uint64_t p = first; p < first + l->pages; p++)
			r->map_bits[p / 64] &= ~(1ull << (p % 64));
		r->maps--;
	}
	drop_live(w, i);
}

void op_unmap(struct worker *w)
{
	if (w->nlive == 0) {
		op_map(w, OP_MAP);
		return;
	}
	unmap_live(w, (unsigned)rng_below(&w->rng, w->nlive));
}

/* ---- identity ------------------------------------------------------------------------- */

void op_identity(struct worker *w)
{
	unsigned mine = 0;

	if (!H.lay.identity) {
		w->count[OP_IDENTITY].skipped++;
		return;
	}
	for (unsigned i = 0; i < w->nlive; i++)
		mine += w->live[i].kind == K_IDENTITY;
	bool quarantined;
	if (mine >= 4 || w->nlive >= MAX_LIVE ||
	    !find_free(w, POOL_IDENT, &quarantined)) {
		for (unsigned i = 0; i < w->nlive; i++)
			if (w->live[i].kind == K_IDENTITY) {
				unmap_live(w, i);
				return;
			}
		w->count[OP_IDENTITY].skipped++;
		return;
	}
	struct slot *s = take_slot(w, POOL_IDENT);
	unsigned dom = (unsigned)rng_below(&w->rng, NDOMS);
	uint64_t pages = pick_pages(w, IDENT_PAGES);
	uint32_t perms = pick_perms(w);
	struct ivm_phys phys;
	make_phys(w, s, pages,
		  rng_below(&w->rng, 2) ? IVM_PHYS_BUFFER : IVM_PHYS_CONTIGUOUS,
		  &phys);
	ivm_la la = (uint64_t)(uintptr_t)s->mem;

	slot_note_mapping(s, dom, true, la);
	ivm_status st = ivm_map_identity_range_ex(H.dom[dom], perms, &phys);
	tally(w, OP_IDENTITY, st);
	if (dom == DOM_B) /* nothing else ever maps the identity arena on B */
		EXPECT("ivm_map_identity_range_ex(B)", st, IVM_STATUS_SUCCESS,
		       injected_or_success());
	else /* on A the allocator may have handed part of it out */
		EXPECT("ivm_map_identity_range_ex(A)", st, IVM_STATUS_SUCCESS,
		       IVM_STATUS_IN_USE, injected_or_success());
	if (st != IVM_STATUS_SUCCESS) {
		slot_note_gone(s, dom, true, la);
		release_slot(w, s, true);
		return;
	}
	note_mapped(w, s, dom, K_IDENTITY, perms, la, pages,
		    dom == DOM_A ? pages : 0, pages, "identity map");
}

/* ---- reservations --------------------------------------------------------------------- */

static void resv_create(struct worker *w, struct resv *r)
{
	unsigned dom = rng_below(&w->rng, 10) < 7 ? DOM_A : DOM_B;
	uint64_t pages = 4 + rng_below(&w->rng, RESV_MAX_PAGES - 3);
	unsigned order = order_of(pages);
	ivm_la ex = 0, min = 0, max = 0;
	const ivm_la *pex = NULL, *pmin = NULL, *pmax = NULL;
	uint64_t mode = dom == DOM_B ? 3 : rng_below(&w->rng, 5);

	if (mode >= 3) { /* explicit, in the shared window */
		uint64_t base = dom == DOM_A ? H.lay.ea : H.lay.eb;
		uint64_t span = dom == DOM_A ? H.lay.ea_pages : H.lay.eb_pages;
		ex = (base + rng_below(&w->rng, span - pages + 1)) * PAGE;
		pex = &ex;
	} else if (mode == 1) {
		min = zone_page(&w->rng) * PAGE;
		pmin = &min;
	} else if (mode == 2) {
		max = (rng_below(&w->rng, H.lay.usable) + 1) * PAGE - 1;
		pmax = &max;
	}
	uint64_t lo = 0, hi = 0;
	bool feasible = pex || window_feasible(pmin, pmax, order, &lo, &hi);
	struct ivm_reservation *res = NULL;
	if (pex && !b_window_enter(dom, ex >> 12, pages)) {
		w->count[OP_RESERVE].skipped++;
		return;
	}
	ivm_status st = ivm_reserve_logical_range(H.dom[dom], pages * PAGE, pex,
						  pmin, pmax, &res);
	if (pex)
		b_window_exit(dom, ex >> 12, pages);
	tally(w, OP_RESERVE, st);
	if (pex)
		EXPECT("ivm_reserve_logical_range(explicit)", st,
		       IVM_STATUS_SUCCESS, IVM_STATUS_IN_USE,
		       injected_or_success());
	else if (!feasible)
		EXPECT("ivm_reserve_logical_range(window that cannot hold it)",
		       st, IVM_STATUS_INVALID_PARAMETER_MIX);
	else
		EXPECT("ivm_reserve_logical_range(allocated)", st,
		       IVM_STATUS_SUCCESS, IVM_STATUS_INSUFFICIENT_RESOURCES);
	if (st != IVM_STATUS_SUCCESS)
		return;

	ivm_la base = 0;
	uint64_t size = 0;
	st = ivm_reservation_base(res, &base, &size);
	if (st != IVM_STATUS_SUCCESS)
		bad_status("ivm_reservation_base", st, "IVM_STATUS_SUCCESS");
	uint64_t block = 1ull << order;
	if (size != pages * PAGE || (pex && base != ex) ||
	    (!pex && (base & (block * PAGE - 1)) != 0))
		violation("reserve", "domain %c: reservation of %llu pages%s: "
			  "base 0x%llx size %llu", 'A' + dom,
			  (unsigned long long)pages, pex ? " (explicit)" : "",
			  (unsigned long long)base, (unsigned long long)size);
	memset(r, 0, sizeof(*r));
	r->used = true;
	r->dom = (uint8_t)dom;
	r->r = res;
	r->base = base;
	r->pages = pages;
	r->footprint = dom == DOM_A ? (pex ? pages : block) : 0;
	r->id = new_id(w);
	uint64_t claim = dom == DOM_A && !pex ? block : pages;
	if (shadow_claim(dom, base >> 12, claim, r->id, "reservation"))
		r->shadow_pages = claim;
}

static void resv_map(struct worker *w, int ri)
{
	struct resv *r = &w->resv[ri];
	uint64_t n = pick_pages(w, SMALL_PAGES);
	uint64_t start = rng_below(&w->rng, r->pages);
	uint64_t first = UINT64_MAX;

	if (w->nlive >= MAX_LIVE) {
		w->count[OP_RESERVE].skipped++;
		return;
	}
	/* A free run of n pages at or after start (wrapping once). */
	for (uint64_t k = 0; k < r->pages && first == UINT64_MAX; k++) {
		uint64_t p = (start + k) % r->pages;
		if (p + n > r->pages)
			continue;
		bool free_run = true;
		for (uint64_t q = p; q < p + n && free_run; q++)
			free_run = !(r->map_bits[q / 64] & (1ull << (q % 64)));
		if (free_run)
			first = p;
	}
	/* Now and then a run that starts on free pages and then meets a
	 * mapped one: it must fail with IN_USE, having taken back the pages
	 * it installed. */
	bool collide = false;
	if (r->maps > 0 && rng_below(&w->rng, 8) == 0) {
		for (uint64_t p = 1; p < r->pages; p++)
			if ((r->map_bits[p / 64] & (1ull << (p % 64))) &&
			    !(r->map_bits[(p - 1) / 64] & (1ull << ((p - 1) % 64)))) {
				uint64_t back = 1;
				while (back < p && back < SMALL_PAGES - 1 &&
				       !(r->map_bits[(p - back - 1) / 64] &
					 (1ull << ((p - back - 1) % 64))))
					back++;
				first = p - back;
				n = back + 1;
				collide = true;
				break;
			}
	}
	struct slot *s = first == UINT64_MAX ? NULL : take_slot(w, POOL_SMALL);
	if (!s) {
		w->count[OP_RESERVE].skipped++;
		return;
	}
	uint32_t perms = pick_perms(w);
	struct ivm_phys phys;
	make_phys(w, s, n, pick_phys_type(w), &phys);
	ivm_la want = r->base + first * PAGE, la = 0;

	slot_note_mapping(s, r->dom, true, want);
	ivm_status st = ivm_map_reserved_logical_range(r->r, first * PAGE,
						       perms, &phys, &la);
	tally(w, OP_RESERVE, st);
	/* reserve.h: allocates nothing, so only the backend can refuse. */
	if (collide)
		EXPECT("ivm_map_reserved_logical_range(onto a mapped page)", st,
		       IVM_STATUS_IN_USE, injected_or_success());
	else
		EXPECT("ivm_map_reserved_logical_range", st, IVM_STATUS_SUCCESS,
		       injected_or_success());
	if (st != IVM_STATUS_SUCCESS) {
		slot_note_gone(s, r->dom, true, want);
		release_slot(w, s, true);
		return;
	}
	if (la != want)
		violation("reserve", "map inside a reservation at offset %llu "
			  "returned 0x%llx, want 0x%llx",
			  (unsigned long long)(first * PAGE),
			  (unsigned long long)la, (unsigned long long)want);
	for (uint64_t q = first; q < first + n; q++)
		r->map_bits[q / 64] |= 1ull << (q % 64);
	r->maps++;
	note_mapped(w, s, r->dom, K_RESERVED, perms, want, n, 0, 0,
		    "reserved map")->resv = ri;
}

/* Free reservation ri: refused (IN_USE, nothing changed) while maps are
 * inside; else it goes. */
void resv_free(struct worker *w, int ri)
{
	struct resv *r = &w->resv[ri];
	struct ivm_reservation *handle = r->r;

	if (r->maps > 0) {
		ivm_status st = ivm_free_reserved_logical_range(&handle);
		tally(w, OP_RESERVE, st);
		EXPECT("ivm_free_reserved_logical_range(with maps inside)", st,
		       IVM_STATUS_IN_USE);
		if (handle != r->r)
			violation("reserve", "a refused free changed the handle");
		return;
	}
	if (r->shadow_pages)
		shadow_release(r->dom, r->base >> 12, r->shadow_pages, r->id);
	ivm_status st = ivm_free_reserved_logical_range(&handle);
	tally(w, OP_RESERVE, st);
	if (st != IVM_STATUS_SUCCESS || handle != NULL)
		violation("status", "free of an empty reservation returned %s "
			  "(handle %s)", ivm_status_name(st),
			  handle ? "kept" : "cleared");
	r->used = false;
}

void op_reserve(struct worker *w)
{
	int used[MAX_RESV], nused = 0, free_slot = -1;

	for (int i = 0; i < MAX_RESV; i++) {
		if (w->resv[i].used)
			used[nused++] = i;
		else if (free_slot < 0)
			free_slot = i;
	}
	uint64_t r = rng_below(&w->rng, 100);
	if (nused == 0 || (r < 15 && free_slot >= 0)) {
		if (free_slot >= 0)
			resv_create(w, &w->resv[free_slot]);
		return;
	}
	int ri = used[rng_below(&w->rng, (uint64_t)nused)];
	if (r < 55) {
		resv_map(w, ri);
	} else if (r < 85) {
		for (unsigned i = 0; i < w->nlive; i++)
			if (w->live[i].kind == K_RESERVED && w->live[i].resv == ri) {
				unmap_live(w, i);
				return;
			}
		resv_map(w, ri);
	} else {
		resv_free(w, ri);
	}
}

