"""common.timing: latency per input and calls per second."""
import time

import pytest

from common.timing import calls_per_second, latency_ms


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
