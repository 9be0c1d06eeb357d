/* SPDX-License-Identifier: MIT */
/*
 * iovamap/reserve.h - reservations: logical space set aside in advance so
 * that later maps inside it cannot fail for lack of space or memory
 * (ReserveLogicalAddressRange and friends).
 *
 * A reservation takes its logical block from the allocator and allocates
 * every page-table page its range needs when it is made.  Mapping inside it
 * afterwards allocates no memory at all; unmapping frees none.  Mappings
 * inside a reservation use 4 KiB entries only.
 *
 * Which calls on one reservation may run at the same time: all of them with
 * each other, except ivm_free_reserved_logical_range, which must be the
 * last call on it.
 */
#ifndef IOVAMAP_RESERVE_H
#define IOVAMAP_RESERVE_H

#include <stdint.h>

#include "iovamap/export.h"
#include "iovamap/status.h"
#include "iovamap/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * ivm_reserve_logical_range - set aside size bytes of logical space.
 *
 * @size:        bytes, a non-zero multiple of IVM_PAGE_SIZE.  With an
 *               allocator and no explicit address it is rounded up to a
 *               power of two pages (the rounding stays unusable).
 * @explicit_la, @min_la, @max_la: as for ivm_map_logical_range_ex.
 * @out:         receives the reservation, owned by the caller until
 *               ivm_free_reserved_logical_range (or domain destruction).
 *
 * Returns:
 *   IVM_STATUS_SUCCESS
 *   IVM_STATUS_INVALID_PARAMETER_1  domain is NULL or not of type Translate
 *   IVM_STATUS_INVALID_PARAMETER_2  size is 0, not a page multiple, or
 *                                   larger than the logical space
 *   IVM_STATUS_INVALID_PARAMETER_3  explicit_la is not page aligned, or the
 *                                   range from it passes the width
 *   IVM_STATUS_INVALID_PARAMETER_MIX  min/max cannot be satisfied (as for
 *                                   ivm_map_logical_range_ex)
 *   IVM_STATUS_INVALID_PARAMETER    out is NULL
 *   IVM_STATUS_NOT_SUPPORTED        explicit address refused by the
 *                                   allocator, or missing without one
 *   IVM_STATUS_IN_USE               the explicit range is (partly) in use
 *   IVM_STATUS_INSUFFICIENT_RESOURCES  no free block, or no memory for the
 *                                   reservation's page tables
 *
 * On failure nothing changed and *out is untouched.
 *
 * Context: any thread, not inside an iovamap RCU read-side section.
 * Blocking: allocates; may take the IOVA allocator's lock.  Ordering: as a
 * map.
 */
IVM_API ivm_status ivm_reserve_logical_range(struct ivm_domain *domain,
					     uint64_t size,
					     const ivm_la *explicit_la,
					     const ivm_la *min_la,
					     const ivm_la *max_la,
					     struct ivm_reservation **out);

/*
 * ivm_reservation_base - the first logical address of a reservation, and
 * its usable size in bytes (size_out optional).
 *
 * Returns IVM_STATUS_SUCCESS, IVM_STATUS_INVALID_PARAMETER_1 (reservation
 * NULL) or IVM_STATUS_INVALID_PARAMETER_2 (la_out NULL).
 * Context: any thread.  Blocking: never.  Ordering: none.
 */
IVM_API ivm_status ivm_reservation_base(const struct ivm_reservation *reservation,
					ivm_la *la_out, uint64_t *size_out);

/*
 * ivm_map_reserved_logical_range - map physical memory at
 * base + offset inside a reservation (MapReservedLogicalRange).
 *
 * Performs no memory allocation whatsoever.
 *
 * Returns:
 *   IVM_STATUS_SUCCESS
 *   IVM_STATUS_INVALID_PARAMETER_1  reservation is NULL
 *   IVM_STATUS_INVALID_PARAMETER_2  offset is not page aligned or is not
 *                                   inside the reservation
 *   IVM_STATUS_INVALID_PARAMETER_3  a reserved permission bit is set
 *   IVM_STATUS_INVALID_PARAMETER_4  phys is NULL or malformed, or does not
 *                                   fit between offset and the end
 *   IVM_STATUS_INVALID_PARAMETER    la_out is NULL
 *   IVM_STATUS_IN_USE               part of the range is already mapped
 *   IVM_STATUS_NOT_SUPPORTED        a VFIO domain given anything but
 *                                   IVM_PHYS_BUFFER
 *   IVM_STATUS_INSUFFICIENT_RESOURCES  the backend refused the mapping
 *                                   (see ivm_status_detail())
 *
 * Context, Blocking (never allocates), Ordering: as
 * ivm_map_logical_range_ex.
 */
IVM_API ivm_status ivm_map_reserved_logical_range(struct ivm_reservation *reservation,
						  uint64_t offset,
						  uint32_t permissions,
						  const struct ivm_phys *phys,
						  ivm_la *la_out);

/*
 * ivm_unmap_reserved_logical_range - remove whole mappings inside a
 * reservation (UnmapReservedLogicalRange).  The space stays reserved and
 * its page tables stay allocated.
 *
 * Returns:
 *   IVM_STATUS_SUCCESS
 *   IVM_STATUS_INVALID_PARAMETER_1  reservation is NULL
 *   IVM_STATUS_INVALID_PARAMETER_2  offset is not page aligned or outside
 *   IVM_STATUS_INVALID_PARAMETER_3  pages is 0 or the range passes the end
 *   IVM_STATUS_INVALID_PARAMETER    not exactly whole mappings
 *
 * Context, Blocking, Ordering: as ivm_unmap_logical_range.
 */
IVM_API ivm_status ivm_unmap_reserved_logical_range(struct ivm_reservation *reservation,
						    uint64_t offset,
						    uint64_t pages);

/*
 * ivm_free_reserved_logical_range - give a reservation's space and page
 * tables back (FreeReservedLogicalAddressRange).
 *
 * @reservation: pointer to the handle; NULL or *reservation == NULL is a
 *               no-op returning IVM_STATUS_SUCCESS.  Set to NULL on success.
 *
 * Returns:
 *   IVM_STATUS_SUCCESS
 *   IVM_STATUS_IN_USE  mappings remain inside; nothing changed and the
 *                      handle stays valid.
 *
 * Context, Blocking, Ordering: as ivm_unmap_logical_range.
 */
IVM_API ivm_status ivm_free_reserved_logical_range(struct ivm_reservation **reservation);

#ifdef __cplusplus
}
#endif

#endif /* IOVAMAP_RESERVE_H */
