#!/bin/sh
# SPDX-License-Identifier: MIT
#
# jiq.sh - LDD3's jiq module ("just in queue", chapter 7.6, seed 000).
#
#   examples/jiq.sh [MOUNTPOINT]      (default: $WQFS or /run/wqfs)
#
# In LDD3, reading /proc/jiqwq starts a work on the shared queue that
# prints one row and re-queues itself with schedule_work() until a page is
# full; /proc/jiqwqdelay does the same with schedule_delayed_work(&work, 1).
# wqfs has both files at its root (the shared queue "events") and in every
# queue directory (that queue's own workers).  This script reads all four,
# then counts the `delta` column of each to show what LDD3 explains:
#
#   jiqwq       the work is queued again at once, so many rows are printed
#               within the same jiffy: delta 0 (now and then 1, when a
#               clock tick falls between two rows).
#   jiqwqdelay  each step is queued one jiffy later: delta 1 on every row.
#
# In both, one worker thread prints every row: the same pid, the same cpu
# and the same command ("events/N" or "jiq/N"), because a work queued from
# a worker runs on that worker's CPU.
set -eu

W=${1:-${WQFS:-/run/wqfs}}
Q="$W/jiq"				# create_workqueue("jiq")

if [ ! -f "$W/status" ]; then
	echo "jiq: $W does not look like a wqfs mount (no $W/status)" >&2
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/jiq.XXXXXX")
cleanup() {
	rm -rf "$tmp"
	if [ -d "$Q" ]; then rmdir "$Q" || true; fi	# destroy_workqueue
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# show FILE TITLE - cat one jiq file (the read waits until the page is
# full, as in LDD3) and keep a copy for the summary.
show() {
	printf '\n== cat %s   (%s)\n' "$1" "$2"
	out="$tmp/$(echo "${1#"$W"/}" | tr / _)"
	cat "$1" >"$out"
	cat "$out"
}

# summarize FILE - one line: rows, each distinct delta with its count, and
# the workers that printed the rows.
summarize() {
	name=${1#"$W"/}
	out="$tmp/$(echo "$name" | tr / _)"
	awk -v name="$name" '
		NR == 1 { next }			# the header
		{
			rows++
			if (!($2 in seen)) order[++n] = $2
			seen[$2]++
			if (!(($4 " " $5 " " $6) in workers)) { nw++; who = who " " $6 }
			workers[$4 " " $5 " " $6] = 1
		}
		END {
			# distinct deltas in ascending order
			for (i = 1; i <= n; i++)
				for (j = i + 1; j <= n; j++)
					if (order[j] + 0 < order[i] + 0) {
						t = order[i]; order[i] = order[j]; order[j] = t
					}
			d = ""
			for (i = 1; i <= n; i++) d = d " " order[i] "x" seen[order[i]]
			printf "%-18s rows %3d  deltas%s  workers %d (%s)\n",
			       name, rows, d, nw, substr(who, 2)
		}' "$out"
}

if [ -d "$Q" ]; then rmdir "$Q"; fi	# left by an interrupted run
mkdir "$Q"				# create_workqueue("jiq")

show "$W/jiqwq" 'the shared queue: schedule_work(), no delay'
show "$W/jiqwqdelay" 'the shared queue: schedule_delayed_work(&work, 1)'
show "$Q/jiqwq" 'our own queue "jiq": queue_work(), no delay'
show "$Q/jiqwqdelay" 'our own queue "jiq": queue_delayed_work(wq, &work, 1)'

rmdir "$Q"				# destroy_workqueue

printf '\n== the delta column (jiffies since the previous row), counted\n'
for f in "$W/jiqwq" "$W/jiqwqdelay" "$Q/jiqwq" "$Q/jiqwqdelay"; do
	summarize "$f"
done
cat <<'EOF'

jiqwq:      the work re-queues itself at once, so rows follow each other
            within one jiffy: delta 0 (a 1 only where a tick fell between).
jiqwqdelay: the work re-queues itself one jiffy later: delta 1 on each row.
Each file was written by a single worker thread (same pid, cpu, command).
EOF
