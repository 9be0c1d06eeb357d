/* SPDX-License-Identifier: MIT */
/*
 * pagetable.c - the radix page table (see pagetable.h for the format).
 *
 * Design source: the hardware IOMMU page tables of VT-d and Arm SMMU (one
 * 4 KiB table per level, 9 bits per level, large leaves at levels 1 and
 * 2), and Linux io-pgtable-arm.c for publishing tables with a single
 * compare-and-swap whose loser frees its unseen copy.  Departures: readers
 * are software threads, not only the IOMMU, so tables emptied by unmap are
 * retired through RCU instead of freed after an IOTLB sync; and each table
 * entry carries its child's use count, so that "is the child empty?" and
 * "unlink the child" are one atomic step.
 *
 * The counting protocol.  count(T), kept in the entry of T's parent that
 * points to T, is the number of non-empty entries of T plus the number of
 * holds writers have on T.  A writer installing into table T at level L:
 *   1. walks down from the root without writing (inside an RCU read-side
 *      section, so no table it passes is freed under it) as far as tables
 *      exist on its path: to T, or to the deepest existing table D above
 *      it;
 *   2. takes a hold on that table by adding 1 to its entry in its parent,
 *      by a CAS that expects the entry it read: the entry still pointing
 *      at the table means the table is linked (an unlink replaces the
 *      entry) and, being a non-empty entry, keeps the parent linked too;
 *      so no hold on any level above is needed (the root needs none);
 *   3. from D on, descends by holds: takes a hold on child C by adding 1
 *      to C's entry (or installs a fresh C with count 1 if the entry was
 *      empty); if it installed C, the entry became non-empty and its hold
 *      on the parent turns into that entry's use; otherwise it drops its
 *      hold on the parent.
 * Installing k leaves into a table it holds turns its hold into one use and
 * adds k - 1; installing none drops the hold.  Removing leaves drops one
 * use each.  A map of one page into an existing leaf table therefore
 * writes two words: the leaf table's entry (count + 1) and the leaf; the
 * upper-level entries that every translate reads stay untouched.
 *
 * Reclamation is lazy.  A table whose count drops to 0 stays linked,
 * empty, and ready for the next map into its range: a map/unmap cycle on
 * one page then allocates, zeroes and frees no table and starts no RCU
 * grace period (it did, and that cost microseconds per pair).  Empty
 * tables are unlinked by pt_reclaim, which the unmap path runs once they
 * are many (PT_RECLAIM_* in pagetable.h) and ivm_domain_trim runs on
 * demand: a
 * CAS from "this table, count 0" to an empty entry unlinks a table only if
 * no writer took a hold since (a writer's CAS on the old value then fails
 * and it starts over with a fresh table).  The unlinked table is retired
 * through RCU and its entry's use dropped from the parent, which the same
 * sweep may then unlink.  The root is never unlinked.
 *
 * When to sweep.  The number of empty tables is estimated, not counted:
 * each CPU cell (struct pt_cpu) adds 1 when a table empties and subtracts
 * 1 when an empty one is reused, with plain loads and stores on a line of
 * its own (ivm_estimate_add), and a sweep resets the sum.  An exact shared
 * counter cost two atomic operations on one cache line that every CPU
 * wrote, on each map/unmap cycle of a page.  A lost update (two threads
 * racing on one CPU's cell) only moves the next sweep a little; a sweep
 * always counts the truth again, and pt_tally gives the exact number.
 *
 * Invariants:
 *  1. A linked table's count equals its non-empty entries plus the holds
 *     on it; an unlinked table has no entry and no hold.
 *  2. A writer only writes entries of tables it holds or whose entries it
 *     owns (its own leaves, or markers of a reservation it owns); by 1 such
 *     a table has count > 0, so pt_reclaim cannot unlink it.
 *  3. A table is freed only after it was unlinked and an RCU grace period
 *     passed (table_retire), so a reader that loaded its address inside a
 *     read-side section can keep reading it.
 *  4. While retired and not yet freed, entries 0 and 1 of a table hold the
 *     rcu_head (a list pointer and a 16-byte aligned function pointer);
 *     both have bit 0 clear, so a late reader sees "not present" there,
 *     and all other entries are 0.
 *  5. Every entry changes by one atomic store or CAS, so readers never see
 *     a torn entry.
 *
 * Concurrency (which operations may run at once on one table):
 *   pt_lookup        | with everything
 *   pt_install       | with pt_install / pt_remove of disjoint ranges
 *   pt_remove        | with pt_install / pt_remove of disjoint ranges
 *   pt_check_whole   | with everything (it only reads)
 *   pt_claim_whole   | with everything; of two claims of one mapping
 *                    | exactly one wins (a CAS on its first leaf)
 *   pt_reclaim       | with everything (the unlink CAS settles races)
 * (Overlapping installs resolve to exactly one winner: each leaf is taken
 * by a CAS from empty, in address order, so the holder of the lowest
 * contested page wins and the other removes what it installed.)
 */
