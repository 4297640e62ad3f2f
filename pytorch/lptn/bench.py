"""LPTN bench: two trainings on the embedded FiveK-layout set, test_speed at 1080p and 4K, a result record.

The preset (``BENCH``) on the harness of every bench (common.bench): train ``unpaired`` (the reference's
recipe: WGAN-GP, 1000 x MSE to the input; lr, crop and batch of the bench) and ``paired`` (this
repository's paired mode, after the training yardstick: the training efficiency) for fixed iteration
counts from a fixed seed on the sample data (6 training photos, 3 held-out test photos, each source a
fixed tone/colour degradation of its target); score each on the test photos (RGB, crop 0: the
reference's test protocol) beside the identity (input vs target) of the same run, with crops; compare
the unpaired generator in bf16 (its trunks in bfloat16 weights, test.py --amp=bf16) with fp32; time
it by test_speed's protocol at 1920x1080 and 3840x2160 in fp32 and, where the CPU computes bfloat16
natively, bf16, each after the inference yardstick of its precision (4K fp32: the inference
efficiency); write the record, the goals of issue 19 and the ModelZoo summary. The unpaired recipe
trains twice, from two seeds.

Usage:
    python pytorch/lptn/bench.py --out results/lptn_bench.json [--max_steps N] [--set paired.iters=50]
"""
from common import bench as harness        # first: the OpenMP thread policy, before torch loads

import os
from pathlib import Path

import cv2
import numpy as np
import torch

import train
from common import paths, records
from common.imgio import read_image
from common.metrics import evaluate_pairs, protocol
from common.visual import write_comparison
from data import img2tensor, tensor2img
from models.lptn_test_model import LPTNTestModel
from test_speed import summarize, time_model
from torchzoo import speed
from torchzoo.device import cpu_has_native_bf16

TRAIN_YML = Path(__file__).resolve().parent / 'options' / 'train' / 'LPTN'
FIVEK = paths.SAMPLE_DATA_DIR / 'FiveK' / 'FiveK_480p'
DATASET = 'FiveK sample test'
# The bench's trainings: iteration counts from a seed, so a re-run on any CPU gives the same numbers.
# 'unpaired' is trained twice, from 'seed' and from 'seed2' (validation moves by about 0.5 dB from one
# iteration to the next: one seed is not a result). Training threads by measurement (a 2-core Xeon,
# batch 8, crop 128: 1.13 s an iteration on 1 thread, 0.63 s on 2); 0 = every core.
BENCH = {
    'unpaired': dict(yml='train_FiveK.yml', iters=1300, lr=5e-4, gt_size=128, batch=8, seed=10, seed2=11, val_freq=100),
    'paired': dict(yml='train_FiveK_paired.yml', iters=250, lr=5e-4, gt_size=128, batch=8, seed=10, val_freq=50),
    'train_threads': 0, 'speed_threads': 0,
}
TRAININGS = ('unpaired', 'unpaired_seed2', 'paired')
SPEED = {'sizes': {'1080p': [1920, 1080], '4K': [3840, 2160]},
         'fp32': dict(num_img=2, times_per_img=3), 'bf16': dict(num_img=1, times_per_img=2)}
PROTOCOL = dict(crop_border=0, test_y_channel=False)         # the reference's test_FiveK.yml
GOALS = {(DATASET, 1, 'LPTN (unpaired)'): 2.0, (DATASET, 1, 'LPTN (unpaired_seed2)'): 1.8,
         (DATASET, 1, 'LPTN (paired)'): 6.0}                                            # dB over the identity
# Issue 19's speed goals (ratios, so that they hold on any CPU).
SPEED_GOALS = {'unpaired_train_seconds': 900, 'paired_train_seconds': 300, 'fp32_1080p_efficiency': 0.6,
               'fp32_4K_efficiency': 0.5, '4K_over_1080p_seconds': 4.5, 'bf16_speedup_1080p': 2.5,
               'bf16_minus_fp32_psnr': -0.1}


