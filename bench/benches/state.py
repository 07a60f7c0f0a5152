# SPDX-License-Identifier: MIT
"""10. state - what durability costs: each acknowledged line committed.

One line per write(2) to a frozen queue with the state file on (the
default, sync=normal) and with state=none, against the same writes to
nullfs; then 16 writers at once with sync=full (an fsync per commit: the
writers share commits), against 16 writers on nullfs.  Alternating, the
median of the per-pair ratios.
"""

import subprocess

from benches.submit import frozen_vs_null, writes_per_s
from benchlib.rows import INFO, Goal, Row
from benchlib.timing import median

NAME = 'state'
ONE_GOAL = Goal.ratio('>=', 0.8, 'nullfs')
MANY_GOAL = Goal.ratio('>=', 0.3, 'nullfs')
WRITERS = 16


def many_per_s(s, path, seconds):
    """WRITERS wqbench writers on path at once: their writes/s, summed."""
    cmd = [s.exe['wqbench'], 'write', path, 'true', '-k', '1', '-t', str(seconds)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
             for _ in range(WRITERS)]
    total = 0.0
    for p in procs:
        out, _ = p.communicate(timeout=600)
        kv = dict(f.split('=', 1) for f in out.split())
        total += int(kv['writes']) / float(kv['seconds'])
    return total


def row(s, opts, label, base, goal, measure):
    wqfs, null, ratios, _ = frozen_vs_null(s, opts, 'state', s.reps(3), measure)
    return Row(NAME, label, 'writes/s', median(wqfs), median(null), base,
               median(ratios), goal)


def run(s):
    t = s.secs(1.0)
    one = lambda p: writes_per_s(s, p, t)
    many = lambda p: many_per_s(s, p, t)
    return [
        row(s, [], '1 line/write, sync=normal', 'nullfs writes/s', ONE_GOAL, one),
        row(s, ['state=none'], '1 line/write, state=none', 'nullfs writes/s', INFO, one),
        row(s, ['sync=full'], '%d writers, sync=full' % WRITERS,
            'nullfs writes/s, %d writers' % WRITERS, MANY_GOAL, many),
    ]
