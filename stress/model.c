/* SPDX-License-Identifier: MIT */
/*
 * model.c - what iovamap-stress knows independently of the library: where
 * its memory is, which mapping each piece of it was part of and when, and
 * which logical pages are held by live mappings; and the checks that
 * compare what the library says against that.
 *
 * Design source: the shadow-memory idea of the sanitizers and of the IOVA
 * stress tests (tests/iova_stress.h: one atomic byte per page, taken by an
 * exchange that must find it free), grown to the whole API; the history of
 * a slot plays the part of a linearizability checker's record of
 * concurrent operations (a read may return the value of any write that
 * overlaps it in time).
 *
 * Slots.  The "physical" memory of the model (a physical address is a
 * virtual address of this process, iovamap/swiommu.h) is cut into slots,
 * each owned by one worker and used by at most one mapping at a time.  A
 * free slot is poisoned (POISON in its probe zones); a device read that
 * returns poison reached freed memory.  A slot publishes its state word
 * (cur) and the last HIST mappings it was part of (hist: logical page,
 * domain, and the time the mapping was gone), so that any thread can
 * judge a translation that races with the owner.
 *
 * Judging a racing translation (check_racing_translation).  ivm_translate
 * returned pa for la, having read a leaf that some map call M of slot s
 * published.  Then:
 *  - M's owner wrote cur = MAPPING before the call (a relaxed store that
 *    the library's release publishing the leaf orders before it, and the
 *    translate's acquire load of the leaf makes visible), so the reader
 *    sees cur at M's state or a later one;
 *  - when M is over, its owner records it in hist (with the time after
 *    the call returned, >= the moment the translate read the leaf, hence
 *    >= t0 read before the translate) and only then moves cur on (release;
 *    the reader's acquire of cur makes the record visible).
 * So M is in cur or in hist, unless HIST later mappings pushed it out; in
 * that case the oldest record left ended after t0 too, and the check says
 * "inconclusive" instead of guessing.  A map whose address is not known
 * before it returns (allocator-chosen) is MAPPING_ANY while in flight and,
 * if it fails, leaves a wildcard record: the leaves of a failed call may
 * be seen for an instant.  No false positives, by construction.
 *
 * Shadow (overlap).  Per domain, one 32-bit owner id per logical page,
 * in chunks of 4096 pages found through a small open-addressing table and
 * created on first touch.  A mapping claims its pages after its map call
 * returned and gives them back before its unmap call starts.  So if a
 * claim finds a page held, both mappings were live at the moment of the
 * claim (the holder's map returned before its claim and its unmap starts
 * after its release; the claimer's map returned before the claim and its
 * unmap starts after it): the library let two live mappings overlap.
 *
 * Orders.  Bookkeeping shared between threads uses relaxed atomics except
 * the release stores of cur / hist_n and their acquire loads, which only
 * order a call that has returned before calls that start later, so they
 * cannot hide a race inside the library from ThreadSanitizer between
 * calls that overlap in time.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "harness.h"

/* The overlap shadow's chunk: pages per lazily created owner array. */
#define SH_CHUNK_PAGES 4096u

/* ---- randomness, time ------------------------------------------------------------ */

uint64_t rng_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

uint64_t rng_below(uint64_t *state, uint64_t n)
{
	return n ? rng_next(state) % n : 0;
}

uint64_t seed_mix(uint64_t seed, uint64_t salt)
{
	uint64_t z = seed + salt * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	return z ? z : 1;
}

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- reporting -------------------------------------------------------------------- */

#define MAX_PRINTED 20

static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

void violation(const char *kind, const char *fmt, ...)
{
	uint64_t n = atomic_fetch_add_explicit(&H.violations, 1,
					       memory_order_relaxed) + 1;
	va_list ap;

	atomic_store_explicit(&H.stop, true, memory_order_relaxed);
	if (n > MAX_PRINTED)
		return;
	pthread_mutex_lock(&report_lock);
	fprintf(stderr, "iovamap-stress: VIOLATION [%s] ", kind);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (n == MAX_PRINTED)
		fprintf(stderr, "iovamap-stress: (further violations are "
			"counted, not printed)\n");
	fflush(stderr);
	pthread_mutex_unlock(&report_lock);
}

