"""Helpers for the tests that start real multi-process clusters: free ports, a launch that can be killed
at a chosen log line, and a check that no process of a stopped cluster is left."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from common import paths

TF_LAUNCH = paths.REPO_ROOT / 'tensorflow' / 'tfzoo' / 'launch.py'
LATE_RANK = Path(__file__).with_name('late_rank.py')      # rank 1 starts late: see that file


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

    With ``kill_at`` (a line prefix of the chief's output), send SIGKILL to ``kill_task`` (a task such as
    'worker_1', or 'launcher') as soon as that line appears. Returns a namespace: returncode, output (the launcher's), pids, killed.
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
            os.kill(proc.pid if kill_task == 'launcher' else pids[kill_task], signal.SIGKILL)
            killed = True
        if time.time() > deadline:
            proc.kill()
            break
    proc.wait(timeout=60)
    pids = json.loads((log_dir / 'tasks.json').read_text())['pids'] if (log_dir / 'tasks.json').exists() else {}
    return SimpleNamespace(returncode=proc.returncode, output=''.join(lines), pids=pids, killed=killed)


def killed_then_resumed(command, out, kill_at, workers=2):
    """Run ``command`` in a cluster, SIGKILL worker 1 at the chief's line ``kill_at``, then run it again
    with ``--resume=True``. Returns (killed run, resumed run), each as :func:`tf_cluster` returns it."""
    killed = tf_cluster(workers, out / 'logs_killed', command, out, kill_at=kill_at)
    again = tf_cluster(workers, out / 'logs_resumed', [*command, '--resume=True'], out)
    return killed, again


def check_killed_then_resumed(killed, again, checkpoint_pattern, steps):
    """The killed run stopped every task with exit 1; the resumed one restarted from a checkpoint
    (``checkpoint_pattern``: a regex whose group 1 is its step, in the chief's 'resuming from' line) taken
    at step 8 or later and finished. Returns that step."""
    assert killed.killed and killed.returncode == 1, killed.output[-2000:]
    assert 'launch.py: worker 1 exited with code -9; stopping the cluster' in killed.output
    assert not any(alive(pid) for pid in killed.pids.values())
    assert again.returncode == 0, again.output[-2000:]
    found = re.search(rf'resuming from \S*{checkpoint_pattern} \(global step (\d+)\)', again.output)
    assert found and found.group(1) == found.group(2), again.output[-2000:]
    assert 8 <= int(found.group(1)) < steps
    assert not any(alive(pid) for pid in again.pids.values())
    return int(found.group(1))


def survivors(marker):
    """Processes still running whose command line holds ``marker`` (a stopped job must leave none)."""
    found = []
    for entry in Path('/proc').iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / 'cmdline').read_bytes().decode(errors='replace'):
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def kill_rank0_when(proc, marker, seen):
    """Read the torchrun job ``proc``'s output until ``seen(line)``; then SIGKILL its RANK=0 process (one
    whose command line holds ``marker``), wait for the job to fail, and check that no process of it is
    left. Returns the killed pid."""
    victim = None
    for line in proc.stdout:
        if seen(line):
            victim = next(pid for pid in survivors(marker) if pid != proc.pid and
                          b'RANK=0\0' in Path(f'/proc/{pid}/environ').read_bytes())
            os.kill(victim, signal.SIGKILL)
            break
    proc.stdout.read()
    assert proc.wait(timeout=120) != 0 and victim is not None
    deadline = time.time() + 30
    while survivors(marker) and time.time() < deadline:
        time.sleep(0.2)
    assert survivors(marker) == []
    return victim


# --- comparing a data-parallel training with its one-process equivalent ---------------------------

DRIFT_TOLERANCE = 0.05
SLOTS = ('Adam', 'Adam_1')          # the optimizer's slot variables: '<variable>/Adam' (m), '<variable>/Adam_1' (v)


def drift(got, want, initial):
    """How far ``got`` is from ``want`` relative to how far training moved ``want``:
    ``||got - want|| / ||want - initial||`` over all the arrays given (float64).

    Two trainings that do the same mathematics in another float order (other kernels, other batch
    blocking, another CPU) differ by rounding that Adam amplifies where a gradient is near zero: single
    elements may move by a large fraction of their own value (rtol-style checks then fail), while a
    variable as a whole stays within about a thousandth of its own change. A lost gradient or a doubled
    step changes the trajectory itself (tens of percent and more).

    Args:
        got, want, initial (dict[str, np.ndarray]): Arrays by name (``want``'s names are compared).

    Returns:
        float: The ratio.
    """
    import numpy as np

    def flat(arrays):
        return np.concatenate([np.asarray(arrays[n], np.float64).ravel() for n in want])
    moved = float(np.linalg.norm(flat(want) - flat(initial)))
    return float(np.linalg.norm(flat(got) - flat(want))) / max(moved, 1e-30)


def training_mismatches(got, want, initial, tolerance=DRIFT_TOLERANCE):
    """What makes ``got`` another training than ``want`` (both: variables by name after the same steps
    from the same ``initial`` values). Returns ``[(what, ratio or (got, want))]``, empty when alike:

    * Adam's beta powers (``*_power``: a function of the step count alone) beyond float rounding;
    * a weight whose :func:`drift` exceeds ``tolerance``;
    * the first (``*/Adam``) or second (``*/Adam_1``) moments taken together whose drift exceeds it:
      they are gradient statistics, and a tiny variable whose gradient is mostly rounding (a 4-element
      bias behind a ReLU) carries a relative noise of a few percent of its own moments.
    """
    import numpy as np
    powers = [n for n in want if n.endswith('_power')]
    bad = [(n, (float(got[n]), float(want[n]))) for n in powers if not np.isclose(got[n], want[n], rtol=1e-6, atol=0)]
    slots = {slot: [n for n in want if n.rsplit('/', 1)[-1] == slot] for slot in SLOTS}
    weights = [n for n in want if n not in powers and not any(n in names for names in slots.values())]
    ratios = [(n, drift(got, {n: want[n]}, initial)) for n in weights]
    ratios += [(f'*/{slot}', drift(got, {n: want[n] for n in names}, initial)) for slot, names in slots.items() if names]
    bad += sorted(((n, r) for n, r in ratios if not r <= tolerance), key=lambda item: -item[1])
    return bad


def drift_report(got, want, initial):
    """The largest drift of a weight and of each moment kind (for messages)."""
    slots = {slot: [n for n in want if n.rsplit('/', 1)[-1] == slot] for slot in SLOTS}
    weights = [n for n in want if not n.endswith('_power') and not any(n in names for names in slots.values())]
    worst = max(weights, key=lambda n: drift(got, {n: want[n]}, initial))
    parts = [f'weights: at most {drift(got, {worst: want[worst]}, initial):.4g} ({worst})']
    parts += [f'*/{slot}: {drift(got, {n: want[n] for n in names}, initial):.4g}' for slot, names in slots.items() if names]
    return '; '.join(parts)
