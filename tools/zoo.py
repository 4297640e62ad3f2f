"""One command for every model of the zoo: ``python -m tools.zoo infer | list | eval``.

    python -m tools.zoo list
    python -m tools.zoo infer --model rcan --checkpoint outputs/rcan_bench/model --input photo.png --output out.png
    python -m tools.zoo eval --model rdn --checkpoint outputs/rdn_bench/train/ckpt/RDN --data ../shared/data/Set5 --scale 4

``infer`` runs the model's own inference entry point (the script its README documents) in a child
process of this interpreter, with the common flags translated to the reference's names; there is no
second implementation of any network here. Entry points that read a folder get the input staged in a
temporary folder, and the one result is written to ``--output`` atomically. Flags after ``--`` go to
the entry point unchanged (after the translated ones, so they win). ``eval`` super-resolves every LR
image of a Set5-layout folder the same way (one child process for the whole folder) and scores the
results with ``common.metrics`` by the published protocol. ``list`` names the models, their scales and
the checkpoint each bench leaves in its work folder.

Bad input is one ``error: ...`` line naming the flag, exit code 2, nothing written; an entry point's
own one-line error is passed through as this command's line. This module imports no framework.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import paths
from common.cli import FlagParser, int_flag, run_cli
from common.evaluate import evaluate_folders, format_table, pair_folders
from common.fileio import atomic_write_bytes, check_disjoint, check_outside_checkpoint
from common.imgio import IMAGE_EXTS, ImageError, encode_image, read_image, write_image
from common.metrics import protocol
from common.runs import CheckpointDir

__all__ = ['MODELS', 'main', 'super_resolve', 'bench_checkpoints', 'index_shapes', 'tf_checkpoint', 'rcan_arch', 'bsrn_arch',
           'bsrn_run_flags', 'split_extra', 'shown', 'ZooError', 'ChildFailed']

ROOT = paths.REPO_ROOT
_FALSE = ('false', '0', 'no', 'n', 'off')      # common.cli.str2bool's False spellings
OUTPUTS = ROOT / 'outputs'                 # common.bench.Bench: outputs/<name>_bench unless --work_dir


class ZooError(ValueError):
    """Bad input to tools.zoo, or an entry point's own one-line error passed through (printed as is)."""


# --- reading checkpoints without a framework (or in a child process that has one) ------------------

_TF_PROBE = '''
import json, os, sys
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
from common.cli import run_cli

def main(argv):
    from tfzoo.checkpoint import checkpoint_shapes, resolve_checkpoint
    prefix = resolve_checkpoint(argv[0], '--checkpoint')
    print(json.dumps({'prefix': prefix, 'shapes': checkpoint_shapes(prefix, '--checkpoint')}))

run_cli(main, sys.argv[1:])
'''

_RDN_PROBE = '''
import json, sys
import torchzoo  # noqa: F401  (the OpenMP wait policy, before torch)
from common.cli import run_cli

def main(argv):
    from utils import load_model
    _, info = load_model(argv[0], argv[1] == 'pickle', flag='--checkpoint')
    print(json.dumps({'scale': info['arch']['upscale']}))

run_cli(main, sys.argv[1:])
'''


def _probe(code, args, cwd):
    """Run a probe snippet in a child of this interpreter; its last stdout line as JSON."""
    done = subprocess.run([sys.executable, '-c', code, *map(str, args)], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        _raise_child(done, 'reading --checkpoint')
    return json.loads(done.stdout.strip().splitlines()[-1])


# A TensorFlow checkpoint's ``.index`` is a LevelDB-format table (tensorflow/core/util/tensor_bundle): data
# blocks of prefix-compressed (variable name, BundleEntryProto) entries, an index block of their handles
# and a 48-byte footer. The bundle writer stores blocks uncompressed. Reading it here costs no TensorFlow
# start; anything unexpected falls back to tfzoo.checkpoint.checkpoint_shapes in a child process.
_TABLE_MAGIC = 0xdb4775248b80fb57


def _varint(buf, pos):
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7f) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(buf):
    """(field number, value) of a serialized protobuf message (varint and length-delimited fields)."""
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        kind = tag & 7
        if kind == 0:
            value, pos = _varint(buf, pos)
        elif kind == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + size], pos + size
        elif kind in (1, 5):
            width = 8 if kind == 1 else 4
            value, pos = buf[pos:pos + width], pos + width
        else:
            raise ValueError(f'protobuf wire type {kind}')
        yield tag >> 3, value


