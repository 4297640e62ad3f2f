"""Train RDN: the Ascend ModelZoo ID3004 port's train.py, with its constants made flags.

L1 loss, Adam, MultiStepLR; per iteration ``===> Epoch[e](i/n): Loss: ...``, per epoch ``===> Epoch e
Complete: Avg. Loss: ...``, then the epoch's seconds on a line of their own, then ``===> Avg. PSNR: ...``
(the real PSNR of ``common.metrics`` with its protocol label, and the port's legacy figure beside it).
Checkpoints ``<output_path>/ckpt/RDN/rdn-<epoch>_<step>.pth`` (state dicts: model, optimizer,
scheduler, loss scaler, counters, RNG states, history) at every epoch end and every
``--save_checkpoint_steps`` steps; ``--resume`` continues a killed run exactly where its newest
readable checkpoint stopped. TensorBoard scalars in ``<output_path>/tensorboard``, ``train_loss.csv``,
``val.csv`` and ``curves.png`` beside it.

Data parallel: started by ``torchrun`` (``test/train_full_8p.sh``), each process trains on its shard
of every global batch of ``--batchSize`` x ranks samples with DDP (``torchzoo.dist``: HCCL on Ascend,
NCCL on CUDA, gloo on the CPU); rank 0 alone prints, validates and writes checkpoints and logs, and a
killed multi-process run resumes with ``--resume`` like a single one.

Usage:
    python3 train.py --upscale_factor=4 --datapath=/data/DIV2K --test_path=/data/Set5
    python3 train.py ... --preset=paper --amp=on          # the paper's network, mixed precision
    python3 train.py ... --resume                          # continue a killed run
    torchrun --nproc_per_node=8 train_npu.py ...           # data parallel, --batchSize per device
"""
# First, before torch loads: importing torchzoo sets the OpenMP wait policy (torchzoo/__init__.py).
import torchzoo  # noqa: F401

import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from common.imgio import float2uint8
from common.metrics import evaluate_pairs, protocol
from common.runs import CheckpointDir, epoch_order, make_output_dir
from dataset import EpochSampler, ReferenceCrops, to_tensor
from model.rdn import PRESETS, build_rdn
from torchzoo import dist, lifecycle
from torchzoo.checkpoint import capture_rng
from torchzoo.cli import Parser, run_cli, str2bool
from torchzoo.device import DEVICES
from torchzoo.precision import AMP_CHOICES, setup_training
from torchzoo.trainlog import TrainLog
from utils import (CKPT_PREFIX, CKPT_SUFFIX, colour_of, get_test_set, get_training_set, legacy_psnr, load_model,
                   resolve_datapath, super_resolve, ycbcr_of_run)

HERE = Path(__file__).resolve().parent

# Training defaults of each preset; a flag given on the command line wins.
TRAIN_PRESETS = {
    'reference': dict(lr=1e-3, nEpochs=1000, batchSize=8, patch_size=256, milestones='50,75,100', gamma=0.5),
    'paper': dict(lr=1e-4, nEpochs=1000, batchSize=16, patch_size=None, milestones='200,400,600,800', gamma=0.5),
    'bench': dict(lr=1e-3, nEpochs=1000, batchSize=16, patch_size=128, milestones='', gamma=0.5),
}
IDENTITY = ('upscale_factor', 'datapath', 'preset', 'pipeline', 'lr', 'batchSize', 'patch_size', 'milestones',
            'gamma', 'dataset_enlarge_ratio', 'seed', 'precision', 'pre_trained_path', 'world_size')


