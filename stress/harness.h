/* SPDX-License-Identifier: MIT */
/*
 * harness.h - what the files of iovamap-stress share: the run's
 * configuration and address layout, the slots of "physical" memory and
 * their published state, the overlap shadow, the workers, and the checks.
 *
 *   main.c    command line, setup, the once-a-second progress line and
 *             quiet-phase checks, teardown, summary and replay command
 *   model.c   slots (memory, poison, state words), the overlap shadow,
 *             the recent-address list, the translation check, reporting
 *   ops.c     maps, unmaps, identity maps, reservations, slots
 *   probes.c  translate, model-device DMA, flushes, contests, malformed
 *             calls, and the worker loop
 *   checks.c  the quiet-phase checks (model against ivm_domain_get_stats,
 *             failing calls change nothing, forced-fault sweeps) and the
 *             teardown checks (memory back to an empty domain's)
 *
 * Two domains run side by side:
 *   A  Buddy allocator accepting explicit addresses, flush mode from
 *      --flush: allocated, constrained (min/max), explicit, identity and
 *      reserved maps; the allocator settles overlapping explicit maps.
 *   B  no allocator: explicit addresses only, so the page table alone
 *      settles overlapping maps (a small window makes them collide);
 *      also the double-unmap contests and identity maps.
 */
#ifndef IVM_STRESS_HARNESS_H
#define IVM_STRESS_HARNESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "iovamap/iovamap.h"

/* ---- sizes ------------------------------------------------------------------ */

#define MAX_THREADS 64
#define PAGE ((uint64_t)IVM_PAGE_SIZE)

/* Slots a worker owns, per pool (see struct slot). */
#define SMALL_SLOTS 40
#define SMALL_PAGES 8
#define LARGE_SLOTS 1
#define LARGE_PAGES 512            /* 2 MiB, 2 MiB aligned: large leaves */
#define IDENT_SLOTS 8
#define IDENT_PAGES 8

#define MAX_LIVE 24                /* live mappings per worker */
#define MAX_RESV 3                 /* live reservations per worker */
#define RESV_MAX_PAGES 64
#define HIST 8                     /* past mappings a slot remembers */
#define RECENT 512                 /* recently mapped addresses, shared */
#define CONTESTS 16                /* double-unmap contest entries (B) */
#define CONTEST_PAGES 64           /* each entry's window */
#define ZONES 64                   /* constrained maps' minimums */
#define ZONE_PAGES 65536u

/* Probe zones: every DMA of the harness touches only the first
 * ZONE_HEAD bytes and the last ZONE_TAIL bytes of a page, so that
 * poisoning a freed slot costs 96 bytes per page. */
#define ZONE_HEAD 64u
#define ZONE_TAIL 32u
#define POISON 0xF4EEDF4EEDF4EEDFull

/* Logical pages the state words can encode (la < 2^50). */
#define LA_PAGE_BITS 38
#define LA_PAGE_LIMIT (1ull << LA_PAGE_BITS)

/* The longest run whose history timestamps stay unambiguous (model.c). */
#define MAX_DURATION_S 7200.0

/* ---- configuration ------------------------------------------------------------ */

enum op {
	OP_MAP,          /* allocator-chosen address, no constraint (A) */
	OP_MAP_EXPLICIT, /* explicit address (A or B) */
	OP_MAP_MIN,      /* allocator-chosen with a minimum (A) */
	OP_MAP_MAX,      /* allocator-chosen with a maximum or window (A) */
	OP_UNMAP,
	OP_TRANSLATE,
	OP_DMA,
	OP_FLUSH,
	OP_RESERVE,
	OP_IDENTITY,
	OP_TRIM,
	OP_STATS,
	OP_CONTEST,
	OP_BAD,
	NOPS
};

extern const char *const op_names[NOPS];
extern const unsigned op_default_weights[NOPS];

