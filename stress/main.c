/* SPDX-License-Identifier: MIT */
/*
 * main.c - iovamap-stress: a multi-threaded stress harness for iovamap with
 * fault injection.  Workers (ops.c) run a seeded random mix of every call
 * of the API against two domains and a model device; once a second the
 * main thread parks them and checks the library against the model
 * (checks.c), then prints one progress line.  The run ends after
 * --duration seconds, or at the first violation, with a summary, the seed
 * and the exact command that replays the run.
 *
 * Design source: the kernel's rcutorture and locktorture (module
 * parameters for threads, duration and mix, a periodic one-line status,
 * a final PASS/FAIL verdict) and liburcu's test_urcu (seeded, every
 * reader checks what it read).  Departures: the checks are not only
 * "no crash": every result is compared with a model of the contract
 * (model.c), and the run replays from its seed (each worker's stream of
 * operations and injected failures follows from the seed; thread
 * interleaving does not).
 *
 * Exit status: 0 no violation; 1 a violation (printed as it happens,
 * "VIOLATION [kind] ..."); 2 bad command line or setup failure.
 *
 * Invariants of the run as a whole:
 *  1. Every worker starts after the domains, devices, regions and fault
 *     rates are set up, and ends (worker_teardown) before the teardown
 *     checks, which therefore see a quiet domain.
 *  2. Quiet-phase checks run only while every running worker is parked
 *     between two operations.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "ivm_config.h"
#if IVM_FAULT_INJECTION
#include "fault.h"
#endif

struct harness H = {
	.pause_lock = PTHREAD_MUTEX_INITIALIZER,
	.pause_cv = PTHREAD_COND_INITIALIZER,
};

const char *const op_names[NOPS] = {
	[OP_MAP] = "map",
	[OP_MAP_EXPLICIT] = "map-explicit",
	[OP_MAP_MIN] = "map-min",
	[OP_MAP_MAX] = "map-max",
	[OP_UNMAP] = "unmap",
	[OP_TRANSLATE] = "translate",
	[OP_DMA] = "dma",
	[OP_FLUSH] = "flush",
	[OP_RESERVE] = "reserve",
	[OP_IDENTITY] = "identity",
	[OP_TRIM] = "trim",
	[OP_STATS] = "stats",
	[OP_CONTEST] = "contest",
	[OP_BAD] = "bad",
};

const unsigned op_default_weights[NOPS] = {
	[OP_MAP] = 20,
	[OP_MAP_EXPLICIT] = 10,
	[OP_MAP_MIN] = 4,
	[OP_MAP_MAX] = 4,
	[OP_UNMAP] = 30,
	[OP_TRANSLATE] = 20,
	[OP_DMA] = 15,
	[OP_FLUSH] = 3,
	[OP_RESERVE] = 6,
	[OP_IDENTITY] = 4,
	[OP_TRIM] = 1,
	[OP_STATS] = 1,
	[OP_CONTEST] = 3,
	[OP_BAD] = 2,
};

static const char usage_text[] =
"Usage: iovamap-stress --threads N --duration SECONDS [--seed S] [--mix SPEC]\n"
"                      [--width BITS] [--flush lazy|strict] [--latency-ns NS]\n"
"                      [--fault-rate R] [--quiet]\n"
"\n"
"Multi-threaded stress harness for iovamap.  N worker threads run a seeded\n"
"random mix of map / unmap / translate / model-device DMA / flush /\n"
"reservation / identity calls against two domains that share one address\n"
"layout: A has a Buddy allocator that also takes explicit addresses (the\n"
"flush mode below), B has no allocator, so its overlapping explicit maps are\n"
"settled by the page table alone.  Every result is checked against a model\n"
"of the contract; once a second the workers are parked and the library's\n"
"counters, translations and failure behaviour are checked against the model.\n"
"\n"
"Options:\n"
"  --threads N        worker threads, 1..64 (required)\n"
"  --duration SECONDS run time, up to 7200 (required; fractions allowed)\n"
"  --seed S           seed of every worker's operations and injected faults\n"
"                     (default: random, printed); replays the same streams\n"
"  --mix SPEC         operation weights, NAME=WEIGHT[,NAME=WEIGHT...]; names\n"
"                     not listed keep their default, WEIGHT 0 turns one off:\n"
"                       map           allocator-chosen address (A)\n"
"                       map-explicit  explicit address in a shared window\n"
"                                     (A and B: maps collide on purpose)\n"
"                       map-min       allocator-chosen with a minimum (A)\n"
"                       map-max       with a maximum, or a window (A)\n"
"                       unmap         unmap one of the thread's mappings\n"
"                       translate     ivm_translate of an own mapping (exact)\n"
"                                     or of another thread's (racing)\n"
"                       dma           model-device DMA (ivm_swdev_*): write\n"
"                                     and read back own mappings, read\n"
"                                     others' while they are being unmapped\n"
"                       flush         ivm_flush_domain / _by_va_list / _poll\n"
"                       reserve       reserve, map and unmap inside, free\n"
"                       identity      identity map / unmap (A and B)\n"
"                       trim          ivm_domain_trim (frees page tables)\n"
"                       stats         ivm_domain_get_stats (walks tables)\n"
"                       contest       two threads unmap one mapping (B)\n"
"                       bad           malformed calls: exact statuses\n"
"                     defaults: map=20,map-explicit=10,map-min=4,map-max=4,\n"
"                     unmap=30,translate=20,dma=15,flush=3,reserve=6,\n"
"                     identity=4,trim=1,stats=1,contest=3,bad=2\n"
"  --width BITS       logical address width of both domains, 28..63\n"
"                     (default 39; identity maps need 32 or more)\n"
"  --flush MODE       lazy (default) or strict invalidation on domain A\n"
"  --latency-ns NS    time the model IOMMU spends per IOTLB sync (default 0)\n"
"  --fault-rate R     probability, 0..1, that each allocation, page-table\n"
"                     page, backend map and backend sync fails (default 0;\n"
"                     needs a build with meson -Dfault_injection=true)\n"
"  --quiet            no progress line each second (summary only)\n"
"  --help             this text\n"
"\n"
"Exit status: 0 when no violation was found; 1 after a violation (each is\n"
"printed as 'VIOLATION [kind] ...' when found, and the run stops with a\n"
"summary, its seed and a replay command); 2 for a bad command line.\n"
"See docs/stress.md for long soaks and replaying a failure.\n";

static void usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "iovamap-stress: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(iovamap-stress --help for usage)\n");
	exit(2);
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno == 0 && *end == '\0';
}

static bool parse_double(const char *s, double *out)
{
	char *end;

	if (!s || !*s)
		return false;
	errno = 0;
	*out = strtod(s, &end);
	return errno == 0 && *end == '\0';
}

static void parse_mix(const char *spec)
{
	char *copy = strdup(spec), *save = NULL;

	if (!copy)
		exit(2);
	for (char *item = strtok_r(copy, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		uint64_t weight;
		if (!eq || !parse_u64(eq + 1, &weight) || weight > 1000000)
			usage_error("bad --mix item '%s' (want NAME=WEIGHT, "
				    "WEIGHT 0..1000000)", item);
		*eq = '\0';
		unsigned op;
		for (op = 0; op < NOPS; op++)
			if (strcmp(item, op_names[op]) == 0)
				break;
		if (op == NOPS)
			usage_error("unknown operation '%s' in --mix", item);
		H.cfg.weights[op] = (unsigned)weight;
	}
	free(copy);
}

static void parse_args(int argc, char **argv)
{
	static const struct option options[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "duration", required_argument, NULL, 'd' },
		{ "seed", required_argument, NULL, 's' },
		{ "mix", required_argument, NULL, 'm' },
		{ "width", required_argument, NULL, 'w' },
		{ "flush", required_argument, NULL, 'f' },
		{ "latency-ns", required_argument, NULL, 'l' },
		{ "fault-rate", required_argument, NULL, 'r' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct config *c = &H.cfg;
	bool have_threads = false, have_duration = false, have_seed = false;
	uint64_t v;
	int opt;

	memcpy(c->weights, op_default_weights, sizeof(c->weights));
	c->width = 39;
	c->flush = IVM_FLUSH_LAZY;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 't':
			if (!parse_u64(optarg, &v) || v < 1 || v > MAX_THREADS)
				usage_error("--threads wants 1..64, not '%s'", optarg);
			c->threads = (unsigned)v;
			have_threads = true;
			break;
		case 'd':
			if (!parse_double(optarg, &c->duration_s) ||
			    !(c->duration_s > 0) || c->duration_s > MAX_DURATION_S)
				usage_error("--duration wants seconds in (0, 7200], "
					    "not '%s'", optarg);
			have_duration = true;
			break;
		case 's':
			if (!parse_u64(optarg, &c->seed))
				usage_error("--seed wants an unsigned integer, not "
					    "'%s'", optarg);
			have_seed = true;
			break;
		case 'm':
			parse_mix(optarg);
			break;
		case 'w':
			if (!parse_u64(optarg, &v) || v < 28 || v > 63)
				usage_error("--width wants 28..63, not '%s'", optarg);
			c->width = (unsigned)v;
			break;
		case 'f':
			if (strcmp(optarg, "lazy") == 0)
				c->flush = IVM_FLUSH_LAZY;
			else if (strcmp(optarg, "strict") == 0)
				c->flush = IVM_FLUSH_STRICT;
			else
				usage_error("--flush wants lazy or strict, not "
					    "'%s'", optarg);
			break;
		case 'l':
			if (!parse_u64(optarg, &v) || v > UINT32_MAX)
				usage_error("--latency-ns wants 0..4294967295, not "
					    "'%s'", optarg);
			c->latency_ns = (uint32_t)v;
			break;
		case 'r':
			if (!parse_double(optarg, &c->fault_rate) ||
			    !(c->fault_rate >= 0 && c->fault_rate <= 1))
				usage_error("--fault-rate wants 0..1, not '%s'",
					    optarg);
			break;
		case 'q':
			c->quiet = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			fprintf(stderr, "(iovamap-stress --help for usage)\n");
			exit(2);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (!have_threads || !have_duration)
		usage_error("%s", "--threads and --duration are required");
	unsigned total = 0;
	for (unsigned op = 0; op < NOPS; op++)
		total += c->weights[op];
	if (total == 0)
		usage_error("%s", "--mix turns every operation off");
#if !IVM_FAULT_INJECTION
	if (c->fault_rate > 0)
		usage_error("--fault-rate %s needs a build with fault injection "
			    "(meson setup -Dfault_injection=true)", "> 0");
#endif
	if (!have_seed) {
		if (getrandom(&c->seed, sizeof(c->seed), 0) != sizeof(c->seed))
			c->seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
		c->seed %= 1000000000000ull; /* short enough to retype */
	}
}

