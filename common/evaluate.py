"""Score a folder of SR outputs against a folder of HR images (PSNR/SSIM, published protocol).

    python -m common.evaluate --sr results/RCAN/x4 --hr Set5/HR/x4 --scale 4 [--json out.json]

Files are paired by image name: a trailing ``x{scale}`` (``0801x4``) or ``_<tag>_x{scale}``
(``baby_RCAN_x4``, ``baby_HR_x4``) is stripped from the file stem, so ``baby_RCAN_x4.png``,
``baby_HR_x4.png`` and ``baby.png`` all name the image ``baby``. By default the metrics follow the
paper protocol (Y of BT.601 unrounded, ``crop_border = scale``, SSIM of Wang et al. 2004); ``--rgb``,
``--crop_border`` and ``--round_y`` select other conventions, and the printed label says which.
"""
import json
import re
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common.cli import FlagParser, run_cli
from common.fileio import atomic_write_bytes, check_disjoint
from common.imgio import ImageError, list_images, read_image
from common.metrics import evaluate_pairs, protocol

__all__ = ['image_keys', 'pair_folders', 'evaluate_folders', 'main']


def image_keys(stem, scale):
    """Names an image file stem may stand for, most specific first.

    Args:
        stem (str): File name without extension, e.g. 'baby_RCAN_x4'.
        scale (int): The SR scale, e.g. 4.

    Returns:
        list[str]: e.g. ['baby_RCAN', 'baby'] for 'baby_RCAN_x4', ['0801'] for '0801x4', ['baby'] for 'baby'.
    """
    base = re.sub(rf'_?[xX]{scale}$', '', stem)
    if base == stem or not base:
        return [stem]
    keys = [base]
    if '_' in base.strip('_'):
        keys.append(base.rsplit('_', 1)[0])   # drop the '_<tag>' before '_x{scale}'
    return keys


def pair_folders(sr_dir, hr_dir, scale):
    """Pair the images of two folders by name (see :func:`image_keys`).

    Args:
        sr_dir (str | Path): Folder of SR outputs.
        hr_dir (str | Path): Folder of ground-truth HR images.
        scale (int): The SR scale (used to strip 'x{scale}' suffixes).

    Returns:
        list[tuple[str, Path, Path]]: ``(name, sr_path, hr_path)`` sorted by name.

    Raises:
        ImageError: A folder is missing or holds no image.
        ValueError: Some images have no partner, or a name matches several files.
    """
    sr_paths, hr_paths = list_images(sr_dir), list_images(hr_dir)
    hr_index = {}
    for path in hr_paths:
        for key in image_keys(path.stem, scale):
            hr_index.setdefault(key, []).append(path)

    pairs, used, unmatched = [], {}, []
    for path in sr_paths:
        match = next(((key, hr_index[key][0]) for key in image_keys(path.stem, scale)
                      if len(hr_index.get(key, ())) == 1), None)
        if match is None:
            unmatched.append(path.name)
            continue
        key, hr_path = match
        if hr_path in used:
            raise ValueError(f'{sr_dir}: {used[hr_path]} and {path.name} both match {hr_path.name}')
        used[hr_path] = path.name
        pairs.append((key, path, hr_path))
    unmatched_hr = [p.name for p in hr_paths if p not in used]
    if unmatched or unmatched_hr:
        parts = []
        if unmatched:
            parts.append(f'SR without HR: {", ".join(unmatched)}')
        if unmatched_hr:
            parts.append(f'HR without SR: {", ".join(unmatched_hr)}')
        raise ValueError(f'cannot pair {sr_dir} with {hr_dir} at x{scale}: ' + '; '.join(parts))
    return sorted(pairs)


def _read_8bit(path):
    img = read_image(path)
    if img.dtype != np.uint8:
        raise ImageError(f'{path}: expected an 8-bit image, got {img.dtype}')
    return img


def evaluate_folders(sr_dir, hr_dir, scale, crop_border=None, test_y_channel=True, round_y=False):
    """PSNR/SSIM of every SR image in ``sr_dir`` against its HR partner in ``hr_dir``.

    Args:
        sr_dir (str | Path): Folder of SR outputs (8-bit images).
        hr_dir (str | Path): Folder of HR images; an HR image larger than its SR partner by less than
            ``scale`` pixels per axis is mod-cropped to it.
        scale (int): The SR scale.
        crop_border (int | None): Pixels shaved on every side. Default: None (= ``scale``).
        test_y_channel (bool): Y of BT.601 (the protocol) rather than RGB. Default: True.
        round_y (bool): Round Y to integers first. Default: False.

    Returns:
        list[dict]: ``[{'name', 'psnr', 'ssim'}, ...]`` sorted by name.
    """
    if not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(f'scale must be a positive int, got {scale!r}')
    crop_border = scale if crop_border is None else crop_border
    pairs = pair_folders(sr_dir, hr_dir, scale)
    loaded = ((name, _read_8bit(sr), _read_8bit(hr)) for name, sr, hr in
              tqdm(pairs, desc='evaluate', unit='img', leave=False, disable=len(pairs) < 10))
    return evaluate_pairs(loaded, crop_border, test_y_channel=test_y_channel, round_y=round_y, scale=scale)


