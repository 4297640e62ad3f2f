"""Result records: one JSON schema for every run, the ModelZoo log summary, and README tables.

A record is a plain dict, saved as JSON under `results/`::

    {
      "schema": "srzoo.result/1",
      "model": "srcnn", "framework": "mindspore", "framework_version": "2.10.0",
      "kind": "bench",                       # or "eval"
      "command": "make bench MODEL=srcnn",   # the command that regenerates it
      "config": {...},                       # the effective configuration
      "created": "2026-11-21T23:59:59Z", "git_commit": "abc123...",
      "hardware": {"cpu": ..., "cores": 2, "memory_gib": 23.4, "platform": ..., "python": ...},
      "evaluations": [
        {"dataset": "Set5", "scale": 2, "method": "srcnn",
         "protocol": {"channel": "y", "crop_border": 2, "round_y": false, "label": "..."},
         "per_image": [{"name": "baby", "psnr": 38.1, "ssim": 0.96}, ...],
         "mean": {"psnr": 36.0, "ssim": 0.95}},
        ...
      ],
      "train": {...},   # e.g. seconds, steps, epochs, final_loss, images_per_sec
      "speed": {...}    # e.g. infer_ms_per_image, train_efficiency, infer_efficiency, yardstick
    }

README tables are rendered from records between `<!-- results:begin -->` and `<!-- results:end -->`,
so no number in a table is ever typed by hand.

Records are committed, so they hold no machine's absolute paths: `new_record` (its config) and
`save_record` (the whole record) rewrite every absolute path string with `portable_path`.
"""
import datetime
import json
import os
import platform
import subprocess
from pathlib import Path

from common.fileio import atomic_write_bytes, remove_dead_temps
from common.paths import REPO_ROOT

SCHEMA = 'srzoo.result/1'
BEGIN_MARK = '<!-- results:begin -->'
END_MARK = '<!-- results:end -->'


def atomic_write_text(path, text):
    """Write `text` (UTF-8) to `path` through a temporary file in the same folder, then rename."""
    atomic_write_bytes(path, text.encode('utf-8'))


