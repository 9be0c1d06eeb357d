/* SPDX-License-Identifier: MIT */
/*
 * util.h - small internal helpers: branch hints, the three assert tiers,
 * ivm_die(), page arithmetic.
 *
 * Assert tiers (STYLE.md habit 9):
 *   IVM_CHECK(e)   always on; for cheap checks whose failure means memory
 *                  is already corrupt (never for bad caller input, which
 *                  gets a status code instead).
 *   IVM_ASSERT(e)  debug builds (NDEBUG unset); internal invariants.
 *   IVM_EXPENSIVE(e) only with IVM_DEBUG_LEVEL >= 2; whole-structure walks.
 * Every tier still evaluates nothing but type-checks its expression when
 * disabled, so a variable used only in an assert is not "unused".
 */
#ifndef IVM_UTIL_H
#define IVM_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "iovamap/export.h"
#include "iovamap/status.h"
#include "iovamap/types.h"

#define ivm_likely(x)   __builtin_expect(!!(x), 1)
#define ivm_unlikely(x) __builtin_expect(!!(x), 0)
#define ivm_noinline    __attribute__((noinline))
#define ivm_cold        __attribute__((cold, noinline))

#ifndef IVM_DEBUG_LEVEL
#ifdef NDEBUG
#define IVM_DEBUG_LEVEL 0
#else
#define IVM_DEBUG_LEVEL 1
#endif
#endif

/* Print "iovamap: FILE:LINE FUNC: message" to stderr and abort. */
_Noreturn void ivm_die_at(const char *file, int line, const char *func,
			  const char *fmt, ...)
	__attribute__((format(printf, 4, 5), cold));
#define ivm_die(...) ivm_die_at(__FILE__, __LINE__, __func__, __VA_ARGS__)

/* Set the calling thread's ivm_status_detail() text (printf format).
 * Exported (not in the public headers) for the sibling library
 * iovamap-dpdk (lib/dpdk.c). */
IVM_API void ivm_set_status_detail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), cold));

/* Unmap exactly the mapping [la, la + pages) if its first and last pages
 * map the frames at first_pa and last_pa (lib/map.c).  Exported (not in
 * the public headers) for iovamap-dpdk's segment and burst unmaps. */
IVM_API ivm_status ivm_unmap_logical_range_of(struct ivm_domain *domain,
					      ivm_la la, uint64_t pages,
					      uint64_t first_pa,
					      uint64_t last_pa);

/* Map count buffers, each lying within one page, at the consecutive
 * pages of one new allocated mapping, buffer i's page at page i, and
 * store each buffer's logical address (lib/map.c).  Exported (not in the
 * public headers) for iovamap-dpdk's burst map. */
IVM_API ivm_status ivm_map_buffers(struct ivm_domain *domain,
				   uint32_t permissions, const uint64_t *addrs,
				   uint32_t count, ivm_la *iovas_out,
				   ivm_la *la_out);

/* A queue's own logical slots (lib/slots.c), exported (not in the public
 * headers) for iovamap-dpdk's transmit queues (ivm_dpdk_txq_*).  One
 * owner at a time maps and unmaps a set's slots; statuses in argument
 * order, as ivm_map_buffers' and ivm_unmap_logical_range_of's.
 *
 * create: nslots (a power of two) slots of slot_pages (a power of two, at
 * most 512) pages each, in one reservation of the domain, and priv_bytes
 * (zeroed, maximally aligned) for the caller at ivm_slots_priv, freed
 * with the set.  NOT_SUPPORTED without an allocator or with a backend
 * that maps by itself (VFIO).
 * map: count (1 .. slot_pages) buffers, each within one page, at the
 * consecutive pages of the next slot, as ivm_map_buffers places them;
 * INSUFFICIENT_RESOURCES, nothing changed, when that slot's last
 * invalidation has not completed yet.
 * unmap: the slot mapping at la of pages pages whose first and last pages
 * map first_pa and last_pa; INVALID_PARAMETER, nothing changed, for any
 * other.  In a lazy domain the slot's invalidation is queued, and the
 * slot mapped again only after it.
 * destroy: IN_USE, nothing changed, while a slot is mapped; else waits
 * for pending invalidations and frees the set.  A set not destroyed goes
 * with its domain.
 * Context: create and destroy on a control thread, the set idle; map and
 * unmap on one owner thread at a time.  Blocking: map never;
 * unmap only when the flush queue is full (it flushes); create allocates;
 * destroy flushes and waits.  Ordering: a map's leaves are release stores
 * (visible to a device's acquire walk when it returns); a slot is written
 * again only after its invalidation's sync has returned (slots.c). */
