/* SPDX-License-Identifier: MIT */
/*
 * bench_flush.c - the cost of IOTLB invalidation: strict against lazy
 * (issue 5's benchmark), through the public API only.
 *
 *   flush_pair/<mode>/lat<ns>   one operation = ivm_map_logical_range_ex of
 *                               one 4 KiB page (IVM_PHYS_BUFFER, read/write,
 *                               address chosen by a 39-bit Buddy allocator
 *                               with the default magazine cache) followed
 *                               by ivm_unmap_logical_range of it.
 *     <mode>   strict: every unmap returns after the backend's sync.
 *              lazy:   unmaps queue their range on the CPU's flush queue
 *                      (default size 256, default timeout 10 ms); the run
 *                      loop also calls ivm_flush_poll() once every
 *                      FLUSH_POLL_EVERY pairs, as a PMD's loop would, so
 *                      the timeout driver's check is part of the cost.
 *     <ns>     the software IOMMU model's invalidation_latency_ns: time
 *              one backend sync spends (0, 100, 300 ns, 1, 3, 10 us), to
 *              model hardware that takes that long to invalidate.
 *     lat0: 1, 2, 4, ... threads up to the machine's CPUs; lat1000 and
 *     lat10000: 1 and 2 threads; the other latencies (100, 300, 3000 ns,
 *     a sweep for the report's plot): 1 thread.  Each thread maps its own
 *     page, all on one domain.
 *
 *   flush_pair/<mode>_own_domains/lat0  control for the multi-thread figures:
 *                               the same loop, but each thread on a
 *                               domain of its own, so the threads share no
 *                               iovamap domain state (only the process:
 *                               RCU, the allocator, the machine).  Its
 *                               2-thread scaling is what the machine
 *                               allows; the shared-domain runs' scaling
 *                               below it is the domain's own contention.
 *
 * Invalidations per 1000 unmaps: the shim has no user counters, so
 * teardown prints them to stderr from ivm_domain_get_stats deltas taken
 * over the timed loop (setup's snapshot to teardown's, before teardown's
 * ivm_flush_domain):
 *   syncs/1k     backend_syncs per 1000 unmaps (each sync pays the
 *                modelled latency once);
 *   inval_ops/1k IOTLB invalidation operations per 1000 unmaps: strict,
 *                one per sync (one add_range + sync per unmap); lazy,
 *                flush_ranges + flush_domain_wide (ranged invalidations
 *                after coalescing, plus domain-wide ones, which are
 *                also shown alone).
 * (iotlb_invalidations, the IOTLB entries dropped, stays 0 here: no model
 * device DMAs, so the IOTLB holds nothing; the cost measured is that of
 * issuing and waiting for the invalidations.)
 * Only runs of at least REPORT_MIN_SECONDS print (Google Benchmark's
 * short probe runs that pick the iteration count also set up and tear
 * down).  Teardown then calls ivm_flush_domain, which hands the last
 * queued addresses back, and destroys the domain; both untimed.
 *
 * Every map and unmap status is tested; a failure aborts (a benchmark must
 * never time an error path by accident).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <iovamap/iovamap.h>

#include "bench_util.h"
#include "ivm_bench.h"

#define ADDRESS_WIDTH 39
/* Pairs between two ivm_flush_poll() calls in lazy runs; BATCH must be a
 * multiple of it so every run() call polls the same number of times. */
#define FLUSH_POLL_EVERY 32u
/* Pairs per run() call: at 10 us per strict pair one call lasts ~2.5 ms,
 * at ~100 ns per lazy pair ~25 us; both amortise the shim's call. */
#define BATCH 256u
_Static_assert(BATCH % FLUSH_POLL_EVERY == 0, "poll count per batch fixed");
#define REPORT_MIN_SECONDS 0.25

struct flush_variant {
	const char *name;
	enum ivm_flush_mode mode;
	uint32_t latency_ns;
	bool own_domains; /* one domain per thread (the control) */
};

/* One thread's counters, on its own cache lines. */
struct flush_thread {
	uint64_t unmaps; /* written by its own thread only, read at teardown */
	char pad[IVM_BENCH_THREAD_STRIDE - sizeof(uint64_t)];
};

struct flush_ctx {
	/* domain[0] for every thread, or domain[t] for thread t with
	 * own_domains; ndomains of them exist.  Read-only while timed. */
	struct ivm_domain *domain[IVM_BENCH_MAX_THREADS];
	int ndomains;
	const struct flush_variant *variant;
	int nthreads;
	/* One page per thread; read-only once setup returns, and the pages
	 * themselves are never touched while timed. */
	void *page[IVM_BENCH_MAX_THREADS];
	struct ivm_domain_stats before; /* summed over the domains at the
					   end of setup */
	struct timespec began;          /* end of setup */
	_Alignas(IVM_BENCH_THREAD_STRIDE)
	struct flush_thread thread[IVM_BENCH_MAX_THREADS];
};

static double seconds_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) +
	       (double)(now.tv_nsec - t0->tv_nsec) * 1e-9;
}

