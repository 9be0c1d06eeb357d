/* SPDX-License-Identifier: MIT */
/*
 * iovamap/dpdk.h - the DPDK adapter (library iovamap-dpdk, pkg-config
 * iovamap-dpdk; built when DPDK is present, meson option dpdk).
 *
 * A poll-mode driver that puts iovamap between its device and memory has
 * two ways to give the device packet buffers:
 *
 *  - Pool-mapped: map a whole rte_mempool into a domain once, at start-up
 *    (ivm_dpdk_pool_map).  Every chunk of the pool's memory gets one
 *    mapping, and the pool is rewritten to carry the domain's logical
 *    addresses instead of DPDK's IOVAs: each chunk's iova, each object
 *    header's iova (so rte_mempool_virt2iova() answers with iovamap's
 *    address), and in a packet-mbuf pool each mbuf's buf_iova.  The PMD
 *    then writes rte_mbuf_data_iova(m) into its descriptors exactly as it
 *    would without iovamap: per packet nothing is mapped, and the device's
 *    IOMMU translates through the domain.
 *
 *  - Strict per-packet: map each segment's data when it is handed to the
 *    device (ivm_dpdk_seg_map) and unmap it when the device has completed
 *    it (ivm_dpdk_seg_unmap), or a burst at a time (ivm_dpdk_burst_map /
 *    ivm_dpdk_burst_unmap: one scatter mapping per burst, for a PMD that
 *    completes transmissions a group at a time).  The device reaches each
 *    buffer only while it owns it.  In a lazy domain (the default flush
 *    mode) the unmap queues the invalidation on the calling CPU's flush
 *    queue; the address is reused only after the backend's sync, so the
 *    cost per packet is one map and one queued unmap.  Call
 *    ivm_flush_poll() (and, with the QSBR flavour, ivm_quiescent()) once
 *    per burst.
 *
 *  - External memory attached to a DPDK-managed device: memory the
 *    application owns (not DPDK's heap) is mapped into the domain, its
 *    logical addresses registered with DPDK as the memory's IOVAs
 *    (rte_extmem_register), and, when a device is named, mapped for that
 *    device through DPDK's bus (rte_dev_dma_map) at the same addresses
 *    (ivm_dpdk_extmem_map).  A mempool populated from that memory then
 *    carries iovamap's addresses from the start.
 *
 * DPDK's EAL must be initialised (rte_eal_init) before any call here.
 *
 * Logical address 0 is an address like any other for the allocator; a
 * device or firmware that takes IOVA 0 for "none" needs page 0 kept out
 * with a reserved region (struct ivm_reserved_region) at domain creation.
 * A PMD on a device attached to an iovamap VFIO domain also maps what DPDK
 * allocates for the device itself (descriptor rings: their memzones, at
 * their DPDK IOVAs) before starting the port: ivm_dpdk_zones_map, as
 * tests/vm/vm_e1000.c does for DPDK's e1000 PMD.
 *
 * Threads and RCU: the calls follow iovamap/domain.h's table.  Pool map
 * and unmap, the memzone calls and the external-memory calls run on a
 * control thread while no lcore uses the memory.  ivm_dpdk_seg_map/unmap,
 * ivm_dpdk_burst_map/unmap and ivm_dpdk_pool_iova run on any lcore
 * concurrently (map/unmap take the same per-CPU fast paths as
 * ivm_map_logical_range_ex / ivm_unmap_logical_range).  The adapter is
 * built once per RCU flavour of the core (iovamap/thread.h): a program
 * whose lcores announce a quiescent state regularly (ivm_quiescent, once
 * per burst) links iovamap-dpdk-qsbr, whose maps and unmaps enter no
 * read-side section; one whose threads never do links iovamap-dpdk.
 */
#ifndef IOVAMAP_DPDK_H
#define IOVAMAP_DPDK_H

