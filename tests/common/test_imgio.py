"""common.imgio: reading/writing 8- and 16-bit images, channel policies and clear errors."""
import os

import cv2
import numpy as np
import pytest

from common.imgio import ImageError, float2uint8, img2float, list_images, read_image, write_image
from common.fileio import atomic_write_bytes


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
def test_truncated_files_are_errors(tmp_path, ext, capfd):
    write_image(tmp_path / f'full{ext}', _bgr(64, 64))
    data = (tmp_path / f'full{ext}').read_bytes()
    (tmp_path / f'cut{ext}').write_bytes(data[:len(data) * 2 // 3])
    with pytest.raises(ImageError, match=rf'cut\{ext}: cannot decode'):
        read_image(tmp_path / f'cut{ext}')
    assert capfd.readouterr().err == ''                  # OpenCV's own warning would be a second line


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
    from common.fileio import building_dir
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


def _dead_pid():
    """The pid of a process that has exited and been reaped."""
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True, text=True)
    return int(proc.stdout)


def test_16bit_png_read_as_8bit(tmp_path):
    from common.imgio import decode_image, to_uint8
    values = np.array([0, 1, 128, 129, 257, 385, 386, 32767, 32768, 65278, 65406, 65407, 65535], np.uint16)
    img = np.stack([np.resize(values, (4, 13)), np.full((4, 13), 514, np.uint16),
                    np.full((4, 13), 40000, np.uint16)], axis=-1)
    path = tmp_path / 'deep.png'
    assert cv2.imwrite(str(path), img)                              # a real 16-bit PNG file
    assert read_image(path).dtype == np.uint16                      # bits=None keeps what is stored
    out = read_image(path, bits=8)
    assert out.dtype == np.uint8 and out.shape == img.shape
    expected = np.floor(img.astype(np.float64) * 255 / 65535 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(out, expected)
    assert list(out[0, :, 0]) == [0, 0, 0, 1, 1, 1, 2, 127, 128, 254, 254, 255, 255]
    assert out[..., 1].max() == 2 and out[..., 2].max() == 156     # not saturated to white
    gray = read_image(path, flag='gray', bits=8)
    assert gray.dtype == np.uint8 and gray.shape == img.shape[:2]
    np.testing.assert_array_equal(decode_image(path.read_bytes(), 'deep', bits=8), out)
    eight = _bgr()
    write_image(tmp_path / 'eight.png', eight)
    np.testing.assert_array_equal(read_image(tmp_path / 'eight.png', bits=8), eight)
    np.testing.assert_array_equal(to_uint8(img), expected)
    with pytest.raises(ValueError, match='bits must be None'):
        read_image(path, bits=16)


def test_to_uint8_every_16bit_value():
    from fractions import Fraction
    from common.imgio import to_uint8
    x = np.arange(65536, dtype=np.uint16)
    out = to_uint8(x)
    assert out.dtype == np.uint8
    for v in (0, 128, 129, 32767, 32768, 65535):
        assert out[v] == int(Fraction(v * 255, 65535) + Fraction(1, 2))   # round half up, exactly
    np.testing.assert_array_equal(out, (x.astype(np.int64) * 255 + 32767) // 65535)
    np.testing.assert_array_equal(out[::257], np.arange(256))
    assert to_uint8(out) is out
    with pytest.raises(ValueError, match='float32.*float2uint8'):
        to_uint8(np.zeros(3, np.float32))


def test_bits8_refuses_float_tiff(tmp_path):
    ok, buf = cv2.imencode('.tiff', np.full((4, 4), 0.5, np.float32))
    assert ok
    from common.imgio import decode_image
    assert decode_image(buf.tobytes(), 'f.tif', flag='unchanged').dtype == np.float32
    with pytest.raises(ImageError, match=r'f\.tif: float32 pixels cannot be read with bits=8'):
        decode_image(buf.tobytes(), 'f.tif', flag='unchanged', bits=8)


def test_atomic_write_fsyncs_file_then_folder(tmp_path, monkeypatch):
    import stat
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, 'fsync', lambda fd: (synced.append(stat.S_ISDIR(os.fstat(fd).st_mode)), real(fd)))
    atomic_write_bytes(tmp_path / 'x.bin', b'data')
    assert synced == [False, True]                     # the file before the rename, the folder after


def test_building_dir_fsyncs_everything_and_swaps(tmp_path, monkeypatch):
    import stat
    from common import fileio
    from common.fileio import building_dir
    target = tmp_path / 'out'
    with building_dir(target) as tmp:
        (tmp / 'sub').mkdir()
        (tmp / 'sub' / 'a.txt').write_text('1')
    old_inode = target.stat().st_ino
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, 'fsync', lambda fd: (synced.append(stat.S_ISDIR(os.fstat(fd).st_mode)), real(fd)))

    def no_rename(*args):
        raise AssertionError('os.rename used although renameat2 is available')
    monkeypatch.setattr(os, 'rename', no_rename)
    with building_dir(target, overwrite=True) as tmp:
        (tmp / 'sub').mkdir()
        (tmp / 'sub' / 'b.txt').write_text('2')
        (tmp / 'c.txt').write_text('3')
        new_inode = tmp.stat().st_ino
    assert synced.count(False) == 2 and synced.count(True) == 3   # 2 files; sub, the build, the parent
    assert target.stat().st_ino == new_inode != old_inode
    assert sorted(os.listdir(target)) == ['c.txt', 'sub'] and os.listdir(tmp_path) == ['out']
    # Where renameat2 is missing: rename the old folder away, the new one in.
    monkeypatch.undo()
    monkeypatch.setattr(fileio, '_renameat2', lambda src, dst, flags: False)
    with building_dir(target, overwrite=True) as tmp:
        (tmp / 'd.txt').write_text('4')
    assert os.listdir(target) == ['d.txt'] and os.listdir(tmp_path) == ['out']
    with pytest.raises(FileExistsError, match='out: already exists'):
        with building_dir(target):
            pass


def test_building_dir_marker(tmp_path):
    from common.fileio import building_dir
    (tmp_path / 'plain').write_text('mine')
    (tmp_path / 'foreign').mkdir()
    (tmp_path / 'foreign' / 'photo.png').write_bytes(b'x')
    for name, kind in (('plain', 'is a file, '), ('foreign', '')):
        with pytest.raises(FileExistsError, match=rf'{name}: {kind}not built by this tool: no meta\.json in it; '
                                                  r'remove it yourself or choose another output'):
            with building_dir(tmp_path / name, overwrite=True, marker='meta.json') as tmp:
                raise AssertionError('the body must not run')
    assert (tmp_path / 'plain').read_text() == 'mine' and os.listdir(tmp_path / 'foreign') == ['photo.png']
    with building_dir(tmp_path / 'ours', marker='meta.json') as tmp:
        (tmp / 'meta.json').write_text('{}')
    with building_dir(tmp_path / 'ours', overwrite=True, marker='meta.json') as tmp:
        (tmp / 'meta.json').write_text('{"v": 2}')
    assert (tmp_path / 'ours' / 'meta.json').read_text() == '{"v": 2}'
    # A foreign folder that appears while building is refused too, and the new build is discarded.
    with pytest.raises(FileExistsError, match='late: not built by this tool'):
        with building_dir(tmp_path / 'late', overwrite=True, marker='meta.json') as tmp:
            (tmp / 'meta.json').write_text('{}')
            (tmp_path / 'late').mkdir()
    assert sorted(os.listdir(tmp_path)) == ['foreign', 'late', 'ours', 'plain']


def test_remove_dead_builds(tmp_path):
    from common.fileio import building_dir, remove_dead_builds
    dead, live = _dead_pid(), os.getpid()
    names = [f'.out.building-{dead}-abc123', f'.out.old-{dead}-0f0f0f0f', f'.out.building-{live}-abc123',
             '.out.building-1-abc123', f'.other.building-{dead}-abc123', f'.out.building-{dead}-xyz']
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / 'data.mdb').write_bytes(b'partial')
    assert [p.name for p in remove_dead_builds(tmp_path / 'out')] == sorted(names[:2])
    assert sorted(os.listdir(tmp_path)) == sorted(names[2:])
    (tmp_path / names[0]).mkdir()
    with building_dir(tmp_path / 'out') as tmp:                 # every build cleans up first
        assert not (tmp_path / names[0]).exists()
        (tmp / 'a').write_text('1')
    assert sorted(os.listdir(tmp_path)) == sorted(names[2:] + ['out'])


