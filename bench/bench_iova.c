/* SPDX-License-Identifier: MIT */
/*
 * bench_iova.c - the IOVA allocator (lib/iova.c) on its own, three ways
 * side by side in one run:
 *
 *   .../cached     the per-CPU magazine cache (iova_init cache=true)
 *   .../uncached   the same allocator with the cache off: the buddy range
 *                  allocator under one mutex (the classic locked design)
 *   .../floor      a per-thread array stack of pre-made IOVAs: pop to
 *                  "allocate", push to "free", through the same kind of
 *                  out-of-line call.  No allocator can beat it.
 *
 * Patterns (one operation = one allocation and its free):
 *   iova_pair_1page     alloc + free of 1 page, repeated
 *   iova_pair_random    alloc + free of 1..32 pages (uniform, rounded up
 *                       to a power of two as map does: orders 0..5)
 *   iova_burst          512 allocations of 1 page, then their 512 frees
 *                       (a NIC ring refill), per thread
 *   iova_prodcons       thread 0 allocates 1 page and hands it through an
 *                       SPSC ring to thread 1, which frees it (completions
 *                       on another CPU); with 1 thread, the thread does
 *                       both halves in turns of up to 256
 * The pairs and the burst run at 1, 2, 4, ... threads up to the machine's
 * CPUs (IVM_BENCH_ALL_CPUS), each thread with its own blocks on one shared
 * allocator; prodcons at 1 and 2 threads (one producer, one consumer).
 *
 * White-box: uses lib/iova.h through the internal static archive.
 */
#include <inttypes.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ivm_bench.h"
#include "iova.h"
#include "util.h"

#define PRODCONS_THREADS 2
#define WIDTH 48
#define BURST 512
#define RING_SIZE 1024
#define STACK_DEPTH 1024  /* floor: pre-made IOVAs per thread per order */
#define ORDERS 6          /* 1..32 pages */

enum variant { CACHED, UNCACHED, FLOOR };

struct floor_stack {
	uint64_t page[STACK_DEPTH];
	uint32_t top;
};

struct bench_thread {
	uint64_t rng;
	uint64_t burst_page[BURST];
	struct floor_stack floor[ORDERS];
} __attribute__((aligned(IVM_BENCH_THREAD_STRIDE)));

struct bench_ctx {
	enum variant variant;
	int nthreads;
	struct ivm_iova io;
	/* prodcons: SPSC ring from thread 0 to thread 1. */
	_Alignas(128) _Atomic uint64_t head; /* producer writes */
	_Alignas(128) _Atomic uint64_t tail; /* consumer writes */
	_Alignas(128) uint64_t ring[RING_SIZE];
	/* nthreads of them (52 KiB each: allocated for the run's count). */
	struct bench_thread thread[];
};

_Noreturn static void die(const char *what, ivm_status st)
{
	fprintf(stderr, "bench: %s failed: 0x%08" PRIx32 "\n", what,
		(uint32_t)st);
	abort();
}

/* ---- the floor: out of line, like a real allocator call ----------------- */

ivm_noinline static uint64_t floor_alloc(struct bench_thread *t,
					 unsigned order)
{
	struct floor_stack *s = &t->floor[order];

	if (ivm_unlikely(s->top == 0))
		die("floor_alloc (stack empty)", 0);
	return s->page[--s->top];
}

ivm_noinline static void floor_free(struct bench_thread *t, uint64_t page,
				    unsigned order)
{
	struct floor_stack *s = &t->floor[order];

	if (ivm_unlikely(s->top == STACK_DEPTH))
		die("floor_free (stack full)", 0);
	s->page[s->top++] = page;
}

static inline uint64_t do_alloc(struct bench_ctx *ctx, struct bench_thread *t,
				unsigned order)
{
	uint64_t page;

	if (ctx->variant == FLOOR)
		return floor_alloc(t, order);
	ivm_status st = iova_alloc(&ctx->io, order, 0, UINT64_MAX, &page);
	if (ivm_unlikely(st != IVM_STATUS_SUCCESS))
		die("iova_alloc", st);
	return page;
}

