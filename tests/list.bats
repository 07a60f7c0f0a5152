#!/usr/bin/env bats
# list.bats - QUEUE/list (a table of the queue's works) and QUEUE/status.json
# (the queue's status and its works, for programs).

load bats/common

LIST_HEADER="NAME  STATE      EXIT  RUNS  QUEUED  STARTED  DURATION  COMMAND"

# list_rows QUEUE - check $MNT/QUEUE/list as a user would rely on it (the
# header, every column as wide as its widest cell (STATE at least 9), two
# blanks apart, names and states to the left, numbers to the right, the
# command last and whole from the header's COMMAND column, no blank at the
# end of a line) by rendering the parsed cells again and comparing byte by
# byte; then print each row, its cells joined by tabs.
list_rows() {
	"$PY" - "$MNT/$1/list" <<'EOF'
import re, sys
text = open(sys.argv[1], "rb").read().decode("utf-8", "surrogateescape")
if not text.endswith("\n"):
    sys.exit("list does not end with a newline: %r" % text[-80:])
lines = text[:-1].split("\n")
head = ["NAME", "STATE", "EXIT", "RUNS", "QUEUED", "STARTED", "DURATION", "COMMAND"]
if lines[0].split() != head:
    sys.exit("header %r" % lines[0])
at = lines[0].index("COMMAND")
left = 2                                 # NAME and STATE are left-aligned
rows = []
for line in lines[1:]:
    cells = line[:at].split()
    if len(cells) != 7:
        sys.exit("row %r: %d cells before COMMAND" % (line, len(cells)))
    rows.append(cells + [line[at:]])
width = [max(len(r[c]) for r in [head] + rows) for c in range(7)]
width[1] = max(width[1], 9)
def render(r):
    out = ""
    for c in range(7):
        out += (r[c].ljust(width[c]) if c < left else r[c].rjust(width[c])) + "  "
    return (out + r[7]).rstrip(" ")
again = "".join(render(r) + "\n" for r in [head] + rows)
if again != text:
    sys.exit("list is not aligned:\n%s\nexpected:\n%s" % (text, again))
iso = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
for r in rows:
    for c in (2, 3):
        if not re.fullmatch(r"-|-?\d+", r[c]):
            sys.exit("%s %r in row %r" % (head[c], r[c], r))
    for c in (4, 5):
        if not re.fullmatch("-|" + iso, r[c]):
            sys.exit("%s %r in row %r" % (head[c], r[c], r))
    if not re.fullmatch(r"-|\d+\.\d{3}", r[6]):
        sys.exit("DURATION %r in row %r" % (r[6], r))
    print("\t".join(r))
EOF
}

# row QUEUE WORK - the cells of WORK's row (see list_rows), one line
row() {
	list_rows "$1" | awk -F '\t' -v w="$2" '$1 == w'
}

# cell QUEUE WORK COLUMN - one cell (COLUMN 1 is NAME, 8 is COMMAND)
cell() {
	list_rows "$1" | awk -F '\t' -v w="$2" -v c="$3" '$1 == w { print $c }'
}

# json_check QUEUE - status.json parses; its queue fields are those of
# status, its works those of list, in the same order.  Prints the number
# of works.
json_check() {
	"$PY" - "$MNT/$1/status.json" "$MNT/$1/status" "$MNT/$1/list" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1], "rb"))
if not isinstance(j, dict):
    sys.exit("status.json is not an object")
status = [l.split(": ", 1) for l in open(sys.argv[2]).read().splitlines()]
keys = [k for k, _ in status] + ["works"]
if list(j) != keys:
    sys.exit("keys %r\n  expected %r" % (list(j), keys))
for k, v in status:
    want = v if k in ("name", "cpumask") else int(v)
    if j[k] != want:
        sys.exit("%s: %r in status.json, %r in status" % (k, j[k], v))
text = open(sys.argv[3], "rb").read().decode("utf-8", "surrogateescape")
rows = text.splitlines()[1:]
wkeys = ["name", "state", "exit", "runs", "queued_at", "started_at",
         "finished_at", "duration", "node", "command"]
if len(rows) != len(j["works"]):
    sys.exit("%d works in status.json, %d rows in list" % (len(j["works"]), len(rows)))
def show(v, k):
    if v is None:
        return "-"
    if k == "duration":
        return "%.3f" % v
    return str(v)
for w, line in zip(j["works"], text.splitlines()[1:]):
    if list(w) != wkeys:
        sys.exit("work keys %r" % list(w))
    for k in ("exit", "runs"):
        if w[k] is not None and type(w[k]) is not int:
            sys.exit("%s of %s is %r" % (k, w["name"], w[k]))
    for k in ("queued_at", "started_at", "finished_at", "node"):
        if w[k] is not None and type(w[k]) is not str:
            sys.exit("%s of %s is %r" % (k, w["name"], w[k]))
    # the list row, cell by cell, from the JSON fields
    cells = line.split()
    want = [w["name"], w["state"]] + [show(w[k], k) for k in
            ("exit", "runs", "queued_at", "started_at", "duration")]
    # a running work's duration grows between the two files' opens
    n = 6 if w["state"] == "running" else 7
    if cells[:n] != want[:n]:
        sys.exit("list row %r\n  status.json %r" % (line, want))
    if not line.endswith("  " + w["command"]) and w["command"]:
        sys.exit("list row %r does not end with command %r" % (line, w["command"]))
