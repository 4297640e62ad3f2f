"""Plain layout (the reference's ``basic_loader``): names from ``--data_input_path/x{first scale}/``,
LR at ``--data_input_path/x{s}/{name}``, HR at ``--data_truth_path/{name}`` (same file name)."""
from pathlib import Path

from dataloaders.base_loader import PairedLoader, images_in, require_dir

__all__ = ['create_loader', 'list_pairs']


def list_pairs(data_input_path, data_truth_path, scales):
    """``{scale: [(name, lr path, hr path or None)]}``; ``data_truth_path`` None lists LR images only."""
    names = [p.name for p in images_in(Path(data_input_path) / f'x{scales[0]}', '--data_input_path')]
    truth = require_dir(data_truth_path, '--data_truth_path') if data_truth_path is not None else None
    pairs = {}
    for s in scales:
        lr_dir = require_dir(Path(data_input_path) / f'x{s}', '--data_input_path')
        items = []
        for name in names:
            lr = lr_dir / name
            if not lr.is_file():
                raise FileNotFoundError(f'--data_input_path: {lr} is missing (x{scales[0]} has {name})')
            hr = truth / name if truth is not None else None
            if hr is not None and not hr.is_file():
                raise FileNotFoundError(f'--data_truth_path: {hr} is missing (the HR of {lr})')
            items.append((Path(name).stem, lr, hr))
        pairs[s] = items
    return pairs


def create_loader(data_input_path, data_truth_path, scales, cached=False):
    """A :class:`PairedLoader` over a basic-layout folder pair for ``scales``."""
    return PairedLoader(list_pairs(data_input_path, data_truth_path, scales), cached=cached)
