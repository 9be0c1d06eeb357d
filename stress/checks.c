/* SPDX-License-Identifier: MIT */
/*
 * checks.c - the checks iovamap-stress makes while every worker is parked
 * (a quiet phase, once a second) and at the end.
 *
 * Design source: the quiescent-state consistency checks of the IOVA
 * stress tests (tests/iova_stress.h: "nothing live twice, nothing lost")
 * and the "fail every allocation in turn" sweeps of test_reserve_noalloc,
 * run against a domain that is in the middle of a concurrent workload.
 *
 * Invariants checked:
 *  1. The library agrees with the model: ivm_domain_get_stats counts the
 *     workers' live mappings, their pages and reservations; after a flush
 *     the IOVA space in use (used - cached) is exactly what the live
 *     mappings, reservations and reserved regions hold, so no failed or
 *     racing call lost or leaked logical space; every live mapping still
 *     translates to its memory.
 *  2. A call that fails changes nothing: the battery makes calls that must
 *     fail (overlaps, partial unmaps, frees of busy reservations ...) and
 *     the sweeps force every allocation, page-table page and backend map
 *     of a call to fail in turn (fault injection builds); each must return
 *     its documented status and leave mappings, pages, reservations, IOVA
 *     in use and page tables (after a trim) as they were, and translate
 *     nothing new.  A map inside a reservation must allocate nothing.  A
 *     failed ivm_domain_create must give every byte back.
 *  3. At the end, with everything unmapped: no mapping, reservation or
 *     queued range is left, IOVA in use is the reserved regions', page
 *     tables (after a trim) are an empty domain's, and so is the memory a
 *     domain holds (accounting builds); after every domain is gone the
 *     process holds what it held before the first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ivm_config.h"
#include "mem.h"
#include "rcu.h"
#if IVM_FAULT_INJECTION
#include "fault.h"
#endif

#define CHECKER (&H.workers[H.cfg.threads])

/* ---- domains ------------------------------------------------------------------------ */

bool domain_config(unsigned dom, struct ivm_domain_config *cfg,
		   struct ivm_allocator_config *alloc,
		   struct ivm_reserved_region *regions, size_t *nregions)
{
	memset(cfg, 0, sizeof(*cfg));
	memset(alloc, 0, sizeof(*alloc));
	alloc->address_width = H.cfg.width;
	cfg->type = IVM_DOMAIN_TRANSLATE;
	cfg->allocator = alloc;
	cfg->invalidation_latency_ns = H.cfg.latency_ns;
	*nregions = 0;
	if (dom == DOM_A) {
		alloc->type = IVM_ALLOCATOR_BUDDY;
		alloc->flags = IVM_ALLOCATOR_ALLOW_EXPLICIT;
		cfg->flush_mode = H.cfg.flush;
		cfg->flush_queue_size = 64;
		cfg->flush_timeout_us = 1000;
		regions[(*nregions)++] = (struct ivm_reserved_region){
			H.lay.region_a * PAGE, H.lay.region_a_pages, false };
		if (H.lay.identity)
			regions[(*nregions)++] = (struct ivm_reserved_region){
				H.lay.ident_region * PAGE,
				H.lay.ident_region_pages, true };
	} else {
		alloc->type = IVM_ALLOCATOR_NONE; /* width only */
		regions[(*nregions)++] = (struct ivm_reserved_region){
			H.lay.region_b * PAGE, H.lay.region_b_pages, false };
	}
	cfg->reserved = regions;
	cfg->reserved_count = *nregions;
	return true;
}

static struct ivm_domain *make_domain(unsigned dom, ivm_status *st)
{
	struct ivm_domain_config cfg;
	struct ivm_allocator_config alloc;
	struct ivm_reserved_region regions[2];
	size_t n;
	struct ivm_domain *d = NULL;

	domain_config(dom, &cfg, &alloc, regions, &n);
	*st = ivm_domain_create(&cfg, &d);
	return *st == IVM_STATUS_SUCCESS ? d : NULL;
}

