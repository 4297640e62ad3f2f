"""The bench front end (registry lookups, argument errors, document regeneration) and the bicubic bench."""
import subprocess
import sys

import pytest

from common.paths import REPO_ROOT
from tools.registry import REGISTRY, BenchEntry


def test_registry_entries_point_at_real_files():
    assert 'bicubic' in REGISTRY and not REGISTRY['scaling'].model and not REGISTRY['imresize'].model
    for name, entry in REGISTRY.items():
        cmd = entry.command('python')
        assert cmd[-2:] == ['--out', entry.record]
        if entry.script.startswith('-m '):
            module = entry.script[3:].replace('.', '/') + '.py'
            assert (REPO_ROOT / module).is_file(), name
        else:
            assert (REPO_ROOT / entry.script).is_file(), name
        assert (REPO_ROOT / entry.readme).is_file(), name
        text = (REPO_ROOT / entry.readme).read_text()
        assert all(mark in text for mark in entry.markers), entry.readme


def test_unknown_model_is_a_one_line_error():
    """Also: tools.bench sets no PYTHONPATH and edits no sys.path (installed packages)."""
    assert 'PYTHONPATH' not in (REPO_ROOT / 'tools' / 'bench.py').read_text()
    proc = subprocess.run([sys.executable, '-m', 'tools.bench', '--model', 'nosuch'], cwd=REPO_ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "--model 'nosuch' is not registered" in proc.stderr and 'bicubic' in proc.stderr


@pytest.mark.parametrize('name', sorted(REGISTRY))
def test_committed_records_render_into_readmes(name):
    """Every committed record loads and its document block is exactly what its renderer makes."""
    from common import records
    entry = REGISTRY[name]
    path = REPO_ROOT / entry.record
    if not path.exists():
        pytest.skip(f'{entry.record} not generated yet (make bench MODEL={name})')
    rec = records.load_record(path)
    readme = (REPO_ROOT / entry.readme).read_text()
    assert records.replace_between_markers(readme, entry.block(rec), markers=entry.markers) == readme, \
        f'{entry.readme} is stale: run `python -m tools.bench --model {name} --render_only`'


def test_bench_runs_a_registered_script_with_the_thread_policy_and_renders_its_block(tmp_path, monkeypatch):
    from tools import bench
    script = tmp_path / 'toy_bench.py'
    script.write_text('import sys\nfrom common import records\n'
                      "rec = records.new_record('toy', 'none', '', 'bench', 'make bench MODEL=toy')\n"
                      'records.save_record(rec, sys.argv[sys.argv.index("--out") + 1])\n')
    doc = tmp_path / 'doc.md'
    doc.write_text('<!-- results:begin -->\n<!-- results:end -->\n')
    monkeypatch.setitem(REGISTRY, 'toy', BenchEntry(str(script), str(tmp_path / 'r.json'), str(doc)))
    monkeypatch.delenv('OMP_WAIT_POLICY', raising=False)
    rec = bench.run_one('toy')
    assert rec['hardware']['omp_wait_policy'] == 'PASSIVE'          # set for the bench it started
    assert 'Command: `make bench MODEL=toy`' in doc.read_text() and 'OMP_WAIT_POLICY=PASSIVE' in doc.read_text()
    monkeypatch.setenv('OMP_WAIT_POLICY', 'ACTIVE')                 # the user's choice is kept
    assert bench.run_one('toy')['hardware']['omp_wait_policy'] == 'ACTIVE'


@pytest.mark.parametrize('name', sorted(n for n, e in REGISTRY.items() if e.model and n != 'bicubic'))
def test_model_benches_import_the_harness_first_and_no_tools_or_path_edits(name):
    text = (REPO_ROOT / REGISTRY[name].script).read_text()
    code = [line for line in text.split('"""', 2)[2].splitlines() if line and not line.startswith('#')]
    assert code[0].startswith('from common import bench as harness'), 'common.bench must load before the framework'
    assert 'sys.path' not in text and 'import tools' not in text and 'from tools' not in text


_TABLE = '''**********************
Method_1: RCAN; Set: Set5
x2 1 baby_RCAN_x2.png: PSNR= 38.979958 SSIM= 0.968184
x2 2 bird_RCAN_x2.png: PSNR= 43.639850 SSIM= 0.990903
--------Mean--------
x2: PSNR= 41.309904 SSIM= 0.979544
**********************
Method_2: RCANplus; Set: Set5
x2 1 baby_RCANplus_x2.png: PSNR= 38.990887 SSIM= 0.968258
'''


def test_matlab_table_check(tmp_path):
    from tools.bench_bicubic import check_against_table, parse_matlab_table
    (tmp_path / 't.txt').write_text(_TABLE)
    per_image, means = parse_matlab_table(tmp_path / 't.txt')
    assert per_image == {(2, 'baby'): (38.979958, 0.968184), (2, 'bird'): (43.639850, 0.990903)}
    assert means == {2: (41.309904, 0.979544)}
    ok = [{'name': 'baby', 'psnr': 38.9799584, 'ssim': 0.9681836}, {'name': 'bird', 'psnr': 43.63985, 'ssim': 0.990903}]
    check_against_table(ok, per_image, 2, 't.txt')
    with pytest.raises(ValueError, match=r'^bird x2: PSNR 43.6398520 dB computed, 43.639850 in t\.txt'):
        check_against_table([ok[0], dict(ok[1], psnr=43.639852)], per_image, 2, 't.txt')
    with pytest.raises(ValueError, match=r'^baby x2: SSIM 0.9681880 computed, 0.968184 in t\.txt'):
        check_against_table([dict(ok[0], ssim=0.968188)], per_image, 2, 't.txt')
    with pytest.raises(ValueError, match=r't\.txt: no x3 row for baby'):
        check_against_table(ok, per_image, 3, 't.txt')
    (tmp_path / 'empty.txt').write_text('Method_2: RCANplus; Set: Set5\n')
    with pytest.raises(ValueError, match=r"empty\.txt: no 'Method_1: RCAN' rows"):
        parse_matlab_table(tmp_path / 'empty.txt')


def test_authors_sr_images_reproduce_the_matlab_table(shared_data):
    """What every bicubic bench run checks: all 15 RCAN images of Set5 within 1e-6 of the table."""
    from common.metrics import evaluate_pairs
    from common.bench import load_set5_layout
    from tools.bench_bicubic import MATLAB_TABLE, SCALES, check_against_table, parse_matlab_table
    set5 = shared_data / 'Set5'
    table, _ = parse_matlab_table(set5 / 'SR_RCAN' / MATLAB_TABLE)
    for scale in SCALES:
        pairs = list(load_set5_layout(set5, scale, sr_dir=set5 / 'SR_RCAN' / f'x{scale}'))
        assert len(pairs) == 5
        check_against_table(evaluate_pairs(pairs, scale), table, scale, MATLAB_TABLE)


def test_bench_fails_when_the_table_is_not_reproduced(shared_data, sample_data, tmp_path, monkeypatch):
    from tools import bench_bicubic
    set5 = tmp_path / 'shared' / 'Set5'
    (set5 / 'SR_RCAN').mkdir(parents=True)
    for name in ('HR', 'LR_bicubic'):
        (set5 / name).symlink_to(shared_data / 'Set5' / name)
    for scale in bench_bicubic.SCALES:
        (set5 / 'SR_RCAN' / f'x{scale}').symlink_to(shared_data / 'Set5' / 'SR_RCAN' / f'x{scale}')
    table = (shared_data / 'Set5' / 'SR_RCAN' / bench_bicubic.MATLAB_TABLE).read_text()
    assert 'bird_RCAN_x2.png: PSNR= 43.639850 ' in table
    (set5 / 'SR_RCAN' / bench_bicubic.MATLAB_TABLE).write_text(
        table.replace('bird_RCAN_x2.png: PSNR= 43.639850 ', 'bird_RCAN_x2.png: PSNR= 43.639860 '))
    monkeypatch.setenv('SR_SHARED_DATA', str(tmp_path / 'shared'))
    with pytest.raises(SystemExit, match=r'error: the metric does not reproduce the MATLAB table: bird x2: '
                                         r'PSNR 43.63985\d+ dB computed, 43.639860 in .*PSNR_SSIM_matlab.txt'):
        bench_bicubic.main(['--out', str(tmp_path / 'r.json'), '--data', str(sample_data)])
    assert not (tmp_path / 'r.json').exists()
