#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a target kernel under QEMU (TCG: KVM does not work on our machines)
# with an initramfs, console on ttyS0 -> console.log, KTAP and the exit
# sentinel on ttyS1 -> ktap.log.  Returns QEMU's exit status (124 when the
# host timeout killed it).  The command line is scripts/lib.sh's qemu_boot.
#
# Usage: scripts/run-qemu.sh SERIES INITRAMFS OUTDIR [TIMEOUT_SECS [CMDLINE_EXTRA]]

set -uo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

qemu_boot "$1" "$2" "$3" "${4:-1200}" "${5:-}"
