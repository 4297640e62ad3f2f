"""bench.py pieces (the convolution count behind the efficiencies, the training flags) and the torch yardstick."""
import pytest
import torch

from common import bench as harness


def test_forward_flops_count_every_convolution(rdn):
    from torchzoo.speed import forward_flops
    model = rdn.rdn.build_rdn('bench', 4)
    weight = model.SFF1.weight.clone()
    macs = forward_flops(model, (1, 3, 8, 8)) / 2
    assert torch.equal(model.SFF1.weight, weight) and model.SFF1.weight.device.type == 'cpu'    # not changed
    by_hand = 0
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            side = 8 * (4 if m is model.conv2 else 2 if m is model.upconv2 else 1)
            by_hand += m.out_channels * m.in_channels * m.kernel_size[0] * m.kernel_size[1] * side * side
    assert macs == by_hand


def test_bench_flags_are_train_flags_with_the_lr_drop_at_three_quarters(rdn, tmp_path):
    args = rdn.train.parse_args(rdn.bench.train_argv(tmp_path, dict(rdn.bench.BENCH, steps=800)))
    assert args.preset == 'bench' and args.max_steps == 800 and args.amp == 'fp32' and args.channels_last
    steps_per_epoch = -(-12 * args.dataset_enlarge_ratio // args.batchSize)
    assert [round(m * steps_per_epoch) for m in args.milestone_epochs] == [600]


def test_a_trial_changes_the_preset_through_the_harness_flags(rdn, tmp_path):
    with pytest.raises(ValueError, match=r'^--set precision_steps=1: the comparison runs need at least 2 steps$'):
        rdn.bench.main(['--out', str(tmp_path / 'r.json'), '--work_dir', str(tmp_path / 'w'),
                        '--set', 'precision_steps=1'])


@pytest.fixture
def small_yardstick(monkeypatch):
    """The yardstick convolution on 2 x 64 x 8 x 8 (the layouts and precisions are what is tested)."""
    monkeypatch.setitem(harness.YARDSTICK, 'batch', 2)
    monkeypatch.setitem(harness.YARDSTICK, 'height', 8)
    monkeypatch.setitem(harness.YARDSTICK, 'width', 8)


@pytest.mark.parametrize('mode, precision', [('train', 'fp32'), ('infer', 'fp32'), ('infer', 'bf16')])
def test_the_torch_yardstick_measures_both_layouts_keeps_the_faster_and_no_random_state(small_yardstick, mode,
                                                                                        precision):
    from torchzoo import speed
    state = torch.get_rng_state()
    stick = speed.dense_conv(mode, precision, seconds=0.02)
    assert torch.equal(torch.get_rng_state(), state)
    assert set(stick['measured']) == {'nchw', 'channels_last'} and all(v > 0 for v in stick['measured'].values())
    assert stick['gflops'] == max(stick['measured'].values()) and stick['measured'][stick['layout']] == stick['gflops']
    assert stick['mode'] == mode and stick['precision'] == precision
    with pytest.raises(ValueError, match="yardstick precision must be one of fp32, bf16, got 'fp16'"):
        speed.dense_conv(mode, 'fp16')
