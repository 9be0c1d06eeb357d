/* SPDX-License-Identifier: MIT */
/*
 * test_reserve.c - reservations (iovamap/reserve.h): reserve, map and
 * unmap inside, free, and how they interact with the rest of the domain.
 */
#include "bb_util.h"

#define RES_SENTINEL ((struct ivm_reservation *)(uintptr_t)0x5151)
#define LA_SENTINEL 0xabcdabcdabcdabcdull

/* Reserve and check *out stays untouched on failure. */
#define CHECK_RESERVE(d, size, ex, mn, mx, want)                           \
	do {                                                               \
		struct ivm_reservation *ro_ = RES_SENTINEL;                \
		ivm_status rst_ = ivm_reserve_logical_range((d), (size),   \
							    (ex), (mn),    \
							    (mx), &ro_);   \
		CHECK_STATUS(rst_, (want));                                \
		if (rst_ == IVM_STATUS_SUCCESS) {                          \
			CHECK(ro_ != RES_SENTINEL && ro_ != NULL);         \
			CHECK_STATUS(ivm_free_reserved_logical_range(&ro_), \
				     IVM_STATUS_SUCCESS);                  \
		} else {                                                   \
			CHECK(ro_ == RES_SENTINEL);                        \
		}                                                          \
	} while (0)

static struct ivm_reservation *must_reserve(struct ivm_domain *d,
					    uint64_t size, const ivm_la *ex,
					    const ivm_la *mn, const ivm_la *mx)
{
	struct ivm_reservation *r = NULL;
	ivm_status st = ivm_reserve_logical_range(d, size, ex, mn, mx, &r);
	if (st != IVM_STATUS_SUCCESS || !r)
		bb_die("ivm_reserve_logical_range", st);
	return r;
}

static ivm_la res_base(const struct ivm_reservation *r, uint64_t *size)
{
	ivm_la la = LA_SENTINEL;
	CHECK_STATUS(ivm_reservation_base(r, &la, size), IVM_STATUS_SUCCESS);
	return la;
}

IVM_TEST(reserve_map_unmap_free)
{
	struct ivm_domain *d = bb_domain_buddy(20, 0);
	struct ivm_reservation *r = must_reserve(d, 3 * PG, NULL, NULL, NULL);
	uint64_t size = 0;
	ivm_la base = res_base(r, &size);
	CHECK_EQ_U64(base, 0);                 /* lowest, aligned to 4 pages */
	CHECK_EQ_U64(size, 3 * PG);            /* the usable size */
	struct ivm_domain_stats s = bb_stats(d);
	CHECK_EQ_U64(s.reservations, 1);
	CHECK_EQ_U64(s.iova_used_pages, 4);
	CHECK_EQ_U64(s.mappings, 0);
	EXPECT_UNMAPPED(d, base);

	ivm_la la = LA_SENTINEL;
	struct ivm_phys p = bb_contig(0x500000, PG);
	CHECK_STATUS(ivm_map_reserved_logical_range(r, 2 * PG, IVM_PERM_READ, &p,
						     &la),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(la, base + 2 * PG);
	p = bb_contig(0x600000, PG);
	CHECK_STATUS(ivm_map_reserved_logical_range(r, 0, PERM_RW, &p, &la),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(la, base);
	static const uint64_t pfns[1] = { 0x777 };
	p = bb_pfns(pfns, 1);
	CHECK_STATUS(ivm_map_reserved_logical_range(r, PG, IVM_PERM_WRITE, &p,
						     &la),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(la, base + PG);
	EXPECT_TR(d, base + 0x10, 0x600010, PERM_RW);
	EXPECT_TR(d, base + PG + 0xFFF, 0x777FFF, IVM_PERM_WRITE);
	EXPECT_TR(d, base + 2 * PG + 1, 0x500001, IVM_PERM_READ);
	EXPECT_UNMAPPED(d, base + 3 * PG);
	s = bb_stats(d);
	CHECK_EQ_U64(s.mappings, 3);
	CHECK_EQ_U64(s.mapped_pages, 3);
	CHECK_EQ_U64(s.iova_used_pages, 4);

	/* The reservation's space is not the allocator's to hand out. */
	ivm_la a = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 1, NULL, NULL, &a),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(a, 0x4000);

	/* unmap: two adjacent whole mappings in one call */
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 0, 2), IVM_STATUS_SUCCESS);
	EXPECT_UNMAPPED(d, base);
	EXPECT_UNMAPPED(d, base + PG);
	EXPECT_TR(d, base + 2 * PG, 0x500000, IVM_PERM_READ);
	/* remap at the same offset with other memory */
	p = bb_contig(0x900000, 2 * PG);
	CHECK_STATUS(ivm_map_reserved_logical_range(r, 0, IVM_PERM_READ, &p, &la),
		     IVM_STATUS_SUCCESS);
	EXPECT_TR(d, base + PG + 4, 0x901004, IVM_PERM_READ);
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 0, 3), IVM_STATUS_SUCCESS);
	s = bb_stats(d);
	CHECK_EQ_U64(s.mappings, 1);
	CHECK_EQ_U64(s.reservations, 1);
	CHECK_EQ_U64(s.iova_used_pages, 5);

	CHECK_STATUS(ivm_free_reserved_logical_range(&r), IVM_STATUS_SUCCESS);
	CHECK(r == NULL);
	s = bb_stats(d);
	CHECK_EQ_U64(s.reservations, 0);
	CHECK_EQ_U64(s.iova_used_pages, 1);
	/* its space is the allocator's again */
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 4, NULL, NULL, &a),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(a, 0);
	ivm_domain_destroy(&d);
}

