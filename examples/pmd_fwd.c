/* SPDX-License-Identifier: MIT */
/*
 * pmd_fwd.c - a PMD-style forwarder on DPDK software ports, with and
 * without iovamap: the figure a DPDK developer asks first, Mpps.
 *
 * Each round runs the four modes of pmdfwd.h one after the other (the
 * three IOMMU modes with each device model), each for --seconds on its own
 * net_null port, pool and domain; the order rotates from round to round,
 * and the table shows each one's median over the rounds and its rate
 * relative to no IOMMU.  The program checks
 * what it measures: every descriptor's address must reach its mbuf's data
 * through the domain, no mapping may be left behind, no mbuf lost; it
 * exits 1 otherwise.
 *
 *   iovamap-pmd-fwd [--seconds S] [--rounds N] [--mode M]... [--device D]
 *                   [-- EAL ARGS]
 *
 *   --seconds S  time per mode per round (default 0.5)
 *   --rounds N   rounds (default 5)
 *   --mode M     no-iommu, pool-mapped, strict, strict-burst or strict-seg
 *                (repeatable; default all)
 *   --device D   hw, sw or both (default): how the device's IOMMU
 *                translates (pmdfwd.h): in hardware, at no CPU cost, or
 *                through ivm_translate on the CPU for every descriptor
 *   EAL ARGS     replace the default EAL arguments:
 *                --no-huge -m 256 --no-pci --no-shconf --no-telemetry
 *                --iova-mode=va --log-level=lib.eal:error -l <this CPU>
 *
 * Build and run (see docs/BENCHMARKS.md, "DPDK forwarding"):
 *   ./scripts/demo.sh                     (builds build-release, runs it)
 *   build-release/examples/iovamap-pmd-fwd
 */
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include <iovamap/iovamap.h>

#include "pmdfwd.h"

#ifndef PMDFWD_RCU
#define PMDFWD_RCU "memb"
#endif

#define MAX_ROUNDS 101

