"""The one TF1 training lifecycle of the zoo's TensorFlow models (RCAN, BSRN).

A model describes its training as a :class:`Recipe` (its graph, its batches, its log lines, its run
folder and flags); :func:`train` runs it the same way for every model:

1. With ``TF_CONFIG`` (tfzoo.cluster, started by tfzoo/launch.py) this process is one task of a
   parameter-server cluster: a ``ps`` serves the variables and never returns; worker ``i`` trains on
   its shard of the data, and only the chief (worker 0) writes the run folder, summaries and logs.
2. The chief opens the run folder (tfzoo.checkpoint.TFCheckpointDir: run identity, lock, commit
   order that survives ``kill -9``); a failure before the first checkpoint leaves no run behind.
3. The graph is built under the run's seed (and the cluster's device setter), then a Session.
4. The chief initialises the variables, then resumes the newest readable checkpoint of the run, or
   lets the model start from another checkpoint (fine-tuning).
5. Steps until the recipe's last one: a batch from the recipe (a pure function of the seed and the
   step), one Session run (on a cluster: this worker's gradients pushed, the chief applying the mean
   of one gradient per worker, :class:`tfzoo.cluster.SyncAverager`), the divergence check, summaries
   and log lines when due, and a checkpoint every ``save_freq`` steps and at the last step (with
   ``train_state/global_step`` and ``train_state/seconds``, :class:`TrainState`). The divergence
   check stops the run on a loss that is not finite, and before every save on weights that are not
   (the last step's update can break them after a finite loss), so no NaN checkpoint is written.
6. With ``record_ranks``: ``ranks.json`` in the run folder (common.runs.write_ranks).
7. A fresh run that fails before its first checkpoint leaves nothing behind: the model removes what
   it wrote (:meth:`Recipe.discard`), then the run folder goes if this run created it.

The ModelZoo summary (``{CaseName}.log``) is written by the models' shell scripts from the log lines.
"""
import math
import os
import shutil
import sys
import time
from pathlib import Path

import tensorflow as tf
from tqdm import tqdm

from common.runs import write_ranks
from tfzoo.checkpoint import TFCheckpointDir
from tfzoo.cluster import Cluster

__all__ = ['Recipe', 'TrainOps', 'TrainState', 'train', 'log', 'FolderSnapshot']

v1 = tf.compat.v1


def log(line):
    """Print one log line on stdout (above the progress bar, if one is shown)."""
    tqdm.write(line, file=sys.stdout)
    sys.stdout.flush()


class FolderSnapshot:
    """What a folder holds before a run writes into it, so that a failed run can remove what it added.

    Args:
        folder (str | Path): The folder (need not exist yet).
        match (callable | None): Only entries whose name it accepts count as this run's (for a folder
            that other processes may write into at the same time). Default: None (every entry: a
            folder this run holds the lock of).
    """

    def __init__(self, folder, match=None):
        self.folder, self.match = Path(folder), match or (lambda name: True)
        self.created = [p for p in (self.folder, *self.folder.parents) if not p.exists()]
        self.names = set(os.listdir(self.folder)) if self.folder.is_dir() else set()

    def remove_added(self):
        """Remove the entries added since the snapshot, then the folders it created if they are empty."""
        if self.folder.is_dir():
            for name in sorted(set(os.listdir(self.folder)) - self.names):
                path = self.folder / name
                if self.match(name):
                    shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        for folder in self.created:
            try:
                folder.rmdir()
            except OSError:
                break


