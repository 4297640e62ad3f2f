"""common.evaluate: name pairing, the CLI on Set5 RCAN x4, JSON output and one-line errors."""
import json
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from common import paths
from common.evaluate import evaluate_folders, image_keys, main, pair_folders


@pytest.mark.parametrize('stem,scale,keys', [
    ('baby_RCAN_x4', 4, ['baby_RCAN', 'baby']),
    ('baby_HR_x4', 4, ['baby_HR', 'baby']),
    ('baby', 4, ['baby']),
    ('0801x2', 2, ['0801']),
    ('0801_x2', 2, ['0801']),
    ('my_img_x3', 3, ['my_img', 'my']),
    ('baby_RCAN_x4', 2, ['baby_RCAN_x4']),          # another scale's suffix is part of the name
    ('x4', 4, ['x4']),
])
def test_image_keys(stem, scale, keys):
    assert image_keys(stem, scale) == keys


def _touch_images(folder, names, shape=(16, 16, 3)):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        cv2.imwrite(str(folder / name), np.zeros(shape, np.uint8))
    return folder


def test_pair_folders_by_name(tmp_path):
    sr = _touch_images(tmp_path / 'sr', ['baby_RCAN_x2.png', 'my_img_x2.png', '0801x2.png'])
    hr = _touch_images(tmp_path / 'hr', ['baby.png', 'my_img.png', '0801.bmp'])
    pairs = pair_folders(sr, hr, 2)
    assert [(n, s.name, h.name) for n, s, h in pairs] == [
        ('0801', '0801x2.png', '0801.bmp'), ('baby', 'baby_RCAN_x2.png', 'baby.png'),
        ('my_img', 'my_img_x2.png', 'my_img.png')]


def test_pair_folders_lists_unmatched(tmp_path):
    sr = _touch_images(tmp_path / 'sr', ['baby_x2.png', 'bird_x2.png'])
    hr = _touch_images(tmp_path / 'hr', ['baby.png', 'head.png'])
    with pytest.raises(ValueError, match=r'SR without HR: bird_x2\.png; HR without SR: head\.png'):
        pair_folders(sr, hr, 2)


@pytest.fixture(scope='module')
def set5(shared_data):
    return shared_data / 'Set5'


def test_cli_reproduces_set5_rcan_x4(set5, tmp_path, capsys):
    out = tmp_path / 'nested' / 'rcan_x4.json'
    assert main(['--sr', str(set5 / 'SR_RCAN' / 'x4'), '--hr', str(set5 / 'HR' / 'x4'), '--scale', '4',
                 '--json', str(out)]) == 0
    text = capsys.readouterr().out
    assert re.search(r'^mean +32\.633562 +0\.900241$', text, re.M)
    assert 'protocol: Y (BT.601, unrounded), crop=4, SSIM Wang04 11x11 g1.5' in text
    record = json.loads(out.read_text())
    assert [r['name'] for r in record['per_image']] == ['baby', 'bird', 'butterfly', 'head', 'woman']
    assert record['mean']['psnr'] == pytest.approx(32.633562, abs=1e-6)
    assert record['mean']['ssim'] == pytest.approx(0.900241, abs=1e-6)
    assert record['protocol']['crop_border'] == 4 and record['scale'] == 4
    assert [p.name for p in out.parent.iterdir()] == ['rcan_x4.json']        # no temporary left behind


def test_evaluate_folders_options(set5):
    sr, hr = set5 / 'SR_RCAN' / 'x2', set5 / 'HR' / 'x2'
    y = evaluate_folders(sr, hr, 2)
    assert y[0]['name'] == 'baby' and y[0]['psnr'] == pytest.approx(38.979958, abs=1e-5)
    rgb = evaluate_folders(sr, hr, 2, test_y_channel=False)
    assert rgb[0]['psnr'] < y[0]['psnr'] - 1
    rounded = evaluate_folders(sr, hr, 2, round_y=True)
    assert rounded[0]['psnr'] != pytest.approx(y[0]['psnr'], abs=1e-3)
    # The original (not mod-cropped) images pair with x2 outputs by name and are cropped to size.
    orig = evaluate_folders(sr, set5 / 'original', 2, crop_border=2)
    assert [r['psnr'] for r in orig] == pytest.approx([r['psnr'] for r in y], abs=1e-12)


def _run_cli(*args):
    env = dict(os.environ, PYTHONPATH=str(paths.REPO_ROOT))
    return subprocess.run([sys.executable, '-m', 'common.evaluate', *args], capture_output=True, text=True,
                          cwd=paths.REPO_ROOT, env=env, timeout=120)


def test_cli_help():
    proc = _run_cli('--help')
    assert proc.returncode == 0 and '--crop_border' in proc.stdout and '--round_y' in proc.stdout


def test_cli_errors_are_one_line(tmp_path, set5):
    empty = tmp_path / 'empty'
    empty.mkdir()
    small = _touch_images(tmp_path / 'small', ['baby_x4.png'], shape=(20, 20, 3))
    hr = _touch_images(tmp_path / 'hr', ['baby.png'], shape=(64, 64, 3))
    cases = [
        ((str(tmp_path / 'missing'), str(set5 / 'HR' / 'x4')), 'no such folder'),
        ((str(empty), str(set5 / 'HR' / 'x4')), 'no images'),
        ((str(small), str(hr)), 'does not match HR shape'),
        ((str(set5 / 'SR_RCAN' / 'x4'), str(set5 / 'HR' / 'x2')), 'SR without HR'),
    ]
    for (sr_dir, hr_dir), message in cases:
        proc = _run_cli('--sr', sr_dir, '--hr', hr_dir, '--scale', '4')
        assert proc.returncode == 2, proc.stderr
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert 'Traceback' not in proc.stderr


def test_cli_bad_flags_are_one_line_without_usage():
    for args in (('--sr', 'a', '--hr', 'b', '--scale', '0'), ('--sr', 'a', '--hr', 'b', '--scale', '2', '--rgb', '--round_y'),
                 ('--sr', 'a', '--hr', 'b'), ('--sr', 'a', '--hr', 'b', '--scal', '2')):   # no prefix matching
        proc = _run_cli(*args)
        assert proc.returncode == 2
        assert proc.stderr.count('\n') == 1 and proc.stderr.startswith('error: '), proc.stderr
        assert 'usage:' not in proc.stderr


def test_json_never_lands_on_or_among_the_inputs(tmp_path, capsys):
    sr = _touch_images(tmp_path / 'sr', ['baby_x2.png'], shape=(64, 64, 3))
    hr = _touch_images(tmp_path / 'hr', ['baby.png'], shape=(64, 64, 3))
    before = {p: p.read_bytes() for p in (sr / 'baby_x2.png', hr / 'baby.png')}
    for target, flag, relation in ((hr / 'baby.png', '--hr', 'lies inside'), (sr / 'scores.json', '--sr', 'lies inside'),
                                   (sr, '--sr', 'is'), (tmp_path, '--sr', 'contains')):
        with pytest.raises(SystemExit) as info:
            main(['--sr', str(sr), '--hr', str(hr), '--scale', '2', '--json', str(target)])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err == f'error: --json={target} {relation} {flag}={sr if flag == "--sr" else hr}; ' \
                      f'choose an output outside the source\n'
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(p.name for p in sr.iterdir()) == ['baby_x2.png'] and sorted(os.listdir(tmp_path)) == ['hr', 'sr']
    assert main(['--sr', str(sr), '--hr', str(hr), '--scale', '2', '--json', str(tmp_path / 'scores.json')]) == 0
