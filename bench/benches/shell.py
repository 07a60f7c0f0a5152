# SPDX-License-Identifier: MIT
"""3. shell - `echo cmd > submit` in a bash loop.

The loop timed inside bash ($EPOCHREALTIME) into the `submit` of a frozen
queue, against the same loop into a file on tmpfs; a second row runs it
into nullfs, to split what FUSE costs from what wqfs adds.  Information.
Then the loop against the same loop into nullfs (the goal), and the
daemons' CPU time per echo (their user + system time over the loop).
"""

from benchlib.baselines import shm_file
from benchlib.files import make_queue, status_lines
from benchlib.rows import INFO, Goal, Row
from benchlib.timing import bash_span, median

NAME = 'shell'
NULL_GOAL = Goal.ratio('<=', 1.5, 'nullfs')

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
    """{'tmpfs': [...], 'wqfs': [...], 'nullfs': [...]} us per command, and
    'wqfs-cpu', 'nullfs-cpu': the daemon's CPU us per command."""
    got = {k: [] for k in ('tmpfs', 'wqfs', 'nullfs', 'wqfs-cpu', 'nullfs-cpu')}
    with s.mount('wqfs', ['max_works=16777216'], 'shell') as m, \
            s.mount('nullfs', name='shell-null') as nm:
        q = make_queue(m, 'sh', frozen=True)
        targets = {'tmpfs': shm, 'wqfs': q + '/submit', 'nullfs': nm.path('null')}
        daemon = {'wqfs': m, 'nullfs': nm}
        for _ in range(s.reps(3)):
            for k in ('tmpfs', 'wqfs', 'nullfs'):
                cpu0 = daemon[k].cpu() if k in daemon else 0
                got[k].append(us_per_cmd(targets[k], n))
                if k in daemon:
                    got[k + '-cpu'].append((daemon[k].cpu() - cpu0) / n * 1e6)
        s.log('shell: %s after %d loops of %d'
              % (status_lines(q, 'pending'), s.reps(3), n))
    return got


def pair_ratio(got, a, b):
    """The median of the per-repetition ratios got[a] / got[b] (None if
    every got[b] is 0: a CPU time under one clock tick)."""
    ratios = [x / y for x, y in zip(got[a], got[b]) if y > 0]
    return median(ratios) if ratios else None


def row(got, which, name, note):
    tm = median(got['tmpfs'])
    return Row(NAME, name, 'us/cmd', median(got[which]), tm, 'echo > /dev/shm file',
               pair_ratio(got, which, 'tmpfs'), note=note % (median(got[which]) - tm))


def run(s):
    with shm_file() as shm:
        got = measure(s, shm, s.pick(30, 2000))
    return [row(got, 'wqfs', 'echo > submit (bash loop)',
                'mount cost per command: %.0f us'),
            row(got, 'nullfs', 'echo > nullfs (reference)',
                'FUSE alone per command: %.0f us'),
            Row(NAME, 'echo > submit vs echo > nullfs', 'us/cmd', median(got['wqfs']),
                median(got['nullfs']), 'the loop into nullfs',
                pair_ratio(got, 'wqfs', 'nullfs'), NULL_GOAL),
            Row(NAME, 'daemon CPU per echo', 'us', median(got['wqfs-cpu']),
                median(got['nullfs-cpu']), 'nullfs daemon CPU per echo',
                pair_ratio(got, 'wqfs-cpu', 'nullfs-cpu'),
                note='user + system time of each daemon over the loop (clock ticks)')]
