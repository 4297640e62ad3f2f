"""RCAN building blocks as TF1 graph code: ``tf.compat.v1.get_variable`` weights, ``tf.nn`` ops, NHWC.

Every convolution is a variable scope holding ``filter`` ([k, k, in, out]) and ``bias`` ([out]), both
initialised uniformly in +-1/sqrt(k * k * in), and the scope names are the reference's
(dongheehand/RCAN-tf ``ops.py``), so its checkpoints restore into this graph:

    conv_SF                                  head
    RG{g:02d}_{b:02d}_RCAB_conv1 / _conv2    residual channel-attention block b of group g
    RG{g:02d}_{b:02d}_RCAB_CA_conv1 / _conv2 its channel attention (1x1 convs)
    RG{g:02d}_conv_last                      last conv of group g
    conv_LSC                                 conv before the long skip
    up_sample_conv{i:02d} (x2, x4) or up_sample_conv (x3)
    conv_rec                                 reconstruction
"""
import math

import tensorflow as tf

__all__ = ['RGB_MEAN', 'SCALES', 'conv2d', 'mean_shift', 'channel_attention', 'rcab', 'residual_group',
           'upsample']

RGB_MEAN = (0.4488, 0.4371, 0.4040)     # DIV2K mean, as in the RCAN paper's code
SCALES = (2, 3, 4)                       # what the sub-pixel upsampler builds


def conv2d(x, name, num_out, kernel_size=3):
    """Stride-1 'SAME' convolution with bias, in variable scope ``name``.

    Args:
        x (tf.Tensor): [N, H, W, C_in] input.
        name (str): Variable scope (the reference's name).
        num_out (int): Output channels.
        kernel_size (int): Square kernel side. Default: 3.

    Returns:
        tf.Tensor: [N, H, W, num_out].
    """
    num_in = int(x.shape[-1])
    bound = 1.0 / math.sqrt(kernel_size * kernel_size * num_in)
    init = tf.compat.v1.random_uniform_initializer(-bound, bound)
    with tf.compat.v1.variable_scope(name):
        kernel = tf.compat.v1.get_variable('filter', [kernel_size, kernel_size, num_in, num_out], tf.float32, init)
        bias = tf.compat.v1.get_variable('bias', [num_out], tf.float32, init)
    return tf.nn.conv2d(x, kernel, strides=1, padding='SAME') + bias


def mean_shift(x, rgb_mean=RGB_MEAN, sign=-1, img_range=255.0):
    """Subtract (sign=-1) or add back (sign=+1) the dataset mean on the 0..img_range scale.

    The reference writes this as a 1x1 convolution with an identity kernel plus a bias; adding the bias
    computes the same values.
    """
    return x + tf.constant([sign * m * img_range for m in rgb_mean], tf.float32)


def channel_attention(x, name, squeeze_factor=16):
    """Rescale channels by a gate computed from their global means (squeeze and excitation).

    Args:
        x (tf.Tensor): [N, H, W, C].
        name (str): Scope prefix; the 1x1 convs are ``{name}_conv1`` (C -> C // squeeze_factor) and
            ``{name}_conv2`` (back to C).
        squeeze_factor (int): Channel reduction of the gate. Default: 16.
    """
    num_feat = int(x.shape[-1])
    y = tf.reduce_mean(x, axis=[1, 2], keepdims=True)                  # [N, 1, 1, C]
    y = tf.nn.relu(conv2d(y, f'{name}_conv1', num_feat // squeeze_factor, 1))
    y = tf.nn.sigmoid(conv2d(y, f'{name}_conv2', num_feat, 1))
    return y * x


def rcab(x, name, kernel_size=3, squeeze_factor=16):
    """Residual channel-attention block: conv, ReLU, conv, channel attention, plus the input."""
    num_feat = int(x.shape[-1])
    res = tf.nn.relu(conv2d(x, f'{name}_conv1', num_feat, kernel_size))
    res = conv2d(res, f'{name}_conv2', num_feat, kernel_size)
    return x + channel_attention(res, f'{name}_CA', squeeze_factor)


def residual_group(x, name, num_block, kernel_size=3, squeeze_factor=16):
    """``num_block`` RCABs and a conv, with a short skip over the group."""
    skip = x
    for b in range(num_block):
        x = rcab(x, f'{name}_{b:02d}_RCAB', kernel_size, squeeze_factor)
    return skip + conv2d(x, f'{name}_conv_last', int(x.shape[-1]), kernel_size)


def upsample(x, name, scale, kernel_size=3):
    """Sub-pixel upsampler: conv to scale^2 x C channels and depth_to_space (x4 as two x2 stages).

    Raises:
        ValueError: A scale other than 2, 3 or 4.
    """
    num_feat = int(x.shape[-1])
    if scale in (2, 4):
        for i in range(int(math.log2(scale))):
            x = tf.nn.depth_to_space(conv2d(x, f'{name}_conv{i:02d}', 4 * num_feat, kernel_size), 2)
    elif scale == 3:
        x = tf.nn.depth_to_space(conv2d(x, f'{name}_conv', 9 * num_feat, kernel_size), 3)
    else:
        raise ValueError(f'--scale={scale}: the RCAN upsampler supports {", ".join(map(str, SCALES))}')
    return x
