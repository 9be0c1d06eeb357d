/* SPDX-License-Identifier: MIT */
/*
 * bb_util.h - helpers shared by the black-box unit tests: domain set-up,
 * physical descriptors, translation expectations and "nothing changed"
 * snapshots.  Only public headers are used, so the helpers also serve the
 * white-box tests unchanged.
 *
 * Checking helpers are macros so that a failure reports the caller's line.
 * Set-up helpers abort on failure: a test that cannot build its fixture has
 * nothing meaningful left to check.
 */
#ifndef IVM_TESTS_BB_UTIL_H
#define IVM_TESTS_BB_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iovamap/iovamap.h>

#include "check.h"

#define PG ((uint64_t)IVM_PAGE_SIZE)
#define PERM_RW (IVM_PERM_READ | IVM_PERM_WRITE)
/* A physical base that is never touched by a device in these tests. */
#define FAKE_PA 0x40000000ull

static inline void bb_die(const char *what, ivm_status st)
{
	fprintf(stderr, "fixture failed: %s -> %s\n", what, ivm_status_name(st));
	abort();
}

/* A domain of @type; @width 0 means the default; @alloc_type/@alloc_flags
 * give an allocator config unless @no_config. */
static inline struct ivm_domain *
bb_domain_full(enum ivm_domain_type type, bool with_config,
	       enum ivm_allocator_type alloc_type, uint32_t width,
	       uint32_t alloc_flags, const struct ivm_reserved_region *rr,
	       size_t rr_count)
{
	struct ivm_allocator_config ac;
	struct ivm_domain_config cfg;
	struct ivm_domain *d = NULL;

	memset(&ac, 0, sizeof(ac));
	memset(&cfg, 0, sizeof(cfg));
	ac.type = alloc_type;
	ac.address_width = width;
	ac.flags = alloc_flags;
	cfg.type = type;
	/* The contract tests check exact allocator state and that a DMA
	 * faults as soon as its unmap returns: strict invalidation and no
	 * magazine cache.  The default (lazy, cached) configuration has its
	 * own tests (test_flush.c, test_iova*.c, stress suite). */
	cfg.flush_mode = IVM_FLUSH_STRICT;
	cfg.disable_iova_cache = true;
	cfg.allocator = with_config ? &ac : NULL;
	cfg.reserved = rr;
	cfg.reserved_count = rr_count;
	ivm_status st = ivm_domain_create(&cfg, &d);
	if (st != IVM_STATUS_SUCCESS || d == NULL)
		bb_die("ivm_domain_create", st);
	return d;
}

/* Translate domain without an allocator, default (48-bit) width. */
static inline struct ivm_domain *bb_domain_plain(void)
{
	return bb_domain_full(IVM_DOMAIN_TRANSLATE, false, IVM_ALLOCATOR_NONE,
			      0, 0, NULL, 0);
}

/* Translate domain without an allocator but with a given width. */
static inline struct ivm_domain *bb_domain_noalloc(uint32_t width)
{
	return bb_domain_full(IVM_DOMAIN_TRANSLATE, true, IVM_ALLOCATOR_NONE,
			      width, 0, NULL, 0);
}

/* Translate domain with a Buddy allocator. */
static inline struct ivm_domain *bb_domain_buddy(uint32_t width,
						 uint32_t flags)
{
	return bb_domain_full(IVM_DOMAIN_TRANSLATE, true, IVM_ALLOCATOR_BUDDY,
			      width, flags, NULL, 0);
}

static inline struct ivm_domain *bb_domain_passthrough(void)
{
	return bb_domain_full(IVM_DOMAIN_PASSTHROUGH, false,
			      IVM_ALLOCATOR_NONE, 0, 0, NULL, 0);
}

static inline struct ivm_phys bb_contig(uint64_t base, uint64_t size)
{
	struct ivm_phys p;
	memset(&p, 0, sizeof(p));
	p.type = IVM_PHYS_CONTIGUOUS;
	p.contiguous.base = base;
	p.contiguous.size = (size_t)size;
	return p;
}

static inline struct ivm_phys bb_buffer(void *va, size_t size)
{
	struct ivm_phys p;
	memset(&p, 0, sizeof(p));
	p.type = IVM_PHYS_BUFFER;
	p.buffer.va = va;
	p.buffer.size = size;
	return p;
}

static inline struct ivm_phys bb_pfns(const uint64_t *pfns, size_t count)
{
	struct ivm_phys p;
	memset(&p, 0, sizeof(p));
	p.type = IVM_PHYS_PFN_ARRAY;
	p.pfn_array.pfns = pfns;
	p.pfn_array.count = count;
	return p;
}

