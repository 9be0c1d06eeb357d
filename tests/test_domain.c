/* SPDX-License-Identifier: MIT */
/*
 * test_domain.c - ivm_domain_create / destroy and their configuration
 * errors, available types, reserved regions, stats, fault handler and
 * thread calls, through the public API only.
 */
#include "bb_util.h"

/* Create with @cfg and expect @want; on failure *out stays untouched. */
#define CHECK_CREATE(cfgp, want)                                           \
	do {                                                               \
		struct ivm_domain *cd_ = (struct ivm_domain *)(uintptr_t)0x1234; \
		ivm_status cst_ = ivm_domain_create((cfgp), &cd_);         \
		CHECK_STATUS(cst_, (want));                                \
		if (cst_ == IVM_STATUS_SUCCESS) {                          \
			CHECK(cd_ != (struct ivm_domain *)(uintptr_t)0x1234); \
			CHECK(cd_ != NULL);                                \
			ivm_domain_destroy(&cd_);                          \
			CHECK(cd_ == NULL);                                \
		} else {                                                   \
			CHECK(cd_ == (struct ivm_domain *)(uintptr_t)0x1234); \
		}                                                          \
	} while (0)

static struct ivm_domain_config zero_cfg(void)
{
	struct ivm_domain_config c;
	memset(&c, 0, sizeof(c));
	return c;
}

IVM_TEST(create_default_and_destroy)
{
	struct ivm_domain_config cfg = zero_cfg();
	struct ivm_domain *d = NULL;
	CHECK_STATUS(ivm_domain_create(&cfg, &d), IVM_STATUS_SUCCESS);
	CHECK(d != NULL);
	/* Zeroed config: Translate, no allocator, 48-bit space. */
	ivm_la out = 0;
	struct ivm_phys p = bb_contig(FAKE_PA, PG);
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &p, NULL, NULL,
					      NULL, &out),
		     IVM_STATUS_NOT_SUPPORTED);
	ivm_la top = (1ull << 48) - PG;
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, top),
		     IVM_STATUS_SUCCESS);
	EXPECT_TR(d, top + 5, FAKE_PA + 5, IVM_PERM_READ);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 1ull << 48),
		     IVM_STATUS_INVALID_PARAMETER_4);
	ivm_domain_destroy(&d);
	CHECK(d == NULL);
}

IVM_TEST(destroy_null_safe)
{
	ivm_domain_destroy(NULL);
	struct ivm_domain *d = NULL;
	ivm_domain_destroy(&d);
	CHECK(d == NULL);
}

IVM_TEST(create_null_args)
{
	struct ivm_domain_config cfg = zero_cfg();
	struct ivm_domain *d = (struct ivm_domain *)(uintptr_t)0x1234;
	CHECK_STATUS(ivm_domain_create(NULL, &d),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK(d == (struct ivm_domain *)(uintptr_t)0x1234);
	CHECK_STATUS(ivm_domain_create(&cfg, NULL),
		     IVM_STATUS_INVALID_PARAMETER);
}

IVM_TEST(create_bad_type_and_flags)
{
	struct ivm_domain_config cfg = zero_cfg();
	cfg.type = (enum ivm_domain_type)3;
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_1);
	cfg.type = (enum ivm_domain_type)-1;
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_1);
	cfg.type = (enum ivm_domain_type)0x7fffffff;
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_1);

	cfg = zero_cfg();
	cfg.flags = 1;
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_2);
	cfg.flags = 1ull << 63;
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_2);

	/* Argument order: type before flags. */
	cfg.type = (enum ivm_domain_type)7;
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_1);
}

IVM_TEST(create_unmanaged_not_supported)
{
	struct ivm_domain_config cfg = zero_cfg();
	cfg.type = IVM_DOMAIN_UNMANAGED;
	CHECK_CREATE(&cfg, IVM_STATUS_NOT_SUPPORTED);
	cfg.type = IVM_DOMAIN_PASSTHROUGH;
	CHECK_CREATE(&cfg, IVM_STATUS_SUCCESS);
	cfg.type = IVM_DOMAIN_TRANSLATE;
	CHECK_CREATE(&cfg, IVM_STATUS_SUCCESS);
}

