"""train.py: the loss decreases, reference log lines, checkpoints, loss curve files, resume, budget stop."""
import csv
import re

import cv2
import pytest


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
            'keep_checkpoint_max': 3}
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
    assert f"resuming from {out / 'ckpt_0' / 'srcnn-4_5.ckpt'} (epochs done: 4)" in printed
    epochs = rows(out / 'loss_epochs.csv')
    assert [int(r['epoch']) for r in epochs] == [1, 2, 3, 4, 5]
    steps = rows(out / 'loss_steps.csv')
    assert [int(r['global_step']) for r in steps][-5:] == [21, 22, 23, 24, 25]
    assert any(p.name.endswith('-5_5.ckpt') for p in (out / 'ckpt_0').glob('*.ckpt'))


def test_time_budget_stops_training_and_drops_the_lr(srcnn, records_dir, tmp_path, capsys):
    summary, _ = srcnn.train.train(srcnn.config.load_config(
        [f'--data_path={records_dir}', f'--output_path={tmp_path}', '--device_target=CPU', '--epoch_size=1000',
         '--max_train_seconds=0.001', '--lr_drop_at=0.5', '--save_checkpoint=False']))
    assert summary['stopped_by_budget'] and summary['steps_run'] == 1
    assert re.search(r'learning rate divided by 10 after \d+ s \(50% of the budget\)', capsys.readouterr().out)
    with pytest.raises(ValueError, match='--lr_drop_at needs a time budget'):
        srcnn.train.train(srcnn.config.load_config(
            [f'--data_path={records_dir}', f'--output_path={tmp_path}', '--device_target=CPU', '--lr_drop_at=0.5']))


def test_bad_training_inputs(srcnn, tmp_path, records_dir, run_main):
    with pytest.raises(FileNotFoundError, match='no srcnn.mindrecord00 there'):
        run_main(srcnn.train, {'data_path': tmp_path, 'output_path': tmp_path})
    with pytest.raises(FileNotFoundError, match='--pre_trained_path=.*no such file'):
        run_main(srcnn.train, {'data_path': records_dir, 'output_path': tmp_path,
                               'pre_trained_path': tmp_path / 'none.ckpt'})
    with pytest.raises(FileNotFoundError, match='no checkpoint'):
        run_main(srcnn.train, {'data_path': records_dir, 'output_path': tmp_path / 'fresh', 'resume': True})
    with pytest.raises(ValueError, match='fewer patches than one batch'):
        run_main(srcnn.train, {'data_path': records_dir, 'output_path': tmp_path, 'batch_size': 64})
    with pytest.raises(ValueError, match="--init must be 'default' or 'identity'"):
        run_main(srcnn.train, {'data_path': records_dir, 'output_path': tmp_path, 'init': 'zeros'})
    with pytest.raises(ValueError, match='run_distribute=True needs Ascend or GPU'):
        run_main(srcnn.train, {'data_path': records_dir, 'output_path': tmp_path, 'run_distribute': True})


def test_identity_init_starts_at_the_bicubic_image(srcnn):
    import mindspore as ms
    import numpy as np
    ms.set_context(mode=ms.PYNATIVE_MODE)
    net = srcnn.srcnn.identity_init(srcnn.srcnn.SRCNN())
    y = np.random.default_rng(1).random((1, 1, 20, 28), dtype=np.float32)
    np.testing.assert_allclose(net(ms.Tensor(y)).asnumpy(), y, atol=1e-6)
    assert float(np.abs(net.conv2.weight.asnumpy()[1:]).sum()) > 0        # the other channels stay random
