"""Data-parallel BSRN on a real parameter-server cluster (tfzoo/launch.py: 1 ps + 2 workers on 127.0.0.1).

One multi-scale run (each worker draws its own scale and patches every step, gradients clipped per
worker as the reference clips them) is killed by SIGKILL to worker 1 after step 8 and resumed. Its
final variables must be those of a single process that applies, at every step, the mean of the two
workers' clipped gradients computed from their own batches (up to float order): every update
aggregated both workers.
"""
import json
import re

import numpy as np
import pytest
import tensorflow as tf

from common import paths
from tests.cluster_runs import check_killed_then_resumed, drift_report, killed_then_resumed, training_mismatches
from tests.tensorflow_bsrn.conftest import tiny_argv

TRAIN = paths.REPO_ROOT / 'tensorflow' / 'bsrn' / 'train.py'
STEPS = 24
v1 = tf.compat.v1


def _argv(tiny_data, train_path):
    return tiny_argv(tiny_data, train_path, max_steps=STEPS, log_freq=4, save_freq=4, summary_freq=8,
                     bsrn_clip_norm=0.5, record_ranks=True)


@pytest.fixture(scope='module')
def resumed(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp('bsrn_cluster')
    argv = _argv(tiny_data, out / 'train')
    return (out, *killed_then_resumed([TRAIN, *argv], out, kill_at='step 8,'))


def test_killed_worker_stops_every_task_and_the_run_resumes(resumed):
    out, killed, again = resumed
    check_killed_then_resumed(killed, again, r'model\.ckpt-(\d+)', STEPS)
    assert f'step {STEPS}, scale x' in again.output and (out / 'train' / f'model.ckpt-{STEPS}.index').exists()


def test_each_worker_trains_on_its_own_shard_with_the_global_batch(resumed):
    out = resumed[0]
    logs = [(out / 'logs_resumed' / f'worker_{i}.log').read_text() for i in (0, 1)]
    for s in (2, 3, 4):
        shards = [set(re.search(rf'rank {i} of 2: x{s} shard of \d+ images: (.*)', text).group(1).split())
                  for i, text in enumerate(logs)]
        assert shards == [{'0001', '0003'}, {'0002', '0004'}], s
    assert 'global batch 8 = --batch_size=4 x 2 workers' in logs[0]
    ranks = json.loads((out / 'train' / 'ranks.json').read_text())
    assert (ranks['world_size'], ranks['batch_per_rank'], ranks['global_batch']) == (2, 4, 8)
    assert ranks['ranks'][0]['shard'] == ['0001', '0003'] and ranks['images_per_sec'] > 0
    assert 'scale x' not in logs[1]                   # logs, summaries and checkpoints: the chief only


def _one_process(bsrn, args, data, drop=False, double=False):
    """A single process that applies, at every step, Adam on the mean of the two workers' clipped
    gradients, each from its own batch: (its weights, Adam's moments and powers under the checkpoint's
    names; their initial values). ``drop``: worker 0's gradient only (worker 1's lost); ``double``: two
    Adam steps per step."""
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(args.seed)
        ops = bsrn.net.build_training(bsrn.flags.model_from_args(args), args.bsrn_learning_rate,
                                      args.bsrn_learning_rate_decay, args.bsrn_learning_rate_decay_steps,
                                      args.bsrn_adam_epsilon, scales=args.scale_list)
        weights = ops['weights']
        grads = {}
        for s in args.scale_list:                       # one worker's clipped gradients at scale s
            grads[s] = [tf.clip_by_norm(tf.zeros_like(w) if g is None else g, args.bsrn_clip_norm)
                        for g, w in zip(tf.gradients(ops['loss'][s], weights), weights)]
        mean_in = [v1.placeholder(tf.float32, w.shape) for w in weights]
        opt = v1.train.AdamOptimizer(ops['lr'], epsilon=args.bsrn_adam_epsilon)
        apply = opt.apply_gradients(zip(mean_in, weights))
        init = v1.global_variables_initializer()
        names = [w.op.name for w in weights]
        tracked = dict(zip(names, weights))           # the checkpoint's names for this optimizer's variables
        for n, w in zip(names, weights):
            tracked[f'{n}/Adam'], tracked[f'{n}/Adam_1'] = opt.get_slot(w, 'm'), opt.get_slot(w, 'v')
        powers = {v.op.name.split('_power')[0] + '_power': v for v in opt.variables() if '_power' in v.op.name}
        assert sorted(powers) == ['beta1_power', 'beta2_power']
        tracked.update(powers)
    with v1.Session(graph=graph, config=bsrn.session.session_config(npu=False, intra_op_threads=1)) as sess:
        sess.run(init)
        initial = dict(zip(tracked, sess.run(list(tracked.values()))))
        for k in range(STEPS):
            parts = []
            for rank in (0, 1):
                scale, lr, hr = data.batch(k, args.seed, args.scale_list, args.batch_size, args.input_patch_size,
                                           (rank, 2))
                parts.append(sess.run(grads[scale], {ops['input']: lr, ops['truth']: hr}))
            feed = {p: a if drop else (a + b) / np.float32(2) for p, a, b in zip(mean_in, *parts)}
            feed[ops['global_step']] = k
            for _ in range(2 if double else 1):
                sess.run(apply, feed)
        return dict(zip(tracked, sess.run(list(tracked.values())))), initial


def test_every_update_is_the_mean_of_both_workers_clipped_gradients(bsrn, tiny_data, resumed):
    """The cluster's last checkpoint holds the single process's weights, Adam moments and powers,
    within a tolerance relative to how far training moved them (tests/cluster_runs.drift: float order
    differs between CPUs, the mathematics does not). The same check rejects a training whose worker-1
    gradients were dropped and one that took two steps per step."""
    out = resumed[0]
    args = bsrn.train.build_parser().parse_args(_argv(tiny_data, out / 'unused'))
    bsrn.train.check_args(args)
    data = bsrn.train.load_data(args)
    assert bsrn.flags.model_from_args(args).num_outputs == 2
    want, initial = _one_process(bsrn, args, data)
    reader = tf.train.load_checkpoint(str(out / 'train' / f'model.ckpt-{STEPS}'))
    got = {name: reader.get_tensor(name) for name in want}
    assert training_mismatches(got, want, initial) == [], drift_report(got, want, initial)
    for bug in ({'drop': True}, {'double': True}):
        wrong, _ = _one_process(bsrn, args, data, **bug)
        assert training_mismatches(wrong, want, initial), (bug, drift_report(wrong, want, initial))
