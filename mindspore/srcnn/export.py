"""Export an SRCNN checkpoint to MINDIR, ONNX or AIR with a static input [1, 1, image_height, image_width].

The file is <file_name>.mindir / .onnx / .air (the reference ignored --file_name), written atomically;
an existing one is replaced only with --overwrite=True; any path works (spaces included), and the
output folder keeps its mode. AIR needs an Ascend device;
elsewhere it is refused with an error.

Usage:
    python export.py --checkpoint_path=srcnn.ckpt --file_format=MINDIR [--file_name=srcnn]
        [--image_height=512 --image_width=512] [--device_target=CPU]
"""
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from common.cli import run_cli
from common.fileio import atomic_write_bytes
from src.model_utils.config import ConfigError, load_config
from src.utils import load_network, output_dir, setup_device

# MindSpore after `src`: importing src sets the oneDNN CPU default first (src/__init__.py)
import mindspore as ms

FORMATS = {'MINDIR': '.mindir', 'ONNX': '.onnx', 'AIR': '.air'}
# MindSpore refuses export paths outside this pattern (spaces, non-ASCII, ...).
_MS_PATH = re.compile(r'^[0-9a-zA-Z@_\-.:/\\]+$')


def output_file(file_name, ext, overwrite=False):
    """The export target `<file_name><ext>`, checked; one line naming --file_name when it is unusable.

    Refused: an empty name, a name that is a folder (or ends in '/'), a target that is a folder, a
    target whose folder cannot be created (a plain file stands in the path), and an existing target
    unless `overwrite`.
    """
    if not str(file_name):
        raise ConfigError('--file_name is empty; give the output file name without extension')
    name = Path(file_name)
    if str(file_name).endswith(('/', os.sep)) or name.is_dir():
        raise ConfigError(f'--file_name={file_name} names a folder; give a file name without extension, '
                          f'e.g. --file_name={name / "srcnn"}')
    out = name.with_name(name.name + ext)
    if out.is_dir():
        raise ConfigError(f'--file_name={file_name}: {out} is a folder, expected a file name')
    if out.exists() and not overwrite:
        raise FileExistsError(f'--file_name={file_name}: {out} exists; pass --overwrite=True to replace it')
    output_dir(out.parent, 'file_name')
    return out


def _private_dir():
    """A new private folder whose path MindSpore accepts (the system temp folder, else the working folder)."""
    for root in (tempfile.gettempdir(), os.getcwd()):
        root = str(Path(root).resolve())
        if _MS_PATH.match(root) and os.access(root, os.W_OK):
            return Path(tempfile.mkdtemp(prefix='srcnn-export-', dir=root))
    raise ConfigError('export needs a temporary folder whose path has only ASCII letters, digits and '
                      '@_-.:/ (MindSpore refuses others); set TMPDIR to one')


def export_network(net, file_name, file_format, height, width, target, overwrite=False):
    """Export `net` for a [1, 1, height, width] input; returns the written path.

    MindSpore writes into a private temporary folder (it accepts only plain ASCII paths and changes
    the mode of the folder it writes an ONNX file into to 0700); the file is then copied to
    `<file_name>.<ext>` atomically (common.imgio.atomic_write_bytes), so any path works, the output
    folder keeps its mode and no temporary file is left next to the output.
    """
    file_format = file_format.upper()
    if file_format not in FORMATS:
        raise ConfigError(f'--file_format must be one of {", ".join(FORMATS)}, got {file_format!r}')
    if file_format == 'AIR' and target != 'Ascend':
        raise ConfigError(f'--file_format=AIR needs an Ascend device; this run is on {target} (use MINDIR or ONNX)')
    if height < 1 or width < 1:
        raise ConfigError(f'--image_height/--image_width must be positive, got {height}x{width}')
    out = output_file(file_name, FORMATS[file_format], overwrite)
    dummy = ms.Tensor(np.zeros((1, 1, height, width), np.float32))   # N, C, H, W
    private = _private_dir()
    try:
        ms.export(net, dummy, file_name=str(private / 'srcnn'), file_format=file_format)
        written = private / f'srcnn{FORMATS[file_format]}'             # MindSpore appends the extension
        if not written.is_file():
            raise RuntimeError(f'MindSpore export did not write {written}')
        try:
            atomic_write_bytes(out, written.read_bytes())
        except OSError as err:
            raise ConfigError(f'--file_name={file_name}: cannot write {out} ({err.strerror or err})') from None
    finally:
        shutil.rmtree(private, ignore_errors=True)
    return out


def main(argv=None):
    cfg = load_config(argv, description=__doc__.split('\n\n')[0])
    target = setup_device(cfg, graph=True)
    ckpt, flag = (cfg.ckpt_file, 'ckpt_file') if cfg.ckpt_file else (cfg.checkpoint_path, 'checkpoint_path')
    net = load_network(ckpt, flag)
    out = export_network(net, cfg.file_name, cfg.file_format, cfg.image_height, cfg.image_width, target,
                         cfg.overwrite)
    print(f'exported {out} (input [1, 1, {cfg.image_height}, {cfg.image_width}])')
    return out


if __name__ == '__main__':
    run_cli(main)
