"""The bench's presets are valid options, and its tables render from a record."""
from common import records


def test_bench_presets_are_valid_options(lptn, tmp_path):
    for preset, cfg in lptn.bench.BENCH.items():
        args, opt = lptn.train.parse_options(['-opt', str(lptn.bench.TRAIN_YML / cfg['yml']), '--root', str(tmp_path),
                                              '--force_yml', *lptn.bench.bench_overrides(preset, tmp_path, cfg['iters'])])
        assert opt['train']['mode'] == preset and opt['train']['total_iter'] == cfg['iters']
        assert opt['datasets']['train']['batch_size_per_gpu'] == cfg['batch']


def test_tables_render_from_the_record(lptn):
    rec = records.new_record('lptn', 'pytorch', '2', 'bench', 'make bench MODEL=lptn',
                             config={'bench': lptn.bench.BENCH})
    rec['baseline'] = 'identity'
    proto = {'label': 'RGB, crop=0'}
    for method, psnr in (('identity', 19.0), ('LPTN (unpaired)', 21.5), ('LPTN (paired)', 26.0)):
        records.add_evaluation(rec, 'FiveK sample test', 1, method, [{'name': 'a', 'psnr': psnr, 'ssim': 0.9}], proto)
    rec['train'] = {p: {'seconds': 100.0} for p in ('unpaired', 'paired')}
    rec['speed'] = {'test_speed': {'4K_fp32': dict(size=[3840, 2160], precision='fp32', num_img=2, times_per_img=3,
                                                   mean=3.0, p90=3.1, gflop_per_image=344.0, achieved_gflops=114.7,
                                                   dense_conv_gflops=127.0, efficiency=0.9)}}
    rec['tables'] = lptn.bench.render_tables(rec)
    text = records.render_results_table([rec])
    assert '| vs identity (dB) |' in text and '| LPTN (unpaired) | FiveK sample test (1 images) | x1 | 21.50 | 0.9000 | +2.50 |' in text
    assert '| LPTN (paired) |' in text and '| +7.00 |' in text
    assert '| 3840x2160 | fp32 | 2 x 3 | 3.000 | 3.100 | 344.0 | 114.7 | 127.0 | 0.90 |' in text
