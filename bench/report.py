#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/report.py - iovamap's benchmark report from Google Benchmark JSON.

Usage:
  python3 bench/report.py JSON... [--out DIR] [--readme FILE]
                          [--stress-command CMD --stress-exit N
                           --stress-summary LINE]

Reads the JSON that iovamap-bench writes (--benchmark_out=FILE
--benchmark_out_format=json; several files are merged, e.g. the three that
scripts/demo.sh writes to build-release/bench-results/), prints a table of
each operation against its baselines, and writes to DIR (default
docs/report):

  report.md           the machine, the table, the issues' targets as this
                      run measured them, the stress run, the plots
  threads.png         ns per operation by thread count
  invalidation.png    lazy against strict invalidation, by invalidation
                      latency
  translate.png       translate against rculfhash and a mutex radix table
  iova.png            the IOVA magazine cache against the locked allocator
                      and the array-stack floor
  bench-results.json  every input's benchmarks in one file (the first
                      input's context; "contexts" keeps each input's,
                      "iovamap_stress" the stress run), which this script
                      and bench/targets.py --json read back

--readme FILE replaces the part of FILE between the lines
"<!-- iovamap-report:begin -->" and "<!-- iovamap-report:end -->" with the
machine line, the table and the plots.

Plots need matplotlib (Debian: python3-matplotlib) and are drawn with the
Agg backend, no display needed; without matplotlib the table and
report.md are still written.  Everything the report says about the
machine comes from the JSON (the shim records CPU model, kernel and CPUs
in its context), so a report made elsewhere still names the machine the
figures come from.

