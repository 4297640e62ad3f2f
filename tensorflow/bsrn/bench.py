"""BSRN bench: one multi-scale training of the bench preset for a fixed number of steps, then
Set5 x2/x3/x4 (the authors' LR inputs) and the held-out SampleTest beside bicubic, one record.

Steps: ensure the sample data (common.sample_data); measure a dense TF convolution in this process;
train train.py's PRESET (a light BSRN, random scale per step, fixed seed and step count) on
datasets/sample/DIV2K; evaluate the final checkpoint's ensemble on every set and scale by the
published protocol (common.metrics), beside the bicubic baseline of the same run; write the record
(common.records) and the ModelZoo summary.

    python tensorflow/bsrn/bench.py --out results/bsrn_bench.json     # what `make bench MODEL=bsrn` runs
"""
import flags  # noqa: F401  (sys.path: repo root, tensorflow/, this folder)

import argparse  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from common import paths, records  # noqa: E402
from common.metrics import evaluate_pairs, protocol  # noqa: E402
from common.sample_data import ensure_sample_data  # noqa: E402
from tfzoo.speed import dense_conv_gflops  # noqa: E402
from tools.bench_bicubic import benchmark_sets, bicubic_pairs, load_set5_layout  # noqa: E402

COMMAND = 'make bench MODEL=bsrn'
NETWORK = 'BSRN_ID1296_for_TensorFlow'
SCALES = (2, 3, 4)
# The bench preset (train.py flags): BSRN with c = s = 24 and R = 4 recursions sharing weights, one
# output after the last recursion (r = 4: the upsampler runs once, 27% faster per step than r = 2,
# which reached +0.96 dB at Set5 x2 in 4800 steps against +1.12 for this in 6600), LR patches 24,
# batch 8, gradient clip 5, Adam lr 5e-4 quartered for the last 20% of the steps.
# The reference is c = s = 64, R = 16, r = 1, lr 1e-4 for 10^6 steps: too slow for a CPU bench.
PRESET = {
    'scales': '2,3,4', 'bsrn_conv_features': 24, 'bsrn_state_features': 24, 'bsrn_recursions': 4,
    'bsrn_recursion_frequency': 4, 'input_patch_size': 24, 'batch_size': 8, 'bsrn_clip_norm': 5,
    'bsrn_learning_rate': 5e-4, 'bsrn_learning_rate_decay': 0.25, 'bsrn_learning_rate_decay_steps': 5280,
    'max_steps': 6600, 'seed': 1, 'log_freq': 100, 'save_freq': 500, 'save_max_keep': 1, 'summary_freq': 500,
    'sleep_ratio': 0, 'data_cached': True, 'chip': 'cpu', 'intra_op_threads': 0, 'inter_op_threads': 1,
}
GOAL_DB = {('Set5', 2): 1.0}        # beyond bicubic; every other set and scale: > 0


