"""Build the SRCNN training set: a folder of images -> 32-shard mindrecord of Y patches.

For every image (files in --src_folder, and files one sub-folder down, sorted): HR = modcrop(image,
scale); LR = MATLAB bicubic downscale then upscale by `scale` (common.imresize); both -> BT.601 Y on
[0, 1] (common.color, unrounded); patch_size x patch_size squares with top-left corners every `stride`
pixels (common.data.sliding_patches). Records: 'lr' and 'hr', float32 [1, P, P], in
<output_folder>/srcnn.mindrecord00..31 plus meta.json (parameters and patch count).

The output is built in a hidden folder next to --output_folder and renamed into place when complete,
so an interrupted (even SIGKILLed) run leaves nothing that looks like a dataset, and the next run
removes its leftover. An existing --output_folder is kept unless --overwrite=True, and even then only
a dataset this tool built (it holds meta.json) is replaced. An output that is, contains or lies inside
--src_folder is refused, as is a plain file.

Usage:
    python src/create_dataset.py --src_folder=/dataset/train --output_folder=/dataset/mindrecord
"""
import json
import os
import sys
from pathlib import Path

if __name__ == '__main__' and not __package__:
    # `python src/create_dataset.py` (the reference's command) runs this file outside its package, with
    # src/ first on sys.path, while the `src` package lives in the model folder above it. The other entry
    # scripts sit in the model folder itself and need no such line.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from tqdm import tqdm

from common.cli import run_cli
from common.data import sliding_patches
from common.fileio import check_disjoint
from common.imgio import IMAGE_EXTS, ImageError, read_image
from src.dataset import META_NAME, MINDRECORD_NAME, NUM_SHARDS, shard_names
from src.model_utils.config import ConfigError, load_config
from src.utils import building_output, output_dir, prepare_pair, replaceable_dir


def list_source_images(src_folder):
    """Image files in `src_folder` and in its direct sub-folders, sorted by path."""
    folder = Path(src_folder)
    if not str(src_folder) or not folder.is_dir():
        raise FileNotFoundError(f'--src_folder={src_folder}: no such folder')
    candidates = [p for p in folder.iterdir()]
    candidates += [q for p in candidates if p.is_dir() for q in p.iterdir()]
    images = sorted(p for p in candidates if p.is_file() and not p.name.startswith('.')
                    and p.suffix.lower() in IMAGE_EXTS)
    if not images:
        raise ImageError(f'--src_folder={src_folder}: no images ({", ".join(IMAGE_EXTS)}) in it or its sub-folders')
    return images