What the benchmarks measure and why each baseline is fair:
docs/BENCHMARKS.md.
"""
import argparse
import json
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import targets  # noqa: E402  (bench/targets.py: the issues' speed targets)

README_BEGIN = "<!-- iovamap-report:begin -->"
README_END = "<!-- iovamap-report:end -->"
MAX = "max"  # in a comparison's thread list: the highest count measured

# ---- what is compared ---------------------------------------------------

# (operation, iovamap benchmark, [(baseline, benchmark), ...], threads).
# Names are without the "/real_time/threads:N" suffix; the speed-up is the
# baseline's ns per operation over iovamap's, both from the same run.
COMPARISONS = [
    ("IOVA alloc+free, 1 page (magazine cache)", "iova_pair_1page/cached",
     [("locked allocator (cache off)", "iova_pair_1page/uncached"),
      ("per-thread array stack (floor)", "iova_pair_1page/floor")],
     (1, MAX)),
    ("IOVA burst: 512 allocs, then 512 frees", "iova_burst/cached",
     [("locked allocator (cache off)", "iova_burst/uncached")], (1, MAX)),
    ("translate, 1 GiB of 4 KiB leaves", "translate_4k/iovamap",
     [("rculfhash", "translate_4k/rculfhash"),
      ("radix table under a mutex", "translate_4k/mutex_radix")], (1, MAX)),
    ("translate, 1 GiB of 2 MiB leaves", "translate_2m/iovamap",
     [("rculfhash", "translate_2m/rculfhash"),
      ("radix table under a mutex", "translate_2m/mutex_radix")], (1,)),
    ("translate 4 KiB leaves, a writer nearby", "translate_4k_writer/iovamap",
     [("iovamap, no writer", "translate_4k/iovamap"),
      ("rculfhash, a writer nearby", "translate_4k_writer/rculfhash")], (1,)),
    ("map+unmap at an explicit address", "map_unmap_explicit/iovamap",
     [("rculfhash (no IOMMU model)", "map_unmap_explicit/rculfhash"),
      ("radix under a mutex (no model)", "map_unmap_explicit/mutex_radix")],
     (1,)),
    ("map+unmap, lazy, 1 us invalidation", "flush_pair/lazy/lat1000",
     [("strict invalidation", "flush_pair/strict/lat1000")], (1,)),
    ("map+unmap, lazy, 10 us invalidation", "flush_pair/lazy/lat10000",
     [("strict invalidation", "flush_pair/strict/lat10000")], (1,)),
    ("map+unmap, lazy, latency 0", "flush_pair/lazy/lat0",
     [("strict invalidation", "flush_pair/strict/lat0")], (1, MAX)),
    ("map+unmap, lazy, threads on one domain", "flush_pair/lazy/lat0",
     [("a domain per thread (control)", "flush_pair/lazy_own_domains/lat0")],
     (MAX,)),
]

# Bar groups (label, benchmark prefix) and bars (label, implementation);
# the first implementation is iovamap's.
TRANSLATE_GROUPS = [("4 KiB leaves", "translate_4k"),
                    ("2 MiB leaves", "translate_2m"),
                    ("4 KiB, a writer nearby", "translate_4k_writer"),
                    ("2 MiB, a writer nearby", "translate_2m_writer")]
TRANSLATE_IMPLS = [("iovamap", "iovamap"), ("rculfhash", "rculfhash"),
                   ("radix under a mutex", "mutex_radix")]
IOVA_GROUPS = [("1 page", "iova_pair_1page"),
               ("1-32 pages", "iova_pair_random"),
               ("burst of 512", "iova_burst")]
IOVA_VARIANTS = [("magazine cache", "cached"),
                 ("locked allocator", "uncached"),
                 ("array-stack floor", "floor")]


def series(prefix, impls):
    """Plot series (label, benchmark, is iovamap) of one benchmark prefix."""
    return [(label, f"{prefix}/{impl}", i == 0)
            for i, (label, impl) in enumerate(impls)]


THREAD_PANELS = [
    ("IOVA alloc + free, 1 page", series("iova_pair_1page", IOVA_VARIANTS)),
    ("translate, 4 KiB leaves", series("translate_4k", TRANSLATE_IMPLS)),
    ("translate, 2 MiB leaves", series("translate_2m", TRANSLATE_IMPLS)),
    ("map + unmap, invalidation latency 0",
     [("lazy, one domain", "flush_pair/lazy/lat0", True),
      ("lazy, a domain per thread", "flush_pair/lazy_own_domains/lat0",
       False),
      ("strict, one domain", "flush_pair/strict/lat0", False)]),
]
COLOURS = ["#1f77b4", "#d62728", "#7f7f7f", "#2ca02c"]


# ---- reading ------------------------------------------------------------

class Results:
    """Every benchmark of the inputs, looked up by name and thread count."""

    def __init__(self, paths):
        self.runs, self.contexts, self.stress = [], [], {}
        for path in paths:
            with open(path) as fh:
                data = json.load(fh)
            self.runs.extend(data.get("benchmarks", []))
            self.contexts.extend(data.get("contexts", [data.get("context",
                                                                {})]))
            # A merged file made by this script keeps the stress run.
            self.stress = self.stress or data.get("iovamap_stress", {})
        self.context = self.contexts[0] if self.contexts else {}

    def ips(self, name, threads):
        """items_per_second (the median aggregate when there is one)."""
        try:
            return targets.ips(self.runs, targets.t(name, threads))
        except KeyError:
            return None

    def ns(self, name, threads):
        """Wall-clock ns per operation, all threads together."""
        ips = self.ips(name, threads)
        return 1e9 / ips if ips else None

    def threads(self, name):
        """The thread counts measured for benchmark `name`."""
        pat = re.compile(re.escape(name) +
                         r"/real_time/threads:(\d+)(_median)?$")
        return sorted({int(m.group(1)) for b in self.runs
                       for m in [pat.match(b["name"])] if m})

    def latencies(self, mode):
        """Invalidation latencies (ns) measured for flush_pair/<mode>."""
        pat = re.compile(r"flush_pair/" + mode +
                         r"/lat(\d+)/real_time/threads:1(_median)?$")
        return sorted({int(m.group(1)) for b in self.runs
                       for m in [pat.match(b["name"])] if m})

    def merged(self):
        return {"context": self.context, "contexts": self.contexts,
                "iovamap_stress": self.stress, "benchmarks": self.runs}


def machine(ctx):
    """One line naming the machine, from the JSON context."""
    vm = {"yes": ", virtual machine", "no": ""}.get(
        ctx.get("iovamap_virtual_machine"), "")
    cpus = ctx.get("num_cpus", "?")
    allowed = ctx.get("iovamap_cpus_allowed")
    used = f" ({allowed} used)" if allowed and str(allowed) != str(cpus) \
        else ""
    return (f"{ctx.get('iovamap_cpu_model', 'CPU model not recorded')}, "
            f"{cpus} CPUs{used}{vm}; "
            f"{ctx.get('iovamap_kernel', 'kernel not recorded')}")


def build_line(ctx):
    """One line naming the build, the commit and when it ran."""
    lto = "LTO" if ctx.get("iovamap_lto") == "true" else "no LTO"
    commit = ctx.get("iovamap_commit", "commit not recorded")
    load = ctx.get("load_avg")
    load = f"; load average {load[0]:.2f} at the start" if load else ""
    return (f"iovamap {ctx.get('iovamap_version', '?')} at {commit}, "
            f"{ctx.get('iovamap_buildtype', '?')} build with {lto}, "
            f"threads pinned: {ctx.get('iovamap_pinned', '?')}; "
            f"{ctx.get('date', 'date not recorded')}{load}")


# ---- the table ------------------------------------------------------------

def fmt_ns(v):
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:,.0f} ns"
    return f"{v:.3g} ns" if v >= 10 else f"{v:.2f} ns"


def fmt_ratio(v):
    if v is None:
        return "-"
    return f"{v:.0f}x" if v >= 100 else (f"{v:.1f}x" if v >= 10
                                          else f"{v:.2f}x")


def table_rows(res):
    """[(operation, threads, iovamap ns, baseline, baseline ns, speed-up)]"""
    rows = []
    for what, mine, baselines, thread_sel in COMPARISONS:
        have = res.threads(mine)
        if not have:
            continue
        counts = []
        for sel in thread_sel:
            n = have[-1] if sel == MAX else sel
            if n in have and n not in counts:
                counts.append(n)
        for n in counts:
            mine_ns = res.ns(mine, n)
            if mine_ns is None:
                continue
            first = True
            for label, base in baselines:
                base_ns = res.ns(base, n)
                if base_ns is None:
                    continue
                rows.append((what if first else "", n,
                             fmt_ns(mine_ns) if first else "", label,
                             fmt_ns(base_ns), fmt_ratio(base_ns / mine_ns)))
                first = False
    return rows


HEADER = ("operation", "threads", "iovamap", "baseline", "baseline ns",
          "speed-up")


def terminal_table(rows):
    widths = [max(len(str(r[i])) for r in rows + [HEADER])
              for i in range(len(HEADER))]
    right = {1, 2, 4, 5}
    lines = []
    for r in [HEADER] + rows:
        cells = [str(c).rjust(w) if i in right else str(c).ljust(w)
                 for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows):
    out = ["| " + " | ".join(HEADER) + " |", "|---|---:|---:|---|---:|---:|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


TABLE_NOTE = ("Times are wall-clock ns per operation, all threads together "
              "(1e9 / items_per_second; the median of the repetitions where "
              "there were several). Speed-up is the baseline's time over "
              "iovamap's, both from the same run: above 1, iovamap is "
              "faster. What each benchmark measures and why its baseline "
              "is fair: {benchmarks}.")


def target_rows(res):
    """The issues' speed targets (bench/targets.py) as this run measured
    them: one run, so indicative; the verdicts of record are
    targets.py's medians over rounds (docs/BENCHMARKS.md)."""
    rows = []
    for issue, what, fn, op, bound, _flt in targets.TARGETS:
        try:
            value = fn(res.runs)
        except (KeyError, ZeroDivisionError):
            continue
        info = bound == targets.INFO
        met = info or (value <= bound if op == "<=" else value >= bound)
        rows.append((issue.strip(), what.strip(),
                     "" if info else f"{op} {bound:g}", f"{value:.2f}",
                     "" if info else ("yes" if met else "**no**")))
    return rows


