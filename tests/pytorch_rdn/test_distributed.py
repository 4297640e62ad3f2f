"""Data parallel RDN on torch.distributed: 2 processes started by torchrun on the CPU (gloo over 127.0.0.1).

The replicas end equal, each rank trains on its own shard, the global batch is the per-rank batch times
the ranks, 2 processes equal 1 process with the doubled batch, a SIGKILLed 2-process run resumes
exactly, and bad input is one line from every process; the HCCL/NCCL branches by the plan they build.
"""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from common import paths
from common.runs import epoch_order
from tests.cluster_runs import LATE_RANK, kill_rank0_when, survivors

RDN_DIR = paths.REPO_ROOT / 'pytorch' / 'rdn'
TRAIN_PY = RDN_DIR / 'train.py'
TORCHRUN = [sys.executable, '-m', 'torch.distributed.run']
ENV = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH='',
           PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
SAMPLES = 12                                     # 3 training images x --dataset_enlarge_ratio=4


@pytest.fixture(scope='module')
def dist():
    import importlib
    return importlib.import_module('torchzoo.dist')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def flags(data, out, batch, *extra):
    return [f'--datapath={data}', '--preset=bench', '--upscale_factor=4', f'--batchSize={batch}', '--patch_size=32',
            '--threads=0', '--tensorboard=False', '--device=cpu', '--amp=fp32', '--dataset_enlarge_ratio=4',
            '--nEpochs=2', '--save_checkpoint_steps=2', '--seed=3', f'--output_path={out}', *extra]


def torchrun(nproc, port, *args, log_dir=None, late=0):
    logs = [f'--log-dir={log_dir}', '--redirects=3'] if log_dir else []
    script = [str(LATE_RANK), str(late), str(TRAIN_PY)] if late else [str(TRAIN_PY)]
    return TORCHRUN + [f'--nproc-per-node={nproc}', '--master-addr=127.0.0.1', f'--master-port={port}', *logs,
                       *script, *args]


def ckpt(out, name):
    return torch.load(out / 'ckpt' / 'RDN' / name, weights_only=True)


@pytest.fixture(scope='module')
def two_ranks(tiny_data, tmp_path_factory, zoo_copy):
    """An uninterrupted 2-process run by test/train_full_8p.sh --device_num=2 (torchrun, gloo): 2 epochs of
    3 global steps of 2 x 2 samples. Returns the output folder, the script's log and its case folder."""
    base = tmp_path_factory.mktemp('ddp')
    zoo, out = zoo_copy(base), base / 'full'
    train_flags = [f for f in flags(tiny_data.ref, out, 2, '--record_ranks')
                   if not f.startswith(('--datapath', '--batchSize', '--nEpochs'))]
    proc = subprocess.run(['bash', str(zoo / 'test' / 'train_full_8p.sh'), f'--data_path={tiny_data.ref}',
                           '--device_num=2', '--batch_size=2', '--train_epochs=2', f'--master_port={free_port()}',
                           *train_flags], env=dict(ENV, ASCEND_DEVICE_ID='0'), capture_output=True, text=True,
                          timeout=300)
    cases = zoo / 'test' / 'output' / '0'
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, (cases / 'train_0.log').read_text(), cases


# --- the configuration each device gets ------------------------------------------------------------

def test_plan_per_device(dist):
    env = {'RANK': '5', 'WORLD_SIZE': '8', 'LOCAL_RANK': '5', 'MASTER_ADDR': '10.0.0.1', 'MASTER_PORT': '29500'}
    npu, cuda, cpu = (dist.plan_from_env(d, env) for d in ('npu:0', 'cuda:0', 'cpu'))
    assert (npu.backend, npu.device_name) == ('hccl', 'npu:5')
    assert (cuda.backend, cuda.device_name) == ('nccl', 'cuda:5')
    assert (cpu.backend, cpu.device) == ('gloo', torch.device('cpu'))
    assert npu.distributed and npu.master == '10.0.0.1:29500' and 'rank 5 of 8' in npu.describe()
    single = dist.plan_from_env('cpu', {})
    assert not single.distributed and single.backend is None and single.world_size == 1
    with pytest.raises(ValueError, match='need 0 <= RANK < WORLD_SIZE'):
        dist.plan_from_env('cpu', {'RANK': '2', 'WORLD_SIZE': '2'})


