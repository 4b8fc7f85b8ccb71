#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything twtrace needs on a Debian bookworm machine, as root,
# from Debian's packages only.  Idempotent: a second run does nothing but
# check.
#
# Host packages (build tools, qemu, busybox, linux-source-6.12, debootstrap)
# are installed with apt-get.  The target kernels are NOT installed into the
# host: for each target the newest linux-image (or, from 7.x,
# linux-binary-unsigned) and linux-headers packages of its series are
# resolved at run time, downloaded and unpacked into the cache:
#
#   $CACHE/kernels/<series>/release     the kernel release, e.g. 6.1.0-56-amd64
#   $CACHE/kernels/<series>/vmlinuz     the boot image
#   $CACHE/kernels/<series>/modules     the image's /lib/modules/<release>
#   $CACHE/kernels/<series>/build       the headers tree for M= builds
#   $CACHE/kernels/<series>/chroot      (trixie series) the root to build in
#   $CACHE/kernels/<series>/makeflags   (if any) what make needs for them
#   $CACHE/ksrc/                        the kselftest tree from linux-source
#
# Series (KERNELS): 5.10, 6.1, 6.12, 6.16 to 7.x, each also as <series>-rt.
#   5.10          bullseye (and its -updates, -security)
#   6.1, 6.12     bookworm, through the host's own apt
#   6.16 to 7.x   trixie and trixie-backports (and trixie-security); the
#                 archive's index holds only the newest (7.2, 7.3 today:
#                 6.18's packages left it)
# Suites other than bookworm are read with a private apt state directory
# per suite under $CACHE/apt/, on the mirrors the host's apt already uses:
# the host's apt configuration is never changed.
#
# trixie's headers need its gcc-14 and glibc >= 2.38, so the modules for
# those series are built inside a minimal trixie chroot
# ($CACHE/trixie-root, made once with debootstrap) that has the headers
# installed by its own apt.  scripts/kmake.sh runs make there.
#
# Usage: scripts/install-deps.sh [series ...]      (default: 6.1 6.12)

set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
series_list=${*:-6.1 6.12}

host_pkgs=(build-essential gcc-12 make bc flex bison kmod cpio gzip xz-utils
	   zstd perl python3 libelf-dev libssl-dev qemu-system-x86
	   busybox-static linux-source-6.12 sparse rsync dwarves jq
	   prometheus coccinelle shellcheck dkms python3-docutils clang-14
	   libclang-rt-14-dev debootstrap util-linux)

# What the trixie chroot needs besides the headers (which pull gcc-14).
chroot_pkgs=(make binutils libc6-dev sparse libelf1t64 kmod dkms)

keyring=/usr/share/keyrings/debian-archive-keyring.gpg

log() { printf 'install-deps: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (apt-get, dpkg, chroot)"

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

# The mirrors the host's apt already uses: the one serving bookworm and the
# one serving bookworm-security.  Nothing here names a host.
mirror_uri() {
	apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
		awk -v r="$1" '$2 == r { print $1; exit }'
}

# Which suite group a series comes from.
series_suite() {
	case ${1%-rt} in
	5.10) echo bullseye ;;
	6.1|6.12) echo bookworm ;;
	6.1[6-9]|7.[0-9]*) echo trixie ;;
	*) die "unknown kernel series '$1' (known: 5.10 6.1 6.12 6.16-6.19 7.x, each also -rt)" ;;
	esac
}

# apt options for a private state directory for SUITE (never the host's).
suite_opts() {
	local d=$cache/apt/$1

	printf '%s\n' -o "Dir::Etc::SourceList=$d/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null \
		-o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache" \
		-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
		-o APT::Sandbox::User=root
}

# The sources.list lines of a suite group, on the host's own mirrors.
suite_sources() {
	local suite=$1 main sec s

	main=$(mirror_uri bookworm)
	sec=$(mirror_uri bookworm-security)
	[ -n "$main" ] || die "the host's apt has no bookworm source to take a mirror from"
	for s in "$suite" "$suite-updates"; do
		echo "deb [signed-by=$keyring] $main $s main"
	done
	[ "$suite" = trixie ] && echo "deb [signed-by=$keyring] $main trixie-backports main"
	[ -n "$sec" ] && echo "deb [signed-by=$keyring] $sec $suite-security main"
	return 0
}

declare -A suite_ready=()
# Private apt lists of a suite group, updated once per run.
suite_update() {
	local suite=$1 d=$cache/apt/$1
	local -a opts

	[ -n "${suite_ready[$suite]:-}" ] && return
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
	suite_sources "$suite" >"$d/sources.list"
	mapfile -t opts < <(suite_opts "$suite")
	log "apt-get update ($suite, private state in $d)"
	apt-get "${opts[@]}" update -qq >/dev/null 2>"$d/update.log" ||
		{ cat "$d/update.log" >&2; die "apt-get update for $suite failed"; }
	suite_ready[$suite]=1
}

