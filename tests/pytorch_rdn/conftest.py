"""Fixtures for the PyTorch RDN tests: the model folder's modules, kept out of other tests' way.

pytorch/rdn has top-level modules with common names (``model``, ``dataset``, ``utils``, ``train``, ...),
as the reference port does. The ``rdn`` fixture imports them with pytorch/rdn and pytorch/ first on
sys.path; around each test module of this folder they are swapped into sys.modules (and sys.path),
and swapped out afterwards, so no other test sees them.
"""
import importlib
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from common import paths
from tests.model_modules import ModelModules

RDN_DIR = paths.REPO_ROOT / 'pytorch' / 'rdn'
TORCH_DIR = paths.REPO_ROOT / 'pytorch'
TOP_LEVEL = ('model', 'dataset', 'utils', 'train', 'train_npu', 'inference', 'export', 'bench')
MODULES = ('model.rdn', 'dataset', 'utils', 'train', 'inference', 'export', 'bench')
OURS = ModelModules(TOP_LEVEL, [RDN_DIR, TORCH_DIR])


@pytest.fixture(scope='session')
def rdn():
    """Namespace of the model folder's modules: rdn.rdn (model.rdn), rdn.dataset, rdn.utils, rdn.train, ..."""
    import torch
    torch.set_num_threads(1)
    with OURS.active():
        ns = SimpleNamespace(**{name.split('.')[-1]: importlib.import_module(name) for name in MODULES})
        ns.torchzoo = SimpleNamespace(**{name: importlib.import_module(f'torchzoo.{name}')
                                         for name in ('cli', 'device', 'precision', 'checkpoint', 'trainlog')})
    return ns


@pytest.fixture(scope='module', autouse=True)
def _rdn_modules(rdn):
    """While a test module of this folder runs, `model`, `dataset`, ... are this model's."""
    with OURS.active():
        yield


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
