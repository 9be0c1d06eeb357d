/* SPDX-License-Identifier: MIT */
/*
 * swiommu.c - the software IOMMU model: the embedded default backend and
 * its model devices.
 *
 * Design source: the translation path of a VT-d / SMMU style IOMMU.  A
 * device access is translated page by page through an IOTLB; a miss walks
 * the domain's page table (the same table ivm_translate reads, exactly as
 * hardware walks the table the driver wrote); a hit uses the cached
 * translation whatever the table says now.  Invalidations are queued by
 * add_range and take effect at sync, so a missing or late invalidation is
 * observable: the device keeps reaching the old memory.
 *
 * In this model a physical address is a virtual address of this process,
 * so a DMA is a memcpy between real buffers.
 *
 * Departures from hardware: the IOTLB caches 4 KiB translations only (a
 * large leaf fills one entry per page touched); there is no paging-
 * structure cache, so last_level invalidations equal full ones; faults are
 * reported synchronously to the accessing thread.  A configurable time
 * spent per sync (invalidation_latency_ns) models real hardware.
 *
 * The stale-translation detector: on every IOTLB hit the model also walks
 * the page table.  A hit whose address is no longer mapped is a stale hit
 * (counted, and served: the accepted window of lazy invalidation, between
 * an unmap and the flush that covers it).  A hit whose address is mapped
 * again to other memory, or with other permissions, is a violation: the
 * address was handed out again before its invalidation completed.  It is
 * counted, refused, and reported to the fault handler as
 * IVM_FAULT_STALE_TRANSLATION.
 *
 * Invariants:
 *  1. The IOTLB (entries, replacement clock) is only touched under
 *     iotlb_lock.
 *  2. A miss walks the table and inserts the result under iotlb_lock, and
 *     sync invalidates under the same lock; since the core clears a leaf
 *     before it queues its invalidation, a walk either precedes the sync
 *     (its entry is then invalidated) or follows the clear (it finds
 *     nothing).  No stale entry survives a sync.
 *  3. The pending-invalidation queue is guarded by pending_lock, held by
 *     add_range for a few stores (it never sleeps while holding it, so
 *     add_range does not block in the sense of backend.h).  sync takes
 *     iotlb_lock first and drains the queue while holding it, so a sync
 *     that starts after an add_range returned cannot return before that
 *     range is invalidated, even if another thread's sync drained it.
 *  4. A DMA translates every page before it moves any byte, all under
 *     iotlb_lock, so a faulting access moves nothing.
 *
 * Concurrency:
 *   ivm_swdev_dma_*   | with each other, with every backend op
 *   add_range / sync / flush_all | with each other and with DMAs
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cpu.h"
#include "domain.h"
#include "iovamap/swiommu.h"
#include "mem.h"
#include "rcu.h"
#include "util.h"

#define IOTLB_DEFAULT_SETS 64u
#define IOTLB_DEFAULT_WAYS 4u
#define PENDING_MAX 64u

struct iotlb_entry {
	uint64_t tag;      /* logical page number + 1; 0 = invalid */
	uint64_t pa_page;  /* physical page number */
	uint32_t perms;    /* IVM_PERM_* */
	uint32_t stamp;    /* last use, for LRU within the set */
};

struct pending_range {
	ivm_la la;
	uint64_t pages;
};

struct ivm_backend {
	struct ivm_domain *domain;   /* set at create */
	unsigned sets, ways;         /* set at create; sets a power of two */

	pthread_mutex_t iotlb_lock;
	struct iotlb_entry *entries; /* sets * ways; iotlb_lock */
	uint32_t clock;              /* iotlb_lock */

	/* Invariant 3: pending_lock. */
	pthread_mutex_t pending_lock;
	struct pending_range pending[PENDING_MAX];
	unsigned pending_count;
	bool pending_overflow;

	uint64_t latency_ns;         /* spent per sync; set at create */
	_Atomic uint64_t hits, misses, invalidations, syncs, flush_alls;
	_Atomic uint64_t stale_hits, violations;
};

struct ivm_swdev {
	struct ivm_domain *domain;
	struct ivm_backend *be;
};

#define iotlb_lock(be) ivm_mutex_lock(&(be)->iotlb_lock)
#define iotlb_unlock(be) ivm_mutex_unlock(&(be)->iotlb_lock)