IVM_TEST(reserve_argument_errors)
{
	struct ivm_domain *d = bb_domain_buddy(16, IVM_ALLOCATOR_ALLOW_EXPLICIT);
	struct ivm_domain *pt = bb_domain_passthrough();
	ivm_la keep = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 1, NULL, NULL, &keep),
		     IVM_STATUS_SUCCESS);
	struct bb_snap s = bb_snap_take(d, true);
	ivm_la ex, mn, mx;

	CHECK_RESERVE(NULL, PG, NULL, NULL, NULL, IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_RESERVE(pt, PG, NULL, NULL, NULL, IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_RESERVE(d, 0, NULL, NULL, NULL, IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_RESERVE(d, 100, NULL, NULL, NULL, IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_RESERVE(d, PG + 1, NULL, NULL, NULL, IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_RESERVE(d, 17 * PG, NULL, NULL, NULL, IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_RESERVE(d, UINT64_MAX & ~0xFFFull, NULL, NULL, NULL,
		      IVM_STATUS_INVALID_PARAMETER_2);
	ex = 0x8001;
	CHECK_RESERVE(d, PG, &ex, NULL, NULL, IVM_STATUS_INVALID_PARAMETER_3);
	ex = 0xF000;                                     /* passes the width */
	CHECK_RESERVE(d, 2 * PG, &ex, NULL, NULL, IVM_STATUS_INVALID_PARAMETER_3);
	ex = 0x10000;
	CHECK_RESERVE(d, PG, &ex, NULL, NULL, IVM_STATUS_INVALID_PARAMETER_3);
	ex = 0xFFFFFFFFFFFFF000ull;                      /* wraps */
	CHECK_RESERVE(d, 2 * PG, &ex, NULL, NULL, IVM_STATUS_INVALID_PARAMETER_3);
	mn = 0x9000;
	mx = 0x8000;
	CHECK_RESERVE(d, PG, NULL, &mn, &mx, IVM_STATUS_INVALID_PARAMETER_MIX);
	mn = 0x9000;
	mx = 0xAFFF;                      /* 2 pages, not an aligned 4 */
	CHECK_RESERVE(d, 3 * PG, NULL, &mn, &mx, IVM_STATUS_INVALID_PARAMETER_MIX);
	ex = 0xC000;
	mn = 0x8000;
	mx = 0xBFFF;                      /* explicit outside */
	CHECK_RESERVE(d, PG, &ex, &mn, &mx, IVM_STATUS_INVALID_PARAMETER_MIX);
	CHECK_STATUS(ivm_reserve_logical_range(d, PG, NULL, NULL, NULL, NULL),
		     IVM_STATUS_INVALID_PARAMETER);
	ex = 0x8000;
	CHECK_STATUS(ivm_reserve_logical_range(d, PG, &ex, NULL, NULL, NULL),
		     IVM_STATUS_INVALID_PARAMETER);
	/* IN_USE: the explicit range covers the allocated page 0 */
	ex = 0;
	CHECK_RESERVE(d, 2 * PG, &ex, NULL, NULL, IVM_STATUS_IN_USE);
	/* precedence */
	CHECK_RESERVE(NULL, 0, &ex, NULL, NULL, IVM_STATUS_INVALID_PARAMETER_1);
	ex = 0x8001;
	CHECK_RESERVE(d, 0, &ex, NULL, NULL, IVM_STATUS_INVALID_PARAMETER_2);
	mn = 0x9000;
	mx = 0x8000;
	CHECK_RESERVE(d, PG, &ex, &mn, &mx, IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_STATUS(ivm_reserve_logical_range(d, PG, NULL, &mn, &mx, NULL),
		     IVM_STATUS_INVALID_PARAMETER_MIX);
	CHECK_STATUS(ivm_reserve_logical_range(d, 0, NULL, NULL, NULL, NULL),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_UNCHANGED(d, s);
	EXPECT_UNMAPPED(d, 0x8000);
	ivm_domain_destroy(&d);
	ivm_domain_destroy(&pt);
}

IVM_TEST(reserve_not_supported)
{
	struct ivm_domain *b = bb_domain_buddy(20, 0);
	struct ivm_domain *n = bb_domain_plain();
	struct bb_snap sb = bb_snap_take(b, true);
	struct bb_snap sn = bb_snap_take(n, false);
	ivm_la ex = 0x8000, mn = 0, mx = 0xFFFFF;
	CHECK_RESERVE(b, PG, &ex, NULL, NULL, IVM_STATUS_NOT_SUPPORTED);
	CHECK_RESERVE(b, PG, &ex, &mn, &mx, IVM_STATUS_NOT_SUPPORTED);
	CHECK_RESERVE(n, PG, NULL, NULL, NULL, IVM_STATUS_NOT_SUPPORTED);
	CHECK_RESERVE(n, PG, NULL, &mn, &mx, IVM_STATUS_NOT_SUPPORTED);
	CHECK_UNCHANGED(b, sb);
	CHECK_UNCHANGED(n, sn);
	ivm_domain_destroy(&b);
	ivm_domain_destroy(&n);
}

IVM_TEST(reserve_insufficient)
{
	struct ivm_domain *d = bb_domain_buddy(16, 0);
	struct ivm_reservation *r = must_reserve(d, 8 * PG, NULL, NULL, NULL);
	ivm_la a = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 1, NULL, NULL, &a),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(a, 0x8000);
	struct bb_snap s = bb_snap_take(d, true);
	CHECK_RESERVE(d, 8 * PG, NULL, NULL, NULL,
		      IVM_STATUS_INSUFFICIENT_RESOURCES);
	ivm_la mn = 0, mx = 0x7FFF;          /* window full of the reservation */
	CHECK_RESERVE(d, PG, NULL, &mn, &mx, IVM_STATUS_INSUFFICIENT_RESOURCES);
	CHECK_UNCHANGED(d, s);
	CHECK_RESERVE(d, 4 * PG, NULL, NULL, NULL, IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_free_reserved_logical_range(&r), IVM_STATUS_SUCCESS);
	CHECK_RESERVE(d, 8 * PG, NULL, NULL, NULL, IVM_STATUS_SUCCESS);
	ivm_domain_destroy(&d);
}

IVM_TEST(reserve_window_and_explicit)
{
	struct ivm_domain *d = bb_domain_buddy(24, IVM_ALLOCATOR_ALLOW_EXPLICIT);
	ivm_la mn = 0x40001, mx = 0x7FFFF;
	struct ivm_reservation *r1 = must_reserve(d, 2 * PG, NULL, &mn, &mx);
	CHECK_EQ_U64(res_base(r1, NULL), 0x42000);
	ivm_la ex = 0x123000;
	struct ivm_reservation *r2 = must_reserve(d, 3 * PG, &ex, NULL, NULL);
	uint64_t size = 0;
	CHECK_EQ_U64(res_base(r2, &size), 0x123000);
	CHECK_EQ_U64(size, 3 * PG);
	/* an explicit reservation is not rounded: the page after is free */
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0x126000),
		     IVM_STATUS_SUCCESS);
	/* explicit map / reservation into a reservation */
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0x124000),
		     IVM_STATUS_IN_USE);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 2, 0x122000),
		     IVM_STATUS_IN_USE);
	ex = 0x125000;
	CHECK_RESERVE(d, 2 * PG, &ex, NULL, NULL, IVM_STATUS_IN_USE);
	EXPECT_UNMAPPED(d, 0x124000);
	EXPECT_UNMAPPED(d, 0x122000);
	ivm_domain_destroy(&d);
}

