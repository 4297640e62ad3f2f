"""``tf.compat.v1.train.Saver`` checkpoints that survive ``kill -9``, on top of common.runs.

A Saver checkpoint is several files: ``{name}.index`` and ``{name}.data-00000-of-00001``. The index is
what names a checkpoint (TensorFlow reads it first), so :class:`TFCheckpointDir` commits it last:

1. the Saver writes both files under a hidden temporary prefix (``.{name}.{pid}.{hex}.tmp``);
2. the data file is fsync'd and renamed to its final name;
3. :meth:`common.runs.CheckpointDir.save` fsyncs the index, renames it and fsyncs the folder.

A kill leaves temporaries (removed when the folder is next opened, under its lock) or a final data
file without its index (not a checkpoint; removed too), never an index that names missing data.
Resuming reads the newest checkpoint and falls back to the previous one when it is unreadable. The
folder also gets TensorFlow's ``checkpoint`` state file, so ``tf.train.latest_checkpoint`` works.

Run identity (``run.json``), the lock and the refusal of another run's folder come from
:class:`common.runs.CheckpointDir`. Checkpoint names are TensorFlow's ``{prefix}-{global step}``.
"""
import os
import re
import shutil
from pathlib import Path

import tensorflow as tf

from common.fileio import atomic_write_bytes, fsync_dir
from common.fileio import fsync_file
from common.runs import CheckpointDir, RunError

__all__ = ['TFCheckpointDir', 'resolve_checkpoint', 'checkpoint_shapes', 'restore_variables']

INDEX = '.index'
STATE_FILE = 'checkpoint'


class TFCheckpointDir(CheckpointDir):
    """A training run's folder of Saver checkpoints ``{prefix}-{step}.index`` / ``.data-*``.

    Args:
        folder (str | Path): The folder (the reference's ``--model_path``).
        prefix (str): Checkpoint name prefix, e.g. 'RCAN_X2_64_10_20'.
        flag (str): The flag that chose the folder, for messages. Default: '--model_path'.
        init_hint (str): How the model's CLI starts a run from a foreign checkpoint, for the message that
            refuses to resume one. Default: '--fine_tuning True --pre_trained_model <checkpoint>'.
    """

    def __init__(self, folder, prefix, flag='--model_path',
                 init_hint='--fine_tuning True --pre_trained_model <checkpoint>'):
        super().__init__(folder, prefix, suffix=INDEX, flag=flag)
        self.init_hint = init_hint
        self._tf_name = re.compile(rf'^{re.escape(prefix)}-(\d+){re.escape(INDEX)}$')
        self._part = re.compile(rf'^{re.escape(prefix)}-(\d+)\.(data-\d+-of-\d+|meta)$')

    # --- naming -------------------------------------------------------------------------------

    def checkpoints(self):
        """Complete checkpoints (those with an index), oldest first: ``(step, step, index path)``."""
        found = []
        for path in self.folder.iterdir() if self.folder.is_dir() else []:
            match = self._tf_name.match(path.name)
            if match and path.is_file():
                step = int(match.group(1))
                found.append((step, step, path))
        return sorted(found)

    def path_for(self, epoch, step):
        """The index file of the checkpoint at global ``step`` (``epoch`` is not part of TF names)."""
        return self.folder / f'{self.prefix}-{int(step)}{INDEX}'

    @staticmethod
    def prefix_of(index_path):
        """The Saver prefix (what ``saver.restore`` takes) of an index file."""
        return str(index_path)[:-len(INDEX)]

    @classmethod
    def restore(cls, sess, saver, index_path):
        """``saver.restore`` of the checkpoint whose index is ``index_path`` (raises if unreadable)."""
        with sess.graph.as_default():
            saver.restore(sess, cls.prefix_of(index_path))

    # --- opening ------------------------------------------------------------------------------

    def open(self, identity, resume=False, overwrite=False):
        """:meth:`common.runs.CheckpointDir.open`, then remove the parts of incomplete checkpoints."""
        run = super().open(identity, resume=resume, overwrite=overwrite)
        self._remove_incomplete()
        if overwrite:
            self._write_state()
        return run

    def _continue(self, stored, existing, identity):
        if not existing:
            raise RunError(f'{self.folder}: no checkpoint ({self.prefix}-<step>{INDEX}) to resume from')
        if stored is None:
            raise RunError(f'{self.folder}: checkpoints without run.json (not made by this training); start '
                           f'from one with {self.init_hint} instead of resuming')
        return super()._continue(stored, existing, identity)

    def _remove_incomplete(self):
        """With the lock held: remove Saver temporaries and data files whose index is missing."""
        complete = {step for step, _, _ in self.checkpoints()}
        for path in self.folder.iterdir():
            match = self._part.match(path.name)
            orphan = match is not None and int(match.group(1)) not in complete
            temp = path.name.startswith(f'.{self.prefix}-') and '.tmp' in path.name
            if orphan or temp:
                shutil.rmtree(path) if path.is_dir() else path.unlink()

    # --- saving -------------------------------------------------------------------------------

    def save_session(self, sess, saver, step, keep_max=None):
        """Save ``sess`` with ``saver`` as checkpoint ``{prefix}-{step}``, atomically.

        Args:
            sess (tf.compat.v1.Session): The session.
            saver (tf.compat.v1.train.Saver): Saver of the variables to store.
            step (int): Global step (the name's number).
            keep_max (int | None): Keep at most this many checkpoints (the newest). Default: None (all).

        Returns:
            Path: The index file of the new checkpoint.
        """
        final = self.prefix_of(self.path_for(0, step))

        def write(tmp_index):
            tmp = self.prefix_of(tmp_index)
            try:
                with sess.graph.as_default():
                    saver.save(sess, tmp, write_meta_graph=False, write_state=False)
                Path(final + INDEX).unlink(missing_ok=True)    # uncommit an older checkpoint of this step
                for part in sorted(Path(tmp).parent.glob(Path(tmp).name + '.data-*')):
                    fsync_file(part)
                    os.replace(part, final + part.name[len(Path(tmp).name):])
            except BaseException:
                for part in Path(tmp).parent.glob(Path(tmp).name + '.*'):
                    if part != Path(tmp_index):
                        shutil.rmtree(part) if part.is_dir() else part.unlink()
                raise

        index = self.save(0, step, write)
        if keep_max:
            for _, old_step, old in self.checkpoints()[:-int(keep_max)]:
                old.unlink()                                   # uncommit first, then drop the data
                for part in self.folder.glob(f'{self.prefix}-{old_step}.*'):
                    part.unlink()
            fsync_dir(self.folder)
        self._write_state()
        return index

    def _write_state(self):
        """Rewrite TensorFlow's ``checkpoint`` state file (relative names, newest last), atomically."""
        names = [Path(self.prefix_of(path)).name for _, _, path in self.checkpoints()]
        state = self.folder / STATE_FILE
        if not names:
            state.unlink(missing_ok=True)
            return
        lines = [f'model_checkpoint_path: "{names[-1]}"'] + [f'all_model_checkpoint_paths: "{n}"' for n in names]
        atomic_write_bytes(state, ('\n'.join(lines) + '\n').encode())


