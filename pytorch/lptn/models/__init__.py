"""LPTN models (the reference's ``codes/models``): networks, losses, and loading released generators."""
import torch

from models.archs import define_network

__all__ = ['define_network', 'load_generator_state', 'generator_state']


def generator_state(state, path='checkpoint', param_key=None):
    """The generator's state dict inside a saved file: BasicSR's ``{'params': ...}`` (or ``params_ema``),
    a bare state dict, or this port's training state (``net_g``); ``module.`` prefixes removed.
    ``param_key`` (BasicSR's ``path.param_key_g``, e.g. 'params_ema' for the moving average a training
    with ``train.ema_decay`` saves beside ``params``) picks one entry of such a file, and must be in it.

    The reference's ``Trans_high.forward`` assigns ``self.trans_mask_block = getattr(...)``, which
    registers the last mask block a second time under ``trans_high.trans_mask_block``: files saved
    after a forward pass carry those alias keys. They are dropped here after checking that they equal
    the block they alias.
    """
    if not isinstance(state, dict):
        raise ValueError(f'{path}: expected a state dict, found a {type(state).__name__}')
    if param_key not in (None, 'params'):      # 'params' is the default order's first choice anyway
        if not isinstance(state.get(param_key), dict):
            entries = sorted(k for k, v in state.items() if isinstance(v, dict) and k in ('params', 'params_ema'))
            raise ValueError(f"{path}: has no '{param_key}' entry (path.param_key_g); "
                             f"it holds {' and '.join(entries) or 'a bare state dict'}")
        state = state[param_key]
    else:
        for key in ('params', 'params_ema', 'net_g'):
            if key in state and isinstance(state[key], dict):
                state = state[key]
                break
    state = {(k[7:] if k.startswith('module.') else k): v for k, v in state.items()}
    alias = [k for k in state if k.startswith('trans_high.trans_mask_block.')]
    if alias:
        last = max(int(k.split('.')[1].rsplit('_', 1)[1]) for k in state if k.startswith('trans_high.trans_mask_block_'))
        for key in alias:
            twin = key.replace('trans_high.trans_mask_block.', f'trans_high.trans_mask_block_{last}.')
            if twin in state and not torch.equal(state[twin], state[key]):
                raise ValueError(f'{path}: {key} differs from {twin}, which it should alias')
            del state[key]
    return state


def _names(keys, most=8):
    keys = sorted(keys)
    return ', '.join(keys[:most]) + (f' (+{len(keys) - most} more)' if len(keys) > most else '') if keys else 'none'


def load_generator_state(net_g, path, strict=True, param_key=None):
    """Load a generator file (see :func:`generator_state`) into ``net_g``.

    Args:
        net_g (nn.Module): LPTN or LPTNPaper.
        path (str | Path): ``.pth`` file.
        strict (bool): Every key must match (``strict_load_g``); False loads the keys that match and
            reports the others, but still refuses a shape mismatch, and a file of which no key matches.
            Default: True.
        param_key (str | None): The entry of a BasicSR file to load (``param_key_g``). Default: None
            ('params', else 'params_ema', else 'net_g').

    Returns:
        str | None: With ``strict`` False and keys that did not match, the one warning line naming the
        missing keys (left at their initial values) and the unexpected ones (ignored), for the log;
        else None.
    """
    from torchzoo.checkpoint import load_state
    state = generator_state(load_state(path, 'path.pretrain_network_g'), path, param_key)
    own = net_g.state_dict()
    for key, value in state.items():
        if key in own and own[key].shape != value.shape:
            raise ValueError(f'{path}: {key} has shape {tuple(value.shape)}, the {type(net_g).__name__} of these '
                             f'options has {tuple(own[key].shape)} (another network_g type or nrb_*/num_high?)')
    matching = [k for k in state if k in own]
    if not matching:
        raise ValueError(f'{path}: none of its keys belongs to a {type(net_g).__name__} ({len(state)} keys; not a '
                         f'generator file?), whatever strict_load_g says')
    result = net_g.load_state_dict(state, strict=False)
    missing, unexpected = result.missing_keys, result.unexpected_keys
    if strict and (missing or unexpected):
        raise ValueError(f'{path}: not a {type(net_g).__name__} of these options (missing {missing[:3]}, '
                         f'unexpected {unexpected[:3]})')
    if not (missing or unexpected):
        return None
    return (f'{path}: strict_load_g is false: loaded {len(matching)} of the {len(own)} weights of this '
            f'{type(net_g).__name__}; missing, left at their initial values: {_names(missing)}; unexpected, '
            f'ignored: {_names(unexpected)}')