def format_table(results, label):
    """The per-image table, the mean and the protocol label, as printable text."""
    width = max([len('image'), len('mean')] + [len(r['name']) for r in results])
    lines = [f'{"image":<{width}}  {"PSNR (dB)":>10}  {"SSIM":>8}']
    lines += [f'{r["name"]:<{width}}  {r["psnr"]:>10.6f}  {r["ssim"]:>8.6f}' for r in results]
    mean_psnr = float(np.mean([r['psnr'] for r in results]))
    mean_ssim = float(np.mean([r['ssim'] for r in results]))
    lines.append(f'{"mean":<{width}}  {mean_psnr:>10.6f}  {mean_ssim:>8.6f}')
    lines.append(f'protocol: {label}')
    return '\n'.join(lines)


def _parse_args(argv):
    parser = FlagParser(
        prog='python -m common.evaluate',
        description='PSNR/SSIM of SR outputs against HR images, paired by image name. Default protocol: '
                    'Y of BT.601 unrounded, crop_border = scale, SSIM of Wang et al. 2004.')
    parser.add_argument('--sr', required=True, type=Path, help='folder of SR output images')
    parser.add_argument('--hr', required=True, type=Path, help='folder of ground-truth HR images')
    parser.add_argument('--scale', required=True, type=int, help='SR scale factor, e.g. 4')
    parser.add_argument('--crop_border', type=int, default=None,
                        help='pixels shaved on every side (default: the scale)')
    parser.add_argument('--rgb', action='store_true', help='measure all RGB channels instead of Y')
    parser.add_argument('--round_y', action='store_true',
                        help='round Y to integers first (MATLAB rgb2ycbcr on uint8, as KAIR does)')
    parser.add_argument('--json', type=Path, default=None,
                        help='write per-image results to this JSON file (outside --sr and --hr)')
    args = parser.parse_args(argv)
    if args.scale < 1:
        parser.error(f'--scale must be >= 1, got {args.scale}')
    if args.crop_border is not None and args.crop_border < 0:
        parser.error(f'--crop_border must be >= 0, got {args.crop_border}')
    if args.round_y and args.rgb:
        parser.error('--round_y applies to the Y channel; it cannot be combined with --rgb')
    return args


def _check_json_target(path, sr_dir, hr_dir):
    """Refuse a --json that is, holds or lies inside an input folder, or that is a folder."""
    check_disjoint(path, sr_dir, '--json', '--sr')
    check_disjoint(path, hr_dir, '--json', '--hr')
    if path.is_dir():
        raise ValueError(f'--json={path} is a folder; expected a file name')
    if path.parent.exists() and not path.parent.is_dir():
        raise ValueError(f'--json={path}: {path.parent} is not a folder')


def _main(argv):
    args = _parse_args(argv)
    if args.json is not None:
        _check_json_target(args.json, args.sr, args.hr)     # before any work: nothing is written on refusal
    crop_border = args.scale if args.crop_border is None else args.crop_border
    proto = protocol(crop_border, test_y_channel=not args.rgb, round_y=args.round_y)
    results = evaluate_folders(args.sr, args.hr, args.scale, crop_border=crop_border,
                               test_y_channel=not args.rgb, round_y=args.round_y)
    print(format_table(results, proto['label']))
    if args.json is not None:
        record = {
            'sr_dir': str(args.sr), 'hr_dir': str(args.hr), 'scale': args.scale, 'protocol': proto,
            'per_image': results,
            'mean': {'psnr': float(np.mean([r['psnr'] for r in results])),
                     'ssim': float(np.mean([r['ssim'] for r in results]))},
        }
        atomic_write_bytes(args.json, (json.dumps(record, indent=2) + '\n').encode())
    return 0


def main(argv=None):
    """Command-line entry point: 0, or one ``error:`` line on stderr and exit code 2 for bad input."""
    return run_cli(_main, argv)


if __name__ == '__main__':
    sys.exit(main())
