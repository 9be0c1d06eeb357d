/* SPDX-License-Identifier: MIT */
/*
 * iovamap/vfio.h - real devices: the VFIO backend (IVM_BACKEND_VFIO).
 *
 * A VFIO domain owns one VFIO container, made through DPDK's rte_vfio
 * container API.  Devices are attached by PCI address: the device's IOMMU
 * group is bound to the domain's container and the device opened, and the
 * caller receives the VFIO device file descriptor to drive it (BARs,
 * configuration space, interrupts).  Every mapping of the domain is a VFIO
 * DMA mapping of the container, so an attached device's DMA reaches
 * exactly the domain's mappings, with their permissions.
 *
 * Addresses: in user space VFIO maps process memory, which the kernel pins
 * and resolves.  So a VFIO domain accepts IVM_PHYS_BUFFER descriptions
 * only (the buffer's virtual address); contiguous ranges and PFN arrays
 * give IVM_STATUS_NOT_SUPPORTED.  Identity maps (ivm_map_identity_range_ex)
 * map a buffer at the logical address equal to its virtual address, which
 * is DPDK's IOVA-as-VA mode.
 *
 * The IOMMU's address space: give the domain an address width the
 * IOMMU translates (VT-d with 3-level tables, as QEMU emulates it: 39
 * bits).  On x86 a VFIO domain whose width reaches it reserves the MSI
 * window [0xfee00000, 0xfeefffff] by itself (a reserved region without a
 * mapping: the allocator never hands it out, an explicit map in it gets
 * IVM_STATUS_IN_USE), unless the caller's reserved regions touch it, in
 * which case the caller's regions are all there is.  Keep any other
 * window the kernel reserves (the group's
 * /sys/kernel/iommu_groups/N/reserved_regions) out with reserved regions
 * of your own (struct ivm_reserved_region, should_map false).  VFIO
 * refuses a mapping outside its valid ranges, which comes back as
 * IVM_STATUS_INSUFFICIENT_RESOURCES with the kernel's reason in
 * ivm_status_detail().
 *
 * Two map paths, chosen per domain (struct ivm_vfio_config::map_path):
 *  - IVM_VFIO_MAP_DIRECT (default): VFIO type1 ioctls on the container
 *    (VFIO_IOMMU_MAP_DMA / VFIO_IOMMU_UNMAP_DMA).  Up to the kernel's
 *    dma_entry_limit mappings (65535 by default), permissions honoured,
 *    a coalesced unmap removes many mappings in one call.
 *  - IVM_VFIO_MAP_DPDK: rte_vfio_container_dma_map / _dma_unmap.  DPDK
 *    keeps its own table of at most 256 non-adjacent mappings per
 *    container and always maps read+write; each call costs far more than
 *    the ioctl (docs/BENCHMARKS.md).  Pick it when other DPDK code must see
 *    the mappings in DPDK's table.  A mapping whose permissions are not
 *    read+write is made with the ioctl even on this path (DPDK cannot
 *    express it).
 * Container and group setup always go through DPDK.
 *
 * Invalidation: VFIO's unmap is where the kernel invalidates the IOTLB.
 * An unmapped range stays mapped in the container (a device may still
 * reach its old memory, as with a lazily invalidated IOTLB) until the
 * domain's next sync, which removes every pending range with as few unmap
 * calls as possible (adjacent whole mappings in one call).  Logical
 * addresses are given back to the allocator only after that call
 * returned.  Strict domains sync before ivm_unmap_* returns; lazy domains
 * when their flush queues flush (iovamap/flush.h).
 *
 * Mappings made before any device is attached are kept by the domain and
 * made in the container when the first device is attached (a container has
 * no IOMMU until then); when the last device is detached the container
 * drops them and the next attach makes them again.
 *
 * DPDK's EAL: the backend needs it initialised.  A DPDK application calls
 * rte_eal_init() before it creates a VFIO domain.  Otherwise the first
 * VFIO domain initialises the EAL with struct ivm_vfio_config::eal_args
 * (the caller's CPU affinity is restored afterwards); after that the
 * process must not call rte_eal_init() itself.
 *
 * Builds without DPDK have no VFIO backend: creating a VFIO domain gives
 * IVM_STATUS_NOT_SUPPORTED.
 */
#ifndef IOVAMAP_VFIO_H
#define IOVAMAP_VFIO_H

#include <stdint.h>

#include "iovamap/export.h"
#include "iovamap/status.h"
#include "iovamap/types.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ivm_domain;

