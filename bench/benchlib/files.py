# SPDX-License-Identifier: MIT
"""Reading and writing a mount's control files."""

import os

from benchlib import BenchError


def write_file(path, data):
    """One write(2) of all of `data`; a short write is an error."""
    fd = os.open(path, os.O_WRONLY)
    try:
        b = data.encode() if isinstance(data, str) else data
        n = os.write(fd, b)
        if n != len(b):
            raise BenchError('short write to %s: %d of %d' % (path, n, len(b)))
    finally:
        os.close(fd)


def read_file(path):
    with open(path) as f:
        return f.read()


def make_queue(m, name, frozen=False, per_cpu=None, max_active=None):
    """mkdir a queue on mount `m`, set its attributes; return its path."""
    q = m.path(name)
    os.mkdir(q)
    if per_cpu is not None:
        write_file(os.path.join(q, 'per_cpu'), '%d\n' % per_cpu)
    if max_active is not None:
        write_file(os.path.join(q, 'max_active'), '%d\n' % max_active)
    if frozen:
        write_file(os.path.join(q, 'frozen'), '1\n')
    return q


def status_lines(queue, *prefixes):
    """The lines of the queue's status that start with one of `prefixes`."""
    return [line for line in read_file(os.path.join(queue, 'status')).splitlines()
            if line.startswith(prefixes)]


def status_dict(queue):
    """The queue's status as {'key': 'value'}."""
    text = read_file(os.path.join(queue, 'status'))
    return dict(line.split(': ', 1) for line in text.splitlines() if ': ' in line)
