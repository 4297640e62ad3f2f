"""Benchmark common.imresize and common.metrics.calculate_ssim against BasicSR 1.4.2 on a 2K image.

    python -m tools.bench --model imresize          # measure, write the record, render docs/protocol.md's table
    python -m tools.bench_imresize [--repeats 5] [--out results/imresize_bench.json]   # the record alone

The references are BasicSR 1.4.2's own files from its sdist on PyPI: ``utils/matlab_functions.py``
(the torch-loop ``imresize``) and ``metrics/psnr_ssim.py`` (``calculate_ssim``, cv2.filter2D) with
the three small modules it imports. The sdist is fetched once with ``pip download --no-deps
basicsr==1.4.2`` into ``.cache/basicsr`` (git-ignored); only those files are extracted, and they are
loaded by file path. The basicsr package is neither installed nor imported, and none of its code is
committed. The references need torch.

Test image: scikit-image's ``coffee`` photo (400x600 RGB) enlarged with common.imresize to 2040x1356
(DIV2K size). imresize gets it as float32 in [0, 1] (down x2, down x4, up x2); the max abs difference
is on the [0, 1] scale (BasicSR computes in float32, common.imresize in float64). SSIM compares the
uint8 image with its bicubic x4 round trip, on Y with ``crop_border=4`` (the paper protocol); BasicSR
computes Y in float32, so the values differ by about 1e-10.

Each implementation is warmed up (a quarter-size crop for imresize, one call for SSIM), then timed
``--repeats`` times back to back; the medians and their ratio are reported. The numba compile time
of the fast paths is measured separately, in child processes with an empty numba cache.

The result record (``common.records`` schema, timings under ``speed``) goes to ``--out``; the speed table
of docs/protocol.md is rendered from it between the results markers by ``python -m tools.bench`` (the
registry entry ``imresize``; ``--render_only`` re-renders it without measuring).
"""
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import types
from pathlib import Path

import numpy as np

from common import paths, records
from common.cli import FlagParser, run_cli
from common.imresize import imresize
from common.metrics import calculate_ssim

BASICSR_VERSION = '1.4.2'
# Files extracted from the sdist: name in the cache -> path inside the sdist's basicsr/ package.
MEMBERS = {
    'matlab_functions.py': 'utils/matlab_functions.py',
    'psnr_ssim.py': 'metrics/psnr_ssim.py',
    'metric_util.py': 'metrics/metric_util.py',
    'color_util.py': 'utils/color_util.py',
    'registry.py': 'utils/registry.py',
}
CASES = (('down x2', 1 / 2), ('down x4', 1 / 4), ('up x2', 2))
SIZE_2K = (1356, 2040)          # (H, W), the DIV2K validation size used for speed tables
SSIM_CROP = 4
DEFAULT_JSON = paths.RESULTS_DIR / 'imresize_bench.json'
NOTE = ('wall-clock medians of one run on a 2-core machine shared with other jobs; both sides are measured '
        'in the same run, but the other jobs slow them unequally (common/ needs both cores for its threads), '
        'so the ratios vary from run to run')

# Run in a child process with an empty NUMBA_CACHE_DIR: the first calls compile the kernels.
_JIT_PROBE = '''
import json, time
import numpy as np
from common.imresize import imresize
from common.metrics import calculate_ssim
img = np.random.default_rng(0).random((64, 48, 3)).astype(np.float32)
t0 = time.perf_counter(); imresize(img, 0.5); imresize(img, 2)
t1 = time.perf_counter(); calculate_ssim(img, img[::-1], 0)
t2 = time.perf_counter()
print(json.dumps({'imresize_float32_sec': t1 - t0, 'ssim_sec': t2 - t1}))
'''


class BenchError(ValueError):
    """A failure the CLI reports as one line."""


