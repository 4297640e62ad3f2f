"""numba, where it imports: one decorator for the compiled kernels of common/ (resize, SSIM, colour).

Every kernel has a numpy twin that runs when numba is missing, and tests hold the two together.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

try:
    import numba
except ImportError:           # numba is pinned in requirements.txt; without it the numpy paths run
    numba = None

__all__ = ['numba', 'numba_kernel', 'run_split']


def numba_kernel(fn):
    """``numba.njit(nogil=True)``, with numba's on-disk cache where it finds a writable place for one.

    No fastmath: compiled code does IEEE float64 arithmetic in the order written. Without numba the
    function is returned unchanged (callers then take their numpy path).
    """
    if numba is None:
        return fn
    try:
        return numba.njit(nogil=True, cache=True)(fn)
    except RuntimeError:         # numba raises this when no cache locator is writable (read-only tree)
        return numba.njit(nogil=True)(fn)


_POOL_LOCK = threading.Lock()
_POOL = {'pid': None, 'executor': None}


def _cores():
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else (os.cpu_count() or 1)


def _executor():
    """The module's worker threads (one per core), created on first use and again after a fork."""
    with _POOL_LOCK:
        if _POOL['pid'] != os.getpid():
            _POOL['executor'] = ThreadPoolExecutor(max_workers=_cores(), thread_name_prefix='common-jit')
            _POOL['pid'] = os.getpid()
        return _POOL['executor']


def run_split(kernel, n_items, args, threaded=True):
    """Call ``kernel(*args, start, stop)`` over ``range(n_items)``: on this thread, or shared out.

    Shared out, the range is cut into up to four pieces per core (so a core slowed by other work
    takes fewer) that the module's worker threads pick up in turn; ``kernel`` should release the
    GIL (``numba_kernel`` does). 

    Args:
        kernel (Callable): Called as ``kernel(*args, start, stop)``.
        n_items (int): Length of the range to cover.
        args (tuple): Leading arguments of every call.
        threaded (bool): Share the range out (when there are two cores or more). Default: True.

    Returns:
        list: The calls' results, in range order.
    """
    cores = _cores()
    if not threaded or cores < 2 or n_items < 2:
        return [kernel(*args, 0, n_items)]
    bounds = np.linspace(0, n_items, min(n_items, 4 * cores) + 1).round().astype(np.int64)
    pool = _executor()
    jobs = [pool.submit(kernel, *args, int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    return [job.result() for job in jobs]
