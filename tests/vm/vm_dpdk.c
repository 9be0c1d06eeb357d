/* SPDX-License-Identifier: MIT */
/*
 * vm_dpdk.c - the DPDK adapter (iovamap/dpdk.h) against a real (emulated)
 * IOMMU: a minimal user-space driver for QEMU's edu device that gives the
 * device DPDK packet buffers through an iovamap VFIO domain, the three
 * ways the adapter offers.  Runs inside the VM test's guest
 * (tests/vm/run-vm.sh), as root, with edu bound to vfio-pci.
 *
 * The program is a DPDK application: it calls rte_eal_init itself first
 * (no huge pages, no PCI bus, one lcore), so the VFIO backend
 * finds the EAL running and leaves it alone.  Then, for each map path
 * (IVM_VFIO_MAP_DIRECT in a lazy domain, IVM_VFIO_MAP_DPDK in a strict
 * one), with edu attached to the domain:
 *  1. pool-mapped: two packet-mbuf pools are mapped with ivm_dpdk_pool_map,
 *     one from rte_pktmbuf_pool_create (511 mbufs, one chunk) and one
 *     populated from three separate pieces of memory (three chunks, mbufs
 *     that cross page boundaries).  ivm_dpdk_pool_info counts every
 *     chunk, object and mbuf, with one domain mapping per chunk; every
 *     mbuf's buf_iova (first and last byte), every object's
 *     rte_mempool_virt2iova() and every chunk's iova lie in the domain
 *     and translate (ivm_translate) to the bytes they name (the VFIO
 *     backend's "physical" address of a buffer byte is its virtual
 *     address); ivm_dpdk_pool_iova agrees.  Then edu DMAs through
 *     rte_mbuf_data_iova(): the device reads one mbuf's data and writes
 *     it, byte-exact, into an mbuf whose data crosses a page boundary and
 *     into the last mbuf of every chunk (the bytes on both sides stay
 *     untouched), and reads the last of them back;
 *  2. strict per-packet: an mbuf of a pool that is not pool-mapped (its
 *     data crosses a page) is mapped with ivm_dpdk_seg_map; the device
 *     reads and writes it through the returned address; a wrong address
 *     is refused; after ivm_dpdk_seg_unmap (and ivm_flush_domain in the
 *     lazy domain; none in the strict one) the address no longer
 *     translates and a device write to it does not land.  A read-only
 *     segment mapping cannot be written by the device.  A burst map
 *     (ivm_dpdk_burst_map: an array of frames) is NOT_SUPPORTED on VFIO
 *     and changes nothing;
 *  3. ivm_dpdk_pool_unmap gives every mbuf, object and chunk its DPDK IOVA
 *     back, none of the old addresses translates, and a device write to
 *     an old mbuf address does not land; the pool maps again;
 *  4. external memory (a 64 KiB mmap, 4 KiB pages): naming a device DPDK
 *     does not have, or edu (which DPDK did not probe), gives
 *     INVALID_PARAMETER and leaves nothing mapped or registered; a virtual
 *     device (net_null0) is accepted.  With no device: DPDK's memsegs for
 *     every page carry the domain's address, rte_mem_virt2iova() is what
 *     dpdk.h says (never iovamap's address; IOVA as VA here: the virtual
 *     address), a pool populated at ivm_dpdk_extmem_iova()
 *     (rte_mempool_populate_iova) carries domain addresses and edu DMAs
 *     between two of its mbufs across a page; after ivm_dpdk_extmem_unmap
 *     DPDK no longer knows the memory, device writes to it do not land,
 *     and it maps again.
 * Then, without a device (group "input"), bad input: NULL arguments, bad
 * permissions (unknown bits, none), a pool without memory, a domain
 * without an allocator, misaligned and mis-sized external memory, memory
 * DPDK already knows (its heap; memory registered already), a segment
 * unmap at a wrong address or at another segment's address each give the
 * documented status and change nothing (the pool's IOVAs, the domain's
 * mappings, DPDK's memsegs).
 *
 * About 22 DMAs of at most 2 KiB per path.  edu reaches only IOVAs below
 * 1 << 28: the domains here are 28 bits wide, so every address the adapter
 * hands out is below it; DPDK's own IOVAs (IOVA as VA here) are never
 * given to edu.
 *
 * Usage: vm_dpdk [BDF]    (default: the first 1234:11e8 device)
 * Environment: VM_DPDK_PATHS="direct dpdk" (the paths to run, in order).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_memory.h>
#include <rte_mempool.h>

#include <iovamap/dpdk.h>
#include <iovamap/iovamap.h>
#include <iovamap/vfio.h>

#include "edu.h"
#include "vm_domain.h"
#include "vmtest.h"

#define PAGE          4096u
#define RW            (IVM_PERM_READ | IVM_PERM_WRITE)
#define DATA_ROOM     RTE_MBUF_DEFAULT_BUF_SIZE   /* 128 headroom + 2048 */
#define DATA_LEN      EDU_DMA_MAX                 /* = the data area */
#define POOL_MBUFS    511u
#define SPLIT_PIECES  3u      /* memory pieces of the several-chunk pool */
#define SPLIT_PER     40u     /* mbufs per piece */
#define SEG_MBUFS     63u
#define GUARD         64u     /* bytes checked on each side of a target */
#define EXT_LEN       (64u * 1024u)
#define MAX_CHUNKS    16u
#define VDEV_NAME     "net_null0"
#define NO_SUCH_DEV   "0000:00:1f.7"

static const char *bdf;

/* --- buffers, patterns, statuses, DMA --------------------------------------- */

/* Pattern @seed over n bytes: nonzero-heavy, different for every seed and
 * from vm_smoke's and vm_dma's. */
static void pattern_fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 11u + seed * 37u + 5u);
}

static bool pattern_is(const uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (uint8_t)(i * 11u + seed * 37u + 5u))
			return false;
	return true;
}

/* A DMA that must complete (blocked or not); a wedged engine is fatal. */
static void dma_read(struct edu *edu, uint64_t iova, uint32_t len)
{
	if (edu_dma_read(edu, iova, len))
		vmtest_fatal("edu DMA read 0x%llx+%u: %s", (unsigned long long)iova,
			     len, strerror(errno));
}

static void dma_write(struct edu *edu, uint64_t iova, uint32_t len)
{
	if (edu_dma_write(edu, iova, len))
		vmtest_fatal("edu DMA write 0x%llx+%u: %s",
			     (unsigned long long)iova, len, strerror(errno));
}

static uint64_t domain_mappings(struct ivm_domain *d)
{
	struct ivm_domain_stats s;

	if (ivm_domain_get_stats(d, &s) != IVM_STATUS_SUCCESS)
		return UINT64_MAX;
	return s.mappings;
}

/* Does la translate to exactly va (the VFIO backend's "physical" address
 * of a buffer byte is its virtual address) with permissions perm? */
static bool translates_to(struct ivm_domain *d, uint64_t la, const void *va,
			  uint32_t perm)
{
	uint64_t pa;
	uint32_t got_perm;

	return ivm_translate(d, la, &pa, &got_perm) == IVM_STATUS_SUCCESS &&
	       pa == (uint64_t)(uintptr_t)va && got_perm == perm;
}

static bool is_unmapped(struct ivm_domain *d, uint64_t la)
{
	uint64_t pa;

	return ivm_translate(d, la, &pa, NULL) == IVM_STATUS_INVALID_PARAMETER_2;
}

static bool crosses_page(const void *p, size_t n)
{
	uintptr_t a = (uintptr_t)p;

	return a / PAGE != (a + n - 1) / PAGE;
}

/* --- a pool's addresses, before and after ----------------------------------- */

struct chunk_rec {
	void *addr;
	size_t len;
	rte_iova_t iova;
};

struct pool_snap {
	struct rte_mempool *mp;
	unsigned n;                 /* objects (all mbufs) */
	struct rte_mbuf **mbufs;    /* by object index */
	rte_iova_t *buf_iova;       /* DPDK's, before the map */
	rte_iova_t *obj_iova;       /* rte_mempool_virt2iova(), before */
	unsigned nchunks;
	struct chunk_rec chunks[MAX_CHUNKS];
};

static void snap_obj(struct rte_mempool *mp, void *opaque, void *obj,
		     unsigned idx)
{
	struct pool_snap *s = opaque;

	(void)mp;
	if (idx < s->n)
		s->mbufs[idx] = obj;
}

