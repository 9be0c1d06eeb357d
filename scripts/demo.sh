#!/usr/bin/env bash
#
# scripts/demo.sh - the main job: what iovamap does and how fast, in one
# command.  Installs what is missing, builds a release build, walks
# through the API on the software IOMMU, measures iovamap against its
# baselines, runs the stress harness, and writes a report with plots.
#
# Usage: scripts/demo.sh
#
# Steps (each announced as "==> [i/9] ..."):
#   1  Debian packages (scripts/common.sh) and python3-matplotlib (plots)
#   2  build-release/: --buildtype=release, link-time optimisation, unit
#      tests off (the configuration docs/BENCHMARKS.md records figures from)
#   3  examples/iovamap-demo: map, translate, DMA, a permission fault,
#      unmap with lazy invalidation, a reservation (its full output:
#      build-release/demo-walkthrough.txt)
#   4  IOVA allocator: magazine cache vs the locked allocator vs a floor
#   5  page table: translate vs rculfhash and a radix table under a mutex
#   6  invalidation: lazy vs strict map+unmap by invalidation latency
#   7  DPDK forwarding: examples/iovamap-pmd-fwd, Mpps on net_null ports
#      with no IOMMU, a pool mapped once, strict per-packet maps (its
#      output: build-release/pmd-fwd.txt; skipped without DPDK)
#   8  stress: build-release/stress/iovamap-stress for 10 s, when built
#   9  report: bench/report.py prints the table and writes docs/report/
#      (report.md, *.png, bench-results.json) and README.md's report block
#
# Steps 4-6 each run iovamap-bench once over their benchmarks, every
# benchmark IVM_DEMO_REPETITIONS times in random interleaved order (the
# median counts), at 1, 2, ... threads up to the CPUs where a benchmark
# scales; raw JSON and the program's output go to
# build-release/bench-results/<step>.{json,log}.  Rerun the report alone
# with: python3 bench/report.py build-release/bench-results/*.json
#
# A run rewrites docs/report/ and README.md's report block with this
# machine's figures: commit them to publish them, or
# `git checkout docs/report README.md` to drop them.
#
# Environment:
#   IVM_DEMO_REPETITIONS=5     repetitions per benchmark
#   IVM_DEMO_MIN_TIME=0.1      --benchmark_min_time (seconds)
#   IVM_DEMO_STRESS_SECONDS=10 length of the stress run
#   IVM_DEMO_REPORT_DIR=DIR    write the report there instead of
#                              docs/report (README.md is then left alone)
#   IVM_SKIP_DEPS=1            never call apt-get (scripts/common.sh)
#
# Exit status: 0, or 1 when a step failed (a failed stress run
# included: the report is still written first).
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$IVM_ROOT"

dir=build-release
results=$dir/bench-results
reps=${IVM_DEMO_REPETITIONS:-5}
min_time=${IVM_DEMO_MIN_TIME:-0.1}
stress_seconds=${IVM_DEMO_STRESS_SECONDS:-10}
report_dir=${IVM_DEMO_REPORT_DIR:-docs/report}
steps=9
step=0
started=$SECONDS

progress() {
	step=$((step + 1))
	ivm_say "[$step/$steps] $*"
}

# The commit the figures belong to ("+changes" when lib/, hw/, include/
# or bench/ differ from it), recorded in the benchmark JSON.
source_commit() {
	local commit
	commit=$(git rev-parse --short=7 HEAD 2>/dev/null) || {
		echo unknown
		return
	}
	if ! git diff --quiet HEAD -- lib hw include bench meson.build \
		meson_options.txt 2>/dev/null; then
		commit+="+changes"
	fi
	echo "$commit"
}

# count_done TOTAL: reads Google Benchmark's console output and, on a
# terminal, keeps one line up to date with the benchmarks finished so far
# (each prints its _median aggregate when its repetitions are done).
count_done() {
	local total=$1 done=0 line
	while IFS= read -r line; do
		if [[ $line == *_median\ * ]]; then
			done=$((done + 1))
			if [[ -t 1 ]]; then
				printf '\r    %d/%d benchmarks done' "$done" "$total"
			fi
		fi
	done
	[[ -t 1 ]] && printf '\r\033[K'
	return 0
}

# bench_step NAME FILTER: one invocation of iovamap-bench over FILTER;
# JSON to $results/NAME.json, console and stderr to $results/NAME.log.
bench_step() {
	local name=$1 filter=$2
	local json=$results/$name.json log=$results/$name.log t0=$SECONDS total
	total=$("$bench" --benchmark_list_tests --benchmark_filter="$filter" | wc -l)
	rm -f "$json"
	if ! "$bench" --benchmark_filter="$filter" \
		--benchmark_min_time="$min_time" \
		--benchmark_repetitions="$reps" \
		--benchmark_enable_random_interleaving=true \
		--benchmark_report_aggregates_only=true \
		--benchmark_context="iovamap_commit=$commit" \
		--benchmark_out="$json" --benchmark_out_format=json \
		2>"$log.stderr" | tee "$log" | count_done "$total"; then
		cat "$log.stderr" >>"$log"
		tail -n 20 "$log" >&2
		ivm_die "benchmarks failed (log: $log)"
	fi
	cat "$log.stderr" >>"$log"
	rm -f "$log.stderr"
	printf '    %d benchmarks x %d repetitions in %d s\n' "$total" "$reps" \
		$((SECONDS - t0))
}