def bench_overrides(p, name, iters):
    """``--force_yml`` values of the training ``p`` (a preset entry) named ``bench_<name>``."""
    val_freq = p['val_freq'] if p['val_freq'] < iters else iters
    return [f"name=bench_{name}", 'num_gpu=0', f"manual_seed={p['seed']}",
            'datasets.train.io_backend.type=disk', 'datasets.val.io_backend.type=disk',
            f"datasets.train.dataroot_gt={FIVEK / 'train' / 'B'}", f"datasets.train.dataroot_lq={FIVEK / 'train' / 'A'}",
            f"datasets.val.dataroot_gt={FIVEK / 'test' / 'B'}", f"datasets.val.dataroot_lq={FIVEK / 'test' / 'A'}",
            f"datasets.train.gt_size={p['gt_size']}", f"datasets.train.batch_size_per_gpu={p['batch']}",
            'datasets.train.num_worker_per_gpu=0', 'datasets.train.pin_memory=false',
            f"train.optim_g.lr={p['lr']}", f"train.optim_d.lr={p['lr']}", f'train.total_iter={iters}',
            f'val.val_freq={val_freq}', 'val.save_img=false', f'logger.print_freq={min(50, iters)}',
            f'logger.save_checkpoint_freq={max(iters // 2, 1)}', 'logger.use_tb_logger=false']


def preset_of(p, name):
    """The preset entry of training ``name`` ('unpaired_seed2': 'unpaired' from its seed2)."""
    if name == 'unpaired_seed2':
        return dict(p['unpaired'], seed=p['unpaired']['seed2'])
    return p[name]


def run_training(p, name, work):
    args, opt = train.parse_options(['-opt', str(TRAIN_YML / p['yml']), '--root', str(work), '--amp=fp32',
                                     '--force_yml', *bench_overrides(p, name, p['iters'])])
    return train.run(args, opt)


def test_pairs():
    """``(name, source, target)`` BGR uint8 test photos."""
    return [(path.stem, read_image(path, bits=8), read_image(FIVEK / 'test' / 'B' / path.name, bits=8))
            for path in sorted((FIVEK / 'test' / 'A').glob('*.jpg'))]


def enhance(net_g, img, precision='fp32'):
    """The generator's result for a BGR uint8 image, through LPTNTestModel in ``precision``."""
    model = net_g if isinstance(net_g, LPTNTestModel) else LPTNTestModel({'name': 'bench'}, torch.device('cpu'),
                                                                           net_g=net_g, precision=precision)
    return tensor2img(model.test(img2tensor(img)[None]))


def mean_psnr(rows):
    return float(np.mean([r['psnr'] for r in rows]))


def speed_rows(net_g, pairs):
    """test_speed's protocol at each SPEED size, fp32 and bf16 (bf16 only where the CPU computes it
    natively: an emulated figure is not a speed), each after its precision's yardstick: the record's
    rows, the yardstick of each, and why bf16 was not timed (None when it was)."""
    native = cpu_has_native_bf16()
    modes = ('fp32', 'bf16') if native else ('fp32',)
    models = {mode: LPTNTestModel({'name': 'bench'}, torch.device('cpu'), net_g=net_g, precision=mode) for mode in modes}
    rows, sticks = {}, {}
    for label, (w, h) in SPEED['sizes'].items():
        flops = speed.forward_flops(net_g, (1, 3, h, w))
        for mode in modes:
            cfg = SPEED[mode]
            images = [(n, cv2.resize(a, (w, h), interpolation=cv2.INTER_CUBIC)) for n, a, _ in pairs[:cfg['num_img']]]
            stick = sticks[f'{label}_{mode}'] = speed.dense_conv('infer', mode)
            s = summarize(time_model(models[mode], images, cfg['times_per_img']))
            achieved = flops / s['mean'] / 1e9
            rows[f'{label}_{mode}'] = dict(size=[w, h], precision=mode, **cfg, **s, gflop_per_image=flops / 1e9,
                                           achieved_gflops=achieved, dense_conv_gflops=stick['gflops'],
                                           dense_conv_layout=stick['layout'], efficiency=achieved / stick['gflops'])
            print(f"== test_speed {label} {mode}: {s['mean']:.3f} s/image ({s['passes']} passes), {achieved:.1f} "
                  f"GFLOP/s = {achieved / stick['gflops']:.2f} of the dense conv", flush=True)
    skipped = None if native else ('this CPU has no native bfloat16 (no AMX or AVX512-BF16): emulated bf16 is '
                                   'slower than fp32, so it is not timed and --amp=auto keeps fp32')
    return rows, sticks, skipped


