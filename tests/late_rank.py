"""Run a training script with one rank starting late: ``python late_rank.py SECONDS SCRIPT ARGS...``.

Rank 1 (``RANK`` from torchrun, ``RANK_ID`` from msrun) sleeps ``SECONDS`` before it runs ``SCRIPT``; the others start at once.
The distributed tests start through it to prove a fast rank's failure cannot cut a slow rank's error
line short.
"""
import os
import runpy
import sys
import time

if __name__ == '__main__':
    seconds, script = float(sys.argv[1]), sys.argv[2]
    if os.environ.get('RANK', os.environ.get('RANK_ID')) == '1':
        time.sleep(seconds)
    sys.argv = [script, *sys.argv[3:]]
    sys.path[0] = os.path.dirname(os.path.abspath(script))     # as `python SCRIPT` would have it
    runpy.run_path(script, run_name='__main__')
