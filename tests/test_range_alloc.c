/* SPDX-License-Identifier: MIT */
/*
 * test_range_alloc.c - white-box unit tests of the buddy range allocator
 * (lib/range_alloc.c): lowest-first placement, alignment, windows, claims,
 * frees of unions, exhaustion, a randomized run against a shadow bitmap,
 * failure injection, and the 63-bit space.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "mem.h"
#include "range_alloc.h"

#define ANY_MAX UINT64_MAX

/* The state of a freshly initialised allocator: one free block of the
 * whole space, nothing used. */
static bool is_initial_state(const struct range_alloc *ra)
{
	for (unsigned j = 0; j < ra->max_order; j++)
		if (ra->free_count[j])
			return false;
	return range_alloc_check(ra) && ra->free_count[ra->max_order] == 1 &&
	       ra->used_count == 0 && range_alloc_used_pages(ra) == 0 &&
	       range_alloc_is_free(ra, 0, ra->total_pages);
}

/* Back to the initial state, and a whole-space alloc succeeds again. */
static void check_restored(struct range_alloc *ra)
{
	uint64_t page = 1;

	CHECK(is_initial_state(ra));
	CHECK_STATUS(range_alloc_alloc(ra, ra->max_order, 0, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 0);
	range_alloc_free(ra, 0, ra->total_pages);
	CHECK(is_initial_state(ra));
}

/* Deterministic xorshift64 for the randomized tests. */
static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
	rng_state = seed ? seed : 0x2545f4914f6cdd1dull;
}

static uint64_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t rng_below(uint64_t n)
{
	return rng_next() % n;
}