def goal_rows(record):
    """Issue 19's goals against the record: ``[[goal, measured, met], ...]``."""
    train, spd, g = record['train'], record['speed'], SPEED_GOALS
    ts = spd.get('test_speed') or {}
    out = [[f"unpaired training <= {g['unpaired_train_seconds']} s (each seed)",
            f"{train['unpaired']['seconds']:.0f} s, seed 2: {train['unpaired_seed2']['seconds']:.0f} s",
            max(train['unpaired']['seconds'], train['unpaired_seed2']['seconds']) <= g['unpaired_train_seconds']],
           [f"paired training <= {g['paired_train_seconds']} s", f"{train['paired']['seconds']:.0f} s",
            train['paired']['seconds'] <= g['paired_train_seconds']],
           [f"bf16 PSNR >= fp32 {g['bf16_minus_fp32_psnr']:+.1f} dB", f"{spd['bf16_minus_fp32_psnr']:+.3f} dB",
            spd['bf16_minus_fp32_psnr'] >= g['bf16_minus_fp32_psnr']]]
    if ts:
        t1, t4 = ts['1080p_fp32'], ts['4K_fp32']
        out += [[f"fp32 1920x1080 efficiency >= {g['fp32_1080p_efficiency']}", f"{t1['efficiency']:.2f}",
                 t1['efficiency'] >= g['fp32_1080p_efficiency']],
                [f"fp32 3840x2160 efficiency >= {g['fp32_4K_efficiency']}", f"{t4['efficiency']:.2f}",
                 t4['efficiency'] >= g['fp32_4K_efficiency']],
                [f"3840x2160 s / 1920x1080 s <= {g['4K_over_1080p_seconds']}", f"{t4['mean'] / t1['mean']:.2f}",
                 t4['mean'] / t1['mean'] <= g['4K_over_1080p_seconds']]]
        if '1080p_bf16' in ts:
            ratio = t1['mean'] / ts['1080p_bf16']['mean']
            out.append([f"bf16 >= {g['bf16_speedup_1080p']}x fp32 at 1920x1080", f"{ratio:.2f}x",
                        ratio >= g['bf16_speedup_1080p']])
        else:
            out.append([f"bf16 >= {g['bf16_speedup_1080p']}x fp32 at 1920x1080", 'not timed: ' + spd['bf16_not_timed'],
                        None])
    return out


def render_tables(record):
    """The record's training and speed tables (rendered into the README by tools/bench)."""
    gains = {e['method']: e['mean']['psnr'] for e in record['evaluations']}
    rows = []
    for name in TRAININGS:
        t, b = record['train'][name], preset_of(record['config']['bench'], name)
        rows.append([f'LPTN ({name})', b['iters'], b['seed'], b['batch'], b['gt_size'], b['lr'], t['seconds'],
                     t['images_per_sec'], gains[f'LPTN ({name})'] - gains['identity']])
    tables = [{'title': f"Bench trainings (fixed iterations from a fixed seed, {record['config']['train_threads']} "
                        'torch threads):',
               'columns': [{'name': 'training'}, {'name': 'iterations'}, {'name': 'seed'}, {'name': 'batch'},
                           {'name': 'crop'},
                           {'name': 'lr (G and D)', 'fmt': 'g'}, {'name': 'training seconds', 'fmt': '.0f'},
                           {'name': 'images/s', 'fmt': '.1f'}, {'name': 'PSNR vs identity (dB)', 'fmt': '+.2f'}],
               'rows': rows}]
    rows = (record['speed'].get('test_speed') or {}).values()
    if rows:
        tables.append({'title': 'test_speed (the reference protocol: warm-up excluded, mean seconds per image), '
                                'each precision against the yardstick of that precision:',
                       'columns': [{'name': 'size'}, {'name': 'precision'}, {'name': 'images x passes'},
                                   {'name': 's/image (mean)', 'fmt': '.3f'}, {'name': 'p90', 'fmt': '.3f'},
                                   {'name': 'GFLOP/image', 'fmt': '.1f'}, {'name': 'GFLOP/s', 'fmt': '.1f'},
                                   {'name': 'dense conv GFLOP/s', 'fmt': '.1f'}, {'name': 'dense conv layout'},
                                   {'name': 'efficiency', 'fmt': '.2f'}],
                       'rows': [[f"{r['size'][0]}x{r['size'][1]}", r['precision'], f"{r['num_img']} x {r['times_per_img']}",
                                 r['mean'], r['p90'], r['gflop_per_image'], r['achieved_gflops'], r['dense_conv_gflops'],
                                 r.get('dense_conv_layout'), r['efficiency']] for r in rows]})
    if record['speed'].get('bf16_not_timed'):
        tables[-1]['title'] += f" bf16 {record['speed']['bf16_not_timed']}."
    if 'unpaired_seed2' in record['train']:
        tables.append({'title': "The goals of issue 19 (ratios, so that they hold on any CPU):",
                       'columns': [{'name': 'goal'}, {'name': 'measured'}, {'name': 'met'}],
                       'rows': [[g, m, {True: 'met', False: 'NOT met', None: '-'}[ok]] for g, m, ok in goal_rows(record)]})
    return tables


