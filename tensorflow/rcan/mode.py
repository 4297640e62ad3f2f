"""The three modes of main.py: train, test (SR + Y PSNR/SSIM against GT) and test_only (SR images).

Training (the reference's loop, made exact and restartable):

* the run lives in ``--model_path`` (tfzoo.checkpoint.TFCheckpointDir: run identity, lock, commit
  order that survives kill -9); checkpoints ``RCAN_X{s}_{feats}_{RG}_{RCAB}-{step}`` every
  ``--model_save_freq`` steps and at the last step, each holding the weights, Adam's moments and
  powers, the global step and the seconds trained;
* batch ``k`` is a function of ``(--seed, k)`` (data_loader.PatchSampler) and the learning rate a
  function of ``k``, so ``--resume True`` after a kill continues exactly as if never interrupted;
* ``--max_step`` is honoured exactly (the reference finishes its epoch);
* every ``--log_freq`` steps: the reference's three log lines (``%d training step completed``,
  ``Loss : %0.4f``, ``Elpased time : %0.4f``, spelled as its scripts grep them) and the TensorBoard
  summaries ``train_loss`` and ``train_RGB_PSNR`` in ``--log_dir``. A progress bar runs on stderr when
  it is a terminal.
"""
import math
import sys
import time
from pathlib import Path

import tensorflow as tf
from tqdm import tqdm

import util
from common.runs import make_output_dir
from data_loader import PatchSampler, tf_batches
from RCA_net import RCA_net, TAIL_SCOPES
from tfzoo.checkpoint import TFCheckpointDir, resolve_checkpoint, restore_variables
from tfzoo.cluster import Cluster, hccl_rank, write_ranks
from tfzoo.session import npu_available, session_config

tf.get_logger().setLevel('ERROR')          # tf.compat.v1's deprecation notices are not the user's concern

__all__ = ['run', 'train', 'test', 'test_only', 'inference_session', 'checkpoint_prefix', 'IDENTITY_KEYS']

# Flags that define a training run: a resume must use the same values (common.runs.CheckpointDir).
IDENTITY_KEYS = ('scale', 'n_feats', 'n_RG', 'n_RCAB', 'kernel_size', 'ratio', 'patch_size', 'batch_size',
                 'learning_rate', 'decay_step', 'decay_rate', 'seed', 'dataset_enlarge_ratio')


def log(line):
    """Print one log line (above the progress bar, if one is shown)."""
    tqdm.write(line, file=sys.stdout)
    sys.stdout.flush()


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


# --- training -----------------------------------------------------------------------------------

def train(args, data):
    """Train (or resume, or fine-tune); returns a summary dict (steps, seconds, images/s, losses).

    With ``TF_CONFIG`` (tfzoo.cluster, started by tfzoo/launch.py) this process is one task of a
    parameter-server cluster: a ``ps`` serves the variables; worker ``i`` trains on its shard of the
    images, and only the chief (worker 0) writes checkpoints, summaries and logs.
    """
    cluster = Cluster.from_env()
    if cluster is not None and cluster.task_type == 'ps':
        cluster.start(_config(args))
        cluster.serve()
    pretrained = resolve_checkpoint(args.pre_trained_model) if args.fine_tuning else None
    if cluster is not None and not cluster.is_chief:
        return _train_cluster(args, data, None, pretrained, cluster)
    ckpts = TFCheckpointDir(args.model_path, checkpoint_prefix(args))
    identity = {key: getattr(args, key) for key in IDENTITY_KEYS}
    identity['dataset'] = data['train'].fingerprint()
    if cluster is not None:
        identity['workers'] = cluster.num_workers
    ckpts.open(identity, resume=args.resume, overwrite=args.overwrite)
    try:
        summary = _train(args, data, ckpts, pretrained) if cluster is None else \
            _train_cluster(args, data, ckpts, pretrained, cluster)
        if args.record_ranks and summary.get('steps_run'):
            write_ranks(args.model_path, summary, args.batch_size, summary['shard'])
    except BaseException:
        ckpts.close(abandon=True)      # a fresh run that saved nothing leaves no run behind
        raise
    ckpts.close()
    return summary


def _build_training_graph(args, sampler, rank_size=1):
    graph = tf.Graph()
    feed = {'start': {'step': 0}, 'errors': []}
    with graph.as_default():
        tf.compat.v1.set_random_seed(args.seed)
        inputs = None
        if not args.in_memory:
            feed['init'], inputs = tf_batches(sampler, feed['start'], args.max_step, feed['errors'])
        net = RCA_net(args)
        net.rank_size = rank_size
        model = net.build_graph(training=True, inputs=inputs)
        saver = tf.compat.v1.train.Saver(max_to_keep=None)
        merged = tf.compat.v1.summary.merge_all()
        init = tf.compat.v1.global_variables_initializer()
    print('Build model!', flush=True)
    return graph, model, saver, merged, init, feed