uint64_t settled_bytes(void)
{
	uint64_t bytes, blocks;

	ivm_rcu_barrier();
	ivm_mem_usage(&bytes, &blocks);
	return bytes;
}

void measure_empty_domain(unsigned dom, uint64_t *tables, uint64_t *bytes)
{
	struct ivm_domain_stats s;
	ivm_status st;
	uint64_t before = settled_bytes();
	struct ivm_domain *d = make_domain(dom, &st);

	if (!d) {
		fprintf(stderr, "iovamap-stress: cannot create domain %c: %s\n",
			'A' + dom, ivm_status_name(st));
		exit(2);
	}
	ivm_domain_get_stats(d, &s);
	*tables = s.pt_tables;
	*bytes = settled_bytes() - before;
	ivm_domain_destroy(&d);
	uint64_t after = settled_bytes();
	if (after != before)
		violation("memory", "creating and destroying an empty domain %c "
			  "left %lld bytes", 'A' + dom,
			  (long long)(after - before));
}

/* ---- snapshots: "a failed call changes nothing" -------------------------------- */

struct snap {
	struct ivm_domain_stats s[NDOMS];
};

static void snapshot(struct snap *sn)
{
	for (unsigned d = 0; d < NDOMS; d++) {
		/* A trim first: empty tables are a cache (pagetable.c), not
		 * state; what a failed call may not leave behind is a table
		 * a trim cannot take back. */
		ivm_domain_trim(H.dom[d]);
		ivm_domain_get_stats(H.dom[d], &sn->s[d]);
	}
}

static void compare_field(const char *what, unsigned d, const char *field,
			  uint64_t before, uint64_t after)
{
	if (before != after)
		violation("failed-call", "%s changed domain %c: %s %llu -> %llu",
			  what, 'A' + d, field, (unsigned long long)before,
			  (unsigned long long)after);
}

static void compare(const char *what, const struct snap *a)
{
	struct snap b;

	snapshot(&b);
	for (unsigned d = 0; d < NDOMS; d++) {
		const struct ivm_domain_stats *x = &a->s[d], *y = &b.s[d];
		compare_field(what, d, "mappings", x->mappings, y->mappings);
		compare_field(what, d, "mapped_pages", x->mapped_pages,
			      y->mapped_pages);
		compare_field(what, d, "reservations", x->reservations,
			      y->reservations);
		compare_field(what, d, "IOVA pages in use",
			      x->iova_used_pages - x->iova_cached_pages,
			      y->iova_used_pages - y->iova_cached_pages);
		compare_field(what, d, "pt_tables", x->pt_tables, y->pt_tables);
		compare_field(what, d, "flush_queued", x->flush_queued,
			      y->flush_queued);
	}
}

/* No page of [la, la + pages) translates in dom. */
static void expect_unmapped(const char *what, unsigned dom, ivm_la la,
			    uint64_t pages)
{
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t pa;
		ivm_status st = ivm_translate(H.dom[dom], la + i * PAGE, &pa, NULL);
		if (st != IVM_STATUS_INVALID_PARAMETER_2) {
			violation("failed-call", "after %s, domain %c la 0x%llx "
				  "translates (%s, pa 0x%llx)", what, 'A' + dom,
				  (unsigned long long)(la + i * PAGE),
				  ivm_status_name(st), (unsigned long long)pa);
			return;
		}
	}
}

static void expect_status(const char *what, ivm_status got, ivm_status want)
{
	H.battery_calls++;
	if (got != want)
		bad_status(what, got, ivm_status_name(want));
}

static void own_translation(const struct live *l, uint64_t page)
{
	uint64_t pa = 0;
	uint32_t perms = 0;
	ivm_la la = l->la + page * PAGE;
	ivm_status st = ivm_translate(H.dom[l->dom], la, &pa, &perms);
	uint64_t want = (uint64_t)(uintptr_t)l->slot->mem + page * PAGE;

	if (st != IVM_STATUS_SUCCESS || pa != want || perms != l->perms)
		violation("translate", "quiet phase: domain %c live mapping "
			  "0x%llx page %llu: %s pa 0x%llx perms %u, want pa "
			  "0x%llx perms %u", 'A' + l->dom,
			  (unsigned long long)l->la, (unsigned long long)page,
			  ivm_status_name(st), (unsigned long long)pa, perms,
			  (unsigned long long)want, l->perms);
}

