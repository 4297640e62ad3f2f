"""Offline flow, step 1: HR images -> network inputs as .bin files of the export shape.

For every HR image (folder, or Set5-layout root): modcrop, LR = MATLAB bicubic (or --lr_path), bicubic
upscale, Y on [0, 1]; the Y is cut into tiles of the export shape [1, 1, image_height, image_width]
(one tile when the image fits; zero padding at the bottom/right; overlap 16 otherwise), each written
as float32 <output_path>/input/<name>_<k>.bin. What postprocess.py needs is kept in
<output_path>/meta/: <name>.json (HR path, sizes, tile layout) and <name>_bicubic.png (for Cb/Cr).
Unlike the reference, the input is degraded first, so the PSNR at the end measures super-resolution.

Usage:
    python preprocess.py --image_path=/data/Set5 --output_path=./preprocess_Result [--lr_path=...]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for `common`

import json  # noqa: E402

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from common.imgio import atomic_write_bytes, read_image, write_image  # noqa: E402
from common.inference import tile_layout  # noqa: E402
from src.dataset import list_eval_images  # noqa: E402
from src.model_utils.config import ConfigError, load_config  # noqa: E402
from src.utils import prepare_pair, run_cli  # noqa: E402

OVERLAP = 16


def tiles_of(height, width, tile_h, tile_w, overlap=OVERLAP):
    """Tile layout: list of dicts y0, x0, keep_y0, keep_y1, keep_x0, keep_x1 (image coordinates)."""
    rows = tile_layout(height, tile_h, min(overlap, tile_h - 1))
    cols = tile_layout(width, tile_w, min(overlap, tile_w - 1))
    return [{'y0': y0, 'x0': x0, 'keep_y0': ky0, 'keep_y1': ky1, 'keep_x0': kx0, 'keep_x1': kx1}
            for y0, ky0, ky1 in rows for x0, kx0, kx1 in cols]


def preprocess(items, out_dir, scale, height, width):
    """Write the .bin inputs and the metadata; returns the number of .bin files."""
    out_dir = Path(out_dir)
    count = 0
    for name, hr_path, lr_path in tqdm(items, desc='preprocess', unit='img'):
        pair = prepare_pair(read_image(hr_path), scale, None if lr_path is None else read_image(lr_path),
                            name=str(hr_path))
        y = pair['y_in']
        h, w = y.shape
        tiles = tiles_of(h, w, height, width)
        for k, t in enumerate(tiles):
            buf = np.zeros((1, 1, height, width), np.float32)          # N, C, H, W (export shape)
            part = y[t['y0']:t['y0'] + height, t['x0']:t['x0'] + width]
            buf[0, 0, :part.shape[0], :part.shape[1]] = part
            t['file'] = f'{name}_{k}.bin'
            atomic_write_bytes(out_dir / 'input' / t['file'], buf.tobytes())
            count += 1
        write_image(out_dir / 'meta' / f'{name}_bicubic.png', pair['up'])
        meta = {'name': name, 'hr_path': str(Path(hr_path).resolve()),
                'lr_path': None if lr_path is None else str(Path(lr_path).resolve()), 'scale': scale,
                'height': h, 'width': w, 'input_shape': [1, 1, height, width], 'tiles': tiles}
        atomic_write_bytes(out_dir / 'meta' / f'{name}.json', (json.dumps(meta, indent=1) + '\n').encode())
    return count


def main(argv=None):
    cfg = load_config(argv, description=__doc__.split('\n\n')[0])
    if not cfg.image_path:
        raise ConfigError('--image_path is empty; give the HR image folder')
    if cfg.image_height < 1 or cfg.image_width < 1:
        raise ConfigError(f'--image_height/--image_width must be positive, got {cfg.image_height}x{cfg.image_width}')
    items = list_eval_images(cfg.image_path, cfg.scale, cfg.lr_path)
    count = preprocess(items, cfg.output_path, cfg.scale, cfg.image_height, cfg.image_width)
    print(f'wrote {count} input file(s) for {len(items)} image(s) to {Path(cfg.output_path) / "input"}')
    return count


if __name__ == '__main__':
    run_cli(main)
