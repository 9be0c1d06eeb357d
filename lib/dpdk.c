/* SPDX-License-Identifier: MIT */
/*
 * dpdk.c - the DPDK adapter (iovamap/dpdk.h): mempools mapped into a
 * domain, per-segment maps for strict per-packet use, memzones (a
 * device's rings) mapped at DPDK's own IOVAs, and external memory
 * registered with DPDK at iovamap's addresses.
 *
 * This file is its own shared library (libiovamap-dpdk), linked against
 * libiovamap and DPDK's EAL, mempool, mbuf and ethdev, so that programs
 * that do not use DPDK never load them.  It uses iovamap's public calls,
 * plus what libiovamap exports for it alone (lib/util.h):
 * ivm_set_status_detail, ivm_unmap_logical_range_of (the segment and
 * burst unmaps), ivm_map_buffers (the burst map) and the slot sets
 * ivm_slots_* (a transmit queue's own slots).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_memory.h>
#include <rte_memzone.h>
#include <rte_mempool.h>

#include "iovamap/dpdk.h"
#include "util.h"

/* A broken promise of iovamap or DPDK (an unmap of what this file mapped
 * failing): print and abort, as libiovamap's ivm_die does. */
__attribute__((format(printf, 1, 2), cold)) _Noreturn static void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("iovamap-dpdk: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

#define PAGE_MASK ((uintptr_t)IVM_PAGE_SIZE - 1)

static uintptr_t page_down(uintptr_t a)
{
	return a & ~PAGE_MASK;
}

static uintptr_t page_up(uintptr_t a)
{
	return (a + PAGE_MASK) & ~PAGE_MASK;
}

/* The detail, for calls that fail without one of their own: "" (status.h:
 * after a failed call the detail is that call's or ""). */
static void detail_reset(void)
{
	ivm_set_status_detail("%s", "");
}

static ivm_status refuse(ivm_status status)
{
	detail_reset();
	return status;
}

static bool perms_ok(uint32_t permissions)
{
	return permissions != 0 && (permissions & ~IVM_PERM_MASK) == 0;
}

/* One memory chunk of a mapped pool. */
struct pool_chunk {
	uintptr_t va;           /* memhdr->addr */
	size_t len;             /* memhdr->len */
	ivm_la la;              /* logical address of va */
	rte_iova_t dpdk_iova;   /* memhdr->iova before the map */
	struct rte_mempool_memhdr *hdr;
};

struct ivm_dpdk_pool {
	struct ivm_domain *domain;
	struct rte_mempool *mp;
	struct ivm_dpdk_pool_info info;
	uint32_t nchunks;
	struct pool_chunk chunk[]; /* sorted by va */
};

/* The chunk that holds va, or NULL. */
static const struct pool_chunk *find_chunk(const struct ivm_dpdk_pool *pool,
					   uintptr_t va)
{
	uint32_t lo = 0, hi = pool->nchunks;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct pool_chunk *c = &pool->chunk[mid];

		if (va < c->va)
			hi = mid;
		else if (va - c->va >= c->len)
			lo = mid + 1;
		else
			return c;
	}
	return NULL;
}

static int chunk_cmp(const void *a, const void *b)
{
	const struct pool_chunk *x = a, *y = b;

	return (x->va > y->va) - (x->va < y->va);
}

struct collect {
	struct ivm_dpdk_pool *pool;
	uint32_t capacity;
};

static void collect_chunk(struct rte_mempool *mp, void *opaque,
			  struct rte_mempool_memhdr *hdr, unsigned int idx)
{
	struct collect *c = opaque;
	struct pool_chunk *ch;

	if (c->pool->nchunks == c->capacity)
		return; /* cannot happen: nb_mem_chunks counted them */
	ch = &c->pool->chunk[c->pool->nchunks++];
	ch->va = (uintptr_t)hdr->addr;
	ch->len = hdr->len;
	ch->dpdk_iova = hdr->iova;
	ch->hdr = hdr;
}

static void chunk_bounds(const struct pool_chunk *c, uintptr_t *start,
			 size_t *size)
{
	*start = page_down(c->va);
	*size = page_up(c->va + c->len) - *start;
}

static void unmap_chunks(struct ivm_dpdk_pool *pool, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct pool_chunk *c = &pool->chunk[i];
		uintptr_t start;
		size_t size;

		chunk_bounds(c, &start, &size);
		if (ivm_unmap_logical_range(pool->domain,
					    c->la - (c->va - start),
					    size / IVM_PAGE_SIZE) !=
		    IVM_STATUS_SUCCESS)
			die("unmapping a pool chunk failed");
	}
}

/*
 * A packet-mbuf pool, as rte_pktmbuf_pool_create and rte_pktmbuf_init make
 * it: the pool's private area is a struct rte_pktmbuf_pool_private, and a
 * direct mbuf's buffer starts right after its own private area.
 */
static bool is_pktmbuf_pool(const struct rte_mempool *mp)
{
	return mp->private_data_size >= sizeof(struct rte_pktmbuf_pool_private) &&
	       mp->elt_size >= sizeof(struct rte_mbuf) +
				       rte_pktmbuf_priv_size((struct rte_mempool *)mp);
}

