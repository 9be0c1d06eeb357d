#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/targets.py - the speed targets of the issues, from benchmark JSON.

Usage:
  bench/targets.py BENCH_BINARY [--runs N] [--min-time S] [--out DIR]
      run the target benchmarks N times (default 3), each run one
      invocation of the program with every comparison in it, keep each
      run's JSON in DIR (default: a temporary directory), and print every
      target's ratio per run and its median over the runs;
  bench/targets.py --json FILE...
      the same from JSON files written earlier by iovamap-bench with the
      filter below.

Every ratio is taken inside one run (both sides of a comparison come from
the same invocation, back to back), never across runs: this machine's
speed changes from minute to minute.  The median over runs is what
docs/BENCHMARKS.md records; min and max show the spread.

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

FILTER = ('^(iova_pair_1page|iova_burst|translate_(4k|2m)(_writer)?/'
          '(iovamap|rculfhash)|flush_pair/(strict|lazy)/lat(0|1000)/)')


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


# (issue, what, function of one run -> value, comparison, bound)
TARGETS = [
    ("#3", "1-thread alloc+free pair / array-stack floor (time ratio)",
     lambda r: ips(r, t("iova_pair_1page/floor")) /
     ips(r, t("iova_pair_1page/cached")), "<=", 3.0),
    ("#3", "2 threads / 1 thread, cached pair (aggregate)",
     lambda r: ips(r, t("iova_pair_1page/cached", 2)) /
     ips(r, t("iova_pair_1page/cached")), ">=", 1.8),
    ("#3", "cached / uncached, 2-thread burst",
     lambda r: ips(r, t("iova_burst/cached", 2)) /
     ips(r, t("iova_burst/uncached", 2)), ">=", 10.0),
    ("#4", "translate 4 KiB leaves / rculfhash",
     lambda r: ips(r, t("translate_4k/iovamap")) /
     ips(r, t("translate_4k/rculfhash")), ">=", 2.0),
    ("#4", "translate 2 MiB leaves / rculfhash",
     lambda r: ips(r, t("translate_2m/iovamap")) /
     ips(r, t("translate_2m/rculfhash")), ">=", 2.0),
    ("#4", "translate 4 KiB with a writer / read-only",
     lambda r: ips(r, t("translate_4k_writer/iovamap")) /
     ips(r, t("translate_4k/iovamap")), ">=", 0.8),
    ("#4", "translate 2 MiB with a writer / read-only",
     lambda r: ips(r, t("translate_2m_writer/iovamap")) /
     ips(r, t("translate_2m/iovamap")), ">=", 0.8),
    ("#5", "lazy / strict map+unmap at 1 us invalidation",
     lambda r: ips(r, t("flush_pair/lazy/lat1000")) /
     ips(r, t("flush_pair/strict/lat1000")), ">=", 10.0),
    ("#5", "1-thread lazy map+unmap pair at latency 0 (ns)",
     lambda r: 1e9 / ips(r, t("flush_pair/lazy/lat0")), "<=", 60.0),
    ("#5", "2 threads / 1 thread, lazy pair at latency 0",
     lambda r: ips(r, t("flush_pair/lazy/lat0", 2)) /
     ips(r, t("flush_pair/lazy/lat0")), ">=", 1.8),
]


def run_bench(binary, out_dir, runs, min_time):
    files = []
    for i in range(runs):
        path = os.path.join(out_dir, f"targets-run{i + 1}.json")
        cmd = [binary, f"--benchmark_filter={FILTER}",
               f"--benchmark_min_time={min_time}",
               "--benchmark_repetitions=3",
               "--benchmark_report_aggregates_only=true",
               f"--benchmark_out={path}", "--benchmark_out_format=json"]
        print("+ " + " ".join(cmd), file=sys.stderr)
        if subprocess.run(cmd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode != 0:
            sys.exit(f"targets.py: {binary} failed (run {i + 1})")
        files.append(path)
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary", nargs="?")
    ap.add_argument("--json", nargs="+", default=None)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if bool(args.binary) == bool(args.json):
        ap.print_usage(sys.stderr)
        return 2
    if args.json:
        files = args.json
    else:
        out_dir = args.out or tempfile.mkdtemp(prefix="ivm-targets-")
        os.makedirs(out_dir, exist_ok=True)
        files = run_bench(args.binary, out_dir, args.runs, args.min_time)
    runs = []
    for f in files:
        with open(f) as fh:
            runs.append(json.load(fh)["benchmarks"])

    all_met = True
    print(f"{'issue':5} {'target':58} {'bound':>8} {'median':>8} "
          f"{'min':>7} {'max':>7}  met")
    for issue, what, fn, op, bound in TARGETS:
        vals = [fn(r) for r in runs]
        med = statistics.median(vals)
        met = med <= bound if op == "<=" else med >= bound
        all_met &= met
        print(f"{issue:5} {what:58} {op + str(bound):>8} {med:8.2f} "
              f"{min(vals):7.2f} {max(vals):7.2f}  {'yes' if met else 'NO'}")
    print(f"({len(runs)} runs: " + ", ".join(files) + ")")
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main())
