/* SPDX-License-Identifier: MIT */
/*
 * stress_invariant.c - the invariant of lazy invalidation under load:
 * no IOVA is handed out again before the invalidation of its last use has
 * completed.
 *
 * Mapper threads map one-page buffers at allocator-chosen addresses and
 * unmap them again soon after; a model-device thread keeps DMAing through
 * the addresses it saw most recently, mapped or just unmapped, so its IOTLB
 * is full of translations of addresses that are being recycled.  The
 * software IOMMU's detector counts a violation whenever the IOTLB serves
 * a translation whose address has meanwhile been mapped to other memory.
 * Lazy and strict mode must both end with zero violations.  The same
 * holds for a queue's own slots (lib/slots.c): there each mapper owns a
 * slot set and maps its buffers in turn into slots that come back only
 * through the flush queue.
 *
 * In a build with -Dbroken_free_before_sync=true (addresses freed at unmap,
 * invalidated later) this program must FAIL: tests/meson.build declares
 * it should_fail there, which proves the detector catches the bug.
 *
 * Seconds per mode: IVM_STRESS_SECONDS (default 1).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "iovamap/iovamap.h"
#include "util.h" /* ivm_slots_*: exported for iovamap-dpdk */

#define PG ((uint64_t)IVM_PAGE_SIZE)
#define MAPPERS 4          /* more threads than the 2 CPUs of CI: pushes are
                              preempted and migrate mid-section */
#define LIVE 16            /* mappings each mapper keeps */
#define RECENT 64          /* addresses the device cycles through */

static double stress_seconds = 1.0;

struct run {
	struct ivm_domain *d;
	struct ivm_swdev *dev;
	_Atomic bool stop;
	_Atomic ivm_la recent[RECENT];
	_Atomic unsigned recent_next;
	_Atomic uint64_t maps, dmas, errors;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void remember(struct run *r, ivm_la la)
{
	unsigned i = atomic_fetch_add_explicit(&r->recent_next, 1,
					       memory_order_relaxed);
	atomic_store_explicit(&r->recent[i % RECENT], la, memory_order_relaxed);
}

static void *mapper(void *p)
{
	struct run *r = p;
	char *bufs = aligned_alloc(PG, 3 * LIVE * PG);
	ivm_la live[LIVE];
	unsigned n = 0, next = 0, turn = 0;

	memset(bufs, 0x5a, 3 * LIVE * PG);
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		if (n == LIVE) {
			/* Unmap the oldest; the device may still use it. */
			if (ivm_unmap_logical_range(r->d, live[next], 1) !=
			    IVM_STATUS_SUCCESS)
				atomic_fetch_add(&r->errors, 1);
			n--;
		}
		/* Buffers rotate through 3 * LIVE pages, so an address
		 * recycled at once maps to other memory than its last use. */
		turn = (turn + 1) % (3 * LIVE);
		struct ivm_phys phys = { .type = IVM_PHYS_BUFFER,
					 .buffer = { bufs + turn * PG, PG } };
		ivm_la la;
		if (ivm_map_logical_range_ex(r->d, IVM_PERM_READ | IVM_PERM_WRITE,
					     &phys, NULL, NULL, NULL, &la) !=
		    IVM_STATUS_SUCCESS) {
			atomic_fetch_add(&r->errors, 1);
			continue;
		}
		live[next] = la;
		next = (next + 1) % LIVE;
		n++;
		remember(r, la);
		atomic_fetch_add_explicit(&r->maps, 1, memory_order_relaxed);
		ivm_flush_poll(r->d, NULL); /* the PMD-style timeout driver */
		ivm_quiescent();
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned k = (next + LIVE - n + i) % LIVE;
		ivm_unmap_logical_range(r->d, live[k], 1);
	}
	ivm_flush_domain(r->d); /* every address back before the buffers go */
	free(bufs);
	return NULL;
}

/* A queue's owner: one-page buffers into its own 32 slots of a page,
 * LIVE / 4 of them mapped at a time; a slot still waiting for its
 * invalidation is a refusal, and the mapper polls the timeout and tries
 * again. */
#define SLOTS 32
static void *slot_mapper(void *p)
{
	struct run *r = p;
	const unsigned live_max = LIVE / 4;
	char *bufs = aligned_alloc(PG, 3 * LIVE * PG);
	struct ivm_slots *set = NULL;
	ivm_la live[LIVE / 4];
	uint64_t frame[LIVE / 4];
	unsigned n = 0, next = 0, turn = 0;

	memset(bufs, 0x5a, 3 * LIVE * PG);
	if (ivm_slots_create(r->d, 1, SLOTS, 0, &set) != IVM_STATUS_SUCCESS) {
		atomic_fetch_add(&r->errors, 1);
		free(bufs);
		return NULL;
	}
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		if (n == live_max) {
			/* The oldest; the device may still use it. */
			if (ivm_slots_unmap(set, live[next], 1, frame[next],
					    frame[next]) != IVM_STATUS_SUCCESS)
				atomic_fetch_add(&r->errors, 1);
			next = (next + 1) % live_max;
			n--;
		}
		turn = (turn + 1) % (3 * LIVE);
		uint64_t addr = (uintptr_t)(bufs + turn * PG);
		ivm_la la, iova;
		ivm_status st = ivm_slots_map(set,
					      IVM_PERM_READ | IVM_PERM_WRITE,
					      &addr, 1, &iova, &la);
		ivm_flush_poll(r->d, NULL);
		ivm_quiescent();
		if (st == IVM_STATUS_INSUFFICIENT_RESOURCES)
			continue; /* the slot's invalidation is still due */
		if (st != IVM_STATUS_SUCCESS || iova != la) {
			atomic_fetch_add(&r->errors, 1);
			continue;
		}
		unsigned k = (next + n) % live_max;
		live[k] = la;
		frame[k] = addr;
		n++;
		remember(r, la);
		atomic_fetch_add_explicit(&r->maps, 1, memory_order_relaxed);
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned k = (next + i) % live_max;
		ivm_slots_unmap(set, live[k], 1, frame[k], frame[k]);
	}
	if (ivm_slots_destroy(&set) != IVM_STATUS_SUCCESS)
		atomic_fetch_add(&r->errors, 1);
	free(bufs);
	return NULL;
}

