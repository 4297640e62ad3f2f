"""The bench's presets are valid options, its trials reach both trainings, and its tables render from a record."""
from common import bench as harness
from common import records


def test_bench_presets_are_valid_options(lptn, tmp_path):
    for name in lptn.bench.TRAININGS:
        cfg = lptn.bench.preset_of(lptn.bench.BENCH, name)
        args, opt = lptn.train.parse_options(['-opt', str(lptn.bench.TRAIN_YML / cfg['yml']), '--root', str(tmp_path),
                                              '--force_yml', *lptn.bench.bench_overrides(cfg, name, cfg['iters'])])
        assert opt['train']['mode'] == name.split('_')[0] and opt['train']['total_iter'] == cfg['iters']
        assert opt['manual_seed'] == cfg['seed']
        assert opt['datasets']['train']['batch_size_per_gpu'] == cfg['batch']
    assert lptn.bench.preset_of(lptn.bench.BENCH, 'unpaired_seed2')['seed'] != lptn.bench.BENCH['unpaired']['seed']


def test_max_steps_and_seed_set_both_trainings(lptn):
    preset, _ = harness.apply_trial(lptn.bench.BENCH, 3, 4, ['paired.lr=1e-3'], ('unpaired.iters', 'paired.iters'),
                                    ('unpaired.seed', 'paired.seed'))
    assert [preset[k]['iters'] for k in ('unpaired', 'paired')] == [3, 3]
    assert [preset[k]['seed'] for k in ('unpaired', 'paired')] == [4, 4] and preset['paired']['lr'] == 1e-3


def test_tables_render_from_the_record(lptn):
    rec = records.new_record('lptn', 'pytorch', '2', 'bench', 'make bench MODEL=lptn',
                             config={'bench': lptn.bench.BENCH})
    rec['baseline'] = 'identity'
    proto = {'label': 'RGB, crop=0'}
    for method, psnr in (('identity', 19.0), ('LPTN (unpaired)', 21.5), ('LPTN (unpaired_seed2)', 20.5),
                         ('LPTN (paired)', 26.0)):
        records.add_evaluation(rec, 'FiveK sample test', 1, method, [{'name': 'a', 'psnr': psnr, 'ssim': 0.9}], proto)
    rec['config']['train_threads'] = 2
    rec['train'] = {p: {'seconds': s, 'images_per_sec': 12.5} for p, s in
                    (('unpaired', 880.0), ('unpaired_seed2', 910.0), ('paired', 100.0))}
    speed = dict(num_img=2, times_per_img=3, p90=3.1, dense_conv_gflops=127.0, dense_conv_layout='channels_last')
    rec['speed'] = {'bf16_minus_fp32_psnr': -0.02, 'bf16_not_timed': 'no native bfloat16 here', 'test_speed': {
        '1080p_fp32': dict(speed, size=[1920, 1080], precision='fp32', mean=0.7, gflop_per_image=86.0,
                           achieved_gflops=122.9, efficiency=0.61),
        '4K_fp32': dict(speed, size=[3840, 2160], precision='fp32', mean=3.0, gflop_per_image=344.0,
                        achieved_gflops=114.7, efficiency=0.9)}}
    rec['tables'] = lptn.bench.render_tables(rec)
    text = records.render_results_table([rec])
    assert '| vs identity (dB) |' in text and '| LPTN (unpaired) | FiveK sample test (1 images) | x1 | 21.50 | 0.9000 | +2.50 |' in text
    assert '| LPTN (paired) |' in text and '| +7.00 |' in text
    assert '| 3840x2160 | fp32 | 2 x 3 | 3.000 | 3.100 | 344.0 | 114.7 | 127.0 | channels_last | 0.90 |' in text
    assert '| LPTN (unpaired_seed2) | 1300 | 11 | 8 | 128 | 0.0005 | 910 | 12.5 | +1.50 |' in text
    assert '| unpaired training <= 900 s (each seed) | 880 s, seed 2: 910 s | NOT met |' in text
    assert '| fp32 1920x1080 efficiency >= 0.6 | 0.61 | met |' in text
    assert '| 3840x2160 s / 1920x1080 s <= 4.5 | 4.29 | met |' in text
    assert '| bf16 >= 2.5x fp32 at 1920x1080 | not timed: no native bfloat16 here | - |' in text