/* The command that runs exactly this configuration again. */
static void print_replay(FILE *f, const char *argv0)
{
	fprintf(f, "%s --threads %u --duration %g --seed %" PRIu64 " --mix ",
		argv0, H.cfg.threads, H.cfg.duration_s, H.cfg.seed);
	for (unsigned op = 0; op < NOPS; op++)
		fprintf(f, "%s%s=%u", op ? "," : "", op_names[op],
			H.cfg.weights[op]);
	fprintf(f, " --width %u --flush %s --latency-ns %u --fault-rate %g\n",
		H.cfg.width, H.cfg.flush == IVM_FLUSH_LAZY ? "lazy" : "strict",
		H.cfg.latency_ns, H.cfg.fault_rate);
}

/* ---- setup ---------------------------------------------------------------------- */

static void on_fault(void *context, const struct ivm_fault *fault)
{
	unsigned dom = (unsigned)(uintptr_t)context;

	if (fault->reason >= 1 && fault->reason <= 3)
		atomic_fetch_add_explicit(&H.fault_reason[fault->reason], 1,
					  memory_order_relaxed);
	if (fault->reason == IVM_FAULT_STALE_TRANSLATION)
		violation("stale-translation", "domain %c: a device %s of la "
			  "0x%llx hit an IOTLB entry whose address is mapped "
			  "to other memory now: the address was handed out "
			  "again before its invalidation completed", 'A' + dom,
			  fault->access == IVM_PERM_WRITE ? "write" : "read",
			  (unsigned long long)fault->la);
}

