/* SPDX-License-Identifier: MIT */
/*
 * fuzz_api.c - libFuzzer target over the public mapping API: a domain
 * configuration and a sequence of calls decoded from the input
 * (ivm_map_logical_range_ex with explicit / min / max addresses, unmaps,
 * identity maps, reservations and maps inside them, translations,
 * flushes, trims), each checked against a reference model of the
 * documented contract right after it returns.
 *
 * Design source: differential fuzzing (a reference model written from
 * the documentation, not from the code) as in the sanitizer-driven API
 * fuzzers of OSS-Fuzz; the model states the rules of include/iovamap/
 * map.h, reserve.h, domain.h and docs/design.md:
 *  1. Parameters are checked in argument order, so a malformed call gets
 *     exactly the status of its first bad parameter (map.h), and only
 *     then IN_USE / INSUFFICIENT_RESOURCES.
 *  2. An explicit range, an identity range or an explicit reservation is
 *     IN_USE exactly when it overlaps a live mapping's space (allocated
 *     maps: their whole power-of-two block), a reservation or a reserved
 *     region; otherwise it succeeds.
 *  3. An allocator-chosen map or reservation succeeds exactly when an
 *     aligned block of its size is free inside its window (Buddy: aligned
 *     to its size, lowest first when the cache is off), else
 *     INSUFFICIENT_RESOURCES; a window that can never hold it is MIX.
 *  4. An unmap succeeds exactly when its range is one or more adjacent
 *     whole mappings of its own family; otherwise INVALID_PARAMETER.
 *  5. A failed call changes nothing; after every call the library's
 *     counters (mappings, pages, reservations, IOVA in use) equal the
 *     model's, and every live mapping translates to its memory.
 *  6. Teardown: everything unmapped and freed leaves no mapping, no
 *     empty table after a trim, and IOVA in use equal to the reserved
 *     regions; ASan's leak check (libFuzzer -detect_leaks) covers memory.
 * In builds with fault injection, an input may arm "the n-th allocation /
 * table / backend map of the next call fails": the call must then end in
 * its expected status or INSUFFICIENT_RESOURCES (changing nothing), an
 * unmap must still succeed, and a map inside a reservation must not
 * allocate at all.
 *
 * Input format (bytes; reading past the end gives zeros):
 *   header:  [0] domain bits: 0-1 allocator (0 none, 1 none with width,
 *                 2 Buddy, 3 Buddy + explicit), 2 cache off, 3 strict,
 *                 4 PassThrough, 5 type 2 / 3 (refused), 6-7 regions
 *            [1] width: 13 + v % 51, or v >= 0xf8: 0, 12, 64, 255 ...
 *            per region: u16 first page, u8 pages, u8 flags (bit 0
 *                 should_map, bit 1 misaligned base)
 *   then up to MAX_OPS operations: u8 opcode % 12, then its operands
 *   (see the op_* functions; every operand is a byte or a little-endian
 *   u16/u32 from the stream).  fuzz/make-corpus.py writes the seeds in
 *   this format.
 *
 * Replaying an input: `iovamap-fuzz-api FILE`; with IVM_FUZZ_TRACE=1 every
 * call is printed with its status and the model's expectation.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iovamap/iovamap.h"
#include "ivm_config.h"
#if IVM_FAULT_INJECTION
#include "fault.h"
#endif

#define PAGE ((uint64_t)4096)
#define MAX_OPS 48
#define MAX_MAPS 64
#define MAX_RESV 8
#define MAX_PFNS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                                          \
	do {                                                               \
		fprintf(stderr, "fuzz_api: ");                             \
		fprintf(stderr, __VA_ARGS__);                              \
		fputc('\n', stderr);                                       \
		abort();                                                   \
	} while (0)

/* ---- the input ---------------------------------------------------------------------- */

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct input *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

static uint16_t u16(struct input *in)
{
	return (uint16_t)(u8(in) | u8(in) << 8);
}

static uint32_t u32(struct input *in)
{
	return (uint32_t)u16(in) | (uint32_t)u16(in) << 16;
}

/* ---- the model ---------------------------------------------------------------------- */

enum kind { K_ALLOC, K_EXPLICIT, K_IDENTITY, K_RESERVED, K_REGION };

struct fmap {
	bool used;
	enum kind kind;
	uint64_t first, pages;    /* logical pages */
	uint64_t space;           /* pages it holds (allocated: its block) */
	uint32_t perms;
	bool pfn;
	uint64_t base;            /* contiguous: pa of page 0 */
	uint64_t pfns[MAX_PFNS];
	int resv;
};

struct fresv {
	bool used;
	struct ivm_reservation *h;
	uint64_t first, pages, space;
	unsigned maps;
};

struct model {
	struct ivm_domain *d;
	bool translate, has_alloc, explicit_ok, cache, lazy;
	unsigned width;
	uint64_t total;           /* pages of the space */
	uint64_t region_space;    /* allocator pages the regions hold */
	struct fmap m[MAX_MAPS + 2]; /* + the should_map regions */
	struct fresv r[MAX_RESV];
	struct { bool used; uint64_t first, pages; } marker[2]; /* regions
						without should_map */
};

static bool overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
	return a < b + bn && b < a + an;
}

/* Rule 2: does [first, first + n) meet anything that holds space? */
static bool occupied(const struct model *mo, uint64_t first, uint64_t n)
{
	for (unsigned i = 0; i < MAX_MAPS + 2; i++) {
		const struct fmap *m = &mo->m[i];
		if (m->used && m->kind != K_RESERVED &&
		    overlap(first, n, m->first, mo->has_alloc ? m->space : m->pages))
			return true;
	}
	for (unsigned i = 0; i < MAX_RESV; i++) {
		const struct fresv *r = &mo->r[i];
		if (r->used && overlap(first, n, r->first,
				       mo->has_alloc ? r->space : r->pages))
			return true;
	}
	for (unsigned i = 0; i < 2; i++)
		if (mo->marker[i].used &&
		    overlap(first, n, mo->marker[i].first, mo->marker[i].pages))
			return true;
	return false;
}

