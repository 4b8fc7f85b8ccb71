#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a target kernel in QEMU with twtrace loaded, drive real TIME_WAIT
# traffic and print what the reader shows.
#
# Usage: scripts/demo.sh SERIES

set -uo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
series=${1:-6.12}
out=$build/demo/$series

mkdir -p "$out"
bash "$top/scripts/mkinitramfs.sh" "$series" "$out/initramfs.cpio.gz" demo || exit 1
echo "booting $(kernel_release "$series") in QEMU (TCG)..." >&2
qemu_boot "$series" "$out/initramfs.cpio.gz" "$out" 300
qrc=$?
tr -d '\r' <"$out/ktap.log" | grep -v '^twtrace-exit=\|^# tainted='
if [ "$(exit_sentinel "$out/ktap.log")" != 0 ]; then
	echo "demo failed (QEMU status $qrc); console log: $out/console.log" >&2
	exit 1
fi
