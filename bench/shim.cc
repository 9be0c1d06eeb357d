// SPDX-License-Identifier: MIT
//
// shim.cc - registers the C benchmarks of ivm_bench.h with Google Benchmark
// (1.7.1, Debian's libbenchmark-dev) and runs them.  The only C++ in the
// project: everything measured lives in the C files.
//
// Per benchmark run, following Google Benchmark's documented multi-thread
// pattern ("none of the threads will start until all have reached the loop
// start, and all will have finished before any thread exits the loop"):
//
//   1. thread 0 calls def->setup() and stores the context in the run's slot,
//      before its first KeepRunningBatch();
//   2. every thread's first KeepRunningBatch() waits on the library's start
//      barrier, so the slot is read only after thread 0 wrote it (the
//      barrier's mutex orders the write before the reads);
//   3. each thread calls def->run() once per batch;
//   4. the last KeepRunningBatch() of every thread waits on the stop
//      barrier, so when thread 0 passes it no thread calls run() again and
//      thread 0 may tear the context down.
//
// Google Benchmark's ->Setup()/->Teardown() hooks would do the same but take
// plain function pointers without a user argument, so they cannot tell which
// C definition they belong to.
//
// There is no benchmark_main pkg-config file in Debian, so main() is here.

#include <benchmark/benchmark.h>

#include <pthread.h>
#include <sched.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "ivm_bench.h"

#ifndef IVM_BENCH_VERSION
#define IVM_BENCH_VERSION "unknown"
#endif
#ifndef IVM_BENCH_BUILDTYPE
#define IVM_BENCH_BUILDTYPE "unknown"
#endif
#ifndef IVM_BENCH_RCU
#define IVM_BENCH_RCU "unknown"
#endif

