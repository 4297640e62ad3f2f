"""Residual Dense Network (Zhang et al., CVPR 2018, arXiv 1802.08797) with the reference port's names.

One class, :class:`RDN`, covers the paper's network (G0, D, C, G, colour channels, x2/x3/x4 with the
paper's two-stage x4 upsampler) and the Ascend ModelZoo ID3004 port (puffnjackie's ``model/rdn.py``:
D3 C3 G64 on Y, one PixelShuffle). Submodules carry the port's names (``SFF1``, ``SFF2``,
``RDB1`` ... ``RDB{D}``, ``GFF1``, ``GFF2``, ``upconv``, ``pixelshuffle``, ``conv2``; inside an RDB
``layer.{c}.conv`` and ``conv1x1``), so the port's weights load into the ``reference`` preset.

Shapes (N images, LR size h x w, scale r)::

    x            [N, num_in_ch, h, w]
    SFF1 -> f_   [N, G0, h, w]           (global residual source)
    SFF2 -> RDB1 ... RDBD, each [N, G0, h, w]; concatenated [N, D*G0, h, w]
    GFF1 (1x1), GFF2 (3x3) + f_ -> [N, G0, h, w]
    upsampler    [N, G, r*h, r*w]
    conv2        [N, num_out_ch, r*h, r*w]

No device and no optimiser live here: the network is built on the CPU and moved by the caller, who
also builds the loss, optimiser and schedule (the reference built them inside ``__init__``).
"""
import torch
from torch import nn
from torch.nn import functional as F

__all__ = ['RDN', 'RDB', 'BasicBlock', 'PRESETS', 'build_rdn']

# Architecture of each named preset; scale and (for 'bench') nothing else is left to the caller.
PRESETS = {
    # The ModelZoo port: G0 = G = 64, D 3, C 3, Y channel, one PixelShuffle(r) for every scale.
    'reference': dict(num_in_ch=1, num_feat=64, num_block=3, num_layer=3, growth_rate=64, upsampler='single'),
    # The paper (configuration B): D 16, C 8, G 64, RGB, x4 as two x2 stages.
    'paper': dict(num_in_ch=3, num_feat=64, num_block=16, num_layer=8, growth_rate=64, upsampler='paper'),
    # Small enough to learn in minutes on 2 CPU cores; starts as bicubic and learns the residual.
    'bench': dict(num_in_ch=3, num_feat=32, num_block=4, num_layer=4, growth_rate=32, upsampler='paper',
                  bicubic_skip=True),
}


class BasicBlock(nn.Module):
    """One dense layer of an RDB: 3x3 conv, ReLU, and the input concatenated before the output.

    Args:
        input_dim (int): Input channels (G0 + c * G for the c-th layer).
        output_dim (int): Channels it adds (the growth rate G).
    """

    def __init__(self, input_dim, output_dim):
        super().__init__()
        self.conv = nn.Conv2d(input_dim, output_dim, kernel_size=3, padding=1)
        self.relu = nn.ReLU()

    def forward(self, x):
        return torch.cat((x, self.relu(self.conv(x))), 1)   # [N, input_dim + output_dim, h, w]


class RDB(nn.Module):
    """Residual dense block: C dense layers, 1x1 local feature fusion back to G0, local residual.

    Args:
        nb_layers (int): Dense layers C.
        input_dim (int): Block width G0 (input and output channels).
        growth_rate (int): Channels each dense layer adds, G.
    """

    def __init__(self, nb_layers, input_dim, growth_rate):
        super().__init__()
        self.layer = nn.Sequential(*[BasicBlock(input_dim + i * growth_rate, growth_rate)
                                     for i in range(nb_layers)])
        self.conv1x1 = nn.Conv2d(input_dim + nb_layers * growth_rate, input_dim, kernel_size=1)

    def forward(self, x):
        return self.conv1x1(self.layer(x)) + x