def fetch_reference(cache_dir):
    """Return the path of BasicSR's matlab_functions.py, downloading the sdist on first use.

    All of ``MEMBERS`` are extracted next to it.

    Args:
        cache_dir (Path): Folder for the sdist and the extracted files.

    Returns:
        Path: ``cache_dir / 'matlab_functions.py'``.

    Raises:
        BenchError: When pip cannot download the sdist or a file is not in it.
    """
    cache_dir = Path(cache_dir)
    if all((cache_dir / name).is_file() for name in MEMBERS):
        return cache_dir / 'matlab_functions.py'
    sdist = cache_dir / f'basicsr-{BASICSR_VERSION}.tar.gz'
    if not sdist.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps', '--no-binary', ':all:',
               '--disable-pip-version-check', '-q', '-d', str(cache_dir), f'basicsr=={BASICSR_VERSION}']
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not sdist.is_file():
            last = (proc.stderr.strip().splitlines() or ['no output'])[-1]
            raise BenchError(f'cannot download basicsr=={BASICSR_VERSION} from PyPI into {cache_dir}: {last}')
    for name, member in MEMBERS.items():
        member = f'basicsr-{BASICSR_VERSION}/basicsr/{member}'
        try:
            with tarfile.open(sdist) as tar:
                data = tar.extractfile(member).read()
        except (tarfile.TarError, KeyError, AttributeError) as exc:
            raise BenchError(f'{sdist}: cannot extract {member} ({exc})') from exc
        tmp = (cache_dir / name).with_suffix('.tmp')
        tmp.write_bytes(data)
        tmp.replace(cache_dir / name)
    return cache_dir / 'matlab_functions.py'


def _require_torch():
    try:
        import torch  # noqa: F401  (only to give a clear message when it is missing)
    except ImportError as exc:
        raise BenchError(f'the BasicSR reference needs torch, which is not installed ({exc})') from exc


def _load_file(name, path):
    """Execute the file at ``path`` as module ``name`` (registered in sys.modules while it loads)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_reference(path):
    """Import the extracted matlab_functions.py as a stand-alone module (it needs numpy and torch)."""
    _require_torch()
    spec = importlib.util.spec_from_file_location('basicsr_matlab_functions_ref', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_ssim_reference(cache_dir):
    """Import the extracted psnr_ssim.py with the basicsr modules it imports, loaded by file path.

    Empty ``basicsr``, ``basicsr.metrics`` and ``basicsr.utils`` packages stand in for the real ones
    (whose ``__init__`` would import all of BasicSR); ``basicsr.utils`` gets the one name
    metric_util takes from it, ``bgr2ycbcr``. The stand-ins are removed from sys.modules afterwards.

    Args:
        cache_dir (Path): Folder that holds the extracted ``MEMBERS``.

    Returns:
        module: BasicSR's ``basicsr.metrics.psnr_ssim``.
    """
    _require_torch()
    cache_dir = Path(cache_dir)
    names = ['basicsr', 'basicsr.metrics', 'basicsr.utils', 'basicsr.utils.color_util',
             'basicsr.utils.registry', 'basicsr.metrics.metric_util', 'basicsr.metrics.psnr_ssim']
    clashes = [n for n in names if n in sys.modules]
    if clashes:
        raise BenchError(f'cannot load the BasicSR reference by path: {clashes[0]} is already imported')
    try:
        for package in names[:3]:
            sys.modules[package] = types.ModuleType(package)
            sys.modules[package].__path__ = []
        color_util = _load_file('basicsr.utils.color_util', cache_dir / 'color_util.py')
        sys.modules['basicsr.utils'].bgr2ycbcr = color_util.bgr2ycbcr
        _load_file('basicsr.utils.registry', cache_dir / 'registry.py')
        _load_file('basicsr.metrics.metric_util', cache_dir / 'metric_util.py')
        return _load_file('basicsr.metrics.psnr_ssim', cache_dir / 'psnr_ssim.py')
    finally:
        for name in names:
            sys.modules.pop(name, None)


def make_test_image():
    """skimage's coffee photo enlarged to 2040x1356 with common.imresize, float32 RGB in [0, 1]."""
    from skimage import data
    photo = data.coffee().astype(np.float64) / 255.0
    return np.clip(imresize(photo, output_shape=SIZE_2K), 0, 1).astype(np.float32)


def make_ssim_pair(img):
    """(sr, hr): the test image as uint8 BGR and its bicubic x4 round trip (down, then up)."""
    hr = np.ascontiguousarray(np.floor(img[:, :, ::-1] * 255.0 + 0.5).astype(np.uint8))
    return imresize(imresize(hr, 1 / 4), 4), hr


