/* SPDX-License-Identifier: MIT */
/*
 * domain.c - domain life cycle, fault reporting, stats and explicit
 * flushes: the API entry for everything that is not a map or an unmap.
 *
 * Design source: the Windows DMA IOMMU interface (CreateDomainEx,
 * DeleteDomain, FlushDomain, FlushDomainByVaList,
 * SetDeviceFaultReportingEx).  Departures: the domain's configuration is
 * one struct whose invalid fields report the parameter number they have in
 * CreateDomainEx; Unmanaged domains are not offered.
 *
 * Invariants:
 *  1. A domain is fully built (page table, allocator, backend, reserved
 *     regions) before ivm_domain_create writes *out; any failure unwinds
 *     in reverse order and leaves nothing allocated.
 *  2. Every reserved region (the caller's, and a VFIO domain's x86 MSI
 *     window) is taken from the allocator (when there is one) and
 *     occupies its page-table slots (identity leaves for should_map,
 *     markers otherwise), so neither the allocator nor an explicit map
 *     can ever hand it out.
 *  3. Destruction syncs the backend before freeing the page table, and
 *     waits for an RCU grace period before freeing tables.
 */
#include <stdlib.h>
#include <string.h>

#include "domain.h"
#include "ivm_config.h"
#include "iovamap/flush.h"
#include "mem.h"
#include "rcu.h"
#include "slots.h"
#include "util.h"

void domain_lock(struct ivm_domain *d)
{
	ivm_mutex_lock(&d->lock);
}

void domain_unlock(struct ivm_domain *d)
{
	ivm_mutex_unlock(&d->lock);
}

void domain_invalidate(struct ivm_domain *d, ivm_la la, uint64_t pages)
{
	d->be_ops->add_range(d->be, la, pages, false);
	domain_backend_sync(d);
}

ivm_status domain_check_window(const struct ivm_domain *d, uint64_t pages,
			       const ivm_la *explicit_la, const ivm_la *min_la,
			       const ivm_la *max_la, struct space_request *req)
{
	req->pages = pages;
	req->is_explicit = explicit_la != NULL;
	req->explicit_la = explicit_la ? *explicit_la : 0;
	req->order = ivm_order_ceil(pages);
	req->min_page = 0;
	req->max_page = domain_pages(d) - 1;
	if (!d->has_allocator)
		return IVM_STATUS_SUCCESS; /* min and max are ignored */

	if (explicit_la) {
		/* Inclusive last address; the caller checked the width. */
		ivm_la last = *explicit_la + ((pages << IVM_PAGE_SHIFT) - 1);
		if ((min_la && *explicit_la < *min_la) || (max_la && last > *max_la))
			return IVM_STATUS_INVALID_PARAMETER_MIX;
		return IVM_STATUS_SUCCESS;
	}
	if (min_la) {
		if (*min_la > UINT64_MAX - IVM_PAGE_MASK)
			return IVM_STATUS_INVALID_PARAMETER_MIX;
		req->min_page = (*min_la + IVM_PAGE_MASK) >> IVM_PAGE_SHIFT;
	}
	if (max_la && *max_la != UINT64_MAX) {
		/* The block's last page must end at or below *max_la. */
		uint64_t end_page = (*max_la + 1) >> IVM_PAGE_SHIFT;
		if (end_page == 0)
			return IVM_STATUS_INVALID_PARAMETER_MIX;
		if (end_page - 1 < req->max_page)
			req->max_page = end_page - 1;
	}
	uint64_t block = 1ull << req->order;
	if (req->min_page > req->max_page)
		return IVM_STATUS_INVALID_PARAMETER_MIX;
	/* Lowest aligned start in the window; max_page < 2^51, no wrap. */
	uint64_t start = (req->min_page + block - 1) & ~(block - 1);
	if (start > req->max_page || req->max_page - start < block - 1)
		return IVM_STATUS_INVALID_PARAMETER_MIX;
	return IVM_STATUS_SUCCESS;
}

