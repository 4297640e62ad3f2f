"""Train LPTN: ``python3 train.py -opt options/train/LPTN/train_FiveK.yml``.

The reference's BasicSR loop on one device: the options file (checked, see ``utils/options.py``), the
unpaired (or paired) training set, ``total_iter`` iterations in epochs of ``ceil(images x
dataset_enlarge_ratio / batch)`` iterations, the iteration line every ``print_freq`` (BasicSR's
format, with the ETA; a tqdm bar on a terminal), validation every ``val_freq`` and at the end (PSNR
and SSIM of ``common.metrics`` with the protocol label; ``input | result | target`` strips in
``visualization/<iter>/``), and every ``save_checkpoint_freq``: ``models/net_g_<iter>.pth`` (and
``net_d``; BasicSR's ``{'params': ...}`` files) and a training state
``training_states/lptn-<epoch>_<iter>.state`` holding everything the next iteration depends on
(networks, Adam moments, schedules, loss scaler, RNG states, counters), written atomically by
``common.runs.CheckpointDir``.

``path.resume_state`` (a ``.state`` file) or ``--auto_resume`` (the newest readable state of this
experiment) continues a run: a run killed at any moment and resumed ends with the weights of a run
never interrupted. Without them an existing ``experiments/<name>`` is renamed
``<name>_archived_<time>`` first, as the reference does.

``--launcher pytorch`` (processes started by ``torchrun``): data parallel with DDP over
``torchzoo.dist`` (HCCL on Ascend, NCCL on CUDA, gloo on the CPU; ``dist_params.backend`` is the
reference's request, the device decides); each rank trains on its slice of every global batch of
``batch_size_per_gpu x world_size``; rank 0 alone logs, validates and writes models and states, and
``--auto_resume`` continues a killed multi-process run.

Usage:
    python3 train.py -opt options/train/LPTN/train_FiveK.yml
    python3 train.py -opt options/train/LPTN/train_FiveK.yml --force_yml train.total_iter=1000 num_gpu=0
    python3 train.py -opt options/train/LPTN/train_FiveK.yml --auto_resume
    torchrun --nproc_per_node=8 train.py -opt options/train/LPTN/train_FiveK.yml --launcher pytorch
"""
# First, before torch loads: importing torchzoo sets the OpenMP wait policy (torchzoo/__init__.py).
import torchzoo  # noqa: F401

import contextlib
import datetime
import fcntl
import io
import logging
import math
import os
from pathlib import Path

import torch
from tqdm import tqdm

from common.fileio import atomic_write_bytes
from common.runs import CheckpointDir, RunError, make_output_dir
from data import build_dataloader, build_dataset
from models.lptn_model import LPTNModel
from models.lptn_test_model import metric_protocol, nondist_validation
from torchzoo import dist, lifecycle
from torchzoo.checkpoint import capture_rng, load_state
from torchzoo.cli import Parser, run_cli, str2bool
from torchzoo.precision import AMP_CHOICES
from torchzoo.trainlog import summary_writer
from utils.logger import MessageLogger, close_logger, get_root_logger
from utils.options import LAUNCHERS, check_run_outside_data, dict2str, parse

HERE = Path(__file__).resolve().parent

CKPT_PREFIX, CKPT_SUFFIX = 'lptn', '.state'
# Options that do not define a run: a resumed run may change them (e.g. train longer, log more often).
NOT_IDENTITY = {('train', 'total_iter'), ('val', 'val_freq'), ('logger', 'print_freq'),
                ('logger', 'save_checkpoint_freq'), ('path', 'resume_state'), ('val', 'save_img'),
                ('logger', 'use_tb_logger'), ('datasets', 'train', 'num_worker_per_gpu')}


