"""The training set: the mindrecord written by src/create_dataset.py, read in a seeded order.

Records hold 'lr' (bicubic-upscaled Y) and 'hr' (Y) patches, float32 [1, P, P] in [0, 1], in
<data_path>/srcnn.mindrecord00..31, with meta.json (scale, patch size, patch count) beside them.
Batches follow an explicit index order (MindDataset with a SubsetSampler), so the caller decides the
order of every epoch (common.runs.epoch_order) and a resumed run can skip the batches it already did.
"""
import hashlib
import json
import os
from pathlib import Path

MINDRECORD_NAME = 'srcnn.mindrecord'


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
        dict: 'file' (the first shard), 'patches' (count), 'meta' (meta.json or None) and
        'fingerprint' (identifies the dataset in a run's identity).

    Raises:
        FileNotFoundError: No first shard.
        ValueError: Options that differ from meta.json, or a shard that cannot be read.
    """
    import mindspore.dataset as ds
    data_path = Path(data_path)
    first = data_path / f'{MINDRECORD_NAME}00'
    if not first.is_file():
        raise FileNotFoundError(f'--data_path={data_path}: no {first.name} there; build it with '
                                f'src/create_dataset.py --src_folder=... --output_folder={data_path}')
    meta_path = data_path / 'meta.json'
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
    return {'file': first, 'patches': patches, 'meta': meta, 'fingerprint': fingerprint, 'data_path': data_path}


def train_batches(data, indices, batch_size, num_parallel_workers=8):
    """Yield (lr, hr) Tensor batches [N, 1, P, P] of the records at ``indices``, in that order.

    Args:
        data (dict): From :func:`open_train_set`.
        indices (np.ndarray): Record indices, in visiting order; a last incomplete batch is dropped.
        batch_size (int): Patches per batch.
        num_parallel_workers (int): Reader workers, capped at the CPU count. Default: 8 (the reference).
    """
    import mindspore.dataset as ds
    if len(indices) < batch_size:
        return
    workers = max(1, min(int(num_parallel_workers), os.cpu_count() or 1))
    try:
        dataset = ds.MindDataset(str(data['file']), columns_list=['lr', 'hr'],
                                 sampler=ds.SubsetSampler([int(i) for i in indices]), num_parallel_workers=workers)
        yield from dataset.batch(batch_size, drop_remainder=True).create_tuple_iterator()
    except RuntimeError as err:
        raise _read_error(data['data_path'], err) from None
