"""Run a training script with one rank starting late: ``python late_rank.py SECONDS SCRIPT ARGS...``.

Rank 1 (``RANK`` from torchrun, ``RANK_ID`` from msrun, worker 1 of ``TF_CONFIG``) sleeps ``SECONDS``
before it runs ``SCRIPT``; the others start at once. The distributed tests start through it to prove
that a fast rank's failure cannot cut a slow rank's error line short.
"""
import json
import os
import runpy
import sys
import time


def rank():
    task = json.loads(os.environ.get('TF_CONFIG', '{}')).get('task', {})
    if task:
        return str(task.get('index')) if task.get('type') == 'worker' else None
    return os.environ.get('RANK', os.environ.get('RANK_ID'))


if __name__ == '__main__':
    seconds, script = float(sys.argv[1]), sys.argv[2]
    if rank() == '1':
        time.sleep(seconds)
    sys.argv = [script, *sys.argv[3:]]
    sys.path[0] = os.path.dirname(os.path.abspath(script))     # as `python SCRIPT` would have it
    runpy.run_path(script, run_name='__main__')
