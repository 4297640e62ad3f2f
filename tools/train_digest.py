"""Bit-identical training across a refactor: digests of a 50-step training of each of the five models.

Each model's own training entry point in ``--tree`` (default: this repository) trains for 50 steps
from a fixed seed on the sample data (``common.sample_data``), with tiny widths and patches, one
thread (``OMP_NUM_THREADS=1``; TensorFlow ``--intra_op_threads=1 --inter_op_threads=1``; no data
loader workers), in a temporary folder outside any repository, and saves a checkpoint at the end:

- rdn: ``pytorch/rdn/train.py`` (bench preset, x4), ``ckpt/RDN/rdn-<epoch>_<step>.pth``;
- lptn: ``pytorch/lptn/train.py -opt options/train/LPTN/train_FiveK.yml --force_yml ...`` (the
  sample FiveK photos from disk), ``experiments/<name>/training_states/lptn-<epoch>_<iter>.state``;
- srcnn: ``mindspore/srcnn/src/create_dataset.py`` (a mindrecord of the sample DIV2K photos), then
  ``mindspore/srcnn/train.py``, ``ckpt_0/srcnn-<epoch>_<step>.ckpt``;
- rcan: ``tensorflow/rcan/main.py --mode=train``, ``RCAN_X2_<n_feats>_<n_RG>_<n_RCAB>-<step>.index``;
- bsrn: ``tensorflow/bsrn/train.py``, ``<prefix>-<step>.index``.

The newest checkpoint a run wrote is then read in a separate process of that model's framework
(``torch.load(weights_only=True)``, ``mindspore.load_checkpoint``, ``tf.train.load_checkpoint``),
without the model code: only the checkpoint formats are relied on. Its numeric contents become
name-sorted ``(name, numpy array)`` pairs (nested names joined with '.'; lists of numbers as one
array; strings and None are not numeric and are left out), digested with
``common.runs.weights_digest`` in two parts: the network weights (rdn: ``model``; lptn:
``model.net_g`` and ``model.net_d``; srcnn and TensorFlow: the variables Adam keeps moments for,
``moment1.<name>`` and ``<name>/Adam``) and everything else (Adam moments and powers, learning
rates, schedulers, step counters, the torch RNG state, loss histories). The record also keeps a
short digest of every array, so that ``--check`` can name the arrays that differ.

Left out as legitimately different from run to run: the wall-clock seconds trained
(``train_seconds`` of rdn, lptn and srcnn; ``train_state/seconds`` of rcan and bsrn), and the
global numpy and Python RNG states that the PyTorch checkpoints capture (``rng.numpy``,
``rng.python``): no training seeds or draws from them (data and initialisation use seeded
generators of their own), so they hold whatever the interpreter started with.

One line per model gives both digests and the seconds its steps took (srcnn's include building its
mindrecord); all five take about a minute and a half on one free core. The tree's scripts import
``common``, ``torchzoo`` and ``tfzoo`` as that tree does: a tree whose scripts put their own
folders on sys.path (such as b33d371) uses its own copies, a tree without path edits uses the
packages installed in this interpreter.

    python -m tools.train_digest --tree /tmp/before --out results/train_digest.json
    python -m tools.train_digest --check results/train_digest.json
"""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import paths, records
from common.cli import EXPECTED_ERRORS, FlagParser, run_cli
from common.fileio import atomic_write_bytes
from common.runs import weights_digest
from common.sample_data import ensure_sample_data

FORMAT = 'srzoo.train_digest/1'
STEPS, SEED = 50, 1
MODELS = ('rdn', 'lptn', 'srcnn', 'rcan', 'bsrn')
FRAMEWORK = {'rdn': 'pytorch', 'lptn': 'pytorch', 'srcnn': 'mindspore', 'rcan': 'tensorflow', 'bsrn': 'tensorflow'}
# Names (and groups: a name and what lies under it) that differ from run to run of the same code.
EXCLUDED = {'rdn': ('train_seconds', 'rng.numpy', 'rng.python'), 'lptn': ('train_seconds', 'rng.numpy', 'rng.python'),
            'srcnn': ('train_seconds',), 'rcan': ('train_state/seconds',), 'bsrn': ('train_state/seconds',)}
