/* SPDX-License-Identifier: MIT */
/*
 * pagetable.h - the radix page table: logical -> physical, readable by any
 * thread without a lock.
 *
 * Geometry: 4 KiB granule, 512 entries (9 bits) per table, as many levels
 * as the domain's width needs (levels = ceil((width - 12) / 9), 1..6).
 * Level 0 tables map 4 KiB pages; a leaf may also sit at level 1 (2 MiB)
 * or level 2 (1 GiB) when logical address, physical address and size
 * allow.
 *
 * Entry format (64 bits; 0 means empty):
 *   table entry:  [63:12] next table address | TABLE | PRESENT
 *   leaf entry:   [63:12] physical frame | DYING[10] | KIND[8:6] | LAST |
 *                 FIRST | WRITE | READ | PRESENT
 *   marker:       PT_MARKER (not present): a slot set aside by a
 *                 reservation; translates as unmapped, refuses plain maps.
 *   dead:         PT_DEAD (not present): every entry of a table being
 *                 sealed for reclamation; translates as unmapped, makes a
 *                 writer start again from the root.
 *
 * A table left empty stays linked for reuse until pt_reclaim seals it
 * (every entry 0 -> PT_DEAD by CAS), unlinks it and retires it through
 * RCU; see pagetable.c for the protocol.  A map into an existing leaf
 * table writes one word, the leaf, by one CAS; upper levels, which every
 * translate reads, are written only when a table is created or unlinked.
 */
#ifndef IVM_PAGETABLE_H
#define IVM_PAGETABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "atomics.h"
#include "iovamap/status.h"
#include "iovamap/types.h"

#define PT_BITS      9u
#define PT_ENTRIES   512u
#define PT_MAX_LEVELS 6u

#define PT_PRESENT   (1ull << 0)
#define PT_TABLE     (1ull << 1)
#define PT_READ      (1ull << 2)
#define PT_WRITE     (1ull << 3)
#define PT_FIRST     (1ull << 4)
#define PT_LAST      (1ull << 5)
#define PT_KIND_SHIFT 6
#define PT_KIND_MASK (7ull << PT_KIND_SHIFT)
#define PT_ADDR_MASK (~0xfffull)
/* Not present, not a table, non-zero: a reserved, unmapped slot. */
#define PT_MARKER    (1ull << 9)
/* On a mapping's first leaf: an unmap owns the mapping (pt_claim_whole). */
#define PT_DYING     (1ull << 10)
/* Not present, not a marker: an entry of a table being sealed. */
#define PT_DEAD      (1ull << 11)

/* Which family of calls made a leaf (and may remove it). */
enum pt_kind {
	PT_KIND_ALLOCATED = 0, /* logical map, address chosen by the allocator */
	PT_KIND_EXPLICIT = 1,  /* logical map at an explicit address */
	PT_KIND_IDENTITY = 2,  /* identity map */
	PT_KIND_RESERVED = 3,  /* map inside a reservation */
	PT_KIND_REGION = 4,    /* reserved region with should_map */
};

static inline enum pt_kind pt_leaf_kind(uint64_t e)
{
	return (enum pt_kind)((e & PT_KIND_MASK) >> PT_KIND_SHIFT);
}

static inline uint64_t pt_perm_bits(uint32_t permissions)
{
	return ((permissions & IVM_PERM_READ) ? PT_READ : 0) |
	       ((permissions & IVM_PERM_WRITE) ? PT_WRITE : 0);
}

static inline uint32_t pt_leaf_perms(uint64_t e)
{
	return ((e & PT_READ) ? IVM_PERM_READ : 0) |
	       ((e & PT_WRITE) ? IVM_PERM_WRITE : 0);
}

struct pt_table {
	_Atomic uint64_t entry[PT_ENTRIES];
};

/*
 * One CPU's count of pages removed (pagetable.c, "When to sweep").
 * Written with ivm_estimate_add by threads running on that CPU, so a
 * map/unmap cycle touches no cache line shared with other CPUs.
 */
struct pt_cpu {
	_Atomic uint64_t removed;
} __attribute__((aligned(128))); /* two lines: the adjacent-line prefetcher
				    pulls pairs, so 64 would still share */

