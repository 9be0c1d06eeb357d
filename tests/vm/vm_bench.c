/* SPDX-License-Identifier: MIT */
/*
 * vm_bench.c - what batching buys on the VFIO backend, measured inside the
 * VM test's guest (tests/vm/run-vm.sh --bench; docs/vfio.md).
 *
 * For each map path (IVM_VFIO_MAP_DIRECT, IVM_VFIO_MAP_DPDK), N (default
 * 1000, IVM_BENCH_N) single-page buffers from one contiguous pool, each
 * phase in a fresh domain with the edu device attached:
 *   strict   N maps, then N unmaps one by one in a strict domain: every
 *            unmap syncs, so one VFIO unmap call each;
 *   lazy     the same unmaps in a lazy domain (default flush queue of 256),
 *            then ivm_flush_domain: each queue flush coalesces adjacent
 *            whole mappings into few unmap calls;
 *   range    the N mappings at consecutive explicit IOVAs, removed by one
 *            ivm_unmap_logical_range call covering all of them (one sync);
 *   pool     one mapping of the whole N-page pool, buffers handed out
 *            inside it (no VFIO call per buffer), one unmap.
 * Reported per phase: time per buffer unmapped (guest CLOCK_MONOTONIC;
 * under TCG only ratios mean anything), the VFIO unmap calls and
 * mappings they removed (ivm_domain_get_stats), and the ratios.  With the
 * harness's --trace, QEMU counts the VT-d IOTLB invalidation descriptors
 * of each phase: the phase is bracketed by marker mappings (one page at
 * IOVA 0xff00000 + id pages, mapped and unmapped) and each bracket is
 * announced as "VMBENCH: MARK id label".
 *
 * No DMA happens here; the device is attached only so that the container
 * has an IOMMU and the kernel really maps and invalidates.
 *
 * Usage: vm_bench [BDF]
 */
#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <iovamap/iovamap.h>
#include <iovamap/vfio.h>

#include "edu.h"
#include "vm_domain.h"
#include "vmtest.h"

#define PAGE        4096u
#define RANGE_BASE  0x4000000ull   /* explicit IOVAs of the range phase */
#define MARK_BASE   0xff00000ull   /* marker pages (run-vm.sh knows it);
                                      explicit, far above what the
                                      allocator (lowest first) hands out */
#define RW          (IVM_PERM_READ | IVM_PERM_WRITE)

enum phase { PHASE_STRICT, PHASE_LAZY, PHASE_RANGE, PHASE_POOL, PHASES };

static const char *const phase_name[PHASES] = { "strict", "lazy", "range",
						"pool" };

struct result {
	bool ok;
	double unmap_ns;        /* per buffer */
	double map_ns;          /* per buffer */
	uint64_t unmap_calls;   /* VFIO unmap calls of the unmap part */
	uint64_t unmapped;      /* mappings they removed */
	uint64_t p50_ns, p99_ns; /* strict: single unmap latencies */
	uint64_t queue_flushes; /* lazy: flush queue flushes */
};

static const char *bdf;
static unsigned marker_id;
static uint8_t *marker_page;

static ivm_status map_buffer(struct ivm_domain *d, void *va, uint64_t pages,
			     const ivm_la *explicit_la, ivm_la *la)
{
	struct ivm_phys phys = { .type = IVM_PHYS_BUFFER,
				 .buffer = { .va = va, .size = pages * PAGE } };

	return ivm_map_logical_range_ex(d, RW, &phys, explicit_la, NULL, NULL, la);
}

/*
 * A phase marker: one page mapped and unmapped at MARK_BASE + id pages.
 * Its invalidations carry that address, so the harness can split QEMU's
 * trace there.  @label "-" closes a phase.  Must not run while unmaps are
 * pending (its strict unmap would sync them).
 */
static void mark(struct ivm_domain *d, const char *label)
{
	ivm_la la = MARK_BASE + (uint64_t)++marker_id * PAGE, got;
	ivm_status st;

	if (marker_id >= 256)
		vmtest_fatal("too many markers");
	st = map_buffer(d, marker_page, 1, &la, &got);
	if (st == IVM_STATUS_SUCCESS)
		st = ivm_unmap_logical_range(d, la, 1);
	if (st != IVM_STATUS_SUCCESS)
		vmtest_fatal("marker %u: %s (%s)", marker_id,
			     ivm_status_name(st), ivm_status_detail());
	printf("VMBENCH: MARK %u %s\n", marker_id, label);
}

static struct ivm_domain_stats stats_of(struct ivm_domain *d)
{
	struct ivm_domain_stats s;