IVM_TEST(create_allocator_errors)
{
	struct ivm_allocator_config ac = { IVM_ALLOCATOR_BUDDY, 0, 0 };
	struct ivm_domain_config cfg = zero_cfg();
	cfg.allocator = &ac;

	CHECK_CREATE(&cfg, IVM_STATUS_SUCCESS);          /* width 0 = 48 */
	ac.type = (enum ivm_allocator_type)2;
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_3);
	ac.type = (enum ivm_allocator_type)-1;
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_3);

	ac.type = IVM_ALLOCATOR_BUDDY;
	const uint32_t bad_widths[] = { 1, 12, 64, 65, 200, 0xffffffffu };
	for (size_t i = 0; i < sizeof(bad_widths) / sizeof(bad_widths[0]); i++) {
		ac.address_width = bad_widths[i];
		CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_3);
	}
	const uint32_t good_widths[] = { 13, 14, 32, 48, 57, 63 };
	for (size_t i = 0; i < sizeof(good_widths) / sizeof(good_widths[0]); i++) {
		ac.address_width = good_widths[i];
		CHECK_CREATE(&cfg, IVM_STATUS_SUCCESS);
	}
	/* Width limits apply without an allocator as well. */
	ac.type = IVM_ALLOCATOR_NONE;
	ac.address_width = 12;
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_3);
	ac.address_width = 64;
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_3);
	ac.address_width = 13;
	CHECK_CREATE(&cfg, IVM_STATUS_SUCCESS);

	ac.type = IVM_ALLOCATOR_BUDDY;
	ac.address_width = 20;
	ac.flags = IVM_ALLOCATOR_ALLOW_EXPLICIT;
	CHECK_CREATE(&cfg, IVM_STATUS_SUCCESS);
	ac.flags = 2;
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_3);
	ac.flags = IVM_ALLOCATOR_ALLOW_EXPLICIT | 0x80000000u;
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_3);

	/* Argument order: flags (2) before allocator (3). */
	cfg.flags = 4;
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_2);
}

IVM_TEST(create_reserved_region_errors)
{
	struct ivm_allocator_config ac = { IVM_ALLOCATOR_BUDDY, 20, 0 };
	struct ivm_reserved_region rr[2];
	struct ivm_domain_config cfg = zero_cfg();
	cfg.allocator = &ac;
	cfg.reserved = rr;
	memset(rr, 0, sizeof(rr));

	cfg.reserved_count = 1;
	rr[0] = (struct ivm_reserved_region){ 0x4000, 2, false };
	CHECK_CREATE(&cfg, IVM_STATUS_SUCCESS);
	rr[0] = (struct ivm_reserved_region){ 0x4000, 0, false };      /* empty */
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_4);
	rr[0] = (struct ivm_reserved_region){ 0x4001, 1, false };      /* unaligned */
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_4);
	rr[0] = (struct ivm_reserved_region){ 0x4800, 1, true };
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_4);
	/* wraps 2^64 */
	rr[0] = (struct ivm_reserved_region){ 0xFFFFFFFFFFFFF000ull, 2, false };
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_4);
	rr[0] = (struct ivm_reserved_region){ 0x1000, UINT64_MAX, false };
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_4);
	rr[0] = (struct ivm_reserved_region){ 0x1000, 1ull << 52, false };
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_4);
	/* last page of the 20-bit width: fine; one more page passes it */
	rr[0] = (struct ivm_reserved_region){ (1ull << 20) - PG, 1, false };
	CHECK_CREATE(&cfg, IVM_STATUS_SUCCESS);
	rr[0] = (struct ivm_reserved_region){ (1ull << 20) - PG, 2, false };
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_4);
	rr[0] = (struct ivm_reserved_region){ 1ull << 20, 1, false };
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_4);
	/* whole space */
	rr[0] = (struct ivm_reserved_region){ 0, 256, false };
	CHECK_CREATE(&cfg, IVM_STATUS_SUCCESS);

	/* overlap */
	cfg.reserved_count = 2;
	rr[0] = (struct ivm_reserved_region){ 0x4000, 2, false };
	rr[1] = (struct ivm_reserved_region){ 0x6000, 2, true };       /* adjacent */
	CHECK_CREATE(&cfg, IVM_STATUS_SUCCESS);
	rr[1] = (struct ivm_reserved_region){ 0x5000, 2, false };
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_4);
	rr[1] = (struct ivm_reserved_region){ 0x3000, 2, false };
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_4);
	rr[1] = (struct ivm_reserved_region){ 0x4000, 2, false };      /* same */
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_4);
	rr[1] = (struct ivm_reserved_region){ 0x0000, 16, false };     /* contains */
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_4);
	/* second region bad while first is fine */
	rr[1] = (struct ivm_reserved_region){ 0x8000, 0, false };
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_4);

	/* NULL array with a count */
	cfg.reserved = NULL;
	cfg.reserved_count = 1;
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_4);
	cfg.reserved_count = 0;
	CHECK_CREATE(&cfg, IVM_STATUS_SUCCESS);

	/* Argument order: allocator (3) before regions (4). */
	cfg.reserved_count = 1;
	ac.address_width = 64;
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_3);

	/* Regions are checked against the default width without allocator. */
	cfg.allocator = NULL;
	cfg.reserved = rr;
	rr[0] = (struct ivm_reserved_region){ (1ull << 48) - PG, 1, false };
	CHECK_CREATE(&cfg, IVM_STATUS_SUCCESS);
	rr[0] = (struct ivm_reserved_region){ (1ull << 48) - PG, 2, false };
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER_4);
}

