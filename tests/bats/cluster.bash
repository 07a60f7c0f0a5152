# SPDX-License-Identifier: MIT
#
# cluster.bash - three wqfs daemons on one PostgreSQL database: the fixture
# of tests/cluster.bats, loaded after bats/common.
#
# Runs only under tests/pg-bats (WQFS_PG_DIR set); anywhere else setup()
# fails with a message.  Each test gets a new database (state_default) and
# three daemons on it, nodes n1, n2 and n3, each mounted by common.bash's
# wqfs_mount with `-o state=DB -o node=nI -o drain_timeout=1` on a mount of
# its own, with its own log, watchdog and teardown (unmount, crash and
# sanitizer checks).  Node 1's scratch directory is the test's T, and
# bg(1)'s processes are its: teardown unmounts node 1 first, which kills
# them before the other nodes go.
#
# Exported to tests: M1 M2 M3 (the mount points), DB (the database's URI),
# T (scratch, outside every mount).  MNT is M1 unless `on` says otherwise.
#
# Helpers: equals TEXT CMD..., prints CMD... (for wait_for); seen QUEUE;
# behind N M FIRST SECOND;
# on N CMD... (CMD with MNT the mount of node N: q_get, w_get,
# w_state_is, flushq, healthy), kill9 N, where QUEUE WORK, node_pid N,
# put FILE TEXT, put_on_cpu CPU FILE TEXT, pg pause|resume, pids_of TEXT,
# orphan TEXT.
# common.bash's wait_for SECS CMD... polls CMD every 0.05 s.

# Per node I (1..3): its mount point, daemon, wqfs_mount directory and
# watchdog; NODE_PID[I] is empty once kill9 killed it.
NODE_MNT=()
NODE_PID=()
NODE_TMP=()
NODE_WD=()

# node_mount I - mount node nI on the test's database (common's wqfs_mount,
# its globals shadowed so that each node keeps its own)
node_mount() {
	local i=$1
	local WQ_TMP MNT T WQFS_LOG WQFS_PID WQ_WATCHDOG='' WE
	# shellcheck disable=SC2034 # read by wqfs_mount
	local WQFS_OPTS="-o state=$DB -o node=n$i -o drain_timeout=1 ${CLUSTER_OPTS:-}"
	wqfs_mount || return 1
	NODE_MNT[i]=$MNT
	NODE_PID[i]=$WQFS_PID
	NODE_TMP[i]=$WQ_TMP
	NODE_WD[i]=$WQ_WATCHDOG
	if ((i == 1)); then
		NODE1_T=$T
		NODE1_WE=$WE
	fi
}

# node_unmount I - common's wqfs_unmount for node nI
node_unmount() {
	local i=$1
	[[ -n "${NODE_TMP[i]:-}" ]] || return 0
	local WQ_TMP=${NODE_TMP[i]} MNT=${NODE_MNT[i]} WQFS_PID=${NODE_PID[i]}
	local WQ_WATCHDOG=${NODE_WD[i]} WQFS_LOG=${NODE_TMP[i]}/wqfs.log
	NODE_TMP[i]=
	wqfs_unmount
}

cluster_setup() {
	if [[ -z "${WQFS_PG_DIR:-}" ]]; then
		echo "cluster.bats runs under tests/pg-bats, which starts PostgreSQL" >&2
		return 1
	fi
	DB=$(state_default) || return 1
	export DB
	local i
	for i in 1 2 3; do
		node_mount "$i" || return 1
	done
	M1=${NODE_MNT[1]} M2=${NODE_MNT[2]} M3=${NODE_MNT[3]}
	WQ_TMP=${NODE_TMP[1]} MNT=$M1 T=$NODE1_T WE=$NODE1_WE
	WQFS_LOG=$WQ_TMP/wqfs.log
	export M1 M2 M3 WQ_TMP MNT T WE WQFS_LOG
}

