/* SPDX-License-Identifier: MIT */
/*
 * test_pagetable.c - white-box tests of the radix page table: leaf sizes,
 * counts and reclamation, markers, whole-mapping checks, undo on failure.
 */
#include <stdlib.h>

#include "check.h"
#include "mem.h"
#include "pagetable.h"
#include "rcu.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define PAGE IVM_PAGE_SIZE

static struct pt_source contiguous(uint64_t pa, bool large)
{
	struct pt_source s = {
		.base = pa,
		.flags = PT_READ | PT_WRITE |
			 ((uint64_t)PT_KIND_EXPLICIT << PT_KIND_SHIFT),
		.allow_large = large,
	};
	return s;
}

static uint64_t lookup(struct pagetable *pt, ivm_la la, unsigned *level)
{
	unsigned l = 99;
	ivm_rcu_read_lock();
	uint64_t e = pt_lookup(pt, la, &l);
	ivm_rcu_read_unlock();
	if (level)
		*level = l;
	return e;
}

/* Tables are retired through call_rcu; the count drops at retirement. */
IVM_TEST(levels_follow_width)
{
	struct pagetable pt;
	unsigned want[][2] = { { 13, 1 }, { 21, 1 }, { 22, 2 }, { 39, 3 },
			       { 48, 4 }, { 57, 5 }, { 63, 6 } };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		CHECK_STATUS(pt_init(&pt, want[i][0]), IVM_STATUS_SUCCESS);
		CHECK_EQ_U64(pt.levels, want[i][1]);
		CHECK_EQ_U64(pt_table_count(&pt), 1);
		pt_fini(&pt);
	}
}