TF_THREADS = ['--intra_op_threads=1', '--inter_op_threads=1']


class TrainingFailed(RuntimeError):
    """A training or a checkpoint reader exited with an error (its output is printed before)."""


# --- the five trainings ---------------------------------------------------------------------------

def _rdn(tree, work, data):
    out = work / 'rdn'
    cmd = [tree / 'pytorch' / 'rdn' / 'train.py', f'--datapath={data / "DIV2K"}', '--preset=bench',
           '--upscale_factor=4', '--batchSize=4', '--patch_size=48', '--dataset_enlarge_ratio=8', '--milestones=1.5',
           '--threads=0', '--tensorboard=False', '--device=cpu', '--amp=fp32', f'--max_steps={STEPS}',
           '--save_checkpoint_steps=0', f'--seed={SEED}', f'--output_path={out}']
    return [cmd], lambda: _newest(out / 'ckpt' / 'RDN', r'rdn-(\d+)_(\d+)\.pth')


def _lptn(tree, work, data):
    out, fivek = work / 'lptn', data / 'FiveK' / 'FiveK_480p'
    lptn = tree / 'pytorch' / 'lptn'
    sets = []
    for phase, split in (('train', 'train'), ('val', 'test')):
        sets += [f'datasets.{phase}.dataroot_gt={fivek / split / "B"}',
                 f'datasets.{phase}.dataroot_lq={fivek / split / "A"}', f'datasets.{phase}.io_backend.type=disk']
    cmd = [lptn / 'train.py', '-opt', lptn / 'options' / 'train' / 'LPTN' / 'train_FiveK.yml', f'--root={out}',
           '--amp=fp32', '--force_yml', 'num_gpu=0', 'name=train_digest', *sets, 'datasets.train.gt_size=32',
           'datasets.train.batch_size_per_gpu=2', 'datasets.train.num_worker_per_gpu=0',
           'datasets.train.dataset_enlarge_ratio=2', f'train.total_iter={STEPS}', 'train.scheduler.milestones=[20,40]',
           'logger.print_freq=10', f'val.val_freq={STEPS}', f'logger.save_checkpoint_freq={STEPS}',
           'logger.use_tb_logger=false', 'val.save_img=false']
    states = out / 'experiments' / 'train_digest' / 'training_states'
    return [cmd], lambda: _newest(states, r'lptn-(\d+)_(\d+)\.state')


def _srcnn(tree, work, data):
    srcnn, records_dir, out = tree / 'mindspore' / 'srcnn', work / 'srcnn_mindrecord', work / 'srcnn'
    build = [srcnn / 'src' / 'create_dataset.py', f'--src_folder={data / "DIV2K" / "DIV2K_train_HR"}',
             f'--output_folder={records_dir}', '--scale=2', '--patch_size=33', '--stride=99']
    train = [srcnn / 'train.py', '--device_target=CPU', f'--data_path={records_dir}', f'--output_path={out}',
             '--batch_size=16', f'--max_steps={STEPS}', '--epoch_size=1000', '--lr_drop_at=0.6',
             '--save_checkpoint_steps=0', '--num_parallel_workers=1', f'--seed={SEED}']
    return [build, train], lambda: _newest(out / 'ckpt_0', r'srcnn-(\d+)_(\d+)\.ckpt')


def _rcan(tree, work, data):
    out, div2k = work / 'rcan', data / 'DIV2K'
    cmd = [tree / 'tensorflow' / 'rcan' / 'main.py', '--mode=train', '--scale=2',
           f'--train_GT_path={div2k / "DIV2K_train_HR"}', f'--train_LR_path={div2k / "DIV2K_train_LR_bicubic" / "X2"}',
           '--n_feats=32', '--n_RG=2', '--n_RCAB=2', '--patch_size=24', '--batch_size=4', f'--max_step={STEPS}',
           '--decay_step=30', '--log_freq=10', f'--model_save_freq={STEPS}', '--dataset_enlarge_ratio=8',
           f'--log_dir={work / "rcan_logs"}', f'--model_path={out}', *TF_THREADS, f'--seed={SEED}']
    return [cmd], lambda: _newest(out, r'.+-(\d+)\.index')


