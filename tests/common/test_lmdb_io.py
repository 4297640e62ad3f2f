"""common.lmdb_io: BasicSR-compatible image LMDBs, lazy per-process readers, atomic builds."""
import os
import pickle
import subprocess
import sys

import lmdb
import numpy as np
import pytest

from common import lmdb_io
from common.imgio import read_image, write_image
from common.lmdb_io import LmdbImageReader, LmdbKeyError, make_lmdb


def _folder(tmp_path, n=4):
    """n images of varied sizes, one gray, one 16-bit."""
    rng = np.random.default_rng(0)
    folder = tmp_path / 'imgs'
    paths = []
    for i in range(n):
        shape = (20 + 7 * i, 30 + 5 * i) + (() if i == 1 else (3,))
        dtype = np.uint16 if i == 2 else np.uint8
        img = rng.integers(0, np.iinfo(dtype).max, size=shape, endpoint=True).astype(dtype)
        paths.append(folder / f'img{i:02d}.png')
        write_image(paths[-1], img)
    return paths


def test_round_trip_and_meta_info(tmp_path):
    paths = _folder(tmp_path)
    keys = [p.stem for p in paths]
    db = make_lmdb(paths, keys, tmp_path / 'set.lmdb', compress_level=2)
    assert sorted(os.listdir(db)) == ['data.mdb', 'lock.mdb', 'meta_info.txt']
    assert (db / 'meta_info.txt').read_text().splitlines() == [
        'img00.png (20,30,3) 2', 'img01.png (27,35,1) 2', 'img02.png (34,40,3) 2', 'img03.png (41,45,3) 2']
    reader = LmdbImageReader(db)
    assert reader.keys == keys and len(reader) == 4 and 'img01' in reader
    assert reader.shapes['img01'] == (27, 35, 1)
    for path, key in zip(paths, keys):
        np.testing.assert_array_equal(reader.read(key, flag='unchanged'), read_image(path, flag='unchanged'))
    assert reader.read('img01').shape == (27, 35, 3)            # default: BGR, gray replicated
    assert reader.read('img02').dtype == np.uint16
    # The values are plain PNG files, as BasicSR stores them.
    reader.close()
    with lmdb.open(str(db), readonly=True, lock=False) as env, env.begin() as txn:
        assert txn.get(b'img00')[:8] == b'\x89PNG\r\n\x1a\n'
        assert env.stat()['entries'] == 4
    assert sorted(os.listdir(tmp_path)) == ['imgs', 'set.lmdb']


def test_missing_key_names_key_and_db(tmp_path):
    paths = _folder(tmp_path, 1)
    reader = LmdbImageReader(make_lmdb(paths, ['a'], tmp_path / 'x.lmdb'))
    with pytest.raises(LmdbKeyError, match=r"key 'b' not found in .*x\.lmdb"):
        reader.read('b')
    with pytest.raises(KeyError):
        reader.read('b')
    with pytest.raises(FileNotFoundError, match=r'nope\.lmdb: not an image LMDB'):
        LmdbImageReader(tmp_path / 'nope.lmdb')


def test_reader_pickles_before_and_after_opening(tmp_path):
    paths = _folder(tmp_path, 2)
    reader = LmdbImageReader(make_lmdb(paths, ['a', 'b'], tmp_path / 'x.lmdb'))
    fresh = pickle.loads(pickle.dumps(reader))
    expected = reader.read('b')                                  # opens the environment
    assert lmdb_io._ENVS[reader._identity][0] == os.getpid()
    clone = pickle.loads(pickle.dumps(reader))                   # an open lmdb.Environment would not pickle
    np.testing.assert_array_equal(clone.read('b'), expected)
    np.testing.assert_array_equal(fresh.read('b'), expected)
    reader.close()
    assert reader._identity not in lmdb_io._ENVS
    np.testing.assert_array_equal(clone.read('b'), expected)     # reopens after close
    clone.close()


def test_reader_reopens_in_a_forked_child(tmp_path):
    paths = _folder(tmp_path, 2)
    reader = LmdbImageReader(make_lmdb(paths, ['a', 'b'], tmp_path / 'x.lmdb'))
    reader.read('a')
    parent_env = lmdb_io._ENVS[reader._identity][1]
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:                                                 # child: must open its own environment
        try:
            ok = reader.read('b').shape == (27, 35, 3)
            ok = ok and lmdb_io._ENVS[reader._identity][0] == os.getpid()
            ok = ok and lmdb_io._ENVS[reader._identity][1] is not parent_env
        except BaseException:
            ok = False
        os.write(write_fd, b'1' if ok else b'0')
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read_fd, 1) == b'1'
    assert lmdb_io._ENVS[reader._identity] == (os.getpid(), parent_env)   # the parent's is untouched
    assert reader.read('b').shape == (27, 35, 3)
    reader.close()


