"""Helpers shared by the entry scripts: the Y-channel pipeline, device setup, checkpoints, output folders, tiles.

The image pipeline is the reference's, built from `common/`: HR = modcrop(image, scale);
LR = MATLAB bicubic downscale (or a given LR image); network input = Y of the MATLAB-bicubic
upscaled LR, on [0, 1]. The SR image is that Y replaced by the network output, with the bicubic
image's Cb/Cr, converted back to BGR and quantised to uint8.
"""
import contextlib
import json
import os
import sys
from pathlib import Path

import mindspore as ms
import numpy as np

from common.color import bgr2ycbcr, to_y_channel, ycbcr2bgr
from common.config import ConfigError
from common.data import bicubic_lr, modcrop
from common.fileio import building_dir
from common.imgio import ImageError, float2uint8
from common.imresize import imresize
from common.inference import tile_layout
from common.runs import check_output_dir
from common.runs import make_output_dir as runs_make_output_dir
from src.srcnn import SRCNN

DEVICES = ('Ascend', 'GPU', 'CPU')
AMP_AUTO = {'CPU': 'O0', 'GPU': 'O2', 'Ascend': 'O3'}


# --- image pipeline ---------------------------------------------------------------------------

def y_of(img):
    """float32 Y in [0, 1] (BT.601, unrounded) of a BGR uint8 image (HW images are taken as Y)."""
    return (to_y_channel(img) / 255.0).astype(np.float32)


def prepare_pair(hr, scale, lr=None, name='image'):
    """Build the network input of one image.

    Args:
        hr (np.ndarray): BGR uint8 HR image (mod-cropped here).
        scale (int): Upscaling factor.
        lr (np.ndarray | None): Given BGR uint8 LR image (e.g. the authors' Set5 input); its size
            times `scale` must equal the mod-cropped HR size. Default: None (MATLAB bicubic of HR).
        name (str): Used in error messages. Default: 'image'.

    Returns:
        dict: 'hr' (mod-cropped BGR uint8), 'up' (bicubic-upscaled LR, BGR uint8, HR size),
        'y_in' (float32 Y of 'up', HxW) and 'y_hr' (float32 Y of 'hr').
    """
    hr = np.ascontiguousarray(modcrop(hr, scale))
    if lr is None:
        lr = bicubic_lr(hr, scale)
    elif (lr.shape[0] * scale, lr.shape[1] * scale) != hr.shape[:2]:
        raise ImageError(f'{name}: LR size {lr.shape[:2]} x{scale} does not match the HR size {hr.shape[:2]}')
    up = imresize(lr, scale=scale)
    return {'hr': hr, 'up': up, 'y_in': y_of(up), 'y_hr': y_of(hr)}


def compose_sr(y_sr, up):
    """Put a super-resolved Y (float, [0, 1], not clamped) into the bicubic image's colour.

    Args:
        y_sr (np.ndarray): HxW network output.
        up (np.ndarray): BGR uint8 bicubic-upscaled image of the same size (or HxW for gray input).

    Returns:
        np.ndarray: BGR (or HxW) uint8 image, clamped and rounded.
    """
    if up.ndim == 2:
        return float2uint8(y_sr)
    ycc = bgr2ycbcr(up.astype(np.float64) / 255.0)
    ycc[..., 0] = y_sr
    return float2uint8(ycbcr2bgr(ycc))


def reference_psnr(y_sr, y_hr):
    """The reference port's metric: 10 log10(1 / MSE) on full Y/255 images, no shave, no clamp."""
    mse = float(np.mean((np.asarray(y_sr, np.float64) - np.asarray(y_hr, np.float64)) ** 2))
    return float('inf') if mse == 0 else 10.0 * np.log10(1.0 / mse)


# --- device and precision ---------------------------------------------------------------------

