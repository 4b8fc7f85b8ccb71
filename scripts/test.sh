#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the twtrace kselftest suite in QEMU on each target kernel and print a
# line per kernel and an overall "N passed, N failed, N skipped" line.
# The kernels boot concurrently, as many at once as the host has cores
# (each QEMU runs single-threaded TCG, one core each; TWTRACE_JOBS to
# change), the debug kernels, the slowest, first.  Console logs and KTAP
# land in build/results/<series>/.
#
# Usage: scripts/test.sh [--host LABEL LOG]... SERIES...
#   --host: the output of tests run on the host, whose closing
#           "N passed, N failed" line joins the totals

set -uo pipefail

host_labels=()
host_logs=()
while [ "${1:-}" = --host ]; do
	host_labels+=("$2")
	host_logs+=("$3")
	shift 3
done

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
tmo=${TWTRACE_QEMU_TIMEOUT:-2700}
extra=${TWTRACE_CMDLINE:-}

# Extra kernel command line per target: the stock 6.12 runs with KFENCE
# sampling every 100 ms and full SLUB debugging; the debug kernel has its
# checkers built in.
cmdline_for() {
	case $1 in
	6.12) echo "kfence.sample_interval=100 slub_debug=FZPU" ;;
	esac
}

# One kernel: build its initramfs, boot it, judge it.  Writes OUT/verdict
# (the verdict's text) and OUT/counts ("passed failed skipped").
run_kernel() {
	local s=$1 rel out start qrc

	rel=$(kernel_release "$s")
	out=$build/results/$s
	mkdir -p "$out"
	rm -f "$out/verdict" "$out/counts"
	if ! bash "$top/scripts/mkinitramfs.sh" "$s" "$out/initramfs.cpio.gz" test; then
		echo "$s ($rel): 0 passed, 1 failed, 0 skipped" >"$out/verdict"
		echo "  FAIL: initramfs build failed" >>"$out/verdict"
		echo "0 1 0" >"$out/counts"
		return
	fi
	start=$(date +%s)
	qemu_boot "$s" "$out/initramfs.cpio.gz" "$out" "$tmo" \
		"$(cmdline_for "$s") $extra"
	qrc=$?
	bash "$top/scripts/verdict.sh" "$s ($rel)" "$out" "$qrc" >"$out/verdict"
	echo "  guest ran $(( $(date +%s) - start ))s; logs: $out/console.log $out/ktap.txt" \
		>>"$out/verdict"
}

jobs=${TWTRACE_JOBS:-$(nproc)}
order=()
for s in "$@"; do
	case $s in debug*) order+=("$s") ;; esac
done
for s in "$@"; do
	case $s in debug*) ;; *) order+=("$s") ;; esac
done
running=0
for s in "${order[@]}"; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	echo "== $s: booting $(kernel_release "$s") in QEMU (TCG, timeout ${tmo}s)"
	run_kernel "$s" &
	running=$((running + 1))
done
wait

tp=0 tf=0 ts=0
summary=()
for i in "${!host_logs[@]}"; do
	line=$(grep -E '^([a-z]+: )?[0-9]+ passed, [0-9]+ failed' \
		"${host_logs[$i]}" 2>/dev/null | tail -n 1)
	line=${line#*: }
	if [ -n "$line" ]; then
		read -r p _ f _ <<<"${line//,/}"
	else
		p=0 f=1
	fi
	tp=$(( tp + p )) tf=$(( tf + f ))
	summary+=("${host_labels[$i]}: $p passed, $f failed, 0 skipped")
done
for s in "$@"; do
	out=$build/results/$s
	cat "$out/verdict" 2>/dev/null || echo "$s: no verdict"
	if [ -f "$out/counts" ]; then
		read -r p f k <"$out/counts"
	else
		p=0 f=1 k=0
	fi
	tp=$(( tp + p )) tf=$(( tf + f )) ts=$(( ts + k ))
	summary+=("$(head -n 1 "$out/verdict" 2>/dev/null || echo "$s: 0 passed, 1 failed, 0 skipped")")
done

echo
echo "== summary"
for l in "${summary[@]}"; do
	echo "$l"
done
echo "$tp passed, $tf failed, $ts skipped"
[ "$tf" = 0 ] && [ "$tp" -gt 0 ]
