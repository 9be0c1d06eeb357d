/* SPDX-License-Identifier: MIT */
/*
 * stress_pagetable.c - threads racing map, unmap and translate on one
 * domain, checked against a shadow model (meson suite "stress"; run under
 * ThreadSanitizer and AddressSanitizer by scripts/test.sh).
 *
 * Every mapping's physical addresses encode (slot, generation, page), so
 * a reader can tell a real translation (some generation that was mapped
 * there, the right page of it) from garbage or a torn entry.
 *
 * Seconds per scenario: IVM_STRESS_SECONDS (default 1).  Seed:
 * IVM_STRESS_SEED (default fixed); printed on failure.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "iovamap/iovamap.h"
#include "pagetable.h"
#include "rcu.h"

#define PAGE IVM_PAGE_SIZE
#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define PA_TAG (1ull << 50)

static double stress_seconds = 1.0;
static uint64_t stress_seed = 0x5eed1234abcdull;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* pa of page i of slot s's generation g (small mappings, i < 8). */
static uint64_t encode_pa(uint64_t slot, uint64_t gen, uint64_t i)
{
	return PA_TAG | (slot << 35) | ((gen & 0xfffff) << 15) | (i << 12);
}

/* pa of a 2 MiB slot's generation g: 2 MiB aligned, so it maps as one
 * large leaf; page i of it is at + i * 4 KiB. */
static uint64_t encode_large_pa(uint64_t slot, uint64_t gen)
{
	return PA_TAG | (slot << 35) | ((gen & 0x3fff) << 21);
}

/* ------------------------------------------------------------------ */
/* Disjoint churn with readers                                          */
/* ------------------------------------------------------------------ */

#define SLOTS_PER_WRITER 256
#define WRITERS 3
#define READERS 2
#define SLOT_SPAN (8 * PAGE)            /* small slots: 1..3 pages */
#define LARGE_SLOTS 4                   /* per writer: 2 MiB slots */

struct churn {
	struct ivm_domain *d;
	_Atomic bool stop;
	/* Highest generation ever mapped per slot (readers' bound). */
	_Atomic uint64_t gen[WRITERS * (SLOTS_PER_WRITER + LARGE_SLOTS)];
	_Atomic uint64_t translations, hits, errors;
};

static ivm_la small_slot_la(unsigned w, unsigned k)
{
	return 0x100000000ull + ((uint64_t)w << 30) + (uint64_t)k * SLOT_SPAN;
}

static ivm_la large_slot_la(unsigned w, unsigned k)
{
	return 0x4000000000ull + ((uint64_t)w << 32) + (uint64_t)k * 2 * MiB;
}

struct writer_arg {
	struct churn *c;
	unsigned w;
};

static void *churn_writer(void *p)
{
	struct writer_arg *a = p;
	struct churn *c = a->c;
	uint64_t rng = stress_seed + a->w * 7919;
	uint8_t pages[SLOTS_PER_WRITER + LARGE_SLOTS] = { 0 };
	uint64_t gen[SLOTS_PER_WRITER + LARGE_SLOTS] = { 0 };

	while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		unsigned k = (unsigned)(rng_next(&rng) % (SLOTS_PER_WRITER + LARGE_SLOTS));
		bool large = k >= SLOTS_PER_WRITER;
		unsigned slot = a->w * (SLOTS_PER_WRITER + LARGE_SLOTS) + k;
		ivm_la la = large ? large_slot_la(a->w, k - SLOTS_PER_WRITER)
				  : small_slot_la(a->w, k);
		if (pages[k] == 0) {
			uint64_t n = large ? 512 : 1 + rng_next(&rng) % 3;
			uint64_t g = ++gen[k];
			/* Publish the generation before the mapping. */
			atomic_store_explicit(&c->gen[slot], g, memory_order_release);
			struct ivm_phys phys = { .type = IVM_PHYS_CONTIGUOUS };
			phys.contiguous.base = large ? encode_large_pa(slot, g)
						     : encode_pa(slot, g, 0);
			phys.contiguous.size = n * PAGE;
			ivm_la out;
			ivm_status st = ivm_map_logical_range_ex(c->d, IVM_PERM_READ, &phys,
								 &la, NULL, NULL, &out);
			if (st != IVM_STATUS_SUCCESS || out != la)
				atomic_fetch_add(&c->errors, 1);
			else
				pages[k] = (uint8_t)(large ? 1 : n);
		} else {
			uint64_t n = large ? 512 : pages[k];
			if (ivm_unmap_logical_range(c->d, la, n) != IVM_STATUS_SUCCESS)
				atomic_fetch_add(&c->errors, 1);
			pages[k] = 0;
		}
		ivm_quiescent();
	}
	for (unsigned k = 0; k < SLOTS_PER_WRITER + LARGE_SLOTS; k++) {
		if (!pages[k])
			continue;
		bool large = k >= SLOTS_PER_WRITER;
		ivm_la la = large ? large_slot_la(a->w, k - SLOTS_PER_WRITER)
				  : small_slot_la(a->w, k);
		if (ivm_unmap_logical_range(c->d, la, large ? 512 : pages[k]) !=
		    IVM_STATUS_SUCCESS)
			atomic_fetch_add(&c->errors, 1);
	}
	return NULL;
}

