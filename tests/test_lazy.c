/* SPDX-License-Identifier: MIT */
/*
 * test_lazy.c - lazy invalidation through the public API: flush on fill,
 * on timeout (ivm_flush_poll and the flush thread), on ivm_flush_domain;
 * coalescing; the accepted stale window; strict mode; flush by VA list.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "iovamap/iovamap.h"

#define PG ((uint64_t)IVM_PAGE_SIZE)

static struct ivm_domain *lazy_domain(uint32_t queue, uint32_t timeout_us,
				      bool thread, enum ivm_flush_mode mode)
{
	static struct ivm_allocator_config buddy = {
		.type = IVM_ALLOCATOR_BUDDY, .address_width = 39 };
	struct ivm_domain_config cfg = {
		.allocator = &buddy,
		.flush_mode = mode,
		.flush_queue_size = queue,
		.flush_timeout_us = timeout_us,
		.flush_thread = thread,
	};
	struct ivm_domain *d = NULL;
	if (ivm_domain_create(&cfg, &d) != IVM_STATUS_SUCCESS)
		abort();
	return d;
}

static struct ivm_domain_stats stats(struct ivm_domain *d)
{
	struct ivm_domain_stats s;
	ivm_domain_get_stats(d, &s);
	return s;
}

static ivm_la map_page(struct ivm_domain *d, void *buf)
{
	struct ivm_phys p = { .type = IVM_PHYS_BUFFER, .buffer = { buf, PG } };
	ivm_la la = 0;
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ | IVM_PERM_WRITE,
					      &p, NULL, NULL, NULL, &la),
		     IVM_STATUS_SUCCESS);
	return la;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

IVM_TEST(config_is_validated)
{
	struct ivm_domain_config cfg = { .flush_mode = (enum ivm_flush_mode)2 };
	struct ivm_domain *d = NULL;
	CHECK_STATUS(ivm_domain_create(&cfg, &d), IVM_STATUS_INVALID_PARAMETER);
	cfg.flush_mode = IVM_FLUSH_LAZY;
	cfg.flush_queue_size = IVM_MAX_FLUSH_QUEUE_SIZE + 1;
	CHECK_STATUS(ivm_domain_create(&cfg, &d), IVM_STATUS_INVALID_PARAMETER);
	CHECK(d == NULL);
	CHECK_STATUS(ivm_flush_poll(NULL, NULL), IVM_STATUS_INVALID_PARAMETER_1);
}

/* The unmapped range waits in the queue: the address is not handed out
 * again, the device may still hit its cached translation (a stale hit,
 * counted), and after ivm_flush_domain both end. */
