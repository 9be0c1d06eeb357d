/* SPDX-License-Identifier: MIT */
/*
 * test_identity.c - ivm_map_identity_range_ex / ivm_unmap_identity_range_ex
 * on Translate domains (with and without an allocator) and PassThrough
 * domains.
 */
#include "bb_util.h"

IVM_TEST(identity_buffer_translate_domain)
{
	struct ivm_domain *d = bb_domain_plain();
	uint8_t *buf = bb_pages(3);
	const uint64_t va = (uintptr_t)buf;
	struct ivm_phys p = bb_buffer(buf, 3 * PG);
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &p), IVM_STATUS_SUCCESS);
	for (uint64_t off = 0; off < 3 * PG; off += 0x3FF)
		EXPECT_TR(d, va + off, va + off, PERM_RW);
	EXPECT_TR(d, va + 3 * PG - 1, va + 3 * PG - 1, PERM_RW);
	EXPECT_UNMAPPED(d, va + 3 * PG);
	EXPECT_UNMAPPED(d, va - 1);
	struct ivm_domain_stats s = bb_stats(d);
	CHECK_EQ_U64(s.mappings, 1);
	CHECK_EQ_U64(s.mapped_pages, 3);

	CHECK_STATUS(ivm_unmap_identity_range_ex(d, &p), IVM_STATUS_SUCCESS);
	EXPECT_UNMAPPED(d, va);
	EXPECT_UNMAPPED(d, va + 2 * PG);
	s = bb_stats(d);
	CHECK_EQ_U64(s.mappings, 0);
	CHECK_EQ_U64(s.mapped_pages, 0);
	/* again: nothing left to unmap */
	CHECK_STATUS(ivm_unmap_identity_range_ex(d, &p),
		     IVM_STATUS_INVALID_PARAMETER);
	ivm_domain_destroy(&d);
	free(buf);
}

IVM_TEST(identity_contiguous_permissions)
{
	struct ivm_domain *d = bb_domain_plain();
	struct ivm_phys r = bb_contig(0x123000, 2 * PG);
	struct ivm_phys w = bb_contig(0x200000, PG);
	struct ivm_phys n = bb_contig(0x300000, PG);
	CHECK_STATUS(ivm_map_identity_range_ex(d, IVM_PERM_READ, &r),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_map_identity_range_ex(d, IVM_PERM_WRITE, &w),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_map_identity_range_ex(d, 0, &n), IVM_STATUS_SUCCESS);
	EXPECT_TR(d, 0x124FFF, 0x124FFF, IVM_PERM_READ);
	EXPECT_TR(d, 0x200ABC, 0x200ABC, IVM_PERM_WRITE);
	EXPECT_TR(d, 0x300000, 0x300000, 0);
	ivm_domain_destroy(&d);
}

IVM_TEST(identity_in_use)
{
	struct ivm_domain *d = bb_domain_plain();
	uint8_t *buf = bb_pages(4);
	const uint64_t va = (uintptr_t)buf;
	/* a logical mapping on the buffer's second page */
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, va + PG),
		     IVM_STATUS_SUCCESS);
	/* an identity mapping on its fourth page */
	struct ivm_phys last = bb_buffer(buf + 3 * PG, PG);
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &last),
		     IVM_STATUS_SUCCESS);
	struct bb_snap s = bb_snap_take(d, false);

	struct ivm_phys p = bb_buffer(buf, 4 * PG);             /* covers both */
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &p), IVM_STATUS_IN_USE);
	p = bb_buffer(buf, 2 * PG);                             /* partly mapped */
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &p), IVM_STATUS_IN_USE);
	p = bb_buffer(buf + PG, PG);                            /* fully mapped */
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &p), IVM_STATUS_IN_USE);
	p = bb_buffer(buf + 2 * PG, 2 * PG);                    /* partly identity */
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &p), IVM_STATUS_IN_USE);
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &last),
		     IVM_STATUS_IN_USE);                     /* the same again */
	struct ivm_phys c = bb_contig(va, 2 * PG);
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &c), IVM_STATUS_IN_USE);
	CHECK_UNCHANGED(d, s);
	EXPECT_UNMAPPED(d, va);
	EXPECT_UNMAPPED(d, va + 2 * PG);
	EXPECT_TR(d, va + PG, FAKE_PA, IVM_PERM_READ);
	EXPECT_TR(d, va + 3 * PG, va + 3 * PG, PERM_RW);

	/* the free pages around them are fine */
	p = bb_buffer(buf, PG);
	CHECK_STATUS(ivm_map_identity_range_ex(d, IVM_PERM_READ, &p),
		     IVM_STATUS_SUCCESS);
	p = bb_buffer(buf + 2 * PG, PG);
	CHECK_STATUS(ivm_map_identity_range_ex(d, IVM_PERM_READ, &p),
		     IVM_STATUS_SUCCESS);
	EXPECT_TR(d, va + 2 * PG + 8, va + 2 * PG + 8, IVM_PERM_READ);
	ivm_domain_destroy(&d);
	free(buf);
}

