#!/usr/bin/env bash
#
# tests/vm/run-vm.sh - run programs against a real (emulated) IOMMU: boot a
# throwaway QEMU guest with Intel VT-d and QEMU's "edu" DMA device, bind edu
# to vfio-pci inside it, run the given programs there, and report.
#
# Usage: tests/vm/run-vm.sh [OPTIONS] PROGRAM [PROGRAM...]
#
#   PROGRAM         a host executable (static, or dynamic: every library
#                   ldd lists goes into the guest with it); each runs in the
#                   guest in turn as `PROGRAM BDF` (BDF: edu's PCI address)
#   --meson         run as a meson test: exit 77 (skip) when not root or
#                   when this machine cannot run QEMU (not installed and not
#                   installable, no TCG, no edu or intel-iommu device)
#   --bench         benchmark output: summarise the VMBENCH lines
#   --trace         QEMU traces VT-d IOTLB invalidations (vtd_inv_desc_iotlb*);
#                   with --bench: invalidation descriptors per phase
#   --env NAME=VAL  set NAME in the guest programs' environment (repeatable)
#   --timeout SEC   limit for the whole guest run (default 300)
#   --nics MODEL    also give the guest two NICs of QEMU model MODEL (e1000:
#                   82540EM, or e1000e: 82574L) on one QEMU hub, so that
#                   what one sends the other receives; both are bound to
#                   vfio-pci in the guest and their PCI addresses passed to
#                   the programs as IVM_VM_NICS="BDF0 BDF1"
#
# Exit status: 0 every program passed, 1 a check failed (or a program
# failed without reaching its RESULT line), 2 set-up or boot failure, 3 the
# guest timed out, 77 skipped (--meson only).
#
# Environment:
#   IVM_VM_CACHE=/var/tmp/iovamap-vm  downloads, the unpacked guest kernel and
#                         the last run's files (last-<tag>/): reruns skip
#                         the download and take ~15 s plus the programs
#   IVM_VM_KERNEL_PKG     guest kernel package (default: the one Debian's
#                         linux-image-amd64 depends on); downloaded with
#                         apt-get download and unpacked, never installed
#   IVM_VM_ACCEL=tcg      QEMU accelerator (KVM on this project's machines is
#                         PVM, which cannot boot a stock kernel)
#   IVM_VM_MEM=512M  IVM_VM_APPEND=""  (extra guest kernel arguments)
#   IVM_SKIP_DEPS=1       never call apt-get (scripts/common.sh)
#
# Guest side: the programs' report lines (tests/vm/vmtest.h) and the
# init's GUEST lines are shown as they come; the full serial console is in
# $IVM_VM_CACHE/last-<tag>/serial.log.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/common.sh
source "$here/../../scripts/common.sh"

cache=${IVM_VM_CACHE:-/var/tmp/iovamap-vm}
accel=${IVM_VM_ACCEL:-tcg}
mem=${IVM_VM_MEM:-512M}
extra_append=${IVM_VM_APPEND:-}

meson_mode=0
bench=0
trace=0
timeout_s=300
guest_env=()
programs=()
nic_model=

usage() { sed -n '7,29p' "$0" | sed 's/^# \{0,1\}//'; }

while (($# > 0)); do
	case $1 in
	--meson) meson_mode=1 ;;
	--bench) bench=1 ;;
	--trace) trace=1 ;;
	--env)
		[[ ${2:-} == *=* ]] || { usage >&2; exit 2; }
		guest_env+=("$2")
		shift
		;;
	--timeout)
		[[ ${2:-} =~ ^[0-9]+$ ]] || { usage >&2; exit 2; }
		timeout_s=$2
		shift
		;;
	--nics)
		[[ ${2:-} == e1000 || ${2:-} == e1000e ]] || { usage >&2; exit 2; }
		nic_model=$2
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	-*)
		usage >&2
		exit 2
		;;
	*) programs+=("$1") ;;
	esac
	shift
