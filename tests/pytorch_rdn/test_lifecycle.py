"""torchzoo.lifecycle, the training loop RDN and LPTN share: counting, positioning the sampler after a
resume, stopping at the total, timing all but the first step, ranks.json, and the run folder."""
import json

import pytest
import torch

from common.runs import CheckpointDir, weights_digest
from torchzoo import dist, lifecycle


class KeySampler:
    """``(epoch, index)`` keys of ``n`` samples; ``set_epoch`` skips the steps already done."""

    def __init__(self, n, batch):
        self.n, self.batch, self.epoch, self.start = n, batch, 0, 0

    def set_epoch(self, epoch, start_step=0):
        self.epoch, self.start = epoch, start_step

    def __iter__(self):
        return iter([(self.epoch, i) for i in range(self.start * self.batch, self.n)])


def batches_of(sampler):
    """A loader: the sampler's keys in batches."""
    class Loader:
        def __iter__(self):
            keys = list(sampler)
            return iter([keys[k:k + sampler.batch] for k in range(0, len(keys), sampler.batch)])
    return Loader()


class Record(lifecycle.Recipe):
    def __init__(self):
        self.events = []

    def begin_epoch(self, t):
        self.events.append(('begin', t.epoch, t.in_epoch))

    def step(self, batch, t):
        return batch

    def after_step(self, batch, t):
        self.events.append(('step', t.global_step, t.epoch, t.in_epoch, batch))

    def end_epoch(self, t):
        self.events.append(('end', t.epoch, t.in_epoch))


def training(total, record_ranks=False, n=6, batch=2):
    sampler = KeySampler(n, batch)
    run = lifecycle.Training(dist.plan_from_env('cpu', {}), sampler, -(-n // batch), total, batch, record_ranks)
    return run, batches_of(sampler)


def test_epochs_steps_and_the_stop():
    run, loader = training(total=7)                  # 3 steps an epoch: epochs 1, 2 and one step of 3
    recipe = Record()
    run.loop(recipe, loader)
    steps = [e for e in recipe.events if e[0] == 'step']
    assert [s[1:4] for s in steps] == [(1, 1, 1), (2, 1, 2), (3, 1, 3), (4, 2, 1), (5, 2, 2), (6, 2, 3), (7, 3, 1)]
    assert steps[0][4] == [(0, 0), (0, 1)] and steps[3][4] == [(1, 0), (1, 1)]
    assert [e for e in recipe.events if e[0] != 'step'] == [('begin', 1, 0), ('end', 1, 3), ('begin', 2, 0),
                                                            ('end', 2, 3), ('begin', 3, 0), ('end', 3, 1)]
    assert (run.global_step, run.steps_run, run.epoch, run.in_epoch) == (7, 7, 3, 1)


def test_a_resumed_run_continues_inside_its_epoch_with_the_same_batches():
    run, loader = training(total=7)
    state = torch.get_rng_state()
    torch.rand(3)
    run.restore(4, 12.5, {'torch': state})        # as if a checkpoint after step 4 (epoch 2, step 1)
    assert torch.equal(torch.get_rng_state(), state) and run.seconds_before == 12.5
    recipe = Record()
    run.loop(recipe, loader)
    assert recipe.events[0] == ('begin', 2, 1)
    assert [e[1:5] for e in recipe.events if e[0] == 'step'] == [(5, 2, 2, [(1, 2), (1, 3)]),
                                                               (6, 2, 3, [(1, 4), (1, 5)]), (7, 3, 1, [(2, 0), (2, 1)])]
    assert run.steps_run == 3 and run.train_seconds() >= 12.5


def test_nothing_left_to_do_runs_no_epoch():
    run, loader = training(total=3)
    run.restore(3, 0.0, {})
    recipe = Record()
    run.loop(recipe, loader)
    assert recipe.events == [] and run.steps_run == 0 and run.images_per_sec() is None


def test_the_first_step_is_not_timed_and_ranks_json_records_the_keys(tmp_path):
    run, loader = training(total=1, record_ranks=True)
    run.loop(Record(), loader)
    assert run.images_per_sec() is None               # one step: the warm-up only
    run, loader = training(total=4, record_ranks=True)
    run.loop(Record(), loader)
    fps = run.images_per_sec()
    assert fps > 0
    net = torch.nn.Linear(2, 3)
    run.write_ranks(tmp_path, lifecycle.weight_arrays({'net.': net, 'none.': None}), fps)
    record = json.loads((tmp_path / 'ranks.json').read_text())
    assert (record['world_size'], record['batch_per_rank'], record['steps'], record['images_per_sec']) == (1, 2, 4, fps)
    assert record['ranks'][0]['samples'] == [[0, i] for i in range(6)] + [[1, 0], [1, 1]]
    arrays = [(f'net.{k}', v.numpy()) for k, v in net.state_dict().items()]
    assert record['ranks'][0]['weights_sha256'] == weights_digest(arrays)


def test_bfloat16_weights_are_digested_as_float32():
    net = torch.nn.Linear(2, 2)
    arrays = dict(lifecycle.weight_arrays({'': net.to(torch.bfloat16)}))
    assert arrays['weight'].dtype.name == 'float32' and set(arrays) == {'weight', 'bias'}


def test_a_failed_fresh_run_leaves_no_run_folder(tmp_path):
    folder = tmp_path / 'ckpt'

    def open_dir():
        ckpts = CheckpointDir(folder, 'x', '.pth')
        ckpts.open({'lr': 1})
        return ckpts

    run, _ = training(total=1)
    with pytest.raises(RuntimeError, match='boom'):
        with run.run_folder(open_dir):
            assert folder.is_dir() and not run.resumed
            raise RuntimeError('boom')
    assert not folder.exists()
    run, _ = training(total=1)
    with run.run_folder(open_dir):
        run.epoch, run.in_epoch = 1, 1
        run.save({'w': torch.ones(1)})
    assert [p.name for p in folder.iterdir() if p.suffix == '.pth'] == ['x-1_1.pth']
