/* SPDX-License-Identifier: MIT */
/*
 * test_map.c - ivm_map_logical_range_ex, ivm_unmap_logical_range and
 * ivm_translate against their documented contract (iovamap/map.h and the
 * seed text of IOMMU_MAP_LOGICAL_RANGE_EX).  Every failing call is followed
 * by a check that nothing changed: the probed translations, the stats, and
 * (on allocator domains) the address the next allocation gets.
 */
#include <pthread.h>

#include "bb_util.h"

#define LA_SENTINEL 0xabcdabcdabcdabcdull

/* Call map and check both the status and that *la_out stayed untouched on
 * failure. */
#define CHECK_MAP(d, perms, physp, ex, mn, mx, want)                       \
	do {                                                               \
		ivm_la mo_ = LA_SENTINEL;                                  \
		ivm_status mst_ = ivm_map_logical_range_ex((d), (perms),   \
							   (physp), (ex), \
							   (mn), (mx), &mo_); \
		CHECK_STATUS(mst_, (want));                                \
		if (mst_ != IVM_STATUS_SUCCESS)                            \
			CHECK_EQ_U64(mo_, LA_SENTINEL);                    \
	} while (0)

/* ---------------------------------------------------------------- */
/* Parameter 1: the domain                                           */

IVM_TEST(map_domain_null_or_not_translate)
{
	struct ivm_phys p = bb_contig(FAKE_PA, PG);
	ivm_la ex = 0x1000;
	CHECK_MAP(NULL, IVM_PERM_READ, &p, &ex, NULL, NULL,
		  IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_MAP(NULL, IVM_PERM_READ, &p, NULL, NULL, NULL,
		  IVM_STATUS_INVALID_PARAMETER_1);

	struct ivm_domain *pt = bb_domain_passthrough();
	CHECK_MAP(pt, IVM_PERM_READ, &p, &ex, NULL, NULL,
		  IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_MAP(pt, IVM_PERM_READ, &p, NULL, NULL, NULL,
		  IVM_STATUS_INVALID_PARAMETER_1);
	/* PassThrough translates identity, so the failed map is invisible
	 * in translate; the stats prove nothing was recorded. */
	struct ivm_domain_stats s = bb_stats(pt);
	CHECK_EQ_U64(s.mappings, 0);
	CHECK_EQ_U64(s.mapped_pages, 0);
	ivm_domain_destroy(&pt);
}

/* ---------------------------------------------------------------- */
/* Parameter 2: permissions                                          */

IVM_TEST(map_reserved_permission_bits)
{
	struct ivm_domain *d = bb_domain_buddy(20, IVM_ALLOCATOR_ALLOW_EXPLICIT);
	struct ivm_phys p = bb_contig(FAKE_PA, PG);
	ivm_la ex = 0x8000;
	static const uint32_t bad[] = { 4, 8, 0x80000000u, 0xffffffffu,
					IVM_PERM_READ | 4, PERM_RW | 0x100 };
	struct bb_snap s = bb_snap_take(d, true);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_MAP(d, bad[i], &p, NULL, NULL, NULL,
			  IVM_STATUS_INVALID_PARAMETER_2);
		CHECK_MAP(d, bad[i], &p, &ex, NULL, NULL,
			  IVM_STATUS_INVALID_PARAMETER_2);
	}
	CHECK_UNCHANGED(d, s);
	EXPECT_UNMAPPED(d, 0x8000);
	ivm_domain_destroy(&d);
}

IVM_TEST(map_every_valid_permission)
{
	struct ivm_domain *d = bb_domain_plain();
	const uint32_t perms[] = { 0, IVM_PERM_READ, IVM_PERM_WRITE, PERM_RW };
	for (unsigned i = 0; i < 4; i++) {
		ivm_la la = 0x100000 + i * PG;
		CHECK_STATUS(bb_map_at(d, perms[i], FAKE_PA + i * PG, 1, la),
			     IVM_STATUS_SUCCESS);
		/* Permission 0 is a real mapping that every access faults
		 * on: translate still finds it, with no permission. */
		EXPECT_TR(d, la + 0x10, FAKE_PA + i * PG + 0x10, perms[i]);
	}
	CHECK_EQ_U64(bb_stats(d).mappings, 4);
	ivm_domain_destroy(&d);
}

/* ---------------------------------------------------------------- */
/* Parameter 3: the physical memory                                  */

static void check_bad_phys(struct ivm_domain *d, const ivm_la *ex,
			   bool probe)
{
	static const uint64_t pfns_ok[2] = { 0x100, 0x200 };
	static const uint64_t pfns_big[3] = { 0x100, 1ull << 52, 0x300 };
	static const uint64_t pfns_max[1] = { UINT64_MAX };
	static const uint64_t pfns_last_big[2] = { 0x1, (1ull << 52) + 7 };
	uint8_t *buf = bb_pages(2);
	struct ivm_phys bad[20];
	size_t n = 0;

	bad[n++] = bb_buffer(buf + 8, PG);                  /* unaligned va */
	bad[n++] = bb_buffer(buf, 0);                       /* empty */
	bad[n++] = bb_buffer(buf, PG + 1);                  /* not a page multiple */
	bad[n++] = bb_buffer(buf, PG / 2);
	bad[n++] = bb_contig(FAKE_PA + 0x800, PG);          /* unaligned base */
	bad[n++] = bb_contig(FAKE_PA, 0);                   /* empty */
	bad[n++] = bb_contig(FAKE_PA, PG + 512);            /* not a multiple */
	bad[n++] = bb_contig(0xFFFFFFFFFFFFF000ull, 2 * PG); /* wraps 2^64 */
	bad[n++] = bb_contig(0x2000, (uint64_t)SIZE_MAX & ~0xFFFull); /* wraps */
	bad[n++] = bb_pfns(NULL, 1);                        /* NULL array */
	bad[n++] = bb_pfns(pfns_ok, 0);                     /* empty */
	bad[n++] = bb_pfns(pfns_big, 3);                    /* frame >= 2^64 */
	bad[n++] = bb_pfns(pfns_max, 1);
	bad[n++] = bb_pfns(pfns_last_big, 2);
	struct ivm_phys unk = bb_contig(FAKE_PA, PG);
	unk.type = (enum ivm_phys_type)3;
	bad[n++] = unk;
	unk.type = (enum ivm_phys_type)-1;
	bad[n++] = unk;

	struct bb_snap s = bb_snap_take(d, probe);
	CHECK_MAP(d, IVM_PERM_READ, NULL, ex, NULL, NULL,
		  IVM_STATUS_INVALID_PARAMETER_3);
	for (size_t i = 0; i < n; i++) {
		ivm_la o = LA_SENTINEL;
		ivm_status st = ivm_map_logical_range_ex(d, IVM_PERM_READ,
							 &bad[i], ex, NULL,
							 NULL, &o);
		if (st != IVM_STATUS_INVALID_PARAMETER_3) {
			fprintf(stderr, "  bad phys #%zu -> %s\n", i,
				ivm_status_name(st));
			CHECK(0);
		}
		CHECK_EQ_U64(o, LA_SENTINEL);
	}
	CHECK_UNCHANGED(d, s);
	free(buf);
}

IVM_TEST(map_malformed_phys_explicit)
{
	struct ivm_domain *d = bb_domain_plain();
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0x3000),
		     IVM_STATUS_SUCCESS);
	ivm_la ex = 0x10000;
	check_bad_phys(d, &ex, false);
	EXPECT_UNMAPPED(d, 0x10000);
	EXPECT_TR(d, 0x3000, FAKE_PA, IVM_PERM_READ);
	ivm_domain_destroy(&d);
}

IVM_TEST(map_malformed_phys_allocated)
{
	struct ivm_domain *d = bb_domain_buddy(24, 0);
	ivm_la la = 0;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 1, NULL, NULL, &la),
		     IVM_STATUS_SUCCESS);
	check_bad_phys(d, NULL, true);
	EXPECT_TR(d, la, FAKE_PA, IVM_PERM_READ);
	ivm_domain_destroy(&d);
}

IVM_TEST(map_phys_larger_than_space)
{
	/* 16-bit space: 16 pages. */
	struct ivm_domain *d = bb_domain_buddy(16, 0);
	struct bb_snap s = bb_snap_take(d, true);
	struct ivm_phys p = bb_contig(FAKE_PA, 17 * PG);
	CHECK_MAP(d, IVM_PERM_READ, &p, NULL, NULL, NULL,
		  IVM_STATUS_INVALID_PARAMETER_3);
	uint64_t pfns[17];
	for (int i = 0; i < 17; i++)
		pfns[i] = 0x1000 + (uint64_t)i;
	p = bb_pfns(pfns, 17);
	CHECK_MAP(d, IVM_PERM_READ, &p, NULL, NULL, NULL,
		  IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_UNCHANGED(d, s);
	/* The whole space fits exactly. */
	p = bb_contig(FAKE_PA, 16 * PG);
	ivm_la la = LA_SENTINEL;
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p, NULL, NULL,
					      NULL, &la),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(la, 0);
	EXPECT_TR(d, 0xFFFF, FAKE_PA + 0xFFFF, IVM_PERM_READ);
	ivm_domain_destroy(&d);

	/* Larger than the space is parameter 3 even with an explicit
	 * address (size is checked before the address). */
	d = bb_domain_noalloc(16);
	ivm_la ex = 0;
	p = bb_contig(FAKE_PA, 17 * PG);
	CHECK_MAP(d, IVM_PERM_READ, &p, &ex, NULL, NULL,
		  IVM_STATUS_INVALID_PARAMETER_3);
	EXPECT_UNMAPPED(d, 0);
	ivm_domain_destroy(&d);
}

IVM_TEST(map_pfn_array_non_contiguous)
{
	struct ivm_domain *d = bb_domain_plain();
	static const uint64_t pfns[5] = { 0x500, 0x123, 0x124, 0x7, 0xFFFFFFFFFFFFFull };
	struct ivm_phys p = bb_pfns(pfns, 5);
	ivm_la ex = 0x40000;
	ivm_la la = 0;
	CHECK_STATUS(ivm_map_logical_range_ex(d, PERM_RW, &p, &ex, NULL, NULL,
					      &la),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(la, 0x40000);
	for (unsigned i = 0; i < 5; i++) {
		EXPECT_TR(d, 0x40000 + i * PG, pfns[i] << 12, PERM_RW);
		EXPECT_TR(d, 0x40000 + i * PG + 0xABC, (pfns[i] << 12) + 0xABC,
			  PERM_RW);
	}
	/* The highest frame: its last byte is 2^64 - 1. */
	EXPECT_TR(d, 0x40000 + 4 * PG + 0xFFF, UINT64_MAX, PERM_RW);
	EXPECT_UNMAPPED(d, 0x40000 + 5 * PG);
	EXPECT_UNMAPPED(d, 0x3FFFF);
	struct ivm_domain_stats s = bb_stats(d);
	CHECK_EQ_U64(s.mappings, 1);
	CHECK_EQ_U64(s.mapped_pages, 5);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x40000, 5), IVM_STATUS_SUCCESS);
	for (unsigned i = 0; i < 5; i++)
		EXPECT_UNMAPPED(d, 0x40000 + i * PG);
	ivm_domain_destroy(&d);
}