#include "pagetable.h"

#include <stddef.h>
#include <string.h>

#include "cpu.h"
#include "mem.h"
#include "rcu.h"
#include "util.h"

_Static_assert(sizeof(struct pt_table) == IVM_PAGE_SIZE,
	       "a table is one page");
_Static_assert(sizeof(struct rcu_head) <= 2 * sizeof(uint64_t),
	       "rcu_head fits entries 0 and 1 (invariant 4)");

/* The path of a descent: slot[L] is the entry (in the level L+1 table)
 * that points to table[L]; for the root, slot is NULL. */
struct pt_path {
	_Atomic uint64_t *slot[PT_MAX_LEVELS];
	struct pt_table *table[PT_MAX_LEVELS];
};

static inline struct pt_table *entry_table(uint64_t e)
{
	return (struct pt_table *)(uintptr_t)(e & PT_ADDR_MASK);
}

static inline uint64_t entry_count(uint64_t e)
{
	return (e & PT_COUNT_MASK) >> PT_COUNT_SHIFT;
}

static struct pt_table *table_alloc(struct pagetable *pt)
{
	struct pt_table *t = ivm_mem_zalloc(sizeof(*t), IVM_PAGE_SIZE);
	if (t)
		ivm_counter_add(&pt->tables, 1);
	return t;
}

/* Free a table no other thread has seen (a lost publication race). */
static void table_free_unseen(struct pagetable *pt, struct pt_table *t)
{
	if (!t)
		return;
	ivm_fetch_sub_relaxed(&pt->tables, 1);
	ivm_mem_free(t, sizeof(*t), IVM_PAGE_SIZE);
}

/* Invariant 4: aligned(16) keeps bit 0 of the function pointer clear. */
__attribute__((aligned(16))) static void table_free_rcu(struct rcu_head *head)
{
	ivm_rcu_callback_enter(head);
	ivm_mem_free(head, sizeof(struct pt_table), IVM_PAGE_SIZE);
}

/* Retire an unlinked table (count reached 0, so every entry is 0). */
static void table_retire(struct pagetable *pt, struct pt_table *t)
{
	struct rcu_head *head = (struct rcu_head *)(void *)t;

#if IVM_DEBUG_LEVEL >= 2
	for (unsigned i = 0; i < PT_ENTRIES; i++)
		IVM_CHECK(ivm_load_relaxed(&t->entry[i]) == 0);
#endif
	IVM_CHECK(((uintptr_t)&table_free_rcu & 1) == 0);
	ivm_fetch_sub_relaxed(&pt->tables, 1);
	ivm_rcu_call(head, table_free_rcu);
}

ivm_status pt_init(struct pagetable *pt, unsigned width)
{
	IVM_ASSERT(width > IVM_PAGE_SHIFT && width <= 63);
	memset(pt, 0, sizeof(*pt));
	pt->width = width;
	pt->levels = (width - IVM_PAGE_SHIFT + PT_BITS - 1) / PT_BITS;
	pt->ncpu = ivm_cpu_slots();
	pt->cpu = ivm_mem_zalloc(pt->ncpu * sizeof(*pt->cpu), _Alignof(struct pt_cpu));
	if (!pt->cpu)
		return IVM_STATUS_INSUFFICIENT_RESOURCES;
	pt->root = table_alloc(pt);
	if (!pt->root) {
		ivm_mem_free(pt->cpu, pt->ncpu * sizeof(*pt->cpu),
			     _Alignof(struct pt_cpu));
		pt->cpu = NULL;
		return IVM_STATUS_INSUFFICIENT_RESOURCES;
	}
	return IVM_STATUS_SUCCESS;
}

