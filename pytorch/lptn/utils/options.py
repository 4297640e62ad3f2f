"""Options files: the reference's YAML keys, checked against this folder's own files, plus derived fields.

``parse(path, is_train)`` reads an options file and checks it with :func:`common.config.check_config`
against the schema of its kind (``options/train/LPTN/train_FiveK.yml``, ``options/test/LPTN/test_FiveK.yml``
or ``test_speed_FiveK.yml``): an unknown key, a missing key or a value of the wrong type is one line
naming the file and the dotted key. Keys this repository added (``train.mode``, ``train.ema_decay``,
``path.param_key_g``) may be left out of a file written for the reference; they take the schema's value.

``--force_yml key.sub=value`` overrides (BasicSR's flag) are parsed as YAML scalars with
``yaml.safe_load`` (never ``eval``/``exec``) and checked like the file.

Derived fields, as the reference's ``parse``: ``is_train``, ``dist``, ``rank``, ``world_size``,
``datasets.<phase>.phase``, ``path.root``, ``path.experiments_root`` (``experiments/<name>``) with
``models``, ``training_states``, ``log`` and ``visualization`` for training, ``path.results_root``
(``results/<name>``) with ``log`` and ``visualization`` for testing; a ``name`` containing ``debug``
shortens ``val_freq``, ``print_freq`` and ``save_checkpoint_freq`` to 8, 1 and 8.
"""
import copy
import os
from pathlib import Path

import yaml

from common.config import ConfigError, check_config, read_yaml_documents

__all__ = ['ROOT', 'SCHEMAS', 'OPTIONAL', 'parse', 'apply_overrides', 'dict2str', 'check_run_outside_data', 'LAUNCHERS']

ROOT = Path(__file__).resolve().parents[1]            # pytorch/lptn: experiments/ and results/ live here
SCHEMAS = {'train': ROOT / 'options' / 'train' / 'LPTN' / 'train_FiveK.yml',
           'test': ROOT / 'options' / 'test' / 'LPTN' / 'test_FiveK.yml',
           'speed': ROOT / 'options' / 'test' / 'LPTN' / 'test_speed_FiveK.yml'}
# Keys that this repository added: a reference options file without them is still complete.
OPTIONAL = {'train': {('train', 'mode'): 'unpaired', ('train', 'ema_decay'): 0.0},
            'test': {('path', 'param_key_g'): 'params'}, 'speed': {('path', 'param_key_g'): 'params'}}
LAUNCHERS = ('none', 'pytorch', 'slurm')
TRAIN_TYPES = {'unpaired': 'UnPairedImageDataset', 'paired': 'PairedImageDataset'}


def _schema(kind):
    return read_yaml_documents(SCHEMAS[kind], 'schema')[0]


def apply_overrides(opt, overrides, path):
    """Set ``key.sub=value`` overrides (values parsed as YAML scalars) in ``opt``; returns ``opt``."""
    for item in overrides or []:
        key, sep, text = item.partition('=')
        if not sep or not key.strip():
            raise ConfigError(f"--force_yml {item!r}: expected key.sub=value, e.g. train.total_iter=1000")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise ConfigError(f'--force_yml {item!r}: the value is not valid YAML') from None
        node, parts = opt, key.strip().split('.')
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"--force_yml {item!r}: {path} has no mapping '{part}' on the way to '{key}'")
            node = node[part]
        node[parts[-1]] = value
    return opt


def _fill_optional(opt, kind):
    for keys, default in OPTIONAL[kind].items():
        node = opt
        for part in keys[:-1]:
            node = node.get(part) if isinstance(node.get(part), dict) else None
            if node is None:
                break
        if node is not None:
            node.setdefault(keys[-1], copy.deepcopy(default))