def test_rank_shards_partition_each_global_batch(dist):
    order = lambda e: list(epoch_order(10, 7, e))            # noqa: E731
    a, b = (dist.RankShardSampler(order, 10, 2, r, 2) for r in (0, 1))
    assert a.steps_per_epoch == 2 and len(a) == 4              # 10 // (2 x 2): the incomplete last batch is dropped
    for epoch in (0, 1):
        keys = order(epoch)
        assert a.shard(epoch) == keys[0:2] + keys[4:6] and b.shard(epoch) == keys[2:4] + keys[6:8]
    a.set_epoch(1, 1)
    assert list(a) == order(1)[4:6] and len(a) == 2
    dist.check_shards(8, 2, 2)
    with pytest.raises(ValueError, match=r'2 ranks x --batchSize=5 = global batch 10 is more than the 8'):
        dist.check_shards(8, 5, 2)


def test_port_check(dist):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        s.listen()
        port = s.getsockname()[1]
        assert 'is in use' in dist.port_problem('127.0.0.1', port)
    assert dist.port_problem('127.0.0.1', free_port()) is None


# --- 2 processes on the CPU ----------------------------------------------------------------------

def test_replicas_equal_shards_differ_global_batch(two_ranks):
    out, stdout, _ = two_ranks
    assert '===> data parallel: 2 ranks x batchSize 2 = global batch 4, 3 steps per epoch (gloo on cpu' in stdout
    assert stdout.count('Namespace(') == 1 and stdout.count('===> Epoch[2](3/3)') == 1      # rank 0 prints alone
    rec = json.loads((out / 'ranks.json').read_text())
    assert rec['world_size'] == 2 and rec['batch_per_rank'] == 2 and rec['global_batch'] == 4 and rec['steps'] == 6
    r0, r1 = rec['ranks']
    assert (r0['rank'], r1['rank']) == (0, 1) and r0['weights_sha256'] == r1['weights_sha256']
    for epoch in (0, 1):
        s0 = [i for e, i in r0['samples'] if e == epoch]
        s1 = [i for e, i in r1['samples'] if e == epoch]
        assert len(s0) == len(s1) == 6 and not set(s0) & set(s1) and sorted(s0 + s1) == list(range(SAMPLES))
    state = ckpt(out, 'rdn-2_3.pth')
    assert state['global_step'] == 6 and not any(k.startswith('module.') for k in state['model'])
    assert sorted(p.name for p in (out / 'ckpt' / 'RDN').glob('*.pth')) == [
        'rdn-1_2.pth', 'rdn-1_3.pth', 'rdn-2_1.pth', 'rdn-2_3.pth']


