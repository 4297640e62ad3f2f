"""common.sample_data: layout, LR = bicubic_lr(HR), held-out split, FiveK pairs, determinism, idempotence."""
import hashlib
import json
import os
import shutil

import numpy as np
import pytest

from common import sample_data as sd
from common.data import bicubic_lr, modcrop
from common.imgio import list_images, read_image

SCALES = (2, 3, 4)


def _manifest(root):
    return json.loads((root / 'manifest.json').read_text())


def test_layout(sample_data):
    m = _manifest(sample_data)
    assert m['version'] == sd.VERSION and m['scales'] == [2, 3, 4] and m['hr_multiple_of'] == 12
    hr = [p.name for p in list_images(sample_data / 'DIV2K/DIV2K_train_HR')]
    assert len(hr) >= 10 and hr == [f'{i:04d}.png' for i in range(1, len(hr) + 1)]
    for s in SCALES:
        lr = [p.name for p in list_images(sample_data / f'DIV2K/DIV2K_train_LR_bicubic/X{s}')]
        assert lr == [n.replace('.png', f'x{s}.png') for n in hr]
    names = sorted(e['name'] for e in m['sample_test'])
    assert len(names) >= 3
    bench = sample_data / 'benchmark/SampleTest'
    assert [p.stem for p in list_images(bench / 'original')] == names
    for s in SCALES:
        assert [p.name for p in list_images(bench / f'HR/x{s}')] == [f'{n}_HR_x{s}.png' for n in names]
        assert [p.name for p in list_images(bench / f'LR_bicubic/x{s}')] == [f'{n}_LRBI_x{s}.png' for n in names]
    for split in ('train', 'test'):
        a = [p.name for p in list_images(sample_data / f'FiveK/FiveK_480p/{split}/A')]
        b = [p.name for p in list_images(sample_data / f'FiveK/FiveK_480p/{split}/B')]
        assert a == b and a and all(n.endswith('.jpg') for n in a)
    # Every file on disk is in the manifest with its hash, and nothing else is there.
    on_disk = sorted(str(p.relative_to(sample_data)) for p in sample_data.rglob('*') if p.is_file())
    assert on_disk == sorted(list(m['files']) + ['manifest.json'])
    for rel, digest in m['files'].items():
        assert hashlib.sha256((sample_data / rel).read_bytes()).hexdigest() == digest, rel