print(len(j["works"]))
EOF
}

@test "an empty queue: list is the header alone, status.json has works: []" {
	mkdir "$MNT/q"
	run cat "$MNT/q/list"
	assert_success
	assert_output "$LIST_HEADER"
	run list_rows q
	assert_success
	assert_output ""
	run grep -c '"works": \[\]' "$MNT/q/status.json"
	assert_output 1
	run json_check q
	assert_success
	assert_output 0
	assert_equal "$(stat -c %a "$MNT/q/list")" 444
	assert_equal "$(stat -c %a "$MNT/q/status.json")" 444
	# the shared queue has them too
	run cat "$MNT/events/list"
	assert_output "$LIST_HEADER"
	run json_check events
	assert_success
}

@test "list: one row per work, named and anonymous, in natural order of names" {
	mkdir "$MNT/q"
	echo 1 >"$MNT/q/frozen"
	echo "zeta: true" >"$MNT/q/submit"
	local anon=() i
	for i in $(seq 11); do
		anon+=("$(submit_id "$MNT/q" "true")")
	done
	echo "alpha: true" >"$MNT/q/submit"
	[[ "${anon[0]}" == w1 && "${anon[10]}" == w11 ]] || fail "anonymous ids: ${anon[*]}"
	run list_rows q
	assert_success
	assert_equal "$(cut -f1 <<<"$output")" \
		"$(printf '%s\n' alpha w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 zeta)"
	run json_check q
	assert_success
	assert_output 13
	echo '*' >"$MNT/q/cancel"
}

@test "list: states pending, delayed, running, done, failed, cancelled; - where nothing happened yet" {
	mkdir "$MNT/q"
	echo "i: true" >"$MNT/q/submit"
	echo "f: exit 1" >"$MNT/q/submit"
	echo "c: 1h true" >"$MNT/q/delay"
	echo c >"$MNT/q/cancel"
	flushq q
	echo "r: sleep 100" >"$MNT/q/submit"
	wait_for 10 w_state_is q r running
	echo 1 >"$MNT/q/frozen"
	echo "p: true" >"$MNT/q/submit"
	echo "d: 1h true" >"$MNT/q/delay"
	run list_rows q
	assert_success
	local qa t='[0-9T:.-]+Z'
	qa=$(w_get q i queued_at)
	assert_line --index 0 "c	cancelled	-	0	$(w_get q c queued_at)	-	-	true"
	assert_line --index 1 "d	delayed	-	0	$(w_get q d queued_at)	-	-	true"
	assert_line --index 2 --regexp "^f	failed	1	1	$t	$t	[0-9]+\.[0-9]{3}	exit 1$"
	assert_line --index 3 --regexp "^i	done	0	1	$qa	$t	[0-9]+\.[0-9]{3}	true$"
	assert_line --index 4 "p	pending	-	0	$(w_get q p queued_at)	-	-	true"
	assert_line --index 5 --regexp "^r	running	-	1	$t	$(w_get q r started_at)	[0-9]+\.[0-9]{3}	sleep 100$"
	# a running work's duration is the time it has run so far
	local d1 d2
	d1=$(cell q r 7)
	sleep 0.3
	d2=$(cell q r 7)
	"$PY" -c 'import sys; a, b = map(float, sys.argv[1:]); sys.exit(0 if b - a >= 0.2 else "%s then %s" % (a, b))' "$d1" "$d2"
	run json_check q
	assert_success
	assert_output 6
	echo '*' >"$MNT/q/cancel"
}

@test "list: EXIT, RUNS, the times and DURATION after runs" {
	mkdir "$MNT/q"
	printf 'ok: true\nbad: exit 3\ns: sleep 0.5\n' >"$MNT/q/submit"
	flushq q
	echo "ok:" >"$MNT/q/submit"
	flushq q
	run row q ok
	local t='[0-9T:.-]+Z'
	assert_output --regexp "^ok	done	0	2	$t	$t	[0-9]+\.[0-9]{3}	true$"
	run row q bad
	assert_output --regexp "^bad	failed	3	1	$t	$t	[0-9]+\.[0-9]{3}	exit 3$"
	# QUEUED and STARTED are the work's queued_at and started_at
	assert_equal "$(cell q ok 5)" "$(w_get q ok queued_at)"
	assert_equal "$(cell q ok 6)" "$(w_get q ok started_at)"
	assert_equal "$(cell q s 6)" "$(w_get q s started_at)"
	# DURATION: finished_at - started_at, in seconds
	local d
	d=$(cell q s 7)
	"$PY" -c 'import sys; d = float(sys.argv[1]); sys.exit(0 if 0.45 <= d < 10 else "duration %s" % d)' "$d"
	local sa fa
	sa=$(time_ms "$(w_get q s started_at)")
	fa=$(time_ms "$(w_get q s finished_at)")
	assert_equal "$d" "$("$PY" -c 'import sys; s, f = map(int, sys.argv[1:]); print("%.3f" % ((f - s) / 1000))' "$sa" "$fa")"
	run json_check q
	assert_success
	assert_output 3
	# status.json: exit and runs as numbers, the times as strings
	run "$PY" -c '
import json, sys
w = {x["name"]: x for x in json.load(open(sys.argv[1]))["works"]}
print(w["ok"]["exit"], w["ok"]["runs"], w["bad"]["exit"], w["s"]["finished_at"] >= w["s"]["started_at"])
' "$MNT/q/status.json"
	assert_output "0 2 3 True"
}

