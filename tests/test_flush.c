/* SPDX-License-Identifier: MIT */
/*
 * test_flush.c - ivm_flush_domain and ivm_flush_domain_by_va_list: their
 * statuses and their effect on the model IOTLB, observed through the
 * domain's counters and the model device.
 */
#include "bb_util.h"

static struct ivm_swdev *must_swdev(struct ivm_domain *d)
{
	struct ivm_swdev *dev = NULL;
	ivm_status st = ivm_swdev_create(d, &dev);
	if (st != IVM_STATUS_SUCCESS || !dev)
		bb_die("ivm_swdev_create", st);
	return dev;
}

/* A domain with two mapped pages at A and B, both cached in the IOTLB. */
struct fixture {
	struct ivm_domain *d;
	struct ivm_swdev *dev;
	uint8_t *buf;
};
#define LA_A 0x100000ull
#define LA_B 0x200000ull

static struct fixture setup(void)
{
	struct fixture f;
	f.d = bb_domain_plain();
	f.dev = must_swdev(f.d);
	f.buf = bb_pages(2);
	struct ivm_phys p = bb_buffer(f.buf, PG);
	ivm_la ex = LA_A, la;
	if (ivm_map_logical_range_ex(f.d, PERM_RW, &p, &ex, NULL, NULL, &la))
		bb_die("map A", IVM_STATUS_UNSUCCESSFUL);
	p = bb_buffer(f.buf + PG, PG);
	ex = LA_B;
	if (ivm_map_logical_range_ex(f.d, PERM_RW, &p, &ex, NULL, NULL, &la))
		bb_die("map B", IVM_STATUS_UNSUCCESSFUL);
	uint8_t b[4];
	CHECK_STATUS(ivm_swdev_dma_read(f.dev, LA_A, b, 4), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_swdev_dma_read(f.dev, LA_B, b, 4), IVM_STATUS_SUCCESS);
	return f;
}

static void teardown(struct fixture *f)
{
	ivm_swdev_destroy(&f->dev);
	ivm_domain_destroy(&f->d);
	free(f->buf);
}

/* DMA-read one byte at la; return 1 if its page hit the IOTLB, 0 if it
 * missed (walked the table), -1 if the counters say neither.  A hit moves
 * iotlb_hits and not iotlb_misses; a miss moves iotlb_misses by one (the
 * model may count further lookups of the entry it just filled as hits). */
static int dma_hit(struct fixture *f, ivm_la la)
{
	struct ivm_domain_stats s0 = bb_stats(f->d);
	uint8_t b;
	CHECK_STATUS(ivm_swdev_dma_read(f->dev, la, &b, 1), IVM_STATUS_SUCCESS);
	struct ivm_domain_stats s1 = bb_stats(f->d);
	uint64_t hits = s1.iotlb_hits - s0.iotlb_hits;
	uint64_t misses = s1.iotlb_misses - s0.iotlb_misses;
	if (misses == 0 && hits >= 1)
		return 1;
	if (misses == 1)
		return 0;
	fprintf(stderr, "  one-page DMA: %" PRIu64 " hits, %" PRIu64
		" misses\n", hits, misses);
	return -1;
}

IVM_TEST(flush_argument_errors)
{
	struct ivm_domain *d = bb_domain_plain();
	ivm_la list[2] = { 0x1000, 0x2000 };
	CHECK_STATUS(ivm_flush_domain(NULL), IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_flush_domain_by_va_list(NULL, true, 2, list),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_flush_domain_by_va_list(NULL, false, 1, NULL),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_flush_domain_by_va_list(d, true, 1, NULL),
		     IVM_STATUS_INVALID_PARAMETER_4);
	CHECK_STATUS(ivm_flush_domain_by_va_list(d, false, 5, NULL),
		     IVM_STATUS_INVALID_PARAMETER_4);
	ivm_la past[3] = { 0x1000, 1ull << 48, 0x2000 };
	CHECK_STATUS(ivm_flush_domain_by_va_list(d, true, 3, past),
		     IVM_STATUS_INVALID_PARAMETER_4);
	past[1] = UINT64_MAX;
	CHECK_STATUS(ivm_flush_domain_by_va_list(d, false, 3, past),
		     IVM_STATUS_INVALID_PARAMETER_4);
	/* the last byte of the width is inside it */
	past[1] = (1ull << 48) - 1;
	CHECK_STATUS(ivm_flush_domain_by_va_list(d, false, 3, past),
		     IVM_STATUS_SUCCESS);
	/* count 0: nothing to do, even with a NULL list */
	CHECK_STATUS(ivm_flush_domain_by_va_list(d, true, 0, NULL),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_flush_domain_by_va_list(d, false, 0, list),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_flush_domain_by_va_list(d, true, 2, list),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_flush_domain(d), IVM_STATUS_SUCCESS);
	ivm_domain_destroy(&d);

	/* A 20-bit domain: 1 MiB is past its width. */
	d = bb_domain_buddy(20, 0);
	ivm_la small[1] = { 0x100000 };
	CHECK_STATUS(ivm_flush_domain_by_va_list(d, true, 1, small),
		     IVM_STATUS_INVALID_PARAMETER_4);
	small[0] = 0xFFFFF;
	CHECK_STATUS(ivm_flush_domain_by_va_list(d, true, 1, small),
		     IVM_STATUS_SUCCESS);
	ivm_domain_destroy(&d);
}

IVM_TEST(flush_passthrough)
{
	struct ivm_domain *pt = bb_domain_passthrough();
	ivm_la list[1] = { 0x1000 };
	CHECK_STATUS(ivm_flush_domain(pt), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_flush_domain_by_va_list(pt, true, 1, list),
		     IVM_STATUS_SUCCESS);
	ivm_domain_destroy(&pt);
}