void bad_status(const char *call, ivm_status got, const char *want)
{
	violation("status", "%s returned %s, want %s", call,
		  ivm_status_name(got), want);
}

/* ---- layout ------------------------------------------------------------------------- */

/* The identity arena's address: low enough for a 32-bit domain, and in
 * the application ranges of both ASan and TSan. */
#define IDENT_ARENA_VA 0x40000000ull

uint64_t zone_page(uint64_t *rng)
{
	return H.lay.zone[rng_below(rng, ZONES)] + rng_below(rng, H.lay.zone_pages);
}

bool layout_init(void)
{
	struct layout *l = &H.lay;

	l->space = 1ull << (H.cfg.width - 12);
	l->usable = l->space < LA_PAGE_LIMIT ? l->space : LA_PAGE_LIMIT;
	uint64_t half = l->usable / 2;

	l->ea = half;
	l->ea_pages = 16384;
	l->region_a = half + 8192;
	l->region_a_pages = 64;
	l->eb = half;
	l->eb_pages = 2048;
	l->region_b = half + 1024;
	l->region_b_pages = 32;
	l->contest = half + 4096;
	l->void_b = half + 8192;
	l->void_pages = 8192;
	l->fresh = l->usable / 4 * 3;
	l->fresh_pages = l->usable / 4;
	/* width >= 28: half + 16384 <= 3/4 of the space, so the windows,
	 * the void and the fresh region never meet. */
	if (l->usable < (1ull << 16))
		return false;
	/* Zones: the first at 0, the rest anywhere (seeded), each leaving
	 * room for the largest block after it. */
	uint64_t zrng = seed_mix(H.cfg.seed, 0x5a5a);
	l->zone_pages = l->usable / 4 < ZONE_PAGES ? l->usable / 4 : ZONE_PAGES;
	for (unsigned z = 0; z < ZONES; z++)
		l->zone[z] = z == 0 ? 0
			   : rng_below(&zrng, l->usable - 2 * l->zone_pages) &
				     ~(uint64_t)(SH_CHUNK_PAGES - 1);
	l->identity = H.cfg.width >= 32;
	l->ident_region = IDENT_ARENA_VA >> 12;
	l->ident_region_pages = 16;
	return true;
}

/* ---- slots -------------------------------------------------------------------------- */

static void *map_anon(void *hint, size_t bytes, bool fixed)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;

	if (fixed)
		flags |= MAP_FIXED_NOREPLACE;
	void *p = mmap(hint, bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (fixed && p != hint) { /* kernels before 4.17 ignore the flag */
		munmap(p, bytes);
		return NULL;
	}
	return p;
}

static void pool_setup(enum pool pool, uint8_t *base, uint64_t pages,
		       unsigned count, unsigned per_owner, unsigned owners,
		       unsigned *next_id)
{
	H.pool_base[pool] = base;
	H.pool_stride[pool] = pages * PAGE;
	H.pool_count[pool] = count;
	for (unsigned i = 0; i < count; i++) {
		struct slot *s = &H.slots[*next_id];
		s->mem = base + i * pages * PAGE;
		s->pages = (uint32_t)pages;
		s->id = *next_id;
		s->owner = (uint16_t)(i / per_owner);
		s->pool = (uint8_t)pool;
		s->life = SLOT_FREE;
		slot_poison(s);
		if (s->owner < owners) {
			struct worker *w = &H.workers[s->owner];
			w->pool[pool][w->pool_n[pool]++] = s;
		}
		(*next_id)++;
	}
}