IVM_TEST(identity_pfn_not_supported)
{
	struct ivm_domain *d = bb_domain_plain();
	struct ivm_domain *pt = bb_domain_passthrough();
	static const uint64_t pfns[2] = { 0x100, 0x101 };
	struct ivm_phys p = bb_pfns(pfns, 2);
	struct bb_snap s = bb_snap_take(d, false);
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &p),
		     IVM_STATUS_NOT_SUPPORTED);
	CHECK_STATUS(ivm_unmap_identity_range_ex(d, &p), IVM_STATUS_NOT_SUPPORTED);
	CHECK_STATUS(ivm_map_identity_range_ex(pt, PERM_RW, &p),
		     IVM_STATUS_NOT_SUPPORTED);
	CHECK_STATUS(ivm_unmap_identity_range_ex(pt, &p),
		     IVM_STATUS_NOT_SUPPORTED);
	CHECK_UNCHANGED(d, s);
	EXPECT_UNMAPPED(d, 0x100000);
	ivm_domain_destroy(&d);
	ivm_domain_destroy(&pt);
}

IVM_TEST(identity_map_argument_errors)
{
	struct ivm_domain *d = bb_domain_noalloc(16);
	uint8_t *buf = bb_pages(1);
	struct ivm_phys good = bb_contig(0x4000, PG);
	struct ivm_phys bad = bb_contig(0x4800, PG);
	struct bb_snap s = bb_snap_take(d, false);

	CHECK_STATUS(ivm_map_identity_range_ex(NULL, PERM_RW, &good),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_map_identity_range_ex(NULL, 8, NULL),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_map_identity_range_ex(d, 4, &good),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_map_identity_range_ex(d, 0xFFFFFFFFu, &bad),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, NULL),
		     IVM_STATUS_INVALID_PARAMETER_3);

	struct ivm_phys m[8];
	size_t n = 0;
	m[n++] = bad;                                   /* unaligned */
	m[n++] = bb_contig(0x4000, 0);                  /* empty */
	m[n++] = bb_contig(0x4000, 100);                /* not a page multiple */
	m[n++] = bb_contig(0xFFFFFFFFFFFFF000ull, 2 * PG); /* wraps */
	m[n++] = bb_contig(0xF000, 2 * PG);             /* passes the width */
	m[n++] = bb_contig(0x10000, PG);
	m[n++] = bb_buffer(buf + 1, PG);
	m[n] = good;
	m[n++].type = (enum ivm_phys_type)5;            /* unknown type */
	for (size_t i = 0; i < n; i++) {
		ivm_status st = ivm_map_identity_range_ex(d, PERM_RW, &m[i]);
		if (st != IVM_STATUS_INVALID_PARAMETER_3) {
			fprintf(stderr, "  malformed #%zu -> %s\n", i,
				ivm_status_name(st));
			CHECK(0);
		}
	}
	/* The buffer lives far above a 16-bit space. */
	struct ivm_phys b = bb_buffer(buf, PG);
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &b),
		     IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_UNCHANGED(d, s);
	EXPECT_UNMAPPED(d, 0x4000);
	EXPECT_UNMAPPED(d, 0xF000);
	/* the last page of the width is fine */
	struct ivm_phys top = bb_contig(0xF000, PG);
	CHECK_STATUS(ivm_map_identity_range_ex(d, IVM_PERM_READ, &top),
		     IVM_STATUS_SUCCESS);
	EXPECT_TR(d, 0xFFFF, 0xFFFF, IVM_PERM_READ);
	ivm_domain_destroy(&d);
	free(buf);
}

