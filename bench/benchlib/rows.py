# SPDX-License-Identifier: MIT
"""Rows of the results table, and the goals they are checked against.

A Goal is written once, as data; it produces both the comparison (met) and
the text printed in the goal column, so the two cannot disagree:

    Goal.ratio('>=', 0.9, 'nullfs')     ratio >= 0.9       '>= 0.9x nullfs'
    Goal.figure('>=', 200000)           wqfs >= 200000     '>= 200k works/s'
    Goal.margin('<=', 64, 'idle', '(no thread per waiter)')
                                        wqfs <= baseline + 64
                                        '<= idle + 64 (no thread per waiter)'
    INFO                                never checked      'info'

A ratio's or a margin's limit prints as written (1.0 prints "1.0", 2
prints "2"); a figure's limit prints as the table prints figures, followed
by the row's unit.
"""

import operator

OPS = {'>=': operator.ge, '<=': operator.le}


def fmt_num(x):
    """A figure in at most 3 significant digits: 43.5k, 0.173, 1.19M."""
    if x is None:
        return '-'
    if isinstance(x, str):
        return x
    ax = abs(x)
    if ax >= 1e6:
        return '%.3gM' % (x / 1e6)
    if ax >= 1e4:
        return '%.3gk' % (x / 1e3)
    if ax >= 100:
        return '%.0f' % x
    if ax >= 10:
        return '%.1f' % x
    return '%.3g' % x


class Goal:
    """What a row must achieve: `op` ('>=' or '<=') against `limit`.

    on = 'ratio'   the row's ratio (wqfs / baseline) is tested
         'figure'  the wqfs figure itself, in the row's unit
         'margin'  the wqfs figure against the baseline figure + limit
    what           the words after the number ('nullfs', '(flat/log)')
    base           for a margin, the name of the baseline ('idle')
    """

    def __init__(self, op=None, limit=None, on=None, what='', base=''):
        if op is not None and op not in OPS:
            raise ValueError('goal operator %r' % op)
        self.op, self.limit, self.on = op, limit, on
        self.what, self.base = what, base

    @classmethod
    def ratio(cls, op, limit, what):
        return cls(op, limit, 'ratio', what)

    @classmethod
    def figure(cls, op, limit, what=''):
        return cls(op, limit, 'figure', what)

    @classmethod
    def margin(cls, op, limit, base, what=''):
        return cls(op, limit, 'margin', what, base)

    @property
    def is_info(self):
        return self.op is None

    def text(self, row):
        """The goal column of `row`."""
        if self.is_info:
            return 'info'
        if self.on == 'ratio':
            head = '%s %sx' % (self.op, self.limit)
        elif self.on == 'figure':
            head = ' '.join(x for x in (self.op, fmt_num(self.limit), row.unit) if x)
        else:
            head = '%s %s + %s' % (self.op, self.base, self.limit)
        return '%s %s' % (head, self.what) if self.what else head

    def met(self, row):
        """True or False; None when informational or nothing to test."""
        if self.is_info:
            return None
        value, limit = self._operands(row)
        if value is None or limit is None:
            return None
        return OPS[self.op](value, limit)

    def _operands(self, row):
        if self.on == 'ratio':
            return row.ratio, self.limit
        if self.on == 'figure':
            return row.wqfs, self.limit
        if row.baseline is None:
            return row.wqfs, None
        return row.wqfs, row.baseline + self.limit


INFO = Goal()


class Row:
    """One line of the table: the wqfs figure, its baseline, their ratio
    (wqfs / baseline unless given, e.g. a median of per-run ratios), the
    goal and a note for the notes below the table."""

    def __init__(self, bench, name, unit, wqfs, baseline, baseline_desc,
                 ratio=None, goal=INFO, note=''):
        self.bench, self.name, self.unit = bench, name, unit
        self.wqfs, self.baseline = wqfs, baseline
        self.baseline_desc = baseline_desc
        if ratio is None and wqfs is not None and baseline:
            ratio = wqfs / baseline
        self.ratio, self.goal, self.note = ratio, goal, note

    @property
    def title(self):
        return '%s: %s' % (self.bench, self.name)

    @property
    def goal_text(self):
        return self.goal.text(self)

    @property
    def met(self):
        return self.goal.met(self)

    def as_dict(self):
        return dict(bench=self.bench, name=self.name, unit=self.unit,
                    wqfs=self.wqfs, baseline=self.baseline,
                    baseline_desc=self.baseline_desc, ratio=self.ratio,
                    goal=self.goal_text, met=self.met, note=self.note)
