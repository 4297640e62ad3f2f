"""LPTN generators: the Laplacian pyramid, the low-frequency translator and the two high-frequency variants.

``LPTNPaper`` is the network of the paper (one-channel mask, refined level by level); ``LPTN`` is the
variant the reference's ``train_FiveK.yml`` and test options use (three-channel mask applied as
``high * mask + high``). Module names and shapes are the reference's (``lap_pyramid``, ``trans_low.model``,
``trans_high.model``, ``trans_high.trans_mask_block_<i>``), so its released generator
``net_g_FiveK_numhigh3.pth`` loads as it is (see :func:`models.load_generator_state`).

No constructor takes or pins a device: the pyramid's Gaussian kernel is a non-persistent buffer, so it
follows ``model.to(device)`` and is cast to the input's dtype and device on every call.

Shapes for an input ``[N, 3, H, W]`` and ``num_high = 3``: the pyramid is ``[h0: H, h1: H/2, h2: H/4,
low: H/8]`` (sizes rounded up); ``Trans_low`` runs at H/8, ``Trans_high``'s residual trunk at H/4,
its 1x1 mask blocks at H/4, H/2 and H.
"""
import copy
import functools

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ['Lap_Pyramid_Conv', 'ResidualBlock', 'Trans_low', 'Trans_high', 'Trans_high_paper', 'LPTN', 'LPTNPaper']


def gauss_kernel(channels=3):
    """The 5x5 binomial kernel ``[1, 4, 6, 4, 1]^T [1, 4, 6, 4, 1] / 256``, one copy per channel: [C, 1, 5, 5]."""
    row = torch.tensor([1., 4., 6., 4., 1.])
    return (torch.outer(row, row) / 256.).repeat(channels, 1, 1, 1)


def upsample_phases(channels=3):
    """The four 3x3 phases of zero-insertion followed by the 4x binomial kernel, as one dense
    convolution weight ``[4 C, C, 3, 3]``.

    Along one axis, an upsampled pixel 2i is ``(x[i-1] + 6 x[i] + x[i+1]) / 8`` and 2i+1 is
    ``(x[i] + x[i+1]) / 2``: the kernel taps that meet a non-zero of the zero-inserted image. Output
    channel ``(2 r + c) C + k`` is phase (row parity r, column parity c) of input channel k, the
    order in which a reshape of channels-last memory interleaves them (see ``upsample``); the
    weights between different channels are zero (a dense convolution of 3 channels runs faster
    than the grouped one, and adding exact zeros changes no value).
    """
    even, odd = torch.tensor([1., 6., 1.]) / 8, torch.tensor([0., 4., 4.]) / 8
    phases = torch.stack([torch.outer(r, c) for r in (even, odd) for c in (even, odd)])
    weight = torch.zeros(4, channels, channels, 3, 3)
    for k in range(channels):
        weight[:, k, k] = phases
    return weight.reshape(4 * channels, channels, 3, 3)


def empty_channels_last(shape, like):
    """An uninitialised channels-last tensor of ``shape`` with ``like``'s dtype and device (the strip
    paths write it strip by strip)."""
    return torch.empty(shape, dtype=like.dtype, device=like.device, memory_format=torch.channels_last)


def nearest2x(x):
    """``F.interpolate(x, scale_factor=2)`` (nearest) as a stride-2 transposed convolution with a 2x2
    identity kernel: every output is one input times 1, the same bits, and on a channels-last
    3-channel tensor about 6x faster than the interpolation kernel on the CPU (measured on a 2-core
    Xeon: 0.33 against 2.2 ms for a 136x1920 strip)."""
    c = x.shape[1]
    eye = torch.eye(c, dtype=x.dtype, device=x.device)[:, :, None, None].expand(c, c, 2, 2)
    return F.conv_transpose2d(x, eye, stride=2)


