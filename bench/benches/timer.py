# SPDX-License-Identifier: MIT
"""5. timer - lateness of delayed works (actual start - due time), p50 and
p99, with 100,000 other delayed works pending an hour or more ahead.

Engine level (bench/timer.c, the clean figure): 1,000 samples of 1-3 ms,
3 runs, medians.  Through the mount: see timer_mount.  The baseline is
clock_nanosleep(TIMER_ABSTIME) to the same kind of deadline in the same
process with the 1 ns timer slack the engine's timer thread sets (the fair
floor); the default 50 us slack is shown for information.
"""

from benchlib import BenchError
from benchlib.rows import Row
from benchlib.timing import median_of, median_ratio
from benches import timer_mount
from benches.timer_mount import GOAL

NAME = 'timer'
FINE = 'clock_nanosleep ABSTIME %s, 1 ns slack'


def engine_rows(eng, pending):
    k = '%dk' % (pending // 1000)     # 100k, or 1k with --quick
    e99 = median_of(eng, 'engine_p99_us')
    return [
        Row(NAME, 'engine lateness p50 (%s pending)' % k, 'us',
            median_of(eng, 'engine_p50_us'), median_of(eng, 'fine_p50_us'),
            FINE % 'p50', median_ratio(eng, 'engine_p50_us', 'fine_p50_us')),
        Row(NAME, 'engine lateness p99 (%s pending)' % k, 'us',
            e99, median_of(eng, 'fine_p99_us'), FINE % 'p99',
            median_ratio(eng, 'engine_p99_us', 'fine_p99_us'), GOAL,
            'arm %d ns, cancel %d ns per work with the heap full; '
            'max %.0f us vs raw max %.0f us' % tuple(
                median_of(eng, key) for key in ('arm_ns', 'cancel_ns',
                                                'engine_max_us', 'fine_max_us'))),
        Row(NAME, 'engine lateness p99 vs default slack', 'us',
            e99, median_of(eng, 'raw_p99_us'),
            'clock_nanosleep ABSTIME p99, default 50 us slack',
            median_ratio(eng, 'engine_p99_us', 'raw_p99_us'),
            note='default-slack p50 %.0f us' % median_of(eng, 'raw_p50_us')),
    ]


def mount_rows(s, pending, raw99):
    try:
        return timer_mount.run(s, pending, s.pick(5, 200))
    except BenchError as e:
        s.log('timer (mount): %s' % e)
        return [Row(NAME, 'mount lateness p99', 'us', None, raw99, FINE % 'p99',
                    goal=GOAL, note='failed: %s' % e)]


def run(s):
    pending = s.pick(1000, 100000)
    eng = [s.timer(pending, s.pick(20, 1000)) for _ in range(s.reps(3))]
    return engine_rows(eng, pending) + mount_rows(s, pending,
                                                  median_of(eng, 'fine_p99_us'))
