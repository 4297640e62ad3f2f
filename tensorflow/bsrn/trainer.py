"""The training loop of train.py: graph, Session, restore/resume, steps, logs, summaries, checkpoints.

The run lives in ``--train_path`` (tfzoo.checkpoint.TFCheckpointDir: run identity, lock, commit order
that survives ``kill -9``). A checkpoint ``model.ckpt-{step}`` holds the generator, Adam's slots and
powers (the names of the authors' checkpoints) and ``train_state/global_step`` / ``train_state/seconds``.
Batch and scale of step k depend only on (--seed, k) and the learning rate on k, so a resumed run
ends with the uninterrupted run's weights.
"""
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm import tqdm

import flags
from common.fileio import atomic_write_bytes
from models.bsrn import build_training, count_parameters
from tfzoo.checkpoint import TFCheckpointDir, resolve_checkpoint, restore_variables
from tfzoo.cluster import Cluster, hccl_rank, write_ranks
from tfzoo.session import npu_available

tf.get_logger().setLevel('ERROR')
v1 = tf.compat.v1

__all__ = ['train', 'PREFIX', 'log_line']
PREFIX = 'model.ckpt'


def log(line):
    """One log line on stdout (above the progress bar, if any)."""
    tqdm.write(line, file=sys.stdout)
    sys.stdout.flush()


def log_line(step, scale, loss, duration, batch_size):
    """The Ascend port's training log line."""
    return f'step {step}, scale x{scale}, loss {loss:.6f}  sec/batch {duration:.3f} fps {batch_size / duration:.3f}'


def _graph(args, model, cluster=None, rank_size=1):
    graph = tf.Graph()
    with graph.as_default(), v1.device(cluster.device_setter() if cluster is not None else None):
        v1.set_random_seed(args.seed)
        ops = build_training(model, args.bsrn_learning_rate, args.bsrn_learning_rate_decay,
                             args.bsrn_learning_rate_decay_steps, args.bsrn_adam_epsilon, args.bsrn_clip_norm,
                             scales=args.scale_list, cluster=cluster, rank_size=rank_size)
        with v1.variable_scope('train_state'):
            ops['step_var'] = v1.get_variable('global_step', [], tf.int64, v1.zeros_initializer(), trainable=False)
            ops['seconds_var'] = v1.get_variable('seconds', [], tf.float64, v1.zeros_initializer(), trainable=False)
        ops['state_in'] = (v1.placeholder(tf.int64, []), v1.placeholder(tf.float64, []))
        ops['set_state'] = tf.group(ops['step_var'].assign(ops['state_in'][0]),
                                    ops['seconds_var'].assign(ops['state_in'][1]))
        every, ops['summary'] = model.frequency, {}
        scalar, image = tf.raw_ops.ScalarSummary, tf.raw_ops.ImageSummary    # tags as given, not uniquified
        for s in args.scale_list:                  # one writer per scale (x{s}/), the same tags in each
            scalars = [scalar(tags='loss/final', values=ops['loss'][s]),
                       scalar(tags='learning_rate', values=ops['lr'])]
            scalars += [scalar(tags=f'loss/recon_l1_m{(i + 1) * every}', values=l)
                        for i, l in enumerate(ops['losses'][s])]
            out = tf.cast(tf.clip_by_value(ops['outputs'][s][-1], 0, 255), tf.uint8)
            scalars.append(image(tag='output', tensor=out, max_images=1))
            ops['summary'][s] = v1.summary.merge(scalars)
        ops['saver'] = v1.train.Saver(max_to_keep=None)
        ops['init'] = v1.global_variables_initializer()
    return graph, ops