static ivm_status sw_create(struct ivm_domain *domain,
			    const struct ivm_domain_config *config,
			    struct ivm_backend **out)
{
	struct ivm_backend *be = ivm_mem_zalloc(sizeof(*be), _Alignof(struct ivm_backend));
	if (!be)
		return IVM_STATUS_INSUFFICIENT_RESOURCES;
	be->domain = domain;
	be->sets = config->iotlb_sets ? config->iotlb_sets : IOTLB_DEFAULT_SETS;
	be->ways = config->iotlb_ways ? config->iotlb_ways : IOTLB_DEFAULT_WAYS;
	be->latency_ns = config->invalidation_latency_ns;
	size_t bytes = (size_t)be->sets * be->ways * sizeof(struct iotlb_entry);
	be->entries = ivm_mem_zalloc(bytes, _Alignof(struct iotlb_entry));
	if (!be->entries)
		goto err_be;
	if (pthread_mutex_init(&be->iotlb_lock, NULL) != 0)
		goto err_entries;
	if (pthread_mutex_init(&be->pending_lock, NULL) != 0)
		goto err_iotlb_lock;
	*out = be;
	return IVM_STATUS_SUCCESS;

err_iotlb_lock:
	pthread_mutex_destroy(&be->iotlb_lock);
err_entries:
	ivm_mem_free(be->entries, bytes, _Alignof(struct iotlb_entry));
err_be:
	ivm_mem_free(be, sizeof(*be), _Alignof(struct ivm_backend));
	return IVM_STATUS_INSUFFICIENT_RESOURCES;
}

static void sw_destroy(struct ivm_backend *be)
{
	size_t bytes = (size_t)be->sets * be->ways * sizeof(struct iotlb_entry);
	pthread_mutex_destroy(&be->pending_lock);
	pthread_mutex_destroy(&be->iotlb_lock);
	ivm_mem_free(be->entries, bytes, _Alignof(struct iotlb_entry));
	ivm_mem_free(be, sizeof(*be), _Alignof(struct ivm_backend));
}


/* The model walks the shared page table: nothing to program on map. */
static void sw_add_range(struct ivm_backend *be, ivm_la la, uint64_t pages,
			 bool last_level)
{
	ivm_mutex_lock(&be->pending_lock);
	if (be->pending_count == PENDING_MAX) {
		be->pending_overflow = true;
	} else {
		be->pending[be->pending_count].la = la;
		be->pending[be->pending_count].pages = pages;
		be->pending_count++;
	}
	ivm_mutex_unlock(&be->pending_lock);
}

static struct iotlb_entry *iotlb_set(struct ivm_backend *be, uint64_t page)
{
	return &be->entries[(size_t)(page & (be->sets - 1)) * be->ways];
}

/* Invalidate every entry for pages [first, first + pages); iotlb_lock held. */
static uint64_t iotlb_invalidate_range(struct ivm_backend *be, uint64_t first,
				       uint64_t pages)
{
	uint64_t n = 0;
	uint64_t total = (uint64_t)be->sets * be->ways;

	if (pages >= total) {
		/* Cheaper to scan every entry once. */
		for (uint64_t i = 0; i < total; i++) {
			uint64_t tag = be->entries[i].tag;
			if (tag && tag - 1 >= first && tag - 1 - first < pages) {
				be->entries[i].tag = 0;
				n++;
			}
		}
		return n;
	}
	for (uint64_t p = first; p < first + pages; p++) {
		struct iotlb_entry *set = iotlb_set(be, p);
		for (unsigned w = 0; w < be->ways; w++) {
			if (set[w].tag == p + 1) {
				set[w].tag = 0;
				n++;
			}
		}
	}
	return n;
}

static uint64_t iotlb_invalidate_all(struct ivm_backend *be)
{
	uint64_t n = 0, total = (uint64_t)be->sets * be->ways;
	for (uint64_t i = 0; i < total; i++) {
		if (be->entries[i].tag) {
			be->entries[i].tag = 0;
			n++;
		}
	}
	return n;
}

/* Model the time hardware takes to complete an invalidation; iotlb_lock
 * held, as a hardware invalidation queue is busy meanwhile. */
static void spend_latency(const struct ivm_backend *be)
{
	if (be->latency_ns == 0)
		return;
	uint64_t until = ivm_now_ns() + be->latency_ns;
	while (ivm_now_ns() < until)
		__builtin_ia32_pause();
}

static void sw_sync(struct ivm_backend *be)
{
	struct pending_range work[PENDING_MAX];
	unsigned count;
	bool overflow;
	uint64_t n = 0;

	/* Invariant 3: drain the queue under iotlb_lock. */
	iotlb_lock(be);
	ivm_mutex_lock(&be->pending_lock);
	count = be->pending_count;
	overflow = be->pending_overflow;
	memcpy(work, be->pending, count * sizeof(work[0]));
	be->pending_count = 0;
	be->pending_overflow = false;
	ivm_mutex_unlock(&be->pending_lock);
	if (overflow) {
		n = iotlb_invalidate_all(be);
	} else {
		for (unsigned i = 0; i < count; i++)
			n += iotlb_invalidate_range(
				be, work[i].la >> IVM_PAGE_SHIFT, work[i].pages);
	}
	spend_latency(be);
	iotlb_unlock(be);
	ivm_counter_add(&be->invalidations, n);
	ivm_counter_add(&be->syncs, 1);
}

