"""The one bench harness of the zoo: flags, work folder, test sets, baseline, crops, yardstick, record, summary.

A model's ``bench.py`` is its preset and little else. It makes a :class:`Bench` from its preset (a dict of
the values it trains with), trains the way its entry scripts do, and hands the harness a
``predict(lr, scale) -> sr`` callable and what it timed; the harness does the rest the same way for
every model:

- the flags: ``--out RECORD``; ``--max_steps`` and ``--seed`` (trials: the record is comparable with the
  committed one only at the preset's values); ``--set KEY=VALUE`` for any other preset value, typed as
  the preset's; ``--work_dir``. One ``error: ...`` line for bad input (common.cli), no abbreviations;
- the work folder, emptied first, and the sample data, built when missing;
- the test sets (:func:`benchmark_sets`): Set5 with the authors' LR inputs where the shared data are
  (``../shared/data`` or ``$SR_SHARED_DATA``), then SampleTest always. Each is scored by the published
  protocol beside the bicubic upscaling of the same LR images in the same run, with bicubic | model | HR
  crops under ``<work>/compare``;
- the speed yardstick (docs/protocol.md, "Speed yardstick"): a framework adapter (``torchzoo.speed``,
  ``tfzoo.speed``, SRCNN's ``src/yardstick.py``) times the dense convolution of :data:`YARDSTICK` in
  each layout it offers just before the section it is compared with; :func:`fastest` keeps the faster;
- the record (common.records), the summary printout and the ModelZoo case files.

Importing this module sets ``OMP_WAIT_POLICY=PASSIVE`` unless the environment holds a value: idle OpenMP
threads then sleep instead of spinning, several times faster on a machine with other load. A framework
reads it when it loads its OpenMP runtime, so a ``bench.py`` imports this module before any framework.
"""
import argparse
import copy
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np

from common import cli, paths, records
from common.imgio import list_images, read_image
from common.imresize import imresize
from common.metrics import evaluate_pairs, protocol
from common.sample_data import ensure_sample_data
from common.timing import median_seconds
from common.visual import write_comparison

OMP_WAIT_POLICY = 'PASSIVE'
os.environ.setdefault('OMP_WAIT_POLICY', OMP_WAIT_POLICY)    # before any framework loads OpenMP

# The yardstick: one dense 3x3 convolution, 64 -> 64 channels, 'same' padding, on a batch of 16 64x64 maps.
YARDSTICK = {'batch': 16, 'channels': 64, 'height': 64, 'width': 64, 'kernel': 3}
YARDSTICK_LABEL = 'dense 3x3 conv 64->64, batch 16 x 64 x 64'
# Training FLOPs per forward FLOP: the forward pass, the input gradient and the weight gradient.
TRAIN_FLOPS_PER_FORWARD = 3
MODES = ('train', 'infer')
WORK_MARK = '.bench_work'       # written into every work folder: the harness only empties its own


def thread_policy_env(env=None):
    """``env`` (default: this process's environment) with the benches' OpenMP policy, unless it sets one."""
    env = dict(os.environ if env is None else env)
    env.setdefault('OMP_WAIT_POLICY', OMP_WAIT_POLICY)
    return env


# --- the speed yardstick ----------------------------------------------------------------------

def yardstick_flops(mode):
    """FLOPs of one call of the yardstick convolution: its forward pass ('infer'), or forward and
    backward ('train': ``TRAIN_FLOPS_PER_FORWARD`` times the forward, as every model's training is counted).
    """
    if mode not in MODES:
        raise ValueError(f'yardstick mode must be one of {MODES}, got {mode!r}')
    y = YARDSTICK
    forward = 2 * y['batch'] * y['height'] * y['width'] * y['channels'] * y['channels'] * y['kernel'] ** 2
    return forward * (TRAIN_FLOPS_PER_FORWARD if mode == 'train' else 1)


