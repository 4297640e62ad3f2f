"""PSNR and SSIM following the published SR evaluation protocol (BasicSR-compatible signatures).

Protocol (the default of :func:`evaluate_pairs` and the evaluate CLI): both images are quantised
uint8 as saved, ``crop_border = scale`` pixels are shaved on every side, the Y channel of MATLAB's
BT.601 ``rgb2ycbcr`` is compared unrounded in float64, PSNR is ``10 log10(255^2 / MSE)`` per image,
and SSIM is Wang et al.'s 2004 ``ssim_index.m``: an 11x11 Gaussian window with sigma 1.5, 'valid'
filtering, K = (0.01, 0.03), L = 255, the mean of the SSIM map, and no automatic downsampling. The
per-image values are averaged over a dataset. This reproduces the RCAN authors' MATLAB table.

``calculate_psnr`` / ``calculate_ssim`` themselves default to RGB (``test_y_channel=False``) like
BasicSR's functions; pass ``test_y_channel=True`` for the paper protocol.

SSIM runs in numba kernels that stream each channel row by row (``_ssim_single``); the numpy
``_ssim_single_reference`` serves without numba, and the tests hold the two within 1e-9.
"""
import math

import numpy as np

from common.color import to_y_channel
from common.jit import numba, numba_kernel, run_split

__all__ = ['calculate_psnr', 'calculate_ssim', 'protocol', 'evaluate_pairs']

_SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5
_SSIM_BLOCK = 64              # SSIM map rows per block of the numba kernel (the unit shared out to threads)
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
    return img.astype(np.float64, copy=False), img2.astype(np.float64, copy=False)   # read-only from here


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


def _ssim_single_reference(img, img2):
    """Mean SSIM of one channel (float64 in [0, 255]), Wang et al.'s ``ssim_index.m``, in numpy.

    Full-size filtered moments and SSIM map; the fast kernel below is held to it by the tests.
    """
    g = _gaussian_window()
    mu1, mu2 = _filter_valid(img, g), _filter_valid(img2, g)
    mu1_sq, mu2_sq, mu1_mu2 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    sigma1_sq = _filter_valid(img * img, g) - mu1_sq
    sigma2_sq = _filter_valid(img2 * img2, g) - mu2_sq
    sigma12 = _filter_valid(img * img2, g) - mu1_mu2
    ssim_map = ((2 * mu1_mu2 + _C1) * (2 * sigma12 + _C2)) / ((mu1_sq + mu2_sq + _C1) * (sigma1_sq + sigma2_sq + _C2))
    return float(ssim_map.mean())


@numba_kernel
def _column_moments(a, b, g, y, v):
    """Vertical pass for output row ``y``: ``v[:, x]`` = window-column sums of a, b, a*a, b*b, a*b.

    Each sum adds the taps in order, like :func:`_filter_valid`, four taps per pass over the row.
    """
    v0, v1, v2, v3, v4 = v[0], v[1], v[2], v[3], v[4]
    for x in range(a.shape[1]):
        v0[x] = 0.0
        v1[x] = 0.0
        v2[x] = 0.0
        v3[x] = 0.0
        v4[x] = 0.0
    k = 0
    while k + 4 <= _SSIM_WINDOW:
        g0, g1, g2, g3 = g[k], g[k + 1], g[k + 2], g[k + 3]
        a0, a1, a2, a3 = a[y + k], a[y + k + 1], a[y + k + 2], a[y + k + 3]
        b0, b1, b2, b3 = b[y + k], b[y + k + 1], b[y + k + 2], b[y + k + 3]
        for x in range(a.shape[1]):
            p0, p1, p2, p3 = a0[x], a1[x], a2[x], a3[x]
            q0, q1, q2, q3 = b0[x], b1[x], b2[x], b3[x]
            v0[x] = v0[x] + g0 * p0 + g1 * p1 + g2 * p2 + g3 * p3
            v1[x] = v1[x] + g0 * q0 + g1 * q1 + g2 * q2 + g3 * q3
            v2[x] = v2[x] + g0 * (p0 * p0) + g1 * (p1 * p1) + g2 * (p2 * p2) + g3 * (p3 * p3)
            v3[x] = v3[x] + g0 * (q0 * q0) + g1 * (q1 * q1) + g2 * (q2 * q2) + g3 * (q3 * q3)
            v4[x] = v4[x] + g0 * (p0 * q0) + g1 * (p1 * q1) + g2 * (p2 * q2) + g3 * (p3 * q3)
        k += 4
    while k < _SSIM_WINDOW:
        gk, ra, rb = g[k], a[y + k], b[y + k]
        for x in range(a.shape[1]):
            p, q = ra[x], rb[x]
            v0[x] += gk * p
            v1[x] += gk * q
            v2[x] += gk * (p * p)
            v3[x] += gk * (q * q)
            v4[x] += gk * (p * q)
        k += 1


