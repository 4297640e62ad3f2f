"""config.yaml + --key=value overrides, unknown keys, the bench preset, and the shell scripts' usage lines."""
import json
import subprocess
import sys

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


def test_flags_are_parsed_by_common_cli_as_for_every_model(srcnn):
    """Booleans through common.cli.str2bool (`--resume=yes` works as for RCAN), ints through int_flag."""
    cfg = srcnn.config.load_config(['--resume=yes', '--save_checkpoint=0', '--overwrite=on', '--record_ranks=FALSE',
                                    '--max_steps=1e3', '--epoch_size=20.0'])
    assert (cfg.resume, cfg.save_checkpoint, cfg.overwrite, cfg.record_ranks) == (True, False, True, False)
    assert (cfg.max_steps, cfg.epoch_size) == (1000, 20) and isinstance(cfg.max_steps, int)


@pytest.mark.parametrize('argv, expected', [
    (['--learning_rate=0.1'], "unknown option '--learning_rate'"),
    (['--lr'], '--lr: expected one argument'),
    (['--batch_size=sixteen'], "--batch_size: expected an integer, got 'sixteen'"),
    (['--max_steps=1.5'], "--max_steps: expected a whole number, got '1.5'"),
    (['--lr=fast'], "--lr: expected a number, got 'fast'"),
    (['--save_checkpoint=maybe'], "--save_checkpoint: expected True or False, got 'maybe'"),
    (['--resume=Ture'], "--resume: expected True or False, got 'Ture'"),
    (['--ep=3'], "unknown option '--ep'"),          # no prefix matching of epoch_size
    (['stray'], "unknown option 'stray'"),
])
def test_bad_flags_are_named(srcnn, argv, expected):
    with pytest.raises(srcnn.config.ConfigError, match='^' + expected.replace('(', r'\(')):
        srcnn.config.load_config(argv)


def test_config_path_selects_another_yaml(srcnn, tmp_path):
    text = (SRCNN_DIR / 'config.yaml').read_text().split('\n---\n')[0]
    other = tmp_path / 'mine.yaml'
    other.write_text(text.replace('lr: 0.0001', 'lr: 0.5').replace('scale: 2', 'scale: 3'))
    cfg = srcnn.config.load_config([f'--config_path={other}', '--scale=4'])
    assert (cfg.lr, cfg.scale, cfg.batch_size) == (0.5, 4, 16)
    with pytest.raises(srcnn.config.ConfigError, match='config file not found'):
        srcnn.config.load_config([f'--config_path={tmp_path / "missing.yaml"}'])


@pytest.mark.parametrize('edit, expected', [
    (('lr: 0.0001', 'learnig_rate: 0.0001'), "unknown key 'learnig_rate'"),
    (('batch_size: 16', 'batch_sise: 16'), "unknown key 'batch_sise' (did you mean 'batch_size'?)"),
    (('epoch_size: 20\n', ''), "missing key 'epoch_size' (expected an int, e.g. 20)"),
    (('epoch_size: 20', 'epoch_size: 2.5'), "key 'epoch_size' must be an int, got 2.5"),
    (('lr: 0.0001', 'lr: "fast"'), "key 'lr' must be a number, got 'fast'"),
    (('save_checkpoint: True', 'save_checkpoint: 1'), "key 'save_checkpoint' must be a bool (True or False), got 1"),
    (('scale: 2', 'scale: [2, 3]'), "key 'scale' must be an int, got [2, 3]"),
])
def test_a_config_file_is_checked_against_config_yaml(srcnn, tmp_path, edit, expected):
    text = (SRCNN_DIR / 'config.yaml').read_text()
    assert edit[0] in text
    bad = tmp_path / 'bad.yaml'
    bad.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(srcnn.config.ConfigError) as err:
        srcnn.config.load_config([f'--config_path={bad}'])
    assert str(err.value) == f'{bad}: {expected}'


