/* SPDX-License-Identifier: MIT */
/*
 * test_reserve_noalloc.c - white-box: memory allocation behaviour, through
 * the allocation hooks of lib/mem.h.
 *
 *  - Mapping and unmapping inside a reservation allocates nothing at all
 *    (reserve.h), so it works with every allocation failing.
 *  - Map, reserve, identity map and domain creation under an injected
 *    allocation failure at every possible point return
 *    INSUFFICIENT_RESOURCES (or SUCCESS once the failure point lies beyond
 *    the call's last allocation) and, on failure, change nothing.  Run in
 *    the ASan build, this also proves the failure paths leak nothing.
 *  - Unmapping never needs memory: it succeeds with allocation failing.
 */
#include "bb_util.h"
#include "mem.h"

#define LA_SENTINEL 0xabcdabcdabcdabcdull
#define MAX_FAIL_POINTS 400

IVM_TEST(map_reserved_allocates_nothing)
{
	struct ivm_domain *d = bb_domain_buddy(48, IVM_ALLOCATOR_ALLOW_EXPLICIT);
	/* 64 pages straddling a 2 MiB (leaf table) boundary, far from 0 */
	const ivm_la base = 0x7f00001e0000ull;
	struct ivm_reservation *r = NULL;
	CHECK_STATUS(ivm_reserve_logical_range(d, 64 * PG, &base, NULL, NULL, &r),
		     IVM_STATUS_SUCCESS);
	uint8_t *buf = bb_pages(2);
	static const uint64_t pfns[3] = { 0x111, 0x333, 0x222 };
	struct ivm_domain_stats s0 = bb_stats(d);

	ivm_mem_fail_after(0);
	const uint64_t c0 = ivm_mem_alloc_count();
	ivm_la la = LA_SENTINEL;
	struct ivm_phys p = bb_contig(FAKE_PA, PG);
	CHECK_STATUS(ivm_map_reserved_logical_range(r, 0, PERM_RW, &p, &la),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(la, base);
	p = bb_contig(0x90000000ull, 40 * PG);          /* crosses the boundary */
	CHECK_STATUS(ivm_map_reserved_logical_range(r, 10 * PG, IVM_PERM_READ, &p,
						    &la),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(la, base + 10 * PG);
	p = bb_pfns(pfns, 3);
	CHECK_STATUS(ivm_map_reserved_logical_range(r, 60 * PG, IVM_PERM_WRITE, &p,
						    &la),
		     IVM_STATUS_SUCCESS);
	p = bb_buffer(buf, 2 * PG);
	CHECK_STATUS(ivm_map_reserved_logical_range(r, 2 * PG, PERM_RW, &p, &la),
		     IVM_STATUS_SUCCESS);
	/* failures inside a reservation allocate nothing either */
	CHECK_STATUS(ivm_map_reserved_logical_range(r, 2 * PG, PERM_RW, &p, &la),
		     IVM_STATUS_IN_USE);
	CHECK_EQ_U64(ivm_mem_alloc_count(), c0);

	EXPECT_TR(d, base + 5, FAKE_PA + 5, PERM_RW);
	EXPECT_TR(d, base + 49 * PG + 7, 0x90000000ull + 39 * PG + 7, IVM_PERM_READ);
	EXPECT_TR(d, base + 61 * PG, 0x333000, IVM_PERM_WRITE);
	EXPECT_TR(d, base + 3 * PG + 1, (uintptr_t)buf + PG + 1, PERM_RW);

	/* unmap and map again: still no allocation, no table freed */
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 10 * PG, 40),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 0, 1), IVM_STATUS_SUCCESS);
	EXPECT_UNMAPPED(d, base + 30 * PG);
	p = bb_contig(0xA0000000ull, 50 * PG);
	CHECK_STATUS(ivm_map_reserved_logical_range(r, 4 * PG, IVM_PERM_READ, &p,
						    &la),
		     IVM_STATUS_SUCCESS);
	EXPECT_TR(d, base + 53 * PG, 0xA0000000ull + 49 * PG, IVM_PERM_READ);
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 2 * PG, 52),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 60 * PG, 3),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(ivm_mem_alloc_count(), c0);
	ivm_mem_fail_after(-1);

	struct ivm_domain_stats s1 = bb_stats(d);
	CHECK_EQ_U64(s1.pt_tables, s0.pt_tables);
	CHECK_EQ_U64(s1.mappings, 0);
	CHECK_STATUS(ivm_free_reserved_logical_range(&r), IVM_STATUS_SUCCESS);
	ivm_domain_destroy(&d);
	free(buf);
}