def conv_macs_per_lr_pixel(scale, c, s, recursions, frequency):
    """Conv multiply-accumulates per LR pixel of one training forward pass (every intermediate output)."""
    k2, total = 9, c + s
    body = k2 * 3 * c + recursions * 3 * k2 * total * total
    if scale == 3:
        tail = k2 * c * 9 * c
    else:
        tail = sum(k2 * c * 4 * c * 4 ** i for i in range(int(np.log2(scale))))
    return body + (recursions // frequency) * (tail + k2 * c * 3 * scale * scale)


def parse_overrides(items):
    """``--set KEY=VALUE`` items as a dict of PRESET keys (values stay text; train.py parses them)."""
    out = {}
    for item in items or ():
        key, sep, value = item.partition('=')
        if not sep or key not in PRESET:
            raise ValueError(f'--set {item}: expected KEY=VALUE with KEY one of the preset keys '
                             f'({", ".join(sorted(PRESET))})')
        out[key] = value
    return out


def preset_argv(work_dir, max_steps=None, overrides=None):
    values = dict(PRESET)
    if max_steps:                                   # a trial: the lr drop stays at 80% of it
        values.update(max_steps=max_steps, bsrn_learning_rate_decay_steps=max(1, round(0.8 * max_steps)))
    values.update(overrides or {})
    data = paths.SAMPLE_DATA_DIR / 'DIV2K'
    values.update(dataloader='div2k_loader', data_input_path=data / 'DIV2K_train_LR_bicubic',
                  data_truth_path=data / 'DIV2K_train_HR', train_path=work_dir / 'train')
    return [f'--{k}={v}' for k, v in values.items()]


def evaluate(record, upscaler):
    """BSRN (ensemble) and bicubic on every set and scale; returns {(set, scale): (bsrn, bicubic)}."""
    means = {}
    for name, root in benchmark_sets():
        for scale in SCALES:
            proto = protocol(scale)
            images = list(load_set5_layout(root, scale))       # BGR, as OpenCV reads
            pairs = [(n, upscaler.upscale(lr[:, :, ::-1], scale)[:, :, ::-1], hr) for n, lr, hr in images]
            ours = records.add_evaluation(record, name, scale, 'bsrn', evaluate_pairs(pairs, scale), proto)
            base = records.add_evaluation(record, name, scale, 'bicubic',
                                          evaluate_pairs(bicubic_pairs(root, scale), scale), proto)
            means[(name, scale)] = (ours['mean']['psnr'], base['mean']['psnr'])
            print(f"== {name} x{scale}: BSRN {ours['mean']['psnr']:.2f} dB / {ours['mean']['ssim']:.4f}, bicubic "
                  f"{base['mean']['psnr']:.2f} dB / {base['mean']['ssim']:.4f} ({proto['label']})", flush=True)
    return means


def run_bench(out, max_steps=None, work_dir=None, overrides=None):
    """The whole bench; returns the record."""
    e2e_start = time.time()
    load_before = open('/proc/loadavg').read().split()[:3]
    work_dir = Path(work_dir or paths.REPO_ROOT / 'outputs' / 'bsrn_bench').resolve()
    shutil.rmtree(work_dir / 'train', ignore_errors=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    ensure_sample_data(paths.SAMPLE_DATA_DIR)

    import train
    argv = preset_argv(work_dir, max_steps, overrides)
    args = train.build_parser().parse_args(argv)
    train.check_args(args)
    import tensorflow as tf
    dense = dense_conv_gflops(flags.session_config_for(args, npu=False))
    print(f'dense conv throughput (64->64 3x3, TF CPU): {dense:.1f} GFLOP/s', flush=True)

    summary = train.main(argv)
    from inference import Upscaler
    infer_args = train.build_parser().parse_args(argv + [f'--restore_path={work_dir / "train"}'])
    train.check_args(infer_args)
    record = records.new_record('bsrn', 'tensorflow', tf.__version__, 'bench', COMMAND,
                                config=dict({k: v for k, v in vars(args).items() if k not in ('restore_path',)},
                                            preset='tensorflow/bsrn/bench.py PRESET' + ''.join(
                                                f' {k}={v}' for k, v in (overrides or {}).items())))
    upscaler = Upscaler(infer_args)
    try:
        means = evaluate(record, upscaler)
    finally:
        upscaler.close()

    c, s, rec, freq = (args.bsrn_conv_features, args.bsrn_state_features, args.bsrn_recursions,
                       args.bsrn_recursion_frequency)
    # training conv FLOPs: forward + two backward passes, per step of the steps actually drawn per scale
    flops = sum(3 * 2 * conv_macs_per_lr_pixel(int(k[1:]), c, s, rec, freq) * args.batch_size
                * args.input_patch_size ** 2 * n for k, n in summary['steps_by_scale'].items())
    train_gflops = flops / summary['seconds'] / 1e9
    record['train'] = {
        'seconds': summary['seconds'], 'steps': summary['steps_run'], 'batch_size': args.batch_size,
        'patch_size': args.input_patch_size, 'images_per_sec': summary['images_per_sec'],
        'images_per_sec_by_scale': summary['images_per_sec_by_scale'], 'steps_by_scale': summary['steps_by_scale'],
        'final_loss': summary['final_loss'], 'logged_losses': summary['losses'], 'log_freq': args.log_freq,
        'load_average_before': load_before,
    }
    record['speed'] = {'train_conv_gflops': train_gflops, 'dense_conv_gflops': dense,
                       'conv_efficiency': train_gflops / dense}
    e2e = time.time() - e2e_start
    record['train']['e2e_sec'] = e2e
    record['train']['load_average_after'] = open('/proc/loadavg').read().split()[:3]
    records.save_record(record, out)

    by_scale = ', '.join(f'{k} {v:.1f}' for k, v in summary['images_per_sec_by_scale'].items())
    print(f"\ntrain: {summary['steps_run']} steps in {summary['seconds']:.0f} s, images/s {by_scale}; conv "
          f"{train_gflops:.1f} GFLOP/s = {train_gflops / dense:.2f} of dense ({dense:.1f})")
    for (name, scale), (ours, base) in means.items():
        goal = GOAL_DB.get((name, scale), 0.0)
        verdict = 'met' if ours - base > goal or (goal and ours - base >= goal) else 'NOT met'
        print(f'goal {name} x{scale}: BSRN > bicubic + {goal:.1f} dB: {verdict} ({ours - base:+.2f} dB)')
    records.modelzoo_summary(work_dir, NETWORK, args.batch_size, summary['images_per_sec'],
                             summary['seconds'] / max(1, summary['steps_run']), e2e,
                             train_accuracy=means.get(('Set5', 4), means[('SampleTest', 4)])[0],
                             losses=summary['losses'])
    print(f'record written to {out}')
    return record


def main_cli(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', required=True, help='result record (JSON), e.g. results/bsrn_bench.json')
    parser.add_argument('--max_steps', type=int, default=None,
                        help=f"training steps (default: the preset's {PRESET['max_steps']}; for trials only)")
    parser.add_argument('--work_dir', default=None, help='scratch folder (default: outputs/bsrn_bench)')
    parser.add_argument('--set', action='append', metavar='KEY=VALUE', dest='overrides',
                        help='change one preset value, e.g. --set bsrn_learning_rate=1e-3 (for trials only; '
                             'the record names it)')
    args = parser.parse_args(argv)
    run_bench(Path(args.out).resolve(), args.max_steps, args.work_dir, parse_overrides(args.overrides))


if __name__ == '__main__':
    from common.cli import run_cli
    run_cli(main_cli)