/* ---- invariant 1: the model against the library ---------------------------------- */

static void check_model(void)
{
	for (unsigned d = 0; d < NDOMS; d++) {
		uint64_t mappings = 0, pages = 0, footprint = 0, resv = 0;
		struct ivm_domain_stats s;

		for (unsigned t = 0; t < H.cfg.threads; t++)
			worker_count_live(&H.workers[t], d, &mappings, &pages,
					  &footprint, &resv);
		if (d == DOM_B)
			for (unsigned e = 0; e < CONTESTS; e++) {
				uint64_t c = atomic_load(&H.contest[e].state);
				uint64_t r = atomic_load(&H.contest[e].racer);
				if (C_PHASE(c) == C_ARMED && (r & 3) != 1) {
					mappings++;
					pages += C_PAGES(c);
				}
			}
		ivm_status st = ivm_flush_domain(H.dom[d]);
		if (st != IVM_STATUS_SUCCESS)
			bad_status("ivm_flush_domain", st, "IVM_STATUS_SUCCESS");
		ivm_domain_get_stats(H.dom[d], &s);
		uint64_t in_use = s.iova_used_pages - s.iova_cached_pages;
		uint64_t want_in_use = d == DOM_A ? footprint + H.region_pages[d] : 0;
		if (s.mappings != mappings || s.mapped_pages != pages ||
		    s.reservations != resv || in_use != want_in_use ||
		    s.flush_queued != 0)
			violation("accounting", "domain %c: library says %llu "
				  "mappings / %llu pages / %llu reservations / "
				  "%llu IOVA pages in use / %llu queued; the "
				  "workers hold %llu / %llu / %llu / %llu / 0",
				  'A' + d, (unsigned long long)s.mappings,
				  (unsigned long long)s.mapped_pages,
				  (unsigned long long)s.reservations,
				  (unsigned long long)in_use,
				  (unsigned long long)s.flush_queued,
				  (unsigned long long)mappings,
				  (unsigned long long)pages,
				  (unsigned long long)resv,
				  (unsigned long long)want_in_use);
		if (s.iotlb_violations != 0)
			violation("stale-translation", "domain %c: the model "
				  "IOMMU counted %llu stale-translation "
				  "violations", 'A' + d,
				  (unsigned long long)s.iotlb_violations);
	}
	for (unsigned t = 0; t < H.cfg.threads; t++) {
		const struct worker *w = &H.workers[t];
		for (unsigned i = 0; i < w->nlive; i++) {
			own_translation(&w->live[i], 0);
			own_translation(&w->live[i], w->live[i].pages - 1);
		}
	}
}

/* ---- invariant 2: calls that must fail ------------------------------------------ */

/* A random live mapping of any worker (NULL if none); kinds: bit mask. */
static const struct live *any_live(unsigned kinds)
{
	struct worker *cw = CHECKER;
	unsigned t0 = (unsigned)rng_below(&cw->rng, H.cfg.threads);

	for (unsigned k = 0; k < H.cfg.threads; k++) {
		const struct worker *w = &H.workers[(t0 + k) % H.cfg.threads];
		if (w->nlive == 0)
			continue;
		unsigned i0 = (unsigned)rng_below(&cw->rng, w->nlive);
		for (unsigned j = 0; j < w->nlive; j++) {
			const struct live *l = &w->live[(i0 + j) % w->nlive];
			if (kinds & (1u << l->kind))
				return l;
		}
	}
	return NULL;
}