def build_parser(npu_script=False):
    """The flags of train.py (``npu_script``: train_npu.py, whose device default is the NPU)."""
    p = Parser(description=__doc__.split('\n\n')[0], prog='train_npu.py' if npu_script else 'train.py')
    bool_flag = dict(type=str2bool, nargs='?', const=True, default=False)
    p.add_argument('--upscale_factor', type=int, default=4, help='super-resolution scale: 2, 3 or 4')
    p.add_argument('--datapath', default='./', help='data folder: <datapath>/train and /test (HR images), '
                   'or DIV2K_train_HR (+ DIV2K_train_LR_bicubic/X<s>), or DIV2K_train_HR.lmdb')
    p.add_argument('--model', default='RDN', help='network (only RDN is ported)')
    p.add_argument('--threads', type=int, default=4, help='DataLoader worker processes (0: load in this process)')
    p.add_argument('--lr', type=float, default=None, help='Adam learning rate (default: the preset\'s)')
    p.add_argument('--nEpochs', type=int, default=None, help='epochs (default: the preset\'s, 1000)')
    p.add_argument('--batchSize', type=int, default=None, help='training batch size (default: the preset\'s)')
    p.add_argument('--testBatchSize', type=int, default=4, help='test batch size of the reference pipeline '
                   '(whole test images run one at a time)')
    p.add_argument('--preset', default='reference', choices=list(PRESETS),
                   help='reference: the port (D3 C3 G64, Y); paper: D16 C8 G64 RGB; bench: the CPU bench network')
    p.add_argument('--amp', default='auto', choices=AMP_CHOICES, help='precision: auto (apex O2 on Ascend, fp16 on '
                   'CUDA, bf16 on CPUs with hardware bfloat16, else fp32), on, off/fp32, bf16, fp16, apex')
    p.add_argument('--resume', **bool_flag, help='continue the run in <output_path>/ckpt/RDN from its newest checkpoint')
    p.add_argument('--overwrite', **bool_flag, help='start over, deleting the checkpoints in <output_path>/ckpt/RDN')
    p.add_argument('--seed', type=int, default=0, help='seed of the initial weights, data order and augmentations')
    p.add_argument('--output_path', default='.', help='checkpoints in <output_path>/ckpt/RDN, logs and curves here')
    p.add_argument('--device', default='npu' if npu_script else 'auto', choices=DEVICES,
                   help='where to train (an unavailable NPU falls back to auto in train_npu.py)')
    p.add_argument('--pipeline', default='standard', choices=('standard', 'reference'),
                   help='standard: random patches, 8 flips/rotations, MATLAB bicubic LR; reference: the port\'s '
                   'centre crop of 256 with PIL bilinear LR (to compare with the seed\'s table)')
    p.add_argument('--patch_size', type=int, default=None, help='HR patch side (default: the preset\'s; paper: '
                   '96 at x2/x3, 128 at x4)')
    p.add_argument('--dataset_enlarge_ratio', type=int, default=1, help='random patches per image per epoch')
    p.add_argument('--test_path', default='', help='validation set: Set5 layout (HR/x<s>, LR_bicubic/x<s>) or a '
                   'folder of HR images (default: <datapath>/test when it exists)')
    p.add_argument('--milestones', default=None, help='epochs (may be fractional) after which the lr is multiplied '
                   'by --gamma, comma-separated (default: the preset\'s; "" for none)')
    p.add_argument('--gamma', type=float, default=None, help='lr factor at each milestone (default: 0.5)')
    p.add_argument('--max_steps', type=int, default=0, help='stop after this many steps in all (0: run nEpochs)')
    p.add_argument('--save_checkpoint_steps', type=int, default=1000,
                   help='also checkpoint every this many steps inside an epoch (0: epoch ends only)')
    p.add_argument('--keep_checkpoint_max', type=int, default=10, help='checkpoints kept (0: all)')
    p.add_argument('--pre_trained_path', default='', help='initialise the weights from this checkpoint (file or folder)')
    p.add_argument('--allow_pickle', **bool_flag, help='let --pre_trained_path be the reference\'s whole-module pickle '
                   '(unpickling runs code from the file: only for files you trust)')
    p.add_argument('--channels_last', **bool_flag, help='train in the channels-last memory format (faster '
                   'convolutions on CPU with oneDNN)')
    p.add_argument('--tensorboard', type=str2bool, nargs='?', const=True, default=True, help='write TensorBoard events')
    p.add_argument('--modelzoo_dir', default='', help='write the ModelZoo case files (${CaseName}.log, _loss.txt) '
                   'here and print the Final result block (the test/*.sh scripts set it)')
    p.add_argument('--perf', **bool_flag, help='with --modelzoo_dir: a performance case (perf) instead of acc')
    p.add_argument('--record_ranks', **bool_flag, help='write <output_path>/ranks.json: per rank, the (epoch, '
                   'index) keys it trained on in this process and a digest of its final weights (to check '
                   'data parallelism)')
    return p


