#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/bundle.sh - pack a build's benchmark programs with the shared
# libraries they need, to run the benchmarks on a target machine that lacks
# the dependencies (liburcu, jemalloc, Google Benchmark, DPDK): a machine
# with many CPUs lent for one run, say.  Only glibc must be there (of at
# least the version the programs were linked against; run.sh checks), and
# python3 for targets.py and report.py.
#
# Usage: bench/bundle.sh BUILD_DIR OUT_DIR
#
# Writes:
#   OUT_DIR/bin/       iovamap-bench, iovamap-bench-pmd[-memb] (those of them
#                      BUILD_DIR has), targets.py, report.py
#   OUT_DIR/lib/       every shared library the programs load (ldd), glibc's
#                      own excepted; the build's libiovamap*.so too
#   OUT_DIR/lib/dpdk/  the DPDK driver plugins a program needs but does not
#                      link (see below)
#   OUT_DIR/MANIFEST   the build's configuration, each program's libraries
#                      and plugins, the newest glibc symbol version needed
#   OUT_DIR/run.sh     runs a bundled program with LD_LIBRARY_PATH=OUT_DIR/lib
#
#   OUT_DIR/run.sh iovamap-bench --benchmark_filter=... [ARGS...]
#   OUT_DIR/run.sh targets.py OUT_DIR/bin/iovamap-bench --rounds 3
#
# DPDK drivers.  iovamap-bench-pmd forwards on net_null ports from a
# mempool with DPDK's default ops (ring_mp_mc).  Neither driver is linked
# (DT_NEEDED): the EAL dlopen()s every plugin of its build-time plugin
# directory (Debian: /usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0), which the
# target lacks, and the program's EAL arguments are fixed (no -d).  So
# run.sh LD_PRELOADs the plugins in lib/dpdk/ for a program that links
# librte_ethdev: their constructors register the drivers exactly as the
# EAL's dlopen() would.  A plugin a program does link is bundled in lib/
# like any library and is not preloaded.  The list is IVM_BUNDLE_DPDK_PLUGINS
# (default "net_null mempool_ring", the names after librte_).  On a machine
# that has the EAL's plugin directory, the EAL would also load the
# system's copies of these drivers and of the DPDK libraries they need
# (librte_bus_pci, ...), different files from the bundle's: DPDK panics on
# the second registration of a tailq.  run.sh then refuses to start such a
# program: run the build's own program there.  To test a bundle on the
# build machine, hide that directory (docs/BENCHMARKS.md shows how).
#
# The bundle is as portable as its glibc requirement: build on a system no
# newer than the target's glibc.
set -eu

usage() {
	echo "usage: $0 BUILD_DIR OUT_DIR" >&2
	exit 2
}

