# SPDX-License-Identifier: MIT
"""1. submit - the cost of one queue_work.

One line (`true`) per write(2) on an open `submit` fd of a frozen queue
(nothing runs), for 1 s, against the same writes to nullfs; alternating,
5 times, the median of the per-pair ratios.
"""

from benchlib.files import make_queue, status_lines
from benchlib.rows import Goal, Row
from benchlib.timing import alternating, median

NAME = 'submit'
GOAL = Goal.ratio('>=', 0.9, 'nullfs')


def writes_per_s(s, path, seconds):
    o = s.wqbench('write', path, 'true', '-k', 1, '-t', seconds)
    return o['writes'] / o['seconds']


def run(s):
    t = s.secs(1.0)
    with s.mount('wqfs', ['max_works=16777216'], 'submit') as m, \
            s.mount('nullfs', name='submit-null') as nm:
        queues = [make_queue(m, 'q%d' % r, frozen=True) for r in range(s.reps(5))]
        wqfs, null, ratios = alternating(
            len(queues),
            lambda r: writes_per_s(s, nm.path('null'), t),
            lambda r: writes_per_s(s, queues[r] + '/submit', t))
        s.log('submit: last queue status: '
              + ' '.join(status_lines(queues[-1], 'pending', 'frozen')))
    return [Row(NAME, '1 line/write, frozen', 'writes/s', median(wqfs), median(null),
                'nullfs writes/s', median(ratios), GOAL)]
