"""tools/train_digest.py without training: the comparison of two records, and its command line."""
import copy
import json
import subprocess
import sys

import numpy as np
import pytest

from common.paths import REPO_ROOT
from tools import train_digest


def _record(**models):
    return {'format': train_digest.FORMAT, 'models': {
        name: {'weights_sha256': f'w-{name}', 'state_sha256': f's-{name}',
               'arrays': {'conv/kernel': f'w:{name}', 'conv/kernel/Adam': f's:{name}'}, **entry}
        for name, entry in models.items()}}


def test_equal_records_exit_0(capsys):
    stored = _record(rdn={}, rcan={})
    assert train_digest.compare(stored, copy.deepcopy(stored), 'stored.json') == 0
    assert capsys.readouterr().out == 'all 2 equal to stored.json\n'


def test_one_state_digest_differs(capsys):
    stored = _record(rdn={}, rcan={})
    new = copy.deepcopy(stored)
    new['models']['rcan']['state_sha256'] = 'other'
    new['models']['rcan']['arrays']['conv/kernel/Adam'] = 's:other'
    assert train_digest.compare(stored, new, 'stored.json') == 1
    assert capsys.readouterr().out == 'rcan: state digest differs (arrays that differ: conv/kernel/Adam)\n'


def test_check_exits_1_with_one_line_per_differing_model(tmp_path, monkeypatch, capsys):
    """main(--check): the models are 'trained' by a stand-in, then compared with the stored file."""
    stored = _record(rdn={}, lptn={}, bsrn={})
    path = tmp_path / 'stored.json'
    path.write_text(json.dumps(stored))
    new = copy.deepcopy(stored['models'])
    new['lptn']['state_sha256'] = 'other'
    new['bsrn']['weights_sha256'] = new['bsrn']['state_sha256'] = 'other'
    monkeypatch.setattr(train_digest, 'ensure_sample_data', lambda root: None)
    monkeypatch.setattr(train_digest, 'digest_model', lambda model, tree, work, data: {**new[model], 'seconds': 1.0})
    assert train_digest.main(['--models=rdn,lptn,bsrn', f'--check={path}']) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[3:] == ['lptn: state digest differs', 'bsrn: weights and state digests differ']
    assert lines[0] == 'rdn: weights w-rdn state s-rdn 1.0 s'


def test_a_model_missing_from_the_stored_record_differs():
    assert train_digest.differences(_record(rdn={}), _record(srcnn={})) == ['srcnn: not in the stored record']


def test_numeric_leaves_are_named_and_strings_left_out():
    out = []
    train_digest._numeric('', {'model': {'w': np.ones(2)}, 'step': 3, 'tag': 'x', 'none': None,
                                'betas': (0.9, 0.99), 'groups': [{'lr': 0.1}]}, out)
    assert [name for name, _ in out] == ['model.w', 'step', 'betas', 'groups.0.lr']
    assert out[2][1].tolist() == [0.9, 0.99]


def _cli(*args):
    return subprocess.run([sys.executable, '-m', 'tools.train_digest', *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)


def test_help():
    proc = _cli('--help')
    assert proc.returncode == 0
    assert 'usage: python -m tools.train_digest' in proc.stdout and '--check' in proc.stdout


@pytest.mark.parametrize('args, message', [
    (['--models=rdn,nosuch'], 'error: --models: unknown nosuch; choose from rdn, lptn, srcnn, rcan, bsrn'),
    (['--mod=rdn'], 'error: unrecognized arguments: --mod=rdn'),
    (['--tree=/nonexistent'], 'error: --tree=/nonexistent: not a source tree of this zoo (no pytorch/rdn/train.py)'),
])
def test_bad_flags_are_one_line_errors(args, message):
    proc = _cli(*args)
    assert proc.returncode == 2
    assert proc.stderr == message + '\n'
