/* SPDX-License-Identifier: MIT */
/*
 * phys.h - validating a caller's struct ivm_phys once, at the boundary,
 * and turning it into a page-table source.
 */
#ifndef IVM_PHYS_H
#define IVM_PHYS_H

#include <stdbool.h>
#include <stdint.h>

#include "iovamap/types.h"
#include "pagetable.h"
#include "util.h"

/* Highest page frame number whose address fits 64 bits. */
#define IVM_MAX_PFN (UINT64_MAX >> IVM_PAGE_SHIFT)
_Static_assert((IVM_MAX_PFN & (IVM_MAX_PFN + 1)) == 0,
	       "phys_describe ORs the frames: IVM_MAX_PFN is all ones");

/*
 * phys_describe - check phys (page aligned, non-empty, whole pages, no
 * wrap, every frame addressable) and fill *pages and the address part of
 * *src.  Returns false for malformed input.  Reads the PFN array once
 * (O(count)).
 */
static inline bool phys_describe(const struct ivm_phys *phys, uint64_t *pages,
				 struct pt_source *src)
{
	uint64_t base, size;

	if (!phys)
		return false;
	src->pfns = NULL;
	src->in_page = false;
	src->marker = false;
	src->allow_large = true;
	src->exclusive = false;
	switch (phys->type) {
	case IVM_PHYS_BUFFER:
		if (!phys->buffer.va)
			return false;
		base = (uint64_t)(uintptr_t)phys->buffer.va;
		size = phys->buffer.size;
		break;
	case IVM_PHYS_CONTIGUOUS:
		base = phys->contiguous.base;
		size = phys->contiguous.size;
		break;
	case IVM_PHYS_PFN_ARRAY:
		if (!phys->pfn_array.pfns || phys->pfn_array.count == 0 ||
		    phys->pfn_array.count > (UINT64_MAX >> IVM_PAGE_SHIFT))
			return false;
		/* Every frame at most IVM_MAX_PFN (all ones): their OR is
		 * too, and that loop vectorizes. */
		uint64_t any = 0;
		for (size_t i = 0; i < phys->pfn_array.count; i++)
			any |= phys->pfn_array.pfns[i];
		if (any > IVM_MAX_PFN)
			return false;
		src->pfns = phys->pfn_array.pfns;
		src->base = 0;
		*pages = phys->pfn_array.count;
		return true;
	default:
		return false;
	}
	/* Inclusive last address: base + size - 1 must not wrap. */
	if (size == 0 || !ivm_page_aligned(base) || !ivm_page_aligned(size) ||
	    base + (size - 1) < base)
		return false;
	src->base = base;
	*pages = size >> IVM_PAGE_SHIFT;
	return true;
}

#endif /* IVM_PHYS_H */
