"""Training runs that survive ``kill -9``: run identity, a lock, atomic checkpoints, exact data order.

Every framework's training loop uses the same folder discipline (framework-free; the framework
supplies only a function that writes and one that reads a checkpoint file):

* **Identity.** ``run.json`` in the checkpoint folder names the run (a random id, when it was
  created, and the settings that define it: lr, batch size, seed, data...). A fresh run refuses a
  folder that holds another run's checkpoints unless it is told to resume or to overwrite; a resumed
  run refuses settings that differ from the stored ones (one line naming the flag), so a resume
  never silently continues with other settings.
* **Lock.** One training writes into a folder at a time (``fcntl.flock`` on ``.lock``, released by
  the kernel when the process dies, ``kill -9`` included).
* **Checkpoints.** ``{prefix}-{epoch}_{step}{suffix}`` (MindSpore's ModelCheckpoint naming: 1-based
  epoch, step within it), written under a hidden temporary name, fsync'd and renamed, so a kill
  leaves either the previous set or the new file, never a partial one under a checkpoint name.
  Orphaned temporaries of killed runs are removed when the folder is next opened. At most
  ``keep_max`` are kept. Loading tries the newest first and falls back to the previous one when a
  file turns out truncated or corrupt.
* **Data order.** :func:`epoch_order` derives each epoch's sample order from the seed and the
  epoch number alone, so a resumed run sees the same batches as an uninterrupted one.
"""
import datetime
import fcntl
import hashlib
import json
import os
import re
import uuid
from pathlib import Path

import numpy as np

from common.fileio import atomic_write_bytes, fsync_dir, fsync_file

__all__ = ['RunError', 'epoch_order', 'CheckpointDir', 'check_output_dir', 'make_output_dir', 'weights_digest',
           'write_ranks']

RUN_FILE = 'run.json'
LOCK_FILE = '.lock'
_TEMP = re.compile(r'^\..+\.tmp')


class RunError(ValueError):
    """A run folder that cannot be used as asked; the message names the folder and the flag."""


def epoch_order(n, seed, epoch):
    """The order in which epoch ``epoch`` (0-based) visits ``n`` samples: a permutation of range(n).

    It depends on ``(seed, epoch)`` only, not on how many epochs ran in this process.

    Args:
        n (int): Number of samples.
        seed (int): The run's seed.
        epoch (int): 0-based epoch index.

    Returns:
        np.ndarray: int64 permutation of ``range(n)``.
    """
    return np.random.default_rng([int(seed), int(epoch)]).permutation(int(n))


def weights_digest(named_arrays):
    """SHA-256 of a network's weights: each name, shape, dtype and bytes, in the order given.

    Equal replicas give equal digests; the framework supplies ``(name, numpy array)`` pairs (bfloat16
    converted to float32 first, since numpy has no bfloat16).

    Args:
        named_arrays (Iterable[tuple[str, np.ndarray]]): The weights.

    Returns:
        str: Hex digest.
    """
    h = hashlib.sha256()
    for name, value in named_arrays:
        value = np.ascontiguousarray(value)
        h.update(f'{name}{tuple(value.shape)}{value.dtype}'.encode())
        h.update(value.tobytes())
    return h.hexdigest()


def write_ranks(folder, world_size, batch_per_rank, steps, images_per_sec, ranks, **extra):
    """``--record_ranks``: ``folder/ranks.json`` (atomic), what each rank of a run did.

    Args:
        folder (str | Path): The run's output folder.
        world_size (int): Processes (workers) of the run.
        batch_per_rank (int): Each rank's batch.
        steps (int): Steps run by this process.
        images_per_sec (float | None): Images/s of the global batch after the first step.
        ranks (list[dict]): Per rank: ``rank`` and what it saw (samples, shard) and, where the
            weights are replicated, ``weights_sha256`` (:func:`weights_digest`).
        **extra: More top-level fields (e.g. ``weights='parameter servers'``).

    Returns:
        Path: The file written.
    """
    record = {'world_size': world_size, 'batch_per_rank': batch_per_rank, 'global_batch': batch_per_rank * world_size,
              'steps': steps, 'images_per_sec': images_per_sec, **extra, 'ranks': ranks}
    path = Path(folder) / 'ranks.json'
    atomic_write_bytes(path, (json.dumps(record, indent=1) + '\n').encode())
    return path


