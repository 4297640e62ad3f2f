"""The ModelZoo test/ scripts drive train.py and validate_bsrn.py and write the case files; bash -n on scripts/."""
import os
import subprocess

from common import paths

BSRN_DIR = paths.REPO_ROOT / 'tensorflow' / 'bsrn'


def test_scripts_parse():
    for script in sorted((BSRN_DIR / 'scripts').glob('*.sh')) + sorted((BSRN_DIR / 'test').glob('*.sh')):
        assert subprocess.run(['bash', '-n', str(script)]).returncode == 0, script


def test_train_full_1p_tiny(tiny_data, tmp_path):
    data = tmp_path / 'data'
    (data / 'DIV2K').mkdir(parents=True)
    os.symlink(tiny_data / 'DIV2K_train_HR', data / 'DIV2K' / 'DIV2K_train_HR')
    os.symlink(tiny_data / 'DIV2K_train_LR_bicubic', data / 'DIV2K' / 'DIV2K_train_LR_bicubic')
    (data / 'BSD100').mkdir()
    os.symlink(tiny_data / 'val' / 'LR', data / 'BSD100' / 'LR')
    os.symlink(tiny_data / 'val' / 'HR', data / 'BSD100' / 'SR')
    out_dir = tmp_path / 'ckpt'
    import sys
    env = dict(os.environ, CHIP='cpu', ASCEND_DEVICE_ID='7', PATH=f'{os.path.dirname(sys.executable)}:{os.environ["PATH"]}',
               EXTRA_MODEL_FLAGS='--bsrn_conv_features=8 --bsrn_state_features=8 --bsrn_recursions=2 --intra_op_threads=1',
               EXTRA_TRAIN_FLAGS='--input_patch_size=8 --sleep_ratio=0 --log_freq=1')
    done = subprocess.run(['bash', 'test/train_full_1p.sh', f'--data_path={data}', '--train_steps=4', '--batch_size=2',
                           f'--output_path={out_dir}'], cwd=BSRN_DIR, env=env, capture_output=True, text=True,
                          timeout=150)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'Final Performance images/sec : ' in done.stdout and 'Final Train Accuracy : ' in done.stdout
    case = BSRN_DIR / 'test' / 'output' / '7' / 'BSRN_ID1296_for_TensorFlow_bs2_1p_acc.log'
    try:
        text = case.read_text()
        assert 'CaseName = BSRN_ID1296_for_TensorFlow_bs2_1p_acc' in text and 'TrainAccuracy = ' in text
        assert float(done.stdout.split('Final Train Accuracy : ')[1].split()[0]) > 0
    finally:
        import shutil
        shutil.rmtree(BSRN_DIR / 'test' / 'output', ignore_errors=True)