struct rewrite {
	struct ivm_dpdk_pool *pool;
	bool to_iovamap;  /* false: back to DPDK's addresses */
	bool mbufs;
	size_t mbuf_hdr;  /* sizeof(struct rte_mbuf) + private area */
};

static void rewrite_obj(struct rte_mempool *mp, void *opaque, void *obj,
			unsigned int idx)
{
	struct rewrite *rw = opaque;
	const struct pool_chunk *c = find_chunk(rw->pool, (uintptr_t)obj);
	struct rte_mempool_objhdr *hdr =
		(struct rte_mempool_objhdr *)((char *)obj - sizeof(*hdr));
	rte_iova_t iova;

	if (c == NULL)
		die("mempool object %p is in none of its chunks", obj);
	if (rw->to_iovamap)
		iova = c->la + ((uintptr_t)obj - c->va);
	else if (c->dpdk_iova == RTE_BAD_IOVA)
		iova = RTE_BAD_IOVA;
	else
		iova = c->dpdk_iova + ((uintptr_t)obj - c->va);
	hdr->iova = iova;
	rw->pool->info.objects++;
	if (rw->mbufs) {
		struct rte_mbuf *m = obj;

		/* An mbuf attached to an external or another mbuf's buffer
		 * keeps that buffer's address. */
		if (m->buf_addr == (char *)obj + rw->mbuf_hdr) {
			m->buf_iova = iova + rw->mbuf_hdr;
			rw->pool->info.mbufs++;
		}
	}
}

static void rewrite_pool(struct ivm_dpdk_pool *pool, bool to_iovamap)
{
	struct rewrite rw = {
		.pool = pool,
		.to_iovamap = to_iovamap,
		.mbufs = is_pktmbuf_pool(pool->mp),
	};

	if (rw.mbufs)
		rw.mbuf_hdr = sizeof(struct rte_mbuf) +
			      rte_pktmbuf_priv_size(pool->mp);
	pool->info.objects = 0;
	pool->info.mbufs = 0;
	for (uint32_t i = 0; i < pool->nchunks; i++) {
		struct pool_chunk *c = &pool->chunk[i];

		c->hdr->iova = to_iovamap ? c->la : c->dpdk_iova;
	}
	rte_mempool_obj_iter(pool->mp, rewrite_obj, &rw);
}

IVM_API ivm_status ivm_dpdk_pool_map(struct ivm_domain *domain,
				     struct rte_mempool *mp,
				     uint32_t permissions,
				     struct ivm_dpdk_pool **out)
{
	struct ivm_dpdk_pool *pool;
	struct collect col;
	ivm_status st = IVM_STATUS_SUCCESS;
	uint32_t mapped;

	detail_reset();

	if (domain == NULL || mp == NULL || out == NULL ||
	    !perms_ok(permissions))
		return IVM_STATUS_INVALID_PARAMETER;
	if (mp->nb_mem_chunks == 0) {
		ivm_set_status_detail("mempool %s has no memory", mp->name);
		return IVM_STATUS_INVALID_PARAMETER;
	}
	pool = calloc(1, sizeof(*pool) +
			     mp->nb_mem_chunks * sizeof(pool->chunk[0]));
	if (pool == NULL)
		return IVM_STATUS_INSUFFICIENT_RESOURCES;
	pool->domain = domain;
	pool->mp = mp;
	col = (struct collect){ .pool = pool, .capacity = mp->nb_mem_chunks };
	rte_mempool_mem_iter(mp, collect_chunk, &col);
	qsort(pool->chunk, pool->nchunks, sizeof(pool->chunk[0]), chunk_cmp);

	for (mapped = 0; mapped < pool->nchunks; mapped++) {
		struct pool_chunk *c = &pool->chunk[mapped];
		struct ivm_phys phys = { .type = IVM_PHYS_BUFFER };
		uintptr_t start;
		ivm_la la;

		chunk_bounds(c, &start, &phys.buffer.size);
		phys.buffer.va = (void *)start;
		st = ivm_map_logical_range_ex(domain, permissions, &phys, NULL,
					      NULL, NULL, &la);
		if (st != IVM_STATUS_SUCCESS)
			break;
		c->la = la + (c->va - start);
		pool->info.mapped_bytes += phys.buffer.size;
	}
	if (st != IVM_STATUS_SUCCESS) {
		/* The unmaps leave the map's detail as it is (status.h). */
		unmap_chunks(pool, mapped);
		free(pool);
		return st;
	}
	pool->info.chunks = pool->nchunks;
	rewrite_pool(pool, true);
	*out = pool;
	return IVM_STATUS_SUCCESS;
}

IVM_API void ivm_dpdk_pool_unmap(struct ivm_dpdk_pool **poolp)
{
	struct ivm_dpdk_pool *pool;

	if (poolp == NULL || *poolp == NULL)
		return;
	pool = *poolp;
	*poolp = NULL;
	/* DPDK's addresses first: no object names an address that is about
	 * to go back to the allocator. */
	rewrite_pool(pool, false);
	unmap_chunks(pool, pool->nchunks);
	free(pool);
}

IVM_API ivm_status ivm_dpdk_pool_info(const struct ivm_dpdk_pool *pool,
				      struct ivm_dpdk_pool_info *out)
{
	if (pool == NULL || out == NULL)
		return refuse(IVM_STATUS_INVALID_PARAMETER);
	*out = pool->info;
	return IVM_STATUS_SUCCESS;
}

