"""Training and test images, the seeded patch sampler, and the tf.data input path.

Sources: a folder of images (the DIV2K layout: ``DIV2K_train_HR/`` and
``DIV2K_train_LR_bicubic/X{s}/``; any folder pair works) or an image LMDB made by
``python -m common.lmdb_io``. LR and HR images are paired by name (the reference paired them by
sorted position, so one renamed file shifted every later pair): the name is the file stem (LMDB: the
key) without a trailing ``x{scale}`` or ``_<tag>_x{scale}`` (common.evaluate.image_keys), so
``0001x2.png`` pairs with ``0001.png`` and ``baby_LRBI_x2.png`` with ``baby_HR_x2.png``. Everything is
checked before training starts: both sources exist, every image has exactly one partner (an unpaired
one is named), each HR image is ``scale`` times its LR image (an HR image may exceed that by less
than ``scale`` pixels, which is cropped away), and with ``in_memory`` every image decodes.

Images are RGB uint8 (``common.imgio.read_image(..., bits=8)``, gray replicated to 3 channels).

:class:`PatchSampler` draws batch ``step`` from the seed and the step alone: the epoch's order is
``common.runs.epoch_order(n, seed, epoch)``, then each sample gets a random LR patch (HR patch at
``scale`` times its position) and one of the 8 flips/rotations. A resumed run therefore sees exactly
the batches an uninterrupted run sees. :func:`tf_batches` serves the same batches through tf.data
(``--in_memory False``: images are read when needed, in a background thread).
"""
import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from common.data import dihedral, paired_random_crop
from common.imgio import ImageError, list_images, read_image
from common.lmdb_io import LmdbImageReader
from common.distributed import shard_indices
from common.evaluate import image_keys
from common.runs import epoch_order

__all__ = ['ImageSet', 'PairedImages', 'PatchSampler', 'tf_batches', 'is_lmdb']


def is_lmdb(path):
    """Whether ``path`` names an image LMDB (a '.lmdb' folder, or one holding data.mdb)."""
    path = Path(path)
    return path.suffix == '.lmdb' or (path / 'data.mdb').is_file()


def _header_size(path):
    """(h, w) from the file header, without decoding the pixels."""
    try:
        with Image.open(path) as img:
            w, h = img.size
    except Exception:                  # noqa: BLE001 - PIL raises many types for bad files
        raise ImageError(f'{path}: cannot decode image (corrupt, truncated or unsupported format)') from None
    return h, w


class ImageSet:
    """The images of one folder or LMDB, sorted by name, as RGB uint8.

    Args:
        path (str | Path): Folder of images, or an image LMDB.
        flag (str): The flag that named it, for messages (e.g. '--train_GT_path').
        in_memory (bool): Decode everything now (and check it); else read on demand. Default: True.

    Attributes:
        names (list[str]): File names (LMDB: keys).
        shapes (list[tuple[int, int]]): (h, w) per image.
    """

    def __init__(self, path, flag, in_memory=True):
        self.path, self.flag = Path(path), flag
        self._cache = None
        if is_lmdb(self.path):
            try:
                self._lmdb = LmdbImageReader(self.path)
            except FileNotFoundError as err:
                raise FileNotFoundError(f'{flag}={err}') from None
            self.names = sorted(self._lmdb.keys)
            self.shapes = [self._lmdb.shapes[k][:2] for k in self.names]
            self._files = None
        else:
            self._lmdb = None
            try:
                self._files = list_images(self.path)
            except ImageError as err:
                raise ImageError(f'{flag}={err}') from None
            self.names = [p.name for p in self._files]
            self.shapes = None if in_memory else [_header_size(p) for p in self._files]
        if in_memory:
            self._cache = [self._decode(i) for i in range(len(self.names))]
            self.shapes = [img.shape[:2] for img in self._cache]

    def __len__(self):
        return len(self.names)

    @property
    def stems(self):
        """The names without their extension (LMDB keys as they are)."""
        return list(self.names) if self._lmdb is not None else [p.stem for p in self._files]

    def _decode(self, i):
        if self._lmdb is not None:
            bgr = self._lmdb.read(self.names[i])
            if bgr.dtype != np.uint8:
                raise ImageError(f'{self.path}[{self.names[i]}]: {bgr.dtype} pixels, expected 8-bit images')
        else:
            bgr = read_image(self._files[i], bits=8)
        return np.ascontiguousarray(bgr[:, :, ::-1])

    def read(self, i):
        """Image ``i`` as an RGB uint8 HxWx3 array (shared when in memory: do not modify it)."""
        if self._cache is not None:
            return self._cache[i]
        img = self._decode(i)
        if img.shape[:2] != tuple(self.shapes[i]):
            raise ImageError(f'{self.path / self.names[i]}: decoded size {img.shape[:2]} differs from its header')
        return img


