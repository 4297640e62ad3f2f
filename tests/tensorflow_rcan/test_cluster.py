"""Data-parallel RCAN on a real parameter-server cluster (tfzoo/launch.py: 1 ps + 2 workers on 127.0.0.1).

One run is killed (SIGKILL to worker 1) after its checkpoint at step 8 and resumed; its final weights
and Adam moments must be those of one process trained on the doubled batch (worker 0's batch, then
worker 1's), up to float order, which holds only if every update averaged exactly one gradient of each
worker.
"""
import json
import os
import re
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from common import paths
from tests.cluster_runs import (LATE_RANK, TF_LAUNCH, alive, check_killed_then_resumed, killed_then_resumed,
                                drift_report, tf_cluster, training_mismatches)
from tests.tensorflow_rcan.conftest import tiny_argv

MAIN = paths.REPO_ROOT / 'tensorflow' / 'rcan' / 'main.py'
STEPS = 40
v1 = tf.compat.v1


@pytest.fixture(scope='module')
def resumed(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp('rcan_cluster')
    argv = ['--mode=train', *tiny_argv(tiny_data, out / 'model', max_step=STEPS, log_freq=4, model_save_freq=4,
                                       record_ranks=True)]
    return (out, *killed_then_resumed([MAIN, *argv], out, kill_at='8 training step completed'))


def test_killed_worker_stops_every_task_and_the_run_resumes(resumed):
    out, killed, again = resumed
    check_killed_then_resumed(killed, again, r'RCAN_X2_16_1_2-(\d+)', STEPS)
    assert f'{STEPS} training step completed' in again.output
    assert (out / 'model' / f'RCAN_X2_16_1_2-{STEPS}.index').exists()


def test_each_worker_trains_on_its_own_shard_with_the_global_batch(resumed):
    out, _, again = resumed
    chief = (out / 'logs_resumed' / 'worker_0.log').read_text()
    other = (out / 'logs_resumed' / 'worker_1.log').read_text()
    shards = [set(re.search(rf'worker {i} of 2: shard of \d+ images: (.*)', text).group(1).split())
              for i, text in ((0, chief), (1, other))]
    assert shards == [{'0001x2.png', '0003x2.png'}, {'0002x2.png', '0004x2.png'}]
    assert 'global batch 8 = --batch_size=4 x 2 workers' in chief
    ranks = json.loads((out / 'model' / 'ranks.json').read_text())
    assert (ranks['world_size'], ranks['batch_per_rank'], ranks['global_batch']) == (2, 4, 8)
    assert ranks['ranks'][0]['shard'] == ['0001x2.png', '0003x2.png'] and ranks['images_per_sec'] > 0
    assert 'training step completed' not in other                  # logs and checkpoints: the chief only


def _one_process(rcan, args, samplers, drop=False, double=False):
    """A single process trained STEPS steps on [worker 0's batch k; worker 1's batch k] at step k:
    (its variables but train_state, their initial values). ``drop``: on worker 0's batch only (worker
    1's gradient lost); ``double``: two Adam steps per step."""
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(args.seed)
        model = rcan.RCA_net.RCA_net(args).build_graph(training=True)
        trained = [v for v in v1.global_variables() if not v.op.name.startswith('train_state')]
        init = v1.global_variables_initializer()
    names = [v.op.name for v in trained]
    with v1.Session(graph=graph, config=rcan.session.session_config(npu=False, intra_op_threads=1)) as sess:
        sess.run(init)
        initial = dict(zip(names, sess.run(trained)))
        for k in range(STEPS):
            (a_lr, a_gt), (b_lr, b_gt) = samplers[0].batch(k), samplers[1].batch(k)
            feed = {model.LR: a_lr if drop else np.concatenate([a_lr, b_lr]),
                    model.GT: a_gt if drop else np.concatenate([a_gt, b_gt]), model.global_step: k}
            for _ in range(2 if double else 1):
                sess.run(model.train, feed)
        return dict(zip(names, sess.run(trained))), initial


def test_two_workers_train_as_one_process_with_the_doubled_batch(rcan, tiny_data, resumed):
    """Every variable of the cluster's last checkpoint (weights, Adam's moments and powers) is the one
    of a single process that trains on [worker 0's batch k; worker 1's batch k] at each step k, within
    a tolerance relative to how far training moved it (tests/cluster_runs.drift: float order differs
    between CPUs, the mathematics does not). The same check rejects a training whose worker-1 gradients
    were dropped and one that took two steps per step."""
    out = resumed[0]
    args = rcan.main.build_parser().parse_args(['--mode=train', *tiny_argv(tiny_data, out / 'unused')])
    pairs = rcan.data_loader.PairedImages(args.train_LR_path, args.train_GT_path, 2, patch_size=args.patch_size)
    samplers = [rcan.data_loader.PatchSampler(pairs, args.patch_size, args.batch_size, args.seed,
                                              args.dataset_enlarge_ratio, shard=(r, 2)) for r in (0, 1)]
    want, initial = _one_process(rcan, args, samplers)
    reader = tf.train.load_checkpoint(str(out / 'model' / f'RCAN_X2_16_1_2-{STEPS}'))
    assert set(want) <= set(reader.get_variable_to_shape_map())
    got = {name: reader.get_tensor(name) for name in want}
    assert training_mismatches(got, want, initial) == [], drift_report(got, want, initial)
    for bug in ({'drop': True}, {'double': True}):
        wrong, _ = _one_process(rcan, args, samplers, **bug)
        assert training_mismatches(wrong, want, initial), (bug, drift_report(wrong, want, initial))


def test_a_killed_launcher_takes_every_task_with_it(tiny_data, tmp_path):
    argv = ['--mode=train', *tiny_argv(tiny_data, tmp_path / 'model', max_step=100000, log_freq=4)]
    run = tf_cluster(2, tmp_path / 'logs', [MAIN, *argv], tmp_path, kill_at='4 training step completed',
                     kill_task='launcher')
    assert run.killed and run.returncode == -9
    time.sleep(1)                          # the kernel delivers the parent-death signal
    assert not any(alive(pid) for pid in run.pids.values())


def test_port_in_use_is_one_line(tmp_path):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        s.listen()
        port = s.getsockname()[1]
        run = subprocess.run([sys.executable, str(TF_LAUNCH), f'--port={port}', f'--log_dir={tmp_path}', '--',
                              sys.executable, str(MAIN)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and not list(tmp_path.iterdir())
    assert run.stderr.strip() == (f'error: launch.py ps 0 (--port={port}): port 127.0.0.1:{port} is in use '
                                  f'(Address already in use); free it or choose another')


def test_more_workers_than_images_stops_every_task(tiny_data, tmp_path):
    one = tmp_path / 'one'
    for sub, name in (('HR', '0001.png'), ('LR', '0001x2.png')):
        (one / sub).mkdir(parents=True)
        src = tiny_data / ('DIV2K_train_HR' if sub == 'HR' else 'DIV2K_train_LR_bicubic/X2') / name
        (one / sub / name).write_bytes(src.read_bytes())
    argv = ['--mode=train', *tiny_argv(tiny_data, tmp_path / 'model', train_GT_path=one / 'HR',
                                       train_LR_path=one / 'LR', batch_size=1, dataset_enlarge_ratio=1)]
    run = tf_cluster(2, tmp_path / 'logs', [LATE_RANK, 3, MAIN, *argv], tmp_path)   # worker 1 starts 3 s late
    assert run.returncode == 1 and 'stopping the cluster' in run.output
    for task in ('worker_0', 'worker_1'):
        text = (tmp_path / 'logs' / f'{task}.log').read_text()
        assert f'error: --train_LR_path={one / "LR"} holds 1 images, fewer than the 2 ranks' in text
    assert not any(alive(pid) for pid in run.pids.values()) and not (tmp_path / 'model').exists()


def test_bad_tf_config_is_one_line(tiny_data, tmp_path):
    env = dict(os.environ, TF_CONFIG=json.dumps({'cluster': {'worker': ['127.0.0.1:1']}, 'task': {'type': 'worker'}}))
    run = subprocess.run([sys.executable, str(MAIN), '--mode=train', *tiny_argv(tiny_data, tmp_path / 'model')],
                         capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert run.returncode == 2 and run.stderr.strip().splitlines()[-1] == \
        'error: TF_CONFIG: cluster.ps must be a non-empty list of "host:port" strings'


def test_hccl_rank_table_and_optimizer(rcan, tmp_path, monkeypatch):
    cluster = rcan.cluster
    assert cluster.hccl_rank({}) == (0, 1)
    with pytest.raises(ValueError, match='^RANK_SIZE=8 needs RANK_TABLE_FILE'):
        cluster.hccl_rank({'RANK_SIZE': '8', 'RANK_ID': '3'})
    with pytest.raises(ValueError, match=f'^RANK_TABLE_FILE={tmp_path}/no.json: no such file'):
        cluster.hccl_rank({'RANK_SIZE': '8', 'RANK_ID': '3', 'RANK_TABLE_FILE': str(tmp_path / 'no.json')})
    table = tmp_path / 'rank_table_8p.json'
    table.write_text('{}')
    assert cluster.hccl_rank({'RANK_SIZE': '8', 'RANK_ID': '3', 'RANK_TABLE_FILE': str(table)}) == (3, 8)
    wrapped = []

    class NPUDistributedOptimizer:                 # what npu_bridge provides on Ascend
        def __init__(self, opt):
            wrapped.append(opt)

    import types
    for name in ('npu_bridge', 'npu_bridge.estimator', 'npu_bridge.estimator.npu'):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    fake = types.ModuleType('npu_bridge.estimator.npu.npu_optimizer')
    fake.NPUDistributedOptimizer = NPUDistributedOptimizer
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    adam = object()
    assert cluster.hccl_optimizer(adam, 1) is adam and not wrapped
    assert isinstance(cluster.hccl_optimizer(adam, 8), NPUDistributedOptimizer) and wrapped == [adam]