/* Check one translation against the model: the right slot and page, a
 * generation that was published, the permission every map used. */
static bool translation_valid(struct churn *c, ivm_la la, uint64_t pa,
			      uint32_t perms)
{
	unsigned w, k, slot;
	uint64_t page;

	if (la >= 0x4000000000ull) {
		ivm_la off = la - 0x4000000000ull;
		w = (unsigned)(off >> 32);
		k = (unsigned)((off & 0xffffffffull) / (2 * MiB));
		page = ((off & 0xffffffffull) % (2 * MiB)) / PAGE;
		slot = w * (SLOTS_PER_WRITER + LARGE_SLOTS) + SLOTS_PER_WRITER + k;
	} else {
		ivm_la off = la - 0x100000000ull;
		w = (unsigned)(off >> 30);
		k = (unsigned)((off & (GiB - 1)) / SLOT_SPAN);
		page = ((off & (GiB - 1)) % SLOT_SPAN) / PAGE;
		slot = w * (SLOTS_PER_WRITER + LARGE_SLOTS) + k;
	}
	uint64_t g_max = atomic_load_explicit(&c->gen[slot], memory_order_acquire);
	if ((pa & (PAGE - 1)) != (la & (PAGE - 1)) || !(pa & PA_TAG) ||
	    perms != IVM_PERM_READ)
		return false;
	uint64_t pslot = (pa >> 35) & 0x7fff;
	if (slot >= SLOTS_PER_WRITER * WRITERS + LARGE_SLOTS * WRITERS)
		return false;
	if (la >= 0x4000000000ull) {
		uint64_t pgen = (pa >> 21) & 0x3fff;
		return pslot == slot && ((pa >> 12) & 511) == page &&
		       pgen >= 1 && pgen <= g_max;
	}
	uint64_t pgen = (pa >> 15) & 0xfffff;
	uint64_t ppage = (pa >> 12) & 0x7;
	return pslot == slot && ppage == page && pgen >= 1 && pgen <= g_max;
}

static void *churn_reader(void *p)
{
	struct churn *c = p;
	uint64_t rng = stress_seed ^ 0xabcdef;

	while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		unsigned w = (unsigned)(rng_next(&rng) % WRITERS);
		ivm_la la;
		if (rng_next(&rng) % 8 == 0)
			la = large_slot_la(w, (unsigned)(rng_next(&rng) % LARGE_SLOTS)) +
			     rng_next(&rng) % (2 * MiB);
		else
			la = small_slot_la(w, (unsigned)(rng_next(&rng) % SLOTS_PER_WRITER)) +
			     rng_next(&rng) % (3 * PAGE);
		uint64_t pa = 0;
		uint32_t perms = 0;
		ivm_status st = ivm_translate(c->d, la, &pa, &perms);
		atomic_fetch_add_explicit(&c->translations, 1, memory_order_relaxed);
		if (st == IVM_STATUS_SUCCESS) {
			atomic_fetch_add_explicit(&c->hits, 1, memory_order_relaxed);
			if (!translation_valid(c, la, pa, perms) &&
			    atomic_fetch_add(&c->errors, 1) < 8)
				fprintf(stderr, "  bad translation la 0x%" PRIx64
					" -> pa 0x%" PRIx64 "\n", la, pa);
		} else if (st != IVM_STATUS_INVALID_PARAMETER_2) {
			atomic_fetch_add(&c->errors, 1);
		}
		ivm_quiescent();
	}
	return NULL;
}

