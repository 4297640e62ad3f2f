"""DIV2K layout (the reference's ``div2k_loader``): names from ``--data_truth_path/*.png``, LR at
``--data_input_path/X{s}/{name}x{s}.png``, HR at ``--data_truth_path/{name}.png``."""
from pathlib import Path

from dataloaders.base_loader import PairedLoader, images_in, require_dir

__all__ = ['create_loader']


def create_loader(data_input_path, data_truth_path, scales, cached=False):
    """A :class:`PairedLoader` over a DIV2K-layout folder pair for ``scales``."""
    hrs = images_in(data_truth_path, '--data_truth_path')
    pairs = {}
    for s in scales:
        lr_dir = require_dir(Path(data_input_path) / f'X{s}', '--data_input_path')
        items = []
        for hr in hrs:
            lr = lr_dir / f'{hr.stem}x{s}.png'
            if not lr.is_file():
                raise FileNotFoundError(f'--data_input_path: {lr} is missing (the x{s} LR of {hr.name})')
            items.append((hr.stem, lr, hr))
        pairs[s] = items
    return PairedLoader(pairs, cached=cached)