IVM_TEST(map_pfn_array_allocated)
{
	struct ivm_domain *d = bb_domain_buddy(30, 0);
	uint64_t pfns[3] = { 0x9999, 0x1, 0x4444 };
	struct ivm_phys p = bb_pfns(pfns, 3);
	ivm_la la = LA_SENTINEL;
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p, NULL, NULL,
					      NULL, &la),
		     IVM_STATUS_SUCCESS);
	/* The caller owns the array: changing it afterwards changes nothing. */
	pfns[0] = pfns[1] = pfns[2] = 0x77;
	CHECK_EQ_U64(la % (4 * PG), 0);
	EXPECT_TR(d, la, 0x9999000, IVM_PERM_READ);
	EXPECT_TR(d, la + PG + 1, 0x1001, IVM_PERM_READ);
	EXPECT_TR(d, la + 2 * PG + 0xFFF, 0x4444FFF, IVM_PERM_READ);
	EXPECT_UNMAPPED(d, la + 3 * PG);
	ivm_domain_destroy(&d);
}

/*
 * ivm_map_buffers (lib/map.c): exported for iovamap-dpdk's burst map, not
 * public, so declared here as lib/util.h declares it.  Buffer i's page is
 * mapped at page i of one allocated mapping; its address is that page's
 * plus its offset.
 */
IVM_API ivm_status ivm_map_buffers(struct ivm_domain *domain,
				   uint32_t permissions, const uint64_t *addrs,
				   uint32_t count, ivm_la *iovas_out,
				   ivm_la *la_out);

IVM_TEST(map_buffers_one_page_each)
{
	struct ivm_domain *d = bb_domain_buddy(30, 0);
	/* Two buffers in one frame, a page's first and last byte, a frame
	 * above 4 GiB. */
	const uint64_t addrs[5] = { 0x9999064, 0x9999800, 0x1000,
				    0x4444fff, 0x7654321000ull };
	ivm_la iova[5], la = LA_SENTINEL;

	CHECK_STATUS(ivm_map_buffers(d, PERM_RW, addrs, 5, iova, &la),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(la % (8 * PG), 0); /* its block: 8 pages, aligned */
	for (int i = 0; i < 5; i++) {
		CHECK_EQ_U64(iova[i], la + (uint64_t)i * PG + (addrs[i] & 0xfff));
		EXPECT_TR(d, iova[i], addrs[i], PERM_RW);
		/* The whole of the buffer's page, none of its neighbours. */
		EXPECT_TR(d, la + (uint64_t)i * PG,
			  addrs[i] & ~(uint64_t)0xfff, PERM_RW);
		EXPECT_TR(d, la + (uint64_t)i * PG + 0xfff,
			  addrs[i] | 0xfff, PERM_RW);
	}
	EXPECT_UNMAPPED(d, la + 5 * PG);
	CHECK_EQ_U64(bb_stats(d).mappings, 1);
	CHECK_EQ_U64(bb_stats(d).mapped_pages, 5);
	/* One mapping of five pages: not in parts, then whole. */
	CHECK_STATUS(ivm_unmap_logical_range(d, la, 4),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_unmap_logical_range(d, la + PG, 4),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_unmap_logical_range(d, la, 5), IVM_STATUS_SUCCESS);
	EXPECT_UNMAPPED(d, iova[0]);
	CHECK_EQ_U64(bb_stats(d).mappings, 0);

	/* A one-page mapping; a whole leaf table; a run across tables (the
	 * general path): every page translates. */
	static uint64_t many[700];
	static ivm_la out[700];
	const uint32_t counts[3] = { 1, 512, 700 };
	for (int k = 0; k < 3; k++) {
		for (uint32_t i = 0; i < counts[k]; i++)
			many[i] = 0x100000000ull + 3 * i * PG + (i % 4096);
		CHECK_STATUS(ivm_map_buffers(d, IVM_PERM_READ, many, counts[k],
					     out, &la),
			     IVM_STATUS_SUCCESS);
		for (uint32_t i = 0; i < counts[k]; i++)
			EXPECT_TR(d, out[i], many[i], IVM_PERM_READ);
		CHECK_EQ_U64(out[counts[k] - 1] & ~(uint64_t)0xfff,
			     la + (uint64_t)(counts[k] - 1) * PG);
		CHECK_STATUS(ivm_unmap_logical_range(d, la, counts[k]),
			     IVM_STATUS_SUCCESS);
	}
	CHECK_EQ_U64(bb_stats(d).mapped_pages, 0);
	ivm_domain_destroy(&d);
}

/* Its statuses are ivm_map_logical_range_ex's, in argument order (addrs
 * and count are the phys), and a refused call changes nothing: no
 * mapping, no space, the outputs untouched. */
IVM_TEST(map_buffers_bad_input_changes_nothing)
{
	struct ivm_domain *d = bb_domain_buddy(14, 0); /* 4 pages */
	struct ivm_domain *pass = bb_domain_passthrough();
	struct ivm_domain *plain = bb_domain_noalloc(30);
	const uint64_t addrs[5] = { 0x1000, 0x2000, 0x3000, 0x4000, 0x5000 };
	ivm_la iova[5] = { LA_SENTINEL }, la = LA_SENTINEL;
	struct bb_snap s = bb_snap_take(d, true);

	CHECK_STATUS(ivm_map_buffers(NULL, PERM_RW, addrs, 1, iova, &la),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_map_buffers(pass, PERM_RW, addrs, 1, iova, &la),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_map_buffers(d, 8, addrs, 1, iova, &la),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_map_buffers(d, PERM_RW, NULL, 1, iova, &la),
		     IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_STATUS(ivm_map_buffers(d, PERM_RW, addrs, 0, iova, &la),
		     IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_STATUS(ivm_map_buffers(d, PERM_RW, addrs, 5, iova, &la),
		     IVM_STATUS_INVALID_PARAMETER_3); /* more than the width */
	CHECK_STATUS(ivm_map_buffers(d, PERM_RW, addrs, 1, NULL, &la),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_map_buffers(d, PERM_RW, addrs, 1, iova, NULL),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_map_buffers(plain, PERM_RW, addrs, 1, iova, &la),
		     IVM_STATUS_NOT_SUPPORTED);
	CHECK_EQ_U64(la, LA_SENTINEL);
	CHECK_EQ_U64(iova[0], LA_SENTINEL);
	CHECK_UNCHANGED(d, s);
	CHECK_EQ_U64(bb_stats(plain).mappings, 0);

	/* The space runs out: INSUFFICIENT_RESOURCES, nothing half made. */
	CHECK_STATUS(ivm_map_buffers(d, PERM_RW, addrs, 3, iova, &la),
		     IVM_STATUS_SUCCESS);
	s = bb_snap_take(d, false);
	ivm_la la2 = LA_SENTINEL;
	CHECK_STATUS(ivm_map_buffers(d, PERM_RW, addrs, 1, iova, &la2),
		     IVM_STATUS_INSUFFICIENT_RESOURCES);
	CHECK_EQ_U64(la2, LA_SENTINEL);
	CHECK_UNCHANGED(d, s);
	EXPECT_TR(d, iova[2], addrs[2], PERM_RW);
	CHECK_STATUS(ivm_unmap_logical_range(d, la, 3), IVM_STATUS_SUCCESS);

	ivm_domain_destroy(&plain);
	ivm_domain_destroy(&pass);
	ivm_domain_destroy(&d);
}

/*
 * On a domain with an allocator a map owns its range before it installs
 * (map.c invariant 6), so the leaves after a table's first are stored, not
 * CASed.  Runs that cross from one leaf table into the next take the next
 * table's first leaf by CAS again; every page must translate, the leaf
 * flags must make one whole mapping (unmap as one, not in parts), and the
 * range must map again after the unmap.
 */
IVM_TEST(map_exclusive_runs_across_tables)
{
	struct ivm_domain *d = bb_domain_buddy(30, IVM_ALLOCATOR_ALLOW_EXPLICIT);
	const ivm_la two_mib = 2u << 20;
	uint64_t pfns[6] = { 0x700, 0x3, 0x702, 0x1234, 0x5, 0x8 };

	for (int round = 0; round < 2; round++) {
		/* An array of frames, 3 pages in each of two tables. */
		struct ivm_phys p = bb_pfns(pfns, 6);
		ivm_la ex = two_mib - 3 * PG, la = LA_SENTINEL;
		CHECK_STATUS(ivm_map_logical_range_ex(d, PERM_RW, &p, &ex, NULL,
						      NULL, &la),
			     IVM_STATUS_SUCCESS);
		for (unsigned i = 0; i < 6; i++)
			EXPECT_TR(d, ex + i * PG + 0x10, (pfns[i] << 12) + 0x10,
				  PERM_RW);
		EXPECT_UNMAPPED(d, ex - PG);
		EXPECT_UNMAPPED(d, ex + 6 * PG);

		/* A contiguous range across the next boundary. */
		p = bb_contig(FAKE_PA, 5 * PG);
		ex = 2 * two_mib - 2 * PG;
		CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p, &ex,
						      NULL, NULL, &la),
			     IVM_STATUS_SUCCESS);
		for (unsigned i = 0; i < 5; i++)
			EXPECT_TR(d, ex + i * PG, FAKE_PA + i * PG,
				  IVM_PERM_READ);
		/* An allocated array: the allocator's own block. */
		p = bb_pfns(pfns, 6);
		CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_WRITE, &p,
						      NULL, NULL, NULL, &la),
			     IVM_STATUS_SUCCESS);
		for (unsigned i = 0; i < 6; i++)
			EXPECT_TR(d, la + i * PG, pfns[i] << 12, IVM_PERM_WRITE);
		CHECK_EQ_U64(bb_stats(d).mappings, 3);
		CHECK_EQ_U64(bb_stats(d).mapped_pages, 17);

		/* One mapping each: a part of one is refused. */
		CHECK_STATUS(ivm_unmap_logical_range(d, two_mib - 3 * PG, 3),
			     IVM_STATUS_INVALID_PARAMETER);
		CHECK_STATUS(ivm_unmap_logical_range(d, two_mib, 3),
			     IVM_STATUS_INVALID_PARAMETER);
		CHECK_STATUS(ivm_unmap_logical_range(d, la, 5),
			     IVM_STATUS_INVALID_PARAMETER);
		CHECK_STATUS(ivm_unmap_logical_range(d, two_mib - 3 * PG, 6),
			     IVM_STATUS_SUCCESS);
		CHECK_STATUS(ivm_unmap_logical_range(d, 2 * two_mib - 2 * PG, 5),
			     IVM_STATUS_SUCCESS);
		CHECK_STATUS(ivm_unmap_logical_range(d, la, 6),
			     IVM_STATUS_SUCCESS);
		for (unsigned i = 0; i < 6; i++) {
			EXPECT_UNMAPPED(d, two_mib - 3 * PG + i * PG);
			EXPECT_UNMAPPED(d, la + i * PG);
		}
		CHECK_EQ_U64(bb_stats(d).mappings, 0);
		pfns[0] += 1; /* round 2 maps other frames at the same place */
	}
	ivm_domain_destroy(&d);
}