def yardstick(mode, precision, rates, where=''):
    """Time the yardstick convolution in each layout a framework offers and keep the fastest.

    Args:
        mode (str): 'train' (forward + backward) or 'infer' (forward).
        precision (str): The precision the adapter runs it in, e.g. 'fp32'.
        rates (dict): {layout: callable() -> calls per second of the convolution, or None where the
            layout does not run here}, called in order.
        where (str): The framework and its threads, for the printed line. Default: ''.

    Returns:
        dict: :func:`fastest`'s figure.
    """
    flops = yardstick_flops(mode)
    measured = {}
    for layout, rate in rates.items():
        calls = rate()
        measured[layout] = flops * calls / 1e9 if calls else None
    return fastest(mode, precision, measured, where)


def fastest(mode, precision, measured, where=''):
    """The yardstick figure of one mode: the fastest layout measured, printed as one line.

    Args:
        mode (str): 'train' (forward + backward) or 'infer' (forward).
        precision (str): What was measured, e.g. 'fp32' or 'bf16'.
        measured (dict): GFLOP/s per layout the framework offers, e.g. {'nchw': 60.1, 'channels_last': 88.0}
            (None: the layout does not run here).
        where (str): The framework and its threads, for the printed line. Default: ''.

    Returns:
        dict: {'mode', 'gflops', 'layout', 'precision', 'measured'}.
    """
    ran = {k: v for k, v in measured.items() if v}
    if not ran:
        raise RuntimeError(f'yardstick ({mode}, {precision}): no layout ran ({", ".join(measured)})')
    layout = max(ran, key=ran.get)
    rest = ''.join(f', {k} {v:.1f}' for k, v in ran.items() if k != layout)
    print(f"yardstick ({YARDSTICK_LABEL}, {'forward + backward' if mode == 'train' else 'forward'}, {precision}"
          f"{', ' + where if where else ''}): {ran[layout]:.1f} GFLOP/s in {layout}{rest}", flush=True)
    return {'mode': mode, 'gflops': ran[layout], 'layout': layout, 'precision': precision, 'measured': dict(measured)}


def model_gflops(flops, seconds):
    """GFLOP/s of ``flops`` done in ``seconds``."""
    return flops / seconds / 1e9 if seconds else None


def train_gflops(forward_flops, images_per_sec):
    """Training GFLOP/s of a model: ``TRAIN_FLOPS_PER_FORWARD`` x its forward FLOPs per training image
    (or patch) x the images it trained per second."""
    return TRAIN_FLOPS_PER_FORWARD * forward_flops * images_per_sec / 1e9 if images_per_sec else None


def speed_fields(train=None, infer=None):
    """The speed fields every record holds (docs/protocol.md, "Speed yardstick").

    Args:
        train (tuple | None): ``(model GFLOP/s, yardstick, what was timed)`` for training, the yardstick
            from :func:`fastest` in mode 'train'. Default: None (not measured: the fields are None).
        infer (tuple | None): The same for inference (mode 'infer'). Default: None.

    Returns:
        dict: train_gflops, train_efficiency, train_timed, infer_gflops, infer_efficiency, infer_timed
        and yardstick {'conv', 'train_gflops', 'infer_gflops', 'layout', 'precision', 'measured'}.
    """
    out, yard = {}, {'conv': YARDSTICK_LABEL, 'train_gflops': None, 'infer_gflops': None, 'layout': {},
                     'precision': None, 'measured': {}}
    for mode, given in (('train', train), ('infer', infer)):
        gflops, stick, timed = given or (None, None, None)
        if stick is not None and stick['mode'] != mode:
            raise ValueError(f"the {mode} efficiency needs a {mode} yardstick, got a {stick['mode']} one")
        if stick is not None and yard['precision'] not in (None, stick['precision']):
            raise ValueError(f"yardsticks of two precisions ({yard['precision']}, {stick['precision']}) in one record")
        out[f'{mode}_gflops'] = gflops
        out[f'{mode}_efficiency'] = gflops / stick['gflops'] if gflops and stick else None
        out[f'{mode}_timed'] = timed
        if stick is not None:
            yard[f'{mode}_gflops'] = stick['gflops']
            yard['layout'][mode] = stick['layout']
            yard['measured'][mode] = stick['measured']
            yard['precision'] = stick['precision']
    out['yardstick'] = yard
    return out


# --- test sets ---------------------------------------------------------------------------------

