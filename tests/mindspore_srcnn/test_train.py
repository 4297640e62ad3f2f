"""train.py: the loss decreases, reference log lines, checkpoints, exact resume after SIGKILL, run identity."""
import csv
import os
import re
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from common import paths
from common.runs import epoch_order

TRAIN_PY = paths.REPO_ROOT / 'mindspore' / 'srcnn' / 'train.py'


@pytest.fixture(scope='module')
def records_dir(srcnn, tiny_images, tmp_path_factory):
    """A mindrecord of 44 patches (two tiny photos, stride 11)."""
    out = tmp_path_factory.mktemp('train_data') / 'mindrecord'
    srcnn.create_dataset.build_mindrecord(tiny_images, out, scale=2, patch_size=33, stride=11, progress=False)
    return out


@pytest.fixture(scope='module')
def trained(srcnn, records_dir, tmp_path_factory, run_main):
    out = tmp_path_factory.mktemp('train_out')
    args = {'data_path': records_dir, 'output_path': out, 'epoch_size': 4, 'batch_size': 8, 'lr': 0.002,
            'keep_checkpoint_max': 3, 'save_checkpoint_steps': 0}
    run_main(srcnn.train, args)
    return out, args


def rows(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def test_a_few_epochs_decrease_the_loss(trained):
    out, _ = trained
    epochs = rows(out / 'loss_epochs.csv')
    assert [int(r['epoch']) for r in epochs] == [1, 2, 3, 4]
    assert all(int(r['steps']) == 5 for r in epochs)                      # 44 patches // 8
    assert float(epochs[-1]['mean_loss']) < 0.5 * float(epochs[0]['mean_loss'])
    steps = rows(out / 'loss_steps.csv')
    assert [int(r['global_step']) for r in steps] == list(range(1, 21))
    assert cv2.imread(str(out / 'loss_curve.png')) is not None


def test_checkpoints_every_epoch_with_a_keep_limit(trained):
    out, _ = trained
    names = sorted(p.name for p in (out / 'ckpt_0').glob('*.ckpt'))
    assert names == ['srcnn-2_5.ckpt', 'srcnn-3_5.ckpt', 'srcnn-4_5.ckpt']
    assert (out / 'ckpt_0' / 'run.json').is_file()


def test_reference_log_lines(srcnn, records_dir, tmp_path, run_main, capsys):
    run_main(srcnn.train, {'data_path': records_dir, 'output_path': tmp_path, 'epoch_size': 1, 'batch_size': 16,
                           'save_checkpoint': False})
    lines = capsys.readouterr().out.splitlines()
    assert 'precision: amp_level O0 on CPU: everything in float32' in lines
    loss_line = next(line for line in lines if line.startswith('epoch: '))
    assert loss_line.startswith('epoch: 1 step: 2, loss is 0.')
    time_line = next(line for line in lines if line.startswith('epoch time: '))
    assert time_line.endswith(' ms') and ', per step time: ' in time_line
    assert not (tmp_path / 'ckpt_0').exists()


def test_resume_continues_from_the_last_checkpoint(srcnn, trained, run_main, capsys):
    out, args = trained
    run_main(srcnn.train, dict(args, epoch_size=5, resume=True))
    printed = capsys.readouterr().out
    assert f"resuming from {out / 'ckpt_0' / 'srcnn-4_5.ckpt'} (epochs done: 4, global step 20)" in printed
    epochs = rows(out / 'loss_epochs.csv')
    assert [int(r['epoch']) for r in epochs] == [1, 2, 3, 4, 5]
    steps = rows(out / 'loss_steps.csv')
    assert [int(r['global_step']) for r in steps] == list(range(1, 26))
    assert sorted(p.name for p in (out / 'ckpt_0').glob('*.ckpt')) == \
        ['srcnn-3_5.ckpt', 'srcnn-4_5.ckpt', 'srcnn-5_5.ckpt']


def test_step_budget_and_lr_drop_follow_the_global_step(srcnn, records_dir, tmp_path, run_main, capsys):
    summary, _ = srcnn.train.train(srcnn.config.load_config(
        [f'--data_path={records_dir}', f'--output_path={tmp_path}', '--device_target=CPU', '--epoch_size=100',
         '--batch_size=8', '--max_steps=7', '--lr_drop_at=0.5', '--save_checkpoint_steps=3']))
    assert summary['global_step'] == 7 and summary['total_steps'] == 7
    assert 'learning rate 0.0001 -> 1e-05 at step 5 (50% of 7 steps)' in capsys.readouterr().out
    # checkpoints at step 3 (mid-epoch 1), 5 (end of epoch 1), 6 (mid-epoch 2) and the final step 7
    names = sorted(p.name for p in (tmp_path / 'ckpt_0').glob('*.ckpt'))
    assert names == ['srcnn-1_3.ckpt', 'srcnn-1_5.ckpt', 'srcnn-2_1.ckpt', 'srcnn-2_2.ckpt']


def test_a_time_budget_stops_with_a_checkpoint_and_carries_over_a_resume(srcnn, records_dir, tmp_path, capsys):
    argv = [f'--data_path={records_dir}', f'--output_path={tmp_path}', '--device_target=CPU', '--epoch_size=100',
            '--batch_size=8', '--max_train_seconds=0.001']
    summary, _ = srcnn.train.train(srcnn.config.load_config(argv))
    assert summary['stopped_by_budget'] and summary['steps_run'] == 1
    assert [p.name for p in (tmp_path / 'ckpt_0').glob('*.ckpt')] == ['srcnn-1_1.ckpt']
    summary, _ = srcnn.train.train(srcnn.config.load_config(argv + ['--resume=True']))
    assert summary['steps_run'] == 0 and summary['stopped_by_budget']
    assert re.search(r'nothing to do: \d+ s of max_train_seconds=0.001 already spent', capsys.readouterr().out)


def _train_cmd(data, out, **extra):
    args = {'data_path': data, 'output_path': out, 'device_target': 'CPU', 'epoch_size': 6, 'batch_size': 4,
            'lr': 0.002, 'save_checkpoint_steps': 2, 'keep_checkpoint_max': 2, 'lr_drop_at': 0.6,
            'num_parallel_workers': 1}
    args.update(extra)
    return [sys.executable, str(TRAIN_PY)] + [f'--{k}={v}' for k, v in args.items()]


def _weights(path):
    import mindspore as ms
    return {k: v.asnumpy() for k, v in ms.load_checkpoint(str(path)).items() if k != 'train_seconds'}


def test_sigkill_mid_epoch_then_resume_equals_the_uninterrupted_run(records_dir, tmp_path):
    """A real SIGKILL in the middle of an epoch; --resume=True then ends with the same weights,
    Adam moments and lr as a run that was never interrupted."""
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}       # as a user runs it, from anywhere
    full = tmp_path / 'full'
    subprocess.run(_train_cmd(records_dir, full), check=True, env=env, capture_output=True, timeout=300, cwd=tmp_path)

    killed = tmp_path / 'killed'
    proc = subprocess.Popen(_train_cmd(records_dir, killed), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    steps_csv = killed / 'loss_steps.csv'
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if steps_csv.is_file() and len(steps_csv.read_text().splitlines()) - 1 >= 13:   # 11 steps per epoch
            proc.send_signal(signal.SIGSTOP)     # freeze it where it is, then kill it there
            break
        time.sleep(0.002)
    assert proc.poll() is None, 'training ended before it could be killed'
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    final_name = 'srcnn-6_11.ckpt'
    assert not (killed / 'ckpt_0' / final_name).exists()
    result = subprocess.run(_train_cmd(records_dir, killed, resume=True), env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert 'resuming from' in result.stdout
    a, b = _weights(full / 'ckpt_0' / final_name), _weights(killed / 'ckpt_0' / final_name)
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=0, atol=1e-7, err_msg=key)
    # the step log reads as one uninterrupted run
    assert [int(r['global_step']) for r in rows(killed / 'loss_steps.csv')] == list(range(1, 67))
    assert len(list((killed / 'ckpt_0').glob('*.ckpt'))) == 2                       # keep limit still prunes


def test_a_fresh_run_refuses_another_runs_checkpoints(srcnn, trained, run_main):
    out, args = trained
    with pytest.raises(ValueError, match=r'holds run \w+ of .*pass --resume=True to continue it or --overwrite=True'):
        run_main(srcnn.train, dict(args, epoch_size=1))


def test_resume_refuses_a_different_lr(srcnn, trained, run_main):
    out, args = trained
    with pytest.raises(ValueError, match=r"--lr=0.01 differs from the resumed run's 0.002 .*run.json"):
        run_main(srcnn.train, dict(args, lr=0.01, resume=True))


def test_overwrite_starts_a_new_run(srcnn, records_dir, tmp_path, run_main):
    args = {'data_path': records_dir, 'output_path': tmp_path, 'epoch_size': 1, 'batch_size': 8}
    run_main(srcnn.train, args)
    first = (tmp_path / 'ckpt_0' / 'run.json').read_text()
    run_main(srcnn.train, dict(args, overwrite=True, lr=0.0005))
    assert (tmp_path / 'ckpt_0' / 'run.json').read_text() != first
    assert [p.name for p in (tmp_path / 'ckpt_0').glob('*.ckpt')] == ['srcnn-1_5.ckpt']


def test_a_truncated_newest_checkpoint_falls_back_to_the_previous(srcnn, records_dir, tmp_path, run_main, capsys):
    args = {'data_path': records_dir, 'output_path': tmp_path, 'epoch_size': 2, 'batch_size': 8}
    run_main(srcnn.train, args)
    newest = tmp_path / 'ckpt_0' / 'srcnn-2_5.ckpt'
    newest.write_bytes(newest.read_bytes()[:100])
    orphan = tmp_path / 'ckpt_0' / '.srcnn-3_1.12345.deadbeef.tmp.ckpt'
    orphan.write_bytes(b'half')
    run_main(srcnn.train, dict(args, epoch_size=3, resume=True))
    printed = capsys.readouterr().out
    assert f'warning: {newest}: unreadable checkpoint' in printed
    assert 'resuming from' in printed and 'srcnn-1_5.ckpt (epochs done: 1, global step 5)' in printed
    assert not orphan.exists()
    assert [int(r['global_step']) for r in rows(tmp_path / 'loss_steps.csv')] == list(range(1, 16))


def test_two_trainings_into_one_folder_are_stopped_by_the_lock(srcnn, records_dir, tmp_path):
    from common.runs import CheckpointDir
    holder = CheckpointDir(tmp_path / 'ckpt_0', 'srcnn')
    holder.open({})
    try:
        with pytest.raises(ValueError, match=rf'another training \(pid {os.getpid()}\) is writing here'):
            srcnn.train.train(srcnn.config.load_config(
                [f'--data_path={records_dir}', f'--output_path={tmp_path}', '--device_target=CPU']))
    finally:
        holder.close()


def test_a_diverging_run_leaves_no_checkpoint_folder(srcnn, records_dir, tmp_path, run_main):
    with pytest.raises(ValueError, match='loss is (inf|nan) at epoch 1'):
        run_main(srcnn.train, {'data_path': records_dir, 'output_path': tmp_path, 'epoch_size': 3,
                               'batch_size': 8, 'lr': 1e30})
    assert not (tmp_path / 'ckpt_0').exists()


def test_options_must_match_the_mindrecord(srcnn, records_dir, tmp_path, run_main):
    with pytest.raises(ValueError, match=r"--scale=3 differs from the mindrecord's scale 2 \(.*meta.json\)"):
        run_main(srcnn.train, {'data_path': records_dir, 'output_path': tmp_path, 'scale': 3})
    with pytest.raises(ValueError, match=r"--patch_size=41 differs from the mindrecord's patch_size 33"):
        run_main(srcnn.train, {'data_path': records_dir, 'output_path': tmp_path, 'patch_size': 41})


def test_bad_training_inputs(srcnn, tmp_path, records_dir, run_main):
    with pytest.raises(FileNotFoundError, match='no srcnn.mindrecord00 there'):
        run_main(srcnn.train, {'data_path': tmp_path, 'output_path': tmp_path})
    with pytest.raises(FileNotFoundError, match='--pre_trained_path=.*no such file'):
        run_main(srcnn.train, {'data_path': records_dir, 'output_path': tmp_path / 'a',
                               'pre_trained_path': tmp_path / 'none.ckpt'})
    empty = tmp_path / 'empty.ckpt'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match=f'{empty}: empty checkpoint file'):
        run_main(srcnn.train, {'data_path': records_dir, 'output_path': tmp_path / 'b', 'pre_trained_path': empty})
    with pytest.raises(ValueError, match='no checkpoint'):
        run_main(srcnn.train, {'data_path': records_dir, 'output_path': tmp_path / 'fresh', 'resume': True})
    with pytest.raises(ValueError, match=r'fewer patches \(44\) than one batch of 64'):
        run_main(srcnn.train, {'data_path': records_dir, 'output_path': tmp_path, 'batch_size': 64})
    with pytest.raises(ValueError, match="--init must be 'default' or 'identity'"):
        run_main(srcnn.train, {'data_path': records_dir, 'output_path': tmp_path, 'init': 'zeros'})
    with pytest.raises(ValueError, match='run_distribute=True: start one process per device with msrun'):
        run_main(srcnn.train, {'data_path': records_dir, 'output_path': tmp_path, 'run_distribute': True})
    a_file = tmp_path / 'plain_file'
    a_file.write_text('x')
    with pytest.raises(ValueError, match=f'--output_path={a_file}: is a file, expected a folder'):
        run_main(srcnn.train, {'data_path': records_dir, 'output_path': a_file})
    with pytest.raises(ValueError, match=f'--output_path={a_file / "sub"}: cannot create it, {a_file} is a file, not a folder'):
        run_main(srcnn.train, {'data_path': records_dir, 'output_path': a_file / 'sub'})
    for key, value in (('batch_size', 0), ('max_steps', -1), ('lr', 0.0), ('lr_drop_at', 1.5)):
        with pytest.raises(ValueError, match=f'--{key} must be'):
            run_main(srcnn.train, {'data_path': records_dir, 'output_path': tmp_path, key: value})
    assert not (tmp_path / 'ckpt_0').exists() and not (tmp_path / 'a' / 'ckpt_0').exists()


