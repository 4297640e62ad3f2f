"""Bad input: one clear line on stderr, exit code 2, nothing half-written."""
import cv2
import numpy as np
import pytest


def test_missing_folders(bsrn, tiny_data, argv_for, tmp_path, fails):
    fails(bsrn.train.main, argv_for(tiny_data, tmp_path / 't', data_truth_path=tmp_path / 'nope'),
           '--data_truth_path=')
    fails(bsrn.test_bsrn.main, ['--restore_path=x', f'--input_path={tmp_path / "nope"}'], '--input_path=')
    assert not (tmp_path / 't').exists()


def test_a_scale_the_model_was_not_built_for(bsrn, tiny_data, argv_for, trained, tmp_path, fails):
    fails(bsrn.train.main, argv_for(tiny_data, tmp_path / 't', scales='2,5'), 'unsupported scale 5')
    fails(bsrn.test_bsrn.main, ['--restore_path=x', '--scales=4', '--bsrn_model_scales=2,3'],
           '--scales: x4 is not a scale the model was built for')
    fails(bsrn.validate_bsrn.main, [f'--restore_path={trained[0]}', '--scales=2', '--bsrn_model_scales=2',
                                     f'--data_input_path={tiny_data / "val" / "LR"}',
                                     f'--data_truth_path={tiny_data / "val" / "HR"}', '--bsrn_conv_features=8',
                                     '--bsrn_state_features=8', '--bsrn_recursions=2'],
           'pass --bsrn_model_scales=2,3,4')


def test_corrupt_image_and_size_mismatch(bsrn, tiny_data, argv_for, tmp_path, fails):
    import shutil
    data = tmp_path / 'data'
    shutil.copytree(tiny_data, data, ignore=shutil.ignore_patterns('val'))
    (data / 'DIV2K_train_LR_bicubic' / 'X3' / '0002x3.png').write_bytes(b'not a png')
    fails(bsrn.train.main, argv_for(data, tmp_path / 't'), '0002x3.png')
    (data / 'DIV2K_train_LR_bicubic' / 'X3' / '0002x3.png').unlink()
    cv2.imwrite(str(data / 'DIV2K_train_LR_bicubic' / 'X3' / '0002x3.png'), np.zeros((10, 10, 3), np.uint8))
    fails(bsrn.train.main, argv_for(data, tmp_path / 't'), 'HR is 48x48, but its x3 LR')
    assert not (tmp_path / 't').exists()
    lr_dir = tmp_path / 'lr'
    lr_dir.mkdir()
    (lr_dir / 'bad.png').write_bytes(b'\x89PNG broken')
    fails(bsrn.test_bsrn.main, ['--restore_path=x', f'--input_path={lr_dir}', f'--output_path={tmp_path / "SR"}'],
           'bad.png')
    assert not (tmp_path / 'SR').exists()


def test_help_of_every_entry_point(bsrn, capsys):
    for module in (bsrn.train, bsrn.validate_bsrn, bsrn.test_bsrn, bsrn.export):
        with pytest.raises(SystemExit) as info:
            module.main(['--help'])
        assert info.value.code == 0
    assert '--bsrn_clip_norm' in capsys.readouterr().out


def test_bench_trial_overrides_are_preset_keys_and_reach_the_flags(bsrn, tmp_path):
    from common.bench import apply_trial
    preset, _ = apply_trial(bsrn.bench.PRESET, 100, overrides=['bsrn_recursion_frequency=2'], steps_keys=('max_steps',))
    argv = bsrn.bench.preset_argv(tmp_path, preset)
    assert '--bsrn_recursion_frequency=2' in argv and '--max_steps=100' in argv
    assert '--bsrn_learning_rate_decay_steps=80' in argv                  # a trial keeps the drop at 80%
    assert '--bsrn_learning_rate_decay_steps=5280' in bsrn.bench.preset_argv(tmp_path, bsrn.bench.PRESET)
    with pytest.raises(ValueError, match=r'^--set bsrn_lr=1: expected KEY=VALUE with KEY one of the preset keys'):
        apply_trial(bsrn.bench.PRESET, overrides=['bsrn_lr=1'])
    args = bsrn.train.build_parser().parse_args(argv)
    assert args.max_steps == 100 and args.bsrn_recursion_frequency == 2


def test_the_tf_yardstick_measures_both_data_formats_and_keeps_the_faster(bsrn, monkeypatch):
    from common import bench as harness
    from tfzoo import speed
    from tfzoo.session import session_config
    for key in ('batch', 'height', 'width'):
        monkeypatch.setitem(harness.YARDSTICK, key, 2 if key == 'batch' else 8)
    for mode in ('train', 'infer'):
        stick = speed.dense_conv(session_config(intra_op_threads=1, inter_op_threads=1), mode, seconds=0.02)
        assert set(stick['measured']) == {'NHWC', 'NCHW'} and stick['measured']['NHWC'] > 0   # NCHW: oneDNN only
        assert stick['gflops'] == max(v for v in stick['measured'].values() if v) and stick['mode'] == mode
    with pytest.raises(ValueError, match="measured in fp32, got 'bf16'"):
        speed.dense_conv(None, 'infer', 'bf16')