IVM_TEST(unmap_needs_no_memory)
{
	struct ivm_domain *d = bb_domain_buddy(40, IVM_ALLOCATOR_ALLOW_EXPLICIT);
	ivm_la a = 0;
	CHECK_STATUS(bb_map_alloc(d, PERM_RW, FAKE_PA, 3, NULL, NULL, &a),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(bb_map_at(d, PERM_RW, FAKE_PA, 700, 0x3F0000000ull),
		     IVM_STATUS_SUCCESS);
	struct ivm_phys id = bb_contig(0x5000000, 4 * PG);
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &id), IVM_STATUS_SUCCESS);
	struct ivm_reservation *r = NULL;
	CHECK_STATUS(ivm_reserve_logical_range(d, 8 * PG, NULL, NULL, NULL, &r),
		     IVM_STATUS_SUCCESS);

	ivm_mem_fail_after(0);
	CHECK_STATUS(ivm_unmap_logical_range(d, a, 3), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x3F0000000ull, 700),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_unmap_identity_range_ex(d, &id), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_free_reserved_logical_range(&r), IVM_STATUS_SUCCESS);
	ivm_mem_fail_after(-1);
	EXPECT_UNMAPPED(d, a);
	EXPECT_UNMAPPED(d, 0x3F0000000ull + 699 * PG);
	struct ivm_domain_stats s = bb_stats(d);
	CHECK_EQ_U64(s.mappings, 0);
	CHECK_EQ_U64(s.iova_used_pages, 0);
	CHECK_EQ_U64(s.reservations, 0);
	ivm_domain_destroy(&d);
}

/* Prepare a domain with some state so that failure paths have something
 * to corrupt. */
static struct ivm_domain *busy_domain(void)
{
	struct ivm_domain *d = bb_domain_buddy(48, IVM_ALLOCATOR_ALLOW_EXPLICIT);
	ivm_la la;
	for (int i = 0; i < 5; i++)
		if (bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, (uint64_t)i + 1, NULL,
				 NULL, &la) != IVM_STATUS_SUCCESS)
			bb_die("busy_domain map", IVM_STATUS_UNSUCCESSFUL);
	if (bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0x7f0000000000ull))
		bb_die("busy_domain explicit", IVM_STATUS_UNSUCCESSFUL);
	return d;
}

/* One map attempt per failure point; returns the number of points. */
static int map_under_failure(struct ivm_domain *d, const ivm_la *ex,
			     const ivm_la *mn, const ivm_la *mx,
			     uint64_t pages, ivm_la probe_la)
{
	struct ivm_phys p = bb_contig(0x200000000ull, pages * PG);
	for (int k = 0; k < MAX_FAIL_POINTS; k++) {
		struct bb_snap s = bb_snap_take(d, true);
		ivm_la la = LA_SENTINEL;
		ivm_mem_fail_after(k);
		ivm_status st = ivm_map_logical_range_ex(d, PERM_RW, &p, ex, mn,
							 mx, &la);
		ivm_mem_fail_after(-1);
		if (st == IVM_STATUS_SUCCESS) {
			ivm_la want = ex ? *ex : la;
			CHECK_EQ_U64(la, want);
			EXPECT_TR(d, la, 0x200000000ull, PERM_RW);
			EXPECT_TR(d, la + pages * PG - 1,
				  0x200000000ull + pages * PG - 1, PERM_RW);
			CHECK_STATUS(ivm_unmap_logical_range(d, la, pages),
				     IVM_STATUS_SUCCESS);
			return k;
		}
		CHECK_STATUS(st, IVM_STATUS_INSUFFICIENT_RESOURCES);
		CHECK_EQ_U64(la, LA_SENTINEL);
		CHECK_UNCHANGED(d, s);
		if (probe_la != LA_SENTINEL) {
			EXPECT_UNMAPPED(d, probe_la);
			EXPECT_UNMAPPED(d, probe_la + pages * PG - 1);
		}
	}
	CHECK(!"map never succeeded");
	return -1;
}