IVM_TEST(create_backend_and_iotlb_errors)
{
	struct ivm_domain_config cfg = zero_cfg();
	cfg.backend = (enum ivm_backend_type)2;
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER);
	cfg.backend = IVM_BACKEND_SWIOMMU;

	cfg.iotlb_sets = 3;
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER);
	cfg.iotlb_sets = 1;
	CHECK_CREATE(&cfg, IVM_STATUS_SUCCESS);
	cfg.iotlb_sets = 128;
	CHECK_CREATE(&cfg, IVM_STATUS_SUCCESS);
	cfg.iotlb_sets = 0;
	cfg.iotlb_ways = 17;
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER);
	cfg.iotlb_ways = 16;
	CHECK_CREATE(&cfg, IVM_STATUS_SUCCESS);
	cfg.iotlb_ways = 1;
	CHECK_CREATE(&cfg, IVM_STATUS_SUCCESS);
}

IVM_TEST(query_available_types)
{
	uint32_t mask = 0xdeadbeef;
	CHECK_STATUS(ivm_query_available_domain_types(&mask),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(mask, (1u << IVM_DOMAIN_TRANSLATE) |
			   (1u << IVM_DOMAIN_PASSTHROUGH));
	CHECK_STATUS(ivm_query_available_domain_types(NULL),
		     IVM_STATUS_INVALID_PARAMETER_1);
}

/* Fill a 16-page domain one page at a time: the reserved region never
 * comes back from the allocator, every other page does. */
IVM_TEST(reserved_region_never_allocated)
{
	struct ivm_reserved_region rr[2] = {
		{ 0x5000, 2, false },
		{ 0xC000, 1, true },
	};
	struct ivm_domain *d = bb_domain_full(IVM_DOMAIN_TRANSLATE, true,
					      IVM_ALLOCATOR_BUDDY, 16, 0, rr, 2);
	bool seen[16] = { false };
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
		CHECK(la % PG == 0 && la < 0x10000);
		CHECK(!(la >= 0x5000 && la < 0x7000));
		CHECK(la != 0xC000);
		if (la < 0x10000) {
			CHECK(!seen[la / PG]);
			seen[la / PG] = true;
		}
	}
	CHECK(got == 13);
	ivm_domain_destroy(&d);
}

