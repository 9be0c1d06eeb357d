/* SPDX-License-Identifier: MIT */
/*
 * iovamap/status.h - status codes.
 *
 * Every public call returns an ivm_status.  The values are the NTSTATUS
 * numbers of the Windows DMA IOMMU interface, so code ported from a Windows
 * driver that compares against STATUS_* constants keeps working (see
 * iovamap/wdm_compat.h).  Success is 0; every failure has the top bit set,
 * so `status < 0` is a quick failure test.
 */
#ifndef IOVAMAP_STATUS_H
#define IOVAMAP_STATUS_H

#include <stdint.h>

#include "iovamap/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef int32_t ivm_status;

#define IVM_STATUS_SUCCESS                 ((ivm_status)0x00000000)
#define IVM_STATUS_UNSUCCESSFUL            ((ivm_status)0xC0000001)
#define IVM_STATUS_NOT_IMPLEMENTED         ((ivm_status)0xC0000002)
/* A device access hit no mapping or lacked the permission. */
#define IVM_STATUS_ACCESS_VIOLATION        ((ivm_status)0xC0000005)
#define IVM_STATUS_INVALID_PARAMETER       ((ivm_status)0xC000000D)
#define IVM_STATUS_INVALID_PARAMETER_MIX   ((ivm_status)0xC0000030)
#define IVM_STATUS_INSUFFICIENT_RESOURCES  ((ivm_status)0xC000009A)
#define IVM_STATUS_NOT_SUPPORTED           ((ivm_status)0xC00000BB)
#define IVM_STATUS_INVALID_PARAMETER_1     ((ivm_status)0xC00000EF)
#define IVM_STATUS_INVALID_PARAMETER_2     ((ivm_status)0xC00000F0)
#define IVM_STATUS_INVALID_PARAMETER_3     ((ivm_status)0xC00000F1)
#define IVM_STATUS_INVALID_PARAMETER_4     ((ivm_status)0xC00000F2)
#define IVM_STATUS_INVALID_PARAMETER_5     ((ivm_status)0xC00000F3)
/* Public Windows name: STATUS_RESOURCE_IN_USE. */
#define IVM_STATUS_IN_USE                  ((ivm_status)0xC0000708)

/*
 * ivm_status_name - the constant's name, e.g. "IVM_STATUS_IN_USE".
 *
 * Returns a static string; an unknown value gives "IVM_STATUS_UNKNOWN".
 * Never returns NULL.
 *
 * Context: any thread, any RCU state.  Blocking: never.  Ordering: none.
 */
IVM_API const char *ivm_status_name(ivm_status status);

/*
 * ivm_status_detail - why the calling thread's last failed call failed, in
 * words, when iovamap knows more than the status says (e.g. "VFIO
 * container mapping limit reached: dma_entry_limit is 65535").
 *
 * Returns a thread-local string, valid until this thread's next iovamap
 * call.  Right after a call that failed it is that call's detail, or ""
 * when that failure has none: no call leaves an older call's detail
 * behind.  After a call that succeeded it is "" or, for the data-path
 * calls that clear it only when they fail (ivm_translate, ivm_quiescent,
 * ivm_flush_poll, ivm_unmap_logical_range, the model device's DMA), what
 * it was before.  Never returns NULL.
 *
 * Context: any thread, any RCU state.  Blocking: never.  Ordering: none.
 */
IVM_API const char *ivm_status_detail(void);

#ifdef __cplusplus
}
#endif

#endif /* IOVAMAP_STATUS_H */
