#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything twtrace needs on a Debian bookworm machine, as root,
# from Debian's packages only.  Idempotent: a second run does nothing but
# check.
#
# Host packages (build tools, qemu, busybox, linux-source-6.12) are installed
# with apt-get.  The target kernels are NOT installed into the host: for each
# target the newest linux-image/linux-headers/linux-kbuild packages are
# resolved at run time, downloaded and unpacked into the cache:
#
#   $CACHE/kernels/<series>/release     the kernel release, e.g. 6.1.0-56-amd64
#   $CACHE/kernels/<series>/vmlinuz     the boot image
#   $CACHE/kernels/<series>/build       the headers tree for M= builds
#   $CACHE/ksft/                        the kselftest tree from linux-source
#
# Usage: scripts/install-deps.sh [series ...]      (default: 6.1 6.12)

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${TWTRACE_CACHE:-$top/.cache}
series_list=${*:-6.1 6.12}

host_pkgs=(build-essential gcc-12 make bc flex bison kmod cpio gzip xz-utils
	   zstd perl python3 libelf-dev libssl-dev qemu-system-x86
	   busybox-static linux-source-6.12 sparse rsync dwarves jq
	   prometheus coccinelle shellcheck dkms python3-docutils clang-14
	   libclang-rt-14-dev)

log() { printf 'install-deps: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (apt-get, dpkg)"

apt_updated=
apt_update() {
	[ -n "$apt_updated" ] && return
	log "apt-get update"
	apt-get update -qq >/dev/null || die "apt-get update failed"
	apt_updated=1
}

install_host_pkgs() {
	local missing=() p

	for p in "${host_pkgs[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return
	apt_update
	log "installing ${missing[*]}"
	# We want promtool from the prometheus package, not a running server:
	# policy-rc.d keeps apt from starting any service.
	local policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 0755 "$policy"
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
	if [ -n "$policy" ]; then
		rm -f "$policy"
		trap - EXIT
	fi
}

# Newest ABI of a series, from the archive's package names.
resolve_release() {
	local series=$1 pat

	case $series in
	6.1)  pat='^linux-headers-6\.1\.0-[0-9]+-amd64$' ;;
	6.12) pat='^linux-headers-6\.12\.[0-9]+\+deb12-amd64$' ;;
	*) die "unknown kernel series '$series' (known: 6.1 6.12)" ;;
	esac
	apt-cache search --names-only "$pat" | awk '{print $1}' |
		sort -V | tail -n 1 | sed 's/^linux-headers-//'
}

fetch_kernel() {
	local series=$1 rel kdir tmp common kbuild deps deb

	kdir=$cache/kernels/$series
	rel=$(resolve_release "$series")
	if [ -z "$rel" ]; then
		apt_update
		rel=$(resolve_release "$series")
	fi
	[ -n "$rel" ] || die "no linux-headers package found for $series"

	if [ -f "$kdir/release" ] && [ "$(cat "$kdir/release")" = "$rel" ] &&
	   [ -f "$kdir/vmlinuz" ] && [ -f "$kdir/build/Makefile" ]; then
		log "$series: $rel already in cache"
		return
	fi

	apt_update
	# The -common headers and the kbuild package are whatever the
	# headers package depends on.
	deps=$(apt-cache show "linux-headers-$rel" | sed -n 's/^Depends: //p' |
	       head -n 1 | tr ',' '\n' | awk '{print $1}')
	common=$(echo "$deps" | grep '^linux-headers-.*-common$' || true)
	kbuild=$(echo "$deps" | grep '^linux-kbuild-' || true)
	[ -n "$common" ] && [ -n "$kbuild" ] ||
		die "cannot resolve dependencies of linux-headers-$rel"
	log "$series: fetching $rel ($common, $kbuild)"

	rm -rf "$kdir"
	tmp=$kdir.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp/debs" "$tmp/root"
	(cd "$tmp/debs" &&
	 apt-get download -qq -o APT::Sandbox::User=root "linux-image-$rel-unsigned" \
		"linux-headers-$rel" "$common" "$kbuild" >/dev/null) ||
		die "apt-get download for $rel failed"
	for deb in "$tmp"/debs/*.deb; do
		dpkg-deb -x "$deb" "$tmp/root"
	done
	rm -rf "$tmp/debs"
	[ -f "$tmp/root/boot/vmlinuz-$rel" ] || die "no vmlinuz in image package"
	[ -f "$tmp/root/usr/src/linux-headers-$rel/Makefile" ] ||
		die "no headers tree for $rel"
	# The flavour Makefile includes the -common tree by absolute path.
	sed -i "s|/usr/src/|$kdir/root/usr/src/|g" \
		"$tmp/root/usr/src/linux-headers-$rel/Makefile"
	mv "$tmp" "$kdir"
	ln -sfn "root/boot/vmlinuz-$rel" "$kdir/vmlinuz"
	ln -sfn "root/usr/src/linux-headers-$rel" "$kdir/build"
	echo "$rel" >"$kdir/release"
}

# The whole linux-source-6.12 tree, unpacked once: the kselftest harness
# and runner, checkpatch.pl, the Coccinelle scripts, get_abi.pl and the
# debug kernel's source.  Nothing of it is committed.  $CACHE/ksrc names it.
unpack_source() {
	local tarball src

	tarball=$(ls /usr/src/linux-source-6.12.tar.* 2>/dev/null | head -n 1)
	[ -n "$tarball" ] || die "linux-source-6.12 tarball not found in /usr/src"
	src=$cache/linux-source-6.12
	if [ ! -f "$src/.unpacked" ] ||
	   [ "$(cat "$src/.unpacked")" != "$(basename "$tarball")" ]; then
		log "unpacking $tarball"
		rm -rf "$src"
		tar -xf "$tarball" -C "$cache"
		[ -f "$src/tools/testing/selftests/kselftest_harness.h" ] ||
			die "no kselftest harness in $tarball"
		basename "$tarball" >"$src/.unpacked"
	fi
	[ -L "$cache/ksrc" ] || rm -rf "$cache/ksrc"
	ln -sfn linux-source-6.12 "$cache/ksrc"
}

install_host_pkgs
mkdir -p "$cache"
for s in $series_list; do
	fetch_kernel "$s"
done
unpack_source
log "ok: $(for s in $series_list; do printf '%s=%s ' "$s" "$(cat "$cache/kernels/$s/release")"; done)"
