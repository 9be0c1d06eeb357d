/* SPDX-License-Identifier: MIT */
/*
 * iovamap/types.h - the vocabulary shared by every call: pages, logical
 * addresses, permissions and the description of physical memory.
 */
#ifndef IOVAMAP_TYPES_H
#define IOVAMAP_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The mapping granule.  Every physical and logical range is a whole number
 * of these, aligned to it. */
#define IVM_PAGE_SHIFT 12
#define IVM_PAGE_SIZE  4096u

/* Permission bits (the contract's bit 0 = read, bit 1 = write).  Bits 2-31
 * are reserved and must be 0. */
#define IVM_PERM_READ  1u
#define IVM_PERM_WRITE 2u
#define IVM_PERM_MASK  (IVM_PERM_READ | IVM_PERM_WRITE)

/* A logical address: an I/O virtual address (IOVA) as the device sees it. */
typedef uint64_t ivm_la;

/* Opaque handles. */
struct ivm_domain;
struct ivm_reservation;

/*
 * How a caller names the physical memory to map (IOMMU_MAP_PHYSICAL_ADDRESS).
 *
 * IVM_PHYS_BUFFER      the MDL analogue: a buffer in this process's address
 *                      space that the backend resolves (the software IOMMU
 *                      model uses the virtual address itself as the
 *                      physical address; VFIO pins it).  va page aligned,
 *                      size a non-zero multiple of IVM_PAGE_SIZE.
 * IVM_PHYS_CONTIGUOUS  one physically contiguous range {base, size}; base
 *                      page aligned, size a non-zero page multiple, and
 *                      base + size - 1 must not wrap.
 * IVM_PHYS_PFN_ARRAY   count page frame numbers (physical address >> 12),
 *                      mapped in order to consecutive logical pages.  A
 *                      frame whose address does not fit 64 bits is refused.
 *
 * The caller owns the descriptor and the PFN array; iovamap copies what it
 * needs before the call returns.
 */
enum ivm_phys_type {
	IVM_PHYS_BUFFER = 0,
	IVM_PHYS_CONTIGUOUS = 1,
	IVM_PHYS_PFN_ARRAY = 2,
};

struct ivm_phys {
	enum ivm_phys_type type;
	union {
		struct {
			void *va;
			size_t size;
		} buffer;
		struct {
			uint64_t base;
			size_t size;
		} contiguous;
		struct {
			const uint64_t *pfns;
			size_t count;
		} pfn_array;
	};
};

#ifdef __cplusplus
}
#endif

#endif /* IOVAMAP_TYPES_H */