def portable_path(value):
    """Rewrite an absolute path string so it means the same on any machine; other values pass through.

    A path under the repository becomes relative to it ('datasets/sample'; the root itself is '.'),
    one under the repository's parent becomes '../...' ('../shared/data/Set5'), and any other
    absolute path becomes '<abs>/' + its last component ('<abs>/pretrained.ckpt'). Dicts, lists and
    tuples are rewritten recursively (a new object; the argument is not changed).

    Args:
        value: A string, a container of them, or anything else (returned as it is).

    Returns:
        The rewritten value.
    """
    if isinstance(value, dict):
        return {k: portable_path(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable_path(v) for v in value]
    if not isinstance(value, str) or not os.path.isabs(value):
        return value
    for path in dict.fromkeys((os.path.normpath(value), os.path.realpath(value))):
        for base, prefix in ((REPO_ROOT, ''), (REPO_ROOT.parent, '..')):
            try:
                rel = Path(path).relative_to(base)
            except ValueError:
                continue
            return Path(prefix, rel).as_posix() if prefix else (rel.as_posix() or '.')
    return '<abs>/' + os.path.basename(os.path.normpath(value))


# The vector extensions that change which kernels the frameworks pick (and so the float order of a run).
_ISA_FLAGS = ('avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_bf16', 'amx_tile')


def hardware_info():
    """Describe this machine: CPU model and vector ISA, core count, memory, OS, Python, load, OpenMP wait policy."""
    cpu = platform.processor() or platform.machine()
    isa = []
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                elif line.startswith('flags'):
                    flags = set(line.split(':', 1)[1].split())
                    isa = [name for name in _ISA_FLAGS if name in flags]
                    break
    except OSError:
        pass
    memory_gib = None
    try:
        memory_gib = round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    try:
        load = [round(x, 2) for x in os.getloadavg()]   # 1, 5, 15 min: how busy the machine was
    except OSError:
        load = None
    return {'cpu': cpu, 'isa': isa, 'cores': cores, 'memory_gib': memory_gib, 'accelerator': 'none',
            'platform': platform.platform(), 'python': platform.python_version(), 'load_avg': load,
            'omp_wait_policy': os.environ.get('OMP_WAIT_POLICY')}


def _git_commit():
    try:
        out = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=Path(__file__).resolve().parents[1],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def new_record(model, framework, framework_version, kind, command, config=None):
    """Start a record for one run.

    Args:
        model (str): Registry name, e.g. 'srcnn'.
        framework (str): 'pytorch', 'tensorflow', 'mindspore' or 'none'.
        framework_version (str): Version string of that framework ('' for none).
        kind (str): 'bench' or 'eval'.
        command (str): The command that regenerates this record.
        config (dict): Effective configuration; absolute paths in it are rewritten by
            `portable_path`. Default: None (empty).
    """
    if kind not in ('bench', 'eval'):
        raise ValueError(f"record kind must be 'bench' or 'eval', got {kind!r}")
    return {
        'schema': SCHEMA, 'model': model, 'framework': framework,
        'framework_version': framework_version, 'kind': kind, 'command': command,
        'config': portable_path(dict(config or {})),
        'created': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
        'git_commit': _git_commit(), 'hardware': hardware_info(),
        'evaluations': [], 'train': {}, 'speed': {},
    }


def add_evaluation(record, dataset, scale, method, per_image, protocol):
    """Append one evaluation (a method on a dataset at a scale) and return it.

    Args:
        record (dict): From `new_record`.
        dataset (str): e.g. 'Set5' or 'SampleTest'.
        scale (int): Upscaling factor.
        method (str): e.g. 'srcnn' or 'bicubic'.
        per_image (list[dict]): {'name', 'psnr', 'ssim'} per image (common.metrics.evaluate_pairs).
        protocol (dict): From common.metrics.protocol(); must carry a 'label'.
    """
    if not per_image:
        raise ValueError(f'evaluation of {method} on {dataset} x{scale} has no images')
    if 'label' not in protocol:
        raise ValueError('protocol must carry a label (use common.metrics.protocol)')
    rows = [{'name': str(r['name']), 'psnr': float(r['psnr']), 'ssim': float(r['ssim'])}
            for r in per_image]
    entry = {
        'dataset': dataset, 'scale': int(scale), 'method': method, 'protocol': dict(protocol),
        'per_image': rows,
        'mean': {'psnr': sum(r['psnr'] for r in rows) / len(rows),
                 'ssim': sum(r['ssim'] for r in rows) / len(rows)},
    }
    record['evaluations'].append(entry)
    return entry


def save_record(record, path):
    """Validate a record and write it as JSON, atomically and durably.

    Absolute paths anywhere in it are written as `portable_path` rewrites them (the dict passed in is
    not changed). The write is `common.imgio.atomic_write_bytes` (fsync'd temporary file, rename,
    fsync'd folder), so `path` is always the old or the complete new record; temporary files that
    killed writers of `path` left behind are removed afterwards.

    Args:
        record (dict): From `new_record`.
        path (str | Path): The JSON file to write.
    """
    missing = [k for k in ('schema', 'model', 'kind', 'command', 'evaluations') if k not in record]
    if missing:
        raise ValueError(f'record for {path} lacks keys {missing}')
    atomic_write_text(path, json.dumps(portable_path(record), indent=1, sort_keys=False) + '\n')
    remove_dead_temps(Path(path).parent, name=Path(path).name)


def load_record(path):
    """Read a record, checking its schema."""
    try:
        with open(path, encoding='utf-8') as f:
            record = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f'result record not found: {path}') from None
    except json.JSONDecodeError as err:
        raise ValueError(f'result record {path} is not valid JSON: {err}') from None
    if record.get('schema') != SCHEMA:
        raise ValueError(f"result record {path} has schema {record.get('schema')!r}, expected {SCHEMA!r}")
    return record


def find_evaluation(record, dataset, scale, method):
    """Return the evaluation entry for (dataset, scale, method) or None."""
    for ev in record['evaluations']:
        if ev['dataset'] == dataset and ev['scale'] == scale and ev['method'] == method:
            return ev
    return None


# --- ModelZoo log summary ---------------------------------------------------------------------