static void battery(void)
{
	struct worker *cw = CHECKER;
	struct snap before;
	struct ivm_phys phys;
	ivm_la out;
	const struct live *l;
	struct slot *s = take_slot(cw, POOL_SMALL);

	if (!s)
		return;
	snapshot(&before);

	/* An explicit map onto a live mapping's pages (and, before it, onto
	 * free pages: a partial install that must be undone). */
	l = any_live(1u << K_ALLOC | 1u << K_EXPLICIT | 1u << K_IDENTITY);
	if (l) {
		uint64_t lead = 0;
		while (lead < 3 && (l->la >> 12) > lead &&
		       shadow_owner(l->dom, (l->la >> 12) - lead - 1) == 0)
			lead++;
		ivm_la la = l->la - lead * PAGE;
		make_phys(cw, s, lead + 1, IVM_PHYS_BUFFER, &phys);
		ivm_status st = ivm_map_logical_range_ex(H.dom[l->dom], 3, &phys,
							 &la, NULL, NULL, &out);
		expect_status("explicit map onto a live mapping", st,
			      IVM_STATUS_IN_USE);
		expect_unmapped("a refused overlapping map", l->dom, la, lead);
		own_translation(l, 0);
	}
	/* A range that cuts through a mapping, or runs past its end onto a
	 * page nobody holds. */
	l = any_live(1u << K_ALLOC | 1u << K_EXPLICIT);
	if (l) {
		if (l->pages >= 2)
			expect_status("unmap of part of a mapping",
				      ivm_unmap_logical_range(H.dom[l->dom], l->la,
							      l->pages - 1),
				      IVM_STATUS_INVALID_PARAMETER);
		/* Only onto a page no live mapping holds (or its own
		 * rounding): a whole adjacent mapping would make it valid. */
		uint32_t next = shadow_owner(l->dom, (l->la >> 12) + l->pages);
		if (next == 0 || next == l->id)
			expect_status("unmap past the end of a mapping",
				      ivm_unmap_logical_range(H.dom[l->dom], l->la,
							      l->pages + 1),
				      IVM_STATUS_INVALID_PARAMETER);
		own_translation(l, l->pages - 1);
	}
	/* The wrong family: a reserved mapping through the logical unmap. */
	l = any_live(1u << K_RESERVED);
	if (l) {
		expect_status("logical unmap of a reserved mapping",
			      ivm_unmap_logical_range(H.dom[l->dom], l->la,
						      l->pages),
			      IVM_STATUS_INVALID_PARAMETER);
		own_translation(l, 0);
		/* Its reservation cannot go while it is there. */
		const struct worker *owner = &H.workers[l->slot->owner];
		struct ivm_reservation *r = owner->resv[l->resv].r;
		expect_status("free of a reservation with maps inside",
			      ivm_free_reserved_logical_range(&r),
			      IVM_STATUS_IN_USE);
		/* Nor can its page be mapped twice. */
		make_phys(cw, s, 1, IVM_PHYS_BUFFER, &phys);
		expect_status("map inside a reservation onto a mapped page",
			      ivm_map_reserved_logical_range(
				      r, l->la - owner->resv[l->resv].base, 1,
				      &phys, &out),
			      IVM_STATUS_IN_USE);
	}
	compare("the failing-call battery", &before);
	slot_note_gone(s, DOM_A, false, 0);
	release_slot(cw, s, true);
}

#if IVM_FAULT_INJECTION
/* ---- invariant 2: forced failures, every allocation of a call in turn ----- */

#define SWEEP_MAX 48
#define SWEEP_SITES (IVM_FAULT_MASK(IVM_FAULT_ALLOC) |                       \
		     IVM_FAULT_MASK(IVM_FAULT_PT_ALLOC) |                    \
		     IVM_FAULT_MASK(IVM_FAULT_BACKEND_MAP))

/* A page of the fresh region, where page tables are missing; with
 * `cross`, the range straddles a 2 MiB boundary (two leaf tables). */
static ivm_la fresh_la(uint64_t pages, bool cross)
{
	struct worker *cw = CHECKER;
	/* One of 256 places (the shadow stays bounded on long runs). */
	uint64_t chunks = H.lay.fresh_pages / 512 - 2;
	uint64_t base = H.lay.fresh +
			(1 + rng_below(&cw->rng, chunks < 256 ? chunks : 256) *
				     (chunks / 256 ? chunks / 256 : 1)) * 512;

	return (cross ? base - pages / 2 : base + rng_below(&cw->rng, 512 - pages))
	       * PAGE;
}