static void snap_chunk(struct rte_mempool *mp, void *opaque,
		       struct rte_mempool_memhdr *memhdr, unsigned idx)
{
	struct pool_snap *s = opaque;

	(void)mp;
	if (idx < MAX_CHUNKS) {
		s->chunks[idx] = (struct chunk_rec){ memhdr->addr, memhdr->len,
						     memhdr->iova };
		if (idx + 1 > s->nchunks)
			s->nchunks = idx + 1;
	}
}

/* Record the pool's objects and DPDK's addresses (before any map). */
static void snap_take(struct pool_snap *s, struct rte_mempool *mp)
{
	memset(s, 0, sizeof(*s));
	s->mp = mp;
	s->n = mp->size;
	s->mbufs = calloc(s->n, sizeof(*s->mbufs));
	s->buf_iova = calloc(s->n, sizeof(*s->buf_iova));
	s->obj_iova = calloc(s->n, sizeof(*s->obj_iova));
	if (!s->mbufs || !s->buf_iova || !s->obj_iova)
		vmtest_fatal("calloc");
	if (rte_mempool_obj_iter(mp, snap_obj, s) != s->n)
		vmtest_fatal("%s: rte_mempool_obj_iter: not %u objects", mp->name,
			     s->n);
	if (rte_mempool_mem_iter(mp, snap_chunk, s) > MAX_CHUNKS)
		vmtest_fatal("%s: more than %u chunks", mp->name, MAX_CHUNKS);
	for (unsigned i = 0; i < s->n; i++) {
		s->buf_iova[i] = s->mbufs[i]->buf_iova;
		s->obj_iova[i] = rte_mempool_virt2iova(s->mbufs[i]);
	}
}

static void snap_free(struct pool_snap *s)
{
	free(s->mbufs);
	free(s->buf_iova);
	free(s->obj_iova);
	memset(s, 0, sizeof(*s));
}

/* Does every mbuf, object and chunk carry DPDK's own address again? */
static bool snap_unchanged(const struct pool_snap *s, char *why, size_t size)
{
	struct pool_snap now;
	bool ok = true;

	snap_take(&now, s->mp);
	for (unsigned i = 0; i < s->n && ok; i++) {
		if (now.buf_iova[i] != s->buf_iova[i] ||
		    now.obj_iova[i] != s->obj_iova[i]) {
			snprintf(why, size, "mbuf %u: buf_iova 0x%llx (was 0x%llx), "
				 "virt2iova 0x%llx (was 0x%llx)", i,
				 (unsigned long long)now.buf_iova[i],
				 (unsigned long long)s->buf_iova[i],
				 (unsigned long long)now.obj_iova[i],
				 (unsigned long long)s->obj_iova[i]);
			ok = false;
		}
	}
	for (unsigned c = 0; c < s->nchunks && ok; c++) {
		if (now.chunks[c].iova != s->chunks[c].iova) {
			snprintf(why, size, "chunk %u: iova 0x%llx (was 0x%llx)", c,
				 (unsigned long long)now.chunks[c].iova,
				 (unsigned long long)s->chunks[c].iova);
			ok = false;
		}
	}
	if (ok)
		snprintf(why, size, "%u mbufs, %u chunks", s->n, s->nchunks);
	snap_free(&now);
	return ok;
}

/* Which chunk holds p (an object), or -1. */
static int chunk_of(const struct pool_snap *s, const void *p)
{
	for (unsigned c = 0; c < s->nchunks; c++) {
		const uint8_t *a = s->chunks[c].addr;

		if ((const uint8_t *)p >= a && (const uint8_t *)p < a + s->chunks[c].len)
			return (int)c;
	}
	return -1;
}

/* --- the pools ------------------------------------------------------------------ */

static struct rte_mempool *make_pool(const char *name, unsigned n)
{
	struct rte_mempool *mp = rte_pktmbuf_pool_create(name, n, 0, 0, DATA_ROOM,
							 SOCKET_ID_ANY);

	if (!mp)
		vmtest_fatal("rte_pktmbuf_pool_create(%s, %u): %s", name, n,
			     rte_strerror(rte_errno));
	return mp;
}

static void free_piece(struct rte_mempool_memhdr *memhdr, void *opaque)
{
	(void)memhdr;
	rte_free(opaque);
}

/* An empty packet-mbuf pool of n mbufs of DATA_ROOM bytes, objects
 * allowed to cross pages (RTE_MEMPOOL_F_NO_IOVA_CONTIG), with DPDK's best
 * ring ops: the caller populates it, then runs rte_pktmbuf_init on it. */
static struct rte_mempool *empty_mbuf_pool(const char *name, unsigned n)
{
	const uint32_t elt = (uint32_t)sizeof(struct rte_mbuf) + DATA_ROOM;
	struct rte_pktmbuf_pool_private priv = {
		.mbuf_data_room_size = DATA_ROOM,
		.mbuf_priv_size = 0,
	};
	struct rte_mempool *mp;

	mp = rte_mempool_create_empty(name, n, elt, 0, sizeof(priv),
				      SOCKET_ID_ANY,
				      RTE_MEMPOOL_F_NO_IOVA_CONTIG);
	if (!mp)
		vmtest_fatal("rte_mempool_create_empty(%s): %s", name,
			     rte_strerror(rte_errno));
	if (rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL))
		vmtest_fatal("%s: rte_mempool_set_ops_byname(%s) failed", name,
			     rte_mbuf_best_mempool_ops());
	rte_pktmbuf_pool_init(mp, &priv);
	return mp;
}

/*
 * A packet-mbuf pool populated from @pieces separate rte_malloc pieces of
 * @per mbufs each (rte_mempool_populate_virt), so that it has a chunk per
 * piece, as a pool made from scattered memory would.  Its objects may
 * cross page boundaries (RTE_MEMPOOL_F_NO_IOVA_CONTIG): without huge pages
 * DPDK keeps every IOVA-contiguous object inside one 4 KiB page (one
 * 2 KiB mbuf per page), so only such a pool has mbufs whose data crosses
 * a page, as every pool on huge pages does.  The adapter maps each chunk
 * as one contiguous range, so they are contiguous in the domain anyway.
 */
static struct rte_mempool *make_split_pool(const char *name, unsigned pieces,
					   unsigned per)
{
	const unsigned n = pieces * per;
	const uint32_t elt = (uint32_t)sizeof(struct rte_mbuf) + DATA_ROOM;
	const unsigned flags = RTE_MEMPOOL_F_NO_IOVA_CONTIG;
	struct rte_mempool *mp = empty_mbuf_pool(name, n);
	size_t piece;

	/* Room for per objects and their alignment, whole pages. */
	piece = RTE_ALIGN_CEIL((size_t)rte_mempool_calc_obj_size(elt, flags, NULL) *
			       (per + 1), PAGE);
	for (unsigned i = 0; mp->populated_size < n; i++) {
		void *mem;
		int added;

		if (i == pieces)
			vmtest_fatal("%s: %u pieces hold only %u objects", name, i,
				     mp->populated_size);
		mem = rte_malloc(NULL, piece, PAGE);
		if (!mem)
			vmtest_fatal("%s: rte_malloc(%zu)", name, piece);
		added = rte_mempool_populate_virt(mp, mem, piece, PAGE, free_piece,
						  mem);
		if (added <= 0)
			vmtest_fatal("%s: rte_mempool_populate_virt: %d", name, added);
	}
	rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
	return mp;
}

/* Take every mbuf out of the pool, so that the test owns them all. */
static void take_all(struct rte_mempool *mp, struct rte_mbuf **held, unsigned n)
{
	if (rte_pktmbuf_alloc_bulk(mp, held, n))
		vmtest_fatal("%s: rte_pktmbuf_alloc_bulk(%u) failed", mp->name, n);
}

/* --- 1. pool-mapped --------------------------------------------------------------- */

