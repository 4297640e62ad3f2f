"""LPTN bench: two trainings on the embedded FiveK-layout set, test_speed at 1080p and 4K, a result record.

Steps: ensure the sample data (``common.sample_data``: 6 training photos, 3 held-out test photos, each
source a fixed tone/colour degradation of its target); train ``BENCH['unpaired']`` (the reference's
unpaired recipe: WGAN-GP, 1000 x MSE to the input; lr, crop and batch of the bench) and
``BENCH['paired']`` (this repository's paired mode) for a fixed number of iterations from a fixed seed;
score each on the test photos (PSNR/SSIM of output vs target, RGB, crop 0: the reference's test
protocol) beside the identity (input vs target) of the same run; compare the unpaired generator in bf16
autocast with fp32 on the same photos; time it by test_speed's protocol at 1920x1080 and 3840x2160 in
fp32 and bf16, with the FLOPs per image divided by a dense convolution's throughput measured in the same
process just before (the efficiency); write the record (``common.records``) and the ModelZoo summary.

Usage:
    python pytorch/lptn/bench.py --out results/lptn_bench.json
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parents[1])]

import os  # noqa: E402

# Idle OpenMP threads sleep instead of spinning: on a shared 2-core machine a spinning torch thread
# pool is several times slower (measured here: 7.9 s against 1.2 s per iteration at load 4).
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import copy  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import train  # noqa: E402
from common import paths, records  # noqa: E402
from common.metrics import evaluate_pairs, protocol  # noqa: E402
from common.sample_data import ensure_sample_data  # noqa: E402
from common.timing import calls_per_second  # noqa: E402
from data import img2tensor, tensor2img  # noqa: E402
from models.lptn_test_model import LPTNTestModel  # noqa: E402
from test_speed import summarize, time_model  # noqa: E402
from torchzoo.cli import Parser, run_cli  # noqa: E402
from torchzoo.device import cpu_has_native_bf16  # noqa: E402

COMMAND = 'make bench MODEL=lptn'
TRAIN_YML = HERE / 'options' / 'train' / 'LPTN'
FIVEK = paths.SAMPLE_DATA_DIR / 'FiveK' / 'FiveK_480p'
# The bench's trainings: iteration counts from a seed, so a re-run on any CPU gives the same numbers.
BENCH = {
    'unpaired': dict(yml='train_FiveK.yml', iters=1200, lr=5e-4, gt_size=128, batch=8, seed=10, val_freq=100),
    'paired': dict(yml='train_FiveK_paired.yml', iters=250, lr=5e-4, gt_size=128, batch=8, seed=10, val_freq=50),
}
TRAIN_THREADS = 1        # one torch thread trains fastest on the shared machine (0.7 s vs 1.2 s an iteration)
SPEED = {'sizes': {'1080p': [1920, 1080], '4K': [3840, 2160]},
         'fp32': dict(num_img=2, times_per_img=3), 'bf16': dict(num_img=1, times_per_img=2)}
PROTOCOL = dict(crop_border=0, test_y_channel=False)         # the reference's test_FiveK.yml


def bench_overrides(preset, work, iters):
    """``--force_yml`` values of a bench training."""
    p = BENCH[preset]
    val_freq = p['val_freq'] if p['val_freq'] < iters else iters
    return [f"name=bench_{preset}", 'num_gpu=0', f"manual_seed={p['seed']}",
            'datasets.train.io_backend.type=disk', 'datasets.val.io_backend.type=disk',
            f"datasets.train.dataroot_gt={FIVEK / 'train' / 'B'}", f"datasets.train.dataroot_lq={FIVEK / 'train' / 'A'}",
            f"datasets.val.dataroot_gt={FIVEK / 'test' / 'B'}", f"datasets.val.dataroot_lq={FIVEK / 'test' / 'A'}",
            f"datasets.train.gt_size={p['gt_size']}", f"datasets.train.batch_size_per_gpu={p['batch']}",
            'datasets.train.num_worker_per_gpu=0', 'datasets.train.pin_memory=false',
            f"train.optim_g.lr={p['lr']}", f"train.optim_d.lr={p['lr']}", f'train.total_iter={iters}',
            f'val.val_freq={val_freq}', 'val.save_img=false', f'logger.print_freq={min(50, iters)}',
            f'logger.save_checkpoint_freq={max(iters // 2, 1)}', 'logger.use_tb_logger=false']


def run_training(preset, work, iters):
    argv = ['-opt', str(TRAIN_YML / BENCH[preset]['yml']), '--root', str(work), '--amp=fp32',
            '--force_yml', *bench_overrides(preset, work, iters)]
    args, opt = train.parse_options(argv)
    return train.run(args, opt), opt


def test_pairs():
    """``(name, source, target)`` BGR uint8 test photos."""
    from common.imgio import read_image
    out = []
    for path in sorted((FIVEK / 'test' / 'A').glob('*.jpg')):
        out.append((path.stem, read_image(path, bits=8), read_image(FIVEK / 'test' / 'B' / path.name, bits=8)))
    return out


def enhance(net_g, img, autocast=None):
    import contextlib
    with torch.no_grad(), autocast or contextlib.nullcontext():
        return tensor2img(net_g(img2tensor(img)[None]).float())


def evaluate(net_g, pairs, autocast=None):
    return evaluate_pairs([(n, enhance(net_g, a, autocast), b) for n, a, b in pairs], **PROTOCOL)


def mean_psnr(rows):
    return float(np.mean([r['psnr'] for r in rows]))


def flops_per_image(net_g, width, height):
    """FLOPs of one forward pass (convolutions, the pyramid's included), counted on the meta device."""
    meta = copy.deepcopy(net_g).to('meta')
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        meta(torch.empty(1, 3, height, width, device='meta'))
    return counter.get_total_flops()


def dense_conv_gflops(seconds=3.0):
    """Inference GFLOP/s of one dense 64->64 3x3 convolution on [1, 64, 256, 256] (fp32): the yardstick."""
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).eval()
    x = torch.rand(1, 64, 256, 256)
    flops = 2 * 64 * 64 * 9 * 256 * 256

    def once():
        with torch.no_grad():
            conv(x)
    return flops * calls_per_second(once, seconds=seconds, min_calls=5) / 1e9