# ---- the plots ------------------------------------------------------------

def plots(res, out_dir):
    """Writes the PNGs; returns [(file, caption)] of those written."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FixedLocator, FuncFormatter, \
            NullLocator
    except ImportError:
        print("report.py: matplotlib not installed (Debian: apt-get install "
              "python3-matplotlib): no plots", file=sys.stderr)
        return []
    plt.rcParams.update({"font.size": 9, "axes.grid": True,
                         "grid.alpha": 0.3, "savefig.dpi": 110})
    foot = machine(res.context)
    written = []
    def minor_label(v, _pos):
        # 2, 3 and 5 times a power of ten; more would crowd.
        mantissa = round(v / 10 ** math.floor(math.log10(v)))
        return f"{v:g}" if mantissa in (2, 3, 5) else ""

    def log_y(ax):
        # Plain numbers (not 3x10^1) on the major and minor ticks.
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(minor_label))
        ax.tick_params(axis="y", which="minor", labelsize=7)

    def save(fig, name, caption):
        fig.text(0.01, 0.01, foot, fontsize=7, color="#555555")
        fig.tight_layout(rect=(0, 0.035, 1, 1))
        fig.savefig(os.path.join(out_dir, name))
        plt.close(fig)
        written.append((name, caption))

    # ns per operation by thread count.
    panels = [p for p in THREAD_PANELS
              if any(res.threads(b) for _l, b, _m in p[1])]
    if panels:
        cols = 2 if len(panels) > 1 else 1
        rows = (len(panels) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows),
                                 squeeze=False)
        for ax, (title, series) in zip(axes.flat, panels):
            counts = set()
            for i, (label, bench, ours) in enumerate(series):
                ns = [(n, res.ns(bench, n)) for n in res.threads(bench)]
                if not ns:
                    continue
                counts.update(n for n, _v in ns)
                x, y = zip(*ns)
                ax.plot(x, y, marker="o", color=COLOURS[i], label=label,
                        linewidth=2.2 if ours else 1.4)
                if ours and len(x) > 1:
                    ax.plot(x, [y[0] * x[0] / n for n in x], linestyle=":",
                            color=COLOURS[i], label="perfect scaling")
            ax.set_title(title)
            ax.set_xscale("log", base=2)
            log_y(ax)
            ax.xaxis.set_major_locator(FixedLocator(sorted(counts)))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xticklabels([str(n) for n in sorted(counts)])
            ax.set_xlabel("threads")
            ax.set_ylabel("ns per operation (wall clock)")
            ax.legend(fontsize=7, framealpha=0.8)
        for ax in list(axes.flat)[len(panels):]:
            ax.axis("off")
        fig.suptitle("ns per operation by thread count (lower is better; "
                     "all threads together)", fontsize=10)
        save(fig, "threads.png", "ns per operation by thread count")

    # Strict against lazy by invalidation latency.
    lats = sorted(set(res.latencies("strict")) | set(res.latencies("lazy")))
    if lats:
        fig, ax = plt.subplots(figsize=(7, 4))
        pos = range(len(lats))
        for i, mode in enumerate(("strict", "lazy")):
            y = [res.ns(f"flush_pair/{mode}/lat{lat}", 1) for lat in lats]
            ax.plot(pos, y, marker="o", color=COLOURS[1 - i], label=mode,
                    linewidth=2.2 if mode == "lazy" else 1.4)
        # Between the two lines: how many times faster lazy is.
        for p, lat in zip(pos, lats):
            s = res.ns(f"flush_pair/strict/lat{lat}", 1)
            lz = res.ns(f"flush_pair/lazy/lat{lat}", 1)
            if s and lz:
                ax.plot([p, p], [lz, s], linestyle="--", linewidth=0.8,
                        color="#999999")
                ax.annotate(f"{s / lz:.1f}x", (p, (s * lz) ** 0.5),
                            textcoords="offset points", xytext=(4, 0),
                            va="center", fontsize=8)
        ax.set_xticks(list(pos))
        ax.set_xticklabels([latency_label(lat) for lat in lats])
        log_y(ax)
        ax.set_xlabel("modelled IOTLB invalidation latency (one backend "
                      "sync)")
        ax.set_ylabel("ns per map + unmap pair")
        ax.set_title("map + unmap of a 4 KiB page, 1 thread: strict vs "
                     "lazy invalidation\n(dashed: lazy's speed-up over "
                     "strict)")
        ax.legend()
        save(fig, "invalidation.png",
             "strict vs lazy invalidation by invalidation latency")

    bars(res, save, plt, log_y, "translate.png",
         "translate vs rculfhash and a radix table under a mutex",
         "ns per translate", TRANSLATE_GROUPS, TRANSLATE_IMPLS, (1,),
         "rculfhash")
    bars(res, save, plt, log_y, "iova.png",
         "IOVA alloc + free: magazine cache vs locked allocator vs floor",
         "ns per alloc + free", IOVA_GROUPS, IOVA_VARIANTS,
         (1, MAX), "uncached")
    return written


def latency_label(ns):
    if ns == 0:
        return "0"
    return f"{ns / 1000:g} us" if ns >= 1000 else f"{ns} ns"


def bars(res, save, plt, log_y, name, title, ylabel, groups, impls,
         thread_sel, versus):
    """Grouped bars, one subplot per thread count; the first impl's bar is
    labelled with its speed-up over `versus`."""
    first = f"{groups[0][1]}/{impls[0][1]}"
    have = res.threads(first)
    counts = sorted({have[-1] if s == MAX else s for s in thread_sel
                     if have} & set(have))
    if not counts:
        return
    fig, axes = plt.subplots(1, len(counts),
                             figsize=(max(6.5 * len(counts), 8), 4.3),
                             squeeze=False)
    width = 0.8 / len(impls)
    for ax, n in zip(axes.flat, counts):
        for i, (label, impl) in enumerate(impls):
            xs, ys = [], []
            for g, (_gl, prefix) in enumerate(groups):
                v = res.ns(f"{prefix}/{impl}", n)
                if v is not None:
                    xs.append(g + (i - (len(impls) - 1) / 2) * width)
                    ys.append(v)
            ax.bar(xs, ys, width, label=label, color=COLOURS[i])
        for g, (_gl, prefix) in enumerate(groups):
            ours = res.ns(f"{prefix}/{impls[0][1]}", n)
            other = res.ns(f"{prefix}/{versus}", n)
            if ours and other:
                ax.annotate(f"{other / ours:.1f}x",
                            (g - (len(impls) - 1) / 2 * width, ours),
                            textcoords="offset points", xytext=(0, 3),
                            ha="center", fontsize=8)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([gl for gl, _p in groups], fontsize=8)
        log_y(ax)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{n} thread{'s' if n > 1 else ''}")
        ax.legend(fontsize=7)
    fig.suptitle(f"{title}\n(lower is better; above iovamap's bar: its "
                 f"speed-up over {dict((v, k) for k, v in impls)[versus]})",
                 fontsize=10)
    save(fig, name, title)


# ---- writing ---------------------------------------------------------------

def stress_line(stress):
    """The stress run (--stress-* options, or a merged file's record)."""
    if stress.get("exit") is None:
        return stress.get("summary") or "not run"
    verdict = "passed" if stress["exit"] == 0 else \
        f"FAILED (exit status {stress['exit']})"
    cmd = f"`{stress['command']}`: " if stress.get("command") else ""
    return f"{cmd}{verdict}; {stress.get('summary') or 'no summary line'}"


def benchmarks_md(where):
    """docs/BENCHMARKS.md as a Markdown link from directory `where`, or
    its name alone when `where` is outside the tree."""
    rel = os.path.relpath(os.path.join(repo_root(), "docs", "BENCHMARKS.md"),
                          os.path.abspath(where))
    inside = not os.path.relpath(os.path.abspath(where),
                                 repo_root()).startswith("..")
    if inside:
        return f"[docs/BENCHMARKS.md]({rel})"
    return "`docs/BENCHMARKS.md` in the iovamap tree"


def report_markdown(res, rows, pictures, out_dir):
    ctx = res.context
    bench_md = benchmarks_md(out_dir)
    lines = [
        "# iovamap benchmark report",
        "",
        "Made by `bench/report.py` from Google Benchmark JSON "
        "(`bench-results.json` beside this file); `scripts/demo.sh` runs "
        "the benchmarks and writes it. Regenerate from that JSON with "
        "`python3 bench/report.py docs/report/bench-results.json "
        "--out docs/report`.",
        "",
        f"- Machine: {machine(ctx)}",
        f"- Build: {build_line(ctx)}",
        f"- Stress run: {stress_line(res.stress)}",
        "",
        "## iovamap against its baselines",
        "",
        markdown_table(rows),
        "",
        TABLE_NOTE.format(benchmarks=bench_md),
        "",
    ]
    trows = target_rows(res)
    if trows:
        lines += [
            "## The issues' speed targets in this run",
            "",
            "One run, so indicative only: the verdicts of record are "
            "`bench/targets.py`'s medians over several rounds of "
            "interleaved repetitions "
            f"({bench_md}, \"Targets at a glance\").",
            "",
            "| issue | target | bound | this run | met? |",
            "|---|---|---|---:|---|",
        ]
        lines += ["| " + " | ".join(r) + " |" for r in trows]
        lines.append("")
    if pictures:
        lines += ["## Plots", ""]
        for name, caption in pictures:
            lines += [f"![{caption}]({name})", ""]
    return "\n".join(lines)


def readme_block(res, rows, pictures, readme, out_dir):
    rel = os.path.relpath(out_dir, os.path.dirname(os.path.abspath(readme)))
    bench_md = benchmarks_md(os.path.dirname(os.path.abspath(readme)))
    load = res.context.get("load_avg")
    load = f", load average {load[0]:.2f} at the start" if load else ""
    lines = [README_BEGIN,
             f"Measured on {machine(res.context)} "
             f"({res.context.get('date', 'date not recorded')[:10]}, "
             f"commit {res.context.get('iovamap_commit', 'not recorded')}"
             f"{load}); full report: [{rel}/report.md]({rel}/report.md).",
             "", f"Stress run: {stress_line(res.stress)}",
             "", markdown_table(rows), "",
             TABLE_NOTE.format(benchmarks=bench_md), ""]
    for name, caption in pictures:
        lines += [f"![{caption}]({rel}/{name})", ""]
    lines.append(README_END)
    return "\n".join(lines)


def update_readme(path, block):
    with open(path) as fh:
        text = fh.read()
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin < 0 or end < begin:
        print(f"report.py: {path} has no {README_BEGIN} ... {README_END} "
              "block; left unchanged", file=sys.stderr)
        return False
    text = text[:begin] + block + text[end + len(README_END):]
    with open(path, "w") as fh:
        fh.write(text)
    return True


def repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="See the top of bench/report.py for what it writes.")
    ap.add_argument("json", nargs="+", help="iovamap-bench JSON output")
    ap.add_argument("--out", default=os.path.join(repo_root(), "docs",
                                                  "report"),
                    help="directory for report.md, the PNGs and "
                    "bench-results.json (default: docs/report)")
    ap.add_argument("--readme", help="file whose report block to replace")
    ap.add_argument("--stress-command", help="the stress run's command")
    ap.add_argument("--stress-exit", type=int,
                    help="its exit status (omit: not run)")
    ap.add_argument("--stress-summary", help="its summary line, or why it "
                    "did not run")
    args = ap.parse_args()

    res = Results(args.json)
    if args.stress_summary is not None or args.stress_exit is not None:
        res.stress = {"command": args.stress_command,
                      "exit": args.stress_exit,
                      "summary": args.stress_summary}
    rows = table_rows(res)
    if not rows:
        sys.exit("report.py: no benchmark of the comparisons in "
                 + ", ".join(args.json))
    os.makedirs(args.out, exist_ok=True)
    merged = os.path.join(args.out, "bench-results.json")
    data = res.merged()
    with open(merged + ".tmp", "w") as fh:
        json.dump(data, fh, indent=1)
        fh.write("\n")
    os.replace(merged + ".tmp", merged)

    print(f"Machine: {machine(res.context)}")
    print(f"Build:   {build_line(res.context)}")
    print()
    print(terminal_table(rows))
    print()
    print("ns: wall-clock per operation, all threads together; speed-up: "
          "baseline time / iovamap time (same run)")

    pictures = plots(res, args.out)
    with open(os.path.join(args.out, "report.md"), "w") as fh:
        fh.write(report_markdown(res, rows, pictures, args.out))
        fh.write("\n")
    if args.readme:
        update_readme(args.readme,
                      readme_block(res, rows, pictures, args.readme,
                                   args.out))
    shown = ", ".join(n for n, _c in pictures) or "no plots"
    print(f"\nReport: {os.path.join(args.out, 'report.md')} ({shown}); "
          f"JSON: {merged}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