#include <stddef.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "iovamap/domain.h"
#include "iovamap/export.h"
#include "iovamap/map.h"
#include "iovamap/status.h"
#include "iovamap/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A mempool mapped into a domain (opaque). */
struct ivm_dpdk_pool;

/* What ivm_dpdk_pool_info reports. */
struct ivm_dpdk_pool_info {
	uint32_t chunks;      /* memory chunks, one mapping each */
	uint32_t objects;     /* objects whose IOVA was rewritten */
	uint32_t mbufs;       /* of which mbufs whose buf_iova was rewritten */
	uint64_t mapped_bytes; /* page-rounded bytes mapped in the domain */
};

/*
 * ivm_dpdk_pool_map - map every memory chunk of mp into domain and make
 * the pool hand out the domain's logical addresses.
 * @domain:      a domain with an allocator (the chunks' addresses are
 *               chosen by it, inside the domain's window and reserved
 *               regions).
 * @mp:          a populated mempool (rte_pktmbuf_pool_create or any other);
 *               it must not be mapped by another ivm_dpdk_pool.
 * @permissions: IVM_PERM_READ and/or IVM_PERM_WRITE, for the device (a
 *               receive pool needs WRITE, a transmit pool READ).
 * @out:         the mapping's handle, for ivm_dpdk_pool_unmap.
 *
 * Each chunk (rte_mempool_mem_iter) is mapped as the page-rounded buffer
 * that holds it.  Then every object (rte_mempool_obj_iter) gets the
 * logical address of its bytes in its header's iova, and in a packet-mbuf
 * pool (private area of struct rte_pktmbuf_pool_private, and the mbuf's
 * buffer right after its private area) each mbuf's buf_iova is set to the
 * logical address of its buffer.  Objects out of the pool at the time are
 * rewritten too; do this before mbufs are given to any device.
 *
 * Returns: IVM_STATUS_SUCCESS; IVM_STATUS_INVALID_PARAMETER (NULL
 * argument, bad permissions, pool without memory); IVM_STATUS_NOT_SUPPORTED
 * (domain without an allocator); IVM_STATUS_INSUFFICIENT_RESOURCES (no
 * room in the domain's window, out of memory) or any status of
 * ivm_map_logical_range_ex.  On failure nothing is mapped and the pool is
 * unchanged.
 *
 * Context: a control thread; no lcore allocates from or frees to mp, and
 * no device DMAs to its memory, during the call.  Blocking: allocates;
 * may sync the backend.  Ordering: the mappings and the rewritten
 * addresses are in place when the call returns; hand the pool's mbufs to
 * a device after it.
 */
IVM_API ivm_status ivm_dpdk_pool_map(struct ivm_domain *domain,
				     struct rte_mempool *mp,
				     uint32_t permissions,
				     struct ivm_dpdk_pool **out);

/*
 * ivm_dpdk_pool_unmap - give the pool back its DPDK IOVAs (chunks, object
 * headers, mbuf buf_iova) and unmap every chunk.  NULL or *pool == NULL
 * does nothing; *pool is set to NULL.
 *
 * Context: a control thread, once no device can DMA to the pool's memory
 * (every queue that used it stopped).  The mempool itself must still exist
 * (unmap before rte_mempool_free).  Blocking: may sync the backend (a
 * strict domain waits for the invalidation).  Ordering: the pool speaks
 * DPDK's addresses again before its chunks are unmapped; the unmaps are
 * ordered as ivm_unmap_logical_range.
 */
IVM_API void ivm_dpdk_pool_unmap(struct ivm_dpdk_pool **pool);

/*
 * ivm_dpdk_pool_info - what a pool mapping holds (fixed from the map on).
 * Returns: IVM_STATUS_SUCCESS; IVM_STATUS_INVALID_PARAMETER (NULL
 * argument).  Context: any thread while the pool is mapped.  Blocking:
 * never.  Ordering: none (the figures do not change).
 */