def parse_args(argv=None, npu_script=False):
    """Parse and check the flags, fill the preset's defaults; raises ValueError naming a bad flag."""
    args = build_parser(npu_script).parse_args(argv)
    args.npu_script = npu_script
    for key, value in TRAIN_PRESETS[args.preset].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.patch_size is None:
        args.patch_size = 96 if args.upscale_factor in (2, 3) else 128
    if args.model != 'RDN':
        raise ValueError(f'--model={args.model}: only RDN is ported here (the reference\'s Upconv/SRCNN are not)')
    if args.upscale_factor not in (2, 3, 4):
        raise ValueError(f'--upscale_factor={args.upscale_factor}: RDN supports 2, 3 and 4')
    for key in ('nEpochs', 'batchSize', 'testBatchSize', 'dataset_enlarge_ratio'):
        if getattr(args, key) < 1:
            raise ValueError(f'--{key} must be >= 1, got {getattr(args, key)}')
    for key in ('threads', 'max_steps', 'save_checkpoint_steps', 'keep_checkpoint_max'):
        if getattr(args, key) < 0:
            raise ValueError(f'--{key} must be >= 0, got {getattr(args, key)}')
    if not args.lr > 0 or not math.isfinite(args.lr):
        raise ValueError(f'--lr must be > 0, got {args.lr}')
    if not 0 < args.gamma <= 1:
        raise ValueError(f'--gamma must be in (0, 1], got {args.gamma}')
    if args.pipeline == 'standard' and (args.patch_size < args.upscale_factor or args.patch_size % args.upscale_factor):
        raise ValueError(f'--patch_size={args.patch_size} must be a positive multiple of --upscale_factor={args.upscale_factor}')
    try:
        args.milestone_epochs = sorted(float(m) for m in str(args.milestones).split(',') if m.strip())
    except ValueError:
        raise ValueError(f'--milestones={args.milestones}: expected comma-separated numbers of epochs, e.g. 50,75,100') from None
    if args.modelzoo_dir == '' and args.perf:
        raise ValueError('--perf needs --modelzoo_dir')
    return args


def log(line):
    """Print a log line above any tqdm bar (rank 0 only in a data-parallel run)."""
    if dist.is_main():
        tqdm.write(line, file=sys.stdout)
        sys.stdout.flush()


# --- validation ---------------------------------------------------------------------------------

def test(model, test_set, args, device):
    """Validate: ``{'psnr', 'ssim', 'legacy_psnr'}`` and the printed line (see the module docstring)."""
    model.eval()
    proto = protocol(args.upscale_factor, test_y_channel=True)
    if isinstance(test_set, ReferenceCrops):
        metrics, where = _test_reference_crops(model, test_set, args, device), ' on the reference pipeline crops'
    else:
        pairs, legacy = [], []
        for name, lr, hr in test_set:
            sr, out = super_resolve(model, lr, args.upscale_factor, device)
            target = to_tensor(hr, colour_of(model)).numpy()
            legacy.append(legacy_psnr(out, target))
            pairs.append((name, sr, hr))
        rows = evaluate_pairs(pairs, crop_border=args.upscale_factor)
        metrics = {'psnr': float(np.mean([r['psnr'] for r in rows])), 'ssim': float(np.mean([r['ssim'] for r in rows])),
                   'legacy_psnr': float(np.mean(legacy))}
        where = ''
    model.train()
    log('===> Avg. PSNR: {:.6f} dB [{}{}] SSIM: {:.4f}; legacy 10*log10(1/L1): {:.6f} dB (the reference\'s "PSNR", '
        'not a PSNR)'.format(metrics['psnr'], proto['label'], where, metrics['ssim'], metrics['legacy_psnr']))
    return metrics


def _test_reference_crops(model, crops, args, device):
    """The port's test: legacy figure per batch of --testBatchSize; real PSNR/SSIM of each crop."""
    loader = DataLoader(crops, batch_size=args.testBatchSize, shuffle=False, num_workers=0)
    legacy, pairs = [], []
    dtype = next(model.parameters()).dtype
    with torch.no_grad():
        for batch, (x, y) in enumerate(loader):
            out = model(x.to(device, dtype)).float().cpu()
            legacy.append(legacy_psnr(out.numpy(), y.numpy()))
            for k in range(out.shape[0]):
                pairs.append((f'{batch}_{k}', float2uint8(out[k].numpy().transpose(1, 2, 0)),
                              float2uint8(y[k].numpy().transpose(1, 2, 0))))
    rows = evaluate_pairs(pairs, crop_border=args.upscale_factor)
    return {'psnr': float(np.mean([r['psnr'] for r in rows])), 'ssim': float(np.mean([r['ssim'] for r in rows])),
            'legacy_psnr': float(np.mean(legacy))}


