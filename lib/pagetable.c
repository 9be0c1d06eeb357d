/* SPDX-License-Identifier: MIT */
/*
 * pagetable.c - the radix page table (see pagetable.h for the format).
 *
 * Design source: the hardware IOMMU page tables of VT-d and Arm SMMU (one
 * 4 KiB table per level, 9 bits per level, large leaves at levels 1 and
 * 2), and Linux io-pgtable-arm.c for publishing tables with a single
 * compare-and-swap whose loser frees its unseen copy.  Departure: readers
 * are software threads, not only the IOMMU, so tables emptied by unmap are
 * retired through RCU instead of freed after an IOTLB sync, and a table is
 * sealed before it is unlinked, so that no writer can still add to it.
 *
 * Writers.  A writer installing into table T walks down from the root
 * inside an RCU read-side section, so no table it passes is freed under
 * it, creating missing tables by a CAS from 0 on the way, and takes each
 * leaf by a CAS from 0 (or from PT_MARKER inside a reservation).  It
 * writes nothing else: no use count, no hold.  A map of one page into an
 * existing leaf table is one CAS; the upper-level entries, which every
 * translate reads, are written only when a table is created or unlinked.
 * A remover clears the leaves it owns (an unmap's claim) with a store or a
 * CAS, and writes nothing else either.
 *
 * Reclamation is lazy.  A table left empty stays linked, ready for the
 * next map into its range: a map/unmap cycle on one page then allocates,
 * zeroes and frees no table and starts no RCU grace period.  pt_reclaim
 * (run by unmaps once they have removed enough pages, PT_RECLAIM_* in
 * pagetable.h, and by ivm_domain_trim) sweeps the tables bottom-up; a
 * table whose entries are all 0 is
 *   1. sealed: every entry is turned from 0 into PT_DEAD by a CAS, in
 *      index order.  A writer's CAS from 0 on the same entry either came
 *      first (the seal's CAS fails, the sweep restores the entries it
 *      sealed and leaves the table alone) or fails on PT_DEAD (the writer
 *      starts again from the root).  So once every entry is sealed, no
 *      writer can add to the table any more: the table is empty for good;
 *   2. unlinked: its parent's entry is cleared by a CAS that expects the
 *      table (a racing sweep may have done it first);
 *   3. retired: freed after an RCU grace period, through a small record
 *      allocated for it (so the table's entries stay PT_DEAD until then).
 * A sweep that cannot allocate the record leaves the table linked.  The
 * root is never unlinked.
 *
 * Invariants:
 *  1. Only the sweep that sealed a table writes PT_DEAD into it, or takes
 *     PT_DEAD out of it (when a seal fails); every other writer changes an
 *     entry only by a CAS from 0 or PT_MARKER, or by a store to a leaf or
 *     marker it owns.  A 4 KiB slot of a range its writer owns outright
 *     (struct pt_source.exclusive: the allocator handed the range out) is
 *     such a store, once the writer's CAS on an earlier slot of the same
 *     table has pinned the table (invariant 3).
 *  2. A linked table has no PT_DEAD entry, except during a seal.  A sealed
 *     table is never written again; it is unlinked, then freed after a
 *     grace period (table_retire), so a reader or writer that loaded its
 *     address inside a read-side section can keep reading it and finds
 *     every entry PT_DEAD (not present: "unmapped" to a reader, "start
 *     again" to a writer).
 *  3. A table holding a leaf, a marker or a child table cannot be sealed
 *     (the seal CAS on that entry fails).  In particular a writer's own
 *     leaves keep their table, and so every table above them, linked.
 *  4. Every entry changes by one atomic store or CAS, so readers never see
 *     a torn entry.
 *
 * When to sweep.  Unmaps add the pages they remove to a per-CPU cell
 * (struct pt_cpu, plain load and store on a line of its own: no cache
 * line shared between CPUs on the data path), and a CPU sums the cells
 * every PT_RECLAIM_CHECK_PAGES pages it removes.  A sweep is due once the
 * table has at least PT_RECLAIM_MIN_TABLES tables and the pages removed
 * since the last sweep reach PT_RECLAIM_PAGES_PER_TABLE per table: a sweep
 * reads every entry once, so it costs at most 512 /
 * PT_RECLAIM_PAGES_PER_TABLE entry loads per page unmapped, and a small
 * table (a few MiB of working set) is never swept behind the caller's
 * back.  A lost update of a cell (two threads racing on one CPU's cell)
 * only moves the next sweep a little.
 *
 * Concurrency (which operations may run at once on one table):
 *   pt_lookup        | with everything
 *   pt_install       | with pt_install / pt_remove of disjoint ranges
 *   pt_remove        | with pt_install / pt_remove of disjoint ranges
 *   pt_check_whole   | with everything (it only reads)
 *   pt_claim_whole   | with everything; of two claims of one mapping
 *   pt_take_mapping  | exactly one wins (a CAS on its first leaf)
 *   pt_reclaim       | with everything (the seal settles races)
 *   pt_tally         | with everything (it only reads)
 * (Overlapping installs resolve to exactly one winner: each leaf is taken
 * by a CAS from empty, in address order, so the holder of the lowest
 * contested page wins and the other removes what it installed.)
 *
 * Mutation builds (tests only; iovamap-stress must fail in each):
 * -Dbroken_no_grace_period=true frees a swept table at once (breaks
 * invariant 2), -Dbroken_no_overlap_check=true lets an install overwrite
 * another mapping's leaf (breaks invariant 1 and the one-winner rule).
 * Test builds (-Dfault_injection=true) may fail a table allocation
 * (fault.h, IVM_FAULT_PT_ALLOC).
 */