/* How a VFIO domain's mappings reach the container (see above). */
enum ivm_vfio_map_path {
	IVM_VFIO_MAP_DIRECT = 0,
	IVM_VFIO_MAP_DPDK = 1,
};

/* VFIO options of a domain (struct ivm_domain_config::vfio; NULL: all
 * defaults).  Zeroed fields mean the default. */
struct ivm_vfio_config {
	enum ivm_vfio_map_path map_path;
	/* Directory of VFIO's character devices; NULL: "/dev/vfio".  A
	 * directory without a "vfio" node gives IVM_STATUS_NOT_SUPPORTED at
	 * domain creation. */
	const char *dev_dir;
	/* Space-separated EAL arguments, used only when the EAL is not yet
	 * initialised; NULL: "--no-huge -m 32 --no-pci --no-shconf
	 * --no-telemetry --log-level=lib.eal:error -l CPU" with the CPU
	 * the creating thread runs on. */
	const char *eal_args;
};

/* What ivm_domain_attach_device hands back. */
struct ivm_vfio_device {
	/* The VFIO device file descriptor (VFIO_DEVICE_* ioctls, region
	 * reads/writes and mmap).  Owned by the domain: closed by
	 * ivm_domain_detach_device or ivm_domain_destroy. */
	int fd;
	/* From VFIO_DEVICE_GET_INFO. */
	uint32_t flags;
	uint32_t num_regions;
	uint32_t num_irqs;
};

/*
 * ivm_domain_attach_device - bind a PCI device's IOMMU group to a VFIO
 * domain's container and open the device.
 *
 * @domain:      a domain created with backend IVM_BACKEND_VFIO.
 * @pci_address: "DDDD:BB:DD.F" (e.g. "0000:00:03.0"); the device must be
 *               bound to vfio-pci.  Read during the call only.
 * @out:         receives the device (see struct ivm_vfio_device); untouched
 *               on failure.
 *
 * Returns:
 *   IVM_STATUS_SUCCESS
 *   IVM_STATUS_INVALID_PARAMETER_1  domain is NULL
 *   IVM_STATUS_INVALID_PARAMETER_2  pci_address is NULL or malformed
 *   IVM_STATUS_INVALID_PARAMETER_3  out is NULL
 *   IVM_STATUS_NOT_SUPPORTED        the domain is not a VFIO domain, the
 *                                   device has no IOMMU group (no such
 *                                   device, or no IOMMU), or it is not
 *                                   bound to vfio-pci
 *   IVM_STATUS_IN_USE               the device is attached already
 *   IVM_STATUS_INSUFFICIENT_RESOURCES  VFIO or DPDK refused (group not
 *                                   viable, more than 32 devices, a kept
 *                                   mapping could not be made); see
 *                                   ivm_status_detail()
 * On failure nothing changed: the group is unbound again if this call
 * bound it.
 *
 * Context: any thread, not inside an iovamap RCU read-side section.
 * Blocking: yes (VFIO ioctls, DPDK; the first attach makes every kept
 * mapping in the container).  Ordering: every mapping that existed when
 * the call began is visible to the device when it returns.
 */
IVM_API ivm_status ivm_domain_attach_device(struct ivm_domain *domain,
					    const char *pci_address,
					    struct ivm_vfio_device *out);

/*
 * ivm_domain_detach_device - close an attached device and unbind its group.
 *
 * The device must be quiet (no DMA in flight): after the call its group
 * has no IOMMU context of this domain.  Detaching the last device makes
 * the container drop its mappings; the domain keeps them (see above).
 * Unmap every mmap() of the device's regions (BARs) first: a live mapping
 * keeps the device file, and with it the IOMMU group, open in the kernel,
 * so the group could not be opened again (EBUSY) until the process exits.
 *
 * Returns:
 *   IVM_STATUS_SUCCESS
 *   IVM_STATUS_INVALID_PARAMETER_1  domain is NULL
 *   IVM_STATUS_INVALID_PARAMETER_2  pci_address is NULL or malformed
 *   IVM_STATUS_NOT_SUPPORTED        the domain is not a VFIO domain
 *   IVM_STATUS_INVALID_PARAMETER    the device is not attached to it
 *
 * Context: any thread, not inside an iovamap RCU read-side section.
 * Blocking: yes.  Ordering: pending unmaps are completed first.
 */
IVM_API ivm_status ivm_domain_detach_device(struct ivm_domain *domain,
					    const char *pci_address);

#ifdef __cplusplus
}
#endif

#endif /* IOVAMAP_VFIO_H */
