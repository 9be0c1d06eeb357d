/* SPDX-License-Identifier: MIT */
/*
 * test_wdm_compat.c - code written with wdm.h's names compiles and runs
 * against iovamap through iovamap/wdm_compat.h.
 */
#include <string.h>

#include <iovamap/wdm_compat.h>

#include "check.h"

IVM_TEST(status_numbers)
{
	CHECK_EQ_U64((uint32_t)STATUS_SUCCESS, 0x00000000u);
	CHECK_EQ_U64((uint32_t)STATUS_UNSUCCESSFUL, 0xC0000001u);
	CHECK_EQ_U64((uint32_t)STATUS_NOT_IMPLEMENTED, 0xC0000002u);
	CHECK_EQ_U64((uint32_t)STATUS_ACCESS_VIOLATION, 0xC0000005u);
	CHECK_EQ_U64((uint32_t)STATUS_INVALID_PARAMETER, 0xC000000Du);
	CHECK_EQ_U64((uint32_t)STATUS_INVALID_PARAMETER_MIX, 0xC0000030u);
	CHECK_EQ_U64((uint32_t)STATUS_INSUFFICIENT_RESOURCES, 0xC000009Au);
	CHECK_EQ_U64((uint32_t)STATUS_NOT_SUPPORTED, 0xC00000BBu);
	CHECK_EQ_U64((uint32_t)STATUS_INVALID_PARAMETER_1, 0xC00000EFu);
	CHECK_EQ_U64((uint32_t)STATUS_INVALID_PARAMETER_2, 0xC00000F0u);
	CHECK_EQ_U64((uint32_t)STATUS_INVALID_PARAMETER_3, 0xC00000F1u);
	CHECK_EQ_U64((uint32_t)STATUS_INVALID_PARAMETER_4, 0xC00000F2u);
	CHECK_EQ_U64((uint32_t)STATUS_INVALID_PARAMETER_5, 0xC00000F3u);
	CHECK_EQ_U64((uint32_t)STATUS_RESOURCE_IN_USE, 0xC0000708u);
	CHECK_EQ_U64((uint32_t)STATUS_IN_USE, 0xC0000708u);
	NTSTATUS s = STATUS_SUCCESS;
	CHECK(NT_SUCCESS(s));
	CHECK(!NT_SUCCESS(STATUS_INVALID_PARAMETER_3));
	CHECK(!NT_SUCCESS(STATUS_RESOURCE_IN_USE));
	CHECK(sizeof(NTSTATUS) == 4 && sizeof(ULONG) == 4 && sizeof(ULONG64) == 8);
}

IVM_TEST(enumerators)
{
	CHECK_EQ_U64(DomainTypeTranslate, 0);
	CHECK_EQ_U64(DomainTypePassThrough, 1);
	CHECK_EQ_U64(DomainTypeUnmanaged, 2);
	CHECK_EQ_U64(IommuDmaLogicalAllocatorNone, 0);
	CHECK_EQ_U64(IommuDmaLogicalAllocatorBuddy, 1);
	CHECK_EQ_U64(MapPhysicalAddressTypeMdl, 0);
	CHECK_EQ_U64(MapPhysicalAddressTypeContiguousRange, 1);
	CHECK_EQ_U64(MapPhysicalAddressTypePfn, 2);
	CHECK_EQ_U64(IOMMU_ACCESS_READ, 1);
	CHECK_EQ_U64(IOMMU_ACCESS_WRITE, 2);
	CHECK_EQ_U64(IOMMU_ACCESS_NONE, 0);
}

static PIOMMU_DMA_DOMAIN create(IOMMU_DMA_DOMAIN_TYPE type,
				const IOMMU_DMA_LOGICAL_ALLOCATOR_CONFIG *ac)
{
	struct ivm_domain_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.type = type;
	cfg.allocator = ac;
	PIOMMU_DMA_DOMAIN d = NULL;
	NTSTATUS st = ivm_domain_create(&cfg, &d);
	CHECK_STATUS(st, STATUS_SUCCESS);
	if (!NT_SUCCESS(st))
		abort();
	return d;
}

