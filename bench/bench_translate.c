/* SPDX-License-Identifier: MIT */
/*
 * bench_translate.c - the page table's read and write paths, side by side
 * with what a user would build instead.
 *
 * Three implementations of "logical page -> physical address", each asked
 * the same questions in the same run:
 *
 *   iovamap      the public API: ivm_translate, ivm_map_logical_range_ex
 *                (explicit address, no allocator, so the IOVA allocator is
 *                not measured) and ivm_unmap_logical_range.  A map or unmap
 *                also does the software IOMMU model's work (backend map,
 *                strict IOTLB invalidation and sync), which the other two
 *                do not have.
 *   rculfhash    liburcu's lock-free resizable hash table (urcu/rculfhash.h,
 *                0.13), keyed by page number (murmur3's 64-bit finaliser as
 *                hash), one malloc'd node per page holding its physical
 *                address.  Lookups run in an RCU read-side section of the
 *                flavour iovamap was built with (memb by default); a removed
 *                node is freed through call_rcu.  This is what a user who
 *                does not have iovamap would pick.
 *   mutex_radix  iovamap's own radix table (lib/pagetable.h) with every
 *                lookup and every update under one pthread mutex: the
 *                textbook "add a lock" design, same data structure, so the
 *                difference to iovamap's translate is the cost of the lock.
 *
 * Workloads (one item = one operation):
 *
 *   translate_4k/<impl>         translate a random byte inside 1 GiB of
 *                               4 KiB pages (262144 leaves; mapped as one
 *                               PFN array of scattered frames, so no large
 *                               leaf can form).
 *   translate_2m/<impl>         the same over 1 GiB mapped as 512 2 MiB
 *                               leaves (contiguous, logical and physical
 *                               2 MiB- but not 1 GiB-aligned).  rculfhash
 *                               is then keyed by 2 MiB page number (512
 *                               nodes): a user who knows every mapping is
 *                               2 MiB, the hash's best case.
 *   translate_{4k,2m}_writer/<impl>  the same with one more thread, started
 *                               in setup and stopped in teardown, mapping
 *                               and unmapping single 4 KiB pages without a
 *                               pause in a disjoint range (512 pages right
 *                               after the translated GiB) of the same table.
 *                               Its pairs per second go to stderr at
 *                               teardown (runs of 0.25 s or more).  On
 *                               a 2-CPU machine threads:2 then has 3
 *                               runnable threads (at the top thread
 *                               count the writer shares thread 0's CPU).
 *   map_unmap_explicit/<impl>   map one 4 KiB page at an explicit logical
 *                               address and unmap it again (each thread its
 *                               own page, 2 MiB apart).
 *
 * Every workload runs at 1, 2, 4, ... threads up to the machine's CPUs
 * (IVM_BENCH_ALL_CPUS); each thread reads (or maps) on its own.
 *
 * The table's memory for the dense 4 KiB layout (bytes of page table per
 * mapped page, from ivm_domain_get_stats) and for the 2 MiB layout is
 * printed to stderr once, from setup: the shim has no user counters.
 *
 * Every translate loop ORs a failure flag and tests it once per batch; every
 * map and unmap is tested.  Setup checks 4096 random translations of each
 * implementation against the expected physical address before timing.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <iovamap/iovamap.h>

#include "atomics.h"
#include "pagetable.h"
#include "rcu.h" /* liburcu, flavour as the library: before rculfhash.h */

#include <urcu/rculfhash.h>

#include "ivm_bench.h"

/* The translated gigabyte, and where the writer and map_unmap work. */
#define READ_LA      (1ull << 30)
#define READ_BYTES   (1ull << 30)
#define WRITER_LA    (READ_LA + READ_BYTES)
#define WRITER_PAGES 512u
#define MAP_UNMAP_LA (1ull << 32)
#define MAP_UNMAP_THREAD_STRIDE (2ull << 20)

/* Physical side.  Frames of the 4 KiB layout: PFN_BASE + a bijection of
 * the page index into 2^24 frames, so no two neighbours are contiguous.
 * The 2 MiB layout: 2 MiB aligned, not 1 GiB aligned (no 1 GiB leaf). */
#define PFN_BASE     0x100000ull
#define PFN_SPREAD   (1ull << 24)
#define PA_2M_BASE   ((1ull << 32) + (2ull << 20))
#define WRITER_PA    (1ull << 40)