IVM_TEST(init_bounds)
{
	struct range_alloc ra;

	CHECK_STATUS(range_alloc_init(&ra, 12), IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(range_alloc_init(&ra, 64), IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(range_alloc_init(&ra, 0), IVM_STATUS_INVALID_PARAMETER);
	for (unsigned width = 13; width <= 63; width++) {
		CHECK_STATUS(range_alloc_init(&ra, width), IVM_STATUS_SUCCESS);
		CHECK_EQ_U64(ra.max_order, width - 12);
		CHECK_EQ_U64(ra.total_pages, (uint64_t)1 << (width - 12));
		CHECK(is_initial_state(&ra));
		range_alloc_fini(&ra);
	}
}

IVM_TEST(lowest_first_mixed_orders)
{
	struct range_alloc ra;
	/* order requested, page expected: each the lowest aligned free
	 * block at that moment. */
	static const struct {
		unsigned order;
		uint64_t page;
	} steps[] = {
		{ 0, 0 }, { 1, 2 }, { 0, 1 }, { 2, 4 }, { 3, 8 }, { 0, 16 },
		{ 1, 18 }, { 0, 17 }, { 2, 20 }, { 4, 32 }, { 1, 24 },
		{ 0, 26 }, { 3, 48 }, { 0, 27 }, { 2, 28 }, { 0, 56 },
		{ 5, 64 }, { 6, 128 }, { 1, 58 }, { 0, 57 },
	};
	uint64_t page;

	CHECK_STATUS(range_alloc_init(&ra, 20), IVM_STATUS_SUCCESS);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		page = ~0ull;
		CHECK_STATUS(range_alloc_alloc(&ra, steps[i].order, 0, ANY_MAX,
					       &page),
			     IVM_STATUS_SUCCESS);
		CHECK_EQ_U64(page, steps[i].page);
		CHECK(range_alloc_check(&ra));
	}
	/* A hole at 8..15 is taken again first, lowest part first. */
	range_alloc_free(&ra, 8, 8);
	CHECK(range_alloc_check(&ra));
	CHECK_STATUS(range_alloc_alloc(&ra, 1, 0, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 8);
	CHECK_STATUS(range_alloc_alloc(&ra, 2, 0, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 12);
	CHECK_STATUS(range_alloc_alloc(&ra, 0, 0, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 10);
	CHECK(range_alloc_check(&ra));
	range_alloc_fini(&ra);
}

IVM_TEST(alignment)
{
	struct range_alloc ra;
	uint64_t page, used = 0;

	CHECK_STATUS(range_alloc_init(&ra, 26), IVM_STATUS_SUCCESS);
	/* Fragment the start, then ask for every order twice. */
	CHECK_STATUS(range_alloc_claim(&ra, 0, 3), IVM_STATUS_SUCCESS);
	used += 3;
	for (unsigned order = 0; order <= 11; order++) {
		for (int k = 0; k < 2; k++) {
			CHECK_STATUS(range_alloc_alloc(&ra, order, 1, ANY_MAX,
						       &page),
				     IVM_STATUS_SUCCESS);
			CHECK_EQ_U64(page & ((1ull << order) - 1), 0);
			used += 1ull << order;
		}
	}
	CHECK_EQ_U64(range_alloc_used_pages(&ra), used);
	CHECK(range_alloc_check(&ra));
	range_alloc_fini(&ra);
}

IVM_TEST(windows)
{
	struct range_alloc ra;
	uint64_t page;

	CHECK_STATUS(range_alloc_init(&ra, 20), IVM_STATUS_SUCCESS); /* 256 */

	/* An unaligned min rounds up to the order. */
	CHECK_STATUS(range_alloc_alloc(&ra, 2, 5, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 8);
	CHECK_STATUS(range_alloc_alloc(&ra, 2, 5, 15, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 12);
	/* Lowest first inside the window, below the window left alone. */
	CHECK_STATUS(range_alloc_alloc(&ra, 0, 3, 200, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 3);
	CHECK_STATUS(range_alloc_alloc(&ra, 0, 100, 200, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 100);
	CHECK_STATUS(range_alloc_alloc(&ra, 3, 100, 200, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 104);
	/* A window at the very top, max clamped to the space. */
	CHECK_STATUS(range_alloc_alloc(&ra, 4, 200, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 208);
	CHECK_STATUS(range_alloc_alloc(&ra, 0, 255, 1000, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 255);
	CHECK(range_alloc_check(&ra));

	/* Impossible even when empty: MIX. */
	CHECK_STATUS(range_alloc_alloc(&ra, 9, 0, ANY_MAX, &page),
		     IVM_STATUS_INVALID_PARAMETER_MIX); /* order > max */
	CHECK_STATUS(range_alloc_alloc(&ra, 0, 20, 19, &page),
		     IVM_STATUS_INVALID_PARAMETER_MIX); /* min > max */
	CHECK_STATUS(range_alloc_alloc(&ra, 0, 256, ANY_MAX, &page),
		     IVM_STATUS_INVALID_PARAMETER_MIX); /* min past space */
	CHECK_STATUS(range_alloc_alloc(&ra, 2, 5, 10, &page),
		     IVM_STATUS_INVALID_PARAMETER_MIX); /* 8..11 > 10 */
	CHECK_STATUS(range_alloc_alloc(&ra, 8, 1, ANY_MAX, &page),
		     IVM_STATUS_INVALID_PARAMETER_MIX);
	CHECK_STATUS(range_alloc_alloc(&ra, 4, 241, ANY_MAX, &page),
		     IVM_STATUS_INVALID_PARAMETER_MIX); /* 256 is past */
	CHECK_STATUS(range_alloc_alloc(&ra, 0, ANY_MAX, ANY_MAX, &page),
		     IVM_STATUS_INVALID_PARAMETER_MIX);

	/* Fill the window [32, 47] and find it full. */
	CHECK_STATUS(range_alloc_alloc(&ra, 3, 32, 47, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 32);
	CHECK_STATUS(range_alloc_alloc(&ra, 2, 32, 47, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 40);
	CHECK_STATUS(range_alloc_alloc(&ra, 3, 32, 47, &page),
		     IVM_STATUS_INSUFFICIENT_RESOURCES);
	CHECK_STATUS(range_alloc_alloc(&ra, 1, 32, 47, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 44);
	CHECK_STATUS(range_alloc_alloc(&ra, 0, 32, 47, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 46);
	CHECK_STATUS(range_alloc_alloc(&ra, 0, 32, 47, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 47);
	CHECK_STATUS(range_alloc_alloc(&ra, 0, 32, 47, &page),
		     IVM_STATUS_INSUFFICIENT_RESOURCES);
	/* The same order outside the window still works. */
	CHECK_STATUS(range_alloc_alloc(&ra, 0, 32, 48, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 48);
	CHECK(range_alloc_check(&ra));
	range_alloc_fini(&ra);
}

IVM_TEST(claim_split_and_restore)
{
	struct range_alloc ra;
	uint64_t page;

	CHECK_STATUS(range_alloc_init(&ra, 20), IVM_STATUS_SUCCESS);
	CHECK_STATUS(range_alloc_claim(&ra, 3, 10), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(range_alloc_used_pages(&ra), 10);
	CHECK(range_alloc_check(&ra));
	CHECK(!range_alloc_is_free(&ra, 3, 10));
	CHECK(!range_alloc_is_free(&ra, 12, 1));
	CHECK(!range_alloc_is_free(&ra, 0, 4));
	CHECK(range_alloc_is_free(&ra, 0, 3));
	CHECK(range_alloc_is_free(&ra, 13, 243));
	CHECK(!range_alloc_is_free(&ra, 13, 244)); /* past the space */
	/* [3, 13) = 3, 4..7, 8..11, 12: four used pieces. */
	CHECK_EQ_U64(ra.used_count, 4);

	CHECK_STATUS(range_alloc_claim(&ra, 12, 2), IVM_STATUS_IN_USE);
	CHECK_STATUS(range_alloc_claim(&ra, 0, 4), IVM_STATUS_IN_USE);
	CHECK_STATUS(range_alloc_claim(&ra, 0, 256), IVM_STATUS_IN_USE);
	CHECK_STATUS(range_alloc_claim(&ra, 5, 1), IVM_STATUS_IN_USE);
	CHECK_STATUS(range_alloc_claim(&ra, 0, 0), IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(range_alloc_claim(&ra, 250, 7),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(range_alloc_claim(&ra, 256, 1),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(range_alloc_claim(&ra, UINT64_MAX - 1, 5),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_EQ_U64(range_alloc_used_pages(&ra), 10);
	CHECK(range_alloc_check(&ra));

	/* Allocations go around the claim. */
	CHECK_STATUS(range_alloc_alloc(&ra, 0, 0, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 0);
	CHECK_STATUS(range_alloc_alloc(&ra, 1, 0, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 14);
	CHECK_STATUS(range_alloc_alloc(&ra, 0, 0, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 1);
	range_alloc_free(&ra, 0, 1);
	range_alloc_free(&ra, 1, 1);
	range_alloc_free(&ra, 14, 2);
	range_alloc_free(&ra, 3, 10);
	check_restored(&ra);

	/* Claim then free, for ranges of every shape in a small space. */
	for (uint64_t first = 0; first < 64; first += 3) {
		for (uint64_t pages = 1; first + pages <= 64; pages += 5) {
			CHECK_STATUS(range_alloc_claim(&ra, first, pages),
				     IVM_STATUS_SUCCESS);
			CHECK(range_alloc_check(&ra));
			CHECK(!range_alloc_is_free(&ra, first, pages));
			range_alloc_free(&ra, first, pages);
			CHECK(is_initial_state(&ra));
		}
	}
	/* The whole space by claim. */
	CHECK_STATUS(range_alloc_claim(&ra, 0, 256), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(ra.used_count, 1);
	CHECK_STATUS(range_alloc_alloc(&ra, 0, 0, ANY_MAX, &page),
		     IVM_STATUS_INSUFFICIENT_RESOURCES);
	range_alloc_free(&ra, 0, 256);
	check_restored(&ra);
	range_alloc_fini(&ra);
}

IVM_TEST(free_union_of_adjacent)
{
	struct range_alloc ra;
	uint64_t page, count;

	CHECK_STATUS(range_alloc_init(&ra, 21), IVM_STATUS_SUCCESS); /* 512 */
	CHECK_STATUS(range_alloc_claim(&ra, 10, 7), IVM_STATUS_SUCCESS);
	CHECK_STATUS(range_alloc_claim(&ra, 17, 23), IVM_STATUS_SUCCESS);
	CHECK_STATUS(range_alloc_claim(&ra, 40, 1), IVM_STATUS_SUCCESS);
	CHECK(range_alloc_check(&ra));
	count = ivm_mem_alloc_count();
	range_alloc_free(&ra, 10, 31);
	CHECK_EQ_U64(ivm_mem_alloc_count(), count);
	check_restored(&ra);

	/* An alloc and a claim side by side, freed as one. */
	CHECK_STATUS(range_alloc_alloc(&ra, 3, 0, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 0);
	CHECK_STATUS(range_alloc_claim(&ra, 8, 3), IVM_STATUS_SUCCESS);
	CHECK_STATUS(range_alloc_alloc(&ra, 0, 0, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 11);
	CHECK_STATUS(range_alloc_alloc(&ra, 2, 0, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 12);
	count = ivm_mem_alloc_count();
	range_alloc_free(&ra, 0, 16);
	CHECK_EQ_U64(ivm_mem_alloc_count(), count);
	check_restored(&ra);

	/* Many single pages freed as one range: coalesces to the whole. */
	for (uint64_t i = 0; i < 512; i++) {
		CHECK_STATUS(range_alloc_alloc(&ra, 0, 0, ANY_MAX, &page),
			     IVM_STATUS_SUCCESS);
		CHECK_EQ_U64(page, i);
	}
	count = ivm_mem_alloc_count();
	range_alloc_free(&ra, 0, 512);
	CHECK_EQ_U64(ivm_mem_alloc_count(), count);
	check_restored(&ra);
	range_alloc_fini(&ra);
}

IVM_TEST(exhaustion_and_recovery)
{
	for (unsigned width = 13; width <= 20; width++) {
		struct range_alloc ra;
		uint64_t total, page, step;

		CHECK_STATUS(range_alloc_init(&ra, width), IVM_STATUS_SUCCESS);
		total = ra.total_pages;
		/* Single pages come out in address order until none is left. */
		for (uint64_t i = 0; i < total; i++) {
			CHECK_STATUS(range_alloc_alloc(&ra, 0, 0, ANY_MAX,
						       &page),
				     IVM_STATUS_SUCCESS);
			CHECK_EQ_U64(page, i);
		}
		CHECK_STATUS(range_alloc_alloc(&ra, 0, 0, ANY_MAX, &page),
			     IVM_STATUS_INSUFFICIENT_RESOURCES);
		CHECK_STATUS(range_alloc_claim(&ra, total - 1, 1),
			     IVM_STATUS_IN_USE);
		CHECK_EQ_U64(range_alloc_used_pages(&ra), total);
		CHECK(range_alloc_check(&ra));
		/* Free in a scrambled order (odd stride mod a power of 2). */
		step = (total / 3) | 1;
		for (uint64_t i = 0; i < total; i++)
			range_alloc_free(&ra, (i * step) & (total - 1), 1);
		check_restored(&ra);

		/* Mixed orders until every order is refused. */
		uint64_t used = 0;
		for (;;) {
			unsigned order = (unsigned)(used % 3);
			ivm_status st;

			if (order > ra.max_order)
				order = ra.max_order;
			st = range_alloc_alloc(&ra, order, 0, ANY_MAX, &page);

			if (st != IVM_STATUS_SUCCESS) {
				CHECK_STATUS(st,
					     IVM_STATUS_INSUFFICIENT_RESOURCES);
				st = range_alloc_alloc(&ra, 0, 0, ANY_MAX,
						       &page);
				if (st != IVM_STATUS_SUCCESS)
					break;
				order = 0;
			}
			used += 1ull << order;
		}
		CHECK_EQ_U64(used, total);
		CHECK(range_alloc_check(&ra));
		/* Free the full space as one union of every allocation. */
		range_alloc_free(&ra, 0, total);
		check_restored(&ra);
		range_alloc_fini(&ra);
	}
}

/* ------------------------------------------------------------------ */
/* Randomized run against a shadow bitmap                              */
/* ------------------------------------------------------------------ */

#define SHADOW_WIDTH 22
#define SHADOW_PAGES 1024u /* 2^(22 - 12) */
#define SHADOW_MAX_RECORDS SHADOW_PAGES

struct record {
	uint64_t page;
	uint64_t pages;
};

struct shadow {
	bool used[SHADOW_PAGES];
	uint64_t used_pages;
	struct record records[SHADOW_MAX_RECORDS];
	size_t nrecords;
};

static bool shadow_free(const struct shadow *sh, uint64_t page,
			uint64_t pages)
{
	for (uint64_t p = page; p < page + pages; p++)
		if (sh->used[p])
			return false;
	return true;
}

static void shadow_mark(struct shadow *sh, uint64_t page, uint64_t pages,
			bool used)
{
	for (uint64_t p = page; p < page + pages; p++)
		sh->used[p] = used;
	if (used)
		sh->used_pages += pages;
	else
		sh->used_pages -= pages;
}

/* What range_alloc_alloc must answer, by brute force over the shadow. */
static ivm_status shadow_expect_alloc(const struct shadow *sh,
				      unsigned max_order, unsigned order,
				      uint64_t min_page, uint64_t max_page,
				      uint64_t *page)
{
	uint64_t size, high, c;

	if (order > max_order)
		return IVM_STATUS_INVALID_PARAMETER_MIX;
	size = 1ull << order;
	high = max_page < SHADOW_PAGES - 1 ? max_page : SHADOW_PAGES - 1;
	if (min_page > high)
		return IVM_STATUS_INVALID_PARAMETER_MIX;
	c = (min_page + size - 1) / size * size;
	if (c + size - 1 > high)
		return IVM_STATUS_INVALID_PARAMETER_MIX;
	for (; c + size - 1 <= high; c += size) {
		if (shadow_free(sh, c, size)) {
			*page = c;
			return IVM_STATUS_SUCCESS;
		}
	}
	return IVM_STATUS_INSUFFICIENT_RESOURCES;
}

static void shadow_drop_record(struct shadow *sh, size_t i)
{
	sh->records[i] = sh->records[--sh->nrecords];
}

static size_t shadow_find_record(const struct shadow *sh, uint64_t page)
{
	for (size_t i = 0; i < sh->nrecords; i++)
		if (sh->records[i].page == page)
			return i;
	return SIZE_MAX;
}

static void random_alloc(struct range_alloc *ra, struct shadow *sh)
{
	unsigned order = rng_below(4) ? (unsigned)rng_below(4)
				      : (unsigned)rng_below(12);
	uint64_t min_page = 0, max_page = ANY_MAX, want = 0, got = ~0ull;
	ivm_status expect, st;

	if (rng_below(2)) {
		min_page = rng_below(SHADOW_PAGES + 64);
		max_page = min_page + rng_below(600);
	}
	expect = shadow_expect_alloc(sh, ra->max_order, order, min_page,
				     max_page, &want);
	st = range_alloc_alloc(ra, order, min_page, max_page, &got);
	CHECK_STATUS(st, expect);
	if (st != IVM_STATUS_SUCCESS || expect != IVM_STATUS_SUCCESS)
		return;
	CHECK_EQ_U64(got, want); /* the lowest fitting block */
	if (got != want || !shadow_free(sh, got, 1ull << order))
		return;
	shadow_mark(sh, got, 1ull << order, true);
	sh->records[sh->nrecords++] = (struct record){ got, 1ull << order };
}

static void random_claim(struct range_alloc *ra, struct shadow *sh)
{
	uint64_t pages = 1 + rng_below(rng_below(4) ? 8 : 70);
	uint64_t page = rng_below(SHADOW_PAGES + 8);
	ivm_status expect, st;

	if (page >= SHADOW_PAGES || pages > SHADOW_PAGES - page)
		expect = IVM_STATUS_INVALID_PARAMETER;
	else if (!shadow_free(sh, page, pages))
		expect = IVM_STATUS_IN_USE;
	else
		expect = IVM_STATUS_SUCCESS;
	st = range_alloc_claim(ra, page, pages);
	CHECK_STATUS(st, expect);
	if (st != IVM_STATUS_SUCCESS || expect != IVM_STATUS_SUCCESS)
		return;
	shadow_mark(sh, page, pages, true);
	sh->records[sh->nrecords++] = (struct record){ page, pages };
}

/* Free one random record, sometimes together with the records that
 * follow it back to back. */
static void random_free(struct range_alloc *ra, struct shadow *sh)
{
	size_t i = (size_t)rng_below(sh->nrecords);
	uint64_t page = sh->records[i].page;
	uint64_t pages = sh->records[i].pages;
	uint64_t count;
	unsigned joins = rng_below(3) ? 0 : (unsigned)rng_below(5);

	shadow_drop_record(sh, i);
	while (joins--) {
		size_t next = shadow_find_record(sh, page + pages);

		if (next == SIZE_MAX)
			break;
		pages += sh->records[next].pages;
		shadow_drop_record(sh, next);
	}
	count = ivm_mem_alloc_count();
	range_alloc_free(ra, page, pages);
	CHECK_EQ_U64(ivm_mem_alloc_count(), count); /* free never allocates */
	shadow_mark(sh, page, pages, false);
}

IVM_TEST(randomized_against_shadow)
{
	static struct shadow sh;
	struct range_alloc ra;
	int bad_checks = 0, bad_free = 0;

	memset(&sh, 0, sizeof(sh));
	rng_seed(0x1234abcd5678ef01ull);
	CHECK_STATUS(range_alloc_init(&ra, SHADOW_WIDTH), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(ra.total_pages, SHADOW_PAGES);
	for (int op = 0; op < 20000; op++) {
		/* Alternate filling and draining phases, so that the run
		 * sees both a nearly full and a nearly empty space. */
		uint64_t fill = (op / 2500) % 2 ? 62 : 32;
		uint64_t r = rng_below(100);

		if (r < fill || sh.nrecords == 0)
			random_alloc(&ra, &sh);
		else if (r < fill + 15)
			random_claim(&ra, &sh);
		else
			random_free(&ra, &sh);

		CHECK_EQ_U64(range_alloc_used_pages(&ra), sh.used_pages);
		/* is_free agrees with the shadow on a random range. */
		uint64_t p = rng_below(SHADOW_PAGES);
		uint64_t n = 1 + rng_below(SHADOW_PAGES - p);
		if (range_alloc_is_free(&ra, p, n) != shadow_free(&sh, p, n))
			bad_free++;
		if (op % 128 == 0 && !range_alloc_check(&ra))
			bad_checks++;
	}
	CHECK(bad_free == 0);
	CHECK(bad_checks == 0);
	CHECK(range_alloc_check(&ra));
	for (uint64_t p = 0; p < SHADOW_PAGES; p++)
		if (range_alloc_is_free(&ra, p, 1) == sh.used[p])
			bad_free++;
	CHECK(bad_free == 0);
	while (sh.nrecords)
		random_free(&ra, &sh);
	check_restored(&ra);
	range_alloc_fini(&ra);
}

/* ------------------------------------------------------------------ */
/* Failure injection                                                   */
/* ------------------------------------------------------------------ */

struct snapshot {
	uint64_t used_pages;
	uint64_t used_count;
	uint64_t free_count[IVM_RANGE_MAX_ORDER + 1];
	bool free_page[SHADOW_PAGES];
};

/* With invariant 3 the free pages determine the free blocks, so this
 * captures the whole state of a SHADOW_PAGES allocator. */
static void take_snapshot(const struct range_alloc *ra, struct snapshot *s)
{
	s->used_pages = range_alloc_used_pages(ra);
	s->used_count = ra->used_count;
	memcpy(s->free_count, ra->free_count, sizeof(s->free_count));
	for (uint64_t p = 0; p < SHADOW_PAGES; p++)
		s->free_page[p] = range_alloc_is_free(ra, p, 1);
}

static bool same_snapshot(const struct range_alloc *ra,
			  const struct snapshot *before)
{
	static struct snapshot now;

	take_snapshot(ra, &now);
	return memcmp(&now, before, sizeof(now)) == 0;
}

IVM_TEST(failure_injection)
{
	static struct snapshot before;
	static struct shadow sh;
	struct range_alloc ra;
	uint64_t page, count;
	int failures = 0, successes = 0;

	/* init */
	ivm_mem_fail_after(0);
	CHECK_STATUS(range_alloc_init(&ra, SHADOW_WIDTH),
		     IVM_STATUS_INSUFFICIENT_RESOURCES);
	ivm_mem_fail_after(-1);

	/* A claim on a fresh space needs many nodes: [0, 3) and
	 * [1000, 1024) stay free (2 + 2 pieces), [3, 1000) is 13 pieces. */
	CHECK_STATUS(range_alloc_init(&ra, SHADOW_WIDTH), IVM_STATUS_SUCCESS);
	bool succeeded = false;
	for (long k = 0; k <= 40; k++) {
		ivm_status st;

		take_snapshot(&ra, &before);
		range_alloc_trim(&ra); /* no spare nodes: every node is new */
		ivm_mem_fail_after(k);
		st = range_alloc_claim(&ra, 3, 997);
		ivm_mem_fail_after(-1);
		if (st == IVM_STATUS_SUCCESS) {
			succeeded = true;
			CHECK(range_alloc_check(&ra));
			CHECK_EQ_U64(ra.used_count, 13);
			count = ivm_mem_alloc_count();
			range_alloc_free(&ra, 3, 997);
			CHECK_EQ_U64(ivm_mem_alloc_count(), count);
		} else {
			CHECK_STATUS(st, IVM_STATUS_INSUFFICIENT_RESOURCES);
			CHECK(!succeeded); /* more memory never hurts */
		}
		CHECK(same_snapshot(&ra, &before));
		CHECK(is_initial_state(&ra));
	}
	CHECK(succeeded);
	/* An order-0 alloc from the whole space splits ten times. */
	for (long k = 0; k <= 12; k++) {
		ivm_status st;

		range_alloc_trim(&ra); /* no spare nodes: every node is new */
		ivm_mem_fail_after(k);
		st = range_alloc_alloc(&ra, 0, 0, ANY_MAX, &page);
		ivm_mem_fail_after(-1);
		if (k < 10) {
			CHECK_STATUS(st, IVM_STATUS_INSUFFICIENT_RESOURCES);
		} else {
			CHECK_STATUS(st, IVM_STATUS_SUCCESS);
			range_alloc_free(&ra, page, 1);
		}
		CHECK(is_initial_state(&ra));
	}

	/* A fragmented state, then random allocs and claims under every
	 * small failure countdown. */
	memset(&sh, 0, sizeof(sh));
	rng_seed(0xfeedface12345678ull);
	for (int op = 0; op < 600; op++) {
		uint64_t r = rng_below(100);

		if (r < 45 || sh.nrecords == 0)
			random_alloc(&ra, &sh);
		else if (r < 65)
			random_claim(&ra, &sh);
		else
			random_free(&ra, &sh);
	}
	CHECK(range_alloc_check(&ra));
	for (int round = 0; round < 300; round++) {
		long k = (long)rng_below(12);
		bool claim = rng_below(2);
		uint64_t first = 0, pages;
		ivm_status st;

		take_snapshot(&ra, &before);
		if (claim) {
			/* A free range, so only memory can refuse it. */
			first = rng_below(SHADOW_PAGES);
			pages = 1 + rng_below(40);
			if (pages > SHADOW_PAGES - first ||
			    !range_alloc_is_free(&ra, first, pages))
				continue;
			range_alloc_trim(&ra); /* no spare nodes: every node is new */
		ivm_mem_fail_after(k);
			st = range_alloc_claim(&ra, first, pages);
		} else {
			unsigned order = (unsigned)rng_below(5);

			pages = 1ull << order;
			range_alloc_trim(&ra); /* no spare nodes: every node is new */
		ivm_mem_fail_after(k);
			st = range_alloc_alloc(&ra, order, 0, ANY_MAX, &first);
		}
		ivm_mem_fail_after(-1);
		if (st == IVM_STATUS_SUCCESS) {
			successes++;
			CHECK(range_alloc_check(&ra));
			CHECK(!range_alloc_is_free(&ra, first, pages));
			count = ivm_mem_alloc_count();
			range_alloc_free(&ra, first, pages);
			CHECK_EQ_U64(ivm_mem_alloc_count(), count);
		} else {
			CHECK_STATUS(st, IVM_STATUS_INSUFFICIENT_RESOURCES);
			failures++;
		}
		/* Failure changed nothing; success plus free restored the
		 * exact state (the buddies merge back). */
		CHECK(same_snapshot(&ra, &before));
		CHECK(range_alloc_check(&ra));
	}
	CHECK(failures > 0);
	CHECK(successes > 0);
	while (sh.nrecords)
		random_free(&ra, &sh);
	check_restored(&ra);
	range_alloc_fini(&ra);
}

/* ------------------------------------------------------------------ */
/* The 63-bit space                                                    */
/* ------------------------------------------------------------------ */

IVM_TEST(width_63)
{
	const uint64_t total = 1ull << 51;
	struct range_alloc ra;
	uint64_t page;

	CHECK_STATUS(range_alloc_init(&ra, 63), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(ra.total_pages, total);
	CHECK_STATUS(range_alloc_alloc(&ra, 51, 0, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 0);
	CHECK_EQ_U64(range_alloc_used_pages(&ra), total);
	CHECK_STATUS(range_alloc_alloc(&ra, 0, 0, ANY_MAX, &page),
		     IVM_STATUS_INSUFFICIENT_RESOURCES);
	CHECK(range_alloc_check(&ra));
	range_alloc_free(&ra, 0, total);
	CHECK(is_initial_state(&ra));

	CHECK_STATUS(range_alloc_alloc(&ra, 52, 0, ANY_MAX, &page),
		     IVM_STATUS_INVALID_PARAMETER_MIX);
	CHECK_STATUS(range_alloc_alloc(&ra, 0, 0, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 0);
	CHECK_STATUS(range_alloc_alloc(&ra, 50, 0, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 1ull << 50);
	CHECK_STATUS(range_alloc_alloc(&ra, 49, 0, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 1ull << 49);
	CHECK_STATUS(range_alloc_alloc(&ra, 40, 0, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 1ull << 40);
	CHECK_STATUS(range_alloc_alloc(&ra, 40, 0, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 1ull << 41);
	CHECK_STATUS(range_alloc_alloc(&ra, 50, 0, ANY_MAX, &page),
		     IVM_STATUS_INSUFFICIENT_RESOURCES);
	CHECK_STATUS(range_alloc_alloc(&ra, 48, 1ull << 49, ANY_MAX, &page),
		     IVM_STATUS_INSUFFICIENT_RESOURCES);
	CHECK_STATUS(range_alloc_alloc(&ra, 48, 0, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 1ull << 48);
	CHECK(range_alloc_check(&ra));
	/* The top of the space: a claim at the last pages, a window that
	 * clamps to it, and the edge itself. */
	range_alloc_free(&ra, 1ull << 50, 1ull << 50);
	CHECK_STATUS(range_alloc_claim(&ra, total - 3, 3), IVM_STATUS_SUCCESS);
	CHECK_STATUS(range_alloc_claim(&ra, total - 1, 2),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(range_alloc_claim(&ra, total - 4, 2), IVM_STATUS_IN_USE);
	CHECK_STATUS(range_alloc_alloc(&ra, 0, total - 8, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, total - 8);
	CHECK_STATUS(range_alloc_alloc(&ra, 2, total - 8, ANY_MAX, &page),
		     IVM_STATUS_INSUFFICIENT_RESOURCES);
	CHECK_STATUS(range_alloc_alloc(&ra, 45, 1ull << 50, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 1ull << 50);
	CHECK_STATUS(range_alloc_claim(&ra, 3, total - 1000),
		     IVM_STATUS_IN_USE);
	CHECK(range_alloc_check(&ra));
	range_alloc_free(&ra, 1ull << 50, 1ull << 45);
	range_alloc_free(&ra, total - 8, 1);
	range_alloc_free(&ra, total - 3, 3);
	range_alloc_free(&ra, 1ull << 48, 1ull << 48);
	range_alloc_free(&ra, 1ull << 41, 1ull << 40);
	range_alloc_free(&ra, 1ull << 40, 1ull << 40);
	range_alloc_free(&ra, 1ull << 49, 1ull << 49);
	range_alloc_free(&ra, 0, 1);
	check_restored(&ra);

	/* A big unaligned claim and its free. */
	CHECK_STATUS(range_alloc_claim(&ra, 12345, total - 2 * 12345),
		     IVM_STATUS_SUCCESS);
	CHECK(range_alloc_check(&ra));
	CHECK_STATUS(range_alloc_alloc(&ra, 13, 0, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 0);
	CHECK_STATUS(range_alloc_alloc(&ra, 13, 0, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, total - 8192);
	CHECK_STATUS(range_alloc_alloc(&ra, 13, 0, ANY_MAX, &page),
		     IVM_STATUS_INSUFFICIENT_RESOURCES);
	CHECK_STATUS(range_alloc_alloc(&ra, 12, 0, ANY_MAX, &page),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(page, 8192);
	CHECK(range_alloc_check(&ra));
	range_alloc_free(&ra, 0, 1ull << 13);
	range_alloc_free(&ra, total - 8192, 8192);
	range_alloc_free(&ra, 8192, 4096);
	range_alloc_free(&ra, 12345, total - 2 * 12345);
	check_restored(&ra);
	range_alloc_fini(&ra);
}

IVM_TEST_MAIN()