# --- training -----------------------------------------------------------------------------------

def checkpoint_state(model, optimizer, scheduler, precision, args, arch, epoch, in_epoch, global_step, trainlog, seconds):
    """What a checkpoint holds (tensors and plain values only: read back with weights_only=True)."""
    return {'format': 'srzoo.rdn.train/1', 'model': model.state_dict(), 'optimizer': optimizer.state_dict(),
            'scheduler': scheduler.state_dict(), 'precision': precision.state_dict(), 'epoch': epoch,
            'step_in_epoch': in_epoch, 'global_step': global_step, 'rng': capture_rng(), 'history': trainlog.state(),
            'train_seconds': seconds, 'arch': arch, 'preset': args.preset,
            'ycbcr': ycbcr_of_run(args.pipeline, arch['num_in_ch']),    # the Y it reads: inference follows it
            'identity': {k: getattr(args, k) for k in IDENTITY}}



def run(args):
    """Train with parsed args; returns ``(summary dict, model)`` (also used by bench.py)."""
    device, plan, args.precision = lifecycle.choose_device(args.device, args.amp, fallback=args.npu_script)
    args.world_size = plan.world_size
    root = resolve_datapath(args.datapath)
    args.datapath = str(root.resolve())
    arch = dict(PRESETS[args.preset], upscale=args.upscale_factor)
    colour = 'y' if arch['num_in_ch'] == 1 else 'rgb'
    log(f'===> device: {plan.device_name}; {args.preset} preset; colour {colour}; x{args.upscale_factor}')
    log('===> Loading datasets')
    train_set, how = get_training_set(args.upscale_factor, root, args.pipeline, args.patch_size, colour, args.seed,
                                      args.dataset_enlarge_ratio)
    test_set, test_how = get_test_set(args.upscale_factor, root, args.pipeline, colour, args.test_path)
    train_set[(0, 0)]                                         # read one sample now: bad data fails before training
    test_folder = Path(args.test_path) if args.test_path else root / 'test'
    lifecycle.check_outside_data(args.output_path, '--output_path',
                                 [(folder, '--datapath') for folder in train_set.folders] +
                                 [(test_folder if test_set is not None else None, '--test_path' if args.test_path
                                   else '--datapath'), (root, '--datapath')])
    n = len(train_set)
    loader = make_loader(train_set, args, plan, device)
    log(f'===> Datasets Loading Complete: train {how}, {n} samples per epoch; test {test_how}')
    with lifecycle.process_group(device) as plan:             # every rank sees the same data: all fail alike
        dist.every_rank(lambda: dist.check_shards(n, args.batchSize, plan.world_size))
        if plan.distributed:
            log(f'===> data parallel: {plan.world_size} ranks x batchSize {args.batchSize} = global batch '
                f'{plan.world_size * args.batchSize}, {loader.sampler.steps_per_epoch} steps per epoch '
                f'({plan.backend} on {device.type}; an incomplete last global batch is dropped)')
        return _train(args, plan, arch, loader, test_set)


def make_loader(train_set, args, plan, device):
    """The training DataLoader: this rank's shard of each epoch's seeded order (all of it for one process)."""
    n = len(train_set)
    if plan.distributed:
        sampler = dist.RankShardSampler(lambda e: [(e, int(i)) for i in epoch_order(n, args.seed, e)], n,
                                        args.batchSize, plan.rank, plan.world_size)
    else:
        sampler = EpochSampler(n, args.seed, batch=args.batchSize)
    workers = args.threads
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else (os.cpu_count() or 1)
    if workers > cores:
        log(f'notice: --threads={workers} is more than the {cores} cores here; using {cores} DataLoader workers')
        workers = cores
    # Workers are spawned, not forked: a forked worker would share the checkpoint folder's lock and keep
    # it held for seconds after the trainer is killed, so an immediate --resume would be refused.
    return DataLoader(train_set, batch_size=args.batchSize, sampler=sampler, num_workers=workers,
                      persistent_workers=workers > 0, pin_memory=device.type == 'cuda',
                      multiprocessing_context='spawn' if workers else None)


