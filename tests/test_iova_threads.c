/* SPDX-License-Identifier: MIT */
/*
 * test_iova_threads.c - the IOVA allocator (lib/iova.c) under threads:
 *
 *   random_mix          2 and 8 threads allocate and free random orders
 *                       (some constrained, some uncached) while one of
 *                       them trims now and then
 *   cross_thread_free   producer/consumer pairs: blocks allocated on one
 *                       thread are freed by another (through SPSC rings)
 *   reclaim             bursts and pauses with a 1 ms working-set
 *                       interval: the depot stays under its bound and
 *                       gives blocks back
 *   exhaustion          a 256-page space: all threads grab until full;
 *                       together they must get every page, round after
 *                       round, though each round's frees left the pages
 *                       in other CPUs' magazines (drain and retry)
 *   migration           threads allocate on one CPU and free on the other
 *                       (pinned round-robin), the worst case for per-CPU
 *                       caches: peak cached space stays under its bound
 *
 * A shared shadow map (iova_stress.h) proves that no page is ever live
 * twice and that nothing is lost.  Environment: IVM_STRESS_SECONDS
 * (default 0.8) per timed scenario, IVM_STRESS_SEED (default 1).  With
 * the defaults the program runs in about 5 s.
 */
#include "iova_stress.h"

#define MAX_THREADS 8

/* ---- random_mix ------------------------------------------------------------------- */

#define MIX_LIVE 512

static void *mix_worker(void *arg)
{
	struct worker *w = arg;
	struct block *live = calloc(MIX_LIVE, sizeof(*live));
	unsigned nlive = 0;
	uint64_t rng = thread_seed(w->tid);
	double next_trim = now_s() + 0.05;

	while (true) {
		if ((w->ops & 255) == 0) {
			double t = now_s();
			if (t >= w->until)
				break;
			if (w->tid == 0 && t >= next_trim) {
				iova_trim(w->io);
				next_trim = t + 0.05;
			}
		}
		w->ops++;
		uint64_t r = rng_next(&rng);
		/* Drift between mostly-alloc and mostly-free phases so that
		 * magazines fill and empty and the depot moves. */
		bool phase = ((w->ops >> 11) & 1) != 0;
		bool alloc = nlive == 0 ||
			(nlive < MIX_LIVE && (r % 8) < (phase ? 6u : 2u));
		if (alloc) {
			unsigned pick = (unsigned)(r >> 8) % 100, order;
			uint64_t lo = 0, hi = ANY_MAX;

			order = pick < 60 ? 0 : pick < 95 ? 1 + (unsigned)(r >> 16) % 5
							   : 6 + (unsigned)(r >> 16) % 2;
			if ((r >> 24) % 16 == 0) {
				lo = (r >> 32) % (w->sh->pages / 2);
				hi = lo + w->sh->pages / 4;
			}
			live_alloc(w, live, &nlive, order, lo, hi);
		} else {
			live_free(w, live, &nlive, (unsigned)((r >> 8) % nlive));
		}
	}
	live_free_all(w, live, &nlive);
	free(live);
	return NULL;
}

static void random_mix(int nthreads, double seconds)
{
	enum { WIDTH = 32 };
	struct ivm_iova io;
	struct shadow sh;
	struct worker w[MAX_THREADS];
	uint64_t ops = 0, failures = 0;

	CHECK_STATUS(iova_init(&io, WIDTH, true), IVM_STATUS_SUCCESS);
	iova_set_reclaim_interval(&io, 5u * 1000 * 1000);
	shadow_init(&sh, WIDTH);
	memset(w, 0, sizeof(w));
	double until = now_s() + seconds;
	for (int i = 0; i < nthreads; i++)
		w[i] = (struct worker){ .tid = i, .nthreads = nthreads,
					.io = &io, .sh = &sh, .until = until };
	run_workers(w, nthreads, mix_worker);
	for (int i = 0; i < nthreads; i++) {
		ops += w[i].ops;
		failures += w[i].failures;
	}
	struct iova_stats s;
	iova_get_stats(&io, &s);
	printf("     %d threads: %" PRIu64 " ops, hits %" PRIu64 " misses %"
	       PRIu64 " reclaimed %" PRIu64 "\n",
	       nthreads, ops, s.hits, s.misses, s.reclaimed);
	CHECK_EQ_U64(failures, 0); /* 2^20 pages never run out here */
	CHECK(s.hits > 0 && s.misses > 0);
	shadow_finish(&sh, &io, WIDTH);
	iova_fini(&io);
}

