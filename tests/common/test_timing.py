"""common.timing: latency per input and calls per second."""
import time

import pytest

from common.timing import best_calls_per_second, calls_per_second, latency_ms, median_seconds


def test_latency_is_the_median_per_input_after_a_warm_up():
    calls = []

    def predict(x):
        calls.append(x)
        time.sleep(0.02 if x == 'slow' else 0.0)

    ms = latency_ms(predict, ['slow', 'fast'], repeats=3)
    assert calls == ['slow', 'fast'] + ['slow'] * 3 + ['fast'] * 3
    assert 10.0 <= ms < 30.0                 # (about 20 + about 0) / 2
    with pytest.raises(ValueError, match='no inputs'):
        latency_ms(predict, [])


def test_calls_per_second_times_a_window_after_one_warm_up():
    count = []
    rate = calls_per_second(lambda: (count.append(1), time.sleep(0.01)), seconds=0.1)
    assert 30 < rate < 110 and len(count) >= 1 + 2


def test_median_seconds_per_input():
    seconds = median_seconds(lambda x: time.sleep(x), [0.02, 0.0], repeats=3)
    assert len(seconds) == 2 and 0.015 < seconds[0] < 0.1 and seconds[1] < 0.01


def test_best_calls_per_second_keeps_the_fastest_window():
    delays = iter([0.0] + [0.03] * 3 + [0.005] * 200)          # warm-up, a slow first window, then fast ones
    rate = best_calls_per_second(lambda: time.sleep(next(delays)), windows=2, seconds=0.05)
    assert rate > 60                                           # the fast window (about 1 / 0.005), not ~33
