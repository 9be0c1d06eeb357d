/* SPDX-License-Identifier: MIT */
/*
 * probes.c - the operations of iovamap-stress that look at mappings rather
 * than change them (ivm_translate, model-device DMA), the flushes, trims
 * and stats calls, the double-unmap contests, the malformed calls, and the
 * worker loop that draws them all from the mix.  ops.c has the maps,
 * unmaps and reservations; its top comment lists the checks.
 *
 * Design source: as ops.c.  The racing probes read addresses that other
 * workers are unmapping and remapping at that moment; model.c says what
 * such a read may return.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ops.h"

#define DA H.dom[DOM_A]

/* ---- translate ------------------------------------------------------------------------ */

static void op_translate(struct worker *w)
{
	if (w->nlive > 0 && rng_below(&w->rng, 2) == 0) {
		const struct live *l = &w->live[rng_below(&w->rng, w->nlive)];
		check_own_translation(w, l, rng_below(&w->rng, l->pages),
				      rng_below(&w->rng, PAGE));
		tally(w, OP_TRANSLATE, IVM_STATUS_SUCCESS);
		return;
	}
	unsigned dom;
	ivm_la la;
	if (!recent_pick(&w->rng, &dom, &la)) {
		w->count[OP_TRANSLATE].skipped++;
		return;
	}
	la += rng_below(&w->rng, SMALL_PAGES) * PAGE + rng_below(&w->rng, PAGE);
	uint64_t t0 = now_ms(), pa = 0;
	ivm_status st = ivm_translate(H.dom[dom], la, &pa, NULL);
	tally(w, OP_TRANSLATE, st);
	w->racing_translations++;
	if (st == IVM_STATUS_SUCCESS) {
		bool inconclusive;
		check_racing_translation(dom, la, pa, t0, &inconclusive);
		w->inconclusive += inconclusive;
	} else {
		EXPECT("ivm_translate(racing)", st, IVM_STATUS_INVALID_PARAMETER_2);
	}
}

/* ---- model device --------------------------------------------------------------------- */

/* A read of one's own mapping, or a write and its read back. */
static void dma_own(struct worker *w)
{
	const struct live *l = &w->live[rng_below(&w->rng, w->nlive)];
	struct ivm_swdev *dev = H.dev[l->dom];
	uint64_t page = rng_below(&w->rng, l->pages);
	uint64_t off, len;
	uint8_t data[ZONE_HEAD + ZONE_TAIL], back[ZONE_HEAD + ZONE_TAIL],
		before[ZONE_HEAD + ZONE_TAIL];

	if (page + 1 < l->pages && rng_below(&w->rng, 3) == 0) {
		/* Across a page boundary: the tail zone of one page into
		 * the head zone of the next (two translations). */
		uint64_t a = 1 + rng_below(&w->rng, ZONE_TAIL);
		len = a + 1 + rng_below(&w->rng, ZONE_HEAD);
		off = (page + 1) * PAGE - a;
	} else {
		len = 1 + rng_below(&w->rng, ZONE_HEAD);
		off = page * PAGE + rng_below(&w->rng, ZONE_HEAD - len + 1);
	}
	for (uint64_t i = 0; i < len; i++)
		data[i] = (uint8_t)rng_next(&w->rng);
	uint8_t *mem = l->slot->mem + off;
	memcpy(before, mem, len);
	ivm_la la = l->la + off;

	w->own_dmas++;
	ivm_status st = ivm_swdev_dma_write(dev, la, data, len);
	tally(w, OP_DMA, st);
	if (l->perms & IVM_PERM_WRITE) {
		if (st != IVM_STATUS_SUCCESS)
			violation("dma", "domain %c: device write of %llu bytes "
				  "to own live mapping (la 0x%llx, writable) "
				  "returned %s", 'A' + l->dom,
				  (unsigned long long)len, (unsigned long long)la,
				  ivm_status_name(st));
		else if (memcmp(mem, data, len) != 0)
			violation("dma", "domain %c: device write to la 0x%llx "
				  "did not land in the mapping's memory 0x%llx",
				  'A' + l->dom, (unsigned long long)la,
				  (unsigned long long)(uintptr_t)mem);
	} else {
		if (st != IVM_STATUS_ACCESS_VIOLATION)
			bad_status("ivm_swdev_dma_write(mapping without write)",
				   st, "IVM_STATUS_ACCESS_VIOLATION");
		if (memcmp(mem, before, len) != 0)
			violation("dma", "domain %c: a refused device write to "
				  "la 0x%llx changed memory", 'A' + l->dom,
				  (unsigned long long)la);
	}
	st = ivm_swdev_dma_read(dev, la, back, len);
	tally(w, OP_DMA, st);
	if (l->perms & IVM_PERM_READ) {
		if (st != IVM_STATUS_SUCCESS)
			violation("dma", "domain %c: device read of own live "
				  "mapping (la 0x%llx, readable) returned %s",
				  'A' + l->dom, (unsigned long long)la,
				  ivm_status_name(st));
		else if (memcmp(back, mem, len) != 0)
			violation("dma", "domain %c: device read of la 0x%llx "
				  "did not return the mapping's memory",
				  'A' + l->dom, (unsigned long long)la);
	} else if (st != IVM_STATUS_ACCESS_VIOLATION) {
		bad_status("ivm_swdev_dma_read(mapping without read)", st,
			   "IVM_STATUS_ACCESS_VIOLATION");
	}
}