struct pagetable {
	struct pt_table *root;   /* level levels-1; lives as long as the table */
	unsigned levels;         /* set at init */
	unsigned width;          /* set at init */
	struct pt_cpu *cpu;      /* ncpu per-CPU cells; set at init */
	unsigned ncpu;
	/* Written by table allocation, retirement and sweeps only: kept off
	 * the cache line of the fields above, which every translate reads
	 * (measured: sharing it cost translate ~2x under a concurrent
	 * writer). */
	_Alignas(64) _Atomic uint64_t tables; /* tables allocated, root
					         included (stats) */
	_Atomic uint64_t removed_base; /* sum of cpu[].removed at the last
					  sweep */
};

/* Unmaps sweep the table once it has at least PT_RECLAIM_MIN_TABLES
 * tables and PT_RECLAIM_PAGES_PER_TABLE pages per table were removed since
 * the last sweep (a sweep then costs at most 512 / 128 = 4 entry loads per
 * page removed).  A CPU sums the per-CPU counts each time its own count
 * crosses a multiple of PT_RECLAIM_CHECK_PAGES (a power of two). */
#define PT_RECLAIM_MIN_TABLES 64u
#define PT_RECLAIM_PAGES_PER_TABLE 128u
#define PT_RECLAIM_CHECK_PAGES 1024u

/* Where the physical addresses of a range of leaves come from. */
struct pt_source {
	uint64_t base;           /* contiguous: pa of the first page (for
				    markers: the logical address, so that
				    large markers align) */
	const uint64_t *pfns;    /* non-NULL: page i maps frame pfns[i], or,
				    with in_page, the frame holding the
				    byte address pfns[i] */
	bool in_page;            /* pfns holds byte addresses (buffers that
				    each lie within one page) */
	uint64_t flags;          /* PT_READ / PT_WRITE / kind bits */
	bool marker;             /* install PT_MARKER instead (reservations) */
	bool allow_large;        /* 2 MiB / 1 GiB leaves where aligned
				    (reservation markers must not: their
				    maps replace single 4 KiB markers) */
	bool exclusive;          /* the caller owns the range: no other
				    writer installs into it (the allocator
				    handed it out), so after the first leaf
				    a table takes by CAS, the rest of its
				    4 KiB leaves are stores (pagetable.c) */
};

/* Page size covered by one entry at level L. */
static inline uint64_t pt_level_size(unsigned level)
{
	return (uint64_t)IVM_PAGE_SIZE << (PT_BITS * level);
}

static inline unsigned pt_index(ivm_la la, unsigned level)
{
	return (unsigned)(la >> (IVM_PAGE_SHIFT + PT_BITS * level)) &
	       (PT_ENTRIES - 1);
}

/* A table width of 13..63 bits.  Returns SUCCESS or
 * INSUFFICIENT_RESOURCES. */
ivm_status pt_init(struct pagetable *pt, unsigned width);

/* Free every table.  Context: no reader or writer may still use pt (the
 * caller waited for a grace period). */
void pt_fini(struct pagetable *pt);

/*
 * pt_lookup - the leaf entry translating la, or 0 (also for a marker).
 * *level_out receives the leaf's level when non-zero.
 *
 * Context: inside an RCU read-side section; la below 2^width.
 * Blocking: never; at most `levels` loads.
 * Ordering: each load is an acquire (A1) pairing with the release CAS or
 * store that published the entry (R1 in pagetable.c), so the table it
 * points to is seen fully initialised and a leaf is seen whole.
 */
