"""Data preparation, test.py, test_speed.py, ONNX export and the ModelZoo scripts on the tiny FiveK layout."""
import os
import re
import subprocess
import sys
import zipfile

import pytest
import torch

from common import paths
from tests.pytorch_lptn.conftest import LPTN_DIR, SPEED_YML, TEST_YML, TRAIN_YML, data_overrides, fast_overrides


def test_create_lmdb_builds_the_four_databases(lptn, tiny_fivek, tmp_path, capsys):
    root = tmp_path / 'FiveK'
    (root).mkdir()
    (root / 'FiveK_480p').symlink_to(tiny_fivek.root / 'FiveK_480p')
    done = lptn.create_lmdb.create_lmdbs(root)
    assert sorted(p.name for p in root.glob('*.lmdb')) == ['FiveK_test_source.lmdb', 'FiveK_test_target.lmdb',
                                                         'FiveK_train_source.lmdb', 'FiveK_train_target.lmdb']
    meta = (root / 'FiveK_train_source.lmdb' / 'meta_info.txt').read_text().splitlines()
    assert len(meta) == 3 and meta[0].endswith('.png (72,88,3) 1')
    assert set(done.values()) == {2, 3}
    again = lptn.create_lmdb.create_lmdbs(root)                       # kept, as the reference
    assert set(again.values()) == {None} and 'exists, kept' in capsys.readouterr().out
    (tmp_path / 'bad' / 'FiveK_480p' / 'train' / 'A').mkdir(parents=True)
    with pytest.raises(ValueError, match='no such folder|no images'):
        lptn.create_lmdb.create_lmdbs(tmp_path / 'bad')
    assert not list((tmp_path / 'bad').glob('*.lmdb'))


def test_download_datasets_cannot_download_and_accepts_a_local_copy(lptn, tiny_fivek, tmp_path):
    with pytest.raises(ValueError, match=r'cannot download here: get FiveK.zip .* --source=PATH'):
        lptn.download_datasets.main(['--root', str(tmp_path / 'a')])
    target = lptn.download_datasets.install(tiny_fivek.root, tmp_path / 'a')
    assert len(list((target / 'train' / 'B').iterdir())) == 3
    archive = tmp_path / 'FiveK.zip'
    with zipfile.ZipFile(archive, 'w') as z:
        for path in (tiny_fivek.root / 'FiveK_480p').rglob('*.png'):
            z.write(path, 'FiveK/FiveK_480p/' + str(path.relative_to(tiny_fivek.root / 'FiveK_480p')))
    target = lptn.download_datasets.install(archive, tmp_path / 'b')
    assert len(list((target / 'test' / 'A').iterdir())) == 2 and not (target / 'unpacked').exists()
    (tmp_path / 'junk.zip').write_bytes(b'not a zip')
    with pytest.raises(ValueError, match='not a zip archive'):
        lptn.download_datasets.install(tmp_path / 'junk.zip', tmp_path / 'c')
    assert not (tmp_path / 'c').exists()


@pytest.fixture(scope='module')
def generator_file(lptn, tiny_fivek, tmp_path_factory):
    """A generator trained 4 iterations, saved as BasicSR's params file."""
    out = tmp_path_factory.mktemp('trained')
    args, opt = lptn.train.parse_options(['-opt', str(TRAIN_YML), '--root', str(out), '--force_yml',
                                          *fast_overrides(tiny_fivek.root)])
    lptn.train.run(args, opt)
    return out / 'experiments' / 'tiny' / 'models' / 'net_g_latest.pth'


def test_test_py_reports_psnr_ssim_and_saves_strips(lptn, tiny_fivek, generator_file, tmp_path):
    overrides = ['num_gpu=0', f'path.pretrain_network_g={generator_file}',
                 f"datasets.test.dataroot_gt={tiny_fivek.root / 'FiveK_test_target.lmdb'}",
                 f"datasets.test.dataroot_lq={tiny_fivek.root / 'FiveK_test_source.lmdb'}"]
    opt = lptn.options.parse(TEST_YML, 'test', overrides, root=tmp_path)
    whole = lptn.test.run(opt, tile=0)['FiveK_val']
    assert whole['protocol']['label'] == 'RGB, crop=0, SSIM Wang04 11x11 g1.5' and len(whole['per_image']) == 2
    strips = sorted((tmp_path / 'results' / 'LPTN_FiveK_480p' / 'visualization' / 'FiveK_val').glob('*.png'))
    assert len(strips) == 2 and strips[0].name.endswith('_LPTN_FiveK_480p.png')
    import cv2
    assert cv2.imread(str(strips[0])).shape == (48, 3 * 56, 3)                     # input | result | target
    tiled = lptn.test.run(opt, tile=32, tile_overlap=8)['FiveK_val']                              # common.inference tiles
    assert len(tiled['per_image']) == 2 and tiled['psnr'] > 0     # not equal: InstanceNorm's statistics are per tile