static unsigned order_of(uint64_t pages)
{
	unsigned o = 0;
	while ((1ull << o) < pages)
		o++;
	return o;
}

/* The documented window (map.h): [lo, hi] in pages; false: MIX. */
static bool window(const struct model *mo, uint64_t pages, const ivm_la *min,
		   const ivm_la *max, uint64_t *lo, uint64_t *hi)
{
	uint64_t block = 1ull << order_of(pages);

	*lo = 0;
	*hi = mo->total - 1;
	if (min) {
		if (*min > UINT64_MAX - (PAGE - 1))
			return false;
		*lo = (*min + PAGE - 1) / PAGE;
	}
	if (max && *max != UINT64_MAX) {
		uint64_t end = (*max + 1) / PAGE;
		if (end == 0)
			return false;
		if (end - 1 < *hi)
			*hi = end - 1;
	}
	if (*lo > *hi)
		return false;
	uint64_t start = (*lo + block - 1) & ~(block - 1);
	return start <= *hi && *hi - start >= block - 1;
}

/* Rule 1's window check (domain_check_window), for maps and reservations:
 * true when min / max refuse the request with INVALID_PARAMETER_MIX (an
 * explicit range outside them, or no aligned block between them).  For an
 * allocation, *lo and *hi receive the window (window()). */
static bool window_mix(const struct model *mo, uint64_t pages,
		       const ivm_la *ex, const ivm_la *min, const ivm_la *max,
		       uint64_t *lo, uint64_t *hi)
{
	if (!mo->has_alloc)
		return false; /* min and max are ignored */
	if (ex)
		return (min && *ex < *min) ||
		       (max && *ex + pages * PAGE - 1 > *max);
	return !window(mo, pages, min, max, lo, hi);
}

/* Rule 3: the lowest free aligned block in [lo, hi]; false if none. */
static bool free_block(const struct model *mo, uint64_t lo, uint64_t hi,
		       uint64_t block, uint64_t *out)
{
	uint64_t start = (lo + block - 1) & ~(block - 1);

	while (start >= lo && start <= hi && hi - start >= block - 1) {
		uint64_t next = start;
		for (unsigned i = 0; i < MAX_MAPS + 2; i++) {
			const struct fmap *m = &mo->m[i];
			if (m->used && m->kind != K_RESERVED &&
			    overlap(start, block, m->first, m->space) &&
			    m->first + m->space > next)
				next = m->first + m->space;
		}
		for (unsigned i = 0; i < MAX_RESV; i++) {
			const struct fresv *r = &mo->r[i];
			if (r->used && overlap(start, block, r->first, r->space) &&
			    r->first + r->space > next)
				next = r->first + r->space;
		}
		for (unsigned i = 0; i < 2; i++)
			if (mo->marker[i].used &&
			    overlap(start, block, mo->marker[i].first,
				    mo->marker[i].pages) &&
			    mo->marker[i].first + mo->marker[i].pages > next)
				next = mo->marker[i].first + mo->marker[i].pages;
		if (next == start) {
			*out = start;
			return true;
		}
		uint64_t aligned = (next + block - 1) & ~(block - 1);
		if (aligned <= start) /* wrapped */
			return false;
		start = aligned;
	}
	return false;
}

static bool range_ok(const struct model *mo, uint64_t first, uint64_t pages)
{
	return pages > 0 && first < mo->total && pages <= mo->total - first;
}

static struct fmap *new_map(struct model *mo)
{
	for (unsigned i = 0; i < MAX_MAPS; i++)
		if (!mo->m[i].used) {
			memset(&mo->m[i], 0, sizeof(mo->m[i]));
			mo->m[i].used = true;
			mo->m[i].resv = -1;
			return &mo->m[i];
		}
	return NULL;
}

static unsigned live_maps(const struct model *mo)
{
	unsigned n = 0;
	for (unsigned i = 0; i < MAX_MAPS; i++)
		n += mo->m[i].used;
	return n;
}

/* The k-th live mapping of one of the kinds in mask, or NULL. */
static struct fmap *pick_map(struct model *mo, unsigned k, unsigned mask)
{
	unsigned n = 0;
	for (unsigned i = 0; i < MAX_MAPS; i++)
		n += mo->m[i].used && (mask & (1u << mo->m[i].kind));
	if (n == 0)
		return NULL;
	k %= n;
	for (unsigned i = 0; i < MAX_MAPS; i++)
		if (mo->m[i].used && (mask & (1u << mo->m[i].kind)) && k-- == 0)
			return &mo->m[i];
	return NULL;
}

static struct fmap *map_at(struct model *mo, uint64_t first, unsigned mask)
{
	for (unsigned i = 0; i < MAX_MAPS + 2; i++)
		if (mo->m[i].used && mo->m[i].first == first &&
		    (mask & (1u << mo->m[i].kind)))
			return &mo->m[i];
	return NULL;
}

/* Rule 4: is [first, first + pages) exactly adjacent whole mappings of
 * the kinds in mask (and, for reserved ones, of reservation resv)? */
static bool whole_run(struct model *mo, uint64_t first, uint64_t pages,
		      unsigned mask, int resv)
{
	uint64_t cur = first, end = first + pages;

	while (cur < end) {
		struct fmap *m = map_at(mo, cur, mask);
		if (!m || (resv >= 0 && m->resv != resv) || m->pages > end - cur)
			return false;
		cur += m->pages;
	}
	return cur == end;
}

static void drop_run(struct model *mo, uint64_t first, uint64_t pages,
		     unsigned mask)
{
	uint64_t cur = first, end = first + pages;

	while (cur < end) {
		struct fmap *m = map_at(mo, cur, mask);
		cur += m->pages;
		if (m->resv >= 0)
			mo->r[m->resv].maps--;
		m->used = false;
	}
}

/* ---- phys ---------------------------------------------------------------------------- */

struct fphys {
	struct ivm_phys phys;
	const struct ivm_phys *ptr;  /* NULL: the call gets NULL */
	uint64_t pfns[MAX_PFNS];
	bool valid;                  /* types.h's rules */
	uint64_t pages, base;
};

/* A descriptor from the input: operand byte t (type and flags), page
 * count byte c, u16 base page. */
