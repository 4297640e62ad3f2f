"""The front page's zoo table: every model of the zoo in one place, rendered from the bench records.

Two tables between ``<!-- zoo:begin -->`` and ``<!-- zoo:end -->`` of the root README, both made by
:func:`render` from the model records of the bench registry (``results/<model>_bench.json``):

- quality, one row per model and scale (per training for LPTN): framework, task, parameters of the bench
  preset (counted here from the architecture the record or the preset names) and of the paper
  configuration (quoted), the bench PSNR beside its baseline scored in the same run on Set5 (the
  authors' LR) and on the held-out set, and the paper's figure with its source;
- training, speed and operations, one row per record: training steps and seconds, inference ms per
  image, the two efficiencies of the zoo's yardstick (docs/protocol.md, "Speed yardstick"), the export
  format with its parity figure, and whether the reference's checkpoints load (with the test showing it).

Framework-free: it reads JSON (and LPTN's preset yml) only. ``python -m tools.bench`` re-renders the block
each time it renders a model's record (after a bench, and with ``--render_only``).
"""
from dataclasses import dataclass
from pathlib import Path

import yaml

from common import records
from common.paths import REPO_ROOT
from tools.registry import REGISTRY

BEGIN = '<!-- zoo:begin -->'
END = '<!-- zoo:end -->'
MARKERS = (BEGIN, END)
README = 'README.md'
LPTN_OPTIONS = REPO_ROOT / 'pytorch' / 'lptn' / 'options' / 'train' / 'LPTN'   # the bench's ymls
PUBLISHED = '../shared/reference/published_numbers.md'   # the quoted figures' sections (§n) and tags ([V] ...)
FRAMEWORKS = {'mindspore': 'MindSpore', 'pytorch': 'PyTorch', 'tensorflow': 'TensorFlow'}


# --- parameter counts from an architecture --------------------------------------------------------

def _conv(k, cin, cout, bias=True):
    return k * k * cin * cout + (cout if bias else 0)


def srcnn_params(num_in_ch=1, num_feat=64, num_feat2=32, kernel_sizes=(9, 5, 5), has_bias=False):
    """Parameters of SRCNN (mindspore/srcnn/src/srcnn.py; the defaults are the port's network)."""
    k1, k2, k3 = kernel_sizes
    return (_conv(k1, num_in_ch, num_feat, has_bias) + _conv(k2, num_feat, num_feat2, has_bias)
            + _conv(k3, num_feat2, num_in_ch, has_bias))


def rdn_params(scale, num_in_ch, num_feat, num_block, num_layer, growth_rate, upsampler, **_):
    """Parameters of RDN (pytorch/rdn/model/rdn.py) from a preset's architecture dict."""
    g0, g = num_feat, growth_rate
    rdb = sum(_conv(3, g0 + i * g, g) for i in range(num_layer)) + _conv(1, g0 + num_layer * g, g0)
    first = 2 if upsampler == 'paper' and scale == 4 else scale
    tail = _conv(3, g0, g * first * first) + (_conv(3, g, 4 * g) if first != scale else 0)
    return (_conv(3, num_in_ch, g0) + _conv(3, g0, g0) + num_block * rdb + _conv(1, num_block * g0, g0)
            + _conv(3, g0, g0) + tail + _conv(3, g, num_in_ch))


