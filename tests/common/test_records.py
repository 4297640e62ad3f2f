"""Result records, the ModelZoo summary block and README table regeneration."""
import json
import os

import pytest

from common import records

PROTO = {'channel': 'y', 'crop_border': 2, 'round_y': False, 'label': 'Y, crop=2'}


def _record():
    rec = records.new_record('toy', 'none', '', 'bench', 'make bench MODEL=toy', config={'lr': 1e-4})
    records.add_evaluation(rec, 'Set5', 2, 'bicubic',
                           [{'name': 'a', 'psnr': 30.0, 'ssim': 0.80}, {'name': 'b', 'psnr': 32.0, 'ssim': 0.90}], PROTO)
    records.add_evaluation(rec, 'Set5', 2, 'toy',
                           [{'name': 'a', 'psnr': 31.5, 'ssim': 0.85}, {'name': 'b', 'psnr': 33.5, 'ssim': 0.95}], PROTO)
    rec['train'] = {'seconds': 12.0, 'patches_per_sec': 100.0}
    return rec


def test_evaluation_means_and_round_trip(tmp_path):
    rec = _record()
    assert rec['evaluations'][0]['mean'] == {'psnr': 31.0, 'ssim': pytest.approx(0.85)}
    assert rec['hardware']['cores'] >= 1 and rec['created'].endswith('Z')
    path = tmp_path / 'r.json'
    records.save_record(rec, path)
    assert records.load_record(path) == json.loads(json.dumps(rec))
    assert [p.name for p in tmp_path.iterdir()] == ['r.json']  # no temp file left behind


def test_bad_records(tmp_path):
    rec = _record()
    with pytest.raises(ValueError, match='no images'):
        records.add_evaluation(rec, 'Set5', 2, 'x', [], PROTO)
    with pytest.raises(ValueError, match='label'):
        records.add_evaluation(rec, 'Set5', 2, 'x', [{'name': 'a', 'psnr': 1, 'ssim': 1}], {'channel': 'y'})
    with pytest.raises(ValueError, match="'bench' or 'eval'"):
        records.new_record('toy', 'none', '', 'train', 'cmd')
    bad = tmp_path / 'bad.json'
    bad.write_text('{"schema": "other"}')
    with pytest.raises(ValueError, match='schema'):
        records.load_record(bad)
    bad.write_text('{not json')
    with pytest.raises(ValueError, match='bad.json'):
        records.load_record(bad)
    with pytest.raises(FileNotFoundError, match='missing.json'):
        records.load_record(tmp_path / 'missing.json')


def test_table_shows_gain_over_bicubic_and_provenance():
    table = records.render_results_table([_record()])
    row = next(line for line in table.splitlines() if line.startswith('| toy '))
    assert '| 32.50 | 0.9000 | +1.50 | Y, crop=2 |' in row
    assert 'Command: `make bench MODEL=toy`' in table and '100.0 train patches/s' in table


def test_update_readme_replaces_only_the_marked_block(tmp_path):
    readme = tmp_path / 'README.md'
    readme.write_text('# T\nbefore\n<!-- results:begin -->\nold table\n<!-- results:end -->\nafter\n')
    records.update_readme(readme, [_record()])
    text = readme.read_text()
    assert 'old table' not in text and text.startswith('# T\nbefore\n') and text.endswith('after\n')
    assert '| toy | Set5 (2 images) | x2 | 32.50 |' in text
    again = records.update_readme(readme, [_record()])  # idempotent apart from the timestamp line
    assert again.count(records.BEGIN_MARK) == 1
    (tmp_path / 'plain.md').write_text('no markers')
    with pytest.raises(ValueError, match='plain.md'):
        records.update_readme(tmp_path / 'plain.md', [_record()])


def test_modelzoo_summary_files(tmp_path, capsys):
    case = records.modelzoo_summary(tmp_path, 'SRCNN', 16, fps=1234.5, step_time=0.0129, e2e_sec=61.4,
                                    train_accuracy=36.71, losses=[0.01, 0.002])
    assert case == 'SRCNN_bs16_1p_acc'
    out = capsys.readouterr().out
    assert 'Final Performance images/sec : 1234.50' in out and 'Final Train Accuracy : 36.7100' in out
    log = (tmp_path / 'SRCNN_bs16_1p_acc.log').read_text().splitlines()
    assert log[0] == 'Network = SRCNN' and 'ActualLoss = 0.002000' in log and 'E2ETrainingTime = 61' in log
    assert (tmp_path / 'SRCNN_bs16_1p_acc_loss.txt').read_text() == '0.010000\n0.002000\n'
    perf = records.modelzoo_summary(tmp_path, 'SRCNN', 16, 10.0, 1.6, 5, perf=True)
    assert perf == 'SRCNN_bs16_1p_perf' and 'TrainAccuracy' not in (tmp_path / f'{perf}.log').read_text()


@pytest.fixture
def fake_clone(tmp_path, monkeypatch):
    """A repository root of its own (``<tmp>/work/repo``, with ``<tmp>/work/shared`` beside it) and a folder outside
    both (``<tmp>/elsewhere``), so the path rules are tested wherever the real clone lives (under /tmp, say)."""
    root = tmp_path / 'work' / 'repo'
    root.mkdir(parents=True)
    monkeypatch.setattr(records, 'REPO_ROOT', root)
    return root, tmp_path / 'elsewhere'


