#!/usr/bin/env bash
#
# scripts/test.sh - install dependencies, build, and run the test suites.
#
# Usage: scripts/test.sh [--quick] [STAGE...]
#
#   --quick   developer mode: only the unit stage
#   STAGE     run only these stages (default: all of IVM_STAGES below)
#
# Stages (one function each, stage_<name>):
#   unit   build/       (debugoptimized)   meson test --suite unit, stress
#   asan   build-asan/  (ASan + UBSan, fault injection)
#                                          --suite unit, stress, stress-harness
#   tsan   build-tsan/  (ThreadSanitizer, fault injection)
#                                          --suite unit, stress, stress-harness
#   qsbr   build-qsbr/  (rcu=qsbr, no DPDK) meson test --suite unit, stress
#   fuzz   build-fuzz/  (clang, libFuzzer + ASan) --suite fuzz: ~60 s
#   mutation build-broken*/ (one safety mechanism broken per build)
#                                          --suite mutation: must be caught
#   vm     build/       (as unit)          meson test --suite vm: real DMA
#          through VFIO in a QEMU guest (root only; installs qemu etc.;
#          ~15 s plus a one-time kernel download; tests/vm/, docs/vfio.md)
#
# Adding a stage: write stage_<name> (a ivm_setup/ivm_build/run_suite
# sequence, see below), add its name to IVM_STAGES, and to
# IVM_QUICK_SKIPS if --quick should skip it.
#
# Every stage runs even when an earlier one failed.  The last line is
# "N passed, N failed", counted over every meson test result of every stage
# (a stage whose build fails counts as one failure); the exit status is 1 when
# anything failed.  Rerunning is cheap: packages are checked with dpkg-query,
# build directories are reconfigured only when their options change, and
# ninja rebuilds only what changed.
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$IVM_ROOT"

IVM_STAGES=(unit asan tsan qsbr fuzz mutation vm)
# What --quick skips: the sanitizer builds, the fuzzer, the mutants and the
# VM boot.
IVM_QUICK_SKIPS=(asan tsan qsbr fuzz mutation vm)

total_passed=0
total_failed=0
total_skipped=0
stage_reports=()

# record STAGE PASSED FAILED SKIPPED NOTE
record() {
	total_passed=$((total_passed + $2))
	total_failed=$((total_failed + $3))
	total_skipped=$((total_skipped + $4))
	stage_reports+=("$(printf '%-6s %4d passed, %d failed, %d skipped%s' \
		"$1" "$2" "$3" "$4" "${5:+ ($5)}")")
}

# count_results JSON: "passed failed skipped" from a meson testlog.
count_results() {
	python3 - "$1" <<'EOF'
import json, sys
passed = failed = skipped = 0
with open(sys.argv[1]) as log:
    for line in log:
        line = line.strip()
        if not line:
            continue
        result = json.loads(line).get("result")
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            skipped += 1
        else:  # FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS, INTERRUPT
            failed += 1
print(passed, failed, skipped)
EOF
}

# run_suite STAGE DIR SUITE [NAME=VALUE...]: meson test one suite of a
# built directory with the given environment, and record its results.
run_suite() {
	local stage=$1 dir=$2 suite=$3
	shift 3
	local logbase="ivm-$stage-$suite"
	local json="$dir/meson-logs/$logbase.json"
	local rc=0 passed failed skipped

	ivm_say "testing $dir: suite $suite${*:+ with $*}"
	rm -f "$json"
	env "$@" meson test -C "$dir" --no-rebuild --suite "$suite" \
		--print-errorlogs --logbase "$logbase" || rc=$?
	if [[ ! -f $json ]]; then
		record "$stage" 0 1 0 "meson test exited $rc without a log"
		return
	fi
	read -r passed failed skipped < <(count_results "$json")
	if ((rc != 0 && failed == 0)); then
		# meson itself failed (bad suite name, interrupted run, ...).
		record "$stage" "$passed" 1 "$skipped" "meson test exited $rc"
		return
	fi
	record "$stage" "$passed" "$failed" "$skipped"
}

# build_stage STAGE DIR [MESON_SETUP_ARGS...]: configure and build; on
# failure record one failed result for the stage and return 1.
build_stage() {
	local stage=$1 dir=$2
	shift 2
	if ! ivm_setup "$dir" "$@"; then
		record "$stage" 0 1 0 "configure failed"
		return 1
	fi
	if ! ivm_build "$dir"; then
		record "$stage" 0 1 0 "build failed"
		return 1
	fi
}

# --- stages ---------------------------------------------------------------

stage_unit() {
	build_stage unit build || return 0
	run_suite unit build unit
	run_suite unit build stress
}

# The sanitizer builds also carry fault injection (-Dfault_injection=true,
# test instrumentation that is a constant false elsewhere): the stress
# harness (stress/, suite stress-harness, ~20 s) runs there with injected
# failures, under ASan's leak check and under TSan.
stage_asan() {
	build_stage asan build-asan \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Djemalloc=disabled -Dbench=disabled -Dfault_injection=true ||
		return 0
	local env=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1)
	run_suite asan build-asan unit "${env[@]}"
	run_suite asan build-asan stress "${env[@]}"
	run_suite asan build-asan stress-harness "${env[@]}"
}

