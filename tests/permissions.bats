#!/usr/bin/env bats
# permissions.bats - owners, modes, and works running as their submitter.
# Mounted with allow_other so that nobody (65534) can use the mount.

load bats/common
WQFS_OPTS='-o allow_other'

mode_of() { stat -c '%a' "$1"; }
owner_of() { stat -c '%u:%g' "$1"; }

@test "a queue's files have the modes and owner of the contract" {
	mkdir "$MNT/q"
	local f m
	assert_equal "$(owner_of "$MNT/q")" 0:0
	for f in submit delay modify cancel flush; do
		assert_equal "$(owner_of "$MNT/q/$f")" 0:0
		m=$((8#$(mode_of "$MNT/q/$f")))
		# writable by the owner only, executable by nobody
		((m & 8#200)) || fail "$f: mode $(mode_of "$MNT/q/$f") not writable by its owner"
		((!(m & 8#022))) || fail "$f: mode $(mode_of "$MNT/q/$f") writable by others"
		((!(m & 8#111))) || fail "$f: mode $(mode_of "$MNT/q/$f") executable"
	done
	for f in status trace jiqwq jiqwqdelay; do
		assert_equal "$(mode_of "$MNT/q/$f")" 444
	done
	for f in per_cpu max_active cpumask nice frozen; do
		assert_equal "$(mode_of "$MNT/q/$f")" 644
		assert_equal "$(owner_of "$MNT/q/$f")" 0:0
	done
	for f in status trace jiqwq jiqwqdelay; do
		assert_equal "$(mode_of "$MNT/$f")" 444
	done
}

@test "another user cannot write a queue's control files or attributes (EACCES)" {
	mkdir "$MNT/q"
	local f
	for f in submit delay modify cancel flush max_active nice frozen per_cpu cpumask; do
		run write_errno_as nobody "$MNT/q/$f" "x"
		assert_output "OPEN EACCES"
	done
	# reading is allowed
	run runuser -u nobody -- cat "$MNT/q/status"
	assert_success
	assert_line "name: q"
	run runuser -u nobody -- cat "$MNT/status"
	assert_success
}

@test "after chmod o+w, another user can submit and the work runs as that user" {
	mkdir "$MNT/q"
	chmod o+w "$MNT/q/submit"
	run mode_of "$MNT/q/submit"
	assert_output --regexp '^[0-7][0-7][2367]$'
	run write_errno_as nobody "$MNT/q/submit" "who: id -u; id -g; id -G"
	assert_output OK
	flushq q
	run cat "$MNT/q/works/who/output"
	assert_output $'65534\n65534\n65534'
	# and a work root submits to the same queue runs as root
	echo "rootw: id -u" >"$MNT/q/submit"
	flushq q
	run cat "$MNT/q/works/rootw/output"
	assert_output 0
	# only submit was opened up
	run write_errno_as nobody "$MNT/q/cancel" "who"
	assert_output "OPEN EACCES"
}

@test "a queue created by another user belongs to that user" {
	# the root must let others create queues (as /tmp does)
	[ "$(mode_of "$MNT")" = 1777 ] || chmod 1777 "$MNT"
	run runuser -u nobody -- mkdir "$MNT/nq"
	assert_success
	assert_equal "$(owner_of "$MNT/nq")" 65534:65534
	local f
	for f in submit delay modify cancel flush per_cpu max_active cpumask nice frozen; do
		assert_equal "$(owner_of "$MNT/nq/$f")" 65534:65534
	done
	run write_errno_as nobody "$MNT/nq/submit" "me: id -u > '$T/me'"
	assert_output OK
	run write_errno_as nobody "$MNT/nq/max_active" 2
	assert_output OK
	run runuser -u nobody -- sh -c "echo > '$MNT/nq/flush'"
	assert_success
	file_has "$T/me" 65534
	run stat -c %u "$T/me"
	assert_output 65534
	# root's work in nobody's queue still runs as root
	echo "rootw: id -u > '$T/root'" >"$MNT/nq/submit"
	flushq nq
	file_has "$T/root" 0
	# the owner can remove it
	run runuser -u nobody -- rmdir "$MNT/nq"
	assert_success
}

@test "a work cannot do what its submitter cannot" {
	mkdir "$MNT/q"
	chmod o+w "$MNT/q/submit"
	mkdir -p "$T/private"
	chmod 700 "$T/private"
	run write_errno_as nobody "$MNT/q/submit" "p: touch '$T/private/x'"
	assert_output OK
	flushq q
	[ ! -e "$T/private/x" ]
	run w_get q p last_exit
	refute_output 0
}

@test "another user's work on the shared queue events needs its mode opened" {
	run write_errno_as nobody "$MNT/events/submit" "true"
	assert_output "OPEN EACCES"
}

@test "a queue's owner reads back the work id (exec 3<>submit), not only root" {
	[ "$(mode_of "$MNT")" = 1777 ] || chmod 1777 "$MNT"
	runuser -u nobody -- mkdir "$MNT/nq"
	run runuser -u nobody -- bash -c "cd /; exec 3<>'$MNT/nq/submit' || exit 9; echo true >&3; read -r -t 10 id <&3; echo \$id"
	assert_success
	assert_output w1
	run runuser -u nobody -- bash -c "cd /; exec 3<>'$MNT/nq/delay' || exit 9; echo '1ms true' >&3; read -r -t 10 id <&3; echo \$id"
	assert_success
	assert_output w2
}
