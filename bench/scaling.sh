#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/scaling.sh - the multi-thread scaling figures of docs/BENCHMARKS.md
# ("Scaling on a 16-CPU machine"), in one command on a machine that has
# none of the dependencies, from bundles made by bench/bundle.sh:
#
#   bench/bundle.sh build-release  B/memb     # release, LTO (scripts/demo.sh)
#   bench/bundle.sh build-rel-qsbr B/qsbr     # the same with -Drcu=qsbr
#   cp bench/scaling.sh B/                    # then, on the target:
#   sh B/scaling.sh B OUT_DIR
#
# Runs, each benchmark at 1, 2, 4, ... threads up to the CPUs (those
# registered with IVM_BENCH_ALL_CPUS), repetitions in random interleaved
# order, one invocation per comparison family and RCU flavour:
#   iova       ^iova_(pair_1page|pair_random|burst)/
#   flush      ^flush_pair/(strict|lazy)(_own_domains)?/lat0/
#   translate  ^(translate_(4k|2m)(_writer|_spinner)?|map_unmap_explicit)/
# then iovamap-bench-pmd's pool_mapped vs no_iommu (memb bundle; the program
# itself links the QSBR flavour, as a PMD does).
#
# Writes OUT_DIR/{memb,qsbr}-{iova,flush,translate}.json, OUT_DIR/pmd.json
# and OUT_DIR/scaling.log (the machine, what the per-CPU fast paths find
# there, each invocation's console output and stderr): eight files.
#
# Environment:
#   IVM_SCALING_REPS=5        repetitions, memb flavour
#   IVM_SCALING_QSBR_REPS=3   repetitions, qsbr flavour
#   IVM_SCALING_MIN_TIME=0.1  --benchmark_min_time of the scaling runs
#   IVM_SCALING_PMD_REPS=9    repetitions of the pmd_fwd pair
#   IVM_SCALING_DEADLINE=480  seconds: a step that would start later than
#                             its estimate before this is skipped
set -u

[ $# -eq 2 ] || {
	echo "usage: $0 BUNDLE_DIR OUT_DIR" >&2
	exit 2
}
bundle=$(cd "$1" && pwd)
out=$2
mkdir -p "$out"
log=$out/scaling.log
reps=${IVM_SCALING_REPS:-5}
qreps=${IVM_SCALING_QSBR_REPS:-3}
min_time=${IVM_SCALING_MIN_TIME:-0.1}
pmd_reps=${IVM_SCALING_PMD_REPS:-9}
deadline=${IVM_SCALING_DEADLINE:-480}
start=$(date +%s)
status=0

say() { echo "== $*" | tee -a "$log"; }
elapsed() { echo $(($(date +%s) - start)); }

# step SECONDS_ESTIMATE NAME CMD...: runs CMD (output to the log) unless
# it would end past the deadline; at most the time left before it.
step() {
	est=$1 name=$2
	shift 2
	left=$((deadline - $(elapsed)))
	if [ "$left" -lt "$est" ]; then
		say "$name: SKIPPED ($left s left before the deadline, estimate $est s)"
		status=1
		return 1
	fi
	say "$name: $* (estimate $est s, $left s left)"
	t0=$(date +%s)
	if command -v timeout >/dev/null 2>&1; then
		timeout "$left" "$@" >>"$log" 2>&1
	else
		"$@" >>"$log" 2>&1
	fi
	rc=$?
	say "$name: exit $rc after $(($(date +%s) - t0)) s"
	[ "$rc" -eq 0 ] || status=1
	return "$rc"
}

