/* SPDX-License-Identifier: MIT */
/*
 * test_iova.c - white-box unit tests of the IOVA allocator front end
 * (lib/iova.c): the magazine and depot state machine of one CPU, the
 * bypasses (large orders, constrained windows, exact claims), both halves
 * of the depot bound (pressure and working-set time trim), the exhaustion
 * drain, trim, failure injection, cross-CPU frees, and a seeded random run
 * against a shadow bitmap with iova_check() after every step.
 *
 * The calling thread is pinned to one CPU so that every operation meets
 * the same slot (tests that need two CPUs skip on a one-CPU machine).
 */
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "iova.h"
#include "mem.h"
#include "util.h"

#define ANY_MAX UINT64_MAX

/* The CPUs the process may run on, saved before any test pins. */
static cpu_set_t allowed;

__attribute__((constructor)) static void save_affinity(void)
{
	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
		CPU_ZERO(&allowed);
		CPU_SET(0, &allowed);
	}
}

static unsigned cpus_online(void)
{
	return (unsigned)CPU_COUNT(&allowed);
}

/* Pin the calling thread to the idx-th CPU it may run on. */
static int pin_to(unsigned idx)
{
	cpu_set_t one;

	for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &allowed))
			continue;
		if ((unsigned)seen++ != idx)
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one) != 0)
			return -1;
		return cpu;
	}
	return -1;
}

static struct iova_stats stats(struct ivm_iova *io)
{
	struct iova_stats s;

	iova_get_stats(io, &s);
	return s;
}

static struct iova_geometry geometry(struct ivm_iova *io)
{
	struct iova_geometry g;

	iova_get_geometry(io, &g);
	return g;
}

static void init_cached(struct ivm_iova *io, unsigned width)
{
	CHECK_STATUS(iova_init(io, width, true), IVM_STATUS_SUCCESS);
	pin_to(0);
}

