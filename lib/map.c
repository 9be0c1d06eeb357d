/* SPDX-License-Identifier: MIT */
/*
 * map.c - IOMMU_MAP_LOGICAL_RANGE_EX and its unmap, identity maps, and
 * translation: the data path map -> allocator -> page table -> backend,
 * and unmap -> page table -> invalidation -> allocator.
 *
 * Design source: the Windows DMA IOMMU interface for the statuses and the
 * parameter order; Linux iommufd/io_pagetable.c for inclusive-last range
 * arithmetic and exact undo of partial failures; VFIO type1v2 for refusing
 * unmaps that cut through a mapping.
 *
 * Concurrency: no lock.  Maps take their space from the thread-safe IOVA
 * allocator (which also settles overlapping explicit maps on allocator
 * domains) and install leaves by CAS from empty (which settles them on
 * domains without an allocator: of two overlapping maps exactly one
 * wins, the other gets IN_USE and removes what it had installed).
 * Unmaps first own their mappings (pt_claim_whole: one CAS on each
 * mapping's first leaf), so of two unmaps of one mapping exactly one
 * succeeds and the other gets INVALID_PARAMETER.
 *
 *   call                | may run concurrently with
 *   --------------------+--------------------------------------------
 *   map / identity map  | everything but destroy
 *   unmap               | everything but destroy
 *   ivm_translate       | everything but destroy (wait-free)
 *
 * Invariants:
 *  1. Arguments are validated here, at the boundary, before any state is
 *     touched, in argument order; the lower layers assume valid input.
 *  2. A mapping's page-table leaves carry its family (kind) and its first
 *     and last page, so an unmap can prove it covers whole mappings of its
 *     own family from the table alone (pagetable.h).
 *  3. Map: space is taken, then the leaves installed, then the backend
 *     told; a failure at any step undoes the earlier steps in reverse.
 *  4. Unmap: the leaves are cleared, the backend told and synced, and only
 *     then is the space given back, so no logical address is handed out
 *     again before the invalidation of its last use completed.
 *  5. Allocated mappings own a power-of-two block; the rounding past the
 *     mapped pages is never mapped, so a mapping with rounding is always
 *     the last of a run of adjacent mappings, and one range free of the
 *     union gives everything back (iova_release accepts unions).
 *  6. On a domain with an allocator, a map owns its range before it
 *     installs a leaf (domain_take_space allocates or claims it), so no
 *     other map installs into it: pt_install may store, not CAS, every
 *     leaf after a table's first (struct pt_source.exclusive).  Without an
 *     allocator, overlapping maps are settled by the CAS on each leaf.
 */
#include "domain.h"
#include "ivm_config.h"
#include "iovamap/map.h"
#include "mem.h"
#include "phys.h"
#include "rcu.h"
#include "util.h"

#define KIND_FLAGS(kind) ((uint64_t)(kind) << PT_KIND_SHIFT)

/* What an unmap walk found. */
struct unmap_walk {
	uint64_t mappings;
	enum pt_kind last_kind;
	uint64_t last_pages;
};

static void note_mapping(void *ctx, ivm_la la, uint64_t pages,
			 enum pt_kind kind)
{
	struct unmap_walk *w = ctx;
	w->mappings++;
	w->last_kind = kind;
	w->last_pages = pages;
}

/* Pages the allocator handed out for a run of whole mappings. */
static uint64_t space_of_run(const struct ivm_domain *d, uint64_t pages,
			     const struct unmap_walk *w)
{
	if (!d->has_allocator)
		return 0;
	if (w->last_kind == PT_KIND_ALLOCATED)
		return pages + ((1ull << ivm_order_ceil(w->last_pages)) -
				w->last_pages);
	return pages;
}

/*
 * Install a mapping at la whose space is already taken, and tell the
 * backend.  On failure nothing of it remains.
 */
static ivm_status install_mapping(struct ivm_domain *d, ivm_la la,
				  uint64_t pages, struct pt_source *src,
				  const struct ivm_phys *phys,
				  uint32_t permissions)
{
	ivm_status status = pt_install(&d->pt, la, pages, src, false);
	if (status != IVM_STATUS_SUCCESS) {
		/* pt_install took back the leaves it had installed before it
		 * failed (a range that met another mapping half way, or no
		 * memory for a table), but a device may have cached one of
		 * them in between: invalidate, before the caller reuses its
		 * memory.  One page is one CAS and exposed nothing.  (Found
		 * by iovamap-stress: a stale IOTLB entry on a domain without
		 * an allocator, where every unmap is strict.) */
		if (pages > 1)
			domain_invalidate(d, la, pages);
		return status;
	}
	status = domain_backend_map(d, la, pages, phys, permissions);
	if (status != IVM_STATUS_SUCCESS) {
		pt_remove(&d->pt, la, pages, false);
		/* A device may have cached a leaf in between. */
		domain_invalidate(d, la, pages);
		return status; /* hw/backend.h: INSUFFICIENT_RESOURCES or
				* NOT_SUPPORTED */
	}
	return IVM_STATUS_SUCCESS;
}

