# SPDX-License-Identifier: MIT
"""10. state - what durability costs: each acknowledged line committed.

One line per write(2) to a frozen queue with the state file on (the
default, sync=normal) and with state=none, against the same writes to
nullfs; then 16 writers at once with sync=full (the log synced before each
write returns: the writers waiting share a sync), against 16 writers on
nullfs.  The kernel
serializes the writes to one FUSE file, so 16 writers on one queue reach
the daemon one at a time and cannot share a commit; 16 writers on 16
queues of the same mount (against 16 nullfs files) can.  The goal is on
both.
Alternating, five pairs (as submit), the median of the per-pair ratios.
"""

import subprocess

from benches.submit import cpu_row, frozen_vs_null, writes_per_s
from benchlib.rows import INFO, Goal, Row
from benchlib.timing import median

NAME = 'state'
ONE_GOAL = Goal.ratio('>=', 0.8, 'nullfs')
MANY_GOAL = Goal.ratio('>=', 0.3, 'nullfs')
WRITERS = 16
ONE_FILE_NOTE = ('the kernel serializes the writes to one file (the inode '
                 'lock of a FUSE direct-I/O write): the daemon never has two '
                 'at once to commit together')


def many_per_s(s, paths, seconds):
    """A wqbench writer on each of paths, all at once: their writes/s, summed."""
    procs = [subprocess.Popen([s.exe['wqbench'], 'write', p, 'true', '-k', '1',
                               '-t', str(seconds)], stdout=subprocess.PIPE, text=True)
             for p in paths]
    total = 0.0
    for p in procs:
        out, _ = p.communicate(timeout=600)
        kv = dict(f.split('=', 1) for f in out.split())
        total += int(kv['writes']) / float(kv['seconds'])
    return total


def row(s, opts, label, base, goal, measure, files=1, note='', cpu=None):
    wqfs, null, ratios, _ = frozen_vs_null(s, opts, 'state', s.reps(5), measure,
                                           cpu=cpu, files=files)
    return Row(NAME, label, 'writes/s', median(wqfs), median(null), base,
               median(ratios), goal, note)


def run(s):
    t = s.secs(1.0)
    one = lambda p: writes_per_s(s, p, t)
    one_file = lambda p: many_per_s(s, [p] * WRITERS, t)
    each_file = lambda *ps: many_per_s(s, ps, t)
    cpu = {}
    return [
        row(s, [], '1 line/write, sync=normal', 'nullfs writes/s', ONE_GOAL, one, cpu=cpu),
        cpu_row('daemon CPU per 1-line write, sync=normal', cpu, INFO,
                'the same runs; with the store\'s thread (SQLite), which nullfs has '
                'not', bench=NAME),
        row(s, ['state=none'], '1 line/write, state=none', 'nullfs writes/s', INFO, one),
        row(s, ['sync=full'], '%d writers on 1 queue, sync=full' % WRITERS,
            'nullfs writes/s, %d writers on 1 file' % WRITERS, MANY_GOAL, one_file,
            note=ONE_FILE_NOTE),
        row(s, ['sync=full'], '%d writers on %d queues, sync=full' % (WRITERS, WRITERS),
            'nullfs writes/s, %d writers on %d files' % (WRITERS, WRITERS), MANY_GOAL,
            each_file, files=WRITERS),
    ]