def _time(fn, repeats):
    """Wall times of ``repeats`` back-to-back calls, and the last result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return times, out


def bench(ref_module, img, repeats):
    """Time both imresize implementations on each case; returns a list of result dicts.

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
            'case': label, 'scale': scale, 'in_shape': list(img.shape), 'out_shape': list(ours.shape),
            'ours_sec': ours_s, 'basicsr_sec': ref_s, 'speedup': ref_s / ours_s,
            'max_abs_diff': float(np.abs(ours.astype(np.float64) - ref.astype(np.float64)).max()),
            'ours_runs': ours_t, 'basicsr_runs': ref_t,
        })
    return results


def bench_ssim(ssim_module, sr, hr, repeats):
    """Time both calculate_ssim implementations (Y, ``crop_border=SSIM_CROP``); returns a result dict."""
    opts = dict(crop_border=SSIM_CROP, test_y_channel=True)
    calculate_ssim(sr, hr, **opts)
    ssim_module.calculate_ssim(sr, hr, **opts)
    ours_t, ours = _time(lambda: calculate_ssim(sr, hr, **opts), repeats)
    ref_t, ref = _time(lambda: float(ssim_module.calculate_ssim(sr, hr, **opts)), repeats)
    ours_s, ref_s = statistics.median(ours_t), statistics.median(ref_t)
    return {
        'case': f'ssim Y crop={SSIM_CROP}', 'in_shape': list(hr.shape), 'ours_sec': ours_s,
        'basicsr_sec': ref_s, 'speedup': ref_s / ours_s, 'ours_value': ours, 'basicsr_value': ref,
        'abs_diff': abs(ours - ref), 'ours_runs': ours_t, 'basicsr_runs': ref_t,
    }


def measure_jit():
    """First-call times of the numba kernels in a child process with an empty numba cache (compile),
    then in a second child that reuses that cache (load). Returns ``{'compile': {...}, 'cached': {...}}``.
    """
    out = {}
    with tempfile.TemporaryDirectory(prefix='numba_cache_') as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for key in ('compile', 'cached'):
            proc = subprocess.run([sys.executable, '-c', _JIT_PROBE], cwd=paths.REPO_ROOT, env=env,
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ['no output'])[-1]
                raise BenchError(f'the numba compile-time probe failed: {last}')
            out[key] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def format_table(results, ssim):
    """Plain-text table of the measurements, for the terminal."""
    lines = [f'{"case":<16}  {"output":>14}  {"common (s)":>10}  {"BasicSR (s)":>11}  {"speedup":>8}  '
             f'{"max |diff|":>10}']
    for r in results + [dict(ssim, out_shape=['1'], max_abs_diff=ssim['abs_diff'])]:
        shape = 'x'.join(str(v) for v in r['out_shape'])
        lines.append(f'{r["case"]:<16}  {shape:>14}  {r["ours_sec"]:>10.4f}  {r["basicsr_sec"]:>11.4f}  '
                     f'{r["speedup"]:>7.1f}x  {r["max_abs_diff"]:>10.2e}')
    return '\n'.join(lines)


def _shape(shape):
    """'2040x1356x3' (W x H x C) from an (H, W, C) list."""
    h, w = shape[:2]
    return 'x'.join(str(v) for v in [w, h] + list(shape[2:]))