def _block(buf, handle):
    offset, pos = _varint(handle, 0)
    size, _ = _varint(handle, pos)
    if buf[offset + size] != 0:
        raise ValueError('compressed block')
    data = buf[offset:offset + size]
    restarts = int.from_bytes(data[-4:], 'little')
    end, pos, key = len(data) - 4 - 4 * restarts, 0, b''
    while pos < end:
        shared, pos = _varint(data, pos)
        fresh, pos = _varint(data, pos)
        size, pos = _varint(data, pos)
        key = key[:shared] + data[pos:pos + fresh]
        pos += fresh
        yield key, data[pos:pos + size]
        pos += size


def index_shapes(prefix):
    """``{variable name: shape}`` from ``<prefix>.index`` without TensorFlow (what checkpoint_shapes gives).

    Raises:
        ValueError, IndexError, OSError: Not a bundle index this reader knows.
    """
    buf = Path(f'{prefix}.index').read_bytes()
    if len(buf) < 48 or int.from_bytes(buf[-8:], 'little') != _TABLE_MAGIC:
        raise ValueError('not a TensorFlow table')
    footer = buf[-48:]
    _, pos = _varint(footer, 0)
    _, pos = _varint(footer, pos)                 # the metaindex handle (unused)
    shapes = {}
    for _, handle in _block(buf, footer[pos:]):
        for key, value in _block(buf, handle):
            if not key:
                continue                          # the bundle header
            shape = []
            for field, msg in _fields(value):
                if field == 2:                    # TensorShapeProto
                    for number, dim in _fields(msg):
                        if number == 2:           # Dim {int64 size = 1}
                            shape.append(next((v for n, v in _fields(dim) if n == 1), 0))
            shapes[key.decode()] = shape
    return shapes


def tf_checkpoint(checkpoint):
    """``(prefix, {variable: shape})`` of a TensorFlow checkpoint (folder, prefix or .index file): read here,
    or by tfzoo.checkpoint in a child process when this reader cannot (its error line names --checkpoint)."""
    path = Path(checkpoint)
    prefix = tf_state_prefix(path) if path.is_dir() else (
        Path(str(path)[:-len('.index')]) if path.suffix == '.index' else path)
    if prefix is not None and Path(f'{prefix}.index').is_file():
        try:
            return str(prefix), index_shapes(prefix)
        except (ValueError, IndexError, OSError):
            pass
    probe = _probe(_TF_PROBE, [checkpoint], ROOT)
    return probe['prefix'], probe['shapes']


def tf_state_prefix(folder):
    """The checkpoint prefix a TensorFlow ``checkpoint`` state file in ``folder`` names, or None."""
    state = Path(folder) / 'checkpoint'
    if not state.is_file():
        return None
    match = re.search(r'^model_checkpoint_path:\s*"(.*)"\s*$', state.read_text(errors='replace'), re.M)
    if not match:
        return None
    prefix = Path(match.group(1))
    prefix = prefix if prefix.is_absolute() else Path(folder) / prefix
    return prefix if Path(f'{prefix}.index').is_file() else None


def rcan_arch(shapes, name='--checkpoint'):
    """RCAN's architecture flags read from a checkpoint's ``{variable: shape}``.

    Returns:
        dict: scale, n_feats, n_RG, n_RCAB, kernel_size, ratio (main.py's flag names).
    """
    if 'conv_SF/filter' not in shapes:
        raise ZooError(f'{name}: not an RCAN checkpoint (no conv_SF/filter variable)')
    k, _, _, feats = shapes['conv_SF/filter']
    groups = {m.group(1) for v in shapes if (m := re.fullmatch(r'RG(\d+)_conv_last/filter', v))}
    blocks = {m.group(1) for v in shapes if (m := re.fullmatch(r'RG00_(\d+)_RCAB_conv1/filter', v))}
    if not groups or not blocks or 'RG00_00_RCAB_CA_conv1/filter' not in shapes:
        raise ZooError(f'{name}: not an RCAN checkpoint (no RG00_00_RCAB variables)')
    squeezed = shapes['RG00_00_RCAB_CA_conv1/filter'][3]
    ratio = feats // squeezed
    if feats // ratio != squeezed:
        raise ZooError(f'{name}: channel attention of {squeezed} channels for {feats} features: no --ratio builds it')
    if 'up_sample_conv/filter' in shapes:
        scale = 3
    elif 'up_sample_conv01/filter' in shapes:
        scale = 4
    elif 'up_sample_conv00/filter' in shapes:
        scale = 2
    else:
        raise ZooError(f'{name}: not an RCAN checkpoint (no up_sample_conv variables)')
    return {'scale': scale, 'n_feats': feats, 'n_RG': len(groups), 'n_RCAB': len(blocks), 'kernel_size': k,
            'ratio': ratio}


