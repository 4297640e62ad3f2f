"""validate_bsrn.py, test_bsrn.py and export.py on the tiny trained run: lines, outputs, frozen-graph parity."""
import re

import numpy as np
import pytest

from common.imgio import read_image


@pytest.fixture(scope='module')
def ckpt(trained):
    return trained[0] / 'model.ckpt-30'


TINY_NET = ['--bsrn_conv_features=8', '--bsrn_state_features=8', '--bsrn_recursions=2', '--intra_op_threads=1']


def test_validate_prints_per_recursion_and_final_lines_and_saves(bsrn, ckpt, tiny_data, tmp_path, capsys):
    val = tiny_data / 'val'
    res = bsrn.validate_bsrn.main([f'--data_input_path={val / "LR"}', f'--data_truth_path={val / "HR"}',
                                   f'--restore_path={ckpt}', '--scales=2,3,4', f'--save_path={tmp_path / "out"}']
                                  + TINY_NET)
    out = capsys.readouterr().out
    assert re.search(r'^x2 \(2 images, Y \(BT\.601, unrounded\), crop=2.*\): t1, t2, ensemble$', out, re.M)
    assert re.search(r'^PSNR \d+\.\d{3}, \d+\.\d{3}, \d+\.\d{3}$', out, re.M)
    final = re.search(r'^Final PSNR: (\S+) (\S+) (\S+)$', out, re.M)
    assert final and [float(v) for v in final.groups()] == pytest.approx([res[s]['psnr'][-1] for s in (2, 3, 4)], abs=1e-3)
    assert re.search(r'^Final SSIM: \S+ \S+ \S+$', out, re.M)
    for label in ('t1', 't2', 'ensemble'):
        assert sorted(p.name for p in (tmp_path / 'out' / label / 'x3').glob('*.png')) == ['0005.png', '0006.png']
    rgb = bsrn.validate_bsrn.main([f'--data_input_path={val / "LR"}', f'--data_truth_path={val / "HR"}',
                                   f'--restore_path={ckpt}', '--scales=4', '--bsrn_model_scales=2,3,4', '--metric=rgb',
                                   '--ensemble_only=True']
                                  + TINY_NET)
    assert rgb[4]['labels'] == ['ensemble'] and 'RGB, shave=4' in rgb[4]['protocol']['label']


def test_test_bsrn_writes_ensembles_and_export_matches_the_session(bsrn, ckpt, tiny_data, tmp_path):
    lr_dir = tiny_data / 'val' / 'LR' / 'x4'
    bsrn.test_bsrn.main([f'--restore_path={ckpt}', '--scales=4', f'--input_path={lr_dir}',
                         f'--output_path={tmp_path / "SR"}', '--bsrn_model_scales=2,3,4'] + TINY_NET)
    sr = read_image(tmp_path / 'SR' / 'x4' / '0005.png')[:, :, ::-1]
    lr = read_image(lr_dir / '0005.png')[:, :, ::-1]
    assert sr.shape == (lr.shape[0] * 4, lr.shape[1] * 4, 3)
    pb = tmp_path / 'bsrn.pb'
    bsrn.export.main([f'--restore_path={ckpt}', '--scales=2,3,4', f'--output={pb}'] + TINY_NET)
    from tfzoo.freeze import run_frozen
    (frozen,) = run_frozen(pb, {'sr_input:0': lr[None].astype(np.float32), 'sr_input_scale:0': 4.0},
                           ['sr_output:0'])
    assert np.abs(np.round(frozen[0]) - sr).max() <= 1              # float rounding at .5 only
    assert np.mean(np.round(frozen[0]) == sr) > 0.999
