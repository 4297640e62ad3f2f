"""Fixtures for the MindSpore SRCNN tests: the model's modules, with its `src` package kept local.

mindspore/srcnn/src is a package named `src`, as in the MindSpore model zoo, and other models may
have one too. The `srcnn` fixture imports this model's modules with mindspore/srcnn first on
sys.path and loads the entry scripts by path under unique names; afterwards sys.path is restored and
the `src` modules are swapped out of sys.modules, and swapped back in only while the test modules
of this folder run. Nothing of this model leaks into other tests.
"""
import importlib
import importlib.util
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from common import paths
from tests.model_modules import ModelModules

SRCNN_DIR = paths.REPO_ROOT / 'mindspore' / 'srcnn'
SRC_MODULES = ['srcnn', 'utils', 'dataset', 'create_dataset', 'metric', 'train_log', 'model_utils.config', 'distributed']
ENTRY_SCRIPTS = ['train', 'eval', 'test', 'export', 'eval_onnx', 'preprocess', 'infer_mindir', 'postprocess']


OURS = ModelModules(['src'], [SRCNN_DIR])


def _load_script(name):
    spec = importlib.util.spec_from_file_location(f'mindspore_srcnn_{name}', SRCNN_DIR / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def srcnn():
    """Namespace of the model's modules: srcnn.utils, srcnn.train, srcnn.eval, ..."""
    with OURS.active():
        ns = SimpleNamespace()
        for name in SRC_MODULES:
            setattr(ns, name.split('.')[-1], importlib.import_module(f'src.{name}'))
        for name in ENTRY_SCRIPTS:
            setattr(ns, name, _load_script(name))
    return ns


@pytest.fixture(scope='module', autouse=True)
def _srcnn_src_package(srcnn):
    """During each test module here, `src` is this model's package (MindSpore's graph compiler
    resolves a Cell's module by name, so it must be importable while the tests run)."""
    with OURS.active(with_path=False):
        yield


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
