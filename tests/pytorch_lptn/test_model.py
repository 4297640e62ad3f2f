"""Networks: the pyramid's exact round trip, the fast pyramid and network against the reference's formulas,
shapes, parameter counts, the reference's key names, devices."""
import importlib

import pytest
import torch
from torch.nn import functional as F


def reference_pyramid(lptn):
    """The reference's pyramid operations as it writes them (profile_lptn.py's, the one "before")."""
    return importlib.import_module('profile_lptn').ReferencePyramid


def reference_network(lptn, net):
    """``net``'s weights in the reference's formulation: its pyramid, NCHW whole images, out-of-place
    activations and sums, PyTorch's InstanceNorm (profile_lptn.reference_of, the profile's "before")."""
    return importlib.import_module('profile_lptn').reference_of(net)


@pytest.mark.parametrize('size', [(64, 64), (67, 91), (17, 9), (3, 4)])
def test_the_fast_pyramid_equals_the_reference_formulas_bit_for_bit(lptn, size):
    fast = lptn.LPTN_arch.Lap_Pyramid_Conv().double()
    ref = reference_pyramid(lptn)().double()
    x = torch.rand(2, 3, *size, dtype=torch.float64)
    assert torch.equal(fast.downsample(x), ref.downsample(x))
    assert torch.equal(fast.upsample(x), ref.upsample(x))
    if min(size) >= 24:
        for a, b in zip(fast.pyramid_decom(x), ref.pyramid_decom(x)):
            assert torch.equal(a, b)


@pytest.mark.parametrize('name', ['LPTN', 'LPTNPaper'])
def test_the_fast_network_equals_the_reference_formulas_with_gradients(lptn, name):
    """The whole generator in float64: the output and the gradient of every weight match the reference's
    formulas (channels-last memory, phases and in-place operations change no value)."""
    torch.manual_seed(0)
    net = lptn.archs.define_network({'type': name, 'nrb_low': 2, 'nrb_high': 2, 'num_high': 3}).double()
    ref = reference_network(lptn, net)
    x = torch.rand(2, 3, 72, 88, dtype=torch.float64)
    target = torch.rand_like(x)
    outs = [model(x) for model in (net, ref)]
    assert (outs[0] - outs[1]).abs().max() < 1e-13
    for out in outs:
        F.mse_loss(out, target).backward()
    for (key, p), q in zip(net.named_parameters(), ref.parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=1e-10, atol=1e-15), key


@pytest.mark.parametrize('name,batch', [('LPTN', 1), ('LPTNPaper', 1), ('LPTN', 2)])
def test_inference_in_strips_and_bands_equals_the_reference_formulas(lptn, name, batch):
    """The inference path (fused levels in strips of rows, the trunk in bands with halos), forced on a
    small image by small strips, against the reference's formulas in float64; and in float32 against
    the whole-image path that training runs, the pixels within 1e-6. One image writes its strips in
    place into the output; a batch of two (strips not contiguous) takes the copying branch."""
    torch.manual_seed(0)
    net = lptn.archs.define_network({'type': name, 'nrb_low': 1, 'nrb_high': 2, 'num_high': 3}).eval()
    x = torch.rand(batch, 3, 160, 88)                   # H/4 = 40 rows: 3 trunk bands of 6 rows + halo 6
    with torch.no_grad():
        assert net.runs_in_rows(x) is False               # small: the default strips would not pay
        rows = net.forward_rows(x.contiguous(memory_format=torch.channels_last), pixels=4 * 88, band_pixels=6 * 22)
        ref = reference_network(lptn, net.double())
        exact = ref(x.double())
        assert (net.forward_rows(x.double().contiguous(memory_format=torch.channels_last), pixels=4 * 88,
                                 band_pixels=6 * 22) - exact).abs().max() < 1e-13
        net.float()
        with torch.enable_grad():
            whole = net(x)
    assert whole.requires_grad and (rows - whole).abs().max() < 1e-6


def test_inference_takes_the_strips_path_only_without_autograd_on_divisible_sizes(lptn):
    net = lptn.LPTN_arch.LPTN()
    big = torch.empty(1, 3, 768, 1024)                  # more than two strips of ROWS_PIXELS
    with torch.no_grad():
        assert net.runs_in_rows(big) and not net.runs_in_rows(big[:, :, :764])
        assert not net.runs_in_rows(big.to('meta'))        # FLOPs are counted on the whole-image path
    assert not net.runs_in_rows(big)


