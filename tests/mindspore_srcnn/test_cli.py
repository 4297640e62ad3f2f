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


def last_error(proc):
    """The error line of a failed run, after checking it is the only output on stderr besides warnings."""
    assert proc.returncode == 2, proc.stderr
    assert 'Traceback' not in proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if line.startswith('error: ')]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_bad_values_and_unusable_paths_are_one_line(tmp_path):
    plain = tmp_path / 'plain'
    plain.write_text('x')
    src = tmp_path / 'src'
    src.mkdir()
    error = last_error(run('src/create_dataset.py', f'--src_folder={src}', f'--output_folder={tmp_path / "o"}',
                           '--stride=0', cwd=tmp_path))
    assert error == 'error: --stride must be a positive integer, got 0'
    error = last_error(run('src/create_dataset.py', f'--src_folder={src}', f'--output_folder={plain / "o"}',
                           cwd=tmp_path))
    assert error == f'error: --output_folder={plain / "o"}: cannot create it, {plain} is a file, not a folder'
    error = last_error(run('preprocess.py', f'--image_path={tmp_path / "nowhere"}', f'--output_path={tmp_path / "p"}',
                           cwd=tmp_path))
    assert error == f'error: --image_path={tmp_path / "nowhere"}: no such file or folder'
    empty_ckpt = tmp_path / 'empty.ckpt'
    empty_ckpt.write_bytes(b'')
    error = last_error(run('export.py', f'--checkpoint_path={empty_ckpt}', f'--file_name={tmp_path}',
                           '--device_target=CPU', cwd=tmp_path))
    assert error == f'error: --checkpoint_path={empty_ckpt}: empty file (0 bytes), not a MindSpore checkpoint'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['empty.ckpt', 'plain', 'src']


def test_an_os_error_is_one_line_naming_the_file(srcnn, capsys):
    def fails():
        raise PermissionError(13, 'Permission denied', '/data/out/x.bin')
    try:
        srcnn.utils.run_cli(fails)
    except SystemExit as exc:
        assert exc.code == 2
    assert capsys.readouterr().err == 'error: /data/out/x.bin: Permission denied\n'
