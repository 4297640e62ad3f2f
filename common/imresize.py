"""MATLAB-compatible bicubic resize (``imresize(img, scale, 'bicubic')``) in numpy and numba.

The algorithm follows MATLAB's ``imresize`` step by step:

* Keys cubic kernel with ``a = -0.5`` (support: 4 input pixels).
* When downscaling with antialiasing, the kernel is stretched by ``1 / scale`` (a wider low-pass
  filter), so every output pixel averages ``ceil(4 / scale) + 2`` input pixels.
* Output size ``ceil(in_size * scale)``; output pixel ``x`` (1-based) samples the input at
  ``u = x / scale + 0.5 * (1 - 1 / scale)``.
* Out-of-range taps are mirrored back into the image (MATLAB's ``contributions()`` index table
  ``[1..n, n..1]``: symmetric padding that repeats the border sample).
* Weights are normalised to sum to one per output pixel; all math runs in float64 and the taps
  are added in order.
* The dimension with the smaller scale factor is resized first (rows first on a tie), and an integer
  image is rounded back to its own class after each of the two passes, as MATLAB does.

Two implementations give bit-identical results:

* The fast path (used whenever numba imports and the dtype is one of ``_FAST_DTYPES``): numba
  kernels that add each output sample's taps one by one in float64, in the order k = 0, 1, ...
  (no fastmath, no reassociation, no FMA), vectorised across neighbouring samples instead. Output
  rows are processed in bands of ``_BAND``: the first pass of a band is written transposed into a
  small buffer that stays in cache, so the second pass also runs along contiguous memory, and no
  full-size intermediate image exists when rows are resized first. Bands are shared out to one
  thread per available core (the kernels release the GIL).
* The reference path (``_imresize_reference``; used without numba and for other dtypes): ``einsum``
  calls on zero-copy strided windows of the input, one per phase of the periodic sampling grid.
"""
import math

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from common.jit import numba, numba_kernel, run_split

__all__ = ['imresize', 'cubic', 'contributions']

_KERNEL_WIDTH = 4.0       # support of the Keys cubic kernel, in input pixels
_MAX_PERIOD = 16          # longest periodic sampling grid served by strided windows
_BLOCK_COLS = 2048        # columns per einsum call (keeps a block of an output row in cache)
_BAND = 8                 # output rows per band of the fast path (SIMD lanes of its second pass)
_CHUNK = 256              # samples accumulated at once along a row (a 2 KiB float64 accumulator)
_OUT_CHUNK = 128          # output columns per row-order buffer of the second pass
_MIN_THREADED = 1 << 16   # output samples below which the fast path stays on the calling thread


def cubic(x):
    """Keys cubic convolution kernel with ``a = -0.5`` (MATLAB's 'bicubic').

    Args:
        x (np.ndarray): Distances in pixels.

    Returns:
        np.ndarray: Kernel values (float64), zero for ``|x| > 2``.
    """
    absx = np.abs(np.asarray(x, dtype=np.float64))
    absx2 = absx * absx
    absx3 = absx2 * absx
    inner = (1.5 * absx3 - 2.5 * absx2 + 1.0) * (absx <= 1)
    outer = (-0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0) * ((absx > 1) & (absx <= 2))
    return inner + outer


def _weight_table(in_length, out_length, scale, antialiasing):
    """MATLAB's contributions() before mirroring: ``weights`` (out, taps) and ``first`` (out,).

    ``first[i]`` is the 0-based input index of tap 0 of output ``i``; tap ``k`` reads ``first[i] + k``,
    which may fall outside ``[0, in_length)`` near the borders.
    """
    kernel_width = _KERNEL_WIDTH
    stretch = scale < 1 and antialiasing
    if stretch:
        kernel_width = kernel_width / scale

    x = np.arange(1, out_length + 1, dtype=np.float64)          # 1-based output coordinates
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)                  # matching input coordinates
    left = np.floor(u - kernel_width / 2.0)                    # 1-based index of the first tap
    taps = int(math.ceil(kernel_width)) + 2
    distance = u[:, None] - (left[:, None] + np.arange(taps, dtype=np.float64)[None, :])
    weights = scale * cubic(scale * distance) if stretch else cubic(distance)
    weights = weights / weights.sum(axis=1, keepdims=True)

    # Drop tap columns that are zero for every output, as MATLAB does. The kernel support is an
    # interval, so only leading or trailing columns can go.
    nonzero = np.flatnonzero(np.any(weights != 0, axis=0))
    lo, hi = int(nonzero[0]), int(nonzero[-1]) + 1
    first = left.astype(np.int64) - 1 + lo
    return np.ascontiguousarray(weights[:, lo:hi]), first


