"""Export an SRCNN checkpoint to MINDIR, ONNX or AIR with a static input [1, 1, image_height, image_width].

The file is <file_name>.mindir / .onnx / .air (the reference ignored --file_name). AIR needs an
Ascend device; elsewhere it is refused with an error.

Usage:
    python export.py --checkpoint_path=srcnn.ckpt --file_format=MINDIR [--file_name=srcnn]
        [--image_height=512 --image_width=512] [--device_target=CPU]
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for `common`

import numpy as np  # noqa: E402

from src.model_utils.config import ConfigError, load_config  # noqa: E402
from src.utils import load_network, run_cli, setup_device  # noqa: E402

import mindspore as ms  # noqa: E402

FORMATS = {'MINDIR': '.mindir', 'ONNX': '.onnx', 'AIR': '.air'}


def export_network(net, file_name, file_format, height, width, target):
    """Export `net` for a [1, 1, height, width] input; returns the written path."""
    file_format = file_format.upper()
    if file_format not in FORMATS:
        raise ConfigError(f'--file_format must be one of {", ".join(FORMATS)}, got {file_format!r}')
    if file_format == 'AIR' and target != 'Ascend':
        raise ConfigError(f'--file_format=AIR needs an Ascend device; this run is on {target} (use MINDIR or ONNX)')
    if height < 1 or width < 1:
        raise ConfigError(f'--image_height/--image_width must be positive, got {height}x{width}')
    out = Path(f'{file_name}{FORMATS[file_format]}')
    out.parent.mkdir(parents=True, exist_ok=True)
    dummy = ms.Tensor(np.zeros((1, 1, height, width), np.float32))   # N, C, H, W
    tmp = out.with_name(f'.{out.stem}.{os.getpid()}.tmp')            # MindSpore appends the extension
    written = tmp.with_name(tmp.name + FORMATS[file_format])
    try:
        ms.export(net, dummy, file_name=str(tmp), file_format=file_format)
        if not written.is_file():
            raise RuntimeError(f'MindSpore export did not write {written}')
        os.replace(written, out)
    finally:
        if written.exists():
            written.unlink()
    return out


def main(argv=None):
    cfg = load_config(argv, description=__doc__.split('\n\n')[0])
    target = setup_device(cfg, graph=True)
    ckpt, flag = (cfg.ckpt_file, 'ckpt_file') if cfg.ckpt_file else (cfg.checkpoint_path, 'checkpoint_path')
    net = load_network(ckpt, flag)
    out = export_network(net, cfg.file_name, cfg.file_format, cfg.image_height, cfg.image_width, target)
    print(f'exported {out} (input [1, 1, {cfg.image_height}, {cfg.image_width}])')
    return out


if __name__ == '__main__':
    run_cli(main)