/* One call type, swept: the n-th injection point fails, n = 0, 1, ...
 * until the call gets through without reaching it. */
enum sweep_call { SW_EXPLICIT_B, SW_ALLOCATED_A, SW_IDENTITY_B, SW_RESERVE_A };

static void sweep(enum sweep_call call)
{
	static const char *const names[] = {
		"explicit map (B)", "allocated map (A)", "identity map (B)",
		"reservation (A)",
	};
	struct worker *cw = CHECKER;
	enum pool pool = call == SW_IDENTITY_B ? POOL_IDENT : POOL_SMALL;
	struct slot *s;

	if (call == SW_IDENTITY_B && !H.lay.identity)
		return;
	if (!(s = take_slot(cw, pool)))
		return;
	uint64_t pages = 1 + rng_below(&cw->rng, s->pages);
	unsigned dom = call == SW_ALLOCATED_A || call == SW_RESERVE_A ? DOM_A
								       : DOM_B;
	/* One address for the whole sweep: a failed call leaves nothing a
	 * trim cannot take back, so every round meets the same points. */
	ivm_la where = fresh_la(pages, rng_below(&cw->rng, 2));
	for (long n = 0; n < SWEEP_MAX; n++) {
		struct snap before;
		struct ivm_phys phys;
		struct ivm_reservation *r = NULL;
		ivm_la la = where, min = la, got = 0;
		ivm_status st;

		snapshot(&before);
		make_phys(cw, s, pages, IVM_PHYS_BUFFER, &phys);
		if (call == SW_IDENTITY_B)
			la = (uint64_t)(uintptr_t)s->mem;
		slot_note_mapping(s, dom, call != SW_ALLOCATED_A, la);
		ivm_fault_fail_nth(SWEEP_SITES, n);
		switch (call) {
		case SW_EXPLICIT_B:
			st = ivm_map_logical_range_ex(H.dom[DOM_B], 3, &phys, &la,
						      NULL, NULL, &got);
			break;
		case SW_ALLOCATED_A:
			st = ivm_map_logical_range_ex(H.dom[DOM_A], 3, &phys,
						      NULL, &min, NULL, &got);
			break;
		case SW_IDENTITY_B:
			st = ivm_map_identity_range_ex(H.dom[DOM_B], 3, &phys);
			got = la;
			break;
		default:
			st = ivm_reserve_logical_range(H.dom[DOM_A], pages * PAGE,
						       NULL, &min, NULL, &r);
			break;
		}
		bool fired = ivm_fault_nth_fired();
		H.sweep_calls++;
		if (fired && st != IVM_STATUS_SUCCESS) {
			char what[96];
			snprintf(what, sizeof(what), "%s with failure #%ld "
				 "injected", names[call], n);
			if (st != IVM_STATUS_INSUFFICIENT_RESOURCES)
				bad_status(what, st,
					   "IVM_STATUS_INSUFFICIENT_RESOURCES");
			slot_note_gone(s, dom, call != SW_ALLOCATED_A, la);
			compare(what, &before);
			if (call != SW_ALLOCATED_A && call != SW_RESERVE_A)
				expect_unmapped(what, dom, la, pages);
			continue;
		}
		/* Got through (past the failure too: some allocations have
		 * a fallback, e.g. a magazine or a flush ring); undo it.  The
		 * sweep is complete once no point failed. */
		if (st != IVM_STATUS_SUCCESS) {
			bad_status(names[call], st, "IVM_STATUS_SUCCESS");
			slot_note_gone(s, dom, call != SW_ALLOCATED_A, la);
			break;
		}
		if (call == SW_RESERVE_A) {
			/* A map inside allocates nothing (reserve.h). */
			ivm_la base = 0, mla = 0;
			ivm_reservation_base(r, &base, NULL);
			slot_note_mapping(s, dom, true, base);
			make_phys(cw, s, pages, IVM_PHYS_PFN_ARRAY, &phys);
			ivm_fault_fail_nth(IVM_FAULT_MASK(IVM_FAULT_ALLOC) |
					   IVM_FAULT_MASK(IVM_FAULT_PT_ALLOC), 0);
			st = ivm_map_reserved_logical_range(r, 0, 3, &phys, &mla);
			if (ivm_fault_nth_fired())
				violation("reserve", "a map inside a reservation "
					  "allocated memory");
			expect_status("map inside a reservation", st,
				      IVM_STATUS_SUCCESS);
			if (st == IVM_STATUS_SUCCESS)
				expect_status("unmap inside a reservation",
					      ivm_unmap_reserved_logical_range(
						      r, 0, pages),
					      IVM_STATUS_SUCCESS);
			slot_note_gone(s, dom, true, base);
			expect_status("free of a reservation",
				      ivm_free_reserved_logical_range(&r),
				      IVM_STATUS_SUCCESS);
		} else {
			slot_note_live(s, dom, got);
			slot_note_unmapping(s, dom, got);
			st = call == SW_IDENTITY_B
				     ? ivm_unmap_identity_range_ex(H.dom[dom], &phys)
				     : ivm_unmap_logical_range(H.dom[dom], got,
							       pages);
			expect_status("unmap after a sweep", st,
				      IVM_STATUS_SUCCESS);
			slot_note_gone(s, dom, true, got);
		}
		if (!fired)
			break;
	}
	/* Lazily invalidated or not: the flush of the snapshot settled it. */
	ivm_flush_domain(H.dom[DOM_A]);
	release_slot(cw, s, true);
}