def _open_run(args):
    """Rank 0: the output folder, and its checkpoint folder locked and holding this run's identity (a
    refusal, e.g. --resume with nothing to resume, leaves no folder behind)."""
    with lifecycle.removed_if_failed(Path(args.output_path) / 'ckpt' / 'RDN'):
        out_dir = make_output_dir(args.output_path, '--output_path')
        ckpts = CheckpointDir(out_dir / 'ckpt' / 'RDN', CKPT_PREFIX, CKPT_SUFFIX, flag='--output_path')
        ckpts.open({k: getattr(args, k) for k in IDENTITY}, resume=args.resume, overwrite=args.overwrite)
    return ckpts


def _train(args, plan, arch, loader, test_set):
    log('===> Model Initialize')
    torch.manual_seed(args.seed)
    model = build_rdn(args.preset, args.upscale_factor)
    if args.pre_trained_path and not args.resume:
        pretrained, info = load_model(args.pre_trained_path, args.allow_pickle, flag='--pre_trained_path')
        try:
            model.load_state_dict(pretrained.state_dict())
        except RuntimeError:
            raise ValueError(f"--pre_trained_path={info['path']}: an RDN of another shape ({info['arch']}) than "
                             f'the {args.preset} preset at x{args.upscale_factor}') from None
        log(f'===> initialised from {info["path"]} ({info["source"]})')
    steps_per_epoch = len(loader)
    total = args.nEpochs * steps_per_epoch
    total = min(total, args.max_steps) if args.max_steps else total
    training = lifecycle.Training(plan, loader.sampler, steps_per_epoch, total, args.batchSize, args.record_ranks)
    with training.run_folder(lambda: _open_run(args)):
        steps = Steps(args, plan, model, arch, steps_per_epoch, test_set)
        log(steps.precision.describe())
        history = steps.resume(training) if training.resumed else None
        steps.trainlog = TrainLog(Path(args.output_path), f'RDN x{args.upscale_factor} ({args.preset})', history,
                                  args.tensorboard and training.main)
        log('===> Model Initialize Complete')
        steps.net.train()
        try:
            training.loop(steps, loader)
        finally:
            steps.trainlog.close()
        return _summary(args, training, steps), steps.model


