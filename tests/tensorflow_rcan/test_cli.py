"""main.py flags (the reference's names and defaults, strict booleans, 1e6-style ints) and bad input:
one ``error: ...`` line, exit code 2, nothing written."""
import subprocess
import sys

import cv2
import pytest

from common import cli, paths

MAIN_PY = paths.REPO_ROOT / 'tensorflow' / 'rcan' / 'main.py'

REFERENCE_DEFAULTS = {
    'channel': 3, 'scale': 2, 'n_feats': 64, 'n_RG': 10, 'n_RCAB': 20, 'kernel_size': 3, 'ratio': 16,
    'train_GT_path': './HR', 'train_LR_path': './LR', 'test_GT_path': './val_HR', 'test_LR_path': './val_LR',
    'patch_size': 48, 'result_path': 'result', 'model_path': './model_dir', 'in_memory': True,
    'batch_size': 16, 'max_step': 1000000, 'learning_rate': 1e-4, 'decay_step': 200000, 'decay_rate': 0.5,
    'test_with_train': False, 'save_test_result': False, 'mode': 'train', 'fine_tuning': False,
    'load_tail_part': True, 'log_freq': 10000, 'model_save_freq': 200000, 'pre_trained_model': './',
    'self_ensemble': False, 'chop_forward': False, 'chop_shave': 10, 'chop_size': 40000, 'test_batch': 1,
    'test_set': 'benchmark'}


def test_defaults_are_the_references(rcan):
    args = vars(rcan.main.build_parser().parse_args([]))
    assert {k: args[k] for k in REFERENCE_DEFAULTS} == REFERENCE_DEFAULTS


def test_reference_style_values_parse(rcan):
    args = rcan.main.build_parser().parse_args(['--max_step', '1e3', '--self_ensemble', 'True', '--in_memory=no'])
    assert args.max_step == 1000 and args.self_ensemble is True and args.in_memory is False