def _bsrn(tree, work, data):
    out, div2k = work / 'bsrn', data / 'DIV2K'
    cmd = [tree / 'tensorflow' / 'bsrn' / 'train.py', '--dataloader=div2k_loader',
           f'--data_input_path={div2k / "DIV2K_train_LR_bicubic"}', f'--data_truth_path={div2k / "DIV2K_train_HR"}',
           '--scales=2,3,4', '--bsrn_conv_features=16', '--bsrn_state_features=16', '--bsrn_recursions=2',
           '--bsrn_recursion_frequency=1', '--input_patch_size=24', '--batch_size=4', f'--max_steps={STEPS}',
           '--bsrn_learning_rate_decay_steps=30', f'--save_freq={STEPS}', '--log_freq=10', '--summary_freq=1000',
           '--sleep_ratio=0', '--data_cached=True', '--chip=cpu', f'--train_path={out}', *TF_THREADS, f'--seed={SEED}']
    return [cmd], lambda: _newest(out, r'.+-(\d+)\.index')


PLANS = {'rdn': _rdn, 'lptn': _lptn, 'srcnn': _srcnn, 'rcan': _rcan, 'bsrn': _bsrn}


def _newest(folder, pattern):
    """The checkpoint in ``folder`` whose name matches ``pattern`` with the largest numbers in it."""
    found = []
    for path in Path(folder).iterdir() if Path(folder).is_dir() else []:
        match = re.fullmatch(pattern, path.name)
        if match:
            found.append((tuple(int(g) for g in match.groups()), path))
    if not found:
        raise TrainingFailed(f'{folder}: the training wrote no checkpoint matching {pattern}')
    return max(found)[1]


def _env():
    return dict(os.environ, OMP_NUM_THREADS='1')


def _run(cmd, cwd, log):
    """Run ``python cmd...`` in ``cwd``, its output appended to ``log``; raise TrainingFailed if it fails."""
    argv = [sys.executable, *map(str, cmd)]
    with open(log, 'a', encoding='utf-8') as out:
        code = subprocess.run(argv, cwd=cwd, env=_env(), stdout=out, stderr=subprocess.STDOUT).returncode
    if code != 0:
        tail = Path(log).read_text(encoding='utf-8', errors='replace').splitlines()[-25:]
        print('\n'.join(tail), file=sys.stderr, flush=True)
        raise TrainingFailed(f'{cmd[0]} exited with {code} (its last lines are above)')


# --- reading a checkpoint, in the framework's own process -----------------------------------------

def _numeric(name, value, out):
    """Append the numeric leaves of a nested checkpoint value to ``out`` as (name, numpy array)."""
    import numpy as np
    if isinstance(value, dict):
        for key, item in value.items():
            _numeric(f'{name}.{key}' if name else str(key), item, out)
    elif isinstance(value, (list, tuple)) and value and all(isinstance(v, (bool, int, float)) for v in value):
        out.append((name, np.asarray(value)))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _numeric(f'{name}.{i}', item, out)
    elif isinstance(value, (bool, int, float, np.ndarray, np.generic)):
        out.append((name, np.asarray(value)))
    elif hasattr(value, 'detach'):                                     # a torch tensor
        tensor = value.detach().cpu()
        out.append((name, (tensor.float() if str(tensor.dtype) == 'torch.bfloat16' else tensor).numpy()))


def _torch_arrays(model, path):
    import torch
    arrays = []
    _numeric('', torch.load(str(path), map_location='cpu', weights_only=True), arrays)
    weights = ('model.',) if model == 'rdn' else ('model.net_g.', 'model.net_d.')
    return arrays, lambda name: name.startswith(weights), torch.__version__


def _mindspore_arrays(path):
    import mindspore as ms
    arrays = [(name, param.asnumpy()) for name, param in ms.load_checkpoint(str(path)).items()]
    names = {name for name, _ in arrays}
    # The network's parameters are those Adam keeps moments for (moment1.<name>); the rest is its state.
    return arrays, lambda name: f'moment1.{name}' in names, ms.__version__