bool slots_init(void)
{
	unsigned owners = H.cfg.threads + 1; /* + the checker */
	unsigned small = owners * SMALL_SLOTS;
	unsigned large = H.cfg.threads * LARGE_SLOTS;
	unsigned ident = H.lay.identity ? owners * IDENT_SLOTS : 0;
	const uint64_t large_bytes = LARGE_PAGES * PAGE;

	H.nslots = small + large + ident;
	H.slots = calloc(H.nslots, sizeof(*H.slots));
	if (!H.slots)
		return false;

	size_t bytes = (size_t)small * SMALL_PAGES * PAGE +
		       (size_t)large * large_bytes + large_bytes;
	uint8_t *a = map_anon(NULL, bytes, false);
	if (!a)
		return false;
	H.arena[0] = a;
	H.arena_bytes[0] = bytes;
	/* Large slots first, 2 MiB aligned, so their maps get 2 MiB leaves. */
	uint8_t *large_base = (uint8_t *)(((uintptr_t)a + large_bytes - 1) &
					  ~(uintptr_t)(large_bytes - 1));
	uint8_t *small_base = large_base + (size_t)large * large_bytes;

	unsigned id = 0;
	pool_setup(POOL_SMALL, small_base, SMALL_PAGES, small, SMALL_SLOTS,
		   owners, &id);
	pool_setup(POOL_LARGE, large_base, LARGE_PAGES, large, LARGE_SLOTS,
		   owners, &id);
	if (H.lay.identity) {
		size_t ibytes = (H.lay.ident_region_pages +
				 (size_t)ident * IDENT_PAGES) * PAGE;
		uint8_t *i = map_anon((void *)(uintptr_t)IDENT_ARENA_VA,
				      ibytes, true);
		if (!i) {
			fprintf(stderr, "iovamap-stress: note: no memory at "
				"0x%llx for identity maps (%s); identity "
				"operations are off\n",
				IDENT_ARENA_VA, strerror(errno));
			H.lay.identity = false;
			H.nslots -= ident;
		} else {
			H.arena[1] = i;
			H.arena_bytes[1] = ibytes;
			memset(i, 0x11, H.lay.ident_region_pages * PAGE);
			pool_setup(POOL_IDENT,
				   i + H.lay.ident_region_pages * PAGE,
				   IDENT_PAGES, ident, IDENT_SLOTS, owners, &id);
		}
	}
	return true;
}

void slots_fini(void)
{
	for (unsigned k = 0; k < 2; k++)
		if (H.arena[k])
			munmap(H.arena[k], H.arena_bytes[k]);
	free(H.slots);
	H.slots = NULL;
}

struct slot *slot_by_pa(uint64_t pa)
{
	unsigned first = 0;

	for (unsigned p = 0; p < NPOOLS; p++) {
		uint64_t base = (uint64_t)(uintptr_t)H.pool_base[p];
		uint64_t span = H.pool_stride[p] * H.pool_count[p];
		if (H.pool_count[p] && pa >= base && pa - base < span)
			return &H.slots[first + (pa - base) / H.pool_stride[p]];
		first += H.pool_count[p];
	}
	return NULL;
}

/* The probe-zone words of page p: head then tail. */
#define ZONE_WORDS ((ZONE_HEAD + ZONE_TAIL) / 8)

static uint64_t *zone_word(struct slot *s, uint64_t page, unsigned k)
{
	uint8_t *base = s->mem + page * PAGE;
	if (k < ZONE_HEAD / 8)
		return (uint64_t *)(base + 8 * k);
	return (uint64_t *)(base + PAGE - ZONE_TAIL + 8 * (k - ZONE_HEAD / 8));
}

void slot_poison(struct slot *s)
{
	for (uint64_t p = 0; p < s->pages; p++)
		for (unsigned k = 0; k < ZONE_WORDS; k++)
			*zone_word(s, p, k) = POISON;
}

bool slot_poison_intact(struct slot *s, uint64_t *bad_offset)
{
	for (uint64_t p = 0; p < s->pages; p++)
		for (unsigned k = 0; k < ZONE_WORDS; k++) {
			uint64_t *wp = zone_word(s, p, k);
			if (*wp != POISON) {
				*bad_offset = (uint64_t)((uint8_t *)wp - s->mem);
				return false;
			}
		}
	return true;
}

void slot_fill(struct slot *s)
{
	for (uint64_t p = 0; p < s->pages; p++)
		for (unsigned k = 0; k < ZONE_WORDS; k++)
			*zone_word(s, p, k) = (uint64_t)s->id << 32 |
					      (uint64_t)(s->gen & 0xffffff) << 8 |
					      (p & 0xff);
}

