/* SPDX-License-Identifier: MIT */
/*
 * range_alloc.h - the range allocator behind the IOVA cache: a buddy
 * allocator over page numbers [0, 2^(width - 12)).
 *
 * Units are pages (page frame numbers of the logical space, la >> 12).
 *
 * Not thread-safe: the caller serialises every call on one allocator (the
 * lock in struct ivm_iova, iova.h).
 *
 * Memory: free blocks and allocated blocks are each tracked in a node
 * allocated through ivm_mem_*.  Only range_alloc_init, range_alloc_alloc
 * and range_alloc_claim allocate, and they do it before changing anything,
 * so a failure leaves the allocator exactly as it was.  range_alloc_free
 * never allocates and never fails: the nodes of the allocated blocks it
 * removes are enough for the free blocks it inserts (a range's minimal
 * aligned decomposition never has more blocks than any other).
 */
#ifndef IVM_RANGE_ALLOC_H
#define IVM_RANGE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iovamap/status.h"

/* Orders 0 .. IVM_RANGE_MAX_ORDER (63 - 12 = 51 for a 63-bit width). */
#define IVM_RANGE_MAX_ORDER 51

struct range_node;

/* Fields are private to range_alloc.c; the struct is public only so that
 * it can be embedded. */
struct range_alloc {
	uint64_t total_pages;         /* 2^(width - 12); set at init */
	unsigned max_order;           /* width - 12 */
	uint64_t used_pages;          /* pages allocated or claimed */
	/* Free blocks, one ordered set per order. */
	struct range_node *free_root[IVM_RANGE_MAX_ORDER + 1];
	uint64_t free_count[IVM_RANGE_MAX_ORDER + 1];
	/* Allocated blocks, one ordered set keyed by first page. */
	struct range_node *used_root;
	uint64_t used_count;
	/* Freed nodes kept for reuse (a stack through `left`). */
	struct range_node *spare;
	uint64_t spare_count;
};

/*
 * range_alloc_init - an allocator whose whole space [0, 2^(width-12))
 * pages is free.  width is 13..63.
 * Returns:
 *   IVM_STATUS_SUCCESS
 *   IVM_STATUS_INVALID_PARAMETER       width outside 13..63
 *   IVM_STATUS_INSUFFICIENT_RESOURCES  no memory for the first node
 * On failure *ra is zeroed and needs no range_alloc_fini.
 */
ivm_status range_alloc_init(struct range_alloc *ra, unsigned width);

/* Free every node.  Allocations still live are simply forgotten. */
void range_alloc_fini(struct range_alloc *ra);

/*
 * range_alloc_alloc - a block of 2^order pages aligned to 2^order pages,
 * lying entirely inside the inclusive page window [min_page, max_page];
 * among all such free blocks the one at the lowest address.
 *
 * Returns:
 *   IVM_STATUS_SUCCESS                 *page_out = first page of the block
 *   IVM_STATUS_INVALID_PARAMETER_MIX   order > max_order, min_page >
 *                                      max_page, or no aligned block of that
 *                                      order fits in the window even if
 *                                      everything were free (window clamped
 *                                      to the space first)
 *   IVM_STATUS_INSUFFICIENT_RESOURCES  no free block fits, or no memory
 */
ivm_status range_alloc_alloc(struct range_alloc *ra, unsigned order,
			     uint64_t min_page, uint64_t max_page,
			     uint64_t *page_out);

/*
 * range_alloc_claim - take the exact range [page, page + pages) (any size,
 * any alignment), for explicit addresses, reserved regions and identity
 * maps.  All or nothing.
 *
 * Returns:
 *   IVM_STATUS_SUCCESS
 *   IVM_STATUS_INVALID_PARAMETER       pages == 0 or the range passes the
 *                                      space (or wraps)
 *   IVM_STATUS_IN_USE                  some page of it is not free
 *   IVM_STATUS_INSUFFICIENT_RESOURCES  no memory for nodes
 */
ivm_status range_alloc_claim(struct range_alloc *ra, uint64_t page,
			     uint64_t pages);

/*
 * range_alloc_free - give back [page, page + pages), which must be exactly
 * what one alloc (page, 1 << order) or one claim returned, or the union of
 * several whole such ranges that are adjacent.  Coalesces buddies.  Never
 * fails, never allocates.  Any other range is a caller bug: debug builds
 * stop in IVM_ASSERT; release builds leave the allocator unchanged.
 */
void range_alloc_free(struct range_alloc *ra, uint64_t page, uint64_t pages);

/* Free the spare nodes kept for reuse (range_alloc.c keeps up to ~100 so
 * that split/merge cycles do not call the memory allocator).  Never
 * fails; changes no allocation. */
void range_alloc_trim(struct range_alloc *ra);

/* True when every page of [page, page + pages) is free. */
bool range_alloc_is_free(const struct range_alloc *ra, uint64_t page,
			 uint64_t pages);

/* Pages currently allocated or claimed. */
static inline uint64_t range_alloc_used_pages(const struct range_alloc *ra)
{
	return ra->used_pages;
}

/* Debug: walk every structure and check its invariants (ordering, no
 * overlap, no two free buddies left unmerged, counts consistent).  Returns
 * true when consistent. */
bool range_alloc_check(const struct range_alloc *ra);

#endif /* IVM_RANGE_ALLOC_H */