def _tf_arrays(prefix):
    import tensorflow as tf
    reader = tf.train.load_checkpoint(prefix)
    names = sorted(reader.get_variable_to_shape_map())
    arrays = [(name, reader.get_tensor(name)) for name in names]
    # A network variable is one the optimiser keeps slots for (<name>/Adam, <name>/Adam_1, ...).
    parents = {name.rsplit('/', 1)[0] for name in names if '/' in name}
    return arrays, lambda name: name in parents and not name.startswith('train_state/'), tf.__version__


def _varies(model, name):
    """Whether ``name`` is one of EXCLUDED[model] or lies under one of them."""
    return any(name == group or name.startswith(f'{group}.') for group in EXCLUDED[model])


def checkpoint_digests(model, path):
    """Digests of one checkpoint (run in a process of the model's framework).

    Args:
        model (str): One of MODELS.
        path (str | Path): The checkpoint file (for TensorFlow, its ``.index`` file).

    Returns:
        dict: ``weights_sha256``, ``state_sha256``, ``arrays`` (name: 16 hex digits, ``w:`` or ``s:``
        before them), ``excluded`` (names left out) and ``framework_version``.
    """
    if FRAMEWORK[model] == 'pytorch':
        arrays, is_weight, version = _torch_arrays(model, path)
    elif FRAMEWORK[model] == 'mindspore':
        arrays, is_weight, version = _mindspore_arrays(path)
    else:
        arrays, is_weight, version = _tf_arrays(str(path)[:-len('.index')])
    excluded = sorted(name for name, _ in arrays if _varies(model, name))
    kept = sorted((item for item in arrays if not _varies(model, item[0])), key=lambda item: item[0])
    weights = [item for item in kept if is_weight(item[0])]
    state = [item for item in kept if not is_weight(item[0])]
    return {'weights_sha256': weights_digest(weights), 'state_sha256': weights_digest(state),
            'arrays': {name: ('w:' if is_weight(name) else 's:') + weights_digest([(name, value)])[:16]
                       for name, value in kept},
            'excluded': excluded, 'framework_version': version}


