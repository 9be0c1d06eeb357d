/* SPDX-License-Identifier: MIT */
/*
 * iovamap/domain.h - domains: creation, destruction, fault reporting, stats.
 *
 * A domain is one I/O address space: a logical (IOVA) allocator, a page
 * table that translates logical to physical addresses, and a hardware
 * backend that a device attached to the domain translates through.
 *
 * Which calls on one domain may run at the same time:
 *
 *   call                      | may run concurrently with
 *   --------------------------+---------------------------------------------
 *   ivm_domain_create         | anything (it touches no shared state)
 *   ivm_domain_destroy        | nothing on the same domain (the caller
 *                             | guarantees no other call is in flight)
 *   ivm_domain_set_fault_handler | everything except destroy
 *   ivm_domain_get_stats      | everything except destroy
 *   ivm_domain_trim           | everything except destroy
 *   map / unmap / reserve /   | each other and translate, on the same or
 *   identity / flush calls    | different ranges: no domain-wide lock.
 *                             | Overlapping maps: exactly one wins, the
 *                             | others get IN_USE; two unmaps of one
 *                             | mapping: one wins, the other gets
 *                             | INVALID_PARAMETER
 *   ivm_translate             | everything except destroy; wait-free
 */
#ifndef IOVAMAP_DOMAIN_H
#define IOVAMAP_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iovamap/export.h"
#include "iovamap/status.h"
#include "iovamap/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* IOMMU_DMA_DOMAIN_TYPE. */
enum ivm_domain_type {
	/* Logical addresses are translated through the domain's page table. */
	IVM_DOMAIN_TRANSLATE = 0,
	/* No translation: a device address is the physical address. */
	IVM_DOMAIN_PASSTHROUGH = 1,
	/* The caller owns the page table and its flushes.  Not offered by
	 * this release (see ivm_query_available_domain_types). */
	IVM_DOMAIN_UNMANAGED = 2,
};

/* The logical allocator of a domain. */
enum ivm_allocator_type {
	/* No allocator: every map names its explicit logical address. */
	IVM_ALLOCATOR_NONE = 0,
	/* Buddy: sizes round up to a power of two pages, every allocation is
	 * aligned to its size, the lowest free address is handed out first. */
	IVM_ALLOCATOR_BUDDY = 1,
};

/* Allocator flag: accept explicit logical addresses too.  Without it a
 * Buddy allocator refuses them with IVM_STATUS_NOT_SUPPORTED, as on
 * Windows. */
#define IVM_ALLOCATOR_ALLOW_EXPLICIT 1u

/* Defaults for zeroed fields. */
#define IVM_DEFAULT_ADDRESS_WIDTH 48u
#define IVM_MIN_ADDRESS_WIDTH     13u
#define IVM_MAX_ADDRESS_WIDTH     63u
#define IVM_IOTLB_MAX_SETS        65536u

struct ivm_allocator_config {
	/* IVM_ALLOCATOR_NONE here is the same as a NULL allocator pointer,
	 * except that address_width still sets the domain's width. */
	enum ivm_allocator_type type;
	/* Logical space is [0, 2^address_width).  0 means
	 * IVM_DEFAULT_ADDRESS_WIDTH; otherwise 13..63. */
	uint32_t address_width;
	/* IVM_ALLOCATOR_ALLOW_EXPLICIT or 0; other bits are reserved. */
	uint32_t flags;
};

/*
 * A logical range the allocator must never hand out (for example an MSI
 * window, or memory a device firmware uses).  base is a logical address,
 * pages its length.  With should_map the range is also identity mapped
 * (logical == physical, read and write) for the domain's whole life; such
 * a mapping cannot be unmapped by any call.  A VFIO domain on x86 adds the
 * MSI window by itself when none of these touches it (iovamap/vfio.h).
 */
struct ivm_reserved_region {
	uint64_t base;
	uint64_t pages;
	bool should_map;
};

/*
 * When an unmap's IOTLB invalidation happens.
 *
 * IVM_FLUSH_LAZY (the default): an unmap of one mapping whose address the
 * allocator chose clears the page table and queues the mapping's block on
 * the calling CPU's flush queue (one unmap call that covers several
 * mappings at once is invalidated strictly); the invalidation is issued, coalesced with its neighbours, when
 * the queue fills, when its oldest entry is older than the timeout
 * (driven by ivm_flush_poll() or the optional flush thread), or on
 * ivm_flush_domain().  The addresses go back to the allocator only after
 * that invalidation completed, so they are never handed out again while a
 * device may still translate them.  Accepted window: until then a device
 * may still reach the unmapped memory through a cached translation.
 * IVM_FLUSH_STRICT: every unmap returns after its invalidation completed.
 *
 * Explicit, identity and reserved mappings are always invalidated
 * strictly: their caller, not the allocator, decides when an address is
 * used again, which may be right after the unmap returns.
 */