static void setup_failed(const char *what, ivm_status st)
{
	fprintf(stderr, "iovamap-stress: setup: %s: %s\n", what,
		ivm_status_name(st));
	exit(2);
}

static void setup_domains(void)
{
	for (unsigned d = 0; d < NDOMS; d++) {
		struct ivm_domain_config cfg;
		struct ivm_allocator_config alloc;
		struct ivm_reserved_region regions[2];
		size_t n;
		ivm_status st;

		domain_config(d, &cfg, &alloc, regions, &n);
		if ((st = ivm_domain_create(&cfg, &H.dom[d])) != IVM_STATUS_SUCCESS)
			setup_failed("ivm_domain_create", st);
		for (size_t i = 0; i < n; i++) {
			shadow_claim(d, regions[i].base >> 12, regions[i].pages,
				     0xff000001u + (uint32_t)i, "reserved region");
			if (alloc.type == IVM_ALLOCATOR_BUDDY)
				H.region_pages[d] += regions[i].pages;
		}
		if ((st = ivm_swdev_create(H.dom[d], &H.dev[d])) != IVM_STATUS_SUCCESS)
			setup_failed("ivm_swdev_create", st);
		ivm_domain_set_fault_handler(H.dom[d], on_fault,
					     (void *)(uintptr_t)d);
	}
}