def _stem(path, scale):
    """'baby_LRBI_x2.png' -> 'baby' (the Set5 layout's tags removed)."""
    return re.sub(rf'_[A-Za-z]+_x{scale}$', '', Path(path).stem)


def load_set5_layout(root, scale, sr_dir=None):
    """Yield (name, lr_or_sr, hr) from a Set5-layout folder: HR/x{s}, LR_bicubic/x{s} (or sr_dir)."""
    hr = {_stem(p, scale): p for p in list_images(Path(root) / 'HR' / f'x{scale}')}
    src_dir = Path(sr_dir) if sr_dir else Path(root) / 'LR_bicubic' / f'x{scale}'
    src = {_stem(p, scale): p for p in list_images(src_dir)}
    if sorted(hr) != sorted(src):
        raise ValueError(f'{root}: HR and {src_dir.name} images differ: {sorted(set(hr) ^ set(src))}')
    for name in sorted(hr):
        yield name, read_image(src[name]), read_image(hr[name])


def benchmark_sets(sample_dir=None):
    """(name, Set5-layout root) of the benches' test sets: the real Set5 with the authors' LR inputs
    where the shared data exist (a notice otherwise), then the held-out SampleTest."""
    sets = []
    if paths.set5_dir() is not None:
        sets.append(('Set5', paths.set5_dir()))
    else:
        print('notice: shared Set5 not found (set SR_SHARED_DATA): evaluating SampleTest only', flush=True)
    return sets + [('SampleTest', Path(sample_dir or paths.SAMPLE_DATA_DIR) / 'benchmark' / 'SampleTest')]


def bicubic_pairs(root, scale):
    """(name, bicubic-upscaled LR, HR) for every image of a Set5-layout folder."""
    return [(name, imresize(lr, scale), hr) for name, lr, hr in load_set5_layout(root, scale)]


# --- presets and flags -------------------------------------------------------------------------

def _flat(preset, prefix=''):
    """{'a': {'b': 1}, 'c': 2} -> {'a.b': 1, 'c': 2}."""
    out = {}
    for key, value in preset.items():
        if isinstance(value, dict):
            out.update(_flat(value, f'{prefix}{key}.'))
        else:
            out[f'{prefix}{key}'] = value
    return out


def _typed(item, text, current):
    """``text`` parsed as the preset's current value is typed (text where that is text or None)."""
    try:
        if isinstance(current, bool):
            return cli.str2bool(text)
        if isinstance(current, int):
            return cli.int_flag(text)
        if isinstance(current, float):
            return float(text)
        if isinstance(current, (tuple, list)):
            return tuple(float(v) for v in text.split(',') if v.strip())
    except (ValueError, argparse.ArgumentTypeError) as err:
        raise ValueError(f'--set {item}: {err}') from None
    return text


def apply_trial(preset, max_steps=None, seed=None, overrides=(), steps_keys=('steps',), seed_keys=('seed',)):
    """The preset with a trial's changes, and those changes (empty at the preset's own values).

    Args:
        preset (dict): The bench's preset; nested dicts are addressed as 'outer.inner'.
        max_steps (int | None): New value of every key of ``steps_keys``. Default: None (kept).
        seed (int | None): New value of every key of ``seed_keys``. Default: None (kept).
        overrides (list[str]): ``KEY=VALUE`` items (``--set``), typed as the preset's values.
        steps_keys (tuple[str]): The preset's training-length keys. Default: ('steps',).
        seed_keys (tuple[str]): The preset's seed keys. Default: ('seed',).

    Returns:
        tuple[dict, dict]: The new preset (a copy) and {'max_steps', 'seed', 'set'} as given.
    """
    flat, changes, trial = _flat(preset), {}, {}
    if max_steps is not None:
        changes.update({k: max_steps for k in steps_keys})
        trial['max_steps'] = max_steps
    if seed is not None:
        changes.update({k: seed for k in seed_keys})
        trial['seed'] = seed
    for item in overrides or ():
        key, sep, value = item.partition('=')
        if not sep or key not in flat:
            raise ValueError(f'--set {item}: expected KEY=VALUE with KEY one of the preset keys ({", ".join(flat)})')
        changes[key] = _typed(item, value, flat[key])
        trial.setdefault('set', {})[key] = changes[key]
    out = copy.deepcopy(preset)
    for key, value in changes.items():
        *outer, last = key.split('.')
        node = out
        for part in outer:
            node = node[part]
        node[last] = value
    return out, trial