IVM_TEST(disjoint_churn_with_readers)
{
	static struct churn c;
	struct ivm_domain_config cfg = { 0 };
	pthread_t wt[WRITERS], rt[READERS];
	struct writer_arg wa[WRITERS];

	CHECK_STATUS(ivm_domain_create(&cfg, &c.d), IVM_STATUS_SUCCESS);
	for (unsigned i = 0; i < READERS; i++)
		pthread_create(&rt[i], NULL, churn_reader, &c);
	for (unsigned i = 0; i < WRITERS; i++) {
		wa[i].c = &c;
		wa[i].w = i;
		pthread_create(&wt[i], NULL, churn_writer, &wa[i]);
	}
	/* Meanwhile sweep: tables the writers empty are sealed and retired
	 * while they map into them (pagetable.c, reclamation). */
	double end = now() + stress_seconds;
	while (now() < end) {
		CHECK_STATUS(ivm_domain_trim(c.d), IVM_STATUS_SUCCESS);
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	atomic_store(&c.stop, true);
	for (unsigned i = 0; i < WRITERS; i++)
		pthread_join(wt[i], NULL);
	for (unsigned i = 0; i < READERS; i++)
		pthread_join(rt[i], NULL);

	CHECK_EQ_U64(atomic_load(&c.errors), 0);
	CHECK(atomic_load(&c.hits) > 0);
	CHECK(atomic_load(&c.hits) < atomic_load(&c.translations));
	struct ivm_domain_stats st;
	CHECK_STATUS(ivm_domain_get_stats(c.d, &st), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(st.mappings, 0);
	CHECK_EQ_U64(st.mapped_pages, 0);
	/* Every table comes back once the domain is trimmed. */
	CHECK_STATUS(ivm_domain_trim(c.d), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_domain_get_stats(c.d, &st), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(st.pt_tables, 1);
	printf("  %" PRIu64 " translations (%" PRIu64 " hits) during churn\n",
	       atomic_load(&c.translations), atomic_load(&c.hits));
	ivm_domain_destroy(&c.d);
}

/* ------------------------------------------------------------------ */
/* Overlapping maps, racing unmaps                                      */
/* ------------------------------------------------------------------ */

struct race {
	struct ivm_domain *d;
	pthread_barrier_t start, done;
	_Atomic int go;   /* spin start: both racers leave within ~100 ns */
	int rounds;
	ivm_la la[2];
	uint64_t pages[2];
	ivm_status result[2];
	bool unmap_mode;
};

struct race_arg {
	struct race *r;
	int me;
};

static void *race_thread(void *p)
{
	struct race_arg *a = p;
	struct race *r = a->r;

	for (int round = 0; round < r->rounds; round++) {
		pthread_barrier_wait(&r->start);
		while (atomic_load_explicit(&r->go, memory_order_acquire) != round + 1)
			;
		if (r->unmap_mode) {
			r->result[a->me] = ivm_unmap_logical_range(r->d, r->la[a->me],
								   r->pages[a->me]);
		} else {
			struct ivm_phys phys = { .type = IVM_PHYS_CONTIGUOUS };
			phys.contiguous.base = encode_pa((uint64_t)a->me, (uint64_t)round, 0);
			phys.contiguous.size = r->pages[a->me] * PAGE;
			ivm_la out;
			r->result[a->me] = ivm_map_logical_range_ex(
				r->d, IVM_PERM_READ | IVM_PERM_WRITE, &phys,
				&r->la[a->me], NULL, NULL, &out);
		}
		pthread_barrier_wait(&r->done);
	}
	return NULL;
}

static void run_overlap_races(const struct ivm_domain_config *cfg)
{
	static struct race r;
	pthread_t t[2];
	struct race_arg a[2] = { { &r, 0 }, { &r, 1 } };
	uint64_t rng = stress_seed;
	int rounds = (int)(2000 * stress_seconds);

	CHECK_STATUS(ivm_domain_create(cfg, &r.d), IVM_STATUS_SUCCESS);
	atomic_store(&r.go, 0);
	r.rounds = rounds;
	r.unmap_mode = false;
	pthread_barrier_init(&r.start, NULL, 3);
	pthread_barrier_init(&r.done, NULL, 3);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, race_thread, &a[i]);
	int wins[2] = { 0, 0 };
	for (int round = 0; round < rounds; round++) {
		/* Two ranges of 1..600 pages that overlap somewhere. */
		ivm_la base = 0x200000000ull + (rng_next(&rng) % 64) * 2 * MiB;
		r.pages[0] = 1 + rng_next(&rng) % 600;
		r.pages[1] = 1 + rng_next(&rng) % 600;
		uint64_t shift = rng_next(&rng) % r.pages[0];
		r.la[0] = base;
		r.la[1] = base + shift * PAGE;
		if (rng_next(&rng) & 1) { /* sometimes the other way round */
			ivm_la tmp = r.la[0];
			r.la[0] = r.la[1];
			r.la[1] = tmp;
			uint64_t tp = r.pages[0];
			r.pages[0] = r.pages[1];
			r.pages[1] = tp;
		}
		pthread_barrier_wait(&r.start);
		atomic_store_explicit(&r.go, round + 1, memory_order_release);
		pthread_barrier_wait(&r.done);
		bool ok0 = r.result[0] == IVM_STATUS_SUCCESS;
		bool ok1 = r.result[1] == IVM_STATUS_SUCCESS;
		/* Overlap is only certain when each range contains the other's
		 * first page or they share one; with a shift < pages[0] it is. */
		CHECK(ok0 != ok1);
		int winner = ok0 ? 0 : 1, loser = 1 - winner;
		CHECK_STATUS(r.result[loser], IVM_STATUS_IN_USE);
		wins[winner]++;
		/* The loser left nothing: its pages outside the winner's range
		 * are unmapped, the shared ones are the winner's. */
		for (uint64_t i = 0; i < r.pages[loser]; i += 1 + r.pages[loser] / 16) {
			ivm_la la = r.la[loser] + i * PAGE;
			uint64_t pa;
			ivm_status st = ivm_translate(r.d, la, &pa, NULL);
			bool in_winner = la >= r.la[winner] &&
					 la < r.la[winner] + r.pages[winner] * PAGE;
			if (in_winner) {
				CHECK_STATUS(st, IVM_STATUS_SUCCESS);
				CHECK_EQ_U64(pa, encode_pa((uint64_t)winner, (uint64_t)round, 0) +
						 (la - r.la[winner]));
			} else {
				CHECK_STATUS(st, IVM_STATUS_INVALID_PARAMETER_2);
			}
		}
		if (ok0 || ok1)
			CHECK_STATUS(ivm_unmap_logical_range(r.d, r.la[winner],
							     r.pages[winner]),
				     IVM_STATUS_SUCCESS);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK(wins[0] > 0 && wins[1] > 0);
	struct ivm_domain_stats st;
	ivm_domain_get_stats(r.d, &st);
	CHECK_EQ_U64(st.mappings, 0);
	CHECK_EQ_U64(st.iova_used_pages, 0);
	pthread_barrier_destroy(&r.start);
	pthread_barrier_destroy(&r.done);
	ivm_domain_destroy(&r.d);
}

IVM_TEST(overlapping_maps_exactly_one_wins)
{
	struct ivm_domain_config cfg = { 0 };
	run_overlap_races(&cfg);
}

IVM_TEST(overlapping_maps_on_an_allocator_domain)
{
	struct ivm_allocator_config buddy = {
		.type = IVM_ALLOCATOR_BUDDY,
		.address_width = 40,
		.flags = IVM_ALLOCATOR_ALLOW_EXPLICIT,
	};
	struct ivm_domain_config cfg = { .allocator = &buddy };
	run_overlap_races(&cfg);
}

IVM_TEST(racing_unmaps_exactly_one_wins)
{
	static struct race r;
	pthread_t t[2];
	struct race_arg a[2] = { { &r, 0 }, { &r, 1 } };
	struct ivm_allocator_config buddy = { .type = IVM_ALLOCATOR_BUDDY,
					      .address_width = 36 };
	struct ivm_domain_config cfg = { .allocator = &buddy };
	uint64_t rng = stress_seed;
	int rounds = (int)(2000 * stress_seconds);

	CHECK_STATUS(ivm_domain_create(&cfg, &r.d), IVM_STATUS_SUCCESS);
	atomic_store(&r.go, 0);
	r.rounds = rounds;
	r.unmap_mode = true;
	pthread_barrier_init(&r.start, NULL, 3);
	pthread_barrier_init(&r.done, NULL, 3);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, race_thread, &a[i]);
	int wins[2] = { 0, 0 };
	for (int round = 0; round < rounds; round++) {
		/* Two adjacent mappings; thread 0 unmaps the first, thread 1
		 * either the same one or both at once. */
		uint64_t n0 = 1 + rng_next(&rng) % 4, n1 = 1ull << (rng_next(&rng) % 3);
		ivm_la la0, la1;
		struct ivm_phys p0 = { .type = IVM_PHYS_CONTIGUOUS,
				       .contiguous = { encode_pa(9, 1, 0), n0 * PAGE } };
		struct ivm_phys p1 = { .type = IVM_PHYS_CONTIGUOUS,
				       .contiguous = { encode_pa(9, 2, 0), n1 * PAGE } };
		CHECK_STATUS(ivm_map_logical_range_ex(r.d, IVM_PERM_READ, &p0, NULL,
						      NULL, NULL, &la0), IVM_STATUS_SUCCESS);
		CHECK_STATUS(ivm_map_logical_range_ex(r.d, IVM_PERM_READ, &p1, NULL,
						      NULL, NULL, &la1), IVM_STATUS_SUCCESS);
		r.la[0] = la0;
		r.pages[0] = n0;
		r.la[1] = la0;
		r.pages[1] = n0;
		bool both = la1 == la0 + n0 * PAGE && (n0 & (n0 - 1)) == 0 &&
			    (rng_next(&rng) & 1);
		if (both)
			r.pages[1] = n0 + n1;
		pthread_barrier_wait(&r.start);
		atomic_store_explicit(&r.go, round + 1, memory_order_release);
		pthread_barrier_wait(&r.done);
		bool ok0 = r.result[0] == IVM_STATUS_SUCCESS;
		bool ok1 = r.result[1] == IVM_STATUS_SUCCESS;
		CHECK(ok0 != ok1);
		CHECK_STATUS(r.result[ok0 ? 1 : 0], IVM_STATUS_INVALID_PARAMETER);
		wins[ok0 ? 0 : 1]++;
		uint64_t pa;
		CHECK_STATUS(ivm_translate(r.d, la0, &pa, NULL),
			     IVM_STATUS_INVALID_PARAMETER_2);
		if (!(both && ok1))
			CHECK_STATUS(ivm_unmap_logical_range(r.d, la1, n1),
				     IVM_STATUS_SUCCESS);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK(wins[0] > 0 && wins[1] > 0);
	struct ivm_domain_stats st;
	/* Lazy mode: empty the flush queues so every address is back. */
	CHECK_STATUS(ivm_flush_domain(r.d), IVM_STATUS_SUCCESS);
	ivm_domain_get_stats(r.d, &st);
	CHECK_EQ_U64(st.mappings, 0);
	CHECK_EQ_U64(st.flush_queued, 0);
	CHECK_EQ_U64(st.iova_used_pages - st.iova_cached_pages, 0);
	pthread_barrier_destroy(&r.start);
	pthread_barrier_destroy(&r.done);
	ivm_domain_destroy(&r.d);
}

/* ------------------------------------------------------------------ */
/* Reclamation while a reader holds RCU across a whole unmap            */
/* ------------------------------------------------------------------ */

struct holder {
	struct pagetable *pt;
	_Atomic int phase;
	uint64_t seen_nonzero_after;
};

static void *rcu_holder(void *p)
{
	struct holder *h = p;
	unsigned level;

	ivm_rcu_read_lock();
	/* Find the leaf table of 0x40000000 through the tree, then keep
	 * reading it while the writer unmaps and reclaims everything. */
	const struct pt_table *t = h->pt->root;
	for (unsigned l = h->pt->levels - 1; l > 0; l--) {
		uint64_t e = atomic_load_explicit(&t->entry[pt_index(0x40000000, l)],
						  memory_order_acquire);
		t = (const struct pt_table *)(uintptr_t)(e & PT_ADDR_MASK);
	}
	(void)pt_lookup(h->pt, 0x40000000, &level);
	atomic_store(&h->phase, 1);
	while (atomic_load(&h->phase) != 2)
		for (unsigned i = 0; i < PT_ENTRIES; i++)
			(void)atomic_load_explicit(&t->entry[i], memory_order_acquire);
	/* After the unmap: every entry reads as not present. */
	for (unsigned i = 0; i < PT_ENTRIES; i++)
		if (atomic_load_explicit(&t->entry[i], memory_order_acquire) & PT_PRESENT)
			h->seen_nonzero_after++;
	ivm_rcu_read_unlock();
	ivm_thread_unregister();
	return NULL;
}

IVM_TEST(reclaim_while_reader_holds_rcu)
{
	static struct pagetable pt;
	static struct holder h;
	pthread_t t;
	struct pt_source s = {
		.base = 0x10000000,
		.flags = PT_READ | ((uint64_t)PT_KIND_EXPLICIT << PT_KIND_SHIFT),
	};

	ivm_rcu_ensure_registered();
	CHECK_STATUS(pt_init(&pt, 48), IVM_STATUS_SUCCESS);
	CHECK_STATUS(pt_install(&pt, 0x40000000, 2048, &s, false), IVM_STATUS_SUCCESS);
	uint64_t tables = pt_table_count(&pt);
	h.pt = &pt;
	h.phase = 0;
	h.seen_nonzero_after = 0;
	pthread_create(&t, NULL, rcu_holder, &h);
	while (atomic_load(&h.phase) != 1)
		;
	pt_remove(&pt, 0x40000000, 2048, false);
	CHECK_EQ_U64(pt_reclaim(&pt), tables - 1);
	CHECK_EQ_U64(pt_table_count(&pt), 1);
	/* The retired tables wait for the reader: give liburcu's call_rcu
	 * thread time to try; the reader keeps reading (ASan would catch a
	 * premature free). */
	nanosleep(&(struct timespec){ .tv_nsec = 50000000 }, NULL);
	atomic_store(&h.phase, 2);
	pthread_join(t, NULL);
	CHECK_EQ_U64(h.seen_nonzero_after, 0);
	ivm_rcu_synchronize();
	pt_fini(&pt);
}

/* ------------------------------------------------------------------ */
/* Sweeps racing maps into the tables they seal                          */
/* ------------------------------------------------------------------ */

#define SEAL_WRITERS 2

struct seal_race {
	struct ivm_domain *d;
	_Atomic bool stop;
	_Atomic uint64_t cycles, sweeps, retired, errors;
};

struct seal_writer_arg {
	struct seal_race *r;
	unsigned w;
};

/* Map one page alone in its own 1 GiB (so its leaf table and the tables
 * above it empty on every unmap), check it translates, unmap it. */
static void *seal_writer(void *p)
{
	struct seal_writer_arg *a = p;
	struct seal_race *r = a->r;
	uint64_t rng = stress_seed + a->w * 104729;

	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		ivm_la la = ((uint64_t)(a->w + 1) << 30) +
			    (rng_next(&rng) % 4) * 2 * MiB;
		struct ivm_phys phys = { .type = IVM_PHYS_CONTIGUOUS };
		phys.contiguous.base = PA_TAG | la;
		phys.contiguous.size = PAGE;
		ivm_la out;
		uint64_t pa = 0;
		if (ivm_map_logical_range_ex(r->d, IVM_PERM_READ, &phys, &la,
					     NULL, NULL, &out) != IVM_STATUS_SUCCESS ||
		    ivm_translate(r->d, la, &pa, NULL) != IVM_STATUS_SUCCESS ||
		    pa != (PA_TAG | la) ||
		    ivm_unmap_logical_range(r->d, la, 1) != IVM_STATUS_SUCCESS)
			atomic_fetch_add(&r->errors, 1);
		atomic_fetch_add_explicit(&r->cycles, 1, memory_order_relaxed);
		ivm_quiescent();
	}
	return NULL;
}

static void *seal_sweeper(void *p)
{
	struct seal_race *r = p;
	struct ivm_domain_stats before, after;

	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		if (ivm_domain_get_stats(r->d, &before) != IVM_STATUS_SUCCESS ||
		    ivm_domain_trim(r->d) != IVM_STATUS_SUCCESS ||
		    ivm_domain_get_stats(r->d, &after) != IVM_STATUS_SUCCESS)
			atomic_fetch_add(&r->errors, 1);
		atomic_fetch_add_explicit(&r->sweeps, 1, memory_order_relaxed);
		if (after.pt_tables < before.pt_tables)
			atomic_fetch_add_explicit(&r->retired, 1,
						  memory_order_relaxed);
		ivm_quiescent();
	}
	ivm_thread_unregister();
	return NULL;
}

IVM_TEST(sweeps_race_maps_into_sealed_tables)
{
	static struct seal_race r;
	struct ivm_domain_config cfg = { 0 };
	pthread_t wt[SEAL_WRITERS], st;
	struct seal_writer_arg wa[SEAL_WRITERS];

	CHECK_STATUS(ivm_domain_create(&cfg, &r.d), IVM_STATUS_SUCCESS);
	pthread_create(&st, NULL, seal_sweeper, &r);
	for (unsigned i = 0; i < SEAL_WRITERS; i++) {
		wa[i].r = &r;
		wa[i].w = i;
		pthread_create(&wt[i], NULL, seal_writer, &wa[i]);
	}
	nanosleep(&(struct timespec){
			  .tv_sec = (time_t)stress_seconds,
			  .tv_nsec = (long)((stress_seconds - (double)(time_t)stress_seconds) * 1e9) },
		  NULL);
	atomic_store(&r.stop, true);
	for (unsigned i = 0; i < SEAL_WRITERS; i++)
		pthread_join(wt[i], NULL);
	pthread_join(st, NULL);

	CHECK_EQ_U64(atomic_load(&r.errors), 0);
	CHECK(atomic_load(&r.cycles) > 0);
	/* The race was real: sweeps retired tables the writers then had to
	 * create again. */
	CHECK(atomic_load(&r.retired) > 0);
	struct ivm_domain_stats s;
	CHECK_STATUS(ivm_domain_get_stats(r.d, &s), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(s.mappings, 0);
	CHECK_STATUS(ivm_domain_trim(r.d), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_domain_get_stats(r.d, &s), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(s.pt_tables, 1);
	printf("  %" PRIu64 " map/translate/unmap cycles, %" PRIu64
	       " sweeps (%" PRIu64 " retired tables)\n",
	       atomic_load(&r.cycles), atomic_load(&r.sweeps),
	       atomic_load(&r.retired));
	ivm_domain_destroy(&r.d);
}

int main(int argc, char **argv)
{
	const char *secs = getenv("IVM_STRESS_SECONDS");
	const char *seed = getenv("IVM_STRESS_SEED");
	if (secs)
		stress_seconds = atof(secs);
	if (seed)
		stress_seed = strtoull(seed, NULL, 0);
	printf("stress_pagetable: %.1f s per scenario, seed 0x%" PRIx64 "\n",
	       stress_seconds, stress_seed);
	char note[64];
	snprintf(note, sizeof(note), "(replay: IVM_STRESS_SEED=0x%" PRIx64 ")",
		 stress_seed);
	return ivm_test_run(argc, argv, note);
}
