"""Image LMDB databases in BasicSR's layout: PNG-encoded values, ``meta_info.txt`` beside ``data.mdb``.

A database is a folder ``name.lmdb/`` holding ``data.mdb``, ``lock.mdb`` and ``meta_info.txt`` with
one line per image, ``{key}.png ({h},{w},{c}) {compress_level}``, so BasicSR-based code (e.g. LPTN)
reads it unchanged. Build one from a folder with::

    python -m common.lmdb_io --input datasets/FiveK/FiveK_480p/train/A --output datasets/FiveK/train_A.lmdb
"""
import math
import os
import re
import sys
from pathlib import Path

import cv2
import lmdb
from tqdm import tqdm

from common.cli import FlagParser, run_cli
from common.fileio import atomic_write_bytes, building_dir, check_disjoint
from common.imgio import decode_image, encode_image, list_images, read_image

__all__ = ['make_lmdb', 'LmdbImageReader', 'LmdbKeyError', 'read_meta_info']

_BAD_KEY = re.compile(r'[\s.]')
_META_LINE = re.compile(r'^(\S+)\.png \((\d+),(\d+),(\d+)\)(?: (\d+))?$')
_MIN_MAP = 1 << 20
_ENVS = {}   # (st_dev, st_ino) of data.mdb -> (pid, read-only lmdb.Environment)


class LmdbKeyError(KeyError):
    """A key that is not in the database; the message names the key and the database."""

    def __str__(self):
        return str(self.args[0])


def _estimate_bytes(sizes, key_bytes, page_size):
    """Room for values of ``sizes`` bytes: whole overflow pages per value, node overhead, 1.5x margin."""
    pages = sum(math.ceil((s + 64) / page_size) for s in sizes)
    return int(1.5 * (pages * page_size + key_bytes + 64 * len(sizes))) + _MIN_MAP


def make_lmdb(img_paths, keys, lmdb_path, compress_level=1, map_size=None, overwrite=False, batch=256):
    """Store images as PNG bytes in a new LMDB folder, with a BasicSR ``meta_info.txt``.

    Images are read unchanged (gray stays 1 channel, 16-bit stays 16-bit) and re-encoded as PNG.
    The database is built with :func:`common.fileio.building_dir`: in a hidden temporary folder next to
    ``lmdb_path`` (leftovers of killed builds are removed first), synced (``env.sync(True)``, then every
    file fsync'd) and renamed when complete, so an interrupted or killed run leaves nothing under the
    final name. An overwrite swaps the new folder in (the old one stays complete until then) and
    replaces only a folder holding ``meta_info.txt``, i.e. an image LMDB.

    Args:
        img_paths (list[str | Path]): Image files.
        keys (list[str]): One key per image, e.g. the file stem; no whitespace or dots (BasicSR splits
            meta_info names at the first dot).
        lmdb_path (str | Path): Folder to create; must end with '.lmdb'.
        compress_level (int): PNG compression 0..9. Default: 1.
        map_size (int | None): LMDB map size in bytes. Default: None, grown while writing to 1.5x the
            page-rounded sum of all encoded sizes (so it fits whatever the image sizes are).
        overwrite (bool): Replace an existing database. Default: False.
        batch (int): Images per write transaction. Default: 256.

    Returns:
        Path: ``lmdb_path``.

    Raises:
        ValueError: Bad keys or path, or an explicit ``map_size`` that is too small.
        ImageError: An image that cannot be read.
        FileExistsError: ``lmdb_path`` exists and ``overwrite`` is False, or it is not an image LMDB
            (no ``meta_info.txt``).
    """
    img_paths, keys, lmdb_path = [Path(p) for p in img_paths], [str(k) for k in keys], Path(lmdb_path)
    _check_inputs(img_paths, keys, lmdb_path, compress_level)
    params = [cv2.IMWRITE_PNG_COMPRESSION, int(compress_level)]
    meta, sizes, key_bytes = [], [], 0
    with building_dir(lmdb_path, overwrite=overwrite, marker='meta_info.txt') as tmp:
        env = lmdb.open(str(tmp), map_size=map_size or _MIN_MAP, subdir=True)
        page_size = env.stat()['psize']
        try:
            pending = []
            for path, key in tqdm(list(zip(img_paths, keys)), desc=f'lmdb {lmdb_path.name}', unit='img'):
                img = read_image(path, flag='unchanged')
                buf = encode_image(img, '.png', params, name=str(path))
                h, w = img.shape[:2]
                meta.append(f'{key}.png ({h},{w},{1 if img.ndim == 2 else img.shape[2]}) {compress_level}')
                pending.append((key.encode('ascii'), buf))
                sizes.append(len(buf))
                key_bytes += len(key)
                if len(pending) >= batch:
                    _commit(env, pending, map_size, _estimate_bytes(sizes, key_bytes, page_size), lmdb_path)
                    pending = []
            _commit(env, pending, map_size, _estimate_bytes(sizes, key_bytes, page_size), lmdb_path)
            env.sync(True)
        finally:
            env.close()
        atomic_write_bytes(tmp / 'meta_info.txt', ''.join(line + '\n' for line in meta).encode('ascii'))
    return lmdb_path