IVM_TEST(interface_table_is_complete)
{
	DMA_IOMMU_INTERFACE_V2 itf;
	memset(&itf, 0, sizeof(itf));
	IvmGetDmaIommuInterface(&itf);
	CHECK(itf.MapLogicalRangeEx != NULL);
	CHECK(itf.UnmapLogicalRange != NULL);
	CHECK(itf.MapIdentityRangeEx != NULL);
	CHECK(itf.UnmapIdentityRangeEx != NULL);
	CHECK(itf.FlushDomain != NULL);
	CHECK(itf.FlushDomainByVaList != NULL);
	CHECK(itf.ReserveLogicalAddressRange != NULL);
	CHECK(itf.MapReservedLogicalRange != NULL);
	CHECK(itf.UnmapReservedLogicalRange != NULL);
	CHECK(itf.FreeReservedLogicalAddressRange != NULL);
	CHECK(itf.QueryAvailableDomainTypes != NULL);
	ULONG mask = 0;
	CHECK_STATUS(itf.QueryAvailableDomainTypes(&mask), STATUS_SUCCESS);
	CHECK(mask & (1u << DomainTypeTranslate));
	CHECK(mask & (1u << DomainTypePassThrough));
	CHECK(!(mask & (1u << DomainTypeUnmanaged)));
}

IVM_TEST(map_unmap_through_interface)
{
	DMA_IOMMU_INTERFACE_V2 itf;
	IvmGetDmaIommuInterface(&itf);
	IOMMU_DMA_LOGICAL_ALLOCATOR_CONFIG ac;
	memset(&ac, 0, sizeof(ac));
	ac.type = IommuDmaLogicalAllocatorBuddy;
	ac.address_width = 32;
	PIOMMU_DMA_DOMAIN dom = create(DomainTypeTranslate, &ac);

	IOMMU_MAP_PHYSICAL_ADDRESS pa;
	memset(&pa, 0, sizeof(pa));
	pa.type = MapPhysicalAddressTypeContiguousRange;
	pa.contiguous.base = 0x80000000ull;
	pa.contiguous.size = 3 * 4096;
	IOMMU_DMA_LOGICAL_ADDRESS la = 0;
	ULONG perms = IOMMU_ACCESS_READ | IOMMU_ACCESS_WRITE;
	NTSTATUS st = itf.MapLogicalRangeEx(dom, perms, &pa, NULL, NULL, NULL, &la);
	CHECK_STATUS(st, STATUS_SUCCESS);
	CHECK_EQ_U64(la, 0);
	ULONG64 phys = 0;
	CHECK_STATUS(ivm_translate(dom, la + 0x2345, &phys, NULL), STATUS_SUCCESS);
	CHECK_EQ_U64(phys, 0x80002345ull);

	/* The seed's statuses, by their Windows names. */
	IOMMU_DMA_LOGICAL_ADDRESS ex = 0x10000;
	CHECK_STATUS(itf.MapLogicalRangeEx(dom, perms, &pa, &ex, NULL, NULL, &la),
		     STATUS_NOT_SUPPORTED);
	CHECK_STATUS(itf.MapLogicalRangeEx(dom, 4, &pa, NULL, NULL, NULL, &la),
		     STATUS_INVALID_PARAMETER_2);
	pa.contiguous.size = 100;
	CHECK_STATUS(itf.MapLogicalRangeEx(dom, perms, &pa, NULL, NULL, NULL, &la),
		     STATUS_INVALID_PARAMETER_3);
	pa.contiguous.size = 4096;
	IOMMU_DMA_LOGICAL_ADDRESS mn = 0x20000, mx = 0x10000;
	CHECK_STATUS(itf.MapLogicalRangeEx(dom, perms, &pa, NULL, &mn, &mx, &la),
		     STATUS_INVALID_PARAMETER_MIX);

	CHECK_STATUS(itf.UnmapLogicalRange(dom, 0, 2), STATUS_INVALID_PARAMETER);
	CHECK_STATUS(itf.UnmapLogicalRange(dom, 0, 3), STATUS_SUCCESS);
	CHECK_STATUS(ivm_translate(dom, 0x2345, &phys, NULL),
		     STATUS_INVALID_PARAMETER_2);

	/* Flushes */
	IOMMU_DMA_LOGICAL_ADDRESS list[1] = { 0x1000 };
	CHECK_STATUS(itf.FlushDomain(dom), STATUS_SUCCESS);
	CHECK_STATUS(itf.FlushDomainByVaList(dom, true, 1, list), STATUS_SUCCESS);
	CHECK_STATUS(itf.FlushDomainByVaList(dom, true, 1, NULL),
		     STATUS_INVALID_PARAMETER_4);

	/* Reservations */
	IOMMU_DMA_LOGICAL_ADDRESS_TOKEN tok = NULL;
	CHECK_STATUS(itf.ReserveLogicalAddressRange(dom, 4 * 4096, NULL, NULL,
						    NULL, &tok),
		     STATUS_SUCCESS);
	IOMMU_MAP_PHYSICAL_ADDRESS pfn;
	ULONG64 pfns[2] = { 0x1234, 0x99 };
	memset(&pfn, 0, sizeof(pfn));
	pfn.type = MapPhysicalAddressTypePfn;
	pfn.pfn_array.pfns = pfns;
	pfn.pfn_array.count = 2;
	IOMMU_DMA_LOGICAL_ADDRESS rla = 0;
	CHECK_STATUS(itf.MapReservedLogicalRange(tok, 4096, IOMMU_ACCESS_READ,
						 &pfn, &rla),
		     STATUS_SUCCESS);
	CHECK_STATUS(ivm_translate(dom, rla + 4096 + 1, &phys, NULL),
		     STATUS_SUCCESS);
	CHECK_EQ_U64(phys, 0x99001ull);
	CHECK_STATUS(itf.FreeReservedLogicalAddressRange(&tok),
		     STATUS_RESOURCE_IN_USE);
	CHECK_STATUS(itf.UnmapReservedLogicalRange(tok, 4096, 2), STATUS_SUCCESS);
	CHECK_STATUS(itf.FreeReservedLogicalAddressRange(&tok), STATUS_SUCCESS);
	CHECK(tok == NULL);
	ivm_domain_destroy(&dom);
}

