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
# BENCH_CLOCK=wall boots with scripts/run-qemu.sh instead (TCG, host time).
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

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${TWTRACE_CACHE:-$top/.cache}
build=${TWTRACE_BUILD:-$top/build}
outdir=$build/bench
storm=$outdir/tw_storm

clock=${BENCH_CLOCK:-icount}
reps=${BENCH_REPS:-5}
configs=${BENCH_CONFIGS:-baseline floor no_records loaded reader_bin reader_json drain_timer}
variants=${BENCH_VARIANTS:-plain reuse overflow}
tmo=${BENCH_TIMEOUT:-1200}
# scripts/run-qemu.sh's command line, and the live table's slab on a line
# of its own in /proc/slabinfo rather than merged into kmalloc-64.
cmdline="console=ttyS0 panic=-1 panic_on_warn=1 oops=panic"
cmdline="$cmdline softlockup_panic=1 hung_task_panic=1 loglevel=6"
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
	(cd "$root" && find . | cpio -o -H newc --quiet -R 0:0) | gzip -1 >>"$dst"
	rc=$?
	rm -rf "$root"
	return $rc
}

# Boot SERIES with INITRD, logs to OUT (console.log, ktap.log).
boot() {
	local s=$1 initrd=$2 out=$3

	if [ "$clock" = wall ]; then
		bash "$top/scripts/run-qemu.sh" "$s" "$initrd" "$out" "$tmo" "$extra"
		return
	fi
	# As scripts/run-qemu.sh, plus the instruction counter: icount needs
	# single-threaded TCG anyway.  sleep=off: an idle guest jumps to its
	# next timer, so its sleeps cost no host time.  maxcpus=1: 6.1's
	# boot-time bring-up of the second CPU hangs under icount (QEMU 7.2),
	# its hotplug does not: the guest script brings it online.  -cx16:
	# under icount, QEMU 7.2 now and then corrupts EFLAGS around SLUB's
	# cmpxchg16b and the guest dies of a double fault (seen on both
	# kernels, with and without twtrace loaded); without the instruction
	# SLUB takes its locked path, the same for every configuration.
	rm -f "$out/console.log"
	timeout --foreground -k 10 "$tmo" \
		qemu-system-x86_64 -nodefaults -display none -no-reboot \
		-accel tcg,thread=single -icount shift=0,sleep=off \
		-cpu max,-cx16 -smp 2 -m 2G \
		-kernel "$cache/kernels/$s/vmlinuz" -initrd "$initrd" \
		-append "$cmdline $extra maxcpus=1" \
		-serial "file:$out/console.log" -serial "file:$out/ktap.log" \
		-monitor none </dev/null
}

