/* SPDX-License-Identifier: MIT */
/*
 * test_rseq.c - white-box unit tests of the per-CPU restartable sequences
 * (lib/rseq.h) and of their use by the IOVA cache:
 *
 *   - ivm_rseq_usable() gives the answer the platform calls for, computed
 *     here independently (x86-64, not TSan, glibc registered an rseq area,
 *     the kernel offers the RSEQ membarrier), and an IOVA cache uses the
 *     rseq hit path exactly then; its hits then ran a section of ours;
 *   - push, pop and the CPU-bound store on a per-CPU array of this test's
 *     own, on the CPU the thread is pinned to: depths, the pop count in
 *     the state word, capacity, NULL stacks, the lock word (BUSY), CPU
 *     numbers past ncpus and other CPUs (MISS);
 *   - a section interrupted by signals restarts (and loses nothing);
 *   - fencing any CPU number returns.
 *
 * The section tests skip where ivm_rseq_usable() is false (TSan builds,
 * other architectures, GLIBC_TUNABLES=glibc.pthread.rseq=0).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<sys/rseq.h>) && __has_include(<linux/membarrier.h>)
#include <linux/membarrier.h>
#include <sys/rseq.h>
#define HAVE_RSEQ_HEADERS 1
#endif
#endif

#include "check.h"
#include "cpu.h"
#include "iova.h"
#include "ivm_config.h"
#include "rseq.h"

/* ---- what the platform calls for ------------------------------------------ */

static bool platform_has_rseq(void)
{
#if defined(__x86_64__) && !IVM_TSAN && defined(HAVE_RSEQ_HEADERS)
	if (__rseq_size == 0)
		return false; /* glibc did not register (tunable, kernel) */
	long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	return cmds >= 0 &&
	       (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) != 0;
#else
	return false;
#endif
}

IVM_TEST(usable_matches_the_platform)
{
	bool want = platform_has_rseq();

	printf("     rseq sections %s on this platform and build\n",
	       want ? "expected" : "not expected");
	CHECK(ivm_rseq_usable() == want);
	CHECK(ivm_rseq_usable() == want); /* decided once */
}

IVM_TEST(iova_cache_uses_rseq_exactly_when_usable)
{
	struct ivm_iova io, off;

	CHECK_STATUS(iova_init(&io, 24, true), IVM_STATUS_SUCCESS);
	CHECK(iova_uses_rseq(&io) == platform_has_rseq());
	CHECK_STATUS(iova_init(&off, 24, false), IVM_STATUS_SUCCESS);
	CHECK(!iova_uses_rseq(&off)); /* no cache, no path */
	iova_fini(&off);
	if (!iova_uses_rseq(&io)) {
		printf("     (locked path: nothing more to prove)\n");
		iova_fini(&io);
		return;
	}
	/* Prove that a hit ran one of our sections: right after it, the
	 * thread's rseq_cs still points at its descriptor unless the thread
	 * was preempted in between (the kernel clears it then); try again
	 * until seen. */
	uint64_t page = 0, hits = 0;
	bool seen = false;
	CHECK_STATUS(iova_alloc(&io, 0, 0, UINT64_MAX, &page),
		     IVM_STATUS_SUCCESS); /* a miss */
	iova_free(&io, page, 0);
	for (int i = 0; i < 1000 && !seen; i++) {
		CHECK_STATUS(iova_alloc(&io, 0, 0, UINT64_MAX, &page),
			     IVM_STATUS_SUCCESS);
		seen = ivm_rseq_last_section_is_ours();
		iova_free(&io, page, 0);
		hits++;
	}
	CHECK(seen);
	struct iova_stats s;
	iova_get_stats(&io, &s);
	CHECK(s.hits >= 1 && s.hits <= hits); /* a migration may miss */
	CHECK(iova_check(&io));
	iova_fini(&io);
}

/* ---- a per-CPU array of our own -------------------------------------------- */

#define SHIFT 8          /* 256-byte records */
#define PAIR_OFFSET 64   /* the pair in the record's second line */
#define CAPACITY 4

struct record {
	_Atomic uint32_t lock;
	uint32_t pad[15];
	struct ivm_rseq_stack_pair pair;
	char tail[256 - 64 - sizeof(struct ivm_rseq_stack_pair)];
};
_Static_assert(sizeof(struct record) == 1u << SHIFT, "stride");
_Static_assert(offsetof(struct record, pair) == PAIR_OFFSET, "pair");

struct stack {
	uint64_t header[2];     /* the user's 16 bytes (rseq.h) */
	uint64_t items[CAPACITY];
};
_Static_assert(offsetof(struct stack, items) == IVM_RSEQ_ITEMS_OFFSET,
	       "items");

