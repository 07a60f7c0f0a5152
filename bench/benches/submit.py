# SPDX-License-Identifier: MIT
"""1. submit - the cost of one queue_work.

One line (`true`) per write(2) on an open `submit` fd of a frozen queue
(nothing runs), for 1 s, against the same writes to nullfs; alternating,
5 times, the median of the per-pair ratios.  Memory only (state=none):
the cost of the durable state is the `state` benchmark's.
"""

from benchlib.files import make_queue, status_lines
from benchlib.rows import Goal, Row
from benchlib.timing import alternating, median

NAME = 'submit'
GOAL = Goal.ratio('>=', 0.9, 'nullfs')


def writes_per_s(s, path, seconds):
    o = s.wqbench('write', path, 'true', '-k', 1, '-t', seconds)
    return o['writes'] / o['seconds']


def frozen_vs_null(s, opts, name, reps, measure):
    """measure(path) on the submit file of a fresh frozen queue of a wqfs
    mounted with opts, and on a nullfs file, alternating, reps times:
    (wqfs figures, nullfs figures, per-pair ratios, the last queue)."""
    with s.mount('wqfs', ['max_works=16777216'] + opts, name) as m, \
            s.mount('nullfs', name=name + '-null') as nm:
        queues = [make_queue(m, 'q%d' % r, frozen=True) for r in range(reps)]
        wqfs, null, ratios = alternating(
            reps, lambda r: measure(nm.path('null')),
            lambda r: measure(queues[r] + '/submit'))
        tail = ' '.join(status_lines(queues[-1], 'pending', 'frozen'))
    return wqfs, null, ratios, tail


def run(s):
    t = s.secs(1.0)
    wqfs, null, ratios, tail = frozen_vs_null(
        s, ['state=none'], 'submit', s.reps(5), lambda p: writes_per_s(s, p, t))
    s.log('submit: last queue status: ' + tail)
    return [Row(NAME, '1 line/write, frozen', 'writes/s', median(wqfs), median(null),
                'nullfs writes/s', median(ratios), GOAL)]
