"""The front page's zoo table (tools.zoo_table): rendered from the records, never stale, its quotes checked."""
import ast
import json
import shutil

import pytest

from common import records
from common.paths import REPO_ROOT
from tools import zoo_table
from tools.registry import REGISTRY

PUBLISHED = REPO_ROOT / zoo_table.PUBLISHED


def test_readme_zoo_block_is_rendered_from_the_records():
    """The per-model tables' staleness check (tests/tools/test_bench.py), for the block every model record feeds."""
    readme = (REPO_ROOT / zoo_table.README).read_text()
    block = zoo_table.render(zoo_table.load_records())
    assert records.replace_between_markers(readme, block, markers=zoo_table.MARKERS) == readme, \
        f'{zoo_table.README} is stale: run `python -m tools.bench --render_only`'


def _copy_records(root):
    (root / 'results').mkdir()
    for model in zoo_table.MODELS:
        shutil.copy(REPO_ROOT / REGISTRY[model.name].record, root / REGISTRY[model.name].record)


def _edit(root, name, change):
    path = root / REGISTRY[name].record
    rec = json.loads(path.read_text())
    change(rec)
    path.write_text(json.dumps(rec))


def _row(block, label):
    return next(line for line in block.splitlines() if line.startswith(f'| {label} |'))


def test_a_rows_figures_are_the_records(tmp_path):
    _copy_records(tmp_path)

    def srcnn(rec):
        records.find_evaluation(rec, 'Set5', 2, 'srcnn')['mean']['psnr'] = 40.0
        rec['train']['seconds'] = 1234.4
        rec['speed']['infer_efficiency'] = 0.123

    def rdn(rec):
        rec['config']['arch']['num_block'] = 5

    _edit(tmp_path, 'srcnn', srcnn)
    _edit(tmp_path, 'rdn', rdn)
    recs = zoo_table.load_records(tmp_path)
    block = zoo_table.render(recs)
    base = records.find_evaluation(recs['srcnn'], 'Set5', 2, 'bicubic')['mean']['psnr']
    assert f'| 40.00 vs bicubic {base:.2f} ({40 - base:+.2f}) |' in _row(block, 'SRCNN x2')
    speed_row = [line for line in block.splitlines() if line.startswith('| SRCNN x2 |')][1]
    assert '| 1234 |' in speed_row and '| 0.12 |' in speed_row
    arch = recs['rdn']['config']['arch']
    assert f'| {zoo_table.rdn_params(4, **arch):,} / 22,271,107 ' in _row(block, 'RDN x4')
    assert zoo_table.rdn_params(4, **arch) != zoo_table.rdn_params(4, **dict(arch, num_block=4))
    readme = (REPO_ROOT / zoo_table.README).read_text()      # the committed block is stale against these records
    assert records.replace_between_markers(readme, block, markers=zoo_table.MARKERS) != readme
    (tmp_path / zoo_table.README).write_text(f'# zoo\n{zoo_table.BEGIN}\nold\n{zoo_table.END}\nafter\n')
    assert zoo_table.update_readme(tmp_path) == block
    assert (tmp_path / zoo_table.README).read_text() == f'# zoo\n{zoo_table.BEGIN}\n{block}{zoo_table.END}\nafter\n'


def test_a_second_seed_and_a_missing_record(tmp_path):
    _copy_records(tmp_path)

    def bsrn(rec):
        rec['evaluations'] = [ev for ev in rec['evaluations'] if ev['method'] != 'bsrn_seed2']
        extra = [dict(ev, method='bsrn_seed2', mean=dict(ev['mean'], psnr=ev['mean']['psnr'] + 0.5))
                 for ev in rec['evaluations'] if ev['method'] == 'bsrn']
        rec['evaluations'] += extra
        rec['second_seed'] = {'seed': 2, 'method': 'bsrn_seed2', 'train_seconds': 700.2, 'steps': 6600}

    _edit(tmp_path, 'bsrn', bsrn)
    (tmp_path / REGISTRY['lptn'].record).unlink()
    recs = zoo_table.load_records(tmp_path)
    block = zoo_table.render(recs)
    ours = records.find_evaluation(recs['bsrn'], 'Set5', 2, 'bsrn')['mean']['psnr']
    base = records.find_evaluation(recs['bsrn'], 'Set5', 2, 'bicubic')['mean']['psnr']
    assert f'({ours - base:+.2f}); seed 2: {ours + 0.5 - base:+.2f} |' in _row(block, 'BSRN x2')
    assert '; seed 2: 6600 |' in block and '; seed 2: 700 |' in block
    assert '| LPTN | no record yet: `make bench MODEL=lptn` |' in block
    assert '- LPTN: command' not in block and '- RDN: command `make bench MODEL=rdn`' in block


def test_lptns_second_seed_goes_with_the_unpaired_row_only(tmp_path):
    _copy_records(tmp_path)

    def lptn(rec):
        rec['second_seed'] = {'seed': 11, 'method': 'LPTN (unpaired_seed2)', 'of': 'LPTN (unpaired)',
                              'train_seconds': 824.0, 'steps': 1300}
        if not records.find_evaluation(rec, 'FiveK sample test', 1, 'LPTN (unpaired_seed2)'):
            ev = records.find_evaluation(rec, 'FiveK sample test', 1, 'LPTN (unpaired)')
            rec['evaluations'].append(dict(ev, method='LPTN (unpaired_seed2)', mean=dict(ev['mean'], psnr=21.04)))

    _edit(tmp_path, 'lptn', lptn)
    recs = zoo_table.load_records(tmp_path)
    block = zoo_table.render(recs)
    base = records.find_evaluation(recs['lptn'], 'FiveK sample test', 1, 'identity')['mean']['psnr']
    seed2 = records.find_evaluation(recs['lptn'], 'FiveK sample test', 1, 'LPTN (unpaired_seed2)')['mean']['psnr']
    assert f'; seed 11: {seed2 - base:+.2f} |' in _row(block, 'LPTN unpaired')
    assert 'seed 11' not in _row(block, 'LPTN paired')


