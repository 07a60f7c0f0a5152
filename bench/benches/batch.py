# SPDX-License-Identifier: MIT
"""2. batch - batched submit.

Writes of 4 KiB (819 lines `true\\n`) and of 64 KiB into a fresh frozen
queue for 1 s, 5 times each: works queued per second.  nullfs takes the
same writes; the ratio is wqfs bytes/s over nullfs bytes/s.
"""

from benchlib.files import make_queue
from benchlib.rows import Goal, Row
from benchlib.timing import median

NAME = 'batch'
GOAL = Goal.figure('>=', 200000)
SIZES = (4096, 65536)
LINE = len('true\n')


def per_s(s, path, size, seconds):
    """(lines/s, bytes/s) of `size`-byte writes of `true` lines to path."""
    o = s.wqbench('write', path, 'true', '-b', size, '-t', seconds)
    return o['lines'] / o['seconds'], o['bytes'] / o['seconds']


def one_size(s, m, nm, size):
    works, nbytes, ratios = [], [], []
    for r in range(s.reps(5)):
        # A fresh queue per run: the one before holds its works.
        q = make_queue(m, 'b%d-%d' % (size, r), frozen=True)
        lines, wbytes = per_s(s, q + '/submit', size, s.secs(1.0))
        _, nb = per_s(s, nm.path('null'), size, s.secs(1.0))
        works.append(lines)
        nbytes.append(nb)
        ratios.append(wbytes / nb)
    return Row(NAME, '%d KiB writes: works/s' % (size // 1024), 'works/s',
               median(works), median(nbytes) / LINE,
               'nullfs lines/s (bytes/s / %d)' % LINE, median(ratios), GOAL,
               'ratio = wqfs bytes/s / nullfs bytes/s')


def run(s):
    with s.mount('wqfs', ['max_works=16777216'], 'batch') as m, \
            s.mount('nullfs', name='batch-null') as nm:
        return [one_size(s, m, nm, size) for size in SIZES]