# Node 1 first: its teardown kills what bg started (see above).
cluster_teardown() {
	local i rc=0 marker pid
	for i in 1 2 3; do
		node_unmount "$i" || rc=1
	done
	for marker in "${ORPHANS[@]}"; do
		for pid in $(pids_of "$marker"); do
			kill -9 "$pid" 2>/dev/null || true
		done
	done
	return "$rc"
}

# orphan TEXT - at teardown, SIGKILL (by pid) what still runs with TEXT in
# its command line: a work whose daemon kill9 killed is nobody's to stop
ORPHANS=()
orphan() {
	ORPHANS+=("$1")
}

setup() {
	cluster_setup
}

teardown() {
	cluster_teardown
}

# on N CMD... - CMD with MNT the mount of node nN
on() {
	local i=$1
	shift
	MNT=${NODE_MNT[i]} "$@"
}

# node_pid N - the daemon of node nN
node_pid() {
	echo "${NODE_PID[$1]}"
}

# kill9 N - SIGKILL node nN's daemon and detach its dead mount; its
# teardown then only removes its directory.  Its works' commands, which
# the daemon no longer stops, are the test's to name (orphan).
kill9() {
	local i=$1
	kill -9 "${NODE_PID[i]}"
	wait "${NODE_PID[i]}" 2>/dev/null || true
	fusermount3 -uz "${NODE_MNT[i]}" 2>/dev/null || true
	NODE_PID[i]=
}

# where QUEUE WORK - the node: field of WORK's status, read on the first
# node that is up
where() {
	local i
	for i in 1 2 3; do
		[[ -n "${NODE_PID[i]}" ]] || continue
		sed -n 's/^node: //p' "${NODE_MNT[i]}/$1/works/$2/status"
		return
	done
	return 1
}

# equals TEXT CMD... - CMD prints TEXT now (for wait_for, which runs its
# command each time: a $(...) in its arguments would be read once)
equals() {
	[[ "$("${@:2}")" == "$1" ]]
}

# prints CMD... - CMD prints something now (for wait_for)
prints() {
	[[ -n "$("$@")" ]]
}

# seen QUEUE - wait until every node shows QUEUE
seen() {
	local i
	for i in 1 2 3; do
		wait_for 5 test -d "${NODE_MNT[i]}/$1"
	done
}

# behind N M FIRST SECOND - on node nN a per-CPU queue q of max_active 1,
# and the works of lines FIRST and SECOND submitted from its CPU 0: SECOND
# waits behind FIRST, as node nM sees (FIRST running, SECOND pending)
behind() {
	local n=$1 m=$2
	mkdir "${NODE_MNT[n]}/q"
	put "${NODE_MNT[n]}/q/max_active" 1
	seen q
	wait_for 5 file_has "${NODE_MNT[m]}/q/max_active" 1
	put_on_cpu 0 "${NODE_MNT[n]}/q/submit" "$3"
	wait_for 5 on "$m" w_state_is q "${3%%:*}" running
	put_on_cpu 0 "${NODE_MNT[n]}/q/submit" "$4"
	wait_for 5 on "$m" w_state_is q "${4%%:*}" pending
}

# put FILE TEXT - write TEXT and a newline to FILE with one write(2), as
# echo does; fails as the write or the close does (bounded by WQ_TIMEOUT)
# put_on_cpu CPU FILE TEXT - the same from a process bound to CPU (the CPU
# a per-CPU queue queues the work on)
_PUT_SH='printf "%s\n" "$2" >"$1"'
put() {
	timeout -s KILL "$WQ_TIMEOUT" sh -c "$_PUT_SH" sh "$1" "$2"
}
put_on_cpu() {
	timeout -s KILL "$WQ_TIMEOUT" taskset -c "$1" sh -c "$_PUT_SH" sh "$2" "$3"
}

# pg pause|resume - the throwaway server (which must not keep Bats's fd 3)
pg() {
	"$BATS_TEST_DIRNAME/../scripts/pg-throwaway" "$1" "$WQFS_PG_DIR" </dev/null 3>&-
}

# pids_of TEXT - the pids whose command line contains TEXT (a marker a test
# made unique), one a line; none is not a failure
pids_of() {
	pgrep -f -- "$1" || true
}
