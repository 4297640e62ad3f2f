"""Put FiveK_480p in place (the reference's ``download_datasets.py``, which fetched ``FiveK.zip`` from Google Drive).

This machine cannot download it. Get ``FiveK.zip`` (the authors' Google Drive file
``1oAORKd-TPnPwZvhcnEEJqc1ogT7KgFtx``, see the README) elsewhere, then pass it, or an unpacked folder
holding ``FiveK_480p/{train,test}/{A,B}`` (or those folders themselves), with ``--source``: it is
checked and unpacked or copied to ``<root>/FiveK_480p`` (default ``datasets/FiveK``), atomically
(a hidden folder renamed when complete). Without ``--source`` the script says what to pass and exits 2.
``make data`` builds a small stand-in with this layout (``datasets/sample/FiveK``).

Usage:
    python3 scripts/data_preparation/download_datasets.py --source /data/FiveK.zip
    python3 scripts/data_preparation/download_datasets.py --source /data/FiveK

It needs only the installed ``common`` and ``torchzoo``, so it runs from any folder.
"""
import shutil
import zipfile
from pathlib import Path

from common.fileio import building_dir, check_disjoint
from common.imgio import list_images
from torchzoo.cli import Parser, run_cli, str2bool

GDRIVE_ID = '1oAORKd-TPnPwZvhcnEEJqc1ogT7KgFtx'
SPLITS = ('train/A', 'train/B', 'test/A', 'test/B')


def _find_480p(folder):
    """The folder that holds train/A ... test/B inside ``folder`` (itself, FiveK_480p/, or FiveK/FiveK_480p/)."""
    for cand in (folder, folder / 'FiveK_480p', folder / 'FiveK' / 'FiveK_480p'):
        if all((cand / s).is_dir() for s in SPLITS):
            return cand
    raise ValueError(f'--source={folder}: no FiveK_480p layout (train/A, train/B, test/A, test/B) in it')


def install(source, root, overwrite=False):
    """Unpack or copy ``source`` to ``<root>/FiveK_480p``; returns that folder."""
    source, target = Path(source), Path(root) / 'FiveK_480p'
    if not source.exists():
        raise FileNotFoundError(f'--source={source}: no such file or folder')
    if target.exists() and not overwrite:
        raise FileExistsError(f'{target}: exists; pass --overwrite to replace it')
    found = None
    if source.is_dir():
        found = _find_480p(source)
        check_disjoint(target, found, 'the output', '--source')
    elif not zipfile.is_zipfile(source):
        raise ValueError(f'--source={source}: not a zip archive (expected FiveK.zip)')
    with building_dir(target, overwrite=overwrite) as tmp:
        if found is None:
            with zipfile.ZipFile(source) as archive:
                archive.extractall(tmp / 'unpacked')
            found = _find_480p(tmp / 'unpacked')
            for split in SPLITS:
                shutil.move(str(found / split), str(tmp / split))
            shutil.rmtree(tmp / 'unpacked')
        else:
            for split in SPLITS:
                shutil.copytree(found / split, tmp / split)
        for split in SPLITS:
            list_images(tmp / split)                    # every split must hold images
    return target


def main(argv=None):
    p = Parser(description=__doc__.split('\n\n')[0], prog='download_datasets.py')
    p.add_argument('--source', default='', help='FiveK.zip or a folder with the FiveK_480p layout')
    p.add_argument('--root', default='datasets/FiveK', help='where FiveK_480p goes')
    p.add_argument('--overwrite', type=str2bool, nargs='?', const=True, default=False, help='replace an existing copy')
    args = p.parse_args(argv)
    if not args.source:
        raise ValueError(f'cannot download here: get FiveK.zip (Google Drive id {GDRIVE_ID}) and pass it, or a folder '
                         f'holding FiveK_480p/{{train,test}}/{{A,B}}, with --source=PATH '
                         f'(it goes to {Path(args.root) / "FiveK_480p"})')
    target = install(args.source, args.root, args.overwrite)
    print(f'{target}: FiveK_480p in place; next: python3 scripts/data_preparation/create_lmdb.py --root {args.root}')


if __name__ == '__main__':
    run_cli(main)
