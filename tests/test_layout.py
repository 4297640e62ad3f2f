"""Repository conventions that keep the three frameworks importable and `common/` framework-free."""
import ast

import pytest

from common.paths import REPO_ROOT

FRAMEWORKS = ('torch', 'tensorflow', 'mindspore', 'torch_npu', 'npu_bridge', 'apex', 'onnxruntime')


@pytest.mark.parametrize('folder', ['pytorch', 'tensorflow', 'mindspore'])
def test_framework_folders_are_not_packages(folder):
    # An __init__.py here would make `import <folder>` pick the repo folder over the real framework.
    assert not (REPO_ROOT / folder / '__init__.py').exists()


@pytest.mark.parametrize('path', sorted((REPO_ROOT / 'common').glob('*.py')), ids=lambda p: p.name)
def test_common_imports_no_framework(path):
    tree = ast.parse(path.read_text(encoding='utf-8'))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split('.')[0])
    assert not imported & set(FRAMEWORKS), f'{path.name} imports {sorted(imported & set(FRAMEWORKS))}'