class RDN(nn.Module):
    """The residual dense network.

    Args:
        num_in_ch (int): Input colour channels: 1 (Y) or 3 (RGB). Default: 1.
        num_out_ch (int | None): Output channels. Default: None (= num_in_ch).
        num_feat (int): Feature width G0. Default: 64.
        num_block (int): Residual dense blocks D. Default: 3.
        num_layer (int): Dense layers per block C. Default: 3.
        growth_rate (int): Growth rate G. Default: 64.
        upscale (int): Scale factor 2, 3 or 4. Default: 4.
        upsampler (str): 'single': conv(G0 -> G r^2) + PixelShuffle(r), as the reference port for
            every scale; 'paper': the same for x2/x3 and, for x4, two x2 stages
            (conv + PixelShuffle(2) twice), as the paper and EDSR-PyTorch. Default: 'single'.
        bicubic_skip (bool): Add the bicubic upscale of the input to the output, so the network
            learns the residual; the last conv then starts at zero and the untrained network is a
            bicubic upscaler. Not in the paper or the port (the 'bench' preset uses it). Default: False.
    """

    def __init__(self, num_in_ch=1, num_out_ch=None, num_feat=64, num_block=3, num_layer=3, growth_rate=64,
                 upscale=4, upsampler='single', bicubic_skip=False):
        super().__init__()
        if upscale not in (2, 3, 4):
            raise ValueError(f'RDN: upscale must be 2, 3 or 4, got {upscale!r}')
        if upsampler not in ('single', 'paper'):
            raise ValueError(f"RDN: upsampler must be 'single' or 'paper', got {upsampler!r}")
        for name, value in (('num_in_ch', num_in_ch), ('num_feat', num_feat), ('num_block', num_block),
                            ('num_layer', num_layer), ('growth_rate', growth_rate)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'RDN: {name} must be a positive int, got {value!r}')
        num_out_ch = num_in_ch if num_out_ch is None else num_out_ch
        self.upscale, self.num_block, self.bicubic_skip = upscale, num_block, bool(bicubic_skip)
        self.SFF1 = nn.Conv2d(num_in_ch, num_feat, 3, padding=1)
        self.SFF2 = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        for d in range(1, num_block + 1):
            setattr(self, f'RDB{d}', RDB(num_layer, num_feat, growth_rate))
        self.GFF1 = nn.Conv2d(num_block * num_feat, num_feat, 1)
        self.GFF2 = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        first = 2 if upsampler == 'paper' and upscale == 4 else upscale
        self.upconv = nn.Conv2d(num_feat, growth_rate * first * first, 3, padding=1)
        self.pixelshuffle = nn.PixelShuffle(first)
        if first != upscale:                                   # the paper's second x2 stage
            self.upconv2 = nn.Conv2d(growth_rate, growth_rate * 4, 3, padding=1)
            self.pixelshuffle2 = nn.PixelShuffle(2)
        self.conv2 = nn.Conv2d(growth_rate, num_out_ch, 3, padding=1)
        if self.bicubic_skip:
            nn.init.zeros_(self.conv2.weight)
            nn.init.zeros_(self.conv2.bias)

    def forward(self, x):
        f_ = self.SFF1(x)                                      # [N, G0, h, w]
        f = self.SFF2(f_)
        blocks = []
        for d in range(1, self.num_block + 1):
            f = getattr(self, f'RDB{d}')(f)
            blocks.append(f)
        f = self.GFF2(self.GFF1(torch.cat(blocks, 1))) + f_    # [D*G0] -> [G0], global residual
        f = self.pixelshuffle(self.upconv(f))                  # [N, G, r*h, r*w] (or 2h, 2w)
        if hasattr(self, 'upconv2'):
            f = self.pixelshuffle2(self.upconv2(f))
        out = self.conv2(f)
        if self.bicubic_skip:
            out = out + F.interpolate(x, scale_factor=self.upscale, mode='bicubic', align_corners=False)
        return out


def build_rdn(preset, upscale, **overrides):
    """Build the RDN of a named preset.

    Args:
        preset (str): 'reference', 'paper' or 'bench' (see ``PRESETS``).
        upscale (int): Scale factor 2, 3 or 4.
        **overrides: Constructor arguments that replace the preset's (e.g. num_in_ch=3).

    Returns:
        RDN: The network, on the CPU, in float32.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown RDN preset {preset!r}; choose from {', '.join(PRESETS)}")
    return RDN(upscale=upscale, **dict(PRESETS[preset], **overrides))