static void read_phys(struct input *in, struct fphys *f)
{
	uint8_t t = u8(in), c = u8(in);
	uint16_t b = u16(in);
	uint64_t pages = c == 0xff ? 512 : 1 + (c & 15);
	uint64_t base = (t & 0x40) ? (uint64_t)(b & 0xff) << 21
				   : (uint64_t)b << 12;

	memset(f, 0, sizeof(*f));
	f->ptr = &f->phys;
	if (t & 0x20)
		base += 8 << (t & 3);             /* misaligned */
	if (t & 0x10)
		pages = 0;                        /* empty */
	switch ((t >> 2) & 3) {
	case 0:
		f->phys.type = IVM_PHYS_BUFFER;
		f->phys.buffer.va = (void *)(uintptr_t)base;
		f->phys.buffer.size = pages * PAGE + ((t & 0x80) ? 100 : 0);
		f->valid = base != 0 && (base % PAGE) == 0 && pages > 0 &&
			   !(t & 0x80);
		break;
	case 1:
		f->phys.type = IVM_PHYS_CONTIGUOUS;
		f->phys.contiguous.base = (t & 0x80) ? UINT64_MAX - PAGE + 1
						     : base;
		f->phys.contiguous.size = pages * PAGE;
		f->valid = (base % PAGE) == 0 && pages > 0 && !(t & 0x80);
		if ((t & 0x80) && pages == 1)
			f->valid = true; /* the last page of the address space */
		base = f->phys.contiguous.base;
		break;
	case 2:
		if (pages > MAX_PFNS)
			pages = MAX_PFNS;
		for (uint64_t i = 0; i < pages; i++)
			f->pfns[i] = (base >> 12) + i * (1 + (c >> 4));
		if (t & 0x80)
			f->pfns[pages ? pages - 1 : 0] = UINT64_MAX >> 4; /* > max */
		f->phys.type = IVM_PHYS_PFN_ARRAY;
		f->phys.pfn_array.pfns = f->pfns;
		f->phys.pfn_array.count = pages;
		f->valid = pages > 0 && !(t & 0x80);
		break;
	default:
		if (t & 0x80) {
			f->ptr = NULL;
		} else {
			f->phys.type = (enum ivm_phys_type)7;
		}
		f->valid = false;
		break;
	}
	f->pages = pages;
	f->base = base;
}

/* ---- checks after every call -------------------------------------------------- */

static uint64_t map_pa(const struct fmap *m, uint64_t i)
{
	return m->pfn ? m->pfns[i] << 12 : m->base + i * PAGE;
}

static void check_state(struct model *mo, const char *after)
{
	struct ivm_domain_stats s;
	uint64_t maps = 0, pages = 0, space = mo->region_space, resv = 0;

	if (mo->lazy && ivm_flush_domain(mo->d) != IVM_STATUS_SUCCESS)
		FAIL("ivm_flush_domain failed");
	if (ivm_domain_get_stats(mo->d, &s) != IVM_STATUS_SUCCESS)
		FAIL("ivm_domain_get_stats failed");
	for (unsigned i = 0; i < MAX_MAPS; i++) {
		const struct fmap *m = &mo->m[i];
		if (!m->used)
			continue;
		maps++;
		pages += m->pages;
		if (m->kind != K_RESERVED)
			space += m->space;
	}
	for (unsigned i = 0; i < MAX_RESV; i++)
		if (mo->r[i].used) {
			resv++;
			space += mo->r[i].space;
		}
	if (!mo->has_alloc)
		space = 0;
	if (!mo->translate)
		maps = pages = 0;
	if (s.mappings != maps || s.mapped_pages != pages ||
	    s.reservations != resv ||
	    s.iova_used_pages - s.iova_cached_pages != space)
		FAIL("after %s: library %" PRIu64 " mappings / %" PRIu64
		     " pages / %" PRIu64 " reservations / %" PRIu64
		     " IOVA pages in use; model %" PRIu64 " / %" PRIu64 " / %"
		     PRIu64 " / %" PRIu64, after, s.mappings, s.mapped_pages,
		     s.reservations, s.iova_used_pages - s.iova_cached_pages,
		     maps, pages, resv, space);
	for (unsigned i = 0; i < MAX_MAPS + 2; i++) {
		const struct fmap *m = &mo->m[i];
		if (!m->used || !mo->translate)
			continue;
		for (uint64_t k = 0; k < 2; k++) {
			uint64_t p = k ? m->pages - 1 : 0, pa = 0;
			uint32_t perms = 0;
			ivm_status st = ivm_translate(mo->d, (m->first + p) * PAGE + 5,
						      &pa, &perms);
			if (st != IVM_STATUS_SUCCESS || pa != map_pa(m, p) + 5 ||
			    perms != m->perms)
				FAIL("after %s: translate of mapping 0x%" PRIx64
				     " page %" PRIu64 ": %s pa 0x%" PRIx64
				     " perms %u, want 0x%" PRIx64 " perms %u",
				     after, m->first * PAGE, p,
				     ivm_status_name(st), pa, perms,
				     map_pa(m, p) + 5, m->perms);
		}
	}
}

/* ---- fault injection for the next call ---------------------------------------- */

struct armed {
	bool on;
	unsigned mask;
	long n;
};

static void arm(const struct armed *a)
{
#if IVM_FAULT_INJECTION
	if (a->on)
		ivm_fault_fail_nth(a->mask, a->n);
#else
	(void)a;
#endif
}

/* Did the armed failure fire in the call just made? */
static bool fired(struct armed *a, unsigned *mask_out)
{
	bool f = false;
#if IVM_FAULT_INJECTION
	if (a->on)
		f = ivm_fault_nth_fired();
#endif
	*mask_out = a->mask;
	a->on = false;
	return f;
}

/* Compare status with the model's expectation; an injected failure may
 * turn an expected success into INSUFFICIENT_RESOURCES (and nothing else).
 * Returns true when the call succeeded (the model then applies it). */
static bool trace; /* IVM_FUZZ_TRACE=1: print every call (replaying) */