/*
 * The store path of an exclusive range is for 4 KiB leaves only: a 2 MiB
 * slot may hold an empty leaf table kept for reuse, which a large map must
 * find (and reclaim), not overwrite.  A 4 MiB map whose second 2 MiB slot
 * holds such a table gets two 2 MiB leaves, and the table is given back,
 * not lost (ASan's leak check would see a lost one at destroy).
 */
IVM_TEST(map_exclusive_large_leaves_meet_a_kept_table)
{
	struct ivm_domain *d = bb_domain_buddy(30, IVM_ALLOCATOR_ALLOW_EXPLICIT);
	const ivm_la two_mib = 2u << 20;
	const ivm_la base = 4 * two_mib;
	ivm_la ex, la;
	struct ivm_phys p = bb_contig(FAKE_PA, PG);

	/* A 4 KiB map in the second 2 MiB slot, then its unmap: the leaf
	 * table stays, empty. */
	ex = base + two_mib + 5 * PG;
	CHECK_STATUS(ivm_map_logical_range_ex(d, PERM_RW, &p, &ex, NULL, NULL,
					      &la),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_unmap_logical_range(d, ex, 1), IVM_STATUS_SUCCESS);
	struct ivm_domain_stats before = bb_stats(d);
	CHECK(before.pt_empty_tables >= 1);

	p = bb_contig(FAKE_PA, 2 * two_mib);
	ex = base;
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p, &ex, NULL,
					      NULL, &la),
		     IVM_STATUS_SUCCESS);
	EXPECT_TR(d, base, FAKE_PA, IVM_PERM_READ);
	EXPECT_TR(d, base + two_mib + 5 * PG + 7, FAKE_PA + two_mib + 5 * PG + 7,
		  IVM_PERM_READ);
	EXPECT_TR(d, base + 2 * two_mib - 1, FAKE_PA + 2 * two_mib - 1,
		  IVM_PERM_READ);
	struct ivm_domain_stats after = bb_stats(d);
	CHECK(after.pt_tables < before.pt_tables); /* the kept table went */
	CHECK_EQ_U64(after.mappings, 1);
	CHECK_EQ_U64(after.mapped_pages, 1024);
	CHECK_STATUS(ivm_unmap_logical_range(d, base, 1024), IVM_STATUS_SUCCESS);
	/* 4 KiB maps go there again. */
	p = bb_contig(FAKE_PA, PG);
	ex = base + two_mib + 5 * PG;
	CHECK_STATUS(ivm_map_logical_range_ex(d, PERM_RW, &p, &ex, NULL, NULL,
					      &la),
		     IVM_STATUS_SUCCESS);
	EXPECT_TR(d, ex, FAKE_PA, PERM_RW);
	ivm_domain_destroy(&d);
}

IVM_TEST(map_contiguous_highest_physical_page)
{
	struct ivm_domain *d = bb_domain_plain();
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, 0xFFFFFFFFFFFFF000ull, 1, 0x5000),
		     IVM_STATUS_SUCCESS);
	EXPECT_TR(d, 0x5FFF, UINT64_MAX, IVM_PERM_READ);
	EXPECT_TR(d, 0x5000, 0xFFFFFFFFFFFFF000ull, IVM_PERM_READ);
	ivm_domain_destroy(&d);
}

IVM_TEST(map_buffer_phys)
{
	struct ivm_domain *d = bb_domain_buddy(32, 0);
	uint8_t *buf = bb_pages(3);
	struct ivm_phys p = bb_buffer(buf, 3 * PG);
	ivm_la la = LA_SENTINEL;
	CHECK_STATUS(ivm_map_logical_range_ex(d, PERM_RW, &p, NULL, NULL, NULL,
					      &la),
		     IVM_STATUS_SUCCESS);
	for (uint64_t off = 0; off < 3 * PG; off += 0x7FF)
		EXPECT_TR(d, la + off, (uintptr_t)buf + off, PERM_RW);
	EXPECT_TR(d, la + 3 * PG - 1, (uintptr_t)buf + 3 * PG - 1, PERM_RW);
	EXPECT_UNMAPPED(d, la + 3 * PG);
	CHECK_STATUS(ivm_unmap_logical_range(d, la, 3), IVM_STATUS_SUCCESS);
	EXPECT_UNMAPPED(d, la);
	ivm_domain_destroy(&d);
	free(buf);
}

/* ---------------------------------------------------------------- */
/* Parameter 4: the explicit address                                 */

IVM_TEST(map_explicit_unaligned)
{
	struct ivm_domain *d = bb_domain_plain();
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0x1000),
		     IVM_STATUS_SUCCESS);
	struct bb_snap s = bb_snap_take(d, false);
	struct ivm_phys p = bb_contig(FAKE_PA, PG);
	const ivm_la bad[] = { 0x2001, 0x2800, 0x2FFF, 1, 0x1008 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_MAP(d, IVM_PERM_READ, &p, &bad[i], NULL, NULL,
			  IVM_STATUS_INVALID_PARAMETER_4);
	CHECK_UNCHANGED(d, s);
	EXPECT_UNMAPPED(d, 0x2000);
	EXPECT_TR(d, 0x1000, FAKE_PA, IVM_PERM_READ);
	ivm_domain_destroy(&d);
}

IVM_TEST(map_explicit_top_of_width)
{
	/* Default 48-bit space, no allocator. */
	struct ivm_domain *d = bb_domain_plain();
	const ivm_la top = (1ull << 48) - PG;
	struct bb_snap s = bb_snap_take(d, false);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 2, top),
		     IVM_STATUS_INVALID_PARAMETER_4);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 1ull << 48),
		     IVM_STATUS_INVALID_PARAMETER_4);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 1ull << 60),
		     IVM_STATUS_INVALID_PARAMETER_4);
	/* wraps around 2^64 */
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 2, 0xFFFFFFFFFFFFF000ull),
		     IVM_STATUS_INVALID_PARAMETER_4);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0xFFFFFFFFFFFFF000ull),
		     IVM_STATUS_INVALID_PARAMETER_4);
	CHECK_UNCHANGED(d, s);
	EXPECT_UNMAPPED(d, top);
	/* The last page itself is fine. */
	CHECK_STATUS(bb_map_at(d, PERM_RW, FAKE_PA, 1, top), IVM_STATUS_SUCCESS);
	EXPECT_TR(d, top, FAKE_PA, PERM_RW);
	EXPECT_TR(d, (1ull << 48) - 1, FAKE_PA + 0xFFF, PERM_RW);
	EXPECT_UNMAPPED(d, 1ull << 48);
	/* Two pages ending exactly at the top. */
	CHECK_STATUS(bb_map_at(d, PERM_RW, 0x1000000, 2, top - 2 * PG),
		     IVM_STATUS_SUCCESS);
	EXPECT_TR(d, top - 1, 0x1001FFF, PERM_RW);
	CHECK_STATUS(ivm_unmap_logical_range(d, top - 2 * PG, 3),
		     IVM_STATUS_SUCCESS);
	EXPECT_UNMAPPED(d, top);
	ivm_domain_destroy(&d);
}

IVM_TEST(map_explicit_top_of_width_63)
{
	struct ivm_domain *d = bb_domain_buddy(63, IVM_ALLOCATOR_ALLOW_EXPLICIT);
	const ivm_la top = (1ull << 63) - PG;
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 2, top),
		     IVM_STATUS_INVALID_PARAMETER_4);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 1ull << 63),
		     IVM_STATUS_INVALID_PARAMETER_4);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, top),
		     IVM_STATUS_SUCCESS);
	EXPECT_TR(d, (1ull << 63) - 1, FAKE_PA + 0xFFF, IVM_PERM_READ);
	EXPECT_UNMAPPED(d, 1ull << 63);
	EXPECT_UNMAPPED(d, UINT64_MAX);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, top),
		     IVM_STATUS_IN_USE);
	/* Allocation still starts at the bottom. */
	ivm_la la = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 1, NULL, NULL, &la),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(la, 0);
	ivm_domain_destroy(&d);
}

IVM_TEST(map_explicit_small_width)
{
	struct ivm_domain *d = bb_domain_noalloc(16);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0xF000),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 2, 0xE000),
		     IVM_STATUS_IN_USE);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 2, 0xF000),
		     IVM_STATUS_INVALID_PARAMETER_4);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0x10000),
		     IVM_STATUS_INVALID_PARAMETER_4);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 15, 0x0),
		     IVM_STATUS_SUCCESS);
	EXPECT_TR(d, 0xEFFF, FAKE_PA + 0xEFFF, IVM_PERM_READ);
	ivm_domain_destroy(&d);
}

/* ---------------------------------------------------------------- */
/* la_out                                                            */

IVM_TEST(map_la_out_null)
{
	struct ivm_domain *d = bb_domain_buddy(20, IVM_ALLOCATOR_ALLOW_EXPLICIT);
	struct bb_snap s = bb_snap_take(d, true);
	struct ivm_phys p = bb_contig(FAKE_PA, PG);
	ivm_la ex = 0x4000;
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p, NULL, NULL,
					      NULL, NULL),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p, &ex, NULL,
					      NULL, NULL),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_UNCHANGED(d, s);
	EXPECT_UNMAPPED(d, 0x4000);
	EXPECT_UNMAPPED(d, 0);
	ivm_domain_destroy(&d);

	d = bb_domain_plain();
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p, &ex, NULL,
					      NULL, NULL),
		     IVM_STATUS_INVALID_PARAMETER);
	EXPECT_UNMAPPED(d, 0x4000);
	CHECK_EQ_U64(bb_stats(d).mappings, 0);
	ivm_domain_destroy(&d);
}

/* ---------------------------------------------------------------- */
/* Argument-order precedence                                         */

