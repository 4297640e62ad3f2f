"""Offline flow, step 2: run an exported MINDIR on the .bin inputs (stands where the Ascend 310 binary stands).

Loads the MINDIR with MindSpore's graph loader (`mindspore.load` + `nn.GraphCell`), feeds every input
that preprocess.py listed in <output_path>/preprocess.json (float32 .bin files of the model's input
shape) and writes the output of each as <predict_path>/<input name>_0.bin, the naming of the 310 flow.
The predict folder is built whole and swapped into place when complete, with infer.json (naming the
preprocess run) written last; a re-run replaces only an earlier output of this tool.

Usage:
    python infer_mindir.py --mindir_path=srcnn.mindir --output_path=./preprocess_Result --predict_path=./result_Files
"""
import json
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common.cli import run_cli
from common.fileio import check_disjoint
from src.model_utils.config import ConfigError, load_config
from src.utils import (INFER_MARKER, PREPROCESS_KEYS, PREPROCESS_MARKER, building_output, output_dir,
                       read_marker, replaceable_dir, require_file, setup_device)

# MindSpore after `src`: importing src sets the oneDNN CPU default first (src/__init__.py)
import mindspore as ms
from mindspore import nn

MARKER = INFER_MARKER          # written last: marks a complete output of this tool


def load_mindir(path):
    """A GraphCell running the MINDIR file."""
    path = require_file(path, 'mindir_path')
    try:
        graph = ms.load(str(path))
    except Exception as err:  # MindSpore raises RuntimeError, ValueError or its own types here
        raise ValueError(f'--mindir_path={path}: MindSpore cannot load it ({str(err).splitlines()[0]})') from None
    return nn.GraphCell(graph)


def infer(cell, prep_dir, out_dir, marker):
    """Run `cell` on every input that preprocess.py listed in its marker; returns (count, mean ms per input).

    `out_dir` (checked by the caller) is built whole (common.fileio.building_dir) and swapped into
    place when complete, with infer.json (the preprocess run it belongs to, the outputs) written
    last; a failed run leaves the earlier outputs, which postprocess.py then refuses as belonging to
    another preprocess run.
    """
    shape = tuple(marker['input_shape'])
    in_dir = Path(prep_dir) / 'input'
    inputs = [in_dir / name for name in marker['inputs']]
    missing = [p.name for p in inputs if not p.is_file()]
    if missing:
        raise FileNotFoundError(f'--output_path={prep_dir}: {len(missing)} input(s) listed in preprocess.json '
                                f'are missing ({", ".join(missing[:3])}); run preprocess.py again')
    if not inputs:
        raise FileNotFoundError(f'{in_dir}: no .bin inputs (run preprocess.py first)')
    times, outputs = [], []
    with building_output(out_dir, MARKER) as tmp:
        for path in tqdm(inputs, desc='infer', unit='bin'):
            data = np.fromfile(path, dtype=np.float32)
            if data.size != int(np.prod(shape)):
                raise ValueError(f'{path}: {data.size} floats, but the model input {list(shape)} needs '
                                 f'{int(np.prod(shape))}')
            start = time.perf_counter()
            out = cell(ms.Tensor(data.reshape(shape))).asnumpy().astype(np.float32)
            times.append(time.perf_counter() - start)
            outputs.append(f'{path.stem}_0.bin')
            (tmp / outputs[-1]).write_bytes(out.tobytes())
        record = {'tool': 'infer_mindir.py', 'preprocess_run_id': marker['run_id'], 'outputs': outputs}
        (tmp / MARKER).write_text(json.dumps(record, indent=1) + '\n', encoding='utf-8')
    return len(inputs), 1000.0 * float(np.mean(times))


def main(argv=None):
    cfg = load_config(argv, description=__doc__.split('\n\n')[0])
    if not cfg.predict_path:
        raise ConfigError('--predict_path is empty; give the folder for the outputs')
    marker = read_marker(cfg.output_path, PREPROCESS_MARKER, 'output_path', 'preprocess.py', PREPROCESS_KEYS)
    check_disjoint(output_dir(cfg.predict_path, 'predict_path'), cfg.output_path, '--predict_path', '--output_path')
    out = replaceable_dir(cfg.predict_path, 'predict_path', MARKER, 'infer_mindir.py')
    setup_device(cfg, graph=True)
    cell = load_mindir(cfg.mindir_path)
    count, ms_per = infer(cell, cfg.output_path, out, marker)
    print(f"ran {count} input(s) of shape {marker['input_shape']}: {ms_per:.2f} ms each; outputs in {out}")
    return count


if __name__ == '__main__':
    run_cli(main)
