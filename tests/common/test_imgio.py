"""common.imgio: reading/writing 8- and 16-bit images, channel policies and clear errors."""
import os

import cv2
import numpy as np
import pytest

from common.imgio import (ImageError, atomic_write_bytes, float2uint8, img2float, list_images, read_image,
                          write_image)


def _bgr(h=24, w=32, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max
    return rng.integers(0, top, size=(h, w, 3), endpoint=True).astype(dtype)


@pytest.mark.parametrize('ext', ['.png', '.bmp', '.tif'])
def test_lossless_round_trip_8bit(tmp_path, ext):
    img = _bgr()
    path = tmp_path / f'a{ext}'
    write_image(path, img)
    out = read_image(path)
    assert out.dtype == np.uint8 and out.shape == img.shape
    np.testing.assert_array_equal(out, img)


def test_png_16bit_keeps_depth(tmp_path):
    img = _bgr(dtype=np.uint16)
    write_image(tmp_path / 'a.png', img)
    out = read_image(tmp_path / 'a.png')
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, img)
    gray = read_image(tmp_path / 'a.png', flag='gray')
    assert gray.dtype == np.uint16 and gray.shape == img.shape[:2]


def test_jpeg_is_close_and_channel_order_is_bgr(tmp_path):
    img = np.zeros((32, 32, 3), np.uint8)
    img[..., 0] = 200                      # pure blue in BGR
    write_image(tmp_path / 'b.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    out = read_image(tmp_path / 'b.jpg')
    assert np.abs(out.astype(int) - img).max() <= 3
    assert out[..., 0].mean() > 190 and out[..., 2].mean() < 10


def test_gray_file_policies(tmp_path):
    gray = _bgr()[..., 0]
    write_image(tmp_path / 'g.png', gray)
    color = read_image(tmp_path / 'g.png')
    assert color.shape == gray.shape + (3,)
    for c in range(3):
        np.testing.assert_array_equal(color[..., c], gray)
    np.testing.assert_array_equal(read_image(tmp_path / 'g.png', flag='gray'), gray)
    assert read_image(tmp_path / 'g.png', flag='unchanged').shape == gray.shape


def test_color_to_gray_uses_bt601_weights(tmp_path):
    img = _bgr()
    write_image(tmp_path / 'c.png', img)
    gray = read_image(tmp_path / 'c.png', flag='gray').astype(float)
    expected = 0.114 * img[..., 0] + 0.587 * img[..., 1] + 0.299 * img[..., 2]
    assert np.abs(gray - expected).max() <= 1.0


def test_rgba_policy(tmp_path):
    bgra = np.dstack([_bgr(), np.full((24, 32), 128, np.uint8)])
    write_image(tmp_path / 'a.png', bgra)
    np.testing.assert_array_equal(read_image(tmp_path / 'a.png'), bgra[..., :3])
    assert read_image(tmp_path / 'a.png', flag='unchanged').shape == (24, 32, 4)
    with pytest.raises(ImageError, match=r'a\.png: has an alpha channel'):
        read_image(tmp_path / 'a.png', alpha='error')


def test_missing_empty_and_corrupt_files_name_the_file(tmp_path):
    with pytest.raises(ImageError, match=r'nope\.png: no such file'):
        read_image(tmp_path / 'nope.png')
    (tmp_path / 'empty.png').write_bytes(b'')
    with pytest.raises(ImageError, match=r'empty\.png: empty file'):
        read_image(tmp_path / 'empty.png')
    (tmp_path / 'garbage.png').write_bytes(b'this is not an image' * 20)
    with pytest.raises(ImageError, match=r'garbage\.png: cannot decode'):
        read_image(tmp_path / 'garbage.png')
    with pytest.raises(ImageError, match='is a directory'):
        read_image(tmp_path)


@pytest.mark.parametrize('ext', ['.png', '.jpg', '.bmp'])
def test_truncated_files_are_errors(tmp_path, ext):
    write_image(tmp_path / f'full{ext}', _bgr(64, 64))
    data = (tmp_path / f'full{ext}').read_bytes()
    (tmp_path / f'cut{ext}').write_bytes(data[:len(data) * 2 // 3])
    with pytest.raises(ImageError, match=rf'cut\{ext}: cannot decode'):
        read_image(tmp_path / f'cut{ext}')


def test_bad_options():
    with pytest.raises(ValueError, match='flag must be one of'):
        read_image('x.png', flag='rgb')
    with pytest.raises(ValueError, match='alpha must be one of'):
        read_image('x.png', alpha='keep')


def test_write_creates_parents_and_leaves_no_temp(tmp_path):
    target = tmp_path / 'deep' / 'er' / 'x.png'
    write_image(target, _bgr())
    write_image(target, _bgr(seed=1))            # overwrite in place
    np.testing.assert_array_equal(read_image(target), _bgr(seed=1))
    assert os.listdir(target.parent) == ['x.png']
    assert (target.stat().st_mode & 0o777) != 0o600   # not mkstemp's private mode


def test_write_errors(tmp_path):
    (tmp_path / 'file').write_text('x')
    with pytest.raises(ImageError, match=r'file is a file, not a folder'):
        write_image(tmp_path / 'file' / 'x.png', _bgr())
    (tmp_path / 'dir.png').mkdir()
    with pytest.raises(ImageError, match=r'dir\.png: cannot write'):
        write_image(tmp_path / 'dir.png', _bgr())
    assert os.listdir(tmp_path / 'dir.png') == []
    with pytest.raises(ImageError, match=r"cannot encode as '\.xyz'"):
        write_image(tmp_path / 'a.xyz', _bgr())
    with pytest.raises(ImageError, match='float32.*float2uint8'):
        write_image(tmp_path / 'a.png', _bgr().astype(np.float32))
    with pytest.raises(ImageError, match='shape'):
        write_image(tmp_path / 'a.png', np.zeros((4, 4, 2), np.uint8))
    assert sorted(os.listdir(tmp_path)) == ['dir.png', 'file']


@pytest.mark.skipif(hasattr(os, 'geteuid') and os.geteuid() == 0, reason='root ignores permissions')
def test_write_permission_denied(tmp_path):
    locked = tmp_path / 'locked'
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(ImageError, match=r'locked/x\.png: cannot write'):
            write_image(locked / 'x.png', _bgr())
    finally:
        locked.chmod(0o700)


def test_atomic_write_cleans_up_on_failure(tmp_path, monkeypatch):
    def boom(src, dst):
        raise OSError('disk full')
    monkeypatch.setattr(os, 'replace', boom)
    with pytest.raises(OSError, match='disk full'):
        atomic_write_bytes(tmp_path / 'x.bin', b'data')
    assert os.listdir(tmp_path) == []


def test_list_images(tmp_path):
    for name in ['b.PNG', 'a.jpg', 'c.txt', '.hidden.png', 'd.tiff']:
        (tmp_path / name).write_bytes(b'x')
    (tmp_path / 'sub.png').mkdir()
    assert [p.name for p in list_images(tmp_path)] == ['a.jpg', 'b.PNG', 'd.tiff']
    assert [p.name for p in list_images(tmp_path, exts=('.png',))] == ['b.PNG']
    with pytest.raises(ImageError, match='no such folder'):
        list_images(tmp_path / 'missing')
    with pytest.raises(ImageError, match=r'no images with extensions \.bmp'):
        list_images(tmp_path, exts=('.bmp',))


def test_float_conversions():
    u8 = np.array([0, 1, 128, 255], np.uint8)
    f = img2float(u8)
    assert f.dtype == np.float32 and f[-1] == 1.0 and f[1] == pytest.approx(1 / 255)
    assert img2float(np.array([65535], np.uint16))[0] == 1.0
    np.testing.assert_array_equal(float2uint8(f), u8)
    np.testing.assert_array_equal(float2uint8(np.array([-0.5, 0.5 / 255, 1.5 / 255, 2.0])), [0, 1, 2, 255])
    with pytest.raises(ValueError, match='float64'):
        img2float(np.zeros(3))


def test_write_permission_error_message(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(13, 'Permission denied')
    monkeypatch.setattr(os, 'open', denied)
    with pytest.raises(ImageError, match=r'x\.png: cannot write \(Permission denied\)'):
        write_image(tmp_path / 'x.png', _bgr())


def test_building_dir(tmp_path):
    from common.imgio import building_dir
    target = tmp_path / 'out'
    with building_dir(target) as tmp:
        (tmp / 'a.txt').write_text('1')
        assert not target.exists()
    assert os.listdir(target) == ['a.txt']
    with pytest.raises(FileExistsError, match='out: already exists'):
        with building_dir(target):
            pass
    with pytest.raises(RuntimeError, match='killed'):
        with building_dir(target, overwrite=True) as tmp:
            (tmp / 'b.txt').write_text('2')
            raise RuntimeError('killed')
    assert os.listdir(target) == ['a.txt']             # the old folder survives a failed rebuild
    with building_dir(target, overwrite=True) as tmp:
        (tmp / 'b.txt').write_text('2')
    assert os.listdir(target) == ['b.txt']
    assert os.listdir(tmp_path) == ['out']             # no temporary or old folders left
