#!/usr/bin/env bats
# errors.bats - every errno of the contract, and the daemon survives each.

load bats/common

long_line() { "$PY" -c 'import sys; sys.stdout.write(": " + "a" * (int(sys.argv[1]) - 2))' "$1"; }

@test "E2BIG: a line of 64 KiB + 1 bytes; 64 KiB is fine" {
	mkdir "$MNT/q"
	run write_errno "$MNT/q/submit" "$(long_line 65537)"$'\n'
	assert_output E2BIG
	daemon_alive
	run write_errno "$MNT/q/submit" "big: $(long_line 65531)"$'\n'
	assert_output OK
	flushq q
	run w_get q big last_exit
	assert_output 0
	run write_errno "$MNT/q/delay" "1s $(long_line 70000)"
	assert_output E2BIG
	run write_errno "$MNT/q/cancel" "$(printf 'a%.0s' {1..65537})"
	assert_output E2BIG
	daemon_alive
}

@test "E2BIG after a good line gives a short write" {
	mkdir "$MNT/q"
	local first="ok: true"$'\n'
	run write_errno "$MNT/q/submit" "$first$(long_line 100000)"$'\n'
	assert_output "SHORT ${#first}"
	daemon_alive
	flushq q
	[ -d "$MNT/q/works/ok" ]
}

@test "ENOSPC: -o max_works=3 counts named and anonymous works" {
	wqfs_remount -o max_works=3
	mkdir "$MNT/q"
	echo 1 >"$MNT/q/frozen"
	run write_errno "$MNT/q/submit" "a: true"
	assert_output OK
	run write_errno "$MNT/q/submit" "true"
	assert_output OK
	run write_errno "$MNT/q/delay" "c: 100s true"
	assert_output OK
	run write_errno "$MNT/q/submit" "d: true"
	assert_output ENOSPC
	run write_errno "$MNT/q/submit" "true"
	assert_output ENOSPC
	run write_errno "$MNT/q/delay" "1s true"
	assert_output ENOSPC
	[ ! -e "$MNT/q/works/d" ]
	daemon_alive
	# a limit per queue: another queue takes work
	mkdir "$MNT/r"
	run write_errno "$MNT/r/submit" "true"
	assert_output OK
}

@test "ENOSPC: idle named works count until rmdir works/NAME" {
	wqfs_remount -o max_works=3
	mkdir "$MNT/q"
	printf 'a: true\nb: true\nc: true\n' >"$MNT/q/submit"
	flushq q
	run write_errno "$MNT/q/submit" "d: true"
	assert_output ENOSPC
	# re-queueing a declared work needs no new slot
	run write_errno "$MNT/q/submit" "a:"
	assert_output OK
	flushq q
	rmdir "$MNT/q/works/a"
	run write_errno "$MNT/q/submit" "d: true"
	assert_output OK
}

@test "ENOSPC: finished anonymous works kept in works/ give way to new ones" {
	wqfs_remount -o max_works=3,keep_anon=64
	mkdir "$MNT/q"
	# one at a time: they finish in the order they were queued
	echo 0 >"$MNT/q/per_cpu"
	echo 1 >"$MNT/q/max_active"
	printf 'true\ntrue\ntrue\n' >"$MNT/q/submit"
	flushq q
	run ls "$MNT/q/works"
	assert_output $'w1\nw2\nw3'
	# full of finished works only: the oldest is forgotten for the new one
	run write_errno "$MNT/q/submit" "true"
	assert_output OK
	flushq q
	run ls "$MNT/q/works"
	assert_output $'w2\nw3\nw4'
	# pending works are never forgotten: a frozen queue still fills up
	echo 1 >"$MNT/q/frozen"
	printf 'true\ntrue\ntrue\n' >"$MNT/q/submit"
	run write_errno "$MNT/q/submit" "true"
	assert_output ENOSPC
}