static void free_subtree(struct pt_table *t, unsigned level)
{
	if (level > 0) {
		for (unsigned i = 0; i < PT_ENTRIES; i++) {
			uint64_t e = ivm_load_relaxed(&t->entry[i]);
			if ((e & PT_PRESENT) && (e & PT_TABLE))
				free_subtree(entry_table(e), level - 1);
		}
	}
	ivm_mem_free(t, sizeof(*t), IVM_PAGE_SIZE);
}

void pt_fini(struct pagetable *pt)
{
	if (pt->root)
		free_subtree(pt->root, pt->levels - 1);
	pt->root = NULL;
	ivm_store_relaxed(&pt->tables, 0);
	if (pt->cpu)
		ivm_mem_free(pt->cpu, pt->ncpu * sizeof(*pt->cpu),
			     _Alignof(struct pt_cpu));
	pt->cpu = NULL;
}

/* ---- the empty-table estimate ("When to sweep") ------------------------- */

static inline struct pt_cpu *this_cpu(const struct pagetable *pt)
{
	return &pt->cpu[ivm_current_cpu(pt->ncpu)];
}

/* An empty table was reused (its count left 0). */
static inline void note_reused(struct pagetable *pt)
{
	ivm_estimate_add(&this_cpu(pt)->empty_delta, (uint64_t)-1);
}

/* A table emptied; true when this CPU should check the estimate now. */
static inline bool note_emptied(struct pagetable *pt)
{
	struct pt_cpu *c = this_cpu(pt);
	ivm_estimate_add(&c->empty_delta, 1);
	return ivm_estimate_add(&c->emptied, 1) % PT_RECLAIM_CHECK_EVERY == 0;
}

static uint64_t delta_sum(const struct pagetable *pt)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < pt->ncpu; i++)
		sum += ivm_load_relaxed(&pt->cpu[i].empty_delta);
	return sum;
}

bool pt_reclaim_due(const struct pagetable *pt)
{
	int64_t empty = (int64_t)(ivm_load_relaxed(&pt->empty_base) +
				  delta_sum(pt));
	uint64_t all = ivm_load_relaxed(&pt->tables);
	return empty >= (int64_t)PT_RECLAIM_MIN_EMPTY &&
	       (uint64_t)empty * PT_RECLAIM_RATIO >= all;
}

/*
 * Drop n uses/holds of the table behind *slot.  A table left with count 0
 * stays linked (lazy reclamation, above); it is counted as empty.
 */
static bool slot_drop(struct pagetable *pt, _Atomic uint64_t *slot, uint64_t n)
{
	if (!slot || n == 0)
		return false; /* the root has no count */
	uint64_t e = ivm_load_relaxed(slot);
	do {
		IVM_CHECK((e & PT_TABLE) && entry_count(e) >= n);
		/* R2: release orders this writer's changes of the child's
		 * entries before the count drop that pt_reclaim acquires
		 * (A3) before it unlinks the table. */
	} while (!ivm_cas_release(slot, &e, e - (n << PT_COUNT_SHIFT)));
	return entry_count(e) == n && note_emptied(pt);
}

/* After removals: sweep when one of them says the estimate is due. */
static void reclaim_if_due(struct pagetable *pt, bool check)
{
	if (ivm_unlikely(check) && pt_reclaim_due(pt))
		pt_reclaim(pt);
}

/*
 * Take a hold on table t through its entry *slot, if that entry still
 * points to t (protocol step 2).  False when it no longer does: t was
 * unlinked (or the slot reused), so the caller starts over.  The caller
 * is inside an RCU read-side section, so t's memory is still a table.
 */
