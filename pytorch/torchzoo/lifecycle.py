"""The training lifecycle of every PyTorch model of the zoo: one process group, one run folder, one
loop with exact resume, one record.

A model's ``train.py`` keeps its reference's flags, log lines and checkpoint files, and supplies what
is its own: the data, a :class:`Recipe` (its step, and what it logs, validates and saves around it)
and the content of its checkpoints. The rest happens here, in this order::

    device, plan, precision = choose_device(want, amp)      # before the data is read
    with process_group(device) as plan:                     # torchrun's job (nothing for one process)
        dist.every_rank(check_data)                         # every rank checks, all fail alike
        training = Training(plan, sampler, steps_per_epoch, total_steps, batch, record_ranks)
        with training.run_folder(open_checkpoint_dir):      # rank 0 opens it (common.distributed.agree)
            if training.resumed:
                state, path = training.load_latest(flag)    # rank 0 reads, every rank restores
                ...; training.restore(step, seconds, state['rng'])
            training.loop(recipe, loader)                   # the epochs, from where the run stopped
            fps = training.images_per_sec()
            training.write_ranks(folder, weight_arrays(...), fps)
            training.modelzoo_summary(...)

Counting: ``global_step`` is the number of steps done (of the step running, inside the recipe's
calls), ``epoch`` the 1-based epoch of that step and ``in_epoch`` its 1-based place in the epoch, so
checkpoints are ``<prefix>-<epoch>_<in_epoch>`` (``common.runs.CheckpointDir``). Each epoch visits
the sampler's seeded order from the first step not yet done (``sampler.set_epoch(epoch, start_step)``),
which is what makes a resumed run see the batches of an uninterrupted one.

Speed: every step but the first of the process is timed from the moment its batch is asked for to the
end of its step (data and compute, not the logging, validation and checkpoints around it); the
figure of a data-parallel job is the slowest rank's.
"""
import contextlib
import time
from pathlib import Path

import torch

from common import records
from common.fileio import check_disjoint
from common.runs import make_output_dir, weights_digest, write_ranks
from torchzoo import STARTED, dist
from torchzoo.checkpoint import load_state, restore_rng, save_state
from torchzoo.device import select_device
from torchzoo.precision import resolve_amp

__all__ = ['choose_device', 'process_group', 'weight_arrays', 'Recipe', 'Training']


def choose_device(want, amp, fallback=False, env=None):
    """The device, this process's distributed plan and the precision mode.

    Args:
        want (str): 'auto', 'npu', 'cuda' or 'cpu' (:func:`torchzoo.device.select_device`).
        amp (str): The ``--amp`` value (:func:`torchzoo.precision.resolve_amp`).
        fallback (bool): An unavailable ``want`` falls back to 'auto' with a notice. Default: False.
        env (dict | None): The rank variables; None reads ``os.environ`` (torchrun's), ``{}`` is one
            process. Default: None.

    Returns:
        tuple: ``(torch.device, dist.Plan, precision mode)``.
    """
    device = select_device(want, fallback=fallback)
    return device, dist.plan_from_env(device, env), resolve_amp(amp, device.type)


@contextlib.contextmanager
def process_group(device):
    """Join the process group of a torchrun job (nothing for one process); leave it at the end.

    Yields:
        dist.Plan: This process's rank, world size and device.
    """
    plan = dist.setup(device)
    try:
        yield plan
    finally:
        dist.teardown()


def check_outside_data(output, output_flag, sources):
    """Refuse a run folder that is, or lies inside, a folder the run reads: its plots and strips would be
    read as data by the next run. A run folder that contains the data folders is fine.

    Args:
        output (str | Path): The folder the run writes (need not exist).
        output_flag (str): The flag or key that named it.
        sources (list[tuple[str | Path, str]]): ``(folder, flag or key)`` of every folder it reads.

    Raises:
        ValueError: One line naming both (``common.fileio.check_disjoint``'s).
    """
    out = Path(output).resolve()
    for folder, flag in sources:
        if folder is not None and (out == Path(folder).resolve() or Path(folder).resolve() in out.parents):
            check_disjoint(output, folder, output_flag, flag)