IVM_API ivm_status ivm_dpdk_pool_iova(const struct ivm_dpdk_pool *pool,
				      const void *va, ivm_la *iova_out,
				      size_t *contiguous_out)
{
	const struct pool_chunk *c;

	if (pool == NULL || iova_out == NULL)
		return refuse(IVM_STATUS_INVALID_PARAMETER);
	c = find_chunk(pool, (uintptr_t)va);
	if (c == NULL)
		return refuse(IVM_STATUS_INVALID_PARAMETER);
	*iova_out = c->la + ((uintptr_t)va - c->va);
	if (contiguous_out != NULL)
		*contiguous_out = c->len - ((uintptr_t)va - c->va);
	return IVM_STATUS_SUCCESS;
}

/* ---- strict per-packet ---------------------------------------------- */

static uintptr_t seg_data(const struct rte_mbuf *seg)
{
	return (uintptr_t)seg->buf_addr + seg->data_off;
}

IVM_API ivm_status ivm_dpdk_seg_map(struct ivm_domain *domain,
				    const struct rte_mbuf *seg,
				    uint32_t permissions, ivm_la *iova_out)
{
	struct ivm_phys phys = { .type = IVM_PHYS_BUFFER };
	uintptr_t data, start;
	ivm_la la;
	ivm_status st;

	if (domain == NULL || seg == NULL || iova_out == NULL ||
	    seg->data_len == 0 || !perms_ok(permissions))
		return refuse(IVM_STATUS_INVALID_PARAMETER);
	data = seg_data(seg);
	start = page_down(data);
	phys.buffer.va = (void *)start;
	phys.buffer.size = page_up(data + seg->data_len) - start;
	st = ivm_map_logical_range_ex(domain, permissions, &phys, NULL, NULL,
				      NULL, &la);
	if (st == IVM_STATUS_SUCCESS)
		*iova_out = la + (data - start);
	return st;
}

IVM_API ivm_status ivm_dpdk_seg_unmap(struct ivm_domain *domain,
				      const struct rte_mbuf *seg,
				      ivm_la iova)
{
	uintptr_t data, offset;

	if (domain == NULL || seg == NULL || seg->data_len == 0)
		return refuse(IVM_STATUS_INVALID_PARAMETER);
	data = seg_data(seg);
	offset = data & PAGE_MASK;
	/* The address must be the one seg_map gave for this very segment:
	 * another segment's would unmap a buffer its device still owns.  As
	 * in the burst unmap, the core takes the one mapping of the
	 * segment's pages at iova only if its first and last pages map the
	 * segment's first and last pages, checked under its claim. */
	if ((iova & PAGE_MASK) != offset ||
	    ivm_unmap_logical_range_of(domain, iova - offset,
				       (offset + seg->data_len + PAGE_MASK) /
					       IVM_PAGE_SIZE,
				       page_down(data),
				       page_down(data + seg->data_len - 1)) !=
		    IVM_STATUS_SUCCESS)
		return refuse(IVM_STATUS_INVALID_PARAMETER);
	return IVM_STATUS_SUCCESS;
}

/* ---- strict per-packet, a burst at a time ------------------------------- */

/*
 * The pages a burst of segments touches, in segment order, each listed
 * once where a segment starts in the page the previous one ended in.
 * pfns[k] receives the k-th page's frame (its address >> 12: a buffer's
 * "physical" address is its virtual one, as for IVM_PHYS_BUFFER; pfns has
 * room for one more than IVM_DPDK_BURST_MAX_PAGES), offs[i] the offset of
 * segment i's first data byte from the burst's first logical address.
 * Returns the page count, or 0 for a NULL segment, an empty one, or more
 * than IVM_DPDK_BURST_MAX_PAGES pages.
 *
 * Whether a segment shares its predecessor's page is as good as random,
 * so that decision is arithmetic, not a branch: the frame is always
 * written, the count moves on only for a new page.
 */
static uint32_t layout_shared(struct rte_mbuf *const segs[], uint16_t n,
			      uint64_t *pfns, ivm_la *offs)
{
	uint64_t prev_end = UINT64_MAX; /* no page's frame number */
	uint32_t pages = 0;

	for (uint16_t i = 0; i < n; i++) {
		const struct rte_mbuf *m = segs[i];

		if (m == NULL || m->data_len == 0)
			return 0;
		uint64_t data = seg_data(m);
		uint64_t first = data >> IVM_PAGE_SHIFT;
		uint64_t end = (data + m->data_len - 1) >> IVM_PAGE_SHIFT;

		pfns[pages] = first;
		pages += first != prev_end;
		offs[i] = (ivm_la)(pages - 1) * IVM_PAGE_SIZE + (data & PAGE_MASK);
		if (ivm_unlikely(end != first)) {
			/* Data across a page boundary. */
			if (end - first > IVM_DPDK_BURST_MAX_PAGES - pages)
				return 0;
			for (uint64_t p = first + 1; p <= end; p++)
				pfns[pages++] = p;
		}
		if (pages > IVM_DPDK_BURST_MAX_PAGES)
			return 0;
		prev_end = end;
	}
	return pages;
}

