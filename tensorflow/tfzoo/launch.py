"""Start a TensorFlow parameter-server cluster on this machine and run a training script in it.

    python tensorflow/tfzoo/launch.py --num_workers 2 -- python3 tensorflow/rcan/main.py --mode train ...

Starts ``--num_ps`` parameter servers and ``--num_workers`` workers, each a copy of the command with
its own ``TF_CONFIG`` (tfzoo.cluster) on consecutive ports from ``--port``. Worker 0 (the chief: it
applies the updates and writes checkpoints, logs and records) prints to this terminal; every task also
writes ``--log_dir/{ps,worker}_{i}.log`` (and ``tasks.json``: the cluster and each task's pid). When every worker has finished, the parameter servers are
stopped and the exit code is 0. When any task fails or dies (even by SIGKILL), or this launcher is
stopped, every other task is killed and the exit code is non-zero: nothing is left running. A worker
that ended with bad input (exit code 2, one ``error:`` line) first gives the other workers up to
``BAD_INPUT_GRACE`` seconds to end by themselves: they make the same checks, and each log then holds
its own line.

For several machines, start the same command on each with its own ``TF_CONFIG`` instead (docs/scaling.md).
"""
import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from common.cli import FlagParser, run_cli
from common.distributed import check_port_free

PR_SET_PDEATHSIG = 1
BAD_INPUT_GRACE = 20.0          # seconds


def _die_with_parent():
    """Child side: receive SIGKILL when the launcher dies (so a killed launcher leaves no task behind)."""
    try:
        ctypes.CDLL('libc.so.6', use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def cluster_spec(num_ps, num_workers, host, port):
    ports = iter(range(port, port + num_ps + num_workers))
    return {'ps': [f'{host}:{next(ports)}' for _ in range(num_ps)],
            'worker': [f'{host}:{next(ports)}' for _ in range(num_workers)]}


def build_parser():
    p = FlagParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--num_workers', type=int, default=2, help='worker processes')
    p.add_argument('--num_ps', type=int, default=1, help='parameter-server processes')
    p.add_argument('--host', default='127.0.0.1', help='address every task listens on')
    p.add_argument('--port', type=int, default=2222, help='first port (ps first, then workers)')
    p.add_argument('--log_dir', default='cluster_logs', help='one log file per task')
    p.add_argument('command', nargs=argparse.REMAINDER, help='-- then the training command')
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    command = args.command[1:] if args.command[:1] == ['--'] else args.command
    if not command:
        raise ValueError('launch.py: give the training command after --')
    if args.num_workers < 1 or args.num_ps < 1:
        raise ValueError(f'--num_workers={args.num_workers} / --num_ps={args.num_ps}: both must be >= 1')
    spec = cluster_spec(args.num_ps, args.num_workers, args.host, args.port)
    for job, hosts in spec.items():
        for i, address in enumerate(hosts):
            check_port_free(address, f'launch.py {job} {i} (--port={args.port})')
    log_dir = Path(args.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    tasks = {}
    for job in ('ps', 'worker'):
        for i in range(len(spec[job])):
            env = dict(os.environ, TF_CONFIG=json.dumps({'cluster': spec, 'task': {'type': job, 'index': i}}))
            log = open(log_dir / f'{job}_{i}.log', 'wb')
            chief = job == 'worker' and i == 0
            out = subprocess.PIPE if chief else log
            tasks[(job, i)] = (subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                                preexec_fn=_die_with_parent), log)
    pids = {f'{job}_{i}': p.pid for (job, i), (p, _) in tasks.items()}
    (log_dir / 'tasks.json').write_text(json.dumps({'cluster': spec, 'pids': pids}, indent=1) + '\n')
    print(f'launch.py: {args.num_ps} ps + {args.num_workers} workers ({json.dumps(spec)}); logs in {log_dir}',
          flush=True)
    return _supervise(tasks)


def _supervise(tasks):
    chief, chief_log = tasks[('worker', 0)]
    os.set_blocking(chief.stdout.fileno(), False)
    stopping = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda s, _f: stopping.append(s))
    code = 0
    try:
        while not stopping:
            _pump(chief, chief_log)
            failed = [(k, p.returncode) for k, (p, _) in tasks.items()
                      if p.poll() is not None and (k[0] == 'ps' or p.returncode != 0)]
            if failed:
                (job, i), rc = failed[0]
                print(f'launch.py: {job} {i} exited with code {rc}; stopping the cluster', file=sys.stderr, flush=True)
                code = 1
                if job == 'worker' and rc == 2:
                    _let_workers_end(tasks, chief, chief_log, stopping)
                break
            if all(p.poll() is not None for (job, _), (p, _) in tasks.items() if job == 'worker'):
                break
            time.sleep(0.1)
        if stopping:
            code = 128 + stopping[0]
    finally:
        for p, _ in tasks.values():
            if p.poll() is None:
                p.kill()
        for p, log in tasks.values():
            p.wait()
        _pump(chief, chief_log)
        for _, log in tasks.values():
            log.close()
    return code


def _let_workers_end(tasks, chief, chief_log, stopping):
    """Wait up to BAD_INPUT_GRACE seconds for every worker to end by itself."""
    deadline = time.time() + BAD_INPUT_GRACE
    while not stopping and time.time() < deadline:
        _pump(chief, chief_log)
        if all(p.poll() is not None for (job, _), (p, _) in tasks.items() if job == 'worker'):
            return
        time.sleep(0.1)


def _pump(proc, log):
    """Copy what the chief printed to this terminal and to its log."""
    try:
        data = proc.stdout.read()
    except (BlockingIOError, ValueError):
        return
    if data:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        log.write(data)


if __name__ == '__main__':
    sys.exit(run_cli(main))
