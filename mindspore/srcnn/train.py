"""Train SRCNN on the mindrecord made by src/create_dataset.py.

Adam (eps 1e-7), MSE on Y patches, GRAPH mode. Checkpoints <output_path>/ckpt_0/srcnn-<epoch>_<step>.ckpt
(the reference's ModelCheckpoint naming) at every epoch end and every save_checkpoint_steps steps,
at most keep_checkpoint_max kept; the loss curve in <output_path>/loss_steps.csv, loss_epochs.csv and
loss_curve.png.

A run survives `kill -9`: each epoch's patch order derives from (seed, epoch) alone, and a checkpoint
holds the weights, the Adam moments and the global step, so `--resume=True` continues exactly where
the newest readable checkpoint stopped (the lr schedule and the step or time budget carry on). The
checkpoint folder carries the run's identity (run.json) and a lock: a fresh run refuses a folder that
holds another run's checkpoints (give --resume=True or --overwrite=True), a resume refuses settings
that differ from the run's, and two trainings cannot write into one folder at once.

Data parallel (``--run_distribute=True``, the processes started by msrun, mpirun or the rank-table
script; src/distributed.py): rank r trains on every group-th patch of each epoch's order, so a step's
patches over all ranks are the global batch of one process with ``batch_size x ranks``; the gradients
are averaged (DATA_PARALLEL, gradients_mean). Rank 0 alone writes checkpoints (ckpt_0/); a resumed
multi-process run starts every rank from the checkpoint rank 0 reads.

Usage:
    python train.py --data_path=/dataset/mindrecord --output_path=/output [--device_target=CPU]
    python train.py ... --pre_trained_path=ckpt        # initialise from a checkpoint (fine-tune)
    python train.py ... --resume=True                  # continue a killed run from its last checkpoint
    msrun --worker_num=2 --local_worker_num=2 --join=True train.py ... --run_distribute=True --device_target=CPU
"""
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from common.cli import run_cli
from common.fileio import check_disjoint
from common.runs import CheckpointDir, epoch_order, make_output_dir, weights_digest, write_ranks
from src.dataset import open_train_set, train_batches
from src.distributed import agree, all_mean, every_rank, gather_object, init_distributed, planned_group
from src.model_utils.config import ConfigError, load_config
from src.srcnn import SRCNN, identity_init
from src.train_log import TrainLogger
from src.utils import loss_scale_manager, precision_note, require_file, resolve_amp_level, setup_device

# MindSpore after `src`: importing src sets the oneDNN CPU default first (src/__init__.py)
import mindspore as ms
from mindspore import nn

# Settings that define a run: a resume must use the same values (common.runs.CheckpointDir).
IDENTITY_KEYS = ('lr', 'batch_size', 'seed', 'init', 'lr_drop_at', 'amp_level', 'scale', 'patch_size',
                 'pre_trained_path', 'filter_weight', 'device_num', 'run_distribute')


def check_options(cfg):
    """One error line for an option outside its range, before anything runs."""
    if str(cfg.enable_modelarts) != 'False':
        raise ConfigError('--enable_modelarts: ModelArts is not supported in this repository; keep it "False"')
    if cfg.init not in ('default', 'identity'):
        raise ConfigError(f"--init must be 'default' or 'identity', got {cfg.init!r}")
    for key in ('batch_size', 'epoch_size'):
        if getattr(cfg, key) < 1:
            raise ConfigError(f'--{key} must be >= 1, got {getattr(cfg, key)}')
    for key in ('max_steps', 'save_checkpoint_steps', 'keep_checkpoint_max'):
        if getattr(cfg, key) < 0:
            raise ConfigError(f'--{key} must be >= 0, got {getattr(cfg, key)}')
    if not cfg.lr > 0:
        raise ConfigError(f'--lr must be > 0, got {cfg.lr}')
    if not 0.0 <= cfg.lr_drop_at < 1.0:
        raise ConfigError(f'--lr_drop_at must be in [0, 1), got {cfg.lr_drop_at}')
    if cfg.max_train_seconds < 0:
        raise ConfigError(f'--max_train_seconds must be >= 0, got {cfg.max_train_seconds}')
    if cfg.pre_trained_path and not cfg.resume:
        require_file(cfg.pre_trained_path, 'pre_trained_path')


def lr_at(step, cfg, total_steps):
    """The learning rate of global step `step` (0-based): cfg.lr, divided by 10 from lr_drop_at * total on."""
    if cfg.lr_drop_at and step >= int(round(cfg.lr_drop_at * total_steps)):
        return cfg.lr / 10.0
    return cfg.lr