/*
 * The common layout: where every segment's data lies within one page
 * (small packets: nearly all of them), segment i gets page i of its own
 * (ivm_map_buffers).  A pool hands its mbufs out of a per-lcore cache in
 * no address order, so a burst's neighbours rarely share a page
 * (iovamap-bench-pmd's bursts: 32 pages for 32 segments), and the fixed
 * layout takes no decision per segment and carries no count from one
 * segment to the next.  Two logical pages may then map one frame, which
 * exposes nothing more.  addrs[i] receives segment i's first data byte.
 * Returns false for a NULL segment, an empty one, or one whose data
 * crosses a page: layout_shared then decides.
 */
static bool layout_in_page(struct rte_mbuf *const segs[], uint16_t n,
			   uint64_t *addrs)
{
	uint64_t spill = 0;

#pragma GCC unroll 4
	for (uint16_t i = 0; i < n; i++) {
		const struct rte_mbuf *m = segs[i];

		if (m == NULL)
			return false;
		uint64_t data = seg_data(m);
		uint64_t len = m->data_len;

		/* Past the page's end, or empty (len - 1 wraps). */
		spill |= ((data & PAGE_MASK) + len - 1) | (len - 1);
		addrs[i] = data;
	}
	return (spill >> IVM_PAGE_SHIFT) == 0;
}

/* The burst in the page-sharing layout, as one frame-array map. */
static ivm_status map_shared(struct ivm_domain *domain,
			     struct rte_mbuf *const segs[], uint16_t n,
			     uint32_t permissions, ivm_la iovas_out[],
			     uint32_t *pages_out, ivm_la *la_out)
{
	uint64_t pfns[IVM_DPDK_BURST_MAX_PAGES + 1]; /* layout_shared */
	ivm_la offs[IVM_DPDK_BURST_MAX];
	struct ivm_phys phys = { .type = IVM_PHYS_PFN_ARRAY };
	uint32_t pages = layout_shared(segs, n, pfns, offs);
	ivm_la la;
	ivm_status st;

	if (pages == 0)
		return refuse(IVM_STATUS_INVALID_PARAMETER);
	phys.pfn_array.pfns = pfns;
	phys.pfn_array.count = pages;
	st = ivm_map_logical_range_ex(domain, permissions, &phys, NULL, NULL,
				      NULL, &la);
	if (st != IVM_STATUS_SUCCESS)
		return st;
	for (uint16_t i = 0; i < n; i++)
		iovas_out[i] = la + offs[i];
	*pages_out = pages;
	*la_out = la;
	return IVM_STATUS_SUCCESS;
}

/* A transmit queue's own slots (ivm_dpdk_txq_*): the core's slot set
 * and its range, read by every unmap to tell its bursts from the
 * fallback's. */
struct ivm_dpdk_txq {
	struct ivm_domain *domain;
	struct ivm_slots *slots;
	ivm_la base, end;       /* the slots' logical range */
	uint32_t slot_pages;
	uint64_t slot_maps;     /* owner: bursts mapped in a slot */
	uint64_t fallback_maps; /* owner: bursts mapped through the allocator */
};

_Static_assert(IVM_DPDK_BURST_MAX <= IVM_DPDK_BURST_MAX_PAGES,
	       "layout_in_page: a page per segment fits");

/* ivm_dpdk_burst_map, and with txq ivm_dpdk_txq_map: a burst in the
 * page-per-segment layout goes to txq's next slot when it fits and the
 * slot is free, else (and without txq) through the allocator.  Inlined
 * into each: the burst map's copy keeps no test of txq. */
static inline __attribute__((always_inline)) ivm_status
burst_map(struct ivm_domain *domain, struct ivm_dpdk_txq *txq,
	  struct rte_mbuf *const segs[], uint16_t n, uint32_t permissions,
	  ivm_la iovas_out[], struct ivm_dpdk_burst *burst_out)
{
	uint64_t addrs[IVM_DPDK_BURST_MAX];
	uint32_t pages = n;
	ivm_la la;
	ivm_status st;

	if (domain == NULL || segs == NULL || n == 0 ||
	    n > IVM_DPDK_BURST_MAX || iovas_out == NULL || burst_out == NULL ||
	    !perms_ok(permissions))
		return refuse(IVM_STATUS_INVALID_PARAMETER);
	if (ivm_likely(layout_in_page(segs, n, addrs))) {
		/* The slot map refuses only a slot still waiting for its
		 * invalidation (its arguments are checked above). */
		if (txq != NULL && n <= txq->slot_pages &&
		    ivm_slots_map(txq->slots, permissions, addrs, n, iovas_out,
				  &la) == IVM_STATUS_SUCCESS) {
			txq->slot_maps++;
			st = IVM_STATUS_SUCCESS;
		} else {
			st = ivm_map_buffers(domain, permissions, addrs, n,
					     iovas_out, &la);
		}
	} else {
		st = map_shared(domain, segs, n, permissions, iovas_out,
				&pages, &la);
	}
	if (st != IVM_STATUS_SUCCESS)
		return st;
	if (txq != NULL && (la < txq->base || la >= txq->end))
		txq->fallback_maps++;
	burst_out->la = la;
	burst_out->last = iovas_out[n - 1];
	burst_out->pages = pages;
	burst_out->count = n;
	return IVM_STATUS_SUCCESS;
}

