"""Data-parallel scaling on this machine: training images/s of 1 and 2 processes, measured in one run.

RDN (PyTorch) runs train.py alone and under ``torchrun --nproc-per-node=2`` (gloo); SRCNN (MindSpore)
runs train.py alone and under msrun (``scripts/run_distribute_train_cpu.sh 2``); RCAN and BSRN
(TensorFlow) run main.py / train.py alone and in a parameter-server cluster of 1 ps + 2 workers
(``tensorflow/tfzoo/launch.py``), where the weights exist once, on the parameter server. All keep the
per-rank batch, so 2 processes train a global batch twice as large; each run trains a fixed number of steps
from a fixed seed on the sample data and reports the throughput it measured itself after its first
step (``ranks.json``: ``images_per_sec``, of the global batch), with 1 thread per process
(``OMP_NUM_THREADS=1``; TF ``--intra_op_threads=1``). The record also holds, per run, whether the
replicas ended equal. The runs get the benches' OpenMP policy (common.bench.thread_policy_env) and no
PYTHONPATH: common, tfzoo and torchzoo are installed packages. ``python -m tools.bench --model scaling``
runs this and renders the table of docs/scaling.md from the record (``--render_only``: the table alone).

On a 2-core machine this is a correctness check of the parallel path, not a speed-up: the two
processes share the cores that one process could already use, and pay for the all-reduce.

    flock /tmp/srzoo-bench.lock python -m tools.bench --model scaling
    python -m tools.bench_scaling --out results/scaling_bench.json [--models rdn,srcnn]   # the record alone
"""
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import paths, records
from common.bench import thread_policy_env
from common.cli import FlagParser, run_cli
from common.sample_data import ensure_sample_data

BEGIN, END = '<!-- scaling:begin -->', '<!-- scaling:end -->'
RDN_DIR = paths.REPO_ROOT / 'pytorch' / 'rdn'
SRCNN_DIR = paths.REPO_ROOT / 'mindspore' / 'srcnn'
TF_DIR = paths.REPO_ROOT / 'tensorflow'
TF_LAUNCH = TF_DIR / 'tfzoo' / 'launch.py'
PRESETS = {
    'rdn': dict(batch=4, steps=24, patch=48),
    'srcnn': dict(batch=16, steps=60, patch=33),
    'rcan': dict(batch=8, steps=40, patch=32),
    'bsrn': dict(batch=8, steps=40, patch=24),
}


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _env():
    return dict(thread_policy_env(), OMP_NUM_THREADS='1', PYTHON=sys.executable,
                PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


def _run(cmd, out):
    begin = time.time()
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f'{shlex.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n'
                           f'{proc.stderr[-2000:]}')
    rec = json.loads((out / 'ranks.json').read_text())
    if rec.get('weights') == 'parameter servers':      # TensorFlow: one copy of the weights, no replicas
        equal = None
    else:
        equal = len({r['weights_sha256'] for r in rec['ranks']}) == 1 if 'weights_sha256' in rec['ranks'][0] else None
    return {'processes': rec['world_size'], 'batch_per_rank': rec['batch_per_rank'],
            'global_batch': rec['global_batch'], 'steps': rec['steps'], 'images_per_sec': rec['images_per_sec'],
            'replicas_equal': equal, 'wall_seconds': round(time.time() - begin, 1)}


def bench_rdn(work, procs):
    p = PRESETS['rdn']
    out = work / f'rdn_{procs}p'
    flags = [f'--datapath={paths.SAMPLE_DATA_DIR / "DIV2K"}', '--preset=bench', '--upscale_factor=4',
             f'--batchSize={p["batch"]}', f'--patch_size={p["patch"]}', '--dataset_enlarge_ratio=8', '--threads=0',
             '--tensorboard=False', '--device=cpu', '--amp=fp32', f'--max_steps={p["steps"]}',
             '--save_checkpoint_steps=0', '--seed=1', '--record_ranks', f'--output_path={out}']
    launcher = [sys.executable] if procs == 1 else [sys.executable, '-m', 'torch.distributed.run',
                                                    f'--nproc-per-node={procs}', '--master-addr=127.0.0.1',
                                                    f'--master-port={_free_port()}']
    return _run(launcher + [str(RDN_DIR / 'train.py'), *flags], out)