def load_pretrained(cfg, net):
    """Apply --pre_trained_path (weights only; filter_weight skips conv3)."""
    path = require_file(cfg.pre_trained_path, 'pre_trained_path')
    params = read_checkpoint(path)
    if cfg.filter_weight:
        # The reference filtered `net.end_point`, which SRCNN lacks; the end point is conv3.
        for name in [p.name for p in net.conv3.get_parameters()]:
            params.pop(name, None)
    missing, _ = ms.load_param_into_net(net, params)
    if missing and not cfg.filter_weight:
        raise ValueError(f'--pre_trained_path={path}: checkpoint lacks parameters {missing}; is it an SRCNN checkpoint?')
    print(f'initialised from {path}', flush=True)


def read_checkpoint(path):
    """ms.load_checkpoint with a one-line error naming the file (empty, truncated or not a checkpoint)."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise ValueError(f'{path}: empty checkpoint file (0 bytes)')
    try:
        return ms.load_checkpoint(str(path))
    except (RuntimeError, ValueError, TypeError) as err:
        raise ValueError(f'{path}: not a readable MindSpore checkpoint ({str(err).strip().splitlines()[0]})') from None


def check_data(cfg, planned):
    """The training set (src.dataset.open_train_set) and the steps of one epoch for `planned` ranks.

    Every rank reads the same data, so every rank fails alike (src.distributed.every_rank).
    """
    data = open_train_set(cfg.data_path, cfg.scale, cfg.patch_size)
    steps = data['patches'] // planned // cfg.batch_size
    if steps == 0 and planned > 1:
        raise ValueError(f'{planned} ranks x --batch_size={cfg.batch_size} = global batch '
                         f'{planned * cfg.batch_size} is more than the {data["patches"]} patches of '
                         f'--data_path={cfg.data_path}: every rank needs its own shard; use fewer ranks, a '
                         f'smaller --batch_size or more data')
    if steps == 0:
        raise ValueError(f'--data_path={cfg.data_path}: fewer patches ({data["patches"]}) than one batch of '
                         f'{cfg.batch_size}')
    return data, steps


@dataclasses.dataclass
class Plan:
    """What this process trains: its rank in the group, the training set and the step counts."""
    rank: int
    group: int
    data: dict
    steps_per_epoch: int
    total_steps: int


def train(cfg):
    """Run training from a Config; returns (summary dict, trained network) (also used by bench.py)."""
    check_options(cfg)
    target = setup_device(cfg, graph=True)
    planned = planned_group(cfg)
    amp_level = resolve_amp_level(cfg.amp_level, target)
    rank, group = init_distributed(cfg, planned)
    data, steps_per_epoch = every_rank(lambda: check_data(cfg, planned))
    total_steps = cfg.epoch_size * steps_per_epoch
    if cfg.max_steps:
        total_steps = min(total_steps, cfg.max_steps)
    plan = Plan(rank, group, data, steps_per_epoch, total_steps)
    if group > 1:
        cfg.device_num = group
    print(precision_note(amp_level, target), flush=True)
    if group > 1:
        print(f'data parallel: rank {rank} of {group}; {group} ranks x batch_size {cfg.batch_size} = global batch '
              f'{group * cfg.batch_size}, {steps_per_epoch} steps per epoch', flush=True)
    check_disjoint(cfg.output_path, cfg.data_path, '--output_path', '--data_path')
    rank_dir = Path(cfg.output_path) / f'rank_{rank}'
    created = [p for p in (rank_dir, *rank_dir.parents) if not p.exists()]     # removed again if left empty
    out_dir = make_output_dir(cfg.output_path, '--output_path')
    log_dir = out_dir if rank == 0 else make_output_dir(rank_dir, '--output_path')
    ckpts = None

    def open_run():                     # rank 0 alone holds the checkpoint folder
        nonlocal ckpts
        ckpts = CheckpointDir(out_dir / 'ckpt_0', 'srcnn')
        identity = {key: getattr(cfg, key) for key in IDENTITY_KEYS}
        identity['dataset'] = data['fingerprint']
        ckpts.open(identity, resume=cfg.resume, overwrite=cfg.overwrite)
        return ckpts.resumed

    try:
        resumed = agree(rank, open_run) if cfg.save_checkpoint or cfg.resume else False
        summary, net = _train(cfg, target, amp_level, plan, ckpts, resumed, out_dir, log_dir)
    except BaseException:
        if ckpts is not None:
            ckpts.close(abandon=True)     # a fresh run that saved nothing leaves no checkpoint folder
        remove_if_empty(created)
        raise
    if ckpts is not None:
        ckpts.close()
    return summary, net


def remove_if_empty(folders):
    """Remove those of `folders` (in order) that a failed run created and left empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:                   # not empty (an earlier run's files, another rank's), or gone
            pass


