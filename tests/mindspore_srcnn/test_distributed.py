"""Data-parallel SRCNN with MindSpore's msrun: 2 processes on the CPU over 127.0.0.1.

The replicas end equal, each rank trains on its own shard of the mindrecord, the global batch is the
per-rank batch times the ranks, 2 processes equal 1 process with the doubled batch, a SIGKILLed
2-process job resumes from rank 0's checkpoint, and bad input is one line from every process.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from common import paths
from common.runs import epoch_order
from tests.cluster_runs import LATE_RANK, survivors

SCRIPTS = paths.REPO_ROOT / 'mindspore' / 'srcnn' / 'scripts'
CPU_SCRIPT = SCRIPTS / 'run_distribute_train_cpu.sh'
ENV = dict({k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}, PYTHON=sys.executable)
FLAGS = ['--epoch_size=2', '--batch_size=4', '--lr=0.002', '--save_checkpoint_steps=2', '--num_parallel_workers=1']
PATCHES = 44                                   # records_dir: two tiny photos, stride 11


@pytest.fixture(scope='module')
def records_dir(srcnn, tiny_images, tmp_path_factory):
    out = tmp_path_factory.mktemp('ddp_data') / 'mindrecord'
    srcnn.create_dataset.build_mindrecord(tiny_images, out, scale=2, patch_size=33, stride=11, progress=False)
    return out


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def launch(data, out, *flags, port=None, late=0, **popen):
    env = dict(ENV, MASTER_PORT=str(port or free_port()))
    if late:                      # msrun (and its `python`) come from the folder of $PYTHON: rank 1 late
        wrapper = Path(out).parent / 'late_bin' / 'python'
        wrapper.parent.mkdir(parents=True, exist_ok=True)
        wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {LATE_RANK} {late} "$@"\n')
        wrapper.chmod(0o755)
        (wrapper.parent / 'msrun').symlink_to(Path(sys.executable).with_name('msrun'))
        env['PYTHON'] = str(wrapper)
    cmd = ['bash', str(CPU_SCRIPT), '2', str(data), str(out), *FLAGS, *flags]
    if popen:
        return subprocess.Popen(cmd, env=env, **popen)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def error_lines(out):
    """The ``error:`` lines of each rank's log."""
    return [[line for line in log.read_text(errors='replace').splitlines() if line.startswith('error: ')]
            for log in sorted((out / 'msrun_log').glob('worker_*.log'))]


def weights(path):
    import mindspore as ms
    return {k: v.asnumpy() for k, v in ms.load_checkpoint(str(path)).items() if k != 'train_seconds'}