def _restore_run(sess, saver, model, index_path):
    """Restore a checkpoint of this training; returns (global step, seconds trained)."""
    TFCheckpointDir.restore(sess, saver, index_path)
    step, seconds = sess.run([model.step_var, model.seconds_var])
    named = int(Path(TFCheckpointDir.prefix_of(index_path)).name.rsplit('-', 1)[1])
    if int(step) != named:
        raise ValueError(f'{index_path}: stores global step {step}, its name says {named}')
    return int(step), float(seconds)


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


def _start(args, sess, model, saver, init, ckpts, pretrained):
    """Initialise, then resume the run or load the fine-tuning weights; returns (step, seconds) done."""
    sess.run(init)
    done, seconds_before = 0, 0.0
    if ckpts.resumed:
        (done, seconds_before), _, _, path = ckpts.load_latest(lambda p: _restore_run(sess, saver, model, p))
        log(f'resuming from {TFCheckpointDir.prefix_of(path)} (global step {done})')
    elif pretrained is not None:
        _fine_tune_from(sess, model, args, pretrained)
    return done, seconds_before


def _train(args, data, ckpts, pretrained):
    rank, ranks = hccl_rank() if npu_available() else (0, 1)
    sampler = PatchSampler(data['train'], args.patch_size, args.batch_size, args.seed, args.dataset_enlarge_ratio,
                           shard=(rank, ranks))
    graph, model, saver, merged, init, feed = _build_training_graph(args, sampler, ranks)
    sess = _session(args, graph)
    with sess, graph.as_default():
        done, seconds_before = _start(args, sess, model, saver, init, ckpts, pretrained)
        if done >= args.max_step:
            log(f'nothing to do: {done} of --max_step={args.max_step} steps already done')
            return {'steps_run': 0, 'global_step': done, 'seconds': 0.0, 'losses': []}
        if not args.in_memory:
            feed['start']['step'] = done
            sess.run(feed['init'])
        writer = tf.compat.v1.summary.FileWriter(str(make_output_dir(args.log_dir, '--log_dir')), graph)
        if done:
            writer.add_session_log(tf.compat.v1.SessionLog(status=tf.compat.v1.SessionLog.START), done)
        try:
            summary = _loop(args, data, sess, model, saver, merged, sampler, ckpts, writer, feed,
                            done, seconds_before)
        finally:
            writer.close()
    return summary


def _loop(args, data, sess, model, saver, merged, sampler, ckpts, writer, feed, done, seconds_before):
    train_log = _open_train_log(args) if args.test_with_train else None
    predict = util.make_predictor(sess, model)
    begin, losses, bar = time.time(), [], tqdm(total=args.max_step, initial=done, unit='step', disable=None)
    first_end = None
    for step in range(done, args.max_step):
        count = step + 1
        logging = count % args.log_freq == 0
        s_time = time.time()
        feed_dict = {model.global_step: step}
        if args.in_memory:
            feed_dict[model.LR], feed_dict[model.GT] = sampler.batch(step)
        fetches = [model.train, model.loss] + ([merged] if logging else [])
        try:
            out = sess.run(fetches, feed_dict=feed_dict)
        except tf.errors.OpError:
            if feed['errors']:
                raise feed['errors'][0] from None     # e.g. an image that failed to decode in tf.data
            raise
        e_time = time.time()
        first_end = first_end or e_time
        loss = float(out[1])
        _check_finite(loss, count)
        bar.update()
        if logging:
            writer.add_summary(out[2], count)
            losses.append(loss)
            if train_log is not None:
                _test_with_train(args, data, sess, model, predict, train_log, count)
            _log_step(count, loss, e_time - s_time)
        if count % args.model_save_freq == 0 or count == args.max_step:
            _save(args, sess, model, saver, ckpts, count, seconds_before + time.time() - begin)
    bar.close()
    return _summary(args, sampler, done, begin, first_end, seconds_before, loss, losses, 1)


