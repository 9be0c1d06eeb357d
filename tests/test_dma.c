/* SPDX-License-Identifier: MIT */
/*
 * test_dma.c - the model device (iovamap/swiommu.h): DMA moves real bytes
 * exactly where the mappings say, permissions and unmaps fault, faults are
 * reported, and the model's IOTLB is invalidated on unmap.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bb_util.h"

struct fault_log {
	int count;
	struct ivm_fault last;
	void *ctx_seen;
};

static void record_fault(void *ctx, const struct ivm_fault *f)
{
	struct fault_log *log = ctx;
	log->count++;
	log->last = *f;
	log->ctx_seen = ctx;
}

static struct ivm_swdev *must_swdev(struct ivm_domain *d)
{
	struct ivm_swdev *dev = NULL;
	ivm_status st = ivm_swdev_create(d, &dev);
	if (st != IVM_STATUS_SUCCESS || !dev)
		bb_die("ivm_swdev_create", st);
	return dev;
}

static void fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31u + seed * 7u + (i >> 8));
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

#define CHECK_FAULT(log, n, la_want, access_want, reason_want)             \
	do {                                                               \
		CHECK_EQ_U64((log).count, (n));                            \
		CHECK_EQ_U64((log).last.la, (la_want));                    \
		CHECK_EQ_U64((log).last.access, (access_want));            \
		CHECK_EQ_U64((log).last.reason, (reason_want));            \
	} while (0)

IVM_TEST(dma_write_lands_where_mapped)
{
	struct ivm_domain *d = bb_domain_plain();
	struct ivm_swdev *dev = must_swdev(d);
	uint8_t *buf = bb_pages(3);
	uint8_t src[3 * 4096];
	struct ivm_phys p = bb_buffer(buf, 3 * PG);
	ivm_la ex = 0x100000, la = 0;
	CHECK_STATUS(ivm_map_logical_range_ex(d, PERM_RW, &p, &ex, NULL, NULL, &la),
		     IVM_STATUS_SUCCESS);
	fill_pattern(src, sizeof(src), 1);
	/* a write in the middle of the second page */
	CHECK_STATUS(ivm_swdev_dma_write(dev, la + PG + 100, src, 50),
		     IVM_STATUS_SUCCESS);
	CHECK(memcmp(buf + PG + 100, src, 50) == 0);
	CHECK(all_bytes(buf, PG + 100, 0));
	CHECK(all_bytes(buf + PG + 150, 2 * PG - 150, 0));
	/* the whole buffer, across page boundaries */
	CHECK_STATUS(ivm_swdev_dma_write(dev, la, src, sizeof(src)),
		     IVM_STATUS_SUCCESS);
	CHECK(memcmp(buf, src, sizeof(src)) == 0);
	/* and a read brings the same bytes back */
	uint8_t dst[3 * 4096];
	memset(dst, 0xEE, sizeof(dst));
	CHECK_STATUS(ivm_swdev_dma_read(dev, la, dst, sizeof(dst)),
		     IVM_STATUS_SUCCESS);
	CHECK(memcmp(dst, src, sizeof(dst)) == 0);
	memset(dst, 0xEE, sizeof(dst));
	CHECK_STATUS(ivm_swdev_dma_read(dev, la + 2 * PG - 7, dst, 14),
		     IVM_STATUS_SUCCESS);
	CHECK(memcmp(dst, src + 2 * PG - 7, 14) == 0);
	CHECK(dst[14] == 0xEE);
	ivm_swdev_destroy(&dev);
	CHECK(dev == NULL);
	ivm_domain_destroy(&d);
	free(buf);
}