static double now_s(void)
{
	return (double)pmdfwd_now_ns() * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void usage(FILE *to)
{
	fprintf(to, "usage: iovamap-pmd-fwd [--seconds S] [--rounds N] "
		    "[--mode no-iommu|pool-mapped|strict|strict-burst|"
		    "strict-seg]... "
		    "[--device hw|sw|both] [-- EAL ARGS]\n");
}

/* One mode for `seconds`: its rate in Mpps, or a negative number after
 * printing why it failed. */
static double run_mode(enum pmdfwd_mode mode, enum pmdfwd_device dev,
		       unsigned id, double seconds)
{
	struct pmdfwd *f = pmdfwd_create(mode, dev, id);
	struct pmdfwd_stats st;
	uint64_t packets = 0;
	double t0, t1 = 0;
	bool ok = true;

	if (f == NULL)
		return -1;
	pmdfwd_run(f, 1u << 16); /* warm: magazines, caches, table */
	t0 = now_s();
	do {
		uint64_t n = pmdfwd_run(f, 1u << 16);

		packets += n;
		if (n < (1u << 16)) {
			fprintf(stderr, "pmd_fwd: %s: the pool ran dry\n",
				pmdfwd_mode_name(mode));
			ok = false;
			break;
		}
		t1 = now_s();
	} while (t1 - t0 < seconds);
	pmdfwd_stats(f, &st);
	if (st.bad != 0) {
		fprintf(stderr, "pmd_fwd: %s: %" PRIu64 " descriptors did not "
			"reach their packet\n", pmdfwd_mode_name(mode), st.bad);
		ok = false;
	}
	/* Strict: every burst or segment mapped was unmapped.  Pool-mapped:
	 * the pool's chunks stay mapped until destroy. */
	if (pmdfwd_mode_strict(mode) ?
		    st.mappings != 0 :
	    mode == PMDFWD_POOL_MAPPED ? st.mappings == 0 : false) {
		fprintf(stderr, "pmd_fwd: %s: %" PRIu64 " live mappings\n",
			pmdfwd_mode_name(mode), st.mappings);
		ok = false;
	}
	if (st.in_use != 0) {
		fprintf(stderr, "pmd_fwd: %s: %" PRIu64 " mbufs lost\n",
			pmdfwd_mode_name(mode), st.in_use);
		ok = false;
	}
	pmdfwd_destroy(f);
	return ok ? (double)packets / (t1 - t0) / 1e6 : -1;
}

int main(int argc, char **argv)
{
	double seconds = 0.5;
	unsigned rounds = 5;
	bool want[PMDFWD_MODES] = { false };
	bool any_mode = false;
	char lcore[32];
	char *def_eal[] = {
		argv[0], "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
		"--no-telemetry", "--iova-mode=va",
		"--log-level=lib.eal:error", lcore, NULL,
	};
	char **eal_argv = def_eal;
	int eal_argc = (int)(sizeof(def_eal) / sizeof(def_eal[0])) - 1;
	bool want_dev[2] = { true, true };
	int failed = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			seconds = atof(argv[++i]);
		} else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
			rounds = (unsigned)atoi(argv[++i]);
		} else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
			int m;

			i++;
			for (m = 0; m < PMDFWD_MODES; m++)
				if (strcmp(argv[i], pmdfwd_mode_name(m)) == 0)
					break;
			if (m == PMDFWD_MODES) {
				usage(stderr);
				return 2;
			}
			want[m] = any_mode = true;
		} else if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
			i++;
			want_dev[PMDFWD_DEV_HW] = strcmp(argv[i], "sw") != 0;
			want_dev[PMDFWD_DEV_SW] = strcmp(argv[i], "hw") != 0;
			if (strcmp(argv[i], "hw") != 0 &&
			    strcmp(argv[i], "sw") != 0 &&
			    strcmp(argv[i], "both") != 0) {
				usage(stderr);
				return 2;
			}
		} else if (strcmp(argv[i], "--") == 0) {
			/* The EAL's argv[0] is ours: overwrite the "--". */
			argv[i] = argv[0];
			eal_argv = &argv[i];
			eal_argc = argc - i;
			break;
		} else if (strcmp(argv[i], "-h") == 0 ||
			   strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (seconds <= 0 || rounds == 0 || rounds > MAX_ROUNDS) {
		usage(stderr);
		return 2;
	}
	if (!any_mode)
		for (int m = 0; m < PMDFWD_MODES; m++)
			want[m] = true;

	snprintf(lcore, sizeof(lcore), "-l%d", sched_getcpu());
	if (rte_eal_init(eal_argc, eal_argv) < 0) {
		fprintf(stderr, "pmd_fwd: rte_eal_init: %s\n",
			rte_strerror(rte_errno));
		return 1;
	}
	printf("pmd_fwd: %u rounds of %.2f s per mode, burst 32, net_null "
	       "ports, software-IOMMU domains, RCU flavour %s\n",
	       rounds, seconds, PMDFWD_RCU);
	/* Configurations: no IOMMU once, the IOMMU modes with each device
	 * model.  Their order rotates from round to round. */
	struct { enum pmdfwd_mode mode; enum pmdfwd_device dev; } cfg[] = {
		{ PMDFWD_NO_IOMMU, PMDFWD_DEV_HW },
		{ PMDFWD_POOL_MAPPED, PMDFWD_DEV_HW },
		{ PMDFWD_STRICT, PMDFWD_DEV_HW },
		{ PMDFWD_STRICT_BURST, PMDFWD_DEV_HW },
		{ PMDFWD_STRICT_SEG, PMDFWD_DEV_HW },
		{ PMDFWD_POOL_MAPPED, PMDFWD_DEV_SW },
		{ PMDFWD_STRICT, PMDFWD_DEV_SW },
		{ PMDFWD_STRICT_BURST, PMDFWD_DEV_SW },
		{ PMDFWD_STRICT_SEG, PMDFWD_DEV_SW },
	};
	enum { NCFG = sizeof(cfg) / sizeof(cfg[0]) };
	static double rate[NCFG][MAX_ROUNDS];
	unsigned id = 0;

	for (unsigned r = 0; r < rounds; r++) {
		for (unsigned k = 0; k < NCFG; k++) {
			unsigned c = (r + k) % NCFG;

			if (!want[cfg[c].mode] ||
			    (cfg[c].mode != PMDFWD_NO_IOMMU &&
			     !want_dev[cfg[c].dev]))
				continue;
			rate[c][r] = run_mode(cfg[c].mode, cfg[c].dev, id++,
					      seconds);
			if (rate[c][r] < 0)
				failed = 1;
		}
	}
	if (failed)
		return 1;

	double med[NCFG] = { 0 };
	for (unsigned c = 0; c < NCFG; c++) {
		qsort(rate[c], rounds, sizeof(double), cmp_double);
		med[c] = rate[c][rounds / 2];
	}
	printf("\n%-12s | %-27s | %-27s\n", "",
	       "hardware IOMMU (PMD's cost)", "device translates in software");
	printf("%-12s | %8s %8s %9s | %8s %8s %9s\n", "mode", "Mpps",
	       "ns/pkt", "vs none", "Mpps", "ns/pkt", "vs none");
	for (int m = 0; m < PMDFWD_MODES; m++) {
		if (!want[m])
			continue;
		printf("%-12s", pmdfwd_mode_name(m));
		for (int dv = 0; dv < 2; dv++) {
			/* cfg[]: no IOMMU, then the IOMMU modes in
			 * order for each device model. */
			unsigned c = m == PMDFWD_NO_IOMMU ? 0 :
				     (unsigned)(m + (PMDFWD_MODES - 1) * dv);

			if (med[c] <= 0) {
				printf(" | %8s %8s %9s", "-", "-", "-");
				continue;
			}
			printf(" | %8.2f %8.1f", med[c], 1e3 / med[c]);
			if (med[0] > 0)
				printf(" %8.1f%%", 100.0 * med[c] / med[0]);
			else
				printf(" %9s", "-");
		}
		printf("\n");
	}
	rte_eal_cleanup();
	return failed;
}
