"""Inference and scoring around a Session: x8 self-ensemble and chopping (common.inference), Y PSNR/SSIM
(common.metrics), the reference's result and train-log files, SR file names.

Images here are RGB uint8 HxWx3 (the network's order); common's metrics take BGR, so they are
flipped on the way in.
"""
import math
from pathlib import Path

import numpy as np

from common.imgio import write_image
from common.inference import self_ensemble as ensemble_x8, tiled_predict
from common.metrics import calculate_psnr, evaluate_pairs, protocol
from common.records import atomic_write_text

__all__ = ['make_predictor', 'super_resolve', 'chop_layout', 'score', 'result_lines', 'write_result_file',
           'sr_file_name', 'save_sr', 'train_log_line']


def make_predictor(sess, model):
    """``predict(lr) -> sr``: one Session run of ``model.output`` on an RGB uint8 HxWx3 image."""
    def predict(lr):
        return sess.run(model.output, feed_dict={model.LR: lr[None].astype(np.float32)})[0]
    return predict


def chop_layout(chop_size, chop_shave):
    """Tile side and overlap for ``--chop_forward``: tiles of at most ``chop_size`` LR pixels whose kept
    part lies at least ``chop_shave`` pixels from any inner tile edge (the reference's quadrant split
    gives its patches the same margin)."""
    tile = math.isqrt(int(chop_size))
    if tile <= 2 * chop_shave:
        raise ValueError(f'--chop_size={chop_size} gives tiles of {tile} px, no more than twice '
                         f'--chop_shave={chop_shave}')
    return tile, 2 * int(chop_shave)


def super_resolve(predict, lr, scale, self_ensemble=False, chop_forward=False, chop_size=40000, chop_shave=10):
    """Super-resolve one image as the reference's test modes do.

    Args:
        predict (callable): RGB uint8 image -> RGB uint8 image ``scale`` times larger.
        lr (np.ndarray): RGB uint8 HxWx3.
        scale (int): SR scale.
        self_ensemble (bool): Average the 8 flips/rotations (each pass quantised, as the reference),
            then round and clip. Default: False.
        chop_forward (bool): Run on overlapping tiles (:func:`chop_layout`). Default: False.
        chop_size (int): Largest tile in LR pixels. Default: 40000.
        chop_shave (int): Margin kept from tile edges, LR pixels. Default: 10.

    Returns:
        np.ndarray: RGB uint8 SR image.
    """
    run = predict
    if chop_forward:
        tile, overlap = chop_layout(chop_size, chop_shave)
        run = lambda x: tiled_predict(predict, x, scale, tile=tile, overlap=overlap)  # noqa: E731
    if not self_ensemble:
        return run(lr)
    return np.clip(np.round(ensemble_x8(run, lr)), 0, 255).astype(np.uint8)


def score(names, srs, gts, scale):
    """Per-image Y PSNR/SSIM with crop = scale (common.metrics); GT may exceed SR by a mod-crop.

    Returns:
        tuple[list[dict], dict]: ``[{'name', 'psnr', 'ssim'}, ...]`` and the protocol.
    """
    pairs = [(n, sr[:, :, ::-1], gt[:, :, ::-1]) for n, sr, gt in zip(names, srs, gts)]
    return evaluate_pairs(pairs, crop_border=scale, scale=scale), protocol(scale)


def result_lines(rows, proto):
    """The reference's result-file lines, then the protocol."""
    lines = [f"file name : {r['name']} PSNR : {r['psnr']:04f} SSIM : {r['ssim']:04f} " for r in rows]
    mean_psnr = sum(r['psnr'] for r in rows) / len(rows)
    mean_ssim = sum(r['ssim'] for r in rows) / len(rows)
    lines.append(f'Y_PSNR : {mean_psnr:0.4f} SSIM : {mean_ssim:0.4f} ')
    lines.append(f"protocol : {proto['label']}")
    return lines


def write_result_file(path, rows, proto):
    """Write ``RCAN_X{s}_{test_set}_result.txt`` atomically; returns its lines."""
    lines = result_lines(rows, proto)
    atomic_write_text(path, '\n'.join(lines) + '\n')
    return lines


def sr_file_name(lr_name, scale):
    """The reference's SR name: ``baby.png`` -> ``babyX2.png`` (its extension kept)."""
    stem, dot, ext = lr_name.rpartition('.')
    return f'{stem}X{scale}.{ext}' if dot else f'{lr_name}X{scale}.png'


def save_sr(folder, lr_name, sr, scale):
    """Write an RGB SR image into ``folder`` under :func:`sr_file_name` (atomically)."""
    path = Path(folder) / sr_file_name(lr_name, scale)
    write_image(path, np.ascontiguousarray(sr[:, :, ::-1]))
    return path


def train_log_line(count, lr, srs, gts, scale):
    """One ``RCAN_X{s}_train_log.txt`` line of ``--test_with_train``: RGB and Y PSNR (crop = scale)."""
    rgb = [calculate_psnr(sr, gt[:sr.shape[0], :sr.shape[1]], scale) for sr, gt in zip(srs, gts)]
    rows, _ = score([str(i) for i in range(len(srs))], srs, gts, scale)
    y = [r['psnr'] for r in rows]
    return f'{count:06d}-count \t lr : {lr:04f} \t RGB_PSNR : {np.mean(rgb):04f} \t Y_PSNR : {np.mean(y):04f} \n'
