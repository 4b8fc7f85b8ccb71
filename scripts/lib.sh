# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# What the host scripts share, sourced by them (never run):
#
#   # shellcheck source-path=SCRIPTDIR source=lib.sh
#   . "$(dirname "$0")/lib.sh"
#
#   top, cache, build     the tree, the git-ignored cache (TWTRACE_CACHE)
#                         and the build output (TWTRACE_BUILD)
#   kernel_dir SERIES     a target kernel's files in the cache
#   kernel_release SERIES its release, e.g. 7.3.4+deb13-amd64
#   module_files          the files an out-of-tree build of the module needs
#   qemu_boot             boot a target kernel in QEMU (TCG)
#   splat_re              a kernel splat on the console, as an ERE
#   exit_sentinel FILE    the guest's exit status, from its KTAP log
#   pack_cpio DIR         DIR as a gzipped newc cpio archive, on stdout

# shellcheck disable=SC2034 # the sourcing scripts use them
{
	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	cache=${TWTRACE_CACHE:-$top/.cache}
	build=${TWTRACE_BUILD:-$top/build}
}

kernel_dir() {
	echo "$cache/kernels/$1"
}

kernel_release() {
	cat "$cache/kernels/$1/release"
}

# Relative to the top: Kbuild, the sources of the objects its twtrace-y
# lines name (Kbuild is the one list of the module's sources), and the
# headers they include.
module_files() {
	(
		cd "$top" || exit 1
		srcs=$(sed -e ':a' -e '/\\$/{N;s/\\\n/ /;ba' -e '}' Kbuild |
			sed -n 's/^twtrace-y[[:space:]]*[:+]\{0,1\}=//p' |
			tr -s ' \t' '\n\n' | sed -n 's/\.o$/.c/p')
		[ -n "$srcs" ] || { echo "module_files: no twtrace-y objects in Kbuild" >&2; exit 1; }
		echo Kbuild
		echo "$srcs"
		ls module/*.h include/uapi/linux/*.h
	)
}

# The kernel command line of every boot.  panic=-1: Debian's
# PANIC_TIMEOUT is 0, a panic would hang until the timeout.
qemu_append="console=ttyS0 panic=-1 panic_on_warn=1 oops=panic"
qemu_append="$qemu_append softlockup_panic=1 hung_task_panic=1 loglevel=6"

# qemu_boot [--icount] SERIES INITRD OUTDIR TIMEOUT [CMDLINE_EXTRA]
#
# Boot SERIES under QEMU (TCG: KVM does not work on our machines) with
# INITRD, console on ttyS0 -> OUTDIR/console.log, KTAP and the exit
# sentinel on ttyS1 -> OUTDIR/ktap.log, both made afresh.  Returns QEMU's
# status (124 when the host timeout killed it).
#
# --icount: QEMU's instruction counter as the guest's clock (-icount
# shift=0: one nanosecond per guest instruction; the benchmark).  icount
# needs single-threaded TCG anyway.  sleep=off: an idle guest jumps to its
# next timer, so its sleeps cost no host time.  maxcpus=1: 6.1's boot-time
# bring-up of the second CPU hangs under icount (QEMU 7.2), its hotplug
# does not: the guest brings it online.  -cx16: under icount, QEMU 7.2 now
# and then corrupts EFLAGS around SLUB's cmpxchg16b and the guest dies of
# a double fault (seen on both kernels, with and without twtrace loaded);
# without the instruction SLUB takes its locked path.
qemu_boot() {
	local icount=() cpu=max append_icount='' kernel

	if [ "$1" = --icount ]; then
		icount=(-icount 'shift=0,sleep=off')
		cpu=max,-cx16
		append_icount=" maxcpus=1"
		shift
	fi
	local series=$1 initrd=$2 outdir=$3 tmo=$4 extra=${5:-}

	kernel=$cache/kernels/$series/vmlinuz
	[ -f "$kernel" ] || { echo "qemu_boot: no kernel for $series" >&2; return 2; }
	mkdir -p "$outdir"
	rm -f "$outdir/console.log" "$outdir/ktap.log"
	timeout --foreground -k 10 "$tmo" \
		qemu-system-x86_64 -nodefaults -display none -no-reboot \
		-accel tcg,thread=single "${icount[@]}" \
		-cpu "$cpu" -smp 2 -m 2G \
		-kernel "$kernel" -initrd "$initrd" \
		-append "$qemu_append $extra$append_icount" \
		-serial "file:$outdir/console.log" -serial "file:$outdir/ktap.log" \
		-monitor none </dev/null
}

# Kernel splats (the patterns of the kernel's and BPF CI's checkers).
splat_re='(^|\] )(BUG:|WARNING:|Oops|UBSAN:|BUG: KASAN|kernel BUG at|'
splat_re+='general protection fault|Kernel panic|watchdog: .*(soft lockup|hard LOCKUP)|'
splat_re+='INFO: task .* blocked for more than|INFO: rcu.*detected stall|'
splat_re+='WARNING: .*lock|possible circular locking|possible recursive locking|'
splat_re+='inconsistent lock state|'
splat_re+='BUG: sleeping function called from invalid context|Call Trace:)'

# The status the guest's /init reported on ttyS1 with its last line,
# "twtrace-exit=<rc>", the last one if several; nothing if none (the guest
# crashed or hung).
exit_sentinel() {
	tr -d '\r' <"$1" | sed -n 's/^twtrace-exit=\([0-9]*\)$/\1/p' | tail -n 1
}

# The initramfs format: the kernel unpacks concatenated archives one after
# the other, so a second one can be appended to the first.
pack_cpio() {
	(cd "$1" && find . | cpio -o -H newc --quiet -R 0:0) | gzip -1
}
