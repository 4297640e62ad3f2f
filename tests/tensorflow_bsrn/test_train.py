"""train.py: loss goes down, the Ascend log line, per-scale summaries, checkpoints, exact resume after
SIGKILL, starting from another checkpoint (--restore_path), run identity."""
import ast
import json
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from common import paths

TRAIN_PY = paths.REPO_ROOT / 'tensorflow' / 'bsrn' / 'train.py'


def test_no_module_of_the_training_imports_the_entry_script():
    """``python train.py`` runs train.py as __main__: a module that imported ``train`` back (trainer.py
    did, for the run identity's keys) would run it a second time. Only bench.py, another entry point,
    imports it."""
    for path in sorted(TRAIN_PY.parent.rglob('*.py')):
        if path.name in ('train.py', 'bench.py'):
            continue
        nodes = list(ast.walk(ast.parse(path.read_text())))
        imported = {a.name for n in nodes if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module for n in nodes if isinstance(n, ast.ImportFrom)}
        assert 'train' not in imported, path


def _tensors(prefix, skip=('train_state/seconds',)):
    reader = tf.train.load_checkpoint(str(prefix))
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map() if k not in skip}


def test_a_few_steps_lower_the_loss(trained):
    _, summary, _ = trained
    assert summary['steps_run'] == 30 and summary['global_step'] == 30
    losses = summary['losses']
    assert len(losses) == 6 and np.mean(losses[-2:]) < 0.8 * np.mean(losses[:2])
    assert set(summary['images_per_sec_by_scale']) <= {'x2', 'x3', 'x4'} and sum(summary['steps_by_scale'].values()) == 30


def test_log_lines_summaries_checkpoints_and_arguments(trained):
    out, _, printed = trained
    lines = [ln for ln in printed.splitlines() if ln.startswith('step ')]
    assert len(lines) == 6
    assert all(re.fullmatch(r'step \d+, scale x[234], loss \d+\.\d{6}  sec/batch \d+\.\d{3} fps \d+\.\d{3}', ln)
               for ln in lines)
    assert sorted(p.name for p in out.glob('*.index')) == ['model.ckpt-20.index', 'model.ckpt-30.index']
    assert tf.train.latest_checkpoint(str(out)) == str(out / 'model.ckpt-30')
    state = _tensors(out / 'model.ckpt-30', skip=())
    assert state['train_state/global_step'] == 30 and state['train_state/seconds'] > 0
    assert 'generator/residual_modules/conv2d_2/kernel/Adam_1' in state and 'beta2_power' in state
    assert json.loads((out / 'arguments.json').read_text())['scales'] == '2,3,4'
    tags = set()
    for s in (2, 3, 4):
        for event in (out / f'x{s}').glob('events.out.tfevents.*'):
            tags |= {v.tag for e in tf.compat.v1.train.summary_iterator(str(event)) for v in e.summary.value}
    assert {'loss/final', 'learning_rate', 'loss/recon_l1_m1', 'loss/recon_l1_m2'} <= tags


def test_finished_run_and_another_runs_folder(bsrn, trained, tiny_data, argv_for, capsys):
    out, _, _ = trained
    assert bsrn.train.main(argv_for(tiny_data, out, max_steps=30, resume=True))['steps_run'] == 0
    assert 'nothing to do: 30 of --max_steps=30' in capsys.readouterr().out
    with pytest.raises(ValueError, match=r'pass --resume=True to continue it or --overwrite'):
        bsrn.train.main(argv_for(tiny_data, out, max_steps=40))
    with pytest.raises(ValueError, match=r"--bsrn_learning_rate=0.01 differs from the resumed run's 0.002"):
        bsrn.train.main(argv_for(tiny_data, out, max_steps=40, resume=True, bsrn_learning_rate=0.01))


def test_restore_path_starts_a_new_run_from_a_checkpoint(bsrn, trained, tiny_data, argv_for, tmp_path, capsys):
    out, _, _ = trained
    summary = bsrn.train.main(argv_for(tiny_data, tmp_path / 'ft', max_steps=32, global_step=30, save_freq=100,
                                       restore_path=out / 'model.ckpt-30', restore_target='generator'))
    assert summary['steps_run'] == 2 and 'restored 22 variables' in capsys.readouterr().out


def test_sigkill_mid_run_then_resume_equals_the_uninterrupted_run(tiny_data, argv_for, tmp_path):
    flags = dict(max_steps=80, log_freq=1, save_freq=10, save_max_keep=2)
    cmd = [sys.executable, str(TRAIN_PY)]
    log = tmp_path / 'killed.log'
    with log.open('w') as handle:                  # sleeping 3x each step's time (no effect on the weights)
        proc = subprocess.Popen(cmd + argv_for(tiny_data, tmp_path / 'killed', sleep_ratio=3, **flags), stdout=handle,
                                stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if re.search(r'^step ([2-5]\d|6[0-5]),', log.read_text(), re.M):
            break
        time.sleep(0.02)
    assert proc.poll() is None, log.read_text()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed = subprocess.run(cmd + argv_for(tiny_data, tmp_path / 'killed', resume=True, **flags),
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert re.search(r'resuming from .*model\.ckpt-(\d+) \(global step \1\)', resumed.stdout), resumed.stdout
    straight = subprocess.run(cmd + argv_for(tiny_data, tmp_path / 'straight', **flags), capture_output=True,
                              text=True, timeout=120)
    assert straight.returncode == 0, straight.stderr[-2000:]
    a, b = _tensors(tmp_path / 'killed' / 'model.ckpt-80'), _tensors(tmp_path / 'straight' / 'model.ckpt-80')
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