IVM_API ivm_status ivm_dpdk_burst_map(struct ivm_domain *domain,
				      struct rte_mbuf *const segs[],
				      uint16_t n, uint32_t permissions,
				      ivm_la iovas_out[],
				      struct ivm_dpdk_burst *burst_out)
{
	return burst_map(domain, NULL, segs, n, permissions, iovas_out,
			 burst_out);
}

/* ivm_dpdk_burst_unmap, and with txq ivm_dpdk_txq_unmap: the handle
 * checked against the segments, then the burst's mapping taken back from
 * txq's slots if it lies there, else from the allocator's space (inlined
 * into each, as burst_map). */
static inline __attribute__((always_inline)) ivm_status
burst_unmap(struct ivm_domain *domain, const struct ivm_dpdk_txq *txq,
	    struct rte_mbuf *const segs[], uint16_t n,
	    const struct ivm_dpdk_burst *burst)
{
	const struct rte_mbuf *first, *last;
	ivm_status st;

	if (domain == NULL || segs == NULL || burst == NULL || n == 0 ||
	    n != burst->count || segs[0] == NULL || segs[n - 1] == NULL ||
	    segs[n - 1]->data_len == 0)
		return refuse(IVM_STATUS_INVALID_PARAMETER);
	first = segs[0];
	last = segs[n - 1];
	uintptr_t last_end = seg_data(last) + last->data_len - 1;
	/* The mapping must be the one burst_map made for these segments:
	 * another burst's would unmap buffers its device still owns.  The
	 * handle's last address must sit where the last segment's data does
	 * in its page, and that data end in the burst's last page; the core
	 * then takes exactly the one mapping of burst->pages pages at
	 * burst->la, only if its first page maps the first segment's page
	 * and its last page the page of the last segment's last byte, both
	 * checked under its claim (a record gone stale, its addresses reused
	 * by another burst meanwhile, cannot pass). */
	if ((burst->last & PAGE_MASK) != (seg_data(last) & PAGE_MASK) ||
	    (burst->last + last->data_len - 1) / IVM_PAGE_SIZE !=
		    burst->la / IVM_PAGE_SIZE + burst->pages - 1)
		return refuse(IVM_STATUS_INVALID_PARAMETER);
	if (txq != NULL && burst->la >= txq->base && burst->la < txq->end)
		st = ivm_slots_unmap(txq->slots, burst->la, burst->pages,
				     page_down(seg_data(first)),
				     page_down(last_end));
	else
		st = ivm_unmap_logical_range_of(domain, burst->la,
						burst->pages,
						page_down(seg_data(first)),
						page_down(last_end));
	if (st != IVM_STATUS_SUCCESS)
		return refuse(IVM_STATUS_INVALID_PARAMETER);
	return IVM_STATUS_SUCCESS;
}

IVM_API ivm_status ivm_dpdk_burst_unmap(struct ivm_domain *domain,
					struct rte_mbuf *const segs[],
					uint16_t n,
					const struct ivm_dpdk_burst *burst)
{
	return burst_unmap(domain, NULL, segs, n, burst);
}

/* ---- a transmit queue's own slots ----------------------------------- */

IVM_API ivm_status ivm_dpdk_txq_create(struct ivm_domain *domain,
				       uint32_t bursts, uint32_t burst_pages,
				       struct ivm_dpdk_txq **txq_out)
{
	struct ivm_slots *slots;
	struct ivm_dpdk_txq *txq;
	ivm_status st;

	if (domain == NULL || txq_out == NULL)
		return refuse(IVM_STATUS_INVALID_PARAMETER);
	if (bursts == 0)
		bursts = IVM_DPDK_TXQ_BURSTS_DEFAULT;
	if (burst_pages == 0)
		burst_pages = IVM_DPDK_TXQ_BURST_PAGES_DEFAULT;
	/* The queue lives in the set's own allocation: a set the domain
	 * frees (destroyed first) takes the queue along, nothing leaks. */
	st = ivm_slots_create(domain, burst_pages, bursts, sizeof(*txq),
			      &slots);
	if (st == IVM_STATUS_INVALID_PARAMETER_1 ||
	    st == IVM_STATUS_INVALID_PARAMETER_2 ||
	    st == IVM_STATUS_INVALID_PARAMETER_3)
		return refuse(IVM_STATUS_INVALID_PARAMETER); /* the core's
								 numbering */
	if (st != IVM_STATUS_SUCCESS)
		return st;
	txq = ivm_slots_priv(slots);
	txq->domain = domain;
	txq->slots = slots;
	ivm_slots_range(slots, &txq->base, &txq->end, &txq->slot_pages);
	*txq_out = txq;
	return IVM_STATUS_SUCCESS;
}

IVM_API ivm_status ivm_dpdk_txq_map(struct ivm_dpdk_txq *txq,
				    struct rte_mbuf *const segs[], uint16_t n,
				    uint32_t permissions, ivm_la iovas_out[],
				    struct ivm_dpdk_burst *burst_out)
{
	if (txq == NULL)
		return refuse(IVM_STATUS_INVALID_PARAMETER);
	return burst_map(txq->domain, txq, segs, n, permissions, iovas_out,
			 burst_out);
}