/* ---- slot state words and history ------------------------------------------------ */

#define HIST_TIME_MASK 0xffffffull
#define HIST_WILD (1ull << 24)
#define HIST_DOM_SHIFT 25
#define HIST_PAGE_SHIFT 26

static uint64_t cur_word(unsigned dom, ivm_la la, unsigned st)
{
	return (la >> 12) << 8 | (uint64_t)dom << 4 | st;
}

static bool encodable(ivm_la la)
{
	return (la >> 12) < LA_PAGE_LIMIT;
}

/* Owner, before a map call: a relaxed store, which the release that
 * publishes the mapping's leaves orders before them (top of the file). */
void slot_note_mapping(struct slot *s, unsigned dom, bool known, ivm_la la)
{
	unsigned st = known && encodable(la) ? ST_MAPPING_AT : ST_MAPPING_ANY;
	atomic_store_explicit(&s->cur, cur_word(dom, known ? la : 0, st),
			      memory_order_relaxed);
}

void slot_note_live(struct slot *s, unsigned dom, ivm_la la)
{
	/* An address the words cannot hold stays "anything" for its life. */
	uint64_t w = encodable(la) ? cur_word(dom, la, ST_LIVE)
				   : cur_word(dom, 0, ST_MAPPING_ANY);
	/* Release: pairs with the acquire in check_racing_translation. */
	atomic_store_explicit(&s->cur, w, memory_order_release);
}

void slot_note_unmapping(struct slot *s, unsigned dom, ivm_la la)
{
	uint64_t w = encodable(la) ? cur_word(dom, la, ST_UNMAPPING)
				   : cur_word(dom, 0, ST_MAPPING_ANY);
	atomic_store_explicit(&s->cur, w, memory_order_release);
}

/* Owner, after a mapping ended (unmapped, or its map failed): record it,
 * then move cur on (top of the file). */
void slot_note_gone(struct slot *s, unsigned dom, bool known, ivm_la la)
{
	uint64_t n = atomic_load_explicit(&s->hist_n, memory_order_relaxed);
	uint64_t e = (now_ms() & HIST_TIME_MASK) |
		     (uint64_t)dom << HIST_DOM_SHIFT;

	if (known && encodable(la))
		e |= (la >> 12) << HIST_PAGE_SHIFT;
	else
		e |= HIST_WILD;
	atomic_store_explicit(&s->hist[n % HIST], e, memory_order_relaxed);
	/* Release: the record before the count (pairs with the reader's
	 * acquire of hist_n), and both before cur moves on. */
	atomic_store_explicit(&s->hist_n, n + 1, memory_order_release);
	atomic_store_explicit(&s->cur, cur_word(0, 0, ST_IDLE),
			      memory_order_release);
}

/* a >= b for 24-bit millisecond stamps (valid within MAX_DURATION_S). */
static bool stamp_ge(uint64_t a, uint64_t b)
{
	return ((a - b) & HIST_TIME_MASK) < (HIST_TIME_MASK + 1) / 2;
}