IVM_API ivm_status ivm_dpdk_pool_info(const struct ivm_dpdk_pool *pool,
				      struct ivm_dpdk_pool_info *out);

/*
 * ivm_dpdk_pool_iova - the logical address of the byte at va, and how
 * many bytes from va on are contiguous at that address (to the end of its
 * chunk), for memory of a mapped pool that is not an mbuf buffer (an
 * mbuf's is rte_mbuf_data_iova(m)).
 *
 * Returns: IVM_STATUS_SUCCESS; IVM_STATUS_INVALID_PARAMETER (NULL
 * argument, va in none of the pool's chunks).  Context: any thread while
 * the pool is mapped.  Blocking: never (a binary search over the chunks,
 * which do not change while the pool is mapped).  Ordering: none.
 */
IVM_API ivm_status ivm_dpdk_pool_iova(const struct ivm_dpdk_pool *pool,
				      const void *va, ivm_la *iova_out,
				      size_t *contiguous_out);

/*
 * ivm_dpdk_seg_map - strict per-packet: map the data of one mbuf segment
 * (data_len bytes at rte_pktmbuf_mtod(seg)) for the device, and return the
 * logical address of its first data byte in *iova_out.  The mapping covers
 * the pages that hold the data (one, or two when it crosses a page
 * boundary, for a standard 2 KiB buffer).  A chained packet is mapped
 * segment by segment.
 *
 * Returns: IVM_STATUS_SUCCESS; IVM_STATUS_INVALID_PARAMETER (NULL
 * argument, data_len 0, bad permissions); any status of
 * ivm_map_logical_range_ex (nothing mapped then).
 *
 * Context: any lcore; registered with RCU on first use.  Blocking: never
 * on the per-CPU fast path (a refill of the CPU's IOVA magazine may take a
 * lock).  Ordering: the mapping is visible to the device when the call
 * returns, before the PMD publishes the descriptor.
 */
IVM_API ivm_status ivm_dpdk_seg_map(struct ivm_domain *domain,
				    const struct rte_mbuf *seg,
				    uint32_t permissions, ivm_la *iova_out);

/*
 * ivm_dpdk_seg_unmap - strict per-packet: unmap what ivm_dpdk_seg_map
 * mapped for seg, once the device completed it.  seg's data_off and
 * data_len must be what they were at the map (the PMD frees or reuses the
 * mbuf only after this call).  In a lazy domain the invalidation is queued
 * and the call returns at once; in a strict domain it waits for it.
 *
 * Returns: IVM_STATUS_SUCCESS; IVM_STATUS_INVALID_PARAMETER (NULL
 * argument, or iova not what ivm_dpdk_seg_map returned for seg: no single
 * mapping of the segment's pages at iova whose first and last pages map
 * the segment's first and last pages, so another segment's address, or a
 * stale one another segment has since, is refused and changes nothing).
 * The mapping is checked and taken in one step, so a concurrent unmap
 * cannot slip in between.
 *
 * Context, Blocking, Ordering: as ivm_unmap_logical_range.
 */
IVM_API ivm_status ivm_dpdk_seg_unmap(struct ivm_domain *domain,
				      const struct rte_mbuf *seg,
				      ivm_la iova);

/* Most segments, and most pages, one ivm_dpdk_burst_map call takes. */
#define IVM_DPDK_BURST_MAX 256
#define IVM_DPDK_BURST_MAX_PAGES 256

/* What ivm_dpdk_burst_map mapped; ivm_dpdk_burst_unmap takes it back. */
struct ivm_dpdk_burst {
	ivm_la la;       /* first logical address of the burst's mapping */
	ivm_la last;     /* the last segment's address (iovas_out[n - 1]) */
	uint32_t pages;  /* pages it maps */
	uint16_t count;  /* segments it was made for */
};