IVM_TEST(dma_across_adjacent_mappings_of_different_buffers)
{
	struct ivm_domain *d = bb_domain_plain();
	struct ivm_swdev *dev = must_swdev(d);
	uint8_t *a = bb_pages(1), *b = bb_pages(2);
	struct ivm_phys pa = bb_buffer(a, PG);
	struct ivm_phys pb = bb_buffer(b + PG, PG);   /* second page of b */
	ivm_la ex = 0x200000, la;
	CHECK_STATUS(ivm_map_logical_range_ex(d, PERM_RW, &pa, &ex, NULL, NULL, &la),
		     IVM_STATUS_SUCCESS);
	ex = 0x201000;
	CHECK_STATUS(ivm_map_logical_range_ex(d, PERM_RW, &pb, &ex, NULL, NULL, &la),
		     IVM_STATUS_SUCCESS);
	uint8_t src[512];
	fill_pattern(src, sizeof(src), 2);
	CHECK_STATUS(ivm_swdev_dma_write(dev, 0x201000 - 200, src, sizeof(src)),
		     IVM_STATUS_SUCCESS);
	CHECK(memcmp(a + PG - 200, src, 200) == 0);
	CHECK(memcmp(b + PG, src + 200, sizeof(src) - 200) == 0);
	CHECK(all_bytes(a, PG - 200, 0));
	CHECK(all_bytes(b, PG, 0));                     /* first page of b */
	CHECK(all_bytes(b + PG + 312, PG - 312, 0));
	uint8_t dst[512];
	CHECK_STATUS(ivm_swdev_dma_read(dev, 0x201000 - 200, dst, sizeof(dst)),
		     IVM_STATUS_SUCCESS);
	CHECK(memcmp(dst, src, sizeof(dst)) == 0);
	ivm_swdev_destroy(&dev);
	ivm_domain_destroy(&d);
	free(a);
	free(b);
}

IVM_TEST(dma_pfn_array_scatter)
{
	struct ivm_domain *d = bb_domain_buddy(32, 0);
	struct ivm_swdev *dev = must_swdev(d);
	uint8_t *x = bb_pages(1), *y = bb_pages(1), *z = bb_pages(1);
	/* logical order z, x, y */
	uint64_t pfns[3] = { (uintptr_t)z >> 12, (uintptr_t)x >> 12,
			     (uintptr_t)y >> 12 };
	struct ivm_phys p = bb_pfns(pfns, 3);
	ivm_la la = 0;
	CHECK_STATUS(ivm_map_logical_range_ex(d, PERM_RW, &p, NULL, NULL, NULL, &la),
		     IVM_STATUS_SUCCESS);
	uint8_t src[3 * 4096];
	fill_pattern(src, sizeof(src), 3);
	CHECK_STATUS(ivm_swdev_dma_write(dev, la, src, sizeof(src)),
		     IVM_STATUS_SUCCESS);
	CHECK(memcmp(z, src, PG) == 0);
	CHECK(memcmp(x, src + PG, PG) == 0);
	CHECK(memcmp(y, src + 2 * PG, PG) == 0);
	ivm_swdev_destroy(&dev);
	ivm_domain_destroy(&d);
	free(x);
	free(y);
	free(z);
}