bool check_racing_translation(unsigned dom, ivm_la la, uint64_t pa,
			      uint64_t t0, bool *inconclusive)
{
	*inconclusive = false;
	if ((pa & (PAGE - 1)) != (la & (PAGE - 1))) {
		violation("translate", "domain %c: la 0x%llx -> pa 0x%llx: the "
			  "offset in the page differs", 'A' + dom,
			  (unsigned long long)la, (unsigned long long)pa);
		return false;
	}
	/* The should_map reserved region of A is identity for good. */
	if (dom == DOM_A && H.lay.identity &&
	    (la >> 12) - H.lay.ident_region < H.lay.ident_region_pages) {
		if (pa != la) {
			violation("translate", "domain A: la 0x%llx in the "
				  "identity region -> pa 0x%llx",
				  (unsigned long long)la, (unsigned long long)pa);
			return false;
		}
		return true;
	}
	struct slot *s = slot_by_pa(pa);
	if (!s) {
		violation("translate", "domain %c: la 0x%llx -> pa 0x%llx, "
			  "memory no mapping of this run ever named",
			  'A' + dom, (unsigned long long)la,
			  (unsigned long long)pa);
		return false;
	}
	uint64_t index = (pa - (uint64_t)(uintptr_t)s->mem) >> 12;
	uint64_t la_page = la >> 12;
	bool page_ok = la_page >= index;
	uint64_t want = la_page - index; /* the mapping's first page */
	uint64_t t = t0 & HIST_TIME_MASK;

	for (int attempt = 0; attempt < 4; attempt++) {
		/* Acquire: pairs with the owner's release of cur and hist_n
		 * (slot_note_*). */
		uint64_t c = atomic_load_explicit(&s->cur, memory_order_acquire);
		uint64_t n = atomic_load_explicit(&s->hist_n,
						  memory_order_acquire);
		uint64_t rec[HIST];
		unsigned k = n < HIST ? (unsigned)n : HIST;
		for (unsigned j = 0; j < k; j++)
			rec[j] = atomic_load_explicit(&s->hist[(n - 1 - j) % HIST],
						      memory_order_relaxed);
		/* The records before the second look at the count (a
		 * seqlock's read side): an owner that pushed meanwhile may
		 * have overwritten one, so look again. */
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&s->hist_n, memory_order_relaxed) != n)
			continue;

		unsigned st = c & 0xf, cdom = (c >> 4) & 1;
		uint64_t cpage = c >> 8;
		if (cdom == dom && st == ST_MAPPING_ANY)
			return true;
		if (cdom == dom && page_ok && cpage == want &&
		    (st == ST_MAPPING_AT || st == ST_LIVE || st == ST_UNMAPPING))
			return true;
		for (unsigned j = 0; j < k; j++) {
			uint64_t e = rec[j];
			if (((e >> HIST_DOM_SHIFT) & 1) != dom ||
			    !stamp_ge(e & HIST_TIME_MASK, t))
				continue;
			if ((e & HIST_WILD) ||
			    (page_ok && (e >> HIST_PAGE_SHIFT) == want))
				return true;
		}
		/* Complete only if the oldest record left ended before t0. */
		if (n > HIST && stamp_ge(rec[HIST - 1] & HIST_TIME_MASK, t)) {
			*inconclusive = true;
			return true;
		}
		violation("translate", "domain %c: la 0x%llx -> pa 0x%llx "
			  "(slot %u page %llu), but that slot was not mapped "
			  "at la 0x%llx during the call (now: state %u at la "
			  "0x%llx)", 'A' + dom, (unsigned long long)la,
			  (unsigned long long)pa, s->id,
			  (unsigned long long)index,
			  (unsigned long long)(page_ok ? want << 12 : 0), st,
			  (unsigned long long)(cpage << 12));
		return false;
	}
	*inconclusive = true; /* the owner kept writing; cannot decide */
	return true;
}

/* ---- the overlap shadow ------------------------------------------------------------ */

#define SH_BUCKETS (1u << 16)

struct shadow {
	_Atomic uint64_t key[SH_BUCKETS];          /* chunk number + 1 */
	_Atomic(_Atomic uint32_t *) chunk[SH_BUCKETS];
};

static struct shadow *shadows[NDOMS];

bool shadow_init(void)
{
	for (unsigned d = 0; d < NDOMS; d++) {
		shadows[d] = calloc(1, sizeof(struct shadow));
		if (!shadows[d])
			return false;
	}
	return true;
}

void shadow_fini(void)
{
	for (unsigned d = 0; d < NDOMS; d++) {
		if (!shadows[d])
			continue;
		for (unsigned i = 0; i < SH_BUCKETS; i++)
			free((void *)atomic_load(&shadows[d]->chunk[i]));
		free(shadows[d]);
		shadows[d] = NULL;
	}
}

