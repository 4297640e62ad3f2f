"""train.py: loss goes down, the reference's log lines, checkpoints, exact resume after SIGKILL, bad input."""
import contextlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from common import paths

TRAIN_PY = paths.REPO_ROOT / 'pytorch' / 'rdn' / 'train.py'


def run_train(rdn, argv):
    """train.main in this process; returns what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rdn.train.main(argv)
    return out.getvalue()


@pytest.fixture(scope='module')
def trained(rdn, fast_flags, tmp_path_factory):
    out = tmp_path_factory.mktemp('train_out')
    flags = fast_flags + ['--preset=reference', '--nEpochs=3', '--dataset_enlarge_ratio=4', '--lr=0.002',
                          '--save_checkpoint_steps=0', '--tensorboard=True', f'--output_path={out}']
    return out, flags, run_train(rdn, flags)


def test_a_few_epochs_lower_the_loss(trained):
    _, _, printed = trained
    avg = [float(v) for v in re.findall(r'^===> Epoch \d+ Complete: Avg\. Loss: (\d+\.\d{6})$', printed, re.M)]
    assert len(avg) == 3 and avg[-1] < 0.6 * avg[0]


def test_the_reference_log_lines(trained):
    _, _, printed = trained
    lines = printed.splitlines()
    assert lines[0].startswith('Namespace(upscale_factor=4, datapath=')             # print(opt)
    steps = [line for line in lines if line.startswith('===> Epoch[')]
    assert len(steps) == 18 and re.fullmatch(r'===> Epoch\[1\]\(1/6\): Loss: \d+\.\d{6}', steps[0])
    done = [i for i, line in enumerate(lines) if ' Complete: Avg. Loss: ' in line]
    for i in done:                                                                  # the epoch seconds, bare
        assert re.fullmatch(r'\d+\.\d+', lines[i + 1]) and lines[i + 2].startswith('===> Avg. PSNR: ')
    psnr = lines[done[0] + 2]
    assert re.fullmatch(r'===> Avg\. PSNR: \d+\.\d{6} dB \[Y \(BT\.601, unrounded\), crop=4, SSIM Wang04 11x11 g1\.5\] '
                        r'SSIM: 0\.\d{4}; legacy 10\*log10\(1/L1\): \d+\.\d{6} dB \(the reference\'s "PSNR", not a PSNR\)',
                        psnr), psnr
    assert 'precision: fp32 (everything in float32) on cpu' in lines


def test_checkpoints_hold_state_dicts_read_with_weights_only(trained):
    out, _, _ = trained
    ckpt = out / 'ckpt' / 'RDN'
    assert sorted(p.name for p in ckpt.glob('*.pth')) == ['rdn-1_6.pth', 'rdn-2_6.pth', 'rdn-3_6.pth']
    state = torch.load(ckpt / 'rdn-3_6.pth', weights_only=True)
    assert {'model', 'optimizer', 'scheduler', 'precision', 'epoch', 'step_in_epoch', 'global_step', 'rng',
            'history', 'arch'} <= set(state)
    assert state['global_step'] == 18 and state['epoch'] == 3 and state['step_in_epoch'] == 6
    assert state['scheduler']['milestones'] == {300: 1, 450: 1, 600: 1}          # epochs 50/75/100 x 6 steps
    assert len(state['history']['loss']) == 18 and len(state['history']['val']) == 3
    assert set(state['rng']) >= {'torch', 'numpy', 'python'}
    for name in ('curves.png', 'train_loss.csv', 'val.csv'):
        assert (out / name).is_file(), name
    assert cv2.imread(str(out / 'curves.png')) is not None
    assert any((out / 'tensorboard').iterdir())


def test_resume_continues_and_identity_is_checked(rdn, trained):
    out, flags, _ = trained
    printed = run_train(rdn, flags[:-1] + ['--nEpochs=4', '--resume', f'--output_path={out}'])
    assert re.search(r'resuming from .*rdn-3_6\.pth \(epoch 3, step 6 of it; global step 18\)', printed)
    assert '===> Epoch[4](1/6)' in printed and '===> Epoch[3]' not in printed      # the last epoch is not rerun
    with pytest.raises(ValueError, match=r"--lr=0.01 differs from the resumed run's 0.002"):
        run_train(rdn, flags + ['--lr=0.01', '--resume'])
    with pytest.raises(ValueError, match=r'holds run \w+ .*pass --resume=True to continue it or --overwrite=True'):
        run_train(rdn, flags)


def _cmd(data, out, *extra):
    return [sys.executable, '-u', str(TRAIN_PY), '--preset=bench', f'--datapath={data}', '--upscale_factor=4',
            '--batchSize=2', '--patch_size=32', '--threads=0', '--tensorboard=False', '--device=cpu', '--amp=fp32',
            '--dataset_enlarge_ratio=4', '--nEpochs=2', '--save_checkpoint_steps=2', '--keep_checkpoint_max=2',
            '--milestones=1.5', '--gamma=0.5', '--seed=3', f'--output_path={out}', *extra]


def _final(out):
    return torch.load(out / 'ckpt' / 'RDN' / 'rdn-2_6.pth', weights_only=True)


def test_sigkill_mid_epoch_then_resume_equals_the_uninterrupted_run(tiny_data, tmp_path):
    """A real SIGKILL in the middle of epoch 2, after its step-8 checkpoint, of a run that loads data in a
    DataLoader worker; --resume (loading in the main process) then ends with exactly the weights, Adam
    moments, lr and losses of a run never interrupted."""
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH='')
    full = subprocess.run(_cmd(tiny_data.ref, tmp_path / 'full'), env=env, capture_output=True, text=True, timeout=300)
    assert full.returncode == 0, full.stderr
    proc = subprocess.Popen(_cmd(tiny_data.ref, tmp_path / 'killed', '--threads=1'), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    for line in proc.stdout:
        if line.startswith('===> Epoch[2](3/6)'):                     # step 9: checkpoint rdn-2_2 (step 8) written
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    names = sorted(p.name for p in (tmp_path / 'killed' / 'ckpt' / 'RDN').glob('*.pth'))
    assert 'rdn-2_6.pth' not in names and 'rdn-2_2.pth' in names
    resumed = subprocess.run(_cmd(tiny_data.ref, tmp_path / 'killed', '--resume=True'), env=env, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert 'resuming from' in resumed.stdout and 'global step 8)' in resumed.stdout
    a, b = _final(tmp_path / 'full'), _final(tmp_path / 'killed')
    for key in a['model']:
        assert torch.equal(a['model'][key], b['model'][key]), key
    for pa, pb in zip(a['optimizer']['state'].values(), b['optimizer']['state'].values()):
        assert torch.equal(pa['exp_avg'], pb['exp_avg']) and torch.equal(pa['exp_avg_sq'], pb['exp_avg_sq'])
    assert a['scheduler'] == b['scheduler'] and a['history']['loss'] == b['history']['loss']


def test_bf16_autocast_trains_on_cpu(rdn, fast_flags, tmp_path):
    printed = run_train(rdn, fast_flags + ['--preset=reference', '--amp=bf16', '--max_steps=2', '--patch_size=16',
                                           f'--output_path={tmp_path}'])
    assert 'precision: bf16 autocast' in printed and '===> Epoch[1](2/2)' in printed


def test_reference_pipeline(rdn, fast_flags, tmp_path):
    printed = run_train(rdn, fast_flags + ['--preset=reference', '--pipeline=reference', '--max_steps=1',
                                           '--upscale_factor=3', f'--output_path={tmp_path}'])
    assert 'reference pipeline: centre crops, PIL bilinear LR' in printed
    assert 'crop=3, SSIM Wang04 11x11 g1.5 on the reference pipeline crops]' in printed


def test_a_subprocess_error_is_one_line_and_exit_2(tiny_data, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, str(TRAIN_PY), f'--datapath={tmp_path / "nothing"}',
                           f'--output_path={tmp_path / "out"}'], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [f'error: --datapath={tmp_path / "nothing"}: no such folder']
    assert not (tmp_path / 'out').exists()


def test_bad_input_fails_before_writing_anything(rdn, fast_flags, tiny_data, tmp_path):
    out = tmp_path / 'out'
    base = [f for f in fast_flags if not f.startswith('--datapath')] + [f'--output_path={out}', '--max_steps=1']
    wrong = tmp_path / 'wrong'                                  # X3 holds the x2 images: sizes do not match
    shutil.copytree(tiny_data.div2k / 'DIV2K_train_HR', wrong / 'DIV2K_train_HR')
    shutil.copytree(tiny_data.div2k / 'DIV2K_train_LR_bicubic' / 'X2', wrong / 'DIV2K_train_LR_bicubic' / 'X3')
    for path in (wrong / 'DIV2K_train_LR_bicubic' / 'X3').iterdir():
        path.rename(path.with_name(path.name.replace('x2', 'x3')))
    (tmp_path / 'empty' / 'train').mkdir(parents=True)
    broken = tmp_path / 'broken'
    (broken / 'train').mkdir(parents=True)
    (broken / 'train' / 'a.png').write_bytes(b'\x89PNG not really')
    bad_ckpt = tmp_path / 'bad.pth'
    bad_ckpt.write_bytes(b'PK\x03\x04 truncated')
    cases = [
        ([f'--datapath={tmp_path / "empty"}'], 'no images with extensions'),
        ([f'--datapath={broken}'], 'a.png: cannot decode image'),
        ([f'--datapath={tiny_data.ref}', '--upscale_factor=5'], '--upscale_factor=5: RDN supports 2, 3 and 4'),
        ([f'--datapath={wrong}', '--upscale_factor=3', '--patch_size=36'], r'LR size \(32, 40\) x3 does not match the HR size \(63, 78\)'),
        ([f'--datapath={tiny_data.ref}', f'--pre_trained_path={bad_ckpt}'], 'not a readable PyTorch checkpoint'),
        ([f'--datapath={tiny_data.ref}', '--batchSize=0'], '--batchSize must be >= 1'),
        ([f'--datapath={tiny_data.ref}', '--milestones=a,b'], '--milestones=a,b: expected comma-separated numbers'),
        ([f'--datapath={tiny_data.ref}', '--resume'], 'no checkpoint'),
    ]
    for extra, message in cases:
        with pytest.raises((ValueError, OSError), match=message):
            run_train(rdn, base + extra)
        assert not (out / 'ckpt' / 'RDN').exists(), extra
    with pytest.raises(SystemExit):
        with contextlib.redirect_stderr(io.StringIO()):
            rdn.train.parse_args(['--amp=fast'])


def test_a_corrupt_newest_checkpoint_falls_back(rdn, trained, tmp_path):
    out, flags, _ = trained
    copy = tmp_path / 'copy'
    shutil.copytree(out / 'ckpt', copy / 'ckpt')
    newest = sorted((copy / 'ckpt' / 'RDN').glob('rdn-*.pth'))[-1]
    newest.write_bytes(newest.read_bytes()[:1000])
    printed = run_train(rdn, [f for f in flags if not f.startswith('--output_path')] +
                        [f'--output_path={copy}', '--resume', f'--nEpochs={int(newest.stem.split("-")[1].split("_")[0]) + 1}'])
    assert f'warning: {newest}: unreadable checkpoint' in printed and 'resuming from' in printed