IVM_TEST(identity_unmap_whole_only)
{
	struct ivm_domain *d = bb_domain_plain();
	struct ivm_phys a = bb_contig(0x200000, 2 * PG);
	struct ivm_phys b = bb_contig(0x202000, 3 * PG);         /* adjacent */
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &a), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &b), IVM_STATUS_SUCCESS);
	struct bb_snap s = bb_snap_take(d, false);

	const struct { uint64_t base, pages; } bad[] = {
		{ 0x200000, 1 },       /* cuts a */
		{ 0x201000, 1 },
		{ 0x200000, 3 },       /* a + part of b */
		{ 0x1FF000, 3 },       /* unmapped + a */
		{ 0x200000, 6 },       /* a + b + unmapped */
		{ 0x203000, 2 },       /* tail of b */
		{ 0x300000, 1 },       /* nothing */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ivm_phys p = bb_contig(bad[i].base, bad[i].pages * PG);
		ivm_status st = ivm_unmap_identity_range_ex(d, &p);
		if (st != IVM_STATUS_INVALID_PARAMETER) {
			fprintf(stderr, "  unmap identity #%zu -> %s\n", i,
				ivm_status_name(st));
			CHECK(0);
		}
	}
	CHECK_UNCHANGED(d, s);
	EXPECT_TR(d, 0x200000, 0x200000, PERM_RW);
	EXPECT_TR(d, 0x204FFF, 0x204FFF, PERM_RW);

	/* both at once */
	struct ivm_phys ab = bb_contig(0x200000, 5 * PG);
	CHECK_STATUS(ivm_unmap_identity_range_ex(d, &ab), IVM_STATUS_SUCCESS);
	EXPECT_UNMAPPED(d, 0x200000);
	EXPECT_UNMAPPED(d, 0x204FFF);
	CHECK_EQ_U64(bb_stats(d).mappings, 0);
	ivm_domain_destroy(&d);
}

IVM_TEST(identity_unmap_argument_errors)
{
	struct ivm_domain *d = bb_domain_plain();
	struct ivm_phys a = bb_contig(0x200000, PG);
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &a), IVM_STATUS_SUCCESS);
	struct bb_snap s = bb_snap_take(d, false);
	CHECK_STATUS(ivm_unmap_identity_range_ex(NULL, &a),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_unmap_identity_range_ex(NULL, NULL),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_unmap_identity_range_ex(d, NULL),
		     IVM_STATUS_INVALID_PARAMETER_2);
	struct ivm_phys m = bb_contig(0x200010, PG);
	CHECK_STATUS(ivm_unmap_identity_range_ex(d, &m),
		     IVM_STATUS_INVALID_PARAMETER_2);
	m = bb_contig(0x200000, 0);
	CHECK_STATUS(ivm_unmap_identity_range_ex(d, &m),
		     IVM_STATUS_INVALID_PARAMETER_2);
	m = bb_contig(0x200000, 10);
	CHECK_STATUS(ivm_unmap_identity_range_ex(d, &m),
		     IVM_STATUS_INVALID_PARAMETER_2);
	m = bb_contig(0xFFFFFFFFFFFFF000ull, 2 * PG);
	CHECK_STATUS(ivm_unmap_identity_range_ex(d, &m),
		     IVM_STATUS_INVALID_PARAMETER_2);
	m = a;
	m.type = (enum ivm_phys_type)9;
	CHECK_STATUS(ivm_unmap_identity_range_ex(d, &m),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_UNCHANGED(d, s);
	EXPECT_TR(d, 0x200000, 0x200000, PERM_RW);
	ivm_domain_destroy(&d);
}