def _mirror(index, length):
    """Map integer indices into ``[0, length)`` through MATLAB's symmetric table ``[1..n, n..1]``."""
    period = 2 * length
    index = np.mod(index, period)
    return np.where(index < length, index, period - 1 - index)


def contributions(in_length, out_length, scale, antialiasing=True):
    """Weights and source indices that map ``in_length`` samples to ``out_length`` samples.

    Args:
        in_length (int): Input size along the axis.
        out_length (int): Output size along the axis.
        scale (float): Scale factor of the sampling grid (``out / in`` when a size was given).
        antialiasing (bool): Stretch the kernel by ``1 / scale`` when downscaling. Default: True.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``weights`` (out_length, taps) float64 with rows summing to one,
        and ``indices`` (out_length, taps) int64, 0-based and mirrored into ``[0, in_length)``.
    """
    weights, first = _weight_table(in_length, out_length, scale, antialiasing)
    indices = first[:, None] + np.arange(weights.shape[1])[None, :]
    return weights, _mirror(indices, in_length)


def _find_period(first, max_period=_MAX_PERIOD):
    """Smallest ``p`` such that ``first[i + p] - first[i]`` is the same for every ``i``, else None."""
    for p in range(1, min(max_period, len(first) - 1) + 1):
        steps = first[p:] - first[:-p]
        if np.all(steps == steps[0]):
            return p
    return None


def _resize_rows(x, weights, first):
    """Resize the rows of a 2-D array: ``out[i] = sum_k weights[i, k] * x[mirror(first[i] + k)]``.

    Output rows whose taps all lie inside the input read zero-copy strided windows of ``x``: the
    sampling grid repeats with a short period, so each phase of it is one ``einsum`` whose inner loop
    runs along the contiguous rows, adding the taps in order (a BLAS product, or a reduction along
    the taps, would reorder the sums and flip a few roundings of exact .5 values). The few border
    rows, and grids without a short period, gather their mirrored taps explicitly.

    Args:
        x (np.ndarray): (n_in, M) array, any real dtype (products are computed in float64).
        weights (np.ndarray): (n_out, taps) float64.
        first (np.ndarray): (n_out,) int64, input row of tap 0 (unmirrored).

    Returns:
        np.ndarray: (n_out, M) float64.
    """
    n_in, n_cols = x.shape
    n_out, taps = weights.shape
    out = np.empty((n_out, n_cols), dtype=np.float64)

    inside = np.flatnonzero((first >= 0) & (first + taps <= n_in))   # one contiguous run of rows
    period = _find_period(first[inside]) if inside.size > 1 else None
    border = np.arange(n_out)
    phases = []
    if period is not None:
        i0, i1 = int(inside[0]), int(inside[-1]) + 1
        border = np.concatenate([border[:i0], border[i1:]])
        step = int(first[i0 + period] - first[i0]) if i1 - i0 > period else 1
        windows = sliding_window_view(x, taps, axis=0)         # (n_in - taps + 1, M, taps), no copy
        for phase in range(min(period, i1 - i0)):
            rows = slice(i0 + phase, i1, period)
            count = len(range(i0 + phase, i1, period))
            start = int(first[i0 + phase])
            phases.append((rows, windows[start:start + step * (count - 1) + 1:step]))

    def job(cols):
        for rows, view in phases:
            np.einsum('nmk,nk->nm', view[:, cols], weights[rows], out=out[rows, cols])
        if border.size:
            acc = np.zeros((border.size, cols.stop - cols.start), dtype=np.float64)
            for k in range(taps):                               # a handful of kernel taps, not rows
                acc += weights[border, k, None] * x[_mirror(first[border] + k, n_in), cols]
            out[border, cols] = acc

    for start in range(0, n_cols, _BLOCK_COLS):                # a few column blocks, for the cache
        job(slice(start, min(start + _BLOCK_COLS, n_cols)))
    return out