@numba_kernel
def _row_filter(g, src, dst):
    """Horizontal 'valid' pass: ``dst[x] = sum_k g[k] * src[x + k]``, taps in order, four per pass."""
    width = dst.shape[0]
    for x in range(width):
        dst[x] = 0.0
    k = 0
    while k + 4 <= _SSIM_WINDOW:
        g0, g1, g2, g3 = g[k], g[k + 1], g[k + 2], g[k + 3]
        s0, s1 = src[k:k + width], src[k + 1:k + 1 + width]
        s2, s3 = src[k + 2:k + 2 + width], src[k + 3:k + 3 + width]
        for x in range(width):
            dst[x] = dst[x] + g0 * s0[x] + g1 * s1[x] + g2 * s2[x] + g3 * s3[x]
        k += 4
    while k < _SSIM_WINDOW:
        gk, s = g[k], src[k:k + width]
        for x in range(width):
            dst[x] += gk * s[x]
        k += 1


@numba_kernel
def _ssim_row_sum(g, v, m, row):
    """Horizontal pass of the moments ``v`` into ``m``, then the SSIM map of the row in ``row``; its sum."""
    for i in range(5):
        _row_filter(g, v[i], m[i])
    mu1, mu2, e11, e22, e12 = m[0], m[1], m[2], m[3], m[4]
    for x in range(row.shape[0]):
        mu1_sq, mu2_sq, mu1_mu2 = mu1[x] * mu1[x], mu2[x] * mu2[x], mu1[x] * mu2[x]
        sigma1_sq, sigma2_sq, sigma12 = e11[x] - mu1_sq, e22[x] - mu2_sq, e12[x] - mu1_mu2
        row[x] = (((2 * mu1_mu2 + _C1) * (2 * sigma12 + _C2))
                  / ((mu1_sq + mu2_sq + _C1) * (sigma1_sq + sigma2_sq + _C2)))
    total = 0.0
    for x in range(row.shape[0]):
        total += row[x]
    return total


@numba_kernel
def _ssim_map_sum(a, b, g, sums, t0, t1):
    """``sums[t]`` = sum of the 'valid' SSIM map rows ``t * _SSIM_BLOCK ..`` (one block), for t0 <= t < t1."""
    height, width = a.shape[0] - _SSIM_WINDOW + 1, a.shape[1] - _SSIM_WINDOW + 1
    v = np.empty((5, a.shape[1]))
    m = np.empty((5, width))
    row = np.empty(width)
    for t in range(t0, t1):
        total = 0.0
        for y in range(t * _SSIM_BLOCK, min((t + 1) * _SSIM_BLOCK, height)):
            _column_moments(a, b, g, y, v)
            total += _ssim_row_sum(g, v, m, row)
        sums[t] = total


def _ssim_single(img, img2):
    """Mean SSIM of one channel (float64 in [0, 255]), Wang et al.'s ``ssim_index.m``.

    The numba kernels stream the image: per output row, the five moments are filtered vertically
    then horizontally and the SSIM map row is summed at once, so no full-size temporary exists.
    Blocks of ``_SSIM_BLOCK`` rows are shared out to one thread per core, and their sums are added
    in block order, so the result does not depend on the number of threads. The arithmetic per map
    value is the reference's; only the order of the final mean's sum differs.
    """
    if numba is None:
        return _ssim_single_reference(img, img2)
    a = np.ascontiguousarray(img, dtype=np.float64)
    b = np.ascontiguousarray(img2, dtype=np.float64)
    height, width = a.shape[0] - _SSIM_WINDOW + 1, a.shape[1] - _SSIM_WINDOW + 1
    sums = np.empty(-(-height // _SSIM_BLOCK))
    run_split(_ssim_map_sum, len(sums), (a, b, _gaussian_window(), sums), threaded=len(sums) > 1)
    return float(sums.sum() / (height * width))


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
