# SPDX-License-Identifier: MIT
"""14. cluster - several daemons on one PostgreSQL database.

Each measurement mounts its daemons on a new database of one throwaway
PostgreSQL (scripts/pg-throwaway), nodes n1, n2, n3 (-o node=):
- claim-to-start: one work at a time (`date +%s.%N; echo $WQ_NODE`)
  written to an unbound queue's submit on n1 with n2 up, then `flush
  NAME` on n1; the time from the write to the start the work printed, of
  the works that started on n2, p50 and p99.  Baseline: the same on one
  daemon alone, sample by sample alternately.
- throughput: N `true` works in one write on n1, then `echo > flush` on
  n1, over 1, 2 and 3 nodes with an unbound queue of max_active 2 per node
  (2, 4, 6 slots cluster-wide).  Baseline: xargs -P with as many slots,
  alternately.
- claims under an old snapshot: the same over 2 nodes while another
  session holds a transaction open (which holds vacuum back and keeps the
  mirror's passes reading from its xmin on).  Baseline: the same with no
  such transaction, alternately.
- recovery: the node running a `sleep` work of a per-CPU queue is killed
  (SIGKILL); seconds until the work is `lost` as n1 reads it, against the
  15 s a dead node's works may take.
"""

import itertools
import os
import signal
import subprocess
import tempfile
import time

from benchlib import BenchError
from benchlib.files import make_queue, read_file, status_dict, write_file
from benchlib.rows import INFO, Goal, Row
from benchlib.timing import alternating, bash_span, median, pct_of
from benches.pg import Server

NAME = 'cluster'
RECOVERY_GOAL = Goal.figure('<=', 15, '(a dead node: 15 s)')
START_GOAL = Goal.figure('<=', 20, '(p99: 20 ms)')
OPTS = ['max_works=16777216', 'drain_timeout=1']
DB_NUMBERS = itertools.count(1)     # a new database per cluster
POLL = 0.01         # seconds between two reads of a status being waited for

XARGS_SCRIPT = r'''
input=$1 slots=$2
t0=$EPOCHREALTIME
xargs -P"$slots" -n1 sh -c < "$input"
t1=$EPOCHREALTIME
echo "$t0 $t1"
'''


class Cluster:
    """n daemons on a new database of `pg`, for a with block."""

    def __init__(self, s, pg, n, tag):
        self.s, self.db = s, pg.new_db('%s_%d' % (tag, next(DB_NUMBERS)))
        self.nodes = []
        for i in range(1, n + 1):
            self.nodes.append(s.mount('wqfs', OPTS + ['state=' + self.db, 'node=n%d' % i],
                                      'cluster-%s-n%d' % (tag, i)))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for m in self.nodes:
            m.close()


def wait_for(what, fn, limit):
    """Poll fn() until it is true; the seconds it took."""
    t0 = time.monotonic()
    while not fn():
        if time.monotonic() - t0 > limit:
            raise BenchError('cluster: %s not within %d s' % (what, limit))
        time.sleep(POLL)
    return time.monotonic() - t0


def seen_everywhere(c, queue, key, value):
    """Wait until every node's queue status has key: value."""
    def everywhere():
        try:
            return all(status_dict(m.path(queue)).get(key) == value for m in c.nodes)
        except OSError:
            return False
    wait_for('queue %s with %s %s on every node' % (queue, key, value), everywhere, 10)


def unbound_queue(c, name, max_active):
    q = make_queue(c.nodes[0], name, per_cpu=0, max_active=max_active)
    seen_everywhere(c, name, 'max_active', str(max_active))
    seen_everywhere(c, name, 'per_cpu', '0')
    return q


def work_state(m, queue, work):
    """The state: field of a work's status on mount m ('' if unreadable)."""
    try:
        text = read_file(m.path(queue, 'works', work, 'status'))
    except OSError:
        return ''
    return dict(l.split(': ', 1) for l in text.splitlines() if ': ' in l).get('state', '')


# ---- claim-to-start

def start_sample(q, name):
    """(seconds from the write to the work's start, the node it ran on)."""
    t0 = time.time()
    write_file(q + '/submit', '%s: date +%%s.%%N; echo $WQ_NODE\n' % name)
    write_file(q + '/flush', name + '\n')
    started, node = read_file(os.path.join(q, 'works', name, 'output')).split()
    return float(started) - t0, node


# Which node claims a work is a race (about a third go to n2): the
# samples go on past n until REMOTE_MIN started on n2, up to n_max.
REMOTE_MIN = 3