# apt-get / apt-cache for a series: the host's for bookworm, a private
# state for the others.
s_apt() {
	local suite=$1 tool=$2
	local -a opts

	shift 2
	if [ "$suite" = bookworm ]; then
		"$tool" -o APT::Sandbox::User=root "$@"
	else
		mapfile -t opts < <(suite_opts "$suite")
		"$tool" "${opts[@]}" "$@"
	fi
}

# Newest ABI of a series, from the archive's package names.
resolve_release() {
	local series=$1 suite ver flav pat

	suite=$(series_suite "$series")
	ver=${series%-rt}
	flav=amd64
	[ "$series" != "$ver" ] && flav=rt-amd64
	# 5.10.0-N / 6.1.0-N, or 6.12.N+debNN from 6.12 on.
	pat="^linux-headers-${ver//./\\.}(\\.0-[0-9]+|\\.[0-9]+\\+deb[0-9]+)-$flav\$"
	s_apt "$suite" apt-cache search --names-only "$pat" | awk '{print $1}' |
		sort -V | tail -n 1 | sed 's/^linux-headers-//'
}

# The packages holding the boot image and the modules:
# linux-image-*-unsigned up to 6.x; from 7.x linux-image-* is a
# metapackage, the image is in linux-binary-unsigned-* (as vmlinuz.unsigned)
# and the modules in linux-modules-*.
image_pkgs() {
	local suite=$1 rel=$2

	if s_apt "$suite" apt-cache show "linux-image-$rel-unsigned" \
		>/dev/null 2>&1; then
		echo "linux-image-$rel-unsigned"
	elif s_apt "$suite" apt-cache show "linux-binary-unsigned-$rel" \
		>/dev/null 2>&1; then
		echo "linux-binary-unsigned-$rel linux-modules-$rel"
	else
		die "no unsigned image package for $rel"
	fi
}