def _parse_size(shape, scale, output_shape):
    """Return ((scale_h, scale_w), (out_h, out_w)) following MATLAB's size/scale rules."""
    in_h, in_w = shape[:2]
    if (scale is None) == (output_shape is None):
        raise ValueError('imresize: give exactly one of scale and output_shape')
    if scale is not None:
        scales = tuple(scale) if isinstance(scale, (tuple, list)) else (scale, scale)
        if len(scales) != 2 or not all(isinstance(s, (int, float, np.number)) for s in scales):
            raise ValueError(f'imresize: scale must be a number or an (h, w) pair, got {scale!r}')
        scales = tuple(float(s) for s in scales)
        if not all(math.isfinite(s) and s > 0 for s in scales):
            raise ValueError(f'imresize: scale must be finite and > 0, got {scale!r}')
        out_shape = (int(math.ceil(in_h * scales[0])), int(math.ceil(in_w * scales[1])))
    else:
        if (not isinstance(output_shape, (tuple, list)) or len(output_shape) != 2
                or not all(isinstance(s, (int, np.integer)) and s > 0 for s in output_shape)):
            raise ValueError(f'imresize: output_shape must be two positive ints (h, w), got {output_shape!r}')
        out_shape = (int(output_shape[0]), int(output_shape[1]))
        scales = (out_shape[0] / in_h, out_shape[1] / in_w)
    return scales, out_shape


_CV_TRANSPOSE_DTYPES = (np.uint8, np.int8, np.uint16, np.int16, np.int32, np.float32, np.float64)


def _swap_hw(x):
    """Return a contiguous (W, H, C) copy of an (H, W, C) array (OpenCV's cache-blocked transpose
    for up to 4 channels, numpy otherwise)."""
    h, w, c = x.shape
    if c <= 4 and x.dtype.type in _CV_TRANSPOSE_DTYPES:
        return cv2.transpose(np.ascontiguousarray(x)).reshape(w, h, c)
    return np.ascontiguousarray(x.transpose(1, 0, 2))


def _round_clip(x, dtype):
    """Round half away from zero and saturate to the range of integer ``dtype`` (MATLAB casting)."""
    info = np.iinfo(dtype)
    x = np.where(x >= 0, np.floor(x + 0.5), np.ceil(x - 0.5))
    return np.clip(x, info.min, info.max)


def _check_image(img):
    """Validate an image for imresize; return it as an array and whether it is an integer image."""
    img = np.asarray(img)
    if img.ndim not in (2, 3) or 0 in img.shape:
        raise ValueError(f'imresize: expected a non-empty HW or HWC image, got shape {img.shape}')
    is_int = np.issubdtype(img.dtype, np.integer)
    if not (is_int or np.issubdtype(img.dtype, np.floating)):
        raise ValueError(f'imresize: expected an integer or float image, got dtype {img.dtype}')
    return img, is_int


def _imresize_reference(img, scale=None, output_shape=None, antialiasing=True):
    """The numpy ``einsum`` implementation of :func:`imresize` (same arguments, same result).

    It serves dtypes the fast path does not take, and machines without numba; the tests hold the
    fast path bit-identical to it.
    """
    img, is_int = _check_image(img)
    scales, out_shape = _parse_size(img.shape, scale, output_shape)

    # Each pass resizes the leading axis of an (N, A, C) array seen as N long contiguous rows; the
    # columns pass works on a transposed (W, H, C) copy. The first pass reads the input dtype directly.
    x = img if img.ndim == 3 else img[:, :, None]
    if not np.can_cast(x.dtype, np.float64):     # e.g. int64: einsum would refuse the implicit cast
        x = x.astype(np.float64)
    transposed = False
    # MATLAB resizes the dimension with the smaller scale first (stable sort: rows on a tie).
    for axis in ((0, 1) if scales[0] <= scales[1] else (1, 0)):
        if transposed != (axis == 1):
            x = _swap_hw(x)
            transposed = axis == 1
        x = np.ascontiguousarray(x)
        n, a, c = x.shape
        weights, first = _weight_table(n, out_shape[axis], scales[axis], antialiasing)
        x = _resize_rows(x.reshape(n, a * c), weights, first).reshape(-1, a, c)
        if is_int:
            x = _round_clip(x, img.dtype)
    out = x.astype(img.dtype, copy=False)
    if transposed:
        out = _swap_hw(out)
    return out if img.ndim == 3 else out[:, :, 0]


