"""config.yaml + --key=value overrides, unknown keys, the bench preset, and the shell scripts' usage lines."""
import subprocess

import pytest
import yaml

from common import paths

SRCNN_DIR = paths.REPO_ROOT / 'mindspore' / 'srcnn'


def test_defaults_are_the_reference(srcnn):
    cfg = srcnn.config.load_config([])
    assert (cfg.lr, cfg.patch_size, cfg.batch_size, cfg.scale, cfg.stride) == (0.0001, 33, 16, 2, 99)
    assert (cfg.epoch_size, cfg.keep_checkpoint_max, cfg.save_checkpoint) == (20, 20, True)
    assert (cfg.file_name, cfg.file_format, cfg.onnx_path) == ('srcnn', 'MINDIR', 'srcnn.onnx')
    assert (cfg.image_width, cfg.image_height, cfg.device_target) == (512, 512, 'Ascend')


def test_overrides_take_the_type_of_the_default(srcnn):
    cfg = srcnn.config.load_config(['--lr=1e-3', '--batch_size=64', '--save_checkpoint=false',
                                    '--run_distribute=True', '--file_name=out/model'])
    assert cfg.lr == pytest.approx(1e-3) and isinstance(cfg.lr, float)
    assert cfg.batch_size == 64 and isinstance(cfg.batch_size, int)
    assert cfg.save_checkpoint is False and cfg.run_distribute is True
    assert cfg.file_name == 'out/model'


@pytest.mark.parametrize('argv, expected', [
    (['--learning_rate=0.1'], "unknown option '--learning_rate'"),
    (['--lr'], '--lr: expected one argument'),
    (['--batch_size=sixteen'], "--batch_size expects an int, got 'sixteen'"),
    (['--save_checkpoint=yes'], "--save_checkpoint expects True or False, got 'yes'"),
    (['--ep=3'], "unknown option '--ep'"),          # no prefix matching of epoch_size
    (['stray'], "unknown option 'stray'"),
])
def test_bad_flags_are_named(srcnn, argv, expected):
    with pytest.raises(srcnn.config.ConfigError, match='^' + expected.replace('(', r'\(')):
        srcnn.config.load_config(argv)


def test_config_path_selects_another_yaml(srcnn, tmp_path):
    other = tmp_path / 'small.yaml'
    other.write_text('lr: 0.5\nscale: 3\n---\nlr: "help for lr"\n')
    cfg = srcnn.config.load_config([f'--config_path={other}', '--scale=4'])
    assert cfg.to_dict() == {'lr': 0.5, 'scale': 4}
    with pytest.raises(srcnn.config.ConfigError, match='config file not found'):
        srcnn.config.load_config([f'--config_path={tmp_path / "missing.yaml"}'])


def test_bench_preset_only_uses_known_keys(srcnn):
    preset = yaml.safe_load((SRCNN_DIR / 'bench.yaml').read_text())
    cfg = srcnn.config.load_config([f'--{k}={v}' for k, v in preset.items()])
    assert cfg.max_train_seconds > 0 and cfg.device_target == 'CPU'
    assert cfg.max_train_seconds <= 500, 'the whole bench must fit 10 minutes'


@pytest.mark.parametrize('script, nargs', [
    ('run_single_train_cpu.sh', 2), ('run_single_train_ascend.sh', 5), ('run_single_train_gpu.sh', 1),
    ('run_distribute_train_ascend.sh', 4), ('run_distribute_train_gpu.sh', 3), ('run_eval_cpu.sh', 2),
    ('run_eval_ascend.sh', 4), ('run_eval_gpu.sh', 0), ('run_infer_310.sh', 2), ('run_onnx_eval_cpu.sh', 2),
    ('run_onnx_eval_gpu.sh', 4),
])
def test_scripts_print_usage_on_wrong_argument_count(script, nargs):
    proc = subprocess.run(['bash', str(SRCNN_DIR / 'scripts' / script)] + ['x'] * nargs,
                          capture_output=True, text=True, timeout=20)
    assert proc.returncode == 1
    assert proc.stdout.startswith(f'Usage: bash {script} [')


def test_script_rejects_missing_checkpoint(tmp_path):
    proc = subprocess.run(['bash', str(SRCNN_DIR / 'scripts' / 'run_eval_cpu.sh'), '0', str(tmp_path),
                           str(tmp_path / 'none.ckpt')], capture_output=True, text=True, timeout=20, cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.strip() == f'error: CHECKPOINT_PATH={tmp_path / "none.ckpt"} is not a file'


@pytest.mark.parametrize('target, level, scaled', [('Ascend', 'O3', True), ('GPU', 'O2', True), ('CPU', 'O0', False)])
def test_precision_settings_per_device(srcnn, target, level, scaled):
    """The Ascend/GPU branches are checked by the settings they build (no such device here)."""
    import mindspore as ms
    assert srcnn.utils.resolve_amp_level('auto', target) == level
    manager = srcnn.utils.loss_scale_manager(level, target)
    assert isinstance(manager, ms.amp.DynamicLossScaleManager) if scaled else manager is None
    assert srcnn.utils.loss_scale_manager('O3', 'CPU') is None
    with pytest.raises(srcnn.config.ConfigError, match='--amp_level'):
        srcnn.utils.resolve_amp_level('fp16', target)