def bsrn_arch(shapes, name='--checkpoint'):
    """BSRN's feature counts and scales read from a checkpoint's ``{variable: shape}``.

    The recursions (``--bsrn_recursions``, ``--bsrn_recursion_frequency``) share their weights, so the
    shapes cannot tell them: see :func:`bsrn_run_flags`.

    Returns:
        dict: bsrn_conv_features, bsrn_state_features, scales (sorted list).
    """
    first, block = 'generator/first_conv/conv2d/kernel', 'generator/residual_modules/conv2d/kernel'
    if first not in shapes or block not in shapes:
        raise ZooError(f'{name}: not a BSRN checkpoint (no {first})')
    conv = shapes[first][3]
    scales = sorted({int(m.group(1)) for v in shapes if (m := re.match(r'generator/upscale/x(\d+)/', v))})
    if not scales:
        raise ZooError(f'{name}: not a BSRN checkpoint (no generator/upscale/x<s> variables)')
    return {'bsrn_conv_features': conv, 'bsrn_state_features': shapes[block][2] - conv, 'scales': scales}


BSRN_RUN_KEYS = ('bsrn_recursions', 'bsrn_recursion_frequency', 'bsrn_rgb_mean')


def bsrn_run_flags(checkpoint):
    """The ``bsrn_*`` values that the shapes cannot tell, from the ``arguments.json`` that train.py writes
    into its --train_path (the checkpoint's folder); {} where there is none."""
    ckpt = Path(checkpoint)
    record = (ckpt if ckpt.is_dir() else ckpt.parent) / 'arguments.json'
    try:
        values = json.loads(record.read_text())
    except (OSError, ValueError):
        return {}
    return {k: values[k] for k in BSRN_RUN_KEYS if isinstance(values, dict) and k in values}


# --- the models -------------------------------------------------------------------------------------

def _flag_name(token):
    return token.split('=', 1)[0]


class Model:
    """How the zoo runs one model's entry point. Subclasses fill in the class attributes and methods."""
    name = framework = script = ''
    scales_text = ''
    owned = ()                 # entry-point flags the zoo sets itself: refused after '--'
    default_scale = None       # None: the checkpoint's

    @property
    def folder(self):
        return (ROOT / self.script).parent

    def check_extra(self, extra):
        for token in extra:
            if token.startswith('-') and _flag_name(token) in self.owned:
                raise ZooError(f"-- {_flag_name(token)}: tools.zoo sets it from its own flags "
                               f"(--checkpoint, --input/--data, --output, --scale); leave it out")

    def plan(self, checkpoint, scale, extra):
        """``(scale or None, entry-point flags for the architecture, notices)`` before running."""
        return (scale or self.default_scale), [], []

    def command(self, checkpoint, in_dir, out_dir, scale, arch):
        """The entry point's flags (without the script)."""
        raise NotImplementedError

    def result(self, out_dir, key, scale):
        """The result file of input ``key``, or ``(file, crop)`` for a result inside a larger image."""
        raise NotImplementedError

    def bench(self, outputs):
        """[(label, checkpoint path or None)] that ``make bench MODEL=<name>`` leaves under ``outputs``."""
        raise NotImplementedError


def _newest(folder, prefix, suffix):
    found = CheckpointDir(folder, prefix, suffix).checkpoints()
    return found[-1][2] if found else None


class SRCNN(Model):
    name, framework, script = 'srcnn', 'mindspore', 'mindspore/srcnn/test.py'
    scales_text = 'any, default 2 (bench x2)'
    owned = ('--data_path', '--test_pic', '--checkpoint_path', '--result_path', '--scale', '--overwrite')
    default_scale = 2

    def command(self, checkpoint, in_dir, out_dir, scale, arch):
        return [f'--data_path={in_dir}', f'--checkpoint_path={checkpoint}', f'--result_path={out_dir}',
                f'--scale={scale}']

    def result(self, out_dir, key, scale):
        return out_dir / f'{key}_srcnn_x{scale}.png'

    def bench(self, outputs):
        # mindspore/srcnn/bench.py: output_path=<work>/train; train.py: <output_path>/ckpt_0/srcnn-<e>_<s>.ckpt
        return [('srcnn', _newest(outputs / 'srcnn_bench' / 'train' / 'ckpt_0', 'srcnn', '.ckpt'))]