# --- fast path: numba kernels -------------------------------------------------------------------
#
# Every output sample is ``acc = 0.0; acc += w[k] * x[k] for k = 0, 1, ...`` in float64, exactly the
# reference's arithmetic: numba compiles without fastmath, so LLVM neither reassociates the sums nor
# fuses the multiply-adds. It vectorises across independent samples (along a row in the first pass,
# across the rows of a band in the second), which leaves each sample's sum untouched.

@numba_kernel
def _finish(v, rounding, lo, hi):
    """MATLAB's cast back to an integer class (half away from zero, saturated) when ``rounding``."""
    if rounding:
        v = np.floor(v + 0.5) if v >= 0 else np.ceil(v - 0.5)
        if v < lo:
            v = lo
        if v > hi:
            v = hi
    return v


@numba_kernel
def _accumulate(x, weights, indices, i, m0, n, acc):
    """``acc[:n] = sum_k weights[i, k] * x[indices[i, k], m0:m0 + n]``, the taps added in order.

    The taps pass through the accumulator four at a time (a quarter of the loads and stores of it);
    every sum is still ``((0 + p0) + p1) + p2 ...``, evaluated left to right.
    """
    taps = weights.shape[1]
    for j in range(n):
        acc[j] = 0.0
    k = 0
    while k + 4 <= taps:
        w0, w1, w2, w3 = weights[i, k], weights[i, k + 1], weights[i, k + 2], weights[i, k + 3]
        s0 = x[indices[i, k], m0:m0 + n]
        s1 = x[indices[i, k + 1], m0:m0 + n]
        s2 = x[indices[i, k + 2], m0:m0 + n]
        s3 = x[indices[i, k + 3], m0:m0 + n]
        for j in range(n):
            acc[j] = acc[j] + w0 * s0[j] + w1 * s1[j] + w2 * s2[j] + w3 * s3[j]
        k += 4
    while k < taps:
        wk = weights[i, k]
        src = x[indices[i, k], m0:m0 + n]
        for j in range(n):
            acc[j] += wk * src[j]
        k += 1


@numba_kernel
def _rows_into_band(x, weights, indices, i0, rounding, lo, hi, band):
    """First pass along axis 0 of ``x`` (N, M) for output rows ``i0 ..``, stored transposed in ``band``.

    ``band[m, b]`` receives output row ``i0 + b`` (rows past the end repeat the last one; callers
    ignore them).
    """
    n_out, width = weights.shape[0], x.shape[1]
    acc = np.empty(_CHUNK)
    for m0 in range(0, width, _CHUNK):
        n = min(_CHUNK, width - m0)
        for b in range(_BAND):
            _accumulate(x, weights, indices, min(i0 + b, n_out - 1), m0, n, acc)
            for j in range(n):
                band[m0 + j, b] = _finish(acc[j], rounding, lo, hi)


@numba_kernel
def _copy_into_band(x, r0, band):
    """``band[m, b] = x[r0 + b, m]`` (rows past the end repeat the last one), as float64."""
    n_rows = x.shape[0]
    for b in range(_BAND):
        src = x[min(r0 + b, n_rows - 1)]
        for m in range(x.shape[1]):
            band[m, b] = src[m]


