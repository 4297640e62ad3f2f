"""`make test`: the suite as one pytest process per group, so no two models' modules meet.

The model folders keep their references' flat module names (``train``, ``utils``, ``model``, ``src``
...), which clash across models. Each group below runs in its own interpreter: the framework-free
part, then each model folder. Two groups run at a time (``--jobs``, default 2: most test processes
use one thread, and the frameworks' imports are single-threaded), the longest first. The model
groups share ``datasets/sample``: it is built here once, before any group starts, so no two groups
race to build it. Extra arguments go to every pytest call (``python -m tools.run_tests -x -k resume``),
and ``--group NAME`` runs only the named groups. The last line is the total of all groups.

    python -m tools.run_tests [--group common] [--jobs N] [pytest args ...]
"""
import argparse
import re
import subprocess
import sys
import threading
import time

from common.paths import REPO_ROOT

GROUPS = {
    'common': ['tests/test_layout.py', 'tests/common', 'tests/tools'],
    'pytorch_rdn': ['tests/pytorch_rdn'],
    'pytorch_lptn': ['tests/pytorch_lptn'],
    'tensorflow_rcan': ['tests/tensorflow_rcan'],
    'tensorflow_bsrn': ['tests/tensorflow_bsrn'],
    'mindspore_srcnn': ['tests/mindspore_srcnn'],
}
# seconds each group took in a fresh clone (2 cores): the longest start first, so two workers end together
LAST_SECONDS = {'mindspore_srcnn': 258, 'common': 242, 'pytorch_rdn': 209, 'tensorflow_rcan': 181,
                'tensorflow_bsrn': 175, 'pytorch_lptn': 153}
_COUNT = re.compile(r'(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)')


def _counts(text):
    """The counts of pytest's closing line in ``text`` ({'passed': 3, 'failed': 1, ...})."""
    closing = re.compile(r'^=*\s*(\d+ (passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?)'
                         r'(, )?)+.* in [\d.]+s')
    lines = [ln for ln in text.splitlines() if closing.match(ln)]
    counts = {}
    for number, kind in _COUNT.findall(lines[-1] if lines else ''):
        kind = 'errors' if kind.startswith('error') else kind
        counts[kind] = counts.get(kind, 0) + int(number)
    return counts


def run_group(name, extra, lock):
    """Run one group's pytest; stream its output with a prefix. Returns (name, exit code, counts, seconds)."""
    cmd = [sys.executable, '-m', 'pytest', *GROUPS[name], *extra]
    start = time.time()
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []
    for line in proc.stdout:
        out.append(line)
        with lock:
            sys.stdout.write(f'[{name}] {line}')
            sys.stdout.flush()
    code = proc.wait()
    return name, code, _counts(''.join(out)), time.time() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument('--group', action='append', choices=list(GROUPS),
                        help='run only this group (repeatable; default: all)')
    parser.add_argument('--jobs', type=int, default=2, help='groups run at once (default: 2)')
    args, extra = parser.parse_known_args(argv)
    if args.jobs < 1:
        parser.error(f'--jobs must be at least 1, got {args.jobs}')
    names = args.group or list(GROUPS)
    if set(names) - {'common'}:                    # the model groups' shared sample data, built once
        from common.sample_data import ensure_sample_data
        ensure_sample_data()
    lock = threading.Lock()
    results, pending = [], sorted(names, key=lambda n: -LAST_SECONDS.get(n, 0))

    def worker():
        while True:
            with lock:
                if not pending:
                    return
                name = pending.pop(0)
            results.append(run_group(name, extra, lock))

    threads = [threading.Thread(target=worker) for _ in range(min(args.jobs, len(names)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total, failed_groups = {}, []
    print('\nGroup                 exit  seconds  counts')
    for name, code, counts, seconds in sorted(results, key=lambda r: names.index(r[0])):
        for k, v in counts.items():
            total[k] = total.get(k, 0) + v
        # pytest exits 5 when a group collected nothing (e.g. everything deselected by -k): not a failure
        if code not in (0, 5):
            failed_groups.append(name)
        print(f'{name:<21} {code:>4}  {seconds:7.0f}  ' + ', '.join(f'{v} {k}' for k, v in counts.items()))
    if failed_groups:
        print(f'failed groups: {", ".join(failed_groups)}')
    line = f"{total.get('passed', 0)} passed, {total.get('failed', 0) + total.get('errors', 0)} failed"
    if total.get('skipped'):
        line += f", {total['skipped']} skipped"
    print(line)
    if not total.get('passed') and not failed_groups and not extra:
        print('no test ran')          # the whole suite collecting nothing is a broken suite
        return 1
    return 1 if failed_groups else 0


if __name__ == '__main__':
    sys.exit(main())
