"""Training: GAN steps move both networks, the paired mode learns, exact resume after SIGKILL, options, bad input."""
import contextlib
import io
import os
import signal
import subprocess
import sys

import pytest
import torch

from common import paths
from tests.pytorch_lptn.conftest import LPTN_DIR, TRAIN_YML, fast_overrides

TRAIN_PY = LPTN_DIR / 'train.py'


def _opt(lptn, root, *extra, yml=TRAIN_YML, backend='lmdb'):
    return lptn.options.parse(yml, 'train', fast_overrides(root, backend) + list(extra))


def test_a_few_gan_steps_change_both_networks_and_log_the_reference_keys(lptn, tiny_fivek):
    opt = _opt(lptn, tiny_fivek.root)
    model = lptn.lptn_model.LPTNModel(opt, torch.device('cpu'), 'fp32', init_seed=0)
    g0 = {k: v.clone() for k, v in model.net_g.state_dict().items()}
    d0 = {k: v.clone() for k, v in model.net_d.state_dict().items()}
    batch = {'lq': torch.rand(2, 3, 32, 32), 'ref': torch.rand(2, 3, 32, 32)}
    for it in range(1, 3):
        model.update_learning_rate()
        log = model.optimize_parameters(batch, it)
    assert list(log) == ['l_g_pix', 'l_g_gan', 'l_d_real', 'out_d_real', 'l_d_fake', 'out_d_fake', 'l_d_gp']
    assert any(not torch.equal(g0[k], v) for k, v in model.net_g.state_dict().items())
    assert any(not torch.equal(d0[k], v) for k, v in model.net_d.state_dict().items())
    assert model.get_current_learning_rate() == [5e-4, 5e-4]
    adam = model.optimizer_g.param_groups[0]
    assert adam['betas'] == (0.9, 0.99) and adam['weight_decay'] == 0
    assert model.schedulers[0].milestones == {50000: 1, 100000: 1, 200000: 1, 300000: 1}


def test_net_d_init_iters_skips_the_generator_step(lptn, tiny_fivek):
    model = lptn.lptn_model.LPTNModel(_opt(lptn, tiny_fivek.root, 'train.net_d_init_iters=1'), torch.device('cpu'),
                                      'fp32', init_seed=0)
    log = model.optimize_parameters({'lq': torch.rand(1, 3, 16, 16), 'ref': torch.rand(1, 3, 16, 16)}, 1)
    assert 'l_g_pix' not in log and 'l_d_real' in log


def test_the_paired_mode_lowers_its_loss_without_a_critic(lptn, tiny_fivek):
    opt = _opt(lptn, tiny_fivek.root, 'datasets.train.type=PairedImageDataset', 'train.mode=paired',
               'train.pixel_opt.type=L1Loss', 'train.pixel_opt.loss_weight=1')
    model = lptn.lptn_model.LPTNModel(opt, torch.device('cpu'), 'fp32', init_seed=0)
    assert model.net_d is None and len(model.optimizers) == 1
    lq = torch.rand(2, 3, 32, 32)
    batch = {'lq': lq, 'gt': (lq ** 1.5 * 0.8).clamp(0, 1)}
    losses = [model.optimize_parameters(batch, it)['l_g_pix'] for it in range(1, 16)]
    assert losses[-1] < 0.5 * losses[0]


def test_the_moving_average_is_basicsrs_and_off_by_default(lptn, tiny_fivek):
    """train.ema_decay: after each iteration ema = d * ema + (1 - d) * net_g (from the initial weights);
    0, the reference's behaviour, keeps none."""
    assert lptn.lptn_model.LPTNModel(_opt(lptn, tiny_fivek.root), torch.device('cpu'), 'fp32').net_g_ema is None
    model = lptn.lptn_model.LPTNModel(_opt(lptn, tiny_fivek.root, 'train.ema_decay=0.75'), torch.device('cpu'), 'fp32',
                                      init_seed=0)
    expected = {k: v.clone() for k, v in model.net_g.state_dict().items()}
    batch = {'lq': torch.rand(2, 3, 32, 32), 'ref': torch.rand(2, 3, 32, 32)}
    for it in range(1, 4):
        model.optimize_parameters(batch, it)
        expected = {k: v * 0.75 + model.net_g.state_dict()[k] * 0.25 for k, v in expected.items()}
    ema = model.net_g_ema.state_dict()
    for key, value in expected.items():
        torch.testing.assert_close(ema[key], value, rtol=1e-6, atol=1e-7)
    assert any(not torch.equal(ema[k], v) for k, v in model.net_g.state_dict().items())
    lq = torch.rand(1, 3, 32, 32)
    with torch.no_grad():                            # inference as test() runs it (fused convolutions)
        assert torch.equal(model.test(lq, ema=True), model.net_g_ema(lq)) and not model.net_g_ema.training