@pytest.mark.parametrize('edit, key, value', [
    (('lr: 0.0001', 'lr: 1e-4'), 'lr', 0.0001),               # YAML reads 1e-4 as text; --lr=1e-4 is a number
    (('lr: 0.0001', 'lr: 1'), 'lr', 1.0),                     # an int for a float key, as --lr=1 gives
    (('max_steps: 0', 'max_steps: 1e3'), 'max_steps', 1000),
    (('resume: False', 'resume: "yes"'), 'resume', True),
    (('save_checkpoint: True', 'save_checkpoint: "off"'), 'save_checkpoint', False),
])
def test_config_file_text_is_read_like_the_flag(srcnn, tmp_path, edit, key, value):
    text = (SRCNN_DIR / 'config.yaml').read_text()
    assert edit[0] in text
    mine = tmp_path / 'mine.yaml'
    mine.write_text(text.replace(edit[0], edit[1], 1))
    got = getattr(srcnn.config.load_config([f'--config_path={mine}']), key)
    assert got == value and type(got) is type(value)
    with pytest.raises(srcnn.config.ConfigError) as err:       # text the flag refuses is refused, naming the key
        mine.write_text(text.replace(edit[0], f'{key}: "fast"', 1))
        srcnn.config.load_config([f'--config_path={mine}'])
    assert str(err.value).startswith(f"{mine}: key '{key}' must be ")


def test_a_bad_config_file_exits_2_before_training(tmp_path):
    bad = tmp_path / 'bad.yaml'
    bad.write_text((SRCNN_DIR / 'config.yaml').read_text().replace('epoch_size: 20', 'epoch_size: 2.5'))
    out = tmp_path / 'out'
    proc = subprocess.run([sys.executable, str(SRCNN_DIR / 'train.py'), f'--config_path={bad}',
                           f'--output_path={out}'], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {bad}: key 'epoch_size' must be an int, got 2.5"]
    assert not out.exists()


def test_bench_preset_only_uses_known_keys(srcnn):
    preset = yaml.safe_load((SRCNN_DIR / 'bench.yaml').read_text())
    cfg = srcnn.config.load_config([f'--{k}={v}' for k, v in preset.items()])
    assert cfg.max_steps > 0 and cfg.max_train_seconds == 0 and cfg.device_target == 'CPU'


@pytest.mark.parametrize('script, nargs', [
    ('run_single_train_cpu.sh', 2), ('run_single_train_ascend.sh', 5), ('run_single_train_gpu.sh', 1),
    ('run_distribute_train_ascend.sh', 4), ('run_distribute_train_gpu.sh', 3), ('run_distribute_train_cpu.sh', 2),
    ('run_eval_cpu.sh', 2),
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


def test_bench_trials_are_config_keys_through_the_harness(srcnn, tmp_path):
    import importlib

    from common.bench import apply_trial
    bench = importlib.import_module('bench')
    preset, trial = apply_trial(bench.load_preset(), 40, 5, ['lr=0.001'], steps_keys=('max_steps',))
    cfg = srcnn.config.load_config(bench.preset_argv(preset, tmp_path))
    assert (cfg.max_steps, cfg.seed, cfg.lr, cfg.device_target) == (40, 5, 0.001, 'CPU')
    assert cfg.data_path == str(tmp_path / 'mindrecord') and trial['set'] == {'lr': 0.001}


def test_the_mindspore_yardstick_runs_in_graph_mode_and_leaves_nchw_the_only_cpu_format():
    # In a process of its own: a kernel run here would initialise MindSpore's runtime for every later test of
    # this interpreter, and their set_device() calls would then fail.
    import subprocess
    code = """
import json
import mindspore as ms
from common import bench as harness
harness.YARDSTICK.update(batch=2, height=8, width=8)
from src import yardstick
ms.set_device('CPU')
ms.set_context(mode=ms.PYNATIVE_MODE)
sticks = {mode: yardstick.dense_conv(mode, seconds=0.02) for mode in ('train', 'infer')}
print(json.dumps({'sticks': sticks, 'restored': ms.get_context('mode') == ms.PYNATIVE_MODE}))
"""
    proc = subprocess.run([sys.executable, '-c', code], cwd=SRCNN_DIR, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out['restored']
    for stick in out['sticks'].values():
        assert stick['layout'] == 'NCHW' and stick['measured']['NHWC'] is None and stick['gflops'] > 0