def build_parser(name, doc, preset, steps_keys=('steps',), seed_keys=('seed',)):
    """The flags every bench takes (one ``error:`` line for a bad one, no abbreviations)."""
    flat = _flat(preset)
    p = cli.FlagParser(description=doc.split('\n\n')[0], prog='bench.py', allow_abbrev=False)
    p.add_argument('--out', required=True, help=f'result record (JSON) to write, e.g. results/{name}_bench.json')
    p.add_argument('--max_steps', type=cli.int_flag, default=None,
                   help=f"training steps (default: the preset's {flat[steps_keys[0]]}; "
                        f'the record is comparable only at the default)')
    p.add_argument('--seed', type=cli.int_flag, default=None,
                   help=f"seed of the training (default: the preset's {flat[seed_keys[0]]}; for trials)")
    p.add_argument('--set', action='append', default=[], metavar='KEY=VALUE', dest='overrides',
                   help='change one preset value for a trial (the record names it); keys: ' + ', '.join(flat))
    p.add_argument('--work_dir', default=None, help=f'scratch folder, emptied first (default: outputs/{name}_bench)')
    return p


def reset_work_dir(work, own=False):
    """Empty (or create) a bench's work folder and mark it as one.

    Args:
        work (str | Path): The folder.
        own (bool): It is the bench's default folder, emptied even without the mark. Default: False.

    Raises:
        ValueError: ``work`` holds files but no mark of an earlier bench (it is not emptied).
    """
    work = Path(work).resolve()
    if work.is_dir() and any(work.iterdir()) and not own and not (work / WORK_MARK).is_file():
        raise ValueError(f'--work_dir={work}: a folder with other files (no {WORK_MARK}); the bench empties its '
                         f'work folder: give a new or empty one')
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / WORK_MARK).write_text('a bench work folder: the next bench run empties it\n')
    return work


# --- one bench run -----------------------------------------------------------------------------

