"""The reference's critic: every input resized to 256x256, five stride-2 convs, an 8x8 conv to one score."""
from torch import nn

__all__ = ['Discriminator']


def discriminator_block(in_filters, out_filters, normalization=False):
    layers = [nn.Conv2d(in_filters, out_filters, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
    if normalization:
        layers.append(nn.InstanceNorm2d(out_filters, affine=True))
    return layers


class Discriminator(nn.Module):
    """WGAN critic of LPTN: ``[N, 3, H, W]`` (any size) -> ``[N, 1, 1, 1]`` scores.

    Bilinear resize to 256x256, conv 3->16 s2, LeakyReLU(0.2), InstanceNorm (affine), then convs 16->32,
    32->64, 64->128, 128->128 (stride 2, LeakyReLU 0.2) down to 8x8, and an 8x8 conv 128->1.
    """

    def __init__(self):
        super().__init__()
        self.model = nn.Sequential(
            nn.Upsample(size=(256, 256), mode='bilinear', align_corners=False),
            nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.LeakyReLU(0.2), nn.InstanceNorm2d(16, affine=True),
            *discriminator_block(16, 32), *discriminator_block(32, 64), *discriminator_block(64, 128),
            *discriminator_block(128, 128), nn.Conv2d(128, 1, 8, padding=0))

    def forward(self, img_input):
        return self.model(img_input)
