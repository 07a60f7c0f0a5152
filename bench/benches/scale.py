# SPDX-License-Identifier: MIT
"""6. scale - memory and cost as the pending count grows.

For 10k, 100k and 1M works, each on a fresh mount: the daemon's VmRSS
before and after N anonymous delayed works `3600s true` (bytes per pending
work), then the cost of `modify kI` and `cancel wI`, one line per write,
at each size (a nullfs one-line write as the reference) and at the largest
size against the smallest (flat or logarithmic: log 1M / log 10k = 1.5).
"""

import os

from benchlib import BenchError
from benchlib.files import make_queue, write_file
from benchlib.rows import Goal, Row, fmt_num

NAME = 'scale'
RSS_GOAL = Goal.figure('<=', 256)
FLAT_GOAL = Goal.ratio('<=', 2, '(flat/log)')


def label(n):
    return '%dk' % (n // 1000) if n < 1000000 else '%dM' % (n // 1000000)


def null_op_us(s):
    """us per one-line write to nullfs: the reference of one op."""
    with s.mount('nullfs', name='scale-null') as nm:
        o = s.wqbench('write', nm.path('null'), 'cancel x', '-k', 1,
                      '-n', s.pick(200, 2000))
    return o['seconds'] / o['writes'] * 1e6


def fill(s, m, q, n):
    """Queue n anonymous far works; return (RSS before, RSS after, works/s)."""
    write_file(q + '/delay', 'warm: 3600s true\n')    # warm the write path
    rss0 = m.rss()
    o = s.wqbench('write', q + '/delay', '3600s true', '-b', 65536, '-n', n)
    if o['lines'] != n:
        raise BenchError('scale: %d of %d works queued' % (o['lines'], n))
    rss1 = m.rss()
    if not (os.path.exists(q + '/works/w1') and os.path.exists(q + '/works/w%d' % n)):
        raise BenchError('scale: anonymous ids are not w1..w%d' % n)
    return rss0, rss1, o['lines'] / o['seconds']


def op_args(op, n, named):
    """(control file, line format, wqbench options) of one op: modify the
    named works kI, or cancel distinct anonymous works wI in random order."""
    if op == 'modify':
        return '/modify', 'k%lu: 3599s', ['-m', named]
    return '/cancel', 'w%lu', ['-s', 1, '-m', n]


def op_us(s, q, op, n, named):
    """(us per op, None) or (None, the error)."""
    path, fmt, extra = op_args(op, n, named)
    try:
        o = s.wqbench('write', q + path, fmt, '-k', 1, '-n', s.pick(100, 1000),
                      *extra, timeout=s.pick(10, 30))
        return o['seconds'] / o['writes'] * 1e6, None
    except BenchError as e:
        s.log('scale %d: %s failed: %s' % (n, op, e))
        return None, '%s @%d: %s' % (op, n, str(e)[:300])


def one_size(s, n):
    """{'rss', 'arm', 'modify', 'cancel', 'errors'} at n pending works."""
    named = s.pick(100, 1000)
    with s.mount('wqfs', ['max_works=%d' % (2 * n + 100000)], 'scale%d' % n) as m:
        q = make_queue(m, 's')
        rss0, rss1, arm = fill(s, m, q, n)
        s.wqbench('write', q + '/delay', 'k%lu: 3600s true', '-b', 65536, '-n', named)
        got = dict(rss=(rss1 - rss0) / n, arm=arm, errors={})
        for op in ('modify', 'cancel'):
            got[op], got['errors'][op] = op_us(s, q, op, n, named)
    s.log('scale %d: rss %d -> %d, %.0f B/work, %.0f delayed works/s, '
          'modify %s us, cancel %s us' % (n, rss0, rss1, got['rss'], arm,
                                          fmt_num(got['modify']), fmt_num(got['cancel'])))
    return got


def rss_row(n, got):
    return Row(NAME, 'RSS per pending delayed work @%s' % label(n), 'B', got['rss'],
               RSS_GOAL.limit, 'goal %d B' % RSS_GOAL.limit, goal=RSS_GOAL,
               note='queued at %.0f works/s (64 KiB writes)' % got['arm'])


def op_rows(op, per, null_us):
    sizes = sorted(per)
    rows = [Row(NAME, '%s @%s (1 per write)' % (op, label(n)), 'us/op', per[n][op],
                null_us, 'nullfs 1-line write', note=per[n]['errors'][op] or '')
            for n in sizes]
    lo, hi = sizes[0], sizes[-1]
    if hi != lo and per[hi][op] is not None and per[lo][op] is not None:
        rows.append(Row(NAME, '%s @%s vs @%s' % (op, label(hi), label(lo)), 'us/op',
                        per[hi][op], per[lo][op], '%s @%s' % (op, label(lo)),
                        goal=FLAT_GOAL))
    return rows


def run(s):
    null_us = null_op_us(s)
    per = {n: one_size(s, n) for n in s.pick([1000], [10000, 100000, 1000000])}
    return ([rss_row(n, per[n]) for n in sorted(per)]
            + op_rows('modify', per, null_us) + op_rows('cancel', per, null_us))