#include "pagetable.h"

#include <sched.h>
#include <stddef.h>
#include <string.h>

#include "cpu.h"
#include "fault.h"
#include "ivm_config.h"
#include "mem.h"
#include "rcu.h"
#include "util.h"

_Static_assert(sizeof(struct pt_table) == IVM_PAGE_SIZE,
	       "a table is one page");
/* Restarts of an install that meets a table being sealed, before each
 * sched_yield(). */
#define PT_SPINS_BEFORE_YIELD 64u

/* What retires a table: the rcu_head lives outside the table, so that the
 * table's entries stay PT_DEAD until it is freed (invariant 2). */
struct pt_retired {
	struct rcu_head head;
	struct pt_table *table;
};

static inline struct pt_table *entry_table(uint64_t e)
{
	return (struct pt_table *)(uintptr_t)(e & PT_ADDR_MASK);
}

static inline bool entry_is_table(uint64_t e)
{
	return (e & (PT_PRESENT | PT_TABLE)) == (PT_PRESENT | PT_TABLE);
}

static struct pt_table *table_alloc(struct pagetable *pt)
{
	/* Test builds: a page-table page may fail on its own (fault.h). */
	if (ivm_fault_inject(IVM_FAULT_PT_ALLOC))
		return NULL;
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

static void table_free_rcu(struct rcu_head *head)
{
	struct pt_retired *r = caa_container_of(head, struct pt_retired, head);

	ivm_rcu_callback_enter(head);
	ivm_mem_free(r->table, sizeof(struct pt_table), IVM_PAGE_SIZE);
	ivm_mem_free(r, sizeof(*r), _Alignof(struct pt_retired));
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
			if (entry_is_table(e))
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

/* ---- when to sweep (top of the file) ------------------------------------- */

static uint64_t removed_sum(const struct pagetable *pt)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < pt->ncpu; i++)
		sum += ivm_load_relaxed(&pt->cpu[i].removed);
	return sum;
}

/* Whether unmaps have removed enough pages since the last sweep. */
static bool reclaim_due(const struct pagetable *pt)
{
	uint64_t tables = ivm_load_relaxed(&pt->tables);
	if (tables < PT_RECLAIM_MIN_TABLES)
		return false;
	uint64_t since = removed_sum(pt) - ivm_load_relaxed(&pt->removed_base);
	return since >= tables * PT_RECLAIM_PAGES_PER_TABLE;
}

/* After removing `pages` pages: count them on this CPU's cell and, every
 * PT_RECLAIM_CHECK_PAGES of them, sweep if one is due. */
static void note_removed(struct pagetable *pt, uint64_t pages)
{
	struct pt_cpu *c = &pt->cpu[ivm_current_cpu(pt->ncpu)];
	uint64_t after = ivm_estimate_add(&c->removed, pages);

	/* Crossed a multiple of PT_RECLAIM_CHECK_PAGES (a power of two). */
	if (ivm_unlikely(((after - pages) ^ after) >= PT_RECLAIM_CHECK_PAGES) &&
	    reclaim_due(pt))
		pt_reclaim(pt);
}

/*
 * The table behind *slot, creating it if the slot is empty.  Returns NULL
 * with *status IN_USE if the slot holds a leaf or a marker,
 * INSUFFICIENT_RESOURCES if no memory, or AGAIN (*status SUCCESS) if the
 * slot is PT_DEAD: the table holding it is being sealed, start again.
 * Context: inside a read-side section.
 */