static bool slot_hold(struct pagetable *pt, _Atomic uint64_t *slot,
		      const struct pt_table *t)
{
	/* A2: pairs with R1, like slot_enter's load. */
	uint64_t e = ivm_load_acquire(slot);

	for (;;) {
		if ((e & (PT_PRESENT | PT_TABLE)) != (PT_PRESENT | PT_TABLE) ||
		    entry_table(e) != t)
			return false;
		IVM_CHECK(entry_count(e) < PT_COUNT_MAX);
		/* Acquire: pairs with R1 and R2, so we see the table as its
		 * last writer left it.  A count of 0 is an empty table kept
		 * for reuse: the CAS beats pt_reclaim's unlink (R3). */
		if (ivm_cas_acq_rel(slot, &e, e + (1ull << PT_COUNT_SHIFT))) {
			if (entry_count(e) == 0)
				note_reused(pt);
			return true;
		}
	}
}

/* Add n uses to the table behind *slot (the caller holds it). */
static void slot_add(struct pagetable *pt, _Atomic uint64_t *slot, uint64_t n)
{
	if (!slot || n == 0)
		return;
	uint64_t e = ivm_load_relaxed(slot);
	do {
		IVM_CHECK((e & PT_TABLE) && entry_count(e) + n <= PT_COUNT_MAX);
		/* Relaxed is enough: our hold keeps the count above 0, so no
		 * reclaim can act on this entry meanwhile. */
	} while (!ivm_cas_relaxed(slot, &e, e + (n << PT_COUNT_SHIFT)));
}

/*
 * Enter the table behind *slot taking one hold, creating it if the slot is
 * empty.  Returns NULL with *status IN_USE if the slot holds a leaf or a
 * marker, INSUFFICIENT_RESOURCES if no memory.
 */
static struct pt_table *slot_enter(struct pagetable *pt, _Atomic uint64_t *slot,
				   bool *created, ivm_status *status)
{
	struct pt_table *fresh = NULL;
	/* A2: pairs with R1 (a table published by another writer). */
	uint64_t e = ivm_load_acquire(slot);

	for (;;) {
		if (e == 0) {
			if (!fresh && !(fresh = table_alloc(pt))) {
				*status = IVM_STATUS_INSUFFICIENT_RESOURCES;
				return NULL;
			}
			uint64_t desired = (uint64_t)(uintptr_t)fresh | PT_PRESENT |
					   PT_TABLE | (1ull << PT_COUNT_SHIFT);
			/* R1: the zeroed table is visible before its address;
			 * pairs with A1 (readers) and A2 (writers). */
			if (ivm_cas_acq_rel(slot, &e, desired)) {
				*created = true;
				return fresh;
			}
			continue; /* e now holds the winner's entry */
		}
		if (!(e & PT_TABLE)) {
			table_free_unseen(pt, fresh);
			*status = IVM_STATUS_IN_USE;
			return NULL;
		}
		if (slot_hold(pt, slot, entry_table(e))) {
			table_free_unseen(pt, fresh);
			*created = false;
			return entry_table(e);
		}
		e = ivm_load_acquire(slot); /* A2, again: it changed */
	}
}

/* The leaf value for page `index` (of `pages`) at level `level`. */
static uint64_t leaf_value(const struct pt_source *src, uint64_t index,
			   uint64_t pages, unsigned level)
{
	if (src->marker)
		return PT_MARKER;
	uint64_t span = pt_level_size(level) >> IVM_PAGE_SHIFT;
	uint64_t pa = src->pfns ? src->pfns[index] << IVM_PAGE_SHIFT
				: src->base + (index << IVM_PAGE_SHIFT);
	uint64_t v = pa | PT_PRESENT | src->flags;
	if (index == 0)
		v |= PT_FIRST;
	if (index + span == pages)
		v |= PT_LAST;
	return v;
}

/* The largest leaf level usable at page `index`. */
static unsigned leaf_level_for(const struct pagetable *pt,
			       const struct pt_source *src, ivm_la la,
			       uint64_t index, uint64_t pages)
{
	if (!src->allow_large || src->pfns)
		return 0;
	uint64_t pa = src->base + (index << IVM_PAGE_SHIFT);
	for (unsigned level = 2; level > 0; level--) {
		uint64_t size = pt_level_size(level);
		if (level > pt->levels - 1)
			continue;
		if (((la | pa) & (size - 1)) == 0 &&
		    ((pages - index) << IVM_PAGE_SHIFT) >= size)
			return level;
	}
	return 0;
}

/*
 * Install one run of leaves, all in one table at one level.  Returns the
 * number of pages installed in *done; status non-SUCCESS stops the caller.
 */
