"""common.data: mod-crop, bicubic LR, crops, dihedral transforms, sub-images and sliding patches."""
import os

import numpy as np
import pytest

from common import data
from common.imgio import ImageError, read_image, write_image
from common.imresize import imresize


def _img(h, w, c=3, seed=0):
    shape = (h, w, c) if c else (h, w)
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def test_modcrop():
    img = _img(13, 10)
    assert data.modcrop(img, 4).shape == (12, 8, 3)
    assert data.modcrop(img[..., 0], 3).shape == (12, 9)
    np.testing.assert_array_equal(data.modcrop(img, 4), img[:12, :8])
    with pytest.raises(ValueError, match='positive integer'):
        data.modcrop(img, 0)
    with pytest.raises(ValueError, match='positive integer'):
        data.modcrop(img, 2.0)


def test_bicubic_lr_is_matlab_imresize():
    hr = _img(24, 36)
    lr = data.bicubic_lr(hr, 3)
    assert lr.dtype == np.uint8 and lr.shape == (8, 12, 3)
    np.testing.assert_array_equal(lr, imresize(hr, scale=1 / 3))
    # A flat image stays flat; a wrong size or dtype is refused.
    np.testing.assert_array_equal(data.bicubic_lr(np.full((8, 8), 77, np.uint8), 4), np.full((2, 2), 77))
    with pytest.raises(ValueError, match='not a multiple of scale 4; modcrop'):
        data.bicubic_lr(_img(10, 12), 4)
    with pytest.raises(ValueError, match='uint8'):
        data.bicubic_lr(hr.astype(np.float32), 3)


def test_bicubic_lr_matches_the_matlab_golden(shared_data):
    gold = shared_data / 'matlab_imresize'
    hr = read_image(gold / 'baboon.png')
    for s in (2, 3, 4):
        lr = data.bicubic_lr(data.modcrop(hr, s), s)
        ref = read_image(gold / f'baboon_down_x{s}_matlab.png')
        assert lr.shape == ref.shape
        assert np.abs(lr.astype(int) - ref).max() <= 1


def test_paired_random_crop_alignment():
    # HR is built so that each HR block holds its LR pixel's value: alignment is checkable exactly.
    lr = _img(10, 14, seed=1)
    hr = np.repeat(np.repeat(lr, 3, axis=0), 3, axis=1)
    rng = np.random.default_rng(0)
    for _ in range(20):
        lp, hp = data.paired_random_crop(lr, hr, 4, 3, rng)
        assert lp.shape == (4, 4, 3) and hp.shape == (12, 12, 3)
        np.testing.assert_array_equal(hp[::3, ::3], lp)
    # The same seed gives the same crop.
    a = data.paired_random_crop(lr, hr, 4, 3, np.random.default_rng(5))[0]
    b = data.paired_random_crop(lr, hr, 4, 3, np.random.default_rng(5))[0]
    np.testing.assert_array_equal(a, b)


def test_paired_random_crop_errors():
    lr, hr = _img(10, 10), _img(20, 20)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r'HR shape \(20, 20, 3\) is not 3x the LR shape \(10, 10, 3\)'):
        data.paired_random_crop(lr, hr, 4, 3, rng)
    with pytest.raises(ValueError, match=r'HR shape \(21, 20, 3\)'):
        data.paired_random_crop(lr, _img(21, 20), 4, 2, rng)
    with pytest.raises(ValueError, match='LR patch 11 does not fit'):
        data.paired_random_crop(lr, hr, 11, 2, rng)
    with pytest.raises(ValueError, match='positive integer'):
        data.paired_random_crop(lr, hr, 4, -2, rng)


def test_unpaired_random_crop_is_independent():
    a = np.arange(40 * 40).reshape(40, 40)
    b = a.copy()
    rng = np.random.default_rng(0)
    different = 0
    for _ in range(10):
        pa, pb = data.unpaired_random_crop(a, b, 8, rng)
        assert pa.shape == pb.shape == (8, 8)
        different += int(pa[0, 0] != pb[0, 0])
    assert different >= 8
    pa, pb = data.unpaired_random_crop(_img(9, 9), _img(30, 40), 9, rng)
    assert pa.shape == pb.shape == (9, 9, 3)
    with pytest.raises(ValueError, match='patch 10 does not fit the first image'):
        data.unpaired_random_crop(_img(9, 9), _img(30, 40), 10, rng)


def test_dihedral_group():
    img = _img(5, 7, seed=3)
    outs = [data.dihedral(img, m) for m in range(8)]
    for m, out in enumerate(outs):
        np.testing.assert_array_equal(data.inverse_dihedral(out, m), img)
        assert out.shape == ((7, 5, 3) if m >= 4 else (5, 7, 3))
    # All 8 are distinct, and they are exactly the rotations and flipped rotations.
    assert len({o.tobytes() + bytes(o.shape) for o in outs}) == 8
    expected = [np.rot90(img, k) for k in range(4)] + [np.rot90(img[:, ::-1], k) for k in range(4)]
    assert {o.tobytes() + bytes(o.shape) for o in outs} == {e.tobytes() + bytes(e.shape) for e in expected}
    np.testing.assert_array_equal(data.dihedral(img, 0), img)
    np.testing.assert_array_equal(data.dihedral(img, 1), img[:, ::-1])
    np.testing.assert_array_equal(data.dihedral(img, 4), img.transpose(1, 0, 2))
    with pytest.raises(ValueError, match='0..7'):
        data.dihedral(img, 8)


