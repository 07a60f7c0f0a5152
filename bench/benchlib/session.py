# SPDX-License-Identifier: MIT
"""The session: what one `bench/run` knows and owns.

It finds the build's programs, picks the sizes (--quick or full), logs,
mounts fresh daemons and keeps the list of live ones, so that a watchdog,
a timeout or ^C can kill them all: a FUSE request a daemon never answers
holds its caller until the daemon dies.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import threading

from benchlib import BenchError
from benchlib.mount import Mount

# Seconds one benchmark may take before its daemons are killed.
BUDGET_QUICK = 30
BUDGET_FULL = 900


def parse_kv(text):
    """`a=1 b=2.5 c=x` -> {'a': 1, 'b': 2.5, 'c': 'x'}."""
    out = {}
    for tok in text.split():
        if '=' not in tok:
            continue
        k, v = tok.split('=', 1)
        try:
            out[k] = float(v) if ('.' in v or 'e' in v) else int(v)
        except ValueError:
            out[k] = v
    return out


class Watchdog:
    """Calls `fire` if not cancelled within `seconds`; remembers it did."""

    def __init__(self, seconds, fire):
        self.fired = False
        self._fire = fire
        self.timer = threading.Timer(seconds, self._expire)
        self.timer.daemon = True
        self.timer.start()

    def _expire(self):
        self.fired = True
        self._fire()

    def cancel(self):
        self.timer.cancel()


class Session:
    def __init__(self, build, quick=False, tap=False):
        self.build = os.path.abspath(build)
        self.quick, self.tap = quick, tap
        bench = os.path.join(self.build, 'bench')
        self.exe = {'wqfs': os.path.join(self.build, 'fs', 'wqfs'),
                    'nullfs': os.path.join(bench, 'nullfs'),
                    'wqbench': os.path.join(bench, 'wqbench'),
                    'timer': os.path.join(bench, 'timer')}
        self.logdir = tempfile.mkdtemp(prefix='wqfs-bench-logs-')
        self.mounts = []

    # ---- sizes: the full figure, or the tiny one of --quick

    def pick(self, quick, full):
        return quick if self.quick else full

    def reps(self, full):
        return self.pick(1, full)

    def secs(self, full):
        return self.pick(0.1, full)

    # ---- what is needed

    def cannot_run(self):
        """Why no benchmark can run here, or None."""
        missing = [v for v in self.exe.values() if not os.access(v, os.X_OK)]
        if missing:
            return 'not built: ' + ', '.join(missing)
        if not os.access('/dev/fuse', os.R_OK | os.W_OK):
            return 'no usable /dev/fuse'
        if shutil.which('fusermount3') is None:
            return 'no fusermount3'
        return None

    def log(self, msg):
        """Progress and detail: TAP comments with --tap, else stderr."""
        if self.tap:
            for line in msg.splitlines():
                print('# ' + line, flush=True)
        else:
            print(msg, file=sys.stderr, flush=True)

    # ---- daemons

    def mount(self, kind, opts=(), name=None):
        """A fresh wqfs or nullfs mount (a context manager)."""
        return Mount(kind, self.exe[kind], opts, name or kind,
                     self.logdir, self.mounts)

    def kill_daemons(self):
        for m in list(self.mounts):
            m.kill()

    def close_mounts(self):
        for m in list(self.mounts):
            m.close()

    def watchdog(self):
        return Watchdog(self.pick(BUDGET_QUICK, BUDGET_FULL), self.kill_daemons)

    def remove_logs(self):
        shutil.rmtree(self.logdir, ignore_errors=True)

    # ---- helper programs

    def wqbench(self, *args, timeout=600, check=True):
        """Run the load generator; return its key=value line as a dict."""
        cmd = [self.exe['wqbench']] + [str(a) for a in args]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # A FUSE request the daemon never answers holds its writer in D
            # state even after SIGKILL: only the daemon's death frees it.
            self.kill_daemons()
            p.kill()
            p.communicate()
            raise BenchError('%s: no answer in %d s (daemon killed)'
                             % (' '.join(cmd), timeout))
        if check and p.returncode != 0:
            raise BenchError('%s: exit %d: %s %s' % (
                ' '.join(cmd), p.returncode, out.strip(), err.strip()))
        return parse_kv(out)

    def wqbench_reader(self, path, seconds):
        """`wqbench read PATH` in the background; communicate() for its line."""
        return subprocess.Popen([self.exe['wqbench'], 'read', path, '-q',
                                 '-t', str(seconds)],
                                stdout=subprocess.PIPE, text=True)

    def timer(self, pending, samples):
        """One run of the engine-level timer program, as a dict."""
        p = subprocess.run([self.exe['timer'], '-p', str(pending), '-n', str(samples)],
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise BenchError('timer: exit %d: %s' % (p.returncode, p.stderr.strip()))
        return parse_kv(p.stdout)