static bool judge(const char *call, ivm_status st, ivm_status want, bool inj)
{
	if (trace)
		fprintf(stderr, "fuzz_api: %s -> %s (model: %s%s)\n", call,
			ivm_status_name(st), ivm_status_name(want),
			inj ? ", failure injected" : "");
	if (st == want)
		return st == IVM_STATUS_SUCCESS;
	if (inj && st == IVM_STATUS_INSUFFICIENT_RESOURCES &&
	    (want == IVM_STATUS_SUCCESS || want == IVM_STATUS_IN_USE))
		return false;
	FAIL("%s returned %s, the model expects %s%s", call,
	     ivm_status_name(st), ivm_status_name(want),
	     inj ? " (an injected failure fired)" : "");
}

/* ---- operations ----------------------------------------------------------------- */

static void op_map(struct model *mo, struct input *in, struct armed *a)
{
	uint8_t p = u8(in), f = u8(in);
	struct fphys ph;
	read_phys(in, &ph);
	uint32_t perms = (p & 0x80) ? (uint32_t)p << 1 : p & 3u;
	ivm_la ex = (uint64_t)u16(in) * PAGE, min = (uint64_t)u16(in) * PAGE,
	       max = (uint64_t)u16(in) * PAGE + PAGE - 1, got = 0xdead;
	if (f & 0x10)
		ex += 512;
	if (f & 0x20)
		ex = mo->total * PAGE - PAGE * (1 + (f >> 6));
	if (f & 0x40)
		min += 1 + (p & 0x3f);
	if (f & 0x80)
		max = UINT64_MAX;
	const ivm_la *pex = (f & 1) ? &ex : NULL, *pmin = (f & 2) ? &min : NULL,
		     *pmax = (f & 4) ? &max : NULL;
	ivm_la *out = (f & 8) ? NULL : &got;

	/* Rule 1, in argument order. */
	ivm_status want;
	uint64_t lo = 0, hi = 0, first = 0, pages = ph.pages;
	if (!mo->translate)
		want = IVM_STATUS_INVALID_PARAMETER_1;
	else if (perms & ~3u)
		want = IVM_STATUS_INVALID_PARAMETER_2;
	else if (!ph.valid || pages > mo->total)
		want = IVM_STATUS_INVALID_PARAMETER_3;
	else if (pex && (ex % PAGE || !range_ok(mo, ex / PAGE, pages)))
		want = IVM_STATUS_INVALID_PARAMETER_4;
	else if (window_mix(mo, pages, pex, pmin, pmax, &lo, &hi))
		want = IVM_STATUS_INVALID_PARAMETER_MIX;
	else if (!out)
		want = IVM_STATUS_INVALID_PARAMETER;
	else if (pex ? (mo->has_alloc && !mo->explicit_ok) : !mo->has_alloc)
		want = IVM_STATUS_NOT_SUPPORTED;
	else if (pex) /* rule 2 */
		want = occupied(mo, ex / PAGE, pages) ? IVM_STATUS_IN_USE
						      : IVM_STATUS_SUCCESS;
	else /* rule 3 */
		want = free_block(mo, lo, hi, 1ull << order_of(pages), &first)
			       ? IVM_STATUS_SUCCESS
			       : IVM_STATUS_INSUFFICIENT_RESOURCES;
	if (want == IVM_STATUS_SUCCESS && live_maps(mo) >= MAX_MAPS)
		return; /* the model is full: skip */

	arm(a);
	ivm_status st = ivm_map_logical_range_ex(mo->d, perms, ph.ptr, pex, pmin,
						 pmax, out);
	unsigned mask;
	bool inj = fired(a, &mask);
	if (!judge("ivm_map_logical_range_ex", st, want, inj)) {
		if (out && got != 0xdead)
			FAIL("a failed map wrote *la_out");
		return;
	}
	uint64_t block = pex ? pages : 1ull << order_of(pages);
	if (pex && got != ex)
		FAIL("explicit map at 0x%" PRIx64 " returned 0x%" PRIx64, ex, got);
	if (!pex) {
		uint64_t g = got / PAGE;
		if (got % (block * PAGE) || g < lo || g > hi || hi - g < block - 1 ||
		    occupied(mo, g, block))
			FAIL("allocated map of %" PRIu64 " pages at 0x%" PRIx64
			     ": not aligned, outside [0x%" PRIx64 ", 0x%" PRIx64
			     "] or over live space", pages, got, lo * PAGE,
			     hi * PAGE);
		if (!mo->cache && g != first)
			FAIL("allocated map (cache off) at 0x%" PRIx64 ", the "
			     "lowest free block is 0x%" PRIx64, got, first * PAGE);
	}
	struct fmap *m = new_map(mo);
	m->kind = pex ? K_EXPLICIT : K_ALLOC;
	m->first = got / PAGE;
	m->pages = pages;
	m->space = block;
	m->perms = perms;
	m->pfn = ph.phys.type == IVM_PHYS_PFN_ARRAY;
	m->base = ph.base;
	memcpy(m->pfns, ph.pfns, sizeof(m->pfns));
}

/* An unmap of logical, identity or reserved mappings (rule 4). */
static void op_unmap(struct model *mo, struct input *in, struct armed *a)
{
	uint8_t how = u8(in), k = u8(in), extra = u8(in);
	uint16_t page = u16(in);
	unsigned mask = (1u << K_ALLOC) | (1u << K_EXPLICIT);
	struct fmap *m = pick_map(mo, k, mask);
	ivm_la la = (uint64_t)page * PAGE;
	uint64_t pages = 1 + (extra & 15);

	if (m && (how & 1)) {
		la = m->first * PAGE;
		switch ((how >> 1) & 3) {
		case 0: pages = m->pages; break;
		case 1: pages = m->pages - 1; break;
		case 2: pages = m->pages + 1; break;
		default: pages = m->pages + (extra & 15); break;
		}
	}
	if (how & 0x10)
		la += 1 + (extra & 0x7f);
	if (how & 0x20)
		pages = (how & 0x40) ? UINT64_MAX / 2 : 0;

	ivm_status want;
	if (!mo->translate)
		want = IVM_STATUS_INVALID_PARAMETER_1;
	else if (la % PAGE)
		want = IVM_STATUS_INVALID_PARAMETER_2;
	else if (!range_ok(mo, la / PAGE, pages))
		want = IVM_STATUS_INVALID_PARAMETER_3;
	else if (whole_run(mo, la / PAGE, pages, mask, -1))
		want = IVM_STATUS_SUCCESS;
	else
		want = IVM_STATUS_INVALID_PARAMETER;
	arm(a);
	ivm_status st = ivm_unmap_logical_range(mo->d, la, pages);
	unsigned fm;
	fired(a, &fm);
	/* An unmap never fails for lack of memory (map.h). */
	if (judge("ivm_unmap_logical_range", st, want, false))
		drop_run(mo, la / PAGE, pages, mask);
}