def build_parser(prog='train.py'):
    p = Parser(description=__doc__.split('\n\n')[0], prog=prog)
    p.add_argument('-opt', '--opt', required=True, help='options file, e.g. options/train/LPTN/train_FiveK.yml')
    p.add_argument('--launcher', choices=LAUNCHERS, default='none', help='job launcher: none (one process) or pytorch '
                   '(processes started by torchrun; slurm is not supported)')
    p.add_argument('--local_rank', type=int, default=0, help='set by torch.distributed.launch (torchrun sets LOCAL_RANK)')
    p.add_argument('--auto_resume', type=str2bool, nargs='?', const=True, default=False,
                   help='continue from the newest readable training state of experiments/<name>')
    p.add_argument('--force_yml', nargs='+', action='extend', default=[], metavar='KEY=VALUE',
                   help='override options, e.g. train.total_iter=1000 num_gpu=0 (values parsed as YAML)')
    p.add_argument('--amp', default='auto', choices=AMP_CHOICES,
                   help='precision: auto (Ascend apex O2 where it imports, fp16 on CUDA, bf16 on CPUs with '
                   'hardware bfloat16, else fp32), on, off/fp32, bf16, fp16, apex')
    p.add_argument('--root', default=None, help='folder for experiments/ (default: this folder, as the reference)')
    p.add_argument('--modelzoo_dir', default='', help='write the ModelZoo case files here (the test/*.sh scripts)')
    p.add_argument('--perf', type=str2bool, nargs='?', const=True, default=False, help='ModelZoo performance case')
    p.add_argument('--record_ranks', type=str2bool, nargs='?', const=True, default=False,
                   help='write experiments/<name>/ranks.json: per rank, the sample keys it trained on in this process '
                   'and a digest of its final weights (to check data parallelism)')
    return p


def parse_options(argv=None, prog='train.py'):
    args = build_parser(prog).parse_args(argv)
    opt = parse(args.opt, 'train', args.force_yml, args.launcher, root=args.root)
    if args.perf and not args.modelzoo_dir:
        raise ValueError('--perf needs --modelzoo_dir')
    return args, opt


def _identity(opt, prefix=()):
    out = {}
    for key, value in opt.items():
        path = prefix + (key,)
        if path in NOT_IDENTITY or (not prefix and key in ('path', 'is_train', 'dist', 'rank', 'world_size')):
            continue
        if isinstance(value, dict):
            out.update(_identity(value, path))
        else:
            out['.'.join(path)] = list(value) if isinstance(value, tuple) else value
    return out


def _archive(exp_root):
    """Rename an existing experiment folder to ``<name>_archived_<time>`` (unless a training holds its lock)."""
    exp_root = Path(exp_root)
    if not exp_root.exists():
        return None
    lock = exp_root / 'training_states' / '.lock'
    if lock.is_file():
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunError(f'{exp_root}: another training is writing there; wait for it or change the name') from None
        finally:
            os.close(fd)
    stamp = datetime.datetime.now().strftime('%Y%m%d_%H%M%S')
    target = exp_root.with_name(f'{exp_root.name}_archived_{stamp}')
    exp_root.rename(target)
    return target


def _save_network(state_dict, path, ema=None):
    """BasicSR's generator file: ``{'params': ...}``, and ``'params_ema'`` when a moving average is kept."""
    buf = io.BytesIO()
    torch.save({'params': state_dict} if ema is None else {'params': state_dict, 'params_ema': ema}, buf)
    atomic_write_bytes(path, buf.getvalue())


def _to_cpu(state):
    return {k: v.detach().cpu() for k, v in state.items()}