static ivm_status install_run(struct pagetable *pt, ivm_la base,
			      uint64_t index, uint64_t pages,
			      const struct pt_source *src, bool expect_marker,
			      uint64_t *done)
{
	ivm_la la = base + (index << IVM_PAGE_SHIFT);
	unsigned target = leaf_level_for(pt, src, la, index, pages);
	uint64_t span = pt_level_size(target) >> IVM_PAGE_SHIFT;
	struct pt_path path;
	struct pt_table *t;
	unsigned level;
	ivm_status status = IVM_STATUS_SUCCESS;

	*done = 0;
	/* Protocol steps 1 and 2: walk down the existing tables, then hold
	 * the deepest one reached.  Markers pin their tables, so a
	 * reservation's maps need no holds (invariant 2). */
	for (;;) {
		t = pt->root;
		level = pt->levels - 1;
		path.slot[level] = NULL;
		path.table[level] = t;
		ivm_rcu_read_lock();
		while (level > target) {
			_Atomic uint64_t *slot = &t->entry[pt_index(la, level)];
			/* A2: pairs with R1. */
			uint64_t e = ivm_load_acquire(slot);
			if ((e & (PT_PRESENT | PT_TABLE)) != (PT_PRESENT | PT_TABLE))
				break;
			t = entry_table(e);
			level--;
			path.slot[level] = slot;
			path.table[level] = t;
		}
		bool held = expect_marker || !path.slot[level] ||
			    slot_hold(pt, path.slot[level], t);
		ivm_rcu_read_unlock();
		if (held)
			break;
		/* t was unlinked under us: start again from the root. */
	}

	/* Step 3: descend by holds, creating tables where needed. */
	while (level > target) {
		_Atomic uint64_t *slot = &t->entry[pt_index(la, level)];
		struct pt_table *child;

		if (expect_marker) {
			/* A2: pairs with R1. */
			uint64_t e = ivm_load_acquire(slot);
			if (!(e & PT_TABLE))
				return IVM_STATUS_IN_USE;
			child = entry_table(e);
		} else {
			bool created = false;
			child = slot_enter(pt, slot, &created, &status);
			if (!child) {
				slot_drop(pt, path.slot[level], 1);
				return status;
			}
			if (!created)
				slot_drop(pt, path.slot[level], 1);
		}
		level--;
		path.slot[level] = slot;
		path.table[level] = child;
		t = child;
	}

	/* Fill consecutive entries of this table. */
	unsigned i = pt_index(la, level);
	uint64_t installed = 0;
	while (i < PT_ENTRIES && index < pages) {
		if (target != leaf_level_for(pt, src, base + (index << IVM_PAGE_SHIFT),
					     index, pages))
			break;
		uint64_t expect = expect_marker ? PT_MARKER : 0;
		uint64_t v = leaf_value(src, index, pages, level);
		/* R1: publishes the leaf; pairs with A1. */
		if (!ivm_cas_release(&t->entry[i], &expect, v)) {
			status = IVM_STATUS_IN_USE;
			break;
		}
		installed++;
		i++;
		index += span;
	}
	*done = installed * span;

	if (!expect_marker) {
		if (installed > 0)
			slot_add(pt, path.slot[level], installed - 1);
		else
			slot_drop(pt, path.slot[level], 1);
	}
	return status;
}

static ivm_status install_once(struct pagetable *pt, ivm_la la, uint64_t pages,
				const struct pt_source *src, bool expect_marker)
{
	uint64_t index = 0;

	while (index < pages) {
		uint64_t done;
		ivm_status status = install_run(pt, la, index, pages, src,
						expect_marker, &done);
		index += done;
		if (status != IVM_STATUS_SUCCESS) {
			if (index > 0)
				pt_remove(pt, la, index, expect_marker);
			return status;
		}
	}
	return IVM_STATUS_SUCCESS;
}

ivm_status pt_install(struct pagetable *pt, ivm_la la, uint64_t pages,
		      const struct pt_source *src, bool expect_marker)
{
	IVM_ASSERT(pages > 0);
	ivm_status status = install_once(pt, la, pages, src, expect_marker);
	/* An empty table kept for reuse occupies the slot a large leaf
	 * wants: tables are a cache, never a reason to refuse a map, so
	 * reclaim them and try once more. */
	if (status == IVM_STATUS_IN_USE && !expect_marker &&
	    pt_empty_count(pt) > 0 && pt_reclaim(pt) > 0)
		status = install_once(pt, la, pages, src, expect_marker);
	return status;
}