IVM_TEST(random_mix_2_threads)
{
	random_mix(2, stress_seconds());
}

IVM_TEST(random_mix_8_threads)
{
	random_mix(8, stress_seconds());
}

/* ---- cross_thread_free ------------------------------------------------------------ */

#define RING_SIZE 1024 /* a power of two */

/* Single-producer single-consumer ring of blocks. */
struct spsc_ring {
	_Alignas(64) _Atomic uint64_t head; /* written by the producer */
	_Alignas(64) _Atomic uint64_t tail; /* written by the consumer */
	_Alignas(64) _Atomic bool done;     /* producer finished */
	struct block slot[RING_SIZE];
};

static bool ring_push(struct spsc_ring *r, struct block b)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	/* Pairs with the consumer's release of tail: the slot is free. */
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

	if (head - tail == RING_SIZE)
		return false;
	r->slot[head % RING_SIZE] = b;
	/* Publishes the slot to the consumer's acquire of head. */
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
	return true;
}

static bool ring_pop(struct spsc_ring *r, struct block *b)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	/* Pairs with the producer's release of head: the slot is written. */
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);

	if (head == tail)
		return false;
	*b = r->slot[tail % RING_SIZE];
	/* Hands the slot back to the producer's acquire of tail. */
	atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
	return true;
}

static void *producer(void *arg)
{
	struct worker *w = arg;
	struct spsc_ring *ring = w->extra;
	uint64_t rng = thread_seed(w->tid);

	pin_round_robin((unsigned)w->tid);
	while (true) {
		if ((w->ops & 255) == 0 && now_s() >= w->until)
			break;
		uint64_t r = rng_next(&rng);
		struct block b = { .order = (unsigned)(r % 6) };
		if (iova_alloc(w->io, b.order, 0, ANY_MAX, &b.page) !=
		    IVM_STATUS_SUCCESS) {
			w->failures++;
			continue;
		}
		shadow_take(w->sh, b.page, b.order);
		while (!ring_push(ring, b))
			sched_yield();
		w->ops++;
	}
	/* Pairs with the consumer's acquire of done: every push precedes. */
	atomic_store_explicit(&ring->done, true, memory_order_release);
	unpin();
	return NULL;
}

static void *consumer(void *arg)
{
	struct worker *w = arg;
	struct spsc_ring *ring = w->extra;
	struct block b;

	pin_round_robin((unsigned)w->tid);
	while (true) {
		if (ring_pop(ring, &b)) {
			shadow_give(w->sh, b.page, b.order);
			iova_free(w->io, b.page, b.order);
			w->ops++;
			continue;
		}
		/* Pairs with the producer's release of done. */
		if (atomic_load_explicit(&ring->done, memory_order_acquire)) {
			if (!ring_pop(ring, &b))
				break;
			shadow_give(w->sh, b.page, b.order);
			iova_free(w->io, b.page, b.order);
			w->ops++;
			continue;
		}
		sched_yield();
	}
	unpin();
	return NULL;
}

static void *pair_worker(void *arg)
{
	struct worker *w = arg;

	return (w->tid % 2 == 0 ? producer : consumer)(arg);
}

