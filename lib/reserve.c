/* SPDX-License-Identifier: MIT */
/*
 * reserve.c - reservations (ReserveLogicalAddressRange,
 * MapReservedLogicalRange, UnmapReservedLogicalRange,
 * FreeReservedLogicalAddressRange).
 *
 * Design source: the Windows DMA IOMMU interface, whose promise is that a
 * map inside a reservation cannot fail for lack of space and allocates no
 * memory.  iovamap keeps the promise by making the reservation occupy its
 * page-table slots with markers (pagetable.h): every table the range needs
 * exists from the moment the reservation does, and markers keep those
 * tables linked.  A map replaces markers with leaves, an unmap puts the
 * markers back; neither changes a table count nor allocates.
 *
 * Invariants:
 *  1. Every slot of [base, base + pages) holds a marker or a leaf of kind
 *     RESERVED, from reserve until free.
 *  2. A reservation with live maps cannot be freed (IN_USE).
 *  3. The reservation record is allocated before anything else changes
 *     and freed last, so a failed reserve leaves nothing behind.
 */
#include "domain.h"
#include "iovamap/reserve.h"
#include "mem.h"
#include "phys.h"
#include "rcu.h"
#include "util.h"

IVM_API ivm_status ivm_reserve_logical_range(struct ivm_domain *domain,
					     uint64_t size,
					     const ivm_la *explicit_la,
					     const ivm_la *min_la,
					     const ivm_la *max_la,
					     struct ivm_reservation **out)
{
	ivm_detail_reset();
	if (!domain || domain->type != IVM_DOMAIN_TRANSLATE)
		return IVM_STATUS_INVALID_PARAMETER_1;
	if (size == 0 || !ivm_page_aligned(size) ||
	    (size >> IVM_PAGE_SHIFT) > domain_pages(domain))
		return IVM_STATUS_INVALID_PARAMETER_2;
	uint64_t pages = size >> IVM_PAGE_SHIFT;
	if (explicit_la && (!ivm_page_aligned(*explicit_la) ||
			    !domain_range_ok(domain, *explicit_la, pages)))
		return IVM_STATUS_INVALID_PARAMETER_3;
	struct space_request req;
	if (domain_check_window(domain, pages, explicit_la, min_la, max_la,
				&req) != IVM_STATUS_SUCCESS)
		return IVM_STATUS_INVALID_PARAMETER_MIX;
	if (!out)
		return IVM_STATUS_INVALID_PARAMETER;
	if (explicit_la ? (domain->has_allocator && !domain->allow_explicit)
			: !domain->has_allocator)
		return IVM_STATUS_NOT_SUPPORTED;

	ivm_rcu_ensure_registered();
	struct ivm_reservation *r = ivm_mem_zalloc(sizeof(*r),
						   _Alignof(struct ivm_reservation));
	if (!r)
		return IVM_STATUS_INSUFFICIENT_RESOURCES;

	ivm_status status = domain_take_space(domain, &req, &r->base,
					      &r->alloc_pages);
	r->alloc_block = !req.is_explicit;
	if (status != IVM_STATUS_SUCCESS)
		goto err_free;
	struct pt_source markers = {
		.base = r->base,
		.marker = true,
		.allow_large = false, /* maps replace single 4 KiB markers */
	};
	status = pt_install(&domain->pt, r->base, pages, &markers, false);
	if (status != IVM_STATUS_SUCCESS)
		goto err_space;
	r->domain = domain;
	r->pages = pages;
	domain_lock(domain); /* the list only */
	r->next = domain->reservations;
	if (r->next)
		r->next->prev = r;
	domain->reservations = r;
	ivm_counter_add(&domain->reservation_count, 1);
	domain_unlock(domain);
	*out = r;
	return IVM_STATUS_SUCCESS;

err_space:
	domain_give_space(domain, r->base, r->alloc_pages, r->alloc_block);
err_free:
	ivm_mem_free(r, sizeof(*r), _Alignof(struct ivm_reservation));
	return status;
}

IVM_API ivm_status ivm_reservation_base(const struct ivm_reservation *reservation,
					ivm_la *la_out, uint64_t *size_out)
{
	ivm_detail_reset();
	if (!reservation)
		return IVM_STATUS_INVALID_PARAMETER_1;
	if (!la_out)
		return IVM_STATUS_INVALID_PARAMETER_2;
	*la_out = reservation->base;
	if (size_out)
		*size_out = reservation->pages << IVM_PAGE_SHIFT;
	return IVM_STATUS_SUCCESS;
}

