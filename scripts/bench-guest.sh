#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The twtrace benchmark, run inside the guest by /init in bench mode (it is
# installed as /opt/twtrace/guest.sh; see scripts/bench.sh).  Every
# configuration is measured in this one VM, the configurations
# interleaved, each workload variant in a network namespace of its own.
# Progress lines ("# ...") and one JSON object, between "BENCH-JSON-BEGIN"
# and "BENCH-JSON-END" lines, go to ttyS1.
#
#   guest.sh              the benchmark
#   guest.sh snap FILE    the counters, as "name value" lines, to FILE
#   guest.sh start FILE   switch twtrace's recording on, then snap FILE
#                         (tw_storm's hooks, inside the storm's namespace)

D=/sys/kernel/debug/twtrace
B=/opt/bench
KO=/opt/twtrace/twtrace.ko
FLOOR=$B/twtrace_floor.ko
STORM=$B/tw_storm
T=/tmp/bench
self=/opt/twtrace/guest.sh

# Every counter the benchmark looks at, one "name value" per line, read by
# one awk (each process costs the guest milliseconds).
snap() {
	snap_out=$1

	set -- /proc/uptime /proc/interrupts /proc/schedstat
	[ -r /proc/slabinfo ] && set -- "$@" /proc/slabinfo
	[ -r "$D/stats" ] && set -- "$@" "$D/stats" "$D/probes"
	[ -r /sys/module/twtrace_floor/parameters/probes ] &&
		set -- "$@" /sys/module/twtrace_floor/parameters/probes
	# The reader's own CPU time (ns) and voluntary context switches.
	if [ -s $T/reader.pid ]; then
		snap_pid=$(cat $T/reader.pid)
		[ -r "/proc/$snap_pid/schedstat" ] &&
			set -- "$@" "/proc/$snap_pid/schedstat" \
				"/proc/$snap_pid/status" "/proc/$snap_pid/io"
	fi
	awk '
	FILENAME == "/proc/uptime" { printf "t_ns %.0f\n", $1 * 1e9 }
	FILENAME == "/proc/interrupts" && $1 == "IWI:" {
		for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++)
			iwi += $i
	}
	# Time spent by tasks (not the idle task), ns, per CPU.
	FILENAME == "/proc/schedstat" && $1 ~ /^cpu[0-9]/ { busy += $8 }
	FILENAME == "/proc/slabinfo" && $1 == "twtrace_tw" {
		print "slab_active", $2; print "slab_objs", $3
		print "slab_objsize", $4
	}
	FILENAME ~ /twtrace\/stats$/ { print "st_" $1, $2 }
	FILENAME ~ /twtrace\/probes$/ && !/^#/ {
		print "hits_" $1, $3; print "missed_" $1, $4
	}
	FILENAME ~ /parameters\/probes$/ { print "floor_missed", $4 }
	FILENAME ~ /^\/proc\/[0-9]+\/schedstat$/ { print "reader_ns", $1 }
	FILENAME ~ /^\/proc\/[0-9]+\/status$/ && $1 == "voluntary_ctxt_switches:" {
		print "reader_vcsw", $2
	}
	FILENAME ~ /^\/proc\/[0-9]+\/io$/ && $1 ~ /^sysc[rw]:$/ {
		print "reader_" substr($1, 1, 5), $2
	}
	END { print "iwi", iwi + 0; print "busy_ns", busy + 0 }' "$@" >"$snap_out"
}

