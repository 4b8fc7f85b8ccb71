#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The demo, run inside the guest by /init in demo mode: real TIME_WAIT
# traffic on loopback, and what twtrace and the kernel say about it.

out=/dev/ttyS1
exec >"$out" 2>&1

run() {
	echo "guest# $*"
	"$@"
	echo
}

echo "=== twtrace demo on $(uname -r) ==="
echo
run twtrace --version
run cat /sys/kernel/debug/twtrace/version
run twtrace stat
run /opt/ksft/twtrace/tw_workload client-close 25
sleep 1
run twtrace stat
echo "The kernel's own figures for the same traffic:"
run grep TCP: /proc/net/sockstat
echo "guest# TcpExt TW / TWKilled"
awk '/^TcpExt:/ { if (++n == 1) { for (i = 2; i <= NF; i++) h[i] = $i; next }
	for (i = 2; i <= NF; i++)
		if (h[i] == "TW" || h[i] == "TWKilled") print h[i], $i }' /proc/net/netstat
echo
echo "What the reader says when the module is gone:"
rmmod twtrace
run twtrace stat
insmod /opt/twtrace/twtrace.ko
exit 0