: >"$log"
say "machine"
{
	echo "nproc: $(nproc)"
	lscpu 2>/dev/null | grep -i 'model name\|^CPU(s)\|NUMA\|Thread(s)\|Core(s)\|Socket(s)\|Hypervisor\|MHz' ||
		grep -m 1 'model name' /proc/cpuinfo
	echo "uname -r: $(uname -r); uname -v: $(uname -v)"
	getconf GNU_LIBC_VERSION
	grep Cpus_allowed_list /proc/self/status
	cat /proc/loadavg
	# shellcheck disable=SC2012
	echo "cpu0 topology: $(ls /sys/devices/system/cpu/cpu0/topology 2>&1 | tr '\n' ' ')"
	for f in "$bundle"/*/MANIFEST; do
		echo "--- $f"
		cat "$f"
	done
} >>"$log" 2>&1

# What iovamap's per-CPU fast paths (lib/rseq.c, decide_usable) will
# find here: glibc's rseq registration, membarrier's RSEQ commands with
# MEMBARRIER_CMD_FLAG_CPU; and whether pinning moves sched_getcpu().
say "rseq / membarrier / pinning probe"
python3 - >>"$log" 2>&1 <<'EOF'
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
try:
    size = ctypes.c_uint.in_dll(libc, "__rseq_size").value
except ValueError:
    size = None
print("glibc __rseq_size:", size, "(0: glibc's rseq registration failed)")
NR = 324  # membarrier, x86-64
r = -1
q = libc.syscall(NR, 0, 0, 0)
print("membarrier QUERY: %#x" % q if q >= 0 else "membarrier QUERY: errno %d" % ctypes.get_errno())
if q >= 0:
    print("  PRIVATE_EXPEDITED_RSEQ: %s, REGISTER_..._RSEQ: %s" % (bool(q & 128), bool(q & 256)))
    r = libc.syscall(NR, 256, 0, 0)
    print("  register RSEQ:", r, "errno", ctypes.get_errno() if r else 0)
    cpu = libc.sched_getcpu()
    r = libc.syscall(NR, 128, 1, cpu)
    print("  PRIVATE_EXPEDITED_RSEQ | FLAG_CPU on cpu %d:" % cpu, r,
          "errno", ctypes.get_errno() if r else 0)
usable = bool(size) and q >= 0 and (q & 384) == 384 and r == 0
print("=> iovamap's rseq sections usable here:", usable,
      "(else magazines and flush queues take their locked paths)")
cpus = sorted(os.sched_getaffinity(0))
seen = []
for c in cpus:
    os.sched_setaffinity(0, {c})
    seen.append(libc.sched_getcpu())
os.sched_setaffinity(0, set(cpus))
print("pinned to", cpus, "sched_getcpu() gave", seen)
EOF

# bench FLAVOUR FAMILY FILTER REPS ESTIMATE
bench() {
	flavour=$1 family=$2 filter=$3 n=$4 est=$5
	step "$est" "$flavour/$family" "$bundle/$flavour/run.sh" iovamap-bench \
		--benchmark_filter="$filter" \
		--benchmark_min_time="$min_time" \
		--benchmark_repetitions="$n" \
		--benchmark_enable_random_interleaving=true \
		--benchmark_context="iovamap_commit=$commit" \
		--benchmark_context="iovamap_bundle=$flavour" \
		--benchmark_out="$out/$flavour-$family.json" \
		--benchmark_out_format=json
}

commit=$(sed -n 's/^commit: //p' "$bundle/memb/MANIFEST")
iova='^iova_(pair_1page|pair_random|burst)/'
flush='^flush_pair/(strict|lazy)(_own_domains)?/lat0/'
translate='^(translate_(4k|2m)(_writer|_spinner)?|map_unmap_explicit)/'

# Estimates: 0.2-0.25 s per run and repetition (min_time 0.1 s, setup),
# 5 thread counts on 16 CPUs: iova 45 runs, flush 20, translate 85.
bench memb iova "$iova" "$reps" $((45 * reps / 4))
bench memb flush "$flush" "$reps" $((20 * reps / 4))
bench memb translate "$translate" "$reps" $((85 * reps / 4))

pmd() {
	step "$1" "memb/pmd" "$bundle/memb/run.sh" iovamap-bench-pmd \
		--benchmark_filter='pmd_fwd/(no_iommu|pool_mapped)/' \
		--benchmark_repetitions="$pmd_reps" \
		--benchmark_enable_random_interleaving=true \
		--benchmark_context="iovamap_commit=$commit" \
		--benchmark_out="$out/pmd.json" --benchmark_out_format=json
}
if ! pmd $((2 * pmd_reps)) &&
	[ ! -e /sys/devices/system/cpu/cpu0/topology/core_id ]; then
	# DPDK's EAL detects a CPU by its topology/core_id in sysfs; a
	# sandboxed kernel may have none.  Retry with a stand-in sysfs cpu
	# tree in a private mount namespace.
	say "memb/pmd: retrying with a stand-in /sys/devices/system/cpu"
	n=$(nproc)
	# shellcheck disable=SC2016 # expanded by the inner sh
	step $((2 * pmd_reps)) "memb/pmd (stand-in sysfs)" unshare -m sh -c '
		n=$1; shift
		mount -t tmpfs none /sys/devices/system/cpu || exit 1
		i=0
		while [ "$i" -lt "$n" ]; do
			mkdir -p /sys/devices/system/cpu/cpu$i/topology
			echo "$i" >/sys/devices/system/cpu/cpu$i/topology/core_id
			echo 0 >/sys/devices/system/cpu/cpu$i/topology/physical_package_id
			i=$((i + 1))
		done
		echo "0-$((n - 1))" >/sys/devices/system/cpu/online
		exec "$@"' sh "$n" "$bundle/memb/run.sh" iovamap-bench-pmd \
		--benchmark_filter='pmd_fwd/(no_iommu|pool_mapped)/' \
		--benchmark_repetitions="$pmd_reps" \
		--benchmark_enable_random_interleaving=true \
		--benchmark_context="iovamap_commit=$commit" \
		--benchmark_out="$out/pmd.json" --benchmark_out_format=json
fi

bench qsbr iova "$iova" "$qreps" $((45 * qreps / 4))
bench qsbr flush "$flush" "$qreps" $((20 * qreps / 4))
bench qsbr translate "$translate" "$qreps" $((85 * qreps / 4))

say "done in $(elapsed) s, status $status; load average $(cat /proc/loadavg)"
exit "$status"