/*
 * Descend to the slot holding la's entry, whatever it holds (leaf,
 * marker, or empty at the level where the walk stopped).  Fills path.
 */
static _Atomic uint64_t *find_slot(const struct pagetable *pt, ivm_la la,
				   unsigned *level_out, struct pt_path *path)
{
	struct pt_table *t = pt->root;
	unsigned level = pt->levels - 1;

	path->slot[level] = NULL;
	path->table[level] = t;
	for (;;) {
		_Atomic uint64_t *slot = &t->entry[pt_index(la, level)];
		/* A2: pairs with R1. */
		uint64_t e = ivm_load_acquire(slot);
		if (level == 0 || !(e & PT_PRESENT) || !(e & PT_TABLE)) {
			*level_out = level;
			return slot;
		}
		level--;
		path->slot[level] = slot;
		path->table[level] = entry_table(e);
		t = entry_table(e);
	}
}

void pt_remove(struct pagetable *pt, ivm_la la, uint64_t pages, bool to_marker)
{
	ivm_la end = la + (pages << IVM_PAGE_SHIFT); /* may be 2^width, not 0 */
	ivm_la cur = la;
	bool check = false;

	while (cur != end) {
		struct pt_path path;
		unsigned level;
		_Atomic uint64_t *slot = find_slot(pt, cur, &level, &path);
		struct pt_table *t = path.table[level];
		uint64_t size = pt_level_size(level);
		unsigned i = pt_index(cur, level);
		uint64_t cleared = 0;

		while (i < PT_ENTRIES && cur != end) {
			uint64_t e = ivm_load_relaxed(&t->entry[i]);
			if ((e & PT_PRESENT) && (e & PT_TABLE))
				break; /* descend again */
			IVM_CHECK(e != 0 && (cur & (size - 1)) == 0);
			/* Release: the leaf's last readers need no ordering
			 * (the IOTLB sync that follows orders devices); this
			 * orders the clear before a later re-install by
			 * another writer that acquires the entry. */
			ivm_store_release(&t->entry[i], to_marker ? PT_MARKER : 0);
			cleared++;
			i++;
			cur += size;
		}
		(void)slot;
		if (!to_marker)
			check |= slot_drop(pt, path.slot[level], cleared);
	}
	reclaim_if_due(pt, check);
}

bool pt_take_single(struct pagetable *pt, ivm_la la, uint64_t pages,
		    unsigned kind_mask, enum pt_kind *kind_out)
{
	struct pt_path path;
	unsigned level;
	bool taken = false, check = false;

	/* A read-side section: the walk may meet a table being unlinked (if
	 * the leaf is not ours after all). */
	ivm_rcu_read_lock();
	_Atomic uint64_t *slot = find_slot(pt, la, &level, &path);
	/* A4: pairs with R1 (the leaf's publication). */
	uint64_t e = ivm_load_acquire(slot);
	const uint64_t whole = PT_PRESENT | PT_FIRST | PT_LAST;
	if ((e & (whole | PT_TABLE | PT_DYING)) == whole &&
	    (la & (pt_level_size(level) - 1)) == 0 &&
	    pages == pt_level_size(level) >> IVM_PAGE_SHIFT &&
	    ((1u << pt_leaf_kind(e)) & kind_mask)) {
		/* A4: one CAS owns and clears the mapping; losing means
		 * another unmap owns it (or it changed). */
		taken = ivm_cas_acq_rel(slot, &e, 0);
		if (taken) {
			*kind_out = pt_leaf_kind(e);
			/* Our leaf was a use of its table, so the table is
			 * still linked here. */
			check = slot_drop(pt, path.slot[level], 1);
		}
	}
	ivm_rcu_read_unlock();
	reclaim_if_due(pt, check);
	return taken;
}

