#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""trace_to_perfetto.py - a captured wqfs trace as a Perfetto/Chrome timeline.

    timeout 10 cat /run/wqfs/trace > run.trace     # capture while work runs
    examples/trace_to_perfetto.py run.trace -o run.json [--hz 250]

then open run.json in ui.perfetto.dev (or chrome://tracing).  The picture
has one process per queue and, inside it, one track per worker thread (the
trace's pid column is the worker's thread id, its command column the
thread's name, "QUEUE/CPU"); each run of a work is a slice from its
"start" row to its "end" row, named after the work, with the exit status,
the CPU and the work's name in its arguments.  queued, delayed and cancel
rows are instant markers on the queue's process; "# lost N rows" lines
become global markers.  A work still running when the capture stopped is
drawn up to the last row and marked unfinished.

Input: trace rows (fs/trace.h), header lines allowed anywhere:
    "    time  delta preempt   pid cpu command queue work event exit"
time is in jiffies: --hz must match the mount's hz option (default 250).
Output: the Trace Event Format's JSON object form, {"traceEvents": [...]},
with "X" (complete), "i" (instant) and "M" (metadata) events.
Python 3 standard library only.
"""

import argparse
import json
import sys

from wqtrace import parse_row

# Queues are drawn as processes with made-up pids above any real pid
# (pid_max is at most 2^22), so they never collide with a worker's tid.
QUEUE_PID_BASE = 10_000_000


def convert(lines, hz):
    """Trace text lines -> list of trace events (dicts)."""
    us_per_jiffy = 1_000_000 / hz
    queue_pid = {}              # queue name -> synthetic pid
    threads = {}                # (pid, tid) -> thread name
    running = {}                # (queue, work) -> start row
    events = []
    last_ts = 0.0
    unparsed = 0

    def qpid(name):
        if name not in queue_pid:
            queue_pid[name] = QUEUE_PID_BASE + len(queue_pid)
        return queue_pid[name]

    for line in lines:
        line = line.rstrip("\n")
        if line.startswith("# lost"):
            events.append({"name": line[2:], "ph": "i", "s": "g",
                           "ts": last_ts, "pid": 0, "tid": 0})
            continue
        if not line.strip() or line.lstrip().startswith("time"):
            continue
        row = parse_row(line)
        if row is None:
            unparsed += 1
            continue
        ts = row["time"] * us_per_jiffy
        last_ts = max(last_ts, ts)
        pid = qpid(row["queue"])
        key = (row["queue"], row["work"])
        ev = row["event"]
        if ev == "start":
            threads[(pid, row["pid"])] = row["command"]
            running[key] = dict(row, ts=ts)
        elif ev == "end":
            st = running.pop(key, None)
            if st is None:      # its start was before the capture, or lost
                continue
            events.append({
                "name": row["work"], "cat": row["queue"], "ph": "X",
                "ts": st["ts"], "dur": max(0.0, ts - st["ts"]),
                "pid": pid, "tid": st["pid"],
                "args": {"work": row["work"], "exit": row["exit"],
                         "cpu": st["cpu"], "start_jiffies": st["time"],
                         "end_jiffies": row["time"]},
            })
        else:                   # queued, delayed, cancel: a marker
            events.append({
                "name": "%s %s" % (ev, row["work"]), "cat": row["queue"],
                "ph": "i", "s": "p", "ts": ts, "pid": pid, "tid": pid,
                "args": {"by_tid": row["pid"], "by": row["command"],
                         "cpu": row["cpu"]},
            })

    for (queue, work), st in running.items():   # still running at the end
        events.append({
            "name": work, "cat": queue, "ph": "X", "ts": st["ts"],
            "dur": max(0.0, last_ts - st["ts"]),
            "pid": queue_pid[queue], "tid": st["pid"],
            "args": {"work": work, "exit": None, "unfinished": True,
                     "cpu": st["cpu"], "start_jiffies": st["time"]},
        })

    meta = []
    for name, pid in queue_pid.items():
        meta.append({"name": "process_name", "ph": "M", "pid": pid,
                     "args": {"name": "queue " + name}})
        meta.append({"name": "process_sort_index", "ph": "M", "pid": pid,
                     "args": {"sort_index": pid - QUEUE_PID_BASE}})
    for (pid, tid), name in sorted(threads.items()):
        meta.append({"name": "thread_name", "ph": "M", "pid": pid,
                     "tid": tid, "args": {"name": name}})
    if unparsed:
        print("trace_to_perfetto: %d lines did not parse" % unparsed,
              file=sys.stderr)
    return meta + sorted(events, key=lambda e: e["ts"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("trace", nargs="?", default="-",
                    help="a file of trace rows (default: standard input)")
    ap.add_argument("-o", "--output", default="-",
                    help="the JSON file to write (default: standard output)")
    ap.add_argument("--hz", type=int, default=250,
                    help="jiffies per second of the mount (default 250)")
    args = ap.parse_args()
    if args.hz <= 0:
        ap.error("--hz must be positive")

    try:
        if args.trace == "-":
            events = convert(sys.stdin, args.hz)
        else:
            with open(args.trace, encoding="utf-8", errors="replace") as f:
                events = convert(f, args.hz)
    except OSError as e:
        sys.exit("trace_to_perfetto: %s: %s" % (args.trace, e.strerror))

    doc = {"traceEvents": events, "displayTimeUnit": "ms",
           "otherData": {"source": "wqfs trace", "hz": args.hz}}
    if args.output == "-":
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        try:
            with open(args.output, "w", encoding="utf-8") as f:
                json.dump(doc, f, indent=1)
                f.write("\n")
        except OSError as e:
            sys.exit("trace_to_perfetto: %s: %s" % (args.output, e.strerror))


if __name__ == "__main__":
    main()