IVM_TEST(flush_domain_empties_iotlb)
{
	struct fixture f = setup();
	CHECK(dma_hit(&f, LA_A) == 1);
	CHECK(dma_hit(&f, LA_B) == 1);
	struct ivm_domain_stats s0 = bb_stats(f.d);
	CHECK_STATUS(ivm_flush_domain(f.d), IVM_STATUS_SUCCESS);
	struct ivm_domain_stats s1 = bb_stats(f.d);
	CHECK_EQ_U64(s1.backend_flush_all, s0.backend_flush_all + 1);
	CHECK(s1.iotlb_invalidations >= s0.iotlb_invalidations + 2);
	CHECK(s1.backend_syncs >= s0.backend_syncs);
	/* mappings are untouched, the cache is not */
	EXPECT_TR(f.d, LA_A, (uintptr_t)f.buf, PERM_RW);
	CHECK_EQ_U64(s1.mappings, 2);
	CHECK(dma_hit(&f, LA_A) == 0);
	CHECK(dma_hit(&f, LA_B) == 0);
	CHECK(dma_hit(&f, LA_A) == 1);
	/* again: flush_all counts every call */
	CHECK_STATUS(ivm_flush_domain(f.d), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(bb_stats(f.d).backend_flush_all, s0.backend_flush_all + 2);
	teardown(&f);
}

IVM_TEST(flush_by_va_list_only_listed)
{
	struct fixture f = setup();
	CHECK(dma_hit(&f, LA_A) == 1);
	CHECK(dma_hit(&f, LA_B) == 1);
	struct ivm_domain_stats s0 = bb_stats(f.d);
	ivm_la list[1] = { LA_A + 0x123 };          /* names A's page */
	CHECK_STATUS(ivm_flush_domain_by_va_list(f.d, true, 1, list),
		     IVM_STATUS_SUCCESS);
	struct ivm_domain_stats s1 = bb_stats(f.d);
	CHECK(s1.iotlb_invalidations >= s0.iotlb_invalidations + 1);
	CHECK(s1.backend_syncs >= s0.backend_syncs + 1);
	CHECK_EQ_U64(s1.backend_flush_all, s0.backend_flush_all);
	CHECK(dma_hit(&f, LA_A) == 0);
	CHECK(dma_hit(&f, LA_B) == 1);
	/* last_level false behaves alike in the model */
	list[0] = LA_B;
	CHECK_STATUS(ivm_flush_domain_by_va_list(f.d, false, 1, list),
		     IVM_STATUS_SUCCESS);
	CHECK(dma_hit(&f, LA_B) == 0);
	CHECK(dma_hit(&f, LA_A) == 1);
	teardown(&f);
}

IVM_TEST(flush_by_va_list_bad_entry_flushes_nothing)
{
	struct fixture f = setup();
	CHECK(dma_hit(&f, LA_A) == 1);
	struct ivm_domain_stats s0 = bb_stats(f.d);
	ivm_la list[3] = { LA_A, LA_B, 1ull << 50 };
	CHECK_STATUS(ivm_flush_domain_by_va_list(f.d, true, 3, list),
		     IVM_STATUS_INVALID_PARAMETER_4);
	struct ivm_domain_stats s1 = bb_stats(f.d);
	CHECK_EQ_U64(s1.iotlb_invalidations, s0.iotlb_invalidations);
	CHECK(dma_hit(&f, LA_A) == 1);
	CHECK(dma_hit(&f, LA_B) == 1);
	teardown(&f);
}

IVM_TEST(flush_count_zero_flushes_nothing)
{
	struct fixture f = setup();
	struct ivm_domain_stats s0 = bb_stats(f.d);
	ivm_la list[1] = { LA_A };
	CHECK_STATUS(ivm_flush_domain_by_va_list(f.d, true, 0, list),
		     IVM_STATUS_SUCCESS);
	struct ivm_domain_stats s1 = bb_stats(f.d);
	CHECK_EQ_U64(s1.iotlb_invalidations, s0.iotlb_invalidations);
	CHECK_EQ_U64(s1.backend_flush_all, s0.backend_flush_all);
	CHECK(dma_hit(&f, LA_A) == 1);
	teardown(&f);
}

IVM_TEST(unmap_invalidates_and_syncs)
{
	struct fixture f = setup();
	struct ivm_domain_stats s0 = bb_stats(f.d);
	CHECK_STATUS(ivm_unmap_logical_range(f.d, LA_A, 1), IVM_STATUS_SUCCESS);
	struct ivm_domain_stats s1 = bb_stats(f.d);
	CHECK(s1.iotlb_invalidations >= s0.iotlb_invalidations + 1);
	CHECK(s1.backend_syncs >= s0.backend_syncs + 1);
	CHECK(dma_hit(&f, LA_B) == 1);
	teardown(&f);
}

IVM_TEST(flush_long_list)
{
	/* More entries than any batching the backend does internally. */
	struct fixture f = setup();
	CHECK(dma_hit(&f, LA_A) == 1);
	CHECK(dma_hit(&f, LA_B) == 1);
	ivm_la list[300];
	for (size_t i = 0; i < 300; i++)
		list[i] = 0x10000000ull + i * PG;
	list[150] = LA_A + 0xFFF;
	CHECK_STATUS(ivm_flush_domain_by_va_list(f.d, true, 300, list),
		     IVM_STATUS_SUCCESS);
	CHECK(dma_hit(&f, LA_A) == 0);
	teardown(&f);
}

IVM_TEST_MAIN()
