"""The README's commands as a new user runs them, and what a careless input meets (issue 18)."""
import subprocess
import sys

import cv2
import pytest

from common import paths

BSRN_DIR = paths.REPO_ROOT / 'tensorflow' / 'bsrn'
MODEL_ARGS = ['--bsrn_conv_features=8', '--bsrn_state_features=8', '--bsrn_recursions=2']   # conftest's TINY


@pytest.fixture(scope='module')
def readme_run(bsrn, tiny_data, argv_for, tmp_path_factory):
    """The README's training command (div2k_loader, --scales=2,3,4, --bsrn_clip_norm=5), tiny: its folder."""
    out = tmp_path_factory.mktemp('readme') / 'bsrn'
    bsrn.train.main(argv_for(tiny_data, out, model='bsrn', bsrn_clip_norm=5, max_steps=3, log_freq=1, save_freq=3))
    return out


def test_readme_test_command_works_on_the_readme_training_checkpoint(bsrn, readme_run, tiny_data, tmp_path):
    lr = tiny_data / 'val' / 'LR' / 'x4'
    sr = tmp_path / 'SR'
    # python3 test_bsrn.py --restore_path=/tmp/bsrn --scales 4 --input_path LR --output_path SR
    got = bsrn.test_bsrn.main(['--restore_path', str(readme_run), '--scales', '4', '--input_path', str(lr),
                               '--output_path', str(sr), *MODEL_ARGS])
    assert sorted(p.name for p in (sr / 'x4').glob('*.png')) == sorted(p.name for p in lr.glob('*.png'))
    assert len(got['written']) == 2
    img = cv2.imread(str(sr / 'x4' / '0005.png'))
    assert img.shape[:2] == tuple(4 * s for s in cv2.imread(str(lr / '0005.png')).shape[:2])


def test_model_scales_that_contradict_the_checkpoint_name_the_flag_to_pass(bsrn, readme_run, tiny_data, tmp_path, fails):
    fails(bsrn.test_bsrn.main, [f'--restore_path={readme_run}', '--scales=4', '--bsrn_model_scales=4',
                                 f'--input_path={tiny_data / "val" / "LR" / "x4"}', f'--output_path={tmp_path / "SR"}',
                                 *MODEL_ARGS], 'pass --bsrn_model_scales=2,3,4')
    fails(bsrn.test_bsrn.main, [f'--restore_path={readme_run}', '--scales=8',
                                 f'--input_path={tiny_data / "val" / "LR" / "x4"}', f'--output_path={tmp_path / "SR"}',
                                 *MODEL_ARGS], 'x8 is not a scale of --restore_path')
    assert not (tmp_path / 'SR').exists()


def test_a_diverging_run_stops_and_saves_no_nan_checkpoint(bsrn, tiny_data, argv_for, tmp_path, fails):
    out = tmp_path / 'run'
    fails(bsrn.train.main, argv_for(tiny_data, out, bsrn_learning_rate=1e9, max_steps=3, log_freq=1, save_freq=3),
           'loss is nan')
    assert not out.exists()          # no checkpoint, no run.json, arguments.json or summaries either


def test_inference_module_run_as_a_script_says_it_is_a_library(tmp_path):
    proc = subprocess.run([sys.executable, str(BSRN_DIR / 'inference.py')], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and 'library module' in lines[0], proc.stderr
    assert not any(tmp_path.iterdir())


def test_run_folder_inside_the_training_data_is_refused(bsrn, tiny_data, argv_for, tmp_path, fails):
    import shutil
    data = tmp_path / 'data'
    shutil.copytree(tiny_data, data)
    for inside in (data / 'DIV2K_train_HR' / 'run', data / 'DIV2K_train_LR_bicubic', data):
        fails(bsrn.train.main, argv_for(data, inside, max_steps=1), '--train_path=')
    assert not (data / 'DIV2K_train_HR' / 'run').exists()
    assert sorted(p.name for p in (data / 'DIV2K_train_HR').iterdir()) == ['0001.png', '0002.png', '0003.png',
                                                                           '0004.png']


def test_abbreviated_flags_are_refused(bsrn, tiny_data, tmp_path, fails):
    fails(bsrn.test_bsrn.main, ['--restore_path=x', '--scale=4', f'--input_path={tiny_data / "val" / "LR" / "x4"}'],
           'unrecognized arguments: --scale=4')
    fails(bsrn.train.main, ['--max_step=3'], 'unrecognized arguments: --max_step=3')


def test_export_keeps_an_earlier_file_without_overwrite(bsrn, readme_run, tmp_path, fails):
    out = tmp_path / 'bsrn.pb'
    out.write_bytes(b'earlier')
    fails(bsrn.export.main, [f'--restore_path={readme_run}', f'--output={out}', *MODEL_ARGS],
           f'--output={out}: exists; pass --overwrite True')
    assert out.read_bytes() == b'earlier'
    bsrn.export.main([f'--restore_path={readme_run}', f'--output={out}', '--overwrite=True', *MODEL_ARGS])
    assert out.stat().st_size > 1000
    blocked = tmp_path / 'file'
    blocked.write_bytes(b'')
    fails(bsrn.export.main, [f'--restore_path={readme_run}', f'--output={blocked / "bsrn.pb"}', *MODEL_ARGS],
           f'--output={blocked / "bsrn.pb"}: cannot create it, {blocked} is a file')


def test_outputs_inside_the_checkpoint_folder_are_refused(bsrn, readme_run, tiny_data, fails):
    before = sorted(p.name for p in readme_run.iterdir())
    fails(bsrn.test_bsrn.main, [f'--restore_path={readme_run}', '--scales=4', f'--output_path={readme_run / "SR"}',
                                 f'--input_path={tiny_data / "val" / "LR" / "x4"}', *MODEL_ARGS],
          f'--output_path={readme_run / "SR"} lies in the checkpoint folder of --restore_path={readme_run}')
    fails(bsrn.export.main, [f'--restore_path={readme_run}', f'--output={readme_run / "bsrn.pb"}', *MODEL_ARGS],
          f'--output={readme_run / "bsrn.pb"} lies in the checkpoint folder')
    assert sorted(p.name for p in readme_run.iterdir()) == before


def test_a_checkpoint_trained_with_the_bicubic_skip_is_run_with_it(bsrn, tiny_data, argv_for, tmp_path):
    """The skip travels with the checkpoint: test_bsrn.py without the flag builds the model the run trained."""
    out = tmp_path / 'skip'
    bsrn.train.main(argv_for(tiny_data, out, max_steps=2, log_freq=1, save_freq=2, bsrn_bicubic_skip=True))
    args = bsrn.test_bsrn.build_parser().parse_args([f'--restore_path={out}', '--scales=2', '--input_path=x', *MODEL_ARGS])
    bsrn.flags.check_model_args(args)
    assert args.bsrn_bicubic_skip is False
    bsrn.inference.adopt_checkpoint_scales(args, bsrn.inference.resolve_checkpoint(str(out)))
    assert args.bsrn_bicubic_skip is True
    lr = tiny_data / 'val' / 'LR' / 'x2'
    got = bsrn.test_bsrn.main([f'--restore_path={out}', '--scales=2', f'--input_path={lr}',
                               f'--output_path={tmp_path / "SR"}', *MODEL_ARGS])
    assert len(got['written']) == 2
