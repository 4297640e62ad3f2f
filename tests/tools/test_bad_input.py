"""tools.bad_input: each class of the matrix is recognised, on real child processes of stand-in entry scripts."""
import textwrap

import pytest

from tools import bad_input

SCRIPT = textwrap.dedent('''
    import sys
    from pathlib import Path
    from common.cli import run_cli

    def main(argv):
        mode, data, out = argv
        if mode == 'refuse':
            raise ValueError(f'--input={data}/x.png: not an image')
        if mode == 'refuse-after-writing':
            Path(out).mkdir(parents=True)
            raise ValueError(f'--input={data}/x.png: not an image')
        if mode == 'two-lines':
            print('error: first', file=sys.stderr)
            raise ValueError('--input: second')
        if mode == 'crash':
            return 1 / 0
        if mode == 'write-inputs':
            (Path(data) / 'x.png').write_bytes(b'replaced')
        if mode == 'write-beside':
            Path('result.txt').write_text('written in the working folder')
            raise ValueError('--input: refused after writing beside itself')
        return 0

    sys.exit(run_cli(main, sys.argv[1:]))
''')


@pytest.fixture
def workspace(tmp_path):
    for name in ('data', 'out', 'models'):
        (tmp_path / name).mkdir()
    (tmp_path / 'data' / 'x.png').write_bytes(b'an input')
    script = tmp_path / 'entry.py'
    script.write_text(SCRIPT)
    entry = dict(name='stand-in', model='test', fw='none', script=str(script), module=False)
    return tmp_path, entry


@pytest.mark.parametrize('mode, expect, cls', [
    ('refuse', 'error', 'clean'),
    ('ok', 'ok', 'accepted'),
    ('crash', 'error', 'traceback'),
    ('ok', 'error', 'silent-wrong'),
    ('write-inputs', 'error', 'input-touching'),
    ('refuse-after-writing', 'error', 'other'),
    ('two-lines', 'error', 'other'),
    ('write-beside', 'error', 'other'),         # runs in the case's folder: what it writes there is seen
])
def test_each_class_is_recognised(workspace, mode, expect, cls):
    ws, entry = workspace
    case = {'entry': 'stand-in', 'label': mode, 'argv': [mode, str(ws / 'data'), str(ws / 'out' / 'o')],
            'expect': expect, 'names': ['input'], 'out': str(ws / 'out' / 'case')}
    record = bad_input.run_and_classify(case, entry, ws, timeout=60)
    assert record['cls'] == cls, record


def test_an_error_naming_something_else_is_not_clean(workspace):
    ws, entry = workspace
    case = {'entry': 'stand-in', 'label': 'refuse', 'argv': ['refuse', str(ws / 'data'), str(ws / 'out')],
            'expect': 'error', 'names': ['--output'], 'out': str(ws / 'out' / 'case')}
    record = bad_input.run_and_classify(case, entry, ws, timeout=60)
    assert record['cls'] == 'other' and record['reason'].startswith("names none of ['--output']")


def test_every_entry_point_has_cases_and_the_table_counts_them():
    assert len(bad_input.ENTRIES) >= 26 and len({e['name'] for e in bad_input.ENTRIES}) == len(bad_input.ENTRIES)
    cases = [c for e in bad_input.ENTRIES for c in bad_input.cases_for(e)]
    assert len(cases) > 300 and {c['expect'] for c in cases} == {'ok', 'error', 'warn', 'either'}
    records = [dict(entry='a', cls='clean'), dict(entry='a', cls='traceback'), dict(entry='b', cls='accepted')]
    text = bad_input.table(records)
    assert text.splitlines()[-1].split() == ['total', '1', '1', '1', '0', '0', '0', '3']
