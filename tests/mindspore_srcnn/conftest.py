"""Fixtures for the MindSpore SRCNN tests: the model's modules, imported as its entry scripts import them.

This group runs in an interpreter of its own (tools/run_tests.py), so the model folder goes first on
sys.path, once, and its modules keep the names of the MindSpore model zoo layout: the package `src`
(src.utils, src.dataset, ...) and the entry scripts as top-level modules (`train`, `eval`, `test`, ...;
bench.py imports `train` so too). MindSpore's graph compiler finds a Cell's module by that name.
"""
import importlib
import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from common import paths

SRCNN_DIR = paths.REPO_ROOT / 'mindspore' / 'srcnn'
SRC_MODULES = ['srcnn', 'utils', 'dataset', 'create_dataset', 'metric', 'train_log', 'model_utils.config', 'distributed']
ENTRY_SCRIPTS = ['train', 'eval', 'test', 'export', 'eval_onnx', 'preprocess', 'infer_mindir', 'postprocess']

sys.path.insert(0, str(SRCNN_DIR))


def _import(name):
    """Import a module of the model folder, refusing a namesake from elsewhere (e.g. Python's own `test`)."""
    module = importlib.import_module(name)
    if SRCNN_DIR not in Path(module.__file__).resolve().parents:
        raise ImportError(f'{name} was imported from {module.__file__}, not from {SRCNN_DIR}')
    return module


@pytest.fixture(scope='session')
def srcnn():
    """Namespace of the model's modules: srcnn.utils, srcnn.config, srcnn.train, srcnn.eval, ..."""
    ns = SimpleNamespace()
    for name in SRC_MODULES:
        setattr(ns, name.split('.')[-1], _import(f'src.{name}'))
    for name in ENTRY_SCRIPTS:
        setattr(ns, name, _import(name))
    return ns


@pytest.fixture(scope='session')
def tiny_images(tmp_path_factory):
    """Two small HR photos (crops of the held-out sample test images): 70x90 and 66x82 (odd sizes)."""
    from common.sample_data import ensure_sample_data
    ensure_sample_data(paths.SAMPLE_DATA_DIR)
    src = sorted((paths.SAMPLE_DATA_DIR / 'benchmark' / 'SampleTest' / 'HR' / 'x2').glob('*.png'))
    folder = tmp_path_factory.mktemp('tiny_hr')
    for path, (h, w) in zip(src[:2], [(70, 90), (67, 83)]):
        img = cv2.imread(str(path))
        cv2.imwrite(str(folder / path.name), np.ascontiguousarray(img[100:100 + h, 120:120 + w]))
    return folder


@pytest.fixture(scope='session')
def random_checkpoint(srcnn, tmp_path_factory):
    """A checkpoint of an untrained SRCNN (seeded) and the network itself."""
    import mindspore as ms
    ms.set_seed(3)
    net = srcnn.srcnn.SRCNN()
    net.set_train(False)
    path = tmp_path_factory.mktemp('ckpt') / 'srcnn_random.ckpt'
    ms.save_checkpoint(net, str(path))
    return path, net


@pytest.fixture(scope='session')
def run_main():
    """run_main(module, {key: value}): call an entry script's main() with --key=value flags, on CPU."""
    def run(module, args):
        argv = [f'--{k}={v}' for k, v in dict({'device_target': 'CPU'}, **args).items()]
        return module.main(argv)
    return run