/* A read through an address another worker may be unmapping or
 * remapping right now. */
static void dma_racing(struct worker *w)
{
	unsigned dom;
	ivm_la la;
	uint64_t words[ZONE_HEAD / 8];

	if (rng_below(&w->rng, 2) == 0) {
		/* Any page of a shared explicit window: the pages other
		 * workers' maps are installing (and, when they fail, taking
		 * back) right now, not only the starts of finished ones. */
		dom = (unsigned)rng_below(&w->rng, NDOMS);
		uint64_t base = dom == DOM_A ? H.lay.ea : H.lay.eb;
		uint64_t span = dom == DOM_A ? H.lay.ea_pages : H.lay.eb_pages;
		la = (base + rng_below(&w->rng, span)) * PAGE;
	} else if (recent_pick(&w->rng, &dom, &la)) {
		la += rng_below(&w->rng, SMALL_PAGES) * PAGE;
	} else {
		w->count[OP_DMA].skipped++;
		return;
	}
	uint64_t k = rng_below(&w->rng, ZONE_HEAD / 8);
	uint64_t n = 1 + rng_below(&w->rng, ZONE_HEAD / 8 - k);
	la += 8 * k;
	w->racing_dmas++;
	ivm_status st = ivm_swdev_dma_read(H.dev[dom], la, words, n * 8);
	tally(w, OP_DMA, st);
	if (st == IVM_STATUS_SUCCESS) {
		for (uint64_t i = 0; i < n; i++)
			if (words[i] == POISON) {
				violation("dma", "domain %c: device read of la "
					  "0x%llx returned freed (poisoned) "
					  "memory", 'A' + dom,
					  (unsigned long long)(la + 8 * i));
				break;
			}
	} else {
		EXPECT("ivm_swdev_dma_read(racing)", st,
		       IVM_STATUS_ACCESS_VIOLATION);
	}
}

static void op_dma(struct worker *w)
{
	if (w->nlive > 0 && rng_below(&w->rng, 2) == 0)
		dma_own(w);
	else
		dma_racing(w);
}

/* ---- flush, trim, stats ------------------------------------------------------------ */

static void op_flush(struct worker *w)
{
	uint64_t r = rng_below(&w->rng, 100);
	ivm_status st;

	if (r < 45) {
		settle_quarantine(w); /* ivm_flush_domain(A), checked */
		st = IVM_STATUS_SUCCESS;
	} else if (r < 60) {
		st = ivm_flush_domain(H.dom[DOM_B]);
		EXPECT("ivm_flush_domain", st, IVM_STATUS_SUCCESS);
	} else if (r < 85) {
		size_t n = 0;
		st = ivm_flush_poll(DA, &n);
		EXPECT("ivm_flush_poll", st, IVM_STATUS_SUCCESS);
	} else {
		unsigned dom = (unsigned)rng_below(&w->rng, NDOMS), d;
		ivm_la list[4];
		size_t count = 1 + rng_below(&w->rng, 4);
		for (size_t i = 0; i < count; i++)
			if (!recent_pick(&w->rng, &d, &list[i]) || d != dom)
				list[i] = H.lay.eb * PAGE;
		st = ivm_flush_domain_by_va_list(H.dom[dom],
						 rng_below(&w->rng, 2), count,
						 list);
		EXPECT("ivm_flush_domain_by_va_list", st, IVM_STATUS_SUCCESS);
	}
	tally(w, OP_FLUSH, st);
}

