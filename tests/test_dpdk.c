/* SPDX-License-Identifier: MIT */
/*
 * test_dpdk.c - the DPDK adapter (iovamap/dpdk.h) on the host: DPDK's EAL
 * without huge pages or PCI, a net_null virtual device, and software
 * IOMMU domains.  The software model takes a buffer's virtual address as
 * its physical address, so ivm_translate() of an address the adapter
 * handed out must give back the very bytes DPDK's mbuf points at.  It runs
 * under ASan and TSan too (scripts/test.sh), EAL included.  The real
 * device's side (edu DMA through the adapter's addresses) is the VM suite's
 * vm_dpdk.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_memory.h>
#include <rte_memzone.h>
#include <rte_mempool.h>

#include "iovamap/dpdk.h"
#include "iovamap/iovamap.h"

#include "check.h"

#define NB_MBUF 1023u

static struct ivm_domain *make_domain(uint32_t width, bool allocator,
				      enum ivm_flush_mode mode)
{
	struct ivm_allocator_config buddy = {
		.type = IVM_ALLOCATOR_BUDDY, .address_width = width };
	struct ivm_domain_config cfg = {
		.allocator = allocator ? &buddy : NULL,
		.flush_mode = mode,
	};
	struct ivm_domain *d = NULL;

	if (ivm_domain_create(&cfg, &d) != IVM_STATUS_SUCCESS) {
		fprintf(stderr, "domain create failed\n");
		abort();
	}
	return d;
}

static uint64_t live_mappings(struct ivm_domain *d)
{
	struct ivm_domain_stats st;

	if (ivm_domain_get_stats(d, &st) != IVM_STATUS_SUCCESS)
		abort();
	return st.mappings;
}

/* The IOVA every object and mbuf of mp has, to compare before and after. */
struct snapshot {
	unsigned n;
	rte_iova_t obj[NB_MBUF];
	rte_iova_t buf[NB_MBUF];
};

static void snap_obj(struct rte_mempool *mp, void *arg, void *obj,
		     unsigned idx)
{
	struct snapshot *s = arg;
	struct rte_mbuf *m = obj;

	s->obj[idx] = rte_mempool_virt2iova(obj);
	s->buf[idx] = m->buf_iova;
	s->n++;
}

static void snapshot(struct rte_mempool *mp, struct snapshot *s)
{
	s->n = 0;
	rte_mempool_obj_iter(mp, snap_obj, s);
}

static bool same_snapshot(const struct snapshot *a, const struct snapshot *b)
{
	return a->n == b->n &&
	       memcmp(a->obj, b->obj, a->n * sizeof(a->obj[0])) == 0 &&
	       memcmp(a->buf, b->buf, a->n * sizeof(a->buf[0])) == 0;
}

static struct rte_mempool *make_pool(const char *name)
{
	struct rte_mempool *mp = rte_pktmbuf_pool_create(
		name, NB_MBUF, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);

	if (mp == NULL) {
		fprintf(stderr, "rte_pktmbuf_pool_create: %s\n",
			rte_strerror(rte_errno));
		abort();
	}
	return mp;
}

/* Every mbuf's buffer, and every object, translates to its own bytes. */
struct walk {
	struct ivm_domain *d;
	unsigned bad_buf, bad_obj, n;
};

static void check_obj(struct rte_mempool *mp, void *arg, void *obj,
		      unsigned idx)
{
	struct walk *w = arg;
	struct rte_mbuf *m = obj;
	uint64_t pa = 0;
	uint32_t perm = 0;

	w->n++;
	if (ivm_translate(w->d, m->buf_iova, &pa, &perm) !=
		    IVM_STATUS_SUCCESS ||
	    pa != (uintptr_t)m->buf_addr ||
	    perm != (IVM_PERM_READ | IVM_PERM_WRITE))
		w->bad_buf++;
	/* The last byte of the data room too (it may sit on the next page). */
	if (ivm_translate(w->d, m->buf_iova + m->buf_len - 1, &pa, NULL) !=
		    IVM_STATUS_SUCCESS ||
	    pa != (uintptr_t)m->buf_addr + m->buf_len - 1)
		w->bad_buf++;
	if (ivm_translate(w->d, rte_mempool_virt2iova(obj), &pa, NULL) !=
		    IVM_STATUS_SUCCESS ||
	    pa != (uintptr_t)obj)
		w->bad_obj++;
}