IVM_TEST(reserved_region_should_map)
{
	struct ivm_reserved_region rr[1] = { { 0x6000, 2, true } };
	struct ivm_domain *d = bb_domain_full(IVM_DOMAIN_TRANSLATE, true,
					      IVM_ALLOCATOR_BUDDY, 16,
					      IVM_ALLOCATOR_ALLOW_EXPLICIT, rr, 1);
	EXPECT_TR(d, 0x6000, 0x6000, PERM_RW);
	EXPECT_TR(d, 0x7abc, 0x7abc, PERM_RW);
	EXPECT_UNMAPPED(d, 0x8000);
	EXPECT_UNMAPPED(d, 0x5fff);

	struct bb_snap s = bb_snap_take(d, true);
	CHECK(s.next != 0x6000 && s.next != 0x7000);
	/* No call removes it. */
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x6000, 2),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x6000, 1),
		     IVM_STATUS_INVALID_PARAMETER);
	struct ivm_phys p = bb_contig(0x6000, 2 * PG);
	CHECK(ivm_unmap_identity_range_ex(d, &p) != IVM_STATUS_SUCCESS);
	p = bb_contig(0x6000, PG);
	CHECK(ivm_unmap_identity_range_ex(d, &p) != IVM_STATUS_SUCCESS);
	/* Nor can anything be mapped over it. */
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0x7000),
		     IVM_STATUS_IN_USE);
	p = bb_contig(0x6000, PG);
	CHECK_STATUS(ivm_map_identity_range_ex(d, IVM_PERM_READ, &p),
		     IVM_STATUS_IN_USE);
	EXPECT_TR(d, 0x6000, 0x6000, PERM_RW);
	EXPECT_TR(d, 0x7fff, 0x7fff, PERM_RW);
	CHECK_UNCHANGED(d, s);
	ivm_domain_destroy(&d);
}

IVM_TEST(reserved_region_without_allocator)
{
	struct ivm_reserved_region rr[2] = {
		{ 0x100000, 4, false },
		{ 0x200000, 1, true },
	};
	struct ivm_domain *d = bb_domain_full(IVM_DOMAIN_TRANSLATE, false,
					      IVM_ALLOCATOR_NONE, 0, 0, rr, 2);
	EXPECT_UNMAPPED(d, 0x100000);
	EXPECT_TR(d, 0x200010, 0x200010, PERM_RW);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0x103000),
		     IVM_STATUS_IN_USE);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 2, 0xFF000),
		     IVM_STATUS_IN_USE);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0x200000),
		     IVM_STATUS_IN_USE);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0x104000),
		     IVM_STATUS_SUCCESS);
	EXPECT_UNMAPPED(d, 0x103000);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x200000, 1),
		     IVM_STATUS_INVALID_PARAMETER);
	EXPECT_TR(d, 0x200000, 0x200000, PERM_RW);
	ivm_domain_destroy(&d);
}

IVM_TEST(stats_move)
{
	struct ivm_domain *d = bb_domain_buddy(32, 0);
	struct ivm_domain_stats s0 = bb_stats(d);
	CHECK_EQ_U64(s0.mappings, 0);
	CHECK_EQ_U64(s0.mapped_pages, 0);
	CHECK_EQ_U64(s0.iova_used_pages, 0);
	CHECK_EQ_U64(s0.reservations, 0);
	CHECK_EQ_U64(s0.faults, 0);

	ivm_la a = 0, b = 0;
	CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA, 3, NULL, NULL, &a),
		     IVM_STATUS_SUCCESS);
	struct ivm_domain_stats s1 = bb_stats(d);
	CHECK_EQ_U64(s1.mappings, 1);
	CHECK_EQ_U64(s1.mapped_pages, 3);
	CHECK_EQ_U64(s1.iova_used_pages, 4);      /* rounding included */
	CHECK(s1.pt_tables > 0);
	CHECK(s1.pt_bytes >= s1.pt_tables * PG);

	CHECK_STATUS(bb_map_alloc(d, PERM_RW, FAKE_PA, 1, NULL, NULL, &b),
		     IVM_STATUS_SUCCESS);
	struct ivm_domain_stats s2 = bb_stats(d);
	CHECK_EQ_U64(s2.mappings, 2);
	CHECK_EQ_U64(s2.mapped_pages, 4);
	CHECK_EQ_U64(s2.iova_used_pages, 5);

	struct ivm_reservation *r = NULL;
	CHECK_STATUS(ivm_reserve_logical_range(d, 8 * PG, NULL, NULL, NULL, &r),
		     IVM_STATUS_SUCCESS);
	struct ivm_domain_stats s3 = bb_stats(d);
	CHECK_EQ_U64(s3.reservations, 1);
	CHECK_EQ_U64(s3.iova_used_pages, 13);
	CHECK_EQ_U64(s3.mappings, 2);

	CHECK_STATUS(ivm_unmap_logical_range(d, a, 3), IVM_STATUS_SUCCESS);
	struct ivm_domain_stats s4 = bb_stats(d);
	CHECK_EQ_U64(s4.mappings, 1);
	CHECK_EQ_U64(s4.mapped_pages, 1);
	CHECK_EQ_U64(s4.iova_used_pages, 9);
	CHECK(s4.backend_syncs > s3.backend_syncs);

	CHECK_STATUS(ivm_free_reserved_logical_range(&r), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_unmap_logical_range(d, b, 1), IVM_STATUS_SUCCESS);
	struct ivm_domain_stats s5 = bb_stats(d);
	CHECK_EQ_U64(s5.mappings, 0);
	CHECK_EQ_U64(s5.mapped_pages, 0);
	CHECK_EQ_U64(s5.iova_used_pages, 0);
	CHECK_EQ_U64(s5.reservations, 0);
	ivm_domain_destroy(&d);
}

