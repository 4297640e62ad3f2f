"""Helpers shared by the entry scripts: the Y-channel pipeline, device setup, checkpoints, CLI errors.

The image pipeline is the reference's, built from `common/`: HR = modcrop(image, scale);
LR = MATLAB bicubic downscale (or a given LR image); network input = Y of the MATLAB-bicubic
upscaled LR, on [0, 1]. The SR image is that Y replaced by the network output, with the bicubic
image's Cb/Cr, converted back to BGR and quantised to uint8.
"""
import contextlib
import os
import re
import sys
from pathlib import Path

import mindspore as ms
import numpy as np

from common.color import bgr2ycbcr, to_y_channel, ycbcr2bgr
from common.data import bicubic_lr, modcrop
from common.imgio import ImageError, float2uint8
from common.imresize import imresize
from common.inference import tiled_predict
from src.model_utils.config import ConfigError
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

_CKPT_NAME = re.compile(r'-(\d+)_(\d+)\.ckpt$')


def find_latest_checkpoint(folder):
    """The checkpoint in `folder` with the highest (epoch, step) in its name (srcnn-<epoch>_<step>.ckpt)."""
    folder = Path(folder)
    found = []
    for path in folder.glob('*.ckpt') if folder.is_dir() else []:
        match = _CKPT_NAME.search(path.name)
        if match:
            found.append((int(match.group(1)), int(match.group(2)), path.stat().st_mtime, path))
    if not found:
        raise FileNotFoundError(f'{folder}: no checkpoint (*-<epoch>_<step>.ckpt) to resume from')
    return max(found)[-1]


def require_file(path, flag):
    """Return `path` as a Path, or raise FileNotFoundError naming the flag."""
    if not path:
        raise FileNotFoundError(f'--{flag} is empty; give a file')
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'--{flag}={path}: no such file')
    return path


# --- inference ------------------------------------------------------------------------------

def load_network(checkpoint_path, flag='checkpoint_path'):
    """An SRCNN with the weights of `checkpoint_path`, in inference mode."""
    path = require_file(checkpoint_path, flag)
    net = SRCNN()
    try:
        params = ms.load_checkpoint(str(path))
    except (RuntimeError, ValueError) as err:
        raise ValueError(f'--{flag}={path}: not a readable MindSpore checkpoint ({str(err).splitlines()[0]})') from None
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


def static_predictor(run, height, width, overlap=16):
    """Adapt a fixed-input-shape model to any image size.

    Images up to height x width are zero-padded at the bottom/right (the padding slightly changes
    the outputs within a few pixels of those two edges: SRCNN's receptive field radius is 8);
    larger images are split into overlapping tiles (common.inference.tiled_predict), which is exact
    because `overlap` // 2 >= 8.

    Args:
        run (callable): float32 (height, width) -> (height, width) model output.
        height (int): The model's input height.
        width (int): The model's input width.
        overlap (int): Tile overlap in pixels. Default: 16.
    """
    def padded(y):
        h, w = y.shape
        buf = np.zeros((height, width), np.float32)
        buf[:h, :w] = y
        return np.asarray(run(buf)).reshape(height, width)[:h, :w]

    def predict(y):
        if y.shape[0] <= height and y.shape[1] <= width:
            return padded(y)
        return tiled_predict(padded, y, 1, tile=min(height, width), overlap=overlap)
    return predict


# --- command line -----------------------------------------------------------------------------

def run_cli(main):
    """Run `main()`; expected failures print one 'error: ...' line and exit with status 2."""
    try:
        main()
    except (ConfigError, ImageError, FileNotFoundError, FileExistsError, ValueError) as err:
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f'error: {msg}', file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print('error: interrupted', file=sys.stderr)
        sys.exit(130)