static void sw_flush_all(struct ivm_backend *be)
{
	iotlb_lock(be);
	ivm_mutex_lock(&be->pending_lock);
	be->pending_count = 0; /* all of it goes below */
	be->pending_overflow = false;
	ivm_mutex_unlock(&be->pending_lock);
	uint64_t n = iotlb_invalidate_all(be);
	spend_latency(be);
	iotlb_unlock(be);
	ivm_counter_add(&be->invalidations, n);
	ivm_counter_add(&be->flush_alls, 1);
	ivm_counter_add(&be->syncs, 1);
}

static void sw_get_stats(const struct ivm_backend *be,
			 struct ivm_domain_stats *out)
{
	struct ivm_backend *b = (struct ivm_backend *)be;
	out->iotlb_hits += ivm_load_relaxed(&b->hits);
	out->iotlb_misses += ivm_load_relaxed(&b->misses);
	out->iotlb_invalidations += ivm_load_relaxed(&b->invalidations);
	out->backend_syncs += ivm_load_relaxed(&b->syncs);
	out->backend_flush_all += ivm_load_relaxed(&b->flush_alls);
	out->iotlb_stale_hits += ivm_load_relaxed(&b->stale_hits);
	out->iotlb_violations += ivm_load_relaxed(&b->violations);
}

const struct ivm_backend_ops ivm_swiommu_ops = {
	.name = "swiommu",
	.create = sw_create,
	.destroy = sw_destroy,
	.map = NULL,   /* the model walks the page table itself */
	.unmap = NULL,
	.add_range = sw_add_range,
	.sync = sw_sync,
	.flush_all = sw_flush_all,
	.get_stats = sw_get_stats,
};

/* The leaf translating page now, as (physical page, perms); false when
 * unmapped. */
static bool walk_page(struct ivm_domain *d, uint64_t page, uint64_t *pa_page,
		      uint32_t *perms)
{
	ivm_la la = page << IVM_PAGE_SHIFT;
	unsigned level = 0;
	uint64_t e = 0;

	if ((la >> d->width) == 0) {
		ivm_rcu_read_lock();
		e = pt_lookup(&d->pt, la, &level);
		ivm_rcu_read_unlock();
	}
	if (!e)
		return false;
	*pa_page = ((e & PT_ADDR_MASK) + (la & (pt_level_size(level) - 1))) >>
		   IVM_PAGE_SHIFT;
	*perms = pt_leaf_perms(e);
	return true;
}

/* The stale-translation detector (see the top of the file): false with
 * *reason on a violation. */
static bool check_hit(struct ivm_backend *be, uint64_t page,
		      const struct iotlb_entry *entry,
		      enum ivm_fault_reason *reason)
{
	uint64_t pa_page;
	uint32_t perms;

	if (!walk_page(be->domain, page, &pa_page, &perms)) {
		ivm_counter_add(&be->stale_hits, 1);
		return true;
	}
	if (pa_page != entry->pa_page || perms != entry->perms) {
		ivm_counter_add(&be->violations, 1);
		*reason = IVM_FAULT_STALE_TRANSLATION;
		return false;
	}
	return true;
}

/*
 * Translate one page for the device; iotlb_lock held.  Returns false with
 * *reason on a fault.
 */
static bool iotlb_translate(struct ivm_backend *be, uint64_t page,
			    uint32_t need, uint64_t *pa_page,
			    enum ivm_fault_reason *reason, bool count)
{
	struct iotlb_entry *set = iotlb_set(be, page);
	struct iotlb_entry *victim = &set[0];

	for (unsigned w = 0; w < be->ways; w++) {
		if (set[w].tag == page + 1) {
			set[w].stamp = ++be->clock;
			if (count) {
				ivm_counter_add(&be->hits, 1);
				if (!check_hit(be, page, &set[w], reason))
					return false;
			}
			if ((set[w].perms & need) != need) {
				*reason = IVM_FAULT_PERMISSION;
				return false;
			}
			*pa_page = set[w].pa_page;
			return true;
		}
		if (set[w].tag == 0 ||
		    (victim->tag != 0 && set[w].stamp < victim->stamp))
			victim = &set[w];
	}