/* ---- running -------------------------------------------------------------------- */

static uint64_t total_ops(void)
{
	uint64_t n = 0;

	for (unsigned t = 0; t < H.cfg.threads; t++)
		n += atomic_load_explicit(&H.workers[t].ops, memory_order_relaxed);
	return n;
}

static uint64_t injected_total(void)
{
	uint64_t n = 0;
#if IVM_FAULT_INJECTION
	for (unsigned s = 0; s < IVM_FAULT_SITES; s++)
		n += ivm_fault_injected((enum ivm_fault_site)s);
#endif
	return n;
}

static void progress(double elapsed, double *last_t, uint64_t *last_ops)
{
	uint64_t ops = total_ops(), live = 0;

	for (unsigned t = 0; t < H.cfg.threads; t++)
		live += atomic_load_explicit(&H.workers[t].live_now,
					     memory_order_relaxed);
	double rate = elapsed > *last_t ? (double)(ops - *last_ops) /
						  (elapsed - *last_t)
					: 0;
	printf("iovamap-stress: %6.1f s  %9.0f ops/s  live %5" PRIu64
	       " mappings  violations %" PRIu64 "  injected faults %" PRIu64 "\n",
	       elapsed, rate, live,
	       atomic_load_explicit(&H.violations, memory_order_relaxed),
	       injected_total());
	fflush(stdout);
	*last_t = elapsed;
	*last_ops = ops;
}

static void run(void)
{
	double start = now_s(), last_t = 0;
	uint64_t last_ops = 0;

	H.running = H.cfg.threads;
	for (unsigned t = 0; t < H.cfg.threads; t++)
		if (pthread_create(&H.workers[t].thread, NULL, worker_main,
				   &H.workers[t]) != 0) {
			perror("iovamap-stress: pthread_create");
			exit(2);
		}
	for (double next = 1;; next += 1) {
		double until = next < H.cfg.duration_s ? next : H.cfg.duration_s;
		while (now_s() - start < until &&
		       !atomic_load_explicit(&H.stop, memory_order_relaxed))
			nanosleep(&(struct timespec){ .tv_nsec = 20000000 }, NULL);
		if (atomic_load_explicit(&H.stop, memory_order_relaxed) ||
		    now_s() - start >= H.cfg.duration_s)
			break;
		quiet_phase();
		if (!H.cfg.quiet)
			progress(now_s() - start, &last_t, &last_ops);
		/* A slow quiet phase (sanitizers) leaves the workers a full
		 * second before the next one. */
		if (now_s() - start > next)
			next = now_s() - start;
	}
	atomic_store_explicit(&H.stop, true, memory_order_relaxed);
	for (unsigned t = 0; t < H.cfg.threads; t++)
		pthread_join(H.workers[t].thread, NULL);
	if (!H.cfg.quiet)
		progress(now_s() - start, &last_t, &last_ops);
}

