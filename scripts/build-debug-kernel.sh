#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build a twtrace debug kernel from Debian's linux-source-<version>: x86_64
# tinyconfig plus scripts/debug-kernel.config (KASAN, lockdep, kmemleak,
# UBSAN, KFENCE, ...).  The source is unpacked once into the git-ignored
# cache and built out of tree with the host's compiler; the result is laid
# out like the Debian kernels so the rest of the scripts treat it as one
# more target:
#
#   $CACHE/kernels/<series>/{release,vmlinuz,build}
#
# Series:  debug       linux-source-7.3, from trixie-backports (the newest
#                      kernel we test), fetched with the private apt state
#                      of scripts/install-deps.sh
#          debug-6.12  linux-source-6.12, bookworm's, installed on the host
#
# About 20-30 minutes on 2 cores the first time; nothing when the config
# fragment and the source are unchanged.
#
# Usage: scripts/build-debug-kernel.sh [debug|debug-6.12]

set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
frag=$top/scripts/debug-kernel.config
series=${1:-debug}
jobs=${JOBS:-$(nproc)}

log() { printf 'build-debug-kernel: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

case $series in
debug) ver=7.3 ;;
debug-6.12) ver=6.12 ;;
*) die "unknown debug kernel '$series' (known: debug debug-6.12)" ;;
esac

# The source tarball: bookworm's is a host package, trixie-backports' is
# downloaded with install-deps.sh's private apt state and unpacked from
# its .deb into the cache (nothing is installed on the host).
if [ "$ver" = 6.12 ]; then
	[ -f "$cache/linux-source-6.12/.unpacked" ] ||
		bash "$top/scripts/install-deps.sh" 6.12
	tarball=$(ls /usr/src/linux-source-6.12.tar.* 2>/dev/null | head -n 1 || true)
	[ -n "$tarball" ] || die "linux-source-6.12 is not installed (make deps)"
	src=$cache/linux-source-6.12
	stamp_src="$(basename "$tarball") $(stat -c %Y "$tarball")"
else
	deb=$(ls "$cache/src/linux-source-${ver}_"*.deb 2>/dev/null | tail -n 1 ||
	      true)
	if [ -z "$deb" ]; then
		# shellcheck source=scripts/install-deps.sh
		TWTRACE_DEPS_LIB=1 . "$top/scripts/install-deps.sh"
		mkdir -p "$cache/src"
		suite_update trixie
		log "fetching linux-source-$ver"
		(cd "$cache/src" && s_apt trixie apt-get download -qq \
			"linux-source-$ver" >/dev/null) ||
			die "apt-get download linux-source-$ver failed"
		deb=$(ls "$cache/src/linux-source-${ver}_"*.deb | tail -n 1)
	fi
	src=$cache/linux-source-$ver
	stamp_src=$(basename "$deb")
	if [ ! -f "$src/.unpacked" ] ||
	   [ "$(cat "$src/.unpacked")" != "$stamp_src" ]; then
		log "unpacking $(basename "$deb")"
		rm -rf "$src" "$cache/src/deb-$ver"
		mkdir -p "$cache/src/deb-$ver"
		dpkg-deb -x "$deb" "$cache/src/deb-$ver"
		tar -xf "$cache/src/deb-$ver/usr/src/linux-source-$ver.tar.xz" \
			-C "$cache"
		rm -rf "$cache/src/deb-$ver"
		echo "$stamp_src" >"$src/.unpacked"
	fi
fi

obj=$cache/$series-build
kdir=$cache/kernels/$series
stamp="$(sha256sum "$frag" | cut -c1-16) $stamp_src"
if [ -f "$kdir/stamp" ] && [ "$(cat "$kdir/stamp")" = "$stamp" ] &&
   [ -f "$kdir/vmlinuz" ] && [ -f "$obj/Module.symvers" ]; then
	log "up to date: $(cat "$kdir/release")"
	exit 0
fi

mkdir -p "$obj"
log "configuring $ver (tinyconfig + $(basename "$frag"))"
make -s -C "$src" O="$obj" ARCH=x86_64 tinyconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$frag" \
	>/dev/null
echo 'CONFIG_LOCALVERSION="-twtrace-debug"' >>"$obj/.config"
make -s -C "$src" O="$obj" ARCH=x86_64 olddefconfig >/dev/null

# Every option the fragment asks for must have survived olddefconfig
# (KASAN, for one, silently drops out when a dependency is missing).
untaken=0
while IFS= read -r line; do
	case $line in
	CONFIG_*=n) opt=${line%=n}
		grep -q "^$opt=" "$obj/.config" && { log "$opt is set, wanted off"; untaken=1; } ;;
	CONFIG_*) grep -qx "$line" "$obj/.config" || { log "$line did not take"; untaken=1; } ;;
	esac
done <"$frag"
[ "$untaken" = 0 ] || die "the debug config is incomplete"

log "building $ver with $jobs jobs (logs: $obj/build.log)"
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