/* Every mbuf, object and chunk of a mapped pool, checked against the domain. */
static void check_pool_addresses(const char *group, const char *label,
				 struct ivm_domain *d, struct ivm_dpdk_pool *pool,
				 const struct pool_snap *s, uint32_t perm)
{
	char name[96], why[256] = "";
	unsigned bad = 0;
	ivm_la la;
	size_t contiguous;

	for (unsigned i = 0; i < s->n; i++) {
		const struct rte_mbuf *m = s->mbufs[i];
		const uint8_t *buf = m->buf_addr;
		const rte_iova_t iova = m->buf_iova;
		const rte_iova_t obj = rte_mempool_virt2iova(m);
		const char *what = NULL;

		if (iova >= EDU_IOVA_LIMIT - m->buf_len)
			what = "buf_iova outside the domain";
		else if (iova == s->buf_iova[i])
			what = "buf_iova not rewritten";
		else if (!translates_to(d, iova, buf, perm))
			what = "buf_iova does not translate to buf_addr";
		else if (!translates_to(d, iova + m->buf_len - 1u,
					buf + m->buf_len - 1u, perm))
			what = "buf_iova's last byte does not translate";
		else if (!translates_to(d, obj, m, perm))
			what = "rte_mempool_virt2iova does not translate to the mbuf";
		else if (obj + (uint64_t)(buf - (const uint8_t *)m) != iova)
			what = "rte_mempool_virt2iova and buf_iova disagree";
		else if (rte_mbuf_data_iova(m) != iova + m->data_off)
			what = "rte_mbuf_data_iova is not buf_iova + data_off";
		else if (ivm_dpdk_pool_iova(pool, buf, &la, &contiguous) !=
				 IVM_STATUS_SUCCESS ||
			 la != iova || contiguous < m->buf_len)
			what = "ivm_dpdk_pool_iova disagrees";
		if (what && bad++ == 0)
			snprintf(why, sizeof(why), "first: mbuf %u at %p buf_iova "
				 "0x%llx virt2iova 0x%llx: %s", i, (const void *)m,
				 (unsigned long long)iova, (unsigned long long)obj,
				 what);
	}
	snprintf(name, sizeof(name), "%s_mbuf_iovas_in_domain", label);
	vmtest_checkf(bad == 0, group, name, "%u of %u mbufs wrong%s%s", bad, s->n,
		      bad ? "; " : "", why);

	bad = 0;
	why[0] = '\0';
	for (unsigned c = 0; c < s->nchunks; c++) {
		struct rte_mempool_memhdr *h = NULL;
		unsigned idx = 0;

		STAILQ_FOREACH(h, &s->mp->mem_list, next) {
			if (idx++ == c)
				break;
		}
		if (!h || h->addr != s->chunks[c].addr ||
		    !translates_to(d, h->iova, h->addr, perm) ||
		    !translates_to(d, h->iova + h->len - 1,
				   (uint8_t *)h->addr + h->len - 1, perm) ||
		    ivm_dpdk_pool_iova(pool, (uint8_t *)h->addr + 100, &la,
				       &contiguous) != IVM_STATUS_SUCCESS ||
		    la != h->iova + 100 || contiguous != h->len - 100) {
			if (bad++ == 0)
				snprintf(why, sizeof(why), "first: chunk %u at %p "
					 "len %zu iova 0x%llx", c,
					 h ? h->addr : NULL, h ? h->len : 0,
					 h ? (unsigned long long)h->iova : 0ull);
		}
	}
	snprintf(name, sizeof(name), "%s_chunk_iovas_in_domain", label);
	vmtest_checkf(bad == 0, group, name, "%u of %u chunks wrong%s%s", bad,
		      s->nchunks, bad ? "; " : "", why);
}

/* Fill the bytes around an mbuf's data area (headroom and whatever follows
 * the buffer) with a guard value, and check them afterwards. */
static void guard_set(struct rte_mbuf *m, uint8_t *after_copy)
{
	uint8_t *data = rte_pktmbuf_mtod(m, uint8_t *);

	memset(data - GUARD, 0xa5, GUARD);
	memcpy(after_copy, data + DATA_LEN, GUARD);
}

static bool guard_intact(struct rte_mbuf *m, const uint8_t *after_copy)
{
	const uint8_t *data = rte_pktmbuf_mtod(m, uint8_t *);

	for (unsigned i = 0; i < GUARD; i++)
		if (data[(ptrdiff_t)i - (ptrdiff_t)GUARD] != 0xa5)
			return false;
	return memcmp(data + DATA_LEN, after_copy, GUARD) == 0;
}

/*
 * DMA through the pool's own addresses (rte_mbuf_data_iova): the device
 * reads source's data and writes it into each target, then reads the last
 * target back into source.  *seed is advanced per pattern used.
 */
static void pool_dma(const char *group, const char *label, struct edu *edu,
		     struct rte_mbuf *source, struct rte_mbuf **targets,
		     const char **why, unsigned ntargets, unsigned *seed)
{
	char name[96];
	uint8_t after[GUARD];
	uint8_t *src = rte_pktmbuf_mtod(source, uint8_t *);

	pattern_fill(src, DATA_LEN, ++*seed);
	dma_read(edu, rte_mbuf_data_iova(source), DATA_LEN);
	for (unsigned t = 0; t < ntargets; t++) {
		struct rte_mbuf *m = targets[t];
		uint8_t *dst = rte_pktmbuf_mtod(m, uint8_t *);
		bool ok;

		memset(dst, 0, DATA_LEN);
		guard_set(m, after);
		dma_write(edu, rte_mbuf_data_iova(m), DATA_LEN);
		ok = pattern_is(dst, DATA_LEN, *seed);
		snprintf(name, sizeof(name), "%s_dma_into_%s", label, why[t]);
		vmtest_checkf(ok, group, name, "data at %p iova 0x%llx", (void *)dst,
			      (unsigned long long)rte_mbuf_data_iova(m));
		snprintf(name, sizeof(name), "%s_dma_into_%s_exact", label, why[t]);
		vmtest_check(guard_intact(m, after), group, name);
	}
	/* The other direction: the device reads the last target. */
	{
		struct rte_mbuf *m = targets[ntargets - 1];

		pattern_fill(rte_pktmbuf_mtod(m, uint8_t *), DATA_LEN, ++*seed);
		dma_read(edu, rte_mbuf_data_iova(m), DATA_LEN);
		memset(src, 0, DATA_LEN);
		dma_write(edu, rte_mbuf_data_iova(source), DATA_LEN);
		snprintf(name, sizeof(name), "%s_dma_from_%s", label,
			 why[ntargets - 1]);
		vmtest_check(pattern_is(src, DATA_LEN, *seed), group, name);
	}
}

/*
 * Map a pool (already snapped, every mbuf held), check its addresses and
 * DMA through them.  Returns the mapping (NULL when the map failed).
 */
static struct ivm_dpdk_pool *pool_map_and_dma(const char *group,
					      const char *label,
					      struct ivm_domain *d,
					      struct edu *edu,
					      const struct pool_snap *s,
					      unsigned *seed)
{
	struct ivm_dpdk_pool *pool = NULL;
	struct ivm_dpdk_pool_info info;
	struct rte_mbuf *targets[2 + MAX_CHUNKS];
	const char *why[2 + MAX_CHUNKS];
	static char why_text[MAX_CHUNKS][32];
	char name[96];
	uint64_t before = domain_mappings(d);
	struct rte_mbuf *source = s->mbufs[0];
	unsigned ntargets = 0;
	ivm_status st;

	st = ivm_dpdk_pool_map(d, s->mp, RW, &pool);
	snprintf(name, sizeof(name), "%s_pool_map", label);
	if (!vm_check_status(group, name, st, IVM_STATUS_SUCCESS))
		return NULL;
	st = ivm_dpdk_pool_info(pool, &info);
	snprintf(name, sizeof(name), "%s_pool_info", label);
	vmtest_checkf(st == IVM_STATUS_SUCCESS && info.chunks == s->nchunks &&
		      info.chunks > 0 && info.objects == s->n &&
		      info.mbufs == s->n && info.mapped_bytes % PAGE == 0 &&
		      info.mapped_bytes >= (uint64_t)s->n * DATA_ROOM, group, name,
		      "%s: chunks=%u (pool %u) objects=%u mbufs=%u (pool %u) "
		      "mapped_bytes=%llu", ivm_status_name(st), info.chunks,
		      s->nchunks, info.objects, info.mbufs, s->n,
		      (unsigned long long)info.mapped_bytes);
	snprintf(name, sizeof(name), "%s_one_mapping_per_chunk", label);
	vmtest_checkf(domain_mappings(d) == before + s->nchunks, group, name,
		      "%llu mappings, %llu before, %u chunks",
		      (unsigned long long)domain_mappings(d),
		      (unsigned long long)before, s->nchunks);
	check_pool_addresses(group, label, d, pool, s, RW);

	/* Targets: an mbuf whose data crosses a page boundary, and the mbuf
	 * with the highest address in every chunk (its data runs to the
	 * chunk's end, or nearly). */
	for (unsigned i = 1; i < s->n; i++) {
		if (crosses_page(rte_pktmbuf_mtod(s->mbufs[i], void *), DATA_LEN)) {
			targets[ntargets] = s->mbufs[i];
			why[ntargets++] = "page_crossing";
			break;
		}
	}
	if (ntargets == 0) {    /* one mbuf per page: one in the middle */
		targets[ntargets] = s->mbufs[s->n / 2];
		why[ntargets++] = "middle";
	}
	for (unsigned c = 0; c < s->nchunks && c < MAX_CHUNKS; c++) {
		struct rte_mbuf *last = NULL;

		for (unsigned i = 1; i < s->n; i++)
			if (chunk_of(s, s->mbufs[i]) == (int)c &&
			    (!last || s->mbufs[i] > last))
				last = s->mbufs[i];
		if (!last)
			continue;
		snprintf(why_text[c], sizeof(why_text[c]), "chunk%u_end", c);
		targets[ntargets] = last;
		why[ntargets++] = why_text[c];
	}
	vmtest_info("%s %s: %u chunks, %u mbufs, source data iova 0x%llx, "
		    "%u targets", group, label, s->nchunks, s->n,
		    (unsigned long long)rte_mbuf_data_iova(source), ntargets);
	if (ntargets)
		pool_dma(group, label, edu, source, targets, why, ntargets, seed);
	return pool;
}