IVM_TEST(map_precedence)
{
	struct ivm_domain *d = bb_domain_buddy(20, IVM_ALLOCATOR_ALLOW_EXPLICIT);
	struct ivm_domain *pt = bb_domain_passthrough();
	struct ivm_phys good = bb_contig(FAKE_PA, PG);
	struct ivm_phys bad = bb_contig(FAKE_PA + 1, PG);
	ivm_la ex_bad = 0x1234, ex_good = 0x4000;
	ivm_la mn = 0x8000, mx = 0x4000;       /* min > max */
	struct bb_snap s = bb_snap_take(d, true);
	/* 1 before 2 */
	CHECK_MAP(NULL, 4, &good, NULL, NULL, NULL, IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_MAP(pt, 4, &bad, &ex_bad, &mn, &mx, IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_map_logical_range_ex(pt, 4, NULL, NULL, NULL, NULL, NULL),
		     IVM_STATUS_INVALID_PARAMETER_1);
	/* 2 before 3 */
	CHECK_MAP(d, 4, &bad, NULL, NULL, NULL, IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_MAP(d, 0x10, NULL, &ex_bad, &mn, &mx, IVM_STATUS_INVALID_PARAMETER_2);
	/* 3 before 4 */
	CHECK_MAP(d, IVM_PERM_READ, &bad, &ex_bad, NULL, NULL,
		  IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_MAP(d, IVM_PERM_READ, NULL, &ex_bad, &mn, &mx,
		  IVM_STATUS_INVALID_PARAMETER_3);
	/* 4 before the window */
	CHECK_MAP(d, IVM_PERM_READ, &good, &ex_bad, &mn, &mx,
		  IVM_STATUS_INVALID_PARAMETER_4);
	/* the window before la_out */
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &good, NULL,
					      &mn, &mx, NULL),
		     IVM_STATUS_INVALID_PARAMETER_MIX);
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &good,
					      &ex_good, &mn, &mx, NULL),
		     IVM_STATUS_INVALID_PARAMETER_MIX);
	/* every earlier parameter before la_out */
	CHECK_STATUS(ivm_map_logical_range_ex(d, 4, &good, NULL, NULL, NULL,
					      NULL),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_map_logical_range_ex(d, 1, &bad, NULL, NULL, NULL,
					      NULL),
		     IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_STATUS(ivm_map_logical_range_ex(d, 1, &good, &ex_bad, NULL,
					      NULL, NULL),
		     IVM_STATUS_INVALID_PARAMETER_4);
	CHECK_UNCHANGED(d, s);
	EXPECT_UNMAPPED(d, 0x4000);
	ivm_domain_destroy(&d);
	ivm_domain_destroy(&pt);
}

/* ---------------------------------------------------------------- */
/* NOT_SUPPORTED and the allocator-less domain                       */

IVM_TEST(map_no_allocator_needs_explicit)
{
	struct ivm_domain *d = bb_domain_plain();
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0x7000),
		     IVM_STATUS_SUCCESS);
	struct bb_snap s = bb_snap_take(d, false);
	struct ivm_phys p = bb_contig(FAKE_PA, PG);
	ivm_la mn = 0x1000, mx = 0x10000;
	CHECK_MAP(d, IVM_PERM_READ, &p, NULL, NULL, NULL,
		  IVM_STATUS_NOT_SUPPORTED);
	CHECK_MAP(d, IVM_PERM_READ, &p, NULL, &mn, &mx,
		  IVM_STATUS_NOT_SUPPORTED);
	/* min/max are ignored without an allocator: even min > max. */
	CHECK_MAP(d, IVM_PERM_READ, &p, NULL, &mx, &mn,
		  IVM_STATUS_NOT_SUPPORTED);
	CHECK_UNCHANGED(d, s);
	EXPECT_TR(d, 0x7000, FAKE_PA, IVM_PERM_READ);
	ivm_domain_destroy(&d);
}

IVM_TEST(map_no_allocator_ignores_window)
{
	struct ivm_domain *d = bb_domain_plain();
	struct ivm_phys p = bb_contig(FAKE_PA, 2 * PG);
	ivm_la ex = 0x20000, mn = 0x1000, mx = 0x2000, o = LA_SENTINEL;
	/* explicit outside [min, max] */
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p, &ex, &mn,
					      &mx, &o),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(o, 0x20000);
	/* min > max */
	ex = 0x30000;
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p, &ex, &mx,
					      &mn, &o),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(o, 0x30000);
	/* window that could not hold the range */
	ex = 0x40000;
	mn = 0x40000;
	mx = 0x40FFF;
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p, &ex, &mn,
					      &mx, &o),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(o, 0x40000);
	EXPECT_TR(d, 0x41000, FAKE_PA + PG, IVM_PERM_READ);
	CHECK_EQ_U64(bb_stats(d).mappings, 3);
	ivm_domain_destroy(&d);
}

IVM_TEST(map_explicit_refused_by_buddy)
{
	struct ivm_domain *d = bb_domain_buddy(20, 0);
	ivm_la la0 = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 1, NULL, NULL, &la0),
		     IVM_STATUS_SUCCESS);
	struct bb_snap s = bb_snap_take(d, true);
	struct ivm_phys p = bb_contig(FAKE_PA, PG);
	ivm_la ex = 0x8000;
	CHECK_MAP(d, IVM_PERM_READ, &p, &ex, NULL, NULL, IVM_STATUS_NOT_SUPPORTED);
	ivm_la mn = 0, mx = 0xFFFFF;
	CHECK_MAP(d, IVM_PERM_READ, &p, &ex, &mn, &mx, IVM_STATUS_NOT_SUPPORTED);
	ex = 0;                            /* even where it would be free */
	CHECK_MAP(d, IVM_PERM_READ, &p, &ex, NULL, NULL, IVM_STATUS_NOT_SUPPORTED);
	CHECK_UNCHANGED(d, s);
	EXPECT_UNMAPPED(d, 0x8000);
	ivm_domain_destroy(&d);
}

IVM_TEST(map_explicit_accepted_and_in_use)
{
	struct ivm_domain *d = bb_domain_buddy(20, IVM_ALLOCATOR_ALLOW_EXPLICIT);
	/* explicit 2 pages at 0x10000 */
	CHECK_STATUS(bb_map_at(d, PERM_RW, FAKE_PA, 2, 0x10000),
		     IVM_STATUS_SUCCESS);
	EXPECT_TR(d, 0x11ABC, FAKE_PA + 0x1ABC, PERM_RW);
	/* an allocated 3-page mapping (rounded to 4) */
	ivm_la a = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, 0x900000, 3, NULL, NULL, &a),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(a, 0);

	struct bb_snap s = bb_snap_take(d, true);
	CHECK(s.next == 0x4000);
	/* full overlap */
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, 0x500000, 2, 0x10000),
		     IVM_STATUS_IN_USE);
	/* partial overlaps from either side, and covering */
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, 0x500000, 2, 0x11000),
		     IVM_STATUS_IN_USE);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, 0x500000, 2, 0xF000),
		     IVM_STATUS_IN_USE);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, 0x500000, 8, 0xC000),
		     IVM_STATUS_IN_USE);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, 0x500000, 1, 0x11000),
		     IVM_STATUS_IN_USE);
	/* over an allocated mapping, and over its unmapped rounding page */
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, 0x500000, 1, 0x1000),
		     IVM_STATUS_IN_USE);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, 0x500000, 1, 0x3000),
		     IVM_STATUS_IN_USE);
	CHECK_UNCHANGED(d, s);
	EXPECT_UNMAPPED(d, 0x3000);
	EXPECT_TR(d, 0x10000, FAKE_PA, PERM_RW);
	EXPECT_TR(d, 0x1000, 0x901000, IVM_PERM_READ);

	/* adjacent on both sides is fine */
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, 0x500000, 1, 0xF000),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, 0x600000, 1, 0x12000),
		     IVM_STATUS_SUCCESS);
	EXPECT_TR(d, 0xF000, 0x500000, IVM_PERM_READ);
	EXPECT_TR(d, 0x12000, 0x600000, IVM_PERM_READ);
	EXPECT_TR(d, 0x10000, FAKE_PA, PERM_RW);

	/* The allocator steers around explicit mappings. */
	ivm_la b = LA_SENTINEL;
	ivm_la mn = 0xC000, mx = 0x1FFFF;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, 0x700000, 4, &mn, &mx, &b),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(b, 0x14000);
	ivm_domain_destroy(&d);
}

IVM_TEST(map_explicit_after_allocated_unmap)
{
	/* An unmapped allocated range is free again, for explicit use too. */
	struct ivm_domain *d = bb_domain_buddy(20, IVM_ALLOCATOR_ALLOW_EXPLICIT);
	ivm_la a = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 2, NULL, NULL, &a),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_unmap_logical_range(d, a, 2), IVM_STATUS_SUCCESS);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_WRITE, 0x800000, 2, a),
		     IVM_STATUS_SUCCESS);
	EXPECT_TR(d, a + PG, 0x801000, IVM_PERM_WRITE);
	CHECK_EQ_U64(bb_stats(d).iova_used_pages, 2);
	ivm_domain_destroy(&d);
}

/* ---------------------------------------------------------------- */
/* The Buddy allocator: rounding, alignment, lowest first            */

