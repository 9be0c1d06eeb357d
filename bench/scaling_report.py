#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/scaling_report.py - multi-thread scaling tables from benchmark runs.

Usage:
  bench/scaling_report.py --csv OUT.csv NAME=FILE.json...
      extract every repetition (items_per_second, real time, iterations)
      of the Google Benchmark JSON files into one small CSV; NAME labels
      the invocation ("run1", "run1-qsbr", ...);
  bench/scaling_report.py FILE.csv
      print the markdown tables of docs/BENCHMARKS.md ("Scaling on a
      16-CPU machine") from such a CSV.

One row per repetition.  Per invocation and benchmark the tables show
the median items_per_second of the repetitions at each thread count and
the scaling ratio threads:N / threads:1 (medians, same invocation, as
docs/BENCHMARKS.md "Comparing figures" asks); the coefficient of
variation of the 1-thread repetitions says how firm the ratio's
denominator is.  QSBR vs memb divides medians of two invocations (same
machine, minutes apart).  pmd_fwd: the ratio of the two sides' medians,
each side's min-max, and the interquartile range of the ratios of every
pair of repetitions (with random interleaving, repetitions of the two
sides are not paired in time).
"""
import csv
import json
import re
import statistics as st
import sys

NAME = re.compile(r"^(.*)/real_time/threads:(\d+)$")
FIELDS = ["invocation", "flavour", "benchmark", "threads", "repetition",
          "items_per_second", "real_time_ns", "iterations"]
CONTEXT_KEYS = ["date", "host_name", "num_cpus", "mhz_per_cpu", "load_avg",
                "iovamap_cpu_model", "iovamap_kernel", "iovamap_cpus_allowed",
                "iovamap_virtual_machine", "iovamap_buildtype", "iovamap_lto",
                "iovamap_pinned", "iovamap_commit", "iovamap_bundle"]


def extract(specs, out_path):
    rows, headers = [], []
    for spec in specs:
        label, _, path = spec.partition("=")
        if not path:
            sys.exit(f"{spec}: want NAME=FILE.json")
        with open(path) as f:
            data = json.load(f)
        ctx = data["context"]
        flavour = ctx.get("iovamap_bundle", "memb")
        headers.append(f"# {label}: " + ", ".join(
            f"{k}={ctx[k]}" for k in CONTEXT_KEYS if k in ctx))
        for b in data["benchmarks"]:
            if b.get("run_type") != "iteration" or "error_occurred" in b:
                continue
            m = NAME.match(b["name"])
            if not m:
                continue
            rows.append([label, flavour, m.group(1), int(m.group(2)),
                         b.get("repetition_index", 0),
                         f"{b['items_per_second']:.6g}",
                         f"{b['real_time']:.6g}", b["iterations"]])
    with open(out_path, "w", newline="") as f:
        f.write("# bench/scaling_report.py: one row per repetition\n")
        for h in headers:
            f.write(h + "\n")
        w = csv.writer(f)
        w.writerow(FIELDS)
        w.writerows(rows)
    print(f"{out_path}: {len(rows)} repetitions from {len(specs)} files")


def load(path):
    """{invocation: {benchmark: {threads: [items_per_second...]}}}"""
    data = {}
    with open(path) as f:
        lines = [line for line in f if not line.startswith("#")]
    for r in csv.DictReader(lines):
        (data.setdefault(r["invocation"], {})
             .setdefault(r["benchmark"], {})
             .setdefault(int(r["threads"]), [])
             .append(float(r["items_per_second"])))
    return data


def mops(v):
    return f"{v / 1e6:,.1f}" if v >= 1e7 else f"{v / 1e6:,.2f}"


def cv(xs):
    return st.stdev(xs) / st.mean(xs) if len(xs) > 1 else 0.0


def spread(xs):
    return (f"{mops(min(xs))}-{mops(max(xs))}, "
            f"cv {cv(xs) * 100:.0f}%")


def scaling_table(name, benches, order):
    counts = sorted({t for b in benches.values() for t in b})
    top = max(counts)
    print(f"\n#### {name}\n")
    if counts == [1]:
        print("| benchmark | 1 thr | 1 thr min-max, cv |")
        print("|---|---:|---|")
        for bench in order(benches):
            xs = benches[bench][1]
            print(f"| `{bench}` | {mops(st.median(xs))} | {spread(xs)} |")
        return
    print("| benchmark | " + " | ".join(f"{t} thr" for t in counts) +
          f" | 2 / 1 | {top} / 1 | 1 thr min-max, cv |")
    print("|---|" + "---:|" * (len(counts) + 2) + "---|")
    for bench in order(benches):
        runs = benches[bench]
        med = {t: st.median(runs[t]) for t in runs}
        cells = [mops(med[t]) if t in med else "" for t in counts]
        one = med.get(1)
        r2 = f"{med[2] / one:.2f}" if one and 2 in med else ""
        rt = f"**{med[top] / one:.2f}**" if one and top in med else ""
        c1 = spread(runs[1]) if 1 in runs else ""
        print(f"| `{bench}` | " + " | ".join(cells) +
              f" | {r2} | {rt} | {c1} |")


def family_order(benches):
    def key(b):
        fam = (0 if b.startswith("iova") else 1 if b.startswith("flush")
               else 2)
        return (fam, b)
    return sorted(benches, key=key)


def flavour_table(memb, qsbr):
    both = [b for b in family_order(memb) if b in qsbr]
    counts = sorted({t for b in both for t in memb[b]})
    print("\n#### QSBR / memb (median items_per_second, qsbr run over "
          "memb run)\n")
    print("| benchmark | " + " | ".join(f"{t} thr" for t in counts) + " |")
    print("|---|" + "---:|" * len(counts))
    for b in both:
        cells = []
        for t in counts:
            if t in memb[b] and t in qsbr[b]:
                cells.append(f"{st.median(qsbr[b][t]) / st.median(memb[b][t]):.2f}")
            else:
                cells.append("")
        print(f"| `{b}` | " + " | ".join(cells) + " |")


def quartiles(xs):
    xs = sorted(xs)
    q = st.quantiles(xs, n=4)
    return q[0], q[2]


def pmd_table(data):
    print("\n#### pmd_fwd: pool_mapped / no_iommu\n")
    print("| invocation | reps | no_iommu Mpps (min-max, cv) | "
          "pool_mapped Mpps (min-max, cv) | ratio of medians | "
          "all-pairs ratio IQR (min-max) |")
    print("|---|---:|---|---|---:|---|")
    for inv, benches in data.items():
        if "pmd_fwd/no_iommu" not in benches:
            continue
        none = benches["pmd_fwd/no_iommu"][1]
        pool = benches["pmd_fwd/pool_mapped"][1]
        pairs = [p / n for p in pool for n in none]
        lo, hi = quartiles(pairs)

        def side(xs):
            return (f"{st.median(xs) / 1e6:.1f} ({min(xs) / 1e6:.1f}-"
                    f"{max(xs) / 1e6:.1f}, {cv(xs) * 100:.0f}%)")
        print(f"| {inv} | {len(none)} | {side(none)} | {side(pool)} | "
              f"**{st.median(pool) / st.median(none):.3f}** | "
              f"{lo:.3f}-{hi:.3f} ({min(pairs):.2f}-{max(pairs):.2f}) |")


def report(path):
    data = load(path)
    for inv, benches in data.items():
        scaling = {b: r for b, r in benches.items()
                   if not b.startswith("pmd_fwd")}
        if scaling:
            scaling_table(inv, scaling, family_order)
    if "run1" in data and "run1-qsbr" in data:
        flavour_table(data["run1"], data["run1-qsbr"])
    pmd_table(data)


def main(argv):
    if len(argv) >= 3 and argv[0] == "--csv":
        extract(argv[2:], argv[1])
    elif len(argv) == 1 and argv[0].endswith(".csv"):
        report(argv[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