# The trixie chroot the trixie series build their modules in.
trixie_root() {
	local root=$cache/trixie-root main

	if [ ! -f "$root/.ready" ]; then
		main=$(mirror_uri bookworm)
		log "debootstrap trixie into $root (once, about 2 minutes)"
		rm -rf "$root"
		debootstrap --variant=minbase --keyring="$keyring" trixie \
			"$root" "$main" >"$cache/debootstrap.log" 2>&1 ||
			{ tail -n 20 "$cache/debootstrap.log" >&2; die "debootstrap failed"; }
		suite_sources trixie >"$root/etc/apt/sources.list"
		rm -f "$root"/etc/apt/sources.list.d/*
		touch "$root/.ready"
	fi
	echo "$root"
}

# apt-get inside the chroot, /proc mounted in a private mount namespace.
chroot_apt() {
	local root=$1

	shift
	unshare -m --propagation private bash -c '
		root=$1; shift
		mount -t proc proc "$root/proc"
		DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get "$@"' \
		_ "$root" "$@"
}

# The chroot's own tools (chroot_pkgs), installed if any is missing.
chroot_ensure() {
	local root=$1 p missing=()

	for p in "${chroot_pkgs[@]}"; do
		chroot "$root" dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return
	log "installing ${missing[*]} into the trixie chroot"
	chroot_apt "$root" update -qq >/dev/null ||
		die "apt-get update in the chroot failed"
	chroot_apt "$root" install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} in the chroot failed"
	chroot_apt "$root" clean
}

fetch_kernel() {
	local series=$1 suite rel kdir tmp common kbuild deps deb img root mods

	suite=$(series_suite "$series")
	[ "$suite" = bookworm ] || suite_update "$suite"
	kdir=$cache/kernels/$series
	rel=$(resolve_release "$series")
	if [ -z "$rel" ] && [ "$suite" = bookworm ]; then
		apt_update
		rel=$(resolve_release "$series")
	fi
	[ -n "$rel" ] || die "no linux-headers package of series $series in $suite's index (the archive no longer lists it)"

	[ "$suite" = trixie ] && chroot_ensure "$(trixie_root)"
	if [ -f "$kdir/release" ] && [ "$(cat "$kdir/release")" = "$rel" ] &&
	   [ -f "$kdir/vmlinuz" ] && [ -f "$kdir/build/Makefile" ] &&
	   [ -d "$kdir/modules/kernel" ]; then
		log "$series: $rel already in cache"
		return
	fi

	[ "$suite" = bookworm ] && apt_update
	img=$(image_pkgs "$suite" "$rel")
	rm -rf "$kdir"
	tmp=$kdir.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp/debs" "$tmp/root"
	if [ "$suite" = trixie ]; then
		# The headers live in the chroot, installed by its own apt
		# with everything they depend on (gcc-14 among them).
		root=$(trixie_root)
		log "$series: $rel: headers into the trixie chroot"
		chroot_apt "$root" update -qq >/dev/null ||
			die "apt-get update in the chroot failed"
		chroot_apt "$root" install -y -qq --no-install-recommends \
			"linux-headers-$rel" "${chroot_pkgs[@]}" >/dev/null ||
			die "apt-get install linux-headers-$rel in the chroot failed"
		chroot_apt "$root" clean
		log "$series: fetching $img"
		# shellcheck disable=SC2086 # one or two packages
		(cd "$tmp/debs" && s_apt "$suite" apt-get download -qq $img \
			>/dev/null) || die "apt-get download $img failed"
	else
		# The -common headers and the kbuild package are whatever the
		# headers package depends on.
		deps=$(s_apt "$suite" apt-cache show "linux-headers-$rel" |
		       sed -n 's/^Depends: //p' | head -n 1 | tr ',' '\n' |
		       awk '{print $1}')
		common=$(echo "$deps" | grep '^linux-headers-.*-common' || true)
		kbuild=$(echo "$deps" | grep '^linux-kbuild-' || true)
		[ -n "$common" ] && [ -n "$kbuild" ] ||
			die "cannot resolve dependencies of linux-headers-$rel"
		log "$series: fetching $rel ($img, $common, $kbuild)"
		# shellcheck disable=SC2086 # $common may be two packages (rt)
		(cd "$tmp/debs" && s_apt "$suite" apt-get download -qq $img \
			"linux-headers-$rel" $common "$kbuild" >/dev/null) ||
			die "apt-get download for $rel failed"
	fi
	for deb in "$tmp"/debs/*.deb; do
		dpkg-deb -x "$deb" "$tmp/root"
	done
	rm -rf "$tmp/debs"
	mods=
	for d in lib/modules usr/lib/modules; do
		[ -d "$tmp/root/$d/$rel" ] && mods=$d/$rel
	done
	[ -n "$mods" ] || die "no modules directory in $img"
	if [ -f "$tmp/root/boot/vmlinuz-$rel" ]; then
		ln -sfn "root/boot/vmlinuz-$rel" "$tmp/vmlinuz"
	elif [ -f "$tmp/root/$mods/vmlinuz" ]; then
		ln -sfn "root/$mods/vmlinuz" "$tmp/vmlinuz"
	elif [ -f "$tmp/root/$mods/vmlinuz.unsigned" ]; then
		ln -sfn "root/$mods/vmlinuz.unsigned" "$tmp/vmlinuz"
	else
		die "no vmlinuz in $img"
	fi
	ln -sfn "root/$mods" "$tmp/modules"
	if [ "$suite" = trixie ]; then
		[ -f "$root/usr/src/linux-headers-$rel/Makefile" ] ||
			die "no headers tree for $rel in the chroot"
		ln -sfn "$root/usr/src/linux-headers-$rel" "$tmp/build"
		echo "$root" >"$tmp/chroot"
	else
		[ -f "$tmp/root/usr/src/linux-headers-$rel/Makefile" ] ||
			die "no headers tree for $rel"
		# The flavour Makefile includes the -common tree by absolute
		# path.
		sed -i "s|/usr/src/|$kdir/root/usr/src/|g" \
			"$tmp/root/usr/src/linux-headers-$rel/Makefile"
		ln -sfn "root/usr/src/linux-headers-$rel" "$tmp/build"
	fi
	# bullseye's headers name gcc-10; bookworm's gcc-12 builds for them.
	[ "$suite" = bullseye ] && echo "CC=gcc" >"$tmp/makeflags"
	echo "$rel" >"$tmp/release"
	mv "$tmp" "$kdir"
}

# The whole linux-source-6.12 tree, unpacked once: the kselftest harness
# and runner, checkpatch.pl, the Coccinelle scripts and get_abi.pl.
# Nothing of it is committed.  $CACHE/ksrc names it.
unpack_source() {
	local tarball src

	tarball=$(ls /usr/src/linux-source-6.12.tar.* 2>/dev/null | head -n 1 ||
		  true)
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

# Only when sourced for its helpers (scripts/build-debug-kernel.sh) stop here.
[ "${TWTRACE_DEPS_LIB:-}" = 1 ] && return 0

mkdir -p "$cache"
# One install at a time (make -j builds for several kernels): they share
# the apt states and the trixie chroot.
exec 9>"$cache/.install-deps.lock"
flock 9
install_host_pkgs
for s in $series_list; do
	fetch_kernel "$s"
done
unpack_source
log "ok: $(for s in $series_list; do printf '%s=%s ' "$s" "$(cat "$cache/kernels/$s/release")"; done)"