IVM_TEST(buddy_rounding_and_alignment)
{
	struct ivm_domain *d = bb_domain_buddy(20, 0);
	ivm_la a = LA_SENTINEL, b = LA_SENTINEL, c = LA_SENTINEL,
	       e = LA_SENTINEL, f = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, PERM_RW, 0x100000, 1, NULL, NULL, &a),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(a, 0x0);
	CHECK_STATUS(bb_map_alloc(d, PERM_RW, 0x200000, 3, NULL, NULL, &b),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(b, 0x4000);                 /* 4 pages, 16 KiB aligned */
	CHECK_STATUS(bb_map_alloc(d, PERM_RW, 0x300000, 1, NULL, NULL, &c),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(c, 0x1000);                 /* lowest free page */
	CHECK_STATUS(bb_map_alloc(d, PERM_RW, 0x400000, 2, NULL, NULL, &e),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(e, 0x2000);
	CHECK_STATUS(bb_map_alloc(d, PERM_RW, 0x500000, 5, NULL, NULL, &f),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(f, 0x8000);                 /* 8 pages, 32 KiB aligned */
	struct ivm_domain_stats s = bb_stats(d);
	CHECK_EQ_U64(s.iova_used_pages, 1 + 4 + 1 + 2 + 8);
	CHECK_EQ_U64(s.mapped_pages, 1 + 3 + 1 + 2 + 5);
	CHECK_EQ_U64(s.mappings, 5);

	/* The rounding is never mapped. */
	EXPECT_TR(d, 0x6FFF, 0x202FFF, PERM_RW);
	EXPECT_UNMAPPED(d, 0x7000);
	EXPECT_TR(d, 0xCFFF, 0x504FFF, PERM_RW);
	EXPECT_UNMAPPED(d, 0xD000);
	EXPECT_UNMAPPED(d, 0xFFFF);

	/* Unmapping the rounding with it is covering unmapped pages. */
	struct bb_snap sn = bb_snap_take(d, true);
	CHECK_EQ_U64(sn.next, 0x10000);          /* the next free page */
	CHECK_STATUS(ivm_unmap_logical_range(d, b, 4),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_unmap_logical_range(d, f, 8),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_UNCHANGED(d, sn);
	EXPECT_TR(d, 0x4000, 0x200000, PERM_RW);

	/* The rounding comes back with the mapping. */
	CHECK_STATUS(ivm_unmap_logical_range(d, b, 3), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(bb_stats(d).iova_used_pages, 1 + 1 + 2 + 8);
	EXPECT_UNMAPPED(d, 0x4000);
	ivm_la g = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, PERM_RW, 0x600000, 4, NULL, NULL, &g),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(g, 0x4000);
	ivm_domain_destroy(&d);
}

IVM_TEST(buddy_alignment_of_large_blocks)
{
	struct ivm_domain *d = bb_domain_buddy(40, 0);
	ivm_la a = LA_SENTINEL, b = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, PERM_RW, FAKE_PA, 1, NULL, NULL, &a),
		     IVM_STATUS_SUCCESS);
	/* 513 pages round to 1024 pages = 4 MiB, aligned to 4 MiB. */
	CHECK_STATUS(bb_map_alloc(d, PERM_RW, 0x80000000ull, 513, NULL, NULL, &b),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(b, 0x400000);
	EXPECT_TR(d, b + 512 * PG + 7, 0x80000000ull + 512 * PG + 7, PERM_RW);
	EXPECT_UNMAPPED(d, b + 513 * PG);
	CHECK_EQ_U64(bb_stats(d).iova_used_pages, 1 + 1024);
	ivm_domain_destroy(&d);
}

IVM_TEST(buddy_exhaustion_and_reuse)
{
	struct ivm_domain *d = bb_domain_buddy(16, 0);      /* 16 pages */
	ivm_la la[16];
	for (unsigned i = 0; i < 16; i++) {
		la[i] = LA_SENTINEL;
		CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA + i * PG, 1,
					  NULL, NULL, &la[i]),
			     IVM_STATUS_SUCCESS);
		CHECK_EQ_U64(la[i], i * PG);
	}
	struct bb_snap s = bb_snap_take(d, true);
	CHECK_EQ_U64(s.next, BB_PROBE_FAILED);
	CHECK_EQ_U64(s.st.iova_used_pages, 16);
	struct ivm_phys p = bb_contig(FAKE_PA, PG);
	CHECK_MAP(d, IVM_PERM_READ, &p, NULL, NULL, NULL,
		  IVM_STATUS_INSUFFICIENT_RESOURCES);
	CHECK_UNCHANGED(d, s);
	for (unsigned i = 0; i < 16; i++)
		EXPECT_TR(d, la[i], FAKE_PA + i * PG, IVM_PERM_READ);

	/* Free one, get it back. */
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x7000, 1), IVM_STATUS_SUCCESS);
	ivm_la r = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, PERM_RW, 0x888000, 1, NULL, NULL, &r),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(r, 0x7000);
	EXPECT_TR(d, 0x7000, 0x888000, PERM_RW);

	/* Two free pages that are not an aligned pair cannot hold 2 pages. */
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x1000, 1), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x2000, 1), IVM_STATUS_SUCCESS);
	s = bb_snap_take(d, true);
	p = bb_contig(FAKE_PA, 2 * PG);
	CHECK_MAP(d, IVM_PERM_READ, &p, NULL, NULL, NULL,
		  IVM_STATUS_INSUFFICIENT_RESOURCES);
	CHECK_UNCHANGED(d, s);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x3000, 1), IVM_STATUS_SUCCESS);
	r = LA_SENTINEL;
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p, NULL, NULL,
					      NULL, &r),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(r, 0x2000);

	/* Unmap everything in one call: the mappings are adjacent and whole. */
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x2000, 14), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0, 1), IVM_STATUS_SUCCESS);
	struct ivm_domain_stats st = bb_stats(d);
	CHECK_EQ_U64(st.mappings, 0);
	CHECK_EQ_U64(st.iova_used_pages, 0);
	/* The whole space as one block. */
	p = bb_contig(FAKE_PA, 16 * PG);
	r = LA_SENTINEL;
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p, NULL, NULL,
					      NULL, &r),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(r, 0);
	ivm_domain_destroy(&d);
}

/* ---------------------------------------------------------------- */
/* min / max windows                                                  */

IVM_TEST(window_inclusive_bounds)
{
	struct ivm_domain *d = bb_domain_buddy(20, 0);
	ivm_la mn, mx, la;

	/* Exactly one page: [0x30000, 0x30FFF]. */
	mn = 0x30000;
	mx = 0x30FFF;
	la = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 1, &mn, &mx, &la),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(la, 0x30000);

	/* Unaligned min: the first aligned page at or above it. */
	mn = 0x20001;
	mx = 0x2FFFF;
	la = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 1, &mn, &mx, &la),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(la, 0x21000);

	/* Only max: the lowest address, block ends at or before max. */
	mx = 0x1FFF;
	la = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 2, NULL, &mx, &la),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(la, 0);

	/* Only min. */
	mn = 0x80000;
	la = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 3, &mn, NULL, &la),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(la, 0x80000);

	/* A max beyond the width is clamped. */
	mn = 0xF0000;
	mx = UINT64_MAX;
	la = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 16, &mn, &mx, &la),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(la, 0xF0000);
	EXPECT_TR(d, 0xFFFFF, FAKE_PA + 0xFFFF, IVM_PERM_READ);

	ivm_domain_destroy(&d);
}

IVM_TEST(window_mix)
{
	struct ivm_domain *d = bb_domain_buddy(20, 0);
	ivm_la keep = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 1, NULL, NULL, &keep),
		     IVM_STATUS_SUCCESS);
	struct bb_snap s = bb_snap_take(d, true);
	struct ivm_phys p1 = bb_contig(FAKE_PA, PG);
	struct ivm_phys p2 = bb_contig(FAKE_PA, 2 * PG);
	struct ivm_phys p3 = bb_contig(FAKE_PA, 3 * PG);
	ivm_la mn, mx;

	/* min > max */
	mn = 0x31000;
	mx = 0x30000;
	CHECK_MAP(d, IVM_PERM_READ, &p1, NULL, &mn, &mx,
		  IVM_STATUS_INVALID_PARAMETER_MIX);
	mn = 0x31000;
	mx = 0x30FFF;
	CHECK_MAP(d, IVM_PERM_READ, &p1, NULL, &mn, &mx,
		  IVM_STATUS_INVALID_PARAMETER_MIX);
	/* one byte short of a page */
	mn = 0x30000;
	mx = 0x30FFE;
	CHECK_MAP(d, IVM_PERM_READ, &p1, NULL, &mn, &mx,
		  IVM_STATUS_INVALID_PARAMETER_MIX);
	mn = 0x30001;
	mx = 0x30FFF;
	CHECK_MAP(d, IVM_PERM_READ, &p1, NULL, &mn, &mx,
		  IVM_STATUS_INVALID_PARAMETER_MIX);
	/* two pages, but no aligned pair inside */
	mn = 0x41000;
	mx = 0x42FFF;
	CHECK_MAP(d, IVM_PERM_READ, &p2, NULL, &mn, &mx,
		  IVM_STATUS_INVALID_PARAMETER_MIX);
	/* three pages round to four: a 12 KiB window is too small */
	mn = 0x40000;
	mx = 0x42FFF;
	CHECK_MAP(d, IVM_PERM_READ, &p3, NULL, &mn, &mx,
		  IVM_STATUS_INVALID_PARAMETER_MIX);
	/* min = max */
	mn = mx = 0x40000;
	CHECK_MAP(d, IVM_PERM_READ, &p1, NULL, &mn, &mx,
		  IVM_STATUS_INVALID_PARAMETER_MIX);
	/* max alone below one page */
	mx = 0xFFE;
	CHECK_MAP(d, IVM_PERM_READ, &p1, NULL, NULL, &mx,
		  IVM_STATUS_INVALID_PARAMETER_MIX);
	CHECK_UNCHANGED(d, s);
	for (ivm_la la = 0x30000; la < 0x44000; la += PG)
		EXPECT_UNMAPPED(d, la);
	ivm_domain_destroy(&d);
}

IVM_TEST(window_full_insufficient)
{
	struct ivm_domain *d = bb_domain_buddy(20, 0);
	ivm_la mn = 0x50000, mx = 0x51FFF, a = LA_SENTINEL, b = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 1, &mn, &mx, &a),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 1, &mn, &mx, &b),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(a, 0x50000);
	CHECK_EQ_U64(b, 0x51000);
	struct bb_snap s = bb_snap_take(d, true);
	CHECK_EQ_U64(s.next, 0);
	struct ivm_phys p = bb_contig(FAKE_PA, PG);
	CHECK_MAP(d, IVM_PERM_READ, &p, NULL, &mn, &mx,
		  IVM_STATUS_INSUFFICIENT_RESOURCES);
	/* A 2-page request fits the window only when it is empty. */
	p = bb_contig(FAKE_PA, 2 * PG);
	CHECK_MAP(d, IVM_PERM_READ, &p, NULL, &mn, &mx,
		  IVM_STATUS_INSUFFICIENT_RESOURCES);
	CHECK_UNCHANGED(d, s);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x50000, 2), IVM_STATUS_SUCCESS);
	ivm_la c = LA_SENTINEL;
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p, NULL, &mn,
					      &mx, &c),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(c, 0x50000);
	ivm_domain_destroy(&d);
}

IVM_TEST(window_with_explicit)
{
	struct ivm_domain *d = bb_domain_buddy(20, IVM_ALLOCATOR_ALLOW_EXPLICIT);
	struct bb_snap s = bb_snap_take(d, true);
	struct ivm_phys p1 = bb_contig(FAKE_PA, PG);
	struct ivm_phys p2 = bb_contig(FAKE_PA, 2 * PG);
	ivm_la mn = 0x60000, mx = 0x61FFF, ex;

	ex = 0x62000;                              /* outside */
	CHECK_MAP(d, IVM_PERM_READ, &p1, &ex, &mn, &mx,
		  IVM_STATUS_INVALID_PARAMETER_MIX);
	ex = 0x5F000;                              /* below */
	CHECK_MAP(d, IVM_PERM_READ, &p1, &ex, &mn, &mx,
		  IVM_STATUS_INVALID_PARAMETER_MIX);
	ex = 0x61000;                              /* straddles max */
	CHECK_MAP(d, IVM_PERM_READ, &p2, &ex, &mn, &mx,
		  IVM_STATUS_INVALID_PARAMETER_MIX);
	ex = 0x5F000;                              /* straddles min */
	CHECK_MAP(d, IVM_PERM_READ, &p2, &ex, &mn, &mx,
		  IVM_STATUS_INVALID_PARAMETER_MIX);
	ex = 0x60000;                              /* only max, outside */
	ivm_la mx2 = 0x60FFF;
	CHECK_MAP(d, IVM_PERM_READ, &p2, &ex, NULL, &mx2,
		  IVM_STATUS_INVALID_PARAMETER_MIX);
	ivm_la mn2 = 0x61000;                      /* only min, outside */
	CHECK_MAP(d, IVM_PERM_READ, &p1, &ex, &mn2, NULL,
		  IVM_STATUS_INVALID_PARAMETER_MIX);
	CHECK_MAP(d, IVM_PERM_READ, &p1, &ex, &mx, &mn,   /* min > max */
		  IVM_STATUS_INVALID_PARAMETER_MIX);
	CHECK_UNCHANGED(d, s);
	EXPECT_UNMAPPED(d, 0x60000);

	/* exactly the window, at an address not aligned to the size */
	ex = 0x61000;
	mn = 0x61000;
	mx = 0x62FFF;
	ivm_la o = LA_SENTINEL;
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p2, &ex, &mn,
					      &mx, &o),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(o, 0x61000);
	EXPECT_TR(d, 0x62FFF, FAKE_PA + 0x1FFF, IVM_PERM_READ);
	ivm_domain_destroy(&d);
}

