"""Image files in and out, the way OpenCV sees them: BGR, HWC, uint8 or uint16.

Every failure raises :class:`ImageError` with one line that names the file and the problem, so a CLI
can print it and exit. Writes are atomic and durable: a file goes to a hidden temporary file in the
target folder, is fsync'd and renamed into place, and the folder is fsync'd, so a crash (even
``kill -9`` or a power cut) never leaves a half-written file under the final name. Folders are built
the same way (:func:`building_dir`). EXIF orientation tags are ignored: pixels come back as they are
stored.

Leftovers of a killed process are named after its pid: ``.{name}.building-{pid}-{hex}`` and
``.{name}.old-{pid}-{hex}`` folders, ``.{name}.{pid}.{hex}.tmp`` files. They never stand under a final
name; :func:`remove_dead_builds` (run by every :func:`building_dir`) and :func:`remove_dead_temps`
remove those whose process is gone.
"""
import contextlib
import ctypes
import errno
import os
import re
import shutil
import uuid
from pathlib import Path

import cv2
import numpy as np

__all__ = ['ImageError', 'read_image', 'decode_image', 'write_image', 'encode_image', 'atomic_write_bytes',
           'building_dir', 'check_disjoint', 'remove_dead_builds', 'remove_dead_temps', 'fsync_dir', 'fsync_tree',
           'list_images', 'img2float', 'float2uint8', 'to_uint8', 'IMAGE_EXTS']

