#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The twtrace benchmark (make bench): boot each target kernel once in QEMU
# and, inside that one VM, measure every configuration side by side on a
# loopback connection storm (scripts/bench-guest.sh, bench/tw_storm.c):
#
#   baseline     no module loaded
#   floor        bench/twtrace_floor.ko: twtrace's probes, empty handlers
#   loaded       twtrace loaded, nobody reading its rings
#   reader_bin   twtrace loaded, "twtrace stream -o -" draining every CPU
#                in binary (no decoding, no formatting) to /dev/null
#   reader_json  twtrace loaded, "twtrace stream -j" to /dev/null
#   drain_timer  twtrace loaded, "tw_storm drain": every ring read every
#                100 ms without poll(), so the module never wakes a reader
#   no_records   twtrace loaded with recording off (debugfs enable 0):
#                the probes, the live table and the counters, no records
#
# Time: by default the guest runs with QEMU's instruction counter as its
# clock (-icount shift=0: one nanosecond per guest instruction), so its
# times are instruction counts, untouched by whatever else the host runs;
# BENCH_CLOCK=wall boots as scripts/run-qemu.sh does instead (TCG, host time).
# With the instruction clock the kernels boot side by side.
#
# The guest's JSON result lands in $BUILD/bench/<series>.json with a
# "summary" added here; the table is printed and kept in
# $BUILD/bench/<series>.txt.  See Documentation/benchmark.rst.
#
# Usage: scripts/bench.sh SERIES...
#
# Environment (defaults in brackets):
#   BENCH_CLOCK [icount]      icount or wall
#   BENCH_REPS [5]            rounds; each round runs every configuration
#   BENCH_CONFIGS             [baseline floor no_records loaded reader_bin
#                              reader_json drain_timer]
#   BENCH_VARIANTS            [plain reuse overflow]
#   BENCH_N_PLAIN [2500]      connections per worker (one worker per CPU)
#   BENCH_N_REUSE [1000]      timed connections per worker, reuse variant
#   BENCH_N_OVERFLOW [2500]   connections per worker, overflow variant
#   BENCH_PORTS [4000]        reuse variant: ip_local_port_range size
#   BENCH_WARMUP [2000]       reuse variant: untimed connections per worker
#   BENCH_MAX_TW [16]         overflow variant: tcp_max_tw_buckets
#   BENCH_TIMEOUT [1200]      seconds per VM

set -uo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
outdir=$build/bench
storm=$outdir/tw_storm

clock=${BENCH_CLOCK:-icount}
reps=${BENCH_REPS:-5}
configs=${BENCH_CONFIGS:-baseline floor no_records loaded reader_bin reader_json drain_timer}
variants=${BENCH_VARIANTS:-plain reuse overflow}
tmo=${BENCH_TIMEOUT:-1200}
# The live table's slab on a line of its own in /proc/slabinfo rather
# than merged into kmalloc-64.
extra="slab_nomerge"

die() {
	echo "bench: $*" >&2
	exit 1
}

[ $# -gt 0 ] || die "usage: scripts/bench.sh SERIES..."
[ -x "$storm" ] || die "$storm missing: run make bench"
case $clock in
icount|wall) ;;
*) die "BENCH_CLOCK=$clock: icount or wall" ;;
esac

# The benchmark's own files, in a second (concatenated) initramfs archive:
# the kernel unpacks one after the other, so scripts/mkinitramfs.sh needs
# to know nothing about them.
extra_cpio() {
	local series=$1 dst=$2 root rc

	root=$(mktemp -d "${TMPDIR:-/tmp}/twtrace-bench.XXXXXX") || return 1
	mkdir -p "$root/opt/bench"
	install -m 0755 "$storm" "$root/opt/bench/tw_storm"
	install -m 0644 "$build/$series/twtrace_floor.ko" \
		"$root/opt/bench/twtrace_floor.ko"
	cat >"$root/opt/bench/params" <<EOF
REPS='$reps'
CONFIGS='$configs'
VARIANTS='$variants'
N_PLAIN='${BENCH_N_PLAIN:-2500}'
N_REUSE='${BENCH_N_REUSE:-1000}'
N_OVERFLOW='${BENCH_N_OVERFLOW:-2500}'
PORTS='${BENCH_PORTS:-4000}'
WARMUP='${BENCH_WARMUP:-2000}'
MAX_TW='${BENCH_MAX_TW:-16}'
CLOCK='$clock'
EOF
	pack_cpio "$root" >>"$dst"
	rc=$?
	rm -rf "$root"
	return $rc
}

