"""The port's helpers (``get_training_set``, ``get_test_set``, ``get_most_recent_checkpoint``) and the
model side of every entry point: load a checkpoint, run the network on numpy images, the legacy metric.
"""
import math
import re
from pathlib import Path

import numpy as np
import torch

from common.imgio import ImageError
from common.inference import self_ensemble as ensemble8
from common.inference import tiled_predict
from common.runs import CheckpointDir
from dataset import (YCBCR, FolderSource, LmdbSource, ReferenceCrops, TrainPatches, load_test_images, to_image,
                     to_tensor)
from model.rdn import RDN
from torchzoo.checkpoint import PickleNotAllowed, load_pickled_module, load_state

__all__ = ['resolve_datapath', 'get_training_set', 'get_test_set', 'get_most_recent_checkpoint', 'find_checkpoint',
           'load_model', 'arch_of', 'colour_of', 'ycbcr_of_run', 'super_resolve', 'legacy_psnr', 'CKPT_PREFIX', 'CKPT_SUFFIX']

CKPT_PREFIX, CKPT_SUFFIX = 'rdn', '.pth'
_REFERENCE_NAME = re.compile(r'^model_epoch_(\d+)\.pth$')


# --- data ---------------------------------------------------------------------------------------

def resolve_datapath(datapath, flag='--datapath'):
    """The data folder: ``datapath`` as given, else ``dataset/<datapath>`` (the port joined "dataset").

    Raises:
        ImageError: Neither exists.
    """
    path = Path(datapath)
    if path.is_dir():
        return path
    legacy = Path('dataset') / datapath
    if not path.is_absolute() and legacy.is_dir():
        print(f'notice: {flag}={datapath} read as {legacy} (the reference port prefixes "dataset/")', flush=True)
        return legacy
    raise ImageError(f"{flag}={datapath}: {'not a folder' if path.exists() else 'no such folder'}")


def _train_source(root, scale):
    """The image source of a data folder, and how it was found (for the log)."""
    if (root / 'train').is_dir():
        return FolderSource(root / 'train', None, scale), f'{root / "train"} (HR; LR made by MATLAB bicubic)'
    for hr_name in ('DIV2K_train_HR', 'DIV2K_train_HR_sub'):
        hr_dir, hr_lmdb = root / hr_name, root / f'{hr_name}.lmdb'
        lr_name = hr_name.replace('HR', f'LR_bicubic_X{scale}')
        if hr_dir.is_dir():
            lr_dir = root / hr_name.replace('HR', 'LR_bicubic') / f'X{scale}'
            lr_dir = lr_dir if lr_dir.is_dir() else None
            how = f'{lr_dir} (stored LR)' if lr_dir else 'LR made by MATLAB bicubic'
            return FolderSource(hr_dir, lr_dir, scale), f'{hr_dir} (HR; {how})'
        if hr_lmdb.is_dir():
            lr_lmdb = root / f'{lr_name}.lmdb'
            lr_lmdb = lr_lmdb if lr_lmdb.is_dir() else None
            how = f'{lr_lmdb} (stored LR)' if lr_lmdb else 'LR made by MATLAB bicubic'
            return LmdbSource(hr_lmdb, lr_lmdb, scale), f'{hr_lmdb} (HR LMDB; {how})'
    if root.suffix == '.lmdb':
        return LmdbSource(root, None, scale), f'{root} (HR LMDB; LR made by MATLAB bicubic)'
    raise ImageError(f'--datapath={root}: no training images: expected {root}/train/ (HR images), '
                     f'{root}/DIV2K_train_HR/ (+ DIV2K_train_LR_bicubic/X{scale}/) or {root}/DIV2K_train_HR.lmdb')