def test_portable_path(fake_clone):
    root, outside = fake_clone
    pp = records.portable_path
    assert pp(str(root / 'datasets' / 'sample')) == 'datasets/sample'
    assert pp(str(root)) == '.'
    assert pp(str(root / 'outputs' / '..' / 'results')) == 'results'
    assert pp(str(root.parent / 'shared' / 'data' / 'Set5')) == '../shared/data/Set5'
    assert pp(str(root.parent)) == '..'
    assert pp(str(outside / 'pretrained_ckpt' / 'pretrained.ckpt')) == '<abs>/pretrained.ckpt'
    assert pp(f'{outside}/out/') == '<abs>/out'
    for value in ('datasets/x', 'make bench MODEL=srcnn', '', 3, 1.5, None, True):
        assert pp(value) == value
    nested = {'a': [str(root / 'x'), {'b': str(outside / 'run' / 'ckpt')}], 'c': (str(outside / 'y'),)}
    assert pp(nested) == {'a': ['x', {'b': '<abs>/ckpt'}], 'c': ['<abs>/y']}
    assert nested['a'][1]['b'] == str(outside / 'run' / 'ckpt')    # the argument is not changed


def test_portable_path_of_the_real_clone():
    from common.paths import REPO_ROOT
    assert records.portable_path(str(REPO_ROOT / 'results' / 'x.json')) == 'results/x.json'
    assert records.portable_path(str(REPO_ROOT.parent / 'shared')) == '../shared'


def test_records_hold_no_absolute_paths(fake_clone):
    root, outside = fake_clone
    rec = records.new_record('toy', 'none', '', 'bench', 'make bench MODEL=toy',
                             config={'data_path': str(root / 'outputs' / 'mr'), 'lr': 1e-4,
                                     'ckpt': str(outside / 'checkpoint_path.ckpt')})
    assert rec['config'] == {'data_path': 'outputs/mr', 'lr': 1e-4, 'ckpt': '<abs>/checkpoint_path.ckpt'}
    run_dir = outside / 'run'
    run_dir.mkdir(parents=True)
    rec['train'] = {'log': str(run_dir / 'train.log')}
    records.save_record(rec, run_dir / 'r.json')
    assert records.load_record(run_dir / 'r.json')['train'] == {'log': '<abs>/train.log'}
    assert rec['train'] == {'log': str(run_dir / 'train.log')}     # the caller's dict is not changed
    assert str(outside) not in (run_dir / 'r.json').read_text()


def test_save_record_removes_dead_temps_of_its_file(tmp_path):
    import subprocess
    import sys
    dead = int(subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'],
                              capture_output=True, text=True).stdout)
    (tmp_path / f'.r.json.{dead}.0123abcd.tmp').write_text('{"schema": "srzoo.res')     # a killed write
    (tmp_path / f'.other.json.{dead}.0123abcd.tmp').write_text('')                   # someone else's
    records.save_record(_record(), tmp_path / 'r.json')
    assert sorted(os.listdir(tmp_path)) == [f'.other.json.{dead}.0123abcd.tmp', 'r.json']


def test_speed_table_renders_the_two_efficiencies_and_dashes_for_old_records(monkeypatch):
    monkeypatch.setenv('OMP_WAIT_POLICY', 'PASSIVE')
    rec = _record()
    assert rec['hardware']['omp_wait_policy'] == 'PASSIVE'
    rec['speed'] = {'train_gflops': 60.0, 'train_efficiency': 0.5, 'train_timed': 'the training',
                    'infer_gflops': 30.0, 'infer_efficiency': 0.25, 'infer_timed': 'Set5 x2, whole images',
                    'yardstick': {'train_gflops': 120.0, 'infer_gflops': 120.0, 'precision': 'fp32',
                                  'layout': {'train': 'channels_last', 'infer': 'nchw'}}}
    table = records.render_results_table([rec])
    assert '| training (forward + backward) | 60.0 | 120.0 | 0.50 | channels_last, fp32 | the training |' in table
    assert '| inference (forward) | 30.0 | 120.0 | 0.25 | nchw, fp32 | Set5 x2, whole images |' in table
    assert 'OMP_WAIT_POLICY=PASSIVE' in table and 'TRIAL' not in table
    rec['config']['trial'] = {'max_steps': 10}
    assert 'a TRIAL, not the preset: max_steps 10' in records.render_results_table([rec])
    rec['speed'] = {'conv_efficiency': 0.7, 'dense_conv_gflops': 90.0}          # a record of before the yardstick
    old = records.render_results_table([rec])
    assert '| training (forward + backward) | - | - | - | - | - |' in old and 'conv efficiency' not in old
    rec['train'], rec['speed'] = {}, {'eval_seconds': 1.0}                      # no training: no speed table
    assert 'yardstick' not in records.render_results_table([rec])


def test_update_block_with_other_markers(tmp_path):
    doc = tmp_path / 'doc.md'
    doc.write_text('a\n<!-- x:begin -->\nold\n<!-- x:end -->\nb\n')
    records.update_block(doc, 'new', markers=('<!-- x:begin -->', '<!-- x:end -->'))
    assert doc.read_text() == 'a\n<!-- x:begin -->\nnew\n<!-- x:end -->\nb\n'
    with pytest.raises(ValueError, match=r'doc\.md has no <!-- results:begin -->'):
        records.update_block(doc, 'new')


def test_hardware_info_names_the_vector_isa():
    hw = records.hardware_info()
    assert set(hw['isa']) <= set(records._ISA_FLAGS)
    if os.path.exists('/proc/cpuinfo') and ' avx2' in open('/proc/cpuinfo').read():
        assert 'avx2' in hw['isa']