def render_speed_table(record):
    """Markdown speed table, and its provenance line, from a bench record.

    Args:
        record (dict): Written by :func:`main` (``record['speed']`` holds the measurements).

    Returns:
        str: The block that goes between the results markers of docs/protocol.md.
    """
    speed = record['speed']
    lines = ['| Operation | Input -> output | common (s) | BasicSR 1.4.2 (s) | Speed-up | Max abs diff to BasicSR |',
             '|---|---|---|---|---|---|']
    for r in speed['imresize']:
        lines.append(f"| `imresize` {r['case']} | {_shape(r['in_shape'])} -> {_shape(r['out_shape'])} float32 | "
                     f"{r['ours_sec']:.4f} | {r['basicsr_sec']:.4f} | {r['speedup']:.1f}x | "
                     f"{r['max_abs_diff']:.1e} |")
    s = speed['ssim']
    lines.append(f"| `calculate_ssim` Y, crop_border={SSIM_CROP} | {_shape(s['in_shape'])} uint8 pair -> "
                 f"{s['ours_value']:.6f} | {s['ours_sec']:.4f} | {s['basicsr_sec']:.4f} | "
                 f"{s['speedup']:.1f}x | {s['abs_diff']:.1e} |")
    hw, jit = record['hardware'], speed['jit_first_call_sec']
    compile_s = sum(jit['compile'].values())
    cached_s = sum(jit['cached'].values())
    notes = [f"Command: `{record['command']}`", f"measured {record['created'][:10]}",
             f"{hw['cpu']}, {hw['cores']} cores", f"median of {record['config']['repeats']} runs each",
             f"torch {speed['torch']} ({speed['torch_threads']} threads), numpy {speed['numpy']}, "
             f"numba {speed['numba']}",
             f"first calls in a fresh process: {compile_s:.1f} s compiling the numba kernels, "
             f"{cached_s:.2f} s from numba's cache"]
    if record.get('git_commit'):
        notes.append(f"code {record['git_commit'][:10]}")
    before, after = speed['load_average_1min']
    note = (f"{speed['note'][0].upper()}{speed['note'][1:]}; 1-minute load average {before:.1f} before the "
            f"run, {after:.1f} after")
    return '\n'.join(lines) + '\n\n- ' + '; '.join(notes) + '.\n- ' + note + '.\n'


def _relative(path):
    """``path`` relative to the repository root when it lies inside it, for commands in records."""
    path = Path(path).resolve()
    try:
        return path.relative_to(paths.REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def _parse_args(argv):
    parser = FlagParser(
        prog='python -m tools.bench_imresize', allow_abbrev=False,
        description='Time common.imresize (down x2, down x4, up x2) and common.metrics.calculate_ssim '
                    'against BasicSR 1.4.2 on a 2040x1356 RGB image; writes a result record.')
    parser.add_argument('--repeats', type=int, default=5, help='timed runs per case and implementation (default: 5)')
    parser.add_argument('--cache', type=Path, default=paths.REPO_ROOT / '.cache' / 'basicsr',
                        help='where the BasicSR sdist is cached (default: .cache/basicsr)')
    parser.add_argument('--out', type=Path, default=DEFAULT_JSON,
                        help='result record to write (default: results/imresize_bench.json)')
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f'--repeats must be >= 1, got {args.repeats}')
    return args


def _command(args):
    cmd = f'python -m tools.bench_imresize --repeats {args.repeats}'
    if args.out.resolve() != DEFAULT_JSON.resolve():
        cmd += f' --out {_relative(args.out)}'
    return cmd


def main(argv=None):
    """Command-line entry point: measure and write the record."""
    args = _parse_args(argv)
    ref_module = load_reference(fetch_reference(args.cache))
    ssim_module = load_ssim_reference(args.cache)
    import numba
    import torch
    load_before = os.getloadavg()[0]
    jit = measure_jit()
    img = make_test_image()
    print(f'image: skimage coffee enlarged to {img.shape[1]}x{img.shape[0]} RGB; median of {args.repeats} '
          f'runs; torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}, '
          f'numba {numba.__version__}')
    results = bench(ref_module, img, args.repeats)
    ssim = bench_ssim(ssim_module, *make_ssim_pair(img), args.repeats)
    print(format_table(results, ssim))
    print(f'numba first calls: {jit}')
    record = records.new_record('common_speed', 'none', '', 'bench', _command(args), config={
        'reference': f'basicsr=={BASICSR_VERSION} utils/matlab_functions.imresize, metrics/psnr_ssim.calculate_ssim',
        'image': f'skimage.data.coffee enlarged to {img.shape[1]}x{img.shape[0]} with common.imresize',
        'ssim_pair': 'uint8 image vs its bicubic x4 round trip (common.imresize down, then up)',
        'repeats': args.repeats,
    })
    record['speed'] = {'imresize': results, 'ssim': ssim, 'jit_first_call_sec': jit, 'note': NOTE,
                       'load_average_1min': [load_before, os.getloadavg()[0]],
                       'torch': torch.__version__, 'torch_threads': torch.get_num_threads(),
                       'numpy': np.__version__, 'numba': numba.__version__}
    records.save_record(record, args.out)
    print(f'wrote {_relative(args.out)}')
    return 0


if __name__ == '__main__':
    run_cli(main)