static struct pt_table *slot_enter(struct pagetable *pt, _Atomic uint64_t *slot,
				   ivm_status *status)
{
	struct pt_table *fresh = NULL;
	/* A2: pairs with R1 (a table published by another writer). */
	uint64_t e = ivm_load_acquire(slot);

	*status = IVM_STATUS_SUCCESS;
	for (;;) {
		if (entry_is_table(e)) {
			table_free_unseen(pt, fresh);
			return entry_table(e);
		}
		if (e != 0) {
			table_free_unseen(pt, fresh);
			if (e != PT_DEAD)
				*status = IVM_STATUS_IN_USE;
			return NULL;
		}
		if (!fresh && !(fresh = table_alloc(pt))) {
			*status = IVM_STATUS_INSUFFICIENT_RESOURCES;
			return NULL;
		}
		uint64_t desired = (uint64_t)(uintptr_t)fresh | PT_PRESENT | PT_TABLE;
		/* R1: the zeroed table is visible before its address; pairs
		 * with A1 (readers) and A2 (writers).  Acquire on failure:
		 * e then holds the winner's table, which we enter. */
		if (ivm_cas_acq_rel(slot, &e, desired))
			return fresh;
	}
}

/*
 * The overlap check of an install is its CAS from empty: a slot holding
 * another mapping's leaf makes the map fail with IN_USE.  In a build with
 * -Dbroken_no_overlap_check=true (tests only) this breaks it on purpose: a
 * leaf found in the way is overwritten, so two overlapping maps both
 * succeed.  iovamap-stress must fail in that build.  Returns true when it
 * overwrote (never in a correct build).
 */
static inline bool broken_overwrite(_Atomic uint64_t *slot, uint64_t found,
				    uint64_t v)
{
#if IVM_BROKEN_NO_OVERLAP_CHECK
	if ((found & (PT_PRESENT | PT_TABLE)) == PT_PRESENT) {
		ivm_store_release(slot, v); /* R1, as the CAS it replaces */
		return true;
	}
#else
	(void)slot;
	(void)v;
#endif
	(void)found;
	return false;
}

/* The frame address of a frame-array entry: a frame number, or (in_page)
 * a byte address within the frame. */
static inline uint64_t frame_of(uint64_t v, bool in_page)
{
	return in_page ? v & PT_ADDR_MASK : v << IVM_PAGE_SHIFT;
}