class TrainState:
    """``train_state/global_step`` and ``train_state/seconds``: what a checkpoint holds besides the
    model's variables, so that a resume knows where it is. Build it in the training graph."""

    def __init__(self):
        with v1.variable_scope('train_state'):
            self.step = v1.get_variable('global_step', [], tf.int64, v1.zeros_initializer(), trainable=False)
            self.seconds = v1.get_variable('seconds', [], tf.float64, v1.zeros_initializer(), trainable=False)
        self._values = (v1.placeholder(tf.int64, []), v1.placeholder(tf.float64, []))
        self._assign = tf.group(self.step.assign(self._values[0]), self.seconds.assign(self._values[1]))

    def set(self, sess, step, seconds):
        """Store the global step and the seconds trained (before a save)."""
        sess.run(self._assign, {self._values[0]: int(step), self._values[1]: float(seconds)})

    def restore(self, sess, saver, index_path):
        """Restore a checkpoint of this run; returns (global step, seconds trained).

        Raises:
            ValueError: The stored step is not the one in the checkpoint's name.
        """
        TFCheckpointDir.restore(sess, saver, index_path)
        step, seconds = sess.run([self.step, self.seconds])
        named = int(Path(TFCheckpointDir.prefix_of(index_path)).name.rsplit('-', 1)[1])
        if int(step) != named:
            raise ValueError(f'{index_path}: stores global step {step}, its name says {named}')
        return int(step), float(seconds)


class TrainOps:
    """What :meth:`Recipe.build` returns. Ops are dicts keyed by what the batch chose (BSRN: the scale;
    a model with one training op uses the key None).

    Args:
        global_step (tf.Tensor): The step placeholder, fed at every run.
        loss (dict): Key -> the scalar loss.
        step (dict): Key -> the training op (one process) or this worker's push (cluster).
        summary (dict): Key -> the merged summary of a step.
        state (TrainState): The training state variables.
        apply (tf.Operation | None): Cluster only: the chief's update with the workers' mean. Default: None.
        averager (tfzoo.cluster.SyncAverager | None): Cluster only. Default: None.
        input_errors (list | None): Filled by an input pipeline whose failure TensorFlow reports as an
            OpError; the first one is raised instead. Default: None.
    """

    def __init__(self, global_step, loss, step, summary, state, apply=None, averager=None, input_errors=None):
        self.global_step, self.loss, self.step, self.summary, self.state = global_step, loss, step, summary, state
        self.apply, self.averager, self.input_errors = apply, averager, input_errors or []
        self.saver = self.init = self.finite = None      # set by train() once the model's graph is complete


class Recipe:
    """A model's part of a training. Subclasses set the attributes below and override the hooks they
    need; :func:`train` sets ``cluster`` (tfzoo.cluster.Cluster or None) and ``shard`` ((rank, ranks))
    before it calls the hooks.

    Attributes:
        folder (str | Path): The run folder (checkpoints, run.json), e.g. --model_path.
        folder_flag (str): Its flag, for messages.
        prefix (str): Checkpoint name prefix, e.g. 'RCAN_X2_64_10_20' or 'model.ckpt'.
        init_hint (str): How the CLI starts a run from a foreign checkpoint (for a refused resume).
        identity (dict): The settings that define the run (a resume must use the same).
        resume, overwrite, record_ranks (bool): The flags of the same names.
        seed (int): The graph's seed.
        batch_size (int): Batch of one process.
        last_step (int): The global step this process trains up to.
        steps_flag (str): The flag of the step budget as the user gave it, e.g. '--max_step=100'.
        log_freq, save_freq (int): Log and checkpoint every so many steps.
        keep_max (int | None): Checkpoints kept (None: all).
        divergence_hint (str): What to change when the loss is not finite, e.g. 'lower --learning_rate'.
    """

    cluster, shard = None, (0, 1)
    folder_flag, init_hint = '--model_path', '--fine_tuning True --pre_trained_model <checkpoint>'
    resume = overwrite = record_ranks = False
    keep_max = None

    def session_config(self):
        """The Session's ConfigProto (tfzoo.session)."""
        raise NotImplementedError

    def local_shard(self):
        """(rank, ranks) without a cluster (Ascend HCCL devices, else (0, 1))."""
        return 0, 1

    def prepare(self):
        """Checks every worker makes before anything is built (e.g. that a starting checkpoint exists)."""

    def use_shard(self):
        """This process trains on ``self.shard``: prepare its batches, log what it holds."""

    def opened(self):
        """(chief) The run folder is open."""

    def build(self, rank_size):
        """Build the training graph in the default graph (seeded, devices set); returns TrainOps.

        Args:
            rank_size (int): Ascend HCCL devices all-reducing the gradients (1: none).
        """
        raise NotImplementedError

    def started(self, sess):
        """(chief) The variables are initialised."""

    def start_from(self, sess):
        """(chief, not resuming) Load a starting checkpoint if asked; returns the first global step."""
        return 0

    def begin(self, sess, graph, done):
        """(chief, with steps to run) Open the summary writers and logs, start the input pipeline;
        ``done`` steps are done."""

    def end(self):
        """(chief) Close what :meth:`begin` opened (also after a failure, even one inside begin)."""

    def batch(self, step):
        """The batch of global step ``step``: (key, feed dict with the inputs and the step)."""
        raise NotImplementedError

    def summary_due(self, count):
        """Whether step ``count`` (1-based) writes a summary."""
        return count % self.log_freq == 0

    def write_summary(self, summary, count, key):
        """(chief) Write the summary of step ``count``."""

    def log_step(self, sess, count, key, loss, seconds):
        """(chief) The model's log lines of step ``count`` (every ``log_freq`` steps)."""

    def stepped(self, key, seconds):
        """(every worker) A step with the batch choice ``key`` took ``seconds``."""

    def result(self):
        """Model-specific entries of the summary that :func:`train` returns."""
        return {}

    def shard_names(self):
        """The names of the images of ``self.shard`` (for ranks.json)."""
        return []

    def discard(self):
        """(chief) A fresh run failed before its first checkpoint: remove the files and folders this
        run created (arguments, logs, summaries), so that the failure leaves nothing behind."""