def test_refuses_to_overwrite(tmp_path):
    paths = _folder(tmp_path, 2)
    make_lmdb(paths, ['a', 'b'], tmp_path / 'x.lmdb')
    with pytest.raises(FileExistsError, match=r'x\.lmdb: already exists'):
        make_lmdb(paths[:1], ['a'], tmp_path / 'x.lmdb')
    assert LmdbImageReader(tmp_path / 'x.lmdb').keys == ['a', 'b']
    make_lmdb(paths[:1], ['z'], tmp_path / 'x.lmdb', overwrite=True)
    assert LmdbImageReader(tmp_path / 'x.lmdb').keys == ['z']


def test_interrupted_build_leaves_nothing(tmp_path, monkeypatch):
    paths = _folder(tmp_path, 4)
    calls = []
    real = lmdb_io.encode_image

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    monkeypatch.setattr(lmdb_io, 'encode_image', flaky)
    with pytest.raises(KeyboardInterrupt):
        make_lmdb(paths, ['a', 'b', 'c', 'd'], tmp_path / 'x.lmdb', batch=1)   # two images already committed
    assert sorted(os.listdir(tmp_path)) == ['imgs']
    # A corrupt image is an error naming it, with the same clean result.
    monkeypatch.setattr(lmdb_io, 'encode_image', real)
    paths[1].write_bytes(b'junk')
    with pytest.raises(ValueError, match=r'img01\.png: cannot decode'):
        make_lmdb(paths, ['a', 'b', 'c', 'd'], tmp_path / 'x.lmdb')
    assert sorted(os.listdir(tmp_path)) == ['imgs']


def test_map_size(tmp_path):
    # Images of very different sizes: an estimate from the first (tiny) one would overflow.
    folder = tmp_path / 'imgs'
    rng = np.random.default_rng(1)
    paths = [folder / 'tiny.png', folder / 'big.png']
    write_image(paths[0], np.zeros((4, 4, 3), np.uint8))
    write_image(paths[1], rng.integers(0, 256, (700, 700, 3), dtype=np.uint8))   # ~1.5 MB of noise
    db = make_lmdb(paths, ['tiny', 'big'], tmp_path / 'auto.lmdb', compress_level=0)
    with lmdb.open(str(db), readonly=True, lock=False) as env:
        assert env.info()['map_size'] >= 1.5 * 700 * 700 * 3
    np.testing.assert_array_equal(LmdbImageReader(db).read('big'), read_image(paths[1]))
    with pytest.raises(ValueError, match=r'map_size 65536 bytes is too small'):
        make_lmdb(paths, ['tiny', 'big'], tmp_path / 'small.lmdb', map_size=1 << 16)
    assert not (tmp_path / 'small.lmdb').exists()


def test_bad_arguments(tmp_path):
    paths = _folder(tmp_path, 2)
    with pytest.raises(ValueError, match="must end with '.lmdb'"):
        make_lmdb(paths, ['a', 'b'], tmp_path / 'x')
    with pytest.raises(ValueError, match='2 images but 1 keys'):
        make_lmdb(paths, ['a'], tmp_path / 'x.lmdb')
    with pytest.raises(ValueError, match="bad key 'a.png'"):
        make_lmdb(paths, ['a.png', 'b'], tmp_path / 'x.lmdb')
    with pytest.raises(ValueError, match="duplicate key 'a'"):
        make_lmdb(paths, ['a', 'a'], tmp_path / 'x.lmdb')
    (tmp_path / 'bad.lmdb').mkdir()
    (tmp_path / 'bad.lmdb' / 'data.mdb').write_bytes(b'')
    (tmp_path / 'bad.lmdb' / 'meta_info.txt').write_text('a.png 1 2 3\n')
    with pytest.raises(ValueError, match=r'meta_info\.txt:1: expected'):
        LmdbImageReader(tmp_path / 'bad.lmdb')


