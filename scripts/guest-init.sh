#!/bin/busybox sh
# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
#
# /init of the twtrace initramfs (scripts/mkinitramfs.sh), what every mode
# shares: mount what a system needs, load twtrace, run the mode's script
# (/opt/twtrace/guest.sh: scripts/guest-test.sh, demo-guest.sh or
# bench-guest.sh) and report its exit status.
#
# Console (kernel log and our progress) is ttyS0.  The mode's output (the
# KTAP of the kselftest runner), the taint and the final
# "twtrace-exit=<rc>" sentinel go to ttyS1, which the host reads for the
# verdict.  Whatever happens, end with reboot -f (QEMU runs with
# -no-reboot, so that stops the VM).

/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug
# cgroup v2 where a system has it (the owners test makes cgroups there).
# Only a kernel without cgroups lacks it; the test then skips its cgroups.
if grep -qw cgroup2 /proc/filesystems; then
	mount -t cgroup2 cgroup2 /sys/fs/cgroup ||
		echo "twtrace guest: mounting cgroup2 on /sys/fs/cgroup failed"
fi
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

finish() {
	echo "# tainted=$(cat /proc/sys/kernel/tainted)" >"$ktap"
	echo "twtrace-exit=$1" >"$ktap"
	sync
	reboot -f
	sleep 60
}

echo "twtrace guest: kernel $kernel ($(uname -r)), mode $mode"
if ! insmod /opt/twtrace/twtrace.ko; then
	echo "TAP version 13" >"$ktap"
	echo "1..1" >"$ktap"
	echo "not ok 1 twtrace: insmod twtrace.ko failed" >"$ktap"
	finish 1
fi

/opt/twtrace/guest.sh
finish $?
