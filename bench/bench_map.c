/* SPDX-License-Identifier: MIT */
/*
 * bench_map.c - the mapping fast paths, through the public API only.
 *
 *   map_unmap_4k      one operation = ivm_map_logical_range_ex of one 4 KiB
 *                     page (IVM_PHYS_BUFFER, read/write, address chosen by
 *                     a 48-bit Buddy allocator) followed by
 *                     ivm_unmap_logical_range of it: the per-packet cost of
 *                     a driver that maps each DMA buffer for one transfer.
 *                     With 2 threads, each thread maps its own page on the
 *                     same domain (writers contend for the domain).
 *   translate_random  one operation = ivm_translate of a random byte inside
 *                     64 MiB of 4 KiB mappings (16384 pages, so the page
 *                     table's leaves do not fit in L1/L2 while the index
 *                     array does); with 2 threads both read concurrently
 *                     (readers never lock, so this should scale).
 *
 * Each run() checks the statuses it gets and aborts on a failure: a
 * benchmark must never time an error path by accident.  translate_random
 * ORs the statuses and tests them once per batch (one instruction per op,
 * next to a ~10 ns operation); map_unmap_4k tests each call.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iovamap/iovamap.h>

#include "bench_util.h"
#include "ivm_bench.h"

#define MAX_THREADS 2

static struct ivm_domain *make_buddy_domain(void)
{
	struct ivm_allocator_config buddy = {
		.type = IVM_ALLOCATOR_BUDDY,
		.address_width = 48,
	};
	struct ivm_domain_config cfg = {
		.type = IVM_DOMAIN_TRANSLATE,
		.allocator = &buddy,
	};
	struct ivm_domain *domain = NULL;
	ivm_status st = ivm_domain_create(&cfg, &domain);

	if (st != IVM_STATUS_SUCCESS) {
		fprintf(stderr, "bench: ivm_domain_create: %s\n",
			ivm_status_name(st));
		return NULL;
	}
	return domain;
}

/* ---- map_unmap_4k ---------------------------------------------------- */

struct map_unmap_ctx {
	struct ivm_domain *domain;
	/* One page per thread; read-only once setup returns, and the pages
	 * themselves are never touched while timed. */
	void *page[MAX_THREADS];
};

static void map_unmap_teardown(void *arg)
{
	struct map_unmap_ctx *ctx = arg;

	if (ctx == NULL)
		return;
	ivm_domain_destroy(&ctx->domain);
	for (int i = 0; i < MAX_THREADS; i++)
		free(ctx->page[i]);
	free(ctx);
}

static void *map_unmap_setup(int nthreads)
{
	struct map_unmap_ctx *ctx = calloc(1, sizeof(*ctx));

	if (ctx == NULL || nthreads > MAX_THREADS)
		goto fail;
	ctx->domain = make_buddy_domain();
	if (ctx->domain == NULL)
		goto fail;
	for (int i = 0; i < MAX_THREADS; i++) {
		ctx->page[i] = aligned_alloc(IVM_PAGE_SIZE, IVM_PAGE_SIZE);
		if (ctx->page[i] == NULL)
			goto fail;
		memset(ctx->page[i], 0, IVM_PAGE_SIZE);
	}
	return ctx;
fail:
	fprintf(stderr, "bench: map_unmap setup failed\n");
	map_unmap_teardown(ctx);
	return NULL;
}

static void map_unmap_run(void *arg, int thread_index, uint64_t n_ops)
{
	struct map_unmap_ctx *ctx = arg;
	struct ivm_domain *domain = ctx->domain;
	struct ivm_phys phys = { .type = IVM_PHYS_BUFFER };

	phys.buffer.va = ctx->page[thread_index];
	phys.buffer.size = IVM_PAGE_SIZE;
	for (uint64_t i = 0; i < n_ops; i++)
		bench_map_unmap(domain, &phys);
	/* QSBR builds: this thread holds no table reference between batches. */
	ivm_quiescent();
}

/* ---- translate_random ------------------------------------------------ */

#define TRANSLATE_BYTES (64u << 20)
#define TRANSLATE_PAGES (TRANSLATE_BYTES / IVM_PAGE_SIZE)
_Static_assert((TRANSLATE_PAGES & (TRANSLATE_PAGES - 1)) == 0,
	       "the random index is masked: a power of two of pages");

struct translate_thread {
	uint64_t rng;  /* written by its own thread only */
	uint64_t sink; /* keeps the translations alive */
	char pad[IVM_BENCH_THREAD_STRIDE - 2 * sizeof(uint64_t)];
};

