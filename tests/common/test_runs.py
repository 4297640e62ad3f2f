"""common.runs: seeded epoch order, run identity, the folder lock, atomic checkpoints with fallback."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from common.runs import CheckpointDir, RunError, epoch_order, make_output_dir


def test_epoch_order_depends_on_seed_and_epoch_only():
    a = epoch_order(100, seed=1, epoch=3)
    assert sorted(a.tolist()) == list(range(100))
    np.testing.assert_array_equal(a, epoch_order(100, seed=1, epoch=3))
    assert not np.array_equal(a, epoch_order(100, seed=1, epoch=4))
    assert not np.array_equal(a, epoch_order(100, seed=2, epoch=3))


def write_bytes(data):
    return lambda path: path.write_bytes(data)


def test_a_fresh_run_writes_its_identity_and_checkpoints(tmp_path):
    with CheckpointDir(tmp_path / 'ckpt', 'net') as ckpts:
        run = ckpts.open({'lr': 0.1, 'seed': 1})
        for step in range(1, 5):
            ckpts.save(1, step, write_bytes(b'w%d' % step), keep_max=2)
    stored = json.loads((tmp_path / 'ckpt' / 'run.json').read_text())
    assert stored == run and stored['identity'] == {'lr': 0.1, 'seed': 1}
    assert [p.name for _, _, p in CheckpointDir(tmp_path / 'ckpt', 'net').checkpoints()] == ['net-1_3.ckpt', 'net-1_4.ckpt']


def test_checkpoints_sort_by_epoch_then_step(tmp_path):
    ckpts = CheckpointDir(tmp_path, 'net')
    for name in ('net-2_10.ckpt', 'net-10_1.ckpt', 'net-2_9.ckpt', 'other-99_1.ckpt', 'net-3_1.ckpt.bak'):
        (tmp_path / name).write_bytes(b'x')
    assert [(e, s) for e, s, _ in ckpts.checkpoints()] == [(2, 9), (2, 10), (10, 1)]


def test_identity_rules(tmp_path):
    folder = tmp_path / 'ckpt'
    with CheckpointDir(folder, 'net') as ckpts:
        ckpts.open({'lr': 0.1})
        ckpts.save(1, 1, write_bytes(b'w'))
    with pytest.raises(RunError, match=r'holds run \w+ of .* \(1 checkpoint\(s\)\); pass --resume=True'):
        CheckpointDir(folder, 'net').open({'lr': 0.1})
    with pytest.raises(RunError, match=r"--lr=0.2 differs from the resumed run's 0.1"):
        CheckpointDir(folder, 'net').open({'lr': 0.2}, resume=True)
    with pytest.raises(RunError, match='exclude each other'):
        CheckpointDir(folder, 'net').open({'lr': 0.1}, resume=True, overwrite=True)
    with CheckpointDir(folder, 'net') as ckpts:
        assert ckpts.open({'lr': 0.1}, resume=True)['identity'] == {'lr': 0.1} and ckpts.resumed
    with CheckpointDir(folder, 'net') as ckpts:
        ckpts.open({'lr': 0.3}, overwrite=True)
        assert ckpts.checkpoints() == []
    with pytest.raises(RunError, match='no checkpoint'):
        CheckpointDir(tmp_path / 'empty', 'net').open({}, resume=True)
    assert not (tmp_path / 'empty').exists()


def test_foreign_checkpoints_without_identity_are_not_resumed(tmp_path):
    (tmp_path / 'net-1_5.ckpt').write_bytes(b'w')
    with pytest.raises(RunError, match='checkpoints without run.json .*--pre_trained_path'):
        CheckpointDir(tmp_path, 'net').open({}, resume=True)
    with pytest.raises(RunError, match=r'holds checkpoints \(1 checkpoint\(s\)\)'):
        CheckpointDir(tmp_path, 'net').open({})


def test_the_newest_readable_checkpoint_is_loaded(tmp_path):
    warnings = []
    with CheckpointDir(tmp_path, 'net') as ckpts:
        ckpts.open({})
        ckpts.save(1, 5, write_bytes(b'good'))
        ckpts.save(2, 5, write_bytes(b'trunc'))

        def read(path):
            data = path.read_bytes()
            if data == b'trunc':
                raise ValueError('truncated')
            return data
        state, epoch, step, path = ckpts.load_latest(read, warn=warnings.append)
    assert (state, epoch, step, path.name) == (b'good', 1, 5, 'net-1_5.ckpt')
    assert warnings == [f'warning: {tmp_path / "net-2_5.ckpt"}: unreadable checkpoint (truncated); trying the previous one']


def test_a_failed_write_leaves_no_checkpoint_and_orphans_are_removed(tmp_path):
    def crash(path):
        path.write_bytes(b'half')
        raise OSError('disk full')
    with CheckpointDir(tmp_path, 'net') as ckpts:
        ckpts.open({})
        with pytest.raises(OSError, match='disk full'):
            ckpts.save(1, 1, crash)
        assert ckpts.checkpoints() == [] and not [p for p in tmp_path.iterdir() if '.tmp' in p.name]
    orphan = tmp_path / '.net-1_2.999.abcd1234.tmp.ckpt'
    orphan.write_bytes(b'half')
    with CheckpointDir(tmp_path, 'net') as ckpts:
        ckpts.open({}, overwrite=True)
    assert not orphan.exists()


def test_an_abandoned_fresh_run_removes_what_it_made(tmp_path):
    folder = tmp_path / 'out' / 'ckpt'
    with pytest.raises(ZeroDivisionError):
        with CheckpointDir(folder, 'net') as ckpts:
            ckpts.open({})
            1 / 0
    assert not folder.exists()


def test_the_lock_is_released_by_sigkill(tmp_path):
    script = ('import sys, time; from common.runs import CheckpointDir; '
              'c = CheckpointDir(sys.argv[1], "net"); c.open({}); print("locked", flush=True); time.sleep(60)')
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    proc = subprocess.Popen([sys.executable, '-c', script, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == 'locked'
        with pytest.raises(RunError, match=rf'another training \(pid {proc.pid}\) is writing here'):
            CheckpointDir(tmp_path, 'net').open({}, overwrite=True)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    time.sleep(0.05)
    with CheckpointDir(tmp_path, 'net') as ckpts:
        ckpts.open({}, overwrite=True)


def test_make_output_dir_names_the_flag(tmp_path):
    assert make_output_dir(tmp_path / 'a' / 'b', '--out').is_dir()
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    with pytest.raises(RunError, match=f'--out={blocker}: is a file, expected a folder'):
        make_output_dir(blocker, '--out')
    with pytest.raises(RunError, match=f'--out={blocker / "x"}: cannot create it, {blocker} is a file, not a folder'):
        make_output_dir(blocker / 'x', '--out')


def test_weights_digest_sees_names_shapes_dtypes_and_bytes():
    from common.runs import weights_digest
    a = [('w', np.arange(6, dtype=np.float32).reshape(2, 3)), ('b', np.zeros(3, np.float32))]
    base = weights_digest(a)
    assert weights_digest([(k, v.copy()) for k, v in a]) == base
    assert weights_digest([('v', a[0][1]), a[1]]) != base                         # a name
    assert weights_digest([('w', a[0][1].reshape(3, 2)), a[1]]) != base           # a shape
    assert weights_digest([('w', a[0][1].astype(np.float64)), a[1]]) != base      # a dtype
    bumped = a[0][1].copy()
    bumped[1, 2] = np.nextafter(bumped[1, 2], np.float32(10))
    assert weights_digest([('w', bumped), a[1]]) != base                          # one ulp of one weight


def test_write_ranks_is_one_json_with_the_global_batch(tmp_path):
    import json
    from common.runs import write_ranks
    path = write_ranks(tmp_path, 2, 4, 10, 12.5, [{'rank': 0}, {'rank': 1}], weights='replicas')
    rec = json.loads(path.read_text())
    assert rec == {'world_size': 2, 'batch_per_rank': 4, 'global_batch': 8, 'steps': 10, 'images_per_sec': 12.5,
                   'weights': 'replicas', 'ranks': [{'rank': 0}, {'rank': 1}]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ['ranks.json']
