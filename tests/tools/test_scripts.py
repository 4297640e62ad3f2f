"""Every ModelZoo shell script runs the repository's .venv interpreter (or $PYTHON) and keeps a path with a
space in it whole.

Each script is copied, with tools/zoo_python.sh, into a scratch repository whose own path has a space; its
``.venv/bin/python`` and a second interpreter for ``PYTHON=`` are stand-ins that record how they were
called (argv[0] and every argument) and exit 0, so no framework is imported and nothing trains.
"""
import os
import shutil
import stat
import subprocess
import time

import pytest

from common import paths

_RECORDER = """#!/bin/bash
# stand-in interpreter: one record per call, fields separated by \\x1f, records by \\x1e
{ printf '%s\\x1f' "$0" "$@"; printf '\\x1e'; } >> "$ARGV_LOG"
"""
_MSRUN = """#!/bin/bash
# stand-in msrun: its workers would run the `python` of PATH; record that one with msrun's arguments
{ printf '%s\\x1f' "$(command -v python)" "$@"; printf '\\x1e'; } >> "$ARGV_LOG"
"""


def _executable(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _data_folders(data):
    """A DIV2K/FiveK/mindrecord-like folder: only what the scripts themselves look at before Python runs."""
    data.mkdir(parents=True)
    (data / 'srcnn.mindrecord00').write_bytes(b'')
    (data / 'model.ckpt').write_bytes(b'')
    (data / 'rank_table.json').write_text('{}')
    return data


# (script, arguments with {data} for a folder whose name has a space, environment additions)
CASES = {
    'pytorch/rdn/test/train_full_1p.sh': (['--data_path={data}', '--output_path={data}/out'], {}),
    'pytorch/rdn/test/train_performance_1p.sh': (['--data_path={data}'], {}),
    'pytorch/rdn/test/train_full_8p.sh': (['--data_path={data}', '--device_num=2'], {}),
    'pytorch/lptn/test/train_full_1p.sh': (['--data_path={data}', '--output_path={data}/out'], {}),
    'pytorch/lptn/test/train_performance_1p.sh': (['--data_path={data}'], {}),
    'tensorflow/rcan/test/train_full_1p.sh': (['--data_path={data}', '--modeldir={data}/ckpt'], {}),
    'tensorflow/rcan/test/train_performance_1p.sh': (['--data_path={data}'], {}),
    'tensorflow/bsrn/test/train_full_1p.sh': (['--data_path={data}', '--output_path={data}/ckpt'], {}),
    'tensorflow/bsrn/test/train_performance_1p.sh': (['--data_path={data}'], {}),
    'tensorflow/bsrn/scripts/run_gpu.sh': ([], {'DATA_DIR': '{data}', 'TRAIN_PATH': '{data}/train'}),
    'tensorflow/bsrn/scripts/run_npu.sh': ([], {'DATA_DIR': '{data}', 'TRAIN_PATH': '{data}/train'}),
    'tensorflow/bsrn/scripts/test.sh': ([], {'RESTORE_PATH': '{data}/ckpt', 'INPUT_PATH': '{data}/LR',
                                             'OUTPUT_PATH': '{data}/SR'}),
    'tensorflow/bsrn/scripts/validate.sh': ([], {'DATA_DIR': '{data}', 'RESTORE_PATH': '{data}/ckpt'}),
    'mindspore/srcnn/scripts/run_single_train_ascend.sh': (['0', '{data}', '{data}/out'], {}),
    'mindspore/srcnn/scripts/run_single_train_cpu.sh': (['0', '{data}', '{data}/out'], {}),
    'mindspore/srcnn/scripts/run_single_train_gpu.sh': (['0', '{data}', '{data}/out'], {}),
    'mindspore/srcnn/scripts/run_distribute_train_ascend.sh': (['{data}', '{data}/out', '0', '1',
                                                                '{data}/rank_table.json'], {}),
    'mindspore/srcnn/scripts/run_distribute_train_gpu.sh': (['1', '0', '{data}', '{data}/out'], {}),
    'mindspore/srcnn/scripts/run_distribute_train_cpu.sh': (['1', '{data}', '{data}/out'], {'MASTER_PORT': '1'}),
    'mindspore/srcnn/scripts/run_eval_ascend.sh': (['0', '{data}', '{data}/model.ckpt'], {}),
    'mindspore/srcnn/scripts/run_eval_cpu.sh': (['0', '{data}', '{data}/model.ckpt'], {}),
    'mindspore/srcnn/scripts/run_eval_gpu.sh': (['0', '{data}', '{data}/model.ckpt'], {}),
    'mindspore/srcnn/scripts/run_infer_310.sh': (['{data}/model.ckpt', '{data}', '{data}/out'], {}),
    'mindspore/srcnn/scripts/run_onnx_eval_cpu.sh': (['{data}', '0', '{data}/model.ckpt'], {}),
    'mindspore/srcnn/scripts/run_onnx_eval_gpu.sh': (['{data}', '0', '{data}/model.ckpt'], {}),
}


def test_every_script_is_covered():
    scripts = {str(p.relative_to(paths.REPO_ROOT)) for pattern in ('*/*/test/*.sh', '*/*/scripts/*.sh')
               for p in paths.REPO_ROOT.glob(pattern)}
    assert scripts - {'tensorflow/rcan/test/env.sh'} == set(CASES)


def _scratch_repo(root, script):
    """The script's folder and tools/zoo_python.sh copied into ``root``, with a stand-in .venv."""
    folder = os.path.dirname(script)
    shutil.copytree(paths.REPO_ROOT / folder, root / folder)
    (root / 'tools').mkdir()
    shutil.copy2(paths.REPO_ROOT / 'tools' / 'zoo_python.sh', root / 'tools')
    venv_python = _executable(root / '.venv' / 'bin' / 'python', _RECORDER)
    _executable(root / '.venv' / 'bin' / 'msrun', _MSRUN)
    return venv_python


def _calls(log, expect, timeout=20):
    """The recorded calls ([argv0, args...] lists), waiting for scripts that start Python in the background."""
    deadline = time.time() + timeout
    while True:
        text = log.read_text() if log.exists() else ''
        calls = [record.split('\x1f')[:-1] for record in text.split('\x1e')[:-1]]
        if len(calls) >= expect or time.time() > deadline:
            return calls
        time.sleep(0.1)


@pytest.mark.parametrize('script', sorted(CASES))
@pytest.mark.parametrize('chosen', ['venv', 'PYTHON='])
def test_script_runs_the_zoo_interpreter_and_keeps_spaced_paths_whole(script, chosen, tmp_path):
    root = tmp_path / 'my zoo'                     # the repository's own path has a space
    venv_python = _scratch_repo(root, script)
    other = _executable(tmp_path / 'other python' / 'bin' / 'python', _RECORDER)
    _executable(other.parent / 'msrun', _MSRUN)
    data = _data_folders(tmp_path / 'data with space')
    args, extra_env = CASES[script]
    log = tmp_path / 'calls.log'
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHON', 'PYTHONPATH')}
    env.update({k: v.format(data=data) for k, v in extra_env.items()}, ARGV_LOG=str(log), ASCEND_DEVICE_ID='0')
    if chosen == 'PYTHON=':
        env['PYTHON'] = str(other)
    work = tmp_path / 'cwd'
    work.mkdir()
    proc = subprocess.run(['bash', str(root / script), *[a.format(data=data) for a in args]], cwd=work, env=env,
                          capture_output=True, text=True, timeout=60)
    calls = _calls(log, 1)
    assert calls, f'{script} ran no interpreter:\n{proc.stdout}{proc.stderr}'
    expected = str(other if chosen == 'PYTHON=' else venv_python)
    assert {call[0] for call in calls} == {expected}, (calls, proc.stdout, proc.stderr)
    arguments = [arg for call in calls for arg in call[1:]]
    assert any(str(data) in arg for arg in arguments), (calls, proc.stdout, proc.stderr)
    assert not any(arg in ('with', 'space') or arg.startswith('space/') for arg in arguments), calls
    assert 'unrecognized arguments' not in proc.stdout + proc.stderr


def test_a_relative_PYTHON_is_made_absolute(tmp_path):
    _executable(tmp_path / 'bin' / 'py', _RECORDER)
    out = subprocess.run(['bash', '-c', f'source "{paths.REPO_ROOT}/tools/zoo_python.sh"; echo "$PYTHON|$ZOO_ROOT"'],
                         cwd=tmp_path, env=dict(os.environ, PYTHON='bin/py'), capture_output=True, text=True).stdout
    assert out.strip() == f'{tmp_path}/bin/py|{paths.REPO_ROOT}'
