"""The three modes of main.py: train, test (SR + Y PSNR/SSIM against GT) and test_only (SR images).

Training (the reference's loop, made exact and restartable):

* the run lives in ``--model_path`` (tfzoo.checkpoint.TFCheckpointDir: run identity, lock, commit
  order that survives kill -9); checkpoints ``RCAN_X{s}_{feats}_{RG}_{RCAB}-{step}`` every
  ``--model_save_freq`` steps and at the last step, each holding the weights, Adam's moments and
  powers, the global step and the seconds trained;
* batch ``k`` is a function of ``(--seed, k)`` (data_loader.PatchSampler) and the learning rate a
  function of ``k``, so ``--resume True`` after a kill continues exactly as if never interrupted;
* ``--max_step`` is honoured exactly (the reference finishes its epoch);
* the lifecycle (run folder, resume, checkpoints, the parameter-server cluster, ranks.json) is
  tfzoo.trainer's, shared with BSRN; :class:`RCANTraining` supplies RCAN's graph, batches and lines;
* every ``--log_freq`` steps: the reference's three log lines (``%d training step completed``,
  ``Loss : %0.4f``, ``Elpased time : %0.4f``, spelled as its scripts grep them) and the TensorBoard
  summaries ``train_loss`` and ``train_RGB_PSNR`` in ``--log_dir``. A progress bar runs on stderr when
  it is a terminal.
"""
import os
from pathlib import Path

import tensorflow as tf
from tqdm import tqdm

import util
from common.runs import make_output_dir
from data_loader import PatchSampler, tf_batches
from RCA_net import RCA_net, TAIL_SCOPES, adopt_checkpoint_skip
from tfzoo.checkpoint import resolve_checkpoint, restore_variables
from tfzoo.cluster import hccl_rank
from tfzoo.session import npu_available, session_config
from tfzoo.trainer import FolderSnapshot, Recipe, TrainOps, log, train as run_training

tf.get_logger().setLevel('ERROR')          # tf.compat.v1's deprecation notices are not the user's concern

__all__ = ['run', 'train', 'test', 'test_only', 'inference_session', 'checkpoint_prefix', 'IDENTITY_KEYS']

# Flags that define a training run: a resume must use the same values (common.runs.CheckpointDir).
IDENTITY_KEYS = ('scale', 'n_feats', 'n_RG', 'n_RCAB', 'kernel_size', 'ratio', 'patch_size', 'batch_size',
                 'learning_rate', 'decay_step', 'decay_rate', 'seed', 'dataset_enlarge_ratio')


def checkpoint_prefix(args):
    """The reference's checkpoint name prefix, e.g. 'RCAN_X2_64_10_20'."""
    return f'RCAN_X{args.scale}_{args.n_feats}_{args.n_RG}_{args.n_RCAB}'


def _config(args):
    return session_config(precision_mode=args.precision_mode, intra_op_threads=args.intra_op_threads,
                          inter_op_threads=args.inter_op_threads)


def _session(args, graph):
    return tf.compat.v1.Session(graph=graph, config=_config(args))


def run(args, data):
    """Run ``args.mode`` on the checked ``data`` (main.load_data); returns its summary dict."""
    return {'train': train, 'test': test, 'test_only': test_only}[args.mode](args, data)


# --- training ---------------------------------------------------------------------------------

def train(args, data):
    """Train (or resume, or fine-tune) with tfzoo.trainer; returns a summary dict (steps, seconds,
    images/s, losses).

    With ``TF_CONFIG`` (tfzoo.cluster, started by tfzoo/launch.py) this process is one task of a
    parameter-server cluster: a ``ps`` serves the variables; worker ``i`` trains on its shard of the
    images, and only the chief (worker 0) writes checkpoints, summaries and logs.
    """
    return run_training(RCANTraining(args, data))


