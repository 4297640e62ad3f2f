"""BSRN's part of train.py's training: graph, batches, summaries and the log line (tfzoo.trainer runs it).

The run lives in ``--train_path`` (tfzoo.checkpoint.TFCheckpointDir: run identity, lock, commit order
that survives ``kill -9``). A checkpoint ``model.ckpt-{step}`` holds the generator, Adam's slots and
powers (the names of the authors' checkpoints) and ``train_state/global_step`` / ``train_state/seconds``.
Batch and scale of step k depend only on (--seed, k) and the learning rate on k, so a resumed run
ends with the uninterrupted run's weights. The lifecycle (run folder, resume, checkpoints, the
parameter-server cluster, ranks.json) is tfzoo.trainer's, shared with RCAN.
"""
import json
import os
import time
from pathlib import Path

import tensorflow as tf

import flags
from common.fileio import atomic_write_bytes
from models.bsrn import build_training, count_parameters
from tfzoo.checkpoint import resolve_checkpoint, restore_variables
from tfzoo.cluster import hccl_rank
from tfzoo.session import npu_available
from tfzoo.trainer import FolderSnapshot, Recipe, TrainOps, TrainState, log, train as run_training

tf.get_logger().setLevel('ERROR')
v1 = tf.compat.v1

__all__ = ['train', 'BSRNTraining', 'PREFIX', 'IDENTITY_KEYS', 'log_line']
PREFIX = 'model.ckpt'

# Flags that define a training run: a resume must use the same values (common.runs.CheckpointDir).
IDENTITY_KEYS = ('dataloader', 'scales', 'batch_size', 'input_patch_size', 'bsrn_model_scales',
                 'bsrn_conv_features', 'bsrn_state_features', 'bsrn_recursions', 'bsrn_recursion_frequency',
                 'bsrn_rgb_mean', 'bsrn_learning_rate', 'bsrn_learning_rate_decay',
                 'bsrn_learning_rate_decay_steps', 'bsrn_adam_epsilon', 'bsrn_clip_norm', 'seed')


def log_line(step, scale, loss, duration, batch_size):
    """The Ascend port's training log line."""
    return f'step {step}, scale x{scale}, loss {loss:.6f}  sec/batch {duration:.3f} fps {batch_size / duration:.3f}'


def train(args, data):
    """Train (or resume, or start from --restore_path) with tfzoo.trainer; returns a summary dict.

    With ``TF_CONFIG`` (tfzoo.cluster, started by tensorflow/tfzoo/launch.py) this process is one task of
    a parameter-server cluster: a ``ps`` serves the variables; worker ``i`` trains on its shard of the
    images, and only the chief (worker 0) writes checkpoints, summaries and logs. On Ascend with
    ``RANK_SIZE`` > 1 (the ModelZoo's 8p scripts) the devices all-reduce over HCCL instead, and each
    trains ``--max_steps / RANK_SIZE`` steps.
    """
    return run_training(BSRNTraining(args, data))


