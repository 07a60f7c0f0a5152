#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""trace_summary.py - a live per-queue summary of what wqfs's workers do.

    examples/trace_summary.py [MOUNTPOINT] [--queue NAME] [--seconds N]

Follows MOUNTPOINT/trace (or MOUNTPOINT/NAME/trace with --queue), the
endless stream of work events, the way a monitor follows tracefs's
trace_pipe: the file is opened non-blocking and poll() says when rows are
there.  Every second it prints one table, a row per queue seen so far:

    queued    works queued (queue_work) or armed (queue_delayed_work)
    started   works a worker began to run
    finished  works that ended with exit status 0
    failed    works that ended with another status
    running   started - finished - failed: running now
    cancel    works cancelled while pending (cancel_*_work_sync)

The counts start when the script starts: trace shows events from the
moment it is opened.  --seconds N prints the last table after N seconds
and exits (without it, Ctrl-C stops it).  Python 3 standard library only.

Trace rows (fs/trace.h): the jiq columns, then queue, work, event, exit:
    "    time  delta preempt   pid cpu command queue work event exit"
with event one of queued delayed start end cancel; exit is the work's
result for "end" and "-" otherwise.  "# lost N rows" says this reader fell
behind and missed N rows.
"""

import argparse
import errno
import os
import select
import signal
import sys
import time

from wqtrace import parse_row

COLUMNS = ("queued", "started", "finished", "failed", "running", "cancel")


class Summary:
    def __init__(self):
        self.queues = {}        # name -> {column: count}
        self.rows = 0
        self.lost = 0
        self.bad = 0

    def add_line(self, line):
        if line.startswith("# lost"):
            try:
                self.lost += int(line.split()[2])
            except (IndexError, ValueError):
                self.bad += 1
            return
        if not line.strip() or line.lstrip().startswith("time"):
            return
        row = parse_row(line)
        if row is None:
            self.bad += 1
            return
        self.rows += 1
        q = self.queues.setdefault(row["queue"], dict.fromkeys(COLUMNS, 0))
        ev = row["event"]
        if ev in ("queued", "delayed"):
            q["queued"] += 1
        elif ev == "start":
            q["started"] += 1
        elif ev == "end":
            if row["exit"] == "0":
                q["finished"] += 1
            else:
                q["failed"] += 1
        elif ev == "cancel":
            q["cancel"] += 1
        q["running"] = q["started"] - q["finished"] - q["failed"]

    def table(self, elapsed):
        out = ["--- %.1f s: %d rows, %d lost%s" % (
            elapsed, self.rows, self.lost,
            ", %d unparsed" % self.bad if self.bad else "")]
        out.append("%24s" % "queue" + "".join("%9s" % c for c in COLUMNS))
        for name in sorted(self.queues):
            q = self.queues[name]
            out.append("%24s" % name[-24:] +
                       "".join("%9d" % q[c] for c in COLUMNS))
        return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mount", nargs="?",
                    default=os.environ.get("WQFS", "/run/wqfs"),
                    help="the wqfs mount point (default $WQFS or /run/wqfs)")
    ap.add_argument("--queue", help="follow only this queue's trace")
    ap.add_argument("--seconds", type=float,
                    help="stop after this many seconds (default: never)")
    ap.add_argument("--interval", type=float, default=1.0,
                    help="seconds between tables (default 1)")
    args = ap.parse_args()

    path = os.path.join(args.mount, args.queue, "trace") if args.queue \
        else os.path.join(args.mount, "trace")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        sys.exit("trace_summary: %s: %s" % (path, e.strerror))

    # SIGTERM ends the loop like the deadline does: the last table is printed.
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))

    poller = select.poll()
    poller.register(fd, select.POLLIN)
    summary = Summary()
    pending = b""
    start = time.monotonic()
    next_tick = start + args.interval
    end = start + args.seconds if args.seconds is not None else None
    eof = False
    try:
        while not stopping and not eof:
            now = time.monotonic()
            if end is not None and now >= end:
                break
            if now >= next_tick:
                print(summary.table(now - start), flush=True)
                next_tick += args.interval
                continue
            wake = next_tick if end is None else min(next_tick, end)
            try:
                ready = poller.poll(max(0, int((wake - now) * 1000)) + 1)
            except InterruptedError:
                continue
            for _, mask in ready:
                if mask & (select.POLLERR | select.POLLNVAL):
                    sys.exit("trace_summary: poll error on %s" % path)
                # Drain what is there; EAGAIN means "nothing more for now".
                while True:
                    try:
                        data = os.read(fd, 65536)
                    except BlockingIOError:
                        break
                    except InterruptedError:
                        continue
                    except OSError as e:
                        if e.errno == errno.EAGAIN:
                            break
                        raise
                    if not data:        # the mount went away
                        eof = True
                        break
                    pending += data
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        summary.add_line(line.decode("utf-8", "replace"))
                if mask & select.POLLHUP and not eof:
                    eof = True
    except KeyboardInterrupt:
        pass
    finally:
        os.close(fd)
    print(summary.table(time.monotonic() - start), flush=True)
    print("--- end", flush=True)


if __name__ == "__main__":
    main()