/* Unmap a pool: DPDK's addresses come back, the old ones are gone. */
static void pool_unmap_check(const char *group, const char *label,
			     struct ivm_domain *d, struct edu *edu,
			     struct ivm_dpdk_pool **pool,
			     const struct pool_snap *s, bool lazy, bool dma)
{
	char name[96], why[256];
	struct rte_mbuf *m = s->mbufs[0];
	const rte_iova_t old_data = rte_mbuf_data_iova(m);
	const rte_iova_t old_buf = m->buf_iova;
	uint64_t before = domain_mappings(d);
	rte_iova_t *old = calloc(s->n, sizeof(*old));
	unsigned still = 0;

	if (!old)
		vmtest_fatal("calloc");
	for (unsigned i = 0; i < s->n; i++)
		old[i] = s->mbufs[i]->buf_iova;
	ivm_dpdk_pool_unmap(pool);
	snprintf(name, sizeof(name), "%s_pool_unmap_clears_handle", label);
	vmtest_check(*pool == NULL, group, name);
	snprintf(name, sizeof(name), "%s_pool_unmap_restores_dpdk_iovas", label);
	vmtest_checkf(snap_unchanged(s, why, sizeof(why)), group, name, "%s", why);
	for (unsigned i = 0; i < s->n; i++)
		still += !is_unmapped(d, old[i]);
	free(old);
	snprintf(name, sizeof(name), "%s_pool_unmap_old_iovas_gone", label);
	vmtest_checkf(still == 0 && domain_mappings(d) == before - s->nchunks,
		      group, name, "%u old buf_iovas still translate (first "
		      "0x%llx); %llu mappings, %llu before", still,
		      (unsigned long long)old_buf,
		      (unsigned long long)domain_mappings(d),
		      (unsigned long long)before);
	if (!dma)
		return;
	/* The device buffer holds a pattern: write it to the old address. */
	if (lazy)
		vm_check_status(group, "flush_domain", ivm_flush_domain(d),
				IVM_STATUS_SUCCESS);
	memset(rte_pktmbuf_mtod(m, void *), 0, DATA_LEN);
	dma_write(edu, old_data, DATA_LEN);
	snprintf(name, sizeof(name), "%s_pool_unmap_dma_blocked", label);
	vmtest_checkf(all_zero(rte_pktmbuf_mtod(m, uint8_t *), DATA_LEN), group,
		      name, "old data iova 0x%llx", (unsigned long long)old_data);
}

/* --- 2. strict per-packet ---------------------------------------------------- */

static void test_seg(const char *group, struct ivm_domain *d, struct edu *edu,
		     struct rte_mbuf *probe, bool lazy, unsigned *seed)
{
	char pool_name[32];
	struct rte_mempool *mp;
	struct rte_mbuf *held[SEG_MBUFS], *m = NULL, *ro = NULL;
	uint8_t *data, *probe_data = rte_pktmbuf_mtod(probe, uint8_t *);
	uint64_t before = domain_mappings(d);
	ivm_la iova = 0, ro_iova = 0;
	ivm_status st;

	snprintf(pool_name, sizeof(pool_name), "vmd_seg_%s", group);
	mp = make_split_pool(pool_name, 1, SEG_MBUFS);
	take_all(mp, held, SEG_MBUFS);
	for (unsigned i = 0; i < SEG_MBUFS && !(m && ro); i++) {
		if (!crosses_page(rte_pktmbuf_mtod(held[i], void *), DATA_LEN))
			continue;
		if (!m)
			m = held[i];
		else
			ro = held[i];
	}
	if (!vmtest_check(m && ro, group, "seg_found_page_crossing_mbufs"))
		goto out;
	if (!rte_pktmbuf_append(m, DATA_LEN) || !rte_pktmbuf_append(ro, DATA_LEN))
		vmtest_fatal("rte_pktmbuf_append(%u) failed", DATA_LEN);
	data = rte_pktmbuf_mtod(m, uint8_t *);

	st = ivm_dpdk_seg_map(d, m, RW, &iova);
	if (!vm_check_status(group, "seg_map", st, IVM_STATUS_SUCCESS))
		goto out;
	vmtest_checkf(iova + DATA_LEN <= EDU_IOVA_LIMIT &&
		      iova % PAGE == (uintptr_t)data % PAGE &&
		      translates_to(d, iova, data, RW) &&
		      translates_to(d, iova + DATA_LEN - 1, data + DATA_LEN - 1, RW) &&
		      domain_mappings(d) == before + 1, group,
		      "seg_map_translates", "iova 0x%llx for data at %p (crosses "
		      "a page), %llu mappings", (unsigned long long)iova,
		      (void *)data, (unsigned long long)domain_mappings(d));

	/* The device reads the segment: into probe, a pool-mapped mbuf. */
	pattern_fill(data, DATA_LEN, ++*seed);
	dma_read(edu, iova, DATA_LEN);
	memset(probe_data, 0, DATA_LEN);
	dma_write(edu, rte_mbuf_data_iova(probe), DATA_LEN);
	vmtest_check(pattern_is(probe_data, DATA_LEN, *seed), group,
		     "seg_device_reads_segment");
	/* The device writes the segment. */
	memset(data, 0, DATA_LEN);
	dma_write(edu, iova, DATA_LEN);
	vmtest_check(pattern_is(data, DATA_LEN, *seed), group,
		     "seg_device_writes_segment");

	/* A wrong address is refused and the mapping stays. */
	vm_check_status(group, "seg_unmap_wrong_iova",
			ivm_dpdk_seg_unmap(d, m, iova + PAGE), IVM_STATUS_INVALID_PARAMETER);
	vmtest_check(translates_to(d, iova, data, RW), group,
		     "seg_unmap_wrong_iova_changed_nothing");
	vm_check_status(group, "seg_unmap", ivm_dpdk_seg_unmap(d, m, iova),
			IVM_STATUS_SUCCESS);
	vmtest_checkf(is_unmapped(d, iova) && is_unmapped(d, iova + DATA_LEN - 1) &&
		      domain_mappings(d) == before, group, "seg_unmap_gone",
		      "%llu mappings", (unsigned long long)domain_mappings(d));
	/* Lazy: blocked once flushed.  Strict: blocked at once. */
	if (lazy)
		vm_check_status(group, "flush_domain", ivm_flush_domain(d),
				IVM_STATUS_SUCCESS);
	memset(data, 0, DATA_LEN);
	dma_write(edu, iova, DATA_LEN);
	vmtest_checkf(all_zero(data, DATA_LEN), group, "seg_unmapped_dma_blocked",
		      "old iova 0x%llx%s", (unsigned long long)iova,
		      lazy ? " after ivm_flush_domain" : ", strict domain, no flush");