IVM_TEST(map_under_injected_failure)
{
	struct ivm_domain *d = busy_domain();
	/* explicit, far away, crossing 2 MiB and 1 GiB boundaries: needs
	 * tables at several levels */
	const ivm_la ex = 0x20000000000ull - 300 * PG;
	int n = map_under_failure(d, &ex, NULL, NULL, 700, ex);
	CHECK(n > 0);
	/* allocated */
	n = map_under_failure(d, NULL, NULL, NULL, 33, LA_SENTINEL);
	CHECK(n >= 0);
	/* allocated inside a far window */
	ivm_la mn = 0x300000000000ull, mx = 0x3000FFFFFFFFull;
	n = map_under_failure(d, NULL, &mn, &mx, 5, 0x300000000000ull);
	CHECK(n > 0);
	ivm_domain_destroy(&d);

	/* a domain without an allocator */
	d = bb_domain_plain();
	const ivm_la ex2 = 0x12345000000ull;
	struct ivm_phys p = bb_contig(FAKE_PA, 3 * PG);
	int k;
	for (k = 0; k < MAX_FAIL_POINTS; k++) {
		struct bb_snap s = bb_snap_take(d, false);
		ivm_la la = LA_SENTINEL;
		ivm_mem_fail_after(k);
		ivm_status st = ivm_map_logical_range_ex(d, IVM_PERM_READ, &p, &ex2,
							 NULL, NULL, &la);
		ivm_mem_fail_after(-1);
		if (st == IVM_STATUS_SUCCESS)
			break;
		CHECK_STATUS(st, IVM_STATUS_INSUFFICIENT_RESOURCES);
		CHECK_UNCHANGED(d, s);
		EXPECT_UNMAPPED(d, ex2);
	}
	CHECK(k > 0 && k < MAX_FAIL_POINTS);
	EXPECT_TR(d, ex2 + 2 * PG, FAKE_PA + 2 * PG, IVM_PERM_READ);
	ivm_domain_destroy(&d);
}

IVM_TEST(identity_under_injected_failure)
{
	struct ivm_domain *d = busy_domain();
	struct ivm_phys p = bb_contig(0x40000000000ull, 600 * PG);
	int k;
	for (k = 0; k < MAX_FAIL_POINTS; k++) {
		struct bb_snap s = bb_snap_take(d, true);
		ivm_mem_fail_after(k);
		ivm_status st = ivm_map_identity_range_ex(d, PERM_RW, &p);
		ivm_mem_fail_after(-1);
		if (st == IVM_STATUS_SUCCESS)
			break;
		CHECK_STATUS(st, IVM_STATUS_INSUFFICIENT_RESOURCES);
		CHECK_UNCHANGED(d, s);
		EXPECT_UNMAPPED(d, 0x40000000000ull);
	}
	CHECK(k > 0 && k < MAX_FAIL_POINTS);
	EXPECT_TR(d, 0x40000000000ull + 599 * PG, 0x40000000000ull + 599 * PG,
		  PERM_RW);
	CHECK_STATUS(ivm_unmap_identity_range_ex(d, &p), IVM_STATUS_SUCCESS);
	ivm_domain_destroy(&d);
}