/* After the leaves of a run of whole mappings are gone: tell the backend,
 * invalidate, give the space back (invariant 4). */
static void release_mappings(struct ivm_domain *d, ivm_la la, uint64_t pages,
			     const struct unmap_walk *w)
{
	/* One allocated mapping gives its block back (to the magazines);
	 * a run of several gives back their union in one range free. */
	bool block = w->mappings == 1 && w->last_kind == PT_KIND_ALLOCATED;
	uint64_t space = space_of_run(d, pages, w);

	domain_backend_unmap(d, la, pages);
	if (d->lazy && block) {
		/* Invariant 4 via the flush queue: the block goes back after
		 * the sync that invalidates it (flushq.c).  The queue
		 * invalidates the whole block: its rounding was never
		 * mapped. */
		unsigned order = ivm_order_ceil(space);
#if IVM_BROKEN_FREE_BEFORE_SYNC
		/* Deliberately wrong (tests only): the classic lazy-mode bug,
		 * freeing the address at unmap and invalidating later. */
		domain_give_space(d, la, space, block);
		flushq_push(&d->fq, la, order, 0);
#else
		flushq_push(&d->fq, la, order, FLUSHQ_GIVE);
#endif
	} else {
#if IVM_BROKEN_FREE_BEFORE_SYNC
		domain_give_space(d, la, space, block); /* deliberately wrong */
		domain_invalidate(d, la, pages);
#else
		domain_invalidate(d, la, pages);
		domain_give_space(d, la, space, block);
#endif
	}
}

/* Remove a claimed run of whole mappings (pt_claim_whole). */
static void remove_mappings(struct ivm_domain *d, ivm_la la, uint64_t pages,
			    const struct unmap_walk *w)
{
	pt_remove(&d->pt, la, pages, false);
	release_mappings(d, la, pages, w);
}

/*
 * The common unmap, one mapping held in one leaf (a 4 KiB, 2 MiB or 1 GiB
 * page) or in a run of 4 KiB leaves of one table (a burst of packets,
 * lib/dpdk.c): pt_take_mapping owns and clears it, with frames (or NULL)
 * its condition on the first and last page's frames.  False: take the
 * general path, which also decides the error status (or, with frames,
 * refuse).
 */
static bool unmap_one(struct ivm_domain *d, ivm_la la, uint64_t pages,
		      unsigned kinds, const uint64_t frames[2])
{
	enum pt_kind kind;

	if (!pt_take_mapping(&d->pt, la, pages, kinds, frames, &kind))
		return false;
	struct unmap_walk walk = {
		.mappings = 1,
		.last_kind = kind,
		.last_pages = pages,
	};
	release_mappings(d, la, pages, &walk);
	return true;
}

/* Take the space of a checked request, install src there and tell the
 * backend; on failure give the space back.  *la_out only on success. */
static ivm_status map_request(struct ivm_domain *d,
			      const struct space_request *req,
			      struct pt_source *src,
			      const struct ivm_phys *phys,
			      uint32_t permissions, ivm_la *la_out)
{
	ivm_la la;
	uint64_t alloc_pages;
	/* With an allocator every range is taken from it first, allocated
	 * or claimed: nobody else installs into it (invariant 6). */
	src->exclusive = d->has_allocator;
	ivm_status status = domain_take_space(d, req, &la, &alloc_pages);
	if (status != IVM_STATUS_SUCCESS)
		return status;
	status = install_mapping(d, la, req->pages, src, phys, permissions);
	if (status != IVM_STATUS_SUCCESS) {
		domain_give_space(d, la, alloc_pages, !req->is_explicit);
		return status;
	}
	*la_out = la;
	return IVM_STATUS_SUCCESS;
}