def test_test_speed_follows_the_reference_protocol(lptn, tiny_fivek, generator_file, tmp_path, capsys):
    argv = ['-opt', str(SPEED_YML), '--root', str(tmp_path), '--force_yml', 'num_gpu=0', 'val.num_img=3',
            'val.times_per_img=2', 'val.fix_img_size=[64, 48]', f'path.pretrain_network_g={generator_file}',
            f"datasets.test.dataroot_gt={tiny_fivek.root / 'FiveK_test_target.lmdb'}",
            f"datasets.test.dataroot_lq={tiny_fivek.root / 'FiveK_test_source.lmdb'}"]
    lptn.test_speed.main(argv)
    out = capsys.readouterr().out
    assert out.count('(64x48, fp32) duration: ') == 3 and '6 timed passes on cpu (fp32): mean ' in out
    assert 'average duration: ' in out
    with pytest.raises(ValueError, match=r"val.fix_img_size' must be \[width, height\]"):
        lptn.test_speed.main(argv + ['val.fix_img_size=[64]'])


def test_bf16_inference_is_within_0_1_db_of_fp32(lptn, tiny_fivek, generator_file, tmp_path):
    """test.py --amp=bf16 (the trunks in bfloat16 weights; emulated where the CPU has no bfloat16, slow but
    correct): the PSNR of every test image within 0.1 dB of fp32's, the pixels close to fp32's."""
    overrides = ['num_gpu=0', f'path.pretrain_network_g={generator_file}', 'val.save_img=false',
                 f"datasets.test.dataroot_gt={tiny_fivek.root / 'FiveK_test_target.lmdb'}",
                 f"datasets.test.dataroot_lq={tiny_fivek.root / 'FiveK_test_source.lmdb'}"]
    opt = lptn.options.parse(str(TEST_YML), 'test', overrides, root=tmp_path)
    runs = {amp: lptn.test.run(opt, tile=0, amp=amp)['FiveK_val']['per_image'] for amp in ('fp32', 'bf16')}
    for a, b in zip(runs['fp32'], runs['bf16']):
        assert a['name'] == b['name'] and abs(a['psnr'] - b['psnr']) <= 0.1
    net = lptn.LPTN_arch.LPTN()
    lptn.models.load_generator_state(net, generator_file)
    x = torch.rand(1, 3, 48, 56)
    fp32 = lptn.lptn_test_model.LPTNTestModel({}, torch.device('cpu'), net_g=net).test(x)
    bf16_model = lptn.lptn_test_model.LPTNTestModel({}, torch.device('cpu'), net_g=net, precision='bf16')
    assert bf16_model.net_g is not net and next(net.parameters()).dtype == torch.float32     # a copy
    assert bf16_model.net_g.trans_high.model[0].weight.dtype == torch.bfloat16
    assert 10 * torch.log10(1 / ((bf16_model.test(x) - fp32) ** 2).mean()) > 40


def test_amp_auto_keeps_fp32_on_a_cpu_without_native_bf16(lptn, tiny_fivek, generator_file, tmp_path, capsys,
                                                            monkeypatch):
    argv = ['-opt', str(SPEED_YML), '--root', str(tmp_path), '--amp=auto', '--force_yml', 'num_gpu=0',
            'val.num_img=1', 'val.times_per_img=1', 'val.fix_img_size=[32, 32]', f'path.pretrain_network_g={generator_file}',
            f"datasets.test.dataroot_gt={tiny_fivek.root / 'FiveK_test_target.lmdb'}",
            f"datasets.test.dataroot_lq={tiny_fivek.root / 'FiveK_test_source.lmdb'}"]
    monkeypatch.setattr(lptn.precision, 'cpu_has_native_bf16', lambda: False)
    assert lptn.precision.resolve_inference('auto', 'cpu') == 'fp32'
    lptn.test_speed.main(argv)
    out = capsys.readouterr().out
    assert 'precision: fp32 (auto: this CPU has no native bfloat16' in out and '(32x32, fp32) duration' in out
    monkeypatch.setattr(lptn.precision, 'cpu_has_native_bf16', lambda: True)
    lptn.test_speed.main(argv)
    assert '(32x32, bf16) duration' in capsys.readouterr().out
    assert lptn.precision.resolve_inference('auto', 'cuda') == 'fp16'
    with pytest.raises(ValueError, match='--amp=fp16: float16 inference needs CUDA or an NPU'):
        lptn.precision.resolve_inference('fp16', 'cpu')