IVM_TEST(dma_permission_faults)
{
	struct ivm_domain *d = bb_domain_plain();
	struct fault_log log;
	memset(&log, 0, sizeof(log));
	CHECK_STATUS(ivm_domain_set_fault_handler(d, record_fault, &log),
		     IVM_STATUS_SUCCESS);
	struct ivm_swdev *dev = must_swdev(d);
	uint8_t *ro = bb_pages(1), *wo = bb_pages(1), *no = bb_pages(1);
	fill_pattern(ro, PG, 4);
	fill_pattern(wo, PG, 5);
	fill_pattern(no, PG, 6);
	uint8_t ro_copy[4096], wo_copy[4096];
	memcpy(ro_copy, ro, PG);
	memcpy(wo_copy, wo, PG);
	struct ivm_phys p;
	ivm_la ex, la;
	p = bb_buffer(ro, PG);
	ex = 0x300000;
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p, &ex, NULL,
					      NULL, &la),
		     IVM_STATUS_SUCCESS);
	p = bb_buffer(wo, PG);
	ex = 0x400000;
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_WRITE, &p, &ex, NULL,
					      NULL, &la),
		     IVM_STATUS_SUCCESS);
	p = bb_buffer(no, PG);
	ex = 0x500000;
	CHECK_STATUS(ivm_map_logical_range_ex(d, 0, &p, &ex, NULL, NULL, &la),
		     IVM_STATUS_SUCCESS);
	uint8_t src[64], dst[64];
	memset(src, 0xA5, sizeof(src));

	/* read-only: the device may read, not write */
	CHECK_STATUS(ivm_swdev_dma_read(dev, 0x300010, dst, 32), IVM_STATUS_SUCCESS);
	CHECK(memcmp(dst, ro + 0x10, 32) == 0);
	CHECK_EQ_U64(log.count, 0);
	uint64_t faults0 = bb_stats(d).faults;
	CHECK_STATUS(ivm_swdev_dma_write(dev, 0x300123, src, 16),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK(memcmp(ro, ro_copy, PG) == 0);
	CHECK_FAULT(log, 1, 0x300123, IVM_PERM_WRITE, IVM_FAULT_PERMISSION);
	CHECK(log.ctx_seen == &log);
	CHECK_EQ_U64(bb_stats(d).faults, faults0 + 1);

	/* write-only: the device may write, not read */
	memset(dst, 0x11, sizeof(dst));
	CHECK_STATUS(ivm_swdev_dma_read(dev, 0x400200, dst, 64),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK(all_bytes(dst, 64, 0x11));
	CHECK_FAULT(log, 2, 0x400200, IVM_PERM_READ, IVM_FAULT_PERMISSION);
	CHECK_STATUS(ivm_swdev_dma_write(dev, 0x400200, src, 64), IVM_STATUS_SUCCESS);
	CHECK(all_bytes(wo + 0x200, 64, 0xA5));
	CHECK(memcmp(wo, wo_copy, 0x200) == 0);

	/* no permission: both fault */
	CHECK_STATUS(ivm_swdev_dma_read(dev, 0x500000, dst, 1),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK_FAULT(log, 3, 0x500000, IVM_PERM_READ, IVM_FAULT_PERMISSION);
	CHECK_STATUS(ivm_swdev_dma_write(dev, 0x500FFF, src, 1),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK_FAULT(log, 4, 0x500FFF, IVM_PERM_WRITE, IVM_FAULT_PERMISSION);
	CHECK_EQ_U64(bb_stats(d).faults, faults0 + 4);

	/* handler off: still faults and counts, no call */
	CHECK_STATUS(ivm_domain_set_fault_handler(d, NULL, NULL), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_swdev_dma_write(dev, 0x300000, src, 1),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK_EQ_U64(log.count, 4);
	CHECK_EQ_U64(bb_stats(d).faults, faults0 + 5);
	CHECK(memcmp(ro, ro_copy, PG) == 0);
	ivm_swdev_destroy(&dev);
	ivm_domain_destroy(&d);
	free(ro);
	free(wo);
	free(no);
}

IVM_TEST(dma_after_unmap_faults)
{
	struct ivm_domain *d = bb_domain_buddy(32, 0);
	struct fault_log log;
	memset(&log, 0, sizeof(log));
	CHECK_STATUS(ivm_domain_set_fault_handler(d, record_fault, &log),
		     IVM_STATUS_SUCCESS);
	struct ivm_swdev *dev = must_swdev(d);
	uint8_t *buf = bb_pages(2);
	struct ivm_phys p = bb_buffer(buf, 2 * PG);
	ivm_la la = 0;
	CHECK_STATUS(ivm_map_logical_range_ex(d, PERM_RW, &p, NULL, NULL, NULL, &la),
		     IVM_STATUS_SUCCESS);
	uint8_t src[100];
	memset(src, 0x3C, sizeof(src));
	CHECK_STATUS(ivm_swdev_dma_write(dev, la + PG + 0x123, src, 100),
		     IVM_STATUS_SUCCESS);
	CHECK(all_bytes(buf + PG + 0x123, 100, 0x3C));
	CHECK_STATUS(ivm_unmap_logical_range(d, la, 2), IVM_STATUS_SUCCESS);
	memset(src, 0x77, sizeof(src));
	CHECK_STATUS(ivm_swdev_dma_write(dev, la + PG + 0x123, src, 100),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK(all_bytes(buf + PG + 0x123, 100, 0x3C));
	CHECK_FAULT(log, 1, la + PG + 0x123, IVM_PERM_WRITE, IVM_FAULT_UNMAPPED);
	uint8_t dst[8];
	CHECK_STATUS(ivm_swdev_dma_read(dev, la + 5, dst, 8),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK_FAULT(log, 2, la + 5, IVM_PERM_READ, IVM_FAULT_UNMAPPED);
	/* never mapped at all, and past the width */
	CHECK_STATUS(ivm_swdev_dma_read(dev, 0x7777777, dst, 8),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK_FAULT(log, 3, 0x7777777, IVM_PERM_READ, IVM_FAULT_UNMAPPED);
	CHECK_STATUS(ivm_swdev_dma_read(dev, 1ull << 40, dst, 8),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK_FAULT(log, 4, 1ull << 40, IVM_PERM_READ, IVM_FAULT_UNMAPPED);
	CHECK_EQ_U64(bb_stats(d).faults, 4);
	ivm_swdev_destroy(&dev);
	ivm_domain_destroy(&d);
	free(buf);
}

IVM_TEST(dma_straddling_unmapped_moves_nothing)
{
	struct ivm_domain *d = bb_domain_plain();
	struct fault_log log;
	memset(&log, 0, sizeof(log));
	CHECK_STATUS(ivm_domain_set_fault_handler(d, record_fault, &log),
		     IVM_STATUS_SUCCESS);
	struct ivm_swdev *dev = must_swdev(d);
	uint8_t *buf = bb_pages(2);
	struct ivm_phys p = bb_buffer(buf, PG);
	ivm_la ex = 0x600000, la;
	CHECK_STATUS(ivm_map_logical_range_ex(d, PERM_RW, &p, &ex, NULL, NULL, &la),
		     IVM_STATUS_SUCCESS);
	/* mapped page then unmapped page: write moves no byte */
	uint8_t src[256];
	memset(src, 0x99, sizeof(src));
	CHECK_STATUS(ivm_swdev_dma_write(dev, 0x600F80, src, sizeof(src)),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK(all_bytes(buf, 2 * PG, 0));
	CHECK_FAULT(log, 1, 0x601000, IVM_PERM_WRITE, IVM_FAULT_UNMAPPED);
	/* unmapped page then mapped page */
	CHECK_STATUS(ivm_swdev_dma_write(dev, 0x5FFF80, src, sizeof(src)),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK(all_bytes(buf, 2 * PG, 0));
	CHECK_FAULT(log, 2, 0x5FFF80, IVM_PERM_WRITE, IVM_FAULT_UNMAPPED);
	/* read straddling: dst untouched */
	fill_pattern(buf, PG, 9);
	uint8_t dst[256];
	memset(dst, 0x42, sizeof(dst));
	CHECK_STATUS(ivm_swdev_dma_read(dev, 0x600F80, dst, sizeof(dst)),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK(all_bytes(dst, sizeof(dst), 0x42));
	CHECK_FAULT(log, 3, 0x601000, IVM_PERM_READ, IVM_FAULT_UNMAPPED);
	/* mapped RW then read-only: a write faults on the second page */
	uint8_t *ro = bb_pages(1);
	p = bb_buffer(ro, PG);
	ex = 0x601000;
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p, &ex, NULL,
					      NULL, &la),
		     IVM_STATUS_SUCCESS);
	memset(buf, 0, PG);
	CHECK_STATUS(ivm_swdev_dma_write(dev, 0x600F80, src, sizeof(src)),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK(all_bytes(buf, PG, 0));
	CHECK(all_bytes(ro, PG, 0));
	CHECK_FAULT(log, 4, 0x601000, IVM_PERM_WRITE, IVM_FAULT_PERMISSION);
	/* the read of the same span works */
	CHECK_STATUS(ivm_swdev_dma_read(dev, 0x600F80, dst, sizeof(dst)),
		     IVM_STATUS_SUCCESS);
	CHECK(all_bytes(dst, sizeof(dst), 0));
	CHECK_EQ_U64(log.count, 4);
	ivm_swdev_destroy(&dev);
	ivm_domain_destroy(&d);
	free(buf);
	free(ro);
}

IVM_TEST(dma_iotlb_invalidated_on_unmap)
{
	struct ivm_domain *d = bb_domain_plain();
	struct ivm_swdev *dev = must_swdev(d);
	uint8_t *oldb = bb_pages(2), *newb = bb_pages(2);
	struct ivm_phys p = bb_buffer(oldb, 2 * PG);
	ivm_la ex = 0x700000, la;
	for (int round = 0; round < 4; round++) {
		uint8_t *cur = (round % 2) ? newb : oldb;
		uint8_t *other = (round % 2) ? oldb : newb;
		p = bb_buffer(cur, 2 * PG);
		CHECK_STATUS(ivm_map_logical_range_ex(d, PERM_RW, &p, &ex, NULL,
						      NULL, &la),
			     IVM_STATUS_SUCCESS);
		memset(oldb, 0, 2 * PG);
		memset(newb, 0, 2 * PG);
		/* fill the IOTLB with both pages, several times */
		uint8_t dst[2 * 4096];
		for (int i = 0; i < 3; i++)
			CHECK_STATUS(ivm_swdev_dma_read(dev, ex, dst, sizeof(dst)),
				     IVM_STATUS_SUCCESS);
		uint8_t src[2 * 4096];
		memset(src, 0x10 + round, sizeof(src));
		CHECK_STATUS(ivm_swdev_dma_write(dev, ex, src, sizeof(src)),
			     IVM_STATUS_SUCCESS);
		CHECK(all_bytes(cur, 2 * PG, (uint8_t)(0x10 + round)));
		CHECK(all_bytes(other, 2 * PG, 0));
		uint64_t inv = bb_stats(d).iotlb_invalidations;
		CHECK_STATUS(ivm_unmap_logical_range(d, ex, 2), IVM_STATUS_SUCCESS);
		CHECK(bb_stats(d).iotlb_invalidations >= inv + 2);
	}
	/* After the last unmap, a stale IOTLB entry would still write. */
	uint8_t one = 0xFF;
	CHECK_STATUS(ivm_swdev_dma_write(dev, ex, &one, 1),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK(oldb[0] == 0 && newb[0] == 0x13);
	ivm_swdev_destroy(&dev);
	ivm_domain_destroy(&d);
	free(oldb);
	free(newb);
}

IVM_TEST(dma_iotlb_counters)
{
	struct ivm_domain *d = bb_domain_plain();
	struct ivm_swdev *dev = must_swdev(d);
	uint8_t *buf = bb_pages(1);
	struct ivm_phys p = bb_buffer(buf, PG);
	ivm_la ex = 0x800000, la;
	CHECK_STATUS(ivm_map_logical_range_ex(d, PERM_RW, &p, &ex, NULL, NULL, &la),
		     IVM_STATUS_SUCCESS);
	uint8_t b[16];
	struct ivm_domain_stats s0 = bb_stats(d);
	CHECK_STATUS(ivm_swdev_dma_read(dev, ex, b, sizeof(b)), IVM_STATUS_SUCCESS);
	struct ivm_domain_stats s1 = bb_stats(d);
	CHECK(s1.iotlb_misses >= s0.iotlb_misses + 1);
	CHECK_STATUS(ivm_swdev_dma_read(dev, ex + 100, b, sizeof(b)),
		     IVM_STATUS_SUCCESS);
	struct ivm_domain_stats s2 = bb_stats(d);
	CHECK(s2.iotlb_hits >= s1.iotlb_hits + 1);
	CHECK_EQ_U64(s2.iotlb_misses, s1.iotlb_misses);
	CHECK_EQ_U64(s2.faults, 0);
	ivm_swdev_destroy(&dev);
	ivm_domain_destroy(&d);
	free(buf);
}

IVM_TEST(dma_passthrough_uses_la_as_pa)
{
	struct ivm_domain *pt = bb_domain_passthrough();
	struct ivm_swdev *dev = must_swdev(pt);
	uint8_t *buf = bb_pages(2);
	uint8_t src[300];
	fill_pattern(src, sizeof(src), 11);
	const ivm_la la = (uintptr_t)buf + PG - 100;
	CHECK_STATUS(ivm_swdev_dma_write(dev, la, src, sizeof(src)),
		     IVM_STATUS_SUCCESS);
	CHECK(memcmp(buf + PG - 100, src, sizeof(src)) == 0);
	CHECK(all_bytes(buf, PG - 100, 0));
	uint8_t dst[300];
	CHECK_STATUS(ivm_swdev_dma_read(dev, la, dst, sizeof(dst)),
		     IVM_STATUS_SUCCESS);
	CHECK(memcmp(dst, src, sizeof(dst)) == 0);
	CHECK_EQ_U64(bb_stats(pt).faults, 0);
	ivm_swdev_destroy(&dev);
	ivm_domain_destroy(&pt);
	free(buf);
}

IVM_TEST(dma_identity_mapping)
{
	struct ivm_domain *d = bb_domain_plain();
	struct ivm_swdev *dev = must_swdev(d);
	uint8_t *buf = bb_pages(1);
	struct ivm_phys p = bb_buffer(buf, PG);
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &p), IVM_STATUS_SUCCESS);
	uint8_t v = 0x5E;
	CHECK_STATUS(ivm_swdev_dma_write(dev, (uintptr_t)buf + 77, &v, 1),
		     IVM_STATUS_SUCCESS);
	CHECK(buf[77] == 0x5E);
	CHECK_STATUS(ivm_unmap_identity_range_ex(d, &p), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_swdev_dma_write(dev, (uintptr_t)buf + 78, &v, 1),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK(buf[78] == 0);
	ivm_swdev_destroy(&dev);
	ivm_domain_destroy(&d);
	free(buf);
}

IVM_TEST(dma_reserved_mapping)
{
	struct ivm_domain *d = bb_domain_buddy(30, 0);
	struct ivm_swdev *dev = must_swdev(d);
	struct ivm_reservation *r = NULL;
	CHECK_STATUS(ivm_reserve_logical_range(d, 4 * PG, NULL, NULL, NULL, &r),
		     IVM_STATUS_SUCCESS);
	uint8_t *buf = bb_pages(1);
	struct ivm_phys p = bb_buffer(buf, PG);
	ivm_la la = 0;
	CHECK_STATUS(ivm_map_reserved_logical_range(r, 2 * PG, PERM_RW, &p, &la),
		     IVM_STATUS_SUCCESS);
	uint8_t v[4] = { 1, 2, 3, 4 };
	CHECK_STATUS(ivm_swdev_dma_write(dev, la + 10, v, 4), IVM_STATUS_SUCCESS);
	CHECK(memcmp(buf + 10, v, 4) == 0);
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 2 * PG, 1),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_swdev_dma_write(dev, la + 20, v, 4),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK(all_bytes(buf + 20, 4, 0));
	ivm_swdev_destroy(&dev);
	ivm_domain_destroy(&d);
	free(buf);
}

IVM_TEST(dma_argument_errors)
{
	struct ivm_domain *d = bb_domain_plain();
	struct fault_log log;
	memset(&log, 0, sizeof(log));
	CHECK_STATUS(ivm_domain_set_fault_handler(d, record_fault, &log),
		     IVM_STATUS_SUCCESS);
	struct ivm_swdev *dev = NULL;
	CHECK_STATUS(ivm_swdev_create(NULL, &dev), IVM_STATUS_INVALID_PARAMETER_1);
	CHECK(dev == NULL);
	CHECK_STATUS(ivm_swdev_create(d, NULL), IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_swdev_create(NULL, NULL), IVM_STATUS_INVALID_PARAMETER_1);
	dev = must_swdev(d);
	uint8_t *buf = bb_pages(1);
	struct ivm_phys p = bb_buffer(buf, PG);
	ivm_la ex = 0x900000, la;
	CHECK_STATUS(ivm_map_logical_range_ex(d, PERM_RW, &p, &ex, NULL, NULL, &la),
		     IVM_STATUS_SUCCESS);
	uint8_t b[8] = { 9, 9, 9, 9, 9, 9, 9, 9 };

	CHECK_STATUS(ivm_swdev_dma_read(NULL, ex, b, 8), IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_swdev_dma_write(NULL, ex, b, 8), IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_swdev_dma_read(dev, UINT64_MAX, b, 2),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_swdev_dma_write(dev, UINT64_MAX - 6, b, 8),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_swdev_dma_read(dev, ex, NULL, 8), IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_STATUS(ivm_swdev_dma_write(dev, ex, NULL, 8), IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_STATUS(ivm_swdev_dma_read(dev, ex, b, 0), IVM_STATUS_INVALID_PARAMETER_4);
	CHECK_STATUS(ivm_swdev_dma_write(dev, ex, b, 0), IVM_STATUS_INVALID_PARAMETER_4);
	/* precedence */
	CHECK_STATUS(ivm_swdev_dma_read(NULL, UINT64_MAX, NULL, 0),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_swdev_dma_write(dev, UINT64_MAX, NULL, 2),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_swdev_dma_write(dev, ex, NULL, 0),
		     IVM_STATUS_INVALID_PARAMETER_3);
	/* the last byte of the address space is a valid (faulting) access */
	CHECK_STATUS(ivm_swdev_dma_read(dev, UINT64_MAX, b, 1),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK_FAULT(log, 1, UINT64_MAX, IVM_PERM_READ, IVM_FAULT_UNMAPPED);
	/* none of the bad calls moved bytes or counted faults */
	CHECK(all_bytes(buf, PG, 0));
	CHECK(all_bytes(b, 8, 9));
	CHECK_EQ_U64(bb_stats(d).faults, 1);
	ivm_swdev_destroy(&dev);
	ivm_swdev_destroy(&dev);                         /* *dev == NULL */
	ivm_swdev_destroy(NULL);
	ivm_domain_destroy(&d);
	free(buf);
}

IVM_TEST(dma_two_devices_one_domain)
{
	struct ivm_domain *d = bb_domain_plain();
	struct ivm_swdev *d1 = must_swdev(d), *d2 = must_swdev(d);
	uint8_t *buf = bb_pages(1);
	struct ivm_phys p = bb_buffer(buf, PG);
	ivm_la ex = 0xA00000, la;
	CHECK_STATUS(ivm_map_logical_range_ex(d, PERM_RW, &p, &ex, NULL, NULL, &la),
		     IVM_STATUS_SUCCESS);
	uint8_t v = 1, r = 0;
	CHECK_STATUS(ivm_swdev_dma_write(d1, ex, &v, 1), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_swdev_dma_read(d2, ex, &r, 1), IVM_STATUS_SUCCESS);
	CHECK(r == 1);
	CHECK_STATUS(ivm_unmap_logical_range(d, ex, 1), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_swdev_dma_read(d1, ex, &r, 1), IVM_STATUS_ACCESS_VIOLATION);
	CHECK_STATUS(ivm_swdev_dma_read(d2, ex, &r, 1), IVM_STATUS_ACCESS_VIOLATION);
	ivm_swdev_destroy(&d1);
	ivm_swdev_destroy(&d2);
	ivm_domain_destroy(&d);
	free(buf);
}

/* A fault handler may call back into iovamap: here it maps the faulting
 * page on demand, like a device page-fault handler, and reads stats. */
struct demand_ctx {
	struct ivm_domain *d;
	uint8_t *backing;
	int calls;
	ivm_status map_status;
	uint64_t faults_seen;
};

static void map_on_demand(void *ctx, const struct ivm_fault *f)
{
	struct demand_ctx *c = ctx;
	c->calls++;
	struct ivm_phys p = bb_buffer(c->backing, PG);
	ivm_la ex = f->la & ~(PG - 1), la;
	c->map_status = ivm_map_logical_range_ex(c->d, PERM_RW, &p, &ex, NULL,
						 NULL, &la);
	struct ivm_domain_stats s;
	if (ivm_domain_get_stats(c->d, &s) == IVM_STATUS_SUCCESS)
		c->faults_seen = s.faults;
}

IVM_TEST(dma_fault_handler_may_map)
{
	struct ivm_domain *d = bb_domain_plain();
	struct demand_ctx c;
	memset(&c, 0, sizeof(c));
	c.d = d;
	c.backing = bb_pages(1);
	CHECK_STATUS(ivm_domain_set_fault_handler(d, map_on_demand, &c),
		     IVM_STATUS_SUCCESS);
	struct ivm_swdev *dev = must_swdev(d);
	uint8_t v[3] = { 7, 8, 9 };
	/* first access faults: nothing moves, the handler maps the page */
	CHECK_STATUS(ivm_swdev_dma_write(dev, 0xB00010, v, 3),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK_EQ_U64(c.calls, 1);
	CHECK_STATUS(c.map_status, IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(c.faults_seen, 1);
	CHECK(all_bytes(c.backing, PG, 0));
	/* the retry reaches the page the handler mapped: a faulting
	 * lookup must not have left a negative IOTLB entry behind */
	CHECK_STATUS(ivm_swdev_dma_write(dev, 0xB00010, v, 3), IVM_STATUS_SUCCESS);
	CHECK(memcmp(c.backing + 0x10, v, 3) == 0);
	CHECK_EQ_U64(c.calls, 1);
	ivm_swdev_destroy(&dev);
	ivm_domain_destroy(&d);
	free(c.backing);
}

IVM_TEST(dma_sees_new_mapping_after_fault)
{
	struct ivm_domain *d = bb_domain_plain();
	struct ivm_swdev *dev = must_swdev(d);
	uint8_t *buf = bb_pages(1);
	uint8_t v = 0x66;
	for (int i = 0; i < 3; i++)
		CHECK_STATUS(ivm_swdev_dma_write(dev, 0xC00000, &v, 1),
			     IVM_STATUS_ACCESS_VIOLATION);
	struct ivm_phys p = bb_buffer(buf, PG);
	ivm_la ex = 0xC00000, la;
	CHECK_STATUS(ivm_map_logical_range_ex(d, PERM_RW, &p, &ex, NULL, NULL, &la),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_swdev_dma_write(dev, 0xC00000, &v, 1), IVM_STATUS_SUCCESS);
	CHECK(buf[0] == 0x66);
	ivm_swdev_destroy(&dev);
	ivm_domain_destroy(&d);
	free(buf);
}

IVM_TEST(dma_permission_change_through_remap)
{
	struct ivm_domain *d = bb_domain_plain();
	struct ivm_swdev *dev = must_swdev(d);
	uint8_t *buf = bb_pages(1);
	struct ivm_phys p = bb_buffer(buf, PG);
	ivm_la ex = 0xD00000, la;
	uint8_t v = 0x12, r = 0;
	/* read-only, cached by a read and by a refused write */
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p, &ex, NULL,
					      NULL, &la),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_swdev_dma_read(dev, ex, &r, 1), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_swdev_dma_write(dev, ex, &v, 1),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK_STATUS(ivm_unmap_logical_range(d, ex, 1), IVM_STATUS_SUCCESS);
	/* read-write now: the write must see the new permission */
	CHECK_STATUS(ivm_map_logical_range_ex(d, PERM_RW, &p, &ex, NULL, NULL, &la),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_swdev_dma_write(dev, ex, &v, 1), IVM_STATUS_SUCCESS);
	CHECK(buf[0] == 0x12);
	CHECK_STATUS(ivm_unmap_logical_range(d, ex, 1), IVM_STATUS_SUCCESS);
	/* and back to read-only: the cached RW entry must be gone */
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p, &ex, NULL,
					      NULL, &la),
		     IVM_STATUS_SUCCESS);
	v = 0x34;
	CHECK_STATUS(ivm_swdev_dma_write(dev, ex, &v, 1),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK(buf[0] == 0x12);
	ivm_swdev_destroy(&dev);
	ivm_domain_destroy(&d);
	free(buf);
}

IVM_TEST(dma_small_iotlb_many_pages)
{
	/* A 1-set, 1-way IOTLB thrashes: every page evicts the last, and
	 * unmap must still invalidate exactly. */
	struct ivm_domain_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.iotlb_sets = 1;
	cfg.iotlb_ways = 1;
	struct ivm_domain *d = NULL;
	CHECK_STATUS(ivm_domain_create(&cfg, &d), IVM_STATUS_SUCCESS);
	struct ivm_swdev *dev = must_swdev(d);
	uint8_t *buf = bb_pages(8);
	struct ivm_phys p = bb_buffer(buf, 8 * PG);
	ivm_la ex = 0xE00000, la;
	CHECK_STATUS(ivm_map_logical_range_ex(d, PERM_RW, &p, &ex, NULL, NULL, &la),
		     IVM_STATUS_SUCCESS);
	static uint8_t src[8 * 4096];
	fill_pattern(src, sizeof(src), 12);
	CHECK_STATUS(ivm_swdev_dma_write(dev, ex, src, sizeof(src)),
		     IVM_STATUS_SUCCESS);
	CHECK(memcmp(buf, src, sizeof(src)) == 0);
	static uint8_t dst[8 * 4096];
	CHECK_STATUS(ivm_swdev_dma_read(dev, ex, dst, sizeof(dst)),
		     IVM_STATUS_SUCCESS);
	CHECK(memcmp(dst, src, sizeof(dst)) == 0);
	CHECK_STATUS(ivm_unmap_logical_range(d, ex, 8), IVM_STATUS_SUCCESS);
	for (int i = 0; i < 8; i++)
		CHECK_STATUS(ivm_swdev_dma_read(dev, ex + (uint64_t)i * PG, dst, 1),
			     IVM_STATUS_ACCESS_VIOLATION);
	ivm_swdev_destroy(&dev);
	ivm_domain_destroy(&d);
	free(buf);
}

/* Destroying a domain that still has a model device aborts (domain.h). */
IVM_TEST(destroy_with_device_attached_aborts)
{
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* keep the expected abort message out of the test log */
		if (!freopen("/dev/null", "w", stderr))
			_exit(3);
		struct ivm_domain *d = bb_domain_plain();
		struct ivm_swdev *dev = must_swdev(d);
		(void)dev;
		ivm_domain_destroy(&d);
		_exit(0);                       /* must not get here */
	}
	int status = 0;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

IVM_TEST_MAIN()