def test_augment_applies_one_transform_to_all():
    a = _img(6, 6, seed=1)
    b = np.repeat(np.repeat(a, 2, axis=0), 2, axis=1)
    seen = set()
    rng = np.random.default_rng(0)
    for _ in range(64):
        oa, ob = data.augment([a, b], rng)
        assert oa.flags['C_CONTIGUOUS'] and ob.flags['C_CONTIGUOUS']
        np.testing.assert_array_equal(ob[::2, ::2], oa)
        seen.add(oa.tobytes())
    assert len(seen) == 8
    # Without hflip/rot nothing changes, and the random stream advances identically.
    r1, r2 = np.random.default_rng(7), np.random.default_rng(7)
    np.testing.assert_array_equal(data.augment(a, r1, hflip=False, rot=False)[0], a)
    data.augment(a, r2)
    assert r1.random() == r2.random()


def test_sliding_patches_grid():
    img = np.arange(10 * 13).reshape(10, 13)
    patches = data.sliding_patches(img, 4, 3)
    ys, xs = range(0, 7, 3), range(0, 10, 3)           # 0..dim-patch inclusive
    assert patches.shape == (len(ys) * len(xs), 4, 4)
    np.testing.assert_array_equal(patches[0], img[:4, :4])
    np.testing.assert_array_equal(patches[len(xs) - 1], img[:4, 9:13])   # last column touches the border
    np.testing.assert_array_equal(patches[-1], img[6:10, 9:13])
    assert data.sliding_patches(_img(33, 40), 33, 99).shape == (1, 33, 33, 3)
    with pytest.raises(ValueError, match='does not fit'):
        data.sliding_patches(img, 11, 1)


def _write_folder(folder, sizes):
    for name, (h, w) in sizes.items():
        write_image(folder / name, _img(h, w, seed=h + w))


def test_extract_subimages(tmp_path):
    src = tmp_path / 'hr'
    _write_folder(src, {'0001.png': (50, 70), '0002x2.png': (40, 40)})
    out = tmp_path / 'sub'
    written = data.extract_subimages(src, out, crop_size=20, step=15, thresh_size=0, n_workers=1)
    # 50 -> starts 0, 15, 30 (30 + 20 = 50 covers all); 70 -> 0, 15, 30, 45 + flush 50.
    names = [p.name for p in written]
    assert names[:15] == [f'0001_s{k:03d}.png' for k in range(1, 16)]
    # '0002x2' loses its scale suffix; 40 -> starts 0, 15 + flush 20.
    assert names[15:] == [f'0002_s{k:03d}.png' for k in range(1, 10)]
    full = read_image(src / '0001.png')
    np.testing.assert_array_equal(read_image(out / '0001_s005.png'), full[:20, 50:70])
    np.testing.assert_array_equal(read_image(out / '0001_s006.png'), full[15:35, :20])
    # A large threshold drops the flush crop.
    again = data.extract_subimages(src, out, 20, 15, thresh_size=5, n_workers=1, overwrite=True)
    assert len([p for p in again if p.name.startswith('0001')]) == 12
    assert sorted(os.listdir(tmp_path)) == ['hr', 'sub']


def test_extract_subimages_refuses_existing_output(tmp_path):
    src = tmp_path / 'hr'
    _write_folder(src, {'a.png': (30, 30)})
    (tmp_path / 'sub').mkdir()
    with pytest.raises(FileExistsError, match='sub: already exists'):
        data.extract_subimages(src, tmp_path / 'sub', 20, 10, n_workers=1)


def test_extract_subimages_worker_errors_propagate(tmp_path):
    src = tmp_path / 'hr'
    _write_folder(src, {'a.png': (40, 40), 'b.png': (40, 40), 'c.png': (40, 40)})
    (src / 'b.png').write_bytes(b'broken')
    with pytest.raises(ImageError, match=r'b\.png: cannot decode'):
        data.extract_subimages(src, tmp_path / 'sub', 20, 10, n_workers=2)
    assert sorted(os.listdir(tmp_path)) == ['hr']          # no partial output, no temp folder
    _write_folder(src, {'b.png': (10, 40)})
    with pytest.raises(ImageError, match=r'b\.png: 10x40 is smaller than crop_size 20'):
        data.extract_subimages(src, tmp_path / 'sub', 20, 10, n_workers=1)
    assert sorted(os.listdir(tmp_path)) == ['hr']


def test_extract_subimages_cli(tmp_path, capsys):
    src = tmp_path / 'hr'
    _write_folder(src, {'a.png': (30, 30)})
    assert data.main(['--input', str(src), '--output', str(tmp_path / 'o'), '--crop_size', '20',
                      '--step', '10', '--n_workers', '1']) == 0
    assert len(os.listdir(tmp_path / 'o')) == 4
    capsys.readouterr()
    for argv, message in (([str(src), str(tmp_path / 'o')], 'already exists'),
                          ([str(tmp_path / 'none'), str(tmp_path / 'p')], 'none: no such folder'),
                          ([str(src), str(src / 'sub')], f'--output={src / "sub"} lies inside --input={src}')):
        with pytest.raises(SystemExit) as info:
            data.main(['--input', argv[0], '--output', argv[1], '--crop_size', '20', '--step', '10'])
        err = capsys.readouterr().err
        assert info.value.code == 2 and err.count('\n') == 1 and err.startswith('error: ') and message in err, err
    assert sorted(os.listdir(src)) == ['a.png']


def test_cli_refuses_a_worker_count_below_one(tmp_path, capsys):
    src = tmp_path / 'hr'
    _write_folder(src, {'a.png': (30, 30)})
    with pytest.raises(SystemExit) as info:
        data.main(['--input', str(src), '--output', str(tmp_path / 'o'), '--crop_size', '20', '--step', '10',
                   '--n_workers', '-3'])
    assert info.value.code == 2 and capsys.readouterr().err == 'error: --n_workers must be >= 1, got -3\n'
    assert sorted(os.listdir(tmp_path)) == ['hr']
