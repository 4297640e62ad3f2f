"""The MindSpore side of the speed yardstick (docs/protocol.md, "Speed yardstick").

:func:`dense_conv` times the yardstick convolution (``common.bench.YARDSTICK``: 3x3, 64 -> 64 channels,
batch 16 x 64 x 64) in graph mode (MindSpore's faster one: the process's mode is restored afterwards), in
every data format MindSpore offers for ``nn.Conv2d`` on the device (on the CPU only NCHW: NHWC is GPU-only,
and is left out where it is refused), and keeps the faster (``common.bench.yardstick``). SRCNN is the only
MindSpore model, so this lives beside it.
"""
import functools

import mindspore as ms
import numpy as np
from mindspore import nn, ops

from common.bench import YARDSTICK, yardstick
from common.timing import best_calls_per_second

__all__ = ['LAYOUTS', 'dense_conv']

LAYOUTS = ('NCHW', 'NHWC')


class _ForwardBackward(nn.Cell):
    """The gradients of a network's input and weights for a given output gradient (``sens``)."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.weights = ms.ParameterTuple(net.trainable_params())
        self.grad = ops.GradOperation(get_all=True, get_by_list=True, sens_param=True)

    def construct(self, x, sens):
        return self.grad(self.net, self.weights)(x, sens)


def _calls_per_second(mode, layout, seconds):
    y = YARDSTICK
    n, c, h, w = y['batch'], y['channels'], y['height'], y['width']
    shape = (n, c, h, w) if layout == 'NCHW' else (n, h, w, c)
    try:
        conv = nn.Conv2d(c, c, y['kernel'], pad_mode='same', data_format=layout)
    except ValueError:                           # e.g. "the NHWC format only support in GPU target"
        return None
    rng = np.random.default_rng(0)
    x = ms.Tensor(rng.random(shape, dtype=np.float32))
    if mode == 'infer':
        return best_calls_per_second(lambda: conv(x).asnumpy(), seconds=seconds)
    step, sens = _ForwardBackward(conv), ms.Tensor(rng.random(shape, dtype=np.float32))
    return best_calls_per_second(lambda: [g.asnumpy() for group in step(x, sens) for g in group],
                                 seconds=seconds)


def dense_conv(mode, precision='fp32', seconds=1.0):
    """The yardstick's GFLOP/s in this process: forward + backward ('train') or forward ('infer').

    Args:
        mode (str): 'train' or 'infer'.
        precision (str): Only 'fp32' (the SRCNN bench trains and infers in float32). Default: 'fp32'.
        seconds (float): Each of the 3 timing windows per data format (the fastest counts). Default: 1.0.

    Returns:
        dict: ``common.bench.fastest``'s figure: gflops, layout, precision and every format's GFLOP/s under
        'measured' (None where it is not offered).
    """
    if precision != 'fp32':
        raise ValueError(f"the MindSpore yardstick is measured in fp32, got {precision!r}")
    before = ms.get_context('mode')
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        return yardstick(mode, precision, {layout: functools.partial(_calls_per_second, mode, layout, seconds)
                                           for layout in LAYOUTS}, f'mindspore {ms.__version__}, graph mode')
    finally:
        ms.set_context(mode=before)