def run(args, opt):
    """Train; returns a summary dict (also used by bench.py)."""
    want = 'cpu' if opt['num_gpu'] == 0 else 'auto'
    device, plan, precision_mode = lifecycle.choose_device(want, args.amp, env=None if opt['dist'] else {})
    ds_opt, val_opt, seed = opt['datasets']['train'], opt['datasets']['val'], opt['manual_seed']
    # Data first: a missing LMDB or a corrupt image fails before anything is written.
    train_set = build_dataset(ds_opt, seed, HERE)
    train_set[(0, 0)]
    val_set = build_dataset(val_opt, seed, HERE)
    val_set[0]
    check_run_outside_data(opt)
    _check_resume_state(opt['path'].get('resume_state'))
    train_loader, sampler = build_dataloader(train_set, ds_opt, seed, device.type, plan.rank, plan.world_size)
    val_loader, _ = build_dataloader(val_set, val_opt, seed)
    iters_per_epoch = len(train_loader)
    with lifecycle.process_group(device) as plan:           # every rank reads the same data: all ranks fail alike
        dist.every_rank(lambda: _check_batches(len(train_set), ds_opt['batch_size_per_gpu'], plan.world_size,
                                               iters_per_epoch))
        wanted = (opt.get('dist_params') or {}).get('backend')
        if plan.distributed and dist.is_main() and wanted not in (None, plan.backend):
            print(f'notice: dist_params.backend={wanted}: using {plan.backend}, the backend of {plan.device_type} '
                  f'(the rendezvous port is torchrun\'s --master_port, not dist_params.port)', flush=True)
        model = LPTNModel(opt, plan.device, precision_mode, init_seed=seed, plan=plan)
        training = lifecycle.Training(plan, sampler, iters_per_epoch, opt['train']['total_iter'],
                                      ds_opt['batch_size_per_gpu'], args.record_ranks)
        try:
            with training.run_folder(lambda: _open_run(args, opt)):
                return _train(args, opt, model, training, train_loader, val_loader)
        finally:
            close_logger()


def _check_resume_state(path):
    """A ``path.resume_state`` must be a training state of this port: checked, naming the file, before
    any folder is made."""
    if not path:
        return
    state = load_state(path, 'path.resume_state')
    if not isinstance(state, dict) or state.get('format') != 'srzoo.lptn.train/1':
        raise ValueError(f'path.resume_state={path}: not a training state of this port (a training_states/'
                         f'{CKPT_PREFIX}-<epoch>_<iter>{CKPT_SUFFIX} file)')


def _check_batches(samples, batch, world, iters_per_epoch):
    dist.check_shards(samples, batch, world, flag='datasets.train.batch_size_per_gpu')
    if iters_per_epoch == 0:
        raise ValueError(f'datasets.train: {samples} samples make no batch of batch_size_per_gpu={batch}; '
                         f'raise dataset_enlarge_ratio')


def _open_run(args, opt):
    """Rank 0: archive an old experiment of this name (unless resuming), make the folders, open the states."""
    paths = opt['path']
    exp_root = Path(paths['experiments_root'])
    states_dir = exp_root / 'training_states'
    resume = bool(paths.get('resume_state')) or (args.auto_resume and states_dir.is_dir() and
                                                 any(states_dir.glob(f'{CKPT_PREFIX}-*{CKPT_SUFFIX}')))
    if not resume:
        _archive(exp_root)
    with contextlib.ExitStack() as undo:                   # a refusal below leaves no empty folders
        for key in ('models', 'training_states', 'visualization'):
            undo.enter_context(lifecycle.removed_if_failed(paths[key]))
        for key in ('experiments_root', 'models', 'training_states', 'visualization'):
            make_output_dir(paths[key], f'path.{key}')
        ckpts = CheckpointDir(states_dir, CKPT_PREFIX, CKPT_SUFFIX, flag='path.resume_state')
        ckpts.open(_identity(opt), resume=resume)
    return ckpts


