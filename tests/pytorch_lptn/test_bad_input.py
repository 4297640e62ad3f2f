"""Bad input for LPTN's entry points, one test per class of defect: a non-strict load that leaves keys
out is named in the log, a run folder inside a data folder is refused, a source without a target is
refused, a garbage resume state is named, export errors name the user's path or the supported opsets,
abbreviated flags are refused. Each refusal is one ``error:`` line, exit 2, and nothing written.
"""
import re
import shutil

import pytest
import torch

from tests.pytorch_lptn.conftest import TEST_YML, TRAIN_YML, fast_overrides


def _refused(lptn, capsys, main, argv):
    """Run ``main`` as the command line does; returns its one error line (asserting exit 2, one line)."""
    from torchzoo.cli import run_cli
    with pytest.raises(SystemExit) as exit_:
        run_cli(main, argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(lines) == 1, lines
    return lines[0]


def _test_overrides(tiny_fivek, generator, backend='lmdb', lq=None, gt=None):
    if backend == 'lmdb':
        lq = lq or tiny_fivek.root / 'FiveK_test_source.lmdb'
        gt = gt or tiny_fivek.root / 'FiveK_test_target.lmdb'
    return ['num_gpu=0', f'path.pretrain_network_g={generator}', f'datasets.test.dataroot_gt={gt}',
            f'datasets.test.dataroot_lq={lq}', f'datasets.test.io_backend.type={backend}']


@pytest.fixture(scope='module')
def numhigh3(lptn, tmp_path_factory):
    """A num_high=3 generator in BasicSR's params format (random weights)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('gen') / 'net_g_numhigh3.pth'
    torch.save({'params': lptn.LPTN_arch.LPTN(num_high=3).state_dict()}, path)
    return path


def test_a_non_strict_load_names_the_missing_and_unexpected_keys_in_one_log_line(lptn, tiny_fivek, numhigh3,
                                                                                  tmp_path, capsys):
    opt = lptn.options.parse(TEST_YML, 'test', _test_overrides(tiny_fivek, numhigh3) + ['network_g.num_high=4'],
                             root=tmp_path)
    assert opt['path']['strict_load_g'] is False                       # the reference's test options
    lptn.test.run(opt, tile=0)
    log = next((tmp_path / 'results' / opt['name']).glob('test_*.log')).read_text()
    warnings = [line for line in log.splitlines() if ' WARNING: ' in line]
    assert len(warnings) == 1, warnings
    assert str(numhigh3) in warnings[0] and 'loaded 56 of the 60 weights' in warnings[0]
    assert ('missing, left at their initial values: trans_high.trans_mask_block_3.0.bias, '
            'trans_high.trans_mask_block_3.0.weight, trans_high.trans_mask_block_3.2.bias, '
            'trans_high.trans_mask_block_3.2.weight; unexpected, ignored: none') in warnings[0]


def test_a_generator_file_of_which_nothing_matches_stops_in_one_line(lptn, tiny_fivek, tmp_path, capsys):
    other = tmp_path / 'other.pth'
    torch.save({'params': {'conv.weight': torch.zeros(3, 3, 3, 3)}}, other)
    line = _refused(lptn, capsys, lptn.test.main, ['-opt', str(TEST_YML), '--root', str(tmp_path / 'out'),
                                                   '--force_yml', *_test_overrides(tiny_fivek, other)])
    assert line.startswith(f'error: {other}: none of its keys belongs to a LPTN')
    assert not (tmp_path / 'out').exists()


def test_a_param_key_the_file_lacks_or_the_options_refuse_stops_in_one_line(lptn, tiny_fivek, numhigh3, tmp_path,
                                                                             capsys):
    argv = ['-opt', str(TEST_YML), '--root', str(tmp_path / 'out'), '--force_yml', *_test_overrides(tiny_fivek, numhigh3)]
    line = _refused(lptn, capsys, lptn.test.main, argv + ['path.param_key_g=params_ema'])
    assert line == f"error: {numhigh3}: has no 'params_ema' entry (path.param_key_g); it holds params"
    line = _refused(lptn, capsys, lptn.test.main, argv + ['path.param_key_g=ema'])
    assert line == f"error: {TEST_YML}: key 'path.param_key_g' must be params or params_ema, got 'ema'"
    assert not (tmp_path / 'out').exists()


def test_a_source_without_a_target_is_refused_not_dropped(lptn, tiny_fivek, numhigh3, tmp_path, capsys):
    lq, gt = tmp_path / 'A', tmp_path / 'B'
    shutil.copytree(tiny_fivek.root / 'FiveK_480p' / 'test' / 'A', lq)
    shutil.copytree(tiny_fivek.root / 'FiveK_480p' / 'test' / 'B', gt)
    alone = sorted(gt.iterdir())[-1]
    alone.unlink()
    overrides = _test_overrides(tiny_fivek, numhigh3, 'disk', lq, gt)
    line = _refused(lptn, capsys, lptn.test.main, ['-opt', str(TEST_YML), '--root', str(tmp_path / 'out'),
                                                   '--force_yml', *overrides])
    assert line == (f"error: datasets.test.dataroot_gt: no target image for source {lq / alone.name} in {gt} "
                    f"(1 source(s) without a target; filename_tmpl '{{}}')")
    assert not (tmp_path / 'out').exists()


def test_a_run_folder_inside_a_dataroot_is_refused(lptn, tiny_fivek, numhigh3, tmp_path, capsys):
    data = tmp_path / 'data'
    shutil.copytree(tiny_fivek.root / 'FiveK_480p', data / 'FiveK_480p')
    lq, gt = data / 'FiveK_480p' / 'test' / 'A', data / 'FiveK_480p' / 'test' / 'B'
    before = sorted(p.name for p in data.rglob('*'))
    line = _refused(lptn, capsys, lptn.test.main, ['-opt', str(TEST_YML), '--root', str(gt), '--force_yml',
                                                   *_test_overrides(tiny_fivek, numhigh3, 'disk', lq, gt)])
    assert line.startswith(f'error: path.results_root (under --root)={gt / "results" / "LPTN_FiveK_480p"} lies inside '
                           f'datasets.test.dataroot_gt={gt}')
    train = fast_overrides(tiny_fivek.root, 'disk')
    train_lq = tiny_fivek.root / 'FiveK_480p' / 'train' / 'A'
    line = _refused(lptn, capsys, lptn.train.main, ['-opt', str(TRAIN_YML), '--root', str(train_lq),
                                                    '--force_yml', *train])
    assert f'lies inside datasets.train.dataroot_lq={train_lq}' in line
    assert sorted(p.name for p in data.rglob('*')) == before and not (train_lq / 'experiments').exists()
    lptn.test.main(['-opt', str(TEST_YML), '--root', str(data), '--force_yml',       # a root holding the data is fine
                    *_test_overrides(tiny_fivek, numhigh3, 'disk', lq, gt)])


def test_a_garbage_resume_state_is_named(lptn, tiny_fivek, tmp_path, capsys):
    garbage = tmp_path / 'lptn-1_4.state'
    garbage.write_bytes(b'PK\x03\x04 not a state')
    params = tmp_path / 'net.pth'
    torch.save({'params': {'x': torch.zeros(1)}}, params)
    for path, message in ((garbage, f'error: {garbage}: not a readable PyTorch checkpoint'),
                          (params, f'error: path.resume_state={params}: not a training state of this port')):
        line = _refused(lptn, capsys, lptn.train.main, ['-opt', str(TRAIN_YML), '--root', str(tmp_path / 'out'),
                                                        '--force_yml', *fast_overrides(tiny_fivek.root),
                                                        f'path.resume_state={path}'])
        assert line.startswith(message), line
        assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('opset', [1, 9, 99])
def test_export_refuses_an_opset_it_cannot_write_in_one_line(lptn, numhigh3, tmp_path, capsys, opset):
    line = _refused(lptn, capsys, lptn.export.main, ['-opt', str(TEST_YML), '--opset', str(opset), '--file_name',
                                                     str(tmp_path / 'g'), '--image_height=32', '--image_width=32',
                                                     '--force_yml', 'num_gpu=0', f'path.pretrain_network_g={numhigh3}'])
    if opset == 9:                    # in torch's range, but LPTN's nearest resizes need onnx Resize (opset 11)
        assert line == ("error: --opset=9: ONNX resizes match PyTorch's nearest interpolation from opset 11 (Resize); "
                        'give 11 or higher, e.g. the default 17')
    else:
        assert re.fullmatch(rf'error: --opset={opset}: torch {re.escape(torch.__version__)} exports ONNX opsets '
                            r'([0-9]+) to ([0-9]+)', line), line
    assert list(tmp_path.iterdir()) == []


def test_export_errors_name_the_users_path(lptn, numhigh3, tmp_path, capsys):
    (tmp_path / 'g.onnx').mkdir()
    line = _refused(lptn, capsys, lptn.export.main, ['-opt', str(TEST_YML), '--file_name', str(tmp_path / 'g'),
                                                     '--overwrite', '--force_yml', 'num_gpu=0',
                                                     f'path.pretrain_network_g={numhigh3}'])
    assert line == f'error: --file_name: {tmp_path / "g.onnx"} is a folder, expected a file name'
    line = _refused(lptn, capsys, lptn.export.main, ['-opt', str(TEST_YML), '--file_name', str(tmp_path / 'no' / 'g'),
                                                     '--force_yml', 'num_gpu=0', f'path.pretrain_network_g={numhigh3}'])
    assert line == f'error: --file_name: folder {tmp_path / "no"} does not exist'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['g.onnx']


def test_abbreviated_flags_are_refused_on_every_parser(lptn, capsys):
    """argparse's prefix matching is off: a flag cut short is an error, not the flag it starts."""
    def parse(module):
        return lambda argv: module.build_parser().parse_args(argv)

    cases = [(parse(lptn.train), ['-opt', 'x.yml', '--auto_resum']),
             (parse(lptn.test), ['-opt', 'x.yml', '--tile_overla=8']),
             (parse(lptn.test_speed), ['-opt', 'x.yml', '--am=fp32']),
             (parse(lptn.export), ['-opt', 'x.yml', '--opse=17']),
             (lptn.create_lmdb.main, ['--compress_leve=1']),
             (lptn.download_datasets.main, ['--sourc=x.zip'])]
    for run, argv in cases:
        with pytest.raises(SystemExit):
            run(argv)
        assert f'unrecognized arguments: {argv[-1]}' in capsys.readouterr().err, argv


def test_create_lmdb_checks_its_flags_before_its_folders(lptn, tmp_path, capsys):
    line = _refused(lptn, capsys, lptn.create_lmdb.main, ['--root', str(tmp_path / 'none'), '--compress_level=-3'])
    assert line == 'error: --compress_level=-3: PNG compression is 0..9' and list(tmp_path.iterdir()) == []


def test_an_image_that_fails_mid_set_leaves_no_partial_strips(lptn, tiny_fivek, numhigh3, tmp_path, capsys):
    lq, gt = tmp_path / 'A', tmp_path / 'B'
    shutil.copytree(tiny_fivek.root / 'FiveK_480p' / 'test' / 'A', lq)
    shutil.copytree(tiny_fivek.root / 'FiveK_480p' / 'test' / 'B', gt)
    broken = sorted(lq.iterdir())[-1]                       # the first image checks fine, the last is cut
    broken.write_bytes(broken.read_bytes()[:200])
    out = tmp_path / 'out'
    line = _refused(lptn, capsys, lptn.test.main, ['-opt', str(TEST_YML), '--root', str(out), '--force_yml',
                                                   *_test_overrides(tiny_fivek, numhigh3, 'disk', lq, gt)])
    assert line.startswith('error: ') and broken.name in line, line
    strips = [p for p in out.rglob('*.png')]
    assert strips == [], strips                             # the good first image's strip is not left alone