/* ---- summary -------------------------------------------------------------------- */

static void summary(double seconds, const struct ivm_domain_stats *sa,
		    const struct ivm_domain_stats *sb)
{
	struct op_count sum[NOPS];
	uint64_t own_t = 0, racing_t = 0, inc = 0, own_d = 0, racing_d = 0,
		 forced = 0, raced = 0, won = 0, overlapped = 0, ops = 0;

	memset(sum, 0, sizeof(sum));
	for (unsigned t = 0; t < H.cfg.threads; t++) {
		const struct worker *w = &H.workers[t];
		for (unsigned op = 0; op < NOPS; op++) {
			sum[op].calls += w->count[op].calls;
			sum[op].ok += w->count[op].ok;
			sum[op].in_use += w->count[op].in_use;
			sum[op].no_resources += w->count[op].no_resources;
			sum[op].refused += w->count[op].refused;
			sum[op].skipped += w->count[op].skipped;
		}
		own_t += w->own_translations;
		racing_t += w->racing_translations;
		inc += w->inconclusive;
		own_d += w->own_dmas;
		racing_d += w->racing_dmas;
		forced += w->forced_flushes;
		raced += w->contests_raced;
		won += w->contests_won;
		overlapped += w->contests_overlapped;
		ops += atomic_load(&w->ops);
	}
	printf("iovamap-stress: summary: %.1f s, %u threads, seed %" PRIu64
	       ", width %u, flush %s, latency %u ns, fault rate %g\n",
	       seconds, H.cfg.threads, H.cfg.seed, H.cfg.width,
	       H.cfg.flush == IVM_FLUSH_LAZY ? "lazy" : "strict",
	       H.cfg.latency_ns, H.cfg.fault_rate);
	printf("  operations: %" PRIu64 " (%.0f/s)\n", ops,
	       seconds > 0 ? (double)ops / seconds : 0);
	printf("  %-13s %10s %10s %9s %9s %9s %8s\n", "call", "calls", "ok",
	       "in use", "no space", "refused", "skipped");
	for (unsigned op = 0; op < NOPS; op++)
		printf("  %-13s %10" PRIu64 " %10" PRIu64 " %9" PRIu64 " %9" PRIu64
		       " %9" PRIu64 " %8" PRIu64 "\n", op_names[op],
		       sum[op].calls, sum[op].ok, sum[op].in_use,
		       sum[op].no_resources, sum[op].refused, sum[op].skipped);
	printf("  checked: %" PRIu64 " own translations, %" PRIu64 " racing "
	       "(%" PRIu64 " undecidable), %" PRIu64 " own DMAs, %" PRIu64
	       " racing DMAs, %" PRIu64 " double unmaps (%" PRIu64 " overlapping "
	       "in time, %" PRIu64 " won by the owner), %" PRIu64 " forced "
	       "flushes\n", own_t, racing_t, inc, own_d, racing_d, raced,
	       overlapped, won, forced);
	printf("  quiet phases: %" PRIu64 " (model vs library; %" PRIu64
	       " calls with an exact expected status, %" PRIu64 " calls with "
	       "a forced failure)\n", H.quiet_phases, H.battery_calls,
	       H.sweep_calls);
	printf("  device faults: %" PRIu64 " unmapped, %" PRIu64 " permission, %"
	       PRIu64 " stale translation; IOTLB: %" PRIu64 " hits, %" PRIu64
	       " stale hits (the lazy window), %" PRIu64 " violations\n",
	       atomic_load(&H.fault_reason[IVM_FAULT_UNMAPPED]),
	       atomic_load(&H.fault_reason[IVM_FAULT_PERMISSION]),
	       atomic_load(&H.fault_reason[IVM_FAULT_STALE_TRANSLATION]),
	       sa->iotlb_hits + sb->iotlb_hits,
	       sa->iotlb_stale_hits + sb->iotlb_stale_hits,
	       sa->iotlb_violations + sb->iotlb_violations);
#if IVM_FAULT_INJECTION
	printf("  injected faults:");
	for (unsigned s = 0; s < IVM_FAULT_SITES; s++)
		printf(" %s %" PRIu64 "%s", ivm_fault_site_name((enum ivm_fault_site)s),
		       ivm_fault_injected((enum ivm_fault_site)s),
		       s + 1 < IVM_FAULT_SITES ? "," : "\n");
#else
	printf("  injected faults: none (build without -Dfault_injection=true)\n");
#endif
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!layout_init()) {
		fprintf(stderr, "iovamap-stress: width %u too small\n", H.cfg.width);
		return 2;
	}
	H.workers = calloc(H.cfg.threads + 1, sizeof(*H.workers));
	if (!H.workers)
		return 2;
	for (unsigned t = 0; t <= H.cfg.threads; t++)
		worker_init(&H.workers[t], t);
	H.eb_attempts = calloc(H.lay.eb_pages, sizeof(*H.eb_attempts));
	H.eb_unmapping = calloc(H.lay.eb_pages, sizeof(*H.eb_unmapping));
	if (!H.eb_attempts || !H.eb_unmapping || !slots_init() ||
	    !shadow_init()) {
		fprintf(stderr, "iovamap-stress: out of memory for the model\n");
		return 2;
	}
	printf("iovamap-stress: %u threads, %g s, seed %" PRIu64 ", width %u, "
	       "flush %s, latency %u ns, fault rate %g%s\n", H.cfg.threads,
	       H.cfg.duration_s, H.cfg.seed, H.cfg.width,
	       H.cfg.flush == IVM_FLUSH_LAZY ? "lazy" : "strict",
	       H.cfg.latency_ns, H.cfg.fault_rate,
	       H.lay.identity ? "" : " (no identity maps)");

	ivm_thread_register();
	uint64_t start_bytes = settled_bytes();
	uint64_t empty_tables[NDOMS], empty_bytes[NDOMS];
	for (unsigned d = 0; d < NDOMS; d++)
		measure_empty_domain(d, &empty_tables[d], &empty_bytes[d]);
	setup_domains();
