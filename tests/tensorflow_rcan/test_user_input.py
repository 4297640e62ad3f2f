"""What a careless input meets (issue 18): pairing by name, run folders inside the data, outputs that
exist already, export errors that name the user's path."""
import shutil

import cv2
import numpy as np
import pytest
import tensorflow as tf

from common import cli

NET = ['--n_feats=16', '--n_RG=1', '--n_RCAB=2', '--ratio=4', '--intra_op_threads=1']


def _fails(main, argv, capsys, match):
    with pytest.raises(SystemExit) as info:
        cli.run_cli(main, [str(a) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1 and err[0].startswith('error: '), err
    assert match in err[0], err[0]


def test_lr_and_hr_pair_by_name_whatever_their_sorted_order(rcan, tmp_path):
    lr_dir, hr_dir = tmp_path / 'LR', tmp_path / 'HR'
    lr_dir.mkdir()
    hr_dir.mkdir()
    rng = np.random.default_rng(0)
    for name, (h, w) in (('a', (10, 10)), ('a_b', (12, 16))):    # sorted: a.png < a_b.png but a_bx2.png < ax2.png
        lr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        cv2.imwrite(str(lr_dir / f'{name}x2.png'), lr)
        cv2.imwrite(str(hr_dir / f'{name}.png'), cv2.resize(lr, (2 * w, 2 * h), interpolation=cv2.INTER_NEAREST))
    pairs = rcan.data_loader.PairedImages(lr_dir, hr_dir, 2)
    for i in range(len(pairs)):
        lr, hr = pairs.pair(i)
        np.testing.assert_array_equal(hr[::2, ::2], lr)


def test_an_lr_file_renamed_out_of_order_is_named_not_trained_on(rcan, tiny_data, argv_for, tmp_path, capsys,
                                                                  monkeypatch):
    lr = tmp_path / 'X2'
    shutil.copytree(tiny_data / 'DIV2K_train_LR_bicubic' / 'X2', lr)
    (lr / '0002x2.png').rename(lr / '0009x2.png')     # sorted position would pair HR 0002 with LR 0003
    monkeypatch.chdir(tmp_path)
    _fails(rcan.main.main, argv_for(tiny_data, tmp_path / 'model', train_LR_path=lr, max_step=2), capsys,
           f'--train_LR_path={lr}: 0009x2.png has no partner in --train_GT_path=')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['X2']


def test_run_folders_inside_the_training_data_are_refused(rcan, tiny_data, argv_for, tmp_path, capsys, monkeypatch):
    data = tmp_path / 'data'
    shutil.copytree(tiny_data, data)
    monkeypatch.chdir(tmp_path)
    hr, lr = data / 'DIV2K_train_HR', data / 'DIV2K_train_LR_bicubic' / 'X2'
    before = sorted(p.relative_to(data) for p in data.rglob('*'))
    for extra, match in (({'model_path': hr / 'model'}, f'--model_path={hr / "model"} lies inside --train_GT_path'),
                         ({'log_dir': lr}, f'--log_dir={lr} is --train_LR_path'),
                         ({'model_path': data}, f'--model_path={data} contains --train_GT_path')):
        _fails(rcan.main.main, argv_for(data, extra.pop('model_path', tmp_path / 'model'), max_step=2, **extra), capsys,
               match)
    assert sorted(p.relative_to(data) for p in data.rglob('*')) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['data']


def test_test_only_keeps_earlier_outputs_without_overwrite(rcan, trained, tiny_data, tmp_path, capsys, monkeypatch):
    out, _, _ = trained
    monkeypatch.chdir(tmp_path)
    argv = ['--mode=test_only', f'--pre_trained_model={out / "model"}', '--result_path=sr',
            f'--test_LR_path={tiny_data / "test_LR_bicubic" / "X2"}', *NET]
    rcan.main.main(argv)
    earlier = tmp_path / 'sr' / '0005x2X2.png'
    earlier.write_bytes(b'an earlier output')
    _fails(rcan.main.main, argv, capsys, '--result_path=sr: 0005x2X2.png exists (an earlier output); pass '
                                         '--overwrite True')
    assert earlier.read_bytes() == b'an earlier output'
    rcan.main.main(argv + ['--overwrite=True'])
    assert cv2.imread(str(earlier)).shape == (48, 60, 3)


def test_outputs_inside_the_checkpoint_folder_are_refused(rcan, trained, tiny_data, tmp_path, capsys, monkeypatch):
    out, _, _ = trained
    monkeypatch.chdir(tmp_path)                                    # --mode test writes its result file here
    model = out / 'model'
    before = sorted(p.name for p in model.iterdir())
    lr = tiny_data / 'test_LR_bicubic' / 'X2'
    for argv in (['--mode=test_only', f'--result_path={model}', f'--test_LR_path={lr}'],
                 ['--mode=test', '--save_test_result=True', f'--result_path={model / "sr"}', f'--test_LR_path={lr}',
                  f'--test_GT_path={tiny_data / "test_HR"}']):
        _fails(rcan.main.main, [f'--pre_trained_model={model}', *argv, *NET], capsys,
               f'lies in the checkpoint folder of --pre_trained_model={model}')
    _fails(rcan.export.main, [f'--pre_trained_model={model}', f'--output_file={model / "rcan.pb"}', *NET], capsys,
           f'--output_file={model / "rcan.pb"} lies in the checkpoint folder')
    assert sorted(p.name for p in model.iterdir()) == before


def test_export_refuses_to_replace_and_names_the_users_path(rcan, trained, tmp_path, capsys):
    out, _, _ = trained
    pb = tmp_path / 'rcan.pb'
    pb.write_bytes(b'earlier')
    argv = [f'--pre_trained_model={out / "model"}', f'--output_file={pb}', *NET]
    _fails(rcan.export.main, argv, capsys, f'--output_file={pb}: exists; pass --overwrite True to replace it')
    assert pb.read_bytes() == b'earlier'
    blocked = tmp_path / 'a_file'
    blocked.write_bytes(b'')
    _fails(rcan.export.main, [f'--pre_trained_model={out / "model"}', f'--output_file={blocked / "x.pb"}', *NET],
           capsys, f'--output_file={blocked / "x.pb"}: cannot create it, {blocked} is a file, not a folder')
    rcan.export.main(argv + ['--overwrite=True'])
    assert pb.stat().st_size > 1000


def test_a_failed_write_of_the_frozen_graph_names_the_target_not_a_temporary(rcan, tmp_path, monkeypatch):
    target = tmp_path / 'model.pb'

    def refuse(path, data):
        raise PermissionError(13, 'Permission denied', str(path.parent / f'.{path.name}.123.abcdef01.tmp'))
    monkeypatch.setattr(rcan.freeze, 'atomic_write_bytes', refuse)
    graph = tf.Graph()
    with graph.as_default():
        v = tf.compat.v1.get_variable('v', [2], initializer=tf.compat.v1.ones_initializer())
        tf.identity(v, name='output')
        init = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        with pytest.raises(ValueError) as info:
            rcan.freeze.freeze_graph(sess, ['output'], target, '--output_file')
    assert cli.error_line(info.value) == f'--output_file={target}: cannot write it (Permission denied)'


def test_abbreviated_flags_are_refused(rcan, capsys):
    _fails(rcan.main.main, ['--mode=test_only', '--result=out'], capsys, 'unrecognized arguments: --result=out')