def _train(args, opt, model, training, train_loader, val_loader):
    exp_root = Path(opt['path']['experiments_root'])
    logger = _logger(opt, exp_root, training.main)
    logger.info(dict2str(opt))
    if model.load_warning:
        logger.warning(model.load_warning)
    logger.info(model.precision.describe())
    iterations = Iterations(opt, model, val_loader, logger)
    if training.resumed:
        iterations.resume(training)
    _log_statistics(logger, opt, train_loader.dataset, training)
    tb = None
    if opt['logger']['use_tb_logger'] and 'debug' not in opt['name'] and training.main:
        tb = summary_writer(exp_root / 'tb_logger', purge_step=training.global_step + 1 if training.resumed else None)
    iterations.tb, iterations.msg_logger = tb, MessageLogger(opt, training.global_step, tb)
    logger.info(f'Start training from epoch: {training.global_step // training.steps_per_epoch}, '
                f'iter: {training.global_step}')
    iterations.bar = tqdm(total=training.total_steps, initial=training.global_step, desc='train', unit='iter',
                          disable=None if training.main else True, leave=False)
    try:
        training.loop(iterations, train_loader)
        final = iterations.finish(training)
    finally:
        iterations.bar.close()
        if tb is not None:
            tb.close()
    return _summary(args, training, iterations, final)


def _logger(opt, exp_root, main):
    """Rank 0 logs to ``train_<name>_<time>.log`` and the console; the other ranks warnings only, to the
    console (BasicSR's way)."""
    if main:
        stamp = datetime.datetime.now().strftime('%Y%m%d_%H%M%S')
        return get_root_logger(exp_root / f"train_{opt['name']}_{stamp}.log")
    logger = get_root_logger()
    logger.setLevel(logging.WARNING)
    return logger


def _log_statistics(logger, opt, train_set, training):
    total_epochs = math.ceil(training.total_steps / training.steps_per_epoch)
    logger.info(f"Training statistics:\n\tNumber of train images: {len(train_set) // max(1, train_set.enlarge)}"
                f"\n\tDataset enlarge ratio: {train_set.enlarge}"
                f"\n\tBatch size per gpu: {opt['datasets']['train']['batch_size_per_gpu']}"
                f'\n\tWorld size (gpu number): {training.plan.world_size}'
                f'\n\tRequire iter number per epoch: {training.steps_per_epoch}'
                f'\n\tTotal epochs: {total_epochs}; iters: {training.total_steps}.')
    _, _, proto = metric_protocol(opt)
    logger.info(f"Validation metric: PSNR and SSIM [{proto['label']}] (common.metrics)")


