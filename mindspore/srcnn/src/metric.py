"""Metrics: the standard SR protocol (through common.metrics) and the reference port's PSNR.

Standard (the default headline): the SR image (network Y + bicubic Cb/Cr, clamped and rounded to
uint8) against the HR image, PSNR/SSIM on BT.601 Y (unrounded) with `scale` pixels shaved, as
published tables are computed. Reference: 10 log10(1 / MSE) between the raw network Y and the HR Y,
both on [0, 1], over the whole image: no shave, no clamp, no quantisation ('reference (no shave,
unclamped)'); it reads higher than the standard number.
"""
import time

import numpy as np

from common.metrics import evaluate_pairs, protocol
from src.utils import compose_sr, prepare_pair, reference_psnr

REFERENCE_LABEL = 'reference (no shave, unclamped): Y/255 PSNR of the raw network output, full image'


def evaluate_images(predict, images, scale, keep_outputs=False):
    """Super-resolve and score a set of images.

    Args:
        predict (callable): float32 Y (H, W) in [0, 1] -> network Y (H, W).
        images (list[tuple[str, np.ndarray, np.ndarray | None]]): (name, HR BGR uint8, given LR or None).
        scale (int): Upscaling factor (also the shaved border of the standard protocol).
        keep_outputs (bool): Also return the SR images. Default: False.

    Returns:
        dict: 'protocol' (common.metrics.protocol), 'srcnn' and 'bicubic' (per-image name/psnr/ssim,
        standard protocol), 'reference' (per-image name/psnr, reference metric), 'seconds' (network
        time per image), and 'outputs' ({name: SR BGR uint8}) when keep_outputs.
    """
    sr_pairs, bic_pairs, ref, seconds, outputs = [], [], [], [], {}
    for name, hr, lr in images:
        pair = prepare_pair(hr, scale, lr, name=name)
        start = time.perf_counter()
        y_sr = np.asarray(predict(pair['y_in']), dtype=np.float32)
        seconds.append(time.perf_counter() - start)
        sr = compose_sr(y_sr, pair['up'])
        sr_pairs.append((name, sr, pair['hr']))
        bic_pairs.append((name, pair['up'], pair['hr']))
        ref.append({'name': name, 'psnr': reference_psnr(y_sr, pair['y_hr'])})
        if keep_outputs:
            outputs[name] = sr
    result = {'protocol': protocol(scale), 'srcnn': evaluate_pairs(sr_pairs, scale),
              'bicubic': evaluate_pairs(bic_pairs, scale), 'reference': ref, 'seconds': seconds}
    if keep_outputs:
        result['outputs'] = outputs
    return result


def mean(rows, key):
    """Mean of `key` over per-image rows."""
    return float(np.mean([r[key] for r in rows]))


def report(result, metric='standard', title=''):
    """Print a per-image table, the protocol labels and the reference-style `result` line.

    Args:
        result (dict): From evaluate_images.
        metric (str): Which metric the `result  {'PSNR': ...}` line carries: 'standard' or 'reference'.
            Default: 'standard'.
        title (str): Printed first. Default: ''.
    """
    if metric not in ('standard', 'reference'):
        raise ValueError(f"--metric must be 'standard' or 'reference', got {metric!r}")
    label = result['protocol']['label']
    if title:
        print(title)
    print(f"{'image':<16}{'bicubic PSNR/SSIM':>22}{'SRCNN PSNR/SSIM':>22}{'reference PSNR':>17}")
    for bic, sr, ref in zip(result['bicubic'], result['srcnn'], result['reference']):
        print(f"{sr['name']:<16}{bic['psnr']:>13.4f} / {bic['ssim']:.4f}{sr['psnr']:>13.4f} / {sr['ssim']:.4f}"
              f"{ref['psnr']:>17.4f}")
    std = {'PSNR': mean(result['srcnn'], 'psnr'), 'SSIM': mean(result['srcnn'], 'ssim')}
    ref = {'PSNR': mean(result['reference'], 'psnr')}
    print(f"bicubic   [{label}]: PSNR {mean(result['bicubic'], 'psnr'):.4f}, SSIM {mean(result['bicubic'], 'ssim'):.4f}")
    print(f'standard  [{label}; SR clamped and rounded to uint8]: PSNR {std["PSNR"]:.4f}, SSIM {std["SSIM"]:.4f}')
    print(f'reference [{REFERENCE_LABEL}]: PSNR {ref["PSNR"]:.4f}')
    print('result ', std if metric == 'standard' else ref, flush=True)
    return std if metric == 'standard' else ref
