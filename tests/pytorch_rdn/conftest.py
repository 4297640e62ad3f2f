"""Fixtures for the PyTorch RDN tests: the model folder's modules and tiny data.

pytorch/rdn keeps the reference port's flat module names (``model``, ``dataset``, ``utils``, ``train``,
...). This group of tests runs in its own interpreter (``tools/run_tests.py``), so the model folder
simply goes first on ``sys.path`` here, as ``python3 train.py`` puts it, and the modules import as
they do for the scripts; ``torchzoo`` and ``common`` are installed packages (imported before torch,
torchzoo sets the OpenMP wait policy for this process as it does for the entry points).
"""
import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torchzoo  # noqa: F401  (before torch: the OpenMP wait policy)

from common import paths

RDN_DIR = paths.REPO_ROOT / 'pytorch' / 'rdn'
sys.path.insert(0, str(RDN_DIR))


@pytest.fixture(scope='session')
def rdn():
    """Namespace of the model folder's modules: rdn.rdn (model.rdn), rdn.dataset, rdn.utils, rdn.train, ..."""
    import torch

    import bench
    import dataset
    import export
    import inference
    import train
    import utils
    from model import rdn as network
    from torchzoo import checkpoint, cli, device, precision, trainlog
    torch.set_num_threads(1)
    return SimpleNamespace(rdn=network, dataset=dataset, utils=utils, train=train, inference=inference, export=export,
                           bench=bench, torchzoo=SimpleNamespace(cli=cli, device=device, precision=precision,
                                                                 checkpoint=checkpoint, trainlog=trainlog))


def _crop(src, h, w, y=40, x=60):
    img = cv2.imread(str(src))
    return np.ascontiguousarray(img[y:y + h, x:x + w])


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory):
    """Small real-photo data in every layout RDN reads (crops of the sample photos).

    Returns a namespace: ``ref`` (reference layout: train/ with 3 HR images, test/ with 2),
    ``div2k`` (DIV2K_train_HR + DIV2K_train_LR_bicubic/X2, X4), ``set5`` (Set5 layout, x2/x4 with LR).
    """
    from common.data import bicubic_lr
    from common.sample_data import ensure_sample_data
    ensure_sample_data(paths.SAMPLE_DATA_DIR)
    train_src = sorted((paths.SAMPLE_DATA_DIR / 'DIV2K' / 'DIV2K_train_HR').glob('*.png'))
    test_src = sorted((paths.SAMPLE_DATA_DIR / 'benchmark' / 'SampleTest' / 'original').glob('*.png'))
    root = tmp_path_factory.mktemp('rdn_data')
    ref, div2k, set5 = root / 'ref', root / 'div2k', root / 'set5'
    sizes = [(64, 80), (72, 64), (64, 64)]
    for i, (src, (h, w)) in enumerate(zip(train_src[2:5], sizes), start=1):
        img = _crop(src, h, w)
        for folder in (ref / 'train', div2k / 'DIV2K_train_HR'):
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / f'{i:04d}.png'), img)
        for s in (2, 4):
            lr_dir = div2k / 'DIV2K_train_LR_bicubic' / f'X{s}'
            lr_dir.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(lr_dir / f'{i:04d}x{s}.png'), bicubic_lr(img, s))
    for src, (h, w) in zip(test_src[:2], [(48, 56), (44, 52)]):
        img = _crop(src, h, w, y=100, x=120)
        (ref / 'test').mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(ref / 'test' / f'{src.stem}.png'), img)
        for s in (2, 4):
            hr = img[:h - h % s, :w - w % s]
            for sub, name, out in (('HR', 'HR', hr), ('LR_bicubic', 'LRBI', bicubic_lr(hr, s))):
                (set5 / sub / f'x{s}').mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(set5 / sub / f'x{s}' / f'{src.stem}_{name}_x{s}.png'), out)
    return SimpleNamespace(root=root, ref=ref, div2k=div2k, set5=set5)


@pytest.fixture(scope='session')
def fast_flags(tiny_data):
    """train.py flags for a tiny, fast CPU run on the reference-layout data (add --output_path)."""
    return ['--preset=bench', f'--datapath={tiny_data.ref}', '--upscale_factor=4', '--batchSize=2',
            '--patch_size=32', '--threads=0', '--tensorboard=False', '--device=cpu', '--amp=fp32']


@pytest.fixture(scope='session')
def zoo_copy():
    """``zoo_copy(tmp_path)``: pytorch/rdn linked into a scratch tree (``<tmp>/zoo/rdn``), so the ModelZoo
    scripts' test/output lands outside the repository."""
    def make(tmp_path):
        zoo = tmp_path / 'zoo' / 'rdn'
        (zoo / 'test').mkdir(parents=True)
        for item in RDN_DIR.iterdir():
            if item.name not in ('test', '.gitignore'):
                (zoo / item.name).symlink_to(item)
        for script in (RDN_DIR / 'test').glob('*.sh'):
            (zoo / 'test' / script.name).symlink_to(script)
        return zoo
    return make


def stems(folder):
    return sorted(p.name for p in Path(folder).iterdir())
