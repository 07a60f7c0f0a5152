# SPDX-License-Identifier: MIT
"""13. pg - the PostgreSQL store: what a commit to a server costs.

A throwaway PostgreSQL (scripts/pg-throwaway: a Unix socket, fsync off)
serves a wqfs mounted with state=postgresql://...; one line per write(2)
and 4 KiB batched writes to a frozen queue, against raw one-row INSERT
commits by pgbench (one client, a table of the same shape as works' key)
on the same server, measured alternately in the same run.
"""

import os
import shutil
import subprocess
import tempfile

from benchlib import BenchError
from benchlib.files import make_queue
from benchlib.rows import INFO, Goal, Row
from benchlib.timing import median

NAME = 'pg'
BATCH_GOAL = Goal.ratio('>=', 0.8, 'INSERT commits')
TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
THROWAWAY = os.path.join(TOP, 'scripts', 'pg-throwaway')
INSERT_SQL = ("INSERT INTO w (queue, name, command) VALUES "
              "('q', 'w' || nextval('s'), 'true');\n")


def pg_bin(name):
    d = sorted(x for x in os.listdir('/usr/lib/postgresql') if x.isdigit())
    if not d:
        raise BenchError('no PostgreSQL server: apt-get install postgresql')
    return os.path.join('/usr/lib/postgresql', d[-1], 'bin', name)


class Server:
    """A throwaway server for the length of a with block."""

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix='wqfs-bench-pg-')
        subprocess.run([THROWAWAY, 'start', self.dir], check=True,
                       stdout=subprocess.DEVNULL)
        self.psql('CREATE TABLE w (queue text, name text, command text,'
                  ' PRIMARY KEY (queue, name)); CREATE SEQUENCE s;')
        return self

    def __exit__(self, *exc):
        subprocess.run([THROWAWAY, 'stop', self.dir], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def uri(self, db='wqfs'):
        return 'postgresql:///%s?host=%s&user=wqfs' % (db, self.dir)

    def psql(self, sql, db='wqfs'):
        subprocess.run(['psql', '-qX', self.uri(db), '-c', sql], check=True,
                       stdout=subprocess.DEVNULL)

    def new_db(self, name):
        self.psql('CREATE DATABASE %s' % name)
        return self.uri(name)

    def insert_tps(self, seconds):
        """pgbench: one client, one INSERT per transaction, for seconds."""
        script = os.path.join(self.dir, 'insert.sql')
        with open(script, 'w') as f:
            f.write(INSERT_SQL)
        out = subprocess.run([pg_bin('pgbench'), '-n', '-c', '1', '-f', script,
                              '-T', str(max(1, int(seconds))), '-h', self.dir,
                              '-U', 'wqfs', 'wqfs'],
                             check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith('tps = '):
                return float(line.split()[2])
        raise BenchError('pgbench printed no tps: ' + out)


def works_per_s(s, path, args, seconds):
    o = s.wqbench('write', path, 'true', *args, '-t', seconds)
    return o['lines'] / o['seconds']


def run(s):
    rows = []
    with Server() as pg, \
            s.mount('wqfs', ['max_works=16777216', 'state=' + pg.new_db('bench')],
                    'pg') as m:
        for i, (label, args, goal) in enumerate((('1 line/write', ['-k', 1], INFO),
                                                 ('4 KiB writes', ['-b', 4096], BATCH_GOAL))):
            wqfs, base, ratios = [], [], []
            for r in range(s.reps(3)):
                q = make_queue(m, 'p%d-%d' % (i, r), frozen=True)
                w = works_per_s(s, q + '/submit', args, s.secs(1.0))
                b = pg.insert_tps(s.secs(1.0))
                wqfs.append(w)
                base.append(b)
                ratios.append(w / b)
            rows.append(Row(NAME, 'state=postgresql, %s' % label, 'works/s',
                            median(wqfs), median(base), 'INSERT commits/s (pgbench, 1 client)',
                            median(ratios), goal))
    return rows