static void *device(void *p)
{
	struct run *r = p;
	char byte;

	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		for (unsigned i = 0; i < RECENT; i++) {
			ivm_la la = atomic_load_explicit(&r->recent[i],
							 memory_order_relaxed);
			if (la == 0)
				continue;
			/* Faults (unmapped) are expected; violations are not. */
			(void)ivm_swdev_dma_read(r->dev, la, &byte, 1);
			atomic_fetch_add_explicit(&r->dmas, 1, memory_order_relaxed);
		}
		ivm_quiescent();
	}
	return NULL;
}

/* Maps a run must have checked to count. */
#define MIN_MAPS 1000

static void run_mode(enum ivm_flush_mode mode, bool cache, bool slots)
{
	static struct run r;
	struct ivm_allocator_config buddy = { .type = IVM_ALLOCATOR_BUDDY,
					      .address_width = 32 };
	struct ivm_domain_config cfg = {
		.allocator = &buddy,
		.flush_mode = mode,
		.flush_queue_size = 64,
		.flush_timeout_us = 1000,
		.disable_iova_cache = !cache,
	};
	pthread_t mt[MAPPERS], dt;

	memset(&r, 0, sizeof(r));
	CHECK_STATUS(ivm_domain_create(&cfg, &r.d), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_swdev_create(r.d, &r.dev), IVM_STATUS_SUCCESS);
	pthread_create(&dt, NULL, device, &r);
	for (int i = 0; i < MAPPERS; i++)
		pthread_create(&mt[i], NULL, slots ? slot_mapper : mapper, &r);
	/* Run for the time given, and on a loaded machine (sanitizers, other
	 * jobs) on until enough work was checked: the CHECK below is about
	 * the amount of checking, not about speed; 30 s more at most. */
	double end = now_s() + stress_seconds, hard_end = end + 30;
	while (now_s() < end ||
	       (atomic_load(&r.maps) <= MIN_MAPS && now_s() < hard_end))
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
	atomic_store(&r.stop, true);
	for (int i = 0; i < MAPPERS; i++)
		pthread_join(mt[i], NULL);
	pthread_join(dt, NULL);

	struct ivm_domain_stats s;
	ivm_domain_get_stats(r.d, &s);
	printf("  %s%s%s: %" PRIu64 " maps, %" PRIu64 " DMAs, %" PRIu64
	       " stale hits, %" PRIu64 " violations, %" PRIu64 " syncs\n",
	       mode == IVM_FLUSH_LAZY ? "lazy" : "strict",
	       cache ? "+cache" : "", slots ? " slots" : "",
	       atomic_load(&r.maps),
	       atomic_load(&r.dmas), s.iotlb_stale_hits, s.iotlb_violations,
	       s.backend_syncs);
	CHECK_EQ_U64(s.iotlb_violations, 0);
	CHECK_EQ_U64(atomic_load(&r.errors), 0);
	CHECK(atomic_load(&r.maps) > MIN_MAPS);
	CHECK_EQ_U64(s.mappings, 0);
	CHECK_EQ_U64(s.flush_queued, 0);
	CHECK_EQ_U64(s.iova_used_pages - s.iova_cached_pages, 0);
	CHECK_EQ_U64(s.reservations, 0);
	ivm_swdev_destroy(&r.dev);
	ivm_domain_destroy(&r.d);
}

IVM_TEST(lazy_never_reuses_before_invalidation)
{
	run_mode(IVM_FLUSH_LAZY, true, false);
}

IVM_TEST(lazy_without_cache)
{
	run_mode(IVM_FLUSH_LAZY, false, false);
}

IVM_TEST(strict_never_reuses_before_invalidation)
{
	run_mode(IVM_FLUSH_STRICT, true, false);
}

IVM_TEST(slots_lazy_never_reuse_before_invalidation)
{
	run_mode(IVM_FLUSH_LAZY, true, true);
}

IVM_TEST(slots_strict_never_reuse_before_invalidation)
{
	run_mode(IVM_FLUSH_STRICT, true, true);
}

int main(int argc, char **argv)
{
	const char *secs = getenv("IVM_STRESS_SECONDS");
	if (secs)
		stress_seconds = atof(secs);
	return ivm_test_run(argc, argv, NULL);
}
