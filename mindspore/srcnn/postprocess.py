"""Offline flow, step 3: network outputs -> SR images and PSNR against the real HR images.

Reads <output_path>/meta/<name>.json (from preprocess.py) and <predict_path>/<name>_<k>_0.bin, puts
the tiles together, combines the Y with the bicubic Cb/Cr, writes <result_path>/<name>_srcnn.png and
scores it against the HR image with the standard protocol (Y, crop=scale, uint8 output; common.metrics).
The reference compared the output with its own input instead. Prints `Average PSNR: x` as the reference.

Usage:
    python postprocess.py --output_path=./preprocess_Result --predict_path=./result_Files --result_path=./sr
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for `common`

import json  # noqa: E402

import numpy as np  # noqa: E402

from common.imgio import read_image, write_image  # noqa: E402
from common.metrics import evaluate_pairs, protocol  # noqa: E402
from src.model_utils.config import ConfigError, load_config  # noqa: E402
from src.utils import compose_sr, prepare_pair, reference_psnr, run_cli  # noqa: E402


def assemble(meta, predict_dir):
    """The network Y of one image (H, W) from its tile outputs."""
    _, _, tile_h, tile_w = meta['input_shape']
    y = np.zeros((meta['height'], meta['width']), np.float32)
    for t in meta['tiles']:
        path = Path(predict_dir) / f"{Path(t['file']).stem}_0.bin"
        if not path.is_file():
            raise FileNotFoundError(f'{path}: missing network output (run infer_mindir.py first)')
        out = np.fromfile(path, dtype=np.float32)
        if out.size != tile_h * tile_w:
            raise ValueError(f'{path}: {out.size} floats, expected {tile_h}x{tile_w}')
        out = out.reshape(tile_h, tile_w)
        ys, xs = slice(t['keep_y0'], t['keep_y1']), slice(t['keep_x0'], t['keep_x1'])
        y[ys, xs] = out[t['keep_y0'] - t['y0']:t['keep_y1'] - t['y0'], t['keep_x0'] - t['x0']:t['keep_x1'] - t['x0']]
    return y


def postprocess(prep_dir, predict_dir, result_dir):
    """Score every preprocessed image; returns (per-image rows, reference PSNRs, protocol)."""
    metas = sorted((Path(prep_dir) / 'meta').glob('*.json'))
    if not metas:
        raise FileNotFoundError(f'{Path(prep_dir) / "meta"}: no metadata (run preprocess.py first)')
    pairs, ref, scale = [], [], None
    for path in metas:
        meta = json.loads(path.read_text(encoding='utf-8'))
        scale = meta['scale']
        y_sr = assemble(meta, predict_dir)
        up = read_image(path.with_name(f"{meta['name']}_bicubic.png"))
        hr = prepare_pair(read_image(meta['hr_path']), scale,
                          None if meta['lr_path'] is None else read_image(meta['lr_path']))
        sr = compose_sr(y_sr, up)
        if result_dir:
            write_image(Path(result_dir) / f"{meta['name']}_srcnn.png", sr)
        pairs.append((meta['name'], sr, hr['hr']))
        ref.append(reference_psnr(y_sr, hr['y_hr']))
    return evaluate_pairs(pairs, scale), ref, protocol(scale)


def main(argv=None):
    cfg = load_config(argv, description=__doc__.split('\n\n')[0])
    if not cfg.predict_path:
        raise ConfigError('--predict_path is empty; give the folder of network outputs')
    rows, ref, proto = postprocess(cfg.output_path, cfg.predict_path, cfg.result_path)
    for row, r in zip(rows, ref):
        print(f"{row['name']:<16} PSNR {row['psnr']:.4f}  SSIM {row['ssim']:.4f}  reference PSNR {r:.4f}")
    psnr = float(np.mean([r['psnr'] for r in rows]))
    print(f"protocol: {proto['label']}; SR clamped and rounded to uint8; against the real HR images")
    print(f"Average SSIM: {np.mean([r['ssim'] for r in rows]):.4f}")
    print(f'Average reference PSNR (no shave, unclamped): {np.mean(ref):.4f}')
    print(f'Average PSNR: {psnr:.4f}')
    return psnr


if __name__ == '__main__':
    run_cli(main)