	/* A read-only segment: the device cannot write it. */
	memset(rte_pktmbuf_mtod(ro, void *), 0, DATA_LEN);
	st = ivm_dpdk_seg_map(d, ro, IVM_PERM_READ, &ro_iova);
	if (vm_check_status(group, "seg_map_read_only", st, IVM_STATUS_SUCCESS)) {
		vmtest_check(translates_to(d, ro_iova, rte_pktmbuf_mtod(ro, void *),
					   IVM_PERM_READ), group,
			     "seg_map_read_only_translates");
		dma_write(edu, ro_iova, DATA_LEN);
		vmtest_check(all_zero(rte_pktmbuf_mtod(ro, uint8_t *), DATA_LEN),
			     group, "seg_read_only_write_blocked");
		vm_check_status(group, "seg_unmap_read_only",
				ivm_dpdk_seg_unmap(d, ro, ro_iova), IVM_STATUS_SUCCESS);
	}

	/* A burst map is one array of frames, which type1 cannot take:
	 * NOT_SUPPORTED, and nothing changes. */
	struct rte_mbuf *pair[2] = { m, ro };
	ivm_la piova[2] = { 0, 0 };
	struct ivm_dpdk_burst b = { 0 };
	uint64_t now = domain_mappings(d);

	vm_check_status(group, "burst_map_not_supported",
			ivm_dpdk_burst_map(d, pair, 2, IVM_PERM_READ, piova, &b),
			IVM_STATUS_NOT_SUPPORTED);
	vmtest_check(domain_mappings(d) == now && piova[0] == 0 &&
		     piova[1] == 0 && b.pages == 0, group,
		     "burst_map_not_supported_changed_nothing");
out:
	rte_pktmbuf_free_bulk(held, SEG_MBUFS);
	rte_mempool_free(mp);
}

/* --- 4. external memory --------------------------------------------------------- */

/* The IOVA DPDK's memsegs record for va (what rte_mempool_populate_virt,
 * rte_malloc_virt2iova and the memseg walks see), or RTE_BAD_IOVA. */
static rte_iova_t memseg_iova(const void *va)
{
	const struct rte_memseg *ms = rte_mem_virt2memseg(va, NULL);

	if (!ms || ms->iova == RTE_BAD_IOVA)
		return RTE_BAD_IOVA;
	return ms->iova + (uint64_t)((const uint8_t *)va - (const uint8_t *)ms->addr);
}

/*
 * A packet-mbuf pool on the external memory at the domain's addresses, as
 * dpdk.h tells an IOVA-as-VA application to make one:
 * rte_mempool_populate_iova(mp, va, ivm_dpdk_extmem_iova(ext), len).
 */
static struct rte_mempool *make_ext_pool(const char *name, void *va,
					 rte_iova_t iova, size_t len)
{
	const uint32_t elt = (uint32_t)sizeof(struct rte_mbuf) + DATA_ROOM;
	/* One object less than fits: the first is aligned. */
	const unsigned n = (unsigned)(len / rte_mempool_calc_obj_size(
		elt, RTE_MEMPOOL_F_NO_IOVA_CONTIG, NULL)) - 1u;
	struct rte_mempool *mp = empty_mbuf_pool(name, n);
	int added;

	added = rte_mempool_populate_iova(mp, va, iova, len, NULL, NULL);
	if (added <= 0)
		vmtest_fatal("%s: rte_mempool_populate_iova: %d (%u objects)", name,
			     added, n);
	rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
	return mp;
}

static void test_extmem(const char *group, struct ivm_domain *d,
			struct edu *edu, bool lazy, unsigned *seed)
{
	struct ivm_dpdk_extmem *ext = NULL;
	struct rte_mempool *mp;
	struct pool_snap s;
	char name[32];
	uint8_t *va;
	ivm_la iova = 0;
	uint64_t before = domain_mappings(d);
	const bool iova_as_va = rte_eal_iova_mode() == RTE_IOVA_VA;
	bool every_page = true;
	unsigned bad = 0;
	ivm_status st;

	va = mmap(NULL, EXT_LEN, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (va == MAP_FAILED)
		vmtest_fatal("mmap %u: %s", EXT_LEN, strerror(errno));

	/* Devices: one DPDK does not have, edu (not DPDK's: --no-pci), and
	 * a virtual device (net_null: its bus accepts the map, no IOMMU). */
	st = ivm_dpdk_extmem_map(d, va, EXT_LEN, PAGE, RW, NO_SUCH_DEV, &ext);
	vm_check_status(group, "extmem_no_such_device", st,
			IVM_STATUS_INVALID_PARAMETER);
	st = ivm_dpdk_extmem_map(d, va, EXT_LEN, PAGE, RW, bdf, &ext);
	vm_check_status(group, "extmem_device_dpdk_did_not_probe", st,
			IVM_STATUS_INVALID_PARAMETER);
	vmtest_checkf(memseg_iova(va) == RTE_BAD_IOVA &&
		      domain_mappings(d) == before, group,
		      "extmem_device_failures_changed_nothing",
		      "memseg iova 0x%llx, %llu mappings",
		      (unsigned long long)memseg_iova(va),
		      (unsigned long long)domain_mappings(d));
	st = ivm_dpdk_extmem_map(d, va, EXT_LEN, PAGE, RW, VDEV_NAME, &ext);
	if (vm_check_status(group, "extmem_map_virtual_device", st,
			    IVM_STATUS_SUCCESS)) {
		iova = ivm_dpdk_extmem_iova(ext);
		vmtest_checkf(memseg_iova(va) == iova &&
			      domain_mappings(d) == before + 1, group,
			      "extmem_virtual_device_registered", "iova 0x%llx",
			      (unsigned long long)iova);
		ivm_dpdk_extmem_unmap(&ext);
		vmtest_check(ext == NULL && memseg_iova(va) == RTE_BAD_IOVA &&
			     domain_mappings(d) == before, group,
			     "extmem_virtual_device_unmap");
	}

	st = ivm_dpdk_extmem_map(d, va, EXT_LEN, PAGE, RW, NULL, &ext);
	if (!vm_check_status(group, "extmem_map", st, IVM_STATUS_SUCCESS))
		goto out;
	iova = ivm_dpdk_extmem_iova(ext);
	for (size_t off = 0; off < EXT_LEN; off += PAGE) {
		size_t at = off + (off / PAGE) * 97 % PAGE;  /* inside the page */

		every_page &= memseg_iova(va + at) == iova + at &&
			      translates_to(d, iova + at, va + at, RW);
	}
	vmtest_checkf(iova % PAGE == 0 && iova + EXT_LEN <= EDU_IOVA_LIMIT &&
		      every_page && domain_mappings(d) == before + 1, group,
		      "extmem_memsegs_carry_domain_iova",
		      "iova 0x%llx, memseg iova 0x%llx, %llu mappings",
		      (unsigned long long)iova,
		      (unsigned long long)memseg_iova(va),
		      (unsigned long long)domain_mappings(d));
	/* dpdk.h: rte_mem_virt2iova() never reads the memsegs: IOVA as VA,
	 * the virtual address for all memory; IOVA as PA, the physical
	 * address (pagemap), so never iovamap's. */
	vmtest_checkf(iova_as_va ? rte_mem_virt2iova(va) == (uintptr_t)va
				 : rte_mem_virt2iova(va) != iova, group,
		      "extmem_rte_mem_virt2iova", "0x%llx (IOVA as %s; va %p, "
		      "domain iova 0x%llx)",
		      (unsigned long long)rte_mem_virt2iova(va),
		      iova_as_va ? "VA" : "PA", (void *)va, (unsigned long long)iova);
	if (iova + EXT_LEN > EDU_IOVA_LIMIT)
		goto out_unmap;

	/* A pool on the memory at the domain's addresses; DMA mbuf to mbuf. */
	snprintf(name, sizeof(name), "vmd_ext_%s", group);
	mp = make_ext_pool(name, va, iova, EXT_LEN);
	snap_take(&s, mp);
	for (unsigned i = 0; i < s.n; i++) {
		const struct rte_mbuf *m = s.mbufs[i];

		bad += !translates_to(d, m->buf_iova, m->buf_addr, RW) ||
		       !translates_to(d, rte_mempool_virt2iova(m), m, RW);
	}
	vmtest_checkf(s.n > 2 && bad == 0, group, "extmem_pool_iovas_in_domain",
		      "%u of %u mbufs wrong", bad, s.n);
	{
		struct rte_mbuf *src = s.mbufs[0], *dst = NULL;
		uint8_t after[GUARD];

		for (unsigned i = 1; i < s.n && !dst; i++)
			if (crosses_page(rte_pktmbuf_mtod(s.mbufs[i], void *),
					 DATA_LEN))
				dst = s.mbufs[i];
		if (dst) {
			pattern_fill(rte_pktmbuf_mtod(src, uint8_t *), DATA_LEN,
				     ++*seed);
			dma_read(edu, rte_mbuf_data_iova(src), DATA_LEN);
			memset(rte_pktmbuf_mtod(dst, void *), 0, DATA_LEN);
			guard_set(dst, after);
			dma_write(edu, rte_mbuf_data_iova(dst), DATA_LEN);
			vmtest_checkf(pattern_is(rte_pktmbuf_mtod(dst, uint8_t *),
						 DATA_LEN, *seed) &&
				      guard_intact(dst, after), group,
				      "extmem_pool_dma_across_pages",
				      "data iova 0x%llx -> 0x%llx",
				      (unsigned long long)rte_mbuf_data_iova(src),
				      (unsigned long long)rte_mbuf_data_iova(dst));
		}
	}
	snap_free(&s);
	rte_mempool_free(mp);

out_unmap:
	ivm_dpdk_extmem_unmap(&ext);
	vmtest_checkf(ext == NULL && memseg_iova(va) == RTE_BAD_IOVA &&
		      is_unmapped(d, iova) && domain_mappings(d) == before, group,
		      "extmem_unmap", "memseg iova 0x%llx, %llu mappings",
		      (unsigned long long)memseg_iova(va),
		      (unsigned long long)domain_mappings(d));
	if (iova + EXT_LEN <= EDU_IOVA_LIMIT) {
		/* The device buffer holds the pattern: write it everywhere
		 * the memory was. */
		if (lazy)
			vm_check_status(group, "flush_domain", ivm_flush_domain(d),
					IVM_STATUS_SUCCESS);
		memset(va, 0, EXT_LEN);
		for (size_t off = 0; off < EXT_LEN; off += 8 * PAGE)
			dma_write(edu, iova + off + PAGE - 1024, DATA_LEN);
		vmtest_check(all_zero(va, EXT_LEN), group,
			     "extmem_unmapped_dma_blocked");
	}
	/* Mapped again after the unmap: DPDK forgot it completely. */
	st = ivm_dpdk_extmem_map(d, va, EXT_LEN, PAGE, RW, NULL, &ext);
	vm_check_status(group, "extmem_map_again", st, IVM_STATUS_SUCCESS);
	ivm_dpdk_extmem_unmap(&ext);
out:
	munmap(va, EXT_LEN);
}

/* --- one map path: 1-4 with edu attached ------------------------------------------ */

static void test_path(const char *group, enum ivm_vfio_map_path path,
		      enum ivm_flush_mode mode)
{
	const bool lazy = mode == IVM_FLUSH_LAZY;
	struct ivm_domain *d = NULL;
	struct ivm_vfio_device dev;
	struct edu edu = { .fd = -1 };
	struct pool_snap made, split;
	struct ivm_dpdk_pool *pool_made = NULL, *pool_split = NULL;
	struct rte_mempool *mp_made, *mp_split;
	struct rte_mbuf **held_made, **held_split;
	char name[32], err[256], why[256];
	unsigned seed = 0;
	ivm_status st;