def get_training_set(upscale_factor, root, pipeline='standard', patch_size=128, colour='y', seed=0,
                     enlarge_ratio=1):
    """The training set of a data folder.

    Args:
        upscale_factor (int): The scale.
        root (Path): From :func:`resolve_datapath`.
        pipeline (str): 'standard' (random patches) or 'reference' (the port's centre crops). Default: 'standard'.
        patch_size (int): HR patch side (standard pipeline). Default: 128.
        colour (str): 'y' or 'rgb'. Default: 'y'.
        seed (int): The run's seed. Default: 0.
        enlarge_ratio (int): Samples per image per epoch (standard pipeline). Default: 1.

    Returns:
        tuple: ``(dataset, description)``.
    """
    if pipeline == 'reference':
        folder = root / 'train'
        if not folder.is_dir():
            raise ImageError(f'--datapath={root}: --pipeline=reference needs {folder}/ (HR images)')
        return ReferenceCrops(folder, upscale_factor, colour), f'{folder} (reference pipeline: centre crops, PIL bilinear LR)'
    source, how = _train_source(root, upscale_factor)
    source.check_sizes(patch_size // upscale_factor)           # every image, before the first step
    return TrainPatches(source, patch_size, colour, seed, enlarge_ratio), how


def get_test_set(upscale_factor, root, pipeline='standard', colour='y', test_path=''):
    """The validation set: ``test_path``, else ``<root>/test``, else None (no validation).

    Returns:
        tuple: ``(images or ReferenceCrops or None, description)``; standard images are
        ``[(name, lr, hr)]`` as :func:`dataset.load_test_images`.
    """
    folder = Path(test_path) if test_path else root / 'test'
    if not test_path and not folder.is_dir():
        return None, f'no test set ({folder} does not exist; give --test_path): validation skipped'
    if pipeline == 'reference':
        return ReferenceCrops(folder, upscale_factor, colour), f'{folder} (reference pipeline crops)'
    images = load_test_images(folder, upscale_factor, flag='--test_path' if test_path else '--datapath')
    return images, f'{folder} ({len(images)} images)'


# --- checkpoints ----------------------------------------------------------------------------------

def get_most_recent_checkpoint(checkpoint_dir):
    """The port's newest ``model_epoch_N.pth`` in a folder: ``(path, N)``, or None when there is none."""
    found = [(int(m.group(1)), p) for p in Path(checkpoint_dir).iterdir()
             if (m := _REFERENCE_NAME.match(p.name)) and p.is_file()]
    if not found:
        return None
    epoch, path = max(found)
    return path, epoch


def find_checkpoint(path, flag='--model'):
    """A checkpoint file: ``path`` itself, or the newest of this repository's or the port's in a folder."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise FileNotFoundError(f'{flag}={path}: no such file or folder')
    ours = CheckpointDir(path, CKPT_PREFIX, CKPT_SUFFIX).checkpoints()
    if ours:
        return ours[-1][2]
    theirs = get_most_recent_checkpoint(path)
    if theirs is not None:
        return theirs[0]
    raise FileNotFoundError(f'{flag}={path}: no checkpoint in this folder ({CKPT_PREFIX}-<epoch>_<step>{CKPT_SUFFIX} '
                            f'or the reference\'s model_epoch_<N>.pth)')


def arch_of(state_dict, name='checkpoint'):
    """RDN constructor arguments read from a state dict's shapes (bicubic_skip cannot be seen: False)."""
    try:
        sff1, rdb1 = state_dict['SFF1.weight'], state_dict['RDB1.layer.0.conv.weight']
        num_block = sum(1 for k in state_dict if re.fullmatch(r'RDB\d+\.conv1x1\.weight', k))
        num_layer = sum(1 for k in state_dict if re.fullmatch(r'RDB1\.layer\.\d+\.conv\.weight', k))
        growth = int(rdb1.shape[0])
        two_stage = 'upconv2.weight' in state_dict
        per_stage = int(state_dict['upconv.weight'].shape[0]) // growth
        r = math.isqrt(per_stage)
        upscale = 4 if two_stage else r
        return dict(num_in_ch=int(sff1.shape[1]), num_out_ch=int(state_dict['conv2.weight'].shape[0]),
                    num_feat=int(sff1.shape[0]), num_block=num_block, num_layer=num_layer, growth_rate=growth,
                    upscale=upscale, upsampler='paper' if two_stage else 'single')
    except (KeyError, AttributeError, IndexError, ZeroDivisionError):
        raise ValueError(f'{name}: not an RDN state dict (no SFF1/RDB1/upconv/conv2 weights)') from None


def colour_of(model):
    """'y' for a 1-channel network, 'rgb' for a 3-channel one."""
    return 'y' if model.SFF1.in_channels == 1 else 'rgb'


def ycbcr_of_run(pipeline, num_in_ch):
    """The Y a training pipeline feeds a network (``dataset.YCBCR``), None for an RGB network: the
    reference pipeline's crops are PIL's full-range Y, the standard patches MATLAB's BT.601 Y."""
    if num_in_ch != 1:
        return None
    return 'pil' if pipeline == 'reference' else 'bt601'


def _stored_ycbcr(state, file):
    """``(ycbcr, how it is known)`` of a checkpoint: its own ``ycbcr`` entry, else its run's pipeline."""
    if 'ycbcr' in state:
        ycbcr = state['ycbcr']
        if ycbcr is not None and ycbcr not in YCBCR:
            raise ValueError(f"{file}: 'ycbcr' is {ycbcr!r}, expected one of {', '.join(YCBCR)}")
        return ycbcr, 'stored in the checkpoint'
    pipeline = (state.get('identity') or {}).get('pipeline')
    if pipeline is not None:                      # checkpoints written before 'ycbcr' was stored
        return 'pil' if pipeline == 'reference' else 'bt601', f'its run\'s --pipeline={pipeline}'
    return 'bt601', 'a bare state dict says nothing: assumed'


def load_model(path, allow_pickle=False, flag='--model'):
    """Load an RDN for inference, on the CPU, in eval mode.

    Args:
        path (str | Path): A checkpoint file or a folder of them: this repository's state-dict
            checkpoints (``rdn-<epoch>_<step>.pth``, read with ``weights_only=True``), a bare RDN
            state dict, or the port's whole-module pickles (``ckpt/RDN/model_epoch_N.pth``).
        allow_pickle (bool): Allow unpickling a whole module (runs code from the file). Default: False.
        flag (str): For messages. Default: '--model'.

    Returns:
        tuple: ``(model, info)``; info holds 'path', 'arch' (constructor arguments), 'preset', 'source',
        'ycbcr' (the Y the network was trained on, ``dataset.YCBCR``; None for RGB networks: the port's
        pickles mean PIL's, as its training read) and 'ycbcr_from' (how that is known).
    """
    file = find_checkpoint(path, flag)
    try:
        state = load_state(file, flag)
        source = 'state dict'
        ycbcr, ycbcr_from = _stored_ycbcr(state, file)
    except PickleNotAllowed:
        if not allow_pickle:
            raise
        state = {'model': load_pickled_module(file).state_dict()}
        source = 'the reference port\'s pickled module (--allow_pickle)'
        ycbcr, ycbcr_from = 'pil', 'the reference port trained on PIL\'s Y'
    weights = state.get('model', state)
    arch = dict(state['arch']) if 'arch' in state else arch_of(weights, str(file))
    model = RDN(**arch)
    try:
        model.load_state_dict({k: v.float() for k, v in weights.items()}, strict=True)
    except (RuntimeError, AttributeError) as err:
        raise ValueError(f'{file}: weights do not fit the RDN they describe ({str(err).splitlines()[0]})') from None
    if colour_of(model) != 'y':
        ycbcr, ycbcr_from = None, 'RGB network'
    return model.eval(), {'path': file, 'arch': arch, 'preset': state.get('preset', 'unknown'), 'source': source,
                          'ycbcr': ycbcr, 'ycbcr_from': ycbcr_from}


# --- running the network ------------------------------------------------------------------------

def _predict_fn(model, device):
    """numpy HWC float32 (network channels) -> HWC float32 output, one forward pass, no grad."""
    dtype = next(model.parameters()).dtype

    def predict(arr):
        x = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None].to(device, dtype)
        with torch.no_grad():
            out = model(x)[0].float().cpu().numpy()
        return out.transpose(1, 2, 0)
    return predict


