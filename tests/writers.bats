#!/usr/bin/env bats
# writers.bats - one process that submits again and again: what it changed
# between two opens of a control file (its directory, its limits, its
# credentials, its program) is what its next work gets, however much of it
# the daemon keeps from the previous open.

load bats/common
WQFS_OPTS='-o allow_other -o drain_timeout=1'

# out QUEUE WORK - the output of WORK, once the queue is flushed
out() {
	cat "$MNT/$1/works/$2/output"
}

@test "cd between two echoes of one shell: each work runs where its echo was" {
	mkdir "$MNT/q" "$T/a" "$T/b"
	bash -c 'cd "$1" && echo "a: pwd" >"$3/submit" && cd "$2" && echo "b: pwd" >"$3/submit"' \
		bash "$T/a" "$T/b" "$MNT/q"
	flushq q
	assert_equal "$(out q a)" "$T/a"
	assert_equal "$(out q b)" "$T/b"
	healthy q
}

@test "ulimit between two echoes of one shell: each work runs under the limits of its echo" {
	mkdir "$MNT/q"
	bash -c 'ulimit -S -n 100 && echo "a: ulimit -S -n; ulimit -H -n" >"$1/submit" &&
		ulimit -S -n 50 && ulimit -H -n 60 &&
		echo "b: ulimit -S -n; ulimit -H -n" >"$1/submit"' bash "$MNT/q"
	flushq q
	assert_equal "$(out q a | head -1)" 100
	assert_equal "$(out q b)" "$(printf '50\n60')"
	healthy q
}

@test "exec with a new environment keeps the pid and brings the new environment; export does not" {
	mkdir "$MNT/q"
	cat >"$T/second" <<-'EOF'
	echo "b: echo \$WV" >"$1/submit"
	EOF
	# bash keeps its pid through exec: the daemon sees one process that
	# started again with WV=two
	WV=one bash -c 'echo "a: echo \$WV" >"$1/submit" && export WV=exported &&
		echo "c: echo \$WV" >"$1/submit" &&
		exec env WV=two bash "$2" "$1"' bash "$MNT/q" "$T/second"
	flushq q
	assert_equal "$(out q a)" one
	assert_equal "$(out q c)" one		# the environment it started with
	assert_equal "$(out q b)" two
	healthy q
}

# The pid a new process gets: argv[1] (ns_last_pid set just before each
# fork; another fork may take it first: tried again), then that process
# runs sh -c argv[2] with WV=second; prints "reused" once it did.
_SAME_PID_PY='
import os, sys
target, script = int(sys.argv[1]), sys.argv[2]
for attempt in range(50):
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(target - 1))
    pid = os.fork()
    if pid == 0:
        if os.getpid() != target:
            os._exit(3)
        os.execve("/bin/sh", ["sh", "-c", script, "sh"] + sys.argv[3:],
                  {"WV": "second", "PATH": "/usr/bin:/bin"})
    _, st = os.waitpid(pid, 0)
    if os.WEXITSTATUS(st) != 3:
        print("reused" if st == 0 else "failed %d" % st)
        sys.exit(0)
print("the pid was never free")
'

@test "a new process with the pid of one that submitted and is gone: its work gets its own environment" {
	mkdir "$MNT/q"
	WV=first bash -c 'echo $$ >"$2/pid"; echo "a: echo \$WV" >"$1/submit"' bash "$MNT/q" "$T"
	run "$PY" -c "$_SAME_PID_PY" "$(cat "$T/pid")" 'echo "b: echo \$WV" >"$1/submit"' "$MNT/q"
	assert_output reused
	flushq q
	assert_equal "$(out q a)" first
	assert_equal "$(out q b)" second
	healthy q
}

@test "setuid between two opens of one process: the next work is the new user's" {
	mkdir "$MNT/q"
	chmod 0622 "$MNT/q/submit"
	cd /
	run timeout -s KILL "$WQ_TIMEOUT" "$PY" -c '
import os, sys
def put(line):
    fd = os.open(sys.argv[1], os.O_WRONLY)
    os.write(fd, line.encode())
    os.close(fd)
put("a: id -u\n")
os.setgroups([])
os.setresgid(65534, 65534, 65534)
os.setresuid(65534, 65534, 65534)
put("b: id -u\n")
print("done")' "$MNT/q/submit"
	assert_success
	assert_output done
	flushq q
	assert_equal "$(out q a)" 0
	assert_equal "$(out q b)" 65534
	assert_equal "$(stat -c %u "$MNT/q/works/a")" 0
	assert_equal "$(stat -c %u "$MNT/q/works/b")" 65534
	healthy q
}

@test "a reader in 100 groups: the status of every queue shows the queue its 100th group may read" {
	mkdir "$MNT/q"
	chgrp 1099 "$MNT/q"
	chmod 0750 "$MNT/q"
	cd /
	local prog='
import os, sys
os.setgroups(list(range(1000, 1000 + int(sys.argv[2]))))
os.setresgid(65534, 65534, 65534)
os.setresuid(65534, 65534, 65534)
print(" ".join(l.split()[0] for l in open(sys.argv[1]).read().splitlines()[1:]))'
	run timeout -s KILL "$WQ_TIMEOUT" "$PY" -c "$prog" "$MNT/status" 100
	assert_success
	[[ " $output " == *" q "* ]] || fail "group 1099 may read q, but status shows: $output"
	run timeout -s KILL "$WQ_TIMEOUT" "$PY" -c "$prog" "$MNT/status" 99
	assert_success
	[[ " $output " != *" q "* ]] || fail "without group 1099, status shows q: $output"
	healthy q
}