bool pt_range_empty(const struct pagetable *pt, ivm_la la, uint64_t pages)
{
	ivm_la end = la + (pages << IVM_PAGE_SHIFT);
	ivm_la cur = la;
	bool empty = true;

	ivm_rcu_read_lock(); /* as in walk_whole */
	while (cur != end) {
		struct pt_path path;
		unsigned level;
		_Atomic uint64_t *slot = find_slot(pt, cur, &level, &path);
		uint64_t e = ivm_load_acquire(slot);
		uint64_t size = pt_level_size(level);

		if (e != 0) {
			empty = false;
			break;
		}
		/* An empty slot at this level covers its whole block. */
		ivm_la next = (cur | (size - 1)) + 1;
		if (next == 0 || end - cur <= next - cur)
			break;
		cur = next;
	}
	ivm_rcu_read_unlock();
	return empty;
}

/* Clear PT_DYING on every first leaf in [la, until): the claims a failed
 * pt_claim_whole made (every mapping start before `until` is its own). */
static void unclaim(const struct pagetable *pt, ivm_la la, ivm_la until)
{
	ivm_la cur = la;

	while (cur < until) {
		struct pt_path path;
		unsigned level;
		find_slot(pt, cur, &level, &path);
		struct pt_table *t = path.table[level];
		uint64_t size = pt_level_size(level);

		for (unsigned i = pt_index(cur, level);
		     i < PT_ENTRIES && cur < until; i++, cur += size) {
			uint64_t e = ivm_load_relaxed(&t->entry[i]);
			if ((e & PT_PRESENT) && (e & PT_TABLE))
				break;
			/* Release: pairs with A4 of an unmapper that claims
			 * the mapping next. */
			if ((e & PT_PRESENT) && (e & PT_FIRST) && (e & PT_DYING))
				ivm_store_release(&t->entry[i], e & ~PT_DYING);
		}
	}
}

/*
 * The walk behind pt_check_whole and pt_claim_whole: is [la, la + pages)
 * exactly whole mappings of the kinds in kind_mask?  With claim, each
 * mapping is owned (PT_DYING set on its first leaf by CAS) before the rest
 * of it is trusted, and a failed walk undoes its claims.
 */
static bool walk_whole(struct pagetable *pt, ivm_la la, uint64_t pages,
		       unsigned kind_mask, bool claim,
		       void (*visit)(void *ctx, ivm_la la, uint64_t pages,
				     enum pt_kind kind),
		       void *ctx)
{
	ivm_la end = la + (pages << IVM_PAGE_SHIFT);
	ivm_la cur = la, start = la;
	bool in_mapping = false, whole = true;
	enum pt_kind kind = PT_KIND_ALLOCATED;

	/* The range may hold no leaf of ours: walk inside a read-side
	 * section so that tables reclaimed meanwhile stay readable. */
	ivm_rcu_read_lock();
	while (cur != end && whole) {
		struct pt_path path;
		unsigned level;
		find_slot(pt, cur, &level, &path);
		struct pt_table *t = path.table[level];
		uint64_t size = pt_level_size(level);
		unsigned i = pt_index(cur, level);

		while (i < PT_ENTRIES && cur != end) {
			/* A4: pairs with R1 (the leaf's publication) and the
			 * release of an unclaim. */
			uint64_t e = ivm_load_acquire(&t->entry[i]);
			if ((e & PT_PRESENT) && (e & PT_TABLE))
				break;
			if (!(e & PT_PRESENT) ||
			    (cur & (size - 1)) != 0 || end - cur < size ||
			    !((1u << pt_leaf_kind(e)) & kind_mask)) {
				whole = false; /* hole, large leaf sticking out,
						  or another family */
				break;
			}
			if (!in_mapping) {
				/* Own the mapping before trusting its shape:
				 * one CAS on its first leaf.  Losing means
				 * another unmap owns it (or it changed). */
				if (!(e & PT_FIRST) ||
				    (claim && ((e & PT_DYING) ||
					       !ivm_cas_acq_rel(&t->entry[i], &e,
								e | PT_DYING)))) {
					whole = false;
					break;
				}
				in_mapping = true;
				start = cur;
				kind = pt_leaf_kind(e);
			} else if ((e & PT_FIRST) || pt_leaf_kind(e) != kind) {
				whole = false; /* malformed: never happens */
				break;
			}
			cur += size;
			i++;
			if (e & PT_LAST) {
				in_mapping = false;
				if (visit)
					visit(ctx, start,
					      (cur - start) >> IVM_PAGE_SHIFT, kind);
			}
		}
	}
	if (in_mapping)
		whole = false; /* the last mapping runs past the range */
	if (!whole && claim)
		unclaim(pt, la, in_mapping ? start + 1 : cur);
	ivm_rcu_read_unlock();
	return whole;
}