class RDN(Model):
    name, framework, script = 'rdn', 'pytorch', 'pytorch/rdn/inference.py'
    scales_text = '2, 3, 4 (bench x4)'
    owned = ('--input_image', '--model', '--output_filename', '--overwrite', '--compare')

    def plan(self, checkpoint, scale, extra):
        return scale, [], []               # the checkpoint's scale: inference.py reads it; checked on the result

    def probe_scale(self, checkpoint, extra):
        """The scale of the RDN in ``checkpoint`` (read by utils.load_model in a child process)."""
        pickle = any(_flag_name(t) == '--allow_pickle' and t.partition('=')[2].lower() not in _FALSE for t in extra)
        return _probe(_RDN_PROBE, [checkpoint, 'pickle' if pickle else 'no'], self.folder)['scale']

    def command(self, checkpoint, in_dir, out_dir, scale, arch):
        return [f'--input_image={in_dir}', f'--model={checkpoint}', f'--output_filename={out_dir}']

    def result(self, out_dir, key, scale):
        return out_dir / f'{key}.png'

    def bench(self, outputs):
        # pytorch/rdn/bench.py: output_path=<work>/train; train.py: <output_path>/ckpt/RDN/rdn-<e>_<s>.pth
        return [('rdn', _newest(outputs / 'rdn_bench' / 'train' / 'ckpt' / 'RDN', 'rdn', '.pth'))]


LPTN_TEST_YML = ROOT / 'pytorch' / 'lptn' / 'options' / 'test' / 'LPTN' / 'test_FiveK.yml'
_LPTN_NAME = 'zoo'
_LPTN_OWNED_KEYS = ('name', 'datasets', 'path.pretrain_network_g', 'path.results_root', 'path.visualization',
                    'val.save_img', 'val.suffix')


class LPTN(Model):
    name, framework, script = 'lptn', 'pytorch', 'pytorch/lptn/test.py'
    scales_text = '1 (enhancement)'
    owned = ('-opt', '--opt', '--root')
    default_scale = 1

    def check_extra(self, extra):
        super().check_extra(extra)
        for token in extra:
            key = token.split('=', 1)[0]
            if '=' in token and not token.startswith('-') and any(key == k or key.startswith(k + '.')
                                                                  for k in _LPTN_OWNED_KEYS):
                raise ZooError(f'-- --force_yml {key}: tools.zoo sets it from its own flags (--checkpoint, '
                               f'--input, --output); leave it out')

    def plan(self, checkpoint, scale, extra):
        if scale not in (None, 1):
            raise ZooError(f'--scale={scale}: LPTN translates photos at their own size; only --scale 1')
        return 1, [], []

    def command(self, checkpoint, in_dir, out_dir, scale, arch):
        # test.py reads a paired set: the input is its own target (the scores it logs are unused); strict
        # loading, so a generator of another network_g is an error rather than a partial load
        return ['-opt', str(LPTN_TEST_YML), f'--root={out_dir}', '--force_yml', f'name={_LPTN_NAME}',
                f'path.pretrain_network_g={checkpoint}', 'path.strict_load_g=true',
                f'datasets.test.name={_LPTN_NAME}', 'datasets.test.type=PairedImageDataset',
                f'datasets.test.dataroot_lq={in_dir}', f'datasets.test.dataroot_gt={in_dir}',
                'datasets.test.io_backend.type=disk', 'val.save_img=true']

    def result(self, out_dir, key, scale):
        # nondist_validation: results/<name>/visualization/<set>/<key>_<name>.png = input | result | target
        return out_dir / 'results' / _LPTN_NAME / 'visualization' / _LPTN_NAME / f'{key}_{_LPTN_NAME}.png', 'middle'

    def bench(self, outputs):
        # pytorch/lptn/bench.py: --root <work>, name bench_<training>; train.py: experiments/<name>/models
        exp = outputs / 'lptn_bench' / 'experiments'
        return [(f'lptn ({t})', _present(exp / f'bench_{t}' / 'models' / 'net_g_latest.pth'))
                for t in ('unpaired', 'paired')]


def _present(path):
    return path if path.is_file() else None


class RCAN(Model):
    name, framework, script = 'rcan', 'tensorflow', 'tensorflow/rcan/main.py'
    scales_text = '2, 3, 4 (bench x2)'
    owned = ('--mode', '--pre_trained_model', '--test_LR_path', '--test_GT_path', '--result_path', '--overwrite',
             '--save_test_result')

    def plan(self, checkpoint, scale, extra):
        arch = rcan_arch(tf_checkpoint(checkpoint)[1], f'--checkpoint={checkpoint}')
        if scale not in (None, arch['scale']):
            raise ZooError(f"--scale={scale}: --checkpoint={checkpoint} is an x{arch['scale']} RCAN")
        scale = arch.pop('scale')
        note = (f"rcan: architecture read from the checkpoint's variable shapes: "
                + ' '.join(f'--{k}={v}' for k, v in arch.items()))
        return scale, [f'--{k}={v}' for k, v in arch.items()], [note]

    def command(self, checkpoint, in_dir, out_dir, scale, arch):
        return ['--mode=test_only', f'--pre_trained_model={checkpoint}', f'--test_LR_path={in_dir}',
                f'--result_path={out_dir}', f'--scale={scale}', *arch]

    def result(self, out_dir, key, scale):
        return out_dir / f'{key}X{scale}.png'             # util.sr_file_name

    def bench(self, outputs):
        # tensorflow/rcan/bench.py: --model_path=<work>/model
        return [('rcan', tf_state_prefix(outputs / 'rcan_bench' / 'model'))]


