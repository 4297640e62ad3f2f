"""Fixtures for the RCAN tests: the model's modules, tiny data, tiny flags.

tensorflow/rcan keeps the reference's flat module names (ops, util, mode, main, ...), which other
models share. This folder's tests run in an interpreter of their own (tools/run_tests.py, group
tensorflow_rcan), so the model folder goes first on sys.path and its modules import as its entry
scripts import them. A module of one of those names found elsewhere is an error, not a mix-up.
"""
import importlib
import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from common import paths
from common.data import bicubic_lr, modcrop

RCAN_DIR = paths.REPO_ROOT / 'tensorflow' / 'rcan'
MODULES = ['ops', 'RCA_net', 'data_loader', 'util', 'main', 'mode', 'export', 'bench']
TINY = {'n_feats': 16, 'n_RG': 1, 'n_RCAB': 2, 'ratio': 4, 'patch_size': 12, 'batch_size': 4,
        'dataset_enlarge_ratio': 2, 'learning_rate': 2e-3, 'intra_op_threads': 1, 'inter_op_threads': 1}

if str(RCAN_DIR) not in sys.path:
    sys.path.insert(0, str(RCAN_DIR))


def _ours(name):
    module = importlib.import_module(name)
    if Path(module.__file__).resolve().parent != RCAN_DIR:
        raise ImportError(f'module {name} is {module.__file__}, not tensorflow/rcan\'s: run these tests in their '
                          f'own interpreter (python -m tools.run_tests --group tensorflow_rcan)')
    return module


@pytest.fixture(scope='session')
def rcan():
    """Namespace of the model's modules: rcan.main, rcan.mode, rcan.RCA_net, ..., and tfzoo's
    (rcan.session, rcan.checkpoint, rcan.freeze, rcan.cluster, rcan.trainer)."""
    ns = SimpleNamespace(**{name: _ours(name) for name in MODULES})
    for name in ('session', 'checkpoint', 'freeze', 'cluster', 'trainer'):
        setattr(ns, name, importlib.import_module(f'tfzoo.{name}'))
    return ns


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory):
    """Tiny DIV2K-layout training set (4 HR crops of 48x60 from the sample photos, LR x2/x3/x4 by
    common's MATLAB bicubic) and a 2-image test set in the same layout. Returns its root."""
    from common.sample_data import ensure_sample_data
    ensure_sample_data(paths.SAMPLE_DATA_DIR)
    root = tmp_path_factory.mktemp('tiny_div2k')
    sources = sorted((paths.SAMPLE_DATA_DIR / 'DIV2K' / 'DIV2K_train_HR').glob('*.png'))[:6]
    for i, src in enumerate(sources):
        hr = np.ascontiguousarray(cv2.imread(str(src))[120:168, 140:200])
        split = 'DIV2K_train' if i < 4 else 'test'
        name = f'{i + 1:04d}'
        (root / f'{split}_HR').mkdir(exist_ok=True)
        cv2.imwrite(str(root / f'{split}_HR' / f'{name}.png'), hr)
        for s in (2, 3, 4):
            folder = root / f'{split}_LR_bicubic' / f'X{s}'
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / f'{name}x{s}.png'), bicubic_lr(np.ascontiguousarray(modcrop(hr, s)), s))
    return root


def tiny_argv(data, model_path, **extra):
    """main.py flags of a tiny training run on ``data`` (the tiny_data layout)."""
    args = dict(TINY, train_GT_path=data / 'DIV2K_train_HR', train_LR_path=data / 'DIV2K_train_LR_bicubic' / 'X2',
                model_path=model_path, log_dir=Path(model_path).parent / 'logs')
    args.update(extra)
    return [f'--{k}={v}' for k, v in args.items()]


@pytest.fixture(scope='session')
def argv_for():
    """tiny_argv(data, model_path, **extra): the flags of a tiny training run."""
    return tiny_argv


@pytest.fixture(scope='session')
def tiny_flags():
    """The tiny network and training flags (a dict; copy before changing)."""
    return dict(TINY)


@pytest.fixture(scope='session')
def trained(rcan, tiny_data, tmp_path_factory):
    """A tiny x2 run of 24 steps (log every 4, checkpoints every 8, 2 kept): (folder, summary, stdout)."""
    import contextlib
    import io
    out = tmp_path_factory.mktemp('trained')
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        summary = rcan.main.main(tiny_argv(tiny_data, out / 'model', max_step=24, log_freq=4, model_save_freq=8,
                                           keep_checkpoint_max=2))
    return out, summary, buf.getvalue()