progress "Debian packages"
# python3-munkres and python3-unicodedata2 are alternatives that
# python3-fonttools (a matplotlib dependency) accepts; without them apt
# picks SciPy and python3-all, which bring Pythran, Boost and a Python
# development toolchain: about 45 packages instead of 35, minutes on a
# slow mirror.
ivm_install_deps python3-matplotlib python3-munkres python3-unicodedata2
# Debian's interpreter: the one python3-matplotlib is installed for (a
# python3 earlier in PATH, e.g. pyenv's, may not see it).
python=python3
if [[ -x /usr/bin/python3 ]]; then
	python=/usr/bin/python3
fi

progress "building $dir (release, LTO)"
ivm_setup "$dir" --buildtype=release -Db_lto=true -Dtests=false ||
	ivm_die "configure failed"
ivm_build "$dir" || ivm_die "build failed"

progress "walk-through: $dir/examples/iovamap-demo"
walkthrough=$dir/demo-walkthrough.txt
if ! "$dir/examples/iovamap-demo" >"$walkthrough" 2>&1; then
	cat "$walkthrough" >&2
	ivm_die "the demo reported unexpected results"
fi
# The section titles, then its verdict; every step is in the file.
sed -n 's/^== /    /p' "$walkthrough"
printf '    %s (every step and status: %s)\n' "$(tail -n 1 "$walkthrough")" \
	"$walkthrough"

bench=$dir/bench/iovamap-bench
if [[ ! -x $bench ]] ||
	! meson introspect --targets "$dir" | grep -q '"iovamap-bench"'; then
	ivm_die "benchmarks not built (they need g++ and libbenchmark-dev)"
fi
mkdir -p "$results"
commit=$(source_commit)

progress "IOVA allocator: magazine cache vs locked allocator vs array-stack floor"
bench_step iova '^iova_(pair_1page|pair_random|burst)/'

progress "page table: translate vs rculfhash and a radix table under a mutex"
bench_step translate '^(translate_(4k|2m)(_writer)?|map_unmap_explicit)/'

progress "invalidation: lazy vs strict map+unmap, latency 0 to 10 us"
bench_step flush '^flush_pair/'

progress "DPDK forwarding: no IOMMU vs pool-mapped vs strict per-packet"
pmd_fwd=$dir/examples/iovamap-pmd-fwd
if [[ -x $pmd_fwd ]]; then
	if ! "$pmd_fwd" --rounds "$reps" >"$dir/pmd-fwd.txt" 2>&1; then
		cat "$dir/pmd-fwd.txt" >&2
		ivm_die "iovamap-pmd-fwd failed"
	fi
	sed 's/^/    /' "$dir/pmd-fwd.txt"
else
	ivm_say "the DPDK adapter is not built ($pmd_fwd missing): skipped"
fi

progress "stress run (${stress_seconds} s)"
stress=$dir/stress/iovamap-stress
stress_log=$dir/stress.log
stress_rc=0
if [[ -x $stress ]]; then
	threads=$(nproc)
	((threads >= 2)) || threads=2
	seed=$(((RANDOM << 15) | RANDOM))
	stress_cmd=(iovamap-stress --threads "$threads"
		--duration "$stress_seconds" --seed "$seed" --quiet)
	timeout $((stress_seconds + 60)) "$stress" "${stress_cmd[@]:1}" \
		>"$stress_log" 2>&1 || stress_rc=$?
	# The harness's verdict and its operation count; else its last line.
	summary=$(sed -n 's/^ *\(result: .*\)$/\1/p' "$stress_log" | head -n 1)
	ops=$(sed -n 's/^ *operations: \(.*\)$/\1/p' "$stress_log" | head -n 1)
	if [[ -n $summary && -n $ops ]]; then
		summary="$summary; $ops operations"
	else
		summary=$(grep -v '^[[:space:]]*$' "$stress_log" | tail -n 1 || true)
	fi
	printf '    %s: exit %d: %s\n' "${stress_cmd[*]}" "$stress_rc" \
		"${summary:-no output}"
	stress_args=(--stress-command "${stress_cmd[*]}"
		--stress-exit "$stress_rc" --stress-summary "${summary:-no output}")
	if ((stress_rc != 0)); then
		ivm_warn "the stress run failed (exit $stress_rc; log: $stress_log)"
	fi
else
	ivm_say "stress harness not built ($stress missing): skipped"
	stress_args=(--stress-summary "not run: the stress harness ($stress) is not built in this tree")
fi

progress "report"
readme_args=()
if [[ $report_dir == docs/report ]]; then
	readme_args=(--readme README.md)
fi
"$python" bench/report.py "$results"/iova.json "$results"/translate.json \
	"$results"/flush.json --out "$report_dir" "${readme_args[@]}" \
	"${stress_args[@]}" || ivm_die "the report failed"

ivm_say "done in $((SECONDS - started)) s"
if ((stress_rc != 0)); then
	ivm_die "the stress run failed (exit $stress_rc; log: $stress_log)"
fi
