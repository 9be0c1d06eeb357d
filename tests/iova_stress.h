/* SPDX-License-Identifier: MIT */
/*
 * iova_stress.h - the frame the IOVA stress tests share
 * (test_iova_threads.c, stress_iova_rseq.c): duration and seed from the
 * environment, a per-thread xorshift generator, the CPUs the process may
 * run on and pinning to them, the shadow map that proves no page is live
 * twice and none is lost, and a worker frame.
 *
 * Environment: IVM_STRESS_SECONDS (default 0.8) is the duration of each
 * timed scenario, IVM_STRESS_SEED (default 1) seeds every thread.
 *
 * The shadow: one atomic byte per page.  Allocation sets each page of a
 * block with an exchange that must find 0, free clears it with one that
 * must find 1.  At the end of each scenario every block is freed and the
 * cache trimmed: the range allocator must be empty again (nothing lost),
 * and a block of the whole space must allocate.
 */
#ifndef IVM_TESTS_IOVA_STRESS_H
#define IVM_TESTS_IOVA_STRESS_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "iova.h"

#define ANY_MAX UINT64_MAX

/* ---- environment, time, randomness ---------------------------------------- */

static inline double stress_seconds(void)
{
	const char *s = getenv("IVM_STRESS_SECONDS");
	double v = s ? atof(s) : 0.8;

	return v > 0 ? v : 0.8;
}

static inline uint64_t stress_seed(void)
{
	const char *s = getenv("IVM_STRESS_SEED");

	return s ? strtoull(s, NULL, 0) : 1;
}

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000L };

	nanosleep(&ts, NULL);
}

static inline uint64_t rng_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

static inline uint64_t thread_seed(int tid)
{
	return (stress_seed() + 1) * 0x9E3779B97F4A7C15ull + (uint64_t)tid * 7919;
}

/* ---- CPUs --------------------------------------------------------------------- */

static cpu_set_t allowed;
static int allowed_cpu[CPU_SETSIZE];
static int allowed_count;

__attribute__((constructor)) static void save_affinity(void)
{
	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
		CPU_ZERO(&allowed);
		CPU_SET(0, &allowed);
	}
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &allowed))
			allowed_cpu[allowed_count++] = cpu;
}

/* Pin the calling thread to the (k mod n)-th allowed CPU. */
static inline void pin_round_robin(unsigned k)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(allowed_cpu[k % (unsigned)allowed_count], &one);
	if (sched_setaffinity(0, sizeof(one), &one) != 0) {
		perror("sched_setaffinity");
		abort();
	}
}

static inline void unpin(void)
{
	sched_setaffinity(0, sizeof(allowed), &allowed);
}

/* ---- the shadow ----------------------------------------------------------------- */

struct shadow {
	_Atomic unsigned char *page; /* 1 = live */
	uint64_t pages;
	_Atomic uint64_t double_alloc;  /* pages found live on allocation */
	_Atomic uint64_t bad_free;      /* pages found free on free */
	_Atomic uint64_t out_of_range;
	_Atomic uint64_t live_pages;
};

static inline void shadow_init(struct shadow *sh, unsigned width)
{
	memset(sh, 0, sizeof(*sh));
	sh->pages = 1ull << (width - 12);
	sh->page = calloc(sh->pages, 1);
	if (sh->page == NULL)
		abort();
}

/* Relaxed is enough: the allocator orders a free before the allocation
 * that reuses the block (a lock, or on the rseq path the CPU both ran on,
 * the later after a context switch), and the exchanges themselves are
 * read-modify-writes of one byte. */
static inline void shadow_take(struct shadow *sh, uint64_t page,
			       unsigned order)
{
	if (page + (1ull << order) > sh->pages) {
		atomic_fetch_add_explicit(&sh->out_of_range, 1,
					  memory_order_relaxed);
		return;
	}
	for (uint64_t i = 0; i < (1ull << order); i++)
		if (atomic_exchange_explicit(&sh->page[page + i], 1,
					     memory_order_relaxed) != 0)
			atomic_fetch_add_explicit(&sh->double_alloc, 1,
						  memory_order_relaxed);
	atomic_fetch_add_explicit(&sh->live_pages, 1ull << order,
				  memory_order_relaxed);
}