/*
 * ivm_dpdk_burst_map - strict per-packet, a burst at a time: map the data
 * of n mbuf segments for the device in one call, and return the logical
 * address of each segment's first data byte in iovas_out[i].
 *
 * The pages that hold the segments' data are mapped as one scatter
 * mapping, in segment order: where every segment's data lies within one
 * page, segment i gets logical page i (two logical pages may then map one
 * frame); otherwise (an IVM_PHYS_PFN_ARRAY map) a page is listed once
 * where a segment starts in the page its predecessor ended in.  Each
 * segment is contiguous in logical space even where its data crosses a
 * page.  This is how a PMD that completes transmissions a group at a time
 * (one report-status descriptor per burst) maps its bursts: one map on
 * transmit, one unmap (ivm_dpdk_burst_unmap) when the group's last
 * descriptor completes.  The device reaches each buffer only between the
 * two.  Compared with n calls of ivm_dpdk_seg_map it costs one argument
 * check, one logical block, one page-table walk per 512 pages and one
 * flush-queue entry per burst instead of per segment.  The granule is
 * still the 4 KiB page: whatever else shares a page with a segment is
 * reachable too (as with ivm_dpdk_seg_map).
 *
 * @segs, @n:     1 .. IVM_DPDK_BURST_MAX segments (a chained packet's
 *                segments are passed one by one); their data may span at
 *                most IVM_DPDK_BURST_MAX_PAGES pages in all.
 * @permissions:  IVM_PERM_READ (transmit) and/or IVM_PERM_WRITE; not 0.
 * @iovas_out:    n logical addresses, for the descriptors.
 * @burst_out:    what to pass to ivm_dpdk_burst_unmap.
 *
 * Returns: IVM_STATUS_SUCCESS; IVM_STATUS_INVALID_PARAMETER (NULL
 * argument or segment, n out of range, a segment with data_len 0, too many
 * pages, bad permissions); any status of ivm_map_logical_range_ex for an
 * IVM_PHYS_PFN_ARRAY (NOT_SUPPORTED on a VFIO domain, whose type1 maps take
 * one virtual range: use ivm_dpdk_seg_map there).  On failure nothing is
 * mapped and iovas_out and *burst_out are untouched.
 *
 * Context: any lcore; registered with RCU on first use.  Blocking: as
 * ivm_dpdk_seg_map (a burst of more than 32 pages takes a block the
 * per-CPU magazines do not cache, from the allocator under its lock).
 * Ordering: the mapping is visible to the device when the call returns.
 */
IVM_API ivm_status ivm_dpdk_burst_map(struct ivm_domain *domain,
				      struct rte_mbuf *const segs[],
				      uint16_t n, uint32_t permissions,
				      ivm_la iovas_out[],
				      struct ivm_dpdk_burst *burst_out);

/*
 * ivm_dpdk_burst_unmap - unmap what ivm_dpdk_burst_map mapped for the same
 * n segments (same order, same data_off and data_len), once the device has
 * completed all of them.  In a lazy domain the invalidation is queued on
 * the calling CPU's flush queue and the call returns at once.
 *
 * Returns: IVM_STATUS_SUCCESS; IVM_STATUS_INVALID_PARAMETER (NULL
 * argument, n not the burst's count, a handle whose last segment does not
 * end in its last page, or no single mapping of the burst's pages at its
 * address whose first page maps the first segment's page and whose last
 * page maps the page of the last segment's last byte: another burst's
 * handle, or a stale one whose addresses another burst has since, is
 * refused and changes nothing).  The mapping is checked and taken in one
 * step, so a concurrent unmap cannot slip in between.
 *
 * Context, Blocking, Ordering: as ivm_unmap_logical_range.
 */
IVM_API ivm_status ivm_dpdk_burst_unmap(struct ivm_domain *domain,
					struct rte_mbuf *const segs[],
					uint16_t n,
					const struct ivm_dpdk_burst *burst);