def test_a_truncated_shard_is_one_error_line(srcnn, records_dir, tmp_path, run_main):
    import shutil
    broken = tmp_path / 'broken'
    shutil.copytree(records_dir, broken)
    shard = broken / 'srcnn.mindrecord00'
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 3])
    with pytest.raises(ValueError, match=f'--data_path={broken}: srcnn.mindrecord00 has \d+ bytes, meta.json records'):
        run_main(srcnn.train, {'data_path': broken, 'output_path': tmp_path / 'out', 'batch_size': 4})
    assert not (tmp_path / 'out' / 'ckpt_0').exists()


def test_two_builds_of_one_folder_train_alike(srcnn, tiny_images, tmp_path):
    """FileWriter stores records in an order that changes from build to build; training addresses
    patches by their creation index, so the batches of a seeded epoch do not depend on the build."""
    photos = paths.SAMPLE_DATA_DIR / 'benchmark' / 'SampleTest' / 'HR' / 'x2'     # ensured by tiny_images
    sets = []
    for name in ('a', 'b'):
        srcnn.create_dataset.build_mindrecord(photos, tmp_path / name, scale=2, patch_size=33, stride=40,
                                              progress=False)
        sets.append(srcnn.dataset.open_train_set(tmp_path / name, 2, 33))
    assert sets[0]['patches'] == sets[1]['patches'] > 300
    assert not np.array_equal(sets[0]['positions'], sets[1]['positions'])    # the stored order differs
    idx = epoch_order(sets[0]['patches'], 1, 0)
    a, b = (np.concatenate([hr.asnumpy() for _, hr in srcnn.dataset.train_batches(d, idx, 16, 2)]) for d in sets)
    np.testing.assert_array_equal(a, b)


def test_identity_init_starts_at_the_bicubic_image(srcnn):
    import mindspore as ms
    ms.set_context(mode=ms.PYNATIVE_MODE)
    net = srcnn.srcnn.identity_init(srcnn.srcnn.SRCNN())
    y = np.random.default_rng(1).random((1, 1, 20, 28), dtype=np.float32)
    np.testing.assert_allclose(net(ms.Tensor(y)).asnumpy(), y, atol=1e-6)
    assert float(np.abs(net.conv2.weight.asnumpy()[1:]).sum()) > 0        # the other channels stay random