def test_speed_rows_time_each_precision_after_its_own_yardstick(lptn, monkeypatch):
    import functools
    import importlib

    import numpy as np
    monkeypatch.setitem(lptn.bench.SPEED, 'sizes', {'tiny': [48, 32]})
    monkeypatch.setattr(lptn.bench.speed, 'dense_conv', functools.partial(lptn.bench.speed.dense_conv, seconds=0.02))
    for key in ('batch', 'height', 'width'):
        monkeypatch.setitem(harness.YARDSTICK, key, 2 if key == 'batch' else 8)
    net_g = importlib.import_module('models.archs').define_network(
        {'type': 'LPTN', 'nrb_low': 1, 'nrb_high': 1, 'num_high': 2}).eval()
    img = np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    monkeypatch.setattr(lptn.bench, 'cpu_has_native_bf16', lambda: True)
    rows, sticks, skipped = lptn.bench.speed_rows(net_g, [('a', img, img)])
    assert set(rows) == set(sticks) == {'tiny_fp32', 'tiny_bf16'} and skipped is None
    for key, row in rows.items():
        assert sticks[key]['precision'] == row['precision'] and sticks[key]['mode'] == 'infer'
        assert row['dense_conv_gflops'] == sticks[key]['gflops'] and row['dense_conv_layout'] == sticks[key]['layout']
        assert row['efficiency'] == row['achieved_gflops'] / row['dense_conv_gflops'] and row['size'] == [48, 32]
    monkeypatch.setattr(lptn.bench, 'cpu_has_native_bf16', lambda: False)
    rows, sticks, skipped = lptn.bench.speed_rows(net_g, [('a', img, img)])
    assert set(rows) == {'tiny_fp32'} and 'no native bfloat16' in skipped     # an emulated bf16 is not timed


def test_profile_tool_times_both_formulations_and_renders_the_readme_block(lptn, tmp_path, monkeypatch):
    """profile_lptn.py on a small size (its record, the rendered block); and the README's block is the
    rendering of the committed record."""
    import importlib
    import json

    from common import paths
    prof = importlib.import_module('profile_lptn')
    rec = json.loads((paths.REPO_ROOT / 'results' / 'lptn_profile.json').read_text())
    text = prof.README.read_text()
    assert records.replace_between_markers(text, prof.render(rec), markers=prof.MARKERS) == text, \
        'pytorch/lptn/README.md: the profile block is stale: python pytorch/lptn/profile_lptn.py --render_only'
    monkeypatch.setattr(prof, 'SIZES', {'64x48': (48, 64)})
    monkeypatch.setattr(prof, 'TRAIN_CROP', 32)
    monkeypatch.setattr(prof, 'TRAIN_BATCH', 2)
    readme = tmp_path / 'README.md'
    readme.write_text(f'x\n{prof.MARKERS[0]}\n{prof.MARKERS[1]}\n')
    assert prof.main(['--out', str(tmp_path / 'p.json'), '--repeats', '1', '--train_iters', '1',
                      '--readme', str(readme)]) == 0
    out = json.loads((tmp_path / 'p.json').read_text())
    assert out['inference']['64x48']['max_abs_diff'] < 1e-5               # the two formulations agree
    assert set(out['training']) == {'before (reference formulation, 1 thread)', 'after, 1 thread',
                                    f"after, {out['config']['threads']} threads"}
    assert '| 64x48 | 64-channel 3x3 convolutions (trunks) |' in readme.read_text()
    for side in ('before', 'after'):             # the fused oneDNN calls of "after" are counted as convolutions
        assert out['inference']['64x48']['ops_ms'][side]['64-channel 3x3 convolutions (trunks)'] > 0, side