/*
 * A transmit queue's own logical slots (opaque): strict per-packet at a
 * lower cost per burst, for a PMD whose transmit queue (like DPDK's) is
 * used by one lcore at a time.
 *
 * ivm_dpdk_txq_create reserves, once, bursts slots of burst_pages pages
 * each in the domain (one reservation: ivm_reserve_logical_range), with
 * every page-table page they need.  ivm_dpdk_txq_map then maps a burst
 * exactly as ivm_dpdk_burst_map does (same layout, same addresses within
 * their pages, same handle), but in the queue's next slot: no logical
 * block to allocate, no table walk, and since the queue alone writes its
 * slots, no claim on unmap; the map stores the burst's leaves, the unmap
 * checks the first and last and clears them.  ivm_dpdk_txq_unmap queues
 * the slot's invalidation on the flush queue in a lazy domain; the slot
 * is mapped again only after the backend's sync that covers it (in a
 * strict domain, after the unmap's own invalidation).  The device reaches
 * each buffer only between its map and unmap, as with
 * ivm_dpdk_burst_map.
 *
 * A burst the slots cannot take goes through the allocator instead
 * (ivm_dpdk_burst_map's path), transparently: one whose data crosses a
 * page or spans more than burst_pages pages, or one whose slot is still
 * waiting for its invalidation (more bursts in flight, or queued for
 * invalidation, than the queue has slots).  ivm_dpdk_txq_unmap takes
 * either kind of handle.  ivm_dpdk_txq_info counts both.
 *
 * The slots need a domain whose device walks the page table: the
 * software IOMMU model, or hardware translating through it.  A VFIO
 * domain, whose kernel maps each range itself, refuses (NOT_SUPPORTED):
 * use ivm_dpdk_burst_map or ivm_dpdk_seg_map there.
 *
 * Threads and RCU: create and destroy on a control thread while no lcore
 * uses the queue; map, unmap and info on one lcore at a time per queue
 * (the lcore that owns the DPDK transmit queue), any number of queues
 * concurrently.  A queue is destroyed before its domain; destroying the
 * domain first frees the queue along with its slots (the handle is then
 * dangling, as a reservation's is).
 */
struct ivm_dpdk_txq;

/* ivm_dpdk_txq_create's defaults (bursts, burst_pages 0).  512 slots
 * outlast a flush queue of 256 entries (iovamap/domain.h) with room for
 * the bursts in flight. */
#define IVM_DPDK_TXQ_BURSTS_DEFAULT 512
#define IVM_DPDK_TXQ_BURST_PAGES_DEFAULT 32

/*
 * ivm_dpdk_txq_create - a transmit queue's slots in domain.
 *
 * @bursts:       slots, a power of two; 0 for IVM_DPDK_TXQ_BURSTS_DEFAULT.
 * @burst_pages:  pages per slot, a power of two up to 512; 0 for
 *                IVM_DPDK_TXQ_BURST_PAGES_DEFAULT.
 * @txq_out:      receives the queue.
 *
 * Returns: IVM_STATUS_SUCCESS; IVM_STATUS_INVALID_PARAMETER (NULL domain
 * or txq_out, a domain not of type Translate, bursts or burst_pages not a
 * power of two, burst_pages over 512, or more pages in all than the
 * domain has); IVM_STATUS_NOT_SUPPORTED
 * (a domain without an allocator, or a VFIO domain);
 * IVM_STATUS_INSUFFICIENT_RESOURCES (no block of that size free, or no
 * memory).  On failure nothing changed.
 *
 * Context: a control thread.  Blocking: allocates (a block of logical
 * space and its page tables: 4 KiB of table per 512 pages), and may take
 * the IOVA allocator's lock.  Ordering: as ivm_reserve_logical_range;
 * nothing is mapped yet.
 */
IVM_API ivm_status ivm_dpdk_txq_create(struct ivm_domain *domain,
				       uint32_t bursts, uint32_t burst_pages,
				       struct ivm_dpdk_txq **txq_out);