@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 (MindSpore's C++ plugin loader prints there)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, 'w') as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def resolve_device(target):
    """Return `target` if this MindSpore build can run it, else 'CPU' (printing a notice)."""
    if target not in DEVICES:
        raise ConfigError(f'--device_target must be one of {", ".join(DEVICES)}, got {target!r}')
    if target == 'CPU':
        return target
    with _quiet_stderr():
        available = ms.hal.is_available(target)
    if available:
        return target
    print(f'notice: device_target={target} is not available in this MindSpore build; running on CPU', flush=True)
    return 'CPU'


def setup_device(cfg, graph=True):
    """Set MindSpore's mode and device from the config; returns the device actually used.

    Args:
        cfg (Config): Uses device_target and seed.
        graph (bool): GRAPH_MODE (training, as the reference) or PYNATIVE_MODE (variable image sizes).
            Default: True.
    """
    target = resolve_device(cfg.device_target)
    ms.set_context(mode=ms.GRAPH_MODE if graph else ms.PYNATIVE_MODE)
    device_id = int(os.environ.get('DEVICE_ID', '0'))
    ms.set_device(target, device_id if target != 'CPU' else None)
    ms.set_seed(int(cfg.seed))
    return target


def resolve_amp_level(amp_level, target):
    """'auto' -> O0 on CPU, O2 on GPU, O3 on Ascend; O0..O3 are returned unchanged."""
    if amp_level == 'auto':
        return AMP_AUTO[target]
    if amp_level not in ('O0', 'O1', 'O2', 'O3'):
        raise ConfigError(f"--amp_level must be auto, O0, O1, O2 or O3, got {amp_level!r}")
    return amp_level


def loss_scale_manager(level, target):
    """Dynamic loss scaling for float16 training (O2/O3) on Ascend or GPU, as the zoo uses there; else None."""
    if level in ('O2', 'O3') and target != 'CPU':
        return ms.amp.DynamicLossScaleManager()
    return None


def precision_note(level, target):
    """One line saying what runs in which precision."""
    if level == 'O0':
        return f'precision: amp_level O0 on {target}: everything in float32'
    return (f'precision: amp_level {level} on {target}: float16 compute with float32 master weights'
            + (' (runs on CPU, but slower than O0 there)' if target == 'CPU' else ''))


# --- checkpoints ------------------------------------------------------------------------------

def require_file(path, flag):
    """Return `path` as a Path, or raise FileNotFoundError naming the flag."""
    if not path:
        raise FileNotFoundError(f'--{flag} is empty; give a file')
    path = Path(path)
    if path.is_dir():
        raise FileNotFoundError(f'--{flag}={path}: is a folder, expected a file')
    if not path.is_file():
        raise FileNotFoundError(f'--{flag}={path}: no such file')
    return path


def output_dir(path, flag):
    """Check that `path` can be a folder this tool creates or fills (common.runs.check_output_dir);
    `flag` is the flag without its dashes. Returns it as a Path."""
    return check_output_dir(path, f'--{flag}')


def make_output_dir(path, flag):
    """:func:`output_dir`, then create the folder (common.runs.make_output_dir)."""
    return runs_make_output_dir(path, f'--{flag}')


def replaceable_dir(path, flag, marker, tool, overwrite=True):
    """Check an output folder that a tool builds whole (:func:`building_output`); returns it as a Path.

    On top of :func:`output_dir`: an existing folder is refused unless `overwrite`, and refused in
    any case unless it holds `marker`, the file this tool writes last into the folders it builds. So
    only the tool's own earlier output is ever replaced. An existing empty folder is accepted.

    Args:
        path (str | Path): The output folder.
        flag (str): Its command line flag, without the dashes.
        marker (str): The tool's marker file name (e.g. 'meta.json').
        tool (str): The tool's name, for the message (e.g. 'preprocess.py').
        overwrite (bool): Whether an earlier output of the tool may be replaced. Default: True.

    Raises:
        RunError: See :func:`output_dir`.
        FileExistsError: An existing folder that may not be replaced.
    """
    out = output_dir(path, flag)
    if _is_empty_dir(out) or not (out.exists() or out.is_symlink()):
        return out
    if not overwrite:
        raise FileExistsError(f'--{flag}={out} already exists (pass --overwrite=True to replace it)')
    if not (out / marker).is_file():
        raise FileExistsError(f'--{flag}={out}: exists and is not an output of {tool} (no {marker} in it); '
                              f'not replacing it: remove it yourself or choose another folder')
    return out


def _is_empty_dir(path):
    return path.is_dir() and not path.is_symlink() and not any(path.iterdir())


@contextlib.contextmanager
def building_output(out, marker, overwrite=True):
    """common.fileio.building_dir for a folder checked by :func:`replaceable_dir`.

    An existing empty folder there is removed first (nothing to lose); otherwise the folder is built
    hidden next to `out` and swapped into place when the body returns, the marker written last by
    the body marking it complete.

    Args:
        out (Path): The checked output folder.
        marker (str): The tool's marker file name.
        overwrite (bool): Replace an earlier output holding the marker. Default: True.

    Yields:
        Path: The hidden folder to fill.
    """
    if _is_empty_dir(out):
        out.rmdir()
    with building_dir(out, overwrite=overwrite, marker=marker) as tmp:
        yield tmp


# The offline flow's marker files, written last into the folders its steps build.
PREPROCESS_MARKER = 'preprocess.json'
INFER_MARKER = 'infer.json'
PREPROCESS_KEYS = ('run_id', 'input_shape', 'images', 'inputs')   # what infer/postprocess read


def read_marker(folder, marker, flag, tool, keys):
    """The JSON marker a tool wrote last into an output folder it built.

    Args:
        folder (str | Path): The folder.
        marker (str): The marker's file name.
        flag (str): The flag that named the folder, without the dashes.
        tool (str): The tool that builds such folders (for the message).
        keys (tuple[str]): Keys the marker must have.

    Returns:
        dict: The marker.

    Raises:
        FileNotFoundError: No marker: not a (complete) output of the tool.
        ValueError: A marker that is not JSON or lacks a key.
    """
    path = Path(folder) / marker
    if not path.is_file():
        raise FileNotFoundError(f'--{flag}={folder}: no {marker} there, not a (complete) output of {tool}; '
                                f'run {tool} first')
    try:
        record = json.loads(path.read_text(encoding='utf-8'))
    except ValueError:
        record = None
    if not isinstance(record, dict) or not all(k in record for k in keys):
        raise ValueError(f'--{flag}={folder}: {marker} is corrupt; run {tool} again')
    return record


# --- inference ------------------------------------------------------------------------------

def load_network(checkpoint_path, flag='checkpoint_path'):
    """An SRCNN with the weights of `checkpoint_path`, in inference mode.

    Raises:
        FileNotFoundError: No such file (the message names the flag and the file).
        ValueError: An empty, corrupt or foreign checkpoint (the message names the flag and the file).
    """
    path = require_file(checkpoint_path, flag)
    if path.stat().st_size == 0:
        raise ValueError(f'--{flag}={path}: empty file (0 bytes), not a MindSpore checkpoint')
    net = SRCNN()
    try:
        params = ms.load_checkpoint(str(path))
    except Exception as err:  # MindSpore raises ValueError, RuntimeError or protobuf errors here
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f'--{flag}={path}: not a readable MindSpore checkpoint ({reason})') from None
    missing, _ = ms.load_param_into_net(net, params)
    if missing:
        raise ValueError(f'--{flag}={path}: checkpoint lacks SRCNN parameters {missing}')
    net.set_train(False)
    return net