def super_resolve(model, lr, scale, device=torch.device('cpu'), tile=0, overlap=32, self_ensemble=False, ycbcr='bt601',
                  truncate_y=False):
    """Super-resolve one BGR uint8 image.

    Args:
        model (RDN): The network (eval mode, on ``device``).
        lr (np.ndarray): BGR uint8 LR image (HW gray is replicated to 3 channels).
        scale (int): The network's scale.
        device (torch.device): Where the model is. Default: CPU.
        tile (int): Tile side in LR pixels (``common.inference.tiled_predict``); 0 runs whole images.
            Default: 0.
        overlap (int): Tile overlap in LR pixels. Default: 32.
        self_ensemble (bool): Average the 8 flips/rotations (``common.inference.self_ensemble``). Default: False.
        ycbcr (str): For a Y network, the Y it reads and how colour is rebuilt (``dataset.to_tensor`` and
            ``dataset.to_image``): 'bt601' or 'pil'. Default: 'bt601'.
        truncate_y (bool): With 'pil', truncate Y to uint8 as the reference does. Default: False (round).

    Returns:
        tuple: ``(sr, out)``: the BGR uint8 SR image and the raw float output [C, H, W].
    """
    if lr.ndim == 2:
        lr = np.repeat(lr[..., None], 3, axis=2)
    colour = colour_of(model)
    arr = to_tensor(lr, colour, ycbcr).numpy().transpose(1, 2, 0)
    predict = _predict_fn(model, device)
    if tile:
        whole = predict
        predict = lambda a: tiled_predict(whole, a, scale, tile=tile, overlap=overlap)   # noqa: E731
    out = ensemble8(predict, arr) if self_ensemble else predict(arr)
    out = np.asarray(out, np.float32).transpose(2, 0, 1)
    return to_image(out, colour, lr, scale, ycbcr, truncate_y), out


def legacy_psnr(out, target):
    """The port's logged "PSNR": ``10 log10(1 / L1)`` with L1 the mean absolute error on [0, 1].

    It is not a PSNR (a PSNR divides by the mean *squared* error): an L1 of 0.02 reads 17 dB.
    """
    l1 = float(np.mean(np.abs(np.asarray(out, np.float64) - np.asarray(target, np.float64))))
    return float('inf') if l1 == 0 else 10.0 * math.log10(1.0 / l1)