@pytest.mark.parametrize('size', [(64, 64), (67, 91), (33, 40), (17, 9)])
def test_pyramid_decompose_then_reconstruct_returns_the_input(lptn, size):
    pyramid = lptn.LPTN_arch.Lap_Pyramid_Conv(num_high=3).double()
    x = torch.rand(2, 3, *size, dtype=torch.float64)
    pyr = pyramid.pyramid_decom(x)
    assert [tuple(p.shape[2:]) for p in pyr] == [size] + [(-(-size[0] // 2 ** k), -(-size[1] // 2 ** k)) for k in (1, 2, 3)]
    assert torch.allclose(pyramid.pyramid_recons(pyr), x, rtol=0, atol=1e-14)     # exact up to float64 rounding
    x32 = x.float()
    assert (pyramid.float().pyramid_recons(pyramid.pyramid_decom(x32)) - x32).abs().max() < 1e-6


def test_pyramid_kernel_is_the_binomial_and_follows_the_input(lptn):
    pyramid = lptn.LPTN_arch.Lap_Pyramid_Conv()
    row = torch.tensor([1., 4., 6., 4., 1.])
    assert torch.equal(pyramid.kernel[1, 0], torch.outer(row, row) / 256) and pyramid.kernel.shape == (3, 1, 5, 5)
    assert 'kernel' not in pyramid.state_dict()                                     # not pinned to a device, not saved
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    assert pyramid.pyramid_decom(x)[0].dtype == torch.float64                       # cast per call
    up = pyramid.upsample(torch.ones(1, 3, 6, 6))
    assert up.shape == (1, 3, 12, 12) and torch.allclose(up[..., 3:-3, 3:-3], torch.ones(1, 3, 6, 6))


@pytest.mark.parametrize('name, count', [('LPTNPaper', 616215), ('LPTN', 617567)])
def test_parameter_counts_match_the_reference_architecture(lptn, name, count):
    net = lptn.archs.define_network({'type': name, 'nrb_low': 5, 'nrb_high': 3, 'num_high': 3})
    assert sum(p.numel() for p in net.parameters()) == count          # published_numbers.md, computed from the code
    x = torch.rand(2, 3, 72, 88)
    assert net(x).shape == x.shape


def test_reference_key_names_and_shapes(lptn):
    state = lptn.LPTN_arch.LPTN().state_dict()
    expected = {'trans_low.model.0.weight': (16, 3, 3, 3), 'trans_low.model.3.weight': (64, 16, 3, 3),
                'trans_low.model.5.block.0.weight': (64, 64, 3, 3), 'trans_low.model.10.weight': (16, 64, 3, 3),
                'trans_low.model.12.weight': (3, 16, 3, 3), 'trans_high.model.0.weight': (64, 9, 3, 3),
                'trans_high.model.2.block.2.weight': (64, 64, 3, 3), 'trans_high.model.5.weight': (3, 64, 3, 3),
                'trans_high.trans_mask_block_0.0.weight': (16, 3, 1, 1), 'trans_high.trans_mask_block_2.2.bias': (3,)}
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    assert len(state) == 56 and not any('lap_pyramid' in k for k in state)
    paper = lptn.LPTN_arch.LPTNPaper().state_dict()
    assert paper['trans_high.model.5.weight'].shape == (1, 64, 3, 3) and paper['trans_high.trans_mask_block_1.0.weight'].shape == (16, 1, 1, 1)


def test_a_basicsr_params_file_with_the_alias_keys_loads(lptn, tmp_path):
    """The released file: {'params': state} saved after a forward pass of the reference's Trans_high, which
    registers its last mask block a second time as ``trans_high.trans_mask_block``."""
    source = lptn.LPTN_arch.LPTN()
    state = source.state_dict()
    for key in [k for k in state if k.startswith('trans_high.trans_mask_block_2.')]:
        state[key.replace('trans_mask_block_2.', 'trans_mask_block.')] = state[key].clone()
    torch.save({'params': {f'module.{k}': v for k, v in state.items()}}, tmp_path / 'net_g_FiveK_numhigh3.pth')
    net = lptn.LPTN_arch.LPTN()
    lptn.models.load_generator_state(net, tmp_path / 'net_g_FiveK_numhigh3.pth', strict=True)
    x = torch.rand(1, 3, 40, 48)
    with torch.no_grad():
        assert torch.equal(net(x), source(x))
    paper = lptn.LPTN_arch.LPTNPaper()
    with pytest.raises(ValueError, match=r'trans_high.model.5.weight has shape \(3, 64, 3, 3\), the LPTNPaper'):
        lptn.models.load_generator_state(paper, tmp_path / 'net_g_FiveK_numhigh3.pth')
    torch.save({'params': {'foo': torch.zeros(1)}}, tmp_path / 'other.pth')
    with pytest.raises(ValueError, match='none of its keys'):
        lptn.models.load_generator_state(net, tmp_path / 'other.pth', strict=False)


def test_param_key_picks_the_moving_average_of_a_basicsr_file(lptn, tmp_path):
    """path.param_key_g (BasicSR's): params_ema loads the moving average a training with train.ema_decay
    saves beside params; the default loads params; a file without the entry asked for is one line."""
    raw, ema = lptn.LPTN_arch.LPTN(), lptn.LPTN_arch.LPTN()
    torch.save({'params': raw.state_dict(), 'params_ema': ema.state_dict()}, tmp_path / 'both.pth')
    torch.save({'params': raw.state_dict()}, tmp_path / 'raw.pth')
    for key, source in ((None, raw), ('params', raw), ('params_ema', ema)):
        net = lptn.LPTN_arch.LPTN()
        lptn.models.load_generator_state(net, tmp_path / 'both.pth', param_key=key)
        assert all(torch.equal(v, source.state_dict()[k]) for k, v in net.state_dict().items()), key
    with pytest.raises(ValueError, match=r"raw.pth: has no 'params_ema' entry \(path.param_key_g\); it holds params$"):
        lptn.models.load_generator_state(lptn.LPTN_arch.LPTN(), tmp_path / 'raw.pth', param_key='params_ema')


def test_discriminator_scores_any_size(lptn):
    d = lptn.discriminator_arch.Discriminator()
    assert d(torch.rand(3, 3, 40, 56)).shape == (3, 1, 1, 1)
    assert sum(p.numel() for p in d.parameters()) == 253249


@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
def test_fused_convolutions_equal_the_modules(lptn, dtype):
    """run_sequential's oneDNN calls (conv + LeakyReLU, a residual block's sum, ``+ add``) against the
    modules one by one on the same trunk (float32 within 1e-6), bfloat16 within
    one rounding."""
    arch = lptn.LPTN_arch
    torch.manual_seed(0)
    model = arch.Trans_low(2).model.to(dtype)
    x = torch.rand(1, 3, 24, 40, dtype=dtype).contiguous(memory_format=torch.channels_last)
    add = torch.rand(1, 3, 24, 40, dtype=dtype).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        assert arch.fusable(x) and not arch.fusable(x.contiguous()) and not arch.fusable(x.double())
        fused, summed = arch.run_sequential(model, x), arch.run_sequential(model, x, add=add)
        into = add.clone()
        assert arch.run_sequential(model, x, add=into, in_place=True) is into and torch.equal(into, summed)
        into, in_place_op = add.clone(), arch._CONV_POINTWISE_
        try:                                           # a build without oneDNN's in-place call: still in place
            arch._CONV_POINTWISE_ = None
            assert arch.run_sequential(model, x, add=into, in_place=True) is into and torch.equal(into, summed)
        finally:
            arch._CONV_POINTWISE_ = in_place_op
        plain = model(x)
    with torch.enable_grad():
        assert not arch.fusable(x)
    assert fused.is_contiguous(memory_format=torch.channels_last)
    if dtype == torch.float32:                # the same bits on the CPUs seen; 1e-6 for another summation order
        scale = plain.abs().max()
        assert (fused - plain).abs().max() <= 1e-6 * scale and (summed - (plain + add)).abs().max() <= 1e-6 * scale
    else:                                  # the activation before the one rounding: within 2^-7 relative
        scale = plain.float().abs().max()
        assert (fused.float() - plain.float()).abs().max() <= scale / 64
        assert (summed.float() - (plain + add).float()).abs().max() <= scale / 32


def test_the_inference_paths_nearest_resize_and_upsample_padding_are_the_same_bits(lptn):
    """nearest2x (a transposed convolution) against F.interpolate, and the one-pad upsample_padded
    against the reflect-then-replicate pads it replaces, on odd and even sizes and both layouts."""
    arch = lptn.LPTN_arch
    pyr = arch.Lap_Pyramid_Conv()
    torch.manual_seed(0)
    for shape in ((1, 3, 7, 10), (2, 3, 12, 5), (1, 16, 4, 4)):
        for x in (torch.randn(shape), torch.randn(shape).contiguous(memory_format=torch.channels_last)):
            assert torch.equal(arch.nearest2x(x), F.interpolate(x, scale_factor=2))
            two_pads = F.pad(F.pad(x, (1, 0, 1, 0), mode='reflect'), (0, 1, 0, 1), mode='replicate')
            assert torch.equal(pyr.upsample_padded(x), two_pads)


def test_no_fusion_under_autocast_or_with_weights_of_another_dtype(lptn):
    arch = lptn.LPTN_arch
    model = arch.Trans_low(1).model
    x = torch.rand(1, 3, 16, 16).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        with torch.autocast('cpu', dtype=torch.bfloat16):
            assert not arch.fusable(x)
            out = arch.run_sequential(model, x)                    # the modules, autocast as everywhere else
        assert out.dtype == torch.bfloat16
        for run in (model, lambda v: arch.run_sequential(model, v)):   # bfloat16 into float32 weights
            with pytest.raises(RuntimeError, match='should be the same'):
                run(x.bfloat16())
