"""The training history of a run: TensorBoard scalars, CSV files and a PNG of the loss and PSNR curves.

The history is plain data (lists of numbers), saved inside each checkpoint, so a resumed run continues
it exactly: TensorBoard events written after the checkpoint by a killed process are purged
(``SummaryWriter(purge_step=...)``) and the CSV/PNG files are rewritten from the restored history.
"""
import csv
import io
import sys
import types
from pathlib import Path

from common.fileio import atomic_write_bytes

__all__ = ['TrainLog', 'summary_writer']


def summary_writer(log_dir, purge_step=None):
    """``torch.utils.tensorboard.SummaryWriter`` without importing TensorFlow.

    TensorBoard uses TensorFlow when it imports; the ``tensorboard.compat.notf`` marker makes it use
    its own stub instead (seconds faster, and no TensorFlow log lines), unless TensorFlow is loaded.
    """
    if 'tensorflow' not in sys.modules:
        sys.modules.setdefault('tensorboard.compat.notf', types.ModuleType('tensorboard.compat.notf'))
    from torch.utils.tensorboard import SummaryWriter
    return SummaryWriter(log_dir=str(log_dir), purge_step=purge_step)


def _csv_bytes(fields, rows):
    buf = io.StringIO(newline='')
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction='ignore')
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode('utf-8')


class TrainLog:
    """Records the loss of every step and the validation of every epoch.

    Files in ``out_dir``: ``tensorboard/`` (scalars ``train/loss``, ``train/lr``, ``val/psnr``,
    ``val/ssim``, ``val/legacy_psnr``), ``train_loss.csv``, ``val.csv`` and ``curves.png``.

    Args:
        out_dir (str | Path): Folder for the files.
        title (str): Title of the PNG, e.g. 'RDN x4 (bench)'.
        history (dict | None): A checkpoint's history to continue. Default: None (a new run).
        tensorboard (bool): Write TensorBoard events. Default: True.
    """

    def __init__(self, out_dir, title, history=None, tensorboard=True):
        self.out_dir = Path(out_dir)
        self.title = title
        self.history = {'step': [], 'loss': [], 'lr': [], 'val': []}
        if history:
            self.history = {key: list(history.get(key, [])) for key in self.history}
        done = self.history['step'][-1] if self.history['step'] else 0
        self.writer = summary_writer(self.out_dir / 'tensorboard', purge_step=done + 1 if history else None) \
            if tensorboard else None

    def state(self):
        """The history, for a checkpoint (lists of numbers and dicts)."""
        return {key: list(value) for key, value in self.history.items()}

    def step(self, global_step, loss, lr):
        """Record one training step."""
        self.history['step'].append(int(global_step))
        self.history['loss'].append(float(loss))
        self.history['lr'].append(float(lr))
        if self.writer is not None:
            self.writer.add_scalar('train/loss', loss, global_step)
            self.writer.add_scalar('train/lr', lr, global_step)

    def validation(self, epoch, global_step, metrics):
        """Record one validation: ``metrics`` maps names (psnr, ssim, legacy_psnr) to floats."""
        row = {'epoch': int(epoch), 'step': int(global_step), **{k: float(v) for k, v in metrics.items()}}
        self.history['val'].append(row)
        if self.writer is not None:
            for key, value in metrics.items():
                self.writer.add_scalar(f'val/{key}', value, global_step)

    def epoch_losses(self, first_step, last_step):
        """Losses of global steps ``first_step`` .. ``last_step`` (inclusive, 1-based)."""
        steps, losses = self.history['step'], self.history['loss']
        return [loss for step, loss in zip(steps, losses) if first_step <= step <= last_step]

    def write_files(self, plot=True):
        """Rewrite the CSV files (and the PNG) from the history, atomically; flush TensorBoard."""
        h = self.history
        rows = [{'step': s, 'loss': f'{l:.8g}', 'lr': f'{r:.6g}'} for s, l, r in zip(h['step'], h['loss'], h['lr'])]
        atomic_write_bytes(self.out_dir / 'train_loss.csv', _csv_bytes(['step', 'loss', 'lr'], rows))
        fields = ['epoch', 'step'] + sorted({k for row in h['val'] for k in row} - {'epoch', 'step'})
        atomic_write_bytes(self.out_dir / 'val.csv', _csv_bytes(fields, h['val']))
        if plot and h['step']:
            atomic_write_bytes(self.out_dir / 'curves.png', self._plot())
        if self.writer is not None:
            self.writer.flush()

    def _plot(self):
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        import numpy as np
        h = self.history
        fig, (ax_loss, ax_psnr) = plt.subplots(1, 2, figsize=(10, 4))
        steps, losses = np.asarray(h['step']), np.asarray(h['loss'])
        ax_loss.plot(steps, losses, lw=0.5, alpha=0.35, label='step loss')
        window = max(1, len(losses) // 50)
        if window > 1:
            ax_loss.plot(steps[window - 1:], np.convolve(losses, np.ones(window) / window, 'valid'), lw=1.2,
                         label=f'mean of {window} steps')
        ax_loss.set(yscale='log', xlabel='step', ylabel='L1 loss', title=f'{self.title}: training loss')
        ax_loss.grid(True, which='both', alpha=0.3)
        ax_loss.legend()
        val = h['val']
        if val:
            vsteps = [row['step'] for row in val]
            if 'psnr' in val[0]:
                ax_psnr.plot(vsteps, [row['psnr'] for row in val], 'o-', ms=3, label='PSNR (Y, crop=scale)')
            if 'legacy_psnr' in val[0]:
                ax_psnr.plot(vsteps, [row['legacy_psnr'] for row in val], 's--', ms=3,
                             label='legacy 10 log10(1/L1), not a PSNR')
            ax_psnr.legend()
        ax_psnr.set(xlabel='step', ylabel='dB', title='validation')
        ax_psnr.grid(True, alpha=0.3)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format='png', dpi=100)
        plt.close(fig)
        return buf.getvalue()

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None