# One run's counters as JSON members, from the snaps before the timed
# part (s0), after it (s1), after the namespace's teardown (st), before
# the reader stops (sr) and at the end (s2).
run_json() {
	awk '
	FNR == 1 { f++ }
	{ v[f, $1] = $2; if (f == 1) k[++n] = $1 }
	function d(a, b, name) { return v[b, name] - v[a, name] }
	function dsum(a, b, re,    i, s) {
		for (i = 1; i <= n; i++)
			if (k[i] ~ re)
				s += d(a, b, k[i])
		return s + 0
	}
	END {
		# f: 1 s0, 2 s1, 3 st, 4 sr, 5 s2
		printf "\"iwi_window\":%d,\"busy_window_ns\":%d,", d(1, 2, "iwi"),
		       d(1, 2, "busy_ns")
		printf "\"teardown_busy_ns\":%d,", d(2, 3, "busy_ns")
		if ((1, "reader_ns") in v && (4, "reader_ns") in v) {
			printf "\"reader_ns_window\":%d,\"reader_ns\":%d,",
			       d(1, 2, "reader_ns"), d(1, 4, "reader_ns")
			printf "\"reader_vcsw_window\":%d,\"reader_vcsw\":%d,",
			       d(1, 2, "reader_vcsw"), d(1, 4, "reader_vcsw")
			printf "\"reader_reads_window\":%d,\"reader_writes_window\":%d,",
			       d(1, 2, "reader_syscr"), d(1, 2, "reader_syscw")
		}
		if ((1, "st_records") in v) {
			printf "\"records_window\":%d,\"records\":%d,", d(1, 2, "st_records"),
			       d(1, 5, "st_records")
			printf "\"lost\":%d,\"lost_window\":%d,", d(1, 5, "st_lost"),
			       d(1, 2, "st_lost")
			printf "\"births\":%d,\"rearms\":%d,", d(1, 2, "st_births"),
			       d(1, 2, "st_rearms")
			printf "\"reuse\":%d,\"reuse_allowed\":%d,",
			       dsum(1, 2, "^st_reuse_"), dsum(1, 2, "^st_reuse_allow")
			printf "\"deaths\":%d,\"overflows\":%d,",
			       dsum(1, 2, "^st_death_"), dsum(1, 2, "^st_overflow_")
			printf "\"deaths_teardown\":%d,", dsum(2, 3, "^st_death_")
			printf "\"live_peak\":%d,\"untracked\":%d,", v[2, "st_live"],
			       d(1, 2, "st_untracked")
			printf "\"slab_active_peak\":%d,\"slab_objs_peak\":%d,",
			       v[2, "slab_active"], v[2, "slab_objs"]
			printf "\"slab_objsize\":%d,", v[2, "slab_objsize"]
			printf "\"probe_misses\":%d,\"probes\":{", d(1, 5, "st_probe_misses")
			for (i = 1; i <= n; i++) {
				if (k[i] !~ /^hits_/)
					continue
				s = substr(k[i], 6)
				printf "%s\"%s\":[%d,%d]", (p++ ? "," : ""), s,
				       d(1, 5, k[i]), d(1, 5, "missed_" s)
			}
			printf "},"
		} else if ((1, "floor_missed") in v) {
			printf "\"probe_misses\":%d,", d(1, 5, "floor_missed")
		}
	}' "$@"
}

case ${1:-} in
snap)
	snap "$2"
	exit 0
	;;
start)
	# Records of the untimed warm-up would only fill the rings.
	[ -w "$D/enable" ] && [ ! -e $T/no_records ] && echo 1 >"$D/enable"
	snap "$2"
	exit 0
	;;
esac

out=/dev/ttyS1
# shellcheck source=/dev/null
. $B/params

say() {
	echo "# $*" >"$out"
	echo "bench: $*"
}

mkdir -p $T
# With the instruction clock the guest boots on one CPU (6.1's boot-time
# bring-up of the others hangs under QEMU's icount); bring them up now.
for f in /sys/devices/system/cpu/cpu*/online; do
	[ "$(cat "$f")" = 0 ] && echo 1 >"$f"
done
cpus=$(grep -c '^processor' /proc/cpuinfo)
# A namespace can be made only when the last one is entirely gone
# (tw_storm waitns): nothing of one run spills into the next.
echo 1 >/proc/sys/user/max_net_namespaces

say "kernel $(uname -r), $cpus CPUs"

# The module as loaded by default.
[ -d /sys/module/twtrace ] && rmmod twtrace
insmod $KO
ring_kb=$(cat $D/ring_kb)
record_size=$(awk '$1 == "record_size" { print $2 }' $D/version)
max_tracked=$(cat /sys/module/twtrace/parameters/max_tracked)
rmmod twtrace
floor_attached=$(insmod $FLOOR &&
	awk '{ print $2 }' /sys/module/twtrace_floor/parameters/probes)
rmmod twtrace_floor

conns_of() {
	case $1 in
	plain) echo "$N_PLAIN" ;;
	reuse) echo "$N_REUSE" ;;
	overflow) echo "$N_OVERFLOW" ;;
	esac
}

storm() {
	$STORM storm -v "$1" -n "$(conns_of "$1")" -w "$cpus" -p "$PORTS" \
		-W "$WARMUP" -m "$MAX_TW" -b "$self start $T/s0" \
		-a "$self snap $T/s1"
}

runs=$T/runs.json
: >"$runs"
nrun=0

