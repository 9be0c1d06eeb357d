/* SPDX-License-Identifier: MIT */
/*
 * slots.c - a queue's own logical slots: a reservation cut into equal,
 * aligned slots that one owner (a driver's transmit queue, on one thread
 * at a time) maps and unmaps in turn, a mapping per slot.
 *
 * Design source: the Windows DMA IOMMU interface's reserved logical
 * ranges (a driver reserves space once and maps into it per transfer),
 * with the lazy invalidation of Linux's flush queue (flushq.c).  A strict
 * per-burst map through the allocator pays, per burst, for a logical
 * block from the magazines, a walk down the table, the claim and checks
 * that let any thread unmap any mapping, and the block's return; here the
 * block and the walk were paid once, and the owner alone writes its
 * slots, so a map is the leaves' stores and an unmap their checks and
 * clears plus one flush-queue entry.
 *
 * A slot is FREE, MAPPED or PENDING.  The owner moves it FREE -> MAPPED
 * (map) -> PENDING (unmap); the flush path moves it PENDING -> FREE once
 * the backend's sync that invalidated it has returned (slots_release),
 * which may be on any thread.  The owner maps the slots in ring order: a
 * slot still PENDING when its turn comes is a refusal
 * (INSUFFICIENT_RESOURCES), which the caller meets by mapping through the
 * allocator instead (lib/dpdk.c).
 *
 * Invariants:
 *  1. A slot's entries hold markers, except while MAPPED, when the first
 *     `count` of them hold its mapping's leaves.
 *  2. A slot is mapped again only after a backend sync that began after
 *     its last unmap cleared its leaves has returned (flushq.c invariant
 *     1, with the release below standing for the give-back); in a domain
 *     without lazy invalidation, after the unmap's own invalidation.
 *  3. A set is on its domain's list (slot_sets_lock) from creation until
 *     its destruction, which first waits for every slot to be FREE: a
 *     release never touches a freed set.
 *
 * Ordering: the release's store of FREE (R5) pairs with the map's acquire
 * load of the state (A5), so the sync happens before the slot's leaves
 * are written again.
 */
#include "slots.h"

#include <sched.h>
#include <stddef.h>

#include "domain.h"
#include "mem.h"
#include "rcu.h"
#include "util.h"

enum {
	SLOT_FREE = 0,
	SLOT_MAPPED = 1,
	SLOT_PENDING = 2,
};

struct slot {
	_Atomic uint64_t *entry; /* its first page's table entry */
	uint32_t count;          /* owner: pages mapped while MAPPED */
	_Atomic uint32_t state;
};

struct ivm_slots {
	struct ivm_domain *domain;
	struct ivm_reservation *res;
	ivm_la base;                /* slot k at base + (k << slot_shift) */
	ivm_la end;                 /* past the last slot */
	unsigned slot_shift;        /* log2 of a slot's bytes */
	unsigned slot_order;        /* log2 of a slot's pages */
	uint32_t slot_pages;
	uint32_t nslots;            /* a power of two */
	uint32_t next;              /* owner: the slot the next map takes */
	size_t priv_bytes;          /* the caller's area, after slot[] */
	struct ivm_slots *prev_set; /* domain's list; slot_sets_lock */
	struct ivm_slots *next_set;
	struct slot slot[];
};

/* The caller's area starts here, aligned for any of its fields. */
static size_t priv_offset(uint32_t nslots)
{
	size_t a = _Alignof(max_align_t);

	return (sizeof(struct ivm_slots) + (size_t)nslots * sizeof(struct slot) +
		a - 1) & ~(a - 1);
}

static size_t set_bytes(uint32_t nslots, size_t priv_bytes)
{
	return priv_offset(nslots) + priv_bytes;
}