static double per_1000(uint64_t count, uint64_t unmaps)
{
	return unmaps ? 1000.0 * (double)count / (double)unmaps : 0.0;
}

/* The counters this file reports, summed over ctx's domains. */
static void sum_stats(const struct flush_ctx *ctx,
		      struct ivm_domain_stats *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (int i = 0; i < ctx->ndomains; i++) {
		struct ivm_domain_stats one;
		ivm_status st = ivm_domain_get_stats(ctx->domain[i], &one);

		if (st != IVM_STATUS_SUCCESS)
			die_status("ivm_domain_get_stats", st);
		sum->backend_syncs += one.backend_syncs;
		sum->flush_ranges += one.flush_ranges;
		sum->flush_domain_wide += one.flush_domain_wide;
		sum->flush_batches += one.flush_batches;
		sum->flush_entries += one.flush_entries;
		sum->flush_wait_ns += one.flush_wait_ns;
	}
}

/* Invalidations per 1000 unmaps over the timed loop, to stderr. */
static void flush_report(const struct flush_ctx *ctx)
{
	const struct ivm_domain_stats *b = &ctx->before;
	struct ivm_domain_stats a;
	uint64_t unmaps = 0, syncs, inval_ops;
	double seconds = seconds_since(&ctx->began);

	if (seconds < REPORT_MIN_SECONDS)
		return;
	sum_stats(ctx, &a);
	for (int t = 0; t < ctx->nthreads; t++)
		unmaps += ctx->thread[t].unmaps;
	syncs = a.backend_syncs - b->backend_syncs;
	if (ctx->variant->mode == IVM_FLUSH_STRICT)
		inval_ops = syncs;
	else
		inval_ops = (a.flush_ranges - b->flush_ranges) +
			    (a.flush_domain_wide - b->flush_domain_wide);
	fprintf(stderr,
		"bench: flush_pair/%s/threads:%d: %" PRIu64 " unmaps in %.2f s; "
		"per 1000 unmaps: syncs %.3f, inval_ops %.3f (domain-wide %.3f); "
		"lazy batches %" PRIu64 ", mean wait %.1f us\n",
		ctx->variant->name, ctx->nthreads, unmaps, seconds,
		per_1000(syncs, unmaps), per_1000(inval_ops, unmaps),
		per_1000(a.flush_domain_wide - b->flush_domain_wide, unmaps),
		a.flush_batches - b->flush_batches,
		a.flush_entries > b->flush_entries
			? (double)(a.flush_wait_ns - b->flush_wait_ns) /
				  (double)(a.flush_entries - b->flush_entries) /
				  1000.0
			: 0.0);
}

static void flush_teardown(void *arg)
{
	struct flush_ctx *ctx = arg;

	if (ctx == NULL)
		return;
	if (ctx->ndomains > 0)
		flush_report(ctx);
	for (int i = 0; i < ctx->ndomains; i++) {
		/* Hand the last queued addresses back, as a driver would
		 * before it stops. */
		ivm_status st = ivm_flush_domain(ctx->domain[i]);

		if (st != IVM_STATUS_SUCCESS)
			die_status("ivm_flush_domain", st);
		ivm_domain_destroy(&ctx->domain[i]);
	}
	for (int i = 0; i < ctx->nthreads; i++)
		free(ctx->page[i]);
	free(ctx);
}

static void *flush_setup(int nthreads, const struct flush_variant *variant)
{
	struct ivm_allocator_config buddy = {
		.type = IVM_ALLOCATOR_BUDDY,
		.address_width = ADDRESS_WIDTH,
	};
	struct ivm_domain_config cfg = {
		.type = IVM_DOMAIN_TRANSLATE,
		.allocator = &buddy,
		.flush_mode = variant->mode,
		.invalidation_latency_ns = variant->latency_ns,
	};
	struct flush_ctx *ctx = aligned_alloc(IVM_BENCH_THREAD_STRIDE,
					      sizeof(*ctx));
	ivm_status st;

	if (ctx == NULL)
		goto fail;
	/* Before any goto fail past here: teardown reads the counts. */
	memset(ctx, 0, sizeof(*ctx));
	if (nthreads < 1 || nthreads > IVM_BENCH_MAX_THREADS)
		goto fail;
	ctx->variant = variant;
	ctx->nthreads = nthreads;
	for (int i = 0; i < (variant->own_domains ? nthreads : 1); i++) {
		st = ivm_domain_create(&cfg, &ctx->domain[i]);
		if (st != IVM_STATUS_SUCCESS) {
			fprintf(stderr, "bench: ivm_domain_create: %s\n",
				ivm_status_name(st));
			goto fail;
		}
		ctx->ndomains = i + 1;
	}
	for (int i = 0; i < nthreads; i++) {
		ctx->page[i] = aligned_alloc(IVM_PAGE_SIZE, IVM_PAGE_SIZE);
		if (ctx->page[i] == NULL)
			goto fail;
		memset(ctx->page[i], 0, IVM_PAGE_SIZE);
	}
	sum_stats(ctx, &ctx->before);
	clock_gettime(CLOCK_MONOTONIC, &ctx->began);
	return ctx;
fail:
	fprintf(stderr, "bench: flush_pair/%s setup failed\n", variant->name);
	flush_teardown(ctx);
	return NULL;
}