/* A failed ivm_domain_create gives every byte back. */
static void sweep_create(void)
{
	struct worker *cw = CHECKER;
	unsigned dom = (unsigned)rng_below(&cw->rng, NDOMS);

	for (long n = 0; n < SWEEP_MAX; n++) {
		uint64_t before = settled_bytes();
		ivm_status st;
		ivm_fault_fail_nth(IVM_FAULT_MASK(IVM_FAULT_ALLOC) |
				   IVM_FAULT_MASK(IVM_FAULT_PT_ALLOC) |
				   IVM_FAULT_MASK(IVM_FAULT_BACKEND_MAP), n);
		struct ivm_domain *d = make_domain(dom, &st);
		bool fired = ivm_fault_nth_fired();
		H.sweep_calls++;
		if (d) {
			/* Past the failure (a fallback) or not reached. */
			ivm_domain_destroy(&d);
			if (!fired)
				break;
			continue;
		}
		if (!fired || st != IVM_STATUS_INSUFFICIENT_RESOURCES)
			bad_status("ivm_domain_create", st, fired
				   ? "IVM_STATUS_INSUFFICIENT_RESOURCES"
				   : "IVM_STATUS_SUCCESS");
		uint64_t after = settled_bytes();
		if (after != before)
			violation("memory", "ivm_domain_create failing at "
				  "injection point %ld left %lld bytes "
				  "allocated", n, (long long)(after - before));
	}
}
#endif /* IVM_FAULT_INJECTION */

/* ---- quiet phases --------------------------------------------------------------- */

static bool pause_workers(void)
{
	pthread_mutex_lock(&H.pause_lock);
	atomic_store_explicit(&H.pause_requested, true, memory_order_relaxed);
	while (H.parked < H.running)
		pthread_cond_wait(&H.pause_cv, &H.pause_lock);
	pthread_mutex_unlock(&H.pause_lock);
	return !atomic_load_explicit(&H.stop, memory_order_relaxed);
}

/* Let the workers go, and wait until every one has left the barrier:
 * otherwise a worker still asleep in it would count as parked in the next
 * quiet phase while it is about to run an operation. */
static void resume_workers(void)
{
	pthread_mutex_lock(&H.pause_lock);
	atomic_store_explicit(&H.pause_requested, false, memory_order_relaxed);
	H.pause_gen++;
	pthread_cond_broadcast(&H.pause_cv);
	while (H.parked > 0)
		pthread_cond_wait(&H.pause_cv, &H.pause_lock);
	pthread_mutex_unlock(&H.pause_lock);
}

