"""SRCNN bench: build the sample training set, train a fixed number of steps from a fixed seed on CPU, evaluate, record.

Steps: ensure the sample data (common.sample_data); build the mindrecord from
datasets/sample/DIV2K/DIV2K_train_HR with the bench preset (bench.yaml, applied over config.yaml);
measure this machine's dense convolution throughput in MindSpore; train (train.py) for the preset's
max_steps (a step count, not a time budget, so a re-run on any CPU reproduces the record's numbers);
evaluate Set5 x2 (shared data, when present: the authors' LR inputs, and LR made from HR
by common.imresize) and SampleTest x2, each with the bicubic baseline of the same run; time inference;
write the result record (common.records) and print the ModelZoo summary lines.

Usage:
    python mindspore/srcnn/bench.py --out results/srcnn_bench.json [--max_steps 3000]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for `common`

import argparse  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from common import paths, records  # noqa: E402
from common.config import load_checked  # noqa: E402
from common.sample_data import ensure_sample_data  # noqa: E402
from common.timing import calls_per_second, latency_ms  # noqa: E402
from common.visual import detail_box, side_by_side  # noqa: E402
from src.create_dataset import build_mindrecord  # noqa: E402
from src.dataset import list_eval_images, load_eval_images  # noqa: E402
from src.metric import evaluate_images, mean, report  # noqa: E402
from src.model_utils.config import ConfigError, load_config  # noqa: E402
from src.srcnn import train_flops_per_patch  # noqa: E402
from src.utils import ms_predictor, prepare_pair, run_cli  # noqa: E402
from train import train  # noqa: E402

import mindspore as ms  # noqa: E402
from mindspore import nn  # noqa: E402

HERE = Path(__file__).resolve().parent
PRESET = HERE / 'bench.yaml'
COMMAND = 'make bench MODEL=srcnn'


def preset_argv(preset_path, work_dir, max_steps):
    """config.yaml overridden by the preset file, as --key=value flags (keys checked against config.yaml)."""
    preset = load_checked(preset_path, HERE / 'config.yaml', flag='--preset', require_all=False)[0]
    preset.update({'data_path': str(work_dir / 'mindrecord'), 'output_path': str(work_dir / 'train'),
                   'device_target': 'CPU'})
    if max_steps is not None:
        preset['max_steps'] = max_steps
    return [f'--{k}={v}' for k, v in preset.items()]


def dense_conv_gflops(seconds=3.0):
    """Forward GFLOP/s of one large 64->64 3x3 convolution on [16, 64, 128, 128] (GRAPH mode)."""
    conv = nn.Conv2d(64, 64, 3, pad_mode='same')
    x = ms.Tensor(np.random.default_rng(0).random((16, 64, 128, 128), dtype=np.float32))
    flops = 2.0 * 16 * 64 * 64 * 9 * 128 * 128
    return flops * calls_per_second(lambda: conv(x).asnumpy(), seconds) / 1e9


def eval_sets(scale):
    """(dataset name, data_path, lr_path) triples: Set5 (when shared data exist) and SampleTest."""
    sets = []
    set5 = paths.set5_dir()
    if set5 is not None:
        sets.append(('Set5', set5, set5 / 'LR_bicubic' / f'x{scale}'))
        sets.append(('Set5 (LR by common.imresize)', set5, ''))
    else:
        print('notice: shared Set5 not found (set SR_SHARED_DATA); evaluating SampleTest only')
    sets.append(('SampleTest', paths.SAMPLE_DATA_DIR / 'benchmark' / 'SampleTest', ''))
    return sets


def write_comparisons(folder, set_name, images, result, scale, crop=64, zoom=3):
    """bicubic | SRCNN | HR crops (the most detailed window, zoomed) with per-image PSNR, one PNG per image."""
    psnr = {kind: {r['name']: r['psnr'] for r in result[kind]} for kind in ('bicubic', 'srcnn')}
    slug = '_'.join(set_name.replace('(', ' ').replace(')', ' ').replace('.', ' ').split())
    for name, hr, lr in images:
        pair = prepare_pair(hr, scale, lr, name=name)
        box = detail_box(pair['hr'], crop)
        side_by_side([pair['up'], result['outputs'][name], pair['hr']],
                     [f"bicubic {psnr['bicubic'][name]:.2f} dB", f"SRCNN {psnr['srcnn'][name]:.2f} dB", 'HR'],
                     Path(folder) / f"{slug}_{name}_x{scale}.png", box=box, zoom=zoom)
    print(f'side-by-side comparisons: {folder}', flush=True)


def run_bench(out, max_steps=None, preset=PRESET, work_dir=None):
    """The whole bench; returns the record."""
    e2e_start = time.time()
    work_dir = Path(work_dir or paths.REPO_ROOT / 'outputs' / 'srcnn_bench')
    shutil.rmtree(work_dir / 'train', ignore_errors=True)      # checkpoints and curves of an earlier run
    for old in work_dir.glob('srcnn_bs*_1p_*'):                 # its ModelZoo case files
        old.unlink()
    ensure_sample_data(paths.SAMPLE_DATA_DIR)
    cfg = load_config(preset_argv(preset, work_dir, max_steps), description='bench preset')
    if cfg.max_steps <= 0 or cfg.max_train_seconds:
        raise ConfigError(f'{preset}: a bench trains a fixed step count: set max_steps > 0 and no max_train_seconds')
    train_dir = paths.SAMPLE_DATA_DIR / 'DIV2K' / 'DIV2K_train_HR'
    patches = build_mindrecord(train_dir, cfg.data_path, scale=cfg.scale, patch_size=cfg.patch_size,
                               stride=cfg.stride, overwrite=True, min_patch_std=cfg.min_patch_std, progress=False)
    print(f'training set: {patches} patches of {cfg.patch_size}px (stride {cfg.stride}) from {train_dir}', flush=True)

    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device('CPU')
    dense = dense_conv_gflops()
    print(f'dense conv throughput (64->64 3x3, MindSpore CPU): {dense:.1f} GFLOP/s', flush=True)

    summary, net = train(cfg)
    net.set_train(False)
    ms.set_context(mode=ms.PYNATIVE_MODE)
    predict = ms_predictor(net)

    record = records.new_record('srcnn', 'mindspore', ms.__version__, 'bench', COMMAND,
                                config=dict(cfg.to_dict(), preset=preset.name))
    set5_inputs = None
    for name, data_path, lr_path in eval_sets(cfg.scale):
        images = load_eval_images(list_eval_images(data_path, cfg.scale, lr_path))
        result = evaluate_images(predict, images, cfg.scale, keep_outputs=True)
        report(result, 'standard', title=f'== {name} x{cfg.scale} ({len(images)} images)')
        write_comparisons(work_dir / 'compare', name, images, result, cfg.scale)
        records.add_evaluation(record, name, cfg.scale, 'srcnn', result['srcnn'], result['protocol'])
        records.add_evaluation(record, name, cfg.scale, 'bicubic', result['bicubic'], result['protocol'])
        if set5_inputs is None:          # latency on the first set: Set5 when present
            set5_inputs = (name, [prepare_pair(hr, cfg.scale, lr)['y_in'] for _, hr, lr in images])
    infer_ms = latency_ms(predict, set5_inputs[1])

    pps = summary['patches_per_sec'] or 0.0
    train_gflops = train_flops_per_patch(net, cfg.patch_size) * pps / 1e9
    record['train'] = {
        'seconds': summary['seconds'], 'max_steps': cfg.max_steps, 'steps': summary['steps_run'], 'seed': cfg.seed,
        'epochs': summary['steps_run'] / summary['steps_per_epoch'], 'patches': summary['steps_run'] * cfg.batch_size,
        'dataset_patches': patches, 'patches_per_sec': pps, 'batch_size': cfg.batch_size,
        'final_loss': summary['final_loss'],
    }
    record['speed'] = {
        'infer_ms_per_image': infer_ms, 'infer_dataset': set5_inputs[0],
        'train_conv_gflops': train_gflops, 'dense_conv_gflops': dense,
        'conv_efficiency': train_gflops / dense if dense else None,
        'train_flops_per_patch': train_flops_per_patch(net, cfg.patch_size),
    }
    e2e = time.time() - e2e_start
    record['train']['e2e_sec'] = e2e
    records.save_record(record, out)
    head = records.find_evaluation(record, set5_inputs[0], cfg.scale, 'srcnn')
    print(f"\ntrain: {summary['steps_run']} steps in {summary['seconds']:.0f} s, {pps:.1f} patches/s; "
          f"conv {train_gflops:.1f} GFLOP/s = {100 * train_gflops / dense:.0f}% of dense ({dense:.1f}); "
          f'inference {infer_ms:.1f} ms/image ({set5_inputs[0]})')
    step_time = cfg.batch_size / pps if pps else 0.0
    records.modelzoo_summary(work_dir, 'srcnn', cfg.batch_size, pps, step_time, e2e,
                             train_accuracy=head['mean']['psnr'], losses=summary['losses'])
    print(f'record written to {out}')
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', required=True, help='result record (JSON) to write, e.g. results/srcnn_bench.json')
    parser.add_argument('--max_steps', type=int, default=None,
                        help='training steps (default: max_steps of bench.yaml; the record is only comparable at that)')
    parser.add_argument('--preset', default=str(PRESET), help='bench preset YAML (keys of config.yaml)')
    parser.add_argument('--work_dir', default=None, help='scratch folder (default: outputs/srcnn_bench)')
    args = parser.parse_args(argv)
    run_bench(args.out, args.max_steps, Path(args.preset), args.work_dir)


if __name__ == '__main__':
    run_cli(main)