ivm_status domain_take_space(struct ivm_domain *d,
			     const struct space_request *req,
			     ivm_la *la_out, uint64_t *alloc_pages)
{
	ivm_status status;

	*alloc_pages = 0;
	if (req->is_explicit) {
		if (d->has_allocator) {
			status = iova_claim(&d->iova,
					    req->explicit_la >> IVM_PAGE_SHIFT,
					    req->pages);
			if (status != IVM_STATUS_SUCCESS)
				return status;
			*alloc_pages = req->pages;
		}
		*la_out = req->explicit_la;
		return IVM_STATUS_SUCCESS;
	}

	IVM_ASSERT(d->has_allocator);
	uint64_t page;
	status = iova_alloc(&d->iova, req->order, req->min_page, req->max_page,
			    &page);
	if (status != IVM_STATUS_SUCCESS)
		return status;
	*alloc_pages = 1ull << req->order;
	*la_out = page << IVM_PAGE_SHIFT;
	return IVM_STATUS_SUCCESS;
}

void domain_give_space(struct ivm_domain *d, ivm_la la, uint64_t alloc_pages,
		       bool block)
{
	if (alloc_pages == 0 || !d->has_allocator)
		return;
	if (block)
		iova_free(&d->iova, la >> IVM_PAGE_SHIFT,
			  ivm_order_ceil(alloc_pages));
	else
		iova_release(&d->iova, la >> IVM_PAGE_SHIFT, alloc_pages);
}

void domain_report_fault(struct ivm_domain *d, ivm_la la, uint32_t access,
			 enum ivm_fault_reason reason)
{
	ivm_counter_add(&d->faults, 1);
	domain_lock(d);
	ivm_fault_handler_fn fn = d->fault_fn;
	void *ctx = d->fault_ctx;
	domain_unlock(d);
	if (fn) {
		struct ivm_fault fault = { .la = la, .access = access, .reason = reason };
		fn(ctx, &fault);
	}
}

/* Validate the configuration; returns the status for the first bad field. */
static ivm_status check_config(const struct ivm_domain_config *c,
			       unsigned *width, bool *has_allocator)
{
	if ((unsigned)c->type > IVM_DOMAIN_UNMANAGED)
		return IVM_STATUS_INVALID_PARAMETER_1;
	if (c->flags != 0)
		return IVM_STATUS_INVALID_PARAMETER_2;

	*width = IVM_DEFAULT_ADDRESS_WIDTH;
	*has_allocator = false;
	if (c->allocator) {
		const struct ivm_allocator_config *a = c->allocator;
		if ((unsigned)a->type > IVM_ALLOCATOR_BUDDY ||
		    (a->flags & ~IVM_ALLOCATOR_ALLOW_EXPLICIT) != 0)
			return IVM_STATUS_INVALID_PARAMETER_3;
		if (a->address_width != 0) {
			if (a->address_width < IVM_MIN_ADDRESS_WIDTH ||
			    a->address_width > IVM_MAX_ADDRESS_WIDTH)
				return IVM_STATUS_INVALID_PARAMETER_3;
			*width = a->address_width;
		}
		*has_allocator = a->type == IVM_ALLOCATOR_BUDDY;
	}

	if (c->reserved_count > 0 && !c->reserved)
		return IVM_STATUS_INVALID_PARAMETER_4;
	uint64_t space = 1ull << (*width - IVM_PAGE_SHIFT);
	for (size_t i = 0; i < c->reserved_count; i++) {
		const struct ivm_reserved_region *r = &c->reserved[i];
		uint64_t first = r->base >> IVM_PAGE_SHIFT;
		if (!ivm_page_aligned(r->base) || r->pages == 0 ||
		    first >= space || r->pages > space - first)
			return IVM_STATUS_INVALID_PARAMETER_4;
		for (size_t j = 0; j < i; j++) {
			const struct ivm_reserved_region *o = &c->reserved[j];
			uint64_t ofirst = o->base >> IVM_PAGE_SHIFT;
			/* Inclusive last pages; both ranges checked above. */
			if (first <= ofirst + (o->pages - 1) &&
			    ofirst <= first + (r->pages - 1))
				return IVM_STATUS_INVALID_PARAMETER_4;
		}
	}

	if (c->backend != IVM_BACKEND_SWIOMMU &&
	    c->backend != IVM_BACKEND_VFIO)
		return IVM_STATUS_INVALID_PARAMETER;
	if (c->backend == IVM_BACKEND_VFIO && c->vfio &&
	    (unsigned)c->vfio->map_path > IVM_VFIO_MAP_DPDK)
		return IVM_STATUS_INVALID_PARAMETER;
	if ((c->iotlb_sets & (c->iotlb_sets - 1)) != 0 || c->iotlb_ways > 16 ||
	    c->iotlb_sets > IVM_IOTLB_MAX_SETS)
		return IVM_STATUS_INVALID_PARAMETER;
	if ((unsigned)c->flush_mode > IVM_FLUSH_STRICT ||
	    c->flush_queue_size > IVM_MAX_FLUSH_QUEUE_SIZE)
		return IVM_STATUS_INVALID_PARAMETER;
	if (c->type == IVM_DOMAIN_UNMANAGED)
		return IVM_STATUS_NOT_SUPPORTED;
	if (c->backend == IVM_BACKEND_VFIO && !IVM_HAVE_VFIO) {
		ivm_set_status_detail("this iovamap was built without DPDK, "
				      "so it has no VFIO backend");
		return IVM_STATUS_NOT_SUPPORTED;
	}
	return IVM_STATUS_SUCCESS;
}

