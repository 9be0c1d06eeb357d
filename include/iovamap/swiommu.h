/* SPDX-License-Identifier: MIT */
/*
 * iovamap/swiommu.h - the software IOMMU model and its model device.
 *
 * The embedded default backend.  In this model a physical address is the
 * process's own virtual address (pa == (uintptr_t)pointer), so a model
 * device's DMA copies real bytes between real buffers.  The model walks the
 * domain's page table like hardware does and caches translations in an
 * IOTLB of its own (set-associative, 4 KiB entries) that keeps an entry
 * until it is invalidated; so a missing invalidation would be observable as
 * a DMA that still reaches memory after its unmap.
 *
 * A device access that hits no mapping, or lacks the permission, returns
 * IVM_STATUS_ACCESS_VIOLATION, moves no byte, counts a fault, and calls the
 * domain's fault handler (ivm_domain_set_fault_handler) if one is set.
 *
 * Which calls may run at the same time: DMA calls on any devices of one
 * domain with each other and with every domain call except destroy;
 * ivm_swdev_destroy with nothing on the same device.
 */
#ifndef IOVAMAP_SWIOMMU_H
#define IOVAMAP_SWIOMMU_H

#include <stddef.h>

#include "iovamap/export.h"
#include "iovamap/status.h"
#include "iovamap/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A model device attached to one domain. */
struct ivm_swdev;

/*
 * ivm_swdev_create - attach a model device to a domain whose backend is
 * the software IOMMU (the default).
 *
 * Returns:
 *   IVM_STATUS_SUCCESS
 *   IVM_STATUS_INVALID_PARAMETER_1  domain is NULL
 *   IVM_STATUS_INVALID_PARAMETER_2  out is NULL
 *   IVM_STATUS_NOT_SUPPORTED        the domain's backend is not the model
 *   IVM_STATUS_INSUFFICIENT_RESOURCES  out of memory
 *
 * Ownership: the device is the caller's until ivm_swdev_destroy, which must
 * come before the domain's destruction.
 * Context: any thread.  Blocking: allocates.  Ordering: none.
 */
IVM_API ivm_status ivm_swdev_create(struct ivm_domain *domain,
				    struct ivm_swdev **out);

/*
 * ivm_swdev_destroy - detach and free a model device.  NULL or *dev == NULL
 * is a no-op; sets *dev to NULL.
 * Context: any thread; no DMA call on this device in flight.
 * Blocking: never.  Ordering: none.
 */
IVM_API void ivm_swdev_destroy(struct ivm_swdev **dev);

/*
 * ivm_swdev_dma_read - the device reads len bytes at logical address la
 * (memory -> device) into dst.
 * ivm_swdev_dma_write - the device writes len bytes from src to logical
 * address la (device -> memory).
 *
 * Every page the access touches is translated (through the IOTLB) before
 * any byte moves; if one faults, nothing moves.  A read needs
 * IVM_PERM_READ, a write IVM_PERM_WRITE.  On a PassThrough domain la is
 * the physical address and nothing faults.
 *
 * Returns:
 *   IVM_STATUS_SUCCESS
 *   IVM_STATUS_INVALID_PARAMETER_1  dev is NULL
 *   IVM_STATUS_INVALID_PARAMETER_2  len > 0 and la + len - 1 wraps
 *   IVM_STATUS_INVALID_PARAMETER_3  dst / src is NULL
 *   IVM_STATUS_INVALID_PARAMETER_4  len is 0
 *   IVM_STATUS_ACCESS_VIOLATION     a page is unmapped or lacks the
 *                                   permission (fault reported)
 *
 * Context: any thread; an unregistered thread is registered with RCU on
 * first use.  Blocking: takes the model's IOTLB lock; calls the fault
 * handler on a fault.  Ordering: like a device: an access that starts
 * after an unmap returned faults; one racing with an unmap may use the
 * old translation.
 */
IVM_API ivm_status ivm_swdev_dma_read(struct ivm_swdev *dev, ivm_la la,
				      void *dst, size_t len);
IVM_API ivm_status ivm_swdev_dma_write(struct ivm_swdev *dev, ivm_la la,
				       const void *src, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* IOVAMAP_SWIOMMU_H */
