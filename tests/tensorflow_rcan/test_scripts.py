"""test/train_performance_1p.sh and train_full_1p.sh: --x=value arguments, the log the scripts grep, the
ModelZoo summary, from any working directory."""
import os
import shutil
import subprocess
import sys

from common import paths

RCAN_DIR = paths.REPO_ROOT / 'tensorflow' / 'rcan'


def _copy(tmp_path):
    """This model folder copied to tmp (the scripts write test/output/ next to themselves), and an
    environment without PYTHONPATH: common and tfzoo come from the interpreter's installed packages."""
    target = tmp_path / 'zoo' / 'tensorflow' / 'rcan'
    shutil.copytree(RCAN_DIR, target, ignore=shutil.ignore_patterns('output', '__pycache__', 'model_dir', 'logs'))
    env = dict(os.environ, PYTHON=sys.executable, ASCEND_DEVICE_ID='0')
    env.pop('PYTHONPATH', None)
    return target, env


def test_performance_script_from_another_folder(tiny_data, tmp_path):
    rcan_dir, env = _copy(tmp_path)
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    data = tmp_path / 'DIV2K'
    data.mkdir()
    (data / 'DIV2K_train_HR').symlink_to(tiny_data / 'DIV2K_train_HR')
    (data / 'DIV2K_train_LR_bicubic').symlink_to(tiny_data / 'DIV2K_train_LR_bicubic')
    result = subprocess.run(
        ['bash', str(rcan_dir / 'test' / 'train_performance_1p.sh'), '--data_path=../DIV2K', '--max_step=3',
         '--batch=4', '--n_feats=16', '--n_RG=1', '--n_RCAB=1', '--ratio=4', '--patch_size=12',
         '--dataset_enlarge_ratio=2', '--intra_op_threads=1'],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=180)
    out = rcan_dir / 'test' / 'output' / '0'
    assert result.returncode == 0, result.stdout + result.stderr + (out / 'train_0.log').read_text()
    log = (out / 'train_0.log').read_text()
    assert '3 training step completed' in log and 'Elpased time : ' in log
    lines = result.stdout.splitlines()
    assert '------------------ Final result ------------------' in lines
    fps = next(line for line in lines if line.startswith('Final Performance images/sec : '))
    assert float(fps.split(': ')[1]) > 0
    case = 'RCAN_ID0268_for_TensorFlow_bs4_1p_perf'
    summary = dict(line.split(' = ') for line in (out / f'{case}.log').read_text().splitlines())
    assert list(summary) == ['Network', 'RankSize', 'BatchSize', 'DeviceType', 'CaseName', 'ActualFPS',
                             'TrainingTime', 'ActualLoss', 'E2ETrainingTime']
    assert summary['CaseName'] == case and summary['BatchSize'] == '4' and summary['ActualFPS'] == fps.split(': ')[1]
    losses = (out / f'{case}_loss.txt').read_text().split()
    assert len(losses) == 3 and summary['ActualLoss'] == losses[-1]
    assert (out / 'ckpt' / 'RCAN_X2_16_1_1-3.index').is_file()
    assert not (elsewhere / 'logs').exists() and not list(elsewhere.iterdir())


def test_full_script_needs_a_data_path_and_reports_a_failed_training(tmp_path):
    rcan_dir, env = _copy(tmp_path)
    script = str(rcan_dir / 'test' / 'train_full_1p.sh')
    result = subprocess.run(['bash', script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stdout.strip() == '[Error] para "data_path" must be config'
    result = subprocess.run(['bash', script, f'--data_path={tmp_path / "nothing"}'], env=env, capture_output=True,
                            text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2
    assert '[Error] training failed (exit code 2): error: --train_GT_path=' in result.stdout