IVM_TEST(reserve_without_allocator)
{
	struct ivm_domain *d = bb_domain_plain();
	ivm_la ex = 0x7000000;
	struct ivm_reservation *r = must_reserve(d, 5 * PG, &ex, NULL, NULL);
	uint64_t size = 0;
	CHECK_EQ_U64(res_base(r, &size), 0x7000000);
	CHECK_EQ_U64(size, 5 * PG);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0x7004000),
		     IVM_STATUS_IN_USE);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0x7005000),
		     IVM_STATUS_SUCCESS);
	struct ivm_phys p = bb_contig(FAKE_PA, 5 * PG);
	ivm_la la = LA_SENTINEL;
	CHECK_STATUS(ivm_map_reserved_logical_range(r, 0, PERM_RW, &p, &la),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(la, 0x7000000);
	EXPECT_TR(d, 0x7004FFF, FAKE_PA + 0x4FFF, PERM_RW);
	ex = 0x7003000;
	CHECK_RESERVE(d, PG, &ex, NULL, NULL, IVM_STATUS_IN_USE);
	/* top of the width */
	ex = (1ull << 48) - PG;
	CHECK_RESERVE(d, PG, &ex, NULL, NULL, IVM_STATUS_SUCCESS);
	CHECK_RESERVE(d, 2 * PG, &ex, NULL, NULL, IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 0, 5), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_free_reserved_logical_range(&r), IVM_STATUS_SUCCESS);
	/* freed space can be mapped again */
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 5, 0x7000000),
		     IVM_STATUS_SUCCESS);
	ivm_domain_destroy(&d);
}