class BSRN(Model):
    name, framework, script = 'bsrn', 'tensorflow', 'tensorflow/bsrn/test_bsrn.py'
    scales_text = '2, 3, 4, 8 (bench 2, 3, 4)'
    owned = ('--restore_path', '--input_path', '--output_path', '--scales', '--overwrite')

    def plan(self, checkpoint, scale, extra):
        prefix, shapes = tf_checkpoint(checkpoint)
        arch = bsrn_arch(shapes, f'--checkpoint={checkpoint}')
        held = arch.pop('scales')
        if scale is not None and scale not in held:
            raise ZooError(f"--scale={scale}: --checkpoint={checkpoint} holds a BSRN of scales "
                           f"{', '.join(map(str, held))}")
        scale = held[-1] if scale is None else scale
        notes = ["bsrn: feature counts read from the checkpoint's variable shapes: "
                 + ' '.join(f'--{k}={v}' for k, v in arch.items())]
        given = {_flag_name(t) for t in extra}
        run = {k: v for k, v in bsrn_run_flags(prefix).items() if f'--{k}' not in given}
        if run:
            notes.append('bsrn: from the arguments.json of its training: ' + ' '.join(f'--{k}={v}' for k, v in run.items()))
            arch.update(run)
        missing = [k for k in BSRN_RUN_KEYS[:2] if k not in run and f'--{k}' not in given]
        if missing:
            notes.append(f"bsrn: notice: {', '.join(missing)} not known (no arguments.json beside the checkpoint): "
                         f"test_bsrn.py's defaults apply; pass -- --bsrn_recursions=N --bsrn_recursion_frequency=M "
                         f"if it was trained otherwise")
        return scale, [f'--{k}={v}' for k, v in arch.items()], notes

    def command(self, checkpoint, in_dir, out_dir, scale, arch):
        return [f'--restore_path={checkpoint}', f'--scales={scale}', f'--input_path={in_dir}',
                f'--output_path={out_dir}', *arch]

    def result(self, out_dir, key, scale):
        return out_dir / f'x{scale}' / f'{key}.png'

    def bench(self, outputs):
        # tensorflow/bsrn/bench.py: --train_path=<work>/train, the second seed's <work>/train_seed2
        work = outputs / 'bsrn_bench'
        return [('bsrn', tf_state_prefix(work / 'train')), ('bsrn (seed 2)', tf_state_prefix(work / 'train_seed2'))]


MODELS = {m.name: m for m in (SRCNN(), RDN(), LPTN(), RCAN(), BSRN())}
TF_MODELS = ('rcan', 'bsrn')


# --- running an entry point --------------------------------------------------------------------------

def split_extra(argv):
    """``(zoo flags, entry-point flags)``: the arguments before and after the first ``--``."""
    argv = list(argv)
    if '--' in argv:
        i = argv.index('--')
        return argv[:i], argv[i + 1:]
    return argv, []


def _error_lines(text):
    return [ln for ln in (text or '').splitlines() if ln.startswith('error: ')]


def _raise_child(done, what, replace=()):
    """A failed child: its one ``error:`` line (bad input) becomes ours; anything else is a crash."""
    lines = _error_lines(done.stderr)
    if done.returncode == 2 and lines:
        line = lines[-1][len('error: '):]
        for staged, original in replace:
            line = line.replace(staged, original)
        raise ZooError(line)
    sys.stderr.write(done.stdout[-4000:] + done.stderr[-8000:])
    raise ChildFailed(f'{what} failed (exit {done.returncode}); its output is above')


class ChildFailed(RuntimeError):
    """An entry point that crashed (not a one-line refusal): its output was printed."""


def _stage(inputs, folder):
    """Copy each input into ``folder`` as ``<key>.png`` (PNG bytes kept; other formats decoded and written
    as PNG, so that no entry point writes a lossy result). Returns {key: staged path}."""
    folder.mkdir(parents=True)
    staged = {}
    for key, path in inputs.items():
        staged[key] = folder / f'{key}.png'
        if Path(path).suffix.lower() == '.png':
            shutil.copyfile(path, staged[key])
        else:
            write_image(staged[key], read_image(path))
    return staged


def _size_of(img):
    return img.shape[1], img.shape[0]


