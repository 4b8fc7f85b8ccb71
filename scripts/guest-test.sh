#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The test mode, run inside the guest by /init (scripts/guest-init.sh) with
# twtrace loaded: the kselftest suite through the kernel's own runner, its
# KTAP on ttyS1; then the module must still unload cleanly, and on a
# kernel with kmemleak nothing of twtrace may leak.  Exits non-zero if
# anything failed.

ktap=/dev/ttyS1
rc=0

# On a kernel with kmemleak (the debug kernel): after the suite and the
# rmmod, scan twice (kmemleak reports an object only once it has stayed
# unreferenced over a scan) and report what is attributable to twtrace.
kmemleak_check() {
	k=/sys/kernel/debug/kmemleak
	[ -e $k ] || return 0
	echo scan >$k
	sleep 5
	echo scan >$k
	cat $k >/tmp/kmemleak.txt
	n=$(grep -c 'unreferenced object' /tmp/kmemleak.txt)
	t=$(awk '/^unreferenced object/ { if (hit) n++; hit = 0 }
		/twtrace/ { hit = 1 } END { if (hit) n++; print n + 0 }' \
		/tmp/kmemleak.txt)
	echo "# kmemleak: $n suspected leaks, $t attributable to twtrace" >"$ktap"
	if [ "$t" != 0 ]; then
		cat /tmp/kmemleak.txt
		rc=1
	fi
}

cd /opt/ksft && ./run_kselftest.sh >"$ktap" 2>&1
rc=$?
cd /
# The hooks since the module's last load, for the console log.
echo "twtrace guest: twtrace probes after the suite:"
/opt/twtrace/twtrace probes || true
# The module must still unload cleanly after the whole suite.
if [ -d /sys/module/twtrace ] && ! rmmod twtrace; then
	echo "twtrace guest: rmmod twtrace failed"
	rc=1
fi
kmemleak_check
exit $rc