class BSRNTraining(Recipe):
    """BSRN's part of a training (tfzoo.trainer.Recipe): a scale and a batch per step, per-scale
    summaries in ``--train_path/x{s}``, the Ascend port's log line.

    Args:
        args (argparse.Namespace): train.py's checked flags.
        data (dataloaders.base_loader.PairedLoader): The training pairs of every scale.
    """

    prefix, folder_flag, init_hint = PREFIX, '--train_path', '--restore_path <checkpoint>'
    divergence_hint = 'lower --bsrn_learning_rate or set --bsrn_clip_norm'

    def __init__(self, args, data):
        self.args, self.data, self.folder = args, data, args.train_path
        self.identity = {k: getattr(args, k) for k in IDENTITY_KEYS}
        self.identity['dataset'] = data.fingerprint()
        self.resume, self.overwrite, self.record_ranks = args.resume, args.overwrite, args.record_ranks
        self.seed, self.batch_size, self.steps_flag = args.seed, args.batch_size, f'--max_steps={args.max_steps}'
        self.log_freq, self.save_freq, self.keep_max = args.log_freq, args.save_freq, args.save_max_keep
        self.rank_size, self.last_step, self.restore = 1, args.max_steps, None
        self.ops, self.writers, self.added = {}, {}, None
        self.per_scale = {s: [0, 0.0] for s in args.scale_list}     # steps and seconds at each scale

    def session_config(self):
        return flags.session_config(self.args)

    def prepare(self):
        if self.cluster is None:                 # Ascend HCCL: the steps are shared by RANK_SIZE devices
            self.rank_size = int(os.environ.get('RANK_SIZE', '1'))
        self.last_step = -(-self.args.max_steps // self.rank_size)
        if self.args.restore_path:
            self.restore = resolve_checkpoint(self.args.restore_path, '--restore_path')

    def local_shard(self):
        npu = self.rank_size > 1 and self.args.chip == 'npu' and npu_available()
        return hccl_rank() if npu else (0, 1)

    def use_shard(self):
        rank, ranks = self.shard
        for s in self.args.scale_list:                           # every rank has images at every scale
            names = [self.data.names(s)[i] for i in self.data.shard(s, rank, ranks)]
            if ranks > 1:
                log(f'rank {rank} of {ranks}: x{s} shard of {len(names)} images: {" ".join(names)}')

    def opened(self):
        self.added = FolderSnapshot(self.args.train_path)     # the run folder, locked: what is added is ours
        arguments = dict(vars(self.args))
        atomic_write_bytes(Path(self.args.train_path) / 'arguments.json',
                           (json.dumps(arguments, indent=2, default=str) + '\n').encode())

    def build(self, rank_size):
        args = self.args
        model = flags.model_from_args(args)
        ops = self.ops = build_training(model, args.bsrn_learning_rate, args.bsrn_learning_rate_decay,
                                        args.bsrn_learning_rate_decay_steps, args.bsrn_adam_epsilon,
                                        args.bsrn_clip_norm, scales=args.scale_list, cluster=self.cluster,
                                        rank_size=rank_size)
        state = TrainState()
        step = ops['train'] if self.cluster is None else ops['push']
        return TrainOps(ops['global_step'], ops['loss'], step, _summaries(args, model, ops), state,
                        apply=ops.get('apply'), averager=ops.get('averager'))

    def started(self, sess):
        print(f"trainable parameters: {count_parameters(self.ops['weights'])}", flush=True)

    def start_from(self, sess):
        if self.restore is None:
            return 0
        state = set(v1.get_collection(v1.GraphKeys.GLOBAL_VARIABLES, scope='train_state'))
        candidates = self.ops['weights'] if self.args.restore_target == 'generator' else \
            [v for v in v1.global_variables() if v not in state]
        names, _ = restore_variables(sess, self.restore, candidates, self.ops['weights'], flag='--restore_path')
        log(f'restored {len(names)} variables from {self.restore}; starting at global step {self.args.global_step}')
        return self.args.global_step

    def begin(self, sess, graph, done):
        for i, s in enumerate(self.args.scale_list):             # one writer per scale, the graph in the first
            self.writers[s] = v1.summary.FileWriter(str(Path(self.args.train_path) / f'x{s}'),
                                                    graph if i == 0 else None)

    def end(self):
        for writer in self.writers.values():
            writer.close()

    def discard(self):
        if self.added is not None:
            self.added.remove_added()                         # arguments.json, the x{s} summaries

    def batch(self, step):
        args = self.args
        scale, lr, hr = self.data.batch(step, args.seed, args.scale_list, args.batch_size, args.input_patch_size,
                                        self.shard)
        return scale, {self.ops['input']: lr, self.ops['truth']: hr, self.ops['global_step']: step}

    def summary_due(self, count):
        return count % self.args.summary_freq == 0

    def write_summary(self, summary, count, key):
        self.writers[key].add_summary(summary, count)

    def log_step(self, sess, count, key, loss, seconds):
        log(log_line(count, key, loss, seconds, self.args.batch_size))

    def stepped(self, key, seconds):
        self.per_scale[key][0] += 1
        self.per_scale[key][1] += seconds
        if self.args.sleep_ratio > 0:                            # the reference's pause after each step
            time.sleep(min(10.0, seconds * self.args.sleep_ratio))

    def result(self):
        batch = self.args.batch_size
        return {'images_per_sec_by_scale': {f'x{s}': n * batch / t for s, (n, t) in self.per_scale.items() if n},
                'steps_by_scale': {f'x{s}': n for s, (n, _) in self.per_scale.items()}}

    def shard_names(self):
        return sorted({self.data.names(s)[i] for s in self.args.scale_list for i in self.data.shard(s, *self.shard)})


def _summaries(args, model, ops):
    """Per scale: the merged summary of the final and intermediate losses, the learning rate and one
    output image (written to ``x{s}/``, so every scale has the same tags)."""
    every, merged = model.frequency, {}
    scalar, image = tf.raw_ops.ScalarSummary, tf.raw_ops.ImageSummary    # tags as given, not uniquified
    for s in args.scale_list:
        scalars = [scalar(tags='loss/final', values=ops['loss'][s]), scalar(tags='learning_rate', values=ops['lr'])]
        scalars += [scalar(tags=f'loss/recon_l1_m{(i + 1) * every}', values=l)
                    for i, l in enumerate(ops['losses'][s])]
        out = tf.cast(tf.clip_by_value(ops['outputs'][s][-1], 0, 255), tf.uint8)
        scalars.append(image(tag='output', tensor=out, max_images=1))
        merged[s] = v1.summary.merge(scalars)
    return merged
