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

static void *setup_none(int nthreads)
{
	return setup(PMDFWD_NO_IOMMU, PMDFWD_DEV_HW);
}

static void *setup_pool_hw(int nthreads)
{
	return setup(PMDFWD_POOL_MAPPED, PMDFWD_DEV_HW);
}

static void *setup_strict_hw(int nthreads)
{
	return setup(PMDFWD_STRICT, PMDFWD_DEV_HW);
}

static void *setup_strict_seg_hw(int nthreads)
{
	return setup(PMDFWD_STRICT_SEG, PMDFWD_DEV_HW);
}

static void *setup_strict_seg_sw(int nthreads)
{
	return setup(PMDFWD_STRICT_SEG, PMDFWD_DEV_SW);
}

static void *setup_pool_sw(int nthreads)
{
	return setup(PMDFWD_POOL_MAPPED, PMDFWD_DEV_SW);
}

static void *setup_strict_sw(int nthreads)
{
	return setup(PMDFWD_STRICT, PMDFWD_DEV_SW);
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

#define PMD_DEF(name_, desc_, setup_)                                       \
	{ .name = name_, .description = desc_, .setup = setup_,              \
	  .teardown = teardown, .run = run, .batch = PACKETS_PER_RUN,        \
	  .max_threads = 1 }

static const struct ivm_bench_def defs[] = {
	PMD_DEF("pmd_fwd/no_iommu",
		"one packet forwarded with DPDK's own IOVAs (baseline)",
		setup_none),
	PMD_DEF("pmd_fwd/pool_mapped",
		"one packet forwarded from a pool mapped once; hardware IOMMU",
		setup_pool_hw),
	PMD_DEF("pmd_fwd/strict",
		"one packet forwarded, mapped on tx (one scatter mapping per "
		"burst) and lazily unmapped on completion; hardware IOMMU",
		setup_strict_hw),
	PMD_DEF("pmd_fwd/strict_seg",
		"one packet forwarded, mapped on tx (one mapping per segment) "
		"and lazily unmapped on completion; hardware IOMMU",
		setup_strict_seg_hw),
	PMD_DEF("pmd_fwd/pool_mapped_sw",
		"as pool_mapped, the device translating every descriptor with "
		"ivm_translate",
		setup_pool_sw),
	PMD_DEF("pmd_fwd/strict_sw",
		"as strict, the device translating every descriptor with "
		"ivm_translate",
		setup_strict_sw),
	PMD_DEF("pmd_fwd/strict_seg_sw",
		"as strict_seg, the device translating every descriptor with "
		"ivm_translate",
		setup_strict_seg_sw),
};

const struct ivm_bench_def *ivm_bench_suite_pmd(size_t *count)
{
	*count = sizeof(defs) / sizeof(defs[0]);
	return defs;
}