def partners(lr, hr, scale, lr_flag, hr_flag):
    """The index in ``hr`` of the partner of each image of ``lr`` (ImageSets), matched by name.

    Raises:
        ValueError: One line naming the first image without exactly one partner.
    """
    def index(images):
        keys = {}
        for i, stem in enumerate(images.stems):
            for key in image_keys(stem, scale):
                keys.setdefault(key, []).append(i)
        return keys

    hr_keys, lr_keys = index(hr), index(lr)
    rule = f'LR and HR images are paired by name at --scale={scale}, e.g. 0001x{scale}.png with 0001.png'
    found = []
    for i, stem in enumerate(lr.stems):
        hits = next((hr_keys[k] for k in image_keys(stem, scale) if k in hr_keys), [])
        if len(hits) != 1:
            what = 'no partner' if not hits else 'several partners (' + ', '.join(hr.names[j] for j in hits) + ')'
            raise ValueError(f'{lr_flag}={lr.path}: {lr.names[i]} has {what} in {hr_flag}={hr.path}; {rule}')
        found.append(hits[0])
    claimed = {}
    for i, j in enumerate(found):
        claimed.setdefault(j, []).append(i)
    for j in range(len(hr)):
        claims = claimed.get(j, [])
        if len(claims) != 1:
            what = 'no partner' if not claims else 'several partners (' + ', '.join(lr.names[i] for i in claims) + ')'
            raise ValueError(f'{hr_flag}={hr.path}: {hr.names[j]} has {what} in {lr_flag}={lr.path}; {rule}')
    return found


class PairedImages:
    """LR/HR image pairs matched by name (:func:`partners`), checked for size.

    Args:
        lr_path (str | Path): LR folder or LMDB.
        hr_path (str | Path | None): HR folder or LMDB; None for LR-only sets (``--mode test_only``).
        scale (int): SR scale.
        in_memory (bool): Decode everything up front. Default: True.
        lr_flag (str): Flag naming the LR source. Default: '--train_LR_path'.
        hr_flag (str): Flag naming the HR source. Default: '--train_GT_path'.
        patch_size (int | None): LR patch side every LR image must fit (training). Default: None.
    """

    def __init__(self, lr_path, hr_path, scale, in_memory=True, lr_flag='--train_LR_path',
                 hr_flag='--train_GT_path', patch_size=None):
        self.scale = scale
        self.hr = None if hr_path is None else ImageSet(hr_path, hr_flag, in_memory)
        self.lr = ImageSet(lr_path, lr_flag, in_memory)
        self.hr_index = None if self.hr is None else partners(self.lr, self.hr, scale, lr_flag, hr_flag)
        for i, (h, w) in enumerate(self.lr.shapes):
            if patch_size is not None and (h < patch_size or w < patch_size):
                raise ValueError(f'--patch_size={patch_size} does not fit {self.lr.names[i]} ({h}x{w}) in {lr_path}')
            if self.hr is None:
                continue
            j = self.hr_index[i]
            big_h, big_w = self.hr.shapes[j]
            if not (0 <= big_h - h * scale < scale and 0 <= big_w - w * scale < scale):
                raise ValueError(f'{self.lr.names[i]} ({h}x{w}) x{scale} does not match {self.hr.names[j]} '
                                 f'({big_h}x{big_w}), its partner by name (wrong --scale or folder?)')

    def __len__(self):
        return len(self.lr)

    @property
    def names(self):
        """LR file names (what result files list)."""
        return self.lr.names

    def pair(self, i):
        """(LR, HR) of pair ``i``, RGB uint8, HR cropped to exactly ``scale`` times the LR size."""
        lr = self.lr.read(i)
        hr = self.read_hr(i)[:lr.shape[0] * self.scale, :lr.shape[1] * self.scale]
        return lr, hr

    def read_hr(self, i):
        """The HR partner of LR image ``i``, RGB uint8, as stored (not cropped)."""
        return self.hr.read(self.hr_index[i])

    def fingerprint(self):
        """A short hash of the names and sizes (a resumed run must see the same data)."""
        text = repr((self.lr.names, [tuple(s) for s in self.lr.shapes],
                     None if self.hr is None else ([self.hr.names[j] for j in self.hr_index],
                                                   [tuple(self.hr.shapes[j]) for j in self.hr_index])))
        return hashlib.sha1(text.encode()).hexdigest()[:16]