struct config {
	unsigned threads;
	double duration_s;
	uint64_t seed;
	unsigned weights[NOPS];
	unsigned width;
	enum ivm_flush_mode flush;
	uint32_t latency_ns;
	double fault_rate;
	bool quiet;
};

enum dom_id { DOM_A, DOM_B, NDOMS };

/* Where each kind of mapping goes, in pages (model.c: layout_init). */
struct layout {
	uint64_t space;          /* pages of the logical space (2^(width-12)) */
	uint64_t usable;         /* min(space, LA_PAGE_LIMIT): where the
				    harness places explicit addresses */
	uint64_t ea, ea_pages;   /* A: explicit window */
	uint64_t region_a, region_a_pages;   /* A: marker region in it */
	uint64_t eb, eb_pages;   /* B: explicit window (collisions) */
	uint64_t region_b, region_b_pages;   /* B: marker region in it */
	uint64_t contest;        /* B: CONTESTS * CONTEST_PAGES */
	uint64_t void_b, void_pages;  /* B: never mapped */
	uint64_t fresh, fresh_pages;  /* A and B: for forced table failures */
	/* Where minimums of constrained maps start: ZONES places spread
	 * over the space (from the seed), ZONE_PAGES long, so that high
	 * addresses are exercised while the shadow stays bounded. */
	uint64_t zone[ZONES];
	uint64_t zone_pages;     /* min(ZONE_PAGES, usable / 4) */
	bool identity;           /* identity arena below the width */
	uint64_t ident_region, ident_region_pages; /* A: should_map region */
};

/* ---- slots: the harness's "physical" memory ------------------------------------ */

enum pool { POOL_SMALL, POOL_LARGE, POOL_IDENT, NPOOLS };

/* What a slot's memory is doing (owner's view). */
enum slot_life {
	SLOT_FREE,        /* poisoned; no device may reach it */
	SLOT_BUSY,        /* mapped, or a map/unmap call is in flight */
	SLOT_QUARANTINE,  /* unmapped, its invalidation maybe still queued
			     (lazy): devices may still reach it */
};

/* State word (cur): la page << 8 | domain << 4 | state. */
enum slot_state {
	ST_IDLE = 0,
	ST_MAPPING_ANY = 1,   /* map call in flight, address unknown */
	ST_MAPPING_AT = 2,    /* map call in flight at a known address */
	ST_LIVE = 3,
	ST_UNMAPPING = 4,
};

struct slot {
	uint8_t *mem;         /* its memory; the model's physical address */
	uint32_t pages;
	uint32_t id;
	uint16_t owner;       /* worker index */
	uint8_t pool;
	/* Owner only. */
	uint8_t life;
	uint32_t gen;
	/* Written by the owner, read by any thread (model.c explains the
	 * orders): the current state and the last HIST mappings. */
	_Atomic uint64_t cur;
	_Atomic uint64_t hist_n;
	_Atomic uint64_t hist[HIST];
};

/* ---- contests: two unmaps of one mapping, exactly one wins (B) ------------- */

/*
 * One entry per CONTEST_PAGES window of B that nothing else maps.  Its
 * owner maps there and arms it; the first other worker to take the
 * arming's ticket unmaps it while the owner unmaps it too.  Every word
 * carries the arming's generation, so a late racer can never act on a
 * later arming.
 *   state:   gen << 48 | pages << 40 | la page << 2 | phase
 *   tickets: gen << 2 | takers
 *   racer:   gen << 2 | result (1 success, 2 INVALID_PARAMETER, 3 other)
 */
enum { C_IDLE = 0, C_SETUP = 1, C_ARMED = 2 };

#define C_PHASE(s) ((s) & 3)
#define C_GEN(s) ((s) >> 48)
#define C_PAGES(s) (((s) >> 40) & 0xff)
#define C_LA(s) ((((s) >> 2) & (LA_PAGE_LIMIT - 1)) << 12)

struct contest {
	_Atomic uint64_t state;
	_Atomic uint64_t tickets;
	_Atomic uint64_t racer;
};