def super_resolve(model, checkpoint, inputs, scale, extra, work, plan=None):
    """Run ``model``'s entry point once on ``inputs`` ({key: image path}) inside the folder ``work``.

    ``plan`` is ``model.plan(checkpoint, scale, extra)`` when the caller made it already.

    Returns:
        tuple: ``(scale, {key: (result file or None, result image)}, lines)``; the result file is the
        entry point's own file when the result is the whole of it (else None: a panel of a strip); the
        lines say what was read from the checkpoint and the command that ran (for printing on success).

    Raises:
        ZooError: Bad input, the entry point's one-line refusal, or a result of the wrong size.
    """
    model.check_extra(extra)
    scale, arch, notes = plan or model.plan(checkpoint, scale, extra)
    in_dir, out_dir = work / 'in', work / 'out'
    staged = _stage(inputs, in_dir)
    argv = [str(model.folder / Path(model.script).name), *model.command(checkpoint, in_dir, out_dir, scale, arch),
            *extra]
    shown = shlex.join([Path(sys.executable).name, os.path.relpath(argv[0]), *argv[1:]])
    done = subprocess.run([sys.executable, *argv], cwd=work, capture_output=True, text=True)
    if done.returncode != 0:
        _raise_child(done, model.script, [(str(staged[k]), str(p)) for k, p in inputs.items()])
    results = {}
    for key, path in inputs.items():
        found = model.result(out_dir, key, scale)
        file, panel = (found if isinstance(found, tuple) else (found, None))
        try:
            img = read_image(file)
        except ImageError as err:
            raise ChildFailed(f'{model.script} exited 0 but wrote no result for {path}: {err}') from None
        src = read_image(staged[key])
        if panel == 'middle':                       # LPTN's strip: input | result | target, each the input's size
            w = src.shape[1]
            if img.shape[1] != 3 * w:
                raise ChildFailed(f'{model.script}: {file} is {_size_of(img)}, not three panels of {_size_of(src)}')
            img, file = img[:, w:2 * w], None
        factor = img.shape[0] / src.shape[0]
        if scale is None and factor.is_integer() and img.shape[1] == int(factor) * src.shape[1]:
            scale = int(factor)
        expected = (src.shape[0] * scale, src.shape[1] * scale) if scale else None
        if img.shape[:2] != expected:
            if model.name == 'rdn' and factor.is_integer():
                raise ZooError(f'--scale={scale}: --checkpoint={checkpoint} is an x{int(factor)} RDN')
            raise ChildFailed(f'{model.script}: result {file} is {_size_of(img)} for an input of {_size_of(src)} '
                              f'at x{scale}')
        results[key] = (file, img)
    return scale, results, [*notes, f'{model.name}: {shown}']


# --- sub-commands ----------------------------------------------------------------------------------

def _checkpoint_arg(text, model):
    """--checkpoint as an absolute path; SRCNN's folder becomes its newest ``srcnn-<e>_<s>.ckpt``."""
    path = Path(text).expanduser()
    tf_prefix = model in TF_MODELS and Path(f'{path}.index').is_file()
    if not path.exists() and not tf_prefix:
        what = 'file, folder or checkpoint prefix (<prefix>.index)' if model in TF_MODELS else 'file or folder'
        raise ZooError(f'--checkpoint={text}: no such {what}')
    if path.is_dir() and model == 'lptn':
        raise ZooError(f'--checkpoint={text}: a folder; LPTN takes a generator file (.pth), e.g. '
                       f'experiments/<name>/models/net_g_latest.pth')
    if path.is_dir() and model == 'srcnn':
        newest = _newest(path, 'srcnn', '.ckpt')
        if newest is None:
            raise ZooError(f'--checkpoint={text}: a folder without srcnn-<epoch>_<step>.ckpt checkpoints')
        path = newest
    return path.resolve() if path.exists() else path.parent.resolve() / path.name