struct translate_ctx {
	struct ivm_domain *domain;
	unsigned char *memory;  /* TRANSLATE_BYTES, page aligned, untouched */
	ivm_la *la;             /* TRANSLATE_PAGES mapped logical addresses */
	size_t mapped;          /* how many of them are mapped */
	_Alignas(IVM_BENCH_THREAD_STRIDE)
	struct translate_thread thread[MAX_THREADS];
};

static void translate_teardown(void *arg)
{
	struct translate_ctx *ctx = arg;

	if (ctx == NULL)
		return;
	/* Destroying the domain tears the mappings down too; unmapping them
	 * one by one first would only make teardown slower. */
	ivm_domain_destroy(&ctx->domain);
	free(ctx->la);
	free(ctx->memory);
	free(ctx);
}

static void *translate_setup(int nthreads)
{
	struct translate_ctx *ctx = aligned_alloc(IVM_BENCH_THREAD_STRIDE,
						  sizeof(*ctx));

	if (ctx == NULL || nthreads > MAX_THREADS)
		goto fail;
	memset(ctx, 0, sizeof(*ctx));
	ctx->domain = make_buddy_domain();
	ctx->memory = aligned_alloc(IVM_PAGE_SIZE, TRANSLATE_BYTES);
	ctx->la = calloc(TRANSLATE_PAGES, sizeof(ctx->la[0]));
	if (ctx->domain == NULL || ctx->memory == NULL || ctx->la == NULL)
		goto fail;
	for (size_t i = 0; i < TRANSLATE_PAGES; i++) {
		struct ivm_phys phys = { .type = IVM_PHYS_BUFFER };
		ivm_status st;

		phys.buffer.va = ctx->memory + i * IVM_PAGE_SIZE;
		phys.buffer.size = IVM_PAGE_SIZE;
		st = ivm_map_logical_range_ex(ctx->domain, IVM_PERM_READ,
					      &phys, NULL, NULL, NULL,
					      &ctx->la[i]);
		if (st != IVM_STATUS_SUCCESS) {
			fprintf(stderr, "bench: translate setup: map %zu: %s\n",
				i, ivm_status_name(st));
			goto fail;
		}
		ctx->mapped++;
	}
	for (int t = 0; t < MAX_THREADS; t++)
		ctx->thread[t].rng = 0x9E3779B97F4A7C15ull * (uint64_t)(t + 1);
	return ctx;
fail:
	fprintf(stderr, "bench: translate setup failed\n");
	translate_teardown(ctx);
	return NULL;
}

static void translate_run(void *arg, int thread_index, uint64_t n_ops)
{
	struct translate_ctx *ctx = arg;
	struct translate_thread *self = &ctx->thread[thread_index];
	struct ivm_domain *domain = ctx->domain;
	const ivm_la *la = ctx->la;
	uint64_t rng = self->rng, sink = self->sink;
	ivm_status bad = IVM_STATUS_SUCCESS;

	for (uint64_t i = 0; i < n_ops; i++) {
		uint64_t r = ivm_bench_xorshift64(&rng);
		/* Low bits pick the page, high bits the byte inside it. */
		ivm_la addr = la[r & (TRANSLATE_PAGES - 1)] +
			      (r >> (64 - IVM_PAGE_SHIFT));
		uint64_t pa = 0;

		bad |= ivm_translate(domain, addr, &pa, NULL);
		sink += pa;
	}
	if (bad != IVM_STATUS_SUCCESS)
		die_status("translate", bad);
	self->rng = rng;
	self->sink = sink;
	ivm_quiescent();
}

/* ---- the suite ------------------------------------------------------- */

static const struct ivm_bench_def map_suite[] = {
	{
		.name = "map_unmap_4k",
		.description = "map + unmap of one 4 KiB page (Buddy, 48-bit)",
		.setup = map_unmap_setup,
		.teardown = map_unmap_teardown,
		.run = map_unmap_run,
		.batch = 256,
		.max_threads = MAX_THREADS,
	},
	{
		.name = "translate_random",
		.description = "ivm_translate of a random byte in 64 MiB of 4 KiB mappings",
		.setup = translate_setup,
		.teardown = translate_teardown,
		.run = translate_run,
		.batch = 4096,
		.max_threads = MAX_THREADS,
	},
};

const struct ivm_bench_def *ivm_bench_suite_map(size_t *count)
{
	*count = sizeof(map_suite) / sizeof(map_suite[0]);
	return map_suite;
}