static struct record *records;
static unsigned nrecords;
static int pinned_cpu = -1;
static cpu_set_t allowed; /* before pinning */

/* Pin to the first CPU we may run on; sets up the records.  False (and
 * a note) when the sections cannot run here. */
static bool setup(void)
{
	cpu_set_t one;

	if (!ivm_rseq_usable()) {
		printf("     (rseq not usable: skipped)\n");
		return false;
	}
	if (records == NULL) {
		nrecords = ivm_cpu_slots();
		records = aligned_alloc(256, nrecords * sizeof(*records));
		if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
			abort();
		for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
			if (CPU_ISSET(cpu, &allowed)) {
				pinned_cpu = cpu;
				break;
			}
		CPU_ZERO(&one);
		CPU_SET(pinned_cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one) != 0)
			abort();
	}
	memset(records, 0, nrecords * sizeof(*records));
	CHECK((unsigned)pinned_cpu < nrecords);
	return (unsigned)pinned_cpu < nrecords;
}

static enum ivm_rseq_result push(uint64_t item, unsigned ncpus)
{
	enum ivm_rseq_result r;

	do
		r = ivm_rseq_pair_push(records, SHIFT, ncpus, PAIR_OFFSET,
				       CAPACITY, item);
	while (r == IVM_RSEQ_RESTART);
	return r;
}

static enum ivm_rseq_result pop(uint64_t *item, unsigned ncpus)
{
	enum ivm_rseq_result r;

	do
		r = ivm_rseq_pair_pop(records, SHIFT, ncpus, PAIR_OFFSET,
				      item);
	while (r == IVM_RSEQ_RESTART);
	return r;
}

static uint64_t state(unsigned i)
{
	return atomic_load(&records[pinned_cpu].pair.state[i]);
}

IVM_TEST(push_and_pop_on_this_cpu)
{
	struct stack a = { 0 }, b = { 0 };
	uint64_t item = 0;

	if (!setup())
		return;
	struct ivm_rseq_stack_pair *p = &records[pinned_cpu].pair;
	p->stack[0] = &a;
	p->stack[1] = &b;

	CHECK(pop(&item, nrecords) == IVM_RSEQ_MISS); /* empty */
	for (uint64_t v = 1; v <= CAPACITY; v++)
		CHECK(push(100 + v, nrecords) == IVM_RSEQ_DONE);
	CHECK(push(999, nrecords) == IVM_RSEQ_MISS);  /* full */
	CHECK_EQ_U64(state(0), CAPACITY);
	CHECK_EQ_U64(a.items[0], 101);
	CHECK_EQ_U64(a.items[CAPACITY - 1], 100 + CAPACITY);
	CHECK_EQ_U64(state(1), 0);                    /* b untouched */

	CHECK(pop(&item, nrecords) == IVM_RSEQ_DONE);
	CHECK_EQ_U64(item, 100 + CAPACITY);           /* LIFO */
	CHECK(pop(&item, nrecords) == IVM_RSEQ_DONE);
	CHECK_EQ_U64(item, 100 + CAPACITY - 1);
	/* depth 2, two pops counted above the depth bits */
	CHECK_EQ_U64(state(0), 2 + 2 * IVM_RSEQ_ONE_POP);

	/* cur selects the stack: switch to b (empty), then push there. */
	p->cur = 1;
	CHECK(pop(&item, nrecords) == IVM_RSEQ_MISS);
	CHECK(push(7, nrecords) == IVM_RSEQ_DONE);
	CHECK_EQ_U64(b.items[0], 7);
	CHECK_EQ_U64(state(1), 1);
	CHECK_EQ_U64(state(0), 2 + 2 * IVM_RSEQ_ONE_POP);

	/* A NULL stack takes no push and gives no pop. */
	p->cur = 0;
	p->stack[0] = NULL;
	atomic_store(&p->state[0], 0);
	CHECK(push(8, nrecords) == IVM_RSEQ_MISS);
	CHECK(pop(&item, nrecords) == IVM_RSEQ_MISS);
}

IVM_TEST(lock_word_makes_sections_busy)
{
	struct stack a = { 0 };
	uint64_t item = 0;

	if (!setup())
		return;
	struct record *r = &records[pinned_cpu];
	r->pair.stack[0] = &a;
	CHECK(push(1, nrecords) == IVM_RSEQ_DONE);
	atomic_store(&r->lock, 1);
	CHECK(push(2, nrecords) == IVM_RSEQ_BUSY);
	CHECK(pop(&item, nrecords) == IVM_RSEQ_BUSY);
	CHECK_EQ_U64(state(0), 1);                    /* nothing written */
	atomic_store(&r->lock, 0);
	CHECK(pop(&item, nrecords) == IVM_RSEQ_DONE);
	CHECK_EQ_U64(item, 1);
}

