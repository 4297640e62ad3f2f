"""Fixtures for the PyTorch LPTN tests: the model folder's modules and tiny data.

pytorch/lptn keeps the reference's module names (``models``, ``data``, ``utils``, ``train``, ``test``,
``test_speed``, ...). This group of tests runs in its own interpreter (``tools/run_tests.py``), so the
model folder simply goes first on ``sys.path`` here, as ``python3 train.py`` puts it; the data
preparation scripts import as ``scripts.data_preparation.*`` from there. ``torchzoo`` and ``common``
are installed packages (imported before torch, torchzoo sets the OpenMP wait policy for this process
as it does for the entry points).
"""
import importlib
import sys
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torchzoo  # noqa: F401  (before torch: the OpenMP wait policy)

from common import paths

LPTN_DIR = paths.REPO_ROOT / 'pytorch' / 'lptn'
sys.path.insert(0, str(LPTN_DIR))
MODULES = ('models', 'models.archs', 'models.archs.LPTN_arch', 'models.archs.discriminator_arch', 'models.losses',
           'models.lptn_model', 'models.lptn_test_model', 'data', 'utils.options', 'train', 'test', 'test_speed',
           'export', 'bench', 'scripts.data_preparation.create_lmdb', 'scripts.data_preparation.download_datasets')
TRAIN_YML = LPTN_DIR / 'options' / 'train' / 'LPTN' / 'train_FiveK.yml'
TEST_YML = LPTN_DIR / 'options' / 'test' / 'LPTN' / 'test_FiveK.yml'
SPEED_YML = LPTN_DIR / 'options' / 'test' / 'LPTN' / 'test_speed_FiveK.yml'


@pytest.fixture(scope='session')
def lptn():
    """Namespace of the folder's modules by their last name: lptn.LPTN_arch, lptn.lptn_model, lptn.options,
    lptn.train, lptn.create_lmdb, ... and lptn.precision (torchzoo.precision)."""
    import torch
    torch.set_num_threads(1)
    ns = SimpleNamespace(**{name.split('.')[-1]: importlib.import_module(name) for name in MODULES})
    ns.precision = importlib.import_module('torchzoo.precision')
    return ns


@pytest.fixture(scope='session')
def tiny_fivek(tmp_path_factory):
    """A tiny FiveK_480p layout (crops of the sample photos): train 3 pairs 72x88, test 2 pairs 48x56,
    plus its four LMDBs. Returns a namespace: root (holding FiveK_480p/ and the .lmdb folders)."""
    from common.lmdb_io import make_lmdb
    from common.sample_data import ensure_sample_data
    ensure_sample_data(paths.SAMPLE_DATA_DIR)
    src = paths.SAMPLE_DATA_DIR / 'FiveK' / 'FiveK_480p'
    root = tmp_path_factory.mktemp('fivek')
    for split, (h, w), n in (('train', (72, 88), 3), ('test', (48, 56), 2)):
        names = sorted(p.name for p in (src / split / 'A').glob('*.jpg'))[:n]
        for side in ('A', 'B'):
            out = root / 'FiveK_480p' / split / side
            out.mkdir(parents=True)
            for name in names:
                img = cv2.imread(str(src / split / side / name))
                cv2.imwrite(str(out / name.replace('.jpg', '.png')), np.ascontiguousarray(img[100:100 + h, 120:120 + w]))
    for split, side, name in (('train', 'A', 'train_source'), ('train', 'B', 'train_target'),
                              ('test', 'A', 'test_source'), ('test', 'B', 'test_target')):
        files = sorted((root / 'FiveK_480p' / split / side).glob('*.png'))
        make_lmdb(files, [f.stem for f in files], root / f'FiveK_{name}.lmdb')
    return SimpleNamespace(root=root)


def data_overrides(root, backend='lmdb'):
    """--force_yml values pointing every dataset at ``root`` (the tiny layout)."""
    if backend == 'lmdb':
        roots = {'train': ('FiveK_train_target.lmdb', 'FiveK_train_source.lmdb'),
                 'val': ('FiveK_test_target.lmdb', 'FiveK_test_source.lmdb')}
    else:
        roots = {'train': ('FiveK_480p/train/B', 'FiveK_480p/train/A'), 'val': ('FiveK_480p/test/B', 'FiveK_480p/test/A')}
    out = []
    for phase, (gt, lq) in roots.items():
        out += [f'datasets.{phase}.dataroot_gt={root / gt}', f'datasets.{phase}.dataroot_lq={root / lq}',
                f'datasets.{phase}.io_backend.type={backend}']
    return out


def fast_overrides(root, backend='lmdb', iters=4):
    """A tiny CPU training: crops 32, batch 2, ``iters`` iterations, no TensorBoard, no strips."""
    return ['num_gpu=0', 'name=tiny'] + data_overrides(root, backend) + [
        'datasets.train.gt_size=32', 'datasets.train.batch_size_per_gpu=2', 'datasets.train.num_worker_per_gpu=0',
        'datasets.train.dataset_enlarge_ratio=2', f'train.total_iter={iters}', 'logger.print_freq=1',
        f'val.val_freq={iters}', f'logger.save_checkpoint_freq={iters}', 'logger.use_tb_logger=false',
        'val.save_img=false', 'train.optim_g.lr=0.0005', 'train.optim_d.lr=0.0005']
