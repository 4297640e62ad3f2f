"""Datasets: the training mindrecord reader and the evaluation image sets.

Training reads what `src/create_dataset.py` wrote: records of 'lr' (bicubic-upscaled Y) and 'hr'
(Y) patches, float32 [1, P, P] in [0, 1]. Evaluation reads HR images (a folder, a picture, or a
Set5-layout root holding HR/x{scale}/) and optionally the given LR inputs (Set5 LR_bicubic/x{scale}).
"""
import os
from pathlib import Path

from common.imgio import ImageError, list_images, read_image

MINDRECORD_NAME = 'srcnn.mindrecord'
NUM_SHARDS = 32


def first_shard(data_path):
    """`<data_path>/srcnn.mindrecord00`, the file MindDataset opens (it finds the other shards)."""
    path = Path(data_path) / f'{MINDRECORD_NAME}00'
    if not path.is_file():
        raise FileNotFoundError(f'--data_path={data_path}: no {path.name} there; build it with '
                                f'src/create_dataset.py --src_folder=... --output_folder={data_path}')
    return path


def create_train_dataset(data_path, batch_size=16, shard_id=0, num_shard=1, shuffle=True,
                         num_parallel_workers=8):
    """The training dataset: shuffled batches of (lr, hr) patches.

    Args:
        data_path (str | Path): Folder holding srcnn.mindrecord00..31.
        batch_size (int): Patches per batch; the last incomplete batch is dropped. Default: 16.
        shard_id (int): This device's rank. Default: 0.
        num_shard (int): Number of devices. Default: 1.
        shuffle (bool): Shuffle every epoch. Default: True.
        num_parallel_workers (int): Reader workers, capped at the CPU count. Default: 8 (the reference).

    Returns:
        mindspore.dataset.MindDataset: Batches of 'lr', 'hr' float32 [N, 1, P, P].
    """
    import mindspore.dataset as ds
    workers = max(1, min(int(num_parallel_workers), os.cpu_count() or 1))
    dataset = ds.MindDataset(str(first_shard(data_path)), columns_list=['lr', 'hr'], shuffle=shuffle,
                             num_shards=num_shard if num_shard > 1 else None,
                             shard_id=shard_id if num_shard > 1 else None,
                             num_parallel_workers=workers)
    return dataset.batch(batch_size, drop_remainder=True)


def _hr_folder(data_path, scale):
    """A Set5-layout root (HR/x{scale}/ inside) resolves to that folder; anything else is itself."""
    data_path = Path(data_path)
    layout = data_path / 'HR' / f'x{scale}'
    return layout if layout.is_dir() else data_path


def list_eval_images(data_path, scale, lr_path=''):
    """Pair HR images with their LR inputs.

    Args:
        data_path (str | Path): HR image, HR folder, or Set5-layout root (uses HR/x{scale}).
        scale (int): Upscaling factor.
        lr_path (str | Path): Folder of given LR images, matched to the HR images in sorted order
            (baby_HR_x2.png <-> baby_LRBI_x2.png); '' to make LR with MATLAB bicubic. Default: ''.

    Returns:
        list[tuple[str, Path, Path | None]]: (name, hr_path, lr_path or None).
    """
    folder = _hr_folder(data_path, scale)
    if folder.is_file():
        hr_paths = [folder]
    elif folder.is_dir():
        hr_paths = list_images(folder)
    else:
        raise FileNotFoundError(f'--data_path={data_path}: no such file or folder')
    lr_paths = [None] * len(hr_paths)
    if lr_path:
        lr_paths = list_images(lr_path)
        if len(lr_paths) != len(hr_paths):
            raise ImageError(f'--lr_path={lr_path}: {len(lr_paths)} images, but {folder} has {len(hr_paths)}')
    return [(_short_name(hr, scale), hr, lr) for hr, lr in zip(hr_paths, lr_paths)]


def _short_name(path, scale):
    """'baby_HR_x2.png' -> 'baby'; other names keep their stem."""
    stem = path.stem
    suffix = f'_HR_x{scale}'
    return stem[:-len(suffix)] if stem.endswith(suffix) else stem


def load_eval_images(items):
    """Read (name, hr_path, lr_path) items into (name, hr BGR uint8, lr BGR uint8 or None)."""
    return [(name, read_image(hr), None if lr is None else read_image(lr)) for name, hr, lr in items]