def train(recipe):
    """Run a training (or resume it, or fine-tune); returns a summary dict (steps, seconds, images/s of
    the global batch, also without the first step, which builds the kernels; losses logged).

    Args:
        recipe (Recipe): The model's part.
    """
    recipe.cluster = cluster = Cluster.from_env()
    config = recipe.session_config()
    if cluster is not None and cluster.task_type == 'ps':
        cluster.start(config)
        cluster.serve()
    recipe.prepare()
    if cluster is not None and not cluster.is_chief:
        return _work(recipe, config, None)
    ckpts = TFCheckpointDir(recipe.folder, recipe.prefix, flag=recipe.folder_flag, init_hint=recipe.init_hint)
    identity = dict(recipe.identity)
    if cluster is not None:
        identity['workers'] = cluster.num_workers
    ckpts.open(identity, resume=recipe.resume, overwrite=recipe.overwrite)
    try:
        recipe.opened()
        summary = _work(recipe, config, ckpts)
        if recipe.record_ranks and summary['steps_run']:
            write_ranks(recipe.folder, summary['workers'], recipe.batch_size, summary['steps_run'],
                        summary['images_per_sec_after_first'], [{'rank': 0, 'shard': recipe.shard_names()}],
                        weights='parameter servers' if summary['workers'] > 1 else 'one process')
    except BaseException:
        if not ckpts.resumed and not ckpts.checkpoints():
            recipe.discard()
        ckpts.close(abandon=True)      # a fresh run that saved nothing leaves no run behind
        raise
    ckpts.close()
    return summary


def _work(recipe, config, ckpts):
    """This process's share: graph, Session, start, steps. ``ckpts`` is None on a worker but the chief."""
    cluster = recipe.cluster
    recipe.shard = (cluster.task_index, cluster.num_workers) if cluster is not None else recipe.local_shard()
    recipe.use_shard()
    ranks = recipe.shard[1]
    if cluster is not None and cluster.is_chief:
        log(f'global batch {recipe.batch_size * ranks} = --batch_size={recipe.batch_size} x {ranks} workers')
    graph = tf.Graph()
    with graph.as_default(), v1.device(cluster.device_setter() if cluster is not None else None):
        v1.set_random_seed(recipe.seed)
        ops = recipe.build(ranks if cluster is None else 1)
        ops.saver = v1.train.Saver(max_to_keep=None)
        ops.init = v1.global_variables_initializer()
        ops.finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(v)) for v in v1.trainable_variables()])
    if cluster is not None:
        cluster.start(config)
        sess = cluster.session(graph, config)
    else:
        sess = v1.Session(graph=graph, config=config)
    with sess, graph.as_default():
        done, seconds_before = _start(recipe, sess, ops, ckpts) if ckpts is not None else (0, 0.0)
        if ops.averager is not None:
            if ckpts is not None:
                ops.averager.release(sess, done)          # every worker may run step `done`
            done = ops.averager.take(sess)
        begun = ckpts is not None and done < recipe.last_step
        try:
            if begun:
                recipe.begin(sess, graph, done)
            return _steps(recipe, sess, ops, ckpts, done, seconds_before)
        finally:
            if begun:
                recipe.end()