static void op_identity(struct model *mo, struct input *in, struct armed *a,
			bool unmap)
{
	uint8_t p = u8(in), k = u8(in);
	struct fphys ph;
	read_phys(in, &ph);
	uint32_t perms = (p & 0x80) ? (uint32_t)p << 1 : p & 3u;
	struct fmap *m = pick_map(mo, k, 1u << K_IDENTITY);

	if (unmap && m && (p & 1)) { /* name a live one */
		memset(&ph, 0, sizeof(ph));
		ph.ptr = &ph.phys;
		ph.phys.type = IVM_PHYS_CONTIGUOUS;
		ph.phys.contiguous.base = m->first * PAGE;
		ph.phys.contiguous.size = m->pages * PAGE;
		ph.valid = true;
		ph.pages = m->pages;
		ph.base = m->first * PAGE;
	}
	bool pfn = ph.ptr && ph.phys.type == IVM_PHYS_PFN_ARRAY;
	uint64_t first = ph.base / PAGE, pages = ph.pages;
	ivm_status bad = unmap ? IVM_STATUS_INVALID_PARAMETER_2
			       : IVM_STATUS_INVALID_PARAMETER_3;
	ivm_status want;
	if (!unmap && (perms & ~3u))
		want = IVM_STATUS_INVALID_PARAMETER_2;
	else if (pfn)
		want = IVM_STATUS_NOT_SUPPORTED;
	else if (!ph.valid || (mo->translate && !range_ok(mo, first, pages)))
		want = bad;
	else if (!mo->translate)
		want = IVM_STATUS_SUCCESS; /* PassThrough: already identity */
	else if (unmap)
		want = whole_run(mo, first, pages, 1u << K_IDENTITY, -1)
			       ? IVM_STATUS_SUCCESS
			       : IVM_STATUS_INVALID_PARAMETER;
	else
		want = occupied(mo, first, pages) ? IVM_STATUS_IN_USE
						  : IVM_STATUS_SUCCESS;
	if (!unmap && want == IVM_STATUS_SUCCESS && mo->translate &&
	    live_maps(mo) >= MAX_MAPS)
		return;
	arm(a);
	ivm_status st = unmap ? ivm_unmap_identity_range_ex(mo->d, ph.ptr)
			      : ivm_map_identity_range_ex(mo->d, perms, ph.ptr);
	unsigned fm;
	bool inj = fired(a, &fm);
	if (!judge(unmap ? "ivm_unmap_identity_range_ex"
			 : "ivm_map_identity_range_ex", st, want,
		   inj && !unmap) || !mo->translate)
		return;
	if (unmap) {
		drop_run(mo, first, pages, 1u << K_IDENTITY);
		return;
	}
	m = new_map(mo);
	m->kind = K_IDENTITY;
	m->first = first;
	m->pages = m->space = pages;
	m->perms = perms;
	m->base = first * PAGE;
}

static void op_reserve(struct model *mo, struct input *in, struct armed *a)
{
	uint8_t f = u8(in), c = u8(in);
	uint64_t pages = 1 + (c & 63);
	uint64_t size = (f & 0x10) ? pages * PAGE + 8 : (f & 0x20) ? 0 : pages * PAGE;
	ivm_la ex = (uint64_t)u16(in) * PAGE, min = (uint64_t)u16(in) * PAGE,
	       max = (uint64_t)u16(in) * PAGE + PAGE - 1;
	const ivm_la *pex = (f & 1) ? &ex : NULL, *pmin = (f & 2) ? &min : NULL,
		     *pmax = (f & 4) ? &max : NULL;
	struct ivm_reservation *res = NULL;
	int slot = -1;

	for (int i = 0; i < MAX_RESV && slot < 0; i++)
		if (!mo->r[i].used)
			slot = i;
	ivm_status want;
	uint64_t lo = 0, hi = 0, first = 0;
	if (!mo->translate)
		want = IVM_STATUS_INVALID_PARAMETER_1;
	else if (size == 0 || size % PAGE || size / PAGE > mo->total)
		want = IVM_STATUS_INVALID_PARAMETER_2;
	else if (pex && !range_ok(mo, ex / PAGE, pages))
		want = IVM_STATUS_INVALID_PARAMETER_3;
	else if (window_mix(mo, pages, pex, pmin, pmax, &lo, &hi))
		want = IVM_STATUS_INVALID_PARAMETER_MIX;
	else if (f & 8)
		want = IVM_STATUS_INVALID_PARAMETER;
	else if (pex ? (mo->has_alloc && !mo->explicit_ok) : !mo->has_alloc)
		want = IVM_STATUS_NOT_SUPPORTED;
	else if (pex)
		want = occupied(mo, ex / PAGE, pages) ? IVM_STATUS_IN_USE
						      : IVM_STATUS_SUCCESS;
	else
		want = free_block(mo, lo, hi, 1ull << order_of(pages), &first)
			       ? IVM_STATUS_SUCCESS
			       : IVM_STATUS_INSUFFICIENT_RESOURCES;
	if (want == IVM_STATUS_SUCCESS && slot < 0)
		return;
	arm(a);
	ivm_status st = ivm_reserve_logical_range(mo->d, size, pex, pmin, pmax,
						  (f & 8) ? NULL : &res);
	unsigned fm;
	bool inj = fired(a, &fm);
	if (!judge("ivm_reserve_logical_range", st, want, inj))
		return;
	ivm_la base = 0;
	uint64_t usable = 0;
	if (ivm_reservation_base(res, &base, &usable) != IVM_STATUS_SUCCESS ||
	    usable != pages * PAGE)
		FAIL("ivm_reservation_base: size %" PRIu64 ", want %" PRIu64,
		     usable, pages * PAGE);
	uint64_t block = pex ? pages : 1ull << order_of(pages);
	if (pex ? base != ex
		: (base % (block * PAGE) || occupied(mo, base / PAGE, block) ||
		   base / PAGE < lo || base / PAGE > hi))
		FAIL("reservation of %" PRIu64 " pages at 0x%" PRIx64
		     " (explicit %d)", pages, base, pex != NULL);
	struct fresv *r = &mo->r[slot];
	r->used = true;
	r->h = res;
	r->first = base / PAGE;
	r->pages = pages;
	r->space = mo->has_alloc ? block : pages;
	r->maps = 0;
}