#define SHIFT_4K 12u
#define SHIFT_2M 21u
/* rculfhash keys of 2 MiB pages live in their own key space. */
#define KEY_TAG_2M (1ull << 63)

#define CHECK_LOOKUPS 4096u
#define WRITER_REPORT_MIN_SECONDS 0.25

enum impl { IMPL_IOVAMAP, IMPL_RCULFHASH, IMPL_MUTEX_RADIX };
enum layout { LAYOUT_NONE, LAYOUT_4K, LAYOUT_2M };

static const char *const impl_name[] = { "iovamap", "rculfhash",
					 "mutex_radix" };

_Noreturn static void die(const char *what, const char *why)
{
	fprintf(stderr, "bench: %s failed: %s\n", what, why);
	abort();
}

_Noreturn static void die_status(const char *what, ivm_status st)
{
	fprintf(stderr, "bench: %s failed: %s (0x%08" PRIx32 ")\n", what,
		ivm_status_name(st), (uint32_t)st);
	abort();
}

/* ---- rculfhash nodes ------------------------------------------------- */

struct lfht_entry {
	struct cds_lfht_node node;
	uint64_t key; /* page number (>> 12 or >> 21 | KEY_TAG_2M) */
	uint64_t pa;  /* physical address of the page */
	struct rcu_head rcu;
};

/* murmur3 fmix64: every key bit reaches every hash bit. */
static inline uint64_t hash_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static int lfht_match(struct cds_lfht_node *node, const void *key)
{
	const struct lfht_entry *e =
		caa_container_of(node, struct lfht_entry, node);
	return e->key == *(const uint64_t *)key;
}

static void lfht_entry_free_rcu(struct rcu_head *head)
{
	free(caa_container_of(head, struct lfht_entry, rcu));
}

/* ---- the shared context ---------------------------------------------- */

struct bench_thread {
	uint64_t rng;  /* written by its own thread only */
	uint64_t sink; /* keeps the translations alive */
	char pad[IVM_BENCH_THREAD_STRIDE - 2 * sizeof(uint64_t)];
};

struct bench_ctx {
	enum impl impl;
	enum layout layout;
	/* Read-only once setup returns (the writer included). */
	unsigned page_shift;   /* 12 or 21: the leaf size translated */
	uint64_t page_mask;    /* leaves in the read region - 1 */
	uint64_t key_tag;      /* rculfhash: 0 or KEY_TAG_2M */
	uint64_t *pfns;        /* LAYOUT_4K: frame of each page */

	struct ivm_domain *domain;          /* IMPL_IOVAMAP */
	struct cds_lfht *ht;                /* IMPL_RCULFHASH */
	struct lfht_entry *entries;         /* its read-region nodes */
	uint64_t entry_count;
	struct pagetable pt;                /* IMPL_MUTEX_RADIX */
	bool pt_ready;

	/* The background writer: started by setup, stopped by teardown. */
	pthread_t writer;
	bool writer_running;
	bool spinner;           /* control: the thread only burns CPU */
	struct timespec writer_began;
	int nthreads;           /* benchmark threads (the writer's CPU slot) */

	_Alignas(IVM_BENCH_THREAD_STRIDE)
	pthread_mutex_t lock;   /* IMPL_MUTEX_RADIX: every lookup and update */
	_Alignas(IVM_BENCH_THREAD_STRIDE)
	_Atomic bool stop;      /* written by teardown, read by the writer */
	_Atomic uint64_t writer_pairs; /* written by the writer only */
	_Alignas(IVM_BENCH_THREAD_STRIDE)
	struct bench_thread thread[IVM_BENCH_MAX_THREADS];
};

static void *ctx_alloc(enum impl impl, enum layout layout)
{
	struct bench_ctx *ctx = aligned_alloc(IVM_BENCH_THREAD_STRIDE,
					      sizeof(*ctx));
	if (ctx == NULL)
		return NULL;
	memset(ctx, 0, sizeof(*ctx));
	ctx->impl = impl;
	ctx->layout = layout;
	ctx->page_shift = layout == LAYOUT_2M ? SHIFT_2M : SHIFT_4K;
	ctx->page_mask = (READ_BYTES >> ctx->page_shift) - 1;
	ctx->key_tag = layout == LAYOUT_2M ? KEY_TAG_2M : 0;
	if (pthread_mutex_init(&ctx->lock, NULL) != 0) {
		free(ctx);
		return NULL;
	}
	for (int t = 0; t < IVM_BENCH_MAX_THREADS; t++)
		ctx->thread[t].rng = 0x9E3779B97F4A7C15ull * (uint64_t)(t + 1);
	return ctx;
}