def _start(recipe, sess, ops, ckpts):
    """(chief) Initialise, then resume the run or start from a checkpoint; returns (step, seconds) done."""
    sess.run(ops.init)
    recipe.started(sess)
    if ckpts.resumed:
        (done, seconds), _, _, path = ckpts.load_latest(lambda p: ops.state.restore(sess, ops.saver, p))
        log(f'resuming from {TFCheckpointDir.prefix_of(path)} (global step {done})')
    else:
        done, seconds = recipe.start_from(sess), 0.0
    if done >= recipe.last_step:
        log(f'nothing to do: {done} of {recipe.steps_flag} steps already done')
    return done, seconds


def _steps(recipe, sess, ops, ckpts, done, seconds_before):
    """Steps ``done``..``recipe.last_step - 1``; returns the summary."""
    chief, averager = ckpts is not None, ops.averager
    begin, first_end, losses, loss, step = time.time(), None, [], float('nan'), done
    bar = tqdm(total=recipe.last_step, initial=done, unit='step', disable=None if chief else True)
    while step < recipe.last_step:
        count = step + 1
        key, feed = recipe.batch(step)
        summarize = chief and recipe.summary_due(count)
        fetches = [ops.step[key], ops.loss[key]] + ([ops.summary[key]] if summarize else [])
        start = time.time()
        out = _run(sess, fetches, feed, ops.input_errors)
        if averager is not None and chief:
            sess.run(ops.apply, {ops.global_step: step})     # the mean of one gradient per worker
            averager.release(sess, count)
        seconds = time.time() - start
        first_end = first_end or time.time()
        loss = float(out[1])
        if chief:
            if not math.isfinite(loss):
                raise ValueError(f'loss is {loss} at step {count}: training diverged ({recipe.divergence_hint})')
            if summarize:
                recipe.write_summary(out[2], count, key)
            if count % recipe.log_freq == 0:
                losses.append(loss)
                recipe.log_step(sess, count, key, loss, seconds)
            if count % recipe.save_freq == 0 or count == recipe.last_step:
                if not sess.run(ops.finite):
                    raise ValueError(f'loss is nan: the weights are not finite after step {count} (loss {loss}): '
                                     f'training diverged ({recipe.divergence_hint}); nothing saved')
                ops.state.set(sess, count, seconds_before + time.time() - begin)
                ckpts.save_session(sess, ops.saver, count, keep_max=recipe.keep_max)
            bar.update()
        recipe.stepped(key, seconds)
        step = averager.take(sess) if averager is not None else count
    bar.close()
    return _summary(recipe, done, step, begin, first_end, seconds_before, loss, losses)


def _run(sess, fetches, feed, input_errors):
    try:
        return sess.run(fetches, feed_dict=feed)
    except tf.errors.OpError:
        if input_errors:
            raise input_errors[0] from None       # e.g. an image that failed to decode in tf.data
        raise


def _summary(recipe, done, step, begin, first_end, seconds_before, loss, losses):
    end = time.time()
    seconds, steps, ranks = end - begin, step - done, recipe.shard[1]
    batch = recipe.batch_size * ranks
    return {'steps_done_before': done, 'steps_run': steps, 'global_step': step, 'seconds': seconds,
            'seconds_total': seconds_before + seconds, 'workers': ranks, 'global_batch': batch,
            'images_per_sec': steps * batch / seconds if steps else 0.0,
            'images_per_sec_after_first': (steps - 1) * batch / (end - first_end) if steps > 1 else None,
            'final_loss': loss, 'losses': losses, **recipe.result()}