	if (ivm_domain_get_stats(d, &s) != IVM_STATUS_SUCCESS)
		vmtest_fatal("ivm_domain_get_stats");
	return s;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool fail(const char *what, ivm_status st)
{
	vmtest_checkf(false, "bench", what, "%s (%s)", ivm_status_name(st),
		      ivm_status_detail());
	return false;
}

/* One phase in a fresh domain; fills *r.  Returns false on a failure
 * (reported as a failed check). */
static bool run_phase(const char *path_name, enum ivm_vfio_map_path path,
		      enum phase phase, unsigned round, uint8_t *pool, unsigned n,
		      ivm_la *las, uint64_t *lat, struct result *r)
{
	char label[64];
	struct ivm_domain *d = NULL;
	struct ivm_vfio_device dev;
	struct ivm_domain_stats before, after;
	ivm_status st;
	uint64_t t0, t1;
	bool ok = false;

	memset(r, 0, sizeof(*r));
	snprintf(label, sizeof(label), "%s/%s", path_name, phase_name[phase]);
	(void)round;
	st = vm_make_domain(path, phase == PHASE_LAZY ? IVM_FLUSH_LAZY
						   : IVM_FLUSH_STRICT, &d);
	if (st != IVM_STATUS_SUCCESS)
		return fail("domain_create", st);
	st = ivm_domain_attach_device(d, bdf, &dev);
	if (st != IVM_STATUS_SUCCESS) {
		fail("attach", st);
		goto out;
	}

	/* Maps. */
	t0 = vmtest_now_ns();
	if (phase == PHASE_POOL) {
		st = map_buffer(d, pool, n, NULL, &las[0]);
		for (unsigned i = 1; i < n; i++)
			las[i] = las[0] + (uint64_t)i * PAGE; /* no call */
	} else {
		for (unsigned i = 0; i < n && st == IVM_STATUS_SUCCESS; i++) {
			ivm_la want = RANGE_BASE + (uint64_t)i * PAGE;

			st = map_buffer(d, pool + (size_t)i * PAGE, 1,
					phase == PHASE_RANGE ? &want : NULL,
					&las[i]);
		}
	}
	t1 = vmtest_now_ns();
	if (st != IVM_STATUS_SUCCESS) {
		fail("map", st);
		goto out_detach;
	}
	r->map_ns = (double)(t1 - t0) / n;

	/* Unmaps, between two markers. */
	mark(d, label);
	before = stats_of(d);
	t0 = vmtest_now_ns();
	switch (phase) {
	case PHASE_STRICT:
	case PHASE_LAZY:
		for (unsigned i = 0; i < n && st == IVM_STATUS_SUCCESS; i++) {
			uint64_t s = vmtest_now_ns();

			st = ivm_unmap_logical_range(d, las[i], 1);
			lat[i] = vmtest_now_ns() - s;
		}
		if (st == IVM_STATUS_SUCCESS && phase == PHASE_LAZY)
			st = ivm_flush_domain(d);
		break;
	case PHASE_RANGE:
		st = ivm_unmap_logical_range(d, RANGE_BASE, n);
		break;
	case PHASE_POOL:
		st = ivm_unmap_logical_range(d, las[0], n);
		break;
	default:
		break;
	}
	t1 = vmtest_now_ns();
	after = stats_of(d);
	mark(d, "-");
	if (st != IVM_STATUS_SUCCESS) {
		fail("unmap", st);
		goto out_detach;
	}
	r->unmap_ns = (double)(t1 - t0) / n;
	r->unmap_calls = after.vfio_unmap_calls - before.vfio_unmap_calls;
	r->unmapped = after.vfio_unmapped - before.vfio_unmapped;
	if (phase == PHASE_STRICT) {
		qsort(lat, n, sizeof(*lat), cmp_u64);
		r->p50_ns = lat[n / 2];
		r->p99_ns = lat[(size_t)n * 99 / 100];
	}
	r->ok = ok = true;
	if (phase == PHASE_LAZY)
		r->queue_flushes = after.flush_batches - before.flush_batches;
out_detach:
	st = ivm_domain_detach_device(d, bdf);
	if (st != IVM_STATUS_SUCCESS)
		ok = fail("detach", st);
out:
	ivm_domain_destroy(&d);
	return ok;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median over rounds of one field (rounds whose phase failed left
 * out); 0 when none succeeded. */
static double median_of(const struct result *rs, unsigned rounds,
			size_t stride, size_t offset)
{
	double v[64];
	unsigned k = 0;

	for (unsigned r = 0; r < rounds; r++) {
		const struct result *x =
			(const struct result *)((const char *)rs + r * stride);

		if (x->ok)
			v[k++] = *(const double *)((const char *)x + offset);
	}
	if (k == 0)
		return 0;
	qsort(v, k, sizeof(*v), cmp_double);
	return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

#define MAX_ROUNDS 15

int main(int argc, char **argv)
{
	const char *env_n = getenv("IVM_BENCH_N");
	const char *env_rounds = getenv("IVM_BENCH_ROUNDS");
	unsigned n = env_n ? (unsigned)strtoul(env_n, NULL, 0) : 1000;
	unsigned rounds = env_rounds ? (unsigned)strtoul(env_rounds, NULL, 0) : 5;
	static const struct {
		const char *name;
		enum ivm_vfio_map_path path;
	} paths[] = { { "direct", IVM_VFIO_MAP_DIRECT },
		      { "dpdk", IVM_VFIO_MAP_DPDK } };
	static struct result res[2][PHASES][MAX_ROUNDS];
	double unmap_med[2][PHASES], map_med[2][PHASES];
	uint8_t *pool;
	ivm_la *las;
	uint64_t *lat;

	setvbuf(stdout, NULL, _IOLBF, 0);
	bdf = vm_edu_bdf(argc, argv);
	if (n < 2 || n > 16384)
		vmtest_fatal("IVM_BENCH_N=%u: want 2..16384", n);
	if (rounds < 1 || rounds > MAX_ROUNDS)
		vmtest_fatal("IVM_BENCH_ROUNDS=%u: want 1..%d", rounds, MAX_ROUNDS);
	pool = mmap(NULL, (size_t)n * PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	marker_page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	las = calloc(n, sizeof(*las));
	lat = calloc(n, sizeof(*lat));
	if (pool == MAP_FAILED || marker_page == MAP_FAILED || !las || !lat)
		vmtest_fatal("out of memory");

	/* Rounds interleave every phase of both paths, so that a slow spell
	 * of the emulator hits all of them alike; medians over rounds. */
	for (unsigned r = 0; r < rounds; r++)
		for (unsigned p = 0; p < 2; p++)
			for (unsigned ph = 0; ph < PHASES; ph++)
				if (!run_phase(paths[p].name, paths[p].path,
					       (enum phase)ph, r, pool, n, las,
					       lat, &res[p][ph][r]))
					vmtest_checkf(false, "bench", "phase",
						      "%s/%s round %u",
						      paths[p].name,
						      phase_name[ph], r);

	printf("VMBENCH: n=%u single-page buffers, median of %u rounds; "
	       "ns per buffer (guest clock)\n", n, rounds);
	for (unsigned p = 0; p < 2; p++) {
		for (unsigned ph = 0; ph < PHASES; ph++) {
			const struct result *rs = res[p][ph];
			const struct result *last = &rs[rounds - 1];
			unsigned ok = 0;

			for (unsigned r = 0; r < rounds; r++)
				ok += rs[r].ok;
			unmap_med[p][ph] = median_of(rs, rounds, sizeof(*rs),
					offsetof(struct result, unmap_ns));
			map_med[p][ph] = median_of(rs, rounds, sizeof(*rs),
					offsetof(struct result, map_ns));
			vmtest_checkf(ok == rounds, "bench", "phase_all_rounds",
				      "%s/%s %u of %u", paths[p].name,
				      phase_name[ph], ok, rounds);
			if (!ok)
				continue;
			printf("VMBENCH: %-6s %-6s unmap=%8.0f map=%8.0f "
			       "vfio_unmap_calls=%llu vfio_mappings_removed=%llu",
			       paths[p].name, phase_name[ph], unmap_med[p][ph],
			       map_med[p][ph],
			       (unsigned long long)last->unmap_calls,
			       (unsigned long long)last->unmapped);
			if (ph == PHASE_STRICT)
				printf(" (last round: single unmap p50=%llu "
				       "p99=%llu)",
				       (unsigned long long)last->p50_ns,
				       (unsigned long long)last->p99_ns);
			if (ph == PHASE_LAZY)
				printf(" queue_flushes=%llu",
				       (unsigned long long)last->queue_flushes);
			printf("\n");
		}
	}

	/* Ratios: each way of unmapping against strict one by one on the
	 * same path, and the DPDK path against the direct one. */
	for (unsigned p = 0; p < 2; p++)
		for (unsigned ph = PHASE_LAZY; ph < PHASES; ph++)
			if (unmap_med[p][PHASE_STRICT] > 0 && unmap_med[p][ph] > 0)
				printf("VMBENCH: ratio %s unmap strict/%s = %.1fx\n",
				       paths[p].name, phase_name[ph],
				       unmap_med[p][PHASE_STRICT] / unmap_med[p][ph]);
	for (unsigned ph = 0; ph < PHASES; ph++)
		if (unmap_med[0][ph] > 0 && unmap_med[1][ph] > 0 &&
		    map_med[0][ph] > 0)
			printf("VMBENCH: ratio %s dpdk/direct = %.1fx (unmap), "
			       "%.1fx (map)\n", phase_name[ph],
			       unmap_med[1][ph] / unmap_med[0][ph],
			       map_med[1][ph] / map_med[0][ph]);
	return vmtest_result();
}