IVM_TEST(reservation_base_args)
{
	struct ivm_domain *d = bb_domain_buddy(20, 0);
	struct ivm_reservation *r = must_reserve(d, PG, NULL, NULL, NULL);
	ivm_la la = LA_SENTINEL;
	uint64_t size = 77;
	CHECK_STATUS(ivm_reservation_base(NULL, &la, &size),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_reservation_base(r, NULL, &size),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_reservation_base(NULL, NULL, NULL),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_EQ_U64(la, LA_SENTINEL);
	CHECK_STATUS(ivm_reservation_base(r, &la, NULL), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(la, 0);
	ivm_domain_destroy(&d);
}

IVM_TEST(map_reserved_argument_errors)
{
	struct ivm_domain *d = bb_domain_buddy(20, 0);
	struct ivm_reservation *r = must_reserve(d, 3 * PG, NULL, NULL, NULL);
	const ivm_la base = res_base(r, NULL);
	struct ivm_phys one = bb_contig(FAKE_PA, PG);
	ivm_la la = LA_SENTINEL;
	CHECK_STATUS(ivm_map_reserved_logical_range(r, PG, IVM_PERM_READ, &one, &la),
		     IVM_STATUS_SUCCESS);
	struct bb_snap s = bb_snap_take(d, true);

#define CHECK_MAPRES(res, off, perm, physp, want)                          \
	do {                                                               \
		ivm_la mo_ = LA_SENTINEL;                                  \
		CHECK_STATUS(ivm_map_reserved_logical_range((res), (off),  \
							    (perm),        \
							    (physp), &mo_), \
			     (want));                                      \
		CHECK_EQ_U64(mo_, LA_SENTINEL);                            \
	} while (0)

	CHECK_MAPRES(NULL, 0, IVM_PERM_READ, &one, IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_MAPRES(r, 0x10, IVM_PERM_READ, &one, IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_MAPRES(r, 3 * PG, IVM_PERM_READ, &one,       /* the rounding */
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_MAPRES(r, 4 * PG, IVM_PERM_READ, &one, IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_MAPRES(r, UINT64_MAX & ~0xFFFull, IVM_PERM_READ, &one,
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_MAPRES(r, 0, 4, &one, IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_MAPRES(r, 0, 0x80000001u, &one, IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_MAPRES(r, 0, IVM_PERM_READ, NULL, IVM_STATUS_INVALID_PARAMETER_4);
	struct ivm_phys m = bb_contig(FAKE_PA + 8, PG);
	CHECK_MAPRES(r, 0, IVM_PERM_READ, &m, IVM_STATUS_INVALID_PARAMETER_4);
	m = bb_contig(FAKE_PA, 0);
	CHECK_MAPRES(r, 0, IVM_PERM_READ, &m, IVM_STATUS_INVALID_PARAMETER_4);
	m = bb_contig(0xFFFFFFFFFFFFF000ull, 2 * PG);
	CHECK_MAPRES(r, 0, IVM_PERM_READ, &m, IVM_STATUS_INVALID_PARAMETER_4);
	m = bb_pfns(NULL, 2);
	CHECK_MAPRES(r, 0, IVM_PERM_READ, &m, IVM_STATUS_INVALID_PARAMETER_4);
	m = bb_contig(FAKE_PA, 2 * PG);                    /* does not fit */
	CHECK_MAPRES(r, 2 * PG, IVM_PERM_READ, &m, IVM_STATUS_INVALID_PARAMETER_4);
	m = bb_contig(FAKE_PA, 4 * PG);
	CHECK_MAPRES(r, 0, IVM_PERM_READ, &m, IVM_STATUS_INVALID_PARAMETER_4);
	CHECK_STATUS(ivm_map_reserved_logical_range(r, 0, IVM_PERM_READ, &one,
						    NULL),
		     IVM_STATUS_INVALID_PARAMETER);
	/* IN_USE: full and partial overlap with the mapping at offset 1 */
	CHECK_MAPRES(r, PG, IVM_PERM_READ, &one, IVM_STATUS_IN_USE);
	m = bb_contig(FAKE_PA, 2 * PG);
	CHECK_MAPRES(r, 0, IVM_PERM_READ, &m, IVM_STATUS_IN_USE);
	CHECK_MAPRES(r, PG, IVM_PERM_READ, &m, IVM_STATUS_IN_USE);
	m = bb_contig(FAKE_PA, 3 * PG);
	CHECK_MAPRES(r, 0, IVM_PERM_READ, &m, IVM_STATUS_IN_USE);
	/* precedence */
	CHECK_MAPRES(NULL, 1, 4, NULL, IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_MAPRES(r, 1, 4, NULL, IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_MAPRES(r, 0, 4, NULL, IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_STATUS(ivm_map_reserved_logical_range(r, 0, IVM_PERM_READ, NULL,
						    NULL),
		     IVM_STATUS_INVALID_PARAMETER_4);
	CHECK_UNCHANGED(d, s);
	EXPECT_UNMAPPED(d, base);
	EXPECT_UNMAPPED(d, base + 2 * PG);
	EXPECT_TR(d, base + PG, FAKE_PA, IVM_PERM_READ);
#undef CHECK_MAPRES
	ivm_domain_destroy(&d);
}

IVM_TEST(unmap_reserved_argument_errors)
{
	struct ivm_domain *d = bb_domain_buddy(20, 0);
	struct ivm_reservation *r = must_reserve(d, 8 * PG, NULL, NULL, NULL);
	const ivm_la base = res_base(r, NULL);
	struct ivm_phys two = bb_contig(FAKE_PA, 2 * PG);
	struct ivm_phys one = bb_contig(0x800000, PG);
	ivm_la la;
	CHECK_STATUS(ivm_map_reserved_logical_range(r, 2 * PG, PERM_RW, &two, &la),
		     IVM_STATUS_SUCCESS);                       /* pages 2-3 */
	CHECK_STATUS(ivm_map_reserved_logical_range(r, 4 * PG, PERM_RW, &one, &la),
		     IVM_STATUS_SUCCESS);                       /* page 4 */
	struct bb_snap s = bb_snap_take(d, true);

	CHECK_STATUS(ivm_unmap_reserved_logical_range(NULL, 2 * PG, 2),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 2 * PG + 1, 2),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 8 * PG, 1),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 1ull << 40, 1),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 2 * PG, 0),
		     IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 4 * PG, 5),
		     IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 4 * PG, UINT64_MAX),
		     IVM_STATUS_INVALID_PARAMETER_3);
	/* not exactly whole mappings */
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 2 * PG, 1),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 3 * PG, 1),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, PG, 3),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 2 * PG, 4),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 0, 1),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 7 * PG, 1),
		     IVM_STATUS_INVALID_PARAMETER);
	/* precedence */
	CHECK_STATUS(ivm_unmap_reserved_logical_range(NULL, 1, 0),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 1, 0),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_UNCHANGED(d, s);
	EXPECT_TR(d, base + 2 * PG, FAKE_PA, PERM_RW);
	EXPECT_TR(d, base + 3 * PG + 9, FAKE_PA + PG + 9, PERM_RW);
	EXPECT_TR(d, base + 4 * PG, 0x800000, PERM_RW);
	/* both whole mappings in one call */
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 2 * PG, 3),
		     IVM_STATUS_SUCCESS);
	EXPECT_UNMAPPED(d, base + 2 * PG);
	EXPECT_UNMAPPED(d, base + 4 * PG);
	struct ivm_domain_stats st = bb_stats(d);
	CHECK_EQ_U64(st.mappings, 0);
	CHECK_EQ_U64(st.reservations, 1);
	CHECK_EQ_U64(st.iova_used_pages, 8);
	ivm_domain_destroy(&d);
}