static inline void do_free(struct bench_ctx *ctx, struct bench_thread *t,
			   uint64_t page, unsigned order)
{
	if (ctx->variant == FLOOR)
		floor_free(t, page, order);
	else
		iova_free(&ctx->io, page, order);
}

/* ---- setup -------------------------------------------------------------- */

static void bench_teardown(void *arg)
{
	struct bench_ctx *ctx = arg;

	if (ctx == NULL)
		return;
	if (ctx->variant != FLOOR)
		iova_fini(&ctx->io);
	free(ctx);
}

static void *setup_variant(int nthreads, enum variant v)
{
	/* Both sizes are multiples of the 128-byte alignment. */
	size_t size = sizeof(struct bench_ctx) +
		      (size_t)nthreads * sizeof(struct bench_thread);
	struct bench_ctx *ctx;

	if (nthreads < 1 || nthreads > IVM_BENCH_MAX_THREADS)
		return NULL;
	ctx = aligned_alloc(128, size);
	if (ctx == NULL)
		return NULL;
	memset(ctx, 0, size);
	ctx->variant = v;
	ctx->nthreads = nthreads;
	if (v != FLOOR &&
	    iova_init(&ctx->io, WIDTH, v == CACHED) != IVM_STATUS_SUCCESS) {
		fprintf(stderr, "bench: iova_init failed\n");
		free(ctx);
		return NULL;
	}
	for (int i = 0; i < nthreads; i++) {
		struct bench_thread *t = &ctx->thread[i];

		t->rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
		/* Distinct, aligned pre-made IOVAs per thread and order. */
		for (unsigned o = 0; o < ORDERS; o++) {
			for (uint32_t k = 0; k < STACK_DEPTH; k++)
				t->floor[o].page[k] =
					(((uint64_t)i * ORDERS + o) << 30) +
					((uint64_t)k << o);
			t->floor[o].top = STACK_DEPTH;
		}
	}
	return ctx;
}

static void *setup_cached(int n) { return setup_variant(n, CACHED); }
static void *setup_uncached(int n) { return setup_variant(n, UNCACHED); }
static void *setup_floor(int n) { return setup_variant(n, FLOOR); }

/* ---- patterns ----------------------------------------------------------- */

static void run_pair_1page(void *arg, int thread_index, uint64_t n_ops)
{
	struct bench_ctx *ctx = arg;
	struct bench_thread *t = &ctx->thread[thread_index];

	for (uint64_t i = 0; i < n_ops; i++) {
		uint64_t page = do_alloc(ctx, t, 0);
		do_free(ctx, t, page, 0);
	}
}

static void run_pair_random(void *arg, int thread_index, uint64_t n_ops)
{
	struct bench_ctx *ctx = arg;
	struct bench_thread *t = &ctx->thread[thread_index];
	uint64_t rng = t->rng;

	for (uint64_t i = 0; i < n_ops; i++) {
		/* 1..32 pages, rounded up to a block as map does. */
		uint64_t pages = 1 + (ivm_bench_xorshift64(&rng) >> 59);
		unsigned order = ivm_order_ceil(pages);
		uint64_t page = do_alloc(ctx, t, order);
		do_free(ctx, t, page, order);
	}
	t->rng = rng;
}

static void run_burst(void *arg, int thread_index, uint64_t n_ops)
{
	struct bench_ctx *ctx = arg;
	struct bench_thread *t = &ctx->thread[thread_index];

	for (uint64_t done = 0; done < n_ops; done += BURST) {
		uint64_t n = n_ops - done < BURST ? n_ops - done : BURST;

		for (uint64_t i = 0; i < n; i++)
			t->burst_page[i] = do_alloc(ctx, t, 0);
		for (uint64_t i = 0; i < n; i++)
			do_free(ctx, t, t->burst_page[i], 0);
	}
}

/* The floor's producer/consumer cannot use stacks (the consumer's would
 * fill as the producer's empties): it makes a synthetic page and drops it,
 * through the same out-of-line calls, so that the ring is all it measures. */
