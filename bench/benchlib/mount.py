# SPDX-License-Identifier: MIT
"""One daemon (wqfs or nullfs) mounted in the foreground on a fresh dir."""

import os
import signal
import subprocess
import tempfile
import time

from benchlib import BenchError

# Options of every nullfs mount: the same permission checks as wqfs (which
# always mounts with default_permissions) and the same open mode as wqfs's
# control files.
NULLFS_OPTS = ['default_permissions', 'direct_io']

MOUNT_WAIT = 10     # seconds a daemon may take to mount


def is_mounted(path):
    with open('/proc/self/mountinfo') as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4 and fields[4] == path:
                return True
    return False


def proc_status_field(pid, field):
    """The first number of `field:` in /proc/PID/status."""
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise BenchError('no %s for pid %d' % (field, pid))


class Mount:
    """Mounts at construction; close() (or the end of a with block) kills
    the daemon and detaches the mount.  `registry` is the list of live
    mounts of the session: the mount is in it while it is up."""

    def __init__(self, kind, exe, opts, name, logdir, registry):
        self.kind, self.registry, self.closed = kind, registry, False
        self.dir = tempfile.mkdtemp(prefix='wqfs-bench-%s-' % name)
        opts = list(opts) + (NULLFS_OPTS if kind == 'nullfs' else [])
        # wqfs keeps its state (on by default) beside the mount point, not
        # under /var/lib/wqfs: removed with the mount
        self.state = None
        if kind == 'wqfs' and not any(o.startswith('state=') for o in opts):
            self.state = self.dir + '.state.db'
            opts.append('state=' + self.state)
        args = [exe, '-f'] + (['-o', ','.join(opts)] if opts else []) + [self.dir]
        self.logpath = os.path.join(logdir, '%s-%d.log' % (name, id(self)))
        self.log = open(self.logpath, 'w+')
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        registry.append(self)
        try:
            self._wait_mounted(args)
        except BaseException:
            self.close()
            raise

    def _wait_mounted(self, args):
        deadline = time.monotonic() + MOUNT_WAIT
        while not is_mounted(self.dir):
            if self.proc.poll() is not None:
                self.log.seek(0)
                tail = self.log.read()[-2000:].strip()
                raise BenchError('%s %s exited %d: %s' % (
                    self.kind, ' '.join(args), self.proc.returncode, tail))
            if time.monotonic() > deadline:
                raise BenchError('%s did not mount in %d s' % (self.kind, MOUNT_WAIT))
            time.sleep(0.005)

    @property
    def pid(self):
        return self.proc.pid

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def rss(self):
        """VmRSS of the daemon in bytes."""
        return proc_status_field(self.pid, 'VmRSS') * 1024

    def cpu(self):
        """User + system CPU seconds of the daemon (all its threads) so far."""
        with open('/proc/%d/stat' % self.pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        # fields[0] is field 3 (state): utime and stime are fields 14 and 15
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')

    def threads(self):
        return proc_status_field(self.pid, 'Threads')

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()

    def close(self):
        if self.closed:
            return
        self.closed = True
        if self in self.registry:
            self.registry.remove(self)
        self._stop_daemon()
        subprocess.run(['fusermount3', '-u', '-z', self.dir],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for path in [self.dir] + self._state_files():
            try:
                os.rmdir(path) if path == self.dir else os.unlink(path)
            except OSError:
                pass
        self.log.close()

    def _state_files(self):
        if not self.state:
            return []
        return [self.state + tail for tail in ('', '-wal', '-shm', '.lock', '.log')]

    def _stop_daemon(self):
        # wqfs drains queued works at a clean unmount; the benchmarks leave
        # hundreds of thousands of them in frozen queues, so the daemon is
        # killed (a crash, as far as it knows) and the dead mount detached.
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGKILL if self.kind == 'wqfs'
                              else signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