class PatchSampler:
    """Batches of random aligned patches, a pure function of ``(seed, step)``.

    Args:
        pairs (PairedImages): Training pairs.
        patch_size (int): LR patch side (HR side: ``patch_size * scale``).
        batch_size (int): Patches per batch.
        seed (int): The run's seed.
        enlarge_ratio (int): Each epoch visits every image this many times (BasicSR's
            ``dataset_enlarge_ratio``). Default: 1 (the reference's epoch of N // batch_size steps).
        shard (tuple[int, int]): (rank, ranks) of a data-parallel run: this rank samples only images
            ``rank, rank + ranks, ...`` with a stream of its own. Default: (0, 1) (every image).

    Raises:
        ValueError: An epoch would hold less than one batch.
    """

    def __init__(self, pairs, patch_size, batch_size, seed, enlarge_ratio=1, shard=(0, 1)):
        self.pairs, self.patch_size, self.batch_size = pairs, patch_size, batch_size
        rank, ranks = shard
        self.images = np.arange(len(pairs)) if ranks == 1 else \
            np.array(shard_indices(len(pairs), rank, ranks, f'--train_LR_path={pairs.lr.path}'))
        self.stream = [] if ranks == 1 else [int(rank), int(ranks)]       # 1 process: the original stream
        self.seed, self.samples = int(seed), len(self.images) * enlarge_ratio
        self.steps_per_epoch = self.samples // batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(f'--batch_size={batch_size} is more than one epoch holds ({len(self.images)} images x '
                             f'--dataset_enlarge_ratio={enlarge_ratio}); lower it or raise the ratio')

    def indices(self, step):
        """Image indices of batch ``step`` (0-based global step)."""
        epoch, k = divmod(int(step), self.steps_per_epoch)
        order = epoch_order(self.samples, self.seed, epoch) if not self.stream else \
            np.random.default_rng([self.seed, epoch, *self.stream]).permutation(self.samples)
        return self.images[order[k * self.batch_size:(k + 1) * self.batch_size] % len(self.images)]

    def batch(self, step):
        """Batch ``step``: (LR [B, p, p, 3], HR [B, p*s, p*s, 3]) float32 on 0..255."""
        rng = np.random.default_rng([self.seed, int(step), 1, *self.stream])
        lrs, hrs = [], []
        for i in self.indices(step):
            lr, hr = paired_random_crop(*self.pairs.pair(int(i)), self.patch_size, self.pairs.scale, rng)
            mode = int(rng.integers(8))
            lrs.append(dihedral(lr, mode))
            hrs.append(dihedral(hr, mode))
        return np.stack(lrs).astype(np.float32), np.stack(hrs).astype(np.float32)


def tf_batches(sampler, start, stop, errors):
    """The sampler's batches ``start``..``stop - 1`` as a tf.data iterator (graph mode).

    Args:
        sampler (PatchSampler): The batches.
        start (dict): ``start['step']``, read when the iterator is initialised (after a resume has
            restored the step).
        stop (int): One past the last step.
        errors (list): Receives the exception that stopped the generator (tf.data reports it as an
            OpError; the caller re-raises the original).

    Returns:
        tuple: ``(iterator initializer op, (LR batch, HR batch) tensors)``.
    """
    import tensorflow as tf

    def generate():
        try:
            for step in range(start['step'], stop):
                yield sampler.batch(step)
        except Exception as err:
            errors.append(err)
            raise

    p, s, b = sampler.patch_size, sampler.pairs.scale, sampler.batch_size
    signature = (tf.TensorSpec([b, p, p, 3], tf.float32), tf.TensorSpec([b, p * s, p * s, 3], tf.float32))
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature).prefetch(2)
    iterator = tf.compat.v1.data.make_initializable_iterator(dataset)
    return iterator.initializer, iterator.get_next()
