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
	  "burst) and lazily unmapped on completion; hardware IOMMU",        \
	  PMDFWD_STRICT, PMDFWD_DEV_HW)                                      \
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

static const struct ivm_bench_def defs[] = { PMD_BENCHMARKS(PMD_DEF) };

const struct ivm_bench_def *ivm_bench_suite_pmd(size_t *count)
{
	*count = sizeof(defs) / sizeof(defs[0]);
	return defs;
}
