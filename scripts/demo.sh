#!/usr/bin/env bash
#
# scripts/demo.sh - install dependencies, build a release build, and show
# iovamap working: the demo program, then the benchmarks (when Google
# Benchmark is available).
#
# Usage: scripts/demo.sh
#
# Build directory: build-release/ (--buildtype=release with link-time
# optimisation, unit tests off; the configuration docs/BENCHMARKS.md
# records figures from).
# The benchmark results are also kept as JSON in
# build-release/bench-results.json.  Rerunning is cheap: nothing is
# installed or reconfigured twice, and ninja rebuilds only what changed.
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$IVM_ROOT"

dir=build-release

ivm_install_deps
ivm_setup "$dir" --buildtype=release -Db_lto=true -Dtests=false ||
	ivm_die "configure failed"
ivm_build "$dir" || ivm_die "build failed"

ivm_say "running $dir/examples/iovamap-demo"
"$dir/examples/iovamap-demo" || ivm_die "the demo reported unexpected results"

bench="$dir/bench/iovamap-bench"
if [[ -x $bench ]] && meson introspect --targets "$dir" | grep -q '"iovamap-bench"'; then
	ivm_say "running $bench (0.2 s per benchmark; items_per_second is operations per second)"
	# A representative subset, each with its baseline, so the demo stays
	# short; run the program without a filter for everything.
	filter=${IVM_DEMO_BENCH_FILTER:-'^(map_unmap_4k|iova_pair_1page/|iova_burst/|translate_4k/|flush_pair/(strict|lazy)/lat1000)'}
	"$bench" --benchmark_min_time=0.2 --benchmark_filter="$filter" \
		--benchmark_out="$dir/bench-results.json" --benchmark_out_format=json ||
		ivm_die "benchmarks failed"
	ivm_say "JSON results: $dir/bench-results.json (see docs/BENCHMARKS.md)"
else
	ivm_say "benchmarks not built (need g++ and libbenchmark-dev); skipping"
fi
ivm_say "done"