/* The owner's private copy of an entry it armed. */
struct contest_mine {
	struct slot *slot;
	uint64_t gen;
	ivm_la la;
	uint64_t pages;
};

/* ---- workers -------------------------------------------------------------------- */

enum kind { K_ALLOC, K_EXPLICIT, K_IDENTITY, K_RESERVED };

struct live {
	uint8_t dom, kind;
	uint32_t perms;
	uint32_t id;          /* shadow owner id */
	ivm_la la;
	uint64_t pages;
	uint64_t shadow_pages; /* claimed in the shadow (0: none) */
	uint64_t footprint;   /* allocator pages it holds (domain A) */
	struct slot *slot;
	int resv;             /* K_RESERVED: index in the worker's resv[] */
};

struct resv {
	bool used;
	uint8_t dom;
	struct ivm_reservation *r;
	ivm_la base;
	uint64_t pages;
	uint64_t footprint;   /* allocator pages (A); 0 on B */
	uint64_t shadow_pages;
	uint32_t id;
	uint64_t map_bits[RESV_MAX_PAGES / 64]; /* pages mapped inside */
	unsigned maps;
};

/* Per-operation outcome counts (worker-private; summed after join). */
struct op_count {
	uint64_t calls, ok, in_use, no_resources, refused, skipped;
};

struct worker {
	pthread_t thread;
	unsigned tid;
	uint64_t rng;
	struct slot *pool[NPOOLS][SMALL_SLOTS];
	unsigned pool_n[NPOOLS];
	struct live live[MAX_LIVE];
	unsigned nlive;
	struct resv resv[MAX_RESV];
	uint64_t seq;                 /* shadow ids */
	uint32_t contests;            /* contest entries this worker armed */
	struct contest_mine mine[CONTESTS];
	uint64_t pfns[LARGE_PAGES];   /* PFN arrays for map calls */
	struct op_count count[NOPS];
	uint64_t own_translations, racing_translations, inconclusive;
	uint64_t own_dmas, racing_dmas, forced_flushes, contests_won,
		contests_raced, contests_overlapped;
	_Atomic uint64_t ops;         /* progress line (relaxed) */
	_Atomic uint64_t live_now;    /* progress line (relaxed) */
};

/* ---- the run -------------------------------------------------------------------- */

struct harness {
	struct config cfg;
	struct layout lay;
	struct ivm_domain *dom[NDOMS];
	struct ivm_swdev *dev[NDOMS];
	uint64_t region_pages[NDOMS];  /* reserved-region pages claimed */

	struct slot *slots;            /* every slot, by id */
	unsigned nslots;
	uint8_t *pool_base[NPOOLS];    /* each pool is one array of slots */
	uint64_t pool_stride[NPOOLS];
	unsigned pool_count[NPOOLS];
	void *arena[2];                /* mmap'd: general, identity */
	size_t arena_bytes[2];

	struct worker *workers;        /* threads + 1: the last is the
					  checker's (main thread) */
	/* Domain B's explicit window: the caller-discipline interlock
	 * (ops.c, b_window_*), one word per page. */
	_Atomic uint32_t *eb_attempts;   /* map / reserve calls in flight */
	_Atomic uint32_t *eb_unmapping;  /* unmap calls in flight */
	_Atomic uint64_t recent[RECENT];
	_Atomic uint32_t recent_next;
	struct contest contest[CONTESTS];

	_Atomic bool stop;
	_Atomic uint64_t violations;
	_Atomic uint64_t fault_reason[4];  /* fault handler, by reason */

	/* Quiet phases (main.c): workers park at the top of their loop. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cv;
	_Atomic bool pause_requested;
	unsigned parked;               /* pause_lock */
	unsigned running;              /* pause_lock: workers in their loop */
	uint64_t pause_gen;            /* pause_lock */

	uint64_t quiet_phases, battery_calls, sweep_calls;
	uint64_t inconclusive_total;
};

extern struct harness H;

