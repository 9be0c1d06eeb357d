/* SPDX-License-Identifier: MIT */
/*
 * ivm_bench.h - the C interface between benchmark bodies and the Google
 * Benchmark shim (shim.cc).
 *
 * Benchmarks are written in C, against iovamap like any other C user.  A C
 * file describes its benchmarks in a table of struct ivm_bench_def and
 * exports the table through one function named ivm_bench_suite_<name>,
 * listed in IVM_BENCH_SUITES below.  The shim, the only C++ in the project,
 * walks every suite and registers each definition with Google Benchmark.
 *
 * One benchmark run (one thread count, one repetition) goes:
 *
 *   thread 0:  ctx = setup(nthreads)
 *   all threads, started together once setup has returned:
 *              while (more operations wanted) run(ctx, thread_index, batch)
 *   thread 0, once every thread has left its loop:
 *              teardown(ctx)
 *
 * The shim calls run() once per `batch` operations, so its own per-call cost
 * (a few nanoseconds) is spread over the batch; pick batch so that one run()
 * call lasts at least a few microseconds.  Throughput is reported as
 * items_per_second, one item being one operation as the definition's
 * description states.
 *
 * Adding a benchmark file: write bench_<name>.c defining
 * ivm_bench_suite_<name>(), add X(<name>) to IVM_BENCH_SUITES, add the file
 * to bench/meson.build.
 */
#ifndef IVM_BENCH_H
#define IVM_BENCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A figure a benchmark measured itself (struct ivm_bench_def.counters). */
struct ivm_bench_counter {
	const char *name;
	double value;
};

struct ivm_bench_def {
	/* Google Benchmark name; thread-count suffixes are added by the shim. */
	const char *name;
	/* One line: what one operation (one item) is. */
	const char *description;
	/*
	 * Builds the benchmark's state for nthreads threads.  Called on
	 * thread 0 before any run() of this benchmark run; returns NULL on
	 * failure (after printing why to stderr), which marks the run as an
	 * error.  Untimed.
	 */
	void *(*setup)(int nthreads);
	/* Frees what setup made.  Called on thread 0 after every thread's
	 * last run().  Untimed. */
	void (*teardown)(void *ctx);
	/*
	 * Performs exactly n_ops operations as thread thread_index
	 * (0 .. nthreads-1).  Timed.  Calls from different threads run
	 * concurrently on the same ctx; each thread should keep what it writes
	 * in its own cache lines.  An operation that fails unexpectedly is a
	 * bug in the library: print it and abort().
	 */
	void (*run)(void *ctx, int thread_index, uint64_t n_ops);
	/* Operations per run() call (> 0). */
	uint64_t batch;
	/* Highest thread count: the shim registers 1, 2, 4, ... up to it
	 * (and max_threads itself).  1 means single-threaded only;
	 * IVM_BENCH_ALL_CPUS means up to the CPUs the program may use.
	 * Every run is named <name>/real_time/threads:<n>, 1 included. */
	int max_threads;
	/*
	 * Optional (NULL: none): figures the benchmark measured itself,
	 * besides the run's own time, such as two loops timed in turns
	 * within one run.  Called on thread 0 after every thread's last
	 * run(), before teardown; fills at most max of out and returns how
	 * many.  They appear in the JSON as user counters of the run, and
	 * Google Benchmark's repetition aggregates (median, ...) cover
	 * them.
	 */
	size_t (*counters)(void *ctx, struct ivm_bench_counter *out,
			   size_t max);
};

/*
 * max_threads of a benchmark that scales with the machine: 1, 2, 4, ...
 * up to the number of CPUs in the program's affinity mask at start
 * (taskset chooses them), counted as at least 2 so that every machine
 * has the threads:2 runs bench/targets.py compares, and at most
 * IVM_BENCH_MAX_THREADS.  setup() then gets any nthreads up to
 * IVM_BENCH_MAX_THREADS and sizes its per-thread state for it.
 */
#define IVM_BENCH_ALL_CPUS (-1)
#define IVM_BENCH_MAX_THREADS 64

/* Every suite, as X(name); each name has ivm_bench_suite_<name>().  A
 * benchmark program of its own (iovamap-bench-pmd) defines the macro
 * with its suites on the compiler's command line. */
#ifndef IVM_BENCH_SUITES
#define IVM_BENCH_SUITES(X) \
	X(map) \
	X(translate) \
	X(iova) \
	X(flush)
#endif

/* Returns the suite's table and stores its length in *count. */
#define IVM_BENCH_DECLARE_SUITE(name) \
	const struct ivm_bench_def *ivm_bench_suite_##name(size_t *count);
IVM_BENCH_SUITES(IVM_BENCH_DECLARE_SUITE)
#undef IVM_BENCH_DECLARE_SUITE

/*
 * xorshift64 (Marsaglia 2003): a cheap, good-enough random index for
 * benchmarks (one shift-xor triple, no multiply).  *state must not be 0.
 */
static inline uint64_t ivm_bench_xorshift64(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

/*
 * ivm_bench_pin_self - pin the calling thread to the slot-th CPU (mod
 * their number) of the set the program started with, as DPDK pins its
 * lcores.  The shim pins benchmark thread i to slot i before setup, so a
 * run's threads never migrate: a thread that moves leaves its per-CPU
 * magazines and flush queue behind and runs cold for a while, which
 * measured a single-thread map+unmap pair at 46-55 ns pinned and 85-95 ns
 * when the scheduler moved it.  A background thread a benchmark starts
 * (translate's writer) pins itself to the slot after the benchmark's own
 * threads.  IVM_BENCH_PIN=0 in the environment turns pinning off (the
 * JSON context records iovamap_pinned).  Returns 0 or an errno value.
 */
int ivm_bench_pin_self(int slot);

/* Bytes between per-thread data, so threads never share a cache line
 * (two lines: the adjacent-line prefetcher pulls pairs on x86). */
#define IVM_BENCH_THREAD_STRIDE 128

#ifdef __cplusplus
}
#endif

#endif /* IVM_BENCH_H */