def _check_output(output, args):
    if output.suffix.lower() not in IMAGE_EXTS:
        raise ZooError(f'--output={output}: expected an image file name ({", ".join(IMAGE_EXTS)})')
    if output.is_dir():
        raise ZooError(f'--output={output}: is a folder; expected an image file name')
    blocker = next((p for p in output.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise ZooError(f'--output={output}: {blocker} is a file, not a folder')
    check_disjoint(output, args.input, '--output', '--input')
    if args.model in TF_MODELS:
        check_outside_checkpoint(output, args.checkpoint, '--output', '--checkpoint')
    if output.exists() and not args.overwrite:
        raise ZooError(f'--output={output}: exists; pass --overwrite to replace it')


def cmd_infer(args, extra):
    model = MODELS[args.model]
    args.checkpoint = _checkpoint_arg(args.checkpoint, args.model)
    if not args.input.is_file():
        raise ZooError(f'--input={args.input}: no such file' if not args.input.exists() else
                       f'--input={args.input}: not a file; give one image (eval scores a folder)')
    try:
        read_image(args.input)
    except ImageError as err:
        raise ZooError(f'--input={err}') from None
    _check_output(args.output, args)
    key = re.sub(r'[^A-Za-z0-9_.-]', '_', args.input.stem) or 'input'
    with tempfile.TemporaryDirectory(prefix='zoo-') as tmp:
        scale, results, lines = super_resolve(model, args.checkpoint, {key: args.input.resolve()}, args.scale,
                                              extra, Path(tmp))
        file, img = results[key]
        if file is not None and args.output.suffix.lower() == '.png':
            data = file.read_bytes()                     # the entry point's own file
        else:
            data = encode_image(img, args.output.suffix.lower(), name=f'--output={args.output}')
        atomic_write_bytes(args.output, data)
    print('\n'.join(lines))
    print(f'wrote {args.output} ({img.shape[1]}x{img.shape[0]}, x{scale})')
    return 0


def _layout_dir(root, kind, scale):
    for name in (f'x{scale}', f'X{scale}'):
        if (root / kind / name).is_dir():
            return root / kind / name
    raise ZooError(f'--data={root}: no {kind}/x{scale}/ folder (expected the Set5 layout: HR/x{{s}}/ and '
                   f'LR_bicubic/x{{s}}/)')


def cmd_eval(args, extra):
    model = MODELS[args.model]
    if args.model == 'lptn':
        raise ZooError('--model=lptn: an enhancement model, not scored on a Set5-layout folder; '
                       'pytorch/lptn/test.py scores a paired set')
    args.checkpoint = _checkpoint_arg(args.checkpoint, args.model)
    if not args.data.is_dir():
        raise ZooError(f'--data={args.data}: no such folder')
    model.check_extra(extra)
    plan = model.plan(args.checkpoint, args.scale, extra)
    scale = plan[0]
    if scale is None:                                   # RDN: the scale is in the checkpoint
        scale = model.probe_scale(args.checkpoint, extra)
        plan = (scale,) + tuple(plan[1:])
    hr_dir, lr_dir = _layout_dir(args.data, 'HR', scale), _layout_dir(args.data, 'LR_bicubic', scale)
    pairs = pair_folders(lr_dir, hr_dir, scale)
    inputs = {key: lr for key, lr, _ in pairs}
    with tempfile.TemporaryDirectory(prefix='zoo-') as tmp:
        work = Path(tmp)
        scale, results, lines = super_resolve(model, args.checkpoint, inputs, scale, extra, work, plan=plan)
        sr_dir = work / 'sr'
        sr_dir.mkdir()
        for key, (_, img) in results.items():
            write_image(sr_dir / f'{key}.png', img)
        rows = evaluate_folders(sr_dir, hr_dir, scale)
    print('\n'.join(lines))
    print(f'{args.model} x{scale} on {args.data} ({len(rows)} images), checkpoint {args.checkpoint}')
    print(format_table(rows, protocol(scale)['label']))
    return 0


def bench_checkpoints(outputs=OUTPUTS):
    """[(model, framework, scales, label, checkpoint or None)] of every model's bench work folder."""
    return [(m.name, m.framework, m.scales_text, label, path) for m in MODELS.values() for label, path in m.bench(outputs)]


def shown(path):
    """``path`` relative to the current folder where it lies inside it (as the listings print paths)."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def cmd_list(args, extra):
    rows = [(label, fw, scales, MODELS[name].script, shown(path) if path is not None else 'not present')
            for name, fw, scales, label, path in bench_checkpoints(args.outputs)]
    header = ('model', 'framework', 'scales', 'entry point', f'bench checkpoint (in {shown(args.outputs)})')
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(4)]
    for row in [header] + rows:
        print('  '.join(f'{c:<{w}}' for c, w in zip(row, widths)) + '  ' + row[4])
    print('\nrun one: python -m tools.zoo infer --model <model> --checkpoint <checkpoint> --input photo.png '
          '--output out.png')
    return 0


# --- flags --------------------------------------------------------------------------------------------

DESCRIPTION = ("Run any model of the zoo with its own entry point, in its own framework: infer (one image), "
               "eval (a Set5-layout folder, scored by the published protocol), list (models, scales, the benches' "
               "checkpoints). Each sub-command has --help.")
ARCH_HELP = ("Architecture: RDN and SRCNN checkpoints carry theirs. RCAN's (--n_feats, --n_RG, --n_RCAB, "
             "--kernel_size, --ratio and the scale) and BSRN's feature counts and scales are read from the "
             "checkpoint's variable shapes (its .index, read here without TensorFlow; "
             "tfzoo.checkpoint.checkpoint_shapes in a child process where that reader cannot). BSRN's recursions "
             "share their weights, so --bsrn_recursions and --bsrn_recursion_frequency come from the "
             "arguments.json its training wrote beside the checkpoint; without one pass them after '--'. LPTN's "
             "network_g is test_FiveK.yml's (nrb_low 5, nrb_high 3, num_high 3), loaded strictly; for another pass "
             "-- --force_yml network_g.<key>=<value>. Flags after '--' go to the entry point unchanged, after the "
             "translated ones (so they win); the flags tools.zoo sets from --checkpoint, --input/--data, --output "
             "and --scale are refused there.")
ENTRY_HELP = ('Entry points: ' + '; '.join(f'{m.name}: {m.script}' for m in MODELS.values())
              + ' (run with this interpreter).')


def build_parser():
    p = FlagParser(prog='python -m tools.zoo', description=DESCRIPTION)
    sub = p.add_subparsers(dest='command', required=True, metavar='{infer,list,eval}')
    infer = sub.add_parser('infer', help="super-resolve one image with a model's own entry point",
                           description="Super-resolve (LPTN: enhance) one image with the model's own inference "
                                       "entry point, in a child process. " + ENTRY_HELP,
                           epilog=ARCH_HELP + ' Usage: python -m tools.zoo infer --model rcan --checkpoint CKPT '
                                  '--input photo.png --output out.png [--scale N] [-- extra entry-point flags]')
    evaluate = sub.add_parser('eval', help='score a checkpoint on a Set5-layout folder by the published protocol',
                              description='Super-resolve every LR image of a Set5-layout folder (HR/x{s}/, '
                                          'LR_bicubic/x{s}/) through the same path as infer (one child process), '
                                          'then PSNR/SSIM by the published protocol (common.metrics: Y of BT.601 '
                                          'unrounded, crop = scale, SSIM Wang04): a per-image and mean table. '
                                          + ENTRY_HELP,
                              epilog=ARCH_HELP + ' LPTN (an enhancement model) is not scored here: '
                                     'pytorch/lptn/test.py scores a paired set. Usage: python -m tools.zoo eval '
                                     '--model rcan --checkpoint CKPT --data ../shared/data/Set5 [--scale N] '
                                     '[-- extra entry-point flags]')
    for q in (infer, evaluate):
        q.add_argument('--model', required=True, choices=list(MODELS), help='the model')
        q.add_argument('--checkpoint', required=True,
                       help='its checkpoint: a file; a folder (its newest checkpoint; not LPTN); a TensorFlow '
                            'prefix such as model_dir/RCAN_X2_64_10_20-1000')
    infer.add_argument('--input', required=True, type=Path, help='the image to super-resolve')
    infer.add_argument('--output', required=True, type=Path, help='the result (an image file; PNG keeps the '
                       "entry point's file as written)")
    infer.add_argument('--scale', type=int_flag, default=None,
                       help="SR factor. Default: the checkpoint's (RDN, RCAN; BSRN: the largest it holds); "
                            'SRCNN 2; LPTN 1 (the only one). A scale the checkpoint cannot do is an error')
    infer.add_argument('--overwrite', action='store_true', help='replace an existing --output')
    evaluate.add_argument('--data', required=True, type=Path,
                          help='Set5-layout folder, e.g. ../shared/data/Set5 or datasets/sample/benchmark/SampleTest')
    evaluate.add_argument('--scale', type=int_flag, default=None,
                          help="Default: the checkpoint's (RDN, RCAN; BSRN: the largest it holds); SRCNN 2")
    lister = sub.add_parser('list', help='the models, their scales and the checkpoints the benches left',
                            description='Each model, its framework, its scales and the checkpoint its bench '
                                        '(make bench MODEL=<name>) leaves in its work folder '
                                        '(outputs/<name>_bench/...), or "not present".')
    lister.add_argument('--outputs', type=Path, default=OUTPUTS,
                        help='the folder holding the benches\' work folders. Default: outputs/ of the repository')
    return p


def _main(argv):
    argv = sys.argv[1:] if argv is None else list(argv)
    own, extra = split_extra(argv)
    parser = build_parser()
    args = parser.parse_args(own)
    if extra and args.command == 'list':
        parser.error("list takes no entry-point flags after '--'")
    if getattr(args, 'scale', None) is not None and args.scale < 1:
        parser.error(f'--scale={args.scale}: must be >= 1')
    try:
        return {'infer': cmd_infer, 'eval': cmd_eval, 'list': cmd_list}[args.command](args, extra)
    except ChildFailed as err:
        print(f'tools.zoo: {err}', file=sys.stderr, flush=True)
        return 1


def main(argv=None):
    """Command-line entry point: 0, or one ``error:`` line on stderr and exit code 2 for bad input."""
    return run_cli(_main, argv)


if __name__ == '__main__':
    sys.exit(main())