def modelzoo_summary(out_dir, network, batch_size, fps, step_time, e2e_sec, train_accuracy=None,
                     losses=None, perf=False, rank_size=1):
    """Print the Ascend ModelZoo 'Final result' block and write `${CaseName}.log` and `_loss.txt`.

    Args:
        out_dir (str | Path): Where the case files go (the scripts' test/output/<device>).
        network (str): Network name (the model folder name in the ModelZoo scripts).
        batch_size (int): Training batch size.
        fps (float): Training images (or patches) per second.
        step_time (float): Seconds per training step.
        e2e_sec (float): End-to-end wall time in seconds.
        train_accuracy (float | None): Accuracy figure (e.g. PSNR). Default: None (perf runs).
        losses (list[float] | None): Loss values, one per line of `${CaseName}_loss.txt`. Default: None.
        perf (bool): Performance case ('perf') rather than accuracy case ('acc'). Default: False.
        rank_size (int): Number of devices. Default: 1.

    Returns:
        str: The CaseName.
    """
    out_dir = Path(out_dir)
    case = f"{network}_bs{batch_size}_{rank_size}p_{'perf' if perf else 'acc'}"
    losses = list(losses or [])
    actual_loss = f'{losses[-1]:.6f}' if losses else 'None'
    lines = ['------------------ Final result ------------------',
             f'Final Performance images/sec : {fps:.2f}',
             f'Final Performance sec/step : {step_time:.6f}',
             f'E2E Training Duration sec : {int(round(e2e_sec))}']
    if not perf:
        acc = 'None' if train_accuracy is None else f'{train_accuracy:.4f}'
        lines.append(f'Final Train Accuracy : {acc}')
    print('\n'.join(lines))
    log = [f'Network = {network}', f'RankSize = {rank_size}', f'BatchSize = {batch_size}',
           f'DeviceType = {platform.machine()}', f'CaseName = {case}', f'ActualFPS = {fps:.2f}',
           f'TrainingTime = {step_time:.6f}', f'ActualLoss = {actual_loss}',
           f'E2ETrainingTime = {int(round(e2e_sec))}']
    if not perf:
        log.append(f"TrainAccuracy = {'None' if train_accuracy is None else f'{train_accuracy:.4f}'}")
    atomic_write_text(out_dir / f'{case}.log', '\n'.join(log) + '\n')
    atomic_write_text(out_dir / f'{case}_loss.txt', ''.join(f'{v:.6f}\n' for v in losses))
    return case


# --- README tables ----------------------------------------------------------------------------

def fmt(value, digits):
    """``value`` with ``digits`` decimals, '-' for None (every rendered table)."""
    return '-' if value is None else f'{value:.{digits}f}'


def render_results_table(records):
    """Render records as a markdown table with a provenance line per record.

    Each (dataset, scale) group lists its methods; PSNR gains are against the baseline method of the
    same record, i.e. measured in the same run: 'bicubic', or the record's ``'baseline'`` (e.g.
    'identity' for an enhancement model, the input itself). A record's ``'tables'`` (a list of
    ``{'title', 'columns': [{'name', 'fmt'}], 'rows': [[value, ...]]}``) are rendered after it, each
    value with its column's format (None as '-'), after the speed table of a record that trained or
    holds the speed fields (:func:`speed_table`).
    """
    baseline = records[0].get('baseline', 'bicubic') if records else 'bicubic'
    lines = [f'| Method | Dataset | Scale | PSNR (dB) | SSIM | vs {baseline} (dB) | Protocol |',
             '|---|---|---|---|---|---|---|']
    notes, extra = [], []
    for rec in records:
        base_method = rec.get('baseline', 'bicubic')
        for ev in rec['evaluations']:
            base = find_evaluation(rec, ev['dataset'], ev['scale'], base_method)
            gain = None
            if base is not None and ev['method'] != base_method:
                gain = ev['mean']['psnr'] - base['mean']['psnr']
            lines.append(
                f"| {ev['method']} | {ev['dataset']} ({len(ev['per_image'])} images) | x{ev['scale']} | "
                f"{fmt(ev['mean']['psnr'], 2)} | {fmt(ev['mean']['ssim'], 4)} | "
                f"{'+' + fmt(gain, 2) if gain is not None and gain >= 0 else fmt(gain, 2)} | "
                f"{ev['protocol']['label']} |")
        notes.append(provenance(rec))
        if rec.get('goals'):
            met = sum(g['met'] for g in rec['goals'])
            notes.append(f"- Goals of the bench ({met} of {len(rec['goals'])} met): "
                         + '; '.join(line[len('goal '):] for line in goal_lines(rec)) + '.')
        if rec.get('train') or any(k in (rec.get('speed') or {}) for k in SPEED_KEYS):
            extra.append(_render_extra(speed_table(rec)))
        extra.extend(_render_extra(table) for table in rec.get('tables', []))
    return '\n'.join(lines) + '\n\n' + '\n'.join(notes) + '\n' + ''.join('\n' + t for t in extra)


def goal_lines(rec):
    """One line per goal a bench record carries: 'goal Set5 x2: rcan >= bicubic + 2.3 dB: met (+2.41 dB)'."""
    baseline = rec.get('baseline', 'bicubic')
    out = []
    for g in rec.get('goals', []):
        want = f">= {baseline} + {g['min_gain_db']:.1f} dB" if g['min_gain_db'] else f'> {baseline}'
        out.append(f"goal {g['dataset']} x{g['scale']}: {g['method']} {want}: "
                   f"{'met' if g['met'] else 'NOT met'} ({g['gain_db']:+.2f} dB)")
    return out


