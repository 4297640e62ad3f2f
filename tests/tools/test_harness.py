"""common.bench, the harness of every model bench: flags, work folder, test sets, baseline, yardstick, record."""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from common import bench as harness
from common import paths

PRESET = {'steps': 100, 'seed': 1, 'lr': 1e-3, 'amp': True, 'milestones': (0.75,), 'name': 'x',
          'inner': {'iters': 5, 'seed': 3}}


def test_importing_the_harness_sets_the_passive_thread_policy_unless_the_user_chose():
    code = 'import os, common.bench; print(os.environ["OMP_WAIT_POLICY"])'
    env = {k: v for k, v in harness.thread_policy_env().items() if k != 'OMP_WAIT_POLICY'}
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == 'PASSIVE'
    out = subprocess.run([sys.executable, '-c', code], env=dict(env, OMP_WAIT_POLICY='ACTIVE'), capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == 'ACTIVE'
    assert harness.thread_policy_env({'OMP_WAIT_POLICY': 'ACTIVE'})['OMP_WAIT_POLICY'] == 'ACTIVE'


def test_trials_change_typed_preset_values_and_are_named():
    preset, trial = harness.apply_trial(PRESET, 20, 7, ['lr=5e-4', 'amp=no', 'milestones=0.5,0.9', 'inner.iters=2',
                                                         'name=y'], steps_keys=('steps', 'inner.iters'),
                                        seed_keys=('seed', 'inner.seed'))
    assert preset == {'steps': 20, 'seed': 7, 'lr': 5e-4, 'amp': False, 'milestones': (0.5, 0.9), 'name': 'y',
                      'inner': {'iters': 2, 'seed': 7}}
    assert trial == {'max_steps': 20, 'seed': 7,
                     'set': {'lr': 5e-4, 'amp': False, 'milestones': (0.5, 0.9), 'inner.iters': 2, 'name': 'y'}}
    assert PRESET['inner']['iters'] == 5                                   # the preset itself is not changed
    assert harness.apply_trial(PRESET) == (PRESET, {})
    with pytest.raises(ValueError, match=r"^--set lr=fast: could not convert string to float: 'fast'$"):
        harness.apply_trial(PRESET, overrides=['lr=fast'])
    with pytest.raises(ValueError, match=r"^--set amp=maybe: expected True or False, got 'maybe'$"):
        harness.apply_trial(PRESET, overrides=['amp=maybe'])
    with pytest.raises(ValueError, match=r'^--set lrate=1: expected KEY=VALUE with KEY one of the preset keys \(steps, '
                                         r'seed, lr, amp, milestones, name, inner.iters, inner.seed\)$'):
        harness.apply_trial(PRESET, overrides=['lrate=1'])
    with pytest.raises(ValueError, match=r'^--set seed: expected KEY=VALUE'):
        harness.apply_trial(PRESET, overrides=['seed'])


def _bench(argv, tmp_path, **kw):
    return harness.Bench('toy', 'Toy bench.\n\nMore.', PRESET, ['--out', str(tmp_path / 'r.json'),
                                                                '--work_dir', str(tmp_path / 'work')] + argv, **kw)


def test_flags_errors_are_one_line_and_help_works(tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        harness.Bench('toy', 'Toy bench.', PRESET, ['--help'])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith('usage: bench.py') and '--max_steps' in out and '--set KEY=VALUE' in out
    for argv, message in ((['--out', 'x', '--max_step', '3'], 'unrecognized arguments: --max_step 3'),  # no abbreviations
                          (['--out', 'x', '--max_steps', '1.5'], "argument --max_steps: expected a whole number, got '1.5'"),
                          ([], 'the following arguments are required: --out')):
        with pytest.raises(SystemExit) as done:
            harness.Bench('toy', 'Toy bench.', PRESET, argv)
        err = capsys.readouterr().err
        assert done.value.code == 2 and err == f'error: {message}\n', err
    with pytest.raises(ValueError, match=r'^--max_steps=1: the bench needs at least 2 steps$'):
        _bench(['--max_steps', '1'], tmp_path, min_steps=2)
    assert not (tmp_path / 'work').exists()                                # nothing emptied or written


def test_the_work_folder_is_emptied_only_when_it_is_a_bench_work_folder(tmp_path):
    work = tmp_path / 'work'
    assert harness.reset_work_dir(work) == work and (work / harness.WORK_MARK).is_file()
    (work / 'old.txt').write_text('from the last bench')
    harness.reset_work_dir(work)
    assert sorted(p.name for p in work.iterdir()) == [harness.WORK_MARK]
    mine = tmp_path / 'mine'
    mine.mkdir()
    (mine / 'thesis.tex').write_text('precious')
    with pytest.raises(ValueError, match=r'^--work_dir=.*mine: a folder with other files \(no \.bench_work\); the '
                                         r'bench empties its work folder: give a new or empty one$'):
        harness.reset_work_dir(mine)
    assert (mine / 'thesis.tex').read_text() == 'precious'


def test_sets_are_set5_where_the_shared_data_are_then_sample_test(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('SR_SHARED_DATA', str(tmp_path / 'none'))
    assert [name for name, _ in harness.benchmark_sets()] == ['SampleTest']
    assert 'shared Set5 not found' in capsys.readouterr().out
    (tmp_path / 'shared' / 'Set5' / 'HR').mkdir(parents=True)
    monkeypatch.setenv('SR_SHARED_DATA', str(tmp_path / 'shared'))
    sets = harness.benchmark_sets(tmp_path / 'sample')
    assert sets == [('Set5', tmp_path / 'shared' / 'Set5'), ('SampleTest', tmp_path / 'sample' / 'benchmark' / 'SampleTest')]


def _stick(mode, gflops, precision='fp32'):
    return harness.fastest(mode, precision, {'nchw': gflops / 2, 'channels_last': gflops, 'nhwc': None})


def test_the_yardstick_is_the_fastest_layout_and_the_efficiencies_divide_by_it(capsys):
    flops = 2 * 16 * 64 * 64 * 64 * 64 * 9
    assert harness.yardstick_flops('infer') == flops and harness.yardstick_flops('train') == 3 * flops
    calls = []
    stick = harness.yardstick('train', 'fp32', {'a': lambda: calls.append('a') or 10.0,
                                                 'b': lambda: calls.append('b') or 20.0, 'c': lambda: None}, 'toy')
    assert calls == ['a', 'b'] and stick['layout'] == 'b' and stick['gflops'] == pytest.approx(20 * 3 * flops / 1e9)
    assert stick['measured']['c'] is None
    assert 'forward + backward, fp32, toy): ' in capsys.readouterr().out
    fields = harness.speed_fields((50.0, _stick('train', 100.0), 'the training'), (20.0, _stick('infer', 80.0), 'Set5'))
    assert fields['train_efficiency'] == 0.5 and fields['infer_efficiency'] == 0.25
    assert fields['yardstick']['layout'] == {'train': 'channels_last', 'infer': 'channels_last'}
    assert fields['yardstick']['train_gflops'] == 100.0 and fields['yardstick']['precision'] == 'fp32'
    assert harness.speed_fields()['train_efficiency'] is None and harness.speed_fields()['yardstick']['layout'] == {}
    with pytest.raises(ValueError, match='the train efficiency needs a train yardstick'):
        harness.speed_fields((1.0, _stick('infer', 1.0), ''))
    with pytest.raises(ValueError, match=r'yardsticks of two precisions \(fp32, bf16\)'):
        harness.speed_fields((1.0, _stick('train', 1.0), ''), (1.0, _stick('infer', 1.0, 'bf16'), ''))
    with pytest.raises(RuntimeError, match='no layout ran'):
        harness.fastest('infer', 'fp32', {'nchw': None})
    assert harness.train_gflops(1e9, 2.0) == 6.0


def test_a_bench_scores_model_and_bicubic_on_the_same_lr_and_writes_record_crops_and_summary(
        tmp_path, sample_data, monkeypatch, capsys):
    monkeypatch.setattr(paths, 'SAMPLE_DATA_DIR', sample_data)
    monkeypatch.setenv('SR_SHARED_DATA', str(tmp_path / 'none'))
    bench = _bench(['--max_steps', '10', '--set', 'lr=0.01'], tmp_path)
    assert bench.preset['steps'] == 10 and bench.trial == {'max_steps': 10, 'set': {'lr': 0.01}}
    record = bench.new_record('none', '', {'lr': bench.preset['lr']})
    assert record['command'] == 'make bench MODEL=toy' and record['config']['trial'] == bench.trial

    def nearest(lr, scale):
        return cv2.resize(lr, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    bench.evaluate('Toy', nearest, (2, 4))
    got = [(e['dataset'], e['scale'], e['method']) for e in record['evaluations']]
    assert got == [('SampleTest', 2, 'toy'), ('SampleTest', 2, 'bicubic'), ('SampleTest', 4, 'toy'),
                   ('SampleTest', 4, 'bicubic')]
    from tools.bench_bicubic import bicubic_pairs
    from common.metrics import evaluate_pairs
    root = sample_data / 'benchmark' / 'SampleTest'
    assert record['evaluations'][1]['per_image'] == evaluate_pairs(bicubic_pairs(root, 2), 2)   # the bicubic bench's
    assert sorted(p.name for p in (bench.work / 'compare').iterdir())[:2] == ['SampleTest_astronaut_x2.png',
                                                                             'SampleTest_astronaut_x4.png']
    assert bench.first_set[0] == 'SampleTest x2' and len(bench.first_set[1]) == 3

    stick = _stick('infer', 1000.0)
    infer = bench.time_inference(lambda lr: nearest(lr, 2), lambda lr: 1e6 * lr.shape[0], lambda: stick)
    assert infer[1] is stick and infer[2] == 'SampleTest x2, whole images' and infer[0] > 0
    record['train'] = {'seconds': 3.0, 'steps': 10, 'images_per_sec': 8.0}
    record['speed'].update(harness.speed_fields((500.0, _stick('train', 1000.0), 'the training'), infer))
    bench.finish('TOY', 4, 8.0, losses=[0.5, 0.25], goals={('SampleTest', 2, 'toy'): 1.0})
    out = capsys.readouterr().out
    assert 'train: 10 steps in 3 s, 8.0 images/s' in out
    assert 'training: 500.0 GFLOP/s = 0.50 of the dense conv (1000.0, channels_last, fp32); timed: the training' in out
    assert 'goal SampleTest x2: toy >= bicubic + 1.0 dB: NOT met (' in out
    assert 'goal SampleTest x4: toy > bicubic: NOT met (' in out
    assert 'Final Train Accuracy : ' in out                        # SampleTest x4, the first set's last scale
    saved = json.loads((tmp_path / 'r.json').read_text())
    assert saved['speed']['train_efficiency'] == 0.5 and saved['speed']['infer_ms_per_image'] > 0
    assert saved['hardware']['omp_wait_policy'] == 'PASSIVE' and saved['train']['e2e_sec'] > 0
    assert [(g['dataset'], g['scale'], g['min_gain_db'], g['met']) for g in saved['goals']] == [
        ('SampleTest', 2, 1.0, False), ('SampleTest', 4, 0.0, False)]           # the README renders them
    from common.records import render_record
    assert '- Goals of the bench (0 of 2 met): SampleTest x2: toy >= bicubic + 1.0 dB: NOT met (' in render_record(saved)
    assert (bench.work / 'TOY_bs4_1p_acc.log').is_file()
    accuracy = saved['evaluations'][2]['mean']['psnr']
    assert f'TrainAccuracy = {accuracy:.4f}' in (bench.work / 'TOY_bs4_1p_acc.log').read_text()
    assert np.isfinite(accuracy)


def test_a_second_method_is_scored_against_the_same_bicubic_without_crops(tmp_path, sample_data, monkeypatch):
    monkeypatch.setattr(paths, 'SAMPLE_DATA_DIR', sample_data)
    monkeypatch.setenv('SR_SHARED_DATA', str(tmp_path / 'none'))
    bench = _bench(['--max_steps', '10'], tmp_path)
    record = bench.new_record('none', '', {})

    def nearest(lr, scale):
        return cv2.resize(lr, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    bench.evaluate('Toy', nearest, (2,))
    crops = sorted(p.name for p in (bench.work / 'compare').iterdir())
    bench.evaluate('Toy', lambda lr, s: cv2.resize(lr, None, fx=s, fy=s, interpolation=cv2.INTER_LINEAR), (2,),
                   method='toy_seed2')
    got = [(e['dataset'], e['scale'], e['method']) for e in record['evaluations']]
    assert got == [('SampleTest', 2, 'toy'), ('SampleTest', 2, 'bicubic'), ('SampleTest', 2, 'toy_seed2')]
    assert sorted(p.name for p in (bench.work / 'compare').iterdir()) == crops
    ours, base = bench.means[('SampleTest', 2, 'toy_seed2')]
    assert base == bench.means[('SampleTest', 2, 'toy')][1] and ours != bench.means[('SampleTest', 2, 'toy')][0]