def ms_predictor(net):
    """Wrap a network as predict(Y (H, W) float32) -> Y (H, W) float32."""
    def predict(y):
        out = net(ms.Tensor(np.ascontiguousarray(y, np.float32)[None, None]))
        return out.asnumpy()[0, 0]
    return predict


RECEPTIVE_RADIUS = 8                    # 9x9, 5x5, 5x5 convolutions: 4 + 2 + 2 pixels
TILE_OVERLAP = 2 * RECEPTIVE_RADIUS     # kept pixels lie >= overlap // 2 px from an inner tile edge


def static_tiles(height, width, tile_h, tile_w):
    """Tiles of a fixed model input shape covering a height x width image (one layout for every tool).

    Along an axis where the image is at least the tile length, the tiles lie inside the image, the
    first at 0 and the last flush with the far border, neighbours overlapping by at least
    TILE_OVERLAP (16) pixels (common.inference.tile_layout); every kept pixel is at least 8 px (SRCNN's
    receptive-field radius) from an inner tile edge, so the assembled output equals whole-image
    inference. Along an axis where the image is shorter than the tile, there is one tile at 0, and
    the model input is zero-padded past the image's far border (see :func:`cut_tile`).

    Args:
        height (int): Image height.
        width (int): Image width.
        tile_h (int): Model input height.
        tile_w (int): Model input width.

    Returns:
        list[dict]: Per tile, in row-major order: 'y0', 'x0' (top-left corner of the model input in
        image coordinates) and 'keep_y0', 'keep_y1', 'keep_x0', 'keep_x1' (the part of the output it
        contributes; the kept parts partition the image).

    Raises:
        ValueError: A tile length of TILE_OVERLAP or less along an axis that needs several tiles
            (neighbours could not overlap enough for an exact result).
    """
    axes = []
    for size, tile, name in ((height, tile_h, 'height'), (width, tile_w, 'width')):
        if tile < 1 or size < 1:
            raise ValueError(f'static_tiles: need positive sizes, got image {height}x{width}, tile {tile_h}x{tile_w}')
        if size > tile and tile <= TILE_OVERLAP:
            raise ValueError(f'the model input {name} {tile} is too small to tile a {height}x{width} image '
                             f'exactly: it must exceed {TILE_OVERLAP} px (export a larger shape)')
        axes.append(tile_layout(size, tile, TILE_OVERLAP if size > tile else 0))
    rows, cols = axes
    return [{'y0': y0, 'x0': x0, 'keep_y0': ky0, 'keep_y1': ky1, 'keep_x0': kx0, 'keep_x1': kx1}
            for y0, ky0, ky1 in rows for x0, kx0, kx1 in cols]