# Boot SERIES with INITRD, logs to OUT (console.log, ktap.log): with the
# instruction counter as the clock (scripts/lib.sh, qemu_boot --icount)
# or host time.
boot() {
	local s=$1 initrd=$2 out=$3 clk=--icount

	[ "$clock" = wall ] && clk=
	qemu_boot ${clk:+"$clk"} "$s" "$initrd" "$out" "$tmo" "$extra"
}

# The summary of one kernel's runs (file $1): the table and the goals on
# stdout, the JSON object in file $2 (scripts/bench-summary.awk).
summarize() {
	awk -v jsonout="$2" -f "$top/scripts/bench-summary.awk" "$1"
}

run_series() {
	local s=$1 rel out qpid qrc json start

	rel=$(kernel_release "$s")
	out=$outdir/$s
	json=$outdir/$s.json
	mkdir -p "$out"
	rm -f "$json" "$outdir/$s.txt"
	[ -f "$build/$s/twtrace_floor.ko" ] ||
		die "$build/$s/twtrace_floor.ko missing: run make bench"
	bash "$top/scripts/mkinitramfs.sh" "$s" "$out/initramfs.cpio.gz" bench ||
		die "$s: initramfs build failed"
	extra_cpio "$s" "$out/initramfs.cpio.gz" || die "$s: extra initramfs failed"

	echo "== $s: booting $rel in QEMU (TCG, clock $clock, timeout ${tmo}s)"
	start=$(date +%s)
	: >"$out/ktap.log"
	boot "$s" "$out/initramfs.cpio.gz" "$out" &
	qpid=$!
	# Progress: the guest's "# ..." lines, until QEMU is gone.
	tail -n +1 -F --pid="$qpid" "$out/ktap.log" 2>/dev/null |
		grep --line-buffered '^# ' | while IFS= read -r line; do
			printf '  %s %4ds: %s\n' "$s" $(($(date +%s) - start)) \
				"${line#\# }"
		done
	wait "$qpid"
	qrc=$?
	echo "== $s: the VM ran $(($(date +%s) - start)) s"

	tr -d '\r' <"$out/ktap.log" |
		sed -n '/^BENCH-JSON-BEGIN$/,/^BENCH-JSON-END$/p' |
		sed '1d;$d' >"$json.raw"
	if [ ! -s "$json.raw" ] || [ "$(exit_sentinel "$out/ktap.log")" != 0 ]; then
		echo "bench: $s failed (QEMU status $qrc); console log: $out/console.log" >&2
		rm -f "$json.raw"
		return 1
	fi
	if grep -Eq "$splat_re" "$out/console.log"; then
		echo "bench: $s: the kernel complained; see $out/console.log" >&2
		return 1
	fi
	{
		echo "== $s ($rel), clock $clock: medians of $reps rounds (min-max)"
		echo "   t/conn: time per connection / the baseline's in the same round;"
		echo "   ovr/fl: (config - baseline) / (floor - baseline); rec/c: records"
		echo "   per connection; lost, live: the largest; death+: extra busy ns"
		echo "   per TIME_WAIT socket purged with the namespace, over the baseline;"
		echo "   rdr ns/r: reader CPU per record and wk/kr: its wake-ups per 1000"
		echo "   records, during the storm; miss: kprobe misses"
		summarize "$json.raw" "$out/summary.json"
		echo "   ($json)"
	} >"$outdir/$s.txt"
	# The guest's object, with the summary as its last member.
	{
		sed '$s/}[[:space:]]*$//' "$json.raw"
		printf ',\n"summary":'
		cat "$out/summary.json"
		printf '}\n'
	} >"$json"
	rm -f "$json.raw"
	if command -v python3 >/dev/null &&
	   ! python3 -m json.tool "$json" >/dev/null; then
		echo "bench: $s: $json is not valid JSON" >&2
		return 1
	fi
}

mkdir -p "$outdir"
rc=0
if [ "$clock" = icount ]; then
	# Instruction counts do not care what else the host runs.
	pids=()
	for s in "$@"; do
		run_series "$s" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p" || rc=1
	done
else
	for s in "$@"; do
		run_series "$s" || rc=1
	done
fi
for s in "$@"; do
	[ -f "$outdir/$s.txt" ] || continue
	echo
	cat "$outdir/$s.txt"
done
exit $rc
