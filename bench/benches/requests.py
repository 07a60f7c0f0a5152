# SPDX-License-Identifier: MIT
"""3b. requests - FUSE requests per `echo true > submit` in a bash loop.

Both daemons are mounted with `-o debug`, which makes libfuse print one
`opcode:` line per request it receives; nothing is added to the daemons.
The loop of the `shell` benchmark runs into the `submit` of a frozen
queue and into nullfs's `null`, and the requests the loop caused are
counted in each log (from the log's size before the loop, once every open
of the loop is released).  The figure is exact: no repetition.
"""

import re
import time

from benchlib import BenchError
from benchlib.files import make_queue
from benchlib.rows import Goal, Row
from benchlib.timing import bash

NAME = 'requests'
GOAL = Goal.figure('<=', 4)

LOOP = r'''
target=$1 n=$2
for ((i = 0; i < n; i++)); do echo true > "$target"; done
'''

OPCODE = re.compile(r'opcode: (\w+) ')
SETTLE = 10         # seconds the last RELEASE may take to arrive


def opcodes(m, start):
    """The opcodes m's daemon logged after byte `start` of its log."""
    with open(m.logpath, errors='replace') as f:
        f.seek(start)
        return OPCODE.findall(f.read())


def log_size(m):
    with open(m.logpath, 'rb') as f:
        return f.seek(0, 2)


def loop_requests(m, target, n):
    """{opcode: count} of the requests n echoes into target made."""
    start = log_size(m)
    bash(LOOP, target, n)
    deadline = time.monotonic() + SETTLE
    while True:
        ops = opcodes(m, start)
        # RELEASE is sent after close(2) returns: wait for the last one
        if ops.count('RELEASE') >= ops.count('OPEN') >= n:
            break
        if time.monotonic() > deadline:
            raise BenchError('%s: %d OPEN, %d RELEASE after %d echoes'
                             % (target, ops.count('OPEN'), ops.count('RELEASE'), n))
        time.sleep(0.01)
    counts = {}
    for op in ops:
        counts[op] = counts.get(op, 0) + 1
    return counts


def breakdown(counts, n):
    return ' '.join('%s %.3g' % (op, c / n) for op, c in sorted(counts.items()))


def run(s):
    n = s.pick(10, 200)
    with s.mount('wqfs', ['state=none', 'debug'], 'requests') as m, \
            s.mount('nullfs', ['debug'], name='requests-null') as nm:
        q = make_queue(m, 'rq', frozen=True)
        # a first echo, uncounted: the kernel learns the names once
        bash(LOOP, q + '/submit', 1)
        bash(LOOP, nm.path('null'), 1)
        wq = loop_requests(m, q + '/submit', n)
        null = loop_requests(nm, nm.path('null'), n)
    per_w = sum(wq.values()) / n
    per_n = sum(null.values()) / n
    return [Row(NAME, 'echo > submit (bash loop)', 'requests/echo', per_w, per_n,
                'nullfs requests/echo', goal=GOAL,
                note='wqfs: %s; nullfs: %s' % (breakdown(wq, n), breakdown(null, n)))]
