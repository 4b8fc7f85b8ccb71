#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build a busybox initramfs that loads twtrace and runs the work of one
# mode: the kselftest suite through the kernel's own kselftest runner, the
# demo or the benchmark.
#
# Usage: scripts/mkinitramfs.sh SERIES OUTPUT.cpio.gz [MODE]
#   MODE: test (default), demo or bench
#
# Guest layout:
#   /init                      scripts/guest-init.sh: what every mode shares
#   /opt/twtrace/guest.sh      the mode's script: scripts/guest-test.sh,
#                              scripts/demo-guest.sh (TWTRACE_GUEST_SCRIPT:
#                              any script of yours) or scripts/bench-guest.sh
#   /opt/twtrace/twtrace.ko    the module built for SERIES
#   /opt/twtrace/twtrace       the reader
#   /opt/ksft/                 run_kselftest.sh, kselftest/, twtrace/ tests

set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
series=$1
out=$2
mode=${3:-test}
ksft=$cache/ksrc/tools/testing/selftests
kdir=$(kernel_dir "$series")
rel=$(kernel_release "$series")

case $mode in
test) guest=$top/scripts/guest-test.sh ;;
demo) guest=${TWTRACE_GUEST_SCRIPT:-$top/scripts/demo-guest.sh} ;;
bench) guest=$top/scripts/bench-guest.sh ;;
*) echo "mkinitramfs: unknown mode $mode (test, demo or bench)" >&2; exit 2 ;;
esac

root=$(mktemp -d "${TMPDIR:-/tmp}/twtrace-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"	# mktemp made it 0700; it becomes the guest's /

mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,root}
mkdir -p "$root/opt/twtrace" "$root/opt/ksft" "$root/lib/modules/$rel"
cp /bin/busybox "$root/bin/busybox"
for a in sh mount mkdir ln; do
	ln -s busybox "$root/bin/$a"
done

install -m 0755 "$top/scripts/guest-init.sh" "$root/init"
install -m 0755 "$guest" "$root/opt/twtrace/guest.sh"
install -m 0644 "$build/$series/twtrace.ko" "$root/opt/twtrace/twtrace.ko"
install -m 0755 "$build/twtrace" "$root/opt/twtrace/twtrace"
ln -s /opt/twtrace/twtrace "$root/usr/sbin/twtrace"
echo "$mode" >"$root/etc/twtrace-mode"
echo "$rel" >"$root/etc/twtrace-kernel"

# Kernel modules the tests may need, taken from the target's own package.
for m in drivers/net/veth.ko \
	 net/ipv4/inet_diag.ko net/ipv4/tcp_diag.ko; do
	# (none for the debug kernel: it has them built in)
	src=$(find "$kdir/modules/kernel/" -path "*/$m*" \
		2>/dev/null | head -n 1) || true
	[ -n "$src" ] || continue
	case $src in
	*.ko.xz) xz -dc "$src" >"$root/lib/modules/$rel/$(basename "$m")" ;;
	*.ko.zst) zstd -qdc "$src" >"$root/lib/modules/$rel/$(basename "$m")" ;;
	*) cp "$src" "$root/lib/modules/$rel/" ;;
	esac
done

# The kernel's kselftest runner and our collection.
cp "$ksft/run_kselftest.sh" "$root/opt/ksft/"
cp -r "$ksft/kselftest" "$root/opt/ksft/"
make -s --no-print-directory -C "$top/selftests" KSFT_DIR="$ksft" \
	OUTPUT="$build/selftests" INSTALL_PATH="$root/opt/ksft/twtrace" install
make -s --no-print-directory -C "$top/selftests" KSFT_DIR="$ksft" \
	OUTPUT="$build/selftests" COLLECTION=twtrace emit_tests \
	>"$root/opt/ksft/kselftest-list.txt"
[ -s "$root/opt/ksft/kselftest-list.txt" ] || {
	echo "mkinitramfs: no tests to install" >&2
	exit 1
}

pack_cpio "$root" >"$out"
