"""`make bench [MODEL=name]`: run registered benches, print their tables, regenerate README tables.

Usage:
    python -m tools.bench                  # every registered model, bicubic first
    python -m tools.bench --model srcnn    # one model
    python -m tools.bench --model srcnn --render_only   # re-render the README from the committed record
"""
import argparse
import os
import subprocess
import sys
import time

from common import records
from common.paths import REPO_ROOT
from tools.registry import REGISTRY


def run_one(name, render_only=False):
    """Run one bench (unless render_only), then print and render its record. Returns the record."""
    entry = REGISTRY[name]
    if not render_only:
        cmd = entry.command(sys.executable)
        print(f'[bench] {name}: {" ".join(cmd)}', flush=True)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(REPO_ROOT)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
        start = time.time()
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env)
        if proc.returncode != 0:
            raise SystemExit(f'bench {name} failed with exit code {proc.returncode} ({" ".join(cmd)})')
        print(f'[bench] {name} finished in {time.time() - start:.0f} s', flush=True)
    record = records.load_record(REPO_ROOT / entry.record)
    print(records.render_results_table([record]))
    records.update_readme(REPO_ROOT / entry.readme, [record])
    print(f'[bench] regenerated the results table in {entry.readme} from {entry.record}')
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', help=f'registered model: {", ".join(REGISTRY)} (default: all)')
    parser.add_argument('--render_only', action='store_true',
                        help='do not run; regenerate README tables from the existing records')
    args = parser.parse_args(argv)
    if args.model is not None and args.model not in REGISTRY:
        parser.error(f'--model {args.model!r} is not registered; choose from: {", ".join(REGISTRY)}')
    names = [args.model] if args.model else list(REGISTRY)
    for name in names:
        run_one(name, render_only=args.render_only)


if __name__ == '__main__':
    main()