/* Expected physical address of byte la of the read region. */
static uint64_t expected_pa(const struct bench_ctx *ctx, ivm_la la)
{
	uint64_t off = la - READ_LA;
	uint64_t page = off >> ctx->page_shift;
	uint64_t in_page = off & ((1ull << ctx->page_shift) - 1);

	if (ctx->layout == LAYOUT_2M)
		return PA_2M_BASE + off;
	return (ctx->pfns[page] << SHIFT_4K) + in_page;
}

/* A random byte address of the read region: the low bits of r pick the
 * leaf, the high bits the byte inside it. */
static inline ivm_la random_la(uint64_t r, uint64_t page_mask,
			       unsigned page_shift)
{
	return READ_LA + ((r & page_mask) << page_shift) +
	       (r >> (64 - page_shift));
}

/* ---- one lookup per implementation (inlined into the timed loops) ---- */

static inline bool lookup_iovamap(struct bench_ctx *ctx, ivm_la la,
				  uint64_t *pa)
{
	return ivm_translate(ctx->domain, la, pa, NULL) == IVM_STATUS_SUCCESS;
}

static inline bool lookup_rculfhash(struct bench_ctx *ctx, ivm_la la,
				    uint64_t *pa)
{
	const unsigned shift = ctx->page_shift;
	uint64_t key = (la >> shift) | ctx->key_tag;
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;
	bool found = false;

	ivm_rcu_read_lock();
	cds_lfht_lookup(ctx->ht, hash_mix64(key), lfht_match, &key, &iter);
	node = cds_lfht_iter_get_node(&iter);
	if (node != NULL) {
		const struct lfht_entry *e =
			caa_container_of(node, struct lfht_entry, node);
		*pa = e->pa + (la & ((1ull << shift) - 1));
		found = true;
	}
	ivm_rcu_read_unlock();
	return found;
}

static inline bool lookup_mutex_radix(struct bench_ctx *ctx, ivm_la la,
				      uint64_t *pa)
{
	unsigned level = 0;
	uint64_t e;

	pthread_mutex_lock(&ctx->lock);
	e = pt_lookup(&ctx->pt, la, &level);
	pthread_mutex_unlock(&ctx->lock);
	if (e == 0)
		return false;
	*pa = (e & PT_ADDR_MASK) + (la & (pt_level_size(level) - 1));
	return true;
}

/* ---- one map + unmap of a 4 KiB page per implementation -------------- */

static void map_unmap_iovamap(struct bench_ctx *ctx, ivm_la la, uint64_t pa)
{
	struct ivm_phys phys = { .type = IVM_PHYS_CONTIGUOUS };
	ivm_la out = 0;
	ivm_status st;

	phys.contiguous.base = pa;
	phys.contiguous.size = IVM_PAGE_SIZE;
	st = ivm_map_logical_range_ex(ctx->domain,
				      IVM_PERM_READ | IVM_PERM_WRITE, &phys,
				      &la, NULL, NULL, &out);
	if (st != IVM_STATUS_SUCCESS)
		die_status("ivm_map_logical_range_ex", st);
	st = ivm_unmap_logical_range(ctx->domain, la, 1);
	if (st != IVM_STATUS_SUCCESS)
		die_status("ivm_unmap_logical_range", st);
}

static void map_unmap_rculfhash(struct bench_ctx *ctx, ivm_la la,
				uint64_t pa)
{
	struct lfht_entry *e = malloc(sizeof(*e));
	struct cds_lfht_node *got;
	struct cds_lfht_iter iter;
	uint64_t key = la >> SHIFT_4K;

	if (e == NULL)
		die("malloc", "out of memory");
	cds_lfht_node_init(&e->node);
	e->key = key;
	e->pa = pa;
	ivm_rcu_read_lock();
	got = cds_lfht_add_unique(ctx->ht, hash_mix64(key), lfht_match, &key,
				  &e->node);
	ivm_rcu_read_unlock();
	if (got != &e->node)
		die("cds_lfht_add_unique", "key already present");

	ivm_rcu_read_lock();
	cds_lfht_lookup(ctx->ht, hash_mix64(key), lfht_match, &key, &iter);
	got = cds_lfht_iter_get_node(&iter);
	if (got == NULL || cds_lfht_del(ctx->ht, got) != 0)
		die("cds_lfht_del", "key vanished");
	ivm_rcu_read_unlock();
	/* Readers may still hold the node: free it after a grace period. */
	ivm_rcu_call(&caa_container_of(got, struct lfht_entry, node)->rcu,
		     lfht_entry_free_rcu);
}