	ivm_counter_add(&be->misses, 1);
	uint64_t walked_pa;
	uint32_t walked_perms;
	if (!walk_page(be->domain, page, &walked_pa, &walked_perms)) {
		*reason = IVM_FAULT_UNMAPPED;
		return false;
	}
	victim->tag = page + 1;
	victim->pa_page = walked_pa;
	victim->perms = walked_perms;
	victim->stamp = ++be->clock;
	if ((victim->perms & need) != need) {
		*reason = IVM_FAULT_PERMISSION;
		return false;
	}
	*pa_page = victim->pa_page;
	return true;
}

static ivm_status swdev_dma(struct ivm_swdev *dev, ivm_la la, void *buf,
			    size_t len, bool device_writes)
{
	if (!dev)
		return ivm_fail(IVM_STATUS_INVALID_PARAMETER_1);
	if (len > 0 && la + (len - 1) < la)
		return ivm_fail(IVM_STATUS_INVALID_PARAMETER_2);
	if (!buf)
		return ivm_fail(IVM_STATUS_INVALID_PARAMETER_3);
	if (len == 0)
		return ivm_fail(IVM_STATUS_INVALID_PARAMETER_4);

	struct ivm_domain *d = dev->domain;
	if (d->type == IVM_DOMAIN_PASSTHROUGH) {
		void *mem = (void *)(uintptr_t)la;
		if (device_writes)
			memcpy(mem, buf, len);
		else
			memcpy(buf, mem, len);
		return IVM_STATUS_SUCCESS;
	}

	struct ivm_backend *be = dev->be;
	uint32_t need = device_writes ? IVM_PERM_WRITE : IVM_PERM_READ;
	uint64_t first = la >> IVM_PAGE_SHIFT;
	uint64_t last = (la + (len - 1)) >> IVM_PAGE_SHIFT;
	enum ivm_fault_reason reason = IVM_FAULT_UNMAPPED;
	uint64_t pa_page;

	ivm_rcu_ensure_registered();
	iotlb_lock(be);
	/* Invariant 4: translate everything first. */
	for (uint64_t p = first; p <= last; p++) {
		if (!iotlb_translate(be, p, need, &pa_page, &reason, true)) {
			iotlb_unlock(be);
			ivm_la at = p == first ? la : p << IVM_PAGE_SHIFT;
			domain_report_fault(d, at, need, reason);
			return ivm_fail(IVM_STATUS_ACCESS_VIOLATION);
		}
	}
	size_t done = 0;
	for (uint64_t p = first; p <= last; p++) {
		uint64_t offset = p == first ? (la & IVM_PAGE_MASK) : 0;
		size_t chunk = (size_t)(IVM_PAGE_SIZE - offset);
		if (chunk > len - done)
			chunk = len - done;
		/* Second look-up of the same page: a hit by invariant 4, not
		 * counted again. */
		if (!iotlb_translate(be, p, need, &pa_page, &reason, false))
			ivm_die("IOTLB entry vanished under its lock");
		void *mem = (void *)(uintptr_t)((pa_page << IVM_PAGE_SHIFT) + offset);
		if (device_writes)
			memcpy(mem, (char *)buf + done, chunk);
		else
			memcpy((char *)buf + done, mem, chunk);
		done += chunk;
	}
	iotlb_unlock(be);
	return IVM_STATUS_SUCCESS;
}

IVM_API ivm_status ivm_swdev_dma_read(struct ivm_swdev *dev, ivm_la la,
				      void *dst, size_t len)
{
	return swdev_dma(dev, la, dst, len, false);
}

IVM_API ivm_status ivm_swdev_dma_write(struct ivm_swdev *dev, ivm_la la,
				       const void *src, size_t len)
{
	return swdev_dma(dev, la, (void *)(uintptr_t)src, len, true);
}

IVM_API ivm_status ivm_swdev_create(struct ivm_domain *domain,
				    struct ivm_swdev **out)
{
	ivm_detail_reset();
	if (!domain)
		return IVM_STATUS_INVALID_PARAMETER_1;
	if (!out)
		return IVM_STATUS_INVALID_PARAMETER_2;
	if (domain->be_ops != &ivm_swiommu_ops)
		return IVM_STATUS_NOT_SUPPORTED;
	struct ivm_swdev *dev = ivm_mem_zalloc(sizeof(*dev), _Alignof(struct ivm_swdev));
	if (!dev)
		return IVM_STATUS_INSUFFICIENT_RESOURCES;
	dev->domain = domain;
	dev->be = domain->be;
	ivm_fetch_add_relaxed(&domain->devices, 1);
	*out = dev;
	return IVM_STATUS_SUCCESS;
}

IVM_API void ivm_swdev_destroy(struct ivm_swdev **dev)
{
	if (!dev || !*dev)
		return;
	ivm_fetch_sub_relaxed(&(*dev)->domain->devices, 1);
	ivm_mem_free(*dev, sizeof(**dev), _Alignof(struct ivm_swdev));
	*dev = NULL;
}