def _blocking_file(path):
    """The nearest existing ancestor of ``path`` (or ``path`` itself) when it is not a folder, else None."""
    for candidate in [path, *path.parents]:
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def check_output_dir(path, flag):
    """Check that ``path`` can be a folder a tool creates or fills, without creating it.

    Refused, with one line naming ``flag``: an empty value, a path that is a plain file, or a path
    under a plain file (which no one can create, root included).

    Args:
        path (str | Path): The folder (need not exist).
        flag (str): The flag or key that named it, e.g. '--output_path'.

    Returns:
        Path: ``path``.

    Raises:
        RunError: For the cases above.
    """
    if not str(path):
        raise RunError(f'{flag} is empty; give an output folder')
    path = Path(path)
    blocker = _blocking_file(path)
    if blocker == path:
        raise RunError(f'{flag}={path}: is a file, expected a folder')
    if blocker is not None:
        raise RunError(f'{flag}={path}: cannot create it, {blocker} is a file, not a folder')
    return path


def make_output_dir(path, flag):
    """:func:`check_output_dir`, then create the folder (and parents) and check that it is writable.

    Args:
        path (str | Path): The folder.
        flag (str): The flag or key that named it, e.g. '--output_path'.

    Returns:
        Path: The folder.

    Raises:
        RunError: A bad path (see :func:`check_output_dir`) or a folder that cannot be created or written.
    """
    path = check_output_dir(path, flag)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f'.write-test-{os.getpid()}'
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise RunError(f'{flag}={path}: cannot write there ({exc.strerror or exc})') from None
    return path


