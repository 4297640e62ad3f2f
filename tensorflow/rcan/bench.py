"""RCAN bench: train the bench preset on the sample data for a fixed number of steps, evaluate, record.

The preset (``PRESET``: main.py flags) on the harness of every bench (common.bench): measure the training
yardstick (the process's first Session: it sizes the thread pools); train a small RCAN for a fixed step
count from a fixed seed on datasets/sample/DIV2K x2; score the final checkpoint on Set5 x2 (the authors'
LR inputs, where the shared data are) and the held-out SampleTest x2 beside bicubic, with crops; time
whole-image inference after the inference yardstick; write the record and the ModelZoo summary.

    python tensorflow/rcan/bench.py --out results/rcan_bench.json     # what `make bench MODEL=rcan` runs
"""
from common import bench as harness        # first: the OpenMP thread policy, before TensorFlow loads

import os

import numpy as np

import main
from common import paths

NETWORK = 'RCAN_ID0268_for_TensorFlow'
# The bench preset: main.py flags. A small RCAN (3 groups x 3 RCABs, 32 features; the reference is
# 10 x 20, 64) trained from the reference's initialisation with a larger lr that drops to a quarter for
# the last 20% of the steps (exponential_decay, staircase: decay_step = lr_drop_at x max_step, rate 0.25).
# Not in the reference, labelled: --bicubic_skip (the output adds the bicubic upscale of the input, so the
# network learns the residual; without it 4400 steps reached Set5 x2 +2.23 dB in 1049 s of training).
PRESET = {
    'scale': 2, 'n_feats': 32, 'n_RG': 3, 'n_RCAB': 3, 'ratio': 16, 'kernel_size': 3,
    'patch_size': 32, 'batch_size': 16, 'max_step': 3600, 'learning_rate': 5e-4, 'lr_drop_at': 0.8,
    'decay_rate': 0.25, 'seed': 1, 'dataset_enlarge_ratio': 16, 'log_freq': 100, 'model_save_freq': 900,
    'keep_checkpoint_max': 1, 'intra_op_threads': 0, 'inter_op_threads': 1, 'bicubic_skip': True,
}
GOALS = {('Set5', 2, 'rcan'): 2.3}        # Set5 x2 must beat bicubic by this much (issue 20)


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


def preset_argv(work_dir, preset):
    """main.py flags of ``preset`` (the lr drop at ``lr_drop_at`` of the steps) writing under ``work_dir``."""
    flags = {k: v for k, v in preset.items() if k != 'lr_drop_at'}
    flags['decay_step'] = max(1, round(preset['lr_drop_at'] * preset['max_step']))
    train = paths.SAMPLE_DATA_DIR / 'DIV2K'
    flags.update(train_GT_path=train / 'DIV2K_train_HR', train_LR_path=train / 'DIV2K_train_LR_bicubic' / 'X2',
                 model_path=work_dir / 'model', log_dir=work_dir / 'logs')
    return [f'--{k}={v}' for k, v in flags.items()]


def main_cli(argv=None):
    bench = harness.Bench('rcan', __doc__, PRESET, argv, steps_keys=('max_step',))
    work = bench.work
    argv = preset_argv(work, bench.preset)
    args = main.build_parser().parse_args(argv)
    import tensorflow as tf
    import mode
    import util
    from tfzoo import speed
    from tfzoo.session import session_config
    config = session_config(intra_op_threads=args.intra_op_threads, inter_op_threads=args.inter_op_threads)
    train_stick = speed.dense_conv(config, 'train')      # the first Session: it sizes this process's thread pools

    cwd = os.getcwd()
    os.chdir(work)                             # main.py writes relative files (none with this preset) here
    try:
        summary = main.main(argv)
        test_args = main.build_parser().parse_args(argv + ['--mode=test', f'--pre_trained_model={work / "model"}'])
        sess, model = mode.inference_session(test_args, 'bench')
    finally:
        os.chdir(cwd)
    record = bench.new_record('tensorflow', tf.__version__, dict(vars(args), preset='tensorflow/rcan/bench.py PRESET'))
    macs = conv_macs_per_lr_pixel(args.scale, args.n_feats, args.n_RG, args.n_RCAB, args.kernel_size)
    with sess:
        predict = util.make_predictor(sess, model)                         # RGB in, RGB out
        bench.evaluate('RCAN', lambda lr, scale: predict(np.ascontiguousarray(lr[:, :, ::-1]))[:, :, ::-1],
                       (args.scale,), crop=48)
        infer = bench.time_inference(predict, lambda lr: 2 * macs * lr.shape[0] * lr.shape[1],
                                     lambda: speed.dense_conv(config, 'infer'),
                                     [np.ascontiguousarray(lr[:, :, ::-1]) for _, lr, _ in bench.first_set[1]])

    record['train'] = {
        'seconds': summary['seconds'], 'steps': summary['steps_run'], 'batch_size': args.batch_size,
        'patch_size': args.patch_size, 'images_per_sec': summary['images_per_sec'],
        'steps_per_sec': summary['steps_run'] / summary['seconds'], 'final_loss': summary['final_loss'],
        'logged_losses': summary['losses'], 'log_freq': args.log_freq, 'steps_per_epoch': summary['steps_per_epoch'],
    }
    train_speed = (harness.train_gflops(2 * macs * args.patch_size ** 2, summary['images_per_sec']), train_stick,
                   f'the training ({summary["steps_run"]} steps of batch {args.batch_size})')
    record['speed'].update(harness.speed_fields(train_speed, infer), forward_macs_per_lr_pixel=macs)
    return bench.finish(NETWORK, args.batch_size, summary['images_per_sec'], losses=summary['losses'], goals=GOALS)


if __name__ == '__main__':
    harness.run_cli(main_cli)