/*
 * ivm_dpdk_txq_map - ivm_dpdk_burst_map in txq's next slot (or, where the
 * slots cannot take the burst, exactly ivm_dpdk_burst_map).
 *
 * Returns: as ivm_dpdk_burst_map; IVM_STATUS_INVALID_PARAMETER also for a
 * NULL txq.  Context: the queue's lcore (one at a time per queue).
 * Blocking: never on the slot path.  Ordering: the mapping is visible to
 * the device when the call returns.
 */
IVM_API ivm_status ivm_dpdk_txq_map(struct ivm_dpdk_txq *txq,
				    struct rte_mbuf *const segs[], uint16_t n,
				    uint32_t permissions, ivm_la iovas_out[],
				    struct ivm_dpdk_burst *burst_out);

/*
 * ivm_dpdk_txq_unmap - unmap what ivm_dpdk_txq_map mapped for the same n
 * segments, once the device has completed all of them.
 *
 * Returns: as ivm_dpdk_burst_unmap (a handle of another burst, or a stale
 * one, is refused with IVM_STATUS_INVALID_PARAMETER and changes nothing);
 * IVM_STATUS_INVALID_PARAMETER also for a NULL txq.  Context: the queue's
 * lcore.  Blocking: only when the flush queue is full (it then flushes).
 * Ordering: as ivm_dpdk_burst_unmap (the device may use its cached
 * translations until the slot's invalidation, never after the slot is
 * mapped again).
 */
IVM_API ivm_status ivm_dpdk_txq_unmap(struct ivm_dpdk_txq *txq,
				      struct rte_mbuf *const segs[],
				      uint16_t n,
				      const struct ivm_dpdk_burst *burst);

/* What ivm_dpdk_txq_info reports. */
struct ivm_dpdk_txq_info {
	ivm_la base;            /* the slots' first logical address */
	uint64_t size;          /* their bytes: bursts * burst_pages pages */
	uint32_t burst_pages;   /* pages per slot */
	uint64_t slot_maps;     /* bursts mapped in a slot so far */
	uint64_t fallback_maps; /* bursts mapped through the allocator */
};

/* Returns IVM_STATUS_SUCCESS or IVM_STATUS_INVALID_PARAMETER (NULL
 * argument).  Context: the queue's lcore, or any thread while it is
 * idle.  Blocking: never.  Ordering: none (the counts as of the queue's
 * last call). */
IVM_API ivm_status ivm_dpdk_txq_info(const struct ivm_dpdk_txq *txq,
				     struct ivm_dpdk_txq_info *info);

/*
 * ivm_dpdk_txq_destroy - wait for the slots' pending invalidations (it
 * flushes the domain's flush queues), give the slots back, free the
 * queue and set *txq to NULL.  NULL or *txq NULL: nothing to do.
 *
 * Returns: IVM_STATUS_SUCCESS; IVM_STATUS_IN_USE while a burst is still
 * mapped in a slot (nothing changed; unmap it first).  Bursts the
 * allocator took are the domain's, unmapped by ivm_dpdk_txq_unmap or
 * ivm_dpdk_burst_unmap at any time.
 *
 * Context: a control thread, the queue idle.  Blocking: flushes, and may
 * wait for a flush running on another thread.  Ordering: every slot's
 * invalidation has completed when it returns.
 */
IVM_API ivm_status ivm_dpdk_txq_destroy(struct ivm_dpdk_txq **txq);

/* DPDK memzones mapped at their own IOVAs (opaque). */
struct ivm_dpdk_zones;

/* What ivm_dpdk_zones_info reports. */
struct ivm_dpdk_zones_info {
	uint32_t zones;        /* memzones whose name matched */
	uint32_t ranges;       /* mappings made: runs of pages contiguous in
				* both IOVA and virtual address */
	uint64_t mapped_bytes; /* pages mapped, in bytes (a page two zones
				* share counts once) */
};