def _srcnn_data(work):
    """A mindrecord of the sample DIV2K photos (x2, 33x33 patches, stride 33)."""
    out = work / 'srcnn_mindrecord'
    if not out.is_dir():
        code = ('import sys; from pathlib import Path; from src.create_dataset import build_mindrecord; '
                'build_mindrecord(Path(sys.argv[1]), Path(sys.argv[2]), scale=2, patch_size=33, stride=33, '
                'progress=False)')              # run in the model folder: `python -c` puts it on sys.path
        subprocess.run([sys.executable, '-c', code, str(paths.SAMPLE_DATA_DIR / 'DIV2K' / 'DIV2K_train_HR'),
                        str(out)], cwd=SRCNN_DIR, env=_env(), check=True, capture_output=True, timeout=600)
    return out


def bench_srcnn(work, procs):
    p = PRESETS['srcnn']
    data = _srcnn_data(work)
    out = work / f'srcnn_{procs}p'
    flags = [f'--batch_size={p["batch"]}', f'--max_steps={p["steps"]}', '--epoch_size=1000', '--save_checkpoint=False',
             '--num_parallel_workers=1', '--record_ranks=True', '--seed=1']
    if procs == 1:
        cmd = [sys.executable, str(SRCNN_DIR / 'train.py'), '--device_target=CPU', f'--data_path={data}',
               f'--output_path={out}', *flags]
    else:
        cmd = ['env', f'MASTER_PORT={_free_port()}', 'bash', str(SRCNN_DIR / 'scripts' / 'run_distribute_train_cpu.sh'),
               str(procs), str(data), str(out), *flags]
    return _run(cmd, out)


def _tf(work, procs, name, script, flags, folder_flag):
    """One TensorFlow training, alone or in a launch.py cluster of 1 ps + ``procs`` workers."""
    out = work / f'{name}_{procs}p'
    train = [sys.executable, str(script), *flags, f'{folder_flag}={out}', '--record_ranks=True',
             '--intra_op_threads=1', '--inter_op_threads=1', '--seed=1']
    if procs == 1:
        return _run(train, out)
    with socket.socket() as probe:                   # procs + 1 consecutive ports from a free one
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    return _run([sys.executable, str(TF_LAUNCH), f'--num_workers={procs}', f'--port={port}',
                 f'--log_dir={out}_logs', '--', *train], out)


def bench_rcan(work, procs):
    p = PRESETS['rcan']
    data = paths.SAMPLE_DATA_DIR / 'DIV2K'
    flags = ['--mode=train', '--scale=2', f'--train_GT_path={data / "DIV2K_train_HR"}',
             f'--train_LR_path={data / "DIV2K_train_LR_bicubic" / "X2"}', '--n_feats=32', '--n_RG=3', '--n_RCAB=3',
             f'--patch_size={p["patch"]}', f'--batch_size={p["batch"]}', f'--max_step={p["steps"]}',
             f'--model_save_freq={p["steps"]}', '--dataset_enlarge_ratio=8', f'--log_dir={work / f"rcan_{procs}p_tb"}']
    return _tf(work, procs, 'rcan', TF_DIR / 'rcan' / 'main.py', flags, '--model_path')


