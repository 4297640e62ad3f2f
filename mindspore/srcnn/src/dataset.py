"""Datasets: the training mindrecord reader and the evaluation image sets.

Training reads what `src/create_dataset.py` wrote: records of 'lr' (bicubic-upscaled Y) and 'hr'
(Y) patches, float32 [1, P, P] in [0, 1]. Batches follow an explicit index order (MindDataset with
a SubsetSampler), so the training loop decides the order of every epoch (common.runs.epoch_order)
and a resumed run skips exactly the batches it already did. Evaluation reads HR images (a folder, a picture, or a
Set5-layout root holding HR/x{scale}/) and optionally the given LR inputs (Set5 LR_bicubic/x{scale}).
"""
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from common.evaluate import image_keys
from common.imgio import ImageError, list_images, read_image

MINDRECORD_NAME = 'srcnn.mindrecord'
NUM_SHARDS = 32
META_NAME = 'meta.json'       # written last by src/create_dataset.py: marks a complete dataset


def shard_names():
    """The file names FileWriter gives the shards: srcnn.mindrecord00..31 and their .db index files."""
    names = [f'{MINDRECORD_NAME}{i:02d}' for i in range(NUM_SHARDS)]
    return names + [f'{name}.db' for name in names]


def first_shard(data_path):
    """`<data_path>/srcnn.mindrecord00`, the file MindDataset opens (it finds the other shards); checked
    first by :func:`check_shards`."""
    folder = Path(data_path)
    path = folder / f'{MINDRECORD_NAME}00'
    if not path.is_file():
        raise FileNotFoundError(f'--data_path={data_path}: no {path.name} there; build it with '
                                f'src/create_dataset.py --src_folder=... --output_folder={data_path}')
    check_shards(folder)
    return path


def check_shards(data_path):
    """Check a mindrecord folder before MindSpore reads it; one error line naming the file.

    Every shard and index file must be there, and where meta.json (of src/create_dataset.py) records
    the shard sizes ('file_sizes'), each shard must have its recorded size. A truncated shard keeps
    its index, so MindSpore counts its records as usual and fails only when it reads them, deep in
    the data pipeline; its size gives it away at once.

    Args:
        data_path (str | Path): The mindrecord folder.

    Raises:
        FileNotFoundError: A shard or index file is missing.
        ValueError: A shard whose size differs from meta.json's record, or a meta.json that is not JSON.
    """
    folder = Path(data_path)
    missing = [name for name in shard_names() if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f'--data_path={data_path}: incomplete mindrecord, missing {", ".join(missing[:4])}'
                                + (f' and {len(missing) - 4} more' if len(missing) > 4 else ''))
    meta_path = folder / META_NAME
    if not meta_path.is_file():
        return
    try:
        sizes = json.loads(meta_path.read_text(encoding='utf-8')).get('file_sizes', {})
    except (ValueError, AttributeError):
        raise ValueError(f'--data_path={data_path}: {META_NAME} is not valid JSON') from None
    for name, size in sorted(sizes.items()):
        actual = (folder / name).stat().st_size if (folder / name).is_file() else None
        if actual != size:
            raise ValueError(f'--data_path={data_path}: {name} has {actual} bytes, {META_NAME} records {size} '
                             f'(truncated or replaced; rebuild with src/create_dataset.py)')


def _read_error(data_path, err):
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return ValueError(f'--data_path={data_path}: cannot read the mindrecord (truncated or corrupt shard?): {first}')


