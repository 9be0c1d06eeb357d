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
 * for the invalidation to complete.
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

#ifdef __cplusplus
}
#endif

#endif /* IOVAMAP_FLUSH_H */