/* The backend a valid config asks for. */
static const struct ivm_backend_ops *
backend_ops(const struct ivm_domain_config *c)
{
#if IVM_HAVE_VFIO
	if (c->backend == IVM_BACKEND_VFIO)
		return &ivm_vfio_ops;
#endif
	return &ivm_swiommu_ops;
}

/* Give one reserved region its allocator claim and page-table slots. */
static ivm_status place_region(struct ivm_domain *d,
			       const struct ivm_reserved_region *r)
{
	struct pt_source src = {
		.base = r->base,
		.flags = PT_READ | PT_WRITE |
			 ((uint64_t)PT_KIND_REGION << PT_KIND_SHIFT),
		.marker = !r->should_map,
		.allow_large = true,
	};
	ivm_status status;

	if (d->has_allocator) {
		status = iova_claim(&d->iova, r->base >> IVM_PAGE_SHIFT,
				    r->pages);
		if (status != IVM_STATUS_SUCCESS)
			return status;
	}
	status = pt_install(&d->pt, r->base, r->pages, &src, false);
	if (status == IVM_STATUS_SUCCESS && r->should_map) {
		struct ivm_phys phys = {
			.type = IVM_PHYS_CONTIGUOUS,
			.contiguous = { .base = r->base,
					.size = r->pages << IVM_PAGE_SHIFT },
		};
		status = domain_backend_map(d, r->base, r->pages, &phys,
					IVM_PERM_READ | IVM_PERM_WRITE);
		if (status != IVM_STATUS_SUCCESS)
			pt_remove(&d->pt, r->base, r->pages, false);
	}
	if (status != IVM_STATUS_SUCCESS && d->has_allocator)
		iova_release(&d->iova, r->base >> IVM_PAGE_SHIFT, r->pages);
	return status;
}

/*
 * x86's interrupt window: a device's writes there are MSIs, never DMA, so
 * every x86 IOMMU keeps it out of translation and VFIO refuses mappings in
 * it (the kernel's IOMMU_RESV_MSI region; Linux's own DMA layer reserves
 * it the same way).  A VFIO Translate domain whose width reaches it gets
 * it as a reserved region (no mapping), unless the caller's regions
 * touch it: then the caller decides.
 */
#define X86_MSI_BASE  0xfee00000ull
#define X86_MSI_PAGES 0x100ull

