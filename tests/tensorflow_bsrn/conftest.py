"""Fixtures for the BSRN tests: the model's modules, tiny data, tiny flags.

tensorflow/bsrn keeps the reference's flat module names (train, models, dataloaders, export, bench,
...), which other models share. This folder's tests run in an interpreter of their own
(tools/run_tests.py, group tensorflow_bsrn), so the model folder goes first on sys.path and its
modules import as its entry scripts import them. A missing module, or one of those names found
elsewhere, is an error.
"""
import importlib
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from common import paths
from common.data import bicubic_lr, modcrop

BSRN_DIR = paths.REPO_ROOT / 'tensorflow' / 'bsrn'
MODULES = ['flags', 'train', 'trainer', 'inference', 'evaluation', 'validate_bsrn', 'test_bsrn', 'export', 'bench',
           'models.bsrn', 'dataloaders.base_loader', 'dataloaders.div2k_loader', 'dataloaders.basic_loader']
RELEASED = Path('bsrn_released_checkpoint') / 'bsrn_c64_s64_x234.ckpt'    # under the shared data folder
TINY = {'bsrn_conv_features': 8, 'bsrn_state_features': 8, 'bsrn_recursions': 2, 'batch_size': 4,
        'input_patch_size': 8, 'bsrn_learning_rate': 2e-3, 'sleep_ratio': 0, 'chip': 'cpu',
        'intra_op_threads': 1, 'inter_op_threads': 1, 'data_cached': True}

if str(BSRN_DIR) not in sys.path:
    sys.path.insert(0, str(BSRN_DIR))


def _ours(name):
    module = importlib.import_module(name)
    if BSRN_DIR not in Path(module.__file__).resolve().parents:
        raise ImportError(f'module {name} is {module.__file__}, not tensorflow/bsrn\'s: run these tests in their '
                          f'own interpreter (python -m tools.run_tests --group tensorflow_bsrn)')
    return module


@pytest.fixture
def fails(capsys):
    """fails(main, argv, pattern): bad input, so ``run_cli(main, argv)`` exits 2 with one ``error: ...``
    line on stderr that holds ``pattern``."""
    from common.cli import run_cli

    def check(main, argv, pattern):
        with pytest.raises(SystemExit) as info:
            run_cli(main, argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert info.value.code == 2 and len(err) == 1 and err[0].startswith('error: '), err
        assert pattern in err[0], err[0]
    return check


@pytest.fixture(scope='session')
def bsrn():
    """Namespace of the model's modules: bsrn.train, bsrn.net (models.bsrn), bsrn.export, ...,
    bsrn.models_bsrn, bsrn.dataloaders_basic_loader, and bsrn.session (tfzoo.session)."""
    ns = SimpleNamespace(**{name.replace('.', '_'): _ours(name) for name in MODULES})
    ns.net = ns.models_bsrn
    ns.session = importlib.import_module('tfzoo.session')
    return ns


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory):
    """DIV2K layout (HR 48x48 crops, LR X2/X3/X4 by common's bicubic) and a basic layout
    (x{s}/<name>.png, HR/<name>.png) of 4 + 2 images. Returns the root."""
    from common.sample_data import ensure_sample_data
    ensure_sample_data(paths.SAMPLE_DATA_DIR)
    root = tmp_path_factory.mktemp('tiny_bsrn')
    sources = sorted((paths.SAMPLE_DATA_DIR / 'DIV2K' / 'DIV2K_train_HR').glob('*.png'))[:6]
    for i, src in enumerate(sources):
        hr = np.ascontiguousarray(cv2.imread(str(src))[120:168, 140:188])
        name = f'{i + 1:04d}'
        if i < 4:
            (root / 'DIV2K_train_HR').mkdir(exist_ok=True)
            cv2.imwrite(str(root / 'DIV2K_train_HR' / f'{name}.png'), hr)
        else:
            (root / 'val' / 'HR').mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / 'val' / 'HR' / f'{name}.png'), hr)
        for s in (2, 3, 4):
            lr = bicubic_lr(np.ascontiguousarray(modcrop(hr, s)), s)
            if i < 4:
                folder = root / 'DIV2K_train_LR_bicubic' / f'X{s}'
                folder.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(folder / f'{name}x{s}.png'), lr)
            else:
                folder = root / 'val' / 'LR' / f'x{s}'
                folder.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(folder / f'{name}.png'), lr)
    return root


def tiny_argv(data, train_path, **extra):
    """train.py flags of a tiny run on ``data`` (the tiny_data layout)."""
    args = dict(TINY, dataloader='div2k_loader', data_input_path=data / 'DIV2K_train_LR_bicubic',
                data_truth_path=data / 'DIV2K_train_HR', train_path=train_path, scales='2,3,4')
    args.update(extra)
    return [f'--{k}={v}' for k, v in args.items()]


@pytest.fixture(scope='session')
def released():
    """The prefix of the authors' released checkpoint index (skips where the shared data are absent)."""
    root = paths.shared_data_dir()
    if root is None or not (root / RELEASED).with_suffix('.ckpt.index').is_file():
        if os.environ.get('SR_REQUIRE_SHARED_DATA') == '1':
            pytest.fail(f'SR_REQUIRE_SHARED_DATA=1 but the shared data lack {RELEASED}.index')
        pytest.skip(f'shared BSRN checkpoint index not present ({RELEASED} under ../shared/data or $SR_SHARED_DATA)')
    return root / RELEASED


@pytest.fixture(scope='session')
def argv_for():
    return tiny_argv


@pytest.fixture(scope='session')
def trained(bsrn, tiny_data, tmp_path_factory):
    """A tiny multi-scale run of 30 steps (log every 5, checkpoints every 10, 2 kept): (folder, summary, stdout)."""
    import contextlib
    import io
    out = tmp_path_factory.mktemp('trained') / 'train'
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        summary = bsrn.train.main(tiny_argv(tiny_data, out, max_steps=30, log_freq=5, save_freq=10,
                                            save_max_keep=2, summary_freq=10))
    return out, summary, buf.getvalue()
