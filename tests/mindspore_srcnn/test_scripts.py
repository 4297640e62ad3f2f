"""scripts/: runs from one folder keep their own logs; every script can be run directly."""
import os
import subprocess
import sys

from common import paths

SCRIPTS = paths.REPO_ROOT / 'mindspore' / 'srcnn' / 'scripts'


def test_two_eval_runs_from_one_folder_keep_their_own_logs(tiny_images, random_checkpoint, tmp_path):
    env = dict(os.environ, PYTHON=sys.executable)
    cmd = ['bash', str(SCRIPTS / 'run_eval_cpu.sh'), '0', str(tiny_images), str(random_checkpoint[0])]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    logs = []
    for proc, (out, err) in zip(procs, outs):
        assert proc.returncode == 0, out + err
        lines = out.splitlines()
        assert lines[0].startswith(f'log: {tmp_path}/eval/eval_') and lines[0].endswith('.log')
        assert any(line.startswith("result  {'PSNR': ") for line in lines)       # the reference's line on stdout
        logs.append(lines[0][len('log: '):])
    assert logs[0] != logs[1]
    assert sorted(str(p) for p in (tmp_path / 'eval').iterdir()) == sorted(logs)
    for log in logs:
        text = open(log, encoding='utf-8').read()
        assert text.count("result  {'PSNR': ") == 1                             # one run's output per log


def test_every_script_is_executable():
    listed = subprocess.run(['git', 'ls-files', '-s', '--', str(SCRIPTS)], capture_output=True, text=True,
                            cwd=paths.REPO_ROOT, check=True).stdout.splitlines()
    assert listed
    for entry in listed:
        mode, _, _, name = entry.split(maxsplit=3)
        assert mode == '100755', f'{name} lacks its run bit in git'
        assert os.access(paths.REPO_ROOT / name, os.X_OK), f'{name} is not executable'
