"""RCAN bench: train the bench preset on the sample data for a fixed number of steps, evaluate, record.

Steps: ensure the sample data (common.sample_data); measure a dense TF convolution in this process;
train main.py's preset (PRESET: a small RCAN, a fixed step count from a fixed seed) on
datasets/sample/DIV2K x2; evaluate the final checkpoint on Set5 x2 with the authors' LR inputs (when
the shared data exist) and on the held-out SampleTest x2, each beside the bicubic baseline of the same
run, by the published protocol (common.metrics); time inference per Set5 image; write the result
record (common.records), bicubic | RCAN | HR comparisons and the ModelZoo summary.

    python tensorflow/rcan/bench.py --out results/rcan_bench.json     # what `make bench MODEL=rcan` runs
"""
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')      # TensorFlow's C++ INFO lines off, warnings kept
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '1')     # oneDNN kernels: about 2x faster training on CPU
for _path in (HERE.parents[1], HERE.parent, HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import argparse  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from common import paths, records  # noqa: E402
from common.metrics import evaluate_pairs, protocol  # noqa: E402
from common.sample_data import ensure_sample_data  # noqa: E402
from common.timing import latency_ms  # noqa: E402
from common.visual import detail_box, side_by_side  # noqa: E402
from tools.bench_bicubic import benchmark_sets, bicubic_pairs, load_set5_layout  # noqa: E402

COMMAND = 'make bench MODEL=rcan'
NETWORK = 'RCAN_ID0268_for_TensorFlow'
# The bench preset: main.py flags. A small RCAN (3 groups x 3 RCABs, 32 features; the reference is
# 10 x 20, 64) trained from the reference's initialisation with a larger lr that drops to a quarter for
# the last 20% of the steps (exponential_decay, staircase: decay_step 80% of max_step, rate 0.25).
PRESET = {
    'scale': 2, 'n_feats': 32, 'n_RG': 3, 'n_RCAB': 3, 'ratio': 16, 'kernel_size': 3,
    'patch_size': 32, 'batch_size': 16, 'max_step': 1600, 'learning_rate': 5e-4, 'decay_step': 1280,
    'decay_rate': 0.25, 'seed': 1, 'dataset_enlarge_ratio': 16, 'log_freq': 100, 'model_save_freq': 800,
    'keep_checkpoint_max': 1, 'intra_op_threads': 0, 'inter_op_threads': 1,
}
GOAL_DB = 1.0        # Set5 x2 must beat bicubic by this much


def conv_macs_per_lr_pixel(scale, n_feats, n_RG, n_RCAB, kernel_size=3):
    """Multiply-accumulates of the per-pixel convolutions per LR pixel (channel attention's 1x1 convs on
    pooled vectors are left out: they do not grow with the image)."""
    k2, f = kernel_size * kernel_size, n_feats
    body = k2 * 3 * f + n_RG * (2 * n_RCAB + 1) * k2 * f * f + k2 * f * f
    if scale == 3:
        tail = k2 * f * 9 * f
    else:
        tail = sum(k2 * f * 4 * f * 4 ** i for i in range(int(np.log2(scale))))
    return body + tail + k2 * f * 3 * scale * scale


def preset_argv(work_dir, max_step):
    flags = dict(PRESET)
    if max_step:                                 # a trial length: the lr drop stays at 80% of it
        flags.update(max_step=max_step, decay_step=max(1, round(0.8 * max_step)))
    train = paths.SAMPLE_DATA_DIR / 'DIV2K'
    flags.update(train_GT_path=train / 'DIV2K_train_HR', train_LR_path=train / 'DIV2K_train_LR_bicubic' / 'X2',
                 model_path=work_dir / 'model', log_dir=work_dir / 'logs')
    return [f'--{k}={v}' for k, v in flags.items()]


def evaluate(record, predict, scale, work_dir):
    """Score RCAN and bicubic on every set; returns {set name: (rcan mean, bicubic mean)} and Set5 inputs."""
    proto, means, timing = protocol(scale), {}, None
    for name, root in benchmark_sets():
        images = list(load_set5_layout(root, scale))
        srs = {n: predict(np.ascontiguousarray(lr[:, :, ::-1]))[:, :, ::-1] for n, lr, _ in images}
        ours = records.add_evaluation(record, name, scale, 'rcan',
                                      evaluate_pairs([(n, srs[n], hr) for n, _, hr in images], scale), proto)
        bicubic = bicubic_pairs(root, scale)
        base = records.add_evaluation(record, name, scale, 'bicubic', evaluate_pairs(bicubic, scale), proto)
        means[name] = (ours['mean']['psnr'], base['mean']['psnr'])
        psnr = {kind: {r['name']: r['psnr'] for r in ev['per_image']} for kind, ev in (('rcan', ours), ('bic', base))}
        for (n, up, hr) in bicubic:
            hr = hr[:srs[n].shape[0], :srs[n].shape[1]]
            side_by_side([up[:hr.shape[0], :hr.shape[1]], srs[n], hr],
                         [f"bicubic {psnr['bic'][n]:.2f} dB", f"RCAN {psnr['rcan'][n]:.2f} dB", 'HR'],
                         work_dir / 'compare' / f'{name}_{n}_x{scale}.png', box=detail_box(hr, 48), zoom=3)
        print(f"== {name} x{scale}: RCAN {ours['mean']['psnr']:.2f} dB / {ours['mean']['ssim']:.4f}, bicubic "
              f"{base['mean']['psnr']:.2f} dB / {base['mean']['ssim']:.4f} ({proto['label']})", flush=True)
        if timing is None:
            timing = (name, [np.ascontiguousarray(lr[:, :, ::-1]) for _, lr, _ in images])
    return means, timing


def run_bench(out, max_step=None, work_dir=None):
    """The whole bench; returns the record."""
    e2e_start = time.time()
    work_dir = Path(work_dir or paths.REPO_ROOT / 'outputs' / 'rcan_bench').resolve()
    for sub in ('model', 'logs', 'compare'):
        shutil.rmtree(work_dir / sub, ignore_errors=True)       # what an earlier bench left
    work_dir.mkdir(parents=True, exist_ok=True)
    ensure_sample_data(paths.SAMPLE_DATA_DIR)

    import main
    argv = preset_argv(work_dir, max_step)
    args = main.build_parser().parse_args(argv)
    import tensorflow as tf
    import mode
    import util
    from tfzoo.session import session_config
    from tfzoo.speed import dense_conv_gflops
    config = session_config(intra_op_threads=args.intra_op_threads, inter_op_threads=args.inter_op_threads)
    dense = dense_conv_gflops(config)          # the first Session: it sizes this process's thread pools
    print(f'dense conv throughput (64->64 3x3, TF CPU): {dense:.1f} GFLOP/s', flush=True)

    cwd = os.getcwd()
    os.chdir(work_dir)                         # main.py writes relative files (none with this preset) here
    try:
        summary = main.main(argv)
        test_args = main.build_parser().parse_args(argv + ['--mode=test', f'--pre_trained_model={work_dir / "model"}'])
        sess, model = mode.inference_session(test_args, 'bench')
    finally:
        os.chdir(cwd)
    record = records.new_record('rcan', 'tensorflow', tf.__version__, 'bench', COMMAND,
                                config=dict(vars(args), preset='tensorflow/rcan/bench.py PRESET'))
    with sess:
        predict = util.make_predictor(sess, model)
        means, (timed_set, inputs) = evaluate(record, predict, args.scale, work_dir)
        infer_ms = latency_ms(predict, inputs)

    flops_step = 3 * 2 * conv_macs_per_lr_pixel(args.scale, args.n_feats, args.n_RG, args.n_RCAB, args.kernel_size) \
        * args.batch_size * args.patch_size ** 2
    train_gflops = flops_step * summary['steps_run'] / summary['seconds'] / 1e9
    record['train'] = {
        'seconds': summary['seconds'], 'steps': summary['steps_run'], 'batch_size': args.batch_size,
        'patch_size': args.patch_size, 'images_per_sec': summary['images_per_sec'],
        'steps_per_sec': summary['steps_run'] / summary['seconds'], 'final_loss': summary['final_loss'],
        'logged_losses': summary['losses'], 'log_freq': args.log_freq, 'steps_per_epoch': summary['steps_per_epoch'],
    }
    record['speed'] = {'infer_ms_per_image': infer_ms, 'infer_dataset': timed_set,
                       'train_conv_gflops': train_gflops, 'dense_conv_gflops': dense,
                       'conv_efficiency': train_gflops / dense, 'train_flops_per_step': flops_step}
    e2e = time.time() - e2e_start
    record['train']['e2e_sec'] = e2e
    records.save_record(record, out)

    print(f"\ntrain: {summary['steps_run']} steps in {summary['seconds']:.0f} s, {summary['images_per_sec']:.1f} "
          f"images/s; conv {train_gflops:.1f} GFLOP/s = {train_gflops / dense:.2f} of dense ({dense:.1f}); "
          f'inference {infer_ms:.1f} ms/image ({timed_set})')
    for name, (ours, base) in means.items():
        goal = GOAL_DB if name == 'Set5' else 0.0
        verdict = 'met' if ours - base >= goal else 'NOT met'
        print(f'goal {name} x{args.scale}: RCAN >= bicubic + {goal:.1f} dB: {verdict} ({ours - base:+.2f} dB)')
    step_time = summary['seconds'] / summary['steps_run']
    records.modelzoo_summary(work_dir, NETWORK, args.batch_size, summary['images_per_sec'], step_time, e2e,
                             train_accuracy=means.get('Set5', means['SampleTest'])[0], losses=summary['losses'])
    print(f'record written to {out}')
    return record


def main_cli(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', required=True, help='result record (JSON), e.g. results/rcan_bench.json')
    parser.add_argument('--max_step', type=int, default=None,
                        help=f"training steps (default: the preset's {PRESET['max_step']}; for trials only)")
    parser.add_argument('--work_dir', default=None, help='scratch folder (default: outputs/rcan_bench)')
    args = parser.parse_args(argv)
    run_bench(Path(args.out).resolve(), args.max_step, args.work_dir)


if __name__ == '__main__':
    from common.cli import run_cli
    run_cli(main_cli)