IVM_TEST(free_with_mappings_in_use)
{
	struct ivm_domain *d = bb_domain_buddy(20, 0);
	struct ivm_reservation *r = must_reserve(d, 4 * PG, NULL, NULL, NULL);
	struct ivm_reservation *const orig = r;
	const ivm_la base = res_base(r, NULL);
	struct ivm_phys one = bb_contig(FAKE_PA, PG);
	ivm_la la;
	CHECK_STATUS(ivm_map_reserved_logical_range(r, 3 * PG, PERM_RW, &one, &la),
		     IVM_STATUS_SUCCESS);
	struct bb_snap s = bb_snap_take(d, true);
	CHECK_STATUS(ivm_free_reserved_logical_range(&r), IVM_STATUS_IN_USE);
	CHECK(r == orig);
	CHECK_UNCHANGED(d, s);
	EXPECT_TR(d, base + 3 * PG, FAKE_PA, PERM_RW);
	/* the handle is still valid */
	CHECK_EQ_U64(res_base(r, NULL), base);
	CHECK_STATUS(ivm_map_reserved_logical_range(r, 0, PERM_RW, &one, &la),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_free_reserved_logical_range(&r), IVM_STATUS_IN_USE);
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 3 * PG, 1),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_free_reserved_logical_range(&r), IVM_STATUS_IN_USE);
	CHECK_STATUS(ivm_unmap_reserved_logical_range(r, 0, 1),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_free_reserved_logical_range(&r), IVM_STATUS_SUCCESS);
	CHECK(r == NULL);
	CHECK_EQ_U64(bb_stats(d).reservations, 0);
	/* NULL handles */
	CHECK_STATUS(ivm_free_reserved_logical_range(&r), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_free_reserved_logical_range(NULL), IVM_STATUS_SUCCESS);
	ivm_domain_destroy(&d);
}