IVM_TEST(stats_page_tables_grow_with_spread)
{
	struct ivm_domain *d = bb_domain_plain();
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0x1000),
		     IVM_STATUS_SUCCESS);
	struct ivm_domain_stats s1 = bb_stats(d);
	/* A page far away needs at least one more table at every level
	 * below the root. */
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0x7f0000000000ull),
		     IVM_STATUS_SUCCESS);
	struct ivm_domain_stats s2 = bb_stats(d);
	CHECK(s2.pt_tables >= s1.pt_tables + 3);
	CHECK(s2.pt_bytes > s1.pt_bytes);
	ivm_domain_destroy(&d);
}

IVM_TEST(stats_args)
{
	struct ivm_domain *d = bb_domain_plain();
	struct ivm_domain_stats s;
	CHECK_STATUS(ivm_domain_get_stats(NULL, &s),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_domain_get_stats(d, NULL),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_domain_get_stats(NULL, NULL),
		     IVM_STATUS_INVALID_PARAMETER_1);
	ivm_domain_destroy(&d);
}

static void dummy_handler(void *ctx, const struct ivm_fault *f)
{
	(void)ctx;
	(void)f;
}

IVM_TEST(fault_handler_args)
{
	struct ivm_domain *d = bb_domain_plain();
	CHECK_STATUS(ivm_domain_set_fault_handler(NULL, dummy_handler, NULL),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_domain_set_fault_handler(d, dummy_handler, d),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_domain_set_fault_handler(d, NULL, NULL),
		     IVM_STATUS_SUCCESS);
	ivm_domain_destroy(&d);
}

IVM_TEST(destroy_with_live_state)
{
	struct ivm_reserved_region rr[1] = { { 0x40000, 2, true } };
	struct ivm_domain *d = bb_domain_full(IVM_DOMAIN_TRANSLATE, true,
					      IVM_ALLOCATOR_BUDDY, 40,
					      IVM_ALLOCATOR_ALLOW_EXPLICIT, rr, 1);
	ivm_la la;
	for (int i = 0; i < 64; i++)
		CHECK_STATUS(bb_map_alloc(d, IVM_PERM_READ, FAKE_PA + i * PG,
					  1 + (i % 5), NULL, NULL, &la),
			     IVM_STATUS_SUCCESS);
	CHECK_STATUS(bb_map_at(d, PERM_RW, FAKE_PA, 600, 0x3F000000ull),
		     IVM_STATUS_SUCCESS);
	struct ivm_reservation *r1 = NULL, *r2 = NULL;
	CHECK_STATUS(ivm_reserve_logical_range(d, 16 * PG, NULL, NULL, NULL, &r1),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_reserve_logical_range(d, 4 * PG, NULL, NULL, NULL, &r2),
		     IVM_STATUS_SUCCESS);
	struct ivm_phys p = bb_contig(FAKE_PA, 2 * PG);
	CHECK_STATUS(ivm_map_reserved_logical_range(r1, 4 * PG, PERM_RW, &p, &la),
		     IVM_STATUS_SUCCESS);
	p = bb_contig(0x9000000, 4 * PG);
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &p),
		     IVM_STATUS_SUCCESS);
	ivm_domain_destroy(&d);
	CHECK(d == NULL);
}