IVM_TEST(cross_thread_free)
{
	enum { WIDTH = 32, PAIRS = 2 };
	struct ivm_iova io;
	struct shadow sh;
	struct worker w[2 * PAIRS];
	struct spsc_ring *ring = calloc(PAIRS, sizeof(*ring));

	CHECK_STATUS(iova_init(&io, WIDTH, true), IVM_STATUS_SUCCESS);
	shadow_init(&sh, WIDTH);
	double until = now_s() + stress_seconds();
	for (int i = 0; i < 2 * PAIRS; i++)
		/* Producer 2k on CPU 2k, its consumer on the next CPU. */
		w[i] = (struct worker){ .tid = i, .nthreads = 2 * PAIRS,
					.io = &io, .sh = &sh, .until = until,
					.extra = &ring[i / 2] };
	run_workers(w, 2 * PAIRS, pair_worker);
	uint64_t produced = 0, consumed = 0;
	for (int i = 0; i < 2 * PAIRS; i++) {
		if (i % 2 == 0)
			produced += w[i].ops;
		else
			consumed += w[i].ops;
		CHECK_EQ_U64(w[i].failures, 0);
	}
	CHECK_EQ_U64(produced, consumed);
	CHECK(produced > 0);
	struct iova_stats s;
	iova_get_stats(&io, &s);
	printf("     %" PRIu64 " blocks handed over, hits %" PRIu64
	       " misses %" PRIu64 "\n", produced, s.hits, s.misses);
	/* Frees land on the consumers' CPUs; allocations find them through
	 * the depot: most allocations must not reach the range allocator. */
	CHECK(s.hits + s.misses > 0);
	shadow_finish(&sh, &io, WIDTH);
	iova_fini(&io);
	free(ring);
}

/* ---- reclaim ------------------------------------------------------------------------ */

struct reclaim_ctx {
	_Atomic uint64_t peak_depot;
	_Atomic uint64_t peak_cached;
};

static void note_peak(_Atomic uint64_t *peak, uint64_t v)
{
	uint64_t cur = atomic_load_explicit(peak, memory_order_relaxed);

	while (v > cur && !atomic_compare_exchange_weak_explicit(
				  peak, &cur, v, memory_order_relaxed,
				  memory_order_relaxed))
		;
}

static void *burst_worker(void *arg)
{
	struct worker *w = arg;
	struct reclaim_ctx *ctx = w->extra;
	enum { BURST = 700 };
	struct block b[BURST];
	uint64_t rng = thread_seed(w->tid);

	while (now_s() < w->until) {
		unsigned order = (unsigned)(rng_next(&rng) % 3);
		unsigned n = BURST / 2 + (unsigned)(rng_next(&rng) % (BURST / 2));
		for (unsigned i = 0; i < n; i++) {
			b[i].order = order;
			if (iova_alloc(w->io, order, 0, ANY_MAX, &b[i].page) !=
			    IVM_STATUS_SUCCESS)
				abort();
			shadow_take(w->sh, b[i].page, order);
		}
		for (unsigned i = 0; i < n; i++) {
			shadow_give(w->sh, b[i].page, order);
			iova_free(w->io, b[i].page, order);
		}
		w->ops += n;
		struct iova_stats s;
		iova_get_stats(w->io, &s);
		note_peak(&ctx->peak_depot, s.depot_magazines);
		note_peak(&ctx->peak_cached, s.cached_pages);
		/* Pauses let the working set shrink between bursts. */
		if (rng_next(&rng) % 4 == 0)
			sleep_us(3000);
	}
	return NULL;
}

IVM_TEST(reclaim)
{
	enum { WIDTH = 36, THREADS = 4 };
	struct ivm_iova io;
	struct shadow sh;
	struct worker w[THREADS];
	struct reclaim_ctx ctx = { 0 };
	struct iova_geometry g;

	CHECK_STATUS(iova_init(&io, WIDTH - 4, true), IVM_STATUS_SUCCESS);
	iova_get_geometry(&io, &g);
	iova_set_reclaim_interval(&io, 1000 * 1000); /* 1 ms */
	shadow_init(&sh, WIDTH - 4);
	double until = now_s() + stress_seconds();
	for (int i = 0; i < THREADS; i++)
		w[i] = (struct worker){ .tid = i, .nthreads = THREADS,
					.io = &io, .sh = &sh, .until = until,
					.extra = &ctx };
	run_workers(w, THREADS, burst_worker);
	struct iova_stats s;
	iova_get_stats(&io, &s);
	printf("     peak depot %" PRIu64 " magazines (max %" PRIu64
	       " per class), peak cached %" PRIu64 " pages (bound %" PRIu64
	       "), reclaimed %" PRIu64 " blocks\n",
	       atomic_load(&ctx.peak_depot), g.depot_max,
	       atomic_load(&ctx.peak_cached), g.max_cached_pages,
	       s.reclaimed);
	CHECK(atomic_load(&ctx.peak_depot) <= g.depot_max * g.cache_orders);
	CHECK(atomic_load(&ctx.peak_cached) <= g.max_cached_pages);
	CHECK(s.reclaimed > 0);

	/* Quiet now: after an interval, the next depot operations of a
	 * class give back everything above the floor. */
	sleep_us(5000);
	uint64_t p[3 * 126];
	unsigned n = 2 * g.magazine_size + 1;
	for (int round = 0; round < 2; round++) {
		for (unsigned i = 0; i < n; i++)
			if (iova_alloc(&io, 0, 0, ANY_MAX, &p[i]) !=
			    IVM_STATUS_SUCCESS)
				abort();
		for (unsigned i = 0; i < n; i++)
			iova_free(&io, p[i], 0);
		sleep_us(5000);
	}
	iova_get_stats(&io, &s);
	CHECK(s.cached_pages <= g.max_cached_pages);
	shadow_finish(&sh, &io, WIDTH - 4);
	iova_fini(&io);
}