def test_onnx_export_matches_pytorch(lptn, generator_file, tmp_path):
    net = lptn.LPTN_arch.LPTN()
    lptn.models.load_generator_state(net, generator_file)
    worst = lptn.export.export_onnx(net, tmp_path / 'lptn.onnx', 64, 80)
    assert worst < 1e-4 and (tmp_path / 'lptn.onnx').stat().st_size > 1_000_000
    with pytest.raises(FileExistsError, match='exists'):
        lptn.export.export_onnx(net, tmp_path / 'lptn.onnx', 64, 80)


def test_entry_points_run_from_anywhere_with_a_passive_openmp_pool(tmp_path):
    """Every entry point's --help from another folder and without PYTHONPATH. Those that load torch show
    (OMP_DISPLAY_ENV) that libgomp read OMP_WAIT_POLICY=PASSIVE, set by torchzoo before torch loads: a spin
    count of 0, where its default is 300000; a policy the user set is kept (export.py, ACTIVE here)."""
    clean = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'OMP_WAIT_POLICY')}
    for script, users, shown in [('train.py', None, [('PASSIVE', '0')]), ('test.py', None, [('PASSIVE', '0')]),
                                 ('test_speed.py', None, [('PASSIVE', '0')]),
                                 ('export.py', 'ACTIVE', [('ACTIVE', '30000000000')]),
                                 ('scripts/data_preparation/create_lmdb.py', None, []),
                                 ('scripts/data_preparation/download_datasets.py', None, [])]:
        env = dict(clean, OMP_DISPLAY_ENV='VERBOSE', **({'OMP_WAIT_POLICY': users} if users else {}))
        proc = subprocess.run([sys.executable, str(LPTN_DIR / script), '--help'], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0 and proc.stdout.startswith('usage: '), (script, proc.stderr)
        policy = re.findall(r"OMP_WAIT_POLICY = '(\w+)'\n(?:.*\n)*?\s*GOMP_SPINCOUNT = '(\d+)'", proc.stderr)
        assert policy == shown, (script, proc.stderr)


def test_modelzoo_scripts_check_their_arguments(tmp_path):
    script = LPTN_DIR / 'test' / 'train_full_1p.sh'
    for name in ('train_full_1p.sh', 'train_performance_1p.sh'):
        assert subprocess.run(['bash', '-n', str(LPTN_DIR / 'test' / name)]).returncode == 0
    proc = subprocess.run(['bash', str(script)], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 1 and '[Error] para "data_path" must be config' in proc.stdout
    proc = subprocess.run(['bash', str(script), '--help'], capture_output=True, text=True, cwd=tmp_path)
    assert '--data_path' in proc.stdout and '--train_steps' in proc.stdout


def test_modelzoo_case_files(lptn, tiny_fivek, tmp_path, capsys):
    """What the scripts read: train.py --modelzoo_dir prints the Final result block and writes the case files."""
    args, opt = lptn.train.parse_options(['-opt', str(TRAIN_YML), '--root', str(tmp_path), '--modelzoo_dir',
                                          str(tmp_path / 'case'), '--force_yml', *fast_overrides(tiny_fivek.root, iters=3)])
    lptn.train.run(args, opt)
    out = capsys.readouterr().out
    assert 'Final Performance images/sec : ' in out and 'Final Train Accuracy : ' in out
    case = (tmp_path / 'case' / 'lptn_bs2_1p_acc.log').read_text()
    assert 'CaseName = lptn_bs2_1p_acc' in case and 'TrainAccuracy = ' in case
    assert len((tmp_path / 'case' / 'lptn_bs2_1p_acc_loss.txt').read_text().splitlines()) == 3    # l_d_real per print
