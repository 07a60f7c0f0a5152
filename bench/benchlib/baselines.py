# SPDX-License-Identifier: MIT
"""Baselines that are not a mount: a file on tmpfs, clock_nanosleep.

(nullfs, the FUSE baseline, is a Mount: Session.mount('nullfs').)
"""

import contextlib
import ctypes
import os
import tempfile
import time

PR_SET_TIMERSLACK = 29
CLOCK_MONOTONIC = 1
TIMER_ABSTIME = 1
EINTR = 4


@contextlib.contextmanager
def shm_file():
    """The path of a fresh empty file on tmpfs (/dev/shm), removed after."""
    fd, path = tempfile.mkstemp(prefix='wqfs-bench-', dir='/dev/shm')
    os.close(fd)
    try:
        yield path
    finally:
        os.unlink(path)


class Timespec(ctypes.Structure):
    _fields_ = [('tv_sec', ctypes.c_long), ('tv_nsec', ctypes.c_long)]


class RawSleep:
    """clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) through ctypes, with
    the 1 ns timer slack the engine's timer thread sets for itself: the raw
    baseline interleaved with the samples through the mount.  The slack is
    set for the calling thread, at construction."""

    def __init__(self):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.prctl(PR_SET_TIMERSLACK, ctypes.c_ulong(1), 0, 0, 0)

    def lateness_us(self, delay_us):
        """Sleep to now + delay_us; return how late the wake-up was, in us."""
        deadline = time.monotonic_ns() + delay_us * 1000
        ts = Timespec(deadline // 1000000000, deadline % 1000000000)
        while self.libc.clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
                                        ctypes.byref(ts), None) == EINTR:
            pass
        return (time.monotonic_ns() - deadline) / 1000.0