IVM_TEST(small_pages_translate_and_reclaim)
{
	struct pagetable pt;
	CHECK_STATUS(pt_init(&pt, 48), IVM_STATUS_SUCCESS);
	struct pt_source s = contiguous(0x100000000ull, true);
	/* 3 pages at an address that forces 4 KiB leaves. */
	CHECK_STATUS(pt_install(&pt, 0x7000, 3, &s, false), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(pt_table_count(&pt), 4);
	unsigned level;
	uint64_t e = lookup(&pt, 0x8000, &level);
	CHECK(e & PT_PRESENT);
	CHECK_EQ_U64(level, 0);
	CHECK_EQ_U64(e & PT_ADDR_MASK, 0x100001000ull);
	CHECK(!(e & PT_FIRST) && !(e & PT_LAST));
	CHECK(lookup(&pt, 0x7000, NULL) & PT_FIRST);
	CHECK(lookup(&pt, 0x9000, NULL) & PT_LAST);
	CHECK_EQ_U64(lookup(&pt, 0x6000, NULL), 0);
	CHECK_EQ_U64(lookup(&pt, 0xa000, NULL), 0);
	CHECK(pt_check_whole(&pt, 0x7000, 3, 1u << PT_KIND_EXPLICIT, NULL, NULL));
	CHECK(!pt_check_whole(&pt, 0x7000, 2, 1u << PT_KIND_EXPLICIT, NULL, NULL));
	CHECK(!pt_check_whole(&pt, 0x8000, 2, 1u << PT_KIND_EXPLICIT, NULL, NULL));
	CHECK(!pt_check_whole(&pt, 0x7000, 4, 1u << PT_KIND_EXPLICIT, NULL, NULL));
	CHECK(!pt_check_whole(&pt, 0x7000, 3, 1u << PT_KIND_IDENTITY, NULL, NULL));
	pt_remove(&pt, 0x7000, 3, false);
	CHECK_EQ_U64(lookup(&pt, 0x8000, NULL), 0);
	/* Emptied tables stay linked for reuse: a second cycle allocates
	 * nothing. */
	CHECK_EQ_U64(pt_table_count(&pt), 4);
	CHECK_EQ_U64(pt_empty_count(&pt), 1);
	uint64_t allocs = ivm_mem_alloc_count();
	CHECK_STATUS(pt_install(&pt, 0x7000, 3, &s, false), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(pt_empty_count(&pt), 0);
	pt_remove(&pt, 0x7000, 3, false);
	CHECK_EQ_U64(ivm_mem_alloc_count(), allocs);
	/* A reclaim unlinks the whole empty chain, leaf table first. */
	CHECK_EQ_U64(pt_reclaim(&pt), 3);
	CHECK_EQ_U64(pt_table_count(&pt), 1);
	CHECK_EQ_U64(pt_empty_count(&pt), 0);
	CHECK(pt_range_empty(&pt, 0, 1ull << 36));
	ivm_rcu_synchronize();
	pt_fini(&pt);
}

IVM_TEST(large_leaves_where_aligned)
{
	struct pagetable pt;
	CHECK_STATUS(pt_init(&pt, 48), IVM_STATUS_SUCCESS);
	/* 1 GiB + 2 MiB + 4 KiB, all aligned: one 1G leaf, one 2M leaf,
	 * one 4K leaf. */
	uint64_t pages = (GiB + 2 * MiB + PAGE) / PAGE;
	struct pt_source s = contiguous(4 * GiB, true);
	CHECK_STATUS(pt_install(&pt, GiB, pages, &s, false), IVM_STATUS_SUCCESS);
	unsigned level;
	uint64_t e = lookup(&pt, GiB + 12345, &level);
	CHECK_EQ_U64(level, 2);
	CHECK_EQ_U64(e & PT_ADDR_MASK, 4 * GiB);
	e = lookup(&pt, 2 * GiB + MiB, &level);
	CHECK_EQ_U64(level, 1);
	CHECK_EQ_U64(e & PT_ADDR_MASK, 5 * GiB);
	e = lookup(&pt, 2 * GiB + 2 * MiB, &level);
	CHECK_EQ_U64(level, 0);
	CHECK(e & PT_LAST);
	/* root + L2 + L1 + L0 */
	CHECK_EQ_U64(pt_table_count(&pt), 4);
	/* A range cutting a large leaf is not whole. */
	CHECK(!pt_check_whole(&pt, GiB, 1, 1u << PT_KIND_EXPLICIT, NULL, NULL));
	CHECK(pt_check_whole(&pt, GiB, pages, 1u << PT_KIND_EXPLICIT, NULL, NULL));
	/* Misaligned physical address: 4 KiB leaves only. */
	struct pt_source m = contiguous(4 * GiB + PAGE, true);
	CHECK_STATUS(pt_install(&pt, 8 * GiB, 1024, &m, false), IVM_STATUS_SUCCESS);
	lookup(&pt, 8 * GiB + 3 * MiB, &level);
	CHECK_EQ_U64(level, 0);
	pt_remove(&pt, GiB, pages, false);
	pt_remove(&pt, 8 * GiB, 1024, false);
	pt_reclaim(&pt);
	CHECK_EQ_U64(pt_table_count(&pt), 1);
	ivm_rcu_synchronize();
	pt_fini(&pt);
}

IVM_TEST(overlap_is_in_use_and_undone)
{
	struct pagetable pt;
	CHECK_STATUS(pt_init(&pt, 48), IVM_STATUS_SUCCESS);
	struct pt_source a = contiguous(0x10000000, false);
	CHECK_STATUS(pt_install(&pt, 0x400000, 16, &a, false), IVM_STATUS_SUCCESS);
	uint64_t tables = pt_table_count(&pt);
	/* Starts before, overlaps the start: the first leaves are installed
	 * and then removed again. */
	struct pt_source b = contiguous(0x20000000, false);
	CHECK_STATUS(pt_install(&pt, 0x3f0000, 32, &b, false), IVM_STATUS_IN_USE);
	CHECK_EQ_U64(lookup(&pt, 0x3f0000, NULL), 0);
	CHECK_EQ_U64(lookup(&pt, 0x3ff000, NULL), 0);
	/* The leaf table the failed install created is left empty. */
	CHECK_EQ_U64(pt_table_count(&pt), tables + 1);
	CHECK_EQ_U64(pt_empty_count(&pt), 1);
	CHECK_EQ_U64(pt_reclaim(&pt), 1);
	CHECK_EQ_U64(pt_table_count(&pt), tables);
	/* Overlap across a table boundary from a fresh table. */
	CHECK_STATUS(pt_install(&pt, 0x40f000, 512, &b, false), IVM_STATUS_IN_USE);
	CHECK(pt_range_empty(&pt, 0x410000, 511));
	pt_reclaim(&pt);
	CHECK_EQ_U64(pt_table_count(&pt), tables);
	/* A 2 MiB leaf over existing small leaves is refused too. */
	struct pt_source big = contiguous(0x40000000, true);
	CHECK_STATUS(pt_install(&pt, 0x400000, 512, &big, false), IVM_STATUS_IN_USE);
	CHECK_EQ_U64(lookup(&pt, 0x400000, NULL) & PT_ADDR_MASK, 0x10000000);
	pt_remove(&pt, 0x400000, 16, false);
	pt_reclaim(&pt);
	CHECK_EQ_U64(pt_table_count(&pt), 1);
	ivm_rcu_synchronize();
	pt_fini(&pt);
}

IVM_TEST(markers_pin_tables)
{
	struct pagetable pt;
	CHECK_STATUS(pt_init(&pt, 39), IVM_STATUS_SUCCESS);
	struct pt_source mk = { .base = 0x200000, .marker = true };
	CHECK_STATUS(pt_install(&pt, 0x200000, 1024, &mk, false), IVM_STATUS_SUCCESS);
	uint64_t tables = pt_table_count(&pt);
	CHECK_EQ_U64(tables, 4); /* root + L1 + two L0 */
	CHECK_EQ_U64(lookup(&pt, 0x200000, NULL), 0);
	CHECK(!pt_range_empty(&pt, 0x200000, 1));
	/* A plain install over markers is refused. */
	struct pt_source s = contiguous(0x1000000, false);
	CHECK_STATUS(pt_install(&pt, 0x300000, 1, &s, false), IVM_STATUS_IN_USE);
	/* Replacing markers allocates nothing. */
	uint64_t allocs = ivm_mem_alloc_count();
	ivm_mem_fail_after(0);
	CHECK_STATUS(pt_install(&pt, 0x3ff000, 2, &s, true), IVM_STATUS_SUCCESS);
	ivm_mem_fail_after(-1);
	CHECK_EQ_U64(ivm_mem_alloc_count(), allocs);
	CHECK(lookup(&pt, 0x400000, NULL) & PT_LAST);
	CHECK(pt_check_whole(&pt, 0x3ff000, 2, 1u << PT_KIND_EXPLICIT, NULL, NULL));
	/* Replacing twice is IN_USE and leaves the first untouched. */
	CHECK_STATUS(pt_install(&pt, 0x3fe000, 2, &s, true), IVM_STATUS_IN_USE);
	CHECK_EQ_U64(lookup(&pt, 0x3fe000, NULL), 0);
	CHECK(lookup(&pt, 0x3ff000, NULL) & PT_FIRST);
	pt_remove(&pt, 0x3ff000, 2, true);
	CHECK_EQ_U64(pt_table_count(&pt), tables);
	CHECK_EQ_U64(lookup(&pt, 0x3ff000, NULL), 0);
	pt_remove(&pt, 0x200000, 1024, false);
	pt_reclaim(&pt);
	CHECK_EQ_U64(pt_table_count(&pt), 1);
	ivm_rcu_synchronize();
	pt_fini(&pt);
}

IVM_TEST(no_memory_changes_nothing)
{
	struct pagetable pt;
	CHECK_STATUS(pt_init(&pt, 48), IVM_STATUS_SUCCESS);
	struct pt_source s = contiguous(0x10000000, false);
	/* 600 pages at a 2 MiB boundary need two leaf tables, one level-1
	 * and one level-2 table: four allocations. */
	for (long k = 0; k < 5; k++) {
		ivm_mem_fail_after(k);
		ivm_status st = pt_install(&pt, 0x7fff0000000ull, 600, &s, false);
		ivm_mem_fail_after(-1);
		if (k < 4) {
			CHECK_STATUS(st, IVM_STATUS_INSUFFICIENT_RESOURCES);
			pt_reclaim(&pt);
			CHECK_EQ_U64(pt_table_count(&pt), 1);
			CHECK(pt_range_empty(&pt, 0x7fff0000000ull, 600));
		} else {
			CHECK_STATUS(st, IVM_STATUS_SUCCESS);
			CHECK_EQ_U64(pt_table_count(&pt), 5);
			pt_remove(&pt, 0x7fff0000000ull, 600, false);
		}
	}
	pt_reclaim(&pt);
	CHECK_EQ_U64(pt_table_count(&pt), 1);
	ivm_rcu_synchronize();
	pt_fini(&pt);
}

struct visit_log {
	int n;
	ivm_la la[4];
	uint64_t pages[4];
};

static void log_visit(void *ctx, ivm_la la, uint64_t pages, enum pt_kind kind)
{
	struct visit_log *v = ctx;
	if (v->n < 4) {
		v->la[v->n] = la;
		v->pages[v->n] = pages;
	}
	v->n++;
}

IVM_TEST(check_whole_visits_adjacent_mappings)
{
	struct pagetable pt;
	CHECK_STATUS(pt_init(&pt, 48), IVM_STATUS_SUCCESS);
	struct pt_source s = contiguous(0x10000000, false);
	CHECK_STATUS(pt_install(&pt, 0x1000, 2, &s, false), IVM_STATUS_SUCCESS);
	CHECK_STATUS(pt_install(&pt, 0x3000, 1, &s, false), IVM_STATUS_SUCCESS);
	CHECK_STATUS(pt_install(&pt, 0x4000, 5, &s, false), IVM_STATUS_SUCCESS);
	struct visit_log v = { 0 };
	CHECK(pt_check_whole(&pt, 0x1000, 8, 1u << PT_KIND_EXPLICIT, log_visit, &v));
	CHECK_EQ_U64(v.n, 3);
	CHECK_EQ_U64(v.la[1], 0x3000);
	CHECK_EQ_U64(v.pages[2], 5);
	CHECK(!pt_check_whole(&pt, 0x1000, 9, 1u << PT_KIND_EXPLICIT, NULL, NULL));
	CHECK(!pt_check_whole(&pt, 0x3000, 2, 1u << PT_KIND_EXPLICIT, NULL, NULL));
	pt_remove(&pt, 0x1000, 8, false);
	pt_reclaim(&pt);
	CHECK_EQ_U64(pt_table_count(&pt), 1);
	ivm_rcu_synchronize();
	pt_fini(&pt);
}

/* pt_take_mapping with frames: a run (and a single leaf) is taken only
 * when its first and last pages map the frames named; otherwise its claim
 * is undone and the mapping stays whole. */
IVM_TEST(take_mapping_checks_first_and_last_frames)
{
	struct pagetable pt;
	const uint64_t pa = 0x10000000;
	enum pt_kind kind;
	unsigned level;

	CHECK_STATUS(pt_init(&pt, 48), IVM_STATUS_SUCCESS);
	struct pt_source s = contiguous(pa, false);
	CHECK_STATUS(pt_install(&pt, 0x20000, 4, &s, false), IVM_STATUS_SUCCESS);
	CHECK_STATUS(pt_install(&pt, 0x30000, 1, &s, false), IVM_STATUS_SUCCESS);
	const unsigned kinds = 1u << PT_KIND_EXPLICIT;
	const uint64_t wrong_first[2] = { pa + PAGE, pa + 3 * PAGE };
	const uint64_t wrong_last[2] = { pa, pa + 2 * PAGE };
	const uint64_t right[2] = { pa, pa + 3 * PAGE };

	CHECK(!pt_take_mapping(&pt, 0x20000, 4, kinds, wrong_first, &kind));
	CHECK(!pt_take_mapping(&pt, 0x20000, 4, kinds, wrong_last, &kind));
	CHECK(!pt_take_mapping(&pt, 0x20000, 3, kinds, right, &kind));
	/* Untouched: the first leaf unclaimed, every page still mapped. */
	for (unsigned i = 0; i < 4; i++) {
		uint64_t e = lookup(&pt, 0x20000 + i * PAGE, &level);
		CHECK_EQ_U64(e & PT_ADDR_MASK, pa + i * PAGE);
		CHECK((e & PT_DYING) == 0);
	}
	CHECK(pt_take_mapping(&pt, 0x20000, 4, kinds, right, &kind));
	CHECK_EQ_U64(kind, PT_KIND_EXPLICIT);
	CHECK_EQ_U64(lookup(&pt, 0x20000, NULL), 0);
	CHECK_EQ_U64(lookup(&pt, 0x23000, NULL), 0);

	/* One leaf: first and last are the same frame. */
	const uint64_t one_wrong[2] = { pa, pa + PAGE };
	const uint64_t one_other[2] = { pa + PAGE, pa + PAGE };
	const uint64_t one[2] = { pa, pa };
	CHECK(!pt_take_mapping(&pt, 0x30000, 1, kinds, one_wrong, &kind));
	CHECK(!pt_take_mapping(&pt, 0x30000, 1, kinds, one_other, &kind));
	CHECK_EQ_U64(lookup(&pt, 0x30000, NULL) & PT_ADDR_MASK, pa);
	CHECK(pt_take_mapping(&pt, 0x30000, 1, kinds, one, &kind));
	CHECK_EQ_U64(lookup(&pt, 0x30000, NULL), 0);

	/* A 2 MiB leaf: its last page is the frame 2 MiB - 4 KiB on. */
	struct pt_source big = contiguous(0x40000000, true);
	const uint64_t big_pages = 2 * MiB / PAGE;
	CHECK_STATUS(pt_install(&pt, 2 * MiB, big_pages, &big, false),
		     IVM_STATUS_SUCCESS);
	lookup(&pt, 2 * MiB, &level);
	CHECK_EQ_U64(level, 1);
	const uint64_t big_first_only[2] = { 0x40000000, 0x40000000 };
	const uint64_t big_right[2] = { 0x40000000, 0x40000000 + 2 * MiB - PAGE };
	CHECK(!pt_take_mapping(&pt, 2 * MiB, big_pages, kinds, big_first_only,
			       &kind));
	CHECK(lookup(&pt, 2 * MiB + 5 * PAGE, NULL) != 0);
	CHECK(pt_take_mapping(&pt, 2 * MiB, big_pages, kinds, big_right, &kind));
	CHECK_EQ_U64(lookup(&pt, 2 * MiB, NULL), 0);
	pt_reclaim(&pt);
	ivm_rcu_synchronize();
	pt_fini(&pt);
}

/* 1 GiB in 4 KiB pages: dense tables cost about 8 bytes a page, and all
 * of it comes back after the unmap. */
IVM_TEST(one_gib_of_small_pages_comes_back)
{
	struct pagetable pt;
	CHECK_STATUS(pt_init(&pt, 48), IVM_STATUS_SUCCESS);
	uint64_t pages = GiB / PAGE;
	uint64_t *pfns = malloc(pages * sizeof(*pfns));
	for (uint64_t i = 0; i < pages; i++)
		pfns[i] = (pages - i) * 3; /* scattered frames: 4 KiB leaves */
	struct pt_source s = {
		.pfns = pfns,
		.flags = PT_READ | ((uint64_t)PT_KIND_EXPLICIT << PT_KIND_SHIFT),
		.allow_large = true,
	};
	CHECK_STATUS(pt_install(&pt, 16 * GiB, pages, &s, false), IVM_STATUS_SUCCESS);
	uint64_t bytes = pt_table_count(&pt) * PAGE;
	CHECK(bytes * 2 <= pages * 17); /* <= 8.5 bytes per page */
	CHECK_EQ_U64(lookup(&pt, 16 * GiB + 5 * PAGE + 7, NULL) & PT_ADDR_MASK,
		     (pages - 5) * 3 * PAGE);
	CHECK(pt_check_whole(&pt, 16 * GiB, pages, 1u << PT_KIND_EXPLICIT, NULL, NULL));
	/* 512 leaf tables go empty at once: the unmap path reclaims them
	 * by itself, without a trim. */
	pt_remove(&pt, 16 * GiB, pages, false);
	CHECK_EQ_U64(pt_table_count(&pt), 1);
	free(pfns);
	ivm_rcu_synchronize();
	pt_fini(&pt);
}

IVM_TEST(top_of_width)
{
	struct pagetable pt;
	CHECK_STATUS(pt_init(&pt, 32), IVM_STATUS_SUCCESS);
	struct pt_source s = contiguous(0x10000000, true);
	ivm_la last = (1ull << 32) - PAGE;
	CHECK_STATUS(pt_install(&pt, last, 1, &s, false), IVM_STATUS_SUCCESS);
	CHECK(lookup(&pt, last + 100, NULL) & PT_PRESENT);
	CHECK(pt_check_whole(&pt, last, 1, 1u << PT_KIND_EXPLICIT, NULL, NULL));
	CHECK(!pt_range_empty(&pt, last, 1));
	CHECK(pt_range_empty(&pt, 0, (1ull << 20) - 1));
	pt_remove(&pt, last, 1, false);
	CHECK(pt_range_empty(&pt, 0, 1ull << 20));
	/* A 1 GiB leaf at the top of a 32-bit space (root level). */
	s.base = 4 * GiB;
	CHECK_STATUS(pt_install(&pt, 3 * GiB, GiB / PAGE, &s, false), IVM_STATUS_SUCCESS);
	unsigned level;
	lookup(&pt, 3 * GiB, &level);
	CHECK_EQ_U64(level, 2);
	pt_remove(&pt, 3 * GiB, GiB / PAGE, false);
	pt_reclaim(&pt);
	CHECK_EQ_U64(pt_table_count(&pt), 1);
	ivm_rcu_synchronize();
	pt_fini(&pt);
}

IVM_TEST_MAIN()