static bool power_of_two(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

IVM_API ivm_status ivm_slots_create(struct ivm_domain *domain,
				    uint32_t slot_pages, uint32_t nslots,
				    size_t priv_bytes, struct ivm_slots **out)
{
	ivm_detail_reset();
	if (!domain || domain->type != IVM_DOMAIN_TRANSLATE)
		return IVM_STATUS_INVALID_PARAMETER_1;
	if (!power_of_two(slot_pages) || slot_pages > PT_ENTRIES)
		return IVM_STATUS_INVALID_PARAMETER_2;
	if (!power_of_two(nslots) ||
	    (uint64_t)nslots * slot_pages > domain_pages(domain))
		return IVM_STATUS_INVALID_PARAMETER_3;
	if (!out)
		return IVM_STATUS_INVALID_PARAMETER;
	/* A backend that maps by itself (VFIO) would need telling of every
	 * slot map; the slots are for a table the device walks. */
	if (!domain->has_allocator || domain->be_ops->map)
		return IVM_STATUS_NOT_SUPPORTED;

	ivm_rcu_ensure_registered();
	struct ivm_slots *s = ivm_mem_zalloc(set_bytes(nslots, priv_bytes),
					     _Alignof(max_align_t));
	if (!s)
		return IVM_STATUS_INSUFFICIENT_RESOURCES;
	uint64_t bytes = ((uint64_t)nslots * slot_pages) << IVM_PAGE_SHIFT;
	/* A block of the allocator's: aligned to its power-of-two size, so
	 * each slot lies in one leaf table. */
	ivm_status status = ivm_reserve_logical_range(domain, bytes, NULL, NULL,
						      NULL, &s->res);
	if (status != IVM_STATUS_SUCCESS) {
		ivm_mem_free(s, set_bytes(nslots, priv_bytes),
			     _Alignof(max_align_t));
		return status;
	}
	ivm_reservation_base(s->res, &s->base, NULL);
	IVM_CHECK((s->base & (bytes - 1)) == 0);
	s->domain = domain;
	s->end = s->base + bytes;
	s->slot_order = ivm_order_ceil(slot_pages);
	s->slot_shift = s->slot_order + IVM_PAGE_SHIFT;
	s->slot_pages = slot_pages;
	s->nslots = nslots;
	s->priv_bytes = priv_bytes;
	for (uint32_t k = 0; k < nslots; k++)
		s->slot[k].entry = pt_reserved_entry(
			&domain->pt, s->base + ((ivm_la)k << s->slot_shift));

	ivm_spin_lock(&domain->slot_sets_lock);
	s->next_set = domain->slot_sets;
	if (s->next_set)
		s->next_set->prev_set = s;
	domain->slot_sets = s;
	ivm_spin_unlock(&domain->slot_sets_lock);
	*out = s;
	return IVM_STATUS_SUCCESS;
}

IVM_API void *ivm_slots_priv(struct ivm_slots *s)
{
	return (char *)s + priv_offset(s->nslots);
}

IVM_API void ivm_slots_range(const struct ivm_slots *s, ivm_la *base_out,
			     ivm_la *end_out, uint32_t *slot_pages_out)
{
	*base_out = s->base;
	*end_out = s->end;
	*slot_pages_out = s->slot_pages;
}

IVM_API ivm_status ivm_slots_map(struct ivm_slots *s, uint32_t permissions,
				 const uint64_t *addrs, uint32_t count,
				 ivm_la *iovas_out, ivm_la *la_out)
{
	ivm_detail_reset();
	if (!s)
		return IVM_STATUS_INVALID_PARAMETER_1;
	if (permissions & ~IVM_PERM_MASK)
		return IVM_STATUS_INVALID_PARAMETER_2;
	if (!addrs || count == 0 || count > s->slot_pages)
		return IVM_STATUS_INVALID_PARAMETER_3;
	if (!iovas_out || !la_out)
		return IVM_STATUS_INVALID_PARAMETER;

	uint32_t k = s->next;
	struct slot *sl = &s->slot[k];
	/* A5: pairs with R5 (invariant 2). */
	if (ivm_load_acquire(&sl->state) != SLOT_FREE)
		return IVM_STATUS_INSUFFICIENT_RESOURCES;
	pt_fill_reserved(sl->entry, addrs, count,
			 pt_perm_bits(permissions) |
				 ((uint64_t)PT_KIND_RESERVED << PT_KIND_SHIFT));
	sl->count = count;
	/* Relaxed: only the owner reads MAPPED (unmap, destroy); devices
	 * see the leaves, published by their own release stores. */
	ivm_store_relaxed(&sl->state, SLOT_MAPPED);
	s->next = (k + 1) & (s->nslots - 1);

	ivm_la la = s->base + ((ivm_la)k << s->slot_shift);
	ivm_buffer_iovas(la, addrs, count, iovas_out);
	*la_out = la;
	return IVM_STATUS_SUCCESS;
}

IVM_API ivm_status ivm_slots_unmap(struct ivm_slots *s, ivm_la la,
				   uint32_t pages, uint64_t first_pa,
				   uint64_t last_pa)
{
	if (!s)
		return ivm_fail(IVM_STATUS_INVALID_PARAMETER_1);
	if (la < s->base || la >= s->end ||
	    ((la - s->base) & (((ivm_la)1 << s->slot_shift) - 1)) != 0)
		return ivm_fail(IVM_STATUS_INVALID_PARAMETER_2);
	if (pages == 0 || pages > s->slot_pages)
		return ivm_fail(IVM_STATUS_INVALID_PARAMETER_3);

	struct slot *sl = &s->slot[(la - s->base) >> s->slot_shift];
	/* Relaxed: MAPPED is only ever the owner's own store. */
	if (ivm_load_relaxed(&sl->state) != SLOT_MAPPED || sl->count != pages ||
	    !pt_clear_reserved(sl->entry, pages, first_pa, last_pa))
		return ivm_fail(IVM_STATUS_INVALID_PARAMETER);

	struct ivm_domain *d = s->domain;
	/* Relaxed: the flusher's FREE comes after it in happens-before
	 * order without a fence of ours, because the flusher only learns of
	 * the slot from the queue entry pushed below (the push and the
	 * take synchronise: rseq section and flip, or the slot lock). */
	ivm_store_relaxed(&sl->state, SLOT_PENDING);
	ivm_rcu_ensure_registered(); /* a full queue flushes here */
	domain_backend_unmap(d, la, pages);
	if (d->lazy) {
		/* The whole slot is invalidated: its other pages hold
		 * markers, never cached. */
		flushq_push(&d->fq, la, s->slot_order, FLUSHQ_SLOT);
	} else {
		domain_invalidate(d, la, pages);
		/* R5: the invalidation has returned (invariant 2). */
		ivm_store_release(&sl->state, SLOT_FREE);
	}
	return IVM_STATUS_SUCCESS;
}

void slots_release(struct ivm_domain *d, const uint64_t *entries, unsigned n)
{
	struct ivm_slots *s = NULL;

	ivm_spin_lock(&d->slot_sets_lock);
	for (unsigned i = 0; i < n; i++) {
		if (!(entries[i] & FLUSHQ_SLOT))
			continue;
		ivm_la la = entries[i] & ~IVM_PAGE_MASK;
		/* A flush's slot entries are mostly one set's. */
		if (!s || la < s->base || la >= s->end)
			for (s = d->slot_sets; s; s = s->next_set)
				if (la >= s->base && la < s->end)
					break;
		if (!s)
			continue; /* its set is gone (slots_free_all) */
		/* R5: pairs with A5; the sync has returned. */
		ivm_store_release(&s->slot[(la - s->base) >> s->slot_shift].state,
				  SLOT_FREE);
	}
	ivm_spin_unlock(&d->slot_sets_lock);
}

/* Take s off its domain's list and free it with its reservation. */
static void set_free(struct ivm_slots *s)
{
	struct ivm_domain *d = s->domain;

	ivm_spin_lock(&d->slot_sets_lock);
	if (s->prev_set)
		s->prev_set->next_set = s->next_set;
	else
		d->slot_sets = s->next_set;
	if (s->next_set)
		s->next_set->prev_set = s->prev_set;
	ivm_spin_unlock(&d->slot_sets_lock);
	ivm_mem_free(s, set_bytes(s->nslots, s->priv_bytes),
		     _Alignof(max_align_t));
}

IVM_API ivm_status ivm_slots_destroy(struct ivm_slots **set)
{
	ivm_detail_reset();
	if (!set || !*set)
		return IVM_STATUS_SUCCESS;
	struct ivm_slots *s = *set;
	bool pending = false;

	for (uint32_t k = 0; k < s->nslots; k++) {
		/* Relaxed: MAPPED is the caller's own (the queue is idle);
		 * PENDING only decides whether to flush, and the wait below
		 * acquires FREE. */
		uint32_t state = ivm_load_relaxed(&s->slot[k].state);
		if (state == SLOT_MAPPED)
			return IVM_STATUS_IN_USE;
		pending |= state == SLOT_PENDING;
	}
	ivm_rcu_ensure_registered();
	if (pending) {
		/* Invariant 3: an entry another flusher already took is
		 * released when its sync returns; wait for that. */
		flushq_flush_all(&s->domain->fq);
		for (uint32_t k = 0; k < s->nslots; k++)
			while (ivm_load_acquire(&s->slot[k].state) != SLOT_FREE)
				sched_yield();
	}
	/* Every slot holds markers again (invariant 1): nothing mapped. */
	IVM_CHECK(ivm_free_reserved_logical_range(&s->res) ==
		  IVM_STATUS_SUCCESS);
	set_free(s);
	*set = NULL;
	return IVM_STATUS_SUCCESS;
}

void slots_free_all(struct ivm_domain *d)
{
	/* The reservations go with the domain's own list. */
	while (d->slot_sets)
		set_free(d->slot_sets);
}