static struct fresv *pick_resv(struct model *mo, uint8_t k, int *index)
{
	unsigned n = 0;
	for (int i = 0; i < MAX_RESV; i++)
		n += mo->r[i].used;
	if (n == 0)
		return NULL;
	k %= n;
	for (int i = 0; i < MAX_RESV; i++)
		if (mo->r[i].used && k-- == 0) {
			*index = i;
			return &mo->r[i];
		}
	return NULL;
}

static void op_map_reserved(struct model *mo, struct input *in,
			    struct armed *a)
{
	uint8_t k = u8(in), o = u8(in), p = u8(in);
	struct fphys ph;
	read_phys(in, &ph);
	int ri = -1;
	struct fresv *r = pick_resv(mo, k, &ri);
	uint64_t off = (uint64_t)(o & 0x7f) * PAGE + ((o & 0x80) ? 64 : 0);
	uint32_t perms = (p & 0x80) ? (uint32_t)p << 1 : p & 3u;
	ivm_la got = 0xdead;
	ivm_la *out = (p & 0x40) ? NULL : &got;

	ivm_status want;
	if (!r)
		want = IVM_STATUS_INVALID_PARAMETER_1;
	else if (off % PAGE || off / PAGE >= r->pages)
		want = IVM_STATUS_INVALID_PARAMETER_2;
	else if (perms & ~3u)
		want = IVM_STATUS_INVALID_PARAMETER_3;
	else if (!ph.valid || ph.pages > r->pages - off / PAGE)
		want = IVM_STATUS_INVALID_PARAMETER_4;
	else if (!out)
		want = IVM_STATUS_INVALID_PARAMETER;
	else {
		want = IVM_STATUS_SUCCESS;
		for (unsigned i = 0; i < MAX_MAPS; i++) {
			const struct fmap *m = &mo->m[i];
			if (m->used && m->kind == K_RESERVED && m->resv == ri &&
			    overlap(m->first, m->pages, r->first + off / PAGE,
				    ph.pages))
				want = IVM_STATUS_IN_USE;
		}
	}
	if (want == IVM_STATUS_SUCCESS && live_maps(mo) >= MAX_MAPS)
		return;
	arm(a);
	ivm_status st = ivm_map_reserved_logical_range(r ? r->h : NULL, off, perms,
						       ph.ptr, out);
	unsigned fm;
	bool inj = fired(a, &fm);
#if IVM_FAULT_INJECTION
	/* reserve.h: "performs no memory allocation whatsoever". */
	if (inj && (fm & (IVM_FAULT_MASK(IVM_FAULT_ALLOC) |
			  IVM_FAULT_MASK(IVM_FAULT_PT_ALLOC))) &&
	    !(fm & IVM_FAULT_MASK(IVM_FAULT_BACKEND_MAP)))
		FAIL("a map inside a reservation reached an allocation");
#endif
	if (!judge("ivm_map_reserved_logical_range", st, want, inj))
		return;
	if (got != (r->first * PAGE + off))
		FAIL("map inside a reservation returned 0x%" PRIx64, got);
	struct fmap *m = new_map(mo);
	m->kind = K_RESERVED;
	m->first = r->first + off / PAGE;
	m->pages = ph.pages;
	m->space = 0;
	m->perms = perms;
	m->pfn = ph.phys.type == IVM_PHYS_PFN_ARRAY;
	m->base = ph.base;
	memcpy(m->pfns, ph.pfns, sizeof(m->pfns));
	m->resv = ri;
	r->maps++;
}

static void op_unmap_reserved(struct model *mo, struct input *in,
			      struct armed *a)
{
	uint8_t k = u8(in), o = u8(in), n = u8(in);
	int ri = -1;
	struct fresv *r = pick_resv(mo, k, &ri);
	uint64_t off = (uint64_t)(o & 0x7f) * PAGE + ((o & 0x80) ? 8 : 0);
	uint64_t pages = n & 31;

	if (r && (n & 0x80)) { /* name a live one */
		for (unsigned i = 0; i < MAX_MAPS; i++)
			if (mo->m[i].used && mo->m[i].resv == ri) {
				off = (mo->m[i].first - r->first) * PAGE;
				pages = mo->m[i].pages + ((n & 0x40) ? 1 : 0);
				break;
			}
	}
	ivm_status want;
	if (!r)
		want = IVM_STATUS_INVALID_PARAMETER_1;
	else if (off % PAGE || off / PAGE >= r->pages)
		want = IVM_STATUS_INVALID_PARAMETER_2;
	else if (pages == 0 || pages > r->pages - off / PAGE)
		want = IVM_STATUS_INVALID_PARAMETER_3;
	else
		want = whole_run(mo, r->first + off / PAGE, pages,
				 1u << K_RESERVED, ri)
			       ? IVM_STATUS_SUCCESS
			       : IVM_STATUS_INVALID_PARAMETER;
	arm(a);
	ivm_status st = ivm_unmap_reserved_logical_range(r ? r->h : NULL, off,
							 pages);
	unsigned fm;
	fired(a, &fm);
	if (judge("ivm_unmap_reserved_logical_range", st, want, false))
		drop_run(mo, r->first + off / PAGE, pages, 1u << K_RESERVED);
}

