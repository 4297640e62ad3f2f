"""`make bench [MODEL=name]`: run registered benches, print their tables, regenerate their documents' blocks.

Usage:
    python -m tools.bench                  # every registered model, bicubic first
    python -m tools.bench --model srcnn    # one bench (a model, or the tool benches scaling and imresize)
    python -m tools.bench --render_only    # re-render every document block from the committed records

Rendering a model's record also re-renders the front page's zoo table (tools.zoo_table), which reads every
model record.

The benches run as subprocesses with ``OMP_WAIT_POLICY=PASSIVE`` unless the environment sets it
(common.bench.thread_policy_env): idle OpenMP threads sleep instead of spinning on a loaded machine.
"""
import subprocess
import sys
import time

from common import records
from common.bench import thread_policy_env
from common.cli import FlagParser, run_cli
from common.paths import REPO_ROOT
from tools import zoo_table
from tools.registry import REGISTRY


def render(name):
    """Regenerate the document block of a bench from its committed record; returns the record."""
    entry = REGISTRY[name]
    record = records.load_record(REPO_ROOT / entry.record)
    block = entry.block(record)
    print(block)
    records.update_block(REPO_ROOT / entry.readme, block, markers=entry.markers)
    print(f'[bench] regenerated the block in {entry.readme} from {entry.record}')
    if any(model.name == name for model in zoo_table.MODELS):
        zoo_table.update_readme()
        print(f'[bench] regenerated the zoo table in {zoo_table.README} from the model records')
    return record


def run_one(name, render_only=False):
    """Run one bench (unless render_only), then print and render its record. Returns the record."""
    entry = REGISTRY[name]
    if not render_only:
        cmd = entry.command(sys.executable)
        print(f'[bench] {name}: {" ".join(cmd)}', flush=True)
        start = time.time()
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=thread_policy_env())
        if proc.returncode != 0:
            raise SystemExit(f'bench {name} failed with exit code {proc.returncode} ({" ".join(cmd)})')
        print(f'[bench] {name} finished in {time.time() - start:.0f} s', flush=True)
    return render(name)


def main(argv=None):
    parser = FlagParser(description=__doc__.split('\n\n')[0], allow_abbrev=False)
    parser.add_argument('--model', help=f'registered bench: {", ".join(REGISTRY)} (default: every model, or '
                                         f'with --render_only every bench)')
    parser.add_argument('--render_only', action='store_true',
                        help='do not run; regenerate the document blocks from the existing records')
    args = parser.parse_args(argv)
    if args.model is not None and args.model not in REGISTRY:
        parser.error(f'--model {args.model!r} is not registered; choose from: {", ".join(REGISTRY)}')
    if args.model:
        names = [args.model]
    else:
        names = [n for n, entry in REGISTRY.items() if entry.model or args.render_only]
    for name in names:
        run_one(name, render_only=args.render_only)


if __name__ == '__main__':
    run_cli(main)
