/* SPDX-License-Identifier: MIT */
/*
 * backend.h - the one interface every hardware backend implements.
 *
 * Shaped like Linux's iommu_flush_ops / io-pgtable: mapping changes are
 * told to the backend after the page table changed, invalidations are
 * queued (add_range, which must not block) separately from making them
 * take effect (sync).  The core calls, for a map: page table install, then
 * map(); for an unmap: page table clear, unmap(), add_range(), sync(), and
 * only then gives the logical range back to the allocator.
 *
 * Calls on one backend instance come from the domain's writers (serialised
 * by the domain today) and, for get_stats, from any thread.
 */
#ifndef IVM_HW_BACKEND_H
#define IVM_HW_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "iovamap/domain.h"
#include "iovamap/status.h"
#include "iovamap/types.h"
#include "iovamap/vfio.h"

struct ivm_backend;

struct ivm_backend_ops {
	const char *name;
	/* Make the backend of a new domain.  May allocate. */
	ivm_status (*create)(struct ivm_domain *domain,
			     const struct ivm_domain_config *config,
			     struct ivm_backend **out);
	/* Destroy; everything was unmapped and synced before. */
	void (*destroy)(struct ivm_backend *be);
	/* A mapping now exists in the page table.  A failure makes the
	 * core undo the mapping and return the status to the caller:
	 * INSUFFICIENT_RESOURCES (refused; say why with
	 * ivm_set_status_detail) or NOT_SUPPORTED (a description the backend
	 * cannot map).
	 * NULL: nothing to do (a backend whose hardware reads the page table
	 * itself, like the software model); map and unmap are on every
	 * operation's path, so an empty hook costs an indirect call each. */
	ivm_status (*map)(struct ivm_backend *be, ivm_la la, uint64_t pages,
			  const struct ivm_phys *phys, uint32_t permissions);
	/* A mapping is gone from the page table.  Never fails.  NULL: as
	 * for map. */
	void (*unmap)(struct ivm_backend *be, ivm_la la, uint64_t pages);
	/* Queue the invalidation of [la, la + pages); must not block. */
	void (*add_range)(struct ivm_backend *be, ivm_la la, uint64_t pages,
			  bool last_level);
	/* Make every queued invalidation take effect; returns when done. */
	void (*sync)(struct ivm_backend *be);
	/* Invalidate everything of the domain and wait for it. */
	void (*flush_all)(struct ivm_backend *be);
	/* Real-device backends: bind a device to the domain / let it go
	 * (iovamap/vfio.h gives the contract; the core has checked the
	 * arguments' presence).  NULL: the backend has no devices to attach
	 * (IVM_STATUS_NOT_SUPPORTED). */
	ivm_status (*attach)(struct ivm_backend *be, const char *pci_address,
			     struct ivm_vfio_device *out);
	ivm_status (*detach)(struct ivm_backend *be, const char *pci_address);
	/* Add the backend's counters to out. */
	void (*get_stats)(const struct ivm_backend *be,
			  struct ivm_domain_stats *out);
};

/* The software IOMMU model (hw/swiommu.c). */
extern const struct ivm_backend_ops ivm_swiommu_ops;
/* VFIO through DPDK (hw/vfio.c); only in builds with DPDK
 * (IVM_HAVE_VFIO). */
extern const struct ivm_backend_ops ivm_vfio_ops;

#endif /* IVM_HW_BACKEND_H */