def speed(net_g, pairs):
    """test_speed's protocol at each SPEED size, fp32 and bf16: rows for the record."""
    model = LPTNTestModel({'name': 'bench'}, torch.device('cpu'), net_g=net_g)
    rows = {}
    for label, (w, h) in SPEED['sizes'].items():
        import cv2
        flops = flops_per_image(net_g, w, h)
        for mode in ('fp32', 'bf16'):
            cfg = SPEED[mode]
            images = [(n, cv2.resize(a, (w, h), interpolation=cv2.INTER_CUBIC)) for n, a, _ in pairs[:cfg['num_img']]]
            dense = dense_conv_gflops() if mode == 'fp32' else None
            s = summarize(time_model(model, images, cfg['times_per_img'], mode))
            achieved = flops / s['mean'] / 1e9
            rows[f'{label}_{mode}'] = dict(size=[w, h], precision=mode, **cfg, **s, gflop_per_image=flops / 1e9,
                                           achieved_gflops=achieved, dense_conv_gflops=dense,
                                           efficiency=achieved / dense if dense else None)
            print(f"== test_speed {label} {mode}: {s['mean']:.3f} s/image ({s['passes']} passes), "
                  f"{achieved:.1f} GFLOP/s" + (f' = {achieved / dense:.2f} of a dense conv ({dense:.1f})' if dense else ''),
                  flush=True)
        if rows[f'{label}_fp32']['dense_conv_gflops']:
            rows[f'{label}_bf16']['efficiency'] = rows[f'{label}_bf16']['achieved_gflops'] / \
                rows[f'{label}_fp32']['dense_conv_gflops']
    return rows


def run_bench(out, iters=None, work=None, threads=TRAIN_THREADS, speed_threads=0, skip_speed=False):
    e2e = time.time()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else (os.cpu_count() or 1)
    speed_threads = speed_threads or cores
    torch.set_num_threads(threads)
    work = Path(work or paths.REPO_ROOT / 'outputs' / 'lptn_bench')
    shutil.rmtree(work, ignore_errors=True)
    ensure_sample_data(paths.SAMPLE_DATA_DIR)
    pairs = test_pairs()
    iters = iters or {k: v['iters'] for k, v in BENCH.items()}
    proto = protocol(**PROTOCOL)
    record = records.new_record('lptn', 'pytorch', torch.__version__, 'bench', COMMAND,
                                config={'bench': BENCH, 'iters': iters, 'speed': SPEED, 'train_threads': threads,
                                        'speed_threads': speed_threads, 'metric': PROTOCOL,
                                        'omp_wait_policy': os.environ.get('OMP_WAIT_POLICY')})
    record['baseline'] = 'identity'
    dataset = 'FiveK sample test'
    identity = evaluate_pairs([(n, a, b) for n, a, b in pairs], **PROTOCOL)
    records.add_evaluation(record, dataset, 1, 'identity', identity, proto)
    record['train'] = {}
    trained = {}
    for preset in ('unpaired', 'paired'):
        load_before = os.getloadavg()
        summary, _ = run_training(preset, work, iters[preset])
        net_g = summary['model'].net_g.eval()
        rows = evaluate(net_g, pairs)
        label = f'LPTN ({preset})'
        records.add_evaluation(record, dataset, 1, label, rows, proto)
        record['train'][preset] = {'seconds': summary['seconds'], 'iters': summary['iters_run'],
                                   'seed': BENCH[preset]['seed'], 'images_per_sec': summary['images_per_sec'],
                                   'load_avg_before': [round(x, 2) for x in load_before],
                                   'load_avg_after': [round(x, 2) for x in os.getloadavg()],
                                   'validation': summary['val'], 'final_log': summary['log'][-1] if summary['log'] else None}
        trained[preset] = net_g
        print(f"== {label}: {mean_psnr(rows):.4f} dB vs identity {mean_psnr(identity):.4f} "
              f"({mean_psnr(rows) - mean_psnr(identity):+.4f}) after {summary['iters_run']} iterations in "
              f"{summary['seconds']:.0f} s [{proto['label']}]", flush=True)
    net_g = trained['unpaired']
    bf16 = evaluate(net_g, pairs, torch.autocast('cpu', dtype=torch.bfloat16))
    fp32 = next(e for e in record['evaluations'] if e['method'] == 'LPTN (unpaired)')
    record['speed'] = {'bf16_psnr': mean_psnr(bf16), 'bf16_minus_fp32_psnr': mean_psnr(bf16) - fp32['mean']['psnr'],
                       'cpu_native_bf16': cpu_has_native_bf16()}
    if not skip_speed:
        torch.set_num_threads(speed_threads)
        record['speed']['load_avg_before'] = [round(x, 2) for x in os.getloadavg()]
        record['speed']['test_speed'] = speed(net_g, pairs)
    record['tables'] = render_tables(record)
    record['train']['e2e_sec'] = time.time() - e2e
    records.save_record(record, out)
    unpaired = record['train']['unpaired']
    records.modelzoo_summary(work, 'lptn', BENCH['unpaired']['batch'], unpaired['images_per_sec'] or 0.0,
                             BENCH['unpaired']['batch'] / (unpaired['images_per_sec'] or 1.0), time.time() - e2e,
                             train_accuracy=fp32['mean']['psnr'])
    print(f'record written to {out}')
    return record


