# SPDX-License-Identifier: MIT
"""4. e2e - N `true` works, end to end.

wqfs: one write of N lines `true` to `submit` of an unbound queue with
max_active 2, then `echo > flush`; timed from the write to the flush's
return.  Against, alternating, 3 times: xargs -P2, task-spooler with 2
slots and nq (one job at a time), each where installed.
"""

import os
import shutil
import subprocess
import tempfile
import time

from benchlib import BenchError
from benchlib.files import make_queue, status_dict, write_file
from benchlib.rows import INFO, Goal, Row
from benchlib.timing import bash_span, median

NAME = 'e2e'
XARGS_GOAL = Goal.ratio('<=', 1.0, 'xargs')
TSP_GOAL = Goal.ratio('<=', 0.4, 'tsp')

TSP_SCRIPT = r'''
n=$1 tsp=$2
$tsp -K >/dev/null 2>&1 || true
$tsp -S 2 >/dev/null
t0=$EPOCHREALTIME
for ((i = 0; i < n; i++)); do $tsp -n sh -c true >/dev/null; done
$tsp -w >/dev/null 2>&1 || true
while [ "$($tsp -l | awk '$2 == "finished"' | wc -l)" -lt "$n" ]; do sleep 0.002; done
t1=$EPOCHREALTIME
$tsp -K >/dev/null 2>&1 || true
echo "$t0 $t1"
'''

NQ_SCRIPT = r'''
n=$1
t0=$EPOCHREALTIME
for ((i = 0; i < n; i++)); do nq -q sh -c true; done
nq -w
t1=$EPOCHREALTIME
echo "$t0 $t1"
'''

XARGS_SCRIPT = r'''
input=$1
t0=$EPOCHREALTIME
xargs -P2 -n1 sh -c < "$input"
t1=$EPOCHREALTIME
echo "$t0 $t1"
'''


def find_tsp():
    """task-spooler's program (Debian names it tsp, others ts), or None."""
    for name in ('tsp', 'ts'):
        exe = shutil.which(name)
        if exe is None:
            continue
        p = subprocess.run([exe, '-V'], capture_output=True, text=True)
        if 'spooler' in (p.stdout + p.stderr).lower():
            return exe
    return None


def wqfs_once(q, payload):
    t0 = time.monotonic()
    fd = os.open(q + '/submit', os.O_WRONLY)
    os.write(fd, payload)
    os.close(fd)
    write_file(q + '/flush', '\n')
    return time.monotonic() - t0


def contenders(tmp, n):
    """{name: function of the run number -> seconds} for what is here."""
    inp = os.path.join(tmp, 'input')
    with open(inp, 'w') as f:
        f.write('true\n' * n)
    out = {'xargs': lambda r: bash_span(XARGS_SCRIPT, inp)}
    tsp = find_tsp()
    if tsp:
        env = {'TS_SOCKET': os.path.join(tmp, 'ts.sock'), 'TMPDIR': tmp,
               'TS_MAXFINISHED': str(10 * n)}
        out['tsp'] = lambda r: bash_span(TSP_SCRIPT, n, tsp, env=env)
    if shutil.which('nq'):
        out['nq'] = lambda r: bash_span(
            NQ_SCRIPT, n, env={'NQDIR': os.path.join(tmp, 'nq%d' % r)})
    return out


def check_completed(s, q, expected):
    st = status_dict(q)
    s.log('e2e: queue status completed=%s failed=%s'
          % (st.get('completed'), st.get('failed')))
    if st.get('completed') not in (None, str(expected)):
        raise BenchError('e2e: %s works completed, expected %d'
                         % (st.get('completed'), expected))


def measure(s, tmp, n):
    """{'wqfs': [s...], 'xargs': [...], ...}, alternating run by run."""
    others = contenders(tmp, n)
    res = {k: [] for k in ['wqfs'] + list(others)}
    with s.mount('wqfs', [], 'e2e') as m:
        # Unbound, max_active 2: two works at once anywhere, as xargs -P2
        # and tsp -S 2 run two at once.
        q = make_queue(m, 'e2e', per_cpu=0, max_active=2)
        for r in range(s.reps(3)):
            res['wqfs'].append(wqfs_once(q, b'true\n' * n))
            for k, fn in others.items():
                res[k].append(fn(r))
        check_completed(s, q, n * s.reps(3))
    return res


def rows(res, n):
    w = median(res['wqfs'])

    def vs(k, name, desc, goal, note=''):
        ratio = median([a / b for a, b in zip(res['wqfs'], res[k])])
        return Row(NAME, name, 's', w, median(res[k]), desc, ratio, goal, note)

    out = [vs('xargs', '%d true: submit+flush vs xargs -P2' % n, 'xargs -P2 -n1 sh -c',
              XARGS_GOAL, 'queue unbound, max_active 2')]
    if 'tsp' in res:
        out.append(vs('tsp', '%d true vs task-spooler -S 2' % n,
                      'tsp -S 2 -n sh -c true', TSP_GOAL))
    else:
        out.append(Row(NAME, 'vs task-spooler', 's', w, None, 'tsp not installed',
                       goal=TSP_GOAL))
    if 'nq' in res:
        out.append(vs('nq', '%d true vs nq (1 slot)' % n, 'nq sh -c true; nq -w',
                      INFO, 'nq runs one job at a time'))
    return out


def run(s):
    n = s.pick(20, 500)
    tmp = tempfile.mkdtemp(prefix='wqfs-bench-e2e-')
    try:
        res = measure(s, tmp, n)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows(res, n)