def run_main(lptn, argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        lptn.train.main(argv)
    return out.getvalue()


def test_train_writes_the_reference_layout_and_resumes(lptn, tiny_fivek, tmp_path):
    argv = ['-opt', str(TRAIN_YML), '--root', str(tmp_path), '--force_yml', *fast_overrides(tiny_fivek.root, iters=4),
            'logger.save_checkpoint_freq=2', 'val.save_img=true', 'logger.use_tb_logger=true']
    printed = run_main(lptn, argv)
    exp = tmp_path / 'experiments' / 'tiny'
    assert '[tiny..][epoch:  1, iter:       1, lr:(5.000e-04,5.000e-04,)] [eta: ' in printed
    assert 'Validation FiveK_val [RGB, crop=4, SSIM Wang04 11x11 g1.5]\n\t # psnr: ' in printed
    assert sorted(p.name for p in (exp / 'models').iterdir()) == ['net_d_2.pth', 'net_d_4.pth', 'net_g_2.pth',
                                                                   'net_g_4.pth', 'net_g_latest.pth']
    assert sorted(p.name for p in (exp / 'training_states').glob('*.state')) == ['lptn-1_2.state', 'lptn-2_1.state']  # 3 iterations an epoch
    assert len(list((exp / 'visualization' / '4').glob('*_4.png'))) == 2
    assert list((exp / 'tb_logger').iterdir()) and list(exp.glob('train_tiny_*.log'))
    released = torch.load(exp / 'models' / 'net_g_4.pth', weights_only=True)
    assert set(released) == {'params'} and 'trans_high.trans_mask_block_2.2.weight' in released['params']
    more = run_main(lptn, argv + ['train.total_iter=6', '--auto_resume'])
    assert 'Resuming training from epoch: 2, iter: 4' in more and 'iter:       5,' in more
    with pytest.raises(ValueError, match=r"--train.optim_g.lr=0.001 differs from the resumed run's 0.0005"):
        run_main(lptn, argv + ['train.optim_g.lr=0.001', '--auto_resume'])
    run_main(lptn, argv)                                       # a fresh run archives the old experiment
    assert len(list((tmp_path / 'experiments').glob('tiny_archived_*'))) == 1


def _cmd(root, out, *extra):
    return [sys.executable, '-u', str(TRAIN_PY), '-opt', str(TRAIN_YML), '--root', str(out), '--force_yml',
            *fast_overrides(root, iters=8), 'logger.save_checkpoint_freq=2', 'manual_seed=3', 'train.ema_decay=0.9',
            *extra]


def _final_state(out):
    return torch.load(sorted((out / 'experiments' / 'tiny' / 'training_states').glob('*.state'))[-1], weights_only=True)


def test_sigkill_then_resume_equals_the_uninterrupted_run(tiny_fivek, tmp_path):
    """A real SIGKILL after the iteration-4 checkpoint of a run loading data in a DataLoader worker; the
    resumed run ends with exactly the weights (the generator's moving average too), Adam moments and
    schedules of a run never interrupted."""
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH='')
    full = subprocess.run(_cmd(tiny_fivek.root, tmp_path / 'full'), env=env, capture_output=True, text=True, timeout=300)
    assert full.returncode == 0, full.stderr[-2000:]
    proc = subprocess.Popen(_cmd(tiny_fivek.root, tmp_path / 'killed', 'datasets.train.num_worker_per_gpu=1'), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in proc.stdout:
        if 'iter:       5,' in line:                        # iteration 5 done: lptn-2_1 (iteration 4) is on disk
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    states = tmp_path / 'killed' / 'experiments' / 'tiny' / 'training_states'
    assert 'lptn-2_1.state' in [p.name for p in states.glob('*.state')] and not list(states.glob('lptn-2_3.state'))
    resumed = subprocess.run(_cmd(tiny_fivek.root, tmp_path / 'killed', '--auto_resume'), env=env, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert 'Resuming training from epoch: 2, iter: 4' in resumed.stdout
    a, b = _final_state(tmp_path / 'full'), _final_state(tmp_path / 'killed')
    assert a['iter'] == b['iter'] == 8
    for net in ('net_g', 'net_d', 'net_g_ema'):
        for key, value in a['model'][net].items():
            assert torch.equal(value, b['model'][net][key]), (net, key)
    for oa, ob in zip(a['model']['optimizers'], b['model']['optimizers']):
        for sa, sb in zip(oa['state'].values(), ob['state'].values()):
            assert torch.equal(sa['exp_avg'], sb['exp_avg']) and torch.equal(sa['exp_avg_sq'], sb['exp_avg_sq'])
    assert a['model']['schedulers'] == b['model']['schedulers']
    assert [r['l_d_real'] for r in a['log_history']] == [r['l_d_real'] for r in b['log_history']]
    assert [r['psnr_ema'] for r in a['val_history']] == [r['psnr_ema'] for r in b['val_history']]
    released = torch.load(tmp_path / 'killed' / 'experiments' / 'tiny' / 'models' / 'net_g_latest.pth', weights_only=True)
    assert set(released) == {'params', 'params_ema'}
    for key, value in a['model']['net_g_ema'].items():
        assert torch.equal(released['params_ema'][key], value)


@pytest.mark.parametrize('override, message', [
    ('train.optim_g.lr=1e-4', r"key 'train.optim_g.lr' must be a number, got '1e-4'"),
    ('train.optim_g.momentum=0.9', r"unknown key 'train.optim_g.momentum'"),
    ('network_g.nrb_low=2.5', r"key 'network_g.nrb_low' must be an int, got 2.5"),
    ('network_g.type=LPTNv2', r"key 'network_g.type' must be LPTN or LPTNPaper"),
    ('train.mode=paired', r"key 'datasets.train.type' must be PairedImageDataset for train.mode=paired"),
    ('val.use_flip=true', r"unknown key 'val.use_flip'"),
    ('train.ema_decay=1', r"key 'train.ema_decay' must be in \[0, 1\) \(0: no moving average\), got 1"),
])
def test_option_errors_name_the_key(lptn, tiny_fivek, override, message):
    with pytest.raises(ValueError, match=message):
        _opt(lptn, tiny_fivek.root, override)


def test_missing_key_and_reference_files_without_the_added_key(lptn, tiny_fivek, tmp_path):
    text = TRAIN_YML.read_text()
    (tmp_path / 'no_mode.yml').write_text(text.replace('  mode: unpaired', '  # mode removed'))
    opt = lptn.options.parse(tmp_path / 'no_mode.yml', 'train', fast_overrides(tiny_fivek.root))
    assert opt['train']['mode'] == 'unpaired'                         # a reference file is complete without it
    (tmp_path / 'no_gp.yml').write_text(text.replace('  gp_opt:\n    loss_weight: 100\n', ''))
    with pytest.raises(ValueError, match=r"no_gp.yml: missing key 'train.gp_opt'"):
        lptn.options.parse(tmp_path / 'no_gp.yml', 'train')
    with pytest.raises(ValueError, match=r'--launcher=pytorch: start the processes with torchrun'):
        lptn.options.parse(TRAIN_YML, 'train', launcher='pytorch')
    with pytest.raises(ValueError, match=r"--force_yml 'total_iter': expected key.sub=value"):
        lptn.options.parse(TRAIN_YML, 'train', ['total_iter'])


def test_derived_fields(lptn, tmp_path):
    opt = lptn.options.parse(TRAIN_YML, 'train', ['name=debug_x'], root=tmp_path)
    assert opt['is_train'] and not opt['dist'] and opt['rank'] == 0 and opt['world_size'] == 1
    assert opt['path']['experiments_root'] == str(tmp_path / 'experiments' / 'debug_x')
    assert opt['path']['training_states'].endswith('debug_x/training_states')
    assert opt['datasets']['train']['phase'] == 'train' and opt['datasets']['val']['phase'] == 'val'
    assert (opt['val']['val_freq'], opt['logger']['print_freq'], opt['logger']['save_checkpoint_freq']) == (8, 1, 8)
    assert lptn.options.parse(TRAIN_YML, 'train')['val']['val_freq'] == 20000                # 2e4, an int


def _cli(argv, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH='')
    return subprocess.run([sys.executable, str(TRAIN_PY), '-opt', str(TRAIN_YML), '--root', str(tmp_path / 'out'),
                           *argv], env=env, capture_output=True, text=True, timeout=120)


def test_a_subprocess_error_is_one_line_and_exit_2(tiny_fivek, tmp_path):
    missing = tmp_path / 'nope.lmdb'
    proc = _cli(['--force_yml', *fast_overrides(tiny_fivek.root), f'datasets.train.dataroot_lq={missing}'], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f'error: datasets.train.dataroot_lq={missing}: no such file or folder']
    assert not (tmp_path / 'out').exists()


def test_bad_input_is_one_line_exit_2_and_nothing_written(lptn, tiny_fivek, tmp_path, capsys):
    from torchzoo.cli import run_cli
    broken = tmp_path / 'broken'
    (broken / 'A').mkdir(parents=True)
    (broken / 'A' / 'x.png').write_bytes(b'\x89PNG not really')
    base = fast_overrides(tiny_fivek.root)
    cases = [
        (['--force_yml', *fast_overrides(tiny_fivek.root, 'disk'), f'datasets.train.dataroot_lq={broken / "A"}'],
         f'error: {broken / "A" / "x.png"}: cannot decode image'),
        (['--force_yml', *base, 'train.optim_g.bad=1'], "unknown key 'train.optim_g.bad'"),
        (['--force_yml', *base, f'datasets.train.dataroot_lq={tiny_fivek.root / "FiveK_480p" / "train" / "A"}'],
         'not an LMDB (no data.mdb)'),
        (['--force_yml', *base, f'datasets.val.dataroot_gt={tiny_fivek.root / "FiveK_train_target.lmdb"}'],
         'the keys of dataroot_lq and dataroot_gt differ'),
        (['--launcher', 'pytorch'], '--launcher=pytorch: start the processes with torchrun'),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exit_:
            run_cli(lptn.train.main, ['-opt', str(TRAIN_YML), '--root', str(tmp_path / 'out'), *argv])
        lines = capsys.readouterr().err.strip().splitlines()
        assert exit_.value.code == 2 and len(lines) == 1 and message in lines[0], (argv, lines)
        assert not (tmp_path / 'out').exists(), argv