def render_tables(record):
    """The record's training and speed tables (rendered into the README by tools/bench)."""
    gains = {e['method']: e['mean']['psnr'] for e in record['evaluations']}
    rows = []
    for preset in ('unpaired', 'paired'):
        t = record['train'][preset]
        b = record['config']['bench'][preset]
        rows.append([f'LPTN ({preset})', b['iters'], b['batch'], b['gt_size'], b['lr'], t['seconds'],
                     gains[f'LPTN ({preset})'] - gains['identity']])
    tables = [{'title': 'Bench trainings (fixed iterations from a fixed seed):',
               'columns': [{'name': 'training'}, {'name': 'iterations'}, {'name': 'batch'}, {'name': 'crop'},
                           {'name': 'lr (G and D)', 'fmt': 'g'}, {'name': 'training seconds', 'fmt': '.0f'},
                           {'name': 'PSNR vs identity (dB)', 'fmt': '+.2f'}],
               'rows': rows}]
    speed = record['speed'].get('test_speed')
    if speed:
        tables.append({'title': 'test_speed (the reference protocol: warm-up excluded, mean seconds per image) on this CPU:',
                       'columns': [{'name': 'size'}, {'name': 'precision'}, {'name': 'images x passes'},
                                   {'name': 's/image (mean)', 'fmt': '.3f'}, {'name': 'p90', 'fmt': '.3f'},
                                   {'name': 'GFLOP/image', 'fmt': '.1f'}, {'name': 'GFLOP/s', 'fmt': '.1f'},
                                   {'name': 'dense conv GFLOP/s', 'fmt': '.1f'},
                                   {'name': 'efficiency', 'fmt': '.2f'}],
                       'rows': [[f"{r['size'][0]}x{r['size'][1]}", r['precision'], f"{r['num_img']} x {r['times_per_img']}",
                                 r['mean'], r['p90'], r['gflop_per_image'], r['achieved_gflops'], r['dense_conv_gflops'],
                                 r['efficiency']] for r in speed.values()]})
    return tables


def main(argv=None):
    p = Parser(description=__doc__.split('\n\n')[0], prog='bench.py')
    p.add_argument('--out', required=True, help='result record (JSON), e.g. results/lptn_bench.json')
    p.add_argument('--unpaired_iters', type=int, default=BENCH['unpaired']['iters'],
                   help='iterations of the unpaired training (the record is comparable only at the default)')
    p.add_argument('--paired_iters', type=int, default=BENCH['paired']['iters'], help='iterations of the paired training')
    p.add_argument('--threads', type=int, default=TRAIN_THREADS, help='torch threads of the trainings')
    p.add_argument('--speed_threads', type=int, default=0, help='torch threads of test_speed (0: the cores here)')
    p.add_argument('--skip_speed', action='store_true', help='leave out test_speed (calibration runs)')
    p.add_argument('--work_dir', default=None, help='scratch folder (default: outputs/lptn_bench)')
    args = p.parse_args(argv)
    if min(args.unpaired_iters, args.paired_iters) < 1:
        raise ValueError('--unpaired_iters and --paired_iters must be >= 1')
    run_bench(args.out, {'unpaired': args.unpaired_iters, 'paired': args.paired_iters}, args.work_dir, args.threads,
              args.speed_threads, args.skip_speed)


if __name__ == '__main__':
    run_cli(main)