def _check_inputs(img_paths, keys, lmdb_path, compress_level):
    if lmdb_path.suffix != '.lmdb':
        raise ValueError(f"{lmdb_path}: an LMDB folder name must end with '.lmdb'")
    if len(img_paths) != len(keys):
        raise ValueError(f'make_lmdb: {len(img_paths)} images but {len(keys)} keys')
    if not img_paths:
        raise ValueError(f'{lmdb_path}: no images to store')
    if not 0 <= int(compress_level) <= 9:
        raise ValueError(f'compress_level must be in 0..9, got {compress_level}')
    seen = set()
    for key in keys:
        if not key or not key.isascii() or _BAD_KEY.search(key):
            raise ValueError(f"{lmdb_path}: bad key '{key}' (need non-empty ASCII without whitespace or dots)")
        if key in seen:
            raise ValueError(f"{lmdb_path}: duplicate key '{key}'")
        seen.add(key)


def _commit(env, pending, fixed_map_size, needed, lmdb_path):
    """Write ``pending`` (key, value) pairs in one transaction, growing the map first unless it is fixed."""
    if not pending:
        return
    if fixed_map_size is None and needed > env.info()['map_size']:
        env.set_mapsize(needed)
    try:
        with env.begin(write=True) as txn:
            for key, value in pending:
                txn.put(key, value)
    except lmdb.MapFullError:
        raise ValueError(f'{lmdb_path}: map_size {fixed_map_size} bytes is too small for these images '
                         f'(leave map_size unset to size it automatically)') from None


def read_meta_info(lmdb_path):
    """Parse ``meta_info.txt`` of a database.

    Returns:
        dict[str, tuple[int, int, int]]: key -> (h, w, c), in file order.
    """
    path = Path(lmdb_path) / 'meta_info.txt'
    shapes = {}
    for number, line in enumerate(path.read_text(encoding='ascii').splitlines(), start=1):
        if not line.strip():
            continue
        match = _META_LINE.match(line.strip())
        if not match:
            raise ValueError(f"{path}:{number}: expected '<key>.png (h,w,c) <level>', got '{line}'")
        shapes[match.group(1)] = tuple(int(match.group(i)) for i in (2, 3, 4))
    return shapes


