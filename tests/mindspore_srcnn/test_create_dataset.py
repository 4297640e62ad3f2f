"""src/create_dataset.py: patch count, value range, Y against common's pipeline, atomic and refusing output."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from common import paths
from common.color import to_y_channel
from common.data import modcrop
from common.imresize import imresize

SCRIPT = paths.REPO_ROOT / 'mindspore' / 'srcnn' / 'src' / 'create_dataset.py'


@pytest.fixture(scope='module')
def source(tiny_images, tmp_path_factory):
    """The two tiny images, one of them inside a sub-folder (the reference reads one level down)."""
    folder = tmp_path_factory.mktemp('train_src')
    paths = sorted(tiny_images.glob('*.png'))
    cv2.imwrite(str(folder / 'a.png'), cv2.imread(str(paths[0])))
    (folder / 'sub').mkdir()
    cv2.imwrite(str(folder / 'sub' / 'b.png'), cv2.imread(str(paths[1])))
    (folder / 'notes.txt').write_text('not an image')
    return folder


@pytest.fixture(scope='module')
def built(srcnn, source, tmp_path_factory):
    out = tmp_path_factory.mktemp('records') / 'mindrecord'
    total = srcnn.create_dataset.build_mindrecord(source, out, scale=2, patch_size=33, stride=11, progress=False)
    return out, total


def read_all(out):
    import mindspore.dataset as ds
    data = ds.MindDataset(str(out / 'srcnn.mindrecord00'), columns_list=['lr', 'hr'], shuffle=False)
    rows = list(data.create_dict_iterator(output_numpy=True))
    return np.stack([r['lr'] for r in rows]), np.stack([r['hr'] for r in rows])


def test_patch_count_follows_the_formula(srcnn, built):
    out, total = built
    # a.png 70x90 -> modcrop 70x90 -> corners 0,11,22,33 (4) x 0..55 (6); b.png 67x83 -> 66x82 -> 4 x 5
    assert total == 4 * 6 + 4 * 5
    assert srcnn.create_dataset.patch_count(70, 90, 33, 11) == 24
    assert sorted(p.name for p in out.iterdir() if not p.name.endswith('.db'))[:2] == ['meta.json', 'srcnn.mindrecord00']
    assert len(list(out.glob('srcnn.mindrecord[0-9][0-9]'))) == 32
    meta = json.loads((out / 'meta.json').read_text())
    assert (meta['patches'], meta['images'], meta['stride']) == (44, 2, 11)
    lr, hr = read_all(out)
    assert lr.shape == hr.shape == (44, 1, 33, 33) and lr.dtype == np.float32


def test_patches_are_common_y_of_the_bicubic_pipeline(built, source):
    lr, hr = read_all(built[0])
    assert 16 / 255 - 1e-6 <= hr.min() and hr.max() <= 235 / 255 + 1e-6      # BT.601 studio range
    assert 0.0 <= lr.min() and lr.max() <= 1.0
    img = modcrop(cv2.imread(str(source / 'a.png')), 2)
    up = imresize(imresize(img, scale=0.5), scale=2)                             # uint8 both ways
    y_lr, y_hr = to_y_channel(up) / 255, to_y_channel(img) / 255
    for y0, x0 in [(0, 0), (11, 22), (33, 55)]:
        want_lr = y_lr[y0:y0 + 33, x0:x0 + 33]
        want_hr = y_hr[y0:y0 + 33, x0:x0 + 33]
        match = [i for i in range(len(hr)) if np.abs(hr[i, 0] - want_hr).max() < 1e-6]
        assert len(match) == 1, f'HR patch at {(y0, x0)} not found exactly once'
        np.testing.assert_allclose(lr[match[0], 0], want_lr, atol=1e-6)
    # Not the reference's 64.738 typo: an image of pure red has Y = 16 + 65.481 exactly.
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 2] = 255
    assert to_y_channel(red)[0, 0] == pytest.approx(16 + 65.481)


def test_refuses_to_overwrite_unless_asked(srcnn, built, source):
    out, _ = built
    before = (out / 'srcnn.mindrecord00').stat().st_mtime_ns
    with pytest.raises(FileExistsError, match='--overwrite=True'):
        srcnn.create_dataset.build_mindrecord(source, out, stride=11, progress=False)
    assert (out / 'srcnn.mindrecord00').stat().st_mtime_ns == before
    total = srcnn.create_dataset.build_mindrecord(source, out, stride=20, overwrite=True, progress=False)
    assert total == 2 * 3 + 2 * 3
    assert json.loads((out / 'meta.json').read_text())['stride'] == 20


def test_failed_run_leaves_no_dataset(srcnn, source, tmp_path, monkeypatch):
    calls = []
    real = srcnn.create_dataset.image_patches

    def dies_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    monkeypatch.setattr(srcnn.create_dataset, 'image_patches', dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        srcnn.create_dataset.build_mindrecord(source, tmp_path / 'ds', stride=11, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_bad_inputs(srcnn, tmp_path):
    with pytest.raises(FileNotFoundError, match='--src_folder=.*no such folder'):
        srcnn.create_dataset.build_mindrecord(tmp_path / 'missing', tmp_path / 'out', progress=False)
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='no images'):
        srcnn.create_dataset.build_mindrecord(tmp_path / 'empty', tmp_path / 'out', progress=False)
    small = tmp_path / 'small'
    small.mkdir()
    cv2.imwrite(str(small / 'tiny.png'), np.full((20, 40, 3), 128, np.uint8))
    with pytest.raises(ValueError, match='at least 33 px'):
        srcnn.create_dataset.build_mindrecord(small, tmp_path / 'out', progress=False)
    assert not (tmp_path / 'out').exists()


def test_min_patch_std_drops_flat_patches(srcnn, tmp_path):
    img = np.full((80, 80, 3), 90, np.uint8)
    img[:, 40:] = np.random.default_rng(0).integers(0, 255, (80, 40, 3), dtype=np.uint8)   # right half textured
    lr, hr = srcnn.create_dataset.image_patches(img, 2, 33, 10)
    assert len(hr) == 25
    lr_kept, hr_kept = srcnn.create_dataset.image_patches(img, 2, 33, 10, min_patch_std=0.02)
    assert 0 < len(hr_kept) < 25 and len(lr_kept) == len(hr_kept)
    assert hr_kept.std(axis=(1, 2, 3)).min() >= 0.02 and hr[0].std() < 0.02      # the flat corner patch went


def test_overwrite_replaces_only_a_dataset_it_built(srcnn, source, tmp_path):
    mine = tmp_path / 'mine'
    mine.mkdir()
    (mine / 'thesis.tex').write_text('years of work')
    with pytest.raises(FileExistsError, match=f'--output_folder={mine}: exists and is not an output of '
                                              'create_dataset.py .no meta.json in it.'):
        srcnn.create_dataset.build_mindrecord(source, mine, stride=20, overwrite=True, progress=False)
    assert sorted(p.name for p in mine.iterdir()) == ['thesis.tex']
    empty = tmp_path / 'empty'                                  # an existing empty folder is simply used
    empty.mkdir()
    assert srcnn.create_dataset.build_mindrecord(source, empty, stride=20, progress=False) == 12


@pytest.mark.parametrize('where, relation', [('.', 'is'), ('sub/out', 'lies inside'), ('..', 'contains')])
def test_output_overlapping_the_source_is_refused(srcnn, source, tmp_path, where, relation):
    src = tmp_path / 'src'
    shutil.copytree(source, src)
    out = (src / where).resolve() if where != '..' else tmp_path
    before = sorted(str(p) for p in tmp_path.rglob('*'))
    with pytest.raises(ValueError, match=f'--output_folder=.* {relation} --src_folder='):
        srcnn.create_dataset.build_mindrecord(src, out, stride=20, overwrite=True, progress=False)
    assert sorted(str(p) for p in tmp_path.rglob('*')) == before


def test_a_plain_file_is_no_output_folder(srcnn, source, tmp_path):
    plain = tmp_path / 'plain'
    plain.write_text('x')
    with pytest.raises(ValueError, match=f'--output_folder={plain}: is a file, expected a folder'):
        srcnn.create_dataset.build_mindrecord(source, plain, overwrite=True, progress=False)
    with pytest.raises(ValueError, match=f'--output_folder={plain}/ds: cannot create it, {plain} is a file'):
        srcnn.create_dataset.build_mindrecord(source, plain / 'ds', progress=False)
    assert plain.read_text() == 'x' and [p.name for p in tmp_path.iterdir()] == ['plain']


@pytest.mark.parametrize('flag, value', [('stride', 0), ('patch_size', 0), ('patch_size', -3), ('scale', 0)])
def test_bad_patch_parameters_are_refused(srcnn, source, tmp_path, flag, value):
    args = dict({'scale': 2, 'patch_size': 33, 'stride': 99}, **{flag: value})
    with pytest.raises(ValueError, match=f'^--{flag} must be a positive integer, got {value}$'):
        srcnn.create_dataset.build_mindrecord(source, tmp_path / 'ds', progress=False, **args)
    assert list(tmp_path.iterdir()) == []


def test_a_truncated_or_missing_shard_is_named(srcnn, built, tmp_path):
    copy = tmp_path / 'ds'
    shutil.copytree(built[0], copy)
    srcnn.dataset.check_shards(copy)
    shard = copy / 'srcnn.mindrecord05'
    size = shard.stat().st_size
    with open(shard, 'r+b') as f:
        f.truncate(size // 2)
    with pytest.raises(ValueError, match=f'--data_path={copy}: srcnn.mindrecord05 has {size // 2} bytes, '
                                         f'meta.json records {size}'):
        srcnn.dataset.first_shard(copy)
    shard.unlink()
    with pytest.raises(FileNotFoundError, match=f'--data_path={copy}: incomplete mindrecord, missing srcnn.mindrecord05$'):
        srcnn.dataset.check_shards(copy)


# --- a real process killed with SIGKILL in the middle of a build -------------------------------------------

@pytest.fixture(scope='module')
def many_images(tmp_path_factory):
    """40 noise pictures of 96x96: about two seconds of patch writing after the first shard appears."""
    folder = tmp_path_factory.mktemp('many')
    rng = np.random.default_rng(0)
    for i in range(40):
        cv2.imwrite(str(folder / f'{i:03d}.png'), rng.integers(0, 255, (96, 96, 3), dtype=np.uint8))
    return folder


def _create(src, out, *flags):
    return [sys.executable, str(SCRIPT), f'--src_folder={src}', f'--output_folder={out}', '--stride=8', *flags]


def kill_mid_build(src, out, *flags):
    """Start create_dataset.py, SIGKILL it once its hidden build folder holds a shard; returns that folder."""
    proc = subprocess.Popen(_create(src, out, *flags), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            building = [p for p in out.parent.glob(f'.{out.name}.building-{proc.pid}-*')
                        if (p / 'srcnn.mindrecord00').is_file()]
            if building:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
                return building[0]
            assert proc.poll() is None, f'create_dataset.py ended (status {proc.returncode}) before it could be killed'
            time.sleep(0.005)
        raise AssertionError('create_dataset.py did not start building within 120 s')
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigkill_leaves_nothing_and_the_next_run_cleans_up(many_images, tmp_path):
    out = tmp_path / 'ds'
    dead = kill_mid_build(many_images, out)
    assert not out.exists() and dead.is_dir()                  # the half-built dataset stays hidden
    done = subprocess.run(_create(many_images, out), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not dead.exists() and [p.name for p in tmp_path.iterdir()] == ['ds']
    assert json.loads((out / 'meta.json').read_text())['patches'] == 40 * 8 * 8       # (96 - 33) // 8 + 1 = 8 corners per axis


def test_sigkill_while_overwriting_keeps_the_complete_old_dataset(srcnn, source, many_images, tmp_path):
    out = tmp_path / 'ds'
    srcnn.create_dataset.build_mindrecord(source, out, stride=11, progress=False)
    old = {p.name: p.read_bytes() for p in out.iterdir()}
    dead = kill_mid_build(many_images, out, '--overwrite=True')
    assert {p.name: p.read_bytes() for p in out.iterdir()} == old
    srcnn.dataset.check_shards(out)
    assert read_all(out)[0].shape == (44, 1, 33, 33)
    done = subprocess.run(_create(many_images, out, '--overwrite=True'), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not dead.exists() and [p.name for p in tmp_path.iterdir()] == ['ds']
    assert json.loads((out / 'meta.json').read_text())['patches'] == 40 * 8 * 8       # (96 - 33) // 8 + 1 = 8 corners per axis
