"""Entry points: --help everywhere (also run from another folder, without PYTHONPATH, with OpenMP's
passive wait policy), and the ModelZoo test/ scripts really drive train_npu.py."""
import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from common import paths

RDN_DIR = paths.REPO_ROOT / 'pytorch' / 'rdn'


@pytest.mark.parametrize('name', ['train', 'inference', 'export', 'bench'])
def test_help_on_every_entry_point(rdn, name):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        getattr(rdn, name).main(['--help'])
    assert done.value.code == 0 and out.getvalue().startswith('usage: ')


def _help_from_elsewhere(script, cwd, **env):
    """``python3 <script> --help`` run in ``cwd`` with no PYTHONPATH; libgomp prints the settings it read
    when torch loads it (OMP_DISPLAY_ENV): returns the process and its (wait policy, spin count) pairs."""
    env = dict({k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'OMP_WAIT_POLICY')},
               OMP_DISPLAY_ENV='VERBOSE', **env)
    proc = subprocess.run([sys.executable, str(RDN_DIR / script), '--help'], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    return proc, re.findall(r"OMP_WAIT_POLICY = '(\w+)'\n(?:.*\n)*?\s*GOMP_SPINCOUNT = '(\d+)'", proc.stderr)


@pytest.mark.parametrize('script', ['train.py', 'train_npu.py', 'inference.py'])
def test_entry_points_run_from_anywhere_with_a_passive_openmp_pool(script, tmp_path):
    """torchzoo, imported before torch, sets OMP_WAIT_POLICY=PASSIVE: no spinning (spin count 0, where
    libgomp's default is 300000), which made inference ~3x slower on a loaded machine."""
    proc, policy = _help_from_elsewhere(script, tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith('usage: '), proc.stderr
    assert policy == [('PASSIVE', '0')], proc.stderr


def test_a_wait_policy_the_user_set_is_kept(tmp_path):
    proc, policy = _help_from_elsewhere('export.py', tmp_path, OMP_WAIT_POLICY='ACTIVE')
    assert proc.returncode == 0 and proc.stdout.startswith('usage: ') and policy == [('ACTIVE', '30000000000')]


def test_train_npu_defaults_to_the_npu_and_falls_back(rdn):
    parser = rdn.train.build_parser(npu_script=True)
    assert parser.prog == 'train_npu.py' and parser.parse_args([]).device == 'npu'
    assert "run_cli(lambda argv: main(argv, npu_script=True))" in (RDN_DIR / 'train_npu.py').read_text()


def test_usage_errors_are_one_line(rdn):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as done:
        rdn.train.parse_args(['--preset=huge'])
    assert done.value.code == 2 and err.getvalue().count('\n') == 1 and err.getvalue().startswith('error: argument --preset')
    with pytest.raises(ValueError, match='--model=Upconv: only RDN is ported here'):
        rdn.train.parse_args(['--model=Upconv'])


def test_performance_script_trains_and_writes_the_case_files(tiny_data, tmp_path, zoo_copy):
    zoo = zoo_copy(tmp_path)
    env = dict(os.environ, ASCEND_DEVICE_ID='3', OMP_NUM_THREADS='1',
               PATH=f"{Path(os.sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(['bash', str(zoo / 'test' / 'train_performance_1p.sh'), f'--data_path={tiny_data.ref}',
                           '--batch_size=2', '--train_epochs=2', '--train_steps=3', '--preset=bench', '--patch_size=32',
                           '--threads=0', '--tensorboard=False'], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = zoo / 'test' / 'output' / '3'
    log = (out / 'train_3.log').read_text()
    assert "nEpochs=2, batchSize=2" in log and '===> Epoch[2](1/2)' in log and '===> Epoch[2](2/2)' not in log
    assert 'ERROR, your task haven\'t used Ascend NPU' in proc.stdout                 # honest: this was the CPU
    assert 'Final Performance images/sec : ' in proc.stdout and 'Final Train Accuracy' not in proc.stdout
    case = dict(line.split(' = ') for line in (out / 'rdn_bs2_1p_perf.log').read_text().splitlines())
    assert case['Network'] == 'rdn' and case['BatchSize'] == '2' and case['CaseName'] == 'rdn_bs2_1p_perf'
    assert float(case['ActualFPS']) > 0 and 'TrainAccuracy' not in case
    assert len((out / 'rdn_bs2_1p_perf_loss.txt').read_text().split()) == 1          # one finished epoch
    assert (out / 'ckpt' / 'RDN' / 'rdn-2_1.pth').is_file()


def test_scripts_need_a_data_path_and_show_help(tmp_path, zoo_copy):
    zoo = zoo_copy(tmp_path)
    proc = subprocess.run(['bash', str(zoo / 'test' / 'train_full_1p.sh')], capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stdout.strip() == '[Error] para "data_path" must be config'
    proc = subprocess.run(['bash', str(zoo / 'test' / 'train_full_1p.sh'), '--help'], capture_output=True, text=True)
    assert '--train_steps' in proc.stdout and '--train_epochs           # max_epoch for training (default: 250)' in proc.stdout
    proc = subprocess.run(['bash', str(zoo / 'test' / 'train_full_1p.sh'), f'--data_path={tmp_path / "none"}'],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PATH=f"{Path(os.sys.executable).parent}{os.pathsep}{os.environ['PATH']}"))
    assert proc.returncode == 2 and '[Error] training failed (exit 2)' in proc.stdout
    assert 'error: --datapath=' in proc.stdout and 'no such folder' in proc.stdout