def _train_cluster(args, data, ckpts, pretrained, cluster):
    """One worker of a parameter-server cluster; ``ckpts`` is None except on the chief."""
    rank, ranks = cluster.task_index, cluster.num_workers
    sampler = PatchSampler(data['train'], args.patch_size, args.batch_size, args.seed, args.dataset_enlarge_ratio,
                           shard=(rank, ranks))
    names = [data['train'].lr.names[i] for i in sampler.images]
    log(f'worker {rank} of {ranks}: shard of {len(names)} images: {" ".join(names)}')
    if cluster.is_chief:
        log(f'global batch {args.batch_size * ranks} = --batch_size={args.batch_size} x {ranks} workers')
    config = _config(args)
    cluster.start(config)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(args.seed)
        with tf.compat.v1.device(cluster.device_setter()):
            net = RCA_net(args)
            net.cluster = cluster
            model = net.build_graph(training=True)
            saver = tf.compat.v1.train.Saver(max_to_keep=None)
            merged = tf.compat.v1.summary.merge_all()
            init = tf.compat.v1.global_variables_initializer()
    sess = cluster.session(graph, config)
    with sess, graph.as_default():
        done, seconds_before, writer = 0, 0.0, None
        if cluster.is_chief:
            print(f'Build model! (worker 0 of {ranks}: chief)', flush=True)
            done, seconds_before = _start(args, sess, model, saver, init, ckpts, pretrained)
            writer = tf.compat.v1.summary.FileWriter(str(make_output_dir(args.log_dir, '--log_dir')), graph)
            model.averager.release(sess, done)        # every worker may run step `done`
        try:
            return _cluster_loop(args, sess, model, saver, merged, sampler, ckpts, writer, cluster, seconds_before)
        finally:
            if writer is not None:
                writer.close()


def _cluster_loop(args, sess, model, saver, merged, sampler, ckpts, writer, cluster, seconds_before):
    chief, ranks = cluster.is_chief, cluster.num_workers
    step = done = model.averager.take(sess)
    begin, losses, loss, first_end = time.time(), [], float('nan'), None
    bar = tqdm(total=args.max_step, initial=done, unit='step', disable=None if chief else True)
    while step < args.max_step:
        count = step + 1
        logging = chief and count % args.log_freq == 0
        lr, gt = sampler.batch(step)
        feed = {model.LR: lr, model.GT: gt, model.global_step: step}
        s_time = time.time()
        out = sess.run([model.push, model.loss] + ([merged] if logging else []), feed_dict=feed)
        loss = float(out[1])
        if chief:
            sess.run(model.apply, {model.global_step: step})     # the mean of every worker's gradient
            model.averager.release(sess, count)
            _check_finite(loss, count)
            bar.update()
            if logging:
                writer.add_summary(out[2], count)
                losses.append(loss)
                _log_step(count, loss, time.time() - s_time)
            if count % args.model_save_freq == 0 or count == args.max_step:
                _save(args, sess, model, saver, ckpts, count, seconds_before + time.time() - begin)
        first_end = first_end or time.time()
        step = model.averager.take(sess)
    bar.close()
    return _summary(args, sampler, done, begin, first_end, seconds_before, loss, losses, ranks)


def _summary(args, sampler, done, begin, first_end, seconds_before, loss, losses, ranks):
    """What a training returns: steps, seconds, images/s of the global batch (also without the first
    step, which builds kernels), losses, the shard."""
    seconds, end = time.time() - begin, time.time()
    steps, batch = max(0, args.max_step - done), args.batch_size * ranks
    return {'steps_done_before': done, 'steps_run': steps, 'global_step': args.max_step, 'seconds': seconds,
            'seconds_total': seconds_before + seconds, 'workers': ranks, 'global_batch': batch,
            'images_per_sec': steps * batch / seconds if steps else 0.0,
            'images_per_sec_after_first': (steps - 1) * batch / (end - first_end) if steps > 1 else None,
            'final_loss': loss, 'losses': losses, 'steps_per_epoch': sampler.steps_per_epoch,
            'shard': [sampler.pairs.lr.names[int(i)] for i in sampler.images]}


def _check_finite(loss, count):
    if not math.isfinite(loss):
        raise ValueError(f'loss is {loss} at step {count}: training diverged (lower --learning_rate)')


def _log_step(count, loss, seconds):
    """The reference's three log lines (its scripts grep "Loss :" and the misspelt "Elpased time :")."""
    log(f'{count} training step completed')
    log(f'Loss : {loss:0.4f}')
    log(f'Elpased time : {seconds:0.4f}')


def _save(args, sess, model, saver, ckpts, count, seconds):
    sess.run(model.set_state, {model.state_in[0]: count, model.state_in[1]: seconds})
    ckpts.save_session(sess, saver, count, keep_max=args.keep_checkpoint_max or None)


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
    gts = [test_set.hr.read(i) for i in range(len(test_set))]
    lr = float(sess.run(model.lr, {model.global_step: count}))
    handle.write(util.train_log_line(count, lr, srs, gts, args.scale))
    handle.flush()


# --- test modes ---------------------------------------------------------------------------------

def inference_session(args, mode_name):
    """Build the inference graph, restore --pre_trained_model's weights; returns (session, model)."""
    prefix = resolve_checkpoint(args.pre_trained_model)
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
    gts = [test_set.hr.read(i) for i in range(len(test_set))]
    rows, proto = util.score(test_set.names, srs, gts, args.scale)
    result_file = Path(f'./RCAN_X{args.scale}_{args.test_set}_result.txt')
    lines = util.write_result_file(result_file, rows, proto)
    if args.save_test_result:
        folder = make_output_dir(args.result_path, '--result_path')
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