@contextlib.contextmanager
def removed_if_failed(folder):
    """Run the body; if it raises, remove the folders up to ``folder`` that did not exist before and are
    empty then (the run folder an early error would leave behind)."""
    folder = Path(folder).absolute()
    new = [p for p in (folder, *folder.parents) if not p.exists()]     # deepest first
    try:
        yield
    except BaseException:
        for path in new:
            with contextlib.suppress(OSError):
                if path.is_dir() and not any(path.iterdir()):
                    path.rmdir()
        raise


def weight_arrays(networks):
    """``(name, numpy array)`` of each network's state dict, for ``common.runs.weights_digest``.

    Args:
        networks (dict): ``{prefix: nn.Module or None}``; keys are named ``prefix + key`` (None is skipped).
    """
    for prefix, net in networks.items():
        for key, value in ({} if net is None else net.state_dict()).items():
            value = value.detach().cpu()
            yield prefix + key, (value.float() if value.dtype == torch.bfloat16 else value).numpy()


class Recipe:
    """What a model does in :meth:`Training.loop`; override :meth:`step` and what else it needs.

    Every method receives the :class:`Training`, whose counters already count the current step.
    """

    def begin_epoch(self, training):
        """Before the epoch's first step (e.g. its first log line)."""

    def batches(self, loader, training):
        """The epoch's batches: ``loader`` itself, or it wrapped (e.g. in a progress bar)."""
        return loader

    def step(self, batch, training):
        """One training step on ``batch``; returns what :meth:`after_step` logs."""
        raise NotImplementedError

    def after_step(self, values, training):
        """After each step: log lines, periodic validation and checkpoints (``training.step_time`` and
        ``data_time`` hold this step's seconds)."""

    def end_epoch(self, training):
        """After the epoch's last step, or after the last step of the run."""


