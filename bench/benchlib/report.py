# SPDX-License-Identifier: MIT
"""Output: the table (text or Markdown), notes, TAP lines, JSON, and the
block of RESULTS.md between its results markers."""

import json
import os
import platform
import subprocess
import time

from benchlib.rows import fmt_num

HEAD = ['benchmark', 'wqfs', 'baseline', 'ratio', 'goal', 'met']
MD_BEGIN, MD_END = '<!-- results:begin -->', '<!-- results:end -->'
MD_HEADER = ('# wqfs benchmark results\n\nThe table is written by `bench/run`; '
             'the analysis below it is written by hand.\n\n')


# ---------------------------------------------------------------- context

def _first_line(path, prefix):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line
    except OSError:
        pass
    return None


def machine():
    """Cores, CPU model, memory, kernel and libfuse of this machine."""
    cpu = _first_line('/proc/cpuinfo', 'model name')
    mem = _first_line('/proc/meminfo', 'MemTotal')
    fuse = subprocess.run(['pkg-config', '--modversion', 'fuse3'],
                          capture_output=True, text=True).stdout.strip()
    return dict(cores=os.cpu_count(), kernel=platform.release(),
                cpu=cpu.split(':', 1)[1].strip() if cpu else '',
                memory='%.1f GiB' % (int(mem.split()[1]) / 1048576) if mem else '',
                libfuse=fuse)


def command_line(argv, top):
    """The command as the user typed it, with no path of this machine in
    it: paths in the source tree relative to it, other absolute ones BUILD."""
    def clean(a):
        if os.path.isabs(a) and a.startswith(top + os.sep):
            return os.path.relpath(a, top)
        return 'BUILD' if os.path.isabs(a) else a
    return 'bench/run ' + ' '.join(clean(a) for a in argv)


# ------------------------------------------------------------------ table

def met_text(m):
    return {True: 'met', False: 'NOT MET', None: '-'}[m]


def cells(r):
    """The six columns of row `r`, as text."""
    unit = ' ' + r.unit if r.unit else ''
    baseline = r.baseline_desc
    if r.baseline is not None:
        baseline = '%s (%s)' % (fmt_num(r.baseline) + unit, r.baseline_desc)
    return [r.title, fmt_num(r.wqfs) + unit, baseline,
            '%.3gx' % r.ratio if r.ratio is not None else '-',
            r.goal_text or '-', met_text(r.met)]


def table_lines(rows, markdown=False):
    body = [cells(r) for r in rows]
    if markdown:
        out = ['| ' + ' | '.join(HEAD) + ' |',
               '|' + '|'.join(['---'] * len(HEAD)) + '|']
        return out + ['| ' + ' | '.join(c.replace('|', '\\|') for c in b) + ' |'
                      for b in body]
    widths = [max(len(x[i]) for x in [HEAD] + body) for i in range(len(HEAD))]

    def line(cs):
        return '  '.join(c.ljust(w) for c, w in zip(cs, widths)).rstrip()
    return [line(HEAD), '  '.join('-' * w for w in widths)] + [line(b) for b in body]


def row_notes(rows):
    return ['%s — %s' % (r.title, r.note) for r in rows if r.note]


def failures(errors):
    return ['FAILED %s: %s' % kv for kv in errors.items()]


def text_report(rows, errors):
    """The table, then its notes and failures, indented."""
    return (table_lines(rows) + ['  ' + n for n in row_notes(rows)]
            + ['  ' + f for f in failures(errors)])


# -------------------------------------------------------------------- TAP

def tap_plan(n):
    print('1..%d' % n, flush=True)


def tap_result(ok, i, name, directive=''):
    print('%s %d - %s%s' % ('ok' if ok else 'not ok', i, name,
                            ' # ' + directive if directive else ''), flush=True)


# ------------------------------------------------------------------- files

def write_json(path, rows, errors, command, quick, mach):
    result = dict(command=command, quick=quick, machine=mach,
                  date=time.strftime('%Y-%m-%dT%H:%M:%S%z'),
                  rows=[r.as_dict() for r in rows], errors=errors)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(result, f, indent=1)


def md_block(rows, errors, command, mach):
    """The results block: command, date, machine, table, notes."""
    block = [MD_BEGIN, '',
             'Command: `%s`  ' % command,
             'Date: %s  ' % time.strftime('%Y-%m-%d %H:%M %Z'),
             'Machine: %s cores (%s), %s, Linux %s, libfuse %s' % (
                 mach['cores'], mach['cpu'], mach['memory'], mach['kernel'],
                 mach['libfuse']),
             ''] + table_lines(rows, markdown=True) + ['']
    notes = failures(errors) + row_notes(rows)
    if notes:
        block += ['Notes:', ''] + ['- ' + n for n in notes] + ['']
    return '\n'.join(block + [MD_END])


def write_md(path, rows, errors, command, mach):
    """Replace the results block of `path` (keeping the hand-written text
    around it), or start the file with one."""
    block = md_block(rows, errors, command, mach)
    text = ''
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    if MD_BEGIN in text and MD_END in text:
        text = (text[:text.index(MD_BEGIN)] + block
                + text[text.index(MD_END) + len(MD_END):])
    else:
        text = MD_HEADER + block + '\n' + text
    with open(path, 'w') as f:
        f.write(text)