static void op_trim(struct worker *w)
{
	ivm_status st = ivm_domain_trim(H.dom[rng_below(&w->rng, NDOMS)]);
	tally(w, OP_TRIM, st);
	EXPECT("ivm_domain_trim", st, IVM_STATUS_SUCCESS);
}

static void op_stats(struct worker *w)
{
	struct ivm_domain_stats s;
	unsigned dom = (unsigned)rng_below(&w->rng, NDOMS);
	ivm_status st = ivm_domain_get_stats(H.dom[dom], &s);

	tally(w, OP_STATS, st);
	EXPECT("ivm_domain_get_stats", st, IVM_STATUS_SUCCESS);
}

/* ---- contests: two unmaps of one mapping --------------------------------------------- */

static void contest_arm(struct worker *w, unsigned e)
{
	struct contest *c = &H.contest[e];
	uint64_t s0 = atomic_load_explicit(&c->state, memory_order_relaxed);

	if (w->nlive >= MAX_LIVE || C_PHASE(s0) != C_IDLE ||
	    !atomic_compare_exchange_strong_explicit(
		    &c->state, &s0, (s0 & ~3ull) | C_SETUP,
		    memory_order_relaxed, memory_order_relaxed))
		return;
	struct slot *s = take_slot(w, POOL_SMALL);
	if (!s) {
		atomic_store_explicit(&c->state, s0, memory_order_relaxed);
		return;
	}
	uint64_t pages = pick_pages(w, SMALL_PAGES);
	ivm_la la = (H.lay.contest + (uint64_t)e * CONTEST_PAGES +
		     rng_below(&w->rng, CONTEST_PAGES - pages + 1)) * PAGE;
	struct ivm_phys phys;
	make_phys(w, s, pages, IVM_PHYS_BUFFER, &phys);
	slot_note_mapping(s, DOM_B, true, la);
	ivm_la got;
	ivm_status st = ivm_map_logical_range_ex(H.dom[DOM_B], IVM_PERM_READ,
						 &phys, &la, NULL, NULL, &got);
	tally(w, OP_CONTEST, st);
	/* The entry's window is its own: nothing else maps there. */
	EXPECT("ivm_map_logical_range_ex(contest)", st, IVM_STATUS_SUCCESS,
	       injected_or_success());
	if (st != IVM_STATUS_SUCCESS) {
		slot_note_gone(s, DOM_B, true, la);
		release_slot(w, s, true);
		atomic_store_explicit(&c->state, s0, memory_order_relaxed);
		return;
	}
	slot_note_live(s, DOM_B, la);
	/* From now on anyone may unmap it. */
	slot_note_unmapping(s, DOM_B, la);
	recent_publish(DOM_B, la);
	uint64_t gen = (C_GEN(s0) + 1) & 0xffff;
	w->mine[e] = (struct contest_mine){ s, gen, la, pages };
	w->contests |= 1u << e;
	atomic_store_explicit(&c->tickets, gen << 2, memory_order_relaxed);
	atomic_store_explicit(&c->racer, gen << 2, memory_order_relaxed);
	/* Release: tickets and racer reset before the arming is seen
	 * (pairs with the racer's acquire of state). */
	atomic_store_explicit(&c->state,
			      gen << 48 | pages << 40 | (la >> 12) << 2 | C_ARMED,
			      memory_order_release);
}