class CheckpointDir:
    """A training run's checkpoint folder (see the module docstring).

    Args:
        folder (str | Path): The folder, e.g. ``<output_path>/ckpt_0``.
        prefix (str): Checkpoint name prefix, e.g. 'srcnn'.
        suffix (str): Checkpoint file extension. Default: '.ckpt'.
        flag (str): The flag that chose the folder, for messages. Default: '--output_path'.

    Attributes:
        run (dict | None): The run's ``run.json`` content once :meth:`open` succeeded.
        resumed (bool): Whether :meth:`open` continued an existing run.
    """

    def __init__(self, folder, prefix, suffix='.ckpt', flag='--output_path'):
        self.folder = Path(folder)
        self.prefix, self.suffix, self.flag = prefix, suffix, flag
        self._name = re.compile(rf'^{re.escape(prefix)}-(\d+)_(\d+){re.escape(suffix)}$')
        self._lock_fd = None
        self._created_folder = False
        self._saved = 0
        self.run = None
        self.resumed = False

    # --- opening ---------------------------------------------------------------------------

    def open(self, identity, resume=False, overwrite=False):
        """Lock the folder and start or continue the run.

        Args:
            identity (dict): Settings that define the run, ``{flag name: value}`` (JSON values).
                On resume each must equal the stored one.
            resume (bool): Continue the run stored here. Default: False.
            overwrite (bool): Start over, deleting the checkpoints and identity stored here.
                Default: False.

        Returns:
            dict: The run (``run_id``, ``created``, ``identity``).

        Raises:
            RunError: Another training holds the lock; a fresh run meets another run's checkpoints
                (without resume or overwrite); resume finds nothing or different settings.
        """
        if resume and overwrite:
            raise RunError('--resume and --overwrite exclude each other: resume continues the run, '
                           'overwrite deletes it')
        self._created_folder = not self.folder.exists()
        make_output_dir(self.folder, self.flag)
        self._lock()
        try:
            self._remove_orphans()
            stored = self._read_run()
            existing = self.checkpoints()
            if resume:
                self.run = self._continue(stored, existing, identity)
                self.resumed = True
            else:
                if (stored is not None or existing) and not overwrite:
                    what = f"run {stored['run_id']} of {stored['created']}" if stored else 'checkpoints'
                    raise RunError(f'{self.folder}: holds {what} ({len(existing)} checkpoint(s)); pass '
                                   f'--resume=True to continue it or --overwrite=True to start over')
                for _, _, path in existing:
                    path.unlink()
                self.run = {'run_id': uuid.uuid4().hex[:12], 'identity': dict(identity),
                            'created': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}
                atomic_write_bytes(self.folder / RUN_FILE, (json.dumps(self.run, indent=1) + '\n').encode())
        except BaseException:
            self.close(abandon=True)
            raise
        return self.run

    def _lock(self):
        fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors='replace').strip() or '?'
            os.close(fd)
            raise RunError(f'{self.folder}: another training (pid {holder}) is writing here; wait for it '
                           f'to end or choose another {self.flag}') from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f'{os.getpid()}\n'.encode(), 0)
        self._lock_fd = fd

    def _remove_orphans(self):
        """Remove hidden temporaries (``.name...tmp...``): with the lock held, no writer is alive."""
        for path in self.folder.iterdir():
            if _TEMP.match(path.name) and path.is_file():
                path.unlink()

    def _read_run(self):
        path = self.folder / RUN_FILE
        if not path.is_file():
            return None
        try:
            run = json.loads(path.read_text(encoding='utf-8'))
            if not isinstance(run, dict) or 'run_id' not in run or 'identity' not in run:
                raise ValueError('no run_id/identity')
        except (ValueError, OSError) as exc:
            raise RunError(f'{path}: unreadable run identity ({exc}); remove the folder or pass '
                           f'--overwrite=True') from None
        return run

    def _continue(self, stored, existing, identity):
        if not existing:
            raise RunError(f'{self.folder}: no checkpoint ({self.prefix}-<epoch>_<step>{self.suffix}) '
                           f'to resume from')
        if stored is None:
            raise RunError(f'{self.folder}: checkpoints without {RUN_FILE} (not made by this training); '
                           f'initialise from one with --pre_trained_path instead of --resume')
        for key, value in identity.items():
            if key in stored['identity'] and stored['identity'][key] != value:
                raise RunError(f"--{key}={value} differs from the resumed run's {stored['identity'][key]!r} "
                               f'({self.folder / RUN_FILE}); resume with the same value, or start a new run '
                               f'with --overwrite=True')
        return stored

    # --- checkpoints -----------------------------------------------------------------------

    def checkpoints(self):
        """This run's checkpoints, oldest first: a list of ``(epoch, step, path)``."""
        found = []
        for path in self.folder.iterdir() if self.folder.is_dir() else []:
            match = self._name.match(path.name)
            if match and path.is_file():
                found.append((int(match.group(1)), int(match.group(2)), path))
        return sorted(found)

    def path_for(self, epoch, step):
        """The checkpoint file name for 1-based ``epoch`` and ``step`` within it."""
        return self.folder / f'{self.prefix}-{int(epoch)}_{int(step)}{self.suffix}'

    def save(self, epoch, step, write, keep_max=None):
        """Write a checkpoint atomically and prune old ones.

        Args:
            epoch (int): 1-based epoch.
            step (int): Step within the epoch.
            write (callable): ``write(tmp_path)`` writes the checkpoint to ``tmp_path`` (which
                already ends in the suffix).
            keep_max (int | None): Keep at most this many checkpoints (the newest). Default: None (all).

        Returns:
            Path: The checkpoint.
        """
        final = self.path_for(epoch, step)
        tmp = self.folder / f'.{final.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{self.suffix}'
        try:
            write(tmp)
            if not tmp.is_file() or tmp.stat().st_size == 0:
                raise RunError(f'{final}: the checkpoint writer produced no data')
            fsync_file(tmp)               # the framework's writer may not fsync
            os.replace(tmp, final)
            fsync_dir(self.folder)
        finally:
            if tmp.exists():
                tmp.unlink()
        self._saved += 1
        if keep_max:
            for _, _, old in self.checkpoints()[:-int(keep_max)]:
                old.unlink()
        return final

    def load_latest(self, read, warn=print):
        """Read the newest readable checkpoint, falling back to older ones when one is corrupt.

        Args:
            read (callable): ``read(path) -> state``; raises on a truncated or corrupt file.
            warn (callable): Receives one line per skipped file. Default: print.

        Returns:
            tuple: ``(state, epoch, step, path)``.

        Raises:
            RunError: No checkpoint, or none readable.
        """
        found = self.checkpoints()
        if not found:
            raise RunError(f'{self.folder}: no checkpoint ({self.prefix}-<epoch>_<step>{self.suffix}) to resume from')
        errors = []
        for epoch, step, path in reversed(found):
            try:
                return read(path), epoch, step, path
            except Exception as exc:          # noqa: BLE001 - any reader failure means: try the previous one
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                errors.append(f'{path.name}: {reason}')
                warn(f'warning: {path}: unreadable checkpoint ({reason}); trying the previous one')
        raise RunError(f'{self.folder}: no readable checkpoint ({"; ".join(errors)})')

    # --- closing ---------------------------------------------------------------------------

    def close(self, abandon=False):
        """Release the lock. With ``abandon``, a fresh run that saved nothing removes what it made.

        Args:
            abandon (bool): The run failed. If it was not resumed and wrote no checkpoint, its
                ``run.json`` and lock file go, and the folder too when this run created it and it is
                now empty. Default: False.
        """
        if abandon and not self.resumed and self._saved == 0 and self.run is not None:
            (self.folder / RUN_FILE).unlink(missing_ok=True)
        if self._lock_fd is not None:
            if abandon and self._created_folder:
                (self.folder / LOCK_FILE).unlink(missing_ok=True)
            os.close(self._lock_fd)
            self._lock_fd = None
        if abandon and self._created_folder and self.folder.is_dir() and not any(self.folder.iterdir()):
            self.folder.rmdir()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(abandon=exc_type is not None)
