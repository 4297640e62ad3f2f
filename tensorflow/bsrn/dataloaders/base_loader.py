"""What both data loaders share: paired LR/HR images per scale and seeded random patches.

A batch is the reference's: ``batch_size`` patches, each from a random image, at a random position,
rotated by ``np.rot90(k)`` (k in 1..4) and flipped left-right with probability 0.5. Unlike the
reference (``np.random``'s global state), batch ``k`` is drawn from ``default_rng([seed, k])``, so a
resumed run sees exactly the batches the uninterrupted one would have seen; the training scale of
step ``k`` comes from the same generator.

Images are read with ``common.imgio.read_image(bits=8)`` (RGB order for the network), checked for
size (HR = scale x LR, up to the scale's mod-crop) when the loader is built, and kept in memory with
``--data_cached`` (the reference's flag), else read again for every patch.
"""
from pathlib import Path

import numpy as np

from common.distributed import shard_indices
from common.imgio import ImageError, list_images, read_image

__all__ = ['PairedLoader', 'read_rgb']


def read_rgb(path):
    """An 8-bit image as an RGB uint8 array [H, W, 3] (grey images are replicated)."""
    return np.ascontiguousarray(read_image(path, bits=8)[:, :, ::-1])


class PairedLoader:
    """LR/HR pairs at several scales.

    Args:
        pairs (dict[int, list[tuple[str, Path, Path]]]): Per scale, ``(name, lr path, hr path)``.
        cached (bool): Decode every image once and keep it (``--data_cached``). Default: False.
        check (bool): Read every pair now to check sizes (one error naming the file). Default: True.
    """

    def __init__(self, pairs, cached=False, check=True):
        self.pairs = {int(s): list(v) for s, v in pairs.items()}
        self.scales = sorted(self.pairs)
        self.cached = bool(cached)
        self._cache = {}
        for scale, items in self.pairs.items():
            if not items:
                raise ValueError(f'no training images for scale x{scale}')
            if check or cached:
                for i in range(len(items)):
                    self.get(scale, i)
            if not cached:
                self._cache.clear()

    def names(self, scale):
        """The image names of ``scale``, in loading order."""
        return [n for n, _, _ in self.pairs[scale]]

    def get(self, scale, index):
        """``(lr, hr)`` uint8 RGB of pair ``index`` at ``scale`` (HR mod-cropped to scale x LR)."""
        key = (scale, index)
        if key in self._cache:
            return self._cache[key]
        name, lr_path, hr_path = self.pairs[scale][index]
        lr, hr = read_rgb(lr_path), read_rgb(hr_path)
        h, w = lr.shape[0] * scale, lr.shape[1] * scale
        if not (0 <= hr.shape[0] - h < scale and 0 <= hr.shape[1] - w < scale):
            raise ImageError(f'{hr_path}: HR is {hr.shape[1]}x{hr.shape[0]}, but its x{scale} LR {lr_path} is '
                             f'{lr.shape[1]}x{lr.shape[0]} (HR should be about {w}x{h})')
        pair = (lr, np.ascontiguousarray(hr[:h, :w]))
        if self.cached:
            self._cache[key] = pair
        return pair

    def fingerprint(self):
        """Names and file sizes per scale (the run identity's dataset part)."""
        return {f'x{s}': [[n, Path(lr).stat().st_size, Path(hr).stat().st_size] for n, lr, hr in items]
                for s, items in self.pairs.items()}

    def shard(self, scale, rank, ranks):
        """The pair indices of rank ``rank`` of ``ranks`` at ``scale`` (every ``ranks``-th pair)."""
        if ranks == 1:
            return list(range(len(self.pairs[scale])))
        where = Path(self.pairs[scale][0][1]).parent
        return shard_indices(len(self.pairs[scale]), rank, ranks, f'the x{scale} LR folder {where}')

    def batch(self, step, seed, scales, batch_size, patch_size, shard=(0, 1)):
        """The training batch of global step ``step``: ``(scale, lr [B, p, p, 3], hr [B, sp, sp, 3])`` float32.

        Args:
            step (int): Global step (0-based).
            seed (int): The run's seed.
            scales (list[int]): Scales to draw from (``--scales``).
            batch_size (int): Patches per batch.
            patch_size (int): LR patch side (``--input_patch_size``).
            shard (tuple[int, int]): (rank, ranks) of a data-parallel run: patches from this rank's
                images only, from a stream of its own (scale included). Default: (0, 1).
        """
        rank, ranks = shard
        rng = np.random.default_rng([int(seed), int(step)] + ([] if ranks == 1 else [int(rank), int(ranks)]))
        scale = int(scales[rng.integers(len(scales))])
        images = self.shard(scale, rank, ranks)
        lrs, hrs = [], []
        for _ in range(batch_size):
            lr, hr = self.get(scale, images[int(rng.integers(len(images)))])
            h, w = lr.shape[:2]
            if h < patch_size or w < patch_size:
                raise ValueError(f'--input_patch_size={patch_size}: larger than a x{scale} LR image '
                                 f'({w}x{h}, {self.pairs[scale][0][1].parent})')
            y, x = int(rng.integers(h - patch_size + 1)), int(rng.integers(w - patch_size + 1))
            lp = lr[y:y + patch_size, x:x + patch_size]
            hp = hr[y * scale:(y + patch_size) * scale, x * scale:(x + patch_size) * scale]
            k = int(rng.integers(1, 5))
            lp, hp = np.rot90(lp, k), np.rot90(hp, k)
            if rng.random() < 0.5:
                lp, hp = np.fliplr(lp), np.fliplr(hp)
            lrs.append(lp)
            hrs.append(hp)
        return scale, np.stack(lrs).astype(np.float32), np.stack(hrs).astype(np.float32)


def require_dir(path, flag):
    """``Path(path)``, or a one-line error when it is not a folder."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f'{flag}={path}: no such folder')
    return path


def images_in(folder, flag):
    """The image files of ``folder`` (sorted), or a one-line error when there are none."""
    folder = require_dir(folder, flag)
    found = list_images(folder)
    if not found:
        raise FileNotFoundError(f'{flag}={folder}: no images there')
    return found
