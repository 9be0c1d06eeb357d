/* SPDX-License-Identifier: MIT */
/*
 * iovamap/flush.h - explicit IOTLB invalidation (FlushDomain and
 * FlushDomainByVaList).
 *
 * Unmap calls already invalidate what they remove before they return; these
 * calls are for callers that changed what a device may have cached by other
 * means, or want a clean IOTLB (after a device reset, say).
 */
#ifndef IOVAMAP_FLUSH_H
#define IOVAMAP_FLUSH_H

#include <stdbool.h>
#include <stddef.h>

#include "iovamap/export.h"
#include "iovamap/status.h"
#include "iovamap/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * ivm_flush_domain - invalidate every IOTLB entry of the domain and wait
 * for the invalidation to complete.  In lazy mode this also empties every
 * CPU's flush queue: the queued addresses go back to the allocator.
 *
 * Returns IVM_STATUS_SUCCESS or IVM_STATUS_INVALID_PARAMETER_1 (domain
 * NULL).
 *
 * Context: any thread.  Blocking: waits for the backend's sync.
 * Ordering: every entry cleared before the call began is out of the IOTLB
 * when it returns.
 */
IVM_API ivm_status ivm_flush_domain(struct ivm_domain *domain);

/*
 * ivm_flush_domain_by_va_list - invalidate the IOTLB entries of the listed
 * pages only, then wait for completion.
 *
 * @last_level: true: only leaf (last-level) translations need to go;
 *              false: cached upper-level paging structures too.  The
 *              software model caches leaf translations only, so both
 *              behave alike there; a hardware backend may do less work
 *              for true.
 * @count:      entries in list; 0 flushes nothing and succeeds.
 * @list:       logical addresses; each names the 4 KiB page containing it.
 *
 * Returns:
 *   IVM_STATUS_SUCCESS
 *   IVM_STATUS_INVALID_PARAMETER_1  domain is NULL
 *   IVM_STATUS_INVALID_PARAMETER_4  list is NULL with count > 0, or an
 *                                   address passes the domain's width
 *                                   (nothing is flushed then)
 *
 * Context, Blocking, Ordering: as ivm_flush_domain, for the listed pages.
 */
IVM_API ivm_status ivm_flush_domain_by_va_list(struct ivm_domain *domain,
					       bool last_level, size_t count,
					       const ivm_la *list);

/*
 * ivm_flush_poll - lazy mode's timeout, driven from the caller's loop:
 * flush every CPU queue whose oldest entry has waited longer than the
 * domain's flush timeout.  A PMD calls it once per loop iteration instead
 * of running a flush thread.  When nothing is due it reads one word per
 * CPU and returns.  In strict mode it does nothing.
 *
 * @flushed: optional; receives the number of queued ranges released.
 *
 * Returns IVM_STATUS_SUCCESS or IVM_STATUS_INVALID_PARAMETER_1 (domain
 * NULL).
 *
 * Context: any thread.  Blocking: only when a queue is due (it then waits
 * for the backend's sync).  Ordering: as ivm_flush_domain, for the queues
 * it flushes.
 */
IVM_API ivm_status ivm_flush_poll(struct ivm_domain *domain, size_t *flushed);

#ifdef __cplusplus
}
#endif

#endif /* IOVAMAP_FLUSH_H */
