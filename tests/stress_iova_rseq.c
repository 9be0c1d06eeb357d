/* SPDX-License-Identifier: MIT */
/*
 * stress_iova_rseq.c - the magazine cache's rseq hit path (lib/iova.c,
 * lib/rseq.h) against what can interrupt it:
 *
 *   preempt_and_migrate  four threads per CPU (at least 8) allocate and
 *                        free random blocks while each moves itself to a
 *                        random CPU every few hundred operations
 *                        (sched_setaffinity: migration between two
 *                        operations, and preemption inside them, since
 *                        the threads outnumber the CPUs), while another
 *                        thread, every few tens of microseconds, either
 *                        signals a random worker (a signal restarts a
 *                        section in flight) or moves it to a random CPU
 *                        (a migration at any instruction, miss paths
 *                        included).  With rseq, some sections must have
 *                        restarted.
 *   drain_under_hits     a 256-page space.  Churn threads (two per CPU)
 *                        run hits non-stop on a few blocks each, hopping
 *                        CPUs now and then, while one thread exhausts the
 *                        space round after round (every refusal drains
 *                        every CPU's magazines, loaded included: lock,
 *                        then membarrier fence of that CPU) and another
 *                        trims the cache every millisecond (the same
 *                        drain, and the magazines are freed).
 *
 * The shadow map of iova_stress.h proves in both that no page is ever
 * live twice and that none is lost.  In a build or on a platform without
 * rseq, the same scenarios run on the locked path.
 *
 * Environment: IVM_STRESS_SECONDS (default 0.8) per scenario,
 * IVM_STRESS_SEED (default 1).
 */
#include <signal.h>
#include <sys/prctl.h>

#include "iova_stress.h"
#include "rseq.h"

#define MAX_THREADS 32

/* ---- per-thread CPU hopping -------------------------------------------- */

/* Move the calling thread to a random allowed CPU, or (one time in
 * eight) let it run anywhere. */
static void hop(uint64_t *rng)
{
	uint64_t r = rng_next(rng);

	if (r % 8 == 0)
		unpin();
	else
		pin_round_robin((unsigned)(r >> 8));
}

/* ---- signals ------------------------------------------------------------ */

struct signaller {
	pthread_t thread;
	pthread_t *targets;
	int ntargets;
	_Atomic bool stop;
	uint64_t sent;              /* read after join */
	uint64_t moved;             /* read after join */
};

static _Atomic uint64_t signals_handled;

static void on_signal(int sig)
{
	(void)sig;
	atomic_fetch_add_explicit(&signals_handled, 1, memory_order_relaxed);
}

/* Alternately signal a random worker (a signal restarts a section in
 * flight) and move one to a random CPU (a migration at an arbitrary
 * instruction: inside a section, or inside a miss path between reading
 * the CPU number and swapping that CPU's magazines). */