static bool wants_msi_region(const struct ivm_domain_config *c,
			     unsigned width)
{
#if defined(__x86_64__) || defined(__i386__)
	const uint64_t first = X86_MSI_BASE >> IVM_PAGE_SHIFT;

	if (c->backend != IVM_BACKEND_VFIO || c->type != IVM_DOMAIN_TRANSLATE ||
	    width < 32)
		return false;
	for (size_t i = 0; i < c->reserved_count; i++) {
		uint64_t r = c->reserved[i].base >> IVM_PAGE_SHIFT;

		/* Inclusive last pages, as in check_config. */
		if (first <= r + (c->reserved[i].pages - 1) &&
		    r <= first + (X86_MSI_PAGES - 1))
			return false;
	}
	return true;
#else
	(void)c;
	(void)width;
	return false;
#endif
}

IVM_API ivm_status ivm_domain_create(const struct ivm_domain_config *config,
				     struct ivm_domain **out)
{
	ivm_detail_reset();
	struct ivm_domain *d;
	unsigned width;
	bool has_allocator;
	ivm_status status;

	if (!config || !out)
		return IVM_STATUS_INVALID_PARAMETER;
	status = check_config(config, &width, &has_allocator);
	if (status != IVM_STATUS_SUCCESS)
		return status;

	ivm_rcu_ensure_registered();
	d = ivm_mem_zalloc(sizeof(*d), _Alignof(struct ivm_domain));
	if (!d)
		return IVM_STATUS_INSUFFICIENT_RESOURCES;
	d->type = config->type;
	d->width = width;
	d->has_allocator = has_allocator;
	d->allow_explicit = has_allocator &&
		(config->allocator->flags & IVM_ALLOCATOR_ALLOW_EXPLICIT);
	d->be_ops = backend_ops(config);
	if (pthread_mutex_init(&d->lock, NULL) != 0) {
		status = IVM_STATUS_INSUFFICIENT_RESOURCES;
		goto err_free;
	}
	status = pt_init(&d->pt, width);
	if (status != IVM_STATUS_SUCCESS)
		goto err_mutex;
	if (has_allocator) {
		status = iova_init(&d->iova, width, !config->disable_iova_cache);
		if (status != IVM_STATUS_SUCCESS)
			goto err_pt;
	}
	status = d->be_ops->create(d, config, &d->be);
	if (status != IVM_STATUS_SUCCESS)
		goto err_ra;
	/* Only allocator-chosen addresses are invalidated lazily. */
	d->lazy = has_allocator && config->type == IVM_DOMAIN_TRANSLATE &&
		  config->flush_mode == IVM_FLUSH_LAZY;
	if (d->lazy) {
		status = flushq_init(&d->fq, d, config);
		if (status != IVM_STATUS_SUCCESS)
			goto err_backend_only;
	}
	for (size_t i = 0; i < config->reserved_count; i++) {
		status = place_region(d, &config->reserved[i]);
		if (status != IVM_STATUS_SUCCESS)
			goto err_backend;
	}
	if (wants_msi_region(config, width)) {
		const struct ivm_reserved_region msi = {
			.base = X86_MSI_BASE, .pages = X86_MSI_PAGES,
		};

		status = place_region(d, &msi);
		if (status != IVM_STATUS_SUCCESS)
			goto err_backend;
	}
	*out = d;
	return IVM_STATUS_SUCCESS;

err_backend:
	/* Regions placed so far go with the page table and the allocator;
	 * the backend forgets its mappings when destroyed. */
	if (d->lazy)
		flushq_fini(&d->fq);
err_backend_only:
	domain_backend_flush_all(d);
	d->be_ops->destroy(d->be);
err_ra:
	if (has_allocator)
		iova_fini(&d->iova);
err_pt:
	ivm_rcu_synchronize();
	pt_fini(&d->pt);
err_mutex:
	pthread_mutex_destroy(&d->lock);
err_free:
	ivm_mem_free(d, sizeof(*d), _Alignof(struct ivm_domain));
	return status == IVM_STATUS_IN_USE ? IVM_STATUS_INVALID_PARAMETER_4
					   : status;
}