void quiet_phase(void)
{
	if (pause_workers()) {
		H.quiet_phases++;
		check_model();
		battery();
#if IVM_FAULT_INJECTION
		struct worker *cw = CHECKER;
		sweep((enum sweep_call)rng_below(&cw->rng, 4));
		if (rng_below(&cw->rng, 4) == 0)
			sweep_create();
#endif
		check_model();
	}
	resume_workers();
}

/* ---- invariant 3: the end --------------------------------------------------------- */

void teardown_checks(const uint64_t empty_tables[NDOMS],
		     const uint64_t empty_bytes[NDOMS], uint64_t start_bytes)
{
	uint64_t bytes, blocks;
	bool accounting = ivm_mem_usage(&bytes, &blocks);

	for (unsigned d = 0; d < NDOMS; d++) {
		struct ivm_domain_stats s;
		ivm_flush_domain(H.dom[d]);
		ivm_domain_trim(H.dom[d]);
		ivm_domain_get_stats(H.dom[d], &s);
		uint64_t want_used = d == DOM_A ? H.region_pages[d] : 0;
		if (s.mappings || s.mapped_pages || s.reservations ||
		    s.flush_queued || s.iova_cached_pages ||
		    s.iova_used_pages != want_used ||
		    s.pt_tables != empty_tables[d] || s.pt_empty_tables)
			violation("teardown", "domain %c after everything was "
				  "unmapped and trimmed: %llu mappings, %llu "
				  "pages, %llu reservations, %llu queued, IOVA "
				  "used %llu (want %llu) cached %llu, %llu page "
				  "tables (an empty domain has %llu), %llu empty",
				  'A' + d, (unsigned long long)s.mappings,
				  (unsigned long long)s.mapped_pages,
				  (unsigned long long)s.reservations,
				  (unsigned long long)s.flush_queued,
				  (unsigned long long)s.iova_used_pages,
				  (unsigned long long)want_used,
				  (unsigned long long)s.iova_cached_pages,
				  (unsigned long long)s.pt_tables,
				  (unsigned long long)empty_tables[d],
				  (unsigned long long)s.pt_empty_tables);
		if (s.iotlb_violations)
			violation("stale-translation", "domain %c: %llu "
				  "stale-translation violations in total",
				  'A' + d, (unsigned long long)s.iotlb_violations);
		printf("  teardown: domain %c: no mapping, reservation or "
		       "queued range left; IOVA in use %llu pages (%s); %llu "
		       "page tables (as an empty domain)\n", 'A' + d,
		       (unsigned long long)s.iova_used_pages,
		       d == DOM_A ? "its reserved regions" : "no allocator",
		       (unsigned long long)s.pt_tables);
	}
	for (unsigned d = 0; d < NDOMS; d++) {
		ivm_swdev_destroy(&H.dev[d]);
		uint64_t held = settled_bytes();
		ivm_domain_destroy(&H.dom[d]);
		uint64_t footprint = held - settled_bytes();
		if (!accounting)
			continue;
		if (footprint != empty_bytes[d])
			violation("memory", "domain %c held %llu bytes at the end, "
				  "an empty domain %llu", 'A' + d,
				  (unsigned long long)footprint,
				  (unsigned long long)empty_bytes[d]);
		printf("  teardown: domain %c held %llu bytes (an empty domain: "
		       "%llu)\n", 'A' + d, (unsigned long long)footprint,
		       (unsigned long long)empty_bytes[d]);
	}
	if (accounting) {
		bytes = settled_bytes();
		ivm_mem_usage(&bytes, &blocks);
		if (bytes != start_bytes)
			violation("memory", "%lld bytes in %llu blocks still "
				  "allocated after every domain was destroyed",
				  (long long)(bytes - start_bytes),
				  (unsigned long long)blocks);
		else
			printf("  teardown: every byte iovamap allocated was "
			       "given back\n");
	} else {
		printf("  teardown: memory accounting is not in this build "
		       "(meson -Dfault_injection=true)\n");
	}
}
