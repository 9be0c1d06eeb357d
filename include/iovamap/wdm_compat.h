/* SPDX-License-Identifier: MIT */
/*
 * iovamap/wdm_compat.h - the Windows DMA IOMMU interface's own names,
 * mapped onto iovamap, so that code written against wdm.h's
 * DMA_IOMMU_INTERFACE_V2 compiles with few edits.
 *
 * What carries over unchanged: the status values (they are NTSTATUS
 * numbers), the domain, allocator and physical-address type enumerators,
 * the logical address type, and the call shapes of the interface's
 * function pointers (fetch them with IvmGetDmaIommuInterface()).
 *
 * What needs an edit: structure members keep iovamap's names (for example
 * phys.contiguous.base instead of ContiguousRange.Base), the domain is
 * created with ivm_domain_create, and FreeReservedLogicalAddressRange takes
 * a pointer to the reservation handle.
 *
 * Define IVM_WDM_NO_BASE_TYPES before including this header if the
 * program already defines NTSTATUS, ULONG, ULONG64 and BOOLEAN.
 */
#ifndef IOVAMAP_WDM_COMPAT_H
#define IOVAMAP_WDM_COMPAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iovamap/iovamap.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef IVM_WDM_NO_BASE_TYPES
typedef ivm_status NTSTATUS;
typedef uint32_t ULONG;
typedef uint64_t ULONG64;
typedef bool BOOLEAN;
#endif

#define NT_SUCCESS(status) ((NTSTATUS)(status) >= 0)

#define STATUS_SUCCESS                 IVM_STATUS_SUCCESS
#define STATUS_UNSUCCESSFUL            IVM_STATUS_UNSUCCESSFUL
#define STATUS_NOT_IMPLEMENTED         IVM_STATUS_NOT_IMPLEMENTED
#define STATUS_ACCESS_VIOLATION        IVM_STATUS_ACCESS_VIOLATION
#define STATUS_INVALID_PARAMETER       IVM_STATUS_INVALID_PARAMETER
#define STATUS_INVALID_PARAMETER_MIX   IVM_STATUS_INVALID_PARAMETER_MIX
#define STATUS_INSUFFICIENT_RESOURCES  IVM_STATUS_INSUFFICIENT_RESOURCES
#define STATUS_NOT_SUPPORTED           IVM_STATUS_NOT_SUPPORTED
#define STATUS_INVALID_PARAMETER_1     IVM_STATUS_INVALID_PARAMETER_1
#define STATUS_INVALID_PARAMETER_2     IVM_STATUS_INVALID_PARAMETER_2
#define STATUS_INVALID_PARAMETER_3     IVM_STATUS_INVALID_PARAMETER_3
#define STATUS_INVALID_PARAMETER_4     IVM_STATUS_INVALID_PARAMETER_4
#define STATUS_INVALID_PARAMETER_5     IVM_STATUS_INVALID_PARAMETER_5
#define STATUS_RESOURCE_IN_USE         IVM_STATUS_IN_USE
/* The contract's text calls it STATUS_IN_USE. */
#define STATUS_IN_USE                  IVM_STATUS_IN_USE

typedef enum ivm_domain_type IOMMU_DMA_DOMAIN_TYPE, *PIOMMU_DMA_DOMAIN_TYPE;
#define DomainTypeTranslate   IVM_DOMAIN_TRANSLATE
#define DomainTypePassThrough IVM_DOMAIN_PASSTHROUGH
#define DomainTypeUnmanaged   IVM_DOMAIN_UNMANAGED
#define DomainTypeMax         3

typedef enum ivm_allocator_type IOMMU_DMA_LOGICAL_ALLOCATOR_TYPE;
#define IommuDmaLogicalAllocatorNone  IVM_ALLOCATOR_NONE
#define IommuDmaLogicalAllocatorBuddy IVM_ALLOCATOR_BUDDY
#define IommuDmaLogicalAllocatorMax   2
typedef struct ivm_allocator_config IOMMU_DMA_LOGICAL_ALLOCATOR_CONFIG,
	*PIOMMU_DMA_LOGICAL_ALLOCATOR_CONFIG;
typedef struct ivm_reserved_region IOMMU_DMA_RESERVED_REGION,
	*PIOMMU_DMA_RESERVED_REGION;

typedef enum ivm_phys_type IOMMU_MAP_PHYSICAL_ADDRESS_TYPE;
#define MapPhysicalAddressTypeMdl             IVM_PHYS_BUFFER
#define MapPhysicalAddressTypeContiguousRange IVM_PHYS_CONTIGUOUS
#define MapPhysicalAddressTypePfn             IVM_PHYS_PFN_ARRAY
#define MapPhysicalAddressTypeMax             3
typedef struct ivm_phys IOMMU_MAP_PHYSICAL_ADDRESS, *PIOMMU_MAP_PHYSICAL_ADDRESS;

typedef struct ivm_domain IOMMU_DMA_DOMAIN, *PIOMMU_DMA_DOMAIN;
typedef ivm_la IOMMU_DMA_LOGICAL_ADDRESS, *PIOMMU_DMA_LOGICAL_ADDRESS;
typedef struct ivm_reservation *IOMMU_DMA_LOGICAL_ADDRESS_TOKEN,
	**PIOMMU_DMA_LOGICAL_ADDRESS_TOKEN;

#define IOMMU_ACCESS_NONE  0u
#define IOMMU_ACCESS_READ  IVM_PERM_READ
#define IOMMU_ACCESS_WRITE IVM_PERM_WRITE