IVM_API ivm_status ivm_dpdk_txq_unmap(struct ivm_dpdk_txq *txq,
				      struct rte_mbuf *const segs[],
				      uint16_t n,
				      const struct ivm_dpdk_burst *burst)
{
	if (txq == NULL)
		return refuse(IVM_STATUS_INVALID_PARAMETER);
	return burst_unmap(txq->domain, txq, segs, n, burst);
}

IVM_API ivm_status ivm_dpdk_txq_info(const struct ivm_dpdk_txq *txq,
				     struct ivm_dpdk_txq_info *info)
{
	if (txq == NULL || info == NULL)
		return refuse(IVM_STATUS_INVALID_PARAMETER);
	info->base = txq->base;
	info->size = txq->end - txq->base;
	info->burst_pages = txq->slot_pages;
	info->slot_maps = txq->slot_maps;
	info->fallback_maps = txq->fallback_maps;
	return IVM_STATUS_SUCCESS;
}

IVM_API ivm_status ivm_dpdk_txq_destroy(struct ivm_dpdk_txq **txqp)
{
	struct ivm_slots *slots;
	ivm_status st;

	if (txqp == NULL || *txqp == NULL)
		return IVM_STATUS_SUCCESS;
	slots = (*txqp)->slots;
	st = ivm_slots_destroy(&slots); /* frees *txqp too */
	if (st != IVM_STATUS_SUCCESS)
		return st;
	*txqp = NULL;
	return IVM_STATUS_SUCCESS;
}

/* ---- memzones at their DPDK IOVAs ----------------------------------- */

/* One page of a matching memzone. */
struct zone_page {
	rte_iova_t iova;
	uintptr_t va;
	const char *zone; /* its memzone's name, for the status detail */
};

/* One mapping: pages contiguous in both IOVA and virtual address. */
struct zone_range {
	ivm_la la;
	uint64_t pages;
};

struct ivm_dpdk_zones {
	struct ivm_domain *domain;
	struct ivm_dpdk_zones_info info;
	struct zone_range range[]; /* info.ranges of them */
};

struct zone_walk {
	const char *prefix;
	size_t prefix_len;
	struct zone_page *page;
	size_t pages, capacity;
	uint32_t zones;
	const char *no_iova; /* a zone with a page DPDK gave no IOVA */
	bool no_memory;
};

static bool walk_add_page(struct zone_walk *w, const struct rte_memzone *mz,
			  uintptr_t va)
{
	const struct rte_memseg *ms;

	ms = rte_mem_virt2memseg((void *)va,
				 rte_mem_virt2memseg_list((void *)va));
	if (ms == NULL || ms->iova == RTE_BAD_IOVA) {
		w->no_iova = mz->name;
		return false;
	}
	if (w->pages == w->capacity) {
		size_t cap = w->capacity ? 2 * w->capacity : 64;
		struct zone_page *p = realloc(w->page, cap * sizeof(*p));

		if (p == NULL) {
			w->no_memory = true;
			return false;
		}
		w->page = p;
		w->capacity = cap;
	}
	w->page[w->pages++] = (struct zone_page){
		.iova = ms->iova + (va - (uintptr_t)ms->addr),
		.va = va,
		.zone = mz->name,
	};
	return true;
}

/* rte_memzone_walk's callback: every page of a zone whose name matches. */
static void collect_zone(const struct rte_memzone *mz, void *arg)
{
	struct zone_walk *w = arg;
	uintptr_t end = page_up((uintptr_t)mz->addr + mz->len);

	if (w->no_iova != NULL || w->no_memory ||
	    strncmp(mz->name, w->prefix, w->prefix_len) != 0)
		return;
	w->zones++;
	for (uintptr_t va = page_down((uintptr_t)mz->addr); va < end;
	     va += IVM_PAGE_SIZE)
		if (!walk_add_page(w, mz, va))
			return;
}

static int zone_page_cmp(const void *a, const void *b)
{
	const struct zone_page *x = a, *y = b;

	if (x->iova != y->iova)
		return x->iova < y->iova ? -1 : 1;
	return (x->va > y->va) - (x->va < y->va);
}

/* Sort the pages by IOVA and drop a page two zones share; a page that
 * differs from its neighbour at one IOVA is refused (false). */
static bool zone_pages_unique(struct zone_walk *w)
{
	size_t kept = 0;

	qsort(w->page, w->pages, sizeof(w->page[0]), zone_page_cmp);
	for (size_t k = 0; k < w->pages; k++) {
		const struct zone_page *p = &w->page[k];

		if (kept > 0 && w->page[kept - 1].iova == p->iova) {
			if (w->page[kept - 1].va == p->va)
				continue;
			ivm_set_status_detail("memzones %s and %s: two pages "
					      "at IOVA 0x%" PRIx64,
					      w->page[kept - 1].zone, p->zone,
					      (uint64_t)p->iova);
			return false;
		}
		w->page[kept++] = *p;
	}
	w->pages = kept;
	return true;
}

/* Whether page k starts a new mapping (it does not follow page k - 1 in
 * both IOVA and virtual address). */
static bool zone_run_starts(const struct zone_walk *w, size_t k)
{
	return k == 0 ||
	       w->page[k].iova != w->page[k - 1].iova + IVM_PAGE_SIZE ||
	       w->page[k].va != w->page[k - 1].va + IVM_PAGE_SIZE;
}