class RCANTraining(Recipe):
    """RCAN's part of a training (tfzoo.trainer.Recipe): the reference's graph, batches and log lines.

    Args:
        args (argparse.Namespace): main.py's flags.
        data (dict): main.load_data's, with 'train' (and 'test' for --test_with_train).
    """

    def __init__(self, args, data):
        self.args, self.data = args, data
        self.folder, self.prefix = args.model_path, checkpoint_prefix(args)
        self.identity = {key: getattr(args, key) for key in IDENTITY_KEYS}
        self.identity['dataset'] = data['train'].fingerprint()
        self.resume, self.overwrite, self.record_ranks = args.resume, args.overwrite, args.record_ranks
        self.seed, self.batch_size = args.seed, args.batch_size
        self.last_step, self.steps_flag = args.max_step, f'--max_step={args.max_step}'
        self.log_freq, self.save_freq = args.log_freq, args.model_save_freq
        self.keep_max = args.keep_checkpoint_max or None
        self.divergence_hint = 'lower --learning_rate'
        self.pretrained = self.sampler = self.model = self.input_init = None
        self.writer = self.train_log = self.predict = None
        self.added = []                          # FolderSnapshots of what begin() writes into
        self.input_start = {'step': 0}           # where the tf.data input starts (read when initialised)

    def session_config(self):
        return _config(self.args)

    def local_shard(self):
        return hccl_rank() if npu_available() else (0, 1)

    def prepare(self):
        if self.args.fine_tuning:
            self.pretrained = resolve_checkpoint(self.args.pre_trained_model)

    def use_shard(self):
        args = self.args
        self.sampler = PatchSampler(self.data['train'], args.patch_size, args.batch_size, args.seed,
                                    args.dataset_enlarge_ratio, shard=self.shard)
        if self.cluster is not None:
            rank, ranks = self.shard
            names = self.shard_names()
            log(f'worker {rank} of {ranks}: shard of {len(names)} images: {" ".join(names)}')

    def build(self, rank_size):
        args, errors, inputs = self.args, [], None
        if self.cluster is None and not args.in_memory:
            self.input_init, inputs = tf_batches(self.sampler, self.input_start, args.max_step, errors)
        net = RCA_net(args)
        net.cluster, net.rank_size = self.cluster, rank_size
        model = self.model = net.build_graph(training=True, inputs=inputs)
        common = dict(global_step=model.global_step, loss={None: model.loss},
                      summary={None: tf.compat.v1.summary.merge_all()}, state=model.state)
        if self.cluster is not None:
            return TrainOps(step={None: model.push}, apply=model.apply, averager=model.averager, **common)
        return TrainOps(step={None: model.train}, input_errors=errors, **common)

    def started(self, sess):
        chief = '' if self.cluster is None else f' (worker 0 of {self.shard[1]}: chief)'
        print(f'Build model!{chief}', flush=True)

    def start_from(self, sess):
        if self.pretrained is not None:
            _fine_tune_from(sess, self.model, self.args, self.pretrained)
        return 0

    def begin(self, sess, graph, done):
        if self.input_init is not None:
            self.input_start['step'] = done
            sess.run(self.input_init)
        own_events = f'.{os.getpid()}.'           # TensorFlow's event file names hold the writer's pid
        self.added = [FolderSnapshot(self.args.log_dir, lambda n: n.startswith('events.') and own_events in n)]
        if self.args.test_with_train:
            log_file = Path(f'RCAN_X{self.args.scale}_train_log.txt')
            self.added.append(FolderSnapshot('.', lambda n: n == log_file.name))
        self.writer = tf.compat.v1.summary.FileWriter(str(make_output_dir(self.args.log_dir, '--log_dir')), graph)
        if done:
            self.writer.add_session_log(tf.compat.v1.SessionLog(status=tf.compat.v1.SessionLog.START), done)
        if self.args.test_with_train:
            self.train_log = _open_train_log(self.args)
            self.predict = util.make_predictor(sess, self.model)

    def end(self):
        for handle in (self.writer, self.train_log):
            if handle is not None:
                handle.close()

    def discard(self):
        for snapshot in self.added:
            snapshot.remove_added()

    def batch(self, step):
        feed = {self.model.global_step: step}
        if self.input_init is None:
            feed[self.model.LR], feed[self.model.GT] = self.sampler.batch(step)
        return None, feed

    def write_summary(self, summary, count, key):
        self.writer.add_summary(summary, count)

    def log_step(self, sess, count, key, loss, seconds):
        if self.train_log is not None:
            _test_with_train(self.args, self.data, sess, self.model, self.predict, self.train_log, count)
        _log_step(count, loss, seconds)

    def result(self):
        return {'steps_per_epoch': self.sampler.steps_per_epoch, 'shard': self.shard_names()}

    def shard_names(self):
        return [self.sampler.pairs.lr.names[int(i)] for i in self.sampler.images]