IVM_API ivm_status ivm_map_logical_range_ex(struct ivm_domain *domain,
					    uint32_t permissions,
					    const struct ivm_phys *phys,
					    const ivm_la *explicit_la,
					    const ivm_la *min_la,
					    const ivm_la *max_la,
					    ivm_la *la_out)
{
	ivm_detail_reset();
	struct pt_source src;
	uint64_t pages;

	if (!domain || domain->type != IVM_DOMAIN_TRANSLATE)
		return IVM_STATUS_INVALID_PARAMETER_1;
	if (permissions & ~IVM_PERM_MASK)
		return IVM_STATUS_INVALID_PARAMETER_2;
	if (!phys_describe(phys, &pages, &src) || pages > domain_pages(domain))
		return IVM_STATUS_INVALID_PARAMETER_3;
	if (explicit_la && (!ivm_page_aligned(*explicit_la) ||
			    !domain_range_ok(domain, *explicit_la, pages)))
		return IVM_STATUS_INVALID_PARAMETER_4;
	struct space_request req;
	if (domain_check_window(domain, pages, explicit_la, min_la, max_la,
				&req) != IVM_STATUS_SUCCESS)
		return IVM_STATUS_INVALID_PARAMETER_MIX;
	if (!la_out)
		return IVM_STATUS_INVALID_PARAMETER;
	if (explicit_la ? (domain->has_allocator && !domain->allow_explicit)
			: !domain->has_allocator)
		return IVM_STATUS_NOT_SUPPORTED;

	ivm_rcu_ensure_registered();
	src.flags = pt_perm_bits(permissions) |
		    KIND_FLAGS(explicit_la ? PT_KIND_EXPLICIT : PT_KIND_ALLOCATED);
	return map_request(domain, &req, &src, phys, permissions, la_out);
}

/*
 * Exported for iovamap-dpdk (util.h), not public: map count buffers that
 * each lie within one page, buffer i's page at page i of one new mapping
 * of count pages (allocated, as ivm_map_logical_range_ex without an
 * address), and store addrs[i]'s logical address in iovas_out[i] and the
 * mapping's in *la_out.  Two buffers may share a page; their page is
 * then mapped twice, which exposes nothing more.  The caller checks that
 * each buffer ends in the page it starts in: the mapping covers that
 * page only.
 *
 * Statuses, in argument order: INVALID_PARAMETER_1 (no Translate domain),
 * _2 (permission bits outside IVM_PERM_MASK), _3 (no addrs, count 0 or
 * more pages than the domain has), INVALID_PARAMETER_MIX (no aligned
 * block of count pages fits), INVALID_PARAMETER (no iovas_out or
 * la_out), NOT_SUPPORTED (no allocator, or a backend that refuses frame
 * arrays: VFIO), INSUFFICIENT_RESOURCES (no space or memory); SUCCESS.
 * A failure changes nothing.  Context, blocking and ordering: as
 * ivm_map_logical_range_ex's (iovamap/map.h).
 *
 * The burst map of a poll-mode driver (ivm_dpdk_burst_map): one pass over
 * the addresses installs the leaves, one stores the outputs, where a
 * frame array needs its frames and offsets written, checked and read
 * back in passes of their own.
 */
IVM_API ivm_status ivm_map_buffers(struct ivm_domain *domain,
				   uint32_t permissions, const uint64_t *addrs,
				   uint32_t count, ivm_la *iovas_out,
				   ivm_la *la_out)
{
	ivm_detail_reset();
	if (!domain || domain->type != IVM_DOMAIN_TRANSLATE)
		return IVM_STATUS_INVALID_PARAMETER_1;
	if (permissions & ~IVM_PERM_MASK)
		return IVM_STATUS_INVALID_PARAMETER_2;
	if (!addrs || count == 0 || count > domain_pages(domain))
		return IVM_STATUS_INVALID_PARAMETER_3;
	struct space_request req;
	if (domain_check_window(domain, count, NULL, NULL, NULL, &req) !=
	    IVM_STATUS_SUCCESS)
		return IVM_STATUS_INVALID_PARAMETER_MIX;
	if (!iovas_out || !la_out)
		return IVM_STATUS_INVALID_PARAMETER;
	if (!domain->has_allocator)
		return IVM_STATUS_NOT_SUPPORTED;

	ivm_rcu_ensure_registered();
	struct pt_source src = {
		.pfns = addrs,
		.in_page = true,
		.flags = pt_perm_bits(permissions) |
			 KIND_FLAGS(PT_KIND_ALLOCATED),
	};
	/* A backend that maps by itself is told the frames as an array. */
	uint64_t *pfns = NULL;
	struct ivm_phys phys = { .type = IVM_PHYS_PFN_ARRAY };
	if (domain->be_ops->map) {
		pfns = ivm_mem_zalloc(count * sizeof(*pfns),
				      _Alignof(uint64_t));
		if (!pfns)
			return IVM_STATUS_INSUFFICIENT_RESOURCES;
		for (uint32_t i = 0; i < count; i++)
			pfns[i] = addrs[i] >> IVM_PAGE_SHIFT;
		phys.pfn_array.pfns = pfns;
		phys.pfn_array.count = count;
	}
	ivm_la la;
	ivm_status status = map_request(domain, &req, &src, &phys,
					permissions, &la);
	ivm_mem_free(pfns, count * sizeof(*pfns), _Alignof(uint64_t));
	if (status != IVM_STATUS_SUCCESS)
		return status;
	ivm_buffer_iovas(la, addrs, count, iovas_out);
	*la_out = la;
	return IVM_STATUS_SUCCESS;
}