class Steps(lifecycle.Recipe):
    """RDN's part of the loop: the L1 step, the port's log lines, validation and checkpoints each epoch.

    Args:
        args (argparse.Namespace): The parsed flags.
        plan (dist.Plan): This process's device and ranks.
        model (RDN): The network, on the CPU.
        arch (dict): Its constructor arguments (kept in checkpoints).
        steps_per_epoch (int): For the lr milestones, given in epochs.
        test_set: From ``utils.get_test_set`` (None: no validation).
    """

    def __init__(self, args, plan, model, arch, steps_per_epoch, test_set):
        self.args, self.arch, self.test_set, self.device = args, arch, test_set, plan.device
        self.memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
        model = model.to(self.device, memory_format=self.memory_format)
        self.model, self.optimizer, self.precision = setup_training(model, args.precision, self.device.type, args.lr)
        self.net = dist.wrap_ddp(self.model, plan)            # forward/backward through DDP; state of `model`
        milestones = [max(1, int(round(m * steps_per_epoch))) for m in args.milestone_epochs]
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, milestones=milestones, gamma=args.gamma)
        self.criterion = nn.L1Loss()
        self.trainlog, self.bar, self.epoch_started = None, None, None

    def resume(self, training):
        """Continue from the newest readable checkpoint; returns its training history."""
        state, path = training.load_latest('--resume')
        self.model.load_state_dict(state['model'])
        self.optimizer.load_state_dict(state['optimizer'])
        self.scheduler.load_state_dict(state['scheduler'])
        self.precision.load_state_dict(state['precision'])
        training.restore(state['global_step'], state['train_seconds'], state['rng'])
        log(f'===> resuming from {path} (epoch {state["epoch"]}, step {state["step_in_epoch"]} of it; '
            f'global step {training.global_step})')
        return state['history']

    def save(self, training):
        if training.main:
            training.save(checkpoint_state(self.model, self.optimizer, self.scheduler, self.precision, self.args,
                                           self.arch, training.epoch, training.in_epoch, training.global_step,
                                           self.trainlog, training.train_seconds()),
                          keep_max=self.args.keep_checkpoint_max or None)

    def begin_epoch(self, training):
        log(f'===> Training # {training.epoch} epoch')
        self.epoch_started = time.time()

    def batches(self, loader, training):
        self.bar = tqdm(loader, desc=f'epoch {training.epoch}', initial=training.in_epoch,
                        total=training.steps_per_epoch, disable=None if training.main else True, leave=False)
        return self.bar

    def step(self, batch, training):
        x = batch[0].to(self.device, non_blocking=True, memory_format=self.memory_format)
        y = batch[1].to(self.device, non_blocking=True)
        lr = self.scheduler.get_last_lr()[0]
        self.optimizer.zero_grad(set_to_none=True)
        with self.precision.autocast():
            out = self.net(x)
        loss = self.criterion(out.float(), y)          # mean over this rank's batch; DDP averages the gradients
        self.precision.backward_step(loss, self.optimizer)
        self.scheduler.step()
        value = dist.all_mean(loss.detach())           # the global batch's loss, the same on every rank
        if not math.isfinite(value):
            raise ValueError(f'loss is {value} at epoch {training.epoch}, step {training.in_epoch}; lower --lr')
        return value, lr

    def after_step(self, values, training):
        value, lr = values
        self.trainlog.step(training.global_step, value, lr)
        log('===> Epoch[{}]({}/{}): Loss: {:.6f}'.format(training.epoch, training.in_epoch, training.steps_per_epoch,
                                                         value))
        every = self.args.save_checkpoint_steps       # inside an epoch: its end is saved by end_epoch
        if every and training.global_step % every == 0 and training.in_epoch < training.steps_per_epoch \
                and training.global_step < training.total_steps:
            self.save(training)

    def end_epoch(self, training):
        self.bar.close()
        epoch, per_epoch = training.epoch, training.steps_per_epoch
        if training.in_epoch == per_epoch:
            losses = self.trainlog.epoch_losses((epoch - 1) * per_epoch + 1, epoch * per_epoch)
            log('===> Epoch {} Complete: Avg. Loss: {:.6f}'.format(epoch, float(np.mean(losses))))
            log(str(time.time() - self.epoch_started))
        if self.test_set is not None and training.main:
            self.trainlog.validation(epoch, training.global_step, test(self.model, self.test_set, self.args, self.device))
        if training.main:
            self.trainlog.write_files()
        self.save(training)


def _summary(args, training, steps):
    """The run's figures (bench.py reads them); ranks.json and the ModelZoo case files when asked."""
    seconds = training.seconds()
    fps = training.images_per_sec()
    training.write_ranks(args.output_path, lifecycle.weight_arrays({'': steps.model}), fps)
    history, per_epoch = steps.trainlog.state(), training.steps_per_epoch
    epoch_losses = [float(np.mean(steps.trainlog.epoch_losses(e * per_epoch + 1, (e + 1) * per_epoch)))
                    for e in range(training.global_step // per_epoch)]
    best = max((row['psnr'] for row in history['val']), default=None)
    training.modelzoo_summary(args.modelzoo_dir, HERE.name, fps, best, epoch_losses, args.perf)
    return {'device': str(steps.device), 'precision': args.precision, 'steps_per_epoch': per_epoch,
            'global_step': training.global_step, 'steps_run': training.steps_run, 'seconds': seconds,
            'images_per_sec': fps, 'final_loss': history['loss'][-1] if history['loss'] else None,
            'epoch_losses': epoch_losses, 'val': history['val'], 'total_steps': training.total_steps,
            'world_size': training.plan.world_size, 'global_batch': args.batchSize * training.plan.world_size}


def main(argv=None, npu_script=False):
    args = parse_args(argv, npu_script)
    if dist.is_main():
        print(args, flush=True)
    summary, _ = run(args)
    if summary['steps_run'] == 0:
        log(f"nothing to do: {summary['global_step']} of {summary['total_steps']} steps already done")


if __name__ == '__main__':
    run_cli(main)
