#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a target kernel in QEMU with twtrace loaded, drive real TIME_WAIT
# traffic and print what the reader shows.
#
# Usage: scripts/demo.sh SERIES

set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${TWTRACE_CACHE:-$top/.cache}
build=${TWTRACE_BUILD:-$top/build}
series=${1:-6.12}
out=$build/demo/$series

mkdir -p "$out"
bash "$top/scripts/mkinitramfs.sh" "$series" "$out/initramfs.cpio.gz" demo || exit 1
echo "booting $(cat "$cache/kernels/$series/release") in QEMU (TCG)..." >&2
bash "$top/scripts/run-qemu.sh" "$series" "$out/initramfs.cpio.gz" "$out" 300
qrc=$?
tr -d '\r' <"$out/ktap.log" | grep -v '^twtrace-exit=\|^# tainted='
if ! grep -q '^twtrace-exit=0' "$out/ktap.log"; then
	echo "demo failed (QEMU status $qrc); console log: $out/console.log" >&2
	exit 1
fi