class LmdbImageReader:
    """Read images by key from a database made by :func:`make_lmdb` (or by BasicSR).

    The LMDB environment is opened lazily, read-only, without locking or readahead, on the first read
    in each process, and is not part of the object's state: the reader pickles (before or after use)
    into DataLoader workers, and each worker opens its own environment.

    Args:
        lmdb_path (str | Path): The ``.lmdb`` folder.

    Attributes:
        keys (list[str]): Keys in ``meta_info.txt`` order.
        shapes (dict[str, tuple[int, int, int]]): key -> (h, w, c) as stored.
    """

    def __init__(self, lmdb_path):
        self.lmdb_path = Path(lmdb_path)
        for name in ('data.mdb', 'meta_info.txt'):
            if not (self.lmdb_path / name).is_file():
                raise FileNotFoundError(f'{self.lmdb_path}: not an image LMDB (no {name})')
        self.shapes = read_meta_info(self.lmdb_path)
        self.keys = list(self.shapes)
        data = (self.lmdb_path / 'data.mdb').stat()
        self._identity = (data.st_dev, data.st_ino)   # these files, even if the path is rebuilt later
        self._check_database()

    def _check_database(self):
        """Open the database once now, so a damaged ``data.mdb`` or one that lacks images listed in
        ``meta_info.txt`` is refused here, in one line, rather than deep in a training step. An
        environment this check opened is closed again (nothing is inherited by forked workers)."""
        opened_here = self._identity not in _ENVS
        try:
            entries = self._environment().stat()['entries']
        finally:
            if opened_here:
                self.close()
        if entries < len(self.keys):
            raise ValueError(f'{self.lmdb_path}: data.mdb holds {entries} images but meta_info.txt lists '
                             f'{len(self.keys)}; rebuild the database')

    def _environment(self):
        """This process's read-only environment for the database, opened on first use.

        Environments are shared by all readers of the same files in a process (LMDB forbids opening
        one twice); one inherited through ``fork`` is closed and reopened in the child.
        """
        pid, env = _ENVS.get(self._identity, (None, None))
        if env is not None and pid != os.getpid():
            env.close()            # inherited from the parent: drop it, never read through it
            env = None
        if env is None:
            try:
                env = lmdb.open(str(self.lmdb_path), readonly=True, lock=False, readahead=False, meminit=False)
            except lmdb.Error as err:
                raise ValueError(f'{self.lmdb_path}: data.mdb is not a readable LMDB database ({err})') from None
            _ENVS[self._identity] = (os.getpid(), env)
        return env

    def read_bytes(self, key):
        """The stored (PNG) bytes of ``key``."""
        try:
            with self._environment().begin(write=False) as txn:
                value = txn.get(str(key).encode('ascii'))
        except lmdb.Error as err:
            raise ValueError(f"{self.lmdb_path}: cannot read key '{key}' from data.mdb ({err})") from None
        if value is None:
            raise LmdbKeyError(f"key '{key}' not found in {self.lmdb_path}")
        return value

    def read(self, key, flag='color', alpha='drop'):
        """Decode the image of ``key``; ``flag``/``alpha`` as in :func:`common.imgio.read_image`.

        Returns:
            np.ndarray: BGR uint8 (or uint16) image, HWC for the default flag='color'.
        """
        return decode_image(self.read_bytes(key), f'{self.lmdb_path}[{key}]', flag=flag, alpha=alpha)

    def close(self):
        """Close the environment of these files in this process (any reader reopens it on its next read)."""
        pid, env = _ENVS.pop(self._identity, (None, None))
        if env is not None and pid == os.getpid():
            env.close()

    def __len__(self):
        return len(self.keys)

    def __contains__(self, key):
        return key in self.shapes

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f'LmdbImageReader({str(self.lmdb_path)!r}, {len(self)} images)'


def _main(argv):
    parser = FlagParser(prog='python -m common.lmdb_io',
                        description='Pack a folder of images into a BasicSR-style LMDB '
                                    '(keys are file names without extension).')
    parser.add_argument('--input', required=True, help='folder of images (png, jpg, bmp, tif)')
    parser.add_argument('--output', required=True,
                        help="database folder to create, ending in '.lmdb', outside --input")
    parser.add_argument('--compress_level', type=int, default=1, help='PNG compression 0..9 (default: 1)')
    parser.add_argument('--map_size', type=int, default=None,
                        help='LMDB map size in bytes (default: sized from the encoded images)')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --output')
    args = parser.parse_args(argv)
    if args.map_size is not None and args.map_size < 1:
        parser.error(f'--map_size must be a positive number of bytes, got {args.map_size}')
    check_disjoint(args.output, args.input, '--output', '--input')
    paths = list_images(args.input)
    make_lmdb(paths, [p.stem for p in paths], args.output, args.compress_level, args.map_size, args.overwrite)
    print(f'wrote {len(paths)} images to {args.output}')
    return 0


def main(argv=None):
    """Command line entry: a folder of images -> an LMDB keyed by file stem; bad input is one ``error:``
    line and exit code 2."""
    return run_cli(_main, argv)


if __name__ == '__main__':
    sys.exit(main())