def open_train_set(data_path, scale, patch_size):
    """Check the mindrecord against the training options; returns what the reader needs.

    Args:
        data_path (str | Path): Folder holding srcnn.mindrecord00..31 (and meta.json).
        scale (int): The --scale of this training; must equal the dataset's.
        patch_size (int): The --patch_size of this training; must equal the dataset's.

    Returns:
        dict: 'file' (the first shard), 'patches' (count), 'meta' (meta.json or None),
        'fingerprint' (identifies the dataset in a run's identity) and 'positions' (where patch k of
        the creation order is stored: FileWriter's record order differs from build to build, so
        training addresses patches by their 'index' field; None for a mindrecord without it, e.g.
        one built by the reference, which is then read in its stored order).

    Raises:
        FileNotFoundError: A missing shard.
        ValueError: Options that differ from meta.json, or a truncated or unreadable shard.
    """
    import mindspore.dataset as ds
    data_path = Path(data_path)
    first = first_shard(data_path)          # every shard there, each of its recorded size
    meta_path = data_path / META_NAME
    meta = None
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding='utf-8'))
        except ValueError as err:
            raise ValueError(f'{meta_path}: not valid JSON ({err})') from None
        for key, value in (('scale', scale), ('patch_size', patch_size)):
            if key in meta and meta[key] != value:
                raise ValueError(f'--{key}={value} differs from the mindrecord\'s {key} {meta[key]} ({meta_path}); '
                                 f'train with --{key}={meta[key]} or rebuild the data with --{key}={value}')
    try:
        patches = ds.MindDataset(str(first), columns_list=['lr', 'hr'], shuffle=False).get_dataset_size()
    except (RuntimeError, ValueError, OSError) as err:
        raise _read_error(data_path, err) from None
    if meta is not None and meta.get('patches') not in (None, patches):
        raise ValueError(f"--data_path={data_path}: meta.json lists {meta['patches']} patches but the shards hold "
                         f'{patches} (a missing or truncated shard?)')
    if meta is not None:
        fingerprint = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:16]
    else:
        sizes = sorted((p.name, p.stat().st_size) for p in data_path.glob(f'{MINDRECORD_NAME}*'))
        fingerprint = hashlib.sha256(json.dumps(sizes).encode()).hexdigest()[:16]
    positions = _positions(first, data_path, patches) if meta is not None and meta.get('indexed') else None
    return {'file': first, 'patches': patches, 'meta': meta, 'fingerprint': fingerprint, 'data_path': data_path,
            'positions': positions}


def _positions(first, data_path, patches):
    """Stored position of every patch, by creation index (read once from the 'index' field)."""
    import mindspore.dataset as ds
    try:
        reader = ds.MindDataset(str(first), columns_list=['index'], shuffle=False)
        index = np.fromiter((int(row[0]) for row in reader.create_tuple_iterator(output_numpy=True)),
                            dtype=np.int64, count=patches)
    except (RuntimeError, ValueError, OSError) as err:
        raise _read_error(data_path, err) from None
    positions = np.argsort(index, kind='stable')
    if not np.array_equal(index[positions], np.arange(patches)):
        raise ValueError(f'--data_path={data_path}: the records\' index field is not 0..{patches - 1}; '
                         f'rebuild the data with src/create_dataset.py')
    return positions


def train_batches(data, indices, batch_size, num_parallel_workers=8):
    """Yield (lr, hr) Tensor batches [N, 1, P, P] of the records at ``indices``, in that order.

    Args:
        data (dict): From :func:`open_train_set`.
        indices (np.ndarray): Patch indices (creation order), in visiting order; a last incomplete
            batch is dropped.
        batch_size (int): Patches per batch.
        num_parallel_workers (int): Reader workers, capped at the CPU count. Default: 8 (the reference).
    """
    import mindspore.dataset as ds
    if len(indices) < batch_size:
        return
    workers = max(1, min(int(num_parallel_workers), os.cpu_count() or 1))
    if data['positions'] is not None:
        indices = data['positions'][indices]
    try:
        dataset = ds.MindDataset(str(data['file']), columns_list=['lr', 'hr'],
                                 sampler=ds.SubsetSampler([int(i) for i in indices]), num_parallel_workers=workers)
        yield from dataset.batch(batch_size, drop_remainder=True).create_tuple_iterator()
    except RuntimeError as err:
        raise _read_error(data['data_path'], err) from None


def _hr_folder(data_path, scale):
    """A Set5-layout root (HR/x{scale}/ inside) resolves to that folder; anything else is itself."""
    data_path = Path(data_path)
    layout = data_path / 'HR' / f'x{scale}'
    return layout if layout.is_dir() else data_path


def check_unique_names(named, what):
    """Refuse two files that would share one output name (e.g. img.png and img.jpg).

    This model's tools name their outputs and result rows after the image, without its extension, so
    two such files would overwrite each other's outputs; they are refused, not renamed.

    Args:
        named (list[tuple[str, Path]]): (name, path) per input file.
        what (str): How to name the input in the message, e.g. '--data_path=/data/Set5'.

    Raises:
        ValueError: One line listing the colliding files.
    """
    by_name = {}
    for name, path in named:
        by_name.setdefault(name, []).append(Path(path).name)
    clashes = [f"{' and '.join(files)} (both '{name}')" for name, files in sorted(by_name.items()) if len(files) > 1]
    if clashes:
        raise ValueError(f'{what}: files whose outputs would overwrite each other: {"; ".join(clashes)}; '
                         f'rename or remove one of each')


