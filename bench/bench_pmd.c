/* SPDX-License-Identifier: MIT */
/*
 * bench_pmd.c - the PMD-style forwarding loop of examples/pmdfwd.h under
 * Google Benchmark: packets per second with no IOMMU (the baseline), with
 * the pool mapped once, and with strict per-packet maps (a burst per
 * mapping, and a segment per mapping), each with a
 * hardware IOMMU (the PMD's own cost) and with the device translating in
 * software.  One item is one packet forwarded (rx, descriptor, device
 * fetch, completion, tx).  Its own executable, iovamap-bench-pmd, because
 * it starts DPDK's EAL (no huge pages, no PCI, IOVA-as-VA, on the CPU the
 * first benchmark runs on).
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <iovamap/dpdk.h>
#include <iovamap/iovamap.h>

#include "ivm_bench.h"
#include "pmdfwd.h"

#define PACKETS_PER_RUN 2048 /* 64 bursts */

static bool eal_up(void)
{
	static int state; /* 0 not tried, 1 up, -1 failed */
	char lcore[32];
	char *argv[] = {
		"iovamap-bench-pmd", "--no-huge", "-m", "256", "--no-pci",
		"--no-shconf", "--no-telemetry", "--iova-mode=va",
		"--log-level=lib.eal:error", lcore, NULL,
	};

	if (state == 0) {
		snprintf(lcore, sizeof(lcore), "-l%d", sched_getcpu());
		state = rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1,
				     argv) >= 0 ? 1 : -1;
		if (state < 0)
			fprintf(stderr, "bench_pmd: rte_eal_init: %s\n",
				rte_strerror(rte_errno));
	}
	return state > 0;
}

static void *setup(enum pmdfwd_mode mode, enum pmdfwd_device dev)
{
	static unsigned id;

	if (!eal_up())
		return NULL;
	return pmdfwd_create(mode, dev, id++);
}

static void run(void *ctx, int thread_index, uint64_t n_ops)
{
	if (pmdfwd_run(ctx, n_ops) != n_ops) {
		fprintf(stderr, "bench_pmd: the pool ran dry\n");
		abort();
	}
}

/* The checks of examples/pmd_fwd.c: every address reached its packet, no
 * mbuf is lost. */
static void teardown(void *ctx)
{
	struct pmdfwd_stats st;

	pmdfwd_stats(ctx, &st);
	if (st.bad != 0 || st.in_use != 0) {
		fprintf(stderr, "bench_pmd: %llu bad descriptors, %llu mbufs "
			"lost\n", (unsigned long long)st.bad,
			(unsigned long long)st.in_use);
		abort();
	}
	pmdfwd_destroy(ctx);
}

/* X(id, name, description, mode, device): one benchmark each. */
#define PMD_BENCHMARKS(X)                                                    \
	X(none, "pmd_fwd/no_iommu",                                          \
	  "one packet forwarded with DPDK's own IOVAs (baseline)",           \
	  PMDFWD_NO_IOMMU, PMDFWD_DEV_HW)                                    \
	X(pool_hw, "pmd_fwd/pool_mapped",                                    \
	  "one packet forwarded from a pool mapped once; hardware IOMMU",    \
	  PMDFWD_POOL_MAPPED, PMDFWD_DEV_HW)                                 \
	X(strict_hw, "pmd_fwd/strict",                                       \
	  "one packet forwarded, mapped on tx (one scatter mapping per "     \
	  "burst, in a slot of the transmit queue's own) and lazily "        \
	  "unmapped on completion; hardware IOMMU",                          \
	  PMDFWD_STRICT, PMDFWD_DEV_HW)                                      \
	X(strict_burst_hw, "pmd_fwd/strict_burst",                           \
	  "as strict, the burst's block from the domain's allocator "        \
	  "(ivm_dpdk_burst_map); hardware IOMMU",                            \
	  PMDFWD_STRICT_BURST, PMDFWD_DEV_HW)                                \
	X(strict_seg_hw, "pmd_fwd/strict_seg",                               \
	  "one packet forwarded, mapped on tx (one mapping per segment) "    \
	  "and lazily unmapped on completion; hardware IOMMU",               \
	  PMDFWD_STRICT_SEG, PMDFWD_DEV_HW)                                  \
	X(pool_sw, "pmd_fwd/pool_mapped_sw",                                 \
	  "as pool_mapped, the device translating every descriptor with "    \
	  "ivm_translate",                                                   \
	  PMDFWD_POOL_MAPPED, PMDFWD_DEV_SW)                                 \
	X(strict_sw, "pmd_fwd/strict_sw",                                    \
	  "as strict, the device translating every descriptor with "         \
	  "ivm_translate",                                                   \
	  PMDFWD_STRICT, PMDFWD_DEV_SW)                                      \
	X(strict_burst_sw, "pmd_fwd/strict_burst_sw",                        \
	  "as strict_burst, the device translating every descriptor with "   \
	  "ivm_translate",                                                   \
	  PMDFWD_STRICT_BURST, PMDFWD_DEV_SW)                                \
	X(strict_seg_sw, "pmd_fwd/strict_seg_sw",                            \
	  "as strict_seg, the device translating every descriptor with "     \
	  "ivm_translate",                                                   \
	  PMDFWD_STRICT_SEG, PMDFWD_DEV_SW)