IVM_TEST(cpu_past_ncpus_misses)
{
	struct stack a = { 0 };
	uint64_t item = 0;

	if (!setup())
		return;
	records[pinned_cpu].pair.stack[0] = &a;
	/* Our CPU number is >= pinned_cpu, which is not < pinned_cpu. */
	CHECK(push(1, (unsigned)pinned_cpu) == IVM_RSEQ_MISS);
	CHECK(pop(&item, (unsigned)pinned_cpu) == IVM_RSEQ_MISS);
	CHECK_EQ_U64(state(0), 0);
}

IVM_TEST(store_commits_only_on_its_cpu)
{
	uint64_t word = 5;
	enum ivm_rseq_result r;

	if (!setup())
		return;
	do
		r = ivm_rseq_store_on_cpu(&word, 7, (unsigned)pinned_cpu);
	while (r == IVM_RSEQ_RESTART);
	CHECK(r == IVM_RSEQ_DONE);
	CHECK_EQ_U64(word, 7);
	do
		r = ivm_rseq_store_on_cpu(&word, 9, (unsigned)pinned_cpu + 1);
	while (r == IVM_RSEQ_RESTART);
	CHECK(r == IVM_RSEQ_MISS);
	CHECK_EQ_U64(word, 7);
}

IVM_TEST(fence_any_cpu_number)
{
	if (!setup())
		return;
	for (unsigned cpu = 0; cpu < nrecords; cpu++)
		ivm_rseq_fence_cpu(cpu);
	ivm_rseq_fence_cpu(100000); /* no such CPU: nothing to do */
}

/* ---- signals restart sections ---------------------------------------------- */

static _Atomic bool signal_stop;
static _Atomic uint64_t signals_seen;

static void on_signal(int sig)
{
	(void)sig;
	atomic_fetch_add_explicit(&signals_seen, 1, memory_order_relaxed);
}

static void *signal_sender(void *arg)
{
	pthread_t target = *(pthread_t *)arg;
	struct timespec ts = { 0, 20 * 1000 };

	/* Run beside the pinned target where there is another CPU. */
	sched_setaffinity(0, sizeof(allowed), &allowed);

	while (!atomic_load_explicit(&signal_stop, memory_order_relaxed)) {
		pthread_kill(target, SIGUSR1);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

IVM_TEST(signals_restart_sections_and_lose_nothing)
{
	struct stack a = { 0 };
	struct sigaction sa, old;
	pthread_t self = pthread_self(), sender;
	uint64_t pushes = 0, pops = 0, sum_in = 0, sum_out = 0;

	if (!setup())
		return;
	records[pinned_cpu].pair.stack[0] = &a;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	CHECK(sigaction(SIGUSR1, &sa, &old) == 0);
	atomic_store(&signal_stop, false);
	uint64_t restarts = ivm_rseq_thread_restarts();
	CHECK(pthread_create(&sender, NULL, signal_sender, &self) == 0);

	/* Push and pop until signals have restarted ten sections (each
	 * restart is counted on the abort path), 5 s at most. */
	double until = now_s() + 5.0;
	uint64_t item, n = 0;
	while (ivm_rseq_thread_restarts() - restarts < 10 || n < 100000) {
		if ((++n & 1023) == 0 && now_s() > until)
			break;
		if (push(n, nrecords) == IVM_RSEQ_DONE) {
			pushes++;
			sum_in += n;
		}
		if (pop(&item, nrecords) == IVM_RSEQ_DONE) {
			pops++;
			sum_out += item;
		}
	}
	atomic_store(&signal_stop, true);
	pthread_join(sender, NULL);
	CHECK(sigaction(SIGUSR1, &old, NULL) == 0);
	while (pop(&item, nrecords) == IVM_RSEQ_DONE) {
		pops++;
		sum_out += item;
	}
	uint64_t restarted = ivm_rseq_thread_restarts() - restarts;
	printf("     %" PRIu64 " push/pop pairs, %" PRIu64 " signals, %"
	       PRIu64 " sections restarted\n", pushes,
	       atomic_load(&signals_seen), restarted);
	CHECK(restarted >= 10);
	CHECK_EQ_U64(pushes, pops);        /* every committed push popped */
	CHECK_EQ_U64(sum_in, sum_out);     /* ... exactly once */
	CHECK_EQ_U64(state(0) & IVM_RSEQ_DEPTH_MASK, 0);
	CHECK_EQ_U64(state(0) >> IVM_RSEQ_DEPTH_BITS, pops);
}

IVM_TEST_MAIN()