static void map_unmap_mutex_radix(struct bench_ctx *ctx, ivm_la la,
				  uint64_t pa)
{
	struct pt_source src = {
		.base = pa,
		.flags = PT_READ | PT_WRITE |
			 ((uint64_t)PT_KIND_EXPLICIT << PT_KIND_SHIFT),
		.allow_large = true,
	};
	ivm_status st;

	pthread_mutex_lock(&ctx->lock);
	st = pt_install(&ctx->pt, la, 1, &src, false);
	pthread_mutex_unlock(&ctx->lock);
	if (st != IVM_STATUS_SUCCESS)
		die_status("pt_install", st);
	pthread_mutex_lock(&ctx->lock);
	pt_remove(&ctx->pt, la, 1, false);
	pthread_mutex_unlock(&ctx->lock);
}

static void map_unmap_one(struct bench_ctx *ctx, ivm_la la, uint64_t pa)
{
	switch (ctx->impl) {
	case IMPL_IOVAMAP:
		map_unmap_iovamap(ctx, la, pa);
		break;
	case IMPL_RCULFHASH:
		map_unmap_rculfhash(ctx, la, pa);
		break;
	case IMPL_MUTEX_RADIX:
		map_unmap_mutex_radix(ctx, la, pa);
		break;
	}
}

/* ---- the background writer ------------------------------------------- */

/* The control for the writer runs: a thread that shares no memory with
 * the readers and only burns CPU.  On a machine whose CPUs slow each
 * other down (shared cores, host contention) the reader loses throughput
 * to it too; writer / spinner is then what the writer itself costs. */