/* The leaf value for page `index` (of `pages`) at level `level`. */
static uint64_t leaf_value(const struct pt_source *src, uint64_t index,
			   uint64_t pages, unsigned level)
{
	if (src->marker)
		return PT_MARKER;
	uint64_t span = pt_level_size(level) >> IVM_PAGE_SHIFT;
	uint64_t pa = src->pfns ? frame_of(src->pfns[index], src->in_page)
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

/* store_frames' and pt_fill_reserved's loop: frames as numbers, or
 * (in_page) as byte addresses, a constant at each call, so that the loop
 * holds no test; every slot holds `was` before (0, or a reservation's
 * PT_MARKER).  Four leaves a step: a burst's 32 leaves are its whole
 * cost per page. */
#define STORE_LEAF(n, extra)                                                \
	do {                                                                \
		IVM_ASSERT(ivm_load_relaxed(&slot[n]) == was);              \
		/* R1, as the CAS of install_run. */                        \
		ivm_store_release(&slot[n], frame_of(pfns[n], in_page) |    \
						    flags | (extra));       \
	} while (0)
static inline __attribute__((always_inline)) void
store_leaves(_Atomic uint64_t *slot, const uint64_t *pfns, uint64_t body,
	     uint64_t count, uint64_t flags, bool in_page, uint64_t was)
{
	uint64_t n = 0;

	for (; body - n >= 4; n += 4) {
		STORE_LEAF(n, 0);
		STORE_LEAF(n + 1, 0);
		STORE_LEAF(n + 2, 0);
		STORE_LEAF(n + 3, 0);
	}
	for (; n < body; n++)
		STORE_LEAF(n, 0);
	if (body < count)
		STORE_LEAF(body, PT_LAST);
}
#undef STORE_LEAF

/*
 * Store the leaves of frames pfns[index ..] into table t from entry i on,
 * as many as fit (store_exclusive's case of an array of frames).  Returns
 * how many.  Frames are always 4 KiB leaves, never the
 * first of their mapping here.  A burst of packets (lib/dpdk.c) maps such
 * an array: this loop is its cost per page.
 */
static uint64_t store_frames(struct pt_table *t, unsigned i,
			     const struct pt_source *src, uint64_t index,
			     uint64_t pages)
{
	/* Locals: the stores below could otherwise alias *src. */
	const uint64_t *pfns = src->pfns + index;
	_Atomic uint64_t *slot = &t->entry[i];
	const uint64_t flags = PT_PRESENT | src->flags;
	uint64_t count = pages - index;

	if (count > PT_ENTRIES - i)
		count = PT_ENTRIES - i;
	/* The mapping's last leaf, if in this table, takes PT_LAST. */
	uint64_t body = count - (index + count == pages);
	if (src->in_page)
		store_leaves(slot, pfns, body, count, flags, true, 0);
	else
		store_leaves(slot, pfns, body, count, flags, false, 0);
	return count;
}

/*
 * Store the 4 KiB leaves of src's pages index .. into leaf table t from
 * entry i on, as many as fit in t; returns how many.  Only after the
 * mapping's first leaf pinned t (invariant 3) and only for an exclusive
 * range, whose slots are empty and stay so: stores, not CASes.  From an
 * entry past the first of a table on, no page is 2 MiB aligned, so every
 * one of them takes a 4 KiB leaf.
 */
static uint64_t store_exclusive(struct pt_table *t, unsigned i,
				const struct pt_source *src, uint64_t index,
				uint64_t pages)
{
	if (src->pfns)
		return store_frames(t, i, src, index, pages);
	uint64_t count = pages - index;
	if (count > PT_ENTRIES - i)
		count = PT_ENTRIES - i;
	for (uint64_t n = 0; n < count; n++) {
		IVM_ASSERT(ivm_load_relaxed(&t->entry[i + n]) == 0);
		/* R1, as the CAS of install_run. */
		ivm_store_release(&t->entry[i + n],
				  leaf_value(src, index + n, pages, 0));
	}
	return count;
}

/*
 * Install one run of leaves, all in one table at one level.  Returns the
 * number of pages installed in *done; status non-SUCCESS stops the caller.
 * *again: the run met a table being sealed before installing anything;
 * the caller runs it again (from the root).
 */
static ivm_status install_run(struct pagetable *pt, ivm_la base,
			      uint64_t index, uint64_t pages,
			      const struct pt_source *src, bool expect_marker,
			      uint64_t *done, bool *again)
{
	ivm_la la = base + (index << IVM_PAGE_SHIFT);
	unsigned target = leaf_level_for(pt, src, la, index, pages);
	uint64_t span = pt_level_size(target) >> IVM_PAGE_SHIFT;
	struct pt_table *t = pt->root;
	unsigned level = pt->levels - 1;
	ivm_status status = IVM_STATUS_SUCCESS;

	*done = 0;
	*again = false;
	/* Every table on the way stays allocated until we leave
	 * (invariant 2); markers pin their tables (invariant 3), so a
	 * reservation's maps never create one. */
	ivm_rcu_read_lock();
	while (level > target) {
		_Atomic uint64_t *slot = &t->entry[pt_index(la, level)];
		struct pt_table *child;

		if (expect_marker) {
			/* A2: pairs with R1. */
			uint64_t e = ivm_load_acquire(slot);
			if (entry_is_table(e)) {
				child = entry_table(e);
			} else {
				child = NULL;
				status = IVM_STATUS_IN_USE;
			}
		} else {
			child = slot_enter(pt, slot, &status);
		}
		if (!child) {
			ivm_rcu_read_unlock();
			*again = status == IVM_STATUS_SUCCESS;
			return status;
		}
		level--;
		t = child;
	}

	/* Fill consecutive entries of this table. */
	unsigned i = pt_index(la, level);
	uint64_t installed = 0;
	while (i < PT_ENTRIES && index < pages) {
		if (target != leaf_level_for(pt, src, base + (index << IVM_PAGE_SHIFT),
					     index, pages))
			break;
		if (installed > 0 && level == 0 && src->exclusive &&
		    !expect_marker) {
			/* Our first leaf pins this table (invariant 3: a
			 * seal, which goes in index order, fails on it and
			 * never reaches the entries after it), and nobody
			 * else installs into an exclusive range: its slots
			 * are empty and stay so.  Stores, not CASes, to the
			 * table's end (store_exclusive).  Only at level 0: a
			 * slot above may hold an empty table kept for reuse,
			 * which the CAS finds (pt_install reclaims it) and a
			 * store would overwrite. */
			uint64_t n = store_exclusive(t, i, src, index, pages);

			installed += n;
			i += (unsigned)n;
			index += n * span;
			continue;
		}
		uint64_t expect = expect_marker ? PT_MARKER : 0;
		uint64_t v = leaf_value(src, index, pages, level);
		/* R1: publishes the leaf; pairs with A1. */
		if (!ivm_cas_release(&t->entry[i], &expect, v) &&
		    !broken_overwrite(&t->entry[i], expect, v)) {
			if (expect == PT_DEAD && installed == 0) {
				*again = true; /* sealed: start again */
				break;
			}
			/* (After our first leaf the table cannot be sealed,
			 * and a failed seal restores its entries top down
			 * (reclaim_table), so PT_DEAD is not seen here.) */
			status = IVM_STATUS_IN_USE;
			break;
		}
		installed++;
		i++;
		index += span;
	}
	ivm_rcu_read_unlock();
	*done = installed * span;
	return status;
}

static ivm_status install_once(struct pagetable *pt, ivm_la la, uint64_t pages,
				const struct pt_source *src, bool expect_marker)
{
	uint64_t index = 0;
	unsigned retries = 0;

	while (index < pages) {
		uint64_t done;
		bool again;
		ivm_status status = install_run(pt, la, index, pages, src,
						expect_marker, &done, &again);
		index += done;
		if (again) {
			/* A table on the path is being sealed: it is unlinked
			 * within a few microseconds, unless the sweep was
			 * preempted; then let it run. */
			if (++retries % PT_SPINS_BEFORE_YIELD == 0)
				sched_yield();
			continue;
		}
		if (status != IVM_STATUS_SUCCESS) {
			if (index > 0)
				pt_remove(pt, la, index, expect_marker);
			return status;
		}
	}
	return IVM_STATUS_SUCCESS;
}

/*
 * The common map: 4 KiB pages within one leaf table that exists (a page,
 * a packet's segment, a burst of packets).  Walk down with loads and take
 * the first leaf by CAS from empty; on an exclusive range the rest are
 * stores, as in install_run (the first leaf pins the table).  Returns
 * false, having changed nothing, when a table on the way is missing or
 * being sealed, or the run is not such a run (it leaves its table, wants
 * a large leaf, or needs a CAS per leaf); the caller then takes the
 * general path (which creates tables and decides errors).
 */
static bool install_leaf_run(struct pagetable *pt, ivm_la la, uint64_t pages,
			     const struct pt_source *src, ivm_status *status)
{
	unsigned i = pt_index(la, 0);
	const struct pt_table *t = pt->root;
	bool done = false;

	if (src->marker || pages > PT_ENTRIES - i ||
	    (pages > 1 && !src->exclusive) ||
	    leaf_level_for(pt, src, la, 0, pages) != 0)
		return false;
	ivm_rcu_read_lock(); /* as in install_run */
	for (unsigned level = pt->levels - 1; level > 0; level--) {
		/* A2: pairs with R1. */
		uint64_t e = ivm_load_acquire(
			(_Atomic uint64_t *)&t->entry[pt_index(la, level)]);
		if (!entry_is_table(e))
			goto out;
		t = entry_table(e);
	}
	uint64_t expect = 0;
	uint64_t v = leaf_value(src, 0, pages, 0);
	_Atomic uint64_t *slot = (_Atomic uint64_t *)&t->entry[i];
	/* R1: publishes the leaf; pairs with A1. */
	if (ivm_cas_release(slot, &expect, v) ||
	    broken_overwrite(slot, expect, v)) {
		if (pages > 1)
			store_exclusive((struct pt_table *)t, i + 1, src, 1,
					pages);
		*status = IVM_STATUS_SUCCESS;
		done = true;
	} else if (expect != PT_DEAD) {
		*status = IVM_STATUS_IN_USE; /* occupied: no retry can help */
		done = true;
	}
out:
	ivm_rcu_read_unlock();
	return done;
}

ivm_status pt_install(struct pagetable *pt, ivm_la la, uint64_t pages,
		      const struct pt_source *src, bool expect_marker)
{
	ivm_status status;

	IVM_ASSERT(pages > 0);
	if (!expect_marker && install_leaf_run(pt, la, pages, src, &status))
		return status;
	status = install_once(pt, la, pages, src, expect_marker);
	/* An empty table kept for reuse occupies the slot a large leaf
	 * wants: tables are a cache, never a reason to refuse a map, so
	 * reclaim them and try again, for as long as nothing but tables is
	 * in the way.  One try is not enough: a table that another sweep is
	 * sealing reads as not empty to ours (PT_DEAD entries), so ours may
	 * retire nothing while that sweep has yet to unlink it (found by
	 * iovamap-stress: a 2 MiB allocated map failed with IN_USE); that
	 * sweep finishes within microseconds unless it was preempted, so
	 * yield to it when ours freed nothing. */
	for (unsigned tries = 0; status == IVM_STATUS_IN_USE && !expect_marker &&
	     pt_range_empty(pt, la, pages); tries++) {
		if (pt_reclaim(pt) == 0 && tries > 0)
			sched_yield();
		status = install_once(pt, la, pages, src, expect_marker);
	}
	return status;
}

/*
 * Descend to the table whose entry for la holds no table (a leaf, a
 * marker, or empty at the level where the walk stopped); *level_out is
 * that table's level.  la's entry is then
 * &table->entry[pt_index(la, *level_out)].
 */
static struct pt_table *find_table(const struct pagetable *pt, ivm_la la,
				   unsigned *level_out)
{
	struct pt_table *t = pt->root;
	unsigned level = pt->levels - 1;

	for (;;) {
		/* A2: pairs with R1. */
		uint64_t e = ivm_load_acquire(&t->entry[pt_index(la, level)]);
		if (level == 0 || !entry_is_table(e)) {
			*level_out = level;
			return t;
		}
		level--;
		t = entry_table(e);
	}
}

void pt_remove(struct pagetable *pt, ivm_la la, uint64_t pages, bool to_marker)
{
	ivm_la end = la + (pages << IVM_PAGE_SHIFT); /* may be 2^width, not 0 */
	ivm_la cur = la;

	/* No read-side section needed: the leaves are the caller's, and they
	 * keep every table on their path linked (invariant 3). */
	while (cur != end) {
		unsigned level;
		struct pt_table *t = find_table(pt, cur, &level);
		uint64_t size = pt_level_size(level);
		unsigned i = pt_index(cur, level);

		while (i < PT_ENTRIES && cur != end) {
			uint64_t e = ivm_load_relaxed(&t->entry[i]);
			if (entry_is_table(e))
				break; /* descend again */
			IVM_CHECK(e != 0 && (cur & (size - 1)) == 0);
			/* Release: the leaf's last readers need no ordering
			 * (the IOTLB sync that follows orders devices); this
			 * orders the clear before a later re-install by
			 * another writer that acquires the entry. */
			ivm_store_release(&t->entry[i], to_marker ? PT_MARKER : 0);
			i++;
			cur += size;
		}
	}
	if (!to_marker)
		note_removed(pt, pages);
}

/*
 * pt_take_mapping's run: the mapping whose first leaf is e, at t->entry[i],
 * is claimed (PT_DYING, by CAS), checked to end exactly at entry
 * i + pages - 1 with no other mapping's leaf in between, and cleared.
 * A burst of packets unmaps such a run (lib/dpdk.c): one pass that reads
 * and one that stores, where the general path walks twice and checks
 * every leaf it clears.  False: the claim is undone (no other writer
 * touches a claimed first leaf), nothing changed.
 */
static bool take_run(struct pt_table *t, unsigned i, uint64_t pages,
		     uint64_t e, const uint64_t frames[2])
{
	const uint64_t shape = PT_PRESENT | PT_TABLE | PT_FIRST | PT_LAST |
			       PT_KIND_MASK;
	const uint64_t middle = PT_PRESENT | (e & PT_KIND_MASK);
	const unsigned last = i + (unsigned)pages - 1;
	unsigned j;

	/* A4, as in walk_whole: the claim owns the mapping. */
	if (!ivm_cas_acq_rel(&t->entry[i], &e, e | PT_DYING))
		return false;
	/* A4: pairs with R1 (the leaves' publication).  The differences
	 * from a middle leaf are gathered, not tested leaf by leaf: a run
	 * that is ours (the common case) is read with no branch. */
	uint64_t odd = 0;
#pragma GCC unroll 4
	for (j = i + 1; j < last; j++)
		odd |= ivm_load_acquire(&t->entry[j]) ^ middle;
	/* A4, as the loop's: the last leaf, and its frame. */
	uint64_t end = ivm_load_acquire(&t->entry[last]);
	if ((odd & shape) != 0 || (end & shape) != (middle | PT_LAST) ||
	    (frames && ((e & PT_ADDR_MASK) != frames[0] ||
			(end & PT_ADDR_MASK) != frames[1]))) {
		/* Not one whole mapping: unclaim (release, as unclaim()). */
		ivm_store_release(&t->entry[i], e);
		return false;
	}
	/* Release, as in pt_remove. */
#pragma GCC unroll 4
	for (j = i; j <= last; j++)
		ivm_store_release(&t->entry[j], 0);
	return true;
}

bool pt_take_mapping(struct pagetable *pt, ivm_la la, uint64_t pages,
		     unsigned kind_mask, const uint64_t frames[2],
		     enum pt_kind *kind_out)
{
	const uint64_t shape = PT_PRESENT | PT_TABLE | PT_FIRST | PT_LAST |
			       PT_DYING;
	unsigned level;
	bool taken = false;

	/* A read-side section: the walk may meet a table being unlinked (if
	 * the leaf is not ours after all). */
	ivm_rcu_read_lock();
	struct pt_table *t = find_table(pt, la, &level);
	unsigned i = pt_index(la, level);
	_Atomic uint64_t *slot = &t->entry[i];
	/* A4: pairs with R1 (the leaf's publication). */
	uint64_t e = ivm_load_acquire(slot);
	if ((la & (pt_level_size(level) - 1)) == 0 &&
	    ((1u << pt_leaf_kind(e)) & kind_mask)) {
		if ((e & shape) == (PT_PRESENT | PT_FIRST | PT_LAST) &&
		    pages == pt_level_size(level) >> IVM_PAGE_SHIFT) {
			/* A4: one CAS owns and clears the mapping; losing
			 * means another unmap owns it (or it changed).  The
			 * CAS compares the whole leaf, frame included. */
			uint64_t last = (e & PT_ADDR_MASK) +
					pt_level_size(level) - IVM_PAGE_SIZE;

			taken = (!frames ||
				 ((e & PT_ADDR_MASK) == frames[0] &&
				  last == frames[1])) &&
				ivm_cas_acq_rel(slot, &e, 0);
		} else if ((e & shape) == (PT_PRESENT | PT_FIRST) &&
			   level == 0 && pages > 1 && pages <= PT_ENTRIES - i) {
			taken = take_run(t, i, pages, e, frames);
		}
	}
	ivm_rcu_read_unlock();
	if (taken) {
		*kind_out = pt_leaf_kind(e);
		note_removed(pt, pages);
	}
	return taken;
}

_Atomic uint64_t *pt_reserved_entry(struct pagetable *pt, ivm_la la)
{
	unsigned level;

	ivm_rcu_read_lock(); /* as in walk_whole */
	struct pt_table *t = find_table(pt, la, &level);
	ivm_rcu_read_unlock();
	/* Reservation markers are 4 KiB entries, and pin their table. */
	IVM_CHECK(level == 0);
	return &t->entry[pt_index(la, 0)];
}

void pt_fill_reserved(_Atomic uint64_t *entry, const uint64_t *addrs,
		      uint32_t count, uint64_t flags)
{
	const uint64_t leaf = PT_PRESENT | flags;

	/* R1, as the CAS of install_run: the first leaf (which may be the
	 * last), then the others as store_frames stores them. */
	IVM_ASSERT(ivm_load_relaxed(&entry[0]) == PT_MARKER);
	ivm_store_release(&entry[0], frame_of(addrs[0], true) | leaf |
					     PT_FIRST |
					     (count == 1 ? PT_LAST : 0));
	if (count > 1)
		store_leaves(entry + 1, addrs + 1, count - 2, count - 1, leaf,
			     true, PT_MARKER);
}

bool pt_clear_reserved(_Atomic uint64_t *entry, uint32_t count,
		       uint64_t first_pa, uint64_t last_pa)
{
	/* Relaxed: the caller alone writes these entries. */
	uint64_t first = ivm_load_relaxed(&entry[0]);
	uint64_t last = ivm_load_relaxed(&entry[count - 1]);

	if ((first & (PT_ADDR_MASK | PT_PRESENT | PT_FIRST)) !=
		    (first_pa | PT_PRESENT | PT_FIRST) ||
	    (last & (PT_ADDR_MASK | PT_PRESENT | PT_LAST)) !=
		    (last_pa | PT_PRESENT | PT_LAST))
		return false;
	/* Release, as in pt_remove. */
#pragma GCC unroll 4
	for (uint32_t i = 0; i < count; i++)
		ivm_store_release(&entry[i], PT_MARKER);
	return true;
}

bool pt_range_empty(const struct pagetable *pt, ivm_la la, uint64_t pages)
{
	ivm_la end = la + (pages << IVM_PAGE_SHIFT);
	ivm_la cur = la;
	bool empty = true;

	ivm_rcu_read_lock(); /* as in walk_whole */
	while (cur != end) {
		unsigned level;
		struct pt_table *t = find_table(pt, cur, &level);
		/* A2: pairs with R1. */
		uint64_t e = ivm_load_acquire(&t->entry[pt_index(cur, level)]);
		uint64_t size = pt_level_size(level);

		if (e != 0 && e != PT_DEAD) { /* PT_DEAD: a sealed table, empty */
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
		unsigned level;
		struct pt_table *t = find_table(pt, cur, &level);
		uint64_t size = pt_level_size(level);

		for (unsigned i = pt_index(cur, level);
		     i < PT_ENTRIES && cur < until; i++, cur += size) {
			uint64_t e = ivm_load_relaxed(&t->entry[i]);
			if (entry_is_table(e))
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
		unsigned level;
		struct pt_table *t = find_table(pt, cur, &level);
		uint64_t size = pt_level_size(level);
		unsigned i = pt_index(cur, level);

		while (i < PT_ENTRIES && cur != end) {
			/* A4: pairs with R1 (the leaf's publication) and the
			 * release of an unclaim. */
			uint64_t e = ivm_load_acquire(&t->entry[i]);
			if (entry_is_table(e))
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

/* True when every entry of t is 0.  Acquire loads: pair with R1 (a
 * writer's CAS from 0), so a sweep that sees 0 everywhere and then seals
 * is ordered after every write it did not see (the seal's CAS then fails
 * on any entry written meanwhile). */
static bool table_all_zero(const struct pt_table *t)
{
	for (unsigned i = 0; i < PT_ENTRIES; i++)
		if (ivm_load_acquire((_Atomic uint64_t *)&t->entry[i]) != 0)
			return false;
	return true;
}

/*
 * Seal, unlink and retire child, an empty-looking table behind *slot (top
 * of the file, steps 1-3).  e is the entry read from *slot.  Returns true
 * when the table was retired.
 */
static bool reclaim_table(struct pagetable *pt, _Atomic uint64_t *slot,
			  uint64_t e, struct pt_table *child)
{
	struct pt_retired *r = ivm_mem_zalloc(sizeof(*r), _Alignof(struct pt_retired));
	unsigned i;

	if (!r)
		return false; /* no record: the table stays linked */
	for (i = 0; i < PT_ENTRIES; i++) {
		uint64_t expect = 0;
		/* R3: seals the entry; a writer's CAS from 0 on it fails from
		 * now on.  Acquire on failure: we saw a writer's entry. */
		if (!ivm_cas_acq_rel(&child->entry[i], &expect, PT_DEAD))
			break;
	}
	if (i < PT_ENTRIES) {
		/* A writer got in first: unseal, top down, so that a writer
		 * whose CAS succeeds on an entry never meets PT_DEAD above it
		 * in the same run (install_run). */
		while (i-- > 0)
			/* Relaxed: the sweep published nothing in the table;
			 * a writer's CAS from 0 needs only to see 0. */
			ivm_store_relaxed(&child->entry[i], 0);
		ivm_mem_free(r, sizeof(*r), _Alignof(struct pt_retired));
		return false;
	}
	/* Sealed: unlink.  Nobody else writes *slot now: writers only CAS
	 * from 0, and a racing sweep cannot have sealed the table too (its
	 * first CAS fails on entry 0).  R4: release orders the seal before
	 * the unlink; pairs with A2 of a writer that finds the slot empty and
	 * installs a fresh table. */
	IVM_CHECK(ivm_load_relaxed(slot) == e);
	ivm_store_release(slot, 0);
	r->table = child;
	ivm_fetch_sub_relaxed(&pt->tables, 1);
#if IVM_BROKEN_NO_GRACE_PERIOD
	/* Deliberately wrong (tests only, -Dbroken_no_grace_period=true):
	 * free the unlinked table at once, while readers that loaded its
	 * address may still walk it (invariant 2 broken).  iovamap-stress
	 * must fail in this build (under ASan: a use after free). */
	table_free_rcu(&r->head);
#else
	ivm_rcu_call(&r->head, table_free_rcu);
#endif
	return true;
}

/*
 * Retire the empty tables below t (post-order, so a parent emptied by
 * its children's removal goes in the same sweep).  Returns tables retired.
 */
static uint64_t reclaim_below(struct pagetable *pt, struct pt_table *t,
			      unsigned level)
{
	uint64_t retired = 0;

	for (unsigned i = 0; i < PT_ENTRIES; i++) {
		_Atomic uint64_t *slot = &t->entry[i];
		/* A3: pairs with R1 (the table's publication). */
		uint64_t e = ivm_load_acquire(slot);
		if (!entry_is_table(e))
			continue;
		struct pt_table *child = entry_table(e);
		if (level > 1)
			retired += reclaim_below(pt, child, level - 1);
		if (table_all_zero(child) && reclaim_table(pt, slot, e, child))
			retired++;
	}
	return retired;
}

uint64_t pt_reclaim(struct pagetable *pt)
{
	if (pt->levels < 2)
		return 0;
	uint64_t removed = removed_sum(pt);
	/* Another sweep may unlink a table this one is walking. */
	ivm_rcu_read_lock();
	uint64_t retired = reclaim_below(pt, pt->root, pt->levels - 1);
	ivm_rcu_read_unlock();
	/* Start counting removed pages again (reclaim_due). */
	ivm_store_relaxed(&pt->removed_base, removed);
	return retired;
}

/* Tally the tables below t; returns true when t has no entry. */
static bool tally_below(const struct pt_table *t, unsigned level,
			struct pt_tally *out)
{
	bool empty = true;

	for (unsigned i = 0; i < PT_ENTRIES; i++) {
		/* A1: pairs with R1, as in pt_lookup. */
		uint64_t e = ivm_load_acquire((_Atomic uint64_t *)&t->entry[i]);
		empty &= e == 0 || e == PT_DEAD;
		if (!(e & PT_PRESENT))
			continue;
		if (e & PT_TABLE) {
			if (tally_below(entry_table(e), level - 1, out))
				out->empty_tables++;
		} else if (pt_leaf_kind(e) != PT_KIND_REGION) {
			out->pages += pt_level_size(level) >> IVM_PAGE_SHIFT;
			out->mappings += (e & PT_FIRST) != 0;
		}
	}
	return empty;
}

void pt_tally(const struct pagetable *pt, struct pt_tally *out)
{
	memset(out, 0, sizeof(*out));
	ivm_rcu_read_lock(); /* tables unlinked meanwhile stay readable */
	(void)tally_below(pt->root, pt->levels - 1, out);
	ivm_rcu_read_unlock();
}
