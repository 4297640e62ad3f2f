"""RDN bench: train the bench preset x4 for a fixed number of steps on CPU, score it against bicubic, record.

Steps: ensure the sample data (common.sample_data); train ``--preset=bench`` (train.py) for
``BENCH['steps']`` steps from ``BENCH['seed']`` on the 12 sample DIV2K-layout photos, validating on
SampleTest; evaluate Set5 x4 (the authors' LR inputs, shared data) and SampleTest x4, each with the
bicubic baseline of the same LR images; time inference per Set5 image; continue the trained network
for ``--precision_steps`` more steps twice, in float32 and in bf16 autocast from the same weights and
batches, to compare images/s and PSNR, measuring a dense convolution's throughput just before and
after the float32 run (the convolution efficiency compares the two); write the result record
(common.records) and the ModelZoo summary.

Usage:
    python pytorch/rdn/bench.py --out results/rdn_bench.json
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parents[1])]

import os  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import train  # noqa: E402
from common import paths, records  # noqa: E402
from common.imresize import imresize  # noqa: E402
from common.metrics import evaluate_pairs, protocol  # noqa: E402
from common.sample_data import ensure_sample_data  # noqa: E402
from common.visual import detail_box, side_by_side  # noqa: E402
from dataset import load_test_images  # noqa: E402
from torchzoo.cli import Parser, run_cli  # noqa: E402
from torchzoo.device import cpu_has_native_bf16  # noqa: E402
from utils import find_checkpoint, super_resolve  # noqa: E402

COMMAND = 'make bench MODEL=rdn'
SCALE = 4
# The bench's training: a step count from a seed, so that a re-run on any CPU gives the same numbers.
BENCH = dict(steps=700, seed=1, batchSize=16, patch_size=128, lr=1e-3, milestones=(0.75,), gamma=0.25,
             dataset_enlarge_ratio=256, save_checkpoint_steps=400)
PRECISION_STEPS = 8


def conv_macs(model, shape):
    """Multiply-accumulates of every convolution of one forward pass on an input of ``shape``."""
    total = [0]

    def hook(module, inputs, output):
        k = module.kernel_size[0] * module.kernel_size[1]
        total[0] += output.numel() * module.in_channels // module.groups * k

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(shape))
    for h in handles:
        h.remove()
    return total[0]


def dense_conv_gflops(seconds=4.0):
    """Training GFLOP/s (forward + both backward convolutions) of one 64->64 3x3 conv, channels-last,
    on [16, 64, 64, 64]: the yardstick of the bench's convolution efficiency.

    The output gradient is a dense channels-last tensor (``.sum().backward()`` would hand oneDNN a
    stride-0 gradient and time a slower path)."""
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(memory_format=torch.channels_last)
    x = torch.rand(16, 64, 64, 64).to(memory_format=torch.channels_last).requires_grad_()
    grad = torch.rand(16, 64, 64, 64).to(memory_format=torch.channels_last)
    flops = 3 * 2 * 16 * 64 * 64 * 9 * 64 * 64

    def once():
        conv.zero_grad(set_to_none=True)
        x.grad = None
        conv(x).backward(grad)
    once()
    runs, start = 0, time.perf_counter()
    while runs < 3 or time.perf_counter() - start < seconds:
        once()
        runs += 1
    return flops * runs / (time.perf_counter() - start) / 1e9


def train_argv(work, steps, seed=BENCH['seed'], **extra):
    """train.py flags of the bench run."""
    sample = paths.SAMPLE_DATA_DIR
    spe = -(-12 * BENCH['dataset_enlarge_ratio'] // BENCH['batchSize'])             # steps per epoch
    flags = {'preset': 'bench', 'upscale_factor': SCALE, 'datapath': sample / 'DIV2K',
             'test_path': sample / 'benchmark' / 'SampleTest', 'seed': seed, 'batchSize': BENCH['batchSize'],
             'patch_size': BENCH['patch_size'], 'lr': BENCH['lr'], 'gamma': BENCH['gamma'],
             'milestones': ','.join(f'{m * steps / spe:.6f}' for m in BENCH['milestones']),
             'dataset_enlarge_ratio': BENCH['dataset_enlarge_ratio'], 'max_steps': steps, 'threads': 0,
             'device': 'cpu', 'amp': 'fp32', 'channels_last': True, 'output_path': work, 'overwrite': True,
             'save_checkpoint_steps': BENCH['save_checkpoint_steps'], 'keep_checkpoint_max': 2}
    flags.update(extra)
    return [f'--{k}={v}' for k, v in flags.items()]


def evaluate(model, images, set_name, record, compare_dir):
    """Score the model and bicubic on ``images`` (same LR), add both to the record, write crops."""
    proto = protocol(SCALE)
    sr_pairs, up_pairs = [], []
    for name, lr, hr in images:
        sr, _ = super_resolve(model, lr, SCALE)
        sr_pairs.append((name, sr, hr))
        up_pairs.append((name, imresize(lr, scale=SCALE), hr))
    rdn, bic = evaluate_pairs(sr_pairs, SCALE), evaluate_pairs(up_pairs, SCALE)
    records.add_evaluation(record, set_name, SCALE, 'rdn', rdn, proto)
    records.add_evaluation(record, set_name, SCALE, 'bicubic', bic, proto)
    for (name, sr, hr), (_, up, _), r, b in zip(sr_pairs, up_pairs, rdn, bic):
        side_by_side([up, sr, hr], [f"bicubic {b['psnr']:.2f} dB", f"RDN {r['psnr']:.2f} dB", 'HR'],
                     compare_dir / f'{set_name}_{name}_x{SCALE}.png', box=detail_box(hr, 64), zoom=3)
    mean = lambda rows: float(np.mean([row['psnr'] for row in rows]))   # noqa: E731
    print(f'== {set_name} x{SCALE}: RDN {mean(rdn):.4f} dB, bicubic {mean(bic):.4f} dB, '
          f'{mean(rdn) - mean(bic):+.4f} dB [{proto["label"]}]', flush=True)
    return mean(rdn), mean(bic)


def latency_ms(model, images, repeats=3):
    """Mean over images of the median whole-image forward time (ms), warm, float32."""
    per_image = []
    for _, lr, _ in images:
        super_resolve(model, lr, SCALE)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            super_resolve(model, lr, SCALE)
            times.append(time.perf_counter() - start)
        per_image.append(np.median(times))
    return 1000.0 * float(np.mean(per_image))


def precision_runs(work, checkpoint, steps, set5):
    """``steps`` more steps from the trained weights in fp32 and in bf16 autocast (same batches).

    The dense-conv yardstick is measured just before and just after the fp32 run (the larger is
    kept), so that the convolution efficiency compares two figures taken under the same load.
    """
    out = {}
    final_lr = BENCH['lr'] * BENCH['gamma'] ** len(BENCH['milestones'])
    for mode in ('fp32', 'bf16'):
        if mode == 'fp32':
            dense = [dense_conv_gflops()]
        argv = train_argv(work / f'precision_{mode}', steps, amp=mode, pre_trained_path=checkpoint, lr=final_lr,
                          milestones='', seed=BENCH['seed'] + 1, test_path='', save_checkpoint_steps=0,
                          tensorboard=False)
        summary, model = train.run(train.parse_args(argv))
        model.eval()
        psnr = float(np.mean([r['psnr'] for r in evaluate_pairs(
            [(n, super_resolve(model, lr, SCALE)[0], hr) for n, lr, hr in set5], SCALE)]))
        out[mode] = {'images_per_sec': summary['images_per_sec'], 'set5_psnr': psnr, 'steps': steps}
        if mode == 'fp32':
            dense.append(dense_conv_gflops())
            out['dense_conv_gflops'] = max(dense)
            print(f'dense conv (64->64 3x3, fwd+bwd, channels-last, fp32): {dense[0]:.1f} before, {dense[1]:.1f} '
                  f'after the fp32 run (GFLOP/s)', flush=True)
        print(f"== {mode}: {summary['images_per_sec']:.2f} images/s over {steps} steps; Set5 x4 {psnr:.4f} dB after",
              flush=True)
    return out


def run_bench(out, steps=BENCH['steps'], precision_steps=PRECISION_STEPS, work=None):
    """The whole bench; returns the record."""
    e2e_start = time.time()
    torch.set_num_threads(len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else (os.cpu_count() or 1))
    work = Path(work or paths.REPO_ROOT / 'outputs' / 'rdn_bench')
    shutil.rmtree(work, ignore_errors=True)
    ensure_sample_data(paths.SAMPLE_DATA_DIR)
    set5_root = paths.set5_dir()
    if set5_root is None:
        raise FileNotFoundError('the bench needs the real Set5 (../shared/data/Set5, or set SR_SHARED_DATA)')
    args = train.parse_args(train_argv(work / 'train', steps))
    summary, model = train.run(args)
    model = model.float().to(memory_format=torch.contiguous_format).eval()
    record = records.new_record('rdn', 'pytorch', torch.__version__, 'bench', COMMAND,
                                config=dict(BENCH, steps=steps, precision_steps=precision_steps, scale=SCALE,
                                            preset='bench', arch=train.PRESETS['bench']))
    set5 = load_test_images(set5_root, SCALE)
    sample = load_test_images(paths.SAMPLE_DATA_DIR / 'benchmark' / 'SampleTest', SCALE)
    compare = work / 'compare'
    set5_psnr, set5_bicubic = evaluate(model, set5, 'Set5', record, compare)
    evaluate(model, sample, 'SampleTest', record, compare)
    infer_ms = latency_ms(model, set5)

    macs = conv_macs(model, (1, 3, BENCH['patch_size'] // SCALE, BENCH['patch_size'] // SCALE))
    ips = summary['images_per_sec']
    checkpoint = find_checkpoint(work / 'train' / 'ckpt' / 'RDN')
    prec = precision_runs(work, checkpoint, precision_steps, set5)
    dense = prec.pop('dense_conv_gflops')
    train_gflops = 3 * 2 * macs * prec['fp32']['images_per_sec'] / 1e9     # the fp32 run beside the yardstick
    ratio = prec['bf16']['images_per_sec'] / prec['fp32']['images_per_sec']
    record['train'] = {'seconds': summary['seconds'], 'steps': summary['steps_run'], 'seed': BENCH['seed'],
                       'batch_size': BENCH['batchSize'], 'images_per_sec': ips, 'final_loss': summary['final_loss'],
                       'epochs': summary['global_step'] / summary['steps_per_epoch'], 'validation': summary['val']}
    record['speed'] = {'infer_ms_per_image': infer_ms, 'infer_dataset': 'Set5 x4 (whole images, fp32)',
                       'dense_conv_gflops': dense, 'train_conv_gflops': train_gflops,
                       'conv_efficiency_from': 'the fp32 continuation run, dense conv measured just before and after',
                       'conv_efficiency': train_gflops / dense, 'train_conv_macs_per_patch': macs,
                       'precision': dict(prec, bf16_over_fp32=ratio,
                                         psnr_bf16_minus_fp32=prec['bf16']['set5_psnr'] - prec['fp32']['set5_psnr'],
                                         cpu_native_bf16=cpu_has_native_bf16())}
    record['train']['e2e_sec'] = time.time() - e2e_start
    records.save_record(record, out)
    print(f"\ntrain: {summary['steps_run']} steps in {summary['seconds']:.0f} s, {ips:.1f} images/s; Set5 x4 "
          f'{set5_psnr:.2f} dB vs bicubic {set5_bicubic:.2f} ({set5_psnr - set5_bicubic:+.2f}); conv {train_gflops:.1f} '
          f'GFLOP/s = {train_gflops / dense:.2f} of dense ({dense:.1f}); inference {infer_ms:.1f} ms/image; '
          f"bf16/fp32 images/s {ratio:.2f} ({prec['bf16']['images_per_sec']:.2f} / {prec['fp32']['images_per_sec']:.2f})")
    records.modelzoo_summary(work, 'rdn', BENCH['batchSize'], ips, BENCH['batchSize'] / ips, time.time() - e2e_start,
                             train_accuracy=set5_psnr, losses=summary['epoch_losses'])
    print(f'record written to {out}')
    return record


def main(argv=None):
    p = Parser(description=__doc__.split('\n\n')[0], prog='bench.py')
    p.add_argument('--out', required=True, help='result record (JSON) to write, e.g. results/rdn_bench.json')
    p.add_argument('--steps', type=int, default=BENCH['steps'],
                   help='training steps (the record is comparable only at the default)')
    p.add_argument('--precision_steps', type=int, default=PRECISION_STEPS,
                   help='steps of each of the fp32 and bf16 comparison runs')
    p.add_argument('--work_dir', default=None, help='scratch folder (default: outputs/rdn_bench)')
    args = p.parse_args(argv)
    if args.steps < 2 or args.precision_steps < 2:
        raise ValueError('--steps and --precision_steps must be >= 2')
    run_bench(args.out, args.steps, args.precision_steps, args.work_dir)


if __name__ == '__main__':
    run_cli(main)