def cut_tile(y, tile, tile_h, tile_w):
    """The model input of one tile: float32 (tile_h, tile_w), zero past the image's far borders."""
    buf = np.zeros((tile_h, tile_w), np.float32)
    part = y[tile['y0']:tile['y0'] + tile_h, tile['x0']:tile['x0'] + tile_w]
    buf[:part.shape[0], :part.shape[1]] = part
    return buf


def paste_tile(out, pred, tile):
    """Copy the kept part of one tile's model output `pred` (tile_h, tile_w) into `out` (H, W)."""
    ys, xs = slice(tile['keep_y0'], tile['keep_y1']), slice(tile['keep_x0'], tile['keep_x1'])
    out[ys, xs] = pred[tile['keep_y0'] - tile['y0']:tile['keep_y1'] - tile['y0'],
                       tile['keep_x0'] - tile['x0']:tile['keep_x1'] - tile['x0']]


def static_predictor(run, height, width):
    """Adapt a fixed-input-shape model to any image size, with the tiles of :func:`static_tiles`.

    An image at least height x width is covered by tiles inside it (exact: equals whole-image
    inference up to float rounding). Along an axis where the image is shorter, the model input is
    zero-padded past the image's far border; that padding changes the outputs only within 8 px
    (SRCNN's receptive-field radius) of that border, as the model sees the padding instead of its
    own per-layer zero padding there.

    Args:
        run (callable): float32 (height, width) -> (height, width) model output.
        height (int): The model's input height.
        width (int): The model's input width.

    Returns:
        callable: predict(Y (H, W)) -> float32 (H, W).
    """
    def predict(y):
        out = np.empty(y.shape, np.float32)
        for tile in static_tiles(y.shape[0], y.shape[1], height, width):
            pred = np.asarray(run(cut_tile(y, tile, height, width)), np.float32).reshape(height, width)
            paste_tile(out, pred, tile)
        return out
    return predict