def patch_count(height, width, patch_size, stride):
    """Number of patches `sliding_patches` takes from a (mod-cropped) height x width image."""
    if height < patch_size or width < patch_size:
        return 0
    return ((height - patch_size) // stride + 1) * ((width - patch_size) // stride + 1)


def image_patches(img, scale, patch_size, stride, name='image', min_patch_std=0.0):
    """(lr, hr) float32 patch stacks [N, 1, P, P] of one BGR uint8 image (N may be 0).

    With `min_patch_std` > 0, patches whose HR Y standard deviation (on [0, 1]) is below it are
    dropped (flat sky, black background: bicubic is already right there).
    """
    pair = prepare_pair(img, scale, name=name)
    h, w = pair['y_hr'].shape
    if patch_count(h, w, patch_size, stride) == 0:
        empty = np.zeros((0, 1, patch_size, patch_size), np.float32)
        return empty, empty
    lr = sliding_patches(pair['y_in'], patch_size, stride)[:, None]
    hr = sliding_patches(pair['y_hr'], patch_size, stride)[:, None]
    if min_patch_std > 0:
        keep = hr.std(axis=(1, 2, 3)) >= min_patch_std
        lr, hr = lr[keep], hr[keep]
    return np.ascontiguousarray(lr, np.float32), np.ascontiguousarray(hr, np.float32)


def check_parameters(scale, patch_size, stride):
    """Refuse patch parameters that cannot make a dataset; one line naming the flag.

    Raises:
        ConfigError: scale < 1, patch_size < 1 or stride < 1 (or any of them not an integer).
    """
    for flag, value in (('scale', scale), ('patch_size', patch_size), ('stride', stride)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f'--{flag} must be a positive integer, got {value!r}')


def check_output(output_folder, src_folder, overwrite):
    """Refuse an output folder this tool must not create or replace; one line naming the flag.

    Refused: an empty value; a plain file, or a path under one; a folder that is, contains or lies
    inside --src_folder (common.imgio.check_disjoint); an existing folder unless --overwrite=True;
    and, even then, a folder without this tool's meta.json (not a dataset it built). An existing
    empty folder is used (src.utils.replaceable_dir).
    """
    out = output_dir(output_folder, 'output_folder')
    check_disjoint(out, src_folder, '--output_folder', '--src_folder')
    return replaceable_dir(out, 'output_folder', META_NAME, 'create_dataset.py', overwrite=overwrite)


def build_mindrecord(src_folder, output_folder, scale=2, patch_size=33, stride=99, overwrite=False,
                     progress=True, min_patch_std=0.0):
    """Write the sharded mindrecord; returns the number of patches.

    The dataset is built in a hidden `.<name>.building-<pid>-<hex>` folder next to output_folder
    (common.fileio.building_dir) and swapped into place when complete, with meta.json written last as
    the mark of a complete dataset of this tool: a killed run leaves nothing at output_folder (or the
    complete old dataset), and the next run removes the dead building folder.

    Args:
        src_folder (str | Path): Training images.
        output_folder (str | Path): Folder to create (see :func:`check_output` for what is refused).
        scale (int): Upscaling factor. Default: 2.
        patch_size (int): Patch side. Default: 33.
        stride (int): Patch stride. Default: 99 (the reference; the paper uses 14).
        overwrite (bool): Replace an existing dataset built by this tool. Default: False.
        progress (bool): Show a progress bar. Default: True.
        min_patch_std (float): Drop patches whose HR Y std is below this. Default: 0.0 (keep all,
            as the reference).
    """
    from mindspore.mindrecord import FileWriter
    check_parameters(scale, patch_size, stride)
    out = check_output(output_folder, src_folder, overwrite)
    images = list_source_images(src_folder)
    total, skipped = 0, []
    with building_output(out, META_NAME, overwrite=overwrite) as tmp:
        writer = FileWriter(str(tmp / MINDRECORD_NAME), shard_num=NUM_SHARDS, overwrite=False)
        shape = [1, patch_size, patch_size]
        # 'index' numbers the patches in creation order: FileWriter spreads records over the shards
        # in an order that differs from build to build, so training orders patches by this field.
        writer.add_schema({'lr': {'type': 'float32', 'shape': shape},
                           'hr': {'type': 'float32', 'shape': shape}, 'index': {'type': 'int64'}}, 'srcnn')
        for path in tqdm(images, desc='patches', unit='img', disable=not progress):
            lr, hr = image_patches(read_image(path, bits=8), scale, patch_size, stride, name=str(path),
                                   min_patch_std=min_patch_std)
            if len(lr) == 0:
                skipped.append(path.name)
                continue
            writer.write_raw_data([{'lr': a, 'hr': b, 'index': total + i} for i, (a, b) in enumerate(zip(lr, hr))])
            total += len(lr)
        if total == 0:
            raise ValueError(f'--src_folder={src_folder}: no patches (no image is at least {patch_size} px '
                             f'on both sides, or all patches are flatter than min_patch_std={min_patch_std})')
        writer.commit()
        sizes = {name: (tmp / name).stat().st_size for name in shard_names() if not name.endswith('.db')}
        meta = {'patches': total, 'images': len(images) - len(skipped), 'skipped_images': skipped,
                'scale': scale, 'patch_size': patch_size, 'stride': stride, 'min_patch_std': min_patch_std,
                'shards': NUM_SHARDS, 'file_sizes': sizes, 'indexed': True,
                'src_folder': str(Path(src_folder).resolve())}
        (tmp / META_NAME).write_text(json.dumps(meta, indent=1) + '\n', encoding='utf-8')
    if skipped:
        print(f'skipped {len(skipped)} image(s) giving no patch (smaller than {patch_size} px or flat): '
              f'{", ".join(skipped[:5])}')
    return total


def main(argv=None):
    cfg = load_config(argv, description=__doc__.split('\n\n')[0])
    total = build_mindrecord(cfg.src_folder, cfg.output_folder, scale=cfg.scale, patch_size=cfg.patch_size,
                             stride=cfg.stride, overwrite=cfg.overwrite, min_patch_std=cfg.min_patch_std)
    print(f'wrote {total} patches to {os.path.join(cfg.output_folder, MINDRECORD_NAME)}00..{NUM_SHARDS - 1:02d}')


if __name__ == '__main__':
    run_cli(main)
