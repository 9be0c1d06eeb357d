#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/targets.py - the speed targets of the issues, from benchmark JSON.

Usage:
  bench/targets.py BENCH_BINARY [--rounds N] [--min-time S] [--out DIR]
      measure every target N times (default 5): each round runs, for each
      target in turn, one short invocation of the program holding just
      that target's two sides, each repeated REPETITIONS times in random
      interleaved order (the median repetition counts), keeps its JSON in
      DIR (default: a temporary directory), and prints every target's
      median, minimum and maximum over the rounds;
  bench/targets.py --json FILE...
      the same from JSON files written earlier by iovamap-bench (each file
      must hold every benchmark the targets name, e.g. a run with
      --benchmark_filter set to FULL_FILTER below).

Every ratio is taken inside one invocation (both sides from the same
process, back to back), never across invocations: this machine's speed
changes from minute to minute, so the shorter the time between the two
sides, the less the comparison measures the machine.  The median over
rounds is what docs/BENCHMARKS.md records; min and max show the spread.

Exit status: 0 when every target's median is met, 1 otherwise, 2 on a
usage or run error.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

FULL_FILTER = ('^(iova_pair_1page|iova_burst|translate_(4k|2m)(_writer)?/'
               '(iovamap|rculfhash)|'
               'flush_pair/(strict|lazy|lazy_own_domains)/lat(0|1000)/)')


# Repetitions per invocation, run in random order across the benchmarks of
# the invocation (Google Benchmark's random interleaving), so that a slow
# or fast spell of the machine falls on both sides of a comparison; each
# side is then the median of its repetitions.
REPETITIONS = 6


def ips(run, name):
    """items_per_second of benchmark `name` (median aggregate if present)."""
    for b in run:
        if b["name"] in (name + "_median",):
            return b["items_per_second"]
    for b in run:
        if b["name"] == name:
            return b["items_per_second"]
    raise KeyError(name)


def t(impl_path, threads=1):
    return f"{impl_path}/real_time/threads:{threads}"


def ratio(a, b, threads_a=1, threads_b=1):
    """items_per_second of benchmark a over b, both from one run."""
    return lambda r: ips(r, t(a, threads_a)) / ips(r, t(b, threads_b))


def ns_per_op(name):
    return lambda r: 1e9 / ips(r, t(name))


INFO = float("inf")  # bound of a row shown for reference only

# (issue, what, function of one run -> value, comparison, bound, filter of
# the invocation that measures it)
PAIR = "^iova_pair_1page/(cached|floor)/"
FLUSH_LAT0 = "^flush_pair/(lazy|lazy_own_domains)/lat0/"
PAIR_NS = "^(flush_pair/lazy/lat0|iova_pair_1page/floor)/real_time/threads:1$"
TARGETS = [
    ("#3", "1-thread alloc+free pair / array-stack floor (time ratio)",
     ratio("iova_pair_1page/floor", "iova_pair_1page/cached"), "<=", 3.0,
     PAIR + "real_time/threads:1$"),
    ("#3", "2 threads / 1 thread, cached pair (aggregate)",
     ratio("iova_pair_1page/cached", "iova_pair_1page/cached", 2), ">=",
     1.8, PAIR),
    ("  ", "  (control, same invocation: the floor's 2 / 1 threads)",
     ratio("iova_pair_1page/floor", "iova_pair_1page/floor", 2), ">=",
     INFO, PAIR),
    ("#3", "cached / uncached, 2-thread burst",
     ratio("iova_burst/cached", "iova_burst/uncached", 2, 2), ">=", 10.0,
     "^iova_burst/(cached|uncached)/real_time/threads:2$"),
    ("#4", "translate 4 KiB leaves / rculfhash",
     ratio("translate_4k/iovamap", "translate_4k/rculfhash"), ">=", 2.0,
     "^translate_4k/(iovamap|rculfhash)/real_time/threads:1$"),
    ("#4", "translate 2 MiB leaves / rculfhash",
     ratio("translate_2m/iovamap", "translate_2m/rculfhash"), ">=", 2.0,
     "^translate_2m/(iovamap|rculfhash)/real_time/threads:1$"),
    ("#4", "translate 4 KiB with a writer / read-only",
     ratio("translate_4k_writer/iovamap", "translate_4k/iovamap"), ">=",
     0.8, "^translate_4k(_writer)?/iovamap/real_time/threads:1$"),
    ("#4", "translate 2 MiB with a writer / read-only",
     ratio("translate_2m_writer/iovamap", "translate_2m/iovamap"), ">=",
     0.8, "^translate_2m(_writer)?/iovamap/real_time/threads:1$"),
    ("#5", "lazy / strict map+unmap at 1 us invalidation",
     ratio("flush_pair/lazy/lat1000", "flush_pair/strict/lat1000"), ">=",
     10.0, "^flush_pair/(strict|lazy)/lat1000/real_time/threads:1$"),
    ("#5", "1-thread lazy map+unmap pair at latency 0 (ns)",
     ns_per_op("flush_pair/lazy/lat0"), "<=", 60.0, PAIR_NS),
    ("  ", "  (machine speed: the same invocation's array-stack floor, ns)",
     ns_per_op("iova_pair_1page/floor"), "<=", INFO, PAIR_NS),
    ("#5", "2 threads / 1 thread, lazy pair at latency 0",
     ratio("flush_pair/lazy/lat0", "flush_pair/lazy/lat0", 2), ">=", 1.8,
     FLUSH_LAT0),
    ("  ", "  (control, same invocation: one domain per thread, 2 / 1)",
     ratio("flush_pair/lazy_own_domains/lat0",
           "flush_pair/lazy_own_domains/lat0", 2), ">=", INFO, FLUSH_LAT0),
]


