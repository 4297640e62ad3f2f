"""Offline flow, step 1: HR images -> network inputs as .bin files of the export shape.

For every HR image (folder, or Set5-layout root): modcrop, LR = MATLAB bicubic (or --lr_path, paired by
name), bicubic upscale, Y on [0, 1]; the Y is cut into model inputs of the export shape
[1, 1, image_height, image_width] by src.utils.static_tiles, the tiler of eval_onnx.py too (tiles inside
the image, overlapping by 16 px, when the image is at least that shape; zero padding past the far border
along an axis where it is smaller), each written as float32 <output_path>/input/<name>_<k>.bin. What
postprocess.py needs is kept in <output_path>/meta/: <name>.json (HR path, sizes, tile layout) and
<name>_bicubic.png (for Cb/Cr). Unlike the reference, the input is degraded first, so the PSNR at the
end measures super-resolution.

The output folder is built whole in a hidden folder next to it and swapped into place when complete
(common.fileio.building_dir), with <output_path>/preprocess.json written last: a failed run leaves
nothing half-built, and a re-run replaces only an earlier output of this tool (a folder holding
preprocess.json), so no stale input of an earlier run survives. Images are read as 8 bits.

Usage:
    python preprocess.py --image_path=/data/Set5 --output_path=./preprocess_Result [--lr_path=...]
"""
import json
import uuid
from pathlib import Path

from tqdm import tqdm

from common.cli import run_cli
from common.fileio import check_disjoint
from common.imgio import encode_image, read_image
from src.dataset import list_eval_images
from src.model_utils.config import ConfigError, load_config
from src.utils import (PREPROCESS_MARKER, building_output, cut_tile, output_dir, prepare_pair,
                       replaceable_dir, static_tiles)

MARKER = PREPROCESS_MARKER     # written last: marks a complete output of this tool


def preprocess(items, out_dir, scale, height, width):
    """Build `out_dir` with the .bin inputs, the metadata and the marker; returns the number of .bin files.

    Args:
        items (list[tuple[str, Path, Path | None]]): From src.dataset.list_eval_images.
        out_dir (Path): The output folder, checked by the caller (src.utils.replaceable_dir).
        scale (int): Upscaling factor.
        height (int): Model input height.
        width (int): Model input width.
    """
    inputs = []
    with building_output(out_dir, MARKER) as tmp:
        (tmp / 'input').mkdir()
        (tmp / 'meta').mkdir()
        for name, hr_path, lr_path in tqdm(items, desc='preprocess', unit='img'):
            pair = prepare_pair(read_image(hr_path, bits=8), scale,
                                None if lr_path is None else read_image(lr_path, bits=8), name=str(hr_path))
            y = pair['y_in']
            try:
                tiles = static_tiles(y.shape[0], y.shape[1], height, width)
            except ValueError as err:
                raise ConfigError(f'--image_height/--image_width: {err}') from None
            for k, tile in enumerate(tiles):
                tile['file'] = f'{name}_{k}.bin'
                (tmp / 'input' / tile['file']).write_bytes(cut_tile(y, tile, height, width)[None, None].tobytes())
                inputs.append(tile['file'])
            (tmp / 'meta' / f'{name}_bicubic.png').write_bytes(encode_image(pair['up'], '.png', name=name))
            meta = {'name': name, 'hr_path': str(Path(hr_path).resolve()),
                    'lr_path': None if lr_path is None else str(Path(lr_path).resolve()), 'scale': scale,
                    'height': y.shape[0], 'width': y.shape[1], 'input_shape': [1, 1, height, width],
                    'tiles': tiles}
            (tmp / 'meta' / f'{name}.json').write_text(json.dumps(meta, indent=1) + '\n', encoding='utf-8')
        marker = {'tool': 'preprocess.py', 'run_id': uuid.uuid4().hex, 'scale': scale,
                  'input_shape': [1, 1, height, width], 'images': [name for name, _, _ in items], 'inputs': inputs}
        (tmp / MARKER).write_text(json.dumps(marker, indent=1) + '\n', encoding='utf-8')
    return len(inputs)


def main(argv=None):
    cfg = load_config(argv, description=__doc__.split('\n\n')[0])
    if not cfg.image_path:
        raise ConfigError('--image_path is empty; give the HR image folder')
    if cfg.image_height < 1 or cfg.image_width < 1:
        raise ConfigError(f'--image_height/--image_width must be positive, got {cfg.image_height}x{cfg.image_width}')
    items = list_eval_images(cfg.image_path, cfg.scale, cfg.lr_path, data_flag='image_path')
    for source, flag in ((cfg.image_path, '--image_path'), (cfg.lr_path, '--lr_path')):
        if source:
            check_disjoint(output_dir(cfg.output_path, 'output_path'), source, '--output_path', flag)
    out = replaceable_dir(cfg.output_path, 'output_path', MARKER, 'preprocess.py')
    count = preprocess(items, out, cfg.scale, cfg.image_height, cfg.image_width)
    print(f'wrote {count} input file(s) for {len(items)} image(s) to {out / "input"}')
    return count


if __name__ == '__main__':
    run_cli(main)
