#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The demo, run inside the guest by /init in demo mode (installed as
# /opt/twtrace/guest.sh): real TIME_WAIT traffic on loopback, what twtrace
# shows of it live (stream) and after (stat, hist, ls, probes), and what
# the kernel itself says.  Exits non-zero if any step that should work did
# not.

out=/dev/ttyS1
exec >"$out" 2>&1

wl=/opt/ksft/twtrace/tw_workload
rc=0

run() {
	echo "guest# $*"
	"$@" || { s=$?; echo "(exit status $s)"; rc=1; }
	echo
}

# A step that must fail: its exit status is shown, not held against us.
run_fails() {
	echo "guest# $*"
	"$@" && rc=1
	echo "(exit status $?)"
	echo
}

echo "=== twtrace demo on $(uname -r) ==="
echo
run twtrace --version
run cat /sys/kernel/debug/twtrace/version

echo "--- twtrace stream runs in the background while a workload takes every"
echo "--- path: births, the FIN_WAIT2 -> TIME_WAIT rearm, expiry, reuse refused"
echo "--- and allowed, an RST, tcp_max_tw_buckets overflows."
echo
echo "guest# twtrace stream -t > /tmp/stream.txt &"
twtrace stream -t >/tmp/stream.txt 2>&1 &
stream=$!
sleep 1
run $wl client-close 3
run $wl expire
run $wl reuse
run $wl rst
run $wl overflow 2
sleep 1
echo "guest# kill %1; wait; cat /tmp/stream.txt"
kill "$stream"
wait "$stream" || { echo "(twtrace stream: exit status $?)"; rc=1; }
cat /tmp/stream.txt
echo

echo "--- Afterwards: the exact counters, the lifetimes, the sockets alive"
echo "--- and the kernel functions twtrace hooks."
echo
run twtrace stat
run twtrace hist
run twtrace ls
run twtrace probes

echo "--- The kernel's own figures for the same traffic:"
echo
run grep TCP: /proc/net/sockstat
echo "The TIME_WAIT counters of /proc/net/netstat:"
awk '/^TcpExt:/ { if (++n == 1) { for (i = 2; i <= NF; i++) h[i] = $i; next }
	for (i = 2; i <= NF; i++)
		if (h[i] ~ /^(TW|TWKilled|TWRecycled|TCPTimeWaitOverflow)$/)
			printf "TcpExt%-22s %s\n", h[i], $i }' /proc/net/netstat
echo
# twtrace's counters next to the kernel's.
tcpext() {
	awk -v k="$1" '/^TcpExt:/ { if (++n == 1) { for (i = 2; i <= NF; i++) h[i] = $i; next }
		for (i = 2; i <= NF; i++) if (h[i] == k) print $i }' /proc/net/netstat
}
twstat() {
	twtrace stat | awk -v k="$1" '$1 == k { print $2 }'
}
same() {
	if [ "$2" = "$3" ]; then
		printf "twtrace %-16s %4s  =  %s\n" "$1" "$2" "$4"
	else
		printf "twtrace %-16s %4s  !=  %s (%s)\n" "$1" "$2" "$4" "$3"
		rc=1
	fi
}
tw=$(tcpext TW) twk=$(tcpext TWKilled)
same births "$(twstat births)" $((tw + twk)) "TcpExtTW $tw + TcpExtTWKilled $twk"
v=$(tcpext TWRecycled)
same death_reused "$(twstat death_reused)" "$v" "TcpExtTWRecycled $v"
v=$(tcpext TCPTimeWaitOverflow)
same overflow_limit "$(twstat overflow_limit)" "$v" \
	"TcpExtTCPTimeWaitOverflow $v"
v=$(awk '/^TCP:/ { for (i = 2; i < NF; i++) if ($i == "tw") print $(i + 1) }' \
	/proc/net/sockstat)
same live "$(twstat live)" "$v" "sockstat tw $v"
echo

echo "--- What the reader says when the module is gone:"
echo
echo "guest# rmmod twtrace"
rmmod twtrace || rc=1
run_fails twtrace stat
insmod /opt/twtrace/twtrace.ko || rc=1
exit $rc