[ $# -eq 2 ] || usage
build=$1
out=$2
src=$(cd "$(dirname "$0")/.." && pwd)
plugins=${IVM_BUNDLE_DPDK_PLUGINS-net_null mempool_ring}

[ -d "$build" ] || {
	echo "$0: no build directory $build" >&2
	exit 1
}

progs=
for p in iovamap-bench iovamap-bench-pmd iovamap-bench-pmd-memb; do
	if [ -x "$build/bench/$p" ]; then
		progs="$progs $p"
	fi
done
[ -n "$progs" ] || {
	echo "$0: $build/bench has no benchmark program (is 'bench' enabled?)" >&2
	exit 1
}

# glibc's own libraries: the target's glibc must serve them, since they
# must match its dynamic loader.
is_glibc() {
	case ${1##*/} in
	ld-linux*.so.* | libc.so.* | libm.so.* | libmvec.so.* | \
		libpthread.so.* | libdl.so.* | librt.so.* | libresolv.so.* | \
		libutil.so.* | libanl.so.* | libnsl.so.* | libthread_db.so.* | \
		libBrokenLocale.so.* | libc_malloc_debug.so.* | libnss_*.so.* | \
		linux-vdso.so.* | linux-gate.so.*)
		return 0 ;;
	esac
	return 1
}

# deps FILE: the resolved paths of FILE's shared libraries (ldd),
# glibc's excepted.  Fails when one is not found.
deps() {
	ldd "$1" >"$tmp/ldd" 2>&1 || {
		cat "$tmp/ldd" >&2
		echo "$0: ldd $1 failed" >&2
		return 1
	}
	if grep -q 'not found' "$tmp/ldd"; then
		grep 'not found' "$tmp/ldd" >&2
		echo "$0: $1 needs libraries that are not found" >&2
		return 1
	fi
	# "name => /path (addr)", or "/path (addr)" for the loader.
	awk '$2 == "=>" && $3 ~ /^\// { print $3 }' "$tmp/ldd" |
		while read -r lib; do
			is_glibc "$lib" || echo "$lib"
		done
}

# copy_lib PATH: PATH's file into lib/ under its own name (the soname
# the programs ask for), following symbolic links.
copy_lib() {
	[ -e "$out/lib/${1##*/}" ] || cp -L "$1" "$out/lib/${1##*/}"
}

# newest_glibc FILE...: the highest GLIBC_x.y version the files reference.
newest_glibc() {
	objdump -T "$@" 2>/dev/null |
		sed -n 's/.*(GLIBC_\([0-9][0-9.]*\)).*/\1/p' |
		sort -t. -k1,1n -k2,2n -k3,3n -u | tail -n 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

rm -rf "${out:?}/bin" "${out:?}/lib" "$out/run.sh" "$out/MANIFEST"
mkdir -p "$out/bin" "$out/lib"

manifest=$out/MANIFEST
{
	echo "bundle of $build, made $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -srm)"
	echo "commit: $(git -C "$src" rev-parse --short=7 HEAD 2>/dev/null || echo unknown)"
	if command -v meson >/dev/null 2>&1; then
		meson introspect --buildoptions "$build" 2>/dev/null |
			python3 -c 'import json, sys
keep = ("buildtype", "b_lto", "rcu", "jemalloc", "dpdk", "vfio")
opts = {o["name"]: o["value"] for o in json.load(sys.stdin)}
print("options: " + " ".join(f"{k}={opts[k]}" for k in keep if k in opts))' ||
			true
	fi
} >"$manifest"

preload_progs=
preload_dir=
for p in $progs; do
	cp "$build/bench/$p" "$out/bin/$p"
	deps "$build/bench/$p" >"$tmp/$p.deps"
	while read -r lib; do
		copy_lib "$lib"
	done <"$tmp/$p.deps"
	echo "$p: $(sed 's,.*/,,' "$tmp/$p.deps" | tr '\n' ' ')" >>"$manifest"

	# DPDK plugins: only for a program with ports and mempools.
	grep -q '/librte_ethdev\.so' "$tmp/$p.deps" || continue
	eal=$(grep '/librte_eal\.so' "$tmp/$p.deps" | head -n 1)
	pmd_dir=$(strings "$eal" | sed -n 's/^DPDK_PLUGIN_PATH=//p' | head -n 1)
	list=
	for name in $plugins; do
		if grep -q "/librte_$name\.so" "$tmp/$p.deps"; then
			continue # linked: already in lib/
		fi
		so=
		for cand in "$pmd_dir"/librte_"$name".so.* \
			"${eal%/*}"/librte_"$name".so.*; do
			case $cand in
			*.so.[0-9]*.[0-9]*) ;; # the full version; take the soname link
			*) [ -e "$cand" ] && so=$cand && break ;;
			esac
		done
		[ -n "$so" ] || {
			echo "$0: $p needs the DPDK plugin librte_$name (not found in $pmd_dir)" >&2
			exit 1
		}
		mkdir -p "$out/lib/dpdk"
		cp -L "$so" "$out/lib/dpdk/${so##*/}"
		deps "$so" >"$tmp/plugin.deps"
		while read -r lib; do
			copy_lib "$lib"
		done <"$tmp/plugin.deps"
		list="$list ${so##*/}"
	done
	if [ -n "$list" ]; then
		echo "$p: preloads (EAL plugins, $pmd_dir):$list" >>"$manifest"
		list=${list# }
		preload_progs="$preload_progs $p:$(echo "$list" | tr ' ' ',')"
		preload_dir=$pmd_dir
	fi
done
cp "$src/bench/targets.py" "$src/bench/report.py" "$out/bin/"

if [ -d "$out/lib/dpdk" ]; then
	glibc=$(newest_glibc "$out"/bin/iovamap-* "$out"/lib/*.so* "$out"/lib/dpdk/*.so*)
else
	glibc=$(newest_glibc "$out"/bin/iovamap-* "$out"/lib/*.so*)
fi
echo "glibc: >= ${glibc:-unknown} (newest GLIBC_ symbol version referenced)" >>"$manifest"

# run.sh: plain sh, so that the target needs no bash.
{
	cat <<'EOF'
#!/bin/sh
# run.sh - runs a program of this bundle (bench/bundle.sh) with its own
# shared libraries: LD_LIBRARY_PATH=<bundle>/lib, and the DPDK plugins of
# lib/dpdk preloaded for a program that needs them.  A .py program runs
# under python3, with LD_LIBRARY_PATH set for the programs it starts.
#
# Usage: run.sh PROGRAM [ARGS...]     (PROGRAM: a file name in bin/)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || {
	echo "usage: $0 PROGRAM [ARGS...]; programs: $(ls "$here/bin" | tr '\n' ' ')" >&2
	exit 2
}
prog=$1
shift
[ -f "$here/bin/$prog" ] || {
	echo "$0: no program $prog in $here/bin" >&2
	exit 2
}
EOF
	echo "need_glibc=${glibc:-0}"
	echo "preload_progs='$preload_progs'"
	echo "eal_plugin_dir='$preload_dir'"
	cat <<'EOF'
have_glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | sed 's/^glibc //') || true
if [ -n "$have_glibc" ] && [ "$need_glibc" != 0 ] &&
	[ "$(printf '%s\n%s\n' "$need_glibc" "$have_glibc" |
		sort -t. -k1,1n -k2,2n -k3,3n | head -n 1)" != "$need_glibc" ]; then
	echo "$0: this machine's glibc is $have_glibc; the bundle needs >= $need_glibc" >&2
	exit 1
fi
LD_LIBRARY_PATH=$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
case $prog in
*.py) exec python3 "$here/bin/$prog" "$@" ;;
esac
for entry in $preload_progs; do
	[ "${entry%%:*}" = "$prog" ] || continue
	if [ -d "$eal_plugin_dir" ]; then
		echo "$0: this machine has DPDK's plugin directory $eal_plugin_dir;" \
			"its drivers would load beside the bundle's and DPDK would" \
			"panic: run the build's own $prog here" >&2
		exit 1
	fi
	pre=
	for so in $(echo "${entry#*:}" | tr ',' ' '); do
		pre="$pre${pre:+:}$here/lib/dpdk/$so"
	done
	LD_PRELOAD=$pre${LD_PRELOAD:+:$LD_PRELOAD}
	export LD_PRELOAD
done
exec "$here/bin/$prog" "$@"
EOF
} >"$out/run.sh"
chmod +x "$out/run.sh"

set -- "$out"/lib/*.so*
nlibs=$#
echo "bundle: $out ($(du -sh "$out" | cut -f1)):$progs, $nlibs libraries${preload_progs:+, preloads$preload_progs}"
