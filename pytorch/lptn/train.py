"""Train LPTN: ``PYTHONPATH=./ python3 train.py -opt options/train/LPTN/train_FiveK.yml``.

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
import sys
import time
from pathlib import Path

START = time.time()
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parents[1])]   # models/data/utils, torchzoo, common

import datetime  # noqa: E402
import fcntl  # noqa: E402
import io  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402

import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from common import records  # noqa: E402
from common.fileio import atomic_write_bytes# noqa: E402
from common.runs import CheckpointDir, RunError, make_output_dir  # noqa: E402
from data import build_dataloader, build_dataset  # noqa: E402
from models.lptn_model import LPTNModel  # noqa: E402
from models.lptn_test_model import metric_protocol, nondist_validation  # noqa: E402
from torchzoo import dist  # noqa: E402
from torchzoo.checkpoint import capture_rng, load_state, restore_rng  # noqa: E402
from torchzoo.cli import Parser, run_cli, str2bool  # noqa: E402
from torchzoo.device import select_device  # noqa: E402
from torchzoo.precision import AMP_CHOICES, resolve_amp  # noqa: E402
from torchzoo.trainlog import summary_writer  # noqa: E402
from utils.logger import MessageLogger, close_logger, get_root_logger  # noqa: E402
from utils.options import LAUNCHERS, dict2str, parse  # noqa: E402

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


def _save_network(state_dict, path):
    buf = io.BytesIO()
    torch.save({'params': state_dict}, buf)
    atomic_write_bytes(path, buf.getvalue())


def _to_cpu(state):
    return {k: v.detach().cpu() for k, v in state.items()}


def _digest(model):
    """SHA-256 of both networks' weights: equal replicas, equal digests."""
    import hashlib
    h = hashlib.sha256()
    for name, net in model.networks().items():
        for key, value in ({} if net is None else net.state_dict()).items():
            h.update(f'{name}.{key}'.encode())
            h.update(value.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def run(args, opt):
    """Train; returns a summary dict (also used by bench.py)."""
    if opt['num_gpu'] == 0:
        device = torch.device('cpu')
    else:
        device = select_device('auto')
    plan = dist.plan_from_env(device) if opt['dist'] else dist.plan_from_env(device, {})
    precision_mode = resolve_amp(args.amp, device.type)
    paths = opt['path']
    train_opt, ds_opt = opt['train'], opt['datasets']['train']
    resume_state = paths.get('resume_state')
    exp_root = Path(paths['experiments_root'])
    states_dir = exp_root / 'training_states'
    resume = bool(resume_state) or (args.auto_resume and states_dir.is_dir() and
                                    any(states_dir.glob(f'{CKPT_PREFIX}-*{CKPT_SUFFIX}')))
    # Data first: a missing LMDB or a corrupt image fails before anything is written.
    base = HERE
    train_set = build_dataset(ds_opt, opt['manual_seed'], base)
    train_set[(0, 0)]
    val_set = build_dataset(opt['datasets']['val'], opt['manual_seed'], base)
    val_set[0]
    train_loader, sampler = build_dataloader(train_set, ds_opt, opt['manual_seed'], device.type, plan.rank,
                                             plan.world_size)
    val_loader, _ = build_dataloader(val_set, opt['datasets']['val'], opt['manual_seed'])
    iters_per_epoch = len(train_loader)

    def check_batches():                    # every rank reads the same data: all ranks fail alike
        dist.check_shards(len(train_set), ds_opt['batch_size_per_gpu'], plan.world_size,
                          flag='datasets.train.batch_size_per_gpu')
        if iters_per_epoch == 0:
            raise ValueError(f"datasets.train: {len(train_set)} samples make no batch of batch_size_per_gpu="
                             f"{ds_opt['batch_size_per_gpu']}; raise dataset_enlarge_ratio")

    plan = dist.setup(device)
    try:
        dist.every_rank(check_batches)
        total_epochs = math.ceil(train_opt['total_iter'] / iters_per_epoch)
        device = plan.device
        wanted = (opt.get('dist_params') or {}).get('backend')
        if plan.distributed and dist.is_main() and wanted not in (None, plan.backend):
            print(f'notice: dist_params.backend={wanted}: using {plan.backend}, the backend of {device.type} '
                  f'(the rendezvous port is torchrun\'s --master_port, not dist_params.port)', flush=True)
        model = LPTNModel(opt, device, precision_mode, init_seed=opt['manual_seed'], plan=plan)
        ckpts = None

        def open_run():                     # rank 0 alone archives, creates the folders and holds the states
            nonlocal ckpts
            if not resume:
                _archive(exp_root)
            for key in ('experiments_root', 'models', 'training_states', 'visualization'):
                make_output_dir(paths[key], f'path.{key}')
            ckpts = CheckpointDir(states_dir, CKPT_PREFIX, CKPT_SUFFIX, flag='path.resume_state')
            ckpts.open(_identity(opt), resume=resume)
            return ckpts.resumed

        resumed = dist.agree(open_run)
        try:
            return _train(args, opt, plan, model, train_loader, sampler, val_loader, ckpts, resumed, iters_per_epoch,
                          total_epochs, resume_state)
        except BaseException:
            if ckpts is not None:
                ckpts.close(abandon=True)
            raise
        finally:
            if ckpts is not None:
                ckpts.close()
            close_logger()
    finally:
        dist.teardown()


def _train(args, opt, plan, model, train_loader, sampler, val_loader, ckpts, resumed, iters_per_epoch, total_epochs,
           resume_state):
    paths, train_opt = opt['path'], opt['train']
    device, main = plan.device, dist.is_main()
    exp_root = Path(paths['experiments_root'])
    stamp = datetime.datetime.now().strftime('%Y%m%d_%H%M%S')
    if main:
        logger = get_root_logger(exp_root / f"train_{opt['name']}_{stamp}.log")
    else:                                   # the other ranks log warnings only, to the console (BasicSR's way)
        logger = get_root_logger()
        logger.setLevel(logging.WARNING)
    logger.info(dict2str(opt))
    logger.info(model.precision.describe())
    current_iter, seconds_before, val_history, log_history = 0, 0.0, [], []
    if resumed:
        def read():                         # rank 0 reads; every rank gets the state
            if resume_state:
                return load_state(Path(resume_state), 'path.resume_state'), Path(resume_state)
            found, _, _, where = ckpts.load_latest(lambda p: load_state(p, '--auto_resume'), warn=logger.warning)
            return found, where
        state, path = dist.agree(read)
        model.load_state_dict(state['model'])
        restore_rng(state['rng'])
        current_iter, seconds_before = state['iter'], state['train_seconds']
        val_history, log_history = list(state['val_history']), list(state['log_history'])
        logger.info(f"Resuming training from epoch: {state['epoch']}, iter: {current_iter} ({path}).")
    total_iter = train_opt['total_iter']
    logger.info(f"Training statistics:\n\tNumber of train images: {len(train_loader.dataset) // max(1, train_loader.dataset.enlarge)}"
                f"\n\tDataset enlarge ratio: {train_loader.dataset.enlarge}"
                f"\n\tBatch size per gpu: {opt['datasets']['train']['batch_size_per_gpu']}"
                f'\n\tWorld size (gpu number): {plan.world_size}\n\tRequire iter number per epoch: {iters_per_epoch}'
                f'\n\tTotal epochs: {total_epochs}; iters: {total_iter}.')
    crop, y_channel, proto = metric_protocol(opt)
    logger.info(f"Validation metric: PSNR and SSIM [{proto['label']}] (common.metrics)")
    tb = None
    if opt['logger']['use_tb_logger'] and 'debug' not in opt['name'] and main:
        tb = summary_writer(exp_root / 'tb_logger', purge_step=current_iter + 1 if resumed else None)
    msg_logger = MessageLogger(opt, current_iter, tb)
    begin, iters_run, timed = time.time(), 0, [0, 0.0]     # timed: iterations after the first of this process, seconds
    batch = opt['datasets']['train']['batch_size_per_gpu']

    def save(epoch, in_epoch):
        if not main:
            return
        for name, net in model.networks().items():
            if net is not None:
                _save_network(_to_cpu(net.state_dict()), Path(paths['models']) / f'{name}_{current_iter}.pth')
        state = {'format': 'srzoo.lptn.train/1', 'model': model.state_dict(), 'epoch': epoch, 'iter': current_iter,
                 'step_in_epoch': in_epoch, 'rng': capture_rng(), 'train_seconds': seconds_before + time.time() - begin,
                 'val_history': val_history, 'log_history': log_history}
        ckpts.save(epoch, in_epoch, lambda tmp: torch.save(state, str(tmp)))
        logger.info('Saving models and training states.')

    def validate():
        if not main:                        # rank 0 validates (the reference's nondist_validation)
            return None
        result = nondist_validation(model, val_loader, opt, current_iter, opt['val']['save_img'],
                                    paths['visualization'], tb)
        val_history.append({'iter': current_iter, 'psnr': result['psnr'], 'ssim': result['ssim']})
        return result

    logger.info(f'Start training from epoch: {current_iter // iters_per_epoch}, iter: {current_iter}')
    bar = tqdm(total=total_iter, initial=current_iter, desc='train', unit='iter', disable=None if main else True,
               leave=False)
    seen = []                               # with --record_ranks: the sample keys of this process's iterations
    try:
        while current_iter < total_iter:
            epoch0, done = divmod(current_iter, iters_per_epoch)
            sampler.set_epoch(epoch0, done)
            if args.record_ranks:
                seen.extend([int(e), int(i)] for e, i in list(sampler)[:(total_iter - current_iter) * batch])
            in_epoch, data_start = done, time.time()
            for data in train_loader:
                data_time, iter_start = time.time() - data_start, time.time()
                current_iter, in_epoch = current_iter + 1, in_epoch + 1
                model.update_learning_rate()
                log = model.optimize_parameters(data, current_iter)
                iters_run += 1
                iter_time = time.time() - iter_start
                if iters_run > 1:
                    timed[0], timed[1] = timed[0] + 1, timed[1] + iter_time + data_time
                bar.update(1)
                if current_iter % opt['logger']['print_freq'] == 0 or current_iter == total_iter:
                    log = {key: dist.all_mean(value) for key, value in log.items()}   # means over the ranks
                    msg_logger({'epoch': epoch0 + 1, 'iter': current_iter, 'lrs': model.get_current_learning_rate(),
                                'time': iter_time, 'data_time': data_time, **log})
                    log_history.append({'iter': current_iter, **log})
                if current_iter % opt['val']['val_freq'] == 0 and current_iter < total_iter:
                    validate()
                if current_iter % opt['logger']['save_checkpoint_freq'] == 0 and current_iter < total_iter:
                    save(epoch0 + 1, in_epoch)
                if current_iter >= total_iter:
                    break
                data_start = time.time()
        bar.close()
        if iters_run:
            final = validate()
            save(current_iter // iters_per_epoch + (current_iter % iters_per_epoch > 0), in_epoch)
            if main:
                _save_network(_to_cpu(model.net_g.state_dict()), Path(paths['models']) / 'net_g_latest.pth')
        else:
            final = None
            logger.info(f'nothing to do: {current_iter} of {total_iter} iterations already done')
    finally:
        bar.close()
        if tb is not None:
            tb.close()
    seconds = time.time() - begin
    ips = timed[0] * batch * plan.world_size / timed[1] if timed[0] else None
    if args.record_ranks:
        ranks = dist.all_gather_object({'rank': plan.rank, 'samples': seen, 'weights_sha256': _digest(model)})
        if main:
            import json
            atomic_write_bytes(exp_root / 'ranks.json', json.dumps(
                {'world_size': plan.world_size, 'batch_per_rank': batch, 'global_batch': batch * plan.world_size,
                 'steps': iters_run, 'images_per_sec': ips, 'ranks': ranks}).encode())
    logger.info(f'End of training. Time consumed: {datetime.timedelta(seconds=int(seconds))}')
    summary = {'device': str(device), 'precision': model.precision.mode, 'iters_run': iters_run, 'iter': current_iter,
               'seconds': seconds, 'seconds_total': seconds_before + seconds, 'images_per_sec': ips,
               'iters_per_epoch': iters_per_epoch, 'val': val_history, 'log': log_history,
               'final': final, 'model': model}
    if args.modelzoo_dir and ips and main:
        losses = [row['l_d_real'] if 'l_d_real' in row else row['l_g_pix'] for row in log_history]
        records.modelzoo_summary(make_output_dir(args.modelzoo_dir, '--modelzoo_dir'), HERE.name, batch, ips,
                                 batch / ips, time.time() - START,
                                 train_accuracy=val_history[-1]['psnr'] if val_history else None,
                                 losses=losses, perf=args.perf, rank_size=plan.world_size)
    return summary


def main(argv=None):
    args, opt = parse_options(argv)
    run(args, opt)


if __name__ == '__main__':
    run_cli(main)
