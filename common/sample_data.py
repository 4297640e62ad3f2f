"""Small, real-photo stand-ins for DIV2K, a Set5-style benchmark and FiveK, built from scikit-image's files.

scikit-image ships a handful of photographs inside its package folder (``skimage/data``); only files
present there are used, nothing is downloaded. Layout under ``out``::

    DIV2K/DIV2K_train_HR/0001.png                         training HR crops, sides multiples of 12
    DIV2K/DIV2K_train_LR_bicubic/X{s}/0001x{s}.png         MATLAB-bicubic LR (common.data.bicubic_lr)
    benchmark/SampleTest/original/<name>.png              held-out photos, never used for training
    benchmark/SampleTest/HR/x{s}/<name>_HR_x{s}.png        modcrop(original, s)   (the Set5 layout)
    benchmark/SampleTest/LR_bicubic/x{s}/<name>_LRBI_x{s}.png
    FiveK/FiveK_480p/{train,test}/A/<name>.jpg           source: a degraded copy of the target
    FiveK/FiveK_480p/{train,test}/B/<name>.jpg           target: the photo, short side <= 480
    manifest.json                                         written last: sources, parameters, file hashes

Build with ``python -m common.sample_data --out datasets/sample`` (``make data``). The output is
deterministic (same bytes on every run in the same environment), built in a temporary folder and
renamed into place; a rerun over a complete build does nothing.
"""
import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import math
import os
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from common import paths
from common.cli import EXPECTED_ERRORS, FlagParser, run_cli
from common.data import bicubic_lr, modcrop
from common.imgio import encode_image, read_image
from common.fileio import atomic_write_bytes, building_dir
from common.imresize import imresize

__all__ = ['build_sample_data', 'ensure_sample_data', 'skimage_data_dir', 'degrade', 'TRAIN_SOURCES',
           'TEST_SOURCES', 'DEGRADATION', 'VERSION']

VERSION = 1
# Training photos: (file, grid rows, grid columns, centre crop (h, w) or None). Each grid cell becomes
# one DIV2K-style HR image; the retina photo's black surround is cut off first.
TRAIN_SOURCES = [
    ('rocket.jpg', 1, 1, None),
    ('motorcycle_left.png', 1, 1, None),
    ('motorcycle_right.png', 1, 1, None),
    ('ihc.png', 1, 1, None),
    ('hubble_deep_field.jpg', 2, 2, None),
    ('retina.jpg', 2, 2, (960, 960)),
]
TEST_SOURCES = ['astronaut.png', 'chelsea.png', 'coffee.png']     # held out: SampleTest and FiveK test
# FiveK source = degrade(target): underexposed (gamma), flatter (contrast about mid-grey), warm cast.
DEGRADATION = {'gamma': 1.6, 'contrast': 0.75, 'pivot': 0.5, 'gain_rgb': [1.08, 1.0, 0.85]}
FIVEK_SHORT_SIDE = 480
JPEG_QUALITY = 95
PNG_LEVEL = 3
_OURS = {'DIV2K', 'benchmark', 'FiveK', 'manifest.json'}
_CODE = ('sample_data.py', 'data.py', 'imresize.py', 'imgio.py')   # the outputs depend on these files


