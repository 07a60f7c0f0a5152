# SPDX-License-Identifier: MIT
"""9. waiters - many flushes waiting.

1000 threads each write a line to a queue's `flush` and wait in close(2)
while a work sleeps; meanwhile the daemon's thread count and the latency
of a submit to another queue and of `cat status` are measured, each
against the same with nothing waiting.  Goal: no daemon thread per waiter
(at most idle + 64, libfuse's thread cap).
"""

import os
import threading
import time

from benchlib import BenchError
from benchlib.files import make_queue, read_file, write_file
from benchlib.rows import Goal, Row
from benchlib.timing import op_latency

NAME = 'waiters'
THREAD_GOAL = Goal.margin('<=', 64, 'idle', '(no thread per waiter)')


class Waiters:
    """n threads, each writing a line to `flush` and closing it; `done`
    collects the times their close(2) returned."""

    def __init__(self, flush, n):
        self.flush, self.n = flush, n
        self.written = threading.Semaphore(0)
        self.done = []
        self.threads = [threading.Thread(target=self.wait, daemon=True)
                        for _ in range(n)]

    def wait(self):
        fd = os.open(self.flush, os.O_WRONLY)
        os.write(fd, b'\n')
        self.written.release()
        os.close(fd)            # the wait ends here
        self.done.append(time.monotonic())

    def start(self):
        """Start them all; return once every write returned."""
        for t in self.threads:
            t.start()
        for _ in range(self.n):
            if not self.written.acquire(timeout=60):
                raise BenchError('waiters: writes to flush did not return')
        if len(self.done) > self.n // 10:
            raise BenchError('waiters: %d of %d flushes ended before the work'
                             % (len(self.done), self.n))

    def join(self, timeout):
        for t in self.threads:
            t.join(timeout)
        if len(self.done) != self.n:
            raise BenchError('waiters: %d of %d flushes returned'
                             % (len(self.done), self.n))


def probe(m):
    """(daemon threads, submit latency s, status read latency s) now."""
    def submit():
        write_file(m.path('other', 'submit'), 'true\n')

    def status():
        read_file(m.path('q', 'status'))
    return m.threads(), op_latency(submit, 20), op_latency(status, 20)


def measure(s, nwait, hold):
    """(idle probe, busy probe, s the last flush returned after the work)."""
    with s.mount('wqfs', [], 'waiters') as m:
        make_queue(m, 'q')
        make_queue(m, 'other')
        idle = probe(m)
        write_file(m.path('q', 'submit'), 'hold: sleep %g\n' % hold)
        t_start = time.monotonic()
        w = Waiters(m.path('q', 'flush'), nwait)
        w.start()
        busy = probe(m)
        w.join(hold + 60)
        return idle, busy, max(w.done) - t_start - hold


def run(s):
    nwait, hold = s.pick(20, 1000), s.pick(1.0, 4.0)
    idle, busy, spread = measure(s, nwait, hold)
    return [
        Row(NAME, 'daemon threads, %d flushes waiting' % nwait, 'threads',
            busy[0], idle[0], 'daemon threads idle', goal=THREAD_GOAL),
        Row(NAME, 'submit to another queue, %d flushes waiting' % nwait, 'us',
            busy[1] * 1e6, idle[1] * 1e6, 'same submit, nothing waiting'),
        Row(NAME, 'cat status of the queue, %d flushes waiting' % nwait, 'us',
            busy[2] * 1e6, idle[2] * 1e6, 'same read, nothing waiting'),
        Row(NAME, 'last of %d flushes returned after the work' % nwait, 'ms',
            max(spread, 0) * 1e3, None, 'work ended at %g s' % hold),
    ]