enum ivm_flush_mode {
	IVM_FLUSH_LAZY = 0,
	IVM_FLUSH_STRICT = 1,
};

#define IVM_DEFAULT_FLUSH_QUEUE_SIZE 256u   /* entries per CPU */
#define IVM_MAX_FLUSH_QUEUE_SIZE     4096u
#define IVM_DEFAULT_FLUSH_TIMEOUT_US 10000u /* 10 ms, as Linux */

/* The backend that devices translate through. */
enum ivm_backend_type {
	/* The software IOMMU model (iovamap/swiommu.h): the embedded default. */
	IVM_BACKEND_SWIOMMU = 0,
	/* VFIO through DPDK's rte_vfio: real devices (iovamap/vfio.h). */
	IVM_BACKEND_VFIO = 1,
};

struct ivm_vfio_config;

/*
 * Domain configuration.  A zeroed field always means the default, so
 * `struct ivm_domain_config cfg = {0};` is a Translate domain without an
 * allocator over a 48-bit logical space (wide enough for identity maps of
 * any user-space address).
 *
 * Invalid fields are reported with the parameter number they have in the
 * Windows CreateDomainEx call: type -> INVALID_PARAMETER_1, flags ->
 * INVALID_PARAMETER_2, allocator -> INVALID_PARAMETER_3, reserved regions
 * -> INVALID_PARAMETER_4, anything else -> INVALID_PARAMETER.
 */
struct ivm_domain_config {
	enum ivm_domain_type type;
	/* Must be 0. */
	uint64_t flags;
	/* NULL: no allocator (every map needs an explicit address). */
	const struct ivm_allocator_config *allocator;
	/* Reserved regions; may be NULL when reserved_count is 0.  Regions
	 * must not overlap each other and must lie inside the address width. */
	const struct ivm_reserved_region *reserved;
	size_t reserved_count;
	/* Backend; 0 is the software IOMMU model. */
	enum ivm_backend_type backend;
	/* VFIO backend only: its options (iovamap/vfio.h); NULL: defaults. */
	const struct ivm_vfio_config *vfio;
	/* Software IOMMU model only: IOTLB geometry.  0 means the default
	 * (64 sets of 4 ways); sets must be a power of two no larger than
	 * IVM_IOTLB_MAX_SETS, ways 1..16. */
	uint32_t iotlb_sets;
	uint32_t iotlb_ways;
	/* true turns the per-CPU magazine IOVA cache off: every allocation
	 * goes to the locked range allocator (the classic design; useful as a
	 * baseline).  Default false: the cache is on. */
	bool disable_iova_cache;
	/* Lazy (default) or strict invalidation; see enum ivm_flush_mode. */
	enum ivm_flush_mode flush_mode;
	/* Lazy mode: entries per CPU queue (0: 256; at most 4096) and the
	 * age at which a queue is flushed (0: 10 ms). */
	uint32_t flush_queue_size;
	uint32_t flush_timeout_us;
	/* Lazy mode: start a background thread that flushes queues past the
	 * timeout.  Default false: call ivm_flush_poll() from a loop that
	 * runs anyway (a PMD's) instead, or rely on fill and explicit
	 * flushes. */
	bool flush_thread;
	/* Software IOMMU model only: time one sync spends invalidating, to
	 * model hardware (e.g. 1000 for 1 us).  0: as fast as memory. */
	uint32_t invalidation_latency_ns;
};

/*
 * ivm_domain_create - make a domain.
 *
 * @config: read during the call only (the caller keeps ownership).
 * @out:    on success receives the new domain, owned by the caller until
 *          ivm_domain_destroy; untouched on failure.
 *
 * Returns:
 *   IVM_STATUS_SUCCESS
 *   IVM_STATUS_INVALID_PARAMETER    config or out is NULL, unknown backend,
 *                                   or bad IOTLB geometry
 *   IVM_STATUS_INVALID_PARAMETER_1  type is not a known domain type
 *   IVM_STATUS_INVALID_PARAMETER_2  flags is not 0
 *   IVM_STATUS_INVALID_PARAMETER_3  unknown allocator type, width outside
 *                                   13..63, or reserved allocator flags
 *   IVM_STATUS_INVALID_PARAMETER_4  a reserved region is empty, unaligned,
 *                                   wraps, passes the width, or overlaps
 *                                   another; or reserved_count > 0 with a
 *                                   NULL array
 *   IVM_STATUS_NOT_SUPPORTED        IVM_DOMAIN_UNMANAGED; or a VFIO domain
 *                                   where this build has no VFIO backend,
 *                                   the host has no VFIO (no vfio node in
 *                                   the device directory) or DPDK's EAL
 *                                   cannot start (see ivm_status_detail())
 *   IVM_STATUS_INSUFFICIENT_RESOURCES  out of memory
 *
 * Context: any thread.  Blocking: allocates memory.  Ordering: the domain
 * is fully built before *out is written; publishing the pointer to other
 * threads is the caller's job (any release/acquire pair or lock).
 */