def build_network(cfg, target, amp_level):
    """The SRCNN (initialised as --init says), its Adam and the train step: (net, optimiser, train_net)."""
    net = SRCNN()
    if cfg.init == 'identity':
        identity_init(net)
    opt = nn.Adam(net.trainable_params(), learning_rate=float(cfg.lr), eps=1e-7)
    train_net = ms.amp.build_train_network(net, opt, nn.MSELoss(reduction='mean'), level=amp_level,
                                           loss_scale_manager=loss_scale_manager(amp_level, target))
    return net, opt, train_net


def _read_resume_state(ckpts):
    """Rank 0: the newest readable checkpoint as plain arrays (to hand to every rank) and its path."""
    state, _, _, path = ckpts.load_latest(read_checkpoint)
    return {name: value.asnumpy() for name, value in state.items()}, str(path)


def restore(cfg, plan, ckpts, resumed, net, train_net):
    """Where training starts: a resumed run's newest checkpoint (rank 0 reads it, every rank loads it
    into the train step: weights, Adam moments, counters), else the --pre_trained_path weights.

    Returns:
        tuple[int, float]: Global steps already done and the training seconds they took.
    """
    if not resumed:
        if cfg.pre_trained_path:
            load_pretrained(cfg, net)
        return 0, 0.0
    arrays, path = agree(plan.rank, lambda: _read_resume_state(ckpts))
    state = {name: ms.Parameter(ms.Tensor(value), name=name) for name, value in arrays.items()}
    missing, _ = ms.load_param_into_net(train_net, state)
    if missing or 'global_step_done' not in state:
        raise ValueError(f'{path}: not a checkpoint of this training (lacks {missing or ["global_step_done"]})')
    done = int(state['global_step_done'].asnumpy())
    seconds_before = float(state['train_seconds'].asnumpy()) if 'train_seconds' in state else 0.0
    print(f'resuming from {path} (epochs done: {done // plan.steps_per_epoch}, global step {done})', flush=True)
    return done, seconds_before


class StepLoop:
    """The training steps of one process: lr schedule, time budget, periodic atomic checkpoints.

    Args:
        cfg (Config): The run's settings.
        plan (Plan): Rank, data and step counts.
        train_net (nn.Cell): The train step (network, loss, Adam).
        opt (nn.Adam): Its optimiser (the lr is set per step).
        ckpts (CheckpointDir | None): The opened checkpoint folder (rank 0), else None.
        logger (TrainLogger): Log lines and loss curve.
        seconds_before (float): Training time spent before this process (resume).
    """

    def __init__(self, cfg, plan, train_net, opt, ckpts, logger, seconds_before):
        self.cfg, self.plan, self.train_net, self.ckpts, self.logger = cfg, plan, train_net, ckpts, logger
        self.lr_param, self.current_lr = opt.learning_rate, None
        self.seconds_before = seconds_before
        self.begin = time.time()
        self.stopped_by_budget = False
        self.seen = []                  # with record_ranks: the patches this process trained on

    def elapsed(self):
        """Training seconds of the run so far, over every process that resumed it."""
        return self.seconds_before + time.time() - self.begin

    def run(self, step):
        """Train from global step `step` until the planned steps or the time budget end; returns the last step."""
        self.train_net.set_train()
        while step < self.plan.total_steps and not self.stopped_by_budget:
            step = self.run_epoch(step)
        return step

    def run_epoch(self, step):
        """The rest of the epoch in which global step `step` (done so far) lies; returns the step after it."""
        cfg, plan = self.cfg, self.plan
        epoch, skip = divmod(step, plan.steps_per_epoch)
        order = epoch_order(plan.data['patches'], cfg.seed, epoch)[plan.rank::plan.group]
        order = order[:plan.steps_per_epoch * cfg.batch_size]
        self.logger.epoch_begin()
        if cfg.record_ranks:
            self.seen.extend(int(i) for i in order[skip * cfg.batch_size:(skip + plan.total_steps - step) * cfg.batch_size])
        for lr_batch, hr_batch in train_batches(plan.data, order[skip * cfg.batch_size:], cfg.batch_size,
                                                cfg.num_parallel_workers):
            step = self.train_step(step, epoch, lr_batch, hr_batch)
            in_epoch = step - epoch * plan.steps_per_epoch
            over_time = cfg.max_train_seconds and self.elapsed() >= cfg.max_train_seconds
            if step >= plan.total_steps or over_time:
                self.stopped_by_budget = bool(over_time) and step < plan.total_steps
                break
            if in_epoch < plan.steps_per_epoch and cfg.save_checkpoint_steps and step % cfg.save_checkpoint_steps == 0:
                self.save(epoch + 1, in_epoch, step)
        in_epoch = step - epoch * plan.steps_per_epoch
        if in_epoch == plan.steps_per_epoch:
            self.logger.epoch_end(epoch + 1, plan.steps_per_epoch)
        self.save(epoch + 1, in_epoch, step)
        return step

    def train_step(self, step, epoch, lr_batch, hr_batch):
        """One batch as the global step after `step` (0-based `epoch`); returns that step's number."""
        self.set_lr(step)
        out = self.train_net(lr_batch, hr_batch)
        loss = all_mean(float((out[0] if isinstance(out, (tuple, list)) else out).asnumpy()), self.plan.group)
        step += 1
        self.logger.step(epoch + 1, step - epoch * self.plan.steps_per_epoch, step, loss)
        return step

    def set_lr(self, step):
        """The learning rate of global step `step` (lr_at), printed when it changes during the run."""
        want = lr_at(step, self.cfg, self.plan.total_steps)
        if want != self.current_lr:
            self.lr_param.set_data(ms.Tensor(np.float32(want), self.lr_param.dtype))
            if self.current_lr is not None:
                print(f'learning rate {self.current_lr:g} -> {want:g} at step {step + 1} '
                      f'({self.cfg.lr_drop_at:.0%} of {self.plan.total_steps} steps)', flush=True)
            self.current_lr = want

    def save(self, epoch, step_in_epoch, global_step):
        """Rank 0, with save_checkpoint: an atomic checkpoint of the train step and the run's counters."""
        if self.ckpts is None or not self.cfg.save_checkpoint or self.plan.rank != 0:
            return
        extra = {'epoch_num': epoch, 'step_num': step_in_epoch, 'global_step_done': global_step,
                 'train_seconds': self.elapsed()}
        self.ckpts.save(epoch, step_in_epoch,
                        lambda tmp: ms.save_checkpoint(self.train_net, str(tmp), append_dict=extra),
                        keep_max=self.cfg.keep_checkpoint_max or None)


