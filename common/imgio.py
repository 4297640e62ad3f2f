"""Image files in and out, the way OpenCV sees them: BGR, HWC, uint8 or uint16.

Every failure raises :class:`ImageError` with one line that names the file and the problem, so a CLI
can print it and exit. Writes are atomic and durable (:func:`common.fileio.atomic_write_bytes`): a
crash never leaves a half-written image under the final name. EXIF orientation tags are ignored:
pixels come back as they are stored.
"""
from pathlib import Path

import cv2
import numpy as np

from common.fileio import atomic_write_bytes

__all__ = ['ImageError', 'read_image', 'decode_image', 'write_image', 'encode_image', 'list_images', 'img2float',
           'float2uint8', 'to_uint8', 'IMAGE_EXTS']

IMAGE_EXTS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')
_FLAGS = ('color', 'gray', 'unchanged')
_ALPHA = ('drop', 'error')
_BITS = (None, 8)


class ImageError(ValueError):
    """An image file that cannot be read or written; the message names the file and the problem."""


def read_image(path, flag='color', alpha='drop', bits=None):
    """Read an image file as OpenCV does (BGR channel order, HWC), keeping 8 or 16 bits unless told.

    Args:
        path (str | Path): Image file (PNG, JPEG, BMP, TIFF, ... anything OpenCV decodes).
        flag (str): 'color' returns HxWx3 (a gray file has its channel replicated), 'gray' returns HxW
            (BGR converted with OpenCV's BT.601 weights), 'unchanged' returns the stored channels,
            alpha included. Default: 'color'.
        alpha (str): What 'color' and 'gray' do with a 4-channel (BGRA) file: 'drop' discards the alpha
            channel, 'error' raises. Default: 'drop'.
        bits (int | None): None returns what is stored (uint8, or uint16 for 16-bit files); 8 returns
            uint8, a 16-bit file converted exactly as :func:`to_uint8` does (for 8-bit pipelines).
            Default: None.

    Returns:
        np.ndarray: uint8 image (uint16 for 16-bit files unless bits=8).

    Raises:
        ImageError: Missing, empty, unreadable or corrupt file, an alpha channel under alpha='error', or
            pixels that bits=8 cannot convert (float TIFF).
    """
    path = Path(path)
    _check_options(flag, alpha, bits)
    if not path.exists():
        raise ImageError(f'{path}: no such file')
    if path.is_dir():
        raise ImageError(f'{path}: is a directory, expected an image file')
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(f'{path}: cannot read ({exc.strerror or exc})') from exc
    if not data:
        raise ImageError(f'{path}: empty file (0 bytes)')
    return decode_image(data, str(path), flag=flag, alpha=alpha, bits=bits)


def decode_image(data, name, flag='color', alpha='drop', bits=None):
    """Decode encoded image bytes (e.g. from LMDB); see :func:`read_image` for ``flag``, ``alpha``, ``bits``.

    Args:
        data (bytes | np.ndarray): The encoded file content.
        name (str): How to name the source in error messages (a path or an LMDB key).
        flag (str): 'color', 'gray' or 'unchanged'. Default: 'color'.
        alpha (str): 'drop' or 'error'. Default: 'drop'.
        bits (int | None): None keeps the stored depth, 8 converts to uint8. Default: None.

    Returns:
        np.ndarray: The decoded image.
    """
    _check_options(flag, alpha, bits)
    buf = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray, memoryview)) else data
    img = _quiet_decode(buf) if buf.size else None
    if img is None:
        raise ImageError(f'{name}: cannot decode image (corrupt, truncated or unsupported format)')
    img = _select_channels(img, name, flag, alpha)
    if bits == 8 and img.dtype != np.uint8:
        if img.dtype != np.uint16:
            raise ImageError(f'{name}: {img.dtype} pixels cannot be read with bits=8, expected uint8 or uint16')
        img = to_uint8(img)
    return img


_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def _quiet_decode(buf):
    """cv2.imdecode without OpenCV's own log lines on stderr, so that the caller's ImageError is the one
    line the user sees. A PNG without its IEND chunk (truncated) is not handed to libpng at all:
    libpng writes its own complaint to stderr, outside OpenCV's logging."""
    if buf[:8].tobytes() == _PNG_SIGNATURE and buf[-64:].tobytes().rfind(b'IEND') < 0:
        return None
    logging = cv2.utils.logging
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    finally:
        logging.setLogLevel(level)


def _select_channels(img, name, flag, alpha):
    """Apply the ``flag``/``alpha`` channel policy of :func:`read_image` to a decoded image."""
    if flag == 'unchanged':
        return img
    if img.dtype not in (np.uint8, np.uint16):
        raise ImageError(f"{name}: {img.dtype} pixels are not supported with flag='{flag}', use 'unchanged'")
    channels = 1 if img.ndim == 2 else img.shape[2]
    if channels == 4:
        if alpha == 'error':
            raise ImageError(f"{name}: has an alpha channel (alpha='error'); expected a 1- or 3-channel image")
        img = img[:, :, :3]
    elif channels == 1 and img.ndim == 3:
        img = img[:, :, 0]
    elif channels not in (1, 3):
        raise ImageError(f'{name}: {channels} channels, expected 1, 3 or 4')
    if flag == 'color' and img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if flag == 'gray' and img.ndim == 3:
        return cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_BGR2GRAY)
    return np.ascontiguousarray(img)