def _fails(rcan, argv, capsys, match):
    with pytest.raises(SystemExit) as exit_info:
        cli.run_cli(rcan.main.main, [str(a) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2
    assert len(err) == 1 and err[0].startswith('error: '), err
    assert match in err[0], err[0]


@pytest.fixture
def bad_sets(tiny_data, tmp_path):
    """Broken copies of the tiny training set: a missing LR image, a wrong-size LR image, a corrupt one."""
    import shutil
    hr, lr = tiny_data / 'DIV2K_train_HR', tiny_data / 'DIV2K_train_LR_bicubic' / 'X2'
    sets = {}
    for name in ('fewer', 'size', 'corrupt'):
        shutil.copytree(lr, tmp_path / name)
        sets[name] = tmp_path / name
    (sets['fewer'] / '0004x2.png').unlink()
    cv2.imwrite(str(sets['size'] / '0002x2.png'), cv2.imread(str(lr / '0002x2.png'))[:20, :25])
    (sets['corrupt'] / '0003x2.png').write_bytes(b'\x89PNG\r\n\x1a\nbroken')
    return hr, lr, sets


def test_bad_training_input_is_one_line_and_writes_nothing(rcan, bad_sets, tmp_path, tiny_flags, capsys,
                                                           monkeypatch):
    hr, lr, sets = bad_sets
    monkeypatch.chdir(tmp_path)
    base = [f'--{k}={v}' for k, v in tiny_flags.items()] + [f'--model_path={tmp_path / "m"}', '--log_dir=tb']
    cases = [
        ([f'--train_GT_path={tmp_path / "none"}', f'--train_LR_path={lr}'], f'--train_GT_path={tmp_path / "none"}: no such folder'),
        ([f'--train_GT_path={hr}', f'--train_LR_path={sets["fewer"]}'], '0004.png has no partner in --train_LR_path='),
        ([f'--train_GT_path={hr}', f'--train_LR_path={sets["size"]}'], '0002x2.png (20x25) x2 does not match 0002.png (48x60)'),
        ([f'--train_GT_path={hr}', f'--train_LR_path={sets["corrupt"]}'], '0003x2.png: cannot decode image'),
        ([f'--train_GT_path={hr}', f'--train_LR_path={lr}', '--scale=5'], '--scale=5: the RCAN upsampler supports 2, 3 and 4'),
        ([f'--train_GT_path={hr}', f'--train_LR_path={lr}', '--scale=3'], '0001x2.png has no partner in --train_GT_path='),
        ([f'--train_GT_path={hr}', f'--train_LR_path={lr}', '--patch_size=40'], '--patch_size=40 does not fit 0001x2.png'),
        ([f'--train_GT_path={hr}', f'--train_LR_path={lr}', '--batch_size=9'], '--batch_size=9 is more than one epoch'),
        ([f'--train_GT_path={hr}', f'--train_LR_path={lr}', '--resume=Ture'], "argument --resume: expected True or False, got 'Ture'"),
        ([f'--train_GT_path={hr}', f'--train_LR_path={lr}', '--resume=True'], 'no checkpoint (RCAN_X2_16_1_2-<step>.index) to resume from'),
        ([f'--train_GT_path={hr}', f'--train_LR_path={lr}', '--mode=eval'], "argument --mode: invalid choice: 'eval'"),
        ([f'--train_GT_path={hr}', f'--train_LR_path={lr}', '--fine_tuning=True', f'--pre_trained_model={tmp_path}'],
         'a folder without a TensorFlow checkpoint'),
    ]
    for argv, match in cases:
        _fails(rcan, base + argv, capsys, match)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['corrupt', 'fewer', 'size']


def test_bad_test_input_is_one_line_and_writes_nothing(rcan, trained, tiny_data, tmp_path, capsys, monkeypatch):
    out, _, _ = trained
    monkeypatch.chdir(tmp_path)
    lr, hr = tiny_data / 'test_LR_bicubic' / 'X2', tiny_data / 'test_HR'
    base = ['--mode=test', '--n_feats=16', '--n_RG=1', '--n_RCAB=2', '--ratio=4', '--save_test_result=True',
            '--result_path=sr']
    cases = [
        ([f'--test_LR_path={tmp_path / "x"}', f'--test_GT_path={hr}', f'--pre_trained_model={out / "model"}'],
         f'--test_LR_path={tmp_path / "x"}: no such folder'),
        ([f'--test_LR_path={lr}', f'--test_GT_path={tiny_data / "DIV2K_train_HR"}', f'--pre_trained_model={out / "model"}'],
         '0005x2.png has no partner in --test_GT_path='),
        ([f'--test_LR_path={tiny_data / "test_LR_bicubic" / "X3"}', f'--test_GT_path={hr}', f'--pre_trained_model={out / "model"}'],
         '0005x3.png has no partner in --test_GT_path='),
        ([f'--test_LR_path={lr}', f'--test_GT_path={hr}', f'--pre_trained_model={tmp_path / "nothing"}'],
         'no TensorFlow checkpoint there'),
        ([f'--test_LR_path={lr}', f'--test_GT_path={hr}', f'--pre_trained_model={out / "model"}', '--n_feats=32'],
         'variable conv_SF/filter has shape [3, 3, 3, 16], the network needs [3, 3, 3, 32]'),
        ([f'--test_LR_path={lr}', f'--test_GT_path={hr}', f'--pre_trained_model={out / "model"}', f'--result_path={lr}'],
         f'--result_path={lr} is --test_LR_path={lr}'),
        ([f'--test_LR_path={lr}', f'--test_GT_path={hr}', f'--pre_trained_model={out / "model"}', '--test_batch=4'],
         '--test_batch=4: test images differ in size'),
    ]
    for argv, match in cases:
        _fails(rcan, base + argv, capsys, match)
    assert list(tmp_path.iterdir()) == []


def test_the_exit_code_and_the_single_line_from_a_real_process(tmp_path):
    result = subprocess.run([sys.executable, str(MAIN_PY), f'--train_GT_path={tmp_path / "HR"}'],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f'error: --train_GT_path={tmp_path / "HR"}: no such folder'
    assert list(tmp_path.iterdir()) == []
