#!/usr/bin/env bats
# users.bats - other users on a shared mount (allow_other; the daemon always
# adds default_permissions), and a daemon that does not run as root.

load bats/common
WQFS_OPTS='-o allow_other'

NOBODY_GID=$(id -g nobody)
NOBODY_GROUPS=$(id -G nobody)

as_nobody() { timeout -s KILL "$WQ_TIMEOUT" setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }

# errno_of OP PATH - run os.OP(PATH) as the caller; print OK or the errno name
py_op() {
	"$PY" -c 'import errno, os, sys
try:
    r = getattr(os, sys.argv[1])(sys.argv[2]); print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])' "$@"
}

@test "nobody cannot submit to, rmdir, or (after chmod 0700) list root's queue" {
	mkdir "$MNT/q"
	run as_nobody "$PY" -c "$_WRITE_PY" "$MNT/q/submit" "echo x"
	assert_output "OPEN EACCES"
	run as_nobody "$PY" -c "$_WRITE_PY" "$MNT/q/flush" ""
	assert_output "OPEN EACCES"
	# the root directory is 1777: nobody may not remove root's queue
	assert_equal "$(stat -c %a "$MNT")" 1777
	run as_nobody bash -c "$(declare -f py_op); PY=$PY; py_op rmdir '$MNT/q'"
	assert_output --regexp '^(EACCES|EPERM)$'
	[ -d "$MNT/q" ]
	run as_nobody bash -c "$(declare -f py_op); PY=$PY; py_op rmdir '$MNT/events'"
	assert_output --regexp '^(EACCES|EPERM)$'
	chmod 0700 "$MNT/q"
	run as_nobody bash -c "$(declare -f py_op); PY=$PY; py_op listdir '$MNT/q'"
	assert_output EACCES
	run as_nobody cat "$MNT/q/status"
	assert_failure
	assert_output --partial "Permission denied"
	assert_equal "$(q_get q completed)" 0
	healthy q
}

@test "nobody can mkdir its own queue in the 1777 root; it is nobody's and its work runs as nobody" {
	run as_nobody mkdir "$MNT/nq"
	assert_success
	assert_equal "$(stat -c %u:%g "$MNT/nq")" "65534:$NOBODY_GID"
	assert_equal "$(stat -c %u "$MNT/nq/submit")" 65534
	run as_nobody "$PY" -c "$_WRITE_PY" "$MNT/nq/submit" "who: id -u; id -g; id -G"
	assert_output OK
	as_nobody sh -c 'echo > "$1"' sh "$MNT/nq/flush"
	assert_equal "$(cat "$MNT/nq/works/who/output")" "65534
$NOBODY_GID
$NOBODY_GID"
	# root may not submit into it either unless modes allow: root bypasses
	# modes, and a root daemon runs root's work as root
	run write_errno "$MNT/nq/submit" "rw: id -u"
	assert_output OK
	flushq nq
	assert_equal "$(cat "$MNT/nq/works/rw/output")" 0
	# nobody may remove its own queue
	run as_nobody rmdir "$MNT/nq"
	assert_success
}

@test "on root's queue after chmod o+w submit, nobody's work runs as nobody with nobody's groups" {
	mkdir "$MNT/q"
	chmod o+w "$MNT/q/submit"
	run runuser -u nobody -- "$PY" -c "$_WRITE_PY" "$MNT/q/submit" "who: id -u; id -g; id -G; touch /root/wqfs-should-not-exist"
	assert_output OK
	flushq q
	run cat "$MNT/q/works/who/output"
	assert_line --index 0 65534
	assert_line --index 1 "$NOBODY_GID"
	assert_line --index 2 "$NOBODY_GROUPS"
	assert_output --partial "Permission denied"
	[ ! -e /root/wqfs-should-not-exist ]
	[ "$(w_get q who last_exit)" -ne 0 ]
	# the other control files stay closed to nobody
	run runuser -u nobody -- "$PY" -c "$_WRITE_PY" "$MNT/q/cancel" "who"
	assert_output "OPEN EACCES"
	healthy q
}

# --- a daemon running as nobody -------------------------------------------

NMNT=
NPID=
FUSE_CONF_SAVED=
DEV_FUSE_MODE=