/* The owner-id word of a page (its chunk created on first touch). */
static _Atomic uint32_t *shadow_word(unsigned dom, uint64_t page)
{
	struct shadow *sh = shadows[dom];
	uint64_t key = page / SH_CHUNK_PAGES + 1;
	uint32_t h = (uint32_t)(seed_mix(key, 7) & (SH_BUCKETS - 1));

	for (unsigned probes = 0;; probes++) {
		if (probes == SH_BUCKETS) {
			/* The run touched more than SH_BUCKETS * 4096 distinct
			 * pages: a harness limit, not a library fault. */
			fprintf(stderr, "iovamap-stress: the overlap shadow is "
				"full (more than %u chunks of %u pages)\n",
				SH_BUCKETS, SH_CHUNK_PAGES);
			abort();
		}
		/* Acquire: pairs with the creator's CAS (the key) and its
		 * release store of the chunk. */
		uint64_t k = atomic_load_explicit(&sh->key[h],
						  memory_order_acquire);
		if (k == 0) {
			uint64_t expect = 0;
			if (atomic_compare_exchange_strong_explicit(
				    &sh->key[h], &expect, key,
				    memory_order_acq_rel, memory_order_acquire)) {
				_Atomic uint32_t *c =
					calloc(SH_CHUNK_PAGES, sizeof(*c));
				if (!c) {
					fprintf(stderr, "iovamap-stress: out of "
						"memory for the shadow\n");
					abort();
				}
				atomic_store_explicit(&sh->chunk[h], c,
						      memory_order_release);
				return &c[page % SH_CHUNK_PAGES];
			}
			k = expect;
		}
		if (k == key) {
			_Atomic uint32_t *c;
			while (!(c = atomic_load_explicit(&sh->chunk[h],
							  memory_order_acquire)))
				; /* its creator is a calloc away */
			return &c[page % SH_CHUNK_PAGES];
		}
		h = (h + 1) & (SH_BUCKETS - 1);
	}
}

bool shadow_claim(unsigned dom, uint64_t page, uint64_t n, uint32_t id,
		  const char *what)
{
	for (uint64_t i = 0; i < n; i++) {
		uint32_t expect = 0;
		/* Relaxed: the exchange alone decides who holds the page. */
		if (atomic_compare_exchange_strong_explicit(
			    shadow_word(dom, page + i), &expect, id,
			    memory_order_relaxed, memory_order_relaxed))
			continue;
		for (uint64_t j = 0; j < i; j++)
			atomic_store_explicit(shadow_word(dom, page + j), 0,
					      memory_order_relaxed);
		violation("overlap", "domain %c: %s of pages 0x%llx+%llu "
			  "succeeded while page 0x%llx belongs to live %s "
			  "#%08x", 'A' + dom, what,
			  (unsigned long long)page, (unsigned long long)n,
			  (unsigned long long)(page + i),
			  (expect >> 24) == 0xff ? "reserved region"
						 : "mapping/reservation",
			  expect);
		return false;
	}
	return true;
}

void shadow_release(unsigned dom, uint64_t page, uint64_t n, uint32_t id)
{
	for (uint64_t i = 0; i < n; i++) {
		uint32_t old = atomic_exchange_explicit(shadow_word(dom, page + i),
							0, memory_order_relaxed);
		if (old != id)
			violation("harness", "domain %c: shadow page 0x%llx held "
				  "by #%08x, expected #%08x", 'A' + dom,
				  (unsigned long long)(page + i), old, id);
	}
}

uint32_t shadow_owner(unsigned dom, uint64_t page)
{
	return atomic_load_explicit(shadow_word(dom, page), memory_order_relaxed);
}

/* ---- recently mapped addresses -------------------------------------------------- */

void recent_publish(unsigned dom, ivm_la la)
{
	uint32_t i = atomic_fetch_add_explicit(&H.recent_next, 1,
					       memory_order_relaxed);
	atomic_store_explicit(&H.recent[i % RECENT], la | (dom + 1),
			      memory_order_relaxed);
}

bool recent_pick(uint64_t *rng, unsigned *dom, ivm_la *la)
{
	uint64_t e = atomic_load_explicit(&H.recent[rng_below(rng, RECENT)],
					  memory_order_relaxed);
	if (e == 0)
		return false;
	*dom = (unsigned)(e & 3) - 1;
	*la = e & ~(PAGE - 1);
	return true;
}