/* The shim's setup takes no context: one function per benchmark. */
#define PMD_SETUP(id, name, desc, mode, dev)                                 \
	static void *setup_##id(int nthreads)                                \
	{                                                                    \
		(void)nthreads;                                              \
		return setup(mode, dev);                                     \
	}
PMD_BENCHMARKS(PMD_SETUP)

#define PMD_DEF(id, name_, desc_, mode, dev)                                 \
	{ .name = name_, .description = desc_, .setup = setup_##id,          \
	  .teardown = teardown, .run = run, .batch = PACKETS_PER_RUN,        \
	  .max_threads = 1 },

/* ---- the burst calls alone ------------------------------------------ */

#define CALL_BURST 32

/* A burst of a pool's mbufs (64 bytes each, or 1500: in 2 KiB buffers
 * about a third of those cross a page; in the order the pool's cache
 * hands them out, as net_null's rx does) and a lazy domain. */
struct calls {
	struct rte_mempool *pool;
	struct ivm_domain *domain;
	struct rte_mbuf *segs[CALL_BURST];
	uint64_t pfns[CALL_BURST]; /* the segments' pages, for pfn32 */
	struct ivm_dpdk_txq *txq;  /* txq32: a transmit queue's slots */
};

static void calls_destroy(void *ctx)
{
	struct calls *c = ctx;

	if (c->pool != NULL && c->segs[0] != NULL)
		rte_pktmbuf_free_bulk(c->segs, CALL_BURST);
	if (ivm_dpdk_txq_destroy(&c->txq) != IVM_STATUS_SUCCESS)
		abort(); /* a burst left mapped: a bug of the loop's */
	ivm_domain_destroy(&c->domain);
	rte_mempool_free(c->pool);
	free(c);
}