@test "list: a command with spaces and quotes is shown whole, in the last column" {
	mkdir "$MNT/q"
	echo 1 >"$MNT/q/frozen"
	local cmd="printf '%s\\n' \"a  b\"   'c \"d\"' x\\\\y  # the end"
	run write_errno "$MNT/q/submit" "sp: $cmd"
	assert_output OK
	assert_equal "$(w_get q sp command)" "$cmd"
	run cell q sp 8
	assert_output "$cmd"
	run grep -c -F -- "  $cmd" "$MNT/q/list"
	assert_output 1
	run json_check q
	assert_success
	echo '*' >"$MNT/q/cancel"
}

@test "status.json: a command with quotes, backslashes and control characters round-trips" {
	mkdir "$MNT/q"
	echo 1 >"$MNT/q/frozen"
	run "$PY" - "$MNT/q" <<'EOF'
import json, os, sys
q = sys.argv[1]
cmd = 'echo "a\\"b" \\\\ c\td \x01 \x1f \x7f end \u00e9\u2028'
with open(os.path.join(q, "submit"), "wb") as f:
    f.write(("j: " + cmd + "\n").encode())
raw = open(os.path.join(q, "status.json"), "rb").read()
j = json.loads(raw)
got = [w["command"] for w in j["works"] if w["name"] == "j"]
if got != [cmd]:
    sys.exit("command %r\n  expected %r" % (got, cmd))
# escaped, not raw: a tab or a control byte is never in the file
if any(b in raw for b in (b"\t", b"\x01", b"\x1f", b"\x7f")):
    sys.exit("a raw control character in status.json: %r" % raw)
print("ok")
EOF
	assert_success
	assert_output ok
	echo '*' >"$MNT/q/cancel"
}

@test "status.json: a command that is not UTF-8 still gives valid JSON" {
	mkdir "$MNT/q"
	echo 1 >"$MNT/q/frozen"
	run write_errno -e "$MNT/q/submit" 'bin: echo \xff\xfe ok\xc3'
	assert_output OK
	run "$PY" -c '
import json, sys
j = json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))
print(ascii([w["command"] for w in j["works"]]))
' "$MNT/q/status.json"
	assert_success
	assert_output "['echo \\ufffd\\ufffd ok\\ufffd']"
	echo '*' >"$MNT/q/cancel"
}

@test "list and status.json are generated at open, and take a mode like status" {
	mkdir "$MNT/q"
	local before
	exec 4<"$MNT/q/list"
	echo "n: true" >"$MNT/q/submit"
	flushq q
	before=$(cat <&4)
	exec 4<&-
	assert_equal "$before" "$LIST_HEADER"
	run row q n
	assert_output --regexp "^n	done	0	1	"
	chmod 0440 "$MNT/q/list" "$MNT/q/status.json"
	assert_equal "$(stat -c %a "$MNT/q/list")" 440
	assert_equal "$(stat -c %a "$MNT/q/status.json")" 440
	run write_errno "$MNT/q/list" "x"
	assert_output EINVAL
	healthy q
}

@test "list and status.json show another user only the works it may read" {
	wqfs_remount -o allow_other
	# nobody's queue, not readable by its group: root's work there is not
	# nobody's to read (works/W/status says so too)
	(cd / && setpriv --reuid=nobody --regid=nogroup --clear-groups mkdir -m 0700 "$MNT/nq")
	run write_errno "$MNT/nq/submit" "rootjob: echo root-secret"
	assert_output OK
	(cd / && setpriv --reuid=nobody --regid=nogroup --clear-groups \
		sh -c 'echo "nobodyjob: echo mine" > "$1/nq/submit"' sh "$MNT")
	flushq nq
	run setpriv --reuid=nobody --regid=nogroup --clear-groups cat "$MNT/nq/works/rootjob/status"
	assert_failure
	run setpriv --reuid=nobody --regid=nogroup --clear-groups cat "$MNT/nq/list"
	assert_success
	assert_output --partial "nobodyjob"
	refute_output --partial "root-secret"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups cat "$MNT/nq/status.json"
	assert_output --partial "nobodyjob"
	refute_output --partial "root-secret"
	# root sees both
	run cat "$MNT/nq/list"
	assert_output --partial "root-secret"
	assert_output --partial "echo mine"
}