IVM_API void ivm_domain_destroy(struct ivm_domain **domain)
{
	if (!domain || !*domain)
		return;
	struct ivm_domain *d = *domain;
	*domain = NULL;

	uint32_t devices = ivm_load_relaxed(&d->devices);
	if (devices != 0)
		ivm_die("domain destroyed with %u model device(s) attached; "
			"call ivm_swdev_destroy first", devices);

	ivm_rcu_ensure_registered();
	/* Before the flush below: its slot entries then find no set. */
	slots_free_all(d);
	while (d->reservations) {
		struct ivm_reservation *r = d->reservations;
		d->reservations = r->next;
		ivm_mem_free(r, sizeof(*r), _Alignof(struct ivm_reservation));
	}
	/* Invariant 3: no device may use a translation of this domain once
	 * its memory goes. */
	if (d->lazy) {
		flushq_flush_all(&d->fq);
		flushq_fini(&d->fq);
	}
	domain_backend_flush_all(d);

	ivm_rcu_synchronize();
	d->be_ops->destroy(d->be);
	pt_fini(&d->pt);
	if (d->has_allocator)
		iova_fini(&d->iova);
	pthread_mutex_destroy(&d->lock);
	ivm_mem_free(d, sizeof(*d), _Alignof(struct ivm_domain));
}

IVM_API ivm_status ivm_query_available_domain_types(uint32_t *mask)
{
	ivm_detail_reset();
	if (!mask)
		return IVM_STATUS_INVALID_PARAMETER_1;
	*mask = (1u << IVM_DOMAIN_TRANSLATE) | (1u << IVM_DOMAIN_PASSTHROUGH);
	return IVM_STATUS_SUCCESS;
}

IVM_API ivm_status ivm_domain_set_fault_handler(struct ivm_domain *domain,
						ivm_fault_handler_fn handler,
						void *context)
{
	ivm_detail_reset();
	if (!domain)
		return IVM_STATUS_INVALID_PARAMETER_1;
	domain_lock(domain);
	domain->fault_fn = handler;
	domain->fault_ctx = context;
	domain_unlock(domain);
	return IVM_STATUS_SUCCESS;
}

IVM_API ivm_status ivm_domain_get_stats(const struct ivm_domain *domain,
					struct ivm_domain_stats *out)
{
	ivm_detail_reset();
	if (!domain)
		return IVM_STATUS_INVALID_PARAMETER_1;
	if (!out)
		return IVM_STATUS_INVALID_PARAMETER_2;
	struct ivm_domain *d = (struct ivm_domain *)domain;
	memset(out, 0, sizeof(*out));
	/* Counted from the table itself, so that maps and unmaps pay for
	 * no shared counter (pt_tally). */
	struct pt_tally tally;
	ivm_rcu_ensure_registered();
	pt_tally(&d->pt, &tally);
	out->mappings = tally.mappings;
	out->mapped_pages = tally.pages;
	out->pt_tables = pt_table_count(&d->pt);
	out->pt_bytes = out->pt_tables * IVM_PAGE_SIZE;
	out->pt_empty_tables = tally.empty_tables;
	if (d->has_allocator) {
		struct iova_stats is;
		iova_get_stats(&d->iova, &is);
		out->iova_used_pages = is.used_pages;
		out->iova_cached_pages = is.cached_pages;
		out->iova_cache_hits = is.hits;
		out->iova_cache_misses = is.misses;
		out->iova_depot_magazines = is.depot_magazines;
		out->iova_reclaimed = is.reclaimed;
	}
	out->reservations = ivm_load_relaxed(&d->reservation_count);
	out->faults = ivm_load_relaxed(&d->faults);
	d->be_ops->get_stats(d->be, out);
	if (d->lazy) {
		out->flush_queued = flushq_depth(&d->fq);
		out->flush_batches = ivm_load_relaxed(&d->fq.batches);
		out->flush_entries = ivm_load_relaxed(&d->fq.entries);
		out->flush_ranges = ivm_load_relaxed(&d->fq.ranges);
		out->flush_domain_wide = ivm_load_relaxed(&d->fq.domain_wide);
		out->flush_wait_ns = ivm_load_relaxed(&d->fq.wait_ns);
	}
	return IVM_STATUS_SUCCESS;
}