/* ---- exhaustion ----------------------------------------------------------------------- */

struct exhaust_ctx {
	pthread_barrier_t barrier;
	unsigned rounds;
	_Atomic uint64_t got[64];   /* pages grabbed per round */
	_Atomic bool stop;
};

static void *exhaust_worker(void *arg)
{
	struct worker *w = arg;
	struct exhaust_ctx *ctx = w->extra;
	struct block *held = calloc(w->sh->pages, sizeof(*held));
	uint64_t rng = thread_seed(w->tid);

	pin_round_robin((unsigned)w->tid);
	for (unsigned round = 0; round < ctx->rounds; round++) {
		unsigned nheld = 0;
		uint64_t pages = 0;

		pthread_barrier_wait(&ctx->barrier);
		/* Grab until even one page is refused.  No thread frees
		 * during this phase, so a refusal after the drain and retry
		 * means the space is truly full. */
		while (true) {
			unsigned order = (unsigned)(rng_next(&rng) % 4);
			uint64_t page;
			ivm_status st = iova_alloc(w->io, order, 0, ANY_MAX,
						   &page);
			if (st != IVM_STATUS_SUCCESS && order > 0) {
				order = 0;
				st = iova_alloc(w->io, 0, 0, ANY_MAX, &page);
			}
			if (st != IVM_STATUS_SUCCESS) {
				if (st != IVM_STATUS_INSUFFICIENT_RESOURCES)
					w->failures++;
				break;
			}
			shadow_take(w->sh, page, order);
			held[nheld].page = page;
			held[nheld].order = order;
			nheld++;
			pages += 1ull << order;
		}
		atomic_fetch_add(&ctx->got[round], pages);
		pthread_barrier_wait(&ctx->barrier);
		/* Free everything: the blocks land in this CPU's cache. */
		while (nheld > 0) {
			nheld--;
			shadow_give(w->sh, held[nheld].page, held[nheld].order);
			iova_free(w->io, held[nheld].page, held[nheld].order);
		}
		w->ops++;
	}
	unpin();
	free(held);
	return NULL;
}

IVM_TEST(exhaustion)
{
	enum { WIDTH = 20, THREADS = 4 }; /* 256 pages */
	struct ivm_iova io;
	struct shadow sh;
	struct worker w[THREADS];
	struct exhaust_ctx *ctx = calloc(1, sizeof(*ctx));

	CHECK_STATUS(iova_init(&io, WIDTH, true), IVM_STATUS_SUCCESS);
	shadow_init(&sh, WIDTH);
	ctx->rounds = 64;
	pthread_barrier_init(&ctx->barrier, NULL, THREADS);
	for (int i = 0; i < THREADS; i++)
		w[i] = (struct worker){ .tid = i, .nthreads = THREADS,
					.io = &io, .sh = &sh, .extra = ctx };
	run_workers(w, THREADS, exhaust_worker);
	unsigned bad = 0;
	for (unsigned r = 0; r < ctx->rounds; r++)
		if (atomic_load(&ctx->got[r]) != sh.pages)
			bad++;
	for (int i = 0; i < THREADS; i++)
		CHECK_EQ_U64(w[i].failures, 0);
	CHECK_EQ_U64(bad, 0);
	struct iova_stats s;
	iova_get_stats(&io, &s);
	printf("     %u rounds of %" PRIu64 " pages, reclaimed %" PRIu64
	       " blocks\n", ctx->rounds, sh.pages, s.reclaimed);
	CHECK(s.reclaimed > 0);
	pthread_barrier_destroy(&ctx->barrier);
	shadow_finish(&sh, &io, WIDTH);
	iova_fini(&io);
	free(ctx);
}

