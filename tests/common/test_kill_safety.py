"""A real ``kill -9`` leaves nothing that looks valid and nothing stale (make_lmdb, save_record).

Each test starts ``kill_target.py`` in a fresh interpreter, waits until it reports the point where it
blocks (a hook patched into the child only), SIGKILLs it, then checks that the final name holds
nothing, the complete old result or the complete new one (every LMDB key decoded, the JSON parsed),
never a partial one, and that the next normal call removes the dead process's leftovers and succeeds.
"""
import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from common import lmdb_io, records
from common.imgio import read_image, write_image
from common.lmdb_io import LmdbImageReader, make_lmdb

KILL_TARGET = Path(__file__).with_name('kill_target.py')


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    """{'old': [2 paths], 'new': [5 paths]}: small distinct PNGs."""
    folder = tmp_path_factory.mktemp('kill_images')
    rng = np.random.default_rng(3)
    out = {}
    for kind, n in (('old', 2), ('new', 5)):
        out[kind] = []
        for i in range(n):
            out[kind].append(folder / f'{kind}{i}.png')
            write_image(out[kind][-1], rng.integers(0, 256, (12 + i, 16, 3), dtype=np.uint8))
    return out


def _kill_at(point, target, *args):
    """Run the child until it reports ``point``, SIGKILL it, reap it; return its (now dead) pid."""
    proc = subprocess.Popen([sys.executable, str(KILL_TARGET), point, str(target), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, TQDM_DISABLE='1'))
    ready, _, _ = select.select([proc.stdout], [], [], 300)    # a cold start on a loaded machine is slow
    line = proc.stdout.readline().strip() if ready else ''
    if line != f'READY {point}':
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f'kill_target.py {point}: expected "READY {point}", got {line!r} (stderr: {err[-2000:]})')
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return proc.pid


def _lmdb_state(target, images):
    """'absent', 'old' or 'new' for what stands at ``target``; fails on anything partial."""
    if not target.exists():
        return 'absent'
    reader = LmdbImageReader(target)
    try:
        for kind, prefix in (('old', 'o'), ('new', 'n')):
            expected = {f'{prefix}{i}': p for i, p in enumerate(images[kind])}
            if reader.keys == list(expected):
                for key, path in expected.items():
                    np.testing.assert_array_equal(reader.read(key), read_image(path))
                env = reader._environment()
                assert env.stat()['entries'] == len(expected), f'{target}: extra or missing LMDB entries'
                return kind
        pytest.fail(f'{target}: holds keys {reader.keys}, neither the complete old nor the new database')
    finally:
        reader.close()


def _leftovers(folder, pid):
    return sorted(p.name for p in folder.iterdir() if f'-{pid}-' in p.name or f'.{pid}.' in p.name)


def _old_db(target, images):
    make_lmdb(images['old'], [f'o{i}' for i in range(len(images['old']))], target)


@pytest.mark.parametrize('point, existing, expected', [
    ('lmdb-writing', False, 'absent'),
    ('lmdb-writing', True, 'old'),
    ('lmdb-complete', False, 'absent'),
    ('lmdb-complete', True, 'old'),
    ('lmdb-swapped', True, 'new'),
    ('lmdb-fallback', True, 'absent'),   # without renameat2 there is a moment with nothing at the name
])
def test_make_lmdb_killed(tmp_path, images, point, existing, expected):
    target = tmp_path / 'x.lmdb'
    if existing:
        _old_db(target, images)
    pid = _kill_at(point, target, *images['new'])
    assert _lmdb_state(target, images) == expected
    left = _leftovers(tmp_path, pid)
    assert [name.split('-')[0] for name in left] == (['.x.lmdb.building', '.x.lmdb.old'] if point == 'lmdb-fallback'
                                                     else ['.x.lmdb.building']), left
    if point in ('lmdb-swapped', 'lmdb-fallback'):         # the old database survives under a temp name
        survivor = LmdbImageReader(tmp_path / left[-1])
        assert survivor.keys == ['o0', 'o1']
        survivor.close()
    make_lmdb(images['new'], [f'n{i}' for i in range(5)], target, overwrite=True)   # the next run
    assert _lmdb_state(target, images) == 'new'
    assert sorted(os.listdir(tmp_path)) == ['x.lmdb']
    assert not lmdb_io._ENVS                              # every reader above was closed


def _record(model):
    return records.new_record(model, 'none', '', 'bench', 'kill test', config={'n': 1})


@pytest.mark.parametrize('point, existing, expected', [
    ('record-before', True, 'old'),
    ('record-before', False, None),
    ('record-after', True, 'new'),
])
def test_save_record_killed(tmp_path, point, existing, expected):
    target = tmp_path / 'r.json'
    if existing:
        records.save_record(_record('old'), target)
    (tmp_path / '.other.json.1.0badcafe.tmp').write_text('')   # a live pid's (init's) temp: kept
    pid = _kill_at(point, target)
    if expected is None:
        assert not target.exists()
    else:
        assert records.load_record(target)['model'] == expected
        json.loads(target.read_text())
    left = _leftovers(tmp_path, pid)
    assert (len(left) == 1 and left[0].startswith('.r.json.')) if point == 'record-before' else not left
    records.save_record(_record('next'), target)                                    # the next run
    assert records.load_record(target)['model'] == 'next'
    assert sorted(os.listdir(tmp_path)) == ['.other.json.1.0badcafe.tmp', 'r.json']