def resolve_checkpoint(path, flag='--pre_trained_model'):
    """The Saver prefix that ``path`` names: a prefix itself, or a folder's latest checkpoint.

    Args:
        path (str | Path): A checkpoint prefix (``model_dir/RCAN_X2_64_10_20-1000``) or a folder with a
            ``checkpoint`` state file.
        flag (str): For messages. Default: '--pre_trained_model'.

    Returns:
        str: The prefix (``{prefix}.index`` exists).

    Raises:
        FileNotFoundError: Neither.
    """
    path = Path(path)
    if path.is_dir():
        latest = tf.train.latest_checkpoint(str(path))
        if latest is None or not Path(latest + INDEX).is_file():
            raise FileNotFoundError(f'{flag}={path}: a folder without a TensorFlow checkpoint (no "checkpoint" '
                                    f'state file naming one); give a checkpoint prefix such as '
                                    f'{path / "RCAN_X2_64_10_20-1000"}')
        return latest
    if Path(str(path) + INDEX).is_file():
        return str(path)
    if path.suffix == INDEX and path.is_file():
        return str(path)[:-len(INDEX)]
    raise FileNotFoundError(f'{flag}={path}: no TensorFlow checkpoint there (no {path.name}{INDEX})')


def checkpoint_shapes(prefix, flag='--pre_trained_model'):
    """``{variable name: shape}`` stored in a checkpoint, or a one-line ValueError if it is unreadable."""
    try:
        return dict(tf.train.load_checkpoint(prefix).get_variable_to_shape_map())
    except (tf.errors.OpError, ValueError) as err:
        reason = str(getattr(err, 'message', err)).strip().splitlines()[0]
        raise ValueError(f'{flag}={prefix}: not a readable TensorFlow checkpoint ({reason})') from None


def restore_variables(sess, prefix, variables, required, skip=(), flag='--pre_trained_model'):
    """Restore those of ``variables`` that a checkpoint holds, requiring some of them.

    Args:
        sess (tf.compat.v1.Session): Target session.
        prefix (str): Checkpoint prefix.
        variables (list[tf.Variable]): Candidates (e.g. all global variables).
        required (list[tf.Variable]): Those that must be in the checkpoint (e.g. the weights).
        skip (tuple[str]): Variables whose name contains one of these are left as they are (the
            reference's fine-tuning skips 'up_sample' and 'conv_rec'). Default: ().
        flag (str): For messages. Default: '--pre_trained_model'.

    Returns:
        tuple[list[str], list[str]]: Restored names, and optional names the checkpoint lacked.

    Raises:
        ValueError: A required variable is missing, or a shape differs (one line naming it).
    """
    shapes = checkpoint_shapes(prefix, flag)
    required_names = {v.op.name for v in required}
    chosen, absent = {}, []
    for var in variables:
        name = var.op.name
        if any(s in name for s in skip):
            continue
        if name not in shapes:
            if name in required_names:
                raise ValueError(f'{flag}={prefix}: lacks variable {name} (a checkpoint of another network?)')
            absent.append(name)
            continue
        want = var.shape.as_list()
        if list(shapes[name]) != want:
            raise ValueError(f'{flag}={prefix}: variable {name} has shape {list(shapes[name])}, the network '
                             f'needs {want} (another --scale, --n_feats, ...?)')
        chosen[name] = var
    if not chosen:
        raise ValueError(f'{flag}={prefix}: holds none of the network variables')
    try:
        with sess.graph.as_default():
            tf.compat.v1.train.Saver(var_list=chosen).restore(sess, prefix)
    except tf.errors.OpError as err:
        reason = str(err.message).strip().splitlines()[0]
        raise ValueError(f'{flag}={prefix}: cannot restore ({reason})') from None
    return sorted(chosen), absent