/* The owner's side: unmap too, then check that exactly one won. */
static void contest_finish(struct worker *w, unsigned e)
{
	struct contest *c = &H.contest[e];
	struct contest_mine *m = &w->mine[e];
	uint64_t t = atomic_fetch_add_explicit(&c->tickets, 1,
					       memory_order_relaxed);
	/* The racer took its ticket and has not posted a result: the two
	 * unmaps overlap in time (on a busy machine, now and then). */
	if ((t & 3) != 0 &&
	    (atomic_load_explicit(&c->racer, memory_order_relaxed) & 3) == 0)
		w->contests_overlapped++;
	ivm_status st = ivm_unmap_logical_range(H.dom[DOM_B], m->la, m->pages);

	tally(w, OP_CONTEST, st);
	if ((t & 3) == 0) {
		if (st != IVM_STATUS_SUCCESS)
			violation("contest", "unmap of contest mapping 0x%llx "
				  "(nobody else raced) returned %s",
				  (unsigned long long)m->la, ivm_status_name(st));
	} else {
		uint64_t r;
		/* Acquire: pairs with the racer's release of its result. */
		while (((r = atomic_load_explicit(&c->racer,
						  memory_order_acquire)) & 3) == 0)
			sched_yield();
		r &= 3;
		bool mine = st == IVM_STATUS_SUCCESS, theirs = r == 1;
		bool loser_ok = mine ? r == 2 : st == IVM_STATUS_INVALID_PARAMETER;
		if (mine == theirs || !loser_ok)
			violation("contest", "two unmaps of mapping 0x%llx+%llu: "
				  "owner got %s, racer got %s; exactly one must "
				  "succeed, the other get INVALID_PARAMETER",
				  (unsigned long long)m->la,
				  (unsigned long long)m->pages,
				  ivm_status_name(st),
				  r == 1 ? "SUCCESS" : r == 2 ? "INVALID_PARAMETER"
							  : "another status");
		w->contests_won += mine;
	}
	slot_note_gone(m->slot, DOM_B, true, m->la);
	release_slot(w, m->slot, true);
	w->contests &= ~(1u << e);
	/* Release: the entry is free for a new arming only now. */
	atomic_store_explicit(&c->state, m->gen << 48 | C_IDLE,
			      memory_order_release);
}

/* A racer's side: the first taker of the arming's ticket unmaps. */
static void contest_race(struct worker *w, unsigned e)
{
	struct contest *c = &H.contest[e];
	/* Acquire: pairs with the owner's release of C_ARMED. */
	uint64_t s = atomic_load_explicit(&c->state, memory_order_acquire);

	if (C_PHASE(s) != C_ARMED)
		return;
	uint64_t t = C_GEN(s) << 2;
	if (!atomic_compare_exchange_strong_explicit(&c->tickets, &t, t | 1,
						     memory_order_relaxed,
						     memory_order_relaxed))
		return; /* taken, or a later arming */
	ivm_status st = ivm_unmap_logical_range(H.dom[DOM_B], C_LA(s), C_PAGES(s));
	tally(w, OP_CONTEST, st);
	w->contests_raced++;
	uint64_t r = st == IVM_STATUS_SUCCESS ? 1
		   : st == IVM_STATUS_INVALID_PARAMETER ? 2 : 3;
	/* Release: pairs with the owner's acquire in contest_finish. */
	atomic_store_explicit(&c->racer, C_GEN(s) << 2 | r, memory_order_release);
}

static void op_contest(struct worker *w)
{
	unsigned e = (unsigned)rng_below(&w->rng, CONTESTS);
	uint64_t r = rng_below(&w->rng, 3);

	if (w->contests && r == 0) {
		for (unsigned k = 0; k < CONTESTS; k++)
			if (w->contests & (1u << ((e + k) % CONTESTS))) {
				contest_finish(w, (e + k) % CONTESTS);
				return;
			}
	}
	if (r == 1)
		contest_arm(w, e);
	else
		contest_race(w, e);
}

/* ---- bad input: exact statuses --------------------------------------------------------- */