def test_two_processes_equal_one_with_the_doubled_batch(two_ranks, tiny_data, tmp_path):
    """Loss means over equal per-rank batches, averaged gradients: the steps of one global batch of 4.
    After one epoch (3 Adam steps) the weights agree to float rounding (ReLU/Adam amplify it later)."""
    out, _, _ = two_ranks
    one = subprocess.run([sys.executable, str(TRAIN_PY), *flags(tiny_data.ref, tmp_path, 4, '--max_steps=3')],
                         env=ENV, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr
    a, b = ckpt(tmp_path, 'rdn-1_3.pth'), ckpt(out, 'rdn-1_3.pth')
    assert a['global_step'] == b['global_step'] == 3
    for key in a['model']:
        torch.testing.assert_close(b['model'][key], a['model'][key], rtol=1e-4, atol=2e-5, msg=key)
    np.testing.assert_allclose(b['history']['loss'], a['history']['loss'], rtol=1e-5)


def test_sigkill_of_a_rank_then_resume_equals_the_uninterrupted_run(two_ranks, tiny_data, tmp_path):
    """SIGKILL rank 0 in epoch 2, after its step-4 checkpoint: torchrun stops the other rank and fails;
    a 2-process --resume then ends with exactly the uninterrupted run's weights, moments and losses."""
    full, _, _ = two_ranks
    out = tmp_path / 'killed'
    proc = subprocess.Popen(torchrun(2, free_port(), *flags(tiny_data.ref, out, 2)), env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    kill_rank0_when(proc, str(out), lambda line: line.startswith('===> Epoch[2](2/3)'))  # rdn-2_1 (step 4) written
    names = sorted(p.name for p in (out / 'ckpt' / 'RDN').glob('*.pth'))
    assert 'rdn-2_1.pth' in names and 'rdn-2_3.pth' not in names
    resumed = subprocess.run(torchrun(2, free_port(), *flags(tiny_data.ref, out, 2, '--resume=True')), env=ENV,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'resuming from' in resumed.stdout and 'global step 4)' in resumed.stdout
    a, b = ckpt(full, 'rdn-2_3.pth'), ckpt(out, 'rdn-2_3.pth')
    for key in a['model']:
        assert torch.equal(a['model'][key], b['model'][key]), key
    for pa, pb in zip(a['optimizer']['state'].values(), b['optimizer']['state'].values()):
        assert torch.equal(pa['exp_avg'], pb['exp_avg']) and torch.equal(pa['exp_avg_sq'], pb['exp_avg_sq'])
    assert a['scheduler'] == b['scheduler'] and a['history']['loss'] == b['history']['loss']


# --- bad input: one line from every process, exit non-zero, nothing left running -------------------

def test_more_ranks_than_shards_is_one_line_from_every_rank(tiny_data, tmp_path):
    out = tmp_path / 'out'                                  # rank 1 starts 3 s late: rank 0 waits for its line
    proc = subprocess.run(torchrun(2, free_port(), *flags(tiny_data.ref, out, 8), log_dir=tmp_path / 'logs', late=3),
                          env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    errs = sorted((tmp_path / 'logs').glob('*/attempt_0/*/stderr.log'))
    assert len(errs) == 2
    for err in errs:
        assert err.read_text().strip().splitlines() == [
            'error: 2 ranks x --batchSize=8 = global batch 16 is more than the 12 training samples per epoch: every '
            'rank needs its own shard; use fewer ranks, a smaller --batchSize or more data'], err
    assert survivors(str(out)) == [] and not (out / 'ckpt').exists()


def test_a_refused_run_folder_is_the_same_line_on_every_rank(two_ranks, tiny_data, tmp_path):
    full, _, _ = two_ranks                                     # rank 0 opens the folder; the others hear why not
    proc = subprocess.run(torchrun(2, free_port(), *flags(tiny_data.ref, full, 2), log_dir=tmp_path / 'logs'),
                          env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    lines = [err.read_text().strip().splitlines() for err in sorted((tmp_path / 'logs').glob('*/attempt_0/*/stderr.log'))]
    assert len(lines) == 2 and lines[0] == lines[1] and len(lines[0]) == 1
    assert lines[0][0].startswith('error: ') and 'pass --resume=True to continue it' in lines[0][0]


def test_8p_script_case_files_and_a_port_in_use(two_ranks, tiny_data, tmp_path, zoo_copy):
    _, log, cases = two_ranks
    assert 'Namespace(upscale_factor=4' in log and "npu_script=True" in log        # train_npu.py under torchrun
    case = dict(line.split(' = ') for line in (cases / 'rdn_bs2_2p_acc.log').read_text().splitlines())
    assert case['RankSize'] == '2' and case['BatchSize'] == '2' and float(case['ActualFPS']) > 0
    assert len((cases / 'rdn_bs2_2p_acc_loss.txt').read_text().split()) == 2            # two finished epochs
    zoo = zoo_copy(tmp_path)
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        s.listen()
        port = s.getsockname()[1]
        busy = subprocess.run(['bash', str(zoo / 'test' / 'train_full_8p.sh'), f'--data_path={tiny_data.ref}',
                               '--device_num=2', f'--master_port={port}'], env=ENV, capture_output=True, text=True,
                              timeout=120)
    assert busy.returncode == 1 and busy.stdout == '' and busy.stderr.strip().splitlines() == [
        f'error: --master_port={port}: port 127.0.0.1:{port} is in use (Address already in use); free it or choose '
        f'another']
    assert not (zoo / 'test' / 'output').exists()


def test_the_scaling_doc_is_rendered_from_its_record():
    """docs/scaling.md's 1- vs 2-process table is tools.bench_scaling's rendering of the committed record."""
    from common import records
    from tools import bench_scaling
    record = records.load_record(paths.REPO_ROOT / 'results' / 'scaling_bench.json')
    doc = (paths.REPO_ROOT / 'docs' / 'scaling.md').read_text()
    block = doc[doc.index(bench_scaling.BEGIN) + len(bench_scaling.BEGIN):doc.index(bench_scaling.END)]
    assert block.strip() == bench_scaling.render(record).strip()
    for model, runs in record['speed'].items():          # TensorFlow's parameter server holds one copy: None
        want = None if bench_scaling.BENCHES[model][0] == 'tensorflow' else True
        assert [run['replicas_equal'] for run in runs] == [want, want], model
    assert [run['processes'] for run in record['speed']['rdn']] == [1, 2]