ROWS_PIXELS = 1 << 18          # pixels of one strip in the inference path (measured: see forward_rows)
BAND_PIXELS = 1 << 17          # pixels of one band of the 64-channel trunk in the inference path


class Lap_Pyramid_Conv(nn.Module):
    """Closed-form Laplacian pyramid: Gaussian blur (reflect padding), decimation, zero-insertion upsampling.

    The reference's operations, computed without the work they throw away: the blur and the
    decimation are one stride-2 depthwise convolution (only the kept pixels are filtered), and the
    zero-insertion upsampling with its 5x5 filter is four 3x3 phases interleaved by a reshape (the
    taps that would multiply inserted zeros are never applied). The reference's reflect padding of the
    zero-inserted image is, on the small image, a reflected row and column before the first and a
    repeated one after the last. Both equal the reference's formulas (:meth:`conv_gauss` on the
    zero-inserted image) to the last bit on the sizes tested (tests/pytorch_lptn/test_model.py).

    Decomposing and then reconstructing returns the input exactly up to float rounding, whatever the
    size (odd sides included: an upsampled level that is one pixel too large is cut back by a nearest
    resize, the same operation in both directions).

    Args:
        num_high (int): Number of high-frequency (band-pass) levels. Default: 3.
        channels (int): Image channels. Default: 3.
    """

    def __init__(self, num_high=3, channels=3):
        super().__init__()
        self.num_high = num_high
        self.register_buffer('kernel', gauss_kernel(channels), persistent=False)
        self.register_buffer('phases', upsample_phases(channels), persistent=False)

    def _kernel(self, x, name='kernel'):
        return getattr(self, name).to(device=x.device, dtype=x.dtype)

    def conv_gauss(self, img, kernel):
        """Depthwise 5x5 filter with reflect padding of 2 (the size is kept): the reference's blur."""
        return F.conv2d(F.pad(img, (2, 2, 2, 2), mode='reflect'), kernel, groups=img.shape[1])

    def downsample(self, x):
        """Blur, then keep every second pixel of both axes: ``[N, C, h, w] -> [N, C, ceil(h/2), ceil(w/2)]``."""
        return F.conv2d(F.pad(x, (2, 2, 2, 2), mode='reflect'), self._kernel(x), stride=2, groups=x.shape[1])

    def upsample(self, x):
        """Zero insertion and 4x the kernel, by phases: ``[N, C, h, w] -> [N, C, 2h, 2w]`` (channels-last)."""
        return self.phases_to_image(F.conv2d(self.upsample_padded(x), self._kernel(x, 'phases')))

    @staticmethod
    def phases_to_image(phases, out=None):
        """``[N, 4 C, h, w]`` phases (order of :func:`upsample_phases`) -> the ``[N, C, 2h, 2w]`` image:
        in channels-last memory one reshape (rows of 2C contiguous values move), where
        ``pixel_shuffle`` is an element-wise gather at twice the time. ``out``, a channels-last
        contiguous tensor of the image's shape, receives it in place of a new tensor."""
        n, c4, h, w = phases.shape
        c = c4 // 4
        moved = phases.permute(0, 2, 3, 1).reshape(n, h, w, 2, 2 * c).transpose(2, 3)
        if out is not None:
            out.permute(0, 2, 3, 1).view(n, h, 2, w, 2 * c).copy_(moved)
            return out
        return moved.reshape(n, 2 * h, 2 * w, c).permute(0, 3, 1, 2)

    def downsample_rows(self, x, rows):
        """:meth:`downsample` computed ``rows`` output rows at a time (inference on large images): each
        strip reads its input rows with the 2-row halo the 5x5 kernel needs, reflected at the image's
        top and bottom as the whole-image padding would be. Same values, no padded full-size copy."""
        h, kernel, out = x.shape[2], self._kernel(x), None
        for j0 in range(0, (h + 1) // 2, rows):
            j1 = min(j0 + rows, (h + 1) // 2)
            lo, hi = 2 * j0 - 2, 2 * j1 + 1
            strip = x[:, :, max(lo, 0):min(hi, h)]
            part = F.conv2d(F.pad(strip, (2, 2, max(-lo, 0), max(hi - h, 0)), mode='reflect'), kernel,
                            stride=2, groups=x.shape[1])
            if out is None:
                out = empty_channels_last(part.shape[:2] + ((h + 1) // 2, part.shape[3]), part)
            out[:, :, j0:j1] = part
        return out

    def upsample_padded(self, x):
        """The padding :meth:`upsample` applies: a reflected row and column before, a repeated one after
        (one reflect pad whose last row and column are then overwritten by their neighbours: one copy
        of the image, not two)."""
        if x.shape[2] < 2 or x.shape[3] < 2:
            return F.pad(F.pad(x, (1, 0, 1, 0), mode='reflect'), (0, 1, 0, 1), mode='replicate')
        padded = F.pad(x, (1, 1, 1, 1), mode='reflect')
        padded[:, :, -1] = padded[:, :, -2]
        padded[:, :, :, -1] = padded[:, :, :, -2]
        return padded

    def upsample_rows(self, padded, i0, i1, out=None):
        """Rows ``2 i0 .. 2 i1 - 1`` of :meth:`upsample` of x, from ``padded = upsample_padded(x)`` (into
        ``out``: see :meth:`phases_to_image`)."""
        return self.phases_to_image(F.conv2d(padded[:, :, i0:i1 + 2], self._kernel(padded, 'phases')), out)

    def level_rows(self, level, down, below, mask, step, rows, keep_mask=False):
        """One pyramid level of LPTN's translation, ``rows`` rows at a time (inference, even sizes).

        ``upsample(below) + step(level - upsample(down), nearest(mask))`` where ``down`` is
        :meth:`downsample` of ``level``, ``below`` the translated image one level down and ``mask``
        that level's mask (half this level's size); ``step`` maps ``(high-frequency strip, its mask
        strip, add=upsample(below) strip, in_place)`` to ``(translated strip + add, the mask strip the
        next level interpolates)``, the sum written into ``add`` when ``in_place``. Every intermediate
        is a strip, never a full-size copy; where the output's strips are contiguous (one image), the
        upsampled level below is written straight into the output and the step adds to it there.

        Returns:
            tuple: The translated level, and its mask when ``keep_mask`` (else None).
        """
        h, w = level.shape[2:]
        pd, pb = self.upsample_padded(down), self.upsample_padded(below)
        out = torch.empty_like(level, memory_format=torch.channels_last)
        mask_out = None
        for a in range(0, h, rows):
            b = min(a + rows, h)
            high = level[:, :, a:b] - self.upsample_rows(pd, a // 2, b // 2)
            dest = out[:, :, a:b]
            into = dest if dest.is_contiguous(memory_format=torch.channels_last) else None
            result, next_mask = step(high, nearest2x(mask[:, :, a // 2:b // 2]),
                                     add=self.upsample_rows(pb, a // 2, b // 2, out=into), in_place=into is not None)
            if into is None:
                dest[...] = result
            if keep_mask:
                if mask_out is None:
                    mask_out = empty_channels_last(next_mask.shape[:2] + (h, w), next_mask)
                mask_out[:, :, a:b] = next_mask
        return out, mask_out

    @staticmethod
    def _fit(up, like):
        # Traced for ONNX, the resize is always recorded, so that the graph serves odd sizes too
        # (a nearest resize to the same size is the identity).
        if torch.jit.is_tracing() or up.shape[2:] != like.shape[2:]:
            up = F.interpolate(up, size=like.shape[2:])
        return up

    def pyramid_decom(self, img):
        """``[h_0 (full size), ..., h_{num_high-1}, low (1 / 2^num_high)]``."""
        current, pyr = img, []
        for _ in range(self.num_high):
            down = self.downsample(current)
            pyr.append(current - self._fit(self.upsample(down), current))
            current = down
        pyr.append(current)
        return pyr

    def pyramid_recons(self, pyr):
        """Inverse of :meth:`pyramid_decom`."""
        image = pyr[-1]
        for level in reversed(pyr[:-1]):
            image = self._fit(self.upsample(image), level) + level
        return image


# oneDNN's convolution with a fused element-wise tail (what torch.compile's CPU backend calls); absent
# from builds without oneDNN, where run_sequential runs the modules one by one.
_CONV_POINTWISE = getattr(torch.ops.mkldnn, '_convolution_pointwise', None) if torch.backends.mkldnn.is_available() else None
_CONV_POINTWISE_ = getattr(torch.ops.mkldnn, '_convolution_pointwise_', None) if _CONV_POINTWISE is not None else None


def fusable(x):
    """Whether :func:`run_sequential` may fuse on ``x``: inference (no autograd, no tracing, no autocast:
    the fused call has no autocast rule) on the CPU, float32 or bfloat16 (oneDNN's types) in
    channels-last memory."""
    return (_CONV_POINTWISE is not None and x.device.type == 'cpu' and not torch.is_grad_enabled()
            and not torch.is_autocast_enabled('cpu') and x.dtype in (torch.float32, torch.bfloat16)
            and not torch.jit.is_tracing() and x.is_contiguous(memory_format=torch.channels_last))


def _fused_conv(conv, x, leaky=None, add=None, in_place=False):
    """``conv(x)`` followed in the same oneDNN call by ``leaky`` (a LeakyReLU) or by ``+ add`` (written
    into ``add`` with ``in_place``)."""
    args = (conv.weight, conv.bias, list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups)
    if add is not None and in_place:
        if _CONV_POINTWISE_ is None:                   # a build without the in-place call: the same sum, copied
            return add.copy_(_CONV_POINTWISE.binary(x, add, *args, 'add', None, None, [], None))
        return _CONV_POINTWISE_.binary(add, x, *args, 'add', None, None, [], None)
    if add is not None:
        return _CONV_POINTWISE.binary(x, add, *args, 'add', None, None, [], None)
    return _CONV_POINTWISE(x, *args, 'leaky_relu', [leaky.negative_slope], None)


def run_sequential(seq, x, add=None, in_place=False):
    """``seq(x)`` for an ``nn.Sequential`` (``seq(x) + add`` with ``add``, written into ``add`` with
    ``in_place``: a channels-last contiguous tensor the caller gives up); at inference (:func:`fusable`)
    every convolution followed by a LeakyReLU is one call, a :class:`ResidualBlock` two (its sum is the
    second convolution's tail), and ``+ add`` the last convolution's tail: the activations are not read
    and written again by separate element-wise passes. The values are the modules' within rounding
    (float32: oneDNN may sum in another order; bfloat16: the activation is applied before the one
    rounding)."""
    if add is not None and in_place:
        assert add.is_contiguous(memory_format=torch.channels_last), 'in_place needs a channels-last add'
    if not fusable(x) or next(seq.parameters()).dtype != x.dtype:
        return seq(x) if add is None else add.add_(seq(x)) if in_place else seq(x) + add
    mods, i = list(seq), 0
    last = mods.pop() if add is not None and isinstance(mods[-1], nn.Conv2d) and mods[-1].padding_mode == 'zeros' else None
    if add is not None and last is None:
        return add.add_(run_sequential(seq, x)) if in_place else run_sequential(seq, x) + add
    while i < len(mods):
        m, nxt = mods[i], mods[i + 1] if i + 1 < len(mods) else None
        if isinstance(m, nn.Conv2d) and isinstance(nxt, nn.LeakyReLU) and m.padding_mode == 'zeros':
            x, i = _fused_conv(m, x, leaky=nxt), i + 2
            continue
        if isinstance(m, ResidualBlock):
            first, act, second = m.block
            x = _fused_conv(second, _fused_conv(first, x, leaky=act), add=x)
        else:
            x = m(x)
        i += 1
    return x if last is None else _fused_conv(last, x, add=add, in_place=in_place)


def trunk(model, x):
    """``model(x)`` computed in the dtype of the model's weights and returned in x's (a no-op when they
    agree): a trunk cast to bfloat16 runs in bfloat16 while the pyramid around it stays in float32."""
    return run_sequential(model, x.to(model[0].weight.dtype)).to(x.dtype)


def in_bands(model, x, pixels=BAND_PIXELS):
    """``trunk(model, x)`` for a trunk of 3x3 convolutions, computed in bands of rows once x has
    more than ``pixels`` pixels (inference on large images): each band carries a halo of as many rows
    as the trunk's convolutions reach, so its kept rows are the whole image's. A 64-channel
    activation of a 960x540 level is 133 MB, far out of every cache, and the convolutions ran at 0.7
    of their in-cache rate; a band of about 270x480 runs at the full rate, halo included."""
    halo = sum(m.kernel_size[0] // 2 for m in model.modules() if isinstance(m, nn.Conv2d))
    h, w = x.shape[2:]
    rows = max(halo, pixels // w)
    if h <= rows + 2 * halo:
        return trunk(model, x)
    out = None
    for a in range(0, h, rows):
        b = min(a + rows, h)
        lo, hi = max(0, a - halo), min(h, b + halo)
        part = trunk(model, x[:, :, lo:hi])[:, :, a - lo:b - lo]
        if out is None:
            out = empty_channels_last(part.shape[:2] + (h, w), part)
        out[:, :, a:b] = part
    return out


class ResidualBlock(nn.Module):
    """conv3x3 - LeakyReLU(0.01) - conv3x3, plus the input."""

    def __init__(self, in_features):
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(in_features, in_features, 3, padding=1), nn.LeakyReLU(inplace=True),
                                   nn.Conv2d(in_features, in_features, 3, padding=1))

    def forward(self, x):
        return self.block(x).add_(x)           # the conv's fresh output takes the sum: no new tensor


class InstanceNorm2d(nn.InstanceNorm2d):
    """``nn.InstanceNorm2d`` whose output keeps the input's memory layout (PyTorch's returns NCHW, which
    made every later convolution of ``Trans_low`` run at the NCHW rate, about half the channels-last one)."""

    def forward(self, x):
        out = super().forward(x)
        return out.contiguous(memory_format=torch.channels_last) if x.is_contiguous(
            memory_format=torch.channels_last) and not x.is_contiguous() else out


class Trans_low(nn.Module):
    """The low-frequency translator: ``tanh(x + f(x))`` with f = conv 3->16, InstanceNorm, conv 16->64,
    ``num_residual_blocks`` residual blocks, conv 64->16, conv 16->3.

    Args:
        num_residual_blocks (int): Residual blocks (the options' ``nrb_low``).
    """

    def __init__(self, num_residual_blocks):
        super().__init__()
        layers = [nn.Conv2d(3, 16, 3, padding=1), InstanceNorm2d(16), nn.LeakyReLU(inplace=True),
                  nn.Conv2d(16, 64, 3, padding=1), nn.LeakyReLU(inplace=True)]
        layers += [ResidualBlock(64) for _ in range(num_residual_blocks)]
        layers += [nn.Conv2d(64, 16, 3, padding=1), nn.LeakyReLU(inplace=True), nn.Conv2d(16, 3, 3, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return torch.tanh(x + trunk(self.model, x))


class Trans_high(nn.Module):
    """High-frequency translator of ``LPTN``: a 3-channel mask from the H/4 trunk; level i becomes
    ``block_i(h_i * mask + h_i)`` with the mask resized (nearest) to the level.

    Args:
        num_residual_blocks (int): Residual blocks of the trunk (``nrb_high``).
        num_high (int): Pyramid levels. Default: 3.
        mask_channels (int): 3 here, 1 in :class:`Trans_high_paper`.
    """

    def __init__(self, num_residual_blocks, num_high=3, mask_channels=3):
        super().__init__()
        self.num_high = num_high
        layers = [nn.Conv2d(9, 64, 3, padding=1), nn.LeakyReLU(inplace=True)]
        layers += [ResidualBlock(64) for _ in range(num_residual_blocks)]
        layers += [nn.Conv2d(64, mask_channels, 3, padding=1)]
        self.model = nn.Sequential(*layers)
        for i in range(num_high):
            self.add_module(f'trans_mask_block_{i}', nn.Sequential(
                nn.Conv2d(mask_channels, 16, 1), nn.LeakyReLU(inplace=True), nn.Conv2d(16, mask_channels, 1)))

    def mask_block(self, i):
        return getattr(self, f'trans_mask_block_{i}')

    def level_step(self, i, level, mask, add=None, in_place=False):
        """Level ``i`` (0: the coarsest high-frequency level) from its mask, already at its size:
        ``(translated level, the mask the next level interpolates)``; with ``add`` (the upsampled image
        of the level below, at inference), the translated level plus ``add``, written into ``add``
        with ``in_place``."""
        # At inference one pass, addcmul (the product may be fused into the sum: one rounding less).
        masked = torch.addcmul(level, level, mask) if add is not None else level * mask + level
        return run_sequential(self.mask_block(i), masked, add=add, in_place=in_place), mask

    def forward(self, x, pyr_original, fake_low):
        """``x`` [N, 9, H/4, W/4]; returns the translated pyramid ``[h_0', ..., h_{n-1}', fake_low]``."""
        mask, results = trunk(self.model, x), []
        for i in range(self.num_high):
            level = pyr_original[-2 - i]
            result, mask = self.level_step(i, level, F.interpolate(mask, size=level.shape[2:]))
            results.append(result)
        return results[::-1] + [fake_low]


class Trans_high_paper(Trans_high):
    """High-frequency translator of the paper: a 1-channel mask, refined by block i at level i and
    carried on to the next level; level i becomes ``h_i * mask_i``."""

    def __init__(self, num_residual_blocks, num_high=3):
        super().__init__(num_residual_blocks, num_high, mask_channels=1)

    def level_step(self, i, level, mask, add=None, in_place=False):
        mask = run_sequential(self.mask_block(i), mask)
        if add is None:
            return level * mask, mask
        return add.addcmul_(level, mask) if in_place else torch.addcmul(add, level, mask), mask


class LPTN(nn.Module):
    """Laplacian Pyramid Translation Network (the reference code's variant).

    Args:
        nrb_low (int): Residual blocks of ``Trans_low``. Default: 5.
        nrb_high (int): Residual blocks of ``Trans_high``. Default: 3.
        num_high (int): High-frequency pyramid levels. Default: 3.
    """
    high_class = Trans_high

    def __init__(self, nrb_low=5, nrb_high=3, num_high=3):
        super().__init__()
        self.lap_pyramid = Lap_Pyramid_Conv(num_high)
        self.trans_low = Trans_low(nrb_low)
        self.trans_high = self.high_class(nrb_high, num_high=num_high)

    def forward(self, real_A_full):
        """``[N, 3, H, W]`` in [0, 1] -> the translated image, same shape (not clamped).

        Computed in channels-last memory (the layout the CPU's convolutions run fastest in, twice the
        NCHW rate at 1080p); the output is channels-last too. The values do not depend on the layout.
        """
        real_A_full = real_A_full.contiguous(memory_format=torch.channels_last)
        if self.runs_in_rows(real_A_full):
            return self.forward_rows(real_A_full)
        pyr_A = self.lap_pyramid.pyramid_decom(real_A_full)
        fake_B_low = self.trans_low(pyr_A[-1])                                     # [N, 3, H/8, W/8]
        size = pyr_A[-2].shape[2:]
        real_A_up = F.interpolate(pyr_A[-1], size=size)
        fake_B_up = F.interpolate(fake_B_low, size=size)
        high_with_low = torch.cat([pyr_A[-2], real_A_up, fake_B_up], 1)            # [N, 9, H/4, W/4]
        return self.lap_pyramid.pyramid_recons(self.trans_high(high_with_low, pyr_A, fake_B_low))


    def with_trunks_in(self, dtype):
        """A copy whose two trunks (``trans_low.model``, ``trans_high.model``: the 64-channel
        convolutions, 97% of the FLOPs) hold their weights and compute in ``dtype``, e.g.
        ``torch.bfloat16``; the pyramid, the mask blocks and the output stay in float32 (:func:`trunk`
        casts at the trunks' borders). On a CPU with AMX a bfloat16 convolution with bfloat16 weights
        and channels-last tensors runs several times the float32 rate, where ``torch.autocast`` casts
        the weights on every call."""
        net = copy.deepcopy(self)
        net.trans_low.model.to(dtype)
        net.trans_high.model.to(dtype)
        return net

    def runs_in_rows(self, x, rows=ROWS_PIXELS):
        """Whether :meth:`forward` takes :meth:`forward_rows`: inference (no autograd, no tracing, not
        the meta device on which FLOPs are counted: the count is the whole-image one) on an
        image whose sides divide by ``2 ** num_high`` and whose full-resolution level spans more than
        two strips."""
        unit = 2 ** self.lap_pyramid.num_high
        return (not torch.is_grad_enabled() and not torch.jit.is_tracing() and x.device.type != 'meta'
                and x.shape[2] % unit == 0
                and x.shape[3] % unit == 0 and x.shape[2] * x.shape[3] > 2 * rows)

    def forward_rows(self, x, pixels=ROWS_PIXELS, band_pixels=BAND_PIXELS):
        """:meth:`forward` for inference on large images: the same operations on the same values, but
        the two finest levels (decomposition, mask, translation and reconstruction fused per level) are
        computed a strip of ``pixels`` pixels of rows at a time, so that no 3- or 16-channel
        full-resolution intermediate is ever materialised whole. The strip size is measured: on a 2-core
        Xeon (2 MB of L2 a core) 2^18 pixels (136 rows at 1920x1080) ran the whole pass in 0.75 of
        the time of 2^15 (the cost of a strip is mostly per-operator overhead, not cache misses).
        Equal to :meth:`forward` within float rounding (tests/pytorch_lptn/test_model.py)."""
        pyr, th, n = self.lap_pyramid, self.trans_high, self.lap_pyramid.num_high
        downs = [x]                                                     # [x, x/2, ..., low]
        for _ in range(n):
            d = downs[-1]
            large = d.shape[2] * d.shape[3] > 2 * pixels
            downs.append(pyr.downsample_rows(d, max(2, pixels // d.shape[3]) // 2) if large else pyr.downsample(d))
        low, coarse = downs[-1], downs[-2]
        fake_low = self.trans_low(low)
        high = coarse - pyr.upsample(low)
        trunk_input = torch.cat([high, nearest2x(low), nearest2x(fake_low)], 1)
        mask = in_bands(th.model, trunk_input, band_pixels)                 # already the size of `high`
        image, mask = th.level_step(0, high, mask, add=pyr.upsample(fake_low))
        for i in range(1, n):
            level = downs[-2 - i]
            rows = max(2, (pixels // level.shape[3]) & ~1)
            image, mask = pyr.level_rows(level, downs[-1 - i], image, mask, functools.partial(th.level_step, i),
                                         rows, keep_mask=i < n - 1)
        return image


class LPTNPaper(LPTN):
    """The paper's LPTN (progressive 1-channel masks); same arguments as :class:`LPTN`."""
    high_class = Trans_high_paper
