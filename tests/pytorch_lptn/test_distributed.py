"""LPTN data parallel: ``--launcher pytorch`` under torchrun, 2 processes on the CPU (gloo over 127.0.0.1).

The replicas of both networks end equal, each rank trains on its own shard, the global batch is the
per-rank batch times the ranks, a SIGKILLed 2-process run resumes exactly with ``--auto_resume``, and
bad input is one line from every process. (No equality with one process at the doubled batch: the
gradient penalty draws its mixing factors per rank.)
"""
import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from common import paths
from tests.cluster_runs import LATE_RANK, kill_rank0_when, survivors as _jobs
from tests.pytorch_lptn.conftest import LPTN_DIR, TRAIN_YML, fast_overrides

TRAIN_PY = LPTN_DIR / 'train.py'
ENV = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH='')


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _cmd(root, out, *extra, batch=2, log_dir=None, late=0):
    logs = [f'--log-dir={log_dir}', '--redirects=3'] if log_dir else []
    script = [str(LATE_RANK), str(late), str(TRAIN_PY)] if late else [str(TRAIN_PY)]
    return [sys.executable, '-m', 'torch.distributed.run', '--nproc-per-node=2', '--master-addr=127.0.0.1',
            f'--master-port={_free_port()}', *logs, *script, '-opt', str(TRAIN_YML), '--root', str(out),
            '--launcher', 'pytorch', '--force_yml', *fast_overrides(root, iters=6), 'logger.save_checkpoint_freq=2',
            'datasets.train.dataset_enlarge_ratio=4', f'datasets.train.batch_size_per_gpu={batch}', 'manual_seed=3',
            *extra]


def _state(out, name):
    return torch.load(out / 'experiments' / 'tiny' / 'training_states' / name, weights_only=True)


@pytest.fixture(scope='module')
def two_ranks(tiny_fivek, tmp_path_factory):
    out = tmp_path_factory.mktemp('lptn_ddp') / 'full'
    proc = subprocess.run(_cmd(tiny_fivek.root, out, '--record_ranks'), env=ENV, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return out, proc.stdout


def test_replicas_equal_shards_differ_global_batch(two_ranks):
    out, stdout = two_ranks
    exp = out / 'experiments' / 'tiny'
    rec = json.loads((exp / 'ranks.json').read_text())
    assert rec['world_size'] == 2 and rec['batch_per_rank'] == 2 and rec['global_batch'] == 4 and rec['steps'] == 6
    r0, r1 = rec['ranks']
    assert r0['weights_sha256'] == r1['weights_sha256']                 # generator and critic alike
    for epoch in (0, 1):                                                 # 12 samples: 3 global batches of 4
        s0 = [i for e, i in r0['samples'] if e == epoch]
        s1 = [i for e, i in r1['samples'] if e == epoch]
        assert len(s0) == len(s1) == 6 and not set(s0) & set(s1) and len(set(s0 + s1)) == 12
    assert stdout.count('World size (gpu number): 2') == 1               # rank 0 alone logs
    assert len(list(exp.glob('train_tiny_*.log'))) == 1
    state = _state(out, 'lptn-2_3.state')
    assert state['iter'] == 6 and not any(k.startswith('module.') for k in state['model']['net_g'])


def test_sigkill_of_a_rank_then_auto_resume_equals_the_uninterrupted_run(two_ranks, tiny_fivek, tmp_path):
    full, _ = two_ranks
    out = tmp_path / 'killed'
    proc = subprocess.Popen(_cmd(tiny_fivek.root, out), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    kill_rank0_when(proc, str(out), lambda line: 'iter:       5,' in line)    # lptn-2_1 (iteration 4) is on disk
    states = out / 'experiments' / 'tiny' / 'training_states'
    assert (states / 'lptn-2_1.state').is_file() and not (states / 'lptn-2_3.state').exists()
    resumed = subprocess.run(_cmd(tiny_fivek.root, out, '--auto_resume'), env=ENV, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'Resuming training from epoch: 2, iter: 4' in resumed.stdout
    a, b = _state(full, 'lptn-2_3.state'), _state(out, 'lptn-2_3.state')
    for net in ('net_g', 'net_d'):
        for key, value in a['model'][net].items():
            assert torch.equal(value, b['model'][net][key]), (net, key)
    for oa, ob in zip(a['model']['optimizers'], b['model']['optimizers']):
        for sa, sb in zip(oa['state'].values(), ob['state'].values()):
            assert torch.equal(sa['exp_avg'], sb['exp_avg']) and torch.equal(sa['exp_avg_sq'], sb['exp_avg_sq'])


def test_more_ranks_than_shards_is_one_line_from_every_rank(tiny_fivek, tmp_path):
    out = tmp_path / 'out'                                  # rank 1 starts 3 s late: rank 0 waits for its line
    proc = subprocess.run(_cmd(tiny_fivek.root, out, batch=8, log_dir=tmp_path / 'logs', late=3), env=ENV,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    errs = sorted((tmp_path / 'logs').glob('*/attempt_0/*/stderr.log'))
    assert len(errs) == 2
    for err in errs:
        assert err.read_text().strip().splitlines() == [
            'error: 2 ranks x datasets.train.batch_size_per_gpu=8 = global batch 16 is more than the 12 training '
            'samples per epoch: every rank needs its own shard; use fewer ranks, a smaller '
            'datasets.train.batch_size_per_gpu or more data'], err
    assert _jobs(str(out)) == [] and not (out / 'experiments').exists()


def test_the_launcher_needs_torchrun(lptn):
    with pytest.raises(ValueError, match=r'--launcher=pytorch: start the processes with torchrun'):
        lptn.options.parse(TRAIN_YML, 'train', launcher='pytorch')
    with pytest.raises(ValueError, match=r'--launcher=slurm: not supported'):
        lptn.options.parse(TRAIN_YML, 'train', launcher='slurm')
    opt = lptn.options.parse(TRAIN_YML, 'train', launcher='none')
    assert not opt['dist'] and opt['dist_params'] == {'backend': 'nccl', 'port': 29500}