def _render_extra(table):
    cols = table['columns']
    out = [f"{table['title']}", '', '| ' + ' | '.join(c['name'] for c in cols) + ' |',
           '|' + '---|' * len(cols)]
    for row in table['rows']:
        cells = ['-' if v is None else (format(v, c.get('fmt', '')) if not isinstance(v, str) else v)
                 for v, c in zip(row, cols)]
        out.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(out) + '\n'


SPEED_KEYS = ('train_efficiency', 'infer_efficiency')


def speed_table(rec):
    """The record's two efficiencies against the yardstick, as a table for :func:`_render_extra`.

    Rows: training (forward + backward) and inference (forward): the model's GFLOP/s, the dense
    convolution's in the same process just before, their ratio, the convolution's layout and precision,
    and what was timed. A record made before these fields existed shows '-'.
    """
    speed = rec.get('speed') or {}
    yard = speed.get('yardstick') or {}
    rows = []
    for mode, what in (('train', 'training (forward + backward)'), ('infer', 'inference (forward)')):
        layout = (yard.get('layout') or {}).get(mode)
        rows.append([what, speed.get(f'{mode}_gflops'), yard.get(f'{mode}_gflops'), speed.get(f'{mode}_efficiency'),
                     f"{layout}, {yard.get('precision')}" if layout else None, speed.get(f'{mode}_timed')])
    return {'title': 'Speed against the yardstick, a dense 3x3 64->64 convolution of the same framework timed in the '
                     'same process just before (docs/protocol.md, "Speed yardstick"):',
            'columns': [{'name': 'what'}, {'name': 'model GFLOP/s', 'fmt': '.1f'},
                        {'name': 'dense conv GFLOP/s', 'fmt': '.1f'}, {'name': 'efficiency', 'fmt': '.2f'},
                        {'name': 'dense conv layout, precision'}, {'name': 'timed'}],
            'rows': rows}


def provenance(rec):
    """The '- Command: ...' line under a rendered table: command, date, machine, load, code."""
    hw = rec.get('hardware', {})
    isa = hw.get('isa')
    widest = next((name.upper() for name in ('amx_bf16', 'avx512_bf16', 'avx512f', 'avx2') if name in (isa or ())), None)
    parts = [f"Command: `{rec['command']}`", f"measured {rec['created'][:10]}",
             f"{hw.get('cpu', '?')}" + (f' ({widest})' if widest else '') + f", {hw.get('cores', '?')} cores"]
    if hw.get('load_avg'):
        parts.append('load avg (1/5/15 min) when recorded ' + '/'.join(f'{x:.1f}' for x in hw['load_avg']))
    if rec.get('framework') not in (None, 'none'):
        parts.append(f"{rec['framework']} {rec.get('framework_version', '')}".strip())
    train = rec.get('train') or {}
    if 'seconds' in train:
        parts.append(f"trained {train['seconds']:.0f} s")
    for key, label in (('images_per_sec', 'train images/s'), ('patches_per_sec', 'train patches/s')):
        if key in train:
            parts.append(f'{train[key]:.1f} {label}')
    speed = rec.get('speed') or {}
    if 'infer_ms_per_image' in speed:
        parts.append(f"inference {speed['infer_ms_per_image']:.1f} ms/image")
    if hw.get('omp_wait_policy'):
        parts.append(f"OMP_WAIT_POLICY={hw['omp_wait_policy']}")
    trial = (rec.get('config') or {}).get('trial')
    if trial:
        parts.append('a TRIAL, not the preset: ' + ', '.join(f'{k} {v}' for k, v in trial.items()))
    commit = (rec.get('git_commit') or '')[:10]
    if commit:
        parts.append(f'code {commit}')
    return '- ' + '; '.join(parts) + '.'


def replace_between_markers(text, block, where='README', markers=(BEGIN_MARK, END_MARK)):
    """Replace what stands between the results markers (or the given pair) in `text` with `block`."""
    begin, end_mark = markers
    start, end = text.find(begin), text.find(end_mark)
    if start < 0 or end < start:
        raise ValueError(f'{where} has no {begin} ... {end_mark} block to regenerate')
    return text[:start + len(begin)] + '\n' + block.rstrip('\n') + '\n' + text[end:]


def update_block(path, block, markers=(BEGIN_MARK, END_MARK)):
    """Regenerate the block between `markers` of a document (atomically); returns its new text."""
    path = Path(path)
    text = path.read_text(encoding='utf-8')
    new = replace_between_markers(text, block, where=str(path), markers=markers)
    if new != text:
        atomic_write_text(path, new)
    return new


def update_readme(readme_path, records):
    """Regenerate the results block of a README from result records (atomically)."""
    return update_block(readme_path, render_results_table(records))


def render_record(record):
    """:func:`render_results_table` of one record (the registry's default renderer)."""
    return render_results_table([record])