	st = vm_make_domain(path, mode, &d);
	if (!vm_check_status(group, "domain_create", st, IVM_STATUS_SUCCESS))
		return;
	st = ivm_domain_attach_device(d, bdf, &dev);
	if (!vm_check_status(group, "attach", st, IVM_STATUS_SUCCESS))
		goto out_destroy;
	if (edu_open(&edu, dev.fd, err, sizeof(err)))
		vmtest_fatal("%s: edu_open: %s", group, err);

	snprintf(name, sizeof(name), "vmd_made_%s", group);
	mp_made = make_pool(name, POOL_MBUFS);
	snprintf(name, sizeof(name), "vmd_split_%s", group);
	mp_split = make_split_pool(name, SPLIT_PIECES, SPLIT_PER);
	snap_take(&made, mp_made);
	snap_take(&split, mp_split);
	held_made = calloc(made.n, sizeof(*held_made));
	held_split = calloc(split.n, sizeof(*held_split));
	if (!held_made || !held_split)
		vmtest_fatal("calloc");
	take_all(mp_made, held_made, made.n);
	take_all(mp_split, held_split, split.n);
	vmtest_info("%s: pools: %s %u mbufs in %u chunks, %s %u mbufs in %u "
		    "chunks; DPDK's first buf_iova 0x%llx (IOVA as %s)", group,
		    mp_made->name, made.n, made.nchunks, mp_split->name, split.n,
		    split.nchunks, (unsigned long long)made.buf_iova[0],
		    rte_eal_iova_mode() == RTE_IOVA_VA ? "VA" : "PA");

	/* 1. pool-mapped */
	pool_made = pool_map_and_dma(group, "made", d, &edu, &made, &seed);
	pool_split = pool_map_and_dma(group, "split", d, &edu, &split, &seed);

	/* 2. strict per-packet, through a pool that is not pool-mapped */
	if (pool_made)
		test_seg(group, d, &edu, made.mbufs[0], lazy, &seed);

	/* 3. pool unmap; then the pool maps again */
	if (pool_split)
		pool_unmap_check(group, "split", d, &edu, &pool_split, &split, lazy,
				 false);
	if (pool_made) {
		pool_unmap_check(group, "made", d, &edu, &pool_made, &made, lazy,
				 true);
		st = ivm_dpdk_pool_map(d, mp_made, RW, &pool_made);
		if (vm_check_status(group, "made_pool_map_again", st,
				    IVM_STATUS_SUCCESS)) {
			ivm_dpdk_pool_unmap(&pool_made);
			vmtest_checkf(snap_unchanged(&made, why, sizeof(why)), group,
				      "made_pool_unmap_again_restores", "%s", why);
		}
	}

	/* 4. external memory */
	test_extmem(group, d, &edu, lazy, &seed);

