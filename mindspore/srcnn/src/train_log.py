"""Training log: the reference's log lines, the loss curve as CSV and PNG, kept consistent across resumes."""
import csv
import io
import math
import time
from pathlib import Path

import numpy as np

from common.fileio import atomic_write_bytes

STEP_FIELDS = ['epoch', 'step', 'global_step', 'loss', 'seconds']
EPOCH_FIELDS = ['epoch', 'steps', 'mean_loss', 'last_loss', 'epoch_ms', 'step_ms', 'patches_per_sec']


def _read_rows(path, keep):
    """Rows of an existing CSV for which ``keep(row)`` holds (the history a resumed run continues)."""
    if not path.is_file():
        return []
    with open(path, newline='', encoding='utf-8') as f:
        try:
            return [row for row in csv.DictReader(f) if keep(row)]
        except (KeyError, ValueError, csv.Error):
            return []          # a CSV from something else, or cut by a kill mid-line: start it anew


class TrainLogger:
    """Prints the reference's two lines per epoch and records the loss curve.

    Per epoch it prints `epoch: E step: S, loss is L` (the last step's loss, as MindSpore's
    LossMonitor in sink mode) and `epoch time: T ms, per step time: t ms` (TimeMonitor). It appends
    every step to `<out_dir>/loss_steps.csv`, every finished epoch to `<out_dir>/loss_epochs.csv`, and
    redraws `<out_dir>/loss_curve.png` at each epoch end. A resumed run passes the step and epoch it
    continues from: later rows (those of the killed process after its last checkpoint) are dropped,
    so the files read as if the run had never stopped.

    Args:
        out_dir (str | Path): Folder for the CSV and PNG files.
        batch_size (int): Patches per step (for patches/s).
        done_steps (int): Global steps already done (resume). Default: 0.
        done_epochs (int): Epochs already finished (resume). Default: 0.
        plot (bool): Draw the PNG. Default: True.
    """

    def __init__(self, out_dir, batch_size, done_steps=0, done_epochs=0, plot=True):
        self.out_dir = Path(out_dir)
        self.batch_size = batch_size
        self.plot = plot
        self.step_csv = self.out_dir / 'loss_steps.csv'
        self.epoch_csv = self.out_dir / 'loss_epochs.csv'
        self.png = self.out_dir / 'loss_curve.png'
        self.history = _read_rows(self.step_csv, lambda r: 0 < int(r['global_step']) <= done_steps)
        self.epochs = _read_rows(self.epoch_csv, lambda r: 0 < int(r['epoch']) <= done_epochs)
        self._rewrite(self.step_csv, STEP_FIELDS, self.history)
        self._rewrite(self.epoch_csv, EPOCH_FIELDS, self.epochs)
        self.steps_done = 0            # steps run by this process
        self.first_step_end = None     # wall time after the first step (compilation excluded)
        self.last_step_end = None
        self.train_start = time.time()
        self.epoch_start = self.train_start
        self.epoch_losses = []

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

    def epoch_begin(self):
        """Mark the start of an epoch (or of the rest of one, after a resume)."""
        self.epoch_start = time.time()
        self.epoch_losses = []

    def step(self, epoch, step_in_epoch, global_step, loss):
        """Record one step; a non-finite loss stops training with an error naming the step."""
        if not math.isfinite(loss):
            raise ValueError(f'loss is {loss} at epoch {epoch}, step {step_in_epoch}; lower --lr')
        now = time.time()
        self.steps_done += 1
        self.first_step_end = self.first_step_end or now
        self.last_step_end = now
        self.epoch_losses.append(loss)
        row = {'epoch': epoch, 'step': step_in_epoch, 'global_step': global_step,
               'loss': f'{loss:.8g}', 'seconds': f'{now - self.train_start:.3f}'}
        self.history.append(row)
        self._append(self.step_csv, STEP_FIELDS, row)

    def epoch_end(self, epoch, steps_in_epoch):
        """Print the reference's two lines for a finished epoch and record it."""
        if not self.epoch_losses:
            return
        epoch_ms = (time.time() - self.epoch_start) * 1000.0
        step_ms = epoch_ms / len(self.epoch_losses)
        print(f'epoch: {epoch} step: {steps_in_epoch}, loss is {str(np.float32(self.epoch_losses[-1]))}', flush=True)
        print(f'epoch time: {epoch_ms:.3f} ms, per step time: {step_ms:.3f} ms', flush=True)
        row = {'epoch': epoch, 'steps': steps_in_epoch,
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
        ends = np.cumsum([int(row['steps']) for row in self.epochs])
        if len(ends):
            ax.plot(ends, [float(r['mean_loss']) for r in self.epochs], 'o-', ms=3, label='epoch mean')
        ax.set_yscale('log')
        ax.set_xlabel('step')
        ax.set_ylabel('MSE loss (Y in [0, 1])')
        ax.set_title('SRCNN training loss')
        ax.grid(True, which='both', alpha=0.3)
        ax.legend()
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format='png', dpi=100)
        plt.close(fig)
        atomic_write_bytes(self.png, buf.getvalue())