IVM_API ivm_status ivm_domain_trim(struct ivm_domain *domain)
{
	ivm_detail_reset();
	if (!domain)
		return IVM_STATUS_INVALID_PARAMETER_1;
	ivm_rcu_ensure_registered();
	pt_reclaim(&domain->pt);
	if (domain->has_allocator)
		iova_trim(&domain->iova);
	return IVM_STATUS_SUCCESS;
}

IVM_API ivm_status ivm_flush_domain(struct ivm_domain *domain)
{
	ivm_detail_reset();
	if (!domain)
		return IVM_STATUS_INVALID_PARAMETER_1;
	if (domain->lazy)
		flushq_flush_all(&domain->fq); /* includes the full flush */
	else
		domain_backend_flush_all(domain);
	return IVM_STATUS_SUCCESS;
}

IVM_API ivm_status ivm_flush_poll(struct ivm_domain *domain, size_t *flushed)
{
	/* Once per burst: the detail is cleared on failure only. */
	if (!domain)
		return ivm_fail(IVM_STATUS_INVALID_PARAMETER_1);
	uint64_t n = domain->lazy ? flushq_poll(&domain->fq) : 0;
	if (flushed)
		*flushed = (size_t)n;
	return IVM_STATUS_SUCCESS;
}

IVM_API ivm_status ivm_flush_domain_by_va_list(struct ivm_domain *domain,
					       bool last_level, size_t count,
					       const ivm_la *list)
{
	ivm_detail_reset();
	if (!domain)
		return IVM_STATUS_INVALID_PARAMETER_1;
	if (count == 0)
		return IVM_STATUS_SUCCESS;
	if (!list)
		return IVM_STATUS_INVALID_PARAMETER_4;
	for (size_t i = 0; i < count; i++)
		if (list[i] >> domain->width)
			return IVM_STATUS_INVALID_PARAMETER_4;
	for (size_t i = 0; i < count; i++)
		domain->be_ops->add_range(domain->be, list[i] & ~IVM_PAGE_MASK,
					  1, last_level);
	domain_backend_sync(domain);
	return IVM_STATUS_SUCCESS;
}

/* "DDDD:BB:DD.F", the form sysfs names PCI devices by. */
static bool pci_address_ok(const char *a)
{
	static const char form[] = "xxxx:xx:xx.x";

	if (!a || strlen(a) != sizeof(form) - 1)
		return false;
	for (size_t i = 0; i < sizeof(form) - 1; i++) {
		bool hex = (a[i] >= '0' && a[i] <= '9') ||
			   (a[i] >= 'a' && a[i] <= 'f') ||
			   (a[i] >= 'A' && a[i] <= 'F');
		if (form[i] == 'x' ? !hex : a[i] != form[i])
			return false;
	}
	return a[11] <= '7'; /* function 0..7 */
}

IVM_API ivm_status ivm_domain_attach_device(struct ivm_domain *domain,
					    const char *pci_address,
					    struct ivm_vfio_device *out)
{
	ivm_detail_reset();
	if (!domain)
		return IVM_STATUS_INVALID_PARAMETER_1;
	if (!pci_address_ok(pci_address))
		return IVM_STATUS_INVALID_PARAMETER_2;
	if (!out)
		return IVM_STATUS_INVALID_PARAMETER_3;
	if (!domain->be_ops->attach)
		return IVM_STATUS_NOT_SUPPORTED;
	ivm_rcu_ensure_registered();
	return domain->be_ops->attach(domain->be, pci_address, out);
}

IVM_API ivm_status ivm_domain_detach_device(struct ivm_domain *domain,
					    const char *pci_address)
{
	ivm_detail_reset();
	if (!domain)
		return IVM_STATUS_INVALID_PARAMETER_1;
	if (!pci_address_ok(pci_address))
		return IVM_STATUS_INVALID_PARAMETER_2;
	if (!domain->be_ops->detach)
		return IVM_STATUS_NOT_SUPPORTED;
	ivm_rcu_ensure_registered();
	return domain->be_ops->detach(domain->be, pci_address);
}