IVM_TEST(reserve_under_injected_failure)
{
	struct ivm_domain *d = busy_domain();
	const ivm_la ex = 0x6000001F0000ull;
	const ivm_la *exs[2] = { &ex, NULL };
	for (int variant = 0; variant < 2; variant++) {
		int k;
		for (k = 0; k < MAX_FAIL_POINTS; k++) {
			struct bb_snap s = bb_snap_take(d, true);
			struct ivm_reservation *r = (struct ivm_reservation *)(uintptr_t)0x77;
			ivm_mem_fail_after(k);
			ivm_status st = ivm_reserve_logical_range(d, 600 * PG,
								  exs[variant],
								  NULL, NULL, &r);
			ivm_mem_fail_after(-1);
			if (st == IVM_STATUS_SUCCESS) {
				ivm_la base = 0;
				CHECK_STATUS(ivm_reservation_base(r, &base, NULL),
					     IVM_STATUS_SUCCESS);
				if (variant == 0)
					CHECK_EQ_U64(base, ex);
				/* the reservation's tables are all there */
				ivm_mem_fail_after(0);
				struct ivm_phys p = bb_contig(FAKE_PA, 600 * PG);
				ivm_la la;
				CHECK_STATUS(ivm_map_reserved_logical_range(r, 0, PERM_RW,
									    &p, &la),
					     IVM_STATUS_SUCCESS);
				CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 0, 600),
					     IVM_STATUS_SUCCESS);
				ivm_mem_fail_after(-1);
				CHECK_STATUS(ivm_free_reserved_logical_range(&r),
					     IVM_STATUS_SUCCESS);
				break;
			}
			CHECK_STATUS(st, IVM_STATUS_INSUFFICIENT_RESOURCES);
			CHECK(r == (struct ivm_reservation *)(uintptr_t)0x77);
			CHECK_UNCHANGED(d, s);
			if (variant == 0) {
				/* the space is still free for an explicit map */
				CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1,
						       ex + 599 * PG),
					     IVM_STATUS_SUCCESS);
				CHECK_STATUS(ivm_unmap_logical_range(d, ex + 599 * PG, 1),
					     IVM_STATUS_SUCCESS);
			}
		}
		CHECK(k > 0 && k < MAX_FAIL_POINTS);
	}
	ivm_domain_destroy(&d);
}

IVM_TEST(domain_create_under_injected_failure)
{
	struct ivm_allocator_config ac = { IVM_ALLOCATOR_BUDDY, 40,
					   IVM_ALLOCATOR_ALLOW_EXPLICIT };
	struct ivm_reserved_region rr[3] = {
		{ 0x100000, 16, false },
		{ 0x7000000, 600, true },
		{ 0x30000000, 1, true },
	};
	struct ivm_domain_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.allocator = &ac;
	cfg.reserved = rr;
	cfg.reserved_count = 3;
	int k;
	for (k = 0; k < MAX_FAIL_POINTS; k++) {
		struct ivm_domain *d = (struct ivm_domain *)(uintptr_t)0x99;
		ivm_mem_fail_after(k);
		ivm_status st = ivm_domain_create(&cfg, &d);
		ivm_mem_fail_after(-1);
		if (st == IVM_STATUS_SUCCESS) {
			EXPECT_TR(d, 0x7000000 + 599 * PG, 0x7000000 + 599 * PG,
				  PERM_RW);
			EXPECT_TR(d, 0x30000000, 0x30000000, PERM_RW);
			EXPECT_UNMAPPED(d, 0x100000);
			ivm_domain_destroy(&d);
			break;
		}
		CHECK_STATUS(st, IVM_STATUS_INSUFFICIENT_RESOURCES);
		CHECK(d == (struct ivm_domain *)(uintptr_t)0x99);
	}
	CHECK(k > 0 && k < MAX_FAIL_POINTS);

	/* the default domain and a PassThrough one as well */
	for (int type = 0; type < 2; type++) {
		memset(&cfg, 0, sizeof(cfg));
		cfg.type = (enum ivm_domain_type)type;
		for (k = 0; k < MAX_FAIL_POINTS; k++) {
			struct ivm_domain *d = NULL;
			ivm_mem_fail_after(k);
			ivm_status st = ivm_domain_create(&cfg, &d);
			ivm_mem_fail_after(-1);
			if (st == IVM_STATUS_SUCCESS) {
				ivm_domain_destroy(&d);
				break;
			}
			CHECK_STATUS(st, IVM_STATUS_INSUFFICIENT_RESOURCES);
			CHECK(d == NULL);
		}
		CHECK(k < MAX_FAIL_POINTS);
	}
}

IVM_TEST(swdev_create_under_injected_failure)
{
	struct ivm_domain *d = bb_domain_plain();
	int k;
	for (k = 0; k < MAX_FAIL_POINTS; k++) {
		struct ivm_swdev *dev = NULL;
		ivm_mem_fail_after(k);
		ivm_status st = ivm_swdev_create(d, &dev);
		ivm_mem_fail_after(-1);
		if (st == IVM_STATUS_SUCCESS) {
			ivm_swdev_destroy(&dev);
			break;
		}
		CHECK_STATUS(st, IVM_STATUS_INSUFFICIENT_RESOURCES);
		CHECK(dev == NULL);
	}
	CHECK(k < MAX_FAIL_POINTS);
	ivm_domain_destroy(&d);
}

IVM_TEST_MAIN()