ivm_noinline static uint64_t floor_make(struct bench_thread *t)
{
	return t->rng++;
}

ivm_noinline static void floor_drop(struct bench_thread *t, uint64_t page)
{
	t->rng ^= page;
}

static void produce(struct bench_ctx *ctx, struct bench_thread *t,
		    uint64_t n)
{
	uint64_t head = atomic_load_explicit(&ctx->head, memory_order_relaxed);

	for (uint64_t i = 0; i < n; i++) {
		uint64_t page = ctx->variant == FLOOR ? floor_make(t)
						      : do_alloc(ctx, t, 0);

		/* Pairs with the consumer's release of tail: slot free. */
		while (head - atomic_load_explicit(&ctx->tail,
						   memory_order_acquire) ==
		       RING_SIZE)
			sched_yield();
		ctx->ring[head % RING_SIZE] = page;
		head++;
		/* Publishes the slot to the consumer's acquire of head. */
		atomic_store_explicit(&ctx->head, head, memory_order_release);
	}
}

static void consume(struct bench_ctx *ctx, struct bench_thread *t,
		    uint64_t n)
{
	uint64_t tail = atomic_load_explicit(&ctx->tail, memory_order_relaxed);

	for (uint64_t i = 0; i < n; i++) {
		/* Pairs with the producer's release of head: slot written. */
		while (atomic_load_explicit(&ctx->head, memory_order_acquire) ==
		       tail)
			sched_yield();
		uint64_t page = ctx->ring[tail % RING_SIZE];
		tail++;
		/* Hands the slot back to the producer's acquire of tail. */
		atomic_store_explicit(&ctx->tail, tail, memory_order_release);
		if (ctx->variant == FLOOR)
			floor_drop(t, page);
		else
			do_free(ctx, t, page, 0);
	}
}

static void run_prodcons(void *arg, int thread_index, uint64_t n_ops)
{
	struct bench_ctx *ctx = arg;
	struct bench_thread *t = &ctx->thread[thread_index];

	if (ctx->nthreads == 1) {
		for (uint64_t done = 0; done < n_ops; done += 256) {
			uint64_t n = n_ops - done < 256 ? n_ops - done : 256;
			produce(ctx, t, n);
			consume(ctx, t, n);
		}
		return;
	}
	if (thread_index == 0)
		produce(ctx, t, n_ops);
	else
		consume(ctx, t, n_ops);
}

/* ---- the suite ---------------------------------------------------------- */

#define THREE(pattern, desc, runfn, batchn, threads)                         \
	{ .name = pattern "/cached", .description = desc " (magazine cache)", \
	  .setup = setup_cached, .teardown = bench_teardown, .run = runfn,   \
	  .batch = batchn, .max_threads = threads },                         \
	{ .name = pattern "/uncached",                                       \
	  .description = desc " (cache off: range allocator under a mutex)", \
	  .setup = setup_uncached, .teardown = bench_teardown, .run = runfn, \
	  .batch = batchn, .max_threads = threads },                         \
	{ .name = pattern "/floor",                                          \
	  .description = desc " (floor: per-thread array stack)",            \
	  .setup = setup_floor, .teardown = bench_teardown, .run = runfn,    \
	  .batch = batchn, .max_threads = threads }

static const struct ivm_bench_def iova_suite[] = {
	THREE("iova_pair_1page", "alloc + free of 1 page", run_pair_1page,
	      256, IVM_BENCH_ALL_CPUS),
	THREE("iova_pair_random", "alloc + free of 1..32 pages",
	      run_pair_random, 256, IVM_BENCH_ALL_CPUS),
	THREE("iova_burst", "one alloc + one free, 512 allocs then 512 frees",
	      run_burst, BURST, IVM_BENCH_ALL_CPUS),
	THREE("iova_prodcons",
	      "alloc on thread 0, free on thread 1 via an SPSC ring",
	      run_prodcons, 256, PRODCONS_THREADS),
};

const struct ivm_bench_def *ivm_bench_suite_iova(size_t *count)
{
	*count = sizeof(iova_suite) / sizeof(iova_suite[0]);
	return iova_suite;
}