def invoke(binary, flt, min_time, path):
    cmd = [binary, f"--benchmark_filter={flt}",
           f"--benchmark_min_time={min_time}",
           f"--benchmark_repetitions={REPETITIONS}",
           "--benchmark_enable_random_interleaving=true",
           "--benchmark_report_aggregates_only=true",
           f"--benchmark_out={path}", "--benchmark_out_format=json"]
    if subprocess.run(cmd, stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode != 0:
        sys.exit(f"targets.py: failed: {' '.join(cmd)}")
    with open(path) as fh:
        return json.load(fh)["benchmarks"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary", nargs="?")
    ap.add_argument("--json", nargs="+", default=None)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.1)
    ap.add_argument("--out", default=None)
    ap.add_argument("--markdown", action="store_true",
                    help="print the table as Markdown (docs/BENCHMARKS.md)")
    args = ap.parse_args()
    if bool(args.binary) == bool(args.json):
        ap.print_usage(sys.stderr)
        return 2
    values = [[] for _ in TARGETS]
    if args.json:
        for f in args.json:
            with open(f) as fh:
                run = json.load(fh)["benchmarks"]
            for i, target in enumerate(TARGETS):
                values[i].append(target[2](run))
        where = ", ".join(args.json)
    else:
        out_dir = args.out or tempfile.mkdtemp(prefix="ivm-targets-")
        os.makedirs(out_dir, exist_ok=True)
        print(f"+ {args.binary} --benchmark_filter=<one target> "
              f"--benchmark_min_time={args.min_time} ... "
              f"({args.rounds} rounds of {len(TARGETS)} invocations)",
              file=sys.stderr)
        for rnd in range(args.rounds):
            for i, target in enumerate(TARGETS):
                path = os.path.join(out_dir, f"round{rnd + 1}-target{i + 1}.json")
                run = invoke(args.binary, target[5], args.min_time, path)
                values[i].append(target[2](run))
        where = out_dir

    all_met = True
    if args.markdown:
        print("| issue | target | bound | median | min | max | met? |")
        print("|---|---|---|---:|---:|---:|---|")
    else:
        print(f"{'issue':5} {'target':58} {'bound':>8} {'median':>8} "
              f"{'min':>7} {'max':>7}  met")
    for (issue, what, _fn, op, bound, _flt), vals in zip(TARGETS, values):
        med = statistics.median(vals)
        informative = bound == INFO
        met = informative or (med <= bound if op == "<=" else med >= bound)
        all_met &= met
        no = "**no**" if args.markdown else "NO"
        verdict = "" if informative else ("yes" if met else no)
        if args.markdown:
            shown = "" if informative else f"{op} {bound:g}"
            print(f"| {issue.strip()} | {what.strip()} | {shown} | "
                  f"{med:.2f} | {min(vals):.2f} | {max(vals):.2f} | "
                  f"{verdict} |")
        else:
            print(f"{issue:5} {what:58} {op + str(bound):>8} {med:8.2f} "
                  f"{min(vals):7.2f} {max(vals):7.2f}  {verdict or '-'}")
    print(f"({len(values[0])} measurements each; JSON: {where})")
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main())
