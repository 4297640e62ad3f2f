"""model/rdn.py: shapes for every preset and scale, the paper's parameter count, the port's names."""
import inspect

import pytest
import torch


def count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize('scale', [2, 3, 4])
@pytest.mark.parametrize('preset', ['reference', 'paper', 'bench'])
def test_output_shape_for_every_preset_and_scale(rdn, preset, scale):
    torch.manual_seed(0)
    model = rdn.rdn.build_rdn(preset, scale).eval()
    channels = rdn.rdn.PRESETS[preset]['num_in_ch']
    with torch.no_grad():
        out = model(torch.rand(2, channels, 7, 9))
    assert out.shape == (2, channels, 7 * scale, 9 * scale)


@pytest.mark.parametrize('scale, expected', [(2, 22_123_395), (3, 22_308_035), (4, 22_271_107)])
def test_paper_preset_has_the_papers_parameter_count(rdn, scale, expected):
    # published_numbers.md: computed from the official architecture (EDSR-PyTorch upsampler).
    assert count(rdn.rdn.build_rdn('paper', scale)) == expected


def test_paper_x4_upsamples_in_two_x2_stages(rdn):
    model = rdn.rdn.build_rdn('paper', 4)
    assert model.pixelshuffle.upscale_factor == 2 and model.pixelshuffle2.upscale_factor == 2
    assert model.upconv.out_channels == 4 * 64 and model.upconv2.out_channels == 4 * 64
    single = rdn.rdn.build_rdn('reference', 4)
    assert single.pixelshuffle.upscale_factor == 4 and not hasattr(single, 'upconv2')


def test_reference_preset_has_the_ports_module_names(rdn):
    keys = set(rdn.rdn.build_rdn('reference', 2).state_dict())
    expected = {'SFF1.weight', 'SFF2.weight', 'GFF1.weight', 'GFF2.weight', 'upconv.weight', 'conv2.weight'}
    for d in (1, 2, 3):
        expected |= {f'RDB{d}.conv1x1.weight'} | {f'RDB{d}.layer.{c}.conv.weight' for c in range(3)}
    assert expected | {k.replace('weight', 'bias') for k in expected} == keys
    model = rdn.rdn.build_rdn('reference', 2)
    assert model.SFF1.in_channels == 1 and model.upconv.out_channels == 64 * 4 and model.GFF1.in_channels == 64 * 3


def test_the_bench_network_starts_as_bicubic_upscaling(rdn):
    torch.manual_seed(0)
    model = rdn.rdn.build_rdn('bench', 4).eval()
    x = torch.rand(1, 3, 10, 12)
    expected = torch.nn.functional.interpolate(x, scale_factor=4, mode='bicubic', align_corners=False)
    with torch.no_grad():
        assert torch.equal(model(x), expected)


def test_no_device_and_no_optimiser_in_the_network(rdn):
    for cls in (rdn.rdn.RDN, rdn.rdn.RDB, rdn.rdn.BasicBlock):
        assert 'device' not in inspect.signature(cls.__init__).parameters
    model = rdn.rdn.build_rdn('reference', 4)
    assert not any(isinstance(v, (torch.optim.Optimizer, torch.nn.L1Loss)) for v in vars(model).values())
    assert {p.device.type for p in model.parameters()} == {'cpu'}


def test_bad_arguments(rdn):
    with pytest.raises(ValueError, match='upscale must be 2, 3 or 4'):
        rdn.rdn.RDN(upscale=8)
    with pytest.raises(ValueError, match="unknown RDN preset 'huge'"):
        rdn.rdn.build_rdn('huge', 4)
    with pytest.raises(ValueError, match='num_block must be a positive int'):
        rdn.rdn.RDN(num_block=0)