static void *signaller_main(void *arg)
{
	struct signaller *sg = arg;
	uint64_t rng = thread_seed(1000);

	/* Sleep 20 us, not the default slack's 50 us more. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

	while (!atomic_load_explicit(&sg->stop, memory_order_relaxed)) {
		uint64_t r = rng_next(&rng);
		pthread_t target = sg->targets[r % (uint64_t)sg->ntargets];

		if ((r >> 32) & 1) {
			if (pthread_kill(target, SIGUSR1) == 0)
				sg->sent++;
		} else {
			cpu_set_t one;

			CPU_ZERO(&one);
			CPU_SET(allowed_cpu[(r >> 40) %
					    (uint64_t)allowed_count], &one);
			if (pthread_setaffinity_np(target, sizeof(one),
						   &one) == 0)
				sg->moved++;
		}
		sleep_us(20);
	}
	return NULL;
}

static void install_handler(struct sigaction *old)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGUSR1, &sa, old) != 0)
		abort();
}

/* ---- preempt_and_migrate ------------------------------------------------ */

#define MIGRATE_LIVE 320

struct migrate_result {
	uint64_t restarts;          /* this thread's restarted sections */
	_Atomic bool *may_exit;     /* the signaller no longer targets us */
};

static void *migrate_worker(void *arg)
{
	struct worker *w = arg;
	struct migrate_result *res = w->extra;
	struct block live[MIGRATE_LIVE];
	unsigned nlive = 0;
	uint64_t rng = thread_seed(w->tid);
	uint64_t restarts = ivm_rseq_thread_restarts();
	/* Phases of mostly allocations and mostly frees move the live set
	 * across whole magazines (126 blocks), so misses, which swap a
	 * slot's magazines, are frequent too. */
	uint64_t next_hop = 1 + rng_next(&rng) % 512;

	while (true) {
		if ((w->ops & 255) == 0 && now_s() >= w->until)
			break;
		if (w->ops == next_hop) {
			hop(&rng);
			next_hop += 1 + rng_next(&rng) % 512;
		}
		w->ops++;
		uint64_t r = rng_next(&rng);
		bool phase = ((w->ops >> 9) & 1) != 0;
		if (nlive == 0 ||
		    (nlive < MIGRATE_LIVE && (r % 8) < (phase ? 7u : 1u))) {
			unsigned pick = (unsigned)(r >> 8) % 16;
			unsigned order = pick < 10 ? 0 : pick < 14 ? 1 + pick % 2
								   : 3 + pick % 3;
			live_alloc(w, live, &nlive, order, 0, ANY_MAX);
		} else {
			live_free(w, live, &nlive, (unsigned)((r >> 8) % nlive));
		}
	}
	live_free_all(w, live, &nlive);
	res->restarts = ivm_rseq_thread_restarts() - restarts;
	unpin();
	/* A thread that has exited must not be signalled or moved. */
	while (!atomic_load_explicit(res->may_exit, memory_order_acquire))
		sleep_us(100);
	return NULL;
}

IVM_TEST(preempt_and_migrate)
{
	enum { WIDTH = 30 };
	struct ivm_iova io;
	struct shadow sh;
	struct worker w[MAX_THREADS];
	struct migrate_result res[MAX_THREADS];
	pthread_t threads[MAX_THREADS];
	struct signaller sg = { 0 };
	struct sigaction old;
	_Atomic bool may_exit = false;
	int n = 4 * allowed_count;

	if (n < 8)
		n = 8;
	if (n > MAX_THREADS)
		n = MAX_THREADS;
	CHECK_STATUS(iova_init(&io, WIDTH, true), IVM_STATUS_SUCCESS);
	shadow_init(&sh, WIDTH);
	install_handler(&old);
	memset(w, 0, sizeof(w));
	memset(res, 0, sizeof(res));
	double until = now_s() + stress_seconds();
	for (int i = 0; i < n; i++) {
		res[i].may_exit = &may_exit;
		w[i] = (struct worker){ .tid = i, .nthreads = n, .io = &io,
					.sh = &sh, .until = until,
					.extra = &res[i] };
		if (pthread_create(&w[i].thread, NULL, migrate_worker,
				   &w[i]) != 0)
			abort();
		threads[i] = w[i].thread;
	}
	sg.targets = threads;
	sg.ntargets = n;
	if (pthread_create(&sg.thread, NULL, signaller_main, &sg) != 0)
		abort();
	while (now_s() < until)
		sleep_us(1000);
	atomic_store(&sg.stop, true);
	pthread_join(sg.thread, NULL);
	atomic_store_explicit(&may_exit, true, memory_order_release);
	for (int i = 0; i < n; i++)
		pthread_join(w[i].thread, NULL);
	if (sigaction(SIGUSR1, &old, NULL) != 0)
		abort();

	uint64_t ops = 0, failures = 0, restarts = 0;
	for (int i = 0; i < n; i++) {
		ops += w[i].ops;
		failures += w[i].failures;
		restarts += res[i].restarts;
	}
	struct iova_stats s;
	iova_get_stats(&io, &s);
	printf("     %d threads on %d CPUs (%s path): %" PRIu64 " ops, %"
	       PRIu64 " signals, %" PRIu64 " forced moves, %" PRIu64
	       " sections restarted; hits %" PRIu64 " misses %" PRIu64 "\n",
	       n, allowed_count, iova_uses_rseq(&io) ? "rseq" : "locked",
	       ops, sg.sent, sg.moved, restarts, s.hits, s.misses);
	CHECK_EQ_U64(failures, 0); /* 2^18 pages never run out here */
	CHECK(ops > 0 && s.hits > 0);
	if (iova_uses_rseq(&io))
		CHECK(restarts > 0);
	else
		CHECK_EQ_U64(restarts, 0);
	shadow_finish(&sh, &io, WIDTH);
	iova_fini(&io);
}

/* ---- drain_under_hits --------------------------------------------------- */

#define CHURN_LIVE 4

struct drain_ctx {
	_Atomic bool stop;
	uint64_t rounds;            /* exhauster: written by it, read after */
	uint64_t best_round;        /* most pages one round got */
	uint64_t trims;             /* trimmer */
};

static void *churn_worker(void *arg)
{
	struct worker *w = arg;
	struct drain_ctx *ctx = w->extra;
	struct block live[CHURN_LIVE];
	unsigned nlive = 0;
	uint64_t rng = thread_seed(w->tid);

	hop(&rng);
	while (!atomic_load_explicit(&ctx->stop, memory_order_relaxed)) {
		uint64_t r = rng_next(&rng);

		w->ops++;
		if (r % 1024 == 0)
			hop(&rng);
		if (nlive < CHURN_LIVE && (nlive == 0 || (r & 2))) {
			unsigned order = (r >> 8) % 4 == 0; /* 0 or 1 */
			/* A failure: the exhauster holds it all. */
			live_alloc(w, live, &nlive, order, 0, ANY_MAX);
		} else {
			live_free(w, live, &nlive, (unsigned)((r >> 8) % nlive));
		}
	}
	live_free_all(w, live, &nlive);
	unpin();
	return NULL;
}

static void *exhaust_worker(void *arg)
{
	struct worker *w = arg;
	struct drain_ctx *ctx = w->extra;
	struct block *held = calloc(w->sh->pages, sizeof(*held));
	uint64_t rng = thread_seed(w->tid);

	while (now_s() < w->until) {
		unsigned nheld = 0;
		uint64_t pages = 0, page;

		hop(&rng);
		/* Grab until refused: every refusal came after a drain of
		 * every CPU's magazines while the churners ran. */
		while (nheld < w->sh->pages &&
		       iova_alloc(w->io, 0, 0, ANY_MAX, &page) ==
			       IVM_STATUS_SUCCESS) {
			shadow_take(w->sh, page, 0);
			held[nheld].page = page;
			held[nheld].order = 0;
			nheld++;
			pages++;
		}
		if (pages > ctx->best_round)
			ctx->best_round = pages;
		while (nheld > 0) {
			nheld--;
			shadow_give(w->sh, held[nheld].page, 0);
			iova_free(w->io, held[nheld].page, 0);
		}
		ctx->rounds++;
	}
	atomic_store_explicit(&ctx->stop, true, memory_order_relaxed);
	unpin();
	free(held);
	return NULL;
}

static void *trim_worker(void *arg)
{
	struct worker *w = arg;
	struct drain_ctx *ctx = w->extra;

	while (!atomic_load_explicit(&ctx->stop, memory_order_relaxed)) {
		iova_trim(w->io);
		ctx->trims++;
		sleep_us(1000);
	}
	return NULL;
}

static void *drain_role(void *arg)
{
	struct worker *w = arg;

	if (w->tid == 0)
		return exhaust_worker(arg);
	if (w->tid == 1)
		return trim_worker(arg);
	return churn_worker(arg);
}

IVM_TEST(drain_under_hits)
{
	enum { WIDTH = 20 }; /* 256 pages */
	struct ivm_iova io;
	struct shadow sh;
	struct worker w[MAX_THREADS];
	struct drain_ctx ctx = { 0 };
	int n = 2 + 2 * allowed_count;

	if (n > MAX_THREADS)
		n = MAX_THREADS;
	CHECK_STATUS(iova_init(&io, WIDTH, true), IVM_STATUS_SUCCESS);
	shadow_init(&sh, WIDTH);
	memset(w, 0, sizeof(w));
	double until = now_s() + stress_seconds();
	for (int i = 0; i < n; i++)
		w[i] = (struct worker){ .tid = i, .nthreads = n, .io = &io,
					.sh = &sh, .until = until,
					.extra = &ctx };
	run_workers(w, n, drain_role);

	uint64_t churn_ops = 0;
	for (int i = 2; i < n; i++)
		churn_ops += w[i].ops;
	struct iova_stats s;
	iova_get_stats(&io, &s);
	printf("     %s path: %" PRIu64 " exhaustion rounds (best %" PRIu64
	       " of %" PRIu64 " pages), %" PRIu64 " trims, %" PRIu64
	       " churn ops by %d threads, reclaimed %" PRIu64 "\n",
	       iova_uses_rseq(&io) ? "rseq" : "locked", ctx.rounds,
	       ctx.best_round, sh.pages, ctx.trims, churn_ops, n - 2,
	       s.reclaimed);
	CHECK(ctx.rounds > 0 && ctx.trims > 0 && churn_ops > 0);
	CHECK(s.reclaimed > 0);
	/* The churners hold a few blocks each, and a few more sit in their
	 * CPUs' magazines after a drain: most of the space must come back
	 * to the exhauster. */
	CHECK(ctx.best_round >= sh.pages / 2);
	shadow_finish(&sh, &io, WIDTH);
	iova_fini(&io);
}

IVM_TEST_MAIN()
