# SPDX-License-Identifier: MIT
"""3. shell - `echo cmd > submit` in a bash loop.

The loop timed inside bash ($EPOCHREALTIME) into the `submit` of a frozen
queue, against the same loop into a file on tmpfs; a second row runs it
into nullfs, to split what FUSE costs from what wqfs adds.  Information.
"""

from benchlib.baselines import shm_file
from benchlib.files import make_queue, status_lines
from benchlib.rows import Row
from benchlib.timing import bash_span, median

NAME = 'shell'

LOOP = r'''
target=$1 n=$2
t0=$EPOCHREALTIME
for ((i = 0; i < n; i++)); do echo true > "$target"; done
t1=$EPOCHREALTIME
echo "$t0 $t1"
'''


def us_per_cmd(target, n):
    return bash_span(LOOP, target, n) / n * 1e6


def measure(s, shm, n):
    """{'tmpfs': [...], 'wqfs': [...], 'nullfs': [...]} us per command."""
    got = {'tmpfs': [], 'wqfs': [], 'nullfs': []}
    with s.mount('wqfs', ['max_works=16777216'], 'shell') as m, \
            s.mount('nullfs', name='shell-null') as nm:
        q = make_queue(m, 'sh', frozen=True)
        targets = {'tmpfs': shm, 'wqfs': q + '/submit', 'nullfs': nm.path('null')}
        for _ in range(s.reps(3)):
            for k in ('tmpfs', 'wqfs', 'nullfs'):
                got[k].append(us_per_cmd(targets[k], n))
        s.log('shell: %s after %d loops of %d'
              % (status_lines(q, 'pending'), s.reps(3), n))
    return got


def row(got, which, name, note):
    tm = median(got['tmpfs'])
    ratio = median([a / b for a, b in zip(got[which], got['tmpfs'])])
    return Row(NAME, name, 'us/cmd', median(got[which]), tm, 'echo > /dev/shm file',
               ratio, note=note % (median(got[which]) - tm))


def run(s):
    with shm_file() as shm:
        got = measure(s, shm, s.pick(30, 2000))
    return [row(got, 'wqfs', 'echo > submit (bash loop)',
                'mount cost per command: %.0f us'),
            row(got, 'nullfs', 'echo > nullfs (reference)',
                'FUSE alone per command: %.0f us')]