def pair_by_name(hr_paths, lr_paths, scale, hr_what, lr_what):
    """Pair HR images with given LR images by image name.

    The name of a file is its stem without a trailing '_<tag>_x{scale}' or 'x{scale}' (the naming of
    common.evaluate.image_keys): baby_HR_x2.png, baby_LRBI_x2.png, baby_LR_x2.png and baby.png are all
    'baby'; 0801x2.png is '0801'. The most specific name is tried first.

    Args:
        hr_paths (list[Path]): HR images.
        lr_paths (list[Path]): LR images.
        scale (int): The SR scale.
        hr_what (str): How to name the HR input in messages (e.g. '--data_path=...').
        lr_what (str): How to name the LR input in messages (e.g. '--lr_path=...').

    Returns:
        list[Path]: The LR partner of each HR image, in the order of `hr_paths`.

    Raises:
        ValueError: One line listing the HR images without a partner, the names matching several
            files, and the LR images left over.
    """
    index = {}
    for path in lr_paths:
        for key in image_keys(path.stem, scale):
            index.setdefault(key, []).append(path)
    partners, claimed, problems = [], {}, []
    for hr in hr_paths:
        found = next((index[key] for key in image_keys(hr.stem, scale) if key in index), [])
        if len(found) != 1:
            problems.append(f'{hr.name} matches ' + (' and '.join(p.name for p in found) if found else 'no LR image'))
            continue
        if found[0] in claimed:
            problems.append(f'{claimed[found[0]]} and {hr.name} both match {found[0].name}')
        claimed[found[0]] = hr.name
        partners.append(found[0])
    extra = [p.name for p in lr_paths if p not in claimed]
    if extra:
        problems.append(f'no HR image for {", ".join(extra)}')
    if problems:
        raise ValueError(f'cannot pair {lr_what} with {hr_what} by name at x{scale}: {"; ".join(problems)}')
    return partners


def list_eval_images(data_path, scale, lr_path='', data_flag='data_path', lr_flag='lr_path'):
    """Pair HR images with their LR inputs.

    Args:
        data_path (str | Path): HR image, HR folder, or Set5-layout root (uses HR/x{scale}).
        scale (int): Upscaling factor.
        lr_path (str | Path): Folder of given LR images, paired with the HR images by name
            (:func:`pair_by_name`: baby_HR_x2.png <-> baby_LRBI_x2.png); '' to make LR with MATLAB
            bicubic. Default: ''.
        data_flag (str): The flag naming data_path in messages. Default: 'data_path'.
        lr_flag (str): The flag naming lr_path in messages. Default: 'lr_path'.

    Returns:
        list[tuple[str, Path, Path | None]]: (name, hr_path, lr_path or None); the names are unique.

    Raises:
        FileNotFoundError: data_path does not exist.
        ValueError: Unpairable LR images, or two HR images with one name (:func:`check_unique_names`).
    """
    folder = _hr_folder(data_path, scale)
    if folder.is_file():
        hr_paths = [folder]
    elif folder.is_dir():
        hr_paths = _listed(folder, data_flag)
    else:
        raise FileNotFoundError(f'--{data_flag}={data_path}: no such file or folder')
    names = [_short_name(hr, scale) for hr in hr_paths]
    check_unique_names(list(zip(names, hr_paths)), f'--{data_flag}={data_path}')
    lr_paths = [None] * len(hr_paths)
    if lr_path:
        lr_folder = Path(lr_path)
        if not lr_folder.is_dir():
            raise FileNotFoundError(f'--{lr_flag}={lr_path}: no such folder')
        lr_paths = pair_by_name(hr_paths, _listed(lr_folder, lr_flag), scale, f'--{data_flag}={data_path}',
                                f'--{lr_flag}={lr_path}')
    return [(name, hr, lr) for name, hr, lr in zip(names, hr_paths, lr_paths)]


def _listed(folder, flag):
    """list_images(folder), its error naming the flag."""
    try:
        return list_images(folder)
    except ImageError as err:
        raise ImageError(f'--{flag}={err}') from None


def _short_name(path, scale):
    """'baby_HR_x2.png' -> 'baby'; other names keep their stem."""
    stem = path.stem
    suffix = f'_HR_x{scale}'
    return stem[:-len(suffix)] if stem.endswith(suffix) else stem


def load_eval_images(items):
    """Read (name, hr_path, lr_path) items into (name, hr BGR uint8, lr BGR uint8 or None).

    Every image is read as 8 bits (a 16-bit file is converted by common.imgio, rounding half up), the
    one bit-depth policy of this model's tools.
    """
    return [(name, read_image(hr, bits=8), None if lr is None else read_image(lr, bits=8)) for name, hr, lr in items]
