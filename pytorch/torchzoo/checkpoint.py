"""Checkpoint files: state dicts read with ``weights_only=True``, RNG states, and an opt-in loader for
the whole-module pickles that older ports wrote with ``torch.save(model)``.

A training checkpoint is a dict of tensors and plain Python values (model, optimizer, scheduler and
loss-scaler state dicts, counters, RNG states, the training history), so reading it never runs code
from the file. Writing and choosing the file is :class:`common.runs.CheckpointDir`'s job (atomic
rename, fall back to the previous file when the newest is corrupt).
"""
import pickle
import random
import types
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ['capture_rng', 'restore_rng', 'save_state', 'load_state', 'load_pickled_module', 'PickleNotAllowed']


class PickleNotAllowed(ValueError):
    """A file that holds pickled Python objects, refused without the explicit opt-in."""


def capture_rng():
    """The global RNG states (torch CPU and CUDA, numpy, Python) as checkpoint-safe values."""
    np_state = np.random.get_state()
    state = {'torch': torch.get_rng_state(),
             'numpy': [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
             'python': random.getstate()}
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state):
    """Undo :func:`capture_rng` (missing parts are left as they are)."""
    if 'torch' in state:
        torch.set_rng_state(state['torch'])
    if 'numpy' in state:
        name, key, *rest = state['numpy']
        np.random.set_state((name, np.asarray(key, dtype=np.int64).astype(np.uint32), *rest))
    if 'python' in state:
        version, internal, gauss = state['python']
        random.setstate((version, tuple(internal), gauss))
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


def save_state(path, state):
    """``torch.save`` a checkpoint dict to ``path`` (the caller makes the write atomic)."""
    torch.save(state, str(path))


def load_state(path, flag='--model'):
    """Read a checkpoint dict written by :func:`save_state`, with ``weights_only=True``, onto the CPU.

    Args:
        path (str | Path): The file.
        flag (str): The flag that named it, for messages. Default: '--model'.

    Returns:
        dict: The checkpoint.

    Raises:
        PickleNotAllowed: The file holds pickled objects (e.g. a whole module).
        ValueError: Missing, empty, truncated or not a PyTorch file (one line naming it).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{flag}={path}: {'is a folder, expected a file' if path.is_dir() else 'no such file'}")
    if path.stat().st_size == 0:
        raise ValueError(f'{path}: empty checkpoint file (0 bytes)')
    try:
        state = torch.load(str(path), map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        if 'Unsupported global' in str(err):      # pickled classes (a whole module), not a damaged file
            raise PickleNotAllowed(f'{path}: holds pickled Python objects (a whole model saved with torch.save(model)?); '
                                   f'unpickling runs code from the file: pass --allow_pickle if you trust it') from None
        raise ValueError(f'{path}: not a readable PyTorch checkpoint ({_first_line(err)})') from None
    except Exception as err:                      # noqa: BLE001 - zip, EOF, storage errors of a damaged file
        raise ValueError(f'{path}: not a readable PyTorch checkpoint (truncated or corrupt: {_first_line(err)})') from None
    if not isinstance(state, dict):
        raise ValueError(f'{path}: expected a checkpoint dict, found a {type(state).__name__}')
    return state


def _first_line(err):
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


class _PickledModule(nn.Module):
    """Stands in for a class of the port's own package: keeps the pickled attributes and submodules."""

    def forward(self, *args):            # pragma: no cover - only the state dict is used
        raise TypeError('a stand-in for a pickled model class cannot run; load its state_dict into the real class')


def load_pickled_module(path, packages=('model',)):
    """Unpickle a whole module saved with ``torch.save(model)`` (trusted files only: this runs code).

    Classes of the port's own packages (``model.rdn.RDN`` ...) are replaced by stand-ins that keep
    the submodules and parameters, so the file loads whatever this repository's modules are called;
    torch's classes load as they are. Use the result's ``state_dict()``.

    Args:
        path (str | Path): The file, e.g. ``ckpt/RDN/model_epoch_250.pth``.
        packages (tuple[str]): Top-level package names whose classes are stood in for. Default: ('model',).

    Returns:
        torch.nn.Module: The unpickled module (of stand-in classes).
    """
    stand_ins = {}

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if module.split('.')[0] in packages:
                key = f'{module}.{name}'
                if key not in stand_ins:
                    stand_ins[key] = type(name, (_PickledModule,), {'__module__': __name__, '__qualname__': name})
                return stand_ins[key]
            return super().find_class(module, name)

    def load(file, **kwargs):
        return Unpickler(file, **kwargs).load()

    shim = types.SimpleNamespace(Unpickler=Unpickler, load=load, __name__='pickle')
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise ValueError(f"{path}: {'empty file (0 bytes)' if path.is_file() else 'no such file'}")
    try:
        with warnings.catch_warnings():      # the stand-ins have no source to compare with the pickled one
            warnings.filterwarnings('ignore', message="Couldn't retrieve source code", category=UserWarning)
            warnings.filterwarnings('ignore', message='source code of class', category=UserWarning)
            obj = torch.load(str(path), map_location='cpu', weights_only=False, pickle_module=shim)
    except Exception as err:                      # noqa: BLE001 - any failure of a damaged or foreign file
        raise ValueError(f'{path}: cannot unpickle it ({_first_line(err)})') from None
    if not isinstance(obj, nn.Module):
        raise ValueError(f'{path}: expected a pickled nn.Module, found a {type(obj).__name__}')
    return obj