IVM_API ivm_status ivm_domain_create(const struct ivm_domain_config *config,
				     struct ivm_domain **out);

/*
 * ivm_domain_destroy - tear down a domain and everything in it.
 *
 * Live mappings are removed and the backend is synced before any memory is
 * freed; live reservations are freed (their handles become invalid).  Every
 * model device made on the domain (ivm_swdev_create) must be destroyed
 * first: destroying a domain with devices attached aborts the process with
 * a message, because a device would otherwise DMA through freed tables.
 *
 * @domain: pointer to the handle; NULL or *domain == NULL is a no-op.  Sets
 *          *domain to NULL.
 *
 * Context: any thread, not inside an RCU read-side section of iovamap; no
 * other call on this domain may be in flight or follow.  Blocking: yes
 * (waits for an RCU grace period so that no reader still sees a table).
 * Ordering: none beyond the caller's own guarantee of exclusivity.
 */
IVM_API void ivm_domain_destroy(struct ivm_domain **domain);

/*
 * ivm_query_available_domain_types - bitmask of the domain types this
 * build can create: bit (1 << type) is set for each.
 *
 * Returns IVM_STATUS_SUCCESS, or IVM_STATUS_INVALID_PARAMETER_1 when mask
 * is NULL.  Context: any thread.  Blocking: never.  Ordering: none.
 */
IVM_API ivm_status ivm_query_available_domain_types(uint32_t *mask);

/* Why a device access faulted. */
enum ivm_fault_reason {
	/* No mapping covers the address. */
	IVM_FAULT_UNMAPPED = 1,
	/* A mapping covers it but lacks the access's permission. */
	IVM_FAULT_PERMISSION = 2,
	/* Software IOMMU model: the IOTLB served a translation whose logical
	 * address has meanwhile been mapped to other memory, i.e. it was
	 * handed out again before its invalidation completed.  The access is
	 * refused; this is the bug the lazy flush protocol rules out. */
	IVM_FAULT_STALE_TRANSLATION = 3,
};

struct ivm_fault {
	/* The first faulting logical address of the access. */
	ivm_la la;
	/* IVM_PERM_READ (the device read memory) or IVM_PERM_WRITE. */
	uint32_t access;
	enum ivm_fault_reason reason;
};

typedef void (*ivm_fault_handler_fn)(void *context,
				     const struct ivm_fault *fault);

/*
 * ivm_domain_set_fault_handler - report faulting device accesses
 * (SetDeviceFaultReportingEx).
 *
 * @handler: called once per faulting access, on the thread that performed
 *           the access (for the software model: the thread that called
 *           ivm_swdev_dma_*), with no iovamap lock held and outside any
 *           RCU read-side section.  It may call any iovamap function except
 *           ivm_domain_destroy / ivm_swdev_destroy on this domain.  NULL
 *           turns reporting off.
 * @context: passed to the handler unchanged.
 *
 * Returns IVM_STATUS_SUCCESS, or IVM_STATUS_INVALID_PARAMETER_1 when
 * domain is NULL.
 *
 * Context: any thread.  Blocking: briefly (a small per-domain lock that
 * guards the handler and the reservation list only).
 * Ordering: a fault detected after the call returns sees the new handler.
 */
IVM_API ivm_status ivm_domain_set_fault_handler(struct ivm_domain *domain,
						ivm_fault_handler_fn handler,
						void *context);

/* Counters of one domain.  Each field is read with relaxed loads, so
 * fields may come from slightly different instants under concurrency. */