IVM_TEST(identity_through_interface)
{
	DMA_IOMMU_INTERFACE_V2 itf;
	IvmGetDmaIommuInterface(&itf);
	PIOMMU_DMA_DOMAIN dom = create(DomainTypeTranslate, NULL);
	IOMMU_MAP_PHYSICAL_ADDRESS pa;
	memset(&pa, 0, sizeof(pa));
	pa.type = MapPhysicalAddressTypeContiguousRange;
	pa.contiguous.base = 0x500000;
	pa.contiguous.size = 2 * 4096;
	CHECK_STATUS(itf.MapIdentityRangeEx(dom, IOMMU_ACCESS_READ, &pa),
		     STATUS_SUCCESS);
	CHECK_STATUS(itf.MapIdentityRangeEx(dom, IOMMU_ACCESS_READ, &pa),
		     STATUS_RESOURCE_IN_USE);
	ULONG64 phys = 0;
	ULONG perm = 0;
	CHECK_STATUS(ivm_translate(dom, 0x501010, &phys, &perm), STATUS_SUCCESS);
	CHECK_EQ_U64(phys, 0x501010);
	CHECK_EQ_U64(perm, IOMMU_ACCESS_READ);
	/* without an allocator an explicit address is required */
	IOMMU_DMA_LOGICAL_ADDRESS la = 0;
	CHECK_STATUS(itf.MapLogicalRangeEx(dom, IOMMU_ACCESS_READ, &pa, NULL,
					   NULL, NULL, &la),
		     STATUS_NOT_SUPPORTED);
	IOMMU_DMA_LOGICAL_ADDRESS ex = 0x501000;
	CHECK_STATUS(itf.MapLogicalRangeEx(dom, IOMMU_ACCESS_READ, &pa, &ex,
					   NULL, NULL, &la),
		     STATUS_IN_USE);
	ex = 0x502001;
	CHECK_STATUS(itf.MapLogicalRangeEx(dom, IOMMU_ACCESS_READ, &pa, &ex,
					   NULL, NULL, &la),
		     STATUS_INVALID_PARAMETER_4);
	CHECK_STATUS(itf.UnmapIdentityRangeEx(dom, &pa), STATUS_SUCCESS);
	CHECK_STATUS(ivm_translate(dom, 0x501010, &phys, &perm),
		     STATUS_INVALID_PARAMETER_2);
	ivm_domain_destroy(&dom);

	/* A PassThrough domain refuses logical maps with parameter 1. */
	dom = create(DomainTypePassThrough, NULL);
	CHECK_STATUS(itf.MapLogicalRangeEx(dom, IOMMU_ACCESS_READ, &pa, &ex,
					   NULL, NULL, &la),
		     STATUS_INVALID_PARAMETER_1);
	ivm_domain_destroy(&dom);
}

IVM_TEST_MAIN()
