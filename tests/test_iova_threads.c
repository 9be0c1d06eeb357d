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
 * A shared shadow map (one atomic byte per page) proves that no page is
 * ever live twice: allocation sets each page of a block with an exchange
 * that must find 0, free clears it with one that must find 1.  At the end
 * of each scenario every block is freed and the cache trimmed: the range
 * allocator must be empty again (nothing lost), and a block of the whole
 * space must allocate.
 *
 * Environment: IVM_STRESS_SECONDS (default 0.8) is the duration of each
 * timed scenario, IVM_STRESS_SEED (default 1) seeds every thread.  With
 * the defaults the program runs in about 5 s.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "iova.h"

#define ANY_MAX UINT64_MAX
#define MAX_THREADS 8

/* ---- environment, time, randomness ---------------------------------------- */

static double stress_seconds(void)
{
	const char *s = getenv("IVM_STRESS_SECONDS");
	double v = s ? atof(s) : 0.8;

	return v > 0 ? v : 0.8;
}

static uint64_t stress_seed(void)
{
	const char *s = getenv("IVM_STRESS_SEED");

	return s ? strtoull(s, NULL, 0) : 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000L };

	nanosleep(&ts, NULL);
}

static uint64_t rng_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

static uint64_t thread_seed(int tid)
{
	return (stress_seed() + 1) * 0x9E3779B97F4A7C15ull + (uint64_t)tid * 7919;
}

/* ---- CPUs --------------------------------------------------------------------- */

static cpu_set_t allowed;
static int allowed_cpu[CPU_SETSIZE];
static int allowed_count;

__attribute__((constructor)) static void save_affinity(void)
{
	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
		CPU_ZERO(&allowed);
		CPU_SET(0, &allowed);
	}
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &allowed))
			allowed_cpu[allowed_count++] = cpu;
}

/* Pin the calling thread to the (k mod n)-th allowed CPU. */
static void pin_round_robin(unsigned k)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(allowed_cpu[k % (unsigned)allowed_count], &one);
	if (sched_setaffinity(0, sizeof(one), &one) != 0) {
		perror("sched_setaffinity");
		abort();
	}
}

static void unpin(void)
{
	sched_setaffinity(0, sizeof(allowed), &allowed);
}

/* ---- the shadow ----------------------------------------------------------------- */

struct shadow {
	_Atomic unsigned char *page; /* 1 = live */
	uint64_t pages;
	_Atomic uint64_t double_alloc;  /* pages found live on allocation */
	_Atomic uint64_t bad_free;      /* pages found free on free */
	_Atomic uint64_t out_of_range;
	_Atomic uint64_t live_pages;
};

static void shadow_init(struct shadow *sh, unsigned width)
{
	memset(sh, 0, sizeof(*sh));
	sh->pages = 1ull << (width - 12);
	sh->page = calloc(sh->pages, 1);
	if (sh->page == NULL)
		abort();
}

/* Relaxed is enough: the allocator's own locks order a free before the
 * allocation that reuses the block. */
static void shadow_take(struct shadow *sh, uint64_t page, unsigned order)
{
	if (page + (1ull << order) > sh->pages) {
		atomic_fetch_add_explicit(&sh->out_of_range, 1,
					  memory_order_relaxed);
		return;
	}
	for (uint64_t i = 0; i < (1ull << order); i++)
		if (atomic_exchange_explicit(&sh->page[page + i], 1,
					     memory_order_relaxed) != 0)
			atomic_fetch_add_explicit(&sh->double_alloc, 1,
						  memory_order_relaxed);
	atomic_fetch_add_explicit(&sh->live_pages, 1ull << order,
				  memory_order_relaxed);
}

static void shadow_give(struct shadow *sh, uint64_t page, unsigned order)
{
	if (page + (1ull << order) > sh->pages)
		return;
	for (uint64_t i = 0; i < (1ull << order); i++)
		if (atomic_exchange_explicit(&sh->page[page + i], 0,
					     memory_order_relaxed) != 1)
			atomic_fetch_add_explicit(&sh->bad_free, 1,
						  memory_order_relaxed);
	atomic_fetch_sub_explicit(&sh->live_pages, 1ull << order,
				  memory_order_relaxed);
}

/* The end of every scenario: nothing live twice, nothing lost. */
static void shadow_finish(struct shadow *sh, struct ivm_iova *io,
			  unsigned width)
{
	struct iova_stats s;

	CHECK_EQ_U64(atomic_load(&sh->double_alloc), 0);
	CHECK_EQ_U64(atomic_load(&sh->bad_free), 0);
	CHECK_EQ_U64(atomic_load(&sh->out_of_range), 0);
	CHECK_EQ_U64(atomic_load(&sh->live_pages), 0);
	CHECK(iova_check(io));
	iova_get_stats(io, &s);
	CHECK_EQ_U64(s.used_pages, s.cached_pages);
	iova_trim(io);
	iova_get_stats(io, &s);
	CHECK_EQ_U64(s.used_pages, 0);
	CHECK_EQ_U64(s.cached_pages, 0);
	CHECK_EQ_U64(s.magazines, 0);
	uint64_t whole = ANY_MAX;
	CHECK_STATUS(iova_alloc(io, width - 12, 0, ANY_MAX, &whole),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(whole, 0);
	iova_free(io, whole, width - 12);
	for (uint64_t i = 0; i < sh->pages; i++)
		if (atomic_load_explicit(&sh->page[i], memory_order_relaxed)) {
			CHECK(!"page left live in the shadow");
			break;
		}
	free((void *)sh->page);
}

/* ---- common thread frame --------------------------------------------------------- */

struct block {
	uint64_t page;
	unsigned order;
};

struct worker {
	pthread_t thread;
	int tid;
	int nthreads;
	struct ivm_iova *io;
	struct shadow *sh;
	double until;
	uint64_t ops;            /* written by the worker, read after join */
	uint64_t failures;
	uint64_t got_pages;
	void *extra;
};

static void run_workers(struct worker *w, int n, void *(*fn)(void *))
{
	for (int i = 0; i < n; i++)
		if (pthread_create(&w[i].thread, NULL, fn, &w[i]) != 0) {
			perror("pthread_create");
			abort();
		}
	for (int i = 0; i < n; i++)
		pthread_join(w[i].thread, NULL);
}

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
			uint64_t lo = 0, hi = ANY_MAX, page = 0;

			order = pick < 60 ? 0 : pick < 95 ? 1 + (unsigned)(r >> 16) % 5
							   : 6 + (unsigned)(r >> 16) % 2;
			if ((r >> 24) % 16 == 0) {
				lo = (r >> 32) % (w->sh->pages / 2);
				hi = lo + w->sh->pages / 4;
			}
			ivm_status st = iova_alloc(w->io, order, lo, hi, &page);
			if (st != IVM_STATUS_SUCCESS) {
				w->failures++;
				continue;
			}
			shadow_take(w->sh, page, order);
			live[nlive].page = page;
			live[nlive].order = order;
			nlive++;
		} else {
			unsigned k = (unsigned)((r >> 8) % nlive);
			shadow_give(w->sh, live[k].page, live[k].order);
			iova_free(w->io, live[k].page, live[k].order);
			live[k] = live[--nlive];
		}
	}
	while (nlive > 0) {
		nlive--;
		shadow_give(w->sh, live[nlive].page, live[nlive].order);
		iova_free(w->io, live[nlive].page, live[nlive].order);
	}
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