def _read(model, path, cwd, log):
    code = 'import json, sys; from tools.train_digest import checkpoint_digests as d; ' \
           'print(json.dumps(d(sys.argv[1], sys.argv[2])))'
    proc = subprocess.run([sys.executable, '-c', code, model, str(path)], cwd=cwd, env=_env(),
                          capture_output=True, text=True)
    with open(log, 'a', encoding='utf-8') as out:
        out.write(proc.stderr)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr, flush=True)
        raise TrainingFailed(f'reading {path.name} exited with {proc.returncode}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- the record -----------------------------------------------------------------------------------

def digest_model(model, tree, work, data):
    """Train ``model`` from ``tree`` in ``work`` and digest its final checkpoint; returns its record entry."""
    steps, final = PLANS[model](tree, work, data)
    log = work / f'{model}.log'
    begin = time.time()
    for cmd in steps:
        _run(cmd, work, log)
    seconds = time.time() - begin
    path = final()
    entry = _read(model, path, work, log)
    placeholders = ((str(work), '<work>'), (str(tree), '<tree>'), (str(data), '<sample data>'))
    commands = []
    for cmd in steps:
        text = ' '.join(map(str, cmd))
        for real, shown in placeholders:
            text = text.replace(real, shown)
        commands.append(f'python {text}')
    return {'framework': FRAMEWORK[model], 'weights_sha256': entry['weights_sha256'],
            'state_sha256': entry['state_sha256'], 'seconds': round(seconds, 1),
            'checkpoint': path.relative_to(work).as_posix(), 'framework_version': entry['framework_version'],
            'excluded': entry['excluded'], 'commands': commands, 'arrays': entry['arrays']}


def _git(tree, *args):
    proc = subprocess.run(['git', '-C', str(tree), *args], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def differences(stored, new):
    """One line per model of ``new`` whose digests differ from ``stored`` (or that ``stored`` lacks)."""
    lines = []
    for model, entry in new['models'].items():
        old = stored.get('models', {}).get(model)
        if old is None:
            lines.append(f'{model}: not in the stored record')
            continue
        which = [part for part in ('weights', 'state') if old[f'{part}_sha256'] != entry[f'{part}_sha256']]
        if which:
            old_arrays, new_arrays = old.get('arrays', {}), entry.get('arrays', {})
            names = sorted(n for n in set(old_arrays) | set(new_arrays) if old_arrays.get(n) != new_arrays.get(n))
            shown = ', '.join(names[:4]) + (f' and {len(names) - 4} more' if len(names) > 4 else '')
            verb = 'digests differ' if len(which) > 1 else 'digest differs'
            lines.append(f"{model}: {' and '.join(which)} {verb}{f' (arrays that differ: {shown})' if names else ''}")
    return lines


def build_parser():
    p = FlagParser(prog='python -m tools.train_digest', description=__doc__.split('\n\n')[0], allow_abbrev=False)
    p.add_argument('--tree', default=str(paths.REPO_ROOT), help='the source tree whose entry points train '
                   '(default: this repository)')
    p.add_argument('--models', default=','.join(MODELS), help=f'comma-separated, from {",".join(MODELS)} '
                   '(default: all)')
    p.add_argument('--out', default='', help='write the record (JSON) here')
    p.add_argument('--check', default='', help='compare with this stored record: exit 1 if a digest differs')
    return p


def _load(path):
    try:
        record = json.loads(Path(path).read_text(encoding='utf-8'))
    except json.JSONDecodeError as err:
        raise ValueError(f'--check={path}: not JSON ({err})') from None
    if not isinstance(record, dict) or record.get('format') != FORMAT:
        raise ValueError(f'--check={path}: not a {FORMAT} record')
    return record


def main(argv=None):
    args = build_parser().parse_args(argv)
    models = [m for m in args.models.split(',') if m]
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise ValueError(f"--models: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(MODELS)}")
    tree = Path(args.tree).resolve()
    if not (tree / 'pytorch' / 'rdn' / 'train.py').is_file():
        raise ValueError(f'--tree={args.tree}: not a source tree of this zoo (no pytorch/rdn/train.py)')
    stored = _load(args.check) if args.check else None
    ensure_sample_data(paths.SAMPLE_DATA_DIR)
    command = ['python', '-m', 'tools.train_digest', *(argv if argv is not None else sys.argv[1:])]
    record = {'format': FORMAT, 'git_commit': _git(tree, 'rev-parse', 'HEAD'),
              'git_dirty': bool(_git(tree, 'status', '--porcelain', '--untracked-files=no')),
              'tree': records.portable_path(str(tree)), 'steps': STEPS, 'seed': SEED,
              'command': shlex.join(command),
              'hardware': records.hardware_info(), 'models': {}}
    with tempfile.TemporaryDirectory(prefix='train_digest_') as tmp:
        if _git(tmp, 'rev-parse', '--show-toplevel'):
            raise ValueError(f'{tmp} lies inside a git repository: point TMPDIR outside any repository')
        for model in models:
            work = Path(tmp) / model
            work.mkdir()
            entry = digest_model(model, tree, work, paths.SAMPLE_DATA_DIR)
            record['models'][model] = entry
            print(f"{model}: weights {entry['weights_sha256']} state {entry['state_sha256']} "
                  f"{entry['seconds']:.1f} s", flush=True)
    if args.out:
        atomic_write_bytes(args.out, (json.dumps(record, indent=1) + '\n').encode())
    return 0 if stored is None else compare(stored, record, args.check)


def compare(stored, record, where):
    """Print what differs between ``record`` and the ``stored`` one (read from ``where``).

    Returns:
        int: The exit code: 0 when every model of ``record`` has the stored digests, else 1.
    """
    lines = differences(stored, record)
    for line in lines:
        print(line, flush=True)
    if not lines:
        print(f"all {len(record['models'])} equal to {where}", flush=True)
    return 1 if lines else 0


if __name__ == '__main__':
    sys.exit(run_cli(main, expected=EXPECTED_ERRORS + (TrainingFailed,)))