IVM_TEST(pool_map_rewrites_every_address_and_unmap_restores_them)
{
	struct ivm_domain *d = make_domain(39, true, IVM_FLUSH_LAZY);
	struct rte_mempool *mp = make_pool("pool_rw");
	static struct snapshot before, mapped, after;
	struct ivm_dpdk_pool *pool = NULL;
	struct ivm_dpdk_pool_info info;
	struct walk w = { .d = d };
	struct rte_mbuf *m;
	ivm_la la;
	size_t contig;

	snapshot(mp, &before);
	CHECK_STATUS(ivm_dpdk_pool_map(d, mp, IVM_PERM_READ | IVM_PERM_WRITE,
				       &pool),
		     IVM_STATUS_SUCCESS);
	CHECK(pool != NULL);
	CHECK_STATUS(ivm_dpdk_pool_info(pool, &info), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(info.chunks, mp->nb_mem_chunks);
	CHECK_EQ_U64(info.objects, NB_MBUF);
	CHECK_EQ_U64(info.mbufs, NB_MBUF);
	CHECK(info.mapped_bytes >= (uint64_t)NB_MBUF * mp->elt_size);
	CHECK_EQ_U64(live_mappings(d), info.chunks);

	rte_mempool_obj_iter(mp, check_obj, &w);
	CHECK_EQ_U64(w.n, NB_MBUF);
	CHECK_EQ_U64(w.bad_buf, 0);
	CHECK_EQ_U64(w.bad_obj, 0);
	snapshot(mp, &mapped);
	CHECK(mapped.buf[0] != before.buf[0]);

	/* An mbuf taken from the pool carries the rewritten address; the
	 * data IOVA a PMD writes into a descriptor reaches its data. */
	m = rte_pktmbuf_alloc(mp);
	CHECK(m != NULL);
	if (m != NULL) {
		uint64_t pa = 0;

		CHECK_STATUS(ivm_translate(d, rte_mbuf_data_iova(m), &pa, NULL),
			     IVM_STATUS_SUCCESS);
		CHECK_EQ_U64(pa, (uintptr_t)rte_pktmbuf_mtod(m, char *));
		CHECK_STATUS(ivm_dpdk_pool_iova(pool, m, &la, &contig),
			     IVM_STATUS_SUCCESS);
		CHECK_EQ_U64(la, rte_mempool_virt2iova(m));
		CHECK(contig >= mp->elt_size);
		rte_pktmbuf_free(m);
	}
	CHECK_STATUS(ivm_dpdk_pool_iova(pool, &la, &la, NULL),
		     IVM_STATUS_INVALID_PARAMETER);

	ivm_dpdk_pool_unmap(&pool);
	CHECK(pool == NULL);
	ivm_dpdk_pool_unmap(&pool); /* NULL: nothing */
	snapshot(mp, &after);
	CHECK(same_snapshot(&before, &after));
	CHECK_STATUS(ivm_flush_domain(d), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(live_mappings(d), 0);
	CHECK_STATUS(ivm_translate(d, mapped.buf[0], &(uint64_t){ 0 }, NULL),
		     IVM_STATUS_INVALID_PARAMETER_2);

	rte_mempool_free(mp);
	ivm_domain_destroy(&d);
}

IVM_TEST(pool_map_bad_input_changes_nothing)
{
	struct ivm_domain *d = make_domain(39, true, IVM_FLUSH_LAZY);
	struct ivm_domain *noalloc = make_domain(39, false, IVM_FLUSH_LAZY);
	/* 16 pages of logical space cannot hold the pool's memory. */
	struct ivm_domain *tiny = make_domain(16, true, IVM_FLUSH_STRICT);
	struct rte_mempool *mp = make_pool("pool_bad");
	struct rte_mempool *empty = rte_mempool_create_empty(
		"pool_empty", 63, 256, 0, 0, SOCKET_ID_ANY, 0);
	static struct snapshot before, after;
	struct ivm_dpdk_pool *pool = NULL;
	const uint32_t rw = IVM_PERM_READ | IVM_PERM_WRITE;

	snapshot(mp, &before);
	CHECK_STATUS(ivm_dpdk_pool_map(NULL, mp, rw, &pool),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_pool_map(d, NULL, rw, &pool),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_pool_map(d, mp, rw, NULL),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_pool_map(d, mp, 0, &pool),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_pool_map(d, mp, 4, &pool),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK(empty != NULL);
	if (empty != NULL)
		CHECK_STATUS(ivm_dpdk_pool_map(d, empty, rw, &pool),
			     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_pool_map(noalloc, mp, rw, &pool),
		     IVM_STATUS_NOT_SUPPORTED);
	CHECK(ivm_dpdk_pool_map(tiny, mp, rw, &pool) != IVM_STATUS_SUCCESS);
	CHECK(pool == NULL);
	snapshot(mp, &after);
	CHECK(same_snapshot(&before, &after));
	CHECK_EQ_U64(live_mappings(d), 0);
	CHECK_EQ_U64(live_mappings(noalloc), 0);
	CHECK_EQ_U64(live_mappings(tiny), 0);
	CHECK_STATUS(ivm_dpdk_pool_info(NULL, &(struct ivm_dpdk_pool_info){ 0 }),
		     IVM_STATUS_INVALID_PARAMETER);

	rte_mempool_free(empty);
	rte_mempool_free(mp);
	ivm_domain_destroy(&tiny);
	ivm_domain_destroy(&noalloc);
	ivm_domain_destroy(&d);
}

/* A pool whose chunks are many and small: each is mapped on its own, and
 * a failure part way leaves none of them mapped. */
IVM_TEST(pool_of_many_chunks_maps_all_or_nothing)
{
	struct ivm_domain *d = make_domain(39, true, IVM_FLUSH_LAZY);
	const unsigned n = 64;
	/* Chunks of 3 pages (a few ~1 KiB objects each); at most n of them. */
	const size_t piece = 3 * 4096, mem_len = n * piece + 4096;
	struct rte_mempool *mp = rte_mempool_create_empty(
		"pool_chunks", n, 1000, 0, 0, SOCKET_ID_ANY, 0);
	char *mem = mmap(NULL, mem_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct ivm_dpdk_pool *pool = NULL;
	struct ivm_dpdk_pool_info info;
	struct ivm_domain *small;

	CHECK(mp != NULL && mem != MAP_FAILED);
	if (mp == NULL || mem == MAP_FAILED)
		return;
	CHECK(rte_mempool_set_ops_byname(mp, "ring_mp_mc", NULL) == 0);
	/* Chunks of 3 pages + 100 bytes, one after another: neighbours
	 * share a page, each is mapped as the pages that hold it. */
	for (unsigned i = 0; mp->populated_size < n && i < n; i++)
		CHECK(rte_mempool_populate_virt(mp, mem + i * piece + 100,
						piece, 4096, NULL, NULL) > 0);
	CHECK_EQ_U64(mp->populated_size, n);
	CHECK_STATUS(ivm_dpdk_pool_map(d, mp, IVM_PERM_READ, &pool),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_dpdk_pool_info(pool, &info), IVM_STATUS_SUCCESS);
	CHECK(info.chunks > 1);
	CHECK_EQ_U64(info.chunks, mp->nb_mem_chunks);
	CHECK_EQ_U64(info.objects, n);
	CHECK_EQ_U64(info.mbufs, 0); /* not a packet-mbuf pool */
	CHECK_EQ_U64(live_mappings(d), info.chunks);
	/* Objects (not mbufs): only the object address is checked. */
	for (unsigned i = 0; i < 4; i++) {
		void *obj;
		uint64_t pa = 0;
		uint32_t perm = 0;

		if (rte_mempool_get(mp, &obj) != 0) {
			CHECK(false);
			break;
		}
		CHECK_STATUS(ivm_translate(d, rte_mempool_virt2iova(obj), &pa,
					   &perm),
			     IVM_STATUS_SUCCESS);
		CHECK_EQ_U64(pa, (uintptr_t)obj);
		CHECK_EQ_U64(perm, IVM_PERM_READ);
		rte_mempool_put(mp, obj);
	}
	ivm_dpdk_pool_unmap(&pool);
	CHECK_STATUS(ivm_flush_domain(d), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(live_mappings(d), 0);

	/* 15-bit width: eight pages of logical space, room for two of the
	 * 4-page chunks; the ones mapped before the failing one are undone. */
	CHECK(info.chunks > 2);
	small = make_domain(15, true, IVM_FLUSH_STRICT);
	CHECK(ivm_dpdk_pool_map(small, mp, IVM_PERM_READ, &pool) !=
	      IVM_STATUS_SUCCESS);
	CHECK(pool == NULL);
	CHECK_EQ_U64(live_mappings(small), 0);
	ivm_domain_destroy(&small);

	rte_mempool_free(mp);
	munmap(mem, mem_len);
	ivm_domain_destroy(&d);
}

/* An mbuf of mp with 64 bytes of data starting at page offset off (its
 * data_off moved there), or NULL. */
static struct rte_mbuf *mbuf_at_offset(struct rte_mempool *mp, uintptr_t off)
{
	struct rte_mbuf *found = NULL, *spare[64];
	unsigned nspare = 0;

	while (nspare < 64 && (spare[nspare] = rte_pktmbuf_alloc(mp)) != NULL) {
		struct rte_mbuf *c = spare[nspare++];
		uintptr_t delta = (off - rte_pktmbuf_mtod(c, uintptr_t)) & 4095;

		if (delta + 64 <= (uintptr_t)(c->buf_len - c->data_off)) {
			c->data_off = (uint16_t)(c->data_off + delta);
			found = c;
			nspare--;
			break;
		}
	}
	rte_pktmbuf_free_bulk(spare, nspare);
	if (found != NULL && rte_pktmbuf_append(found, 64) == NULL) {
		rte_pktmbuf_free(found);
		found = NULL;
	}
	return found;
}

IVM_TEST(segment_map_and_unmap)
{
	struct ivm_domain *d = make_domain(39, true, IVM_FLUSH_LAZY);
	struct rte_mempool *mp = make_pool("pool_seg");
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	ivm_la la = 0;
	uint64_t pa = 0;
	uint32_t perm = 0;

	CHECK(m != NULL);
	if (m == NULL)
		return;
	CHECK_STATUS(ivm_dpdk_seg_map(d, m, IVM_PERM_READ, &la),
		     IVM_STATUS_INVALID_PARAMETER); /* data_len 0 */
	CHECK(rte_pktmbuf_append(m, 1500) != NULL);
	CHECK_STATUS(ivm_dpdk_seg_map(NULL, m, IVM_PERM_READ, &la),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_seg_map(d, m, 0, &la),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_seg_map(d, m, 8, &la),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_seg_map(d, m, IVM_PERM_READ, NULL),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_EQ_U64(live_mappings(d), 0);

	/* Data that crosses a page boundary: both pages, in order. */
	uintptr_t data = (uintptr_t)rte_pktmbuf_mtod(m, char *);
	uint16_t off = (uint16_t)(4096 - (data & 4095) - 8);
	if (off < m->buf_len - m->data_off - 1500) {
		m->data_off = (uint16_t)(m->data_off + off);
		data += off;
	}
	CHECK_STATUS(ivm_dpdk_seg_map(d, m, IVM_PERM_READ, &la),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(la & 4095, data & 4095);
	CHECK_STATUS(ivm_translate(d, la, &pa, &perm), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(pa, data);
	CHECK_EQ_U64(perm, IVM_PERM_READ);
	CHECK_STATUS(ivm_translate(d, la + 1499, &pa, NULL),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(pa, data + 1499);
	CHECK_EQ_U64(live_mappings(d), 1);

	CHECK_STATUS(ivm_dpdk_seg_unmap(d, m, la + 1),
		     IVM_STATUS_INVALID_PARAMETER);
	/* Another segment's address, at the same offset in its page: refused,
	 * both mappings stay. */
	struct rte_mbuf *m2 = mbuf_at_offset(mp, data & 4095);
	ivm_la la2 = 0;

	CHECK(m2 != NULL);
	if (m2 != NULL) {
		CHECK_STATUS(ivm_dpdk_seg_map(d, m2, IVM_PERM_READ, &la2),
			     IVM_STATUS_SUCCESS);
		CHECK_STATUS(ivm_dpdk_seg_unmap(d, m, la2),
			     IVM_STATUS_INVALID_PARAMETER);
		CHECK_STATUS(ivm_dpdk_seg_unmap(d, m2, la),
			     IVM_STATUS_INVALID_PARAMETER);
		CHECK_EQ_U64(live_mappings(d), 2);
		CHECK_STATUS(ivm_dpdk_seg_unmap(d, m2, la2), IVM_STATUS_SUCCESS);
		rte_pktmbuf_free(m2);
	}
	CHECK_STATUS(ivm_dpdk_seg_unmap(d, NULL, la),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_EQ_U64(live_mappings(d), 1);
	CHECK_STATUS(ivm_dpdk_seg_unmap(d, m, la), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(live_mappings(d), 0);
	CHECK_STATUS(ivm_translate(d, la, &pa, NULL),
		     IVM_STATUS_INVALID_PARAMETER_2);
	/* Twice: the mapping is gone. */
	CHECK(ivm_dpdk_seg_unmap(d, m, la) != IVM_STATUS_SUCCESS);

	/* A stale address: x's, after the flush gave it back, now maps y,
	 * whose data sits at the same page offset (the allocator hands the
	 * last block freed out first).  x with its old address is refused:
	 * the page there is y's. */
	struct rte_mbuf *x = rte_pktmbuf_alloc(mp), *y = NULL;
	ivm_la lx = 0, ly = 0;

	if (x != NULL && rte_pktmbuf_append(x, 64) != NULL)
		y = mbuf_at_offset(mp, rte_pktmbuf_mtod(x, uintptr_t) & 4095);
	CHECK(y != NULL);
	if (y != NULL) {
		CHECK_STATUS(ivm_flush_domain(d), IVM_STATUS_SUCCESS);
		CHECK_STATUS(ivm_dpdk_seg_map(d, x, IVM_PERM_READ, &lx),
			     IVM_STATUS_SUCCESS);
		CHECK_STATUS(ivm_dpdk_seg_unmap(d, x, lx), IVM_STATUS_SUCCESS);
		CHECK_STATUS(ivm_flush_domain(d), IVM_STATUS_SUCCESS);
		CHECK_STATUS(ivm_dpdk_seg_map(d, y, IVM_PERM_READ, &ly),
			     IVM_STATUS_SUCCESS);
		CHECK_EQ_U64(ly, lx);
		CHECK_STATUS(ivm_dpdk_seg_unmap(d, x, lx),
			     IVM_STATUS_INVALID_PARAMETER);
		CHECK_EQ_U64(live_mappings(d), 1);
		CHECK_STATUS(ivm_translate(d, ly, &pa, NULL),
			     IVM_STATUS_SUCCESS);
		CHECK_EQ_U64(pa, rte_pktmbuf_mtod(y, uintptr_t));
		CHECK_STATUS(ivm_dpdk_seg_unmap(d, y, ly), IVM_STATUS_SUCCESS);
		CHECK_EQ_U64(live_mappings(d), 0);
	}
	rte_pktmbuf_free(x);
	rte_pktmbuf_free(y);
	rte_pktmbuf_free(m);
	CHECK_STATUS(ivm_flush_domain(d), IVM_STATUS_SUCCESS);
	rte_mempool_free(mp);
	ivm_domain_destroy(&d);
}

/* A segment header the adapter reads (buf_addr, data_off, data_len) for
 * data at `data`, which need not come from a pool. */
static void fake_seg(struct rte_mbuf *m, char *data, uint16_t len)
{
	memset(m, 0, sizeof(*m));
	m->buf_addr = data - 64;
	m->data_off = 64;
	m->data_len = len;
}

/* Every byte of segment m, first to last, translates to its data through
 * the addresses from iova on, with permissions perm. */
static bool seg_translates(struct ivm_domain *d, const struct rte_mbuf *m,
			   ivm_la iova, uint32_t perm)
{
	uintptr_t data = rte_pktmbuf_mtod(m, uintptr_t);

	for (uint32_t off = 0; off < m->data_len;
	     off = off + 4096 < m->data_len ? off + 4096 : m->data_len) {
		/* Each page of the data, and its last byte. */
		uint64_t pa = 0;
		uint32_t got = 0;
		uint32_t at = off + 4096 < m->data_len ? off : m->data_len - 1u;

		if (ivm_translate(d, iova + at, &pa, &got) != IVM_STATUS_SUCCESS ||
		    pa != data + at || got != perm)
			return false;
		if (at == m->data_len - 1u)
			break;
	}
	return true;
}

/* Six hand-placed segments in a 16-page buffer, for the layout tests. */
struct layout_case {
	struct ivm_domain *d;
	char *mem;
	struct rte_mbuf m[6];
	struct rte_mbuf *segs[6];
	ivm_la iova[6];
	struct ivm_dpdk_burst b;
};

static bool layout_case_init(struct layout_case *c)
{
	c->d = make_domain(39, true, IVM_FLUSH_LAZY);
	c->mem = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (int i = 0; i < 6; i++)
		c->segs[i] = &c->m[i];
	return c->mem != MAP_FAILED;
}

/* Its six segments as one read-only burst, and that burst's unmap. */
static ivm_status layout_map(struct layout_case *c)
{
	return ivm_dpdk_burst_map(c->d, c->segs, 6, IVM_PERM_READ, c->iova,
				  &c->b);
}

static ivm_status layout_unmap(struct layout_case *c)
{
	return ivm_dpdk_burst_unmap(c->d, c->segs, 6, &c->b);
}

static void layout_case_fini(struct layout_case *c)
{
	munmap(c->mem, 16 * 4096);
	ivm_domain_destroy(&c->d);
}

/*
 * A burst's layout where segments cross pages, placed by hand in a
 * 16-page buffer: pages shared by neighbours are listed once, a page met
 * again later (not next to its first use) once more, and a segment across
 * pages is contiguous in logical space.
 */
IVM_TEST(burst_layout_and_translation)
{
	struct layout_case c;

	CHECK(layout_case_init(&c));
	fake_seg(&c.m[0], c.mem + 100, 100);            /* page 0 */
	fake_seg(&c.m[1], c.mem + 300, 100);            /* page 0: shared */
	fake_seg(&c.m[2], c.mem + 4000, 200);           /* pages 0-1 */
	fake_seg(&c.m[3], c.mem + 4300, 50);            /* page 1: shared */
	fake_seg(&c.m[4], c.mem + 3 * 4096 + 10, 8192); /* pages 3, 4, 5 */
	fake_seg(&c.m[5], c.mem + 4096 + 5, 60);        /* page 1, not next */
	CHECK_STATUS(layout_map(&c), IVM_STATUS_SUCCESS);
	/* Pages 0, 1 | 3, 4, 5 | 1. */
	CHECK_EQ_U64(c.b.pages, 6);
	CHECK_EQ_U64(c.b.count, 6);
	CHECK_EQ_U64(c.b.last, c.iova[5]);
	CHECK_EQ_U64(c.iova[0], c.b.la + 100);
	CHECK_EQ_U64(c.iova[1], c.b.la + 300);
	CHECK_EQ_U64(c.iova[2], c.b.la + 4000);
	CHECK_EQ_U64(c.iova[3], c.b.la + 4096 + 4300 - 4096);
	CHECK_EQ_U64(c.iova[4], c.b.la + 2 * 4096 + 10);
	CHECK_EQ_U64(c.iova[5], c.b.la + 5 * 4096 + 5);
	for (int i = 0; i < 6; i++)
		CHECK(seg_translates(c.d, &c.m[i], c.iova[i], IVM_PERM_READ));
	CHECK_EQ_U64(live_mappings(c.d), 1);
	/* Nothing past the burst's pages. */
	uint64_t pa;
	CHECK_STATUS(ivm_translate(c.d, c.b.la + 6 * 4096, &pa, NULL),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(layout_unmap(&c),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(live_mappings(c.d), 0);
	CHECK_STATUS(ivm_translate(c.d, c.iova[0], &pa, NULL),
		     IVM_STATUS_INVALID_PARAMETER_2);

	/* The most pages a burst takes, and one page more: 16 segments of
	 * 16 pages (65535 bytes from a page start), apart from each other. */
	enum { NH = IVM_DPDK_BURST_MAX_PAGES / 16 };
	size_t huge_len = (size_t)(NH + 1) * 17 * 4096;
	char *huge = mmap(NULL, huge_len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct rte_mbuf h[NH + 1], *hs[NH + 1];
	ivm_la hiova[NH + 1];

	CHECK(huge != MAP_FAILED);
	for (unsigned i = 0; i <= NH; i++) {
		fake_seg(&h[i], huge + (size_t)i * 17 * 4096, 65535);
		hs[i] = &h[i];
	}
	CHECK_STATUS(ivm_dpdk_burst_map(c.d, hs, NH, IVM_PERM_WRITE, hiova,
					&c.b),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(c.b.pages, IVM_DPDK_BURST_MAX_PAGES);
	for (unsigned i = 0; i < NH; i++) {
		CHECK_EQ_U64(hiova[i], c.b.la + (uint64_t)i * 16 * 4096);
		CHECK(seg_translates(c.d, &h[i], hiova[i], IVM_PERM_WRITE));
	}
	CHECK_STATUS(ivm_dpdk_burst_unmap(c.d, hs, NH, &c.b),
		     IVM_STATUS_SUCCESS);
	/* One more page (a byte of the next segment): refused, nothing
	 * mapped, the outputs untouched. */
	h[NH].data_len = 1;
	memset(hiova, 0xa5, sizeof(hiova));
	struct ivm_dpdk_burst before;
	memset(&c.b, 0x5a, sizeof(c.b));
	before = c.b;
	CHECK_STATUS(ivm_dpdk_burst_map(c.d, hs, NH + 1, IVM_PERM_WRITE, hiova,
					&c.b),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK(memcmp(&c.b, &before, sizeof(c.b)) == 0);
	for (unsigned i = 0; i <= NH; i++)
		CHECK_EQ_U64(hiova[i], 0xa5a5a5a5a5a5a5a5ull);
	CHECK_EQ_U64(live_mappings(c.d), 0);

	munmap(huge, huge_len);
	layout_case_fini(&c);
}

/*
 * Where no segment crosses a page, segment i has logical page i of its
 * own, shared page or not; one byte across a page gives the whole burst
 * the shared layout; an empty segment is refused on either path.
 */
IVM_TEST(burst_layout_page_per_segment)
{
	struct layout_case c;
	uint64_t pa;

	CHECK(layout_case_init(&c));
	fake_seg(&c.m[0], c.mem + 100, 100);            /* page 0 */
	fake_seg(&c.m[1], c.mem + 300, 100);            /* page 0 again */
	fake_seg(&c.m[2], c.mem + 2 * 4096, 4096);      /* all of page 2 */
	fake_seg(&c.m[3], c.mem + 3 * 4096 + 4000, 96); /* page 3's end */
	fake_seg(&c.m[4], c.mem + 4096 + 5, 60);        /* page 1 */
	fake_seg(&c.m[5], c.mem + 4096 + 200, 10);      /* page 1 again */
	CHECK_STATUS(layout_map(&c), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(c.b.pages, 6);
	CHECK_EQ_U64(c.b.last, c.iova[5]);
	for (int i = 0; i < 6; i++) {
		uintptr_t data = rte_pktmbuf_mtod(&c.m[i], uintptr_t);

		CHECK_EQ_U64(c.iova[i],
			     c.b.la + (uint64_t)i * 4096 + (data & 4095));
		CHECK(seg_translates(c.d, &c.m[i], c.iova[i], IVM_PERM_READ));
	}
	CHECK_STATUS(ivm_translate(c.d, c.b.la + 6 * 4096, &pa, NULL),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(layout_unmap(&c),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(live_mappings(c.d), 0);

	/* An empty segment among ones that fit their pages: refused,
	 * nothing mapped, the outputs untouched. */
	struct ivm_dpdk_burst before;
	memset(&c.b, 0x5a, sizeof(c.b));
	before = c.b;
	memset(c.iova, 0xa5, sizeof(c.iova));
	c.m[4].data_len = 0;
	CHECK_STATUS(layout_map(&c), IVM_STATUS_INVALID_PARAMETER);
	CHECK(memcmp(&c.b, &before, sizeof(c.b)) == 0);
	CHECK_EQ_U64(c.iova[0], 0xa5a5a5a5a5a5a5a5ull);
	CHECK_EQ_U64(live_mappings(c.d), 0);
	c.m[4].data_len = 60;

	/* One byte more for segment 3 crosses into page 4: the shared
	 * layout, pages 0 | 2 | 3, 4 | 1. */
	c.m[3].data_len = 97;
	CHECK_STATUS(layout_map(&c), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(c.b.pages, 5);
	CHECK_EQ_U64(c.iova[0], c.b.la + 100);
	CHECK_EQ_U64(c.iova[1], c.b.la + 300);
	CHECK_EQ_U64(c.iova[2], c.b.la + 4096);
	CHECK_EQ_U64(c.iova[3], c.b.la + 2 * 4096 + 4000);
	CHECK_EQ_U64(c.iova[4], c.b.la + 4 * 4096 + 5);
	CHECK_EQ_U64(c.iova[5], c.b.la + 4 * 4096 + 200);
	for (int i = 0; i < 6; i++)
		CHECK(seg_translates(c.d, &c.m[i], c.iova[i], IVM_PERM_READ));
	CHECK_STATUS(layout_unmap(&c),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(live_mappings(c.d), 0);

	layout_case_fini(&c);
}

/* A burst of a pool's mbufs: bad input changes nothing; an unmap must
 * name the burst of these very segments. */
IVM_TEST(burst_map_and_unmap)
{
	struct ivm_domain *d = make_domain(39, true, IVM_FLUSH_LAZY);
	struct rte_mempool *mp = make_pool("pool_burst");
	struct rte_mbuf *a[32], *c[32];
	ivm_la ia[32], ic[32];
	struct ivm_dpdk_burst ba, bc, bad;
	uint64_t pa;

	CHECK(rte_pktmbuf_alloc_bulk(mp, a, 32) == 0);
	CHECK(rte_pktmbuf_alloc_bulk(mp, c, 32) == 0);
	for (int i = 0; i < 32; i++) {
		/* 60 .. 1514 bytes: some cross a page. */
		CHECK(rte_pktmbuf_append(a[i], (uint16_t)(60 + i * 47)) != NULL);
		CHECK(rte_pktmbuf_append(c[i], 64) != NULL);
	}

	/* Bad input: INVALID_PARAMETER, nothing mapped. */
	CHECK_STATUS(ivm_dpdk_burst_map(NULL, a, 32, IVM_PERM_READ, ia, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_burst_map(d, NULL, 32, IVM_PERM_READ, ia, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_burst_map(d, a, 0, IVM_PERM_READ, ia, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_burst_map(d, a, IVM_DPDK_BURST_MAX + 1,
					IVM_PERM_READ, ia, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_burst_map(d, a, 32, 0, ia, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_burst_map(d, a, 32, 8, ia, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_burst_map(d, a, 32, IVM_PERM_READ, NULL, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_burst_map(d, a, 32, IVM_PERM_READ, ia, NULL),
		     IVM_STATUS_INVALID_PARAMETER);
	struct rte_mbuf *held = a[17];
	a[17] = NULL; /* a NULL segment in the middle */
	CHECK_STATUS(ivm_dpdk_burst_map(d, a, 32, IVM_PERM_READ, ia, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	a[17] = held;
	uint16_t len = a[31]->data_len;
	a[31]->data_len = 0; /* an empty last segment */
	CHECK_STATUS(ivm_dpdk_burst_map(d, a, 32, IVM_PERM_READ, ia, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	a[31]->data_len = len;
	CHECK_EQ_U64(live_mappings(d), 0);

	/* Two bursts: every segment translates, read-write. */
	uint32_t rw = IVM_PERM_READ | IVM_PERM_WRITE;
	CHECK_STATUS(ivm_dpdk_burst_map(d, a, 32, rw, ia, &ba),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_dpdk_burst_map(d, c, 32, rw, ic, &bc),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(live_mappings(d), 2);
	for (int i = 0; i < 32; i++) {
		CHECK(seg_translates(d, a[i], ia[i], rw));
		CHECK(seg_translates(d, c[i], ic[i], rw));
	}

	/* Unmaps that do not name these segments' burst: refused, both
	 * bursts stay. */
	CHECK_STATUS(ivm_dpdk_burst_unmap(NULL, a, 32, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_burst_unmap(d, NULL, 32, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_burst_unmap(d, a, 32, NULL),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_burst_unmap(d, a, 31, &ba),
		     IVM_STATUS_INVALID_PARAMETER); /* count */
	CHECK_STATUS(ivm_dpdk_burst_unmap(d, a, 32, &bc),
		     IVM_STATUS_INVALID_PARAMETER); /* the other burst */
	CHECK_STATUS(ivm_dpdk_burst_unmap(d, c, 32, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	bad = ba;
	bad.pages++; /* would take a neighbour along */
	CHECK_STATUS(ivm_dpdk_burst_unmap(d, a, 32, &bad),
		     IVM_STATUS_INVALID_PARAMETER);
	bad = ba;
	bad.last = ia[30];
	CHECK_STATUS(ivm_dpdk_burst_unmap(d, a, 32, &bad),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_EQ_U64(live_mappings(d), 2);
	CHECK(seg_translates(d, a[0], ia[0], rw));
	CHECK(seg_translates(d, c[31], ic[31], rw));

	CHECK_STATUS(ivm_dpdk_burst_unmap(d, a, 32, &ba), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_translate(d, ia[0], &pa, NULL),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK(seg_translates(d, c[0], ic[0], rw));
	/* Twice: the burst is gone. */
	CHECK(ivm_dpdk_burst_unmap(d, a, 32, &ba) != IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_dpdk_burst_unmap(d, c, 32, &bc), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(live_mappings(d), 0);

	/* A stale handle: burst a's addresses, after the flush gave them
	 * back, now hold burst c (the allocator hands the last block freed
	 * out first).  a's handle with a's segments is refused: the frames
	 * at c's first and last pages are c's. */
	CHECK_STATUS(ivm_flush_domain(d), IVM_STATUS_SUCCESS);
	for (int i = 0; i < 32; i++) {
		rte_pktmbuf_reset(a[i]);
		CHECK(rte_pktmbuf_append(a[i], 64) != NULL);
	}
	CHECK_STATUS(ivm_dpdk_burst_map(d, a, 32, rw, ia, &ba),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_dpdk_burst_unmap(d, a, 32, &ba), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_flush_domain(d), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_dpdk_burst_map(d, c, 32, rw, ic, &bc),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(bc.la, ba.la);
	CHECK_EQ_U64(bc.pages, ba.pages);
	CHECK_STATUS(ivm_dpdk_burst_unmap(d, a, 32, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK(seg_translates(d, c[0], ic[0], rw));
	CHECK(seg_translates(d, c[31], ic[31], rw));
	CHECK_STATUS(ivm_dpdk_burst_unmap(d, c, 32, &bc), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(live_mappings(d), 0);

	rte_pktmbuf_free_bulk(a, 32);
	rte_pktmbuf_free_bulk(c, 32);
	CHECK_STATUS(ivm_flush_domain(d), IVM_STATUS_SUCCESS);
	rte_mempool_free(mp);
	ivm_domain_destroy(&d);
}

/* A transmit queue's bursts translate like ivm_dpdk_burst_map's, lie in
 * its slots, and refuse what burst unmaps refuse. */
IVM_TEST(txq_maps_bursts_in_its_slots)
{
	struct ivm_domain *d = make_domain(39, true, IVM_FLUSH_LAZY);
	struct rte_mempool *mp = make_pool("pool_txq");
	struct rte_mbuf *a[32], *c[32], *big[33];
	ivm_la ia[32], ic[32], ib[33];
	struct ivm_dpdk_burst ba, bc, bb, bad;
	struct ivm_dpdk_txq *q = NULL;
	struct ivm_dpdk_txq_info info;
	uint32_t rw = IVM_PERM_READ | IVM_PERM_WRITE;

	/* Bad input: INVALID_PARAMETER (or NOT_SUPPORTED), nothing made. */
	CHECK_STATUS(ivm_dpdk_txq_create(NULL, 0, 0, &q),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_txq_create(d, 0, 0, NULL),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_txq_create(d, 3, 0, &q),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_txq_create(d, 0, 24, &q),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_txq_create(d, 0, 1024, &q),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_txq_create(d, 1u << 30, 512, &q),
		     IVM_STATUS_INVALID_PARAMETER); /* more than 2^39 bytes */
	struct ivm_domain *none = make_domain(39, false, IVM_FLUSH_LAZY);
	CHECK_STATUS(ivm_dpdk_txq_create(none, 0, 0, &q),
		     IVM_STATUS_NOT_SUPPORTED);
	ivm_domain_destroy(&none);
	struct ivm_domain_config pt_cfg = { .type = IVM_DOMAIN_PASSTHROUGH };
	CHECK_STATUS(ivm_domain_create(&pt_cfg, &none), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_dpdk_txq_create(none, 0, 0, &q),
		     IVM_STATUS_INVALID_PARAMETER);
	ivm_domain_destroy(&none);
	CHECK(q == NULL);
	struct ivm_domain_stats ds;
	CHECK_STATUS(ivm_domain_get_stats(d, &ds), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(ds.reservations, 0);
	CHECK_EQ_U64(ds.iova_used_pages, 0);

	CHECK_STATUS(ivm_dpdk_txq_create(d, 0, 0, &q), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_dpdk_txq_info(NULL, &info),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_txq_info(q, NULL), IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_txq_info(q, &info), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(info.size, (uint64_t)IVM_DPDK_TXQ_BURSTS_DEFAULT *
					IVM_DPDK_TXQ_BURST_PAGES_DEFAULT * 4096);
	CHECK_EQ_U64(info.burst_pages, IVM_DPDK_TXQ_BURST_PAGES_DEFAULT);

	CHECK(rte_pktmbuf_alloc_bulk(mp, a, 32) == 0);
	CHECK(rte_pktmbuf_alloc_bulk(mp, c, 32) == 0);
	CHECK(rte_pktmbuf_alloc_bulk(mp, big, 33) == 0);
	for (int i = 0; i < 32; i++) {
		CHECK(rte_pktmbuf_append(a[i], (uint16_t)(60 + i * 30)) != NULL);
		CHECK(rte_pktmbuf_append(c[i], 64) != NULL);
	}
	for (int i = 0; i < 33; i++)
		CHECK(rte_pktmbuf_append(big[i], 64) != NULL);

	/* Bad map input, as ivm_dpdk_burst_map's. */
	CHECK_STATUS(ivm_dpdk_txq_map(NULL, a, 32, rw, ia, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_txq_map(q, a, 0, rw, ia, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_txq_map(q, a, 32, 0, ia, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_txq_map(q, a, 32, rw, NULL, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	struct rte_mbuf *held = a[5];
	a[5] = NULL;
	CHECK_STATUS(ivm_dpdk_txq_map(q, a, 32, rw, ia, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	a[5] = held;
	CHECK_EQ_U64(live_mappings(d), 0);

	/* Two bursts in two slots, in order; a third too long for a slot
	 * goes through the allocator.  Every segment translates. */
	CHECK_STATUS(ivm_dpdk_txq_map(q, a, 32, rw, ia, &ba),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_dpdk_txq_map(q, c, 32, rw, ic, &bc),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_dpdk_txq_map(q, big, 33, rw, ib, &bb),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(ba.la, info.base);
	CHECK_EQ_U64(bc.la, info.base + 32 * 4096);
	CHECK(bb.la < info.base || bb.la >= info.base + info.size);
	CHECK_EQ_U64(ba.pages, 32);
	CHECK_EQ_U64(live_mappings(d), 3);
	for (int i = 0; i < 32; i++) {
		CHECK(seg_translates(d, a[i], ia[i], rw));
		CHECK(seg_translates(d, c[i], ic[i], rw));
		CHECK_EQ_U64(ia[i] & 4095,
			     rte_pktmbuf_mtod(a[i], uintptr_t) & 4095);
	}
	for (int i = 0; i < 33; i++)
		CHECK(seg_translates(d, big[i], ib[i], rw));
	CHECK_STATUS(ivm_dpdk_txq_info(q, &info), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(info.slot_maps, 2);
	CHECK_EQ_U64(info.fallback_maps, 1);

	/* Unmaps that do not name these segments' burst: refused, all
	 * three stay.  A slot burst is not the allocator's to unmap. */
	CHECK_STATUS(ivm_dpdk_txq_unmap(NULL, a, 32, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_txq_unmap(q, a, 32, &bc),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_txq_unmap(q, c, 32, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_txq_unmap(q, a, 31, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	bad = ba;
	bad.pages = 31;
	bad.last -= 4096;
	CHECK_STATUS(ivm_dpdk_txq_unmap(q, a, 32, &bad),
		     IVM_STATUS_INVALID_PARAMETER);
	bad = ba;
	bad.la += 4096; /* inside the slot, not its start */
	bad.last += 4096;
	CHECK_STATUS(ivm_dpdk_txq_unmap(q, a, 32, &bad),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_burst_unmap(d, a, 32, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_EQ_U64(live_mappings(d), 3);
	CHECK(seg_translates(d, a[0], ia[0], rw));
	CHECK(seg_translates(d, a[31], ia[31], rw));

	/* Destroying a queue with a burst in a slot: refused. */
	struct ivm_dpdk_txq *keep = q;
	CHECK_STATUS(ivm_dpdk_txq_destroy(&q), IVM_STATUS_IN_USE);
	CHECK(q == keep);

	CHECK_STATUS(ivm_dpdk_txq_unmap(q, a, 32, &ba), IVM_STATUS_SUCCESS);
	uint64_t pa;
	CHECK_STATUS(ivm_translate(d, ia[0], &pa, NULL),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK(seg_translates(d, c[0], ic[0], rw));
	/* Twice: the burst is gone. */
	CHECK_STATUS(ivm_dpdk_txq_unmap(q, a, 32, &ba),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_txq_unmap(q, c, 32, &bc), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_dpdk_txq_unmap(q, big, 33, &bb), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(live_mappings(d), 0);

	CHECK_STATUS(ivm_dpdk_txq_destroy(&q), IVM_STATUS_SUCCESS);
	CHECK(q == NULL);
	CHECK_STATUS(ivm_dpdk_txq_destroy(&q), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_flush_domain(d), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_domain_get_stats(d, &ds), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(ds.reservations, 0);
	CHECK_EQ_U64(ds.iova_used_pages - ds.iova_cached_pages, 0);
	rte_pktmbuf_free_bulk(a, 32);
	rte_pktmbuf_free_bulk(c, 32);
	rte_pktmbuf_free_bulk(big, 33);
	rte_mempool_free(mp);
	ivm_domain_destroy(&d);
}

/*
 * A slot is mapped again only after its invalidation: with two slots, a
 * third burst while both wait in the flush queue goes through the
 * allocator; after the flush the first slot comes back.  The model
 * device, which cached the first burst's translations, never reads
 * through a stale entry into another burst's buffer (no violation), and
 * a handle gone stale with its slot reused is refused.
 */
IVM_TEST(txq_slot_reused_only_after_its_invalidation)
{
	struct ivm_domain *d = make_domain(39, true, IVM_FLUSH_LAZY);
	struct rte_mempool *mp = make_pool("pool_txq_reuse");
	struct rte_mbuf *m[4][8];
	ivm_la iova[4][8];
	struct ivm_dpdk_burst b[4];
	struct ivm_dpdk_txq *q = NULL;
	struct ivm_dpdk_txq_info info;
	struct ivm_swdev *dev;
	struct ivm_domain_stats ds;
	char got[8];

	CHECK_STATUS(ivm_swdev_create(d, &dev), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_dpdk_txq_create(d, 2, 8, &q), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_dpdk_txq_info(q, &info), IVM_STATUS_SUCCESS);
	for (int k = 0; k < 4; k++) {
		CHECK(rte_pktmbuf_alloc_bulk(mp, m[k], 8) == 0);
		for (int i = 0; i < 8; i++) {
			char *p = rte_pktmbuf_append(m[k][i], 64);
			CHECK(p != NULL);
			snprintf(p, 8, "b%dp%d", k, i);
		}
	}

	/* Bursts 0 and 1 fill both slots; the device reads burst 0. */
	for (int k = 0; k < 2; k++)
		CHECK_STATUS(ivm_dpdk_txq_map(q, m[k], 8, IVM_PERM_READ,
					      iova[k], &b[k]),
			     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_swdev_dma_read(dev, iova[0][3], got, 8),
		     IVM_STATUS_SUCCESS);
	CHECK(strcmp(got, "b0p3") == 0);
	CHECK_STATUS(ivm_dpdk_txq_unmap(q, m[0], 8, &b[0]), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_dpdk_txq_unmap(q, m[1], 8, &b[1]), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_domain_get_stats(d, &ds), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(ds.flush_queued, 2);

	/* Slot 0 still waits for its invalidation: burst 2 goes through
	 * the allocator, outside the slots. */
	CHECK_STATUS(ivm_dpdk_txq_map(q, m[2], 8, IVM_PERM_READ, iova[2],
				      &b[2]),
		     IVM_STATUS_SUCCESS);
	CHECK(b[2].la < info.base || b[2].la >= info.base + info.size);
	/* The device's cached entry for burst 0 still serves it (the lazy
	 * window), never another burst's data. */
	CHECK_STATUS(ivm_swdev_dma_read(dev, iova[0][3], got, 8),
		     IVM_STATUS_SUCCESS);
	CHECK(strcmp(got, "b0p3") == 0);

	/* After the flush slot 0 is free again, and burst 3 takes it. */
	CHECK_STATUS(ivm_flush_domain(d), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_dpdk_txq_map(q, m[3], 8, IVM_PERM_READ, iova[3],
				      &b[3]),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(b[3].la, b[0].la);
	CHECK_STATUS(ivm_swdev_dma_read(dev, iova[3][3], got, 8),
		     IVM_STATUS_SUCCESS);
	CHECK(strcmp(got, "b3p3") == 0);
	CHECK_STATUS(ivm_domain_get_stats(d, &ds), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(ds.iotlb_violations, 0);
	/* Burst 0's handle, its slot now burst 3's: refused. */
	CHECK_STATUS(ivm_dpdk_txq_unmap(q, m[0], 8, &b[0]),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_swdev_dma_read(dev, iova[3][7], got, 8),
		     IVM_STATUS_SUCCESS);
	CHECK(strcmp(got, "b3p7") == 0);
	CHECK_STATUS(ivm_dpdk_txq_info(q, &info), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(info.slot_maps, 3);
	CHECK_EQ_U64(info.fallback_maps, 1);

	/* Unmapped, a burst faults once its invalidation is done. */
	CHECK_STATUS(ivm_dpdk_txq_unmap(q, m[3], 8, &b[3]), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_dpdk_txq_unmap(q, m[2], 8, &b[2]), IVM_STATUS_SUCCESS);
	/* Destroy waits for the pending slot's invalidation itself. */
	CHECK_STATUS(ivm_dpdk_txq_destroy(&q), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_flush_domain(d), IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_swdev_dma_read(dev, iova[3][3], got, 8),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK_EQ_U64(live_mappings(d), 0);
	CHECK_STATUS(ivm_domain_get_stats(d, &ds), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(ds.reservations, 0);
	CHECK_EQ_U64(ds.iotlb_violations, 0);

	for (int k = 0; k < 4; k++)
		rte_pktmbuf_free_bulk(m[k], 8);
	ivm_swdev_destroy(&dev);
	rte_mempool_free(mp);
	ivm_domain_destroy(&d);
}

/* In a strict domain a slot is free again as soon as its unmap returns;
 * a queue left to its domain goes with it (ASan: no leak of the slots). */
IVM_TEST(txq_in_a_strict_domain_and_left_to_the_domain)
{
	struct ivm_domain *d = make_domain(39, true, IVM_FLUSH_STRICT);
	struct rte_mempool *mp = make_pool("pool_txq_strict");
	struct rte_mbuf *m[4];
	ivm_la iova[4];
	struct ivm_dpdk_burst b;
	struct ivm_dpdk_txq *q = NULL;
	struct ivm_dpdk_txq_info info;

	CHECK_STATUS(ivm_dpdk_txq_create(d, 1, 4, &q), IVM_STATUS_SUCCESS);
	CHECK(rte_pktmbuf_alloc_bulk(mp, m, 4) == 0);
	for (int i = 0; i < 4; i++)
		CHECK(rte_pktmbuf_append(m[i], 100) != NULL);
	for (int round = 0; round < 3; round++) {
		CHECK_STATUS(ivm_dpdk_txq_map(q, m, 4, IVM_PERM_READ, iova, &b),
			     IVM_STATUS_SUCCESS);
		for (int i = 0; i < 4; i++)
			CHECK(seg_translates(d, m[i], iova[i], IVM_PERM_READ));
		CHECK_STATUS(ivm_dpdk_txq_unmap(q, m, 4, &b),
			     IVM_STATUS_SUCCESS);
	}
	CHECK_STATUS(ivm_dpdk_txq_info(q, &info), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(info.slot_maps, 3);
	CHECK_EQ_U64(info.fallback_maps, 0);
	/* One burst left mapped in its slot, and the queue, go with the
	 * domain. */
	CHECK_STATUS(ivm_dpdk_txq_map(q, m, 4, IVM_PERM_READ, iova, &b),
		     IVM_STATUS_SUCCESS);
	ivm_domain_destroy(&d);
	rte_pktmbuf_free_bulk(m, 4);
	rte_mempool_free(mp);
}

/* Lcores map and unmap segments, one by one and a burst at a time, of one
 * domain at once (ThreadSanitizer runs this in scripts/test.sh): every map
 * translates to its own packet until its unmap, and nothing is left
 * mapped. */
struct seg_worker {
	struct ivm_domain *d;
	struct rte_mempool *mp;
	unsigned bad;
};

/* Eight mbufs of mp for round i: 64 .. 1463 bytes of data, or (stamped)
 * 64 bytes starting with i.  False, nothing held, if the pool is dry. */
static bool take_8(struct rte_mempool *mp, struct rte_mbuf *m[8], unsigned i,
		   bool stamped)
{
	bool ok = true;

	if (rte_pktmbuf_alloc_bulk(mp, m, 8) != 0)
		return false;
	for (unsigned k = 0; k < 8; k++) {
		uint16_t len = stamped ? 64 : (uint16_t)(64 + (i + k * 97) %
							      1400);
		char *p = rte_pktmbuf_append(m[k], len);

		ok &= p != NULL;
		if (p != NULL && stamped)
			memcpy(p, &i, sizeof(i));
	}
	if (!ok)
		rte_pktmbuf_free_bulk(m, 8);
	return ok;
}

/* One burst of 8 segments of mbufs from w's pool, mapped, checked on
 * every segment and unmapped. */
static void burst_round(struct seg_worker *w, unsigned i)
{
	struct rte_mbuf *m[8];
	ivm_la iova[8];
	struct ivm_dpdk_burst b;
	bool ok;

	if (!take_8(w->mp, m, i, false)) {
		w->bad++;
		return;
	}
	ok = ivm_dpdk_burst_map(w->d, m, 8, IVM_PERM_READ, iova, &b) ==
			   IVM_STATUS_SUCCESS;
	for (unsigned k = 0; ok && k < 8; k++) {
		uint64_t pa = 0;

		ok = ivm_translate(w->d, iova[k], &pa, NULL) ==
			     IVM_STATUS_SUCCESS &&
		     pa == rte_pktmbuf_mtod(m[k], uintptr_t);
	}
	ok = ok && ivm_dpdk_burst_unmap(w->d, m, 8, &b) == IVM_STATUS_SUCCESS;
	w->bad += !ok;
	rte_pktmbuf_free_bulk(m, 8);
}

static void *seg_worker_main(void *arg)
{
	struct seg_worker *w = arg;

	for (unsigned i = 0; i < 20000; i++) {
		if (i % 4 == 3) {
			burst_round(w, i);
			continue;
		}
		struct rte_mbuf *m = rte_pktmbuf_alloc(w->mp);
		uint64_t pa = 0;
		ivm_la la;

		if (m == NULL || rte_pktmbuf_append(m, 64 + i % 1400) == NULL) {
			w->bad++;
			rte_pktmbuf_free(m);
			break;
		}
		if (ivm_dpdk_seg_map(w->d, m, IVM_PERM_READ, &la) !=
			    IVM_STATUS_SUCCESS ||
		    ivm_translate(w->d, la, &pa, NULL) != IVM_STATUS_SUCCESS ||
		    pa != rte_pktmbuf_mtod(m, uintptr_t) ||
		    ivm_dpdk_seg_unmap(w->d, m, la) != IVM_STATUS_SUCCESS)
			w->bad++;
		if ((i & 31) == 0)
			ivm_quiescent();
		rte_pktmbuf_free(m);
	}
	ivm_thread_unregister();
	return NULL;
}

IVM_TEST(segments_mapped_by_two_threads_at_once)
{
	struct ivm_domain *d = make_domain(39, true, IVM_FLUSH_LAZY);
	/* A pool per thread: DPDK's rings hand mbufs between threads with
	 * synchronisation ThreadSanitizer cannot see (uninstrumented). */
	struct seg_worker w[2] = { { d, make_pool("pool_thread0"), 0 },
				   { d, make_pool("pool_thread1"), 0 } };
	pthread_t t[2];

	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&t[i], NULL, seg_worker_main, &w[i]) == 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ_U64(w[0].bad + w[1].bad, 0);
	CHECK_EQ_U64(live_mappings(d), 0);
	CHECK_STATUS(ivm_flush_domain(d), IVM_STATUS_SUCCESS);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ_U64(rte_mempool_in_use_count(w[i].mp), 0);
		rte_mempool_free(w[i].mp);
	}
	ivm_domain_destroy(&d);
}

/* Two lcores, each with its own transmit queue of few slots, map, DMA
 * and unmap bursts while the domain's flush thread releases their slots
 * (ThreadSanitizer runs this too): every DMA reads its own burst's bytes,
 * the model device never reads through a stale entry, the slots take
 * bursts (the allocator takes the rest), nothing is left mapped. */
struct txq_worker {
	struct ivm_domain *d;
	struct rte_mempool *mp;
	struct ivm_swdev *dev;
	struct ivm_dpdk_txq *q;
	unsigned bad;
};

static void *txq_worker_main(void *arg)
{
	struct txq_worker *w = arg;

	for (unsigned i = 0; i < 6000; i++) {
		struct rte_mbuf *m[8];
		ivm_la iova[8];
		struct ivm_dpdk_burst b;
		bool ok;

		if (!take_8(w->mp, m, i, true)) {
			w->bad++;
			break;
		}
		ok = ivm_dpdk_txq_map(w->q, m, 8, IVM_PERM_READ, iova,
					    &b) == IVM_STATUS_SUCCESS;
		for (unsigned k = 0; ok && k < 8; k += 7) {
			unsigned got = ~i;

			ok = ivm_swdev_dma_read(w->dev, iova[k], &got,
						sizeof(got)) ==
				     IVM_STATUS_SUCCESS &&
			     got == i;
		}
		ok = ok && ivm_dpdk_txq_unmap(w->q, m, 8, &b) ==
				   IVM_STATUS_SUCCESS;
		w->bad += !ok;
		rte_pktmbuf_free_bulk(m, 8);
		if ((i & 31) == 0)
			ivm_quiescent();
	}
	ivm_thread_unregister();
	return NULL;
}

IVM_TEST(txqs_of_two_threads_with_a_flush_thread)
{
	struct ivm_allocator_config buddy = {
		.type = IVM_ALLOCATOR_BUDDY, .address_width = 39 };
	struct ivm_domain_config cfg = {
		.allocator = &buddy,
		.flush_mode = IVM_FLUSH_LAZY,
		.flush_queue_size = 16,
		.flush_timeout_us = 200,
		.flush_thread = true,
	};
	struct ivm_domain *d = NULL;
	struct txq_worker w[2] = { { .mp = make_pool("pool_txq_thread0") },
				   { .mp = make_pool("pool_txq_thread1") } };
	pthread_t t[2];
	struct ivm_dpdk_txq_info info;
	uint64_t slot_maps = 0, fallback_maps = 0;

	CHECK_STATUS(ivm_domain_create(&cfg, &d), IVM_STATUS_SUCCESS);
	for (int i = 0; i < 2; i++) {
		w[i].d = d;
		CHECK_STATUS(ivm_swdev_create(d, &w[i].dev), IVM_STATUS_SUCCESS);
		CHECK_STATUS(ivm_dpdk_txq_create(d, 16, 8, &w[i].q),
			     IVM_STATUS_SUCCESS);
	}
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&t[i], NULL, txq_worker_main, &w[i]) == 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ_U64(w[0].bad + w[1].bad, 0);
	CHECK_EQ_U64(live_mappings(d), 0);
	for (int i = 0; i < 2; i++) {
		CHECK_STATUS(ivm_dpdk_txq_info(w[i].q, &info),
			     IVM_STATUS_SUCCESS);
		slot_maps += info.slot_maps;
		fallback_maps += info.fallback_maps;
		CHECK_STATUS(ivm_dpdk_txq_destroy(&w[i].q), IVM_STATUS_SUCCESS);
		ivm_swdev_destroy(&w[i].dev);
	}
	CHECK_EQ_U64(slot_maps + fallback_maps, 12000);
	CHECK(slot_maps > 0);
	struct ivm_domain_stats ds;
	CHECK_STATUS(ivm_domain_get_stats(d, &ds), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(ds.iotlb_violations, 0);
	CHECK_EQ_U64(ds.reservations, 0);
	CHECK_STATUS(ivm_flush_domain(d), IVM_STATUS_SUCCESS);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ_U64(rte_mempool_in_use_count(w[i].mp), 0);
		rte_mempool_free(w[i].mp);
	}
	ivm_domain_destroy(&d);
}

/*
 * DPDK records the external memory's pages at iovamap's addresses (its
 * memsegs; rte_mem_virt2iova never reads them), and the domain translates
 * those addresses back to the memory.
 */
static void check_extmem(struct ivm_domain *d, char *mem, size_t len,
			 const struct ivm_dpdk_extmem *ext)
{
	struct rte_memseg_list *msl = rte_mem_virt2memseg_list(mem);
	ivm_la base = ivm_dpdk_extmem_iova(ext);

	CHECK(msl != NULL && msl->external);
	if (msl == NULL)
		return;
	for (size_t off = 0; off < len; off += 4096 + 123) {
		const struct rte_memseg *ms = rte_mem_virt2memseg(mem + off, msl);
		uint64_t pa = 0;

		CHECK(ms != NULL);
		if (ms != NULL)
			CHECK_EQ_U64(ms->iova + (uintptr_t)(mem + off) -
					     (uintptr_t)ms->addr,
				     base + off);
		CHECK_STATUS(ivm_translate(d, base + off, &pa, NULL),
			     IVM_STATUS_SUCCESS);
		CHECK_EQ_U64(pa, (uintptr_t)mem + off);
	}
}

IVM_TEST(external_memory_is_registered_at_iovamap_addresses)
{
	struct ivm_domain *d = make_domain(39, true, IVM_FLUSH_LAZY);
	const size_t len = 16 * 4096;
	char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct ivm_dpdk_extmem *ext = NULL;
	const uint32_t rw = IVM_PERM_READ | IVM_PERM_WRITE;

	CHECK(mem != MAP_FAILED);
	if (mem == MAP_FAILED)
		return;
	CHECK_STATUS(ivm_dpdk_extmem_map(d, mem, len, 4096, rw, NULL, &ext),
		     IVM_STATUS_SUCCESS);
	CHECK(ext != NULL);
	check_extmem(d, mem, len, ext);
	/* Registered twice: DPDK refuses, nothing more is mapped. */
	struct ivm_dpdk_extmem *again = NULL;
	CHECK_STATUS(ivm_dpdk_extmem_map(d, mem, len, 4096, rw, NULL, &again),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK(strstr(ivm_status_detail(), "already knows") != NULL);
	CHECK(again == NULL);
	CHECK_EQ_U64(live_mappings(d), 1);
	ivm_dpdk_extmem_unmap(&ext);
	CHECK(ext == NULL);
	CHECK(rte_mem_virt2memseg_list(mem) == NULL);
	CHECK_STATUS(ivm_flush_domain(d), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(live_mappings(d), 0);

	/* A named device: net_null0 is a virtual device, for which DPDK's
	 * bus has nothing to map (it succeeds without an IOMMU). */
	CHECK_STATUS(ivm_dpdk_extmem_map(d, mem, len, 4096, rw, "net_null0",
					 &ext),
		     IVM_STATUS_SUCCESS);
	check_extmem(d, mem, len, ext);
	ivm_dpdk_extmem_unmap(&ext);
	CHECK(rte_mem_virt2memseg_list(mem) == NULL);
	/* With a device, read-only (or write-only) would be a promise that
	 * rte_dev_dma_map, which maps both ways, does not keep: refused
	 * before anything is mapped or registered. */
	CHECK_STATUS(ivm_dpdk_extmem_map(d, mem, len, 4096, IVM_PERM_READ,
					 "net_null0", &ext),
		     IVM_STATUS_NOT_SUPPORTED);
	CHECK(strstr(ivm_status_detail(), "net_null0") != NULL);
	CHECK_STATUS(ivm_dpdk_extmem_map(d, mem, len, 4096, IVM_PERM_WRITE,
					 "net_null0", &ext),
		     IVM_STATUS_NOT_SUPPORTED);
	CHECK(ext == NULL);
	CHECK(rte_mem_virt2memseg_list(mem) == NULL);
	CHECK_EQ_U64(live_mappings(d), 0);
	/* Without a device the domain's permission is the only one. */
	CHECK_STATUS(ivm_dpdk_extmem_map(d, mem, len, 4096, IVM_PERM_READ,
					 NULL, &ext),
		     IVM_STATUS_SUCCESS);
	ivm_dpdk_extmem_unmap(&ext);
	/* A device DPDK does not know: refused before anything is done. */
	CHECK_STATUS(ivm_dpdk_extmem_map(d, mem, len, 4096, rw, "0000:99:00.0",
					 &ext),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK(strstr(ivm_status_detail(), "0000:99:00.0") != NULL);
	CHECK(ext == NULL);
	CHECK(rte_mem_virt2memseg_list(mem) == NULL);
	CHECK_STATUS(ivm_flush_domain(d), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(live_mappings(d), 0);

	/* DPDK's own heap memory: refused, nothing mapped. */
	void *heap = rte_malloc("extmem_heap", 2 * 4096, 4096);
	CHECK(heap != NULL);
	if (heap != NULL) {
		CHECK_STATUS(ivm_dpdk_extmem_map(d, heap, 2 * 4096, 4096, rw,
						 NULL, &ext),
			     IVM_STATUS_INVALID_PARAMETER);
		CHECK(strstr(ivm_status_detail(), "already knows") != NULL);
		CHECK_EQ_U64(live_mappings(d), 0);
		rte_free(heap);
	}

	/* Shapes. */
	CHECK_STATUS(ivm_dpdk_extmem_map(d, mem + 1, len - 4096, 4096, rw,
					 NULL, &ext),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_extmem_map(d, mem, len - 1, 4096, rw, NULL, &ext),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_extmem_map(d, mem, len, 3000, rw, NULL, &ext),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_extmem_map(d, mem, 0, 4096, rw, NULL, &ext),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_extmem_map(d, mem, len, 4096, 0, NULL, &ext),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_EQ_U64(live_mappings(d), 0);
	CHECK_EQ_U64(ivm_dpdk_extmem_iova(NULL), IVM_DPDK_BAD_IOVA);
	ivm_dpdk_extmem_unmap(NULL);

	munmap(mem, len);
	ivm_domain_destroy(&d);
}

/* status.h: after a failed adapter call the detail is that call's or "",
 * never an older call's. */
IVM_TEST(adapter_failures_leave_no_older_detail)
{
	struct ivm_domain *d = make_domain(39, true, IVM_FLUSH_LAZY);
	struct ivm_dpdk_zones *z = NULL;
	struct ivm_dpdk_burst b;
	struct rte_mbuf *none[1] = { NULL };
	ivm_la iova[1], la;

	/* A failure with a detail... */
	CHECK_STATUS(ivm_dpdk_zones_map(d, "nozone_", IVM_PERM_READ, &z),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK(strlen(ivm_status_detail()) > 0);
	/* ...then per-packet failures without one. */
	CHECK_STATUS(ivm_dpdk_burst_map(d, none, 1, IVM_PERM_READ, iova, &b),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK(strcmp(ivm_status_detail(), "") == 0);
	CHECK_STATUS(ivm_dpdk_zones_map(d, "nozone_", IVM_PERM_READ, &z),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_seg_map(d, NULL, IVM_PERM_READ, &la),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK(strcmp(ivm_status_detail(), "") == 0);
	CHECK_STATUS(ivm_dpdk_zones_map(d, "nozone_", IVM_PERM_READ, &z),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_pool_iova(NULL, &la, &la, NULL),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK(strcmp(ivm_status_detail(), "") == 0);
	ivm_domain_destroy(&d);
}

/* ---- memzones at their DPDK IOVAs ------------------------------------ */

#define ZONE_MAX_PAGES 64u

/* The IOVA pages of zones (each page once): what ivm_dpdk_zones_map must
 * map, counted here independently of the adapter. */
static unsigned zone_pages(const struct rte_memzone *const zones[], unsigned n,
			   uint64_t page[ZONE_MAX_PAGES])
{
	unsigned count = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t first = zones[i]->iova & ~4095ull;
		uint64_t end = (zones[i]->iova + zones[i]->len + 4095) & ~4095ull;

		for (uint64_t p = first; p < end; p += 4096) {
			unsigned k = 0;

			while (k < count && page[k] != p)
				k++;
			if (k == count && count < ZONE_MAX_PAGES)
				page[count++] = p;
		}
	}
	return count;
}

/* Each zone's first, middle and last byte translate to its own bytes,
 * with the permissions asked for. */
static void check_zone_mapped(struct ivm_domain *d, const struct rte_memzone *mz,
			      uint32_t perms)
{
	const size_t at[] = { 0, mz->len / 2, mz->len - 1 };

	for (unsigned k = 0; k < 3; k++) {
		uint64_t pa = 0;
		uint32_t perm = 0;

		CHECK_STATUS(ivm_translate(d, mz->iova + at[k], &pa, &perm),
			     IVM_STATUS_SUCCESS);
		CHECK_EQ_U64(pa, (uintptr_t)mz->addr + at[k]);
		CHECK_EQ_U64(perm, perms);
	}
}

IVM_TEST(memzones_are_mapped_at_their_dpdk_iovas)
{
	struct ivm_domain *d = make_domain(48, false, IVM_FLUSH_LAZY);
	const uint32_t rw = IVM_PERM_READ | IVM_PERM_WRITE;
	/* A ring-like zone of a few pages, two small ones reserved back to
	 * back (they may share a page), and one the prefix leaves out. */
	const struct rte_memzone *zone[3] = {
		rte_memzone_reserve_aligned("ivmzone_ring", 3 * 4096 + 100,
					    SOCKET_ID_ANY,
					    RTE_MEMZONE_IOVA_CONTIG, 4096),
		rte_memzone_reserve("ivmzone_c", 64, SOCKET_ID_ANY, 0),
		rte_memzone_reserve("ivmzone_d", 64, SOCKET_ID_ANY, 0),
	};
	const struct rte_memzone *other = rte_memzone_reserve_aligned(
		"other_zone", 2 * 4096, SOCKET_ID_ANY, 0, 4096);
	struct ivm_dpdk_zones *z = NULL, *again = NULL;
	struct ivm_dpdk_zones_info info = { 0 };
	uint64_t page[ZONE_MAX_PAGES];
	uint64_t pa;

	CHECK(zone[0] && zone[1] && zone[2] && other);
	if (!zone[0] || !zone[1] || !zone[2] || !other)
		goto out;
	unsigned pages = zone_pages(zone, 3, page);

	CHECK_STATUS(ivm_dpdk_zones_map(d, "ivmzone_", rw, &z),
		     IVM_STATUS_SUCCESS);
	CHECK(z != NULL);
	CHECK_STATUS(ivm_dpdk_zones_info(z, &info), IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(info.zones, 3);
	CHECK_EQ_U64(info.mapped_bytes, pages * 4096ull);
	CHECK(info.ranges >= 1 && info.ranges <= pages);
	CHECK_EQ_U64(live_mappings(d), info.ranges);
	for (unsigned i = 0; i < 3; i++)
		check_zone_mapped(d, zone[i], rw);
	/* other_zone's second page is its own: not mapped. */
	CHECK_STATUS(ivm_translate(d, other->iova + 4096, &pa, NULL),
		     IVM_STATUS_INVALID_PARAMETER_2);

	/* Mapped twice: the first page already holds a mapping; nothing
	 * more stays mapped. */
	CHECK_STATUS(ivm_dpdk_zones_map(d, "ivmzone_", rw, &again),
		     IVM_STATUS_IN_USE);
	CHECK(strstr(ivm_status_detail(), "ivmzone_") != NULL);
	CHECK(again == NULL);
	CHECK_EQ_U64(live_mappings(d), info.ranges);

	ivm_dpdk_zones_unmap(&z);
	CHECK(z == NULL);
	CHECK_EQ_U64(live_mappings(d), 0);
	CHECK_STATUS(ivm_translate(d, zone[0]->iova, &pa, NULL),
		     IVM_STATUS_INVALID_PARAMETER_2);

	/* A later range in use: the ranges before it are undone, and the
	 * detail still says why (the undo's unmaps leave it alone).  Two
	 * one-page zones with a freed zone between them: two ranges. */
	const struct rte_memzone *gap[2], *spacer;
	gap[0] = rte_memzone_reserve_aligned("ivmgap_a", 4096, SOCKET_ID_ANY,
					     0, 4096);
	spacer = rte_memzone_reserve_aligned("spacer", 4096, SOCKET_ID_ANY, 0,
					     4096);
	gap[1] = rte_memzone_reserve_aligned("ivmgap_b", 4096, SOCKET_ID_ANY,
					     0, 4096);
	rte_memzone_free(spacer);
	CHECK(gap[0] && gap[1]);
	if (gap[0] && gap[1]) {
		const struct rte_memzone *high =
			gap[0]->iova > gap[1]->iova ? gap[0] : gap[1];
		struct ivm_phys one = { .type = IVM_PHYS_BUFFER,
					.buffer = { .va = high->addr,
						    .size = 4096 } };
		ivm_la at = high->iova;

		CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &one,
						      &at, NULL, NULL, &pa),
			     IVM_STATUS_SUCCESS);
		CHECK_STATUS(ivm_dpdk_zones_map(d, "ivmgap_", rw, &z),
			     IVM_STATUS_IN_USE);
		CHECK(strstr(ivm_status_detail(), "IVM_STATUS_IN_USE") != NULL);
		CHECK(z == NULL);
		CHECK_EQ_U64(live_mappings(d), 1);
		CHECK_STATUS(ivm_unmap_logical_range(d, at, 1),
			     IVM_STATUS_SUCCESS);
		/* Both ranges map once the page is free. */
		CHECK_STATUS(ivm_dpdk_zones_map(d, "ivmgap_", rw, &z),
			     IVM_STATUS_SUCCESS);
		CHECK_STATUS(ivm_dpdk_zones_info(z, &info), IVM_STATUS_SUCCESS);
		CHECK_EQ_U64(info.ranges, 2);
		ivm_dpdk_zones_unmap(&z);
	}
	rte_memzone_free(gap[0]);
	rte_memzone_free(gap[1]);

	/* Read-only, and every memzone ("" matches all). */
	CHECK_STATUS(ivm_dpdk_zones_map(d, "", IVM_PERM_READ, &z),
		     IVM_STATUS_SUCCESS);
	CHECK_STATUS(ivm_dpdk_zones_info(z, &info), IVM_STATUS_SUCCESS);
	CHECK(info.zones >= 4);
	check_zone_mapped(d, zone[1], IVM_PERM_READ);
	check_zone_mapped(d, other, IVM_PERM_READ);
	ivm_dpdk_zones_unmap(&z);
	CHECK_EQ_U64(live_mappings(d), 0);

	/* Bad input: refused, nothing mapped, *out untouched. */
	CHECK_STATUS(ivm_dpdk_zones_map(d, "nozone_", rw, &z),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK(strstr(ivm_status_detail(), "nozone_") != NULL);
	CHECK_STATUS(ivm_dpdk_zones_map(NULL, "ivmzone_", rw, &z),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_zones_map(d, NULL, rw, &z),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_zones_map(d, "ivmzone_", rw, NULL),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_zones_map(d, "ivmzone_", 0, &z),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ivm_dpdk_zones_map(d, "ivmzone_", rw | 0x80u, &z),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK(z == NULL);
	CHECK_EQ_U64(live_mappings(d), 0);
	CHECK_STATUS(ivm_dpdk_zones_info(NULL, &info),
		     IVM_STATUS_INVALID_PARAMETER);
	ivm_dpdk_zones_unmap(NULL);
	ivm_dpdk_zones_unmap(&z);

	/* An allocator that takes no explicit address: the map's own
	 * status, nothing mapped. */
	struct ivm_domain *alloc = make_domain(48, true, IVM_FLUSH_LAZY);
	CHECK_STATUS(ivm_dpdk_zones_map(alloc, "ivmzone_", rw, &z),
		     IVM_STATUS_NOT_SUPPORTED);
	CHECK(z == NULL);
	CHECK_EQ_U64(live_mappings(alloc), 0);
	ivm_domain_destroy(&alloc);
out:
	for (unsigned i = 0; i < 3; i++)
		rte_memzone_free(zone[i]);
	rte_memzone_free(other);
	ivm_domain_destroy(&d);
}

int main(int argc, char **argv)
{
	char lcore[32];
	snprintf(lcore, sizeof(lcore), "-l%u", (unsigned)sched_getcpu());
	char *eal_argv[] = {
		"test_dpdk", "--no-huge", "-m", "64", "--no-pci", "--no-shconf",
		"--no-telemetry", "--log-level=lib.eal:error",
		"--vdev=net_null0", lcore, NULL,
	};

	if (rte_eal_init((int)(sizeof(eal_argv) / sizeof(eal_argv[0])) - 1,
			 eal_argv) < 0) {
		fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	int rc = ivm_test_run(argc, argv, NULL);
	rte_eal_cleanup();
	return rc;
}