done
((${#programs[@]} > 0)) || { usage >&2; exit 2; }

log() { printf '[run-vm] %s\n' "$*"; }
# setup_fail MSG: a set-up failure (exit 2).
setup_fail() {
	log "SETUP FAILURE: $*" >&2
	exit 2
}
# cannot_run MSG: this machine cannot run the VM test at all: a skip under
# meson, a set-up failure otherwise.
cannot_run() {
	if ((meson_mode)); then
		log "SKIP: $*"
		exit 77
	fi
	setup_fail "$*"
}
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

t_start=$(date +%s.%N)
((EUID == 0)) || cannot_run "must run as root (it binds VFIO devices in a guest, and installs packages)"

for p in "${programs[@]}"; do
	[[ -x $p && -f $p ]] || setup_fail "not an executable: $p"
done

# --- 1. packages ------------------------------------------------------------
# A subshell: ivm_install_deps exits on failure.
if ! (ivm_install_deps "${IVM_VM_DEB_PACKAGES[@]}") >"${TMPDIR:-/tmp}/ivm-vm-apt.$$.log" 2>&1; then
	tail -n 20 "${TMPDIR:-/tmp}/ivm-vm-apt.$$.log" >&2
	rm -f "${TMPDIR:-/tmp}/ivm-vm-apt.$$.log"
	command -v qemu-system-x86_64 >/dev/null 2>&1 ||
		cannot_run "qemu-system-x86_64 is not installed and could not be installed"
	setup_fail "installing ${IVM_VM_DEB_PACKAGES[*]} failed"
fi
rm -f "${TMPDIR:-/tmp}/ivm-vm-apt.$$.log"
qemu=$(command -v qemu-system-x86_64 || true)
[[ -n $qemu ]] || cannot_run "no qemu-system-x86_64"
"$qemu" -accel help 2>/dev/null | grep -qx "$accel" ||
	cannot_run "QEMU has no accelerator '$accel'"
devices=$("$qemu" -device help 2>/dev/null || true)
grep -q '^name "edu"' <<<"$devices" || cannot_run "QEMU has no edu device"
grep -q '^name "intel-iommu"' <<<"$devices" || cannot_run "QEMU has no intel-iommu device"
if [[ -n $nic_model ]]; then
	grep -q "^name \"$nic_model\"" <<<"$devices" || cannot_run "QEMU has no $nic_model device"
fi
busybox=$(command -v busybox || true)
[[ -n $busybox ]] || setup_fail "no busybox (package busybox-static)"
if [[ $(ldd "$busybox" 2>&1 || true) != *"not a dynamic executable"* ]]; then
	setup_fail "$busybox is not static (package busybox-static)"
fi

# --- 2. guest kernel (downloaded and unpacked, never installed) -------------
mkdir -p "$cache/debs"
exec 9>"$cache/.lock"
flock 9
# guest_modules KDIR VERSION: vfio-pci and type1 with their dependencies,
# in load order, as paths (type1 is not a dependency of vfio-pci: ask for
# it by name).
guest_modules() {
	modprobe -d "$1" -S "$2" --show-depends vfio-pci vfio_iommu_type1 |
		awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | grep .
}
find_kernel_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}
# fetch_kernel PKG: download PKG into $cache/debs and unpack it into
# $cache/kernel-VERSION.new with a modules.dep.
fetch_kernel() {
	local pkg=$1 ver=${1#linux-image-}
	rm -rf "$cache/kernel-$ver.new"
	rm -f "$cache/debs/${pkg}"_*.deb
	(cd "$cache/debs" && timeout 600 apt-get download -q "$pkg") \
		>"$cache/debs/download.log" 2>&1 || return 1
	dpkg -x "$cache/debs/${pkg}"_*.deb "$cache/kernel-$ver.new" || return 1
	# The package ships no modules.dep: make one.
	depmod -b "$cache/kernel-$ver.new" "$ver" || return 1
	rm -f "$cache/debs/${pkg}"_*.deb
	# Keep the kernel and the modules the guest loads (~400 MiB less).
	guest_modules "$cache/kernel-$ver.new" "$ver" >"$cache/kernel-$ver.new/.keep" ||
		return 1
	find "$cache/kernel-$ver.new/lib/modules/$ver/kernel" -name '*.ko*' |
		grep -vxF -f "$cache/kernel-$ver.new/.keep" | xargs -r rm -f
	rm -rf "$cache/kernel-$ver.new/usr"
}
kernel_pkg=${IVM_VM_KERNEL_PKG:-}
if [[ -z $kernel_pkg ]]; then
	kernel_pkg=$(find_kernel_pkg)
	if [[ -z $kernel_pkg ]]; then
		apt-get update -qq >/dev/null 2>&1 || true
		kernel_pkg=$(find_kernel_pkg)
	fi
	[[ -n $kernel_pkg ]] || setup_fail "cannot tell which kernel linux-image-amd64 depends on (apt-cache depends)"
fi
if [[ ! -f $cache/kernel-${kernel_pkg#linux-image-}/.ready ]]; then
	log "fetching guest kernel $kernel_pkg (once; cached in $cache)"
	if ! fetch_kernel "$kernel_pkg"; then
		# Stale package lists name a version the mirror dropped:
		# update them and ask again (unless the package was given).
		log "retrying after apt-get update"
		apt-get update -qq >/dev/null 2>&1 || true
		[[ -n ${IVM_VM_KERNEL_PKG:-} ]] || kernel_pkg=$(find_kernel_pkg)
		if [[ -z $kernel_pkg ]] || ! fetch_kernel "$kernel_pkg"; then
			tail -n 5 "$cache/debs/download.log" >&2 || true
			setup_fail "cannot download and unpack the guest kernel ${kernel_pkg:-linux-image-*}"
		fi
	fi
	kdir=$cache/kernel-${kernel_pkg#linux-image-}
	rm -rf "$kdir"
	touch "$kdir.new/.ready"
	mv "$kdir.new" "$kdir"
	# Kernels of earlier Debian point releases.
	for old in "$cache"/kernel-*; do
		[[ $old == "$kdir" || ! -d $old ]] || rm -rf "$old"
	done
fi
kver=${kernel_pkg#linux-image-}
kdir=$cache/kernel-$kver
vmlinuz=$kdir/boot/vmlinuz-$kver
for opt in CONFIG_VFIO=m CONFIG_VFIO_PCI=m CONFIG_VFIO_IOMMU_TYPE1=m CONFIG_INTEL_IOMMU=y; do
	grep -q "^$opt" "$kdir/boot/config-$kver" || setup_fail "guest kernel $kver lacks $opt"
done
flock -u 9

# --- 3. initramfs -----------------------------------------------------------
tag=$( ((bench)) && echo bench || echo test)
run=$(mktemp -d "$cache/run-$tag.XXXXXX")
trap 'rm -rf "$run"' EXIT
root=$run/initramfs
mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,var/run,lib/modules,ivm}
cp "$busybox" "$root/bin/busybox"

guest_modules "$kdir" "$kver" >"$run/modules" 2>"$run/modprobe.err" || {
	cat "$run/modprobe.err" >&2
	setup_fail "modprobe --show-depends found no vfio modules in $kdir"
}
while read -r module; do
	cp "$module" "$root/lib/modules/"
	basename "$module"
done <"$run/modules" >"$root/lib/modules/load-order"

# The programs and every shared library they load: libraries in /lib (the
# init sets LD_LIBRARY_PATH), the dynamic loader at its own path.
: >"$root/ivm/programs"
for p in "${programs[@]}"; do
	name=$(basename "$p")
	cp "$p" "$root/ivm/$name"
	echo "$name" >>"$root/ivm/programs"
	deps=$(ldd "$p" 2>&1 || true)
	[[ $deps == *"not a dynamic executable"* ]] && continue
	if grep -q 'not found' <<<"$deps"; then
		printf '%s\n' "$deps" >&2
		setup_fail "$p: a shared library is missing"
	fi
	while read -r lib; do
		[[ -n $lib ]] || continue
		if [[ $lib == */ld-linux* ]]; then
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib"
		else
			cp -L "$lib" "$root/lib/$(basename "$lib")"
		fi
	done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3; next }
		      $1 ~ /^\// { print $1 }' <<<"$deps")
done
for e in "${guest_env[@]}"; do
	printf 'export %q\n' "$e"
done >"$root/ivm/env"

cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
dmesg -n 1
up() { cut -d' ' -f1 /proc/uptime; }
echo "GUEST: init up at $(up)s, kernel $(uname -r)"
for m in $(cat /lib/modules/load-order); do
	insmod /lib/modules/$m || echo "GUEST: SETUP insmod $m failed"
done
bdf=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/vendor)" = 0x1234 ] && [ "$(cat $d/device)" = 0x11e8 ] && bdf=${d##*/}
done
if [ -z "$bdf" ]; then
	echo "GUEST: SETUP no edu device"
elif [ ! -e /sys/bus/pci/devices/$bdf/iommu_group ]; then
	echo "GUEST: SETUP edu has no IOMMU group (IOMMU off?)"
else
	echo vfio-pci > /sys/bus/pci/devices/$bdf/driver_override
	echo $bdf > /sys/bus/pci/drivers_probe
	group=$(basename "$(readlink /sys/bus/pci/devices/$bdf/iommu_group)")
	driver=$(basename "$(readlink /sys/bus/pci/devices/$bdf/driver)")
	echo "GUEST: edu $bdf driver $driver group $group"
	if [ "$driver" != vfio-pci ] || [ ! -e /dev/vfio/$group ]; then
		echo "GUEST: SETUP edu not bound to vfio-pci"
	else
		export LD_LIBRARY_PATH=/lib
		. /ivm/env
		[ -f /ivm/nics.sh ] && . /ivm/nics.sh
		for p in $(cat /ivm/programs); do
			t0=$(up)
			/ivm/$p $bdf 2>&1
			echo "GUEST: program $p rc=$? ${t0}s..$(up)s"
		done
	fi
fi
echo "GUEST: DMAR faults logged: $(dmesg | grep -c 'DMAR: \[DMA')"
dmesg | grep -E 'DMAR|vfio' | grep -v -E 'Adding to iommu group|ACPI|\[DMA (Read|Write)' |
	tail -n 20 | sed 's/^/GUEST-DMESG: /'
echo "GUEST: done at $(up)s"
poweroff -f
EOF
chmod +x "$root/init"
# --nics: the init binds the NICs to vfio-pci before the programs run.
if [[ -n $nic_model ]]; then
	nic_device=$([[ $nic_model == e1000 ]] && echo 0x100e || echo 0x10d3)
	{
		echo "nic_device=$nic_device"
		cat <<'EOF'
nics=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/vendor)" = 0x8086 ] && [ "$(cat $d/device)" = $nic_device ] || continue
	nic=${d##*/}
	echo vfio-pci > $d/driver_override
	echo $nic > /sys/bus/pci/drivers_probe
	[ "$(basename "$(readlink $d/driver)")" = vfio-pci ] ||
		echo "GUEST: SETUP NIC $nic not bound to vfio-pci"
	echo "GUEST: NIC $nic driver vfio-pci group $(basename "$(readlink $d/iommu_group)")"
	nics="${nics:+$nics }$nic"
done
[ "$(echo $nics | wc -w)" = 2 ] || echo "GUEST: SETUP expected 2 NICs ($nic_device), found: $nics"
export IVM_VM_NICS="$nics"
EOF
	} >"$root/ivm/nics.sh"
fi
(cd "$root" && find . | cpio -o -H newc --quiet) >"$run/initramfs.cpio" ||
	setup_fail "cpio failed"
log "initramfs: $(du -m "$run/initramfs.cpio" | cut -f1) MiB, programs: $(tr '\n' ' ' <"$root/ivm/programs")"

# --- 4. boot ----------------------------------------------------------------
serial=$run/serial.log
trace_args=()
((trace)) && trace_args=(-trace "enable=vtd_inv_desc_iotlb*,file=$run/vtd-trace.log")
append="console=ttyS0 intel_iommu=on panic=-1 quiet $extra_append"
# --nics: two NICs on QEMU hub 0 (each hub port forwards to the others).
nic_args=()
if [[ -n $nic_model ]]; then
	for i in 0 1; do
		nic_args+=(-netdev "hubport,id=nic$i,hubid=0"
			-device "$nic_model,netdev=nic$i,mac=52:54:00:12:34:1$i")
	done
fi
log "booting the guest ($accel, timeout ${timeout_s}s)"
t_boot=$(date +%s.%N)
: >"$serial"
timeout --kill-after=5 "$timeout_s" "$qemu" -accel "$accel" \
	-machine q35,kernel-irqchip=split -cpu max -smp 1 -m "$mem" \
	-device intel-iommu,intremap=on,caching-mode=on -device edu \
	-kernel "$vmlinuz" -initrd "$run/initramfs.cpio" -append "$append" \
	-display none -monitor none -serial "file:$serial" -no-reboot \
	-nodefaults "${trace_args[@]}" "${nic_args[@]}" >"$run/qemu.err" 2>&1 &
qpid=$!
trap 'kill "$qpid" 2>/dev/null || true; rm -rf "$run"' EXIT
# Show the report lines as they come.
tail --pid="$qpid" -n +1 -f "$serial" 2>/dev/null | sed -u 's/\r$//' |
	grep -a --line-buffered -E '^(GUEST|VMTEST|VMBENCH)' || true
set +e
wait "$qpid"
qrc=$?
set -e
trap 'rm -rf "$run"' EXIT
log "guest ran $(elapsed "$t_boot")s (qemu exit $qrc)"

# Keep this run's files for a look afterwards.
sed 's/\r$//' "$serial" >"$run/guest.log"
rm -rf "$root" "$run/initramfs.cpio"
last=$cache/last-$tag
rm -rf "$last"
mv "$run" "$last"
run=$last
trap - EXIT
guest=$run/guest.log

# --- 5. report --------------------------------------------------------------
if ((bench)); then
	echo "---- benchmark (guest CLOCK_MONOTONIC under $accel: compare ratios only)"
	grep -a '^VMBENCH: ' "$guest" | grep -av '^VMBENCH: MARK ' | sed 's/^VMBENCH: //' || true
	if ((trace)) && [[ -s $run/vtd-trace.log ]]; then
		echo "---- VT-d IOTLB invalidation descriptors per phase (QEMU trace)"
		# Phase markers: the benchmark maps and unmaps one page at
		# IOVA 0xff00000 + id pages and prints "VMBENCH: MARK id label";
		# the invalidations of that page delimit the phases.
		grep -a '^VMBENCH: MARK ' "$guest" | awk '{ print $3, $4 }' >"$run/marks"
		awk -f - "$run/marks" "$run/vtd-trace.log" <<'EOF'
function hex(h,   i, v) {
	v = 0
	h = tolower(h)
	for (i = 1; i <= length(h); i++)
		v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
	return v
}
FNR == NR {
	label[$1] = $2
	if ($2 != "-" && !($2 in rounds))
		names[++n] = $2
	if ($2 != "-")
		rounds[$2]++
	next
}
/vtd_inv_desc_iotlb/ {
	if (match($0, /addr 0x[0-9a-f]+/)) {
		a = hex(substr($0, RSTART + 7, RLENGTH - 7))
		if (a >= 267386880 && a < 268435456) {  # [0xff00000, 1 << 28)
			current = int((a - 267386880) / 4096)
			next
		}
	}
	if (current == "" || label[current] == "-")
		next
	l = label[current]
	total[l]++
	if ($0 ~ /iotlb_pages/)
		pages[l]++
	else if ($0 ~ /iotlb_domain/)
		domain[l]++
	else
		other[l]++
}
END {
	for (i = 1; i <= n; i++) {
		l = names[i]
		r = rounds[l]
		printf "%-14s iotlb_inv_descs=%g per round (page-selective %g, domain %g, other %g; %d rounds)\n",
		       l, total[l] / r, pages[l] / r, domain[l] / r, other[l] / r, r
	}
}
EOF
	fi
fi
echo "---- checks"
grep -a '^VMTEST: CHECK ' "$guest" | sed 's/^VMTEST: CHECK //' || true
grep -a -E '^VMTEST: (FATAL|RESULT)' "$guest" | sed 's/^VMTEST: //' || true
# QEMU's own messages: translation faults are expected (blocked DMAs);
# anything else is shown.
if grep -av -E 'vtd_|New fault is not recorded' "$run/qemu.err" | grep -q .; then
	echo "---- QEMU (all of it in $run/qemu.err):"
	grep -av -E 'vtd_|New fault is not recorded' "$run/qemu.err" | tail -n 20
fi

if ((qrc == 124 || qrc == 137)); then
	log "FAIL: the guest timed out after ${timeout_s}s (log: $guest)"
	exit 3
fi
if ! grep -aq '^GUEST: init up' "$guest"; then
	tail -n 30 "$guest" >&2
	tail -n 10 "$run/qemu.err" >&2
	log "FAIL: the guest did not boot (qemu exit $qrc; $run/qemu.err, $guest)"
	exit 2
fi
if grep -aq '^GUEST: SETUP' "$guest"; then
	grep -a '^GUEST: SETUP' "$guest" >&2
	log "FAIL: guest set-up failed (log: $guest)"
	exit 2
fi
if ! grep -aq '^GUEST: done' "$guest"; then
	tail -n 30 "$guest" >&2
	log "FAIL: the guest stopped before it finished (qemu exit $qrc; log: $guest)"
	exit 2
fi
status=0
while read -r name; do
	rc=$(grep -a "^GUEST: program $name rc=" "$guest" | sed 's/.* rc=\([0-9]*\).*/\1/')
	if [[ $rc != 0 ]]; then
		log "FAIL: $name exited ${rc:-?}"
		status=1
	fi
done < <(printf '%s\n' "${programs[@]}" | xargs -n1 basename)
checks=$(grep -ac '^VMTEST: CHECK ' "$guest" || true)
failed=$(grep -acE '^VMTEST: CHECK [^ ]+ [^ ]+ FAIL' "$guest" || true)
log "$checks checks, $failed failed, end to end $(elapsed "$t_start")s (files: $run)"
if ((status != 0 || failed != 0)); then
	log FAIL
	exit 1
fi
log PASS