@test "ENOENT: an undeclared NAME in every control file" {
	mkdir "$MNT/q"
	run write_errno "$MNT/q/submit" "ghost:"
	assert_output ENOENT
	run write_errno "$MNT/q/delay" "ghost: 1s"
	assert_output ENOENT
	run write_errno "$MNT/q/modify" "ghost: 1s"
	assert_output ENOENT
	run write_errno "$MNT/q/cancel" "ghost"
	assert_output ENOENT
	run write_errno "$MNT/q/flush" "ghost"
	assert_output ENOENT
	run ls "$MNT/q/works"
	assert_output ""
	daemon_alive
}

@test "ENOENT: a work of another queue is not declared here" {
	mkdir "$MNT/a" "$MNT/b"
	echo "x: true" >"$MNT/a/submit"
	flushq a
	run write_errno "$MNT/b/submit" "x:"
	assert_output ENOENT
	run write_errno "$MNT/b/cancel" "x"
	assert_output ENOENT
}

@test "EINVAL: malformed lines in every control file" {
	mkdir "$MNT/q"
	echo "n: true" >"$MNT/q/submit"
	flushq q
	run write_errno "$MNT/q/delay" "5s"
	assert_output EINVAL
	run write_errno "$MNT/q/delay" "n:"
	assert_output EINVAL
	run write_errno "$MNT/q/modify" "n"
	assert_output EINVAL
	run write_errno "$MNT/q/modify" "n: soon"
	assert_output EINVAL
	run write_errno "$MNT/q/cancel" "two words"
	assert_output EINVAL
	run write_errno "$MNT/q/cancel" "n:"
	assert_output EINVAL
	run write_errno "$MNT/q/flush" "two words"
	assert_output EINVAL
	run write_errno "$MNT/q/flush" ".hidden"
	assert_output EINVAL
	daemon_alive
}

@test "EINVAL: a NUL byte in a line" {
	mkdir "$MNT/q"
	run write_errno -e "$MNT/q/submit" 'nul: echo a\0b'
	assert_output EINVAL
	run write_errno -e "$MNT/q/cancel" 'n\0ul'
	assert_output EINVAL
	[ ! -e "$MNT/q/works/nul" ]
	daemon_alive
}

@test "a write to a queue removed after open fails, and the daemon lives" {
	mkdir "$MNT/q"
	run timeout 30 "$PY" -c '
import errno, os, sys
fd = os.open(sys.argv[1] + "/submit", os.O_WRONLY)
os.rmdir(sys.argv[1])
try:
    os.write(fd, b"true\n")
    print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])
' "$MNT/q"
	assert_success
	refute_output OK
	daemon_alive
}

@test "random bytes into cancel, modify, flush and the attributes never hurt the daemon" {
	mkdir "$MNT/q"
	run timeout -s KILL 120 "$PY" -c '
import os, random, sys
random.seed(42)
d = sys.argv[1]
files = ["cancel", "modify", "flush", "max_active", "nice", "cpumask", "frozen", "per_cpu"]
for i in range(400):
    f = random.choice(files)
    n = random.choice([1, 2, 5, 17, 100, 4096, 70000])
    data = bytes(random.getrandbits(8) for _ in range(n))
    if random.random() < 0.5:
        data = data.replace(b"\n", b"x") + b"\n"
    try:
        fd = os.open(os.path.join(d, f), os.O_WRONLY)
        try:
            os.write(fd, data)
        except OSError:
            pass
        os.close(fd)
    except OSError as e:
        sys.exit("open %s: %s" % (f, e))
print("done")
' "$MNT/q"
	assert_success
	assert_output done
	daemon_alive
	echo "echo fine > '$T/fine'" >"$MNT/q/submit"
	echo 0 >"$MNT/q/frozen"
	flushq q
	file_has "$T/fine" fine
}

@test "many queues and works, then unmount: nothing crashes, nothing leaks" {
	local i
	for i in $(seq 1 20); do
		mkdir "$MNT/q$i"
		printf 'a: true\ntrue\n' >"$MNT/q$i/submit"
		echo "b: 10ms true" >"$MNT/q$i/delay"
	done
	for i in $(seq 1 20); do flushq "q$i"; done
	for i in $(seq 1 10); do rmdir "$MNT/q$i"; done
	daemon_alive
}