/*
 * ivm_dpdk_zones_map - map the DPDK memzones whose names start with prefix
 * into domain, each page at the IOVA DPDK gave it: the memory DPDK
 * allocates for a device itself, which the PMD programs into the device
 * with DPDK's address.  The ethdev descriptor rings are memzones named
 * "eth_p<port>_q<queue>_<ring>" (rte_eth_dma_zone_reserve): prefix
 * "eth_p" maps the rings of every port.
 * @domain:      a domain that takes explicit logical addresses (no
 *               allocator, or one created with allow_explicit), wide
 *               enough for DPDK's IOVAs (in IOVA-as-VA mode they are
 *               virtual addresses: 47 bits).
 * @prefix:      the names' common start ("" for every memzone).
 * @permissions: IVM_PERM_READ and/or IVM_PERM_WRITE (rings: both).
 * @out:         the mapping's handle, for ivm_dpdk_zones_unmap.
 *
 * Each page a matching zone touches is mapped at its DPDK IOVA (from its
 * memseg), so the granule is the 4 KiB page: what shares a page with a
 * zone is reachable too.  A page two zones share is mapped once; runs of
 * pages contiguous in both IOVA and virtual address are one mapping each.
 * The set is fixed at the call: a zone reserved later is not mapped.
 *
 * Returns: IVM_STATUS_SUCCESS; IVM_STATUS_INVALID_PARAMETER (NULL
 * argument, bad permissions, no memzone matched, a page without a DPDK
 * IOVA, two pages at one IOVA); IVM_STATUS_IN_USE (a page's IOVA is
 * mapped already, e.g. the zones were mapped before); any other status of
 * ivm_map_logical_range_ex with an explicit address (e.g. NOT_SUPPORTED:
 * the domain's allocator takes no explicit address;
 * INVALID_PARAMETER_4: an IOVA beyond the domain's width).
 * ivm_status_detail() names the zone.  On failure nothing stays mapped.
 *
 * Context: a control thread, after the queues' setup reserved the rings
 * and before the port starts; no thread reserves or frees memzones
 * during the call.  Blocking: allocates; takes DPDK's memzone lock.
 * Ordering: the mappings are visible to the device when the call
 * returns, before the port starts.
 */
IVM_API ivm_status ivm_dpdk_zones_map(struct ivm_domain *domain,
				      const char *prefix, uint32_t permissions,
				      struct ivm_dpdk_zones **out);

/*
 * ivm_dpdk_zones_unmap - unmap what ivm_dpdk_zones_map mapped.  NULL or
 * *zones == NULL does nothing; *zones is set to NULL.
 *
 * Context: a control thread, once no device uses the zones (the port
 * stopped, before its queues are released and the memzones freed).
 * Blocking: may sync the backend.  Ordering: as ivm_unmap_logical_range
 * (explicit mappings: strict, the invalidation done on return).
 */
IVM_API void ivm_dpdk_zones_unmap(struct ivm_dpdk_zones **zones);

/*
 * ivm_dpdk_zones_info - what a zones mapping holds.  Returns:
 * IVM_STATUS_SUCCESS; IVM_STATUS_INVALID_PARAMETER (NULL argument).
 * Context: any thread while it is mapped.  Blocking: never.  Ordering:
 * none (the figures do not change).
 */
IVM_API ivm_status ivm_dpdk_zones_info(const struct ivm_dpdk_zones *zones,
				       struct ivm_dpdk_zones_info *out);

/* External memory registered with DPDK at iovamap's addresses (opaque). */
struct ivm_dpdk_extmem;