@numba_kernel
def _band_into_cols(band, weights, indices, channels, r0, n_rows, rounding, lo, hi, out):
    """Pass along the width: ``out[r0 + b, j * C + c] = sum_k weights[j, k] * band[indices[j, k], c * _BAND + b]``.

    ``band`` (W_in, C * _BAND) holds ``_BAND`` image rows transposed, so each tap of output column
    ``j`` is one run of ``C * _BAND`` contiguous samples, four taps per pass over it (the taps
    added in order). The runs are short, so they are indexed in place rather than sliced (slicing
    costs more than the run). ``_OUT_CHUNK`` output columns are gathered back into row order in
    a small buffer and then stored row by row into ``out`` (H_out, W_out * C); only rows
    ``b < n_rows`` are stored.
    """
    lanes, taps, n_out = channels * _BAND, weights.shape[1], weights.shape[0]
    acc = np.empty(lanes)
    rows = np.empty((_BAND, _OUT_CHUNK * channels))
    for j0 in range(0, n_out, _OUT_CHUNK):
        nj = min(_OUT_CHUNK, n_out - j0)
        for j in range(j0, j0 + nj):
            for q in range(lanes):
                acc[q] = 0.0
            k = 0
            while k + 4 <= taps:
                w0, w1, w2, w3 = weights[j, k], weights[j, k + 1], weights[j, k + 2], weights[j, k + 3]
                i0, i1, i2, i3 = indices[j, k], indices[j, k + 1], indices[j, k + 2], indices[j, k + 3]
                for q in range(lanes):
                    acc[q] = acc[q] + w0 * band[i0, q] + w1 * band[i1, q] + w2 * band[i2, q] + w3 * band[i3, q]
                k += 4
            for k in range(k, taps):
                for q in range(lanes):
                    acc[q] += weights[j, k] * band[indices[j, k], q]
            for c in range(channels):
                for b in range(_BAND):
                    rows[b, (j - j0) * channels + c] = acc[c * _BAND + b]
        for b in range(n_rows):
            _store_row(rows[b, :nj * channels], rounding, lo, hi, out[r0 + b, j0 * channels:(j0 + nj) * channels])


@numba_kernel
def _store_row(src, rounding, lo, hi, dst):
    """``dst[:] = src`` through :func:`_finish` (a separate loop per case, so both vectorise)."""
    if rounding:
        for q in range(src.shape[0]):
            dst[q] = _finish(src[q], True, lo, hi)
    else:
        for q in range(src.shape[0]):
            dst[q] = src[q]