static inline void shadow_give(struct shadow *sh, uint64_t page,
			       unsigned order)
{
	if (page + (1ull << order) > sh->pages)
		return;
	for (uint64_t i = 0; i < (1ull << order); i++)
		if (atomic_exchange_explicit(&sh->page[page + i], 0,
					     memory_order_relaxed) != 1)
			atomic_fetch_add_explicit(&sh->bad_free, 1,
						  memory_order_relaxed);
	atomic_fetch_sub_explicit(&sh->live_pages, 1ull << order,
				  memory_order_relaxed);
}

/* The end of every scenario: nothing live twice, nothing lost. */
static inline void shadow_finish(struct shadow *sh, struct ivm_iova *io,
				 unsigned width)
{
	struct iova_stats s;

	CHECK_EQ_U64(atomic_load(&sh->double_alloc), 0);
	CHECK_EQ_U64(atomic_load(&sh->bad_free), 0);
	CHECK_EQ_U64(atomic_load(&sh->out_of_range), 0);
	CHECK_EQ_U64(atomic_load(&sh->live_pages), 0);
	CHECK(iova_check(io));
	iova_get_stats(io, &s);
	CHECK_EQ_U64(s.used_pages, s.cached_pages);
	iova_trim(io);
	iova_get_stats(io, &s);
	CHECK_EQ_U64(s.used_pages, 0);
	CHECK_EQ_U64(s.cached_pages, 0);
	CHECK_EQ_U64(s.magazines, 0);
	uint64_t whole = ANY_MAX;
	CHECK_STATUS(iova_alloc(io, width - 12, 0, ANY_MAX, &whole),
		     IVM_STATUS_SUCCESS);
	CHECK_EQ_U64(whole, 0);
	iova_free(io, whole, width - 12);
	for (uint64_t i = 0; i < sh->pages; i++)
		if (atomic_load_explicit(&sh->page[i], memory_order_relaxed)) {
			CHECK(!"page left live in the shadow");
			break;
		}
	free((void *)sh->page);
}

/* ---- common thread frame --------------------------------------------------------- */

struct block {
	uint64_t page;
	unsigned order;
};

struct worker {
	pthread_t thread;
	int tid;
	int nthreads;
	struct ivm_iova *io;
	struct shadow *sh;
	double until;
	uint64_t ops;            /* written by the worker, read after join */
	uint64_t failures;
	uint64_t got_pages;
	void *extra;
};

/* A worker's live blocks: allocate one into live[], free a random one,
 * free them all; each step checked against the shared shadow map. */
static inline bool live_alloc(struct worker *w, struct block *live,
			      unsigned *nlive, unsigned order,
			      uint64_t min_page, uint64_t max_page)
{
	uint64_t page;

	if (iova_alloc(w->io, order, min_page, max_page, &page) !=
	    IVM_STATUS_SUCCESS) {
		w->failures++;
		return false;
	}
	shadow_take(w->sh, page, order);
	live[*nlive].page = page;
	live[*nlive].order = order;
	(*nlive)++;
	return true;
}

static inline void live_free(struct worker *w, struct block *live,
			     unsigned *nlive, unsigned k)
{
	shadow_give(w->sh, live[k].page, live[k].order);
	iova_free(w->io, live[k].page, live[k].order);
	live[k] = live[--*nlive];
}

static inline void live_free_all(struct worker *w, struct block *live,
				 unsigned *nlive)
{
	while (*nlive > 0)
		live_free(w, live, nlive, *nlive - 1);
}

static inline void run_workers(struct worker *w, int n,
			       void *(*fn)(void *))
{
	for (int i = 0; i < n; i++)
		if (pthread_create(&w[i].thread, NULL, fn, &w[i]) != 0) {
			perror("pthread_create");
			abort();
		}
	for (int i = 0; i < n; i++)
		pthread_join(w[i].thread, NULL);
}

#endif /* IVM_TESTS_IOVA_STRESS_H */
