#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fuzz the reader's recording decoder with libFuzzer for a bounded time,
# starting from the small corpus kept in the repo; new inputs go to a
# scratch corpus under build/, never into the repo.  Ends with
# "N passed, N failed" (1 passed: no crash, no sanitizer report, no leak).
#
# Usage: fuzz.sh FUZZER REPO_CORPUS WORKDIR [SECONDS]

set -uo pipefail

fuzzer=$1
seeds=$2
work=$3
secs=${4:-${FUZZ_SECS:-30}}

mkdir -p "$work/corpus"
# The records' owners are named (owner.c): from a small fake passwd file
# and cgroup2 tree, not from the host's, which a fuzzer should not walk.
mkdir -p "$work/cgroup/system.slice/nginx.service"
printf 'root:x:0:0::/root:/bin/sh\nwww-data:x:33:33::/:/bin/sh\n' >"$work/passwd"
export TWTRACE_PASSWD=$work/passwd TWTRACE_CGROUP2=$work/cgroup
"$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -close_fd_mask=3 \
	-artifact_prefix="$work/" "$work/corpus" "$seeds" >"$work/fuzz.log" 2>&1
rc=$?
runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$work/fuzz.log" | tail -n 1)
echo "reader fuzz: ${runs:-?} runs in ${secs}s, $(find "$work/corpus" -type f | wc -l) corpus inputs (log: $work/fuzz.log)"
if [ "$rc" != 0 ] || [ -z "$runs" ]; then
	grep -E 'ERROR|SUMMARY|crash-|leak-|timeout-' "$work/fuzz.log" | head -n 10
	echo "0 passed, 1 failed"
	exit 1
fi
echo "1 passed, 0 failed"