# ThreadSanitizer: liburcu's grace periods are annotated in lib/rcu.h;
# tests/tsan.supp holds the (minimal) suppressions for liburcu itself.
stage_tsan() {
	build_stage tsan build-tsan \
		-Db_sanitize=thread -Db_lundef=false \
		-Djemalloc=disabled -Dbench=disabled -Dfault_injection=true ||
		return 0
	local env=("TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$IVM_ROOT/tests/tsan.supp")
	run_suite tsan build-tsan unit "${env[@]}"
	run_suite tsan build-tsan stress "${env[@]}"
	run_suite tsan build-tsan stress-harness "${env[@]}"
}

# The QSBR flavour of RCU (meson option rcu=qsbr) builds and passes too;
# this build also leaves DPDK out (-Dvfio=disabled), which test_vfio checks:
# a VFIO domain is then NOT_SUPPORTED, with a detail that says why.
stage_qsbr() {
	build_stage qsbr build-qsbr -Drcu=qsbr -Dbench=disabled -Dvfio=disabled || return 0
	run_suite qsbr build-qsbr unit
	run_suite qsbr build-qsbr stress
}

# The libFuzzer target over the public mapping API (fuzz/fuzz_api.c: every
# call checked against a model of the documented contract), built with
# clang, ASan + UBSan and fault injection, run for ~60 s
# (IVM_FUZZ_SECONDS) over the committed seeds in fuzz/corpus/ and a work
# corpus kept in build-fuzz/ (so coverage accumulates between runs).
stage_fuzz() {
	CC=clang build_stage fuzz build-fuzz -Dfuzzing=true \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Djemalloc=disabled -Dbench=disabled -Dtests=false \
		-Dvfio=disabled -Dfault_injection=true || return 0
	run_suite fuzz build-fuzz fuzz ASAN_OPTIONS=detect_leaks=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
}

# Mutation checks: each build breaks one safety mechanism on purpose, and
# its suite mutation must catch it (a passing result means "caught"):
#   build-broken/         IOVAs freed before their IOTLB invalidation: the
#                         invariant test fails (should_fail) and
#                         iovamap-stress reports a violation
#   build-broken-overlap/ no overlap check in the page table:
#                         iovamap-stress reports a violation
#   build-broken-grace/   page-table tables freed without an RCU grace
#                         period (ASan): a use after free, or a violation
# stress/expect-violation.sh accepts a harness run only when it failed
# with a VIOLATION line (or ASan's use-after-free report), not a crash
# for another reason.
stage_mutation() {
	if build_stage mutation build-broken -Dbroken_free_before_sync=true \
		-Dbench=disabled; then
		run_suite mutation build-broken mutation
	fi
	if build_stage mutation build-broken-overlap \
		-Dbroken_no_overlap_check=true -Dtests=false -Dbench=disabled; then
		run_suite mutation build-broken-overlap mutation
	fi
	if build_stage mutation build-broken-grace \
		-Dbroken_no_grace_period=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Djemalloc=disabled -Dtests=false \
		-Dbench=disabled; then
		run_suite mutation build-broken-grace mutation
	fi
}

# Real DMA through VFIO inside a QEMU guest (tests/vm/run-vm.sh): the
# unit stage's build (nothing to rebuild when it ran), its own packages
# (IVM_VM_DEB_PACKAGES), root only.  The guest kernel is downloaded once
# into /var/tmp/iovamap-vm.
stage_vm() {
	if ((EUID != 0)); then
		ivm_warn "stage vm needs root (VFIO in a guest): skipped"
		record vm 0 0 1 "not root"
		return 0
	fi
	if ! (ivm_install_deps "${IVM_VM_DEB_PACKAGES[@]}"); then
		record vm 0 1 0 "installing ${IVM_VM_DEB_PACKAGES[*]} failed"
		return 0
	fi
	build_stage vm build || return 0
	run_suite vm build vm
}

# --- main -----------------------------------------------------------------

usage() {
	sed -n '3,/^# Adding a stage/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

quick=0
selected=()
while (($# > 0)); do
	case $1 in
	--quick) quick=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	-*)
		usage >&2
		exit 2
		;;
	*)
		if ! declare -F "stage_$1" >/dev/null; then
			ivm_die "unknown stage '$1' (stages: ${IVM_STAGES[*]})"
		fi
		selected+=("$1")
		;;
	esac
	shift
done
if ((${#selected[@]} == 0)); then
	selected=("${IVM_STAGES[@]}")
fi

ivm_install_deps

start=$SECONDS
for stage in "${selected[@]}"; do
	if ((quick)) && [[ " ${IVM_QUICK_SKIPS[*]} " == *" $stage "* ]]; then
		ivm_say "skipping stage $stage (--quick)"
		continue
	fi
	"stage_$stage"
done

ivm_say "summary ($((SECONDS - start)) s)"
for line in "${stage_reports[@]}"; do
	printf '    %s\n' "$line"
done
if ((total_skipped > 0)); then
	printf '    (%d skipped)\n' "$total_skipped"
fi
if ((total_passed + total_failed == 0)); then
	ivm_warn "no test ran"
fi
printf '%d passed, %d failed\n' "$total_passed" "$total_failed"
if ((total_failed > 0 || total_passed == 0)); then
	exit 1
fi
