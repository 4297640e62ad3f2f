"""The SRCNN network (Dong et al., 2014): three convolutions on the bicubic-upsampled Y channel."""
import mindspore.nn as nn
from mindspore import Tensor


class SRCNN(nn.Cell):
    """SRCNN 9-5-5 with 'same' padding, as in the MindSpore reference port.

    The input is already at the target size (bicubic-upsampled); the output has the input's size.
    Like the reference, the convolutions have no biases (MindSpore's `nn.Conv2d` default); the paper's
    network has biases. Weights use MindSpore's default initialiser (HeUniform in MindSpore 2.x).

    Args:
        num_in_ch (int): Input and output channels (1 = Y). Default: 1.
        num_feat (int): Channels of the first layer (patch extraction). Default: 64.
        num_feat2 (int): Channels of the second layer (non-linear mapping). Default: 32.
        kernel_sizes (tuple[int]): Kernel sides of the three layers. Default: (9, 5, 5).
        has_bias (bool): Give the convolutions biases (the paper does). Default: False (the reference).
    """

    def __init__(self, num_in_ch=1, num_feat=64, num_feat2=32, kernel_sizes=(9, 5, 5), has_bias=False):
        super().__init__()
        k1, k2, k3 = kernel_sizes
        self.conv1 = nn.Conv2d(num_in_ch, num_feat, k1, pad_mode='pad', padding=k1 // 2, has_bias=has_bias)
        self.conv2 = nn.Conv2d(num_feat, num_feat2, k2, pad_mode='pad', padding=k2 // 2, has_bias=has_bias)
        self.conv3 = nn.Conv2d(num_feat2, num_in_ch, k3, pad_mode='pad', padding=k3 // 2, has_bias=has_bias)
        self.relu = nn.ReLU()

    def construct(self, x):
        """(N, C, H, W) float32 Y in [0, 1] -> (N, C, H, W), not clamped."""
        x = self.relu(self.conv1(x))    # (N, 64, H, W)
        x = self.relu(self.conv2(x))    # (N, 32, H, W)
        return self.conv3(x)            # (N, C, H, W)


def identity_init(net):
    """Re-initialise `net` so that it starts as the identity map (output = input, i.e. bicubic).

    Channel 0 of every layer carries the input through (a centred 1 in its kernel; ReLU keeps the
    non-negative Y unchanged); channel 0 of conv2 reads only channel 0, no other conv2 channel reads
    it, and conv3 reads only channel 0. Everything else keeps MindSpore's default initialisation, so
    training starts at the bicubic result and learns the correction. This is a bench-preset option
    (`init: identity`), not the reference's initialisation.
    """
    for conv in (net.conv1, net.conv2, net.conv3):
        w = conv.weight.asnumpy()
        centre = w.shape[-1] // 2
        w[0] = 0.0
        if conv is not net.conv1:
            w[:, 0] = 0.0
        if conv is net.conv3:
            w[:] = 0.0
        w[0, 0, centre, centre] = 1.0
        conv.weight.set_data(Tensor(w))
    return net


def conv_macs_per_pixel(net):
    """Multiply-accumulates of the convolutions per output pixel (= number of conv weights)."""
    total = 0
    for conv in (net.conv1, net.conv2, net.conv3):
        out_ch, in_ch, kh, kw = conv.weight.shape
        total += out_ch * in_ch * kh * kw
    return total


def train_flops_per_patch(net, patch_size):
    """FLOPs of one training pass (forward + backward) over one patch.

    Forward is 2 FLOPs per MAC. The backward pass computes weight gradients for every layer and
    input gradients for every layer but the first (its input is data): about 2x forward, minus the
    first layer's input gradient.
    """
    pixels = patch_size * patch_size
    fwd = 2 * conv_macs_per_pixel(net) * pixels
    first = 2 * int(net.conv1.weight.size) * pixels
    return fwd + 2 * fwd - first