static void op_bad(struct worker *w)
{
	struct slot *s = w->pool[POOL_SMALL][0]; /* memory only named */
	struct ivm_phys phys;
	ivm_la la = H.lay.ea * PAGE, out;
	uint64_t pa;
	ivm_status st, want;
	const char *what;
	const uint64_t top = H.lay.space * PAGE; /* 2^width */

	make_phys(w, s, 1, IVM_PHYS_BUFFER, &phys);
	switch (rng_below(&w->rng, 18)) {
	case 0:
		what = "map: reserved permission bit";
		st = ivm_map_logical_range_ex(DA, 4, &phys, NULL, NULL, NULL, &out);
		want = IVM_STATUS_INVALID_PARAMETER_2;
		break;
	case 1:
		what = "map: phys NULL";
		st = ivm_map_logical_range_ex(DA, 1, NULL, NULL, NULL, NULL, &out);
		want = IVM_STATUS_INVALID_PARAMETER_3;
		break;
	case 2:
		what = "map: buffer not page aligned";
		phys.buffer.va = s->mem + 8;
		st = ivm_map_logical_range_ex(DA, 1, &phys, NULL, NULL, NULL, &out);
		want = IVM_STATUS_INVALID_PARAMETER_3;
		break;
	case 3:
		what = "map: size not a page multiple";
		phys.buffer.size = PAGE + 512;
		st = ivm_map_logical_range_ex(DA, 1, &phys, NULL, NULL, NULL, &out);
		want = IVM_STATUS_INVALID_PARAMETER_3;
		break;
	case 4:
		what = "map: explicit address not page aligned";
		la += 100;
		st = ivm_map_logical_range_ex(DA, 1, &phys, &la, NULL, NULL, &out);
		want = IVM_STATUS_INVALID_PARAMETER_4;
		break;
	case 5:
		what = "map: explicit range past the width";
		la = top - PAGE;
		phys.buffer.size = 2 * PAGE;
		st = ivm_map_logical_range_ex(DA, 1, &phys, &la, NULL, NULL, &out);
		want = IVM_STATUS_INVALID_PARAMETER_4;
		break;
	case 6: {
		what = "map: min above max";
		ivm_la min = 2 * H.lay.ea * PAGE, max = H.lay.ea * PAGE;
		st = ivm_map_logical_range_ex(DA, 1, &phys, NULL, &min, &max, &out);
		want = IVM_STATUS_INVALID_PARAMETER_MIX;
		break;
	}
	case 7:
		what = "map: la_out NULL";
		st = ivm_map_logical_range_ex(DA, 1, &phys, NULL, NULL, NULL, NULL);
		want = IVM_STATUS_INVALID_PARAMETER;
		break;
	case 8:
		what = "map: no explicit address on a domain without allocator";
		st = ivm_map_logical_range_ex(H.dom[DOM_B], 1, &phys, NULL, NULL,
					      NULL, &out);
		want = IVM_STATUS_NOT_SUPPORTED;
		break;
	case 9: {
		what = "map: explicit over a reserved region";
		unsigned dom = (unsigned)rng_below(&w->rng, NDOMS);
		la = (dom == DOM_A ? H.lay.region_a : H.lay.region_b) * PAGE;
		st = ivm_map_logical_range_ex(H.dom[dom], 1, &phys, &la, NULL,
					      NULL, &out);
		want = IVM_STATUS_IN_USE;
		break;
	}
	case 10:
		what = "unmap: address not page aligned";
		st = ivm_unmap_logical_range(DA, la + 1, 1);
		want = IVM_STATUS_INVALID_PARAMETER_2;
		break;
	case 11:
		what = "unmap: zero pages";
		st = ivm_unmap_logical_range(DA, la, 0);
		want = IVM_STATUS_INVALID_PARAMETER_3;
		break;
	case 12:
		what = "unmap: range past the width";
		st = ivm_unmap_logical_range(DA, top - PAGE, 2);
		want = IVM_STATUS_INVALID_PARAMETER_3;
		break;
	case 13:
		what = "unmap: nothing mapped there";
		st = ivm_unmap_logical_range(H.dom[DOM_B],
					     (H.lay.void_b + rng_below(&w->rng,
								       H.lay.void_pages - 4)) * PAGE,
					     1 + rng_below(&w->rng, 4));
		want = IVM_STATUS_INVALID_PARAMETER;
		break;
	case 14:
		what = "translate: past the width";
		st = ivm_translate(DA, top + rng_below(&w->rng, PAGE), &pa, NULL);
		want = IVM_STATUS_INVALID_PARAMETER_2;
		break;
	case 15:
		what = "reserve: size not a page multiple";
		st = ivm_reserve_logical_range(DA, PAGE + 1, NULL, NULL, NULL,
					       &(struct ivm_reservation *){ NULL });
		want = IVM_STATUS_INVALID_PARAMETER_2;
		break;
	case 16: {
		what = "flush by list: address past the width";
		ivm_la list[2] = { la, top };
		st = ivm_flush_domain_by_va_list(DA, true, 2, list);
		want = IVM_STATUS_INVALID_PARAMETER_4;
		break;
	}
	default: {
		what = "identity: PFN array";
		uint64_t pfn = (uint64_t)(uintptr_t)s->mem >> 12;
		phys.type = IVM_PHYS_PFN_ARRAY;
		phys.pfn_array.pfns = &pfn;
		phys.pfn_array.count = 1;
		st = ivm_map_identity_range_ex(DA, 1, &phys);
		want = IVM_STATUS_NOT_SUPPORTED;
		break;
	}
	}
	tally(w, OP_BAD, st);
	if (st != want) {
		char call[128];
		snprintf(call, sizeof(call), "bad input (%s)", what);
		bad_status(call, st, ivm_status_name(want));
	}
}

