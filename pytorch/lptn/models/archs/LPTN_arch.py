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
import torch
from torch import nn
from torch.nn import functional as F

__all__ = ['Lap_Pyramid_Conv', 'ResidualBlock', 'Trans_low', 'Trans_high', 'Trans_high_paper', 'LPTN', 'LPTNPaper']


def gauss_kernel(channels=3):
    """The 5x5 binomial kernel ``[1, 4, 6, 4, 1]^T [1, 4, 6, 4, 1] / 256``, one copy per channel: [C, 1, 5, 5]."""
    row = torch.tensor([1., 4., 6., 4., 1.])
    return (torch.outer(row, row) / 256.).repeat(channels, 1, 1, 1)


class Lap_Pyramid_Conv(nn.Module):
    """Closed-form Laplacian pyramid: Gaussian blur (reflect padding), decimation, zero-insertion upsampling.

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

    def _kernel(self, x):
        return self.kernel.to(device=x.device, dtype=x.dtype)

    def conv_gauss(self, img, kernel):
        """Depthwise 5x5 filter with reflect padding of 2 (the size is kept)."""
        return F.conv2d(F.pad(img, (2, 2, 2, 2), mode='reflect'), kernel, groups=img.shape[1])

    @staticmethod
    def downsample(x):
        return x[:, :, ::2, ::2]

    def upsample(self, x):
        """Insert a zero after every pixel along both axes ([N, C, h, w] -> [N, C, 2h, 2w]), filter with 4x the kernel."""
        n, c, h, w = x.shape
        up = torch.zeros(n, c, 2 * h, 2 * w, device=x.device, dtype=x.dtype)
        up[:, :, ::2, ::2] = x
        return self.conv_gauss(up, 4 * self._kernel(x))

    @staticmethod
    def _fit(up, like):
        # Traced for ONNX, the resize is always recorded, so that the graph serves odd sizes too
        # (a nearest resize to the same size is the identity).
        if torch.jit.is_tracing() or up.shape[2:] != like.shape[2:]:
            up = F.interpolate(up, size=like.shape[2:])
        return up

    def pyramid_decom(self, img):
        """``[h_0 (full size), ..., h_{num_high-1}, low (1 / 2^num_high)]``."""
        current, pyr, kernel = img, [], self._kernel(img)
        for _ in range(self.num_high):
            down = self.downsample(self.conv_gauss(current, kernel))
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


class ResidualBlock(nn.Module):
    """conv3x3 - LeakyReLU(0.01) - conv3x3, plus the input."""

    def __init__(self, in_features):
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(in_features, in_features, 3, padding=1), nn.LeakyReLU(),
                                   nn.Conv2d(in_features, in_features, 3, padding=1))

    def forward(self, x):
        return x + self.block(x)


class Trans_low(nn.Module):
    """The low-frequency translator: ``tanh(x + f(x))`` with f = conv 3->16, InstanceNorm, conv 16->64,
    ``num_residual_blocks`` residual blocks, conv 64->16, conv 16->3.

    Args:
        num_residual_blocks (int): Residual blocks (the options' ``nrb_low``).
    """

    def __init__(self, num_residual_blocks):
        super().__init__()
        layers = [nn.Conv2d(3, 16, 3, padding=1), nn.InstanceNorm2d(16), nn.LeakyReLU(),
                  nn.Conv2d(16, 64, 3, padding=1), nn.LeakyReLU()]
        layers += [ResidualBlock(64) for _ in range(num_residual_blocks)]
        layers += [nn.Conv2d(64, 16, 3, padding=1), nn.LeakyReLU(), nn.Conv2d(16, 3, 3, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return torch.tanh(x + self.model(x))


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
        layers = [nn.Conv2d(9, 64, 3, padding=1), nn.LeakyReLU()]
        layers += [ResidualBlock(64) for _ in range(num_residual_blocks)]
        layers += [nn.Conv2d(64, mask_channels, 3, padding=1)]
        self.model = nn.Sequential(*layers)
        for i in range(num_high):
            self.add_module(f'trans_mask_block_{i}', nn.Sequential(
                nn.Conv2d(mask_channels, 16, 1), nn.LeakyReLU(), nn.Conv2d(16, mask_channels, 1)))

    def mask_block(self, i):
        return getattr(self, f'trans_mask_block_{i}')

    def forward(self, x, pyr_original, fake_low):
        """``x`` [N, 9, H/4, W/4]; returns the translated pyramid ``[h_0', ..., h_{n-1}', fake_low]``."""
        mask, results = self.model(x), []
        for i in range(self.num_high):
            level = pyr_original[-2 - i]
            mask = F.interpolate(mask, size=level.shape[2:])
            results.append(self.mask_block(i)(level * mask + level))
        return results[::-1] + [fake_low]


class Trans_high_paper(Trans_high):
    """High-frequency translator of the paper: a 1-channel mask, refined by block i at level i and
    carried on to the next level; level i becomes ``h_i * mask_i``."""

    def __init__(self, num_residual_blocks, num_high=3):
        super().__init__(num_residual_blocks, num_high, mask_channels=1)

    def forward(self, x, pyr_original, fake_low):
        mask, results = self.model(x), []
        for i in range(self.num_high):
            level = pyr_original[-2 - i]
            mask = self.mask_block(i)(F.interpolate(mask, size=level.shape[2:]))
            results.append(level * mask)
        return results[::-1] + [fake_low]


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
        """``[N, 3, H, W]`` in [0, 1] -> the translated image, same shape (not clamped)."""
        pyr_A = self.lap_pyramid.pyramid_decom(real_A_full)
        fake_B_low = self.trans_low(pyr_A[-1])                                     # [N, 3, H/8, W/8]
        size = pyr_A[-2].shape[2:]
        real_A_up = F.interpolate(pyr_A[-1], size=size)
        fake_B_up = F.interpolate(fake_B_low, size=size)
        high_with_low = torch.cat([pyr_A[-2], real_A_up, fake_B_up], 1)            # [N, 9, H/4, W/4]
        return self.lap_pyramid.pyramid_recons(self.trans_high(high_with_low, pyr_A, fake_B_low))


class LPTNPaper(LPTN):
    """The paper's LPTN (progressive 1-channel masks); same arguments as :class:`LPTN`."""
    high_class = Trans_high_paper