static void op_free_reserved(struct model *mo, struct input *in)
{
	int ri = -1;
	struct fresv *r = pick_resv(mo, u8(in), &ri);
	struct ivm_reservation *h = r ? r->h : NULL;
	ivm_status want = r && r->maps ? IVM_STATUS_IN_USE : IVM_STATUS_SUCCESS;
	ivm_status st = ivm_free_reserved_logical_range(&h);

	if (!judge("ivm_free_reserved_logical_range", st, want, false)) {
		if (h != r->h)
			FAIL("a refused free changed the handle");
		return;
	}
	if (h != NULL)
		FAIL("a successful free left the handle set");
	if (r)
		r->used = false;
}

static void op_translate(struct model *mo, struct input *in)
{
	uint8_t f = u8(in), k = u8(in);
	uint32_t raw = u32(in);
	struct fmap *m = pick_map(mo, k, 0x1f);
	ivm_la la = (uint64_t)raw * 16;
	uint64_t pa = 0;

	if (m && (f & 1))
		la = (m->first + (raw % m->pages)) * PAGE + (raw & (PAGE - 1));
	if (f & 2)
		la = UINT64_MAX - raw;
	ivm_status want;
	uint64_t want_pa = la;
	if (mo->translate) {
		const struct fmap *hit = NULL;
		for (unsigned i = 0; i < MAX_MAPS + 2 && !hit; i++)
			if (mo->m[i].used && la / PAGE >= mo->m[i].first &&
			    la / PAGE - mo->m[i].first < mo->m[i].pages)
				hit = &mo->m[i];
		if ((mo->width < 64 && (la >> mo->width)) || !hit)
			want = IVM_STATUS_INVALID_PARAMETER_2;
		else if (f & 4)
			want = IVM_STATUS_INVALID_PARAMETER_3;
		else {
			want = IVM_STATUS_SUCCESS;
			want_pa = map_pa(hit, la / PAGE - hit->first) + la % PAGE;
		}
	} else {
		want = (f & 4) ? IVM_STATUS_INVALID_PARAMETER_3 : IVM_STATUS_SUCCESS;
	}
	ivm_status st = ivm_translate(mo->d, la, (f & 4) ? NULL : &pa, NULL);
	if (judge("ivm_translate", st, want, false) && pa != want_pa)
		FAIL("ivm_translate(0x%" PRIx64 ") = 0x%" PRIx64 ", want 0x%" PRIx64,
		     la, pa, want_pa);
}

static void op_flush(struct model *mo, struct input *in)
{
	uint8_t f = u8(in);
	ivm_la list[4];
	size_t n = f & 3;
	ivm_status st, want = IVM_STATUS_SUCCESS;

	for (size_t i = 0; i < 4; i++)
		list[i] = (uint64_t)u32(in) << (f >> 4);
	switch ((f >> 2) & 3) {
	case 0:
		st = ivm_flush_domain(mo->d);
		break;
	case 1: {
		size_t done = 0;
		st = ivm_flush_poll(mo->d, &done);
		break;
	}
	default:
		for (size_t i = 0; i < n; i++)
			if (mo->width < 64 && (list[i] >> mo->width))
				want = IVM_STATUS_INVALID_PARAMETER_4;
		if ((f & 0x08) && n > 0) {
			want = IVM_STATUS_INVALID_PARAMETER_4;
			st = ivm_flush_domain_by_va_list(mo->d, f & 1, n, NULL);
		} else {
			st = ivm_flush_domain_by_va_list(mo->d, f & 1, n, list);
		}
		break;
	}
	judge("flush", st, want, false);
}

/* ---- domain ------------------------------------------------------------------------ */

static bool make_domain(struct model *mo, struct input *in)
{
	uint8_t h = u8(in), w = u8(in);
	static const uint32_t odd_widths[8] = { 0, 12, 64, 255, 13, 63, 1, 100 };
	struct ivm_allocator_config alloc = { 0 };
	struct ivm_reserved_region regions[2];
	struct ivm_domain_config cfg = { 0 };
	size_t nregions = 0;

	memset(mo, 0, sizeof(*mo));
	alloc.address_width = w >= 0xf8 ? odd_widths[w - 0xf8] : 13u + w % 51u;
	alloc.type = (h & 2) ? IVM_ALLOCATOR_BUDDY : IVM_ALLOCATOR_NONE;
	alloc.flags = (h & 3) == 3 ? IVM_ALLOCATOR_ALLOW_EXPLICIT : 0;
	cfg.allocator = (h & 3) == 0 ? NULL : &alloc;
	cfg.type = (h & 0x20) ? (enum ivm_domain_type)(2 + (w & 1))
		 : (h & 0x10) ? IVM_DOMAIN_PASSTHROUGH : IVM_DOMAIN_TRANSLATE;
	cfg.disable_iova_cache = h & 4;
	cfg.flush_mode = (h & 8) ? IVM_FLUSH_STRICT : IVM_FLUSH_LAZY;
	cfg.flush_queue_size = 8;
	for (unsigned i = 0; i < 2; i++) {
		if (!(h & (0x40 << i)))
			continue;
		uint16_t first = u16(in);
		uint8_t pages = u8(in), rf = u8(in);
		regions[nregions].base = (uint64_t)first * PAGE + ((rf & 2) ? 8 : 0);
		regions[nregions].pages = pages;
		regions[nregions].should_map = rf & 1;
		nregions++;
	}
	cfg.reserved = regions;
	cfg.reserved_count = nregions;

	/* The expected status (domain.h: the parameter numbers of
	 * CreateDomainEx). */
	unsigned width = cfg.allocator && alloc.address_width
				 ? alloc.address_width
				 : IVM_DEFAULT_ADDRESS_WIDTH;
	uint64_t total = 0;
	ivm_status want = IVM_STATUS_SUCCESS;
	if ((unsigned)cfg.type > IVM_DOMAIN_UNMANAGED)
		want = IVM_STATUS_INVALID_PARAMETER_1;
	else if (width < 13 || width > 63)
		want = IVM_STATUS_INVALID_PARAMETER_3;
	else {
		total = 1ull << (width - 12);
		for (size_t i = 0; i < nregions; i++) {
			uint64_t f = regions[i].base / PAGE;
			if (regions[i].base % PAGE || !regions[i].pages ||
			    f >= total || regions[i].pages > total - f)
				want = IVM_STATUS_INVALID_PARAMETER_4;
			for (size_t j = 0; j < i; j++)
				if (overlap(f, regions[i].pages,
					    regions[j].base / PAGE, regions[j].pages))
					want = IVM_STATUS_INVALID_PARAMETER_4;
		}
		if (want == IVM_STATUS_SUCCESS &&
		    cfg.type == IVM_DOMAIN_UNMANAGED)
			want = IVM_STATUS_NOT_SUPPORTED;
	}
	ivm_status st = ivm_domain_create(&cfg, &mo->d);
	judge("ivm_domain_create", st, want, false);
	if (st != IVM_STATUS_SUCCESS)
		return false;

	mo->translate = cfg.type == IVM_DOMAIN_TRANSLATE;
	mo->has_alloc = cfg.allocator && alloc.type == IVM_ALLOCATOR_BUDDY;
	mo->explicit_ok = mo->has_alloc && (alloc.flags & 1);
	mo->cache = !cfg.disable_iova_cache;
	mo->lazy = mo->has_alloc && mo->translate && cfg.flush_mode == IVM_FLUSH_LAZY;
	mo->width = width;
	mo->total = total;
	for (size_t i = 0; i < nregions; i++) {
		if (mo->has_alloc)
			mo->region_space += regions[i].pages;
		if (!regions[i].should_map) {
			/* Markers: space held, nothing translates. */
			mo->marker[i].used = true;
			mo->marker[i].first = regions[i].base / PAGE;
			mo->marker[i].pages = regions[i].pages;
			continue;
		}
		struct fmap *m = &mo->m[MAX_MAPS + i];
		/* Identity leaves (translate only on Translate domains, but
		 * the space is held on both). */
		m->used = true;
		m->kind = K_REGION;
		m->first = regions[i].base / PAGE;
		m->pages = m->space = regions[i].pages;
		m->perms = 3;
		m->base = regions[i].base;
		m->resv = -1;
	}
	return true;
}