def _fine_tune_from(sess, model, args, prefix):
    state = set(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES, scope='train_state'))
    candidates = [v for v in tf.compat.v1.global_variables() if v not in state]
    skip = () if args.load_tail_part else TAIL_SCOPES
    required = [v for v in model.weights() if not any(s in v.op.name for s in skip)]
    restore_variables(sess, prefix, candidates, required, skip=skip)
    print('saved model is loaded for fine-tuning!')
    if not args.load_tail_part:
        print('Tail part is not loaded!')
    print(f'model path is {args.pre_trained_model}', flush=True)


def _log_step(count, loss, seconds):
    """The reference's three log lines (its scripts grep "Loss :" and the misspelt "Elpased time :")."""
    log(f'{count} training step completed')
    log(f'Loss : {loss:0.4f}')
    log(f'Elpased time : {seconds:0.4f}')


def _open_train_log(args):
    path = Path(f'RCAN_X{args.scale}_train_log.txt')
    new = not path.exists() or not args.resume
    handle = path.open('w' if new else 'a', encoding='utf-8')
    if new:
        handle.write(f'scale : {args.scale} \t n_feats : {args.n_feats} \t n_RG : {args.n_RG} \t '
                     f'n_RCAB : {args.n_RCAB} \n')
    return handle


def _test_with_train(args, data, sess, model, predict, handle, count):
    test_set = data['test']
    srs = [predict(test_set.lr.read(i)) for i in range(len(test_set))]
    gts = [test_set.read_hr(i) for i in range(len(test_set))]
    lr = float(sess.run(model.lr, {model.global_step: count}))
    handle.write(util.train_log_line(count, lr, srs, gts, args.scale))
    handle.flush()


# --- test modes ---------------------------------------------------------------------------------

def inference_session(args, mode_name):
    """Build the inference graph, restore --pre_trained_model's weights; returns (session, model)."""
    prefix = resolve_checkpoint(args.pre_trained_model)
    adopt_checkpoint_skip(args, prefix)
    graph = tf.Graph()
    with graph.as_default():
        model = RCA_net(args).build_graph(training=False)
    sess = _session(args, graph)
    with graph.as_default():
        restore_variables(sess, prefix, model.weights(), model.weights())
    print(f'saved model is loaded for {mode_name}!')
    print(f'model path is {args.pre_trained_model}', flush=True)
    return sess, model


def _super_resolve_all(args, test_set, sess, model):
    predict = util.make_predictor(sess, model)
    srs = []
    for i in tqdm(range(len(test_set)), unit='image', disable=None):
        srs.append(util.super_resolve(predict, test_set.lr.read(i), args.scale, args.self_ensemble,
                                      args.chop_forward, args.chop_size, args.chop_shave))
    return srs


def test(args, data):
    """SR every test image, score Y PSNR/SSIM (crop = scale), write ``RCAN_X{s}_{test_set}_result.txt``."""
    test_set = data['test']
    sess, model = inference_session(args, 'test')
    with sess:
        srs = _super_resolve_all(args, test_set, sess, model)
    gts = [test_set.read_hr(i) for i in range(len(test_set))]
    rows, proto = util.score(test_set.names, srs, gts, args.scale)
    folder = make_output_dir(args.result_path, '--result_path') if args.save_test_result else None
    result_file = Path(f'./RCAN_X{args.scale}_{args.test_set}_result.txt')       # after the folder: no half
    lines = util.write_result_file(result_file, rows, proto)
    if folder is not None:
        for name, sr in zip(test_set.names, srs):
            util.save_sr(folder, name, sr, args.scale)
    print(f"metric protocol: {proto['label']}")
    print('\n'.join(lines[:-1]))
    print(f'result file: {result_file}', flush=True)
    return {'rows': rows, 'protocol': proto, 'result_file': str(result_file), 'outputs': dict(zip(test_set.names, srs))}


def test_only(args, data):
    """SR every image of --test_LR_path into --result_path (no metrics)."""
    test_set = data['test']
    sess, model = inference_session(args, 'test only')
    with sess:
        srs = _super_resolve_all(args, test_set, sess, model)
    folder = make_output_dir(args.result_path, '--result_path')
    paths = [util.save_sr(folder, name, sr, args.scale) for name, sr in zip(test_set.names, srs)]
    print(f'{len(paths)} SR images written to {folder}', flush=True)
    return {'written': [str(p) for p in paths]}