def train(args, data):
    """Train (or resume, or start from --restore_path); returns a summary dict.

    With ``TF_CONFIG`` (tfzoo.cluster, started by tensorflow/tfzoo/launch.py) this process is one task of
    a parameter-server cluster: a ``ps`` serves the variables; worker ``i`` trains on its shard of the
    images, and only the chief (worker 0) writes checkpoints, summaries and logs. On Ascend with
    ``RANK_SIZE`` > 1 (the ModelZoo's 8p scripts) the devices all-reduce over HCCL instead.
    """
    cluster = Cluster.from_env()
    if cluster is not None and cluster.task_type == 'ps':
        cluster.start(flags.session_config(args))
        cluster.serve()
    rank_size = int(os.environ.get('RANK_SIZE', '1'))
    restore = resolve_checkpoint(args.restore_path, '--restore_path') if args.restore_path else None
    if cluster is not None and not cluster.is_chief:
        return _train(args, data, None, restore, 1, cluster)
    ckpts = TFCheckpointDir(args.train_path, PREFIX, flag='--train_path', init_hint='--restore_path <checkpoint>')
    identity = {k: getattr(args, k) for k in flags_identity()}
    identity['dataset'] = data.fingerprint()
    if cluster is not None:
        identity['workers'] = cluster.num_workers
    ckpts.open(identity, resume=args.resume, overwrite=args.overwrite)
    try:
        arguments = {k: v for k, v in vars(args).items()}
        atomic_write_bytes(Path(args.train_path) / 'arguments.json',
                           (json.dumps(arguments, indent=2, default=str) + '\n').encode())
        summary = _train(args, data, ckpts, restore, 1 if cluster else rank_size, cluster)
        if args.record_ranks and summary['steps_run']:
            names = [data.names(s)[i] for s in args.scale_list
                     for i in data.shard(s, *((cluster.task_index, cluster.num_workers) if cluster else (0, 1)))]
            write_ranks(args.train_path, summary, args.batch_size, sorted(set(names)))
    except BaseException:
        ckpts.close(abandon=True)
        raise
    ckpts.close()
    return summary


def flags_identity():
    import train as train_module
    return train_module.IDENTITY_KEYS


def _train(args, data, ckpts, restore, rank_size, cluster=None):
    """The Session's work; ``ckpts`` is None on a cluster worker other than the chief."""
    if cluster is not None:
        shard = (cluster.task_index, cluster.num_workers)
    else:
        shard = hccl_rank() if rank_size > 1 and args.chip == 'npu' and npu_available() else (0, 1)
    for s in args.scale_list:                                    # every rank has images at every scale
        names = [data.names(s)[i] for i in data.shard(s, *shard)]
        if shard[1] > 1:
            log(f'rank {shard[0]} of {shard[1]}: x{s} shard of {len(names)} images: {" ".join(names)}')
    model = flags.model_from_args(args)
    graph, ops = _graph(args, model, cluster, shard[1] if cluster is None else 1)
    if cluster is not None:
        config = flags.session_config(args)
        cluster.start(config)
        sess = cluster.session(graph, config)
        if cluster.is_chief:
            log(f'global batch {args.batch_size * shard[1]} = --batch_size={args.batch_size} x {shard[1]} workers')
    else:
        sess = flags.session(args, graph)
    with sess, graph.as_default():
        done, seconds_before, writers = 0, 0.0, {}
        if ckpts is not None:
            sess.run(ops['init'])
            print(f"trainable parameters: {count_parameters(ops['weights'])}", flush=True)
            if ckpts.resumed:
                (done, seconds_before), _, _, path = ckpts.load_latest(lambda p: _restore_run(sess, ops, p))
                log(f'resuming from {TFCheckpointDir.prefix_of(path)} (global step {done})')
            elif restore is not None:
                state = set(v1.get_collection(v1.GraphKeys.GLOBAL_VARIABLES, scope='train_state'))
                candidates = ops['weights'] if args.restore_target == 'generator' else \
                    [v for v in v1.global_variables() if v not in state]
                names, _ = restore_variables(sess, restore, candidates, ops['weights'], flag='--restore_path')
                done = args.global_step
                log(f'restored {len(names)} variables from {restore}; starting at global step {done}')
            writers = {s: v1.summary.FileWriter(str(Path(args.train_path) / f'x{s}'), graph if i == 0 else None)
                       for i, s in enumerate(args.scale_list)}
            if cluster is not None:
                ops['averager'].release(sess, done)         # every worker may run step `done`
        try:
            return _loop(args, data, sess, ops, ckpts, writers, done, seconds_before, rank_size, shard)
        finally:
            for w in writers.values():
                w.close()