@pytest.fixture(scope='module')
def two_ranks(records_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp('ddp') / 'full'
    proc = launch(records_dir, out, '--record_ranks=True')
    assert proc.returncode == 0, proc.stdout + (out / 'train.log').read_text(errors='replace')[-3000:]
    return out


def test_the_group_size_comes_from_the_launcher(srcnn):
    planned = srcnn.distributed.planned_group
    on, off = SimpleNamespace(run_distribute=True), SimpleNamespace(run_distribute=False)
    assert planned(off, {'MS_WORKER_NUM': '4'}) == 1
    assert planned(on, {'MS_WORKER_NUM': '2', 'RANK_SIZE': '2'}) == 2          # msrun
    assert planned(on, {'RANK_SIZE': '8', 'RANK_TABLE_FILE': '/hccl_8p.json'}) == 8   # the Ascend rank-table script
    assert planned(on, {'OMPI_COMM_WORLD_SIZE': '4'}) == 4                      # mpirun (GPU script)
    with pytest.raises(ValueError, match='start one process per device with msrun'):
        planned(on, {})
    with pytest.raises(ValueError, match="MS_WORKER_NUM='two': expected the positive number"):
        planned(on, {'MS_WORKER_NUM': 'two'})


def test_replicas_equal_shards_differ_global_batch(two_ranks):
    log = (two_ranks / 'msrun_log' / 'worker_0.log').read_text(errors='replace')
    assert 'data parallel: rank 0 of 2; 2 ranks x batch_size 4 = global batch 8, 5 steps per epoch' in log
    rec = json.loads((two_ranks / 'ranks.json').read_text())
    assert rec['world_size'] == 2 and rec['batch_per_rank'] == 4 and rec['global_batch'] == 8 and rec['steps'] == 10
    r0, r1 = rec['ranks']
    assert (r0['rank'], r1['rank']) == (0, 1) and r0['weights_sha256'] == r1['weights_sha256']
    for epoch in (0, 1):
        s0, s1 = r0['patches'][epoch * 20:(epoch + 1) * 20], r1['patches'][epoch * 20:(epoch + 1) * 20]
        assert not set(s0) & set(s1)                                               # each rank its own shard
        assert sorted(s0 + s1) == sorted(epoch_order(PATCHES, 1, epoch)[:40])      # together: 5 global batches
    assert sorted(p.name for p in (two_ranks / 'ckpt_0').glob('*.ckpt'))[-1] == 'srcnn-2_5.ckpt'
    assert not list(two_ranks.glob('ckpt_1*'))                                     # checkpoints from rank 0 only


def test_two_processes_equal_one_with_the_doubled_batch(srcnn, two_ranks, records_dir, tmp_path, run_main):
    args = dict(flag[2:].split('=') for flag in FLAGS)
    run_main(srcnn.train, dict(args, batch_size=8, data_path=records_dir, output_path=tmp_path))
    one, two = weights(tmp_path / 'ckpt_0' / 'srcnn-2_5.ckpt'), weights(two_ranks / 'ckpt_0' / 'srcnn-2_5.ckpt')
    assert sorted(one) == sorted(two)
    for key in one:
        np.testing.assert_allclose(two[key], one[key], rtol=1e-5, atol=1e-7, err_msg=key)


def test_a_killed_job_resumes_from_the_last_checkpoint(two_ranks, records_dir, tmp_path):
    """SIGKILL to the whole job (msrun, its scheduler and both workers) in epoch 2; the resumed 2-process
    job ends with the uninterrupted job's weights and Adam moments."""
    out = tmp_path / 'killed'
    proc = launch(records_dir, out, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and not (out / 'ckpt_0' / 'srcnn-2_1.ckpt').exists():
        time.sleep(0.05)
    assert proc.poll() is None, 'the job ended before it could be killed'
    job = survivors(str(out))                  # msrun puts its workers in process groups of their own
    assert len(job) >= 4                       # bash, msrun, the scheduler, 2 workers
    for pid in job:
        os.kill(pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 30
    while survivors(str(out)) and time.time() < deadline:
        time.sleep(0.2)
    assert survivors(str(out)) == []
    assert not (out / 'ckpt_0' / 'srcnn-2_5.ckpt').exists()
    resumed = launch(records_dir, out, '--resume=True')
    assert resumed.returncode == 0, resumed.stdout + (out / 'train.log').read_text(errors='replace')[-3000:]
    logs = [p.read_text(errors='replace') for p in sorted((out / 'msrun_log').glob('worker_*.log'))]
    assert all('resuming from' in log for log in logs)
    a, b = weights(two_ranks / 'ckpt_0' / 'srcnn-2_5.ckpt'), weights(out / 'ckpt_0' / 'srcnn-2_5.ckpt')
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=0, atol=1e-7, err_msg=key)


def test_more_ranks_than_shards_is_one_line_from_every_rank(records_dir, tmp_path):
    out = tmp_path / 'out'                      # rank 1 starts 3 s late: rank 0 waits for its line
    proc = launch(records_dir, out, '--batch_size=32', late=3)
    line = ('error: 2 ranks x --batch_size=32 = global batch 64 is more than the 44 patches of '
            f'--data_path={records_dir}: every rank needs its own shard; use fewer ranks, a smaller --batch_size '
            'or more data')
    assert proc.returncode == 1 and proc.stdout.strip().splitlines() == [line]
    assert error_lines(out) == [[line], [line]]
    assert survivors(str(out)) == [] and not (out / 'ckpt_0').exists()


def test_a_port_in_use_and_a_missing_rank_table(records_dir, tmp_path):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        s.listen()
        port = s.getsockname()[1]
        proc = launch(records_dir, tmp_path / 'out', port=port)
    assert proc.returncode == 1 and proc.stdout.strip().splitlines() == [
        f'error: MASTER_PORT={port}: 127.0.0.1:{port} is in use; choose a free port with MASTER_PORT=']
    assert not (tmp_path / 'out').exists()
    table = tmp_path / 'hccl_2p.json'
    proc = subprocess.run(['bash', str(SCRIPTS / 'run_distribute_train_ascend.sh'), str(records_dir), str(tmp_path / 'o'),
                           '0', '2', str(table)], env=ENV, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stdout.strip().splitlines() == [f'error: RANK_TABLE_FILE={table} is not a file']
