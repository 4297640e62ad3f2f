"""Test LPTN on a paired set: ``python3 test.py -opt options/test/LPTN/test_FiveK.yml``.

The generator of ``path.pretrain_network_g`` (the authors' ``net_g_FiveK_numhigh3.pth``, or a
``models/net_g_<iter>.pth`` of a training here) on every image of ``datasets.test``: PSNR and SSIM per
image and their means from ``common.metrics`` (RGB, ``crop_border`` 0 as the reference's test options;
the protocol is printed), ``input | result | target`` strips and the results alone in
``results/<name>/visualization/<set>/``. Images larger than ``--tile`` pixels run in overlapping tiles
(``common.inference``); 0 runs them whole.

Usage:
    python3 test.py -opt options/test/LPTN/test_FiveK.yml
    python3 test.py -opt options/test/LPTN/test_FiveK.yml --force_yml path.pretrain_network_g=experiments/LPTN_FiveK/models/net_g_latest.pth
"""
# First, before torch loads: importing torchzoo sets the OpenMP wait policy (torchzoo/__init__.py).
import torchzoo  # noqa: F401

from pathlib import Path

import torch

from data import build_dataloader, build_dataset
from models.lptn_test_model import LPTNTestModel, nondist_validation
from torchzoo.cli import Parser, run_cli
from torchzoo.device import select_device
from torchzoo.precision import INFER_CHOICES, resolve_inference
from utils.logger import close_logger, start_run_log
from utils.options import check_run_outside_data, parse

HERE = Path(__file__).resolve().parent


def build_parser():
    p = Parser(description=__doc__.split('\n\n')[0], prog='test.py')
    p.add_argument('-opt', '--opt', required=True, help='options file, e.g. options/test/LPTN/test_FiveK.yml')
    p.add_argument('--launcher', choices=('none', 'pytorch', 'slurm'), default='none', help='only none')
    p.add_argument('--force_yml', nargs='+', action='extend', default=[], metavar='KEY=VALUE', help='override options')
    p.add_argument('--tile', type=int, default=2048, help='tile side in pixels for larger images (0: whole images)')
    p.add_argument('--tile_overlap', type=int, default=64, help='overlap of neighbouring tiles in pixels')
    p.add_argument('--amp', default='fp32', choices=INFER_CHOICES,
                   help='fp32 (default, the reference); bf16: the trunks in bfloat16 weights (within 0.1 dB); '
                        'fp16: autocast (CUDA, NPU); auto: fp16 on a GPU or NPU, bf16 on a CPU with native bfloat16')
    p.add_argument('--root', default=None, help='folder for results/ (default: this folder)')
    return p


def run(opt, tile=2048, tile_overlap=64, amp='fp32'):
    """Test with parsed options; returns ``{set name: validation result}``."""
    device = torch.device('cpu') if opt['num_gpu'] == 0 else select_device('auto')
    amp = resolve_inference(amp, device.type)
    loaders = []                                   # the data and the generator first: nothing written on bad input
    for phase, ds_opt in sorted(opt['datasets'].items()):
        dataset = build_dataset(ds_opt, opt['manual_seed'], HERE)
        dataset[0]
        loaders.append(build_dataloader(dataset, ds_opt, opt['manual_seed'])[0])
    check_run_outside_data(opt)
    model = LPTNTestModel(opt, device, precision=amp)
    logger = start_run_log(opt['path']['results_root'], 'test', opt)
    try:
        if model.load_warning:
            logger.warning(model.load_warning)
        logger.info(f'precision: {amp}')
        for loader in loaders:
            logger.info(f"Number of test images in {loader.dataset.opt['name']}: {len(loader.dataset)}")
        out = {}
        for loader in loaders:
            name = loader.dataset.opt['name']
            logger.info(f'Testing {name}...')
            result = nondist_validation(model, loader, opt, None, opt['val']['save_img'], opt['path']['visualization'],
                                        tile=tile, suffix=opt['val']['suffix'], tile_overlap=tile_overlap)
            for row in result['per_image']:
                logger.info(f"{row['name']:<24s} PSNR {row['psnr']:.4f} dB  SSIM {row['ssim']:.4f}")
            out[name] = result
        return out
    finally:
        close_logger()


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.tile < 0 or (args.tile and not 0 <= args.tile_overlap < args.tile):
        raise ValueError('--tile must be >= 0 and --tile_overlap in [0, --tile)')
    run(parse(args.opt, 'test', args.force_yml, args.launcher, root=args.root), args.tile, args.tile_overlap, args.amp)


if __name__ == '__main__':
    run_cli(main)