static void unmap_zone_ranges(struct ivm_dpdk_zones *z, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (ivm_unmap_logical_range(z->domain, z->range[i].la,
					    z->range[i].pages) !=
		    IVM_STATUS_SUCCESS)
			die("unmapping a memzone range failed");
}

/* Map the walk's unique pages, a run at a time, into z (sized for them). */
static ivm_status map_zone_ranges(struct ivm_dpdk_zones *z,
				  const struct zone_walk *w,
				  uint32_t permissions)
{
	size_t k = 0;

	while (k < w->pages) {
		const struct zone_page *first = &w->page[k];
		struct ivm_phys phys = { .type = IVM_PHYS_BUFFER };
		ivm_la la = first->iova, out;
		ivm_status st;
		size_t n = 1;

		while (k + n < w->pages && !zone_run_starts(w, k + n))
			n++;
		phys.buffer.va = (void *)first->va;
		phys.buffer.size = n * IVM_PAGE_SIZE;
		st = ivm_map_logical_range_ex(z->domain, permissions, &phys,
					      &la, NULL, NULL, &out);
		if (st != IVM_STATUS_SUCCESS) {
			/* The map's own detail, if any, into ours (a copy:
			 * the detail is the buffer ours is written to). */
			char why[256];

			snprintf(why, sizeof(why), "%s", ivm_status_detail());
			unmap_zone_ranges(z, z->info.ranges);
			ivm_set_status_detail("memzone %s: %zu pages at IOVA "
					      "0x%" PRIx64 ": %s%s%s",
					      first->zone, n, (uint64_t)la,
					      ivm_status_name(st),
					      why[0] ? ": " : "", why);
			return st;
		}
		z->range[z->info.ranges++] = (struct zone_range){ la, n };
		z->info.mapped_bytes += n * IVM_PAGE_SIZE;
		k += n;
	}
	return IVM_STATUS_SUCCESS;
}

IVM_API ivm_status ivm_dpdk_zones_map(struct ivm_domain *domain,
				      const char *prefix, uint32_t permissions,
				      struct ivm_dpdk_zones **out)
{
	struct zone_walk w = { .prefix = prefix };
	struct ivm_dpdk_zones *z = NULL;
	ivm_status st = IVM_STATUS_INVALID_PARAMETER;
	uint32_t runs = 0;

	detail_reset();

	if (domain == NULL || prefix == NULL || out == NULL ||
	    !perms_ok(permissions))
		return IVM_STATUS_INVALID_PARAMETER;
	w.prefix_len = strlen(prefix);
	rte_memzone_walk(collect_zone, &w);
	if (w.no_memory) {
		st = IVM_STATUS_INSUFFICIENT_RESOURCES;
		goto out;
	}
	if (w.no_iova != NULL) {
		ivm_set_status_detail("memzone %s: a page without a DPDK IOVA",
				      w.no_iova);
		goto out;
	}
	if (w.pages == 0) {
		ivm_set_status_detail("no memzone named %s*", prefix);
		goto out;
	}
	if (!zone_pages_unique(&w))
		goto out;
	for (size_t k = 0; k < w.pages; k++)
		runs += zone_run_starts(&w, k);
	z = calloc(1, sizeof(*z) + runs * sizeof(z->range[0]));
	if (z == NULL) {
		st = IVM_STATUS_INSUFFICIENT_RESOURCES;
		goto out;
	}
	z->domain = domain;
	z->info.zones = w.zones;
	st = map_zone_ranges(z, &w, permissions);
	if (st == IVM_STATUS_SUCCESS) {
		*out = z;
		z = NULL;
	}
out:
	free(z);
	free(w.page);
	return st;
}

IVM_API void ivm_dpdk_zones_unmap(struct ivm_dpdk_zones **zonesp)
{
	if (zonesp == NULL || *zonesp == NULL)
		return;
	unmap_zone_ranges(*zonesp, (*zonesp)->info.ranges);
	free(*zonesp);
	*zonesp = NULL;
}

IVM_API ivm_status ivm_dpdk_zones_info(const struct ivm_dpdk_zones *zones,
				       struct ivm_dpdk_zones_info *out)
{
	if (zones == NULL || out == NULL)
		return refuse(IVM_STATUS_INVALID_PARAMETER);
	*out = zones->info;
	return IVM_STATUS_SUCCESS;
}

/* ---- external memory -------------------------------------------------- */

struct ivm_dpdk_extmem {
	struct ivm_domain *domain;
	void *va;
	size_t len;
	ivm_la la;
	struct rte_device *dev; /* NULL: no rte_dev_dma_map */
};

/* DPDK's reason (rte_errno) as an iovamap status, with the detail. */
static ivm_status dpdk_refused(const char *call, const char *what)
{
	int err = rte_errno;

	ivm_set_status_detail("%s(%s): %s", call, what, rte_strerror(err));
	switch (err) {
	case ENOTSUP:
	case ENODEV: /* the bus's VFIO container has no IOMMU: the device is
		      * attached to an iovamap VFIO domain, not to DPDK's */
		return IVM_STATUS_NOT_SUPPORTED;
	case ENOMEM:
	case ENOSPC:
		return IVM_STATUS_INSUFFICIENT_RESOURCES;
	default:
		return IVM_STATUS_INVALID_PARAMETER;
	}
}

/* The rte_device of the ethdev port whose device is named name. */
static struct rte_device *find_device(const char *name)
{
	uint16_t port;