/* ---------------------------------------------------------------- */
/* Unmap                                                              */

IVM_TEST(unmap_whole_mappings_only)
{
	struct ivm_domain *d = bb_domain_plain();
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, 0x100000, 2, 0x10000),
		     IVM_STATUS_SUCCESS);                   /* A */
	CHECK_STATUS(bb_map_at(d, PERM_RW, 0x200000, 3, 0x12000),
		     IVM_STATUS_SUCCESS);                   /* B, adjacent */
	CHECK_STATUS(bb_map_at(d, IVM_PERM_WRITE, 0x300000, 1, 0x20000),
		     IVM_STATUS_SUCCESS);                   /* C */
	struct bb_snap s = bb_snap_take(d, false);
	uint64_t syncs = s.st.backend_syncs;

	const struct { ivm_la la; uint64_t pages; } bad[] = {
		{ 0x10000, 1 },     /* cuts A */
		{ 0x11000, 1 },     /* cuts A */
		{ 0x11000, 4 },     /* tail of A + B */
		{ 0x10000, 4 },     /* A + part of B */
		{ 0x10000, 6 },     /* A + B + an unmapped page */
		{ 0xF000, 3 },      /* an unmapped page + A */
		{ 0xF000, 1 },      /* unmapped only */
		{ 0x30000, 1 },
		{ 0x12000, 2 },     /* head of B */
		{ 0x13000, 2 },     /* tail of B */
		{ 0x10000, 17 },    /* A + B + hole + C */
		{ 0x20000, 2 },     /* C + unmapped */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ivm_status st = ivm_unmap_logical_range(d, bad[i].la,
							bad[i].pages);
		if (st != IVM_STATUS_INVALID_PARAMETER) {
			fprintf(stderr, "  unmap(0x%" PRIx64 ", %" PRIu64
				") -> %s\n", bad[i].la, bad[i].pages,
				ivm_status_name(st));
			CHECK(0);
		}
	}
	CHECK_UNCHANGED(d, s);
	EXPECT_TR(d, 0x10000, 0x100000, IVM_PERM_READ);
	EXPECT_TR(d, 0x11FFF, 0x101FFF, IVM_PERM_READ);
	EXPECT_TR(d, 0x12000, 0x200000, PERM_RW);
	EXPECT_TR(d, 0x14FFF, 0x202FFF, PERM_RW);
	EXPECT_TR(d, 0x20000, 0x300000, IVM_PERM_WRITE);

	/* Two adjacent whole mappings in one call. */
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x10000, 5), IVM_STATUS_SUCCESS);
	for (ivm_la la = 0x10000; la < 0x15000; la += PG)
		EXPECT_UNMAPPED(d, la);
	EXPECT_TR(d, 0x20000, 0x300000, IVM_PERM_WRITE);
	struct ivm_domain_stats st = bb_stats(d);
	CHECK_EQ_U64(st.mappings, 1);
	CHECK_EQ_U64(st.mapped_pages, 1);
	CHECK(st.backend_syncs > syncs);
	/* Gone means gone: unmapping again fails. */
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x10000, 2),
		     IVM_STATUS_INVALID_PARAMETER);
	/* And the space is free again. */
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, 0x400000, 5, 0x10000),
		     IVM_STATUS_SUCCESS);
	ivm_domain_destroy(&d);
}

/* Map pa read-only at a and pb write-only at b (explicit addresses). */
static void map_read_write_pair(struct ivm_domain *d, const struct ivm_phys *pa,
				ivm_la a, const struct ivm_phys *pb, ivm_la b)
{
	ivm_la la = LA_SENTINEL;

	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, pa, &a, NULL,
					      NULL, &la),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_WRITE, pb, &b, NULL,
					      NULL, &la),
		     IVM_STATUS_SUCCESS);
}

/*
 * The unmap fast path for a mapping of several 4 KiB leaves in one table
 * (pt_take_mapping: claim the first leaf, check the rest in one pass,
 * clear them in another).  A whole table of leaves, and the table's last
 * two slots, each unmap as one; a range that is not exactly one mapping
 * (one page short, one page long into the next mapping, two mappings)
 * leaves the fast path with its claim undone, so the general path decides
 * and a later exact unmap still succeeds.
 */
IVM_TEST(unmap_run_of_leaves_in_one_table)
{
	struct ivm_domain *d = bb_domain_buddy(30, IVM_ALLOCATOR_ALLOW_EXPLICIT);
	const ivm_la table = 4u << 20; /* 2 MiB aligned: one leaf table */
	static uint64_t pfns[512];
	ivm_la la = LA_SENTINEL;

	for (unsigned i = 0; i < 512; i++)
		pfns[i] = 0x5000 + 3 * i; /* not contiguous: 4 KiB leaves */
	struct ivm_phys all = bb_pfns(pfns, 512);
	CHECK_STATUS(ivm_map_logical_range_ex(d, PERM_RW, &all, &table, NULL,
					      NULL, &la),
		     IVM_STATUS_SUCCESS);
	EXPECT_TR(d, table + 511 * PG + 7, (pfns[511] << 12) + 7, PERM_RW);
	struct bb_snap s = bb_snap_take(d, false);
	CHECK_STATUS(ivm_unmap_logical_range(d, table, 511),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_unmap_logical_range(d, table + PG, 511),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_UNCHANGED(d, s);
	CHECK_STATUS(ivm_unmap_logical_range(d, table, 512), IVM_STATUS_SUCCESS);
	EXPECT_UNMAPPED(d, table);
	EXPECT_UNMAPPED(d, table + 511 * PG);

	/* A (3 pages) and B (2 pages, the table's last slots), adjacent. */
	const ivm_la a = table + 507 * PG, b = table + 510 * PG;
	struct ivm_phys pa = bb_pfns(pfns, 3), pb = bb_pfns(pfns + 3, 2);
	map_read_write_pair(d, &pa, a, &pb, b);
	s = bb_snap_take(d, false);
	CHECK_STATUS(ivm_unmap_logical_range(d, a, 2),  /* A, one short */
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_unmap_logical_range(d, a, 4),  /* A + B's first */
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_unmap_logical_range(d, b, 3),  /* past the table */
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_unmap_logical_range(d, b + PG, 1),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_UNCHANGED(d, s);
	EXPECT_TR(d, a, pfns[0] << 12, IVM_PERM_READ);
	EXPECT_TR(d, b + PG, pfns[4] << 12, IVM_PERM_WRITE);
	/* B alone, at the table's end, then A. */
	CHECK_STATUS(ivm_unmap_logical_range(d, b, 2), IVM_STATUS_SUCCESS);
	EXPECT_UNMAPPED(d, b + PG);
	EXPECT_TR(d, a + 2 * PG, pfns[2] << 12, IVM_PERM_READ);
	CHECK_STATUS(ivm_unmap_logical_range(d, b, 2),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_unmap_logical_range(d, a, 3), IVM_STATUS_SUCCESS);
	/* Both again, unmapped together as a run of two mappings. */
	map_read_write_pair(d, &pa, a, &pb, b);
	CHECK_STATUS(ivm_unmap_logical_range(d, a, 5), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(bb_stats(d).mappings, 0);
	CHECK_EQ_U64(bb_stats(d).mapped_pages, 0);
	ivm_domain_destroy(&d);
}

IVM_TEST(unmap_argument_errors)
{
	struct ivm_domain *d = bb_domain_plain();
	struct ivm_domain *pt = bb_domain_passthrough();
	const ivm_la top = (1ull << 48) - PG;
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 2, 0x10000),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, top),
		     IVM_STATUS_SUCCESS);
	struct bb_snap s = bb_snap_take(d, false);

	CHECK_STATUS(ivm_unmap_logical_range(NULL, 0x10000, 2),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_unmap_logical_range(pt, 0x10000, 2),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x10001, 2),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x10800, 2),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x10000, 0),
		     IVM_STATUS_INVALID_PARAMETER_3);
	/* wraps 2^64 */
	CHECK_STATUS(ivm_unmap_logical_range(d, 0xFFFFFFFFFFFFF000ull, 2),
		     IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x10000, UINT64_MAX),
		     IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x10000, 1ull << 52),
		     IVM_STATUS_INVALID_PARAMETER_3);
	/* passes the width */
	CHECK_STATUS(ivm_unmap_logical_range(d, top, 2),
		     IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_STATUS(ivm_unmap_logical_range(d, 1ull << 48, 1),
		     IVM_STATUS_INVALID_PARAMETER_3);
	/* precedence */
	CHECK_STATUS(ivm_unmap_logical_range(NULL, 0x10001, 0),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x10001, 0),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0xFFFFFFFFFFFFF001ull, 2),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_UNCHANGED(d, s);
	EXPECT_TR(d, 0x10000, FAKE_PA, IVM_PERM_READ);
	EXPECT_TR(d, top + 0xFFF, FAKE_PA + 0xFFF, IVM_PERM_READ);
	/* the top page unmaps fine */
	CHECK_STATUS(ivm_unmap_logical_range(d, top, 1), IVM_STATUS_SUCCESS);
	EXPECT_UNMAPPED(d, top);
	ivm_domain_destroy(&d);
	ivm_domain_destroy(&pt);
}

