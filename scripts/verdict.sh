#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The host's verdict on one QEMU run.  Fails closed: a timeout, a missing
# exit sentinel, a kernel splat on the console, a "not ok" without SKIP, a
# plan that does not match its results, or a taint other than out-of-tree
# (O) / unsigned (E) is a failure.
#
# Usage: scripts/verdict.sh LABEL OUTDIR QEMU_RC
# Prints one summary line and writes "passed failed skipped" to
# OUTDIR/counts.  Exit 0 only if everything passed.

set -uo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

label=$1
outdir=$2
qemu_rc=$3
console=$outdir/console.log
ktap=$outdir/ktap.log
problems=()

[ -f "$console" ] || : >"$console"
[ -f "$ktap" ] || : >"$ktap"
tr -d '\r' <"$ktap" >"$outdir/ktap.txt"

[ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ] &&
	problems+=("QEMU timed out")

# Kernel splats: scripts/lib.sh's splat_re.
if grep -Eq "$splat_re" "$console"; then
	problems+=("kernel splat on the console:")
	grep -En "$splat_re" "$console" | head -n 5 >"$outdir/splats.txt"
	while read -r l; do problems+=("    $l"); done <"$outdir/splats.txt"
fi

leaks=$(sed -n 's/^# kmemleak: .*, \([0-9]*\) attributable to twtrace$/\1/p' \
	"$outdir/ktap.txt" | tail -n 1)
[ -z "$leaks" ] || [ "$leaks" = 0 ] ||
	problems+=("kmemleak: $leaks leaks attributable to twtrace")

sentinel=$(exit_sentinel "$outdir/ktap.txt")
if [ -z "$sentinel" ]; then
	problems+=("no exit sentinel: the guest crashed or hung")
elif [ "$sentinel" != 0 ]; then
	problems+=("guest exit status $sentinel")
fi

tainted=$(sed -n 's/^# tainted=\([0-9]*\)$/\1/p' "$outdir/ktap.txt" | tail -n 1)
if [ -n "$tainted" ]; then
	# O (out-of-tree, bit 12) and E (unsigned, bit 13) are expected.
	bad=$(( tainted & ~((1 << 12) | (1 << 13)) ))
	[ "$bad" = 0 ] || problems+=("kernel tainted: $tainted (unexpected bits $bad)")
elif [ -n "$sentinel" ]; then
	problems+=("no taint report from the guest")
fi

# KTAP: the runner's top level (one result per test program) and the
# harness's nested results (one per test case, prefixed "# ").
read -r passed failed skipped plan top_results top_bad < <(awk '
	/^(not )?ok [0-9]+ / {
		top++
		if ($0 ~ /^not ok/ && $0 !~ /# SKIP/) {
			topbad++
			if (!nested_fail) fail++	# died without a case failing
		}
		nested_fail = 0
		next
	}
	/^1\.\.[0-9]+$/ { split($0, a, "\\.\\."); plan = a[2]; next }
	/^# (not )?ok [0-9]+ / {
		if ($0 ~ /# SKIP/) skip++
		else if ($0 ~ /^# not ok/) { fail++; nested_fail = 1 }
		else pass++
	}
	END { printf "%d %d %d %d %d %d\n", pass, fail, skip, plan, top, topbad }
' "$outdir/ktap.txt")

if [ -z "$plan" ] || [ "$plan" = 0 ]; then
	problems+=("no KTAP plan")
elif [ "$plan" != "$top_results" ]; then
	problems+=("KTAP plan 1..$plan but $top_results results")
fi
[ "$top_bad" = 0 ] || problems+=("$top_bad test program(s) not ok")
[ $(( passed + failed + skipped )) -gt 0 ] || problems+=("no test case ran")

# Every problem not already counted as a failed case counts as one failure.
if [ ${#problems[@]} -gt 0 ] && [ "$failed" = 0 ]; then
	failed=1
fi

echo "$passed $failed $skipped" >"$outdir/counts"
printf '%s: %d passed, %d failed, %d skipped\n' "$label" "$passed" "$failed" "$skipped"
if [ ${#problems[@]} -gt 0 ]; then
	for p in "${problems[@]}"; do
		printf '  FAIL: %s\n' "$p"
	done
	grep -E '^# (not ok|.*(FAIL|Bail out|ASSERT|EXPECT|Expected))' \
		"$outdir/ktap.txt" | head -n 20 | sed 's/^/  /'
	if [ -z "$sentinel" ]; then
		echo "  last console lines:"
		tail -n 30 "$console" | sed 's/^/    /'
	fi
	echo "  console: $console"
	echo "  ktap:    $outdir/ktap.txt"
	exit 1
fi
exit 0
