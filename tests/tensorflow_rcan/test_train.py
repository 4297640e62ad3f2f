"""main.py --mode train: loss goes down, the reference's log lines, checkpoints, exact resume after SIGKILL,
fine-tuning x2 -> x3 without the tail, the tf.data path, run identity."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from common import paths

MAIN_PY = paths.REPO_ROOT / 'tensorflow' / 'rcan' / 'main.py'


def _tensors(prefix, skip=('train_state/seconds',)):
    reader = tf.train.load_checkpoint(str(prefix))
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map() if k not in skip}


def test_a_few_steps_lower_the_loss(trained):
    _, summary, _ = trained
    assert summary['steps_run'] == 24 and summary['global_step'] == 24
    losses = summary['losses']                      # logged every 4 steps
    assert len(losses) == 6 and losses[-1] < 0.8 * losses[0]


def test_reference_log_lines_summaries_and_checkpoints(trained):
    out, _, printed = trained
    lines = printed.splitlines()
    assert lines[0] == 'Build model!'
    assert lines[1:4] == ['4 training step completed', lines[2], lines[3]]
    assert re.fullmatch(r'Loss : \d+\.\d{4}', lines[2]) and re.fullmatch(r'Elpased time : \d+\.\d{4}', lines[3])
    assert sum(line.endswith(' training step completed') for line in lines) == 6
    model = out / 'model'
    assert sorted(p.name for p in model.glob('*.index')) == ['RCAN_X2_16_1_2-16.index', 'RCAN_X2_16_1_2-24.index']
    assert tf.train.latest_checkpoint(str(model)) == str(model / 'RCAN_X2_16_1_2-24')
    state = _tensors(model / 'RCAN_X2_16_1_2-24', skip=())
    assert state['train_state/global_step'] == 24 and state['train_state/seconds'] > 0
    assert 'conv_SF/filter/Adam' in state and 'beta1_power' in state
    events = list((out / 'logs').glob('events.out.tfevents.*'))
    assert len(events) == 1
    tags = {v.tag for e in tf.compat.v1.train.summary_iterator(str(events[0])) for v in e.summary.value}
    assert tags == {'train_loss', 'train_RGB_PSNR'}


def test_max_step_is_exact_and_a_finished_run_has_nothing_to_do(rcan, trained, tiny_data, argv_for, capsys):
    out, _, _ = trained
    summary = rcan.main.main(argv_for(tiny_data, out / 'model', max_step=24, resume=True))
    assert summary['steps_run'] == 0
    assert 'nothing to do: 24 of --max_step=24 steps already done' in capsys.readouterr().out


def test_a_fresh_run_refuses_another_runs_folder_and_resume_refuses_other_settings(rcan, trained, tiny_data,
                                                                                     argv_for):
    out, _, _ = trained
    with pytest.raises(ValueError, match=r'holds run \w+ of .*pass --resume=True to continue it or --overwrite'):
        rcan.main.main(argv_for(tiny_data, out / 'model', max_step=30))
    with pytest.raises(ValueError, match=r"--learning_rate=0.01 differs from the resumed run's 0.002"):
        rcan.main.main(argv_for(tiny_data, out / 'model', max_step=30, resume=True, learning_rate=0.01))


def _cmd(data, model_path, argv_for, **extra):
    return [sys.executable, str(MAIN_PY)] + argv_for(data, model_path, **extra)


def test_sigkill_mid_run_then_resume_equals_the_uninterrupted_run(rcan, tiny_data, argv_for, tmp_path):
    """A real SIGKILL between checkpoints; --resume True then ends with the uninterrupted run's weights,
    Adam moments and powers, bit for bit (seeded batches, step-based lr, the same thread count)."""
    flags = dict(max_step=100, log_freq=1, model_save_freq=10, keep_checkpoint_max=2)
    log = tmp_path / 'killed.log'
    with log.open('w') as handle:
        proc = subprocess.Popen(_cmd(tiny_data, tmp_path / 'killed' / 'model', argv_for, **flags), stdout=handle,
                                stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if '25 training step completed' in log.read_text():
            proc.send_signal(signal.SIGSTOP)          # freeze it where it is, then kill it there
            break
        time.sleep(0.002)
    assert proc.poll() is None, 'training ended before it could be killed:\n' + log.read_text()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = tmp_path / 'killed' / 'model'
    assert not (killed / 'RCAN_X2_16_1_2-100.index').exists()
    # the resumed run and the uninterrupted one side by side (each a fresh process: TensorFlow sizes its
    # CPU thread pool once per process, from the first Session's config)
    resume = subprocess.Popen(_cmd(tiny_data, killed, argv_for, resume=True, **flags), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    full = subprocess.run(_cmd(tiny_data, tmp_path / 'full' / 'model', argv_for, **flags), capture_output=True,
                          text=True, timeout=180)
    stdout, stderr = resume.communicate(timeout=180)
    assert resume.returncode == 0 and full.returncode == 0, stderr + full.stderr
    resumed_at = int(re.search(r'resuming from .*RCAN_X2_16_1_2-(\d+) \(global step \1\)', stdout).group(1))
    assert 20 <= resumed_at < 100 and resumed_at % 10 == 0
    assert f'{resumed_at + 1} training step completed' in stdout
    a, b = _tensors(tmp_path / 'full' / 'model' / 'RCAN_X2_16_1_2-100'), _tensors(killed / 'RCAN_X2_16_1_2-100')
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_array_equal(b[key], a[key], err_msg=key)
    assert len(list(killed.glob('*.index'))) == 2 and not list(killed.glob('.*tmp*'))


def test_a_truncated_newest_checkpoint_falls_back_to_the_previous(rcan, trained, tiny_data, argv_for, tmp_path,
                                                                   capsys):
    out, _, _ = trained
    model = tmp_path / 'model'
    shutil.copytree(out / 'model', model)
    data = model / 'RCAN_X2_16_1_2-24.data-00000-of-00001'
    data.write_bytes(data.read_bytes()[:64])
    summary = rcan.main.main(argv_for(tiny_data, model, max_step=26, resume=True, log_freq=1, model_save_freq=8))
    printed = capsys.readouterr().out
    assert f"warning: {model / 'RCAN_X2_16_1_2-24.index'}: unreadable checkpoint" in printed
    assert f"resuming from {model / 'RCAN_X2_16_1_2-16'} (global step 16)" in printed
    assert summary['steps_run'] == 10
    again, first = _tensors(model / 'RCAN_X2_16_1_2-24'), _tensors(out / 'model' / 'RCAN_X2_16_1_2-24')
    for key in first:
        np.testing.assert_array_equal(again[key], first[key], err_msg=key)


def test_fine_tuning_x2_to_x3_restores_all_but_the_tail(rcan, trained, tiny_data, argv_for, tmp_path, capsys):
    out, _, _ = trained
    x2 = out / 'model' / 'RCAN_X2_16_1_2-24'
    argv = argv_for(tiny_data, tmp_path / 'x3', scale=3, train_LR_path=tiny_data / 'DIV2K_train_LR_bicubic' / 'X3',
                    fine_tuning=True, pre_trained_model=x2, max_step=1, learning_rate=1e-9)
    rcan.main.main(argv + ['--load_tail_part=False'])
    printed = capsys.readouterr().out
    assert 'saved model is loaded for fine-tuning!\nTail part is not loaded!\nmodel path is ' in printed
    before, after = _tensors(x2), _tensors(tmp_path / 'x3' / 'RCAN_X3_16_1_2-1')
    body = [k for k in before if not k.startswith(('up_sample', 'conv_rec', 'train_state', 'beta'))
            and not k.endswith(('Adam', 'Adam_1'))]
    assert len(body) == 2 * (1 + 2 * 4 + 1 + 1)
    for key in body:                                   # one step at lr 1e-9 barely moves them
        np.testing.assert_allclose(after[key], before[key], atol=1e-6, err_msg=key)
    assert after['up_sample_conv/filter'].shape == (3, 3, 16, 144)
    with pytest.raises(ValueError, match=r'lacks variable up_sample_conv/filter'):
        rcan.main.main(argv_for(tiny_data, tmp_path / 'x3b', scale=3, fine_tuning=True, pre_trained_model=x2,
                                train_LR_path=tiny_data / 'DIV2K_train_LR_bicubic' / 'X3', max_step=1))
    assert not (tmp_path / 'x3b').exists()


def test_the_tf_data_path_serves_the_in_memory_batches(rcan, tiny_data):
    lazy = rcan.data_loader.PairedImages(tiny_data / 'DIV2K_train_LR_bicubic' / 'X2', tiny_data / 'DIV2K_train_HR',
                                         2, in_memory=False, patch_size=12)
    eager = rcan.data_loader.PairedImages(tiny_data / 'DIV2K_train_LR_bicubic' / 'X2', tiny_data / 'DIV2K_train_HR',
                                          2, in_memory=True, patch_size=12)
    sampler = rcan.data_loader.PatchSampler(lazy, 12, 4, seed=5, enlarge_ratio=2)
    reference = rcan.data_loader.PatchSampler(eager, 12, 4, seed=5, enlarge_ratio=2)
    graph = tf.Graph()
    with graph.as_default():
        start = {'step': 0}
        init, batch = rcan.data_loader.tf_batches(sampler, start, 5, [])
    with tf.compat.v1.Session(graph=graph) as sess:
        start['step'] = 3
        sess.run(init)
        for step in (3, 4):
            got = sess.run(batch)
            want = reference.batch(step)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])
        with pytest.raises(tf.errors.OutOfRangeError):
            sess.run(batch)
    assert sampler.steps_per_epoch == 2 and sorted(np.concatenate([sampler.indices(0), sampler.indices(1)])) \
        == [0, 0, 1, 1, 2, 2, 3, 3]


def test_a_training_run_with_tf_data_and_an_lmdb(rcan, tiny_data, argv_for, tmp_path):
    from common.lmdb_io import make_lmdb
    for name, folder in (('hr', tiny_data / 'DIV2K_train_HR'), ('lr', tiny_data / 'DIV2K_train_LR_bicubic' / 'X2')):
        files = sorted(folder.glob('*.png'))
        make_lmdb(files, [p.stem for p in files], tmp_path / f'{name}.lmdb')
    summary = rcan.main.main(argv_for(tiny_data, tmp_path / 'model', train_GT_path=tmp_path / 'hr.lmdb',
                                      train_LR_path=tmp_path / 'lr.lmdb', in_memory=False, max_step=3, log_freq=1))
    assert summary['steps_run'] == 3 and len(summary['losses']) == 3