/* The families a logical unmap removes. */
#define LOGICAL_KINDS ((1u << PT_KIND_ALLOCATED) | (1u << PT_KIND_EXPLICIT))

/* A logical unmap's domain, address and length, in argument order. */
static ivm_status unmap_args_ok(const struct ivm_domain *domain, ivm_la la,
				uint64_t pages)
{
	if (!domain || domain->type != IVM_DOMAIN_TRANSLATE)
		return IVM_STATUS_INVALID_PARAMETER_1;
	if (!ivm_page_aligned(la))
		return IVM_STATUS_INVALID_PARAMETER_2;
	if (!domain_range_ok(domain, la, pages))
		return IVM_STATUS_INVALID_PARAMETER_3;
	return IVM_STATUS_SUCCESS;
}

/* The logical unmaps set no detail: they clear it on failure only (a
 * per-burst call, and the undo of a failed map keeps the map's detail). */
IVM_API ivm_status ivm_unmap_logical_range(struct ivm_domain *domain,
					   ivm_la la, uint64_t pages)
{
	struct unmap_walk walk = { 0 };
	ivm_status status = unmap_args_ok(domain, la, pages);

	if (status != IVM_STATUS_SUCCESS)
		return ivm_fail(status);
	ivm_rcu_ensure_registered();
	if (unmap_one(domain, la, pages, LOGICAL_KINDS, NULL))
		return IVM_STATUS_SUCCESS;
	if (!pt_claim_whole(&domain->pt, la, pages, LOGICAL_KINDS, note_mapping,
			    &walk))
		return ivm_fail(IVM_STATUS_INVALID_PARAMETER);
	remove_mappings(domain, la, pages, &walk);
	return IVM_STATUS_SUCCESS;
}

/*
 * Exported for iovamap-dpdk (util.h), not public: unmap exactly the one
 * logical mapping [la, la + pages) if its first page maps the frame at
 * first_pa and its last page the frame at last_pa (page-aligned physical
 * addresses), both checked under the unmap's claim, so that a caller's
 * stale or wrong record of a mapping can never take another one (its
 * addresses reused meanwhile) along.  INVALID_PARAMETER and nothing
 * changed otherwise.  The mapping must sit in one leaf or one leaf
 * table's run (pt_take_mapping): an allocated mapping of at most 512
 * pages (a packet's segment, a burst) always does, its block aligned.
 *
 * Statuses: INVALID_PARAMETER_1, _2, _3 as ivm_unmap_logical_range's
 * (domain, la, pages); INVALID_PARAMETER for a frame address that is not
 * page aligned or a range that is not exactly that mapping; SUCCESS.
 * Context, blocking and ordering: as ivm_unmap_logical_range's
 * (iovamap/map.h).
 */
IVM_API ivm_status ivm_unmap_logical_range_of(struct ivm_domain *domain,
					      ivm_la la, uint64_t pages,
					      uint64_t first_pa,
					      uint64_t last_pa)
{
	const uint64_t frames[2] = { first_pa, last_pa };
	ivm_status status = unmap_args_ok(domain, la, pages);

	if (status != IVM_STATUS_SUCCESS)
		return ivm_fail(status);
	if (!ivm_page_aligned(first_pa) || !ivm_page_aligned(last_pa))
		return ivm_fail(IVM_STATUS_INVALID_PARAMETER);
	ivm_rcu_ensure_registered();
	return unmap_one(domain, la, pages, LOGICAL_KINDS, frames)
		       ? IVM_STATUS_SUCCESS
		       : ivm_fail(IVM_STATUS_INVALID_PARAMETER);
}

/* Identity maps name a contiguous range: a buffer or a contiguous phys. */
static ivm_status identity_describe(const struct ivm_domain *d,
				    const struct ivm_phys *phys,
				    ivm_status bad_phys, uint64_t *pages,
				    struct pt_source *src)
{
	if (phys && phys->type == IVM_PHYS_PFN_ARRAY)
		return IVM_STATUS_NOT_SUPPORTED;
	if (!phys_describe(phys, pages, src))
		return bad_phys;
	if (d->type == IVM_DOMAIN_TRANSLATE &&
	    !domain_range_ok(d, src->base, *pages))
		return bad_phys;
	return IVM_STATUS_SUCCESS;
}

