"""Framework-free inference helpers: tiled prediction for large images and the x8 self-ensemble.

Both wrap a ``predict(img) -> np.ndarray`` callable that maps an HW or HWC numpy image to its
restored version (``scale`` times larger). Each framework only has to supply that callable, e.g.
``lambda x: model(to_tensor(x))`` converted back to numpy; the helpers compose::

    sr = self_ensemble(lambda x: tiled_predict(predict, x, scale=4), lr)
"""
import numpy as np
from tqdm import tqdm

from common.data import dihedral, inverse_dihedral

__all__ = ['tiled_predict', 'self_ensemble', 'tile_layout']


def tile_layout(size, tile, overlap):
    """Tiles along one axis and the part of each that is kept.

    Tiles of length ``min(tile, size)`` start every ``tile - overlap`` pixels, the last one flush with
    the far border. Neighbouring tiles share at least ``overlap`` pixels; the shared band is split in
    its middle, so every kept pixel lies at least ``overlap // 2`` pixels away from an inner tile edge.

    Args:
        size (int): Image length along the axis.
        tile (int): Tile length.
        overlap (int): Minimum overlap between neighbouring tiles, ``0 <= overlap < tile``.

    Returns:
        list[tuple[int, int, int]]: ``(start, keep_begin, keep_end)`` per tile in image coordinates;
        the kept ranges partition ``[0, size)``.
    """
    length = min(tile, size)
    if size <= tile:
        starts = [0]
    else:
        starts = list(range(0, size - tile, tile - overlap)) + [size - tile]
    bounds = [0] + [(starts[i + 1] + starts[i] + length) // 2 for i in range(len(starts) - 1)] + [size]
    return [(start, bounds[i], bounds[i + 1]) for i, start in enumerate(starts)]


def tiled_predict(predict, img, scale, tile=256, overlap=16, progress=False):
    """Run ``predict`` on overlapping tiles of ``img`` and assemble the upscaled result.

    Each output pixel is taken from the one tile where it lies farthest from an inner tile edge (the
    overlaps are cropped at their middle, no averaging). For a fully convolutional model whose
    receptive field reaches at most ``overlap // 2`` LR pixels from the centre, the result equals
    whole-image inference up to floating-point noise; a model that sees farther shows seams.

    Args:
        predict (callable): ``np.ndarray (h, w[, c]) -> np.ndarray (h * scale, w * scale[, c_out])``.
        img (np.ndarray): HW or HWC input image (passed to ``predict`` in tiles, dtype unchanged).
        scale (int): Output/input size ratio (1 for enhancement models).
        tile (int): Tile side in input pixels. Default: 256.
        overlap (int): Minimum overlap of neighbouring tiles in input pixels. Default: 16.
        progress (bool): Show a tqdm bar over the tiles. Default: False.

    Returns:
        np.ndarray: ``(H * scale, W * scale[, c_out])``, in the dtype ``predict`` returns.
    """
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(f'tiled_predict: scale must be a positive integer, got {scale!r}')
    if not 0 <= overlap < tile:
        raise ValueError(f'tiled_predict: need 0 <= overlap < tile, got overlap={overlap}, tile={tile}')
    h, w = img.shape[:2]
    rows, cols = tile_layout(h, tile, overlap), tile_layout(w, tile, overlap)
    out = None
    bar = tqdm(total=len(rows) * len(cols), desc='tiles', disable=not progress)
    with bar:
        for y0, ky0, ky1 in rows:
            for x0, kx0, kx1 in cols:
                th, tw = min(tile, h), min(tile, w)
                pred = np.asarray(predict(np.ascontiguousarray(img[y0:y0 + th, x0:x0 + tw])))
                if pred.shape[:2] != (th * scale, tw * scale) or pred.ndim not in (2, 3):
                    raise ValueError(f'tiled_predict: predict mapped a {th}x{tw} tile to shape {pred.shape}, '
                                     f'expected ({th * scale}, {tw * scale}[, c]) for scale {scale}')
                if out is None:
                    out = np.empty((h * scale, w * scale) + pred.shape[2:], dtype=pred.dtype)
                out[ky0 * scale:ky1 * scale, kx0 * scale:kx1 * scale] = \
                    pred[(ky0 - y0) * scale:(ky1 - y0) * scale, (kx0 - x0) * scale:(kx1 - x0) * scale]
                bar.update()
    return out


def self_ensemble(predict, img):
    """The x8 geometric self-ensemble: predict all 8 flips/rotations, undo each, and average.

    Args:
        predict (callable): ``np.ndarray -> np.ndarray``, any size (height and width get swapped for
            half of the transforms). It receives C-contiguous arrays.
        img (np.ndarray): HW or HWC input image.

    Returns:
        np.ndarray: The mean of the 8 aligned predictions, computed in float64; returned in the dtype
        of ``predict``'s output when that is a float type, else as float64 (not rounded).
    """
    total, out_dtype = None, None
    for mode in range(8):
        pred = np.asarray(predict(np.ascontiguousarray(dihedral(img, mode))))
        out_dtype = pred.dtype
        pred = inverse_dihedral(pred, mode).astype(np.float64)
        if total is not None and pred.shape != total.shape:
            raise ValueError(f'self_ensemble: transform {mode} gave shape {pred.shape} after undoing it, '
                             f'expected {total.shape}')
        total = pred if total is None else total + pred
    mean = total / 8.0
    return mean.astype(out_dtype) if np.issubdtype(out_dtype, np.floating) else mean