static void *calls_make(uint16_t len, bool txq)
{
	static unsigned id;
	char name[RTE_MEMPOOL_NAMESIZE];
	struct calls *c;

	if (!eal_up() || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	snprintf(name, sizeof(name), "calls_pool%u", id++);
	c->pool = rte_pktmbuf_pool_create(name, 1023, 256, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE,
					  (int)rte_socket_id());
	if (c->pool == NULL ||
	    rte_pktmbuf_alloc_bulk(c->pool, c->segs, CALL_BURST) != 0 ||
	    (c->domain = pmdfwd_domain_create()) == NULL ||
	    (txq && ivm_dpdk_txq_create(c->domain, 0, 0, &c->txq) !=
			    IVM_STATUS_SUCCESS)) {
		fprintf(stderr, "bench_pmd: calls setup failed\n");
		calls_destroy(c);
		return NULL;
	}
	for (int i = 0; i < CALL_BURST; i++) {
		if (rte_pktmbuf_append(c->segs[i], len) == NULL)
			abort();
		c->pfns[i] = rte_pktmbuf_mtod(c->segs[i], uintptr_t) >> 12;
	}
	return c;
}

static void *calls_setup(int nthreads)
{
	(void)nthreads;
	return calls_make(64, false);
}

static void *calls_setup_txq(int nthreads)
{
	(void)nthreads;
	return calls_make(64, true);
}

static void *calls_setup_1500(int nthreads)
{
	(void)nthreads;
	return calls_make(1500, false);
}

static void calls_fail(const char *call, ivm_status st)
{
	fprintf(stderr, "bench_pmd: %s: %s\n", call, ivm_status_name(st));
	abort();
}

/* One burst: ivm_dpdk_burst_map, _unmap, ivm_flush_poll; with a queue
 * (txq32), ivm_dpdk_txq_map and _unmap in its slots instead. */
static void run_burst_calls(void *ctx, int thread_index, uint64_t n_ops)
{
	struct calls *c = ctx;
	ivm_la iova[CALL_BURST];
	struct ivm_dpdk_burst b;
	ivm_status st;

	(void)thread_index;
	for (uint64_t k = 0; k < n_ops; k++) {
		st = c->txq ? ivm_dpdk_txq_map(c->txq, c->segs, CALL_BURST,
					       IVM_PERM_READ, iova, &b)
			    : ivm_dpdk_burst_map(c->domain, c->segs,
						 CALL_BURST, IVM_PERM_READ,
						 iova, &b);
		if (st != IVM_STATUS_SUCCESS)
			calls_fail("burst map", st);
		st = c->txq ? ivm_dpdk_txq_unmap(c->txq, c->segs, CALL_BURST,
						 &b)
			    : ivm_dpdk_burst_unmap(c->domain, c->segs,
						   CALL_BURST, &b);
		if (st != IVM_STATUS_SUCCESS)
			calls_fail("burst unmap", st);
		ivm_flush_poll(c->domain, NULL);
	}
}

/* The core's share of it: the same pages as one frame-array map, its
 * unmap and the poll, with no layout and no handle checks. */
static void run_pfn_calls(void *ctx, int thread_index, uint64_t n_ops)
{
	struct calls *c = ctx;
	struct ivm_phys phys = { .type = IVM_PHYS_PFN_ARRAY };
	ivm_la la;
	ivm_status st;

	(void)thread_index;
	phys.pfn_array.pfns = c->pfns;
	phys.pfn_array.count = CALL_BURST;
	for (uint64_t k = 0; k < n_ops; k++) {
		st = ivm_map_logical_range_ex(c->domain, IVM_PERM_READ, &phys,
					      NULL, NULL, NULL, &la);
		if (st != IVM_STATUS_SUCCESS)
			calls_fail("ivm_map_logical_range_ex", st);
		st = ivm_unmap_logical_range(c->domain, la, CALL_BURST);
		if (st != IVM_STATUS_SUCCESS)
			calls_fail("ivm_unmap_logical_range", st);
		ivm_flush_poll(c->domain, NULL);
	}
}

/* ---- a mode and the baseline, side by side in one loop ------------------ */

/*
 * pmd_fwd_ab/<mode>: the mode's forwarder and a no-IOMMU one (each with
 * its own port and pool) take turns of AB_TURN packets within one run,
 * each turn timed on its own, in the order ABBA so that neither always
 * runs right after the other.  On a machine whose speed drifts within
 * seconds (a shared VM), both sides then see the same drift, which
 * separate runs of pmd_fwd/no_iommu and pmd_fwd/<mode> do not: the
 * counters give each side's time per packet and the ratio of their
 * packet rates.
 */
#define AB_TURN (4 * PACKETS_PER_RUN) /* 256 bursts, a few hundred us */

struct ab {
	struct pmdfwd *side[2]; /* 0: no IOMMU, 1: the mode */
	uint64_t ns[2];
	uint64_t packets;       /* per side */
	unsigned turn;
};

static void ab_destroy(void *ctx)
{
	struct ab *ab = ctx;

	for (int i = 0; i < 2; i++)
		if (ab->side[i] != NULL)
			teardown(ab->side[i]);
	free(ab);
}

static void *ab_setup(enum pmdfwd_mode mode)
{
	struct ab *ab = calloc(1, sizeof(*ab));

	if (ab == NULL)
		return NULL;
	ab->side[0] = setup(PMDFWD_NO_IOMMU, PMDFWD_DEV_HW);
	ab->side[1] = setup(mode, PMDFWD_DEV_HW);
	if (ab->side[0] == NULL || ab->side[1] == NULL) {
		ab_destroy(ab);
		return NULL;
	}
	return ab;
}

static void *ab_setup_strict(int nthreads)
{
	(void)nthreads;
	return ab_setup(PMDFWD_STRICT);
}

static void *ab_setup_strict_burst(int nthreads)
{
	(void)nthreads;
	return ab_setup(PMDFWD_STRICT_BURST);
}

static void *ab_setup_pool(int nthreads)
{
	(void)nthreads;
	return ab_setup(PMDFWD_POOL_MAPPED);
}

/* n_ops packets (a multiple of AB_TURN) through each side. */
static void ab_run(void *ctx, int thread_index, uint64_t n_ops)
{
	struct ab *ab = ctx;

	for (uint64_t done = 0; done < n_ops; done += AB_TURN) {
		/* ABBA: turns 0 and 3 of every four start with the baseline. */
		int first = ((ab->turn + 1) >> 1) & 1;

		for (int k = 0; k < 2; k++) {
			int s = first ^ k;
			uint64_t t0 = pmdfwd_now_ns();

			run(ab->side[s], thread_index, AB_TURN);
			ab->ns[s] += pmdfwd_now_ns() - t0;
		}
		ab->turn++;
		ab->packets += AB_TURN;
	}
}

static size_t ab_counters(void *ctx, struct ivm_bench_counter *out,
			  size_t max)
{
	const struct ab *ab = ctx;
	double base, mode;

	if (max < 3 || ab->packets == 0)
		return 0;
	base = (double)ab->ns[0] / (double)ab->packets;
	mode = (double)ab->ns[1] / (double)ab->packets;
	out[0] = (struct ivm_bench_counter){ "no_iommu_ns", base };
	out[1] = (struct ivm_bench_counter){ "mode_ns", mode };
	/* The mode's packet rate over the baseline's. */
	out[2] = (struct ivm_bench_counter){ "vs_no_iommu", base / mode };
	return 3;
}

static const struct ivm_bench_def defs[] = {
	PMD_BENCHMARKS(PMD_DEF)
	{ .name = "pmd_fwd_ab/strict",
	  .description = "one packet through each of two forwarders taking "
			 "turns: no IOMMU and strict (counters: each one's "
			 "ns/packet, vs_no_iommu the packet-rate ratio)",
	  .setup = ab_setup_strict, .teardown = ab_destroy, .run = ab_run,
	  .batch = AB_TURN, .max_threads = 1, .counters = ab_counters },
	{ .name = "pmd_fwd_ab/strict_burst",
	  .description = "as pmd_fwd_ab/strict, with strict_burst (the "
			 "burst's block from the allocator)",
	  .setup = ab_setup_strict_burst, .teardown = ab_destroy,
	  .run = ab_run, .batch = AB_TURN, .max_threads = 1,
	  .counters = ab_counters },
	{ .name = "pmd_fwd_ab/pool_mapped",
	  .description = "as pmd_fwd_ab/strict, with pool_mapped",
	  .setup = ab_setup_pool, .teardown = ab_destroy, .run = ab_run,
	  .batch = AB_TURN, .max_threads = 1, .counters = ab_counters },
	{ .name = "pmd_burst_calls/burst32",
	  .description = "ivm_dpdk_burst_map + _unmap + ivm_flush_poll of 32 "
			 "64-byte mbufs, alone (no ports)",
	  .setup = calls_setup, .teardown = calls_destroy,
	  .run = run_burst_calls, .batch = 64, .max_threads = 1 },
	{ .name = "pmd_burst_calls/burst32_1500",
	  .description = "as burst32, 1500-byte mbufs (about a third cross a "
			 "page: the page-sharing layout)",
	  .setup = calls_setup_1500, .teardown = calls_destroy,
	  .run = run_burst_calls, .batch = 64, .max_threads = 1 },
	{ .name = "pmd_burst_calls/txq32",
	  .description = "ivm_dpdk_txq_map + _unmap + ivm_flush_poll of the "
			 "same 32 mbufs, in a transmit queue's slots",
	  .setup = calls_setup_txq, .teardown = calls_destroy,
	  .run = run_burst_calls, .batch = 64, .max_threads = 1 },
	{ .name = "pmd_burst_calls/pfn32",
	  .description = "baseline: the same 32 pages as one frame-array map "
			 "+ unmap + ivm_flush_poll (the core's share)",
	  .setup = calls_setup, .teardown = calls_destroy,
	  .run = run_pfn_calls, .batch = 64, .max_threads = 1 },
};

const struct ivm_bench_def *ivm_bench_suite_pmd(size_t *count)
{
	*count = sizeof(defs) / sizeof(defs[0]);
	return defs;
}
