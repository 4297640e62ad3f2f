"""common.distributed: free-port check, shards, and a bad input that ends every rank with one line.

The ranks are simulated by a gather that returns what the other ranks would have sent; the real
launches are the models' distributed tests (torchrun, msrun, the TF cluster).
"""
import socket

import pytest

from common.distributed import agree, check_port_free, every_rank, exit_together, shard_indices


def test_a_port_in_use_is_one_line_naming_the_setting():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(OSError, match=rf'^MASTER_PORT: port 127.0.0.1:{port} is in use'):
            check_port_free(f'127.0.0.1:{port}', 'MASTER_PORT')


def test_shards_cover_every_item_once():
    shards = [shard_indices(10, r, 3, 'images') for r in range(3)]
    assert sorted(i for s in shards for i in s) == list(range(10))


def test_every_rank_passes_the_result_when_no_rank_failed():
    sent, waits = [], []
    assert every_rank(lambda: 7, lambda m: sent.append(m) or [m, None], lambda: waits.append(1)) == 7
    assert sent == [None] and waits == []


def test_a_failure_on_another_rank_ends_this_one_with_its_line_after_the_barrier(capsys):
    events = []

    def barrier():
        events.append(('barrier', capsys.readouterr().err))    # the line is written before the wait

    with pytest.raises(SystemExit) as stop:
        every_rank(lambda: 7, lambda m: [m, 'x: bad data'], barrier)
    assert stop.value.code == 2 and events == [('barrier', 'error: x: bad data\n')]


def test_this_rank_failing_sends_its_line_and_exits_2(capsys):
    sent = []

    def check():
        raise ValueError('--data_path=/d: no shard')

    with pytest.raises(SystemExit) as stop:
        every_rank(check, lambda m: sent.append(m) or [m, m], lambda: None)
    assert stop.value.code == 2 and sent == ['--data_path=/d: no shard']
    assert capsys.readouterr().err == 'error: --data_path=/d: no shard\n'
    with pytest.raises(SystemExit):
        exit_together('one line', lambda: None)
    assert capsys.readouterr().err == 'error: one line\n'


def test_agree_gives_every_rank_the_roots_result_or_its_line(capsys):
    sent = []

    def share(outcome):                                          # the root's outcome, as a broadcast gives it
        sent.append(outcome)
        return sent[0]

    assert agree(lambda: {'step': 4}, True, share, lambda: None) == {'step': 4}
    assert sent == [('ok', {'step': 4})]

    def refuse():
        raise OSError('--output_path=/o: exists; pass --resume=True to continue it')

    waits = []
    with pytest.raises(SystemExit) as stop:
        agree(refuse, True, lambda o: o, lambda: waits.append(capsys.readouterr().err))
    assert stop.value.code == 2 and waits == ['error: --output_path=/o: exists; pass --resume=True to continue it\n']
    ran = []
    with pytest.raises(SystemExit):                              # another rank: the step is not run here
        agree(lambda: ran.append(1), False, lambda o: ('error', 'x: refused'), lambda: None)
    assert ran == [] and capsys.readouterr().err == 'error: x: refused\n'