def _check_values(opt, path, kind):
    """What the schema's types cannot say: choices and ranges that a wrong value would turn into a crash later."""
    def bad(key, what):
        raise ConfigError(f"{path}: key '{key}' {what}")

    if opt['network_g']['type'] not in ('LPTN', 'LPTNPaper'):
        bad('network_g.type', f"must be LPTN or LPTNPaper, got {opt['network_g']['type']!r}")
    for key in ('nrb_low', 'nrb_high', 'num_high'):
        if opt['network_g'][key] < (1 if key == 'num_high' else 0):
            bad(f'network_g.{key}', f"must be >= {1 if key == 'num_high' else 0}, got {opt['network_g'][key]}")
    if opt['num_gpu'] < 0:
        bad('num_gpu', f"must be >= 0, got {opt['num_gpu']}")
    for phase, ds in opt['datasets'].items():
        if ds['io_backend']['type'] not in ('disk', 'lmdb'):
            bad(f'datasets.{phase}.io_backend.type', f"must be disk or lmdb, got {ds['io_backend']['type']!r}")
    if kind != 'train':
        if opt['path']['param_key_g'] not in ('params', 'params_ema'):
            bad('path.param_key_g', f"must be params or params_ema, got {opt['path']['param_key_g']!r}")
        return
    train, ds = opt['train'], opt['datasets']['train']
    if train['mode'] not in TRAIN_TYPES:
        bad('train.mode', f"must be unpaired or paired, got {train['mode']!r}")
    if ds['type'] != TRAIN_TYPES[train['mode']]:
        bad('datasets.train.type', f"must be {TRAIN_TYPES[train['mode']]} for train.mode={train['mode']}, got {ds['type']!r}")
    if opt['datasets']['val']['type'] != 'PairedImageDataset':
        bad('datasets.val.type', f"must be PairedImageDataset, got {opt['datasets']['val']['type']!r}")
    if opt['network_d']['type'] != 'Discriminator':
        bad('network_d.type', f"must be Discriminator, got {opt['network_d']['type']!r}")
    for key in ('optim_g', 'optim_d'):
        if train[key]['type'] != 'Adam':
            bad(f'train.{key}.type', f"must be Adam (the only optimiser the reference supports), got {train[key]['type']!r}")
        if not train[key]['lr'] > 0:
            bad(f'train.{key}.lr', f"must be > 0, got {train[key]['lr']}")
        if len(train[key]['betas']) != 2:
            bad(f'train.{key}.betas', f"must hold two numbers, got {train[key]['betas']}")
    if train['scheduler']['type'] != 'MultiStepLR':
        bad('train.scheduler.type', f"must be MultiStepLR, got {train['scheduler']['type']!r}")
    if train['pixel_opt']['type'] not in ('MSELoss', 'L1Loss'):
        bad('train.pixel_opt.type', f"must be MSELoss or L1Loss, got {train['pixel_opt']['type']!r}")
    if train['pixel_opt']['reduction'] not in ('mean', 'sum'):
        bad('train.pixel_opt.reduction', f"must be mean or sum, got {train['pixel_opt']['reduction']!r}")
    if train['gan_opt']['gan_type'] != 'standard':
        bad('train.gan_opt.gan_type', f"must be standard (the WGAN critic loss the reference uses), got "
            f"{train['gan_opt']['gan_type']!r}")
    for key, low in (('total_iter', 1), ('net_d_iters', 1), ('net_d_init_iters', 0)):
        if train[key] < low:
            bad(f'train.{key}', f'must be >= {low}, got {train[key]}')
    if not 0 <= train['ema_decay'] < 1:
        bad('train.ema_decay', f"must be in [0, 1) (0: no moving average), got {train['ema_decay']}")
    for key in ('batch_size_per_gpu', 'dataset_enlarge_ratio', 'gt_size'):
        if ds[key] < 1:
            bad(f'datasets.train.{key}', f'must be >= 1, got {ds[key]}')
    if ds['num_worker_per_gpu'] < 0:
        bad('datasets.train.num_worker_per_gpu', f"must be >= 0, got {ds['num_worker_per_gpu']}")
    if not ds['if_fix_size'] and ds['batch_size_per_gpu'] != 1:
        bad('datasets.train.batch_size_per_gpu', 'must be 1 when if_fix_size is false (crops of different sizes)')
    for key in ('val_freq', 'print_freq', 'save_checkpoint_freq'):
        section = opt['val'] if key == 'val_freq' else opt['logger']
        if not float(section[key]).is_integer() or section[key] < 1:
            bad(f"{'val' if key == 'val_freq' else 'logger'}.{key}", f'must be a whole number >= 1, got {section[key]}')