static inline uint64_t pt_lookup(const struct pagetable *pt, ivm_la la,
				 unsigned *level_out)
{
	const struct pt_table *t = pt->root;
	uint64_t e;

	/* One step per level, unrolled from the domain's top level so that
	 * every index shift is a constant; one test per level decides "go
	 * down" against "stop here". */
#define PT_LOOKUP_STEP(level)                                               \
	do {                                                                \
		/* A1: pairs with R1 (publication of this entry). */        \
		e = ivm_load_acquire((_Atomic uint64_t *)&t->entry[         \
			pt_index(la, (level))]);                            \
		if ((e & (PT_PRESENT | PT_TABLE)) !=                        \
		    (PT_PRESENT | PT_TABLE)) {                              \
			*level_out = (level);                               \
			return (e & PT_PRESENT) ? e : 0;                    \
		}                                                           \
		t = (const struct pt_table *)(uintptr_t)(e & PT_ADDR_MASK); \
	} while (0)
	switch (pt->levels) {
	case 6:
		PT_LOOKUP_STEP(5);
		/* fall through */
	case 5:
		PT_LOOKUP_STEP(4);
		/* fall through */
	case 4:
		PT_LOOKUP_STEP(3);
		/* fall through */
	case 3:
		PT_LOOKUP_STEP(2);
		/* fall through */
	case 2:
		PT_LOOKUP_STEP(1);
		/* fall through */
	default:
		break;
	}
#undef PT_LOOKUP_STEP
	/* Level 0 holds leaves only. */
	e = ivm_load_acquire((_Atomic uint64_t *)&t->entry[pt_index(la, 0)]);
	*level_out = 0;
	return (e & PT_PRESENT) ? e : 0;
}

/*
 * pt_install - install the leaves of [la, la + pages * 4 KiB) from src.
 * Every slot must be empty (0), or, with src->marker == false and
 * expect_marker, hold PT_MARKER.  The first leaf gets PT_FIRST, the last
 * PT_LAST.  All or nothing: on failure every leaf this call installed is
 * removed again.
 *
 * Returns SUCCESS, IN_USE (a slot was occupied), or INSUFFICIENT_RESOURCES
 * (no memory for a table; never when expect_marker, whose tables exist).
 *
 * Context: a registered RCU thread, outside a read-side section; the
 * range lies inside the width.  Blocking: may allocate.
 * Ordering: every leaf is published by a release CAS (R1).
 */
ivm_status pt_install(struct pagetable *pt, ivm_la la, uint64_t pages,
		      const struct pt_source *src, bool expect_marker);

/*
 * pt_remove - clear the leaves covering [la, la + pages * 4 KiB), which the
 * caller has checked (pt_check_whole) are present leaves or markers lying
 * entirely inside the range.  With to_marker the slots become PT_MARKER
 * (reservation keeps them); otherwise empty.  Tables left empty stay
 * linked until a reclaim (run here once enough pages were removed,
 * PT_RECLAIM_* above).
 *
 * Context, Blocking: as pt_install, but never allocates and never fails.
 */
void pt_remove(struct pagetable *pt, ivm_la la, uint64_t pages,
	       bool to_marker);

/*
 * pt_check_whole - true when [la, la + pages) is exactly one or more whole
 * mappings whose kinds are all in kind_mask (bit 1 << kind), every leaf
 * present.  For each mapping found, calls visit(ctx, first_la, pages,
 * kind) if visit is non-NULL.  Nothing is changed.
 *
 * Context: a registered RCU thread outside a read-side section; the
 * answer may be stale by the time it returns if others write the range.
 */
bool pt_check_whole(const struct pagetable *pt, ivm_la la, uint64_t pages,
		    unsigned kind_mask,
		    void (*visit)(void *ctx, ivm_la la, uint64_t pages,
				  enum pt_kind kind),
		    void *ctx);

/*
 * pt_claim_whole - like pt_check_whole, and take ownership of every
 * mapping in the range: PT_DYING is set on each mapping's first leaf by a
 * CAS, in address order, before the rest of that mapping is trusted.  Of
 * several concurrent claims on one mapping exactly one succeeds.  On
 * failure every claim this call made is undone and false is returned.
 * visit may have been called for mappings of a run that then fails; use
 * what it collected only on success.  On success the caller must
 * pt_remove the range (only the owner may).
 *
 * Context: a registered RCU thread outside a read-side section.
 * Blocking: never.  Ordering: the claim CAS is acquire-release (A4).
 */
bool pt_claim_whole(struct pagetable *pt, ivm_la la, uint64_t pages,
		    unsigned kind_mask,
		    void (*visit)(void *ctx, ivm_la la, uint64_t pages,
				  enum pt_kind kind),
		    void *ctx);