IVM_TEST(unmap_is_queued_until_flush)
{
	struct ivm_domain *d = lazy_domain(0, 0, false, IVM_FLUSH_LAZY);
	struct ivm_swdev *dev;
	char *buf = aligned_alloc(PG, PG), *other = aligned_alloc(PG, PG);
	char got[8];

	memcpy(buf, "payload", 8);
	CHECK_STATUS(ivm_swdev_create(d, &dev), IVM_STATUS_SUCCESS);
	ivm_la la = map_page(d, buf);
	CHECK_STATUS(ivm_swdev_dma_read(dev, la, got, 8), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_unmap_logical_range(d, la, 1), IVM_STATUS_SUCCESS);
	struct ivm_domain_stats s = stats(d);
	CHECK_EQ_U64(s.flush_queued, 1);
	CHECK_EQ_U64(s.mappings, 0);
	/* Not reusable yet: a new map gets another address. */
	ivm_la la2 = map_page(d, other);
	CHECK(la2 != la);
	/* The accepted window: the IOTLB still translates la. */
	CHECK_STATUS(ivm_swdev_dma_read(dev, la, got, 8), IVM_STATUS_SUCCESS);
	CHECK(memcmp(got, "payload", 8) == 0);
	CHECK_EQ_U64(stats(d).iotlb_stale_hits, 1);
	CHECK_EQ_U64(stats(d).iotlb_violations, 0);
	CHECK_STATUS(ivm_flush_domain(d), IVM_STATUS_SUCCESS);
	s = stats(d);
	CHECK_EQ_U64(s.flush_queued, 0);
	CHECK_EQ_U64(s.flush_entries, 1);
	CHECK_STATUS(ivm_swdev_dma_read(dev, la, got, 8),
		     IVM_STATUS_ACCESS_VIOLATION);
	/* Now the address comes back (no cache: lowest first). */
	CHECK_STATUS(ivm_unmap_logical_range(d, la2, 1), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_flush_domain(d), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(stats(d).iova_used_pages - stats(d).iova_cached_pages, 0);
	ivm_swdev_destroy(&dev);
	ivm_domain_destroy(&d);
	free(buf);
	free(other);
}

IVM_TEST(flush_on_fill)
{
	struct ivm_domain *d = lazy_domain(4, 0, false, IVM_FLUSH_LAZY);
	char *buf = aligned_alloc(PG, PG);
	ivm_la la[5];

	for (int i = 0; i < 5; i++)
		la[i] = map_page(d, buf);
	for (int i = 0; i < 4; i++)
		CHECK_STATUS(ivm_unmap_logical_range(d, la[i], 1), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(stats(d).flush_batches, 0);
	CHECK_EQ_U64(stats(d).flush_queued, 4);
	/* The fifth finds the queue full (on this CPU, unless the thread
	 * migrated meanwhile: then another queue takes it, and nothing may
	 * be flushed yet). */
	CHECK_STATUS(ivm_unmap_logical_range(d, la[4], 1), IVM_STATUS_SUCCESS);
	struct ivm_domain_stats s = stats(d);
	CHECK(s.flush_queued + s.flush_entries == 5);
	CHECK(s.flush_batches <= 1);
	CHECK_STATUS(ivm_flush_domain(d), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(stats(d).flush_entries, 5);
	ivm_domain_destroy(&d);
	free(buf);
}

IVM_TEST(flush_on_timeout_by_poll)
{
	struct ivm_domain *d = lazy_domain(0, 2000, false, IVM_FLUSH_LAZY);
	char *buf = aligned_alloc(PG, PG);
	size_t flushed = 99;

	ivm_la la = map_page(d, buf);
	CHECK_STATUS(ivm_unmap_logical_range(d, la, 1), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_flush_poll(d, &flushed), IVM_STATUS_SUCCESS);
	/* The coarse clock ticks every few ms: right after the unmap the
	 * entry is (almost always) not due yet. */
	CHECK(flushed <= 1);
	sleep_ms(30);
	CHECK_STATUS(ivm_flush_poll(d, &flushed), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(stats(d).flush_queued, 0);
	CHECK_EQ_U64(stats(d).flush_entries, 1);
	CHECK(stats(d).flush_wait_ns >= 2000000);
	ivm_domain_destroy(&d);
	free(buf);
}

IVM_TEST(flush_on_timeout_by_thread)
{
	struct ivm_domain *d = lazy_domain(0, 2000, true, IVM_FLUSH_LAZY);
	char *buf = aligned_alloc(PG, PG);

	ivm_la la = map_page(d, buf);
	CHECK_STATUS(ivm_unmap_logical_range(d, la, 1), IVM_STATUS_SUCCESS);
	for (int i = 0; i < 200 && stats(d).flush_queued != 0; i++)
		sleep_ms(5);
	CHECK_EQ_U64(stats(d).flush_queued, 0);
	CHECK_EQ_U64(stats(d).flush_entries, 1);
	ivm_domain_destroy(&d);
	free(buf);
}

/* While the flush thread flushes, every unmap done so far shows in the
 * statistics as queued or as released, never in neither (a ring the
 * thread has taken but not yet counted is still queued). */
IVM_TEST(stats_count_every_unmap_while_the_thread_flushes)
{
	struct ivm_domain *d = lazy_domain(0, 100, true, IVM_FLUSH_LAZY);
	char *buf = aligned_alloc(PG, PG);
	struct timespec t0, t;
	uint64_t unmaps = 0, flushed_seen = 0, missing = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (int i = 0; i < 64; i++) {
			ivm_la la = map_page(d, buf);
			CHECK_STATUS(ivm_unmap_logical_range(d, la, 1),
				     IVM_STATUS_SUCCESS);
			unmaps++;
			struct ivm_domain_stats s = stats(d);
			if (s.flush_queued + s.flush_entries < unmaps)
				missing++;
			if (s.flush_entries != 0)
				flushed_seen++;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000000000ll +
		 (t.tv_nsec - t0.tv_nsec) < 300000000ll);
	CHECK_EQ_U64(missing, 0);
	CHECK(flushed_seen > 0); /* the thread did flush meanwhile */
	CHECK_STATUS(ivm_flush_domain(d), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(stats(d).flush_queued, 0);
	CHECK_EQ_U64(stats(d).flush_entries, unmaps);
	ivm_domain_destroy(&d);
	free(buf);
}

IVM_TEST(adjacent_ranges_coalesce)
{
	struct ivm_domain *d = lazy_domain(0, 0, false, IVM_FLUSH_LAZY);
	char *buf = aligned_alloc(PG, PG);
	ivm_la la[16];

	/* No cache on a fresh domain's first allocations: lowest first, so
	 * 16 single pages are adjacent. */
	for (int i = 0; i < 16; i++)
		la[i] = map_page(d, buf);
	for (int i = 0; i < 16; i++)
		CHECK_STATUS(ivm_unmap_logical_range(d, la[i], 1), IVM_STATUS_SUCCESS);
	uint64_t before = stats(d).backend_syncs;
	CHECK_STATUS(ivm_flush_domain(d), IVM_STATUS_SUCCESS);
	struct ivm_domain_stats s = stats(d);
	CHECK_EQ_U64(s.flush_entries, 16);
	CHECK_EQ_U64(s.backend_syncs - before, 1);
	ivm_domain_destroy(&d);

	/* A poll-driven flush of one queue merges adjacent ranges into one
	 * add_range (flush_ranges counts them). */
	d = lazy_domain(0, 1000, false, IVM_FLUSH_LAZY);
	for (int i = 0; i < 16; i++)
		la[i] = map_page(d, buf);
	bool adjacent = true;
	for (int i = 1; i < 16; i++)
		adjacent &= la[i] == la[i - 1] + PG;
	for (int i = 0; i < 16; i++)
		ivm_unmap_logical_range(d, la[i], 1);
	sleep_ms(30);
	size_t flushed = 0;
	ivm_flush_poll(d, &flushed);
	s = stats(d);
	CHECK_EQ_U64(flushed, 16);
	if (adjacent && s.flush_batches == 1)
		CHECK_EQ_U64(s.flush_ranges, 1);
	CHECK(s.flush_ranges <= 16);
	ivm_domain_destroy(&d);
	free(buf);
}

IVM_TEST(many_scattered_ranges_flush_domain_wide)
{
	struct ivm_domain *d = lazy_domain(0, 1000, false, IVM_FLUSH_LAZY);
	char *buf = aligned_alloc(PG, PG);
	enum { N = 2048, STEP = 16 };
	static ivm_la la[N];

	for (int i = 0; i < N; i++)
		la[i] = map_page(d, buf);
	/* Every 16th page: 128 ranges that cannot merge, spread too thin
	 * for one covering range (span > 4x pages + 512). */
	for (int i = 0; i < N; i += STEP)
		ivm_unmap_logical_range(d, la[i], 1);
	sleep_ms(30);
	ivm_flush_poll(d, NULL);
	struct ivm_domain_stats s = stats(d);
	CHECK_EQ_U64(s.flush_entries, N / STEP);
	CHECK(s.flush_domain_wide >= 1);
	for (int i = 0; i < N; i++)
		if (i % STEP != 0)
			ivm_unmap_logical_range(d, la[i], 1);
	ivm_domain_destroy(&d);
	free(buf);
}

/* Close but not adjacent ranges: one covering range, no domain-wide
 * flush (flushq.c: FLUSHQ_SPAN_SLACK). */
IVM_TEST(close_ranges_flush_as_one_span)
{
	struct ivm_domain *d = lazy_domain(0, 1000, false, IVM_FLUSH_LAZY);
	char *buf = aligned_alloc(PG, PG);
	ivm_la la[200];

	for (int i = 0; i < 200; i++)
		la[i] = map_page(d, buf);
	/* Every other page: 100 ranges that cannot merge. */
	for (int i = 0; i < 200; i += 2)
		ivm_unmap_logical_range(d, la[i], 1);
	sleep_ms(30);
	ivm_flush_poll(d, NULL);
	struct ivm_domain_stats s = stats(d);
	CHECK_EQ_U64(s.flush_entries, 100);
	CHECK_EQ_U64(s.flush_domain_wide, 0);
	CHECK_EQ_U64(s.flush_ranges, s.flush_batches);
	for (int i = 1; i < 200; i += 2)
		ivm_unmap_logical_range(d, la[i], 1);
	ivm_domain_destroy(&d);
	free(buf);
}

/* Strict mode: the unmap returns after its invalidation. */
IVM_TEST(strict_mode_invalidates_before_returning)
{
	struct ivm_domain *d = lazy_domain(0, 0, false, IVM_FLUSH_STRICT);
	struct ivm_swdev *dev;
	char *buf = aligned_alloc(PG, PG), got[4];

	CHECK_STATUS(ivm_swdev_create(d, &dev), IVM_STATUS_SUCCESS);
	ivm_la la = map_page(d, buf);
	CHECK_STATUS(ivm_swdev_dma_read(dev, la, got, 4), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_unmap_logical_range(d, la, 1), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(stats(d).flush_queued, 0);
	CHECK_STATUS(ivm_swdev_dma_read(dev, la, got, 4),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK_EQ_U64(stats(d).iotlb_stale_hits, 0);
	ivm_swdev_destroy(&dev);
	ivm_domain_destroy(&d);
	free(buf);
}

/* By VA list: the listed page's IOTLB entry goes at once, but the queued
 * address still waits for its queue flush. */
IVM_TEST(flush_by_va_list_in_lazy_mode)
{
	struct ivm_domain *d = lazy_domain(0, 0, false, IVM_FLUSH_LAZY);
	struct ivm_swdev *dev;
	char *buf = aligned_alloc(PG, PG), got[4];

	CHECK_STATUS(ivm_swdev_create(d, &dev), IVM_STATUS_SUCCESS);
	ivm_la la = map_page(d, buf);
	CHECK_STATUS(ivm_swdev_dma_read(dev, la, got, 4), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_unmap_logical_range(d, la, 1), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_flush_domain_by_va_list(d, true, 1, &la), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_swdev_dma_read(dev, la, got, 4),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK_EQ_U64(stats(d).flush_queued, 1);
	ivm_swdev_destroy(&dev);
	ivm_domain_destroy(&d); /* destroy flushes the queue */
	free(buf);
}

/* Explicit-address maps are invalidated strictly even on a lazy domain:
 * their caller may use the address again right away. */
IVM_TEST(explicit_unmaps_are_strict)
{
	struct ivm_allocator_config buddy = {
		.type = IVM_ALLOCATOR_BUDDY, .address_width = 39,
		.flags = IVM_ALLOCATOR_ALLOW_EXPLICIT };
	struct ivm_domain_config cfg = { .allocator = &buddy };
	struct ivm_domain *d = NULL;
	struct ivm_swdev *dev;
	char *buf = aligned_alloc(PG, PG), got[4];
	ivm_la at = 0x100000, out;
	struct ivm_phys p = { .type = IVM_PHYS_BUFFER, .buffer = { buf, PG } };

	CHECK_STATUS(ivm_domain_create(&cfg, &d), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_swdev_create(d, &dev), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p, &at, NULL,
					      NULL, &out), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_swdev_dma_read(dev, at, got, 4), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_unmap_logical_range(d, at, 1), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(stats(d).flush_queued, 0);
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p, &at, NULL,
					      NULL, &out), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_unmap_logical_range(d, at, 1), IVM_STATUS_SUCCESS);
	ivm_swdev_destroy(&dev);
	ivm_domain_destroy(&d);
	free(buf);
}

IVM_TEST_MAIN()
