"""RDN bench: train the bench preset x4 for a fixed number of steps on CPU, score it against bicubic, record.

The preset (``BENCH``) on the harness of every bench (common.bench): train ``--preset=bench``
(train.py) for ``steps`` steps from ``seed`` on the 12 sample DIV2K-layout photos, validating on
SampleTest; score Set5 x4 (the authors' LR, where the shared data are) and SampleTest x4 beside bicubic;
time whole-image inference after the inference yardstick; continue the trained network for
``precision_steps`` steps twice, in float32 (after the training yardstick: the training efficiency)
and in bf16 autocast, from the same weights and batches; write the record and the ModelZoo summary.

Usage:
    python pytorch/rdn/bench.py --out results/rdn_bench.json [--max_steps N] [--set precision_steps=4]
"""
from common import bench as harness        # first: the OpenMP thread policy, before torch loads

import os

import numpy as np
import torch

import train
from common import paths
from common.metrics import evaluate_pairs
from torchzoo import speed
from torchzoo.device import cpu_has_native_bf16
from utils import find_checkpoint, super_resolve

SCALE = 4
# The bench's training: a step count from a seed, so that a re-run on any CPU gives the same numbers.
BENCH = dict(steps=700, seed=1, batchSize=16, patch_size=128, lr=1e-3, milestones=(0.75,), gamma=0.25,
             dataset_enlarge_ratio=256, save_checkpoint_steps=400, precision_steps=8)


def train_argv(work, preset, **extra):
    """train.py flags of a bench run of ``preset`` (the lr drops at the preset's fractions of its steps)."""
    sample, steps = paths.SAMPLE_DATA_DIR, preset['steps']
    spe = -(-12 * preset['dataset_enlarge_ratio'] // preset['batchSize'])             # steps per epoch
    flags = {'preset': 'bench', 'upscale_factor': SCALE, 'datapath': sample / 'DIV2K',
             'test_path': sample / 'benchmark' / 'SampleTest', 'seed': preset['seed'],
             'batchSize': preset['batchSize'], 'patch_size': preset['patch_size'], 'lr': preset['lr'],
             'gamma': preset['gamma'], 'milestones': ','.join(f'{m * steps / spe:.6f}' for m in preset['milestones']),
             'dataset_enlarge_ratio': preset['dataset_enlarge_ratio'], 'max_steps': steps, 'threads': 0,
             'device': 'cpu', 'amp': 'fp32', 'channels_last': True, 'output_path': work, 'overwrite': True,
             'save_checkpoint_steps': preset['save_checkpoint_steps'], 'keep_checkpoint_max': 2}
    flags.update(extra)
    return [f'--{k}={v}' for k, v in flags.items()]


def precision_runs(bench, checkpoint, patch_flops):
    """``precision_steps`` more steps from the trained weights in fp32 and in bf16 autocast (same batches).

    The training yardstick is measured just before the fp32 run; returns the precision rows and the
    ``train`` argument of ``common.bench.speed_fields``.
    """
    p, out = bench.preset, {}
    steps, (timed_set, images) = p['precision_steps'], bench.first_set
    stick = speed.dense_conv('train')
    for mode in ('fp32', 'bf16'):
        run = dict(p, steps=steps, seed=p['seed'] + 1)
        argv = train_argv(bench.work / f'precision_{mode}', run, amp=mode, pre_trained_path=checkpoint,
                          lr=p['lr'] * p['gamma'] ** len(p['milestones']), milestones='', test_path='',
                          save_checkpoint_steps=0, tensorboard=False)
        summary, model = train.run(train.parse_args(argv))
        model.eval()
        psnr = float(np.mean([r['psnr'] for r in evaluate_pairs(
            [(n, super_resolve(model, lr, SCALE)[0], hr) for n, lr, hr in images], SCALE)]))
        out[mode] = {'images_per_sec': summary['images_per_sec'], 'psnr': psnr, 'psnr_on': timed_set, 'steps': steps}
        print(f"== {mode}: {summary['images_per_sec']:.2f} images/s over {steps} steps; {timed_set} {psnr:.4f} dB "
              f'after', flush=True)
    ratio = out['bf16']['images_per_sec'] / out['fp32']['images_per_sec']
    rows = dict(out, bf16_over_fp32=ratio, psnr_bf16_minus_fp32=out['bf16']['psnr'] - out['fp32']['psnr'],
                cpu_native_bf16=cpu_has_native_bf16())
    print(f"bf16/fp32 images/s {ratio:.2f} ({out['bf16']['images_per_sec']:.2f} / {out['fp32']['images_per_sec']:.2f})")
    train_speed = (harness.train_gflops(patch_flops, out['fp32']['images_per_sec']), stick,
                   f'the fp32 continuation run ({steps} steps of batch {p["batchSize"]})')
    return rows, train_speed


def main(argv=None):
    bench = harness.Bench('rdn', __doc__, BENCH, argv, min_steps=2)
    p = bench.preset
    if p['precision_steps'] < 2:
        raise ValueError(f"--set precision_steps={p['precision_steps']}: the comparison runs need at least 2 steps")
    torch.set_num_threads(len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else (os.cpu_count() or 1))
    summary, model = train.run(train.parse_args(train_argv(bench.work / 'train', p)))
    model = model.float().to(memory_format=torch.contiguous_format).eval()
    record = bench.new_record('pytorch', torch.__version__,
                              dict(p, scale=SCALE, preset='bench', arch=train.PRESETS['bench']))
    bench.evaluate('RDN', lambda lr, scale: super_resolve(model, lr, scale)[0], (SCALE,))

    patch = p['patch_size'] // SCALE
    per_pixel = speed.forward_flops(model, (1, 3, patch, patch)) / patch ** 2       # forward FLOPs per LR pixel
    infer = bench.time_inference(lambda lr: super_resolve(model, lr, SCALE),
                                 lambda lr: per_pixel * lr.shape[0] * lr.shape[1], lambda: speed.dense_conv('infer'))
    checkpoint = find_checkpoint(bench.work / 'train' / 'ckpt' / 'RDN')
    prec, train_speed = precision_runs(bench, checkpoint, per_pixel * patch ** 2)
    record['train'] = {'seconds': summary['seconds'], 'steps': summary['steps_run'], 'seed': p['seed'],
                       'batch_size': p['batchSize'], 'images_per_sec': summary['images_per_sec'],
                       'final_loss': summary['final_loss'], 'validation': summary['val'],
                       'epochs': summary['global_step'] / summary['steps_per_epoch']}
    record['speed'].update(harness.speed_fields(train_speed, infer), forward_flops_per_lr_pixel=per_pixel,
                           precision=prec)
    return bench.finish('rdn', p['batchSize'], summary['images_per_sec'], losses=summary['epoch_losses'])


if __name__ == '__main__':
    harness.run_cli(main)