IVM_API ivm_status ivm_map_identity_range_ex(struct ivm_domain *domain,
					     uint32_t permissions,
					     const struct ivm_phys *phys)
{
	ivm_detail_reset();
	struct pt_source src;
	uint64_t pages;
	ivm_status status;

	if (!domain)
		return IVM_STATUS_INVALID_PARAMETER_1;
	if (permissions & ~IVM_PERM_MASK)
		return IVM_STATUS_INVALID_PARAMETER_2;
	status = identity_describe(domain, phys, IVM_STATUS_INVALID_PARAMETER_3,
				   &pages, &src);
	if (status != IVM_STATUS_SUCCESS)
		return status;
	if (domain->type == IVM_DOMAIN_PASSTHROUGH)
		return IVM_STATUS_SUCCESS; /* already identity */

	ivm_rcu_ensure_registered();
	src.flags = pt_perm_bits(permissions) | KIND_FLAGS(PT_KIND_IDENTITY);
	src.exclusive = domain->has_allocator; /* claimed: invariant 6 */
	ivm_la la = src.base;

	struct space_request req;
	(void)domain_check_window(domain, pages, &la, NULL, NULL, &req);
	uint64_t alloc_pages;
	ivm_la taken;
	status = domain_take_space(domain, &req, &taken, &alloc_pages);
	if (status == IVM_STATUS_SUCCESS) {
		status = install_mapping(domain, la, pages, &src, phys,
					 permissions);
		if (status != IVM_STATUS_SUCCESS)
			domain_give_space(domain, la, alloc_pages, false);
	}
	return status;
}

IVM_API ivm_status ivm_unmap_identity_range_ex(struct ivm_domain *domain,
					       const struct ivm_phys *phys)
{
	ivm_detail_reset();
	struct unmap_walk walk = { 0 };
	struct pt_source src;
	uint64_t pages;
	ivm_status status;

	if (!domain)
		return IVM_STATUS_INVALID_PARAMETER_1;
	status = identity_describe(domain, phys, IVM_STATUS_INVALID_PARAMETER_2,
				   &pages, &src);
	if (status != IVM_STATUS_SUCCESS)
		return status;
	if (domain->type == IVM_DOMAIN_PASSTHROUGH)
		return IVM_STATUS_SUCCESS;

	ivm_rcu_ensure_registered();
	if (unmap_one(domain, src.base, pages, 1u << PT_KIND_IDENTITY, NULL))
		return IVM_STATUS_SUCCESS;
	if (!pt_claim_whole(&domain->pt, src.base, pages,
			    1u << PT_KIND_IDENTITY, note_mapping, &walk))
		return IVM_STATUS_INVALID_PARAMETER;
	remove_mappings(domain, src.base, pages, &walk);
	return IVM_STATUS_SUCCESS;
}

IVM_API ivm_status ivm_translate(struct ivm_domain *domain, ivm_la la,
				 uint64_t *pa_out, uint32_t *permissions_out)
{
	uint64_t pa;
	uint32_t perms;

	if (ivm_unlikely(!domain))
		return ivm_fail(IVM_STATUS_INVALID_PARAMETER_1);
	if (domain->type == IVM_DOMAIN_PASSTHROUGH) {
		pa = la;
		perms = IVM_PERM_READ | IVM_PERM_WRITE;
	} else {
		/* Argument order: an unmapped la (_2) is reported before a
		 * missing pa_out (_3). */
		if (ivm_unlikely(la >> domain->width))
			return ivm_fail(IVM_STATUS_INVALID_PARAMETER_2);
		unsigned level = 0;
		ivm_rcu_read_lock();
		uint64_t e = pt_lookup(&domain->pt, la, &level);
		ivm_rcu_read_unlock();
		if (ivm_unlikely(!e))
			return ivm_fail(IVM_STATUS_INVALID_PARAMETER_2);
		pa = (e & PT_ADDR_MASK) + (la & (pt_level_size(level) - 1));
		perms = pt_leaf_perms(e);
	}
	if (ivm_unlikely(!pa_out))
		return ivm_fail(IVM_STATUS_INVALID_PARAMETER_3);
	*pa_out = pa;
	if (permissions_out)
		*permissions_out = perms;
	return IVM_STATUS_SUCCESS;
}