def test_div2k_lr_is_bicubic_of_hr(sample_data):
    hr_dir = sample_data / 'DIV2K/DIV2K_train_HR'
    for path in list_images(hr_dir)[:4]:
        hr = read_image(path)
        assert hr.shape[0] % 12 == 0 and hr.shape[1] % 12 == 0 and min(hr.shape[:2]) >= 240
        for s in SCALES:
            lr = read_image(sample_data / f'DIV2K/DIV2K_train_LR_bicubic/X{s}/{path.stem}x{s}.png')
            assert lr.shape == (hr.shape[0] // s, hr.shape[1] // s, 3)
            np.testing.assert_array_equal(lr, bicubic_lr(hr, s))


def test_sample_test_is_the_set5_recipe(sample_data):
    bench = sample_data / 'benchmark/SampleTest'
    for path in list_images(bench / 'original'):
        original = read_image(path)
        for s in SCALES:
            hr = read_image(bench / f'HR/x{s}/{path.stem}_HR_x{s}.png')
            np.testing.assert_array_equal(hr, modcrop(original, s))
            lr = read_image(bench / f'LR_bicubic/x{s}/{path.stem}_LRBI_x{s}.png')
            assert lr.shape == (hr.shape[0] // s, hr.shape[1] // s, 3)
            np.testing.assert_array_equal(lr, bicubic_lr(hr, s))


def test_held_out_photos_are_not_trained_on(sample_data):
    m = _manifest(sample_data)
    train_sources = {e['source'] for e in m['div2k_train']} | {e['source'] for e in m['fivek']['train']}
    test_sources = {e['source'] for e in m['sample_test']} | {e['source'] for e in m['fivek']['test']}
    assert len(test_sources) >= 3 and not train_sources & test_sources
    # Pixel check as well: no training HR crop appears inside a held-out photo's corner.
    originals = [read_image(p) for p in list_images(sample_data / 'benchmark/SampleTest/original')]
    for path in list_images(sample_data / 'DIV2K/DIV2K_train_HR'):
        patch = read_image(path)[:16, :16]
        assert not any(np.array_equal(o[:16, :16], patch) for o in originals)
    skimage_files = set(os.listdir(sd.skimage_data_dir()))
    assert train_sources | test_sources <= skimage_files


def test_fivek_pairs(sample_data):
    root = sample_data / 'FiveK/FiveK_480p'
    for split in ('train', 'test'):
        for path in list_images(root / f'{split}/B'):
            target = read_image(path)
            source = read_image(root / f'{split}/A/{path.name}')
            assert source.shape == target.shape and min(target.shape[:2]) <= 480
            # A is the documented degradation of B, up to JPEG noise: lit parts darker (shadows are
            # lifted by the flatter contrast), with a warm cast.
            assert np.abs(source.astype(float) - sd.degrade(target)).mean() < 3.0
            lit = target.mean(axis=2) > 80
            assert source[lit].mean() < target[lit].mean() - 10
            neutral = sd.degrade(target, gain_rgb=(1.0, 1.0, 1.0)).astype(float)
            assert source[..., 2].mean() / neutral[..., 2].mean() > 1.03     # more red
            assert source[..., 0].mean() / neutral[..., 0].mean() < 0.90     # less blue


def test_degrade_parameters():
    img = np.array([[[0, 128, 255]]], np.uint8)                   # B, G, R
    out = sd.degrade(img)
    x = np.array([0, 128, 255]) / 255.0
    expected = (0.5 + 0.75 * (x ** 1.6 - 0.5)) * np.array([0.85, 1.0, 1.08]) * 255
    np.testing.assert_array_equal(out[0, 0], np.floor(np.clip(expected, 0, 255) + 0.5))


def test_rebuild_is_deterministic_and_idempotent(sample_data, tmp_path, capsys):
    out = tmp_path / 'sample'
    (out / 'DIV2K').mkdir(parents=True)
    (out / 'DIV2K' / 'leftover.png').write_bytes(b'half-written')   # an incomplete folder, no manifest
    manifest = sd.build_sample_data(out)
    assert not (out / 'DIV2K' / 'leftover.png').exists()
    assert (out / 'manifest.json').read_bytes() == (sample_data / 'manifest.json').read_bytes()
    assert manifest['files'] == _manifest(sample_data)['files']      # same bytes, file by file
    stamp = (out / 'manifest.json').stat().st_mtime_ns
    capsys.readouterr()
    assert sd.main(['--out', str(out)]) == 0
    assert 'nothing to do' in capsys.readouterr().out
    assert (out / 'manifest.json').stat().st_mtime_ns == stamp
    assert sorted(os.listdir(tmp_path)) == ['sample']


def test_interrupted_build_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def failing(hr, scale):
        calls.append(scale)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return bicubic_lr(hr, scale)
    monkeypatch.setattr(sd, 'bicubic_lr', failing)
    with pytest.raises(KeyboardInterrupt):
        sd.build_sample_data(tmp_path / 'sample')
    assert os.listdir(tmp_path) == []


def test_refuses_foreign_folders_and_bad_flags(tmp_path, capsys):
    (tmp_path / 'mine').mkdir()
    (tmp_path / 'mine' / 'thesis.tex').write_text('precious')
    with pytest.raises(SystemExit) as exc:
        sd.main(['--out', str(tmp_path / 'mine'), '--force'])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('error: ') and 'refusing to replace it' in err
    assert (tmp_path / 'mine' / 'thesis.tex').read_text() == 'precious'
    for argv in (['--scales', '2,three'], ['--scale', '2'], ['--bogus']):    # one line, no usage block
        with pytest.raises(SystemExit) as exc:
            sd.main(['--out', str(tmp_path / 'x')] + argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err.count('\n') == 1 and err.startswith('error: ') and 'usage:' not in err, err
    assert sorted(os.listdir(tmp_path)) == ['mine']
    with pytest.raises(SystemExit):
        sd.main(['--help'])
    assert '--scales' in capsys.readouterr().out


def test_a_build_by_other_code_or_scales_is_stale(tmp_path):
    fake = {'version': sd.VERSION, 'code_sha256': sd.code_fingerprint(), 'scales': [2, 3, 4],
            'files': {'DIV2K/x.png': '0'}}
    (tmp_path / 'DIV2K').mkdir()
    (tmp_path / 'DIV2K' / 'x.png').write_bytes(b'x')
    (tmp_path / 'manifest.json').write_text(json.dumps(fake))
    assert sd._complete_manifest(tmp_path, [2, 3, 4]) == fake
    assert sd._complete_manifest(tmp_path, [2, 4]) is None
    (tmp_path / 'manifest.json').write_text(json.dumps(dict(fake, code_sha256='older')))
    assert sd._complete_manifest(tmp_path, [2, 3, 4]) is None
    (tmp_path / 'manifest.json').write_text(json.dumps(fake))
    (tmp_path / 'DIV2K' / 'x.png').unlink()                          # a listed file went missing
    assert sd._complete_manifest(tmp_path, [2, 3, 4]) is None


def test_fewer_scales_keep_a_build_with_more(sample_data, tmp_path, capsys):
    out = tmp_path / 'sample'
    shutil.copytree(sample_data, out)
    before = {p: p.stat().st_mtime_ns for p in out.rglob('*')}
    assert sd.main(['--out', str(out), '--scales', '2']) == 0
    assert 'nothing to do' in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in out.rglob('*')} == before        # X3 and X4 are still there
    assert (out / 'DIV2K' / 'DIV2K_train_LR_bicubic' / 'X4').is_dir()


def test_new_scales_are_added_to_the_old_ones(tmp_path, monkeypatch):
    out = tmp_path / 'sample'
    out.mkdir()
    (out / 'manifest.json').write_text(json.dumps({'format': 'srzoo.sample_data', 'version': sd.VERSION,
                                                   'code_sha256': sd.code_fingerprint(), 'scales': [2, 3, 4],
                                                   'files': {}}))
    built = []

    def fake_build(root, scales, folder):
        built.append(scales)
        manifest = {'format': 'srzoo.sample_data', 'scales': scales, 'files': {}, 'div2k_train': [], 'sample_test': []}
        (root / 'manifest.json').write_text(json.dumps(manifest))
        return manifest
    monkeypatch.setattr(sd, '_build', fake_build)
    assert sd.build_sample_data(out, scales=[8])['scales'] == [2, 3, 4, 8]
    assert sd.build_sample_data(out, scales=[2], force=True)['scales'] == [2, 3, 4, 8]
    assert built == [[2, 3, 4, 8], [2, 3, 4, 8]]