IVM_TEST(identity_families_do_not_mix)
{
	struct ivm_domain *d = bb_domain_plain();
	/* a logical mapping that happens to be la == pa */
	CHECK_STATUS(bb_map_at(d, PERM_RW, 0x300000, 2, 0x300000),
		     IVM_STATUS_SUCCESS);
	struct ivm_phys id = bb_contig(0x400000, 2 * PG);
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &id),
		     IVM_STATUS_SUCCESS);
	struct bb_snap s = bb_snap_take(d, false);
	struct ivm_phys lg = bb_contig(0x300000, 2 * PG);
	CHECK_STATUS(ivm_unmap_identity_range_ex(d, &lg),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x400000, 2),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_UNCHANGED(d, s);
	EXPECT_TR(d, 0x300000, 0x300000, PERM_RW);
	EXPECT_TR(d, 0x400000, 0x400000, PERM_RW);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x300000, 2), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_unmap_identity_range_ex(d, &id), IVM_STATUS_SUCCESS);
	ivm_domain_destroy(&d);
}

IVM_TEST(identity_never_handed_out_by_allocator)
{
	struct ivm_domain *d = bb_domain_buddy(16, 0);       /* 16 pages */
	struct ivm_phys id = bb_contig(0x4000, 2 * PG);
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &id), IVM_STATUS_SUCCESS);
	int got = 0;
	for (int i = 0; i < 20; i++) {
		ivm_la la = 0;
		ivm_status st = bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 1,
					     NULL, NULL, &la);
		if (st != IVM_STATUS_SUCCESS) {
			CHECK_STATUS(st, IVM_STATUS_INSUFFICIENT_RESOURCES);
			break;
		}
		got++;
		CHECK(la < 0x4000 || la >= 0x6000);
	}
	CHECK(got == 14);
	EXPECT_TR(d, 0x4000, 0x4000, PERM_RW);
	EXPECT_TR(d, 0x5FFF, 0x5FFF, PERM_RW);
	/* Once unmapped, the range can be allocated again. */
	CHECK_STATUS(ivm_unmap_identity_range_ex(d, &id), IVM_STATUS_SUCCESS);
	ivm_la la = 0;
	struct ivm_phys two = bb_contig(FAKE_PA, 2 * PG);
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &two, NULL, NULL,
					      NULL, &la),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(la, 0x4000);
	ivm_domain_destroy(&d);
}

IVM_TEST(identity_in_use_with_allocator)
{
	struct ivm_reserved_region rr[1] = { { 0xC000, 2, false } };
	struct ivm_domain *d = bb_domain_full(IVM_DOMAIN_TRANSLATE, true,
					      IVM_ALLOCATOR_BUDDY, 16, 0, rr, 1);
	ivm_la a = 0;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 3, NULL, NULL, &a),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(a, 0);
	struct ivm_reservation *r = NULL;
	CHECK_STATUS(ivm_reserve_logical_range(d, 4 * PG, NULL, NULL, NULL, &r),
		     IVM_STATUS_SUCCESS);
	ivm_la rb = 0;
	CHECK_STATUS(ivm_reservation_base(r, &rb, NULL), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(rb, 0x4000);
	struct bb_snap s = bb_snap_take(d, true);
	CHECK_EQ_U64(s.next, 0x8000);

	struct ivm_phys p;
	p = bb_contig(0x1000, PG);                   /* mapped */
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &p), IVM_STATUS_IN_USE);
	p = bb_contig(0x3000, PG);                   /* rounding, handed out */
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &p), IVM_STATUS_IN_USE);
	p = bb_contig(0x5000, PG);                   /* reservation */
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &p), IVM_STATUS_IN_USE);
	p = bb_contig(0xD000, PG);                   /* reserved region */
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &p), IVM_STATUS_IN_USE);
	p = bb_contig(0x7000, 2 * PG);               /* straddles reservation end */
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &p), IVM_STATUS_IN_USE);
	CHECK_UNCHANGED(d, s);
	EXPECT_UNMAPPED(d, 0x3000);
	EXPECT_UNMAPPED(d, 0x5000);
	EXPECT_UNMAPPED(d, 0xD000);
	EXPECT_UNMAPPED(d, 0x8000);
	p = bb_contig(0x8000, PG);
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &p), IVM_STATUS_SUCCESS);
	EXPECT_TR(d, 0x8000, 0x8000, PERM_RW);
	ivm_domain_destroy(&d);
}

