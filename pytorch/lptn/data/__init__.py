"""LPTN data (the reference's ``codes/data``): image sources, the unpaired and paired datasets, loaders.

Training samples are keyed ``(epoch, index)`` (:func:`epoch_keys`, served by
``torchzoo.dist.RankShardSampler``, each rank its slice of every global batch); every random choice of a sample
(crop positions, flips) comes from ``numpy.random.default_rng([seed, epoch, index])`` and the order of
an epoch from ``common.runs.epoch_order(n, seed, epoch)``, so DataLoader workers, restarts and resumed
runs all see the same batches.
"""
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from common.imgio import ImageError, img2float, list_images, read_image
from common.lmdb_io import LmdbImageReader
from common.runs import epoch_order
from torchzoo.dist import RankShardSampler

__all__ = ['ImageSource', 'open_sources', 'img2tensor', 'tensor2img', 'epoch_keys', 'build_dataset', 'build_dataloader',
           'resolve_root']

CACHE_IMAGES = 64                 # decoded images kept per source and process


def resolve_root(value, key, base=None):
    """A ``dataroot_*`` path: as given if it exists, else relative to ``base`` (the port folder); one line naming the key otherwise."""
    path = Path(value)
    if not path.exists() and base is not None and not path.is_absolute() and (Path(base) / path).exists():
        path = Path(base) / path
    if not path.exists():
        raise FileNotFoundError(f'{key}={value}: no such file or folder')
    return path


class ImageSource:
    """Images by key from a folder (``disk``) or a ``common.lmdb_io`` LMDB (``lmdb``), decoded BGR uint8.

    Keys: file stems for a folder, ``meta_info.txt`` keys for an LMDB. A few decoded images are cached
    per process (the sets are read over and over).

    Args:
        root (str | Path): Folder or ``.lmdb`` folder.
        backend (str): 'disk' or 'lmdb'.
        key (str): The option that named ``root``, for messages.
    """

    def __init__(self, root, backend, key):
        self.root, self.backend, self.key = Path(root), backend, key
        if backend == 'lmdb':
            if not (self.root / 'data.mdb').is_file():
                raise FileNotFoundError(f'{key}={root}: not an LMDB (no data.mdb); build it with '
                                        f'scripts/data_preparation/create_lmdb.py, or set io_backend.type: disk')
            self._lmdb = LmdbImageReader(self.root)
            self.keys = list(self._lmdb.keys)
            self.paths = {k: f'{self.root}/{k}.png' for k in self.keys}
        else:
            if (self.root / 'data.mdb').is_file():
                raise ValueError(f'{key}={root}: is an LMDB; set io_backend.type: lmdb')
            files = list_images(self.root)
            self.paths = {p.stem: str(p) for p in files}
            self.keys = list(self.paths)
            self._lmdb = None
        if not self.keys:
            raise ValueError(f'{key}={root}: holds no images')
        self._cache = {}

    def __len__(self):
        return len(self.keys)

    def read(self, key):
        """BGR uint8 HWC image of ``key``."""
        img = self._cache.get(key)
        if img is None:
            img = self._lmdb.read(key) if self._lmdb is not None else read_image(self.paths[key], bits=8)
            if img.dtype != np.uint8:
                img = (img // 257).astype(np.uint8)
            if img.ndim == 2:
                img = np.repeat(img[..., None], 3, axis=2)
            if len(self._cache) < CACHE_IMAGES:
                self._cache[key] = img
        return img

    def __getstate__(self):
        state = dict(self.__dict__)
        state['_cache'] = {}
        return state


def open_sources(opt, base=None):
    """``(lq, gt)`` ImageSources of a ``datasets.<phase>`` section (``dataroot_lq``, ``dataroot_gt``)."""
    backend, phase = opt['io_backend']['type'], opt['phase']
    return tuple(ImageSource(resolve_root(opt[key], f'datasets.{phase}.{key}', base), backend, f'datasets.{phase}.{key}')
                 for key in ('dataroot_lq', 'dataroot_gt'))


def img2tensor(img):
    """BGR uint8 HWC -> RGB float32 tensor [3, H, W] in [0, 1] (the reference's ``img2tensor(bgr2rgb=True)``)."""
    return torch.from_numpy(np.ascontiguousarray(img2float(img)[..., ::-1].transpose(2, 0, 1)))


def tensor2img(tensor):
    """RGB float tensor [3, H, W] or [1, 3, H, W] -> BGR uint8 HWC: clamp to [0, 1], x255, round (``tensor2img``)."""
    arr = tensor.detach().float().cpu().clamp_(0, 1).squeeze(0).numpy().transpose(1, 2, 0)[..., ::-1]
    return np.floor(arr * 255.0 + 0.5).astype(np.uint8)


def epoch_keys(n, seed, shuffle=True):
    """``order(epoch)``: the ``(epoch, index)`` keys of an epoch, in ``common.runs.epoch_order`` order (or 0..n-1)."""
    def order(epoch):
        indices = epoch_order(n, seed, epoch) if shuffle else np.arange(n)
        return [(int(epoch), int(i)) for i in indices]
    return order


def build_dataset(dataset_opt, seed=0, base=None):
    """The dataset a ``datasets.<phase>`` section describes (``UnPairedImageDataset`` or ``PairedImageDataset``)."""
    from data.paired_image_dataset import PairedImageDataset
    from data.unpair_image_dataset import UnPairedImageDataset
    classes = {'UnPairedImageDataset': UnPairedImageDataset, 'PairedImageDataset': PairedImageDataset}
    if dataset_opt['type'] not in classes:
        raise ValueError(f"datasets.{dataset_opt['phase']}.type: {dataset_opt['type']!r} is not one of "
                         f"{', '.join(classes)}")
    return classes[dataset_opt['type']](dataset_opt, seed, base)


def build_dataloader(dataset, dataset_opt, seed, device_type='cpu', rank=0, world_size=1):
    """Loader of a dataset: training batches in :func:`epoch_keys` order, or one image at a time.

    With ``world_size`` > 1 (``--launcher pytorch``) this rank takes slice ``rank`` of each global batch of
    ``batch_size_per_gpu x world_size`` keys (``torchzoo.dist.RankShardSampler``).

    Returns:
        tuple: ``(loader, sampler)`` (sampler None for val/test).
    """
    if dataset_opt['phase'] != 'train':
        return DataLoader(dataset, batch_size=1, shuffle=False, num_workers=0), None
    batch = dataset_opt['batch_size_per_gpu']
    sampler = RankShardSampler(epoch_keys(len(dataset), seed, dataset_opt['use_shuffle']), len(dataset), batch, rank,
                               world_size)
    workers = dataset_opt['num_worker_per_gpu']
    # Spawned, not forked, workers: a forked one would hold the run folder's lock after a kill. The loader
    # has its own generator: drawing its workers' base seed from torch's global one at every epoch would
    # shift the gradient penalty's random mixing after a resume.
    loader = DataLoader(dataset, batch_size=batch, sampler=sampler, num_workers=workers, persistent_workers=workers > 0,
                        generator=torch.Generator().manual_seed(int(seed)),
                        pin_memory=dataset_opt['pin_memory'] and device_type == 'cuda',
                        multiprocessing_context='spawn' if workers else None)
    return loader, sampler