/* ---- the loop ------------------------------------------------------------------------ */

void worker_init(struct worker *w, unsigned tid)
{
	w->tid = tid;
	w->rng = seed_mix(H.cfg.seed, tid + 1);
}

/* Park at a quiet phase (main.c asks): wait until it is over.  A parked
 * thread is unregistered from RCU so that it holds no grace period up
 * (QSBR); its next iovamap call registers it again. */
static void park(void)
{
	ivm_thread_unregister();
	pthread_mutex_lock(&H.pause_lock);
	if (atomic_load_explicit(&H.pause_requested, memory_order_relaxed)) {
		uint64_t gen = H.pause_gen;
		H.parked++;
		pthread_cond_broadcast(&H.pause_cv);
		while (H.pause_gen == gen)
			pthread_cond_wait(&H.pause_cv, &H.pause_lock);
		H.parked--;
		pthread_cond_broadcast(&H.pause_cv); /* resume_workers waits */
	}
	pthread_mutex_unlock(&H.pause_lock);
}

static enum op pick_op(struct worker *w, unsigned total)
{
	uint64_t x = rng_below(&w->rng, total);

	for (unsigned op = 0; op < NOPS; op++) {
		if (x < H.cfg.weights[op])
			return (enum op)op;
		x -= H.cfg.weights[op];
	}
	return OP_TRANSLATE;
}

void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned total = 0;

	for (unsigned op = 0; op < NOPS; op++)
		total += H.cfg.weights[op];
	ivm_thread_register();
#if IVM_FAULT_INJECTION
	if (faults_on())
		ivm_fault_thread_start(seed_mix(H.cfg.seed, 1000 + w->tid));
#endif
	while (!atomic_load_explicit(&H.stop, memory_order_relaxed)) {
		if (atomic_load_explicit(&H.pause_requested, memory_order_relaxed)) {
			park();
			continue; /* look at stop (and pause) again */
		}
		switch (pick_op(w, total)) {
		case OP_MAP: op_map(w, OP_MAP); break;
		case OP_MAP_EXPLICIT: op_map_explicit(w); break;
		case OP_MAP_MIN: op_map(w, OP_MAP_MIN); break;
		case OP_MAP_MAX: op_map(w, OP_MAP_MAX); break;
		case OP_UNMAP: op_unmap(w); break;
		case OP_TRANSLATE: op_translate(w); break;
		case OP_DMA: op_dma(w); break;
		case OP_FLUSH: op_flush(w); break;
		case OP_RESERVE: op_reserve(w); break;
		case OP_IDENTITY: op_identity(w); break;
		case OP_TRIM: op_trim(w); break;
		case OP_STATS: op_stats(w); break;
		case OP_CONTEST: op_contest(w); break;
		default: op_bad(w); break;
		}
		atomic_store_explicit(&w->ops,
				      atomic_load_explicit(&w->ops,
							   memory_order_relaxed) + 1,
				      memory_order_relaxed);
		ivm_quiescent();
	}
	pthread_mutex_lock(&H.pause_lock);
	H.running--;
	pthread_cond_broadcast(&H.pause_cv);
	pthread_mutex_unlock(&H.pause_lock);
#if IVM_FAULT_INJECTION
	ivm_fault_thread_stop();
#endif
	worker_teardown(w);
	return NULL;
}

void worker_teardown(struct worker *w)
{
	/* Contests first: a racer may still hold a ticket. */
	for (unsigned e = 0; e < CONTESTS; e++)
		if (w->contests & (1u << e))
			contest_finish(w, e);
	while (w->nlive > 0)
		unmap_live(w, w->nlive - 1);
	for (int i = 0; i < MAX_RESV; i++)
		if (w->resv[i].used)
			resv_free(w, i);
	settle_quarantine(w);
}
