"""Pack FiveK_480p into the four LMDBs the options read (the reference's ``create_lmdb.py``).

``<root>/FiveK_480p/train/A`` -> ``<root>/FiveK_train_source.lmdb``, ``train/B`` -> ``FiveK_train_target.lmdb``,
``test/A`` -> ``FiveK_test_source.lmdb``, ``test/B`` -> ``FiveK_test_target.lmdb`` (``<root>`` default
``datasets/FiveK``). Images (jpg, png, ...) are stored PNG-encoded (compress level 1), keys are the file
names without extension, ``meta_info.txt`` beside each database: ``common.lmdb_io``, which builds each
database in a hidden folder and renames it when complete, so a killed run leaves nothing half-written
under a final name. An existing database is kept (as the reference) unless ``--overwrite``.

Usage:
    python3 scripts/data_preparation/create_lmdb.py [--root datasets/FiveK] [--overwrite]

It needs only the installed ``common`` and ``torchzoo``, so it runs from any folder.
"""
from pathlib import Path

from common.imgio import list_images
from common.lmdb_io import make_lmdb
from torchzoo.cli import Parser, run_cli, str2bool

LAYOUT = [('train/A', 'FiveK_train_source.lmdb'), ('train/B', 'FiveK_train_target.lmdb'),
          ('test/A', 'FiveK_test_source.lmdb'), ('test/B', 'FiveK_test_target.lmdb')]


def create_lmdbs(root, overwrite=False, compress_level=1):
    """Build the four databases under ``root``; returns ``{lmdb path: image count}`` (skipped ones: None)."""
    root = Path(root)
    jobs = []
    for sub, name in LAYOUT:
        folder = root / 'FiveK_480p' / sub
        paths = list_images(folder)              # every folder is checked before anything is written
        keys = [p.stem for p in paths]
        bad = [k for k in keys if '.' in k or ' ' in k]
        if bad:
            raise ValueError(f'{folder}: file names with dots or spaces cannot be LMDB keys: {bad[:3]}')
        jobs.append((paths, keys, root / name))
    done = {}
    for paths, keys, target in jobs:
        if target.exists() and not overwrite:
            print(f'{target}: exists, kept (pass --overwrite to rebuild it)')
            done[str(target)] = None
            continue
        make_lmdb(paths, keys, target, compress_level=compress_level, overwrite=overwrite)
        print(f'{target}: {len(paths)} images')
        done[str(target)] = len(paths)
    return done


def main(argv=None):
    p = Parser(description=__doc__.split('\n\n')[0], prog='create_lmdb.py')
    p.add_argument('--root', default='datasets/FiveK', help='folder holding FiveK_480p/{train,test}/{A,B}')
    p.add_argument('--overwrite', type=str2bool, nargs='?', const=True, default=False, help='rebuild existing LMDBs')
    p.add_argument('--compress_level', type=int, default=1, help='PNG compression 0..9')
    args = p.parse_args(argv)
    if not 0 <= args.compress_level <= 9:                     # the flags before the folders
        raise ValueError(f'--compress_level={args.compress_level}: PNG compression is 0..9')
    create_lmdbs(args.root, args.overwrite, args.compress_level)


if __name__ == '__main__':
    run_cli(main)