struct ivm_slots;
IVM_API ivm_status ivm_slots_create(struct ivm_domain *domain,
				    uint32_t slot_pages, uint32_t nslots,
				    size_t priv_bytes, struct ivm_slots **out);
IVM_API void *ivm_slots_priv(struct ivm_slots *s);
IVM_API void ivm_slots_range(const struct ivm_slots *s, ivm_la *base_out,
			     ivm_la *end_out, uint32_t *slot_pages_out);
IVM_API ivm_status ivm_slots_map(struct ivm_slots *s, uint32_t permissions,
				 const uint64_t *addrs, uint32_t count,
				 ivm_la *iovas_out, ivm_la *la_out);
IVM_API ivm_status ivm_slots_unmap(struct ivm_slots *s, ivm_la la,
				   uint32_t pages, uint64_t first_pa,
				   uint64_t last_pa);
IVM_API ivm_status ivm_slots_destroy(struct ivm_slots **set);

/* The text behind ivm_status_detail(); libiovamap's own (not exported). */
extern _Thread_local char ivm_status_detail_text[256];

/* Every public call that returns a status clears the detail first, so
 * that after a failure it is that call's detail or "" (iovamap/status.h);
 * the per-packet and per-burst calls that never set one (ivm_translate,
 * ivm_quiescent, ivm_flush_poll, the logical unmaps, the model device's
 * DMA) clear it on their failure paths only (ivm_fail). */
static inline void ivm_detail_reset(void)
{
	ivm_status_detail_text[0] = '\0';
}

/* A failure with no detail: clear it, return status. */
static inline ivm_status ivm_fail(ivm_status status)
{
	ivm_detail_reset();
	return status;
}

#define IVM_CHECK(e) \
	(ivm_likely(e) ? (void)0 : ivm_die("check failed: %s", #e))
#if IVM_DEBUG_LEVEL >= 1
#define IVM_ASSERT(e) IVM_CHECK(e)
#else
#define IVM_ASSERT(e) ((void)sizeof(!(e)))
#endif
#if IVM_DEBUG_LEVEL >= 2
#define IVM_EXPENSIVE(e) IVM_CHECK(e)
#else
#define IVM_EXPENSIVE(e) ((void)sizeof(!(e)))
#endif

/* Lock / unlock a mutex; a failure is an OS bug or corrupt memory. */
#define ivm_mutex_lock(m)                                                 \
	((void)(pthread_mutex_lock(m) == 0 ||                             \
		(ivm_die("pthread_mutex_lock failed"), 0)))
#define ivm_mutex_unlock(m)                                               \
	((void)(pthread_mutex_unlock(m) == 0 ||                           \
		(ivm_die("pthread_mutex_unlock failed"), 0)))

#define IVM_PAGE_MASK ((uint64_t)IVM_PAGE_SIZE - 1)

static inline bool ivm_page_aligned(uint64_t x)
{
	return (x & IVM_PAGE_MASK) == 0;
}

/* The logical addresses of count buffers that each lie within one page,
 * buffer i's page at page i of the mapping at la (ivm_map_buffers, a slot
 * map): its page plus the buffer's offset in its own page. */
static inline void ivm_buffer_iovas(ivm_la la, const uint64_t *addrs,
				    uint32_t count, ivm_la *iovas_out)
{
	for (uint32_t i = 0; i < count; i++, la += IVM_PAGE_SIZE)
		iovas_out[i] = la + (addrs[i] & IVM_PAGE_MASK);
}

/* Smallest order with (1 << order) >= n; n >= 1. */
static inline unsigned ivm_order_ceil(uint64_t n)
{
	return n <= 1 ? 0 : 64u - (unsigned)__builtin_clzll(n - 1);
}

#endif /* IVM_UTIL_H */
