"""Evaluate an SRCNN checkpoint on a Set5/Set14-style image set.

--data_path is a folder of HR images (e.g. Set5), a single image, or a Set5-layout root holding
HR/x{scale}/. LR inputs are made from the HR images with MATLAB bicubic (common.imresize), or read
from --lr_path (e.g. the authors' Set5 LR_bicubic/x2). Prints a per-image table, the standard
protocol (Y, crop=scale, SR rounded to uint8), the reference port's metric (no shave, unclamped),
and the reference's result line `result  {'PSNR': ...}` (carrying --metric, default standard).

Usage:
    python eval.py --data_path=/data/Set5 --checkpoint_path=srcnn.ckpt [--lr_path=...] [--device_target=CPU]
"""
from common.cli import run_cli
from src.dataset import list_eval_images, load_eval_images
from src.metric import evaluate_images, report
from src.model_utils.config import load_config
from src.utils import load_network, ms_predictor, setup_device


def main(argv=None):
    cfg = load_config(argv, description=__doc__.split('\n\n')[0])
    if cfg.metric not in ('standard', 'reference'):
        raise ValueError(f"--metric must be 'standard' or 'reference', got {cfg.metric!r}")
    images = load_eval_images(list_eval_images(cfg.data_path, cfg.scale, cfg.lr_path))
    setup_device(cfg, graph=False)      # image sizes vary: PyNative avoids one graph per size
    net = load_network(cfg.checkpoint_path)
    result = evaluate_images(ms_predictor(net), images, cfg.scale)
    lr_note = f'LR from {cfg.lr_path}' if cfg.lr_path else 'LR = MATLAB bicubic of HR (common.imresize)'
    return report(result, cfg.metric, title=f'{cfg.data_path} x{cfg.scale}, {len(images)} images, {lr_note}')


if __name__ == '__main__':
    run_cli(main)
