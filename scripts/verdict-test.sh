#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host test of scripts/verdict.sh, no VM: a fabricated clean run must pass,
# and each way a run can go wrong (a splat on the console, a missing exit
# sentinel, a taint, a timeout, a missing result...) must fail, closed.
#
# Prints a line per case and "N passed, N failed"; exit 0 only if all pass.
#
# Usage: scripts/verdict-test.sh [VERDICT_SCRIPT]

set -uo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
verdict=${1:-$top/scripts/verdict.sh}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/twtrace-verdict-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

# A clean run: two test programs, three cases (one skipped), the O taint.
good_ktap() {
	printf '%s\r\n' \
		'TAP version 13' \
		'1..2' \
		'# selftests: twtrace: basic' \
		'# TAP version 13' \
		'# 1..2' \
		'# ok 1 basic.load' \
		'# ok 2 basic.rt # SKIP not an RT kernel' \
		'ok 1 selftests: twtrace: basic' \
		'# selftests: twtrace: stress' \
		'# ok 1 stress.births' \
		'ok 2 selftests: twtrace: stress' \
		'# tainted=4096' \
		'twtrace-exit=0'
}

good_console() {
	printf '%s\n' \
		'[    0.000000] Linux version 7.3.4+deb13-amd64' \
		'[    2.100000] twtrace: loading out-of-tree module taints kernel.' \
		'twtrace guest: twtrace probes after the suite:'
}

# check NAME WANT_RC WANT_TEXT QEMU_RC: run the verdict on $tmp/NAME, whose
# console.log and ktap.log the caller made, and expect its exit status, a
# line matching WANT_TEXT (an ERE) in what it prints and, for a failure,
# at least one failure in OUT/counts (what scripts/test.sh adds up).
check() {
	local name=$1 want_rc=$2 want=$3 qrc=$4 out=$tmp/$1 rc f=0

	rm -f "$out/counts"
	bash "$verdict" "case $name" "$out" "$qrc" >"$out/verdict"
	rc=$?
	[ -f "$out/counts" ] && read -r _ f _ <"$out/counts"
	if [ "$rc" = "$want_rc" ] && grep -Eq "$want" "$out/verdict" &&
	   { [ "$rc" = 0 ] || [ "$f" -gt 0 ]; }; then
		pass=$((pass + 1))
		echo "ok: $name"
	else
		fail=$((fail + 1))
		echo "FAIL: $name (exit $rc, wanted $want_rc and /$want/):"
		sed 's/^/    /' "$out/verdict"
	fi
}

# case NAME WANT_RC WANT_TEXT [QEMU_RC [SED_KTAP [CONSOLE_LINE]]]: the
# clean run, its KTAP edited by SED_KTAP, CONSOLE_LINE added to its
# console.
case_of() {
	local name=$1 want_rc=$2 want=$3 qrc=${4:-0} edit=${5:-} line=${6:-}

	mkdir -p "$tmp/$name"
	good_ktap | sed "$edit" >"$tmp/$name/ktap.log"
	{
		good_console
		[ -z "$line" ] || printf '%s\n' "$line"
	} >"$tmp/$name/console.log"
	check "$name" "$want_rc" "$want" "$qrc"
}

pass_line='^case clean: 2 passed, 0 failed, 1 skipped$'
case_of clean 0 "$pass_line"
case_of warning 1 'FAIL: kernel splat' 0 '' \
	'[   12.345678] WARNING: CPU: 1 PID: 230 at net/ipv4/inet_timewait_sock.c:120 inet_twsk_kill+0x1/0x2'
case_of oops 1 'FAIL: kernel splat' 0 '' \
	'[   12.345678] Oops: general protection fault, probably for non-canonical address'
case_of kasan 1 'FAIL: kernel splat' 0 '' \
	'[   12.345678] BUG: KASAN: slab-use-after-free in twtrace_table_del+0x1/0x2'
case_of soft_lockup 1 'FAIL: kernel splat' 0 '' \
	'[   40.000000] watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [tw_workload:201]'
case_of hung_task 1 'FAIL: kernel splat' 0 '' \
	'[  150.000000] INFO: task rmmod:300 blocked for more than 120 seconds.'
case_of lockdep 1 'FAIL: kernel splat' 0 '' \
	'[   12.000000] WARNING: possible circular locking dependency detected'
case_of no_sentinel 1 'FAIL: no exit sentinel' 0 '/^twtrace-exit=/d'
case_of crashed 1 'FAIL: no exit sentinel' 0 "/^# tainted=/,\$d"
case_of exit_status 1 'FAIL: guest exit status 1' 0 's/^twtrace-exit=0/twtrace-exit=1/'
case_of taint_warn 1 'FAIL: kernel tainted: 4608' 0 's/^# tainted=4096/# tainted=4608/'
case_of taint_proprietary 1 'FAIL: kernel tainted: 12289' 0 \
	's/^# tainted=4096/# tainted=12289/'
case_of no_taint 1 'FAIL: no taint report' 0 '/^# tainted=/d'
case_of timeout 1 'FAIL: QEMU timed out' 124
case_of killed 1 'FAIL: QEMU timed out' 137
case_of missing_result 1 'FAIL: KTAP plan 1..3 but 2 results' 0 's/^1\.\.2/1..3/'
case_of no_plan 1 'FAIL: no KTAP plan' 0 '/^1\.\.2/d'
case_of not_ok 1 '^case not_ok: 1 passed, 1 failed, 1 skipped$' 0 \
	's/^# ok 1 stress.births/# not ok 1 stress.births/; s/^ok 2 /not ok 2 /'
# A failed case under a program that said ok: counted (OUT/counts, which
# test.sh adds up), though nothing else is amiss.
case_of not_ok_case 0 '^case not_ok_case: 1 passed, 1 failed, 1 skipped$' 0 \
	's/^# ok 1 stress.births/# not ok 1 stress.births/'
case_of died 1 'FAIL: 1 test program\(s\) not ok' 0 \
	's/^ok 2 selftests: twtrace: stress/not ok 2 selftests: twtrace: stress # exit=139/'
case_of kmemleak 1 'FAIL: kmemleak: 2 leaks' 0 \
	's/^# tainted=/# kmemleak: 3 suspected leaks, 2 attributable to twtrace\n&/'
case_of empty 1 'FAIL: no test case ran' 0 '/^# .*ok /d'
mkdir -p "$tmp/nothing"
check nothing 1 'FAIL: no exit sentinel' 0

echo "verdict-test: $pass passed, $fail failed"
[ "$fail" = 0 ]