static void flush_run(void *arg, int thread_index, uint64_t n_ops)
{
	struct flush_ctx *ctx = arg;
	struct ivm_domain *domain =
		ctx->domain[ctx->variant->own_domains ? thread_index : 0];
	struct flush_thread *self = &ctx->thread[thread_index];
	const bool lazy = ctx->variant->mode == IVM_FLUSH_LAZY;
	struct ivm_phys phys = { .type = IVM_PHYS_BUFFER };

	phys.buffer.va = ctx->page[thread_index];
	phys.buffer.size = IVM_PAGE_SIZE;
	for (uint64_t i = 0; i < n_ops; i++) {
		ivm_status st;

		bench_map_unmap(domain, &phys);
		/* The PMD's loop: drive the lazy timeout. */
		if (lazy && i % FLUSH_POLL_EVERY == FLUSH_POLL_EVERY - 1) {
			st = ivm_flush_poll(domain, NULL);
			if (st != IVM_STATUS_SUCCESS)
				die_status("ivm_flush_poll", st);
		}
	}
	self->unmaps += n_ops;
	/* QSBR builds: this thread holds no table reference between batches. */
	ivm_quiescent();
}

/* ---- the suite ------------------------------------------------------- */

/* X(id, label, mode, latency_ns, own_domains, max_threads) */
#define ALL IVM_BENCH_ALL_CPUS
#define FLUSH_VARIANTS(X)                                                   \
	X(strict_lat0, "strict/lat0", IVM_FLUSH_STRICT, 0, false, ALL)       \
	X(lazy_lat0, "lazy/lat0", IVM_FLUSH_LAZY, 0, false, ALL)             \
	X(strict_lat1000, "strict/lat1000", IVM_FLUSH_STRICT, 1000, false, 2) \
	X(lazy_lat1000, "lazy/lat1000", IVM_FLUSH_LAZY, 1000, false, 2)      \
	X(strict_lat10000, "strict/lat10000", IVM_FLUSH_STRICT, 10000, false, \
	  2)                                                                 \
	X(lazy_lat10000, "lazy/lat10000", IVM_FLUSH_LAZY, 10000, false, 2)   \
	X(strict_own_lat0, "strict_own_domains/lat0", IVM_FLUSH_STRICT, 0,    \
	  true, ALL)                                                         \
	X(lazy_own_lat0, "lazy_own_domains/lat0", IVM_FLUSH_LAZY, 0, true,   \
	  ALL)                                                               \
	/* The rest of the latency sweep (half decades), 1 thread. */        \
	X(strict_lat100, "strict/lat100", IVM_FLUSH_STRICT, 100, false, 1)   \
	X(lazy_lat100, "lazy/lat100", IVM_FLUSH_LAZY, 100, false, 1)         \
	X(strict_lat300, "strict/lat300", IVM_FLUSH_STRICT, 300, false, 1)   \
	X(lazy_lat300, "lazy/lat300", IVM_FLUSH_LAZY, 300, false, 1)         \
	X(strict_lat3000, "strict/lat3000", IVM_FLUSH_STRICT, 3000, false, 1) \
	X(lazy_lat3000, "lazy/lat3000", IVM_FLUSH_LAZY, 3000, false, 1)

/* The shim's setup takes no argument naming the definition: one small
 * setup per variant. */
#define FLUSH_VARIANT_DEFINE(id, label, mode, latency, own, threads)   \
	static const struct flush_variant variant_##id = { label, mode,  \
							   latency, own }; \
	static void *setup_##id(int nthreads)                           \
	{                                                                \
		return flush_setup(nthreads, &variant_##id);             \
	}
FLUSH_VARIANTS(FLUSH_VARIANT_DEFINE)
#undef FLUSH_VARIANT_DEFINE

#define FLUSH_VARIANT_ENTRY(id, label, mode, latency, own, threads)      \
	{                                                                 \
		.name = "flush_pair/" label,                              \
		.description = "map + unmap of one 4 KiB page (Buddy, "   \
			       "39-bit), " label " invalidation"           \
			       " (latency in ns)",                         \
		.setup = setup_##id,                                      \
		.teardown = flush_teardown,                               \
		.run = flush_run,                                         \
		.batch = BATCH,                                           \
		.max_threads = threads,                                   \
	},
static const struct ivm_bench_def flush_suite[] = {
	FLUSH_VARIANTS(FLUSH_VARIANT_ENTRY)
};
#undef FLUSH_VARIANT_ENTRY
#undef ALL

const struct ivm_bench_def *ivm_bench_suite_flush(size_t *count)
{
	*count = sizeof(flush_suite) / sizeof(flush_suite[0]);
	return flush_suite;
}