IMAGE_EXTS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')
_FLAGS = ('color', 'gray', 'unchanged')
_ALPHA = ('drop', 'error')
_BITS = (None, 8)
_AT_FDCWD = -100          # <fcntl.h>: paths relative to the current directory
_RENAME_NOREPLACE = 1     # <linux/fs.h>: fail with EEXIST instead of replacing
_RENAME_EXCHANGE = 2      # <linux/fs.h>: swap the two names atomically
_TEMP_NAME = re.compile(r'^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$')


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
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None
    if img is None:
        raise ImageError(f'{name}: cannot decode image (corrupt, truncated or unsupported format)')
    img = _select_channels(img, name, flag, alpha)
    if bits == 8 and img.dtype != np.uint8:
        if img.dtype != np.uint16:
            raise ImageError(f'{name}: {img.dtype} pixels cannot be read with bits=8, expected uint8 or uint16')
        img = to_uint8(img)
    return img


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


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` durably: temporary file in the same folder, fsync, ``os.replace``.

    The temporary file is ``.{name}.{pid}.{hex}.tmp`` (unique per call, so concurrent writers never
    share one); it is fsync'd before the rename and the folder is fsync'd after it, so after a crash
    the file is either the old one or the complete new one. A temporary file left by a killed process
    is harmless; :func:`remove_dead_temps` removes it. Parent folders are created. The final file
    gets the usual permissions (0666 minus the umask).

    Args:
        path (str | Path): Target file.
        data (bytes): Content.

    Raises:
        OSError: When the folder cannot be created or written; the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f'.{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp'
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def fsync_dir(path):
    """fsync a folder, so the names created, renamed or removed in it survive a crash.

    Filesystems that cannot fsync a folder (EINVAL, ENOTSUP) are skipped silently.

    Args:
        path (str | Path): The folder.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def fsync_tree(path):
    """fsync every regular file below ``path`` and every folder, ``path`` itself last.

    Symbolic links are not followed.

    Args:
        path (str | Path): A folder.
    """
    for root, _dirs, files in os.walk(path, topdown=False):
        for name in files:
            file = os.path.join(root, name)
            if os.path.islink(file) or not os.path.isfile(file):
                continue
            fd = os.open(file, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(root)


def _pid_alive(pid):
    """True unless process ``pid`` is known to be gone (a process we may not signal counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path):
    """Remove a file, a symbolic link or a whole folder."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def remove_dead_builds(target):
    """Remove the ``.{name}.building-{pid}-{hex}`` and ``.{name}.old-{pid}-{hex}`` siblings of ``target``
    whose process is gone (a build or an overwrite killed before it could clean up).

    Folders of live processes (or of processes this user may not signal) are left alone. A pid reused
    by an unrelated live process keeps its leftover until that process ends.

    Args:
        target (str | Path): The final folder name those leftovers belong to.

    Returns:
        list[Path]: The folders removed.
    """
    target = Path(target)
    pattern = re.compile(rf'^\.{re.escape(target.name)}\.(?:building|old)-(\d+)-[0-9a-f]+$')
    removed = []
    try:
        names = os.listdir(target.parent)
    except FileNotFoundError:
        return removed
    for name in sorted(names):
        match = pattern.match(name)
        if match and not _pid_alive(int(match.group(1))):
            path = target.parent / name
            try:
                _remove(path)
            except FileNotFoundError:      # another process cleaned it first
                continue
            removed.append(path)
    return removed


def remove_dead_temps(folder, name=None):
    """Remove the ``.{name}.{pid}.{hex}.tmp`` files of :func:`atomic_write_bytes` whose process is gone.

    Such a file is what a write killed before its rename leaves behind (e.g. an orphaned checkpoint);
    the final file is untouched by it. Temporary files of live processes are left alone.

    Args:
        folder (str | Path): The folder to clean (not recursive).
        name (str | None): Only the temporary files of this final file name. Default: None (all).

    Returns:
        list[Path]: The files removed.
    """
    folder = Path(folder)
    removed = []
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return removed
    for entry in sorted(names):
        match = _TEMP_NAME.match(entry)
        if not match or (name is not None and match.group('name') != name):
            continue
        if _pid_alive(int(match.group('pid'))):
            continue
        path = folder / entry
        if path.is_file() and not path.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


def check_disjoint(output, source, output_flag, source_flag):
    """Refuse an output folder that is, contains or lies inside a source folder.

    Both paths are resolved (symbolic links, '..') before comparing.

    Args:
        output (str | Path): The folder a tool will create or replace.
        source (str | Path): A folder it reads.
        output_flag (str): How the output is named on the command line, e.g. '--output_folder'.
        source_flag (str): How the source is named, e.g. '--src_folder'.

    Raises:
        ValueError: One line naming both flags and paths.
    """
    out, src = Path(output).resolve(), Path(source).resolve()
    if out == src:
        relation = 'is'
    elif src in out.parents:
        relation = 'lies inside'
    elif out in src.parents:
        relation = 'contains'
    else:
        return
    raise ValueError(f'{output_flag}={output} {relation} {source_flag}={source}; '
                     f'choose an output outside the source')


_RENAMEAT2 = []    # [function or None], looked up once


def _renameat2(src, dst, flags):
    """Linux ``renameat2(2)``; returns False where it is unavailable (no libc symbol, ENOSYS, EINVAL).

    EINVAL is what kernels and filesystems without the flag (e.g. some network filesystems) return.
    """
    if not _RENAMEAT2:
        try:
            func = ctypes.CDLL(None, use_errno=True).renameat2
            func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            func.restype = ctypes.c_int
        except (AttributeError, OSError):
            func = None
        _RENAMEAT2.append(func)
    func = _RENAMEAT2[0]
    if func is None:
        return False
    if func(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL):
        return False
    raise OSError(err, os.strerror(err), str(src), None, str(dst))


def _rename_noreplace(src, dst):
    """Rename ``src`` to ``dst``, raising FileExistsError if ``dst`` exists (atomically where possible).

    Without renameat2 the check and the rename are two steps (a race only with another writer).
    """
    if _renameat2(src, dst, _RENAME_NOREPLACE):
        return
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dst))
    os.rename(src, dst)


def _exchange(new, target):
    """Put folder ``new`` at ``target`` and return where the previous ``target`` now is.

    With Linux ``renameat2(RENAME_EXCHANGE)`` the two names are swapped in one step, so ``target``
    names the complete old or the complete new folder at every moment; the old one ends up at ``new``'s
    name. Where renameat2 is unavailable the fallback renames ``target`` away to a
    ``.{name}.old-{pid}-{hex}`` sibling and ``new`` into place: a crash between the two renames leaves
    nothing at ``target`` (the old folder survives under the ``.old-`` name until the next build).
    """
    if _renameat2(new, target, _RENAME_EXCHANGE):
        return Path(new)
    old = target.parent / f'.{target.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}'
    os.rename(target, old)
    os.rename(new, target)
    return old


def _check_replaceable(target, overwrite, marker, when):
    """Raise FileExistsError unless ``target`` is absent or may be replaced."""
    if not (target.exists() or target.is_symlink()):
        return
    if not overwrite:
        raise FileExistsError(f'{target}: {when} (use overwrite to replace it)')
    if marker is not None and not (target.is_dir() and (target / marker).is_file()):
        kind = '' if target.is_dir() else 'is a file, '
        raise FileExistsError(f'{target}: {kind}not built by this tool: no {marker} in it; '
                              f'remove it yourself or choose another output')


@contextlib.contextmanager
def building_dir(target, overwrite=False, marker=None):
    """Build a folder atomically: yield a hidden temporary folder next to ``target``, rename it at the end.

    First the leftovers of killed builds of ``target`` are removed (:func:`remove_dead_builds`). The
    body fills ``.{name}.building-{pid}-{hex}``; when it returns, every file and folder in it is
    fsync'd, it is renamed to ``target`` and the parent folder is fsync'd. If the body raises (or the
    process dies), ``target`` is untouched and no half-built folder appears under its name.

    With ``overwrite=True`` an existing ``target`` is replaced only after the new one is complete, by
    swapping the two names in one step (Linux ``renameat2(RENAME_EXCHANGE)``), then the old folder is
    removed: ``target`` always names the complete old or the complete new folder. Where renameat2 is
    unavailable the old folder is renamed away first, leaving a moment with nothing at ``target``.

    Args:
        target (str | Path): The folder to create.
        overwrite (bool): Replace an existing ``target``. Default: False.
        marker (str | None): File name that marks a folder this tool built (e.g. 'meta.json'); with
            ``overwrite`` an existing ``target`` is replaced only if it is a folder holding it.
            Default: None (any existing ``target`` may be replaced).

    Yields:
        Path: The temporary folder to fill.

    Raises:
        FileExistsError: ``target`` exists and ``overwrite`` is False, or it lacks ``marker`` (checked
            before and after building).
    """
    target = Path(target)
    _check_replaceable(target, overwrite, marker, 'already exists')
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_builds(target)
    tmp = target.parent / f'.{target.name}.building-{os.getpid()}-{uuid.uuid4().hex[:8]}'
    tmp.mkdir()
    try:
        yield tmp
        fsync_tree(tmp)
        try:
            _rename_noreplace(tmp, target)
            old = None
        except FileExistsError:
            _check_replaceable(target, overwrite, marker, 'appeared while building')
            old = _exchange(tmp, target)
        fsync_dir(target.parent)
        if old is not None:
            _remove(old)
    finally:
        if tmp.is_symlink() or tmp.is_file():      # an exchanged-away old target that was not a folder
            tmp.unlink()
        elif tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


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
