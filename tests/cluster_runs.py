"""Helpers for the tests that start real multi-process clusters: free ports, a launch that can be killed
at a chosen log line, and a check that no process of a stopped cluster is left."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from types import SimpleNamespace

from common import paths

TF_LAUNCH = paths.REPO_ROOT / 'tensorflow' / 'tfzoo' / 'launch.py'


def free_ports(count):
    """A first port of ``count`` consecutive ports that are free on 127.0.0.1 now."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            base = s.getsockname()[1]
        if base + count >= 65535:
            continue
        try:
            held = []
            for port in range(base, base + count):
                t = socket.socket()
                held.append(t)
                t.bind(('127.0.0.1', port))
            return base
        except OSError:
            continue
        finally:
            for t in held:
                t.close()
    raise RuntimeError('no free port range')


def alive(pid):
    """Whether process ``pid`` still runs (a zombie counts as gone)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except FileNotFoundError:
        return False


def tf_cluster(workers, log_dir, command, cwd, kill_at=None, kill_task='worker_1', timeout=300):
    """Run ``command`` in a launch.py cluster of 1 ps and ``workers`` workers.

    With ``kill_at`` (a line prefix of the chief's output), send SIGKILL to ``kill_task`` as soon as
    that line appears. Returns a namespace: returncode, output (the launcher's), pids, killed.
    """
    cmd = [sys.executable, str(TF_LAUNCH), f'--num_workers={workers}', f'--port={free_ports(workers + 1)}',
           f'--log_dir={log_dir}', '--', sys.executable, *map(str, command)]
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd, env=env)
    lines, killed, deadline = [], False, time.time() + timeout
    for line in proc.stdout:
        lines.append(line)
        if kill_at and not killed and line.startswith(kill_at):
            pids = json.loads((log_dir / 'tasks.json').read_text())['pids']
            os.kill(pids[kill_task], signal.SIGKILL)
            killed = True
        if time.time() > deadline:
            proc.kill()
            break
    proc.wait(timeout=60)
    pids = json.loads((log_dir / 'tasks.json').read_text())['pids'] if (log_dir / 'tasks.json').exists() else {}
    return SimpleNamespace(returncode=proc.returncode, output=''.join(lines), pids=pids, killed=killed)