class Training:
    """One process's part of a training run: counters, the run folder, resume, timing and records.

    Args:
        plan (dist.Plan): From :func:`process_group`.
        sampler: The loader's sampler, with ``set_epoch(epoch, start_step)`` (0-based epoch; the
            steps of it already done are skipped) and iteration over this process's sample keys.
        steps_per_epoch (int): Steps of a whole epoch.
        total_steps (int): Steps of the whole run.
        batch (int): This process's batch size.
        record_ranks (bool): Keep the sample keys of every step for :meth:`write_ranks`. Default: False.
    """

    def __init__(self, plan, sampler, steps_per_epoch, total_steps, batch, record_ranks=False):
        self.plan, self.sampler, self.batch, self.record_ranks = plan, sampler, int(batch), record_ranks
        self.steps_per_epoch, self.total_steps = int(steps_per_epoch), int(total_steps)
        self.main = plan.rank == 0
        self.ckpts, self.resumed = None, False
        self.global_step, self.epoch, self.in_epoch, self.steps_run = 0, 0, 0, 0
        self.seconds_before, self.begin = 0.0, None
        self.data_time = self.step_time = 0.0
        self._timed_steps, self._timed_seconds, self._seen = 0, 0.0, []

    # --- the run folder and resume -----------------------------------------------------------

    @contextlib.contextmanager
    def run_folder(self, open_checkpoint_dir):
        """Rank 0 calls ``open_checkpoint_dir()`` -> an opened ``CheckpointDir`` (it makes the run's
        folders first); every rank gets ``resumed``, or rank 0's one-line error. The folder is
        released at the end; a failed fresh run that saved nothing leaves nothing behind.
        """
        def open_on_rank0():
            self.ckpts = open_checkpoint_dir()
            return self.ckpts.resumed

        self.resumed = dist.agree(open_on_rank0)
        try:
            yield self
        except BaseException:
            if self.ckpts is not None:
                self.ckpts.close(abandon=True)
            raise
        if self.ckpts is not None:
            self.ckpts.close()

    def load_latest(self, flag, path=None, warn=print):
        """Rank 0 reads the checkpoint to resume from; every rank gets ``(state, path)``.

        Args:
            flag (str): The flag or key that asked for it, for messages.
            path (str | Path | None): This file; None: the newest readable one of the run folder
                (an unreadable newest one is skipped with a warning). Default: None.
            warn (callable): Receives the warning lines. Default: print.
        """
        def read():
            if path:
                return load_state(path, flag), path
            state, _, _, where = self.ckpts.load_latest(lambda p: load_state(p, flag), warn=warn)
            return state, where
        return dist.agree(read)

    def restore(self, global_step, train_seconds, rng):
        """Continue from a checkpoint: its step counter, training seconds and RNG states."""
        restore_rng(rng)
        self.global_step, self.seconds_before = int(global_step), float(train_seconds)

    def save(self, state, keep_max=None):
        """Rank 0 writes ``state`` as checkpoint ``<epoch>_<in_epoch>`` (atomically; others do nothing).

        Args:
            state (dict): Tensors and plain values (read back with ``weights_only=True``).
            keep_max (int | None): Keep at most this many checkpoints. Default: None (all).
        """
        if self.main:
            self.ckpts.save(self.epoch, self.in_epoch, lambda tmp: save_state(tmp, state), keep_max=keep_max)

    def train_seconds(self):
        """Seconds trained so far, the resumed runs' included (for checkpoints)."""
        return self.seconds_before + time.time() - self.begin

    # --- the loop ----------------------------------------------------------------------------

    def loop(self, recipe, loader):
        """Run the epochs from ``global_step`` to ``total_steps`` with ``recipe`` over ``loader``."""
        self.begin = time.time()
        while self.global_step < self.total_steps:
            self._start_epoch()
            recipe.begin_epoch(self)
            self._run_epoch(recipe, loader)
            recipe.end_epoch(self)

    def _start_epoch(self):
        epoch, done = divmod(self.global_step, self.steps_per_epoch)
        self.epoch, self.in_epoch = epoch + 1, done
        self.sampler.set_epoch(epoch, done)
        if self.record_ranks:
            left = (self.total_steps - self.global_step) * self.batch
            self._seen.extend([int(e), int(i)] for e, i in list(self.sampler)[:left])

    def _run_epoch(self, recipe, loader):
        asked = time.time()
        for batch in recipe.batches(loader, self):
            arrived = time.time()
            self.global_step, self.in_epoch, self.steps_run = self.global_step + 1, self.in_epoch + 1, self.steps_run + 1
            values = recipe.step(batch, self)
            self.data_time, self.step_time = arrived - asked, time.time() - arrived
            if self.steps_run > 1:
                self._timed_steps += 1
                self._timed_seconds += self.data_time + self.step_time
            recipe.after_step(values, self)
            if self.global_step >= self.total_steps:
                break
            asked = time.time()

    # --- the records -------------------------------------------------------------------------

    def seconds(self):
        """Wall seconds since :meth:`loop` began."""
        return time.time() - self.begin

    def images_per_sec(self):
        """Images per second of the global batch over the timed steps, the slowest rank's (every rank
        calls it: a collective); None when fewer than two steps ran."""
        if not self._timed_steps:
            return None
        fps = self._timed_steps * self.batch * self.plan.world_size / self._timed_seconds
        return 1.0 / dist.all_mean(1.0 / fps) if self.plan.distributed else fps

    def write_ranks(self, folder, arrays, images_per_sec):
        """With ``record_ranks``: ``folder/ranks.json`` (``common.runs.write_ranks``), per rank the
        sample keys it trained on in this process and the digest of its final weights (every rank
        calls it: a collective; rank 0 writes).

        Args:
            folder (str | Path): The run's output folder.
            arrays (Iterable): ``(name, numpy array)`` of the weights (:func:`weight_arrays`).
            images_per_sec (float | None): From :meth:`images_per_sec`.
        """
        if not self.record_ranks:
            return
        mine = {'rank': self.plan.rank, 'samples': self._seen, 'weights_sha256': weights_digest(arrays)}
        ranks = dist.all_gather_object(mine)
        if self.main:
            write_ranks(folder, self.plan.world_size, self.batch, self.steps_run, images_per_sec, ranks)

    def modelzoo_summary(self, folder, network, images_per_sec, accuracy=None, losses=None, perf=False):
        """Rank 0, when ``folder`` is given (``--modelzoo_dir``): the ModelZoo case files and the
        'Final result' block (``common.records.modelzoo_summary``), end to end since the entry point
        began (``torchzoo.STARTED``)."""
        if not folder or not self.main:
            return
        world = self.plan.world_size
        step_time = self.batch * world / images_per_sec if images_per_sec else 0.0
        records.modelzoo_summary(make_output_dir(folder, '--modelzoo_dir'), network, self.batch, images_per_sec or 0.0,
                                 step_time, time.time() - STARTED, train_accuracy=accuracy, losses=losses, perf=perf,
                                 rank_size=world)
