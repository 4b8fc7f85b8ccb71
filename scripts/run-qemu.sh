#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a target kernel under QEMU (TCG: KVM does not work on our machines)
# with an initramfs, console on ttyS0 -> console.log, KTAP and the exit
# sentinel on ttyS1 -> ktap.log.  Returns QEMU's exit status (124 when the
# host timeout killed it).
#
# Usage: scripts/run-qemu.sh SERIES INITRAMFS OUTDIR [TIMEOUT_SECS [CMDLINE_EXTRA]]

set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${TWTRACE_CACHE:-$top/.cache}
series=$1
initrd=$2
outdir=$3
tmo=${4:-1200}
extra=${5:-}

kernel=$cache/kernels/$series/vmlinuz
[ -f "$kernel" ] || { echo "run-qemu: no kernel for $series" >&2; exit 2; }
mkdir -p "$outdir"
rm -f "$outdir/console.log" "$outdir/ktap.log"

# panic=-1: Debian's PANIC_TIMEOUT is 0, a panic would hang until timeout.
cmdline="console=ttyS0 panic=-1 panic_on_warn=1 oops=panic"
cmdline="$cmdline softlockup_panic=1 hung_task_panic=1 loglevel=6"
cmdline="$cmdline $extra"

timeout --foreground -k 10 "$tmo" \
	qemu-system-x86_64 -nodefaults -display none -no-reboot \
	-accel tcg,thread=single -cpu max -smp 2 -m 2G \
	-kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
	-serial "file:$outdir/console.log" -serial "file:$outdir/ktap.log" \
	-monitor none </dev/null