class Iterations(lifecycle.Recipe):
    """LPTN's part of the loop, BasicSR's: one iteration of both networks, the iteration line every
    ``print_freq``, validation every ``val_freq``, models and a training state every
    ``save_checkpoint_freq``, and all three at the end.

    Args:
        opt (dict): The parsed options.
        model (LPTNModel): The networks, optimisers and schedules.
        val_loader (DataLoader): The validation set.
        logger (logging.Logger): The run's logger.
    """

    def __init__(self, opt, model, val_loader, logger):
        self.opt, self.model, self.val_loader, self.logger = opt, model, val_loader, logger
        self.val_history, self.log_history = [], []
        self.tb = self.msg_logger = self.bar = None

    def resume(self, training):
        resume_state = self.opt['path'].get('resume_state')
        flag = 'path.resume_state' if resume_state else '--auto_resume'
        state, path = training.load_latest(flag, Path(resume_state) if resume_state else None, warn=self.logger.warning)
        self.model.load_state_dict(state['model'])
        training.restore(state['iter'], state['train_seconds'], state['rng'])
        self.val_history, self.log_history = list(state['val_history']), list(state['log_history'])
        self.logger.info(f"Resuming training from epoch: {state['epoch']}, iter: {training.global_step} ({path}).")

    def step(self, data, training):
        self.model.update_learning_rate()
        return self.model.optimize_parameters(data, training.global_step)

    def after_step(self, log, training):
        it, total = training.global_step, training.total_steps
        self.bar.update(1)
        if it % self.opt['logger']['print_freq'] == 0 or it == total:
            log = {key: dist.all_mean(value) for key, value in log.items()}       # means over the ranks
            self.msg_logger({'epoch': training.epoch, 'iter': it, 'lrs': self.model.get_current_learning_rate(),
                             'time': training.step_time, 'data_time': training.data_time, **log})
            self.log_history.append({'iter': it, **log})
        if it % self.opt['val']['val_freq'] == 0 and it < total:
            self.validate(training)
        if it % self.opt['logger']['save_checkpoint_freq'] == 0 and it < total:
            self.save(training)

    def finish(self, training):
        """After the loop: the last validation, models and state, and ``net_g_latest.pth``; returns the
        validation (None when no iteration was left to run)."""
        self.bar.close()
        if not training.steps_run:
            self.logger.info(f'nothing to do: {training.global_step} of {training.total_steps} iterations already done')
            return None
        final = self.validate(training)
        self.save(training)
        if training.main:
            _save_network(_to_cpu(self.model.net_g.state_dict()), Path(self.opt['path']['models']) / 'net_g_latest.pth',
                          self._ema_state())
        return final

    def _ema_state(self):
        ema = self.model.net_g_ema
        return None if ema is None else _to_cpu(ema.state_dict())

    def validate(self, training):
        if not training.main:                   # rank 0 validates (the reference's nondist_validation)
            return None
        result = nondist_validation(self.model, self.val_loader, self.opt, training.global_step,
                                    self.opt['val']['save_img'], self.opt['path']['visualization'], self.tb)
        row = {'iter': training.global_step, 'psnr': result['psnr'], 'ssim': result['ssim']}
        if self.model.net_g_ema is not None:    # the moving average too, labelled (no strips: they would collide)
            ema = nondist_validation(_EMA(self.model), self.val_loader, self.opt, training.global_step, False,
                                     self.opt['path']['visualization'], self.tb, tag='ema')
            row.update(psnr_ema=ema['psnr'], ssim_ema=ema['ssim'])
            result['ema'] = ema
        self.val_history.append(row)
        return result

    def save(self, training):
        if not training.main:
            return
        for name, net in self.model.networks().items():
            if net is not None:
                _save_network(_to_cpu(net.state_dict()),
                              Path(self.opt['path']['models']) / f'{name}_{training.global_step}.pth',
                              self._ema_state() if name == 'net_g' else None)
        training.save({'format': 'srzoo.lptn.train/1', 'model': self.model.state_dict(), 'epoch': training.epoch,
                       'iter': training.global_step, 'step_in_epoch': training.in_epoch, 'rng': capture_rng(),
                       'train_seconds': training.train_seconds(), 'val_history': self.val_history,
                       'log_history': self.log_history})
        self.logger.info('Saving models and training states.')


class _EMA:
    """The moving average of an LPTNModel's generator, as something :func:`nondist_validation` tests."""

    def __init__(self, model):
        self.model = model

    def test(self, lq):
        return self.model.test(lq, ema=True)


def _summary(args, training, iterations, final):
    """The run's figures (bench.py reads them); ranks.json and the ModelZoo case files when asked."""
    seconds = training.seconds()
    ips = training.images_per_sec()
    model, exp_root = iterations.model, iterations.opt['path']['experiments_root']
    training.write_ranks(exp_root, lifecycle.weight_arrays({f'{k}.': v for k, v in model.networks().items()}), ips)
    iterations.logger.info(f'End of training. Time consumed: {datetime.timedelta(seconds=int(seconds))}')
    val, log = iterations.val_history, iterations.log_history
    losses = [row['l_d_real'] if 'l_d_real' in row else row['l_g_pix'] for row in log]
    training.modelzoo_summary(args.modelzoo_dir, HERE.name, ips, val[-1]['psnr'] if val else None, losses, args.perf)
    return {'device': str(training.plan.device), 'precision': model.precision.mode, 'iters_run': training.steps_run,
            'iter': training.global_step, 'seconds': seconds, 'seconds_total': training.seconds_before + seconds,
            'images_per_sec': ips, 'iters_per_epoch': training.steps_per_epoch, 'val': val, 'log': log,
            'final': final, 'model': model}


def main(argv=None):
    args, opt = parse_options(argv)
    run(args, opt)


if __name__ == '__main__':
    run_cli(main)