class Bench:
    """One bench run: its flags, work folder, record, timings and summary.

    Args:
        name (str): Registry name and method label, e.g. 'rdn'.
        doc (str): The bench's docstring (its first paragraph is ``--help``'s description).
        preset (dict): The values the bench trains with (``--set`` keys; nested dicts as 'outer.inner').
        argv (list[str] | None): Flags. Default: None (``sys.argv[1:]``).
        steps_keys (tuple[str]): Preset keys ``--max_steps`` sets. Default: ('steps',).
        seed_keys (tuple[str]): Preset keys ``--seed`` sets. Default: ('seed',).
        min_steps (int): Fewest training steps the bench can time. Default: 1.
        extra_flags (callable | None): ``extra_flags(parser)`` adds the bench's own flags. Default: None.

    Attributes:
        args (argparse.Namespace): The parsed flags.
        preset (dict): The preset with the trial's changes.
        trial (dict): Those changes ({} for a comparable record).
        out (Path): The record to write.
        work (Path): The emptied work folder.
        record (dict | None): Set by :meth:`new_record`.
        means (dict): {(set, scale, method): (model mean PSNR, baseline mean PSNR)} from :meth:`add_scores`.
        first_set (tuple | None): (label, [(name, lr, hr)]) of the first set at the first scale (Set5
            where present): what :meth:`time_inference` times.
    """

    def __init__(self, name, doc, preset, argv=None, steps_keys=('steps',), seed_keys=('seed',), min_steps=1,
                 extra_flags=None):
        parser = build_parser(name, doc, preset, steps_keys, seed_keys)
        if extra_flags is not None:
            extra_flags(parser)
        self.args = parser.parse_args(argv)
        if self.args.max_steps is not None and self.args.max_steps < min_steps:
            raise ValueError(f'--max_steps={self.args.max_steps}: the bench needs at least {min_steps} steps')
        self.preset, self.trial = apply_trial(preset, self.args.max_steps, self.args.seed, self.args.overrides,
                                              steps_keys, seed_keys)
        self.name, self.started = name, time.time()
        self.out = Path(self.args.out).resolve()
        default = paths.REPO_ROOT / 'outputs' / f'{name}_bench'
        self.work = reset_work_dir(self.args.work_dir or default, own=self.args.work_dir is None)
        ensure_sample_data(paths.SAMPLE_DATA_DIR)
        self.record, self.means, self.first_set = None, {}, None

    def new_record(self, framework, version, config, baseline='bicubic'):
        """Start the record (``make bench MODEL=<name>``; a trial's changes under config['trial'])."""
        config = dict(config, trial=self.trial) if self.trial else config
        self.record = records.new_record(self.name, framework, version, 'bench', f'make bench MODEL={self.name}',
                                         config=config)
        if baseline != 'bicubic':
            self.record['baseline'] = baseline
        return self.record

    def evaluate(self, label, predict, scales, crop=64, method=None):
        """Score ``predict`` and bicubic on every benchmark set at every scale, into the record.

        Args:
            label (str): The model's name in crops and printouts, e.g. 'RDN'.
            predict (callable): ``predict(lr, scale)``: BGR uint8 LR -> BGR uint8 SR image.
            scales (tuple[int]): The scales to score.
            crop (int): Side of the comparison crops (HR pixels). Default: 64.
            method (str | None): The record's method name (e.g. a second seed's); it gets no crops and
                bicubic is not scored again. Default: None (the bench's name).
        """
        for set_name, root in benchmark_sets():
            for scale in scales:
                images = list(load_set5_layout(root, scale))
                srs = [predict(lr, scale) for _, lr, _ in images]
                ours = evaluate_pairs([(n, sr, hr) for (n, _, hr), sr in zip(images, srs)], scale)
                if method is not None:
                    self.add_scores(set_name, scale, protocol(scale), label, ours, method=method)
                    continue
                ups = [imresize(lr, scale) for _, lr, _ in images]
                base = evaluate_pairs([(n, up, hr) for (n, _, hr), up in zip(images, ups)], scale)
                self.add_scores(set_name, scale, protocol(scale), label, ours, base)
                for (name, _, hr), sr, up, o, b in zip(images, srs, ups, ours, base):
                    write_comparison(self.work / 'compare' / f'{set_name}_{name}_x{scale}.png', [up, sr, hr],
                                     [f"bicubic {b['psnr']:.2f} dB", f"{label} {o['psnr']:.2f} dB", 'HR'], crop)
                if self.first_set is None:
                    self.first_set = (f'{set_name} x{scale}', images)

    def add_scores(self, dataset, scale, proto, label, ours, base=None, method=None):
        """Add a model's per-image scores on one set (and its baseline's, unless the record holds them) and print them.

        Args:
            dataset (str): The set's name.
            scale (int): The scale (1 for enhancement).
            proto (dict): common.metrics.protocol().
            label (str): The model's name in the printout.
            ours (list[dict]): The model's per-image scores (common.metrics.evaluate_pairs).
            base (list[dict] | None): The baseline's, added to the record. Default: None (added before).
            method (str | None): The record's method name. Default: the bench's name.
        """
        method, baseline = method or self.name, self.record.get('baseline', 'bicubic')
        ours = records.add_evaluation(self.record, dataset, scale, method, ours, proto)['mean']
        if base is not None:
            records.add_evaluation(self.record, dataset, scale, baseline, base, proto)
        base = records.find_evaluation(self.record, dataset, scale, baseline)['mean']
        self.means[(dataset, scale, method)] = (ours['psnr'], base['psnr'])
        print(f"== {dataset} x{scale}: {label} {ours['psnr']:.2f} dB / {ours['ssim']:.4f}, {baseline} "
              f"{base['psnr']:.2f} dB / {base['ssim']:.4f} ({ours['psnr'] - base['psnr']:+.2f} dB) "
              f"[{proto['label']}]", flush=True)

    def time_inference(self, predict, flops, yardstick, inputs=None):
        """Time whole-image inference on ``first_set`` just after measuring its yardstick.

        The record gets ``infer_ms_per_image`` (the mean over the images of the median of 3 warm calls)
        and ``infer_dataset``.

        Args:
            predict (callable): ``predict(x)`` on one input.
            flops (callable): ``flops(x)``: forward FLOPs of one input.
            yardstick (callable): ``yardstick()``: the framework adapter's 'infer' measurement (:func:`fastest`).
            inputs (list | None): What the model's network takes of ``first_set``'s images. Default: None
                (their LR images).

        Returns:
            tuple: ``(GFLOP/s, yardstick, what was timed)``, the ``infer`` argument of :func:`speed_fields`.
        """
        label, images = self.first_set
        inputs = [lr for _, lr, _ in images] if inputs is None else inputs
        stick = yardstick()
        seconds = median_seconds(predict, inputs)
        self.record['speed'].update(infer_ms_per_image=1000.0 * float(np.mean(seconds)), infer_dataset=label)
        return model_gflops(sum(flops(x) for x in inputs), sum(seconds)), stick, f'{label}, whole images'


    def finish(self, network, batch_size, images_per_sec, losses=None, accuracy=None, goals=None):
        """Save the record, print the summary, write the ModelZoo case files; returns the record.

        Args:
            network (str): ModelZoo network name.
            batch_size (int): Training batch size.
            images_per_sec (float): Training throughput.
            losses (list[float] | None): Logged training losses. Default: None.
            accuracy (float | None): ModelZoo accuracy. Default: the model's mean PSNR on the first set at
                its last scale.
            goals (dict | None): {(set, scale, method): dB} the model must beat the baseline by; elsewhere it
                must beat it. Default: None.
        """
        e2e = time.time() - self.started
        self.record['train']['e2e_sec'] = e2e
        self.record['goals'] = []
        for (dataset, scale, method), (ours, base) in self.means.items():
            goal = (goals or {}).get((dataset, scale, method), 0.0)
            self.record['goals'].append({'dataset': dataset, 'scale': scale, 'method': method, 'min_gain_db': goal,
                                         'gain_db': ours - base, 'met': ours - base >= goal if goal else ours > base})
        records.save_record(self.record, self.out)
        print('\n' + summary_text(self.record))
        for line in records.goal_lines(self.record):
            print(line)
        if accuracy is None and self.means:
            first = next(iter(self.means))[0]
            accuracy = [ours for (dataset, _, _), (ours, _) in self.means.items() if dataset == first][-1]
        ips = images_per_sec or 0.0
        records.modelzoo_summary(self.work, network, batch_size, ips, batch_size / ips if ips else 0.0, e2e,
                                 train_accuracy=accuracy, losses=losses)
        print(f'record written to {self.out}')
        return self.record


