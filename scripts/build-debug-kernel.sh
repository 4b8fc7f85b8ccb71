#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the twtrace debug kernel from Debian's linux-source-6.12: x86_64
# tinyconfig plus scripts/debug-kernel.config (KASAN, lockdep, kmemleak,
# UBSAN, KFENCE, ...).  The source is unpacked once into the git-ignored
# cache and built out of tree; the result is laid out like the Debian
# kernels so the rest of the scripts treat it as one more target:
#
#   $CACHE/kernels/debug/{release,vmlinuz,build}
#
# About 15-25 minutes on 2 cores the first time; nothing when the config
# fragment and the source are unchanged.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${TWTRACE_CACHE:-$top/.cache}
frag=$top/scripts/debug-kernel.config
tarball=$(ls /usr/src/linux-source-6.12.tar.* 2>/dev/null | head -n 1)
src=$cache/linux-source-6.12
obj=$cache/debug-build
kdir=$cache/kernels/debug
jobs=${JOBS:-$(nproc)}

log() { printf 'build-debug-kernel: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ -n "$tarball" ] || die "linux-source-6.12 is not installed (make deps)"

stamp="$(sha256sum "$frag" | cut -c1-16) $(basename "$tarball") $(stat -c %Y "$tarball")"
if [ -f "$kdir/stamp" ] && [ "$(cat "$kdir/stamp")" = "$stamp" ] &&
   [ -f "$kdir/vmlinuz" ] && [ -f "$obj/Module.symvers" ]; then
	log "up to date: $(cat "$kdir/release")"
	exit 0
fi

[ -f "$src/.unpacked" ] || bash "$top/scripts/install-deps.sh" 6.12
mkdir -p "$obj"
log "configuring (tinyconfig + $(basename "$frag"))"
make -s -C "$src" O="$obj" ARCH=x86_64 tinyconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$frag" \
	>/dev/null
echo 'CONFIG_LOCALVERSION="-twtrace-debug"' >>"$obj/.config"
make -s -C "$src" O="$obj" ARCH=x86_64 olddefconfig >/dev/null

# Every option the fragment asks for must have survived olddefconfig
# (KASAN, for one, silently drops out when a dependency is missing).
missing=0
while IFS= read -r line; do
	case $line in
	CONFIG_*=n) opt=${line%=n}
		grep -q "^$opt=" "$obj/.config" && { log "$opt is set, wanted off"; missing=1; } ;;
	CONFIG_*) grep -qx "$line" "$obj/.config" || { log "$line did not take"; missing=1; } ;;
	esac
done <"$frag"
[ "$missing" = 0 ] || die "the debug config is incomplete"

log "building with $jobs jobs (logs: $obj/build.log)"
if ! make -C "$src" O="$obj" ARCH=x86_64 -j"$jobs" bzImage modules \
	>"$obj/build.log" 2>&1; then
	tail -n 30 "$obj/build.log" >&2
	die "kernel build failed"
fi

mkdir -p "$kdir"
ln -sfn "$obj/arch/x86/boot/bzImage" "$kdir/vmlinuz"
ln -sfn "$obj" "$kdir/build"
make -s -C "$src" O="$obj" ARCH=x86_64 kernelrelease >"$kdir/release"
echo "$stamp" >"$kdir/stamp"
log "built $(cat "$kdir/release")"
