#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The quality gates (make check; make test runs them too):
#
#   checkpatch   --strict --no-tree on every C source of ours
#   W=1 C=1      the module with extra warnings and sparse, per kernel
#   coccicheck   the kernel's Coccinelle scripts, report mode, the module
#   dkms         dkms build of the module, per kernel, in a private tree
#   shell        shellcheck on the scripts
#   verdict      the QEMU verdict fails closed (scripts/verdict-test.sh)
#   metadata     module and dkms versions match the reader's
#
# Prints one line per check and "N passed, N failed".
#
# Usage: scripts/check.sh SERIES...

set -uo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
ksrc=$cache/ksrc
out=$build/check
pass=0
fail=0

mkdir -p "$out"

result() {
	local name=$1 log=$2 rc=$3

	if [ "$rc" = 0 ]; then
		pass=$((pass + 1))
		echo "ok: $name"
	else
		fail=$((fail + 1))
		echo "FAIL: $name (log: $log)"
		head -n 20 "$log" | sed 's/^/    /'
	fi
}

# The module's files as Kbuild lists them (scripts/lib.sh, module_files).
module=$(module_files) || exit 1

# A copy of the module's sources to build in, away from build/<series>.
stage_module() {
	local dst=$1

	rm -rf "$dst"
	mkdir -p "$dst"
	# shellcheck disable=SC2086 # one file a word
	(cd "$top" && cp -a --parents dkms.conf $module "$dst/")
}

