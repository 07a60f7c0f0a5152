"""wqtrace - parse the rows of a wqfs `trace` file.

A row is LDD3's jiq columns (time delta preempt pid cpu command) followed
by queue, work, event and exit status; a header line and "# lost N rows"
lines are not rows.  Shared by trace_summary.py and trace_to_perfetto.py.
"""

EVENTS = ("queued", "delayed", "start", "end", "cancel")


def parse_row(line):
    """One trace row as a dict, or None for a header or malformed line."""
    f = line.split()
    if len(f) < 10 or f[0] == "time":
        return None
    try:
        t, delta, preempt, pid, cpu = (int(x) for x in f[:5])
    except ValueError:
        return None
    event = f[-2]
    if event not in EVENTS:
        return None
    return {
        "time": t, "delta": delta, "preempt": preempt, "pid": pid,
        "cpu": cpu, "command": " ".join(f[5:-4]), "queue": f[-4],
        "work": f[-3], "event": event, "exit": f[-1],
    }
