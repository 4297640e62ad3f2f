"""Time the LPTN generator the reference's way: ``python3 test_speed.py -opt options/test/LPTN/test_speed_FiveK.yml``.

Protocol (the reference's ``test_speed.py`` with ``LPTNTestModel``): ``val.num_img`` images of the test
set, each resized to ``val.fix_img_size`` [width, height] (or kept at its size when ``~``), each run
``val.times_per_img`` times; one untimed warm-up pass first; each pass synchronised with the device.
Per image the log has a ``Testing <name> ... duration: <s>`` line (mean seconds per pass); at the end
the mean, median, p90 and max over all timed passes, and ``average duration: <s>``.

Usage:
    python3 test_speed.py -opt options/test/LPTN/test_speed_FiveK.yml
    python3 test_speed.py -opt ... --force_yml num_gpu=0 val.times_per_img=3 --amp=bf16
"""
# First, before torch loads: importing torchzoo sets the OpenMP wait policy (torchzoo/__init__.py).
import torchzoo  # noqa: F401

import time
from pathlib import Path

import cv2
import numpy as np
import torch

from data import build_dataset, img2tensor, tensor2img
from models.lptn_test_model import LPTNTestModel
from torchzoo.cli import Parser, run_cli
from torchzoo.device import select_device
from torchzoo.precision import INFER_CHOICES, resolve_inference
from utils.logger import close_logger, start_run_log
from utils.options import check_run_outside_data, parse

HERE = Path(__file__).resolve().parent


def build_parser():
    p = Parser(description=__doc__.split('\n\n')[0], prog='test_speed.py')
    p.add_argument('-opt', '--opt', required=True, help='options file, e.g. options/test/LPTN/test_speed_FiveK.yml')
    p.add_argument('--launcher', choices=('none', 'pytorch', 'slurm'), default='none', help='only none')
    p.add_argument('--force_yml', nargs='+', action='extend', default=[], metavar='KEY=VALUE', help='override options')
    p.add_argument('--amp', default='fp32', choices=INFER_CHOICES,
                   help='fp32 (default); bf16: the trunks in bfloat16 weights; fp16: autocast (CUDA, NPU); '
                        'auto: fp16 on a GPU or NPU, bf16 on a CPU with native bfloat16 (AMX, AVX512-BF16), else fp32')
    p.add_argument('--root', default=None, help='folder for results/ (default: this folder)')
    return p


def synchronize(device):
    if device.type == 'cuda':
        torch.cuda.synchronize()
    elif device.type == 'npu':
        torch.npu.synchronize()


def speed_images(opt):
    """The ``num_img`` test inputs as BGR uint8 images at ``fix_img_size`` (width, height)."""
    dataset = build_dataset(opt['datasets']['test'], opt['manual_seed'], HERE)
    val, images = opt['val'], []
    size = val['fix_img_size']
    for i in range(val['num_img']):                 # more images than the set holds: it is cycled
        sample = dataset[i % len(dataset)]
        img = tensor2img(sample['lq'])
        if size:
            img = cv2.resize(img, (int(size[0]), int(size[1])), interpolation=cv2.INTER_CUBIC)
        images.append((Path(sample['lq_path']).stem, img))
    return images


def time_model(model, images, times_per_img, log=print):
    """Seconds of every timed pass of ``model`` (an LPTNTestModel, in its precision), per image:
    ``[(name, [s, ...]), ...]`` (one warm-up pass excluded; the inputs are on the device before timing)."""
    device, amp = model.device, model.precision
    tensors = [(name, img2tensor(img)[None].to(device)) for name, img in images]
    with torch.no_grad(), model.autocast():
        model.net_g(tensors[0][1])                    # warm-up: allocations, kernel selection
        synchronize(device)
        out = []
        for name, x in tensors:
            times = []
            for _ in range(times_per_img):
                start = time.perf_counter()
                model.net_g(x)
                synchronize(device)
                times.append(time.perf_counter() - start)
            log(f'Testing {name} ({x.shape[3]}x{x.shape[2]}, {amp}) duration: {np.mean(times):.5f}')
            out.append((name, times))
    return out


def summarize(per_image):
    every = np.concatenate([np.asarray(t) for _, t in per_image])
    return {'mean': float(np.mean([np.mean(t) for _, t in per_image])), 'median': float(np.median(every)),
            'p90': float(np.percentile(every, 90)), 'max': float(np.max(every)), 'passes': int(every.size)}


def precision_line(asked, amp, device):
    """The log line that says which precision runs and, for ``auto`` on a CPU, why."""
    why = ''
    if asked == 'auto' and device.type == 'cpu':
        why = (' (auto: this CPU computes bfloat16 natively)' if amp == 'bf16' else
               ' (auto: this CPU has no native bfloat16, emulation would be slower than fp32)')
    return f'precision: {amp}{why}'


def main(argv=None):
    args = build_parser().parse_args(argv)
    opt = parse(args.opt, 'speed', args.force_yml, args.launcher, root=args.root)
    if opt['val']['num_img'] < 1 or opt['val']['times_per_img'] < 1:
        raise ValueError(f"{args.opt}: val.num_img and val.times_per_img must be >= 1")
    size = opt['val']['fix_img_size']
    if size is not None and (not isinstance(size, list) or len(size) != 2 or min(size) < 8):
        raise ValueError(f"{args.opt}: key 'val.fix_img_size' must be [width, height] (>= 8) or ~, got {size!r}")
    device = torch.device('cpu') if opt['num_gpu'] == 0 else select_device('auto')
    amp = resolve_inference(args.amp, device.type)
    images = speed_images(opt)                     # the data and the generator first: nothing written on bad input
    check_run_outside_data(opt)
    model = LPTNTestModel(opt, device, precision=amp)
    logger = start_run_log(opt['path']['results_root'], 'test_speed', opt)
    try:
        if model.load_warning:
            logger.warning(model.load_warning)
        logger.info(precision_line(args.amp, amp, device))
        per_image = time_model(model, images, opt['val']['times_per_img'], logger.info)
        s = summarize(per_image)
        logger.info(f"{s['passes']} timed passes on {device} ({amp}): mean {s['mean']:.5f} s, median "
                    f"{s['median']:.5f}, p90 {s['p90']:.5f}, max {s['max']:.5f} s per image")
        logger.info(f"average duration: {s['mean']:.5f}")
    finally:
        close_logger()


if __name__ == '__main__':
    run_cli(main)
