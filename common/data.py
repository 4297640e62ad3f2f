"""Data preparation shared by every model: mod-crop, bicubic LR, random crops, flips, sub-images, patches.

Images are numpy arrays, HW or HWC, as :mod:`common.imgio` reads them. Random functions take a
``numpy.random.Generator`` so that every caller controls its own seed.

The sub-image extractor is also a command line tool (DIV2K style, like BasicSR's
``extract_subimages.py``)::

    python -m common.data --input datasets/DIV2K/DIV2K_train_HR --output datasets/DIV2K/DIV2K_train_HR_sub \\
        --crop_size 480 --step 240
"""
import multiprocessing
import os
import re
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from common.cli import FlagParser, run_cli
from common.fileio import building_dir, check_disjoint
from common.imgio import ImageError, list_images, read_image, write_image
from common.imresize import imresize

__all__ = ['modcrop', 'bicubic_lr', 'paired_random_crop', 'unpaired_random_crop', 'dihedral', 'inverse_dihedral',
           'augment', 'extract_subimages', 'sliding_patches']

_SCALE_SUFFIX = re.compile(r'(?<=\d)x\d+$')   # DIV2K LR names: 0001x2 -> 0001


def _check_scale(scale):
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(f'scale must be a positive integer, got {scale!r}')
    return int(scale)


def modcrop(img, scale):
    """Crop the bottom/right so that height and width are multiples of ``scale``.

    Args:
        img (np.ndarray): HW or HWC image.
        scale (int): The SR scale factor.

    Returns:
        np.ndarray: A view of ``img`` of size ``(h - h % scale, w - w % scale)``.
    """
    scale = _check_scale(scale)
    h, w = img.shape[:2]
    if h < scale or w < scale:
        raise ValueError(f'modcrop: image {img.shape} is smaller than the scale {scale}')
    return img[:h - h % scale, :w - w % scale]


