# shellcheck shell=bash
#
# scripts/common.sh - helpers sourced by scripts/test.sh and scripts/demo.sh.
#
# Provides:
#   IVM_ROOT                    the repository root (absolute)
#   IVM_DEB_PACKAGES            every Debian package a build or test needs
#   IVM_VM_DEB_PACKAGES         what the VM test (tests/vm/run-vm.sh) adds
#   ivm_say / ivm_warn / ivm_die  "==> ..." progress and error lines
#   ivm_install_deps [PKG...]   apt-get install what is missing of
#                               IVM_DEB_PACKAGES and the extra PKGs (cheap
#                               when nothing is: one dpkg-query per package)
#   ivm_setup DIR [ARGS...]     meson setup DIR with ARGS, only when DIR is
#                               new or ARGS changed since the last setup
#   ivm_build DIR               ninja -C DIR, output shown only on failure
#
# Environment:
#   IVM_SKIP_DEPS=1   never call apt-get (for machines set up by hand)
#   CI=true           set by CI; the build log is printed in full on failure
#
# Meant to be sourced by scripts that use `set -euo pipefail`.

# shellcheck disable=SC2034 # used by the scripts that source this file
IVM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The one list of Debian 12 packages (DESIGN.md section 4, plus the
# compilers and clang's sanitizer runtimes).
IVM_DEB_PACKAGES=(
	meson
	ninja-build
	pkg-config
	liburcu-dev
	libjemalloc-dev
	libdpdk-dev
	libbenchmark-dev
	g++
	gcc
	clang
	libclang-rt-14-dev
)

# The VM test (scripts/test.sh stage vm, tests/vm/run-vm.sh) boots a QEMU
# guest: the emulator, a static busybox and cpio for its initramfs, kmod's
# depmod/modprobe to order the guest's modules.  The guest kernel package
# is downloaded by the harness, never installed.
IVM_VM_DEB_PACKAGES=(
	qemu-system-x86
	busybox-static
	cpio
	kmod
)

ivm_say() { printf '==> %s\n' "$*"; }
ivm_warn() { printf '==> warning: %s\n' "$*" >&2; }
ivm_die() {
	printf '==> error: %s\n' "$*" >&2
	exit 1
}

# ivm_install_deps [PKG...]: install whichever of IVM_DEB_PACKAGES and the
# extra PKGs (a stage's or a script's own needs) is missing.  apt-get update
# runs only when something is missing.
ivm_install_deps() {
	if [[ ${IVM_SKIP_DEPS:-0} == 1 ]]; then
		return 0
	fi
	if ! command -v dpkg-query >/dev/null 2>&1; then
		ivm_warn "no dpkg-query: not a Debian system, skipping package checks"
		return 0
	fi

	local pkg status missing=()
	for pkg in "${IVM_DEB_PACKAGES[@]}" "$@"; do
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
		if [[ $status != *" ok installed" ]]; then
			missing+=("$pkg")
		fi
	done
	if ((${#missing[@]} == 0)); then
		return 0
	fi

	local sudo=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null 2>&1 ||
			ivm_die "missing packages (${missing[*]}) and not root; install them or rerun as root"
		sudo=(sudo)
	fi
	ivm_say "installing ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
		ivm_die "apt-get update failed"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" </dev/null ||
		ivm_die "apt-get install failed"
}

# ivm_setup DIR [MESON_SETUP_ARGS...]: configure DIR with exactly these
# arguments.  A build directory configured before with the same arguments is
# left alone (ninja regenerates it by itself when a meson.build changes); a
# different argument list reconfigures it in place; a directory meson cannot
# reconfigure is wiped and configured afresh.  The arguments of the last
# successful setup are kept in DIR/.ivm-setup-args.
ivm_setup() {
	local dir=$1
	shift
	local stamp="$dir/.ivm-setup-args" log="$dir/.ivm-setup.log"
	local want
	want=$(printf '%s\n' "$@")

	if [[ -f $dir/meson-private/coredata.dat && -f $dir/build.ninja &&
		-f $stamp && "$(cat "$stamp")" == "$want" ]]; then
		return 0
	fi

	mkdir -p "$dir"
	rm -f "$stamp"
	if [[ -f $dir/meson-private/coredata.dat ]]; then
		ivm_say "reconfiguring $dir${*:+ ($*)}"
		if ! meson setup --reconfigure "$dir" "$@" >"$log" 2>&1; then
			ivm_warn "reconfigure failed, wiping $dir"
			if ! meson setup --wipe "$dir" "$@" >"$log" 2>&1; then
				cat "$log" >&2
				ivm_warn "meson setup failed in $dir (log: $log)"
				return 1
			fi
		fi
	else
		ivm_say "configuring $dir${*:+ ($*)}"
		if ! meson setup "$dir" "$@" >"$log" 2>&1; then
			cat "$log" >&2
			ivm_warn "meson setup failed in $dir (log: $log)"
			return 1
		fi
	fi
	printf '%s' "$want" >"$stamp"
}

# ivm_build DIR: build everything in DIR.  Quiet on success (one line);
# the full ninja output on failure.
ivm_build() {
	local dir=$1 log="$1/.ivm-build.log"
	ivm_say "building $dir"
	if ! ninja -C "$dir" >"$log" 2>&1; then
		if [[ ${CI:-} == true ]]; then
			cat "$log" >&2
		else
			# Compiler errors come last; the progress lines before
			# them only repeat the file names.
			grep -v '^\[[0-9]*/[0-9]*\] ' "$log" | tail -n 200 >&2 || true
		fi
		ivm_warn "build failed in $dir (log: $log)"
		return 1
	fi
}