/* Map @pages pages of fake contiguous memory at explicit @la. */
static inline ivm_status bb_map_at(struct ivm_domain *d, uint32_t perms,
				   uint64_t pa, uint64_t pages, ivm_la la)
{
	struct ivm_phys p = bb_contig(pa, pages * PG);
	ivm_la out = 0;
	ivm_status st = ivm_map_logical_range_ex(d, perms, &p, &la, NULL,
						 NULL, &out);
	if (st == IVM_STATUS_SUCCESS && out != la) {
		fprintf(stderr, "  explicit map at 0x%" PRIx64
			" returned la 0x%" PRIx64 "\n", la, out);
		ivm_test_failed_checks++;
	}
	return st;
}

/* Map @pages pages of fake contiguous memory wherever the allocator
 * likes (optionally inside [*min, *max]). */
static inline ivm_status bb_map_alloc(struct ivm_domain *d, uint32_t perms,
				      uint64_t pa, uint64_t pages,
				      const ivm_la *min, const ivm_la *max,
				      ivm_la *la_out)
{
	struct ivm_phys p = bb_contig(pa, pages * PG);
	return ivm_map_logical_range_ex(d, perms, &p, NULL, min, max, la_out);
}

/* Translation expectations. */
#define EXPECT_TR(d, la, pa_want, perms_want)                              \
	do {                                                               \
		uint64_t tr_pa_ = 0;                                       \
		uint32_t tr_perm_ = 0xdeadu;                               \
		CHECK_STATUS(ivm_translate((d), (la), &tr_pa_, &tr_perm_), \
			     IVM_STATUS_SUCCESS);                          \
		CHECK_EQ_U64(tr_pa_, (pa_want));                           \
		CHECK_EQ_U64(tr_perm_, (perms_want));                      \
	} while (0)

#define EXPECT_UNMAPPED(d, la)                                             \
	do {                                                               \
		uint64_t tr_pa_ = 0x5a5a5a5a;                              \
		CHECK_STATUS(ivm_translate((d), (la), &tr_pa_, NULL),      \
			     IVM_STATUS_INVALID_PARAMETER_2);              \
		CHECK_EQ_U64(tr_pa_, 0x5a5a5a5a);                          \
	} while (0)

static inline struct ivm_domain_stats bb_stats(struct ivm_domain *d)
{
	struct ivm_domain_stats s;
	memset(&s, 0xff, sizeof(s));
	ivm_status st = ivm_domain_get_stats(d, &s);
	if (st != IVM_STATUS_SUCCESS)
		bb_die("ivm_domain_get_stats", st);
	return s;
}

/*
 * "Nothing changed" snapshots.  With @probe (domains with an allocator)
 * the snapshot also records the address a one-page allocation gets now
 * (mapped and unmapped again, so the probe itself leaves nothing behind);
 * a failed call that leaked logical space moves it.
 */
#define BB_PROBE_PA 0x7ff000000ull
#define BB_PROBE_FAILED (~(ivm_la)0)

struct bb_snap {
	struct ivm_domain_stats st;
	bool probe;
	ivm_la next;
};

static inline ivm_la bb_probe_next(struct ivm_domain *d)
{
	ivm_la la = BB_PROBE_FAILED;
	if (bb_map_alloc(d, IVM_PERM_READ, BB_PROBE_PA, 1, NULL, NULL, &la) !=
	    IVM_STATUS_SUCCESS)
		return BB_PROBE_FAILED;
	ivm_status st = ivm_unmap_logical_range(d, la, 1);
	if (st != IVM_STATUS_SUCCESS)
		bb_die("probe unmap", st);
	return la;
}

static inline struct bb_snap bb_snap_take(struct ivm_domain *d, bool probe)
{
	struct bb_snap s;
	memset(&s, 0, sizeof(s));
	s.probe = probe;
	s.next = probe ? bb_probe_next(d) : 0;
	s.st = bb_stats(d);
	return s;
}

#define CHECK_UNCHANGED(d, snap)                                           \
	do {                                                               \
		struct bb_snap now_ = bb_snap_take((d), (snap).probe);     \
		CHECK_EQ_U64(now_.st.mappings, (snap).st.mappings);        \
		CHECK_EQ_U64(now_.st.mapped_pages, (snap).st.mapped_pages); \
		CHECK_EQ_U64(now_.st.iova_used_pages,                      \
			     (snap).st.iova_used_pages);                   \
		CHECK_EQ_U64(now_.st.reservations, (snap).st.reservations); \
		CHECK_EQ_U64(now_.next, (snap).next);                      \
	} while (0)

/* Page-aligned, zero-filled heap buffer; aborts on failure. */
static inline void *bb_pages(size_t pages)
{
	void *p = aligned_alloc(IVM_PAGE_SIZE, pages * IVM_PAGE_SIZE);
	if (!p)
		bb_die("aligned_alloc", IVM_STATUS_INSUFFICIENT_RESOURCES);
	memset(p, 0, pages * IVM_PAGE_SIZE);
	return p;
}

#endif /* IVM_TESTS_BB_UTIL_H */
