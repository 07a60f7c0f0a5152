#!/bin/sh
# run-fuzzer.sh HARNESS SECONDS CORPUS_DIR - run a libFuzzer harness for
# SECONDS over a copy of the seed corpus in CORPUS_DIR (libFuzzer writes
# new inputs into its first corpus directory, so it gets a temporary one)
# and print one TAP line.  On a failure the crashing input is kept in the
# current directory and its log is shown; the exit status is non-zero.
set -u
if [ $# -ne 3 ]; then
	echo "usage: $0 HARNESS SECONDS CORPUS_DIR" >&2
	exit 2
fi
harness=$1
seconds=$2
seeds=$3
name=$(basename "$harness")
work=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
cp "$seeds"/* "$work/corpus/"

"$harness" -max_total_time="$seconds" -error_exitcode=1 \
	-artifact_prefix="$work/" "$work/corpus" >"$work/log" 2>&1
rc=$?
runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$work/log" | tail -n 1)

echo "1..1"
if [ "$rc" -eq 0 ] && [ -n "$runs" ]; then
	echo "ok 1 - $name: $runs runs clean"
	exit 0
fi
echo "not ok 1 - $name: exit status $rc"
for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
	[ -e "$f" ] || continue
	cp "$f" "./$name-$(basename "$f")"
	echo "# input kept in $(pwd)/$name-$(basename "$f")"
done
tail -n 40 "$work/log" | sed 's/^/# /'
exit 1