def start_latencies(s, pg):
    """Samples on one daemon alone and on n1 with n2 up, alternately:
    (alone [s], cluster [(s, node)])."""
    n, n_max = s.pick(10, 200), s.pick(100, 400)
    alone, both = [], []
    with Cluster(s, pg, 1, 'one') as one, Cluster(s, pg, 2, 'two') as two:
        qa, qc = unbound_queue(one, 'q', 2), unbound_queue(two, 'q', 2)
        for i in range(n_max):
            if i >= n and sum(node != 'n1' for _, node in both) >= REMOTE_MIN:
                break
            alone.append(start_sample(qa, 's%d' % i)[0])
            both.append(start_sample(qc, 's%d' % i))
    return alone, both


def start_rows(s, pg):
    alone, both = start_latencies(s, pg)
    remote = sorted(t for t, node in both if node != 'n1')
    alone.sort()
    note = '%d of %d works started on n2' % (len(remote), len(both))
    rows = []
    for label, p in (('p50', 0.5), ('p99', 0.99)):
        w = pct_of(remote, p) * 1e3 if remote else None
        rows.append(Row(NAME, 'submit on n1 to start on n2, %s' % label, 'ms', w,
                        pct_of(alone, p) * 1e3, 'the same on one daemon',
                        goal=START_GOAL if label == 'p99' else INFO, note=note))
    return rows


# ---- throughput

def cluster_run(s, pg, nodes, n, payload):
    """Seconds of one write of n `true` on n1 and a flush on n1."""
    with Cluster(s, pg, nodes, 'tp%d' % nodes) as c:
        q = unbound_queue(c, 'q', 2 * nodes)
        t0 = time.monotonic()
        write_file(q + '/submit', payload)
        write_file(q + '/flush', '\n')
        took = time.monotonic() - t0
        # completed sums every node's counters: the other nodes' come with
        # the next pass of n1's mirror
        wait_for('%d works completed on %d nodes' % (n, nodes),
                 lambda: status_dict(q).get('completed') == str(n), 10)
    return took


class OldSnapshot:
    """A session holding a transaction (and its snapshot) open, for a with
    block."""

    def __init__(self, pg):
        self.p = subprocess.Popen(['psql', '-qX', pg.uri()], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, text=True)
        self.p.stdin.write('BEGIN ISOLATION LEVEL REPEATABLE READ;'
                           ' SELECT txid_current(); SELECT count(*) FROM w;\n')
        self.p.stdin.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.p.stdin.write('ROLLBACK;\n')
        self.p.stdin.close()
        self.p.wait()


def old_snapshot_rows(s, pg):
    n = s.pick(50, 5000)
    payload = b'true\n' * n

    def held(r):
        with OldSnapshot(pg):
            return cluster_run(s, pg, 2, n, payload)
    wq, base, ratios = alternating(s.reps(3), lambda r: cluster_run(s, pg, 2, n, payload),
                                   held)
    return [Row(NAME, '%d true over 2 nodes, a transaction held open' % n, 's',
                median(wq), median(base), 'the same with none', median(ratios), INFO)]


def throughput_rows(s, pg):
    n = s.pick(50, 10000)
    payload = b'true\n' * n
    fd, inp = tempfile.mkstemp(prefix='wqfs-bench-cluster-')
    os.write(fd, payload)
    os.close(fd)
    rows = []
    try:
        for nodes in (1, 2, 3):
            slots = 2 * nodes
            wq, xa, ratios = alternating(
                s.reps(3), lambda r: bash_span(XARGS_SCRIPT, inp, slots),
                lambda r: cluster_run(s, pg, nodes, n, payload))
            rows.append(Row(NAME, '%d true over %d node(s), %d slots' % (n, nodes, slots),
                            's', median(wq), median(xa), 'xargs -P%d -n1 sh -c' % slots,
                            median(ratios), INFO))
    finally:
        os.unlink(inp)
    return rows


# ---- recovery

def kill_marked(marker):
    """SIGKILL, by pid, the processes whose command line has marker."""
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                if marker.encode() in f.read():
                    os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass


def recovery_rows(s, pg):
    marker = 'sleep 1000.%d' % os.getpid()
    with Cluster(s, pg, 3, 'rec') as c:
        n1, n2 = c.nodes[0], c.nodes[1]
        try:
            os.mkdir(n2.path('q'))
            write_file(n2.path('q', 'submit'), 'l: %s\n' % marker)
            wait_for('l running', lambda: work_state(n1, 'q', 'l') == 'running', 10)
            n2.kill()
            took = wait_for('l lost', lambda: work_state(n1, 'q', 'l') == 'lost', 60)
        finally:
            kill_marked(marker)     # n2 died by SIGKILL: nobody stops it
    return [Row(NAME, 'kill -9 of a node: its running work lost on n1', 's', took,
                None, '', goal=RECOVERY_GOAL)]


def run(s):
    with Server() as pg:
        return (start_rows(s, pg) + throughput_rows(s, pg) + old_snapshot_rows(s, pg) +
                recovery_rows(s, pg))