def bicubic_lr(hr, scale):
    """The standard "BI" degradation: MATLAB ``imresize(hr, 1/scale, 'bicubic')`` on uint8.

    Args:
        hr (np.ndarray): uint8 HW or HWC image whose sides are multiples of ``scale`` (see :func:`modcrop`).
        scale (int): Downscaling factor.

    Returns:
        np.ndarray: uint8 image of size ``(h // scale, w // scale)``.
    """
    scale = _check_scale(scale)
    if hr.dtype != np.uint8:
        raise ValueError(f'bicubic_lr: expected a uint8 HR image, got {hr.dtype}')
    h, w = hr.shape[:2]
    if h % scale or w % scale:
        raise ValueError(f'bicubic_lr: HR size {h}x{w} is not a multiple of scale {scale}; modcrop it first')
    lr = imresize(hr, scale=1.0 / scale)
    if lr.shape[:2] != (h // scale, w // scale):   # guard against ceil() of an inexact 1/scale
        raise RuntimeError(f'bicubic_lr: imresize returned {lr.shape[:2]}, expected {(h // scale, w // scale)}')
    return lr


def paired_random_crop(lr, hr, lr_patch, scale, rng):
    """Crop aligned patches: the LR patch at ``(x, y)``, the HR patch at ``(x * scale, y * scale)``.

    Args:
        lr (np.ndarray): LR image, HW or HWC.
        hr (np.ndarray): HR image, exactly ``scale`` times the LR size.
        lr_patch (int): LR patch side; the HR patch side is ``lr_patch * scale``.
        scale (int): SR scale factor.
        rng (np.random.Generator): Source of the crop position.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(lr_patch, hr_patch)`` views.
    """
    scale = _check_scale(scale)
    h, w = lr.shape[:2]
    if hr.shape[:2] != (h * scale, w * scale):
        raise ValueError(f'paired_random_crop: HR shape {hr.shape} is not {scale}x the LR shape {lr.shape} '
                         f'(wrong scale, or HR not mod-cropped?)')
    if lr_patch > h or lr_patch > w or lr_patch < 1:
        raise ValueError(f'paired_random_crop: LR patch {lr_patch} does not fit the LR image {lr.shape}')
    y = int(rng.integers(0, h - lr_patch + 1))
    x = int(rng.integers(0, w - lr_patch + 1))
    hr_patch = lr_patch * scale
    return (lr[y:y + lr_patch, x:x + lr_patch],
            hr[y * scale:y * scale + hr_patch, x * scale:x * scale + hr_patch])


def unpaired_random_crop(a, b, patch, rng):
    """Crop a ``patch`` x ``patch`` square from each of two images at independent random positions.

    Used for unpaired training (e.g. LPTN: a source photo and an unrelated reference).

    Args:
        a (np.ndarray): First image, HW or HWC.
        b (np.ndarray): Second image, HW or HWC; its size may differ from ``a``.
        patch (int): Patch side.
        rng (np.random.Generator): Source of both crop positions.

    Returns:
        tuple[np.ndarray, np.ndarray]: The two patches (views).
    """
    out = []
    for name, img in (('first', a), ('second', b)):
        h, w = img.shape[:2]
        if patch > h or patch > w or patch < 1:
            raise ValueError(f'unpaired_random_crop: patch {patch} does not fit the {name} image {img.shape}')
        y = int(rng.integers(0, h - patch + 1))
        x = int(rng.integers(0, w - patch + 1))
        out.append(img[y:y + patch, x:x + patch])
    return out[0], out[1]


def dihedral(img, mode):
    """One of the 8 flips/rotations of the square (the x8 self-ensemble / augmentation group).

    ``mode`` is a 3-bit number: bit 2 transposes (swaps H and W), then bit 0 flips left-right, then
    bit 1 flips up-down. Mode 0 is the identity; modes 4..7 swap height and width.

    Args:
        img (np.ndarray): HW or HWC image (any dtype).
        mode (int): 0..7.

    Returns:
        np.ndarray: The transformed image (a view; see :func:`augment` for contiguous copies).
    """
    mode = _check_mode(mode)
    if mode & 4:
        img = img.swapaxes(0, 1)
    if mode & 1:
        img = img[:, ::-1]
    if mode & 2:
        img = img[::-1]
    return img


def inverse_dihedral(img, mode):
    """Undo :func:`dihedral`: ``inverse_dihedral(dihedral(x, m), m) == x`` for every mode ``m``."""
    mode = _check_mode(mode)
    if mode & 2:
        img = img[::-1]
    if mode & 1:
        img = img[:, ::-1]
    if mode & 4:
        img = img.swapaxes(0, 1)
    return img


def _check_mode(mode):
    if isinstance(mode, bool) or not isinstance(mode, (int, np.integer)) or not 0 <= mode <= 7:
        raise ValueError(f'dihedral mode must be an integer in 0..7, got {mode!r}')
    return int(mode)


def augment(imgs, rng, hflip=True, rot=True):
    """Apply the same random flip/rotation to every image (BasicSR's ``augment``).

    With ``hflip`` a left-right flip happens with probability 0.5; with ``rot`` an up-down flip and
    a transpose each happen with probability 0.5 (together: the 8 dihedral transforms). Three
    random numbers are drawn on every call whatever the flags, so a seed gives the same stream.

    Args:
        imgs (list[np.ndarray] | np.ndarray): Images to transform alike (one array is treated as a
            list of one).
        rng (np.random.Generator): Source of the decisions.
        hflip (bool): Allow horizontal flips. Default: True.
        rot (bool): Allow vertical flips and transposes. Default: True.

    Returns:
        list[np.ndarray]: Contiguous transformed copies, in the input order.
    """
    if isinstance(imgs, np.ndarray):
        imgs = [imgs]
    draws = rng.random(3) < 0.5
    mode = int(hflip and draws[0]) | int(rot and draws[1]) << 1 | int(rot and draws[2]) << 2
    return [np.ascontiguousarray(dihedral(img, mode)) for img in imgs]


def sliding_patches(img, patch, stride):
    """All ``patch`` x ``patch`` squares whose top-left corners lie on a ``stride`` grid.

    Corners run from 0 to ``dim - patch`` inclusive in steps of ``stride`` (rows outer, columns
    inner), as the MindSpore SRCNN reference builds its training set; the bottom/right remainder that
    does not fill a whole step is not covered.

    Args:
        img (np.ndarray): HW or HWC image.
        patch (int): Patch side.
        stride (int): Distance between neighbouring corners.

    Returns:
        np.ndarray: ``(N, patch, patch)`` or ``(N, patch, patch, C)`` copy.
    """
    h, w = img.shape[:2]
    if patch < 1 or stride < 1:
        raise ValueError(f'sliding_patches: patch and stride must be >= 1, got {patch} and {stride}')
    if patch > h or patch > w:
        raise ValueError(f'sliding_patches: patch {patch} does not fit the image {img.shape}')
    return np.stack([img[y:y + patch, x:x + patch]
                     for y in range(0, h - patch + 1, stride)
                     for x in range(0, w - patch + 1, stride)])


def _grid_starts(size, crop_size, step, thresh_size):
    """Crop starts along one axis: every ``step``, plus a last one flush with the border if the
    uncovered remainder exceeds ``thresh_size``."""
    starts = list(range(0, size - crop_size + 1, step))
    if size - (starts[-1] + crop_size) > thresh_size:
        starts.append(size - crop_size)
    return starts


def _crop_one(job):
    """Worker: cut one image into sub-images; returns how many it wrote."""
    path, out_dir, name, crop_size, step, thresh_size, compress_level = job
    img = read_image(path, flag='unchanged')
    h, w = img.shape[:2]
    if h < crop_size or w < crop_size:
        raise ImageError(f'{path}: {h}x{w} is smaller than crop_size {crop_size}')
    index = 0
    for y in _grid_starts(h, crop_size, step, thresh_size):
        for x in _grid_starts(w, crop_size, step, thresh_size):
            index += 1
            write_image(Path(out_dir) / f'{name}_s{index:03d}.png', img[y:y + crop_size, x:x + crop_size],
                        [cv2.IMWRITE_PNG_COMPRESSION, compress_level])
    return index


def extract_subimages(in_dir, out_dir, crop_size, step, thresh_size=0, n_workers=None, compress_level=3,
                      overwrite=False, strip_scale_suffix=True):
    """Cut every image of a folder into overlapping square sub-images (DIV2K preparation).

    Sub-image ``k`` (1-based, rows outer) of ``0001.png`` is saved as ``0001_s{k:03d}.png``. With
    ``strip_scale_suffix`` a DIV2K LR suffix is removed from the name (``0001x2.png`` -> ``0001_s001.png``),
    so HR and LR sub-images share names. The output folder is built under a temporary name and
    renamed when complete; an error in any worker stops the run and is raised here.

    Args:
        in_dir (str | Path): Folder of images.
        out_dir (str | Path): Folder to create.
        crop_size (int): Sub-image side, e.g. 480 for DIV2K HR, 240/160/120 for LR x2/x3/x4.
        step (int): Distance between sub-images, e.g. 240 for HR.
        thresh_size (int): Add a last crop flush with the border when the uncovered remainder is larger
            than this. Default: 0.
        n_workers (int | None): Worker processes; 1 runs in this process. Default: None (CPU count).
        compress_level (int): PNG compression level 0..9. Default: 3.
        overwrite (bool): Replace an existing ``out_dir``. Default: False.
        strip_scale_suffix (bool): Drop a trailing ``x<digits>`` that follows a digit. Default: True.

    Returns:
        list[Path]: The sub-images written, sorted.
    """
    if crop_size < 1 or step < 1 or thresh_size < 0:
        raise ValueError(f'extract_subimages: need crop_size >= 1, step >= 1, thresh_size >= 0, '
                         f'got {crop_size}, {step}, {thresh_size}')
    paths = list_images(in_dir)
    names = {}
    for path in paths:
        name = _SCALE_SUFFIX.sub('', path.stem) if strip_scale_suffix else path.stem
        if name in names:
            raise ImageError(f'{path}: gives the same sub-image names as {names[name]}')
        names[name] = path
    n_workers = max(1, min(n_workers or os.cpu_count() or 1, len(paths)))
    with building_dir(out_dir, overwrite=overwrite) as tmp:
        jobs = [(str(p), str(tmp), n, crop_size, step, thresh_size, compress_level) for n, p in names.items()]
        progress = tqdm(total=len(jobs), desc=f'sub-images {Path(in_dir).name}', unit='img')
        with progress:
            if n_workers == 1:
                for job in jobs:
                    _crop_one(job)
                    progress.update()
            else:
                with multiprocessing.Pool(n_workers) as pool:
                    for _ in pool.imap_unordered(_crop_one, jobs):
                        progress.update()
    return sorted(Path(out_dir).iterdir())


def _main(argv):
    parser = FlagParser(prog='python -m common.data',
                        description='Cut the images of a folder into square sub-images (DIV2K style).')
    parser.add_argument('--input', required=True, help='folder of images')
    parser.add_argument('--output', required=True,
                        help='folder to create, outside --input (must not exist unless --overwrite)')
    parser.add_argument('--crop_size', type=int, required=True, help='sub-image side, e.g. 480 (HR), 240 (LR x2)')
    parser.add_argument('--step', type=int, required=True, help='distance between sub-images, e.g. 240 (HR)')
    parser.add_argument('--thresh_size', type=int, default=0, help='add a border-flush crop when more than this '
                        'many pixels are left uncovered (default: 0)')
    parser.add_argument('--n_workers', type=int, default=None, help='worker processes (default: CPU count)')
    parser.add_argument('--compress_level', type=int, default=3, help='PNG compression 0..9 (default: 3)')
    parser.add_argument('--keep_scale_suffix', action='store_true', help="keep 'x2' in names such as 0001x2.png")
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --output')
    args = parser.parse_args(argv)
    if args.n_workers is not None and args.n_workers < 1:
        parser.error(f'--n_workers must be >= 1, got {args.n_workers}')
    check_disjoint(args.output, args.input, '--output', '--input')
    written = extract_subimages(args.input, args.output, args.crop_size, args.step, args.thresh_size,
                                args.n_workers, args.compress_level, overwrite=args.overwrite,
                                strip_scale_suffix=not args.keep_scale_suffix)
    print(f'wrote {len(written)} sub-images to {args.output}')
    return 0


def main(argv=None):
    """Command line entry for :func:`extract_subimages`: 0, or one ``error:`` line and exit code 2."""
    return run_cli(_main, argv)


if __name__ == '__main__':
    sys.exit(main())