	RTE_ETH_FOREACH_DEV(port) {
		struct rte_eth_dev_info info;

		if (rte_eth_dev_info_get(port, &info) == 0 &&
		    info.device != NULL &&
		    strcmp(rte_dev_name(info.device), name) == 0)
			return info.device;
	}
	return NULL;
}

IVM_API ivm_status ivm_dpdk_extmem_map(struct ivm_domain *domain, void *va,
				       size_t len, size_t page_sz,
				       uint32_t permissions,
				       const char *device_name,
				       struct ivm_dpdk_extmem **out)
{
	struct ivm_phys phys = { .type = IVM_PHYS_BUFFER };
	struct ivm_dpdk_extmem *ext;
	struct rte_device *dev = NULL;
	rte_iova_t *iovas;
	size_t n_pages;
	ivm_status st;

	detail_reset();

	if (domain == NULL || va == NULL || out == NULL ||
	    !perms_ok(permissions) || page_sz < IVM_PAGE_SIZE ||
	    (page_sz & (page_sz - 1)) != 0 ||
	    ((uintptr_t)va & (page_sz - 1)) != 0 || len == 0 ||
	    len % page_sz != 0 || len / page_sz > UINT32_MAX)
		return IVM_STATUS_INVALID_PARAMETER;
	/* DPDK's own memory: rte_extmem_register only looks for overlap with
	 * other external memory, and its lookups would keep finding the
	 * heap's memseg, so the registration would have no effect. */
	if (rte_mem_virt2memseg_list(va) != NULL ||
	    rte_mem_virt2memseg_list((char *)va + len - 1) != NULL) {
		ivm_set_status_detail("%p+%zu is memory DPDK already knows", va,
				      len);
		return IVM_STATUS_INVALID_PARAMETER;
	}
	if (device_name != NULL) {
		dev = find_device(device_name);
		if (dev == NULL) {
			ivm_set_status_detail("no DPDK device named %s",
					      device_name);
			return IVM_STATUS_INVALID_PARAMETER;
		}
		/* rte_dev_dma_map has no permissions: DPDK's VFIO path maps
		 * read and write.  A narrower domain mapping would promise
		 * what the device's own mapping does not keep. */
		if (permissions != (IVM_PERM_READ | IVM_PERM_WRITE)) {
			ivm_set_status_detail("rte_dev_dma_map maps %s for "
					      "reading and writing only",
					      device_name);
			return IVM_STATUS_NOT_SUPPORTED;
		}
	}
	n_pages = len / page_sz;
	ext = calloc(1, sizeof(*ext));
	iovas = calloc(n_pages, sizeof(*iovas));
	if (ext == NULL || iovas == NULL) {
		free(ext);
		free(iovas);
		return IVM_STATUS_INSUFFICIENT_RESOURCES;
	}
	phys.buffer.va = va;
	phys.buffer.size = len;
	st = ivm_map_logical_range_ex(domain, permissions, &phys, NULL, NULL,
				      NULL, &ext->la);
	if (st != IVM_STATUS_SUCCESS)
		goto fail_free;
	for (size_t i = 0; i < n_pages; i++)
		iovas[i] = ext->la + i * page_sz;
	if (rte_extmem_register(va, len, iovas, (unsigned int)n_pages,
				page_sz) != 0) {
		st = dpdk_refused("rte_extmem_register", "");
		goto fail_unmap;
	}
	if (dev != NULL && rte_dev_dma_map(dev, va, ext->la, len) != 0) {
		st = dpdk_refused("rte_dev_dma_map", device_name);
		rte_extmem_unregister(va, len);
		goto fail_unmap;
	}
	free(iovas);
	ext->domain = domain;
	ext->va = va;
	ext->len = len;
	ext->dev = dev;
	*out = ext;
	return IVM_STATUS_SUCCESS;

fail_unmap:
	/* The unmap leaves the refusal's detail as it is (status.h). */
	if (ivm_unmap_logical_range(domain, ext->la, len / IVM_PAGE_SIZE) !=
	    IVM_STATUS_SUCCESS)
		die("unmapping external memory failed");
fail_free:
	free(iovas);
	free(ext);
	return st;
}

IVM_API ivm_la ivm_dpdk_extmem_iova(const struct ivm_dpdk_extmem *ext)
{
	return ext != NULL ? ext->la : IVM_DPDK_BAD_IOVA;
}

IVM_API void ivm_dpdk_extmem_unmap(struct ivm_dpdk_extmem **extp)
{
	struct ivm_dpdk_extmem *ext;

	if (extp == NULL || *extp == NULL)
		return;
	ext = *extp;
	*extp = NULL;
	if (ext->dev != NULL &&
	    rte_dev_dma_unmap(ext->dev, ext->va, ext->la, ext->len) != 0)
		die("rte_dev_dma_unmap: %s", rte_strerror(rte_errno));
	if (rte_extmem_unregister(ext->va, ext->len) != 0)
		die("rte_extmem_unregister: %s", rte_strerror(rte_errno));
	if (ivm_unmap_logical_range(ext->domain, ext->la,
				    ext->len / IVM_PAGE_SIZE) !=
	    IVM_STATUS_SUCCESS)
		die("unmapping external memory failed");
	free(ext);
}