/*
 * ivm_dpdk_extmem_map - map application memory into domain and make DPDK
 * (and, if device_name is not NULL, that DPDK device) use the domain's
 * addresses for it.
 * @va, @len:    the memory: va aligned to page_sz, len a non-zero multiple
 *               of page_sz.
 * @page_sz:     its page size (IVM_PAGE_SIZE or a huge page size); DPDK
 *               records one IOVA per page.
 * @permissions: as ivm_dpdk_pool_map; with a device_name, exactly
 *               IVM_PERM_READ | IVM_PERM_WRITE (rte_dev_dma_map takes no
 *               permissions: DPDK maps the memory for the device both
 *               ways).
 * @device_name: the device of an ethdev port (rte_dev_name() of its
 *               rte_eth_dev_info::device: a PCI address such as
 *               "0000:00:04.0" for a NIC DPDK probed, or a vdev name) to
 *               map the memory for with rte_dev_dma_map, or NULL for
 *               none.
 *
 * The memory is mapped into the domain as one range (one logical address
 * range, contiguous), registered with rte_extmem_register with each page's
 * logical address (DPDK's memsegs for the memory carry them), and mapped
 * for the device with rte_dev_dma_map at the same addresses.  A virtual
 * device (net_null, net_ring) has no IOMMU: DPDK's vdev bus accepts the
 * map and does nothing.
 *
 * DPDK keeps the addresses in the memory's memsegs
 * (rte_mem_virt2memseg(va, rte_mem_virt2memseg_list(va))->iova), but its
 * rte_mem_virt2iova() never reads them: it answers with the virtual address
 * in IOVA-as-VA mode and with the physical address (from
 * /proc/self/pagemap) in IOVA-as-PA mode.  So give the addresses
 * explicitly: populate a mempool with rte_mempool_populate_iova(mp, va,
 * ivm_dpdk_extmem_iova(ext), len, ...), or map the populated pool with
 * ivm_dpdk_pool_map.
 *
 * Returns: IVM_STATUS_SUCCESS; IVM_STATUS_INVALID_PARAMETER (alignment,
 * sizes, permissions, no such device, memory DPDK already knows: its own
 * heap or memory registered before);
 * IVM_STATUS_NOT_SUPPORTED (a device_name with permissions other than
 * read and write; or the device's bus cannot map DMA for it: a PCI
 * device not bound to VFIO, or one attached to an iovamap VFIO domain,
 * whose group is not in DPDK's container: pass NULL for such a device,
 * the domain's mapping already reaches it); any status of
 * ivm_map_logical_range_ex.
 * ivm_status_detail() names the DPDK call that refused.  On failure
 * nothing stays mapped or registered.
 *
 * Context: a control thread.  Blocking: allocates, calls into DPDK.
 * Ordering: the mapping, DPDK's registration and the device's mapping are
 * in place when the call returns.
 */
IVM_API ivm_status ivm_dpdk_extmem_map(struct ivm_domain *domain, void *va,
				       size_t len, size_t page_sz,
				       uint32_t permissions,
				       const char *device_name,
				       struct ivm_dpdk_extmem **out);

/* What ivm_dpdk_extmem_iova gives for NULL (0 is a valid address). */
#define IVM_DPDK_BAD_IOVA UINT64_MAX

/* The logical address of the external memory's first byte
 * (IVM_DPDK_BAD_IOVA for NULL).  Context: any thread while it is mapped.
 * Blocking: never.  Ordering: none. */
IVM_API ivm_la ivm_dpdk_extmem_iova(const struct ivm_dpdk_extmem *ext);

/*
 * ivm_dpdk_extmem_unmap - undo ivm_dpdk_extmem_map: rte_dev_dma_unmap,
 * rte_extmem_unregister, unmap from the domain.  NULL or *ext == NULL does
 * nothing; *ext is set to NULL.  Context: a control thread, once nothing
 * (no mempool, no device) uses the memory.  Blocking: calls into DPDK;
 * may sync the backend (a strict domain waits for the invalidation).
 * Ordering: the device's mapping and DPDK's registration go before the
 * domain's mapping, which goes as ivm_unmap_logical_range.
 */
IVM_API void ivm_dpdk_extmem_unmap(struct ivm_dpdk_extmem **ext);

#ifdef __cplusplus
}
#endif

#endif /* IOVAMAP_DPDK_H */
