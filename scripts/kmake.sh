#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make against a target kernel's headers, where that tree can be used:
#
#   - on the host, with the make flags the series needs (bullseye's 5.10
#     headers name gcc-10, which bookworm does not have: CC=gcc);
#   - inside the trixie chroot for the trixie series (their headers' tools
#     need trixie's gcc-14 and glibc), in a private mount namespace with
#     /proc mounted (objtool) and this tree and the build directory bound
#     at their own paths, so that M= and every other path mean the same
#     inside and out.
#
# Usage: scripts/kmake.sh SERIES [make arguments...]
#        scripts/kmake.sh --exec SERIES COMMAND [arguments...]
#   --exec runs COMMAND in the same environment, with KDIR (the headers as
#   seen there) and KMAKEFLAGS (the series' make flags) exported, the
#   latter also in MAKEFLAGS for every make COMMAND runs.

set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mode="make"
if [ "${1:-}" = --exec ]; then
	mode="exec"
	shift
fi
[ $# -ge 1 ] || { echo "usage: kmake.sh [--exec] SERIES ..." >&2; exit 2; }
series=$1
shift
kdir=$cache/kernels/$series
[ -f "$kdir/release" ] || { echo "kmake: no kernel $series in $cache (make deps)" >&2; exit 2; }

KMAKEFLAGS=
[ -f "$kdir/makeflags" ] && KMAKEFLAGS=$(cat "$kdir/makeflags")
export KMAKEFLAGS
# Every make that COMMAND runs (dkms's, make install's) gets them too.
if [ $mode = exec ] && [ -n "$KMAKEFLAGS" ]; then
	export MAKEFLAGS="$KMAKEFLAGS${MAKEFLAGS:+ $MAKEFLAGS}"
fi

if [ ! -f "$kdir/chroot" ]; then
	KDIR=$(cd "$kdir/build" && pwd -P)
	export KDIR
	if [ $mode = exec ]; then
		exec "$@"
	fi
	# shellcheck disable=SC2086 # flags are words
	exec make -C "$KDIR" $KMAKEFLAGS "$@"
fi

root=$(cat "$kdir/chroot")
KDIR=/usr/src/linux-headers-$(cat "$kdir/release")
export KDIR
mkdir -p "$build"
# shellcheck disable=SC2016 # expanded by the inner shell
exec unshare -m --propagation private bash -c '
	root=$1 mode=$2 top=$3 build=$4
	shift 4
	mount -t proc proc "$root/proc"
	for d in "$top" "$build"; do
		mkdir -p "$root$d"
		mount --bind "$d" "$root$d"
	done
	if [ "$mode" = exec ]; then
		exec chroot "$root" "$@"
	fi
	# shellcheck disable=SC2086
	exec chroot "$root" make -C "$KDIR" $KMAKEFLAGS "$@"' \
	_ "$root" "$mode" "$top" "$(cd "$build" && pwd -P)" "$@"
