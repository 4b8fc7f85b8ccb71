#!/bin/busybox sh
# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
#
# /init of the twtrace test initramfs.
#
# Console (kernel log and our progress) is ttyS0.  The KTAP output of the
# kselftest runner and the final "twtrace-exit=<rc>" sentinel go to ttyS1,
# which the host reads for the verdict.  Whatever happens, end with
# reboot -f (QEMU runs with -no-reboot, so that stops the VM).

/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug
mkdir -p /run/netns
# What udev would have made: the kselftest runner logs to /dev/stdout.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
ip link set lo up

# The kselftest runner wants GNU timeout's --foreground; busybox's timeout
# does not know it and needs nothing like it here.  (busybox --install
# made /usr/bin/timeout a link to busybox itself: replace, never write
# through it.)
rm -f /usr/bin/timeout
cat >/usr/bin/timeout <<'EOT'
#!/bin/sh
[ "$1" = --foreground ] && shift
exec /bin/busybox timeout "$@"
EOT
chmod 0755 /usr/bin/timeout

ktap=/dev/ttyS1
mode=$(cat /etc/twtrace-mode)
kernel=$(cat /etc/twtrace-kernel)
rc=1

finish() {
	echo "# tainted=$(cat /proc/sys/kernel/tainted)" >"$ktap"
	echo "twtrace-exit=$1" >"$ktap"
	sync
	reboot -f
	sleep 60
}

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

echo "twtrace guest: kernel $kernel ($(uname -r)), mode $mode"
if ! insmod /opt/twtrace/twtrace.ko; then
	echo "TAP version 13" >"$ktap"
	echo "1..1" >"$ktap"
	echo "not ok 1 twtrace: insmod twtrace.ko failed" >"$ktap"
	finish 1
fi

case $mode in
demo)
	/opt/twtrace/demo.sh
	rc=$?
	;;
*)
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
	;;
esac
finish $rc