def test_cli(tmp_path):
    _folder(tmp_path, 3)
    run = [sys.executable, '-m', 'common.lmdb_io', '--input', str(tmp_path / 'imgs'),
           '--output', str(tmp_path / 'o.lmdb')]
    kw = dict(capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert '--map_size' in subprocess.run(run[:3] + ['--help'], **kw).stdout
    done = subprocess.run(run, **kw)
    assert done.returncode == 0, done.stderr
    assert LmdbImageReader(tmp_path / 'o.lmdb').keys == ['img00', 'img01', 'img02']
    again = subprocess.run(run, **kw)
    assert again.returncode == 2
    assert again.stderr.count('\n') == 1 and again.stderr.startswith('error: ') and 'already exists' in again.stderr
    assert 'Traceback' not in again.stderr


@pytest.fixture(autouse=True)
def _close_environments():
    """Close what each test opened, so no environment outlives its temporary folder."""
    yield
    for pid, env in list(lmdb_io._ENVS.values()):
        if pid == os.getpid():
            env.close()
    lmdb_io._ENVS.clear()


def test_overwrite_only_replaces_an_image_lmdb(tmp_path):
    paths = _folder(tmp_path, 1)
    (tmp_path / 'notes.lmdb').mkdir()
    (tmp_path / 'notes.lmdb' / 'mine.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match=r'notes\.lmdb: not built by this tool: no meta_info\.txt in it'):
        make_lmdb(paths, ['a'], tmp_path / 'notes.lmdb', overwrite=True)
    (tmp_path / 'file.lmdb').write_text('keep me')
    with pytest.raises(FileExistsError, match=r'file\.lmdb: is a file, not built by this tool'):
        make_lmdb(paths, ['a'], tmp_path / 'file.lmdb', overwrite=True)
    assert (tmp_path / 'notes.lmdb' / 'mine.txt').read_text() == 'keep me'
    assert sorted(os.listdir(tmp_path)) == ['file.lmdb', 'imgs', 'notes.lmdb']


def test_environment_synced_before_close(tmp_path, monkeypatch):
    paths = _folder(tmp_path, 2)
    calls = []
    real_open = lmdb.open

    class Env:
        def __init__(self, env):
            self._env = env

        def __getattr__(self, name):
            return getattr(self._env, name)

        def sync(self, force=False):
            calls.append(('sync', force))
            return self._env.sync(force)

        def close(self):
            calls.append(('close',))
            return self._env.close()
    monkeypatch.setattr(lmdb, 'open', lambda *a, **k: Env(real_open(*a, **k)))
    make_lmdb(paths, ['a', 'b'], tmp_path / 'x.lmdb')
    assert calls == [('sync', True), ('close',)]


def test_a_damaged_database_is_one_error_naming_the_folder(tmp_path):
    paths = _folder(tmp_path, 2)
    good = make_lmdb(paths, ['a', 'b'], tmp_path / 'good.lmdb')
    garbage = tmp_path / 'garbage.lmdb'
    garbage.mkdir()
    (garbage / 'meta_info.txt').write_text('a.png (20,30,3) 1\n')
    (garbage / 'data.mdb').write_bytes(b'not an lmdb file' * 512)
    with pytest.raises(ValueError, match=rf'^{garbage}: data\.mdb is not a readable LMDB database \('):
        LmdbImageReader(garbage)
    short = tmp_path / 'short.lmdb'                   # a real database that lacks images meta_info.txt lists
    short.mkdir()
    (short / 'data.mdb').write_bytes((good / 'data.mdb').read_bytes())
    (short / 'meta_info.txt').write_text((good / 'meta_info.txt').read_text() + 'c.png (5,5,3) 1\n')
    with pytest.raises(ValueError, match=rf'^{short}: data\.mdb holds 2 images but meta_info\.txt lists 3'):
        LmdbImageReader(short)
    assert not lmdb_io._ENVS                          # the check closed what it opened
    assert LmdbImageReader(good).read('a').shape == (20, 30, 3)


def test_cli_refuses_an_output_inside_the_input(tmp_path):
    _folder(tmp_path, 2)
    kw = dict(capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    inside = tmp_path / 'imgs' / 'db.lmdb'
    proc = subprocess.run([sys.executable, '-m', 'common.lmdb_io', '--input', str(tmp_path / 'imgs'),
                           '--output', str(inside)], **kw)
    assert proc.returncode == 2
    assert proc.stderr == f'error: --output={inside} lies inside --input={tmp_path / "imgs"}; ' \
                          f'choose an output outside the source\n'
    assert sorted(os.listdir(tmp_path / 'imgs')) == ['img00.png', 'img01.png']


def test_cli_refuses_a_map_size_below_one(tmp_path, capsys):
    _folder(tmp_path, 1)
    with pytest.raises(SystemExit) as info:
        lmdb_io.main(['--input', str(tmp_path / 'imgs'), '--output', str(tmp_path / 'o.lmdb'), '--map_size', '-3'])
    assert info.value.code == 2
    assert capsys.readouterr().err == 'error: --map_size must be a positive number of bytes, got -3\n'
    assert sorted(os.listdir(tmp_path)) == ['imgs']
