#!/usr/bin/env python3
"""Count TAP results in meson test logs and print "N passed, N failed".

Each argument is a meson testlog JSON file (one JSON object a line).  A
test's own TAP lines are counted one by one; a test that failed without a
"not ok" line of its own (a crash, a timeout, a non-TAP failure) counts as
one more failure, and a non-TAP test that passed as one pass.  `--failed N` first adds N failures
found before any test ran (a build that failed).  The exit
status is 1 when anything failed or nothing ran.
"""
import json
import re
import sys

OK = re.compile(r'^ok\b', re.M)
NOT_OK = re.compile(r'^not ok\b', re.M)
GOOD = {'OK', 'EXPECTEDFAIL'}


def count(path):
    passed = failed = 0
    try:
        lines = open(path, encoding='utf-8', errors='replace').readlines()
    except OSError as e:
        print(f'tap-count: {path}: {e.strerror}: the build or its tests did not run')
        return 0, 1
    for line in lines:
        test = json.loads(line)
        out = test.get('stdout') or ''
        p = len(OK.findall(out))
        f = len(NOT_OK.findall(out))
        if test['result'] not in GOOD and f == 0:
            f = 1
            print(f"FAILED {test['name']}: {test['result']}")
        if test['result'] in GOOD and p + f == 0:
            p = 1
        passed += p
        failed += f
    return passed, failed


def main():
    args = sys.argv[1:]
    passed = failed = 0
    if args[:1] == ['--failed']:
        failed = int(args[1])
        args = args[2:]
    for path in args:
        p, f = count(path)
        print(f'{path}: {p} passed, {f} failed')
        passed += p
        failed += f
    print(f'{passed} passed, {failed} failed')
    return 1 if failed or not passed else 0


if __name__ == '__main__':
    sys.exit(main())