/* The interface's members, as function-pointer types with iovamap's
 * parameter types (const where iovamap only reads). */
typedef ivm_status (*IOMMU_MAP_LOGICAL_RANGE_EX)(
	struct ivm_domain *Domain, uint32_t Permissions,
	const struct ivm_phys *PhysicalAddressToMap,
	const ivm_la *ExplicitLogicalAddress, const ivm_la *MinLogicalAddress,
	const ivm_la *MaxLogicalAddress, ivm_la *LogicalAddressOut);
typedef IOMMU_MAP_LOGICAL_RANGE_EX PIOMMU_MAP_LOGICAL_RANGE_EX;

typedef ivm_status (*IOMMU_UNMAP_LOGICAL_RANGE)(
	struct ivm_domain *Domain, ivm_la LogicalAddress, uint64_t NumberOfPages);
typedef ivm_status (*IOMMU_MAP_IDENTITY_RANGE_EX)(
	struct ivm_domain *Domain, uint32_t Permissions,
	const struct ivm_phys *PhysicalAddressToMap);
typedef ivm_status (*IOMMU_UNMAP_IDENTITY_RANGE_EX)(
	struct ivm_domain *Domain, const struct ivm_phys *PhysicalAddressToUnmap);
typedef ivm_status (*IOMMU_FLUSH_DOMAIN)(struct ivm_domain *Domain);
typedef ivm_status (*IOMMU_FLUSH_DOMAIN_VA_LIST)(
	struct ivm_domain *Domain, bool LastLevel, size_t Number,
	const ivm_la *VaList);
typedef ivm_status (*IOMMU_RESERVE_LOGICAL_ADDRESS_RANGE)(
	struct ivm_domain *Domain, uint64_t Size,
	const ivm_la *ExplicitLogicalAddress, const ivm_la *MinLogicalAddress,
	const ivm_la *MaxLogicalAddress,
	struct ivm_reservation **LogicalAddressToken);
typedef ivm_status (*IOMMU_MAP_RESERVED_LOGICAL_RANGE)(
	struct ivm_reservation *LogicalAddressToken, uint64_t Offset,
	uint32_t Permissions, const struct ivm_phys *PhysicalAddressToMap,
	ivm_la *LogicalAddressOut);
typedef ivm_status (*IOMMU_UNMAP_RESERVED_LOGICAL_RANGE)(
	struct ivm_reservation *LogicalAddressToken, uint64_t Offset,
	uint64_t NumberOfPages);
typedef ivm_status (*IOMMU_FREE_RESERVED_LOGICAL_ADDRESS_RANGE)(
	struct ivm_reservation **LogicalAddressToken);
typedef ivm_status (*IOMMU_QUERY_AVAILABLE_DOMAIN_TYPES)(uint32_t *Mask);

/* The DMA_IOMMU_INTERFACE_V2 members iovamap provides. */
typedef struct _DMA_IOMMU_INTERFACE_V2 {
	IOMMU_MAP_LOGICAL_RANGE_EX MapLogicalRangeEx;
	IOMMU_UNMAP_LOGICAL_RANGE UnmapLogicalRange;
	IOMMU_MAP_IDENTITY_RANGE_EX MapIdentityRangeEx;
	IOMMU_UNMAP_IDENTITY_RANGE_EX UnmapIdentityRangeEx;
	IOMMU_FLUSH_DOMAIN FlushDomain;
	IOMMU_FLUSH_DOMAIN_VA_LIST FlushDomainByVaList;
	IOMMU_RESERVE_LOGICAL_ADDRESS_RANGE ReserveLogicalAddressRange;
	IOMMU_MAP_RESERVED_LOGICAL_RANGE MapReservedLogicalRange;
	IOMMU_UNMAP_RESERVED_LOGICAL_RANGE UnmapReservedLogicalRange;
	IOMMU_FREE_RESERVED_LOGICAL_ADDRESS_RANGE FreeReservedLogicalAddressRange;
	IOMMU_QUERY_AVAILABLE_DOMAIN_TYPES QueryAvailableDomainTypes;
} DMA_IOMMU_INTERFACE_V2, *PDMA_IOMMU_INTERFACE_V2;

/* Fill an interface table with iovamap's calls.  Context: any thread.
 * Blocking: never.  Ordering: none. */
static inline void IvmGetDmaIommuInterface(DMA_IOMMU_INTERFACE_V2 *Interface)
{
	Interface->MapLogicalRangeEx = ivm_map_logical_range_ex;
	Interface->UnmapLogicalRange = ivm_unmap_logical_range;
	Interface->MapIdentityRangeEx = ivm_map_identity_range_ex;
	Interface->UnmapIdentityRangeEx = ivm_unmap_identity_range_ex;
	Interface->FlushDomain = ivm_flush_domain;
	Interface->FlushDomainByVaList = ivm_flush_domain_by_va_list;
	Interface->ReserveLogicalAddressRange = ivm_reserve_logical_range;
	Interface->MapReservedLogicalRange = ivm_map_reserved_logical_range;
	Interface->UnmapReservedLogicalRange = ivm_unmap_reserved_logical_range;
	Interface->FreeReservedLogicalAddressRange = ivm_free_reserved_logical_range;
	Interface->QueryAvailableDomainTypes = ivm_query_available_domain_types;
}

#ifdef __cplusplus
}
#endif

#endif /* IOVAMAP_WDM_COMPAT_H */
