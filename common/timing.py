"""Timing for benches, framework-free: per-image latency and calls per second of a warm callable."""
import time

import numpy as np

__all__ = ['latency_ms', 'calls_per_second']


def latency_ms(predict, inputs, repeats=3):
    """Mean over the inputs of the median time of ``repeats`` warm calls ``predict(x)``, in milliseconds.

    Every input is run once first (warm-up: graph building, allocations, caches).

    Args:
        predict (callable): ``predict(x)``; its result is discarded.
        inputs (list): The inputs, e.g. the LR images of a test set.
        repeats (int): Timed calls per input. Default: 3.

    Returns:
        float: Milliseconds per input.
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
        per_input.append(np.median(times))
    return 1000.0 * float(np.mean(per_input))


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
    calls, start = 0, time.perf_counter()
    while calls < min_calls or time.perf_counter() - start < seconds:
        fn()
        calls += 1
    return calls / (time.perf_counter() - start)
