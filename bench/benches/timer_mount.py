# SPDX-License-Identifier: MIT
"""The through-the-mount half of benchmark 5 (timer).

A mount with a high hz (so the jiffy columns are about microseconds), N
works `3600s true` pending in a queue's `delay`, then samples one at a
time: `tI: Dus true` written to `delay`; from the queue's trace, the
time of tI's `delayed` row (when its timer was armed: due D later) and
of its `start` row.  (A work's status gives due_at on the wall clock, to
the ms: too coarse here.)  Each sample is interleaved with one raw
clock_nanosleep sample.
"""

import os
import random
import time

from benchlib import BenchError
from benchlib.baselines import RawSleep
from benchlib.files import make_queue, write_file
from benchlib.rows import Goal, Row
from benchlib.timing import pct_of

NAME = 'timer'
GOAL = Goal.ratio('<=', 2, 'raw p99')
RAW = 'clock_nanosleep ABSTIME %s, 1 ns slack, interleaved (ctypes)'
HZ_TRIED = (1000000, 100000, 10000)
ROW_WAIT = 5        # seconds for a sample's start and end trace rows


def mount_fine_hz(s):
    """(mount, hz) with the highest hz of HZ_TRIED the daemon accepts."""
    last = None
    for hz in HZ_TRIED:
        try:
            return s.mount('wqfs', ['hz=%d' % hz, 'max_works=16777216'], 'timer'), hz
        except BenchError as e:
            last = e
    raise last


class TraceTail:
    """A queue's trace opened non-blocking; waits for a work's rows."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.buf = ''

    def close(self):
        os.close(self.fd)

    def rows(self):
        """The complete rows the trace has now."""
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        self.buf += data.decode(errors='replace')
        *lines, self.buf = self.buf.split('\n')
        return lines

    def times_of(self, name):
        """{row: time column} of `name`'s delayed, start and end rows, once
        its end row came."""
        found = {}
        deadline = time.monotonic() + ROW_WAIT
        while 'end' not in found:
            for line in self.rows():
                f = line.split()
                if len(f) >= 4 and f[-3] == name and f[-2] in ('delayed', 'start', 'end'):
                    found[f[-2]] = int(f[0])
            if 'end' not in found:
                if time.monotonic() > deadline:
                    raise BenchError('no start/end trace row for %s' % name)
                time.sleep(0.0005)
        for row in ('delayed', 'start'):
            if row not in found:
                raise BenchError('no %s row for %s' % (row, name))
        return found


def sample(q, tail, hz, name, delay_us):
    """(due, start) in jiffies of one delayed work."""
    write_file(q + '/delay', '%s: %dus true\n' % (name, delay_us))
    t = tail.times_of(name)
    return t['delayed'] + delay_us * hz // 1000000, t['start']


def collect(q, hz, samples):
    """(lateness us sorted, raw lateness us sorted)."""
    rnd = random.Random(7)
    late, raw = [], []
    sleeper = RawSleep()
    tail = TraceTail(q + '/trace')
    try:
        for i in range(samples):
            delay_us = rnd.randint(1000, 3000)
            raw.append(sleeper.lateness_us(delay_us))
            due, start = sample(q, tail, hz, 't%d' % i, delay_us)
            late.append((start - due) * 1e6 / hz)
    finally:
        tail.close()
    return sorted(late), sorted(raw)


def measure(s, pending, samples):
    m, hz = mount_fine_hz(s)
    with m:
        q = make_queue(m, 'tq', per_cpu=0, max_active=4)
        o = s.wqbench('write', q + '/delay', '3600s true', '-b', 65536, '-n', pending)
        if o['lines'] != pending:
            raise BenchError('only %d of %d far works queued' % (o['lines'], pending))
        return (hz,) + collect(q, hz, samples)


def run(s, pending, samples):
    """The two mount rows: p50 (information) and p99 (the goal)."""
    hz, late, raw = measure(s, pending, samples)
    p50, p99 = pct_of(late, 0.5), pct_of(late, 0.99)
    raw50, raw99 = pct_of(raw, 0.5), pct_of(raw, 0.99)
    return [
        Row(NAME, 'mount lateness p50 (trace, hz=%d)' % hz, 'us', p50, raw50,
            RAW % 'p50', note='resolution %.0f us' % (1e6 / hz)),
        Row(NAME, 'mount lateness p99 (trace, hz=%d)' % hz, 'us', p99, raw99,
            RAW % 'p99', goal=GOAL,
            note='%d samples, %d far works pending; max %.0f us vs raw max %.0f us'
                 % (samples, pending, late[-1], raw[-1])),
    ]