# One run of variant $1 in configuration $2, round $3.
run_one() {
	v=$1 cfg=$2 rep=$3
	rpid=
	rm -f $T/s0 $T/s1 $T/st $T/sr $T/s2 $T/rerr $T/storm.json $T/reader.pid \
		$T/no_records
	# no_records: probes, table, counters; recording off all along.
	[ "$cfg" = no_records ] && : >$T/no_records
	case $cfg in
	floor) insmod $FLOOR ;;
	baseline) ;;
	*)
		insmod $KO
		echo 0 >$D/enable
		;;
	esac
	case $cfg in
	reader_bin)
		twtrace stream -o - >/dev/null 2>$T/rerr &
		rpid=$!
		;;
	reader_json)
		twtrace stream -j >/dev/null 2>$T/rerr &
		rpid=$!
		;;
	drain_timer)
		$STORM drain $D 100 2>$T/rerr &
		rpid=$!
		;;
	esac
	if [ -n "$rpid" ]; then
		echo "$rpid" >$T/reader.pid
		sleep 0.5
	fi
	storm "$v" >$T/storm.json 2>$T/storm.err || say "storm failed: $(cat $T/storm.err)"
	# Until the namespace and its TIME_WAIT sockets are gone: the work
	# done meanwhile is mostly their deaths (netns_purge).
	teardown=$($STORM waitns -t 120)
	snap $T/st
	if [ -n "$rpid" ]; then
		# The reader drains what the purge produced, then stops.
		sleep 0.5
		snap $T/sr
		kill -INT "$rpid"
		wait "$rpid"
		rrc=$?
	else
		cp $T/st $T/sr
	fi
	rm -f $T/reader.pid
	snap $T/s2
	case $cfg in
	floor) rmmod twtrace_floor ;;
	baseline) ;;
	*) rmmod twtrace ;;
	esac

	[ -s $T/storm.json ] || echo '{}' >$T/storm.json
	rread=null rlost=null
	if [ -n "$rpid" ]; then
		# "twtrace: total N records read, S shown, L lost"
		r=$(awk '/ total / { print $3 " " $(NF - 1) }' $T/rerr)
		if [ -n "$r" ]; then
			rread=${r% *}
			rlost=${r#* }
		fi
	else
		rrc=null
	fi
	{
		[ $nrun -gt 0 ] && echo ","
		printf '{"variant":"%s","config":"%s","rep":%d,' "$v" "$cfg" "$rep"
		printf '"storm":%s,' "$(cat $T/storm.json)"
		run_json $T/s0 $T/s1 $T/st $T/sr $T/s2
		printf '"teardown_ns":%s,' "${teardown:-null}"
		printf '"reader_read":%s,"reader_lost":%s,"reader_rc":%s}' \
			"$rread" "$rlost" "$rrc"
	} >>"$runs"
	nrun=$((nrun + 1))
	say "$v $cfg $rep: $(awk -F'[:,]' '{ for (i = 1; i < NF; i++)
		if ($i == "\"conns\"") c = $(i + 1); else if ($i == "\"ns\"") t = $(i + 1) }
		END { if (t) printf "%d conns, %.0f conns/s", c, c / t * 1e9 }' $T/storm.json)"
}

start=$(date +%s)
# Warm-up: caches, page tables, the first namespace; not counted.
for v in $VARIANTS; do
	storm "$v" >/dev/null 2>&1
	$STORM waitns -t 120 >/dev/null
done

rep=1
while [ $rep -le "$REPS" ]; do
	for v in $VARIANTS; do
		for cfg in $CONFIGS; do
			run_one "$v" "$cfg" "$rep"
		done
	done
	rep=$((rep + 1))
done

# How fast the reader decodes a recording of the plain storm.
insmod $KO
$STORM rusage $T/ru twtrace stream -q -o $T/rec.twt >/dev/null 2>&1 &
rpid=$!
sleep 0.5
$STORM storm -v plain -n "$N_PLAIN" -w "$cpus" >/dev/null 2>&1
$STORM waitns -t 120 >/dev/null
sleep 0.5
kill -INT $rpid
wait $rpid
rmmod twtrace
rec_bytes=$(wc -c <$T/rec.twt)
rec_n=$(((rec_bytes - 40) / record_size))
$STORM rusage $T/ru_json twtrace stream -q -i $T/rec.twt -j >/dev/null 2>&1
$STORM rusage $T/ru_text twtrace stream -q -i $T/rec.twt >/dev/null 2>&1
cpu_of() {
	awk '{ print $1 + $2 }' "$1"
}

{
	echo "BENCH-JSON-BEGIN"
	printf '{"kernel":"%s","cpus":%d,"reps":%d,"clock":"%s",' "$(uname -r)" \
		"$cpus" "$REPS" "$CLOCK"
	printf '"params":{"configs":"%s","variants":"%s",' "$CONFIGS" "$VARIANTS"
	printf '"conns_per_worker":{"plain":%d,"reuse":%d,"overflow":%d},' \
		"$N_PLAIN" "$N_REUSE" "$N_OVERFLOW"
	printf '"reuse_ports":%d,"reuse_warmup_per_worker":%d,"overflow_max_tw":%d},' \
		"$PORTS" "$WARMUP" "$MAX_TW"
	printf '"module":{"ring_kb":%d,"record_size":%d,"max_tracked":%d,' \
		"$ring_kb" "$record_size" "$max_tracked"
	# The tracing ring buffer: ceil(size / 4080 bytes) data pages and a
	# reader page per CPU (kernel/trace/ring_buffer.c).
	printf '"ring_pages_per_cpu":%d,"floor_probes_attached":%s},' \
		$(((ring_kb * 1024 + 4079) / 4080 + 1)) "${floor_attached:-0}"
	printf '"decode":{"records":%d,"json_cpu_us":%d,"text_cpu_us":%d},' \
		"$rec_n" "$(cpu_of $T/ru_json)" "$(cpu_of $T/ru_text)"
	printf '"guest_seconds":%d,\n"runs":[\n' $(($(date +%s) - start))
	cat "$runs"
	printf '\n]}\n'
	echo "BENCH-JSON-END"
} >"$out"
exit 0