bool pt_check_whole(const struct pagetable *pt, ivm_la la, uint64_t pages,
		    unsigned kind_mask,
		    void (*visit)(void *ctx, ivm_la la, uint64_t pages,
				  enum pt_kind kind),
		    void *ctx)
{
	/* Without claim the walk writes nothing. */
	return walk_whole((struct pagetable *)pt, la, pages, kind_mask, false,
			  visit, ctx);
}

bool pt_claim_whole(struct pagetable *pt, ivm_la la, uint64_t pages,
		    unsigned kind_mask,
		    void (*visit)(void *ctx, ivm_la la, uint64_t pages,
				  enum pt_kind kind),
		    void *ctx)
{
	return walk_whole(pt, la, pages, kind_mask, true, visit, ctx);
}

/*
 * Unlink and retire the empty tables below t (post-order, so a parent
 * emptied by its children's removal goes in the same sweep).  t_slot is
 * t's entry in its parent (NULL for the root).  Returns tables retired.
 */
static uint64_t reclaim_below(struct pagetable *pt, struct pt_table *t,
			      _Atomic uint64_t *t_slot, unsigned level)
{
	uint64_t retired = 0;

	for (unsigned i = 0; i < PT_ENTRIES; i++) {
		_Atomic uint64_t *slot = &t->entry[i];
		/* A3: pairs with R2 (the drop that emptied the child) and R1. */
		uint64_t e = ivm_load_acquire(slot);
		if (!(e & PT_PRESENT) || !(e & PT_TABLE))
			continue;
		struct pt_table *child = entry_table(e);
		if (level > 1)
			retired += reclaim_below(pt, child, slot, level - 1);
		e = ivm_load_acquire(slot); /* A3, again: children may have gone */
		if (!(e & PT_TABLE) || entry_count(e) != 0 || entry_table(e) != child)
			continue;
		/* R3: unlinks only if no writer took a hold since the load;
		 * pairs with A2 of a writer who then finds the entry empty. */
		if (!ivm_cas_acq_rel(slot, &e, 0))
			continue;
		table_retire(pt, child);
		retired++;
		slot_drop(pt, t_slot, 1);
	}
	return retired;
}

uint64_t pt_reclaim(struct pagetable *pt)
{
	if (pt->levels < 2)
		return 0;
	/* Another sweep may unlink a table this one is walking. */
	ivm_rcu_read_lock();
	uint64_t retired = reclaim_below(pt, pt->root, NULL, pt->levels - 1);
	ivm_rcu_read_unlock();
	/* The sweep left (about) no empty table: restart the estimate at 0.
	 * Updates racing with this line only skew it a little. */
	ivm_store_relaxed(&pt->empty_base, (uint64_t)0 - delta_sum(pt));
	return retired;
}

static void tally_below(const struct pt_table *t, unsigned level,
			struct pt_tally *out)
{
	for (unsigned i = 0; i < PT_ENTRIES; i++) {
		/* A1: pairs with R1, as in pt_lookup. */
		uint64_t e = ivm_load_acquire((_Atomic uint64_t *)&t->entry[i]);
		if (!(e & PT_PRESENT))
			continue;
		if (e & PT_TABLE) {
			if (entry_count(e) == 0)
				out->empty_tables++;
			tally_below(entry_table(e), level - 1, out);
		} else if (pt_leaf_kind(e) != PT_KIND_REGION) {
			out->pages += pt_level_size(level) >> IVM_PAGE_SHIFT;
			out->mappings += (e & PT_FIRST) != 0;
		}
	}
}

void pt_tally(const struct pagetable *pt, struct pt_tally *out)
{
	memset(out, 0, sizeof(*out));
	ivm_rcu_read_lock(); /* tables unlinked meanwhile stay readable */
	tally_below(pt->root, pt->levels - 1, out);
	ivm_rcu_read_unlock();
}
