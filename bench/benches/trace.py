# SPDX-License-Identifier: MIT
"""7. trace - readers of a queue's trace.

(a) One reader (`wqbench read`) of the trace while a writer submits 4 KiB
batches into a frozen queue for 2 s: rows/s the reader got against rows/s
produced (information).  (b) Submit throughput with readers on the queue's
trace and the root trace that never read, against no reader: 9
alternating pairs of 0.7 s, the median of the pair ratios.
"""

import os
import time

from benchlib.files import make_queue
from benchlib.rows import Goal, Row
from benchlib.session import parse_kv
from benchlib.timing import alternating, median

NAME = 'trace'
STALL_GOAL = Goal.ratio('>=', 0.95, '(cost < 5%)')


def reader_keeps(s, m):
    """(a): one reader as fast as it can, one writer as fast as it can."""
    t = s.secs(2.0)
    q = make_queue(m, 'tr', frozen=True)
    reader = s.wqbench_reader(q + '/trace', t + 30)
    time.sleep(0.3)
    o = s.wqbench('write', q + '/submit', 'true', '-b', 4096, '-t', t)
    out, _ = reader.communicate(timeout=60)
    rd = parse_kv(out)
    return Row(NAME, 'rows/s one reader keeps', 'rows/s',
               rd.get('rows', 0) / o['seconds'], o['lines'] / o['seconds'],
               'queued events/s produced',
               note='read %d rows, lost %d of %d'
                    % (rd.get('rows', 0), rd.get('lost', 0), o['lines']))


def submit_rate(s, m, name, stalled):
    """works/s of 4 KiB writes to a fresh frozen queue, with or without
    readers open on its trace and the root trace that never read."""
    q = make_queue(m, name, frozen=True)
    fds = [os.open(p, os.O_RDONLY) for p in (q + '/trace', m.path('trace'))] \
        if stalled else []
    try:
        o = s.wqbench('write', q + '/submit', 'true', '-b', 4096, '-t', s.secs(0.7))
    finally:
        for fd in fds:
            os.close(fd)
    return o['lines'] / o['seconds']


def stalled_reader(s, m):
    """(b): the goal is a 5% effect on a noisy machine: many short pairs."""
    stall, none, ratios = alternating(
        s.reps(9),
        lambda r: submit_rate(s, m, 's%dnone' % r, False),
        lambda r: submit_rate(s, m, 's%dstalled' % r, True))
    return Row(NAME, 'submit with a stalled reader', 'works/s', median(stall),
               median(none), 'no reader', median(ratios), STALL_GOAL,
               'readers on the queue trace and the root trace, 4 KiB writes')


def run(s):
    with s.mount('wqfs', ['max_works=16777216'], 'trace') as m:
        return [reader_keeps(s, m), stalled_reader(s, m)]