def rcan_params(scale, n_feats, n_RG, n_RCAB, kernel_size=3, ratio=16, channel=3):
    """Parameters of RCAN (tensorflow/rcan/RCA_net.py) from its flags (the record's config)."""
    k, f = kernel_size, n_feats
    rcab = 2 * _conv(k, f, f) + _conv(1, f, f // ratio) + _conv(1, f // ratio, f)
    up = _conv(k, f, 9 * f) if scale == 3 else (scale.bit_length() - 1) * _conv(k, f, 4 * f)
    return _conv(k, channel, f) + n_RG * (n_RCAB * rcab + _conv(k, f, f)) + _conv(k, f, f) + up + _conv(k, f, channel)


def bsrn_params(scale, conv_features, state_features):
    """Parameters of BSRN's path for one scale (tensorflow/bsrn/models/bsrn.py): the shared first conv and
    residual module, that scale's upsampler and last conv (the multi-scale model holds every scale's)."""
    c, t = conv_features, conv_features + state_features
    up = _conv(3, c, 9 * c) if scale == 3 else (scale.bit_length() - 1) * _conv(3, c, 4 * c)
    return _conv(3, 3, c) + 3 * _conv(3, t, t) + up + _conv(3, c, 3)


def lptn_params(type, nrb_low, nrb_high, num_high):   # noqa: A002 (the yml's key)
    """Parameters of LPTN's generator (pytorch/lptn/models/archs/LPTN_arch.py) from a yml's network_g."""
    mask = {'LPTN': 3, 'LPTNPaper': 1}[type]
    block = 2 * _conv(3, 64, 64)
    low = _conv(3, 3, 16) + _conv(3, 16, 64) + nrb_low * block + _conv(3, 64, 16) + _conv(3, 16, 3)
    refine = _conv(1, mask, 16) + _conv(1, 16, mask)                       # one per pyramid level
    high = _conv(3, 9, 64) + nrb_high * block + _conv(3, 64, mask) + num_high * refine
    return low + high


# --- what the records do not carry: the models' facts, the paper's figures with their sources ------

@dataclass(frozen=True)
class Paper:
    """A published figure (PSNR dB) quoted from published_numbers.md, with where it comes from."""
    psnr: float
    where: str            # dataset and scale, e.g. 'Set5 x2'
    source: str           # the original source and the section and tag of published_numbers.md


@dataclass(frozen=True)
class Model:
    """One model of the zoo: what the front page says that its record does not.

    Args:
        name (str): Registry name (its record is REGISTRY[name].record).
        label (str): Display name.
        graph (str): Said after the framework (e.g. 'TF1 graph').
        paper_params (dict): scale (or method) -> (count, source) of the paper configuration.
        paper (dict): scale (or method) -> Paper, or a str saying why there is none.
        export (str): Export format(s).
        export_test (str): The test that checks the export's parity (path::name).
        checkpoints (str): Whether the reference's checkpoints load, in a few words.
        checkpoints_test (str | None): The test that shows it (path::name); None: no test.
        tasks (dict | None): method -> (row label, task, preset key in config.bench) for a model whose rows
            are its methods (LPTN); None: one row per scale of the method named like the model.
    """
    name: str
    label: str
    graph: str
    paper_params: dict
    paper: dict
    export: str
    export_test: str
    checkpoints: str
    checkpoints_test: str = None
    tasks: dict = None


MODELS = (
    Model('srcnn', 'SRCNN', '',
          {s: (57281, '§2 [C], 9-5-5 with biases') for s in (2, 3, 4)},
          {s: Paper(p, f'Set5 x{s}', '§2 [V]: SRCNN 9-5-5 in the RDN and RCAN papers\' tables')
           for s, p in ((2, 36.66), (3, 32.75), (4, 30.48))},
          'MINDIR, ONNX', 'tests/mindspore_srcnn/test_eval_export.py::test_export_matches_the_eager_network',
          'no test loads a reference checkpoint'),
    Model('rdn', 'RDN', '',
          {s: (n, '§3 [C]') for s, n in ((2, 22123395), (3, 22308035), (4, 22271107))},
          {s: Paper(p, f'Set5 x{s}', '§3 [V]: RDN paper, Table 1')
           for s, p in ((2, 38.24), (3, 34.71), (4, 32.47))},
          'ONNX', 'tests/pytorch_rdn/test_export_inference.py::test_onnx_export_with_dynamic_size_matches_pytorch',
          "yes: the ID3004 port's pickled modules, identical outputs",
          'tests/pytorch_rdn/test_reference_checkpoint.py::'
          'test_the_ports_pickled_module_loads_with_the_opt_in_and_gives_identical_outputs'),
    Model('rcan', 'RCAN', 'TF1 graph',
          {s: (n, '§4 [C]') for s, n in ((2, 15444643), (3, 15629283), (4, 15592355))},
          {s: Paper(p, f'Set5 x{s}', '§4 [V]: RCAN paper, Table 3')
           for s, p in ((2, 38.27), (3, 34.74), (4, 32.63))},
          'frozen .pb', 'tests/tensorflow_rcan/test_export.py::test_frozen_graph_output_equals_the_sessions',
          "the reference's variable names and shapes (no reference file loaded)",
          'tests/tensorflow_rcan/test_net.py::test_variable_names_are_the_references'),
    Model('bsrn', 'BSRN', 'TF1 graph',
          {s: (n, '§5 [C], checkpoint-verified') for s, n in ((2, 593987), (3, 778627), (4, 741699))},
          {2: '§5 [X]: no Set5 figure in the stored sources', 3: '§5 [X]: no Set5 figure in the stored sources',
           4: Paper(27.538, 'B100 x4', '§5 [V2]: the paper, as quoted by the Ascend port README; no Set5 figure [X]')},
          'frozen .pb',
          'tests/tensorflow_bsrn/test_inference.py::test_test_bsrn_writes_ensembles_and_export_matches_the_session',
          "names and shapes equal the released checkpoint's index (its weights are not stored here)",
          'tests/tensorflow_bsrn/test_model.py::test_variables_equal_the_released_checkpoint_index'),
    Model('lptn', 'LPTN', '',
          {m: (616215, '§6 [C], LPTNPaper') for m in ('LPTN (unpaired)', 'LPTN (paired)')},
          {'LPTN (unpaired)': Paper(22.12, 'FiveK 480p test, RGB',
                                    '§6 [V2]: the paper, as quoted by the Ascend port README'),
           'LPTN (paired)': "§6: none for paired training (the one FiveK figure quoted goes with the reference's "
                            'unpaired recipe)'},
          'ONNX', 'tests/pytorch_lptn/test_scripts.py::test_onnx_export_matches_pytorch',
          'a file in the released layout loads strictly, identical outputs (the released file is not stored here)',
          'tests/pytorch_lptn/test_model.py::test_a_basicsr_params_file_with_the_alias_keys_loads',
          tasks={'LPTN (unpaired)': ('LPTN unpaired', 'enhancement, unpaired GAN', 'unpaired'),
                 'LPTN (paired)': ('LPTN paired', 'enhancement, paired', 'paired')}),
)


def bench_params(model, record, key):
    """Parameters of the bench preset of ``model`` for one row (a scale, or an LPTN method)."""
    config = record.get('config') or {}
    if model.name == 'srcnn':
        return srcnn_params()                   # the record has no architecture keys: the port's fixed 9-5-5
    if model.name == 'rdn':
        return rdn_params(key, **config['arch'])
    if model.name == 'rcan':
        return rcan_params(key, config['n_feats'], config['n_RG'], config['n_RCAB'], config['kernel_size'],
                           config['ratio'], config['channel'])
    if model.name == 'bsrn':
        return bsrn_params(key, config['bsrn_conv_features'], config['bsrn_state_features'])
    yml = config['bench'][model.tasks[key][2]]['yml']
    with open(LPTN_OPTIONS / yml, encoding='utf-8') as f:
        return lptn_params(**yaml.safe_load(f)['network_g'])


# --- rendering -------------------------------------------------------------------------------------

def load_records(root=None):
    """{registry name: record, or None where it was not made yet} of every zoo model, from ``root``
    (default: the repository)."""
    out = {}
    for model in MODELS:
        path = Path(REPO_ROOT if root is None else root) / REGISTRY[model.name].record
        out[model.name] = records.load_record(path) if path.exists() else None
    return out


def _rows(model, rec):
    """(key, method, row label, task) of the quality rows of a record: its model's scales, or its methods."""
    if model.tasks:
        return [(m, m, *model.tasks[m][:2]) for m in dict.fromkeys(ev['method'] for ev in rec['evaluations'])
                if m in model.tasks]
    scales = sorted({ev['scale'] for ev in rec['evaluations'] if ev['method'] == rec['model']})
    return [(s, rec['model'], f'{model.label} x{s}', f'SR x{s}') for s in scales]


def _bench_cells(rec, method, key):
    """(Set5 cell, held-out cell, protocol labels) of one row: '35.79 vs bicubic 33.67 (+2.12)', and a second
    seed's gain where the record has one."""
    base_method, seed2 = rec.get('baseline', 'bicubic'), rec.get('second_seed') or {}
    cells, labels = {'Set5': '-', 'held-out': '-'}, []
    for ev in rec['evaluations']:
        if ev['method'] != method or (not isinstance(key, str) and ev['scale'] != key):
            continue
        psnr, text = ev['mean']['psnr'], f"{ev['mean']['psnr']:.2f}"
        base = records.find_evaluation(rec, ev['dataset'], ev['scale'], base_method)
        other = (seed2.get('method') and method == seed2.get('of', rec['model'])      # the row the seed repeats
                 and records.find_evaluation(rec, ev['dataset'], ev['scale'], seed2['method']))
        if base is not None:
            text += f" vs {base_method} {base['mean']['psnr']:.2f} ({psnr - base['mean']['psnr']:+.2f})"
            if other:
                text += f"; seed {seed2['seed']}: {other['mean']['psnr'] - base['mean']['psnr']:+.2f}"
        if ev['dataset'] == 'Set5':
            cells['Set5'] = text
        else:
            cells['held-out'] = f"{ev['dataset']} ({len(ev['per_image'])} images): {text}"
        labels.append(ev['protocol']['label'])
    return cells['Set5'], cells['held-out'], '; '.join(dict.fromkeys(labels)) or '-'


def _framework(model, rec):
    name = FRAMEWORKS.get(rec.get('framework'), rec.get('framework'))
    return ' '.join(p for p in (name, rec.get('framework_version', ''), f'({model.graph})' if model.graph else '') if p)


def quality_table(recs):
    """The quality table's lines (header included) from {name: record}."""
    lines = ["| Model | Framework | Task | Parameters: bench preset / paper | Set5, authors' LR: bench vs baseline "
             "(gain), PSNR dB | Held-out set: bench vs baseline (gain), PSNR dB | Paper, PSNR dB | Paper's source | "
             "Protocol |", '|' + '---|' * 9]
    for model in MODELS:
        rec = recs.get(model.name)
        if rec is None:
            lines.append(f'| {model.label} | no record yet: `make bench MODEL={model.name}` |' + ' |' * 7)
            continue
        for key, method, label, task in _rows(model, rec):
            set5, held, labels = _bench_cells(rec, method, key)
            count, count_source = model.paper_params[key]
            paper = model.paper.get(key, 'not quoted')
            figure, source = ((f'{paper.psnr:g} ({paper.where})', paper.source) if isinstance(paper, Paper)
                              else ('-', paper))
            lines.append(f'| {label} | {_framework(model, rec)} | {task} | {bench_params(model, rec, key):,} / '
                         f'{count:,} ({count_source}) | {set5} | {held} | {figure} | {source} | {labels} |')
    return lines


def _training(rec):
    """(steps cell, seconds cell) of a record: one training, BSRN's by scale, LPTN's two."""
    train = rec.get('train') or {}
    if 'seconds' not in train:       # LPTN: one entry per training
        runs = [(k, v) for k, v in train.items() if isinstance(v, dict) and 'seconds' in v]
        return (', '.join(f"{k} {v.get('iters', v.get('steps'))}" for k, v in runs),
                ', '.join(f"{k} {v['seconds']:.0f}" for k, v in runs))
    steps = f"{train['steps']}"
    if train.get('steps_by_scale'):
        steps += ' (' + ', '.join(f'{k} {v}' for k, v in train['steps_by_scale'].items()) + ')'
    seconds = f"{train['seconds']:.0f}"
    seed2 = rec.get('second_seed')
    if seed2:
        steps += f"; seed {seed2['seed']}: {seed2['steps']}"
        seconds += f"; seed {seed2['seed']}: {seed2['train_seconds']:.0f}"
    return steps, seconds


def _inference_ms(speed):
    if 'infer_ms_per_image' in speed:
        return f"{speed['infer_ms_per_image']:.1f} ({speed.get('infer_dataset', '?')})"
    runs = [v for v in (speed.get('test_speed') or {}).values() if v.get('precision') == 'fp32']
    if runs:    # LPTN's test_speed: mean seconds per image of each size
        return ', '.join(f"{1000 * v['mean']:.0f} ({v['size'][0]}x{v['size'][1]}, fp32)" for v in runs)
    return '-'


def speed_table(recs):
    """The training, speed and operations table's lines (header included), one row per record."""
    lines = ['| Model | Training steps | Training (s) | Inference (ms/image) | Training efficiency | '
             'Inference efficiency | Export (parity) | Reference checkpoints load |', '|' + '---|' * 8]
    for model in MODELS:
        rec = recs.get(model.name)
        if rec is None:
            lines.append(f'| {model.label} | no record yet |' + ' |' * 6)
            continue
        speed = rec.get('speed') or {}
        effs = [records.fmt(speed.get(f'{m}_efficiency'), 2) for m in ('train', 'infer')]
        label = model.label + ' ' + '/'.join(r[2][len(model.label) + 1:] for r in _rows(model, rec))
        lines.append(f'| {label} | {" | ".join(_training(rec))} | {_inference_ms(speed)} | {effs[0]} | {effs[1]} | '
                     f'{model.export}: -¹ | {model.checkpoints}² |')
    return lines


def notes(recs):
    """The lines under the tables: where the figures come from, the tests named, what was timed, provenance."""
    present = [(m, recs[m.name]) for m in MODELS if recs.get(m.name)]
    timed = '; '.join(f"{m.label}: {(r.get('speed') or {}).get('train_timed', '-')} / "
                      f"{(r.get('speed') or {}).get('infer_timed', '-')}" for m, r in present)
    lines = [
        f'- §n [tag]: the section and tag of `{PUBLISHED}`, where every paper figure and count is quoted from '
        '([V] read in the cited source, [V2] in a source quoting the paper, [C] computed from the official '
        'architecture, [X] searched for and not found).',
        "- Parameters: the bench preset's are counted by `tools/zoo_table.py` from the architecture the record "
        "names (RDN's `arch`, RCAN's and BSRN's flags, `network_g` of LPTN's preset yml; SRCNN's record has no "
        "architecture keys: the port's fixed 9-5-5 network, without biases); BSRN's are one scale's path, as the "
        'quoted ones (the multi-scale model holds all three upsamplers). The same counter gives the quoted paper '
        'counts from the paper configurations (`tests/tools/test_zoo_table.py`).',
        '- Bench figures: the model beside its baseline scored in the same run (bicubic of the same LR images; '
        "LPTN: the identity, its input itself), on Set5 with the authors' LR and on the held-out sample set. A bench "
        'trains minutes on 2 CPU cores: it shows that a port trains and is scored by the paper\'s protocol, not '
        'the paper\'s accuracy. The SR papers use the protocol of the Protocol column; LPTN\'s figure is RGB on '
        'the full FiveK 480p test set, not on the 3 sample photos here.',
        '- Efficiency: the model\'s FLOP/s over the same framework\'s dense 3x3 64->64 convolution timed in the '
        'same process just before (docs/protocol.md, "Speed yardstick"). Timed (training / inference): '
        + timed + '.',
        '- ¹ Not yet in the record: no bench records an export parity figure. The export tests check the '
        'exported model against the framework\'s own: '
        + '; '.join(f'{m.label} `{m.export_test}`' for m in MODELS) + '.',
        '- ² The tests: ' + '; '.join(f'{m.label} `{m.checkpoints_test}`' for m in MODELS if m.checkpoints_test)
        + ''.join(f'; {m.label}: none' for m in MODELS if not m.checkpoints_test) + '.',
    ]
    return lines + [records.provenance(r).replace('- Command:', f'- {m.label}: command', 1) for m, r in present]


def render(recs):
    """The README block (both tables and their notes) from {registry name: record or None}."""
    return ('Quality, one row per model and scale:\n\n' + '\n'.join(quality_table(recs))
            + '\n\nTraining, speed and operations, one row per bench record:\n\n' + '\n'.join(speed_table(recs))
            + '\n\n' + '\n'.join(notes(recs)) + '\n')


def update_readme(root=None):
    """Regenerate the zoo block of README.md from the model records, both under ``root`` (default: the
    repository); returns the block."""
    root = Path(REPO_ROOT if root is None else root)
    block = render(load_records(root))
    records.update_block(root / README, block, markers=MARKERS)
    return block
