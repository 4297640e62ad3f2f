"""Child process of test_kill_safety.py: runs one write and blocks at a chosen point until SIGKILLed.

    python tests/common/kill_target.py <point> <target> [<image> ...]

The hook for ``point`` is injected by patching this process only; when it is reached the child prints
``READY <point>`` on stdout and sleeps, and the test sends SIGKILL. Points:

    lmdb-writing    make_lmdb(<images> -> <target>, overwrite=True, batch=1): two images committed,
                    blocked while encoding the third
    lmdb-complete   make_lmdb: the database complete and fsync'd, blocked just before the rename/swap
    lmdb-swapped    make_lmdb over an existing <target>: the swap done, blocked before the old folder
                    is removed
    lmdb-fallback   as lmdb-swapped without renameat2: the old folder renamed away, blocked before the
                    new one is renamed in
    record-before   save_record(<target>): temporary file written, blocked before os.replace
    record-after    save_record(<target>): os.replace done, blocked before the folder fsync

Keys of the new database are n0, n1, ...; the new record has model 'new'. If nobody kills it within
60 s the child exits with status 3.
"""
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from common import fileio, lmdb_io, records  # noqa: E402


def block(point):
    """Announce the point and wait for the SIGKILL."""
    print(f'READY {point}', flush=True)
    time.sleep(60)
    sys.exit(3)


def after(func, point):
    """``func`` that blocks after it has run."""
    def wrapper(*args, **kwargs):
        result = func(*args, **kwargs)
        block(point)
        return result
    return wrapper


def before(func, point, calls=1):
    """``func`` that blocks before its ``calls``-th call."""
    count = [0]

    def wrapper(*args, **kwargs):
        count[0] += 1
        if count[0] == calls:
            block(point)
        return func(*args, **kwargs)
    return wrapper


def main(point, target, *images):
    if point.startswith('lmdb-'):
        if point == 'lmdb-writing':
            lmdb_io.encode_image = before(lmdb_io.encode_image, point, calls=3)
        elif point == 'lmdb-complete':
            fileio._rename_noreplace = before(fileio._rename_noreplace, point)
        elif point == 'lmdb-swapped':
            fileio._exchange = after(fileio._exchange, point)
        elif point == 'lmdb-fallback':
            fileio._renameat2 = lambda src, dst, flags: False
            real_exchange, real_rename, exchanging = fileio._exchange, os.rename, []

            def exchange(*args):
                exchanging.append(True)
                return real_exchange(*args)
            fileio._exchange = exchange
            os.rename = lambda *args: (real_rename(*args), exchanging and block(point))[0]
        else:
            sys.exit(f'unknown point {point}')
        lmdb_io.make_lmdb(images, [f'n{i}' for i in range(len(images))], target, overwrite=True, batch=1)
    elif point.startswith('record-'):
        if point == 'record-before':
            os.replace = before(os.replace, point)
        elif point == 'record-after':
            os.replace = after(os.replace, point)
        else:
            sys.exit(f'unknown point {point}')
        record = records.new_record('new', 'none', '', 'bench', 'kill test', config={'n': 1})
        records.save_record(record, target)
    else:
        sys.exit(f'unknown point {point}')
    sys.exit(4)   # finished without reaching the point


if __name__ == '__main__':
    main(*sys.argv[1:])