IVM_API ivm_status ivm_map_reserved_logical_range(struct ivm_reservation *reservation,
						  uint64_t offset,
						  uint32_t permissions,
						  const struct ivm_phys *phys,
						  ivm_la *la_out)
{
	ivm_detail_reset();
	struct pt_source src;
	uint64_t pages;

	if (!reservation)
		return IVM_STATUS_INVALID_PARAMETER_1;
	struct ivm_reservation *r = reservation;
	uint64_t first = offset >> IVM_PAGE_SHIFT;
	if (!ivm_page_aligned(offset) || first >= r->pages)
		return IVM_STATUS_INVALID_PARAMETER_2;
	if (permissions & ~IVM_PERM_MASK)
		return IVM_STATUS_INVALID_PARAMETER_3;
	if (!phys_describe(phys, &pages, &src) || pages > r->pages - first)
		return IVM_STATUS_INVALID_PARAMETER_4;
	if (!la_out)
		return IVM_STATUS_INVALID_PARAMETER;

	struct ivm_domain *d = r->domain;
	ivm_la la = r->base + offset;
	src.flags = pt_perm_bits(permissions) |
		    ((uint64_t)PT_KIND_RESERVED << PT_KIND_SHIFT);
	src.allow_large = false;

	ivm_rcu_ensure_registered();
	ivm_status status = pt_install(&d->pt, la, pages, &src, true);
	if (status != IVM_STATUS_SUCCESS && pages > 1) {
		/* As in map.c install_mapping: the leaves pt_install put back
		 * to markers when it met a mapped page may have been cached
		 * by a device meanwhile. */
		domain_invalidate(d, la, pages);
	}
	if (status == IVM_STATUS_SUCCESS) {
		status = domain_backend_map(d, la, pages, phys, permissions);
		if (status != IVM_STATUS_SUCCESS) {
			pt_remove(&d->pt, la, pages, true);
			domain_invalidate(d, la, pages);
		}
	}
	if (status == IVM_STATUS_SUCCESS) {
		ivm_counter_add(&r->mappings, 1);
	}
	if (status == IVM_STATUS_SUCCESS)
		*la_out = la;
	return status;
}

/* Counts the mappings an unmap walk crosses. */
static void count_mapping(void *ctx, ivm_la la, uint64_t pages,
			  enum pt_kind kind)
{
	(*(uint64_t *)ctx)++;
}

IVM_API ivm_status ivm_unmap_reserved_logical_range(struct ivm_reservation *reservation,
						    uint64_t offset,
						    uint64_t pages)
{
	ivm_detail_reset();
	if (!reservation)
		return IVM_STATUS_INVALID_PARAMETER_1;
	struct ivm_reservation *r = reservation;
	uint64_t first = offset >> IVM_PAGE_SHIFT;
	if (!ivm_page_aligned(offset) || first >= r->pages)
		return IVM_STATUS_INVALID_PARAMETER_2;
	if (pages == 0 || pages > r->pages - first)
		return IVM_STATUS_INVALID_PARAMETER_3;

	struct ivm_domain *d = r->domain;
	ivm_la la = r->base + offset;
	uint64_t found = 0;

	ivm_rcu_ensure_registered();
	if (!pt_claim_whole(&d->pt, la, pages, 1u << PT_KIND_RESERVED,
			    count_mapping, &found))
		return IVM_STATUS_INVALID_PARAMETER;
	pt_remove(&d->pt, la, pages, true);
	domain_backend_unmap(d, la, pages);
	domain_invalidate(d, la, pages);
	ivm_fetch_sub_relaxed(&r->mappings, found);
	return IVM_STATUS_SUCCESS;
}

IVM_API ivm_status ivm_free_reserved_logical_range(struct ivm_reservation **reservation)
{
	ivm_detail_reset();
	if (!reservation || !*reservation)
		return IVM_STATUS_SUCCESS;
	struct ivm_reservation *r = *reservation;
	struct ivm_domain *d = r->domain;

	ivm_rcu_ensure_registered();
	if (ivm_load_relaxed(&r->mappings) != 0)
		return IVM_STATUS_IN_USE;
	/* Invariant 1: only markers remain; removing them may retire
	 * tables.  Nothing was mapped, so there is nothing to invalidate. */
	pt_remove(&d->pt, r->base, r->pages, false);
	domain_give_space(d, r->base, r->alloc_pages, r->alloc_block);
	domain_lock(d); /* the list only */
	if (r->prev)
		r->prev->next = r->next;
	else
		d->reservations = r->next;
	if (r->next)
		r->next->prev = r->prev;
	ivm_fetch_sub_relaxed(&d->reservation_count, 1);
	domain_unlock(d);

	ivm_mem_free(r, sizeof(*r), _Alignof(struct ivm_reservation));
	*reservation = NULL;
	return IVM_STATUS_SUCCESS;
}
