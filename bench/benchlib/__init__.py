# SPDX-License-Identifier: MIT
"""benchlib - what every wqfs benchmark shares (standard library only).

    session   Session: the build's programs, --quick sizes, logging, fresh
              mounts, the load generator, the watchdog
    mount     Mount: one wqfs or nullfs daemon on a fresh directory
    files     control-file I/O: write_file, read_file, make_queue, status
    timing    median, percentiles, alternating pairs, timed bash scripts
    baselines the non-FUSE baselines: clock_nanosleep, a tmpfs file
    rows      Goal and Row: a figure, its baseline and a goal that is
              both the test and its printed text
    report    the table, notes, TAP lines, JSON and the RESULTS.md block
    runner    runs the benchmarks one by one under a watchdog

A benchmark is a module of bench/benches with NAME and run(session),
which returns a list of Row.
"""


class BenchError(Exception):
    """A benchmark could not measure what it measures."""
