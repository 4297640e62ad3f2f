"""Offline flow, step 2: run an exported MINDIR on the .bin inputs (stands where the Ascend 310 binary stands).

Loads the MINDIR with MindSpore's graph loader (`mindspore.load` + `nn.GraphCell`), feeds every
<output_path>/input/*.bin (float32 of the model's input shape) and writes the output of each as
<predict_path>/<input name>_0.bin, the naming of the 310 flow.

Usage:
    python infer_mindir.py --mindir_path=srcnn.mindir --output_path=./preprocess_Result --predict_path=./result_Files
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for `common`

import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from common.imgio import atomic_write_bytes  # noqa: E402
from src.model_utils.config import ConfigError, load_config  # noqa: E402
from src.utils import require_file, run_cli, setup_device  # noqa: E402

import mindspore as ms  # noqa: E402
from mindspore import nn  # noqa: E402


def load_mindir(path):
    """A GraphCell running the MINDIR file."""
    path = require_file(path, 'mindir_path')
    try:
        graph = ms.load(str(path))
    except (RuntimeError, ValueError) as err:
        raise ValueError(f'--mindir_path={path}: MindSpore cannot load it ({str(err).splitlines()[0]})') from None
    return nn.GraphCell(graph)


def input_shape(prep_dir, cfg):
    """The input shape recorded by preprocess.py (meta/*.json), else [1, 1, image_height, image_width]."""
    for meta in sorted((Path(prep_dir) / 'meta').glob('*.json')):
        return tuple(json.loads(meta.read_text(encoding='utf-8'))['input_shape'])
    return (1, 1, cfg.image_height, cfg.image_width)


def infer(cell, in_dir, out_dir, shape):
    """Run `cell` on every .bin in `in_dir`; returns (count, mean ms per input)."""
    inputs = sorted(Path(in_dir).glob('*.bin'))
    if not inputs:
        raise FileNotFoundError(f'{in_dir}: no .bin inputs (run preprocess.py first)')
    times = []
    for path in tqdm(inputs, desc='infer', unit='bin'):
        data = np.fromfile(path, dtype=np.float32)
        if data.size != int(np.prod(shape)):
            raise ValueError(f'{path}: {data.size} floats, but the model input {list(shape)} needs {int(np.prod(shape))}')
        start = time.perf_counter()
        out = cell(ms.Tensor(data.reshape(shape))).asnumpy().astype(np.float32)
        times.append(time.perf_counter() - start)
        atomic_write_bytes(Path(out_dir) / f'{path.stem}_0.bin', out.tobytes())
    return len(inputs), 1000.0 * float(np.mean(times))


def main(argv=None):
    cfg = load_config(argv, description=__doc__.split('\n\n')[0])
    if not cfg.predict_path:
        raise ConfigError('--predict_path is empty; give the folder for the outputs')
    setup_device(cfg, graph=True)
    cell = load_mindir(cfg.mindir_path)
    shape = input_shape(cfg.output_path, cfg)
    count, ms_per = infer(cell, Path(cfg.output_path) / 'input', cfg.predict_path, shape)
    print(f'ran {count} input(s) of shape {list(shape)}: {ms_per:.2f} ms each; outputs in {cfg.predict_path}')
    return count


if __name__ == '__main__':
    run_cli(main)