def record_ranks(out_dir, cfg, plan, logger, seen, net):
    """--record_ranks: <output_path>/ranks.json (rank 0), each rank's patches and final weights digest."""
    digest = weights_digest((p.name, p.asnumpy()) for p in net.get_parameters())
    ranks = gather_object({'rank': plan.rank, 'patches': seen, 'weights_sha256': digest})
    if plan.rank == 0:
        write_ranks(out_dir, plan.group, cfg.batch_size, logger.steps_done, logger.throughput(), ranks)


def _train(cfg, target, amp_level, plan, ckpts, resumed, out_dir, log_dir):
    net, opt, train_net = build_network(cfg, target, amp_level)
    done, seconds_before = restore(cfg, plan, ckpts, resumed, net, train_net)
    spent = cfg.max_train_seconds and seconds_before >= cfg.max_train_seconds
    if done >= plan.total_steps or spent:
        why = (f'{seconds_before:.0f} s of max_train_seconds={cfg.max_train_seconds} already spent' if spent
               else f'{done} of {plan.total_steps} steps already done')
        print(f'nothing to do: {why}')
        return {'epochs_done_before': done // plan.steps_per_epoch, 'steps_run': 0, 'global_step': done,
                'losses': [], 'stopped_by_budget': bool(spent)}, net
    logger = TrainLogger(log_dir, cfg.batch_size * plan.group, done_steps=done,
                         done_epochs=done // plan.steps_per_epoch)
    loop = StepLoop(cfg, plan, train_net, opt, ckpts, logger, seconds_before)
    step = loop.run(done)
    if logger.plot:
        logger.draw()
    seconds = time.time() - loop.begin
    if cfg.record_ranks:
        record_ranks(out_dir, cfg, plan, logger, loop.seen, net)
    summary = {'device': target, 'amp_level': amp_level, 'steps_per_epoch': plan.steps_per_epoch,
               'epochs_done_before': done // plan.steps_per_epoch, 'steps_done_before': done,
               'steps_run': logger.steps_done, 'global_step': step, 'total_steps': plan.total_steps,
               'seconds': seconds, 'patches_per_sec': logger.throughput(), 'stopped_by_budget': loop.stopped_by_budget,
               'final_loss': float(logger.history[-1]['loss']) if logger.history else None,
               'losses': [float(r['loss']) for r in logger.history]}
    if loop.stopped_by_budget:
        print(f'stopped after {seconds_before + seconds:.0f} s of training (max_train_seconds={cfg.max_train_seconds})',
              flush=True)
    return summary, net


def main(argv=None):
    cfg = load_config(argv, description=__doc__.split('\n\n')[0])
    print(json.dumps(cfg.to_dict(), sort_keys=True), flush=True)
    train(cfg)


if __name__ == '__main__':
    run_cli(main)