def summary_text(record):
    """The closing lines of a bench: training, the two efficiencies and inference."""
    train, speed = record.get('train') or {}, record.get('speed') or {}
    lines = []
    if 'seconds' in train:
        ips = train.get('images_per_sec', train.get('patches_per_sec'))
        unit = 'images/s' if 'images_per_sec' in train else 'patches/s'
        lines.append(f"train: {train.get('steps', '?')} steps in {train['seconds']:.0f} s"
                     + (f', {ips:.1f} {unit}' if ips else ''))
    yard = speed.get('yardstick') or {}
    for mode, what in (('train', 'training'), ('infer', 'inference')):
        if speed.get(f'{mode}_efficiency') is not None:
            lines.append(f"{what}: {speed[f'{mode}_gflops']:.1f} GFLOP/s = {speed[f'{mode}_efficiency']:.2f} of the "
                         f"dense conv ({yard[f'{mode}_gflops']:.1f}, {yard['layout'][mode]}, {yard['precision']}); "
                         f"timed: {speed[f'{mode}_timed']}")
    if speed.get('infer_ms_per_image') is not None:
        lines.append(f"inference: {speed['infer_ms_per_image']:.1f} ms/image ({speed.get('infer_dataset')})")
    return '\n'.join(lines)


run_cli = cli.run_cli