#if IVM_FAULT_INJECTION
	uint32_t ppm = (uint32_t)(H.cfg.fault_rate * 1e6 + 0.5);
	if (H.cfg.fault_rate > 0 && ppm == 0)
		ppm = 1;
	for (unsigned s = 0; s < IVM_FAULT_SITES; s++)
		ivm_fault_set_rate((enum ivm_fault_site)s, ppm);
#endif

	double t0 = now_s();
	run();
	double seconds = now_s() - t0;
#if IVM_FAULT_INJECTION
	for (unsigned s = 0; s < IVM_FAULT_SITES; s++)
		ivm_fault_set_rate((enum ivm_fault_site)s, 0);
#endif
	struct ivm_domain_stats sa, sb;
	ivm_domain_get_stats(H.dom[DOM_A], &sa);
	ivm_domain_get_stats(H.dom[DOM_B], &sb);
	summary(seconds, &sa, &sb);

	bool broke_during_run = atomic_load(&H.violations) != 0;
	if (!broke_during_run)
		teardown_checks(empty_tables, empty_bytes, start_bytes);
	uint64_t violations = atomic_load(&H.violations);
	if (violations) {
		printf("  result: FAIL: %" PRIu64 " violation%s (the first ones "
		       "are printed above as VIOLATION lines)\n", violations,
		       violations == 1 ? "" : "s");
		printf("  seed: %" PRIu64 "\n  replay: ", H.cfg.seed);
		print_replay(stdout, argv[0]);
		fflush(stdout);
		fflush(stderr);
		/* The library's state is not to be trusted after a
		 * violation found during the run: no teardown, no leak
		 * report on top of the real one. */
		if (broke_during_run)
			_exit(1);
	} else {
		printf("  result: PASS (no violation)\n  replay: ");
		print_replay(stdout, argv[0]);
	}
	shadow_fini();
	slots_fini();
	free((void *)H.eb_attempts);
	free((void *)H.eb_unmapping);
	free(H.workers);
	return violations ? 1 : 0;
}