struct ivm_domain_stats {
	uint64_t mappings;          /* live mappings (one per successful map;
	                               reserved regions not counted) */
	uint64_t mapped_pages;      /* 4 KiB pages those mappings cover */
	uint64_t pt_tables;         /* page-table pages currently allocated */
	uint64_t pt_bytes;          /* their memory, in bytes */
	uint64_t pt_empty_tables;   /* of those, empty ones kept for reuse
	                               (ivm_domain_trim gives them back) */
	uint64_t iova_used_pages;   /* logical pages the allocator has handed
	                               out or set aside (rounding included,
	                               cached blocks included) */
	uint64_t iova_cached_pages; /* of those, free blocks held by the
	                               magazine cache and its depot (summed
	                               over every CPU when read: approximate
	                               while other threads allocate) */
	uint64_t iova_cache_hits;   /* allocations served by a CPU's loaded
	                               or prev magazine */
	uint64_t iova_cache_misses; /* cacheable allocations that went to the
	                               depot or the range allocator */
	uint64_t iova_depot_magazines; /* full magazines in the depot now */
	uint64_t iova_reclaimed;    /* cached blocks given back to the range
	                               allocator by reclaim or drains */
	uint64_t reservations;      /* live reservations */
	uint64_t faults;            /* faulting device accesses so far */
	uint64_t iotlb_hits;        /* model IOTLB lookups that hit */
	uint64_t iotlb_misses;      /* ... that missed and walked the table */
	uint64_t iotlb_invalidations; /* IOTLB entries invalidated */
	uint64_t backend_syncs;     /* backend sync calls */
	uint64_t backend_flush_all; /* whole-domain IOTLB flushes */
	uint64_t iotlb_stale_hits;  /* model: DMAs served by an IOTLB entry
	                               whose mapping is gone (the lazy window) */
	uint64_t iotlb_violations;  /* model: DMAs an IOTLB entry would have
	                               sent to memory the address no longer
	                               maps (refused; see IVM_FAULT_STALE_...) */
	uint64_t flush_queued;      /* lazy: unmapped ranges not yet released
	                               (waiting, or in a flush under way;
	                               one a flush is releasing may show
	                               here and in flush_entries at once) */
	uint64_t flush_batches;     /* lazy: queue flushes so far */
	uint64_t flush_entries;     /* lazy: ranges those flushes released */
	uint64_t flush_ranges;      /* lazy: invalidations they issued after
	                               coalescing (add_range calls) */
	uint64_t flush_domain_wide; /* lazy: flushes done as one domain-wide
	                               invalidation (too many ranges) */
	uint64_t flush_wait_ns;     /* lazy: time released ranges waited in a
	                               queue, counting each range as waiting
	                               as long as the oldest of its batch (an
	                               upper bound; divide by flush_entries) */
	uint64_t vfio_map_calls;    /* VFIO: map calls on the container */
	uint64_t vfio_unmap_calls;  /* VFIO: unmap calls (one call may remove
	                               several adjacent mappings) */
	uint64_t vfio_unmapped;     /* VFIO: mappings those calls removed */
	uint64_t vfio_container_mappings; /* VFIO: mappings in the container
	                               now (0 while no device is attached) */
};

/*
 * ivm_domain_get_stats - copy the domain's counters.
 *
 * Returns IVM_STATUS_SUCCESS; IVM_STATUS_INVALID_PARAMETER_1 (domain NULL)
 * or IVM_STATUS_INVALID_PARAMETER_2 (out NULL).
 *
 * Context: any thread (registered with RCU on first use, as by the map
 * calls).  Blocking: never, but not free: mappings, mapped_pages and
 * pt_empty_tables are counted by reading every page table once (about 0.2
 * us per table), so that maps and unmaps update no shared counter; call it
 * from a control path, not per packet.  Ordering: none (relaxed reads;
 * under concurrent maps and unmaps the fields come from slightly
 * different instants).
 */
IVM_API ivm_status ivm_domain_get_stats(const struct ivm_domain *domain,
					struct ivm_domain_stats *out);

/*
 * ivm_domain_trim - give back memory the domain keeps for reuse: page
 * tables that unmaps left empty, and the allocator's spare nodes.  (Unmaps also give them back by
 * themselves once they are many; this is for a caller that just tore
 * down a large working set and wants the memory now.)
 *
 * Returns IVM_STATUS_SUCCESS or IVM_STATUS_INVALID_PARAMETER_1 (domain
 * NULL).
 *
 * Context: any thread, not inside an iovamap RCU read-side section.
 * Blocking: reads every table once (concurrent maps and unmaps go on); the
 * memory itself is freed after an RCU grace period.  Ordering: none.
 */
IVM_API ivm_status ivm_domain_trim(struct ivm_domain *domain);

#ifdef __cplusplus
}
#endif

#endif /* IOVAMAP_DOMAIN_H */
