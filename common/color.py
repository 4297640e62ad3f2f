"""MATLAB-compatible ITU-R BT.601 colour conversions (``rgb2ycbcr`` / ``ycbcr2rgb``).

This is the "studio swing" YCbCr that MATLAB, and therefore the SR literature, uses: for R, G, B in
[0, 1],

    Y  =  16 +  65.481 R + 128.553 G +  24.966 B      (Y  in [16, 235])
    Cb = 128 -  37.797 R -  74.203 G + 112.000 B      (Cb in [16, 240])
    Cr = 128 + 112.000 R -  93.786 G -  18.214 B      (Cr in [16, 240])

on a 0..255 scale. It is *not* OpenCV's ``COLOR_BGR2YCrCb`` (the full-range JPEG variant).

dtype rules (as MATLAB): uint8 in -> uint8 out, rounded half away from zero and saturated; float in
[0, 1] -> float of the same dtype (float64 for other inputs), scaled to [0, 1] (Y in [16/255,
235/255]) and not clipped. The math runs in float64.
"""
import numpy as np

from common.jit import numba, numba_kernel, run_split

__all__ = ['rgb2ycbcr', 'bgr2ycbcr', 'ycbcr2rgb', 'ycbcr2bgr', 'to_y_channel']

# Rows: Y, Cb, Cr; columns: R, G, B. Input in [0, 1], output on the 0..255 scale.
_RGB2YCBCR = np.array([[65.481, 128.553, 24.966],
                       [-37.797, -74.203, 112.0],
                       [112.0, -93.786, -18.214]], dtype=np.float64)
_OFFSET = np.array([16.0, 128.0, 128.0], dtype=np.float64)
_YCBCR2RGB = np.linalg.inv(_RGB2YCBCR)


def _check(img, name):
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f'{name}: expected an HxWx3 image, got shape {img.shape}')
    if img.dtype != np.uint8 and not np.issubdtype(img.dtype, np.floating):
        raise ValueError(f'{name}: expected uint8 or float in [0, 1], got dtype {img.dtype}')
    return img


def _to_unit(img):
    """uint8 -> float64 in [0, 1]; float -> float64 unchanged."""
    return img.astype(np.float64) / 255.0 if img.dtype == np.uint8 else img.astype(np.float64)


def _from_unit(x, dtype):
    """float64 in [0, 1] -> uint8 (MATLAB rounding and saturation) or the input float dtype."""
    if dtype == np.uint8:
        return np.clip(np.floor(x * 255.0 + 0.5), 0, 255).astype(np.uint8)
    return x.astype(dtype if np.issubdtype(dtype, np.floating) else np.float64)


def rgb2ycbcr(img, y_only=False):
    """RGB -> YCbCr (BT.601, MATLAB ``rgb2ycbcr``).

    Args:
        img (np.ndarray): HxWx3 RGB image, uint8 or float in [0, 1].
        y_only (bool): Return only the Y channel as an HxW array. Default: False.

    Returns:
        np.ndarray: YCbCr (HxWx3) or Y (HxW), uint8 for uint8 input, else float in [0, 1].
    """
    img = _check(img, 'rgb2ycbcr')
    rgb = _to_unit(img)
    if y_only:
        out = (rgb @ _RGB2YCBCR[0] + _OFFSET[0]) / 255.0
    else:
        out = (rgb @ _RGB2YCBCR.T + _OFFSET) / 255.0
    return _from_unit(out, img.dtype)


def bgr2ycbcr(img, y_only=False):
    """BGR (OpenCV order) -> YCbCr; otherwise identical to :func:`rgb2ycbcr`.

    Args:
        img (np.ndarray): HxWx3 BGR image, uint8 or float in [0, 1].
        y_only (bool): Return only the Y channel as an HxW array. Default: False.

    Returns:
        np.ndarray: YCbCr (HxWx3, channels Y, Cb, Cr) or Y (HxW).
    """
    return rgb2ycbcr(_check(img, 'bgr2ycbcr')[..., ::-1], y_only=y_only)


def ycbcr2rgb(img):
    """YCbCr -> RGB (BT.601, MATLAB ``ycbcr2rgb``), the exact inverse of :func:`rgb2ycbcr`.

    Args:
        img (np.ndarray): HxWx3 YCbCr image, uint8 or float in [0, 1].

    Returns:
        np.ndarray: RGB, uint8 for uint8 input (rounded and saturated), else float, not clipped
        (out-of-gamut YCbCr values give RGB slightly outside [0, 1]).
    """
    img = _check(img, 'ycbcr2rgb')
    ycc = _to_unit(img) * 255.0 - _OFFSET
    return _from_unit(ycc @ _YCBCR2RGB.T, img.dtype)


def ycbcr2bgr(img):
    """YCbCr -> BGR (OpenCV order); otherwise identical to :func:`ycbcr2rgb`."""
    return ycbcr2rgb(img)[..., ::-1]


def to_y_channel(img, round_y=False):
    """Y channel on the 0..255 scale of a BGR image on the 0..255 scale, as float64 (for metrics).

    This is the published SR protocol: ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255`` with R, G,
    B in 0..255, kept unrounded (RCAN's ``rgb2ycbcr(im2double(.))``, BasicSR's ``to_y_channel``).

    Args:
        img (np.ndarray): HxWx3 BGR image with values in [0, 255] (any dtype; float values are not
            clipped), or an HxW / HxWx1 image, which is returned as float64 unchanged.
        round_y (bool): Round Y to integers, as MATLAB's ``rgb2ycbcr`` does on a uint8 image (some
            toolboxes, e.g. KAIR, measure this way). Default: False.

    Returns:
        np.ndarray: HxW float64 Y in [16, 235] (for inputs in [0, 255]).
    """
    img = np.asarray(img)
    if img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 1):
        return img.reshape(img.shape[:2]).astype(np.float64)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f'to_y_channel: expected an HxW or HxWx3 BGR image, got shape {img.shape}')
    if numba is not None and img.dtype.kind in 'uif' and img.dtype.itemsize <= 8:
        y = np.empty(img.shape[:2], dtype=np.float64)
        w = _RGB2YCBCR[0]
        run_split(_y_kernel, img.shape[0], (img, y, w[2], w[1], w[0], _OFFSET[0], bool(round_y)),
                  threaded=img.shape[0] * img.shape[1] >= 1 << 18)
        return y
    return _to_y_reference(img, round_y)


def _to_y_reference(img, round_y=False):
    """numpy twin of the Y kernel (used without numba; the tests hold the two within 1e-12)."""
    bgr = img.astype(np.float64) / 255.0
    y = bgr @ _RGB2YCBCR[0, ::-1] + _OFFSET[0]
    if round_y:
        y = np.floor(y + 0.5)
    return y


@numba_kernel
def _y_kernel(img, out, wb, wg, wr, offset, round_y, start, stop):
    """``out = 16 + (wb B + wg G + wr R) / 255`` per pixel of rows start..stop of a BGR image (any strides)."""
    for i in range(start, stop):
        for j in range(img.shape[1]):
            v = (img[i, j, 0] / 255.0) * wb + (img[i, j, 1] / 255.0) * wg + (img[i, j, 2] / 255.0) * wr + offset
            out[i, j] = np.floor(v + 0.5) if round_y else v
