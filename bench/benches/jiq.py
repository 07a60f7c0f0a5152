# SPDX-License-Identifier: MIT
"""8. jiq - the LDD3 demo.

Time to read one page of `jiqwq` and of `jiqwqdelay` (open to EOF) on a
mount with hz=250, 5 times.  jiqwq is shown against one read of the root
`status` (information); jiqwqdelay against its rows x one jiffy.
"""

from benchlib import BenchError
from benchlib.rows import Goal, Row
from benchlib.timing import median, timed_read

NAME = 'jiq'
HZ = 250
DELAY_GOAL = Goal.ratio('<=', 1.25, 'rows x jiffy')


def count_rows(text):
    """Rows of a jiq page, its header (`time ...`) not counted."""
    return len([ln for ln in text.splitlines()
                if ln.strip() and not ln.lstrip().startswith('time')])


def measure(s):
    """{'status': [s], 'jiqwq': [(s, rows)], 'jiqwqdelay': [(s, rows)]}."""
    got = {'status': [], 'jiqwq': [], 'jiqwqdelay': []}
    with s.mount('wqfs', ['hz=%d' % HZ], 'jiq') as m:
        for _ in range(s.reps(5)):
            got['status'].append(timed_read(m.path('status'))[0])
            for f in ('jiqwq', 'jiqwqdelay'):
                dt, text = timed_read(m.path(f))
                got[f].append((dt, count_rows(text)))
    if min(n for _, n in got['jiqwq'] + got['jiqwqdelay']) == 0:
        raise BenchError('jiq: no rows read (%r, %r)' % (
            [n for _, n in got['jiqwq']], [n for _, n in got['jiqwqdelay']]))
    return got


def run(s):
    got = measure(s)
    wq_t, wq_n = (median(x) for x in zip(*got['jiqwq']))
    wd_t, wd_n = (median(x) for x in zip(*got['jiqwqdelay']))
    ratio = median([t / (n / HZ) for t, n in got['jiqwqdelay']])
    return [
        Row(NAME, 'read jiqwq (%d rows)' % wq_n, 'ms', wq_t * 1e3,
            median(got['status']) * 1e3, 'read root status',
            note='%.1f us per row' % (wq_t / wq_n * 1e6)),
        Row(NAME, 'read jiqwqdelay (%d rows, hz=%d)' % (wd_n, HZ), 'ms', wd_t * 1e3,
            wd_n / HZ * 1e3, 'rows x 1 jiffy', ratio, DELAY_GOAL),
    ]
