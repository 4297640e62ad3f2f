"""PSNR and SSIM following the published SR evaluation protocol (BasicSR-compatible signatures).

Protocol (the default of :func:`evaluate_pairs` and the evaluate CLI): both images are quantised
uint8 as saved, ``crop_border = scale`` pixels are shaved on every side, the Y channel of MATLAB's
BT.601 ``rgb2ycbcr`` is compared unrounded in float64, PSNR is ``10 log10(255^2 / MSE)`` per image,
and SSIM is Wang et al.'s 2004 ``ssim_index.m``: an 11x11 Gaussian window with sigma 1.5, 'valid'
filtering, K = (0.01, 0.03), L = 255, the mean of the SSIM map, and no automatic downsampling. The
per-image values are averaged over a dataset. This reproduces the RCAN authors' MATLAB table.

``calculate_psnr`` / ``calculate_ssim`` themselves default to RGB (``test_y_channel=False``) like
BasicSR's functions; pass ``test_y_channel=True`` for the paper protocol.
"""
import math

import numpy as np

from common.color import to_y_channel

__all__ = ['calculate_psnr', 'calculate_ssim', 'protocol', 'evaluate_pairs']

_SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


def _prepare(img, img2, crop_border, input_order, test_y_channel, round_y, name):
    """Validate a pair, reorder to HWC, crop, optionally convert to Y; return two float64 HWC arrays."""
    img, img2 = np.asarray(img), np.asarray(img2)
    if img.shape != img2.shape:
        raise ValueError(f'{name}: image shapes differ: {img.shape} vs {img2.shape}')
    if input_order not in ('HWC', 'CHW'):
        raise ValueError(f"{name}: input_order must be 'HWC' or 'CHW', got {input_order!r}")
    if img.ndim not in (2, 3):
        raise ValueError(f'{name}: expected HW, HWC or CHW images, got shape {img.shape}')
    if img.ndim == 2:
        img, img2 = img[..., None], img2[..., None]
    elif input_order == 'CHW':
        img, img2 = img.transpose(1, 2, 0), img2.transpose(1, 2, 0)
    if not isinstance(crop_border, (int, np.integer)) or crop_border < 0:
        raise ValueError(f'{name}: crop_border must be an int >= 0, got {crop_border!r}')
    h, w = img.shape[:2]
    if 2 * crop_border >= min(h, w):
        raise ValueError(f'{name}: crop_border={crop_border} leaves nothing of images of shape {img.shape}')
    if crop_border:
        img = img[crop_border:-crop_border, crop_border:-crop_border]
        img2 = img2[crop_border:-crop_border, crop_border:-crop_border]
    if test_y_channel and img.shape[2] == 3:
        img = to_y_channel(img, round_y=round_y)[..., None]
        img2 = to_y_channel(img2, round_y=round_y)[..., None]
    elif test_y_channel and img.shape[2] != 1:
        raise ValueError(f'{name}: test_y_channel needs 1 or 3 channels, got shape {img.shape}')
    return img.astype(np.float64), img2.astype(np.float64)


def calculate_psnr(img, img2, crop_border, input_order='HWC', test_y_channel=False, round_y=False, **kwargs):
    """PSNR (dB) between two images in [0, 255], BasicSR-compatible.

    Args:
        img (np.ndarray): Image in [0, 255] (as OpenCV reads it: BGR, any dtype), HWC, CHW or HW.
        img2 (np.ndarray): Reference image, same shape.
        crop_border (int): Pixels shaved on every side before measuring (the protocol: the scale).
        input_order (str): 'HWC' or 'CHW' (ignored for HW images). Default: 'HWC'.
        test_y_channel (bool): Measure the BT.601 Y channel instead of all channels. Default: False.
        round_y (bool): Round Y to integers first (MATLAB ``rgb2ycbcr`` on uint8). Default: False.
        **kwargs: Ignored (BasicSR passes extra options through).

    Returns:
        float: ``10 log10(255^2 / MSE)``, ``inf`` for identical images.
    """
    img, img2 = _prepare(img, img2, crop_border, input_order, test_y_channel, round_y, 'calculate_psnr')
    mse = np.mean((img - img2) ** 2)
    if mse == 0:
        return float('inf')
    return 10.0 * math.log10(255.0 ** 2 / mse)


def _gaussian_window(size=_SSIM_WINDOW, sigma=_SSIM_SIGMA):
    """1-D normalised Gaussian; its outer product is MATLAB's ``fspecial('gaussian', 11, 1.5)``."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def _filter_valid(img, g):
    """'valid' 2-D correlation of ``img`` with the separable window ``outer(g, g)``."""
    n = len(g)
    h, w = img.shape[0] - n + 1, img.shape[1] - n + 1
    rows = sum(g[k] * img[k:k + h, :] for k in range(n))
    return sum(g[k] * rows[:, k:k + w] for k in range(n))


def _ssim_single(img, img2):
    """Mean SSIM of one channel (float64 in [0, 255]), Wang et al.'s ``ssim_index.m``."""
    g = _gaussian_window()
    mu1, mu2 = _filter_valid(img, g), _filter_valid(img2, g)
    mu1_sq, mu2_sq, mu1_mu2 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    sigma1_sq = _filter_valid(img * img, g) - mu1_sq
    sigma2_sq = _filter_valid(img2 * img2, g) - mu2_sq
    sigma12 = _filter_valid(img * img2, g) - mu1_mu2
    ssim_map = ((2 * mu1_mu2 + _C1) * (2 * sigma12 + _C2)) / ((mu1_sq + mu2_sq + _C1) * (sigma1_sq + sigma2_sq + _C2))
    return float(ssim_map.mean())


