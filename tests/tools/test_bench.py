"""The bench front end: registry lookups, argument errors and README regeneration."""
import subprocess
import sys

import pytest

from common.paths import REPO_ROOT
from tools import bench
from tools.registry import REGISTRY


def test_registry_entries_point_at_real_files():
    assert 'bicubic' in REGISTRY
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
        assert '<!-- results:begin -->' in text and '<!-- results:end -->' in text, entry.readme


def test_unknown_model_is_a_one_line_error():
    proc = subprocess.run([sys.executable, '-m', 'tools.bench', '--model', 'nosuch'], cwd=REPO_ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "--model 'nosuch' is not registered" in proc.stderr and 'bicubic' in proc.stderr


@pytest.mark.parametrize('name', sorted(REGISTRY))
def test_committed_records_render_into_readmes(name):
    """Every committed record loads and its README block is exactly what the renderer makes."""
    from common import records
    entry = REGISTRY[name]
    path = REPO_ROOT / entry.record
    if not path.exists():
        pytest.skip(f'{entry.record} not generated yet (make bench MODEL={name})')
    rec = records.load_record(path)
    readme = (REPO_ROOT / entry.readme).read_text()
    assert records.replace_between_markers(readme, records.render_results_table([rec])) == readme, \
        f'{entry.readme} is stale: run `python -m tools.bench --model {name} --render_only`'
