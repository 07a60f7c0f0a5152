# SPDX-License-Identifier: MIT
"""1. submit - the cost of one queue_work.

One line (`true`) per write(2) on an open `submit` fd of a frozen queue
(nothing runs), for 1 s, against the same writes to nullfs; alternating,
5 times, the median of the per-pair ratios.  Memory only (state=none):
the cost of the durable state is the `state` benchmark's.  A second row
is the daemons' CPU time (user + system) per write over the same runs; a
third, the same on unbound queues (information), whose writes need no
read of the writer's /proc/PID/stat for its CPU.
"""

from benchlib.files import make_queue, status_lines
import time

from benchlib.rows import INFO, Goal, Row
from benchlib.timing import alternating, median

NAME = 'submit'
GOAL = Goal.ratio('>=', 0.9, 'nullfs')
CPU_GOAL = Goal.ratio('<=', 1.25, 'nullfs')


def writes_per_s(s, path, seconds):
    o = s.wqbench('write', path, 'true', '-k', 1, '-t', seconds)
    return o['writes'] / o['seconds']


def with_cpu(m, measure, paths, cpu):
    """measure(*paths) (a rate per second); appends to cpu the daemon's CPU
    seconds per unit of it (per write)."""
    c0, t0 = m.cpu(), time.monotonic()
    rate = measure(*paths)
    c1, t1 = m.cpu(), time.monotonic()
    cpu.append((c1 - c0) / (rate * (t1 - t0)) if rate > 0 else 0.0)
    return rate


def null_paths(nm, n):
    """The first n files of nullfs mount nm: null, null1 .. null(n-1)."""
    return [nm.path('null')] + [nm.path('null%d' % i) for i in range(1, n)]


def frozen_vs_null(s, opts, name, reps, measure, cpu=None, files=1, per_cpu=None):
    """measure(*paths) on the submit files of `files` fresh frozen queues of
    a wqfs mounted with opts, and on as many nullfs files (null, null1 ..),
    alternating, reps times: (wqfs figures, nullfs figures, per-pair
    ratios, the last queue's pending and frozen lines).  cpu, if given,
    gets each daemon's CPU seconds per unit: cpu['wqfs'] and
    cpu['nullfs'], lists in the order of the runs.  per_cpu: the queues'
    attribute (None: the default, 1)."""
    cpu = cpu if cpu is not None else {}
    cpu.update(wqfs=[], nullfs=[])
    with s.mount('wqfs', ['max_works=16777216'] + opts, name) as m, \
            s.mount('nullfs', name=name + '-null') as nm:
        queues = [[make_queue(m, 'q%d-%d' % (r, i), frozen=True, per_cpu=per_cpu)
                   for i in range(files)] for r in range(reps)]
        wqfs, null, ratios = alternating(
            reps, lambda r: with_cpu(nm, measure, null_paths(nm, files), cpu['nullfs']),
            lambda r: with_cpu(m, measure, [q + '/submit' for q in queues[r]],
                               cpu['wqfs']))
        tail = ' '.join(status_lines(queues[-1][-1], 'pending', 'frozen'))
    return wqfs, null, ratios, tail


def cpu_row(label, cpu, goal, note, bench=NAME):
    """The daemons' CPU per write of frozen_vs_null's runs, as a row of
    benchmark `bench`."""
    us = {k: [x * 1e6 for x in v] for k, v in cpu.items()}
    ratios = [a / b for a, b in zip(us['wqfs'], us['nullfs']) if b > 0]
    return Row(bench, label, 'us/write', median(us['wqfs']), median(us['nullfs']),
               'nullfs daemon CPU per write', median(ratios) if ratios else None,
               goal, note=note)


def run(s):
    t = s.secs(1.0)
    one = lambda p: writes_per_s(s, p, t)
    cpu, unbound = {}, {}
    wqfs, null, ratios, tail = frozen_vs_null(s, ['state=none'], 'submit', s.reps(5),
                                              one, cpu)
    s.log('submit: last queue status: ' + tail)
    frozen_vs_null(s, ['state=none'], 'submit-unbound', s.reps(5), one, unbound,
                   per_cpu=0)
    return [Row(NAME, '1 line/write, frozen', 'writes/s', median(wqfs), median(null),
                'nullfs writes/s', median(ratios), GOAL),
            cpu_row('daemon CPU per 1-line write', cpu, CPU_GOAL,
                    'user + system time of each daemon over its timed writes'),
            cpu_row('daemon CPU per 1-line write, unbound queue', unbound, INFO,
                    'no read of /proc/PID/stat for the writer\'s CPU (WQ_CPU)')]