/* ---- model.c -------------------------------------------------------------------- */

uint64_t rng_next(uint64_t *state);
uint64_t rng_below(uint64_t *state, uint64_t n);   /* [0, n), n > 0 */
uint64_t seed_mix(uint64_t seed, uint64_t salt);
uint64_t now_ms(void);
double now_s(void);

/* Print "VIOLATION [kind] ..." at once, count it and stop the run. */
void violation(const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A status outside the set a call may return. */
void bad_status(const char *call, ivm_status got, const char *want);

bool layout_init(void);
bool slots_init(void);
void slots_fini(void);
struct slot *slot_by_pa(uint64_t pa);
void slot_poison(struct slot *s);
bool slot_poison_intact(struct slot *s, uint64_t *bad_offset);
void slot_fill(struct slot *s);

void slot_note_mapping(struct slot *s, unsigned dom, bool known, ivm_la la);
void slot_note_live(struct slot *s, unsigned dom, ivm_la la);
void slot_note_unmapping(struct slot *s, unsigned dom, ivm_la la);
void slot_note_gone(struct slot *s, unsigned dom, bool known, ivm_la la);

/* Translation ivm_translate gave for la (pa) against the slots' recent
 * history; t0 = now_ms() read before the call.  Returns false after
 * reporting a violation; *inconclusive when the history could not
 * decide. */
bool check_racing_translation(unsigned dom, ivm_la la, uint64_t pa,
			      uint64_t t0, bool *inconclusive);

bool shadow_init(void);
void shadow_fini(void);
/* Claim pages [page, page + n) of dom for id; on an overlap reports a
 * violation (naming what) and returns false, having claimed nothing. */
bool shadow_claim(unsigned dom, uint64_t page, uint64_t n, uint32_t id,
		  const char *what);
void shadow_release(unsigned dom, uint64_t page, uint64_t n, uint32_t id);
/* Who holds a page now (0: nobody). */
uint32_t shadow_owner(unsigned dom, uint64_t page);
/* A page to use as a minimum: inside one of the zones. */
uint64_t zone_page(uint64_t *rng);

void recent_publish(unsigned dom, ivm_la la);
bool recent_pick(uint64_t *rng, unsigned *dom, ivm_la *la);

/* ---- ops.c ---------------------------------------------------------------------- */

void *worker_main(void *arg);
void worker_init(struct worker *w, unsigned tid);
/* The worker's end: unmap, unreserve and settle everything it holds. */
void worker_teardown(struct worker *w);
void worker_count_live(const struct worker *w, unsigned dom,
		       uint64_t *mappings, uint64_t *pages,
		       uint64_t *footprint, uint64_t *reservations);
struct slot *take_slot(struct worker *w, enum pool pool);
void release_slot(struct worker *w, struct slot *s, bool strict);
void settle_quarantine(struct worker *w);
void make_phys(struct worker *w, struct slot *s, uint64_t pages,
	       unsigned type, struct ivm_phys *phys);
bool unmap_strict(unsigned dom, unsigned kind);

/* ---- checks.c ------------------------------------------------------------------- */

/* With every worker parked: compare the model with the library, run the
 * failing-call battery and the forced-fault sweeps. */
void quiet_phase(void);
/* After every worker tore down: everything back to an empty domain's. */
void teardown_checks(const uint64_t empty_tables[NDOMS],
		     const uint64_t empty_bytes[NDOMS], uint64_t start_bytes);
/* Bytes iovamap holds once liburcu's pending frees ran (0 without
 * accounting). */
uint64_t settled_bytes(void);
/* An empty domain's footprint: tables, and bytes when accounted. */
void measure_empty_domain(unsigned dom, uint64_t *tables, uint64_t *bytes);
bool domain_config(unsigned dom, struct ivm_domain_config *cfg,
		   struct ivm_allocator_config *alloc,
		   struct ivm_reserved_region *regions, size_t *nregions);

#endif /* IVM_STRESS_HARNESS_H */