static void *spinner_main(void *arg)
{
	struct bench_ctx *ctx = arg;

	/* The CPU after the benchmark's threads (ivm_bench.h). */
	(void)ivm_bench_pin_self(ctx->nthreads);
	volatile uint64_t x = 1;

	while (!ivm_load_relaxed(&ctx->stop))
		for (int i = 0; i < 1000; i++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
	return NULL;
}

static void *writer_main(void *arg)
{
	struct bench_ctx *ctx = arg;

	/* The CPU after the benchmark's threads (ivm_bench.h). */
	(void)ivm_bench_pin_self(ctx->nthreads);
	uint64_t i = 0;

	ivm_rcu_ensure_registered();
	while (!ivm_load_relaxed(&ctx->stop)) {
		uint64_t page = i % WRITER_PAGES;

		map_unmap_one(ctx, WRITER_LA + (page << SHIFT_4K),
			      WRITER_PA + (page << SHIFT_4K));
		i++;
		/* Read by teardown after pthread_join (which orders it). */
		ivm_store_relaxed(&ctx->writer_pairs, i);
		ivm_quiescent();
	}
	return NULL;
}

static bool writer_start(struct bench_ctx *ctx)
{
	clock_gettime(CLOCK_MONOTONIC, &ctx->writer_began);
	if (pthread_create(&ctx->writer, NULL,
			   ctx->spinner ? spinner_main : writer_main, ctx) != 0)
		return false;
	ctx->writer_running = true;
	return true;
}

static void writer_stop(struct bench_ctx *ctx)
{
	struct timespec now;
	double seconds;

	if (!ctx->writer_running)
		return;
	ivm_store_relaxed(&ctx->stop, true);
	pthread_join(ctx->writer, NULL);
	ctx->writer_running = false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	seconds = (double)(now.tv_sec - ctx->writer_began.tv_sec) +
		  (double)(now.tv_nsec - ctx->writer_began.tv_nsec) * 1e-9;
	/* Google Benchmark's short probe runs (which pick the iteration
	 * count) also set up and tear down: report the long runs only. */
	if (seconds < WRITER_REPORT_MIN_SECONDS || ctx->spinner)
		return;
	fprintf(stderr, "bench: translate_%s_writer/%s: writer %.3g "
		"map+unmap pairs/s\n",
		ctx->layout == LAYOUT_2M ? "2m" : "4k", impl_name[ctx->impl],
		(double)ivm_load_relaxed(&ctx->writer_pairs) / seconds);
}

/* ---- building and tearing down each implementation ------------------- */

static bool build_iovamap(struct bench_ctx *ctx)
{
	struct ivm_domain_config cfg = { 0 }; /* 48 bits, no allocator */
	struct ivm_phys phys;
	ivm_la la = READ_LA, out = 0;
	ivm_status st;

	st = ivm_domain_create(&cfg, &ctx->domain);
	if (st != IVM_STATUS_SUCCESS) {
		fprintf(stderr, "bench: ivm_domain_create: %s\n",
			ivm_status_name(st));
		return false;
	}
	if (ctx->layout == LAYOUT_NONE)
		return true;
	if (ctx->layout == LAYOUT_4K) {
		phys.type = IVM_PHYS_PFN_ARRAY;
		phys.pfn_array.pfns = ctx->pfns;
		phys.pfn_array.count = READ_BYTES >> SHIFT_4K;
	} else {
		phys.type = IVM_PHYS_CONTIGUOUS;
		phys.contiguous.base = PA_2M_BASE;
		phys.contiguous.size = READ_BYTES;
	}
	st = ivm_map_logical_range_ex(ctx->domain, IVM_PERM_READ, &phys, &la,
				      NULL, NULL, &out);
	if (st != IVM_STATUS_SUCCESS) {
		fprintf(stderr, "bench: map 1 GiB: %s\n", ivm_status_name(st));
		return false;
	}
	return true;
}

static bool build_rculfhash(struct bench_ctx *ctx)
{
	unsigned long buckets = ctx->layout == LAYOUT_NONE ?
		1024 : (unsigned long)ctx->page_mask + 1;

	/* The hash's best case: sized for the load up front (one bucket per
	 * node) and fixed, so that no resize runs in the background while
	 * timed (the writer adds at most one node at a time). */
	ctx->ht = cds_lfht_new_flavor(buckets, buckets, buckets, 0,
				      &ivm_urcu(flavor), NULL);
	if (ctx->ht == NULL)
		return false;
	if (ctx->layout == LAYOUT_NONE)
		return true;
	ctx->entries = calloc(ctx->page_mask + 1, sizeof(ctx->entries[0]));
	if (ctx->entries == NULL)
		return false;
	/* Teardown deletes entries[0 .. entry_count): all of them, as
	 * cds_lfht_add cannot fail. */
	ctx->entry_count = ctx->page_mask + 1;
	ivm_rcu_read_lock();
	for (uint64_t i = 0; i < ctx->entry_count; i++) {
		struct lfht_entry *e = &ctx->entries[i];
		ivm_la la = READ_LA + (i << ctx->page_shift);

		cds_lfht_node_init(&e->node);
		e->key = (la >> ctx->page_shift) | ctx->key_tag;
		e->pa = expected_pa(ctx, la);
		cds_lfht_add(ctx->ht, hash_mix64(e->key), &e->node);
	}
	ivm_rcu_read_unlock();
	return true;
}

static bool build_mutex_radix(struct bench_ctx *ctx)
{
	struct pt_source src = {
		.flags = PT_READ | ((uint64_t)PT_KIND_EXPLICIT << PT_KIND_SHIFT),
		.allow_large = true,
	};
	ivm_status st;

	if (pt_init(&ctx->pt, IVM_DEFAULT_ADDRESS_WIDTH) != IVM_STATUS_SUCCESS)
		return false;
	ctx->pt_ready = true;
	if (ctx->layout == LAYOUT_NONE)
		return true;
	if (ctx->layout == LAYOUT_4K)
		src.pfns = ctx->pfns;
	else
		src.base = PA_2M_BASE;
	st = pt_install(&ctx->pt, READ_LA, READ_BYTES >> SHIFT_4K, &src,
			false);
	if (st != IVM_STATUS_SUCCESS) {
		fprintf(stderr, "bench: pt_install 1 GiB: %s\n",
			ivm_status_name(st));
		return false;
	}
	return true;
}

static void bench_teardown(void *arg)
{
	struct bench_ctx *ctx = arg;

	if (ctx == NULL)
		return;
	writer_stop(ctx);
	/* Mappings go with the domain. */
	ivm_domain_destroy(&ctx->domain);
	if (ctx->ht != NULL) {
		/* cds_lfht_destroy wants an empty table; nobody reads now. */
		ivm_rcu_read_lock();
		for (uint64_t i = 0; i < ctx->entry_count; i++)
			cds_lfht_del(ctx->ht, &ctx->entries[i].node);
		ivm_rcu_read_unlock();
		ivm_rcu_synchronize();
		if (cds_lfht_destroy(ctx->ht, NULL) != 0)
			die("cds_lfht_destroy", "table not empty");
	}
	free(ctx->entries);
	if (ctx->pt_ready) {
		/* Tables retired by pt_remove may still be on their way
		 * through call_rcu; they are unlinked, pt_fini does not see
		 * them.  No reader is left (the caller's threads stopped). */
		ivm_rcu_synchronize();
		pt_fini(&ctx->pt);
	}
	pthread_mutex_destroy(&ctx->lock);
	free(ctx->pfns);
	free(ctx);
}

/* Page-table memory of the read region, once per layout (stderr). */
static void report_table_memory(struct bench_ctx *ctx)
{
	static bool reported[3];
	struct ivm_domain_stats stats;
	ivm_status st;

	if (ctx->impl != IMPL_IOVAMAP || reported[ctx->layout])
		return;
	reported[ctx->layout] = true;
	st = ivm_domain_get_stats(ctx->domain, &stats);
	if (st != IVM_STATUS_SUCCESS)
		die_status("ivm_domain_get_stats", st);
	fprintf(stderr, "bench: translate_%s: page table %" PRIu64
		" bytes (%" PRIu64 " tables) for %" PRIu64
		" mapped 4 KiB pages = %.3f bytes/page; rculfhash node %zu "
		"bytes + bucket %zu bytes per %s page\n",
		ctx->layout == LAYOUT_2M ? "2m" : "4k", stats.pt_bytes,
		stats.pt_tables, stats.mapped_pages,
		(double)stats.pt_bytes / (double)stats.mapped_pages,
		sizeof(struct lfht_entry), sizeof(struct cds_lfht_node),
		ctx->layout == LAYOUT_2M ? "2 MiB" : "4 KiB");
}

/* Setup's own check that the structure translates what it should. */
static bool check_lookups(struct bench_ctx *ctx)
{
	uint64_t rng = 0x2545F4914F6CDD1Dull;

	ivm_rcu_ensure_registered();
	for (unsigned i = 0; i < CHECK_LOOKUPS; i++) {
		ivm_la la = random_la(ivm_bench_xorshift64(&rng),
				      ctx->page_mask, ctx->page_shift);
		uint64_t pa = 0;
		bool ok = false;

		switch (ctx->impl) {
		case IMPL_IOVAMAP:
			ok = lookup_iovamap(ctx, la, &pa);
			break;
		case IMPL_RCULFHASH:
			ok = lookup_rculfhash(ctx, la, &pa);
			break;
		case IMPL_MUTEX_RADIX:
			ok = lookup_mutex_radix(ctx, la, &pa);
			break;
		}
		if (!ok || pa != expected_pa(ctx, la)) {
			fprintf(stderr, "bench: %s: la 0x%" PRIx64 " -> 0x%"
				PRIx64 " (found %d), expected 0x%" PRIx64 "\n",
				impl_name[ctx->impl], la, pa, ok,
				expected_pa(ctx, la));
			return false;
		}
	}
	return true;
}

static void *bench_setup(int nthreads, enum impl impl, enum layout layout,
			 int background)
{
	bool with_writer = background != 0;
	struct bench_ctx *ctx = NULL;

	if (nthreads > IVM_BENCH_MAX_THREADS)
		goto fail;
	ctx = ctx_alloc(impl, layout);
	if (ctx == NULL)
		goto fail;
	/* pt_* and rculfhash need a registered thread (memb and qsbr). */
	ivm_rcu_ensure_registered();
	if (layout == LAYOUT_4K) {
		const uint64_t pages = READ_BYTES >> SHIFT_4K;

		ctx->pfns = malloc(pages * sizeof(ctx->pfns[0]));
		if (ctx->pfns == NULL)
			goto fail;
		/* Odd multiplier mod 2^24: distinct, scattered frames. */
		for (uint64_t i = 0; i < pages; i++)
			ctx->pfns[i] = PFN_BASE +
				       ((i * 0x9E3779B1ull) & (PFN_SPREAD - 1));
	}
	switch (impl) {
	case IMPL_IOVAMAP:
		if (!build_iovamap(ctx))
			goto fail;
		break;
	case IMPL_RCULFHASH:
		if (!build_rculfhash(ctx))
			goto fail;
		break;
	case IMPL_MUTEX_RADIX:
		if (!build_mutex_radix(ctx))
			goto fail;
		break;
	}
	if (layout != LAYOUT_NONE) {
		if (!check_lookups(ctx))
			goto fail;
		if (!with_writer)
			report_table_memory(ctx);
	}
	ctx->spinner = background == 2;
	ctx->nthreads = nthreads;
	if (with_writer && !writer_start(ctx))
		goto fail;
	return ctx;
fail:
	fprintf(stderr, "bench: %s setup failed\n", impl_name[impl]);
	bench_teardown(ctx);
	return NULL;
}

/* ---- timed loops ------------------------------------------------------ */

/* One translate loop per implementation, so that the lookup inlines and
 * no per-operation branch picks the implementation. */
#define DEFINE_TRANSLATE_RUN(impl_id)                                       \
	static void translate_run_##impl_id(void *arg, int thread_index,    \
					    uint64_t n_ops)                 \
	{                                                                   \
		struct bench_ctx *ctx = arg;                                \
		struct bench_thread *self = &ctx->thread[thread_index];     \
		const uint64_t page_mask = ctx->page_mask;                  \
		const unsigned page_shift = ctx->page_shift;                \
		uint64_t rng = self->rng, sink = self->sink;                \
		bool ok = true;                                             \
                                                                            \
		ivm_rcu_ensure_registered();                                \
		for (uint64_t i = 0; i < n_ops; i++) {                      \
			ivm_la la = random_la(ivm_bench_xorshift64(&rng),   \
					      page_mask, page_shift);       \
			uint64_t pa = 0;                                    \
                                                                            \
			ok &= lookup_##impl_id(ctx, la, &pa);               \
			sink += pa;                                         \
		}                                                           \
		if (!ok)                                                    \
			die(#impl_id " translate", "unmapped address");     \
		self->rng = rng;                                            \
		self->sink = sink;                                          \
		ivm_quiescent();                                            \
	}
DEFINE_TRANSLATE_RUN(iovamap)
DEFINE_TRANSLATE_RUN(rculfhash)
DEFINE_TRANSLATE_RUN(mutex_radix)

static void map_unmap_run(void *arg, int thread_index, uint64_t n_ops)
{
	struct bench_ctx *ctx = arg;
	const ivm_la la = MAP_UNMAP_LA +
			  (uint64_t)thread_index * MAP_UNMAP_THREAD_STRIDE;
	const uint64_t pa = WRITER_PA + (uint64_t)thread_index * IVM_PAGE_SIZE;

	ivm_rcu_ensure_registered();
	for (uint64_t i = 0; i < n_ops; i++)
		map_unmap_one(ctx, la, pa);
	ivm_quiescent();
}

/* ---- the suite -------------------------------------------------------- */

/* background: 0 none, 1 a writer, 2 a spinner (the control). */
#define DEFINE_SETUP(fn, impl, layout, writer)                              \
	static void *fn(int nthreads)                                       \
	{                                                                   \
		return bench_setup(nthreads, impl, layout, writer);         \
	}
DEFINE_SETUP(setup_4k_iovamap, IMPL_IOVAMAP, LAYOUT_4K, false)
DEFINE_SETUP(setup_4k_rculfhash, IMPL_RCULFHASH, LAYOUT_4K, false)
DEFINE_SETUP(setup_4k_mutex_radix, IMPL_MUTEX_RADIX, LAYOUT_4K, false)
DEFINE_SETUP(setup_4k_writer_iovamap, IMPL_IOVAMAP, LAYOUT_4K, true)
DEFINE_SETUP(setup_4k_writer_rculfhash, IMPL_RCULFHASH, LAYOUT_4K, true)
DEFINE_SETUP(setup_4k_writer_mutex_radix, IMPL_MUTEX_RADIX, LAYOUT_4K, true)
DEFINE_SETUP(setup_2m_iovamap, IMPL_IOVAMAP, LAYOUT_2M, false)
DEFINE_SETUP(setup_2m_rculfhash, IMPL_RCULFHASH, LAYOUT_2M, false)
DEFINE_SETUP(setup_2m_mutex_radix, IMPL_MUTEX_RADIX, LAYOUT_2M, false)
DEFINE_SETUP(setup_2m_writer_iovamap, IMPL_IOVAMAP, LAYOUT_2M, true)
DEFINE_SETUP(setup_2m_writer_rculfhash, IMPL_RCULFHASH, LAYOUT_2M, true)
DEFINE_SETUP(setup_2m_writer_mutex_radix, IMPL_MUTEX_RADIX, LAYOUT_2M, true)
DEFINE_SETUP(setup_4k_spinner_iovamap, IMPL_IOVAMAP, LAYOUT_4K, 2)
DEFINE_SETUP(setup_2m_spinner_iovamap, IMPL_IOVAMAP, LAYOUT_2M, 2)
DEFINE_SETUP(setup_mu_iovamap, IMPL_IOVAMAP, LAYOUT_NONE, false)
DEFINE_SETUP(setup_mu_rculfhash, IMPL_RCULFHASH, LAYOUT_NONE, false)
DEFINE_SETUP(setup_mu_mutex_radix, IMPL_MUTEX_RADIX, LAYOUT_NONE, false)

#define TRANSLATE_DEF(bench, what, setup_fn, impl_id)                       \
	{                                                                   \
		.name = bench "/" #impl_id,                                 \
		.description = what " (" #impl_id ")",                      \
		.setup = setup_fn,                                          \
		.teardown = bench_teardown,                                 \
		.run = translate_run_##impl_id,                             \
		.batch = 4096,                                              \
		.max_threads = IVM_BENCH_ALL_CPUS,                          \
	}

#define WHAT_4K "translate of a random byte in 1 GiB of 4 KiB leaves"
#define WHAT_2M "translate of a random byte in 1 GiB of 2 MiB leaves"
#define WHAT_WRITER ", another thread mapping+unmapping 4 KiB pages nearby"
#define WHAT_SPINNER ", another thread burning CPU (control for _writer)"
#define WHAT_MU "map + unmap of one 4 KiB page at an explicit address"

#define MAP_UNMAP_DEF(setup_fn, impl_id)                                    \
	{                                                                   \
		.name = "map_unmap_explicit/" #impl_id,                     \
		.description = WHAT_MU " (" #impl_id ")",                   \
		.setup = setup_fn,                                          \
		.teardown = bench_teardown,                                 \
		.run = map_unmap_run,                                       \
		.batch = 128,                                               \
		.max_threads = IVM_BENCH_ALL_CPUS,                          \
	}

static const struct ivm_bench_def translate_suite[] = {
	TRANSLATE_DEF("translate_4k", WHAT_4K, setup_4k_iovamap, iovamap),
	TRANSLATE_DEF("translate_4k", WHAT_4K, setup_4k_rculfhash, rculfhash),
	TRANSLATE_DEF("translate_4k", WHAT_4K, setup_4k_mutex_radix,
		      mutex_radix),
	TRANSLATE_DEF("translate_4k_writer", WHAT_4K WHAT_WRITER,
		      setup_4k_writer_iovamap, iovamap),
	TRANSLATE_DEF("translate_4k_writer", WHAT_4K WHAT_WRITER,
		      setup_4k_writer_rculfhash, rculfhash),
	TRANSLATE_DEF("translate_4k_writer", WHAT_4K WHAT_WRITER,
		      setup_4k_writer_mutex_radix, mutex_radix),
	TRANSLATE_DEF("translate_2m", WHAT_2M, setup_2m_iovamap, iovamap),
	TRANSLATE_DEF("translate_2m", WHAT_2M, setup_2m_rculfhash, rculfhash),
	TRANSLATE_DEF("translate_2m", WHAT_2M, setup_2m_mutex_radix,
		      mutex_radix),
	TRANSLATE_DEF("translate_2m_writer", WHAT_2M WHAT_WRITER,
		      setup_2m_writer_iovamap, iovamap),
	TRANSLATE_DEF("translate_2m_writer", WHAT_2M WHAT_WRITER,
		      setup_2m_writer_rculfhash, rculfhash),
	TRANSLATE_DEF("translate_2m_writer", WHAT_2M WHAT_WRITER,
		      setup_2m_writer_mutex_radix, mutex_radix),
	TRANSLATE_DEF("translate_4k_spinner", WHAT_4K WHAT_SPINNER,
		      setup_4k_spinner_iovamap, iovamap),
	TRANSLATE_DEF("translate_2m_spinner", WHAT_2M WHAT_SPINNER,
		      setup_2m_spinner_iovamap, iovamap),
	MAP_UNMAP_DEF(setup_mu_iovamap, iovamap),
	MAP_UNMAP_DEF(setup_mu_rculfhash, rculfhash),
	MAP_UNMAP_DEF(setup_mu_mutex_radix, mutex_radix),
};

const struct ivm_bench_def *ivm_bench_suite_translate(size_t *count)
{
	*count = sizeof(translate_suite) / sizeof(translate_suite[0]);
	return translate_suite;
}