static void teardown(struct model *mo)
{
	struct ivm_domain_stats s;

	for (unsigned i = 0; i < MAX_MAPS; i++) {
		struct fmap *m = &mo->m[i];
		if (!m->used)
			continue;
		ivm_status st;
		if (m->kind == K_IDENTITY) {
			struct ivm_phys ph = { .type = IVM_PHYS_CONTIGUOUS };
			ph.contiguous.base = m->first * PAGE;
			ph.contiguous.size = m->pages * PAGE;
			st = ivm_unmap_identity_range_ex(mo->d, &ph);
		} else if (m->kind == K_RESERVED) {
			struct fresv *r = &mo->r[m->resv];
			st = ivm_unmap_reserved_logical_range(
				r->h, (m->first - r->first) * PAGE, m->pages);
			r->maps--;
		} else {
			st = ivm_unmap_logical_range(mo->d, m->first * PAGE, m->pages);
		}
		if (st != IVM_STATUS_SUCCESS)
			FAIL("teardown: unmap of a live mapping: %s",
			     ivm_status_name(st));
		m->used = false;
	}
	for (unsigned i = 0; i < MAX_RESV; i++)
		if (mo->r[i].used &&
		    ivm_free_reserved_logical_range(&mo->r[i].h) != IVM_STATUS_SUCCESS)
			FAIL("teardown: free of an empty reservation failed");
	ivm_flush_domain(mo->d);
	ivm_domain_trim(mo->d);
	ivm_domain_get_stats(mo->d, &s);
	if (s.mappings || s.mapped_pages ||
	    s.reservations || s.flush_queued || s.iova_cached_pages ||
	    s.iova_used_pages != mo->region_space || s.pt_empty_tables)
		FAIL("teardown: %" PRIu64 " mappings, %" PRIu64 " reservations, "
		     "IOVA used %" PRIu64 " (regions %" PRIu64 ") cached %" PRIu64
		     ", %" PRIu64 " empty tables after a trim", s.mappings,
		     s.reservations, s.iova_used_pages, mo->region_space,
		     s.iova_cached_pages, s.pt_empty_tables);
	ivm_domain_destroy(&mo->d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct model mo;
	struct input in = { data, size };
	struct armed a = { 0 };
	static int trace_read;

	if (!trace_read) {
		const char *t = getenv("IVM_FUZZ_TRACE");
		trace = t && *t && *t != '0';
		trace_read = 1;
	}

	if (!make_domain(&mo, &in))
		return 0;
	for (unsigned n = 0; n < MAX_OPS && in.n > 0; n++) {
		static const char *const names[] = {
			"map", "unmap", "identity map", "identity unmap",
			"reserve", "map reserved", "unmap reserved",
			"free reserved", "translate", "flush", "trim", "fault",
		};
		uint8_t op = u8(&in) % 12;
		switch (op) {
		case 0: op_map(&mo, &in, &a); break;
		case 1: op_unmap(&mo, &in, &a); break;
		case 2: op_identity(&mo, &in, &a, false); break;
		case 3: op_identity(&mo, &in, &a, true); break;
		case 4: op_reserve(&mo, &in, &a); break;
		case 5: op_map_reserved(&mo, &in, &a); break;
		case 6: op_unmap_reserved(&mo, &in, &a); break;
		case 7: op_free_reserved(&mo, &in); break;
		case 8: op_translate(&mo, &in); break;
		case 9: op_flush(&mo, &in); break;
		case 10:
			if (ivm_domain_trim(mo.d) != IVM_STATUS_SUCCESS)
				FAIL("ivm_domain_trim failed");
			break;
		default: {
			uint8_t m = u8(&in), k = u8(&in);
			a.on = IVM_FAULT_INJECTION;
			a.mask = (m & 7) ? (m & 7) : 1; /* alloc, pt, backend map */
			a.n = k & 15;
			break;
		}
		}
		if (op != 11)
			check_state(&mo, names[op]);
	}
	teardown(&mo);
	return 0;
}