def bench_bsrn(work, procs):
    p = PRESETS['bsrn']
    data = paths.SAMPLE_DATA_DIR / 'DIV2K'
    flags = ['--dataloader=div2k_loader', f'--data_input_path={data / "DIV2K_train_LR_bicubic"}',
             f'--data_truth_path={data / "DIV2K_train_HR"}', '--scales=2,3,4', '--bsrn_conv_features=24',
             '--bsrn_state_features=24', '--bsrn_recursions=4', '--bsrn_recursion_frequency=2',
             f'--input_patch_size={p["patch"]}', f'--batch_size={p["batch"]}', f'--max_steps={p["steps"]}',
             f'--save_freq={p["steps"]}', '--log_freq=1000', '--summary_freq=1000', '--sleep_ratio=0',
             '--data_cached=True', '--chip=cpu', '--bsrn_clip_norm=5']
    return _tf(work, procs, 'bsrn', TF_DIR / 'bsrn' / 'train.py', flags, '--train_path')


BENCHES = {'rdn': ('pytorch', bench_rdn), 'srcnn': ('mindspore', bench_srcnn), 'rcan': ('tensorflow', bench_rcan),
           'bsrn': ('tensorflow', bench_bsrn)}


def render(record):
    """The markdown table of a scaling record (what docs/scaling.md shows between its markers)."""
    lines = ['| Model (framework) | Processes | Per-rank batch | Global batch | Steps | Images/s | vs 1 process '
             '| Replicas equal |', '|---|---|---|---|---|---|---|---|']
    for model, runs in record['speed'].items():
        base = runs[0]['images_per_sec']
        for run in runs:
            ratio = run['images_per_sec'] / base if base else None
            lines.append(f"| {model} ({BENCHES[model][0]}) | {run['processes']} | {run['batch_per_rank']} | "
                         f"{run['global_batch']} | {run['steps']} | {run['images_per_sec']:.1f} | "
                         f"{'-' if ratio is None else f'{ratio:.2f}x'} | {_equal(run)} |")
    hw = record['hardware']
    lines.append('')
    lines.append(f"Measured {record['created']} at commit {record['git_commit'] or '?'} on {hw.get('cpu', '?')} "
                 f"({hw.get('cores', '?')} cores, load average {hw.get('load_avg', '?')} when it started), 1 thread "
                 f"per process, by `{record['command']}`; record `{record['record']}`.")
    return '\n'.join(lines) + '\n'


def _equal(run):
    if run['replicas_equal'] is None:
        return 'one copy (ps)' if run['processes'] > 1 else '-'
    return 'yes' if run['replicas_equal'] else 'NO'


def main(argv=None):
    p = FlagParser(description=__doc__.split('\n\n')[0], allow_abbrev=False)
    p.add_argument('--out', default='results/scaling_bench.json', help='the record to write (JSON). '
                   'Default: %(default)s')
    p.add_argument('--models', default='rdn,srcnn,rcan,bsrn', help='comma-separated: rdn, srcnn, rcan, bsrn')
    args = p.parse_args(argv)
    models = [m for m in args.models.split(',') if m]
    unknown = sorted(set(models) - set(BENCHES))
    if unknown:
        p.error(f'--models: unknown {", ".join(unknown)} (choose from {", ".join(BENCHES)})')
    ensure_sample_data(paths.SAMPLE_DATA_DIR)
    import mindspore
    import tensorflow
    import torch
    command = 'python -m tools.bench_scaling ' + ' '.join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    record = records.new_record('scaling', 'none', f'torch {torch.__version__}, mindspore {mindspore.__version__}, '
                                f'tensorflow {tensorflow.__version__}',
                                'bench', command.strip(), config={m: PRESETS[m] for m in models})
    with tempfile.TemporaryDirectory(prefix='bench_scaling_') as tmp:
        for model in models:
            record['speed'][model] = []
            for procs in (1, 2):
                run = BENCHES[model][1](Path(tmp), procs)
                print(f'{model}: {procs} process(es): {run["images_per_sec"]:.2f} images/s (global batch '
                      f'{run["global_batch"]}, replicas equal: {run["replicas_equal"]})', flush=True)
                record['speed'][model].append(run)
    record['record'] = records.portable_path(str(Path(args.out).resolve()))
    records.save_record(record, args.out)
    return 0


if __name__ == '__main__':
    run_cli(main)