sources=$(echo "$module" | grep '\.[ch]$'
	cd "$top" && ls userspace/*.[ch] userspace/tests/*.c selftests/*.[ch] \
	selftests/lib/*.[ch] \
	bench/*.c 2>/dev/null)

# checkpatch.pl from linux-source-6.12, with no blanket ignore.
log=$out/checkpatch.log
: >"$log"
rc=0
for f in $sources; do
	ignore=
	# libFuzzer dictates its entry point's name: LLVMFuzzerTestOneInput.
	[ "$f" = userspace/tests/fuzz_stream.c ] && ignore="--ignore CAMELCASE"
	# An out-of-tree module has to tell its kernels apart somewhere; this
	# is the one place (LINUX_VERSION_CODE reads as a constant on the left).
	[ "$f" = module/compat.h ] &&
		ignore="--ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON"
	# shellcheck disable=SC2086
	perl "$ksrc/scripts/checkpatch.pl" --strict --no-tree --quiet \
		--no-summary $ignore -f "$top/$f" >>"$log" 2>&1 || rc=1
done
result "checkpatch --strict ($(echo "$sources" | wc -w) files)" "$log" $rc

for s in "$@"; do
	stage=$out/w1-$s
	log=$out/w1-$s.log
	stage_module "$stage"
	bash "$top/scripts/kmake.sh" "$s" M="$stage" W=1 C=1 modules >"$log" 2>&1
	rc=$?
	if [ $rc = 0 ] && grep -E 'warning:|error:|: sparse:' "$log" |
	   grep -v 'Skipping BTF generation' >"$log.hits"; then
		cp "$log.hits" "$log.short"
		rc=1
	fi
	result "W=1 C=1 (sparse) on $s" "$log" $rc
done

# The kernel's Coccinelle scripts (from the full tree the debug kernel
# uses), in report mode, over the module.  coccicheck itself stops at the
# first script that needs OCaml; run spatch per script instead, as
# coccicheck does, and skip (and count) the OCaml ones.
src=$cache/linux-source-6.12
log=$out/coccicheck.log
: >"$log"
if [ -d "$src/scripts/coccinelle" ] && command -v spatch >/dev/null; then
	stage=$out/cocci
	stage_module "$stage"
	n=0 skipped=0 rc=0
	while IFS= read -r cocci; do
		if grep -q ':ocaml' "$cocci"; then
			skipped=$((skipped + 1))
			continue
		fi
		grep -q 'virtual report' "$cocci" || continue
		n=$((n + 1))
		(cd "$src" && spatch -D report --no-show-diff --very-quiet \
			--cocci-file "$cocci" --dir "$stage" \
			-I "$src/include" -I "$src/arch/x86/include" \
			-I "$src/include/uapi" -I "$src/arch/x86/include/uapi" \
			--include-headers) >>"$log" 2>&1 || rc=1
	done < <(find "$src/scripts/coccinelle" -name '*.cocci' | sort)
	# Report mode prints findings as "file:line:col-col: message".
	grep -E "^$stage/[^ ]*:[0-9]+:" "$log" >"$log.hits" && rc=1
	result "coccinelle report mode ($n scripts, $skipped OCaml ones skipped)" \
		"$log" $rc
else
	echo "no kernel tree or spatch (make deps)" >"$log"
	result "coccinelle report mode" "$log" 1
fi

# dkms build for each kernel, in a private dkms tree: nothing lands in
# the host's /var/lib/dkms, /usr/src or /lib/modules.
ver=$(sed -n 's/^#define TWTRACE_VERSION[[:space:]]*"\(.*\)"/\1/p' \
	"$top/include/uapi/linux/twtrace.h")
for s in "$@"; do
	rel=$(cat "$cache/kernels/$s/release")
	priv=$out/dkms-$s
	log=$out/dkms-$s.log
	rm -rf "$priv"
	mkdir -p "$priv/src" "$priv/tree"
	stage_module "$priv/src/twtrace-$ver"
	# In the series' build environment (the trixie chroot for trixie's
	# kernels), where $KDIR names its headers.
	# shellcheck disable=SC2016 # expanded there
	bash "$top/scripts/kmake.sh" --exec "$s" sh -c '
		dkms --sourcetree "$1/src" --dkmstree "$1/tree" \
			add -m twtrace -v "$2" &&
		dkms --sourcetree "$1/src" --dkmstree "$1/tree" \
			build -m twtrace -v "$2" -k "$3" \
			--kernelsourcedir "$KDIR"' \
		_ "$priv" "$ver" "$rel" >"$log" 2>&1
	rc=$?
	[ $rc = 0 ] && ! ls "$priv"/tree/twtrace/"$ver"/"$rel"/*/module/twtrace.ko* \
		>/dev/null 2>&1 && { echo "no twtrace.ko built" >>"$log"; rc=1; }
	result "dkms build on $s ($rel)" "$log" $rc
done

# make install / uninstall into a staging DESTDIR, per kernel.
for s in "$@"; do
	rel=$(cat "$cache/kernels/$s/release")
	dest=$out/install-$s
	log=$out/install-$s.log
	rm -rf "$dest"
	{
		# shellcheck disable=SC2016 # expanded in the build environment
		bash "$top/scripts/kmake.sh" --exec "$s" sh -c \
			'make -C "$1" install DESTDIR="$2" KERNELRELEASE="$3" \
				KDIR="$KDIR"' _ "$top" "$dest" "$rel" &&
		ls "$dest/lib/modules/$rel/updates/"twtrace.ko* \
			"$dest/usr/local/sbin/twtrace" \
			"$dest/usr/local/share/man/man8/twtrace.8" &&
		make -C "$top" uninstall DESTDIR="$dest" KERNELRELEASE="$rel" &&
		! find "$dest" -name 'twtrace*' | grep .
	} >"$log" 2>&1
	result "make install/uninstall on $s" "$log" $?
done

# Documentation: reST that docutils builds without a warning, and the ABI
# file in the kernel's What/Date/KernelVersion/Contact/Description format.
log=$out/docs.log
{
	for f in "$top"/Documentation/*.rst; do
		rst2html --strict --halt=warning "$f" >/dev/null || echo "$f"
	done
	perl "$ksrc/scripts/get_abi.pl" --dir "$top/Documentation/ABI" \
		validate 2>&1
	perl "$ksrc/scripts/get_abi.pl" --dir "$top/Documentation/ABI" \
		search 'twtrace/version' | grep -q 'KernelVersion\|Kernel version' ||
		echo "get_abi.pl does not find the twtrace ABI entries"
} >"$log" 2>&1
[ -s "$log" ]
result "documentation (rst2html --strict, get_abi.pl validate)" "$log" $((! $?))

log=$out/shellcheck.log
shellcheck -x -S warning "$top"/scripts/*.sh "$top"/.ci/run \
	"$top"/userspace/tests/*.sh >"$log" 2>&1
result "shellcheck" "$log" $?

# The host's verdict on a QEMU run, on fabricated logs: fails closed.
log=$out/verdict-test.log
bash "$top/scripts/verdict-test.sh" >"$log" 2>&1
rc=$?
result "verdict fails closed ($(grep -Ec '^(ok|FAIL): ' "$log") cases)" "$log" $rc

# One version everywhere: module, reader, dkms.
log=$out/metadata.log
{
	grep -q "^PACKAGE_VERSION=\"$ver\"$" "$top/dkms.conf" ||
		echo "dkms.conf PACKAGE_VERSION is not $ver"
	for f in MODULE_DESCRIPTION MODULE_AUTHOR 'MODULE_LICENSE("GPL")' \
		 'MODULE_VERSION(TWTRACE_VERSION)'; do
		grep -q "$f" "$top/module/main.c" || echo "module/main.c lacks $f"
	done
	# Each parameter lives in its owner's file, described there.
	n=0
	for f in "$top"/module/*.c; do
		for p in $(sed -n 's/^module_param_named(\([a-z_]*\),.*/\1/p' "$f"); do
			n=$((n + 1))
			grep -q "MODULE_PARM_DESC($p," "$f" ||
				echo "parameter $p has no MODULE_PARM_DESC in $f"
		done
	done
	[ "$n" -ge 2 ] || echo "found $n module parameters, not ring_kb and max_tracked"
} >"$log" 2>&1
[ -s "$log" ]
result "module metadata and versions ($ver)" "$log" $((! $?))

echo "check: $pass passed, $fail failed"
[ "$fail" = 0 ]
