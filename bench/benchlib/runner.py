# SPDX-License-Identifier: MIT
"""Run benchmarks one by one: each under a watchdog, each failure kept to
itself (one broken benchmark must not hide the others), every mount closed
after each."""

import time
import traceback

from benchlib import BenchError
from benchlib.report import tap_result


def check_rows(rows):
    """The error of a benchmark's rows, or None: it must give figures."""
    if not rows or all(r.wqfs is None for r in rows):
        raise BenchError('produced no numbers')
    if any(r.wqfs is None for r in rows):
        return 'no figure for: ' + ', '.join(
            '%s (%s)' % (r.name, r.note) for r in rows if r.wqfs is None)
    return None


def run_one(s, bench):
    """Run module `bench`; return (rows, error or None, detail)."""
    t0 = time.monotonic()
    dog = s.watchdog()
    rows = []
    try:
        got = bench.run(s)
        took = '%.1f s' % (time.monotonic() - t0)
        error = check_rows(got)
        rows = got
    except Exception as e:
        error = '%s: %s' % (type(e).__name__, e)
        if dog.fired:
            error = 'over its budget, daemon killed: ' + error
        if not isinstance(e, BenchError):
            s.log(traceback.format_exc())
    finally:
        dog.cancel()
        s.close_mounts()
    return rows, error, error or took


def run_all(s, benches):
    """Run every module of `benches`; return (rows, {name: error})."""
    rows, errors = [], {}
    for i, bench in enumerate(benches, 1):
        got, error, detail = run_one(s, bench)
        rows += got
        if error:
            errors[bench.NAME] = error
        if s.tap:
            tap_result(not error, i, bench.NAME)
            s.log(detail)
        else:
            s.log('%s: %s' % (bench.NAME,
                              'FAILED: ' + detail if error else 'done in ' + detail))
    return rows, errors