nobody_daemon_start() {
	if ! grep -qx 'user_allow_other' /etc/fuse.conf; then
		FUSE_CONF_SAVED="$WQ_TMP/fuse.conf.saved"
		cp -p /etc/fuse.conf "$FUSE_CONF_SAVED"
		echo user_allow_other >>/etc/fuse.conf
	fi
	# Debian makes /dev/fuse 0666; this machine may have it 0600, which
	# stops libfuse as a user before it can fall back to fusermount3.
	DEV_FUSE_MODE=$(stat -c %a /dev/fuse)
	chmod 0666 /dev/fuse
	NMNT="$WQ_TMP/nmnt"
	mkdir -p "$NMNT"
	chown nobody:nogroup "$NMNT"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$WQFS_BIN" -f -o allow_other -o state=none "$NMNT" </dev/null >"$WQ_TMP/nobody.log" 2>&1 3>&- &
	NPID=$!
	wait_for 10 mountpoint -q "$NMNT"
}

nobody_daemon_stop() {
	if [[ -n "$NPID" ]]; then
		mountpoint -q "$NMNT" && fusermount3 -u "$NMNT" 2>/dev/null
		local i
		for ((i = 0; i < 300; i++)); do kill -0 "$NPID" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$NPID" 2>/dev/null; then
			kill -9 "$NPID"
			echo "the nobody daemon did not exit after unmount" >&2
		fi
		wait "$NPID" 2>/dev/null || true
		mountpoint -q "$NMNT" && fusermount3 -uz "$NMNT"
		NPID=
	fi
	if [[ -n "$DEV_FUSE_MODE" ]]; then
		chmod "$DEV_FUSE_MODE" /dev/fuse
		DEV_FUSE_MODE=
	fi
	if [[ -n "$FUSE_CONF_SAVED" && -f "$FUSE_CONF_SAVED" ]]; then
		cp -p "$FUSE_CONF_SAVED" /etc/fuse.conf
		FUSE_CONF_SAVED=
	fi
}

teardown() {
	nobody_daemon_stop
	if [[ -f "${WQ_TMP:-/nonexistent}/nobody.log" ]] &&
		grep -qE 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer' "$WQ_TMP/nobody.log"; then
		cat "$WQ_TMP/nobody.log" >&2
		wqfs_unmount
		return 1
	fi
	wqfs_unmount
}

@test "a daemon running as nobody runs nobody's work and refuses root's with EPERM" {
	nobody_daemon_start
	assert_equal "$(stat -c %u "$NMNT/events")" 65534
	run as_nobody mkdir "$NMNT/nq"
	assert_success
	chmod 0777 "$NMNT/nq" 2>/dev/null || true
	run as_nobody "$PY" -c "$_WRITE_PY" "$NMNT/nq/submit" "mine: id -u"
	assert_output OK
	as_nobody sh -c 'echo > "$1"' sh "$NMNT/nq/flush"
	assert_equal "$(cat "$NMNT/nq/works/mine/output")" 65534
	# root passes the mode check (root bypasses modes) but the daemon
	# cannot run a work as root: EPERM, and nothing is queued
	run write_errno "$NMNT/nq/submit" "root: id -u > $T/ran-as-root"
	assert_output EPERM
	run write_errno "$NMNT/nq/delay" "1 id -u > $T/ran-as-root"
	assert_output EPERM
	[ ! -e "$NMNT/nq/works/root" ]
	sleep 0.5
	[ ! -e "$T/ran-as-root" ]
	# root may make a queue (a directory), but no work of root's runs in it
	run py_op mkdir "$NMNT/rq"
	assert_output OK
	run write_errno "$NMNT/rq/submit" "id -u > $T/ran-as-root"
	assert_output EPERM
	assert_equal "$(sed -n 's/^pending: //p' "$NMNT/rq/status")" 0
	# the daemon is fine afterwards
	run as_nobody "$PY" -c "$_WRITE_PY" "$NMNT/nq/submit" "after: echo ok"
	assert_output OK
	as_nobody sh -c 'echo > "$1"' sh "$NMNT/nq/flush"
	assert_equal "$(cat "$NMNT/nq/works/after/output")" ok
	assert_equal "$(sed -n 's/^pending: //p' "$NMNT/nq/status")" 0
	nobody_daemon_stop
	run grep -c user_allow_other /etc/fuse.conf
	[ -z "$FUSE_CONF_SAVED" ]
}
