"""Training callbacks: reference-format log lines, loss curves (CSV + PNG), a wall-clock budget."""
import csv
import io
import math
import os
import time
from pathlib import Path

import numpy as np
from mindspore import Tensor
from mindspore.train.callback import Callback

from common.imgio import atomic_write_bytes

STEP_FIELDS = ['epoch', 'step', 'global_step', 'loss', 'seconds']
EPOCH_FIELDS = ['epoch', 'steps', 'mean_loss', 'last_loss', 'epoch_ms', 'step_ms', 'patches_per_sec']


def _read_rows(path, keep_until_epoch):
    """Rows of an existing CSV whose epoch is <= keep_until_epoch (the resumed history)."""
    if keep_until_epoch <= 0 or not path.is_file():
        return []
    with open(path, newline='', encoding='utf-8') as f:
        return [row for row in csv.DictReader(f) if int(row['epoch']) <= keep_until_epoch]


def _loss_value(outputs):
    """The scalar loss from the train network's outputs (a Tensor, or a tuple starting with it)."""
    if isinstance(outputs, (tuple, list)):
        outputs = outputs[0]
    return float(np.asarray(outputs.asnumpy() if hasattr(outputs, 'asnumpy') else outputs).mean())


class TrainLogger(Callback):
    """Prints the reference's two lines per epoch and records the loss curve.

    Per epoch it prints `epoch: E step: S, loss is L` (the last step's loss, like MindSpore's
    LossMonitor in sink mode) and `epoch time: T ms, per step time: t ms` (TimeMonitor). It appends
    every step to `<out_dir>/loss_steps.csv`, every epoch to `<out_dir>/loss_epochs.csv`, and redraws
    `<out_dir>/loss_curve.png` at each epoch end. When resuming at `start_epoch`, earlier rows are kept
    and rows of later (unfinished) epochs are dropped. In dataset sink mode step_end runs once per
    epoch, so the step CSV then has one row per epoch.

    Args:
        out_dir (str | Path): Folder for the CSV and PNG files.
        batch_size (int): Patches per step (for patches/s).
        start_epoch (int): Epochs already done (resume). Default: 0.
        plot (bool): Draw the PNG. Default: True.
    """

    def __init__(self, out_dir, batch_size, start_epoch=0, plot=True):
        super().__init__()
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.batch_size = batch_size
        self.plot = plot
        self.step_csv = self.out_dir / 'loss_steps.csv'
        self.epoch_csv = self.out_dir / 'loss_epochs.csv'
        self.png = self.out_dir / 'loss_curve.png'
        self.history = _read_rows(self.step_csv, start_epoch)
        self.epochs = _read_rows(self.epoch_csv, start_epoch)
        self._rewrite(self.step_csv, STEP_FIELDS, self.history)
        self._rewrite(self.epoch_csv, EPOCH_FIELDS, self.epochs)
        self.global_step = int(self.history[-1]['global_step']) if self.history else 0
        self.steps_done = 0            # steps run by this process
        self.first_step_end = None     # wall time after the first step (compilation excluded)
        self.last_step_end = None

    @staticmethod
    def _rewrite(path, fields, rows):
        buf = io.StringIO(newline='')
        writer = csv.DictWriter(buf, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_bytes(path, buf.getvalue().encode('utf-8'))

    @staticmethod
    def _append(path, fields, row):
        with open(path, 'a', newline='', encoding='utf-8') as f:
            csv.DictWriter(f, fieldnames=fields).writerow(row)

    def on_train_begin(self, run_context):
        self.train_start = time.time()

    def on_train_epoch_begin(self, run_context):
        self.epoch_start = time.time()
        self.epoch_losses = []

    def on_train_step_end(self, run_context):
        params = run_context.original_args()
        loss = _loss_value(params.net_outputs)
        if not math.isfinite(loss):
            raise ValueError(f'loss is {loss} at epoch {params.cur_epoch_num}, step {params.cur_step_num}; '
                             'lower --lr')
        now = time.time()
        self.steps_done += 1
        self.global_step += 1
        self.first_step_end = self.first_step_end or now
        self.last_step_end = now
        self.epoch_losses.append(loss)
        step_in_epoch = (params.cur_step_num - 1) % params.batch_num + 1
        row = {'epoch': params.cur_epoch_num, 'step': step_in_epoch, 'global_step': self.global_step,
               'loss': f'{loss:.8g}', 'seconds': f'{now - self.train_start:.3f}'}
        self.history.append(row)
        self._append(self.step_csv, STEP_FIELDS, row)

    def on_train_epoch_end(self, run_context):
        params = run_context.original_args()
        if not self.epoch_losses:
            return
        epoch_ms = (time.time() - self.epoch_start) * 1000.0
        steps = (params.cur_step_num - 1) % params.batch_num + 1
        step_ms = epoch_ms / steps
        print(f'epoch: {params.cur_epoch_num} step: {steps}, loss is {str(np.float32(self.epoch_losses[-1]))}',
              flush=True)
        print(f'epoch time: {epoch_ms:.3f} ms, per step time: {step_ms:.3f} ms', flush=True)
        row = {'epoch': params.cur_epoch_num, 'steps': steps,
               'mean_loss': f'{np.mean(self.epoch_losses):.8g}', 'last_loss': f'{self.epoch_losses[-1]:.8g}',
               'epoch_ms': f'{epoch_ms:.3f}', 'step_ms': f'{step_ms:.3f}',
               'patches_per_sec': f'{self.batch_size * 1000.0 / step_ms:.2f}'}
        self.epochs.append(row)
        self._append(self.epoch_csv, EPOCH_FIELDS, row)
        if self.plot:
            self.draw()

    def throughput(self):
        """Patches per second over this process's steps after the first (compilation excluded)."""
        if self.steps_done < 2 or self.last_step_end <= self.first_step_end:
            return None
        return (self.steps_done - 1) * self.batch_size / (self.last_step_end - self.first_step_end)

    def draw(self):
        """Write loss_curve.png: per-step loss (thin), its running mean, per-epoch mean (dots); log scale."""
        if not self.history:
            return
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 4))
        steps = np.array([int(r['global_step']) for r in self.history])
        losses = np.array([float(r['loss']) for r in self.history])
        ax.plot(steps, losses, lw=0.5, alpha=0.35, label='step loss')
        window = max(1, len(losses) // 50)
        if window > 1:
            smooth = np.convolve(losses, np.ones(window) / window, mode='valid')
            ax.plot(steps[window - 1:], smooth, lw=1.2, label=f'mean of {window} steps')
        ends, step = [], 0
        for row in self.epochs:
            step += int(row['steps'])
            ends.append(step)
        if self.epochs and len(ends) == len(self.epochs):
            ax.plot(ends, [float(r['mean_loss']) for r in self.epochs], 'o-', ms=3, label='epoch mean')
        ax.set_yscale('log')
        ax.set_xlabel('step')
        ax.set_ylabel('MSE loss (Y in [0, 1])')
        ax.set_title('SRCNN training loss')
        ax.grid(True, which='both', alpha=0.3)
        ax.legend()
        fig.tight_layout()
        tmp = self.png.with_name(f'.{self.png.stem}.tmp.png')
        fig.savefig(tmp, dpi=100)
        plt.close(fig)
        os.replace(tmp, self.png)

    def on_train_end(self, run_context):
        if self.plot:
            self.draw()


class TimeBudget(Callback):
    """Stop training once `seconds` of wall time have passed since training began (0 = never).

    With `lr_drop_at` in (0, 1), the learning rate of `optimizer` is divided by 10 once that fraction
    of the budget has passed (a last, quieter phase, so that where the budget ends matters less).

    Args:
        seconds (float): Wall-clock budget; 0 for none.
        optimizer (mindspore.nn.Optimizer | None): Optimizer with a scalar learning_rate Parameter.
            Default: None.
        lr_drop_at (float): Fraction of the budget after which the lr is divided by 10; 0 = never.
            Default: 0.0.
    """

    def __init__(self, seconds, optimizer=None, lr_drop_at=0.0):
        super().__init__()
        self.seconds = float(seconds)
        self.optimizer = optimizer
        self.lr_drop_at = float(lr_drop_at)
        if not 0.0 <= self.lr_drop_at < 1.0:
            raise ValueError(f'--lr_drop_at must be in [0, 1), got {lr_drop_at}')
        if self.lr_drop_at and (self.seconds <= 0 or optimizer is None):
            raise ValueError('--lr_drop_at needs a time budget (--max_train_seconds > 0)')
        self.stopped_early = False
        self.dropped = False

    def on_train_begin(self, run_context):
        self.start = time.time()

    def on_train_step_end(self, run_context):
        elapsed = time.time() - self.start
        if self.lr_drop_at and not self.dropped and elapsed >= self.lr_drop_at * self.seconds:
            lr = self.optimizer.learning_rate
            lr.set_data(Tensor(float(lr.asnumpy()) / 10.0, lr.dtype))
            self.dropped = True
            print(f'learning rate divided by 10 after {elapsed:.0f} s ({self.lr_drop_at:.0%} of the budget)', flush=True)
        if self.seconds > 0 and elapsed >= self.seconds:
            self.stopped_early = True
            run_context.request_stop()
