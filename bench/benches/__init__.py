# SPDX-License-Identifier: MIT
"""The benchmarks, one module each, in the order of the table.

A benchmark module has NAME (its --only name and the first word of its
rows), a docstring (what it measures, against what) and run(session),
which mounts what it needs and returns its rows (benchlib.rows.Row).
bench/README.md describes each.
"""

from benches import (batch, cluster, e2e, jiq, pg, requests, restart, scale, shell, state,
                     submit, timer, trace, waiters)

ALL = [submit, batch, shell, requests, e2e, timer, scale, trace, jiq, waiters, state, restart,
       pg, cluster]


def select(only=None):
    """The modules named in `only` ("a,b"), in table order; all if None."""
    if not only:
        return list(ALL)
    want = only.split(',')
    return [b for b in ALL if b.NAME in want]
