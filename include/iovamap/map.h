/* SPDX-License-Identifier: MIT */
/*
 * iovamap/map.h - mapping, unmapping and translating logical ranges.
 *
 * Rules iovamap adds where the Windows contract is silent:
 *  - Every range is a whole number of 4 KiB pages.  Range arithmetic uses
 *    an inclusive last address and checks overflow: a range that wraps
 *    around 2^64, or passes the domain's address width, is refused.
 *  - An unmap covers whole mappings, each made by one map call; several
 *    adjacent whole mappings may go in one call.  A range that cuts
 *    through a mapping, or covers an unmapped page, fails with
 *    IVM_STATUS_INVALID_PARAMETER and changes nothing.  (VFIO type1v2 and
 *    libvfio-user require the same: a partial unmap that "succeeds" has
 *    silently corrupted data in the field.)
 *  - Mappings are unmapped by the family that made them: logical maps by
 *    ivm_unmap_logical_range, identity maps by ivm_unmap_identity_range_ex,
 *    maps inside a reservation by ivm_unmap_reserved_logical_range.
 *  - A failed call changes nothing: no mapping, no page-table entry, no
 *    logical address consumed.
 *  - When ivm_unmap_* returns, the backend has invalidated every IOTLB
 *    entry of the range (strict invalidation) and the logical range may be
 *    handed out again.
 *
 * Concurrency: see the table in iovamap/domain.h.  No call here takes a
 * domain-wide lock: maps and unmaps of one domain run in parallel (the
 * IOVA allocator serves most requests from per-CPU magazines and locks
 * its range allocator only behind them; the software IOMMU serialises its
 * IOTLB), and ivm_translate never takes a lock.
 */
#ifndef IOVAMAP_MAP_H
#define IOVAMAP_MAP_H

#include <stdint.h>

#include "iovamap/export.h"
#include "iovamap/status.h"
#include "iovamap/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * ivm_map_logical_range_ex - map physical memory at a logical address
 * (IOMMU_MAP_LOGICAL_RANGE_EX).
 *
 * @domain:      a Translate domain.
 * @permissions: IVM_PERM_READ and/or IVM_PERM_WRITE; 0 maps a range every
 *               device access faults on.
 * @phys:        the memory (see struct ivm_phys); read during the call only.
 * @explicit_la: optional.  The logical address to use.  Required when the
 *               domain has no allocator; refused when its allocator lacks
 *               IVM_ALLOCATOR_ALLOW_EXPLICIT.
 * @min_la, @max_la: optional, inclusive bounds for an allocated address
 *               (and for an explicit one when given).  Ignored when the
 *               domain has no allocator.  A max_la past the width is
 *               clamped to it; a min_la past it cannot be satisfied (MIX).
 * @la_out:      receives the logical address of the first page.
 *
 * With an allocator and no explicit address the range is rounded up to a
 * power-of-two number of pages and aligned to that size (Buddy); the
 * rounding is never mapped, and comes back when the mapping is unmapped.
 *
 * Parameters are checked in argument order, so the lowest-numbered bad one
 * is the one reported: _1, _2, _3, _4, then MIX (min/max), then
 * INVALID_PARAMETER (la_out), then NOT_SUPPORTED (explicit address vs
 * allocator), and only then the state-dependent IN_USE and
 * INSUFFICIENT_RESOURCES.
 *
 * Returns:
 *   IVM_STATUS_SUCCESS
 *   IVM_STATUS_INVALID_PARAMETER_1  domain is NULL or not of type Translate
 *   IVM_STATUS_INVALID_PARAMETER_2  a reserved permission bit is set
 *   IVM_STATUS_INVALID_PARAMETER_3  phys is NULL, of unknown type, a buffer
 *                                   with a NULL va, not page aligned, empty,
 *                                   not a page multiple, wraps, has a frame
 *                                   whose address passes 2^64, or is larger
 *                                   than the domain's logical space
 *   IVM_STATUS_INVALID_PARAMETER_4  explicit_la is not page aligned, or the
 *                                   range from it passes the address width
 *   IVM_STATUS_INVALID_PARAMETER_MIX  min > max, the window [min, max]
 *                                   cannot hold an aligned block of the
 *                                   size even when empty, or an explicit
 *                                   range lies outside it
 *   IVM_STATUS_INVALID_PARAMETER    la_out is NULL
 *   IVM_STATUS_NOT_SUPPORTED        an explicit address for an allocator
 *                                   that refuses them, or none for a domain
 *                                   without an allocator; or a VFIO domain
 *                                   given anything but IVM_PHYS_BUFFER
 *   IVM_STATUS_IN_USE               the explicit range is already (partly)
 *                                   mapped, reserved, or handed out
 *   IVM_STATUS_INSUFFICIENT_RESOURCES  no free logical block of the size
 *                                   inside the window, out of memory for
 *                                   page tables, or the backend refused
 *                                   (VFIO: a mapping limit, locked-memory
 *                                   limit, ...; see ivm_status_detail())
 *
 * Ownership: on success the mapping belongs to the domain until it is
 * unmapped (or the domain destroyed); the physical memory stays the
 * caller's and must outlive the mapping.  On failure nothing changed and
 * *la_out is untouched.
 *
 * Context: any thread (registered with ivm_thread_register() or not: an
 * unregistered thread is registered on first use).  Not inside an
 * iovamap RCU read-side section.
 * Blocking: may allocate page-table memory; takes the IOVA allocator's
 * lock when it reaches the range allocator.
 * Ordering: the page-table entries are published with release stores
 * before the call returns, so a translate or device access that happens
 * after the return (by any thread that synchronised with this one) sees the
 * mapping.
 */