IVM_TEST(unmap_refuses_other_families)
{
	struct ivm_domain *d = bb_domain_buddy(32, IVM_ALLOCATOR_ALLOW_EXPLICIT);
	struct ivm_phys id = bb_contig(0x40000, 2 * PG);
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &id),
		     IVM_STATUS_SUCCESS);
	struct ivm_reservation *r = NULL;
	CHECK_STATUS(ivm_reserve_logical_range(d, 4 * PG, NULL, NULL, NULL, &r),
		     IVM_STATUS_SUCCESS);
	ivm_la rbase = LA_SENTINEL, rla = LA_SENTINEL;
	CHECK_STATUS(ivm_reservation_base(r, &rbase, NULL), IVM_STATUS_SUCCESS);
	struct ivm_phys p = bb_contig(FAKE_PA, PG);
	CHECK_STATUS(ivm_map_reserved_logical_range(r, 0, PERM_RW, &p, &rla),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(rla, rbase);
	/* logical mapping adjacent to the identity one */
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0x42000),
		     IVM_STATUS_SUCCESS);
	struct bb_snap s = bb_snap_take(d, true);

	CHECK_STATUS(ivm_unmap_logical_range(d, 0x40000, 2),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x40000, 3),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_unmap_logical_range(d, rbase, 1),
		     IVM_STATUS_INVALID_PARAMETER);
	/* reserved but unmapped space */
	CHECK_STATUS(ivm_unmap_logical_range(d, rbase + PG, 1),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_UNCHANGED(d, s);
	EXPECT_TR(d, 0x40000, 0x40000, PERM_RW);
	EXPECT_TR(d, rbase, FAKE_PA, PERM_RW);
	EXPECT_TR(d, 0x42000, FAKE_PA, IVM_PERM_READ);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x42000, 1), IVM_STATUS_SUCCESS);
	ivm_domain_destroy(&d);
}

/* ---------------------------------------------------------------- */
/* Translate                                                          */

IVM_TEST(translate_offsets_and_errors)
{
	struct ivm_domain *d = bb_domain_plain();
	CHECK_STATUS(bb_map_at(d, IVM_PERM_WRITE, 0x12345000, 2, 0x8000),
		     IVM_STATUS_SUCCESS);
	for (uint64_t off = 0; off < 2 * PG; off += 0x1F3)
		EXPECT_TR(d, 0x8000 + off, 0x12345000 + off, IVM_PERM_WRITE);
	/* permissions_out is optional */
	uint64_t pa = 0;
	CHECK_STATUS(ivm_translate(d, 0x9FFF, &pa, NULL), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(pa, 0x12346FFF);
	/* errors */
	uint32_t perm = 77;
	pa = 99;
	CHECK_STATUS(ivm_translate(NULL, 0x8000, &pa, &perm),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_translate(d, 0x8000, NULL, &perm),
		     IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_STATUS(ivm_translate(d, 0x7FFF, &pa, &perm),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_translate(d, 0xA000, &pa, &perm),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_translate(d, 1ull << 48, &pa, &perm),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_translate(d, (1ull << 48) + 0x8000, &pa, &perm),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_translate(d, UINT64_MAX, &pa, &perm),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_translate(d, 0, &pa, &perm),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_EQ_U64(pa, 99);
	/* precedence */
	CHECK_STATUS(ivm_translate(NULL, 0x7FFF, NULL, NULL),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_translate(d, 0x7FFF, NULL, NULL),
		     IVM_STATUS_INVALID_PARAMETER_2);
	ivm_domain_destroy(&d);
}

IVM_TEST(translate_passthrough_identity)
{
	struct ivm_domain *pt = bb_domain_passthrough();
	const ivm_la las[] = { 0, 0x1000, 0x123456789ull, 0x7fffdeadbeefull };
	for (size_t i = 0; i < sizeof(las) / sizeof(las[0]); i++)
		EXPECT_TR(pt, las[i], las[i], PERM_RW);
	CHECK_STATUS(ivm_translate(pt, 0x1000, NULL, NULL),
		     IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_STATUS(ivm_translate(NULL, 0x1000, NULL, NULL),
		     IVM_STATUS_INVALID_PARAMETER_1);
	ivm_domain_destroy(&pt);
}

IVM_TEST(large_mappings)
{
	struct ivm_domain *d = bb_domain_plain();
	/* 4 MiB contiguous, both sides 2 MiB aligned. */
	const uint64_t pa = 0x80000000ull, la = 0x200000, sz = 4ull << 20;
	CHECK_STATUS(bb_map_at(d, PERM_RW, pa, sz / PG, la), IVM_STATUS_SUCCESS);
	const uint64_t offs[] = { 0, 1, 0x1234, 0xFFFFF, 0x1FFFFF, 0x200000,
				  0x2ABCDE, 0x3FF000, 0x3FFFFF };
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		EXPECT_TR(d, la + offs[i], pa + offs[i], PERM_RW);
	EXPECT_UNMAPPED(d, la - 1);
	EXPECT_UNMAPPED(d, la + sz);
	CHECK_EQ_U64(bb_stats(d).mapped_pages, sz / PG);

	/* 2 MiB aligned logical address, physical only 4 KiB aligned. */
	const uint64_t pa2 = 0x90001000ull, la2 = 0x40000000ull;
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, pa2, 1024, la2),
		     IVM_STATUS_SUCCESS);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		EXPECT_TR(d, la2 + offs[i], pa2 + offs[i], IVM_PERM_READ);

	/* 1 GiB + 2 MiB + 4 KiB, all aligned to 1 GiB. */
	const uint64_t pa3 = 0x4000000000ull, la3 = 0x80000000ull;
	const uint64_t sz3 = (1ull << 30) + (2ull << 20) + PG;
	CHECK_STATUS(bb_map_at(d, IVM_PERM_WRITE, pa3, sz3 / PG, la3),
		     IVM_STATUS_SUCCESS);
	const uint64_t offs3[] = { 0, 0x3FFFFFFF, 0x40000000, 0x401FFFFF,
				   0x40200000, 0x40200FFF, 0x12345678 };
	for (size_t i = 0; i < sizeof(offs3) / sizeof(offs3[0]); i++)
		EXPECT_TR(d, la3 + offs3[i], pa3 + offs3[i], IVM_PERM_WRITE);
	EXPECT_UNMAPPED(d, la3 + sz3);

	/* Partial unmaps of big leaves are refused like any other. */
	CHECK_STATUS(ivm_unmap_logical_range(d, la + 0x200000, 512),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_unmap_logical_range(d, la3, 1ull << 18),
		     IVM_STATUS_INVALID_PARAMETER);
	EXPECT_TR(d, la + 0x300000, pa + 0x300000, PERM_RW);
	EXPECT_TR(d, la3 + 5, pa3 + 5, IVM_PERM_WRITE);

	/* Unmap; then a single page in the middle of the old range. */
	CHECK_STATUS(ivm_unmap_logical_range(d, la, sz / PG), IVM_STATUS_SUCCESS);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		EXPECT_UNMAPPED(d, la + offs[i]);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, 0x5000, 1, la + 0x300000),
		     IVM_STATUS_SUCCESS);
	EXPECT_TR(d, la + 0x300010, 0x5010, IVM_PERM_READ);
	EXPECT_UNMAPPED(d, la + 0x2FF000);
	EXPECT_UNMAPPED(d, la + 0x301000);
	EXPECT_UNMAPPED(d, la);
	CHECK_STATUS(ivm_unmap_logical_range(d, la3, sz3 / PG),
		     IVM_STATUS_SUCCESS);
	EXPECT_UNMAPPED(d, la3 + 0x12345678);
	EXPECT_TR(d, la2 + 0x2ABCDE, pa2 + 0x2ABCDE, IVM_PERM_READ);
	ivm_domain_destroy(&d);
}

IVM_TEST(large_allocated_mapping)
{
	struct ivm_domain *d = bb_domain_buddy(40, 0);
	ivm_la a = LA_SENTINEL, b = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 1, NULL, NULL, &a),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(bb_map_alloc(d, PERM_RW, 0x80000000ull, 1024, NULL, NULL, &b),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(b, 4ull << 20);
	EXPECT_TR(d, b + 0x2ABCDE, 0x80000000ull + 0x2ABCDE, PERM_RW);
	CHECK_STATUS(ivm_unmap_logical_range(d, b, 1024), IVM_STATUS_SUCCESS);
	EXPECT_UNMAPPED(d, b + 0x2ABCDE);
	ivm_domain_destroy(&d);
}

IVM_TEST(remap_after_unmap_translates_new)
{
	struct ivm_domain *d = bb_domain_plain();
	for (int round = 0; round < 50; round++) {
		uint64_t pa = 0x1000000ull + (uint64_t)round * 0x10000;
		CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, pa, 3, 0x77000),
			     IVM_STATUS_SUCCESS);
		EXPECT_TR(d, 0x79123, pa + 0x2123, IVM_PERM_READ);
		CHECK_STATUS(ivm_unmap_logical_range(d, 0x77000, 3),
			     IVM_STATUS_SUCCESS);
		EXPECT_UNMAPPED(d, 0x79123);
	}
	struct ivm_domain_stats s = bb_stats(d);
	CHECK_EQ_U64(s.mappings, 0);
	CHECK_EQ_U64(s.mapped_pages, 0);
	ivm_domain_destroy(&d);
}

/* ---------------------------------------------------------------- */
/* More precedence: window problems found only when placing the range */

IVM_TEST(map_window_before_la_out)
{
	struct ivm_domain *d = bb_domain_buddy(20, IVM_ALLOCATOR_ALLOW_EXPLICIT);
	struct bb_snap s = bb_snap_take(d, true);
	struct ivm_phys p1 = bb_contig(FAKE_PA, PG);
	struct ivm_phys p3 = bb_contig(FAKE_PA, 3 * PG);
	ivm_la mn = 0x30000, mx = 0x30FFE, ex = 0x40000;
	/* window one byte short of a page (min <= max), la_out NULL */
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p1, NULL, &mn,
					      &mx, NULL),
		     IVM_STATUS_INVALID_PARAMETER_MIX);
	/* three pages round to four: a 12 KiB window cannot hold them */
	mn = 0x40000;
	mx = 0x42FFF;
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p3, NULL, &mn,
					      &mx, NULL),
		     IVM_STATUS_INVALID_PARAMETER_MIX);
	/* an explicit range outside the window */
	mn = 0x10000;
	mx = 0x1FFFF;
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p1, &ex, &mn,
					      &mx, NULL),
		     IVM_STATUS_INVALID_PARAMETER_MIX);
	CHECK_UNCHANGED(d, s);
	EXPECT_UNMAPPED(d, 0x40000);
	ivm_domain_destroy(&d);
}

/* ---------------------------------------------------------------- */
/* Every page-table depth: first and last page of each width          */

