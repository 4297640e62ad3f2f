"""Benchmark common.imresize against BasicSR 1.4.2's torch-loop ``imresize`` on a 2K image.

    python -m tools.bench_imresize [--repeats 3] [--json results/imresize_bench.json]

The reference is ``basicsr/utils/matlab_functions.py`` from the BasicSR 1.4.2 sdist on PyPI. The
sdist is fetched once with ``pip download --no-deps basicsr==1.4.2`` into ``.cache/basicsr`` (git-
ignored); only that one file is extracted, and it is loaded by file path. The basicsr package is
neither installed nor imported, and none of its code is committed. The reference needs torch.

Test image: scikit-image's ``coffee`` photo (400x600 RGB) enlarged with common.imresize to 2040x1356
(DIV2K size), as float32 in [0, 1]. Both implementations get the same array; each is warmed up on
a quarter-size crop, then timed ``--repeats`` times back to back, and the median is reported. The
max abs difference is measured on the [0, 1] scale (BasicSR computes in float32, common.imresize in
float64).
"""
import argparse
import importlib.util
import statistics
import subprocess
import sys
import tarfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from common import paths
from common.imresize import imresize

BASICSR_VERSION = '1.4.2'
MEMBER = f'basicsr-{BASICSR_VERSION}/basicsr/utils/matlab_functions.py'
CASES = (('down x2', 1 / 2), ('down x4', 1 / 4), ('up x2', 2))
SIZE_2K = (1356, 2040)          # (H, W), the DIV2K validation size used for speed tables


class BenchError(RuntimeError):
    """A failure the CLI reports as one line."""


def fetch_reference(cache_dir):
    """Return the path of BasicSR's matlab_functions.py, downloading the sdist on first use.

    Args:
        cache_dir (Path): Folder for the sdist and the extracted file.

    Returns:
        Path: ``cache_dir / 'matlab_functions.py'``.

    Raises:
        BenchError: When pip cannot download the sdist or the file is not in it.
    """
    cache_dir = Path(cache_dir)
    target = cache_dir / 'matlab_functions.py'
    if target.is_file():
        return target
    sdist = cache_dir / f'basicsr-{BASICSR_VERSION}.tar.gz'
    if not sdist.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps', '--no-binary', ':all:',
               '--disable-pip-version-check', '-q', '-d', str(cache_dir), f'basicsr=={BASICSR_VERSION}']
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not sdist.is_file():
            last = (proc.stderr.strip().splitlines() or ['no output'])[-1]
            raise BenchError(f'cannot download basicsr=={BASICSR_VERSION} from PyPI into {cache_dir}: {last}')
    try:
        with tarfile.open(sdist) as tar:
            data = tar.extractfile(MEMBER).read()
    except (tarfile.TarError, KeyError, AttributeError) as exc:
        raise BenchError(f'{sdist}: cannot extract {MEMBER} ({exc})') from exc
    tmp = target.with_suffix('.tmp')
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


def load_reference(path):
    """Import the extracted matlab_functions.py as a stand-alone module (it needs numpy and torch)."""
    try:
        import torch  # noqa: F401  (only to give a clear message when it is missing)
    except ImportError as exc:
        raise BenchError(f'the BasicSR reference needs torch, which is not installed ({exc})') from exc
    spec = importlib.util.spec_from_file_location('basicsr_matlab_functions_ref', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_test_image():
    """skimage's coffee photo enlarged to 2040x1356 with common.imresize, float32 RGB in [0, 1]."""
    from skimage import data
    photo = data.coffee().astype(np.float64) / 255.0
    return np.clip(imresize(photo, output_shape=SIZE_2K), 0, 1).astype(np.float32)


def _time(fn, repeats):
    """Wall times of ``repeats`` back-to-back calls, and the last result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return times, out


def bench(ref_module, img, repeats):
    """Time both implementations on each case; returns a list of result dicts.

    Each implementation first runs once on a quarter-size crop (warms code paths, thread pools and
    the allocator), then ``repeats`` timed runs follow back to back; the median is reported.
    """
    crop = np.ascontiguousarray(img[:img.shape[0] // 2, :img.shape[1] // 2])
    results = []
    for label, scale in CASES:
        imresize(crop, scale)
        ref_module.imresize(crop, scale)
        ours_t, ours = _time(lambda: imresize(img, scale), repeats)
        ref_t, ref = _time(lambda: ref_module.imresize(img, scale), repeats)
        if ours.shape != ref.shape:
            raise BenchError(f'{label}: output shapes differ: ours {ours.shape}, BasicSR {ref.shape}')
        ours_s, ref_s = statistics.median(ours_t), statistics.median(ref_t)
        results.append({
            'case': label, 'scale': scale, 'out_shape': list(ours.shape),
            'ours_sec': ours_s, 'basicsr_sec': ref_s, 'speedup': ref_s / ours_s,
            'max_abs_diff': float(np.abs(ours.astype(np.float64) - ref.astype(np.float64)).max()),
            'ours_runs': ours_t, 'basicsr_runs': ref_t,
        })
    return results


def format_table(results):
    lines = [f'{"case":<8}  {"output":>14}  {"common (s)":>10}  {"BasicSR (s)":>11}  {"speedup":>8}  '
             f'{"max |diff|":>10}']
    for r in results:
        shape = 'x'.join(str(v) for v in r['out_shape'])
        lines.append(f'{r["case"]:<8}  {shape:>14}  {r["ours_sec"]:>10.4f}  {r["basicsr_sec"]:>11.4f}  '
                     f'{r["speedup"]:>7.1f}x  {r["max_abs_diff"]:>10.2e}')
    return '\n'.join(lines)


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='python -m tools.bench_imresize',
        description='Time common.imresize against BasicSR 1.4.2 matlab_functions.imresize (torch loops) '
                    'on a 2040x1356 RGB image: down x2, down x4, up x2; prints medians, speedups and '
                    'the max abs difference of the outputs.')
    parser.add_argument('--repeats', type=int, default=3, help='runs per case and implementation (default: 3)')
    parser.add_argument('--cache', type=Path, default=paths.REPO_ROOT / '.cache' / 'basicsr',
                        help='where the BasicSR sdist is cached (default: .cache/basicsr)')
    parser.add_argument('--json', type=Path, default=None, help='write the results to this JSON file')
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f'--repeats must be >= 1, got {args.repeats}')
    return args


def main(argv=None):
    """Command-line entry point; returns the exit status."""
    args = _parse_args(argv)
    try:
        ref_module = load_reference(fetch_reference(args.cache))
        import torch
        img = make_test_image()
        print(f'image: skimage coffee enlarged to {img.shape[1]}x{img.shape[0]} RGB float32; '
              f'median of {args.repeats} runs; torch {torch.__version__} '
              f'({torch.get_num_threads()} threads), numpy {np.__version__}')
        results = bench(ref_module, img, args.repeats)
    except BenchError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    print(format_table(results))
    if args.json is not None:
        import json

        from common.records import atomic_write_text, hardware_info
        record = {
            'benchmark': 'imresize', 'reference': f'basicsr=={BASICSR_VERSION} utils/matlab_functions.imresize',
            'image': f'skimage.data.coffee enlarged to {img.shape[1]}x{img.shape[0]} with common.imresize',
            'repeats': args.repeats, 'torch': torch.__version__, 'torch_threads': torch.get_num_threads(),
            'numpy': np.__version__, 'hardware': hardware_info(),
            'timestamp': datetime.now(timezone.utc).isoformat(timespec='seconds'), 'results': results,
        }
        atomic_write_text(args.json, json.dumps(record, indent=2) + '\n')
        print(f'wrote {args.json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