def encode_image(img, ext, params=None, name='image'):
    """Encode an image to the bytes of a file with extension ``ext`` (e.g. '.png').

    Args:
        img (np.ndarray): HW or HWC (1, 3 or 4 channels, BGR[A]) uint8 or uint16 image.
        ext (str): File extension that selects the codec, with the dot.
        params (list[int] | None): OpenCV ``imwrite`` flags, e.g. ``[cv2.IMWRITE_PNG_COMPRESSION, 3]``.
            Default: None (OpenCV's defaults).
        name (str): How to name the target in error messages. Default: 'image'.

    Returns:
        bytes: The encoded file content.
    """
    if not isinstance(img, np.ndarray):
        raise ImageError(f'{name}: expected a numpy array, got {type(img).__name__}')
    if img.dtype not in (np.uint8, np.uint16):
        raise ImageError(f'{name}: expected uint8 or uint16 pixels, got {img.dtype} (use float2uint8 first)')
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (1, 3, 4)) or 0 in img.shape:
        raise ImageError(f'{name}: expected an HW or HWC image with 1, 3 or 4 channels, got shape {img.shape}')
    try:
        ok, buf = cv2.imencode(ext, np.ascontiguousarray(img), list(params or []))
    except cv2.error as exc:
        raise ImageError(f"{name}: cannot encode as '{ext}' ({str(exc).strip().splitlines()[-1]})") from None
    if not ok:
        raise ImageError(f"{name}: OpenCV failed to encode as '{ext}'")
    return buf.tobytes()


def write_image(path, img, params=None):
    """Write an image atomically (temporary file in the same folder, then ``os.replace``).

    Args:
        path (str | Path): Target file; the extension selects the format. Parent folders are created.
        img (np.ndarray): HW or HWC (BGR[A]) uint8 or uint16 image.
        params (list[int] | None): OpenCV ``imwrite`` flags. Default: None.

    Raises:
        ImageError: Bad image, unknown extension, or a target that cannot be written.
    """
    path = Path(path)
    data = encode_image(img, path.suffix, params, name=str(path))
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        reason = f'{blocker} is a file, not a folder' if blocker else (exc.strerror or str(exc))
        raise ImageError(f'{path}: cannot write ({reason})') from exc


def list_images(folder, exts=IMAGE_EXTS):
    """Image files directly inside ``folder`` (not recursive), sorted by name.

    The extension match is case-insensitive; hidden files (names starting with '.') are skipped.

    Args:
        folder (str | Path): Folder to scan.
        exts (tuple[str]): Accepted extensions, with the dot. Default: png, jpg, jpeg, bmp, tif, tiff.

    Returns:
        list[Path]: The image paths.

    Raises:
        ImageError: The folder is missing, not a folder, or holds no matching image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageError(f'{folder}: no such folder' if not folder.exists() else f'{folder}: not a folder')
    exts = tuple(e.lower() for e in exts)
    paths = sorted(p for p in folder.iterdir()
                   if p.is_file() and not p.name.startswith('.') and p.suffix.lower() in exts)
    if not paths:
        raise ImageError(f'{folder}: no images with extensions {", ".join(exts)}')
    return paths


def img2float(img):
    """Convert a uint8 or uint16 image to float32 in [0, 1] (divides by 255 or 65535).

    Raises:
        ValueError: For any other dtype.
    """
    if img.dtype == np.uint8:
        return img.astype(np.float32) / np.float32(255.0)
    if img.dtype == np.uint16:
        return img.astype(np.float32) / np.float32(65535.0)
    raise ValueError(f'img2float: expected uint8 or uint16 pixels, got {img.dtype}')


def float2uint8(img):
    """Convert a float image in [0, 1] to uint8: ``round(clip(x * 255, 0, 255))``, halves rounded up.

    Rounding half up (like MATLAB's ``im2uint8`` for non-negative values) rather than numpy's
    half-to-even.
    """
    x = np.clip(np.asarray(img, dtype=np.float64) * 255.0, 0.0, 255.0)
    return np.floor(x + 0.5).astype(np.uint8)


def to_uint8(img):
    """Convert a uint8 or uint16 image to uint8; 16-bit values exactly, ``round(x * 255 / 65535)``.

    In integer arithmetic, ``(x * 255 + 32767) // 65535`` (halves rounded up; x * 255 / 65535 is
    x / 257, so 257 * k maps to k). A uint8 image is returned as it is.

    Raises:
        ValueError: For any other dtype (use :func:`float2uint8` for floats).
    """
    img = np.asarray(img)
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        return ((img.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    raise ValueError(f'to_uint8: expected uint8 or uint16 pixels, got {img.dtype} (use float2uint8 for floats)')


def _check_options(flag, alpha, bits=None):
    if flag not in _FLAGS:
        raise ValueError(f"flag must be one of {_FLAGS}, got '{flag}'")
    if alpha not in _ALPHA:
        raise ValueError(f"alpha must be one of {_ALPHA}, got '{alpha}'")
    if bits not in _BITS:
        raise ValueError(f'bits must be None (as stored) or 8, got {bits!r}')
