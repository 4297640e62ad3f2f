"""Timing for benches, framework-free: per-input latency and calls per second of a warm callable."""
import time

import numpy as np

__all__ = ['median_seconds', 'latency_ms', 'calls_per_second', 'best_calls_per_second']


def median_seconds(predict, inputs, repeats=3):
    """The median time of ``repeats`` warm calls ``predict(x)`` for each input, in seconds.

    Every input is run once first (warm-up: graph building, allocations, caches).

    Args:
        predict (callable): ``predict(x)``; its result is discarded.
        inputs (list): The inputs, e.g. the LR images of a test set.
        repeats (int): Timed calls per input. Default: 3.

    Returns:
        list[float]: One median per input, in the order of ``inputs``.
    """
    inputs = list(inputs)
    if not inputs:
        raise ValueError('latency_ms: no inputs to time')
    for x in inputs:
        predict(x)
    per_input = []
    for x in inputs:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            predict(x)
            times.append(time.perf_counter() - start)
        per_input.append(float(np.median(times)))
    return per_input


def latency_ms(predict, inputs, repeats=3):
    """Mean over the inputs of :func:`median_seconds`, in milliseconds.

    Args:
        predict (callable): ``predict(x)``; its result is discarded.
        inputs (list): The inputs, e.g. the LR images of a test set.
        repeats (int): Timed calls per input. Default: 3.

    Returns:
        float: Milliseconds per input.
    """
    return 1000.0 * float(np.mean(median_seconds(predict, inputs, repeats)))


def _window(fn, seconds, min_calls):
    calls, start = 0, time.perf_counter()
    while calls < min_calls or time.perf_counter() - start < seconds:
        fn()
        calls += 1
    return calls / (time.perf_counter() - start)


def calls_per_second(fn, seconds=3.0, min_calls=2):
    """How often ``fn()`` runs per second, after one warm-up call, timed for at least ``seconds``.

    Args:
        fn (callable): ``fn()``; its result is discarded.
        seconds (float): Shortest timing window. Default: 3.0.
        min_calls (int): Fewest timed calls. Default: 2.

    Returns:
        float: Calls per second.
    """
    fn()
    return _window(fn, seconds, min_calls)


def best_calls_per_second(fn, windows=3, seconds=1.0, min_calls=2):
    """The fastest of ``windows`` back-to-back timing windows of ``fn()``, after one warm-up call.

    The rate the machine gives while other load leaves it alone: what a yardstick, a ceiling to compare
    with, should be (the mean over one long window would count the other jobs' share as slowness).

    Args:
        fn (callable): ``fn()``; its result is discarded.
        windows (int): Timing windows. Default: 3.
        seconds (float): Shortest length of each. Default: 1.0.
        min_calls (int): Fewest timed calls in each. Default: 2.

    Returns:
        float: Calls per second in the fastest window.
    """
    fn()
    return max(_window(fn, seconds, min_calls) for _ in range(windows))