def code_fingerprint():
    """SHA-256 over the modules that shape the output; a build made by other code is rebuilt."""
    digest = hashlib.sha256()
    for name in _CODE:
        digest.update(name.encode() + b'\0' + (Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()


def skimage_data_dir():
    """The ``data`` folder inside the installed scikit-image package (located without importing it)."""
    spec = importlib.util.find_spec('skimage')
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError('scikit-image is not installed (pip install scikit-image); '
                           'it provides the photos of the sample data')
    folder = Path(list(spec.submodule_search_locations)[0]) / 'data'
    if not folder.is_dir():
        raise RuntimeError(f'{folder}: scikit-image has no data folder')
    return folder


def _skimage_version():
    try:
        return importlib.metadata.version('scikit-image')
    except importlib.metadata.PackageNotFoundError:
        return 'unknown'


def degrade(img, gamma=DEGRADATION['gamma'], contrast=DEGRADATION['contrast'], pivot=DEGRADATION['pivot'],
            gain_rgb=tuple(DEGRADATION['gain_rgb'])):
    """The fixed photographic degradation that turns a FiveK-style target into its source.

    ``x -> gain * (pivot + contrast * (x ** gamma - pivot))`` per channel, on values in [0, 1], then
    clipped and rounded to uint8.

    Args:
        img (np.ndarray): BGR uint8 image.
        gamma (float): Exposure curve, > 1 darkens. Default: 1.6.
        contrast (float): Contrast factor about ``pivot``, < 1 flattens. Default: 0.75.
        pivot (float): Fixed point of the contrast change. Default: 0.5.
        gain_rgb (tuple[float]): Per-channel gains in R, G, B order (a warm cast). Default: (1.08, 1.0, 0.85).

    Returns:
        np.ndarray: Degraded BGR uint8 image.
    """
    x = (img.astype(np.float64) / 255.0) ** gamma
    x = pivot + contrast * (x - pivot)
    x = x * np.array(gain_rgb[::-1], dtype=np.float64)          # BGR order
    return np.floor(np.clip(x * 255.0, 0.0, 255.0) + 0.5).astype(np.uint8)


def _check_scales(scales):
    scales = sorted({int(s) for s in scales})
    if not scales or scales[0] < 2:
        raise ValueError(f'scales must be integers >= 2, got {scales}')
    return scales


def _grid_cells(img, rows, cols, centre):
    """Split ``img`` (after an optional centre crop) into rows x cols equal cells: (box, cell) pairs."""
    h, w = img.shape[:2]
    y0, x0 = 0, 0
    if centre is not None:
        ch, cw = min(centre[0], h), min(centre[1], w)
        y0, x0, h, w = (h - ch) // 2, (w - cw) // 2, ch, cw
    ch, cw = h // rows, w // cols
    for r in range(rows):
        for c in range(cols):
            y, x = y0 + r * ch, x0 + c * cw
            yield [y, x, ch, cw], img[y:y + ch, x:x + cw]


def _short_side(img, limit):
    h, w = img.shape[:2]
    if min(h, w) <= limit:
        return img
    ratio = limit / min(h, w)
    shape = (limit, round(w * ratio)) if h <= w else (round(h * ratio), limit)
    return imresize(img, output_shape=shape)


class _Writer:
    """Writes files below a root and remembers their SHA-256 for the manifest."""

    def __init__(self, root):
        self.root, self.files = Path(root), {}

    def image(self, rel, img):
        ext = Path(rel).suffix
        params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if ext == '.jpg' else [cv2.IMWRITE_PNG_COMPRESSION, PNG_LEVEL]
        data = encode_image(img, ext, params, name=rel)
        atomic_write_bytes(self.root / rel, data)
        self.files[rel] = hashlib.sha256(data).hexdigest()


def _sources(folder):
    present = set(os.listdir(folder))
    missing = [f for f in TEST_SOURCES if f not in present]
    if missing:
        raise RuntimeError(f'{folder}: held-out photos {missing} are missing from scikit-image')
    train = [entry for entry in TRAIN_SOURCES if entry[0] in present]
    if not train:
        raise RuntimeError(f'{folder}: none of the training photos {[e[0] for e in TRAIN_SOURCES]} is present')
    return train


def _build(root, scales, folder):
    """Write the whole sample tree into ``root`` and return the manifest."""
    train = _sources(folder)
    mod = math.lcm(12, *scales)
    out = _Writer(root)
    photos = {f: read_image(folder / f) for f, *_ in train}
    photos.update({f: read_image(folder / f) for f in TEST_SOURCES})
    manifest = {'format': 'srzoo.sample_data', 'version': VERSION, 'code_sha256': code_fingerprint(),
                'scales': scales, 'hr_multiple_of': mod,
                'source': {'package': 'scikit-image', 'version': _skimage_version(),
                           'sha256': {f: hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in photos}},
                'div2k_train': [], 'sample_test': [],
                'fivek': {'short_side': FIVEK_SHORT_SIDE, 'jpeg_quality': JPEG_QUALITY,
                          'degradation': DEGRADATION, 'train': [], 'test': []}}
    cells = [(f, box, cell) for f, rows, cols, centre in train
             for box, cell in _grid_cells(photos[f], rows, cols, centre)]
    steps = len(cells) + 2 * len(TEST_SOURCES) + len(train)
    with tqdm(total=steps, desc='sample data', unit='img') as bar:
        for index, (source, box, cell) in enumerate(cells, start=1):
            name, hr = f'{index:04d}', modcrop(cell, mod)
            out.image(f'DIV2K/DIV2K_train_HR/{name}.png', hr)
            for s in scales:
                out.image(f'DIV2K/DIV2K_train_LR_bicubic/X{s}/{name}x{s}.png', bicubic_lr(hr, s))
            manifest['div2k_train'].append({'name': name, 'source': source, 'box_yxhw': box,
                                            'size': list(hr.shape[:2])})
            bar.update()
        for source in TEST_SOURCES:
            name, original = Path(source).stem, photos[source]
            out.image(f'benchmark/SampleTest/original/{name}.png', original)
            for s in scales:
                hr = modcrop(original, s)
                out.image(f'benchmark/SampleTest/HR/x{s}/{name}_HR_x{s}.png', hr)
                out.image(f'benchmark/SampleTest/LR_bicubic/x{s}/{name}_LRBI_x{s}.png', bicubic_lr(hr, s))
            manifest['sample_test'].append({'name': name, 'source': source, 'size': list(original.shape[:2])})
            bar.update()
        for split, sources in (('train', [e[0] for e in train]), ('test', TEST_SOURCES)):
            for source in sources:
                name, target = Path(source).stem, _short_side(photos[source], FIVEK_SHORT_SIDE)
                out.image(f'FiveK/FiveK_480p/{split}/B/{name}.jpg', target)
                out.image(f'FiveK/FiveK_480p/{split}/A/{name}.jpg', degrade(target))
                manifest['fivek'][split].append({'name': name, 'source': source, 'size': list(target.shape[:2])})
                bar.update()
    manifest['files'] = dict(sorted(out.files.items()))
    atomic_write_bytes(Path(root) / 'manifest.json', (json.dumps(manifest, indent=1) + '\n').encode('utf-8'))
    return manifest


def _read_manifest(out):
    """The manifest.json of a sample build under ``out`` (any code, any scales), else None."""
    try:
        manifest = json.loads((out / 'manifest.json').read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _previous_scales(out):
    """The scales of the sample build under ``out`` (complete or not), [] if there is none."""
    manifest = _read_manifest(out) or {}
    try:
        return _check_scales(manifest.get('scales') or [])
    except (TypeError, ValueError):
        return []


def _complete_manifest(out, scales):
    """The manifest of a finished build by this code with these scales under ``out``, else None."""
    manifest = _read_manifest(out)
    if manifest is None:
        return None
    if (manifest.get('version'), manifest.get('code_sha256'), manifest.get('scales')) != \
            (VERSION, code_fingerprint(), scales):
        print(f'{out}: sample data was made by other code or for other scales; rebuilding')
        return None
    if not all((out / rel).is_file() for rel in manifest.get('files', {})):
        return None
    return manifest


def build_sample_data(out_dir, scales=(2, 3, 4), force=False):
    """Build the sample datasets under ``out_dir`` unless a complete build is already there.

    Scales are only ever added: when ``out_dir`` holds a build with other scales, the new build has
    the union of both (``--scales 2`` over a 2,3,4 build keeps X3 and X4, and finds it complete), so
    nobody's LR folders vanish because a later command asked for fewer. Remove the folder to shrink it.

    Args:
        out_dir (str | Path): Target folder. An existing folder is replaced only when it holds nothing
            but a previous (complete or interrupted) sample build.
        scales (tuple[int]): SR scales of the LR images (at least these are built). Default: (2, 3, 4).
        force (bool): Rebuild even when a complete build exists. Default: False.

    Returns:
        dict: The manifest (also saved as ``out_dir/manifest.json``).
    """
    out, wanted = Path(out_dir), _check_scales(scales)
    previous = _previous_scales(out)
    scales = _check_scales(set(wanted) | set(previous))
    if not force:
        manifest = _complete_manifest(out, scales)
        if manifest is not None:
            print(f'{out}: sample data already complete (manifest.json, scales {scales}); nothing to do')
            return manifest
    if out.exists():
        if not out.is_dir():
            raise FileExistsError(f'{out}: exists and is not a folder')
        foreign = sorted(set(os.listdir(out)) - _OURS)
        if foreign:
            raise FileExistsError(f'{out}: holds files the sample builder did not make ({", ".join(foreign[:5])}); '
                                  f'refusing to replace it')
    if previous and scales != previous:
        print(f'{out}: keeping scales {previous} and adding {sorted(set(scales) - set(previous))}')
    folder = skimage_data_dir()
    with building_dir(out, overwrite=True) as tmp:
        manifest = _build(tmp, scales, folder)
    print(f'{out}: wrote {len(manifest["files"])} files ({len(manifest["div2k_train"])} training images, '
          f'{len(manifest["sample_test"])} held-out test images, scales {scales})')
    return manifest


def ensure_sample_data(out_dir=None, scales=(2, 3, 4)):
    """Build the sample data only when missing or incomplete; return its manifest.

    Args:
        out_dir (str | Path | None): Default: None (``common.paths.SAMPLE_DATA_DIR``).
        scales (tuple[int]): Default: (2, 3, 4).
    """
    return build_sample_data(paths.SAMPLE_DATA_DIR if out_dir is None else out_dir, scales)


def _parse_scales(text):
    try:
        return _check_scales(int(s) for s in text.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 2 such as '2,3,4', got '{text}'")


def _main(argv):
    parser = FlagParser(prog='python -m common.sample_data',
                        description='Build the small DIV2K / Set5-style / FiveK sample datasets '
                                    "from scikit-image's bundled photos (no download).")
    parser.add_argument('--out', default=str(paths.SAMPLE_DATA_DIR),
                        help=f'output folder (default: {paths.SAMPLE_DATA_DIR})')
    parser.add_argument('--scales', type=_parse_scales, default=[2, 3, 4],
                        help='LR scales (default: 2,3,4); scales of an earlier build in --out are kept')
    parser.add_argument('--force', action='store_true', help='rebuild even if a complete build exists')
    args = parser.parse_args(argv)
    build_sample_data(args.out, args.scales, force=args.force)
    return 0


def main(argv=None):
    """Command line entry for :func:`build_sample_data`: 0, or one ``error:`` line and exit code 2."""
    return run_cli(_main, argv, expected=EXPECTED_ERRORS + (RuntimeError,))


if __name__ == '__main__':
    sys.exit(main())
