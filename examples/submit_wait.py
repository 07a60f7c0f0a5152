#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""submit_wait.py QUEUE COMMAND - queue_work + flush_work from a program.

Queues COMMAND on QUEUE (a queue directory of a wqfs mount, e.g.
/run/wqfs/build), reads back the work's id from the same descriptor,
waits for the work (flush_work: the close of `flush` returns once it ran),
prints its output and exits with its exit status, as `tsp -c` and
`pueue wait` do.

The file operations are os.write/os.read on one descriptor: a buffered
open(..., "r+") would need f.flush() and f.seek(0) between the write and
the read.  The work runs as this process, in its directory, with its
environment (the process opened `submit`).
"""

import os
import sys


def submit(queue, command):
    """queue_work; returns the new work's id (its name, w1, w2, ...)."""
    fd = os.open(os.path.join(queue, 'submit'), os.O_RDWR)
    try:
        os.write(fd, (command + '\n').encode())
        return os.read(fd, 256).decode().strip()
    finally:
        os.close(fd)


def flush_work(queue, work):
    """flush_work: returns once the work has run (the close waits)."""
    fd = os.open(os.path.join(queue, 'flush'), os.O_WRONLY)
    try:
        os.write(fd, (work + '\n').encode())
    finally:
        os.close(fd)


def work_status(queue, work):
    """works/WORK/status as a dict."""
    with open(os.path.join(queue, 'works', work, 'status')) as f:
        return dict(line.rstrip('\n').split(': ', 1) for line in f if ': ' in line)


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: submit_wait.py QUEUE COMMAND')
    queue, command = sys.argv[1:]
    work = submit(queue, command)
    flush_work(queue, work)
    with open(os.path.join(queue, 'works', work, 'output'), 'rb') as f:
        sys.stdout.buffer.write(f.read())
    sys.exit(int(work_status(queue, work)['last_exit']))


if __name__ == '__main__':
    main()