IVM_TEST(thread_calls)
{
	CHECK_STATUS(ivm_thread_register(), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_thread_register(), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_quiescent(), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_thread_unregister(), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_thread_unregister(), IVM_STATUS_SUCCESS);
	/* Calls still work after unregistering (auto registration). */
	struct ivm_domain *d = bb_domain_plain();
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0x1000),
		     IVM_STATUS_SUCCESS);
	EXPECT_TR(d, 0x1000, FAKE_PA, IVM_PERM_READ);
	ivm_domain_destroy(&d);
}

IVM_TEST(large_reserved_regions)
{
	/* 2 MiB-aligned regions big enough for large leaves / markers */
	struct ivm_reserved_region rr[2] = {
		{ 0x200000, 512, false },
		{ 0x40000000ull, 1024, true },
	};
	struct ivm_domain *d = bb_domain_full(IVM_DOMAIN_TRANSLATE, false,
					      IVM_ALLOCATOR_NONE, 0, 0, rr, 2);
	struct bb_snap s = bb_snap_take(d, false);
	EXPECT_UNMAPPED(d, 0x300000);
	EXPECT_TR(d, 0x40123456ull, 0x40123456ull, PERM_RW);
	EXPECT_TR(d, 0x403FFFFFull, 0x403FFFFFull, PERM_RW);
	EXPECT_UNMAPPED(d, 0x40400000ull);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0x300000),
		     IVM_STATUS_IN_USE);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 2, 0x1FF000),
		     IVM_STATUS_IN_USE);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0x40300000ull),
		     IVM_STATUS_IN_USE);
	struct ivm_phys id = bb_contig(0x250000, PG);
	CHECK_STATUS(ivm_map_identity_range_ex(d, PERM_RW, &id), IVM_STATUS_IN_USE);
	struct ivm_reservation *r = NULL;
	ivm_la ex = 0x3F0000;
	CHECK_STATUS(ivm_reserve_logical_range(d, 32 * PG, &ex, NULL, NULL, &r),
		     IVM_STATUS_IN_USE);
	ex = 0x40200000ull;
	CHECK_STATUS(ivm_reserve_logical_range(d, PG, &ex, NULL, NULL, &r),
		     IVM_STATUS_IN_USE);
	CHECK(r == NULL);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x40000000ull, 1024),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_unmap_logical_range(d, 0x200000, 512),
		     IVM_STATUS_INVALID_PARAMETER);
	struct ivm_phys idr = bb_contig(0x40000000ull, 1024 * PG);
	CHECK(ivm_unmap_identity_range_ex(d, &idr) != IVM_STATUS_SUCCESS);
	CHECK_UNCHANGED(d, s);
	EXPECT_TR(d, 0x40000000ull, 0x40000000ull, PERM_RW);
	EXPECT_UNMAPPED(d, 0x3F0000);
	/* right next to them is free */
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0x1FF000),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0x400000),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(bb_map_at(d, IVM_PERM_READ, FAKE_PA, 1, 0x40400000ull),
		     IVM_STATUS_SUCCESS);
	ivm_domain_destroy(&d);
}

IVM_TEST(iotlb_geometry_limits)
{
	/* sets: a power of two up to IVM_IOTLB_MAX_SETS; ways: 1..16 */
	struct ivm_domain_config cfg = zero_cfg();
	cfg.iotlb_sets = IVM_IOTLB_MAX_SETS;
	cfg.iotlb_ways = 1;
	CHECK_CREATE(&cfg, IVM_STATUS_SUCCESS);
	cfg.iotlb_sets = IVM_IOTLB_MAX_SETS * 2;
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER);
	cfg.iotlb_sets = 1;
	cfg.iotlb_ways = 16;
	CHECK_CREATE(&cfg, IVM_STATUS_SUCCESS);
	cfg.iotlb_ways = 17;
	CHECK_CREATE(&cfg, IVM_STATUS_INVALID_PARAMETER);
}

IVM_TEST_MAIN()