IVM_TEST(map_every_width_boundary)
{
	static const uint32_t widths[] = { 13, 14, 20, 21, 22, 30, 31, 32, 39,
					   40, 41, 47, 48, 49, 56, 57, 58, 62, 63 };
	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		const uint32_t w = widths[i];
		const ivm_la top = (1ull << w) - PG;
		struct ivm_domain *d = bb_domain_noalloc(w);
		CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, 0x111000, 1, 0),
			     IVM_STATUS_SUCCESS);
		CHECK_STATUS(bb_map_at(d, PERM_RW, 0x222000, 1, top),
			     IVM_STATUS_SUCCESS);
		CHECK_STATUS(bb_map_at(d, PERM_RW, 0x333000, 1, 1ull << w),
			     IVM_STATUS_INVALID_PARAMETER_4);
		CHECK_STATUS(bb_map_at(d, PERM_RW, 0x333000, 2, top),
			     IVM_STATUS_INVALID_PARAMETER_4);
		EXPECT_TR(d, 0xFFF, 0x111FFF, IVM_PERM_READ);
		EXPECT_TR(d, top + 0x800, 0x222800, PERM_RW);
		EXPECT_UNMAPPED(d, 1ull << w);
		if (w > 13)
			EXPECT_UNMAPPED(d, top - PG);
		CHECK_STATUS(ivm_unmap_logical_range(d, top, 2),
			     IVM_STATUS_INVALID_PARAMETER_3);
		CHECK_STATUS(ivm_unmap_logical_range(d, top, 1),
			     IVM_STATUS_SUCCESS);
		CHECK_STATUS(ivm_unmap_logical_range(d, 0, 1), IVM_STATUS_SUCCESS);
		EXPECT_UNMAPPED(d, top);
		EXPECT_UNMAPPED(d, 0);
		CHECK_EQ_U64(bb_stats(d).mappings, 0);
		ivm_domain_destroy(&d);
	}
}

IVM_TEST(buddy_width_13_two_pages)
{
	struct ivm_domain *d = bb_domain_buddy(13, 0);
	ivm_la a = LA_SENTINEL, b = LA_SENTINEL;
	struct ivm_phys p3 = bb_contig(FAKE_PA, 3 * PG);
	CHECK_MAP(d, IVM_PERM_READ, &p3, NULL, NULL, NULL,
		  IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 1, NULL, NULL, &a),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 1, NULL, NULL, &b),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(a, 0);
	CHECK_EQ_U64(b, 0x1000);
	struct ivm_phys p1 = bb_contig(FAKE_PA, PG);
	CHECK_MAP(d, IVM_PERM_READ, &p1, NULL, NULL, NULL,
		  IVM_STATUS_INSUFFICIENT_RESOURCES);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0, 2), IVM_STATUS_SUCCESS);
	struct ivm_phys p2 = bb_contig(FAKE_PA, 2 * PG);
	ivm_la c = LA_SENTINEL;
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p2, NULL, NULL,
					      NULL, &c),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(c, 0);
	EXPECT_TR(d, 0x1FFF, FAKE_PA + 0x1FFF, IVM_PERM_READ);
	ivm_domain_destroy(&d);
}

/* ---------------------------------------------------------------- */
/* Large leaves: whole-mapping rules and overlap detection            */

IVM_TEST(large_leaf_partial_unmap_refused)
{
	struct ivm_domain *d = bb_domain_plain();
	const ivm_la l2 = 0x200000, l1g = 0x40000000ull;
	/* exactly one 2 MiB leaf and exactly one 1 GiB leaf */
	CHECK_STATUS(bb_map_at(d, PERM_RW, 0x80000000ull, 512, l2),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, 0x4000000000ull, 1ull << 18, l1g),
		     IVM_STATUS_SUCCESS);
	struct bb_snap s = bb_snap_take(d, false);
	const struct { ivm_la la; uint64_t pages; } bad[] = {
		{ l2 + PG, 511 },        /* starts inside, ends at its end */
		{ l2, 511 },             /* starts at it, ends inside */
		{ l2 + PG, 1 },          /* inside */
		{ l2 + 0x100000, 256 },
		{ l2 - PG, 513 },        /* an unmapped page + it */
		{ l2, 513 },             /* it + an unmapped page */
		{ l1g + PG, (1ull << 18) - 1 },
		{ l1g, (1ull << 18) - 1 },
		{ l1g + 0x200000, 512 },
		{ l1g + 0x3FFFF000ull, 1 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ivm_status st = ivm_unmap_logical_range(d, bad[i].la, bad[i].pages);
		if (st != IVM_STATUS_INVALID_PARAMETER) {
			fprintf(stderr, "  unmap(0x%" PRIx64 ", %" PRIu64
				") -> %s\n", bad[i].la, bad[i].pages,
				ivm_status_name(st));
			CHECK(0);
		}
	}
	CHECK_UNCHANGED(d, s);
	for (uint64_t off = 0; off < 0x200000; off += 0x1F000)
		EXPECT_TR(d, l2 + off, 0x80000000ull + off, PERM_RW);
	EXPECT_TR(d, l2 + 0x1FFFFF, 0x801FFFFFull, PERM_RW);
	for (uint64_t off = 0; off < 0x40000000ull; off += 0x3F00000)
		EXPECT_TR(d, l1g + off, 0x4000000000ull + off, IVM_PERM_READ);
	EXPECT_TR(d, l1g + 0x3FFFFFFFull, 0x403FFFFFFFull, IVM_PERM_READ);
	CHECK_STATUS(ivm_unmap_logical_range(d, l2, 512), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_unmap_logical_range(d, l1g, 1ull << 18),
		     IVM_STATUS_SUCCESS);
	EXPECT_UNMAPPED(d, l2 + 0x1000);
	EXPECT_UNMAPPED(d, l1g + 0x12345678);
	ivm_domain_destroy(&d);
}

IVM_TEST(large_leaf_overlap_in_use)
{
	struct ivm_domain *d = bb_domain_plain();
	const ivm_la l2 = 0x600000;
	CHECK_STATUS(bb_map_at(d, PERM_RW, 0x80000000ull, 512, l2),
		     IVM_STATUS_SUCCESS);
	struct bb_snap s = bb_snap_take(d, false);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, l2 + 0x100000),
		     IVM_STATUS_IN_USE);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, l2 + 0x1FF000),
		     IVM_STATUS_IN_USE);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 2, l2 - PG),
		     IVM_STATUS_IN_USE);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 512, l2),
		     IVM_STATUS_IN_USE);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, 0x90000000ull, 1024, l2 - 0x200000),
		     IVM_STATUS_IN_USE);
	struct ivm_phys id = bb_contig(l2 + 0x10000, PG);
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &id), IVM_STATUS_IN_USE);
	struct ivm_reservation *r = NULL;
	ivm_la ex = l2 + 0x1F0000;
	CHECK_STATUS(ivm_reserve_logical_range(d, 32 * PG, &ex, NULL, NULL, &r),
		     IVM_STATUS_IN_USE);
	CHECK(r == NULL);
	CHECK_UNCHANGED(d, s);
	EXPECT_TR(d, l2 + 0x100000, 0x80100000ull, PERM_RW);
	EXPECT_UNMAPPED(d, l2 - PG);
	EXPECT_UNMAPPED(d, l2 + 0x200000);
	/* neighbours on both sides are fine */
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, l2 - PG),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, l2 + 0x200000),
		     IVM_STATUS_SUCCESS);
	EXPECT_TR(d, l2 + 0x1FFFFF, 0x801FFFFFull, PERM_RW);
	/* three adjacent whole mappings in one unmap */
	CHECK_STATUS(ivm_unmap_logical_range(d, l2 - PG, 514), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(bb_stats(d).mappings, 0);
	ivm_domain_destroy(&d);
}

/* ---------------------------------------------------------------- */
/* Unmapping runs of different kinds of logical mappings             */

IVM_TEST(unmap_mixed_run_returns_all_space)
{
	struct ivm_domain *d = bb_domain_buddy(20, IVM_ALLOCATOR_ALLOW_EXPLICIT);
	/* explicit page 3, then an allocated 3-page block at 4 (rounded) */
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, 0x100000, 1, 0x3000),
		     IVM_STATUS_SUCCESS);
	ivm_la mn = 0x4000, a = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, 0x200000, 3, &mn, NULL, &a),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(a, 0x4000);
	/* an allocated 2-page block at 8, then explicit page 10 */
	mn = 0x8000;
	ivm_la b = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, 0x300000, 2, &mn, NULL, &b),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(b, 0x8000);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, 0x400000, 1, 0xA000),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(bb_stats(d).iova_used_pages, 1 + 4 + 2 + 1);

	CHECK_STATUS(ivm_unmap_logical_range(d, 0x3000, 4), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(bb_stats(d).iova_used_pages, 2 + 1);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x8000, 3), IVM_STATUS_SUCCESS);
	struct ivm_domain_stats st = bb_stats(d);
	CHECK_EQ_U64(st.iova_used_pages, 0);
	CHECK_EQ_U64(st.mappings, 0);
	/* everything is one free space again: the whole 1 MiB in one block */
	ivm_la c = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 256, NULL, NULL, &c),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(c, 0);
	ivm_domain_destroy(&d);
}

IVM_TEST(explicit_unmap_returns_space)
{
	struct ivm_domain *d = bb_domain_buddy(16, IVM_ALLOCATOR_ALLOW_EXPLICIT);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 16, 0), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(bb_stats(d).iova_used_pages, 16);
	struct ivm_phys p = bb_contig(FAKE_PA, PG);
	CHECK_MAP(d, IVM_PERM_READ, &p, NULL, NULL, NULL,
		  IVM_STATUS_INSUFFICIENT_RESOURCES);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0, 16), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(bb_stats(d).iova_used_pages, 0);
	ivm_la la = LA_SENTINEL;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 16, NULL, NULL, &la),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(la, 0);
	ivm_domain_destroy(&d);
}

/* ---------------------------------------------------------------- */
/* Threads that never registered                                      */

struct thread_job {
	struct ivm_domain *d;
	ivm_status map_st, tr_st, unmap_st;
	uint64_t pa;
};

static void *unregistered_worker(void *arg)
{
	struct thread_job *j = arg;
	struct ivm_phys p = bb_contig(0x5550000, 2 * PG);
	ivm_la la = 0;
	j->map_st = ivm_map_logical_range_ex(j->d, IVM_PERM_READ, &p, NULL, NULL,
					     NULL, &la);
	j->tr_st = ivm_translate(j->d, la + PG + 3, &j->pa, NULL);
	j->unmap_st = ivm_unmap_logical_range(j->d, la, 2);
	return NULL;
}

IVM_TEST(calls_from_unregistered_threads)
{
	struct ivm_domain *d = bb_domain_buddy(32, 0);
	for (int i = 0; i < 4; i++) {
		struct thread_job j;
		memset(&j, 0, sizeof(j));
		j.d = d;
		pthread_t t;
		CHECK(pthread_create(&t, NULL, unregistered_worker, &j) == 0);
		CHECK(pthread_join(t, NULL) == 0);
		CHECK_STATUS(j.map_st, IVM_STATUS_SUCCESS);
		CHECK_STATUS(j.tr_st, IVM_STATUS_SUCCESS);
		CHECK_EQ_U64(j.pa, 0x5551003);
		CHECK_STATUS(j.unmap_st, IVM_STATUS_SUCCESS);
	}
	CHECK_EQ_U64(bb_stats(d).mappings, 0);
	ivm_domain_destroy(&d);
}

IVM_TEST_MAIN()
