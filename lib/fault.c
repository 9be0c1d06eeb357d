/* SPDX-License-Identifier: MIT */
/*
 * fault.c - the fault injector behind fault.h (test builds only:
 * meson -Dfault_injection=true).
 *
 * Design source: the Linux kernel's fault-injection framework
 * (lib/fault-inject.c: a probability per site, failslab and
 * fail_page_alloc as sites, a task filter so that only the tasks under
 * test see failures) and FreeBSD's fail points.  Departures: the decision
 * is per thread with the thread's own generator, so that the failures a
 * worker of the stress harness sees follow from its seed and its own
 * calls (not from other threads' interleaving), and a forced "n-th pass
 * fails" mode replaces the kernel's "times"/"space" knobs for exhaustive
 * sweeps.
 *
 * Invariants:
 *  1. ivm_fault_armed is the number of sites with a non-zero rate plus the
 *     number of threads with a forced failure armed; while it is zero no
 *     injection point leaves its inline fast path.
 *  2. A thread that neither started random injection nor armed a forced
 *     failure never gets true from ivm_fault_decide.
 *  3. No thread sees more than IVM_FAULT_SYNC_MAX_STREAK injected sync
 *     failures in a row, so the core's retry loop ends (fault.h).
 *
 * Concurrency: the per-thread state is the thread's own; rates, the armed
 * count and the injection counters are relaxed atomics (statistics and
 * configuration, ordered by nothing: a rate changed while threads run
 * reaches them eventually, which is all a rate promises).
 */
#include "fault.h"

#include <stddef.h>

#if !IVM_FAULT_INJECTION
#error "fault.c is built only with -Dfault_injection=true"
#endif

_Atomic uint32_t ivm_fault_armed;

static _Atomic uint32_t rate_ppm[IVM_FAULT_SITES];
static _Atomic uint64_t injected[IVM_FAULT_SITES];

struct fault_thread {
	bool random;          /* ivm_fault_thread_start was called */
	uint64_t rng;         /* xorshift64* state, never 0 */
	unsigned nth_mask;    /* forced failure: sites that count */
	long nth;             /* passes left before it fires; < 0: none */
	bool fired;
	unsigned sync_streak; /* injected sync failures in a row */
};

static __thread struct fault_thread self = { .nth = -1 };

static uint64_t next_random(struct fault_thread *t)
{
	uint64_t x = t->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	t->rng = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* Count one injection and apply invariant 3. */
static bool inject(struct fault_thread *t, enum ivm_fault_site site)
{
	if (site == IVM_FAULT_BACKEND_SYNC) {
		if (t->sync_streak >= IVM_FAULT_SYNC_MAX_STREAK) {
			t->sync_streak = 0;
			return false;
		}
		t->sync_streak++;
	}
	ivm_counter_add(&injected[site], 1);
	return true;
}

bool ivm_fault_decide(enum ivm_fault_site site)
{
	struct fault_thread *t = &self;

	IVM_ASSERT((unsigned)site < IVM_FAULT_SITES);
	if (t->nth >= 0 && (t->nth_mask & IVM_FAULT_MASK(site))) {
		if (t->nth-- == 0) {
			t->fired = true;
			ivm_fetch_sub_relaxed(&ivm_fault_armed, 1);
			return inject(t, site);
		}
	}
	if (t->random) {
		uint32_t rate = ivm_load_relaxed(&rate_ppm[site]);
		if (rate != 0 && next_random(t) % 1000000u < rate)
			return inject(t, site);
	}
	if (site == IVM_FAULT_BACKEND_SYNC)
		t->sync_streak = 0;
	return false;
}

void ivm_fault_set_rate(enum ivm_fault_site site, uint32_t per_million)
{
	IVM_CHECK((unsigned)site < IVM_FAULT_SITES);
	uint32_t old = atomic_exchange_explicit(&rate_ppm[site], per_million,
						memory_order_relaxed);
	if (old == 0 && per_million != 0)
		ivm_fetch_add_relaxed(&ivm_fault_armed, 1);
	else if (old != 0 && per_million == 0)
		ivm_fetch_sub_relaxed(&ivm_fault_armed, 1);
}

void ivm_fault_thread_start(uint64_t seed)
{
	/* splitmix64 of the seed: neighbouring seeds give unrelated streams,
	 * and the state is never 0. */
	uint64_t z = seed + 0x9E3779B97F4A7C15ull;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	self.rng = z ? z : 1;
	self.random = true;
	self.sync_streak = 0;
}

void ivm_fault_thread_stop(void)
{
	self.random = false;
}

void ivm_fault_fail_nth(unsigned site_mask, long n)
{
	bool was_armed = self.nth >= 0;

	self.nth = n;
	self.nth_mask = site_mask & IVM_FAULT_ALL_SITES;
	self.fired = false;
	if (!was_armed && n >= 0)
		ivm_fetch_add_relaxed(&ivm_fault_armed, 1);
	else if (was_armed && n < 0)
		ivm_fetch_sub_relaxed(&ivm_fault_armed, 1);
}

bool ivm_fault_nth_fired(void)
{
	bool fired = self.fired;

	ivm_fault_fail_nth(0, -1);
	return fired;
}

uint64_t ivm_fault_injected(enum ivm_fault_site site)
{
	IVM_CHECK((unsigned)site < IVM_FAULT_SITES);
	return ivm_load_relaxed(&injected[site]);
}