IVM_TEST(identity_passthrough)
{
	struct ivm_domain *pt = bb_domain_passthrough();
	uint8_t *buf = bb_pages(2);
	const uint64_t va = (uintptr_t)buf;
	struct ivm_phys p = bb_buffer(buf, 2 * PG);
	CHECK_STATUS(ivm_map_identity_range_ex(pt, IVM_PERM_READ, &p),
		     IVM_STATUS_SUCCESS);
	/* Nothing recorded: a PassThrough domain is identity everywhere,
	 * with read and write. */
	EXPECT_TR(pt, va + 5, va + 5, PERM_RW);
	EXPECT_TR(pt, va + 2 * PG, va + 2 * PG, PERM_RW);
	struct ivm_domain_stats s = bb_stats(pt);
	CHECK_EQ_U64(s.mappings, 0);
	CHECK_EQ_U64(s.mapped_pages, 0);
	/* Mapping again is no conflict: nothing was recorded. */
	CHECK_STATUS(ivm_map_identity_range_ex(pt, PERM_RW, &p),
		     IVM_STATUS_SUCCESS);
	struct ivm_phys c = bb_contig(0x123456000ull, 4 * PG);
	CHECK_STATUS(ivm_map_identity_range_ex(pt, PERM_RW, &c),
		     IVM_STATUS_SUCCESS);
	/* The arguments are still validated. */
	CHECK_STATUS(ivm_map_identity_range_ex(pt, 4, &p),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_map_identity_range_ex(pt, PERM_RW, NULL),
		     IVM_STATUS_INVALID_PARAMETER_3);
	struct ivm_phys m = bb_buffer(buf + 1, PG);
	CHECK_STATUS(ivm_map_identity_range_ex(pt, PERM_RW, &m),
		     IVM_STATUS_INVALID_PARAMETER_3);
	m = bb_contig(0x1000, 0);
	CHECK_STATUS(ivm_map_identity_range_ex(pt, PERM_RW, &m),
		     IVM_STATUS_INVALID_PARAMETER_3);
	CHECK_STATUS(ivm_unmap_identity_range_ex(pt, NULL),
		     IVM_STATUS_INVALID_PARAMETER_2);
	/* Unmapping mirrors mapping: nothing recorded, nothing to refuse. */
	CHECK_STATUS(ivm_unmap_identity_range_ex(pt, &p), IVM_STATUS_SUCCESS);
	EXPECT_TR(pt, va, va, PERM_RW);
	ivm_domain_destroy(&pt);
	free(buf);
}

IVM_TEST(identity_on_buddy_48)
{
	struct ivm_domain *d = bb_domain_buddy(48, 0);
	uint8_t *buf = bb_pages(2);
	const uint64_t va = (uintptr_t)buf;
	struct ivm_phys p = bb_buffer(buf, 2 * PG);
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &p), IVM_STATUS_SUCCESS);
	EXPECT_TR(d, va + PG + 3, va + PG + 3, PERM_RW);
	ivm_la la = 0;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 1, NULL, NULL, &la),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(la, 0);
	CHECK_STATUS(ivm_unmap_identity_range_ex(d, &p), IVM_STATUS_SUCCESS);
	EXPECT_UNMAPPED(d, va);
	ivm_domain_destroy(&d);
	free(buf);
}

IVM_TEST_MAIN()
