#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the twtrace kselftest suite in QEMU on each target kernel and print a
# line per kernel and an overall "N passed, N failed, N skipped" line.
# Console logs and KTAP land in build/results/<series>/.
#
# Usage: scripts/test.sh SERIES...

set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${TWTRACE_CACHE:-$top/.cache}
build=${TWTRACE_BUILD:-$top/build}
tmo=${TWTRACE_QEMU_TIMEOUT:-1500}
extra=${TWTRACE_CMDLINE:-}

tp=0 tf=0 ts=0
summary=()
for s in "$@"; do
	rel=$(cat "$cache/kernels/$s/release")
	out=$build/results/$s
	mkdir -p "$out"
	echo "== $s ($rel): building initramfs"
	if ! bash "$top/scripts/mkinitramfs.sh" "$s" "$out/initramfs.cpio.gz" test; then
		summary+=("$s ($rel): 0 passed, 1 failed, 0 skipped (initramfs build failed)")
		tf=$(( tf + 1 ))
		continue
	fi
	echo "== $s ($rel): booting QEMU (TCG, timeout ${tmo}s)"
	start=$(date +%s)
	bash "$top/scripts/run-qemu.sh" "$s" "$out/initramfs.cpio.gz" "$out" "$tmo" "$extra"
	qrc=$?
	echo "== $s ($rel): guest ran $(( $(date +%s) - start ))s"
	line=$(bash "$top/scripts/verdict.sh" "$s ($rel)" "$out" "$qrc")
	echo "$line"
	read -r p f k <"$out/counts"
	tp=$(( tp + p )) tf=$(( tf + f )) ts=$(( ts + k ))
	summary+=("$(echo "$line" | head -n 1)")
	echo "   logs: $out/console.log $out/ktap.txt"
done

echo
echo "== summary"
for l in "${summary[@]}"; do
	echo "$l"
done
echo "$tp passed, $tf failed, $ts skipped"
[ "$tf" = 0 ] && [ "$tp" -gt 0 ]