@numba_kernel
def _rows_then_cols(x, wh, ih, ww, iw, channels, rounding, lo, hi, out, t0, t1):
    """Both passes, rows first, for the bands ``t0 .. t1 - 1`` of output rows, straight into ``out``
    (H_out, W_out * C)."""
    band = np.empty((x.shape[1], _BAND))
    lanes = band.reshape((x.shape[1] // channels, channels * _BAND))
    for t in range(t0, t1):
        i0 = t * _BAND
        _rows_into_band(x, wh, ih, i0, rounding, lo, hi, band)
        _band_into_cols(lanes, ww, iw, channels, i0, min(_BAND, out.shape[0] - i0), rounding, lo, hi, out)


@numba_kernel
def _cols_pass(x, ww, iw, channels, rounding, lo, hi, out, t0, t1):
    """Pass along the width of ``x`` (H, W * C) for the bands ``t0 .. t1 - 1`` of rows into ``out``
    (H, W_out * C)."""
    band = np.empty((x.shape[1], _BAND))
    lanes = band.reshape((x.shape[1] // channels, channels * _BAND))
    for t in range(t0, t1):
        r0 = t * _BAND
        _copy_into_band(x, r0, band)
        _band_into_cols(lanes, ww, iw, channels, r0, min(_BAND, out.shape[0] - r0), rounding, lo, hi, out)


@numba_kernel
def _rows_pass(x, weights, indices, rounding, lo, hi, out, i0, i1):
    """Pass along axis 0 of ``x`` (N, M) for output rows ``i0 .. i1 - 1`` of ``out`` (n_out, M)."""
    width = x.shape[1]
    acc = np.empty(_CHUNK)
    for i in range(i0, i1):
        dst = out[i]
        for m0 in range(0, width, _CHUNK):
            n = min(_CHUNK, width - m0)
            _accumulate(x, weights, indices, i, m0, n, acc)
            for j in range(n):
                dst[m0 + j] = _finish(acc[j], rounding, lo, hi)


# --- fast path: dtypes and threads --------------------------------------------------------------

# Input dtype -> the one float dtype the kernels read and write (two compiled variants in all).
# Every conversion is exact: the input values fit it, and so does a rounded integer result, so the
# final cast back to the input dtype changes no value; a float16 result is rounded once, from
# float64, as the reference does. int64/uint64 and wider floats use the reference.
_FAST_DTYPES = {np.dtype(t): np.float32 for t in (np.uint8, np.int8, np.uint16, np.int16, np.float32)}
_FAST_DTYPES.update({np.dtype(t): np.float64 for t in (np.uint32, np.int32, np.float16, np.float64)})

def _imresize_fast(img, is_int, scales, out_shape, antialiasing):
    """The numba implementation of :func:`imresize` for a validated image of a ``_FAST_DTYPES`` dtype."""
    work_dtype = _FAST_DTYPES[img.dtype]
    in_h, in_w = img.shape[:2]
    channels = 1 if img.ndim == 2 else img.shape[2]
    out_h, out_w = out_shape
    x = np.ascontiguousarray(img, dtype=work_dtype).reshape(in_h, in_w * channels)
    wh, ih = contributions(in_h, out_h, scales[0], antialiasing)
    ww, iw = contributions(in_w, out_w, scales[1], antialiasing)
    if is_int:
        info = np.iinfo(img.dtype)
        rounding, lo, hi = True, float(info.min), float(info.max)
    else:
        rounding, lo, hi = False, 0.0, 0.0
    out = np.empty((out_h, out_w * channels), dtype=work_dtype)
    threaded = out.size >= _MIN_THREADED
    if scales[0] <= scales[1]:               # rows first (MATLAB sorts the scales stably)
        run_split(_rows_then_cols, -(-out_h // _BAND),
                  (x, wh, ih, ww, iw, channels, rounding, lo, hi, out), threaded)
    else:                                    # width first, through an (H_in, W_out * C) intermediate
        tmp = np.empty((in_h, out_w * channels))
        run_split(_cols_pass, -(-in_h // _BAND), (x, ww, iw, channels, rounding, lo, hi, tmp), threaded)
        run_split(_rows_pass, out_h, (tmp, wh, ih, rounding, lo, hi, out), threaded)
    out = out.reshape(out_h, out_w, channels).astype(img.dtype, copy=False)
    return out if img.ndim == 3 else out[:, :, 0]


def imresize(img, scale=None, output_shape=None, antialiasing=True):
    """Resize an image exactly like MATLAB's ``imresize(img, scale, 'bicubic')``.

    Uses the numba kernels for uint8, int8, uint16, int16, uint32, int32, float16, float32 and
    float64 images (the first call of each dtype compiles them, or loads them from numba's cache),
    and the numpy reference otherwise; both give bit-identical results. Large images are shared
    out to one thread per core.

    Args:
        img (np.ndarray): HW or HWC image, any channel order. Integer images (e.g. uint8) come back in
            their own dtype: like MATLAB, each of the two passes is rounded half away from zero and
            saturated to the dtype range. Float images come back in their own float dtype and value
            range, neither rounded nor clipped (the bicubic overshoot is kept).
        scale (float | tuple[float, float] | None): Scale factor (< 1 shrinks, > 1 enlarges), or an
            (h, w) pair. The output size is ``ceil(in * scale)``. Default: None.
        output_shape (tuple[int, int] | None): Output (h, w) instead of ``scale``; each axis then uses
            the scale ``out / in``. Give exactly one of ``scale`` and ``output_shape``. Default: None.
        antialiasing (bool): Widen the kernel when downscaling (MATLAB's default). Default: True.

    Returns:
        np.ndarray: The resized image with the same number of dimensions and dtype as ``img``.

    Raises:
        ValueError: For an image that is not a non-empty HW/HWC integer or float array, or a bad
            ``scale`` / ``output_shape``.
    """
    img, is_int = _check_image(img)
    scales, out_shape = _parse_size(img.shape, scale, output_shape)
    if numba is None or img.dtype not in _FAST_DTYPES:
        return _imresize_reference(img, scale, output_shape, antialiasing)
    return _imresize_fast(img, is_int, scales, out_shape, antialiasing)