	vmtest_info("%s: %llu DMAs, %llu mappings left", group,
		    (unsigned long long)edu.dma_count,
		    (unsigned long long)domain_mappings(d));
	rte_pktmbuf_free_bulk(held_made, made.n);
	rte_pktmbuf_free_bulk(held_split, split.n);
	free(held_made);
	free(held_split);
	snap_free(&made);
	snap_free(&split);
	rte_mempool_free(mp_made);
	rte_mempool_free(mp_split);
	edu_set_bus_master(&edu, false);
	edu_close(&edu);
	vm_check_status(group, "detach", ivm_domain_detach_device(d, bdf),
			IVM_STATUS_SUCCESS);
out_destroy:
	ivm_domain_destroy(&d);
}

/*
 * ivm_dpdk_seg_unmap given another segment's address: two segments whose
 * data sit at the same offset in their pages (one page each) are mapped;
 * unmapping the first with the second's address is "iova not what
 * ivm_dpdk_seg_map returned for seg" (INVALID_PARAMETER) and must leave
 * both mappings alone.
 */
static void test_seg_unmap_other(struct ivm_domain *d, struct rte_mempool *mp)
{
	const char *group = "input";
	const uint16_t len = 64;
	struct rte_mbuf *held[63] = { NULL };
	struct rte_mbuf *a = NULL, *b = NULL;
	unsigned n = 0;
	ivm_la la_a, la_b;

	while (n < 63 && (held[n] = rte_pktmbuf_alloc(mp)) != NULL)
		n++;
	for (unsigned i = 0; i < n && !b; i++) {
		uintptr_t off = ((uintptr_t)held[i]->buf_addr + held[i]->data_off) %
				PAGE;

		if (off + len > PAGE)
			continue;
		for (unsigned j = 0; j < n && !b; j++) {
			uintptr_t x = (off - (uintptr_t)held[j]->buf_addr) % PAGE;

			if (j == i || x + len > held[j]->buf_len)
				continue;
			a = held[i];
			b = held[j];
			b->data_off = (uint16_t)x;
		}
	}
	if (!vmtest_check(b && rte_pktmbuf_append(a, len) &&
			  rte_pktmbuf_append(b, len), group,
			  "seg_unmap_other_found_pair"))
		goto out;
	if (ivm_dpdk_seg_map(d, a, RW, &la_a) != IVM_STATUS_SUCCESS ||
	    ivm_dpdk_seg_map(d, b, RW, &la_b) != IVM_STATUS_SUCCESS)
		vmtest_fatal("seg_map of two 64-byte segments failed: %s",
			     ivm_status_detail());
	vm_check_status(group, "seg_unmap_other_segments_iova",
			ivm_dpdk_seg_unmap(d, a, la_b), IVM_STATUS_INVALID_PARAMETER);
	vmtest_checkf(translates_to(d, la_a, rte_pktmbuf_mtod(a, void *), RW) &&
		      translates_to(d, la_b, rte_pktmbuf_mtod(b, void *), RW) &&
		      domain_mappings(d) == 2, group,
		      "seg_unmap_other_segments_iova_changed_nothing",
		      "a at 0x%llx, b at 0x%llx: %s, %s; %llu mappings",
		      (unsigned long long)la_a, (unsigned long long)la_b,
		      is_unmapped(d, la_a) ? "a unmapped" : "a mapped",
		      is_unmapped(d, la_b) ? "b unmapped" : "b mapped",
		      (unsigned long long)domain_mappings(d));
	/* Clean up whatever is left. */
	if (!is_unmapped(d, la_a))
		ivm_dpdk_seg_unmap(d, a, la_a);
	if (!is_unmapped(d, la_b))
		ivm_dpdk_seg_unmap(d, b, la_b);
out:
	for (unsigned i = 0; i < n; i++)
		rte_pktmbuf_free(held[i]);
}

/* --- 5. bad input ------------------------------------------------------------------ */

static void test_input(void)
{
	const char *group = "input";
	struct ivm_domain *d = NULL, *bare = NULL;
	struct ivm_domain_config bare_cfg = {
		.type = IVM_DOMAIN_TRANSLATE,
		.allocator = NULL,
		.backend = IVM_BACKEND_VFIO,
	};
	struct rte_mempool *mp, *empty;
	struct rte_mbuf *m;
	struct ivm_dpdk_pool *pool = NULL, *null_pool = NULL;
	struct ivm_dpdk_extmem *ext = NULL, *null_ext = NULL;
	struct pool_snap s;
	char why[256];
	uint8_t *va, *dpdk_mem;
	ivm_la la;
	size_t contiguous;
	int local;
	ivm_status st;

	if (!vm_check_status(group, "domain_create",
			     vm_make_domain(IVM_VFIO_MAP_DIRECT, IVM_FLUSH_STRICT, &d),
			     IVM_STATUS_SUCCESS))
		return;
	if (!vm_check_status(group, "domain_create_without_allocator",
			     ivm_domain_create(&bare_cfg, &bare), IVM_STATUS_SUCCESS))
		goto out_domain;
	mp = make_pool("vmd_input", 63);
	empty = rte_mempool_create_empty("vmd_empty", 63,
					 sizeof(struct rte_mbuf) + DATA_ROOM, 0,
					 sizeof(struct rte_pktmbuf_pool_private),
					 SOCKET_ID_ANY, 0);
	if (!empty)
		vmtest_fatal("rte_mempool_create_empty: %s", rte_strerror(rte_errno));
	snap_take(&s, mp);

	/* ivm_dpdk_pool_map */
	vm_check_status(group, "pool_map_null_domain",
			ivm_dpdk_pool_map(NULL, mp, RW, &pool),
			IVM_STATUS_INVALID_PARAMETER);
	vm_check_status(group, "pool_map_null_pool",
			ivm_dpdk_pool_map(d, NULL, RW, &pool),
			IVM_STATUS_INVALID_PARAMETER);
	vm_check_status(group, "pool_map_null_out",
			ivm_dpdk_pool_map(d, mp, RW, NULL),
			IVM_STATUS_INVALID_PARAMETER);
	vm_check_status(group, "pool_map_unknown_permission",
			ivm_dpdk_pool_map(d, mp, RW | 0x80u, &pool),
			IVM_STATUS_INVALID_PARAMETER);
	vm_check_status(group, "pool_map_no_permission",
			ivm_dpdk_pool_map(d, mp, 0, &pool),
			IVM_STATUS_INVALID_PARAMETER);
	vm_check_status(group, "pool_map_pool_without_memory",
			ivm_dpdk_pool_map(d, empty, RW, &pool),
			IVM_STATUS_INVALID_PARAMETER);
	vm_check_status(group, "pool_map_domain_without_allocator",
			ivm_dpdk_pool_map(bare, mp, RW, &pool),
			IVM_STATUS_NOT_SUPPORTED);
	vmtest_checkf(snap_unchanged(&s, why, sizeof(why)) &&
		      domain_mappings(d) == 0 && domain_mappings(bare) == 0,
		      group, "pool_map_failures_changed_nothing", "%s", why);

	/* ivm_dpdk_pool_info, ivm_dpdk_pool_iova: on a real mapping */
	st = ivm_dpdk_pool_map(d, mp, IVM_PERM_READ, &pool);
	if (vm_check_status(group, "pool_map_read_only", st, IVM_STATUS_SUCCESS)) {
		check_pool_addresses(group, "read_only", d, pool, &s, IVM_PERM_READ);
		vm_check_status(group, "pool_iova_null_pool",
				ivm_dpdk_pool_iova(NULL, s.mbufs[0]->buf_addr, &la,
						&contiguous),
				IVM_STATUS_INVALID_PARAMETER);
		vm_check_status(group, "pool_iova_null_va",
				ivm_dpdk_pool_iova(pool, NULL, &la, &contiguous),
				IVM_STATUS_INVALID_PARAMETER);
		vm_check_status(group, "pool_iova_null_out",
				ivm_dpdk_pool_iova(pool, s.mbufs[0]->buf_addr, NULL,
						&contiguous),
				IVM_STATUS_INVALID_PARAMETER);
		vm_check_status(group, "pool_iova_outside_pool",
				ivm_dpdk_pool_iova(pool, &local, &la, &contiguous),
				IVM_STATUS_INVALID_PARAMETER);
		vm_check_status(group, "pool_iova_past_last_chunk",
				ivm_dpdk_pool_iova(pool,
						(uint8_t *)s.chunks[s.nchunks - 1].addr +
						s.chunks[s.nchunks - 1].len,
						&la, &contiguous),
				IVM_STATUS_INVALID_PARAMETER);
		ivm_dpdk_pool_unmap(&pool);
		vmtest_checkf(pool == NULL && snap_unchanged(&s, why, sizeof(why)) &&
			      domain_mappings(d) == 0, group,
			      "pool_unmap_read_only", "%s", why);
	}
	ivm_dpdk_pool_unmap(NULL);
	ivm_dpdk_pool_unmap(&null_pool);
	vmtest_check(null_pool == NULL, group, "pool_unmap_null_does_nothing");

	/* ivm_dpdk_seg_map / seg_unmap */
	m = rte_pktmbuf_alloc(mp);
	if (!m)
		vmtest_fatal("rte_pktmbuf_alloc");
	vm_check_status(group, "seg_map_data_len_0", ivm_dpdk_seg_map(d, m, RW, &la),
			IVM_STATUS_INVALID_PARAMETER);
	if (!rte_pktmbuf_append(m, 1500))
		vmtest_fatal("rte_pktmbuf_append");
	vm_check_status(group, "seg_map_null_domain",
			ivm_dpdk_seg_map(NULL, m, RW, &la), IVM_STATUS_INVALID_PARAMETER);
	vm_check_status(group, "seg_map_null_seg", ivm_dpdk_seg_map(d, NULL, RW, &la),
			IVM_STATUS_INVALID_PARAMETER);
	vm_check_status(group, "seg_map_null_out", ivm_dpdk_seg_map(d, m, RW, NULL),
			IVM_STATUS_INVALID_PARAMETER);
	vm_check_status(group, "seg_map_unknown_permission",
			ivm_dpdk_seg_map(d, m, IVM_PERM_WRITE | 0x80u, &la),
			IVM_STATUS_INVALID_PARAMETER);
	vm_check_status(group, "seg_map_no_permission", ivm_dpdk_seg_map(d, m, 0, &la),
			IVM_STATUS_INVALID_PARAMETER);
	vmtest_check(domain_mappings(d) == 0, group,
		     "seg_map_failures_changed_nothing");
	st = ivm_dpdk_seg_map(d, m, IVM_PERM_WRITE, &la);
	if (vm_check_status(group, "seg_map_write_only", st, IVM_STATUS_SUCCESS)) {
		vm_check_status(group, "seg_unmap_null_seg",
				ivm_dpdk_seg_unmap(d, NULL, la),
				IVM_STATUS_INVALID_PARAMETER);
		vm_check_status(group, "seg_unmap_wrong_iova",
				ivm_dpdk_seg_unmap(d, m, la + 1),
				IVM_STATUS_INVALID_PARAMETER);
		vmtest_check(translates_to(d, la, rte_pktmbuf_mtod(m, void *),
					   IVM_PERM_WRITE) &&
			     domain_mappings(d) == 1, group,
			     "seg_unmap_failures_changed_nothing");
		vm_check_status(group, "seg_unmap", ivm_dpdk_seg_unmap(d, m, la),
				IVM_STATUS_SUCCESS);
		vm_check_status(group, "seg_unmap_twice", ivm_dpdk_seg_unmap(d, m, la),
				IVM_STATUS_INVALID_PARAMETER);
	}
	rte_pktmbuf_free(m);
	test_seg_unmap_other(d, mp);

	/* ivm_dpdk_extmem_map */
	va = mmap(NULL, EXT_LEN, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (va == MAP_FAILED)
		vmtest_fatal("mmap: %s", strerror(errno));
	vm_check_status(group, "extmem_misaligned",
			ivm_dpdk_extmem_map(d, va + 64, EXT_LEN - PAGE, PAGE, RW, NULL,
					 &ext),
			IVM_STATUS_INVALID_PARAMETER);
	vm_check_status(group, "extmem_len_0",
			ivm_dpdk_extmem_map(d, va, 0, PAGE, RW, NULL, &ext),
			IVM_STATUS_INVALID_PARAMETER);
	vm_check_status(group, "extmem_len_not_page_multiple",
			ivm_dpdk_extmem_map(d, va, PAGE + 512, PAGE, RW, NULL, &ext),
			IVM_STATUS_INVALID_PARAMETER);
	vm_check_status(group, "extmem_page_sz_0",
			ivm_dpdk_extmem_map(d, va, EXT_LEN, 0, RW, NULL, &ext),
			IVM_STATUS_INVALID_PARAMETER);
	vm_check_status(group, "extmem_len_not_huge_page_multiple",
			ivm_dpdk_extmem_map(d, va, EXT_LEN, 2u << 20, RW, NULL, &ext),
			IVM_STATUS_INVALID_PARAMETER);
	vm_check_status(group, "extmem_unknown_permission",
			ivm_dpdk_extmem_map(d, va, EXT_LEN, PAGE, RW | 0x80u, NULL, &ext),
			IVM_STATUS_INVALID_PARAMETER);
	vmtest_check(memseg_iova(va) == RTE_BAD_IOVA &&
		     domain_mappings(d) == 0, group,
		     "extmem_failures_changed_nothing");
	/* Memory DPDK knows: its own heap, and memory registered already. */
	dpdk_mem = rte_malloc(NULL, 2 * PAGE, PAGE);
	if (!dpdk_mem)
		vmtest_fatal("rte_malloc");
	st = ivm_dpdk_extmem_map(d, dpdk_mem, 2 * PAGE, PAGE, RW, NULL, &ext);
	vm_check_status(group, "extmem_dpdk_heap_memory", st,
			IVM_STATUS_INVALID_PARAMETER);
	vmtest_checkf(memseg_iova(dpdk_mem) == rte_malloc_virt2iova(dpdk_mem) &&
		      domain_mappings(d) == 0, group,
		      "extmem_dpdk_heap_memory_changed_nothing",
		      "memseg iova 0x%llx, rte_malloc_virt2iova 0x%llx, %llu "
		      "mappings", (unsigned long long)memseg_iova(dpdk_mem),
		      (unsigned long long)rte_malloc_virt2iova(dpdk_mem),
		      (unsigned long long)domain_mappings(d));
	if (st == IVM_STATUS_SUCCESS)   /* undo, so that the rest can run */
		ivm_dpdk_extmem_unmap(&ext);
	rte_free(dpdk_mem);
	st = ivm_dpdk_extmem_map(d, va, EXT_LEN, PAGE, RW, NULL, &ext);
	if (vm_check_status(group, "extmem_map", st, IVM_STATUS_SUCCESS)) {
		struct ivm_dpdk_extmem *again = NULL;
		rte_iova_t iova = memseg_iova(va);

		vm_check_status(group, "extmem_registered_twice",
				ivm_dpdk_extmem_map(d, va, EXT_LEN, PAGE, RW, NULL,
						 &again),
				IVM_STATUS_INVALID_PARAMETER);
		vmtest_check(memseg_iova(va) == iova &&
			     iova == ivm_dpdk_extmem_iova(ext) &&
			     domain_mappings(d) == 1, group,
			     "extmem_registered_twice_changed_nothing");
		ivm_dpdk_extmem_unmap(&ext);
	}
	ivm_dpdk_extmem_unmap(NULL);
	ivm_dpdk_extmem_unmap(&null_ext);
	vmtest_check(ext == NULL && null_ext == NULL &&
		     memseg_iova(va) == RTE_BAD_IOVA &&
		     domain_mappings(d) == 0, group, "extmem_unmap_null_does_nothing");
	munmap(va, EXT_LEN);

	snap_free(&s);
	rte_mempool_free(empty);
	rte_mempool_free(mp);
	ivm_domain_destroy(&bare);
out_domain:
	ivm_domain_destroy(&d);
}

int main(int argc, char **argv)
{
	/* A DPDK application's start: no huge pages (the guest has none;
	 * --no-huge implies legacy memory, which --in-memory refuses, so
	 * --no-shconf keeps the run files out instead), no PCI bus (edu
	 * belongs to the iovamap domain), one lcore, and a virtual device
	 * for the extmem checks. */
	char *eal_argv[] = {
		argv[0], "--no-huge", "-m", "64", "--no-pci", "--no-shconf",
		"--no-telemetry", "-l", "0",
		"--log-level=lib.eal:error", "--vdev=" VDEV_NAME, NULL,
	};
	const int eal_argc = (int)(sizeof(eal_argv) / sizeof(eal_argv[0])) - 1;
	const char *paths = getenv("VM_DPDK_PATHS");
	char list[64];
	uint64_t t0 = vmtest_now_ns();

	setvbuf(stdout, NULL, _IOLBF, 0);
	bdf = vm_edu_bdf(argc, argv);
	if (!vmtest_checkf(rte_eal_init(eal_argc, eal_argv) >= 0, "eal", "init",
			   "rte_errno %d", rte_errno))
		vmtest_fatal("rte_eal_init failed: nothing to test");
	vmtest_info("EAL up in %llu ms: IOVA as %s, %u lcore(s), mbuf ops %s",
		    (unsigned long long)((vmtest_now_ns() - t0) / 1000000),
		    rte_eal_iova_mode() == RTE_IOVA_VA ? "VA" : "PA",
		    rte_lcore_count(), rte_mbuf_best_mempool_ops());

	snprintf(list, sizeof(list), "%s", paths ? paths : "direct dpdk");
	for (char *save, *p = strtok_r(list, " ,", &save); p;
	     p = strtok_r(NULL, " ,", &save)) {
		uint64_t t1 = vmtest_now_ns();

		/* The direct path in a lazy domain (unmaps blocked after a
		 * flush), the DPDK path in a strict one (blocked at once). */
		if (!strcmp(p, "direct"))
			test_path(p, IVM_VFIO_MAP_DIRECT, IVM_FLUSH_LAZY);
		else if (!strcmp(p, "dpdk"))
			test_path(p, IVM_VFIO_MAP_DPDK, IVM_FLUSH_STRICT);
		else
			vmtest_fatal("VM_DPDK_PATHS: unknown path '%s'", p);
		vmtest_info("%s: done in %llu ms", p,
			    (unsigned long long)((vmtest_now_ns() - t1) / 1000000));
	}
	test_input();
	vmtest_check(rte_eal_cleanup() == 0, "eal", "cleanup");
	return vmtest_result();
}
