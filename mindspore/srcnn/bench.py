"""SRCNN bench: build the sample training set, train a fixed number of steps from a fixed seed on CPU, evaluate, record.

The preset (``bench.yaml``, applied over config.yaml) on the harness of every bench (common.bench): build
the mindrecord from datasets/sample/DIV2K/DIV2K_train_HR; measure the training yardstick; train
(train.py) for the preset's max_steps (a step count, not a time budget, so a re-run on any CPU
reproduces the record); score Set5 x2 (the authors' LR inputs, where the shared data are) and SampleTest
x2 beside bicubic, with crops; time the network on whole images after the inference yardstick; write the
record and the ModelZoo summary.

Usage:
    python mindspore/srcnn/bench.py --out results/srcnn_bench.json [--max_steps 3000] [--set lr=0.001]
"""
from common import bench as harness        # first: the OpenMP thread policy, before MindSpore loads

from pathlib import Path

import mindspore as ms

from common import paths
from common.config import ConfigError, load_checked
from common.imresize import imresize
from src.create_dataset import build_mindrecord
from src.model_utils.config import load_config
from src.srcnn import conv_macs_per_pixel
from src.utils import compose_sr, ms_predictor, y_of
from src.yardstick import dense_conv
from train import train

HERE = Path(__file__).resolve().parent
PRESET = HERE / 'bench.yaml'


def load_preset(path=PRESET):
    """The preset file's values (every key a config.yaml key, checked)."""
    return load_checked(path, HERE / 'config.yaml', flag='--preset', require_all=False)[0]


def preset_argv(preset, work_dir):
    """config.yaml overridden by ``preset``, as --key=value flags, writing under ``work_dir``."""
    flags = dict(preset, data_path=work_dir / 'mindrecord', output_path=work_dir / 'train', device_target='CPU')
    return [f'--{k}={v}' for k, v in flags.items()]


def main(argv=None):
    bench = harness.Bench('srcnn', __doc__, load_preset(), argv, steps_keys=('max_steps',))
    cfg = load_config(preset_argv(bench.preset, bench.work), description='bench preset')
    if cfg.max_steps <= 0 or cfg.max_train_seconds:
        raise ConfigError(f'{PRESET}: a bench trains a fixed step count: set max_steps > 0 and no max_train_seconds')
    train_dir = paths.SAMPLE_DATA_DIR / 'DIV2K' / 'DIV2K_train_HR'
    patches = build_mindrecord(train_dir, cfg.data_path, scale=cfg.scale, patch_size=cfg.patch_size,
                               stride=cfg.stride, overwrite=True, min_patch_std=cfg.min_patch_std, progress=False)
    print(f'training set: {patches} patches of {cfg.patch_size}px (stride {cfg.stride}) from {train_dir}', flush=True)

    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device('CPU')
    train_stick = dense_conv('train')
    summary, net = train(cfg)
    net.set_train(False)
    ms.set_context(mode=ms.PYNATIVE_MODE)
    network = ms_predictor(net)                    # Y (H, W) in [0, 1] -> Y

    def predict(lr, scale):                       # the network's Y in the bicubic image's colour
        up = imresize(lr, scale=scale)
        return compose_sr(network(y_of(up)), up)

    record = bench.new_record('mindspore', ms.__version__, dict(cfg.to_dict(), preset=PRESET.name))
    bench.evaluate('SRCNN', predict, (cfg.scale,))
    macs = conv_macs_per_pixel(net)
    infer = bench.time_inference(network, lambda y: 2 * macs * y.size, lambda: dense_conv('infer'),
                                 [y_of(imresize(lr, scale=cfg.scale)) for _, lr, _ in bench.first_set[1]])

    pps = summary['patches_per_sec'] or 0.0
    record['train'] = {
        'seconds': summary['seconds'], 'max_steps': cfg.max_steps, 'steps': summary['steps_run'], 'seed': cfg.seed,
        'epochs': summary['steps_run'] / summary['steps_per_epoch'], 'patches': summary['steps_run'] * cfg.batch_size,
        'dataset_patches': patches, 'patches_per_sec': pps, 'batch_size': cfg.batch_size,
        'final_loss': summary['final_loss'],
    }
    train_speed = (harness.train_gflops(2 * macs * cfg.patch_size ** 2, pps), train_stick,
                   f"the training ({summary['steps_run']} steps of batch {cfg.batch_size})")
    record['speed'].update(harness.speed_fields(train_speed, infer), forward_macs_per_pixel=macs)
    return bench.finish('srcnn', cfg.batch_size, pps, losses=summary['losses'])


if __name__ == '__main__':
    harness.run_cli(main)
