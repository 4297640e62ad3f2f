"""Offline flow, step 3: network outputs -> SR images and PSNR against the real HR images.

Reads the images and tiles that preprocess.py listed (<output_path>/preprocess.json, meta/<name>.json)
and the network outputs <predict_path>/<name>_<k>_0.bin, puts the tiles together (src.utils.paste_tile,
the layout of src.utils.static_tiles), combines the Y with the bicubic Cb/Cr, writes
<result_path>/<name>_srcnn.png and scores it against the HR image with the standard protocol (Y,
crop=scale, uint8 output; common.metrics). The reference compared the output with its own input instead.
Prints `Average PSNR: x` as the reference.

Nothing is scored from a half or foreign set: every expected output must be there with the model's
output size, no output may be there that this preprocess run did not ask for, and when the predict
folder comes from infer_mindir.py (it holds infer.json) it must name this preprocess run.

Usage:
    python postprocess.py --output_path=./preprocess_Result --predict_path=./result_Files --result_path=./sr
"""
import json
from pathlib import Path

import numpy as np

from common.cli import run_cli
from common.imgio import read_image, write_image
from common.metrics import evaluate_pairs, protocol
from src.model_utils.config import ConfigError, load_config
from src.utils import (INFER_MARKER, PREPROCESS_MARKER, compose_sr, output_dir, paste_tile, prepare_pair,
                       PREPROCESS_KEYS, read_marker, reference_psnr)


def _listing(names, limit=3):
    """'a, b, c and 4 more'."""
    names = sorted(names)
    return ', '.join(names[:limit]) + (f' and {len(names) - limit} more' if len(names) > limit else '')


def check_outputs(prep_dir, predict_dir, marker):
    """Refuse a predict folder that does not hold exactly the outputs of this preprocess run.

    Args:
        prep_dir (str | Path): The preprocess folder (--output_path).
        predict_dir (str | Path): The network outputs (--predict_path).
        marker (dict): The preprocess marker.

    Raises:
        FileNotFoundError: No predict folder, or expected outputs missing.
        ValueError: Outputs of another run (infer.json names another preprocess run, or outputs this
            run did not ask for).
    """
    predict_dir = Path(predict_dir)
    if not predict_dir.is_dir():
        raise FileNotFoundError(f'--predict_path={predict_dir}: no such folder (run infer_mindir.py first)')
    record = predict_dir / INFER_MARKER
    if record.is_file():
        run = read_marker(predict_dir, INFER_MARKER, 'predict_path', 'infer_mindir.py', ('preprocess_run_id',))
        if run['preprocess_run_id'] != marker['run_id']:
            raise ValueError(f'--predict_path={predict_dir} holds the outputs of another preprocess run than '
                             f'--output_path={prep_dir}; run infer_mindir.py again')
    expected = {f'{Path(name).stem}_0.bin' for name in marker['inputs']}
    present = {p.name for p in predict_dir.glob('*_0.bin')}
    missing, extra = expected - present, present - expected
    if missing:
        raise FileNotFoundError(f'--predict_path={predict_dir}: missing network output for {len(missing)} of '
                                f'{len(expected)} input(s) ({_listing(missing)}); run infer_mindir.py again')
    if extra:
        raise ValueError(f'--predict_path={predict_dir}: {len(extra)} output(s) that --output_path={prep_dir} did '
                         f'not ask for ({_listing(extra)}): the folders do not match')


def assemble(meta, predict_dir):
    """The network Y of one image (H, W) from its tile outputs."""
    _, _, tile_h, tile_w = meta['input_shape']
    y = np.zeros((meta['height'], meta['width']), np.float32)
    for tile in meta['tiles']:
        path = Path(predict_dir) / f"{Path(tile['file']).stem}_0.bin"
        if not path.is_file():
            raise FileNotFoundError(f'{path}: missing network output (run infer_mindir.py first)')
        out = np.fromfile(path, dtype=np.float32)
        if out.size != tile_h * tile_w:
            raise ValueError(f'{path}: {out.size} floats, expected {tile_h}x{tile_w}')
        paste_tile(y, out.reshape(tile_h, tile_w), tile)
    return y


def postprocess(prep_dir, predict_dir, result_dir):
    """Score every preprocessed image; returns (per-image rows, reference PSNRs, protocol)."""
    marker = read_marker(prep_dir, PREPROCESS_MARKER, 'output_path', 'preprocess.py', PREPROCESS_KEYS)
    check_outputs(prep_dir, predict_dir, marker)
    if result_dir:
        result_dir = output_dir(result_dir, 'result_path')
    pairs, ref, scale = [], [], marker.get('scale')
    for name in marker['images']:
        path = Path(prep_dir) / 'meta' / f'{name}.json'
        if not path.is_file():
            raise FileNotFoundError(f'--output_path={prep_dir}: {path.name} is missing; run preprocess.py again')
        meta = json.loads(path.read_text(encoding='utf-8'))
        scale = meta['scale']
        y_sr = assemble(meta, predict_dir)
        up = read_image(path.with_name(f'{name}_bicubic.png'), bits=8)
        hr = prepare_pair(read_image(meta['hr_path'], bits=8), scale,
                          None if meta['lr_path'] is None else read_image(meta['lr_path'], bits=8))
        pairs.append((name, compose_sr(y_sr, up), hr['hr']))
        ref.append(reference_psnr(y_sr, hr['y_hr']))
    if not pairs:
        raise FileNotFoundError(f'--output_path={prep_dir}: preprocess.json lists no image')
    for name, sr, _ in pairs if result_dir else []:       # written once every image is scored
        write_image(Path(result_dir) / f'{name}_srcnn.png', sr)
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