def test_every_model_has_rows_and_the_records_scales():
    recs = zoo_table.load_records()
    block = zoo_table.render(recs)
    for model in zoo_table.MODELS:
        rec = recs[model.name]
        if rec is None:
            continue
        for key, _, label, _ in zoo_table._rows(model, rec):
            assert key in model.paper_params and key in model.paper, (model.name, key)
            assert _row(block, label).count('|') == 10
    labels = [row[2] for m in zoo_table.MODELS if recs[m.name] for row in zoo_table._rows(m, recs[m.name])]
    assert set(labels) <= {'SRCNN x2', 'RDN x2', 'RDN x3', 'RDN x4', 'RCAN x2', 'BSRN x2', 'BSRN x3', 'BSRN x4',
                           'LPTN unpaired', 'LPTN paired'}


# The paper configurations (published_numbers.md) in the counters' terms.
PAPER_COUNTS = {
    'srcnn': lambda key: zoo_table.srcnn_params(has_bias=True),
    'rdn': lambda key: zoo_table.rdn_params(key, 3, 64, 16, 8, 64, 'paper'),
    'rcan': lambda key: zoo_table.rcan_params(key, 64, 10, 20),
    'bsrn': lambda key: zoo_table.bsrn_params(key, 64, 64),
    'lptn': lambda key: zoo_table.lptn_params('LPTNPaper', 5, 3, 3),
}


@pytest.mark.parametrize('model', zoo_table.MODELS, ids=lambda m: m.name)
def test_the_counter_gives_the_quoted_paper_counts(model):
    for key, (count, _) in model.paper_params.items():
        assert PAPER_COUNTS[model.name](key) == count, key


def test_the_counter_gives_the_counts_the_framework_tests_check():
    # tests/pytorch_lptn/test_model.py (617,567 for the code's LPTN the preset yml names) and
    # tests/tensorflow_bsrn/test_model.py (1,225,225 in the released x2/x3/x4 checkpoint: shared part once)
    assert zoo_table.lptn_params('LPTN', 5, 3, 3) == 617567
    shared = zoo_table._conv(3, 3, 64) + 3 * zoo_table._conv(3, 128, 128)
    assert sum(zoo_table.bsrn_params(s, 64, 64) - shared for s in (2, 3, 4)) + shared == 1225225


def _sections():
    if not PUBLISHED.exists():
        pytest.skip(f'{zoo_table.PUBLISHED} not present')
    text = PUBLISHED.read_text(encoding='utf-8')
    parts = text.split('\n## ')
    return {part.split('.', 1)[0]: part for part in parts[1:] if part.split('.', 1)[0].isdigit()}


@pytest.mark.parametrize('model', zoo_table.MODELS, ids=lambda m: m.name)
def test_quoted_figures_stand_in_the_cited_section(model):
    sections = _sections()
    quotes = [(f'{count:,}', source) for count, source in model.paper_params.values()]
    quotes += [(f'{p.psnr:g}', p.source) for p in model.paper.values() if isinstance(p, zoo_table.Paper)]
    for number, source in quotes:
        section = source.split('§', 1)[1].split(' ', 1)[0]
        tag = source.split('[', 1)[1].split(']', 1)[0]
        assert number in sections[section], (number, section)
        assert f'[{tag}' in sections[section], (tag, section)


@pytest.mark.parametrize('test_id', sorted({t for m in zoo_table.MODELS for t in (m.export_test, m.checkpoints_test)
                                            if t}))
def test_the_named_tests_exist(test_id):
    path, name = test_id.split('::')
    tree = ast.parse((REPO_ROOT / path).read_text(encoding='utf-8'))
    assert name in {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_rendering_a_model_record_re_renders_the_zoo_block(tmp_path, monkeypatch):
    from tools import bench
    _copy_records(tmp_path)
    _edit(tmp_path, 'srcnn', lambda rec: rec['train'].update(seconds=4321.0))
    for doc in (zoo_table.README, REGISTRY['srcnn'].readme, REGISTRY['bicubic'].readme):
        (tmp_path / doc).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / doc).write_text(f'{zoo_table.BEGIN}\n{zoo_table.END}\n{records.BEGIN_MARK}\n{records.END_MARK}\n')
    shutil.copy(REPO_ROOT / REGISTRY['bicubic'].record, tmp_path / REGISTRY['bicubic'].record)
    monkeypatch.setattr(bench, 'REPO_ROOT', tmp_path)
    monkeypatch.setattr(zoo_table, 'REPO_ROOT', tmp_path)
    bench.render('bicubic')                                   # not a zoo model: the zoo block stays as it was
    assert (tmp_path / zoo_table.README).read_text().startswith(f'{zoo_table.BEGIN}\n{zoo_table.END}\n')
    bench.render('srcnn')
    text = (tmp_path / zoo_table.README).read_text()
    assert records.replace_between_markers(text, zoo_table.render(zoo_table.load_records(tmp_path)),
                                           markers=zoo_table.MARKERS) == text
    assert '| 4321 |' in text