IVM_API ivm_status ivm_map_logical_range_ex(struct ivm_domain *domain,
					    uint32_t permissions,
					    const struct ivm_phys *phys,
					    const ivm_la *explicit_la,
					    const ivm_la *min_la,
					    const ivm_la *max_la,
					    ivm_la *la_out);

/*
 * ivm_unmap_logical_range - remove whole mappings made by
 * ivm_map_logical_range_ex (IOMMU_UNMAP_LOGICAL_RANGE).
 *
 * @la:    page-aligned first logical address.
 * @pages: number of 4 KiB pages; the range must be exactly one or more
 *         adjacent whole mappings.
 *
 * Returns:
 *   IVM_STATUS_SUCCESS
 *   IVM_STATUS_INVALID_PARAMETER_1  domain is NULL or not of type Translate
 *   IVM_STATUS_INVALID_PARAMETER_2  la is not page aligned
 *   IVM_STATUS_INVALID_PARAMETER_3  pages is 0, or the range wraps or
 *                                   passes the address width
 *   IVM_STATUS_INVALID_PARAMETER    the range covers an unmapped page, cuts
 *                                   through a mapping, covers a mapping
 *                                   of another family (identity, reserved),
 *                                   or covers a mapping another unmap call
 *                                   is removing at the same time
 *
 * On success the IOTLB has been invalidated for the range and its logical
 * addresses are free again.  On failure nothing changed.
 *
 * Context: any thread, not inside an iovamap RCU read-side section.
 * Blocking: syncs the backend (waits for the IOTLB invalidation); may take
 * the IOVA allocator's lock.
 * Ordering: the unmap first owns its mappings (a compare-and-swap on each
 * mapping's first entry, so racing unmaps of one mapping cannot both
 * succeed); entries are cleared before the invalidation is issued, and
 * the logical range is released only after the backend's sync returned.
 */
IVM_API ivm_status ivm_unmap_logical_range(struct ivm_domain *domain,
					   ivm_la la, uint64_t pages);