def _launched_world(env=None):
    """``(rank, world_size)`` that torchrun gave this process, for ``--launcher=pytorch``."""
    from torchzoo.dist import plan_from_env
    env = os.environ if env is None else env
    if not env.get('WORLD_SIZE'):
        raise ConfigError('--launcher=pytorch: start the processes with torchrun (no WORLD_SIZE, RANK in the '
                          'environment), e.g. torchrun --nproc_per_node=8 train.py -opt ... --launcher pytorch')
    plan = plan_from_env('cpu', env)
    return plan.rank, plan.world_size


def parse(opt_path, kind='train', overrides=None, launcher='none', root=None):
    """Read, check and complete an options file.

    Args:
        opt_path (str | Path): The YAML file (``-opt``).
        kind (str): 'train', 'test' or 'speed' (which schema it must match). Default: 'train'.
        overrides (list[str] | None): ``key.sub=value`` strings (``--force_yml``). Default: None.
        launcher (str): 'none' (one process), 'pytorch' or 'slurm'. Default: 'none'.
        root (str | Path | None): Folder holding ``experiments/`` and ``results/``. Default: None (this
            port's folder, as the reference's repository root).

    Returns:
        dict: The options with the derived fields.

    Raises:
        ConfigError: A bad file, key, type or value (one line naming the key and the file).
    """
    if launcher not in LAUNCHERS:
        raise ConfigError(f"--launcher={launcher}: choose from {', '.join(LAUNCHERS)}")
    if launcher == 'slurm':
        raise ConfigError('--launcher=slurm: not supported by this port; start one process per device with torchrun '
                          'and --launcher=pytorch')
    if launcher == 'pytorch' and kind != 'train':
        raise ConfigError(f'--launcher=pytorch: only training is distributed; run {kind} with --launcher=none')
    world = _launched_world() if launcher == 'pytorch' else None
    path = Path(opt_path)
    opt = read_yaml_documents(path, '-opt')[0]
    apply_overrides(opt, overrides, path)
    _fill_optional(opt, kind)
    check_config(opt, _schema(kind), path)
    _check_values(opt, path, kind)
    opt['is_train'] = kind == 'train'
    opt['dist'], opt['rank'], opt['world_size'] = False, 0, 1
    if world is not None:
        opt['dist'], opt['rank'], opt['world_size'] = True, world[0], world[1]
    for phase, dataset in opt['datasets'].items():
        dataset['phase'] = phase
    root = Path(root).resolve() if root else ROOT
    opt['path']['root'] = str(root)
    if opt['is_train']:
        exp = root / 'experiments' / opt['name']
        opt['path'].update(experiments_root=str(exp), models=str(exp / 'models'),
                           training_states=str(exp / 'training_states'), log=str(exp),
                           visualization=str(exp / 'visualization'))
        if 'debug' in opt['name']:
            opt['val']['val_freq'], opt['logger']['print_freq'], opt['logger']['save_checkpoint_freq'] = 8, 1, 8
        for section, key in (('val', 'val_freq'), ('logger', 'print_freq'), ('logger', 'save_checkpoint_freq')):
            opt[section][key] = int(opt[section][key])
    else:
        res = root / 'results' / opt['name']
        opt['path'].update(results_root=str(res), log=str(res), visualization=str(res / 'visualization'))
    return opt


def check_run_outside_data(opt):
    """Refuse a run folder (``path.experiments_root`` in training, ``path.results_root`` in testing, both
    under ``--root``) that is or lies inside a ``dataroot_*`` folder: its strips would be read as data.

    Raises:
        ValueError: One line naming the run folder and the dataroot.
    """
    from data import resolve_root
    from torchzoo.lifecycle import check_outside_data
    key = 'experiments_root' if opt['is_train'] else 'results_root'
    sources = []
    for phase, ds in opt['datasets'].items():
        for name in ('dataroot_lq', 'dataroot_gt'):
            if ds.get(name):
                flag = f'datasets.{phase}.{name}'
                sources.append((resolve_root(ds[name], flag, ROOT), flag))
    check_outside_data(opt['path'][key], f'path.{key} (under --root)', sources)


def dict2str(opt, indent=1):
    """The options as indented ``key: value`` lines, for the log (the reference's format)."""
    lines = []
    for key, value in opt.items():
        if isinstance(value, dict):
            lines.append(' ' * (indent * 2) + f'{key}:[')
            lines.append(dict2str(value, indent + 1))
            lines.append(' ' * (indent * 2) + ']')
        else:
            lines.append(' ' * (indent * 2) + f'{key}: {value}')
    return '\n'.join(lines)