# The summary of one kernel's runs (file $1): medians and spreads per
# variant and configuration as a table and the goals (stdout), and as a
# JSON object (file $2).  Time ratios are taken within a round (same
# variant, same round) and their median reported, so that slow drifts
# cancel out.
summarize() {
	awk -v jsonout="$2" '
	function num(s, k,    re, m) {
		re = "\"" k "\":(-?[0-9.]+|null)"
		if (!match(s, re))
			return ""
		m = substr(s, RSTART + length(k) + 3, RLENGTH - length(k) - 3)
		return m == "null" ? "" : m + 0
	}
	function str(s, k,    re) {
		re = "\"" k "\":\"[^\"]*\""
		if (!match(s, re))
			return ""
		return substr(s, RSTART + length(k) + 4, RLENGTH - length(k) - 5)
	}
	# Sort a[1..n] (insertion sort: mawk has no asort).
	function isort(a, n,    i, j, t) {
		for (i = 2; i <= n; i++) {
			t = a[i]
			for (j = i - 1; j >= 1 && a[j] > t; j--)
				a[j + 1] = a[j]
			a[j + 1] = t
		}
	}
	# Median, min and max of the values in list l ("v1 v2 ...").
	function stats(l, r,    a, n) {
		n = split(l, a, " ")
		r["n"] = n
		if (!n) {
			r["med"] = r["min"] = r["max"] = ""
			return
		}
		isort(a, n)
		r["med"] = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		r["min"] = a[1]
		r["max"] = a[n]
	}
	function add(k, v) {
		if (v != "")
			L[k] = L[k] (L[k] == "" ? "" : " ") v
	}
	function jf(name, r) {
		if (r["med"] == "")
			return
		printf ",\"%s\":{\"median\":%s,\"min\":%s,\"max\":%s}", name,
		       r["med"], r["min"], r["max"] >jsonout
	}
	function pow2(n,    p) {
		for (p = 64; p < n; p *= 2)
			;
		return p
	}
	function verdict(ok) {
		return ok ? "met" : "MISSED"
	}
	/^\{"kernel"/ {
		ring_kb = num($0, "ring_kb"); ring_pages = num($0, "ring_pages_per_cpu")
		cpus = num($0, "cpus"); dec_n = num($0, "records")
		dec_json = num($0, "json_cpu_us"); dec_text = num($0, "text_cpu_us")
	}
	/^\{"variant"/ {
		v = str($0, "variant"); c = str($0, "config"); rep = num($0, "rep")
		conns = num($0, "conns"); ns = num($0, "ns")
		if (!(v in seenv)) { seenv[v] = 1; vs[++nv] = v }
		if (!(c in seenc)) { seenc[c] = 1; cs[++nc] = c }
		# the namespace teardown: busy time per TIME_WAIT socket purged
		tw = num($0, "netns_tw"); td = num($0, "teardown_busy_ns")
		if (tw >= 100 && td != "")
			TD[v, c, rep] = td / tw
		if (conns > 0 && ns > 0) {
			T[v, c, rep] = ns / conns
			add(v SUBSEP c SUBSEP "cps", conns / ns * 1e9)
			add(v SUBSEP c SUBSEP "nspc", ns / conns)
		}
		rw = num($0, "records_window")
		add(v SUBSEP c SUBSEP "lost", num($0, "lost"))
		add(v SUBSEP c SUBSEP "misses", num($0, "probe_misses"))
		add(v SUBSEP c SUBSEP "iwi", conns > 0 ? num($0, "iwi_window") / conns : "")
		live = num($0, "live_peak"); so = num($0, "slab_objs_peak")
		sz = num($0, "slab_objsize")
		add(v SUBSEP c SUBSEP "live", live)
		if (live > 0 && so != "") {
			# slab pages of the entries + the rhashtable bucket
			# array (8 bytes a bucket, grown past 75% load)
			add(v SUBSEP c SUBSEP "bps", (so * sz + 8 * pow2(live * 4 / 3)) / live)
			add(v SUBSEP c SUBSEP "slabps", so * sz / live)
		}
		if (rw != "" && conns > 0) {
			add(v SUBSEP c SUBSEP "rpc", rw / conns)
			add(v SUBSEP c SUBSEP "rate", rw / ns * 1e9)
			add(v SUBSEP c SUBSEP "reuse", num($0, "reuse") / conns)
			add(v SUBSEP c SUBSEP "allowed", num($0, "reuse_allowed") / conns)
		}
		# the reader while the storm runs: CPU per record, wake-ups
		rn = num($0, "reader_ns_window")
		add(v SUBSEP c SUBSEP "rlost", num($0, "reader_lost"))
		if (rn != "" && rw > 0) {
			add(v SUBSEP c SUBSEP "cpr", rn / rw)
			add(v SUBSEP c SUBSEP "wpr", num($0, "reader_vcsw_window") / rw * 1000)
			add(v SUBSEP c SUBSEP "util", rn / ns)
			add(v SUBSEP c SUBSEP "scpr", (num($0, "reader_reads_window") + \
				num($0, "reader_writes_window")) / rw)
		}
		if (rep > maxrep)
			maxrep = rep
	}
	END {
		printf "%-8s %-11s %7s %13s %6s %13s %6s %5s %5s %5s %7s %8s %5s %4s\n",
		       "variant", "config", "conn/s", "(min-max)", "t/conn",
		       "(min-max)", "ovr/fl", "rec/c", "lost", "live",
		       "death+", "rdr ns/r", "wk/kr", "miss"
		first = 1
		printf "{" >jsonout
		for (i = 1; i <= nv; i++) {
			v = vs[i]
			for (j = 1; j <= nc; j++) {
				c = cs[j]
				# per-round ratios to the baseline, overhead vs the floor
				rl = ""; fl = ""; dl = ""
				for (r = 1; r <= maxrep; r++) {
					if ((v, c, r) in TD && (v, "baseline", r) in TD)
						dl = dl " " TD[v, c, r] - TD[v, "baseline", r]
					if (!((v, c, r) in T) || !((v, "baseline", r) in T))
						continue
					b = T[v, "baseline", r]
					rl = rl " " T[v, c, r] / b
					if ((v, "floor", r) in T && T[v, "floor", r] != b)
						fl = fl " " (T[v, c, r] - b) / (T[v, "floor", r] - b)
				}
				stats(rl, R); stats(fl, F); stats(dl, DL)
				stats(L[v, c, "cps"], S); stats(L[v, c, "nspc"], NS)
				stats(L[v, c, "lost"], LO); stats(L[v, c, "live"], LI)
				stats(L[v, c, "rpc"], RP); stats(L[v, c, "cpr"], CP)
				stats(L[v, c, "misses"], MI); stats(L[v, c, "rate"], RA)
				stats(L[v, c, "wpr"], WP); stats(L[v, c, "iwi"], IW)
				stats(L[v, c, "reuse"], RU); stats(L[v, c, "allowed"], AL)
				stats(L[v, c, "bps"], BP); stats(L[v, c, "slabps"], SB)
				stats(L[v, c, "rlost"], RL); stats(L[v, c, "util"], UT)
				stats(L[v, c, "scpr"], SC)
				ofl = (c == "baseline" || c == "floor" || F["med"] == "") ? "-" : \
				      sprintf("%.2f", F["med"])
				printf "%-8s %-11s %7.0f %13s %6s %13s %6s %5s %5s %5s %7s %8s %5s %4s\n",
				       v, c, S["med"],
				       sprintf("(%.0f-%.0f)", S["min"], S["max"]),
				       R["med"] == "" ? "-" : sprintf("%.3f", R["med"]),
				       R["med"] == "" ? "" : sprintf("(%.3f-%.3f)", R["min"], R["max"]),
				       ofl,
				       RP["med"] == "" ? "-" : sprintf("%.2f", RP["med"]),
				       LO["med"] == "" ? "-" : sprintf("%d", LO["max"]),
				       LI["med"] == "" ? "-" : sprintf("%d", LI["max"]),
				       DL["med"] == "" || c == "baseline" ? "-" : sprintf("%.0f", DL["med"]),
				       CP["med"] == "" ? "-" : sprintf("%.0f", CP["med"]),
				       WP["med"] == "" ? "-" : sprintf("%.0f", WP["med"]),
				       MI["med"] == "" ? "-" : sprintf("%d", MI["max"])
				printf "%s\"%s/%s\":{\"runs\":%d", first ? "" : ",", v, c, S["n"] >jsonout
				first = 0
				jf("conns_per_s", S); jf("ns_per_conn", NS)
				jf("ratio_to_baseline", R); jf("overhead_vs_floor", F)
				jf("death_extra_ns_per_socket", DL)
				jf("records_per_conn", RP); jf("records_per_s", RA)
				jf("lost", LO); jf("reader_lost", RL); jf("live_peak", LI)
				jf("table_bytes_per_socket", BP)
				jf("slab_bytes_per_socket", SB)
				jf("reader_cpu_ns_per_record", CP)
				jf("reader_wakeups_per_1000_records", WP)
				jf("reader_cpu_share", UT)
				jf("reader_read_write_syscalls_per_record", SC)
				jf("irq_work_per_conn", IW); jf("probe_misses", MI)
				jf("reuse_decisions_per_conn", RU)
				jf("reuse_allowed_per_conn", AL)
				printf "}" >jsonout
				# what the goals look at
				G[v, c, "ratio"] = R["med"]; G[v, c, "rmin"] = R["min"]
				G[v, c, "rmax"] = R["max"]; G[v, c, "fl"] = F["med"]
				G[v, c, "lost"] = LO["max"]; G[v, c, "rate"] = RA["max"]
				G[v, c, "cpr"] = CP["med"]; G[v, c, "bps"] = BP["max"]
				G[v, c, "slabps"] = SB["max"]; G[v, c, "live"] = LI["max"]
				G[v, c, "util"] = UT["max"]
			}
		}
		printf "}" >jsonout

		print ""
		print "goals (median of per-round ratios; see Documentation/benchmark.rst):"
		for (i = 1; i <= nv; i++) {
			v = vs[i]
			if (G[v, "reader_bin", "ratio"] != "")
				printf "  %-8s reader_bin t/conn %.3f <= 1.05x baseline: %s; overhead %.2fx the floor <= 1.5x: %s\n",
				       v, G[v, "reader_bin", "ratio"],
				       verdict(G[v, "reader_bin", "ratio"] <= 1.05),
				       G[v, "reader_bin", "fl"],
				       verdict(G[v, "reader_bin", "fl"] != "" && G[v, "reader_bin", "fl"] <= 1.5)
		}
		for (i = 1; i <= nv; i++) {
			v = vs[i]
			if (G[v, "reader_bin", "lost"] == "")
				continue
			printf "  %-8s lost records, reader draining: bin %d, json %s, drain_timer %s (goal 0): %s\n",
			       v, G[v, "reader_bin", "lost"],
			       G[v, "reader_json", "lost"] == "" ? "-" : G[v, "reader_json", "lost"],
			       G[v, "drain_timer", "lost"] == "" ? "-" : G[v, "drain_timer", "lost"],
			       verdict(G[v, "reader_bin", "lost"] == 0 && G[v, "reader_json", "lost"] + 0 == 0)
		}
		if (G["plain", "loaded", "bps"] != "")
			printf "  live table: %.1f bytes per socket at %d sockets (%.1f slab entry + bucket array) <= 64: %s\n",
			       G["plain", "loaded", "bps"], G["plain", "loaded", "live"],
			       G["plain", "loaded", "slabps"],
			       verdict(G["plain", "loaded", "bps"] <= 64)
		if (ring_pages != "")
			printf "  rings: ring_kb %d = %d pages (%d KiB) + %d KiB of page descriptors per CPU <= 1024 KiB: %s\n",
			       ring_kb, ring_pages, ring_pages * 4, ring_pages * 64 / 1024,
			       verdict(ring_pages * 4 + ring_pages * 64 / 1024 <= 1024)
		for (i = 1; i <= nv; i++) {
			v = vs[i]
			if (G[v, "reader_json", "cpr"] == "" || G[v, "reader_json", "rate"] == "")
				continue
			cap = 1e9 / G[v, "reader_json", "cpr"]
			printf "  %-8s reader -j keeps up: %.0f records/s a CPU vs %.0f produced (%.1fx, busiest run %.0f%% of a CPU): %s\n",
			       v, cap, G[v, "reader_json", "rate"],
			       cap / G[v, "reader_json", "rate"],
			       G[v, "reader_json", "util"] * 100,
			       verdict(G[v, "reader_json", "util"] < 1)
		}
		if (dec_n > 0)
			printf "  decoding a recording: -j %.0f ns/record, text %.0f ns/record\n",
			       dec_json * 1000 / dec_n, dec_text * 1000 / dec_n
	}' "$1"
}

run_series() {
	local s=$1 rel out qpid qrc json start

	rel=$(cat "$cache/kernels/$s/release")
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
	if [ ! -s "$json.raw" ] || ! grep -q '^twtrace-exit=0' "$out/ktap.log"; then
		echo "bench: $s failed (QEMU status $qrc); console log: $out/console.log" >&2
		rm -f "$json.raw"
		return 1
	fi
	if grep -Eq 'BUG:|WARNING:|Oops|UBSAN|KASAN' "$out/console.log"; then
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