IVM_TEST(logical_unmap_cannot_touch_reserved)
{
	struct ivm_domain *d = bb_domain_buddy(20, 0);
	struct ivm_reservation *r = must_reserve(d, 2 * PG, NULL, NULL, NULL);
	const ivm_la base = res_base(r, NULL);
	struct ivm_phys two = bb_contig(FAKE_PA, 2 * PG);
	ivm_la la;
	CHECK_STATUS(ivm_map_reserved_logical_range(r, 0, PERM_RW, &two, &la),
		     IVM_STATUS_SUCCESS);
	struct bb_snap s = bb_snap_take(d, true);
	CHECK_STATUS(ivm_unmap_logical_range(d, base, 2),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_unmap_logical_range(d, base, 1),
		     IVM_STATUS_INVALID_PARAMETER);
	struct ivm_phys id = bb_contig(base, 2 * PG);
	CHECK_STATUS(ivm_unmap_identity_range_ex(d, &id),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_UNCHANGED(d, s);
	EXPECT_TR(d, base + PG, FAKE_PA + PG, PERM_RW);
	ivm_domain_destroy(&d);
}

IVM_TEST(reserved_space_never_allocated)
{
	struct ivm_domain *d = bb_domain_buddy(16, 0);
	ivm_la mn = 0x8000;
	struct ivm_reservation *r = must_reserve(d, 4 * PG, NULL, &mn, NULL);
	const ivm_la base = res_base(r, NULL);
	CHECK_EQ_U64(base, 0x8000);
	int got = 0;
	for (int i = 0; i < 20; i++) {
		ivm_la la = 0;
		ivm_status st = bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 1, NULL,
					     NULL, &la);
		if (st != IVM_STATUS_SUCCESS) {
			CHECK_STATUS(st, IVM_STATUS_INSUFFICIENT_RESOURCES);
			break;
		}
		got++;
		CHECK(la < base || la >= base + 4 * PG);
	}
	CHECK(got == 12);
	ivm_domain_destroy(&d);
}

