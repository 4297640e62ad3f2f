"""The entry scripts as users run them: one-line errors with a non-zero exit, --help."""
import subprocess
import sys

from common import paths

SRCNN_DIR = paths.REPO_ROOT / 'mindspore' / 'srcnn'


def run(script, *args, cwd=None):
    return subprocess.run([sys.executable, str(SRCNN_DIR / script), *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd or paths.REPO_ROOT)


def test_errors_are_one_line_and_exit_non_zero(tmp_path):
    proc = run('src/create_dataset.py', f'--src_folder={tmp_path / "nowhere"}', f'--output_folder={tmp_path / "o"}',
               '--stride=14', cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == f'error: --src_folder={tmp_path / "nowhere"}: no such folder'
    assert 'Traceback' not in proc.stderr
    proc = run('eval.py', '--data_path=.', '--checkpoint_path=x.ckpt', '--lerning_rate=1', cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: unknown option '--lerning_rate': not a key of ")
    assert list(tmp_path.iterdir()) == []        # nothing written into the working directory


def test_help_lists_the_config_keys():
    proc = run('train.py', '--help')
    assert proc.returncode == 0
    for flag in ('--config_path', '--lr FLOAT', '--keep_checkpoint_max INT', '--resume BOOL', '--amp_level STR'):
        assert flag in proc.stdout
