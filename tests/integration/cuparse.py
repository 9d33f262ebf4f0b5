#!/usr/bin/env python3
"""Turns the output of libiscsi's iscsi-test-cu into one verdict per test.

CUnit reports a skipped test as "passed", so the verdict comes from the
per-test text: a test that ends in "FAILED" failed, one that ends in "passed"
but printed a "[SKIPPED]" line was skipped, anything else passed. Tests that
were expected (the --test patterns matched against `iscsi-test-cu -l`) but
have no result in the output -- the binary crashed, timed out, or a suite's
setup failed -- count as failures.

usage: cuparse.py LOG EXPECTED_LIST
       cuparse.py --self-test
  LOG            iscsi-test-cu output (verbose mode, the default)
  EXPECTED_LIST  file with one full test name a line (ALL.Suite.Test)
Prints one line per test: "<verdict> <ALL.Suite.Test>\t<reason>", verdict
one of PASS, FAIL, SKIP. It deliberately knows nothing about allow-lists:
run.sh applies those.
"""
import re
import sys

SUITE_RE = re.compile(r'^Suite: (\S+)')
TEST_RE = re.compile(r'^  Test: (\S+) \.\.\.(.*)$')
RESULT_RE = re.compile(r'^(passed|FAILED)')
MSG_RE = re.compile(r'\[(SKIPPED|FAILED)\]\s*(.*)')


def cuparse_parse(text):
    """Returns {"Suite.Test": (result or None, [messages])} in output order."""
    tests = {}
    suite = None
    cur = None          # key of the test whose result is still pending
    for line in text.splitlines():
        m = SUITE_RE.match(line)
        if m:
            suite, cur = m.group(1), None
            continue
        m = TEST_RE.match(line)
        if m and suite is not None:
            cur = suite + '.' + m.group(1)
            tests[cur] = [None, []]
            line = m.group(2)
        if cur is None:
            continue
        r = RESULT_RE.match(line)
        if r:
            tests[cur][0] = r.group(1)
            cur = None      # the rest of the line is suite/teardown noise
            continue
        mm = MSG_RE.search(line)
        if mm:
            tests[cur][1].append((mm.group(1), mm.group(2).strip()))
    return tests


def cuparse_verdict(result, msgs):
    skips = [t for k, t in msgs if k == 'SKIPPED']
    fails = [t for k, t in msgs if k == 'FAILED']
    if result is None:
        return 'FAIL', 'no result (iscsi-test-cu crashed or timed out)'
    if result == 'FAILED':
        return 'FAIL', (fails[0] if fails else 'assertion failed')[:200]
    if skips:
        return 'SKIP', skips[0][:200]
    return 'PASS', ''


SELFTEST_LOG = """found matching LU device identifier for all (2) paths

Suite: CompareAndWrite
  Test: Simple ...    [SKIPPED] COMPAREANDWRITE is not implemented.
    [SKIPPED] COMPAREANDWRITE is not implemented.
passed
  Test: Unwritten ...passed
Suite: ModeSense6
  Test: Residuals ...passed    [FAILED] PRIN command: failed with sense.
Suite: GetLBAStatus
  Test: BeyondEol ...    [FAILED] GET_LBA_STATUS successful but should have failed
FAILED
    1. test_get_lba_status_beyond_eol.c:38  - CU_ASSERT_EQUAL(_r,0)
  Test: Simple ...FAILED
    1. x.c:1  - CU_ASSERT_EQUAL(a,b)
Suite: Read10
  Test: Simple ...passed
  Test: BeyondEol ..."""

SELFTEST_WANT = [
    ('SKIP', 'ALL.CompareAndWrite.Simple'),
    ('PASS', 'ALL.CompareAndWrite.Unwritten'),
    ('PASS', 'ALL.ModeSense6.Residuals'),
    ('FAIL', 'ALL.GetLBAStatus.BeyondEol'),
    ('FAIL', 'ALL.GetLBAStatus.Simple'),
    ('PASS', 'ALL.Read10.Simple'),
    ('FAIL', 'ALL.Read10.BeyondEol'),     # crashed mid-test
    ('FAIL', 'ALL.Read10.ZeroBlocks'),    # never started
]


def cuparse_selftest():
    tests = cuparse_parse(SELFTEST_LOG)
    bad = 0
    for want, name in SELFTEST_WANT:
        key = name[4:]
        got = cuparse_verdict(*tests[key])[0] if key in tests else 'FAIL'
        if got != want:
            print('cuparse self-test: %s: %s, want %s' % (name, got, want))
            bad += 1
    return 1 if bad else 0


def main():
    if sys.argv[1:] == ['--self-test']:
        return cuparse_selftest()
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    with open(sys.argv[1], errors='replace') as f:
        tests = cuparse_parse(f.read())
    with open(sys.argv[2]) as f:
        expected = [l.strip() for l in f if l.strip()]
    for name in expected:
        key = name[4:] if name.startswith('ALL.') else name
        if key in tests:
            v, why = cuparse_verdict(*tests[key])
        else:
            v, why = 'FAIL', 'not run (iscsi-test-cu crashed, timed out or a suite setup failed)'
        print('%s %s\t%s' % (v, 'ALL.' + key, why))
    return 0


if __name__ == '__main__':
    sys.exit(main())
