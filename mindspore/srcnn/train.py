"""Train SRCNN on the mindrecord made by src/create_dataset.py.

Adam (constant lr, eps 1e-7), MSE on Y patches, a checkpoint every epoch in
<output_path>/ckpt_<rank>/srcnn-<epoch>_<step>.ckpt (at most keep_checkpoint_max kept), the loss
curve in <output_path>/loss_steps.csv, loss_epochs.csv and loss_curve.png.

Usage:
    python train.py --data_path=/dataset/mindrecord --output_path=/output [--device_target=CPU]
    python train.py ... --pre_trained_path=ckpt        # initialise from a checkpoint (fine-tune)
    python train.py ... --resume=True                  # continue a killed run from its last checkpoint
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for `common`

import json  # noqa: E402
import time  # noqa: E402

from src.callbacks import TimeBudget, TrainLogger  # noqa: E402
from src.dataset import create_train_dataset  # noqa: E402
from src.model_utils.config import ConfigError, load_config  # noqa: E402
from src.srcnn import SRCNN, identity_init  # noqa: E402
from src.utils import (find_latest_checkpoint, loss_scale_manager, precision_note, require_file, resolve_amp_level,  # noqa: E402
                       run_cli, setup_device)

import mindspore as ms  # noqa: E402
from mindspore import nn  # noqa: E402
from mindspore.train import Model  # noqa: E402
from mindspore.train.callback import CheckpointConfig, ModelCheckpoint  # noqa: E402


def init_distributed(cfg, target):
    """(rank, group size); initialises data-parallel training when run_distribute is set."""
    if not cfg.run_distribute:
        return 0, 1
    if target == 'CPU':
        raise ConfigError('--run_distribute=True needs Ascend or GPU devices; this run is on CPU')
    from mindspore.communication import get_group_size, get_rank, init
    init()
    rank, size = get_rank(), get_group_size()
    ms.set_auto_parallel_context(device_num=size, parallel_mode=ms.ParallelMode.DATA_PARALLEL,
                                 gradients_mean=True)
    return rank, size


def load_initial_weights(cfg, net, opt, ckpt_dir):
    """Apply --pre_trained_path / --resume; returns (epochs already done, checkpoint used or None)."""
    if cfg.resume:
        path = find_latest_checkpoint(ckpt_dir)
    elif cfg.pre_trained_path:
        path = require_file(cfg.pre_trained_path, 'pre_trained_path')
    else:
        return 0, None
    params = ms.load_checkpoint(str(path))
    if cfg.filter_weight and not cfg.resume:
        # The reference filtered `net.end_point`, which SRCNN lacks; the end point is conv3.
        for name in [p.name for p in net.conv3.get_parameters()]:
            params.pop(name, None)
    missing, _ = ms.load_param_into_net(net, params)
    if missing and not cfg.filter_weight:
        raise ValueError(f'{path}: checkpoint lacks parameters {missing}; is it an SRCNN checkpoint?')
    if not cfg.resume:
        return 0, path
    ms.load_param_into_net(opt, params)          # Adam moments and step counters
    epoch = int(params['epoch_num'].asnumpy()) if 'epoch_num' in params else 0
    return epoch, path


def train(cfg):
    """Run training from a Config; returns (summary dict, trained network) (also used by bench.py)."""
    if str(cfg.enable_modelarts) != 'False':
        raise ConfigError('--enable_modelarts: ModelArts is not supported in this repository; keep it "False"')
    if cfg.init not in ('default', 'identity'):
        raise ConfigError(f"--init must be 'default' or 'identity', got {cfg.init!r}")
    target = setup_device(cfg, graph=True)
    rank, group = init_distributed(cfg, target)
    amp_level = resolve_amp_level(cfg.amp_level, target)
    print(precision_note(amp_level, target), flush=True)

    dataset = create_train_dataset(cfg.data_path, batch_size=cfg.batch_size, shard_id=rank, num_shard=group,
                                   num_parallel_workers=cfg.num_parallel_workers)
    steps = dataset.get_dataset_size()
    if steps == 0:
        raise ValueError(f'--data_path={cfg.data_path}: fewer patches than one batch of {cfg.batch_size}')

    net = SRCNN()
    if cfg.init == 'identity':
        identity_init(net)
    opt = nn.Adam(net.trainable_params(), learning_rate=float(cfg.lr), eps=1e-7)
    out_dir = Path(cfg.output_path)
    ckpt_dir = out_dir / f'ckpt_{rank}'
    start_epoch, ckpt = load_initial_weights(cfg, net, opt, ckpt_dir)
    if ckpt is not None:
        print(f"{'resuming' if cfg.resume else 'initialised'} from {ckpt} (epochs done: {start_epoch})", flush=True)
    if start_epoch >= cfg.epoch_size:
        print(f'nothing to do: {start_epoch} of {cfg.epoch_size} epochs already done')
        return {'epochs_done_before': start_epoch, 'steps_run': 0}, net

    # Dataset sink mode as in the reference where it pays (Ascend/GPU); on CPU per-step callbacks.
    sink = target != 'CPU'
    loss_scale = loss_scale_manager(amp_level, target)
    model = Model(net, loss_fn=nn.MSELoss(reduction='mean'), optimizer=opt, amp_level=amp_level,
                  loss_scale_manager=loss_scale)
    logger = TrainLogger(out_dir if rank == 0 else out_dir / f'rank_{rank}', cfg.batch_size, start_epoch)
    budget = TimeBudget(cfg.max_train_seconds, opt, cfg.lr_drop_at)
    callbacks = [logger, budget]
    if cfg.save_checkpoint and rank == 0:
        ck_config = CheckpointConfig(save_checkpoint_steps=steps, keep_checkpoint_max=cfg.keep_checkpoint_max,
                                     append_info=['epoch_num', 'step_num'])
        callbacks.append(ModelCheckpoint(prefix='srcnn', directory=str(ckpt_dir), config=ck_config))
    begin = time.time()
    model.train(cfg.epoch_size, dataset, callbacks=callbacks, dataset_sink_mode=sink, initial_epoch=start_epoch)
    seconds = time.time() - begin
    summary = {'device': target, 'amp_level': amp_level, 'steps_per_epoch': steps, 'epochs_done_before': start_epoch,
               'steps_run': logger.steps_done, 'seconds': seconds, 'patches_per_sec': logger.throughput(),
               'stopped_by_budget': budget.stopped_early, 'final_loss': float(logger.history[-1]['loss'])
               if logger.history else None, 'losses': [float(r['loss']) for r in logger.history]}
    if budget.stopped_early:
        print(f'stopped after {seconds:.0f} s (max_train_seconds={cfg.max_train_seconds})', flush=True)
    return summary, net


def main(argv=None):
    cfg = load_config(argv, description=__doc__.split('\n\n')[0])
    print(json.dumps(cfg.to_dict(), sort_keys=True), flush=True)
    train(cfg)


if __name__ == '__main__':
    run_cli(main)
