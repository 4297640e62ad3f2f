"""``LPTNTestModel`` (the generator alone, for test.py and test_speed.py) and the validation both scripts share.

Validation (the reference's ``nondist_validation``): each image of a paired set through the generator,
``tensor2img`` (clamp, x255, round), PSNR and SSIM from ``common.metrics`` with the options'
``crop_border`` and ``test_y_channel`` (RGB and crop 4 in training, crop 0 in test.py, as the
reference), the protocol printed beside the numbers; ``input | result | target`` strips saved.
"""
import contextlib
from pathlib import Path

import numpy as np
import torch

from common.fileio import building_dir
from common.imgio import write_image
from common.inference import tiled_predict
from common.metrics import evaluate_pairs, protocol
from data import img2tensor, tensor2img
from models import load_generator_state
from models.archs import define_network
from utils.logger import get_root_logger

__all__ = ['LPTNTestModel', 'nondist_validation', 'metric_protocol']


def metric_protocol(opt):
    """``(crop_border, test_y_channel, protocol dict)`` of the options' ``val.metrics.psnr``."""
    psnr = opt['val']['metrics']['psnr']
    crop, y = int(psnr['crop_border']), bool(psnr['test_y_channel'])
    return crop, y, protocol(crop, test_y_channel=y)


class LPTNTestModel:
    """The generator of ``network_g`` with ``path.pretrain_network_g`` loaded, in eval mode.

    Args:
        opt (dict): Parsed test options.
        device (torch.device): Where it runs.
        net_g (nn.Module | None): Use this generator instead of building and loading one. Default: None.
        precision (str): 'fp32'; 'bf16' (the trunks' weights and convolutions in bfloat16, see
            ``LPTN.with_trunks_in``); or 'fp16' (autocast, CUDA or NPU). Default: 'fp32'.

    Attributes:
        load_warning (str | None): The warning line of a non-strict load that left keys out (log it).
    """

    def __init__(self, opt, device, net_g=None, precision='fp32'):
        if precision not in ('fp32', 'bf16', 'fp16'):
            raise ValueError(f"precision must be fp32, bf16 or fp16, got {precision!r}")
        self.opt, self.device, self.precision = opt, device, precision
        self.load_warning = None              # strict_load_g false and keys that did not match: for the log
        if net_g is None:
            net_g = define_network(opt['network_g'])
            path = opt['path'].get('pretrain_network_g')
            if not path:
                raise ValueError('path.pretrain_network_g: give the generator to test (a .pth file)')
            self.load_warning = load_generator_state(net_g, path, strict=opt['path']['strict_load_g'],
                                                     param_key=opt['path'].get('param_key_g'))
        net_g = net_g.to(device).eval()
        if precision == 'bf16':                   # bfloat16 weights in the trunks (a copy: net_g is unchanged)
            net_g = net_g.with_trunks_in(torch.bfloat16)
        self.net_g = net_g

    def autocast(self):
        """The context of a forward pass: float16 autocast for 'fp16' (CUDA, NPU), else none."""
        if self.precision == 'fp16':
            return torch.autocast(self.device.type, dtype=torch.float16)
        return contextlib.nullcontext()

    @torch.no_grad()
    def test(self, lq):
        """Generator output for ``lq`` [N, 3, H, W] (float32, on the CPU)."""
        with self.autocast():
            out = self.net_g(lq.to(self.device))
        return out.float().cpu()

    def predict_image(self, img, tile=0, tile_overlap=64):
        """BGR uint8 image -> BGR uint8 result, whole or in ``tile`` x ``tile`` tiles (``common.inference``)."""
        def run(x):
            return tensor2img(self.test(img2tensor(x)[None]))
        if tile and max(img.shape[:2]) > tile:
            return tiled_predict(run, img, scale=1, tile=tile, overlap=tile_overlap)
        return run(img)


def nondist_validation(model, loader, opt, current_iter, save_img, out_dir, tb_logger=None, tile=0, suffix=None,
                       tile_overlap=64, tag=None):
    """Validate ``model`` (an LPTNModel or LPTNTestModel: anything with ``predict_image`` or ``test``) on ``loader``.

    Args:
        model: The model.
        loader (DataLoader): A paired set, batch 1.
        opt (dict): The options (``val``, ``name``, ``is_train``).
        current_iter (int | None): The training iteration (names the strips) or None for test.py.
        save_img (bool): Save ``input | result | target`` strips.
        out_dir (str | Path): ``visualization`` folder.
        tb_logger: TensorBoard writer for ``metrics/psnr`` and ``metrics/ssim``. Default: None.
        tile (int): Tile size for large images (0: whole images). Default: 0.
        tile_overlap (int): Overlap of neighbouring tiles. Default: 64.
        suffix (str | None): Name suffix of the strips in test.py. Default: None (the options' name).
        tag (str | None): Label of the log line and the TensorBoard tags (``metrics/psnr_<tag>``), e.g.
            'ema' for the generator's moving average. Default: None.

    Returns:
        dict: ``{'psnr', 'ssim', 'per_image': [...], 'protocol': {...}}``.
    """
    logger = get_root_logger()
    crop, y_channel, proto = metric_protocol(opt)
    dataset_name = loader.dataset.opt['name']
    pairs = []
    target = Path(out_dir) / (dataset_name if current_iter is None else str(current_iter))
    with contextlib.ExitStack() as stack:               # the strips appear together or not at all
        folder = stack.enter_context(building_dir(target, overwrite=True)) if save_img else None
        for data in loader:
            name = Path(data['lq_path'][0]).stem
            lq_img = tensor2img(data['lq'][0])
            if hasattr(model, 'predict_image'):
                result = model.predict_image(lq_img, tile=tile, tile_overlap=tile_overlap)
            else:
                result = tensor2img(model.test(data['lq']))
            gt_img = tensor2img(data['gt'][0])
            pairs.append((name, result, gt_img))
            if save_img:
                tail = f"{suffix or opt['name']}" if current_iter is None else str(current_iter)
                write_image(folder / f'{name}_{tail}.png', np.hstack((lq_img, result, gt_img)))
    rows = evaluate_pairs(pairs, crop_border=crop, test_y_channel=y_channel)
    psnr, ssim = float(np.mean([r['psnr'] for r in rows])), float(np.mean([r['ssim'] for r in rows]))
    label = f' ({tag})' if tag else ''
    logger.info(f'Validation {dataset_name}{label} [{proto["label"]}]\n\t # psnr: {psnr:.4f}\n\t # ssim: {ssim:.4f}')
    if tb_logger is not None and current_iter is not None:
        tail = f'_{tag}' if tag else ''
        tb_logger.add_scalar(f'metrics/psnr{tail}', psnr, current_iter)
        tb_logger.add_scalar(f'metrics/ssim{tail}', ssim, current_iter)
    return {'psnr': psnr, 'ssim': ssim, 'per_image': rows, 'protocol': proto}