static uint64_t alloc_ok(struct ivm_iova *io, unsigned order)
{
	uint64_t page = ANY_MAX;

	CHECK_STATUS(iova_alloc(io, order, 0, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	return page;
}

/* ---- the cache off: the range allocator as it was ----------------------- */

IVM_TEST(cache_off_is_the_range_allocator)
{
	struct ivm_iova io;

	CHECK_STATUS(iova_init(&io, 24, false), IVM_STATUS_SUCCESS);
	CHECK(io.cache == NULL);
	uint64_t a = alloc_ok(&io, 0), b = alloc_ok(&io, 0);
	CHECK_EQ_U64(a, 0);
	CHECK_EQ_U64(b, 1);
	iova_free(&io, a, 0);
	struct iova_stats s = stats(&io);
	CHECK_EQ_U64(s.used_pages, 1);
	CHECK_EQ_U64(s.cached_pages + s.hits + s.misses + s.magazines, 0);
	CHECK_EQ_U64(alloc_ok(&io, 0), 0); /* lowest first, not LIFO */
	struct iova_geometry g = geometry(&io);
	CHECK_EQ_U64(g.ncpus, 0);
	CHECK(iova_check(&io));
	iova_fini(&io);
}

/* ---- one CPU's state machine ---------------------------------------------- */

IVM_TEST(first_alloc_misses_then_free_and_alloc_hit)
{
	struct ivm_iova io;

	init_cached(&io, 24);
	uint64_t a = alloc_ok(&io, 0);
	struct iova_stats s = stats(&io);
	CHECK_EQ_U64(s.misses, 1);
	CHECK_EQ_U64(s.hits, 0);
	CHECK_EQ_U64(s.used_pages, 1);

	iova_free(&io, a, 0);
	s = stats(&io);
	CHECK_EQ_U64(s.used_pages, 1);   /* cached blocks stay used */
	CHECK_EQ_U64(s.cached_pages, 1);
	CHECK_EQ_U64(s.magazines, 1);    /* allocated lazily, on this free */

	CHECK_EQ_U64(alloc_ok(&io, 0), a); /* LIFO: the hottest block */
	s = stats(&io);
	CHECK_EQ_U64(s.hits, 1);
	CHECK_EQ_U64(s.misses, 1);
	CHECK_EQ_U64(s.cached_pages, 0);
	CHECK(iova_check(&io));
	iova_fini(&io);
}

IVM_TEST(loaded_prev_depot_cycle)
{
	struct ivm_iova io;

	init_cached(&io, 32);
	struct iova_geometry g = geometry(&io);
	const uint64_t M = g.magazine_size;
	const uint64_t n = 3 * M + 1;
	uint64_t *pages = calloc(n, sizeof(*pages));

	for (uint64_t i = 0; i < n; i++)
		pages[i] = alloc_ok(&io, 2);
	CHECK_EQ_U64(stats(&io).used_pages, 4 * n);
	CHECK_EQ_U64(stats(&io).misses, n);

	/* M frees fill loaded; M more fill prev (loaded moves to prev). */
	for (uint64_t i = 0; i < 2 * M; i++)
		iova_free(&io, pages[i], 2);
	struct iova_stats s = stats(&io);
	CHECK_EQ_U64(s.cached_pages, 4 * 2 * M);
	CHECK_EQ_U64(s.depot_magazines, 0);
	CHECK_EQ_U64(s.magazines, 2);
	CHECK(iova_check(&io));

	/* Both full: the next free sends prev to the depot. */
	iova_free(&io, pages[2 * M], 2);
	s = stats(&io);
	CHECK_EQ_U64(s.depot_magazines, 1);
	CHECK_EQ_U64(s.magazines, 3);
	CHECK_EQ_U64(s.cached_pages, 4 * (2 * M + 1));
	for (uint64_t i = 2 * M + 1; i < n; i++)
		iova_free(&io, pages[i], 2);
	s = stats(&io);
	CHECK_EQ_U64(s.cached_pages, 4 * n);
	CHECK_EQ_U64(s.used_pages, 4 * n);
	CHECK(iova_check(&io));

	/* Now: loaded holds 1, prev M, the depot 2 magazines.  Allocations
	 * drain loaded, then prev, then the depot; none goes to the range
	 * allocator. */
	CHECK_EQ_U64(s.depot_magazines, 2);
	uint64_t misses = s.misses, hits = s.hits;
	for (uint64_t i = 0; i < n; i++)
		(void)alloc_ok(&io, 2);
	s = stats(&io);
	CHECK_EQ_U64(s.used_pages, 4 * n);
	CHECK_EQ_U64(s.cached_pages, 0);
	CHECK_EQ_U64(s.depot_magazines, 0);
	CHECK_EQ_U64(s.misses - misses, 2);          /* the depot refills */
	CHECK_EQ_U64(s.hits - hits, n - 2);
	CHECK(iova_check(&io));
	/* Every class is independent: order 0 has seen nothing. */
	CHECK_EQ_U64(alloc_ok(&io, 0) % 4, 0);
	CHECK_EQ_U64(stats(&io).misses, s.misses + 1);
	free(pages);
	iova_fini(&io);
}

IVM_TEST(depot_pressure_bound)
{
	struct ivm_iova io;

	init_cached(&io, 36);
	struct iova_geometry g = geometry(&io);
	const uint64_t M = g.magazine_size;
	const uint64_t extra = 3;
	const uint64_t n = (2 + g.depot_max + extra) * M;
	uint64_t *pages = calloc(n, sizeof(*pages));

	iova_set_reclaim_interval(&io, UINT64_MAX); /* pressure only */
	for (uint64_t i = 0; i < n; i++)
		pages[i] = alloc_ok(&io, 0);
	for (uint64_t i = 0; i < n; i++)
		iova_free(&io, pages[i], 0);
	struct iova_stats s = stats(&io);
	CHECK_EQ_U64(s.depot_magazines, g.depot_max);
	CHECK_EQ_U64(s.reclaimed, extra * M);
	CHECK_EQ_U64(s.cached_pages, (2 + g.depot_max) * M);
	CHECK_EQ_U64(s.used_pages, s.cached_pages);
	CHECK(s.cached_pages <= g.max_cached_pages);
	CHECK(iova_check(&io));
	free(pages);
	iova_fini(&io);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

IVM_TEST(depot_working_set_trim)
{
	struct ivm_iova io;

	init_cached(&io, 36);
	struct iova_geometry g = geometry(&io);
	const uint64_t M = g.magazine_size;
	const uint64_t depot = g.depot_floor + 5;
	CHECK(depot <= g.depot_max);
	const uint64_t n = (2 + depot + 2) * M;
	uint64_t *pages = calloc(n, sizeof(*pages));

	iova_set_reclaim_interval(&io, UINT64_MAX);
	for (uint64_t i = 0; i < n; i++)
		pages[i] = alloc_ok(&io, 1);
	/* Fill loaded, prev and `depot` depot magazines. */
	uint64_t freed = (2 + depot) * M;
	for (uint64_t i = 0; i < freed; i++)
		iova_free(&io, pages[i], 1);
	CHECK_EQ_U64(stats(&io).depot_magazines, depot);
	CHECK_EQ_U64(stats(&io).reclaimed, 0);

	/* Interval 20 ms (the coarse clock ticks every few ms).  The
	 * first depot operation after it closes the interval that began at
	 * init, whose low water was 0: nothing is idle yet. */
	iova_set_reclaim_interval(&io, 20u * 1000 * 1000);
	sleep_ms(40);
	for (uint64_t i = freed; i < freed + M; i++)
		iova_free(&io, pages[i], 1);
	freed += M;
	CHECK_EQ_U64(stats(&io).depot_magazines, depot + 1);
	CHECK_EQ_U64(stats(&io).reclaimed, 0);

	/* A whole interval passes with the depot never below depot + 1:
	 * the next depot operation gives back all but the floor. */
	sleep_ms(40);
	for (uint64_t i = freed; i < freed + M; i++)
		iova_free(&io, pages[i], 1);
	freed += M;
	struct iova_stats s = stats(&io);
	CHECK_EQ_U64(s.depot_magazines, g.depot_floor + 1);
	CHECK_EQ_U64(s.reclaimed, (depot + 1 - g.depot_floor) * M);
	CHECK_EQ_U64(s.used_pages, s.cached_pages);
	CHECK(iova_check(&io));

	/* A depot in use (alloc takes from it) is not trimmed below its
	 * working set: the low water of the interval is what decides. */
	sleep_ms(40);
	uint64_t reclaimed = s.reclaimed;
	for (uint64_t i = 0; i < 3 * M; i++)
		(void)alloc_ok(&io, 1);
	s = stats(&io);
	CHECK(s.reclaimed - reclaimed <= g.depot_floor * M);
	CHECK(iova_check(&io));
	free(pages);
	iova_fini(&io);
}

/* ---- bypasses ---------------------------------------------------------------- */

IVM_TEST(large_orders_bypass)
{
	struct ivm_iova io;

	init_cached(&io, 32);
	struct iova_geometry g = geometry(&io);
	unsigned big = g.cache_orders; /* first uncached order */
	uint64_t a = alloc_ok(&io, big);
	CHECK_EQ_U64(a % (1ull << big), 0);
	iova_free(&io, a, big);
	struct iova_stats s = stats(&io);
	CHECK_EQ_U64(s.used_pages, 0);     /* straight back */
	CHECK_EQ_U64(s.hits + s.misses + s.cached_pages, 0);
	/* The largest cached order is cached. */
	a = alloc_ok(&io, big - 1);
	iova_free(&io, a, big - 1);
	CHECK_EQ_U64(stats(&io).cached_pages, 1ull << (big - 1));
	iova_fini(&io);
}

IVM_TEST(constrained_requests_bypass)
{
	struct ivm_iova io;

	init_cached(&io, 24); /* 4096 pages */
	uint64_t a = alloc_ok(&io, 0);
	iova_free(&io, a, 0); /* cached at page 0 */
	uint64_t p = ANY_MAX;
	CHECK_STATUS(iova_alloc(&io, 0, 100, 200, &p), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(p, 100);
	CHECK_STATUS(iova_alloc(&io, 0, 0, 4094, &p), IVM_STATUS_SUCCESS);
	CHECK(p != a);                     /* not the cached block */
	struct iova_stats s = stats(&io);
	CHECK_EQ_U64(s.hits, 0);
	CHECK_EQ_U64(s.misses, 1);
	CHECK_EQ_U64(s.cached_pages, 1);
	/* A block from a constrained request is still cached on free. */
	iova_free(&io, 100, 0);
	CHECK_EQ_U64(stats(&io).cached_pages, 2);
	CHECK_EQ_U64(alloc_ok(&io, 0), 100);
	/* Never satisfiable windows are still refused. */
	CHECK_STATUS(iova_alloc(&io, 3, 9, 14, &p),
		     IVM_STATUS_INVALID_PARAMETER_MIX);
	CHECK(iova_check(&io));
	iova_fini(&io);
}

IVM_TEST(claim_over_a_cached_block_drains)
{
	struct ivm_iova io;

	init_cached(&io, 24);
	uint64_t a = alloc_ok(&io, 0), b = alloc_ok(&io, 0);
	iova_free(&io, a, 0);
	CHECK_EQ_U64(stats(&io).cached_pages, 1);
	/* Page a is free for the caller, though the range allocator counts
	 * it used while cached. */
	CHECK_STATUS(iova_claim(&io, a, 1), IVM_STATUS_SUCCESS);
	struct iova_stats s = stats(&io);
	CHECK_EQ_U64(s.cached_pages, 0);
	CHECK_EQ_U64(s.reclaimed, 1);
	CHECK_EQ_U64(s.used_pages, 2);
	/* A range that really is in use still fails. */
	CHECK_STATUS(iova_claim(&io, b, 1), IVM_STATUS_IN_USE);
	iova_release(&io, a, 2); /* union of the claim and the block */
	CHECK_EQ_U64(stats(&io).used_pages, 0);
	CHECK(iova_check(&io));
	iova_fini(&io);
}

/* ---- exhaustion, trim, failures ---------------------------------------------- */

IVM_TEST(exhaustion_drains_and_retries)
{
	struct ivm_iova io;

	init_cached(&io, 16); /* 16 pages */
	uint64_t pages[16];
	for (int i = 0; i < 16; i++)
		pages[i] = alloc_ok(&io, 0);
	uint64_t p;
	CHECK_STATUS(iova_alloc(&io, 0, 0, ANY_MAX, &p),
		     IVM_STATUS_INSUFFICIENT_RESOURCES); /* truly full */
	for (int i = 0; i < 16; i++)
		iova_free(&io, pages[i], 0);
	CHECK_EQ_U64(stats(&io).cached_pages, 16);
	/* Every page is cached as order 0: an order-4 block exists only
	 * after the drain merges them. */
	CHECK_STATUS(iova_alloc(&io, 4, 0, ANY_MAX, &p), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(p, 0);
	struct iova_stats s = stats(&io);
	CHECK_EQ_U64(s.reclaimed, 16);
	CHECK_EQ_U64(s.cached_pages, 0);
	CHECK_EQ_U64(s.used_pages, 16);
	CHECK_STATUS(iova_alloc(&io, 0, 0, ANY_MAX, &p),
		     IVM_STATUS_INSUFFICIENT_RESOURCES);
	iova_free(&io, 0, 4);
	/* A constrained request drains too. */
	for (int i = 0; i < 16; i++)
		pages[i] = alloc_ok(&io, 0);
	for (int i = 0; i < 16; i++)
		iova_free(&io, pages[i], 0);
	CHECK_STATUS(iova_alloc(&io, 1, 8, 15, &p), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(p, 8);
	CHECK(iova_check(&io));
	iova_fini(&io);
}

IVM_TEST(trim_empties_everything)
{
	struct ivm_iova io;

	init_cached(&io, 32);
	const uint64_t n = 1000;
	uint64_t pages[1000];
	for (unsigned o = 0; o < 3; o++) {
		for (uint64_t i = 0; i < n; i++)
			pages[i] = alloc_ok(&io, o);
		for (uint64_t i = 0; i < n; i++)
			iova_free(&io, pages[i], o);
	}
	uint64_t live = alloc_ok(&io, 5);
	struct iova_stats s = stats(&io);
	CHECK(s.cached_pages > 0 && s.magazines > 0);
	iova_trim(&io);
	s = stats(&io);
	CHECK_EQ_U64(s.cached_pages, 0);
	CHECK_EQ_U64(s.depot_magazines, 0);
	CHECK_EQ_U64(s.magazines, 0);
	CHECK_EQ_U64(s.used_pages, 32);
	CHECK(iova_check(&io));
	iova_free(&io, live, 5);
	iova_trim(&io);
	CHECK_EQ_U64(stats(&io).used_pages, 0);
	iova_fini(&io);
}

IVM_TEST(magazine_allocation_failure_loses_nothing)
{
	struct ivm_iova io;

	init_cached(&io, 24);
	uint64_t a = alloc_ok(&io, 0), b = alloc_ok(&io, 1);
	ivm_mem_fail_after(0);
	iova_free(&io, a, 0); /* needs a first magazine: none */
	iova_free(&io, b, 1);
	ivm_mem_fail_after(-1);
	struct iova_stats s = stats(&io);
	CHECK_EQ_U64(s.used_pages, 0);
	CHECK_EQ_U64(s.cached_pages, 0);
	CHECK_EQ_U64(s.magazines, 0);
	CHECK(iova_check(&io));

	/* Failure while both magazines are full: the full prev still goes
	 * to the depot; the block goes to the range allocator. */
	struct iova_geometry g = geometry(&io);
	const uint64_t n = 2 * g.magazine_size + 1;
	uint64_t *pages = calloc(n, sizeof(*pages));
	for (uint64_t i = 0; i < n; i++)
		pages[i] = alloc_ok(&io, 0);
	for (uint64_t i = 0; i + 1 < n; i++)
		iova_free(&io, pages[i], 0);
	ivm_mem_fail_after(0);
	iova_free(&io, pages[n - 1], 0);
	ivm_mem_fail_after(-1);
	s = stats(&io);
	CHECK_EQ_U64(s.cached_pages, n - 1);
	CHECK_EQ_U64(s.used_pages, n - 1);
	CHECK_EQ_U64(s.depot_magazines, 1);
	CHECK(iova_check(&io));
	/* And the slot recovers on the next free. */
	uint64_t c = alloc_ok(&io, 0);
	iova_free(&io, c, 0);
	CHECK(iova_check(&io));
	free(pages);
	iova_fini(&io);
}

IVM_TEST(init_failure_leaves_nothing)
{
	for (long k = 0; k < 4; k++) {
		struct ivm_iova io;

		ivm_mem_fail_after(k);
		ivm_status st = iova_init(&io, 32, true);
		ivm_mem_fail_after(-1);
		if (st == IVM_STATUS_SUCCESS) {
			iova_fini(&io);
			break;
		}
		CHECK_STATUS(st, IVM_STATUS_INSUFFICIENT_RESOURCES);
	}
}

IVM_TEST(fini_with_cached_and_live_blocks)
{
	struct ivm_iova io;

	init_cached(&io, 32);
	for (int i = 0; i < 600; i++) {
		uint64_t a = alloc_ok(&io, (unsigned)i % 6);
		if (i % 3)
			iova_free(&io, a, (unsigned)i % 6);
	}
	CHECK(iova_check(&io));
	iova_fini(&io); /* ASan's leak check proves nothing stays */
}

/* ---- two CPUs ----------------------------------------------------------------- */

IVM_TEST(free_on_another_cpu)
{
	struct ivm_iova io;

	if (cpus_online() < 2) {
		printf("     (one CPU: skipped)\n");
		return;
	}
	init_cached(&io, 24);
	uint64_t a = alloc_ok(&io, 0);
	pin_to(1);
	iova_free(&io, a, 0);           /* into CPU 1's magazine */
	CHECK_EQ_U64(alloc_ok(&io, 0), a); /* hit on CPU 1 */
	CHECK_EQ_U64(stats(&io).hits, 1);
	iova_free(&io, a, 0);
	pin_to(0);
	uint64_t b = alloc_ok(&io, 0);  /* CPU 0's slot is empty: a miss */
	CHECK(b != a);
	CHECK_EQ_U64(stats(&io).misses, 2);
	CHECK(iova_check(&io));
	iova_fini(&io);
}

/* The central rule of the rseq path (lib/iova.c, "Why the rseq path is
 * safe"): a miss path swaps a slot's magazines only while it runs on
 * that slot's CPU.  Here the miss path of CPU 0's slot is moved to CPU 1
 * right before its swap: on the rseq path the swap must not happen (the
 * block stays in prev, where the next miss on CPU 0 finds it); the locked
 * path swaps under the lock from anywhere. */
static void move_to_second_cpu(void)
{
	pin_to(1);
}

IVM_TEST(swap_only_on_the_slots_cpu)
{
	struct ivm_iova io;

	if (cpus_online() < 2 || IVM_DEBUG_LEVEL < 1) {
		printf("     (needs two CPUs and a debug build: skipped)\n");
		return;
	}
	init_cached(&io, 24);
	unsigned cpu0 = (unsigned)pin_to(0);
	uint64_t a = alloc_ok(&io, 0); /* a miss, no magazine yet */
	unsigned loaded = iova_debug_loaded(&io, cpu0, 0);

	iova_debug_before_swap = move_to_second_cpu;
	iova_free(&io, a, 0); /* miss: a magazine into prev, then swap */
	iova_debug_before_swap = NULL;
	if (iova_uses_rseq(&io))
		CHECK_EQ_U64(iova_debug_loaded(&io, cpu0, 0), loaded);
	else
		CHECK_EQ_U64(iova_debug_loaded(&io, cpu0, 0), loaded ^ 1);
	CHECK(iova_check(&io));

	pin_to(0);
	CHECK_EQ_U64(alloc_ok(&io, 0), a); /* from prev (or loaded) */
	struct iova_stats s = stats(&io);
	CHECK_EQ_U64(s.hits, 1);
	CHECK_EQ_U64(s.misses, 1);
	CHECK_EQ_U64(iova_debug_loaded(&io, cpu0, 0), loaded ^ 1);
	CHECK(iova_check(&io));
	iova_fini(&io);
}

/* ---- random, against a shadow ----------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

IVM_TEST(random_against_shadow)
{
	enum { WIDTH = 22, PAGES = 1 << (WIDTH - 12), LIVE = 256 };
	struct ivm_iova io;
	static unsigned char shadow[PAGES];
	struct { uint64_t page; unsigned order; } live[LIVE];
	unsigned nlive = 0;
	uint64_t live_pages = 0;

	memset(shadow, 0, sizeof(shadow));
	init_cached(&io, WIDTH);
	iova_set_reclaim_interval(&io, 0); /* trim on every depot op */
	for (int step = 0; step < 200000; step++) {
		uint64_t r = rng_next();
		if (nlive < LIVE && (r & 1)) {
			unsigned order = (unsigned)(r >> 8) % 8;
			uint64_t lo = 0, hi = ANY_MAX, p = 0;
			if ((r >> 16) % 8 == 0) { /* constrained */
				lo = (r >> 20) % (PAGES / 2);
				hi = lo + PAGES / 4;
			}
			ivm_status st = iova_alloc(&io, order, lo, hi, &p);
			if (st != IVM_STATUS_SUCCESS) {
				CHECK(st == IVM_STATUS_INSUFFICIENT_RESOURCES);
				continue;
			}
			CHECK(p >= lo && p + (1ull << order) - 1 <= hi);
			CHECK_EQ_U64(p % (1ull << order), 0);
			for (uint64_t i = 0; i < (1ull << order); i++) {
				CHECK(shadow[p + i] == 0);
				shadow[p + i] = 1;
			}
			live[nlive].page = p;
			live[nlive].order = order;
			nlive++;
			live_pages += 1ull << order;
		} else if (nlive > 0) {
			unsigned k = (unsigned)((r >> 8) % nlive);
			uint64_t p = live[k].page;
			unsigned order = live[k].order;
			for (uint64_t i = 0; i < (1ull << order); i++)
				shadow[p + i] = 0;
			iova_free(&io, p, order);
			live[k] = live[--nlive];
			live_pages -= 1ull << order;
		}
		if (step % 20000 == 0) {
			CHECK(iova_check(&io));
			struct iova_stats s = stats(&io);
			CHECK_EQ_U64(s.used_pages, live_pages + s.cached_pages);
		}
		if (step % 50000 == 49999)
			iova_trim(&io);
	}
	struct iova_stats s = stats(&io);
	CHECK_EQ_U64(s.used_pages, live_pages + s.cached_pages);
	CHECK(s.hits > s.misses);
	while (nlive > 0) {
		nlive--;
		iova_free(&io, live[nlive].page, live[nlive].order);
	}
	iova_trim(&io);
	CHECK_EQ_U64(stats(&io).used_pages, 0);
	CHECK(iova_check(&io));
	iova_fini(&io);
}

IVM_TEST_MAIN()