IVM_TEST(destroy_with_live_reservations)
{
	struct ivm_domain *d = bb_domain_buddy(40, 0);
	struct ivm_phys one = bb_contig(FAKE_PA, PG);
	ivm_la la;
	for (int i = 0; i < 8; i++) {
		struct ivm_reservation *r = must_reserve(d, (uint64_t)(i + 1) * 64 * PG,
							 NULL, NULL, NULL);
		if (i % 2)
			CHECK_STATUS(ivm_map_reserved_logical_range(r, 0, PERM_RW,
								    &one, &la),
				     IVM_STATUS_SUCCESS);
	}
	CHECK_EQ_U64(bb_stats(d).reservations, 8);
	ivm_domain_destroy(&d);
	CHECK(d == NULL);
}

IVM_TEST(reserve_rounding_is_in_use)
{
	struct ivm_domain *d = bb_domain_buddy(20, IVM_ALLOCATOR_ALLOW_EXPLICIT);
	struct ivm_reservation *r = must_reserve(d, 3 * PG, NULL, NULL, NULL);
	const ivm_la base = res_base(r, NULL);
	/* the fourth page is the rounding: neither usable nor free */
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, base + 3 * PG),
		     IVM_STATUS_IN_USE);
	struct ivm_phys id = bb_contig(base + 3 * PG, PG);
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &id), IVM_STATUS_IN_USE);
	CHECK_STATUS(ivm_free_reserved_logical_range(&r), IVM_STATUS_SUCCESS);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, base + 3 * PG),
		     IVM_STATUS_SUCCESS);
	ivm_domain_destroy(&d);
}

IVM_TEST(reserve_window_ignored_without_allocator)
{
	struct ivm_domain *d = bb_domain_plain();
	ivm_la ex = 0x50000, mn = 0x90000, mx = 0x10000;
	struct ivm_reservation *r = NULL;
	CHECK_STATUS(ivm_reserve_logical_range(d, 2 * PG, &ex, &mn, &mx, &r),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(res_base(r, NULL), 0x50000);
	ivm_domain_destroy(&d);

	/* with an allocator the same window is refused */
	d = bb_domain_buddy(20, IVM_ALLOCATOR_ALLOW_EXPLICIT);
	CHECK_RESERVE(d, 2 * PG, &ex, &mn, &mx, IVM_STATUS_INVALID_PARAMETER_MIX);
	ivm_domain_destroy(&d);
}

IVM_TEST(reservations_are_independent)
{
	struct ivm_domain *d = bb_domain_buddy(20, 0);
	struct ivm_reservation *a = must_reserve(d, 2 * PG, NULL, NULL, NULL);
	struct ivm_reservation *b = must_reserve(d, 2 * PG, NULL, NULL, NULL);
	const ivm_la ba = res_base(a, NULL), bbase = res_base(b, NULL);
	CHECK(ba + 2 * PG == bbase || bbase + 2 * PG == ba);
	struct ivm_phys two = bb_contig(FAKE_PA, 2 * PG);
	ivm_la la;
	CHECK_STATUS(ivm_map_reserved_logical_range(a, 0, PERM_RW, &two, &la),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_map_reserved_logical_range(b, 0, IVM_PERM_READ, &two, &la),
		     IVM_STATUS_SUCCESS);
	/* neither handle reaches into the other */
	CHECK_STATUS(ivm_unmap_reserved_logical_range(a, 0, 4),
		     IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_STATUS(ivm_free_reserved_logical_range(&a), IVM_STATUS_IN_USE);
	CHECK_STATUS(ivm_unmap_reserved_logical_range(a, 0, 2), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_free_reserved_logical_range(&a), IVM_STATUS_SUCCESS);
	EXPECT_TR(d, bbase + PG, FAKE_PA + PG, IVM_PERM_READ);
	EXPECT_UNMAPPED(d, ba);
	CHECK_EQ_U64(bb_stats(d).reservations, 1);
	ivm_domain_destroy(&d);
}

IVM_TEST_MAIN()