def _restore_run(sess, ops, index_path):
    TFCheckpointDir.restore(sess, ops['saver'], index_path)
    step, seconds = sess.run([ops['step_var'], ops['seconds_var']])
    named = int(Path(TFCheckpointDir.prefix_of(index_path)).name.rsplit('-', 1)[1])
    if int(step) != named:
        raise ValueError(f'{index_path}: stores global step {step}, its name says {named}')
    return int(step), float(seconds)


def _loop(args, data, sess, ops, ckpts, writers, done, seconds_before, rank_size, shard):
    """Steps until --max_steps. On a cluster each step first takes the chief's release, pushes this
    worker's gradients, and the chief applies their mean; logs, summaries and checkpoints are the chief's."""
    averager, chief = ops.get('averager'), ckpts is not None
    if averager is not None:
        done = averager.take(sess)
    begin, losses, per_scale, first_end = time.time(), [], {s: [0, 0.0] for s in args.scale_list}, None
    bar = tqdm(total=args.max_steps, initial=done, unit='step', disable=None if chief else True)
    step, loss = done, float('nan')
    if step * rank_size >= args.max_steps and chief:
        log(f'nothing to do: {step} of --max_steps={args.max_steps} steps already done')
    while step * rank_size < args.max_steps:
        scale, lr, hr = data.batch(step, args.seed, args.scale_list, args.batch_size, args.input_patch_size, shard)
        feed = {ops['input']: lr, ops['truth']: hr, ops['global_step']: step}
        count = step + 1
        with_summary = chief and count % args.summary_freq == 0
        first = ops['train'][scale] if averager is None else ops['push'][scale]
        fetches = [first, ops['loss'][scale]] + ([ops['summary'][scale]] if with_summary else [])
        start = time.time()
        out = sess.run(fetches, feed_dict=feed)
        if averager is not None and chief:
            sess.run(ops['apply'], {ops['global_step']: step})     # the mean of one gradient per worker
            averager.release(sess, count)
        duration = time.time() - start
        first_end = first_end or time.time()
        loss = float(out[1])
        per_scale[scale][0] += 1
        per_scale[scale][1] += duration
        step = count
        if chief:
            _after_step(args, sess, ops, ckpts, writers, out, count, scale, loss, duration, losses, rank_size,
                        seconds_before + time.time() - begin)
            bar.update()
        if args.sleep_ratio > 0:
            time.sleep(min(10.0, duration * args.sleep_ratio))
        if averager is not None:
            step = averager.take(sess)
    bar.close()
    seconds, end = time.time() - begin, time.time()
    steps = step - done
    ranks = shard[1]
    return {'steps_done_before': done, 'steps_run': steps, 'global_step': step, 'seconds': seconds,
            'seconds_total': seconds_before + seconds, 'workers': ranks, 'global_batch': args.batch_size * ranks,
            'images_per_sec': steps * args.batch_size * ranks / seconds if steps else 0.0,
            'images_per_sec_after_first': (steps - 1) * args.batch_size * ranks / (end - first_end) if steps > 1
            else None,
            'images_per_sec_by_scale': {f'x{s}': n * args.batch_size / t for s, (n, t) in per_scale.items() if n},
            'steps_by_scale': {f'x{s}': n for s, (n, _) in per_scale.items()},
            'final_loss': loss, 'losses': losses}


def _after_step(args, sess, ops, ckpts, writers, out, count, scale, loss, duration, losses, rank_size, seconds):
    """(chief) The divergence check, the log line, summaries and checkpoints of step ``count``."""
    if not math.isfinite(loss):
        raise ValueError(f'loss is {loss} at step {count}: training diverged (lower --bsrn_learning_rate '
                         f'or set --bsrn_clip_norm)')
    if count % args.summary_freq == 0:
        writers[scale].add_summary(out[2], count)
    if count % args.log_freq == 0:
        losses.append(loss)
        log(log_line(count, scale, loss, duration, args.batch_size))
    if count % args.save_freq == 0 or count * rank_size >= args.max_steps:
        sess.run(ops['set_state'], {ops['state_in'][0]: count, ops['state_in'][1]: seconds})
        ckpts.save_session(sess, ops['saver'], count, keep_max=args.save_max_keep)