/*
 * ivm_map_identity_range_ex - map physical memory at the logical address
 * equal to it (MapIdentityRangeEx).
 *
 * On a Translate domain the logical range [pa, pa + size) must be free: not
 * mapped, and (with an allocator) not handed out or reserved; the allocator
 * then never hands it out while mapped.  On a PassThrough domain every
 * address is already identity: the call validates its arguments and
 * succeeds without recording anything (and ivm_unmap_identity_range_ex
 * likewise validates and succeeds).
 *
 * @phys: IVM_PHYS_BUFFER or IVM_PHYS_CONTIGUOUS.
 *
 * Returns:
 *   IVM_STATUS_SUCCESS
 *   IVM_STATUS_INVALID_PARAMETER_1  domain is NULL
 *   IVM_STATUS_INVALID_PARAMETER_2  a reserved permission bit is set
 *   IVM_STATUS_INVALID_PARAMETER_3  phys is NULL, malformed (as for
 *                                   ivm_map_logical_range_ex), or passes
 *                                   the domain's address width
 *   IVM_STATUS_NOT_SUPPORTED        phys is a PFN array (or, in a VFIO
 *                                   domain, not IVM_PHYS_BUFFER)
 *   IVM_STATUS_IN_USE               the range is already (partly) mapped or
 *                                   handed out by the allocator
 *   IVM_STATUS_INSUFFICIENT_RESOURCES  out of memory for page tables, or
 *                                   the backend refused (see
 *                                   ivm_status_detail())
 *
 * Context, Blocking, Ordering: as ivm_map_logical_range_ex.
 */
IVM_API ivm_status ivm_map_identity_range_ex(struct ivm_domain *domain,
					     uint32_t permissions,
					     const struct ivm_phys *phys);

/*
 * ivm_unmap_identity_range_ex - remove whole identity mappings
 * (UnmapIdentityRangeEx).  @phys names the same memory the map named (or
 * several adjacent identity mappings at once).
 *
 * Returns:
 *   IVM_STATUS_SUCCESS
 *   IVM_STATUS_INVALID_PARAMETER_1  domain is NULL
 *   IVM_STATUS_INVALID_PARAMETER_2  phys is NULL or malformed
 *   IVM_STATUS_NOT_SUPPORTED        phys is a PFN array
 *   IVM_STATUS_INVALID_PARAMETER    the range is not exactly whole identity
 *                                   mappings (same rules as
 *                                   ivm_unmap_logical_range)
 *
 * Context, Blocking, Ordering: as ivm_unmap_logical_range.
 */
IVM_API ivm_status ivm_unmap_identity_range_ex(struct ivm_domain *domain,
					       const struct ivm_phys *phys);

/*
 * ivm_translate - the physical address a device access to la reaches.
 *
 * @la:              any byte address (need not be aligned).
 * @pa_out:          receives the physical address of that byte: the frame
 *                   of la's page plus la's offset in the page.
 * @permissions_out: optional; receives the mapping's IVM_PERM_* bits.
 *
 * On a PassThrough domain pa == la and permissions are read | write.
 *
 * Returns:
 *   IVM_STATUS_SUCCESS
 *   IVM_STATUS_INVALID_PARAMETER_1  domain is NULL
 *   IVM_STATUS_INVALID_PARAMETER_2  la is not mapped (or passes the width)
 *   IVM_STATUS_INVALID_PARAMETER_3  pa_out is NULL
 *
 * Context: any thread; an unregistered thread is registered with RCU on
 * first use.  Blocking: never; wait-free (one RCU read-side section and at
 * most six loads).  Ordering: each table entry is read with an acquire
 * load that pairs with the release store that published it, so a
 * translation is always a value some map call wrote, never a torn one.
 */
IVM_API ivm_status ivm_translate(struct ivm_domain *domain, ivm_la la,
				 uint64_t *pa_out, uint32_t *permissions_out);

#ifdef __cplusplus
}
#endif

#endif /* IOVAMAP_MAP_H */