/*
 * pt_take_mapping - the unmap fast path: when [la, la + pages) is exactly
 * one mapping whose kind is in kind_mask and which no unmap has claimed,
 * held in a single leaf (FIRST and LAST on it) or in a run of 4 KiB
 * leaves within one leaf table, clear it, store the kind in *kind_out and
 * return true.  A single leaf is owned and cleared by one CAS; a run's
 * first leaf is claimed by a CAS (PT_DYING), the rest checked, then all
 * cleared.  Either CAS settles racing unmaps and claims: of several,
 * exactly one wins.  Otherwise change nothing and return false: the
 * caller takes the general path (pt_claim_whole, pt_remove), which
 * decides the status.
 *
 * frames, when not NULL, adds a condition, checked under the claim: the
 * mapping's first page maps the frame at address frames[0] and its last
 * page the frame at frames[1] (page-aligned addresses); a mapping that
 * does not is left as it was (false).
 *
 * Context, Blocking: as pt_remove.  Ordering: the CAS is acquire-release,
 * like pt_claim_whole's (A4).
 */
bool pt_take_mapping(struct pagetable *pt, ivm_la la, uint64_t pages,
		     unsigned kind_mask, const uint64_t frames[2],
		     enum pt_kind *kind_out);

/*
 * The leaves of a queue's own slots (slots.c): a reservation's range that
 * only its one owner maps into, one mapping of in-page buffers per slot.
 *
 * pt_reserved_entry - the 4 KiB entry of la, inside a reservation whose
 * markers keep its tables linked for as long as it lives (so the pointer
 * stays valid that long).  Context: a registered RCU thread.
 *
 * pt_fill_reserved - store the leaves of count (>= 1) buffers at
 * entry[0 .. count), over markers: leaf i maps the frame holding byte
 * address addrs[i], with flags (PT_READ / PT_WRITE / kind), FIRST on the
 * first, LAST on the last.  Stores, not CASes: no other writer installs
 * into the range.  Ordering: every leaf a release store (R1).
 *
 * pt_clear_reserved - if entry[0 .. count) is one mapping (FIRST on the
 * first leaf, LAST on the last) whose first page maps the frame at
 * first_pa and last page the frame at last_pa, put the markers back and
 * return true; otherwise change nothing and return false.  Only the
 * owner that filled the range calls it.  Ordering: as pt_remove's.
 */
_Atomic uint64_t *pt_reserved_entry(struct pagetable *pt, ivm_la la);
void pt_fill_reserved(_Atomic uint64_t *entry, const uint64_t *addrs,
		      uint32_t count, uint64_t flags);
bool pt_clear_reserved(_Atomic uint64_t *entry, uint32_t count,
		       uint64_t first_pa, uint64_t last_pa);

/* True when no slot of [la, la + pages) is occupied (not even a marker). */
bool pt_range_empty(const struct pagetable *pt, ivm_la la, uint64_t pages);

/*
 * pt_reclaim - unlink every empty table (count 0) and retire it through
 * RCU.  Returns the number of tables retired.
 *
 * Context: a registered RCU thread outside a read-side section; may run
 * concurrently with installs and removes (pagetable.c).  Blocking: never
 * (frees happen after a grace period, on liburcu's call_rcu thread).
 */
uint64_t pt_reclaim(struct pagetable *pt);

/* What a walk over every table counts (pt_tally). */
struct pt_tally {
	uint64_t mappings;      /* first leaves of mappings, region maps
				   (PT_KIND_REGION) excluded */
	uint64_t pages;         /* 4 KiB pages those mappings' leaves cover */
	uint64_t empty_tables;  /* linked tables with count 0 */
};

/*
 * pt_tally - count the mappings, mapped pages and empty tables by reading
 * every table.  Exact when no writer runs; otherwise each entry is read
 * once, at some instant during the walk.  Cost: one load per entry of
 * every table (about 0.2 us per table): for statistics calls, not the data
 * path.
 *
 * Context: any thread (takes an RCU read-side section).
 */
void pt_tally(const struct pagetable *pt, struct pt_tally *out);

static inline uint64_t pt_empty_count(const struct pagetable *pt)
{
	struct pt_tally t;
	pt_tally(pt, &t);
	return t.empty_tables;
}

/* Tables currently allocated, root included. */
static inline uint64_t pt_table_count(const struct pagetable *pt)
{
	return ivm_load_relaxed((_Atomic uint64_t *)&pt->tables);
}

#endif /* IVM_PAGETABLE_H */
