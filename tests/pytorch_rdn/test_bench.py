"""bench.py pieces: the convolution count behind the efficiency ratio, and the training flags it builds."""
import torch


def test_conv_macs_counts_every_convolution(rdn):
    model = rdn.rdn.build_rdn('bench', 4)
    macs = rdn.bench.conv_macs(model, (1, 3, 8, 8))
    by_hand = 0
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            side = 8 * (4 if m is model.conv2 else 2 if m is model.upconv2 else 1)
            by_hand += m.out_channels * m.in_channels * m.kernel_size[0] * m.kernel_size[1] * side * side
    assert macs == by_hand


def test_bench_flags_are_train_flags_with_the_lr_drop_at_three_quarters(rdn, tmp_path):
    args = rdn.train.parse_args(rdn.bench.train_argv(tmp_path, 800))
    assert args.preset == 'bench' and args.max_steps == 800 and args.amp == 'fp32' and args.channels_last
    steps_per_epoch = -(-12 * args.dataset_enlarge_ratio // args.batchSize)
    assert [round(m * steps_per_epoch) for m in args.milestone_epochs] == [600]