/* ---- migration ------------------------------------------------------------------------- */

struct migrate_ctx {
	_Atomic bool stop;
	_Atomic uint64_t hops;
};

static void *migrate_worker(void *arg)
{
	struct worker *w = arg;
	struct migrate_ctx *ctx = w->extra;
	enum { BATCH = 300 };
	struct block b[BATCH];
	uint64_t rng = thread_seed(w->tid);
	unsigned k = (unsigned)w->tid;

	while (!atomic_load_explicit(&ctx->stop, memory_order_relaxed)) {
		pin_round_robin(k++);
		for (unsigned i = 0; i < BATCH; i++) {
			b[i].order = (unsigned)(rng_next(&rng) % 6);
			if (iova_alloc(w->io, b[i].order, 0, ANY_MAX,
				       &b[i].page) != IVM_STATUS_SUCCESS)
				abort();
			shadow_take(w->sh, b[i].page, b[i].order);
		}
		pin_round_robin(k++); /* ... and free on the next CPU */
		for (unsigned i = 0; i < BATCH; i++) {
			shadow_give(w->sh, b[i].page, b[i].order);
			iova_free(w->io, b[i].page, b[i].order);
		}
		w->ops += BATCH;
		atomic_fetch_add_explicit(&ctx->hops, 2, memory_order_relaxed);
	}
	unpin();
	return NULL;
}

IVM_TEST(migration_peak_cached_bounded)
{
	enum { WIDTH = 40, THREADS = 4 };
	struct ivm_iova io;
	struct shadow sh;
	struct worker w[THREADS];
	struct migrate_ctx ctx = { 0 };
	struct iova_geometry g;
	uint64_t peak_cached = 0, peak_used = 0, peak_live = 0;

	CHECK_STATUS(iova_init(&io, WIDTH - 8, true), IVM_STATUS_SUCCESS);
	iova_get_geometry(&io, &g);
	shadow_init(&sh, WIDTH - 8);
	for (int i = 0; i < THREADS; i++)
		w[i] = (struct worker){ .tid = i, .nthreads = THREADS,
					.io = &io, .sh = &sh, .extra = &ctx };
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&w[i].thread, NULL, migrate_worker, &w[i]))
			abort();
	double until = now_s() + stress_seconds();
	while (now_s() < until) {
		struct iova_stats s;

		iova_get_stats(&io, &s);
		uint64_t live = atomic_load_explicit(&sh.live_pages,
						     memory_order_relaxed);
		if (s.cached_pages > peak_cached)
			peak_cached = s.cached_pages;
		if (s.used_pages > peak_used)
			peak_used = s.used_pages;
		if (live > peak_live)
			peak_live = live;
		sleep_us(200);
	}
	atomic_store(&ctx.stop, true);
	for (int i = 0; i < THREADS; i++)
		pthread_join(w[i].thread, NULL);
	uint64_t ops = 0;
	for (int i = 0; i < THREADS; i++)
		ops += w[i].ops;
	struct iova_stats s;
	iova_get_stats(&io, &s);
	/* Live blocks at any instant: at most one batch per thread. */
	uint64_t live_bound = THREADS * 300ull * 32;
	printf("     %" PRIu64 " blocks over %" PRIu64 " CPU hops: peak cached "
	       "%" PRIu64 " pages (bound %" PRIu64 "), peak used %" PRIu64
	       " (live peak %" PRIu64 "), reclaimed %" PRIu64 "\n",
	       ops, atomic_load(&ctx.hops), peak_cached, g.max_cached_pages,
	       peak_used, peak_live, s.reclaimed);
	CHECK(peak_cached <= g.max_cached_pages);
	CHECK(peak_used <= live_bound + g.max_cached_pages);
	CHECK(ops > 0);
	shadow_finish(&sh, &io, WIDTH - 8);
	iova_fini(&io);
}

IVM_TEST_MAIN()
