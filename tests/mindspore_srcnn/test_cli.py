"""The entry scripts as users run them: one-line errors with a non-zero exit, --help."""
import os
import subprocess
import sys

from common import paths

SRCNN_DIR = paths.REPO_ROOT / 'mindspore' / 'srcnn'


def _user_env():
    """The environment without PYTHONPATH: the scripts need none."""
    return {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}


def run(script, *args, cwd=None):
    return subprocess.run([sys.executable, str(SRCNN_DIR / script), *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd or paths.REPO_ROOT, env=_user_env())


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


def test_every_entry_point_uses_the_one_cli_layer(srcnn):
    """Error lines, exit codes and booleans come from common.cli, as for every other model."""
    from common import cli
    for name in ('train', 'eval', 'test', 'export', 'eval_onnx', 'preprocess', 'infer_mindir', 'postprocess',
                 'create_dataset'):
        assert getattr(srcnn, name).run_cli is cli.run_cli, name
    assert not hasattr(srcnn.utils, 'run_cli') and not hasattr(srcnn.utils, 'error_line')
    assert srcnn.config.flag_type(True) is cli.str2bool and srcnn.config.flag_type(3) is cli.int_flag


def test_readme_commands_work_from_the_model_folder_without_pythonpath(tmp_path):
    """`cd mindspore/srcnn; python src/create_dataset.py ...` (the reference's command), `python train.py`."""
    def here(*args):
        return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, cwd=SRCNN_DIR,
                              env=_user_env())
    made = here('src/create_dataset.py', f'--src_folder={tmp_path / "nowhere"}', f'--output_folder={tmp_path / "o"}')
    assert made.returncode == 2
    assert made.stderr.strip().splitlines()[-1] == f'error: --src_folder={tmp_path / "nowhere"}: no such folder'
    assert here('-m', 'src.create_dataset', '--help').returncode == 0
    proc = here('train.py', '--help')
    assert proc.returncode == 0 and '--resume BOOL' in proc.stdout
    proc = here('train.py', f'--data_path={tmp_path / "none"}', f'--output_path={tmp_path / "out"}', '--resume=yes',
                '--device_target=CPU')
    assert proc.returncode == 2                                  # --resume=yes is taken; the data is missing
    assert proc.stderr.strip().splitlines()[-1].startswith(f'error: --data_path={tmp_path / "none"}')


def test_entry_scripts_and_src_edit_no_path():
    """`common` is an installed package and `python train.py` puts the model folder on sys.path: no
    script or module edits sys.path (or needs `# noqa: E402`), except the one explained bootstrap of
    src/create_dataset.py, which the reference runs as `python src/create_dataset.py`."""
    files = [SRCNN_DIR / f'{name}.py' for name in ('train', 'eval', 'test', 'export', 'eval_onnx', 'preprocess',
                                                   'infer_mindir', 'postprocess')]
    files += sorted((SRCNN_DIR / 'src').rglob('*.py'))
    edits = {}
    for path in files:
        lines = [line for line in path.read_text(encoding='utf-8').splitlines() if not line.lstrip().startswith('#')]
        found = [line.strip() for line in lines if 'sys.path' in line or 'noqa: E402' in line]
        if found:
            edits[path.relative_to(SRCNN_DIR).as_posix()] = found
    assert edits == {'src/create_dataset.py': ['sys.path.insert(0, str(Path(__file__).resolve().parents[1]))']}