namespace {

// The CPUs the program may run on, read at start (ivm_bench_pin_self).
cpu_set_t start_cpus;
int start_cpu_count;
bool pin_enabled = true;

void pin_init()
{
	const char *env = std::getenv("IVM_BENCH_PIN");

	pin_enabled = !(env != nullptr && env[0] == '0');
	if (sched_getaffinity(0, sizeof(start_cpus), &start_cpus) != 0)
		pin_enabled = false;
	start_cpu_count = CPU_COUNT(&start_cpus);
	if (start_cpu_count == 0)
		pin_enabled = false;
}

// The context of the run in progress of one definition.  Runs of one
// benchmark never overlap, so one slot per definition suffices.
struct Slot {
	const ivm_bench_def *def;
	// Written by thread 0 before the start barrier and after the stop
	// barrier; read by every thread between the two (see the top).
	void *ctx;
};

void run_one(benchmark::State &state, Slot *slot)
{
	const ivm_bench_def *def = slot->def;
	const uint64_t batch = def->batch;

	int pin_error = ivm_bench_pin_self(state.thread_index());
	if (pin_error != 0) {
		state.SkipWithError("cannot pin the benchmark thread");
		return;
	}
	if (state.thread_index() == 0)
		slot->ctx = def->setup(state.threads());

	while (state.KeepRunningBatch(static_cast<benchmark::IterationCount>(batch))) {
		void *ctx = slot->ctx;

		if (ctx == nullptr) {
			// Every thread sees the failed setup; the next
			// KeepRunningBatch() then returns false for it.
			state.SkipWithError("setup failed (see stderr)");
			continue;
		}
		def->run(ctx, state.thread_index(), batch);
	}

	if (state.thread_index() == 0 && slot->ctx != nullptr) {
		if (def->counters != nullptr) {
			ivm_bench_counter c[8];
			size_t n = def->counters(slot->ctx, c, 8);

			for (size_t i = 0; i < n && i < 8; i++)
				state.counters[c[i].name] =
					benchmark::Counter(c[i].value);
		}
		def->teardown(slot->ctx);
		slot->ctx = nullptr;
	}
	state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// The highest thread count of a definition (ivm_bench.h), or 0 when
// max_threads is neither a count nor IVM_BENCH_ALL_CPUS.
int max_threads_of(const ivm_bench_def *def)
{
	if (def->max_threads == IVM_BENCH_ALL_CPUS)
		return std::min(std::max(start_cpu_count, 2),
				IVM_BENCH_MAX_THREADS);
	if (def->max_threads < 1 || def->max_threads > IVM_BENCH_MAX_THREADS)
		return 0;
	return def->max_threads;
}

// Registers every definition of one suite.
void register_suite(const ivm_bench_def *defs, size_t count,
		    std::vector<std::unique_ptr<Slot>> &slots)
{
	for (size_t i = 0; i < count; i++) {
		const ivm_bench_def *def = &defs[i];
		const int max_threads = max_threads_of(def);

		if (def->batch == 0 || max_threads == 0) {
			std::fprintf(stderr, "iovamap-bench: %s: bad definition\n",
				     def->name);
			std::exit(2);
		}
		slots.push_back(std::unique_ptr<Slot>(new Slot{def, nullptr}));
		Slot *slot = slots.back().get();
		benchmark::internal::Benchmark *b = benchmark::RegisterBenchmark(
			def->name,
			[slot](benchmark::State &state) { run_one(state, slot); });
		for (int t = 1; t < max_threads; t *= 2)
			b->Threads(t);
		b->Threads(max_threads);
		// CPU time summed over threads says nothing about scaling;
		// wall-clock time does.  Single-threaded definitions too, so
		// that every run is named <name>/real_time/threads:<n>.
		b->UseRealTime();
		benchmark::AddCustomContext(std::string("ivm:") + def->name,
					    def->description);
	}
}

// The machine, for the JSON context: reports (bench/report.py) name the
// machine their figures come from, wherever the report is made.
std::string cpuinfo_field(const std::string &key)
{
	std::ifstream cpuinfo("/proc/cpuinfo");
	std::string line;

	// "key<tabs>: value", one per line; the first CPU's is enough.
	while (std::getline(cpuinfo, line)) {
		size_t colon = line.find(':');

		if (colon == std::string::npos ||
		    line.compare(0, key.size(), key) != 0 ||
		    line.find_first_not_of(" \t", key.size()) != colon)
			continue;
		size_t begin = line.find_first_not_of(" \t", colon + 1);
		size_t end = line.find_last_not_of(" \t");
		if (begin == std::string::npos)
			return std::string();
		return line.substr(begin, end - begin + 1);
	}
	return std::string();
}

void add_machine_context()
{
	struct utsname u;
	std::string model = cpuinfo_field("model name");
	// x86 sets the "hypervisor" CPU flag in a guest.
	std::string flags = " " + cpuinfo_field("flags") + " ";
	const char *guest = "unknown";

	if (flags.size() > 2)
		guest = flags.find(" hypervisor ") != std::string::npos ? "yes"
									 : "no";
	benchmark::AddCustomContext("iovamap_cpu_model",
				    model.empty() ? "unknown" : model);
	benchmark::AddCustomContext("iovamap_virtual_machine", guest);
	benchmark::AddCustomContext("iovamap_cpus_allowed",
				    std::to_string(start_cpu_count));
	if (uname(&u) == 0)
		benchmark::AddCustomContext(
			"iovamap_kernel", std::string(u.sysname) + " " +
						  u.release + " " + u.machine);
}

} // namespace

extern "C" int ivm_bench_pin_self(int slot)
{
	if (!pin_enabled)
		return 0;
	int want = slot % start_cpu_count;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &start_cpus) || want-- > 0)
			continue;
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		return pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
	}
	return EINVAL;
}

int main(int argc, char **argv)
{
	std::vector<std::unique_ptr<Slot>> slots;

	pin_init();
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;

	benchmark::AddCustomContext("iovamap_version", IVM_BENCH_VERSION);
	benchmark::AddCustomContext("iovamap_buildtype", IVM_BENCH_BUILDTYPE);
	benchmark::AddCustomContext("iovamap_lto", IVM_BENCH_LTO);
	benchmark::AddCustomContext("iovamap_rcu", IVM_BENCH_RCU);
	benchmark::AddCustomContext("iovamap_pinned",
				    pin_enabled ? "one CPU per thread" : "no");
	add_machine_context();

#define IVM_BENCH_REGISTER_SUITE(name)                                     \
	{                                                                   \
		size_t count = 0;                                           \
		const ivm_bench_def *defs = ivm_bench_suite_##name(&count); \
		register_suite(defs, count, slots);                         \
	}
	IVM_BENCH_SUITES(IVM_BENCH_REGISTER_SUITE)
#undef IVM_BENCH_REGISTER_SUITE

	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