def test_remove_dead_temps(tmp_path):
    from common.fileio import remove_dead_temps
    dead = _dead_pid()
    names = [f'.ckpt.pt.{dead}.0123abcd.tmp', f'.log.txt.{dead}.89abcdef.tmp', f'.ckpt.pt.{os.getpid()}.0123abcd.tmp',
             '.ckpt.pt.1.0123abcd.tmp', f'ckpt.pt.{dead}.0123abcd.tmp', f'.ckpt.pt.{dead}.zz.tmp', 'ckpt.pt']
    for name in names:
        (tmp_path / name).write_bytes(b'x')
    assert [p.name for p in remove_dead_temps(tmp_path, name='ckpt.pt')] == [names[0]]
    assert [p.name for p in remove_dead_temps(tmp_path)] == [names[1]]
    assert sorted(os.listdir(tmp_path)) == sorted(names[2:])
    assert remove_dead_temps(tmp_path / 'missing') == []


def test_check_disjoint(tmp_path):
    from common.fileio import check_disjoint
    src = tmp_path / 'data'
    (src / 'train').mkdir(parents=True)
    check_disjoint(tmp_path / 'data2', src, '--output_folder', '--src_folder')      # a sibling, same prefix
    check_disjoint(tmp_path / 'out' / 'x', src, '--output_folder', '--src_folder')
    (tmp_path / 'link').symlink_to(src)
    for out, relation in ((src, 'is'), (src / 'train' / 'mr', 'lies inside'), (tmp_path, 'contains'),
                          (tmp_path / 'link' / 'mr', 'lies inside'), (src / '..' / 'data', 'is')):
        with pytest.raises(ValueError, match=rf'^--output_folder={out} {relation} --src_folder={src}; '):
            check_disjoint(out, src, '--output_folder', '--src_folder')


def test_check_outside_checkpoint(tmp_path, monkeypatch):
    from common.fileio import check_outside_checkpoint
    ckpt = tmp_path / 'model_dir'
    ckpt.mkdir()
    (ckpt / 'RCAN-10.index').write_bytes(b'x')
    monkeypatch.chdir(tmp_path)
    for given in (ckpt, ckpt / 'RCAN-10'):                          # a folder or a prefix in it
        check_outside_checkpoint(tmp_path / 'result', given, '--result_path', '--pre_trained_model')
        for out in (ckpt, ckpt / 'result', ckpt / 'rcan.pb'):
            with pytest.raises(ValueError, match=rf'^--result_path={out} lies in the checkpoint folder of '
                                                 rf'--pre_trained_model={given}; '):
                check_outside_checkpoint(out, given, '--result_path', '--pre_trained_model')
    monkeypatch.chdir(ckpt)                                         # the references' default: ./ and result/
    check_outside_checkpoint('result', './', '--result_path', '--pre_trained_model')