def main(argv=None):
    bench = harness.Bench('lptn', __doc__, BENCH, argv, steps_keys=('unpaired.iters', 'paired.iters'),
                          seed_keys=('unpaired.seed', 'paired.seed'),
                          extra_flags=lambda p: p.add_argument('--skip_speed', action='store_true',
                                                               help='leave out test_speed (calibration runs)'))
    p, work = bench.preset, bench.work
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else (os.cpu_count() or 1)
    speed_threads, train_threads = p['speed_threads'] or cores, p['train_threads'] or cores
    torch.set_num_threads(train_threads)
    pairs, proto = test_pairs(), protocol(**PROTOCOL)
    record = bench.new_record('pytorch', torch.__version__, {
        'bench': {k: p[k] for k in ('unpaired', 'paired')}, 'iters': {k: preset_of(p, k)['iters'] for k in TRAININGS},
        'speed': SPEED, 'train_threads': train_threads, 'speed_threads': speed_threads, 'metric': PROTOCOL}, baseline='identity')
    identity = evaluate_pairs(pairs, **PROTOCOL)
    records.add_evaluation(record, DATASET, 1, 'identity', identity, proto)
    outputs, trained = {}, {}
    for name in TRAININGS:
        load_before = os.getloadavg()
        stick = speed.dense_conv('train') if name == 'paired' else None    # the generator-only training
        summary = run_training(preset_of(p, name), name, work)
        net_g = trained[name] = summary['model'].net_g.eval()
        outputs[name] = [enhance(net_g, a) for _, a, _ in pairs]
        rows = evaluate_pairs([(n, out, b) for (n, _, b), out in zip(pairs, outputs[name])], **PROTOCOL)
        bench.add_scores(DATASET, 1, proto, f'LPTN ({name})', rows, method=f'LPTN ({name})')
        record['train'][name] = {'seconds': summary['seconds'], 'iters': summary['iters_run'],
                                 'seed': preset_of(p, name)['seed'],
                                 'images_per_sec': summary['images_per_sec'],
                                 'load_avg_before': [round(x, 2) for x in load_before],
                                 'load_avg_after': [round(x, 2) for x in os.getloadavg()], 'validation': summary['val'],
                                 'final_log': summary['log'][-1] if summary['log'] else None}
    for (n, a, b), un, pa, i in zip(pairs, outputs['unpaired'], outputs['paired'], identity):
        write_comparison(work / 'compare' / f'{n}.png', [a, un, pa, b], [
            f"input {i['psnr']:.2f} dB", 'LPTN unpaired', 'LPTN paired', 'target'], crop=96, zoom=2)
    flops = speed.forward_flops(trained['paired'], (1, 3, p['paired']['gt_size'], p['paired']['gt_size']))
    train_speed = (harness.train_gflops(flops, record['train']['paired']['images_per_sec']), stick,
                   f"the paired training ({p['paired']['iters']} iterations of batch {p['paired']['batch']}, "
                   f"{train_threads} threads)")
    net_g = trained['unpaired']
    bf16 = mean_psnr(evaluate_pairs([(n, enhance(net_g, a, 'bf16'), b) for n, a, b in pairs], **PROTOCOL))
    fp32 = bench.means[(DATASET, 1, 'LPTN (unpaired)')][0]
    record['speed'].update(bf16_psnr=bf16, bf16_minus_fp32_psnr=bf16 - fp32, cpu_native_bf16=cpu_has_native_bf16())
    infer_speed = None
    if not bench.args.skip_speed:
        torch.set_num_threads(speed_threads)
        record['speed']['load_avg_before'] = [round(x, 2) for x in os.getloadavg()]
        rows, sticks, skipped = speed_rows(net_g, pairs)
        record['speed']['test_speed'] = rows
        if skipped:
            record['speed']['bf16_not_timed'] = skipped
        infer_speed = (rows['4K_fp32']['achieved_gflops'], sticks['4K_fp32'],
                       'test_speed 3840x2160 fp32 (the reference protocol)')
    record['speed'].update(harness.speed_fields(train_speed, infer_speed))
    seed2 = record['train']['unpaired_seed2']
    record['second_seed'] = {'seed': seed2['seed'], 'method': 'LPTN (unpaired_seed2)', 'of': 'LPTN (unpaired)',
                             'train_seconds': seed2['seconds'], 'steps': seed2['iters']}
    record['tables'] = render_tables(record)
    unpaired = record['train']['unpaired']
    return bench.finish('lptn', p['unpaired']['batch'], unpaired['images_per_sec'], accuracy=fp32, goals=GOALS)


if __name__ == '__main__':
    harness.run_cli(main)
