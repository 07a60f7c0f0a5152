# SPDX-License-Identifier: MIT
"""Timing: medians, percentiles, alternating pairs, timed bash scripts."""

import os
import statistics
import subprocess
import time

from benchlib import BenchError


def median(xs):
    return statistics.median(xs)


def pct_of(sorted_xs, p):
    """The p-th quantile (0..1) of an already sorted list, nearest rank."""
    return sorted_xs[min(len(sorted_xs) - 1, int(p * (len(sorted_xs) - 1) + 0.5))]


def median_of(runs, key):
    """The median of run[key] over a list of dicts."""
    return median([r[key] for r in runs])


def median_ratio(runs, num, den):
    """The median over runs of run[num] / run[den]."""
    return median([r[num] / r[den] for r in runs])


def alternating(n, base, test):
    """Measure base(r) and test(r) n times, base first on even r and test
    first on odd r (a drift of the machine then hits both); return the
    lists of tests, of bases and of the per-run ratios test / base."""
    tests, bases = [], []
    for r in range(n):
        if r % 2 == 0:
            bases.append(base(r))
            tests.append(test(r))
        else:
            tests.append(test(r))
            bases.append(base(r))
    return tests, bases, [t / b for t, b in zip(tests, bases)]


def op_latency(fn, n):
    """Median seconds of n calls of fn()."""
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        fn()
        times.append(time.monotonic() - t0)
    return median(times)


def timed_read(path):
    """(seconds, text) of reading `path` from open to EOF."""
    t0 = time.monotonic()
    with open(path, 'rb') as f:
        data = f.read()
    return time.monotonic() - t0, data.decode(errors='replace')


def bash(script, *args, timeout=600, env=None):
    """Run `script` with bash -c, args as $1...; return its stdout."""
    e = dict(os.environ, LC_ALL='C')
    if env:
        e.update(env)
    p = subprocess.run(['bash', '-c', script, 'bash'] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=timeout, env=e)
    if p.returncode != 0:
        raise BenchError('bash script failed (%d): %s' % (p.returncode,
                                                          p.stderr.strip()[-1500:]))
    return p.stdout


def bash_span(script, *args, env=None):
    """Seconds between the two $EPOCHREALTIME stamps `script` prints,
    "T0 T1" and nothing else: the time measured inside bash."""
    t0, t1 = map(float, bash(script, *args, env=env).split())
    return t1 - t0