def calculate_ssim(img, img2, crop_border, input_order='HWC', test_y_channel=False, round_y=False, **kwargs):
    """SSIM (Wang et al. 2004, ``ssim_index.m``) between two images in [0, 255], BasicSR-compatible.

    Gaussian 11x11 window with sigma 1.5, 'valid' filtering (the map is 10 px smaller per axis),
    C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2, float64, no downsampling; the mean over channels.

    Args:
        img (np.ndarray): Image in [0, 255] (as OpenCV reads it: BGR, any dtype), HWC, CHW or HW.
        img2 (np.ndarray): Reference image, same shape.
        crop_border (int): Pixels shaved on every side before measuring (the protocol: the scale).
        input_order (str): 'HWC' or 'CHW' (ignored for HW images). Default: 'HWC'.
        test_y_channel (bool): Measure the BT.601 Y channel instead of all channels. Default: False.
        round_y (bool): Round Y to integers first (MATLAB ``rgb2ycbcr`` on uint8). Default: False.
        **kwargs: Ignored (BasicSR passes extra options through).

    Returns:
        float: Mean SSIM in [-1, 1].
    """
    img, img2 = _prepare(img, img2, crop_border, input_order, test_y_channel, round_y, 'calculate_ssim')
    if min(img.shape[:2]) < _SSIM_WINDOW:
        raise ValueError(f'calculate_ssim: images of shape {img.shape} after cropping are smaller than '
                         f'the {_SSIM_WINDOW}x{_SSIM_WINDOW} window')
    return float(np.mean([_ssim_single(img[..., c], img2[..., c]) for c in range(img.shape[2])]))


def protocol(crop_border, test_y_channel=True, round_y=False):
    """Describe a metric configuration, for result records and printed tables.

    Args:
        crop_border (int): Pixels shaved on every side.
        test_y_channel (bool): Y channel (the paper protocol) or all RGB channels. Default: True.
        round_y (bool): Whether Y is rounded to integers (only meaningful with Y). Default: False.

    Returns:
        dict: ``{'channel': 'y'|'rgb', 'crop_border': int, 'round_y': bool, 'label': str}``, e.g. label
        ``'Y (BT.601, unrounded), crop=2, SSIM Wang04 11x11 g1.5'``.
    """
    round_y = bool(round_y and test_y_channel)
    if test_y_channel:
        channel = f"Y (BT.601, {'rounded' if round_y else 'unrounded'})"
    else:
        channel = 'RGB'
    return {
        'channel': 'y' if test_y_channel else 'rgb',
        'crop_border': int(crop_border),
        'round_y': round_y,
        'label': f'{channel}, crop={int(crop_border)}, SSIM Wang04 11x11 g1.5',
    }


def evaluate_pairs(pairs, crop_border, test_y_channel=True, round_y=False, scale=None):
    """PSNR and SSIM for (name, sr, hr) image pairs under one protocol.

    When the HR image is larger than the SR image by less than ``scale`` pixels along an axis (HR not
    mod-cropped to the scale), the HR image is cropped to the SR size from the top-left, as ``modcrop``
    does. Any other size mismatch is an error.

    Args:
        pairs (Iterable[tuple[str, np.ndarray, np.ndarray]]): ``(name, sr, hr)``; BGR images in [0, 255]
            as OpenCV reads them (HWC or HW).
        crop_border (int): Pixels shaved on every side (the protocol: the scale).
        test_y_channel (bool): Measure Y (the protocol) rather than RGB. Default: True.
        round_y (bool): Round Y to integers first. Default: False.
        scale (int | None): SR scale, the largest HR excess that is mod-cropped away. Default: None
            (use ``crop_border``, which the protocol sets to the scale).

    Returns:
        list[dict]: ``[{'name': str, 'psnr': float, 'ssim': float}, ...]`` in input order.
    """
    slack = max(int(crop_border if scale is None else scale), 1)
    results = []
    for name, sr, hr in pairs:
        sr, hr = np.asarray(sr), np.asarray(hr)
        dh, dw = hr.shape[0] - sr.shape[0], hr.shape[1] - sr.shape[1]
        if sr.shape[2:] == hr.shape[2:] and 0 <= dh < slack and 0 <= dw < slack:
            hr = hr[:sr.shape[0], :sr.shape[1]]
        if sr.shape != hr.shape:
            raise ValueError(f'{name}: SR shape {sr.shape} does not match HR shape {hr.shape} '
                             f'(HR may only exceed SR by less than {slack} px, a mod-crop)')
        opts = dict(crop_border=crop_border, test_y_channel=test_y_channel, round_y=round_y)
        results.append({'name': name, 'psnr': calculate_psnr(sr, hr, **opts), 'ssim': calculate_ssim(sr, hr, **opts)})
    return results
